// Everything the browser loads comes from here: no CDN, no framework.

enum Assets {
    struct File: Sendable {
        var type: String
        var body: String
    }

    static let files: [String: File] = [
        "app.css": File(type: "text/css; charset=utf-8", body: css),
        "app.js": File(type: "text/javascript; charset=utf-8", body: js),
        "favicon.svg": File(type: "image/svg+xml", body: favicon),
    ]

    static let favicon = #"""
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="15" fill="#2f6fdb"/><path d="M16 1a15 15 0 0 1 0 30a7.5 7.5 0 0 1 0-15a7.5 7.5 0 0 0 0-15z" fill="#e8edf5"/><circle cx="16" cy="8.5" r="2.6" fill="#2f6fdb"/><circle cx="16" cy="23.5" r="2.6" fill="#e8edf5"/></svg>
"""#
}
