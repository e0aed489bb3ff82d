// The AAC supervisor as the control interface sees it (`AACControl`): rule status in the
// control protocol's shape, enable/disable/start/stop/restart/reset-statistics with the
// protocol's errors (`no_such_rule`, else `refused` with the supervisor's reason).

import ShaolinCore
import ShaolinLinux

public final class AACControlAdapter: AACControl, @unchecked Sendable {
    let supervisor: AACSupervisor
    let configured: [String]

    public init(_ supervisor: AACSupervisor, configuration: Configuration) {
        self.supervisor = supervisor
        self.configured = configuration.aac.rules.map(\.name)
    }

    public func rules() -> [AACRuleStatus] {
        let now = SystemClock.monotonicNanos()
        return supervisor.rules().map { r in
            AACRuleStatus(name: r.name, description: r.description, agent: r.agent, enabled: r.enabled,
                          state: r.state.rawValue, checks: r.checks, failures: r.failedChecks,
                          restartsInWindow: r.restartsInWindow, maxRestarts: r.maxRestarts, failover: r.failover,
                          lastCheckMsAgo: r.lastCheckAt == 0 ? -1 : max(0, now - r.lastCheckAt) / 1_000_000,
                          lastResult: r.lastMessage.isEmpty ? r.lastResult : "\(r.lastResult): \(r.lastMessage)",
                          restarts: r.restarts, operatorRestarts: r.operatorRestarts, handoverRequests: r.handoverRequests,
                          lastOperatorAction: r.lastOperatorAction, operatorActionPending: r.operatorActionPending)
        }
    }

    func mapped(_ name: String, _ body: () throws(AACSupervisor.ControlError) -> Void, ok: String) -> Result<String, ControlError> {
        do {
            try body()
            return .success(ok)
        } catch {
            if !configured.contains(name) { return .failure(.noSuchRule(name, known: configured)) }
            return .failure(ControlError(.refused, "\(error)"))
        }
    }

    public func setEnabled(_ name: String, _ enabled: Bool) -> Result<String, ControlError> {
        mapped(name, { () throws(AACSupervisor.ControlError) in
            if enabled { try supervisor.enable(name) } else { try supervisor.disable(name) }
        }, ok: "rule \(name) \(enabled ? "enabled" : "disabled")")
    }

    public func restart(_ name: String) -> Result<String, ControlError> {
        mapped(name, { () throws(AACSupervisor.ControlError) in try supervisor.restart(name) }, ok: "rule \(name): restart started")
    }

    public func start(_ name: String) -> Result<String, ControlError> {
        mapped(name, { () throws(AACSupervisor.ControlError) in try supervisor.start(name) },
               ok: "rule \(name): start started; monitoring resumes when it is done (see last_operator_action)")
    }

    public func stop(_ name: String) -> Result<String, ControlError> {
        mapped(name, { () throws(AACSupervisor.ControlError) in try supervisor.stop(name) },
               ok: "rule \(name): stop started; the rule is not monitored (no restart, no failover) until started or enabled")
    }

    public func resetStatistics(_ name: String) -> Result<String, ControlError> {
        mapped(name, { () throws(AACSupervisor.ControlError) in try supervisor.resetStatistics(name) },
               ok: "rule \(name): counters and restart history reset")
    }

    /// AAC rules are not changed live: the supervisor's threads are per rule. Say so when the new
    /// file's rules differ from the running ones.
    public func reload(_ configuration: Configuration, dryRun: Bool) -> [String] {
        let names = configuration.aac.rules.map(\.name)
        return names == configured ? [] : ["[aac] rules changed (\(names.joined(separator: ", "))): restart shaolind to apply them"]
    }
}
