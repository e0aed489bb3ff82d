// A site-specific (or test) fence command: exit 0 means the command has made
// sure the peer is off; anything else (another code, a signal, the time
// bound) is a failure carrying the command's output in the reason.
//
// The command gets the request in its environment:
//   SHAOLIN_FENCE_ACTION  off | reset | cycle | on | status
//   SHAOLIN_FENCE_TARGET  the configured target description
// plus the configured extra variables. It is the command's job to confirm
// the peer is off before exiting 0, whatever the action.
import ShaolinLinux

public struct CommandFenceSettings: Sendable, Equatable {
    public var path: String
    public var arguments: [String]
    /// Extra "KEY=VALUE" entries for the command's environment.
    public var environment: [String]
    /// What the command fences, for logs and SHAOLIN_FENCE_TARGET.
    public var target: String
    /// The action a fence sequence uses for this method.
    public var action: FenceAction
    /// Bound on the command, in milliseconds.
    public var timeout: Int

    public init(
        path: String, arguments: [String] = [], environment: [String] = [],
        target: String = "peer", action: FenceAction = .off, timeout: Int = 30000
    ) {
        self.path = path
        self.arguments = arguments
        self.environment = environment
        self.target = target
        self.action = action
        self.timeout = timeout
    }
}

public struct CommandFence: FenceDriver {
    public let settings: CommandFenceSettings

    public init(settings: CommandFenceSettings) { self.settings = settings }

    public var name: String { "command" }
    /// The timeout plus ProcessSpawn's default 500 ms kill grace.
    public var worstCaseMilliseconds: Int { settings.timeout + 500 }
    public var target: String { settings.target }

    public func fence(action: FenceAction) -> FenceOutcome {
        var log = FenceLog()
        log.add("command \(settings.path) action=\(action) target=\(settings.target)")
        let options = SpawnOptions(
            executable: settings.path, arguments: settings.arguments,
            environment: ProcessSpawn.minimalEnvironment + [
                "SHAOLIN_FENCE_ACTION=\(action.rawValue)",
                "SHAOLIN_FENCE_TARGET=\(settings.target)",
            ] + settings.environment,
            timeoutMilliseconds: settings.timeout)
        let result: SpawnResult
        do {
            result = try ProcessSpawn.run(options)
        } catch {
            log.add("\(error)")
            return log.outcome(.failed("\(error)"))
        }
        let ms = Int(result.durationMilliseconds)
        let summary = FenceSupport.summary(result)
        log.add("\(result.termination)\(result.timedOut ? " after timeout" : "") (\(ms) ms): \(summary)")
        if result.timedOut {
            return log.outcome(.timeout(
                "fence command \(settings.path) did not finish within \(settings.timeout) ms; output: \(summary)"))
        }
        if result.succeeded { return log.outcome(.confirmedOff) }
        return log.outcome(.failed(
            "fence command \(settings.path) ended with \(result.termination); output: \(summary)"))
    }
}
