// A test-owned AF_UNIX SOCK_DGRAM socket bound to a path: stands in for journald's
// /run/systemd/journal/socket and for systemd's $NOTIFY_SOCKET.
import Foundation
import Glibc

final class DatagramSocket {
    let fd: Int32
    let path: String

    init(path: String) throws {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LabError("socket(AF_UNIX): \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw LabError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        guard ok else { close(fd); throw LabError("bind \(path): \(String(cString: strerror(errno)))") }
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        self.path = path
    }

    deinit { close(fd); unlink(path) }

    /// Every datagram queued now (non-blocking).
    func receiveAll() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return out }
            out.append(Array(buf[0..<n]))
        }
    }
}

/// One journal entry as received over the native protocol.
struct JournalEntry: CustomStringConvertible {
    /// Fields in order (a name may repeat in the protocol; tests use the first).
    var fields: [(name: String, value: String)] = []
    /// Names of fields that arrived in the binary (length-prefixed) form.
    var binaryFields: Set<String> = []

    subscript(_ name: String) -> String? { fields.first { $0.name == name }?.value }
    var description: String { fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ") }

    /// Parses one datagram of journald's native protocol:
    /// `NAME=value\n` for values without newlines, or `NAME\n` + 64-bit little-endian length +
    /// the raw value + `\n` (the binary form, used for values holding newlines).
    static func parse(_ d: [UInt8]) throws -> JournalEntry {
        var e = JournalEntry()
        var i = 0
        while i < d.count {
            var j = i
            while j < d.count && d[j] != UInt8(ascii: "=") && d[j] != UInt8(ascii: "\n") { j += 1 }
            guard j < d.count else { throw LabError("journal datagram: field name without = or newline at byte \(i)") }
            let name = String(decoding: d[i..<j], as: UTF8.self)
            if d[j] == UInt8(ascii: "=") {
                var k = j + 1
                while k < d.count && d[k] != UInt8(ascii: "\n") { k += 1 }
                e.fields.append((name, String(decoding: d[(j + 1)..<k], as: UTF8.self)))
                i = k + 1
            } else {
                guard j + 9 <= d.count else { throw LabError("journal datagram: truncated length of binary field \(name)") }
                var len: UInt64 = 0
                for b in 0..<8 { len |= UInt64(d[j + 1 + b]) << (8 * UInt64(b)) }
                let start = j + 9
                guard start + Int(len) < d.count, d[start + Int(len)] == UInt8(ascii: "\n") else {
                    throw LabError("journal datagram: binary field \(name) of \(len) bytes overruns or lacks its newline")
                }
                e.fields.append((name, String(decoding: d[start..<(start + Int(len))], as: UTF8.self)))
                e.binaryFields.insert(name)
                i = start + Int(len) + 1
            }
        }
        return e
    }
}
