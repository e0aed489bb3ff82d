// Fencing levels: the configured methods are tried in order and the first
// one that confirms the peer off wins; the rest are not run. Each attempt is
// recorded (method, target, action, result, duration, log) for the journal
// and the status display.
//
// Synchronous: runs on the fencing worker thread. Its worst case is the sum
// of the methods' worst cases. Manual fencing is not a method here: when the
// sequence ends unconfirmed, the state machine waits for the operator.
import ShaolinLinux

/// One level: a driver and the action to ask of it.
public struct FenceMethod: Sendable {
    public var driver: any FenceDriver
    public var action: FenceAction

    public init(driver: any FenceDriver, action: FenceAction = .off) {
        self.driver = driver
        self.action = action
    }
}

/// What one method did.
public struct FenceAttempt: Sendable {
    /// 1-based position of the method in the sequence.
    public var level: Int
    public var method: String
    public var target: String
    public var action: FenceAction
    public var result: FenceResult
    public var durationNanoseconds: UInt64
    public var log: [String]

    /// "level 1 ipmi 127.0.0.1:623 off: confirmed off (0.812s)"
    public var summary: String {
        "level \(level) \(method) \(target) \(action): \(result) (\(FenceSupport.seconds(durationNanoseconds))s)"
    }
}

public struct FenceSequenceReport: Sendable {
    public var attempts: [FenceAttempt]
    public var durationNanoseconds: UInt64

    /// The attempt that confirmed the peer off, if any.
    public var confirmedBy: FenceAttempt? { attempts.first { $0.result.isConfirmedOff } }
    public var isConfirmedOff: Bool { confirmedBy != nil }
}

public struct FenceSequence: Sendable {
    public var methods: [FenceMethod]

    public init(methods: [FenceMethod]) { self.methods = methods }

    /// Upper bound of `run()`: the methods' worst cases added up.
    public var worstCaseMilliseconds: Int {
        methods.reduce(0) { $0 + $1.driver.worstCaseMilliseconds }
    }

    /// Runs the methods in order until one confirms the peer off.
    /// `shouldContinue` is asked before each method (e.g. the peer came back
    /// and the fence is no longer wanted); returning false stops early.
    public func run(shouldContinue: () -> Bool = { true }) -> FenceSequenceReport {
        let start = ProcessSpawn.monotonicNanoseconds()
        var attempts: [FenceAttempt] = []
        for (index, method) in methods.enumerated() {
            guard shouldContinue() else { break }
            let outcome = method.driver.fence(action: method.action)
            attempts.append(FenceAttempt(
                level: index + 1, method: method.driver.name, target: method.driver.target,
                action: method.action, result: outcome.result,
                durationNanoseconds: outcome.durationNanoseconds, log: outcome.log))
            if outcome.isConfirmedOff { break }
        }
        return FenceSequenceReport(
            attempts: attempts,
            durationNanoseconds: ProcessSpawn.monotonicNanoseconds() &- start)
    }
}
