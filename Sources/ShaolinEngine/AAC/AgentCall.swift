// One call of a Service Monitoring Agent (docs/agents.md): `agent ACTION args...` with the
// rule's environment, in its own process group, bounded in time and output. The agent's
// output is untrusted: it is cut to a few hundred bytes of printable text before anything
// else sees it, and no exit status, signal, garbage or silence can do more than make the
// call count as failed.

import ShaolinCore
import ShaolinLinux

/// The actions of the agent contract.
public enum AgentAction: String, Sendable, CaseIterable {
    case monitor, start, stop, restart, meta
}

/// OCF-like exit codes (docs/agents.md).
public enum AgentExit {
    public static let success: Int32 = 0
    public static let genericError: Int32 = 1
    public static let invalidArguments: Int32 = 2
    public static let unimplemented: Int32 = 3
    public static let insufficientPermission: Int32 = 4
    public static let notInstalled: Int32 = 5
    public static let notConfigured: Int32 = 6
    public static let notRunning: Int32 = 7
}

/// What one agent call meant.
public enum AgentOutcome: Sendable, Equatable, CustomStringConvertible {
    /// Exit 0: running (monitor) or done (start/stop/restart).
    case success
    /// Exit 7: the service is not running.
    case notRunning
    /// Exit 1, any other unknown code, or killed by a signal: the service (or action) failed.
    case failed(String)
    /// The call overran its timeout; the agent's whole process group was killed.
    case timedOut
    /// Exit 3: the agent does not implement this action.
    case unimplemented
    /// Exit 2, 4, 5 or 6, or the agent could not be run at all: a problem of the agent or of
    /// the rule's configuration that restarting the service cannot fix.
    case misconfigured(String)

    public var description: String {
        switch self {
        case .success: "success"
        case .notRunning: "not running"
        case .failed(let why): "failed (\(why))"
        case .timedOut: "timed out"
        case .unimplemented: "not implemented by the agent"
        case .misconfigured(let why): "agent or configuration error (\(why))"
        }
    }

    /// Maps an exit status to an outcome.
    public static func from(_ t: ProcessTermination, timedOut: Bool) -> AgentOutcome {
        if timedOut { return .timedOut }
        switch t {
        case .exited(AgentExit.success): return .success
        case .exited(AgentExit.notRunning): return .notRunning
        case .exited(AgentExit.unimplemented): return .unimplemented
        case .exited(AgentExit.invalidArguments): return .misconfigured("exit 2: invalid arguments")
        case .exited(AgentExit.insufficientPermission): return .misconfigured("exit 4: insufficient permission")
        case .exited(AgentExit.notInstalled): return .misconfigured("exit 5: not installed")
        case .exited(AgentExit.notConfigured): return .misconfigured("exit 6: not configured")
        case .exited(let c): return .failed("exit \(c)")
        case .signaled(let s): return .failed("killed by signal \(s)")
        case .unknown: return .failed("termination not observed")
        }
    }
}

/// The result of one call, with the agent's output made safe to log and show.
public struct AgentCallResult: Sendable {
    public var action: String
    public var outcome: AgentOutcome
    /// At most `AgentCall.shownOutputLimit` bytes of printable ASCII/UTF-8 (last non-empty
    /// line of stdout, else of stderr), control characters replaced.
    public var message: String
    public var durationNanoseconds: UInt64
}

public enum AgentCall {
    /// Bytes of each stream kept from an agent (the rest is read and dropped).
    public static let captureLimit = 4096
    /// Characters of agent output kept for logs and status.
    public static let shownOutputLimit = 200
    /// SIGTERM → SIGKILL grace for an overrunning agent.
    public static let killGraceMilliseconds = 1000

    /// The environment an agent sees (documented in docs/agents.md).
    public static func environment(rule: Configuration.AACRule, action: String, role: Role, node: String,
                                   timeoutMs: Int64) -> [String] {
        var env = ProcessSpawn.minimalEnvironment
        env.append("SHAOLIN_RULE=\(rule.name)")
        env.append("SHAOLIN_ACTION=\(action)")
        env.append("SHAOLIN_ROLE=\(role)")
        env.append("SHAOLIN_NODE=\(node)")
        env.append("SHAOLIN_TIMEOUT_MS=\(timeoutMs)")
        env.append("SHAOLIN_INTERVAL_MS=\(rule.intervalMs)")
        env.append("SHAOLIN_AGENT_API=1")
        for p in rule.params {
            env.append("\(Configuration.AACRule.environmentName(ofParameter: p.name))=\(p.value)")
        }
        return env
    }

    /// Runs `argv` (program first) and classifies the result. Blocks the calling thread for at
    /// most about timeout + 1 s kill grace + 2 s; never on the real-time thread.
    public static func run(argv: [String], environment: [String], timeoutMs: Int64, action: String,
                           leaveServiceRunning: Bool) -> AgentCallResult {
        var options = SpawnOptions(
            executable: argv[0], arguments: Array(argv.dropFirst()), environment: environment,
            timeoutMilliseconds: Int(timeoutMs), killGraceMilliseconds: killGraceMilliseconds,
            outputLimit: captureLimit)
        options.killGroupOnExit = !leaveServiceRunning
        let start = ProcessSpawn.monotonicNanoseconds()
        do {
            let r = try ProcessSpawn.run(options)
            var message = sanitize(lastLine(r.standardOutput) ?? lastLine(r.standardError) ?? [])
            if r.timedOut { message = "no answer within \(timeoutMs) ms; process group killed" + (message.isEmpty ? "" : "; last output: " + message) }
            return AgentCallResult(action: action, outcome: .from(r.termination, timedOut: r.timedOut), message: message,
                                   durationNanoseconds: r.durationNanoseconds)
        } catch {
            return AgentCallResult(action: action, outcome: .misconfigured(error.description), message: "",
                                   durationNanoseconds: ProcessSpawn.monotonicNanoseconds() - start)
        }
    }

    /// The last non-blank line of some output.
    static func lastLine(_ bytes: [UInt8]) -> [UInt8]? {
        var end = bytes.count
        while end > 0 {
            var start = end
            while start > 0 && bytes[start - 1] != 0x0A { start -= 1 }
            let line = bytes[start..<end]
            if line.contains(where: { $0 > 0x20 && $0 != 0x7F }) { return Array(line) }
            end = start - 1
        }
        return nil
    }

    /// Valid UTF-8 without control characters, trimmed, at most `shownOutputLimit` characters.
    public static func sanitize(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(captureLimit), as: UTF8.self)
        var out = ""
        var count = 0
        for ch in text.unicodeScalars {
            if count >= shownOutputLimit { out += "…"; break }
            let v = ch.value
            if v < 0x20 || v == 0x7F || (v >= 0x80 && v < 0xA0) || v == 0xFFFD {
                out.unicodeScalars.append(v == 0x09 ? " " : "?")
            } else {
                out.unicodeScalars.append(ch)
            }
            count += 1
        }
        var s = Substring(out)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " || s.last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
