// Framing for the serial heartbeat link: COBS with 0x00 delimiters and a CRC-16/CCITT-FALSE.
//
// Wire format of one frame:
//
//     0x00  COBS(payload ‖ crc16_be(payload))  0x00
//
// COBS removes every 0x00 from the body, so 0x00 only ever appears as a delimiter and a
// receiver that starts mid-frame, or sees garbage, resynchronises at the next 0x00. The
// leading delimiter ends any garbage the line carried before the frame, so that frame is
// not merged with it. Empty frames (two delimiters in a row) are ignored silently.
//
// Nothing here allocates: the encoder writes into a caller buffer, the decoder keeps a
// fixed-capacity inline buffer and hands complete frames to a non-escaping closure.

/// COBS + CRC-16 framing constants and the encoder.
public enum SerialFraming {
    /// The largest payload a frame may carry.
    public static let maxPayloadCount = 256
    /// The frame delimiter.
    public static let delimiter: UInt8 = 0
    /// Bytes of CRC appended to the payload (big-endian CRC-16/CCITT-FALSE).
    public static let crcCount = 2

    /// The largest number of bytes `encode` writes for a payload of `payloadCount` bytes
    /// (two delimiters, the COBS overhead and the CRC).
    public static func maxEncodedCount(payloadCount: Int) -> Int {
        let body = payloadCount + crcCount
        return 2 + body + 1 + body / 254
    }

    /// The largest encoded frame (for a `maxPayloadCount` payload): 262 bytes.
    public static let maxEncodedFrameCount = maxEncodedCount(payloadCount: maxPayloadCount)

    /// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, no final xor) of `bytes`.
    /// The check value for "123456789" is 0x29B1.
    @inlinable
    public static func crc16(_ bytes: UnsafeRawBufferPointer, initial: UInt16 = 0xFFFF) -> UInt16 {
        var crc = initial
        for b in bytes { crc = crc16Step(crc, b) }
        return crc
    }

    @inlinable @inline(__always)
    static func crc16Step(_ crc: UInt16, _ byte: UInt8) -> UInt16 {
        var c = crc ^ (UInt16(byte) << 8)
        for _ in 0..<8 {
            c = (c & 0x8000) != 0 ? (c << 1) ^ 0x1021 : c << 1
        }
        return c
    }

    /// Encodes `payload` as one delimited frame into `output` and returns the number of bytes
    /// written, or nil if the payload exceeds `maxPayloadCount` or `output` is smaller than
    /// `maxEncodedCount(payloadCount:)`. Does not allocate.
    public static func encode(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard payload.count <= maxPayloadCount else { return nil }
        return encodeUnchecked(payload, into: output)
    }

    /// `encode` without the payload size limit (tests use it to build oversize frames).
    static func encodeUnchecked(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard output.count >= maxEncodedCount(payloadCount: payload.count) else { return nil }
        let crc = crc16(payload)
        let total = payload.count + crcCount
        var out = 0
        output[out] = delimiter; out += 1
        var codeIndex = out; out += 1
        var code: UInt8 = 1
        for i in 0..<total {
            let b: UInt8
            if i < payload.count {
                b = payload[i]
            } else if i == payload.count {
                b = UInt8(truncatingIfNeeded: crc >> 8)
            } else {
                b = UInt8(truncatingIfNeeded: crc)
            }
            if b == 0 {
                output[codeIndex] = code
                codeIndex = out; out += 1
                code = 1
            } else {
                output[out] = b; out += 1
                code += 1
                if code == 0xFF {
                    output[codeIndex] = code
                    codeIndex = out; out += 1
                    code = 1
                }
            }
        }
        output[codeIndex] = code
        output[out] = delimiter; out += 1
        return out
    }
}

/// Incremental, allocation-free decoder for `SerialFraming` frames.
///
/// Feed it whatever the serial port returned, in chunks of any size (byte by byte works);
/// each complete frame with a valid CRC is passed to the closure as the payload (without
/// the CRC), valid only during the call. Everything else is counted in `rejects`.
public struct SerialFrameDecoder: Sendable {
    /// Frames thrown away, by reason.
    public struct Rejects: Sendable, Equatable {
        /// The CRC did not match the decoded bytes.
        public var crc: UInt64 = 0
        /// The decoded frame exceeded `SerialFraming.maxPayloadCount` + CRC.
        public var oversize: UInt64 = 0
        /// The COBS structure was broken (a block cut short by a delimiter).
        public var badCOBS: UInt64 = 0
        /// Fewer decoded bytes than a CRC needs.
        public var runt: UInt64 = 0

        public init() {}

        /// All rejects.
        public var total: UInt64 { crc + oversize + badCOBS + runt }
    }

    /// Decoded bytes of the frame in progress (payload + CRC).
    public static let capacity = SerialFraming.maxPayloadCount + SerialFraming.crcCount

    private var buffer = InlineArray<258, UInt8>(repeating: 0)
    private var length = 0
    /// Data bytes still expected in the current COBS block (0: next byte is a code byte).
    private var remaining = 0
    /// The current block ends with an implied zero (its code was < 0xFF), written only if
    /// another block follows.
    private var pendingZero = false
    private var inFrame = false
    private var overflow = false

    /// Frames delivered.
    public private(set) var framesDecoded: UInt64 = 0
    /// Frames rejected, by reason.
    public private(set) var rejects = Rejects()

    public init() {
        precondition(buffer.count == Self.capacity)
    }

    /// Forgets the frame in progress (after a reopen, for instance); counters are kept.
    public mutating func reset() {
        length = 0
        remaining = 0
        pendingZero = false
        inFrame = false
        overflow = false
    }

    /// Consumes `chunk`, calling `onFrame` with the payload of every valid frame it completes.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, onFrame: (UnsafeRawBufferPointer) -> Void) {
        for b in chunk { feed(byte: b, onFrame: onFrame) }
    }

    /// Consumes one byte.
    public mutating func feed(byte b: UInt8, onFrame: (UnsafeRawBufferPointer) -> Void) {
        if b == SerialFraming.delimiter {
            finishFrame(onFrame)
            reset()
            return
        }
        inFrame = true
        if overflow { return }
        if remaining == 0 {
            if pendingZero { append(0) }
            remaining = Int(b) - 1
            pendingZero = b != 0xFF
        } else {
            append(b)
            remaining -= 1
        }
    }

    @inline(__always)
    private mutating func append(_ b: UInt8) {
        if length == Self.capacity {
            overflow = true
            return
        }
        buffer[length] = b
        length += 1
    }

    private mutating func finishFrame(_ onFrame: (UnsafeRawBufferPointer) -> Void) {
        guard inFrame else { return }
        if overflow {
            rejects.oversize += 1
            return
        }
        if remaining != 0 {
            rejects.badCOBS += 1
            return
        }
        if length < SerialFraming.crcCount {
            rejects.runt += 1
            return
        }
        let payloadCount = length - SerialFraming.crcCount
        let received = UInt16(buffer[payloadCount]) << 8 | UInt16(buffer[payloadCount + 1])
        let ok = buffer.span.withUnsafeBytes { raw -> Bool in
            let payload = UnsafeRawBufferPointer(rebasing: raw[0..<payloadCount])
            guard SerialFraming.crc16(payload) == received else { return false }
            onFrame(payload)
            return true
        }
        if ok {
            framesDecoded += 1
        } else {
            rejects.crc += 1
        }
    }
}
