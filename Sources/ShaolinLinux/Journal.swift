// journald's native protocol through libsystemd: one datagram per entry on
// /run/systemd/journal/socket, fields as NAME=value (libsystemd switches a field to the
// binary length-prefixed form by itself when its value holds a newline). libsystemd is opened
// on first use (SystemdLibrary), not linked.
import Glibc
import SystemPackage

public enum Journal {
    /// The socket journald listens on for the native protocol.
    public static let socketPath = "/run/systemd/journal/socket"

    /// Whether `socketPath` exists and is a socket. `sd_journal_sendv` returns 0 without
    /// sending anything when the socket is absent, so callers choose their sink with this.
    public static var isAvailable: Bool {
        var st = stat()
        guard stat(socketPath, &st) == 0 else { return false }
        return (st.st_mode & S_IFMT) == S_IFSOCK
    }

    /// True when `name` is a valid journal field name: 1–64 characters of A–Z, 0–9 and `_`,
    /// not starting with `_` (those are trusted fields journald sets itself) or a digit.
    public static func isValidFieldName(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard !u.isEmpty, u.count <= 64, u[0] != UInt8(ascii: "_"), !(u[0] >= 0x30 && u[0] <= 0x39) else { return false }
        for c in u where !((c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "_")) { return false }
        return true
    }

    /// Why entries cannot be sent even though the socket may exist (libsystemd missing), or nil.
    /// Opens libsystemd if it is not open yet.
    public static var libraryProblem: String? { SystemdLibrary.load()?.description }

    /// Sends one entry. Each field is `(NAME, value)`; values may hold any bytes, newlines included.
    /// Blocks while journald's socket buffer is full: call it from a thread that may wait.
    /// Throws `Errno` when journald refuses the entry, `SystemdLibrary.Unavailable` without libsystemd.
    ///
    /// The corresponding C function is `sd_journal_sendv`.
    public static func send(_ fields: [(name: String, value: String)]) throws {
        let sd = try SystemdLibrary.functions.get()
        var bytes: [UInt8] = []
        var ranges: [(Int, Int)] = []
        bytes.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 1 })
        for f in fields {
            let start = bytes.count
            bytes.append(contentsOf: f.name.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: f.value.utf8)
            ranges.append((start, bytes.count - start))
        }
        let rc: Int32 = bytes.withUnsafeMutableBytes { raw in
            var iov = ranges.map { iovec(iov_base: raw.baseAddress! + $0.0, iov_len: $0.1) }
            return iov.withUnsafeMutableBufferPointer { sd.journalSendv($0.baseAddress, Int32($0.count)) }
        }
        if rc < 0 { throw Errno(rawValue: -rc) }
    }
}
