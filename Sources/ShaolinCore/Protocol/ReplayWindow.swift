// Per-link sliding replay window over sequence numbers (as in IPsec, RFC 4303 §3.4.3).

/// Accepts each sequence number at most once, tolerating reordering within `size` frames.
public struct ReplayWindow: Sendable, Equatable {
    public static let size: UInt64 = 64
    /// Highest sequence accepted so far (0 = none yet).
    public private(set) var highest: UInt64 = 0
    /// Bit i set ⇔ sequence `highest - i` was accepted.
    private var bitmap: UInt64 = 0

    public init() {}

    public enum Verdict: Sendable, Equatable {
        case accept
        /// Accepted, and `gap` frames between the previous highest and this one never arrived (yet).
        case acceptAfterGap(UInt64)
        case replayed
        case tooOld
    }

    /// Checks `sequence` and records it when accepted.
    public mutating func check(_ sequence: UInt64) -> Verdict {
        if sequence == 0 { return .tooOld }
        if highest == 0 || sequence > highest {
            let gap = highest == 0 ? 0 : sequence - highest - 1
            let shift = highest == 0 ? Self.size : sequence - highest
            bitmap = shift >= Self.size ? 1 : (bitmap << shift) | 1
            highest = sequence
            return gap == 0 ? .accept : .acceptAfterGap(gap)
        }
        let offset = highest - sequence
        if offset >= Self.size { return .tooOld }
        let bit: UInt64 = 1 << offset
        if bitmap & bit != 0 { return .replayed }
        bitmap |= bit
        return .accept
    }

    /// Forgets everything (the peer started a new incarnation).
    public mutating func reset() { self = ReplayWindow() }
}
