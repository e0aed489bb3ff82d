// A small TOML parser for shaolin's configuration file, in pure Swift (no Foundation).
//
// It reads the TOML 1.0 language except dates and times, and it records the line and
// column of every key and value so that the configuration decoder can say exactly where
// a problem is. From TOML 1.1 it accepts newlines and a trailing comma in inline tables.
//
// Robustness: any input, including invalid UTF-8 and random bytes, yields either a
// document or a `TOMLError`; the parser never traps. Nesting of arrays and inline tables
// is limited (`TOMLParser.maxNesting`) so hostile input cannot exhaust the stack.

/// A position in the source text. Lines and columns start at 1; columns count Unicode
/// scalars (not bytes), so they match what an editor shows for UTF-8 text.
public struct SourcePosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
    public static func < (a: SourcePosition, b: SourcePosition) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }
    public var description: String { "line \(line), column \(column)" }
}

/// A syntax error: what is wrong and where ("line 12, column 5: expected '=' after key 'keepalive_ms'").
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var location: SourcePosition
    public var message: String
    public init(_ message: String, at location: SourcePosition) {
        self.message = message
        self.location = location
    }
    public var line: Int { location.line }
    public var column: Int { location.column }
    public var description: String { "\(location): \(message)" }
}

/// A parsed TOML value with the position where it starts.
public struct TOMLValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case float(Double)
        case boolean(Bool)
        /// A static array `[1, 2]` or an array of tables `[[x]]` (whose elements are `.table`).
        case array([TOMLValue])
        case table(TOMLTable)
    }
    public var kind: Kind
    /// Where the value starts; for a table defined by a header, the header's `[`.
    public var location: SourcePosition

    public init(_ kind: Kind, at location: SourcePosition) {
        self.kind = kind
        self.location = location
    }

    /// The TOML name of the value's type, for error messages ("expected an integer, got a string").
    public var typeName: String {
        switch kind {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .boolean: return "boolean"
        case .array: return "array"
        case .table: return "table"
        }
    }

    public var string: String? { if case .string(let s) = kind { return s } else { return nil } }
    public var integer: Int64? { if case .integer(let i) = kind { return i } else { return nil } }
    public var float: Double? { if case .float(let d) = kind { return d } else { return nil } }
    public var boolean: Bool? { if case .boolean(let b) = kind { return b } else { return nil } }
    public var array: [TOMLValue]? { if case .array(let a) = kind { return a } else { return nil } }
    public var table: TOMLTable? { if case .table(let t) = kind { return t } else { return nil } }
}

/// A TOML table: its entries in the order they were first defined in the file.
public struct TOMLTable: Sendable, Equatable {
    /// One key of a table, with the position of the key itself (for "unknown key" messages).
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var keyLocation: SourcePosition
        public var value: TOMLValue
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// The keys in file order.
    public var keys: [String] { entries.map(\.key) }
    public var isEmpty: Bool { entries.isEmpty }

    public subscript(key: String) -> Entry? {
        guard let i = index[key] else { return nil }
        return entries[i]
    }

    /// Adds an entry; returns false (and changes nothing) when the key already exists.
    @discardableResult
    public mutating func insert(_ key: String, at keyLocation: SourcePosition, value: TOMLValue) -> Bool {
        guard index[key] == nil else { return false }
        index[key] = entries.count
        entries.append(Entry(key: key, keyLocation: keyLocation, value: value))
        return true
    }
}

/// Parses TOML text. Use `TOMLParser.parse(_:)` for a `String` or `parse(bytes:)` for raw
/// file contents (which are checked to be valid UTF-8).
public enum TOMLParser {
    /// Deepest allowed nesting of arrays and inline tables.
    public static let maxNesting = 64

    /// Parses a document; the root table's keys are the top-level keys and tables.
    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var p = Parser(bytes: Array(text.utf8))
        return try p.parseDocument()
    }

    /// Parses raw bytes; invalid UTF-8 is an error naming its position.
    public static func parse(bytes: [UInt8]) throws(TOMLError) -> TOMLTable {
        let text = String(decoding: bytes, as: UTF8.self)
        let repaired = Array(text.utf8)
        if repaired != bytes {
            // Decoding replaced something: find the first byte that differs and report it.
            var i = 0
            while i < bytes.count, i < repaired.count, bytes[i] == repaired[i] { i += 1 }
            var s = Scanner(bytes: bytes)
            while s.pos < i { s.advance() }
            throw TOMLError("invalid UTF-8 byte sequence", at: s.location)
        }
        var p = Parser(bytes: bytes)
        return try p.parseDocument()
    }
}

// MARK: - Scanner

/// A cursor over UTF-8 bytes that keeps line and column up to date.
struct Scanner {
    let bytes: [UInt8]
    var pos = 0
    var line = 1
    var column = 1

    init(bytes: [UInt8]) { self.bytes = bytes }

    var location: SourcePosition { SourcePosition(line: line, column: column) }
    var atEnd: Bool { pos >= bytes.count }
    var peek: UInt8? { pos < bytes.count ? bytes[pos] : nil }
    func peek(_ offset: Int) -> UInt8? {
        let i = pos + offset
        return i >= 0 && i < bytes.count ? bytes[i] : nil
    }

    mutating func advance() {
        guard pos < bytes.count else { return }
        let b = bytes[pos]
        pos += 1
        if b == ASCII.newline {
            line += 1
            column = 1
        } else if pos >= bytes.count || bytes[pos] & 0xC0 != 0x80 {
            // The next byte starts a new character (is not a UTF-8 continuation byte).
            column += 1
        }
    }

    mutating func advance(_ n: Int) { for _ in 0..<n { advance() } }

    /// True when the bytes at the cursor equal `s` (ASCII only).
    func matches(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard pos + n <= bytes.count else { return false }
        return s.withUTF8Buffer { buf in
            for i in 0..<n where bytes[pos + i] != buf[i] { return false }
            return true
        }
    }

    /// Skips spaces and tabs.
    mutating func skipBlanks() {
        while let b = peek, b == ASCII.space || b == ASCII.tab { advance() }
    }

    /// Describes the byte at the cursor for messages: "'x'", "end of line", "end of file".
    var describeCurrent: String {
        guard let b = peek else { return "end of file" }
        if b == ASCII.newline || b == ASCII.cr { return "end of line" }
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        if b >= 0x80 {
            // Show the whole character when it is valid UTF-8.
            var end = pos + 1
            while end < bytes.count, bytes[end] & 0xC0 == 0x80, end - pos < 4 { end += 1 }
            let s = String(decoding: bytes[pos..<end], as: UTF8.self)
            return "'\(s)'"
        }
        return "byte 0x\(hex2(b))"
    }
}

enum ASCII {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22  // "
    static let hash: UInt8 = 0x23  // #
    static let apostrophe: UInt8 = 0x27  // '
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A
    static let equals: UInt8 = 0x3D
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let underscore: UInt8 = 0x5F
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D

    static func isDigit(_ b: UInt8) -> Bool { b >= zero && b <= nine }
    static func isLetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
    static func isBareKey(_ b: UInt8) -> Bool { isLetter(b) || isDigit(b) || b == underscore || b == minus }
    static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b - 0x30)
        case 0x41...0x46: return Int(b - 0x41 + 10)
        case 0x61...0x66: return Int(b - 0x61 + 10)
        default: return nil
        }
    }
    /// Control characters TOML forbids in strings and comments (all but tab).
    static func isForbiddenControl(_ b: UInt8) -> Bool { (b < 0x20 && b != tab) || b == 0x7F }
}

func hex2(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}

// MARK: - Tree under construction

/// A table while the document is being parsed. Reference type so that headers, dotted keys
/// and arrays of tables can reach into already-built nested tables; converted to the value
/// type `TOMLTable` at the end.
final class TableNode {
    enum Origin {
        /// Created as the parent of a header (`[a.b]` creates `a`); a later `[a]` may define it.
        case implicit
        /// Defined by a `[header]` (or an element of `[[array]]`, or the root).
        case header
        /// Created by a dotted key (`a.b = 1` creates `a`).
        case dotted
    }
    enum Slot {
        case value(TOMLValue)
        case table(TableNode)
        case tableArray([TableNode])
    }
    struct Member {
        var keyLocation: SourcePosition
        var slot: Slot
    }

    var origin: Origin
    var location: SourcePosition
    var order: [String] = []
    var members: [String: Member] = [:]

    init(origin: Origin, location: SourcePosition) {
        self.origin = origin
        self.location = location
    }

    func add(_ key: String, at loc: SourcePosition, _ slot: Slot) {
        order.append(key)
        members[key] = Member(keyLocation: loc, slot: slot)
    }

    func freeze() -> TOMLTable {
        var t = TOMLTable()
        for key in order {
            guard let m = members[key] else { continue }
            switch m.slot {
            case .value(let v):
                t.insert(key, at: m.keyLocation, value: v)
            case .table(let node):
                t.insert(key, at: m.keyLocation, value: TOMLValue(.table(node.freeze()), at: node.location))
            case .tableArray(let nodes):
                let elements = nodes.map { TOMLValue(.table($0.freeze()), at: $0.location) }
                t.insert(key, at: m.keyLocation, value: TOMLValue(.array(elements), at: nodes.first?.location ?? m.keyLocation))
            }
        }
        return t
    }
}

/// A key as written, with its position: one part of a dotted key.
struct KeyPart {
    var name: String
    var location: SourcePosition
}

func quoteKey(_ k: String) -> String {
    let bare = !k.isEmpty && k.utf8.allSatisfy(ASCII.isBareKey)
    return bare ? k : "\"" + escapeTOMLString(k) + "\""
}

func joinKey(_ parts: [KeyPart]) -> String { parts.map { quoteKey($0.name) }.joined(separator: ".") }

/// Escapes a string for use between double quotes in TOML.
public func escapeTOMLString(_ s: String) -> String {
    var out = ""
    for u in s.unicodeScalars {
        switch u {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if u.value < 0x20 || u.value == 0x7F {
                out += "\\u00" + hex2(UInt8(u.value))
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out
}

// MARK: - Parser

struct Parser {
    var s: Scanner

    init(bytes: [UInt8]) { s = Scanner(bytes: bytes) }

    func error(_ message: String, at loc: SourcePosition? = nil) -> TOMLError {
        TOMLError(message, at: loc ?? s.location)
    }

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        // A byte-order mark is allowed at the very start.
        if s.matches("\u{FEFF}") { s.advance(3) }
        let root = TableNode(origin: .header, location: SourcePosition(line: 1, column: 1))
        var current = root
        while true {
            s.skipBlanks()
            guard let b = s.peek else { break }
            switch b {
            case ASCII.hash, ASCII.newline, ASCII.cr:
                break
            case ASCII.openBracket:
                current = try parseHeader(root: root)
            default:
                try parseKeyValue(into: current, depth: 0)
            }
            try endOfLine()
        }
        return root.freeze()
    }

    /// After a header or key/value: optional blanks and comment, then a newline or the end.
    mutating func endOfLine() throws(TOMLError) {
        s.skipBlanks()
        if s.peek == ASCII.hash { try skipComment() }
        guard let b = s.peek else { return }
        if b == ASCII.newline {
            s.advance()
        } else if b == ASCII.cr && s.peek(1) == ASCII.newline {
            s.advance(2)
        } else if b == ASCII.cr {
            throw error("carriage return must be followed by a newline")
        } else {
            throw error("expected end of line, found \(s.describeCurrent)")
        }
    }

    mutating func skipComment() throws(TOMLError) {
        s.advance()  // '#'
        while let b = s.peek, b != ASCII.newline {
            if b == ASCII.cr && s.peek(1) == ASCII.newline { break }
            if ASCII.isForbiddenControl(b) {
                throw error("control character 0x\(hex2(b)) is not allowed in a comment")
            }
            s.advance()
        }
    }

    /// Skips blanks, newlines and comments (inside arrays).
    mutating func skipBlanksNewlinesComments() throws(TOMLError) {
        while let b = s.peek {
            if b == ASCII.space || b == ASCII.tab || b == ASCII.newline {
                s.advance()
            } else if b == ASCII.cr && s.peek(1) == ASCII.newline {
                s.advance(2)
            } else if b == ASCII.hash {
                try skipComment()
            } else {
                return
            }
        }
    }

    // MARK: Headers

    mutating func parseHeader(root: TableNode) throws(TOMLError) -> TableNode {
        let headerLoc = s.location
        s.advance()  // '['
        let isArray = s.peek == ASCII.openBracket
        if isArray { s.advance() }
        s.skipBlanks()
        let parts = try parseKey()
        s.skipBlanks()
        let closing = isArray ? "]]" : "]"
        if isArray {
            guard s.peek == ASCII.closeBracket && s.peek(1) == ASCII.closeBracket else {
                throw error("expected '\(closing)' to close header [[\(joinKey(parts))]], found \(s.describeCurrent)")
            }
            s.advance(2)
        } else {
            guard s.peek == ASCII.closeBracket else {
                throw error("expected '\(closing)' to close header [\(joinKey(parts))], found \(s.describeCurrent)")
            }
            s.advance()
        }

        var node = root
        for (i, part) in parts.dropLast().enumerated() {
            let path = joinKey(Array(parts[0...i]))
            switch node.members[part.name]?.slot {
            case nil:
                let child = TableNode(origin: .implicit, location: part.location)
                node.add(part.name, at: part.location, .table(child))
                node = child
            case .table(let t):
                node = t
            case .tableArray(let arr):
                guard let last = arr.last else { throw error("internal: empty array of tables", at: part.location) }
                node = last
            case .value(let v):
                throw error("'\(path)' is already defined as a \(v.typeName) at line \(v.location.line), so it cannot hold a table", at: part.location)
            }
        }
        guard let last = parts.last else { throw error("empty header", at: headerLoc) }
        let path = joinKey(parts)
        let existing = node.members[last.name]
        if isArray {
            let element = TableNode(origin: .header, location: headerLoc)
            switch existing?.slot {
            case nil:
                node.add(last.name, at: last.location, .tableArray([element]))
            case .tableArray(var arr):
                arr.append(element)
                node.members[last.name]?.slot = .tableArray(arr)
            case .table(let t):
                throw error("cannot define [[\(path)]]: '\(path)' is already a table (line \(t.location.line))", at: last.location)
            case .value(let v):
                throw error("cannot define [[\(path)]]: '\(path)' is already defined as a \(v.typeName) at line \(v.location.line)", at: last.location)
            }
            return element
        }
        switch existing?.slot {
        case nil:
            let t = TableNode(origin: .header, location: headerLoc)
            node.add(last.name, at: last.location, .table(t))
            return t
        case .table(let t):
            switch t.origin {
            case .implicit:
                t.origin = .header
                t.location = headerLoc
                node.members[last.name]?.keyLocation = last.location
                return t
            case .header:
                throw error("table [\(path)] is defined twice (first at line \(t.location.line))", at: last.location)
            case .dotted:
                throw error("table [\(path)] was already defined with dotted keys at line \(t.location.line)", at: last.location)
            }
        case .tableArray:
            throw error("'\(path)' is an array of tables; use [[\(path)]] to add an element", at: last.location)
        case .value(let v):
            throw error("cannot define table [\(path)]: '\(path)' is already defined as a \(v.typeName) at line \(v.location.line)", at: last.location)
        }
    }

    // MARK: Keys

    /// Parses a possibly dotted key: `a`, `a.b`, `"quoted key".c`, `'literal'`.
    mutating func parseKey() throws(TOMLError) -> [KeyPart] {
        var parts: [KeyPart] = []
        while true {
            parts.append(try parseSimpleKey())
            if parts.count > TOMLParser.maxNesting { throw error("key has too many dotted parts") }
            s.skipBlanks()
            guard s.peek == ASCII.dot else { return parts }
            s.advance()
            s.skipBlanks()
        }
    }

    mutating func parseSimpleKey() throws(TOMLError) -> KeyPart {
        let loc = s.location
        guard let b = s.peek else { throw error("expected a key, found end of file") }
        if b == ASCII.quote {
            if s.matches("\"\"\"") { throw error("a key cannot be a multi-line string") }
            return KeyPart(name: try parseBasicString(), location: loc)
        }
        if b == ASCII.apostrophe {
            if s.matches("'''") { throw error("a key cannot be a multi-line string") }
            return KeyPart(name: try parseLiteralString(), location: loc)
        }
        let start = s.pos
        while let c = s.peek, ASCII.isBareKey(c) { s.advance() }
        if s.pos == start {
            throw error("expected a key, found \(s.describeCurrent)")
        }
        return KeyPart(name: String(decoding: s.bytes[start..<s.pos], as: UTF8.self), location: loc)
    }

    // MARK: Key/value pairs

    /// Parses `key = value` into `table` (dotted keys create or extend sub-tables).
    mutating func parseKeyValue(into table: TableNode, depth: Int) throws(TOMLError) {
        let parts = try parseKey()
        s.skipBlanks()
        guard s.peek == ASCII.equals else {
            if s.peek == nil || s.peek == ASCII.newline || s.peek == ASCII.cr {
                throw error("expected '=' after key '\(joinKey(parts))'")
            }
            throw error("expected '=' after key '\(joinKey(parts))', found \(s.describeCurrent)")
        }
        s.advance()
        s.skipBlanks()
        if depth + parts.count > TOMLParser.maxNesting {
            throw error("arrays and inline tables nested too deeply", at: parts[0].location)
        }

        var node = table
        for (i, part) in parts.dropLast().enumerated() {
            let path = joinKey(Array(parts[0...i]))
            switch node.members[part.name]?.slot {
            case nil:
                let child = TableNode(origin: .dotted, location: part.location)
                node.add(part.name, at: part.location, .table(child))
                node = child
            case .table(let t) where t.origin == .dotted:
                node = t
            case .table(let t):
                throw error("cannot add keys to table '\(path)' with a dotted key: it is defined at line \(t.location.line)", at: part.location)
            case .tableArray:
                throw error("cannot add keys to array of tables '\(path)' with a dotted key", at: part.location)
            case .value(let v):
                throw error("'\(path)' is already defined as a \(v.typeName) at line \(v.location.line)", at: part.location)
            }
        }
        guard let last = parts.last else { throw error("expected a key") }
        if let existing = node.members[last.name] {
            throw error("duplicate key '\(joinKey(parts))' (first defined at line \(existing.keyLocation.line))", at: last.location)
        }
        let value = try parseValue(key: joinKey(parts), depth: depth)
        node.add(last.name, at: last.location, .value(value))
    }

    // MARK: Values

    mutating func parseValue(key: String, depth: Int) throws(TOMLError) -> TOMLValue {
        let loc = s.location
        guard let b = s.peek else { throw error("missing value for key '\(key)'") }
        switch b {
        case ASCII.quote:
            if s.matches("\"\"\"") { return TOMLValue(.string(try parseMultilineBasicString()), at: loc) }
            return TOMLValue(.string(try parseBasicString()), at: loc)
        case ASCII.apostrophe:
            if s.matches("'''") { return TOMLValue(.string(try parseMultilineLiteralString()), at: loc) }
            return TOMLValue(.string(try parseLiteralString()), at: loc)
        case ASCII.openBracket:
            return try parseArray(key: key, depth: depth + 1)
        case ASCII.openBrace:
            return try parseInlineTable(key: key, depth: depth + 1)
        case ASCII.newline, ASCII.cr, ASCII.hash:
            throw error("missing value for key '\(key)'")
        default:
            if s.matches("true") || s.matches("false") {
                let v = s.matches("true")
                s.advance(v ? 4 : 5)
                if let c = s.peek, ASCII.isBareKey(c) || c == ASCII.dot {
                    throw error("invalid value for key '\(key)' (strings must be quoted)", at: loc)
                }
                return TOMLValue(.boolean(v), at: loc)
            }
            if ASCII.isDigit(b) || b == ASCII.plus || b == ASCII.minus || b == 0x69 /* i */ || b == 0x6E /* n */ {
                return try parseNumber(key: key)
            }
            if ASCII.isLetter(b) {
                throw error("invalid value for key '\(key)': strings must be quoted (\"...\")")
            }
            throw error("expected a value for key '\(key)', found \(s.describeCurrent)")
        }
    }

    /// Reads a string after its opening quote(s) up to the end of the string, handling escapes.
    mutating func parseBasicString() throws(TOMLError) -> String {
        let start = s.location
        s.advance()  // "
        var out = String.UnicodeScalarView()
        var chunkStart = s.pos
        func flush(_ sc: Scanner, _ out: inout String.UnicodeScalarView, _ from: Int) {
            if sc.pos > from { out.append(contentsOf: String(decoding: sc.bytes[from..<sc.pos], as: UTF8.self).unicodeScalars) }
        }
        while true {
            guard let b = s.peek else { throw error("unterminated string (starts at \(start))") }
            if b == ASCII.quote {
                flush(s, &out, chunkStart)
                s.advance()
                return String(out)
            }
            if b == ASCII.newline || b == ASCII.cr {
                throw error("unterminated string (starts at \(start)); use \"\"\" for multi-line strings")
            }
            if ASCII.isForbiddenControl(b) {
                throw error("control character 0x\(hex2(b)) must be escaped in a string")
            }
            if b == ASCII.backslash {
                flush(s, &out, chunkStart)
                out.append(try parseEscape())
                chunkStart = s.pos
                continue
            }
            s.advance()
        }
    }

    /// Parses an escape sequence at the backslash; returns the scalar it stands for.
    mutating func parseEscape() throws(TOMLError) -> Unicode.Scalar {
        let loc = s.location
        s.advance()  // backslash
        guard let e = s.peek else { throw error("unterminated escape sequence", at: loc) }
        s.advance()
        switch e {
        case 0x62: return "\u{08}"  // \b
        case 0x74: return "\t"
        case 0x6E: return "\n"
        case 0x66: return "\u{0C}"  // \f
        case 0x72: return "\r"
        case 0x65: return "\u{1B}"  // \e (TOML 1.1)
        case ASCII.quote: return "\""
        case ASCII.backslash: return "\\"
        case 0x75, 0x55:  // \uXXXX, \UXXXXXXXX
            let n = e == 0x75 ? 4 : 8
            var v: UInt32 = 0
            for _ in 0..<n {
                guard let c = s.peek, let h = ASCII.hexValue(c) else {
                    throw error("\\\(e == 0x75 ? "u" : "U") escape needs \(n) hexadecimal digits", at: loc)
                }
                v = v << 4 | UInt32(h)
                s.advance()
            }
            guard let scalar = Unicode.Scalar(v) else {
                throw error("escape is not a valid Unicode scalar value", at: loc)
            }
            return scalar
        default:
            let shown = e >= 0x21 && e < 0x7F ? String(Character(Unicode.Scalar(e))) : "0x\(hex2(e))"
            throw error("invalid escape sequence '\\\(shown)'", at: loc)
        }
    }

    mutating func parseLiteralString() throws(TOMLError) -> String {
        let start = s.location
        s.advance()  // '
        let from = s.pos
        while true {
            guard let b = s.peek else { throw error("unterminated string (starts at \(start))") }
            if b == ASCII.apostrophe { break }
            if b == ASCII.newline || b == ASCII.cr {
                throw error("unterminated string (starts at \(start)); use ''' for multi-line strings")
            }
            if ASCII.isForbiddenControl(b) {
                throw error("control character 0x\(hex2(b)) is not allowed in a literal string")
            }
            s.advance()
        }
        let text = String(decoding: s.bytes[from..<s.pos], as: UTF8.self)
        s.advance()
        return text
    }

    /// Skips the newline right after an opening `"""` or `'''`, as TOML requires.
    mutating func skipFirstNewline() {
        if s.peek == ASCII.newline {
            s.advance()
        } else if s.peek == ASCII.cr && s.peek(1) == ASCII.newline {
            s.advance(2)
        }
    }

    /// At a closing delimiter run of `q`: returns how many quotes belong to the content
    /// (0...2) when the run ends the string, or nil when it does not.
    func closingRun(_ q: UInt8) -> Int? {
        var n = 0
        while s.peek(n) == q { n += 1 }
        guard n >= 3 else { return nil }
        guard n <= 5 else { return nil }
        return n - 3
    }

    mutating func parseMultilineBasicString() throws(TOMLError) -> String {
        let start = s.location
        s.advance(3)
        skipFirstNewline()
        var out = String.UnicodeScalarView()
        while true {
            guard let b = s.peek else { throw error("unterminated multi-line string (starts at \(start))") }
            if b == ASCII.quote, let extra = closingRun(ASCII.quote) {
                for _ in 0..<extra { out.append("\"") }
                s.advance(3 + extra)
                return String(out)
            }
            if b == ASCII.quote && s.matches("\"\"\"\"\"\"") {
                throw error("too many quotes in multi-line string")
            }
            if b == ASCII.backslash {
                // A backslash at the end of a line trims the newline and following whitespace.
                var k = 1
                while s.peek(k) == ASCII.space || s.peek(k) == ASCII.tab { k += 1 }
                if s.peek(k) == ASCII.newline || (s.peek(k) == ASCII.cr && s.peek(k + 1) == ASCII.newline) {
                    s.advance(k)
                    while let c = s.peek,
                        c == ASCII.space || c == ASCII.tab || c == ASCII.newline
                            || (c == ASCII.cr && s.peek(1) == ASCII.newline)
                    {
                        s.advance()
                    }
                    continue
                }
                out.append(try parseEscape())
                continue
            }
            if b == ASCII.cr && s.peek(1) == ASCII.newline {
                out.append("\n")
                s.advance(2)
                continue
            }
            if b != ASCII.newline && ASCII.isForbiddenControl(b) {
                throw error("control character 0x\(hex2(b)) must be escaped in a string")
            }
            let from = s.pos
            s.advance()
            while let c = s.peek, c & 0xC0 == 0x80 { s.advance() }
            out.append(contentsOf: String(decoding: s.bytes[from..<s.pos], as: UTF8.self).unicodeScalars)
        }
    }

    mutating func parseMultilineLiteralString() throws(TOMLError) -> String {
        let start = s.location
        s.advance(3)
        skipFirstNewline()
        var bytes: [UInt8] = []
        while true {
            guard let b = s.peek else { throw error("unterminated multi-line string (starts at \(start))") }
            if b == ASCII.apostrophe, let extra = closingRun(ASCII.apostrophe) {
                for _ in 0..<extra { bytes.append(ASCII.apostrophe) }
                s.advance(3 + extra)
                return String(decoding: bytes, as: UTF8.self)
            }
            if b == ASCII.apostrophe && s.matches("''''''") {
                throw error("too many quotes in multi-line string")
            }
            if b == ASCII.cr && s.peek(1) == ASCII.newline {
                bytes.append(ASCII.newline)
                s.advance(2)
                continue
            }
            if b != ASCII.newline && ASCII.isForbiddenControl(b) {
                throw error("control character 0x\(hex2(b)) is not allowed in a literal string")
            }
            bytes.append(b)
            s.advance()
        }
    }

    mutating func parseArray(key: String, depth: Int) throws(TOMLError) -> TOMLValue {
        let loc = s.location
        guard depth <= TOMLParser.maxNesting else { throw error("arrays and inline tables nested too deeply") }
        s.advance()  // [
        var elements: [TOMLValue] = []
        while true {
            try skipBlanksNewlinesComments()
            if s.peek == ASCII.closeBracket {
                s.advance()
                return TOMLValue(.array(elements), at: loc)
            }
            if s.peek == nil { throw error("unterminated array for key '\(key)' (starts at \(loc))") }
            elements.append(try parseValue(key: "\(key)[\(elements.count)]", depth: depth))
            try skipBlanksNewlinesComments()
            switch s.peek {
            case ASCII.comma:
                s.advance()
            case ASCII.closeBracket:
                s.advance()
                return TOMLValue(.array(elements), at: loc)
            case nil:
                throw error("unterminated array for key '\(key)' (starts at \(loc))")
            default:
                throw error("expected ',' or ']' in array '\(key)', found \(s.describeCurrent)")
            }
        }
    }

    mutating func parseInlineTable(key: String, depth: Int) throws(TOMLError) -> TOMLValue {
        let loc = s.location
        guard depth <= TOMLParser.maxNesting else { throw error("arrays and inline tables nested too deeply") }
        s.advance()  // {
        let node = TableNode(origin: .header, location: loc)
        while true {
            try skipBlanksNewlinesComments()
            if s.peek == ASCII.closeBrace {
                s.advance()
                return TOMLValue(.table(node.freeze()), at: loc)
            }
            if s.peek == nil { throw error("unterminated inline table for key '\(key)' (starts at \(loc))") }
            try parseKeyValue(into: node, depth: depth)
            try skipBlanksNewlinesComments()
            switch s.peek {
            case ASCII.comma:
                s.advance()
            case ASCII.closeBrace:
                s.advance()
                return TOMLValue(.table(node.freeze()), at: loc)
            case nil:
                throw error("unterminated inline table for key '\(key)' (starts at \(loc))")
            default:
                throw error("expected ',' or '}' in inline table '\(key)', found \(s.describeCurrent)")
            }
        }
    }

    // MARK: Numbers

    mutating func parseNumber(key: String) throws(TOMLError) -> TOMLValue {
        let loc = s.location
        let from = s.pos
        while let c = s.peek,
            ASCII.isLetter(c) || ASCII.isDigit(c) || c == ASCII.underscore || c == ASCII.plus
                || c == ASCII.minus || c == ASCII.dot || c == ASCII.colon
        {
            s.advance()
        }
        let token = Array(s.bytes[from..<s.pos])
        let text = String(decoding: token, as: UTF8.self)
        func bad(_ why: String) -> TOMLError {
            TOMLError("invalid number '\(text)' for key '\(key)': \(why)", at: loc)
        }
        if token.contains(ASCII.colon)
            || (token.count >= 5 && token[0..<4].allSatisfy(ASCII.isDigit) && token[4] == ASCII.minus)
        {
            throw TOMLError("dates and times are not supported (key '\(key)')", at: loc)
        }
        var body = token[...]
        var negative = false
        if let first = body.first, first == ASCII.plus || first == ASCII.minus {
            negative = first == ASCII.minus
            body = body.dropFirst()
        }
        let word = String(decoding: body, as: UTF8.self)
        if word == "inf" { return TOMLValue(.float(negative ? -.infinity : .infinity), at: loc) }
        if word == "nan" { return TOMLValue(.float(.nan), at: loc) }
        if body.isEmpty { throw bad("no digits") }
        if let first = body.first, ASCII.isLetter(first) {
            throw TOMLError("invalid value for key '\(key)': strings must be quoted (\"...\")", at: loc)
        }

        if body.count >= 2, body[body.startIndex] == ASCII.zero,
            let radix = [0x78: 16, 0x6F: 8, 0x62: 2][body[body.startIndex + 1]]
        {
            if token.count != body.count { throw bad("a sign is not allowed before 0x, 0o or 0b") }
            let digits = try cleanDigits(body.dropFirst(2), radix: radix, bad)
            return TOMLValue(.integer(try accumulate(digits, radix: radix, negative: false, bad)), at: loc)
        }

        let isFloat = body.contains(ASCII.dot) || body.contains(0x65) || body.contains(0x45)
        if isFloat {
            // int-part [ '.' digits ] [ (e|E) [sign] digits ]
            var i = body.startIndex
            func digitRun(_ what: String) throws(TOMLError) -> ArraySlice<UInt8> {
                let start = i
                while i < body.endIndex, ASCII.isDigit(body[i]) || body[i] == ASCII.underscore { i += 1 }
                return try cleanDigits(body[start..<i], radix: 10, bad)
            }
            let intPart = try digitRun("integer part")
            if intPart.count > 1 && intPart.first == ASCII.zero { throw bad("leading zeros are not allowed") }
            var clean = Array(intPart)
            if i < body.endIndex, body[i] == ASCII.dot {
                i += 1
                let frac = try digitRun("fraction")
                clean.append(ASCII.dot)
                clean.append(contentsOf: frac)
            }
            if i < body.endIndex, body[i] == 0x65 || body[i] == 0x45 {
                clean.append(0x65)
                i += 1
                if i < body.endIndex, body[i] == ASCII.plus || body[i] == ASCII.minus {
                    clean.append(body[i])
                    i += 1
                }
                clean.append(contentsOf: try digitRun("exponent"))
            }
            if i != body.endIndex { throw bad("unexpected characters") }
            if negative { clean.insert(ASCII.minus, at: 0) }
            guard let d = Double(String(decoding: clean, as: UTF8.self)), d.isFinite else {
                throw bad("not a representable float")
            }
            return TOMLValue(.float(d), at: loc)
        }

        let digits = try cleanDigits(body, radix: 10, bad)
        if digits.count > 1 && digits.first == ASCII.zero { throw bad("leading zeros are not allowed") }
        return TOMLValue(.integer(try accumulate(digits, radix: 10, negative: negative, bad)), at: loc)
    }

    /// Removes underscores (each must sit between two digits) and checks every digit fits the radix.
    func cleanDigits(
        _ raw: ArraySlice<UInt8>, radix: Int, _ bad: (String) -> TOMLError
    ) throws(TOMLError) -> ArraySlice<UInt8> {
        if raw.isEmpty { throw bad("missing digits") }
        var out: [UInt8] = []
        var previousWasDigit = false
        for (offset, c) in raw.enumerated() {
            if c == ASCII.underscore {
                let nextIsDigit = offset + 1 < raw.count
                    && (ASCII.hexValue(raw[raw.startIndex + offset + 1]).map { $0 < radix } ?? false)
                if !previousWasDigit || !nextIsDigit { throw bad("'_' must be between digits") }
                previousWasDigit = false
                continue
            }
            guard let v = ASCII.hexValue(c), v < radix else {
                throw bad("unexpected character '\(String(decoding: [c], as: UTF8.self))'")
            }
            out.append(c)
            previousWasDigit = true
        }
        return out[...]
    }

    func accumulate(
        _ digits: ArraySlice<UInt8>, radix: Int, negative: Bool, _ bad: (String) -> TOMLError
    ) throws(TOMLError) -> Int64 {
        var v: Int64 = 0
        for c in digits {
            let d = Int64(ASCII.hexValue(c) ?? 0)
            let (m, o1) = v.multipliedReportingOverflow(by: Int64(radix))
            // Accumulate negatively so that Int64.min is reachable.
            let (r, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { throw bad("out of the 64-bit integer range") }
            v = r
        }
        return v
    }
}
