// A real OpenIPMI `ipmi_sim` BMC on 127.0.0.1 for fencing tests, whose
// chassis power drives a real process standing for the peer machine:
// `chassis power on` runs the startcmd script (which execs `sleep 1000`),
// `chassis power off` makes ipmi_sim stop it.
//
// Each instance owns a temporary directory, picks free ports (checked before
// start), and kills only the processes it started, by PID.
import Foundation
import Glibc
import ShaolinEngine
import ShaolinLinux

enum TestFailure: Error, CustomStringConvertible {
    case setup(String)
    var description: String {
        switch self { case .setup(let s): return s }
    }
}

/// Test helpers about processes and ports.
enum TestSystem {
    /// True while `pid` exists and is not a zombie.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let rest = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces)
        guard let state = rest.first else { return false }
        return state != "Z" && state != "X"
    }

    /// Waits up to `timeout` seconds for `pid` to stop running.
    static func waitGone(_ pid: pid_t, timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if !isRunning(pid) { return true }
            usleep(20_000)
        }
        return !isRunning(pid)
    }

    /// A port on 127.0.0.1 free for both UDP and TCP right now.
    static func freePort() throws -> Int {
        for _ in 0..<50 {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw TestFailure.setup("socket: \(errno)") }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
                }
            }
            Glibc.close(fd)
            guard ok else { continue }
            let port = Int(UInt16(bigEndian: addr.sin_port))
            if isFree(port: port, udp: true) && isFree(port: port, udp: false) { return port }
        }
        throw TestFailure.setup("no free port found")
    }

    /// True when nothing holds `port` on 127.0.0.1 (bind succeeds).
    static func isFree(port: Int, udp: Bool) -> Bool {
        let fd = socket(AF_INET, Int32((udp ? SOCK_DGRAM : SOCK_STREAM).rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// Starts a long-running program in the background with an empty signal
    /// mask, default signal dispositions, stdin from /dev/null and
    /// stdout/stderr appended to `log`. The caller reaps it with waitpid.
    static func spawnBackground(_ path: String, _ arguments: [String], log: String,
                                environment: [String] = ProcessSpawn.minimalEnvironment) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attr, &all)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let env: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for p in env { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, env)
        guard rc == 0 else { throw TestFailure.setup("posix_spawn \(path): \(rc)") }
        return pid
    }

    /// A fresh directory under /tmp.
    static func makeTempDirectory(_ prefix: String) throws -> String {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw TestFailure.setup("mkdtemp: \(errno)") }
        return String(cString: p)
    }

    static func write(_ text: String, to path: String, mode: Int = 0o644) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode_t(mode))
    }

    static func which(_ program: String, in dirs: [String] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]) -> String? {
        dirs.map { "\($0)/\(program)" }.first { access($0, X_OK) == 0 }
    }
}

/// One ipmi_sim with a process-backed chassis.
final class IPMISimulator {
    let directory: String
    let lanPort: Int
    let serialPort: Int
    let user = "admin"
    let password = "secret"
    let passwordFile: String
    let peerPIDFile: String
    private(set) var pid: pid_t = 0

    /// Starts ipmi_sim and waits until it answers. `peerIgnoresTerm` makes the
    /// peer process ignore SIGTERM (ipmi_sim then needs SIGKILL after
    /// kill_wait).
    init(peerIgnoresTerm: Bool = false) throws {
        guard let ipmiSim = TestSystem.which("ipmi_sim") else {
            throw TestFailure.setup("ipmi_sim not installed (Debian package openipmi)")
        }
        guard TestSystem.which("ipmitool") != nil else {
            throw TestFailure.setup("ipmitool not installed (Debian package ipmitool)")
        }
        directory = try TestSystem.makeTempDirectory("shaolin-ipmi")
        lanPort = try TestSystem.freePort()
        var serial = try TestSystem.freePort()
        while serial == lanPort { serial = try TestSystem.freePort() }
        serialPort = serial
        passwordFile = directory + "/password"
        peerPIDFile = directory + "/peer.pid"

        let peer = directory + "/peer.sh"
        try TestSystem.write("""
            #!/bin/sh
            # The peer machine: its PID is recorded, then it runs until powered off.
            \(peerIgnoresTerm ? "trap '' TERM" : "")
            echo $$ > \(peerPIDFile).tmp && mv \(peerPIDFile).tmp \(peerPIDFile)
            exec sleep 1000

            """, to: peer, mode: 0o755)
        try TestSystem.write(password + "\n", to: passwordFile, mode: 0o600)
        try TestSystem.write("""
            name "shaolin-test"
            set_working_mc 0x20
              startlan 1
                addr 127.0.0.1 \(lanPort)
                priv_limit admin
                allowed_auths_callback none md2 md5 straight
                allowed_auths_user none md2 md5 straight
                allowed_auths_operator none md2 md5 straight
                allowed_auths_admin none md2 md5 straight
                guid a123456789abcdefa123456789abcdef
              endlan
              serial 15 127.0.0.1 \(serialPort) codec VM
              startcmd "\(peer)"
              startnow false
              poweroff_wait 1
              kill_wait 2
              user 1 true  ""      "test"   user  10 none md2 md5 straight
              user 2 true  "\(user)" "\(password)" admin 10 none md2 md5 straight

            """, to: directory + "/lan.conf")
        try TestSystem.write("""
            mc_setbmc 0x20
            mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
            mc_enable 0x20

            """, to: directory + "/bmc.emu")
        let state = directory + "/state"
        mkdir(state, 0o700)

        guard TestSystem.isFree(port: lanPort, udp: true),
              TestSystem.isFree(port: serialPort, udp: false) else {
            throw TestFailure.setup("ports \(lanPort)/\(serialPort) taken before start")
        }
        // Not Foundation's Process: the test runner's threads block SIGCHLD,
        // a child inherits that mask, and an ipmi_sim that never sees SIGCHLD
        // never notices its startcmd process died, so it reports the chassis
        // "on" forever. Start it with a clean mask and default dispositions.
        pid = try TestSystem.spawnBackground(
            ipmiSim,
            ["-c", directory + "/lan.conf", "-f", directory + "/bmc.emu", "-s", state, "-n"],
            log: directory + "/ipmi_sim.log")

        // Ready when our own ipmi_sim answers (the ports were free, so no
        // other BMC can be the one answering) and is still alive.
        let deadline = Date().addingTimeInterval(10)
        while true {
            if !TestSystem.isRunning(pid) {
                let log = (try? String(contentsOfFile: directory + "/ipmi_sim.log", encoding: .utf8)) ?? ""
                stop()
                throw TestFailure.setup("ipmi_sim exited at start: \(log)")
            }
            if (try? powerStatus()) != nil { break }
            if Date() > deadline {
                stop()
                throw TestFailure.setup("ipmi_sim did not answer within 10 s")
            }
            usleep(50_000)
        }
    }

    var host: String { "127.0.0.1" }

    /// Driver settings pointing at this BMC.
    func settings(
        passwordFile file: String? = nil, callTimeout: Int = 3000, retries: Int = 1,
        powerTimeout: Int = 10000
    ) -> IPMIFenceSettings {
        IPMIFenceSettings(host: host, port: lanPort, user: user,
                          passwordFile: file ?? passwordFile, callTimeout: callTimeout,
                          retries: retries, powerTimeout: powerTimeout)
    }

    /// Runs ipmitool directly (not through the driver under test).
    @discardableResult
    func ipmitool(_ words: [String], timeoutMs: Int = 5000) throws -> SpawnResult {
        try ProcessSpawn.run(SpawnOptions(
            executable: "/usr/bin/ipmitool",
            arguments: ["-I", "lanplus", "-H", host, "-p", String(lanPort), "-U", user,
                        "-f", passwordFile, "-C", "3"] + words,
            timeoutMilliseconds: timeoutMs))
    }

    /// "on"/"off" as ipmitool sees it; throws when the BMC does not answer.
    func powerStatus() throws -> String {
        let r = try ipmitool(["chassis", "power", "status"], timeoutMs: 2000)
        guard r.succeeded else { throw TestFailure.setup("status failed: \(r.errorText)") }
        if r.outputText.contains("is on") { return "on" }
        if r.outputText.contains("is off") { return "off" }
        throw TestFailure.setup("unreadable status: \(r.outputText)")
    }

    /// Powers the chassis on and returns the PID of the running peer process.
    func powerOnPeer() throws -> pid_t {
        unlink(peerPIDFile)
        let r = try ipmitool(["chassis", "power", "on"])
        guard r.succeeded else { throw TestFailure.setup("power on failed: \(r.errorText)") }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: peerPIDFile, encoding: .utf8),
               let peer = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
               TestSystem.isRunning(peer)
            {
                return peer
            }
            usleep(20_000)
        }
        throw TestFailure.setup("peer process did not start after power on")
    }

    /// Pauses / resumes the BMC (a hung BMC).
    func freeze() { kill(pid, SIGSTOP) }
    func thaw() { kill(pid, SIGCONT) }

    /// Kills ipmi_sim and the peer process (by PID) and removes the directory.
    func stop() {
        if let text = try? String(contentsOfFile: peerPIDFile, encoding: .utf8),
           let peer = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
           TestSystem.isRunning(peer)
        {
            kill(peer, SIGKILL)
        }
        if pid > 0 {
            kill(pid, SIGCONT)
            kill(pid, SIGTERM)
            if !TestSystem.waitGone(pid, timeout: 2) { kill(pid, SIGKILL) }
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        pid = 0
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
