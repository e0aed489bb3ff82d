// Polls every node's control socket on a thread of its own and keeps what the dashboard
// shows: the latest status document, a short history of each link's round-trip time and
// loss (for the sparklines) and the newest engine events. The HTTP side only reads the
// latest snapshot (a JSON text with a sequence number), so a slow or dead engine never
// stalls a page.
import Dispatch
import Glibc
import ShaolinControlClient
import ShaolinCore
import Synchronization

public final class ClusterMonitor: Sendable {
    /// Samples kept per link (one per poll).
    public static let historyLength = 60
    /// Engine events kept per node.
    public static let eventsKept = 12

    struct LinkHistory {
        var rtt: [Int64] = []
        /// Percent of expected heartbeats lost during each poll interval.
        var loss: [Double] = []
        var lastReceived: Int64 = -1
        var lastLost: Int64 = -1
    }

    struct NodeState {
        var reachable = false
        var error = ""
        var status: JSONValue = .null
        var history: [String: LinkHistory] = [:]
        var linkOrder: [String] = []
        var events: [JSONValue] = []
        var lastEventSeq: UInt64?
        var lastSeen: Int64 = 0
    }

    struct State {
        var sequence: UInt64 = 0
        var text = "{}"
        var nodes: [NodeState]
        var stopped = false
    }

    let nodes: [WebConfig.Node]
    let pollMilliseconds: Int
    let state: Mutex<State>
    let wake = DispatchSemaphore(value: 0)

    public init(nodes: [WebConfig.Node], pollMilliseconds: Int) {
        self.nodes = nodes
        self.pollMilliseconds = pollMilliseconds
        state = Mutex(State(nodes: Array(repeating: NodeState(), count: nodes.count)))
    }

    /// Starts the polling thread.
    public func start() {
        let q = DispatchQueue(label: "shaolin-web.monitor")
        q.async { [self] in run() }
    }

    public func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    /// Polls again now (after an operator action, so the dashboard shows its effect at once).
    public func refreshSoon() { wake.signal() }

    /// The latest snapshot: its sequence number and JSON text.
    public func latest() -> (UInt64, String) {
        state.withLock { ($0.sequence, $0.text) }
    }

    /// The newest status of a node (nil when unreachable or never polled).
    public func status(of name: String) -> JSONValue? {
        guard let i = nodes.firstIndex(where: { $0.name == name }) else { return nil }
        return state.withLock { $0.nodes[i].reachable ? $0.nodes[i].status : nil }
    }

    func run() {
        var channels: [ControlChannel?] = Array(repeating: nil, count: nodes.count)
        while !state.withLock({ $0.stopped }) {
            for (i, node) in nodes.enumerated() {
                poll(i, node, &channels[i])
            }
            publish()
            _ = wake.wait(timeout: .now() + .milliseconds(pollMilliseconds))
        }
    }

    func poll(_ i: Int, _ node: WebConfig.Node, _ channel: inout ControlChannel?) {
        let timeout = max(500, min(pollMilliseconds * 2, 5_000))
        do {
            if channel == nil { channel = try ControlChannel.connect(node, timeoutMilliseconds: timeout) }
            let status = try channel!.call(.status)
            let since = state.withLock { $0.nodes[i].lastEventSeq }
            let log = try channel!.call(.log(lines: Self.eventsKept, since: since))
            record(i, status: status, log: log)
        } catch {
            channel = nil
            state.withLock { s in
                s.nodes[i].reachable = false
                s.nodes[i].error = error.message
            }
        }
    }

    func record(_ i: Int, status: JSONValue, log: JSONValue) {
        state.withLock { s in
            var n = s.nodes[i]
            n.reachable = true
            n.error = ""
            n.status = status
            n.lastSeen = wallClockSeconds()
            var order: [String] = []
            for link in status["links"]?.arrayValue ?? [] {
                guard let name = link["name"]?.stringValue else { continue }
                order.append(name)
                var h = n.history[name] ?? LinkHistory()
                let rx = link["received"]?.intValue ?? 0
                let lost = link["lost"]?.intValue ?? 0
                var loss = 0.0
                if h.lastReceived >= 0, rx >= h.lastReceived, lost >= h.lastLost {
                    let dRx = rx - h.lastReceived, dLost = lost - h.lastLost
                    loss = dRx + dLost > 0 ? Double(dLost) * 100 / Double(dRx + dLost) : (link["alive"]?.boolValue == false ? 100 : 0)
                } else if link["alive"]?.boolValue == false {
                    loss = 100
                }
                h.lastReceived = rx
                h.lastLost = lost
                let alive = link["alive"]?.boolValue ?? false
                h.rtt.append(alive ? (link["rtt_us"]?.intValue ?? -1) : -1)
                h.loss.append(loss)
                if h.rtt.count > Self.historyLength { h.rtt.removeFirst(h.rtt.count - Self.historyLength) }
                if h.loss.count > Self.historyLength { h.loss.removeFirst(h.loss.count - Self.historyLength) }
                n.history[name] = h
            }
            n.linkOrder = order
            let fresh = log["events"]?.arrayValue ?? []
            if let last = log["last"]?.intValue, last >= 0 {
                // A restarted engine starts its sequence again: forget the old events.
                if let prev = n.lastEventSeq, UInt64(last) < prev { n.events = [] }
                n.lastEventSeq = UInt64(last)
            }
            n.events.append(contentsOf: fresh)
            if n.events.count > Self.eventsKept { n.events.removeFirst(n.events.count - Self.eventsKept) }
            s.nodes[i] = n
        }
    }

    func publish() {
        state.withLock { s in
            s.sequence += 1
            var items: [JSONValue] = []
            for (i, node) in nodes.enumerated() {
                let n = s.nodes[i]
                var hist: [(String, JSONValue)] = []
                for name in n.linkOrder {
                    let h = n.history[name] ?? LinkHistory()
                    hist.append((name, .object([("rtt_us", .array(h.rtt.map { .int($0) })),
                                                ("loss_percent", .array(h.loss.map { .double(($0 * 10).rounded() / 10) }))])))
                }
                items.append(.object([
                    ("name", .string(node.name)), ("target", .string(node.target)), ("local", .bool(node.local)),
                    ("reachable", .bool(n.reachable)), ("error", .string(n.error)),
                    ("last_seen", .int(n.lastSeen)),
                    ("status", n.reachable ? n.status : .null),
                    ("history", .object(hist)),
                    ("events", .array(n.events)),
                ]))
            }
            s.text = JSONValue.object([("seq", .int(Int64(s.sequence))), ("time", .int(wallClockSeconds())),
                                       ("poll_ms", .int(Int64(pollMilliseconds))), ("nodes", .array(items))]).compact
        }
    }
}

extension Error {
    var message: String { (self as? ControlFailure)?.message ?? "\(self)" }
}

/// Wall-clock seconds since the epoch.
func wallClockSeconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec)
}

/// Runs blocking work (control socket calls, file I/O, child processes) off the HTTP event loops.
public enum Blocking {
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in
            DispatchQueue.global().async { c.resume(returning: work()) }
        }
    }
}
