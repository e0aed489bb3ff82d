// The console's gatekeepers, in order: security headers on every answer, the body-size
// limit, login (session cookie), and CSRF on every state-changing request.
import HTTPTypes
import Hummingbird
import NIOCore
import ShaolinCore

/// Adds the security headers to every response, errors included.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let tls: Bool

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let e as HTTPError {
            response = HTTP.error(e.status, "http_\(e.status.code)", e.body ?? e.status.reasonPhrase)
        } catch let e as any HTTPResponseError {
            response = HTTP.error(e.status, "http_\(e.status.code)", e.status == .contentTooLarge ? "the request body is too large" : e.status.reasonPhrase)
        }
        for f in HTTP.securityHeaders(tls: tls) where response.headers[f.name] == nil {
            response.headers.append(f)
        }
        return response
    }
}

/// Refuses bodies over the limit (413) before any handler reads them: by Content-Length at
/// once, and by counting while collecting a chunked body.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let maxBytes: Int

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        if let len = request.headers[.contentLength], let n = Int(len), n > maxBytes {
            return HTTP.error(.contentTooLarge, "body_too_large", "the request body is \(n) bytes; the limit is \(maxBytes)")
        }
        var request = request
        if request.method != .get && request.method != .head {
            do {
                _ = try await request.collectBody(upTo: maxBytes)
            } catch is NIOTooManyBytesError {
                return HTTP.error(.contentTooLarge, "body_too_large", "the request body exceeds the limit of \(maxBytes) bytes")
            }
        }
        return try await next(request, context)
    }
}

/// Paths open without a session.
enum PublicPaths {
    static func contains(_ path: String) -> Bool {
        path == "/login" || path.hasPrefix("/assets/") || path == "/healthz"
    }
}

/// Login required everywhere else; CSRF token on every non-GET request.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let sessions: SessionStore

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if PublicPaths.contains(path) { return try await next(request, context) }
        let cookies = HTTP.cookies(request)
        guard let id = cookies[HTTP.sessionCookie], let session = sessions.touch(id) else {
            if request.method == .get && !path.hasPrefix("/api/") { return HTTP.redirect("/login") }
            return HTTP.error(.unauthorized, "login_required", "log in first (your session is missing or expired)")
        }
        if request.method != .get && request.method != .head {
            guard let token = request.headers[HTTP.csrfHeader], HTTP.constantTimeEqual(token, session.csrf) else {
                return HTTP.error(.forbidden, "csrf", "missing or wrong CSRF token: reload the page and try again")
            }
            if !SameOrigin.check(request) {
                return HTTP.error(.forbidden, "origin", "cross-origin request refused")
            }
        }
        var context = context
        context.session = session
        return try await next(request, context)
    }
}

/// When the browser names the request's origin, it must be this server.
enum SameOrigin {
    static func check(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!] else { return false }
        let stripped = origin.hasPrefix("https://") ? origin.dropFirst(8) : origin.hasPrefix("http://") ? origin.dropFirst(7) : origin[...]
        return stripped == host[...]
    }
}
