// shaolind: the shaolin cluster engine. No Foundation (this binary goes into the initramfs).
//
// Exit codes: 0 left the cluster gracefully; 1 start-up failure; 2 invalid configuration;
// 10 handed over (the caller should power the node off); 11 stood down (the caller should
// reboot: another node serves).
import Glibc
import ShaolinCore
import ShaolinEngine

let usage = """
    usage: shaolind --config FILE [--status-file PATH] [--log-target auto|journal|kmsg|stderr]
                    [--keep-capabilities] [--foreground]
           shaolind --check-config FILE
           shaolind --version
    """

var args = Array(CommandLine.arguments.dropFirst())
var configPath: String?
var statusPath: String?
var check = false
var logTarget: String?
var dropCapabilities = true
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--config", "-c":
        guard !args.isEmpty else { printErr("--config needs a file\n" + usage); exit(64) }
        configPath = args.removeFirst()
    case "--check-config":
        guard !args.isEmpty else { printErr("--check-config needs a file\n" + usage); exit(64) }
        configPath = args.removeFirst()
        check = true
    case "--status-file":
        guard !args.isEmpty else { printErr("--status-file needs a path\n" + usage); exit(64) }
        statusPath = args.removeFirst()
    case "--log-target":
        guard !args.isEmpty else { printErr("--log-target needs auto, journal, kmsg or stderr\n" + usage); exit(64) }
        let t = args.removeFirst()
        guard ["auto", "journal", "kmsg", "stderr"].contains(t) else {
            printErr("--log-target: '\(t)' is not one of auto, journal, kmsg, stderr\n" + usage); exit(64)
        }
        logTarget = t
    case "--keep-capabilities":
        dropCapabilities = false  // debugging only: see docs/security.md
    case "--foreground", "-f":
        break  // shaolind always runs in the foreground; systemd and the initramfs supervise it.
    case "--version":
        print("shaolind 0.1.0 (protocol version \(FrameLayout.version))")
        exit(0)
    case "--help", "-h":
        print(usage)
        exit(0)
    default:
        printErr("unknown argument '\(a)'\n" + usage)
        exit(64)
    }
}
guard let path = configPath else { printErr(usage); exit(64) }

if check {
    let (config, errors, warnings) = Engine.loadConfiguration(path)
    for w in warnings { printErr(w) }
    guard let c = config else {
        for e in errors { printErr(e) }
        printErr("\(path): \(errors.count) error(s)")
        exit(2)
    }
    print(c.effectiveText(), terminator: "")
    exit(0)
}

var options = EngineOptions(configPath: path, statusPath: statusPath)
options.logTarget = logTarget
options.dropCapabilities = dropCapabilities
exit(Engine.run(options))
