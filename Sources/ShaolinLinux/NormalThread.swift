// Threads for the non-real-time side. A thread created by a SCHED_FIFO thread would inherit
// SCHED_FIFO (glibc's default is PTHREAD_INHERIT_SCHED); these are always created with an
// explicit SCHED_OTHER policy. Capabilities are inherited from the creating thread.
import Glibc
import SystemPackage

public enum NormalThread {
    private final class Box: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new SCHED_OTHER thread (joinable unless `detached`).
    ///
    /// The corresponding C functions are `pthread_attr_setinheritsched(PTHREAD_EXPLICIT_SCHED)`,
    /// `pthread_attr_setschedpolicy(SCHED_OTHER)` and `pthread_create`.
    public static func start(detached: Bool = false, _ body: @escaping () -> Void) throws(Errno) -> pthread_t {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setinheritsched(&attr, Int32(PTHREAD_EXPLICIT_SCHED))
        pthread_attr_setschedpolicy(&attr, SCHED_OTHER)
        var param = sched_param(sched_priority: 0)
        pthread_attr_setschedparam(&attr, &param)
        if detached { pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED)) }
        var t = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&t, &attr, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw Errno(rawValue: rc)
        }
        return t
    }
}
