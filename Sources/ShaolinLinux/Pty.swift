// Pseudo-terminal pairs, for tests of the serial link without hardware.
import CShaolin
import Glibc
import SystemPackage

/// A pty master and the path of its slave (`/dev/pts/N`).
public struct PtyPair: Sendable {
    /// The master side, non-blocking and close-on-exec.
    public let master: FileDescriptor
    /// The slave's path; open it (e.g. with `SerialPort(path:)`) to get the other end.
    public let slavePath: String

    /// Opens a new master (`O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC`), grants and unlocks
    /// its slave.
    ///
    /// The corresponding C functions are `posix_openpt`, `grantpt`, `unlockpt` and `ptsname_r`.
    public static func open() throws(Errno) -> PtyPair {
        let fd = cshaolin_posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { throw Errno(rawValue: cshaolin_errno()) }
        if cshaolin_grantpt(fd) < 0 || cshaolin_unlockpt(fd) < 0 {
            let e = cshaolin_errno()
            _ = Glibc.close(fd)
            throw Errno(rawValue: e)
        }
        var name = [CChar](repeating: 0, count: 128)
        let r = cshaolin_ptsname_r(fd, &name, name.count)
        if r != 0 {
            _ = Glibc.close(fd)
            throw Errno(rawValue: r)
        }
        let path = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return PtyPair(master: FileDescriptor(rawValue: fd), slavePath: path)
    }
}
