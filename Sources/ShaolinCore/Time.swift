// Monotonic time as plain integers, so the core needs no Foundation and no syscalls.
// The Linux shell feeds CLOCK_MONOTONIC; the simulator feeds its own virtual clock.

/// A point on a monotonic clock, in nanoseconds since an arbitrary origin.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static let zero = Instant(nanoseconds: 0)
    /// Used as "no deadline".
    public static let never = Instant(nanoseconds: .max)

    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    @inlinable public static func + (a: Instant, d: Nanos) -> Instant {
        // Saturating so that `never + x` stays `never`.
        let (r, o) = a.nanoseconds.addingReportingOverflow(d.value)
        return Instant(nanoseconds: o ? (d.value > 0 ? .max : .min) : r)
    }
    @inlinable public static func - (a: Instant, b: Instant) -> Nanos { Nanos(a.nanoseconds &- b.nanoseconds) }
    @inlinable public static func - (a: Instant, d: Nanos) -> Instant { a + Nanos(0 &- d.value) }
    public var description: String { "\(Nanos(nanoseconds).description)" }
}

/// A signed duration in nanoseconds.
public struct Nanos: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var value: Int64
    @inlinable public init(_ value: Int64) { self.value = value }
    @inlinable public static func ms(_ v: Int64) -> Nanos { Nanos(v &* 1_000_000) }
    @inlinable public static func us(_ v: Int64) -> Nanos { Nanos(v &* 1_000) }
    @inlinable public static func seconds(_ v: Int64) -> Nanos { Nanos(v &* 1_000_000_000) }
    public static let zero = Nanos(0)
    @inlinable public static func < (a: Nanos, b: Nanos) -> Bool { a.value < b.value }
    @inlinable public static func + (a: Nanos, b: Nanos) -> Nanos { Nanos(a.value &+ b.value) }
    @inlinable public static func - (a: Nanos, b: Nanos) -> Nanos { Nanos(a.value &- b.value) }
    @inlinable public static func * (a: Nanos, k: Int64) -> Nanos { Nanos(a.value &* k) }
    @inlinable public static func / (a: Nanos, k: Int64) -> Nanos { Nanos(a.value / k) }
    @inlinable public var milliseconds: Int64 { value / 1_000_000 }
    @inlinable public var microseconds: Int64 { value / 1_000 }
    public var description: String {
        let v = value
        if v % 1_000_000 == 0 { return "\(v / 1_000_000)ms" }
        if v % 1_000 == 0 { return "\(v / 1_000)us" }
        return "\(v)ns"
    }
}
