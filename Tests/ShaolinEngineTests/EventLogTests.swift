// The log's sink choice, MESSAGE_ID catalogue, bounded queue, and the systemd notifier's rules.
import Foundation
import Glibc
import ShaolinCore
import ShaolinLinux
@testable import ShaolinEngine
import Testing

@Suite struct LogSinkSelectionTests {
    typealias Env = LogSinkSelector.Environment

    @Test func autoPrefersJournaldThenKmsgInAnInitramfsThenStderr() {
        #expect(LogSinkSelector.choose(target: "auto", Env(journalSocketExists: true, inInitramfs: true, kmsgWritable: true)).sink == .journal)
        #expect(LogSinkSelector.choose(target: "auto", Env(journalSocketExists: false, inInitramfs: true, kmsgWritable: true)).sink == .kmsg)
        #expect(LogSinkSelector.choose(target: "auto", Env(journalSocketExists: false, inInitramfs: true, kmsgWritable: false)).sink == .stderr)
        #expect(LogSinkSelector.choose(target: "auto", Env(journalSocketExists: false, inInitramfs: false, kmsgWritable: true)).sink == .stderr)
    }

    @Test func explicitTargetsAreHonouredOrFallBackOutLoud() {
        let none = Env(journalSocketExists: false, inInitramfs: false, kmsgWritable: false)
        let all = Env(journalSocketExists: true, inInitramfs: false, kmsgWritable: true)
        #expect(LogSinkSelector.choose(target: "stderr", all).sink == .stderr)
        #expect(LogSinkSelector.choose(target: "kmsg", all).sink == .kmsg)
        #expect(LogSinkSelector.choose(target: "journal", all).sink == .journal)
        let j = LogSinkSelector.choose(target: "journal", none)
        #expect(j.sink == .stderr && j.reason.contains("/run/systemd/journal/socket does not exist"))
        let k = LogSinkSelector.choose(target: "kmsg", none)
        #expect(k.sink == .stderr && k.reason.contains("/dev/kmsg"))
    }
}

@Suite struct LogCatalogTests {
    @Test func messageIDsAreFixed128BitHexAndUnique() {
        let ids = Array(LogCatalog.messageIDs.values)
        #expect(Set(ids).count == ids.count)
        for (event, id) in LogCatalog.messageIDs {
            #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(event): \(id)")
        }
        for key in ["ROLE_CHANGE", "TAKEOVER", "PEER_DEAD", "LINK_DOWN", "LINK_UP", "FENCE_START", "FENCE_CONFIRMED",
                    "FENCE_FAILED", "WATCHDOG_ARMED", "WATCHDOG_DISARMED", "CONFIG_RELOADED", "LOG_DROPPED", "EVENTS_DROPPED"] {
            #expect(LogCatalog.messageID(for: key) != nil, "\(key)")
        }
    }

    @Test func docsListEveryMessageID() throws {
        let doc = try String(contentsOf: Lab.repo.appendingPathComponent("docs/logging.md"), encoding: .utf8)
        for (event, id) in LogCatalog.messageIDs {
            #expect(doc.contains("`\(event)`") && doc.contains(id), "docs/logging.md lacks \(event) \(id)")
        }
    }
}

@Suite struct EventLogQueueTests {
    /// The writer is stuck on a full pipe nobody reads (a stalled sink): writers keep going,
    /// the overflow is dropped and counted, and the count is logged once the sink moves again.
    @Test func aStalledSinkDropsAndCountsInsteadOfBlocking() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let log = EventLog(node: "n1", choice: LogSinkChoice(sink: .stderr, reason: "test"), level: "info", textDescriptor: fds[1])
        log.startWriter()
        // 64 KiB of pipe + 1024 queued records is far less than 5000 records of ~150 bytes.
        let total = 5000
        let t0 = DispatchTime.now().uptimeNanoseconds
        for i in 0..<total { log.write(.info, "record \(i) " + String(repeating: "x", count: 80), event: "TEST", [("SHAOLIN_SEQ", "\(i)")]) }
        let perCall = Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(total) / 1000
        let dropped = log.dropped
        // Informational (not asserted): what a caller pays per record while the sink is stalled.
        print("log.write with a stalled sink: \(String(format: "%.2f", perCall)) µs per call (formatting included), \(dropped) of \(total) dropped")
        #expect(dropped > 0, "nothing dropped: the writes must have blocked or the sink was not stalled")
        // Unstall: read everything until the writer has finished.
        final class Reader: @unchecked Sendable { var data = Data() }
        let reader = Reader()
        let readFD = fds[0]
        let t = try NormalThread.start {
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buf.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                reader.data.append(contentsOf: buf[0..<n])
            }
        }
        log.stopWriter()
        close(fds[1])
        pthread_join(t, nil)
        let lines = String(decoding: reader.data, as: UTF8.self).split(separator: "\n")
        let records = lines.filter { $0.contains("SHAOLIN_EVENT=TEST") }
        #expect(records.count + Int(dropped) == total, "\(records.count) written + \(dropped) dropped != \(total)")
        // The writer reports drops each time it can write again: one report when the stall began
        // after a first burst of drops, more if drops went on. Together they account for every
        // drop, and the last one carries the total.
        let reports = lines.filter { $0.contains("SHAOLIN_EVENT=LOG_DROPPED") }
        let report = try #require(reports.last)
        #expect(report.contains("SHAOLIN_DROPPED_TOTAL=\(dropped)"), "\(report)")
        #expect(report.contains("MESSAGE_ID=\(LogCatalog.messageID(for: "LOG_DROPPED")!)"))
        let reportedDrops = reports.compactMap { l in
            l.split(separator: " ").first { $0.hasPrefix("SHAOLIN_DROPPED=") }.flatMap { UInt64($0.dropFirst(16)) }
        }
        #expect(reportedDrops.count == reports.count && reportedDrops.reduce(0, +) == dropped, "\(reports)")
        // What was written came out in order.
        let seqs = records.compactMap { l in l.split(separator: " ").first { $0.hasPrefix("SHAOLIN_SEQ=") }.flatMap { Int($0.dropFirst(12)) } }
        #expect(seqs == seqs.sorted())
    }

    @Test func belowThresholdIsNotWrittenAndFieldsAreRendered() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let log = EventLog(node: "n1", choice: LogSinkChoice(sink: .stderr, reason: "test"), level: "warning", textDescriptor: fds[1])
        log.write(.info, "not shown", event: "X")
        log.write(.warning, "shown", event: "LINK_DOWN", [("SHAOLIN_LINK", "eth"), ("SHAOLIN_FENCE_LOG", "a\nb")])
        log.write(.error, "legacy", fields: "SHAOLIN_PEER=b SHAOLIN_LATENCY_US=12")
        close(fds[1])
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        close(fds[0])
        let text = String(decoding: buf[0..<max(0, n)], as: UTF8.self)
        #expect(!text.contains("not shown"))
        #expect(text.contains("WARN: shown SHAOLIN_EVENT=LINK_DOWN"))
        #expect(text.contains("SHAOLIN_LINK=eth SHAOLIN_FENCE_LOG=a | b"))
        #expect(text.contains("ERROR: legacy SHAOLIN_PEER=b SHAOLIN_LATENCY_US=12"))
    }
}

@Suite struct KmsgLineTests {
    @Test func kmsgLinesCarryThePriorityPrefixAndAreCut() {
        let log = EventLog(node: "n1", choice: LogSinkChoice(sink: .stderr, reason: "test"), level: "info")
        let r = EventLog.Record(priority: .error, message: "peer b declared dead", event: "PEER_DEAD",
                                fields: [("SHAOLIN_PEER", "b")], monotonicNanos: 5_000_000, role: "STANDBY")
        #expect(log.textLine(r, kmsg: true) == "<3>shaolind[n1]: peer b declared dead SHAOLIN_EVENT=PEER_DEAD SHAOLIN_MONOTONIC_US=5000 MESSAGE_ID=\(LogCatalog.messageID(for: "PEER_DEAD")!) SHAOLIN_PEER=b\n")
        var long = r
        long.message = String(repeating: "y", count: 3000)
        let line = log.textLine(long, kmsg: true)
        #expect(line.utf8.count == 1001 && line.hasSuffix("\n"))
        // The journal form of the same record: standard fields, then the record's own.
        let j = log.journalFields(r)
        #expect(j.map(\.name) == ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "SHAOLIN_NODE", "SHAOLIN_EVENT", "MESSAGE_ID",
                                   "SHAOLIN_ROLE", "SHAOLIN_MONOTONIC_US", "SHAOLIN_PEER"])
    }
}

@Suite struct ServiceNotifierTests {
    final class Sink { var sent: [String] = [] }

    func notifier(watchdogUsec: UInt64?, sink: Sink) -> ServiceNotifier {
        ServiceNotifier(watchdogMicroseconds: watchdogUsec, keepalive: .ms(100), peerName: "b", linkCount: 2) { sink.sent.append($0); return true }
    }

    func header(_ role: Role, now: Int64 = 1, alive: Bool = false) -> StatusHeader {
        var h = StatusHeader()
        h.role = role
        h.now = now
        h.peerAlive = alive
        h.peerKnown = alive
        h.peerRole = .standby
        h.aliveLinks = alive ? 2 : 0
        return h
    }

    @Test func readyOnlyOnceTheRoleIsSettledThenStatusOnChangesOnly() {
        let s = Sink()
        let n = notifier(watchdogUsec: nil, sink: s)
        n.update(header(.booting))
        n.update(header(.booting))
        n.update(header(.fencing))
        #expect(s.sent == ["STATUS=BOOTING; peer b never heard; links 0/2", "STATUS=FENCING; peer b never heard; links 0/2"])
        n.update(header(.active))
        #expect(s.sent.last == "READY=1\nSTATUS=ACTIVE; peer b never heard; links 0/2")
        n.update(header(.active))
        n.update(header(.active, alive: true))
        n.update(header(.standby, alive: true))
        #expect(s.sent.filter { $0.contains("READY=1") }.count == 1)
        #expect(s.sent.suffix(2) == ["STATUS=ACTIVE; peer b STANDBY; links 2/2", "STATUS=STANDBY; peer b STANDBY; links 2/2"])
        n.stopping("left the cluster")
        n.update(header(.active))
        #expect(s.sent.last == "STOPPING=1\nSTATUS=stopping: left the cluster")
    }

    @Test func watchdogPetsOnlyWhileTheLoopMakesProgress() {
        let s = Sink()
        let n = notifier(watchdogUsec: 2_000_000, sink: s)  // 2 s: pet every 500 ms, stale after 1 s
        #expect(n.petInterval == 500_000_000 && n.staleLimit == 1_000_000_000)
        let t0: Int64 = 10_000_000_000
        #expect(!n.shouldPet(now: t0, loopProgress: 0), "no status from the loop yet")
        n.tick(now: t0, loopProgress: t0 - 50_000_000)
        #expect(s.sent == ["WATCHDOG=1"])
        n.tick(now: t0 + 100_000_000, loopProgress: t0 + 90_000_000)
        #expect(s.sent.count == 1, "not before the pet interval")
        n.tick(now: t0 + 500_000_000, loopProgress: t0 + 450_000_000)
        #expect(s.sent.count == 2)
        // The loop stops publishing: pets stop once its newest status is older than the limit.
        let stuck = t0 + 500_000_000
        n.tick(now: stuck + 999_000_000, loopProgress: stuck)
        #expect(s.sent.count == 3)
        n.tick(now: stuck + 1_600_000_000, loopProgress: stuck)
        n.tick(now: stuck + 3_000_000_000, loopProgress: stuck)
        #expect(s.sent.count == 3)
        n.stopping("x")
        n.tick(now: stuck + 9_000_000_000, loopProgress: stuck + 9_000_000_000)
        #expect(s.sent.last?.hasPrefix("STOPPING=1") == true)
    }

    @Test func noServiceWatchdogNoPets() {
        let s = Sink()
        let n = notifier(watchdogUsec: nil, sink: s)
        n.tick(now: 5_000_000_000, loopProgress: 5_000_000_000)
        #expect(s.sent.isEmpty)
    }
}
