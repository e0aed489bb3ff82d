// Checks that the real-time paths do not allocate.
//
// The parent test builds the LD_PRELOAD library benchmarks/malloc-count.c, which counts
// malloc/calloc/realloc/posix_memalign/aligned_alloc/memalign/valloc calls per thread between
// two markers, then re-runs this test binary with only `AllocationChild` enabled under it. The child exercises the real-time
// calls in a loop and prints what the library counted. The interposer lives only in that
// child process, so no other test sees it.
import Foundation
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import SystemPackage
import Testing

/// The LD_PRELOAD counter shared with the benchmarks (its in-process window markers).
private let interposerSource = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("benchmarks/malloc-count.c").path

private let childEnvironment = "SHAOLIN_ALLOCATION_CHILD"

@Suite struct AllocationTests {
    @Test func realTimePathsDoNotAllocate() throws {
        let dir = "/tmp/shaolin-alloc-\(getpid())"
        try run(["mkdir", "-p", dir])
        defer { _ = try? run(["rm", "-rf", dir], check: false) }
        try run(["cc", "-shared", "-fPIC", "-O2", "-o", "\(dir)/count.so", interposerSource, "-ldl", "-lpthread"])

        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        p.arguments = ["--testing-library", "swift-testing", "--filter", "AllocationChild"]
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = "\(dir)/count.so"
        env[childEnvironment] = "1"
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(output)")

        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("SHAOLIN-ALLOCATIONS") }, "\(output)")
        var values: [String: Int] = [:]
        for field in line.split(separator: " ").dropFirst() {
            let kv = field.split(separator: "=")
            if kv.count == 2 { values[String(kv[0])] = Int(kv[1]) }
        }
        // The counter works: an array built inside the window is seen.
        #expect((values["sanity"] ?? 0) >= 1, "\(line)")
        // 200 ticks of timerfd, epoll, signalfd, AF_PACKET, serial I/O, framing: no allocation.
        #expect(values["ticks"] == 200, "\(line)")
        #expect(values["realtime"] == 0, "\(line)")
    }
}

/// Stands in for /dev/watchdog (none on this machine): counts keepalives.
final class CountingWatchdog: WatchdogDevice {
    var keepalives = 0
    func keepAlive() -> Errno? { keepalives += 1; return nil }
    func disarmAndClose() -> Errno? { nil }
    func closeArmed() {}
}

/// Runs only in the child process started above (under the counting LD_PRELOAD library).
@Suite struct AllocationChild {
    typealias Begin = @convention(c) () -> Void
    typealias End = @convention(c) () -> Int

    @Test(.enabled(if: ProcessInfo.processInfo.environment[childEnvironment] != nil))
    func measure() throws {
        let begin = unsafeBitCast(try #require(dlsym(nil, "shaolin_alloc_begin")), to: Begin.self)
        let end = unsafeBitCast(try #require(dlsym(nil, "shaolin_alloc_end")), to: End.self)
        let line = try onDedicatedThread { () throws -> String in
            // Set-up may allocate.
            let timer = try TimerFD.monotonic()
            defer { try? timer.close() }
            let ep = try Epoll.create()
            defer { try? ep.close() }
            try ep.add(timer.fileDescriptor, events: .input, token: 1)
            var events = EpollEventBuffer(capacity: 8)
            let signals = try SignalFD.open(SignalSet(SIGUSR2))
            defer { try? signals.close() }
            let lo = try #require(InterfaceName("lo"))
            let packet = try PacketSocket.open(interface: lo, etherType: 0x88B6)
            defer { try? packet.close() }
            let pair = try PtyPair.open()
            var master = try SerialPort(adopting: pair.master)
            defer { master.close() }
            var slave = try SerialPort(path: pair.slavePath)
            defer { slave.close() }
            var decoder = SerialFrameDecoder()
            let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
            defer { payload.deallocate() }
            payload.initializeMemory(as: UInt8.self, repeating: 0x42)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
            defer { buffer.deallocate() }
            let wire = UnsafeMutableRawBufferPointer.allocate(byteCount: SerialFraming.maxEncodedFrameCount, alignment: 16)
            defer { wire.deallocate() }

            // The watchdog keeper as the real-time loop runs it (pet every tick; the health
            // verdict flips every 50 ticks so the change report is exercised too).
            let dog = CountingWatchdog()
            let health = EngineHealth()
            let keeper = WatchdogKeeper(device: dog, health: health, petInterval: 0, slack: 1_000_000_000,
                                        slowSideTimeout: 60_000_000_000, now: SystemClock.monotonicNanos())
            var verdicts = 0
            var keeperClock = SystemClock.monotonicNanos()
            var ticks = 0, frames = 0, packets = 0, expirations: UInt64 = 0, signalsSeen = 0
            func tick() throws {
                let now = SystemClock.monotonicNanos()
                _ = SystemClock.realtimeNanos()
                try timer.arm(deadline: now)
                _ = try ep.wait(into: &events, timeoutMilliseconds: 100)
                expirations &+= try timer.readExpirations()
                if try signals.read() != nil { signalsSeen += 1 }
                _ = try packet.send(UnsafeRawBufferPointer(payload), to: .broadcast)
                while case .frame = try packet.receive(into: buffer) { packets += 1 }
                _ = try packet.linkFlags()
                let count = SerialFraming.encode(UnsafeRawBufferPointer(rebasing: payload[0..<32]), into: wire) ?? 0
                _ = try master.write(UnsafeRawBufferPointer(rebasing: wire[0..<count]))
                while case .bytes(let got) = try slave.read(into: buffer) {
                    decoder.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<got])) { _ in frames += 1 }
                }
                health.slowSideBeat()
                if ticks % 50 == 0 { health.setCriticalServiceFailed(ticks % 100 == 0) }
                // The keeper on a clock of its own, 10 ms per tick: how many pets it makes must not
                // depend on how fast this machine runs the ticks (its 1 ms retry after a withheld
                // pet would swallow a healthy stretch of fast ticks).
                keeperClock &+= 10_000_000
                if keeper.service(now: keeperClock, overdue: 0, role: .active) != nil { verdicts += 1 }
                ticks += 1
            }
            try tick()  // first calls: lazy metadata and the like
            begin()
            let sanityArray = [Int](repeating: 7, count: Int(getpid() & 7) + 16)
            let sanity = end()
            begin()
            for _ in 0..<200 { try tick() }
            let realtime = end()
            #expect(sanityArray.count >= 16)
            #expect(expirations >= 200)
            #expect(packets >= 100)
            #expect(frames >= 100)
            #expect(decoder.rejects.total == 0)
            #expect(dog.keepalives >= 50 && verdicts >= 4, "keepalives \(dog.keepalives), verdicts \(verdicts)")
            return "SHAOLIN-ALLOCATIONS sanity=\(sanity) ticks=\(ticks - 1) realtime=\(realtime) "
                + "packets=\(packets) frames=\(frames) expirations=\(expirations)"
        }
        print(line)
    }
}
