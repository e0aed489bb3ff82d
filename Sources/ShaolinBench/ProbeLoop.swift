// The initiator's real-time loop: the engine's own set-up (mlockall, SCHED_FIFO, timerfd at
// absolute deadlines, epoll over the engine's link classes), one probe per link per tick,
// replies timestamped as they are drained. Steady state allocates nothing: histograms and
// per-sequence tables are sized before the loop starts.

import Atomics
import Glibc
import Histogram
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import SystemPackage

/// How the loop thread's real-time set-up went.
public struct RealtimeSetup: Sendable {
    public var priority: Int
    public var memoryLocked: Bool
    public var fifo: Bool
    public var cpu: Int
    public var problems: [String]
    public var degraded: Bool { !problems.isEmpty }

    /// mlockall, stack prefault, SCHED_FIFO at `priority` (0: stay SCHED_OTHER), optional CPU pin,
    /// on the calling thread — the same steps and order as the engine (`Engine.enterRealtime`).
    public static func enter(priority: Int, lockMemory: Bool, cpu: Int) -> RealtimeSetup {
        var s = RealtimeSetup(priority: priority, memoryLocked: false, fifo: false, cpu: cpu, problems: [])
        if lockMemory {
            do { try Realtime.lockAllMemory(); s.memoryLocked = true } catch { s.problems.append(error.description) }
        }
        Realtime.prefaultStack(kibibytes: 256)
        if priority > 0 {
            do { try Realtime.setFIFO(priority: CInt(priority)); s.fifo = true } catch { s.problems.append(error.description) }
        }
        if cpu >= 0 {
            do { try Realtime.pin(toCPU: cpu) } catch { s.problems.append(error.description) }
        }
        return s
    }
}

/// Counters the progress display reads while the loop runs.
public final class ProbeProgress: Sendable {
    public let ticks = ManagedAtomic<Int>(0)
    public let sent = ManagedAtomic<Int>(0)
    public let received = ManagedAtomic<Int>(0)
    public let finished = ManagedAtomic<Bool>(false)
    public init() {}
}

public final class ProbeLoop {
    public let links: [any HeartbeatLink]
    public let recorders: [LinkRecorder]
    public var loopLateness = BenchHistogram.make()
    /// Responder loop lateness carried in replies (all links).
    public var peerLateness = BenchHistogram.make()
    public private(set) var ticks: UInt64 = 0
    /// Timer expirations that passed while the loop was not running (missed ticks).
    public private(set) var overruns: UInt64 = 0
    public private(set) var startTime: Int64 = 0
    public private(set) var endTime: Int64 = 0

    let codec: ProbeCodec
    let session: UInt64
    let interval: Int64
    let duration: Int64
    let drain: Int64
    let progress: ProbeProgress
    let frame: UnsafeMutableRawBufferPointer
    var events = EpollEventBuffer(capacity: 16)

    public init(links: [any HeartbeatLink], recorders: [LinkRecorder], codec: ProbeCodec, session: UInt64,
                interval: Int64, duration: Int64, drain: Int64, progress: ProbeProgress) {
        self.links = links
        self.recorders = recorders
        self.codec = codec
        self.session = session
        self.interval = interval
        self.duration = duration
        self.drain = drain
        self.progress = progress
        frame = .allocate(byteCount: ProbeCodec.size, alignment: 16)
    }

    deinit { frame.deallocate() }

    static let tokenTimer: UInt64 = 1_000

    /// Runs the probes for the duration, then keeps receiving for the drain time.
    public func run() throws(Errno) {
        let timer = try TimerFD.monotonic()
        let epoll = try Epoll.create()
        defer { try? timer.close(); try? epoll.close() }
        try epoll.add(timer.fileDescriptor, events: .input, token: Self.tokenTimer)
        var registered = [FileDescriptor?](repeating: nil, count: links.count)
        for (i, l) in links.enumerated() {
            if let fd = l.descriptor { try epoll.add(fd, events: .input, token: UInt64(i)); registered[i] = fd }
        }
        startTime = SystemClock.monotonicNanos()
        let first = startTime + interval
        let sendUntil = startTime + duration
        let stopAt = sendUntil + drain
        try timer.arm(deadline: first, interval: interval)
        var tick: Int64 = 0  // index of the next expected expiration
        while true {
            let n = (try? epoll.wait(into: &events, timeoutMilliseconds: 100)) ?? 0
            var timerFired = false
            for i in 0..<n where events.token(at: i) == Self.tokenTimer { timerFired = true }
            // Replies first, each stamped as it is read.
            receiveAll()
            let now = SystemClock.monotonicNanos()
            if timerFired {
                let expirations = (try? timer.readExpirations()) ?? 0
                if expirations > 0 {
                    // Lateness against the earliest deadline not yet served (as cyclictest measures):
                    // a stall across several ticks shows in full, not modulo the interval.
                    let deadline = first + tick * interval
                    tick += Int64(expirations)
                    let late = max(0, now - deadline)
                    _ = loopLateness.record(BenchHistogram.micros(late))
                    if expirations > 1 { overruns &+= expirations - 1 }
                    ticks &+= 1
                    progress.ticks.store(Int(ticks), ordering: .relaxed)
                    if first + (tick - 1) * interval <= sendUntil { sendProbes(now: now, latenessMicros: UInt32(clamping: late / 1_000)) }
                    for (i, l) in links.enumerated() where l.refresh(now: now) {
                        if let old = registered[i] { try? epoll.remove(old) }
                        registered[i] = l.descriptor
                        if let fd = l.descriptor { try? epoll.add(fd, events: .input, token: UInt64(i)) }
                    }
                }
            }
            if now >= stopAt { break }
            if now >= sendUntil && allAnswered() { break }
        }
        endTime = SystemClock.monotonicNanos()
        progress.finished.store(true, ordering: .releasing)
    }

    func allAnswered() -> Bool {
        for r in recorders where r.received < r.sent { return false }
        return true
    }

    func sendProbes(now: Int64, latenessMicros: UInt32) {
        var total = 0
        for (i, l) in links.enumerated() {
            let r = recorders[i]
            guard let seq = r.nextSequence else { continue }
            let sendTime = SystemClock.monotonicNanos()
            let f = ProbeFields(kind: .probe, link: UInt8(truncatingIfNeeded: i), session: session, sequence: seq,
                                sendTime: sendTime, interval: interval)
            let size = codec.encode(f, into: frame)
            let dropsBefore = l.sendDrops
            l.send(UnsafeRawBufferPointer(rebasing: frame[0..<size]))
            r.recordSent(sequence: seq, latenessMicros: latenessMicros, dropped: l.sendDrops != dropsBefore)
            total += Int(r.sent)
        }
        progress.sent.store(total, ordering: .relaxed)
    }

    func receiveAll() {
        var total = 0
        for (i, l) in links.enumerated() {
            let r = recorders[i]
            l.drain(ready: true) { bytes in
                let now = SystemClock.monotonicNanos()
                switch codec.decode(bytes) {
                case .success(let f):
                    if f.kind == .reply {
                        r.recordReply(f, session: session, now: now)
                        _ = peerLateness.record(max(1, UInt64(f.responderLatenessMicros)))
                    }
                case .failure(let e):
                    r.recordReject(e.reason)
                }
            }
            total += Int(r.received)
        }
        progress.received.store(total, ordering: .relaxed)
    }
}

/// Starts `body` on a new thread (SCHED_OTHER until the body changes it) and returns a join handle.
public final class BenchThread: @unchecked Sendable {
    var thread = pthread_t()
    let body: () -> Void

    public init(_ body: @escaping () -> Void) {
        self.body = body
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { arg in
            let me = Unmanaged<BenchThread>.fromOpaque(arg!).takeRetainedValue()
            me.body()
            return nil
        }, box.toOpaque())
    }

    public func join() { pthread_join(thread, nil) }
}
