// The typed model of shaolin's configuration file (/etc/shaolin/shaolin.toml).
//
// `Configuration.load(_:)` parses and validates a file, collecting every error and warning
// with its key path and line (see ConfigurationDecoder.swift); `clusterParameters()` hands
// the state machine its numbers; `effectiveText()` prints the file with all defaults
// filled in (ConfigurationText.swift). Every key is described in docs/configuration.md.

/// A problem that makes a configuration unusable, with the key it concerns and its line.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Line of the offending key (or of its table when the key is missing); nil when
    /// neither is in the file.
    public var line: Int?
    /// Column, only for syntax errors.
    public var column: Int?
    /// Dotted key path such as `timing.deadtime_ms` or `link[1].baud`; empty for syntax errors.
    public var keyPath: String
    public var message: String

    public init(line: Int?, column: Int? = nil, keyPath: String, message: String) {
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    /// "line 14: timing.deadtime_ms: must be more than 2 x keepalive_ms (100), got 150".
    public var description: String { formatDiagnostic(line: line, column: column, keyPath: keyPath, message: message) }
}

/// A legal but risky setting, with the key it concerns and its line.
public struct ConfigWarning: Sendable, Equatable, CustomStringConvertible {
    public var line: Int?
    public var keyPath: String
    public var message: String

    public init(line: Int?, keyPath: String, message: String) {
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String { formatDiagnostic(line: line, column: nil, keyPath: keyPath, message: message) }
}

func formatDiagnostic(line: Int?, column: Int?, keyPath: String, message: String) -> String {
    var out = ""
    if let line {
        out += "line \(line)"
        if let column { out += ", column \(column)" }
        out += ": "
    }
    if !keyPath.isEmpty { out += keyPath + ": " }
    return out + message
}

/// All errors of a rejected file (in file order), plus the warnings found on the way.
public struct ConfigurationErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [ConfigError]
    public var warnings: [ConfigWarning]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// The outcome of reading a configuration file: a configuration when there is no error,
/// and every error and warning found, sorted by line.
public struct ConfigurationLoad: Sendable {
    public var configuration: Configuration?
    public var errors: [ConfigError]
    public var warnings: [ConfigWarning]
}

/// shaolin's configuration: every setting of the file with defaults resolved.
///
/// Values are stored as written in the file (milliseconds as `Int64`, names as strings);
/// per-link timings are stored resolved (a link without its own `keepalive_ms` holds the
/// `[timing]` value), so `effectiveText()` re-parses to an equal configuration.
public struct Configuration: Sendable, Equatable {
    public struct Cluster: Sendable, Equatable {
        public var id: UInt32
        public var keyFile: String
        public var bootOrder: BootOrder
        /// "" for none, else the name of this node or of the peer.
        public var preferredNode: String
        public var failbackDelayMs: Int64
        public var minAliveLinks: Int
    }

    /// This machine (`[node]`) or the other one (`[peer]`).
    public struct Node: Sendable, Equatable {
        public var name: String
        public var id: UInt16
        public var priority: UInt8
    }

    /// `[timing]`: link timing defaults and the global timers, resolved.
    public struct Timing: Sendable, Equatable {
        public var keepaliveMs: Int64
        public var deadtimeMs: Int64
        public var warntimeMs: Int64
        public var startupTimeoutMs: Int64
        public var syncTimeoutMs: Int64
        public var takeoverTimeoutMs: Int64
        /// nil: `ClusterParameters` computes it from the shortest keepalive.
        public var stallThresholdMs: Int64?
        public var stallGraceMs: Int64?
    }

    /// A link peer address: one station or every station on the segment.
    public enum PeerAddress: Sendable, Equatable, CustomStringConvertible {
        case broadcast
        case mac(MACAddress)
        public var description: String {
            switch self {
            case .broadcast: return "broadcast"
            case .mac(let m): return m.description
            }
        }
    }

    public struct Ethernet: Sendable, Equatable {
        public var interface: String
        public var peer: PeerAddress
        public var ethertype: UInt16
    }

    public struct Serial: Sendable, Equatable {
        public var device: String
        public var baud: Int
        public var flowControl: Bool
    }

    public enum LinkKind: Sendable, Equatable {
        case ethernet(Ethernet)
        case serial(Serial)
        public var typeName: String {
            switch self {
            case .ethernet: return "ethernet"
            case .serial: return "serial"
            }
        }
    }

    /// One `[[link]]`; its link id is its index in `links`.
    public struct Link: Sendable, Equatable {
        public var name: String
        public var critical: Bool
        public var keepaliveMs: Int64
        public var deadtimeMs: Int64
        public var warntimeMs: Int64
        public var kind: LinkKind
    }

    public enum FenceMethod: String, Sendable, Equatable, CaseIterable {
        case ipmi
        case fenceAgent = "fence-agent"
        case command
        case manual
    }

    public enum IPMIPrivilege: String, Sendable, Equatable, CaseIterable {
        case callback, user, `operator`, admin
    }

    public enum IPMIAction: String, Sendable, Equatable, CaseIterable {
        case off, reset, cycle
    }

    public struct IPMI: Sendable, Equatable {
        public var host: String
        public var port: UInt16
        public var user: String
        /// Exactly one of `passwordFile` and `passwordEnv` is set.
        public var passwordFile: String?
        public var passwordEnv: String?
        public var cipherSuite: Int
        public var privilege: IPMIPrivilege
        public var action: IPMIAction
        public var timeoutMs: Int64
        public var retries: Int
        public var powerTimeoutMs: Int64
    }

    /// One `name = "value"` option passed to a fence agent, in file order.
    public struct AgentOption: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public struct FenceAgent: Sendable, Equatable {
        public var path: String
        public var options: [AgentOption]
        public var timeoutMs: Int64
    }

    public struct FenceCommand: Sendable, Equatable {
        public var path: String
        public var args: [String]
        public var timeoutMs: Int64
    }

    public struct Fencing: Sendable, Equatable {
        public var methods: [FenceMethod]
        public var raceDelayMs: Int64
        public var retryInitialMs: Int64
        public var retryMaxMs: Int64
        public var ipmi: IPMI?
        public var agent: FenceAgent?
        public var command: FenceCommand?
    }

    /// `[watchdog]`, or `watchdog = "none"`. What "healthy" means for petting is defined in
    /// docs/watchdog.md.
    public struct Watchdog: Sendable, Equatable {
        /// An absolute device path, or "none".
        public var device: String
        public var timeoutS: Int
        /// A wake-up of the real-time loop later than this after its deadline does not pet.
        public var slackMs: Int64
        /// The slow side must advance its heartbeat counter at least this often.
        public var slowSideTimeoutMs: Int64
        /// Pets are at least this far apart (the loop wakes up for them when idle).
        public var petIntervalMs: Int64
        public var isDisabled: Bool { device == "none" }

        public static let defaultDevice = "/dev/watchdog"

        public init(device: String, timeoutS: Int = 10, slackMs: Int64 = 1000, slowSideTimeoutMs: Int64 = 3000,
                    petIntervalMs: Int64 = 1000) {
            self.device = device
            self.timeoutS = timeoutS
            self.slackMs = slackMs
            self.slowSideTimeoutMs = slowSideTimeoutMs
            self.petIntervalMs = petIntervalMs
        }
    }

    public struct Realtime: Sendable, Equatable {
        public var enabled: Bool
        public var priority: Int
        /// -1: no CPU affinity.
        public var cpu: Int
        public var mlock: Bool
        public var allowDegraded: Bool
        /// Whether an arriving frame wakes the heartbeat thread at once (else it reads the
        /// links at its own deadlines only).
        public var wakeOnFrames: Bool = false
    }

    public struct Control: Sendable, Equatable {
        public var socket: String
        /// "" when off, else "ADDR:PORT".
        public var tcpListen: String
        /// Besides root, members of this group (name or numeric gid) may use the Unix
        /// socket; "" = root only.
        public var group: String = ""
    }

    public enum LogTarget: String, Sendable, Equatable, CaseIterable {
        case auto, journal, kmsg, stderr
    }

    public enum LogLevel: String, Sendable, Equatable, CaseIterable {
        case debug, info, notice, warning, error
    }

    public struct Log: Sendable, Equatable {
        public var target: LogTarget
        public var level: LogLevel
    }

    public var cluster: Cluster
    public var node: Node
    public var peer: Node
    public var timing: Timing
    public var links: [Link]
    public var fencing: Fencing
    public var watchdog: Watchdog
    public var realtime: Realtime
    public var control: Control
    public var log: Log
    /// `[aac]` and its `[[aac.rule]]`s (Application Availability Control); no rules when absent.
    public var aac: AAC = AAC()

    /// Approximate size of one heartbeat frame on a serial line, in bytes (framing,
    /// header, payload and HMAC). Used to warn when a serial link's keepalive is too short
    /// for its baud rate.
    public static let serialFrameWireBytes = 90

    /// The longest deadtime of all links, in milliseconds.
    public var longestDeadtimeMs: Int64 { links.map(\.deadtimeMs).max() ?? timing.deadtimeMs }

    /// The numbers the cluster state machine runs with.
    public func clusterParameters() -> ClusterParameters {
        let linkParameters = links.enumerated().map { i, l in
            LinkParameters(
                id: UInt8(truncatingIfNeeded: i), keepalive: .ms(l.keepaliveMs), deadtime: .ms(l.deadtimeMs),
                warntime: .ms(l.warntimeMs), critical: l.critical)
        }
        let preferred: UInt16? =
            cluster.preferredNode.isEmpty ? nil
            : cluster.preferredNode == node.name ? node.id
            : cluster.preferredNode == peer.name ? peer.id : nil
        return ClusterParameters(
            clusterID: cluster.id, localNodeID: node.id, peerNodeID: peer.id,
            localPriority: node.priority, peerPriority: peer.priority, bootOrder: cluster.bootOrder,
            links: linkParameters, minAliveLinks: cluster.minAliveLinks,
            startupTimeout: .ms(timing.startupTimeoutMs), syncTimeout: .ms(timing.syncTimeoutMs),
            takeoverRequestTimeout: .ms(timing.takeoverTimeoutMs), fenceRaceDelay: .ms(fencing.raceDelayMs),
            fenceRetryInitial: .ms(fencing.retryInitialMs), fenceRetryMax: .ms(fencing.retryMaxMs),
            stallThreshold: timing.stallThresholdMs.map { .ms($0) },
            stallGraceMargin: timing.stallGraceMs.map { .ms($0) },
            preferredNodeID: preferred, failbackDelay: .ms(cluster.failbackDelayMs))
    }
}

/// A 48-bit Ethernet address.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]

    /// Parses six hex pairs separated consistently by ':' or '-'.
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 17 else { return nil }
        let sep = u[2]
        guard sep == ASCII.colon || sep == ASCII.minus else { return nil }
        var out: [UInt8] = []
        for i in 0..<6 {
            let o = i * 3
            if i > 0 && u[o - 1] != sep { return nil }
            guard let hi = ASCII.hexValue(u[o]), let lo = ASCII.hexValue(u[o + 1]) else { return nil }
            out.append(UInt8(hi << 4 | lo))
        }
        bytes = out
    }

    public var isBroadcast: Bool { bytes.allSatisfy { $0 == 0xFF } }
    public var isMulticast: Bool { (bytes.first ?? 0) & 1 == 1 }
    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// Lower-case, colon separated.
    public var description: String {
        bytes.map { hex2($0).lowercased() }.joined(separator: ":")
    }
}
