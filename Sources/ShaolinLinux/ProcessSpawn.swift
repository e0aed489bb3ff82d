// ProcessSpawn: run a helper program (ipmitool, a fence agent, a site script)
// with a hard time bound, in its own process group, and capture its output.
//
// Used only on the slow (non-real-time) side: it allocates and blocks in
// poll(2). The real-time thread must never call it.
//
// Mechanism:
//   * posix_spawn (vfork-style in glibc, no fork of a large address space)
//     with POSIX_SPAWN_SETPGROUP(0): the child leads a new process group, so
//     a timeout can signal everything it started (kill(-pgid, ...)).
//   * POSIX_SPAWN_SETSIGMASK (empty mask) and POSIX_SPAWN_SETSIGDEF (all
//     catchable signals to SIG_DFL): the child does not inherit the engine's
//     blocked or ignored signals (SIGPIPE ignored in the parent, say).
//   * every descriptor above 2 is closed in the child (addclosefrom_np).
//   * stdin is an AF_UNIX socket pair written with send(MSG_NOSIGNAL), so a
//     child that exits without reading cannot raise SIGPIPE in the engine;
//     without input the child's stdin is /dev/null.
//   * stdout and stderr are separate pipes, drained with poll(2); each keeps
//     at most `outputLimit` bytes (the rest is read and dropped, so the child
//     never blocks on a full pipe).
//   * posix_spawn failing with ETXTBSY (a freshly written script still open
//     for writing in a concurrently spawned child) is retried for ~0.6 s.
//   * the child's exit is observed through a pidfd (Linux >= 5.3), falling
//     back to waitpid(WNOHANG) every 10 ms without one.
//   * on timeout the whole group gets SIGTERM, then SIGKILL after
//     `killGraceMilliseconds`. When the leader exits on its own, processes it
//     left behind in its group get SIGKILL (nothing spawned here outlives the
//     call); this is sent before the leader is reaped, so the group id cannot
//     have been reused. A caller whose program must leave a service running
//     (an AAC `start` command) turns this off with `killGroupOnExit = false`;
//     the group is still killed on timeout.
//
// Caveat: if the process sets SIGCHLD to SIG_IGN, children are reaped by the
// kernel and the termination is reported as `.unknown`.
import CShaolin
import Glibc

/// What to run and under which bounds.
public struct SpawnOptions: Sendable {
    /// Path of the program. Without a "/" it is searched in the engine's PATH.
    public var executable: String
    /// Arguments after argv[0] (argv[0] is `executable`).
    public var arguments: [String]
    /// The child's whole environment, as "KEY=VALUE" strings. Nothing is
    /// inherited implicitly (secrets in the engine's environment stay there).
    public var environment: [String]
    /// Bytes written to the child's stdin, which is then closed; nil gives
    /// the child /dev/null.
    public var standardInput: [UInt8]?
    /// Wall-clock bound from spawn until SIGTERM to the process group.
    public var timeoutMilliseconds: Int
    /// Time between SIGTERM and SIGKILL to the process group on timeout.
    public var killGraceMilliseconds: Int
    /// Bytes kept per stream (stdout, stderr).
    public var outputLimit: Int
    /// When the leader exits on its own, SIGKILL whatever it left in its process group
    /// (default). false for programs that start a service that must outlive them; such a
    /// service should still detach its output (it inherits the capture pipes, which are
    /// closed 200 ms after the leader exits). On timeout the group is killed regardless.
    public var killGroupOnExit: Bool = true

    public init(
        executable: String,
        arguments: [String] = [],
        environment: [String] = ProcessSpawn.minimalEnvironment,
        standardInput: [UInt8]? = nil,
        timeoutMilliseconds: Int,
        killGraceMilliseconds: Int = 500,
        outputLimit: Int = 64 * 1024
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.standardInput = standardInput
        self.timeoutMilliseconds = timeoutMilliseconds
        self.killGraceMilliseconds = killGraceMilliseconds
        self.outputLimit = outputLimit
    }
}

/// How the direct child ended.
public enum ProcessTermination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// Not observed: the child could not be reaped (still alive 2 s after
    /// SIGKILL, e.g. in uninterruptible sleep, or reaped by someone else).
    case unknown

    public var description: String {
        switch self {
        case .exited(let code): return "exit \(code)"
        case .signaled(let signal): return "signal \(signal)"
        case .unknown: return "unknown termination"
        }
    }
}

public struct SpawnResult: Sendable {
    public var pid: pid_t
    public var termination: ProcessTermination
    /// The time bound expired and the group was signalled.
    public var timedOut: Bool
    public var standardOutput: [UInt8]
    public var standardError: [UInt8]
    /// Some output beyond `outputLimit` was dropped (either stream).
    public var outputTruncated: Bool
    /// From just before posix_spawn to the child's exit being seen (monotonic).
    public var durationNanoseconds: UInt64

    public var durationMilliseconds: Double { Double(durationNanoseconds) / 1_000_000 }
    /// stdout decoded as UTF-8 (invalid sequences repaired).
    public var outputText: String { String(decoding: standardOutput, as: UTF8.self) }
    /// stderr decoded as UTF-8 (invalid sequences repaired).
    public var errorText: String { String(decoding: standardError, as: UTF8.self) }
    /// True for a normal exit with status 0 within the time bound.
    public var succeeded: Bool { !timedOut && termination == .exited(0) }
}

public enum SpawnError: Error, Sendable, Equatable, CustomStringConvertible {
    /// posix_spawn itself failed (ENOENT, EACCES, ...).
    case spawnFailed(executable: String, errno: Int32)
    /// A setup call failed before the child existed.
    case setupFailed(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .spawnFailed(let executable, let code):
            return "cannot run \(executable): \(String(cString: strerror(code)))"
        case .setupFailed(let call, let code):
            return "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

public enum ProcessSpawn {
    /// A PATH and the C locale: what helpers get unless told otherwise.
    public static let minimalEnvironment: [String] = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL=C",
    ]

    /// Runs the program and returns once it is reaped (or given up on).
    /// Blocks the calling thread for at most about
    /// timeout + killGrace + 2 s.
    public static func run(_ options: SpawnOptions) throws(SpawnError) -> SpawnResult {
        var runner = try Runner(options: options)
        return runner.run()
    }

    /// Monotonic clock in nanoseconds.
    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

// MARK: - Implementation

private struct Runner {
    let options: SpawnOptions
    var pid: pid_t = 0
    var pidfd: Int32 = -1
    var stdinFD: Int32 = -1
    var stdoutFD: Int32 = -1
    var stderrFD: Int32 = -1
    var stdinOffset = 0
    var out: [UInt8] = []
    var err: [UInt8] = []
    var truncated = false
    var start: UInt64 = 0

    init(options: SpawnOptions) throws(SpawnError) {
        self.options = options
        try spawn()
    }

    private mutating func spawn() throws(SpawnError) {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        var inPair: [Int32] = [-1, -1]
        func closeAll() {
            for fd in outPipe + errPipe + inPair where fd >= 0 { close(fd) }
        }
        if cshaolin_pipe_cloexec(&outPipe) != 0 { throw .setupFailed(call: "pipe2", errno: errno) }
        if cshaolin_pipe_cloexec(&errPipe) != 0 {
            let e = errno; closeAll(); throw .setupFailed(call: "pipe2", errno: e)
        }
        if options.standardInput != nil {
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            if socketpair(AF_UNIX, type, 0, &inPair) != 0 {
                let e = errno; closeAll(); throw .setupFailed(call: "socketpair", errno: e)
            }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if options.standardInput != nil {
            posix_spawn_file_actions_adddup2(&actions, inPair[1], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // Everything else is closed in the child (the dup2 targets 0-2 stay).
        _ = cshaolin_spawn_addclosefrom(&actions, 3)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        let flags = Int32(POSIX_SPAWN_SETPGROUP) | Int32(POSIX_SPAWN_SETSIGMASK)
            | Int32(POSIX_SPAWN_SETSIGDEF)
        posix_spawnattr_setflags(&attr, Int16(flags))
        posix_spawnattr_setpgroup(&attr, 0)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attr, &emptyMask)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attr, &defaults)

        let argv = [options.executable] + options.arguments
        let cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = options.environment.map { strdup($0) } + [nil]
        defer {
            for p in cArgv { free(p) }
            for p in cEnv { free(p) }
        }

        var child: pid_t = 0
        start = ProcessSpawn.monotonicNanoseconds()
        var rc: Int32 = 0
        // ETXTBSY is transient: a script just written by this process can be
        // held open for writing by a child another thread is spawning, until
        // that child's exec closes it. Retry briefly (5+10+...+320 ms: on a loaded
        // 2-CPU machine a forked child was seen holding it for more than 75 ms).
        var pause: UInt32 = 5_000
        for attempt in 0..<8 {
            if options.executable.contains("/") {
                rc = posix_spawn(&child, options.executable, &actions, &attr, cArgv, cEnv)
            } else {
                rc = posix_spawnp(&child, options.executable, &actions, &attr, cArgv, cEnv)
            }
            if rc != ETXTBSY || attempt == 7 { break }
            usleep(pause)
            pause *= 2
        }
        // The child's ends are no longer ours.
        close(outPipe[1]); outPipe[1] = -1
        close(errPipe[1]); errPipe[1] = -1
        if inPair[1] >= 0 { close(inPair[1]); inPair[1] = -1 }
        if rc != 0 {
            closeAll()
            throw .spawnFailed(executable: options.executable, errno: rc)
        }
        pid = child
        stdoutFD = outPipe[0]
        stderrFD = errPipe[0]
        stdinFD = inPair[0]
        for fd in [stdoutFD, stderrFD, stdinFD] where fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        if options.standardInput?.isEmpty == true { closeStdin() }
        pidfd = cshaolin_pidfd_open(child)
    }

    private mutating func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// Reads what is available; returns false at EOF or on a hard error.
    private mutating func drain(_ fd: Int32, intoOutput: Bool) -> Bool {
        let limit = options.outputLimit
        let chunk = 4096
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunk) }
            if n > 0 {
                let have = intoOutput ? out.count : err.count
                let keep = min(n, max(0, limit - have))
                if keep < n { truncated = true }
                if keep > 0 {
                    if intoOutput { out.append(contentsOf: buffer[0..<keep]) } else {
                        err.append(contentsOf: buffer[0..<keep])
                    }
                }
                continue
            }
            if n == 0 { return false }
            let e = errno
            if e == EINTR { continue }
            return e == EAGAIN || e == EWOULDBLOCK
        }
    }

    private mutating func feedStdin() {
        guard stdinFD >= 0, let input = options.standardInput else { return }
        while stdinOffset < input.count {
            let n = input.withUnsafeBytes { raw in
                send(stdinFD, raw.baseAddress! + stdinOffset, input.count - stdinOffset,
                     Int32(MSG_NOSIGNAL))
            }
            if n > 0 { stdinOffset += n; continue }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return }
            closeStdin()  // EPIPE / ECONNRESET: the child is not reading.
            return
        }
        closeStdin()  // All delivered: the child sees EOF.
    }

    /// Non-blocking reap. Before reaping, the rest of the group is killed.
    private mutating func tryReap() -> ProcessTermination? {
        if pidfd >= 0 {
            var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 0) == 1 else { return nil }
            // The leader is a zombie: its pid (= our pgid) is still held.
            if options.killGroupOnExit { _ = kill(-pid, SIGKILL) }
        }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == 0 { return nil }
        if pidfd < 0 && options.killGroupOnExit { _ = kill(-pid, SIGKILL) }  // fallback path; see header
        if r < 0 { return errno == EINTR ? nil : .unknown }
        if cshaolin_wifexited(status) != 0 { return .exited(cshaolin_wexitstatus(status)) }
        if cshaolin_wifsignaled(status) != 0 { return .signaled(cshaolin_wtermsig(status)) }
        return .unknown
    }

    mutating func run() -> SpawnResult {
        enum Phase { case running, terminating, killed }
        let ms: UInt64 = 1_000_000
        var phase = Phase.running
        var nextDeadline = start + UInt64(max(0, options.timeoutMilliseconds)) * ms
        var timedOut = false
        var termination: ProcessTermination? = nil
        var drainUntil: UInt64 = 0
        var endedAt: UInt64 = 0
        var outOpen = true
        var errOpen = true

        feedStdin()
        while true {
            let now = ProcessSpawn.monotonicNanoseconds()
            if termination == nil, let t = tryReap() {
                termination = t
                endedAt = now
                drainUntil = now + 200 * ms
            }
            if let _ = termination {
                if (!outOpen && !errOpen) || now >= drainUntil { break }
            } else if now >= nextDeadline {
                switch phase {
                case .running:
                    timedOut = true
                    _ = kill(-pid, SIGTERM)
                    phase = .terminating
                    nextDeadline = now + UInt64(max(0, options.killGraceMilliseconds)) * ms
                case .terminating:
                    _ = kill(-pid, SIGKILL)
                    phase = .killed
                    nextDeadline = now + 2000 * ms
                case .killed:
                    termination = .unknown
                    endedAt = now
                }
                continue
            }

            var fds: [pollfd] = []
            if outOpen { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if errOpen { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            if termination == nil && pidfd >= 0 {
                fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0))
            }
            let until = termination == nil ? nextDeadline : drainUntil
            var waitMs = Int32(clamping: (until > now ? (until - now + ms - 1) / ms : 0))
            if termination == nil && pidfd < 0 { waitMs = min(waitMs, 10) }
            let r = poll(&fds, nfds_t(fds.count), waitMs)
            if r < 0 && errno != EINTR { break }
            for p in fds where p.revents != 0 {
                if p.fd == stdoutFD && outOpen {
                    if !drain(stdoutFD, intoOutput: true) { outOpen = false }
                } else if p.fd == stderrFD && errOpen {
                    if !drain(stderrFD, intoOutput: false) { errOpen = false }
                } else if p.fd == stdinFD {
                    if p.revents & Int16(POLLOUT) != 0 { feedStdin() } else { closeStdin() }
                }
            }
        }
        let end = endedAt != 0 ? endedAt : ProcessSpawn.monotonicNanoseconds()
        // Pick up anything still buffered without waiting.
        if outOpen { _ = drain(stdoutFD, intoOutput: true) }
        if errOpen { _ = drain(stderrFD, intoOutput: false) }
        closeStdin()
        close(stdoutFD)
        close(stderrFD)
        if pidfd >= 0 { close(pidfd) }
        return SpawnResult(
            pid: pid, termination: termination ?? .unknown, timedOut: timedOut,
            standardOutput: out, standardError: err, outputTruncated: truncated,
            durationNanoseconds: end - start)
    }
}
