// The configuration editor's back end: read the engine's configuration file, validate new
// text with the engine's own validator (`Configuration.load(bytes:)`, the code shaolind
// runs at start-up and on reload), show what would change, save atomically, and apply:
// reload on the node when it is ACTIVE (through its control socket) and rebuild the boot
// image (initramfs) that the node's next boot — as STANDBY — starts from.
import Glibc
import ShaolinControlClient
import ShaolinCore
import ShaolinLinux

public struct ConfigCheck: Sendable {
    public var errors: [ConfigError]
    public var warnings: [ConfigWarning]
    public var diff: [LineDiff.Line?]
    public var valid: Bool { errors.isEmpty }

    public var json: JSONValue {
        func item(_ line: Int?, _ key: String, _ message: String, _ text: String) -> JSONValue {
            .object([("line", line.map { .int(Int64($0)) } ?? .null), ("key", .string(key)), ("message", .string(message)), ("text", .string(text))])
        }
        return .object([
            ("valid", .bool(valid)),
            ("errors", .array(errors.map { item($0.line, $0.keyPath, $0.message, $0.description) })),
            ("warnings", .array(warnings.map { item($0.line, $0.keyPath, $0.message, $0.description) })),
            ("diff", ConfigEditor.diffJSON(diff)),
        ])
    }
}

public enum ConfigEditorError: Error, Sendable, CustomStringConvertible {
    case notConfigured
    case unreadable(String)
    case invalid(ConfigCheck)
    /// The file changed on disk since the editor loaded it.
    case conflict
    case writeFailed(String)

    public var description: String {
        switch self {
        case .notConfigured: "no engine configuration file is configured ([engine] config_file in shaolin-web's config)"
        case .unreadable(let m): m
        case .invalid(let c): "the configuration has \(c.errors.count) error(s); nothing was saved"
        case .conflict: "the file was changed by someone else since you loaded it; reload the editor and redo your change"
        case .writeFailed(let m): m
        }
    }
}

public struct ConfigEditor: Sendable {
    public let path: String?
    public let initramfsCommand: [String]

    public init(path: String?, initramfsCommand: [String]) {
        self.path = path
        self.initramfsCommand = initramfsCommand
    }

    public static let maxFileBytes = 1 << 20

    /// The file's text and its SHA-256 (hex), which a save must quote back.
    public func read() throws(ConfigEditorError) -> (text: String, hash: String) {
        guard let path else { throw .notConfigured }
        guard let bytes = readWholeFile(path, limit: Self.maxFileBytes) else {
            throw .unreadable("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        return (String(decoding: bytes, as: UTF8.self), Hex.encode(sha256(bytes)))
    }

    /// Validates `text` with the engine's validator and diffs it against the file.
    public func check(_ text: String) -> ConfigCheck {
        let load = Configuration.load(bytes: Array(text.utf8))
        let old = (try? read().text) ?? ""
        return ConfigCheck(errors: load.errors, warnings: load.warnings, diff: LineDiff.hunks(old: old, new: text))
    }

    /// Validates, checks that the file is still what the operator edited (`baseHash`), and
    /// replaces it atomically (temporary file, fsync, rename; same mode). The previous
    /// version is kept as `<file>.prev`.
    public func save(_ text: String, baseHash: String) throws(ConfigEditorError) -> ConfigCheck {
        guard let path else { throw .notConfigured }
        let result = check(text)
        guard result.valid else { throw .invalid(result) }
        let current = try read()
        guard current.hash == baseHash else { throw .conflict }
        var st = stat()
        let mode: mode_t = stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0o644
        let tmp = path + ".shaolin-web.tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .writeFailed("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = String(cString: strerror(errno))
                close(fd); unlink(tmp)
                throw .writeFailed("cannot write \(tmp): \(e)")
            }
            off += n
        }
        _ = fchmod(fd, mode)
        guard fsync(fd) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd); unlink(tmp)
            throw .writeFailed("cannot flush \(tmp): \(e)")
        }
        close(fd)
        // Keep the previous version beside it (best effort).
        let prev = path + ".prev"
        unlink(prev)
        _ = link(path, prev)
        guard rename(tmp, path) == 0 else {
            let e = String(cString: strerror(errno))
            unlink(tmp)
            throw .writeFailed("cannot replace \(path): \(e)")
        }
        return result
    }

    /// One step of "apply" and how it went.
    public struct Step: Sendable {
        public var name: String
        public var ok: Bool
        public var skipped: Bool
        public var message: String
        public var details: [String]
        public var json: JSONValue {
            .object([("step", .string(name)), ("ok", .bool(ok)), ("skipped", .bool(skipped)),
                     ("message", .string(message)), ("details", .array(details.map { .string($0) }))])
        }
    }

    /// Reloads the node when it is ACTIVE and rebuilds the boot image.
    /// Blocking: run it with `Blocking.run`.
    public func apply(node: WebConfig.Node?, role: String?) -> [Step] {
        var steps: [Step] = []
        if let node {
            if role == "ACTIVE" {
                do {
                    let r = try ControlChannel.once(node, .reload(dryRun: false))
                    var details = (r["changed_live"]?.arrayValue ?? []).compactMap(\.stringValue).map { "applied live: \($0)" }
                    details += (r["restart_required"]?.arrayValue ?? []).compactMap(\.stringValue).map { "needs an engine restart: \($0)" }
                    details += (r["warnings"]?.arrayValue ?? []).compactMap(\.stringValue)
                    steps.append(Step(name: "reload \(node.name)", ok: true, skipped: false,
                                      message: "\(node.name) (ACTIVE) reloaded its configuration", details: details))
                } catch {
                    steps.append(Step(name: "reload \(node.name)", ok: false, skipped: false,
                                      message: "\(node.name) refused the reload: \(error.message)", details: error.details))
                }
            } else {
                steps.append(Step(name: "reload \(node.name)", ok: true, skipped: true,
                                  message: "\(node.name) is \(role ?? "unreachable"), not ACTIVE: no live reload; it uses the new file from its next boot", details: []))
            }
        }
        guard let exe = initramfsCommand.first else {
            steps.append(Step(name: "initramfs", ok: true, skipped: true, message: "no initramfs command configured", details: []))
            return steps
        }
        let options = SpawnOptions(executable: exe, arguments: Array(initramfsCommand.dropFirst()),
                                   environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"],
                                   timeoutMilliseconds: 600_000, outputLimit: 16_384)
        let cmd = initramfsCommand.joined(separator: " ")
        do {
            let r = try ProcessSpawn.run(options)
            let tail = (r.errorText + r.outputText).split(separator: "\n").suffix(8).map(String.init)
            let ok = r.termination == .exited(0)
            steps.append(Step(name: "initramfs", ok: ok, skipped: false,
                              message: ok ? "boot image rebuilt (\(cmd), \(Int(r.durationMilliseconds)) ms)"
                                          : "\(cmd) failed: \(r.timedOut ? "timed out" : r.termination.description)",
                              details: tail))
        } catch {
            steps.append(Step(name: "initramfs", ok: false, skipped: false, message: "cannot run \(cmd): \(error)", details: []))
        }
        return steps
    }

    static func diffJSON(_ hunks: [LineDiff.Line?]) -> JSONValue {
        .array(hunks.map { l in
            guard let l else { return .null }
            return .object([("kind", .string(l.kind.rawValue)), ("text", .string(l.text)),
                            ("old", l.oldLine.map { .int(Int64($0)) } ?? .null), ("new", l.newLine.map { .int(Int64($0)) } ?? .null)])
        })
    }
}

extension Error {
    var details: [String] { (self as? ControlFailure)?.details ?? [] }
}
