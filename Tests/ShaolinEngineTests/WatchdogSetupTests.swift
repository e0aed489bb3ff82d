// Watchdog start-up: refusing what is not a watchdog (real files), explaining EBUSY and
// nowayout (fake /proc and /sys trees: this machine has no watchdog device, so no real
// holder can exist), and shaolind refusing to start with a message naming the key.
import Foundation
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import Testing

@Suite struct WatchdogSetupTests {
    let log = EventLog(node: "test", target: "stderr", level: "error")

    func startupError(_ device: String) -> String? {
        do throws(StartupError) {
            let (dog, _) = try WatchdogSetup.open(.init(device: device), log: log)
            _ = dog.disarmAndClose()
            return nil
        } catch {
            return error.description
        }
    }

    @Test func whatIsNotAWatchdogIsRefusedNamingTheKey() throws {
        let null = try #require(startupError("/dev/null"))
        #expect(null.hasPrefix("watchdog.device: "))
        #expect(null.contains("not a watchdog"))
        let dir = try TestSystem.makeTempDirectory("shaolin-wdt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestSystem.write("x", to: dir + "/file")
        #expect(try #require(startupError(dir + "/file")).contains("is not a character device"))
        let missing = try #require(startupError(dir + "/watchdog"))
        #expect(missing.contains("not found") && missing.contains("watchdog = \"none\""))
    }

    @Test func busyDeviceHoldersAreFoundInProc() throws {
        let root = try TestSystem.makeTempDirectory("shaolin-proc")
        defer { try? FileManager.default.removeItem(atPath: root) }
        func process(_ pid: String, _ comm: String, _ fds: [String: String]) throws {
            try FileManager.default.createDirectory(atPath: "\(root)/\(pid)/fd", withIntermediateDirectories: true)
            try TestSystem.write(comm + "\n", to: "\(root)/\(pid)/comm")
            for (fd, target) in fds { symlink(target, "\(root)/\(pid)/fd/\(fd)") }
        }
        try process("1", "systemd", ["3": "/dev/watchdog0", "4": "/dev/null"])
        try process("812", "wd_keepalive", ["0": "/dev/null", "5": "/dev/watchdog"])
        try process("900", "bash", ["1": "/dev/pts/0", "2": "/dev/watchdog-not", "3": "/dev/watchdog12x"])
        try process("self", "bash", ["7": "/dev/watchdog"])  // not a PID directory
        let holders = WatchdogDiagnostics.holders(procRoot: root)
        #expect(holders == [
            WatchdogHolder(pid: 1, command: "systemd", device: "/dev/watchdog0"),
            WatchdogHolder(pid: 812, command: "wd_keepalive", device: "/dev/watchdog"),
        ])
        #expect(holders[0].description.contains("RuntimeWatchdogSec"))
        #expect(holders[1].description.contains("watchdog daemon"))
        // The real /proc of this machine: nothing holds a watchdog (there is none).
        #expect(WatchdogDiagnostics.holders().isEmpty)
        #expect(WatchdogDiagnostics.isWatchdogPath("/dev/watchdog"))
        #expect(WatchdogDiagnostics.isWatchdogPath("/dev/watchdog3"))
        #expect(!WatchdogDiagnostics.isWatchdogPath("/dev/watchdogX"))
        #expect(!WatchdogDiagnostics.isWatchdogPath("/tmp/dev/watchdog"))
    }

    @Test func nowayoutIsFoundInSysfs() throws {
        let root = try TestSystem.makeTempDirectory("shaolin-sys")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/class/watchdog/watchdog0", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/class/watchdog/watchdog1", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/module/softdog/parameters", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/module/i6300esb/parameters", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/module/loop/parameters", withIntermediateDirectories: true)
        try TestSystem.write("0\n", to: root + "/class/watchdog/watchdog0/nowayout")
        try TestSystem.write("N\n", to: root + "/module/i6300esb/parameters/nowayout")
        #expect(WatchdogDiagnostics.nowayout(sysRoot: root).isEmpty)
        try TestSystem.write("1\n", to: root + "/class/watchdog/watchdog1/nowayout")
        try TestSystem.write("Y\n", to: root + "/module/softdog/parameters/nowayout")
        #expect(WatchdogDiagnostics.nowayout(sysRoot: root).map(\.source) == [
            root + "/class/watchdog/watchdog1/nowayout", root + "/module/softdog/parameters/nowayout",
        ])
    }

    /// shaolind with a configuration on the loopback interface.
    func runShaolind(_ watchdogSection: String, check: Bool = false) throws -> (Int32, String) {
        let dir = try TestSystem.makeTempDirectory("shaolin-wdrun")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestSystem.write(String(repeating: "ab", count: 32) + "\n", to: dir + "/key", mode: 0o600)
        try TestSystem.write("""
            \(watchdogSection.hasPrefix("watchdog =") ? watchdogSection : "")
            [cluster]
            id = 7
            key_file = "\(dir)/key"
            [node]
            name = "a"
            id = 1
            [peer]
            name = "b"
            id = 2
            [[link]]
            name = "lo"
            type = "ethernet"
            interface = "lo"
            peer_mac = "broadcast"
            ethertype = 0x88B7
            [realtime]
            enabled = false
            [log]
            target = "stderr"
            \(watchdogSection.hasPrefix("watchdog =") ? "" : watchdogSection)

            """, to: dir + "/c.toml")
        let out = dir + "/out"
        let pid = try TestSystem.spawnBackground(Lab.shaolind, check ? ["--check-config", dir + "/c.toml"] : ["--config", dir + "/c.toml"], log: out)
        var status: Int32 = 0
        // A shaolind that did start would run forever: bound the wait.
        let deadline = Date().addingTimeInterval(20)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline { kill(pid, SIGKILL); _ = waitpid(pid, &status, 0); return (-1, "still running") }
            usleep(20_000)
        }
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : -1, text)
    }

    @Test func shaolindRefusesWhatIsNotAWatchdogAndAMissingDecision() throws {
        let (code, text) = try runShaolind("[watchdog]\ndevice = \"/dev/null\"")
        #expect(code == 1, "\(text)")
        #expect(text.contains("watchdog.device: /dev/null is a character device but not a watchdog"), "\(text)")
        let (missing, missingText) = try runShaolind("", check: true)
        #expect(missing == 2)
        #expect(missingText.contains("watchdog: required"), "\(missingText)")
        let (none, noneText) = try runShaolind("watchdog = \"none\"", check: true)
        #expect(none == 0, "\(noneText)")
        #expect(noneText.contains("warning: line 1: watchdog: no hardware watchdog"), "\(noneText)")
    }
}
