// IPMI fencing through ipmitool (IPMI v2.0 / RMCP+, "lanplus").
//
// Every ipmitool call is bounded by `callTimeout` (ProcessSpawn kills its
// process group), so a hung or unreachable BMC cannot hang the worker.
// Failed calls are retried `retries` times with a short backoff, except
// authentication failures (retrying cannot fix them and may lock the user).
//
// off:          `chassis power off`, then poll `chassis power status` until
//               the BMC says "off", bounded by `powerTimeout` (what
//               fence_ipmilan does). Only then is the peer confirmed off. If
//               the off command itself fails, a status "off" still confirms.
// reset/cycle:  status first; a chassis already off is confirmed off without
//               sending anything (fence-agents issue #596: cycle/reset on an
//               off chassis may be rejected, and must not fail fencing
//               forever; ipmi_sim even powers an off chassis on for `cycle`).
//               On a running chassis, the BMC accepting the command is the
//               confirmation: the power was interrupted, the peer lost its
//               state (the same trust as fence_ipmilan's method=cycle).
// on:           `chassis power on`, then poll until "on" (result .reportedOn).
// status:       one status query: "off" → .confirmedOff, "on" → .reportedOn.
//
// The password never appears on a command line: `-f passwordFile`, or `-E`
// with IPMI_PASSWORD taken from the engine's environment variable named by
// `passwordEnv`. The cipher suite is always passed (`-C`): without it
// ipmitool spends about 11 s probing suites on every call.
import Glibc
import ShaolinLinux

public struct IPMIFenceSettings: Sendable, Equatable {
    /// BMC address (IPv4/IPv6 literal or name).
    public var host: String
    /// BMC UDP port.
    public var port: Int
    public var user: String
    /// File holding the password (passed as `-f`). Preferred over `passwordEnv`.
    public var passwordFile: String?
    /// Name of an environment variable of the engine holding the password;
    /// its value reaches ipmitool as IPMI_PASSWORD with `-E`.
    public var passwordEnv: String?
    /// RMCP+ cipher suite (`-C`).
    public var cipherSuite: Int
    /// Session privilege: "admin"/"administrator", "operator", "user".
    public var privilege: String
    /// The action a fence sequence uses for this method.
    public var action: FenceAction
    /// Bound on each ipmitool call, in milliseconds.
    public var callTimeout: Int
    /// Extra attempts after a failed or timed-out call.
    public var retries: Int
    /// Bound on waiting for the BMC to report the new power state after
    /// off/on, in milliseconds.
    public var powerTimeout: Int
    public var ipmitoolPath: String
    /// Delay between status polls while waiting for "off", in milliseconds.
    public var pollInterval: Int
    /// First retry backoff in milliseconds; doubles on each retry.
    public var retryBackoff: Int

    public init(
        host: String, port: Int = 623, user: String,
        passwordFile: String? = nil, passwordEnv: String? = nil,
        cipherSuite: Int = 3, privilege: String = "admin", action: FenceAction = .off,
        callTimeout: Int = 5000, retries: Int = 2, powerTimeout: Int = 20000,
        ipmitoolPath: String = "/usr/bin/ipmitool",
        pollInterval: Int = 200, retryBackoff: Int = 200
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.passwordFile = passwordFile
        self.passwordEnv = passwordEnv
        self.cipherSuite = cipherSuite
        self.privilege = privilege
        self.action = action
        self.callTimeout = callTimeout
        self.retries = retries
        self.powerTimeout = powerTimeout
        self.ipmitoolPath = ipmitoolPath
        self.pollInterval = pollInterval
        self.retryBackoff = retryBackoff
    }

    /// Upper bound of one `fence(action:)` in milliseconds: a command and a
    /// status query, each with all retries, then the power wait (whose last
    /// status call may start just before it ends). Each call counts its
    /// 200 ms kill grace.
    public var worstCaseMilliseconds: Int {
        let call = callTimeout + IPMIFence.killGrace
        let command = FenceSupport.retriedBound(
            callMilliseconds: call, retries: retries, backoff: retryBackoff)
        return 2 * command + powerTimeout + pollInterval + call
    }
}

public struct IPMIFence: FenceDriver {
    public let settings: IPMIFenceSettings
    /// IPMI_PASSWORD for `-E`, read from the environment at init.
    private let envPassword: String?

    static let killGrace = 200

    public var name: String { "ipmi" }
    public var worstCaseMilliseconds: Int { settings.worstCaseMilliseconds }
    public var target: String { "\(settings.host):\(settings.port)" }

    /// - Parameter environment: where `passwordEnv` is looked up; defaults
    ///   to the engine's own environment (read once, here).
    public init(settings: IPMIFenceSettings, environment: [String: String]? = nil) {
        self.settings = settings
        if let variable = settings.passwordEnv {
            if let environment {
                envPassword = environment[variable]
            } else if let value = getenv(variable) {
                envPassword = String(cString: value)
            } else {
                envPassword = nil
            }
        } else {
            envPassword = nil
        }
    }

    public func fence(action: FenceAction) -> FenceOutcome {
        var log = FenceLog()
        log.add("ipmi \(action) \(target) user=\(settings.user) cipher=\(settings.cipherSuite)")
        if let problem = configurationProblem() {
            return log.outcome(.failed(problem))
        }
        switch action {
        case .status:
            switch call("status", &log) {
            case .power(false): return log.outcome(.confirmedOff)
            case .power(true): return log.outcome(.reportedOn)
            case .failure(let result): return log.outcome(result)
            case .accepted: return log.outcome(.failed("unexpected answer to power status"))
            }
        case .off:
            let sent = call("off", &log)
            if case .failure(let result) = sent {
                // Not an authentication problem or a dead BMC? The chassis may
                // already be off (some BMCs reject off when off): ask.
                if case .failed(let reason) = result, !reason.hasPrefix(Self.authFailure) {
                    if case .power(false) = call("status", &log) {
                        log.add("chassis already off")
                        return log.outcome(.confirmedOff)
                    }
                }
                return log.outcome(result)
            }
            return waitForPower(on: false, &log)
        case .on:
            if case .failure(let result) = call("on", &log) { return log.outcome(result) }
            return waitForPower(on: true, &log)
        case .reset, .cycle:
            switch call("status", &log) {
            case .power(false):
                log.add("chassis already off: \(action) not sent (counts as fenced)")
                return log.outcome(.confirmedOff)
            case .failure(let result):
                return log.outcome(result)
            case .power(true), .accepted:
                break
            }
            switch call(action.rawValue, &log) {
            case .failure(let result):
                return log.outcome(result)
            default:
                log.add("BMC accepted chassis power \(action)")
                return log.outcome(.confirmedOff)
            }
        }
    }

    // MARK: - Calls

    static let authFailure = "authentication failed"

    enum CallAnswer {
        case accepted
        case power(Bool)
        case failure(FenceResult)
    }

    private func configurationProblem() -> String? {
        if settings.passwordFile == nil && settings.passwordEnv == nil {
            return "no password configured (set passwordFile or passwordEnv)"
        }
        if settings.passwordFile == nil, envPassword == nil, let variable = settings.passwordEnv {
            return "password environment variable \(variable) is not set"
        }
        if ipmiPrivilege == nil {
            return "unknown IPMI privilege \"\(settings.privilege)\" (admin, operator or user)"
        }
        return nil
    }

    private var ipmiPrivilege: String? {
        switch settings.privilege.lowercased() {
        case "admin", "administrator": return "ADMINISTRATOR"
        case "operator": return "OPERATOR"
        case "user": return "USER"
        case "callback": return "CALLBACK"
        default: return nil
        }
    }

    /// ipmitool's argument vector for `chassis power <verb>`.
    func arguments(verb: String) -> [String] {
        var args = [
            "-I", "lanplus", "-H", settings.host, "-p", String(settings.port),
            "-U", settings.user,
        ]
        if let file = settings.passwordFile {
            args += ["-f", file]
        } else {
            args += ["-E"]
        }
        args += [
            "-C", String(settings.cipherSuite), "-L", ipmiPrivilege ?? "ADMINISTRATOR",
            // -v makes ipmitool name authentication failures ("RAKP 2 HMAC
            // is invalid", "unauthorized name") instead of a generic error.
            "-v",
            "chassis", "power", verb,
        ]
        return args
    }

    /// One ipmitool command with retries.
    private func call(_ verb: String, _ log: inout FenceLog) -> CallAnswer {
        var backoff = settings.retryBackoff
        var last = FenceResult.failed("not attempted")
        for attempt in 0...max(0, settings.retries) {
            if attempt > 0 {
                FenceSupport.sleep(milliseconds: backoff)
                backoff *= 2
            }
            let answer = callOnce(verb, attempt: attempt, &log)
            switch answer {
            case .failure(let result):
                last = result
                if case .failed(let reason) = result, reason.hasPrefix(Self.authFailure) {
                    return answer
                }
            default:
                return answer
            }
        }
        return .failure(last)
    }

    private func callOnce(_ verb: String, attempt: Int, _ log: inout FenceLog) -> CallAnswer {
        var environment = ProcessSpawn.minimalEnvironment
        if settings.passwordFile == nil, let password = envPassword {
            environment.append("IPMI_PASSWORD=\(password)")
        }
        let options = SpawnOptions(
            executable: settings.ipmitoolPath, arguments: arguments(verb: verb),
            environment: environment, timeoutMilliseconds: settings.callTimeout,
            killGraceMilliseconds: Self.killGrace, outputLimit: 16 * 1024)
        let tag = attempt == 0 ? "" : " (retry \(attempt))"
        let result: SpawnResult
        do {
            result = try ProcessSpawn.run(options)
        } catch {
            log.add("chassis power \(verb)\(tag): \(error)")
            return .failure(.failed("\(error)"))
        }
        let ms = Int(result.durationMilliseconds)
        if result.timedOut {
            log.add("chassis power \(verb)\(tag): no answer, killed after \(ms) ms")
            return .failure(.timeout(
                "BMC at \(target) did not answer within \(settings.callTimeout) ms"))
        }
        let text = result.outputText.lowercased()
        let all = text + "\n" + result.errorText.lowercased()
        if result.termination == .exited(0) {
            if verb == "status" {
                if FenceSupport.text(text, contains: "power is off") {
                    log.add("chassis power status\(tag): off (\(ms) ms)")
                    return .power(false)
                }
                if FenceSupport.text(text, contains: "power is on") {
                    log.add("chassis power status\(tag): on (\(ms) ms)")
                    return .power(true)
                }
                log.add("chassis power status\(tag): unreadable answer (\(ms) ms): \(FenceSupport.summary(result))")
                return .failure(.failed("unreadable power status: \(FenceSupport.summary(result))"))
            }
            log.add("chassis power \(verb)\(tag): accepted (\(ms) ms)")
            return .accepted
        }
        let summary = FenceSupport.summary(result, limit: 200)
        log.add("chassis power \(verb)\(tag): \(result.termination) (\(ms) ms): \(summary)")
        if FenceSupport.text(all, contains: "unable to read password") {
            return .failure(.failed("cannot read password file \(settings.passwordFile ?? "")"))
        }
        if FenceSupport.text(all, contains: "rakp 2 hmac is invalid") || FenceSupport.text(all, contains: "unauthorized name")
            || FenceSupport.text(all, contains: "invalid user name")
        {
            return .failure(.failed("\(Self.authFailure) (check user/password) at \(target)"))
        }
        if FenceSupport.text(all, contains: "insufficient privilege") || FenceSupport.text(all, contains: "requested privilege level") {
            return .failure(.failed(
                "privilege \(settings.privilege) refused by the BMC at \(target)"))
        }
        if FenceSupport.text(all, contains: "unable to establish") {
            return .failure(.failed(
                "no RMCP+ session with \(target) (cipher suite \(settings.cipherSuite)?): \(summary)"))
        }
        return .failure(.failed("chassis power \(verb) failed at \(target): \(summary)"))
    }

    /// Polls status until the wanted state, within `powerTimeout`.
    private func waitForPower(on wanted: Bool, _ log: inout FenceLog) -> FenceOutcome {
        let start = ProcessSpawn.monotonicNanoseconds()
        let limit = UInt64(max(0, settings.powerTimeout)) * 1_000_000
        var polls = 0
        while true {
            polls += 1
            if case .power(let on) = callOnce("status", attempt: 0, &log), on == wanted {
                log.add("BMC reports power \(wanted ? "on" : "off") after \(polls) poll(s)")
                return log.outcome(wanted ? .reportedOn : .confirmedOff)
            }
            let waited = ProcessSpawn.monotonicNanoseconds() &- start
            if waited >= limit { break }
            let left = Int((limit - waited) / 1_000_000)
            FenceSupport.sleep(milliseconds: min(settings.pollInterval, left))
        }
        return log.outcome(.timeout(
            "BMC at \(target) did not report power \(wanted ? "on" : "off") within \(settings.powerTimeout) ms"))
    }
}
