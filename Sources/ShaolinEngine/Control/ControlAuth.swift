// TCP authentication support: a limiter that slows down an
// address guessing the key. After `threshold` failures within `window`, the address is
// blocked for `baseBlock`, doubling with each further failure up to `maxBlock`; a success
// clears its record. The table is bounded (oldest entries are dropped).

import Glibc
import ShaolinCore

public struct AuthFailureLimiter: Sendable {
    public struct Entry: Sendable {
        var failures: [Int64] = []
        var blockedUntil: Int64 = 0
        var blockLength: Int64 = 0
        var lastSeen: Int64 = 0
    }

    public var threshold = 3
    public var window: Int64 = 60_000_000_000
    public var baseBlock: Int64 = 5_000_000_000
    public var maxBlock: Int64 = 300_000_000_000
    public var maxEntries = 1_024
    private(set) var entries: [String: Entry] = [:]
    /// Failures seen in total (status/tests).
    public private(set) var totalFailures: UInt64 = 0

    public init() {}

    /// nil when `address` may try; else how many ns it must wait.
    public func blocked(_ address: String, now: Int64) -> Int64? {
        guard let e = entries[address], e.blockedUntil > now else { return nil }
        return e.blockedUntil - now
    }

    public mutating func failed(_ address: String, now: Int64) {
        totalFailures += 1
        if entries[address] == nil && entries.count >= maxEntries {
            if let oldest = entries.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key { entries[oldest] = nil }
        }
        var e = entries[address] ?? Entry()
        e.lastSeen = now
        e.failures = e.failures.filter { now - $0 < window } + [now]
        if e.failures.count >= threshold {
            e.blockLength = e.blockLength == 0 ? baseBlock : min(maxBlock, e.blockLength * 2)
            e.blockedUntil = now + e.blockLength
        }
        entries[address] = e
    }

    public mutating func succeeded(_ address: String) { entries[address] = nil }
}
