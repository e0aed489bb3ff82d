// The client side of the control protocol (docs/control-protocol.md), shared by shaolinctl and
// the web console: connect to an engine's Unix socket or to its TCP listener (authenticating
// with the cluster key, and checking that the server knows it too), send requests, read the
// answers. Blocking, with a timeout on every read and write; one request at a time.
import Glibc
import ShaolinCore
import ShaolinLinux
import SystemPackage

/// Where an engine's control interface is.
public enum ControlEndpoint: Sendable, Equatable {
    /// The local engine's Unix socket (permissions decide who may connect).
    case unix(path: String)
    /// A TCP listener; the client proves it knows the cluster key in `keyFile`.
    case tcp(host: String, port: UInt16, keyFile: String)

    /// The endpoint as operators write it: the socket path, or `host:port`.
    public var target: String {
        switch self {
        case .unix(let path): path
        case .tcp(let host, let port, _): "\(host):\(port)"
        }
    }
}

/// Why a request did not get a successful answer.
public struct ControlFailure: Error, Sendable, CustomStringConvertible {
    /// The engine's error code (`refused`, `invalid_config`, `auth_failed`, … see
    /// docs/control-protocol.md) when `fromServer`; otherwise the client's own:
    /// `unreachable` (no connection, connection lost), `timeout` (no answer in time),
    /// `protocol` (not a shaolin engine, unreadable answer), `permission_denied` (the socket's
    /// permissions), `key_unreadable` (the cluster key file), `auth_failed` (the server did not
    /// prove it knows the key).
    public var code: String
    public var message: String
    public var details: [String]
    /// Whether the engine itself answered with this error.
    public var fromServer: Bool

    public init(code: String, message: String, details: [String] = [], fromServer: Bool = false) {
        self.code = code
        self.message = message
        self.details = details
        self.fromServer = fromServer
    }

    public var description: String { "\(code): \(message)" }

    /// Whether the failure is about permission or credentials rather than reachability.
    public var isDenied: Bool {
        ["auth_failed", "auth_required", "rate_limited", "permission_denied", "key_unreadable"].contains(code)
    }

    /// Whether the engine could not be reached or did not answer (as opposed to answering "no").
    public var isUnreachable: Bool {
        fromServer ? ["too_many_connections", "timeout", "slow_client"].contains(code)
                   : ["unreachable", "timeout", "protocol"].contains(code)
    }
}

public final class ControlChannel {
    /// The largest answer line accepted (a `log` tail with many events is the largest).
    public static let maxAnswerBytes = 64 << 20

    let fd: FileDescriptor
    let timeoutMilliseconds: Int
    var buffer: [UInt8] = []
    var nextID: Int64 = 1
    /// `host:port` or the socket path, for messages.
    public let target: String
    /// The server's hello (`node`, `version`, `auth`, …).
    public private(set) var hello: JSONValue = .null

    init(fd: FileDescriptor, target: String, timeoutMilliseconds: Int) {
        self.fd = fd
        self.target = target
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    deinit { StreamSocket.close(fd) }

    /// The engine's node name from its hello.
    public var nodeName: String { hello["node"]?.stringValue ?? "?" }

    /// Connects, reads the hello and, when the server asks for it (TCP), authenticates.
    public static func connect(_ endpoint: ControlEndpoint, timeoutMilliseconds: Int = 10_000) throws(ControlFailure) -> ControlChannel {
        let fd: FileDescriptor
        switch endpoint {
        case .unix(let path):
            do { fd = try StreamSocket.connectUnix(path: path) } catch {
                var hint = ""
                if error == .noSuchFileOrDirectory || error == .connectionRefused { hint = " (is shaolind running? is [control] socket set to another path?)" }
                if error == .permissionDenied { hint = " (the control socket is for root and the configured [control] group)" }
                throw ControlFailure(code: error == .permissionDenied ? "permission_denied" : "unreachable",
                                     message: "cannot connect to \(path): \(error)\(hint)")
            }
        case .tcp(let host, let port, _):
            do {
                guard let f = try StreamSocket.connectTCP(host: host, port: port, timeoutMilliseconds: Int32(min(timeoutMilliseconds, 30_000))) else {
                    throw ControlFailure(code: "unreachable", message: "cannot resolve host \(host)")
                }
                fd = f
            } catch let e as ControlFailure {
                throw e
            } catch {
                throw ControlFailure(code: "unreachable", message: "cannot connect to \(host):\(port): \(error)")
            }
        }
        StreamSocket.setTimeouts(fd, milliseconds: timeoutMilliseconds)
        let c = ControlChannel(fd: fd, target: endpoint.target, timeoutMilliseconds: timeoutMilliseconds)
        let hello = try c.readMessage()
        if hello["ok"]?.boolValue == false { throw c.serverFailure(hello) }
        guard hello["type"]?.stringValue == "hello" else {
            throw ControlFailure(code: "protocol", message: "\(c.target) did not greet with a shaolin hello")
        }
        c.hello = hello
        if hello["auth"]?.stringValue == "hmac-sha256" {
            guard case .tcp(_, _, let keyFile) = endpoint else {
                throw ControlFailure(code: "protocol", message: "\(c.target) asks for authentication on a Unix socket")
            }
            try c.authenticate(keyFile: keyFile)
        }
        return c
    }

    /// One request on a fresh connection.
    public static func once(_ endpoint: ControlEndpoint, _ op: ControlOperation, timeoutMilliseconds: Int = 10_000) throws(ControlFailure) -> JSONValue {
        try connect(endpoint, timeoutMilliseconds: timeoutMilliseconds).call(op)
    }

    /// The mutual HMAC proof of docs/control-protocol.md: we answer the server's challenge,
    /// and accept the server only if it proves it knows the key as well.
    func authenticate(keyFile: String) throws(ControlFailure) {
        guard let challengeHex = hello["challenge"]?.stringValue, let challenge = Hex.decode(challengeHex) else {
            throw ControlFailure(code: "protocol", message: "the hello of \(target) has no valid challenge")
        }
        guard let bytes = Self.readSmallFile(keyFile) else {
            throw ControlFailure(code: "key_unreadable", message: "cannot read the cluster key file \(keyFile): \(Errno(rawValue: errno))")
        }
        let key: ClusterKey
        do { key = try ClusterKey.parse(fileContents: bytes) } catch {
            throw ControlFailure(code: "key_unreadable", message: "cluster key file \(keyFile): \(error)")
        }
        let nonce = SecureRandom.bytes(ControlProtocol.nonceBytes)
        let result = try call(.auth(clientNonce: nonce, mac: ControlAuthProof.client(key: key.bytes, challenge: challenge, clientNonce: nonce)))
        guard let s = result["server_mac"]?.stringValue, let serverMac = Hex.decode(s),
              ControlAuthProof.equal(serverMac, ControlAuthProof.server(key: key.bytes, challenge: challenge, clientNonce: nonce)) else {
            throw ControlFailure(code: "auth_failed", message: "\(target) did not prove it knows the cluster key: not talking to it")
        }
    }

    /// Sends one request and returns its `result`, or throws the engine's error.
    public func call(_ op: ControlOperation) throws(ControlFailure) -> JSONValue {
        let id = nextID
        nextID += 1
        try send(ControlRequest(id: .int(id), operation: op).encode() + "\n")
        while true {
            let m = try readMessage()
            if let got = m["id"], got != .int(id) { continue }  // not ours (cannot happen with one request at a time)
            if m["ok"]?.boolValue == true { return m["result"] ?? .null }
            throw serverFailure(m)
        }
    }

    func serverFailure(_ m: JSONValue) -> ControlFailure {
        ControlFailure(code: m["error"]?["code"]?.stringValue ?? "unknown",
                       message: m["error"]?["message"]?.stringValue ?? m.compact,
                       details: m["error"]?["details"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                       fromServer: true)
    }

    func send(_ text: String) throws(ControlFailure) {
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.send(fd.rawValue, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ControlFailure(code: "unreachable", message: "\(target): send failed: \(Errno(rawValue: errno))")
            }
            off += n
        }
    }

    /// Reads one JSON line.
    func readMessage() throws(ControlFailure) -> JSONValue {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                do {
                    return try JSONValue.parse(bytes: line, limits: JSONLimits(maxBytes: Self.maxAnswerBytes, maxDepth: 32,
                                                                               maxStringBytes: 1 << 20, maxMembers: 100_000))
                } catch {
                    throw ControlFailure(code: "protocol", message: "\(target) sent an unreadable answer: \(error)")
                }
            }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                if buffer.count > Self.maxAnswerBytes { throw ControlFailure(code: "protocol", message: "\(target): answer too long") }
                continue
            }
            if n == 0 { throw ControlFailure(code: "unreachable", message: "\(target) closed the connection") }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                throw ControlFailure(code: "timeout", message: "\(target) did not answer within \(Double(timeoutMilliseconds) / 1000) s")
            }
            throw ControlFailure(code: "unreachable", message: "\(target): read failed: \(Errno(rawValue: errno))")
        }
    }

    /// A key file: small, read whole; nil (errno set) when it cannot be read or is over 64 KiB.
    static func readSmallFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            if out.count > 65_536 { errno = EFBIG; return nil }
        }
    }
}
