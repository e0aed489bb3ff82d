// The core's allocation-free SHA-256 / HMAC-SHA256 against swift-crypto on random inputs.
import Crypto
import ShaolinCore
import Testing

@Suite struct CryptoOracleTests {
    @Test func sha256MatchesSwiftCrypto() {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000] + (0..<200).map({ _ in Int.random(in: 0...600, using: &rng) }) {
            let msg = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(sha256(msg) == Array(SHA256.hash(data: msg)), "length \(length)")
        }
    }

    @Test func hmacMatchesSwiftCrypto() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let key = (0..<Int.random(in: 0...150, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let msg = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let ours = HMACSHA256(key: key).mac(msg)
            let theirs = Array(HMAC<SHA256>.authenticationCode(for: msg, using: SymmetricKey(data: key)))
            #expect(ours == theirs, "key \(key.count) bytes, message \(msg.count) bytes")
        }
    }

    @Test func frameTagIsTruncatedHMACOfHeader() throws {
        let key = try ClusterKey(bytes: Array("0123456789abcdef0123456789abcdef".utf8))
        let codec = FrameCodec(clusterID: 99, key: key)
        let frame = Frame(type: .heartbeat, clusterID: 99, sender: 1, link: 0, role: .active,
                          incarnation: 0xDEAD_BEEF, sequence: 42, sendTime: 123_456_789)
        let bytes = codec.encode(frame)
        let full = Array(HMAC<SHA256>.authenticationCode(for: bytes[0..<64], using: SymmetricKey(data: key.bytes)))
        #expect(Array(bytes[64..<80]) == Array(full[0..<16]))
    }
}
