import Foundation
import Glibc
import ShaolinEngine
import ShaolinLinux
import Testing

/// Fencing latency through ipmitool + ipmi_sim, beside ipmitool's own
/// off → status-off latency in the same run. Runs only when
/// SHAOLIN_FENCE_BENCH_RUNS is set (benchmarks/fence-latency.sh); prints
/// "BENCH" lines. Times are wall clock on a shared VM: compare the columns
/// with each other, not with other machines.
extension RealBMCTests {
    @Suite("Fence latency benchmark")
    struct FenceLatencyBenchmark {
        static let runs = Int(ProcessInfo.processInfo.environment["SHAOLIN_FENCE_BENCH_RUNS"] ?? "")

        @Test(.enabled(if: runs != nil, "set SHAOLIN_FENCE_BENCH_RUNS to run"))
        func fenceLatencyBenchmark() throws {
            let runs = max(1, Self.runs ?? 20)
            let bmc = try IPMISimulator()
            defer { bmc.stop() }
            var driverDefault: [Double] = []
            var driverTight: [Double] = []
            var raw: [Double] = []
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<runs {
                // ipmi_sim acts once a second and power-on lands on its tick,
                // so a fence started right after power-on always meets the
                // same phase. Each run draws one random phase and uses it for
                // all three measurements: the columns are paired.
                let phase = UInt32.random(in: 0..<1_000_000, using: &generator)
                // 1. The driver, default settings (status poll every 200 ms).
                var peer = try bmc.powerOnPeer()
                usleep(phase)
                let a = IPMIFence(settings: bmc.settings()).fence(action: .off)
                try #require(a.isConfirmedOff, "\(a.log)")
                #expect(!TestSystem.isRunning(peer))
                driverDefault.append(a.durationMilliseconds)

                // 2. The driver polling as fast as ipmitool answers.
                peer = try bmc.powerOnPeer()
                usleep(phase)
                var tight = bmc.settings()
                tight.pollInterval = 0
                let b = IPMIFence(settings: tight).fence(action: .off)
                try #require(b.isConfirmedOff, "\(b.log)")
                #expect(!TestSystem.isRunning(peer))
                driverTight.append(b.durationMilliseconds)

                // 3. ipmitool alone: power off, then status back to back until off.
                peer = try bmc.powerOnPeer()
                usleep(phase)
                let t0 = ProcessSpawn.monotonicNanoseconds()
                try #require(try bmc.ipmitool(["chassis", "power", "off"]).succeeded)
                var off = false
                while !off && ProcessSpawn.monotonicNanoseconds() - t0 < 20_000_000_000 {
                    off = (try? bmc.powerStatus()) == "off"
                }
                try #require(off)
                raw.append(Double(ProcessSpawn.monotonicNanoseconds() - t0) / 1e6)
                #expect(!TestSystem.isRunning(peer))
            }
            func line(_ name: String, _ values: [Double]) -> String {
                let s = values.sorted()
                let median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
                let mean = s.reduce(0, +) / Double(s.count)
                return "BENCH \(name): n=\(s.count) median=\(Int(median)) ms mean=\(Int(mean)) ms min=\(Int(s.first!)) ms max=\(Int(s.last!)) ms"
            }
            print(line("IPMIFence off→confirmed (poll 200 ms)", driverDefault))
            print(line("IPMIFence off→confirmed (poll 0 ms)  ", driverTight))
            print(line("ipmitool off→status off (no sleep)   ", raw))
            print(line("paired: poll 200 ms minus ipmitool   ", zip(driverDefault, raw).map { $0 - $1 }))
            print(line("paired: poll 0 ms minus ipmitool     ", zip(driverTight, raw).map { $0 - $1 }))
        }
    }
}
