// `shaolinctl menu` used as a person would: in a real terminal (a detached tmux session of
// 120x40), keys sent with `tmux send-keys`, the screen read with `tmux capture-pane`, against
// a running two-namespace lab cluster.
import Foundation
import Testing

final class TmuxScreen {
    let lab: Lab
    let server: String
    let session = "menu"

    init(lab: Lab, command: [String]) throws {
        self.lab = lab
        server = "shaolin-test-\(lab.id)"
        let quoted = command.map { "'\($0)'" }.joined(separator: " ")
        let (code, out) = try lab.spawn(["/usr/bin/tmux", "-L", server, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", quoted])
        if code != 0 { throw LabError("tmux new-session failed: \(out)") }
    }

    func keys(_ k: String...) throws {
        let (code, out) = try lab.spawn(["/usr/bin/tmux", "-L", server, "send-keys", "-t", session] + k)
        if code != 0 { throw LabError("tmux send-keys failed: \(out)") }
    }

    /// What the screen shows now.
    func capture() -> String {
        (try? lab.spawn(["/usr/bin/tmux", "-L", server, "capture-pane", "-p", "-t", session]))?.1 ?? ""
    }

    /// Waits until the screen contains every fragment; returns that screen.
    @discardableResult
    func waitFor(_ fragments: String..., seconds: Double = 10) throws -> String {
        var screen = ""
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            screen = capture()
            if fragments.allSatisfy({ screen.contains($0) }) { return screen }
            usleep(100_000)
        }
        throw LabError("the screen never showed \(fragments.filter { !screen.contains($0) }):\n\(screen)")
    }

    var isRunning: Bool {
        ((try? lab.spawn(["/usr/bin/tmux", "-L", server, "has-session", "-t", session]))?.0 ?? 1) == 0
    }

    func close() { _ = try? lab.spawn(["/usr/bin/tmux", "-L", server, "kill-server"]) }
}

// Part of ControlLabTests (serialized): one control lab at a time next to the other lab suites.
extension ControlLabTests {
    @Test func operatorWatchesTheClusterAndActsFromTheMenu() throws {
        // A watches a "service" (a detached sleep, killed by PID at the end) with an AAC rule.
        let svc = try TestSystem.makeTempDirectory("shaolin-menu-aac")
        defer { AACTest.cleanUp(svc) }
        let start = try AACTest.serviceStartScript(svc)
        #expect(try AACTest.run([start]) == 0)
        let servicePID = try #require(AACTest.servicePID(svc))
        let rules = """
            [aac]
            agent_dir = "\(AACTest.agentsDirectory)"

            [[aac.rule]]
            name = "web"
            agent = "process"
            params = { pidfile = "\(svc)/svc.pid", name = "sleep" }
            interval_ms = 200
            startup_grace_ms = 0
            start = ["\(start)"]
            """
        let lab = Lab("menu", env: ["TERM": "xterm-256color", "EXTRA_CONF_A": rules])
        defer { lab.down() }
        try lab.up()
        try lab.wait(10, "A ACTIVE and B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        let tmux = try TmuxScreen(lab: lab, command: [Lab.shaolinctl, "menu", "--socket", lab.socket("A")])
        defer { tmux.close() }

        // The live picture: both roles, both links with their last heartbeat, fencing, watchdog, rules.
        let screen = try tmux.waitFor("THIS NODE  A      ACTIVE", "PEER       B  STANDBY", "alive, hears us", "last heartbeat",
                                      "eth       up", "serial    up", "FENCING    idle", "WATCHDOG   disabled",
                                      "AAC RULES", "RECENT EVENTS", "s:Switchover", "m:Maintenance", "q:Quit")
        #expect(screen.contains("ROLE_CHANGE"))
        // It refreshes: the uptime moves.
        func uptime(_ s: String) -> String? { s.range(of: #"uptime [0-9.]+ s"#, options: .regularExpression).map { String(s[$0]) } }
        let first = uptime(screen)
        usleep(1_500_000)
        #expect(uptime(tmux.capture()) != first, "the screen does not refresh")

        // Maintenance: asked first; "n" cancels, "y" does it, the screen and the engine agree.
        try tmux.keys("m")
        try tmux.waitFor("Maintenance ON: stop reacting to peer and link failures on A? [y/N]")
        try tmux.keys("n")
        try tmux.waitFor("Cancelled: nothing was done.")
        #expect(lab.controlStatus("A")?["maintenance"]?.boolValue == false)
        try tmux.keys("m")
        try tmux.waitFor("[y/N]")
        try tmux.keys("y")
        try tmux.waitFor("maintenance ON", "maintenance mode on")
        #expect(lab.controlStatus("A")?["maintenance"]?.boolValue == true)
        // Choosing from the menu with the arrow keys and Enter ("m" left Maintenance selected:
        // Left to Standby, Right back to Maintenance, Enter). Maintenance is now on, so: off.
        try tmux.keys("Left", "Right", "Enter")
        try tmux.waitFor("Maintenance OFF: react to failures again on A? [y/N]")
        try tmux.keys("y")
        try tmux.waitFor("maintenance off", "maintenance mode off")
        #expect(lab.controlStatus("A")?["maintenance"]?.boolValue == false)

        // The AAC rules screen: stop the rule's service (asked first), then start it again.
        func ruleState() -> String? { lab.controlStatus("A")?["aac_rules"]?.arrayValue?.first?["state"]?.stringValue }
        try lab.wait(10, "A's rule running") { ruleState() == "running" }
        try tmux.keys("a")
        try tmux.waitFor("s start, t stop", "> web")
        try tmux.keys("t")
        try tmux.waitFor("Rule web: stop the service and stop monitoring it (no restart, no failover)? [y/N]")
        try tmux.keys("y")
        try lab.wait(10, "the rule stopped and its service gone") { ruleState() == "stopped" && !TestSystem.isRunning(servicePID) }
        try tmux.waitFor("> web            stopped")
        try tmux.keys("s")
        try tmux.waitFor("Rule web: start the service and monitor it again? [y/N]")
        try tmux.keys("y")
        try lab.wait(10, "the rule running again") { ruleState() == "running" && AACTest.servicePID(svc) != servicePID }
        try tmux.keys("Escape")
        try tmux.waitFor("Back in the main menu.")

        // Fence-confirm needs the peer's name typed; a wrong name does nothing.
        try tmux.keys("f")
        try tmux.waitFor("Type B and Enter")
        try tmux.keys("X", "Enter")
        try tmux.waitFor("Not confirmed")
        #expect(lab.roles == ("ACTIVE", "STANDBY"))

        // Switchover from the menu: B takes over, A leaves; the console says so.
        try tmux.keys("s")
        try tmux.waitFor("Switchover: hand the ACTIVE role from A to B?")
        try tmux.keys("y")
        try tmux.waitFor("switchover: handover started")
        try lab.wait(10, "B ACTIVE after the menu's switchover") { lab.role("B") == "ACTIVE" }
        try tmux.waitFor("NOT CONNECTED", seconds: 15)

        // q quits and gives the terminal back.
        try tmux.keys("q")
        try lab.wait(5, "the menu exits") { !tmux.isRunning }
    }
}
