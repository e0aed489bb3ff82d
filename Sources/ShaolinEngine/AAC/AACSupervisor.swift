// Application Availability Control (the manual's AAC): on the ACTIVE node only, each
// `[[aac.rule]]` runs its Service Monitoring Agent's `monitor` every `interval_ms`; a failed
// check restarts the service locally (the rule's restart command, the agent's `restart`, or
// stop + start); when `max_restarts` restarts within `restart_window_ms` did not help the
// rule has *failed beyond recovery*: with `failover = true` it asks the state machine for a
// graceful handover (`OperatorCommand.localFailure`, through the slow side's bounded queue
// to the real-time loop, re-asked while refused); otherwise it raises an event.
//
// Threads: one per rule (SCHED_OTHER, never the real-time thread); agent calls block only
// that rule's thread. All shared state is under one mutex, never held across an agent call.
// Role gating: `roleChanged(to:)` (called by the slow side from the state machine's
// roleChanged actions). Leaving ACTIVE stops checks and restarts at once (results of calls
// still running are discarded); services are not stopped (docs/agents.md, "Roles").
// Operator controls (enable, disable, start, stop, restart, reset statistics) come from the
// control thread: they change the rule's state under the lock and leave agent calls to the
// rule's thread, so the control thread never waits for an agent.

import Glibc
import ShaolinCore
import ShaolinLinux

public final class AACSupervisor: @unchecked Sendable {
    /// A rule's state as shown in status.
    public enum RuleState: String, Sendable {
        /// Disabled by configuration or by an operator.
        case disabled
        /// This node is not ACTIVE: nothing is checked.
        case idle
        /// ACTIVE, not yet checked since activation or reset.
        case unknown
        /// Within the startup grace, the service has not been seen running yet.
        case starting
        case running
        /// A check failed and a restart is running or was just done.
        case recovering
        /// Restarts exhausted (or impossible): failed beyond local recovery.
        case failed
        /// The agent or the rule is misconfigured (exit 2/4/5/6, agent missing): nothing is
        /// restarted and no failover is asked (the peer has the same configuration).
        case broken
        /// Stopped by the operator (`rule stop`): the service was stopped through its agent and
        /// is not checked, restarted or failed over until `start` or `enable`.
        case stopped
    }

    /// Operator actions that run an agent call on the rule's thread.
    public enum OperatorAction: String, Sendable {
        case start, stop
    }

    public struct RuleStatus: Sendable {
        public var name: String
        public var description: String
        public var agent: String
        public var enabled: Bool
        public var state: RuleState
        public var failover: Bool
        public var critical: Bool
        public var checks: UInt64
        public var failedChecks: UInt64
        /// Automatic restarts since the last reset; `restartsInWindow` of `maxRestarts` count now.
        public var restarts: UInt64
        public var restartsInWindow: Int
        public var maxRestarts: Int
        public var operatorRestarts: UInt64
        public var handoverRequests: UInt64
        /// Outcome and (sanitised) agent message of the last check; "" before the first.
        public var lastResult: String
        public var lastMessage: String
        /// Monotonic nanoseconds of the last check's end (0: never).
        public var lastCheckAt: Int64
        public var lastCheckDurationMs: Int64
        public var stateSince: Int64
        /// The last operator start or stop and how it ended ("" before the first), e.g.
        /// "stop by the operator: done in 12 ms".
        public var lastOperatorAction: String
        /// An operator start or stop is queued or running.
        public var operatorActionPending: Bool
    }

    public enum ControlError: Error, Sendable, Equatable, CustomStringConvertible {
        case unknownRule(String)
        case notActive
        case disabled(String)
        /// `restart`/`stop` of a rule the operator stopped.
        case stopped(String)
        /// `start` of a rule that is monitored and whose service runs (or is being restarted).
        case alreadyRunning(String)
        /// An operator start or stop of the rule is still queued or running.
        case busy(String)
        public var description: String {
            switch self {
            case .unknownRule(let n): "no AAC rule named \"\(n)\""
            case .notActive: "this node is not ACTIVE: services are not managed here"
            case .disabled(let n): "rule \"\(n)\" is disabled (enable or start it first)"
            case .stopped(let n): "rule \"\(n)\" was stopped by the operator (start it first)"
            case .alreadyRunning(let n): "rule \"\(n)\" is monitored and its service is running (use restart to restart it)"
            case .busy(let n): "an operator start or stop of rule \"\(n)\" is still running; try again when it is done"
            }
        }
    }

    /// Command ids used for handover requests: the top bit set, so replies can be told apart
    /// from other clients' commands.
    public static let commandIDBase: UInt32 = 0x8000_0000
    /// Default minimum time between two handover requests of a failed rule while they are refused.
    public static let defaultHandoverRetryNanos: Int64 = 5_000_000_000
    /// Minimum time between two handover requests of a failed rule while they are refused
    /// (the rule's interval when longer).
    public let handoverRetryNanos: Int64

    let aac: Configuration.AAC
    let node: String
    let log: EventLog
    let submit: @Sendable (OperatorCommand, UInt32) -> Void
    let now: @Sendable () -> Int64
    /// Rule names by index (immutable: read without the lock).
    let ruleNames: [String]

    private var lock = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var slots: [Slot]
    private var role: Role = .booting
    private var stopping = false
    private var nextCommandID: UInt32 = 0
    /// `localFailure` was submitted and not yet taken back with `localRecovered`.
    private var localFailureReported = false
    private var threads: [pthread_t] = []

    /// Per-rule state (guarded by `lock`).
    struct Slot {
        let rule: Configuration.AACRule
        let agentPath: String
        var enabled: Bool
        var state: RuleState
        var stateSince: Int64 = 0
        var generation: UInt64 = 0
        var graceEndsAt: Int64 = 0
        var seenHealthy = false
        var nextCheckAt: Int64 = 0
        var checks: UInt64 = 0
        var failedChecks: UInt64 = 0
        var restarts: UInt64 = 0
        var restartTimes: [Int64] = []
        var operatorRestarts: UInt64 = 0
        var handoverRequests: UInt64 = 0
        var pendingOperatorRestart = false
        var handoverPendingID: UInt32?
        var handoverPendingSince: Int64 = 0
        var nextHandoverAt: Int64 = 0
        var lastRefusal: RefusalReason?
        var lastResult = ""
        var lastMessage = ""
        var lastCheckAt: Int64 = 0
        var lastCheckDurationMs: Int64 = 0
        /// Stopped by the operator (then also `enabled == false`, state `.stopped`).
        var stoppedByOperator = false
        /// The last operator stop did not succeed (a second `stop` is then allowed).
        var stopFailed = false
        /// An operator start/stop waiting for the rule's thread, and one that thread is running.
        var pendingOperatorAction: OperatorAction?
        var operatorActionRunning = false
        var lastOperatorAction = ""
        /// The operator interfering (start/stop queued or running): other operator calls wait.
        var operatorBusy: Bool { pendingOperatorAction != nil || operatorActionRunning }
    }

    /// - Parameters:
    ///   - submit: hands a command to the state machine (the slow side's `submit`).
    ///   - now: monotonic nanoseconds (injectable for tests).
    public init(aac: Configuration.AAC, node: String, log: EventLog,
                submit: @escaping @Sendable (OperatorCommand, UInt32) -> Void,
                now: @escaping @Sendable () -> Int64 = { SystemClock.monotonicNanos() },
                handoverRetryNanos: Int64 = AACSupervisor.defaultHandoverRetryNanos) {
        self.handoverRetryNanos = handoverRetryNanos
        self.aac = aac
        self.node = node
        self.log = log
        self.submit = submit
        self.now = now
        let t = now()
        ruleNames = aac.rules.map(\.name)
        slots = aac.rules.map {
            Slot(rule: $0, agentPath: aac.agentPath(of: $0), enabled: !$0.disabled,
                 state: $0.disabled ? .disabled : .idle, stateSince: t)
        }
        pthread_mutex_init(&lock, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    // MARK: - Life cycle

    /// Starts one thread per rule.
    public func start() {
        for i in slots.indices {
            final class Box: @unchecked Sendable {
                let s: AACSupervisor; let i: Int
                init(_ s: AACSupervisor, _ i: Int) { self.s = s; self.i = i }
            }
            // SCHED_OTHER with a small stack whatever the caller runs at (mlockall makes every
            // stack page resident); started after the capability drop, so it inherits the
            // reduced set (agents it spawns regain root's full set at execve).
            let b = Box(self, i)
            do {
                threads.append(try NormalThread.start(stackBytes: 512 * 1024) { b.s.worker(b.i) })
            } catch {
                log.write(.error, "AAC: cannot start the thread of rule \(slots[i].rule.name): \(error)", event: "AAC_FAILED")
            }
        }
    }

    /// Stops the rule threads. With `wait`, joins them (an agent call in progress finishes
    /// first, bounded by its timeout); without, they end on their own.
    public func stop(wait: Bool = true) {
        withLock { stopping = true }
        pthread_cond_broadcast(&cond)
        for t in threads { if wait { pthread_join(t, nil) } else { pthread_detach(t) } }
        threads.removeAll()
    }

    // MARK: - Inputs from the engine

    /// The node's role changed (from the state machine's `roleChanged` action).
    public func roleChanged(to newRole: Role) {
        var events: [(EventLog.Priority, String, String, String)] = []
        withLock {
            let wasActive = role == .active
            role = newRole
            let isActive = newRole == .active
            guard wasActive != isActive else { return }
            let t = now()
            for i in slots.indices {
                slots[i].generation &+= 1
                slots[i].pendingOperatorRestart = false
                slots[i].handoverPendingID = nil
                // A start or stop not yet begun is dropped: services belong to the ACTIVE node.
                slots[i].pendingOperatorAction = nil
                guard slots[i].enabled else { continue }
                if isActive {
                    slots[i].graceEndsAt = t + slots[i].rule.startupGraceMs * 1_000_000
                    slots[i].seenHealthy = false
                    slots[i].nextCheckAt = t
                    slots[i].restartTimes.removeAll()
                    slots[i].nextHandoverAt = 0
                    slots[i].lastRefusal = nil
                    setState(i, .unknown, at: t)
                } else {
                    setState(i, .idle, at: t)
                }
            }
            events.append((.info, isActive ? "node is ACTIVE: checking \(slots.filter(\.enabled).count) rule(s)"
                                           : "node left ACTIVE (\(newRole)): checks and restarts stopped", "AAC_ROLE", ""))
        }
        pthread_cond_broadcast(&cond)
        for e in events { log.write(e.0, e.1, event: e.2, fields: e.3) }
        if newRole == .active { clearLocalFailureIfResolved() }
    }

    /// The state machine's answer to a command. Returns true when it was one of ours.
    @discardableResult
    public func commandReplied(id: UInt32, accepted: Bool, refusal: RefusalReason?) -> Bool {
        guard id & Self.commandIDBase != 0 else { return false }
        var event: (EventLog.Priority, String, String, String)?
        var ours = false
        withLock {
            guard let i = slots.firstIndex(where: { $0.handoverPendingID == id }) else { return }
            ours = true
            slots[i].handoverPendingID = nil
            let name = slots[i].rule.name
            if accepted {
                event = (.notice, "rule \(name): graceful handover to the peer accepted", "AAC_HANDOVER", "SHAOLIN_RULE=\(name)")
                slots[i].lastRefusal = nil
                slots[i].nextHandoverAt = now() + handoverRetryNanos
            } else {
                if slots[i].lastRefusal != refusal {
                    event = (.warning, "rule \(name): handover refused (\(refusal.map { "\($0)" } ?? "unknown")); asking again every \(handoverRetryNanos / 1_000_000) ms while the rule stays failed", "AAC_HANDOVER_REFUSED", "SHAOLIN_RULE=\(name)")
                }
                slots[i].lastRefusal = refusal
                slots[i].nextHandoverAt = now() + max(handoverRetryNanos, slots[i].rule.intervalMs * 1_000_000)
            }
        }
        pthread_cond_broadcast(&cond)
        if let e = event { log.write(e.0, e.1, event: e.2, fields: e.3) }
        return ours || id & Self.commandIDBase != 0
    }

    // MARK: - Operator API (control socket)

    public func rules() -> [RuleStatus] {
        withLock {
            slots.map { s in
                let t = now()
                let window = s.rule.restartWindowMs * 1_000_000
                return RuleStatus(
                    name: s.rule.name, description: s.rule.description, agent: s.agentPath, enabled: s.enabled,
                    state: s.state, failover: s.rule.failover, critical: s.rule.critical, checks: s.checks,
                    failedChecks: s.failedChecks, restarts: s.restarts,
                    restartsInWindow: s.restartTimes.filter { t - $0 < window }.count, maxRestarts: s.rule.maxRestarts,
                    operatorRestarts: s.operatorRestarts, handoverRequests: s.handoverRequests,
                    lastResult: s.lastResult, lastMessage: s.lastMessage, lastCheckAt: s.lastCheckAt,
                    lastCheckDurationMs: s.lastCheckDurationMs, stateSince: s.stateSince,
                    lastOperatorAction: s.lastOperatorAction, operatorActionPending: s.operatorBusy)
            }
        }
    }

    /// Some enabled rule failed beyond recovery on this ACTIVE node.
    public var failedBeyondRecovery: Bool { withLock { slots.contains { $0.enabled && $0.state == .failed } } }

    /// Some enabled rule with `critical = true` failed beyond recovery (for the hardware
    /// watchdog's `criticalServiceFailed` policy).
    public var criticalServiceFailed: Bool {
        withLock { slots.contains { $0.enabled && $0.rule.critical && $0.state == .failed } }
    }

    /// Monitors the rule again (a rule the operator stopped, too): checks start at once, with
    /// no startup grace. A no-op for an enabled rule.
    public func enable(_ name: String) throws(ControlError) {
        try change(name) { s, t, active throws(ControlError) in
            guard !s.operatorBusy else { throw .busy(name) }
            guard !s.enabled else { return nil }
            s.enabled = true
            s.stoppedByOperator = false
            s.stopFailed = false
            s.generation &+= 1
            s.graceEndsAt = 0
            s.nextCheckAt = t
            s.restartTimes.removeAll()
            return active ? .unknown : .idle
        }
        log.write(.notice, "rule \(name) enabled", event: "AAC_ENABLED", fields: "SHAOLIN_RULE=\(name)")
    }

    /// Stops monitoring the rule; the service is left as it is. A no-op for a disabled or
    /// stopped rule.
    public func disable(_ name: String) throws(ControlError) {
        try change(name) { s, _, _ throws(ControlError) in
            guard !s.operatorBusy else { throw .busy(name) }
            guard s.enabled else { return nil }
            s.enabled = false
            s.generation &+= 1
            s.pendingOperatorRestart = false
            s.handoverPendingID = nil
            return .disabled
        }
        log.write(.notice, "rule \(name) disabled", event: "AAC_DISABLED", fields: "SHAOLIN_RULE=\(name)")
        clearLocalFailureIfResolved()
    }

    /// Restarts the rule's service now (not counted against `max_restarts`). Only on the
    /// ACTIVE node and for an enabled rule; the restart runs on the rule's thread.
    public func restart(_ name: String) throws(ControlError) {
        try change(name) { s, _, active throws(ControlError) in
            guard !s.stoppedByOperator else { throw .stopped(name) }
            guard s.enabled else { throw .disabled(name) }
            guard active else { throw .notActive }
            guard !s.operatorBusy else { throw .busy(name) }
            s.pendingOperatorRestart = true
            return nil
        }
        log.write(.notice, "rule \(name): restart requested by the operator", event: "AAC_OPERATOR_RESTART", fields: "SHAOLIN_RULE=\(name)")
    }

    /// Stops the rule's service through its agent (the rule's `stop` command, else the
    /// agent's `stop`) and stops monitoring it: no check, no restart, no failover until
    /// `start` or `enable`. Only on the ACTIVE node. Takes back a failover request of the rule
    /// (as `disable` does). The stop runs on the rule's thread; its outcome is logged
    /// (`AAC_OPERATOR_STOP_DONE` / `_FAILED`) and shown as `lastOperatorAction`. A failed stop
    /// leaves the rule stopped (unmonitored): the operator decides.
    public func stop(_ name: String) throws(ControlError) {
        try change(name) { s, _, active throws(ControlError) in
            guard active else { throw .notActive }
            guard !s.operatorBusy else { throw .busy(name) }
            guard !s.stoppedByOperator || s.stopFailed else { throw .stopped(name) }
            s.enabled = false
            s.stoppedByOperator = true
            s.stopFailed = false
            s.generation &+= 1
            s.pendingOperatorRestart = false
            s.handoverPendingID = nil
            s.pendingOperatorAction = .stop
            return .stopped
        }
        log.write(.notice, "rule \(name): stop requested by the operator; the rule is not monitored until started or enabled",
                  event: "AAC_OPERATOR_STOP", fields: "SHAOLIN_RULE=\(name)")
        clearLocalFailureIfResolved()
    }

    /// Starts the rule's service (the rule's `start` command, else the agent's `start`, else —
    /// when the agent has no `start` — the rule's `restart` command) and monitors it again,
    /// with a fresh restart budget and the startup grace counted from the end of the start.
    /// Only on the ACTIVE node; refused while the rule is monitored and its service runs or
    /// is being restarted (use `restart`). A `failed` rule's failover request is taken back
    /// (`localRecovered`); if the service still cannot run, the rule fails again.
    public func start(_ name: String) throws(ControlError) {
        try change(name) { s, t, active throws(ControlError) in
            guard active else { throw .notActive }
            guard !s.operatorBusy else { throw .busy(name) }
            guard !(s.enabled && (s.state == .running || s.state == .recovering)) else { throw .alreadyRunning(name) }
            s.enabled = true
            s.stoppedByOperator = false
            s.stopFailed = false
            s.generation &+= 1
            s.pendingOperatorRestart = false
            s.handoverPendingID = nil
            s.restartTimes.removeAll()
            s.seenHealthy = false
            // No check before the start is done (finishOperatorAction schedules it).
            s.graceEndsAt = t + s.rule.startupGraceMs * 1_000_000
            s.nextCheckAt = .max
            s.pendingOperatorAction = .start
            return .starting
        }
        log.write(.notice, "rule \(name): start requested by the operator", event: "AAC_OPERATOR_START", fields: "SHAOLIN_RULE=\(name)")
        clearLocalFailureIfResolved()
    }

    /// Zeroes the counters (checks, failed checks, automatic and operator restarts, handover
    /// requests) and the restart history — the `max_restarts` budget starts afresh (nil: every
    /// rule). On the ACTIVE node an enabled rule is checked at once. The state is not changed:
    /// a `failed` rule stays failed (its failover request stands) until a check passes, and a
    /// `broken` one until the agent works — clearing them without evidence could withdraw a
    /// needed failover. Allowed in any role and state.
    public func resetStatistics(_ name: String? = nil) throws(ControlError) {
        var error: ControlError?
        withLock {
            if let name, !slots.contains(where: { $0.rule.name == name }) { error = .unknownRule(name); return }
            let t = now()
            for i in slots.indices where name == nil || slots[i].rule.name == name {
                slots[i].checks = 0
                slots[i].failedChecks = 0
                slots[i].restarts = 0
                slots[i].operatorRestarts = 0
                slots[i].handoverRequests = 0
                slots[i].restartTimes.removeAll()
                if slots[i].enabled && role == .active && slots[i].nextCheckAt != .max {
                    slots[i].nextCheckAt = t
                }
            }
        }
        if let error { throw error }
        pthread_cond_broadcast(&cond)
        log.write(.notice, "statistics reset for \(name.map { "rule \($0)" } ?? "every rule")", event: "AAC_RESET",
                  fields: name.map { "SHAOLIN_RULE=\($0)" } ?? "")
    }

    /// Changes one rule under the lock: `body` gets the slot, the time and whether this node is
    /// ACTIVE, and returns the new state (nil: unchanged) or throws to refuse.
    private func change(_ name: String, _ body: (inout Slot, Int64, Bool) throws(ControlError) -> RuleState?) throws(ControlError) {
        var error: ControlError?
        withLock {
            guard let i = slots.firstIndex(where: { $0.rule.name == name }) else { error = .unknownRule(name); return }
            let t = now()
            do throws(ControlError) {
                if let s = try body(&slots[i], t, role == .active) { setState(i, s, at: t) }
            } catch let e {
                error = e
            }
        }
        if let error { throw error }
        pthread_cond_broadcast(&cond)
    }

    // MARK: - The rule thread

    private enum Work {
        case check(UInt64)
        case recover(UInt64, byOperator: Bool)
        case handover(UInt32)
        case operatorAction(OperatorAction, UInt64)
    }

    func worker(_ i: Int) {
        while true {
            guard let work = nextWork(i) else { return }
            switch work {
            case .check(let generation):
                let result = call(i, .monitor)
                finishCheck(i, generation: generation, result: result)
            case .recover(let generation, let byOperator):
                let result = recover(i)
                finishRecovery(i, generation: generation, byOperator: byOperator, result: result)
            case .handover(let id):
                submit(.localFailure, id)
            case .operatorAction(let action, let generation):
                let result = action == .stop ? stopService(i) : startService(i)
                finishOperatorAction(i, action, generation: generation, result: result)
            }
        }
    }

    /// Waits for the next thing to do; nil when stopping.
    private func nextWork(_ i: Int) -> Work? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        while !stopping {
            let t = now()
            let s = slots[i]
            var wakeAt = Int64.max
            if role == .active, let action = s.pendingOperatorAction {
                slots[i].pendingOperatorAction = nil
                slots[i].operatorActionRunning = true
                return .operatorAction(action, s.generation)
            }
            if role == .active && s.enabled {
                if s.pendingOperatorRestart {
                    slots[i].pendingOperatorRestart = false
                    return .recover(s.generation, byOperator: true)
                }
                if s.state == .failed && s.rule.failover {
                    // A lost reply must not block the retry for ever.
                    if s.handoverPendingID != nil && t - s.handoverPendingSince > 2 * handoverRetryNanos {
                        slots[i].handoverPendingID = nil
                    }
                    if slots[i].handoverPendingID == nil {
                        if t >= s.nextHandoverAt {
                            nextCommandID &+= 1
                            let id = Self.commandIDBase | (nextCommandID & 0x7FFF_FFFF)
                            slots[i].handoverPendingID = id
                            slots[i].handoverPendingSince = t
                            slots[i].handoverRequests &+= 1
                            localFailureReported = true
                            return .handover(id)
                        }
                        wakeAt = min(wakeAt, s.nextHandoverAt)
                    } else {
                        wakeAt = min(wakeAt, s.handoverPendingSince + 2 * handoverRetryNanos + 1)
                    }
                }
                if t >= s.nextCheckAt { return .check(s.generation) }
                wakeAt = min(wakeAt, s.nextCheckAt)
            }
            wait(until: wakeAt)
        }
        return nil
    }

    private func wait(until deadline: Int64) {
        if deadline == .max {
            pthread_cond_wait(&cond, &lock)
            return
        }
        // CLOCK_MONOTONIC (set on the condition); the injected clock is monotonic nanoseconds too,
        // but wake at most every 100 ms so a test clock that jumps is noticed.
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let wall = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
        let delta = min(max(0, deadline - now()), 100_000_000)
        let target = wall + delta
        ts.tv_sec = Int(target / 1_000_000_000)
        ts.tv_nsec = Int(target % 1_000_000_000)
        _ = pthread_cond_timedwait(&cond, &lock, &ts)
    }

    private func call(_ i: Int, _ action: AgentAction) -> AgentCallResult {
        let (rule, path, role) = withLock { (slots[i].rule, slots[i].agentPath, self.role) }
        let timeout = action == .monitor || action == .meta ? rule.timeoutMs : rule.commandTimeoutMs
        return AgentCall.run(
            argv: [path, action.rawValue] + rule.args,
            environment: AgentCall.environment(rule: rule, action: action.rawValue, role: role, node: node, timeoutMs: timeout),
            timeoutMs: timeout, action: action.rawValue,
            leaveServiceRunning: action == .start || action == .restart)
    }

    private func command(_ i: Int, _ argv: [String], _ action: AgentAction) -> AgentCallResult {
        let (rule, role) = withLock { (slots[i].rule, self.role) }
        return AgentCall.run(
            argv: argv,
            environment: AgentCall.environment(rule: rule, action: action.rawValue, role: role, node: node, timeoutMs: rule.commandTimeoutMs),
            timeoutMs: rule.commandTimeoutMs, action: "\(action.rawValue) command",
            leaveServiceRunning: action == .start || action == .restart)
    }

    /// The restart procedure: restart command, else the agent's `restart`, else stop + start.
    private func recover(_ i: Int) -> AgentCallResult {
        let rule = withLock { slots[i].rule }
        if let argv = rule.restart { return command(i, argv, .restart) }
        if rule.start == nil && rule.stop == nil {
            let r = call(i, .restart)
            if r.outcome != .unimplemented { return r }
        }
        let stopped = rule.stop.map { command(i, $0, .stop) } ?? call(i, .stop)
        if stopped.outcome != .success && stopped.outcome != .unimplemented && stopped.outcome != .notRunning {
            log.write(.warning, "rule \(rule.name): stop \(stopped.outcome)\(stopped.message.isEmpty ? "" : ": " + stopped.message); starting anyway",
                      event: "AAC_STOP_FAILED", fields: "SHAOLIN_RULE=\(rule.name)")
        }
        return rule.start.map { command(i, $0, .start) } ?? call(i, .start)
    }

    /// The operator's stop: the rule's stop command, else the agent's `stop`.
    private func stopService(_ i: Int) -> AgentCallResult {
        let rule = withLock { slots[i].rule }
        return rule.stop.map { command(i, $0, .stop) } ?? call(i, .stop)
    }

    /// The operator's start: the rule's start command, else the agent's `start`, else (agent
    /// without `start`) the rule's restart command.
    private func startService(_ i: Int) -> AgentCallResult {
        let rule = withLock { slots[i].rule }
        if let argv = rule.start { return command(i, argv, .start) }
        let r = call(i, .start)
        if r.outcome == .unimplemented, let argv = rule.restart { return command(i, argv, .restart) }
        return r
    }

    private func finishOperatorAction(_ i: Int, _ action: OperatorAction, generation: UInt64, result: AgentCallResult) {
        let name = ruleNames[i]
        let ms = result.durationNanoseconds / 1_000_000
        let detail = result.message.isEmpty ? "" : ": " + result.message
        // A stop of a service that is not running has done its job.
        let ok = result.outcome == .success || (action == .stop && result.outcome == .notRunning)
        let what: String
        if ok {
            what = "\(action.rawValue) by the operator: done in \(ms) ms\(detail)"
        } else if result.outcome == .unimplemented {
            what = "\(action.rawValue) by the operator failed: the rule has no \(action.rawValue) command and the agent does not implement \(action.rawValue)"
        } else {
            what = "\(action.rawValue) by the operator failed: \(result.action) \(result.outcome)\(detail)"
        }
        withLock {
            slots[i].operatorActionRunning = false
            slots[i].lastOperatorAction = what
            switch action {
            case .stop:
                if !ok && slots[i].stoppedByOperator { slots[i].stopFailed = true }
            case .start:
                // The startup grace and the first check count from the end of the start
                // (unless the rule was changed meanwhile).
                guard slots[i].generation == generation, role == .active, slots[i].enabled, !stopping else { return }
                let t = now()
                slots[i].graceEndsAt = t + slots[i].rule.startupGraceMs * 1_000_000
                slots[i].nextCheckAt = t + slots[i].rule.intervalMs * 1_000_000
            }
        }
        pthread_cond_broadcast(&cond)
        let stopNote = action == .stop ? (ok ? "; not monitored until started or enabled" : "; the rule stays stopped (not monitored): check the service")
                                       : (ok ? "; monitoring resumed" : "; monitoring resumed (the checks will judge the service)")
        log.write(ok ? .notice : .error, "rule \(name): \(what)\(stopNote)",
                  event: "AAC_OPERATOR_\(action == .stop ? "STOP" : "START")_\(ok ? "DONE" : "FAILED")",
                  fields: "SHAOLIN_RULE=\(name)")
    }

    private func finishCheck(_ i: Int, generation: UInt64, result: AgentCallResult) {
        var events: [(EventLog.Priority, String, String)] = []
        var recoverNow = false
        withLock {
            guard slots[i].generation == generation, role == .active, slots[i].enabled, !stopping else { return }
            let t = now()
            let name = slots[i].rule.name
            let rule = slots[i].rule
            slots[i].checks &+= 1
            slots[i].lastResult = result.outcome.description
            slots[i].lastMessage = result.message
            slots[i].lastCheckAt = t
            slots[i].lastCheckDurationMs = Int64(result.durationNanoseconds / 1_000_000)
            slots[i].nextCheckAt = t + rule.intervalMs * 1_000_000
            let detail = result.message.isEmpty ? "" : ": " + result.message
            let before = slots[i].state
            switch result.outcome {
            case .success:
                slots[i].seenHealthy = true
                if before == .failed {
                    events.append((.notice, "rule \(name): service running again after failing beyond recovery", "AAC_RECOVERED"))
                } else if before == .recovering {
                    events.append((.notice, "rule \(name): service running again after restart", "AAC_RECOVERED"))
                } else if before == .broken {
                    events.append((.notice, "rule \(name): agent works again", "AAC_RECOVERED"))
                } else if before != .running {
                    events.append((.info, "rule \(name): service running\(detail)", "AAC_RUNNING"))
                }
                setState(i, .running, at: t)
            case .misconfigured, .unimplemented:
                slots[i].failedChecks &+= 1
                if before != .broken {
                    events.append((.error, "rule \(name): monitor \(result.outcome)\(detail); not restarting and not failing over (fix the agent or the rule)", "AAC_BROKEN"))
                }
                setState(i, .broken, at: t)
            case .notRunning, .failed, .timedOut:
                slots[i].failedChecks &+= 1
                if !slots[i].seenHealthy && t < slots[i].graceEndsAt {
                    if before != .starting {
                        events.append((.info, "rule \(name): \(result.outcome)\(detail); within the startup grace (\(rule.startupGraceMs) ms), not acting yet", "AAC_STARTING"))
                    }
                    setState(i, .starting, at: t)
                    return
                }
                if before == .failed { return }  // already beyond recovery; handover retries run
                let window = rule.restartWindowMs * 1_000_000
                slots[i].restartTimes.removeAll { t - $0 >= window }
                if slots[i].restartTimes.count < rule.maxRestarts {
                    slots[i].restartTimes.append(t)
                    slots[i].restarts &+= 1
                    events.append((.warning, "rule \(name): check \(result.outcome)\(detail); restarting (\(slots[i].restartTimes.count) of \(rule.maxRestarts) within \(rule.restartWindowMs) ms)", "AAC_RESTART"))
                    setState(i, .recovering, at: t)
                    recoverNow = true
                } else {
                    events.append(failedEvent(i, "check \(result.outcome)\(detail); \(rule.maxRestarts) restart(s) within \(rule.restartWindowMs) ms did not help"))
                    enterFailed(i, at: t)
                }
            }
        }
        for e in events { log.write(e.0, e.1, event: e.2, fields: "SHAOLIN_RULE=\(ruleNames[i])") }
        pthread_cond_broadcast(&cond)
        if result.outcome == .success { clearLocalFailureIfResolved() }
        if recoverNow {
            let generation = withLock { slots[i].generation }
            let r = recover(i)
            finishRecovery(i, generation: generation, byOperator: false, result: r)
        }
    }

    private func failedEvent(_ i: Int, _ why: String) -> (EventLog.Priority, String, String) {
        let rule = slots[i].rule
        let then = rule.failover ? "asking the state machine for a graceful handover to the peer" : "failover = false: staying ACTIVE"
        return (rule.critical ? .critical : .error, "rule \(rule.name) failed beyond recovery: \(why); \(then)", "AAC_FAILED")
    }

    private func finishRecovery(_ i: Int, generation: UInt64, byOperator: Bool, result: AgentCallResult) {
        var event: (EventLog.Priority, String, String)?
        withLock {
            let name = slots[i].rule.name
            if byOperator { slots[i].operatorRestarts &+= 1 }
            guard slots[i].generation == generation, role == .active, slots[i].enabled, !stopping else { return }
            let t = now()
            let detail = result.message.isEmpty ? "" : ": " + result.message
            // The next check judges the restart.
            slots[i].nextCheckAt = t + slots[i].rule.intervalMs * 1_000_000
            switch result.outcome {
            case .success:
                event = (.notice, "rule \(name): \(result.action) done in \(result.durationNanoseconds / 1_000_000) ms\(detail)", "AAC_RESTART_DONE")
            case .unimplemented where !byOperator:
                // Neither a command nor the agent can start the service: no local recovery.
                event = failedEvent(i, "no start or restart command is configured and the agent cannot start the service")
                enterFailed(i, at: t)
            default:
                event = (.error, "rule \(name): \(result.action) \(result.outcome)\(detail)", "AAC_RESTART_FAILED")
            }
        }
        pthread_cond_broadcast(&cond)
        if let e = event { log.write(e.0, e.1, event: e.2, fields: "SHAOLIN_RULE=\(ruleNames[i])") }
    }

    // MARK: - Helpers

    /// After a failed rule recovered, was disabled or reset, or the node became ACTIVE
    /// afresh: when no failover rule is failed any more, tell the state machine
    /// (`localRecovered` clears the `unrecoverable` bit that `localFailure` set).
    private func clearLocalFailureIfResolved() {
        let id: UInt32? = withLock {
            guard localFailureReported,
                  !slots.contains(where: { $0.enabled && $0.rule.failover && $0.state == .failed }) else { return nil }
            localFailureReported = false
            nextCommandID &+= 1
            return Self.commandIDBase | (nextCommandID & 0x7FFF_FFFF)
        }
        if let id {
            submit(.localRecovered, id)
            log.write(.notice, "no rule is failed beyond recovery any more: this node is a valid handover target again",
                      event: "AAC_LOCAL_RECOVERED")
        }
    }

    /// A fresh failure beyond recovery asks for a handover at once.
    private func enterFailed(_ i: Int, at t: Int64) {
        if slots[i].state != .failed {
            slots[i].nextHandoverAt = 0
            slots[i].lastRefusal = nil
        }
        setState(i, .failed, at: t)
    }

    private func setState(_ i: Int, _ s: RuleState, at t: Int64) {
        if slots[i].state != s {
            slots[i].state = s
            slots[i].stateSince = t
        }
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return try body()
    }
}
