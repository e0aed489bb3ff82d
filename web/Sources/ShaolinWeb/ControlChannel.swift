// The web console talks to engines only through the shared control client
// (ShaolinControlClient's ControlChannel, docs/control-protocol.md), by node.
import Glibc
import ShaolinControlClient
import ShaolinCore

extension ControlChannel {
    /// Connects to `node` (its Unix socket, or its TCP listener with the cluster key).
    static func connect(_ node: WebConfig.Node, timeoutMilliseconds: Int = 5_000) throws(ControlFailure) -> ControlChannel {
        try connect(node.endpoint, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// One request on a fresh connection (operator actions: rare, so no pooling).
    static func once(_ node: WebConfig.Node, _ op: ControlOperation, timeoutMilliseconds: Int = 10_000) throws(ControlFailure) -> JSONValue {
        try once(node.endpoint, op, timeoutMilliseconds: timeoutMilliseconds)
    }
}

/// Reads a whole (small) file; nil when it cannot be read or exceeds `limit` bytes.
func readWholeFile(_ path: String, limit: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { Glibc.close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { return out }
        out.append(contentsOf: chunk[0..<n])
        if out.count > limit { return nil }
    }
}
