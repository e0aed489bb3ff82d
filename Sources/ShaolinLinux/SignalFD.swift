// signalfd: termination signals as readable events in the real-time loop's epoll.
import CShaolin
import Glibc
import SystemPackage

/// A set of signal numbers (`sigset_t`).
public struct SignalSet: Sendable {
    @usableFromInline var raw: sigset_t

    /// An empty set.
    public init() {
        raw = sigset_t()
        sigemptyset(&raw)
    }

    /// A set holding `signals`.
    public init(_ signals: CInt...) {
        self.init()
        for s in signals { insert(s) }
    }

    /// The set a daemon wants in its loop: SIGTERM, SIGINT and SIGHUP.
    public static var termination: SignalSet { SignalSet(SIGTERM, SIGINT, SIGHUP) }

    /// Adds `signal`.
    public mutating func insert(_ signal: CInt) { sigaddset(&raw, signal) }

    /// Whether `signal` is in the set.
    public func contains(_ signal: CInt) -> Bool {
        var copy = raw
        return sigismember(&copy, signal) == 1
    }
}

/// One signal read from a `SignalFD`.
public struct ReceivedSignal: Sendable, Equatable {
    /// The signal number (`SIGTERM`, ...).
    public var signal: CInt
    /// The sender's process id (0 for the kernel).
    public var senderPID: pid_t
    /// The sender's real user id.
    public var senderUID: uid_t
}

/// A non-blocking, close-on-exec signalfd.
///
/// Signals it reports must be blocked first (`blockInProcessMask`), or they are
/// delivered the ordinary way (and SIGTERM kills the process).
public struct SignalFD: Sendable {
    /// The signalfd (register it with `Epoll` for `.input`).
    public let fileDescriptor: FileDescriptor

    /// Adopts an existing signalfd.
    public init(adopting fileDescriptor: FileDescriptor) {
        self.fileDescriptor = fileDescriptor
    }

    /// Blocks `signals` in the calling thread's mask. Call it on the main thread before any
    /// other thread starts, so every thread inherits the mask and the signals stay pending
    /// for the signalfd instead of being delivered to some thread.
    ///
    /// The corresponding C function is `pthread_sigmask(SIG_BLOCK, …)`.
    public static func blockInProcessMask(_ signals: SignalSet) throws(Errno) {
        var set = signals.raw
        let r = pthread_sigmask(SIG_BLOCK, &set, nil)
        if r != 0 { throw Errno(rawValue: r) }
    }

    /// Unblocks `signals` in the calling thread's mask (pending ones are delivered at once).
    ///
    /// The corresponding C function is `pthread_sigmask(SIG_UNBLOCK, …)`.
    public static func unblockInProcessMask(_ signals: SignalSet) throws(Errno) {
        var set = signals.raw
        let r = pthread_sigmask(SIG_UNBLOCK, &set, nil)
        if r != 0 { throw Errno(rawValue: r) }
    }

    /// Blocks `signals` (see `blockInProcessMask`) and opens a signalfd for them.
    ///
    /// The corresponding C function is `signalfd(-1, …, SFD_NONBLOCK | SFD_CLOEXEC)`.
    public static func open(_ signals: SignalSet = .termination) throws(Errno) -> SignalFD {
        try blockInProcessMask(signals)
        var set = signals.raw
        let fd = signalfd(-1, &set, CInt(SFD_NONBLOCK | SFD_CLOEXEC))
        if fd < 0 { throw Errno(rawValue: cshaolin_errno()) }
        return SignalFD(adopting: FileDescriptor(rawValue: fd))
    }

    /// Reads one pending signal, or nil if none is pending. Retries on EINTR; does not allocate.
    ///
    /// The corresponding C function is `read` of a `struct signalfd_siginfo`.
    public func read() throws(Errno) -> ReceivedSignal? {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while true {
            let n = Glibc.read(fileDescriptor.rawValue, &info, size)
            if n == size {
                return ReceivedSignal(signal: CInt(info.ssi_signo), senderPID: pid_t(info.ssi_pid), senderUID: uid_t(info.ssi_uid))
            }
            if n >= 0 { throw Errno.ioError }
            let e = cshaolin_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return nil }
            throw Errno(rawValue: e)
        }
    }

    /// Closes the signalfd (the signals stay blocked).
    public func close() throws(Errno) {
        try closeDescriptor(fileDescriptor)
    }
}
