// What other parts of the engine contribute to the control interface's status and commands:
// the hardware watchdog's state and the Application Availability Control (AAC) rules.
// The watchdog code publishes `WatchdogReport` through `SlowSide.updateWatchdog`; the AAC
// implements `AACControl` and is handed to `SlowSide.aac`. Without an AAC, the rule list is
// empty and every rule command answers "no such rule".

import ShaolinCore

/// The hardware watchdog as the status shows it.
public struct WatchdogReport: Sendable, Equatable {
    /// "disabled" (watchdog = "none"), "armed", "disarmed", "failed", "unknown".
    public var state: String
    public var device: String
    public var timeoutSeconds: Int
    /// Milliseconds since the last keepalive, -1 when unknown or never.
    public var lastPetMsAgo: Int64
    /// Free text: why it failed, the driver's identity, …
    public var detail: String

    public init(state: String, device: String, timeoutSeconds: Int, lastPetMsAgo: Int64 = -1, detail: String = "") {
        self.state = state
        self.device = device
        self.timeoutSeconds = timeoutSeconds
        self.lastPetMsAgo = lastPetMsAgo
        self.detail = detail
    }

    /// What the configuration alone says (before the watchdog code reports anything).
    public static func configured(_ w: Configuration.Watchdog) -> WatchdogReport {
        w.isDisabled
            ? WatchdogReport(state: "disabled", device: "none", timeoutSeconds: 0, detail: "watchdog = \"none\" in the configuration")
            : WatchdogReport(state: "unknown", device: w.device, timeoutSeconds: w.timeoutS, detail: "no report from the watchdog code yet")
    }

    public var json: JSONValue {
        .object([("state", .string(state)), ("device", .string(device)), ("timeout_s", .int(Int64(timeoutSeconds))),
                 ("last_pet_ms_ago", .int(lastPetMsAgo)), ("detail", .string(detail))])
    }
}

/// One AAC rule as the status shows it.
public struct AACRuleStatus: Sendable, Equatable {
    public var name: String
    public var description: String
    public var agent: String
    public var enabled: Bool
    /// The supervisor's state: "disabled", "idle" (not ACTIVE), "unknown", "starting",
    /// "running", "recovering", "failed", "broken", "stopped" (by the operator).
    public var state: String
    public var checks: UInt64
    public var failures: UInt64
    /// Restarts inside the current window, and the rule's limit.
    public var restartsInWindow: Int
    public var maxRestarts: Int
    public var failover: Bool
    /// Milliseconds since the last check, -1 when never.
    public var lastCheckMsAgo: Int64
    /// The last check's outcome in words ("exit 0", "timeout after 2000 ms", …).
    public var lastResult: String
    /// Automatic restarts since the last reset (all, not only those in the window).
    public var restarts: UInt64
    /// Restarts by the operator, and handover requests of the failed rule, since the last reset.
    public var operatorRestarts: UInt64
    public var handoverRequests: UInt64
    /// The last operator start or stop and its outcome ("" before the first).
    public var lastOperatorAction: String
    /// An operator start or stop is queued or running.
    public var operatorActionPending: Bool

    public init(name: String, description: String, agent: String, enabled: Bool, state: String, checks: UInt64,
                failures: UInt64, restartsInWindow: Int, maxRestarts: Int, failover: Bool, lastCheckMsAgo: Int64,
                lastResult: String, restarts: UInt64 = 0, operatorRestarts: UInt64 = 0, handoverRequests: UInt64 = 0,
                lastOperatorAction: String = "", operatorActionPending: Bool = false) {
        self.name = name
        self.description = description
        self.agent = agent
        self.enabled = enabled
        self.state = state
        self.checks = checks
        self.failures = failures
        self.restartsInWindow = restartsInWindow
        self.maxRestarts = maxRestarts
        self.failover = failover
        self.lastCheckMsAgo = lastCheckMsAgo
        self.lastResult = lastResult
        self.restarts = restarts
        self.operatorRestarts = operatorRestarts
        self.handoverRequests = handoverRequests
        self.lastOperatorAction = lastOperatorAction
        self.operatorActionPending = operatorActionPending
    }

    public var json: JSONValue {
        .object([("name", .string(name)), ("description", .string(description)), ("agent", .string(agent)),
                 ("enabled", .bool(enabled)), ("state", .string(state)), ("checks", .int(Int64(clamping: checks))),
                 ("failures", .int(Int64(clamping: failures))), ("restarts_in_window", .int(Int64(restartsInWindow))),
                 ("max_restarts", .int(Int64(maxRestarts))), ("failover", .bool(failover)),
                 ("last_check_ms_ago", .int(lastCheckMsAgo)), ("last_result", .string(lastResult)),
                 ("restarts", .int(Int64(clamping: restarts))), ("operator_restarts", .int(Int64(clamping: operatorRestarts))),
                 ("handover_requests", .int(Int64(clamping: handoverRequests))),
                 ("last_operator_action", .string(lastOperatorAction)), ("operator_action_pending", .bool(operatorActionPending))])
    }
}

/// The interface the AAC offers the control server. Calls come from the control thread and
/// must not block for long (start the restart, do not wait for it).
public protocol AACControl: AnyObject, Sendable {
    /// Every configured rule, in configuration order.
    func rules() -> [AACRuleStatus]
    /// Enables or disables a rule; returns a human message, or `.noSuchRule`.
    func setEnabled(_ name: String, _ enabled: Bool) -> Result<String, ControlError>
    /// Restarts a rule's service now (not counted against its restart limit).
    func restart(_ name: String) -> Result<String, ControlError>
    /// Starts a rule's service and monitors it again (the start runs in the background).
    func start(_ name: String) -> Result<String, ControlError>
    /// Stops a rule's service and stops monitoring it (the stop runs in the background).
    func stop(_ name: String) -> Result<String, ControlError>
    /// Zeroes a rule's counters.
    func resetStatistics(_ name: String) -> Result<String, ControlError>
    /// Applies the rules of a validated configuration (reload); returns what changed, in words.
    func reload(_ configuration: Configuration, dryRun: Bool) -> [String]
}

extension ControlError {
    public static func noSuchRule(_ name: String, known: [String]) -> ControlError {
        ControlError(.noSuchRule, "no such rule \"\(name)\"" + (known.isEmpty ? " (no AAC rules are configured on this node)" : " (rules: \(known.joined(separator: ", ")))"))
    }
}
