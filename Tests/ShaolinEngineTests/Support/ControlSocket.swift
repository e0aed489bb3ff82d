// A raw control-protocol client for tests: real Unix sockets, bytes exactly as the test
// writes them (garbage, oversized lines, floods), answers parsed with the core's JSON.
import Foundation
import ShaolinCore
import ShaolinLinux
import SystemPackage

final class ControlSocket {
    let fd: FileDescriptor
    var buffer: [UInt8] = []

    init(path: String, timeoutMs: Int = 5_000) throws {
        fd = try StreamSocket.connectUnix(path: path)
        StreamSocket.setTimeouts(fd, milliseconds: timeoutMs)
    }

    deinit { StreamSocket.close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd.rawValue, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LabError("send: \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    /// Sends as much as the socket takes without blocking; returns the bytes sent.
    func sendNonBlocking(_ bytes: [UInt8]) -> Int {
        let n = bytes.withUnsafeBytes { Glibc.send(fd.rawValue, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        return max(0, n)
    }

    /// The next JSON line, or nil at end of stream. Throws on timeout.
    func readMessage() throws -> JSONValue? {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                return try JSONValue.parse(bytes: line, limits: JSONLimits(maxBytes: 1 << 24, maxDepth: 32, maxStringBytes: 1 << 20, maxMembers: 100_000))
            }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if n > 0 { buffer.append(contentsOf: chunk[0..<n]); continue }
            if n == 0 { return nil }
            if errno == EINTR { continue }
            throw LabError("read: \(String(cString: strerror(errno)))")
        }
    }

    /// Sends one line and returns the answer (skipping the hello when it comes first).
    func request(_ line: String) throws -> JSONValue {
        try send(line + "\n")
        while true {
            guard let m = try readMessage() else { throw LabError("connection closed after \(line)") }
            if m["type"]?.stringValue == "hello" { continue }
            return m
        }
    }

    /// Reads everything until the server closes; returns the bytes count (throws on timeout).
    func drainToEnd() throws -> Int {
        var total = buffer.count
        buffer.removeAll()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if n > 0 { total += n; continue }
            if n == 0 { return total }
            if errno == EINTR { continue }
            // Closing a socket with unread input makes the kernel send a reset: closed too.
            if errno == ECONNRESET { return total }
            throw LabError("read: \(String(cString: strerror(errno))) after \(total) bytes")
        }
    }
}

extension JSONValue {
    var errorCode: String? { self["error"]?["code"]?.stringValue }
    var errorMessage: String { self["error"]?["message"]?.stringValue ?? "" }
}

extension Lab {
    /// The shaolinctl next to the running test binary.
    static let shaolinctl: String = {
        URL(fileURLWithPath: shaolind).deletingLastPathComponent().appendingPathComponent("shaolinctl").path
    }()

    func socket(_ node: String) -> String { "\(dir)/\(node).sock" }

    /// Runs shaolinctl against a node's Unix socket; returns (exit code, output).
    func ctl(_ node: String, _ args: [String]) throws -> (Int32, String) {
        try spawn([Lab.shaolinctl] + args + ["--socket", socket(node)])
    }

    /// Runs shaolinctl inside a node's network namespace (for TCP).
    func ctlInNamespace(_ node: String, _ args: [String]) throws -> (Int32, String) {
        try spawn(["/usr/sbin/ip", "netns", "exec", "shl-\(id)-\(node.lowercased())", Lab.shaolinctl] + args)
    }

    /// A node's status through the control socket.
    func controlStatus(_ node: String) -> JSONValue? {
        guard let s = try? ControlSocket(path: socket(node), timeoutMs: 2_000), let r = try? s.request(#"{"op":"status"}"#) else { return nil }
        return r["result"]
    }
}
