// The two-namespace lab with real IPMI fencing (tools/lab.sh, LAB_FENCE=ipmi): each node's
// engine is the "machine" behind an OpenIPMI ipmi_sim BMC. `chassis power on` starts the
// engine in its namespace (foreground, so the BMC sees it die), `chassis power off` kills it.
// The STANDBY fences its peer with ipmitool -I lanplus -C 3 through that BMC, which runs on
// the fencer's namespace loopback (127.0.0.1:623).
import Foundation
import Glibc
import Testing

extension RealBMCTests {
@Suite("Failover with IPMI fencing (two namespaces + ipmi_sim)", .serialized)
struct IPMIFailoverTests {
    /// A started IPMI lab with A ACTIVE and B STANDBY.
    func startLab(_ name: String, env: [String: String] = [:]) throws -> Lab {
        guard TestSystem.which("ipmi_sim") != nil, TestSystem.which("ipmitool") != nil else {
            throw LabError("ipmi_sim / ipmitool not installed (Debian packages openipmi, ipmitool; tools/bootstrap.sh)")
        }
        var e = env
        e["LAB_FENCE"] = "ipmi"
        let lab = Lab(name, env: e)
        do {
            try lab.up(keepalive: 100, deadtime: 600)
            try lab.wait(20, "A ACTIVE, B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        } catch {
            lab.down()
            throw error
        }
        return lab
    }

    func power(_ lab: Lab, _ node: String) throws -> String {
        let out = try lab.sh(["ipmi", node, "chassis", "power", "status"])
        if out.contains("is on") { return "on" }
        if out.contains("is off") { return "off" }
        throw LabError("unreadable chassis status of \(node): \(out)")
    }

    @Test func killMinus9OfActiveIsFencedThroughItsBMCThenTakenOver() throws {
        let lab = try startLab("ipk9")
        defer { lab.down() }
        #expect(try power(lab, "A") == "on")
        #expect(try power(lab, "B") == "on")
        lab.signal("A", SIGKILL)
        try lab.wait(15, "B ACTIVE after A was killed") { lab.role("B") == "ACTIVE" }
        // Order in B's log: peer declared dead, fence through the BMC confirmed off, ACTIVE.
        let dead = try #require(lab.stamps("B", "PEER_DEAD").first)
        let start = try #require(lab.stamps("B", "FENCE_START").first)
        let confirmed = try #require(lab.stamps("B", "FENCE_CONFIRMED").first)
        let active = try #require(lab.stamps("B", "ROLE_CHANGE", "SHAOLIN_ROLE=ACTIVE").last)
        #expect(dead <= start && start < confirmed && confirmed <= active)
        let log = lab.log("B")
        #expect(log.contains("level 1 ipmi off 127.0.0.1:623: confirmed off"), "\(log.suffix(2000))")
        #expect(!log.contains("SHAOLIN_EVENT=FENCE_FAILED"))
        // The BMC agrees: A's chassis is off and its engine is gone.
        #expect(try power(lab, "A") == "off")
        #expect(!lab.isRunning("A"))
        #expect(try #require(lab.status("B")).epoch == 2)
    }

    @Test func hungActiveIsPoweredOffByItsBMCBeforeTheTakeover() throws {
        let lab = try startLab("iphg")
        defer { lab.down() }
        let aPID = try #require(lab.pid("A"))
        lab.signal("A", SIGSTOP)  // hung: alive, silent, holding whatever it held
        try lab.wait(15, "B ACTIVE while A is hung") { lab.role("B") == "ACTIVE" }
        // Only the BMC's power-off can have removed the stopped engine (nothing else kills it).
        #expect(!TestSystem.isRunning(aPID))
        let power = (try? String(contentsOfFile: "\(lab.dir)/power.log", encoding: .utf8)) ?? ""
        #expect(power.contains("power off A (BMC)"), "\(power)")
        #expect(try self.power(lab, "A") == "off")
        #expect(lab.log("B").contains("ipmi off 127.0.0.1:623: confirmed off"))
    }

    @Test func unreachableBMCNeverLetsTheStandbyTakeOver() throws {
        // 1 s per ipmitool call, one retry inside an attempt: an attempt fails in ≈ 2–3 s.
        let lab = try startLab("ipun", env: ["IPMI_TIMEOUT_MS": "1000"])
        defer { lab.down() }
        try lab.sh(["bmc-kill", "A"])  // nothing answers on A's BMC address any more
        lab.signal("A", SIGKILL)
        try lab.wait(10, "B starts fencing") { lab.status("B")?.role == "FENCING" }
        // Bounded window: B must stay out of ACTIVE the whole time.
        let window = 9.0
        let start = Date()
        var roles: Set<String> = []
        while Date().timeIntervalSince(start) < window {
            if let r = lab.status("B")?.role { roles.insert(r) }
            #expect(lab.status("B")?.role != "ACTIVE", "B became ACTIVE without a confirmed fence")
            usleep(20_000)
        }
        #expect(roles == ["FENCING"], "\(roles)")
        #expect(lab.isRunning("B"))
        let failures = lab.stamps("B", "FENCE_FAILED")
        let retries = lab.stamps("B", "FENCE_RETRY")
        #expect(failures.count >= 2, "\(lab.log("B").suffix(3000))")
        #expect(retries.count >= 2)
        #expect(lab.log("B").contains("did not answer"))
        #expect((lab.status("B")?.fenceFailures ?? 0) >= 2)

        // The BMC comes back (chassis off): the next retry confirms and B takes over.
        try lab.sh(["bmc-start", "A"])
        try lab.wait(15, "B ACTIVE once A's BMC answers again") { lab.role("B") == "ACTIVE" }
        #expect(lab.stamps("B", "FENCE_CONFIRMED").count == 1)
    }
}
}
