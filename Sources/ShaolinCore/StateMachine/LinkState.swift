// Per-link liveness and counters, owned by the state machine.

/// Counters of one link, as shown in status.
public struct LinkCounters: Sendable, Equatable {
    public var sent: UInt64 = 0
    public var received: UInt64 = 0
    public var rejected = RejectCounters()
    /// Heartbeats that arrived after warntime of silence (late) — counted once per silence.
    public var late: UInt64 = 0
    /// Sequence gaps: frames the peer sent that never arrived (loss estimate).
    public var lost: UInt64 = 0
    public var downTransitions: UInt64 = 0
    /// Last round-trip estimate from echoed timestamps, ns (0 = unknown).
    public var lastRTT: Int64 = 0
    public init() {}
}

/// The state machine's view of one link.
public struct LinkState: Sendable {
    public let parameters: LinkParameters
    /// Last time an accepted frame arrived on this link.
    public internal(set) var lastHeard: Instant?
    /// Whether the link was alive at the last evaluation (for up/down transitions).
    public internal(set) var alive = false
    /// Physical state reported by the shell (interface down, serial device gone).
    public internal(set) var carrierUp = true
    public internal(set) var warned = false
    public internal(set) var counters = LinkCounters()
    var nextSend: Instant = .zero
    var txSequence: UInt64 = 0
    var window = ReplayWindow()
    /// The peer's `sendTime` of the last frame accepted here, echoed back for RTT.
    var lastPeerSendTime: UInt64 = 0
    /// Our local receive time of that frame (to correct the echo for our holding time).
    var lastPeerFrameAt: Instant = .zero

    init(parameters: LinkParameters) { self.parameters = parameters }

    /// Alive: heard within deadtime (counting from `since` when never heard) and carrier up.
    func isAlive(now: Instant, since: Instant) -> Bool {
        carrierUp && now < (lastHeard ?? since) + parameters.deadtime
    }

    func silence(now: Instant, since: Instant) -> Nanos { now - (lastHeard ?? since) }
}
