// A fault plan: everything random about one simulated run, drawn from its seed up front.
// The nemesis schedule (crashes, hangs, cuts, operator actions) is fixed before the run starts,
// so a seed always replays the same story.

import ShaolinCore

/// Network behaviour of one direction of one link.
public struct LinkFaults: Sendable, CustomStringConvertible {
    public var loss: Double = 0
    public var duplicate: Double = 0
    public var corrupt: Double = 0
    /// One-way delay: base plus uniform jitter (jitter reorders frames).
    public var delayBase: Nanos = .us(200)
    public var delayJitter: Nanos = .zero
    public var description: String {
        "loss=\(Int(loss * 100))% dup=\(Int(duplicate * 100))% corrupt=\(Int(corrupt * 100))% delay=\(delayBase)+\(delayJitter)"
    }
}

/// How the fencing device behaves for this run.
public enum FenceBehaviour: Sendable, Equatable, CustomStringConvertible {
    /// Every fence succeeds after `latency`.
    case works(latency: Nanos)
    /// The first `failures` attempts fail, then fences work.
    case failsThenWorks(failures: Int, latency: Nanos)
    /// The BMC is unreachable: every attempt times out after `timeout`.
    case unreachable(timeout: Nanos)
    /// Works but slowly (several seconds).
    case slow(latency: Nanos)

    public var description: String {
        switch self {
        case .works(let l): "works(\(l))"
        case .failsThenWorks(let n, let l): "fails \(n)x then works(\(l))"
        case .unreachable(let t): "unreachable(timeout \(t))"
        case .slow(let l): "slow(\(l))"
        }
    }
}

/// One nemesis action at a simulated time.
public enum Nemesis: Sendable, Equatable, CustomStringConvertible {
    case crash(node: Int)
    /// The node is not scheduled for `duration` (SIGSTOP, VM steal, kernel stall).
    case hang(node: Int, duration: Nanos)
    /// Both nodes stall at once (the hypervisor stole both vCPUs).
    case hangBoth(duration: Nanos)
    /// Power on a node that is off (a reboot), with a new incarnation.
    case boot(node: Int)
    case cutLink(link: Int, duration: Nanos)
    case partition(duration: Nanos)
    case command(node: Int, OperatorCommand)
    /// The operator vouches the peer of `node` is down — issued only when it really is.
    case honestFenceConfirm(node: Int)
    case sigterm(node: Int)
    /// Crash whichever node holds the ACTIVE role at that moment (checked for failover time).
    case crashActive

    public var description: String {
        switch self {
        case .crash(let n): "crash node\(n)"
        case .hang(let n, let d): "hang node\(n) for \(d)"
        case .hangBoth(let d): "hang both nodes for \(d)"
        case .boot(let n): "boot node\(n)"
        case .cutLink(let l, let d): "cut link\(l) for \(d)"
        case .partition(let d): "partition all links for \(d)"
        case .command(let n, let c): "operator on node\(n): \(c)"
        case .honestFenceConfirm(let n): "operator fence-confirm on node\(n) (if peer is off)"
        case .sigterm(let n): "SIGTERM node\(n)"
        case .crashActive: "crash the ACTIVE node"
        }
    }
}

public struct FaultPlan: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var parameters: [ClusterParameters]  // one per node (they mirror each other)
    public var bootAt: [Nanos]
    /// Clock rate error per node in parts per million.
    public var clockPPM: [Int64]
    public var linkFaults: [[LinkFaults]]  // [link][direction 0: node0→node1, 1: node1→node0]
    public var fence: FenceBehaviour
    public var nemesis: [(at: Nanos, action: Nemesis)]
    public var duration: Nanos

    public var description: String {
        var s = "seed \(seed): \(parameters[0].links.count) link(s)"
        for (i, l) in parameters[0].links.enumerated() {
            s += "\n  link\(i): keepalive \(l.keepalive) deadtime \(l.deadtime) warntime \(l.warntime)\(l.critical ? " critical" : "")"
            s += "\n    0→1 \(linkFaults[i][0])\n    1→0 \(linkFaults[i][1])"
        }
        s += "\n  boot at node0 \(bootAt[0]), node1 \(bootAt[1]); clock ppm \(clockPPM[0]), \(clockPPM[1])"
        s += "\n  min_alive_links \(parameters[0].minAliveLinks), startup \(parameters[0].startupTimeout), race delay \(parameters[0].fenceRaceDelay)"
        s += "\n  fencing \(fence)"
        for n in nemesis { s += "\n  at \(n.at): \(n.action)" }
        return s
    }

    /// Draws a plan from `seed`. Mixes calm runs with hostile ones.
    public static func generate(seed: UInt64) -> FaultPlan {
        var r = SimRandom(seed: seed)
        let linkCount = Int(r.int(1...3))
        let keepalive = Nanos.ms(r.pick([20, 50, 100, 200]))
        var links: [LinkParameters] = []
        for i in 0..<linkCount {
            let k = r.chance(0.3) ? keepalive * r.int(1...3) : keepalive
            let dead = k * r.int(4...10)
            let warn = Nanos((k.value + dead.value) / 2)
            links.append(LinkParameters(id: UInt8(i), keepalive: k, deadtime: dead, warntime: warn,
                                        critical: linkCount > 1 && r.chance(0.15)))
        }
        let longestDead = links.map(\.deadtime).max()!
        let startup = longestDead * r.int(2...4)
        let minAlive = Int(r.int(1...Int64(linkCount)))
        let prio0 = UInt8(r.pick([100, 100, 100, 50, 150]))
        let prio1 = UInt8(r.pick([100, 100, 100, 50, 150]))
        let order: BootOrder = r.chance(0.5) ? .ascending : .descending
        let raceDelay = Nanos.ms(r.int(1000...4000))
        var preferred: UInt16? = nil
        if r.chance(0.15) { preferred = r.chance(0.5) ? 1 : 2 }
        func params(local: UInt16, peer: UInt16, lp: UInt8, pp: UInt8) -> ClusterParameters {
            ClusterParameters(
                clusterID: 7, localNodeID: local, peerNodeID: peer, localPriority: lp, peerPriority: pp,
                bootOrder: order, links: links, minAliveLinks: minAlive, startupTimeout: startup,
                syncTimeout: .ms(r.int(200...2000)), fenceRaceDelay: raceDelay,
                fenceRetryInitial: .ms(500), fenceRetryMax: .seconds(4),
                preferredNodeID: preferred, failbackDelay: .seconds(3))
        }
        let p0 = params(local: 1, peer: 2, lp: prio0, pp: prio1)
        let p1 = params(local: 2, peer: 1, lp: prio1, pp: prio0)

        let simultaneous = r.chance(0.4)
        let boot0 = Nanos.ms(r.int(0...(simultaneous ? 30 : 3000)))
        let boot1 = Nanos.ms(r.int(0...(simultaneous ? 30 : 3000)))
        let ppm: [Int64] = r.chance(0.5) ? [r.int(-2000...2000), r.int(-2000...2000)] : [0, 0]

        let hostileNet = r.chance(0.5)
        var faults: [[LinkFaults]] = []
        for _ in 0..<linkCount {
            var dirs: [LinkFaults] = []
            for _ in 0..<2 {
                var f = LinkFaults()
                f.delayBase = .us(r.int(50...2000))
                if hostileNet {
                    f.loss = Double(r.int(0...30)) / 100
                    f.duplicate = Double(r.int(0...5)) / 100
                    f.corrupt = Double(r.int(0...5)) / 100
                    f.delayJitter = .us(r.int(0...3000))
                }
                dirs.append(f)
            }
            faults.append(dirs)
        }

        let fence: FenceBehaviour
        switch r.int(0...9) {
        case 0...5: fence = .works(latency: .ms(r.int(50...1500)))
        case 6, 7: fence = .failsThenWorks(failures: Int(r.int(1...4)), latency: .ms(r.int(50...1000)))
        case 8: fence = .unreachable(timeout: .ms(r.int(500...3000)))
        default: fence = .slow(latency: .ms(r.int(3000...8000)))
        }

        let duration = Nanos.seconds(r.int(15...30))
        var nemesis: [(Nanos, Nemesis)] = []
        let actions = Int(r.int(0...6))
        for _ in 0..<actions {
            let at = Nanos.ms(r.int(2000...(duration.milliseconds - 3000)))
            let node = Int(r.int(0...1))
            let a: Nemesis
            switch r.int(0...16) {
            case 0, 1: a = .crashActive
            case 2: a = .crash(node: node)
            case 3: a = .hang(node: node, duration: .ms(r.int(20...3000)))
            case 4: a = .hangBoth(duration: .ms(r.int(20...200)))
            case 5: a = .boot(node: node)
            case 6: a = .cutLink(link: Int(r.int(0...Int64(linkCount - 1))), duration: .ms(r.int(100...5000)))
            case 7: a = .partition(duration: .ms(r.int(100...6000)))
            case 8: a = .command(node: node, .switchover)
            case 9: a = .command(node: node, .maintenance(true))
            case 10: a = .command(node: node, .maintenance(false))
            case 11: a = .honestFenceConfirm(node: node)
            case 12: a = .sigterm(node: node)
            case 13: a = .command(node: node, .localFailure)
            case 14: a = .command(node: node, .standby)
            case 15: a = .command(node: node, .localRecovered)
            default: a = .hang(node: node, duration: .ms(r.int(20...200)))
            }
            nemesis.append((at, a))
            // Crashed or stopped nodes come back later in most runs.
            if case .crash = a, r.chance(0.7) { nemesis.append((at + .ms(r.int(500...6000)), .boot(node: node))) }
            if case .crashActive = a, r.chance(0.5) {
                nemesis.append((at + .ms(r.int(3000...8000)), .boot(node: 0)))
                nemesis.append((at + .ms(r.int(3000...8000)), .boot(node: 1)))
            }
            if case .command(_, .maintenance(true)) = a, r.chance(0.7) {
                nemesis.append((at + .ms(r.int(200...4000)), .command(node: node, .maintenance(false))))
            }
        }
        nemesis.sort { $0.0 < $1.0 }
        return FaultPlan(seed: seed, parameters: [p0, p1], bootAt: [boot0, boot1], clockPPM: ppm,
                         linkFaults: faults, fence: fence, nemesis: nemesis, duration: duration)
    }
}
