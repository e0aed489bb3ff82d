// Start-up of the hardware watchdog: open the configured device (a watchdog character
// device), set its timeout and read it back, log its identity, explain EBUSY (who holds it)
// and warn when the driver is `nowayout`. Start-up only (allocates, reads /proc and /sys).

import ShaolinCore
import ShaolinLinux
import SystemPackage

/// What was opened, for the log and the status file.
public struct WatchdogIdentity: Sendable, Equatable {
    public var device: String
    public var identity: String
    public var timeoutS: Int
    public var nowayout: Bool
    public init(device: String, identity: String, timeoutS: Int, nowayout: Bool) {
        self.device = device
        self.identity = identity
        self.timeoutS = timeoutS
        self.nowayout = nowayout
    }
}

public enum WatchdogSetup {
    /// Opens and configures the watchdog of `config` (not "none"). On success the countdown
    /// runs: the caller must pet it within `timeoutS`.
    public static func open(_ config: Configuration.Watchdog, log: EventLog, procRoot: String = "/proc",
                            sysRoot: String = "/sys") throws(StartupError) -> (HardwareWatchdog, WatchdogIdentity) {
        let dog: Watchdog
        do throws(WatchdogError) {
            dog = try Watchdog.open(path: config.device)
        } catch {
            if case .busy = error {
                let holders = WatchdogDiagnostics.holders(procRoot: procRoot)
                let who = holders.isEmpty
                    ? "no process visible here holds it (another PID namespace or container, or the kernel's own watchdog user)"
                    : holders.map(\.description).joined(separator: "; ")
                throw StartupError("watchdog.device: \(error.description). Held by: \(who)")
            }
            throw StartupError("watchdog.device: \(error.description) (or set watchdog = \"none\" explicitly)")
        }
        let info = dog.info
        var timeout = config.timeoutS
        if info.options.contains(.setTimeout) {
            do throws(Errno) {
                let chosen = try dog.setTimeout(seconds: CInt(config.timeoutS))
                let readBack = try dog.timeout()
                timeout = Int(readBack)
                if readBack != CInt(config.timeoutS) || chosen != readBack {
                    log.write(.warning, "watchdog \(config.device): asked for a \(config.timeoutS) s timeout, the driver set \(readBack) s (WDIOC_GETTIMEOUT)", event: "WATCHDOG_TIMEOUT_ADJUSTED")
                }
            } catch {
                _ = HardwareWatchdog(dog).disarmAndClose()
                throw StartupError("watchdog.timeout_s: \(config.device) refused a \(config.timeoutS) s timeout (WDIOC_SETTIMEOUT: \(error))")
            }
        } else {
            let current = (try? dog.timeout()).map { Int($0) }
            timeout = current ?? config.timeoutS
            log.write(.warning, "watchdog \(config.device) (\(info.identity)) cannot change its timeout; it is \(current.map { "\($0) s" } ?? "unknown") (timeout_s = \(config.timeoutS) ignored)", event: "WATCHDOG_TIMEOUT_FIXED")
        }
        if timeout * 1000 <= Int(config.petIntervalMs) * 2 {
            _ = HardwareWatchdog(dog).disarmAndClose()
            throw StartupError("watchdog.pet_interval_ms: \(config.petIntervalMs) ms is too long for the driver's \(timeout) s timeout")
        }
        let nowayout = WatchdogDiagnostics.nowayout(sysRoot: sysRoot)
        log.write(.notice, "watchdog \(config.device) armed: \"\(info.identity)\" firmware \(info.firmwareVersion), timeout \(timeout) s, options 0x\(String(info.options.rawValue, radix: 16))\(info.options.contains(.magicClose) ? " (magic close)" : "")", event: "WATCHDOG_ARMED")
        if !nowayout.isEmpty {
            log.write(.warning, "watchdog driver is nowayout (\(nowayout.map(\.description).joined(separator: ", "))): once opened it cannot be stopped; even a clean stop of shaolind resets the node \(timeout) s later unless it is restarted", event: "WATCHDOG_NOWAYOUT")
        }
        if !info.options.contains(.magicClose) {
            log.write(.warning, "watchdog \(config.device) does not report magic close: a clean stop may not disarm it", event: "WATCHDOG_NO_MAGICCLOSE")
        }
        return (HardwareWatchdog(dog), WatchdogIdentity(device: config.device, identity: info.identity, timeoutS: timeout,
                                                       nowayout: !nowayout.isEmpty))
    }
}
