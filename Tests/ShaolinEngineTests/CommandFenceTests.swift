import Foundation
import Glibc
import ShaolinEngine
import ShaolinLinux
import Testing

@Suite("CommandFence and FenceSequence")
struct CommandFenceTests {
    func script(_ body: String) throws -> (dir: String, path: String) {
        let dir = try TestSystem.makeTempDirectory("shaolin-cmd")
        try TestSystem.write("#!/bin/sh\n" + body + "\n", to: dir + "/fence", mode: 0o755)
        return (dir, dir + "/fence")
    }

    @Test func exitZeroConfirmsAndSeesActionAndTarget() throws {
        let (dir, path) = try script(
            "echo \"$SHAOLIN_FENCE_ACTION $SHAOLIN_FENCE_TARGET $SITE\" > \"$(dirname \"$0\")/seen\"")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fence = CommandFence(settings: CommandFenceSettings(
            path: path, environment: ["SITE=lab"], target: "node-b"))
        let outcome = fence.fence(action: .off)
        #expect(outcome.result == .confirmedOff)
        let seen = try String(contentsOfFile: dir + "/seen", encoding: .utf8)
        #expect(seen == "off node-b lab\n")
    }

    @Test func nonZeroExitFailsWithOutputInReason() throws {
        let (dir, path) = try script("echo 'PDU outlet 7 unreachable' >&2; exit 1")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outcome = CommandFence(settings: CommandFenceSettings(path: path)).fence(action: .off)
        #expect(outcome.result == .failed(
            "fence command \(path) ended with exit 1; output: PDU outlet 7 unreachable"))
    }

    @Test func hungCommandTimesOut() throws {
        let (dir, path) = try script("sleep 100")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outcome = CommandFence(settings: CommandFenceSettings(path: path, timeout: 300))
            .fence(action: .off)
        guard case .timeout = outcome.result else {
            Issue.record("expected timeout, got \(outcome.result)")
            return
        }
        #expect(outcome.durationMilliseconds < 300 + 500 + 700)
    }

    @Test func sequenceStopsAtFirstConfirmedLevel() throws {
        let (dir, _) = try script("exit 0")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestSystem.write("#!/bin/sh\necho ran > \(dir)/level3\nexit 0\n", to: dir + "/ok3", mode: 0o755)
        let sequence = FenceSequence(methods: [
            FenceMethod(driver: CommandFence(settings: CommandFenceSettings(path: "/bin/false", target: "pdu"))),
            FenceMethod(driver: CommandFence(settings: CommandFenceSettings(path: dir + "/fence", target: "san")),
                        action: .cycle),
            FenceMethod(driver: CommandFence(settings: CommandFenceSettings(path: dir + "/ok3"))),
        ])
        let report = sequence.run()
        #expect(report.isConfirmedOff)
        #expect(sequence.worstCaseMilliseconds == 3 * (30000 + 500))
        #expect(report.attempts.count == 2)
        #expect(report.attempts.map(\.level) == [1, 2])
        #expect(report.attempts.map(\.target) == ["pdu", "san"])
        #expect(report.attempts[0].result == .failed("fence command /bin/false ended with exit 1; output: "))
        #expect(report.confirmedBy?.level == 2)
        #expect(report.confirmedBy?.action == .cycle)
        #expect(report.attempts[1].summary.hasPrefix("level 2 command san cycle: confirmed off ("))
        #expect(access(dir + "/level3", F_OK) != 0)
    }

    @Test func sequenceWithNoConfirmationReportsEveryAttempt() {
        let sequence = FenceSequence(methods: [
            FenceMethod(driver: CommandFence(settings: CommandFenceSettings(path: "/bin/false"))),
            FenceMethod(driver: CommandFence(settings: CommandFenceSettings(path: "/nonexistent/fence"))),
        ])
        let report = sequence.run()
        #expect(!report.isConfirmedOff)
        #expect(report.attempts.count == 2)
        #expect(report.attempts[1].result == .failed("cannot run /nonexistent/fence: No such file or directory"))
        #expect(sequence.run(shouldContinue: { false }).attempts.isEmpty)
    }
}

extension FenceAttempt {
    var isAuthenticationFailure: Bool {
        if case .failed(let reason) = result { return reason.hasPrefix("authentication failed") }
        return false
    }
}
