// POSIX.1e capabilities through libcap. Linux keeps capability sets per thread: these calls
// read and change the *calling thread's* sets, and threads created afterwards inherit them.
import CLibcap
import Glibc
import SystemPackage

/// A set of capabilities as a bit mask (bit n = capability number n, as in /proc/PID/status).
public struct CapabilitySet: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(number: Int32) { rawValue = number >= 0 && number < 64 ? 1 << UInt64(number) : 0 }

    public static let chown = CapabilitySet(number: Int32(CAP_CHOWN))
    public static let netRaw = CapabilitySet(number: Int32(CAP_NET_RAW))
    public static let ipcLock = CapabilitySet(number: Int32(CAP_IPC_LOCK))
    public static let sysBoot = CapabilitySet(number: Int32(CAP_SYS_BOOT))
    public static let sysNice = CapabilitySet(number: Int32(CAP_SYS_NICE))

    /// Capability numbers in the set, ascending.
    public var numbers: [Int32] { (0..<64).filter { rawValue & (1 << UInt64($0)) != 0 }.map { Int32($0) } }

    /// libcap's names, e.g. "cap_net_raw,cap_ipc_lock"; "none" when empty.
    public var description: String {
        let names = numbers.map(Capabilities.name)
        return names.isEmpty ? "none" : names.joined(separator: ",")
    }

    /// The mask as /proc/PID/status prints it (16 hex digits).
    public var hex: String {
        let h = String(rawValue, radix: 16)
        return String(repeating: "0", count: max(0, 16 - h.count)) + h
    }
}

public enum Capabilities {
    public struct Sets: Sendable, Equatable {
        public var effective: CapabilitySet
        public var permitted: CapabilitySet
        public var inheritable: CapabilitySet
    }

    /// The name libcap gives capability `number` ("cap_net_raw"), or "cap_N" for unknown numbers.
    ///
    /// The corresponding C function is `cap_to_name`.
    public static func name(_ number: Int32) -> String {
        guard let p = cap_to_name(cap_value_t(number)) else { return "cap_\(number)" }
        defer { cap_free(p) }
        return String(cString: p)
    }

    /// The calling thread's capability sets.
    ///
    /// The corresponding C functions are `cap_get_proc` and `cap_get_flag`.
    public static func current() throws(Errno) -> Sets {
        guard let caps = cap_get_proc() else { throw Errno(rawValue: errno) }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        var sets = Sets(effective: [], permitted: [], inheritable: [])
        let top = min(Int32(cap_max_bits()), 64)
        for n in 0..<top {
            for (flag, keyPath) in [(CAP_EFFECTIVE, \Sets.effective), (CAP_PERMITTED, \Sets.permitted),
                                    (CAP_INHERITABLE, \Sets.inheritable)] {
                var v = CAP_CLEAR
                if cap_get_flag(caps, cap_value_t(n), flag, &v) == 0 && v == CAP_SET {
                    sets[keyPath: keyPath].insert(CapabilitySet(number: n))
                }
            }
        }
        return sets
    }

    /// Reduces the calling thread's permitted and effective sets to `keep` (intersected with what
    /// it has now: a capability cannot be gained) and clears the inheritable set. The bounding set
    /// is left alone, so programs this process executes as root get root's capabilities again
    /// (fence agents, application start commands). Threads created later inherit the result.
    /// - Returns: the sets after the change.
    ///
    /// The corresponding C functions are `cap_init`, `cap_set_flag` and `cap_set_proc`.
    @discardableResult
    public static func restrict(to keep: CapabilitySet) throws(Errno) -> Sets {
        let before = try current()
        let kept = keep.intersection(before.permitted)
        guard let caps = cap_init() else { throw Errno(rawValue: errno) }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        var values = kept.numbers.map { cap_value_t($0) }
        if !values.isEmpty {
            for flag in [CAP_PERMITTED, CAP_EFFECTIVE] {
                if cap_set_flag(caps, flag, Int32(values.count), &values, CAP_SET) != 0 { throw Errno(rawValue: errno) }
            }
        }
        if cap_set_proc(caps) != 0 { throw Errno(rawValue: errno) }
        return try current()
    }
}
