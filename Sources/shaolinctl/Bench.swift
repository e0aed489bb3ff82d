// `shaolinctl bench latency` / `shaolinctl bench responder`: the heartbeat latency benchmark
// operators run on their own hardware (docs/benchmarks.md explains how to run and read it).
import ArgumentParser
import ShaolinBench
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
#if canImport(Glibc)
import Glibc
#endif

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure heartbeat latency on the configured links and advise keepalive/warntime/deadtime.",
        discussion: """
            Run `shaolinctl bench responder --config FILE` on the peer, then \
            `shaolinctl bench latency --config FILE` on this node. Both need the engine stopped on the \
            links they use (the benchmark refuses links that carry heartbeats of a running shaolind). \
            See docs/benchmarks.md.
            """,
        subcommands: [Latency.self, Responder.self])
}

extension Bench {
    struct Latency: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Probe every configured link for a while and report latency, loss, loop lateness and timing advice.")

        @Option(name: .shortAndLong, help: "The node's shaolin configuration (links, cluster key, real-time settings).")
        var config: String = "/etc/shaolin/shaolin.toml"
        @Option(name: .customLong("link"), help: "Measure only this link (repeatable; default: all links).")
        var links: [String] = []
        @Option(help: "Seconds to probe.") var duration: Double = 60
        @Option(name: .customLong("interval-ms"), help: "Probe interval in ms (default: the shortest configured keepalive).")
        var intervalMs: Double?
        @Option(help: "SCHED_FIFO priority (default: the configuration's realtime.priority; 0 = SCHED_OTHER).")
        var priority: Int?
        @Option(help: "False link deaths per year the advice may allow.") var budget: Double = 1
        @Option(help: "Load during the run with stress-ng: a comma-separated subset of cpu,vm,io.")
        var load: String?
        @Flag(name: .customLong("no-cyclictest"), help: "Skip the cyclictest reference.") var noCyclictest = false
        @Flag(help: "Print the report as JSON (schema: docs/bench-schema.json) instead of the table.") var json = false
        @Option(help: "Draw the latency distributions into this PNG file (needs gnuplot).") var plot: String?
        @Option(name: .customLong("drain-ms"), help: "How long to wait for late replies after the last probe.")
        var drainMs: Double = 1000
        @Flag(name: .customLong("no-progress"), help: "No progress bar.") var noProgress = false

        func run() throws {
            var o = LatencyOptions(configPath: config)
            o.linkNames = links
            o.durationSeconds = duration
            o.intervalMs = intervalMs
            o.priority = priority
            o.budgetPerYear = budget
            o.load = load.map { $0.split(separator: ",").map { String($0).trimmingSpaces } } ?? []
            o.cyclictest = !noCyclictest
            o.drainMs = drainMs
            guard budget > 0 else { throw ValidationError("--budget must be positive") }
            if let p = plot, !p.hasSuffix(".png") { throw ValidationError("--plot needs a .png file name, got \(p)") }

            let progress = ProbeProgress()
            let result = ResultBox()
            let worker = BenchThread {
                result.value = Result { () throws(BenchFailure) in try LatencyBench.run(o, progress: progress) }
                progress.finished.store(true, ordering: .releasing)  // also when the run failed before its loop started
            }
            let showBar = !noProgress && isatty(2) == 1
            if !o.load.isEmpty && !json {
                let args = StressLoad.arguments(classes: o.load, seconds: Int(duration.rounded(.up)) + 1)
                printErr("load: stress-ng \(args.joined(separator: " "))")
            }
            let startNanos = SystemClock.monotonicNanos()
            while !progress.finished.load(ordering: .acquiring) {
                usleep(200_000)
                if showBar { drawBar(progress, elapsed: Double(SystemClock.monotonicNanos() - startNanos) / 1e9) }
            }
            worker.join()
            if showBar { drawBar(progress, elapsed: duration); printErrRaw("\n") }
            let report: BenchReport
            switch result.value {
            case .success(let r): report = r
            case .failure(let e): printErr("bench latency: \(e)"); throw ExitCode(1)
            case nil: throw ExitCode(1)
            }
            if let p = plot {
                if let e = PercentilePlot.draw(report, to: p) { printErr("plot: \(e)") } else if !json { print("plot written to \(p)") }
            }
            print(json ? report.json() : report.table(), terminator: "")
            fflush(nil)
            if let note = BenchJournal.log(report) { printErr("journal: \(note)") }

            if report.links.contains(where: { $0.received == 0 }) { throw ExitCode(2) }
        }

        func drawBar(_ p: ProbeProgress, elapsed: Double) {
            let frac = max(0, min(1, elapsed / duration))
            let width = 30
            let filled = Int(frac * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let sent = p.sent.load(ordering: .relaxed), got = p.received.load(ordering: .relaxed)
            let loss = sent > 0 ? Double(sent - got) / Double(sent) * 100 : 0
            printErrRaw("\r[\(bar)] \(Int(frac * 100))%  \(Int(elapsed))/\(Int(duration)) s  probes \(sent)  replies \(got)  missing \(formatFixed(loss, digits: 1)) %   ")
        }
    }

    struct Responder: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answer benchmark probes on every configured link (run it on the peer).")

        @Option(name: .shortAndLong, help: "The peer's shaolin configuration (links, cluster key, real-time settings).")
        var config: String = "/etc/shaolin/shaolin.toml"
        @Option(name: .customLong("link"), help: "Answer only on this link (repeatable; default: all links).")
        var links: [String] = []
        @Option(help: "Stop after this many seconds (default: until SIGINT/SIGTERM).") var duration: Double = 0
        @Option(name: .customLong("idle-exit"), help: "Stop this many seconds after the last probe (0: never).")
        var idleExit: Double = 0
        @Option(help: "SCHED_FIFO priority (default: the configuration's realtime.priority; 0 = SCHED_OTHER).")
        var priority: Int?
        @Flag(name: .customLong("ignore-running-engine"), help: "Do not check the links for a running shaolind first.")
        var ignoreRunningEngine = false

        func run() throws {
            // Signals through a signalfd: block them before anything else.
            let signals: SignalFD
            do { signals = try SignalFD.open() } catch { printErr("signalfd: \(error)"); throw ExitCode(1) }
            let (c, key, selected): (Configuration, ClusterKey, [(Int, Configuration.Link, any HeartbeatLink)])
            do { (c, key, selected) = try LatencyBench.openLinks(configPath: config, names: links) } catch {
                printErr("bench responder: \(error)"); throw ExitCode(1)
            }
            let linkObjects = selected.map(\.2)
            let codec = ProbeCodec(key: key)
            if !ignoreRunningEngine {
                do { try LatencyBench.refuseRunningEngine(linkObjects, codec: codec, ms: 500) } catch {
                    printErr("bench responder: \(error)"); throw ExitCode(1)
                }
            }
            let prio = priority ?? (c.realtime.enabled ? c.realtime.priority : 0)
            let setup = RealtimeSetup.enter(priority: prio, lockMemory: c.realtime.mlock, cpu: c.realtime.cpu)
            for p in setup.problems { printErr("real-time set-up: \(p)") }
            let interval = Int64(selected.map(\.1.keepaliveMs).min() ?? 100) * 1_000_000
            let r = ShaolinBench.Responder(links: linkObjects, codec: codec, initialInterval: interval)
            print("responder: node \(c.node.name), links \(selected.map { $0.1.name }.joined(separator: ", ")), "
                  + (setup.fifo ? "SCHED_FIFO \(prio)" : "SCHED_OTHER") + (setup.memoryLocked ? ", memory locked" : ""))
            fflush(nil)
            do {
                try r.run(signals: signals, duration: Int64(duration * 1e9), idleExit: Int64(idleExit * 1e9))
            } catch {
                printErr("bench responder: \(error)"); throw ExitCode(1)
            }
            for (i, l) in linkObjects.enumerated() {
                let k = r.counters[i]
                print("link \(l.name): answered \(k.answered) probes in \(k.sessions) session(s), rejected \(k.rejectedTag) bad tag + \(k.rejectedOther) other, heartbeats seen \(k.heartbeatsSeen)")
            }
            let p = Percentiles(r.loopLateness)
            print("loop wake-up lateness (ms): p50 \(formatFixed(p.p50 / 1000, digits: 3))  p99 \(formatFixed(p.p99 / 1000, digits: 3))  p99.9 \(formatFixed(p.p999 / 1000, digits: 3))  max \(formatFixed(p.max / 1000, digits: 3))  (\(p.count) ticks)")
        }
    }
}

final class ResultBox: @unchecked Sendable {
    var value: Result<BenchReport, BenchFailure>?
}

func printErrRaw(_ s: String) {
    var bytes = Array(s.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

