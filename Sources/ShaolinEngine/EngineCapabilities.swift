// Which capabilities the engine keeps once it has started, and why. Everything else root has
// is dropped from the effective and permitted sets of every engine thread (see
// docs/security.md). Start-up needs more (opening AF_PACKET sockets, mlockall, SCHED_FIFO);
// after it the engine itself only needs what is listed here.
//
// Linux capability sets are per thread and new threads copy their creator's: the drop runs on
// the main thread before any other engine thread exists, and the threads created afterwards
// (slow side, log writer, fence jobs, …) inherit the reduced sets. A thread started before the
// drop would keep root's full set — the lab test checks every thread's CapEff.
//
// The bounding set is left alone on purpose: the engine runs fence agents, ipmitool and
// application start/stop commands, which need root's ordinary powers; a program executed by a
// uid-0 process gets the bounding set again. Restrict those with the unit's
// CapabilityBoundingSet= if the site's commands allow it.

import ShaolinLinux

public enum EngineCapabilities {
    /// The capabilities kept after start-up, each with the reason. Only CAP_IPC_LOCK is used by
    /// every build today; the others guard paths the engine is growing (interface re-creation,
    /// configuration reload, in-process self-fence) — see docs/security.md.
    public static let kept: [(capability: CapabilitySet, why: String)] = [
        (.chown, "give the control socket its group (control.group) when a live configuration reload changes it: root may only chown to a group it is not in with CAP_CHOWN"),
        (.netRaw, "open a new AF_PACKET socket for an Ethernet link whose interface was removed and re-created (a socket is bound to an interface index)"),
        (.ipcLock, "memory stays locked (mlockall MCL_FUTURE): every later allocation is locked too and would fail beyond RLIMIT_MEMLOCK without it"),
        (.sysNice, "re-apply SCHED_FIFO and the CPU affinity of the real-time thread (after a configuration reload, or for a real-time helper thread)"),
        (.sysBoot, "self-fence: reboot(2) when this node must stop serving and no hardware watchdog will reset it"),
    ]

    public static var keptSet: CapabilitySet { kept.reduce(into: CapabilitySet()) { $0.formUnion($1.capability) } }

    /// Drops every other capability on the calling thread and logs the outcome
    /// (SHAOLIN_EVENT=CAPABILITIES_DROPPED with SHAOLIN_CAP_EFFECTIVE as /proc prints it).
    @discardableResult
    public static func drop(log: EventLog) -> Capabilities.Sets? {
        let before: Capabilities.Sets
        do { before = try Capabilities.current() } catch {
            log.write(.warning, "cannot read capabilities (\(error)); none dropped", event: "CAPABILITIES_UNCHANGED")
            return nil
        }
        do {
            let after = try Capabilities.restrict(to: keptSet)
            let missing = keptSet.subtracting(after.permitted)
            log.write(.info, "capabilities after start-up: \(after.effective) (dropped \(before.permitted.subtracting(after.permitted).numbers.count))"
                      + (missing.isEmpty ? "" : "; not held, so not kept: \(missing)"),
                      event: "CAPABILITIES_DROPPED",
                      [("SHAOLIN_CAP_EFFECTIVE", after.effective.hex), ("SHAOLIN_CAP_NAMES", after.effective.description)])
            return after
        } catch {
            log.write(.warning, "cannot drop capabilities (\(error)): the engine keeps \(before.effective)", event: "CAPABILITIES_UNCHANGED")
            return nil
        }
    }
}
