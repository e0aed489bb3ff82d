// A small JSON value, a strict parser with limits, and a writer — no Foundation, so the engine
// can speak the control protocol (docs/control-protocol.md) without it.
//
// The parser takes untrusted bytes from a socket: it bounds input size, nesting depth, string
// length and member count, rejects what RFC 8259 rejects (trailing commas, leading zeros,
// unescaped control characters, lone surrogates, invalid UTF-8, duplicate keys) and names the
// byte offset of the first problem. It never traps on any input.

/// A JSON value. Objects keep their members in order (the writer prints them as given).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// Integers that fit in Int64 keep full precision.
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The member `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for (k, v) in members where k == key { return v }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: return Int64(d)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: [(String, JSONValue)]? { if case .object(let o) = self { return o }; return nil }

    /// The JSON type name, for error messages ("expected a string, got a number").
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

// MARK: - Writing

extension JSONValue {
    /// Compact JSON on one line (no newline inside: fit for JSON lines).
    public var compact: String {
        var out = ""
        write(into: &out)
        return out
    }

    public func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            // JSON has no NaN or infinity.
            if d.isFinite { out += d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)" } else { out += "null" }
        case .string(let s): JSONValue.writeString(s, into: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, (k, v)) in o.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(k, into: &out)
                out += ":"
                v.write(into: &out)
            }
            out += "}"
        }
    }

    /// `value` with ", " and ": " separators (human-friendly, still one line).
    public var spaced: String {
        switch self {
        case .array(let a): return "[" + a.map(\.spaced).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.map { JSONValue.quoted($0.0) + ": " + $0.1.spaced }.joined(separator: ", ") + "}"
        default: return compact
        }
    }

    public static func quoted(_ s: String) -> String {
        var out = ""
        writeString(s, into: &out)
        return out
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7F || c.value == 0x2028 || c.value == 0x2029 {
                    let h = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }
}

// MARK: - Parsing

/// Why a text is not acceptable JSON, with the byte offset of the problem.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

/// Bounds the parser enforces on untrusted input.
public struct JSONLimits: Sendable {
    public var maxBytes: Int
    public var maxDepth: Int
    public var maxStringBytes: Int
    public var maxMembers: Int
    public init(maxBytes: Int = 65_536, maxDepth: Int = 16, maxStringBytes: Int = 16_384, maxMembers: Int = 256) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxStringBytes = maxStringBytes
        self.maxMembers = maxMembers
    }
}

extension JSONValue {
    /// Parses exactly one JSON value (surrounding whitespace allowed).
    public static func parse(_ text: String, limits: JSONLimits = JSONLimits()) throws(JSONParseError) -> JSONValue {
        try parse(bytes: Array(text.utf8), limits: limits)
    }

    public static func parse(bytes: [UInt8], limits: JSONLimits = JSONLimits()) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (b) throws(JSONParseError) -> JSONValue in
            try parse(buffer: b, limits: limits)
        }
    }

    public static func parse(buffer: UnsafeBufferPointer<UInt8>, limits: JSONLimits = JSONLimits()) throws(JSONParseError) -> JSONValue {
        if buffer.count > limits.maxBytes {
            throw JSONParseError(offset: limits.maxBytes, message: "text is longer than \(limits.maxBytes) bytes")
        }
        var p = JSONParser(bytes: buffer, limits: limits)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.pos < buffer.count { throw p.fail("unexpected \(p.describe(buffer[p.pos])) after the value") }
        return v
    }
}

struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let limits: JSONLimits
    var pos = 0

    init(bytes: UnsafeBufferPointer<UInt8>, limits: JSONLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    func fail(_ m: String) -> JSONParseError { JSONParseError(offset: pos, message: m) }

    func describe(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + (b < 16 ? "0" : "") + String(b, radix: 16)
    }

    var atEnd: Bool { pos >= bytes.count }

    mutating func skipSpace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard !atEnd else { throw fail("unexpected end of text, expected a value") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected \(describe(bytes[pos])), expected a value")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        guard pos + n <= bytes.count else { throw fail("unexpected end of text in a literal") }
        for i in 0..<n where bytes[pos + i] != w[i] { throw fail("invalid literal, expected \(word)") }
        pos += n
    }

    mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > limits.maxDepth { throw fail("nesting deeper than \(limits.maxDepth)") }
        pos += 1
        var members: [(String, JSONValue)] = []
        skipSpace()
        if !atEnd && bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object([]) }
        while true {
            skipSpace()
            guard !atEnd else { throw fail("unexpected end of text in an object") }
            guard bytes[pos] == UInt8(ascii: "\"") else { throw fail("unexpected \(describe(bytes[pos])), expected a member name in quotes") }
            let keyAt = pos
            let key = try string()
            for (k, _) in members where k == key {
                throw JSONParseError(offset: keyAt, message: "duplicate member \"\(key)\"")
            }
            skipSpace()
            guard !atEnd, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':' after member name \"\(key)\"") }
            pos += 1
            skipSpace()
            members.append((key, try value(depth: depth)))
            if members.count > limits.maxMembers { throw fail("more than \(limits.maxMembers) members") }
            skipSpace()
            guard !atEnd else { throw fail("unexpected end of text in an object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw fail("unexpected \(describe(bytes[pos])), expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > limits.maxDepth { throw fail("nesting deeper than \(limits.maxDepth)") }
        pos += 1
        var items: [JSONValue] = []
        skipSpace()
        if !atEnd && bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array([]) }
        while true {
            skipSpace()
            items.append(try value(depth: depth))
            if items.count > limits.maxMembers { throw fail("more than \(limits.maxMembers) array items") }
            skipSpace()
            guard !atEnd else { throw fail("unexpected end of text in an array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw fail("unexpected \(describe(bytes[pos])), expected ',' or ']'")
        }
    }

    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = pos
        var isInteger = true
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard !atEnd, isDigit(bytes[pos]) else { throw fail("expected a digit") }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if !atEnd && isDigit(bytes[pos]) { throw fail("leading zeros are not allowed") }
        } else {
            while !atEnd && isDigit(bytes[pos]) { pos += 1 }
        }
        if !atEnd && bytes[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard !atEnd, isDigit(bytes[pos]) else { throw fail("expected a digit after '.'") }
            while !atEnd && isDigit(bytes[pos]) { pos += 1 }
        }
        if !atEnd && (bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E")) {
            isInteger = false
            pos += 1
            if !atEnd && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard !atEnd, isDigit(bytes[pos]) else { throw fail("expected a digit in the exponent") }
            while !atEnd && isDigit(bytes[pos]) { pos += 1 }
        }
        if pos - start > 64 { throw JSONParseError(offset: start, message: "number longer than 64 characters") }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if isInteger, let i = Int64(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else { throw JSONParseError(offset: start, message: "number out of range") }
        return .double(d)
    }

    func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    mutating func string() throws(JSONParseError) -> String {
        let start = pos
        pos += 1
        var scalars = String.UnicodeScalarView()
        var byteCount = 0
        while true {
            guard !atEnd else { throw JSONParseError(offset: start, message: "unterminated string") }
            if byteCount > limits.maxStringBytes { throw JSONParseError(offset: start, message: "string longer than \(limits.maxStringBytes) bytes") }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { pos += 1; return String(scalars) }
            if b < 0x20 { throw fail("unescaped control character \(describe(b)) in a string") }
            if b == UInt8(ascii: "\\") {
                pos += 1
                guard !atEnd else { throw JSONParseError(offset: start, message: "unterminated string") }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var u = try hex4()
                    if u >= 0xD800 && u <= 0xDBFF {
                        guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                            throw fail("lone high surrogate \\u\(String(u, radix: 16))")
                        }
                        pos += 2
                        let lo = try hex4()
                        guard lo >= 0xDC00 && lo <= 0xDFFF else { throw fail("invalid low surrogate \\u\(String(lo, radix: 16))") }
                        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                    } else if u >= 0xDC00 && u <= 0xDFFF {
                        throw fail("lone low surrogate \\u\(String(u, radix: 16))")
                    }
                    guard let s = Unicode.Scalar(u) else { throw fail("invalid code point") }
                    scalars.append(s)
                default:
                    pos -= 1
                    throw fail("invalid escape \\\(describe(e))")
                }
                byteCount += 2
                continue
            }
            if b < 0x80 {
                scalars.append(Unicode.Scalar(b))
                pos += 1
                byteCount += 1
                continue
            }
            // Multi-byte UTF-8, validated strictly (no overlongs, no surrogates, ≤ U+10FFFF).
            let (scalar, length) = try utf8Scalar()
            scalars.append(scalar)
            pos += length
            byteCount += length
        }
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("unexpected end of text in \\u escape") }
        var v: UInt32 = 0
        for i in 0..<4 {
            let c = bytes[pos + i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            default: pos += i; throw fail("invalid hex digit \(describe(c)) in \\u escape")
            }
            v = v << 4 | d
        }
        pos += 4
        return v
    }

    func utf8Scalar() throws(JSONParseError) -> (Unicode.Scalar, Int) {
        let b0 = bytes[pos]
        let length: Int
        var v: UInt32
        switch b0 {
        case 0xC2...0xDF: length = 2; v = UInt32(b0 & 0x1F)
        case 0xE0...0xEF: length = 3; v = UInt32(b0 & 0x0F)
        case 0xF0...0xF4: length = 4; v = UInt32(b0 & 0x07)
        default: throw fail("invalid UTF-8 lead \(describe(b0))")
        }
        guard pos + length <= bytes.count else { throw fail("truncated UTF-8 sequence") }
        for i in 1..<length {
            let c = bytes[pos + i]
            guard c & 0xC0 == 0x80 else { throw fail("invalid UTF-8 continuation \(describe(c))") }
            v = v << 6 | UInt32(c & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard v >= minimum, let s = Unicode.Scalar(v) else { throw fail("invalid UTF-8 sequence") }
        return (s, length)
    }
}
