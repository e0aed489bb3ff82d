// Random bytes for challenges, nonces, session ids, CSRF tokens and salts: the kernel's CSPRNG
// through the standard library's SystemRandomNumberGenerator (getrandom(2) on Linux, which
// blocks only until the pool is first initialised at boot).

public enum SecureRandom {
    /// `count` bytes from the kernel's CSPRNG.
    ///
    /// The corresponding C function is `getrandom` (through `SystemRandomNumberGenerator`).
    public static func bytes(_ count: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = g.next()
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return out
    }

    /// `count` random bytes as lower-case hex (twice as many characters).
    public static func token(_ count: Int = 32) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes(count) {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
