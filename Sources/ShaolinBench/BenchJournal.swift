// The benchmark's result as one structured journald record (native protocol through
// ShaolinLinux.Journal): summary fields to filter on plus the whole JSON report.
//
//   journalctl MESSAGE_ID=40647ef53e1849fa98be08ca8d4e9a61 -o verbose

import ShaolinLinux

public enum BenchJournal {
    public static let messageID = "40647ef53e1849fa98be08ca8d4e9a61"
    public static let event = "BENCH_LATENCY"

    /// The record's fields (MESSAGE first).
    public static func fields(_ r: BenchReport) -> [(name: String, value: String)] {
        let advice = r.links.map { l in
            "\(l.name): keepalive_ms=\(l.advice.keepaliveMs) warntime_ms=\(l.advice.warntimeMs) deadtime_ms=\(l.advice.deadtimeMs)"
        }.joined(separator: "; ")
        let rtt = r.links.map { "\($0.name)=\(Int($0.rtt.p99))" }.joined(separator: ",")
        let loss = r.links.map { "\($0.name)=\(formatFixed($0.loss * 100, digits: 3))" }.joined(separator: ",")
        let flags = r.links.flatMap { l in l.advice.flags.map { "\(l.name): \($0)" } }
        let loadText = r.load.isEmpty ? "idle" : r.load.joined(separator: ",")
        var f: [(name: String, value: String)] = [
            ("MESSAGE", "shaolin bench latency \(r.node)→\(r.peer) \(formatFixed(r.durationSeconds, digits: 0)) s, \(loadText): \(advice)"),
            ("PRIORITY", flags.isEmpty ? "6" : "4"),
            ("SYSLOG_IDENTIFIER", "shaolinctl"),
            ("MESSAGE_ID", messageID),
            ("SHAOLIN_EVENT", event),
            ("SHAOLIN_NODE", r.node),
            ("SHAOLIN_PEER", r.peer),
            ("SHAOLIN_BENCH_DURATION_S", formatFixed(r.durationSeconds, digits: 1)),
            ("SHAOLIN_BENCH_INTERVAL_MS", formatFixed(r.intervalMs, digits: 3)),
            ("SHAOLIN_BENCH_LOAD", loadText),
            ("SHAOLIN_BENCH_RTT_P99_US", rtt),
            ("SHAOLIN_BENCH_LOSS_PERCENT", loss),
            ("SHAOLIN_BENCH_LOOP_LATENESS_P99_US", String(Int(r.loopLateness.p99))),
            ("SHAOLIN_BENCH_LOOP_LATENESS_MAX_US", String(Int(r.loopLateness.max))),
            ("SHAOLIN_BENCH_ADVICE", advice),
            ("SHAOLIN_BENCH_JSON", r.json()),
        ]
        if let h = r.cyclictest?.histogram {
            let p = Percentiles(h)
            f.append(("SHAOLIN_BENCH_CYCLICTEST_P99_US", String(Int(p.p99))))
            f.append(("SHAOLIN_BENCH_CYCLICTEST_MAX_US", String(Int(p.max))))
        }
        if !flags.isEmpty { f.append(("SHAOLIN_BENCH_FLAGS", flags.joined(separator: "\n"))) }
        return f
    }

    /// Sends the record. Returns a note when it could not be logged (no journald here).
    public static func log(_ r: BenchReport) -> String? {
        guard Journal.isAvailable else {
            return "journald is not running here (\(Journal.socketPath) missing): no journal record written"
        }
        do { try Journal.send(fields(r)) } catch { return "journal record not written: \(error)" }
        return nil
    }
}
