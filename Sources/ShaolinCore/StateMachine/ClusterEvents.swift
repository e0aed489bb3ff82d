// What goes into the state machine and what comes out of it. No strings, no references:
// the real-time thread moves these around without allocating; the slow side formats them.

/// A node's role. The same values travel on the wire.
public typealias Role = WireRole

extension WireRole: CustomStringConvertible {
    public var description: String {
        switch self {
        case .booting: "BOOTING"
        case .standby: "STANDBY"
        case .fencing: "FENCING"
        case .active: "ACTIVE"
        case .leaving: "LEAVING"
        case .stopped: "STOPPED"
        }
    }
    /// Roles in which the node may write to the shared disks.
    public var holdsResources: Bool { self == .active || self == .leaving }
}

/// Commands an operator (or a service monitor) gives the local node.
public enum OperatorCommand: Sendable, Equatable {
    /// Hand the ACTIVE role to the peer (from either node).
    case switchover
    /// Put this node in standby: on the ACTIVE, hand over; on the STANDBY, nothing to do.
    case standby
    /// Stop reacting to failures (keep heartbeating), or resume.
    case maintenance(Bool)
    /// The operator vouches that the peer is powered off.
    case fenceConfirm
    /// An application rule failed beyond recovery on this node: hand over if possible.
    case localFailure
    /// Every application rule that reported `localFailure` is healthy again (or an operator
    /// reset it): clear the `unrecoverable` health bit. Accepted in every role; no role change.
    case localRecovered
}

/// Why the role changed (carried in `Action.roleChanged` and shown in status and logs).
public enum TransitionReason: UInt8, Sendable, CustomStringConvertible {
    case started
    case peerActive
    case lostTieBreak
    case peerStandby
    case noPeerAtBoot
    case peerDead
    case peerShutdown
    case handoverRequested
    case fenceConfirmed
    case operatorConfirmed
    case peerAliveAgain
    case handoverStarted
    case handoverGranted
    case handoverRefused
    case handoverTimedOut
    case handoverPeerLost
    case higherEpochActive
    case fencedByPeer
    case shutdown
    case failback

    public var description: String {
        switch self {
        case .started: "engine started"
        case .peerActive: "peer is ACTIVE"
        case .lostTieBreak: "lost the boot tie-break"
        case .peerStandby: "peer is STANDBY and hears us"
        case .noPeerAtBoot: "no peer heard within startup_timeout"
        case .peerDead: "peer declared dead"
        case .peerShutdown: "peer announced shutdown"
        case .handoverRequested: "peer asked us to take over"
        case .fenceConfirmed: "fence of the peer confirmed"
        case .operatorConfirmed: "operator confirmed the peer is down"
        case .peerAliveAgain: "peer heard again before it was fenced"
        case .handoverStarted: "graceful handover started"
        case .handoverGranted: "peer granted the takeover"
        case .handoverRefused: "peer refused the takeover"
        case .handoverTimedOut: "peer did not answer the takeover request"
        case .handoverPeerLost: "peer lost during handover"
        case .higherEpochActive: "another ACTIVE with a newer epoch"
        case .fencedByPeer: "peer is fencing this node"
        case .shutdown: "shutdown requested"
        case .failback: "failback to the preferred node"
        }
    }
}

/// Why a command or a takeover request was refused.
public enum RefusalReason: UInt32, Sendable, CustomStringConvertible {
    case maintenance = 1
    case unhealthy = 2
    case peerNotStandby = 3
    case peerUnreachable = 4
    case notActive = 5
    case peerAlive = 6
    case nothingToConfirm = 7
    case busy = 8
    case alreadyStandby = 9

    public var description: String {
        switch self {
        case .maintenance: "maintenance mode"
        case .unhealthy: "node unhealthy"
        case .peerNotStandby: "peer is not a healthy STANDBY"
        case .peerUnreachable: "peer is not reachable"
        case .notActive: "this node is not ACTIVE"
        case .peerAlive: "peer is alive (heard on a link)"
        case .nothingToConfirm: "no fence is pending"
        case .busy: "a role change is already in progress"
        case .alreadyStandby: "this node is already STANDBY"
        }
    }
}

/// Structured events for logs and counters. Numbers only; text is made on the slow side.
public enum ClusterLogEvent: Sendable, Equatable {
    case linkUp(link: UInt8)
    case linkDown(link: UInt8, silence: Nanos)
    case linkLate(link: UInt8, silence: Nanos)
    case peerDead(aliveLinks: Int)
    case peerDeadIgnored(maintenance: Bool)
    case peerAlive(incarnation: UInt64)
    case peerRestarted(previous: UInt64, incarnation: UInt64)
    case ownStall(lateness: Nanos)
    case fenceFailed(attempt: UInt32, retryIn: Nanos)
    case handoverRefused(RefusalReason)
    case takeoverRefusedByUs(RefusalReason)
    case dualActive(peerEpoch: UInt32, ourEpoch: UInt32)
    case frameLost(link: UInt8, count: UInt64)
}

/// What the shell must do after an event.
public enum Action: Sendable, Equatable {
    /// Encode and transmit `frame` on `link`.
    case send(link: UInt8, frame: Frame)
    /// Run the fencing methods against the peer; answer with `Event.fenceResult(attempt:)`.
    case fence(attempt: UInt32)
    /// Flush buffers (`sync`) within `timeout`; answer with `Event.syncFinished`.
    case sync(timeout: Nanos)
    case roleChanged(from: Role, to: Role, reason: TransitionReason)
    case log(ClusterLogEvent)
    /// Answer to an operator command (`id` from the request).
    case reply(id: UInt32, accepted: Bool, refusal: RefusalReason?)
    /// The handover is done: power this node off now (the peer is fencing it anyway).
    case shutdownSelf
    /// This node must stop acting as ACTIVE immediately (self-fence: reboot / exit).
    case standDown(TransitionReason)
    /// Graceful leave finished: exit the engine.
    case exit
}

/// Inputs other than frames and timer ticks.
public enum Event: Sendable, Equatable {
    /// The physical state of a link changed (e.g. ENETDOWN, serial device gone).
    case carrier(link: UInt8, up: Bool)
    case fenceResult(attempt: UInt32, confirmed: Bool)
    case syncFinished
    case command(OperatorCommand, id: UInt32)
    /// SIGTERM / planned shutdown.
    case shutdown
    /// Health bits maintained by the shell (watchdog armed, degraded real-time …).
    case localHealth(HealthFlags)
}
