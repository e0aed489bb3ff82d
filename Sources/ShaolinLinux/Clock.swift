// Clock reads in nanoseconds, for the real-time loop (no allocation, no throwing).
import CShaolin
import Glibc

/// Reads the kernel clocks as signed 64-bit nanosecond counts.
///
/// Both reads go through the vDSO on x86_64 and arm64: no system call, no allocation.
public enum SystemClock {
    /// Nanoseconds of `CLOCK_MONOTONIC` (since an unspecified point, usually boot;
    /// does not count time suspended; never jumps).
    ///
    /// The corresponding C function is `clock_gettime(CLOCK_MONOTONIC, …)`.
    @inlinable
    public static func monotonicNanos() -> Int64 {
        read(CLOCK_MONOTONIC)
    }

    /// Nanoseconds of `CLOCK_REALTIME` since the Unix epoch (wall time; may jump when set).
    ///
    /// The corresponding C function is `clock_gettime(CLOCK_REALTIME, …)`.
    @inlinable
    public static func realtimeNanos() -> Int64 {
        read(CLOCK_REALTIME)
    }

    /// Nanoseconds of `CLOCK_BOOTTIME` (like monotonic, but counts time suspended).
    ///
    /// The corresponding C function is `clock_gettime(CLOCK_BOOTTIME, …)`.
    @inlinable
    public static func boottimeNanos() -> Int64 {
        read(CLOCK_BOOTTIME)
    }

    @usableFromInline
    static func read(_ clock: clockid_t) -> Int64 {
        var ts = timespec()
        // clock_gettime only fails for an invalid clock id or pointer; neither can happen here.
        _ = clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }
}
