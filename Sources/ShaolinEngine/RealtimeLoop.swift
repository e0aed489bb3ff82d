// The real-time loop: one thread that owns the state machine and the links.
//
// Every wake-up (timer, signal, slow-side input, and a frame with `wake_on_frames`) first
// drains *all* links, then the slow side's inputs and signals, and only then lets the state
// machine judge deadlines, so a node that was not scheduled for a while sees the frames already
// queued before it could blame the peer. By default frames do not wake the loop: the links sit
// in a second epoll set that is only polled (timeout 0) at each wake-up, so the thread wakes at
// its own deadlines, like cyclictest, and frames are dated by their kernel receive time
// (docs/realtime.md, "Frames and wake-ups"). The timerfd is armed at the state machine's
// absolute `nextDeadline` on CLOCK_MONOTONIC: no drift, and lateness is measured against the
// deadline asked for.
// Steady state: no allocation, no locks, no blocking calls.

import Glibc
import ShaolinCore
import ShaolinLinux
import SystemPackage

public final class RealtimeLoop {
    public enum ExitReason: Sendable, Equatable {
        /// Graceful leave (SIGTERM): exit 0.
        case left
        /// Handover done: the node should power off (the peer is fencing it).
        case handedOver
        /// This node must not serve: reboot / self-fence.
        case stoodDown
        case failed(String)
    }

    var machine: ClusterStateMachine
    /// A copy of the machine's codec: encoding must not touch `machine` while it drains actions.
    let codec: FrameCodec
    let links: [any HeartbeatLink]
    let timer: TimerFD
    let epoll: Epoll
    /// The links' descriptors when frames do not wake the loop (`wakeOnFrames` false): never
    /// waited on, only polled (timeout 0) at each wake-up to learn which links have input.
    let linkPoll: Epoll?
    var linkEvents: EpollEventBuffer
    let signals: SignalFD
    let toSlow: SPSCQueue<SlowMessage>
    let fromSlow: SPSCQueue<RealtimeInput>
    let wakePipe: FileDescriptor
    let frameBuffer: UnsafeMutableRawBufferPointer
    let drainBuffer: UnsafeMutableRawBufferPointer
    var events: EpollEventBuffer
    var armedDeadline: Int64 = 0
    /// When the previous wake-up began: every link was drained after it, so a frame read now
    /// arrived after it (the lower bound for a receive timestamp).
    var previousWake: Int64 = 0
    /// Wake-ups so far (status `loop_wakeups`).
    var wakeups: UInt64 = 0
    var exitReason: ExitReason?
    var lastStatus: Int64 = 0
    let statusInterval: Int64
    let realtimeDegraded: Bool
    /// The hardware watchdog (nil with `watchdog = "none"`); petted at the end of each wake-up.
    let watchdog: WatchdogKeeper?

    static let tokenTimer: UInt64 = 1_000
    static let tokenSignals: UInt64 = 1_001
    static let tokenWake: UInt64 = 1_002

    public init(machine: ClusterStateMachine, links: [any HeartbeatLink], toSlow: SPSCQueue<SlowMessage>,
                fromSlow: SPSCQueue<RealtimeInput>, wakePipe: FileDescriptor, signals: SignalFD,
                statusInterval: Nanos = .ms(100), realtimeDegraded: Bool, watchdog: WatchdogKeeper? = nil,
                wakeOnFrames: Bool = false) throws(Errno) {
        self.machine = machine
        self.codec = machine.codec
        self.links = links
        self.toSlow = toSlow
        self.fromSlow = fromSlow
        self.wakePipe = wakePipe
        self.signals = signals
        self.statusInterval = statusInterval.value
        self.realtimeDegraded = realtimeDegraded
        self.watchdog = watchdog
        timer = try TimerFD.monotonic()
        epoll = try Epoll.create()
        events = EpollEventBuffer(capacity: 32)
        linkEvents = EpollEventBuffer(capacity: max(1, links.count))
        linkPoll = wakeOnFrames ? nil : try Epoll.create()
        frameBuffer = .allocate(byteCount: FrameLayout.size, alignment: 16)
        drainBuffer = .allocate(byteCount: 256, alignment: 16)
        try epoll.add(timer.fileDescriptor, events: .input, token: Self.tokenTimer)
        try epoll.add(signals.fileDescriptor, events: .input, token: Self.tokenSignals)
        try epoll.add(wakePipe, events: .input, token: Self.tokenWake)
        for (i, l) in links.enumerated() {
            if let fd = l.descriptor { try (linkPoll ?? epoll).add(fd, events: l.pollEvents, token: UInt64(i)) }
        }
    }

    /// Closes what the loop created (its timerfd and epoll sets); the links, the signal fd and the
    /// wake pipe belong to the caller.
    deinit {
        try? timer.close()
        try? epoll.close()
        try? linkPoll?.close()
        frameBuffer.deallocate()
        drainBuffer.deallocate()
    }

    /// Runs until the state machine says to exit. Returns why.
    public func run() -> ExitReason {
        let start = SystemClock.monotonicNanos()
        var flags: HealthFlags = realtimeDegraded ? [.degradedRealtime] : []
        if watchdog != nil { flags.insert(.watchdogArmed) }
        machine.handle(.localHealth(flags), now: Instant(nanoseconds: start))
        serviceWatchdog(now: start, overdue: 0)
        machine.start(now: Instant(nanoseconds: start))
        performActions()
        arm()
        while exitReason == nil {
            let n = (try? epoll.wait(into: &events, timeoutMilliseconds: -1)) ?? 0
            var timerFired = false
            var signalled = false
            var woken = false
            var readyLinks: UInt64 = 0
            for i in 0..<n {
                let token = events.token(at: i)
                switch token {
                case Self.tokenTimer: timerFired = true
                case Self.tokenSignals: signalled = true
                case Self.tokenWake: woken = true
                default: if token < 64 { readyLinks |= 1 << token }
                }
            }
            step(timerFired: timerFired, signalled: signalled, woken: woken, readyLinks: readyLinks)
        }
        return exitReason!
    }

    /// One wake-up. Order matters: links, then inputs, then deadlines.
    /// `readyLinks`: bit i set when epoll reported link i's descriptor in this wake-up.
    func step(timerFired: Bool, signalled: Bool, woken: Bool, readyLinks: UInt64 = 0) {
        let wokeAt = SystemClock.monotonicNanos()
        wakeups &+= 1
        var now = Instant(nanoseconds: wokeAt)
        // How far past the deadline the timer was armed for this wake-up is (the watchdog's
        // "loop met its deadline within the slack"; docs/watchdog.md).
        let overdue = armedDeadline > 0 && armedDeadline != Int64.max ? max(0, wokeAt - armedDeadline) : 0
        var readyLinks = readyLinks
        if let linkPoll {
            let n = (try? linkPoll.wait(into: &linkEvents, timeoutMilliseconds: 0)) ?? 0
            for i in 0..<n {
                let token = linkEvents.token(at: i)
                if token < 64 { readyLinks |= 1 << token }
            }
        }
        // 1. Every frame already queued on every link (a serial link only reads when its tty
        //    was reported ready: see SerialLink.drain).
        //    A frame is dated by its kernel receive time when the link has one (Ethernet):
        //    CLOCK_REALTIME, mapped onto CLOCK_MONOTONIC with the offset read here and clamped
        //    to [previous wake-up, this one], so a clock step cannot move it out of that window.
        let realtimeOffset = SystemClock.realtimeNanos() &- wokeAt
        let earliest = min(previousWake, wokeAt)
        previousWake = wokeAt
        for (i, l) in links.enumerated() {
            let id = l.id
            l.drain(ready: i < 64 && readyLinks & (1 << UInt64(i)) != 0) { bytes in
                let stamp = l.receivedAt
                let arrived: Instant? = stamp == 0 ? nil
                    : Instant(nanoseconds: min(wokeAt, max(earliest, stamp &- realtimeOffset)))
                machine.receive(bytes, link: id, now: now, receivedAt: arrived)
            }
            if l.carrierUp != linkCarrier(id) { machine.handle(.carrier(link: id, up: l.carrierUp), now: now) }
        }
        performActions()
        // 2. Results and commands from the slow side.
        if woken {
            _ = drainBuffer.withMemoryRebound(to: UInt8.self) { b in Glibc.read(wakePipe.rawValue, b.baseAddress, b.count) }
        }
        while let input = fromSlow.pop() {
            switch input {
            case .fenceResult(let a, let c): machine.handle(.fenceResult(attempt: a, confirmed: c), now: now)
            case .syncFinished: machine.handle(.syncFinished, now: now)
            case .command(let c, let id): machine.handle(.command(c, id: id), now: now)
            }
            performActions()
        }
        // 3. Signals: SIGTERM / SIGINT = graceful leave.
        if signalled {
            while let sig = try? signals.read() {
                if sig.signal == SIGTERM || sig.signal == SIGINT { machine.handle(.shutdown, now: now) }
            }
            performActions()
        }
        // 4. Deadlines. The armed deadline is reached when the timer fired, or when another
        //    input woke the loop at or after it (the timer's expiry then lands in this step and
        //    the re-arm below clears it): either way one lateness sample per deadline, as
        //    cyclictest takes one per interval.
        let deadlineReached = timerFired || (armedDeadline > 0 && armedDeadline != Int64.max && wokeAt >= armedDeadline)
        if deadlineReached {
            if timerFired { _ = try? timer.readExpirations() }
            now = Instant(nanoseconds: SystemClock.monotonicNanos())
            if armedDeadline > 0 { toSlow.push(.lateness(wakeup: overdue, judged: max(0, now.nanoseconds - armedDeadline))) }
            // A serial link closes its descriptor when the device goes away (closing also takes it
            // out of epoll, so a hung-up pty cannot wake us forever) and reopens it here; an
            // Ethernet socket stays open and registered while its interface is down.
            for (i, l) in links.enumerated() where l.refresh(now: now.nanoseconds) {
                if let fd = l.descriptor { try? (linkPoll ?? epoll).add(fd, events: l.pollEvents, token: UInt64(i)) }
            }
        }
        if now >= machine.nextDeadline {
            machine.tick(now: now)
            performActions()
        }
        if exitReason == nil { serviceWatchdog(now: now.nanoseconds, overdue: overdue) }
        if now.nanoseconds - lastStatus >= statusInterval { publishStatus(now: now) }
        arm()
    }

    /// After `run()` returned: disarm the watchdog on a clean leave, else leave it armed (the
    /// node resets at the timeout unless a new engine opens and pets it). Publishes the final
    /// status. Runs on the loop's thread (it is the status queue's producer).
    public func releaseWatchdog(disarm: Bool) -> Errno? {
        guard let w = watchdog else { return nil }
        var failure: Errno?
        if disarm { failure = w.disarm() } else { w.leaveArmed() }
        publishStatus(now: Instant(nanoseconds: SystemClock.monotonicNanos()))
        return failure
    }

    /// Pets the watchdog when due and healthy; reports a changed verdict to the slow side.
    func serviceWatchdog(now: Int64, overdue: Int64) {
        guard let w = watchdog, let verdict = w.service(now: now, overdue: overdue, role: machine.role) else { return }
        toSlow.push(.watchdog(verdict))
    }

    func linkCarrier(_ id: UInt8) -> Bool {
        for l in machine.links where l.parameters.id == id { return l.carrierUp }
        return true
    }

    func arm() {
        var d = machine.nextDeadline.nanoseconds
        if let w = watchdog, exitReason == nil { d = min(d, w.nextPetDue) }
        if d != armedDeadline {
            armedDeadline = d
            if d == Int64.max { try? timer.disarm() } else { try? timer.arm(deadline: d) }
        }
    }

    /// Sends frames right here; everything else goes to the slow side.
    func performActions() {
        machine.drainActions { action in
            switch action {
            case .send(let link, let frame):
                codec.encode(frame, into: frameBuffer)
                for l in links where l.id == link { l.send(UnsafeRawBufferPointer(frameBuffer)) }
            case .exit:
                exitReason = .left
                toSlow.push(.action(action))
            case .shutdownSelf:
                exitReason = .handedOver
                toSlow.push(.action(action))
            case .standDown:
                exitReason = .stoodDown
                toSlow.push(.action(action))
            case .roleChanged:
                toSlow.push(.action(action))
                lastStatus = 0  // publish at the end of this step
            default:
                toSlow.push(.action(action))
            }
        }
        if exitReason != nil { publishStatus(now: Instant(nanoseconds: SystemClock.monotonicNanos())) }
    }

    func publishStatus(now: Instant) {
        lastStatus = now.nanoseconds
        var h = StatusHeader()
        h.now = now.nanoseconds
        h.incarnation = machine.incarnation
        h.role = machine.role
        h.reason = machine.lastReason
        h.roleSince = machine.roleSince.nanoseconds
        h.epoch = machine.epoch
        h.health = machine.health
        h.peerKnown = machine.peer.known
        h.peerAlive = machine.peer.alive
        h.peerRole = machine.peer.role
        h.peerIncarnation = machine.peer.incarnation
        h.peerEpoch = machine.peer.epoch
        h.peerView = machine.peer.view
        h.peerHealth = machine.peer.health
        h.fenceAttempt = machine.fence.attempt
        h.fenceInFlight = machine.fence.inFlight
        h.fenceFailures = machine.fence.failures
        h.stalls = machine.stallCount
        h.wakeups = wakeups
        h.wakeOnFrames = linkPoll == nil
        h.longestStall = machine.longestStall.value
        h.slowQueueDrops = toSlow.dropped.load(ordering: .relaxed)
        h.aliveLinks = machine.aliveLinks(now: now)
        h.realtimeDegraded = realtimeDegraded
        if let w = watchdog { h.watchdog = w.status }
        for (i, l) in machine.links.enumerated() {
            var s = LinkStatus()
            s.id = l.parameters.id
            s.alive = l.alive
            s.carrierUp = l.carrierUp
            s.counters = l.counters
            s.lastHeardAgo = l.lastHeard.map { (now - $0).value } ?? -1
            if i < links.count {
                s.sendDrops = links[i].sendDrops
                s.framingRejects = links[i].framingRejects
            }
            toSlow.push(.link(s))
        }
        toSlow.push(.status(h))
    }
}
