// Real-time setup: locked memory, prefaulted stack, SCHED_FIFO, CPU pinning.
// Errors say what the kernel refused and how an operator fixes it.
import CShaolin
import Glibc
import SystemPackage

/// A failed real-time setup step, with a message for the operator.
public struct RealtimeError: Error, Sendable, CustomStringConvertible {
    /// What was attempted.
    public enum Operation: String, Sendable {
        case lockMemory = "mlockall"
        case setScheduler = "sched_setscheduler"
        case setAffinity = "sched_setaffinity"
        case getLimit = "getrlimit"
    }

    public let operation: Operation
    public let errno: Errno
    /// What was refused and how to fix it.
    public let message: String

    public var description: String { "\(operation.rawValue): \(message) (\(errno))" }
}

/// A resource limit; nil means unlimited (`RLIM_INFINITY`).
public struct ResourceLimit: Sendable, Equatable {
    public var soft: UInt64?
    public var hard: UInt64?

    static func format(_ v: UInt64?) -> String {
        guard let v else { return "unlimited" }
        return "\(v / 1024) KiB"
    }
}

/// Scheduling policy of a thread.
public enum SchedulingPolicy: Sendable, Equatable {
    case other
    case fifo(priority: CInt)
    case roundRobin(priority: CInt)
    case batch
    case idle
    case unknown(CInt)
}

/// Real-time set-up calls for the engine's loop thread (start-up only, not the hot path).
public enum Realtime {
    /// Locks all current and future pages of the process in RAM, so the real-time thread
    /// never takes a major page fault.
    ///
    /// The corresponding C function is `mlockall(MCL_CURRENT | MCL_FUTURE)`.
    public static func lockAllMemory() throws(RealtimeError) {
        if mlockall(CInt(MCL_CURRENT | MCL_FUTURE)) == 0 { return }
        let e = Errno(rawValue: cshaolin_errno())
        let limit = (try? memlockLimit()).map { ResourceLimit.format($0.soft) } ?? "unknown"
        let message: String
        switch e {
        case .noMemory:
            message = "could not lock the process's memory: RLIMIT_MEMLOCK is \(limit); raise it "
                + "(systemd: LimitMEMLOCK=infinity; shell: ulimit -l unlimited) or grant CAP_IPC_LOCK"
        case .notPermitted:
            message = "locking memory was refused: needs CAP_IPC_LOCK or root, or a non-zero "
                + "RLIMIT_MEMLOCK (currently \(limit)); systemd: AmbientCapabilities=CAP_IPC_LOCK or LimitMEMLOCK=infinity"
        default:
            message = "mlockall failed"
        }
        throw RealtimeError(operation: .lockMemory, errno: e, message: message)
    }

    /// How much extra memory glibc's malloc asks the kernel for whenever a heap grows
    /// (`M_TOP_PAD`), for a process whose memory is locked: `lockAllMemory` makes every such
    /// page resident and locked, and the default (128 KiB) is paid again by each thread's arena
    /// (≈ 132 KiB resident per thread that ever called malloc). 16 KiB keeps a heap from growing
    /// on every small request while costing ≈ 0.1 MB per arena less. Per-thread arenas stay (no
    /// `M_ARENA_MAX`): the real-time thread keeps an arena no other thread locks.
    public static let lockedHeapTopPad: CInt = 16 * 1024

    /// Sets malloc's top pad to `lockedHeapTopPad`. Call before threads start, with `lockAllMemory`.
    ///
    /// The corresponding C function is `mallopt(M_TOP_PAD, …)`.
    @discardableResult
    public static func trimHeapGrowthForLockedMemory() -> Bool {
        mallopt(M_TOP_PAD, lockedHeapTopPad) == 1
    }

    /// Unlocks all pages (undoes `lockAllMemory`).
    ///
    /// The corresponding C function is `munlockall`.
    public static func unlockAllMemory() {
        _ = munlockall()
    }

    /// Touches `kibibytes` KiB of the calling thread's stack below the current frame, so
    /// those pages are mapped (and, after `lockAllMemory`, locked) before the loop runs.
    /// Keep it well under the thread's stack size (8 MiB for the main thread by default).
    public static func prefaultStack(kibibytes: Int) {
        guard kibibytes > 0 else { return }
        cshaolin_prefault_stack(kibibytes * 1024)
    }

    /// The valid `SCHED_FIFO` priorities (1...99 on Linux).
    public static var fifoPriorityRange: ClosedRange<CInt> {
        sched_get_priority_min(SCHED_FIFO)...sched_get_priority_max(SCHED_FIFO)
    }

    /// Makes the calling thread `SCHED_FIFO` at `priority`.
    ///
    /// The corresponding C function is `sched_setscheduler(0, SCHED_FIFO, …)` (0 = the calling thread).
    public static func setFIFO(priority: CInt) throws(RealtimeError) {
        var param = sched_param(sched_priority: priority)
        if sched_setscheduler(0, SCHED_FIFO, &param) == 0 { return }
        let e = Errno(rawValue: cshaolin_errno())
        let message: String
        switch e {
        case .notPermitted:
            message = "SCHED_FIFO priority \(priority) was refused: needs CAP_SYS_NICE or root "
                + "(or RLIMIT_RTPRIO >= \(priority)); under systemd check CPUQuota= and the cgroup's "
                + "cpu.rt_runtime_us (a cgroup without an RT budget refuses real-time threads; "
                + "set kernel.sched_rt_runtime_us or move the service to the root cgroup) — see docs/realtime.md"
        case .invalidArgument:
            let r = fifoPriorityRange
            message = "SCHED_FIFO priority \(priority) is out of range \(r.lowerBound)...\(r.upperBound)"
        default:
            message = "could not switch to SCHED_FIFO priority \(priority)"
        }
        throw RealtimeError(operation: .setScheduler, errno: e, message: message)
    }

    /// Puts the calling thread back on the normal time-sharing scheduler (`SCHED_OTHER`).
    ///
    /// The corresponding C function is `sched_setscheduler(0, SCHED_OTHER, …)`.
    public static func setNormalScheduling() throws(RealtimeError) {
        var param = sched_param(sched_priority: 0)
        if sched_setscheduler(0, SCHED_OTHER, &param) == 0 { return }
        let e = Errno(rawValue: cshaolin_errno())
        throw RealtimeError(operation: .setScheduler, errno: e, message: "could not switch back to SCHED_OTHER")
    }

    /// The calling thread's scheduling policy.
    ///
    /// The corresponding C functions are `sched_getscheduler` and `sched_getparam`.
    public static func currentPolicy() -> SchedulingPolicy {
        let policy = sched_getscheduler(0)
        var param = sched_param()
        _ = sched_getparam(0, &param)
        switch policy {
        case SCHED_OTHER: return .other
        case SCHED_FIFO: return .fifo(priority: param.sched_priority)
        case SCHED_RR: return .roundRobin(priority: param.sched_priority)
        case CSHAOLIN_SCHED_BATCH: return .batch
        case CSHAOLIN_SCHED_IDLE: return .idle
        default: return .unknown(policy)
        }
    }

    /// Pins the calling thread to `cpu`.
    ///
    /// The corresponding C function is `sched_setaffinity` with a one-CPU `cpu_set_t`.
    public static func pin(toCPU cpu: Int) throws(RealtimeError) {
        if cshaolin_set_affinity_single(CInt(clamping: cpu)) == 0 { return }
        let e = Errno(rawValue: cshaolin_errno())
        let message: String
        switch e {
        case .invalidArgument:
            message = "CPU \(cpu) does not exist or is outside this process's allowed CPUs "
                + "(cgroup cpuset / systemd AllowedCPUs= / CPUAffinity=); this machine reports "
                + "\(onlineCPUCount) online CPUs"
        case .notPermitted:
            message = "changing the CPU affinity was refused: needs CAP_SYS_NICE for another thread"
        default:
            message = "could not pin the thread to CPU \(cpu)"
        }
        throw RealtimeError(operation: .setAffinity, errno: e, message: message)
    }

    /// Number of CPUs in the calling thread's affinity mask.
    public static var affinityCPUCount: Int { Int(cshaolin_affinity_count()) }

    /// Whether `cpu` is in the calling thread's affinity mask.
    public static func affinityContains(cpu: Int) -> Bool {
        cshaolin_affinity_contains(CInt(clamping: cpu)) == 1
    }

    /// Runs `body` and restores the calling thread's affinity mask afterwards.
    public static func preservingAffinity<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let size = cshaolin_affinity_mask_size()
        let mask = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { mask.deallocate() }
        let saved = cshaolin_affinity_save(mask) == 0
        defer { if saved { _ = cshaolin_affinity_restore(mask) } }
        return try body()
    }

    /// Number of online CPUs.
    public static var onlineCPUCount: Int { Int(sysconf(CInt(_SC_NPROCESSORS_ONLN))) }

    /// The process's `RLIMIT_MEMLOCK`.
    ///
    /// The corresponding C function is `getrlimit(RLIMIT_MEMLOCK)`.
    public static func memlockLimit() throws(RealtimeError) -> ResourceLimit {
        var soft: UInt64 = 0, hard: UInt64 = 0
        var softInfinite: CInt = 0, hardInfinite: CInt = 0
        if cshaolin_getrlimit_memlock(&soft, &hard, &softInfinite, &hardInfinite) < 0 {
            let e = Errno(rawValue: cshaolin_errno())
            throw RealtimeError(operation: .getLimit, errno: e, message: "could not read RLIMIT_MEMLOCK")
        }
        return ResourceLimit(soft: softInfinite != 0 ? nil : soft, hard: hardInfinite != 0 ? nil : hard)
    }
}
