// `shaolinctl menu`: the operator's full-screen console. It refreshes the status twice a
// second (roles, links, last heartbeat, fencing, watchdog, AAC rules, recent events) and
// offers the operator's actions from a menu; every action asks for confirmation first.
// Plain ANSI escape sequences and a raw terminal (termios); no curses dependency.
import ArgumentParser
import Glibc
import ShaolinCore

struct Menu: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Full-screen live console: status of both nodes and operator actions with confirmation.",
        discussion: "Keys: Left/Right (or Tab) choose an action, Enter runs it, or press its letter: s switchover, b standby, m maintenance on/off, f fence-confirm, r reload, a AAC rules (e enable, d disable, s start, t stop, r restart, z reset statistics), q quit. Every action asks for confirmation.")
    @OptionGroup var connection: ConnectionOptions
    @Option(name: .long, help: "Seconds between status refreshes.")
    var interval: Double = 0.5

    func run() throws {
        guard isatty(0) == 1 && isatty(1) == 1 else {
            throw ValidationError("menu needs a terminal (use `shaolinctl status` in scripts)")
        }
        let ui = MenuUI(connection: connection, interval: max(0.1, interval))
        ui.run()
    }
}

final class MenuUI {
    enum Action: CaseIterable {
        case switchover, standby, maintenance, fenceConfirm, reload, rules, quit
        var label: String {
            switch self {
            case .switchover: "Switchover"
            case .standby: "Standby"
            case .maintenance: "Maintenance"
            case .fenceConfirm: "Fence-confirm"
            case .reload: "Reload"
            case .rules: "AAC rules"
            case .quit: "Quit"
            }
        }
        var key: UInt8 {
            switch self {
            case .switchover: UInt8(ascii: "s")
            case .standby: UInt8(ascii: "b")
            case .maintenance: UInt8(ascii: "m")
            case .fenceConfirm: UInt8(ascii: "f")
            case .reload: UInt8(ascii: "r")
            case .rules: UInt8(ascii: "a")
            case .quit: UInt8(ascii: "q")
            }
        }
    }

    enum Mode {
        case main
        /// y/N question; the closure runs the action on "y".
        case confirm(String, () -> Void)
        /// Typed confirmation (fence-confirm): the text must equal `expected`.
        case typed(String, expected: String, entered: String, () -> Void)
        case rules(selected: Int)
    }

    let connection: ConnectionOptions
    let interval: Double
    var client: ControlClient?
    var status: JSONValue?
    var connectError: String?
    var events: [JSONValue] = []
    var lastEvent: UInt64?
    var selected = 0
    var mode: Mode = .main
    var message = "Welcome. Choose an action with Left/Right and Enter, or press its letter."
    var quit = false
    var saved = termios()
    var lastRefresh = 0.0
    var lastLog = 0.0

    init(connection: ConnectionOptions, interval: Double) {
        self.connection = connection
        self.interval = interval
    }

    // MARK: Terminal

    func enterRaw() {
        tcgetattr(0, &saved)
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        tcsetattr(0, TCSAFLUSH, &raw)
        out("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    func leaveRaw() {
        out("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l")
        tcsetattr(0, TCSAFLUSH, &saved)
    }

    func out(_ s: String) {
        var b = Array(s.utf8)
        var off = 0
        while off < b.count {
            let n = b.withUnsafeMutableBytes { write(1, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }

    func size() -> (rows: Int, cols: Int) {
        var w = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &w) == 0 && w.ws_col > 0 && w.ws_row > 0 { return (Int(w.ws_row), Int(w.ws_col)) }
        return (24, 80)
    }

    // MARK: Loop

    func run() {
        enterRaw()
        defer { leaveRaw() }
        refresh(force: true)
        draw()
        var buf = [UInt8](repeating: 0, count: 64)
        while !quit {
            var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, 100)
            if r > 0 {
                let n = read(0, &buf, 64)
                if n == 0 { break }  // the terminal went away
                if n > 0 { handleKeys(Array(buf[0..<n])) }
                draw()
            }
            if monotonicSeconds() - lastRefresh >= interval {
                refresh(force: false)
                draw()
            }
        }
    }

    func refresh(force: Bool) {
        lastRefresh = monotonicSeconds()
        do {
            if client == nil { client = try connection.connect() }
            status = try client!.call(.status)
            connectError = nil
            if force || monotonicSeconds() - lastLog >= 1 {
                lastLog = monotonicSeconds()
                let r = try client!.call(.log(lines: 8, since: lastEvent))
                for e in r["events"]?.arrayValue ?? [] { events.append(e) }
                if events.count > 50 { events.removeFirst(events.count - 50) }
                lastEvent = UInt64(max(0, r["last"]?.intValue ?? 0))
            }
        } catch {
            client = nil
            connectError = error.message
        }
    }

    // MARK: Keys

    func handleKeys(_ bytes: [UInt8]) {
        var i = 0
        while i < bytes.count {
            var key = Key.byte(bytes[i])
            if bytes[i] == 0x1B {
                if i + 2 < bytes.count && bytes[i + 1] == UInt8(ascii: "[") {
                    switch bytes[i + 2] {
                    case UInt8(ascii: "A"): key = .up
                    case UInt8(ascii: "B"): key = .down
                    case UInt8(ascii: "C"): key = .right
                    case UInt8(ascii: "D"): key = .left
                    default: key = .other
                    }
                    i += 3
                } else {
                    key = .escape
                    i += 1
                }
            } else {
                i += 1
            }
            handle(key)
            if quit { return }
        }
    }

    enum Key: Equatable {
        case byte(UInt8), up, down, left, right, escape, other
    }

    func handle(_ key: Key) {
        switch mode {
        case .main: handleMain(key)
        case .confirm(_, let action):
            mode = .main
            if key == .byte(UInt8(ascii: "y")) || key == .byte(UInt8(ascii: "Y")) { action() } else { message = "Cancelled: nothing was done." }
        case .typed(let q, let expected, var entered, let action):
            switch key {
            case .escape: mode = .main; message = "Cancelled: nothing was done."
            case .byte(13), .byte(10):
                mode = .main
                if entered == expected { action() } else { message = "Not confirmed (\"\(entered)\" is not \"\(expected)\"): nothing was done." }
            case .byte(127), .byte(8):
                if !entered.isEmpty { entered.removeLast() }
                mode = .typed(q, expected: expected, entered: entered, action)
            case .byte(let b) where b >= 0x20 && b < 0x7F && entered.count < 40:
                entered.append(Character(Unicode.Scalar(b)))
                mode = .typed(q, expected: expected, entered: entered, action)
            default: break
            }
        case .rules(let sel): handleRules(key, sel)
        }
    }

    func handleMain(_ key: Key) {
        let actions = Action.allCases
        switch key {
        case .left: selected = (selected + actions.count - 1) % actions.count
        case .right, .byte(9): selected = (selected + 1) % actions.count
        case .byte(13), .byte(10): start(actions[selected])
        case .byte(3), .byte(UInt8(ascii: "Q")): quit = true
        case .byte(let b):
            if let a = actions.first(where: { $0.key == b }) {
                selected = actions.firstIndex(of: a)!
                start(a)
            }
        default: break
        }
    }

    var nodeName: String { Fmt.str(status?["node"]) }
    var peerName: String { Fmt.str(status?["peer"]?["name"]) }
    var rules: [JSONValue] { status?["aac_rules"]?.arrayValue ?? [] }

    func start(_ a: Action) {
        switch a {
        case .quit: quit = true
        case .switchover:
            mode = .confirm("Switchover: hand the ACTIVE role from \(nodeName) to \(peerName)? \(nodeName) will leave the cluster. [y/N]") { [self] in
                perform(.switchover)
            }
        case .standby:
            mode = .confirm("Standby: put \(nodeName) in standby (an ACTIVE node hands over to \(peerName))? [y/N]") { [self] in
                perform(.standby)
            }
        case .maintenance:
            let on = !(status?["maintenance"]?.boolValue ?? false)
            mode = .confirm(on ? "Maintenance ON: stop reacting to peer and link failures on \(nodeName)? [y/N]"
                               : "Maintenance OFF: react to failures again on \(nodeName)? [y/N]") { [self] in
                perform(.maintenance(on))
            }
        case .fenceConfirm:
            mode = .typed("Fence-confirm: \(nodeName) takes over WITHOUT fencing. Only if \(peerName) is powered off! Type \(peerName) and Enter (Esc cancels):",
                          expected: peerName, entered: "") { [self] in
                perform(.fenceConfirm(confirmed: true))
            }
        case .reload:
            mode = .confirm("Reload: validate the configuration file and apply its live settings on \(nodeName)? [y/N]") { [self] in
                perform(.reload(dryRun: false))
            }
        case .rules:
            mode = .rules(selected: 0)
            message = rules.isEmpty ? "No AAC rules are configured on \(nodeName). Esc to go back." : "Up/Down choose a rule; e enable, d disable, s start, t stop, r restart, z reset statistics; Esc back."
        }
    }

    func handleRules(_ key: Key, _ sel: Int) {
        let list = rules
        switch key {
        case .escape, .byte(UInt8(ascii: "q")): mode = .main; message = "Back in the main menu."
        case .up: mode = .rules(selected: max(0, sel - 1))
        case .down: mode = .rules(selected: min(max(0, list.count - 1), sel + 1))
        case .byte(let b):
            guard sel < list.count else { return }
            let name = Fmt.str(list[sel]["name"])
            let action: ControlOperation.RuleAction?
            switch b {
            case UInt8(ascii: "e"): action = .enable
            case UInt8(ascii: "d"): action = .disable
            case UInt8(ascii: "s"): action = .start
            case UInt8(ascii: "t"): action = .stop
            case UInt8(ascii: "r"): action = .restart
            case UInt8(ascii: "z"): action = .resetStatistics
            default: action = nil
            }
            guard let action else { return }
            let what: String
            switch action {
            case .stop: what = "stop the service and stop monitoring it (no restart, no failover)"
            case .start: what = "start the service and monitor it again"
            case .resetStatistics: what = "reset its counters"
            default: what = action.rawValue
            }
            mode = .confirm("Rule \(name): \(what)? [y/N]") { [self] in
                perform(.rule(action: action, name: name))
                mode = .rules(selected: sel)
            }
        default: break
        }
    }

    func perform(_ op: ControlOperation) {
        do {
            if client == nil { client = try connection.connect() }
            let r = try client!.call(op)
            if case .reload = op {
                let live = r["changed_live"]?.arrayValue?.compactMap(\.stringValue) ?? []
                let restart = r["restart_required"]?.arrayValue?.compactMap(\.stringValue) ?? []
                message = "Reloaded: " + (live.isEmpty ? "no live change" : live.joined(separator: "; "))
                    + (restart.isEmpty ? "" : "; needs a restart: " + restart.joined(separator: ", "))
            } else {
                message = "\(op.name): " + (r["message"]?.stringValue ?? "done")
            }
        } catch {
            if error.code == Exit.unreachable { client = nil }
            message = "\(op.name) FAILED: \(error.message)" + (error.details.isEmpty ? "" : " — " + error.details.joined(separator: "; "))
        }
        refresh(force: true)
    }

    // MARK: Drawing

    func draw() {
        let (rows, cols) = size()
        var lines: [String] = []
        let bold = "\u{1B}[1m", rev = "\u{1B}[7m", reset = "\u{1B}[0m"
        func add(_ s: String, _ style: String = "") {
            let t = Fmt.col(s, cols)
            lines.append(style.isEmpty ? t : style + t + reset)
        }
        add(" shaolin console - node \(status.map { Fmt.str($0["node"]) } ?? "?") via \(connection.target)", rev)
        if let e = connectError {
            add(" NOT CONNECTED: \(e) (retrying)", bold)
        } else {
            add("")
        }
        if let s = status {
            let stale = connectError != nil ? " (last known)" : ""
            add(" THIS NODE  \(Fmt.col(Fmt.str(s["node"]), 6)) \(Fmt.col(Fmt.str(s["role"]), 9)) since \(Fmt.duration(ms: Fmt.int(s["role_age_ms"]))) (\(Fmt.str(s["reason"])))  epoch \(Fmt.int(s["epoch"]))  uptime \(Fmt.duration(ms: Fmt.int(s["uptime_ms"])))\(stale)", bold)
            add("            maintenance \(Fmt.bool(s["maintenance"]) ? "ON" : "off")   real-time \(Fmt.bool(s["realtime_degraded"]) ? "DEGRADED" : "ok")   stalls \(Fmt.int(s["stalls"]))   incarnation \(Fmt.str(s["incarnation"]))")
            add(" PEER       " + Fmt.peerLine(s), bold)
            add("")
            add(" LINKS      " + Fmt.col("NAME", 10) + Fmt.col("STATE", 11) + Fmt.col("RTT", 10) + Fmt.col("LOSS", 8) + "LAST HEARTBEAT")
            for l in s["links"]?.arrayValue ?? [] {
                add("            " + Fmt.col(Fmt.str(l["name"]), 10) + Fmt.col(Fmt.linkState(l), 11) + Fmt.col(Fmt.micros(Fmt.int(l["rtt_us"])), 10)
                    + Fmt.col(Fmt.loss(l["loss_percent"]), 8) + Fmt.ago(ms: Fmt.int(l["last_heard_ms_ago"])))
            }
            add(" FENCING    " + Fmt.fenceLine(s))
            add(" WATCHDOG   " + Fmt.watchdogLine(s))
            add(" LATENESS   " + Fmt.latenessLine(s))
            let list = rules
            if list.isEmpty {
                add(" AAC RULES  none configured")
            } else {
                add(" AAC RULES")
                var sel = -1
                if case .rules(let i) = mode { sel = i }
                for (i, r) in list.enumerated() { add((i == sel ? "  > " : "    ") + Fmt.ruleLine(r), i == sel ? rev : "") }
            }
        } else {
            add(" waiting for the first status from \(connection.target) ...")
        }
        add("")
        add(" RECENT EVENTS", bold)
        let fixedBelow = 5
        let room = max(1, rows - lines.count - fixedBelow)
        for e in events.suffix(room) { add("   " + Fmt.event(e)) }
        while lines.count < rows - fixedBelow { add("") }
        add(String(repeating: "-", count: cols))
        // The action bar: " ACTIONS  s:Switchover  b:Standby …", the chosen one in reverse video,
        // cut to the terminal's width (escape sequences do not count).
        var menu = " ACTIONS "
        var visible = menu.count
        for (i, a) in Action.allCases.enumerated() {
            let label = " \(Character(Unicode.Scalar(a.key))):\(a.label) "
            if visible + label.count > cols { break }
            visible += label.count
            menu += i == selected ? rev + label + reset : label
        }
        lines.append(menu + "\u{1B}[K")
        switch mode {
        case .confirm(let q, _): add(" " + q, bold)
        case .typed(let q, _, let entered, _): add(" " + q + " " + entered + "_", bold)
        case .rules: add(" AAC rules: Up/Down choose, e enable, d disable, s start, t stop, r restart, z reset statistics, Esc back", bold)
        case .main: add(" Left/Right choose, Enter run, or press the letter. q quits.")
        }
        add(" " + message)
        while lines.count > rows { lines.remove(at: lines.count - fixedBelow - 1) }
        out("\u{1B}[H" + lines.joined(separator: "\r\n") + "\u{1B}[J")
    }
}
