// A tiny deterministic driver for two `ClusterStateMachine`s: it moves `.send` actions' frames
// (encoded with the real codec) to the other node at once, ticks each node at its
// `nextDeadline`, and records every action with its time. Faults: a node can be crashed (no
// ticks, frames to it lost), muted (its frames lost), paused (SIGSTOP: no ticks, frames to it
// queued), links can be cut, and a filter can drop chosen frames.

import Testing

import ShaolinCore

let smKey = try! ClusterKey(bytes: Array("state-machine-tests-key-32-bytes".utf8))
let smCodec = FrameCodec(clusterID: 7, key: smKey)
let smKeepalive = Nanos.ms(100)
let smWarntime = Nanos.ms(250)
let smDeadtime = Nanos.ms(500)
/// Node ids by index: index 0 is node 1 ("A"), index 1 is node 2 ("B").
let smIDs: [UInt16] = [1, 2]
let smIncarnations: [UInt64] = [0xA11C_E000_0000_0001, 0xB0B0_0000_0000_0002]

func smLink(_ id: UInt8, critical: Bool = false) -> LinkParameters {
    LinkParameters(id: id, keepalive: smKeepalive, deadtime: smDeadtime, warntime: smWarntime, critical: critical)
}

/// Cluster-wide settings; `parameters(i)` gives node i's mirrored view.
struct Setup {
    var links: [LinkParameters] = [smLink(0), smLink(1)]
    var minAlive = 1
    var priority: [UInt8] = [100, 100]
    var bootOrder: BootOrder = .ascending
    var preferred: UInt16? = nil
    var takeoverRequestTimeout: Nanos? = nil
    var failbackDelay: Nanos = .seconds(3)
    var startupTimeout: Nanos = .seconds(2)
    var syncTimeout: Nanos = .seconds(2)
    var fenceRaceDelay: Nanos = .seconds(3)
    var noticeRepeats = 3

    func parameters(_ i: Int) -> ClusterParameters {
        ClusterParameters(
            clusterID: 7, localNodeID: smIDs[i], peerNodeID: smIDs[1 - i],
            localPriority: priority[i], peerPriority: priority[1 - i], bootOrder: bootOrder,
            links: links, minAliveLinks: minAlive, startupTimeout: startupTimeout, syncTimeout: syncTimeout,
            takeoverRequestTimeout: takeoverRequestTimeout, fenceRaceDelay: fenceRaceDelay,
            fenceRetryInitial: .seconds(1), fenceRetryMax: .seconds(4),
            preferredNodeID: preferred, failbackDelay: failbackDelay, noticeRepeats: noticeRepeats)
    }
}

struct Record {
    var at: Instant
    var action: Action
}

struct Reply: Equatable, CustomStringConvertible {
    var id: UInt32
    var accepted: Bool
    var refusal: RefusalReason?
    init(_ id: UInt32, _ accepted: Bool, _ refusal: RefusalReason?) {
        self.id = id
        self.accepted = accepted
        self.refusal = refusal
    }
    var description: String { "reply(\(id), \(accepted), \(refusal.map(\.description) ?? "-"))" }
}

struct Delivery {
    var at: Instant
    var link: UInt8
    var frame: Frame
    var bytes: [UInt8]
}

struct Harness {
    var setup: Setup
    var sm: [ClusterStateMachine]
    /// Every action each node emitted, in order.
    var out: [[Record]] = [[], []]
    /// Every frame handed to each node's `receive` by the harness (not injected ones).
    var delivered: [[Delivery]] = [[], []]
    var now = Instant(nanoseconds: 1_000_000_000_000)
    var running = [false, false]
    var paused = [false, false]
    var muted = [false, false]
    var cut: Set<UInt8> = []
    var queued: [[(link: UInt8, bytes: [UInt8])]] = [[], []]
    /// Return true to drop a frame sent by node `from`.
    var drop: (_ from: Int, _ frame: Frame) -> Bool = { _, _ in false }
    /// Ticks that left `nextDeadline` at or before the tick time (a busy loop).
    var ticks = 0

    init(_ setup: Setup = Setup()) {
        self.setup = setup
        #expect(setup.parameters(0).problems() == [])
        sm = (0..<2).map {
            ClusterStateMachine(parameters: setup.parameters($0), codec: smCodec, incarnation: smIncarnations[$0])
        }
    }

    // MARK: Driving

    mutating func start(_ i: Int) {
        running[i] = true
        sm[i].start(now: now)
        pump()
    }

    mutating func crash(_ i: Int) {
        running[i] = false
        sm[i].drainActions { _ in }
    }

    mutating func handle(_ i: Int, _ e: Event) {
        sm[i].handle(e, now: now)
        pump()
    }

    mutating func command(_ i: Int, _ c: OperatorCommand, id: UInt32 = 1) {
        handle(i, .command(c, id: id))
    }

    mutating func inject(to j: Int, link: UInt8, bytes: [UInt8]) {
        bytes.withUnsafeBytes { sm[j].receive($0, link: link, now: now) }
        pump()
    }

    mutating func tick(_ i: Int) {
        sm[i].tick(now: now)
        ticks += 1
        #expect(sm[i].nextDeadline > now, "node \(i + 1): tick at \(now) left nextDeadline \(sm[i].nextDeadline) (busy loop)")
        pump()
    }

    /// Delivers frames queued for a paused node; with `tickFirst` the node first gets its late tick.
    mutating func resume(_ i: Int, tickFirst: Bool) {
        paused[i] = false
        if tickFirst { tick(i) }
        let q = queued[i]
        queued[i] = []
        for (l, b) in q {
            if case .frame(let f) = smCodec.decode(b) { delivered[i].append(Delivery(at: now, link: l, frame: f, bytes: b)) }
            b.withUnsafeBytes { sm[i].receive($0, link: l, now: now) }
        }
        pump()
        if !tickFirst && sm[i].nextDeadline <= now { tick(i) }
    }

    /// Moves every pending action to the log and every deliverable frame to its receiver.
    mutating func pump() {
        var rounds = 0
        while true {
            var moved = false
            for i in 0..<2 {
                var batch: [Action] = []
                sm[i].drainActions { batch.append($0) }
                if batch.isEmpty { continue }
                moved = true
                for a in batch {
                    out[i].append(Record(at: now, action: a))
                    guard case .send(let l, let f) = a else { continue }
                    #expect(f.link == l && f.sender == smIDs[i] && f.incarnation == smIncarnations[i])
                    let j = 1 - i
                    if !running[i] || muted[i] || cut.contains(l) || drop(i, f) || !running[j] { continue }
                    let bytes = smCodec.encode(f)
                    if paused[j] { queued[j].append((l, bytes)); continue }
                    delivered[j].append(Delivery(at: now, link: l, frame: f, bytes: bytes))
                    bytes.withUnsafeBytes { sm[j].receive($0, link: l, now: now) }
                }
            }
            if !moved { return }
            rounds += 1
            if rounds > 10_000 { Issue.record("pump did not settle"); return }
        }
    }

    /// Runs both nodes to `t`, ticking each at its `nextDeadline`.
    mutating func advance(to t: Instant) {
        var steps = 0
        while true {
            var d = Instant.never
            for i in 0..<2 where running[i] && !paused[i] { d = min(d, sm[i].nextDeadline) }
            if d > t { break }
            if d > now { now = d }
            for i in 0..<2 where running[i] && !paused[i] && sm[i].nextDeadline <= now { tick(i) }
            steps += 1
            if steps > 1_000_000 { Issue.record("advance did not terminate"); return }
        }
        if t > now { now = t }
    }

    mutating func advance(by d: Nanos) { advance(to: now + d) }

    /// Advances deadline by deadline until `cond` holds, at most `limit`; returns whether it held.
    @discardableResult
    mutating func advance(until limit: Nanos, _ cond: (Harness) -> Bool) -> Bool {
        let end = now + limit
        while !cond(self) {
            var d = Instant.never
            for i in 0..<2 where running[i] && !paused[i] { d = min(d, sm[i].nextDeadline) }
            if d > end { now = max(now, end); return cond(self) }
            advance(to: max(d, now))
        }
        return true
    }

    // MARK: Queries

    func roleChanges(_ i: Int) -> [(at: Instant, from: Role, to: Role, reason: TransitionReason)] {
        out[i].compactMap { r in
            if case .roleChanged(let f, let t, let why) = r.action { return (r.at, f, t, why) }
            return nil
        }
    }

    func fences(_ i: Int) -> [(at: Instant, attempt: UInt32)] {
        out[i].compactMap { r in
            if case .fence(let a) = r.action { return (r.at, a) }
            return nil
        }
    }

    func logs(_ i: Int) -> [(at: Instant, event: ClusterLogEvent)] {
        out[i].compactMap { r in
            if case .log(let e) = r.action { return (r.at, e) }
            return nil
        }
    }

    func sent(_ i: Int, _ type: FrameType) -> [(at: Instant, frame: Frame)] {
        out[i].compactMap { r in
            if case .send(_, let f) = r.action, f.type == type { return (r.at, f) }
            return nil
        }
    }

    func emitted(_ i: Int, _ a: Action) -> Bool { out[i].contains { $0.action == a } }

    func times(_ i: Int, _ a: Action) -> [Instant] { out[i].filter { $0.action == a }.map(\.at) }

    func replies(_ i: Int) -> [Reply] {
        out[i].compactMap { r in
            if case .reply(let id, let ok, let why) = r.action { return Reply(id, ok, why) }
            return nil
        }
    }

    /// Last time node `j` received a frame from its peer on `link` (any link when nil).
    func lastDelivery(to j: Int, link: UInt8? = nil) -> Instant? {
        delivered[j].last { link == nil || $0.link == link }?.at
    }

    var roles: [Role] { sm.map(\.role) }

    /// Node 0 boots alone, fences the absent peer and becomes ACTIVE (epoch 1); then node 1 boots
    /// and becomes STANDBY. Both run for another second.
    static func established(_ setup: Setup = Setup(), active: Int = 0) -> Harness {
        var h = Harness(setup)
        let s = 1 - active
        h.start(active)
        h.advance(by: setup.startupTimeout + (setup.parameters(active).localWinsTieBreak ? .zero : setup.fenceRaceDelay))
        let f = h.fences(active)
        #expect(f.count == 1)
        h.handle(active, .fenceResult(attempt: f.last?.attempt ?? 0, confirmed: true))
        #expect(h.sm[active].role == .active)
        h.advance(by: .ms(500))
        h.start(s)
        h.advance(by: .seconds(1))
        #expect(h.roles[active] == .active)
        #expect(h.roles[s] == .standby)
        #expect(h.sm[s].peer.alive && h.sm[active].peer.alive)
        return h
    }
}

/// Hand-crafted frames from a peer node (real codec, per-link sequence numbers).
struct FakePeer {
    var id: UInt16
    var incarnation: UInt64
    var seq: [UInt8: UInt64] = [:]

    init(id: UInt16 = 2, incarnation: UInt64 = 0xFA4E_0000_0000_0001, firstSequence: UInt64 = 0) {
        self.id = id
        self.incarnation = incarnation
        for l: UInt8 in 0..<8 { seq[l] = firstSequence }
    }

    mutating func frame(
        _ type: FrameType = .heartbeat, role: Role, link: UInt8 = 0, echo: UInt64, epoch: UInt32 = 0,
        health: HealthFlags = [], view: PeerView = .alive, argument: UInt32 = 0, frameLink: UInt8? = nil,
        sequence: UInt64? = nil
    ) -> [UInt8] {
        let s: UInt64
        if let sequence { s = sequence } else { seq[link, default: 0] += 1; s = seq[link]! }
        return smCodec.encode(Frame(
            type: type, clusterID: 7, sender: id, link: frameLink ?? link, role: role, health: health,
            peerView: view, incarnation: incarnation, sequence: s, sendTime: 1, peerIncarnationSeen: echo,
            epoch: epoch, argument: argument))
    }
}
