// The console's gatekeepers over real HTTP (Hummingbird's live test server on loopback):
// unauthenticated requests, wrong CSRF tokens, cross-origin posts, oversized bodies, login
// throttling; and the configuration editor's save/validate/apply back end on a temporary file.
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ShaolinCore
import Testing
@testable import ShaolinWeb

struct WebFixture {
    static let password = "s3cret-pass"
    static let hash = PasswordHash.make(password: password, iterations: PasswordHash.minimumIterations)

    let dir: String
    let console: WebConsole
    let audit: MemoryAuditSink

    /// A console whose only node's control socket does not exist (actions reach "unreachable").
    init(maxBody: Int = 4_096, initramfs: (String) -> [String] = { _ in [] }) throws {
        var template = Array("/tmp/shaolin-web-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        dir = String(cString: p!)
        let engineConfig = dir + "/shaolin.toml"
        try Self.write(engineConfig, Self.validEngineConfig)
        let initramfsTOML = "[" + initramfs(dir).map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        var config = try WebConfig.parse("""
        [web]
        listen = "127.0.0.1:0"
        max_body_bytes = \(maxBody)
        poll_ms = 200
        [auth]
        user = "admin"
        password_hash = "\(Self.hash)"
        [engine]
        config_file = "\(engineConfig)"
        initramfs_command = \(initramfsTOML)
        [[node]]
        name = "A"
        socket = "\(dir)/A.sock"
        """)
        config.listenPort = 0
        audit = MemoryAuditSink()
        console = WebConsole(config: config, audit: AuditLog([audit]))
    }

    func cleanup() {
        for f in ["shaolin.toml", "shaolin.toml.prev", "marker"] { unlink(dir + "/" + f) }
        rmdir(dir)
    }

    static func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        var b = Array(text.utf8)
        _ = b.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    static func read(_ path: String) -> String {
        String(decoding: readWholeFile(path, limit: 1 << 20) ?? [], as: UTF8.self)
    }

    static let validEngineConfig = """
    [cluster]
    id = 7
    key_file = "/etc/shaolin/cluster.key"
    [node]
    name = "A"
    id = 1
    [peer]
    name = "B"
    id = 2
    [timing]
    keepalive_ms = 100
    deadtime_ms = 600
    [[link]]
    name = "eth"
    type = "ethernet"
    interface = "hb0"
    peer_mac = "02:5a:00:00:00:0b"
    [fencing]
    methods = ["manual"]
    [watchdog]
    device = "none"

    """

    func app() -> some ApplicationProtocol {
        Application(router: console.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                    logger: Logger(label: "test"))
    }
}

/// Logs in through the real form and returns the session cookie and the page's CSRF token.
func logIn(_ client: some TestClientProtocol, password: String = WebFixture.password) async throws -> (cookie: String, csrf: String)? {
    let page = try await client.execute(uri: "/login", method: .get)
    guard let set = page.headers[values: .setCookie].first(where: { $0.hasPrefix("shaolin_login=") }) else { return nil }
    let token = String(set.dropFirst("shaolin_login=".count).prefix(while: { $0 != ";" }))
    var headers: HTTPFields = [:]
    headers[.contentType] = "application/x-www-form-urlencoded"
    headers[.cookie] = "shaolin_login=\(token)"
    let r = try await client.execute(uri: "/login", method: .post, headers: headers,
                                     body: ByteBuffer(string: "csrf=\(token)&user=admin&password=\(password)"))
    guard r.status == .seeOther, let s = r.headers[values: .setCookie].first(where: { $0.hasPrefix("shaolin_session=") }) else { return nil }
    #expect(s.contains("HttpOnly") && s.contains("SameSite=Strict"))
    let cookie = String(s.prefix(while: { $0 != ";" }))
    var h: HTTPFields = [:]
    h[.cookie] = cookie
    let dash = try await client.execute(uri: "/", method: .get, headers: h)
    #expect(dash.status == .ok)
    let html = String(buffer: dash.body)
    guard let range = html.range(of: "name=\"csrf-token\" content=\"") else { return nil }
    let csrf = String(html[range.upperBound...].prefix(while: { $0 != "\"" }))
    #expect(csrf.count == 64)
    return (cookie, csrf)
}

func jsonHeaders(cookie: String?, csrf: String?) -> HTTPFields {
    var h: HTTPFields = [:]
    h[.contentType] = "application/json"
    if let cookie { h[.cookie] = cookie }
    if let csrf { h[HTTPField.Name("X-CSRF-Token")!] = csrf }
    return h
}

@Suite(.serialized) struct WebSecurityTests {
    @Test func unauthenticatedRequestsAreRefused() async throws {
        let f = try WebFixture()
        defer { f.cleanup() }
        try await f.app().test(.live) { client in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .seeOther)
            #expect(page.headers[.location] == "/login")
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            for uri in ["/api/status", "/api/events", "/api/config"] {
                #expect(try await client.execute(uri: uri, method: .get).status == .unauthorized, "\(uri)")
            }
            for uri in ["/api/action", "/api/config/save", "/api/config/apply", "/logout"] {
                let r = try await client.execute(uri: uri, method: .post, headers: jsonHeaders(cookie: nil, csrf: "x"),
                                                 body: ByteBuffer(string: "{\"node\":\"A\",\"op\":\"switchover\"}"))
                #expect(r.status == .unauthorized, "\(uri)")
            }
            // A made-up session id is no session.
            let forged = try await client.execute(uri: "/api/status", method: .get,
                                                  headers: jsonHeaders(cookie: "shaolin_session=" + String(repeating: "a", count: 64), csrf: nil))
            #expect(forged.status == .unauthorized)
            // Assets and the login page are open.
            #expect(try await client.execute(uri: "/assets/app.js", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/login", method: .get).status == .ok)
        }
        #expect(f.audit.all.isEmpty)
    }

    @Test func loginChecksPasswordFormTokenAndThrottles() async throws {
        let f = try WebFixture()
        defer { f.cleanup() }
        try await f.app().test(.live) { client in
            #expect(try await logIn(client, password: "wrong-password") == nil)
            // A form post without the login cookie's token (login CSRF) is refused before the password is checked.
            var h: HTTPFields = [:]
            h[.contentType] = "application/x-www-form-urlencoded"
            let noToken = try await client.execute(uri: "/login", method: .post, headers: h,
                                                   body: ByteBuffer(string: "user=admin&password=\(WebFixture.password)"))
            #expect(noToken.status == .forbidden)
            #expect(try await logIn(client) != nil)
            // Five failures in a row block the address, even for the right password.
            for _ in 0..<LoginThrottle.maxFailures { _ = try await logIn(client, password: "nope-nope") }
            #expect(try await logIn(client) == nil)
        }
        let outcomes = f.audit.all.filter { $0.action == "login" }.map(\.outcome)
        #expect(outcomes.prefix(3) == ["failed", "refused", "ok"])
        #expect(outcomes.last == "refused")
        #expect(f.audit.all.last?.detail.contains("throttled") == true)
    }

    @Test func stateChangingRequestsNeedTheSessionsCSRFToken() async throws {
        let f = try WebFixture()
        defer { f.cleanup() }
        try await f.app().test(.live) { client in
            let s = try #require(try await logIn(client))
            let body = ByteBuffer(string: "{\"node\":\"A\",\"op\":\"switchover\"}")
            let none = try await client.execute(uri: "/api/action", method: .post, headers: jsonHeaders(cookie: s.cookie, csrf: nil), body: body)
            #expect(none.status == .forbidden)
            #expect(String(buffer: none.body).contains("\"code\":\"csrf\""))
            let wrong = try await client.execute(uri: "/api/action", method: .post,
                                                 headers: jsonHeaders(cookie: s.cookie, csrf: String(s.csrf.reversed())), body: body)
            #expect(wrong.status == .forbidden)
            // Another session's token does not work either.
            let other = try #require(try await logIn(client))
            #expect(other.csrf != s.csrf)
            let swapped = try await client.execute(uri: "/api/config/save", method: .post,
                                                   headers: jsonHeaders(cookie: s.cookie, csrf: other.csrf), body: ByteBuffer(string: "{}"))
            #expect(swapped.status == .forbidden)
            // The right token with a foreign Origin is refused.
            var cross = jsonHeaders(cookie: s.cookie, csrf: s.csrf)
            cross[.origin] = "http://evil.example"
            #expect(try await client.execute(uri: "/api/action", method: .post, headers: cross, body: body).status == .forbidden)
            // The right token passes the gate: the action reaches the (absent) engine.
            let ok = try await client.execute(uri: "/api/action", method: .post, headers: jsonHeaders(cookie: s.cookie, csrf: s.csrf), body: body)
            #expect(ok.status == .badGateway)
            #expect(String(buffer: ok.body).contains("unreachable"))
            // Logging out ends the session.
            #expect(try await client.execute(uri: "/logout", method: .post, headers: jsonHeaders(cookie: s.cookie, csrf: s.csrf)).status == .ok)
            #expect(try await client.execute(uri: "/api/status", method: .get, headers: jsonHeaders(cookie: s.cookie, csrf: nil)).status == .unauthorized)
        }
        #expect(f.audit.all.contains { $0.action == "switchover on A" && $0.outcome == "refused" && $0.user == "admin" })
        #expect(f.audit.all.contains { $0.action == "logout" })
    }

    @Test func ruleActionsAreCheckedAndSentToTheEngine() async throws {
        let f = try WebFixture()
        defer { f.cleanup() }
        try await f.app().test(.live) { client in
            let s = try #require(try await logIn(client))
            let h = jsonHeaders(cookie: s.cookie, csrf: s.csrf)
            func post(_ json: String) async throws -> (HTTPResponse.Status, String) {
                let r = try await client.execute(uri: "/api/action", method: .post, headers: h, body: ByteBuffer(string: json))
                return (r.status, String(buffer: r.body))
            }
            // Every AAC operation of the control protocol is an action; each reaches the engine
            // (here absent: 502 unreachable), not the "unknown action" answer.
            for action in ControlOperation.RuleAction.allCases {
                let (st, body) = try await post("{\"node\":\"A\",\"op\":\"rule-\(action.rawValue)\",\"rule\":\"svc\"}")
                #expect(st == .badGateway && body.contains("unreachable"), "rule-\(action.rawValue): \(st) \(body)")
            }
            // A rule action without the rule's name, an unknown action, an unknown node.
            let (st1, b1) = try await post("{\"node\":\"A\",\"op\":\"rule-stop\"}")
            #expect(st1 == .badRequest && b1.contains("need \\\"rule\\\""), "\(b1)")
            let (st2, b2) = try await post("{\"node\":\"A\",\"op\":\"rule-explode\",\"rule\":\"svc\"}")
            #expect(st2 == .badRequest && b2.contains("unknown action") && b2.contains("rule-start") && b2.contains("rule-reset-statistics"), "\(b2)")
            let (st3, _) = try await post("{\"node\":\"Z\",\"op\":\"rule-start\",\"rule\":\"svc\"}")
            #expect(st3 == .badRequest)
        }
        for action in ["rule-start", "rule-stop", "rule-reset-statistics"] {
            #expect(f.audit.all.contains { $0.action == "\(action) svc on A" && $0.outcome == "refused" }, "no audit record for \(action)")
        }
    }

    @Test func oversizedBodiesAreRefused() async throws {
        let f = try WebFixture(maxBody: 2_048)
        defer { f.cleanup() }
        try await f.app().test(.live) { client in
            let big = ByteBuffer(string: "{\"text\":\"" + String(repeating: "x", count: 3_000) + "\"}")
            // Before authentication: no handler ever sees it.
            let anon = try await client.execute(uri: "/api/config/check", method: .post, headers: jsonHeaders(cookie: nil, csrf: nil), body: big)
            #expect(anon.status == .contentTooLarge)
            let s = try #require(try await logIn(client))
            let r = try await client.execute(uri: "/api/config/check", method: .post, headers: jsonHeaders(cookie: s.cookie, csrf: s.csrf), body: big)
            #expect(r.status == .contentTooLarge)
            #expect(String(buffer: r.body).contains("body_too_large"))
            // Also the login form.
            var h: HTTPFields = [:]
            h[.contentType] = "application/x-www-form-urlencoded"
            #expect(try await client.execute(uri: "/login", method: .post, headers: h, body: ByteBuffer(string: String(repeating: "a", count: 5_000))).status == .contentTooLarge)
            // Just under the limit is fine.
            let small = ByteBuffer(string: "{\"text\":\"" + String(repeating: "#", count: 1_000) + "\"}")
            #expect(try await client.execute(uri: "/api/config/check", method: .post, headers: jsonHeaders(cookie: s.cookie, csrf: s.csrf), body: small).status == .ok)
        }
    }

    @Test func editorValidatesWithTheEngineValidatorBeforeSaving() async throws {
        // The "initramfs rebuild" leaves a marker in the fixture's directory.
        let f = try WebFixture(maxBody: 65_536, initramfs: { ["/bin/sh", "-c", "echo rebuilt > $0/marker", $0] })
        defer { f.cleanup() }
        let path = f.dir + "/shaolin.toml"
        try await f.app().test(.live) { client in
            let s = try #require(try await logIn(client))
            let h = jsonHeaders(cookie: s.cookie, csrf: s.csrf)
            let loaded = try JSONValue.parse(String(buffer: try await client.execute(uri: "/api/config", method: .get, headers: h).body))
            let hash = try #require(loaded["hash"]?.stringValue)
            #expect(loaded["text"]?.stringValue == WebFixture.validEngineConfig)

            // deadtime below 2 x keepalive: the engine's validator says so, with the line; the file stays as it was.
            let bad = WebFixture.validEngineConfig.replacingFirst("deadtime_ms = 600", with: "deadtime_ms = 150")
            let r1 = try await client.execute(uri: "/api/config/save", method: .post, headers: h,
                                              body: ByteBuffer(string: JSONValue.object([("text", .string(bad)), ("hash", .string(hash))]).compact))
            #expect(r1.status == .unprocessableContent)
            let j1 = try JSONValue.parse(String(buffer: r1.body))
            #expect(j1["saved"]?.boolValue == false)
            let err = try #require(j1["errors"]?.arrayValue?.first)
            #expect(err["key"]?.stringValue == "timing.deadtime_ms")
            #expect(err["line"]?.intValue == 12)
            #expect(WebFixture.read(path) == WebFixture.validEngineConfig)

            // A good change is saved, with its diff.
            let good = WebFixture.validEngineConfig.replacingFirst("deadtime_ms = 600", with: "deadtime_ms = 800")
            let r2 = try await client.execute(uri: "/api/config/save", method: .post, headers: h,
                                              body: ByteBuffer(string: JSONValue.object([("text", .string(good)), ("hash", .string(hash))]).compact))
            #expect(r2.status == .ok)
            let j2 = try JSONValue.parse(String(buffer: r2.body))
            #expect(j2["saved"]?.boolValue == true)
            var changes: [String] = []
            for line in j2["diff"]?.arrayValue ?? [] {
                let kind = line["kind"]?.stringValue ?? ""
                if kind != " " { changes.append(kind + (line["text"]?.stringValue ?? "")) }
            }
            #expect(changes == ["-deadtime_ms = 600", "+deadtime_ms = 800"])
            #expect(WebFixture.read(path) == good)
            #expect(WebFixture.read(path + ".prev") == WebFixture.validEngineConfig)

            // Saving again on the old hash: someone else changed the file meanwhile.
            let r3 = try await client.execute(uri: "/api/config/save", method: .post, headers: h,
                                              body: ByteBuffer(string: JSONValue.object([("text", .string(good)), ("hash", .string(hash))]).compact))
            #expect(r3.status == .conflict)

            // Apply: node A is unreachable (not ACTIVE) so no reload; the initramfs command runs.
            let r4 = try await client.execute(uri: "/api/config/apply", method: .post, headers: h)
            let j4 = try JSONValue.parse(String(buffer: r4.body))
            let steps = j4["steps"]?.arrayValue ?? []
            #expect(steps.count == 2)
            #expect(steps.first?["skipped"]?.boolValue == true)
            #expect(steps.last?["ok"]?.boolValue == true)
            #expect(WebFixture.read(f.dir + "/marker") == "rebuilt\n")
        }
        #expect(f.audit.all.map(\.outcome) == ["ok", "refused", "ok", "failed", "ok"])
    }
}

extension String {
    func replacingFirst(_ a: String, with b: String) -> String {
        guard let r = range(of: a) else { return self }
        return replacingCharacters(in: r, with: b)
    }
}
