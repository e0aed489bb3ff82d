import ShaolinCore
import Testing
@testable import ShaolinWeb

@Suite struct PasswordHashTests {
    @Test func pbkdf2MatchesRFC7914Vectors() {
        // RFC 7914 section 11 (PBKDF2-HMAC-SHA256).
        #expect(Hex.encode(PasswordHash.pbkdf2(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, length: 64))
                == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
        #expect(Hex.encode(PasswordHash.pbkdf2(password: Array("Password".utf8), salt: Array("NaCl".utf8), iterations: 80_000, length: 64))
                == "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d")
        #expect(Hex.encode(PasswordHash.pbkdf2(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 4096))
                == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
    }

    @Test func makeAndVerify() throws {
        let s = PasswordHash.make(password: "correct horse", iterations: PasswordHash.minimumIterations)
        let parsed = try PasswordHash.parse(s)
        #expect(PasswordHash.verify(password: "correct horse", against: parsed))
        #expect(!PasswordHash.verify(password: "correct hors", against: parsed))
        #expect(!PasswordHash.verify(password: "", against: parsed))
        // A fresh salt each time.
        #expect(PasswordHash.make(password: "correct horse", iterations: PasswordHash.minimumIterations) != s)
    }

    @Test func parseRejectsBadHashes() {
        #expect(throws: PasswordHash.ParseError.format) { try PasswordHash.parse("plaintext") }
        #expect(throws: PasswordHash.ParseError.scheme("md5")) { try PasswordHash.parse("md5$1$00$00") }
        #expect(throws: PasswordHash.ParseError.iterations("10")) { try PasswordHash.parse("pbkdf2-sha256$10$0011223344556677$" + String(repeating: "00", count: 32)) }
        #expect(throws: PasswordHash.ParseError.salt) { try PasswordHash.parse("pbkdf2-sha256$20000$zz$" + String(repeating: "00", count: 32)) }
        #expect(throws: PasswordHash.ParseError.key) { try PasswordHash.parse("pbkdf2-sha256$20000$0011223344556677$00") }
    }
}

@Suite struct WebConfigTests {
    static let hash = "pbkdf2-sha256$10000$00112233445566778899aabbccddeeff$" + String(repeating: "ab", count: 32)

    @Test func parsesAFullFile() throws {
        let c = try WebConfig.parse("""
        [web]
        listen = "[::1]:9443"
        max_body_bytes = 4096
        poll_ms = 500
        [auth]
        user = "ops"
        password_hash = "\(Self.hash)"
        [engine]
        config_file = "/etc/shaolin/shaolin.toml"
        initramfs_command = []
        [[node]]
        name = "alpha"
        socket = "/run/shaolin/control.sock"
        [[node]]
        name = "beta"
        host = "10.0.0.2"
        port = 7650
        key_file = "/etc/shaolin/cluster.key"
        """)
        #expect(c.listenHost == "::1" && c.listenPort == 9443)
        #expect(c.maxBodyBytes == 4096 && c.pollMilliseconds == 500 && c.user == "ops")
        #expect(c.initramfsCommand.isEmpty)
        #expect(c.nodes == [WebConfig.Node(name: "alpha", endpoint: .unix(path: "/run/shaolin/control.sock")),
                            WebConfig.Node(name: "beta", endpoint: .tcp(host: "10.0.0.2", port: 7650, keyFile: "/etc/shaolin/cluster.key"))])
        #expect(c.localNode?.name == "alpha")
        #expect(!c.tlsEnabled)
    }

    @Test func reportsEveryProblemWithItsLine() {
        do {
            _ = try WebConfig.parse("""
            [web]
            listen = "nowhere"
            max_body_bytes = 10
            colour = "blue"
            [auth]
            password_hash = "plain"
            [[node]]
            name = "a"
            """)
            Issue.record("accepted a broken file")
        } catch {
            let m = error.messages.joined(separator: "\n")
            #expect(m.contains("line 2: web.listen"))
            #expect(m.contains("line 3: web.max_body_bytes: must be from 1024"))
            #expect(m.contains("line 4: web.colour: unknown key"))
            #expect(m.contains("line 6: auth.password_hash"))
            #expect(m.contains("node[0]: needs socket"))
        }
    }
}

@Suite struct LineDiffTests {
    @Test func marksChangedLinesWithContext() {
        let old = (1...20).map { "line \($0)" }.joined(separator: "\n") + "\n"
        var lines = (1...20).map { "line \($0)" }
        lines[9] = "line ten"
        lines.insert("new line", at: 15)
        let diff = LineDiff.hunks(old: old, new: lines.joined(separator: "\n") + "\n", context: 1)
        let shown = diff.map { $0.map { "\($0.kind.rawValue)\($0.text)" } ?? "…" }
        #expect(shown == [" line 9", "-line 10", "+line ten", " line 11", "…", " line 15", "+new line", " line 16"])
        #expect(LineDiff.hunks(old: old, new: old).isEmpty)
    }
}
