// Network namespaces: run socket set-up inside another namespace (tests, the nemesis relay).
import CShaolin
import Glibc
import SystemPackage

/// Network namespace switching for the calling thread.
///
/// A socket belongs to the namespace it was created in, for its whole life: a thread can
/// enter a namespace, open a `PacketSocket` there, and hand the socket to any other thread.
public enum NetworkNamespace {
    /// Moves the calling thread (only it) into the network namespace at `path`
    /// (e.g. `/var/run/netns/NAME` as created by `ip netns add`, or `/proc/PID/ns/net`).
    /// Needs `CAP_SYS_ADMIN`. Use a dedicated thread: it does not come back by itself.
    ///
    /// The corresponding C function is `setns(fd, CLONE_NEWNET)`.
    public static func enter(path: String) throws(Errno) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw Errno(rawValue: cshaolin_errno()) }
        defer { _ = Glibc.close(fd) }
        if cshaolin_setns_net(fd) < 0 { throw Errno(rawValue: cshaolin_errno()) }
    }
}
