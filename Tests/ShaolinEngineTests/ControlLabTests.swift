// The control interface against real engines: two shaolind in two network namespaces
// (tools/lab.sh), real Unix and TCP sockets, the real shaolinctl binary. Covers status of both
// nodes, a switchover that swaps the roles, bad requests, oversized lines, a client that stops
// reading, many connections, SO_PEERCRED refusal, reload, and TCP authentication failures with
// rate limiting. Throughout, the engines must keep their roles (the control side cannot
// disturb the heartbeat).
import Foundation
import ShaolinCore
import Testing

@Suite(.serialized) struct ControlLabTests {
    func json(_ output: String) throws -> JSONValue {
        let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }).map(String.init) ?? ""
        return try JSONValue.parse(line)
    }

    @Test func statusOfBothNodesAndEveryKindOfBadClient() throws {
        let lab = Lab("ctl")
        defer { lab.down() }
        try lab.up()
        try lab.wait(10, "A ACTIVE and B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        try lab.wait(5, "both see each other") { lab.status("A")?.peerAlive == true && lab.status("B")?.peerAlive == true }

        // --- status of both nodes, JSON and text
        let (codeA, outA) = try lab.ctl("A", ["status", "--json"])
        #expect(codeA == 0, "\(outA)")
        let a = try json(outA)
        #expect(a["node"]?.stringValue == "A")
        #expect(a["role"]?.stringValue == "ACTIVE")
        #expect(a["peer"]?["name"]?.stringValue == "B")
        #expect(a["peer"]?["role"]?.stringValue == "STANDBY")
        #expect(a["peer"]?["alive"]?.boolValue == true)
        #expect((a["uptime_ms"]?.intValue ?? 0) > 0)
        #expect(a["links"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["eth", "serial"])
        #expect(a["links"]?.arrayValue?.allSatisfy { $0["alive"]?.boolValue == true && ($0["last_heard_ms_ago"]?.intValue ?? -1) >= 0 } == true)
        #expect(a["watchdog"]?["state"]?.stringValue == "disabled")
        #expect((a["loop_lateness_us"]?["count"]?.intValue ?? 0) > 0)
        #expect(a["fence"]?["methods"] == .array([.string("command")]))
        #expect(a["aac_rules"] == .array([]))
        let (codeB, outB) = try lab.ctl("B", ["status", "--json"])
        #expect(codeB == 0)
        let b = try json(outB)
        #expect(b["role"]?.stringValue == "STANDBY")
        #expect(b["peer"]?["role"]?.stringValue == "ACTIVE")
        #expect(b["incarnation"] == a["peer"]?["incarnation"])
        let (_, text) = try lab.ctl("A", ["status"])
        for fragment in ["Node A  ACTIVE", "Peer B  STANDBY", "eth", "serial", "Watchdog  disabled", "Loop lateness", "AAC rules  none configured"] {
            #expect(text.contains(fragment), "missing \(fragment) in:\n\(text)")
        }

        // --- reset-lateness: both histograms start again from zero, the answer holds the old ones
        let judgedBefore = a["loop_lateness_us"]?["count"]?.intValue ?? 0
        #expect((a["loop_wakeup_us"]?["count"]?.intValue ?? -1) == judgedBefore, "one wake-up and one judged sample per timer expiry")
        #expect((a["loop_wakeup_us"]?["p99"]?.intValue ?? .max) <= (a["loop_lateness_us"]?["p99"]?.intValue ?? -1), "waking up comes before judging")
        let (codeR, outR) = try lab.ctl("A", ["reset-lateness", "--json"])
        #expect(codeR == 0, "\(outR)")
        let reset = try json(outR)
        #expect(reset["reset"] == .bool(true))
        #expect((reset["loop_lateness_us"]?["count"]?.intValue ?? 0) >= judgedBefore)
        #expect((reset["loop_wakeup_us"]?["count"]?.intValue ?? 0) >= judgedBefore)
        // The answer carries the whole histograms: [µs, count] pairs, ascending, adding up to the
        // count, the largest value being the max.
        for member in ["loop_lateness_us", "loop_wakeup_us"] {
            let pairs = reset[member]?["histogram"]?.arrayValue?.compactMap { p -> (Int64, Int64)? in
                guard let v = p.arrayValue, v.count == 2, let us = v[0].intValue, let n = v[1].intValue else { return nil }
                return (us, n)
            } ?? []
            #expect(!pairs.isEmpty && pairs.reduce(0) { $0 + $1.1 } == reset[member]?["count"]?.intValue, "\(member)")
            #expect(zip(pairs, pairs.dropFirst()).allSatisfy { $0.0 < $1.0 } && pairs.allSatisfy { $0.1 > 0 }, "\(member)")
            #expect(pairs.last?.0 == reset[member]?["max"]?.intValue, "\(member)")
        }
        let afterReset = try #require(lab.controlStatus("A"))
        let countAfter = afterReset["loop_lateness_us"]?["count"]?.intValue ?? -1
        #expect(countAfter >= 0 && countAfter < (reset["loop_lateness_us"]?["count"]?.intValue ?? 0), "after reset: \(countAfter)")
        #expect(lab.log("A").contains("loop lateness histograms reset"))
        // One sample per deadline (keepalive 100 ms: the send deadline; the warn deadlines move
        // with every heartbeat), also when a frame woke the loop just after it.
        let t0 = Int64(afterReset["now_ns"]?.intValue ?? 0)
        Thread.sleep(forTimeInterval: 3)
        let later = try #require(lab.controlStatus("A"))
        let elapsedTicks = (Int64(later["now_ns"]?.intValue ?? 0) - t0) / 100_000_000
        let counted = Int64(later["loop_wakeup_us"]?["count"]?.intValue ?? 0) - Int64(countAfter)
        #expect(elapsedTicks >= 25 && counted >= elapsedTicks - 3 && counted <= elapsedTicks + 3,
                "\(counted) lateness samples in \(elapsedTicks) keepalives")
        let (_, resetText) = try lab.ctl("B", ["reset-lateness"])
        #expect(resetText.contains("B: loop lateness histograms reset") && resetText.contains("wake-up  p50"), "\(resetText)")

        // --- bad requests: each gets its own clear error, the connection stays usable
        let s = try ControlSocket(path: lab.socket("A"))
        let hello = try #require(try s.readMessage())
        #expect(hello["type"]?.stringValue == "hello" && hello["auth"]?.stringValue == "none" && hello["node"]?.stringValue == "A")
        let bad: [(String, String, String)] = [
            ("garbage", "parse_error", "invalid JSON"),
            (#"{"op":"dance","id":7}"#, "unknown_op", "unknown op"),
            ("[1,2]", "bad_request", "JSON object"),
            (#"{"op":"status","v":9}"#, "unsupported_version", "version 9"),
            (#"{"op":"maintenance","on":"yes"}"#, "bad_request", "true or false"),
            (#"{"op":"fence-confirm"}"#, "confirmation_required", "powered off"),
            (#"{"op":"rule","action":"enable","name":"web"}"#, "no_such_rule", "no such rule \"web\""),
            (String(repeating: "[", count: 5000), "parse_error", "nesting"),
        ]
        for (line, code, fragment) in bad {
            let r = try s.request(line)
            #expect(r["ok"] == .bool(false))
            #expect(r.errorCode == code, "\(line.prefix(40)): \(r.compact)")
            #expect(r.errorMessage.contains(fragment), "\(r.compact)")
        }
        #expect(try s.request(#"{"op":"dance","id":7}"#)["id"] == .int(7))
        // Invalid UTF-8 and a NUL byte.
        try s.send([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D, 0x0A])
        #expect(try s.readMessage()?.errorCode == "parse_error")
        try s.send([0x00, 0x0A])
        #expect(try s.readMessage()?.errorCode == "parse_error")
        #expect(try s.request(#"{"op":"ping"}"#)["result"]?["pong"] == .bool(true))
        // A command the state machine refuses: switchover on the STANDBY.
        let (refusedCode, refused) = try lab.ctl("B", ["switchover"])
        #expect(refusedCode == 1)
        #expect(refused.contains("not ACTIVE"), "\(refused)")

        // --- an oversized line: one error, the rest of the line skipped, then normal service
        try s.send(String(repeating: "a", count: 200_000) + "\n" + #"{"op":"ping","id":"after"}"# + "\n")
        let tooLong = try #require(try s.readMessage())
        #expect(tooLong.errorCode == "line_too_long")
        let after = try #require(try s.readMessage())
        #expect(after["id"] == .string("after") && after["ok"] == .bool(true), "\(after.compact)")

        // --- a client that sends requests and never reads the answers
        let slow = try ControlSocket(path: lab.socket("A"), timeoutMs: 30_000)
        let flood = Array(String(repeating: #"{"op":"status"}"# + "\n", count: 1_000).utf8)
        var sent = 0
        let floodStart = Date()
        while Date().timeIntervalSince(floodStart) < 3 {
            let n = slow.sendNonBlocking(flood)
            sent += n
            if n == 0 { usleep(50_000) }
        }
        // The server stopped reading from it (its answers pile up unread), so the flood stalls...
        #expect(sent < 20_000_000, "the server kept reading a client that does not read (\(sent) bytes)")
        // ...while other clients are served promptly and the cluster is undisturbed.
        var worst = 0.0
        for _ in 0..<20 {
            let t = Date()
            let r = try ControlSocket(path: lab.socket("A")).request(#"{"op":"ping"}"#)
            worst = max(worst, Date().timeIntervalSince(t))
            #expect(r["ok"] == .bool(true))
        }
        #expect(worst < 2, "a ping took \(worst) s while one client was stuck")
        let lateness = lab.controlStatus("A")?["loop_lateness_us"]
        print("control flood: \(sent) bytes accepted from the client that does not read; slowest of 20 pings meanwhile \(Int(worst * 1000)) ms; A loop lateness p99 \(lateness?["p99"]?.intValue ?? -1) us, max \(lateness?["max"]?.intValue ?? -1) us")
        #expect(lab.roles == ("ACTIVE", "STANDBY"))
        #expect(lab.status("A")?.peerAlive == true)
        // The stuck client is disconnected once its output makes no progress for 10 s.
        try lab.wait(25, "the server closes the client that stopped reading") { lab.log("A").contains("client stopped reading") }
        let drained = try slow.drainToEnd()
        #expect(drained > 0)

        // --- many connections: at most 64 at once, the rest get a clear error, nothing hangs
        var sockets: [ControlSocket] = []
        var hellos = 0, refusedConnections = 0
        for _ in 0..<300 {
            guard let c = try? ControlSocket(path: lab.socket("A"), timeoutMs: 5_000) else { refusedConnections += 1; continue }
            sockets.append(c)
        }
        for c in sockets {
            let m = try c.readMessage()
            if m?["type"]?.stringValue == "hello" { hellos += 1 } else {
                #expect(m?.errorCode == "too_many_connections", "\(m?.compact ?? "EOF")")
                refusedConnections += 1
            }
        }
        #expect(hellos <= 64 && hellos >= 60, "\(hellos) hellos")
        #expect(hellos + refusedConnections == 300)
        sockets.removeAll()
        try lab.wait(5, "a new client is served after the crowd left") {
            (try? ControlSocket(path: lab.socket("A")).request(#"{"op":"ping"}"#))?["ok"] == .bool(true)
        }
        #expect(lab.roles == ("ACTIVE", "STANDBY"))

        // --- SO_PEERCRED: an unprivileged user who can reach the socket file is still refused
        chmod(lab.socket("A"), 0o666)
        let (deniedCode, denied) = try lab.spawn(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                                  Lab.shaolinctl, "ping", "--socket", lab.socket("A")])
        chmod(lab.socket("A"), 0o600)
        #expect(deniedCode == 3, "\(denied)")
        #expect(denied.contains("uid 65534 may not use this control socket"), "\(denied)")
        var st = stat()
        #expect(stat(lab.socket("B"), &st) == 0 && st.st_mode & 0o777 == 0o600)

        // --- log tail
        let (logCode, logText) = try lab.ctl("A", ["log", "-n", "200"])
        #expect(logCode == 0)
        #expect(logText.contains("ROLE_CHANGE") && logText.contains("CONTROL_CLOSED"), "\(logText)")

        // --- reload: a bad file changes nothing; a good one applies live keys, lists the rest
        let configPath = "\(lab.dir)/A.toml"
        let original = try String(contentsOfFile: configPath, encoding: .utf8)
        try (original + "\n[timing]\nkeepalive_ms = -5\n").write(toFile: configPath, atomically: true, encoding: .utf8)
        let (badCode, badOut) = try lab.ctl("A", ["reload"])
        #expect(badCode == 1)
        #expect(badOut.contains("nothing was changed") && badOut.contains("line"), "\(badOut)")
        let changed = original.replacingOccurrences(of: "level = \"info\"", with: "level = \"debug\"")
            .replacingOccurrences(of: "deadtime_ms = 600", with: "deadtime_ms = 700")
        try changed.write(toFile: configPath, atomically: true, encoding: .utf8)
        let (dryCode, dryOut) = try lab.ctl("A", ["reload", "--dry-run"])
        #expect(dryCode == 0 && dryOut.contains("would change live: log.level: info -> debug"), "\(dryOut)")
        let (goodCode, goodOut) = try lab.ctl("A", ["reload", "--json"])
        #expect(goodCode == 0)
        let plan = try json(goodOut)
        #expect(plan["applied"] == .bool(true))
        #expect(plan["changed_live"] == .array([.string("log.level: info -> debug")]))
        // The links inherit [timing]'s deadtime, so both are reported; neither is applied.
        let restart = plan["restart_required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(restart.contains("[timing]") && !restart.contains("[cluster]"), "\(restart)")
        #expect(lab.controlStatus("A") != nil)
        // control.group, reloaded live: members of the group may connect, the socket follows.
        try original.replacingOccurrences(of: "tcp_listen = \"\"", with: "tcp_listen = \"\"\ngroup = \"nogroup\"")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let (groupCode, groupOut) = try lab.ctl("A", ["reload"])
        #expect(groupCode == 0 && groupOut.contains("control.group: \"\" -> \"nogroup\""), "\(groupOut)")
        var gst = stat()
        #expect(stat(lab.socket("A"), &gst) == 0 && gst.st_mode & 0o777 == 0o660 && gst.st_gid == 65534)
        let (memberCode, memberOut) = try lab.spawn(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                                     Lab.shaolinctl, "ping", "--socket", lab.socket("A")])
        #expect(memberCode == 0, "\(memberOut)")
        try original.write(toFile: configPath, atomically: true, encoding: .utf8)
        let (backCode, _) = try lab.ctl("A", ["reload"])
        #expect(backCode == 0)
        #expect(stat(lab.socket("A"), &gst) == 0 && gst.st_mode & 0o777 == 0o600)
        #expect(lab.roles == ("ACTIVE", "STANDBY"))
        #expect(lab.isRunning("A") && lab.isRunning("B"))
    }

    @Test func switchoverSwapsTheRoles() throws {
        let lab = Lab("swo")
        defer { lab.down() }
        try lab.up()
        try lab.wait(10, "A ACTIVE and B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        try lab.wait(5, "A sees B") { lab.controlStatus("A")?["peer"]?["role"]?.stringValue == "STANDBY" }
        // standby on the STANDBY is refused with a reason; nothing changes.
        let (c0, o0) = try lab.ctl("B", ["standby"])
        #expect(c0 == 1 && o0.contains("already STANDBY"), "\(o0)")
        let (code, out) = try lab.ctl("A", ["switchover", "--wait", "15"])
        #expect(code == 0, "\(out)\n\(lab.log("A").suffix(2000))")
        #expect(out.contains("handover started"))
        try lab.wait(10, "B ACTIVE") { lab.role("B") == "ACTIVE" }
        try lab.wait(10, "A left after handing over") { !lab.isRunning("A") }
        // Restart A: it joins as STANDBY under the new ACTIVE B.
        try lab.sh(["start", "A"])
        try lab.wait(15, "A STANDBY behind B") {
            lab.controlStatus("A")?["role"]?.stringValue == "STANDBY"
                && lab.controlStatus("B")?["peer"]?["role"]?.stringValue == "STANDBY"
        }
        let (_, text) = try lab.ctl("B", ["status"])
        #expect(text.contains("Node B  ACTIVE") && text.contains("Peer A  STANDBY"), "\(text)")
    }

    @Test func tcpListenerAuthenticatesWithTheClusterKeyAndRateLimitsFailures() throws {
        let lab = Lab("tcp", env: ["CONTROL_TCP": "127.0.0.1:7650"])
        defer { lab.down() }
        try lab.up()
        try lab.wait(10, "A ACTIVE and B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        let key = "\(lab.dir)/cluster.key"
        let remote = ["--host", "127.0.0.1", "--port", "7650", "--key"]
        // The right key: full status over TCP.
        let (okCode, okOut) = try lab.ctlInNamespace("A", ["status", "--json"] + remote + [key])
        #expect(okCode == 0, "\(okOut)")
        #expect(try json(okOut)["node"]?.stringValue == "A")
        // Garbage before authentication: an error, then the server hangs up (a failure).
        let garbage = "\(lab.dir)/garbage.txt"
        try "hello?\n{\"op\":\"status\"}\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let (_, gOut) = try lab.spawn(["/usr/sbin/ip", "netns", "exec", "shl-\(lab.id)-a", "/bin/sh", "-c",
                                       "socat -t 3 - TCP:127.0.0.1:7650 < \(garbage)"])
        #expect(gOut.contains("\"challenge\"") && gOut.contains("parse_error") && !gOut.contains("\"role\""), "\(gOut)")
        // A request without auth: auth_required.
        try "{\"op\":\"status\"}\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let (_, rOut) = try lab.spawn(["/usr/sbin/ip", "netns", "exec", "shl-\(lab.id)-a", "/bin/sh", "-c",
                                       "socat -t 3 - TCP:127.0.0.1:7650 < \(garbage)"])
        #expect(rOut.contains("auth_required") && !rOut.contains("\"role\""), "\(rOut)")
        // A wrong key: authentication failed (exit 3). That makes 3 failures: the address is blocked.
        let wrongKey = "\(lab.dir)/wrong.key"
        try (String(repeating: "ab", count: 32) + "\n").write(toFile: wrongKey, atomically: true, encoding: .utf8)
        chmod(wrongKey, 0o600)
        let (badCode, badOut) = try lab.ctlInNamespace("A", ["ping"] + remote + [wrongKey])
        #expect(badCode == 3 && badOut.contains("authentication failed"), "\(badOut)")
        // Now even the right key is turned away for a while.
        let (limitedCode, limitedOut) = try lab.ctlInNamespace("A", ["ping"] + remote + [key])
        #expect(limitedCode == 3 && limitedOut.contains("too many failed authentications"), "\(limitedOut)")
        #expect(lab.log("A").contains("SHAOLIN_EVENT=CONTROL_AUTH_FAILED"))
        // The other node's listener is independent, and the Unix socket still works.
        let (bCode, bOut) = try lab.ctlInNamespace("B", ["ping"] + remote + [key])
        #expect(bCode == 0, "\(bOut)")
        #expect(try lab.ctl("A", ["ping"]).0 == 0)
        // After the block (5 s) the right key works again.
        try lab.wait(12, "the block expires") { (try? lab.ctlInNamespace("A", ["ping"] + remote + [key]))?.0 == 0 }
        #expect(lab.roles == ("ACTIVE", "STANDBY"))
    }
}
