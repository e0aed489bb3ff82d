// libsystemd, opened with dlopen on first use instead of being linked. Under
// mlockall(MCL_CURRENT|MCL_FUTURE) every page of every mapped library is resident and locked,
// and Debian 12's libsystemd.so.0 brings libgcrypt, libgpg-error, libzstd, liblzma and liblz4
// with it: ≈ 3.4 MB of locked memory in every engine, also in an initramfs engine that never
// talks to journald or a service manager. Loaded, the functions are libsystemd's own.
import Glibc

/// libsystemd.so.0 and the three functions the engine calls, resolved once with dlopen/dlsym.
public enum SystemdLibrary {
    /// The soname opened (the runtime package libsystemd0; no -dev package needed).
    public static let soname = "libsystemd.so.0"

    /// Why libsystemd could not be used: the library or one of its functions is missing.
    public struct Unavailable: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    typealias JournalSendv = @convention(c) (UnsafePointer<iovec>?, Int32) -> Int32
    typealias Notify = @convention(c) (Int32, UnsafePointer<CChar>?) -> Int32
    typealias WatchdogEnabled = @convention(c) (Int32, UnsafeMutablePointer<UInt64>?) -> Int32

    struct Functions: @unchecked Sendable {
        let journalSendv: JournalSendv
        let notify: Notify
        let watchdogEnabled: WatchdogEnabled
    }

    /// Opened on first use (thread-safe: a global's lazy initialisation runs once). The handle
    /// is never closed.
    static let functions: Result<Functions, Unavailable> = open()

    /// Opens the library now if it was not yet (so the cost is paid at start-up, not on the
    /// first log record). Returns nil when usable, else why not.
    @discardableResult
    public static func load() -> Unavailable? {
        if case .failure(let why) = functions { return why }
        return nil
    }

    /// Whether libsystemd is already mapped into this process (for footprint reports and tests).
    public static var isLoaded: Bool {
        dlopen(soname, RTLD_NOW | RTLD_NOLOAD).map { dlclose($0); return true } ?? false
    }

    /// The corresponding C functions are `dlopen`, `dlsym` and `dlerror`.
    private static func open() -> Result<Functions, Unavailable> {
        guard let handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(Unavailable(description: "\(soname) cannot be loaded: \(lastError())"))
        }
        func symbol<F>(_ name: String, as: F.Type) -> Result<F, Unavailable> {
            _ = dlerror()
            guard let p = dlsym(handle, name) else {
                return .failure(Unavailable(description: "\(soname) has no \(name): \(lastError())"))
            }
            return .success(unsafeBitCast(p, to: F.self))
        }
        return symbol("sd_journal_sendv", as: JournalSendv.self).flatMap { sendv in
            symbol("sd_notify", as: Notify.self).flatMap { notify in
                symbol("sd_watchdog_enabled", as: WatchdogEnabled.self).map { wd in
                    Functions(journalSendv: sendv, notify: notify, watchdogEnabled: wd)
                }
            }
        }
    }

    private static func lastError() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown error"
    }
}
