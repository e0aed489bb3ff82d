// Human-readable, structured log lines written by the slow side. Each line carries the node,
// a priority and a stable event name (SHAOLIN_EVENT=…) so tests and operators can grep it.
// Journald output is the Cluster Manager's concern; this sink writes stderr or /dev/kmsg.

import Atomics
import Glibc
import ShaolinCore

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

    let node: String
    let fd: Int32
    let kmsg: Bool
    /// The level threshold (changed live by a configuration reload).
    private let thresholdRaw = ManagedAtomic<Int>(Priority.info.rawValue)
    var threshold: Priority { Priority(rawValue: thresholdRaw.load(ordering: .relaxed)) ?? .info }
    let started = SystemClockShim.monotonic()
    /// The recent lines, for the control interface's `log` request.
    public let ring = EventRing()

    /// - Parameter target: "stderr" or "kmsg" ("auto"/"journal" fall back to stderr here).
    public init(node: String, target: String, level: String) {
        self.node = node
        var fd: Int32 = 2
        var kmsg = false
        if target == "kmsg" {
            let k = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NONBLOCK)
            if k >= 0 { fd = k; kmsg = true }
        }
        self.fd = fd
        self.kmsg = kmsg
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

    public func write(_ p: Priority, _ message: String, event: String? = nil, fields: String = "") {
        guard p <= threshold else { return }
        ring.append(priority: p.rawValue, event: event ?? "", message: message)
        let t = SystemClockShim.monotonic() - started
        let ms = t / 1_000_000
        let frac = String(ms % 1000)
        var line: String
        if kmsg {
            line = "<\(p.rawValue)>shaolind[\(node)]: \(message)"
        } else {
            line = "[\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)] \(node) \(p.label): \(message)"
        }
        if let e = event { line += " SHAOLIN_EVENT=\(e) SHAOLIN_MONOTONIC_US=\(SystemClockShim.monotonic() / 1000)" }
        if !fields.isEmpty { line += " " + fields }
        line += "\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    public func roleChanged(from: Role, to: Role, reason: TransitionReason) {
        let p: Priority = to == .active || to == .fencing || to == .stopped ? .notice : .info
        write(p, "role \(from) -> \(to): \(reason)", event: "ROLE_CHANGE", fields: "SHAOLIN_ROLE=\(to)")
    }

    public func event(_ e: ClusterLogEvent, linkNames: [String], peer: String) {
        func link(_ id: UInt8) -> String { Int(id) < linkNames.count ? linkNames[Int(id)] : "link\(id)" }
        switch e {
        case .linkUp(let l): write(.notice, "link \(link(l)) up", event: "LINK_UP", fields: "SHAOLIN_LINK=\(link(l))")
        case .linkDown(let l, let s):
            write(.warning, "link \(link(l)) down after \(s.milliseconds) ms of silence", event: "LINK_DOWN", fields: "SHAOLIN_LINK=\(link(l))")
        case .linkLate(let l, let s):
            write(.warning, "link \(link(l)): heartbeat late (\(s.milliseconds) ms silence, warntime passed)", event: "LINK_LATE", fields: "SHAOLIN_LINK=\(link(l)) SHAOLIN_LATENCY_US=\(s.microseconds)")
        case .peerDead(let n): write(.error, "peer \(peer) declared dead (\(n) link(s) alive)", event: "PEER_DEAD", fields: "SHAOLIN_PEER=\(peer)")
        case .peerDeadIgnored: write(.warning, "peer \(peer) is silent, but maintenance mode is on: not reacting", event: "PEER_DEAD_IGNORED")
        case .peerAlive(let inc): write(.notice, "peer \(peer) alive (incarnation \(hex(inc)))", event: "PEER_ALIVE", fields: "SHAOLIN_PEER=\(peer)")
        case .peerRestarted(let a, let b): write(.warning, "peer \(peer) restarted (incarnation \(hex(a)) -> \(hex(b)))", event: "PEER_RESTARTED")
        case .ownStall(let l):
            write(.warning, "own stall: woke \(l.microseconds) us after the deadline; giving the peer a grace period", event: "OWN_STALL", fields: "SHAOLIN_LATENCY_US=\(l.microseconds)")
        case .fenceFailed(let a, let r): write(.error, "fence attempt \(a) failed; retrying in \(r.milliseconds) ms; NOT taking over", event: "FENCE_RETRY")
        case .handoverRefused(let r): write(.warning, "peer refused the takeover: \(r)", event: "HANDOVER_REFUSED")
        case .takeoverRefusedByUs(let r): write(.warning, "refused the peer's takeover request: \(r)", event: "TAKEOVER_REFUSED")
        case .dualActive(let p, let o): write(.critical, "peer also claims ACTIVE (peer epoch \(p), ours \(o))", event: "DUAL_ACTIVE")
        case .frameLost(let l, let n): write(.info, "link \(link(l)): \(n) frame(s) lost", event: "FRAME_LOST")
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
