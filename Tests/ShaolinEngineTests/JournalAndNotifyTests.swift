// The real shaolind talking to journald's native protocol and to systemd's notify socket —
// both replaced by sockets this test owns. The engine runs in a private mount namespace
// (`unshare -m`) with a tmpfs over /run/systemd and the test's directory bound onto
// /run/systemd/journal, so libsystemd's sd_journal_sendv reaches the test's socket at the fixed
// path /run/systemd/journal/socket without touching the host's /run. NOTIFY_SOCKET and
// WATCHDOG_USEC are plain environment variables, as systemd sets them.
//
// Scenario: one node whose peer never appears (its only link is a serial device that does not
// exist): LINK_DOWN at start, FENCING after startup_timeout, a fence command that succeeds
// (and prints two lines, so the fence log is a multi-line field sent in the binary form),
// TAKEOVER to ACTIVE, then SIGTERM: LEAVE.
import Foundation
import Glibc
import ShaolinEngine
import Testing

private final class SingleNode {
    let dir: String
    var pid: pid_t = 0
    init(_ name: String) throws {
        dir = "/tmp/shaolin-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: "\(dir)/journal", withIntermediateDirectories: true)
        let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() + "\n"
        _ = FileManager.default.createFile(atPath: "\(dir)/key", contents: Data(key.utf8), attributes: [.posixPermissions: 0o600])
        let fence = """
            #!/bin/sh
            echo "lab fence: powering off $SHAOLIN_FENCE_TARGET"
            echo "lab fence: $SHAOLIN_FENCE_TARGET is off" >&2
            exit 0

            """
        _ = FileManager.default.createFile(atPath: "\(dir)/fence.sh", contents: Data(fence.utf8), attributes: [.posixPermissions: 0o755])
        let config = """
            [cluster]
            id = 77
            key_file = "\(dir)/key"
            [node]
            name = "alpha"
            id = 1
            [peer]
            name = "beta"
            id = 2
            [timing]
            keepalive_ms = 100
            deadtime_ms = 600
            startup_timeout_ms = 1000
            [[link]]
            name = "serial"
            type = "serial"
            device = "\(dir)/no-such-tty"
            baud = 115200
            [fencing]
            methods = ["command"]
            race_delay_ms = 0
            [fencing.command]
            path = "\(dir)/fence.sh"
            timeout_ms = 5000
            [watchdog]
            device = "none"
            [realtime]
            enabled = true
            priority = 40
            allow_degraded = true
            [log]
            target = "auto"
            level = "info"

            """
        _ = FileManager.default.createFile(atPath: "\(dir)/node.toml", contents: Data(config.utf8))
    }

    /// Starts shaolind in its own mount namespace where /run/systemd/journal is `dir/journal`.
    func start(environment: [String]) throws {
        let script = """
            set -e
            mount --make-rprivate /
            if [ -d /run/systemd ]; then mount -t tmpfs shaolin-test /run/systemd; else mount -t tmpfs shaolin-test /run; fi
            mkdir -p /run/systemd/journal
            mount --bind "\(dir)/journal" /run/systemd/journal
            exec "\(Lab.shaolind)" --config "\(dir)/node.toml"
            """
        pid = try TestSystem.spawnBackground("/usr/bin/unshare", ["-m", "--", "/bin/sh", "-c", script], log: "\(dir)/stderr.log",
                                             environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] + environment)
    }

    var stderrText: String { (try? String(contentsOfFile: "\(dir)/stderr.log", encoding: .utf8)) ?? "" }

    func stop() -> Int32 {
        guard pid > 0 else { return -1 }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<250 {
            if waitpid(pid, &status, WNOHANG) == pid { pid = 0; return (status >> 8) & 0xff }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        pid = 0
        return -1
    }

    deinit {
        if pid > 0 { kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

@Suite(.serialized) struct JournalAndNotifyTests {
    @Test func engineSpeaksTheJournalNativeProtocolAndSdNotify() throws {
        let node = try SingleNode("journal")
        let journal = try DatagramSocket(path: "\(node.dir)/journal/socket")
        let notify = try DatagramSocket(path: "\(node.dir)/notify.sock")
        try node.start(environment: ["NOTIFY_SOCKET=\(notify.path)", "WATCHDOG_USEC=400000"])

        var entries: [JournalEntry] = []
        var notes: [String] = []
        func collect() throws {
            for d in journal.receiveAll() { entries.append(try JournalEntry.parse(d)) }
            for d in notify.receiveAll() { notes.append(String(decoding: d, as: UTF8.self)) }
        }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !entries.contains(where: { $0["SHAOLIN_EVENT"] == "TAKEOVER" }) {
            try collect()
            usleep(20_000)
        }
        #expect(entries.contains { $0["SHAOLIN_EVENT"] == "TAKEOVER" }, "no TAKEOVER entry; stderr: \(node.stderrText)")
        // Let the service watchdog run for a while (petting every WATCHDOG_USEC/4 = 100 ms).
        let petsBefore = notes.filter { $0 == "WATCHDOG=1" }.count
        usleep(1_500_000)
        try collect()
        let pets = notes.filter { $0 == "WATCHDOG=1" }.count - petsBefore
        #expect(node.stop() == 0)
        try collect()

        // Every entry: the standard fields, valid priority, our identifier.
        #expect(entries.count >= 8)
        for e in entries {
            #expect(e["MESSAGE"] != nil && e["PRIORITY"] != nil && e["SHAOLIN_MONOTONIC_US"] != nil, "\(e)")
            #expect((0...7).contains(Int(e["PRIORITY"] ?? "") ?? -1), "\(e)")
            #expect(e["SYSLOG_IDENTIFIER"] == "shaolind" && e["SHAOLIN_NODE"] == "alpha", "\(e)")
            if let ev = e["SHAOLIN_EVENT"], let id = LogCatalog.messageID(for: ev) { #expect(e["MESSAGE_ID"] == id, "\(e)") }
        }
        func first(_ event: String, where cond: (JournalEntry) -> Bool = { _ in true }) -> JournalEntry? {
            entries.first { $0["SHAOLIN_EVENT"] == event && cond($0) }
        }
        let start = try #require(first("START"))
        #expect(start["MESSAGE_ID"] == "66c246b9cff1434fbc29d8a99181c375")
        #expect(start["PRIORITY"] == "5")
        #expect(first("LOG_SINK")?["SHAOLIN_LOG_SINK"] == "journal")
        let linkDown = try #require(first("LINK_DOWN"))
        #expect(linkDown["SHAOLIN_LINK"] == "serial")
        #expect(linkDown["MESSAGE_ID"] == LogCatalog.messageID(for: "LINK_DOWN"))
        let fencing = try #require(first("ROLE_CHANGE") { $0["SHAOLIN_ROLE"] == "FENCING" })
        #expect(fencing["SHAOLIN_ROLE_FROM"] == "BOOTING")
        let fenceStart = try #require(first("FENCE_START"))
        #expect(fenceStart["SHAOLIN_PEER"] == "beta" && fenceStart["PRIORITY"] == "4")
        let confirmed = try #require(first("FENCE_CONFIRMED"))
        #expect(confirmed["SHAOLIN_PEER"] == "beta")
        #expect(confirmed["SHAOLIN_FENCE_METHOD"] == "command")
        #expect(UInt64(confirmed["SHAOLIN_LATENCY_US"] ?? "") != nil)
        // The fence log holds newlines: libsystemd sends it in the binary length-prefixed form.
        let fenceLog = try #require(confirmed["SHAOLIN_FENCE_LOG"])
        #expect(confirmed.binaryFields.contains("SHAOLIN_FENCE_LOG"))
        #expect(fenceLog.contains("lab fence: powering off beta") && fenceLog.contains("lab fence: beta is off"))
        #expect(fenceLog.split(separator: "\n").count >= 3)
        let active = try #require(first("ROLE_CHANGE") { $0["SHAOLIN_ROLE"] == "ACTIVE" })
        #expect(active["MESSAGE_ID"] == "776ec257992f48d682dcf9fa611756e2" && active["SHAOLIN_ROLE_FROM"] == "FENCING")
        let takeover = try #require(first("TAKEOVER"))
        #expect(takeover["MESSAGE_ID"] == "8919511c52214815aae3f50bd2862cda" && takeover["SHAOLIN_ROLE"] == "ACTIVE")
        #expect(first("LEAVE")?["SHAOLIN_ROLE"] == "STOPPED")
        // Records made while ACTIVE carry the role.
        #expect(first("LEAVE")?["MESSAGE_ID"] == "e42dbb53f667472dbfdbe2885d11cb04")
        if getuid() == 0 { #expect(first("CAPABILITIES_DROPPED")?["SHAOLIN_CAP_EFFECTIVE"] == "0000000000c06001") }
        // Everything went to the journal, nothing to stderr.
        #expect(!node.stderrText.contains("SHAOLIN_EVENT="), "stderr: \(node.stderrText)")

        // sd_notify: READY=1 once, when the role settled (ACTIVE), with STATUS; WATCHDOG=1 while
        // running; STOPPING=1 on leave, and nothing after it.
        let ready = notes.filter { $0.contains("READY=1") }
        #expect(ready.count == 1, "notifications: \(notes)")
        #expect(ready.first?.contains("STATUS=ACTIVE") == true, "notifications: \(notes)")
        let readyIndex = try #require(notes.firstIndex { $0.contains("READY=1") })
        #expect(!notes[..<readyIndex].contains { $0.contains("STATUS=ACTIVE") })
        #expect(notes[..<readyIndex].contains { $0.hasPrefix("STATUS=FENCING") || $0.hasPrefix("STATUS=BOOTING") }, "notifications: \(notes)")
        #expect(pets >= 3 && pets <= 40, "WATCHDOG=1 sent \(pets) times in 1.5 s at a 100 ms period (a loose check that it repeats and does not flood)")
        let stopping = try #require(notes.firstIndex { $0.contains("STOPPING=1") }, "notifications: \(notes)")
        #expect(!notes[(stopping + 1)...].contains("WATCHDOG=1"))
    }

    @Test func aJournalSocketNobodyListensOnFallsBackToStderr() throws {
        // The socket file exists but its owner closed it: sd_journal_sendv fails with
        // ECONNREFUSED, and every record must still be written somewhere (stderr).
        let node = try SingleNode("nojournal")
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in Array("\(node.dir)/journal/socket".utf8).enumerated() { p[i] = b } }
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)  // the path stays, nobody listens
        try node.start(environment: [])
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && !node.stderrText.contains("SHAOLIN_EVENT=TAKEOVER") { usleep(50_000) }
        #expect(node.stop() == 0)
        let text = node.stderrText
        #expect(text.contains("journald refused a log entry"), "stderr: \(text)")
        #expect(text.contains("SHAOLIN_EVENT=START"))
        #expect(text.contains("SHAOLIN_EVENT=TAKEOVER"))
        #expect(text.contains("SHAOLIN_EVENT=LEAVE"))
    }
}
