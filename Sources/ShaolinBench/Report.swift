// The report as a terminal table and as JSON (schema: docs/bench-schema.json).

import Histogram
import ShaolinCore

extension BenchReport {
    static func ms(_ us: Double) -> String {
        let v = us / 1000
        return formatFixed(v, digits: v < 10 ? 3 : (v < 100 ? 2 : 1))
    }

    static func row(_ label: String, _ p: Percentiles) -> String {
        let cells = [p.p50, p.p90, p.p99, p.p999, p.p9999, p.max].map { pad(ms($0), 9) }
        return pad(label, 28, left: true) + cells.joined() + pad(String(p.count), 10)
    }

    static func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
        if s.count >= w { return left ? s + " " : " " + s }
        let fill = String(repeating: " ", count: w - s.count)
        return left ? s + fill : fill + s
    }

    static func pct(_ x: Double?) -> String { x.map { formatFixed($0 * 100, digits: 2) + " %" } ?? "n/a" }

    /// The human-readable report.
    public func table() -> String {
        var out: [String] = []
        out.append("shaolin heartbeat latency benchmark: node \(node) → peer \(peer), \(formatFixed(durationSeconds, digits: 0)) s at \(formatFixed(intervalMs, digits: intervalMs < 1 ? 2 : 0)) ms interval")
        var rt = realtime.fifo ? "SCHED_FIFO \(realtime.priority)" : "SCHED_OTHER"
        rt += realtime.memoryLocked ? ", memory locked" : ", memory NOT locked"
        if realtime.cpu >= 0 { rt += ", CPU \(realtime.cpu)" }
        out.append("real-time: \(rt)\(realtime.degraded ? " (DEGRADED)" : "")")
        if !load.isEmpty {
            out.append("load: \(loadResult?.command ?? "stress-ng (not run)")")
        } else {
            out.append("load: none (idle)")
        }
        out.append("")
        out.append(Self.pad("latency (ms)", 28, left: true) + ["p50", "p90", "p99", "p99.9", "p99.99", "max"].map { Self.pad($0, 9) }.joined() + Self.pad("samples", 10))
        for l in links {
            out.append("link \(l.name) (\(l.kind) \(l.endpoint))")
            out.append(Self.row("  round trip", l.rtt))
            out.append(Self.row("  one-way (estimated)", l.oneWay))
            out.append(Self.row("  responder turnaround", l.turnaround))
            out.append(Self.row("  heartbeat schedule delay", l.scheduleDelay))
        }
        out.append("loop wake-up lateness")
        out.append(Self.row("  this node (probe loop)", loopLateness))
        if let h = cyclictest?.histogram {
            out.append(Self.row("  cyclictest (same run)", Percentiles(h)))
        } else if let ct = cyclictest {
            out.append("  cyclictest: \(ct.error ?? "no result")")
        }
        out.append(Self.row("  peer (responder loop)", peerLateness))
        out.append("  ticks \(ticks), missed ticks (timer overruns) \(overruns)")
        out.append("")
        out.append(Self.pad("link", 12, left: true) + Self.pad("sent", 9) + Self.pad("replies", 9) + Self.pad("loss", 10)
                   + Self.pad("→ peer", 10) + Self.pad("← peer", 10) + Self.pad("burst", 7) + Self.pad("reord", 7) + Self.pad("dup", 6) + Self.pad("rejects", 9))
        for l in links {
            out.append(Self.pad(l.name, 12, left: true) + Self.pad(String(l.sent), 9) + Self.pad(String(l.received), 9)
                       + Self.pad(Self.pct(l.loss), 10) + Self.pad(Self.pct(l.forwardLoss), 10) + Self.pad(Self.pct(l.reverseLoss), 10)
                       + Self.pad(String(l.longestLossBurst), 7) + Self.pad(String(l.reordered), 7) + Self.pad(String(l.duplicates), 6)
                       + Self.pad(String(l.rejected), 9))
        }
        out.append("")
        out.append("advice for at most \(formatFixed(budgetPerYear, digits: budgetPerYear < 1 ? 3 : 0)) false link death(s) per year at this load:")
        for l in links {
            let a = l.advice
            out.append("  link \(l.name): keepalive_ms = \(a.keepaliveMs), warntime_ms = \(a.warntimeMs), deadtime_ms = \(a.deadtimeMs)"
                       + "   (detects a real failure within ≈ \(a.detectionMs) ms)")
            for line in a.arithmetic { out.append("      " + line) }
            for f in a.flags { out.append("    ! " + f) }
        }
        if !warnings.isEmpty {
            out.append("")
            for w in warnings { out.append("warning: " + w) }
        }
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: JSON

    public static let schemaID = "shaolin-bench-latency/1"

    public func json() -> String {
        let w = JSONWriter()
        w.object {
            w.field("schema", Self.schemaID)
            w.field("node", node)
            w.field("peer", peer)
            w.field("config", configPath)
            w.field("started_unix", Double(startedUnixSeconds))
            w.field("duration_s", durationSeconds)
            w.field("interval_ms", intervalMs)
            w.field("budget_per_year", budgetPerYear)
            w.key("realtime")
            w.object {
                w.field("policy", realtime.fifo ? "SCHED_FIFO" : "SCHED_OTHER")
                w.field("priority", Double(realtime.priority))
                w.field("memory_locked", realtime.memoryLocked)
                w.field("cpu", Double(realtime.cpu))
                w.field("degraded", realtime.degraded)
                w.key("problems"); w.strings(realtime.problems)
            }
            w.key("load")
            if load.isEmpty {
                w.null()
            } else {
                w.object {
                    w.key("classes"); w.strings(load)
                    w.field("command", loadResult?.command ?? "")
                    w.field("exit", loadResult?.exitStatus ?? "not run")
                    w.optionalField("error", loadResult?.error)
                }
            }
            w.field("ticks", Double(ticks))
            w.field("missed_ticks", Double(overruns))
            w.key("loop_lateness_us"); w.percentiles(loopLateness)
            w.key("peer_loop_lateness_us"); w.percentiles(peerLateness)
            w.key("cyclictest")
            if let ct = cyclictest {
                w.object {
                    w.field("command", ct.command)
                    w.key("lateness_us")
                    if let h = ct.histogram { w.percentiles(Percentiles(h)) } else { w.null() }
                    w.field("overflows", Double(ct.overflows))
                    w.optionalField("error", ct.error)
                }
            } else {
                w.null()
            }
            w.key("links")
            w.array(links) { l in
                w.object {
                    w.field("name", l.name)
                    w.field("type", l.kind)
                    w.field("endpoint", l.endpoint)
                    w.field("sent", Double(l.sent))
                    w.field("received", Double(l.received))
                    w.field("lost", Double(l.lost))
                    w.field("loss", l.loss)
                    w.optionalField("loss_to_peer", l.forwardLoss)
                    w.optionalField("loss_from_peer", l.reverseLoss)
                    w.field("longest_loss_burst", Double(l.longestLossBurst))
                    w.field("reordered", Double(l.reordered))
                    w.field("duplicates", Double(l.duplicates))
                    w.field("send_drops", Double(l.sendDrops))
                    w.field("rejected", Double(l.rejected))
                    w.field("heartbeats_seen", Double(l.heartbeatsSeen))
                    w.key("rtt_us"); w.percentiles(l.rtt)
                    w.key("one_way_us"); w.percentiles(l.oneWay)
                    w.key("turnaround_us"); w.percentiles(l.turnaround)
                    w.key("schedule_delay_us"); w.percentiles(l.scheduleDelay)
                    w.key("advice")
                    w.object {
                        let a = l.advice
                        w.field("keepalive_ms", Double(a.keepaliveMs))
                        w.field("warntime_ms", Double(a.warntimeMs))
                        w.field("deadtime_ms", Double(a.deadtimeMs))
                        w.field("detection_ms", Double(a.detectionMs))
                        w.field("per_heartbeat_budget", a.perHeartbeatBudget)
                        w.field("loss_probability", a.lossProbability)
                        w.field("consecutive_losses", Double(a.consecutiveLosses))
                        w.field("tail_threshold_ms", a.tailThresholdMs)
                        w.field("tail_scale_ms", a.tailScaleMs)
                        w.field("tail_allowance_ms", a.tailAllowanceMs)
                        w.field("tail_dominated", a.tailDominated)
                        w.key("arithmetic"); w.strings(a.arithmetic)
                        w.key("flags"); w.strings(a.flags)
                    }
                }
            }
            w.key("warnings"); w.strings(warnings)
        }
        return w.text + "\n"
    }
}

/// A small JSON writer (no Foundation): objects, arrays, strings, numbers, booleans, null.
final class JSONWriter {
    var text = ""
    var needsComma = [false]

    func separator() {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
    }

    func object(_ body: () -> Void) {
        separatorIfValue()
        text += "{"
        needsComma.append(false)
        body()
        needsComma.removeLast()
        text += "}"
    }

    func array<T>(_ items: [T], _ body: (T) -> Void) {
        separatorIfValue()
        text += "["
        needsComma.append(false)
        for i in items { body(i) }
        needsComma.removeLast()
        text += "]"
    }

    var afterKey = false
    func separatorIfValue() {
        if afterKey { afterKey = false; return }
        separator()
    }

    func key(_ k: String) {
        separator()
        text += Self.quote(k) + ":"
        afterKey = true
    }

    func value(_ raw: String) { separatorIfValue(); text += raw }
    func null() { value("null") }
    func field(_ k: String, _ v: String) { key(k); value(Self.quote(v)) }
    func field(_ k: String, _ v: Bool) { key(k); value(v ? "true" : "false") }
    func field(_ k: String, _ v: Double) { key(k); value(Self.number(v)) }
    func optionalField(_ k: String, _ v: String?) { key(k); if let v { value(Self.quote(v)) } else { null() } }
    func optionalField(_ k: String, _ v: Double?) { key(k); if let v { value(Self.number(v)) } else { null() } }
    func strings(_ items: [String]) { array(items) { s in value(Self.quote(s)) } }

    func percentiles(_ p: Percentiles) {
        object {
            field("count", Double(p.count))
            field("min", p.min)
            field("mean", p.mean)
            field("p50", p.p50)
            field("p90", p.p90)
            field("p99", p.p99)
            field("p99_9", p.p999)
            field("p99_99", p.p9999)
            field("max", p.max)
        }
    }

    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    static func quote(_ s: String) -> String { JSONValue.quoted(s) }
}
