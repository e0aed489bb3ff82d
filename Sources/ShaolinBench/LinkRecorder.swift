// What one link's probes measured: HDR histograms (µs) and counters, filled on the real-time
// thread. Everything it needs is allocated up front; `sent`/`received` never allocate.

import Histogram

/// Histograms are kept in microseconds, from 1 µs to 10 minutes, 3 significant digits.
public enum BenchHistogram {
    public static let highestMicros: UInt64 = 600_000_000
    public static func make() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highestMicros, numberOfSignificantValueDigits: .three)
    }
    /// Clamps a nanosecond duration into the histogram's range, in µs (at least 1).
    @inline(__always)
    public static func micros(_ nanos: Int64) -> UInt64 {
        if nanos <= 1_000 { return 1 }
        return min(UInt64(nanos / 1_000), highestMicros)
    }
}

public final class LinkRecorder {
    public let name: String
    /// "ethernet" or "serial".
    public let kind: String
    /// Interface or device.
    public let endpoint: String
    public let capacity: Int

    /// Round trip: reply received − probe sent (initiator clock).
    public var rtt = BenchHistogram.make()
    /// Estimated one-way latency: (round trip − responder turnaround) / 2.
    public var oneWay = BenchHistogram.make()
    /// Responder turnaround: its send − its receive (responder clock).
    public var turnaround = BenchHistogram.make()
    /// How late a heartbeat sent on this link would arrive against its schedule, both
    /// directions: sender's loop lateness + one-way latency (the advice model's input).
    public var scheduleDelay = BenchHistogram.make()

    public private(set) var sent: UInt64 = 0
    public private(set) var sendDrops: UInt64 = 0
    public private(set) var received: UInt64 = 0
    public private(set) var duplicates: UInt64 = 0
    public private(set) var reordered: UInt64 = 0
    /// Replies to sequence numbers never sent (or of another session): ignored.
    public private(set) var foreign: UInt64 = 0
    public private(set) var rejectedTag: UInt64 = 0
    public private(set) var rejectedOther: UInt64 = 0
    /// Frames carrying the engine's heartbeat magic: a shaolind runs on this link.
    public private(set) var heartbeatsSeen: UInt64 = 0
    /// Highest responder "probes received" count seen, and the sequence it came with.
    public private(set) var peerReceived: UInt32 = 0
    public private(set) var peerReceivedAtSequence: UInt64 = 0

    var highestSequence: Int64 = -1
    let seen: UnsafeMutablePointer<UInt8>
    let sendLateness: UnsafeMutablePointer<UInt32>

    public init(name: String, kind: String, endpoint: String, capacity: Int) {
        self.name = name
        self.kind = kind
        self.endpoint = endpoint
        self.capacity = max(1, capacity)
        seen = .allocate(capacity: self.capacity)
        seen.initialize(repeating: 0, count: self.capacity)
        sendLateness = .allocate(capacity: self.capacity)
        sendLateness.initialize(repeating: 0, count: self.capacity)
    }

    deinit {
        seen.deallocate()
        sendLateness.deallocate()
    }

    /// The next sequence number, or nil when the run's capacity is used up.
    var nextSequence: UInt64? { sent < UInt64(capacity) ? sent : nil }

    func recordSent(sequence: UInt64, latenessMicros: UInt32, dropped: Bool) {
        sendLateness[Int(sequence)] = latenessMicros
        sent &+= 1
        if dropped { sendDrops &+= 1 }
    }

    func recordReject(_ r: ProbeReject) {
        switch r {
        case .heartbeat: heartbeatsSeen &+= 1
        case .tag: rejectedTag &+= 1
        default: rejectedOther &+= 1
        }
    }

    /// A decoded reply received at `now` (initiator clock).
    func recordReply(_ f: ProbeFields, session: UInt64, now: Int64) {
        guard f.kind == .reply, f.session == session, f.sequence < sent else { foreign &+= 1; return }
        let i = Int(f.sequence)
        if seen[i] != 0 { duplicates &+= 1; return }
        seen[i] = 1
        received &+= 1
        if Int64(f.sequence) < highestSequence { reordered &+= 1 } else { highestSequence = Int64(f.sequence) }
        if f.responderReceived >= peerReceived {
            peerReceived = f.responderReceived
            peerReceivedAtSequence = f.sequence
        }
        let roundTrip = now - f.sendTime
        let turn = max(0, f.responderSend - f.responderReceive)
        let net = max(0, roundTrip - turn)
        let oneWayNanos = net / 2
        _ = rtt.record(BenchHistogram.micros(roundTrip))
        _ = turnaround.record(BenchHistogram.micros(turn))
        _ = oneWay.record(BenchHistogram.micros(oneWayNanos))
        let ow = oneWayNanos / 1_000
        _ = scheduleDelay.record(BenchHistogram.micros((Int64(sendLateness[i]) + ow) * 1_000))
        _ = scheduleDelay.record(BenchHistogram.micros((Int64(f.responderLatenessMicros) + ow) * 1_000))
    }

    /// Probes without a reply.
    public var lost: UInt64 { sent >= received ? sent - received : 0 }

    /// Longest run of consecutive probes without a reply.
    public var longestLossBurst: Int {
        var best = 0, run = 0
        for i in 0..<Int(sent) {
            if seen[i] == 0 { run += 1; best = max(best, run) } else { run = 0 }
        }
        return best
    }

    /// Loss towards the responder, from its own count of probes received
    /// (1 − received / sent up to the reply that carried the count).
    public var forwardLoss: Double? {
        guard received > 0 else { return nil }
        let sentUpTo = Double(peerReceivedAtSequence + 1)
        return max(0, 1 - Double(peerReceived) / sentUpTo)
    }

    /// Loss on the way back: replies the responder sent (≈ probes it received) that never arrived.
    public var reverseLoss: Double? {
        guard let f = forwardLoss, sent > 0 else { return nil }
        let reachedPeer = Double(sent) * (1 - f)
        guard reachedPeer > 0 else { return nil }
        return max(0, 1 - Double(received) / reachedPeer)
    }

    /// Round-trip loss.
    public var loss: Double { sent == 0 ? 0 : Double(lost) / Double(sent) }
}
