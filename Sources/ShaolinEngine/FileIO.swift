// Small blocking file helpers for start-up and the slow side (never the real-time loop).

import Glibc

public enum FileIO {
    /// Reads a whole file; nil with errno text on failure.
    public static func read(_ path: String) -> Result<[UInt8], FileError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(FileError(path: path, reason: errnoText())) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 65536) }
            if n < 0 { if errno == EINTR { continue }; return .failure(FileError(path: path, reason: errnoText())) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > 16 << 20 { return .failure(FileError(path: path, reason: "file larger than 16 MiB")) }
        }
        return .success(out)
    }

    /// Writes `text` to `path` atomically (temporary file + rename).
    @discardableResult
    public static func writeAtomically(_ path: String, _ text: String) -> Bool {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        var ok = true
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { b in
            var off = 0
            while off < b.count {
                let n = write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 { if errno == EINTR { continue }; ok = false; break }
                off += n
            }
        }
        close(fd)
        return ok && rename(tmp, path) == 0
    }

    /// stat(2) of a path: mode and owner.
    public static func modeAndOwner(_ path: String) -> (mode: UInt32, uid: UInt32)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt32(st.st_mode), UInt32(st.st_uid))
    }

    public static func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }
}

public struct FileError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}
