// Structured log records with stable fields (SHAOLIN_EVENT, SHAOLIN_ROLE, MESSAGE_ID, …),
// written to journald, /dev/kmsg or stderr (see LogSink.swift and docs/logging.md).
//
// Nothing that can wait is done by the caller: once `startWriter()` has run, `write` only
// formats the record and appends it to a bounded queue; a dedicated SCHED_OTHER writer thread
// does the I/O. A stalled journald (corosync #520, coreos #990) therefore stalls only that
// thread: when the queue is full records are dropped and counted, and the writer reports the
// count (SHAOLIN_EVENT=LOG_DROPPED) as soon as it can write again. The real-time thread never
// calls this at all: it hands events to the slow side through its own drop-counting SPSC queue.
// Before `startWriter()` (start-up) and after `stopWriter()` (exit) records are written directly.

import Atomics
import Glibc
import ShaolinCore
import ShaolinLinux

public final class EventLog: @unchecked Sendable {
    public enum Priority: Int, Sendable, Comparable {
        case emergency = 0, alert, critical, error, warning, notice, info, debug
        public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
        var label: String {
            switch self {
            case .emergency: "EMERG"
            case .alert: "ALERT"
            case .critical: "CRIT"
            case .error: "ERROR"
            case .warning: "WARN"
            case .notice: "NOTICE"
            case .info: "INFO"
            case .debug: "DEBUG"
            }
        }
    }

    /// One field beyond the standard ones: a journal field name (A–Z, 0–9, _) and any value.
    public typealias Field = (name: String, value: String)

    struct Record {
        var priority: Priority
        var message: String
        var event: String?
        var fields: [Field]
        var monotonicNanos: Int64
        var role: String?
    }

    public let node: String
    public let sink: LogSink
    public let sinkReason: String
    let kmsgFD: Int32
    /// Where the stderr sink (and the journal's fallback) writes: 2 unless a test passes its own.
    let textFD: Int32
    /// The level threshold (changed live by a configuration reload).
    private let thresholdRaw = ManagedAtomic<Int>(Priority.info.rawValue)
    var threshold: Priority { Priority(rawValue: thresholdRaw.load(ordering: .relaxed)) ?? .info }
    /// The recent lines, for the control interface's `log` request (and the menu).
    public let ring = EventRing()
    let started = SystemClockShim.monotonic()
    public static let queueCapacity = 1024

    private var lock = pthread_mutex_t()
    private var wake = pthread_cond_t()
    /// Serialises the actual writes (direct writes at start-up vs. the writer thread).
    private var sinkLock = pthread_mutex_t()
    private var queue: [Record?]
    private var head = 0
    private var count = 0
    private var writerRunning = false
    private var stopping = false
    private var writer = pthread_t()
    private var droppedTotal: UInt64 = 0
    private var droppedReported: UInt64 = 0
    private var journalErrors: UInt64 = 0
    private var currentRole: String?

    /// - Parameters:
    ///   - target: "auto", "journal", "kmsg" or "stderr" (see `LogSinkSelector.choose`).
    ///   - level: "debug", "info", "notice", "warning" or "error".
    public convenience init(node: String, target: String, level: String) {
        self.init(node: node, choice: LogSinkSelector.choose(target: target, .probe()), level: level)
    }

    public init(node: String, choice: LogSinkChoice, level: String, textDescriptor: Int32 = 2) {
        self.node = node
        var sink = choice.sink
        var reason = choice.reason
        var k: Int32 = -1
        if sink == .kmsg {
            k = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NONBLOCK)
            if k < 0 { sink = .stderr; reason += " (open /dev/kmsg failed: using stderr)" }
        }
        self.sink = sink
        self.sinkReason = reason
        kmsgFD = k
        textFD = textDescriptor
        queue = Array(repeating: nil, count: Self.queueCapacity)
        pthread_mutex_init(&lock, nil)
        pthread_mutex_init(&sinkLock, nil)
        pthread_cond_init(&wake, nil)
        setLevel(level)
    }

    /// Sets the level threshold ("debug", "info", "notice", "warning", "error").
    public func setLevel(_ level: String) {
        let t: Priority
        switch level {
        case "debug": t = .debug
        case "notice": t = .notice
        case "warning": t = .warning
        case "error": t = .error
        default: t = .info
        }
        thresholdRaw.store(t.rawValue, ordering: .relaxed)
    }

    /// Records dropped because the queue was full, since start.
    public var dropped: UInt64 {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        return droppedTotal
    }

    /// Entries journald refused (each was written to stderr instead).
    public var journalFailures: UInt64 {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        return journalErrors
    }

    /// The node's role, attached to every later record as SHAOLIN_ROLE.
    public func setRole(_ role: Role) {
        pthread_mutex_lock(&lock); currentRole = "\(role)"; pthread_mutex_unlock(&lock)
    }

    // MARK: - Writing

    /// Logs one record. `fields` in the legacy text form: space-separated `NAME=value` pairs.
    public func write(_ p: Priority, _ message: String, event: String? = nil, fields: String = "") {
        var parsed: [Field] = []
        for token in fields.split(separator: " ") {
            guard let eq = token.firstIndex(of: "=") else { continue }
            parsed.append((String(token[..<eq]), String(token[token.index(after: eq)...])))
        }
        write(p, message, event: event, parsed)
    }

    /// Logs one record with structured fields. Never waits for the sink once the writer runs.
    public func write(_ p: Priority, _ message: String, event: String? = nil, _ fields: [Field]) {
        guard p <= threshold else { return }
        ring.append(priority: p.rawValue, event: event ?? "", message: message)
        pthread_mutex_lock(&lock)
        let r = Record(priority: p, message: message, event: event, fields: fields,
                       monotonicNanos: SystemClockShim.monotonic(), role: currentRole)
        if !writerRunning {
            pthread_mutex_unlock(&lock)
            emit(r)
            return
        }
        if count == queue.count {
            droppedTotal &+= 1
            pthread_mutex_unlock(&lock)
            return
        }
        queue[(head + count) % queue.count] = r
        count += 1
        pthread_cond_signal(&wake)
        pthread_mutex_unlock(&lock)
    }

    /// Starts the writer thread (SCHED_OTHER, whatever the caller's policy). Call it after the
    /// start-up's capability drop: threads inherit their creator's capabilities.
    public func startWriter() {
        pthread_mutex_lock(&lock)
        guard !writerRunning else { pthread_mutex_unlock(&lock); return }
        writerRunning = true
        stopping = false
        pthread_mutex_unlock(&lock)
        do {
            writer = try NormalThread.start(stackBytes: 512 * 1024) { [self] in writerLoop() }
        } catch {
            pthread_mutex_lock(&lock); writerRunning = false; pthread_mutex_unlock(&lock)
            write(.error, "cannot start the log writer thread (\(error)): logging directly")
        }
    }

    /// Writes everything queued, stops the writer and returns to direct writes.
    public func stopWriter() {
        pthread_mutex_lock(&lock)
        guard writerRunning else { pthread_mutex_unlock(&lock); return }
        stopping = true
        pthread_cond_signal(&wake)
        pthread_mutex_unlock(&lock)
        pthread_join(writer, nil)
    }

    func writerLoop() {
        while true {
            pthread_mutex_lock(&lock)
            while count == 0 && !stopping && droppedReported == droppedTotal { pthread_cond_wait(&wake, &lock) }
            var batch: [Record] = []
            batch.reserveCapacity(count)
            while count > 0 {
                batch.append(queue[head]!)
                queue[head] = nil
                head = (head + 1) % queue.count
                count -= 1
            }
            let dropped = droppedTotal
            let newlyDropped = dropped - droppedReported
            droppedReported = dropped
            let role = currentRole
            let done = stopping && batch.isEmpty
            if done { writerRunning = false }
            pthread_mutex_unlock(&lock)
            if newlyDropped > 0 {
                emit(Record(priority: .warning,
                            message: "\(newlyDropped) log record(s) dropped: the log queue (\(Self.queueCapacity)) was full because the log sink was slow (\(dropped) since start)",
                            event: "LOG_DROPPED", fields: [("SHAOLIN_DROPPED", "\(newlyDropped)"), ("SHAOLIN_DROPPED_TOTAL", "\(dropped)")],
                            monotonicNanos: SystemClockShim.monotonic(), role: role))
            }
            for r in batch { emit(r) }
            if done { return }
        }
    }

    // MARK: - Sinks

    func emit(_ r: Record) {
        pthread_mutex_lock(&sinkLock)
        defer { pthread_mutex_unlock(&sinkLock) }
        switch sink {
        case .journal:
            do {
                try Journal.send(journalFields(r))
            } catch {
                pthread_mutex_lock(&lock); journalErrors &+= 1; let first = journalErrors == 1; pthread_mutex_unlock(&lock)
                if first { writeAll(textFD, "shaolind: journald refused a log entry (\(error)); such entries go to stderr\n") }
                writeAll(textFD, textLine(r, kmsg: false))
            }
        case .kmsg:
            writeAll(kmsgFD, textLine(r, kmsg: true))
        case .stderr:
            writeAll(textFD, textLine(r, kmsg: false))
        }
    }

    /// The journal entry: MESSAGE, PRIORITY, MESSAGE_ID (key events), SYSLOG_IDENTIFIER and the
    /// SHAOLIN_* fields. Invalid field names are skipped (they stay in the text sinks).
    func journalFields(_ r: Record) -> [Field] {
        var f: [Field] = [("MESSAGE", r.message), ("PRIORITY", "\(r.priority.rawValue)"),
                          ("SYSLOG_IDENTIFIER", "shaolind"), ("SHAOLIN_NODE", node)]
        if let e = r.event {
            f.append(("SHAOLIN_EVENT", e))
            if let id = LogCatalog.messageID(for: e) { f.append(("MESSAGE_ID", id)) }
        }
        if let role = r.role, !r.fields.contains(where: { $0.name == "SHAOLIN_ROLE" }) { f.append(("SHAOLIN_ROLE", role)) }
        f.append(("SHAOLIN_MONOTONIC_US", "\(r.monotonicNanos / 1000)"))
        for x in r.fields where Journal.isValidFieldName(x.name) { f.append(x) }
        return f
    }

    /// One text line (stderr, /dev/kmsg): the message, then SHAOLIN_EVENT, SHAOLIN_MONOTONIC_US
    /// and the fields as NAME=value (newlines in values shown as " | ").
    func textLine(_ r: Record, kmsg: Bool) -> String {
        var line: String
        if kmsg {
            line = "<\(r.priority.rawValue)>shaolind[\(node)]: \(r.message)"
        } else {
            let ms = (r.monotonicNanos - started) / 1_000_000
            let frac = String(ms % 1000)
            line = "[\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)] \(node) \(r.priority.label): \(r.message)"
        }
        if let e = r.event {
            line += " SHAOLIN_EVENT=\(e) SHAOLIN_MONOTONIC_US=\(r.monotonicNanos / 1000)"
            if let id = LogCatalog.messageID(for: e) { line += " MESSAGE_ID=\(id)" }
        }
        for x in r.fields {
            line += " \(x.name)=" + (x.value.contains("\n") ? x.value.split(separator: "\n").joined(separator: " | ") : x.value)
        }
        // /dev/kmsg takes one record per write and truncates beyond about 1 KiB.
        if kmsg && line.utf8.count > 1000 { line = String(decoding: line.utf8.prefix(1000), as: UTF8.self) }
        return line + "\n"
    }

    func writeAll(_ fd: Int32, _ s: String) {
        var bytes = Array(s.utf8)
        bytes.withUnsafeMutableBytes { b in
            var off = 0
            while off < b.count {
                let n = Glibc.write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
        }
    }

    // MARK: - Cluster events

    public func roleChanged(from: Role, to: Role, reason: TransitionReason, epoch: UInt32? = nil) {
        setRole(to)
        let p: Priority = to == .active || to == .fencing || to == .stopped ? .notice : .info
        var f: [Field] = [("SHAOLIN_ROLE", "\(to)"), ("SHAOLIN_ROLE_FROM", "\(from)"), ("SHAOLIN_REASON", "\(reason)")]
        if let e = epoch { f.append(("SHAOLIN_EPOCH", "\(e)")) }
        write(p, "role \(from) -> \(to): \(reason)", event: "ROLE_CHANGE", f)
        if to == .active && (from == .standby || from == .fencing) {
            write(.notice, "took over as ACTIVE from \(from): \(reason)", event: "TAKEOVER", f)
        }
    }

    public func event(_ e: ClusterLogEvent, linkNames: [String], peer: String) {
        func link(_ id: UInt8) -> String { Int(id) < linkNames.count ? linkNames[Int(id)] : "link\(id)" }
        switch e {
        case .linkUp(let l): write(.notice, "link \(link(l)) up", event: "LINK_UP", [("SHAOLIN_LINK", link(l)), ("SHAOLIN_PEER", peer)])
        case .linkDown(let l, let s):
            write(.warning, "link \(link(l)) down after \(s.milliseconds) ms of silence", event: "LINK_DOWN",
                  [("SHAOLIN_LINK", link(l)), ("SHAOLIN_PEER", peer), ("SHAOLIN_LATENCY_US", "\(s.microseconds)")])
        case .linkLate(let l, let s):
            write(.warning, "link \(link(l)): heartbeat late (\(s.milliseconds) ms silence, warntime passed)", event: "LINK_LATE",
                  [("SHAOLIN_LINK", link(l)), ("SHAOLIN_PEER", peer), ("SHAOLIN_LATENCY_US", "\(s.microseconds)")])
        case .peerDead(let n):
            write(.error, "peer \(peer) declared dead (\(n) link(s) alive)", event: "PEER_DEAD", [("SHAOLIN_PEER", peer), ("SHAOLIN_ALIVE_LINKS", "\(n)")])
        case .peerDeadIgnored:
            write(.warning, "peer \(peer) is silent, but maintenance mode is on: not reacting", event: "PEER_DEAD_IGNORED", [("SHAOLIN_PEER", peer)])
        case .peerAlive(let inc):
            write(.notice, "peer \(peer) alive (incarnation \(hex(inc)))", event: "PEER_ALIVE", [("SHAOLIN_PEER", peer), ("SHAOLIN_PEER_INCARNATION", hex(inc))])
        case .peerRestarted(let a, let b):
            write(.warning, "peer \(peer) restarted (incarnation \(hex(a)) -> \(hex(b)))", event: "PEER_RESTARTED",
                  [("SHAOLIN_PEER", peer), ("SHAOLIN_PEER_INCARNATION", hex(b))])
        case .ownStall(let l):
            write(.warning, "own stall: woke \(l.microseconds) us after the deadline; giving the peer a grace period", event: "OWN_STALL",
                  [("SHAOLIN_LATENCY_US", "\(l.microseconds)")])
        case .fenceFailed(let a, let r):
            write(.error, "fence attempt \(a) failed; retrying in \(r.milliseconds) ms; NOT taking over", event: "FENCE_RETRY",
                  [("SHAOLIN_PEER", peer), ("SHAOLIN_FENCE_ATTEMPT", "\(a)")])
        case .handoverRefused(let r): write(.warning, "peer refused the takeover: \(r)", event: "HANDOVER_REFUSED", [("SHAOLIN_PEER", peer)])
        case .takeoverRefusedByUs(let r): write(.warning, "refused the peer's takeover request: \(r)", event: "TAKEOVER_REFUSED", [("SHAOLIN_PEER", peer)])
        case .dualActive(let p, let o):
            write(.critical, "peer also claims ACTIVE (peer epoch \(p), ours \(o))", event: "DUAL_ACTIVE", [("SHAOLIN_PEER", peer), ("SHAOLIN_EPOCH", "\(o)")])
        case .frameLost(let l, let n): write(.info, "link \(link(l)): \(n) frame(s) lost", event: "FRAME_LOST", [("SHAOLIN_LINK", link(l))])
        }
    }

    func hex(_ v: UInt64) -> String { String(v, radix: 16) }
}

enum SystemClockShim {
    static func monotonic() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
