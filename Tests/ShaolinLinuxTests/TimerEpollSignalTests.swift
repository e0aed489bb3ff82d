import Glibc
import ShaolinLinux
import SystemPackage
import Testing

@Suite struct TimerEpollSignalTests {
    @Test func clocksAdvanceAndRealtimeIsEpochBased() {
        let a = SystemClock.monotonicNanos()
        usleep(2_000)
        let b = SystemClock.monotonicNanos()
        #expect(b - a >= 2_000_000)
        // time(2) in seconds must agree with CLOCK_REALTIME to within a second or two.
        let wall = SystemClock.realtimeNanos() / 1_000_000_000
        #expect(abs(wall - Int64(time(nil))) <= 2)
        #expect(SystemClock.boottimeNanos() >= a)
    }

    @Test func absoluteDeadlineFiresNotEarlyAndEpollSeesIt() throws {
        let timer = try TimerFD.monotonic()
        defer { try? timer.close() }
        let ep = try Epoll.create()
        defer { try? ep.close() }
        try ep.add(timer.fileDescriptor, events: .input, token: 0xDEAD_BEEF_0000_0007)
        var events = EpollEventBuffer(capacity: 8)

        #expect(try timer.readExpirations() == 0)  // disarmed: EAGAIN → 0
        let deadline = SystemClock.monotonicNanos() + 30_000_000
        try timer.arm(deadline: deadline)
        #expect(try timer.remaining() > 0)
        var n = 0
        // Wait up to 10 s in total; never assert an upper bound on latency (VM steal).
        for _ in 0..<100 where n == 0 { n = try ep.wait(into: &events, timeoutMilliseconds: 100) }
        let woke = SystemClock.monotonicNanos()
        #expect(n == 1)
        #expect(events.token(at: 0) == 0xDEAD_BEEF_0000_0007)
        #expect(events.events(at: 0).contains(.input))
        #expect(woke >= deadline)
        #expect(try timer.readExpirations() == 1)
        #expect(try timer.readExpirations() == 0)
        #expect(try ep.wait(into: &events, timeoutMilliseconds: 0) == 0)
    }

    @Test func deadlineInThePastFiresAtOnceAndDisarmStopsIt() throws {
        let timer = try TimerFD.monotonic()
        defer { try? timer.close() }
        try timer.arm(deadline: SystemClock.monotonicNanos() - 1_000_000_000)
        #expect(try waitReadable(timer.fileDescriptor, milliseconds: 5_000))
        #expect(try timer.readExpirations() == 1)
        try timer.arm(deadline: 0)  // clamped to 1 ns, long past
        #expect(try waitReadable(timer.fileDescriptor, milliseconds: 5_000))
        #expect(try timer.readExpirations() == 1)

        try timer.arm(deadline: SystemClock.monotonicNanos() + 20_000_000)
        try timer.disarm()
        #expect(try timer.remaining() == 0)
        #expect(try !waitReadable(timer.fileDescriptor, milliseconds: 100))
        #expect(try timer.readExpirations() == 0)
    }

    @Test func periodicTimerAccumulatesExpirations() throws {
        let timer = try TimerFD.monotonic()
        defer { try? timer.close() }
        let start = SystemClock.monotonicNanos()
        try timer.arm(deadline: start + 5_000_000, interval: 5_000_000)
        usleep(60_000)
        let count = try timer.readExpirations()
        let elapsed = SystemClock.monotonicNanos() - start  // measured after the read
        // At least 60 ms passed: the 5, 10, ..., 55 ms expirations are all due (11).
        #expect(count >= 11)
        // And none before its time: k expirations need k × 5 ms.
        #expect(Int64(count) <= elapsed / 5_000_000)
    }

    @Test func epollModifyAndRemove() throws {
        let ep = try Epoll.create()
        defer { try? ep.close() }
        let timer = try TimerFD.monotonic()
        defer { try? timer.close() }
        try ep.add(timer.fileDescriptor, events: .input, token: 1)
        #expect(throws: Errno.fileExists) { try ep.add(timer.fileDescriptor, events: .input, token: 1) }
        try ep.modify(timer.fileDescriptor, events: .input, token: 42)
        try timer.arm(deadline: 1)
        var events = EpollEventBuffer(capacity: 2)
        var n = 0
        for _ in 0..<50 where n == 0 { n = try ep.wait(into: &events, timeoutMilliseconds: 100) }
        #expect(n == 1 && events.token(at: 0) == 42)
        try ep.remove(timer.fileDescriptor)
        #expect(try ep.wait(into: &events, timeoutMilliseconds: 0) == 0)  // still readable, but removed
        #expect(throws: Errno.noSuchFileOrDirectory) { try ep.remove(timer.fileDescriptor) }
    }

    @Test func signalFDSeesBlockedSignalsThroughEpoll() throws {
        // On a dedicated thread: the mask is per thread, and raise() targets the calling thread.
        let received: [ReceivedSignal] = try onDedicatedThread {
            let set = SignalSet(SIGUSR1, SIGTERM)
            #expect(set.contains(SIGTERM) && !set.contains(SIGHUP))
            #expect(SignalSet.termination.contains(SIGHUP))
            let sfd = try SignalFD.open(set)
            defer { try? sfd.close() }
            let ep = try Epoll.create()
            defer { try? ep.close() }
            try ep.add(sfd.fileDescriptor, events: .input, token: 9)
            var events = EpollEventBuffer(capacity: 4)
            #expect(try sfd.read() == nil)
            #expect(try ep.wait(into: &events, timeoutMilliseconds: 0) == 0)

            var got: [ReceivedSignal] = []
            for sig in [SIGUSR1, SIGTERM] {
                #expect(raise(sig) == 0)  // blocked: stays pending instead of killing us
                let n = try ep.wait(into: &events, timeoutMilliseconds: 5_000)
                #expect(n == 1 && events.token(at: 0) == 9)
                if let s = try sfd.read() { got.append(s) }
            }
            #expect(try sfd.read() == nil)
            return got
        }
        #expect(received.map(\.signal) == [SIGUSR1, SIGTERM])
        #expect(received.allSatisfy { $0.senderPID == getpid() })
    }
}
