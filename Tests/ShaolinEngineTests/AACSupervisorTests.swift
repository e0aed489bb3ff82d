// The AAC supervisor with real processes: a killed service is restarted; an exhausted restart
// budget asks for a handover (or raises the failure); ACTIVE-only checking; startup grace;
// broken agents; an overrunning check; the operator API.
import Foundation
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import Testing

@Suite(.serialized) struct AACSupervisorTests {
    /// A rule watching the fake service with the built-in process agent.
    private func serviceRule(_ dir: String, start: String, extra: String = "") -> String {
        """
        [[aac.rule]]
        name = "svc"
        agent = "process"
        params = { pidfile = "\(dir)/svc.pid", name = "sleep" }
        interval_ms = 100
        timeout_ms = 5000
        startup_grace_ms = 0
        start = ["\(start)"]
        max_restarts = 2
        restart_window_ms = 60000
        \(extra)
        """
    }

    private func supervisor(_ aac: Configuration.AAC, _ submitted: SubmittedCommands, retryMs: Int64 = 300) -> AACSupervisor {
        AACSupervisor(aac: aac, node: "alpha", log: AACTest.log(), submit: { submitted.append($0, $1) },
                      handoverRetryNanos: retryMs * 1_000_000)
    }

    @Test func killedServiceIsRestarted() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let start = try AACTest.serviceStartScript(dir)
        #expect(try AACTest.run([start]) == 0)
        let first = try #require(AACTest.servicePID(dir))
        let submitted = SubmittedCommands()
        let sup = supervisor(try AACTest.configuration(serviceRule(dir, start: start)), submitted)
        sup.start()
        defer { sup.stop() }
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(10) { sup.status("svc")?.state == .running })
        #expect(sup.status("svc")?.lastMessage == "running (pid \(first))")

        kill(first, SIGKILL)
        #expect(AACTest.eventually(15) {
            guard let p = AACTest.servicePID(dir), p != first else { return false }
            return TestSystem.isRunning(p) && sup.status("svc")?.state == .running
        }, "the service was not restarted: \(String(describing: sup.status("svc")))")
        let s = try #require(sup.status("svc"))
        #expect(s.restarts == 1 && s.restartsInWindow == 1 && s.failedChecks >= 1)
        #expect(submitted.all.isEmpty)
        #expect(!sup.failedBeyondRecovery)
    }

    @Test func exhaustedRestartsAskForAHandoverAndRetryWhileRefused() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let start = try AACTest.serviceStartScript(dir)
        #expect(try AACTest.run([start]) == 0)
        let submitted = SubmittedCommands()
        let sup = supervisor(try AACTest.configuration(serviceRule(dir, start: start, extra: "critical = true")), submitted)
        sup.start()
        defer { sup.stop() }
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(10) { sup.status("svc")?.state == .running })

        // From now on the service cannot start: two restarts, then beyond recovery.
        _ = FileManager.default.createFile(atPath: "\(dir)/broken", contents: nil)
        kill(try #require(AACTest.servicePID(dir)), SIGKILL)
        #expect(AACTest.eventually(15) { !submitted.all.isEmpty }, "\(String(describing: sup.status("svc")))")
        let (command, id) = submitted.all[0]
        #expect(command == .localFailure)
        #expect(id & AACSupervisor.commandIDBase != 0)
        let s = try #require(sup.status("svc"))
        #expect(s.state == .failed && s.restarts == 2 && s.restartsInWindow == 2 && s.handoverRequests == 1)
        #expect(sup.failedBeyondRecovery && sup.criticalServiceFailed)

        // Refused (no healthy STANDBY): asked again after the retry time, not before an answer.
        usleep(400_000)
        #expect(submitted.all.count == 1, "no second request while the first is unanswered")
        #expect(sup.commandReplied(id: id, accepted: false, refusal: .peerNotStandby))
        #expect(AACTest.eventually(10) { submitted.all.count == 2 })
        #expect(submitted.all[1].0 == .localFailure && submitted.all[1].1 != id)
        // Accepted: the node goes LEAVING; everything stops.
        sup.commandReplied(id: submitted.all[1].1, accepted: true, refusal: nil)
        sup.roleChanged(to: .leaving)
        let checks = try #require(sup.status("svc")).checks
        usleep(500_000)
        #expect(sup.status("svc")?.checks == checks)
        #expect(sup.status("svc")?.state == .idle)
        #expect(submitted.all.count == 2)
        #expect(!sup.failedBeyondRecovery && !sup.criticalServiceFailed)
        // Not a reply of ours.
        #expect(!sup.commandReplied(id: 7, accepted: true, refusal: nil))
    }

    @Test func aRecoveredOrResetRuleTakesBackTheLocalFailure() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let start = try AACTest.serviceStartScript(dir)
        _ = FileManager.default.createFile(atPath: "\(dir)/broken", contents: nil)
        let submitted = SubmittedCommands()
        let rule = serviceRule(dir, start: start).replacingOccurrences(of: "max_restarts = 2", with: "max_restarts = 0")
        let sup = supervisor(try AACTest.configuration(rule), submitted, retryMs: 60_000)
        sup.start()
        defer { sup.stop() }
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(15) { submitted.all.count == 1 })
        #expect(submitted.all[0].0 == .localFailure && sup.status("svc")?.state == .failed)
        sup.commandReplied(id: submitted.all[0].1, accepted: false, refusal: .peerUnreachable)
        // The operator repairs and starts the service: the next passing check ends the failure.
        try? FileManager.default.removeItem(atPath: "\(dir)/broken")
        #expect(try AACTest.run([start]) == 0)
        #expect(AACTest.eventually(10) { submitted.all.count == 2 })
        #expect(submitted.all[1].0 == .localRecovered && submitted.all[1].1 & AACSupervisor.commandIDBase != 0)
        #expect(sup.status("svc")?.state == .running && !sup.failedBeyondRecovery)

        // Failing again, then reset by the operator: taken back too.
        _ = FileManager.default.createFile(atPath: "\(dir)/broken", contents: nil)
        kill(try #require(AACTest.servicePID(dir)), SIGKILL)
        #expect(AACTest.eventually(15) { submitted.all.count == 3 })
        #expect(submitted.all[2].0 == .localFailure)
        try sup.resetStatistics("svc")
        #expect(submitted.all.count == 4 && submitted.all[3].0 == .localRecovered)
    }

    @Test func withoutFailoverTheFailureIsOnlyRaised() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let start = try AACTest.serviceStartScript(dir)
        _ = FileManager.default.createFile(atPath: "\(dir)/broken", contents: nil)
        let submitted = SubmittedCommands()
        let rule = serviceRule(dir, start: start, extra: "failover = false").replacingOccurrences(of: "max_restarts = 2", with: "max_restarts = 1")
        let sup = supervisor(try AACTest.configuration(rule), submitted)
        sup.start()
        defer { sup.stop() }
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(15) { sup.status("svc")?.state == .failed })
        usleep(500_000)
        #expect(submitted.all.isEmpty)
        #expect(sup.failedBeyondRecovery && !sup.criticalServiceFailed)
        #expect(sup.status("svc")?.restarts == 1)
        // Checks go on; the service coming back ends the failed state.
        try? FileManager.default.removeItem(atPath: "\(dir)/broken")
        #expect(try AACTest.run([start]) == 0)
        #expect(AACTest.eventually(10) { sup.status("svc")?.state == .running })
        #expect(!sup.failedBeyondRecovery)
    }

    @Test func onlyTheActiveChecksAndLeavingStopsChecksButNotServices() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let start = try AACTest.serviceStartScript(dir)
        let submitted = SubmittedCommands()
        let sup = supervisor(try AACTest.configuration(serviceRule(dir, start: start)), submitted)
        sup.start()
        defer { sup.stop() }
        for role in [Role.booting, .standby, .fencing] {
            sup.roleChanged(to: role)
            usleep(300_000)
            #expect(sup.status("svc")?.checks == 0 && sup.status("svc")?.state == .idle)
        }
        #expect(AACTest.servicePID(dir) == nil, "nothing may be started on a non-ACTIVE node")
        #expect(throws: AACSupervisor.ControlError.notActive) { try sup.restart("svc") }

        // ACTIVE: the service is down, so AAC starts it.
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(10) { sup.status("svc")?.state == .running })
        let pid = try #require(AACTest.servicePID(dir))
        sup.roleChanged(to: .leaving)
        #expect(sup.status("svc")?.state == .idle)
        let checks = sup.status("svc")?.checks
        usleep(400_000)
        #expect(sup.status("svc")?.checks == checks)
        #expect(TestSystem.isRunning(pid), "leaving ACTIVE does not stop services")
    }

    @Test func startupGraceHoldsOffRestartsUntilTheServiceWasSeen() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let start = try AACTest.serviceStartScript(dir)
        let submitted = SubmittedCommands()
        let rule = serviceRule(dir, start: start).replacingOccurrences(of: "startup_grace_ms = 0", with: "startup_grace_ms = 60000")
        let sup = supervisor(try AACTest.configuration(rule), submitted)
        sup.start()
        defer { sup.stop() }
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(10) { (sup.status("svc")?.failedChecks ?? 0) >= 3 })
        #expect(sup.status("svc")?.state == .starting && sup.status("svc")?.restarts == 0)
        // The boot starts it; once seen, the grace is over: a later death is acted upon at once.
        #expect(try AACTest.run([start]) == 0)
        #expect(AACTest.eventually(10) { sup.status("svc")?.state == .running }, "\(String(describing: sup.status("svc")))")
        let pid = try #require(AACTest.servicePID(dir))
        kill(pid, SIGKILL)
        #expect(AACTest.eventually(15) { sup.status("svc")?.restarts == 1 && sup.status("svc")?.state == .running })
    }

    @Test func brokenAgentIsNeitherRestartedNorFailedOver() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let submitted = SubmittedCommands()
        // The process agent without pidfile or name: exit 6 (not configured).
        let sup = supervisor(try AACTest.configuration("""
            [[aac.rule]]
            name = "bad"
            agent = "process"
            interval_ms = 100
            startup_grace_ms = 0
            start = ["/bin/false"]
            [[aac.rule]]
            name = "missing"
            agent = "/nonexistent/agent"
            interval_ms = 100
            startup_grace_ms = 0
            """), submitted)
        sup.start()
        defer { sup.stop() }
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(10) { sup.status("bad")?.state == .broken && sup.status("missing")?.state == .broken })
        #expect(AACTest.eventually(10) { (sup.status("bad")?.checks ?? 0) >= 3 })
        #expect(sup.status("bad")?.restarts == 0 && sup.status("missing")?.restarts == 0)
        #expect(sup.status("bad")?.lastMessage == "set params.pidfile or params.name")
        #expect(submitted.all.isEmpty && !sup.failedBeyondRecovery)
    }

    @Test func checkOnlyAgentWithoutCommandsFailsAtOnce() throws {
        // tcp cannot start anything and the rule has no commands: no local recovery is possible.
        let port = try TestSystem.freePort()
        let submitted = SubmittedCommands()
        let sup = supervisor(try AACTest.configuration("""
            [[aac.rule]]
            name = "port"
            agent = "tcp"
            params = { port = \(port) }
            interval_ms = 100
            startup_grace_ms = 0
            max_restarts = 5
            """), submitted)
        sup.start()
        defer { sup.stop() }
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(15) { !submitted.all.isEmpty })
        #expect(sup.status("port")?.state == .failed && sup.status("port")?.restarts == 1)
    }

    @Test func overrunningCheckCountsAsAFailureAndIsKilled() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let agent = try AACTest.script(dir, "hang", """
            case "$1" in
              monitor) [ -e "\(dir)/hang-now" ] || exit 0
                       sleep 1000 & echo $! >> "\(dir)/children"; wait ;;
              restart) rm -f "\(dir)/hang-now"; echo "unhung"; exit 0 ;;
              *) exit 3 ;;
            esac
            """)
        let submitted = SubmittedCommands()
        let sup = supervisor(try AACTest.configuration("""
            [[aac.rule]]
            name = "hang"
            agent = "\(agent)"
            interval_ms = 100
            timeout_ms = 300
            startup_grace_ms = 0
            """), submitted)
        sup.start()
        defer { sup.stop() }
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(10) { sup.status("hang")?.state == .running }, "\(String(describing: sup.status("hang")))")
        _ = FileManager.default.createFile(atPath: "\(dir)/hang-now", contents: nil)
        #expect(AACTest.eventually(15) { sup.status("hang")?.restarts == 1 && sup.status("hang")?.state == .running })
        let children = try String(contentsOfFile: "\(dir)/children", encoding: .utf8).split(separator: "\n").compactMap { pid_t($0) }
        #expect(!children.isEmpty)
        for c in children { #expect(TestSystem.waitGone(c, timeout: 3), "child \(c) of the overrun check survived") }
    }

    @Test func operatorAPI() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let start = try AACTest.serviceStartScript(dir)
        let submitted = SubmittedCommands()
        let rules = serviceRule(dir, start: start) + """

            [[aac.rule]]
            name = "off"
            agent = "tcp"
            params = { port = 1 }
            disabled = true
            """
        let sup = supervisor(try AACTest.configuration(rules), submitted)
        sup.start()
        defer { sup.stop() }
        #expect(sup.rules().map(\.name) == ["svc", "off"])
        #expect(sup.status("off")?.state == .disabled && sup.status("off")?.enabled == false)
        #expect(throws: AACSupervisor.ControlError.unknownRule("nope")) { try sup.enable("nope") }
        #expect(throws: AACSupervisor.ControlError.unknownRule("nope")) { try sup.disable("nope") }
        #expect(throws: AACSupervisor.ControlError.unknownRule("nope")) { try sup.restart("nope") }
        #expect(throws: AACSupervisor.ControlError.unknownRule("nope")) { try sup.resetStatistics("nope") }
        #expect(throws: AACSupervisor.ControlError.disabled("off")) { try sup.restart("off") }

        #expect(try AACTest.run([start]) == 0)
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(10) { sup.status("svc")?.state == .running })
        let first = try #require(AACTest.servicePID(dir))

        // restart by the operator: stop (process agent: SIGTERM) + the start command; not counted in the budget.
        try sup.restart("svc")
        #expect(AACTest.eventually(15) { sup.status("svc")?.operatorRestarts == 1 })
        #expect(TestSystem.waitGone(first, timeout: 5))
        #expect(AACTest.eventually(10) { AACTest.servicePID(dir) != first && sup.status("svc")?.state == .running })
        #expect(sup.status("svc")?.restarts == 0)

        // disable: no more checks, the service left alone.
        try sup.disable("svc")
        #expect(sup.status("svc")?.state == .disabled)
        usleep(200_000)
        let checks = sup.status("svc")?.checks
        usleep(400_000)
        #expect(sup.status("svc")?.checks == checks)
        #expect(throws: AACSupervisor.ControlError.disabled("svc")) { try sup.restart("svc") }
        try sup.enable("svc")
        #expect(AACTest.eventually(10) { (sup.status("svc")?.checks ?? 0) > (checks ?? 0) && sup.status("svc")?.state == .running })

        try sup.resetStatistics("svc")
        let after = try #require(sup.status("svc"))
        #expect(after.operatorRestarts == 0 && after.restarts == 0 && after.checks <= 1)
        try sup.resetStatistics()
    }
}
