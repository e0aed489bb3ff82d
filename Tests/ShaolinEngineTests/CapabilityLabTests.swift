// Capabilities of a running engine in the two-namespace lab (tools/lab.sh): after start-up
// every engine thread holds exactly CAP_NET_RAW, CAP_IPC_LOCK, CAP_SYS_BOOT and CAP_SYS_NICE
// (CapEff and CapPrm of /proc/PID/task/*/status), the bounding set is untouched, and the
// engine still does its work with them: links recover after the interface goes down and up,
// the serial link reopens a re-created pty by path, and a fence command run as a child
// process fences the peer.
import Foundation
import Glibc
import ShaolinEngine
import Testing

@Suite(.serialized) struct CapabilityLabTests {
    /// `field` (e.g. "CapEff") of every thread of `pid`, by thread id.
    static func threadCaps(_ pid: Int32, _ field: String) -> [String: String] {
        var out: [String: String] = [:]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for t in tasks {
            guard let s = try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/status", encoding: .utf8) else { continue }
            for line in s.split(separator: "\n") where line.hasPrefix("\(field):") {
                out[t] = line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
            }
        }
        return out
    }

    static func ownBoundingSet() -> String? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return s.split(separator: "\n").first { $0.hasPrefix("CapBnd:") }.map { $0.dropFirst(7).trimmingCharacters(in: .whitespaces) }
    }

    @Test(.enabled(if: getuid() == 0, "the lab needs root"))
    func runningEngineKeepsOnlyWhatItNeedsAndStillWorks() throws {
        let lab = Lab("caps")
        defer { lab.down() }
        try lab.up(keepalive: 100, deadtime: 600)
        try lab.wait(10, "A ACTIVE, B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        try lab.wait(5, "both links alive on A") {
            lab.status("A")?.link("eth")?["alive"] as? Bool == true && lab.status("A")?.link("serial")?["alive"] as? Bool == true
        }
        let expected = EngineCapabilities.keptSet.hex
        #expect(expected == "0000000000c06001")
        for node in ["A", "B"] {
            let pid = try #require(lab.pid(node))
            let eff = Self.threadCaps(pid, "CapEff")
            let prm = Self.threadCaps(pid, "CapPrm")
            let inh = Self.threadCaps(pid, "CapInh")
            let bnd = Self.threadCaps(pid, "CapBnd")
            // The real-time thread, the slow side and the log writer at least.
            #expect(eff.count >= 3, "\(node) threads: \(eff)")
            for (tid, v) in eff { #expect(v == expected, "\(node) thread \(tid) CapEff \(v)") }
            for (tid, v) in prm { #expect(v == expected, "\(node) thread \(tid) CapPrm \(v)") }
            for (tid, v) in inh { #expect(v == "0000000000000000", "\(node) thread \(tid) CapInh \(v)") }
            // Left alone so fence agents and application commands run with root's powers.
            for (tid, v) in bnd { #expect(v == Self.ownBoundingSet(), "\(node) thread \(tid) CapBnd \(v)") }
            #expect(lab.log(node).contains("SHAOLIN_EVENT=CAPABILITIES_DROPPED"))
        }

        // Ethernet down and up again on B: both ends see the link die and come back.
        try lab.run("ip -n shl-\(lab.id)-b link set hb0 down")
        try lab.wait(5, "A reports eth down") { lab.status("A")?.link("eth")?["alive"] as? Bool == false }
        try lab.run("ip -n shl-\(lab.id)-b link set hb0 up")
        try lab.wait(10, "eth back on A and B") {
            lab.status("A")?.link("eth")?["alive"] as? Bool == true && lab.status("B")?.link("eth")?["alive"] as? Bool == true
        }
        // The serial cable re-created: new ptys behind the same paths, reopened by path.
        try lab.sh(["serial-down"])
        try lab.wait(5, "A reports serial down") { lab.status("A")?.link("serial")?["alive"] as? Bool == false }
        try lab.sh(["serial-up"])
        try lab.wait(10, "serial back on A and B") {
            lab.status("A")?.link("serial")?["alive"] as? Bool == true && lab.status("B")?.link("serial")?["alive"] as? Bool == true
        }
        #expect(lab.roles == ("ACTIVE", "STANDBY"))

        // Fencing runs the lab's fence command as a child process of B's engine.
        lab.signal("A", SIGKILL)
        try lab.wait(10, "B fences A and takes over") { lab.status("B")?.role == "ACTIVE" }
        #expect(lab.log("B").contains("SHAOLIN_EVENT=FENCE_CONFIRMED"))
        // Capabilities are unchanged after all that (nothing re-raised them).
        let pidB = try #require(lab.pid("B"))
        for (tid, v) in Self.threadCaps(pidB, "CapEff") { #expect(v == expected, "B thread \(tid) CapEff \(v) after the takeover") }
    }
}
