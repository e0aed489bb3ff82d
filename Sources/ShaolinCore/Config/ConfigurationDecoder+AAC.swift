// Decoding and validation of `[aac]` and `[[aac.rule]]` (see AACConfiguration.swift and the
// "[aac]" section of docs/configuration.md). Every problem is reported with its key path
// (`aac.rule[2].interval_ms`) and line, like the rest of the file.

extension ConfigDecoder {
    static let minimumCheckIntervalMs: Int64 = 100
    static let aacRuleKeysOrder = [
        "name", "description", "agent", "args", "params", "interval_ms", "timeout_ms", "startup_grace_ms",
        "start", "stop", "restart", "command_timeout_ms", "max_restarts", "restart_window_ms", "failover",
        "critical", "disabled",
    ]

    /// `[aac]`; an absent table gives no rules. nil when there are errors.
    func decodeAAC(_ r: TableReader?) -> Configuration.AAC? {
        guard let r else { return Configuration.AAC() }
        var dir: String? = Configuration.AAC.defaultAgentDirectory
        switch r.string("agent_dir") {
        case .absent: break
        case .invalid: dir = nil
        case .present(let s, _):
            if Rules.isAbsolutePath(s) {
                dir = s.count > 1 && s.hasSuffix("/") ? String(s.dropLast()) : s
            } else {
                r.error("agent_dir", "must be an absolute path, got \"\(escapeTOMLString(s))\"")
                dir = nil
            }
        }
        var rules: [Configuration.AACRule]? = []
        if let e = r.entry("rule") {
            if let elements = e.value.array, elements.allSatisfy({ $0.table != nil }) {
                var names: [String: (Int, Int?)] = [:]
                for (i, v) in elements.enumerated() {
                    let rr = TableReader(
                        diagnostics, path: "aac.rule[\(i)]", title: "[[aac.rule]] #\(i)", table: v.table ?? TOMLTable(),
                        line: v.location.line)
                    let rule = decodeAACRule(rr)
                    if let name = rule?.name ?? rr.table["name"]?.value.string {
                        if let (j, line) = names[name] {
                            rr.error("name", "rule name \"\(escapeTOMLString(name))\" is already used by aac.rule[\(j)] (line \(line.map(String.init) ?? "?"))")
                            rules = nil
                        } else {
                            names[name] = (i, rr.line(of: "name"))
                        }
                    }
                    if let rule { rules?.append(rule) } else { rules = nil }
                }
            } else {
                diagnostics.error("aac.rule", e.keyLocation.line, "rules must be written as [[aac.rule]] (an array of tables)")
                rules = nil
            }
        }
        r.finish()
        guard let dir, let rules else { return nil }
        return Configuration.AAC(agentDirectory: dir, rules: rules)
    }

    /// An argv array: at least one element, the first an absolute path, no NUL bytes.
    func command(_ r: TableReader, _ key: String) -> Field<[String]> {
        let f = r.stringArray(key)
        guard case .present(let argv, let line) = f else { return f }
        guard let first = argv.first else {
            r.error(key, "must list the program and its arguments, e.g. [\"/usr/sbin/apachectl\", \"-k\", \"start\"]; got an empty array")
            return .invalid
        }
        if !Rules.isAbsolutePath(first) {
            r.error(key, "the program (first element) must be an absolute path, got \"\(escapeTOMLString(first))\"")
            return .invalid
        }
        if argv.contains(where: { $0.utf8.contains(0) }) {
            r.error(key, "arguments must not contain NUL characters")
            return .invalid
        }
        return .present(argv, line: line)
    }

    func decodeAACRule(_ r: TableReader) -> Configuration.AACRule? {
        var ok = true
        var name: String?
        if let n = r.required("name", r.string("name")) {
            if Rules.isValidName(n) { name = n } else {
                r.error("name", "must be 1 to 32 characters of A-Z a-z 0-9 _ . -, got \"\(escapeTOMLString(n))\"")
            }
        }
        var description = r.string("description").or("")
        if let d = description, d.utf8.contains(where: { $0 < 0x20 && $0 != ASCII.tab }) {
            r.error("description", "must be one line without control characters")
            description = nil
        }

        var agent: String?
        if let a = r.required("agent", r.string("agent")) {
            if a.utf8.first == 0x2F {
                if Rules.isAbsolutePath(a) { agent = a } else { r.error("agent", "path contains control characters") }
            } else if !a.isEmpty, a.utf8.count <= 64,
                a.utf8.allSatisfy({ ASCII.isLetter($0) || ASCII.isDigit($0) || $0 == ASCII.minus || $0 == ASCII.underscore || $0 == ASCII.dot }),
                a != ".", a != ".."
            {
                agent = a
            } else {
                r.error(
                    "agent",
                    "must be a built-in agent's name (process, systemd, tcp, http, mysql, apache, or another file in [aac] agent_dir) or an absolute path, got \"\(escapeTOMLString(a))\""
                )
            }
        }
        var args = r.stringArray("args").or([])
        if let a = args, a.contains(where: { $0.utf8.contains(0) }) {
            r.error("args", "arguments must not contain NUL characters")
            args = nil
        }

        var params: [Configuration.AgentOption]? = []
        if let p = r.subtable("params", title: "[aac.rule.params] of \(r.title)") {
            var seen: [String: String] = [:]
            for e in p.table.entries {
                _ = p.entry(e.key)
                let validName =
                    !e.key.isEmpty && e.key.utf8.count <= 64
                    && e.key.utf8.allSatisfy { ASCII.isLetter($0) || ASCII.isDigit($0) || $0 == ASCII.underscore }
                guard validName else {
                    p.error(e.key, "parameter names must be letters, digits and '_' (they become SHAOLIN_PARAM_<NAME>), got \"\(escapeTOMLString(e.key))\"")
                    params = nil
                    continue
                }
                let env = Configuration.AACRule.environmentName(ofParameter: e.key)
                if let other = seen[env] {
                    p.error(e.key, "'\(e.key)' and '\(other)' both become \(env)")
                    params = nil
                    continue
                }
                seen[env] = e.key
                var value: String?
                switch e.value.kind {
                case .string(let s): value = s
                case .integer(let i): value = String(i)
                case .boolean(let b): value = b ? "true" : "false"
                default:
                    p.error(e.key, "agent parameters must be strings, integers or booleans, got a \(e.value.typeName)")
                }
                if let v = value, v.utf8.contains(0) {
                    p.error(e.key, "must not contain NUL characters")
                    value = nil
                }
                if let v = value { params?.append(.init(name: e.key, value: v)) } else { params = nil }
            }
        } else if r.has("params") {
            params = nil
        }

        var interval: Int64?
        switch r.integer("interval_ms", Int64.min...Int64.max) {
        case .absent: interval = 10_000
        case .invalid: break
        case .present(let v, _):
            if v < Self.minimumCheckIntervalMs {
                r.error("interval_ms", "must be at least \(Self.minimumCheckIntervalMs) ms (checks run agents as processes), got \(v)")
            } else if v > 86_400_000 {
                r.error("interval_ms", "must be at most 86400000 (one day), got \(v)")
            } else {
                interval = v
            }
        }
        let timeout = r.integer("timeout_ms", 100...3_600_000).or(20_000)
        let grace = r.integer("startup_grace_ms", 0...86_400_000).or(60_000)
        let start = command(r, "start")
        let stop = command(r, "stop")
        let restart = command(r, "restart")
        for f in [start, stop, restart] { if case .invalid = f { ok = false } }
        let commandTimeout = r.integer("command_timeout_ms", 100...3_600_000).or(60_000)
        let maxRestarts = r.integer("max_restarts", 0...1000).or(3)
        let window = r.integer("restart_window_ms", 1000...604_800_000).or(600_000)
        let failover = r.bool("failover").or(true)
        let critical = r.bool("critical").or(false)
        let disabled = r.bool("disabled").or(false)

        if let w = window, let i = interval, let m = maxRestarts, m > 0, w < i {
            r.warn(
                r.has("restart_window_ms") ? "restart_window_ms" : "interval_ms",
                "restart_window_ms (\(w)) is shorter than interval_ms (\(i)): restarts are forgotten before the next check, so max_restarts is never reached and the rule never fails over")
        }
        if let t = timeout, let i = interval, t > i * 10 {
            r.warn("timeout_ms", "timeout_ms (\(t)) is more than ten times interval_ms (\(i)): a hung check delays failure detection by up to the timeout")
        }
        r.finish()
        guard ok, let name, let description, let agent, let args, let params, let interval, let timeout, let grace,
            let commandTimeout, let maxRestarts, let window, let failover, let critical, let disabled
        else { return nil }
        return Configuration.AACRule(
            name: name, description: description, agent: agent, args: args, params: params, intervalMs: interval,
            timeoutMs: timeout, startupGraceMs: grace, start: start.value, stop: stop.value, restart: restart.value,
            commandTimeoutMs: commandTimeout, maxRestarts: Int(maxRestarts), restartWindowMs: window, failover: failover,
            critical: critical, disabled: disabled)
    }
}
