// A blocking client of the engine's control protocol (docs/control-protocol.md): the web
// console's only way to talk to an engine. Unix socket or authenticated TCP; one request at
// a time; timeouts on every read. Callers run it off the HTTP event loops (see `Blocking`).
import Glibc
import ShaolinCore
import ShaolinLinux
import SystemPackage

public struct ControlFailure: Error, Sendable, CustomStringConvertible {
    /// The engine's error code (`refused`, `invalid_config`, …), or "unreachable" / "protocol".
    public var code: String
    public var message: String
    public var details: [String]
    public init(code: String, message: String, details: [String] = []) {
        self.code = code
        self.message = message
        self.details = details
    }
    public var description: String { "\(code): \(message)" }
}

public final class ControlChannel {
    let fd: FileDescriptor
    let target: String
    var buffer: [UInt8] = []
    var nextID: Int64 = 1
    public private(set) var hello: JSONValue = .null

    init(fd: FileDescriptor, target: String) {
        self.fd = fd
        self.target = target
    }

    deinit { StreamSocket.close(fd) }

    /// Connects, reads the hello and authenticates when the server asks for it (TCP).
    public static func connect(_ node: WebConfig.Node, timeoutMilliseconds: Int = 5_000) throws(ControlFailure) -> ControlChannel {
        let fd: FileDescriptor
        switch node.endpoint {
        case .unix(let path):
            do { fd = try StreamSocket.connectUnix(path: path) } catch {
                throw ControlFailure(code: "unreachable", message: "cannot connect to \(node.name)'s control socket \(path): \(error)")
            }
        case .tcp(let host, let port, _):
            do {
                guard let f = try StreamSocket.connectTCP(host: host, port: port, timeoutMilliseconds: Int32(timeoutMilliseconds)) else {
                    throw ControlFailure(code: "unreachable", message: "cannot resolve \(host)")
                }
                fd = f
            } catch let e as ControlFailure {
                throw e
            } catch {
                throw ControlFailure(code: "unreachable", message: "cannot connect to \(node.name) at \(host):\(port): \(error)")
            }
        }
        StreamSocket.setTimeouts(fd, milliseconds: timeoutMilliseconds)
        let c = ControlChannel(fd: fd, target: node.target)
        let hello = try c.readMessage()
        if hello["ok"]?.boolValue == false { throw c.failure(hello) }
        guard hello["type"]?.stringValue == "hello" else {
            throw ControlFailure(code: "protocol", message: "\(node.target) did not greet with a shaolin hello")
        }
        c.hello = hello
        if hello["auth"]?.stringValue == "hmac-sha256", case .tcp(_, _, let keyFile) = node.endpoint {
            try c.authenticate(keyFile: keyFile)
        }
        return c
    }

    func authenticate(keyFile: String) throws(ControlFailure) {
        guard let ch = hello["challenge"]?.stringValue, let challenge = Hex.decode(ch) else {
            throw ControlFailure(code: "protocol", message: "the hello of \(target) has no valid challenge")
        }
        guard let bytes = readWholeFile(keyFile, limit: 65_536) else {
            throw ControlFailure(code: "unreachable", message: "cannot read the cluster key \(keyFile)")
        }
        let key: ClusterKey
        do { key = try ClusterKey.parse(fileContents: bytes) } catch {
            throw ControlFailure(code: "unreachable", message: "cluster key \(keyFile): \(error)")
        }
        let nonce = SecureRandom.bytes(ControlProtocol.nonceBytes)
        let result = try call(.auth(clientNonce: nonce, mac: ControlAuthProof.client(key: key.bytes, challenge: challenge, clientNonce: nonce)))
        guard let s = result["server_mac"]?.stringValue, let mac = Hex.decode(s),
              ControlAuthProof.equal(mac, ControlAuthProof.server(key: key.bytes, challenge: challenge, clientNonce: nonce)) else {
            throw ControlFailure(code: "auth_failed", message: "\(target) did not prove it knows the cluster key")
        }
    }

    /// Sends one request; returns its `result` or throws the engine's error.
    public func call(_ op: ControlOperation) throws(ControlFailure) -> JSONValue {
        let id = nextID
        nextID += 1
        try send(ControlRequest(id: .int(id), operation: op).encode() + "\n")
        while true {
            let m = try readMessage()
            if let got = m["id"], got != .int(id) { continue }
            if m["ok"]?.boolValue == true { return m["result"] ?? .null }
            throw failure(m)
        }
    }

    func failure(_ m: JSONValue) -> ControlFailure {
        ControlFailure(code: m["error"]?["code"]?.stringValue ?? "protocol",
                       message: m["error"]?["message"]?.stringValue ?? m.compact,
                       details: m["error"]?["details"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }

    func send(_ text: String) throws(ControlFailure) {
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.send(fd.rawValue, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ControlFailure(code: "unreachable", message: "\(target): send failed: \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    func readMessage() throws(ControlFailure) -> JSONValue {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                do {
                    return try JSONValue.parse(bytes: line, limits: JSONLimits(maxBytes: 16 << 20, maxDepth: 32, maxStringBytes: 1 << 20, maxMembers: 100_000))
                } catch {
                    throw ControlFailure(code: "protocol", message: "\(target) sent an unreadable answer: \(error)")
                }
            }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                if buffer.count > 16 << 20 { throw ControlFailure(code: "protocol", message: "\(target): answer too long") }
                continue
            }
            if n == 0 { throw ControlFailure(code: "unreachable", message: "\(target) closed the connection") }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw ControlFailure(code: "timeout", message: "\(target) did not answer in time") }
            throw ControlFailure(code: "unreachable", message: "\(target): read failed: \(String(cString: strerror(errno)))")
        }
    }

    /// One request on a fresh connection (operator actions: rare, so no pooling).
    public static func once(_ node: WebConfig.Node, _ op: ControlOperation, timeoutMilliseconds: Int = 10_000) throws(ControlFailure) -> JSONValue {
        let c = try connect(node, timeoutMilliseconds: timeoutMilliseconds)
        return try c.call(op)
    }
}

/// Reads a whole (small) file; nil when it cannot be read or exceeds `limit` bytes.
func readWholeFile(_ path: String, limit: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { Glibc.close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { return out }
        out.append(contentsOf: chunk[0..<n])
        if out.count > limit { return nil }
    }
}
