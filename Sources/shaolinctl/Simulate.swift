import ArgumentParser
import ShaolinSimulation
#if canImport(Glibc)
import Glibc
#endif

/// `shaolinctl simulate`: the deterministic fault simulator over many seeds.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the deterministic two-node fault simulator over many seeds.",
        discussion: """
            Each seed draws a fault plan (links, loss, delay, corruption, crashes, hangs, partitions, \
            fencing failures, operator actions) and runs the real state machines against it, checking \
            the safety invariants after every event. A failing seed is printed with its trace; \
            replay it with --replay SEED.
            """)

    @Option(help: "Number of seeds to run.") var seeds: Int = 10_000
    @Option(help: "First seed.") var first: UInt64 = 1
    @Option(help: "Replay one seed and print its full trace.") var replay: UInt64?
    @Flag(help: "Sabotage: take over without fence confirmation (the checker must catch it).")
    var skipFenceConfirmation = false

    func run() throws {
        let options = SimulationOptions(skipFenceConfirmation: skipFenceConfirmation)
        if let seed = replay {
            let r = SimulationRunner.replay(seed: seed, options: options)
            for line in r.trace { print(line) }
            if let v = r.violation { print("FAILED: \(v)"); throw ExitCode(1) }
            print("seed \(seed): no violation (\(r.events) events, \(r.takeovers) takeovers)")
            return
        }
        var t0 = timespec(), t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        let s = SimulationRunner.run(first: first, count: seeds, options: options)
        clock_gettime(CLOCK_MONOTONIC, &t1)
        let secs = Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) / 1e9
        print("seeds \(s.seeds)  events \(s.events)  takeovers \(s.takeovers)  fences \(s.fences)  failover-time checks \(s.failoverChecks)  own stalls \(s.stalls)")
        print("elapsed \(String(format2(secs))) s  throughput \(format2(Double(s.seeds) / secs)) seeds/s  \(format2(Double(s.events) / secs / 1e6)) M events/s")
        if let v = s.violations.first {
            print("FAILED: \(v)")
            print("replay: shaolinctl simulate --replay \(v.seed)\(skipFenceConfirmation ? " --skip-fence-confirmation" : "")")
            let r = SimulationRunner.replay(seed: v.seed, options: options)
            for line in r.trace.suffix(60) { print("  " + line) }
            throw ExitCode(1)
        }
        print("0 violations")
    }
}

func format2(_ x: Double) -> String {
    let v = (x * 100).rounded() / 100
    return "\(v)"
}
