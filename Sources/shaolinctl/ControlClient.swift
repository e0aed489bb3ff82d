// The client side of the control protocol (docs/control-protocol.md): connect to the Unix
// socket or to a TCP listener (authenticating with the cluster key), send requests, read
// answers. Blocking, with timeouts; one request at a time.
import ArgumentParser
import Glibc
import ShaolinCore
import ShaolinLinux
import SystemPackage

/// Exit codes of shaolinctl (documented in docs/shaolinctl.md).
enum Exit {
    static let ok: Int32 = 0
    /// The engine answered with an error or refused the command.
    static let refused: Int32 = 1
    /// No connection: socket missing, connection refused, timeout, protocol breakage.
    static let unreachable: Int32 = 2
    /// Authentication failed, rate-limited, or permission denied.
    static let denied: Int32 = 3
    /// `--wait`: the expected state was not reached in time.
    static let waitTimedOut: Int32 = 4
}

struct ClientError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    /// The server's error code when the server answered.
    var serverCode: String?
    var details: [String] = []
    var description: String { message }
}

/// Where and how to connect (shared by every subcommand that talks to an engine).
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Unix control socket of the local engine.")
    var socket: String = "/run/shaolin/control.sock"

    @Option(name: .long, help: "Remote engine's address: connect over TCP instead of the Unix socket.")
    var host: String?

    @Option(name: .long, help: "TCP port of the remote engine (with --host).")
    var port: UInt16 = 7650

    @Option(name: .long, help: "Cluster key file, for TCP authentication (with --host).")
    var key: String = "/etc/shaolin/cluster.key"

    @Option(name: .long, help: "Seconds to wait for the engine's answers.")
    var timeout: Double = 10

    @Flag(name: .long, help: "Print the engine's answer as JSON (one line) instead of text.")
    var json = false

    var target: String { host.map { "\($0):\(port)" } ?? socket }

    func connect() throws(ClientError) -> ControlClient {
        try ControlClient.connect(self)
    }
}

final class ControlClient {
    let fd: FileDescriptor
    let timeoutMs: Int
    var buffer: [UInt8] = []
    var nextID: Int64 = 1
    /// The server's hello.
    var hello: JSONValue = .null
    let target: String

    init(fd: FileDescriptor, timeoutMs: Int, target: String) {
        self.fd = fd
        self.timeoutMs = timeoutMs
        self.target = target
    }

    deinit { StreamSocket.close(fd) }

    var nodeName: String { hello["node"]?.stringValue ?? "?" }

    static func connect(_ o: ConnectionOptions) throws(ClientError) -> ControlClient {
        let ms = Int(max(0.1, o.timeout) * 1000)
        let fd: FileDescriptor
        if let host = o.host {
            do {
                guard let f = try StreamSocket.connectTCP(host: host, port: o.port, timeoutMilliseconds: Int32(min(ms, 30_000))) else {
                    throw ClientError(code: Exit.unreachable, message: "cannot resolve host \(host)")
                }
                fd = f
            } catch let e as ClientError {
                throw e
            } catch {
                throw ClientError(code: Exit.unreachable, message: "cannot connect to \(host):\(o.port): \(error)")
            }
        } else {
            do { fd = try StreamSocket.connectUnix(path: o.socket) } catch {
                var hint = ""
                if error == .noSuchFileOrDirectory || error == .connectionRefused { hint = " (is shaolind running? is [control] socket set to another path?)" }
                if error == .permissionDenied { hint = " (the control socket is for root and the configured group)" }
                throw ClientError(code: error == .permissionDenied ? Exit.denied : Exit.unreachable,
                                  message: "cannot connect to \(o.socket): \(error)\(hint)")
            }
        }
        StreamSocket.setTimeouts(fd, milliseconds: ms)
        let c = ControlClient(fd: fd, timeoutMs: ms, target: o.target)
        let hello = try c.readMessage()
        if hello["ok"]?.boolValue == false { throw c.serverError(hello) }
        guard hello["type"]?.stringValue == "hello" else {
            throw ClientError(code: Exit.unreachable, message: "\(o.target) did not greet with a shaolin hello")
        }
        c.hello = hello
        if hello["auth"]?.stringValue == "hmac-sha256" {
            try c.authenticate(keyFile: o.key)
        }
        return c
    }

    func authenticate(keyFile: String) throws(ClientError) {
        guard let challengeHex = hello["challenge"]?.stringValue, let challenge = Hex.decode(challengeHex) else {
            throw ClientError(code: Exit.unreachable, message: "the server's hello has no valid challenge")
        }
        let key: ClusterKey
        do {
            guard let bytes = readFile(keyFile) else {
                throw ClientError(code: Exit.denied, message: "cannot read key file \(keyFile): \(String(cString: strerror(errno)))")
            }
            key = try ClusterKey.parse(fileContents: bytes)
        } catch let e as ClientError {
            throw e
        } catch {
            throw ClientError(code: Exit.denied, message: "key file \(keyFile): \(error)")
        }
        var nonce = [UInt8](repeating: 0, count: ControlProtocol.nonceBytes)
        let rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard rfd >= 0, read(rfd, &nonce, nonce.count) == nonce.count else {
            throw ClientError(code: Exit.unreachable, message: "cannot read /dev/urandom")
        }
        Glibc.close(rfd)
        let mac = ControlAuthProof.client(key: key.bytes, challenge: challenge, clientNonce: nonce)
        let result = try call(.auth(clientNonce: nonce, mac: mac))
        guard let s = result["server_mac"]?.stringValue, let serverMac = Hex.decode(s),
              ControlAuthProof.equal(serverMac, ControlAuthProof.server(key: key.bytes, challenge: challenge, clientNonce: nonce)) else {
            throw ClientError(code: Exit.denied, message: "the server did not prove it knows the cluster key: not talking to it")
        }
    }

    /// Sends one request and returns its `result`, or throws the server's error.
    func call(_ op: ControlOperation) throws(ClientError) -> JSONValue {
        let id = nextID
        nextID += 1
        try send(ControlRequest(id: .int(id), operation: op).encode() + "\n")
        while true {
            let m = try readMessage()
            if let got = m["id"], got != .int(id) { continue }  // not ours (cannot happen with one request at a time)
            if m["ok"]?.boolValue == true { return m["result"] ?? .null }
            throw serverError(m)
        }
    }

    func serverError(_ m: JSONValue) -> ClientError {
        let code = m["error"]?["code"]?.stringValue ?? "unknown"
        let message = m["error"]?["message"]?.stringValue ?? m.compact
        let details = m["error"]?["details"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let exit: Int32
        switch code {
        case "auth_failed", "auth_required", "rate_limited", "permission_denied": exit = Exit.denied
        case "too_many_connections", "timeout", "slow_client": exit = Exit.unreachable
        default: exit = Exit.refused
        }
        return ClientError(code: exit, message: message, serverCode: code, details: details)
    }

    func send(_ text: String) throws(ClientError) {
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.send(fd.rawValue, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClientError(code: Exit.unreachable, message: "\(target): send failed: \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    /// Reads one JSON line.
    func readMessage() throws(ClientError) -> JSONValue {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                do {
                    return try JSONValue.parse(bytes: line, limits: JSONLimits(maxBytes: 64 << 20, maxDepth: 32, maxStringBytes: 1 << 20, maxMembers: 100_000))
                } catch {
                    throw ClientError(code: Exit.unreachable, message: "\(target) sent an unreadable answer: \(error)")
                }
            }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                if buffer.count > 64 << 20 { throw ClientError(code: Exit.unreachable, message: "\(target): answer too long") }
                continue
            }
            if n == 0 { throw ClientError(code: Exit.unreachable, message: "\(target) closed the connection") }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                throw ClientError(code: Exit.unreachable, message: "\(target) did not answer within \(timeoutMs / 1000) s")
            }
            throw ClientError(code: Exit.unreachable, message: "\(target): read failed: \(String(cString: strerror(errno)))")
        }
    }
}

func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { Glibc.close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &chunk, 4096)
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { return out }
        out.append(contentsOf: chunk[0..<n])
        if out.count > 1 << 20 { return nil }
    }
}

/// Writes to stderr.
func printError(_ s: String) {
    var b = Array((s + "\n").utf8)
    _ = b.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// Runs `body`, turning a ClientError into its message and exit code.
func runClient(_ o: ConnectionOptions, _ body: () throws(ClientError) -> Void) throws {
    do {
        try body()
    } catch {
        if o.json {
            var m: [(String, JSONValue)] = [("ok", .bool(false)), ("code", .string(error.serverCode ?? "client")), ("message", .string(error.message))]
            if !error.details.isEmpty { m.append(("details", .array(error.details.map { .string($0) }))) }
            print(JSONValue.object(m).compact)
        } else {
            printError("shaolinctl: \(error.message)")
            for d in error.details { printError("  \(d)") }
        }
        throw ExitCode(error.code)
    }
}
