// Where log records go, chosen once at start-up and said out loud: libsystemd's
// sd_journal_sendv returns success without sending when journald's socket is absent, so the
// engine must not rely on it to notice a missing journal.

import Glibc
import ShaolinLinux

public enum LogSink: String, Sendable, Equatable {
    /// journald's native protocol (structured fields).
    case journal
    /// The kernel log (/dev/kmsg): what an initramfs has.
    case kmsg
    /// Standard error: foreground runs, labs, tests.
    case stderr
}

public struct LogSinkChoice: Sendable, Equatable {
    public var sink: LogSink
    /// Why, for the start-up message.
    public var reason: String
    public init(sink: LogSink, reason: String) {
        self.sink = sink
        self.reason = reason
    }
}

public enum LogSinkSelector {
    /// What the machine looks like, as far as the choice is concerned.
    public struct Environment: Sendable {
        public var journalSocketExists: Bool
        public var inInitramfs: Bool
        public var kmsgWritable: Bool
        public init(journalSocketExists: Bool, inInitramfs: Bool, kmsgWritable: Bool) {
            self.journalSocketExists = journalSocketExists
            self.inInitramfs = inInitramfs
            self.kmsgWritable = kmsgWritable
        }

        /// Probes this machine: journald's socket, initramfs markers (`/etc/initrd-release`,
        /// initramfs-tools' `/conf/initramfs.conf`), and whether /dev/kmsg opens for writing.
        public static func probe() -> Environment {
            let kfd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NONBLOCK)
            if kfd >= 0 { close(kfd) }
            return Environment(journalSocketExists: Journal.isAvailable,
                               inInitramfs: access("/etc/initrd-release", F_OK) == 0 || access("/conf/initramfs.conf", F_OK) == 0,
                               kmsgWritable: kfd >= 0)
        }
    }

    /// The rule (documented in docs/logging.md):
    /// - `journal`, `kmsg`, `stderr`: what was asked; `journal` without journald's socket and
    ///   `kmsg` without a writable /dev/kmsg fall back to stderr (said in the reason).
    /// - `auto`: journald when /run/systemd/journal/socket exists; else /dev/kmsg inside an
    ///   initramfs; else stderr.
    public static func choose(target: String, _ env: Environment) -> LogSinkChoice {
        switch target {
        case "journal":
            return env.journalSocketExists
                ? LogSinkChoice(sink: .journal, reason: "log target journal")
                : LogSinkChoice(sink: .stderr, reason: "log target journal, but \(Journal.socketPath) does not exist: using stderr")
        case "kmsg":
            return env.kmsgWritable
                ? LogSinkChoice(sink: .kmsg, reason: "log target kmsg")
                : LogSinkChoice(sink: .stderr, reason: "log target kmsg, but /dev/kmsg cannot be opened for writing: using stderr")
        case "stderr":
            return LogSinkChoice(sink: .stderr, reason: "log target stderr")
        default:
            if env.journalSocketExists { return LogSinkChoice(sink: .journal, reason: "log target auto: \(Journal.socketPath) exists") }
            if env.inInitramfs && env.kmsgWritable { return LogSinkChoice(sink: .kmsg, reason: "log target auto: inside an initramfs, no journald") }
            return LogSinkChoice(sink: .stderr, reason: "log target auto: no journald socket, not in an initramfs")
        }
    }
}
