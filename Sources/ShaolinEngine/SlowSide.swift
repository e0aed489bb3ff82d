// The non-real-time side: everything slow the real-time loop must never wait for — log
// formatting (EventLog's own writer thread does the I/O), fencing (seconds of ipmitool), sync,
// status files, the lateness histogram, systemd notifications. It talks to the loop only
// through the two bounded queues and a wake-up pipe.

import Glibc
import Histogram
import ShaolinCore
import ShaolinLinux
import SystemPackage

public final class SlowSide: @unchecked Sendable {
    let toSlow: SPSCQueue<SlowMessage>
    let toRealtime: SPSCQueue<RealtimeInput>
    let wakeWrite: FileDescriptor
    let log: EventLog
    let fencing: FenceSequence?
    let linkNames: [String]
    let statusPath: String?
    let nodeName: String
    let peerName: String
    /// Results from helper threads (fence, sync) waiting to be handed to the loop.
    private var pending: [RealtimeInput] = []
    private var lock = pthread_mutex_t()
    private var stopRequested = false
    public private(set) var lateness = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    var header = StatusHeader()
    var linkStatus: [LinkStatus]
    var fenceHistory: [String] = []
    var thread = pthread_t()
    /// systemd notifications (READY/STATUS/WATCHDOG/STOPPING); nil when not under systemd.
    /// Set before `start()`.
    public var notifier: ServiceNotifier?
    /// Real-time → slow messages the loop had to drop (queue full), already logged.
    var reportedQueueDrops: UInt64 = 0
    var lastQueueDropReport: Int64 = 0

    public init(toSlow: SPSCQueue<SlowMessage>, toRealtime: SPSCQueue<RealtimeInput>, wakeWrite: FileDescriptor,
                log: EventLog, fencing: FenceSequence?, linkNames: [String], statusPath: String?,
                nodeName: String, peerName: String) {
        self.toSlow = toSlow
        self.toRealtime = toRealtime
        self.wakeWrite = wakeWrite
        self.log = log
        self.fencing = fencing
        self.linkNames = linkNames
        self.statusPath = statusPath
        self.nodeName = nodeName
        self.peerName = peerName
        self.linkStatus = linkNames.indices.map { _ in LinkStatus() }
        pthread_mutex_init(&lock, nil)
    }

    /// Starts the slow thread (SCHED_OTHER even when the caller already runs SCHED_FIFO; it
    /// inherits the caller's capabilities, so start it after the capability drop).
    public func start() throws(Errno) {
        thread = try NormalThread.start { [self] in loop() }
    }

    /// Stops after handling what is queued (final logs and status), then joins.
    public func stop() {
        pthread_mutex_lock(&lock); stopRequested = true; pthread_mutex_unlock(&lock)
        pthread_join(thread, nil)
    }

    func loop() {
        while true {
            var worked = drainOnce()
            pthread_mutex_lock(&lock)
            let results = pending
            pending.removeAll()
            let stop = stopRequested
            pthread_mutex_unlock(&lock)
            for r in results {
                if !toRealtime.push(r) { log.write(.error, "queue to the real-time loop is full: result dropped") }
                worked = true
            }
            if !results.isEmpty { var b: UInt8 = 1; _ = Glibc.write(wakeWrite.rawValue, &b, 1) }
            notifier?.tick(now: SystemClock.monotonicNanos(), loopProgress: header.now)
            if stop && !worked { _ = drainOnce(); writeStatus(); return }
            if !worked { usleep(5_000) }
        }
    }

    private var lastStatusWrite: Int64 = 0

    func drainOnce() -> Bool {
        var any = false
        var statusChanged = false
        while let m = toSlow.pop() {
            any = true
            switch m {
            case .lateness(let ns): _ = lateness.record(UInt64(ns))
            case .link(let s):
                if Int(s.id) < linkStatus.count { linkStatus[Int(s.id)] = s }
            case .status(let h):
                header = h
                statusChanged = true
                notifier?.update(h)
                reportQueueDrops(h.slowQueueDrops)
            case .action(let a):
                handle(a)
            }
        }
        if statusChanged {
            let now = SystemClock.monotonicNanos()
            if now - lastStatusWrite >= 100_000_000 || header.role != lastWrittenRole {
                writeStatus()
                lastStatusWrite = now
            }
        }
        return any
    }

    private var lastWrittenRole: Role?

    func handle(_ a: Action) {
        switch a {
        case .send: break
        case .roleChanged(let from, let to, let reason):
            log.roleChanged(from: from, to: to, reason: reason)
            if to == .leaving || to == .stopped { notifier?.stopping("role \(to): \(reason)") }
        case .log(let e):
            log.event(e, linkNames: linkNames, peer: peerName)
        case .fence(let attempt):
            startFence(attempt: attempt)
        case .sync(let timeout):
            startSync(timeout: timeout)
        case .reply(let id, let accepted, let refusal):
            log.write(.info, "command \(id) \(accepted ? "accepted" : "refused: \(refusal.map { "\($0)" } ?? "")")")
        case .shutdownSelf:
            notifier?.stopping("handed over: this node powers off")
            log.write(.notice, "handover complete: this node must power off now (the peer is fencing it)", event: "HANDOVER_DONE",
                      [("SHAOLIN_PEER", peerName)])
        case .standDown(let reason):
            notifier?.stopping("standing down: \(reason)")
            log.write(.critical, "standing down: \(reason); this node must not serve and will restart", event: "STAND_DOWN",
                      [("SHAOLIN_PEER", peerName), ("SHAOLIN_REASON", "\(reason)")])
        case .exit:
            notifier?.stopping("left the cluster")
            log.write(.notice, "left the cluster gracefully", event: "LEAVE")
        }
    }

    /// Logs (at most once a second) how many real-time → slow messages the loop dropped.
    func reportQueueDrops(_ total: UInt64) {
        guard total > reportedQueueDrops else { return }
        let now = SystemClock.monotonicNanos()
        guard now - lastQueueDropReport >= 1_000_000_000 else { return }
        log.write(.warning, "\(total - reportedQueueDrops) message(s) from the real-time loop dropped: its queue to the slow side was full (\(total) since start)",
                  event: "EVENTS_DROPPED", [("SHAOLIN_DROPPED", "\(total - reportedQueueDrops)"), ("SHAOLIN_DROPPED_TOTAL", "\(total)")])
        reportedQueueDrops = total
        lastQueueDropReport = now
    }

    func startFence(attempt: UInt32) {
        guard let seq = fencing else {
            log.write(.warning, "fencing method is manual: waiting for the operator's fence-confirm (peer \(peerName) must be verified down by hand)", event: "FENCE_MANUAL",
                      [("SHAOLIN_PEER", peerName), ("SHAOLIN_FENCE_ATTEMPT", "\(attempt)")])
            return
        }
        let methods = seq.methods.map(\.driver.name).joined(separator: ", ")
        log.write(.warning, "fencing peer \(peerName) (attempt \(attempt), methods: \(methods))", event: "FENCE_START",
                  [("SHAOLIN_PEER", peerName), ("SHAOLIN_FENCE_ATTEMPT", "\(attempt)"), ("SHAOLIN_FENCE_METHODS", methods)])
        let job = FenceJob(side: self, sequence: seq, attempt: attempt)
        spawnDetached { job.run() }
    }

    func fenceFinished(attempt: UInt32, report: FenceSequenceReport) {
        for a in report.attempts {
            var fields: [EventLog.Field] = [
                ("SHAOLIN_PEER", peerName), ("SHAOLIN_FENCE_ATTEMPT", "\(attempt)"), ("SHAOLIN_FENCE_LEVEL", "\(a.level)"),
                ("SHAOLIN_FENCE_METHOD", a.method), ("SHAOLIN_FENCE_ACTION", a.action.rawValue), ("SHAOLIN_FENCE_TARGET", a.target),
                ("SHAOLIN_FENCE_RESULT", "\(a.result)"), ("SHAOLIN_LATENCY_US", "\(a.durationNanoseconds / 1000)"),
            ]
            // The driver's step-by-step log, one line per step (a multi-line journal field).
            if !a.log.isEmpty { fields.append(("SHAOLIN_FENCE_LOG", a.log.joined(separator: "\n"))) }
            log.write(a.result.isConfirmedOff ? .notice : .error,
                      "fence attempt \(attempt) level \(a.level) \(a.method) \(a.action.rawValue) \(a.target): \(a.result) in \(a.durationNanoseconds / 1_000_000) ms",
                      event: a.result.isConfirmedOff ? "FENCE_CONFIRMED" : "FENCE_FAILED", fields)
        }
        pthread_mutex_lock(&lock)
        fenceHistory.append("attempt \(attempt): \(report.isConfirmedOff ? "confirmed" : "failed") in \(report.durationNanoseconds / 1_000_000) ms")
        if fenceHistory.count > 20 { fenceHistory.removeFirst() }
        pending.append(.fenceResult(attempt: attempt, confirmed: report.isConfirmedOff))
        pthread_mutex_unlock(&lock)
    }

    func startSync(timeout: Nanos) {
        log.write(.info, "flushing buffers (sync, at most \(timeout))", event: "SYNC")
        spawnDetached { [self] in
            Glibc.sync()
            pthread_mutex_lock(&lock)
            pending.append(.syncFinished)
            pthread_mutex_unlock(&lock)
        }
    }

    /// Submits an operator command to the loop (from a control client thread).
    public func submit(_ command: OperatorCommand, id: UInt32) {
        pthread_mutex_lock(&lock)
        pending.append(.command(command, id: id))
        pthread_mutex_unlock(&lock)
    }

    // MARK: - Status

    func writeStatus() {
        guard let path = statusPath else { return }
        lastWrittenRole = header.role
        pthread_mutex_lock(&lock)
        let history = fenceHistory
        pthread_mutex_unlock(&lock)
        FileIO.writeAtomically(path, StatusJSON.render(node: nodeName, peer: peerName, header: header, links: linkStatus,
                                                       linkNames: linkNames, lateness: lateness, fenceHistory: history))
    }
}

/// One fencing run on its own thread.
final class FenceJob: @unchecked Sendable {
    let side: SlowSide
    let sequence: FenceSequence
    let attempt: UInt32
    init(side: SlowSide, sequence: FenceSequence, attempt: UInt32) {
        self.side = side
        self.sequence = sequence
        self.attempt = attempt
    }
    func run() { side.fenceFinished(attempt: attempt, report: sequence.run()) }
}

/// Runs `body` on a new detached thread (slow side only).
func spawnDetached(_ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable { let f: @Sendable () -> Void; init(_ f: @escaping @Sendable () -> Void) { self.f = f } }
    var t = pthread_t()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    pthread_create(&t, &attr, { arg in
        let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
        b.f()
        return nil
    }, box)
    pthread_attr_destroy(&attr)
}
