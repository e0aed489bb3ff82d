// The Application Availability Control part of the configuration: `[aac]` and its
// `[[aac.rule]]` tables. Decoded and validated in ConfigurationDecoder+AAC.swift; run by
// ShaolinEngine's AACSupervisor; the agent contract is docs/agents.md.

extension Configuration {
    /// `[aac]`: where agents named without a path live, and the rules.
    public struct AAC: Sendable, Equatable {
        public static let defaultAgentDirectory = "/usr/lib/shaolin/agents"

        /// Directory of agents named without a '/' (the built-in agents are installed here).
        public var agentDirectory: String
        public var rules: [AACRule]

        public init(agentDirectory: String = AAC.defaultAgentDirectory, rules: [AACRule] = []) {
            self.agentDirectory = agentDirectory
            self.rules = rules
        }

        /// The executable of a rule's agent: an absolute path as written, else under `agentDirectory`.
        public func agentPath(of rule: AACRule) -> String {
            rule.agent.utf8.first == 0x2F ? rule.agent : agentDirectory + "/" + rule.agent
        }
    }

    /// One `[[aac.rule]]`: a service watched by an agent on the ACTIVE node.
    public struct AACRule: Sendable, Equatable {
        /// Unique name, `[A-Za-z0-9_.-]{1,32}`; passed to the agent as SHAOLIN_RULE.
        public var name: String
        public var description: String
        /// A built-in agent's name (looked up in `[aac] agent_dir`) or an absolute path.
        public var agent: String
        /// Extra arguments after the action: `agent ACTION args...`.
        public var args: [String]
        /// `[aac.rule.params]`: passed to the agent as SHAOLIN_PARAM_<NAME upper-cased>.
        public var params: [AgentOption]
        /// Time from the start of one check to the start of the next (at least 100 ms).
        public var intervalMs: Int64
        /// Bound of one `monitor` call; the agent's process group is killed when it overruns.
        public var timeoutMs: Int64
        /// After the node becomes ACTIVE (or the rule is enabled), failed checks are not acted
        /// upon for this long, unless a check has succeeded: the boot is still starting services.
        public var startupGraceMs: Int64
        /// Commands run instead of the agent's `start`/`stop`/`restart` action (argv, absolute
        /// program path). nil: the agent's action.
        public var start: [String]?
        public var stop: [String]?
        public var restart: [String]?
        /// Bound of one start, stop or restart.
        public var commandTimeoutMs: Int64
        /// Local restarts allowed within `restartWindowMs` before the rule fails beyond recovery.
        public var maxRestarts: Int
        public var restartWindowMs: Int64
        /// Fail over (hand the ACTIVE role to the peer) when the rule fails beyond recovery.
        public var failover: Bool
        /// The node-level health (hardware watchdog policy) counts this rule's terminal failure.
        public var critical: Bool
        /// Loaded but not checked until enabled at run time.
        public var disabled: Bool

        public init(
            name: String, description: String = "", agent: String, args: [String] = [], params: [AgentOption] = [],
            intervalMs: Int64 = 10_000, timeoutMs: Int64 = 20_000, startupGraceMs: Int64 = 60_000,
            start: [String]? = nil, stop: [String]? = nil, restart: [String]? = nil, commandTimeoutMs: Int64 = 60_000,
            maxRestarts: Int = 3, restartWindowMs: Int64 = 600_000, failover: Bool = true, critical: Bool = false,
            disabled: Bool = false
        ) {
            self.name = name
            self.description = description
            self.agent = agent
            self.args = args
            self.params = params
            self.intervalMs = intervalMs
            self.timeoutMs = timeoutMs
            self.startupGraceMs = startupGraceMs
            self.start = start
            self.stop = stop
            self.restart = restart
            self.commandTimeoutMs = commandTimeoutMs
            self.maxRestarts = maxRestarts
            self.restartWindowMs = restartWindowMs
            self.failover = failover
            self.critical = critical
            self.disabled = disabled
        }

        /// The environment variable a parameter is passed in: SHAOLIN_PARAM_ + upper-cased name.
        public static func environmentName(ofParameter name: String) -> String {
            "SHAOLIN_PARAM_" + String(decoding: name.utf8.map { ASCII.isLetter($0) && $0 >= 0x61 ? $0 - 0x20 : $0 }, as: UTF8.self)
        }
    }
}
