// The agent contract's mechanics with real processes: exit codes, an overrunning agent killed
// with its children, and untrusted output (garbage, megabytes, control characters).
import Foundation
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import Testing

@Suite struct AgentCallTests {
    private func runScript(_ body: String, timeoutMs: Int64 = 5000, leave: Bool = false) throws -> (AgentCallResult, String) {
        let dir = try TestSystem.makeTempDirectory("shaolin-agentcall")
        let path = try AACTest.script(dir, "agent", body)
        let r = AgentCall.run(argv: [path, "monitor"], environment: ProcessSpawn.minimalEnvironment + ["DIR=\(dir)"],
                              timeoutMs: timeoutMs, action: "monitor", leaveServiceRunning: leave)
        return (r, dir)
    }

    @Test func exitCodesMapLikeOCF() throws {
        let cases: [(String, AgentOutcome)] = [
            ("exit 0", .success), ("exit 7", .notRunning), ("exit 1", .failed("exit 1")), ("exit 3", .unimplemented),
            ("exit 2", .misconfigured("exit 2: invalid arguments")), ("exit 4", .misconfigured("exit 4: insufficient permission")),
            ("exit 5", .misconfigured("exit 5: not installed")), ("exit 6", .misconfigured("exit 6: not configured")),
            ("exit 200", .failed("exit 200")), ("exit 300", .failed("exit 44")), ("kill -SEGV $$", .failed("killed by signal 11")),
        ]
        for (body, expected) in cases {
            let (r, dir) = try runScript(body + "\n")
            defer { AACTest.cleanUp(dir) }
            #expect(r.outcome == expected, "\(body)")
        }
    }

    @Test func missingOrNonExecutableAgentIsAConfigurationProblem() throws {
        let r = AgentCall.run(argv: ["/nonexistent/agent", "monitor"], environment: [], timeoutMs: 1000, action: "monitor",
                              leaveServiceRunning: false)
        guard case .misconfigured(let why) = r.outcome else { Issue.record("\(r.outcome)"); return }
        #expect(why.contains("No such file"))
        let dir = try TestSystem.makeTempDirectory("shaolin-agentcall")
        defer { AACTest.cleanUp(dir) }
        try TestSystem.write("#!/bin/sh\nexit 0\n", to: "\(dir)/noexec", mode: 0o644)
        let r2 = AgentCall.run(argv: ["\(dir)/noexec", "monitor"], environment: [], timeoutMs: 1000, action: "monitor",
                               leaveServiceRunning: false)
        guard case .misconfigured = r2.outcome else { Issue.record("\(r2.outcome)"); return }
    }

    @Test func overrunningAgentIsKilledWithItsWholeProcessGroup() throws {
        // The agent starts a child (which ignores SIGTERM) and a grandchild, then hangs.
        let (r, dir) = try runScript("""
            bash -c 'trap "" TERM; echo $$ > "$DIR/child.pid"; sleep 1000 & echo $! > "$DIR/grandchild.pid"; wait' &
            echo $$ > "$DIR/agent.pid"
            echo "checking..."
            sleep 1000
            """, timeoutMs: 300)
        defer { AACTest.cleanUp(dir) }
        #expect(r.outcome == .timedOut)
        #expect(r.message.hasPrefix("no answer within 300 ms; process group killed"), "\(r.message)")
        #expect(r.message.hasSuffix("last output: checking..."))
        for name in ["agent", "child", "grandchild"] {
            let text = try String(contentsOfFile: "\(dir)/\(name).pid", encoding: .utf8)
            let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(TestSystem.waitGone(pid, timeout: 3), "\(name) (pid \(pid)) survived the overrun")
        }
        // The call returned within timeout + kill grace (+ reaping slack): not after the children's sleep.
        #expect(r.durationNanoseconds < 10_000_000_000)
    }

    @Test func monitorLeavesNothingBehindButStartMay() throws {
        let body = """
            sleep 1000 </dev/null >/dev/null 2>&1 &
            echo $! > "$DIR/same-group.pid"
            echo $! >> "$DIR/all.pids"
            exit 0
            """
        let (monitor, d1) = try runScript(body)
        defer { AACTest.cleanUp(d1) }
        #expect(monitor.outcome == .success)
        let p1 = try #require(pid_t(try String(contentsOfFile: "\(d1)/same-group.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(TestSystem.waitGone(p1, timeout: 3), "a monitor's leftover in its group must be killed")

        let (start, d2) = try runScript(body, leave: true)
        defer { AACTest.cleanUp(d2) }
        #expect(start.outcome == .success)
        let p2 = try #require(pid_t(try String(contentsOfFile: "\(d2)/same-group.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(TestSystem.isRunning(p2), "a start's service must survive the call")
        kill(p2, SIGKILL)
    }

    @Test func garbageOutputIsBoundedAndNeverDecides() throws {
        // A megabyte of random bytes (NULs, invalid UTF-8, escape sequences) and no newline, then exit 0.
        let (r1, d1) = try runScript("head -c 1048576 /dev/urandom; exit 0\n")
        defer { AACTest.cleanUp(d1) }
        #expect(r1.outcome == .success)
        #expect(r1.message.count <= AgentCall.shownOutputLimit + 1)
        #expect(!r1.message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0.value == 0xFFFD })

        // 10 MB on stderr, a terminal escape and a NUL in the last stdout line, exit 7.
        let (r2, d2) = try runScript("""
            head -c 10000000 /dev/zero | tr '\\0' 'x' >&2
            printf 'ok line\\n\\033[2J\\000bad\\x01 \\xff\\xfe tail   \\n\\n'
            exit 7
            """)
        defer { AACTest.cleanUp(d2) }
        #expect(r2.outcome == .notRunning)
        #expect(r2.message == "?[2J?bad? ?? tail", "\(r2.message)")

        // Only stderr: its last line is the message.
        let (r3, d3) = try runScript("echo 'first' >&2; echo 'the reason' >&2; exit 1\n")
        defer { AACTest.cleanUp(d3) }
        #expect(r3.outcome == .failed("exit 1") && r3.message == "the reason")

        // A 5000-character line is cut.
        let (r4, d4) = try runScript("printf '%5000s\\n' '' | tr ' ' 'y'; exit 0\n")
        defer { AACTest.cleanUp(d4) }
        #expect(r4.message.count == AgentCall.shownOutputLimit + 1 && r4.message.hasSuffix("…"))
    }

    @Test func environmentFollowsTheContract() throws {
        let aac = try AACTest.configuration("""
            [[aac.rule]]
            name = "web"
            agent = "http"
            interval_ms = 250
            params = { url = "http://x/", Expect_Status = 204 }
            """)
        let env = AgentCall.environment(rule: aac.rules[0], action: "monitor", role: .active, node: "alpha", timeoutMs: 1234)
        #expect(env.contains("SHAOLIN_RULE=web") && env.contains("SHAOLIN_ACTION=monitor") && env.contains("SHAOLIN_ROLE=ACTIVE"))
        #expect(env.contains("SHAOLIN_NODE=alpha") && env.contains("SHAOLIN_TIMEOUT_MS=1234") && env.contains("SHAOLIN_INTERVAL_MS=250"))
        #expect(env.contains("SHAOLIN_PARAM_URL=http://x/") && env.contains("SHAOLIN_PARAM_EXPECT_STATUS=204"))
        #expect(env.contains("SHAOLIN_AGENT_API=1") && env.contains("LC_ALL=C"))
        #expect(!env.contains { $0.hasPrefix("HOME=") })
    }
}
