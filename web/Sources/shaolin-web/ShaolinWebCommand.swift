// shaolin-web: the cluster's web console (docs/web-console.md). A separate process that
// talks to the engines only through their control sockets.
//
//   shaolin-web serve --config /etc/shaolin/web.toml
//   shaolin-web hash-password            (reads the password from stdin, prints the hash)
import ArgumentParser
import Glibc
import Hummingbird
import Logging
import NIOCore
import ShaolinWeb

@main
struct ShaolinWebCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shaolin-web",
        abstract: "The shaolin cluster's web console.",
        subcommands: [Serve.self, HashPassword.self, CheckConfig.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the console on the configured address.")

    @Option(name: .long, help: "shaolin-web's configuration file.")
    var config: String = "/etc/shaolin/web.toml"

    func run() async throws {
        let web = try loadWebConfig(config)
        let (audit, note) = AuditLog.standard()
        var logger = Logger(label: "shaolin-web")
        logger.logLevel = .info
        printErr("shaolin-web: \(note)")
        let console = WebConsole(config: web, audit: audit)
        console.monitor.start()
        let scheme = web.tlsEnabled ? "https" : "http"
        let app = try console.application(logger: logger) { channel in
            let port = channel.localAddress?.port ?? web.listenPort
            printErr("shaolin-web: serving \(scheme)://\(web.listenHost.contains(":") ? "[\(web.listenHost)]" : web.listenHost):\(port)/ for \(web.nodes.map { "\($0.name) (\($0.target))" }.joined(separator: ", "))")
        }
        try await app.runService()
        console.monitor.stop()
    }
}

struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a password from stdin and print its hash for [auth] password_hash.",
        discussion: "On a terminal the password is asked for twice without echo. Example: shaolin-web hash-password < password.txt")

    @Option(name: .long, help: "PBKDF2 iterations (work factor).")
    var iterations: Int = PasswordHash.defaultIterations

    func validate() throws {
        guard iterations >= PasswordHash.minimumIterations && iterations <= PasswordHash.maximumIterations else {
            throw ValidationError("--iterations must be from \(PasswordHash.minimumIterations) to \(PasswordHash.maximumIterations)")
        }
    }

    func run() throws {
        let password: String
        if isatty(0) == 1 {
            guard let a = readSecret("Password: "), let b = readSecret("Again: ") else { throw ExitCode(1) }
            guard a == b else { printErr("shaolin-web: the passwords differ"); throw ExitCode(1) }
            password = a
        } else {
            password = readLine(strippingNewline: true) ?? ""
        }
        guard password.count >= 8 else {
            printErr("shaolin-web: use a password of at least 8 characters")
            throw ExitCode(1)
        }
        print(PasswordHash.make(password: password, iterations: iterations))
    }

    func readSecret(_ prompt: String) -> String? {
        printErr(prompt, newline: false)
        var old = termios()
        tcgetattr(0, &old)
        var silent = old
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSANOW, &silent)
        defer { tcsetattr(0, TCSANOW, &old); printErr("") }
        return readLine(strippingNewline: true)
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check shaolin-web's configuration file and exit.")

    @Option(name: .long, help: "shaolin-web's configuration file.")
    var config: String = "/etc/shaolin/web.toml"

    func run() throws {
        let web = try loadWebConfig(config)
        print("\(config): ok (\(web.nodes.count) node(s), listen \(web.listenHost):\(web.listenPort)\(web.tlsEnabled ? ", HTTPS" : ", plain HTTP"))")
    }
}

func loadWebConfig(_ path: String) throws -> WebConfig {
    guard let f = fopen(path, "r") else {
        printErr("shaolin-web: cannot read \(path): \(String(cString: strerror(errno)))")
        throw ExitCode(2)
    }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        bytes += buf[0..<n]
        if bytes.count > 1 << 20 { break }
    }
    fclose(f)
    do {
        return try WebConfig.parse(String(decoding: bytes, as: UTF8.self), path: path)
    } catch {
        printErr("shaolin-web: configuration errors:\n" + error.description)
        throw ExitCode(2)
    }
}

func printErr(_ s: String, newline: Bool = true) {
    var b = Array((s + (newline ? "\n" : "")).utf8)
    _ = b.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
