// Start-up and wiring: configuration → key → state machine, links, fencing, real-time set-up,
// slow side; then the real-time loop on the calling thread.

import Glibc
import ShaolinCore
import ShaolinLinux
import SystemPackage

public struct EngineOptions: Sendable {
    public var configPath: String
    public var statusPath: String?
    public var foreground = true
    /// Overrides the configuration's `log.target` ("auto", "journal", "kmsg", "stderr").
    public var logTarget: String?
    /// Drop capabilities after start-up (see EngineCapabilities); off only for debugging.
    public var dropCapabilities = true
    public init(configPath: String, statusPath: String? = nil) {
        self.configPath = configPath
        self.statusPath = statusPath
    }
}

public struct StartupError: Error, CustomStringConvertible {
    public var message: String
    public init(_ m: String) { message = m }
    public var description: String { message }
}

public enum Engine {
    /// Reads and validates the configuration file; errors carry key and line.
    public static func loadConfiguration(_ path: String) -> (Configuration?, [String], [String]) {
        switch FileIO.read(path) {
        case .failure(let e): return (nil, ["cannot read configuration \(e)"], [])
        case .success(let bytes):
            let load = Configuration.load(bytes: bytes)
            return (load.configuration, load.errors.map { "\(path): \($0)" }, load.warnings.map { "\(path): warning: \($0)" })
        }
    }

    /// Loads the cluster key with the permission rules of `ClusterKey`.
    public static func loadKey(_ path: String) throws(StartupError) -> ClusterKey {
        guard let st = FileIO.modeAndOwner(path) else {
            throw StartupError("cannot read key file \(path): \(FileIO.errnoText()) (create one with `shaolinctl keygen \(path)`)")
        }
        do {
            try ClusterKey.checkPermissions(path: path, mode: st.mode, owner: st.uid, euid: UInt32(geteuid()))
            switch FileIO.read(path) {
            case .failure(let e): throw StartupError("cannot read key file \(e)")
            case .success(let bytes): return try ClusterKey.parse(fileContents: bytes)
            }
        } catch let e as ClusterKeyError {
            throw StartupError(e.description)
        } catch {
            throw StartupError("\(error)")
        }
    }

    /// A random 64-bit incarnation (never 0).
    public static func newIncarnation() -> UInt64 {
        var v: UInt64 = 0
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = withUnsafeMutableBytes(of: &v) { read(fd, $0.baseAddress, 8) }; close(fd) }
        if v == 0 { v = UInt64(bitPattern: SystemClock.realtimeNanos()) | 1 }
        return v
    }

    /// Builds the fencing sequence from the configuration (nil = manual only).
    public static func fenceSequence(_ c: Configuration, log: EventLog) -> FenceSequence? {
        var methods: [FenceMethod] = []
        let target = c.peer.name
        for m in c.fencing.methods {
            switch m {
            case .ipmi:
                guard let i = c.fencing.ipmi else { continue }
                let action: FenceAction = i.action == .off ? .off : (i.action == .reset ? .reset : .cycle)
                methods.append(FenceMethod(driver: IPMIFence(settings: IPMIFenceSettings(
                    host: i.host, port: Int(i.port), user: i.user, passwordFile: i.passwordFile,
                    passwordEnv: i.passwordEnv, cipherSuite: i.cipherSuite, privilege: i.privilege.rawValue,
                    action: action, callTimeout: Int(i.timeoutMs), retries: i.retries,
                    powerTimeout: Int(i.powerTimeoutMs))), action: action))
            case .fenceAgent:
                guard let a = c.fencing.agent else { continue }
                var opts: [String: String] = [:]
                for o in a.options { opts[o.name] = o.value }
                methods.append(FenceMethod(driver: FenceAgent(settings: FenceAgentSettings(
                    agentPath: a.path, options: opts, action: .off, callTimeout: Int(a.timeoutMs))), action: .off))
            case .command:
                guard let cmd = c.fencing.command else { continue }
                methods.append(FenceMethod(driver: CommandFence(settings: CommandFenceSettings(
                    path: cmd.path, arguments: cmd.args, target: target, action: .off, timeout: Int(cmd.timeoutMs))), action: .off))
            case .manual:
                break
            }
        }
        return methods.isEmpty ? nil : FenceSequence(methods: methods)
    }

    /// Opens every configured link.
    public static func openLinks(_ c: Configuration) throws(StartupError) -> [any HeartbeatLink] {
        var out: [any HeartbeatLink] = []
        for (i, l) in c.links.enumerated() {
            do {
                switch l.kind {
                case .ethernet(let e):
                    let mac: ShaolinLinux.MACAddress
                    switch e.peer {
                    case .broadcast: mac = .broadcast
                    case .mac(let m): mac = ShaolinLinux.MACAddress(m.bytes[0], m.bytes[1], m.bytes[2], m.bytes[3], m.bytes[4], m.bytes[5])
                    }
                    out.append(try EthernetLink(id: UInt8(i), name: l.name, interface: e.interface, etherType: e.ethertype, peer: mac))
                case .serial(let s):
                    out.append(try SerialLink(id: UInt8(i), name: l.name, device: s.device, baud: s.baud, flowControl: s.flowControl))
                }
            } catch {
                throw StartupError(error.description)
            }
        }
        return out
    }

    /// The real-time set-up: memory lock, stack prefault, SCHED_FIFO, affinity. Returns
    /// whether the engine runs degraded; throws when a refused step is not allowed.
    public static func enterRealtime(_ r: Configuration.Realtime, log: EventLog) throws(StartupError) -> Bool {
        guard r.enabled else {
            log.write(.warning, "real-time scheduling disabled by configuration: heartbeat timing is best effort", event: "RT_DISABLED")
            return true
        }
        var problems: [String] = []
        if r.mlock {
            Realtime.trimHeapGrowthForLockedMemory()
            do { try Realtime.lockAllMemory() } catch { problems.append(error.description) }
        }
        Realtime.prefaultStack(kibibytes: 256)
        do { try Realtime.setFIFO(priority: CInt(r.priority)) } catch { problems.append(error.description) }
        if r.cpu >= 0 {
            do { try Realtime.pin(toCPU: r.cpu) } catch { problems.append(error.description) }
        }
        if problems.isEmpty {
            log.write(.info, "real-time: SCHED_FIFO priority \(r.priority)\(r.mlock ? ", memory locked" : "")\(r.cpu >= 0 ? ", CPU \(r.cpu)" : "")", event: "RT_READY")
            return false
        }
        for p in problems { log.write(.error, "real-time set-up refused: \(p)", event: "RT_REFUSED") }
        if r.allowDegraded {
            log.write(.warning, "continuing without full real-time guarantees (realtime.allow_degraded = true)", event: "RT_DEGRADED")
            return true
        }
        throw StartupError("real-time set-up refused (set realtime.allow_degraded = true to run anyway): " + problems.joined(separator: "; "))
    }

    /// Runs the engine until it leaves. Returns the process exit code.
    public static func run(_ options: EngineOptions) -> Int32 {
        let (config, errors, warnings) = loadConfiguration(options.configPath)
        for w in warnings { printErr(w) }
        guard let c = config else {
            for e in errors { printErr(e) }
            return 2
        }
        let log = EventLog(node: c.node.name, target: options.logTarget ?? c.log.target.rawValue, level: c.log.level.rawValue)
        // Until the writer thread starts (after the capability drop) records are written directly.
        defer { log.stopWriter() }
        log.write(.info, "logging to \(log.sink.rawValue) (\(log.sinkReason))", event: "LOG_SINK", [("SHAOLIN_LOG_SINK", log.sink.rawValue)])
        do {
            let key = try loadKey(c.cluster.keyFile)
            let params = c.clusterParameters()
            let codec = FrameCodec(clusterID: c.cluster.id, key: key)
            let incarnation = newIncarnation()
            let machine = ClusterStateMachine(parameters: params, codec: codec, incarnation: incarnation)
            if c.watchdog.isDisabled {
                log.write(.warning, "watchdog = \"none\": a hung node cannot fence itself; the peer's fencing is the only protection", event: "WATCHDOG_NONE")
            }
            let links = try openLinks(c)
            for (l, cl) in zip(links, c.links) {
                if case .serial(let s) = cl.kind {
                    let ft = SerialLink.frameTimeMilliseconds(baud: s.baud)
                    if ft * 2 > Double(cl.keepaliveMs) {
                        log.write(.warning, "link \(l.name): one frame takes \(Int(ft)) ms at \(s.baud) baud; keepalive \(cl.keepaliveMs) ms leaves no headroom", event: "SERIAL_TOO_SLOW",
                              [("SHAOLIN_LINK", l.name)])
                    }
                }
                if !l.carrierUp {
                    log.write(.warning, "link \(l.name) is down at start; it will be retried", event: "LINK_DOWN",
                              [("SHAOLIN_LINK", l.name), ("SHAOLIN_PEER", c.peer.name)])
                }
            }
            // Signals go to the real-time loop through a signalfd: block them before any thread starts.
            let signals: SignalFD
            do { signals = try SignalFD.open() } catch { throw StartupError("signalfd: \(error)") }
            var pipeFDs: [Int32] = [0, 0]
            guard pipe(&pipeFDs) == 0 else { throw StartupError("pipe: \(FileIO.errnoText())") }
            for fd in pipeFDs {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
            // The watchdog is opened last before the threads start: opening it starts the countdown.
            let health = EngineHealth()
            var hardware: (HardwareWatchdog, WatchdogIdentity)?
            if !c.watchdog.isDisabled { hardware = try WatchdogSetup.open(c.watchdog, log: log) }
            let toSlow = SPSCQueue<SlowMessage>(capacity: 4096)
            let fromSlow = SPSCQueue<RealtimeInput>(capacity: 256)
            let slow = SlowSide(toSlow: toSlow, toRealtime: fromSlow, wakeWrite: FileDescriptor(rawValue: pipeFDs[1]),
                                log: log, fencing: fenceSequence(c, log: log), linkNames: c.links.map(\.name),
                                statusPath: options.statusPath, nodeName: c.node.name, peerName: c.peer.name,
                                health: health, watchdog: hardware?.1, watchdogStatus: .configured(c.watchdog))
            // Application Availability Control: its own threads (started after the capability
            // drop); it asks for a handover through the slow side's queue to the loop and never
            // touches the real-time thread. A critical rule failed beyond recovery withholds the
            // hardware watchdog's keepalive on the ACTIVE (docs/watchdog.md).
            let aac = AACSupervisor(aac: c.aac, node: c.node.name, log: log,
                                    submit: { [slow] command, id in slow.submit(command, id: id) })
            slow.aacSupervisor = aac
            slow.aac = AACControlAdapter(aac, configuration: c)
            slow.notifier = ServiceNotifier.forThisProcess(keepalive: .ms(c.links.map(\.keepaliveMs).min() ?? c.timing.keepaliveMs), peerName: c.peer.name,
                                                           linkCount: links.count, log: log)
            log.write(.notice, "starting: node \(c.node.name) (id \(c.node.id)), peer \(c.peer.name), \(links.count) link(s), incarnation \(String(incarnation, radix: 16))", event: "START",
                      [("SHAOLIN_PEER", c.peer.name), ("SHAOLIN_INCARNATION", String(incarnation, radix: 16))])
            // The control interface: its sockets open now (with full privileges), its thread
            // starts after the capability drop. A control socket that cannot open is logged, not
            // fatal: the cluster matters more than its console.
            let control = ControlServer(settings: ControlSettings(c.control), slow: slow, log: log, key: key.bytes,
                                        nodeName: c.node.name, configPath: options.configPath, configuration: c)
            var controlListening = true
            do { try control.listen() } catch {
                controlListening = false
                log.write(.error, "\(error)", event: "CONTROL_FAILED")
            }
            let degraded: Bool
            let loop: RealtimeLoop
            do {
                degraded = try enterRealtime(c.realtime, log: log)
                let keeper = hardware.map { hw in
                    WatchdogKeeper(device: hw.0, health: health, petInterval: Nanos.ms(c.watchdog.petIntervalMs).value,
                                   slack: Nanos.ms(c.watchdog.slackMs).value,
                                   slowSideTimeout: Nanos.ms(c.watchdog.slowSideTimeoutMs).value,
                                   now: SystemClock.monotonicNanos())
                }
                do {
                    loop = try RealtimeLoop(machine: machine, links: links, toSlow: toSlow, fromSlow: fromSlow,
                                            wakePipe: FileDescriptor(rawValue: pipeFDs[0]), signals: signals,
                                            realtimeDegraded: degraded, watchdog: keeper, wakeOnFrames: c.realtime.wakeOnFrames)
                } catch { throw StartupError("event loop: \(error)") }
            } catch {
                // Never served: do not reset the machine for a start-up failure. (The slow
                // side has not been started yet, so there is nothing to stop.)
                if let hw = hardware { _ = hw.0.disarmAndClose() }
                throw error
            }
            // Start-up is over (memory locked, SCHED_FIFO, sockets and devices open): drop the
            // capabilities the engine no longer needs, *before* any other thread exists.
            if options.dropCapabilities { EngineCapabilities.drop(log: log) }
            log.startWriter()
            do { try slow.start() } catch {
                if let hw = hardware { _ = hw.0.disarmAndClose() }
                throw StartupError("cannot start the slow-side thread: \(error)")
            }
            aac.start()
            if controlListening {
                do { try control.startThread() } catch { log.write(.error, "\(error)", event: "CONTROL_FAILED") }
            }
            let reason = loop.run()
            if let hw = hardware {
                if reason == .left {
                    if let e = loop.releaseWatchdog(disarm: true) {
                        log.write(.error, "watchdog \(hw.1.device) could not be disarmed (\(e)): the node resets in \(hw.1.timeoutS) s", event: "WATCHDOG_DISARM_FAILED")
                    } else {
                        log.write(.notice, "watchdog \(hw.1.device) disarmed (WDIOS_DISABLECARD, magic close)\(hw.1.nowayout ? "; the driver is nowayout: the node resets in \(hw.1.timeoutS) s anyway" : "")", event: "WATCHDOG_DISARMED")
                    }
                } else {
                    _ = loop.releaseWatchdog(disarm: false)
                    log.write(.critical, "watchdog \(hw.1.device) left armed: the node resets in \(hw.1.timeoutS) s unless shaolind is restarted and pets it", event: "WATCHDOG_LEFT_ARMED")
                }
            }
            control.stop()
            aac.roleChanged(to: .stopped)
            aac.stop(wait: false)
            slow.stop()
            switch reason {
            case .left: return 0
            case .handedOver: return 10
            case .stoodDown: return 11
            case .failed(let m): log.write(.error, m); return 1
            }
        } catch {
            log.write(.error, "\(error)", event: "START_FAILED")
            return 1
        }
    }
}

public func printErr(_ s: String) {
    var bytes = Array((s + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
