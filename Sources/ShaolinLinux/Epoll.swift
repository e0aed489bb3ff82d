// epoll: one wait for all the real-time loop's file descriptors.
import CShaolin
import Glibc
import SystemPackage

/// Readiness flags of an epoll registration or event.
public struct EpollEvents: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Readable (`EPOLLIN`).
    public static let input = EpollEvents(rawValue: CSHAOLIN_EPOLLIN)
    /// Writable (`EPOLLOUT`).
    public static let output = EpollEvents(rawValue: CSHAOLIN_EPOLLOUT)
    /// Urgent data (`EPOLLPRI`).
    public static let priority = EpollEvents(rawValue: CSHAOLIN_EPOLLPRI)
    /// Error condition (`EPOLLERR`, always reported).
    public static let error = EpollEvents(rawValue: CSHAOLIN_EPOLLERR)
    /// Hang-up (`EPOLLHUP`, always reported; a tty whose other side went away).
    public static let hangUp = EpollEvents(rawValue: CSHAOLIN_EPOLLHUP)
    /// Peer closed its writing half (`EPOLLRDHUP`).
    public static let readHangUp = EpollEvents(rawValue: CSHAOLIN_EPOLLRDHUP)
    /// Edge-triggered (`EPOLLET`).
    public static let edgeTriggered = EpollEvents(rawValue: CSHAOLIN_EPOLLET)
}

/// A preallocated array of `struct epoll_event` that `Epoll.wait` fills.
///
/// Allocated once (at start-up); `Epoll.wait` and the accessors never allocate.
public struct EpollEventBuffer: ~Copyable {
    @usableFromInline let storage: UnsafeMutablePointer<epoll_event>
    /// How many events one `wait` can return.
    public let capacity: Int

    /// Allocates room for `capacity` events (at least 1).
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        storage = .allocate(capacity: self.capacity)
        storage.initialize(repeating: epoll_event(), count: self.capacity)
    }

    deinit { storage.deallocate() }

    /// The user token registered with the file descriptor of event `index`.
    @inlinable
    public func token(at index: Int) -> UInt64 {
        precondition(index >= 0 && index < capacity)
        return cshaolin_epoll_event_token(storage + index)
    }

    /// The readiness flags of event `index`.
    @inlinable
    public func events(at index: Int) -> EpollEvents {
        precondition(index >= 0 && index < capacity)
        return EpollEvents(rawValue: cshaolin_epoll_event_events(storage + index))
    }
}

/// An epoll instance. Each registered descriptor carries a caller-chosen 64-bit token
/// that comes back with its events.
public struct Epoll: Sendable {
    /// The epoll file descriptor.
    public let fileDescriptor: FileDescriptor

    /// Adopts an existing epoll descriptor.
    public init(adopting fileDescriptor: FileDescriptor) {
        self.fileDescriptor = fileDescriptor
    }

    /// Creates a close-on-exec epoll instance.
    ///
    /// The corresponding C function is `epoll_create1(EPOLL_CLOEXEC)`.
    public static func create() throws(Errno) -> Epoll {
        let fd = epoll_create1(CInt(EPOLL_CLOEXEC))
        if fd < 0 { throw Errno(rawValue: cshaolin_errno()) }
        return Epoll(adopting: FileDescriptor(rawValue: fd))
    }

    /// Registers `fd` for `events` with `token`.
    ///
    /// The corresponding C function is `epoll_ctl(EPOLL_CTL_ADD)`.
    public func add(_ fd: FileDescriptor, events: EpollEvents, token: UInt64) throws(Errno) {
        try control(EPOLL_CTL_ADD, fd, events, token)
    }

    /// Changes the events and token of a registered `fd`.
    ///
    /// The corresponding C function is `epoll_ctl(EPOLL_CTL_MOD)`.
    public func modify(_ fd: FileDescriptor, events: EpollEvents, token: UInt64) throws(Errno) {
        try control(EPOLL_CTL_MOD, fd, events, token)
    }

    /// Unregisters `fd` (do it before closing a descriptor that was duplicated elsewhere;
    /// closing the last copy unregisters implicitly).
    ///
    /// The corresponding C function is `epoll_ctl(EPOLL_CTL_DEL)`.
    public func remove(_ fd: FileDescriptor) throws(Errno) {
        try control(EPOLL_CTL_DEL, fd, [], 0)
    }

    private func control(_ op: CInt, _ fd: FileDescriptor, _ events: EpollEvents, _ token: UInt64) throws(Errno) {
        if cshaolin_epoll_ctl(fileDescriptor.rawValue, op, fd.rawValue, events.rawValue, token) < 0 {
            throw Errno(rawValue: cshaolin_errno())
        }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever, 0: poll) and fills `buffer`;
    /// returns the number of events (0 on timeout or when interrupted by a signal: EINTR
    /// is not retried so the caller re-checks its deadlines). Does not allocate.
    ///
    /// The corresponding C function is `epoll_wait`.
    public func wait(into buffer: inout EpollEventBuffer, timeoutMilliseconds: CInt) throws(Errno) -> Int {
        let n = epoll_wait(fileDescriptor.rawValue, buffer.storage, CInt(clamping: buffer.capacity), timeoutMilliseconds)
        if n >= 0 { return Int(n) }
        let e = cshaolin_errno()
        if e == EINTR { return 0 }
        throw Errno(rawValue: e)
    }

    /// Closes the epoll descriptor.
    public func close() throws(Errno) {
        try closeDescriptor(fileDescriptor)
    }
}
