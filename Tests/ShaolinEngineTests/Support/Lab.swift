// Test harness around tools/lab.sh: a real two-node cluster (two network namespaces, a veth
// pair, a socat pty pair) running the release shaolind, observed through its status files.
import Foundation
import Testing

struct LabStatus {
    var role: String
    var epoch: Int
    var reason: String
    var peerAlive: Bool
    var stalls: Int
    var links: [[String: Any]]
    var fenceFailures: Int
    var watchdog: [String: Any]

    init?(json data: Data) {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let role = o["role"] as? String else { return nil }
        self.role = role
        epoch = o["epoch"] as? Int ?? 0
        reason = o["reason"] as? String ?? ""
        peerAlive = (o["peer"] as? [String: Any])?["alive"] as? Bool ?? false
        stalls = o["stalls"] as? Int ?? 0
        links = o["links"] as? [[String: Any]] ?? []
        fenceFailures = (o["fence"] as? [String: Any])?["failures"] as? Int ?? 0
        watchdog = o["watchdog"] as? [String: Any] ?? [:]
    }

    func link(_ name: String) -> [String: Any]? { links.first { $0["name"] as? String == name } }
    func rejected(_ name: String) -> [String: Int] { link(name)?["rejected"] as? [String: Int] ?? [:] }
}

final class Lab {
    static let repo: URL = {
        var u = URL(fileURLWithPath: #filePath)
        while u.path != "/" {
            u.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) { return u }
        }
        return u
    }()

    /// The shaolind next to the running test binary (same build configuration).
    static let shaolind: String = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        while dir.path != "/" {
            let c = dir.appendingPathComponent("shaolind").path
            if FileManager.default.isExecutableFile(atPath: c) { return c }
            dir.deleteLastPathComponent()
        }
        return repo.appendingPathComponent(".build/release/shaolind").path
    }()

    let id: String
    let dir: String
    var env: [String: String]

    init(_ name: String, env extra: [String: String] = [:]) {
        id = "\(name.prefix(4))\(getpid() % 10000)"
        dir = "/tmp/shaolin-lab-\(id)"
        env = ProcessInfo.processInfo.environment
        env["LAB_ID"] = id
        env["LAB_DIR"] = dir
        env["SHAOLIND"] = Lab.shaolind
        for (k, v) in extra { env[k] = v }
    }

    /// Runs a program and waits for it with waitpid (not Foundation's Process: the threads
    /// Swift Testing runs on block SIGCHLD, and Process then never sees its child exit).
    /// Output goes to a file, not a pipe, so background children cannot hold it open.
    func spawn(_ argv: [String]) throws -> (Int32, String) {
        let outPath = "/tmp/shaolin-lab-\(id).\(UInt32.random(in: 0...UInt32.max)).out"
        let pid = try TestSystem.spawnBackground(argv[0], Array(argv.dropFirst()), log: outPath,
                                                 environment: env.map { "\($0.key)=\($0.value)" })
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: outPath)
        let exited = (status & 0x7f) == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), text)
    }

    @discardableResult
    func sh(_ args: [String], check: Bool = true) throws -> String {
        let (code, text) = try spawn(["/bin/bash", Lab.repo.appendingPathComponent("tools/lab.sh").path] + args)
        if check && code != 0 {
            throw LabError("tools/lab.sh \(args.joined(separator: " ")) failed (\(code)): \(text)")
        }
        return text
    }

    func run(_ cmd: String) throws {
        let (code, text) = try spawn(["/bin/sh", "-c", cmd])
        if code != 0 { throw LabError("command failed (\(code)): \(cmd)\n\(text)") }
    }

    func up(keepalive: Int = 100, deadtime: Int = 600) throws { try sh(["up", "\(keepalive)", "\(deadtime)"]) }

    /// Sets the impairment relay's settings (labs made with `env: ["RELAY": "1"]`), replacing the
    /// previous ones; returns once the relay has applied them. Specs as in tools/impair.py,
    /// e.g. "eth both delay=5 jitter=1", "serial a2b garbage=10". No spec clears them.
    func impair(_ specs: String...) throws { try sh(["impair"] + specs) }

    /// The relay's counters: ["eth"|"serial"]["a2b"|"b2a"]["received"|"forwarded"|"dropped"|...].
    func relayStats() -> [String: [String: [String: Any]]] {
        guard let d = FileManager.default.contents(atPath: "\(dir)/impair.json"),
              let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return [:] }
        var out: [String: [String: [String: Any]]] = [:]
        for link in ["eth", "serial"] { out[link] = o[link] as? [String: [String: Any]] ?? [:] }
        return out
    }

    func relayCount(_ link: String, _ direction: String, _ key: String) -> Int {
        relayStats()[link]?[direction]?[key] as? Int ?? 0
    }
    func down() { _ = try? sh(["down"], check: false) }

    func status(_ node: String) -> LabStatus? {
        guard let d = FileManager.default.contents(atPath: "\(dir)/\(node).status.json") else { return nil }
        return LabStatus(json: d)
    }

    func role(_ node: String) -> String? { isRunning(node) ? status(node)?.role : nil }

    func pid(_ node: String) -> Int32? {
        guard let s = try? String(contentsOfFile: "\(dir)/\(node).pid", encoding: .utf8) else { return nil }
        return Int32(s.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func isRunning(_ node: String) -> Bool {
        guard let p = pid(node) else { return false }
        return kill(p, 0) == 0 && !isZombie(p)
    }

    func isZombie(_ pid: Int32) -> Bool {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return s.contains(") Z ")
    }

    func signal(_ node: String, _ sig: Int32) { if let p = pid(node) { kill(p, sig) } }

    /// Monotonic stamps (µs) of the lines of a node's log carrying `event` (and `extra`).
    func stamps(_ node: String, _ event: String, _ extra: String = "") -> [Int64] {
        log(node).split(separator: "\n").filter { $0.contains("SHAOLIN_EVENT=\(event) ") && (extra.isEmpty || $0.contains(extra)) }.compactMap { line in
            guard let r = line.range(of: "SHAOLIN_MONOTONIC_US=") else { return nil }
            return Int64(line[r.upperBound...].prefix { $0.isNumber })
        }
    }

    func log(_ node: String) -> String { (try? String(contentsOfFile: "\(dir)/\(node).log", encoding: .utf8)) ?? "" }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass. Returns the time it took.
    @discardableResult
    func wait(_ seconds: Double, _ what: String, _ condition: () -> Bool) throws -> Double {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if condition() { return Date().timeIntervalSince(start) }
            usleep(20_000)
        }
        throw LabError("timed out after \(seconds) s waiting for: \(what)\n--- A.log\n\(log("A").suffix(3000))\n--- B.log\n\(log("B").suffix(3000))")
    }

    /// Roles of both nodes (nil when not running).
    var roles: (String?, String?) { (role("A"), role("B")) }
}

struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
