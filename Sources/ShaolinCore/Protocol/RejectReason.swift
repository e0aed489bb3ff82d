// Why a received frame was not accepted. Every reason is counted per link.

public enum RejectReason: Int, Sendable, CaseIterable, CustomStringConvertible {
    case truncated = 0
    case oversized
    case badMagic
    case badVersion
    case wrongCluster
    case badTag
    case unknownType
    case unknownRole
    case reservedNotZero
    case unknownSender
    /// Our own frame came back (a loop, or a reflected frame).
    case ownFrame
    /// The frame names another link than the one it arrived on.
    case linkMismatch
    case zeroIncarnation
    /// Sequence number already seen (replay or duplicate).
    case replayed
    /// Sequence number below the replay window.
    case tooOld
    /// An incarnation the peer already left behind (replayed frames from an earlier run).
    case retiredIncarnation
    /// A new incarnation not yet proven fresh (it does not echo our incarnation). Not an error by
    /// itself: the first frames after a peer restart, until the peer hears us.
    case unverifiedIncarnation

    public var description: String {
        switch self {
        case .truncated: "truncated"
        case .oversized: "oversized"
        case .badMagic: "bad-magic"
        case .badVersion: "bad-version"
        case .wrongCluster: "wrong-cluster"
        case .badTag: "bad-mac"
        case .unknownType: "unknown-type"
        case .unknownRole: "unknown-role"
        case .reservedNotZero: "reserved-not-zero"
        case .unknownSender: "unknown-sender"
        case .ownFrame: "own-frame"
        case .linkMismatch: "link-mismatch"
        case .zeroIncarnation: "zero-incarnation"
        case .replayed: "replayed"
        case .tooOld: "too-old"
        case .retiredIncarnation: "retired-incarnation"
        case .unverifiedIncarnation: "unverified-incarnation"
        }
    }
}

/// Fixed-size counters, one per reason (no allocation when counting).
public struct RejectCounters: Sendable, Equatable {
    public private(set) var counts: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                     UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    public init() { counts = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }
    public mutating func count(_ r: RejectReason) {
        withUnsafeMutableBytes(of: &counts) { b in
            let p = b.baseAddress!.assumingMemoryBound(to: UInt64.self)
            p[r.rawValue] &+= 1
        }
    }
    public subscript(_ r: RejectReason) -> UInt64 {
        withUnsafeBytes(of: counts) { $0.load(fromByteOffset: r.rawValue * 8, as: UInt64.self) }
    }
    public var total: UInt64 { RejectReason.allCases.reduce(0) { $0 &+ self[$1] } }
    public static func == (a: RejectCounters, b: RejectCounters) -> Bool {
        RejectReason.allCases.allSatisfy { a[$0] == b[$0] }
    }
}
