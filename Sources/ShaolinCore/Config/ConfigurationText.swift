// The effective configuration as TOML: what `shaolind --check-config FILE` prints.

extension Configuration {
    /// Every setting with defaults filled in, as TOML that loads back to an equal
    /// configuration. Stall timers left to their computed default are shown as comments.
    public func effectiveText() -> String {
        var out = TextWriter()
        out.line("# shaolin effective configuration (all defaults filled in)")
        out.section("cluster")
        out.int("id", Int64(cluster.id))
        out.string("key_file", cluster.keyFile)
        out.string("boot_order", cluster.bootOrder.rawValue)
        out.string("preferred_node", cluster.preferredNode)
        out.int("failback_delay_ms", cluster.failbackDelayMs)
        out.int("min_alive_links", Int64(cluster.minAliveLinks))

        for (title, n) in [("node", node), ("peer", peer)] {
            out.section(title)
            out.string("name", n.name)
            out.int("id", Int64(n.id))
            out.int("priority", Int64(n.priority))
        }

        let parameters = clusterParameters()
        out.section("timing")
        out.int("keepalive_ms", timing.keepaliveMs)
        out.int("deadtime_ms", timing.deadtimeMs)
        out.int("warntime_ms", timing.warntimeMs)
        out.int("startup_timeout_ms", timing.startupTimeoutMs)
        out.int("sync_timeout_ms", timing.syncTimeoutMs)
        out.int("takeover_timeout_ms", timing.takeoverTimeoutMs)
        if let v = timing.stallThresholdMs {
            out.int("stall_threshold_ms", v)
        } else {
            out.line("# stall_threshold_ms = \(parameters.stallThreshold.milliseconds)   (computed default)")
        }
        if let v = timing.stallGraceMs {
            out.int("stall_grace_ms", v)
        } else {
            out.line("# stall_grace_ms = \(parameters.stallGraceMargin.milliseconds)   (computed default)")
        }

        for (i, l) in links.enumerated() {
            out.blank()
            out.line("[[link]]   # link id \(i)")
            out.string("name", l.name)
            out.string("type", l.kind.typeName)
            out.bool("critical", l.critical)
            out.int("keepalive_ms", l.keepaliveMs)
            out.int("deadtime_ms", l.deadtimeMs)
            out.int("warntime_ms", l.warntimeMs)
            switch l.kind {
            case .ethernet(let e):
                out.string("interface", e.interface)
                out.string("peer_mac", e.peer.description)
                out.raw("ethertype", "0x" + hex2(UInt8(e.ethertype >> 8)) + hex2(UInt8(e.ethertype & 0xFF)))
            case .serial(let s):
                out.string("device", s.device)
                out.int("baud", Int64(s.baud))
                out.bool("flow_control", s.flowControl)
            }
        }

        out.section("fencing")
        out.raw("methods", "[" + fencing.methods.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") + "]")
        out.int("race_delay_ms", fencing.raceDelayMs)
        out.int("retry_initial_ms", fencing.retryInitialMs)
        out.int("retry_max_ms", fencing.retryMaxMs)
        if let ipmi = fencing.ipmi {
            out.section("fencing.ipmi")
            out.string("host", ipmi.host)
            out.int("port", Int64(ipmi.port))
            out.string("user", ipmi.user)
            out.string("password_file", ipmi.passwordFile ?? "")
            out.string("password_env", ipmi.passwordEnv ?? "")
            out.int("cipher_suite", Int64(ipmi.cipherSuite))
            out.string("privilege", ipmi.privilege.rawValue)
            out.string("action", ipmi.action.rawValue)
            out.int("timeout_ms", ipmi.timeoutMs)
            out.int("retries", Int64(ipmi.retries))
            out.int("power_timeout_ms", ipmi.powerTimeoutMs)
        }
        if let agent = fencing.agent {
            out.section("fencing.agent")
            out.string("path", agent.path)
            let options = agent.options.map { "\(quoteKey($0.name)) = \"\(escapeTOMLString($0.value))\"" }
            out.raw("options", options.isEmpty ? "{}" : "{ " + options.joined(separator: ", ") + " }")
            out.int("timeout_ms", agent.timeoutMs)
        }
        if let command = fencing.command {
            out.section("fencing.command")
            out.string("path", command.path)
            out.raw("args", "[" + command.args.map { "\"\(escapeTOMLString($0))\"" }.joined(separator: ", ") + "]")
            out.int("timeout_ms", command.timeoutMs)
        }

        out.section("watchdog")
        out.string("device", watchdog.device)
        out.int("timeout_s", Int64(watchdog.timeoutS))
        out.int("slack_ms", watchdog.slackMs)
        out.int("slow_side_timeout_ms", watchdog.slowSideTimeoutMs)
        out.int("pet_interval_ms", watchdog.petIntervalMs)

        out.section("realtime")
        out.bool("enabled", realtime.enabled)
        out.int("priority", Int64(realtime.priority))
        out.int("cpu", Int64(realtime.cpu))
        out.bool("mlock", realtime.mlock)
        out.bool("allow_degraded", realtime.allowDegraded)
        out.bool("wake_on_frames", realtime.wakeOnFrames)

        out.section("control")
        out.string("socket", control.socket)
        out.string("tcp_listen", control.tcpListen)
        out.string("group", control.group)

        out.section("log")
        out.string("target", log.target.rawValue)
        out.string("level", log.level.rawValue)

        out.section("aac")
        out.string("agent_dir", aac.agentDirectory)
        for (i, r) in aac.rules.enumerated() {
            out.blank()
            out.line("[[aac.rule]]   # aac.rule[\(i)]")
            out.string("name", r.name)
            out.string("description", r.description)
            out.string("agent", r.agent)
            out.raw("args", stringArray(r.args))
            let params = r.params.map { "\(quoteKey($0.name)) = \"\(escapeTOMLString($0.value))\"" }
            out.raw("params", params.isEmpty ? "{}" : "{ " + params.joined(separator: ", ") + " }")
            out.int("interval_ms", r.intervalMs)
            out.int("timeout_ms", r.timeoutMs)
            out.int("startup_grace_ms", r.startupGraceMs)
            for (key, argv) in [("start", r.start), ("stop", r.stop), ("restart", r.restart)] {
                if let argv { out.raw(key, stringArray(argv)) } else { out.line("# \(key): the agent's \(key) action") }
            }
            out.int("command_timeout_ms", r.commandTimeoutMs)
            out.int("max_restarts", Int64(r.maxRestarts))
            out.int("restart_window_ms", r.restartWindowMs)
            out.bool("failover", r.failover)
            out.bool("critical", r.critical)
            out.bool("disabled", r.disabled)
        }
        return out.text
    }
}

private func stringArray(_ a: [String]) -> String {
    "[" + a.map { "\"\(escapeTOMLString($0))\"" }.joined(separator: ", ") + "]"
}

/// Accumulates TOML lines.
struct TextWriter {
    var text = ""
    mutating func line(_ s: String) { text += s + "\n" }
    mutating func blank() { text += "\n" }
    mutating func section(_ name: String) {
        blank()
        line("[\(name)]")
    }
    mutating func raw(_ key: String, _ value: String) { line("\(key) = \(value)") }
    mutating func string(_ key: String, _ value: String) { raw(key, "\"" + escapeTOMLString(value) + "\"") }
    mutating func int(_ key: String, _ value: Int64) { raw(key, String(value)) }
    mutating func bool(_ key: String, _ value: Bool) { raw(key, value ? "true" : "false") }
}
