// `reload`: re-read the configuration file, validate it completely, and apply what can change
// while the engine runs. A file with any error changes nothing. What cannot change live is
// listed as needing a restart (and left as it is).
//
// Live: log.level, control.group, [fencing] (the next fence uses the new methods; a fence in
// progress finishes with the old ones), AAC rules (when an AAC runs). Restart needed:
// [cluster] (including the key file), [node], [peer], [timing], [[link]], [watchdog],
// [realtime], control.socket, control.tcp_listen, log.target.

import ShaolinCore

public struct ReloadPlan: Sendable {
    /// Human descriptions of the live changes ("log.level: info -> debug").
    public var live: [String] = []
    /// Sections or keys that differ but need a restart of shaolind.
    public var restartRequired: [String] = []
    public var warnings: [String] = []
    public var fencingChanged = false
    public var logLevelChanged = false
    public var groupChanged = false

    /// Compares the running configuration with a validated new one.
    public static func compare(_ old: Configuration, _ new: Configuration) -> ReloadPlan {
        var p = ReloadPlan()
        if old.log.level != new.log.level {
            p.live.append("log.level: \(old.log.level.rawValue) -> \(new.log.level.rawValue)")
            p.logLevelChanged = true
        }
        if old.control.group != new.control.group {
            p.live.append("control.group: \"\(old.control.group)\" -> \"\(new.control.group)\"")
            p.groupChanged = true
        }
        if old.fencing != new.fencing {
            p.live.append("fencing: methods \(old.fencing.methods.map(\.rawValue)) -> \(new.fencing.methods.map(\.rawValue)) (used by the next fence)")
            p.fencingChanged = true
        }
        func need(_ differs: Bool, _ what: String) { if differs { p.restartRequired.append(what) } }
        need(old.cluster != new.cluster, "[cluster]")
        need(old.node != new.node, "[node]")
        need(old.peer != new.peer, "[peer]")
        need(old.timing != new.timing, "[timing]")
        need(old.links != new.links, "[[link]]")
        need(old.watchdog != new.watchdog, "[watchdog]")
        need(old.realtime != new.realtime, "[realtime]")
        need(old.control.socket != new.control.socket, "control.socket")
        need(old.control.tcpListen != new.control.tcpListen, "control.tcp_listen")
        need(old.log.target != new.log.target, "log.target")
        return p
    }

    public func json(applied: Bool) -> JSONValue {
        .object([
            ("applied", .bool(applied)),
            ("changed_live", .array(live.map { .string($0) })),
            ("restart_required", .array(restartRequired.map { .string($0) })),
            ("warnings", .array(warnings.map { .string($0) })),
            ("live_keys", .array(ReloadPlan.liveKeys.map { .string($0) })),
        ])
    }

    public static let liveKeys = ["log.level", "control.group", "[fencing]", "AAC rules"]
}
