// Small HTTP helpers: responses with the console's security headers, cookies, forms.
import HTTPTypes
import Hummingbird
import NIOCore
import ShaolinCore

public struct WebContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's address (for the audit trail and the login throttle).
    public var remote: String
    /// The logged-in session, set by the authentication middleware.
    public var session: Session?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remote = source.channel.remoteAddress?.ipAddress ?? "local"
        session = nil
    }
}

enum HTTP {
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!
    static let sessionCookie = "shaolin_session"
    static let loginCookie = "shaolin_login"

    /// Headers every answer carries: no framing, no sniffing, no referrer, no inline script.
    static func securityHeaders(tls: Bool) -> HTTPFields {
        var h: HTTPFields = [:]
        h[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        h[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        h[HTTPField.Name("X-Frame-Options")!] = "DENY"
        h[HTTPField.Name("Referrer-Policy")!] = "same-origin"  // "no-referrer" makes browsers send "Origin: null" on form posts
        h[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        if tls { h[.strictTransportSecurity] = "max-age=31536000" }
        return h
    }

    static func html(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        var h: HTTPFields = [:]
        h[.contentType] = "text/html; charset=utf-8"
        h[.cacheControl] = "no-store"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        jsonText(value.compact, status: status)
    }

    static func jsonText(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var h: HTTPFields = [:]
        h[.contentType] = "application/json"
        h[.cacheControl] = "no-store"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String, details: [String] = []) -> Response {
        json(.object([("ok", .bool(false)), ("code", .string(code)), ("message", .string(message)),
                      ("details", .array(details.map { .string($0) }))]), status: status)
    }

    static func redirect(_ location: String) -> Response {
        var h: HTTPFields = [:]
        h[.location] = location
        h[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: h)
    }

    static func cookies(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for value in request.headers[values: .cookie] {
            for part in value.split(separator: ";") {
                let kv = part.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                let k = kv[0].trimmingSpaces, v = kv[1].trimmingSpaces
                if out[k] == nil { out[k] = v }
            }
        }
        return out
    }

    static func setCookie(_ name: String, _ value: String, tls: Bool, maxAge: Int? = nil) -> String {
        var c = "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict"
        if tls { c += "; Secure" }
        if let maxAge { c += "; Max-Age=\(maxAge)" }
        return c
    }

    /// application/x-www-form-urlencoded.
    static func form(_ body: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let k = percentDecode(String(kv[0])), v = kv.count > 1 ? percentDecode(String(kv[1])) : ""
            if out[k] == nil { out[k] = v }
        }
        return out
    }

    static func percentDecode(_ s: String) -> String {
        var bytes: [UInt8] = []
        var u = Array(s.utf8)[...]
        while let c = u.popFirst() {
            if c == UInt8(ascii: "+") { bytes.append(0x20) }
            else if c == UInt8(ascii: "%"), u.count >= 2, let h = hexDigit(u[u.startIndex]), let l = hexDigit(u[u.startIndex + 1]) {
                bytes.append(UInt8(h << 4 | l)); u = u.dropFirst(2)
            } else { bytes.append(c) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    /// Escapes text for HTML element content and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        return x.withUnsafeBytes { p in y.withUnsafeBytes { q in ShaolinCore.constantTimeEqual(p, q) } }
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
