// Runs many seeds and reports throughput; used by the tests and by `shaolinctl simulate`.

public struct SimulationSummary: Sendable {
    public var seeds: Int = 0
    public var events: Int = 0
    public var takeovers: Int = 0
    public var failoverChecks: Int = 0
    public var fences: Int = 0
    public var stalls: UInt64 = 0
    public var violations: [Violation] = []
}

public enum SimulationRunner {
    /// Runs seeds `first ..< first + count`, stopping after `maxViolations` violations.
    public static func run(first: UInt64, count: Int, options: SimulationOptions = SimulationOptions(),
                           maxViolations: Int = 1) -> SimulationSummary {
        var s = SimulationSummary()
        for i in 0..<count {
            let r = SimulatedCluster.run(seed: first &+ UInt64(i), options: options)
            s.seeds += 1
            s.events += r.events
            s.takeovers += r.takeovers
            s.failoverChecks += r.failoverChecks
            s.fences += r.fences
            s.stalls &+= r.stalls
            if let v = r.violation {
                s.violations.append(v)
                if s.violations.count >= maxViolations { break }
            }
        }
        return s
    }

    /// Re-runs one seed with the trace on (the replay of a failure).
    public static func replay(seed: UInt64, options: SimulationOptions = SimulationOptions()) -> SimulationResult {
        var o = options
        o.trace = true
        return SimulatedCluster.run(seed: seed, options: o)
    }
}
