// journald's native protocol, spoken directly (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/): one
// datagram per entry on /run/systemd/journal/socket, each field `NAME=value\n`, or, when the
// value holds a newline, `NAME\n` + its length as 64-bit little-endian + the value + `\n`; an
// entry too large for a datagram goes in a sealed memfd. This is what libsystemd's
// sd_journal_sendv sends (JournalProtocolTests compares the bytes); shaolind does not link
// libsystemd, whose dependencies would add ≈ 3.4 MB of memory locked by mlockall (docs/logging.md).
import Glibc
import SystemPackage

public enum Journal {
    /// The socket journald listens on for the native protocol.
    public static let socketPath = "/run/systemd/journal/socket"

    /// Whether `socketPath` exists and is a socket. Callers choose their sink with this.
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

    /// One entry in the protocol's wire format: `NAME=value\n` per field, or the binary form
    /// `NAME\n<length, 8 bytes little-endian><value>\n` when the value holds a newline.
    public static func encode(_ fields: [(name: String, value: String)]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 10 })
        for f in fields {
            out.append(contentsOf: f.name.utf8)
            let value = f.value.utf8
            if value.contains(UInt8(ascii: "\n")) {
                out.append(UInt8(ascii: "\n"))
                var length = UInt64(value.count).littleEndian
                withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
            } else {
                out.append(UInt8(ascii: "="))
            }
            out.append(contentsOf: value)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Sends one entry. Each field is `(NAME, value)`; values may hold any bytes, newlines included.
    /// Blocks while journald's socket buffer is full: call it from a thread that may wait.
    /// Throws when the entry was not delivered (e.g. `ENOENT`: no socket, `ECONNREFUSED`: nobody
    /// listens on it) — unlike sd_journal_sendv, which reports success when the socket is absent.
    ///
    /// The corresponding C functions are `sendto` on an `AF_UNIX` datagram socket, and for an
    /// entry too large for a datagram `memfd_create` + `sendmsg` with `SCM_RIGHTS` (UnixDatagram).
    public static func send(_ fields: [(name: String, value: String)], socket path: String = socketPath) throws(Errno) {
        try UnixDatagram.send(encode(fields), to: path, sealedMemfdWhenTooLarge: true)
    }
}
