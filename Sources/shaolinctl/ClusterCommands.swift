// shaolinctl subcommands that talk to a running engine (docs/shaolinctl.md).
import ArgumentParser
import Glibc
import ShaolinCore

/// Prints a command's answer: the result JSON with --json, else `text`.
func report(_ o: ConnectionOptions, _ result: JSONValue, _ text: @autoclosure () -> String) {
    print(o.json ? result.compact : text())
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this node and its peer: roles, links, fencing, watchdog, loop lateness, AAC rules.")
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        try runClient(connection) { () throws(ClientError) in
            let c = try connection.connect()
            let s = try c.call(.status)
            report(connection, s, Fmt.status(s))
        }
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check that the engine answers.")
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        try runClient(connection) { () throws(ClientError) in
            let c = try connection.connect()
            let r = try c.call(.ping)
            report(connection, r, "\(c.nodeName) answers on \(connection.target)")
        }
    }
}

struct ResetLateness: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset-lateness",
        abstract: "Zero the engine's loop lateness histograms (e.g. after tuning the host); shows what they held.")
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        try runClient(connection) { () throws(ClientError) in
            let c = try connection.connect()
            let r = try c.call(.resetLateness)
            report(connection, r, "\(c.nodeName): loop lateness histograms reset; they held:\n"
                   + "  judged   " + Fmt.latenessLine(r, "loop_lateness_us") + "\n"
                   + "  wake-up  " + Fmt.latenessLine(r, "loop_wakeup_us"))
        }
    }
}

/// Switchover and standby: ask the ACTIVE node to hand over; optionally wait for the result.
struct HandoverWait {
    /// Polls the node until it has left the ACTIVE role (STANDBY/STOPPED, or gone after
    /// handing over) or went back to ACTIVE (the handover failed). Returns the exit code.
    static func wait(_ o: ConnectionOptions, seconds: Double, before: JSONValue) -> Int32 {
        let deadline = monotonicSeconds() + seconds
        var last = before
        while monotonicSeconds() < deadline {
            usleep(200_000)
            let s: JSONValue
            do {
                let c = try o.connect()
                s = try c.call(.status)
            } catch {
                guard error.message.hasPrefix("cannot connect") else { continue }
                // After an accepted handover the old ACTIVE leaves: its engine exits and the
                // new ACTIVE powers it off (fences it). Its socket going away is the success.
                if !o.json { print("\(Fmt.str(last["node"])) handed over and left the cluster (its engine is gone); peer \(Fmt.str(last["peer"]?["name"])) takes over") }
                return Exit.ok
            }
            last = s
            let role = s["role"]?.stringValue ?? ""
            let reason = s["reason"]?.stringValue ?? ""
            switch role {
            case "STANDBY", "STOPPED":
                if !o.json { print("handover done: \(Fmt.str(s["node"])) is \(role), peer \(Fmt.str(s["peer"]?["name"])) is \(Fmt.str(s["peer"]?["role"]))") }
                return Exit.ok
            case "ACTIVE" where reason.contains("takeover") && !reason.contains("granted") || reason.contains("during handover"):
                printError("shaolinctl: handover failed: \(Fmt.str(s["node"])) stays ACTIVE (\(reason))")
                return Exit.refused
            default: break
            }
        }
        printError("shaolinctl: no handover result within \(Int(seconds)) s (last role: \(Fmt.str(last["role"])))")
        return Exit.waitTimedOut
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

struct Switchover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hand the ACTIVE role to the peer (run it against the ACTIVE node).",
        discussion: "The ACTIVE node syncs, steps down and lets the peer take over; the old ACTIVE then leaves the cluster (it powers off or exits: restart it to make it STANDBY again).")
    @OptionGroup var connection: ConnectionOptions
    @Option(name: .long, help: "Wait up to this many seconds for the handover to finish (0: do not wait).")
    var wait: Double = 0

    func run() throws { try requestHandover(.switchover, connection, wait: wait) }
}

struct Standby: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put this node in standby: an ACTIVE node hands over to its peer.")
    @OptionGroup var connection: ConnectionOptions
    @Option(name: .long, help: "Wait up to this many seconds for the handover to finish (0: do not wait).")
    var wait: Double = 0

    func run() throws { try requestHandover(.standby, connection, wait: wait) }
}

/// Switchover and standby: send the request and, with `--wait`, follow the handover until the
/// peer is ACTIVE (HandoverWait), exiting with its code.
func requestHandover(_ operation: ControlOperation, _ connection: ConnectionOptions, wait: Double) throws {
    var before: JSONValue = .null
    try runClient(connection) { () throws(ClientError) in
        let c = try connection.connect()
        if wait > 0 { before = try c.call(.status) }
        let r = try c.call(operation)
        report(connection, r, "\(c.nodeName): \(Fmt.str(r["message"]))")
    }
    if wait > 0 {
        let code = HandoverWait.wait(connection, seconds: wait, before: before)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Maintenance: ParsableCommand {
    enum Mode: String, ExpressibleByArgument, CaseIterable { case on, off }
    static let configuration = CommandConfiguration(
        abstract: "Turn maintenance mode on (failures are not acted upon; heartbeats continue) or off.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "on or off.") var mode: Mode

    func run() throws {
        try runClient(connection) { () throws(ClientError) in
            let c = try connection.connect()
            let r = try c.call(.maintenance(mode == .on))
            report(connection, r, "\(c.nodeName): \(Fmt.str(r["message"]))")
        }
    }
}

struct FenceConfirm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fence-confirm",
        abstract: "Vouch that the peer is powered off, so this node may take over without fencing.",
        discussion: "Dangerous: if the peer still runs, both nodes serve. Check the peer's power first. Asks for the peer's name unless --yes is given.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(name: .long, help: "Do not ask; the caller has verified that the peer is off.")
    var yes = false

    func run() throws {
        try runClient(connection) { () throws(ClientError) in
            let c = try connection.connect()
            if !yes {
                let s = try c.call(.status)
                let peer = Fmt.str(s["peer"]?["name"])
                print("fence-confirm makes \(c.nodeName) take over WITHOUT fencing \(peer).")
                print("Only continue if you have checked that \(peer) is powered off.")
                print("Type the peer's name (\(peer)) to confirm: ", terminator: "")
                guard let answer = readLine(), answer.trimmingSpaces == peer else {
                    throw ClientError(code: Exit.refused, message: "not confirmed: nothing was done")
                }
            }
            let r = try c.call(.fenceConfirm(confirmed: true))
            report(connection, r, "\(c.nodeName): \(Fmt.str(r["message"]))")
        }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the configuration file: validate it, then apply what can change live.",
        discussion: "A file with any error changes nothing. Live: log.level, control.group, [fencing], AAC rules. Everything else is reported as needing a restart.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(name: .long, help: "Only validate and show what would change.")
    var dryRun = false

    func run() throws {
        try runClient(connection) { () throws(ClientError) in
            let c = try connection.connect()
            let r = try c.call(.reload(dryRun: dryRun))
            var lines: [String] = []
            let live = r["changed_live"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let restart = r["restart_required"]?.arrayValue?.compactMap(\.stringValue) ?? []
            lines.append("\(c.nodeName): configuration \(dryRun ? "is valid (dry run: nothing applied)" : "reloaded")")
            lines.append(live.isEmpty ? "  no live change" : "  \(dryRun ? "would change" : "changed") live: " + live.joined(separator: "; "))
            if !restart.isEmpty { lines.append("  changed but needs a restart of shaolind: " + restart.joined(separator: ", ")) }
            for w in r["warnings"]?.arrayValue?.compactMap(\.stringValue) ?? [] { lines.append("  " + w) }
            report(connection, r, lines.joined(separator: "\n"))
        }
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the engine's recent events (its in-memory log).")
    @OptionGroup var connection: ConnectionOptions
    @Option(name: [.customShort("n"), .long], help: "How many lines (1-\(ControlProtocol.maxLogLines)).")
    var lines: Int = 30
    @Flag(name: [.short, .long], help: "Keep printing new events until interrupted.")
    var follow = false

    func validate() throws {
        guard (1...ControlProtocol.maxLogLines).contains(lines) else {
            throw ValidationError("--lines must be from 1 to \(ControlProtocol.maxLogLines)")
        }
    }

    func run() throws {
        try runClient(connection) { () throws(ClientError) in
            let c = try connection.connect()
            var since: UInt64? = nil
            var count = lines
            repeat {
                let r = try c.call(.log(lines: count, since: since))
                for e in r["events"]?.arrayValue ?? [] { print(connection.json ? e.compact : Fmt.event(e)) }
                since = UInt64(max(0, r["last"]?.intValue ?? 0))
                count = ControlProtocol.maxLogLines
                if follow { fflush(nil); usleep(300_000) }
            } while follow
        }
    }
}

struct Rule: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enable, disable, start, stop or restart an Application Availability Control rule, or reset its statistics.",
        discussion: "start runs the rule's start action and monitors the rule again; stop stops the service through its agent and stops monitoring it (no restart, no failover) until start or enable; reset-statistics zeroes the rule's counters and restart budget. start, stop and restart act on the ACTIVE node only and run in the background: see the rule in shaolinctl status.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "enable, disable, start, stop, restart or reset-statistics.") var action: RuleActionArgument
    @Argument(help: "The rule's name (see shaolinctl status).") var name: String

    func run() throws {
        try runClient(connection) { () throws(ClientError) in
            let c = try connection.connect()
            let r = try c.call(.rule(action: action.value, name: name))
            report(connection, r, "\(c.nodeName): rule \(name): \(Fmt.str(r["message"]))")
        }
    }
}

struct RuleActionArgument: ExpressibleByArgument {
    var value: ControlOperation.RuleAction
    init?(argument: String) {
        guard let v = ControlOperation.RuleAction(rawValue: argument) else { return nil }
        value = v
    }
    static var allValueStrings: [String] { ControlOperation.RuleAction.allCases.map(\.rawValue) }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}
