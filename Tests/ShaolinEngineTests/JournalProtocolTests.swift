// journald's native protocol and sd_notify as ShaolinLinux speaks them without libsystemd,
// checked against libsystemd itself: the same fields sent through libsystemd's sd_journal_sendv
// (called from python3 ctypes, in a private mount namespace whose /run/systemd/journal is this
// test's directory, since libsystemd's socket path is fixed) and through Journal.send must
// arrive as the same bytes. Large entries go in a sealed memfd, received here by a python3
// receiver that reads the descriptor and its seals. Needs root (unshare -m) and libsystemd.so.0.
import Foundation
import Glibc
import ShaolinLinux
import SystemPackage
import Testing

private func run(_ argv: [String], environment: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]) throws -> SpawnResult {
    var o = SpawnOptions(executable: argv[0], arguments: Array(argv.dropFirst()), environment: environment, timeoutMilliseconds: 30_000)
    o.killGroupOnExit = false
    return try ProcessSpawn.run(o)
}

/// Sends `fields` with libsystemd's sd_journal_sendv to /run/systemd/journal/socket, which is
/// `dir/socket` inside the private mount namespace.
private let libsystemdSender = """
    import ctypes, json, sys
    lib = ctypes.CDLL("libsystemd.so.0")
    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    fields = [bytes.fromhex(h) for h in json.loads(sys.argv[1])]
    bufs = [ctypes.create_string_buffer(f, len(f)) for f in fields]
    iov = (iovec * len(fields))(*[iovec(ctypes.cast(b, ctypes.c_void_p), len(f)) for b, f in zip(bufs, fields)])
    rc = lib.sd_journal_sendv(iov, len(fields))
    sys.exit(0 if rc >= 0 else 3)
    """

/// Receives one datagram on argv[1]; writes a JSON summary to argv[2] and the memfd's content
/// (if one came) to argv[3]. Touches argv[1] + ".ready" once bound.
private let memfdReceiver = """
    import array, fcntl, json, os, socket, sys
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sys.argv[1]); open(sys.argv[1] + ".ready", "w").close()
    s.settimeout(20)
    msg, anc, flags, addr = s.recvmsg(1 << 16, socket.CMSG_SPACE(16))
    fds = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += array.array("i", data[: len(data) - len(data) % 4])
    out = {"payload": len(msg), "fds": len(fds)}
    if fds:
        out["seals"] = fcntl.fcntl(fds[0], 1034)  # F_GET_SEALS
        os.lseek(fds[0], 0, os.SEEK_SET)  # the sender's write left the shared offset at the end
        with os.fdopen(fds[0], "rb") as f:
            open(sys.argv[3], "wb").write(f.read())
    json.dump(out, open(sys.argv[2], "w"))
    """

@Suite(.serialized) struct JournalProtocolTests {
    static let fields: [(name: String, value: String)] = [
        ("MESSAGE", "fence confirmed: beta is off"), ("PRIORITY", "5"), ("SYSLOG_IDENTIFIER", "shaolind"),
        ("SHAOLIN_FENCE_LOG", "step 1: chassis power off\nstep 2: status off\n"), ("SHAOLIN_EMPTY", ""),
        ("SHAOLIN_UTF8", "Grüße — 少林"), ("SHAOLIN_TAB", "a\tb"), ("SHAOLIN_NL_ONLY", "\n"),
        ("SHAOLIN_EQUALS", "a=b=c"),
    ]

    @Test func encodingUsesTextAndBinaryForms() throws {
        let bytes = Journal.encode([("A", "x=y"), ("B", "1\n2")])
        #expect(bytes == Array("A=x=y\nB\n".utf8) + [3, 0, 0, 0, 0, 0, 0, 0] + Array("1\n2\n".utf8))
        let entry = try JournalEntry.parse(Journal.encode(Self.fields))
        for f in Self.fields { #expect(entry[f.name] == f.value, "\(f.name)") }
        #expect(entry.binaryFields == ["SHAOLIN_FENCE_LOG", "SHAOLIN_NL_ONLY"])
    }

    @Test func sameBytesAsLibsystemdSdJournalSendv() throws {
        guard getuid() == 0 else { return }
        let dir = "/tmp/shaolin-journal-oracle-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sock = try DatagramSocket(path: "\(dir)/socket")
        try libsystemdSender.write(toFile: "\(dir)/send.py", atomically: true, encoding: .utf8)
        let hex = Self.fields.map { (Array($0.name.utf8) + [UInt8(ascii: "=")] + Array($0.value.utf8)).map { String(format: "%02x", $0) }.joined() }
        let json = "[" + hex.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        let script = """
            set -e
            mount --make-rprivate /
            if [ -d /run/systemd ]; then mount -t tmpfs shaolin-test /run/systemd; else mount -t tmpfs shaolin-test /run; fi
            mkdir -p /run/systemd/journal
            mount --bind "\(dir)" /run/systemd/journal
            exec python3 "\(dir)/send.py" '\(json)'
            """
        let r = try run(["/usr/bin/unshare", "-m", "--", "/bin/sh", "-c", script])
        #expect(r.termination == .exited(0), "libsystemd sender: \(r.termination) \(r.errorText)")
        let theirs = sock.receiveAll()
        try #require(theirs.count == 1, "libsystemd sent \(theirs.count) datagrams: \(r.errorText)")

        try Journal.send(Self.fields, socket: "\(dir)/socket")
        let ours = sock.receiveAll()
        try #require(ours.count == 1)
        let same = ours[0] == theirs[0]
        #expect(same, "ours: \(String(decoding: ours[0], as: UTF8.self))\nlibsystemd: \(String(decoding: theirs[0], as: UTF8.self))")
        let encoded = ours[0] == Journal.encode(Self.fields)
        #expect(encoded)
    }

    @Test func anEntryTooLargeForADatagramGoesInASealedMemfd() throws {
        let dir = "/tmp/shaolin-journal-memfd-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try memfdReceiver.write(toFile: "\(dir)/recv.py", atomically: true, encoding: .utf8)
        let pid = try TestSystem.spawnBackground("/usr/bin/python3", ["\(dir)/recv.py", "\(dir)/big.sock", "\(dir)/out.json", "\(dir)/data.bin"],
                                                 log: "\(dir)/recv.log", environment: ["PATH=/usr/bin:/bin"])
        defer { kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0) }
        #expect(AACTest.eventually(10) { access("\(dir)/big.sock.ready", F_OK) == 0 })
        // 4 MB: beyond any datagram size the kernel accepts (the socket send buffer's limit).
        let log = String(repeating: "fence agent output line\n", count: 4 << 20 / 24)
        let fields: [(name: String, value: String)] = [("MESSAGE", "large"), ("SHAOLIN_FENCE_LOG", log)]
        try Journal.send(fields, socket: "\(dir)/big.sock")
        #expect(AACTest.eventually(20) { access("\(dir)/out.json", F_OK) == 0 })
        let out = try String(contentsOfFile: "\(dir)/out.json", encoding: .utf8)
        #expect(out.contains("\"payload\": 0") && out.contains("\"fds\": 1"), "\(out)")
        #expect(out.contains("\"seals\": 15"), "F_SEAL_SEAL|SHRINK|GROW|WRITE: \(out)")
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/data.bin"))
        let expected = Journal.encode(fields)
        // (Compared as a Bool: a failing == on 4 MB arrays makes Swift Testing diff them for hours.)
        let same = Array(data) == expected
        #expect(same, "memfd holds \(data.count) bytes, the entry is \(expected.count)")
    }

    @Test func notifyReachesPathAndAbstractSocketsAndWatchdogFollowsItsPID() throws {
        let dir = "/tmp/shaolin-notify-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir); unsetenv("NOTIFY_SOCKET"); unsetenv("WATCHDOG_USEC"); unsetenv("WATCHDOG_PID") }
        let sock = try DatagramSocket(path: "\(dir)/notify")
        setenv("NOTIFY_SOCKET", "\(dir)/notify", 1)
        #expect(try SystemdNotify.send("READY=1\nSTATUS=ACTIVE"))
        #expect(sock.receiveAll().map { String(decoding: $0, as: UTF8.self) } == ["READY=1\nSTATUS=ACTIVE"])

        // The abstract namespace ("@name"), as systemd uses for some services.
        let name = "shaolin-notify-test-\(getpid())"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(name.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        let len = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        try #require(bound == 0)
        setenv("NOTIFY_SOCKET", "@\(name)", 1)
        #expect(try SystemdNotify.send("WATCHDOG=1"))
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        #expect(n > 0 && String(decoding: buf[0..<max(n, 0)], as: UTF8.self) == "WATCHDOG=1")

        setenv("NOTIFY_SOCKET", "vsock:2:1234", 1)
        #expect(throws: Errno.addressFamilyNotSupported) { try SystemdNotify.send("READY=1") }
        unsetenv("NOTIFY_SOCKET")
        #expect(try SystemdNotify.send("READY=1") == false)

        unsetenv("WATCHDOG_USEC")
        #expect(try SystemdNotify.watchdogInterval() == nil)
        setenv("WATCHDOG_USEC", "400000", 1)
        #expect(try SystemdNotify.watchdogInterval() == 400_000)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        #expect(try SystemdNotify.watchdogInterval() == 400_000)
        setenv("WATCHDOG_PID", "\(getpid() + 1)", 1)
        #expect(try SystemdNotify.watchdogInterval() == nil, "another process's watchdog")
        unsetenv("WATCHDOG_PID")
        setenv("WATCHDOG_USEC", "0", 1)
        #expect(throws: Errno.invalidArgument) { try SystemdNotify.watchdogInterval() }
    }
}
