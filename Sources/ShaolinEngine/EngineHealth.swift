// What "healthy" means for the hardware watchdog (docs/watchdog.md), in one place.
//
// The real-time loop pets the watchdog only while the engine is healthy:
//   1. the loop met its deadline: the wake-up being served is at most `slack` past the
//      deadline the timerfd was armed for;
//   2. the slow side is alive: its heartbeat counter advanced within `slowSideTimeout`;
//   3. when ACTIVE, no critical service monitor is failed beyond recovery.
// Inputs 2 and 3 come from other threads through the atomics of `EngineHealth`; the loop
// judges them with `HealthJudge`, which it owns (no allocation, no locks, no blocking).

import Atomics
import ShaolinCore

/// Health inputs written by threads other than the real-time loop.
public final class EngineHealth: Sendable {
    /// Advanced by the slow side on every turn of its loop.
    public let slowSideHeartbeat = ManagedAtomic<UInt64>(0)
    /// Set by the service-monitor module (application availability) while a critical
    /// service has failed beyond recovery; the watchdog is not petted then while ACTIVE.
    public let criticalServiceFailed = ManagedAtomic<Bool>(false)

    public init() {}

    /// One turn of the slow side's loop.
    @inlinable public func slowSideBeat() { slowSideHeartbeat.wrappingIncrement(ordering: .relaxed) }

    public func setCriticalServiceFailed(_ failed: Bool) { criticalServiceFailed.store(failed, ordering: .releasing) }
}

/// Why the engine is not healthy (empty = healthy).
public struct UnhealthyReasons: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The loop woke up more than `slack` after its deadline.
    public static let loopLate = UnhealthyReasons(rawValue: 1 << 0)
    /// The slow side's heartbeat did not advance within `slowSideTimeout`.
    public static let slowSideSilent = UnhealthyReasons(rawValue: 1 << 1)
    /// ACTIVE with a critical service failed beyond recovery.
    public static let criticalServiceFailed = UnhealthyReasons(rawValue: 1 << 2)

    /// Stable names, for logs and the status file.
    public var names: [String] {
        var out: [String] = []
        if contains(.loopLate) { out.append("loop_late") }
        if contains(.slowSideSilent) { out.append("slow_side_silent") }
        if contains(.criticalServiceFailed) { out.append("critical_service_failed") }
        return out
    }

    public var description: String { isEmpty ? "healthy" : names.joined(separator: ", ") }
}

/// The real-time loop's judgement of `EngineHealth` plus its own timeliness.
public struct HealthJudge: Sendable {
    public let slack: Int64
    public let slowSideTimeout: Int64
    var lastBeat: UInt64
    var lastBeatAt: Int64

    /// - Parameters: nanoseconds; `now` is when the loop starts being judged.
    public init(slack: Int64, slowSideTimeout: Int64, health: EngineHealth, now: Int64) {
        self.slack = slack
        self.slowSideTimeout = slowSideTimeout
        lastBeat = health.slowSideHeartbeat.load(ordering: .relaxed)
        lastBeatAt = now
    }

    /// Judges one wake-up. `overdue` is how far past its armed deadline the loop was when
    /// this wake-up started (0 when the deadline is still ahead).
    public mutating func judge(now: Int64, overdue: Int64, role: Role, health: EngineHealth) -> UnhealthyReasons {
        var reasons: UnhealthyReasons = []
        if overdue > slack { reasons.insert(.loopLate) }
        let beat = health.slowSideHeartbeat.load(ordering: .relaxed)
        if beat != lastBeat {
            lastBeat = beat
            lastBeatAt = now
        } else if now - lastBeatAt > slowSideTimeout {
            reasons.insert(.slowSideSilent)
        }
        if role == .active && health.criticalServiceFailed.load(ordering: .acquiring) {
            reasons.insert(.criticalServiceFailed)
        }
        return reasons
    }
}
