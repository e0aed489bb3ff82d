// HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed once up front, so
// authenticating a frame costs three compressions and no allocation.

/// A keyed HMAC-SHA256 authenticator. Create once per key; `mac` is allocation-free.
public struct HMACSHA256: Sendable {
    @usableFromInline let inner: SHA256State
    @usableFromInline let outer: SHA256State

    /// - Parameter key: any length; keys longer than 64 bytes are hashed first (RFC 2104).
    public init(key: [UInt8]) {
        var k = [UInt8](repeating: 0, count: 64)
        if key.count > 64 {
            let d = sha256(key)
            for i in 0..<32 { k[i] = d[i] }
        } else {
            for i in 0..<key.count { k[i] = key[i] }
        }
        var ipad = k, opad = k
        for i in 0..<64 { ipad[i] ^= 0x36; opad[i] ^= 0x5c }
        var i = SHA256State(), o = SHA256State()
        ipad.withUnsafeBytes { i.update($0) }
        opad.withUnsafeBytes { o.update($0) }
        inner = i
        outer = o
    }

    /// Writes the full 32-byte HMAC of `message` into `out` (≥ 32 bytes).
    public func mac(_ message: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        var s = inner
        s.update(message)
        var digest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digest) { d in
            s.finalize(into: d)
            var o = outer
            o.update(UnsafeRawBufferPointer(d))
            o.finalize(into: out)
        }
    }

    /// Convenience returning the 32-byte HMAC (allocates; for tests and tools).
    public func mac(_ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        message.withUnsafeBytes { m in out.withUnsafeMutableBytes { mac(m, into: $0) } }
        return out
    }
}

/// Compares two byte ranges in time independent of where they differ.
@inlinable
public func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<a.count { diff |= a[i] ^ b[i] }
    return diff == 0
}
