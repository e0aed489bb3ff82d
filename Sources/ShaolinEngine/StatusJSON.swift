// The engine's status as JSON (status file today; the control socket's `status` answer later).

import Histogram
import ShaolinCore

public enum StatusJSON {
    static func q(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: if c.value < 0x20 { out += "\\u00" + (c.value < 16 ? "0" : "") + String(c.value, radix: 16) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }

    public static func render(node: String, peer: String, header h: StatusHeader, links: [LinkStatus], linkNames: [String],
                              lateness: Histogram<UInt64>, fenceHistory: [String],
                              aac: [AACSupervisor.RuleStatus] = []) -> String {
        var s = "{\n"
        s += "  \"node\": \(q(node)),\n"
        s += "  \"role\": \(q("\(h.role)")),\n"
        s += "  \"reason\": \(q("\(h.reason)")),\n"
        s += "  \"role_since_ns\": \(h.roleSince),\n"
        s += "  \"now_ns\": \(h.now),\n"
        s += "  \"incarnation\": \(q(String(h.incarnation, radix: 16))),\n"
        s += "  \"epoch\": \(h.epoch),\n"
        s += "  \"maintenance\": \(h.health.contains(.maintenance)),\n"
        s += "  \"realtime_degraded\": \(h.realtimeDegraded),\n"
        s += "  \"alive_links\": \(h.aliveLinks),\n"
        s += "  \"stalls\": \(h.stalls),\n"
        s += "  \"longest_stall_us\": \(h.longestStall / 1000),\n"
        s += "  \"slow_queue_drops\": \(h.slowQueueDrops),\n"
        s += "  \"peer\": {\"name\": \(q(peer)), \"known\": \(h.peerKnown), \"alive\": \(h.peerAlive), \"role\": \(q("\(h.peerRole)")), \"incarnation\": \(q(String(h.peerIncarnation, radix: 16))), \"epoch\": \(h.peerEpoch), \"sees_us\": \(h.peerView == .alive)},\n"
        s += "  \"fence\": {\"attempt\": \(h.fenceAttempt), \"in_flight\": \(h.fenceInFlight), \"failures\": \(h.fenceFailures), \"history\": [\(fenceHistory.map(q).joined(separator: ", "))]},\n"
        let count = lateness.totalCount
        func p(_ x: Double) -> UInt64 { count == 0 ? 0 : lateness.valueAtPercentile(x) / 1000 }
        s += "  \"loop_lateness_us\": {\"count\": \(count), \"p50\": \(p(50)), \"p99\": \(p(99)), \"p99_9\": \(p(99.9)), \"max\": \(count == 0 ? 0 : lateness.max / 1000)},\n"
        s += "  \"aac\": " + aacRules(aac, now: h.now) + ",\n"
        s += "  \"links\": [\n"
        for (i, l) in links.enumerated() {
            let name = i < linkNames.count ? linkNames[i] : "link\(i)"
            var rejects: [String] = []
            for r in RejectReason.allCases where l.counters.rejected[r] > 0 { rejects.append("\(q(r.description)): \(l.counters.rejected[r])") }
            if l.framingRejects > 0 { rejects.append("\"framing\": \(l.framingRejects)") }
            s += "    {\"name\": \(q(name)), \"id\": \(l.id), \"alive\": \(l.alive), \"carrier\": \(l.carrierUp), "
            s += "\"sent\": \(l.counters.sent), \"received\": \(l.counters.received), \"lost\": \(l.counters.lost), "
            s += "\"late\": \(l.counters.late), \"down_transitions\": \(l.counters.downTransitions), "
            s += "\"rtt_us\": \(l.counters.lastRTT / 1000), \"last_heard_ms_ago\": \(l.lastHeardAgo < 0 ? -1 : l.lastHeardAgo / 1_000_000), "
            s += "\"send_drops\": \(l.sendDrops), \"rejected\": {\(rejects.joined(separator: ", "))}}"
            s += i + 1 < links.count ? ",\n" : "\n"
        }
        s += "  ]\n}\n"
        return s
    }

    /// The AAC rules as a JSON array (status file, control socket).
    public static func aacRules(_ rules: [AACSupervisor.RuleStatus], now: Int64) -> String {
        if rules.isEmpty { return "[]" }
        var parts: [String] = []
        for r in rules {
            var o = "{\"name\": \(q(r.name)), \"description\": \(q(r.description)), \"agent\": \(q(r.agent)), "
            o += "\"enabled\": \(r.enabled), \"state\": \(q(r.state.rawValue)), \"failover\": \(r.failover), \"critical\": \(r.critical), "
            o += "\"checks\": \(r.checks), \"failed_checks\": \(r.failedChecks), \"restarts\": \(r.restarts), "
            o += "\"restarts_in_window\": \(r.restartsInWindow), \"max_restarts\": \(r.maxRestarts), "
            o += "\"operator_restarts\": \(r.operatorRestarts), \"handover_requests\": \(r.handoverRequests), "
            o += "\"last_result\": \(q(r.lastResult)), \"last_message\": \(q(r.lastMessage)), "
            o += "\"last_check_ms_ago\": \(r.lastCheckAt == 0 || now == 0 ? -1 : max(0, now - r.lastCheckAt) / 1_000_000), "
            o += "\"last_check_duration_ms\": \(r.lastCheckDurationMs)}"
            parts.append(o)
        }
        return "[\n    " + parts.joined(separator: ",\n    ") + "\n  ]"
    }
}
