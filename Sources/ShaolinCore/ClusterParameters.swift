// The parameters the cluster state machine runs with: validated numbers, no file syntax.
// `Configuration` (the TOML file model) produces these; the simulator builds them directly.

/// Order used to break a tie between two nodes that boot at the same time with the
/// same priority (the manual's `BOOT_ORDER=asc|dsc`).
public enum BootOrder: String, Sendable, CaseIterable {
    /// The lower node id wins.
    case ascending = "asc"
    /// The higher node id wins.
    case descending = "dsc"
}

/// Timing and policy of one heartbeat link, as the state machine sees it.
public struct LinkParameters: Sendable, Equatable {
    /// Small integer carried in every frame; unique per cluster (0..<`ClusterParameters.maxLinks`).
    public var id: UInt8
    /// Interval between heartbeats sent on this link.
    public var keepalive: Nanos
    /// Silence after which the link is considered dead.
    public var deadtime: Nanos
    /// Silence after which a late-heartbeat warning is raised (warntime < deadtime).
    public var warntime: Nanos
    /// A critical link's death alone declares the peer dead (the manual's IS_CRITICAL).
    public var critical: Bool

    public init(id: UInt8, keepalive: Nanos, deadtime: Nanos, warntime: Nanos, critical: Bool = false) {
        self.id = id
        self.keepalive = keepalive
        self.deadtime = deadtime
        self.warntime = warntime
        self.critical = critical
    }
}

/// Everything the pure state machine needs to know about the cluster.
public struct ClusterParameters: Sendable, Equatable {
    public static let maxLinks = 8

    public var clusterID: UInt32
    public var localNodeID: UInt16
    public var peerNodeID: UInt16
    /// Higher priority wins a simultaneous boot.
    public var localPriority: UInt8
    public var peerPriority: UInt8
    public var bootOrder: BootOrder
    public var links: [LinkParameters]
    /// The peer is dead when fewer links than this are alive (the manual's "Minimum Alive Channel").
    public var minAliveLinks: Int
    /// How long a booting node listens for the peer before deciding alone.
    public var startupTimeout: Nanos
    /// Upper bound for flushing buffers (`sync`) before a graceful handover (the manual's SYNC_WAIT).
    public var syncTimeout: Nanos
    /// How long the ACTIVE waits for the STANDBY's answer to a takeover request.
    public var takeoverRequestTimeout: Nanos
    /// Delay before the tie-break loser fences a peer that may be alive (simultaneous boot, no contact).
    public var fenceRaceDelay: Nanos
    /// First retry delay after a failed fence; doubles up to `fenceRetryMax`.
    public var fenceRetryInitial: Nanos
    public var fenceRetryMax: Nanos
    /// A wake-up later than this after its deadline counts as an own stall (VM steal, kernel stall).
    public var stallThreshold: Nanos
    /// Extra grace after a stall, on top of one keepalive, before deadlines are judged again.
    public var stallGraceMargin: Nanos
    /// The preferred node (the manual's MASTER_SERVER), or nil for none.
    public var preferredNodeID: UInt16?
    /// How long the preferred node must be a healthy STANDBY before it gets the role back.
    public var failbackDelay: Nanos
    /// Number of takeover/shutdown notices repeated on every link to survive loss.
    public var noticeRepeats: Int

    public init(
        clusterID: UInt32, localNodeID: UInt16, peerNodeID: UInt16,
        localPriority: UInt8 = 100, peerPriority: UInt8 = 100, bootOrder: BootOrder = .ascending,
        links: [LinkParameters], minAliveLinks: Int = 1,
        startupTimeout: Nanos = .seconds(5), syncTimeout: Nanos = .seconds(10),
        takeoverRequestTimeout: Nanos? = nil, fenceRaceDelay: Nanos = .seconds(5),
        fenceRetryInitial: Nanos = .seconds(1), fenceRetryMax: Nanos = .seconds(30),
        stallThreshold: Nanos? = nil, stallGraceMargin: Nanos? = nil,
        preferredNodeID: UInt16? = nil, failbackDelay: Nanos = .seconds(10), noticeRepeats: Int = 3
    ) {
        self.clusterID = clusterID
        self.localNodeID = localNodeID
        self.peerNodeID = peerNodeID
        self.localPriority = localPriority
        self.peerPriority = peerPriority
        self.bootOrder = bootOrder
        self.links = links
        self.minAliveLinks = minAliveLinks
        self.startupTimeout = startupTimeout
        self.syncTimeout = syncTimeout
        let maxDead = links.map(\.deadtime).max() ?? .seconds(1)
        let minKeep = links.map(\.keepalive).min() ?? .ms(100)
        self.takeoverRequestTimeout = takeoverRequestTimeout ?? maxDead
        self.fenceRaceDelay = fenceRaceDelay
        self.fenceRetryInitial = fenceRetryInitial
        self.fenceRetryMax = fenceRetryMax
        // Default: a wake-up half a keepalive late (at least 20 ms) is a stall.
        self.stallThreshold = stallThreshold ?? Nanos(max(minKeep.value / 2, Nanos.ms(20).value))
        self.stallGraceMargin = stallGraceMargin ?? Nanos(max(minKeep.value, Nanos.ms(20).value))
        self.preferredNodeID = preferredNodeID
        self.failbackDelay = failbackDelay
        self.noticeRepeats = noticeRepeats
    }

    /// Who wins a tie between two booting nodes: higher priority, then boot order on node id.
    public var localWinsTieBreak: Bool {
        if localPriority != peerPriority { return localPriority > peerPriority }
        switch bootOrder {
        case .ascending: return localNodeID < peerNodeID
        case .descending: return localNodeID > peerNodeID
        }
    }

    /// The rule problems of these numbers, each with the name of what is wrong.
    /// `Configuration` reports the same rules with file keys and lines.
    public func problems() -> [String] {
        var out: [String] = []
        if links.isEmpty { out.append("at least one link is required") }
        if links.count > Self.maxLinks { out.append("at most \(Self.maxLinks) links are supported, \(links.count) given") }
        if localNodeID == peerNodeID { out.append("node id and peer id must differ (both \(localNodeID))") }
        if minAliveLinks < 1 || minAliveLinks > max(1, links.count) {
            out.append("min_alive_links must be between 1 and the number of links (\(links.count)), got \(minAliveLinks)")
        }
        var seen = Set<UInt8>()
        for l in links {
            if !seen.insert(l.id).inserted { out.append("link id \(l.id) used twice") }
            if l.keepalive.value <= 0 { out.append("link \(l.id): keepalive must be positive") }
            if l.deadtime.value <= 2 * l.keepalive.value {
                out.append("link \(l.id): deadtime (\(l.deadtime)) must be more than 2 x keepalive (\(l.keepalive))")
            }
            if !(l.keepalive < l.warntime && l.warntime < l.deadtime) {
                out.append("link \(l.id): warntime (\(l.warntime)) must lie between keepalive (\(l.keepalive)) and deadtime (\(l.deadtime))")
            }
        }
        let maxDead = links.map(\.deadtime).max() ?? .zero
        if startupTimeout < maxDead {
            out.append("startup_timeout (\(startupTimeout)) must be at least the longest deadtime (\(maxDead))")
        }
        if fenceRetryInitial.value <= 0 || fenceRetryMax < fenceRetryInitial {
            out.append("fence retry delays must satisfy 0 < initial <= max")
        }
        if let p = preferredNodeID, p != localNodeID, p != peerNodeID {
            out.append("preferred node id \(p) is neither this node nor the peer")
        }
        return out
    }
}
