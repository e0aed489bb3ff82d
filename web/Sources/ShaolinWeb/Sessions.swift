// Login sessions and their CSRF tokens, in memory (a restart logs everyone out), plus a
// throttle on failed logins per client address.
//
// The session id travels only in an HttpOnly, SameSite=Strict cookie (Secure under HTTPS);
// the CSRF token is a second random value bound to the session, embedded in the page and
// required in the X-CSRF-Token header (or the csrf form field) of every state-changing request.
import Glibc
import Synchronization
import ShaolinLinux

public struct Session: Sendable, Equatable {
    public var id: String
    public var user: String
    public var csrf: String
    public var created: Int64
    public var lastSeen: Int64
}

public final class SessionStore: Sendable {
    let idleSeconds: Int64
    /// Oldest sessions are dropped beyond this many (a flood of logins cannot exhaust memory).
    let maxSessions: Int
    let sessions = Mutex<[String: Session]>([:])
    let clock: @Sendable () -> Int64

    public init(idleSeconds: Int, maxSessions: Int = 64, clock: @escaping @Sendable () -> Int64 = { monotonicSeconds() }) {
        self.idleSeconds = Int64(idleSeconds)
        self.maxSessions = maxSessions
        self.clock = clock
    }

    public func create(user: String) -> Session {
        let now = clock()
        let s = Session(id: SecureRandom.token(32), user: user, csrf: SecureRandom.token(32), created: now, lastSeen: now)
        sessions.withLock { all in
            all = all.filter { now - $0.value.lastSeen <= idleSeconds }
            if all.count >= maxSessions, let oldest = all.values.min(by: { $0.lastSeen < $1.lastSeen }) {
                all[oldest.id] = nil
            }
            all[s.id] = s
        }
        return s
    }

    /// The live session for a cookie value (refreshing its idle timer), or nil.
    public func touch(_ id: String) -> Session? {
        let now = clock()
        return sessions.withLock { all in
            guard var s = all[id] else { return nil }
            guard now - s.lastSeen <= idleSeconds else {
                all[id] = nil
                return nil
            }
            s.lastSeen = now
            all[id] = s
            return s
        }
    }

    public func remove(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    public var count: Int { sessions.withLock { $0.count } }
}

/// Refuses logins from an address after repeated failures: 5 failures within a minute block
/// it for a minute (doubling up to 15 minutes while failures go on).
public final class LoginThrottle: Sendable {
    struct Entry {
        var failures: [Int64] = []
        var blockedUntil: Int64 = 0
        var penalty: Int64 = 60
    }
    let entries = Mutex<[String: Entry]>([:])
    let clock: @Sendable () -> Int64
    public static let maxFailures = 5

    public init(clock: @escaping @Sendable () -> Int64 = { monotonicSeconds() }) { self.clock = clock }

    /// Seconds the address must still wait, or 0.
    public func waitSeconds(_ address: String) -> Int64 {
        let now = clock()
        return entries.withLock { max(0, ($0[address]?.blockedUntil ?? 0) - now) }
    }

    public func failed(_ address: String) {
        let now = clock()
        entries.withLock { all in
            if all.count > 10_000 { all = all.filter { $0.value.blockedUntil > now } }
            var e = all[address] ?? Entry()
            e.failures = e.failures.filter { now - $0 < 60 } + [now]
            if e.failures.count >= Self.maxFailures {
                e.blockedUntil = now + e.penalty
                e.penalty = min(e.penalty * 2, 900)
                e.failures = []
            }
            all[address] = e
        }
    }

    public func succeeded(_ address: String) {
        _ = entries.withLock { $0.removeValue(forKey: address) }
    }
}

/// CLOCK_MONOTONIC seconds.
public func monotonicSeconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec)
}

extension SessionStore {
    /// Whether the session is still live, without refreshing its idle timer (event streams).
    public func peek(_ id: String) -> Bool {
        let now = clock()
        return sessions.withLock { all in all[id].map { now - $0.lastSeen <= idleSeconds } ?? false }
    }
}
