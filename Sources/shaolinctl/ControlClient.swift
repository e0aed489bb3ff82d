// shaolinctl's connection options, exit codes and error reporting around the shared control
// client (ShaolinControlClient's ControlChannel, docs/control-protocol.md).
import ArgumentParser
import Glibc
import ShaolinControlClient
import ShaolinCore

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

/// shaolinctl's view of a connection: the shared `ControlChannel`, with failures turned into
/// shaolinctl's messages and exit codes.
final class ControlClient {
    let channel: ControlChannel

    init(_ channel: ControlChannel) { self.channel = channel }

    var nodeName: String { channel.nodeName }

    static func connect(_ o: ConnectionOptions) throws(ClientError) -> ControlClient {
        let endpoint: ControlEndpoint = o.host.map { .tcp(host: $0, port: o.port, keyFile: o.key) } ?? .unix(path: o.socket)
        do {
            return ControlClient(try ControlChannel.connect(endpoint, timeoutMilliseconds: Int(max(0.1, o.timeout) * 1000)))
        } catch {
            throw ClientError(error)
        }
    }

    /// Sends one request and returns its `result`, or throws the server's error.
    func call(_ op: ControlOperation) throws(ClientError) -> JSONValue {
        do { return try channel.call(op) } catch { throw ClientError(error) }
    }
}

extension ClientError {
    init(_ f: ControlFailure) {
        self.init(code: f.isDenied ? Exit.denied : f.isUnreachable || !f.fromServer ? Exit.unreachable : Exit.refused,
                  message: f.message, serverCode: f.fromServer ? f.code : nil, details: f.details)
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
