// timerfd: a file descriptor that becomes readable at a deadline, for the epoll loop.
import CShaolin
import Glibc
import SystemPackage

/// A `CLOCK_MONOTONIC` timer file descriptor armed at absolute deadlines.
///
/// Created non-blocking and close-on-exec. Arming at an absolute deadline
/// (`TFD_TIMER_ABSTIME`) means a late arm never shifts the schedule: if the deadline has
/// already passed, the timer fires at once.
public struct TimerFD: Sendable {
    /// The underlying file descriptor (register it with `Epoll` for `.input`).
    public let fileDescriptor: FileDescriptor

    /// Adopts an existing timerfd.
    public init(adopting fileDescriptor: FileDescriptor) {
        self.fileDescriptor = fileDescriptor
    }

    /// Creates a monotonic, non-blocking, close-on-exec timer, initially disarmed.
    ///
    /// The corresponding C function is `timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)`.
    public static func monotonic() throws(Errno) -> TimerFD {
        let fd = timerfd_create(CLOCK_MONOTONIC, CInt(TFD_NONBLOCK | TFD_CLOEXEC))
        if fd < 0 { throw Errno(rawValue: cshaolin_errno()) }
        return TimerFD(adopting: FileDescriptor(rawValue: fd))
    }

    /// Arms the timer to expire at `deadline` nanoseconds of `CLOCK_MONOTONIC`, then every
    /// `interval` nanoseconds if `interval > 0` (one-shot otherwise).
    ///
    /// A deadline at or before zero is clamped to 1 ns (an all-zero value would disarm),
    /// so it fires immediately. Does not allocate.
    ///
    /// The corresponding C function is `timerfd_settime` with `TFD_TIMER_ABSTIME`.
    public func arm(deadline: Int64, interval: Int64 = 0) throws(Errno) {
        var spec = itimerspec(
            it_interval: Self.timespec(nanos: max(0, interval)),
            it_value: Self.timespec(nanos: max(1, deadline)))
        if timerfd_settime(fileDescriptor.rawValue, CInt(TFD_TIMER_ABSTIME), &spec, nil) < 0 {
            throw Errno(rawValue: cshaolin_errno())
        }
    }

    /// Disarms the timer; pending expirations not yet read are kept by the kernel until read.
    ///
    /// The corresponding C function is `timerfd_settime` with a zero `it_value`.
    public func disarm() throws(Errno) {
        var spec = itimerspec()
        if timerfd_settime(fileDescriptor.rawValue, 0, &spec, nil) < 0 {
            throw Errno(rawValue: cshaolin_errno())
        }
    }

    /// The next expiry as nanoseconds from now (0 when disarmed).
    ///
    /// The corresponding C function is `timerfd_gettime`.
    public func remaining() throws(Errno) -> Int64 {
        var spec = itimerspec()
        if timerfd_gettime(fileDescriptor.rawValue, &spec) < 0 {
            throw Errno(rawValue: cshaolin_errno())
        }
        return Int64(spec.it_value.tv_sec) * 1_000_000_000 + Int64(spec.it_value.tv_nsec)
    }

    /// Reads and clears the number of expirations since the last read; 0 if none (EAGAIN).
    /// Retries on EINTR. Does not allocate.
    ///
    /// The corresponding C function is `read` of an 8-byte counter.
    public func readExpirations() throws(Errno) -> UInt64 {
        var count: UInt64 = 0
        while true {
            let n = read(fileDescriptor.rawValue, &count, MemoryLayout<UInt64>.size)
            if n == MemoryLayout<UInt64>.size { return count }
            if n >= 0 { throw Errno.ioError }  // a timerfd never returns a short read
            let e = cshaolin_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return 0 }
            throw Errno(rawValue: e)
        }
    }

    /// Closes the file descriptor.
    public func close() throws(Errno) {
        try closeDescriptor(fileDescriptor)
    }

    @inline(__always)
    static func timespec(nanos: Int64) -> timespec {
        Glibc.timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
    }
}

/// Closes `fd` once (no retry on EINTR: on Linux the descriptor is gone either way).
@usableFromInline
func closeDescriptor(_ fd: FileDescriptor) throws(Errno) {
    if Glibc.close(fd.rawValue) < 0 {
        let e = cshaolin_errno()
        if e != EINTR { throw Errno(rawValue: e) }
    }
}
