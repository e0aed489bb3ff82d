// The engine's status as JSON: the control interface's `status` answer and the status file
// (the same document; the file is pretty-printed one member per line, which tools/lab.sh
// reads with sed).

import Histogram
import ShaolinCore

/// A lateness histogram's summary (after the deadline asked for), microseconds.
public struct LatenessSummary: Sendable, Equatable {
    public var count: UInt64 = 0
    public var p50: UInt64 = 0
    public var p90: UInt64 = 0
    public var p99: UInt64 = 0
    public var p999: UInt64 = 0
    public var max: UInt64 = 0

    public init() {}

    public init(_ h: Histogram<UInt64>) {
        count = h.totalCount
        guard count > 0 else { return }
        p50 = h.valueAtPercentile(50) / 1000
        p90 = h.valueAtPercentile(90) / 1000
        p99 = h.valueAtPercentile(99) / 1000
        p999 = h.valueAtPercentile(99.9) / 1000
        max = h.max / 1000
    }

    var json: JSONValue {
        .object([
            ("count", .int(Int64(clamping: count))), ("p50", .int(Int64(clamping: p50))), ("p90", .int(Int64(clamping: p90))),
            ("p99", .int(Int64(clamping: p99))), ("p99_9", .int(Int64(clamping: p999))), ("max", .int(Int64(clamping: max))),
        ])
    }
}

/// A lateness histogram whole: its summary and its counts per microsecond (non-empty values
/// only, at the histogram's resolution of 3 significant digits), for the `reset-lateness` answer.
public struct LatenessDistribution: Sendable {
    public var summary: LatenessSummary
    /// (µs, count), ascending.
    public var counts: [(UInt64, UInt64)]

    public init(_ h: Histogram<UInt64>) {
        summary = LatenessSummary(h)
        counts = []
        for v in h.recordedValues() where v.count > 0 {
            let us = Swift.min(h.highestEquivalentForValue(v.value), h.max) / 1000
            if let last = counts.last, last.0 == us { counts[counts.count - 1].1 += UInt64(v.count) } else { counts.append((us, UInt64(v.count))) }
        }
    }

    /// The summary's members plus "histogram": [[µs, count], …].
    var json: JSONValue {
        guard case .object(var m) = summary.json else { return summary.json }
        m.append(("histogram", .array(counts.map { .array([.int(Int64(clamping: $0.0)), .int(Int64(clamping: $0.1))]) })))
        return .object(m)
    }
}

/// Everything the status shows, copied out of the slow side under its lock.
public struct StatusSnapshot: Sendable {
    public var node: String
    public var peer: String
    public var header: StatusHeader
    public var links: [LinkStatus]
    public var linkNames: [String]
    public var fenceHistory: [String]
    public var fenceMethods: [String]
    /// Timer deadline → deadline judged (after draining the links).
    public var lateness: LatenessSummary
    /// Timer deadline → the loop's thread running (comparable with cyclictest).
    public var wakeup: LatenessSummary = LatenessSummary()
    public var watchdog: WatchdogReport
    /// The opened device's identity (nil when watchdog = "none" or not opened).
    public var watchdogIdentity: WatchdogIdentity? = nil
    public var aacRules: [AACRuleStatus]
    /// CLOCK_MONOTONIC ns when the engine started.
    public var startedAt: Int64
}

public enum StatusJSON {
    static func hex(_ v: UInt64) -> JSONValue { .string(String(v, radix: 16)) }

    /// The status document. Member names are stable (scripts and the lab read them).
    public static func value(_ s: StatusSnapshot) -> JSONValue {
        let h = s.header
        var m: [(String, JSONValue)] = []
        m.append(("node", .string(s.node)))
        m.append(("role", .string("\(h.role)")))
        m.append(("reason", .string("\(h.reason)")))
        m.append(("role_since_ns", .int(h.roleSince)))
        m.append(("now_ns", .int(h.now)))
        m.append(("uptime_ms", .int(h.now > 0 && s.startedAt > 0 ? Swift.max(0, (h.now - s.startedAt) / 1_000_000) : 0)))
        m.append(("role_age_ms", .int(h.now > 0 ? Swift.max(0, (h.now - h.roleSince) / 1_000_000) : 0)))
        m.append(("incarnation", hex(h.incarnation)))
        m.append(("epoch", .int(Int64(h.epoch))))
        m.append(("maintenance", .bool(h.health.contains(.maintenance))))
        m.append(("realtime_degraded", .bool(h.realtimeDegraded)))
        m.append(("alive_links", .int(Int64(h.aliveLinks))))
        m.append(("stalls", .int(Int64(clamping: h.stalls))))
        m.append(("longest_stall_us", .int(h.longestStall / 1000)))
        m.append(("slow_queue_drops", .int(Int64(clamping: h.slowQueueDrops))))
        m.append(("loop_wakeups", .int(Int64(clamping: h.wakeups))))
        m.append(("wake_on_frames", .bool(h.wakeOnFrames)))
        m.append(("peer", .object([
            ("name", .string(s.peer)), ("known", .bool(h.peerKnown)), ("alive", .bool(h.peerAlive)),
            ("role", .string("\(h.peerRole)")), ("incarnation", hex(h.peerIncarnation)), ("epoch", .int(Int64(h.peerEpoch))),
            ("sees_us", .bool(h.peerAlive && h.peerView == .alive)), ("maintenance", .bool(h.peerHealth.contains(.maintenance))),
            ("last_heard_ms_ago", .int(lastHeardMs(s))),
        ])))
        m.append(("fence", .object([
            ("state", .string(h.fenceInFlight ? "fencing" : (h.role == .fencing ? "waiting" : "idle"))),
            ("attempt", .int(Int64(h.fenceAttempt))), ("in_flight", .bool(h.fenceInFlight)),
            ("failures", .int(Int64(h.fenceFailures))),
            ("methods", .array(s.fenceMethods.map { .string($0) })),
            ("history", .array(s.fenceHistory.map { .string($0) })),
        ])))
        m.append(("watchdog", watchdogValue(s)))
        m.append(("loop_lateness_us", s.lateness.json))
        m.append(("loop_wakeup_us", s.wakeup.json))
        m.append(("aac_rules", .array(s.aacRules.map(\.json))))
        var links: [JSONValue] = []
        for (i, l) in s.links.enumerated() {
            let name = i < s.linkNames.count ? s.linkNames[i] : "link\(i)"
            var rejects: [(String, JSONValue)] = []
            for r in RejectReason.allCases where l.counters.rejected[r] > 0 {
                rejects.append((r.description, .int(Int64(clamping: l.counters.rejected[r]))))
            }
            if l.framingRejects > 0 { rejects.append(("framing", .int(Int64(clamping: l.framingRejects)))) }
            let c = l.counters
            let expected = c.received &+ c.lost
            let lossPermille = expected == 0 ? 0 : Int64(clamping: c.lost * 1000 / expected)
            links.append(.object([
                ("name", .string(name)), ("id", .int(Int64(l.id))), ("alive", .bool(l.alive)), ("carrier", .bool(l.carrierUp)),
                ("sent", .int(Int64(clamping: c.sent))), ("received", .int(Int64(clamping: c.received))),
                ("lost", .int(Int64(clamping: c.lost))), ("loss_percent", .double(Double(lossPermille) / 10)),
                ("late", .int(Int64(clamping: c.late))), ("down_transitions", .int(Int64(clamping: c.downTransitions))),
                ("rtt_us", .int(c.lastRTT / 1000)),
                ("last_heard_ms_ago", .int(l.lastHeardAgo < 0 ? -1 : l.lastHeardAgo / 1_000_000)),
                ("send_drops", .int(Int64(clamping: l.sendDrops))), ("rejected", .object(rejects)),
            ]))
        }
        m.append(("links", .array(links)))
        return .object(m)
    }

    /// The hardware watchdog: what the configuration says, then the real-time loop's live
    /// verdicts (state, health, pets) and the device's identity (docs/watchdog.md).
    static func watchdogValue(_ s: StatusSnapshot) -> JSONValue {
        guard let id = s.watchdogIdentity, s.watchdog.state != "disabled" else { return s.watchdog.json }
        let w = s.header.watchdog
        let lastPet = w.lastPetAgo < 0 ? -1 : w.lastPetAgo / 1_000_000
        let detail = w.reasons.isEmpty ? "healthy" : "not petting: " + w.reasons.names.joined(separator: ", ")
        return .object([
            ("state", .string(w.state.rawValue)), ("device", .string(id.device)), ("identity", .string(id.identity)),
            ("timeout_s", .int(Int64(id.timeoutS))), ("nowayout", .bool(id.nowayout)),
            ("healthy", .bool(w.reasons.isEmpty)), ("unhealthy", .array(w.reasons.names.map { .string($0) })),
            ("pets", .int(Int64(clamping: w.pets))), ("withheld", .int(Int64(clamping: w.withheld))),
            ("keepalive_failures", .int(Int64(clamping: w.keepaliveFailures))),
            ("last_pet_ms_ago", .int(Int64(lastPet))), ("detail", .string(detail)),
        ])
    }

    /// The freshest frame from the peer on any link, ms ago (-1 never).
    static func lastHeardMs(_ s: StatusSnapshot) -> Int64 {
        var best: Int64 = -1
        for l in s.links where l.lastHeardAgo >= 0 {
            let ms = l.lastHeardAgo / 1_000_000
            if best < 0 || ms < best { best = ms }
        }
        return best
    }

    /// The status file: one top-level member per line, one link per line.
    public static func fileText(_ s: StatusSnapshot) -> String {
        guard case .object(let members) = value(s) else { return "{}\n" }
        var out = "{\n"
        for (i, (k, v)) in members.enumerated() {
            out += "  " + JSONValue.quoted(k) + ": "
            if case .array(let items) = v, k == "links" || k == "aac_rules", !items.isEmpty {
                out += "[\n"
                for (j, item) in items.enumerated() { out += "    " + item.spaced + (j + 1 < items.count ? ",\n" : "\n") }
                out += "  ]"
            } else {
                out += v.spaced
            }
            out += i + 1 < members.count ? ",\n" : "\n"
        }
        return out + "}\n"
    }
}
