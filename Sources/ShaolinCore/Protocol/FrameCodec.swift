// Encoding and authenticated decoding of frames into caller-owned buffers (no allocation).

/// Encodes and decodes frames for one cluster key.
public struct FrameCodec: Sendable {
    public let clusterID: UInt32
    @usableFromInline let hmac: HMACSHA256

    public init(clusterID: UInt32, key: ClusterKey) {
        self.clusterID = clusterID
        self.hmac = HMACSHA256(key: key.bytes)
    }

    /// Writes `frame` plus its tag into `out` (at least `FrameLayout.size` bytes).
    /// - Returns: the number of bytes written (always `FrameLayout.size`).
    @discardableResult
    public func encode(_ frame: Frame, into out: UnsafeMutableRawBufferPointer) -> Int {
        precondition(out.count >= FrameLayout.size, "frame buffer too small")
        out.storeBytes(of: FrameLayout.magic.bigEndian, toByteOffset: 0, as: UInt16.self)
        out[2] = FrameLayout.version
        out[3] = frame.type.rawValue
        out.storeBytes(of: frame.clusterID.bigEndian, toByteOffset: 4, as: UInt32.self)
        out.storeBytes(of: frame.sender.bigEndian, toByteOffset: 8, as: UInt16.self)
        out[10] = frame.link
        out[11] = frame.role.rawValue
        out.storeBytes(of: frame.health.rawValue.bigEndian, toByteOffset: 12, as: UInt16.self)
        out[14] = frame.peerView.rawValue
        out[15] = 0
        out.storeBytes(of: frame.incarnation.bigEndian, toByteOffset: 16, as: UInt64.self)
        out.storeBytes(of: frame.sequence.bigEndian, toByteOffset: 24, as: UInt64.self)
        out.storeBytes(of: frame.sendTime.bigEndian, toByteOffset: 32, as: UInt64.self)
        out.storeBytes(of: frame.peerIncarnationSeen.bigEndian, toByteOffset: 40, as: UInt64.self)
        out.storeBytes(of: frame.epoch.bigEndian, toByteOffset: 48, as: UInt32.self)
        out.storeBytes(of: frame.argument.bigEndian, toByteOffset: 52, as: UInt32.self)
        out.storeBytes(of: frame.echoTime.bigEndian, toByteOffset: 56, as: UInt64.self)
        var tag: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &tag) { t in
            hmac.mac(UnsafeRawBufferPointer(rebasing: out[0..<FrameLayout.headerSize]), into: t)
            (out.baseAddress! + FrameLayout.headerSize).copyMemory(from: t.baseAddress!, byteCount: FrameLayout.tagSize)
        }
        return FrameLayout.size
    }

    /// The outcome of decoding: a frame whose tag verified, or why not.
    public enum Decoded: Sendable, Equatable {
        case frame(Frame)
        case rejected(RejectReason)
    }

    /// Parses and authenticates `bytes`. Never traps, whatever the input.
    /// Checks, in order: length, magic, version, cluster id, tag, then the trusted fields.
    public func decode(_ bytes: UnsafeRawBufferPointer) -> Decoded {
        if bytes.count < FrameLayout.size { return .rejected(.truncated) }
        if bytes.count > FrameLayout.size { return .rejected(.oversized) }
        if UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt16.self)) != FrameLayout.magic {
            return .rejected(.badMagic)
        }
        if bytes[2] != FrameLayout.version { return .rejected(.badVersion) }
        let cluster = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        if cluster != clusterID { return .rejected(.wrongCluster) }
        var tag: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let tagOK = withUnsafeMutableBytes(of: &tag) { t -> Bool in
            hmac.mac(UnsafeRawBufferPointer(rebasing: bytes[0..<FrameLayout.headerSize]), into: t)
            return constantTimeEqual(
                UnsafeRawBufferPointer(rebasing: t[0..<FrameLayout.tagSize]),
                UnsafeRawBufferPointer(rebasing: bytes[FrameLayout.headerSize..<FrameLayout.size]))
        }
        if !tagOK { return .rejected(.badTag) }
        guard let type = FrameType(rawValue: bytes[3]) else { return .rejected(.unknownType) }
        guard let role = WireRole(rawValue: bytes[11]) else { return .rejected(.unknownRole) }
        guard let view = PeerView(rawValue: bytes[14]) else { return .rejected(.reservedNotZero) }
        let healthRaw = UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
        if bytes[15] != 0 || healthRaw & ~HealthFlags.known.rawValue != 0 { return .rejected(.reservedNotZero) }
        let incarnation = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        if incarnation == 0 { return .rejected(.zeroIncarnation) }
        return .frame(Frame(
            type: type,
            clusterID: cluster,
            sender: UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)),
            link: bytes[10],
            role: role,
            health: HealthFlags(rawValue: healthRaw),
            peerView: view,
            incarnation: incarnation,
            sequence: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
            sendTime: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 32, as: UInt64.self)),
            peerIncarnationSeen: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 40, as: UInt64.self)),
            epoch: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 48, as: UInt32.self)),
            argument: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 52, as: UInt32.self)),
            echoTime: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 56, as: UInt64.self))))
    }

    /// Convenience for tests and tools (allocates).
    public func encode(_ frame: Frame) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: FrameLayout.size)
        out.withUnsafeMutableBytes { _ = encode(frame, into: $0) }
        return out
    }

    public func decode(_ bytes: [UInt8]) -> Decoded { bytes.withUnsafeBytes { decode($0) } }
}
