// Memory footprint of a running engine. mlockall(MCL_FUTURE) makes every new mapping resident, so
// each thread stack counts in full: with glibc's default 8 MiB stacks (and the cached stack of a
// finished fencing thread) an idle lab node had 16–24 MB of anonymous resident memory; the slow
// side's threads now use small stacks (SlowSide.threadStackBytes). Measured on the lab's ACTIVE,
// which has run a fence at start-up (a fencing thread came and went). Figures for the shipped
// static binary: benchmarks/engine-resources.py, docs/benchmarks.md.
import Foundation
import Testing

@Suite(.serialized) struct EngineFootprintTests {
    @Test func lockedAnonymousMemoryStaysSmall() throws {
        let lab = Lab("foot")
        defer { lab.down() }
        try lab.up(keepalive: 10, deadtime: 200)
        try lab.wait(15, "A ACTIVE, B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        usleep(2_000_000)
        for node in ["A", "B"] {
            let pid = try #require(lab.pid(node))
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            func kB(_ key: String) -> Int {
                for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
                    return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
                }
                return -1
            }
            print("engine \(node): VmRSS \(kB("VmRSS")) kB, RssAnon \(kB("RssAnon")) kB, RssFile \(kB("RssFile")) kB, VmLck \(kB("VmLck")) kB")
            #expect(kB("VmLck") > 0, "node \(node) runs with locked memory")
            // Heap, the main stack and two 512 KiB slow-side stacks: a few MB. One 8 MiB stack alone breaks this.
            #expect(kB("RssAnon") > 0 && kB("RssAnon") < 8 * 1024, "node \(node): RssAnon \(kB("RssAnon")) kB")
        }
    }
}
