// Any agent of the fence-agents family (fence_ipmilan, fence_apc,
// fence_virsh, ...) through its standard stdin protocol: one `key=value`
// line per option, then `action=...`. Nothing goes on the command line, so
// passwords stay out of `ps`.
//
// Exit codes (fence-agents contract): 0 success; for `status` 0 = on,
// 2 = off, anything else = error.
//
// What counts as "confirmed off" (our choice):
//   * off: the agent's `off` success already means it saw the device report
//     off (fencing.py waits up to power_timeout for it). We do not take that
//     alone: with `verifyWithStatus` (default) a following `action=status`
//     must exit 2 (off). A status of "on" or an error after a successful off
//     is a failure, so the next fencing level gets its turn.
//     Set `verifyWithStatus = false` to trust the agent's own wait.
//   * reset/cycle (agent action `reboot`): status first; a peer already off
//     is confirmed without rebooting (fence-agents issue #596). Otherwise a
//     successful `reboot` (which the library does as off, wait for off, on)
//     confirms.
//   * status: exit 2 → confirmed off, exit 0 → reported on.
import Glibc
import ShaolinLinux

public struct FenceAgentSettings: Sendable, Equatable {
    /// Path of the agent, e.g. /usr/sbin/fence_ipmilan.
    public var agentPath: String
    /// Options written to stdin as `key=value` lines (sorted by key), e.g.
    /// ip, ipport, username, password, lanplus, cipher, plug. `action` is
    /// added by the driver and must not be given here.
    public var options: [String: String]
    /// The action a fence sequence uses for this method.
    public var action: FenceAction
    /// Bound on each agent run, in milliseconds (the agent's own power wait
    /// happens inside it, so keep it above the agent's power_timeout).
    public var callTimeout: Int
    /// Extra attempts after a failed or timed-out run.
    public var retries: Int
    /// Require `action=status` to report off after a successful `off`.
    public var verifyWithStatus: Bool
    /// First retry backoff in milliseconds; doubles on each retry.
    public var retryBackoff: Int

    public init(
        agentPath: String, options: [String: String] = [:], action: FenceAction = .off,
        callTimeout: Int = 60000, retries: Int = 1, verifyWithStatus: Bool = true,
        retryBackoff: Int = 500
    ) {
        self.agentPath = agentPath
        self.options = options
        self.action = action
        self.callTimeout = callTimeout
        self.retries = retries
        self.verifyWithStatus = verifyWithStatus
        self.retryBackoff = retryBackoff
    }

    /// Upper bound of one `fence(action:)` in milliseconds: two agent runs
    /// (status + action, or action + status), each with all retries and
    /// its kill grace.
    public var worstCaseMilliseconds: Int {
        2 * FenceSupport.retriedBound(
            callMilliseconds: callTimeout + FenceAgent.killGrace, retries: retries,
            backoff: retryBackoff)
    }
}

public struct FenceAgent: FenceDriver {
    public let settings: FenceAgentSettings

    static let killGrace = 500

    public init(settings: FenceAgentSettings) { self.settings = settings }

    public var worstCaseMilliseconds: Int { settings.worstCaseMilliseconds }

    /// The agent's file name ("fence_ipmilan").
    public var name: String {
        String(settings.agentPath.split(separator: "/").last ?? Substring(settings.agentPath))
    }

    public var target: String {
        let o = settings.options
        let host = o["ip"] ?? o["ipaddr"] ?? o["hostname"] ?? "?"
        var t = host
        if let port = o["ipport"] { t += ":\(port)" }
        if let plug = o["plug"] ?? o["port"] { t += " plug \(plug)" }
        return t
    }

    /// The stdin text for one agent action (exposed for tests/diagnostics;
    /// it contains the password if one is configured).
    public func standardInput(agentAction: String) -> String {
        var text = ""
        for key in settings.options.keys.sorted() {
            text += "\(key)=\(settings.options[key]!)\n"
        }
        text += "action=\(agentAction)\n"
        return text
    }

    public func fence(action: FenceAction) -> FenceOutcome {
        var log = FenceLog()
        log.add("\(name) \(action) \(target)")
        if let problem = configurationProblem() { return log.outcome(.failed(problem)) }

        switch action {
        case .status:
            return log.outcome(status(&log))
        case .on:
            if let failure = run("on", &log).failure { return log.outcome(failure) }
            return log.outcome(.reportedOn)
        case .off:
            if let failure = run("off", &log).failure { return log.outcome(failure) }
            guard settings.verifyWithStatus else {
                log.add("agent reported off; trusting its own wait (verifyWithStatus off)")
                return log.outcome(.confirmedOff)
            }
            switch status(&log) {
            case .confirmedOff: return log.outcome(.confirmedOff)
            case .reportedOn:
                return log.outcome(.failed("\(name) reported success for off but status says on"))
            case .failed(let reason):
                return log.outcome(.failed("off succeeded but status check failed: \(reason)"))
            case .timeout(let reason):
                return log.outcome(.timeout("off succeeded but status check timed out: \(reason)"))
            }
        case .reset, .cycle:
            switch status(&log) {
            case .confirmedOff:
                log.add("already off: reboot not sent (counts as fenced)")
                return log.outcome(.confirmedOff)
            case .reportedOn:
                break
            case let failure:
                return log.outcome(failure)
            }
            if let failure = run("reboot", &log).failure { return log.outcome(failure) }
            return log.outcome(.confirmedOff)
        }
    }

    // MARK: - Running the agent

    private struct RunAnswer {
        var exitCode: Int32?
        var failure: FenceResult?
    }

    private func configurationProblem() -> String? {
        if settings.options["action"] != nil {
            return "option \"action\" is set by the driver; remove it from options"
        }
        for (key, value) in settings.options {
            if key.isEmpty || key.contains("=") || key.contains("\n") || value.contains("\n") {
                return "option \(key.split(separator: "\n").first ?? "") contains '=' or a newline"
            }
        }
        return nil
    }

    /// status: exit 0 on, 2 off, other → error.
    private func status(_ log: inout FenceLog) -> FenceResult {
        let answer = run("status", &log, acceptedCodes: [0, 2])
        if let failure = answer.failure { return failure }
        return answer.exitCode == 2 ? .confirmedOff : .reportedOn
    }

    /// Runs one agent action with retries. Exit codes in `acceptedCodes` are
    /// answers; anything else is a failure.
    private func run(_ agentAction: String, _ log: inout FenceLog,
                     acceptedCodes: Set<Int32> = [0]) -> RunAnswer {
        var backoff = settings.retryBackoff
        var last = RunAnswer(exitCode: nil, failure: .failed("not attempted"))
        for attempt in 0...max(0, settings.retries) {
            if attempt > 0 {
                FenceSupport.sleep(milliseconds: backoff)
                backoff *= 2
            }
            let tag = attempt == 0 ? "" : " (retry \(attempt))"
            let options = SpawnOptions(
                executable: settings.agentPath, arguments: [],
                // fence-agents' Python prints DeprecationWarnings on stderr
                // under Debian 12's Python 3.11; keep them out of reasons.
                environment: ProcessSpawn.minimalEnvironment + ["PYTHONWARNINGS=ignore"],
                standardInput: Array(standardInput(agentAction: agentAction).utf8),
                timeoutMilliseconds: settings.callTimeout,
                killGraceMilliseconds: Self.killGrace)
            let result: SpawnResult
            do {
                result = try ProcessSpawn.run(options)
            } catch {
                log.add("action=\(agentAction)\(tag): \(error)")
                return RunAnswer(exitCode: nil, failure: .failed("\(error)"))
            }
            let ms = Int(result.durationMilliseconds)
            let summary = FenceSupport.summary(result, limit: 200)
            if result.timedOut {
                log.add("action=\(agentAction)\(tag): killed after \(ms) ms: \(summary)")
                last = RunAnswer(exitCode: nil, failure: .timeout(
                    "\(name) action=\(agentAction) did not finish within \(settings.callTimeout) ms"))
                continue
            }
            if case .exited(let code) = result.termination, acceptedCodes.contains(code) {
                log.add("action=\(agentAction)\(tag): exit \(code) (\(ms) ms)")
                return RunAnswer(exitCode: code, failure: nil)
            }
            log.add("action=\(agentAction)\(tag): \(result.termination) (\(ms) ms): \(summary)")
            last = RunAnswer(exitCode: nil, failure: .failed(
                "\(name) action=\(agentAction) ended with \(result.termination): \(summary)"))
        }
        return last
    }
}
