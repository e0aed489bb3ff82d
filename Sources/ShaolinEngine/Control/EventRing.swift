// The last log lines in memory, for the control interface's `log` request (shaolinctl log,
// the menu's event pane). Written by whichever thread logs (never the real-time thread),
// read by the control thread; a mutex guards it.

import Glibc

public struct LoggedEvent: Sendable {
    /// 1, 2, 3, … in the order lines were logged (a client asks for lines after one it saw).
    public var sequence: UInt64
    /// CLOCK_MONOTONIC milliseconds.
    public var monotonicMs: Int64
    /// Seconds since the Unix epoch (wall clock, for display).
    public var wallSeconds: Int64
    /// syslog priority 0–7.
    public var priority: Int
    /// The stable event name (SHAOLIN_EVENT), "" for plain messages.
    public var event: String
    public var message: String
}

public final class EventRing: @unchecked Sendable {
    private var items: [LoggedEvent?]
    private var next = 0
    private var sequence: UInt64 = 0
    private var lock = pthread_mutex_t()
    public let capacity: Int

    public init(capacity: Int = 1_000) {
        self.capacity = max(1, capacity)
        items = Array(repeating: nil, count: self.capacity)
        pthread_mutex_init(&lock, nil)
    }

    public func append(priority: Int, event: String, message: String) {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let mono = Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        let wall = Int64(time(nil))
        pthread_mutex_lock(&lock)
        sequence += 1
        items[next] = LoggedEvent(sequence: sequence, monotonicMs: mono, wallSeconds: wall, priority: priority,
                                  event: event, message: message)
        next = (next + 1) % capacity
        pthread_mutex_unlock(&lock)
    }

    /// The newest `count` events, oldest first; only those after `since` when given.
    public func tail(_ count: Int, since: UInt64? = nil) -> (events: [LoggedEvent], last: UInt64) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        var out: [LoggedEvent] = []
        var i = (next - 1 + capacity) % capacity
        for _ in 0..<capacity {
            guard let e = items[i] else { break }
            if let s = since, e.sequence <= s { break }
            out.append(e)
            if out.count >= count { break }
            i = (i - 1 + capacity) % capacity
        }
        return (out.reversed(), sequence)
    }
}
