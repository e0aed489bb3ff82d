import Foundation
import Testing

import ShaolinCore

/// A minimal valid file; tests append to it or replace lines of it.
private let minimal = minimalConfigurationText

/// `minimal` with `old` replaced by `new` (the text must occur).
private func minimal(replacing old: String, with new: String) -> String {
    #expect(minimal.contains(old), "test setup: '\(old)' not in the minimal file")
    return minimal.replacingOccurrences(of: old, with: new)
}

private func load(_ text: String) -> ConfigurationLoad { Configuration.load(text) }

/// The error descriptions of a text.
private func errors(_ text: String) -> [String] { load(text).errors.map(\.description) }

private func loadValid(_ text: String) throws -> Configuration {
    let r = load(text)
    #expect(r.errors.isEmpty, "unexpected errors: \(r.errors.map(\.description))")
    return try #require(r.configuration)
}

private let exampleURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("docs/shaolin.example.toml")

// The configuration value types have no public memberwise initializers, and the suite builds in
// release without `@testable`: compare link kinds through these instead of constructing values.
private struct EthernetFields: Equatable {
    var interface: String, peer: Configuration.PeerAddress, ethertype: UInt16
}
private struct SerialFields: Equatable {
    var device: String, baud: Int, flowControl: Bool
}
private enum LinkFields: Equatable {
    case ethernet(EthernetFields), serial(SerialFields)
}
private func ethernetLink(interface: String, peer: Configuration.PeerAddress, ethertype: UInt16) -> LinkFields {
    .ethernet(EthernetFields(interface: interface, peer: peer, ethertype: ethertype))
}
private func serialLink(device: String, baud: Int, flowControl: Bool) -> LinkFields {
    .serial(SerialFields(device: device, baud: baud, flowControl: flowControl))
}
private func == (k: Configuration.LinkKind, f: LinkFields) -> Bool {
    switch k {
    case .ethernet(let e): f == .ethernet(EthernetFields(interface: e.interface, peer: e.peer, ethertype: e.ethertype))
    case .serial(let s): f == .serial(SerialFields(device: s.device, baud: s.baud, flowControl: s.flowControl))
    }
}

@Suite struct ConfigurationTests {
    @Test func minimalFileGetsAllDefaults() throws {
        let c = try loadValid(minimal)
        #expect(c.cluster.keyFile == "/etc/shaolin/cluster.key")
        #expect(c.cluster.bootOrder == .ascending)
        #expect(c.cluster.preferredNode == "")
        #expect(c.cluster.failbackDelayMs == 10_000)
        #expect(c.node.priority == 100)
        #expect(c.timing.keepaliveMs == 100)
        #expect(c.timing.deadtimeMs == 1000)
        #expect(c.timing.warntimeMs == 500)
        #expect(c.timing.startupTimeoutMs == 5000)
        #expect(c.timing.takeoverTimeoutMs == 1000)
        #expect(c.timing.stallThresholdMs == nil)
        #expect(c.links[0].kind == ethernetLink(interface: "eth1", peer: .mac(MACAddress("52:54:00:12:34:56")!), ethertype: 0x88B5))
        #expect(c.fencing.methods == [.manual])
        #expect(c.watchdog.timeoutS == 10)
        #expect(c.realtime.enabled && c.realtime.priority == 50 && c.realtime.cpu == -1 && c.realtime.mlock && !c.realtime.allowDegraded)
        #expect(!c.realtime.wakeOnFrames)
        #expect(c.control.socket == "/run/shaolin/control.sock" && c.control.tcpListen == "")
        #expect(c.log.target == .auto && c.log.level == .info)
        // Manual-only fencing is legal but worth a warning.
        #expect(load(minimal).warnings.contains { $0.keyPath == "fencing.methods" })
    }

    @Test func exampleFileLoadsAndMapsToParameters() throws {
        let bytes = try [UInt8](Data(contentsOf: exampleURL))
        let r = Configuration.load(bytes: bytes)
        #expect(r.errors.isEmpty, "\(r.errors.map(\.description))")
        #expect(r.warnings.isEmpty, "\(r.warnings.map(\.description))")
        let c = try #require(r.configuration)
        let p = c.clusterParameters()
        #expect(p.problems().isEmpty)
        #expect(p.clusterID == 42)
        #expect(p.localNodeID == 1 && p.peerNodeID == 2)
        #expect(p.localPriority == 100 && p.peerPriority == 100)
        #expect(p.bootOrder == .ascending)
        #expect(p.links == [
            LinkParameters(id: 0, keepalive: .ms(100), deadtime: .ms(1000), warntime: .ms(500)),
            LinkParameters(id: 1, keepalive: .ms(200), deadtime: .ms(2000), warntime: .ms(1000)),
        ])
        #expect(p.minAliveLinks == 1)
        #expect(p.startupTimeout == .ms(5000))
        #expect(p.syncTimeout == .ms(10_000))
        #expect(p.takeoverRequestTimeout == .ms(2000))
        #expect(p.fenceRaceDelay == .ms(5000))
        #expect(p.fenceRetryInitial == .ms(1000) && p.fenceRetryMax == .ms(30_000))
        #expect(p.preferredNodeID == 1)
        #expect(p.failbackDelay == .ms(10_000))
        // Stall timers absent: ClusterParameters computes them (half / one shortest keepalive).
        #expect(p.stallThreshold == .ms(50) && p.stallGraceMargin == .ms(100))
        #expect(c.fencing.methods == [.ipmi, .manual])
        #expect(c.fencing.ipmi?.passwordFile == "/etc/shaolin/ipmi.pass")
        #expect(c.fencing.ipmi?.passwordEnv == nil)
        #expect(c.links[1].kind == serialLink(device: "/dev/ttyS1", baud: 115_200, flowControl: false))
    }

    @Test func effectiveTextReparsesToTheSameConfiguration() throws {
        let texts = [
            minimal,
            try String(contentsOf: exampleURL, encoding: .utf8),
            minimal + """

                [fencing]
                methods = ["fence-agent", "command"]
                [fencing.agent]
                path = "/usr/sbin/fence_ipmilan"
                options = { ip = "10.0.0.2", "user name" = "a\\"b" }
                [fencing.command]
                path = "/usr/local/sbin/fence-peer"
                args = ["--node", "beta"]
                """,
        ]
        for text in texts {
            let c = try loadValid(text)
            let effective = c.effectiveText()
            let again = try loadValid(effective)
            #expect(again == c, "effective text:\n\(effective)")
            #expect(again.effectiveText() == effective)
        }
    }

    @Test func stallTimersPassThrough() throws {
        let c = try loadValid(minimal + "\n[timing]\nstall_threshold_ms = 30\nstall_grace_ms = 40\n")
        #expect(c.clusterParameters().stallThreshold == .ms(30))
        #expect(c.clusterParameters().stallGraceMargin == .ms(40))
        #expect(try loadValid(c.effectiveText()) == c)
    }

    @Test func linkTimingDefaults() throws {
        // A link with its own keepalive gets 10x / 5x derived from it when [timing] sets no deadtime.
        let c = try loadValid(minimal(replacing: "type = \"ethernet\"", with: "type = \"ethernet\"\nkeepalive_ms = 300"))
        #expect(c.links[0].keepaliveMs == 300 && c.links[0].deadtimeMs == 3000 && c.links[0].warntimeMs == 1500)
        #expect(c.timing.startupTimeoutMs == 6000)  // max(5000, 2 x 3000)
        #expect(c.timing.takeoverTimeoutMs == 3000)
    }

    @Test func deadtimeRuleNamesKeyAndLine() {
        let text = minimal + "\n[timing]\nkeepalive_ms = 100\ndeadtime_ms = 150\nwarntime_ms = 120\n"
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("deadtime_ms") }! + 1
        #expect(errors(text) == ["line \(line): timing.deadtime_ms: must be more than 2 x keepalive_ms (100), got 150"])
    }

    @Test func warntimeRule() {
        let e = errors(minimal + "\n[timing]\nwarntime_ms = 1000\n")
        #expect(e.count == 1)
        #expect(e.first?.contains("timing.warntime_ms: must lie strictly between keepalive_ms (100, default) and deadtime_ms (1000, default), got 1000") == true)
        // A link's own keepalive that breaks the inherited warntime is reported at the link's key.
        let e2 = load(minimal(replacing: "type = \"ethernet\"", with: "type = \"ethernet\"\nkeepalive_ms = 600") + "\n[timing]\ndeadtime_ms = 5000\nwarntime_ms = 500\n").errors
        #expect(e2.map(\.keyPath) == ["link[0].keepalive_ms"])
        #expect(e2.first?.line == 15)
        #expect(e2.first?.message == "warntime_ms (500, from [timing]) must lie strictly between keepalive_ms (600) and deadtime_ms (5000, from [timing])")
    }

    @Test func startupTimeoutRule() {
        let e = load(minimal + "\n[timing]\nstartup_timeout_ms = 900\n").errors
        #expect(e.map(\.keyPath) == ["timing.startup_timeout_ms"])
        #expect(e.first?.message == "must be at least the longest deadtime (1000), got 900")
        #expect(e.first?.line == 21)
    }

    @Test func nodeAndPeerRules() {
        let e = load(minimal(replacing: "name = \"beta\"\nid = 2", with: "name = \"alpha\"\nid = 1")).errors
        #expect(e.map(\.keyPath) == ["peer.name", "peer.id"])
        #expect(e.map(\.line) == [9, 10])
        let bad = load(minimal(replacing: "name = \"alpha\"\nid = 1", with: "name = \"al pha\"\nid = 0\npriority = 256")).errors
        #expect(bad.map(\.keyPath) == ["node.name", "node.id", "node.priority"])
        #expect(bad.map(\.line) == [5, 6, 7])
    }

    @Test func preferredNodeMustBeAKnownName() throws {
        let e = load(minimal(replacing: "id = 42", with: "id = 42\npreferred_node = \"gamma\"")).errors
        #expect(e.map(\.keyPath) == ["cluster.preferred_node"])
        #expect(e.first?.line == 3)
        let c = try loadValid(minimal(replacing: "id = 42", with: "id = 42\npreferred_node = \"beta\""))
        #expect(c.clusterParameters().preferredNodeID == 2)
    }

    @Test func minAliveLinksRange() {
        let e = load(minimal(replacing: "id = 42", with: "id = 42\nmin_alive_links = 2")).errors
        #expect(e.map(\.description) == ["line 3: cluster.min_alive_links: must be between 1 and the number of links (1), got 2"])
        #expect(load(minimal(replacing: "id = 42", with: "id = 42\nmin_alive_links = 0")).errors.map(\.keyPath) == ["cluster.min_alive_links"])
    }

    @Test func linkCountAndNames() {
        let noLinks = minimal.replacingOccurrences(
            of: "[[link]]\nname = \"eth1-hb\"\ntype = \"ethernet\"\ninterface = \"eth1\"\npeer_mac = \"52:54:00:12:34:56\"\n", with: "")
        #expect(load(noLinks).errors.map(\.description) == ["link: at least one [[link]] is required"])
        var many = minimal
        for i in 0..<8 { many += "\n[[link]]\nname = \"s\(i)\"\ntype = \"serial\"\ndevice = \"/dev/ttyS\(i)\"\n" }
        #expect(load(many).errors.map(\.keyPath) == ["link[8]"])
        let dup = minimal + "\n[[link]]\nname = \"eth1-hb\"\ntype = \"serial\"\ndevice = \"/dev/ttyS1\"\n"
        let e = load(dup).errors
        #expect(e.map(\.keyPath) == ["link[1].name"])
        #expect(e.first?.message.contains("already used by link[0] (line 13)") == true)
        let singleTable = minimal.replacingOccurrences(of: "[[link]]", with: "[link]")
        #expect(load(singleTable).errors.map(\.keyPath) == ["link"])
    }

    @Test(arguments: ["52:54:00:12:34", "52:54:00:12:34:zz", "52-54:00:12:34:56", "01:00:5e:00:00:01", "00:00:00:00:00:00", ""])
    func badMAC(_ mac: String) {
        let e = load(minimal(replacing: "52:54:00:12:34:56", with: mac)).errors
        #expect(e.map(\.keyPath) == ["link[0].peer_mac"])
        #expect(e.first?.line == 16)
    }

    @Test func goodMACForms() throws {
        #expect(try loadValid(minimal(replacing: "52:54:00:12:34:56", with: "52-54-00-AB-cd-56")).links[0].kind
            == ethernetLink(interface: "eth1", peer: .mac(MACAddress("52:54:00:ab:cd:56")!), ethertype: 0x88B5))
        for b in ["broadcast", "ff:ff:ff:ff:ff:ff"] {
            #expect(try loadValid(minimal(replacing: "52:54:00:12:34:56", with: b)).links[0].kind
                == ethernetLink(interface: "eth1", peer: .broadcast, ethertype: 0x88B5))
        }
    }

    @Test func ethernetRules() {
        let e = load(minimal(replacing: "interface = \"eth1\"", with: "interface = \"a/very/long/ifname\"\nethertype = 0x0500\nbaud = 9600")).errors
        #expect(e.map(\.keyPath) == ["link[0].interface", "link[0].ethertype", "link[0].baud"])
        #expect(e.last?.message == "'baud' does not apply to an ethernet link")
        #expect(load(minimal(replacing: "interface = \"eth1\"", with: "interface = \"eth1\"\nethertype = 0x05DC")).errors.first?.message
            == "must be at least 0x0600 (smaller values are frame lengths, not EtherTypes), got 0x05DC")
    }

    private func serial(_ extra: String) -> String {
        minimal + "\n[[link]]\nname = \"ser\"\ntype = \"serial\"\ndevice = \"/dev/ttyS1\"\n" + extra
    }

    @Test(arguments: [Int64(4800), 1_000_000, 0, -9600])
    func baudOutsideRange(_ baud: Int64) {
        let e = load(serial("baud = \(baud)\n")).errors
        #expect(e.map(\.keyPath) == ["link[1].baud"])
        #expect(e.first?.line == 24)
        #expect(e.first?.message.contains("must be between 9600 and 921600") == true)
    }

    @Test func baudMustBeAStandardRate() throws {
        #expect(load(serial("baud = 100000\n")).errors.first?.message.hasPrefix("must be one of 9600, 19200") == true)
        for baud in [9600, 19200, 38400, 57600, 115_200, 230_400, 460_800, 921_600] {
            let c = try loadValid(serial("baud = \(baud)\nkeepalive_ms = 1000\n"))
            #expect(c.links[1].kind == serialLink(device: "/dev/ttyS1", baud: baud, flowControl: false))
        }
    }

    @Test func serialKeepaliveTooShortForBaudWarns() throws {
        // 90 bytes x 10 bits at 9600 baud = 93.75 ms, more than half of 100 ms.
        let r = load(serial("baud = 9600\n"))
        #expect(r.errors.isEmpty)
        #expect(r.warnings.map(\.keyPath).contains("link[1].baud"))
        #expect(r.warnings.first { $0.keyPath == "link[1].baud" }?.line == 24)
        // At 200 ms keepalive it fits.
        #expect(!load(serial("baud = 9600\nkeepalive_ms = 200\n")).warnings.contains { $0.keyPath.hasPrefix("link[1]") })
        #expect(Configuration.serialFrameWireBytes == 90)
    }

    @Test func serialRules() {
        let e = load(serial("device = \"ttyS1\"\ninterface = \"eth0\"\nflow_control = 1\n").replacingOccurrences(of: "device = \"/dev/ttyS1\"\n", with: "")).errors
        #expect(e.map(\.keyPath) == ["link[1].device", "link[1].interface", "link[1].flow_control"])
    }

    @Test func unknownKeysWithSuggestions() {
        let e = load(minimal + "\n[timing]\nkeepaliv_ms = 100\nfrobnicate = 1\n\n[bogus]\nx = 1\n").errors
        #expect(e.map(\.description) == [
            "line 21: timing.keepaliv_ms: unknown key 'keepaliv_ms' in [timing] (did you mean 'keepalive_ms'?)",
            "line 22: timing.frobnicate: unknown key 'frobnicate' in [timing]",
            "line 24: bogus: unknown table [bogus]",
        ])
        let inLink = load(minimal(replacing: "interface = \"eth1\"", with: "interface = \"eth1\"\ncritcal = true")).errors
        #expect(inLink.map(\.description) == ["line 16: link[0].critcal: unknown key 'critcal' in [[link]] #0 (did you mean 'critical'?)"])
    }

    @Test func wrongTypes() {
        let text = minimal(replacing: "id = 42", with: "id = \"42\"\nboot_order = 1\nfailback_delay_ms = 1.5")
        let e = load(text).errors
        #expect(e.map(\.description) == [
            "line 2: cluster.id: expected an integer, got a string \"42\"",
            "line 3: cluster.boot_order: expected a string, got an integer 1",
            "line 4: cluster.failback_delay_ms: expected an integer, got a float 1.5",
        ])
        #expect(load(minimal + "\n[realtime]\nenabled = \"yes\"\n").errors.map(\.keyPath) == ["realtime.enabled"])
        #expect(load(minimal + "\n[realtime]\nwake_on_frames = 1\n").errors.map(\.keyPath) == ["realtime.wake_on_frames"])
        #expect(load(minimal + "\n[realtime]\nwake_on_frames = true\n").configuration?.realtime.wakeOnFrames == true)
        #expect(load(minimal + "\n[log]\nlevel = \"loud\"\n").errors.first?.message == "must be one of \"debug\", \"info\", \"notice\", \"warning\", \"error\", got \"loud\"")
    }

    @Test func missingRequiredKeys() {
        let e = load("[watchdog]\ndevice = \"none\"\n").errors.map(\.description)
        #expect(e == [
            "node.name: required key is missing from [node]",
            "node.id: required key is missing from [node]",
            "peer.name: required key is missing from [peer]",
            "peer.id: required key is missing from [peer]",
            "link: at least one [[link]] is required",
            "cluster.id: required key is missing from [cluster]",
        ])
    }

    @Test func watchdogMustBeExplicitDeviceDefaultsToDevWatchdog() throws {
        // A [watchdog] table without a device: /dev/watchdog and the defaults.
        let noDevice = load(minimal.replacingOccurrences(of: "device = \"/dev/watchdog\"", with: "timeout_s = 10"))
        #expect(noDevice.errors.isEmpty, "\(noDevice.errors)")
        let w = try #require(noDevice.configuration?.watchdog)
        #expect(w == Configuration.Watchdog(device: "/dev/watchdog", timeoutS: 10, slackMs: 1000, slowSideTimeoutMs: 3000, petIntervalMs: 1000))
        // Neither a table nor watchdog = "none": an error naming the key.
        let noTable = minimal.replacingOccurrences(of: "[watchdog]\ndevice = \"/dev/watchdog\"", with: "")
        let e = load(noTable).errors
        #expect(e.map(\.keyPath) == ["watchdog"])
        #expect(e.first?.message.contains("watchdog = \"none\"") == true)
        #expect(e.first?.message.contains("/dev/watchdog") == true)
        // The short form, at the top of the file.
        let short = load("watchdog = \"none\"\n" + noTable)
        #expect(short.errors.isEmpty, "\(short.errors)")
        #expect(short.configuration?.watchdog.isDisabled == true)
        #expect(short.warnings.contains { $0.keyPath == "watchdog" && $0.line == 1 && $0.message.contains("cannot reset itself") })
        let wrong = load("watchdog = \"off\"\n" + noTable).errors
        #expect(wrong.map(\.keyPath) == ["watchdog"])
        #expect(wrong.first?.line == 1)
        #expect(load("watchdog = false\n" + noTable).errors.map(\.keyPath) == ["watchdog"])
        // device = "none" in the table still works.
        let none = load(minimal.replacingOccurrences(of: "/dev/watchdog", with: "none"))
        #expect(none.errors.isEmpty)
        #expect(none.warnings.contains { $0.keyPath == "watchdog.device" && $0.line == 19 })
        #expect(load(minimal.replacingOccurrences(of: "/dev/watchdog", with: "watchdog")).errors.map(\.keyPath) == ["watchdog.device"])
        // Both spellings of "none" print and re-read the same.
        let a = try #require(short.configuration)
        let b = try #require(none.configuration)
        #expect(a == b)
        #expect(Configuration.load(a.effectiveText()).configuration == a)
    }

    @Test func watchdogTimingKeys() throws {
        let text = minimal + "\ntimeout_s = 4\nslack_ms = 250\nslow_side_timeout_ms = 1500\npet_interval_ms = 500\n"
        let w = try #require(load(text).configuration?.watchdog)
        #expect(w == Configuration.Watchdog(device: "/dev/watchdog", timeoutS: 4, slackMs: 250, slowSideTimeoutMs: 1500, petIntervalMs: 500))
        let c = try #require(load(text).configuration)
        #expect(Configuration.load(c.effectiveText()).configuration == c)
        // Short timeouts shrink the defaults.
        let short = try #require(load(minimal + "\ntimeout_s = 1\n").configuration?.watchdog)
        #expect(short.slackMs == 500 && short.petIntervalMs == 250)
        // A slack as long as the timeout, or pets more than half a timeout apart: errors.
        let slack = load(minimal + "\ntimeout_s = 2\nslack_ms = 2000\n").errors
        #expect(slack.map(\.keyPath) == ["watchdog.slack_ms"])
        #expect(slack.first?.line == 21)
        #expect(load(minimal + "\ntimeout_s = 2\npet_interval_ms = 1001\n").errors.map(\.keyPath) == ["watchdog.pet_interval_ms"])
        #expect(load(minimal + "\ntimeout_s = 2\npet_interval_ms = 1000\n").errors.isEmpty)
        #expect(load(minimal + "\nslow_side_timeout_ms = 5\n").errors.map(\.keyPath) == ["watchdog.slow_side_timeout_ms"])
        #expect(load(minimal + "\nslak_ms = 5\n").errors.first?.message.contains("did you mean 'slack_ms'") == true)
    }

    @Test func selfFencingRelationIsAnErrorForAFenceCommand() {
        let command = """

            [fencing]
            methods = ["command"]
            [fencing.command]
            path = "/usr/local/sbin/pdu-off"
            timeout_ms = 5000
            """
        // 10 s watchdog + 100 ms keepalive >= 1000 ms deadtime + 5000 ms: a hung node may still
        // run when the peer's command "confirms" — and nothing else stops it.
        let r = load(minimal + command)
        #expect(r.errors.map(\.keyPath) == ["watchdog.timeout_s"])
        #expect(r.errors.first?.line == 18)
        #expect(r.errors.first?.message.contains("fence command") == true)
        #expect(load(minimal + "\ntimeout_s = 5" + command).errors.isEmpty)
        // 4900 + 100 = 5000 < 6000 passes; 6 s fails (6100 >= 6000).
        #expect(load(minimal + "\ntimeout_s = 6" + command).errors.map(\.keyPath) == ["watchdog.timeout_s"])
        // No watchdog: nothing to check.
        #expect(load(minimal.replacingOccurrences(of: "/dev/watchdog", with: "none") + command).errors.isEmpty)
        // The peer declares a node dead when the first critical link dies, or when fewer than
        // min_alive_links remain: the relation uses that deadtime.
        // Two links (1000 ms and 3000 ms), one must stay alive: dead after 3000 ms.
        // 6000 + 100 < 3000 + 5000.
        let twoLinks = minimal + "\ntimeout_s = 6" + """

            [[link]]
            name = "ser"
            type = "serial"
            device = "/dev/ttyS1"
            deadtime_ms = 3000
            warntime_ms = 2000
            """ + command
        #expect(load(twoLinks).errors.isEmpty, "\(load(twoLinks).errors)")
        // The 1000 ms link critical: dead after 1000 ms; 6100 >= 6000.
        let critical = twoLinks.replacingOccurrences(of: "peer_mac = \"52:54:00:12:34:56\"", with: "peer_mac = \"52:54:00:12:34:56\"\ncritical = true")
        #expect(load(critical).errors.map(\.keyPath) == ["watchdog.timeout_s"], "\(load(critical).errors)")
    }

    @Test func watchdogLongerThanDeadtimePlusFenceWarns() {
        let ipmi = """

            [fencing]
            methods = ["ipmi"]
            [fencing.ipmi]
            host = "10.0.0.2"
            user = "admin"
            password_env = "IPMI_PASSWORD"
            power_timeout_ms = 5000
            """
        // 1000 ms deadtime + 5000 ms power-off wait = 6 s <= 10 s watchdog.
        let r = load(minimal + ipmi)
        #expect(r.errors.isEmpty, "\(r.errors)")
        #expect(r.warnings.map(\.keyPath) == ["watchdog.timeout_s"])
        #expect(r.warnings.first?.line == 18)
        let ok = load(minimal + "\ntimeout_s = 5" + ipmi)
        #expect(ok.errors.isEmpty && ok.warnings.isEmpty, "\(ok.warnings)")
    }

    @Test func fencingRules() {
        #expect(load(minimal + "\n[fencing]\nmethods = []\n").errors.map(\.keyPath) == ["fencing.methods"])
        #expect(load(minimal + "\n[fencing]\nmethods = [\"stonith\"]\n").errors.first?.message.hasPrefix("unknown fence method \"stonith\"") == true)
        #expect(load(minimal + "\n[fencing]\nmethods = [\"manual\", \"manual\"]\n").errors.map(\.keyPath) == ["fencing.methods"])
        #expect(load(minimal + "\n[fencing]\nmethods = [\"manual\", 1]\n").errors.map(\.keyPath) == ["fencing.methods[1]"])
        let needsTable = load(minimal + "\n[fencing]\nmethods = [\"ipmi\"]\n").errors
        #expect(needsTable.map(\.message) == ["method \"ipmi\" needs a [fencing.ipmi] table"])
        #expect(needsTable.first?.line == 21)
        let retry = load(minimal + "\n[fencing]\nretry_initial_ms = 5000\nretry_max_ms = 4000\n").errors
        #expect(retry.map(\.description) == ["line 22: fencing.retry_max_ms: retry_max_ms (4000) must be at least retry_initial_ms (5000)"])
    }

    @Test func ipmiRules() {
        let base = minimal + "\n[fencing]\nmethods = [\"ipmi\"]\n[fencing.ipmi]\n"
        let none = load(base + "host = \"\"\n").errors.map(\.keyPath)
        #expect(Set(none) == ["fencing.ipmi.host", "fencing.ipmi.user", "fencing.ipmi.password_file"])
        #expect(none.count == 3)
        let both = load(base + "host = \"h\"\nuser = \"u\"\npassword_file = \"/p\"\npassword_env = \"P\"\n").errors
        #expect(both.map(\.keyPath) == ["fencing.ipmi.password_env"])
        let ranges = load(base + "host = \"h\"\nuser = \"u\"\npassword_env = \"1X\"\ncipher_suite = 18\nretries = 11\nprivilege = \"root\"\naction = \"halt\"\nport = 0\n").errors
        #expect(ranges.map(\.keyPath) == [
            "fencing.ipmi.password_env", "fencing.ipmi.cipher_suite", "fencing.ipmi.retries",
            "fencing.ipmi.privilege", "fencing.ipmi.action", "fencing.ipmi.port",
        ])
    }

    @Test func agentOptionsAsSubTable() throws {
        let c = try loadValid(minimal + """

            [fencing]
            methods = ["fence-agent"]
            [fencing.agent]
            path = "/usr/sbin/fence_ipmilan"
            [fencing.agent.options]
            ip = "10.0.0.2"
            username = "admin"
            """)
        #expect(c.fencing.agent?.options.map { [$0.name, $0.value] } == [["ip", "10.0.0.2"], ["username", "admin"]])
        #expect(c.fencing.agent?.timeoutMs == 30_000)
        let bad = load(minimal + "\n[fencing]\nmethods = [\"fence-agent\"]\n[fencing.agent]\npath = \"fence_x\"\noptions = { n = 1 }\n").errors
        #expect(bad.map(\.keyPath) == ["fencing.agent.path", "fencing.agent.options.n"])
    }

    @Test func controlAndRealtimeRules() {
        let e = load(minimal + "\n[control]\nsocket = \"x.sock\"\ntcp_listen = \"host\"\n[realtime]\npriority = 99\ncpu = -2\n").errors
        #expect(e.map(\.keyPath) == ["control.socket", "control.tcp_listen", "realtime.priority", "realtime.cpu"])
        for good in ["0.0.0.0:7650", "[::1]:7650", "node-a:1"] {
            #expect(load(minimal + "\n[control]\ntcp_listen = \"\(good)\"\n").errors.isEmpty, "\(good)")
        }
        for bad in [":7650", "::1:7650", "h:0", "h:65536", "h:"] {
            #expect(load(minimal + "\n[control]\ntcp_listen = \"\(bad)\"\n").errors.map(\.keyPath) == ["control.tcp_listen"], "\(bad)")
        }
    }

    @Test func manyErrorsAreReportedTogetherInFileOrder() {
        let text = """
            [cluster]
            id = 0
            boot_order = "up"

            [node]
            name = "alpha"
            id = 1

            [peer]
            name = "beta"
            id = 1

            [timing]
            keepalive_ms = 100
            deadtime_ms = 150

            [[link]]
            name = "eth1-hb"
            type = "ethernet"
            interface = "eth1"
            peer_mac = "nope"

            [[link]]
            name = "ser"
            type = "serial"
            device = "/dev/ttyS1"
            baud = 1234

            [watchdog]
            timeout_s = 0
            """
        let e = load(text).errors
        #expect(e.map(\.keyPath) == [
            "cluster.id", "cluster.boot_order", "peer.id", "timing.deadtime_ms", "link[0].peer_mac", "link[1].baud",
            "watchdog.timeout_s",
        ])
        #expect(e.map(\.line) == [2, 3, 11, 15, 21, 27, 30])
        #expect(load(text).configuration == nil)
    }

    @Test func syntaxErrorIsReportedWithLineAndColumn() {
        let e = load("[cluster]\nid 42\n").errors
        #expect(e.map(\.description) == ["line 2, column 4: expected '=' after key 'id', found '4'"])
    }

    @Test func initThrowsAllErrors() {
        #expect(throws: ConfigurationErrors.self) { try Configuration(parsing: "[cluster]\nid = 0\n") }
        do {
            _ = try Configuration(parsing: "[cluster]\nid = 0\n")
        } catch {
            #expect(error.errors.count > 1)
        }
    }

    /// The decoder's cross-key rules agree with `ClusterParameters.problems()` on random timings.
    @Test func rulesAgreeWithClusterParameters() throws {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<400 {
            let k = Int64(1 + rng.next() % 400)
            let d = Int64(1 + rng.next() % 2000)
            let w = Int64(1 + rng.next() % 2000)
            let s = Int64(1 + rng.next() % 3000)
            let r = rng.next() % 2000
            let ri = Int64(1 + r), rm = Int64(1 + rng.next() % 2000)
            let text = minimal + """

                [timing]
                keepalive_ms = \(k)
                deadtime_ms = \(d)
                warntime_ms = \(w)
                startup_timeout_ms = \(s)
                [fencing]
                retry_initial_ms = \(ri)
                retry_max_ms = \(rm)
                """
            let loaded = load(text)
            let p = ClusterParameters(
                clusterID: 42, localNodeID: 1, peerNodeID: 2,
                links: [LinkParameters(id: 0, keepalive: .ms(k), deadtime: .ms(d), warntime: .ms(w))],
                startupTimeout: .ms(s), fenceRetryInitial: .ms(ri), fenceRetryMax: .ms(rm))
            #expect(loaded.errors.isEmpty == p.problems().isEmpty, "k=\(k) d=\(d) w=\(w) s=\(s): \(loaded.errors) vs \(p.problems())")
            if let c = loaded.configuration {
                #expect(c.clusterParameters() == p)
            }
        }
    }

    @Test func garbageNeverTraps() {
        var rng = SplitMix64(seed: 99)
        let source = Array(minimal.utf8)
        let alphabet = Array("[]{}=.,#\"'\n 0123456789abcdefnx_-:/".utf8)
        var loaded = 0
        for _ in 0..<2_000 {
            var bytes = source
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let i = Int(rng.next() % UInt64(bytes.count))
                if rng.next() % 2 == 0 {
                    bytes[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                } else {
                    bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            let r = Configuration.load(bytes: bytes)
            #expect(r.configuration != nil || !r.errors.isEmpty)
            if let c = r.configuration {
                loaded += 1
                #expect(c.clusterParameters().problems().isEmpty)
            }
        }
        #expect(loaded > 0)
    }
}
