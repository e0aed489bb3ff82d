// Hardware watchdog (/dev/watchdog*): the node reboots if the engine stops petting it.
import CShaolin
import Glibc
import SystemPackage

/// Why a watchdog could not be opened, with a message for the operator.
public enum WatchdogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path does not exist or could not be examined.
    case notFound(path: String, Errno)
    /// The path exists but is not a character device (a regular file, a directory...).
    case notACharacterDevice(path: String)
    /// A character device that does not answer `WDIOC_GETSUPPORT` (e.g. /dev/null).
    case notAWatchdog(path: String, Errno)
    /// Another process holds the device (only one opener is allowed).
    case busy(path: String)
    /// Opening failed for another reason.
    case openFailed(path: String, Errno)

    public var description: String {
        switch self {
        case .notFound(let path, let e):
            return "watchdog \(path) not found (\(e)); is the driver loaded (e.g. i6300esb, iTCO_wdt, softdog)?"
        case .notACharacterDevice(let path):
            return "\(path) is not a character device, so not a watchdog; refusing to use it"
        case .notAWatchdog(let path, let e):
            return "\(path) is a character device but not a watchdog: WDIOC_GETSUPPORT failed (\(e))"
        case .busy(let path):
            return "watchdog \(path) is busy: another process holds it — systemd's RuntimeWatchdogSec= "
                + "(in /etc/systemd/system.conf; set it to 0 or off) or a watchdog daemon (watchdog, "
                + "wd_keepalive); only one process may open a watchdog"
        case .openFailed(let path, let e):
            return "could not open watchdog \(path): \(e)"
        }
    }
}

/// Capabilities a watchdog driver reports (`WDIOF_*`).
public struct WatchdogOptions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The timeout can be changed (`WDIOF_SETTIMEOUT`).
    public static let setTimeout = WatchdogOptions(rawValue: CSHAOLIN_WDIOF_SETTIMEOUT)
    /// Writing 'V' before close stops the watchdog (`WDIOF_MAGICCLOSE`).
    public static let magicClose = WatchdogOptions(rawValue: CSHAOLIN_WDIOF_MAGICCLOSE)
    /// `WDIOC_KEEPALIVE` is supported (`WDIOF_KEEPALIVEPING`).
    public static let keepAlivePing = WatchdogOptions(rawValue: CSHAOLIN_WDIOF_KEEPALIVEPING)
    /// A pre-timeout is supported (`WDIOF_PRETIMEOUT`).
    public static let preTimeout = WatchdogOptions(rawValue: CSHAOLIN_WDIOF_PRETIMEOUT)
}

/// What `WDIOC_GETSUPPORT` reports.
public struct WatchdogInfo: Sendable, Equatable {
    /// The driver's identity string (e.g. "i6300ESB timer").
    public var identity: String
    public var firmwareVersion: UInt32
    public var options: WatchdogOptions
}

/// An open hardware watchdog. Opening it starts the countdown: pet it with `keepAlive()`
/// at less than the timeout, and stop it with `magicClose()` (or `disable()` then close).
public struct Watchdog: Sendable {
    /// The open device.
    public let fileDescriptor: FileDescriptor
    /// The device path.
    public let path: String
    /// What the driver reported when opened.
    public let info: WatchdogInfo

    /// Opens `path` after checking it is a character device, and asks the driver what it
    /// supports (closing it again if it is not a watchdog).
    ///
    /// The corresponding C functions are `stat`, `open(O_WRONLY | O_CLOEXEC)` and
    /// `ioctl(WDIOC_GETSUPPORT)`.
    public static func open(path: String = "/dev/watchdog") throws(WatchdogError) -> Watchdog {
        // Check before opening: opening a watchdog arms it.
        var st = stat()
        if stat(path, &st) < 0 { throw .notFound(path: path, Errno(rawValue: cshaolin_errno())) }
        guard st.st_mode & S_IFMT == S_IFCHR else { throw .notACharacterDevice(path: path) }
        var fd: CInt
        repeat {
            fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
        } while fd < 0 && cshaolin_errno() == EINTR
        if fd < 0 {
            let e = Errno(rawValue: cshaolin_errno())
            if e == .resourceBusy { throw .busy(path: path) }
            if e == .noSuchFileOrDirectory || e == .noSuchAddressOrDevice || e == .operationNotSupportedByDevice {
                throw .notFound(path: path, e)
            }
            throw .openFailed(path: path, e)
        }
        // The path may have been replaced between stat and open.
        if fstat(fd, &st) < 0 || st.st_mode & S_IFMT != S_IFCHR {
            _ = Glibc.close(fd)
            throw .notACharacterDevice(path: path)
        }
        var raw = watchdog_info()
        if cshaolin_wdt_getsupport(fd, &raw) < 0 {
            let e = Errno(rawValue: cshaolin_errno())
            _ = Glibc.close(fd)
            throw .notAWatchdog(path: path, e)
        }
        let identity = withUnsafeBytes(of: raw.identity) { bytes -> String in
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
        let info = WatchdogInfo(identity: identity, firmwareVersion: raw.firmware_version,
                                options: WatchdogOptions(rawValue: raw.options))
        return Watchdog(fileDescriptor: FileDescriptor(rawValue: fd), path: path, info: info)
    }

    private init(fileDescriptor: FileDescriptor, path: String, info: WatchdogInfo) {
        self.fileDescriptor = fileDescriptor
        self.path = path
        self.info = info
    }

    /// Sets the timeout in seconds and returns the one the driver actually chose
    /// (drivers round or clamp it).
    ///
    /// The corresponding C function is `ioctl(WDIOC_SETTIMEOUT)`.
    public func setTimeout(seconds: CInt) throws(Errno) -> CInt {
        var value = seconds
        if cshaolin_wdt_settimeout(fileDescriptor.rawValue, &value) < 0 { throw Errno(rawValue: cshaolin_errno()) }
        return value
    }

    /// The current timeout in seconds.
    ///
    /// The corresponding C function is `ioctl(WDIOC_GETTIMEOUT)`.
    public func timeout() throws(Errno) -> CInt {
        var value: CInt = 0
        if cshaolin_wdt_gettimeout(fileDescriptor.rawValue, &value) < 0 { throw Errno(rawValue: cshaolin_errno()) }
        return value
    }

    /// Pets the watchdog (restarts its countdown). Retries on EINTR; does not allocate.
    ///
    /// The corresponding C function is `ioctl(WDIOC_KEEPALIVE)`.
    public func keepAlive() throws(Errno) {
        while cshaolin_wdt_keepalive(fileDescriptor.rawValue) < 0 {
            let e = cshaolin_errno()
            if e != EINTR { throw Errno(rawValue: e) }
        }
    }

    /// Stops the countdown without closing.
    ///
    /// The corresponding C function is `ioctl(WDIOC_SETOPTIONS, WDIOS_DISABLECARD)`.
    public func disable() throws(Errno) {
        if cshaolin_wdt_setoptions(fileDescriptor.rawValue, CSHAOLIN_WDIOS_DISABLECARD) < 0 {
            throw Errno(rawValue: cshaolin_errno())
        }
    }

    /// Re-enables the countdown after `disable()`.
    ///
    /// The corresponding C function is `ioctl(WDIOC_SETOPTIONS, WDIOS_ENABLECARD)`.
    public func enable() throws(Errno) {
        if cshaolin_wdt_setoptions(fileDescriptor.rawValue, CSHAOLIN_WDIOS_ENABLECARD) < 0 {
            throw Errno(rawValue: cshaolin_errno())
        }
    }

    /// Orderly stop: writes the magic character 'V' (which tells a `WDIOF_MAGICCLOSE`
    /// driver that the close is intended) and closes. Without it, or with a driver built
    /// with `nowayout`, the machine reboots when the timeout expires.
    ///
    /// The corresponding C functions are `write("V")` and `close`.
    public func magicClose() throws(Errno) {
        var v = UInt8(ascii: "V")
        var n: Int
        repeat {
            n = Glibc.write(fileDescriptor.rawValue, &v, 1)
        } while n < 0 && cshaolin_errno() == EINTR
        let writeError = n < 0 ? Errno(rawValue: cshaolin_errno()) : nil
        try closeDescriptor(fileDescriptor)
        if let writeError { throw writeError }
    }

    /// Closes without the magic character: the countdown keeps running and the machine
    /// reboots at the timeout (the intended outcome when the engine must not survive).
    public func closeArmed() {
        _ = Glibc.close(fileDescriptor.rawValue)
    }
}
