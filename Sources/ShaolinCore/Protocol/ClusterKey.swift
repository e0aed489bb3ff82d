// The shared cluster key: loading rules for the key file (the shell reads the file and its
// mode; the checks live here so they are the same everywhere and testable).

/// Secret shared by both nodes; authenticates every frame.
public struct ClusterKey: Sendable, Equatable {
    public let bytes: [UInt8]
    public static let minimumBytes = 16

    public init(bytes: [UInt8]) throws(ClusterKeyError) {
        guard bytes.count >= Self.minimumBytes else { throw .tooShort(bytes.count) }
        self.bytes = bytes
    }

    /// Interprets a key file's contents: surrounding whitespace is ignored; a file of only hex
    /// digits (even count, ≥ 32 digits) is decoded as hex, anything else is used as raw bytes.
    public static func parse(fileContents: [UInt8]) throws(ClusterKeyError) -> ClusterKey {
        var s = fileContents[...]
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
        while let f = s.first, isSpace(f) { s = s.dropFirst() }
        while let l = s.last, isSpace(l) { s = s.dropLast() }
        if s.count >= 32, s.count % 2 == 0, s.allSatisfy({ hexValue($0) != nil }) {
            var out: [UInt8] = []
            out.reserveCapacity(s.count / 2)
            var i = s.startIndex
            while i < s.endIndex {
                out.append(hexValue(s[i])! << 4 | hexValue(s[i + 1])!)
                i += 2
            }
            return try ClusterKey(bytes: out)
        }
        return try ClusterKey(bytes: Array(s))
    }

    /// Checks the key file's ownership and permissions as `stat` reported them.
    /// - Parameters: mode: `st_mode`; owner: `st_uid`; euid: the engine's effective uid.
    public static func checkPermissions(path: String, mode: UInt32, owner: UInt32, euid: UInt32) throws(ClusterKeyError) {
        if mode & 0o170000 != 0o100000 { throw .notRegularFile(path) }
        if mode & 0o077 != 0 { throw .tooOpen(path: path, mode: mode & 0o7777) }
        if owner != 0 && owner != euid { throw .wrongOwner(path: path, owner: owner) }
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}

public enum ClusterKeyError: Error, Equatable, CustomStringConvertible {
    case tooShort(Int)
    case notRegularFile(String)
    case tooOpen(path: String, mode: UInt32)
    case wrongOwner(path: String, owner: UInt32)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .tooShort(let n):
            "cluster key is \(n) bytes; at least \(ClusterKey.minimumBytes) are required (generate one with `shaolinctl keygen`)"
        case .notRegularFile(let p): "key file \(p) is not a regular file"
        case .tooOpen(let p, let m):
            "key file \(p) has mode 0\(String(m, radix: 8)); it must not be accessible by group or others (chmod 600 \(p))"
        case .wrongOwner(let p, let o): "key file \(p) is owned by uid \(o); it must be owned by root"
        case .unreadable(let p, let r): "cannot read key file \(p): \(r)"
        }
    }
}
