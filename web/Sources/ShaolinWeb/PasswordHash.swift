// Password hashes for the web console's login: PBKDF2-HMAC-SHA256 (RFC 8018) over the
// core's own HMAC-SHA256, stored as one self-describing string
//
//     pbkdf2-sha256$<iterations>$<salt, hex>$<derived key, hex>
//
// `shaolin-web hash-password` prints such a string for the config file; `verify` compares
// in constant time. Nothing here keeps the password itself.
import ShaolinCore
import ShaolinLinux

public enum PasswordHash {
    public static let scheme = "pbkdf2-sha256"
    /// Default work factor for new hashes. Measured: 2.9 s of CPU in a debug build on this project's 2-core VM;
    /// the release build is much faster (not measured yet). Each login pays this once.
    public static let defaultIterations = 120_000
    /// Hashes with fewer iterations are refused when the config is read (too cheap to brute-force).
    public static let minimumIterations = 10_000
    /// Upper bound so a hostile config cannot make every login burn minutes of CPU.
    public static let maximumIterations = 10_000_000
    public static let saltBytes = 16
    public static let keyBytes = 32

    public struct Parsed: Sendable, Equatable {
        public var iterations: Int
        public var salt: [UInt8]
        public var derivedKey: [UInt8]
    }

    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case format
        case scheme(String)
        case iterations(String)
        case salt
        case key
        public var description: String {
            switch self {
            case .format: "a password hash has the form pbkdf2-sha256$ITERATIONS$SALT_HEX$KEY_HEX (make one with `shaolin-web hash-password`)"
            case .scheme(let s): "unsupported password hash scheme \"\(s)\" (only \(PasswordHash.scheme))"
            case .iterations(let s): "iterations must be a whole number from \(PasswordHash.minimumIterations) to \(PasswordHash.maximumIterations), got \"\(s)\""
            case .salt: "the salt must be at least 8 bytes of hex"
            case .key: "the derived key must be 32 bytes of hex"
            }
        }
    }

    /// PBKDF2-HMAC-SHA256 with a derived key of `length` bytes.
    public static func pbkdf2(password: [UInt8], salt: [UInt8], iterations: Int, length: Int = keyBytes) -> [UInt8] {
        precondition(iterations >= 1 && length >= 1)
        let prf = HMACSHA256(key: password)
        var out: [UInt8] = []
        out.reserveCapacity(length)
        var block: UInt32 = 1
        var u = [UInt8](repeating: 0, count: 32)
        var t = [UInt8](repeating: 0, count: 32)
        while out.count < length {
            var first = salt
            first.append(contentsOf: [UInt8(block >> 24), UInt8(block >> 16 & 0xff), UInt8(block >> 8 & 0xff), UInt8(block & 0xff)])
            first.withUnsafeBytes { m in u.withUnsafeMutableBytes { prf.mac(m, into: $0) } }
            t = u
            if iterations > 1 {
                var next = [UInt8](repeating: 0, count: 32)
                for _ in 1..<iterations {
                    u.withUnsafeBytes { m in next.withUnsafeMutableBytes { prf.mac(m, into: $0) } }
                    swap(&u, &next)
                    for j in 0..<32 { t[j] ^= u[j] }
                }
            }
            out.append(contentsOf: t.prefix(length - out.count))
            block += 1
        }
        return out
    }

    /// A new hash string for `password` with a fresh random salt.
    public static func make(password: String, iterations: Int = defaultIterations) -> String {
        let salt = SecureRandom.bytes(saltBytes)
        let key = pbkdf2(password: Array(password.utf8), salt: salt, iterations: iterations)
        return "\(scheme)$\(iterations)$\(Hex.encode(salt))$\(Hex.encode(key))"
    }

    public static func parse(_ s: String) throws(ParseError) -> Parsed {
        let parts = s.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 else { throw .format }
        guard parts[0] == scheme else { throw .scheme(parts[0]) }
        guard let n = Int(parts[1]), n >= minimumIterations, n <= maximumIterations else { throw .iterations(parts[1]) }
        guard let salt = Hex.decode(parts[2].lowercased()), salt.count >= 8 else { throw .salt }
        guard let key = Hex.decode(parts[3].lowercased()), key.count == keyBytes else { throw .key }
        return Parsed(iterations: n, salt: salt, derivedKey: key)
    }

    /// True when `password` matches; the comparison takes the same time wherever it differs.
    public static func verify(password: String, against hash: Parsed) -> Bool {
        let key = pbkdf2(password: Array(password.utf8), salt: hash.salt, iterations: hash.iterations, length: hash.derivedKey.count)
        return key.withUnsafeBytes { a in hash.derivedKey.withUnsafeBytes { b in constantTimeEqual(a, b) } }
    }
}
