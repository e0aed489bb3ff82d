// The AAC supervisor with real processes: a killed service is restarted; an exhausted restart
// budget asks for a handover (or raises the failure); ACTIVE-only checking; startup grace;
// broken agents; an overrunning check; the operator API (enable, disable, start, stop, restart,
// reset statistics) and its refusals.
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

        // Failing again, then reset by the operator: the counters go, the failure stays (the
        // service is still down: withdrawing the failover request would be wrong).
        _ = FileManager.default.createFile(atPath: "\(dir)/broken", contents: nil)
        kill(try #require(AACTest.servicePID(dir)), SIGKILL)
        #expect(AACTest.eventually(15) { submitted.all.count == 3 })
        #expect(submitted.all[2].0 == .localFailure)
        try sup.resetStatistics("svc")
        let reset = try #require(sup.status("svc"))
        #expect(reset.state == .failed && reset.handoverRequests == 0 && reset.restartsInWindow == 0 && reset.failedChecks <= 1)
        usleep(300_000)
        #expect(submitted.all.count == 3 && sup.failedBeyondRecovery, "a reset must not take back the failure")
        #expect(sup.status("svc")?.state == .failed && sup.status("svc")?.restarts == 0, "no restart of a failed rule after a reset")
        // The operator stops the rule: no longer monitored, so the failure is taken back.
        try sup.stop("svc")
        #expect(submitted.all.count == 4 && submitted.all[3].0 == .localRecovered)
        #expect(sup.status("svc")?.state == .stopped && !sup.failedBeyondRecovery)
        #expect(AACTest.eventually(10) { sup.status("svc")?.lastOperatorAction.hasPrefix("stop by the operator: done") == true })
        // Repaired and started by the operator: running again, nothing more for the state machine.
        try? FileManager.default.removeItem(atPath: "\(dir)/broken")
        try sup.start("svc")
        #expect(AACTest.eventually(10) { sup.status("svc")?.state == .running }, "\(String(describing: sup.status("svc")))")
        #expect(submitted.all.count == 4)
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

    /// `stop` stops the service through its agent and takes the rule out of the AAC's hands
    /// (no check, no restart, no failover); `start` runs the start action and hands it back.
    @Test func operatorStopAndStart() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let start = try AACTest.serviceStartScript(dir)
        let submitted = SubmittedCommands()
        let sup = supervisor(try AACTest.configuration(serviceRule(dir, start: start, extra: "critical = true")), submitted)
        sup.start()
        defer { sup.stop() }
        // Services belong to the ACTIVE node: nothing is started or stopped elsewhere.
        #expect(throws: AACSupervisor.ControlError.notActive) { try sup.stop("svc") }
        #expect(throws: AACSupervisor.ControlError.notActive) { try sup.start("svc") }
        #expect(throws: AACSupervisor.ControlError.unknownRule("nope")) { try sup.stop("nope") }
        #expect(throws: AACSupervisor.ControlError.unknownRule("nope")) { try sup.start("nope") }
        #expect(try AACTest.run([start]) == 0)
        let first = try #require(AACTest.servicePID(dir))
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(10) { sup.status("svc")?.state == .running })
        #expect(throws: AACSupervisor.ControlError.alreadyRunning("svc")) { try sup.start("svc") }

        // stop: the process agent's stop (SIGTERM) ends the service; the rule is not monitored.
        try sup.stop("svc")
        #expect(sup.status("svc")?.state == .stopped && sup.status("svc")?.enabled == false)
        #expect(TestSystem.waitGone(first, timeout: 10), "the operator's stop did not stop the service")
        #expect(AACTest.eventually(10) { sup.status("svc")?.lastOperatorAction.hasPrefix("stop by the operator: done") == true },
                "\(String(describing: sup.status("svc")))")
        #expect(sup.status("svc")?.operatorActionPending == false)
        let checks = sup.status("svc")?.checks
        usleep(500_000)
        let after = try #require(sup.status("svc"))
        #expect(after.checks == checks && after.state == .stopped && after.restarts == 0, "a stopped rule is neither checked nor restarted")
        #expect(AACTest.servicePID(dir) == first, "nothing started the service again")
        #expect(submitted.all.isEmpty && !sup.failedBeyondRecovery && !sup.criticalServiceFailed)
        #expect(throws: AACSupervisor.ControlError.stopped("svc")) { try sup.stop("svc") }
        #expect(throws: AACSupervisor.ControlError.stopped("svc")) { try sup.restart("svc") }
        // Stopped stays stopped across a role change (the operator's decision).
        sup.roleChanged(to: .leaving)
        sup.roleChanged(to: .active)
        usleep(300_000)
        #expect(sup.status("svc")?.state == .stopped && AACTest.servicePID(dir) == first)

        // start: the rule's start command, then monitored again.
        try sup.start("svc")
        #expect(AACTest.eventually(10) { AACTest.servicePID(dir) != first && sup.status("svc")?.state == .running },
                "\(String(describing: sup.status("svc")))")
        let s = try #require(sup.status("svc"))
        #expect(s.enabled && s.lastOperatorAction.hasPrefix("start by the operator: done") && s.restarts == 0)
        #expect(TestSystem.isRunning(try #require(AACTest.servicePID(dir))))
        // Monitored again: a killed service is restarted by the AAC.
        let second = try #require(AACTest.servicePID(dir))
        kill(second, SIGKILL)
        #expect(AACTest.eventually(15) { sup.status("svc")?.restarts == 1 && sup.status("svc")?.state == .running })
    }

    /// While an operator start or stop runs, other operator commands on the rule are refused;
    /// a failed stop leaves the rule stopped (unmonitored) and may be tried again.
    @Test func operatorActionsInProgressAndFailedStops() throws {
        let dir = try TestSystem.makeTempDirectory("shaolin-aac")
        defer { AACTest.cleanUp(dir) }
        let agent = try AACTest.script(dir, "slow", """
            case "$1" in
              monitor) [ -e "\(dir)/up" ] && { echo up; exit 0; }; echo down; exit 7 ;;
              start)   sleep 1.5; touch "\(dir)/up"; echo "started slowly"; exit 0 ;;
              stop)    [ -e "\(dir)/stop-fails" ] && { echo "cannot stop"; exit 1; }; rm -f "\(dir)/up"; exit 0 ;;
              *) exit 3 ;;
            esac
            """)
        let submitted = SubmittedCommands()
        let sup = supervisor(try AACTest.configuration("""
            [[aac.rule]]
            name = "slow"
            agent = "\(agent)"
            interval_ms = 100
            startup_grace_ms = 0
            """), submitted)
        sup.start()
        defer { sup.stop() }
        _ = FileManager.default.createFile(atPath: "\(dir)/up", contents: nil)
        sup.roleChanged(to: .active)
        #expect(AACTest.eventually(10) { sup.status("slow")?.state == .running })
        try sup.stop("slow")
        #expect(AACTest.eventually(10) { !FileManager.default.fileExists(atPath: "\(dir)/up") && sup.status("slow")?.operatorActionPending == false })

        try sup.start("slow")
        #expect(sup.status("slow")?.state == .starting && sup.status("slow")?.operatorActionPending == true)
        for (what, call) in [("start", { try sup.start("slow") }), ("stop", { try sup.stop("slow") }), ("restart", { try sup.restart("slow") }),
                             ("enable", { try sup.enable("slow") }), ("disable", { try sup.disable("slow") })] as [(String, () throws -> Void)] {
            #expect(throws: AACSupervisor.ControlError.busy("slow"), "\(what) during the start") { try call() }
        }
        try sup.resetStatistics("slow")  // counters may be reset at any time
        #expect(AACTest.eventually(10) { sup.status("slow")?.state == .running && sup.status("slow")?.operatorActionPending == false })
        #expect(sup.status("slow")?.lastOperatorAction.contains("started slowly") == true)

        // A stop that fails: logged, shown, the rule stays stopped; a second stop is allowed.
        _ = FileManager.default.createFile(atPath: "\(dir)/stop-fails", contents: nil)
        try sup.stop("slow")
        #expect(AACTest.eventually(10) { sup.status("slow")?.lastOperatorAction.contains("cannot stop") == true })
        let failed = try #require(sup.status("slow"))
        #expect(failed.state == .stopped && failed.lastOperatorAction.hasPrefix("stop by the operator failed"), "\(failed.lastOperatorAction)")
        try? FileManager.default.removeItem(atPath: "\(dir)/stop-fails")
        try sup.stop("slow")
        #expect(AACTest.eventually(10) { sup.status("slow")?.lastOperatorAction.hasPrefix("stop by the operator: done") == true })
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/up"))
        #expect(throws: AACSupervisor.ControlError.stopped("slow")) { try sup.stop("slow") }
        // enable hands a stopped rule back to the AAC without starting it: the check finds it
        // down and the agent's start (the restart procedure) brings it up.
        try sup.enable("slow")
        #expect(AACTest.eventually(15) { sup.status("slow")?.state == .running && sup.status("slow")?.restarts == 1 })
        #expect(submitted.all.isEmpty)
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
        #expect(after.operatorRestarts == 0 && after.restarts == 0 && after.checks <= 1 && after.failedChecks == 0)
        #expect(after.state == .running)
        // Counters count again after the reset.
        #expect(AACTest.eventually(10) { (sup.status("svc")?.checks ?? 0) >= 2 })
        try sup.resetStatistics()
        // Allowed on a node that is not ACTIVE, on a disabled rule.
        sup.roleChanged(to: .standby)
        try sup.resetStatistics("off")
        try sup.resetStatistics("svc")
        #expect(sup.status("svc")?.checks == 0 && sup.status("svc")?.state == .idle)
    }
}
