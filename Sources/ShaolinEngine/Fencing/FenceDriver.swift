// Fencing (STONITH) drivers: the protocol and the result types.
//
// A driver is synchronous and slow (it runs helper programs and talks to
// BMCs): it is called only on the non-real-time fencing worker thread, never
// on the real-time loop. Its answer goes back to the state machine through a
// bounded queue. Only `.confirmedOff` allows a takeover; every other result
// means "the peer may still be running".
//
// Manual fencing (an operator confirming the peer is down) is not a driver:
// the state machine waits for the operator's command instead.
import Glibc
import ShaolinLinux

/// What to ask of the fence device.
public enum FenceAction: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Power the peer off and wait until the device reports it off.
    case off
    /// Hard reset (ipmitool `chassis power reset`, fence agents `reboot`).
    case reset
    /// Power cycle (ipmitool `chassis power cycle`, fence agents `reboot`).
    case cycle
    /// Power the peer on (after repair; never part of fencing).
    case on
    /// Only ask the device for the power state.
    case status

    public var description: String { rawValue }
}

/// The verdict of one fencing method.
public enum FenceResult: Sendable, Equatable, CustomStringConvertible {
    /// The device confirmed the peer is off (or was reset/cycled while on,
    /// or was found already off). The only result that permits a takeover.
    case confirmedOff
    /// The device reports the peer powered on (answer to `.status`, or the
    /// confirmation of `.on`). Never permits a takeover.
    case reportedOn
    /// The method ran and did not confirm: the reason says why.
    case failed(String)
    /// The method ran out of time (a call or the power-off wait).
    case timeout(String)

    public var isConfirmedOff: Bool { self == .confirmedOff }

    public var description: String {
        switch self {
        case .confirmedOff: return "confirmed off"
        case .reportedOn: return "reported on"
        case .failed(let reason): return "failed: \(reason)"
        case .timeout(let reason): return "timeout: \(reason)"
        }
    }
}

/// A driver's answer: the verdict, how long it took, and what it did.
public struct FenceOutcome: Sendable {
    public var result: FenceResult
    public var durationNanoseconds: UInt64
    /// One line per step ("+0.061s chassis power off: exit 0 ..."), for the
    /// journal and the status display.
    public var log: [String]

    public init(result: FenceResult, durationNanoseconds: UInt64, log: [String]) {
        self.result = result
        self.durationNanoseconds = durationNanoseconds
        self.log = log
    }

    public var isConfirmedOff: Bool { result.isConfirmedOff }
    public var durationMilliseconds: Double { Double(durationNanoseconds) / 1_000_000 }
}

/// A fencing method. Implementations must bound every external call, so that
/// `fence` returns within a known worst case even when a device hangs.
public protocol FenceDriver: Sendable {
    /// The method's name for logs ("ipmi", "fence_ipmilan", "command").
    var name: String { get }
    /// What is fenced, for logs ("127.0.0.1:623", a plug name, a script path).
    var target: String { get }
    /// Upper bound of one `fence(action:)` in milliseconds, derived from the
    /// settings (for the state machine's fencing deadline).
    var worstCaseMilliseconds: Int { get }
    /// Runs the action to completion. Blocks; call on the fencing worker.
    func fence(action: FenceAction) -> FenceOutcome
}

/// Collects a driver's log lines, stamped relative to the method's start.
struct FenceLog {
    let start: UInt64
    private(set) var lines: [String] = []

    init(start: UInt64 = ProcessSpawn.monotonicNanoseconds()) { self.start = start }

    var elapsedNanoseconds: UInt64 { ProcessSpawn.monotonicNanoseconds() &- start }
    var elapsedMilliseconds: Int { Int(elapsedNanoseconds / 1_000_000) }

    mutating func add(_ text: String) {
        lines.append("+\(FenceSupport.seconds(elapsedNanoseconds))s \(text)")
    }

    func outcome(_ result: FenceResult) -> FenceOutcome {
        var lines = self.lines
        lines.append("+\(FenceSupport.seconds(elapsedNanoseconds))s result: \(result)")
        return FenceOutcome(result: result, durationNanoseconds: elapsedNanoseconds, log: lines)
    }
}

/// Small helpers shared by the fencing drivers (namespaced so they cannot
/// collide with other files of the module).
enum FenceSupport {
    /// "1.234" from nanoseconds, without Foundation's formatters.
    static func seconds(_ nanoseconds: UInt64) -> String {
        let ms = nanoseconds / 1_000_000
        let frac = ms % 1000
        let pad = frac < 10 ? "00" : (frac < 100 ? "0" : "")
        return "\(ms / 1000).\(pad)\(frac)"
    }

    /// The last `limit` characters of a helper's stdout and stderr, on one
    /// line, for a failure reason or a log line.
    static func summary(_ result: SpawnResult, limit: Int = 300) -> String {
        let joined = (result.outputText + "\n" + result.errorText)
            .split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map { trim($0) }
            .filter { !$0.isEmpty }
            .joined(separator: " | ")
        if joined.count <= limit { return joined }
        return "…" + String(joined.suffix(limit))
    }

    /// Whether `needle` occurs in `text`, compared byte for byte (UTF-8). The engine's own
    /// substring search: `String.contains(_: String)` lives in _StringProcessing, which would
    /// link the regex engine (≈ 1.2 MB of text, locked by mlockall) into shaolind for this alone.
    static func text(_ text: String, contains needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard let first = n.first else { return true }
        let h = Array(text.utf8)
        guard h.count >= n.count else { return false }
        var i = 0
        while i <= h.count - n.count {
            if h[i] == first {
                var j = 1
                while j < n.count && h[i + j] == n[j] { j += 1 }
                if j == n.count { return true }
            }
            i += 1
        }
        return false
    }

    static func trim(_ text: Substring) -> String {
        var s = text
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }

    /// Bound of `attempts` bounded calls with doubling backoff between them.
    static func retriedBound(callMilliseconds: Int, retries: Int, backoff: Int) -> Int {
        var total = callMilliseconds
        var step = backoff
        for _ in 0..<max(0, retries) {
            total += step + callMilliseconds
            step *= 2
        }
        return total
    }

    /// Sleeps the calling (worker) thread.
    static func sleep(milliseconds ms: Int) {
        guard ms > 0 else { return }
        var request = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
