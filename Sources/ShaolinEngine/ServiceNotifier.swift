// systemd's notification protocol, driven by the slow side: READY=1 once the role is settled
// (first ACTIVE or STANDBY), STATUS= with the role whenever the summary changes, WATCHDOG=1
// while systemd's service watchdog (WatchdogSec=, separate from the hardware watchdog) is on
// and the real-time loop is making progress, STOPPING=1 when the engine leaves.
//
// Progress is judged from the real-time loop's own status messages: each carries the loop's
// clock when it was published (at least once per keepalive). When the newest one is older
// than `staleLimit` the slow side stops petting and systemd's watchdog fires — a hung
// real-time loop is not hidden by a healthy slow side.

import ShaolinCore
import ShaolinLinux

public final class ServiceNotifier {
    /// systemd's WATCHDOG_USEC in ns, nil when the service watchdog is off.
    public let watchdogInterval: Int64?
    /// Pet at this period (a quarter of WATCHDOG_USEC: margin for this kind of VM's stalls).
    public let petInterval: Int64
    /// No pet when the loop's newest status is older than this.
    public let staleLimit: Int64
    let send: (String) -> Bool
    public private(set) var readySent = false
    public private(set) var stoppingSent = false
    public private(set) var pets: UInt64 = 0
    var lastPet: Int64 = Int64.min
    var lastStatus = ""
    let peerName: String
    let linkCount: Int

    /// - Parameters:
    ///   - watchdogMicroseconds: `sd_watchdog_enabled`'s interval (nil: off).
    ///   - keepalive: the cluster keepalive; the loop publishes status at least this often.
    ///   - send: delivers one notification; returns false when it could not (tests pass their own).
    public init(watchdogMicroseconds: UInt64?, keepalive: Nanos, peerName: String, linkCount: Int,
                send: @escaping (String) -> Bool) {
        watchdogInterval = watchdogMicroseconds.map { Int64($0) * 1000 }
        petInterval = max(10_000_000, (watchdogInterval ?? 0) / 4)
        staleLimit = max((watchdogInterval ?? 0) / 2, 2 * keepalive.value + 150_000_000)
        self.send = send
        self.peerName = peerName
        self.linkCount = linkCount
    }

    /// The notifier for this process: sd_notify, with $WATCHDOG_USEC read once.
    public static func forThisProcess(keepalive: Nanos, peerName: String, linkCount: Int, log: EventLog) -> ServiceNotifier? {
        guard SystemdNotify.isListening else { return nil }
        let usec: UInt64?
        do { usec = try SystemdNotify.watchdogInterval() } catch {
            log.write(.warning, "systemd watchdog settings unreadable (\(error)): not sending WATCHDOG=1")
            usec = nil
        }
        var failures = 0
        let n = ServiceNotifier(watchdogMicroseconds: usec, keepalive: keepalive, peerName: peerName, linkCount: linkCount) { state in
            do { return try SystemdNotify.send(state) } catch {
                failures += 1
                if failures == 1 { log.write(.warning, "sd_notify failed: \(error)") }
                return false
            }
        }
        if let w = n.watchdogInterval {
            log.write(.info, "systemd service watchdog: WATCHDOG_USEC=\(w / 1000), petting every \(n.petInterval / 1_000_000) ms while the real-time loop reports within \(n.staleLimit / 1_000_000) ms",
                      event: "SYSTEMD_WATCHDOG", [("SHAOLIN_WATCHDOG_USEC", "\(w / 1000)")])
        }
        return n
    }

    /// The one-line STATUS= text for a status header.
    public func statusText(_ h: StatusHeader) -> String {
        var s = "\(h.role)"
        if h.epoch > 0 { s += " (epoch \(h.epoch))" }
        s += "; peer \(peerName) " + (h.peerAlive ? "\(h.peerRole)" : (h.peerKnown ? "not heard" : "never heard"))
        s += "; links \(h.aliveLinks)/\(linkCount)"
        if h.health.contains(.maintenance) { s += "; maintenance" }
        if h.fenceInFlight { s += "; fencing (attempt \(h.fenceAttempt))" }
        return s
    }

    /// Called with every status header from the loop.
    public func update(_ h: StatusHeader) {
        guard !stoppingSent else { return }
        let status = statusText(h)
        let settled = h.role == .active || h.role == .standby
        if settled && !readySent {
            if send("READY=1\nSTATUS=\(status)") { readySent = true; lastStatus = status }
        } else if status != lastStatus {
            if send("STATUS=\(status)") { lastStatus = status }
        }
    }

    /// Whether to send WATCHDOG=1 now (pure: tested on its own).
    public func shouldPet(now: Int64, loopProgress: Int64) -> Bool {
        guard watchdogInterval != nil, !stoppingSent else { return false }
        guard lastPet == Int64.min || now - lastPet >= petInterval else { return false }
        return loopProgress > 0 && now - loopProgress <= staleLimit
    }

    /// Called often by the slow side (every loop pass, ≤ 5 ms apart when idle).
    /// - Parameter loopProgress: the loop's clock in its newest status message (0: none yet).
    public func tick(now: Int64, loopProgress: Int64) {
        if shouldPet(now: now, loopProgress: loopProgress) {
            _ = send("WATCHDOG=1")
            lastPet = now
            pets &+= 1
        }
    }

    /// The engine is leaving (graceful leave, handover, stand-down).
    public func stopping(_ why: String) {
        guard !stoppingSent else { return }
        stoppingSent = true
        _ = send("STOPPING=1\nSTATUS=stopping: \(why)")
    }
}
