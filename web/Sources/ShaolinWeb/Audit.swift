// The audit trail: one record per operator action (login, logout, every command sent to an
// engine, configuration saves and applies), with who, from where, what and the outcome.
//
// Records go to stderr as one line each ("shaolin-web audit: …" plus key=value fields), which
// systemd's journal captures for the service. When journald's socket exists, records go to the
// journal natively instead (`ShaolinLinux.Journal`, which needs no libsystemd); see
// docs/web-console.md.
import Glibc
import ShaolinLinux
import Synchronization

public struct AuditRecord: Sendable, Equatable {
    public var action: String
    public var user: String
    public var remote: String
    public var outcome: String
    public var detail: String
    public init(action: String, user: String, remote: String, outcome: String, detail: String = "") {
        self.action = action
        self.user = user
        self.remote = remote
        self.outcome = outcome
        self.detail = detail
    }

    /// The human line: `audit: user admin from 127.0.0.1: switchover on A: ok (…)`.
    public var message: String {
        "audit: user \(user.isEmpty ? "-" : user) from \(remote): \(action): \(outcome)" + (detail.isEmpty ? "" : " (\(detail))")
    }

    /// Structured fields (journal field names; also printed on the stderr line).
    public var fields: [(name: String, value: String)] {
        [("MESSAGE", "shaolin-web " + message), ("PRIORITY", outcome == "ok" ? "5" : "4"),
         ("SYSLOG_IDENTIFIER", "shaolin-web"), ("SHAOLIN_EVENT", "WEB_AUDIT"),
         ("SHAOLIN_WEB_ACTION", action), ("SHAOLIN_WEB_USER", user), ("SHAOLIN_WEB_REMOTE", remote),
         ("SHAOLIN_WEB_OUTCOME", outcome), ("SHAOLIN_WEB_DETAIL", detail)]
    }
}

public protocol AuditSink: Sendable {
    func write(_ record: AuditRecord)
}

/// One line per record on stderr (the service's journal under systemd).
public struct StderrAuditSink: AuditSink {
    public init() {}
    public func write(_ r: AuditRecord) {
        var line = "shaolin-web \(r.message)"
        line += " action=\(quote(r.action)) user=\(quote(r.user)) remote=\(quote(r.remote)) outcome=\(quote(r.outcome))\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }

    func quote(_ s: String) -> String {
        let safe = s.allSatisfy { $0.isLetter || $0.isNumber || "-_.:/".contains($0) }
        if safe && !s.isEmpty { return s }
        var out = "\""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out + "\""
    }
}

/// Keeps records in memory (tests, and the console's own "recent actions" list).
public final class MemoryAuditSink: AuditSink {
    let records = Mutex<[AuditRecord]>([])
    public init() {}
    public func write(_ r: AuditRecord) {
        records.withLock {
            $0.append(r)
            if $0.count > 200 { $0.removeFirst($0.count - 200) }
        }
    }
    public var all: [AuditRecord] { records.withLock { $0 } }
}

/// Writes every record to each sink.
public struct AuditLog: Sendable {
    let sinks: [any AuditSink]
    public init(_ sinks: [any AuditSink]) { self.sinks = sinks }
    public func write(_ r: AuditRecord) { for s in sinks { s.write(r) } }
}

/// Native journald records with the structured fields (ShaolinLinux.Journal speaks the protocol
/// itself). A record journald does not take goes to stderr instead: an audit record is never dropped.
public struct JournalAuditSink: AuditSink {
    public init() {}
    public func write(_ r: AuditRecord) {
        do { try Journal.send(r.fields) } catch { StderrAuditSink().write(r) }
    }
}

extension AuditLog {
    /// The journal when its socket exists, else stderr; `note` says which, for the start-up message.
    public static func standard() -> (AuditLog, note: String) {
        if Journal.isAvailable { return (AuditLog([JournalAuditSink()]), "audit records go to the journal (SHAOLIN_EVENT=WEB_AUDIT)") }
        return (AuditLog([StderrAuditSink()]), "no journald socket: audit records go to stderr")
    }
}
