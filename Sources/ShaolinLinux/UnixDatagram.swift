// One datagram to an AF_UNIX SOCK_DGRAM socket named by a path, or by "@name" in the abstract
// namespace: how journald's native protocol and the service manager's notify protocol are spoken.
import CShaolin
import Glibc
import SystemPackage

enum UnixDatagram {
    /// The socket address for `path` ("/…" a file system socket, "@…" an abstract one) and its
    /// length (for an abstract name: exactly the name, no terminating NUL).
    static func address(_ path: String) throws(Errno) -> (sockaddr_un, socklen_t) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        guard abstract || bytes.first == UInt8(ascii: "/") else { throw .addressFamilyNotSupported }
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { throw .invalidArgument }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        return (addr, socklen_t(offset + bytes.count + (abstract ? 0 : 1)))
    }

    /// Sends `bytes` as one datagram to `path` from a fresh socket (blocks while the receiver's
    /// buffer is full). With `sealedMemfdWhenTooLarge`, a payload the kernel refuses as too
    /// large (EMSGSIZE, ENOBUFS) is written to a sealed memfd and that is sent instead (an empty
    /// datagram carrying the descriptor), as journald's native protocol allows.
    ///
    /// The corresponding C functions are `socket`, `sendto` (`MSG_NOSIGNAL`) and, for the large
    /// case, `memfd_create`, `fcntl(F_ADD_SEALS)` and `sendmsg` with `SCM_RIGHTS`.
    static func send(_ bytes: [UInt8], to path: String, sealedMemfdWhenTooLarge: Bool) throws(Errno) {
        var (addr, length) = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno(rawValue: cshaolin_errno()) }
        defer { close(fd) }
        let rc: Int32 = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { b in
                    while true {
                        if sendto(fd, b.baseAddress, b.count, Int32(MSG_NOSIGNAL), sa, length) >= 0 { return 0 }
                        let e = cshaolin_errno()
                        if e == EINTR { continue }
                        if sealedMemfdWhenTooLarge && (e == EMSGSIZE || e == ENOBUFS) {
                            return cshaolin_send_sealed_memfd(fd, sa, length, b.baseAddress, b.count)
                        }
                        return -e
                    }
                }
            }
        }
        if rc < 0 { throw Errno(rawValue: -rc) }
    }
}
