// shaolin-web's own configuration file (docs/web-console.md), TOML read with the core's
// parser. Every problem is reported with its key and line, all at once.
//
//   [web]     listen, tls_certificate, tls_key, max_body_bytes, session_idle_minutes, poll_ms
//   [auth]    user, password_hash
//   [engine]  config_file (the engine configuration the editor edits), initramfs_command
//   [[node]]  name, socket | host + port + key_file   (one per cluster node)
import ShaolinControlClient
import ShaolinCore

public struct WebConfig: Sendable {
    public struct Node: Sendable, Equatable {
        public typealias Endpoint = ControlEndpoint
        public var name: String
        public var endpoint: Endpoint
        /// The node whose configuration file `engine.config_file` is (the first node unless one says `local = true`).
        public var local: Bool
        public init(name: String, endpoint: Endpoint, local: Bool = false) {
            self.name = name
            self.endpoint = endpoint
            self.local = local
        }
        public var target: String { endpoint.target }
    }

    public var listenHost = "127.0.0.1"
    public var listenPort: Int = 8443
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Largest request body accepted (configuration files are the largest legitimate bodies).
    public var maxBodyBytes = 262_144
    public var sessionIdleSeconds = 1_800
    /// How often the dashboard's data is fetched from each node's control socket.
    public var pollMilliseconds = 1_000
    public var user = "admin"
    public var passwordHash: PasswordHash.Parsed
    public var engineConfigFile: String?
    /// The command that rebuilds the boot image after a configuration change (argv; empty: skip).
    public var initramfsCommand: [String] = ["update-initramfs", "-u"]
    public var nodes: [Node]

    public init(passwordHash: PasswordHash.Parsed, nodes: [Node]) {
        self.passwordHash = passwordHash
        self.nodes = nodes
    }

    public var tlsEnabled: Bool { tlsCertificate != nil }
    public var localNode: Node? { nodes.first(where: \.local) ?? nodes.first }

    public struct Errors: Error, CustomStringConvertible {
        public var messages: [String]
        public var description: String { messages.joined(separator: "\n") }
    }

    /// Parses the file's text; throws every problem found.
    public static func parse(_ text: String, path: String = "shaolin-web.toml") throws(Errors) -> WebConfig {
        let root: TOMLTable
        do { root = try TOMLParser.parse(text) } catch {
            throw Errors(messages: ["\(path): line \(error.line), column \(error.column): \(error.message)"])
        }
        var problems: [String] = []
        func problem(_ e: TOMLTable.Entry?, _ key: String, _ m: String) {
            problems.append("\(path): " + (e.map { "line \($0.keyLocation.line): " } ?? "") + "\(key): \(m)")
        }
        func table(_ name: String) -> TOMLTable? {
            guard let e = root[name] else { return nil }
            guard let t = e.value.table else { problem(e, name, "must be a table [\(name)]"); return nil }
            return t
        }
        func checkKeys(_ t: TOMLTable, _ prefix: String, _ allowed: Set<String>) {
            for e in t.entries where !allowed.contains(e.key) {
                problem(e, "\(prefix).\(e.key)", "unknown key (known: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
        func string(_ t: TOMLTable, _ prefix: String, _ key: String) -> String? {
            guard let e = t[key] else { return nil }
            guard let s = e.value.string else { problem(e, "\(prefix).\(key)", "must be a string, got \(e.value.typeName)"); return nil }
            return s
        }
        func int(_ t: TOMLTable, _ prefix: String, _ key: String, _ range: ClosedRange<Int64>) -> Int? {
            guard let e = t[key] else { return nil }
            guard let i = e.value.integer else { problem(e, "\(prefix).\(key)", "must be a whole number, got \(e.value.typeName)"); return nil }
            guard range.contains(i) else { problem(e, "\(prefix).\(key)", "must be from \(range.lowerBound) to \(range.upperBound), got \(i)"); return nil }
            return Int(i)
        }
        for e in root.entries where !["web", "auth", "engine", "node"].contains(e.key) {
            problem(e, e.key, "unknown table (known: [web], [auth], [engine], [[node]])")
        }

        var c = WebConfig(passwordHash: PasswordHash.Parsed(iterations: 0, salt: [], derivedKey: []), nodes: [])
        if let w = table("web") {
            checkKeys(w, "web", ["listen", "tls_certificate", "tls_key", "max_body_bytes", "session_idle_minutes", "poll_ms"])
            if let l = string(w, "web", "listen") {
                if let (h, p) = splitHostPort(l) { c.listenHost = h; c.listenPort = p } else {
                    problem(w["listen"], "web.listen", "must be ADDRESS:PORT (e.g. \"127.0.0.1:8443\" or \"[::1]:8443\"), got \"\(l)\"")
                }
            }
            c.tlsCertificate = string(w, "web", "tls_certificate")
            c.tlsKey = string(w, "web", "tls_key")
            if (c.tlsCertificate == nil) != (c.tlsKey == nil) {
                problem(w["tls_certificate"] ?? w["tls_key"], "web.tls_certificate", "tls_certificate and tls_key go together (PEM files)")
            }
            if let n = int(w, "web", "max_body_bytes", 1_024...16_777_216) { c.maxBodyBytes = n }
            if let n = int(w, "web", "session_idle_minutes", 1...1_440) { c.sessionIdleSeconds = n * 60 }
            if let n = int(w, "web", "poll_ms", 200...60_000) { c.pollMilliseconds = n }
        }
        if let a = table("auth") {
            checkKeys(a, "auth", ["user", "password_hash"])
            if let u = string(a, "auth", "user") {
                if u.isEmpty || u.count > 64 { problem(a["user"], "auth.user", "must be 1 to 64 characters") } else { c.user = u }
            }
            if let h = string(a, "auth", "password_hash") {
                do { c.passwordHash = try PasswordHash.parse(h) } catch { problem(a["password_hash"], "auth.password_hash", error.description) }
            } else {
                problems.append("\(path): auth.password_hash: missing (make one with `shaolin-web hash-password`)")
            }
        } else {
            problems.append("\(path): [auth]: missing (user and password_hash; make the hash with `shaolin-web hash-password`)")
        }
        if let e = table("engine") {
            checkKeys(e, "engine", ["config_file", "initramfs_command"])
            c.engineConfigFile = string(e, "engine", "config_file")
            if let entry = e["initramfs_command"] {
                if let arr = entry.value.array, arr.allSatisfy({ $0.string != nil }) {
                    c.initramfsCommand = arr.compactMap(\.string)
                } else {
                    problem(entry, "engine.initramfs_command", "must be an array of strings (argv), e.g. [\"update-initramfs\", \"-u\"]; [] to skip")
                }
            }
        }
        if let n = root["node"] {
            guard let arr = n.value.array else {
                problem(n, "node", "must be an array of tables [[node]]")
                throw Errors(messages: problems)
            }
            for (i, v) in arr.enumerated() {
                let p = "node[\(i)]"
                guard let t = v.table else { problem(n, p, "must be a table"); continue }
                checkKeys(t, p, ["name", "socket", "host", "port", "key_file", "local"])
                guard let name = string(t, p, "name"), !name.isEmpty else { problems.append("\(path): \(p).name: missing"); continue }
                let local = t["local"]?.value.boolean ?? false
                if let s = string(t, p, "socket") {
                    if t["host"] != nil { problem(t["host"], "\(p).host", "give either socket or host, not both") }
                    c.nodes.append(Node(name: name, endpoint: .unix(path: s), local: local))
                } else if let h = string(t, p, "host") {
                    let port = int(t, p, "port", 1...65_535) ?? 7650
                    let key = string(t, p, "key_file") ?? "/etc/shaolin/cluster.key"
                    c.nodes.append(Node(name: name, endpoint: .tcp(host: h, port: UInt16(port), keyFile: key), local: local))
                } else {
                    problems.append("\(path): \(p): needs socket (the node's control socket) or host (its TCP control listener)")
                }
            }
        }
        if c.nodes.isEmpty && problems.isEmpty {
            problems.append("\(path): [[node]]: at least one node is needed (name and socket, e.g. socket = \"/run/shaolin/control.sock\")")
        }
        if c.nodes.filter(\.local).count > 1 { problems.append("\(path): [[node]]: only one node can be local = true") }
        if Set(c.nodes.map(\.name)).count != c.nodes.count { problems.append("\(path): [[node]]: node names must differ") }
        guard problems.isEmpty else { throw Errors(messages: problems) }
        return c
    }

    static func splitHostPort(_ s: String) -> (String, Int)? {
        var host: Substring
        var portText: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            host = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = s.lastIndex(of: ":") else { return nil }
            host = s[..<colon]
            portText = s[s.index(after: colon)...]
        }
        guard !host.isEmpty, let p = Int(portText), p >= 0, p <= 65_535 else { return nil }
        return (String(host), p)
    }
}
