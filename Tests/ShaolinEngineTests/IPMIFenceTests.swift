import Foundation
import Glibc
import ShaolinEngine
import ShaolinLinux
import Testing

/// Every test that starts an ipmi_sim lives under this suite and runs one at
/// a time: timing bounds are checked and the machine has two shared cores.
@Suite("Real BMC (ipmi_sim)", .serialized)
struct RealBMCTests {}

/// Against a real ipmi_sim whose chassis drives a real peer process.
extension RealBMCTests {
@Suite("IPMIFence against ipmi_sim")
struct IPMIFenceTests {
    @Test func offStopsThePeerAndConfirmsOnlyAfterStatusSaysOff() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        let peer = try bmc.powerOnPeer()
        #expect(TestSystem.isRunning(peer))
        #expect(try bmc.powerStatus() == "on")

        let outcome = IPMIFence(settings: bmc.settings()).fence(action: .off)
        let runningAtConfirmation = TestSystem.isRunning(peer)
        #expect(outcome.result == .confirmedOff, "\(outcome.log)")
        // The peer process really stopped, before the confirmation (ipmi_sim
        // acts at its 1 s tick and reports off once its startcmd child died).
        #expect(!runningAtConfirmation)
        #expect(try bmc.powerStatus() == "off")
        // Sequence in the log: off accepted, then status polls, the last "off".
        let offLine = outcome.log.firstIndex { $0.contains("chassis power off: accepted") }
        let statusLines = outcome.log.indices.filter { outcome.log[$0].contains("chassis power status") }
        #expect(offLine != nil)
        #expect(!statusLines.isEmpty)
        if let offLine, let first = statusLines.first, let last = statusLines.last {
            #expect(first > offLine)
            #expect(outcome.log[last].contains("status: off"))
        }
    }

    @Test func peerIgnoringSIGTERMIsGoneWhenOffIsConfirmed() throws {
        let bmc = try IPMISimulator(peerIgnoresTerm: true)
        defer { bmc.stop() }
        let peer = try bmc.powerOnPeer()
        let outcome = IPMIFence(settings: bmc.settings()).fence(action: .off)
        let runningAtConfirmation = TestSystem.isRunning(peer)
        #expect(outcome.result == .confirmedOff, "\(outcome.log)")
        #expect(!runningAtConfirmation, "\(outcome.log)")
    }

    @Test func wrongPasswordFailsClearlyWithoutRetryOrEffect() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        let peer = try bmc.powerOnPeer()
        let wrong = bmc.directory + "/wrong-password"
        try TestSystem.write("not-the-secret\n", to: wrong, mode: 0o600)

        let outcome = IPMIFence(settings: bmc.settings(passwordFile: wrong, retries: 2))
            .fence(action: .off)
        guard case .failed(let reason) = outcome.result else {
            Issue.record("expected failure, got \(outcome.result): \(outcome.log)")
            return
        }
        #expect(reason.contains("authentication failed (check user/password)"))
        #expect(!outcome.isConfirmedOff)
        #expect(outcome.log.filter { $0.contains("chassis power off") }.count == 1)
        #expect(TestSystem.isRunning(peer))
        #expect(try bmc.powerStatus() == "on")
    }

    @Test func silentBMCTimesOutWithinTheBoundAfterRetries() throws {
        let port = try TestSystem.freePort()  // nothing listens here
        var settings = IPMIFenceSettings(
            host: "127.0.0.1", port: port, user: "admin", passwordFile: "/dev/null",
            callTimeout: 700, retries: 1, powerTimeout: 2000)
        settings.retryBackoff = 200
        let outcome = IPMIFence(settings: settings).fence(action: .off)
        guard case .timeout(let reason) = outcome.result else {
            Issue.record("expected timeout, got \(outcome.result): \(outcome.log)")
            return
        }
        #expect(reason == "BMC at 127.0.0.1:\(port) did not answer within 700 ms")
        #expect(outcome.log.contains { $0.contains("(retry 1)") })
        // 2 calls × 700 ms + 200 ms backoff, plus up to 200 ms kill grace each.
        #expect(outcome.durationMilliseconds >= 1600)
        #expect(outcome.durationMilliseconds < 1600 + 400 + 1000)
        #expect(outcome.durationMilliseconds < Double(settings.worstCaseMilliseconds))
    }

    @Test func frozenBMCIsBoundedByTheCallTimeout() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        let peer = try bmc.powerOnPeer()
        bmc.freeze()
        let outcome = IPMIFence(settings: bmc.settings(callTimeout: 800, retries: 0))
            .fence(action: .status)
        bmc.thaw()
        guard case .timeout = outcome.result else {
            Issue.record("expected timeout, got \(outcome.result): \(outcome.log)")
            return
        }
        #expect(outcome.durationMilliseconds >= 800)
        #expect(outcome.durationMilliseconds < 800 + 200 + 800)
        // Thawed, the BMC answers again and nothing was fenced.
        #expect(try bmc.powerStatus() == "on")
        #expect(TestSystem.isRunning(peer))
    }

    @Test func bmcFrozenDuringOffIsNotConfirmedAndStaysWithinWorstCase() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        _ = try bmc.powerOnPeer()
        let settings = bmc.settings(callTimeout: 600, retries: 1, powerTimeout: 1500)
        let simPID = bmc.pid
        // Freeze the BMC 30 ms into the fencing call.
        let freezer = Thread { usleep(30_000); kill(simPID, SIGSTOP) }
        freezer.start()
        let outcome = IPMIFence(settings: settings).fence(action: .off)
        bmc.thaw()
        #expect(!outcome.isConfirmedOff, "\(outcome.log)")
        #expect(outcome.durationMilliseconds < Double(settings.worstCaseMilliseconds + 1500))
    }

    @Test func cycleOnAlreadyOffChassisIsConfirmedWithoutSendingCycle() throws {
        let bmc = try IPMISimulator()  // startnow false: chassis starts off
        defer { bmc.stop() }
        #expect(try bmc.powerStatus() == "off")
        let outcome = IPMIFence(settings: bmc.settings()).fence(action: .cycle)
        #expect(outcome.result == .confirmedOff, "\(outcome.log)")
        #expect(outcome.log.contains { $0.contains("cycle not sent") })
        // ipmi_sim powers an off chassis ON for `cycle`: had we sent it, the
        // peer would start within about 2 s.
        usleep(2_500_000)
        #expect(try bmc.powerStatus() == "off")
        #expect(access(bmc.peerPIDFile, F_OK) != 0)
    }

    @Test func cycleOnRunningChassisIsConfirmedAndRestartsThePeer() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        let peer = try bmc.powerOnPeer()
        let outcome = IPMIFence(settings: bmc.settings()).fence(action: .cycle)
        #expect(outcome.result == .confirmedOff, "\(outcome.log)")
        #expect(outcome.log.contains { $0.contains("chassis power cycle: accepted") })
        #expect(TestSystem.waitGone(peer, timeout: 3))
    }

    @Test func resetRejectedByProcessBackedBMCIsAFailureNotAConfirmation() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        let peer = try bmc.powerOnPeer()
        let outcome = IPMIFence(settings: bmc.settings(retries: 0)).fence(action: .reset)
        guard case .failed(let reason) = outcome.result else {
            Issue.record("expected failure, got \(outcome.result): \(outcome.log)")
            return
        }
        #expect(reason.contains("chassis power reset failed"))
        #expect(reason.contains("Invalid data field"))
        #expect(TestSystem.isRunning(peer))
    }

    @Test func passwordFromEnvironmentVariable() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        var settings = bmc.settings()
        settings.passwordFile = nil
        settings.passwordEnv = "SHAOLIN_TEST_BMC_PASSWORD"
        let good = IPMIFence(settings: settings,
                             environment: ["SHAOLIN_TEST_BMC_PASSWORD": bmc.password])
        #expect(good.fence(action: .status).result == .confirmedOff)
        let unset = IPMIFence(settings: settings, environment: [:]).fence(action: .status)
        #expect(unset.result == .failed("password environment variable SHAOLIN_TEST_BMC_PASSWORD is not set"))
    }

    @Test func onThenStatusReportOn() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        let fence = IPMIFence(settings: bmc.settings())
        #expect(fence.fence(action: .on).result == .reportedOn)
        #expect(fence.fence(action: .status).result == .reportedOn)
        #expect(!fence.fence(action: .status).isConfirmedOff)
    }

    @Test func sequenceFallsBackFromBadCredentialsToAWorkingBMC() throws {
        let bmc = try IPMISimulator()
        defer { bmc.stop() }
        let peer = try bmc.powerOnPeer()
        let wrong = bmc.directory + "/wrong"
        try TestSystem.write("nope\n", to: wrong, mode: 0o600)
        let report = FenceSequence(methods: [
            FenceMethod(driver: IPMIFence(settings: bmc.settings(passwordFile: wrong))),
            FenceMethod(driver: IPMIFence(settings: bmc.settings())),
        ]).run()
        #expect(report.confirmedBy?.level == 2, "\(report.attempts.map(\.log))")
        #expect(report.attempts.first?.isAuthenticationFailure == true)
        #expect(TestSystem.waitGone(peer, timeout: 3))
    }
}
}

/// The driver's polling logic against a scripted ipmitool (deterministic).
@Suite("IPMIFence with a scripted ipmitool")
struct IPMIFenceScriptedTests {
    /// A fake ipmitool: records its arguments; `status` says "on" until the
    /// `offAfter`-th status call.
    func fakeIPMITool(offAfter: Int, extra: String = "") throws -> (dir: String, tool: String) {
        let dir = try TestSystem.makeTempDirectory("shaolin-fakeipmi")
        let tool = dir + "/ipmitool"
        try TestSystem.write("""
            #!/bin/sh
            echo "$*" >> \(dir)/args
            for a; do verb=$a; done
            echo "$verb" >> \(dir)/calls
            \(extra)
            case $verb in
              off) echo "Chassis Power Control: Down/Off" ;;
              status)
                n=$(grep -c '^status$' \(dir)/calls)
                if [ "$n" -ge \(offAfter) ]; then echo "Chassis Power is off"; else echo "Chassis Power is on"; fi ;;
              *) echo "Chassis Power Control: $verb" ;;
            esac

            """, to: tool, mode: 0o755)
        return (dir, tool)
    }

    func settings(_ tool: String) -> IPMIFenceSettings {
        var s = IPMIFenceSettings(host: "192.0.2.1", user: "admin", passwordFile: "/etc/bmc-pw",
                                  callTimeout: 2000, retries: 1, powerTimeout: 3000,
                                  ipmitoolPath: tool)
        s.pollInterval = 50
        return s
    }

    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    @Test func confirmsOnlyWhenStatusTurnsOff() throws {
        let (dir, tool) = try fakeIPMITool(offAfter: 3)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outcome = IPMIFence(settings: settings(tool)).fence(action: .off)
        #expect(outcome.result == .confirmedOff)
        #expect(lines(dir + "/calls") == ["off", "status", "status", "status"])
        // Cipher suite, privilege and password file on every call; never the password.
        for args in lines(dir + "/args") {
            #expect(args.hasPrefix("-I lanplus -H 192.0.2.1 -p 623 -U admin -f /etc/bmc-pw -C 3 -L ADMINISTRATOR"))
        }
    }

    @Test func powerThatNeverGoesOffTimesOutAtPowerTimeout() throws {
        let (dir, tool) = try fakeIPMITool(offAfter: 1_000_000)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var s = settings(tool)
        s.powerTimeout = 600
        let outcome = IPMIFence(settings: s).fence(action: .off)
        #expect(outcome.result == .timeout("BMC at 192.0.2.1:623 did not report power off within 600 ms"))
        #expect(outcome.durationMilliseconds >= 600)
        #expect(outcome.durationMilliseconds < 600 + 2000 + 500)
        #expect(lines(dir + "/calls").filter { $0 == "status" }.count >= 2)
    }

    @Test func authenticationErrorIsNamedAndNotRetried() throws {
        let (dir, tool) = try fakeIPMITool(
            offAfter: 1, extra: "echo '> RAKP 2 HMAC is invalid' >&2; exit 1")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outcome = IPMIFence(settings: settings(tool)).fence(action: .off)
        #expect(outcome.result == .failed("authentication failed (check user/password) at 192.0.2.1:623"))
        #expect(lines(dir + "/calls") == ["off"])
    }

    @Test func failedOffOnAnOffChassisStillConfirmsThroughStatus() throws {
        let (dir, tool) = try fakeIPMITool(
            offAfter: 1, extra: "[ $verb = off ] && { echo 'Completion code 0xd5' >&2; exit 1; }")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var s = settings(tool)
        s.retries = 0
        let outcome = IPMIFence(settings: s).fence(action: .off)
        #expect(outcome.result == .confirmedOff)
        #expect(lines(dir + "/calls") == ["off", "status"])
    }

    @Test func missingPasswordConfigurationFailsBeforeAnyCall() {
        let s = IPMIFenceSettings(host: "192.0.2.1", user: "admin", ipmitoolPath: "/bin/false")
        let outcome = IPMIFence(settings: s).fence(action: .off)
        #expect(outcome.result == .failed("no password configured (set passwordFile or passwordEnv)"))
    }
}
