// The cluster state machine: pure, deterministic, allocation-free in steady state.
// Events in (frames, ticks, results, commands), actions out. Time is injected.
// See docs/state-machine.md for the diagram and every transition with its guard.

/// What this node knows about its peer.
public struct PeerState: Sendable {
    public internal(set) var guardState = IncarnationGuard()
    /// The peer's current incarnation is verified and heard.
    public internal(set) var known = false
    /// When the current incarnation became known (links never heard count silence from here).
    public internal(set) var knownSince: Instant = .zero
    public internal(set) var role: Role = .booting
    public internal(set) var health: HealthFlags = []
    public internal(set) var epoch: UInt32 = 0
    /// What the peer says about us.
    public internal(set) var view: PeerView = .unknown
    /// Liveness verdict by the link rules.
    public internal(set) var alive = false
    /// Heard something authentic (even unverified) since we started.
    public internal(set) var everHeard = false
    /// Since when the peer is a healthy STANDBY that hears us (for failback).
    public internal(set) var healthyStandbySince: Instant?
    public var incarnation: UInt64 { guardState.current }
}

/// Fencing progress.
public struct FenceState: Sendable {
    public internal(set) var attempt: UInt32 = 0
    public internal(set) var inFlight = false
    public internal(set) var nextTryAt: Instant = .never
    public internal(set) var backoff: Nanos = .zero
    public internal(set) var failures: UInt32 = 0
    public internal(set) var reason: TransitionReason = .peerDead
    public internal(set) var startedAt: Instant = .zero
}

public struct ClusterStateMachine: Sendable {
    public let parameters: ClusterParameters
    /// This engine run's incarnation (random, never 0).
    public let incarnation: UInt64
    public let codec: FrameCodec

    public private(set) var role: Role = .booting
    public private(set) var lastReason: TransitionReason = .started
    public private(set) var roleSince: Instant = .zero
    /// Cluster term; increases with every takeover.
    public private(set) var epoch: UInt32 = 0
    public private(set) var maintenance = false
    public private(set) var unrecoverable = false
    /// Health bits supplied by the shell.
    public private(set) var shellHealth: HealthFlags = []
    public private(set) var links: [LinkState]
    public private(set) var peer = PeerState()
    public private(set) var fence = FenceState()
    /// Own-stall bookkeeping.
    public private(set) var stallCount: UInt64 = 0
    public private(set) var longestStall: Nanos = .zero
    public private(set) var graceUntil: Instant = .zero
    /// Frames rejected before a link could be attributed (bad link id).
    public private(set) var unattributedRejects = RejectCounters()

    /// The earliest instant at which `tick` must be called.
    public private(set) var nextDeadline: Instant = .zero

    /// Actions produced by the last calls; the caller consumes them with `drainActions`.
    public private(set) var actions: ContiguousArray<Action>

    private var started = false
    private var bootDeadline: Instant = .never
    private var expectedWake: Instant = .never
    private var leavePhaseDeadline: Instant = .never
    private var leaveSyncing = false
    private var leaveNextRequest: Instant = .never
    private var peerDeadReported = false
    private let maxKeepalive: Nanos
    private let minKeepalive: Nanos

    /// Test-only sabotage used to prove that the simulator's invariant checks can fail:
    /// take over on peer death *without* fencing. Never set outside tests.
    @_spi(Testing) public var unsafeSkipFenceConfirmation = false

    public init(parameters: ClusterParameters, codec: FrameCodec, incarnation: UInt64) {
        precondition(incarnation != 0, "incarnation must not be 0")
        self.parameters = parameters
        self.codec = codec
        self.incarnation = incarnation
        self.links = parameters.links.map { LinkState(parameters: $0) }
        self.maxKeepalive = parameters.links.map(\.keepalive).max() ?? .ms(100)
        self.minKeepalive = parameters.links.map(\.keepalive).min() ?? .ms(100)
        self.actions = []
        self.actions.reserveCapacity(256)
    }

    // MARK: - Entry points

    /// Starts the node: BOOTING, listening for `startupTimeout`.
    public mutating func start(now: Instant) {
        guard !started else { return }
        started = true
        roleSince = now
        bootDeadline = now + parameters.startupTimeout
        for i in links.indices { links[i].nextSend = now }
        emit(.roleChanged(from: .booting, to: .booting, reason: .started))
        tick(now: now)
    }

    /// Handles raw bytes received on `link` (already stripped of link framing).
    ///
    /// `receivedAt`: when the frame arrived, if the shell knows it (a kernel receive
    /// timestamp), else nil for `now`. It dates the frame for liveness (`lastHeard`) and for
    /// the round-trip estimate, so a frame read some time after it arrived (the shell reads
    /// its links at its own deadlines) counts from its arrival. Clamped to `now`.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer, link: UInt8, now: Instant, receivedAt: Instant? = nil) {
        observe(now)
        switch codec.decode(bytes) {
        case .rejected(let reason): reject(reason, link: link)
        case .frame(let frame): accept(frame, link: link, now: now, arrived: min(receivedAt ?? now, now))
        }
        recomputeDeadline(now: now)
    }

    /// Timer expiry: sends due heartbeats and judges deadlines. Call at or after `nextDeadline`.
    public mutating func tick(now: Instant) {
        observe(now)
        guard role != .stopped else { recomputeDeadline(now: now, afterTick: true); return }
        evaluateLiveness(now: now)
        runRoleTimers(now: now)
        sendDueHeartbeats(now: now)
        recomputeDeadline(now: now, afterTick: true)
    }

    public mutating func handle(_ event: Event, now: Instant) {
        observe(now)
        switch event {
        case .carrier(let link, let up):
            if let i = index(of: link) {
                links[i].carrierUp = up
                evaluateLiveness(now: now)
                runRoleTimers(now: now)
            }
        case .fenceResult(let attempt, let confirmed):
            fenceResult(attempt: attempt, confirmed: confirmed, now: now)
        case .syncFinished:
            if role == .leaving && leaveSyncing { startTakeoverRequests(now: now) }
        case .command(let command, let id):
            operatorCommand(command, id: id, now: now)
        case .shutdown:
            shutdown(now: now)
        case .localHealth(let flags):
            shellHealth = flags.subtracting([.maintenance, .unrecoverable])
        }
        sendDueHeartbeats(now: now)
        recomputeDeadline(now: now)
    }

    /// Hands each pending action to `body`, then clears the list (keeping its storage).
    public mutating func drainActions(_ body: (Action) throws -> Void) rethrows {
        for a in actions { try body(a) }
        actions.removeAll(keepingCapacity: true)
    }

    // MARK: - Health and views

    public var health: HealthFlags {
        var h = shellHealth
        if maintenance { h.insert(.maintenance) }
        if unrecoverable { h.insert(.unrecoverable) }
        if role == .leaving && leaveSyncing { h.insert(.syncing) }
        return h
    }

    /// Number of links currently alive.
    public func aliveLinks(now: Instant) -> Int {
        var n = 0
        for l in links where l.isAlive(now: now, since: peer.knownSince) { n += 1 }
        return n
    }

    private var ourViewOfPeer: PeerView {
        if role == .fencing { return .fencing }
        if peer.known { return peer.alive ? .alive : .dead }
        return peer.everHeard ? .alive : .unknown
    }

    // MARK: - Receiving

    private mutating func reject(_ reason: RejectReason, link: UInt8) {
        if let i = index(of: link) { links[i].counters.rejected.count(reason) } else { unattributedRejects.count(reason) }
    }

    private mutating func accept(_ f: Frame, link: UInt8, now: Instant, arrived: Instant) {
        guard let li = index(of: link) else { unattributedRejects.count(.linkMismatch); return }
        if f.sender == parameters.localNodeID {
            if f.incarnation == incarnation { reject(.ownFrame, link: link); return }
            reject(.unknownSender, link: link); return
        }
        if f.sender != parameters.peerNodeID { reject(.unknownSender, link: link); return }
        if f.link != link { reject(.linkMismatch, link: link); return }
        if role == .stopped { return }

        switch peer.guardState.check(incarnation: f.incarnation, echoed: f.peerIncarnationSeen, ours: incarnation) {
        case .retired:
            reject(.retiredIncarnation, link: link); return
        case .unverified:
            peer.everHeard = true
            reject(.unverifiedIncarnation, link: link); return
        case .newVerified(let previous):
            for i in links.indices {
                links[i].window.reset()
                links[i].lastHeard = nil
                links[i].alive = false
                links[i].warned = false
            }
            peer.known = true
            peer.knownSince = now
            peer.healthyStandbySince = nil
            peerDeadReported = false
            if previous != 0 { emit(.log(.peerRestarted(previous: previous, incarnation: f.incarnation))) }
        case .current:
            break
        }

        switch links[li].window.check(f.sequence) {
        case .replayed: reject(.replayed, link: link); return
        case .tooOld: reject(.tooOld, link: link); return
        case .acceptAfterGap(let gap):
            links[li].counters.lost &+= gap
        case .accept: break
        }

        // Accepted: liveness first.
        peer.everHeard = true
        let l = links[li]
        if l.warned || !l.alive {
            if l.warned { links[li].counters.late &+= 1 }
        }
        links[li].lastHeard = max(l.lastHeard ?? arrived, arrived)
        links[li].warned = false
        links[li].counters.received &+= 1
        links[li].lastPeerSendTime = f.sendTime
        links[li].lastPeerFrameAt = arrived
        if f.echoTime != 0 {
            let rtt = arrived.nanoseconds &- Int64(bitPattern: f.echoTime)
            if rtt >= 0 { links[li].counters.lastRTT = rtt }
        }
        if !links[li].alive && links[li].carrierUp {
            links[li].alive = true
            emit(.log(.linkUp(link: link)))
        }
        peer.role = f.role
        peer.health = f.health
        peer.view = f.peerIncarnationSeen == incarnation ? f.peerView : .unknown
        if f.epoch > peer.epoch || f.role == .active { peer.epoch = f.epoch }
        if !peer.alive && aliveLinks(now: now) >= 1 && !peerDeadByRules(now: now) {
            peer.alive = true
            peerDeadReported = false
            emit(.log(.peerAlive(incarnation: f.incarnation)))
        }
        if f.role == .standby && !f.health.contains(.maintenance) && !f.health.contains(.unrecoverable)
            && peer.view == .alive {
            if peer.healthyStandbySince == nil { peer.healthyStandbySince = now }
        } else {
            peer.healthyStandbySince = nil
        }

        switch f.type {
        case .heartbeat: peerHeartbeat(f, now: now)
        case .takeoverRequest: takeoverRequested(now: now)
        case .takeoverGrant:
            if role == .leaving && !leaveSyncing {
                setRole(.stopped, .handoverGranted, now: now)
                emit(.shutdownSelf)
            }
        case .takeoverRefuse:
            if role == .leaving {
                let reason = RefusalReason(rawValue: f.argument) ?? .unhealthy
                emit(.log(.handoverRefused(reason)))
                endLeaving()
                setRole(.active, .handoverRefused, now: now)
            }
        case .shutdownNotice: peerShutdown(now: now)
        case .fenceNotice:
            if f.peerIncarnationSeen == incarnation && role.holdsResources {
                standDown(.fencedByPeer, now: now)
            } else {
                peerHeartbeat(f, now: now)
            }
        case .probe, .probeReply:
            break
        }
    }

    /// Reaction to the peer's reported role (heartbeat or any state-carrying frame).
    private mutating func peerHeartbeat(_ f: Frame, now: Instant) {
        switch role {
        case .booting:
            switch f.role {
            case .active, .leaving:
                epoch = max(epoch, f.epoch)
                setRole(.standby, .peerActive, now: now)
            case .booting:
                if !parameters.localWinsTieBreak { setRole(.standby, .lostTieBreak, now: now) }
            case .standby:
                // The peer waits as STANDBY and hears this incarnation: it will not take over
                // without fencing us, so we may serve.
                if peer.view == .alive && !f.health.contains(.maintenance) && !maintenance {
                    becomeActive(.peerStandby, now: now)
                }
            case .fencing, .stopped:
                break  // The peer is fencing someone (perhaps our previous run) or leaving: wait.
            }
        case .standby:
            switch f.role {
            case .active, .leaving:
                epoch = max(epoch, f.epoch)
            case .standby:
                // Two STANDBYs and nobody serving (e.g. after an aborted handover): the tie-break
                // winner serves; the loser stays STANDBY and would fence before ever serving.
                if parameters.localWinsTieBreak && peer.view == .alive && !maintenance
                    && !f.health.contains(.maintenance) {
                    becomeActive(.peerStandby, now: now)
                }
            case .booting, .fencing, .stopped:
                break
            }
        case .fencing:
            // Abort only if no fence is in flight and the peer is demonstrably alive and serving
            // or booting anew; an in-flight fence is always completed.
            if !fence.inFlight && peer.alive {
                switch f.role {
                case .active, .leaving:
                    epoch = max(epoch, f.epoch)
                    setRole(.standby, .peerAliveAgain, now: now)
                case .booting:
                    if fence.reason == .noPeerAtBoot || fence.reason == .peerDead {
                        if parameters.localWinsTieBreak {
                            setRole(.booting, .peerAliveAgain, now: now)
                            bootDeadline = now + parameters.startupTimeout
                        } else {
                            setRole(.standby, .peerAliveAgain, now: now)
                        }
                    }
                case .standby:
                    setRole(.booting, .peerAliveAgain, now: now)
                    bootDeadline = now + parameters.startupTimeout
                    peerHeartbeat(f, now: now)
                case .fencing, .stopped:
                    break
                }
            }
        case .active, .leaving:
            if f.role == .active || f.role == .leaving {
                emit(.log(.dualActive(peerEpoch: f.epoch, ourEpoch: epoch)))
                let peerWins = f.epoch > epoch || (f.epoch == epoch && !parameters.localWinsTieBreak)
                if peerWins { standDown(.higherEpochActive, now: now) }
            } else if f.role == .fencing && f.peerView == .fencing && f.peerIncarnationSeen == incarnation {
                standDown(.fencedByPeer, now: now)
            }
        case .stopped:
            break
        }
    }

    private mutating func takeoverRequested(now: Instant) {
        switch role {
        case .standby:
            let refusal: RefusalReason? = maintenance ? .maintenance : (unrecoverable ? .unhealthy : nil)
            if let r = refusal {
                emit(.log(.takeoverRefusedByUs(r)))
                broadcast(.takeoverRefuse, argument: r.rawValue, now: now)
            } else {
                broadcast(.takeoverGrant, argument: 0, now: now)
                beginFencing(.handoverRequested, delay: .zero, now: now)
            }
        case .fencing:
            if fence.reason == .handoverRequested { broadcast(.takeoverGrant, argument: 0, now: now) }
        default:
            break
        }
    }

    private mutating func peerShutdown(now: Instant) {
        switch role {
        case .standby, .booting:
            if maintenance {
                emit(.log(.peerDeadIgnored(maintenance: true)))
            } else {
                beginFencing(.peerShutdown, delay: .zero, now: now)
            }
        default:
            break
        }
    }

    // MARK: - Time

    /// Own-stall detection: a wake-up later than `stallThreshold` after the deadline we asked for
    /// means we were not scheduled; the peer gets a grace period before deadlines are judged.
    private mutating func observe(_ now: Instant) {
        if expectedWake != .never && now > expectedWake + parameters.stallThreshold {
            let lateness = now - expectedWake
            stallCount &+= 1
            if lateness > longestStall { longestStall = lateness }
            graceUntil = max(graceUntil, now + maxKeepalive + parameters.stallGraceMargin)
            emit(.log(.ownStall(lateness: lateness)))
        }
        expectedWake = .never
    }

    private func peerDeadByRules(now: Instant) -> Bool {
        var alive = 0
        for l in links {
            if l.isAlive(now: now, since: peer.knownSince) {
                alive += 1
            } else if l.parameters.critical {
                return true
            }
        }
        return alive < parameters.minAliveLinks
    }

    private mutating func evaluateLiveness(now: Instant) {
        guard peer.known else { return }
        if now < graceUntil { return }
        for i in links.indices {
            let l = links[i]
            let alive = l.isAlive(now: now, since: peer.knownSince)
            if l.alive && !alive {
                links[i].alive = false
                links[i].counters.downTransitions &+= 1
                emit(.log(.linkDown(link: l.parameters.id, silence: l.silence(now: now, since: peer.knownSince))))
            }
            if alive && !l.warned && l.silence(now: now, since: peer.knownSince) >= l.parameters.warntime {
                links[i].warned = true
                emit(.log(.linkLate(link: l.parameters.id, silence: l.silence(now: now, since: peer.knownSince))))
            }
        }
        if peer.alive && peerDeadByRules(now: now) {
            peer.alive = false
            peer.healthyStandbySince = nil
            emit(.log(.peerDead(aliveLinks: aliveLinks(now: now))))
        }
    }

    private mutating func runRoleTimers(now: Instant) {
        let canJudge = now >= graceUntil
        switch role {
        case .booting:
            guard canJudge, now >= bootDeadline else { break }
            // Nothing verified from the peer, or it went silent: decide alone, but only by fencing.
            if !peer.alive {
                if maintenance {
                    if !peerDeadReported { peerDeadReported = true; emit(.log(.peerDeadIgnored(maintenance: true))) }
                } else {
                    let delay = parameters.localWinsTieBreak ? Nanos.zero : parameters.fenceRaceDelay
                    beginFencing(.noPeerAtBoot, delay: delay, now: now)
                }
            }
        case .standby:
            guard canJudge, peer.known, !peer.alive else { break }
            if maintenance {
                if !peerDeadReported { peerDeadReported = true; emit(.log(.peerDeadIgnored(maintenance: true))) }
            } else {
                beginFencing(.peerDead, delay: .zero, now: now)
            }
        case .fencing:
            if !fence.inFlight && now >= fence.nextTryAt && !maintenance {
                fence.inFlight = true
                if fence.failures == 0 { fence.startedAt = now }
                emit(.fence(attempt: fence.attempt))
                broadcast(.fenceNotice, argument: fence.attempt, now: now)
            }
        case .active:
            if let p = parameters.preferredNodeID, p == parameters.peerNodeID, !maintenance,
               let since = peer.healthyStandbySince, peer.alive, now >= since + parameters.failbackDelay {
                startLeaving(.failback, now: now)
            }
        case .leaving:
            if leaveSyncing {
                if now >= leavePhaseDeadline { startTakeoverRequests(now: now) }
            } else if now >= leavePhaseDeadline {
                endLeaving()
                setRole(.active, .handoverTimedOut, now: now)
            } else if !peer.alive {
                endLeaving()
                setRole(.active, .handoverPeerLost, now: now)
            } else if now >= leaveNextRequest {
                broadcast(.takeoverRequest, argument: 0, now: now)
                leaveNextRequest = now + minKeepalive
            }
        case .stopped:
            break
        }
    }

    /// Sends a heartbeat on every link at once (a new role, health or mode must reach the peer
    /// now) without moving the periodic schedule. Restarting the schedule at `now` would tie a
    /// node's send phase to the instant it heard its peer (a node becomes STANDBY on the
    /// ACTIVE's frame): on one clock the two nodes' ticks would then coincide for good, each
    /// waking the other just as its own deadline falls.
    private mutating func announce(now: Instant) {
        guard role != .stopped else { return }
        for i in links.indices {
            send(.heartbeat, link: i, argument: 0, now: now)
            if links[i].nextSend <= now {
                links[i].nextSend = Self.slotAfter(now, grid: links[i].nextSend, keepalive: links[i].parameters.keepalive)
            }
        }
    }

    /// The first send slot after `now` on the schedule through `grid` (one slot every
    /// `keepalive`). A node that fell behind (its loop was not scheduled for a while) skips the
    /// slots it missed instead of moving its schedule to `now`: the deadlines keep their phase,
    /// as cyclictest's do, and a stall does not shift them onto another instant for good.
    static func slotAfter(_ now: Instant, grid: Instant, keepalive: Nanos) -> Instant {
        let k = max(keepalive.value, 1)
        guard grid <= now else { return grid }
        return grid + Nanos(((now - grid).value / k + 1) &* k)
    }

    private mutating func sendDueHeartbeats(now: Instant) {
        guard role != .stopped else { return }
        for i in links.indices where now >= links[i].nextSend {
            send(.heartbeat, link: i, argument: 0, now: now)
            // Absolute schedule without bursts: the next send is the first slot after now,
            // one keepalive after the scheduled one unless we fell behind (missed slots are
            // skipped, not sent in a burst, and the schedule keeps its phase).
            links[i].nextSend = Self.slotAfter(now, grid: links[i].nextSend, keepalive: links[i].parameters.keepalive)
        }
    }

    /// Computes `nextDeadline`. After a tick every due item was handled or is waiting on
    /// something other than time (a fence result, the grace period, maintenance), so only future
    /// instants count; after other inputs a due item asks for an immediate tick.
    private mutating func recomputeDeadline(now: Instant, afterTick: Bool = false) {
        var d = Instant.never
        func consider(_ x: Instant) {
            if afterTick && x <= now { return }
            if x < d { d = x }
        }
        if role != .stopped {
            for l in links {
                consider(l.nextSend)
                if peer.known {
                    let base = l.lastHeard ?? peer.knownSince
                    if l.alive && !l.warned { consider(base + l.parameters.warntime) }
                    if l.alive || l.parameters.critical || peer.alive { consider(base + l.parameters.deadtime) }
                }
            }
            if graceUntil > now { consider(graceUntil) }
            switch role {
            case .booting: consider(bootDeadline)
            case .fencing: if !fence.inFlight { consider(fence.nextTryAt) }
            case .leaving:
                consider(leavePhaseDeadline)
                if !leaveSyncing { consider(leaveNextRequest) }
            case .active:
                if parameters.preferredNodeID == parameters.peerNodeID, let s = peer.healthyStandbySince {
                    consider(s + parameters.failbackDelay)
                }
            default: break
            }
        }
        nextDeadline = max(d, now)
        expectedWake = d == .never ? .never : nextDeadline
    }

    // MARK: - Role changes

    private mutating func setRole(_ new: Role, _ reason: TransitionReason, now: Instant) {
        let old = role
        role = new
        lastReason = reason
        roleSince = now
        emit(.roleChanged(from: old, to: new, reason: reason))
        // Announce the new role at once on every link.
        if new != .stopped { announce(now: now) }
    }

    private mutating func becomeActive(_ reason: TransitionReason, now: Instant) {
        epoch = max(epoch, peer.epoch) &+ 1
        fence.inFlight = false
        fence.nextTryAt = .never
        setRole(.active, reason, now: now)
    }

    private mutating func beginFencing(_ reason: TransitionReason, delay: Nanos, now: Instant) {
        if unsafeSkipFenceConfirmation {
            becomeActive(.fenceConfirmed, now: now)
            return
        }
        fence.attempt &+= 1
        fence.inFlight = false
        fence.failures = 0
        fence.backoff = .zero
        fence.reason = reason
        fence.startedAt = now
        fence.nextTryAt = now + delay
        setRole(.fencing, reason, now: now)
        runRoleTimers(now: now)
    }

    private mutating func fenceResult(attempt: UInt32, confirmed: Bool, now: Instant) {
        guard role == .fencing, attempt == fence.attempt, fence.inFlight else { return }
        if confirmed {
            peerFencedOrConfirmed(now: now)
            becomeActive(.fenceConfirmed, now: now)
        } else {
            fence.inFlight = false
            fence.failures &+= 1
            fence.backoff = fence.backoff == .zero
                ? parameters.fenceRetryInitial : min(fence.backoff * 2, parameters.fenceRetryMax)
            fence.nextTryAt = now + fence.backoff
            emit(.log(.fenceFailed(attempt: attempt, retryIn: fence.backoff)))
        }
    }

    /// The peer's current incarnation is down: stop accepting its frames.
    private mutating func peerFencedOrConfirmed(now: Instant) {
        peer.guardState.retireCurrent()
        peer.known = false
        peer.alive = false
        peer.role = .stopped
        peer.healthyStandbySince = nil
        for i in links.indices {
            links[i].alive = false
            links[i].lastHeard = nil
            links[i].window.reset()
        }
    }

    private mutating func standDown(_ reason: TransitionReason, now: Instant) {
        guard role != .stopped else { return }
        setRole(.stopped, reason, now: now)
        emit(.standDown(reason))
    }

    private mutating func startLeaving(_ reason: TransitionReason, now: Instant) {
        leaveSyncing = true
        leavePhaseDeadline = now + parameters.syncTimeout
        setRole(.leaving, reason, now: now)
        emit(.sync(timeout: parameters.syncTimeout))
    }

    private mutating func startTakeoverRequests(now: Instant) {
        leaveSyncing = false
        leavePhaseDeadline = now + parameters.takeoverRequestTimeout
        leaveNextRequest = now
        runRoleTimers(now: now)
    }

    private mutating func endLeaving() {
        // A failed handover waits a full failback delay before any new attempt.
        peer.healthyStandbySince = nil
        leaveSyncing = false
        leavePhaseDeadline = .never
        leaveNextRequest = .never
    }

    // MARK: - Commands

    private mutating func operatorCommand(_ c: OperatorCommand, id: UInt32, now: Instant) {
        func reply(_ refusal: RefusalReason?) { emit(.reply(id: id, accepted: refusal == nil, refusal: refusal)) }
        switch c {
        case .maintenance(let on):
            maintenance = on
            peerDeadReported = false
            reply(nil)
            announce(now: now)
            if !on { evaluateLiveness(now: now); runRoleTimers(now: now) }
        case .fenceConfirm:
            switch role {
            case .fencing:
                // The operator's word cannot overrule frames we are hearing right now.
                if peer.alive { reply(.peerAlive); return }
                reply(nil)
                peerFencedOrConfirmed(now: now)
                becomeActive(.operatorConfirmed, now: now)
            case .booting, .standby:
                if peer.alive || (role == .booting && peer.everHeard && !peer.known) {
                    reply(.peerAlive)
                } else if role == .standby && !peer.known {
                    reply(.nothingToConfirm)
                } else {
                    reply(nil)
                    peerFencedOrConfirmed(now: now)
                    becomeActive(.operatorConfirmed, now: now)
                }
            default:
                reply(.nothingToConfirm)
            }
        case .localRecovered:
            unrecoverable = false
            reply(nil)
            // Peers learn it from the next heartbeats; send them now.
            announce(now: now)
        case .switchover, .standby, .localFailure:
            if c == .localFailure { unrecoverable = true }
            switch role {
            case .active:
                if maintenance { reply(.maintenance); return }
                guard peer.alive else { reply(.peerUnreachable); return }
                guard peer.role == .standby, !peer.health.contains(.maintenance),
                      !peer.health.contains(.unrecoverable) else { reply(.peerNotStandby); return }
                reply(nil)
                startLeaving(.handoverStarted, now: now)
            case .standby:
                if c == .standby { reply(.alreadyStandby); return }
                if c == .localFailure { reply(nil); return }
                // On the STANDBY a switchover means: ask the ACTIVE to hand over. The request
                // travels as our health (not implemented as a separate frame): refuse clearly.
                reply(.notActive)
            case .leaving, .fencing:
                reply(.busy)
            default:
                reply(.notActive)
            }
        }
    }

    private mutating func shutdown(now: Instant) {
        guard role != .stopped else { emit(.exit); return }
        broadcast(.shutdownNotice, argument: 0, now: now)
        setRole(.stopped, .shutdown, now: now)
        emit(.exit)
    }

    // MARK: - Sending

    private mutating func broadcast(_ type: FrameType, argument: UInt32, now: Instant) {
        for _ in 0..<max(1, parameters.noticeRepeats) {
            for i in links.indices { send(type, link: i, argument: argument, now: now) }
        }
    }

    private mutating func send(_ type: FrameType, link i: Int, argument: UInt32, now: Instant) {
        links[i].txSequence &+= 1
        links[i].counters.sent &+= 1
        let l = links[i]
        let held = l.lastPeerSendTime == 0 ? 0 : UInt64(max(0, (now - l.lastPeerFrameAt).value))
        let frame = Frame(
            type: type, clusterID: parameters.clusterID, sender: parameters.localNodeID,
            link: l.parameters.id, role: role, health: health, peerView: ourViewOfPeer,
            incarnation: incarnation, sequence: l.txSequence, sendTime: UInt64(max(0, now.nanoseconds)),
            peerIncarnationSeen: peer.guardState.echo, epoch: epoch, argument: argument,
            // Echo the peer's timestamp shifted by how long we held it, so the peer's
            // now − echo is a pure round trip.
            echoTime: l.lastPeerSendTime == 0 ? 0 : l.lastPeerSendTime &+ held)
        emit(.send(link: l.parameters.id, frame: frame))
    }

    private mutating func emit(_ a: Action) { actions.append(a) }

    private func index(of link: UInt8) -> Int? {
        for i in links.indices where links[i].parameters.id == link { return i }
        return nil
    }
}
