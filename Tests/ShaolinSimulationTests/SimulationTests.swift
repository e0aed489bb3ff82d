// The deterministic simulator as a test: many seeds without a violation, proof that the checker
// catches a sabotaged core, and determinism of plans and replays.

import Testing

import ShaolinCore
import ShaolinSimulation

@Suite("Simulation", .serialized)
struct SimulationTests {
    @Test("10,000 seeds: no invariant violation")
    func tenThousandSeeds() {
        let clock = ContinuousClock()
        let start = clock.now
        let s = SimulationRunner.run(first: 1, count: 10_000, maxViolations: 5)
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print("simulation: \(s.seeds) seeds, \(s.events) events, \(s.takeovers) takeovers, \(s.fences) fences, "
            + "\(s.failoverChecks) failover checks, \(s.stalls) stalls in \(seconds) s "
            + "(\(Int(Double(s.seeds) / max(seconds, 1e-9))) seeds/s)")
        #expect(s.violations.isEmpty, "\(s.violations.map(\.description))")
        #expect(s.seeds == 10_000)
        // The runs really exercise failover (otherwise "no violation" says little).
        #expect(s.takeovers > 1_000)
        #expect(s.fences > 1_000)
        #expect(s.failoverChecks > 100)
        #expect(s.stalls > 0)
    }

    @Test("sabotage (take over without fence confirmation) is caught within 2,000 seeds")
    func sabotageCaught() throws {
        let s = SimulationRunner.run(first: 1, count: 2_000, options: SimulationOptions(skipFenceConfirmation: true))
        let v = try #require(s.violations.first)
        print("sabotage caught at seed \(v.seed) after \(s.seeds) seeds: \(v.message)")
        #expect(s.seeds <= 2_000)
    }

    @Test("sabotage is caught by the two-ACTIVE invariant alone (takeover records unchecked)")
    func sabotageCaughtByTwoActive() throws {
        let options = SimulationOptions(skipFenceConfirmation: true, checkTakeoverRecords: false)
        let s = SimulationRunner.run(first: 1, count: 2_000, options: options)
        let v = try #require(s.violations.first)
        print("two-ACTIVE invariant caught the sabotage at seed \(v.seed) after \(s.seeds) seeds: \(v.message)")
        #expect(v.message.contains("two nodes ACTIVE"))
    }

    @Test("replay of a failing sabotage seed: non-empty trace ending in VIOLATION, identical twice")
    func replayDeterministic() throws {
        let options = SimulationOptions(skipFenceConfirmation: true)
        let s = SimulationRunner.run(first: 1, count: 2_000, options: options)
        let first = try #require(s.violations.first)
        let r1 = SimulationRunner.replay(seed: first.seed, options: options)
        let r2 = SimulationRunner.replay(seed: first.seed, options: options)
        #expect(!r1.trace.isEmpty)
        #expect(r1.trace.last?.contains("VIOLATION") == true, "\(r1.trace.suffix(3))")
        #expect(r1.trace == r2.trace)
        #expect(r1.violation?.description == r2.violation?.description)
        #expect(r1.violation?.description == first.description, "the replay finds the run's violation")
        #expect(r1.events == r2.events)
        // The unsabotaged core survives the same plan.
        #expect(SimulationRunner.replay(seed: first.seed).violation == nil)
    }

    @Test("a seed always draws the same plan, and different seeds draw different plans")
    func planDeterminism() {
        for seed: UInt64 in [1, 2, 42, 9_999, .max] {
            let a = FaultPlan.generate(seed: seed)
            let b = FaultPlan.generate(seed: seed)
            #expect(a.description == b.description)
            #expect(a.parameters == b.parameters)
            #expect(a.bootAt == b.bootAt && a.duration == b.duration && a.clockPPM == b.clockPPM)
            #expect(a.nemesis.map { "\($0.at) \($0.action)" } == b.nemesis.map { "\($0.at) \($0.action)" })
        }
        let plans = Set((1...50 as ClosedRange<UInt64>).map { FaultPlan.generate(seed: $0).description })
        #expect(plans.count == 50)
    }

    @Test("tracing does not change the run")
    func traceDoesNotChangeTheRun() {
        for seed: UInt64 in [3, 17, 123] {
            let plain = SimulatedCluster.run(seed: seed)
            let traced = SimulationRunner.replay(seed: seed)
            #expect(plain.events == traced.events && plain.takeovers == traced.takeovers && plain.fences == traced.fences)
            #expect(plain.trace.isEmpty && !traced.trace.isEmpty)
        }
    }
}
