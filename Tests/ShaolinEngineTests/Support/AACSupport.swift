// Helpers for the AAC tests: a configuration with rules, scripts in a scratch directory, a
// "service" (a detached sleep) started and killed by PID, and polling.
import Foundation
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux

enum AACTest {
    static let agentsDirectory = Lab.repo.appendingPathComponent("agents").path

    /// A configuration whose `[aac]` uses the repository's agents and the given rules text.
    static func configuration(_ rules: String) throws -> Configuration.AAC {
        let text = """
            [cluster]
            id = 42
            [node]
            name = "alpha"
            id = 1
            [peer]
            name = "beta"
            id = 2
            [[link]]
            name = "eth"
            type = "ethernet"
            interface = "eth1"
            peer_mac = "52:54:00:12:34:56"
            [watchdog]
            device = "none"
            [aac]
            agent_dir = "\(agentsDirectory)"

            """ + rules
        let load = Configuration.load(text)
        guard let c = load.configuration else { throw TestFailure.setup("configuration: \(load.errors)") }
        return c.aac
    }

    static func script(_ dir: String, _ name: String, _ body: String) throws -> String {
        let path = "\(dir)/\(name)"
        try TestSystem.write("#!/bin/bash\n" + body, to: path, mode: 0o755)
        return path
    }

    /// A start command for a fake service: a detached `sleep` whose pid goes to `svc.pid` (and
    /// to `all.pids`, for clean-up). With `broken` present it starts nothing.
    static func serviceStartScript(_ dir: String) throws -> String {
        try script(dir, "start-service", """
            [ -e "\(dir)/broken" ] && { echo "service is broken: not starting"; exit 0; }
            setsid sleep 1000 </dev/null >/dev/null 2>&1 &
            pid=$!
            echo $pid >> "\(dir)/all.pids"
            # A start returns once the service runs: wait for the exec of sleep (bounded).
            for _ in $(seq 1 200); do [ "$(cat /proc/$pid/comm 2>/dev/null)" = sleep ] && break; sleep 0.01; done
            echo $pid > "\(dir)/svc.pid"
            echo "started $pid"
            """)
    }

    static func servicePID(_ dir: String) -> pid_t? {
        guard let s = try? String(contentsOfFile: "\(dir)/svc.pid", encoding: .utf8) else { return nil }
        return pid_t(s.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Kills every service process the scripts started (by PID) and removes the directory.
    static func cleanUp(_ dir: String) {
        if let all = try? String(contentsOfFile: "\(dir)/all.pids", encoding: .utf8) {
            for line in all.split(separator: "\n") { if let p = pid_t(line) { kill(p, SIGKILL) } }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Runs a program to completion (posix_spawn + waitpid), leaving what it started running
    /// (a `setsid` in a script may not have left the group yet when the script exits).
    static func run(_ argv: [String], environment: [String] = ProcessSpawn.minimalEnvironment) throws -> Int32 {
        var options = SpawnOptions(executable: argv[0], arguments: Array(argv.dropFirst()),
                                   environment: environment, timeoutMilliseconds: 60_000)
        options.killGroupOnExit = false
        // ETXTBSY: a script this process has just written can still be open for writing in a
        // child that another test thread forked meanwhile (until that child's exec closes it).
        var attempt = 0
        while true {
            let r: SpawnResult
            do {
                r = try ProcessSpawn.run(options)
            } catch {
                guard attempt < 50, case .spawnFailed(_, ETXTBSY) = error else { throw error }
                attempt += 1
                usleep(20_000)
                continue
            }
            if case .exited(let c) = r.termination { return c }
            return -1
        }
    }

    /// Polls every 20 ms until `condition` holds; false after `seconds`.
    static func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    static func log() -> EventLog { EventLog(node: "test", target: "stderr", level: "warning") }
}

/// Commands the supervisor submitted (thread-safe).
final class SubmittedCommands: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var items: [(OperatorCommand, UInt32)] = []
    init() { pthread_mutex_init(&lock, nil) }
    func append(_ c: OperatorCommand, _ id: UInt32) {
        pthread_mutex_lock(&lock); items.append((c, id)); pthread_mutex_unlock(&lock)
    }
    var all: [(OperatorCommand, UInt32)] {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        return items
    }
}

extension AACSupervisor {
    func status(_ name: String) -> RuleStatus? { rules().first { $0.name == name } }
}
