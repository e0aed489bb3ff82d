import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `shaolinctl keygen`: writes a new random cluster key (hex) with mode 0600.
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate a cluster key file (32 random bytes, hex, mode 0600).")
    @Argument(help: "Path of the key file to create.") var path: String
    @Flag(help: "Overwrite an existing file.") var force = false

    func run() throws {
        var bytes = [UInt8](repeating: 0, count: 32)
        let rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard rfd >= 0, read(rfd, &bytes, 32) == 32 else { throw ValidationError("cannot read /dev/urandom") }
        close(rfd)
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() + "\n"
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL)
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        _ = hex.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, hex.utf8.count) }
        print("wrote \(path) (mode 0600); copy it to the peer over a secure channel")
    }
}
