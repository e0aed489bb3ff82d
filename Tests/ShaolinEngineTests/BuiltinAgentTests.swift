// The built-in agents (agents/) against the real services on loopback: each test starts its
// own instance with its own configuration, data directory and ports, and stops it by PID.
// systemd cannot run here (PID 1 is not systemd): that agent is checked for saying so, and
// its state mapping with a stand-in systemctl (a mock, stated as such in docs/agents.md).
import Foundation
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import Testing

private func agent(_ name: String, _ action: String, _ params: [String: String], timeoutMs: Int64 = 10_000) -> AgentCallResult {
    var env = ProcessSpawn.minimalEnvironment + ["SHAOLIN_AGENT_API=1", "SHAOLIN_RULE=test", "SHAOLIN_ACTION=\(action)",
                                                  "SHAOLIN_TIMEOUT_MS=\(timeoutMs)"]
    for (k, v) in params { env.append(Configuration.AACRule.environmentName(ofParameter: k) + "=" + v) }
    return AgentCall.run(argv: ["\(AACTest.agentsDirectory)/\(name)", action], environment: env, timeoutMs: timeoutMs,
                         action: action, leaveServiceRunning: action == "start" || action == "restart")
}

/// Stops a daemon by the pid in its pid file (SIGTERM, then SIGKILL to its process group).
private func stopDaemon(pidFile: String) {
    guard let s = try? String(contentsOfFile: pidFile, encoding: .utf8),
          let pid = pid_t(s.trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
    kill(pid, SIGTERM)
    if !TestSystem.waitGone(pid, timeout: 10) { kill(-pid, SIGKILL); kill(pid, SIGKILL) }
}

@Suite(.serialized) struct BuiltinAgentTests {
    @Test func everyAgentDescribesItself() {
        for name in ["process", "systemd", "tcp", "http", "mysql", "apache"] {
            let r = agent(name, "meta", [:])
            #expect(r.outcome == .success, "\(name)")
            #expect(agent(name, "bogus", [:]).outcome == .misconfigured("exit 2: invalid arguments"), "\(name)")
        }
    }

    @Test func processAgentByPidFileAndName() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-agent-process")
        defer { AACTest.cleanUp(dir) }
        let start = try AACTest.serviceStartScript(dir)
        #expect(try AACTest.run([start]) == 0)
        let pid = try #require(AACTest.servicePID(dir))
        let pidfile = "\(dir)/svc.pid"
        #expect(agent("process", "monitor", ["pidfile": pidfile]).outcome == .success)
        #expect(agent("process", "monitor", ["pidfile": pidfile]).message == "running (pid \(pid))")
        #expect(agent("process", "monitor", ["pidfile": pidfile, "name": "sleep"]).outcome == .success)
        // A recycled pid (the file names a live process of another name) is not the service.
        #expect(agent("process", "monitor", ["pidfile": pidfile, "name": "mysqld"]).outcome == .notRunning)
        #expect(agent("process", "monitor", ["name": "sleep"]).outcome == .success)
        #expect(agent("process", "monitor", ["name": "no-such-proc"]).outcome == .notRunning)
        #expect(agent("process", "monitor", [:]).outcome == .misconfigured("exit 6: not configured"))
        #expect(agent("process", "monitor", ["pidfile": "\(dir)/absent.pid"]).outcome == .notRunning)
        try TestSystem.write("garbage\u{1b}[2J\n", to: "\(dir)/garbage.pid")
        #expect(agent("process", "monitor", ["pidfile": "\(dir)/garbage.pid"]).outcome == .notRunning)
        #expect(agent("process", "start", ["pidfile": pidfile]).outcome == .unimplemented)
        // stop: SIGTERM; then monitor says not running (a zombie counts as gone).
        #expect(agent("process", "stop", ["pidfile": pidfile, "name": "sleep"]).outcome == .success)
        #expect(TestSystem.waitGone(pid, timeout: 5))
        #expect(agent("process", "monitor", ["pidfile": pidfile]).outcome == .notRunning)
        #expect(agent("process", "stop", ["pidfile": pidfile]).outcome == .success)  // already stopped
    }

    @Test func tcpAgent() throws {
        let port = try TestSystem.freePort()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0)
        #expect(agent("tcp", "monitor", ["port": "\(port)"]).outcome == .notRunning)  // bound, not listening
        #expect(listen(fd, 8) == 0)
        let up = agent("tcp", "monitor", ["port": "\(port)", "host": "127.0.0.1"])
        #expect(up.outcome == .success && up.message == "connected to 127.0.0.1:\(port)")
        #expect(agent("tcp", "monitor", ["port": "99999"]).outcome == .misconfigured("exit 6: not configured"))
        #expect(agent("tcp", "monitor", [:]).outcome == .misconfigured("exit 6: not configured"))
        #expect(agent("tcp", "restart", ["port": "\(port)"]).outcome == .unimplemented)
    }

    /// Apache httpd on test ports with its own configuration (HTTP, HTTPS with a self-signed
    /// certificate, mod_status), controlled through the apache agent's config_file.
    final class Apache {
        let dir: String
        let http: Int
        let https: Int
        var params: [String: String] { ["config_file": "\(dir)/httpd.conf", "url": "http://127.0.0.1:\(http)/server-status?auto"] }

        init() throws {
            dir = try TestSystem.makeTempDirectory("shaolin-agent-apache")
            http = try TestSystem.freePort()
            https = try TestSystem.freePort()
            try FileManager.default.createDirectory(atPath: "\(dir)/htdocs", withIntermediateDirectories: true)
            try TestSystem.write("hello from shaolin\n", to: "\(dir)/htdocs/index.html")
            let openssl = ["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/key.pem",
                           "-out", "\(dir)/cert.pem", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
            guard try AACTest.run(openssl) == 0 else { throw TestFailure.setup("openssl req failed") }
            let m = "/usr/lib/apache2/modules"
            try TestSystem.write("""
                ServerRoot \(dir)
                ServerName localhost
                Listen 127.0.0.1:\(http)
                Listen 127.0.0.1:\(https) https
                PidFile \(dir)/httpd.pid
                ErrorLog \(dir)/error.log
                Mutex file:\(dir) default
                DefaultRuntimeDir \(dir)
                LoadModule mpm_event_module \(m)/mod_mpm_event.so
                LoadModule authz_core_module \(m)/mod_authz_core.so
                LoadModule status_module \(m)/mod_status.so
                LoadModule socache_shmcb_module \(m)/mod_socache_shmcb.so
                LoadModule ssl_module \(m)/mod_ssl.so
                User nobody
                Group nogroup
                DocumentRoot \(dir)/htdocs
                ExtendedStatus On
                StartServers 1
                <Location /server-status>
                  SetHandler server-status
                  Require all granted
                </Location>
                <VirtualHost 127.0.0.1:\(https)>
                  SSLEngine on
                  SSLCertificateFile \(dir)/cert.pem
                  SSLCertificateKeyFile \(dir)/key.pem
                </VirtualHost>

                """, to: "\(dir)/httpd.conf")
            chmod(dir, 0o755)
        }

        func stop() {
            stopDaemon(pidFile: "\(dir)/httpd.pid")
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/apache2"), "apache2 (tools/bootstrap.sh)"))
    func apacheAndHTTPAgentsAgainstApache() throws {
        let a = try Apache()
        defer { a.stop() }
        #expect(agent("apache", "monitor", a.params).outcome == .notRunning)
        let started = agent("apache", "start", a.params)
        let errorLog = (try? String(contentsOfFile: "\(a.dir)/error.log", encoding: .utf8)) ?? ""
        #expect(started.outcome == .success, "\(started.message)\n\(errorLog)")
        try #require(AACTest.eventually(10) { agent("apache", "monitor", a.params).outcome == .success })
        let status = agent("apache", "monitor", a.params)
        #expect(status.message.hasPrefix("httpd answering: ") && status.message.contains("idle worker(s)"), "\(status.message)")
        // An overloaded server: fewer idle workers than asked for.
        var overloaded = a.params
        overloaded["min_idle_workers"] = "5000"
        let o = agent("apache", "monitor", overloaded)
        #expect(o.outcome == .failed("exit 1") && o.message.hasPrefix("overloaded: "), "\(o.message)")
        #expect(agent("apache", "monitor", ["url": "http://127.0.0.1:\(a.http)/index.html"]).outcome == .success)
        #expect(agent("apache", "monitor", ["url": "http://127.0.0.1:\(a.http)/nothing"]).outcome == .failed("exit 1"))
        #expect(agent("apache", "start", [:]).outcome == .unimplemented)

        // http: status and text, HTTPS with certificate checks.
        let base = "http://127.0.0.1:\(a.http)"
        #expect(agent("http", "monitor", ["url": "\(base)/index.html", "expect_text": "hello from shaolin"]).outcome == .success)
        let wrongText = agent("http", "monitor", ["url": "\(base)/index.html", "expect_text": "goodbye"])
        #expect(wrongText.outcome == .failed("exit 1") && wrongText.message.contains("lacks \"goodbye\""))
        let missing = agent("http", "monitor", ["url": "\(base)/nothing"])
        #expect(missing.outcome == .failed("exit 1") && missing.message.hasSuffix("status 404, expected 200"), "\(missing.message)")
        #expect(agent("http", "monitor", ["url": "\(base)/nothing", "expect_status": "404"]).outcome == .success)
        let tls = "https://localhost:\(a.https)/index.html"
        let untrusted = agent("http", "monitor", ["url": tls])
        #expect(untrusted.outcome == .failed("exit 1") && untrusted.message.contains("certificate"), "\(untrusted.message)")
        #expect(agent("http", "monitor", ["url": tls, "ca_file": "\(a.dir)/cert.pem", "expect_text": "hello"]).outcome == .success)
        #expect(agent("http", "monitor", ["url": tls, "insecure": "true"]).outcome == .success)
        #expect(agent("http", "monitor", ["url": "ftp://x/"]).outcome == .misconfigured("exit 6: not configured"))

        // restart keeps it answering; stop makes it refuse connections.
        let pidBefore = try String(contentsOfFile: "\(a.dir)/httpd.pid", encoding: .utf8)
        #expect(agent("apache", "restart", a.params).outcome == .success)
        #expect(AACTest.eventually(10) { agent("apache", "monitor", a.params).outcome == .success })
        #expect(agent("apache", "stop", a.params, timeoutMs: 30_000).outcome == .success)
        #expect(AACTest.eventually(10) { agent("apache", "monitor", a.params).outcome == .notRunning })
        #expect(agent("http", "monitor", ["url": "\(base)/"]).outcome == .notRunning)
        if let p = pid_t(pidBefore.trimmingCharacters(in: .whitespacesAndNewlines)) { #expect(TestSystem.waitGone(p, timeout: 10)) }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/mariadbd"), "mariadb-server (tools/bootstrap.sh)"))
    func mysqlAgentAgainstMariaDB() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-agent-mariadb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try TestSystem.freePort()
        let install = ["/usr/bin/mariadb-install-db", "--no-defaults", "--datadir=\(dir)/data", "--user=root",
                       "--auth-root-authentication-method=normal", "--skip-test-db"]
        #expect(try AACTest.run(install) == 0)
        let socket = "\(dir)/mysqld.sock"
        let pid = try TestSystem.spawnBackground("/usr/sbin/mariadbd", [
            "--no-defaults", "--datadir=\(dir)/data", "--socket=\(socket)", "--port=\(port)", "--bind-address=127.0.0.1",
            "--pid-file=\(dir)/mysqld.pid", "--user=root", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
            "--log-error=\(dir)/error.log",
        ], log: "\(dir)/stdout.log")
        defer {
            kill(pid, SIGTERM)
            if !TestSystem.waitGone(pid, timeout: 30) { kill(pid, SIGKILL) }
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        #expect(AACTest.eventually(60) { agent("mysql", "monitor", ["socket": socket]).outcome == .success })
        #expect(agent("mysql", "monitor", ["socket": socket]).message == "\(socket): alive")
        #expect(agent("mysql", "monitor", ["port": "\(port)"]).outcome == .success)
        #expect(agent("mysql", "monitor", ["socket": socket, "check": "query"]).outcome == .success)
        // Wrong credentials: ping still proves the server is up; a query fails.
        try TestSystem.write("[client]\nuser=nobody_here\npassword=wrong\n", to: "\(dir)/bad.cnf", mode: 0o600)
        #expect(agent("mysql", "monitor", ["socket": socket, "defaults_file": "\(dir)/bad.cnf"]).outcome == .success)
        let q = agent("mysql", "monitor", ["socket": socket, "defaults_file": "\(dir)/bad.cnf", "check": "query"])
        #expect(q.outcome == .failed("exit 1") && q.message.contains("SELECT 1 failed"), "\(q.message)")
        #expect(agent("mysql", "monitor", ["socket": socket, "check": "maybe"]).outcome == .misconfigured("exit 6: not configured"))
        #expect(agent("mysql", "start", ["socket": socket]).outcome == .unimplemented)
        // Stopped: not running.
        kill(pid, SIGTERM)
        #expect(TestSystem.waitGone(pid, timeout: 30))
        let down = agent("mysql", "monitor", ["port": "\(port)"])
        #expect(down.outcome == .notRunning, "\(down.message)")
        #expect(agent("mysql", "monitor", ["socket": socket]).outcome == .notRunning)
    }

    @Test func systemdAgent() throws {
        if !FileManager.default.fileExists(atPath: "/run/systemd/system") {
            let r = agent("systemd", "monitor", ["unit": "ssh.service"])
            #expect(r.outcome == .misconfigured("exit 5: not installed") && r.message == "systemd is not the init system here")
        }
        #expect(agent("systemd", "monitor", [:]).outcome == .misconfigured("exit 6: not configured"))
        // State mapping through a stand-in systemctl (a mock: systemd cannot run here).
        let dir = try TestSystem.makeTempDirectory("shaolin-agent-systemd")
        defer { AACTest.cleanUp(dir) }
        let fake = try AACTest.script(dir, "systemctl", """
            echo "$*" >> "\(dir)/calls"
            [ "$1" = is-active ] && { cat "\(dir)/state"; exit 3; }
            exit 0
            """)
        for (state, outcome) in [("active", AgentOutcome.success), ("reloading", .success), ("inactive", .notRunning),
                                 ("failed", .notRunning), ("activating", .failed("exit 1"))] {
            try TestSystem.write(state + "\n", to: "\(dir)/state")
            let r = agent("systemd", "monitor", ["unit": "web.service", "systemctl": fake])
            #expect(r.outcome == outcome && r.message == "web.service \(state)", "\(state): \(r.outcome) \(r.message)")
        }
        #expect(agent("systemd", "restart", ["unit": "web.service", "systemctl": fake]).outcome == .success)
        #expect(agent("systemd", "monitor", ["unit": "-evil", "systemctl": fake]).outcome == .misconfigured("exit 6: not configured"))
        let calls = try String(contentsOfFile: "\(dir)/calls", encoding: .utf8)
        #expect(calls.contains("restart -- web.service"))
    }
}
