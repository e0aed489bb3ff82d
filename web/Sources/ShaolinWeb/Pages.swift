// The console's HTML pages: static shells (no inline script or style: the Content Security
// Policy forbids both) that /assets/app.js fills with live data.

enum Pages {
    static func layout(title: String, page: String, user: String?, csrf: String, main: String) -> String {
        let nav: String
        if let user {
            nav = """
            <nav class="nav">
              <a href="/"\(page == "dashboard" ? " class=\"current\"" : "")>Dashboard</a>
              <a href="/config"\(page == "config" ? " class=\"current\"" : "")>Configuration</a>
            </nav>
            <div class="who"><span class="user">\(HTTP.escape(user))</span><button type="button" class="btn ghost small" id="logout">Log out</button></div>
            """
        } else {
            nav = ""
        }
        return """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="csrf-token" content="\(HTTP.escape(csrf))">
        <title>\(HTTP.escape(title)) · shaolin</title>
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
        <link rel="stylesheet" href="/assets/app.css">
        </head>
        <body data-page="\(page)">
        <header class="top">
          <div class="brand"><img src="/assets/favicon.svg" alt="" width="22" height="22"><span>shaolin</span><small>cluster console</small></div>
          \(nav)
        </header>
        <main>
        \(main)
        </main>
        <script src="/assets/app.js"></script>
        </body>
        </html>
        """
    }

    static func login(user: String, error: String?, token: String) -> String {
        layout(title: "Log in", page: "login", user: nil, csrf: "", main: """
        <form class="card login" method="post" action="/login" autocomplete="off">
          <h1>Log in</h1>
          <p class="muted">Operator access to this cluster's engines.</p>
          \(error.map { "<p class=\"alert bad\" role=\"alert\">\(HTTP.escape($0))</p>" } ?? "")
          <input type="hidden" name="csrf" value="\(HTTP.escape(token))">
          <label>User <input name="user" id="user" value="\(HTTP.escape(user))" required autofocus></label>
          <label>Password <input name="password" id="password" type="password" required></label>
          <button class="btn primary" type="submit" id="login">Log in</button>
        </form>
        """)
    }

    static func dashboard(user: String, csrf: String, nodes: [String]) -> String {
        layout(title: "Dashboard", page: "dashboard", user: user, csrf: csrf, main: """
        <section class="summary" id="summary">
          <div class="verdict unknown" id="verdict"><span class="dot"></span><span id="verdict-text">Connecting to the engines…</span></div>
          <div class="live" id="live"><span class="dot"></span><span id="live-text">waiting for data</span></div>
        </section>
        <p class="alert" id="action-result" hidden></p>
        <section class="nodes" id="nodes">
        \(nodes.map { "<article class=\"card node\" id=\"node-\(HTTP.escape($0))\"><h2>\(HTTP.escape($0))</h2><p class=\"muted\">waiting for data…</p></article>" }.joined(separator: "\n"))
        </section>
        <section class="card">
          <h3>Recent engine events</h3>
          <table class="grid events"><thead><tr><th>Time</th><th>Node</th><th>Level</th><th>Event</th><th>Message</th></tr></thead>
          <tbody id="events"><tr><td colspan="5" class="muted">none yet</td></tr></tbody></table>
        </section>
        <dialog id="confirm">
          <form method="dialog" class="dialog">
            <h3 id="confirm-title">Confirm</h3>
            <p id="confirm-text"></p>
            <label id="confirm-typed-label" hidden>Type <b id="confirm-typed-name"></b> to confirm <input id="confirm-typed" autocomplete="off"></label>
            <div class="buttons"><button value="cancel" class="btn ghost" id="confirm-cancel">Cancel</button><button value="ok" class="btn danger" id="confirm-ok">Confirm</button></div>
          </form>
        </dialog>
        """)
    }

    static func configEditor(user: String, csrf: String, path: String, node: String) -> String {
        layout(title: "Configuration", page: "config", user: user, csrf: csrf, main: """
        <section class="card">
          <div class="editor-head">
            <div><h2>Engine configuration</h2><p class="muted"><code>\(HTTP.escape(path))</code> on node <b>\(HTTP.escape(node))</b>. Checked with the engine's own validator before anything is saved.</p></div>
            <div class="buttons">
              <button class="btn" id="validate" type="button">Validate &amp; show changes</button>
              <button class="btn primary" id="save" type="button">Save</button>
              <button class="btn" id="apply" type="button">Apply…</button>
            </div>
          </div>
          <div class="editor">
            <nav class="sections" id="sections" aria-label="Sections"></nav>
            <textarea id="text" spellcheck="false" wrap="off" aria-label="Configuration file"></textarea>
          </div>
        </section>
        <section class="card" id="result" hidden>
          <h3 id="result-title">Validation</h3>
          <ul class="problems" id="problems"></ul>
          <pre class="diff" id="diff"></pre>
          <ul class="steps" id="steps"></ul>
        </section>
        <dialog id="confirm">
          <form method="dialog" class="dialog">
            <h3 id="confirm-title">Apply the saved configuration?</h3>
            <p id="confirm-text"></p>
            <label id="confirm-typed-label" hidden>Type <b id="confirm-typed-name"></b> to confirm <input id="confirm-typed" autocomplete="off"></label>
            <div class="buttons"><button value="cancel" class="btn ghost" id="confirm-cancel">Cancel</button><button value="ok" class="btn danger" id="confirm-ok">Apply</button></div>
          </form>
        </dialog>
        """)
    }
}
