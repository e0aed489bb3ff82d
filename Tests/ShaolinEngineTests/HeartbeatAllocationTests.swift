// The running engine's real-time thread makes no heap allocation per heartbeat: both lab nodes run
// under the LD_PRELOAD counter benchmarks/malloc-count.c (per-thread counts, written to a file by
// a helper thread), at keepalive 1 ms so that ≥ 10,000 heartbeats pass in about 10 s. The counts
// of the real-time thread (the engine's main thread, checked to be SCHED_FIFO) are compared after
// a warm-up and after ≥ 10,000 heartbeats. benchmarks/malloc-per-heartbeat.py prints the same figure.
import Foundation
import Testing

@Suite(.serialized) struct HeartbeatAllocationTests {
    @Test func realtimeThreadDoesNotAllocateOverTenThousandHeartbeats() throws {
        let work = "/tmp/shaolin-malloc-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let lab = Lab("mall", env: ["SHAOLIND": "\(work)/shaolind"])
        defer { lab.down() }
        try lab.run("cc -shared -fPIC -O2 -o \(work)/malloc-count.so \(Lab.repo.path)/benchmarks/malloc-count.c -ldl -lpthread")
        try """
            #!/bin/sh
            export LD_PRELOAD=\(work)/malloc-count.so SHAOLIN_MALLOC_COUNT_DIR=\(work)
            exec \(Lab.shaolind) "$@"

            """.write(toFile: "\(work)/shaolind", atomically: true, encoding: .utf8)
        chmod("\(work)/shaolind", 0o755)

        try lab.up(keepalive: 1, deadtime: 50)
        try lab.wait(20, "A ACTIVE, B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        usleep(3_000_000)   // warm-up
        func heartbeats(_ n: String) -> Int { lab.status(n)?.link("eth")?["sent"] as? Int ?? 0 }
        func rtAllocations(_ n: String) throws -> Int {
            let pid = try #require(lab.pid(n))
            let text = try String(contentsOfFile: "\(work)/\(pid).mallocs", encoding: .utf8)
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count == 2, Int32(f[0]) == pid { return Int(f[1]) ?? -1 }
            }
            return 0
        }
        func policy(_ n: String) throws -> Int {
            let pid = try #require(lab.pid(n))
            let stat = try String(contentsOfFile: "/proc/\(pid)/task/\(pid)/stat", encoding: .utf8)
            let fields = stat[stat.range(of: ")", options: .backwards)!.upperBound...].split(separator: " ")
            return Int(fields[38]) ?? -1
        }
        let a0 = try rtAllocations("A"), b0 = try rtAllocations("B")
        let h0 = (heartbeats("A"), heartbeats("B"))
        try lab.wait(120, "10,000 heartbeats from each node") {
            heartbeats("A") - h0.0 >= 10_000 && heartbeats("B") - h0.1 >= 10_000
        }
        usleep(300_000)   // the counter file is rewritten every 100 ms
        let a1 = try rtAllocations("A"), b1 = try rtAllocations("B")
        print("real-time thread allocations after warm-up: A \(a1 - a0) over \(heartbeats("A") - h0.0) heartbeats, B \(b1 - b0) over \(heartbeats("B") - h0.1) (start-up: A \(a0), B \(b0))")
        // The counter sees this thread (start-up allocates), and it is the SCHED_FIFO one.
        #expect(a0 > 0 && b0 > 0)
        #expect(try policy("A") == 1 && policy("B") == 1)
        #expect(a1 - a0 == 0)
        #expect(b1 - b0 == 0)
        #expect(lab.roles == ("ACTIVE", "STANDBY"))
    }
}
