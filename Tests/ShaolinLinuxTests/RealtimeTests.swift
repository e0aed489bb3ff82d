import Foundation
import Glibc
import ShaolinLinux
import SystemPackage
import Testing

/// The VmLck figure of /proc/self/status, in KiB.
func lockedKiB() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmLck:") })
    return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
}

@Suite(.serialized) struct RealtimeTests {
    @Test func mlockallLocksMemory() throws {
        let limit = try Realtime.memlockLimit()
        // As root the limit does not apply, but it must be readable and consistent.
        if let soft = limit.soft, let hard = limit.hard { #expect(soft <= hard) }
        try onDedicatedThread {
            try Realtime.lockAllMemory()
            defer { Realtime.unlockAllMemory() }
            Realtime.prefaultStack(kibibytes: 256)
            #expect(try lockedKiB() > 0)
        }
        #expect(try lockedKiB() == 0)
    }

    @Test func fifoOnAThreadThenBackToOther() throws {
        #expect(Realtime.fifoPriorityRange == 1...99)
        let policies: [SchedulingPolicy] = try onDedicatedThread {
            let before = Realtime.currentPolicy()
            try Realtime.setFIFO(priority: 10)
            let during = Realtime.currentPolicy()
            try Realtime.setNormalScheduling()
            return [before, during, Realtime.currentPolicy()]
        }
        #expect(policies == [.other, .fifo(priority: 10), .other])
        // The test's own thread was not touched.
        #expect(Realtime.currentPolicy() == .other)
    }

    @Test func outOfRangePriorityExplainsTheRange() throws {
        try onDedicatedThread {
            do throws(RealtimeError) {
                try Realtime.setFIFO(priority: 100)
                try Realtime.setNormalScheduling()
                Issue.record("priority 100 accepted")
            } catch {
                #expect(error.errno == .invalidArgument)
                #expect(error.message.contains("1...99"))
            }
        }
    }

    @Test func pinToOneCPUAndRestore() throws {
        let allBefore = Realtime.affinityCPUCount
        #expect(allBefore >= 1)
        try onDedicatedThread {
            try Realtime.preservingAffinity { () throws(RealtimeError) in
                try Realtime.pin(toCPU: 0)
                #expect(Realtime.affinityCPUCount == 1)
                #expect(Realtime.affinityContains(cpu: 0))
            }
            #expect(Realtime.affinityCPUCount == allBefore)
            do throws(RealtimeError) {
                try Realtime.pin(toCPU: 1000)
                Issue.record("CPU 1000 accepted")
            } catch {
                #expect(error.errno == .invalidArgument)
                #expect(error.message.contains("online CPUs"))
                #expect(error.description.hasPrefix("sched_setaffinity"))
            }
        }
    }
}
