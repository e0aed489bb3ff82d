// SHA-256 (FIPS 180-4) in pure Swift, allocation-free.
//
// Why not swift-crypto here: its `Crypto` module imports FoundationEssentials (≈12 MB more in a
// binary that must fit an initramfs) and keeps hash state in a heap object, while the real-time
// loop must authenticate every frame without allocating. The test suite checks this
// implementation against swift-crypto and the RFC 4231 / NIST vectors.

/// The running state of one SHA-256 computation. A value type: copying it forks the hash.
public struct SHA256State: Sendable {
    @usableFromInline var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
    /// Pending input bytes (a partial 64-byte block).
    @usableFromInline var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    @usableFromInline var bufferCount: Int
    @usableFromInline var totalBytes: UInt64

    public init() {
        h = (0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19)
        buffer = (0, 0, 0, 0, 0, 0, 0, 0)
        bufferCount = 0
        totalBytes = 0
    }

    /// Adds bytes to the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress else { return }
        var n = bytes.count
        totalBytes &+= UInt64(n)
        if bufferCount > 0 {
            let take = min(64 - bufferCount, n)
            withUnsafeMutableBytes(of: &buffer) { b in
                (b.baseAddress! + bufferCount).copyMemory(from: p, byteCount: take)
            }
            bufferCount += take
            p += take
            n -= take
            if bufferCount == 64 {
                let blk = buffer
                withUnsafeBytes(of: blk) { compress($0.baseAddress!) }
                bufferCount = 0
            }
        }
        while n >= 64 {
            compress(p)
            p += 64
            n -= 64
        }
        if n > 0 {
            withUnsafeMutableBytes(of: &buffer) { b in b.baseAddress!.copyMemory(from: p, byteCount: n) }
            bufferCount = n
        }
    }

    /// Finishes the hash and writes the 32-byte digest to `out` (which must hold 32 bytes).
    public mutating func finalize(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= 32)
        let bitLength = totalBytes &* 8
        var pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &pad) { pb in
            pb[0] = 0x80
            // Pad so that length ≡ 56 (mod 64), then the 8-byte big-endian bit length.
            let padLen = bufferCount < 56 ? 56 - bufferCount : 120 - bufferCount
            for i in 0..<8 { pb[padLen + i] = UInt8(truncatingIfNeeded: bitLength >> (56 - 8 * UInt64(i))) }
            let saved = totalBytes
            update(UnsafeRawBufferPointer(rebasing: pb[0..<(padLen + 8)]))
            totalBytes = saved
        }
        withUnsafeBytes(of: h) { hb in
            for i in 0..<8 {
                let w = hb.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                out.storeBytes(of: w.bigEndian, toByteOffset: i * 4, as: UInt32.self)
            }
        }
    }

    @usableFromInline static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    @inline(__always) static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    /// Processes one 64-byte block at `p`.
    @usableFromInline mutating func compress(_ p: UnsafeRawPointer) {
        var w: (
            UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
            UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
            UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
            UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32
        ) = (
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        )
        var (a, b, c, d, e, f, g, hh) = h
        Self.k.withUnsafeBufferPointer { k in
            withUnsafeMutableBytes(of: &w) { wb in
                let w = wb.baseAddress!.assumingMemoryBound(to: UInt32.self)
                for i in 0..<16 {
                    w[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                }
                for i in 16..<64 {
                    let s0 = Self.rotr(w[i - 15], 7) ^ Self.rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                    let s1 = Self.rotr(w[i - 2], 17) ^ Self.rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                    w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
                }
                for i in 0..<64 {
                    let s1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
                    let ch = (e & f) ^ (~e & g)
                    let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                    let s0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
                    let maj = (a & b) ^ (a & c) ^ (b & c)
                    let t2 = s0 &+ maj
                    hh = g; g = f; f = e; e = d &+ t1
                    d = c; c = b; b = a; a = t1 &+ t2
                }
            }
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e, h.5 &+ f, h.6 &+ g, h.7 &+ hh)
    }
}

/// SHA-256 of a byte buffer, as a 32-byte array (convenience for tests and tools, allocates).
public func sha256(_ bytes: [UInt8]) -> [UInt8] {
    var s = SHA256State()
    bytes.withUnsafeBytes { s.update($0) }
    var out = [UInt8](repeating: 0, count: 32)
    out.withUnsafeMutableBytes { s.finalize(into: $0) }
    return out
}
