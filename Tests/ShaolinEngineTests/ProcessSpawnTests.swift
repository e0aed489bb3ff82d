import Foundation
import Glibc
import ShaolinLinux
import Testing

@Suite("ProcessSpawn")
struct ProcessSpawnTests {
    func sh(_ script: String, stdin: [UInt8]? = nil, timeoutMs: Int = 5000,
            graceMs: Int = 500, limit: Int = 64 * 1024) throws -> SpawnResult {
        try ProcessSpawn.run(SpawnOptions(
            executable: "/bin/sh", arguments: ["-c", script], standardInput: stdin,
            timeoutMilliseconds: timeoutMs, killGraceMilliseconds: graceMs, outputLimit: limit))
    }

    @Test func capturesExitCodeStdoutAndStderrSeparately() throws {
        let r = try sh("echo out; echo err >&2; exit 3")
        #expect(r.termination == .exited(3))
        #expect(!r.timedOut)
        #expect(r.outputText == "out\n")
        #expect(r.errorText == "err\n")
        #expect(!r.succeeded)
        #expect(try sh("true").succeeded)
    }

    @Test func reportsDeathBySignal() throws {
        let r = try sh("kill -KILL $$")
        #expect(r.termination == .signaled(SIGKILL))
        #expect(!r.timedOut)
    }

    @Test func deliversStdinAndClosesIt() throws {
        let r = try sh("cat", stdin: Array("key=value\naction=off\n".utf8))
        #expect(r.succeeded)
        #expect(r.outputText == "key=value\naction=off\n")
        // Larger than any pipe/socket buffer: must be fed while draining.
        let big = [UInt8](repeating: 0x41, count: 300_000)
        let c = try sh("wc -c", stdin: big)
        #expect(c.outputText.trimmingCharacters(in: .whitespacesAndNewlines) == "300000")
        // No stdin: /dev/null, so a reader sees EOF at once.
        let n = try sh("wc -c")
        #expect(n.outputText.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func childThatIgnoresStdinDoesNotHurtTheCaller() throws {
        // The child exits without reading 1 MB of input: no SIGPIPE for us.
        let r = try sh("exit 0", stdin: [UInt8](repeating: 1, count: 1 << 20))
        #expect(r.succeeded)
    }

    @Test func boundsOutput() throws {
        let r = try sh("head -c 200000 /dev/zero; echo tail >&2", limit: 65536)
        #expect(r.succeeded)
        #expect(r.standardOutput.count == 65536)
        #expect(r.outputTruncated)
        #expect(r.errorText == "tail\n")
    }

    @Test func childLeadsItsOwnProcessGroupWithCleanEnvironment() throws {
        let r = try ProcessSpawn.run(SpawnOptions(
            executable: "/bin/sh",
            arguments: ["-c", "echo $$; cut -d' ' -f5 /proc/$$/stat; echo ${FOO:-unset}"],
            environment: ["PATH=/usr/bin:/bin"], timeoutMilliseconds: 5000))
        let lines = r.outputText.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines.first == lines.dropFirst().first)  // pgid == pid
        #expect(lines.first != String(getpgrp()))
        #expect(lines.last == "unset")
    }

    @Test func timeoutKillsTheWholeProcessGroupIncludingGrandchild() throws {
        let r = try sh("sleep 100 & echo $!; sleep 100", timeoutMs: 300, graceMs: 500)
        #expect(r.timedOut)
        #expect(r.termination == .signaled(SIGTERM))
        #expect(r.durationMilliseconds >= 300)
        #expect(r.durationMilliseconds < 300 + 500 + 700)
        let grandchild = pid_t(r.outputText.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(grandchild != nil)
        if let grandchild { #expect(TestSystem.waitGone(grandchild, timeout: 2)) }
    }

    @Test func termIgnoringGroupGetsKillAfterGrace() throws {
        let r = try sh("trap '' TERM; sleep 100 & echo $!; while :; do sleep 1; done",
                       timeoutMs: 200, graceMs: 400)
        #expect(r.timedOut)
        #expect(r.termination == .signaled(SIGKILL))
        #expect(r.durationMilliseconds >= 200 + 400)
        #expect(r.durationMilliseconds < 200 + 400 + 800)
        if let grandchild = pid_t(r.outputText.trimmingCharacters(in: .whitespacesAndNewlines)) {
            #expect(TestSystem.waitGone(grandchild, timeout: 2))
        } else {
            Issue.record("no grandchild pid in output: \(r.outputText)")
        }
    }

    @Test func leftoverBackgroundProcessIsKilledWhenLeaderExits() throws {
        // The background sleep keeps stdout open: without the group kill we
        // would wait for it (or leak it).
        let r = try sh("sleep 100 & echo $!; exit 0", timeoutMs: 5000)
        #expect(r.succeeded)
        #expect(r.durationMilliseconds < 2000)
        if let leftover = pid_t(r.outputText.trimmingCharacters(in: .whitespacesAndNewlines)) {
            #expect(TestSystem.waitGone(leftover, timeout: 2))
        } else {
            Issue.record("no pid in output: \(r.outputText)")
        }
    }

    @Test func missingProgramThrows() {
        #expect(throws: SpawnError.spawnFailed(executable: "/nonexistent/prog", errno: ENOENT)) {
            try ProcessSpawn.run(SpawnOptions(executable: "/nonexistent/prog", timeoutMilliseconds: 1000))
        }
    }

    @Test func scriptBusyForWritingIsRetriedBriefly() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-spawn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/script"
        try TestSystem.write("#!/bin/sh\necho ran\n", to: path, mode: 0o755)
        // Held open for writing for good: the retries give up with ETXTBSY.
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        #expect(throws: SpawnError.spawnFailed(executable: path, errno: ETXTBSY)) {
            try ProcessSpawn.run(SpawnOptions(executable: path, timeoutMilliseconds: 1000))
        }
        // Released 20 ms into the spawn: a retry succeeds.
        let closer = Thread { usleep(20_000); close(fd) }
        closer.start()
        let r = try ProcessSpawn.run(SpawnOptions(executable: path, timeoutMilliseconds: 2000))
        #expect(r.succeeded)
        #expect(r.outputText == "ran\n")
    }

    @Test func noDescriptorLeaksIntoTheChild() throws {
        let fd = open("/dev/null", O_RDONLY)  // not CLOEXEC on purpose
        defer { close(fd) }
        let r = try sh("ls /proc/$$/fd")
        let fds = Set(r.outputText.split(separator: "\n").map(String.init))
        #expect(!fds.contains(String(fd)))
    }
}
