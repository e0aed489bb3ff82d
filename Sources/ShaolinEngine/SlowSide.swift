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
    /// Replaced by a configuration reload (a fence already running keeps its own).
    private var fencingStorage: FenceSequence?
    var fencing: FenceSequence? {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        return fencingStorage
    }
    let linkNames: [String]
    let statusPath: String?
    let nodeName: String
    let peerName: String
    /// Health inputs: the slow side advances its heartbeat here on every turn of its loop.
    public let health: EngineHealth
    /// The opened hardware watchdog (nil with `watchdog = "none"`).
    let watchdogIdentity: WatchdogIdentity?
    /// Results from helper threads (fence, sync) waiting to be handed to the loop.
    private var pending: [RealtimeInput] = []
    private var lock = pthread_mutex_t()
    private var stopRequested = false
    /// Deadline → deadline judged (links drained, inputs handled), ns; one sample per deadline.
    public private(set) var lateness = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    /// Deadline → the loop's thread running again (the scheduler's share alone), ns.
    public private(set) var wakeup = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
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
    /// Guards what the control thread reads: header, links, lateness, watchdog, startedAt.
    private var stateLock = pthread_mutex_t()
    private var watchdog: WatchdogReport
    /// CLOCK_MONOTONIC ns at construction (the engine's start, for uptime).
    public let startedAt = SystemClock.monotonicNanos()
    /// The Application Availability Control, when one runs on this node (set before `start`).
    public var aac: (any AACControl)?
    /// Receives the state machine's answers to operator commands (the control server).
    private var replyHandler: (@Sendable (UInt32, Bool, RefusalReason?) -> Void)?
    /// Application Availability Control: told about role changes and its commands' replies,
    /// and asked whether a critical service failed (the watchdog's health). Set before `start()`.
    public var aacSupervisor: AACSupervisor?

    public init(toSlow: SPSCQueue<SlowMessage>, toRealtime: SPSCQueue<RealtimeInput>, wakeWrite: FileDescriptor,
                log: EventLog, fencing: FenceSequence?, linkNames: [String], statusPath: String?,
                nodeName: String, peerName: String, health: EngineHealth = EngineHealth(),
                watchdog: WatchdogIdentity? = nil,
                watchdogStatus: WatchdogReport = WatchdogReport(state: "unknown", device: "", timeoutSeconds: 0)) {
        self.toSlow = toSlow
        self.toRealtime = toRealtime
        self.wakeWrite = wakeWrite
        self.log = log
        self.fencingStorage = fencing
        self.watchdog = watchdogStatus
        self.linkNames = linkNames
        self.statusPath = statusPath
        self.nodeName = nodeName
        self.peerName = peerName
        self.health = health
        self.watchdogIdentity = watchdog
        self.linkStatus = linkNames.indices.map { _ in LinkStatus() }
        pthread_mutex_init(&lock, nil)
        pthread_mutex_init(&stateLock, nil)
    }

    /// Stack size of the slow-side threads (the slow thread and fencing threads). The default
    /// 8 MiB would be wholly resident: mlockall(MCL_FUTURE) populates every new mapping, and glibc
    /// keeps the stacks of finished detached threads cached. With 8 MiB stacks an idle lab node
    /// had 24–32 MB RSS (benchmarks/engine-resources.py); the slow side needs far less.
    static let threadStackBytes = 512 * 1024

    /// Starts the slow thread (SCHED_OTHER even when the caller already runs SCHED_FIFO; it
    /// inherits the caller's capabilities, so start it after the capability drop).
    public func start() throws(Errno) {
        thread = try NormalThread.start(stackBytes: SlowSide.threadStackBytes) { [self] in loop() }
    }

    /// Stops after handling what is queued (final logs and status), then joins.
    public func stop() {
        pthread_mutex_lock(&lock); stopRequested = true; pthread_mutex_unlock(&lock)
        pthread_join(thread, nil)
    }

    func loop() {
        while true {
            health.slowSideBeat()
            if let a = aacSupervisor { health.setCriticalServiceFailed(a.criticalServiceFailed) }
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
            case .lateness(let woke, let judged):
                pthread_mutex_lock(&stateLock)
                _ = wakeup.record(UInt64(woke))
                _ = lateness.record(UInt64(judged))
                pthread_mutex_unlock(&stateLock)
            case .link(let s):
                pthread_mutex_lock(&stateLock)
                if Int(s.id) < linkStatus.count { linkStatus[Int(s.id)] = s }
                pthread_mutex_unlock(&stateLock)
            case .status(let h):
                pthread_mutex_lock(&stateLock)
                header = h
                pthread_mutex_unlock(&stateLock)
                statusChanged = true
                notifier?.update(h)
                reportQueueDrops(h.slowQueueDrops)
            case .action(let a):
                handle(a)
            case .watchdog(let v):
                logWatchdog(v)
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
            aacSupervisor?.roleChanged(to: to)
        case .log(let e):
            log.event(e, linkNames: linkNames, peer: peerName)
        case .fence(let attempt):
            startFence(attempt: attempt)
        case .sync(let timeout):
            startSync(timeout: timeout)
        case .reply(let id, let accepted, let refusal):
            aacSupervisor?.commandReplied(id: id, accepted: accepted, refusal: refusal)
            log.write(.info, "command \(id) \(accepted ? "accepted" : "refused: \(refusal.map { "\($0)" } ?? "")")")
            pthread_mutex_lock(&lock)
            let handler = replyHandler
            pthread_mutex_unlock(&lock)
            handler?(id, accepted, refusal)
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

    func logWatchdog(_ v: WatchdogVerdict) {
        let since = v.sinceLastPet < 0 ? "never petted" : "last pet \(v.sinceLastPet / 1_000_000) ms ago"
        let timeout = watchdogIdentity.map { ", timeout \($0.timeoutS) s" } ?? ""
        if let e = v.keepaliveError {
            log.write(.critical, "watchdog keepalive failed: \(e) (\(since)\(timeout))", event: "WATCHDOG_KEEPALIVE_FAILED")
        }
        if v.reasons.isEmpty {
            log.write(.notice, "watchdog: engine healthy again, petting resumed (\(since))", event: "WATCHDOG_HEALTHY")
        } else {
            var detail = v.reasons.description
            if v.reasons.contains(.loopLate) { detail += "; loop \(v.overdue / 1_000_000) ms past its deadline" }
            log.write(.critical, "watchdog: NOT petting (\(detail)); the node resets if this lasts (\(since)\(timeout))",
                      event: "WATCHDOG_WITHHELD", fields: "SHAOLIN_UNHEALTHY=\(v.reasons.names.joined(separator: ","))")
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
            log.write(.warning, "fencing method is manual: waiting for the operator's fence-confirm (peer \(peerName) must be verified down by hand, or wait at least its watchdog timeout after it was declared dead)", event: "FENCE_MANUAL",
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

    /// Where the state machine's answers to `submit`ted commands go.
    public func setReplyHandler(_ handler: @escaping @Sendable (UInt32, Bool, RefusalReason?) -> Void) {
        pthread_mutex_lock(&lock); replyHandler = handler; pthread_mutex_unlock(&lock)
    }

    /// Replaces the fencing sequence (configuration reload); a fence in progress finishes with the old one.
    public func setFencing(_ sequence: FenceSequence?) {
        pthread_mutex_lock(&lock); fencingStorage = sequence; pthread_mutex_unlock(&lock)
    }

    /// The watchdog code reports its state here.
    public func updateWatchdog(_ w: WatchdogReport) {
        pthread_mutex_lock(&stateLock); watchdog = w; pthread_mutex_unlock(&stateLock)
    }

    // MARK: - Status

    /// Zeroes both lateness histograms; returns what they held (judged, wake-up).
    public func resetLateness() -> (judged: LatenessDistribution, wakeup: LatenessDistribution) {
        pthread_mutex_lock(&stateLock)
        defer { pthread_mutex_unlock(&stateLock) }
        let before = (LatenessDistribution(lateness), LatenessDistribution(wakeup))
        lateness.reset()
        wakeup.reset()
        return before
    }

    /// A consistent copy of everything the status shows (any thread).
    public func snapshot() -> StatusSnapshot {
        pthread_mutex_lock(&lock)
        let history = fenceHistory
        let methods = fencingStorage?.methods.map(\.driver.name) ?? ["manual"]
        pthread_mutex_unlock(&lock)
        let rules = aac?.rules() ?? []
        pthread_mutex_lock(&stateLock)
        defer { pthread_mutex_unlock(&stateLock) }
        return StatusSnapshot(node: nodeName, peer: peerName, header: header, links: linkStatus, linkNames: linkNames,
                              fenceHistory: history, fenceMethods: methods, lateness: LatenessSummary(lateness), wakeup: LatenessSummary(wakeup),
                              watchdog: watchdog, watchdogIdentity: watchdogIdentity, aacRules: rules, startedAt: startedAt)
    }

    func writeStatus() {
        guard let path = statusPath else { return }
        lastWrittenRole = header.role
        FileIO.writeAtomically(path, StatusJSON.fileText(snapshot()))
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
    pthread_attr_setstacksize(&attr, SlowSide.threadStackBytes)
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    pthread_create(&t, &attr, { arg in
        let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
        b.f()
        return nil
    }, box)
    pthread_attr_destroy(&attr)
}
