import Foundation
import Glibc
import ShaolinEngine
import ShaolinLinux
import Testing

/// Debian's fence-agents fence_ipmilan against the same ipmi_sim.
extension RealBMCTests {
@Suite("FenceAgent: fence_ipmilan against ipmi_sim")
struct FenceIPMILanTests {
    func agent(_ bmc: IPMISimulator, password: String? = nil) throws -> FenceAgent {
        guard let path = TestSystem.which("fence_ipmilan") else {
            throw TestFailure.setup("fence_ipmilan not installed (Debian package fence-agents)")
        }
        return FenceAgent(settings: FenceAgentSettings(
            agentPath: path,
            options: [
                "ip": bmc.host, "ipport": String(bmc.lanPort),
                "username": bmc.user, "password": password ?? bmc.password,
                "lanplus": "1", "cipher": "3", "privlvl": "administrator",
                "power_timeout": "10",
            ],
            callTimeout: 30000, retries: 0))
    }

    @Test func statusOffThenOnThenFenceOff() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        let fence = try agent(bmc)
        #expect(fence.fence(action: .status).result == .confirmedOff)
        let peer = try bmc.powerOnPeer()
        #expect(fence.fence(action: .status).result == .reportedOn)

        let outcome = fence.fence(action: .off)
        #expect(outcome.result == .confirmedOff, "\(outcome.log)")
        #expect(outcome.log.contains { $0.contains("action=off: exit 0") })
        #expect(outcome.log.contains { $0.contains("action=status: exit 2") })
        #expect(TestSystem.waitGone(peer, timeout: 3))
        #expect(try bmc.powerStatus() == "off")
    }

    @Test func wrongPasswordIsAFailure() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        let peer = try bmc.powerOnPeer()
        let outcome = try agent(bmc, password: "wrong").fence(action: .off)
        guard case .failed(let reason) = outcome.result else {
            Issue.record("expected failure, got \(outcome.result): \(outcome.log)")
            return
        }
        #expect(reason.contains("fence_ipmilan action=off ended with exit 1"))
        #expect(!reason.contains("DeprecationWarning"))
        #expect(TestSystem.isRunning(peer))
    }
}
}

/// The stdin protocol and exit-code rules, with a scripted agent.
@Suite("FenceAgent with a scripted agent")
struct FenceAgentScriptedTests {
    /// An agent that records its stdin and answers by a state file:
    /// off → writes "off"; status → 0 if on, 2 if off. `statusLies` makes
    /// status always say on.
    func scriptedAgent(initial: String, statusLies: Bool = false) throws -> (dir: String, path: String) {
        let dir = try TestSystem.makeTempDirectory("shaolin-agent")
        let path = dir + "/fence_test"
        try TestSystem.write(initial + "\n", to: dir + "/power")
        try TestSystem.write("""
            #!/bin/sh
            action=
            while IFS= read -r line; do
              echo "$line" >> \(dir)/stdin
              case $line in action=*) action=${line#action=} ;; esac
            done
            echo "--" >> \(dir)/stdin
            echo "$action" >> \(dir)/actions
            case $action in
              off) echo off > \(dir)/power; echo "Success: Powered OFF"; exit 0 ;;
              on) echo on > \(dir)/power; exit 0 ;;
              reboot) echo on > \(dir)/power; exit 0 ;;
              status)
                \(statusLies ? "echo 'Status: ON'; exit 0" : "")
                if [ "$(cat \(dir)/power)" = off ]; then echo "Status: OFF"; exit 2; fi
                echo "Status: ON"; exit 0 ;;
              *) echo "unknown action $action" >&2; exit 1 ;;
            esac

            """, to: path, mode: 0o755)
        return (dir, path)
    }

    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    @Test func writesOptionsAndActionOnStdinAndVerifiesOffWithStatus() throws {
        let (dir, path) = try scriptedAgent(initial: "on")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = FenceAgent(settings: FenceAgentSettings(
            agentPath: path, options: ["plug": "node-b", "ip": "10.0.0.9", "password": "pw"]))
        let outcome = agent.fence(action: .off)
        #expect(outcome.result == .confirmedOff)
        #expect(lines(dir + "/stdin") == [
            "ip=10.0.0.9", "password=pw", "plug=node-b", "action=off", "--",
            "ip=10.0.0.9", "password=pw", "plug=node-b", "action=status", "--",
        ])
        #expect(agent.target == "10.0.0.9 plug node-b")
        #expect(agent.name == "fence_test")
    }

    @Test func offSuccessWithStatusStillOnIsAFailure() throws {
        let (dir, path) = try scriptedAgent(initial: "on", statusLies: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = FenceAgent(settings: FenceAgentSettings(agentPath: path, retries: 0))
        #expect(agent.fence(action: .off).result
                == .failed("fence_test reported success for off but status says on"))
        // Trusting the agent's own wait instead:
        let trusting = FenceAgent(settings: FenceAgentSettings(
            agentPath: path, retries: 0, verifyWithStatus: false))
        #expect(trusting.fence(action: .off).result == .confirmedOff)
    }

    @Test func rebootOnAnOffPeerIsConfirmedWithoutRebooting() throws {
        let (dir, path) = try scriptedAgent(initial: "off")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = FenceAgent(settings: FenceAgentSettings(agentPath: path))
        #expect(agent.fence(action: .cycle).result == .confirmedOff)
        #expect(lines(dir + "/actions") == ["status"])
        #expect(lines(dir + "/power") == ["off"])
    }

    @Test func rebootOnARunningPeerIsSent() throws {
        let (dir, path) = try scriptedAgent(initial: "on")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = FenceAgent(settings: FenceAgentSettings(agentPath: path))
        #expect(agent.fence(action: .reset).result == .confirmedOff)
        #expect(lines(dir + "/actions") == ["status", "reboot"])
    }

    @Test func statusExitCodesMapToOnOffError() throws {
        let (dir, path) = try scriptedAgent(initial: "on")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = FenceAgent(settings: FenceAgentSettings(agentPath: path, retries: 0))
        #expect(agent.fence(action: .status).result == .reportedOn)
        try TestSystem.write("off\n", to: dir + "/power")
        #expect(agent.fence(action: .status).result == .confirmedOff)
        // Exit 1 from status is an error, neither on nor off.
        try TestSystem.write("#!/bin/sh\ncat >/dev/null; echo 'Failed: Unable to connect' >&2; exit 1\n",
                             to: path, mode: 0o755)
        guard case .failed(let reason) = agent.fence(action: .status).result else {
            Issue.record("exit 1 must be an error")
            return
        }
        #expect(reason.contains("Unable to connect"))
    }

    @Test func hungAgentTimesOutAndRetries() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-agent")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestSystem.write("#!/bin/sh\necho started >> \(dir)/runs\nsleep 100\n",
                             to: dir + "/fence_hang", mode: 0o755)
        let agent = FenceAgent(settings: FenceAgentSettings(
            agentPath: dir + "/fence_hang", callTimeout: 300, retries: 1, retryBackoff: 100))
        let outcome = agent.fence(action: .off)
        #expect(outcome.result == .timeout("fence_hang action=off did not finish within 300 ms"))
        #expect(lines(dir + "/runs").count == 2)
        #expect(outcome.durationMilliseconds < 2 * (300 + 500) + 100 + 1000)
        // Two runs (action, then status) with retries: 2 × (800 + 100 + 800).
        #expect(agent.worstCaseMilliseconds == 3400)
        #expect(outcome.durationMilliseconds < Double(agent.worstCaseMilliseconds))
    }

    @Test func optionsThatCouldInjectLinesAreRejected() {
        let agent = FenceAgent(settings: FenceAgentSettings(
            agentPath: "/bin/true", options: ["plug": "a\naction=on"]))
        guard case .failed = agent.fence(action: .off).result else {
            Issue.record("an option with a newline must be refused")
            return
        }
        let withAction = FenceAgent(settings: FenceAgentSettings(
            agentPath: "/bin/true", options: ["action": "on"]))
        #expect(!withAction.fence(action: .off).isConfirmedOff)
    }
}
