// The heartbeat frame: a fixed 80-byte, big-endian layout (see docs/protocol.md).

/// What a frame asks of or tells the receiver.
public enum FrameType: UInt8, Sendable, CaseIterable {
    /// Periodic liveness and state report, on every link.
    case heartbeat = 1
    /// ACTIVE → STANDBY: please take over (graceful handover, after `sync`).
    case takeoverRequest = 2
    /// STANDBY → ACTIVE: I take over; shut down now, I am fencing you.
    case takeoverGrant = 3
    /// STANDBY → ACTIVE: I cannot take over (maintenance, unhealthy). `argument` holds the reason.
    case takeoverRefuse = 4
    /// The sender is leaving the cluster on purpose (SIGTERM, shutdown).
    case shutdownNotice = 5
    /// The sender is fencing (or has fenced) the receiver's incarnation in `peerIncarnationSeen`.
    case fenceNotice = 6
    /// Latency probe (benchmark); `echoTime` is answered in a probeReply.
    case probe = 7
    case probeReply = 8
}

/// A node's role as carried on the wire.
public enum WireRole: UInt8, Sendable, CaseIterable {
    case booting = 1, standby = 2, fencing = 3, active = 4, leaving = 5, stopped = 6
}

/// What the sender believes about the receiver.
public enum PeerView: UInt8, Sendable, CaseIterable {
    /// Never heard the receiver's current incarnation.
    case unknown = 0
    case alive = 1
    /// The sender judged the receiver dead.
    case dead = 2
    case fencing = 3
    case fenced = 4
}

/// Health bits the sender reports about itself.
public struct HealthFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Operator maintenance: the node heartbeats but does not react.
    public static let maintenance = HealthFlags(rawValue: 1 << 0)
    /// An application rule failed beyond recovery; the node wants to hand over.
    public static let unrecoverable = HealthFlags(rawValue: 1 << 1)
    /// Running without SCHED_FIFO or mlock.
    public static let degradedRealtime = HealthFlags(rawValue: 1 << 2)
    /// The hardware watchdog is armed.
    public static let watchdogArmed = HealthFlags(rawValue: 1 << 3)
    /// Flushing buffers before a handover.
    public static let syncing = HealthFlags(rawValue: 1 << 4)
    public static let known: HealthFlags = [.maintenance, .unrecoverable, .degradedRealtime, .watchdogArmed, .syncing]
}

/// One decoded frame. Plain value, no references: building and reading one never allocates.
public struct Frame: Sendable, Equatable {
    public var type: FrameType
    public var clusterID: UInt32
    public var sender: UInt16
    public var link: UInt8
    public var role: WireRole
    public var health: HealthFlags
    public var peerView: PeerView
    /// Changes at every engine start (random 64-bit), never 0.
    public var incarnation: UInt64
    /// Per link, starts at 1 and increases by one per frame sent on that link.
    public var sequence: UInt64
    /// Sender's monotonic clock at send, ns.
    public var sendTime: UInt64
    /// The receiver's incarnation as last heard by the sender (0 = none). Proves freshness.
    public var peerIncarnationSeen: UInt64
    /// Cluster term: increases at every takeover; the higher epoch's ACTIVE wins.
    public var epoch: UInt32
    /// Type-specific (refuse reason, probe id …).
    public var argument: UInt32
    /// The `sendTime` of the last frame received from the receiver on this link (RTT), 0 if none.
    public var echoTime: UInt64

    public init(
        type: FrameType, clusterID: UInt32, sender: UInt16, link: UInt8, role: WireRole,
        health: HealthFlags = [], peerView: PeerView = .unknown, incarnation: UInt64, sequence: UInt64,
        sendTime: UInt64, peerIncarnationSeen: UInt64 = 0, epoch: UInt32 = 0, argument: UInt32 = 0,
        echoTime: UInt64 = 0
    ) {
        self.type = type
        self.clusterID = clusterID
        self.sender = sender
        self.link = link
        self.role = role
        self.health = health
        self.peerView = peerView
        self.incarnation = incarnation
        self.sequence = sequence
        self.sendTime = sendTime
        self.peerIncarnationSeen = peerIncarnationSeen
        self.epoch = epoch
        self.argument = argument
        self.echoTime = echoTime
    }
}

/// Byte offsets of the wire layout.
public enum FrameLayout {
    public static let magic: UInt16 = 0x5348  // "SH"
    public static let version: UInt8 = 1
    /// Bytes covered by the tag.
    public static let headerSize = 64
    /// Truncated HMAC-SHA256 tag: the first 16 of its 32 bytes (128-bit security against forgery).
    public static let tagSize = 16
    public static let size = headerSize + tagSize  // 80
}
