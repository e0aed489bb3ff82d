// Stream sockets for the control interface: Unix and TCP listeners, accept, peer
// credentials (SO_PEERCRED, SO_PEERGROUPS), non-blocking read/write, and client connects.
import CShaolin
import Glibc
import SystemPackage

/// Credentials of the process at the other end of a Unix socket (as of its `connect`).
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups (empty when the kernel cannot tell).
    public var groups: [UInt32]
}

/// The outcome of one non-blocking read or write.
public enum StreamIO: Sendable, Equatable {
    /// This many bytes moved (> 0).
    case transferred(Int)
    /// Nothing now (EAGAIN): wait for readiness.
    case wouldBlock
    /// The peer closed (read returned 0, or EPIPE on write).
    case closed
    case failed(Errno)
}

public enum StreamSocket {
    /// Listens on a Unix socket at `path` with file mode `mode`. A stale socket file at the
    /// path is replaced; any other kind of file there is an error (EEXIST).
    ///
    /// The corresponding C functions are `socket`, `bind`, `listen`, `chmod`.
    public static func listenUnix(path: String, mode: mode_t, backlog: Int32 = 64) throws(Errno) -> FileDescriptor {
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw Errno.fileExists }
            unlink(path)
        }
        // Create it private, then set the wanted mode: no window where others may connect.
        let old = umask(0o177)
        let fd = cshaolin_unix_listen(path, backlog)
        let e = cshaolin_errno()
        umask(old)
        guard fd >= 0 else { throw Errno(rawValue: e) }
        if chmod(path, mode) != 0 {
            let e = cshaolin_errno()
            _ = Glibc.close(fd)
            throw Errno(rawValue: e)
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Listens on a numeric IPv4/IPv6 address and port (non-blocking).
    ///
    /// The corresponding C functions are `inet_pton`, `socket`, `bind`, `listen`.
    public static func listenTCP(address: String, port: UInt16, backlog: Int32 = 64) throws(Errno) -> FileDescriptor {
        let fd = cshaolin_tcp_listen(address, port, backlog)
        guard fd >= 0 else { throw Errno(rawValue: cshaolin_errno()) }
        return FileDescriptor(rawValue: fd)
    }

    /// The port a socket is bound to (for listeners bound to port 0).
    ///
    /// The corresponding C function is `getsockname`.
    public static func localPort(_ fd: FileDescriptor) -> UInt16? {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd.rawValue, $0, &len) }
        }
        guard r == 0 else { return nil }
        let family = ss.ss_family
        return withUnsafePointer(to: &ss) { p in
            if family == sa_family_t(AF_INET) {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
            return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
        }
    }

    /// Accepts one connection (non-blocking, close-on-exec). Returns nil when none is
    /// pending; the address is numeric ("unix" for Unix sockets).
    ///
    /// The corresponding C function is `accept4`.
    public static func accept(_ listener: FileDescriptor) throws(Errno) -> (FileDescriptor, String)? {
        var buf = [CChar](repeating: 0, count: 64)
        let fd = cshaolin_accept(listener.rawValue, &buf, 64)
        if fd < 0 {
            let e = cshaolin_errno()
            if e == EAGAIN || e == EWOULDBLOCK { return nil }
            throw Errno(rawValue: e)
        }
        let address = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return (FileDescriptor(rawValue: fd), address)
    }

    /// The credentials of a Unix socket's peer.
    ///
    /// The corresponding C function is `getsockopt(SO_PEERCRED)` (and `SO_PEERGROUPS`).
    public static func peerCredentials(_ fd: FileDescriptor) throws(Errno) -> PeerCredentials {
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        guard cshaolin_peercred(fd.rawValue, &pid, &uid, &gid) == 0 else { throw Errno(rawValue: cshaolin_errno()) }
        var groups = [UInt32](repeating: 0, count: 256)
        let n = cshaolin_peergroups(fd.rawValue, &groups, 256)
        return PeerCredentials(pid: pid, uid: uid, gid: gid, groups: n > 0 ? Array(groups.prefix(Int(min(n, 256)))) : [])
    }

    /// The gid of a group name, nil if there is none.
    ///
    /// The corresponding C function is `getgrnam_r`.
    public static func groupID(_ name: String) -> UInt32? {
        var gid: UInt32 = 0
        return cshaolin_group_id(name, &gid) == 0 ? gid : nil
    }

    /// Reads what is available into `buffer` (non-blocking descriptors). Retries on EINTR.
    ///
    /// The corresponding C function is `read`.
    public static func read(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) -> StreamIO {
        while true {
            let n = Glibc.read(fd.rawValue, buffer.baseAddress, buffer.count)
            if n > 0 { return .transferred(n) }
            if n == 0 { return .closed }
            let e = cshaolin_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            if e == ECONNRESET { return .closed }
            return .failed(Errno(rawValue: e))
        }
    }

    /// Writes as much of `bytes` as the socket takes now, without SIGPIPE. Retries on EINTR.
    ///
    /// The corresponding C function is `send(MSG_NOSIGNAL | MSG_DONTWAIT)`.
    public static func write(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer) -> StreamIO {
        while true {
            let n = send(fd.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if n >= 0 { return n == 0 && bytes.count > 0 ? .wouldBlock : .transferred(n) }
            let e = cshaolin_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            if e == EPIPE || e == ECONNRESET { return .closed }
            return .failed(Errno(rawValue: e))
        }
    }

    /// A blocking client connection to a Unix socket.
    ///
    /// The corresponding C functions are `socket`, `connect`.
    public static func connectUnix(path: String) throws(Errno) -> FileDescriptor {
        let fd = cshaolin_unix_connect(path)
        guard fd >= 0 else { throw Errno(rawValue: cshaolin_errno()) }
        return FileDescriptor(rawValue: fd)
    }

    /// A blocking client TCP connection. Returns nil when the host name does not resolve.
    ///
    /// The corresponding C functions are `getaddrinfo`, `socket`, `connect`, `poll`.
    public static func connectTCP(host: String, port: UInt16, timeoutMilliseconds: Int32 = 5_000) throws(Errno) -> FileDescriptor? {
        let fd = cshaolin_tcp_connect(host, String(port), timeoutMilliseconds)
        if fd == -2 { return nil }
        guard fd >= 0 else { throw Errno(rawValue: cshaolin_errno()) }
        return FileDescriptor(rawValue: fd)
    }

    /// Sets a receive/send timeout on a blocking socket (client side).
    ///
    /// The corresponding C function is `setsockopt(SO_RCVTIMEO / SO_SNDTIMEO)`.
    public static func setTimeouts(_ fd: FileDescriptor, milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        _ = setsockopt(fd.rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd.rawValue, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Closes a descriptor (errors ignored: nothing useful to do on a socket).
    public static func close(_ fd: FileDescriptor) { _ = Glibc.close(fd.rawValue) }
}
