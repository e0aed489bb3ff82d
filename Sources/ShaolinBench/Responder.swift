// The peer side of `shaolinctl bench`: answers authenticated probes on every link at once,
// with the same real-time set-up as the initiator, and runs its own timer at the probes'
// interval so each reply carries how late the responder's loop woke up (a heartbeat sender's
// lateness on that node). Steady state allocates nothing.

import Glibc
import Histogram
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import SystemPackage

public final class Responder {
    public struct LinkCounters: Sendable {
        public var answered: UInt64 = 0
        public var rejectedTag: UInt64 = 0
        public var rejectedOther: UInt64 = 0
        public var heartbeatsSeen: UInt64 = 0
        public var sessions: UInt64 = 0
    }

    public let links: [any HeartbeatLink]
    public private(set) var counters: [LinkCounters]
    public var loopLateness = BenchHistogram.make()
    let codec: ProbeCodec
    let frame: UnsafeMutableRawBufferPointer
    var session: [UInt64]
    var receivedInSession: [UInt32]
    var latenessMicros: UInt32 = 0
    var interval: Int64
    var events = EpollEventBuffer(capacity: 16)

    public init(links: [any HeartbeatLink], codec: ProbeCodec, initialInterval: Int64) {
        self.links = links
        self.codec = codec
        self.interval = initialInterval
        counters = links.map { _ in LinkCounters() }
        session = links.map { _ in 0 }
        receivedInSession = links.map { _ in 0 }
        frame = .allocate(byteCount: ProbeCodec.size, alignment: 16)
    }

    deinit { frame.deallocate() }

    /// Answers probes until a termination signal arrives on `signals`, `duration` ns pass
    /// (0: no limit), or no probe came for `idleExit` ns after the first one (0: never).
    public func run(signals: SignalFD, duration: Int64, idleExit: Int64) throws(Errno) {
        let timer = try TimerFD.monotonic()
        let epoll = try Epoll.create()
        defer { try? timer.close(); try? epoll.close() }
        try epoll.add(timer.fileDescriptor, events: .input, token: 1_000)
        try epoll.add(signals.fileDescriptor, events: .input, token: 1_001)
        var registered = [FileDescriptor?](repeating: nil, count: links.count)
        for (i, l) in links.enumerated() {
            if let fd = l.descriptor { try epoll.add(fd, events: .input, token: UInt64(i)); registered[i] = fd }
        }
        let start = SystemClock.monotonicNanos()
        var first = start + interval
        var armedInterval = interval
        var tick: Int64 = 0
        var lastProbe: Int64 = 0
        try timer.arm(deadline: first, interval: interval)
        while true {
            let n = (try? epoll.wait(into: &events, timeoutMilliseconds: 200)) ?? 0
            var timerFired = false, signalled = false
            for i in 0..<n {
                switch events.token(at: i) {
                case 1_000: timerFired = true
                case 1_001: signalled = true
                default: break
                }
            }
            let now = SystemClock.monotonicNanos()
            // The timer first, so replies sent right after a stall carry its lateness.
            if timerFired {
                let expirations = (try? timer.readExpirations()) ?? 0
                if expirations > 0 {
                    // Against the earliest deadline not yet served (a stall shows in full).
                    let deadline = first + tick * armedInterval
                    tick += Int64(expirations)
                    let late = max(0, now - deadline)
                    latenessMicros = UInt32(clamping: late / 1_000)
                    _ = loopLateness.record(BenchHistogram.micros(late))
                }
                for (i, l) in links.enumerated() where l.refresh(now: now) {
                    if let old = registered[i] { try? epoll.remove(old) }
                    registered[i] = l.descriptor
                    if let fd = l.descriptor { try? epoll.add(fd, events: .input, token: UInt64(i)) }
                }
                // Follow the initiator's interval so the lateness is measured at its rate.
                if interval != armedInterval {
                    armedInterval = interval
                    first = now + interval
                    tick = 0
                    try? timer.arm(deadline: first, interval: interval)
                }
            }
            if answerAll() { lastProbe = SystemClock.monotonicNanos() }
            if signalled, let s = try? signals.read(), s.signal != 0 { break }
            if duration > 0 && now - start >= duration { break }
            if idleExit > 0 && lastProbe > 0 && now - lastProbe >= idleExit { break }
        }
    }

    /// Drains every link and answers each valid probe at once. Returns whether any probe came.
    func answerAll() -> Bool {
        var any = false
        for (i, l) in links.enumerated() {
            l.drain(ready: true) { bytes in
                let rx = SystemClock.monotonicNanos()
                switch codec.decode(bytes) {
                case .success(var f):
                    guard f.kind == .probe else { counters[i].rejectedOther &+= 1; return }
                    any = true
                    if f.session != session[i] {
                        session[i] = f.session
                        receivedInSession[i] = 0
                        counters[i].sessions &+= 1
                    }
                    receivedInSession[i] &+= 1
                    if f.interval >= 100_000 && f.interval <= 60_000_000_000 { interval = f.interval }
                    f.kind = .reply
                    f.responderReceive = rx
                    f.responderReceived = receivedInSession[i]
                    f.responderLatenessMicros = latenessMicros
                    f.responderSend = SystemClock.monotonicNanos()
                    let size = codec.encode(f, into: frame)
                    l.send(UnsafeRawBufferPointer(rebasing: frame[0..<size]))
                    counters[i].answered &+= 1
                case .failure(let e):
                    switch e.reason {
                    case .heartbeat: counters[i].heartbeatsSeen &+= 1
                    case .tag: counters[i].rejectedTag &+= 1
                    default: counters[i].rejectedOther &+= 1
                    }
                }
            }
        }
        return any
    }
}
