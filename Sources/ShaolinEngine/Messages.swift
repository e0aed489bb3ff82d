// What crosses between the real-time thread and the slow side. Plain values only.

import ShaolinCore

/// Real-time → slow side.
public enum SlowMessage: Sendable {
    case action(Action)
    /// One deadline reached, ns past it: `wakeup` when the thread was
    /// running again (what cyclictest measures), `judged` when the deadline was judged (after
    /// every link was drained and the slow side's inputs were handled).
    case lateness(wakeup: Int64, judged: Int64)
    case status(StatusHeader)
    case link(LinkStatus)
    /// The watchdog health verdict changed (log it).
    case watchdog(WatchdogVerdict)
}

/// Slow side → real-time.
public enum RealtimeInput: Sendable {
    case fenceResult(attempt: UInt32, confirmed: Bool)
    case syncFinished
    case command(OperatorCommand, id: UInt32)
}

/// Node-level status published by the real-time loop.
public struct StatusHeader: Sendable {
    public var now: Int64 = 0
    public var incarnation: UInt64 = 0
    public var role: Role = .booting
    public var reason: TransitionReason = .started
    public var roleSince: Int64 = 0
    public var epoch: UInt32 = 0
    public var health: HealthFlags = []
    public var peerKnown = false
    public var peerAlive = false
    public var peerRole: Role = .booting
    public var peerIncarnation: UInt64 = 0
    public var peerEpoch: UInt32 = 0
    public var peerView: PeerView = .unknown
    public var peerHealth: HealthFlags = []
    public var fenceAttempt: UInt32 = 0
    public var fenceInFlight = false
    public var fenceFailures: UInt32 = 0
    public var stalls: UInt64 = 0
    /// Times the real-time loop woke up (returned from epoll_wait) since it started.
    public var wakeups: UInt64 = 0
    /// Whether an arriving frame wakes the loop (`[realtime] wake_on_frames`).
    public var wakeOnFrames = false
    public var longestStall: Int64 = 0
    public var slowQueueDrops: UInt64 = 0
    public var aliveLinks: Int = 0
    public var realtimeDegraded = false
    public var watchdog = WatchdogStatus()
}

/// One link's status.
public struct LinkStatus: Sendable {
    public var id: UInt8 = 0
    public var alive = false
    public var carrierUp = false
    public var counters = LinkCounters()
    public var lastHeardAgo: Int64 = -1
    public var sendDrops: UInt64 = 0
    public var framingRejects: UInt64 = 0
}
