// The serial link reads only when epoll reported its tty (edge-triggered) and stops at the first
// short read: an empty read on a tty waits in the kernel for the flip-buffer kworker, which blocked
// the real-time loop for milliseconds under load (found by benchmarks/wakeup-lateness.py). These
// tests pin the contract on a real pty: nothing is read without readiness, and edge-triggered
// draining loses no frame, also when a burst is larger than the read buffer and the tty's own buffer.
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import SystemPackage
import Testing

@Suite struct SerialLinkDrainTests {
    func frame(_ i: Int) -> [UInt8] { (0..<80).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0) } }

    func writeFrames(_ range: Range<Int>, to master: FileDescriptor) throws {
        var wire: [UInt8] = []
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: SerialFraming.maxEncodedFrameCount, alignment: 1)
        defer { out.deallocate() }
        for i in range {
            let n = try #require(frame(i).withUnsafeBytes { SerialFraming.encode($0, into: out) })
            wire += out[0..<n]
        }
        var off = 0
        var spins = 0
        while off < wire.count {
            let w = wire[off...].withUnsafeBytes { Glibc.write(master.rawValue, $0.baseAddress, $0.count) }
            if w > 0 { off += w } else { spins += 1; #expect(spins < 500); if spins >= 500 { return }; usleep(10_000) }
        }
    }

    @Test func readsNothingWithoutReadinessAndLosesNoFrameEdgeTriggered() throws {
        let pty = try PtyPair.open()
        defer { try? pty.master.close() }
        let link = try SerialLink(id: 1, name: "serial", device: pty.slavePath, baud: 115_200, flowControl: false)
        #expect(link.pollEvents.contains(.edgeTriggered))
        let epoll = try Epoll.create()
        var events = EpollEventBuffer(capacity: 8)
        try epoll.add(try #require(link.descriptor), events: link.pollEvents, token: 1)
        var received: [[UInt8]] = []
        let collect: (UnsafeRawBufferPointer) -> Void = { received.append(Array($0)) }

        // One frame: queued in the tty, but not reported in this wake-up -> not read.
        try writeFrames(0..<1, to: pty.master)
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 2000) == 1)
        link.drain(ready: false, collect)
        #expect(received.isEmpty)
        link.drain(ready: true, collect)
        #expect(received == [frame(0)])

        // A burst of 120 frames (~10 KB): more than the link's 4 KiB read buffer and the tty's own
        // 4 KiB buffer. Each edge is drained once; every frame arrives, in order.
        try writeFrames(1..<121, to: pty.master)
        var waits = 0
        while received.count < 121 && waits < 50 {
            waits += 1
            if try epoll.wait(into: &events, timeoutMilliseconds: 200) > 0 { link.drain(ready: true, collect) }
        }
        #expect(received.count == 121)
        #expect(received == (0..<121).map(frame))
        #expect(link.framingRejects == 0)
        // Everything consumed: no further edge.
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 100) == 0)
    }

    @Test func hangUpIsSeenThroughTheEdgeAndMarksTheLinkDown() throws {
        let pty = try PtyPair.open()
        let link = try SerialLink(id: 1, name: "serial", device: pty.slavePath, baud: 115_200, flowControl: false)
        let epoll = try Epoll.create()
        var events = EpollEventBuffer(capacity: 8)
        try epoll.add(try #require(link.descriptor), events: link.pollEvents, token: 1)
        #expect(link.carrierUp)
        try pty.master.close()   // the cable's other end goes away
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 2000) == 1)
        link.drain(ready: true) { _ in }
        #expect(!link.carrierUp)
    }
}
