// Decoding and validation of the configuration file: every error and warning is collected
// with its key path and line, so an operator fixes the whole file in one pass.
//
// The cross-key rules here mirror `ClusterParameters.problems()`; a configuration that
// loads without errors always yields parameters without problems (tested).

extension Configuration {
    /// Parses and validates configuration text.
    public static func load(_ text: String) -> ConfigurationLoad {
        load { () throws(TOMLError) in try TOMLParser.parse(text) }
    }

    /// Parses and validates raw file contents (invalid UTF-8 is an error).
    public static func load(bytes: [UInt8]) -> ConfigurationLoad {
        load { () throws(TOMLError) in try TOMLParser.parse(bytes: bytes) }
    }

    /// Parses and validates configuration text; throws every error at once.
    public init(parsing text: String) throws(ConfigurationErrors) {
        let result = Configuration.load(text)
        guard let c = result.configuration else {
            throw ConfigurationErrors(errors: result.errors, warnings: result.warnings)
        }
        self = c
    }

    private static func load(_ parse: () throws(TOMLError) -> TOMLTable) -> ConfigurationLoad {
        let root: TOMLTable
        do {
            root = try parse()
        } catch {
            let e = ConfigError(line: error.line, column: error.column, keyPath: "", message: error.message)
            return ConfigurationLoad(configuration: nil, errors: [e], warnings: [])
        }
        let d = ConfigDecoder()
        let config = d.decode(root)
        // Stable sort by line; problems without a line (absent tables) come last.
        func ordered<T>(_ items: [T], _ line: (T) -> Int?) -> [T] {
            items.enumerated().sorted { a, b in
                let la = line(a.element) ?? Int.max
                let lb = line(b.element) ?? Int.max
                return la != lb ? la < lb : a.offset < b.offset
            }.map(\.element)
        }
        let errors = ordered(d.diagnostics.errors, \.line)
        let warnings = ordered(d.diagnostics.warnings, \.line)
        return ConfigurationLoad(configuration: errors.isEmpty ? config : nil, errors: errors, warnings: warnings)
    }
}

// MARK: - Diagnostics and table reading

/// Collects errors and warnings while decoding.
final class Diagnostics {
    var errors: [ConfigError] = []
    var warnings: [ConfigWarning] = []

    func error(_ keyPath: String, _ line: Int?, _ message: String) {
        errors.append(ConfigError(line: line, keyPath: keyPath, message: message))
    }
    func warn(_ keyPath: String, _ line: Int?, _ message: String) {
        warnings.append(ConfigWarning(line: line, keyPath: keyPath, message: message))
    }
}

/// The state of one key after reading it.
enum Field<T> {
    /// Not in the file: the caller applies the default.
    case absent
    /// In the file but unusable; an error has been recorded.
    case invalid
    case present(T, line: Int)

    var value: T? {
        if case .present(let v, _) = self { return v }
        return nil
    }
    var line: Int? {
        if case .present(_, let l) = self { return l }
        return nil
    }
    var isPresent: Bool {
        if case .present = self { return true }
        return false
    }
    /// The value, the default when absent, nil when invalid.
    func or(_ fallback: T?) -> T? {
        switch self {
        case .absent: return fallback
        case .invalid: return nil
        case .present(let v, _): return v
        }
    }
}

/// Reads the keys of one table, remembering which keys are known, so that the rest can
/// be reported as unknown with a suggestion.
final class TableReader {
    let diagnostics: Diagnostics
    /// Key path prefix: "timing", "link[1]", "fencing.ipmi".
    let path: String
    /// How the table is named in messages: "[timing]", "[[link]] #1".
    let title: String
    let table: TOMLTable
    /// Line of the table's header, nil when the table is absent.
    let line: Int?
    private(set) var known: [String] = []

    init(_ diagnostics: Diagnostics, path: String, title: String, table: TOMLTable, line: Int?) {
        self.diagnostics = diagnostics
        self.path = path
        self.title = title
        self.table = table
        self.line = line
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
    /// The line of a key, or of the table when the key is absent.
    func line(of key: String) -> Int? { table[key]?.keyLocation.line ?? line }

    func error(_ key: String, _ message: String) { diagnostics.error(keyPath(key), line(of: key), message) }
    func warn(_ key: String, _ message: String) { diagnostics.warn(keyPath(key), line(of: key), message) }

    /// Marks `key` as known and returns its entry.
    func entry(_ key: String) -> TOMLTable.Entry? {
        if !known.contains(key) { known.append(key) }
        return table[key]
    }

    func has(_ key: String) -> Bool { table[key] != nil }

    private func typeError(_ key: String, expected: String, got v: TOMLValue) {
        var shown = ""
        switch v.kind {
        case .string(let s): shown = " \"\(escapeTOMLString(s))\""
        case .integer(let i): shown = " \(i)"
        case .float(let f): shown = " \(f)"
        case .boolean(let b): shown = " \(b)"
        case .array, .table: break
        }
        error(key, "expected \(expected), got \(v.typeName == "integer" || v.typeName == "array" ? "an" : "a") \(v.typeName)\(shown)")
    }

    func integer(_ key: String, _ range: ClosedRange<Int64>) -> Field<Int64> {
        guard let e = entry(key) else { return .absent }
        guard let i = e.value.integer else {
            typeError(key, expected: "an integer", got: e.value)
            return .invalid
        }
        guard range.contains(i) else {
            error(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(i)")
            return .invalid
        }
        return .present(i, line: e.keyLocation.line)
    }

    func string(_ key: String) -> Field<String> {
        guard let e = entry(key) else { return .absent }
        guard let s = e.value.string else {
            typeError(key, expected: "a string", got: e.value)
            return .invalid
        }
        return .present(s, line: e.keyLocation.line)
    }

    func bool(_ key: String) -> Field<Bool> {
        guard let e = entry(key) else { return .absent }
        guard let b = e.value.boolean else {
            typeError(key, expected: "true or false", got: e.value)
            return .invalid
        }
        return .present(b, line: e.keyLocation.line)
    }

    /// A string that must be one of an enumeration's raw values.
    func choice<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) -> Field<E> where E.RawValue == String {
        switch string(key) {
        case .absent: return .absent
        case .invalid: return .invalid
        case .present(let s, let l):
            if let v = E(rawValue: s) { return .present(v, line: l) }
            let options = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            error(key, "must be one of \(options), got \"\(escapeTOMLString(s))\"")
            return .invalid
        }
    }

    func stringArray(_ key: String) -> Field<[String]> {
        guard let e = entry(key) else { return .absent }
        guard let a = e.value.array else {
            typeError(key, expected: "an array of strings", got: e.value)
            return .invalid
        }
        var out: [String] = []
        for (i, v) in a.enumerated() {
            guard let s = v.string else {
                diagnostics.error(keyPath(key) + "[\(i)]", v.location.line, "expected a string, got a \(v.typeName)")
                return .invalid
            }
            out.append(s)
        }
        return .present(out, line: e.keyLocation.line)
    }

    /// A required key: records "missing" when absent.
    func required<T>(_ key: String, _ field: Field<T>) -> T? {
        if case .absent = field {
            error(key, "required key is missing from \(title)")
        }
        return field.value
    }

    /// A sub-table (`[a.b]`, or an inline table); nil when absent or not a table.
    func subtable(_ key: String, title: String? = nil) -> TableReader? {
        guard let e = entry(key) else { return nil }
        guard let t = e.value.table else {
            typeError(key, expected: "a table", got: e.value)
            return nil
        }
        return TableReader(
            diagnostics, path: keyPath(key), title: title ?? "[\(keyPath(key))]", table: t, line: e.value.location.line)
    }

    /// Reports a key of the wrong link type (and marks it as handled).
    func notApplicable(_ keys: [String], _ why: String) {
        for k in keys where has(k) {
            known.append(k)
            error(k, "'\(k)' \(why)")
        }
    }

    /// Reports every key that was never asked for, suggesting a known key when it looks like a typo.
    func finish() {
        for e in table.entries where !known.contains(e.key) {
            let isTable = e.value.table != nil
            var message = isTable ? "unknown table '\(e.key)' in \(title)" : "unknown key '\(e.key)' in \(title)"
            if path.isEmpty {
                message = isTable ? "unknown table [\(e.key)]" : "unknown top-level key '\(e.key)'"
            }
            if let s = suggestion(for: e.key) { message += " (did you mean '\(s)'?)" }
            diagnostics.error(keyPath(e.key), e.keyLocation.line, message)
        }
    }

    private func suggestion(for key: String) -> String? {
        var best: (String, Int)?
        for k in known {
            let d = editDistance(key, k)
            if d <= max(1, min(3, k.count / 3)), d < (best?.1 ?? .max) { best = (k, d) }
        }
        return best?.0
    }
}

/// Levenshtein distance between two strings (by Unicode scalar).
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.unicodeScalars)
    let y = Array(b.unicodeScalars)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    var cur = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        cur[0] = i
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[y.count]
}

// MARK: - Value rules

enum Rules {
    /// Names of nodes and links: [A-Za-z0-9_.-]{1,32}.
    static func isValidName(_ s: String) -> Bool {
        let u = s.utf8
        return (1...32).contains(u.count)
            && u.allSatisfy { ASCII.isLetter($0) || ASCII.isDigit($0) || $0 == ASCII.underscore || $0 == ASCII.minus || $0 == ASCII.dot }
    }

    /// An absolute path without control characters.
    static func isAbsolutePath(_ s: String) -> Bool {
        s.utf8.first == 0x2F && !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F })
    }

    /// A Linux network interface name: 1...15 bytes, no '/', ':' or whitespace, not "." or "..".
    static func isInterfaceName(_ s: String) -> Bool {
        let u = s.utf8
        return (1...15).contains(u.count) && s != "." && s != ".."
            && !u.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == 0x2F || $0 == ASCII.colon })
    }

    /// An environment variable name: [A-Za-z_][A-Za-z0-9_]*.
    static func isEnvironmentName(_ s: String) -> Bool {
        guard let f = s.utf8.first, ASCII.isLetter(f) || f == ASCII.underscore else { return false }
        return s.utf8.allSatisfy { ASCII.isLetter($0) || ASCII.isDigit($0) || $0 == ASCII.underscore }
    }

    /// "ADDR:PORT" with a port in 1...65535 and a non-empty address ("[v6]:PORT" for IPv6).
    /// A group name ([A-Za-z0-9_.-], not starting with '-', at most 32) or a numeric gid.
    static func isGroupName(_ s: String) -> Bool {
        let u = s.utf8
        return (1...32).contains(u.count) && u.first != ASCII.minus
            && u.allSatisfy { ASCII.isLetter($0) || ASCII.isDigit($0) || $0 == ASCII.underscore || $0 == ASCII.minus || $0 == ASCII.dot }
    }

    static func isListenAddress(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let colon = u.lastIndex(of: ASCII.colon), colon > 0 else { return false }
        let host = u[..<colon]
        let port = u[(colon + 1)...]
        guard !port.isEmpty, port.count <= 5, port.allSatisfy(ASCII.isDigit) else { return false }
        let p = port.reduce(0) { $0 * 10 + Int($1 - ASCII.zero) }
        guard (1...65535).contains(p) else { return false }
        if host.contains(ASCII.colon) {
            return host.first == ASCII.openBracket && host.last == ASCII.closeBracket && host.count > 2
        }
        return !host.contains(where: { $0 <= 0x20 || $0 == 0x7F })
    }

    static let baudRates: [Int64] = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600]

    /// Milliseconds a serial heartbeat frame occupies the wire (8N1: 10 bits per byte).
    static func serialFrameMs(baud: Int64) -> Double {
        Double(Configuration.serialFrameWireBytes * 10) * 1000 / Double(baud)
    }
}

// MARK: - The decoder

/// A timing value with where it came from, for messages about inherited values.
struct TimingSource {
    var value: Int64
    var keyPath: String
    var line: Int?
    /// nil when set in the table being checked; else how it was obtained ("from [timing]", "default").
    var origin: String?
    var own: Bool { origin == nil }
}

final class ConfigDecoder {
    let diagnostics = Diagnostics()

    func decode(_ root: TOMLTable) -> Configuration? {
        let top = TableReader(diagnostics, path: "", title: "the file", table: root, line: nil)
        func section(_ name: String) -> TableReader {
            if let r = top.subtable(name) { return r }
            return TableReader(diagnostics, path: name, title: "[\(name)]", table: TOMLTable(), line: nil)
        }

        // [node] and [peer]
        let nodeR = section("node")
        let peerR = section("peer")
        let node = decodeNode(nodeR)
        let peer = decodeNode(peerR)
        if let a = node.name, let b = peer.name, a == b {
            peerR.error("name", "must differ from node.name (\"\(a)\")")
        }
        if let a = node.id, let b = peer.id, a == b {
            peerR.error("id", "must differ from node.id (\(a))")
        }

        // [timing] and [[link]]
        let timingR = section("timing")
        let timingDefaults = decodeTimingDefaults(timingR)
        let links = decodeLinks(top, timingR: timingR, defaults: timingDefaults)
        let longestDead: Int64? =
            links.values.isEmpty || links.values.contains(where: { $0 == nil })
            ? nil : links.values.compactMap { $0?.deadtimeMs }.max()
        let timing = decodeTimers(timingR, defaults: timingDefaults, longestDeadtime: longestDead)

        // [cluster]
        let clusterR = section("cluster")
        let cluster = decodeCluster(clusterR, node: node.name, peer: peer.name, linkCount: links.values.count)

        let fencing = decodeFencing(section("fencing"))
        let watchdogR: TableReader
        let watchdog: Configuration.Watchdog?
        if let e = top.entry("watchdog"), e.value.table == nil {
            // `watchdog = "none"`: the short, explicit way to run without a hardware watchdog.
            watchdogR = TableReader(diagnostics, path: "watchdog", title: "watchdog", table: TOMLTable(), line: e.keyLocation.line)
            if e.value.string == "none" {
                watchdog = .init(device: "none")
                diagnostics.warn(
                    "watchdog", e.keyLocation.line,
                    "no hardware watchdog: a hung node cannot reset itself, only the peer's fencing protects the shared storage")
            } else {
                diagnostics.error(
                    "watchdog", e.keyLocation.line,
                    "must be \"none\" or a [watchdog] table (whose device defaults to \"/dev/watchdog\")")
                watchdog = nil
            }
        } else if top.has("watchdog") {
            watchdogR = section("watchdog")
            watchdog = decodeWatchdog(watchdogR)
        } else {
            watchdogR = section("watchdog")
            diagnostics.error(
                "watchdog", nil,
                "required: add a [watchdog] table (device defaults to \"/dev/watchdog\"), or write watchdog = \"none\" to run without a hardware watchdog")
            watchdog = nil
        }
        if let w = watchdog, !w.isDisabled, let fence = fencing {
            checkSelfFencing(w, watchdogR, fence: fence, links: links.values.compactMap { $0 }, allLinks: links.values.count,
                             minAlive: cluster?.minAliveLinks)
        }
        let realtime = decodeRealtime(section("realtime"))
        let control = decodeControl(section("control"))
        let log = decodeLog(section("log"))
        let aacR = top.subtable("aac", title: "[aac]")
        let aac = decodeAAC(aacR)

        top.finish()

        guard diagnostics.errors.isEmpty, let nodeName = node.name, let nodeID = node.id, let nodePriority = node.priority,
            let peerName = peer.name, let peerID = peer.id, let peerPriority = peer.priority,
            let timing, let cluster, let fencing, let watchdog, let realtime, let control, let log, let aac
        else { return nil }
        let resolvedLinks = links.values.compactMap { $0 }
        guard resolvedLinks.count == links.values.count else { return nil }
        return Configuration(
            cluster: cluster,
            node: .init(name: nodeName, id: nodeID, priority: nodePriority),
            peer: .init(name: peerName, id: peerID, priority: peerPriority),
            timing: timing, links: resolvedLinks, fencing: fencing, watchdog: watchdog,
            realtime: realtime, control: control, log: log, aac: aac)
    }

    // MARK: Sections

    struct NodeFields {
        var name: String?
        var id: UInt16?
        var priority: UInt8?
    }

    func decodeNode(_ r: TableReader) -> NodeFields {
        var out = NodeFields()
        if let name = r.required("name", r.string("name")) {
            if Rules.isValidName(name) {
                out.name = name
            } else {
                r.error("name", "must be 1 to 32 characters of A-Z a-z 0-9 _ . -, got \"\(escapeTOMLString(name))\"")
            }
        }
        out.id = r.required("id", r.integer("id", 1...65535)).map { UInt16($0) }
        out.priority = r.integer("priority", 0...255).or(100).map { UInt8($0) }
        r.finish()
        return out
    }

    struct TimingDefaults {
        var keepalive: TimingSource?
        var deadtime: TimingSource?
        var warntime: TimingSource?
        /// Whether deadtime/warntime were written in [timing] (else they are derived per link).
        var deadtimeExplicit: Bool
        var warntimeExplicit: Bool
    }

    static let keepaliveRange: ClosedRange<Int64> = 1...60_000
    static let deadtimeRange: ClosedRange<Int64> = 1...600_000

    func decodeTimingDefaults(_ r: TableReader) -> TimingDefaults {
        let k = r.integer("keepalive_ms", Self.keepaliveRange)
        let d = r.integer("deadtime_ms", Self.deadtimeRange)
        let w = r.integer("warntime_ms", Self.deadtimeRange)
        func src(_ key: String, _ f: Field<Int64>, _ fallback: Int64?) -> TimingSource? {
            f.or(fallback).map {
                TimingSource(value: $0, keyPath: r.keyPath(key), line: r.line(of: key), origin: f.isPresent ? nil : "default")
            }
        }
        let ks = src("keepalive_ms", k, 100)
        let ds = src("deadtime_ms", d, ks.map { $0.value * 10 })
        let ws = src("warntime_ms", w, ds.map { $0.value / 2 })
        if let ks, let ds, let ws { checkLinkTiming(keepalive: ks, deadtime: ds, warntime: ws) }
        return TimingDefaults(
            keepalive: ks, deadtime: ds, warntime: ws, deadtimeExplicit: d.isPresent, warntimeExplicit: w.isPresent)
    }

    /// Checks 2 x keepalive < deadtime and keepalive < warntime < deadtime, reporting at the
    /// key set in the table being checked (inherited values were checked with their table).
    func checkLinkTiming(keepalive k: TimingSource, deadtime d: TimingSource, warntime w: TimingSource) {
        func note(_ s: TimingSource, _ name: String) -> String {
            s.origin.map { "\(name) (\(s.value), \($0))" } ?? "\(name) (\(s.value))"
        }
        let deadtimeOK = d.value > 2 * k.value
        if !deadtimeOK {
            if d.own {
                diagnostics.error(d.keyPath, d.line, "must be more than 2 x \(note(k, "keepalive_ms")), got \(d.value)")
            } else if k.own {
                diagnostics.error(
                    k.keyPath, k.line,
                    "\(note(d, "deadtime_ms")) must be more than 2 x keepalive_ms, but keepalive_ms is \(k.value)")
            }
        }
        // A derived warntime (deadtime / 2) fails whenever the deadtime rule fails: report that once.
        if !(k.value < w.value && w.value < d.value) && (deadtimeOK || w.own) {
            if w.own {
                diagnostics.error(
                    w.keyPath, w.line,
                    "must lie strictly between \(note(k, "keepalive_ms")) and \(note(d, "deadtime_ms")), got \(w.value)")
            } else if d.own || k.own {
                let at = d.own ? d : k
                diagnostics.error(
                    at.keyPath, at.line,
                    "\(note(w, "warntime_ms")) must lie strictly between \(note(k, "keepalive_ms")) and \(note(d, "deadtime_ms"))"
                )
            }
        }
    }

    struct LinkList {
        /// One element per [[link]]; nil when that link has errors.
        var values: [Configuration.Link?]
    }

    func decodeLinks(_ top: TableReader, timingR: TableReader, defaults: TimingDefaults) -> LinkList {
        guard let e = top.entry("link") else {
            diagnostics.error("link", nil, "at least one [[link]] is required")
            return LinkList(values: [])
        }
        guard let elements = e.value.array, elements.allSatisfy({ $0.table != nil }) else {
            diagnostics.error("link", e.keyLocation.line, "links must be written as [[link]] (an array of tables)")
            return LinkList(values: [])
        }
        if elements.isEmpty { diagnostics.error("link", e.keyLocation.line, "at least one [[link]] is required") }
        if elements.count > ClusterParameters.maxLinks {
            diagnostics.error(
                "link[\(ClusterParameters.maxLinks)]", elements[ClusterParameters.maxLinks].location.line,
                "at most \(ClusterParameters.maxLinks) links are supported, \(elements.count) given")
        }
        var out: [Configuration.Link?] = []
        var names: [String: (Int, Int?)] = [:]
        var endpoints: [String: (Int, Int?)] = [:]
        for (i, v) in elements.enumerated() {
            let r = TableReader(
                diagnostics, path: "link[\(i)]", title: "[[link]] #\(i)", table: v.table ?? TOMLTable(),
                line: v.location.line)
            let link = decodeLink(r, defaults: defaults)
            if let name = link?.name ?? r.table["name"]?.value.string {
                if let (j, line) = names[name] {
                    r.error("name", "link name \"\(name)\" is already used by link[\(j)] (line \(line.map(String.init) ?? "?"))")
                } else {
                    names[name] = (i, r.line(of: "name"))
                }
            }
            if let link {
                let endpoint: String
                let key: String
                switch link.kind {
                case .ethernet(let eth):
                    endpoint = "eth \(eth.interface) \(eth.ethertype)"
                    key = "interface"
                case .serial(let s):
                    endpoint = "serial \(s.device)"
                    key = "device"
                }
                if let (j, line) = endpoints[endpoint] {
                    r.error(key, "link[\(j)] (line \(line.map(String.init) ?? "?")) already uses this \(key == "device" ? "device" : "interface and ethertype")")
                } else {
                    endpoints[endpoint] = (i, r.line(of: key))
                }
            }
            out.append(link)
        }
        return LinkList(values: out)
    }

    static let ethernetKeys = ["interface", "peer_mac", "ethertype"]
    static let serialKeys = ["device", "baud", "flow_control"]

    func decodeLink(_ r: TableReader, defaults: TimingDefaults) -> Configuration.Link? {
        var ok = true
        var name: String?
        if let n = r.required("name", r.string("name")) {
            if Rules.isValidName(n) { name = n } else {
                r.error("name", "must be 1 to 32 characters of A-Z a-z 0-9 _ . -, got \"\(escapeTOMLString(n))\"")
            }
        }
        let type = r.string("type")
        let critical = r.bool("critical").or(false)

        // Timing: own values, else [timing]; an own keepalive re-derives the defaults.
        let k = r.integer("keepalive_ms", Self.keepaliveRange)
        let d = r.integer("deadtime_ms", Self.deadtimeRange)
        let w = r.integer("warntime_ms", Self.deadtimeRange)
        func own(_ key: String, _ v: Int64) -> TimingSource {
            TimingSource(value: v, keyPath: r.keyPath(key), line: r.line(of: key), origin: nil)
        }
        func derived(_ key: String, _ v: Int64) -> TimingSource {
            TimingSource(value: v, keyPath: r.keyPath(key), line: r.line(of: key), origin: "default")
        }
        /// An inherited [timing] value: checked there, so never reported at this link.
        func inherited(_ s: TimingSource?) -> TimingSource? {
            s.map { TimingSource(value: $0.value, keyPath: $0.keyPath, line: $0.line, origin: "from [timing]") }
        }
        var ks: TimingSource?
        var ds: TimingSource?
        var ws: TimingSource?
        switch k {
        case .present(let v, _): ks = own("keepalive_ms", v)
        case .absent: ks = inherited(defaults.keepalive)
        case .invalid: ks = nil
        }
        switch d {
        case .present(let v, _): ds = own("deadtime_ms", v)
        case .invalid: ds = nil
        case .absent:
            if defaults.deadtimeExplicit || !k.isPresent { ds = inherited(defaults.deadtime) } else {
                ds = ks.map { derived("deadtime_ms", $0.value * 10) }
            }
        }
        switch w {
        case .present(let v, _): ws = own("warntime_ms", v)
        case .invalid: ws = nil
        case .absent:
            if defaults.warntimeExplicit || (!k.isPresent && !d.isPresent) { ws = inherited(defaults.warntime) } else {
                ws = ds.map { derived("warntime_ms", $0.value / 2) }
            }
        }
        if let ks, let ds, let ws {
            checkLinkTiming(keepalive: ks, deadtime: ds, warntime: ws)
        } else {
            ok = false
        }

        var kind: Configuration.LinkKind?
        switch type {
        case .absent:
            r.error("type", "required key is missing from \(r.title): set \"ethernet\" or \"serial\"")
        case .invalid:
            break
        case .present("ethernet", _):
            r.notApplicable(Self.serialKeys, "does not apply to an ethernet link")
            kind = decodeEthernet(r).map { .ethernet($0) }
        case .present("serial", _):
            r.notApplicable(Self.ethernetKeys, "does not apply to a serial link")
            kind = decodeSerial(r, keepalive: ks).map { .serial($0) }
        case .present(let other, _):
            r.error("type", "must be one of \"ethernet\", \"serial\", got \"\(escapeTOMLString(other))\"")
            // Mark the type-specific keys as known so they are not reported as unknown too.
            for key in Self.ethernetKeys + Self.serialKeys { _ = r.entry(key) }
        }
        r.finish()
        guard ok, let name, let critical, let kind, let ks, let ds, let ws else { return nil }
        return Configuration.Link(
            name: name, critical: critical, keepaliveMs: ks.value, deadtimeMs: ds.value, warntimeMs: ws.value, kind: kind)
    }

    func decodeEthernet(_ r: TableReader) -> Configuration.Ethernet? {
        var interface: String?
        if let s = r.required("interface", r.string("interface")) {
            if Rules.isInterfaceName(s) { interface = s } else {
                r.error("interface", "must be an interface name of 1 to 15 characters without '/', ':' or whitespace, got \"\(escapeTOMLString(s))\"")
            }
        }
        var peer: Configuration.PeerAddress?
        if let s = r.required("peer_mac", r.string("peer_mac")) {
            if s == "broadcast" {
                peer = .broadcast
            } else if let mac = MACAddress(s) {
                if mac.isBroadcast {
                    peer = .broadcast
                } else if mac.isZero || mac.isMulticast {
                    r.error("peer_mac", "\(mac) is not a station address; give the peer's unicast MAC or \"broadcast\"")
                } else {
                    peer = .mac(mac)
                }
            } else {
                r.error("peer_mac", "must be a MAC address like \"52:54:00:12:34:56\" (six hex pairs separated by ':' or '-') or \"broadcast\", got \"\(escapeTOMLString(s))\"")
            }
        }
        var ethertype = r.integer("ethertype", 0...0xFFFF)
        if case .present(let v, _) = ethertype, v < 0x0600 {
            r.error("ethertype", "must be at least 0x0600 (smaller values are frame lengths, not EtherTypes), got 0x\(hex2(UInt8(v >> 8)))\(hex2(UInt8(v & 0xFF)))")
            ethertype = .invalid
        }
        guard let interface, let peer, let et = ethertype.or(0x88B5) else { return nil }
        return .init(interface: interface, peer: peer, ethertype: UInt16(et))
    }

    func decodeSerial(_ r: TableReader, keepalive: TimingSource?) -> Configuration.Serial? {
        var device: String?
        if let s = r.required("device", r.string("device")) {
            if Rules.isAbsolutePath(s) { device = s } else {
                r.error("device", "must be an absolute path such as \"/dev/ttyS1\", got \"\(escapeTOMLString(s))\"")
            }
        }
        var baud: Int64?
        switch r.integer("baud", Int64.min...Int64.max) {
        case .absent: baud = 115_200
        case .invalid: break
        case .present(let b, _):
            if Rules.baudRates.contains(b) { baud = b } else if b < 9600 || b > 921_600 {
                r.error("baud", "must be between 9600 and 921600 (one of \(Rules.baudRates.map(String.init).joined(separator: ", "))), got \(b)")
            } else {
                r.error("baud", "must be one of \(Rules.baudRates.map(String.init).joined(separator: ", ")), got \(b)")
            }
        }
        let flow = r.bool("flow_control").or(false)
        if let baud, let keepalive {
            let frameMs = Rules.serialFrameMs(baud: baud)
            if frameMs * 2 > Double(keepalive.value) {
                let at = r.has("baud") ? "baud" : (r.has("keepalive_ms") ? "keepalive_ms" : "type")
                let shown = (frameMs * 10).rounded() / 10
                r.warn(
                    at,
                    "a heartbeat frame (~\(Configuration.serialFrameWireBytes) bytes) takes \(shown) ms at \(baud) baud, more than half the keepalive (\(keepalive.value) ms); raise the baud rate or the keepalive"
                )
            }
        }
        guard let device, let baud, let flow else { return nil }
        return .init(device: device, baud: Int(baud), flowControl: flow)
    }

    func decodeTimers(_ r: TableReader, defaults: TimingDefaults, longestDeadtime: Int64?) -> Configuration.Timing? {
        let hour: ClosedRange<Int64> = 1...3_600_000
        let startup = r.integer("startup_timeout_ms", hour)
        let sync = r.integer("sync_timeout_ms", 0...3_600_000)
        let takeover = r.integer("takeover_timeout_ms", hour)
        let stall = r.integer("stall_threshold_ms", 1...60_000)
        let grace = r.integer("stall_grace_ms", 0...60_000)
        r.finish()
        var startupMs = startup.or(longestDeadtime.map { max(5000, 2 * $0) })
        if let s = startup.value, let dead = longestDeadtime, s < dead {
            r.error("startup_timeout_ms", "must be at least the longest deadtime (\(dead)), got \(s)")
            startupMs = nil
        }
        if case .invalid = stall { return nil }
        if case .invalid = grace { return nil }
        guard let startupMs, let keepalive = defaults.keepalive, let deadtime = defaults.deadtime,
            let warntime = defaults.warntime, let syncMs = sync.or(10_000), let takeoverMs = takeover.or(longestDeadtime)
        else { return nil }
        return .init(
            keepaliveMs: keepalive.value, deadtimeMs: deadtime.value, warntimeMs: warntime.value,
            startupTimeoutMs: startupMs, syncTimeoutMs: syncMs, takeoverTimeoutMs: takeoverMs,
            stallThresholdMs: stall.value, stallGraceMs: grace.value)
    }

    func decodeCluster(_ r: TableReader, node: String?, peer: String?, linkCount: Int) -> Configuration.Cluster? {
        let id = r.required("id", r.integer("id", 1...Int64(UInt32.max)))
        var keyFile: String?
        switch r.string("key_file") {
        case .absent: keyFile = "/etc/shaolin/cluster.key"
        case .invalid: keyFile = nil
        case .present(let s, _):
            if Rules.isAbsolutePath(s) { keyFile = s } else {
                r.error("key_file", "must be an absolute path, got \"\(escapeTOMLString(s))\"")
            }
        }
        let bootOrder = r.choice("boot_order", BootOrder.self).or(.ascending)
        var preferred: String? = ""
        switch r.string("preferred_node") {
        case .absent: break
        case .invalid: preferred = nil
        case .present(let s, _):
            if s.isEmpty || s == node || s == peer {
                preferred = s
            } else {
                preferred = nil
                let names = [node, peer].compactMap { $0 }.map { "\"\($0)\"" }.joined(separator: " or ")
                r.error("preferred_node", "must be \"\" (none) or the name of a node (\(names)), got \"\(escapeTOMLString(s))\"")
            }
        }
        let failback = r.integer("failback_delay_ms", 0...86_400_000).or(10_000)
        var minAlive = r.integer("min_alive_links", Int64.min...Int64.max).or(1)
        if let m = minAlive, m < 1 || (linkCount > 0 && m > Int64(linkCount)) {
            r.error("min_alive_links", "must be between 1 and the number of links (\(linkCount)), got \(m)")
            minAlive = nil
        }
        r.finish()
        guard let id, let keyFile, let bootOrder, let preferred, let failback, let minAlive else { return nil }
        return .init(
            id: UInt32(id), keyFile: keyFile, bootOrder: bootOrder, preferredNode: preferred,
            failbackDelayMs: failback, minAliveLinks: Int(minAlive))
    }

    func decodeFencing(_ r: TableReader) -> Configuration.Fencing? {
        var methods: [Configuration.FenceMethod]? = [.manual]
        switch r.stringArray("methods") {
        case .absent: break
        case .invalid: methods = nil
        case .present(let names, _):
            var list: [Configuration.FenceMethod] = []
            for n in names {
                if let m = Configuration.FenceMethod(rawValue: n) {
                    if list.contains(m) {
                        r.error("methods", "method \"\(n)\" is listed twice")
                        methods = nil
                    }
                    list.append(m)
                } else {
                    let options = Configuration.FenceMethod.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                    r.error("methods", "unknown fence method \"\(escapeTOMLString(n))\"; use \(options)")
                    methods = nil
                }
            }
            if list.isEmpty {
                r.error("methods", "must list at least one method (\"manual\" means an operator confirms the fence)")
                methods = nil
            }
            if methods != nil { methods = list }
        }
        let race = r.integer("race_delay_ms", 0...600_000).or(5000)
        let retryInitial = r.integer("retry_initial_ms", 1...3_600_000)
        var retryMax = r.integer("retry_max_ms", 1...3_600_000).or(30_000)
        if let i = retryInitial.or(1000), let m = retryMax, m < i {
            let at = r.has("retry_max_ms") ? "retry_max_ms" : "retry_initial_ms"
            r.error(at, "retry_max_ms (\(m)) must be at least retry_initial_ms (\(i))")
            retryMax = nil
        }

        let ipmiR = r.subtable("ipmi", title: "[fencing.ipmi]")
        let agentR = r.subtable("agent", title: "[fencing.agent]")
        let commandR = r.subtable("command", title: "[fencing.command]")
        let ipmi = ipmiR.flatMap(decodeIPMI)
        let agent = agentR.flatMap(decodeAgent)
        let command = commandR.flatMap(decodeCommand)
        let tables: [(Configuration.FenceMethod, String, TableReader?)] = [
            (.ipmi, "ipmi", ipmiR), (.fenceAgent, "agent", agentR), (.command, "command", commandR),
        ]
        for (method, key, reader) in tables {
            let listed = methods?.contains(method) ?? true
            if listed && reader == nil && methods != nil {
                r.error("methods", "method \"\(method.rawValue)\" needs a [fencing.\(key)] table")
            } else if !listed && reader != nil {
                r.warn(key, "[fencing.\(key)] is configured but \"\(method.rawValue)\" is not in fencing.methods, so it is not used")
            }
        }
        if methods == [.manual] {
            r.warn("methods", "only manual fencing: after a failure the standby waits for an operator to confirm the peer is off")
        }
        r.finish()
        if ipmiR != nil && ipmi == nil { return nil }
        if agentR != nil && agent == nil { return nil }
        if commandR != nil && command == nil { return nil }
        guard let methods, let race, let initial = retryInitial.or(1000), let retryMax else { return nil }
        return .init(
            methods: methods, raceDelayMs: race, retryInitialMs: initial, retryMaxMs: retryMax,
            ipmi: ipmi, agent: agent, command: command)
    }

    func decodeIPMI(_ r: TableReader) -> Configuration.IPMI? {
        var host = r.required("host", r.string("host"))
        if host == "" {
            r.error("host", "must not be empty")
            host = nil
        }
        let port = r.integer("port", 1...65535).or(623)
        var user = r.required("user", r.string("user"))
        if user == "" {
            r.error("user", "must not be empty")
            user = nil
        }
        var ok = true
        var file = r.string("password_file").or("")
        var env = r.string("password_env").or("")
        if let f = file, !f.isEmpty, !Rules.isAbsolutePath(f) {
            r.error("password_file", "must be an absolute path, got \"\(escapeTOMLString(f))\"")
            file = nil
        }
        if let e = env, !e.isEmpty, !Rules.isEnvironmentName(e) {
            r.error("password_env", "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), got \"\(escapeTOMLString(e))\"")
            env = nil
        }
        if let f = file, let e = env {
            if f.isEmpty && e.isEmpty {
                r.error("password_file", "set password_file or password_env (the IPMI password is never written in this file)")
                ok = false
            } else if !f.isEmpty && !e.isEmpty {
                r.error("password_env", "set only one of password_file and password_env")
                ok = false
            }
        }
        let cipher = r.integer("cipher_suite", 0...17).or(3)
        let privilege = r.choice("privilege", Configuration.IPMIPrivilege.self).or(.admin)
        let action = r.choice("action", Configuration.IPMIAction.self).or(.off)
        let timeout = r.integer("timeout_ms", 1...600_000).or(5000)
        let retries = r.integer("retries", 0...10).or(2)
        let power = r.integer("power_timeout_ms", 1...600_000).or(20_000)
        if action == .reset || action == .cycle {
            r.warn("action", "\"\(action?.rawValue ?? "")\" lets the peer boot again at once; \"off\" keeps it down until an operator acts")
        }
        r.finish()
        guard ok, let host, let port, let user, let file, let env, let cipher, let privilege, let action, let timeout,
            let retries, let power
        else { return nil }
        return .init(
            host: host, port: UInt16(port), user: user, passwordFile: file.isEmpty ? nil : file,
            passwordEnv: env.isEmpty ? nil : env, cipherSuite: Int(cipher), privilege: privilege, action: action,
            timeoutMs: timeout, retries: Int(retries), powerTimeoutMs: power)
    }

    func decodeAgent(_ r: TableReader) -> Configuration.FenceAgent? {
        var path = r.required("path", r.string("path"))
        if let p = path, !Rules.isAbsolutePath(p) {
            r.error("path", "must be an absolute path, got \"\(escapeTOMLString(p))\"")
            path = nil
        }
        var options: [Configuration.AgentOption]? = []
        if let o = r.subtable("options", title: "[fencing.agent.options]") {
            for e in o.table.entries {
                _ = o.entry(e.key)
                if let v = e.value.string {
                    options?.append(.init(name: e.key, value: v))
                } else {
                    o.error(e.key, "fence agent options must be strings, got a \(e.value.typeName)")
                    options = nil
                }
            }
        } else if r.has("options") {
            options = nil
        }
        let timeout = r.integer("timeout_ms", 1...3_600_000).or(30_000)
        r.finish()
        guard let path, let options, let timeout else { return nil }
        return .init(path: path, options: options, timeoutMs: timeout)
    }

    func decodeCommand(_ r: TableReader) -> Configuration.FenceCommand? {
        var path = r.required("path", r.string("path"))
        if let p = path, !Rules.isAbsolutePath(p) {
            r.error("path", "must be an absolute path, got \"\(escapeTOMLString(p))\"")
            path = nil
        }
        let args = r.stringArray("args").or([])
        let timeout = r.integer("timeout_ms", 1...3_600_000).or(30_000)
        r.finish()
        guard let path, let args, let timeout else { return nil }
        return .init(path: path, args: args, timeoutMs: timeout)
    }

    func decodeWatchdog(_ r: TableReader) -> Configuration.Watchdog? {
        var device: String?
        switch r.string("device") {
        case .absent: device = Configuration.Watchdog.defaultDevice
        case .invalid: break
        case .present(let s, _):
            if s == "none" {
                device = s
                r.warn("device", "no hardware watchdog: a hung node cannot reset itself, only the peer's fencing protects the shared storage")
            } else if Rules.isAbsolutePath(s) {
                device = s
            } else {
                r.error("device", "must be an absolute device path or \"none\", got \"\(escapeTOMLString(s))\"")
            }
        }
        let timeout = r.integer("timeout_s", 1...600).or(10)
        // Defaults shrink with short timeouts: slack at most half, pets at most a quarter of it.
        let tMs = (timeout ?? 10) * 1000
        var slack = r.integer("slack_ms", 1...600_000).or(min(1000, tMs / 2))
        let slow = r.integer("slow_side_timeout_ms", 10...600_000).or(3000)
        var pet = r.integer("pet_interval_ms", 1...600_000).or(min(1000, tMs / 4))
        if let t = timeout, let s = slack, s >= t * 1000 {
            r.error("slack_ms", "must be less than timeout_s x 1000 (\(t * 1000)), got \(s): a loop that late never pets in time")
            slack = nil
        }
        if let t = timeout, let p = pet, p * 2 > t * 1000 {
            r.error("pet_interval_ms", "must be at most half of timeout_s x 1000 (\(t * 500)), got \(p)")
            pet = nil
        }
        r.finish()
        guard let device, let timeout, let slack, let slow, let pet else { return nil }
        return .init(device: device, timeoutS: Int(timeout), slackMs: slack, slowSideTimeoutMs: slow, petIntervalMs: pet)
    }

    /// The timeout relation (docs/watchdog.md): a node whose engine hangs must be reset by
    /// its watchdog before the peer can have declared it dead and fenced it, wherever the
    /// design relies on self-fencing. The earliest moment the peer can declare a hung node
    /// dead is one keepalive before the peer-dead rule fires (its last heartbeat may have
    /// left one keepalive before it hung); the fence time is the first level's bound.
    ///
    /// A `command` level's confirmation is not a power reading the engine can check, so
    /// there the watchdog is what guarantees a hung node stops: violating the relation is
    /// an error. With `ipmi`/`fence-agent` a BMC powers the peer off anyway (a warning:
    /// the watchdog is the second line); `manual` has no bound (the operator must wait).
    func checkSelfFencing(_ w: Configuration.Watchdog, _ r: TableReader, fence: Configuration.Fencing,
                          links: [Configuration.Link], allLinks: Int, minAlive: Int?) {
        guard links.count == allLinks, !links.isEmpty, let first = fence.methods.first else { return }
        let sorted = links.map(\.deadtimeMs).sorted()
        var peerDead = sorted[max(0, min(sorted.count - 1, sorted.count - (minAlive ?? 1)))]
        for l in links where l.critical { peerDead = min(peerDead, l.deadtimeMs) }
        let keepalive = links.map(\.keepaliveMs).max() ?? 0
        let watchdogMs = Int64(w.timeoutS) * 1000
        let fenceMs: Int64? =
            switch first {
            case .ipmi: fence.ipmi?.powerTimeoutMs
            case .fenceAgent: fence.agent?.timeoutMs
            case .command: fence.command?.timeoutMs
            case .manual: nil
            }
        // Manual: no bound to check; the engine's FENCE_MANUAL message tells the operator to
        // wait at least the watchdog timeout unless the peer is verified powered off.
        guard let fenceMs else { return }
        guard watchdogMs + keepalive >= peerDead + fenceMs else { return }
        let text =
            "watchdog timeout (\(watchdogMs) ms) + keepalive (\(keepalive) ms) must be less than the peer's deadtime "
            + "(\(peerDead) ms, after which the peer declares a hung node dead) + the \"\(first.rawValue)\" fence time "
            + "(\(fenceMs) ms): otherwise a hung node may still be running when the peer takes over"
        if first == .command {
            r.error("timeout_s", text + " (a fence command's success is not a power reading: the watchdog is what stops a hung node)")
        } else {
            r.warn("timeout_s", text)
        }
    }

    func decodeRealtime(_ r: TableReader) -> Configuration.Realtime? {
        let enabled = r.bool("enabled").or(true)
        let priority = r.integer("priority", 1...98).or(50)
        let cpu = r.integer("cpu", -1...4095).or(-1)
        let mlock = r.bool("mlock").or(true)
        let degraded = r.bool("allow_degraded").or(false)
        let wakeOnFrames = r.bool("wake_on_frames").or(false)
        r.finish()
        guard let enabled, let priority, let cpu, let mlock, let degraded, let wakeOnFrames else { return nil }
        return .init(enabled: enabled, priority: Int(priority), cpu: Int(cpu), mlock: mlock, allowDegraded: degraded,
                     wakeOnFrames: wakeOnFrames)
    }

    func decodeControl(_ r: TableReader) -> Configuration.Control? {
        var socket = r.string("socket").or("/run/shaolin/control.sock")
        if let s = socket, !Rules.isAbsolutePath(s) {
            r.error("socket", "must be an absolute path, got \"\(escapeTOMLString(s))\"")
            socket = nil
        }
        var tcp = r.string("tcp_listen").or("")
        if let t = tcp, !t.isEmpty, !Rules.isListenAddress(t) {
            r.error("tcp_listen", "must be \"\" (off) or \"ADDR:PORT\" such as \"192.168.1.10:7650\" or \"[::1]:7650\", got \"\(escapeTOMLString(t))\"")
            tcp = nil
        }
        var group = r.string("group").or("")
        if let g = group, !g.isEmpty, !Rules.isGroupName(g) {
            r.error("group", "must be \"\" (root only), a group name or a numeric gid, got \"\(escapeTOMLString(g))\"")
            group = nil
        }
        r.finish()
        guard let socket, let tcp, let group else { return nil }
        return .init(socket: socket, tcpListen: tcp, group: group)
    }

    func decodeLog(_ r: TableReader) -> Configuration.Log? {
        let target = r.choice("target", Configuration.LogTarget.self).or(.auto)
        let level = r.choice("level", Configuration.LogLevel.self).or(.info)
        r.finish()
        guard let target, let level else { return nil }
        return .init(target: target, level: level)
    }
}
