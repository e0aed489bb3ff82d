// Freshness of the peer's incarnation, independent of wall clocks.
//
// Every engine start picks a new random 64-bit incarnation. A frame from an incarnation we have
// not accepted yet is only *proven fresh* when it echoes our own current incarnation in
// `peerIncarnationSeen`: nobody could have recorded such a frame before we started. Until then the
// frames are authentic but unverified: they teach us the incarnation to echo, but they never count
// as liveness and never change roles. Incarnations the peer left behind are retired, so their
// recorded frames cannot be replayed later.

public struct IncarnationGuard: Sendable {
    public static let retiredCapacity = 16
    /// The peer incarnation whose frames we accept (0 = none yet).
    public private(set) var current: UInt64 = 0
    /// The most recent authentic incarnation heard, verified or not: what our frames echo.
    public private(set) var lastHeard: UInt64 = 0
    private var retired: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                          UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private var retiredNext = 0

    public init() {}

    public enum Verdict: Sendable, Equatable {
        case current
        /// A new incarnation, proven fresh; `previous` is the one it replaces (0 = first contact).
        case newVerified(previous: UInt64)
        case unverified
        case retired
    }

    /// Classifies an authentic frame's incarnation. `echoed` is the frame's `peerIncarnationSeen`.
    public mutating func check(incarnation: UInt64, echoed: UInt64, ours: UInt64) -> Verdict {
        if incarnation == current && current != 0 {
            // A stray frame of another incarnation must not leave us echoing the wrong one.
            lastHeard = current
            return .current
        }
        if isRetired(incarnation) { return .retired }
        if echoed == ours {
            let previous = current
            if previous != 0 { retire(previous) }
            current = incarnation
            lastHeard = incarnation
            return .newVerified(previous: previous)
        }
        lastHeard = incarnation
        return .unverified
    }

    /// The incarnation our frames should echo.
    public var echo: UInt64 { lastHeard }

    /// Stops accepting the current incarnation (it was fenced): its frames are rejected from now on.
    public mutating func retireCurrent() {
        if current != 0 { retire(current) }
        if lastHeard == current { lastHeard = 0 }
        current = 0
    }

    public func isRetired(_ incarnation: UInt64) -> Bool {
        withUnsafeBytes(of: retired) { b in
            for i in 0..<Self.retiredCapacity where b.load(fromByteOffset: i * 8, as: UInt64.self) == incarnation {
                return incarnation != 0
            }
            return false
        }
    }

    private mutating func retire(_ incarnation: UInt64) {
        let slot = retiredNext
        withUnsafeMutableBytes(of: &retired) { b in b.storeBytes(of: incarnation, toByteOffset: slot * 8, as: UInt64.self) }
        retiredNext = (retiredNext + 1) % Self.retiredCapacity
    }
}
