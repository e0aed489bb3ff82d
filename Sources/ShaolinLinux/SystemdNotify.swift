// The service manager's notification protocol (sd_notify): READY=1, STATUS=…, WATCHDOG=1,
// STOPPING=1 as one datagram on the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name"
// in the abstract namespace). Without NOTIFY_SOCKET every call is a no-op. Spoken directly, as
// sd_notify(3) documents it for reimplementation; libsystemd is not linked (docs/logging.md).
import Glibc
import SystemPackage

public enum SystemdNotify {
    /// Whether $NOTIFY_SOCKET is set (the process runs under a service manager that listens).
    public static var isListening: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends newline-separated assignments such as `"READY=1\nSTATUS=ACTIVE"`.
    /// - Returns: false when $NOTIFY_SOCKET is unset (nothing sent), true when sent.
    /// - Throws: `EAFNOSUPPORT` for a $NOTIFY_SOCKET that is neither "/path" nor "@name", or the
    ///   error of sending.
    ///
    /// What libsystemd's `sd_notify(0, state)` does: `sendto` of the text on an `AF_UNIX`
    /// datagram socket (UnixDatagram).
    @discardableResult
    public static func send(_ state: String) throws(Errno) -> Bool {
        guard let socket = getenv("NOTIFY_SOCKET") else { return false }
        try UnixDatagram.send(Array(state.utf8), to: String(cString: socket), sealedMemfdWhenTooLarge: false)
        return true
    }

    /// The service watchdog interval systemd expects WATCHDOG=1 within ($WATCHDOG_USEC, honouring
    /// $WATCHDOG_PID: nil when it names another process), in microseconds; nil when the service
    /// watchdog is off. Throws `EINVAL` when either variable is not a positive number.
    ///
    /// What libsystemd's `sd_watchdog_enabled(0, &usec)` does (from the environment alone).
    public static func watchdogInterval() throws(Errno) -> UInt64? {
        guard let u = getenv("WATCHDOG_USEC") else { return nil }
        guard let usec = UInt64(String(cString: u)), usec > 0 else { throw .invalidArgument }
        if let p = getenv("WATCHDOG_PID") {
            guard let pid = Int32(String(cString: p)), pid > 0 else { throw .invalidArgument }
            if pid != getpid() { return nil }
        }
        return usec
    }
}
