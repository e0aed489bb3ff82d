import Testing
@testable import ShaolinCore


func encodeFrame(_ payload: [UInt8], unchecked: Bool = false) -> [UInt8]? {
    var out = [UInt8](repeating: 0xAA, count: SerialFraming.maxEncodedCount(payloadCount: payload.count))
    let n = payload.withUnsafeBytes { p in
        out.withUnsafeMutableBytes { o in
            unchecked ? SerialFraming.encodeUnchecked(p, into: o) : SerialFraming.encode(p, into: o)
        }
    }
    guard let n else { return nil }
    return Array(out[0..<n])
}

func decodeAll(_ decoder: inout SerialFrameDecoder, _ bytes: [UInt8], chunk: Int = .max) -> [[UInt8]] {
    var frames: [[UInt8]] = []
    var i = 0
    while i < bytes.count {
        let end = min(bytes.count, i + max(1, chunk))
        bytes[i..<end].withUnsafeBytes { raw in
            decoder.feed(raw) { frames.append(Array($0)) }
        }
        i = end
    }
    return frames
}

@Suite struct SerialFramingTests {
    @Test func crcCheckValue() {
        let text = Array("123456789".utf8)
        #expect(text.withUnsafeBytes { SerialFraming.crc16($0) } == 0x29B1)
    }

    @Test func encodedFramesContainZeroOnlyAsDelimiters() throws {
        let payload: [UInt8] = [0, 1, 0, 0, 2, 0xFF, 0]
        let wire = try #require(encodeFrame(payload))
        #expect(wire.first == 0 && wire.last == 0)
        #expect(!wire.dropFirst().dropLast().contains(0))
        #expect(wire.count <= SerialFraming.maxEncodedCount(payloadCount: payload.count))
    }

    @Test func roundTripAllSizesAndPatterns() throws {
        var rng = SplitMix64(seed: 1)
        var decoder = SerialFrameDecoder()
        for size in 0...SerialFraming.maxPayloadCount {
            let patterns: [[UInt8]] = [
                [UInt8](repeating: 0, count: size),
                [UInt8](repeating: 0xFF, count: size),
                (0..<size).map { UInt8(truncatingIfNeeded: $0) },
                (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) },
            ]
            for payload in patterns {
                let wire = try #require(encodeFrame(payload))
                #expect(wire.count <= SerialFraming.maxEncodedFrameCount)
                let frames = decodeAll(&decoder, wire)
                #expect(frames == [payload], "size \(size)")
            }
        }
        #expect(decoder.rejects == .init())
        #expect(decoder.framesDecoded == UInt64(4 * (SerialFraming.maxPayloadCount + 1)))
    }

    @Test func encoderRefusesOversizeOrSmallOutput() {
        #expect(encodeFrame([UInt8](repeating: 1, count: SerialFraming.maxPayloadCount + 1)) == nil)
        var small = [UInt8](repeating: 0, count: 4)
        let payload: [UInt8] = [1, 2, 3]
        let n = payload.withUnsafeBytes { p in small.withUnsafeMutableBytes { SerialFraming.encode(p, into: $0) } }
        #expect(n == nil)
    }

    @Test func garbageBeforeAndBetweenFrames() throws {
        let a: [UInt8] = [1, 2, 3, 0, 4]
        let b: [UInt8] = Array("heartbeat".utf8)
        let garbage1: [UInt8] = [0x13, 0x37, 0xFF, 0x42, 0x99]  // no zero: would merge without the leading delimiter
        let garbage2: [UInt8] = [0x55, 0x00, 0x07, 0x01, 0xFE]
        let stream = garbage1 + (try #require(encodeFrame(a))) + garbage2 + (try #require(encodeFrame(b))) + [0x10, 0x20]
        var decoder = SerialFrameDecoder()
        let frames = decodeAll(&decoder, stream)
        #expect(frames == [a, b])
        #expect(decoder.rejects.total >= 2)  // garbage1 and the two pieces of garbage2
        // The trailing partial garbage is completed by the next delimiter and rejected too.
        let before = decoder.rejects.total
        _ = decodeAll(&decoder, [0])
        #expect(decoder.rejects.total == before + 1)
    }

    @Test func splitChunksByteByByteAndOddSizes() throws {
        var rng = SplitMix64(seed: 7)
        var payloads: [[UInt8]] = []
        var stream: [UInt8] = []
        for _ in 0..<50 {
            let size = Int.random(in: 0...SerialFraming.maxPayloadCount, using: &rng)
            let p = (0..<size).map { _ in UInt8.random(in: 0...3, using: &rng) }  // many zeros
            payloads.append(p)
            stream += try #require(encodeFrame(p))
        }
        for chunk in [1, 2, 3, 7, 64, 255, 1000] {
            var decoder = SerialFrameDecoder()
            #expect(decodeAll(&decoder, stream, chunk: chunk) == payloads, "chunk \(chunk)")
            #expect(decoder.rejects.total == 0)
        }
    }

    @Test func corruptionIsRejected() throws {
        let payload: [UInt8] = Array("node 1 ACTIVE seq 42".utf8) + [0, 0, 7, 0]
        let wire = try #require(encodeFrame(payload))
        // Flip each body byte in turn (delimiters excluded) with a few patterns.
        for index in 1..<(wire.count - 1) {
            for mask: UInt8 in [0x01, 0x80, 0x5A, 0xFF] {
                var bad = wire
                bad[index] ^= mask
                var decoder = SerialFrameDecoder()
                let frames = decodeAll(&decoder, bad)
                #expect(frames.isEmpty, "index \(index) mask \(mask)")
                #expect(decoder.rejects.total >= 1)
            }
        }
        // A CRC error specifically: corrupt a data byte that stays non-zero.
        var bad = wire
        bad[3] = bad[3] == 0x41 ? 0x42 : 0x41
        var decoder = SerialFrameDecoder()
        #expect(decodeAll(&decoder, bad).isEmpty)
        #expect(decoder.rejects.crc == 1)
        // A truncated frame: a delimiter in the middle of a COBS block.
        var cut = Array(wire[0..<6])
        cut.append(0)
        var d2 = SerialFrameDecoder()
        #expect(decodeAll(&d2, cut).isEmpty)
        #expect(d2.rejects.badCOBS == 1)
        // Then the decoder resynchronises on the next good frame.
        #expect(decodeAll(&d2, wire) == [payload])
    }

    @Test func oversizeIsRejectedAndDecoderRecovers() throws {
        let big = [UInt8](repeating: 0x11, count: SerialFraming.maxPayloadCount + 1)
        let wire = try #require(encodeFrame(big, unchecked: true))
        var decoder = SerialFrameDecoder()
        #expect(decodeAll(&decoder, wire).isEmpty)
        #expect(decoder.rejects.oversize == 1)
        // A long run of non-zero garbage is also oversize, not a crash.
        #expect(decodeAll(&decoder, [UInt8](repeating: 0x33, count: 5000) + [0]).isEmpty)
        #expect(decoder.rejects.oversize == 2)
        let ok: [UInt8] = [9, 8, 7]
        #expect(decodeAll(&decoder, try #require(encodeFrame(ok))) == [ok])
    }

    @Test func runtsAndEmptyFrames() {
        var decoder = SerialFrameDecoder()
        #expect(decodeAll(&decoder, [0, 0, 0, 0]).isEmpty)
        #expect(decoder.rejects.total == 0)  // empty frames are not counted
        #expect(decodeAll(&decoder, [0x02, 0x05, 0x00]).isEmpty)  // one decoded byte
        #expect(decoder.rejects.runt == 1)
    }

    @Test func randomFuzzNeverTrapsAndKeepsValidFrames() throws {
        var rng = SplitMix64(seed: 0x5EED)
        for round in 0..<200 {
            var expected: [[UInt8]] = []
            var stream: [UInt8] = []
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let garbage = (0..<Int.random(in: 0...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                stream += garbage
                let p = (0..<Int.random(in: 0...SerialFraming.maxPayloadCount, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                expected.append(p)
                stream += try #require(encodeFrame(p))
            }
            var decoder = SerialFrameDecoder()
            let frames = decodeAll(&decoder, stream, chunk: Int.random(in: 1...300, using: &rng))
            // Every valid frame arrives in order; garbage may, very rarely, pass the CRC.
            var it = frames.makeIterator()
            for p in expected {
                var found = false
                while let f = it.next() { if f == p { found = true; break } }
                #expect(found, "round \(round)")
            }
            #expect(decoder.framesDecoded == UInt64(frames.count))
        }
        // Pure noise, all byte values, any chunking.
        var decoder = SerialFrameDecoder()
        for _ in 0..<100 {
            let noise = (0..<Int.random(in: 0...2000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = decodeAll(&decoder, noise, chunk: Int.random(in: 1...50, using: &rng))
        }
        #expect(decoder.rejects.total > 0)
    }
}
