// The control server (docs/control-protocol.md): JSON lines over a Unix socket (peer
// credentials checked) and an optional TCP listener (HMAC challenge–response with the cluster
// key, failures rate-limited). It runs on its own thread with its own epoll, never on the
// real-time thread: operator commands reach the state machine through the slow side's
// bounded queue (`SlowSide.submit`), and answers come back through `setReplyHandler`.
//
// Every client is bounded: one line ≤ 16 KiB (longer: an error, and the rest of the line is
// skipped), reading stops while 64 KiB of answers wait unread, a client whose unread output
// passes 1 MiB or whose output makes no progress for 10 s is disconnected, at most 4 commands
// wait per client, at most 64 clients (16 unauthenticated) at once; TCP clients must
// authenticate within 5 s. One client can therefore not stall the engine or the others.

import Glibc
import ShaolinCore
import ShaolinLinux
import SystemPackage

public struct ControlSettings: Sendable {
    public var socketPath: String
    /// "" = root only; else a group name or numeric gid whose members may connect.
    public var group: String
    /// "" = off; else "ADDR:PORT" with a numeric address ("[v6]:PORT" for IPv6). Port 0 picks one.
    public var tcpListen: String
    public var maxConnections = 64
    public var maxUnauthenticated = 16
    public var maxLineBytes = ControlProtocol.maxRequestBytes
    /// Reading from a client pauses while this much output waits for it.
    public var pauseReadingAbove = 65_536
    /// A client with more unread output than this is disconnected.
    public var maxOutputBytes = 1 << 20
    public var writeStallTimeoutMs: Int64 = 10_000
    public var authTimeoutMs: Int64 = 5_000
    public var idleTimeoutMs: Int64 = 3_600_000
    public var commandTimeoutMs: Int64 = 5_000
    public var maxPendingPerConnection = 4

    public init(socketPath: String, group: String = "", tcpListen: String = "") {
        self.socketPath = socketPath
        self.group = group
        self.tcpListen = tcpListen
    }

    public init(_ c: Configuration.Control) {
        self.init(socketPath: c.socket, group: c.group, tcpListen: c.tcpListen)
    }
}

public final class ControlServer: @unchecked Sendable {
    let settings: ControlSettings
    let slow: SlowSide
    let log: EventLog
    let key: [UInt8]?
    let nodeName: String
    let configPath: String?
    /// The configuration in force (live parts updated by reloads). Control thread only.
    var configuration: Configuration?
    var group: String
    var groupID: UInt32?

    var epoll: Epoll?
    var unixListener: FileDescriptor?
    var tcpListener: FileDescriptor?
    /// The TCP port actually bound (when `tcp_listen` asks for port 0).
    public private(set) var tcpPort: UInt16?
    var wakeRead: Int32 = -1
    var wakeWrite: Int32 = -1
    var thread = pthread_t()
    var running = false

    var connections: [UInt64: ControlConnection] = [:]
    /// After accept fails (EMFILE …) the listeners rest until then, so a level-triggered
    /// listener cannot spin the thread.
    var listenersPausedUntil: Int64 = 0
    var nextConnectionID: UInt64 = 100
    var limiter = AuthFailureLimiter()
    var scratch = [UInt8](repeating: 0, count: 16_384)

    struct PendingCommand {
        var connection: UInt64
        var requestID: JSONValue?
        var operation: ControlOperation
        var deadline: Int64
    }
    var pendingCommands: [UInt32: PendingCommand] = [:]
    var nextCommandID: UInt32 = 1

    /// Answers from the slow side, guarded by `lock`.
    private var replies: [(UInt32, Bool, RefusalReason?)] = []
    private var stopRequested = false
    private var lock = pthread_mutex_t()

    /// Counters (status and tests).
    public private(set) var accepted: UInt64 = 0
    public private(set) var rejectedConnections: UInt64 = 0

    static let tokenWake: UInt64 = 1
    static let tokenUnix: UInt64 = 2
    static let tokenTCP: UInt64 = 3

    public init(settings: ControlSettings, slow: SlowSide, log: EventLog, key: [UInt8]?, nodeName: String,
                configPath: String?, configuration: Configuration?) {
        self.settings = settings
        self.slow = slow
        self.log = log
        self.key = key
        self.nodeName = nodeName
        self.configPath = configPath
        self.configuration = configuration
        self.group = settings.group
        pthread_mutex_init(&lock, nil)
    }

    // MARK: - Life cycle

    /// Opens the listeners and starts the server thread.
    public func start() throws(StartupError) {
        try listen()
        try startThread()
    }

    /// Opens the listening sockets (call before the capability drop: binding a TCP port below
    /// 1024 or setting the socket's group needs privileges the engine gives up afterwards).
    public func listen() throws(StartupError) {
        do {
            epoll = try Epoll.create()
        } catch { throw StartupError("control: epoll: \(error)") }
        var fds: [Int32] = [0, 0]
        guard cshaolinPipe(&fds) else { throw StartupError("control: pipe: \(FileIO.errnoText())") }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        try? epoll!.add(FileDescriptor(rawValue: wakeRead), events: .input, token: Self.tokenWake)

        makeParentDirectory(settings.socketPath)
        resolveGroup()
        do {
            let fd = try StreamSocket.listenUnix(path: settings.socketPath, mode: groupID == nil ? 0o600 : 0o660)
            unixListener = fd
            applySocketGroup()
            try epoll!.add(fd, events: .input, token: Self.tokenUnix)
        } catch {
            throw StartupError("control: cannot listen on \(settings.socketPath): \(error)")
        }
        if !settings.tcpListen.isEmpty {
            guard let (addr, port) = Self.splitListen(settings.tcpListen) else {
                throw StartupError("control.tcp_listen: \"\(settings.tcpListen)\" is not ADDR:PORT with a numeric address")
            }
            guard key != nil else { throw StartupError("control.tcp_listen needs the cluster key") }
            do {
                let fd = try StreamSocket.listenTCP(address: addr, port: port)
                tcpListener = fd
                tcpPort = StreamSocket.localPort(fd)
                try epoll!.add(fd, events: .input, token: Self.tokenTCP)
            } catch {
                throw StartupError("control: cannot listen on TCP \(settings.tcpListen): \(error)")
            }
        }
        slow.setReplyHandler { [self] id, accepted, refusal in
            pthread_mutex_lock(&lock)
            replies.append((id, accepted, refusal))
            pthread_mutex_unlock(&lock)
            wake()
        }
    }

    /// Starts the control thread: SCHED_OTHER whatever the caller runs at, with a small stack
    /// (mlockall makes every stack page resident). Threads inherit their creator's capabilities:
    /// call it after the capability drop.
    public func startThread() throws(StartupError) {
        running = true
        do {
            thread = try NormalThread.start(stackBytes: 512 * 1024) { [self] in loop() }
        } catch {
            running = false
            throw StartupError("control: cannot start its thread: \(error)")
        }
        log.write(.info, "control: listening on \(settings.socketPath)\(groupID == nil ? " (root only)" : " (root and group \(group))")"
                  + (tcpPort.map { ", TCP \(settings.tcpListen.hasSuffix(":0") ? String(settings.tcpListen.dropLast(2)) + ":\($0)" : settings.tcpListen) (cluster-key authentication)" } ?? ""),
                  event: "CONTROL_READY")
    }

    /// Stops the thread, closes every connection and removes the socket file.
    public func stop() {
        guard running else { return }
        pthread_mutex_lock(&lock); stopRequested = true; pthread_mutex_unlock(&lock)
        wake()
        pthread_join(thread, nil)
        running = false
        for c in connections.values { StreamSocket.close(c.fd) }
        connections.removeAll()
        if let u = unixListener { StreamSocket.close(u); unlink(settings.socketPath) }
        if let t = tcpListener { StreamSocket.close(t) }
        if let e = epoll { try? e.close() }
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    func wake() {
        var b: UInt8 = 1
        _ = Glibc.write(wakeWrite, &b, 1)
    }

    static func splitListen(_ s: String) -> (String, UInt16)? {
        guard let colon = s.lastIndex(of: ":"), let port = UInt16(s[s.index(after: colon)...]) else { return nil }
        var host = String(s[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    func makeParentDirectory(_ path: String) {
        var dir = path
        while let last = dir.lastIndex(of: "/"), last != dir.startIndex {
            dir = String(dir[..<last])
            var st = stat()
            if stat(dir, &st) == 0 { break }
        }
        // Create the missing components from the top down.
        var parts = path.split(separator: "/").dropLast()
        var current = ""
        while !parts.isEmpty {
            current += "/" + parts.removeFirst()
            var st = stat()
            if stat(current, &st) != 0 { mkdir(current, 0o755) }
        }
    }

    func resolveGroup() {
        if group.isEmpty { groupID = nil; return }
        if let n = UInt32(group) { groupID = n; return }
        groupID = StreamSocket.groupID(group)
        if groupID == nil {
            log.write(.error, "control.group: no such group \"\(group)\": only root may use the control socket", event: "CONTROL_GROUP_UNKNOWN")
        }
    }

    func applySocketGroup() {
        if let g = groupID {
            _ = chown(settings.socketPath, UInt32.max, g)
            _ = chmod(settings.socketPath, 0o660)
        } else {
            _ = chmod(settings.socketPath, 0o600)
        }
    }

    // MARK: - The loop

    func loop() {
        var events = EpollEventBuffer(capacity: 64)
        var drain = [UInt8](repeating: 0, count: 256)
        while true {
            pthread_mutex_lock(&lock)
            let stop = stopRequested
            pthread_mutex_unlock(&lock)
            if stop { return }
            let n = (try? epoll!.wait(into: &events, timeoutMilliseconds: 200)) ?? 0
            let now = SystemClock.monotonicNanos()
            for i in 0..<n {
                let token = events.token(at: i)
                let ev = events.events(at: i)
                switch token {
                case Self.tokenWake:
                    _ = drain.withUnsafeMutableBytes { Glibc.read(wakeRead, $0.baseAddress, $0.count) }
                case Self.tokenUnix: acceptAll(unixListener!, isTCP: false, now: now)
                case Self.tokenTCP: acceptAll(tcpListener!, isTCP: true, now: now)
                default:
                    guard let c = connections[token], !c.closed else { continue }
                    if ev.contains(.output) {
                        if !c.flush(now: now) { close(c, "write failed"); continue }
                    }
                    if ev.contains(.input) || ev.contains(.readHangUp) {
                        service(c, now: now)
                    }
                    // A full hang-up (both directions) or an error: nobody can read our answers.
                    if !c.closed && (ev.contains(.hangUp) || ev.contains(.error)) {
                        if c.readClosed || !ev.contains(.input) { close(c, nil) }
                    }
                }
            }
            if listenersPausedUntil != 0 && now >= listenersPausedUntil {
                listenersPausedUntil = 0
                if let u = unixListener { try? epoll!.modify(u, events: .input, token: Self.tokenUnix) }
                if let t = tcpListener { try? epoll!.modify(t, events: .input, token: Self.tokenTCP) }
            }
            deliverReplies(now: now)
            checkDeadlines(now: now)
            for c in connections.values where !c.closed { settle(c, now: now) }
            for (id, c) in connections where c.closed { connections[id] = nil }
        }
    }

    func acceptAll(_ listener: FileDescriptor, isTCP: Bool, now: Int64) {
        for _ in 0..<64 {
            let accepted: (FileDescriptor, String)?
            do { accepted = try StreamSocket.accept(listener) } catch {
                // EMFILE and friends: leave the backlog and rest the listeners for a second
                // (they are level-triggered: retrying at once would spin).
                log.write(.warning, "control: accept failed: \(error); not accepting for 1 s", event: "CONTROL_ACCEPT_FAILED")
                if let u = unixListener { try? epoll!.modify(u, events: [], token: Self.tokenUnix) }
                if let t = tcpListener { try? epoll!.modify(t, events: [], token: Self.tokenTCP) }
                listenersPausedUntil = now + 1_000_000_000
                return
            }
            guard let (fd, address) = accepted else { return }
            admit(fd: fd, address: address, isTCP: isTCP, now: now)
        }
    }

    /// Answers with one error line and closes (the fresh socket's buffer takes it).
    func refuse(_ fd: FileDescriptor, _ e: ControlError) {
        rejectedConnections += 1
        let line = ControlResponse.error(id: nil, e)
        _ = Array(line.utf8).withUnsafeBytes { StreamSocket.write(fd, $0) }
        StreamSocket.close(fd)
    }

    func admit(fd: FileDescriptor, address: String, isTCP: Bool, now: Int64) {
        if connections.count >= settings.maxConnections {
            refuse(fd, ControlError(.tooManyConnections, "too many control connections (\(settings.maxConnections)); try again later"))
            return
        }
        var credentials: PeerCredentials?
        if isTCP {
            if let wait = limiter.blocked(address, now: now) {
                refuse(fd, ControlError(.rateLimited, "too many failed authentications from \(address); retry in \(wait / 1_000_000_000 + 1) s"))
                return
            }
            let unauthenticated = connections.values.filter { $0.isTCP && !$0.authenticated }.count
            if unauthenticated >= settings.maxUnauthenticated {
                refuse(fd, ControlError(.tooManyConnections, "too many unauthenticated connections; try again later"))
                return
            }
        } else {
            do { credentials = try StreamSocket.peerCredentials(fd) } catch {
                refuse(fd, ControlError(.permissionDenied, "cannot read the peer's credentials: \(error)"))
                return
            }
            let c = credentials!
            let inGroup = groupID.map { c.gid == $0 || c.groups.contains($0) } ?? false
            if !(c.uid == 0 || c.uid == geteuid() || inGroup) {
                log.write(.warning, "control: refused uid \(c.uid) (pid \(c.pid)): not root\(group.isEmpty ? "" : " and not in group \(group)")", event: "CONTROL_DENIED")
                refuse(fd, ControlError(.permissionDenied, "uid \(c.uid) may not use this control socket: only root\(group.isEmpty ? "" : " and members of group \(group)")"))
                return
            }
        }
        nextConnectionID += 1
        let c = ControlConnection(id: nextConnectionID, fd: fd, address: address, isTCP: isTCP, credentials: credentials, now: now)
        accepted += 1
        var hello: [(String, JSONValue)] = [("v", .int(ControlProtocol.version)), ("type", .string("hello")),
                                            ("server", .string("shaolind")), ("node", .string(nodeName))]
        if isTCP {
            c.challenge = SecureRandom.bytes(ControlProtocol.nonceBytes)
            hello.append(("auth", .string("hmac-sha256")))
            hello.append(("challenge", .string(Hex.encode(c.challenge))))
        } else {
            hello.append(("auth", .string("none")))
        }
        hello.append(("ops", .array(ControlOperation.allNames.map { .string($0) })))
        c.queue(JSONValue.object(hello).compact + "\n")
        connections[c.id] = c
        do {
            try epoll!.add(fd, events: [.input, .readHangUp], token: c.id)
            c.registered = [.input, .readHangUp]
        } catch {
            StreamSocket.close(fd)
            connections[c.id] = nil
            return
        }
        if !c.flush(now: now) { close(c, "write failed") }
    }

    /// Reads what the client sent (bounded per wake-up) and answers complete lines.
    func service(_ c: ControlConnection, now: Int64) {
        var reads = 0
        while !c.closed && !c.readClosed && reads < 4 && c.pendingOutput < settings.pauseReadingAbove {
            reads += 1
            let r = scratch.withUnsafeMutableBytes { StreamSocket.read(c.fd, into: $0) }
            switch r {
            case .transferred(let n):
                c.input.append(contentsOf: scratch[0..<n])
                c.lastActivity = now
                processInput(c, now: now, atEnd: false)
            case .wouldBlock:
                return
            case .closed:
                c.readClosed = true
                processInput(c, now: now, atEnd: true)
                return
            case .failed(let e):
                close(c, "read failed: \(e)")
                return
            }
        }
    }

    func processInput(_ c: ControlConnection, now: Int64, atEnd: Bool) {
        c.takeLines(maxLine: settings.maxLineBytes, atEnd: atEnd,
                    mayContinue: { !c.closed && !c.closeAfterFlush && c.pendingOutput < settings.pauseReadingAbove },
                    handle: { line in
                        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }  // blank lines are ignored
                        c.requests += 1
                        handleLine(c, line, now: now)
                    },
                    tooLong: {
                        c.queue(ControlResponse.error(id: nil, ControlError(.lineTooLong, "request line longer than \(settings.maxLineBytes) bytes; the rest of the line is skipped")))
                    })
        if c.pendingOutput > settings.maxOutputBytes {
            close(c, "more than \(settings.maxOutputBytes) bytes of answers unread")
        }
    }

    /// After each wake-up: write, pick the epoll interest, close when done or stuck.
    func settle(_ c: ControlConnection, now: Int64) {
        if c.pendingOutput > 0 && !c.flush(now: now) { close(c, "write failed"); return }
        // Lines that waited while output was paused.
        if !c.input.isEmpty && c.pendingOutput < settings.pauseReadingAbove && !c.closeAfterFlush {
            processInput(c, now: now, atEnd: c.readClosed)
            if c.closed { return }
            if c.pendingOutput > 0 && !c.flush(now: now) { close(c, "write failed"); return }
        }
        if c.pendingOutput == 0 && (c.closeAfterFlush || (c.readClosed && c.pendingCommands == 0 && c.input.isEmpty)) {
            close(c, nil)
            return
        }
        if c.pendingOutput > 0 && now - c.lastWriteProgress > settings.writeStallTimeoutMs * 1_000_000 {
            close(c, "client stopped reading (\(c.pendingOutput) bytes unread for \(settings.writeStallTimeoutMs / 1000) s)")
            return
        }
        var want: EpollEvents = []
        if !c.readClosed && !c.closeAfterFlush && c.pendingOutput < settings.pauseReadingAbove { want.formUnion([.input, .readHangUp]) }
        if c.pendingOutput > 0 { want.insert(.output) }
        if want != c.registered {
            try? epoll!.modify(c.fd, events: want, token: c.id)
            c.registered = want
        }
    }

    func checkDeadlines(now: Int64) {
        for c in connections.values where !c.closed {
            if c.isTCP && !c.authenticated && !c.closeAfterFlush && now - c.openedAt > settings.authTimeoutMs * 1_000_000 {
                limiter.failed(c.address, now: now)
                c.queue(ControlResponse.error(id: nil, ControlError(.authRequired, "no authentication within \(settings.authTimeoutMs / 1000) s")))
                c.closeAfterFlush = true
            } else if c.pendingCommands == 0 && now - c.lastActivity > settings.idleTimeoutMs * 1_000_000 {
                close(c, "idle for \(settings.idleTimeoutMs / 1000) s")
            }
        }
        for (id, p) in pendingCommands where p.deadline < now {
            pendingCommands[id] = nil
            guard let c = connections[p.connection], !c.closed else { continue }
            c.pendingCommands -= 1
            c.queue(ControlResponse.error(id: p.requestID, ControlError(.timeout, "the engine did not answer \(p.operation.name) within \(settings.commandTimeoutMs / 1000) s; check the status before retrying")))
        }
    }

    func close(_ c: ControlConnection, _ why: String?) {
        guard !c.closed else { return }
        c.closed = true
        try? epoll!.remove(c.fd)
        StreamSocket.close(c.fd)
        if let why { log.write(.info, "control: closed connection from \(c.address == "unix" ? "uid \(c.credentials?.uid ?? 0) pid \(c.credentials?.pid ?? 0)" : c.address): \(why)", event: "CONTROL_CLOSED") }
    }

    // MARK: - Commands to the engine

    func submit(_ c: ControlConnection, _ request: ControlRequest, _ command: OperatorCommand, now: Int64) {
        if c.pendingCommands >= settings.maxPendingPerConnection || pendingCommands.count >= 64 {
            c.queue(ControlResponse.error(id: request.id, ControlError(.busy, "\(c.pendingCommands) command(s) still wait for the engine; retry when they are answered")))
            return
        }
        nextCommandID = nextCommandID == UInt32.max ? 1 : nextCommandID + 1
        let id = nextCommandID
        pendingCommands[id] = PendingCommand(connection: c.id, requestID: request.id, operation: request.operation,
                                             deadline: now + settings.commandTimeoutMs * 1_000_000)
        c.pendingCommands += 1
        log.write(.notice, "control: \(request.operation.name) requested by \(describe(c))", event: "CONTROL_COMMAND")
        slow.submit(command, id: id)
    }

    func describe(_ c: ControlConnection) -> String {
        if let cr = c.credentials { return "uid \(cr.uid) pid \(cr.pid)" }
        return c.address
    }

    func deliverReplies(now: Int64) {
        pthread_mutex_lock(&lock)
        let batch = replies
        replies.removeAll()
        pthread_mutex_unlock(&lock)
        for (id, accepted, refusal) in batch {
            guard let p = pendingCommands.removeValue(forKey: id) else { continue }
            guard let c = connections[p.connection], !c.closed else { continue }
            c.pendingCommands -= 1
            if accepted {
                c.queue(ControlResponse.ok(id: p.requestID, .object([
                    ("accepted", .bool(true)), ("op", .string(p.operation.name)), ("message", .string(Self.acceptedMessage(p.operation))),
                ])))
            } else {
                let reason = refusal.map { "\($0)" } ?? "refused"
                c.queue(ControlResponse.error(id: p.requestID, ControlError(.refused, "\(p.operation.name) refused: \(reason)\(Self.hint(p.operation, refusal))")))
            }
        }
    }

    static func acceptedMessage(_ op: ControlOperation) -> String {
        switch op {
        case .switchover, .standby: "handover started: this node syncs and steps down, then the peer takes over"
        case .maintenance(true): "maintenance mode on: peer and link failures are not acted upon (heartbeats continue)"
        case .maintenance(false): "maintenance mode off: failures are acted upon again"
        case .fenceConfirm: "fence confirmed by the operator: this node takes over"
        default: "accepted"
        }
    }

    static func hint(_ op: ControlOperation, _ r: RefusalReason?) -> String {
        switch (op, r) {
        case (.switchover, .notActive?): " (run switchover against the ACTIVE node)"
        case (.standby, .notActive?): " (only the ACTIVE node can go to standby)"
        case (_, .peerNotStandby?): " (the peer must be a healthy STANDBY, not in maintenance)"
        case (_, .maintenance?): " (turn maintenance off first)"
        case (.fenceConfirm, .peerAlive?): " (the peer is heard on a link: it is not down)"
        default: ""
        }
    }
}

/// pipe2(O_CLOEXEC | O_NONBLOCK).
func cshaolinPipe(_ fds: inout [Int32]) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    for fd in fds {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }
    return true
}
