// The real-time loop's side of the hardware watchdog: pet it (WDIOC_KEEPALIVE) at most every
// `petInterval`, only while `HealthJudge` says the engine is healthy; on a clean leave disarm
// it (WDIOS_DISABLECARD + magic 'V' close); on every other exit leave it armed.
//
// The device is behind `WatchdogDevice` so the petting logic can be unit-tested with a fake
// device on machines without one; the engine uses `HardwareWatchdog` (a real /dev/watchdog*).
// Steady state: no allocation, no locks; the keepalive ioctl is the only system call.

import ShaolinCore
import ShaolinLinux
import SystemPackage

/// What the keeper needs from a watchdog device.
public protocol WatchdogDevice: AnyObject {
    /// Restarts the countdown. Must not allocate or block.
    func keepAlive() -> Errno?
    /// Stops the countdown and closes (WDIOS_DISABLECARD, then the magic 'V' close).
    func disarmAndClose() -> Errno?
    /// Closes without the magic character: the countdown keeps running.
    func closeArmed()
}

/// A real `/dev/watchdog*` (ShaolinLinux.Watchdog).
public final class HardwareWatchdog: WatchdogDevice {
    public let watchdog: Watchdog
    public init(_ watchdog: Watchdog) { self.watchdog = watchdog }

    public func keepAlive() -> Errno? {
        do throws(Errno) { try watchdog.keepAlive() } catch { return error }
        return nil
    }

    public func disarmAndClose() -> Errno? {
        var failure: Errno?
        do throws(Errno) { try watchdog.disable() } catch { failure = error }
        do throws(Errno) { try watchdog.magicClose() } catch { failure = failure ?? error }
        return failure
    }

    public func closeArmed() { watchdog.closeArmed() }
}

/// The watchdog part of the status (plain values, published by the loop).
public struct WatchdogStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        /// `watchdog = "none"`.
        case none
        /// Armed and petted.
        case armed
        /// Armed, but pets are withheld: the engine is not healthy.
        case withholding
        /// Disarmed by a clean leave.
        case disarmed
        /// Left armed at exit (the node resets at the timeout).
        case leftArmed = "left_armed"
    }
    public var state: State = .none
    public var pets: UInt64 = 0
    /// Pets that were due but withheld.
    public var withheld: UInt64 = 0
    public var keepaliveFailures: UInt64 = 0
    public var reasons: UnhealthyReasons = []
    /// Nanoseconds since the last pet (-1: never).
    public var lastPetAgo: Int64 = -1
    public init() {}
}

/// A change of the health verdict, reported once per change (to be logged by the slow side).
public struct WatchdogVerdict: Sendable, Equatable {
    public var reasons: UnhealthyReasons
    /// How far past its deadline the loop was at this wake-up, ns.
    public var overdue: Int64
    /// Nanoseconds since the last pet.
    public var sinceLastPet: Int64
    public var keepaliveError: Errno?
}

public final class WatchdogKeeper {
    let device: any WatchdogDevice
    let health: EngineHealth
    public let petInterval: Int64
    var judge: HealthJudge
    public private(set) var status = WatchdogStatus()
    var lastPet: Int64 = 0
    var nextDue: Int64 = Int64.min
    var lastReportedReasons: UnhealthyReasons = []
    var lastReportedError: Errno?
    var closed = false

    /// - Parameters: nanoseconds.
    public init(device: any WatchdogDevice, health: EngineHealth, petInterval: Int64, slack: Int64,
                slowSideTimeout: Int64, now: Int64) {
        self.device = device
        self.health = health
        self.petInterval = petInterval
        judge = HealthJudge(slack: slack, slowSideTimeout: slowSideTimeout, health: health, now: now)
        status.state = .armed
    }

    /// When the loop must wake up for the next pet (CLOCK_MONOTONIC ns).
    /// After a withheld pet or a failed keepalive the next attempt is a quarter interval later
    /// (never in the past: the loop must not spin on a deadline it cannot meet).
    /// Int64.max once closed.
    public var nextPetDue: Int64 { closed ? Int64.max : nextDue }

    /// Called once per wake-up of the real-time loop, after its work. Pets when a pet is
    /// due and the engine is healthy. Returns the verdict when it changed (healthy ↔ not,
    /// or the reasons, or a keepalive error appeared/cleared), else nil.
    public func service(now: Int64, overdue: Int64, role: Role) -> WatchdogVerdict? {
        guard !closed else { return nil }
        let reasons = judge.judge(now: now, overdue: overdue, role: role, health: health)
        var error: Errno? = lastReportedError
        if now >= nextDue {
            nextDue = now &+ petInterval
            if reasons.isEmpty {
                if let e = device.keepAlive() {
                    status.keepaliveFailures &+= 1
                    error = e
                    nextDue = now &+ max(petInterval / 4, 1_000_000)
                } else {
                    lastPet = now
                    status.pets &+= 1
                    error = nil
                }
            } else {
                status.withheld &+= 1
                // Look again sooner: a short blip must not cost more than a quarter interval.
                nextDue = now &+ max(petInterval / 4, 1_000_000)
            }
        }
        status.reasons = reasons
        status.state = reasons.isEmpty ? .armed : .withholding
        status.lastPetAgo = status.pets == 0 ? -1 : now - lastPet
        guard reasons != lastReportedReasons || error != lastReportedError else { return nil }
        lastReportedReasons = reasons
        lastReportedError = error
        return WatchdogVerdict(reasons: reasons, overdue: overdue, sinceLastPet: status.pets == 0 ? -1 : now - lastPet,
                               keepaliveError: error)
    }

    /// Clean leave: disarm (WDIOS_DISABLECARD + magic close). Returns an error if the driver
    /// refused (with `nowayout` the node still resets at the timeout).
    public func disarm() -> Errno? {
        guard !closed else { return nil }
        closed = true
        status.state = .disarmed
        return device.disarmAndClose()
    }

    /// Any other exit: close without the magic character; the countdown keeps running.
    public func leaveArmed() {
        guard !closed else { return }
        closed = true
        status.state = .leftArmed
        device.closeArmed()
    }
}
