// Two real `ClusterStateMachine`s on simulated clocks, joined by simulated links, fenced by a
// simulated BMC, attacked by the nemesis of a `FaultPlan`. Frames travel as encoded,
// authenticated bytes, so the real codec, HMAC and replay windows are exercised too.

@_spi(Testing) import ShaolinCore

enum SimEvent {
    case timer(node: Int, generation: UInt64)
    case deliver(node: Int, link: UInt8, bytes: [UInt8])
    case fenceDone(node: Int, incarnation: UInt64, attempt: UInt32, success: Bool, target: Int)
    case syncDone(node: Int, incarnation: UInt64)
    case resume(node: Int, token: UInt64)
    case restoreLink(link: Int, token: UInt64)
    case nemesis(Nemesis)
    case checkFailover(survivor: Int, crashedAt: Int64, bound: Nanos)
    case end
}

/// A simulated machine: power, a running engine (or none), its clock and its stalls.
struct SimNode {
    var sm: ClusterStateMachine?
    var powered = false
    var hung = false
    var hangToken: UInt64 = 0
    var deferred: [SimEvent] = []
    var timerGeneration: UInt64 = 0
    let clockOffset: Int64
    let ppm: Int64
    var boots: UInt64 = 0

    func local(_ global: Int64) -> Instant {
        Instant(nanoseconds: clockOffset &+ global &+ global &* ppm / 1_000_000)
    }
    /// The earliest global time at which the local clock reads at least `local`.
    func global(_ local: Instant) -> Int64 {
        let d = local.nanoseconds &- clockOffset
        let g = (d &* 1_000_000 + (1_000_000 + ppm) - 1) / (1_000_000 + ppm)
        return max(0, g)
    }
}

/// The first invariant violation found in a run.
public struct Violation: Error, Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var at: Nanos
    public var message: String
    public var description: String { "seed \(seed) at \(at): \(message)" }
}

public struct SimulationResult: Sendable {
    public var seed: UInt64
    public var violation: Violation?
    public var trace: [String]
    public var events: Int
    public var takeovers: Int
    public var failoverChecks: Int
    public var fences: Int
    public var stalls: UInt64
}

/// Options that change the system under test (used to prove the checks can fail).
public struct SimulationOptions: Sendable {
    public var trace = false
    /// Sabotage: take over without fencing. The checker must catch it.
    public var skipFenceConfirmation = false
    /// Check the recorded reason of every takeover against the fence log (on by default). Turned
    /// off in a test to show the two-ACTIVE invariant catches the sabotage on its own.
    public var checkTakeoverRecords = true
    public init(trace: Bool = false, skipFenceConfirmation: Bool = false, checkTakeoverRecords: Bool = true) {
        self.trace = trace
        self.skipFenceConfirmation = skipFenceConfirmation
        self.checkTakeoverRecords = checkTakeoverRecords
    }
}

public struct SimulatedCluster {
    let plan: FaultPlan
    let options: SimulationOptions
    var rng: SimRandom
    var queue = EventQueue<SimEvent>()
    var nodes: [SimNode]
    var now: Int64 = 0
    var codec: FrameCodec
    var linkCutToken: [UInt64]
    var linkCut: [Bool]
    var fenceAttempts = 0
    /// Per node: fence attempts whose success was delivered (for the takeover check).
    var confirmedFences: [Set<UInt32>] = [[], []]
    var operatorConfirmed = [false, false]
    var trace: [String] = []
    var violation: Violation?
    var events = 0
    var takeovers = 0
    var failoverChecks = 0
    var stalls: UInt64 = 0

    public init(plan: FaultPlan, options: SimulationOptions = SimulationOptions()) {
        self.plan = plan
        self.options = options
        self.rng = SimRandom(seed: plan.seed ^ 0x5EED_F00D)
        self.codec = FrameCodec(clusterID: 7, key: try! ClusterKey(bytes: Array("simulated-cluster-key-0123456789".utf8)))
        self.nodes = (0..<2).map { SimNode(clockOffset: 1_000_000_000_000 + Int64($0) * 7_777_777, ppm: plan.clockPPM[$0]) }
        self.linkCutToken = Array(repeating: 0, count: plan.parameters[0].links.count)
        self.linkCut = Array(repeating: false, count: plan.parameters[0].links.count)
    }

    /// Runs the plan to its end or to the first violation.
    public static func run(seed: UInt64, options: SimulationOptions = SimulationOptions()) -> SimulationResult {
        var sim = SimulatedCluster(plan: FaultPlan.generate(seed: seed), options: options)
        return sim.run()
    }

    public mutating func run() -> SimulationResult {
        if options.trace { let d = plan.description; log(d) }
        for n in 0..<2 { queue.push(plan.bootAt[n].value, .nemesis(.boot(node: n))) }
        for (at, a) in plan.nemesis { queue.push(at.value, .nemesis(a)) }
        queue.push(plan.duration.value, .end)
        loop: while let (t, e) = queue.pop() {
            now = t
            events += 1
            if case .end = e { break loop }
            dispatch(e)
            checkSafety()
            if violation != nil { break }
        }
        for n in nodes { stalls &+= n.sm?.stallCount ?? 0 }
        return SimulationResult(seed: plan.seed, violation: violation, trace: trace, events: events,
                                takeovers: takeovers, failoverChecks: failoverChecks, fences: fenceAttempts,
                                stalls: stalls)
    }

    // MARK: - Dispatch

    mutating func dispatch(_ e: SimEvent) {
        switch e {
        case .timer(let n, let gen):
            guard nodes[n].powered, gen == nodes[n].timerGeneration else { return }
            if nodes[n].hung { nodes[n].deferred.append(e); return }
            withNode(n) { sm, t in sm.tick(now: t) }
            // A tick must move the deadline forward, or the engine would spin.
            if let sm = nodes[n].sm, nodes[n].powered, sm.nextDeadline <= nodes[n].local(now) {
                fail("node\(n) busy loop: deadline \(sm.nextDeadline) not after now \(nodes[n].local(now)) in \(sm.role)")
            }
        case .deliver(let n, let link, let bytes):
            guard nodes[n].powered else { return }
            if nodes[n].hung { nodes[n].deferred.append(e); return }
            withNode(n) { sm, t in bytes.withUnsafeBytes { sm.receive($0, link: link, now: t) } }
        case .fenceDone(let n, let inc, let attempt, let success, let target):
            // The BMC acts whatever became of the node that asked: power goes off first.
            if success && nodes[target].powered { powerOff(target, why: "fenced by its peer (attempt \(attempt))") }
            guard nodes[n].powered, nodes[n].sm?.incarnation == inc else { return }
            if nodes[n].hung { nodes[n].deferred.append(e); return }
            if success { confirmedFences[n].insert(attempt) }
            log("node\(n) fence attempt \(attempt) \(success ? "CONFIRMED" : "FAILED")")
            withNode(n) { sm, t in sm.handle(.fenceResult(attempt: attempt, confirmed: success), now: t) }
        case .syncDone(let n, let inc):
            guard nodes[n].powered, nodes[n].sm?.incarnation == inc else { return }
            if nodes[n].hung { nodes[n].deferred.append(e); return }
            withNode(n) { sm, t in sm.handle(.syncFinished, now: t) }
        case .resume(let n, let token):
            guard nodes[n].hung, nodes[n].hangToken == token else { return }
            nodes[n].hung = false
            log("node\(n) resumes")
            // Like the engine: first every frame already queued, then results, then the timer.
            let pending = nodes[n].deferred
            nodes[n].deferred.removeAll()
            for p in pending { if case .deliver = p { dispatch(p) } }
            for p in pending {
                switch p {
                case .deliver, .timer: break
                default: dispatch(p)
                }
            }
            if nodes[n].powered && !nodes[n].hung { withNode(n) { sm, t in sm.tick(now: t) } }
        case .restoreLink(let l, let token):
            if linkCutToken[l] == token {
                linkCut[l] = false
                log("link\(l) restored")
            }
        case .nemesis(let a):
            nemesis(a)
        case .checkFailover(let s, let crashedAt, let bound):
            failoverChecks += 1
            let role = nodes[s].powered ? nodes[s].sm?.role : nil
            if role != .active {
                fail("failover too slow: node\(s) is \(role.map { "\($0)" } ?? "off") \(Nanos(now - crashedAt)) after the ACTIVE crashed (bound \(bound))")
            }
        case .end:
            break
        }
    }

    mutating func nemesis(_ a: Nemesis) {
        log("NEMESIS \(a)")
        switch a {
        case .boot(let n):
            guard !nodes[n].powered else { return }
            powerOn(n)
        case .crash(let n):
            powerOff(n, why: "crashed")
        case .crashActive:
            guard let a = (0..<2).first(where: { nodes[$0].powered && nodes[$0].sm?.role.holdsResources == true }) else { return }
            let s = 1 - a
            let survivorReady: Bool = {
                guard nodes[s].powered, !nodes[s].hung, !nodes[a].hung, let sm = nodes[s].sm else { return false }
                return sm.role == .standby && sm.peer.alive && !sm.maintenance
            }()
            powerOff(a, why: "crashed (was ACTIVE)")
            if survivorReady, let bound = failoverBound(survivor: s) {
                queue.push(now + bound.value, .checkFailover(survivor: s, crashedAt: now, bound: bound))
            }
        case .hang(let n, let d):
            hang(n, d)
        case .hangBoth(let d):
            hang(0, d)
            hang(1, d)
        case .cutLink(let l, let d):
            cut(l, d)
        case .partition(let d):
            for l in linkCut.indices { cut(l, d) }
        case .command(let n, let c):
            guard nodes[n].powered, !nodes[n].hung else { return }
            withNode(n) { sm, t in sm.handle(.command(c, id: 1), now: t) }
        case .honestFenceConfirm(let n):
            guard nodes[n].powered, !nodes[n].hung, !nodes[1 - n].powered else { return }
            operatorConfirmed[n] = true
            withNode(n) { sm, t in sm.handle(.command(.fenceConfirm, id: 2), now: t) }
        case .sigterm(let n):
            guard nodes[n].powered, !nodes[n].hung else { return }
            withNode(n) { sm, t in sm.handle(.shutdown, now: t) }
        }
    }

    /// deadtime + fence time + one keepalive (+ the network's worst one-way delay), on the
    /// survivor's clock; nil when this run's fencing has no fixed latency or more nemesis follows.
    func failoverBound(survivor s: Int) -> Nanos? {
        let fenceLatency: Nanos
        switch plan.fence {
        case .works(let l), .slow(let l): fenceLatency = l
        default: return nil
        }
        let p = plan.parameters[s]
        let dead = p.links.map(\.deadtime).max()!
        let keep = p.links.map(\.keepalive).min()!
        var worstDelay = Nanos.zero
        for l in plan.linkFaults { for d in l { worstDelay = max(worstDelay, d.delayBase + d.delayJitter) } }
        if worstDelay > keep / 2 { return nil }
        // Skip when further nemesis actions fall into the window.
        let localBound = dead + keep
        let globalBound = Nanos(localBound.value * 1_000_000 / (1_000_000 + plan.clockPPM[s]) + 1) + fenceLatency
        // A reboot of the crashed node inside the window legitimately changes the outcome.
        for (at, _) in plan.nemesis where at.value > now && at.value <= now + globalBound.value { return nil }
        return globalBound
    }

    // MARK: - Node plumbing

    mutating func withNode(_ n: Int, _ body: (inout ClusterStateMachine, Instant) -> Void) {
        guard var sm = nodes[n].sm else { return }
        let t = nodes[n].local(now)
        body(&sm, t)
        var acts: [Action] = []
        sm.drainActions { acts.append($0) }
        nodes[n].sm = sm
        for a in acts { perform(a, node: n) }
        // Re-arm the timer (the engine arms its timerfd at the absolute deadline).
        if let sm = nodes[n].sm, nodes[n].powered {
            nodes[n].timerGeneration &+= 1
            if sm.nextDeadline != .never {
                queue.push(max(now, nodes[n].global(sm.nextDeadline)), .timer(node: n, generation: nodes[n].timerGeneration))
            }
        }
    }

    mutating func perform(_ a: Action, node n: Int) {
        switch a {
        case .send(let link, let frame):
            transmit(from: n, link: Int(link), frame: frame)
        case .fence(let attempt):
            fenceAttempts += 1
            let inc = nodes[n].sm!.incarnation
            let (latency, success): (Nanos, Bool) = {
                switch plan.fence {
                case .works(let l), .slow(let l): return (l, true)
                case .failsThenWorks(let k, let l): return (l, fenceAttempts > k)
                case .unreachable(let t): return (t, false)
                }
            }()
            log("node\(n) starts fence attempt \(attempt) of node\(1 - n)")
            let target = 1 - n
            queue.push(now + latency.value, .fenceDone(node: n, incarnation: inc, attempt: attempt, success: success, target: target))
        case .sync(let timeout):
            let inc = nodes[n].sm!.incarnation
            queue.push(now + rng.int(0...(timeout.value * 3 / 2)), .syncDone(node: n, incarnation: inc))
        case .roleChanged(let from, let to, let reason):
            log("node\(n) \(from) -> \(to) (\(reason))")
            if to == .active && from != .leaving { checkTakeover(n, reason: reason) }
        case .log(let ev):
            if options.trace { log("node\(n) \(ev)") }
        case .reply(let id, let ok, let refusal):
            if options.trace { log("node\(n) reply \(id): \(ok ? "accepted" : "refused: \(refusal!)")") }
        case .shutdownSelf:
            powerOff(n, why: "powered itself off after handover")
        case .standDown(let reason):
            powerOff(n, why: "stood down (\(reason)); rebooting")
            queue.push(now + Nanos.seconds(2).value, .nemesis(.boot(node: n)))
        case .exit:
            powerOff(n, why: "engine exited")
        }
    }

    mutating func transmit(from n: Int, link: Int, frame: Frame) {
        guard !linkCut[link] else { return }
        let dst = 1 - n
        let f = plan.linkFaults[link][n]
        if rng.chance(f.loss) { return }
        var bytes = codec.encode(frame)
        if rng.chance(f.corrupt) {
            let i = Int(rng.next() % UInt64(bytes.count))
            bytes[i] ^= UInt8(1 + rng.next() % 255)
        }
        let copies = rng.chance(f.duplicate) ? 2 : 1
        for _ in 0..<copies {
            let delay = f.delayBase.value + (f.delayJitter.value > 0 ? rng.int(0...f.delayJitter.value) : 0)
            queue.push(now + delay, .deliver(node: dst, link: UInt8(link), bytes: bytes))
        }
    }

    mutating func powerOn(_ n: Int) {
        nodes[n].powered = true
        nodes[n].hung = false
        nodes[n].deferred.removeAll()
        nodes[n].boots &+= 1
        confirmedFences[n] = []
        operatorConfirmed[n] = false
        var inc = rng.next()
        if inc == 0 { inc = 1 }
        var sm = ClusterStateMachine(parameters: plan.parameters[n], codec: codec, incarnation: inc)
        sm.unsafeSkipFenceConfirmation = options.skipFenceConfirmation
        nodes[n].sm = sm
        log("node\(n) powers on (incarnation \(String(inc, radix: 16)))")
        withNode(n) { sm, t in sm.start(now: t) }
    }

    mutating func powerOff(_ n: Int, why: String) {
        guard nodes[n].powered else { return }
        nodes[n].powered = false
        nodes[n].hung = false
        nodes[n].deferred.removeAll()
        stalls &+= nodes[n].sm?.stallCount ?? 0
        nodes[n].sm = nil
        log("node\(n) OFF: \(why)")
    }

    mutating func hang(_ n: Int, _ d: Nanos) {
        guard nodes[n].powered else { return }
        nodes[n].hung = true
        nodes[n].hangToken &+= 1
        queue.push(now + d.value, .resume(node: n, token: nodes[n].hangToken))
    }

    mutating func cut(_ l: Int, _ d: Nanos) {
        linkCut[l] = true
        linkCutToken[l] &+= 1
        queue.push(now + d.value, .restoreLink(link: l, token: linkCutToken[l]))
    }

    // MARK: - Invariants

    mutating func checkSafety() {
        // Never two nodes holding the shared disks; a hung node still holds them.
        let holders = (0..<2).filter { nodes[$0].powered && nodes[$0].sm?.role.holdsResources == true }
        if holders.count > 1 {
            fail("two nodes ACTIVE at once: node0 \(nodes[0].sm!.role) epoch \(nodes[0].sm!.epoch), node1 \(nodes[1].sm!.role) epoch \(nodes[1].sm!.epoch)")
        }
    }

    mutating func checkTakeover(_ n: Int, reason: TransitionReason) {
        takeovers += 1
        guard options.checkTakeoverRecords else { return }
        switch reason {
        case .fenceConfirmed:
            if let sm = nodes[n].sm, !confirmedFences[n].contains(sm.fence.attempt) {
                fail("node\(n) took over (\(reason)) without a confirmed fence")
            }
        case .operatorConfirmed:
            if !operatorConfirmed[n] { fail("node\(n) took over on an operator confirmation nobody gave") }
        case .peerStandby:
            break  // Safety of this path is checked by the two-ACTIVE invariant.
        default:
            fail("node\(n) became ACTIVE for an unexpected reason: \(reason)")
        }
    }

    mutating func fail(_ message: String) {
        if violation == nil {
            violation = Violation(seed: plan.seed, at: Nanos(now), message: message)
            log("VIOLATION: \(message)")
        }
    }

    mutating func log(_ s: String) {
        guard options.trace else { return }
        let ms = now / 1_000_000
        let frac = String(ms % 1000)
        trace.append("t=\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)s \(s)")
    }
}
