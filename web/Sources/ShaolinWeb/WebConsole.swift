// shaolin-web: the routes. Pages are static shells filled by the console's own JavaScript
// (Assets.swift); data comes from /api/* as JSON and /api/events as server-sent events.
// Every operator action goes to an engine through its control socket and is audited.
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import Logging
import ShaolinControlClient
import ShaolinCore
import ShaolinLinux

public final class WebConsole: Sendable {
    public let config: WebConfig
    public let sessions: SessionStore
    public let throttle: LoginThrottle
    public let monitor: ClusterMonitor
    public let editor: ConfigEditor
    public let audit: AuditLog

    public init(config: WebConfig, audit: AuditLog) {
        self.config = config
        self.audit = audit
        sessions = SessionStore(idleSeconds: config.sessionIdleSeconds)
        throttle = LoginThrottle()
        monitor = ClusterMonitor(nodes: config.nodes, pollMilliseconds: config.pollMilliseconds)
        editor = ConfigEditor(path: config.engineConfigFile, initramfsCommand: config.initramfsCommand)
    }

    func record(_ context: WebContext, _ action: String, _ outcome: String, _ detail: String = "", user: String? = nil) {
        audit.write(AuditRecord(action: action, user: user ?? context.session?.user ?? "", remote: context.remote, outcome: outcome, detail: detail))
    }

    public func router() -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.add(middleware: SecurityHeadersMiddleware(tls: config.tlsEnabled))
        router.add(middleware: BodyLimitMiddleware(maxBytes: config.maxBodyBytes))
        router.add(middleware: AuthMiddleware(sessions: sessions))

        router.get("/healthz") { _, _ in HTTP.jsonText("{\"ok\":true}") }
        router.get("/assets/{name}") { _, context in
            guard let name = context.parameters.get("name"), let asset = Assets.files[name] else { throw HTTPError(.notFound) }
            var h: HTTPFields = [:]
            h[.contentType] = asset.type
            h[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: asset.body)))
        }

        // Login: a form that works without JavaScript; the form's token must match the
        // short-lived login cookie (login CSRF), and failures are throttled per address.
        router.get("/login") { [self] request, context in
            let token = SecureRandom.token(16)
            var r = HTTP.html(Pages.login(user: "", error: nil, token: token))
            r.headers.append(HTTPField(name: .setCookie, value: HTTP.setCookie(HTTP.loginCookie, token, tls: config.tlsEnabled, maxAge: 900)))
            return r
        }
        router.post("/login") { [self] request, context in
            var request = request
            let body = try await request.collectBody(upTo: config.maxBodyBytes)
            let form = HTTP.form(String(buffer: body))
            let user = form["user"] ?? ""
            func again(_ message: String, _ status: HTTPResponse.Status) -> Response {
                let token = SecureRandom.token(16)
                var r = HTTP.html(Pages.login(user: user, error: message, token: token), status: status)
                r.headers.append(HTTPField(name: .setCookie, value: HTTP.setCookie(HTTP.loginCookie, token, tls: config.tlsEnabled, maxAge: 900)))
                return r
            }
            guard let sent = form["csrf"], let cookie = HTTP.cookies(request)[HTTP.loginCookie], !sent.isEmpty,
                  HTTP.constantTimeEqual(sent, cookie), SameOrigin.check(request) else {
                record(context, "login", "refused", "missing or wrong login form token", user: user)
                return again("The login form expired. Please try again.", .forbidden)
            }
            let wait = throttle.waitSeconds(context.remote)
            if wait > 0 {
                record(context, "login", "refused", "throttled for \(wait) s after repeated failures", user: user)
                return again("Too many failed logins from your address. Try again in \(wait) s.", .tooManyRequests)
            }
            let password = form["password"] ?? ""
            let hash = config.passwordHash
            let passwordOK = await Blocking.run { PasswordHash.verify(password: password, against: hash) }
            guard passwordOK && HTTP.constantTimeEqual(user, config.user) else {
                throttle.failed(context.remote)
                record(context, "login", "failed", "wrong user name or password", user: user)
                return again("Wrong user name or password.", .unauthorized)
            }
            throttle.succeeded(context.remote)
            let session = sessions.create(user: user)
            record(context, "login", "ok", user: user)
            var r = HTTP.redirect("/")
            r.headers.append(HTTPField(name: .setCookie, value: HTTP.setCookie(HTTP.sessionCookie, session.id, tls: config.tlsEnabled)))
            r.headers.append(HTTPField(name: .setCookie, value: HTTP.setCookie(HTTP.loginCookie, "", tls: config.tlsEnabled, maxAge: 0)))
            return r
        }
        router.post("/logout") { [self] _, context in
            if let s = context.session { sessions.remove(s.id) }
            record(context, "logout", "ok")
            var r = HTTP.json(.object([("ok", .bool(true))]))
            r.headers.append(HTTPField(name: .setCookie, value: HTTP.setCookie(HTTP.sessionCookie, "", tls: config.tlsEnabled, maxAge: 0)))
            return r
        }

        router.get("/") { [self] _, context in
            HTTP.html(Pages.dashboard(user: context.session?.user ?? "", csrf: context.session?.csrf ?? "", nodes: config.nodes.map(\.name)))
        }
        router.get("/config") { [self] _, context in
            HTTP.html(Pages.configEditor(user: context.session?.user ?? "", csrf: context.session?.csrf ?? "",
                                         path: config.engineConfigFile ?? "(none configured)", node: config.localNode?.name ?? "?"))
        }

        router.get("/api/status") { [self] _, _ in HTTP.jsonText(monitor.latest().1) }
        router.get("/api/events") { [self] request, context in
            let sessionID = context.session?.id ?? ""
            var h: HTTPFields = [:]
            h[.contentType] = "text/event-stream"
            h[.cacheControl] = "no-store"
            return Response(status: .ok, headers: h, body: ResponseBody { [self] writer in
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                var last: UInt64 = 0
                var idle = 0
                while !Task.isCancelled {
                    // A logged-out or expired session ends the stream.
                    guard sessions.peek(sessionID) else { break }
                    let (seq, text) = monitor.latest()
                    if seq != last && seq > 0 {
                        last = seq
                        idle = 0
                        try await writer.write(ByteBuffer(string: "event: status\ndata: \(text)\n\n"))
                    } else {
                        idle += 1
                        if idle >= 100 {  // ~15 s of silence: a comment keeps proxies from closing
                            idle = 0
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                    try await Task.sleep(for: .milliseconds(150))
                }
                try await writer.finish(nil)
            })
        }

        router.post("/api/action") { [self] request, context in
            try await action(request, context)
        }

        router.get("/api/config") { [self] _, _ in
            do {
                let (text, hash) = try editor.read()
                return HTTP.json(.object([("path", .string(editor.path ?? "")), ("text", .string(text)), ("hash", .string(hash))]))
            } catch {
                return HTTP.error(.serviceUnavailable, "config_unavailable", "\(error)")
            }
        }
        router.post("/api/config/check") { [self] request, _ in
            let body = try await jsonBody(request)
            guard let text = body["text"]?.stringValue else { return HTTP.error(.badRequest, "bad_request", "send {\"text\": \"…\"}") }
            let editor = self.editor
            let result = await Blocking.run { editor.check(text) }
            return HTTP.json(result.json)
        }
        router.post("/api/config/save") { [self] request, context in
            let body = try await jsonBody(request)
            guard let text = body["text"]?.stringValue, let hash = body["hash"]?.stringValue else {
                return HTTP.error(.badRequest, "bad_request", "send {\"text\": \"…\", \"hash\": \"…\"}")
            }
            let editor = self.editor
            let outcome = await Blocking.run { () -> Result<ConfigCheck, ConfigEditorError> in
                do throws(ConfigEditorError) { return .success(try editor.save(text, baseHash: hash)) } catch { return .failure(error) }
            }
            switch outcome {
            case .success(let check):
                let changed = check.diff.compactMap { $0 }.filter { $0.kind != .same }.count
                record(context, "config save \(editor.path ?? "")", "ok", "\(changed) line(s) changed")
                let newHash = (try? editor.read().hash) ?? ""
                var m = check.json.objectValue ?? []
                m.append(("saved", .bool(true)))
                m.append(("hash", .string(newHash)))
                return HTTP.json(.object(m))
            case .failure(.invalid(let check)):
                record(context, "config save \(editor.path ?? "")", "refused", "\(check.errors.count) validation error(s)")
                var m = check.json.objectValue ?? []
                m.append(("saved", .bool(false)))
                m.append(("message", .string(ConfigEditorError.invalid(check).description)))
                return HTTP.json(.object(m), status: .unprocessableContent)
            case .failure(let e):
                record(context, "config save \(editor.path ?? "")", "failed", e.description)
                if case .conflict = e { return HTTP.error(.conflict, "conflict", e.description) }
                return HTTP.error(.internalServerError, "save_failed", e.description)
            }
        }
        router.post("/api/config/apply") { [self] _, context in
            let node = config.localNode
            let role = node.flatMap { monitor.status(of: $0.name)?["role"]?.stringValue }
            let editor = self.editor
            let steps = await Blocking.run { editor.apply(node: node, role: role) }
            let ok = steps.allSatisfy(\.ok)
            record(context, "config apply", ok ? "ok" : "failed", steps.map(\.message).joined(separator: "; "))
            monitor.refreshSoon()
            return HTTP.json(.object([("ok", .bool(ok)), ("steps", .array(steps.map(\.json)))]), status: ok ? .ok : .badGateway)
        }
        return router
    }

    func jsonBody(_ request: Request) async throws -> JSONValue {
        var request = request
        let b = try await request.collectBody(upTo: config.maxBodyBytes)
        do {
            return try JSONValue.parse(String(buffer: b), limits: JSONLimits(maxBytes: config.maxBodyBytes, maxDepth: 8, maxStringBytes: config.maxBodyBytes, maxMembers: 64))
        } catch {
            throw HTTPError(.badRequest, message: "the body is not valid JSON: \(error)")
        }
    }

    /// Operator actions: one control request to one node.
    func action(_ request: Request, _ context: WebContext) async throws -> Response {
        let body = try await jsonBody(request)
        guard let nodeName = body["node"]?.stringValue, let node = config.nodes.first(where: { $0.name == nodeName }) else {
            return HTTP.error(.badRequest, "bad_request", "\"node\" must name a configured node (\(config.nodes.map(\.name).joined(separator: ", ")))")
        }
        let opName = body["op"]?.stringValue ?? ""
        let op: ControlOperation
        switch opName {
        case "switchover": op = .switchover
        case "standby": op = .standby
        case "maintenance-on": op = .maintenance(true)
        case "maintenance-off": op = .maintenance(false)
        case "fence-confirm":
            // The dialog makes the operator type the peer's name; the server checks it too.
            let peer = monitor.status(of: node.name)?["peer"]?["name"]?.stringValue
            guard let typed = body["confirm"]?.stringValue, let peer, typed == peer else {
                return HTTP.error(.badRequest, "confirmation_required",
                                  "fence-confirm needs \"confirm\": the name of the peer (\(peer ?? "unknown")) that you checked is powered off")
            }
            op = .fenceConfirm(confirmed: true)
        case _ where opName.hasPrefix("rule-") && ControlOperation.RuleAction(rawValue: String(opName.dropFirst(5))) != nil:
            // rule-enable, rule-disable, rule-start, rule-stop, rule-restart, rule-reset-statistics
            guard let rule = body["rule"]?.stringValue, !rule.isEmpty, rule.count <= 128 else {
                return HTTP.error(.badRequest, "bad_request", "rule actions need \"rule\": the AAC rule's name")
            }
            op = .rule(action: ControlOperation.RuleAction(rawValue: String(opName.dropFirst(5)))!, name: rule)
        default:
            let ops = ["switchover", "standby", "maintenance-on", "maintenance-off", "fence-confirm"] + ControlOperation.RuleAction.allCases.map { "rule-" + $0.rawValue }
            return HTTP.error(.badRequest, "bad_request", "unknown action \"\(opName.prefix(40))\" (\(ops.joined(separator: ", ")))")
        }
        let what = "\(opName)\(body["rule"]?.stringValue.map { " \($0)" } ?? "") on \(node.name)"
        let result = await Blocking.run { () -> Result<JSONValue, ControlFailure> in
            do throws(ControlFailure) { return .success(try ControlChannel.once(node, op)) } catch { return .failure(error) }
        }
        monitor.refreshSoon()
        switch result {
        case .success(let r):
            record(context, what, "ok", r["message"]?.stringValue ?? "")
            return HTTP.json(.object([("ok", .bool(true)), ("result", r)]))
        case .failure(let e):
            record(context, what, "refused", "\(e.code): \(e.message)")
            let status: HTTPResponse.Status = (e.isUnreachable || !e.fromServer) ? .badGateway : .conflict
            return HTTP.error(status, e.code, e.message, details: e.details)
        }
    }

    /// The HTTP(S) application on the configured address.
    public func application(logger: Logger, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let configuration = ApplicationConfiguration(address: .hostname(config.listenHost, port: config.listenPort), serverName: "shaolin-web")
        let server: HTTPServerBuilder
        if let cert = config.tlsCertificate, let key = config.tlsKey {
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            server = try .tls(.http1(), tlsConfiguration: tls)
        } else {
            server = .http1()
        }
        return Application(router: router(), server: server, configuration: configuration, onServerRunning: onServerRunning, logger: logger)
    }
}
