// The benchmark's probe and reply frames: the size of a heartbeat (80 bytes), authenticated
// with the cluster key like a heartbeat, but with their own magic ("SB") so neither side can
// ever mistake one for a heartbeat (the engine's codec rejects them at the magic check).
//
// Layout (big-endian), 64 bytes covered by a 16-byte truncated HMAC-SHA256 tag:
//   0  magic 0x5342 "SB"        2  version (1)          3  kind (1 probe, 2 reply)
//   4  link id                   5..7 reserved (0)
//   8  session (random per run)  16 sequence             24 initiator send time (ns, its CLOCK_MONOTONIC)
//   32 interval (ns)             40 responder receive time (ns, its clock)
//   48 responder send time (ns)  56 responder: probes received this session (UInt32)
//   60 responder: lateness of its latest loop wake-up (µs, UInt32)
//   64 tag (16)

import ShaolinCore

public enum ProbeKind: UInt8, Sendable {
    case probe = 1
    case reply = 2
}

/// The fields of one probe or reply.
public struct ProbeFields: Sendable, Equatable {
    public var kind: ProbeKind
    public var link: UInt8
    public var session: UInt64
    public var sequence: UInt64
    public var sendTime: Int64
    public var interval: Int64
    public var responderReceive: Int64 = 0
    public var responderSend: Int64 = 0
    public var responderReceived: UInt32 = 0
    public var responderLatenessMicros: UInt32 = 0

    public init(kind: ProbeKind, link: UInt8, session: UInt64, sequence: UInt64, sendTime: Int64, interval: Int64) {
        self.kind = kind
        self.link = link
        self.session = session
        self.sequence = sequence
        self.sendTime = sendTime
        self.interval = interval
    }
}

/// Why a received frame was not accepted as a probe or reply.
public enum ProbeReject: Sendable, Equatable {
    case length
    /// The frame starts with the engine's heartbeat magic: a shaolind is running on this link.
    case heartbeat
    case magic
    case version
    case kind
    case tag
}

/// Encodes and checks probe frames with the cluster key. `encode` and `decode` do not allocate.
public struct ProbeCodec: Sendable {
    public static let magic: UInt16 = 0x5342  // "SB"
    public static let version: UInt8 = 1
    public static let headerSize = 64
    public static let tagSize = 16
    public static let size = headerSize + tagSize  // 80, the size of a heartbeat

    let hmac: HMACSHA256

    public init(key: ClusterKey) {
        hmac = HMACSHA256(key: key.bytes)
    }

    /// Writes the frame into `out` (≥ 80 bytes) and returns its size.
    public func encode(_ f: ProbeFields, into out: UnsafeMutableRawBufferPointer) -> Int {
        precondition(out.count >= Self.size)
        out.storeBytes(of: Self.magic.bigEndian, toByteOffset: 0, as: UInt16.self)
        out[2] = Self.version
        out[3] = f.kind.rawValue
        out[4] = f.link
        out[5] = 0; out[6] = 0; out[7] = 0
        out.storeBytes(of: f.session.bigEndian, toByteOffset: 8, as: UInt64.self)
        out.storeBytes(of: f.sequence.bigEndian, toByteOffset: 16, as: UInt64.self)
        out.storeBytes(of: f.sendTime.bigEndian, toByteOffset: 24, as: Int64.self)
        out.storeBytes(of: f.interval.bigEndian, toByteOffset: 32, as: Int64.self)
        out.storeBytes(of: f.responderReceive.bigEndian, toByteOffset: 40, as: Int64.self)
        out.storeBytes(of: f.responderSend.bigEndian, toByteOffset: 48, as: Int64.self)
        out.storeBytes(of: f.responderReceived.bigEndian, toByteOffset: 56, as: UInt32.self)
        out.storeBytes(of: f.responderLatenessMicros.bigEndian, toByteOffset: 60, as: UInt32.self)
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { tag in
            hmac.mac(UnsafeRawBufferPointer(rebasing: out[0..<Self.headerSize]), into: tag)
            for i in 0..<Self.tagSize { out[Self.headerSize + i] = tag[i] }
        }
        return Self.size
    }

    /// Checks and decodes a received frame.
    public func decode(_ bytes: UnsafeRawBufferPointer) -> Result<ProbeFields, ProbeRejectError> {
        // A heartbeat is exactly as long as a probe: look at the magic first.
        if bytes.count >= 2 {
            let m = UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt16.self))
            if m == FrameLayout.magic { return .failure(ProbeRejectError(.heartbeat)) }
            if m != Self.magic { return .failure(ProbeRejectError(bytes.count < Self.size ? .length : .magic)) }
        }
        guard bytes.count >= Self.size else { return .failure(ProbeRejectError(.length)) }
        guard bytes[2] == Self.version else { return .failure(ProbeRejectError(.version)) }
        guard let kind = ProbeKind(rawValue: bytes[3]) else { return .failure(ProbeRejectError(.kind)) }
        let ok = withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { tag -> Bool in
            hmac.mac(UnsafeRawBufferPointer(rebasing: bytes[0..<Self.headerSize]), into: tag)
            return constantTimeEqual(UnsafeRawBufferPointer(rebasing: tag[0..<Self.tagSize]),
                                     UnsafeRawBufferPointer(rebasing: bytes[Self.headerSize..<Self.size]))
        }
        guard ok else { return .failure(ProbeRejectError(.tag)) }
        var f = ProbeFields(
            kind: kind, link: bytes[4],
            session: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            sequence: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            sendTime: Int64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: Int64.self)),
            interval: Int64(bigEndian: bytes.loadUnaligned(fromByteOffset: 32, as: Int64.self)))
        f.responderReceive = Int64(bigEndian: bytes.loadUnaligned(fromByteOffset: 40, as: Int64.self))
        f.responderSend = Int64(bigEndian: bytes.loadUnaligned(fromByteOffset: 48, as: Int64.self))
        f.responderReceived = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 56, as: UInt32.self))
        f.responderLatenessMicros = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 60, as: UInt32.self))
        return .success(f)
    }
}

/// A `ProbeReject` as an `Error` (for `Result`).
public struct ProbeRejectError: Error, Sendable, Equatable {
    public var reason: ProbeReject
    public init(_ r: ProbeReject) { reason = r }
}
