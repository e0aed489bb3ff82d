// Memory footprint of a running engine. mlockall(MCL_FUTURE) makes every new mapping resident, so
// each thread stack counts in full: with glibc's default 8 MiB stacks (and the cached stack of a
// finished fencing thread) an idle lab node had 16–24 MB of anonymous resident memory; the slow
// side's threads now use small stacks (SlowSide.threadStackBytes). Measured on the lab's ACTIVE,
// which has run a fence at start-up (a fencing thread came and went). Also: every resident page
// is locked, and none of the libraries the engine must not carry is mapped. Figures for the
// shipped static binary (locked resident memory per mapping, against the 16 MB target):
// benchmarks/engine-resources.py, docs/benchmarks.md.
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

            // mlockall(MCL_CURRENT|MCL_FUTURE) holds for everything mapped since: every mapping
            // with resident pages is locked (thread stacks, arenas and libraries mapped after the
            // call included), except the kernel's vdso/vvar, which cannot be.
            let unlocked = Self.mappings(pid).filter { $0.rss > 0 && !$0.locked && !["[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"].contains($0.name) }
            #expect(unlocked.isEmpty, "node \(node): resident but not locked: \(unlocked.map { "\($0.name) \($0.rss) kB" })")
            // Libraries the engine must not map (each is locked in full): libsystemd's chain
            // (journald and sd_notify are spoken directly), Foundation, Dispatch.
            let names = Set(Self.mappings(pid).map(\.name))
            for lib in ["libsystemd", "libgcrypt", "libgpg-error", "libzstd", "liblzma", "liblz4", "libFoundation", "libdispatch"] {
                #expect(!names.contains { $0.contains(lib) }, "node \(node) maps \(lib)")
            }
        }
    }

    /// /proc/PID/smaps: each mapping's name, resident kB and whether it is locked (VmFlags "lo").
    static func mappings(_ pid: Int32) -> [(name: String, rss: Int, locked: Bool)] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps", encoding: .utf8) else { return [] }
        var out: [(name: String, rss: Int, locked: Bool)] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = f.first else { continue }
            if first.contains("-") && !first.hasSuffix(":") && f.count >= 5 {
                out.append((f.count > 5 ? String(f[5]) : "[anon]", 0, false))
            } else if first == "Rss:", f.count > 1, !out.isEmpty {
                out[out.count - 1].rss = Int(f[1]) ?? 0
            } else if first == "VmFlags:", !out.isEmpty {
                out[out.count - 1].locked = f.contains("lo")
            }
        }
        return out
    }
}
