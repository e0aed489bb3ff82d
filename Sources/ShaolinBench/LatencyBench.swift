// `shaolinctl bench latency`: opens the configured links with the engine's own link classes,
// checks no engine is running on them, runs the probe loop on a real-time thread (with
// cyclictest and optional stress-ng beside it) and collects the report.

import Atomics
import Glibc
import Histogram
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import SystemPackage

public struct LatencyOptions: Sendable {
    public var configPath: String
    /// Link names to measure (empty: all configured links).
    public var linkNames: [String] = []
    public var durationSeconds: Double = 60
    /// nil: the shortest configured keepalive.
    public var intervalMs: Double?
    /// nil: the configuration's realtime.priority (0 when realtime is disabled).
    public var priority: Int?
    public var budgetPerYear: Double = 1
    public var load: [String] = []
    public var cyclictest = true
    /// Time to wait for late replies after the last probe.
    public var drainMs: Double = 1000
    /// Listen this long before starting for heartbeats of a running engine.
    public var precheckMs: Double = 500

    public init(configPath: String) { self.configPath = configPath }
}

public struct BenchFailure: Error, CustomStringConvertible {
    public var message: String
    public init(_ m: String) { message = m }
    public var description: String { message }
}

/// Summary percentiles of a histogram, in µs.
public struct Percentiles: Sendable {
    public var count: UInt64
    public var min: Double
    public var mean: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var p9999: Double
    public var max: Double

    public init(_ h: Histogram<UInt64>) {
        count = h.totalCount
        if count == 0 {
            min = 0; mean = 0; p50 = 0; p90 = 0; p99 = 0; p999 = 0; p9999 = 0; max = 0
            return
        }
        min = Double(h.min)
        mean = h.mean
        p50 = Double(h.valueAtPercentile(50))
        p90 = Double(h.valueAtPercentile(90))
        p99 = Double(h.valueAtPercentile(99))
        p999 = Double(h.valueAtPercentile(99.9))
        p9999 = Double(h.valueAtPercentile(99.99))
        max = Double(h.max)
    }
}

public struct LinkReport: Sendable {
    public var name: String
    public var kind: String
    public var endpoint: String
    public var sent: UInt64
    public var received: UInt64
    public var lost: UInt64
    public var loss: Double
    public var forwardLoss: Double?
    public var reverseLoss: Double?
    public var duplicates: UInt64
    public var reordered: UInt64
    public var longestLossBurst: Int
    public var sendDrops: UInt64
    public var rejected: UInt64
    public var heartbeatsSeen: UInt64
    public var rtt: Percentiles
    public var oneWay: Percentiles
    public var turnaround: Percentiles
    public var scheduleDelay: Percentiles
    public var rttHistogram: Histogram<UInt64>
    public var oneWayHistogram: Histogram<UInt64>
    public var advice: Advice
}

public struct BenchReport: Sendable {
    public var configPath: String
    public var node: String
    public var peer: String
    public var startedUnixSeconds: Int64
    public var durationSeconds: Double
    public var intervalMs: Double
    public var budgetPerYear: Double
    public var realtime: RealtimeSetup
    public var ticks: UInt64
    public var overruns: UInt64
    public var loopLateness: Percentiles
    public var loopLatenessHistogram: Histogram<UInt64>
    public var peerLateness: Percentiles
    public var peerLatenessHistogram: Histogram<UInt64>
    public var cyclictest: CyclictestResult?
    public var load: [String]
    public var loadResult: LoadResult?
    public var links: [LinkReport]
    public var warnings: [String]
}

public enum LatencyBench {
    /// Loads the configuration and key and opens the selected links with the engine's classes.
    public static func openLinks(configPath: String, names: [String]) throws(BenchFailure)
        -> (Configuration, ClusterKey, [(Int, Configuration.Link, any HeartbeatLink)]) {
        let (config, errors, warnings) = Engine.loadConfiguration(configPath)
        for w in warnings { printErr(w) }
        guard let c = config else { throw BenchFailure(errors.joined(separator: "\n")) }
        let key: ClusterKey
        do { key = try Engine.loadKey(c.cluster.keyFile) } catch { throw BenchFailure(error.description) }
        for n in names where !c.links.contains(where: { $0.name == n }) {
            throw BenchFailure("--link \(n): no such link in \(configPath) (links: \(c.links.map(\.name).joined(separator: ", ")))")
        }
        var selected = c
        selected.links = c.links.filter { names.isEmpty || names.contains($0.name) }
        // A serial line has one reader: never open one a running engine holds (it would lose
        // its heartbeats to the benchmark). Other holders (socat behind a pty, a getty) are
        // reported: they may take bytes too.
        for l in selected.links {
            guard case .serial(let s) = l.kind else { continue }
            let users = processesUsing(device: s.device)
            let engines = users.filter { $0.name.hasPrefix("shaolin") }
            if !engines.isEmpty {
                throw BenchFailure("link \(l.name): \(s.device) is open by " + engines.map { "pid \($0.pid) (\($0.name))" }.joined(separator: ", ")
                    + "; stop the engine on both nodes before benchmarking its links")
            }
            let others = users.filter { !$0.name.hasPrefix("shaolin") && $0.name != "socat" }
            if !others.isEmpty {
                printErr("warning: link \(l.name): \(s.device) is also open by " + others.map { "pid \($0.pid) (\($0.name))" }.joined(separator: ", ")
                         + "; it may read the probes")
            }
        }
        let opened: [any HeartbeatLink]
        do { opened = try Engine.openLinks(selected) } catch { throw BenchFailure(error.description) }
        var out: [(Int, Configuration.Link, any HeartbeatLink)] = []
        for (l, link) in zip(selected.links, opened) {
            out.append((c.links.firstIndex(of: l) ?? 0, l, link))
        }
        return (c, key, out)
    }

    /// The processes that have `device` open, found by comparing the device and inode of
    /// every /proc/PID/fd entry with the device's (paths differ across mount namespaces;
    /// the file's identity does not). The caller itself is left out.
    public static func processesUsing(device: String) -> [(pid: Int32, name: String)] {
        var target = stat()
        guard stat(device, &target) == 0 else { return [] }
        var out: [(pid: Int32, name: String)] = []
        guard let proc = opendir("/proc") else { return [] }
        defer { closedir(proc) }
        let me = getpid()
        while let e = readdir(proc) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard let pid = Int32(name), pid != me, let fds = opendir("/proc/\(pid)/fd") else { continue }
            var uses = false
            while !uses, let f = readdir(fds) {
                let fd = withUnsafeBytes(of: f.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if fd == "." || fd == ".." { continue }
                var st = stat()
                if stat("/proc/\(pid)/fd/\(fd)", &st) == 0 && st.st_dev == target.st_dev && st.st_ino == target.st_ino
                    && st.st_rdev == target.st_rdev {
                    uses = true
                }
            }
            closedir(fds)
            if uses {
                let comm = (readWholeFile("/proc/\(pid)/comm") ?? "?").split(separator: "\n").first.map(String.init) ?? "?"
                out.append((pid, comm))
            }
        }
        return out
    }

    /// Listens for `ms` on the Ethernet links (every AF_PACKET socket gets its own copy of a
    /// frame, so listening takes nothing from a running engine) and throws if any carries
    /// heartbeats of a running engine. Serial links are checked by `processesUsing(device:)`.
    public static func refuseRunningEngine(_ links: [any HeartbeatLink], codec: ProbeCodec, ms: Double) throws(BenchFailure) {
        let links = links.filter { $0 is EthernetLink }
        guard ms > 0, !links.isEmpty else { return }
        let end = SystemClock.monotonicNanos() + Int64(ms * 1_000_000)
        var seen = [Bool](repeating: false, count: links.count)
        while SystemClock.monotonicNanos() < end {
            for (i, l) in links.enumerated() {
                l.drain(ready: true) { bytes in
                    if case .failure(let e) = codec.decode(bytes), e.reason == .heartbeat { seen[i] = true }
                }
            }
            usleep(10_000)
        }
        let busy = links.indices.filter { seen[$0] }.map { links[$0].name }
        if !busy.isEmpty {
            throw BenchFailure("link(s) \(busy.joined(separator: ", ")) carry heartbeats of a running shaolind: stop the engine on both nodes "
                + "before benchmarking (on a serial line the benchmark would steal its frames and cause a false failover)")
        }
    }

    public static func run(_ o: LatencyOptions, progress: ProbeProgress) throws(BenchFailure) -> BenchReport {
        let (c, key, selected) = try openLinks(configPath: o.configPath, names: o.linkNames)
        guard !selected.isEmpty else { throw BenchFailure("no link to measure") }
        let links = selected.map(\.2)
        let codec = ProbeCodec(key: key)
        try refuseRunningEngine(links, codec: codec, ms: o.precheckMs)

        let intervalMs = o.intervalMs ?? Double(selected.map(\.1.keepaliveMs).min() ?? 100)
        guard intervalMs >= 0.1 && intervalMs <= 60_000 else { throw BenchFailure("--interval-ms must be between 0.1 and 60000, got \(intervalMs)") }
        guard o.durationSeconds >= 1 && o.durationSeconds <= 86_400 else { throw BenchFailure("--duration must be between 1 and 86400 s, got \(o.durationSeconds)") }
        let priority = o.priority ?? (c.realtime.enabled ? c.realtime.priority : 0)
        guard priority >= 0 && priority <= 99 else { throw BenchFailure("--priority must be 0 (SCHED_OTHER) or 1...99, got \(priority)") }
        for l in o.load where !StressLoad.classes.contains(l) {
            throw BenchFailure("--load: unknown class '\(l)' (use cpu, vm, io)")
        }
        let interval = Int64(intervalMs * 1_000_000)
        let duration = Int64(o.durationSeconds * 1_000_000_000)
        let capacity = Int(duration / interval) + 16
        var warnings: [String] = []
        let recorders = selected.map { (_, l, _) -> LinkRecorder in
            switch l.kind {
            case .ethernet(let e): return LinkRecorder(name: l.name, kind: "ethernet", endpoint: e.interface, capacity: capacity)
            case .serial(let s): return LinkRecorder(name: l.name, kind: "serial", endpoint: "\(s.device) @ \(s.baud)", capacity: capacity)
            }
        }
        for (_, l, link) in selected where !link.carrierUp {
            warnings.append("link \(l.name) is down at start")
        }
        var session: UInt64 = 0
        let rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if rfd >= 0 { _ = withUnsafeMutableBytes(of: &session) { read(rfd, $0.baseAddress, 8) }; close(rfd) }
        if session == 0 { session = UInt64(bitPattern: SystemClock.realtimeNanos()) | 1 }

        let loop = ProbeLoop(links: links, recorders: recorders, codec: codec, session: session, interval: interval,
                             duration: duration, drain: Int64(o.drainMs * 1_000_000), progress: progress)
        let seconds = Int(o.durationSeconds.rounded(.up))
        let started = Int64(time(nil))

        // Helpers first (they start within milliseconds), then the real-time loop.
        let results = HelperResults()
        var helpers: [BenchThread] = []
        if !o.load.isEmpty {
            let classes = o.load
            helpers.append(BenchThread { results.load = StressLoad.run(classes: classes, seconds: seconds + 1, workdir: "/tmp") })
        }
        if o.cyclictest && priority > 0 {
            let ivUs = Int(intervalMs * 1000)
            helpers.append(BenchThread { results.cyclictest = Cyclictest.run(priority: priority, intervalMicros: ivUs, seconds: seconds) })
        } else if o.cyclictest {
            warnings.append("cyclictest reference skipped: --priority 0 (SCHED_OTHER) has no real-time reference")
        }
        var setup = RealtimeSetup(priority: priority, memoryLocked: false, fifo: false, cpu: c.realtime.cpu, problems: [])
        var loopError: Errno?
        let rt = BenchThread {
            setup = RealtimeSetup.enter(priority: priority, lockMemory: c.realtime.mlock, cpu: c.realtime.cpu)
            do throws(Errno) { try loop.run() } catch { loopError = error }
            progress.finished.store(true, ordering: .releasing)
        }
        rt.join()
        for h in helpers { h.join() }
        if let e = loopError { throw BenchFailure("probe loop failed: \(e)") }
        if setup.degraded { warnings.append("real-time set-up incomplete (figures are not representative): " + setup.problems.joined(separator: "; ")) }

        var reports: [LinkReport] = []
        for (r, (_, l, link)) in zip(recorders, selected) {
            if r.heartbeatsSeen > 0 { warnings.append("link \(r.name): \(r.heartbeatsSeen) heartbeat frame(s) of a running shaolind were seen during the run") }
            if r.rejectedTag > 0 { warnings.append("link \(r.name): \(r.rejectedTag) frame(s) failed authentication (does the responder use the same cluster key?)") }
            var serialMs: Double?
            if case .serial(let s) = l.kind { serialMs = SerialLink.frameTimeMilliseconds(baud: s.baud) }
            let advice = AdviceModel.advise(AdviceInput(
                link: r.name, keepaliveMs: intervalMs, probesSent: r.sent, probesLost: r.lost, forwardLoss: r.forwardLoss,
                reverseLoss: r.reverseLoss, longestLossBurst: r.longestLossBurst, delay: TailSummary(r.scheduleDelay),
                budgetPerYear: o.budgetPerYear, configuredDeadtimeMs: Double(l.deadtimeMs), serialFrameMs: serialMs))
            reports.append(LinkReport(
                name: r.name, kind: r.kind, endpoint: r.endpoint, sent: r.sent, received: r.received, lost: r.lost, loss: r.loss,
                forwardLoss: r.forwardLoss, reverseLoss: r.reverseLoss, duplicates: r.duplicates, reordered: r.reordered,
                longestLossBurst: r.longestLossBurst, sendDrops: link.sendDrops, rejected: r.rejectedTag + r.rejectedOther,
                heartbeatsSeen: r.heartbeatsSeen, rtt: Percentiles(r.rtt), oneWay: Percentiles(r.oneWay),
                turnaround: Percentiles(r.turnaround), scheduleDelay: Percentiles(r.scheduleDelay),
                rttHistogram: r.rtt, oneWayHistogram: r.oneWay, advice: advice))
        }
        if let ct = results.cyclictest, let e = ct.error { warnings.append("cyclictest: \(e)") }
        if let lr = results.load, let e = lr.error { warnings.append("load: \(e)") }
        return BenchReport(
            configPath: o.configPath, node: c.node.name, peer: c.peer.name, startedUnixSeconds: started,
            durationSeconds: o.durationSeconds, intervalMs: intervalMs, budgetPerYear: o.budgetPerYear, realtime: setup,
            ticks: loop.ticks, overruns: loop.overruns, loopLateness: Percentiles(loop.loopLateness),
            loopLatenessHistogram: loop.loopLateness, peerLateness: Percentiles(loop.peerLateness),
            peerLatenessHistogram: loop.peerLateness, cyclictest: results.cyclictest, load: o.load,
            loadResult: results.load, links: reports, warnings: warnings)
    }
}

/// Results the helper threads hand back (each written by one thread, read after join).
final class HelperResults: @unchecked Sendable {
    var cyclictest: CyclictestResult?
    var load: LoadResult?
}
