// The service manager's notification protocol (sd_notify): READY=1, STATUS=…, WATCHDOG=1,
// STOPPING=1 as datagrams on $NOTIFY_SOCKET. Without NOTIFY_SOCKET every call is a no-op.
// libsystemd is opened on first use (SystemdLibrary), not linked.
import Glibc
import SystemPackage

public enum SystemdNotify {
    /// Whether $NOTIFY_SOCKET is set (the process runs under a service manager that listens).
    public static var isListening: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends newline-separated assignments such as `"READY=1\nSTATUS=ACTIVE"`.
    /// - Returns: false when $NOTIFY_SOCKET is unset (nothing sent), true when sent.
    ///
    /// Throws `Errno` when sending fails, `SystemdLibrary.Unavailable` without libsystemd.
    ///
    /// The corresponding C function is `sd_notify(0, state)`.
    @discardableResult
    public static func send(_ state: String) throws -> Bool {
        guard isListening else { return false }
        let rc = try SystemdLibrary.functions.get().notify(0, state)
        if rc < 0 { throw Errno(rawValue: -rc) }
        return rc > 0
    }

    /// The service watchdog interval systemd expects WATCHDOG=1 within ($WATCHDOG_USEC, honouring
    /// $WATCHDOG_PID), in microseconds; nil when the service watchdog is off.
    ///
    /// The corresponding C function is `sd_watchdog_enabled(0, &usec)`.
    public static func watchdogInterval() throws -> UInt64? {
        guard getenv("WATCHDOG_USEC") != nil else { return nil }
        var usec: UInt64 = 0
        let rc = try SystemdLibrary.functions.get().watchdogEnabled(0, &usec)
        if rc < 0 { throw Errno(rawValue: -rc) }
        return rc > 0 ? usec : nil
    }
}
