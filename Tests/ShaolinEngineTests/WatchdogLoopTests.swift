// The real RealtimeLoop (timerfd, epoll, signalfd, the bounded queues) petting a fake watchdog
// device (this machine has none) while the test plays the slow side: pets while the slow
// side's heartbeat advances, none while it is silent, again when it resumes, and SIGTERM
// (a clean leave) ends with the watchdog disarmed. The windows checked are wide (hundreds of
// milliseconds around 300 ms and 50 ms settings): they test the logic, not the latency.
import Atomics
import Foundation
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import SystemPackage
import Testing

/// A fake device on the real clock; callable from the loop's thread, read after it ended.
final class ClockedFakeWatchdog: WatchdogDevice, @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var stamps: [Int64] = []
    private(set) var disarmed = false
    private(set) var closedArmed = false
    init() {
        pthread_mutex_init(&lock, nil)
        stamps.reserveCapacity(10_000)
    }
    func keepAlive() -> Errno? {
        pthread_mutex_lock(&lock)
        if stamps.count < stamps.capacity { stamps.append(SystemClock.monotonicNanos()) }
        pthread_mutex_unlock(&lock)
        return nil
    }
    func disarmAndClose() -> Errno? { disarmed = true; return nil }
    func closeArmed() { closedArmed = true }
    var keepalives: [Int64] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return stamps
    }
}

/// Runs the loop on its own thread (signals blocked there) and hands back its exit reason.
final class LoopThread: @unchecked Sendable {
    let loop: RealtimeLoop
    let done = ManagedAtomic<Bool>(false)
    var reason: RealtimeLoop.ExitReason?
    var thread = pthread_t()
    init(_ loop: RealtimeLoop) { self.loop = loop }
    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { arg in
            let me = Unmanaged<LoopThread>.fromOpaque(arg!).takeRetainedValue()
            me.reason = me.loop.run()
            me.done.store(true, ordering: .releasing)
            return nil
        }, box)
    }
}

@Suite struct WatchdogLoopTests {
    /// Node 1 of a two-node cluster with one link (keepalive 100 ms, deadtime 1 s).
    static func machine() throws -> ClusterStateMachine {
        let key = try ClusterKey(bytes: [UInt8](repeating: 7, count: 32))
        let params = ClusterParameters(
            clusterID: 9, localNodeID: 1, peerNodeID: 2,
            links: [LinkParameters(id: 0, keepalive: .ms(100), deadtime: .ms(1000), warntime: .ms(500))],
            startupTimeout: .seconds(60), syncTimeout: .ms(500))
        return ClusterStateMachine(parameters: params, codec: FrameCodec(clusterID: 9, key: key), incarnation: 0x77)
    }

    @Test func theRealLoopPetsOnlyWhileTheSlowSideLivesAndDisarmsOnLeave() throws {
        let ms: Int64 = 1_000_000
        let machine = try Self.machine()
        var pipeFDs: [Int32] = [0, 0]
        #expect(pipe(&pipeFDs) == 0)
        defer { close(pipeFDs[0]); close(pipeFDs[1]) }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let toSlow = SPSCQueue<SlowMessage>(capacity: 4096)
        let fromSlow = SPSCQueue<RealtimeInput>(capacity: 64)
        let health = EngineHealth()
        let dog = ClockedFakeWatchdog()
        let keeper = WatchdogKeeper(device: dog, health: health, petInterval: 50 * ms, slack: 1000 * ms,
                                    slowSideTimeout: 300 * ms, now: SystemClock.monotonicNanos())

        // SignalFD.open blocks SIGTERM/SIGINT in this thread; the loop's thread, created below,
        // inherits that mask, so a SIGTERM sent to it waits in its signalfd.
        let signals = try SignalFD.open()
        let loop = try RealtimeLoop(machine: machine, links: [], toSlow: toSlow, fromSlow: fromSlow,
                                    wakePipe: FileDescriptor(rawValue: pipeFDs[0]), signals: signals,
                                    realtimeDegraded: true, watchdog: keeper)
        let runner = LoopThread(loop)
        runner.start()

        // The test is the slow side: drain the queue, beat (or not), answer sync requests.
        var verdicts: [(Int64, UnhealthyReasons)] = []
        var syncRequested = false
        func slowSide(for duration: Int64, beating: Bool) {
            let end = SystemClock.monotonicNanos() + duration
            while SystemClock.monotonicNanos() < end && !runner.done.load(ordering: .acquiring) {
                if beating { health.slowSideBeat() }
                while let m = toSlow.pop() {
                    switch m {
                    case .watchdog(let v): verdicts.append((SystemClock.monotonicNanos(), v.reasons))
                    case .action(.sync): syncRequested = true
                    default: break
                    }
                }
                if syncRequested {
                    syncRequested = false
                    _ = fromSlow.push(.syncFinished)
                    var b: UInt8 = 1
                    _ = write(pipeFDs[1], &b, 1)
                }
                usleep(5_000)
            }
        }
        let t0 = SystemClock.monotonicNanos()
        slowSide(for: 1000 * ms, beating: true)
        let silentFrom = SystemClock.monotonicNanos()
        slowSide(for: 1500 * ms, beating: false)
        let silentTo = SystemClock.monotonicNanos()
        slowSide(for: 1000 * ms, beating: true)
        // A clean leave: SIGTERM to the loop's thread (blocked there, read from its signalfd).
        pthread_kill(runner.thread, SIGTERM)
        slowSide(for: 5000 * ms, beating: true)
        let left = runner.done.load(ordering: .acquiring)
        #expect(left, "the loop did not leave after SIGTERM")
        guard left else { return }
        pthread_join(runner.thread, nil)
        #expect(runner.reason == .left)
        #expect(loop.releaseWatchdog(disarm: true) == nil)
        #expect(dog.disarmed && !dog.closedArmed)

        let pets = dog.keepalives
        let phase1 = pets.filter { $0 >= t0 && $0 < silentFrom }
        let silent = pets.filter { $0 >= silentFrom + 800 * ms && $0 < silentTo }
        let phase3 = pets.filter { $0 >= silentTo }
        #expect(phase1.count >= 5, "pets while healthy: \(phase1.count)")
        #expect(silent.isEmpty, "\(silent.count) pet(s) while the slow side was silent")
        #expect(!phase3.isEmpty, "no pet after the slow side resumed")
        #expect(Array(verdicts.map { $0.1 }.prefix(2)) == [.slowSideSilent, []], "\(verdicts)")
        if let first = verdicts.first { #expect(first.0 > silentFrom) }
    }

    /// A loop closes the descriptors it created (its timerfd and both epoll sets) when it is
    /// released: 300 loops created and dropped leave the process's descriptor count where it was
    /// (leaking, they would add 900; other tests running meanwhile open a few at most).
    @Test func aReleasedLoopClosesItsTimerAndEpollSets() throws {
        var pipeFDs: [Int32] = [0, 0]
        #expect(pipe(&pipeFDs) == 0)
        defer { close(pipeFDs[0]); close(pipeFDs[1]) }
        let signals = try SignalFD.open()
        defer { try? signals.close() }
        func openDescriptors() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        }
        let before = try openDescriptors()
        for _ in 0..<300 {
            _ = try RealtimeLoop(machine: Self.machine(), links: [], toSlow: SPSCQueue<SlowMessage>(capacity: 8),
                                 fromSlow: SPSCQueue<RealtimeInput>(capacity: 8),
                                 wakePipe: FileDescriptor(rawValue: pipeFDs[0]), signals: signals,
                                 realtimeDegraded: true, wakeOnFrames: false)
        }
        let after = try openDescriptors()
        #expect(after - before < 300, "descriptors before \(before), after \(after)")
    }
}
