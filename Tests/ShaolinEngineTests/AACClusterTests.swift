// AAC in a real two-node cluster (tools/lab.sh: two network namespaces, veth + pty links):
// the ACTIVE's service is killed and cannot be restarted; after max_restarts the ACTIVE asks
// its state machine for a graceful handover and the STANDBY takes over (fencing the old
// ACTIVE, which has powered itself off), with never two ACTIVE nodes.
import Foundation
import Glibc
import Testing

@Suite(.serialized) struct AACClusterTests {
    /// The "aac_rules" array of a node's status file.
    private func aacRules(_ lab: Lab, _ node: String) -> [[String: Any]] {
        guard let d = FileManager.default.contents(atPath: "\(lab.dir)/\(node).status.json"),
              let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return [] }
        return o["aac_rules"] as? [[String: Any]] ?? []
    }

    @Test func exhaustedRestartsHandOverToThePeer() throws {
        let svc = try TestSystem.makeTempDirectory("shaolin-aac-lab")
        defer { AACTest.cleanUp(svc) }
        let start = try AACTest.serviceStartScript(svc)
        #expect(try AACTest.run([start]) == 0)
        let first = try #require(AACTest.servicePID(svc))
        let rules = """
            [aac]
            agent_dir = "\(AACTest.agentsDirectory)"

            [[aac.rule]]
            name = "svc"
            description = "a service on the shared disk"
            agent = "process"
            params = { pidfile = "\(svc)/svc.pid", name = "sleep" }
            interval_ms = 200
            startup_grace_ms = 0
            start = ["\(start)"]
            max_restarts = 2
            restart_window_ms = 60000
            failover = true
            """
        let lab = Lab("aac", env: ["EXTRA_CONF_A": rules])
        defer { lab.down() }
        try lab.up(keepalive: 100, deadtime: 600)
        try lab.wait(15, "A ACTIVE, B STANDBY, each hearing the other") {
            lab.roles == ("ACTIVE", "STANDBY") && lab.status("A")?.peerAlive == true && lab.status("B")?.peerAlive == true
        }
        try lab.wait(10, "A's rule running") { aacRules(lab, "A").first?["state"] as? String == "running" }
        #expect(aacRules(lab, "B").isEmpty)

        // The rule through the control interface (shaolinctl over A's Unix socket): status
        // lists it, disable/enable reach the supervisor, an unknown rule is a clear error.
        let (sc, statusOut) = try lab.ctl("A", ["status", "--json"])
        #expect(sc == 0 && statusOut.contains("\"svc\""), "status --json: \(statusOut)")
        let (dc, dOut) = try lab.ctl("A", ["rule", "disable", "svc"])
        #expect(dc == 0, "rule disable: \(dOut)")
        try lab.wait(5, "rule disabled in the status") { aacRules(lab, "A").first?["enabled"] as? Bool == false }
        let (ec, eOut) = try lab.ctl("A", ["rule", "enable", "svc"])
        #expect(ec == 0, "rule enable: \(eOut)")
        try lab.wait(5, "rule enabled and running again") {
            let r = aacRules(lab, "A").first
            return r?["enabled"] as? Bool == true && r?["state"] as? String == "running"
        }
        let (nc, nOut) = try lab.ctl("A", ["rule", "disable", "nosuch"])
        #expect(nc == 1 && nOut.contains("no such rule") && nOut.contains("svc"), "unknown rule: \(nOut)")

        // stop: the service is stopped through its agent and no longer monitored — not
        // restarted, no failover, B stays STANDBY.
        let (pc, pOut) = try lab.ctl("A", ["rule", "stop", "svc"])
        #expect(pc == 0 && pOut.contains("not monitored"), "rule stop: \(pOut)")
        try lab.wait(10, "rule stopped, its service gone") {
            aacRules(lab, "A").first?["state"] as? String == "stopped" && !TestSystem.isRunning(first)
        }
        try lab.wait(10, "the stop's outcome in the status") {
            (aacRules(lab, "A").first?["last_operator_action"] as? String ?? "").hasPrefix("stop by the operator: done")
        }
        let (rc, rOut) = try lab.ctl("A", ["rule", "restart", "svc"])
        #expect(rc == 1 && rOut.contains("stopped by the operator"), "restart of a stopped rule: \(rOut)")
        let (sbc, sbOut) = try lab.ctl("B", ["rule", "stop", "svc"])
        #expect(sbc == 1 && sbOut.contains("no such rule"), "stop on B: \(sbOut)")
        usleep(1_000_000)
        #expect(AACTest.servicePID(svc) == first, "the AAC started the stopped service again")
        #expect(lab.roles == ("ACTIVE", "STANDBY"))
        // start: the rule's start command, monitored again.
        let (stc, stOut) = try lab.ctl("A", ["rule", "start", "svc"])
        #expect(stc == 0, "rule start: \(stOut)")
        try lab.wait(10, "rule started and running") {
            aacRules(lab, "A").first?["state"] as? String == "running" && AACTest.servicePID(svc) != first
        }
        let (ac, aOut) = try lab.ctl("A", ["rule", "start", "svc"])
        #expect(ac == 1 && aOut.contains("is monitored and its service is running") && aOut.contains("use restart"), "start of a running rule: \(aOut)")
        // reset-statistics: the counters start again from zero.
        let checksBefore = aacRules(lab, "A").first?["checks"] as? Int ?? 0
        let (zc, zOut) = try lab.ctl("A", ["rule", "reset-statistics", "svc"])
        #expect(zc == 0 && zOut.contains("reset"), "rule reset-statistics: \(zOut)")
        try lab.wait(5, "counters reset") { (aacRules(lab, "A").first?["checks"] as? Int ?? .max) < checksBefore }
        let current = try #require(AACTest.servicePID(svc))

        // The service dies and cannot start any more.
        _ = FileManager.default.createFile(atPath: "\(svc)/broken", contents: nil)
        // B's fence confirms without killing A: the lab's fence is an instant kill -9, which can
        // land before A has read B's grant (A reads its links at its own deadlines, up to a
        // keepalive later) and logged HANDOVER_DONE; A exits by itself once handed over.
        _ = FileManager.default.createFile(atPath: "\(lab.dir)/fence-nokill", contents: nil)
        kill(current, SIGKILL)
        var bothActive = 0
        let took = try lab.wait(30, "B ACTIVE after A's handover") {
            let r = lab.roles
            if r.0 == "ACTIVE" && r.1 == "ACTIVE" { bothActive += 1 }
            return lab.status("B")?.role == "ACTIVE"
        }
        #expect(bothActive == 0, "both nodes were seen ACTIVE")
        // A number for the report, not a timing assertion: 3 failed checks 200 ms apart, two
        // restarts, the handover (sync, takeover request, grant, fence) on a loaded VM.
        print("AAC handover: service killed -> B ACTIVE in \(Int(took * 1000)) ms")
        let b = try #require(lab.status("B"))
        #expect(b.reason == "fence of the peer confirmed", "B's reason: \(b.reason)")
        #expect(b.epoch == 2)
        let bLog = lab.log("B")
        #expect(bLog.contains("role STANDBY -> FENCING: peer asked us to take over"), "B log: \(bLog.suffix(3000))")
        let events = bLog.split(separator: "\n").filter { $0.contains("SHAOLIN_EVENT=") }.joined(separator: "\n")
        // A graceful handover: B went FENCING because A asked, before any failure detection
        // (A stops heartbeating once it has handed over, so B may log PEER_DEAD afterwards).
        let asked = try #require(bLog.range(of: "role STANDBY -> FENCING: peer asked us to take over"))
        if let dead = bLog.range(of: "SHAOLIN_EVENT=PEER_DEAD") {
            #expect(asked.lowerBound < dead.lowerBound, "\(events)")
        }
        try lab.wait(10, "A gone (handed over, fenced)") { !lab.isRunning("A") }
        let aLog = lab.log("A")
        #expect(aLog.components(separatedBy: "SHAOLIN_EVENT=AAC_RESTART ").count - 1 == 2, "A log: \(aLog.suffix(3000))")
        #expect(aLog.contains("SHAOLIN_EVENT=AAC_FAILED"))
        #expect(aLog.contains("SHAOLIN_EVENT=AAC_HANDOVER "))
        #expect(aLog.contains("role ACTIVE -> LEAVING: graceful handover started"))
        #expect(aLog.contains("SHAOLIN_EVENT=HANDOVER_DONE"))
        #expect(bLog.contains("SHAOLIN_EVENT=FENCE_CONFIRMED"))
        // Nothing was started after the rule failed: the last pid is still the killed one.
        #expect(AACTest.servicePID(svc) == current)
    }
}
