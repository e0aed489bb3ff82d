// What to tell the operator about a hardware watchdog beyond the ioctls: who holds a busy
// device (scanning /proc/*/fd) and whether the driver is `nowayout` (sysfs). Start-up only:
// these read directories and allocate freely. The roots are parameters so tests can point
// them at a fake tree.
import Glibc

/// A process that has a watchdog device open.
public struct WatchdogHolder: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    /// `/proc/PID/comm` (the command name, at most 15 bytes).
    public var command: String
    /// The device it holds, as the kernel names it (e.g. "/dev/watchdog0").
    public var device: String

    public init(pid: Int32, command: String, device: String) {
        self.pid = pid
        self.command = command
        self.device = device
    }

    /// "PID 1 (systemd) holds /dev/watchdog0: systemd's RuntimeWatchdogSec= …".
    public var description: String {
        var s = "PID \(pid) (\(command)) holds \(device)"
        if pid == 1 || command == "systemd" {
            s += ": systemd's RuntimeWatchdogSec= (or RebootWatchdogSec=) in /etc/systemd/system.conf; set it to 0/off so shaolind can own the watchdog"
        } else if command == "watchdog" || command == "wd_keepalive" {
            s += ": the watchdog daemon; stop and disable it (systemctl disable --now \(command))"
        } else if command == "shaolind" {
            s += ": another shaolind"
        }
        return s
    }
}

/// Where a `nowayout` setting was found.
public struct WatchdogNowayout: Sendable, Equatable, CustomStringConvertible {
    /// The sysfs file that says so.
    public var source: String
    public var description: String { source }
}

public enum WatchdogDiagnostics {
    /// Every process with a `/dev/watchdog*` open. Processes whose descriptors cannot be
    /// read (other users, a process that just exited) are skipped.
    ///
    /// The corresponding C functions are `opendir`, `readdir` and `readlink`.
    public static func holders(procRoot: String = "/proc") -> [WatchdogHolder] {
        var out: [WatchdogHolder] = []
        for entry in listDirectory(procRoot) {
            guard let pid = Int32(entry), pid > 0 else { continue }
            let fdDir = "\(procRoot)/\(entry)/fd"
            for fd in listDirectory(fdDir) {
                guard let target = readLink("\(fdDir)/\(fd)"), isWatchdogPath(target) else { continue }
                let comm = readSmallFile("\(procRoot)/\(entry)/comm").map(trimmed) ?? "?"
                let holder = WatchdogHolder(pid: pid, command: comm, device: target)
                if !out.contains(holder) { out.append(holder) }
            }
        }
        return out.sorted { $0.pid < $1.pid }
    }

    /// True for `/dev/watchdog` and `/dev/watchdogN` (the legacy node and the numbered node
    /// share one "open" flag in the kernel: holding either makes the other busy).
    public static func isWatchdogPath(_ path: String) -> Bool {
        guard path.hasPrefix("/dev/watchdog") else { return false }
        let rest = path.dropFirst("/dev/watchdog".count)
        return rest.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Sysfs files saying a watchdog cannot be stopped once opened: a driver attribute
    /// `class/watchdog/*/nowayout` = 1, or a module parameter `module/*/parameters/nowayout`
    /// = Y/1 of a module that has a watchdog device (or, when none can be matched, any
    /// module whose name looks like a watchdog driver).
    public static func nowayout(sysRoot: String = "/sys") -> [WatchdogNowayout] {
        var out: [WatchdogNowayout] = []
        let classDir = "\(sysRoot)/class/watchdog"
        for dev in listDirectory(classDir) {
            let f = "\(classDir)/\(dev)/nowayout"
            if let v = readSmallFile(f).map(trimmed), v == "1" || v == "Y" { out.append(WatchdogNowayout(source: f)) }
        }
        let moduleDir = "\(sysRoot)/module"
        for module in listDirectory(moduleDir) {
            let f = "\(moduleDir)/\(module)/parameters/nowayout"
            guard let v = readSmallFile(f).map(trimmed), v == "1" || v == "Y" else { continue }
            out.append(WatchdogNowayout(source: f))
        }
        return out
    }

    // MARK: - Small helpers (start-up only)

    static func listDirectory(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw -> String in
                let end = raw.firstIndex(of: 0) ?? raw.count
                return String(decoding: raw[..<end], as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func readSmallFile(_ path: String) -> String? {
        var fd: CInt
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        var n: Int
        repeat { n = read(fd, &buffer, buffer.count) } while n < 0 && errno == EINTR
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    static func trimmed(_ s: String) -> String {
        var s = Substring(s)
        while let l = s.last, l == "\n" || l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
