// The cluster state machine, transition by transition, driven by `Harness` (two real machines,
// real codec, virtual time) or by hand-crafted peer frames (`FakePeer`). Every tick the harness
// makes also checks that `nextDeadline` moved past the tick time (no busy loop).

import Testing

import ShaolinCore

private let A = 0  // node 1
private let B = 1  // node 2

private func isFenceFailed(_ e: ClusterLogEvent) -> (UInt32, Nanos)? {
    if case .fenceFailed(let a, let r) = e { return (a, r) }
    return nil
}

// MARK: - Boot

@Suite("StateMachine: boot")
struct BootTests {
    @Test("a booting node that hears an ACTIVE becomes STANDBY and adopts its epoch; no fence")
    func hearsActive() {
        let h = Harness.established()
        #expect(h.roleChanges(B).map(\.to) == [.booting, .standby])
        #expect(h.roleChanges(B).last?.reason == .peerActive)
        #expect(h.fences(B).isEmpty)
        #expect(h.sm[A].epoch == 1 && h.sm[B].epoch == 1)
        #expect(h.roleChanges(A).map(\.reason) == [.started, .noPeerAtBoot, .fenceConfirmed])
        #expect(h.sm[A].peer.incarnation == smIncarnations[B] && h.sm[B].peer.incarnation == smIncarnations[A])
    }

    @Test("hears nothing: FENCING at startup_timeout, fence at once for the tie-break winner, ACTIVE with epoch+1 after confirmation",
          arguments: [A, B])
    func hearsNothing(node: Int) {
        var h = Harness()
        let setup = h.setup
        let winner = setup.parameters(node).localWinsTieBreak
        #expect(winner == (node == A))  // ascending: node 1 wins
        let t0 = h.now
        h.start(node)
        h.advance(to: t0 + setup.startupTimeout - Nanos(1))
        #expect(h.sm[node].role == .booting)
        h.advance(to: t0 + setup.startupTimeout)
        #expect(h.sm[node].role == .fencing)
        #expect(h.roleChanges(node).last?.reason == .noPeerAtBoot)
        let delay = winner ? Nanos.zero : setup.fenceRaceDelay
        if !winner {
            #expect(h.fences(node).isEmpty)
            h.advance(to: t0 + setup.startupTimeout + delay - Nanos(1))
            #expect(h.fences(node).isEmpty)
            h.advance(to: t0 + setup.startupTimeout + delay)
        }
        let f = h.fences(node)
        #expect(f.count == 1)
        #expect(f.first?.at == t0 + setup.startupTimeout + delay)
        // The fence is announced to the peer on every link, noticeRepeats times.
        #expect(h.sent(node, .fenceNotice).count == setup.noticeRepeats * setup.links.count)
        // A result for another attempt is ignored.
        let attempt = f.first?.attempt ?? 0
        h.handle(node, .fenceResult(attempt: attempt &+ 1, confirmed: true))
        #expect(h.sm[node].role == .fencing)
        h.advance(by: .seconds(1))
        #expect(h.fences(node).count == 1, "no second fence while one is in flight")
        h.handle(node, .fenceResult(attempt: attempt, confirmed: true))
        #expect(h.sm[node].role == .active)
        #expect(h.roleChanges(node).last?.reason == .fenceConfirmed)
        #expect(h.sm[node].epoch == 1)
        h.advance(by: .seconds(5))
        #expect(h.sm[node].role == .active)
    }

    struct TieCase: Sendable, CustomTestStringConvertible {
        var priority: [UInt8]
        var order: BootOrder
        var winner: Int
        var testDescription: String { "priority \(priority) order \(order.rawValue) → node \(winner + 1)" }
    }

    @Test("simultaneous boot: exactly one ACTIVE, chosen by priority, then boot order on node id", arguments: [
        TieCase(priority: [100, 150], order: .ascending, winner: B),   // priority beats asc
        TieCase(priority: [150, 100], order: .descending, winner: A),  // priority beats dsc
        TieCase(priority: [100, 100], order: .ascending, winner: A),   // asc: lower id
        TieCase(priority: [100, 100], order: .descending, winner: B),  // dsc: higher id
    ])
    func simultaneousBoot(c: TieCase) {
        var s = Setup()
        s.priority = c.priority
        s.bootOrder = c.order
        var h = Harness(s)
        let loser = 1 - c.winner
        h.start(A)
        h.start(B)
        h.advance(by: .seconds(1))
        #expect(h.roles[c.winner] == .active)
        #expect(h.roles[loser] == .standby)
        #expect(h.roleChanges(c.winner).last?.reason == .peerStandby)
        #expect(h.roleChanges(loser).last?.reason == .lostTieBreak)
        #expect(h.sm[c.winner].epoch == 1)
        // Stable afterwards, nobody fenced anybody.
        h.advance(by: .seconds(10))
        #expect(h.roles[c.winner] == .active && h.roles[loser] == .standby)
        #expect(h.fences(A).isEmpty && h.fences(B).isEmpty)
        #expect(h.roleChanges(c.winner).count == 2 && h.roleChanges(loser).count == 2)
    }

    @Test("simultaneous boot with a small offset (30 ms) also ends with exactly one ACTIVE")
    func nearlySimultaneous() {
        for first in [A, B] {
            var h = Harness()
            h.start(first)
            h.advance(by: .ms(30))
            h.start(1 - first)
            h.advance(by: .seconds(3))
            #expect(h.roles.filter { $0 == .active }.count == 1)
            #expect(h.roles.filter { $0 == .standby }.count == 1)
            #expect(h.roles[A] == .active, "node 1 wins asc")
            #expect(h.fences(A).isEmpty && h.fences(B).isEmpty)
        }
    }

    @Test("steady state: ticks stay proportional to heartbeats (no busy loop)")
    func steadyStateTickCount() {
        var h = Harness.established()
        let before = h.ticks
        h.advance(by: .seconds(10))
        // Two nodes, 100 ms keepalive: ~200 heartbeat ticks; allow for warn/dead deadlines.
        #expect(h.ticks - before <= 300)
        #expect(h.ticks - before >= 200)
    }
}

// MARK: - Receive times

@Suite("StateMachine: receive times")
struct ReceiveTimeTests {
    /// Runs 150 ms in which A's frames are recorded but not delivered; returns A's last
    /// heartbeat on link 0 (to deliver by hand) and when A sent it.
    static func undeliveredHeartbeat(_ h: inout Harness) throws -> (sentAt: Instant, bytes: [UInt8]) {
        h.muted[A] = true
        h.advance(by: .ms(150))
        let (sentAt, frame) = try #require(h.sent(A, .heartbeat).last { $0.frame.link == 0 })
        #expect(h.now - sentAt >= .ms(40))
        return (sentAt, smCodec.encode(frame))
    }

    /// Advances until B has sent two more heartbeats (one on each link): A has heard B's echo.
    static func untilBEchoed(_ h: inout Harness) {
        let before = h.sent(B, .heartbeat).count
        #expect(h.advance(until: .ms(200)) { $0.sent(B, .heartbeat).count > before + 1 })
    }

    /// A frame read some time after it arrived (the shell reads its links at its own
    /// deadlines) counts from its arrival for liveness and for the round trip.
    @Test("a frame dated by its receive time: lastHeard and the RTT count from the arrival, not from the read")
    func framesAreDatedByTheirArrival() throws {
        var h = Harness.established()
        let (sentAt, bytes) = try Self.undeliveredHeartbeat(&h)
        bytes.withUnsafeBytes { h.sm[B].receive($0, link: 0, now: h.now, receivedAt: sentAt) }
        #expect(h.sm[B].links[0].lastHeard == sentAt)
        h.pump()
        // B's next heartbeat on link 0 echoes A's send time plus B's holding time since the
        // arrival: A's round trip is the (instant) transport, not the 40+ ms the frame waited.
        Self.untilBEchoed(&h)
        let rtt = h.sm[A].links[0].counters.lastRTT
        #expect(rtt >= 0 && rtt < Nanos.ms(1).value, "RTT \(rtt) ns")
    }

    @Test("without a receive time, the frame counts from the read (and the RTT includes the wait)")
    func withoutReceiveTimeTheReadCounts() throws {
        var h = Harness.established()
        let (sentAt, bytes) = try Self.undeliveredHeartbeat(&h)
        let waited = h.now - sentAt
        bytes.withUnsafeBytes { h.sm[B].receive($0, link: 0, now: h.now) }
        #expect(h.sm[B].links[0].lastHeard == h.now)
        h.pump()
        Self.untilBEchoed(&h)
        #expect(h.sm[A].links[0].counters.lastRTT >= waited.value)
    }

    @Test("a receive time later than now is clamped to now")
    func futureReceiveTimeIsClamped() throws {
        var h = Harness.established()
        let (_, bytes) = try Self.undeliveredHeartbeat(&h)
        bytes.withUnsafeBytes { h.sm[B].receive($0, link: 0, now: h.now, receivedAt: h.now + .ms(5)) }
        #expect(h.sm[B].links[0].lastHeard == h.now)
    }
}

// MARK: - STANDBY failover and links

@Suite("StateMachine: failover")
struct FailoverTests {
    @Test("ACTIVE silent on all links: peer dead at deadtime → FENCING → confirmed → ACTIVE (epoch+1)")
    func activeSilent() throws {
        var h = Harness.established()
        h.muted[A] = true
        let last = try #require(h.lastDelivery(to: B))
        h.advance(to: last + smDeadtime - Nanos(1))
        #expect(h.roles[B] == .standby)
        #expect(h.fences(B).isEmpty)
        h.advance(to: last + smDeadtime)
        #expect(h.roles[B] == .fencing)
        #expect(h.roleChanges(B).last?.reason == .peerDead)
        #expect(h.fences(B).map(\.at) == [last + smDeadtime])
        let logs = h.logs(B).map(\.event)
        #expect(logs.contains(.peerDead(aliveLinks: 0)))
        #expect(logs.contains(.linkDown(link: 0, silence: smDeadtime)))
        #expect(logs.contains(.linkDown(link: 1, silence: smDeadtime)))
        #expect(logs.contains(.linkLate(link: 0, silence: smWarntime)))
        // The old ACTIVE still hears us: our fence notice makes it stand down.
        #expect(h.roles[A] == .stopped)
        #expect(h.emitted(A, .standDown(.fencedByPeer)))
        h.advance(by: .seconds(5))
        #expect(h.roles[B] == .fencing, "never ACTIVE before the fence is confirmed")
        #expect(h.fences(B).count == 1)
        let attempt = try #require(h.fences(B).first).attempt
        h.handle(B, .fenceResult(attempt: attempt, confirmed: true))
        #expect(h.roles[B] == .active)
        #expect(h.roleChanges(B).last?.reason == .fenceConfirmed)
        #expect(h.sm[B].epoch == 2)
        #expect(h.sm[B].peer.guardState.isRetired(smIncarnations[A]))
    }

    @Test("failed fence: stays FENCING, retries after 1, 2, 4, 4 s (doubling, capped), ACTIVE only when confirmed")
    func fenceRetryBackoff() throws {
        var h = Harness.established()
        h.crash(A)
        #expect(h.advance(until: .seconds(2)) { $0.fences(B).count == 1 })
        let attempt = try #require(h.fences(B).first).attempt
        for (n, backoff) in [Nanos.seconds(1), .seconds(2), .seconds(4), .seconds(4)].enumerated() {
            h.advance(by: .ms(300))  // the fence runs for a while
            h.handle(B, .fenceResult(attempt: attempt, confirmed: false))
            let failedAt = h.now
            let failures = h.logs(B).compactMap { isFenceFailed($0.event) }
            #expect(failures.count == n + 1)
            #expect(failures.last?.0 == attempt && failures.last?.1 == backoff, "failure \(n + 1)")
            // A late "confirmed" for the failed try is ignored while backing off.
            h.handle(B, .fenceResult(attempt: attempt, confirmed: true))
            #expect(h.roles[B] == .fencing)
            let count = h.fences(B).count
            h.advance(to: failedAt + backoff - Nanos(1))
            #expect(h.fences(B).count == count, "no retry before the backoff")
            h.advance(to: failedAt + backoff)
            #expect(h.fences(B).count == count + 1)
            #expect(h.fences(B).last?.at == failedAt + backoff)
            #expect(h.fences(B).last?.attempt == attempt)
            #expect(h.roles[B] == .fencing)
        }
        #expect(!h.roleChanges(B).contains { $0.to == .active })
        h.handle(B, .fenceResult(attempt: attempt, confirmed: true))
        #expect(h.roles[B] == .active)
        #expect(h.roleChanges(B).last?.reason == .fenceConfirmed)
    }

    @Test("one non-critical link dead with min_alive_links=1: linkLate at warntime, linkDown at deadtime, no failover")
    func nonCriticalLinkDown() throws {
        var h = Harness.established()
        h.cut = [1]
        let last1 = try #require(h.lastDelivery(to: B, link: 1))
        h.advance(by: .seconds(3))
        #expect(h.roles == [.active, .standby])
        #expect(h.fences(B).isEmpty)
        let logs = h.logs(B)
        #expect(logs.contains { $0.at == last1 + smWarntime && $0.event == .linkLate(link: 1, silence: smWarntime) })
        #expect(logs.contains { $0.at == last1 + smDeadtime && $0.event == .linkDown(link: 1, silence: smDeadtime) })
        #expect(!logs.contains { if case .peerDead = $0.event { true } else { false } })
        #expect(h.sm[B].peer.alive)
        #expect(h.sm[B].aliveLinks(now: h.now) == 1)
        #expect(h.sm[B].links[1].counters.downTransitions == 1)
        // The link comes back: linkUp, both alive.
        h.cut = []
        h.advance(by: .ms(200))
        #expect(h.logs(B).contains { $0.event == .linkUp(link: 1) && $0.at > last1 })
        #expect(h.sm[B].aliveLinks(now: h.now) == 2)
    }

    @Test("late heartbeat (after warntime, before deadtime) is counted once, no linkDown")
    func lateHeartbeat() throws {
        var h = Harness.established()
        h.cut = [1]
        let last1 = try #require(h.lastDelivery(to: B, link: 1))
        h.advance(to: last1 + .ms(300))
        h.cut = []
        h.advance(by: .ms(300))
        #expect(h.sm[B].links[1].counters.late == 1)
        #expect(h.sm[B].links[1].counters.downTransitions == 0)
        #expect(h.logs(B).filter { $0.event == .linkLate(link: 1, silence: smWarntime) }.count == 1)
    }

    @Test("a critical link dead alone declares the peer dead")
    func criticalLink() throws {
        var s = Setup()
        s.links = [smLink(0), smLink(1, critical: true)]
        var h = Harness.established(s)
        h.cut = [1]
        let last1 = try #require(h.lastDelivery(to: B, link: 1))
        h.advance(to: last1 + smDeadtime - Nanos(1))
        #expect(h.roles[B] == .standby)
        h.advance(to: last1 + smDeadtime)
        #expect(h.roles[B] == .fencing)
        #expect(h.roleChanges(B).last?.reason == .peerDead)
        #expect(h.logs(B).contains { $0.event == .peerDead(aliveLinks: 1) })
        #expect(h.fences(B).count == 1)
    }

    @Test("alive links below min_alive_links declare the peer dead")
    func belowMinAlive() throws {
        var s = Setup()
        s.minAlive = 2
        var h = Harness.established(s)
        h.cut = [0]
        let last0 = try #require(h.lastDelivery(to: B, link: 0))
        h.advance(to: last0 + smDeadtime - Nanos(1))
        #expect(h.roles[B] == .standby)
        h.advance(to: last0 + smDeadtime)
        #expect(h.roles[B] == .fencing)
        #expect(h.logs(B).contains { $0.event == .peerDead(aliveLinks: 1) })
    }

    @Test("carrier loss on every link is a dead peer without waiting for deadtime")
    func carrierDown() {
        var h = Harness.established()
        h.muted[A] = true
        h.handle(B, .carrier(link: 0, up: false))
        #expect(h.roles[B] == .standby)
        h.handle(B, .carrier(link: 1, up: false))
        #expect(h.roles[B] == .fencing)
        #expect(h.sm[B].aliveLinks(now: h.now) == 0)
    }
}

// MARK: - Graceful handover

@Suite("StateMachine: handover")
struct HandoverTests {
    @Test("switchover: LEAVING + sync → syncFinished → takeoverRequest → grant → STOPPED + shutdownSelf; STANDBY still needs the fence")
    func switchover() throws {
        var h = Harness.established()
        h.command(A, .switchover, id: 7)
        #expect(h.replies(A).last == Reply(7, true, nil))
        #expect(h.roles[A] == .leaving)
        #expect(h.roleChanges(A).last?.reason == .handoverStarted)
        #expect(h.emitted(A, .sync(timeout: h.setup.syncTimeout)))
        #expect(h.sent(A, .takeoverRequest).isEmpty)
        h.advance(by: .ms(300))
        #expect(h.sm[B].peer.health.contains(.syncing))
        #expect(h.sm[B].peer.role == .leaving)
        #expect(h.roles[B] == .standby)
        #expect(h.sent(A, .takeoverRequest).isEmpty, "no request while syncing")
        h.handle(A, .syncFinished)
        #expect(h.sent(A, .takeoverRequest).count == h.setup.noticeRepeats * 2)
        #expect(h.sent(B, .takeoverGrant).count >= h.setup.noticeRepeats * 2)
        #expect(h.roles[B] == .fencing)
        #expect(h.roleChanges(B).last?.reason == .handoverRequested)
        #expect(h.roles[A] == .stopped)
        #expect(h.roleChanges(A).last?.reason == .handoverGranted)
        #expect(h.emitted(A, .shutdownSelf))
        #expect(!h.emitted(A, .standDown(.fencedByPeer)), "the grant arrives before the fence notice")
        #expect(h.fences(B).count == 1)
        h.advance(by: .seconds(5))
        #expect(h.roles[B] == .fencing, "STANDBY never becomes ACTIVE without fence confirmation")
        h.handle(B, .fenceResult(attempt: try #require(h.fences(B).first).attempt, confirmed: true))
        #expect(h.roles[B] == .active)
        #expect(h.sm[B].epoch == 2)
    }

    @Test("sync timeout: takeover requests start syncTimeout after the switchover")
    func syncTimeout() {
        var h = Harness.established()
        let t = h.now
        h.command(A, .standby, id: 2)
        #expect(h.replies(A).last == Reply(2, true, nil))
        #expect(h.roles[A] == .leaving)
        h.advance(to: t + h.setup.syncTimeout - Nanos(1))
        #expect(h.sent(A, .takeoverRequest).isEmpty)
        #expect(h.roles[A] == .leaving)
        h.advance(to: t + h.setup.syncTimeout)
        #expect(h.sent(A, .takeoverRequest).first?.at == t + h.setup.syncTimeout)
        #expect(h.roles[A] == .stopped)
        #expect(h.roles[B] == .fencing)
        // A late syncFinished changes nothing.
        h.handle(A, .syncFinished)
        #expect(h.roles[A] == .stopped)
    }

    @Test("refuse: STANDBY in maintenance refuses → ACTIVE again (handoverRefused), nobody fences")
    func refused() {
        var h = Harness.established()
        let fencesBefore = h.fences(A).count + h.fences(B).count
        h.command(A, .switchover, id: 1)
        h.advance(by: .ms(100))
        h.command(B, .maintenance(true), id: 2)
        #expect(h.replies(B).last == Reply(2, true, nil))
        h.advance(by: .ms(100))
        h.handle(A, .syncFinished)
        #expect(h.logs(B).contains { $0.event == .takeoverRefusedByUs(.maintenance) })
        #expect(h.sent(B, .takeoverRefuse).first?.frame.argument == RefusalReason.maintenance.rawValue)
        #expect(h.logs(A).contains { $0.event == .handoverRefused(.maintenance) })
        #expect(h.roles == [.active, .standby])
        #expect(h.roleChanges(A).last?.reason == .handoverRefused)
        h.advance(by: .seconds(3))
        #expect(h.roles == [.active, .standby])
        #expect(h.fences(A).count + h.fences(B).count == fencesBefore)
        #expect(!h.emitted(A, .shutdownSelf))
    }

    @Test("switchover refused up front when the STANDBY is in maintenance, the peer unreachable, or we are not ACTIVE")
    func switchoverPreconditions() {
        var h = Harness.established()
        h.command(B, .switchover, id: 3)
        #expect(h.replies(B).last == Reply(3, false, .notActive))
        h.command(B, .standby, id: 4)
        #expect(h.replies(B).last == Reply(4, false, .alreadyStandby))
        h.command(B, .maintenance(true), id: 5)
        h.advance(by: .ms(200))
        h.command(A, .switchover, id: 6)
        #expect(h.replies(A).last == Reply(6, false, .peerNotStandby))
        #expect(h.roles[A] == .active)
        h.command(A, .maintenance(true), id: 7)
        h.command(A, .switchover, id: 8)
        #expect(h.replies(A).last == Reply(8, false, .maintenance))
        h.command(A, .maintenance(false), id: 9)
        h.crash(B)
        h.advance(by: .seconds(1))
        h.command(A, .switchover, id: 10)
        #expect(h.replies(A).last == Reply(10, false, .peerUnreachable))
        #expect(h.roles[A] == .active)
    }

    @Test("localFailure marks the node unrecoverable (no handover to it); localRecovered clears the mark in any role")
    func localFailureAndRecovery() {
        var h = Harness.established()
        h.command(B, .localFailure, id: 1)
        #expect(h.replies(B).last == Reply(1, true, nil))
        #expect(h.sm[B].health.contains(.unrecoverable))
        h.advance(by: .ms(200))
        h.command(A, .switchover, id: 2)
        #expect(h.replies(A).last == Reply(2, false, .peerNotStandby))
        #expect(h.roles == [.active, .standby])
        h.command(B, .localRecovered, id: 3)
        #expect(h.replies(B).last == Reply(3, true, nil))
        #expect(!h.sm[B].health.contains(.unrecoverable))
        #expect(h.roles == [.active, .standby])
        h.advance(by: .ms(200))
        h.command(A, .switchover, id: 4)
        #expect(h.replies(A).last == Reply(4, true, nil))
        #expect(h.roles[A] == .leaving)
        // On the ACTIVE itself: a refused localFailure still marks it; localRecovered clears it
        // without a role change.
        var g = Harness.established()
        g.crash(B)
        g.advance(by: .seconds(1))
        g.command(A, .localFailure, id: 5)
        #expect(g.replies(A).last == Reply(5, false, .peerUnreachable))
        #expect(g.sm[A].health.contains(.unrecoverable) && g.roles[A] == .active)
        g.command(A, .localRecovered, id: 6)
        #expect(g.replies(A).last == Reply(6, true, nil))
        #expect(!g.sm[A].health.contains(.unrecoverable) && g.roles[A] == .active)
    }

    @Test("no answer to the takeover request within takeoverRequestTimeout → ACTIVE again (handoverTimedOut)")
    func requestTimeout() {
        var s = Setup()
        s.takeoverRequestTimeout = .ms(300)
        var h = Harness.established(s)
        h.drop = { from, f in from == A && f.type == .takeoverRequest }
        h.command(A, .switchover, id: 1)
        h.advance(by: .ms(50))
        h.handle(A, .syncFinished)
        let t = h.now
        h.advance(to: t + .ms(300) - Nanos(1))
        #expect(h.roles[A] == .leaving)
        // Requests are repeated every (shortest) keepalive while waiting.
        #expect(Set(h.sent(A, .takeoverRequest).map(\.at)) == [t, t + .ms(100), t + .ms(200)])
        h.advance(to: t + .ms(300))
        #expect(h.roles == [.active, .standby])
        #expect(h.roleChanges(A).last?.reason == .handoverTimedOut)
        h.advance(by: .seconds(2))
        #expect(h.sent(A, .takeoverRequest).count == 3 * s.noticeRepeats * 2)
    }

    @Test("peer lost while waiting for the grant → ACTIVE again (handoverPeerLost)")
    func peerLostDuringHandover() {
        var s = Setup()
        s.takeoverRequestTimeout = .seconds(2)
        var h = Harness.established(s)
        h.drop = { from, f in from == A && f.type == .takeoverRequest }
        h.command(A, .switchover, id: 1)
        h.handle(A, .syncFinished)
        h.crash(B)
        h.advance(by: .seconds(1))
        #expect(h.roles[A] == .active)
        #expect(h.roleChanges(A).last?.reason == .handoverPeerLost)
    }
}

// MARK: - Maintenance, fence-confirm, failback, shutdown

@Suite("StateMachine: operator")
struct OperatorTests {
    @Test("STANDBY in maintenance does not fence a dead peer (peerDeadIgnored once); fences when maintenance ends")
    func maintenance() {
        var h = Harness.established()
        h.command(B, .maintenance(true), id: 1)
        #expect(h.sm[B].maintenance)
        h.advance(by: .ms(200))
        #expect(h.sm[A].peer.health.contains(.maintenance))
        h.crash(A)
        h.advance(by: .seconds(5))
        #expect(h.roles[B] == .standby)
        #expect(h.fences(B).isEmpty)
        #expect(h.logs(B).filter { $0.event == .peerDeadIgnored(maintenance: true) }.count == 1)
        h.command(B, .maintenance(false), id: 2)
        #expect(h.replies(B).last == Reply(2, true, nil))
        #expect(h.roles[B] == .fencing)
        #expect(h.roleChanges(B).last?.reason == .peerDead)
        #expect(h.fences(B).count == 1)
    }

    @Test("fence-confirm while FENCING → ACTIVE (operatorConfirmed); a late fence result is ignored")
    func confirmWhileFencing() throws {
        var h = Harness.established()
        h.crash(A)
        #expect(h.advance(until: .seconds(2)) { $0.roles[B] == .fencing })
        h.command(B, .fenceConfirm, id: 9)
        #expect(h.replies(B).last == Reply(9, true, nil))
        #expect(h.roles[B] == .active)
        #expect(h.roleChanges(B).last?.reason == .operatorConfirmed)
        #expect(h.sm[B].epoch == 2)
        let n = h.roleChanges(B).count
        h.handle(B, .fenceResult(attempt: try #require(h.fences(B).first).attempt, confirmed: true))
        h.handle(B, .fenceResult(attempt: try #require(h.fences(B).first).attempt, confirmed: false))
        #expect(h.roleChanges(B).count == n)
        #expect(h.roles[B] == .active)
        h.command(B, .fenceConfirm, id: 10)
        #expect(h.replies(B).last == Reply(10, false, .nothingToConfirm))
    }

    @Test("fence-confirm on a STANDBY whose peer is alive is refused (peerAlive)")
    func confirmRefused() {
        var h = Harness.established()
        h.command(B, .fenceConfirm, id: 3)
        #expect(h.replies(B).last == Reply(3, false, .peerAlive))
        #expect(h.roles == [.active, .standby])
    }

    @Test("fence-confirm on a booting node that heard nothing → ACTIVE (operatorConfirmed, epoch 1)")
    func confirmBootingAlone() {
        var h = Harness()
        h.start(A)
        h.advance(by: .ms(500))
        h.command(A, .fenceConfirm, id: 4)
        #expect(h.replies(A).last == Reply(4, true, nil))
        #expect(h.roles[A] == .active)
        #expect(h.roleChanges(A).last?.reason == .operatorConfirmed)
        #expect(h.sm[A].epoch == 1)
        #expect(h.fences(A).isEmpty)
    }

    @Test("fence-confirm on a booting node that heard an (unverified) peer is refused")
    func confirmBootingHeardSomething() {
        var h = Harness()
        h.start(A)
        var p = FakePeer()
        h.inject(to: A, link: 0, bytes: p.frame(role: .booting, echo: 0))
        #expect(h.sm[A].links[0].counters.rejected[.unverifiedIncarnation] == 1)
        h.command(A, .fenceConfirm, id: 5)
        #expect(h.replies(A).last == Reply(5, false, .peerAlive))
        #expect(h.roles[A] == .booting)
    }

    @Test("failback: the preferred node as healthy STANDBY for failbackDelay gets the role back")
    func failback() throws {
        var s = Setup()
        s.preferred = 1
        var h = Harness.established(s, active: B)
        let since = try #require(h.sm[B].peer.healthyStandbySince)
        h.advance(to: since + s.failbackDelay - Nanos(1))
        #expect(h.roles[B] == .active)
        h.advance(to: since + s.failbackDelay)
        #expect(h.roles[B] == .leaving)
        #expect(h.roleChanges(B).last?.reason == .failback)
        #expect(h.emitted(B, .sync(timeout: s.syncTimeout)))
        h.handle(B, .syncFinished)
        #expect(h.roles[B] == .stopped)
        #expect(h.roles[A] == .fencing)
        h.handle(A, .fenceResult(attempt: try #require(h.fences(A).last).attempt, confirmed: true))
        #expect(h.roles[A] == .active)
        #expect(h.sm[A].epoch == 2)
    }

    @Test("no failback without a preferred node, nor when the ACTIVE is the preferred node")
    func noFailback() {
        for preferred: UInt16? in [nil, 2] {
            var s = Setup()
            s.preferred = preferred
            var h = Harness.established(s, active: B)
            h.advance(by: s.failbackDelay * 3)
            #expect(h.roles == [.standby, .active])
        }
    }

    @Test("SIGTERM on ACTIVE: shutdownNotice on every link, STOPPED, exit; STANDBY fences and takes over after confirmation")
    func sigterm() throws {
        var h = Harness.established()
        h.handle(A, .shutdown)
        #expect(h.sent(A, .shutdownNotice).count == h.setup.noticeRepeats * 2)
        #expect(h.roles[A] == .stopped)
        #expect(h.roleChanges(A).last?.reason == .shutdown)
        #expect(h.emitted(A, .exit))
        // Notices go out before the exit.
        let exitIndex = try #require(h.out[A].lastIndex { $0.action == .exit })
        let lastNotice = try #require(h.out[A].lastIndex { if case .send(_, let f) = $0.action { f.type == .shutdownNotice } else { false } })
        #expect(lastNotice < exitIndex)
        #expect(h.roles[B] == .fencing)
        #expect(h.roleChanges(B).last?.reason == .peerShutdown)
        #expect(h.fences(B).count == 1)
        h.advance(by: .seconds(2))
        #expect(h.roles[B] == .fencing)
        h.handle(B, .fenceResult(attempt: try #require(h.fences(B).first).attempt, confirmed: true))
        #expect(h.roles[B] == .active)
        // A second SIGTERM on a stopped node only exits again.
        h.handle(A, .shutdown)
        #expect(h.times(A, .exit).count == 2)
        #expect(h.sent(A, .shutdownNotice).count == h.setup.noticeRepeats * 2)
    }
}

// MARK: - Own stall

@Suite("StateMachine: own stall")
struct StallTests {
    @Test("a STANDBY stalled for 10 × deadtime whose queued frames arrive after the stall keeps the peer alive",
          arguments: [true, false])
    func stallWithQueuedFrames(tickFirst: Bool) {
        var h = Harness.established()
        h.advance(by: .ms(37))
        h.paused[B] = true
        let expectedWake = h.sm[B].nextDeadline
        let stalls = h.sm[B].stallCount
        let logsBefore = h.logs(B).count
        h.advance(by: smDeadtime * 10)
        #expect(h.queued[B].count > 50)
        h.resume(B, tickFirst: tickFirst)
        #expect(h.roles[B] == .standby)
        #expect(h.sm[B].stallCount == stalls + 1)
        let newLogs = h.logs(B).dropFirst(logsBefore).map(\.event)
        #expect(newLogs.contains(.ownStall(lateness: h.now - expectedWake)))
        #expect(!newLogs.contains { if case .peerDead = $0 { true } else { false } })
        #expect(!newLogs.contains { if case .linkDown = $0 { true } else { false } })
        #expect(h.sm[B].longestStall == h.now - expectedWake)
        h.advance(by: .seconds(3))
        #expect(h.roles == [.active, .standby])
        #expect(h.fences(B).isEmpty)
        #expect(h.sm[B].stallCount == stalls + 1, "one stall, counted once")
    }

    @Test("after a stall a really silent peer is declared dead once the grace (keepalive + margin) has passed",
          arguments: [true, false])
    func stallThenSilentPeer(tickFirst: Bool) {
        var h = Harness.established()
        h.paused[B] = true
        h.crash(A)
        h.advance(by: smDeadtime * 10)
        h.resume(B, tickFirst: tickFirst)
        let resumedAt = h.now
        #expect(h.roles[B] == .standby)
        #expect(h.sm[B].stallCount == 1)
        let grace = smKeepalive + h.sm[B].parameters.stallGraceMargin
        #expect(h.sm[B].graceUntil == resumedAt + grace)
        h.advance(to: resumedAt + grace - Nanos(1))
        #expect(h.roles[B] == .standby)
        h.advance(to: resumedAt + grace)
        #expect(h.roles[B] == .fencing)
        #expect(h.roleChanges(B).last?.reason == .peerDead)
    }

    @Test("after a stall the heartbeat schedule skips the missed slots and keeps its phase")
    func stallKeepsSendPhase() throws {
        var h = Harness.established()
        h.advance(by: .ms(1_000))
        let before = h.sent(B, .heartbeat).filter { $0.frame.link == 0 }
        let last = try #require(before.last).at
        // Paused 2.5 keepalives and 3 ms after its last send: two slots missed, well inside deadtime.
        h.paused[B] = true
        h.advance(to: last + smKeepalive * 5 / 2 + .ms(3))
        let resumedAt = h.now
        h.resume(B, tickFirst: true)
        h.advance(by: smKeepalive * 3)
        let after = h.sent(B, .heartbeat).filter { $0.frame.link == 0 && $0.at >= resumedAt }.map(\.at)
        try #require(after.count >= 3)
        #expect(after[0] == resumedAt, "the late heartbeat goes out at once")
        // The next ones fall on the old grid (last + k × keepalive), not at resumedAt + keepalive,
        // one per slot, no burst.
        #expect(after[1] == last + smKeepalive * 3)
        #expect(after[2] == last + smKeepalive * 4)
        #expect(h.roles == [.active, .standby])
    }

    @Test("ticks exactly on the deadline never count as stalls")
    func noFalseStalls() {
        var h = Harness.established()
        h.advance(by: .seconds(20))
        #expect(h.sm[A].stallCount == 0 && h.sm[B].stallCount == 0)
    }
}

// MARK: - Standing down

@Suite("StateMachine: stand down")
struct StandDownTests {
    /// Node 1 alone, ACTIVE at epoch 1 after fencing the absent peer.
    private func loneActive(_ s: Setup = Setup()) -> Harness {
        var h = Harness(s)
        h.start(A)
        h.advance(by: s.startupTimeout + (s.parameters(A).localWinsTieBreak ? .zero : s.fenceRaceDelay))
        h.handle(A, .fenceResult(attempt: h.fences(A).first?.attempt ?? 0, confirmed: true))
        #expect(h.roles[A] == .active && h.sm[A].epoch == 1)
        return h
    }

    @Test("an ACTIVE hearing another ACTIVE with a higher epoch stands down (higherEpochActive)")
    func higherEpoch() {
        var h = loneActive()
        var p = FakePeer()
        h.inject(to: A, link: 0, bytes: p.frame(role: .active, echo: smIncarnations[A], epoch: 3))
        #expect(h.logs(A).contains { $0.event == .dualActive(peerEpoch: 3, ourEpoch: 1) })
        #expect(h.roles[A] == .stopped)
        #expect(h.emitted(A, .standDown(.higherEpochActive)))
        #expect(h.roleChanges(A).last?.reason == .higherEpochActive)
    }

    @Test("an ACTIVE hearing an ACTIVE with a lower epoch, or the same epoch when it wins the tie-break, stays")
    func lowerOrEqualEpoch() {
        for epoch: UInt32 in [0, 1] {
            var h = loneActive()
            var p = FakePeer()
            h.inject(to: A, link: 0, bytes: p.frame(role: .active, echo: smIncarnations[A], epoch: epoch))
            #expect(h.logs(A).contains { $0.event == .dualActive(peerEpoch: epoch, ourEpoch: 1) })
            #expect(h.roles[A] == .active)
        }
        // Same epoch, losing the tie-break (descending: node 2 wins).
        var s = Setup()
        s.bootOrder = .descending
        var h = loneActive(s)
        var p = FakePeer()
        h.inject(to: A, link: 0, bytes: p.frame(role: .active, echo: smIncarnations[A], epoch: 1))
        #expect(h.roles[A] == .stopped)
        #expect(h.emitted(A, .standDown(.higherEpochActive)))
    }

    @Test("an ACTIVE receiving a fenceNotice naming its incarnation stands down (fencedByPeer); naming another does not")
    func fenceNotice() {
        var h = loneActive()
        var p = FakePeer()
        h.inject(to: A, link: 0, bytes: p.frame(role: .standby, echo: smIncarnations[A]))
        h.inject(to: A, link: 0, bytes: p.frame(.fenceNotice, role: .fencing, echo: 0x1234, view: .fencing))
        #expect(h.roles[A] == .active)
        h.inject(to: A, link: 1, bytes: p.frame(.fenceNotice, role: .fencing, link: 1, echo: smIncarnations[A], view: .fencing))
        #expect(h.roles[A] == .stopped)
        #expect(h.emitted(A, .standDown(.fencedByPeer)))
        #expect(h.sm[A].nextDeadline == .never)
    }

    @Test("SIGSTOP story: the paused ACTIVE is fenced and replaced; on SIGCONT its frames are rejected and it stands down")
    func sigstop() throws {
        var h = Harness.established()
        h.paused[A] = true
        #expect(h.advance(until: .seconds(2)) { $0.roles[B] == .fencing })
        // The fence "succeeds" without stopping the frozen process (e.g. a wrong outlet).
        h.handle(B, .fenceResult(attempt: try #require(h.fences(B).first).attempt, confirmed: true))
        #expect(h.roles[B] == .active && h.sm[B].epoch == 2)
        h.advance(by: .seconds(3))
        let rejectedBefore = h.sm[B].links.map { $0.counters.rejected[.retiredIncarnation] }.reduce(0, +)
        h.resume(A, tickFirst: true)
        #expect(h.sm[A].stallCount == 1)
        #expect(h.roles[A] == .stopped)
        #expect(h.emitted(A, .standDown(.fencedByPeer)))
        // A's heartbeats sent on resume (before it read its queue) were rejected by B.
        let rejectedAfter = h.sm[B].links.map { $0.counters.rejected[.retiredIncarnation] }.reduce(0, +)
        #expect(rejectedAfter > rejectedBefore)
        #expect(h.roles[B] == .active)
        h.advance(by: .seconds(2))
        #expect(h.roles == [.stopped, .active])
    }
}

// MARK: - Rejected frames

@Suite("StateMachine: rejected frames")
struct RejectTests {
    @Test("wrong sender, own frame, our id with another incarnation, link mismatch, unknown link, replay, too old, bad tag: counted per link, no role change")
    func rejects() throws {
        var h = Harness.established()
        h.advance(by: .seconds(8))  // > 64 frames per link, so the first ones fell out of the window
        let roleChanges = [h.roleChanges(A).count, h.roleChanges(B).count]
        func count(_ r: RejectReason, link i: Int) -> UInt64 { h.sm[B].links[i].counters.rejected[r] }

        var stranger = FakePeer(id: 3, incarnation: 0x5555)
        h.inject(to: B, link: 0, bytes: stranger.frame(role: .active, echo: smIncarnations[B], epoch: 99))
        #expect(count(.unknownSender, link: 0) == 1)

        let own = try #require(h.sent(B, .heartbeat).last { $0.frame.link == 1 }).frame
        h.inject(to: B, link: 1, bytes: smCodec.encode(own))
        #expect(count(.ownFrame, link: 1) == 1)

        var twin = FakePeer(id: 2, incarnation: 0x7777)
        h.inject(to: B, link: 0, bytes: twin.frame(role: .active, echo: smIncarnations[B], epoch: 99))
        #expect(count(.unknownSender, link: 0) == 2)

        let fromA1 = try #require(h.delivered[B].last { $0.link == 1 })
        h.inject(to: B, link: 0, bytes: fromA1.bytes)
        #expect(count(.linkMismatch, link: 0) == 1)
        h.inject(to: B, link: 9, bytes: fromA1.bytes)
        #expect(h.sm[B].unattributedRejects[.linkMismatch] == 1)

        h.inject(to: B, link: 1, bytes: fromA1.bytes)
        #expect(count(.replayed, link: 1) == 1)

        let firstA0 = try #require(h.delivered[B].first { $0.link == 0 && $0.frame.peerIncarnationSeen == smIncarnations[B] })
        h.inject(to: B, link: 0, bytes: firstA0.bytes)
        #expect(count(.tooOld, link: 0) == 1)

        var bad = fromA1.bytes
        bad[20] ^= 1
        h.inject(to: B, link: 1, bytes: bad)
        #expect(count(.badTag, link: 1) == 1)
        h.inject(to: B, link: 1, bytes: Array(fromA1.bytes.prefix(40)))
        #expect(count(.truncated, link: 1) == 1)

        #expect(h.roles == [.active, .standby])
        #expect([h.roleChanges(A).count, h.roleChanges(B).count] == roleChanges)
        #expect(h.sm[B].peer.alive && h.sm[B].peer.incarnation == smIncarnations[A])
        #expect(h.sm[B].peer.epoch == 1)
        h.advance(by: .seconds(2))
        #expect(h.roles == [.active, .standby])
    }

    @Test("frames of a fenced (retired) incarnation are rejected: no stand-down, no role change")
    func retiredIncarnation() throws {
        var h = Harness.established()
        let oldFrames = h.delivered[B].suffix(4)
        h.crash(A)
        #expect(h.advance(until: .seconds(2)) { $0.roles[B] == .fencing })
        h.handle(B, .fenceResult(attempt: try #require(h.fences(B).first).attempt, confirmed: true))
        #expect(h.roles[B] == .active)
        // A recorded frame, and a fresh forgery-free frame of the old incarnation claiming a higher epoch.
        for d in oldFrames { h.inject(to: B, link: d.link, bytes: d.bytes) }
        var ghost = FakePeer(id: 1, incarnation: smIncarnations[A], firstSequence: 1_000_000)
        h.inject(to: B, link: 0, bytes: ghost.frame(role: .active, echo: smIncarnations[B], epoch: 50))
        h.inject(to: B, link: 1, bytes: ghost.frame(.fenceNotice, role: .fencing, link: 1, echo: smIncarnations[B], view: .fencing))
        let retired = h.sm[B].links.map { $0.counters.rejected[.retiredIncarnation] }
        #expect(retired.reduce(0, +) == UInt64(oldFrames.count) + 2)
        #expect(retired[1] >= 1)
        #expect(h.roles[B] == .active)
        #expect(!h.emitted(B, .standDown(.higherEpochActive)) && !h.emitted(B, .standDown(.fencedByPeer)))
        // The restarted peer (new incarnation) is accepted once it echoes us.
        var reborn = FakePeer(id: 1, incarnation: 0xA11C_E000_0000_0099)
        h.inject(to: B, link: 0, bytes: reborn.frame(role: .booting, echo: smIncarnations[B]))
        #expect(h.sm[B].peer.incarnation == 0xA11C_E000_0000_0099)
        #expect(h.roles[B] == .active)
    }

    @Test("a new peer incarnation that does not echo us is unverified: it teaches the echo but changes nothing")
    func unverified() {
        var h = Harness.established()
        var impostor = FakePeer(id: 1, incarnation: 0xBAD)
        for _ in 0..<5 { h.inject(to: B, link: 0, bytes: impostor.frame(role: .stopped, echo: 0xDEAD)) }
        #expect(h.sm[B].links[0].counters.rejected[.unverifiedIncarnation] == 5)
        #expect(h.sm[B].peer.incarnation == smIncarnations[A])
        #expect(h.roles == [.active, .standby])
    }
}
