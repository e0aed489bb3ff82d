// Human-readable rendering of the engine's status document (shaolinctl status, the menu).
import ShaolinCore

enum Fmt {
    static func int(_ v: JSONValue?) -> Int64 { v?.intValue ?? 0 }
    static func str(_ v: JSONValue?) -> String { v?.stringValue ?? "?" }
    static func bool(_ v: JSONValue?) -> Bool { v?.boolValue ?? false }

    /// 850 ms, 12.3 s, 4 min 02 s, 3 h 05 min, 2 d 04 h.
    static func duration(ms: Int64) -> String {
        if ms < 0 { return "never" }
        if ms < 1000 { return "\(ms) ms" }
        let s = ms / 1000
        if s < 60 { return "\(s).\(ms % 1000 / 100) s" }
        if s < 3600 { return "\(s / 60) min \(pad2(s % 60)) s" }
        if s < 86400 { return "\(s / 3600) h \(pad2(s % 3600 / 60)) min" }
        return "\(s / 86400) d \(pad2(s % 86400 / 3600)) h"
    }

    static func ago(ms: Int64) -> String { ms < 0 ? "never" : duration(ms: ms) + " ago" }

    static func pad2(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }

    static func micros(_ us: Int64) -> String {
        us < 1000 ? "\(us) us" : "\(us / 1000).\(us % 1000 / 100) ms"
    }

    static func col(_ s: String, _ w: Int) -> String {
        let n = s.count
        return n >= w ? String(s.prefix(w)) : s + String(repeating: " ", count: w - n)
    }

    static func loss(_ v: JSONValue?) -> String {
        let d = v?.doubleValue ?? 0
        let tenths = Int((d * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// "3 links, 2 alive" style link state word.
    static func linkState(_ l: JSONValue) -> String {
        if !bool(l["carrier"]) { return "no carrier" }
        return bool(l["alive"]) ? "up" : "down"
    }

    static func peerLine(_ s: JSONValue) -> String {
        let p = s["peer"] ?? .null
        let name = str(p["name"])
        guard bool(p["known"]) || bool(p["alive"]) else {
            return "\(name)  not heard" + (int(p["last_heard_ms_ago"]) >= 0 ? " (last heard \(ago(ms: int(p["last_heard_ms_ago"]))))" : "")
        }
        var t = "\(name)  \(str(p["role"]))  epoch \(int(p["epoch"]))  incarnation \(str(p["incarnation"]))"
        t += bool(p["alive"]) ? "  alive" : "  silent"
        if bool(p["alive"]) { t += bool(p["sees_us"]) ? ", hears us" : ", does not hear us yet" }
        if bool(p["maintenance"]) { t += "  MAINTENANCE" }
        t += "  last heartbeat \(ago(ms: int(p["last_heard_ms_ago"])))"
        return t
    }

    static func fenceLine(_ s: JSONValue) -> String {
        let f = s["fence"] ?? .null
        let methods = f["methods"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? "?"
        return "\(str(f["state"]))  (methods: \(methods); attempts \(int(f["attempt"])), failures \(int(f["failures"])))"
    }

    static func watchdogLine(_ s: JSONValue) -> String {
        let w = s["watchdog"] ?? .null
        var t = str(w["state"])
        if str(w["device"]) != "none" { t += "  \(str(w["device"])) timeout \(int(w["timeout_s"])) s" }
        if int(w["last_pet_ms_ago"]) >= 0 { t += "  last keepalive \(ago(ms: int(w["last_pet_ms_ago"])))" }
        if let d = w["detail"]?.stringValue, !d.isEmpty { t += "  (\(d))" }
        return t
    }

    /// `member`: "loop_lateness_us" (deadline → judged) or "loop_wakeup_us" (deadline → running).
    static func latenessLine(_ s: JSONValue, _ member: String = "loop_lateness_us") -> String {
        let l = s[member] ?? .null
        return "p50 \(micros(int(l["p50"])))  p99 \(micros(int(l["p99"])))  p99.9 \(micros(int(l["p99_9"])))  max \(micros(int(l["max"])))  (\(int(l["count"])) wake-ups)"
    }

    static func ruleLine(_ r: JSONValue) -> String {
        // A rule the operator stopped is not enabled either; its state says "stopped".
        let state = str(r["state"])
        var t = col(str(r["name"]), 14) + " " + col(bool(r["enabled"]) || state == "stopped" ? state : "disabled", 10)
        t += " checks \(int(r["checks"]))  failures \(int(r["failures"]))  restarts \(int(r["restarts_in_window"]))/\(int(r["max_restarts"]))"
        t += bool(r["failover"]) ? "  failover" : ""
        if let res = r["last_result"]?.stringValue, !res.isEmpty { t += "  last: \(res)" }
        if bool(r["operator_action_pending"]) { t += "  (operator start/stop running)" }
        if let op = r["last_operator_action"]?.stringValue, !op.isEmpty { t += "  [\(op)]" }
        return t
    }

    /// The whole status as text (shaolinctl status).
    static func status(_ s: JSONValue) -> String {
        var out: [String] = []
        var head = "Node \(str(s["node"]))  \(str(s["role"]))  since \(duration(ms: int(s["role_age_ms"]))) (\(str(s["reason"])))"
        head += "  epoch \(int(s["epoch"]))  uptime \(duration(ms: int(s["uptime_ms"])))"
        out.append(head)
        var flags = "  incarnation \(str(s["incarnation"]))  maintenance \(bool(s["maintenance"]) ? "ON" : "off")"
        flags += bool(s["realtime_degraded"]) ? "  real-time DEGRADED" : "  real-time ok"
        if int(s["stalls"]) > 0 { flags += "  stalls \(int(s["stalls"])) (longest \(micros(int(s["longest_stall_us"]))))" }
        out.append(flags)
        out.append("Peer " + peerLine(s))
        out.append("Links")
        out.append("  " + col("NAME", 10) + col("STATE", 11) + col("RTT", 10) + col("LOSS", 8) + col("LAST HEARD", 14) + col("SENT", 9) + col("RECEIVED", 9) + "REJECTED")
        for l in s["links"]?.arrayValue ?? [] {
            let rejected = (l["rejected"]?.objectValue ?? []).reduce(Int64(0)) { $0 + ($1.1.intValue ?? 0) }
            out.append("  " + col(str(l["name"]), 10) + col(linkState(l), 11) + col(micros(int(l["rtt_us"])), 10) + col(loss(l["loss_percent"]), 8)
                       + col(ago(ms: int(l["last_heard_ms_ago"])), 14) + col("\(int(l["sent"]))", 9) + col("\(int(l["received"]))", 9) + "\(rejected)")
        }
        out.append("Fencing   " + fenceLine(s))
        for h in (s["fence"]?["history"]?.arrayValue ?? []).suffix(5) { out.append("  " + str(h)) }
        out.append("Watchdog  " + watchdogLine(s))
        out.append("Loop lateness  " + latenessLine(s))
        if s["loop_wakeup_us"] != nil { out.append("  of it wake-up " + latenessLine(s, "loop_wakeup_us")) }
        let rules = s["aac_rules"]?.arrayValue ?? []
        if rules.isEmpty {
            out.append("AAC rules  none configured")
        } else {
            out.append("AAC rules")
            for r in rules { out.append("  " + ruleLine(r)) }
        }
        return out.joined(separator: "\n")
    }

    static let levels = ["EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG"]

    /// One log event as text: "03:06:33 NOTICE ROLE_CHANGE role FENCING -> ACTIVE: …".
    static func event(_ e: JSONValue) -> String {
        let t = int(e["time"])
        let secs = ((t % 86400) + 86400) % 86400
        let clock = "\(pad2(secs / 3600)):\(pad2(secs % 3600 / 60)):\(pad2(secs % 60))"
        let ev = str(e["event"])
        return "\(clock) \(col(str(e["level"]), 6)) \(ev.isEmpty || ev == "?" ? "" : ev + " ")\(str(e["message"]))"
    }
}
