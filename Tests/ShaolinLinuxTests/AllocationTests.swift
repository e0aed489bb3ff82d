// Checks that the real-time paths do not allocate.
//
// The parent test builds a tiny LD_PRELOAD library that counts malloc/calloc/realloc/
// posix_memalign/aligned_alloc calls per thread between two markers, then re-runs this test
// binary with only `AllocationChild` enabled under it. The child exercises the real-time
// calls in a loop and prints what the library counted. The interposer lives only in that
// child process, so no other test sees it.
import Foundation
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import SystemPackage
import Testing

private let interposerSource = #"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
static __thread int counting;
static __thread long count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static char bootstrap[4096];
static size_t bootstrap_used;
static int resolving;
static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    resolving = 0;
}
void shaolin_alloc_begin(void) { count = 0; counting = 1; }
long shaolin_alloc_end(void) { counting = 0; return count; }
void *malloc(size_t n) { resolve(); if (counting) count++; return real_malloc(n); }
void *calloc(size_t a, size_t b) {
    if (!real_calloc) {  /* dlsym itself may calloc while we resolve */
        size_t n = (a * b + 15) & ~(size_t)15;
        if (bootstrap_used + n > sizeof bootstrap) return NULL;
        void *p = bootstrap + bootstrap_used; bootstrap_used += n; return p;
    }
    if (counting) count++;
    return real_calloc(a, b);
}
void *realloc(void *p, size_t n) { resolve(); if (counting) count++; return real_realloc(p, n); }
int posix_memalign(void **p, size_t a, size_t n) { resolve(); if (counting) count++; return real_posix_memalign(p, a, n); }
void *aligned_alloc(size_t a, size_t n) { resolve(); if (counting) count++; return real_aligned_alloc(a, n); }
"""#

private let childEnvironment = "SHAOLIN_ALLOCATION_CHILD"

@Suite struct AllocationTests {
    @Test func realTimePathsDoNotAllocate() throws {
        let dir = "/tmp/shaolin-alloc-\(getpid())"
        try run(["mkdir", "-p", dir])
        defer { _ = try? run(["rm", "-rf", dir], check: false) }
        try interposerSource.write(toFile: "\(dir)/count.c", atomically: true, encoding: .utf8)
        try run(["cc", "-shared", "-fPIC", "-O2", "-o", "\(dir)/count.so", "\(dir)/count.c", "-ldl"])

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
