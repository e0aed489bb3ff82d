// libcap wrappers, exercised on a throwaway thread: capability sets are per thread, and a
// drop on a Swift Testing worker thread would leak into every later test on that thread.
import Foundation
import Glibc
import ShaolinLinux
import Testing

/// Runs `body` on a new thread and waits for it; the thread (and its capability sets) ends with it.
private func onThrowawayThread(_ body: @escaping () -> Void) throws {
    let t = try NormalThread.start(body)
    pthread_join(t, nil)
}

/// CapEff of the calling thread as the kernel reports it.
private func kernelCapEff() -> UInt64? {
    guard let s = try? String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8) else { return nil }
    for line in s.split(separator: "\n") where line.hasPrefix("CapEff:") {
        return UInt64(line.dropFirst(7).filter { !$0.isWhitespace }, radix: 16)
    }
    return nil
}

@Suite struct CapabilitiesTests {
    @Test func namesAndMasksMatchTheKernelNumbering() {
        #expect(CapabilitySet.netRaw.rawValue == 1 << 13)
        #expect(CapabilitySet.ipcLock.rawValue == 1 << 14)
        #expect(CapabilitySet.sysBoot.rawValue == 1 << 22)
        #expect(CapabilitySet.sysNice.rawValue == 1 << 23)
        let kept: CapabilitySet = [.netRaw, .ipcLock, .sysBoot, .sysNice]
        #expect(kept.hex == "0000000000c06000")
        #expect(kept.description == "cap_net_raw,cap_ipc_lock,cap_sys_boot,cap_sys_nice")
        #expect(CapabilitySet().description == "none")
    }

    @Test func currentMatchesProcAndRestrictReallyRemovesPowers() throws {
        final class Results: @unchecked Sendable {
            var before: Capabilities.Sets?
            var procBefore: UInt64?
            var afterNetRaw: Capabilities.Sets?
            var procAfterNetRaw: UInt64?
            var packetWithNetRaw: Int32 = -1
            var afterNone: Capabilities.Sets?
            var packetWithoutErrno: Int32 = 0
            var error: String?
        }
        let r = Results()
        try onThrowawayThread {
            do {
                r.before = try Capabilities.current()
                r.procBefore = kernelCapEff()
                r.afterNetRaw = try Capabilities.restrict(to: [.netRaw, .sysBoot])
                r.procAfterNetRaw = kernelCapEff()
                let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
                r.packetWithNetRaw = fd
                if fd >= 0 { close(fd) }
                r.afterNone = try Capabilities.restrict(to: [])
                let fd2 = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
                if fd2 >= 0 { close(fd2) } else { r.packetWithoutErrno = errno }
            } catch {
                r.error = "\(error)"
            }
        }
        #expect(r.error == nil)
        let before = try #require(r.before)
        #expect(before.effective.rawValue == r.procBefore)
        // Never gains: the result is the intersection with what the thread had.
        let expected = CapabilitySet([.netRaw, .sysBoot]).intersection(before.permitted)
        #expect(r.afterNetRaw?.effective == expected)
        #expect(r.afterNetRaw?.permitted == expected)
        #expect(r.afterNetRaw?.inheritable == [])
        #expect(r.procAfterNetRaw == expected.rawValue)
        #expect(r.afterNone?.effective == [])
        #expect(r.afterNone?.permitted == [])
        if before.effective.contains(.netRaw) {
            #expect(r.packetWithNetRaw >= 0, "AF_PACKET with CAP_NET_RAW kept")
            #expect(r.packetWithoutErrno == EPERM, "AF_PACKET after dropping CAP_NET_RAW must be refused")
        }
        // This (test) thread still has what it had.
        #expect(try Capabilities.current() == before)
    }
}
