// The control protocol (docs/control-protocol.md): JSON lines between shaolinctl and the
// engine, over the Unix socket or the authenticated TCP listener. This file holds what both
// ends share: the version, request decoding with clear errors, error codes, and the HMAC
// challenge–response proofs. Pure Swift (no Foundation).

public enum ControlProtocol {
    /// Protocol version; the server's hello and every response carry it as `"v"`.
    public static let version: Int64 = 1
    /// The longest request line the server accepts, newline excluded.
    public static let maxRequestBytes = 16_384
    /// The most log lines one `log` request returns.
    public static let maxLogLines = 1_000
    /// Length of the server challenge and client nonce, in bytes (hex on the wire: twice that).
    public static let nonceBytes = 32

    public static let jsonLimits = JSONLimits(maxBytes: maxRequestBytes, maxDepth: 8, maxStringBytes: 4_096, maxMembers: 32)
}

/// Machine-readable error codes (stable: scripts match on them).
public enum ControlErrorCode: String, Sendable, CaseIterable {
    /// The line is not valid JSON.
    case parseError = "parse_error"
    /// The line is longer than `maxRequestBytes`.
    case lineTooLong = "line_too_long"
    /// Valid JSON, but not a valid request (missing or mistyped member, unknown member).
    case badRequest = "bad_request"
    case unknownOp = "unknown_op"
    case unsupportedVersion = "unsupported_version"
    /// TCP: a request before `auth` succeeded.
    case authRequired = "auth_required"
    case authFailed = "auth_failed"
    /// Too many failed authentications from this address: wait.
    case rateLimited = "rate_limited"
    case tooManyConnections = "too_many_connections"
    /// Unix socket: the connecting user is neither root nor in the configured group.
    case permissionDenied = "permission_denied"
    /// The client sent more than the server will buffer without reading the answers.
    case slowClient = "slow_client"
    /// Too many requests waiting for the engine on this connection.
    case busy = "busy"
    /// A command needs `"confirm": true` (fence-confirm).
    case confirmationRequired = "confirmation_required"
    /// The state machine refused the command (the message says why).
    case refused = "refused"
    /// The engine did not answer in time.
    case timeout = "timeout"
    case noSuchRule = "no_such_rule"
    /// `reload`: the file has errors; nothing was changed.
    case invalidConfig = "invalid_config"
    /// The operation is not available on this node (e.g. AAC not configured).
    case unavailable = "unavailable"
    case internalError = "internal"
}

public struct ControlError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ControlErrorCode
    public var message: String
    /// Extra detail (e.g. every configuration error of a rejected reload).
    public var details: [String]
    public init(_ code: ControlErrorCode, _ message: String, details: [String] = []) {
        self.code = code
        self.message = message
        self.details = details
    }
    public var description: String { "\(code.rawValue): \(message)" }
}

/// What a client can ask for.
public enum ControlOperation: Sendable, Equatable {
    /// Proves knowledge of the cluster key (TCP only; the first request there).
    case auth(clientNonce: [UInt8], mac: [UInt8])
    case ping
    case status
    case switchover
    case standby
    case maintenance(Bool)
    /// `confirmed`: the client set `"confirm": true` (the operator vouches the peer is off).
    case fenceConfirm(confirmed: Bool)
    /// `dryRun`: validate and report what would change, apply nothing.
    case reload(dryRun: Bool)
    /// The newest `lines` log lines, or those after sequence number `since`.
    case log(lines: Int, since: UInt64?)
    case rule(action: RuleAction, name: String)
    /// Zero the loop's lateness histograms (wake-up and judged), e.g. after tuning the host;
    /// the answer carries what they held, whole.
    case resetLateness

    /// What an operator can do to an AAC rule (docs/agents.md, "Operator controls").
    public enum RuleAction: String, Sendable, CaseIterable {
        /// Monitor the rule again (checks and automatic restarts).
        case enable
        /// Stop monitoring; the service is left as it is.
        case disable
        /// Run the rule's start action and monitor it again.
        case start
        /// Stop the service through its agent and stop monitoring it (no restart, no failover).
        case stop
        /// Run the restart procedure now.
        case restart
        /// Zero the rule's counters.
        case resetStatistics = "reset-statistics"

        /// The wire names, for messages: "enable, disable, start, stop, restart, reset-statistics".
        public static var list: String { allCases.map(\.rawValue).joined(separator: ", ") }
    }

    /// The wire name of the operation.
    public var name: String {
        switch self {
        case .auth: "auth"
        case .ping: "ping"
        case .status: "status"
        case .switchover: "switchover"
        case .standby: "standby"
        case .maintenance: "maintenance"
        case .fenceConfirm: "fence-confirm"
        case .reload: "reload"
        case .log: "log"
        case .rule: "rule"
        case .resetLateness: "reset-lateness"
        }
    }

    public static let allNames = ["auth", "ping", "status", "switchover", "standby", "maintenance", "fence-confirm", "reload", "log", "rule", "reset-lateness"]
}

/// One decoded request line.
public struct ControlRequest: Sendable, Equatable {
    /// Echoed in the response: a number or a string chosen by the client (nil when absent).
    public var id: JSONValue?
    public var operation: ControlOperation

    public init(id: JSONValue?, operation: ControlOperation) {
        self.id = id
        self.operation = operation
    }

    /// Decodes one line (without its newline). On failure returns the error and, when it
    /// could be read, the request's id so the error response can carry it.
    public static func decode(_ line: UnsafeBufferPointer<UInt8>) -> Result<ControlRequest, RequestDecodeError> {
        let value: JSONValue
        do {
            value = try JSONValue.parse(buffer: line, limits: ControlProtocol.jsonLimits)
        } catch {
            return .failure(RequestDecodeError(id: nil, error: ControlError(.parseError, error.description)))
        }
        return decode(value)
    }

    public static func decode(_ value: JSONValue) -> Result<ControlRequest, RequestDecodeError> {
        guard let members = value.objectValue else {
            return .failure(RequestDecodeError(id: nil, error: ControlError(.badRequest, "a request must be a JSON object, got \(value.typeName)")))
        }
        var id: JSONValue?
        if let i = value["id"] {
            switch i {
            case .int, .string: id = i
            default:
                return .failure(RequestDecodeError(id: nil, error: ControlError(.badRequest, "\"id\" must be a number or a string, got \(i.typeName)")))
            }
        }
        func fail(_ code: ControlErrorCode, _ m: String) -> Result<ControlRequest, RequestDecodeError> {
            .failure(RequestDecodeError(id: id, error: ControlError(code, m)))
        }
        if let v = value["v"] {
            guard let n = v.intValue else { return fail(.badRequest, "\"v\" must be a number, got \(v.typeName)") }
            guard n == ControlProtocol.version else {
                return fail(.unsupportedVersion, "protocol version \(n) is not supported; this server speaks version \(ControlProtocol.version)")
            }
        }
        guard let opValue = value["op"] else { return fail(.badRequest, "missing \"op\" (one of: \(ControlOperation.allNames.joined(separator: ", ")))") }
        guard let op = opValue.stringValue else { return fail(.badRequest, "\"op\" must be a string, got \(opValue.typeName)") }

        var allowed: Set<String> = ["v", "id", "op"]
        let operation: ControlOperation
        switch op {
        case "auth":
            allowed.formUnion(["client_nonce", "mac"])
            guard let n = value["client_nonce"]?.stringValue, let nonce = Hex.decode(n), nonce.count == ControlProtocol.nonceBytes else {
                return fail(.badRequest, "auth needs \"client_nonce\": \(ControlProtocol.nonceBytes * 2) hex digits")
            }
            guard let m = value["mac"]?.stringValue, let mac = Hex.decode(m), mac.count == 32 else {
                return fail(.badRequest, "auth needs \"mac\": 64 hex digits (HMAC-SHA256)")
            }
            operation = .auth(clientNonce: nonce, mac: mac)
        case "ping": operation = .ping
        case "reset-lateness": operation = .resetLateness
        case "status": operation = .status
        case "switchover": operation = .switchover
        case "standby": operation = .standby
        case "maintenance":
            allowed.insert("on")
            guard let on = value["on"] else { return fail(.badRequest, "maintenance needs \"on\": true or false") }
            guard let b = on.boolValue else { return fail(.badRequest, "\"on\" must be true or false, got \(on.typeName)") }
            operation = .maintenance(b)
        case "fence-confirm":
            allowed.insert("confirm")
            var confirmed = false
            if let c = value["confirm"] {
                guard let b = c.boolValue else { return fail(.badRequest, "\"confirm\" must be true or false, got \(c.typeName)") }
                confirmed = b
            }
            operation = .fenceConfirm(confirmed: confirmed)
        case "reload":
            allowed.insert("dry_run")
            var dry = false
            if let d = value["dry_run"] {
                guard let b = d.boolValue else { return fail(.badRequest, "\"dry_run\" must be true or false, got \(d.typeName)") }
                dry = b
            }
            operation = .reload(dryRun: dry)
        case "log":
            allowed.formUnion(["lines", "since"])
            var lines = 50
            if let l = value["lines"] {
                guard let n = l.intValue, n >= 1, n <= Int64(ControlProtocol.maxLogLines) else {
                    return fail(.badRequest, "\"lines\" must be a whole number from 1 to \(ControlProtocol.maxLogLines)")
                }
                lines = Int(n)
            }
            var since: UInt64?
            if let s = value["since"] {
                guard let n = s.intValue, n >= 0 else { return fail(.badRequest, "\"since\" must be a sequence number ≥ 0") }
                since = UInt64(n)
            }
            operation = .log(lines: lines, since: since)
        case "rule":
            allowed.formUnion(["action", "name"])
            guard let a = value["action"]?.stringValue, let action = ControlOperation.RuleAction(rawValue: a) else {
                return fail(.badRequest, "rule needs \"action\": one of \(ControlOperation.RuleAction.list)")
            }
            guard let n = value["name"]?.stringValue, !n.isEmpty else { return fail(.badRequest, "rule needs \"name\": the AAC rule's name") }
            operation = .rule(action: action, name: n)
        default:
            return fail(.unknownOp, "unknown op \"\(op.count > 40 ? String(op.prefix(40)) + "…" : op)\" (one of: \(ControlOperation.allNames.joined(separator: ", ")))")
        }
        for (k, _) in members where !allowed.contains(k) {
            return fail(.badRequest, "unknown member \"\(k.count > 40 ? String(k.prefix(40)) + "…" : k)\" for op \"\(op)\"")
        }
        return .success(ControlRequest(id: id, operation: operation))
    }

    /// The request as one JSON line (without the newline); used by clients.
    public func encode() -> String {
        var m: [(String, JSONValue)] = [("v", .int(ControlProtocol.version))]
        if let id { m.append(("id", id)) }
        m.append(("op", .string(operation.name)))
        switch operation {
        case .auth(let n, let mac):
            m.append(("client_nonce", .string(Hex.encode(n))))
            m.append(("mac", .string(Hex.encode(mac))))
        case .maintenance(let on): m.append(("on", .bool(on)))
        case .fenceConfirm(let c): if c { m.append(("confirm", .bool(true))) }
        case .reload(let d): if d { m.append(("dry_run", .bool(true))) }
        case .log(let lines, let since):
            m.append(("lines", .int(Int64(lines))))
            if let since { m.append(("since", .int(Int64(since)))) }
        case .rule(let a, let n):
            m.append(("action", .string(a.rawValue)))
            m.append(("name", .string(n)))
        case .ping, .status, .switchover, .standby, .resetLateness: break
        }
        return JSONValue.object(m).compact
    }
}

public struct RequestDecodeError: Error, Sendable, Equatable {
    public var id: JSONValue?
    public var error: ControlError
}

/// Response lines.
public enum ControlResponse {
    public static func ok(id: JSONValue?, _ result: JSONValue) -> String {
        var m: [(String, JSONValue)] = [("v", .int(ControlProtocol.version))]
        if let id { m.append(("id", id)) }
        m.append(("ok", .bool(true)))
        m.append(("result", result))
        return JSONValue.object(m).compact + "\n"
    }

    public static func error(id: JSONValue?, _ e: ControlError) -> String {
        var m: [(String, JSONValue)] = [("v", .int(ControlProtocol.version))]
        if let id { m.append(("id", id)) }
        m.append(("ok", .bool(false)))
        var err: [(String, JSONValue)] = [("code", .string(e.code.rawValue)), ("message", .string(e.message))]
        if !e.details.isEmpty { err.append(("details", .array(e.details.map { .string($0) }))) }
        m.append(("error", .object(err)))
        return JSONValue.object(m).compact + "\n"
    }
}

/// HMAC challenge–response over the cluster key (TCP connections).
///
/// The server's hello carries a random challenge C; the client answers with its own random
/// nonce N and `mac = HMAC(key, "shaolin-control-v1 client " + hex(C) + " " + hex(N))`; the
/// server checks it in constant time and proves itself with
/// `server_mac = HMAC(key, "shaolin-control-v1 server " + hex(N) + " " + hex(C))`.
/// Neither side ever sends the key; a recorded exchange cannot be replayed (fresh C each time).
public enum ControlAuthProof {
    public static func client(key: [UInt8], challenge: [UInt8], clientNonce: [UInt8]) -> [UInt8] {
        HMACSHA256(key: key).mac(Array("shaolin-control-v1 client \(Hex.encode(challenge)) \(Hex.encode(clientNonce))".utf8))
    }

    public static func server(key: [UInt8], challenge: [UInt8], clientNonce: [UInt8]) -> [UInt8] {
        HMACSHA256(key: key).mac(Array("shaolin-control-v1 server \(Hex.encode(clientNonce)) \(Hex.encode(challenge))".utf8))
    }

    /// Constant-time comparison of two MACs.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in constantTimeEqual(x, y) } }
    }
}

/// Lower-case hex.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = ASCII.hexValue(u[i]), let l = ASCII.hexValue(u[i + 1]) else { return nil }
            out.append(UInt8(h << 4 | l))
            i += 2
        }
        return out
    }
}
