// /assets/app.js: the console's script (plain JavaScript, no framework, nothing fetched
// from elsewhere). The dashboard listens to /api/events (server-sent events) and redraws
// in place; actions and the editor call /api/* with the page's CSRF token.

extension Assets {
    static let js = #"""
"use strict";
const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
const $ = (id) => document.getElementById(id);
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
// Redraws `el` as `html` while keeping every node that did not change: the dashboard is redrawn
// on every status message, and replacing a button between an operator's mouse-down and
// mouse-up would swallow the click.
function setHTML(el, html) {
  const t = document.createElement("template");
  t.innerHTML = html;
  morph(el, t.content);
}
function morph(from, to) {
  const want = Array.from(to.childNodes);
  for (let i = 0; i < want.length; i++) {
    const x = from.childNodes[i], y = want[i];
    if (!x) { from.appendChild(y); continue; }
    if (x.nodeType !== y.nodeType || x.nodeName !== y.nodeName || (x.nodeType !== 1 && x.nodeType !== 3)) { from.replaceChild(y, x); continue; }
    if (x.nodeType === 3) { if (x.nodeValue !== y.nodeValue) x.nodeValue = y.nodeValue; continue; }
    if (x.isEqualNode(y)) continue;
    for (const a of Array.from(x.attributes)) if (!y.hasAttribute(a.name)) x.removeAttribute(a.name);
    for (const a of Array.from(y.attributes)) if (x.getAttribute(a.name) !== a.value) x.setAttribute(a.name, a.value);
    morph(x, y);
  }
  while (from.childNodes.length > want.length) from.removeChild(from.lastChild);
}
async function post(url, body) {
  const r = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body || {}),
  });
  if (r.status === 401) { location.href = "/login"; throw new Error("session expired"); }
  let data = {};
  try { data = await r.json(); } catch (e) { data = { message: "HTTP " + r.status }; }
  data.httpStatus = r.status;
  return data;
}
function duration(ms) {
  if (ms == null || ms < 0) return "never";
  if (ms < 1000) return ms + " ms";
  const s = Math.floor(ms / 1000);
  if (s < 60) return (ms / 1000).toFixed(1) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + (s % 60) + " s";
  const h = Math.floor(m / 60);
  if (h < 48) return h + " h " + (m % 60) + " min";
  return Math.floor(h / 24) + " d " + (h % 24) + " h";
}
function rtt(us) {
  if (us == null || us < 0) return "–";
  return us < 1000 ? us + " µs" : (us / 1000).toFixed(us < 10000 ? 2 : 1) + " ms";
}

// A confirmation dialog; resolves true when confirmed. `typed`: a word the operator must type.
function confirmDialog(title, text, okLabel, typed) {
  const d = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel || "Confirm";
  const label = $("confirm-typed-label"), input = $("confirm-typed");
  label.hidden = !typed;
  input.value = "";
  if (typed) $("confirm-typed-name").textContent = typed;
  const ok = $("confirm-ok");
  ok.disabled = !!typed;
  input.oninput = () => { ok.disabled = input.value !== typed; };
  return new Promise((resolve) => {
    d.onclose = () => resolve(d.returnValue === "ok" ? (typed ? input.value : true) : false);
    d.returnValue = "";
    d.showModal();
    if (typed) input.focus(); else $("confirm-cancel").focus();
  });
}

const logout = $("logout");
if (logout) logout.addEventListener("click", async () => {
  await post("/logout", {}).catch(() => {});
  location.href = "/login";
});

// ---------------------------------------------------------------- dashboard
function spark(values, max, cls, title) {
  const w = 96, h = 26, n = 60;
  const pts = [];
  const start = n - values.length;
  values.forEach((v, i) => {
    if (v == null || v < 0) return;
    const x = ((start + i) / (n - 1)) * w;
    const y = h - 2 - Math.min(1, v / max) * (h - 4);
    pts.push(x.toFixed(1) + "," + y.toFixed(1));
  });
  return '<svg class="spark" width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + " " + h + '" role="img" aria-label="' + esc(title) + '">' +
    '<title>' + esc(title) + '</title><line class="base" x1="0" y1="' + (h - 2) + '" x2="' + w + '" y2="' + (h - 2) + '"></line>' +
    (pts.length ? '<polyline class="' + cls + '" points="' + pts.join(" ") + '"></polyline>' : "") + "</svg>";
}
function roleClass(role) {
  return ["ACTIVE", "STANDBY", "FENCING", "STOPPED", "UNREACHABLE"].includes(role) ? role : "other";
}
function fact(label, value, cls) {
  return '<div class="fact ' + (cls || "") + '"><span>' + esc(label) + "</span><b>" + esc(value) + "</b></div>";
}
function actionButton(node, op, label, extra, disabled) {
  return '<button type="button" class="btn small' + (op === "fence-confirm" ? " danger" : "") + '" data-node="' + esc(node) + '" data-op="' + esc(op) + '"' +
    (extra ? ' data-rule="' + esc(extra) + '"' : "") + (disabled ? " disabled" : "") + ">" + esc(label) + "</button>";
}
function renderNode(n) {
  const card = $("node-" + n.name);
  if (!card) return;
  if (!n.reachable) {
    setHTML(card, '<div class="node-head"><h2>' + esc(n.name) + '</h2><span class="role UNREACHABLE" data-role="UNREACHABLE">UNREACHABLE</span>' +
      (n.local ? '<span class="tag">this node</span>' : "") + "</div>" +
      '<p class="unreachable-msg">' + esc(n.error || "no answer") + "</p>" +
      '<p class="muted">Control socket: <code>' + esc(n.target) + "</code>" + (n.last_seen ? " · last answer " + esc(new Date(n.last_seen * 1000).toLocaleTimeString()) : "") + "</p>");
    return;
  }
  const s = n.status, p = s.peer || {}, f = s.fence || {}, w = s.watchdog || {}, lat = s.loop_lateness_us || {};
  let html = '<div class="node-head"><h2>' + esc(n.name) + '</h2><span class="role ' + roleClass(s.role) + '" data-role="' + esc(s.role) + '">' + esc(s.role) + "</span>" +
    (n.local ? '<span class="tag">this node</span>' : "") +
    (s.maintenance ? '<span class="tag warn">maintenance</span>' : "") +
    (s.realtime_degraded ? '<span class="tag warn">real-time degraded</span>' : "") + "</div>";
  html += '<p class="muted">' + esc(s.reason) + " · in this role for " + esc(duration(s.role_age_ms)) + " · up " + esc(duration(s.uptime_ms)) +
    " · incarnation <span class=\"mono\">" + esc(s.incarnation) + "</span> · epoch " + esc(s.epoch) + "</p>";
  const heard = p.last_heard_ms_ago;
  html += '<div class="facts">' +
    fact("Peer " + (p.name || "?"), p.alive ? (p.role || "?") : "not heard", p.alive ? "ok" : "bad") +
    fact("Last heartbeat", heard == null || heard < 0 ? "never" : duration(heard) + " ago", heard != null && heard >= 0 && heard < 1000 ? "ok" : "warn") +
    fact("Fencing", (f.state || "?") + (f.failures ? " · " + f.failures + " failed" : ""), f.state === "idle" ? "" : "bad") +
    fact("Watchdog", (w.state || "?") + (w.timeout_s ? " · " + w.timeout_s + " s" : ""), w.state === "failed" ? "bad" : "") +
    fact("Links alive", s.alive_links + " / " + (s.links || []).length, s.alive_links === (s.links || []).length ? "ok" : "bad") +
    fact("Loop lateness p99", rtt(lat.p99), "") +
    fact("Loop lateness max", rtt(lat.max), "") +
    fact("Stalls", s.stalls, s.stalls ? "warn" : "") + "</div>";
  html += '<table class="grid links"><thead><tr><th>Link</th><th>State</th><th class="num">RTT</th><th>Latency (last 60 polls)</th><th class="num">Loss</th><th>Loss (per poll)</th><th class="num">Last heard</th></tr></thead><tbody>';
  for (const l of s.links || []) {
    const h = (n.history || {})[l.name] || { rtt_us: [], loss_percent: [] };
    const maxRtt = Math.max(1000, ...h.rtt_us.filter((v) => v > 0)) * 1.15;
    const lastLoss = h.loss_percent.length ? h.loss_percent[h.loss_percent.length - 1] : 0;
    const st = !l.carrier ? ["down", "no carrier"] : l.alive ? ["up", "up"] : ["down", "down"];
    html += "<tr><td><b>" + esc(l.name) + "</b></td><td class=\"state " + st[0] + "\">" + esc(st[1]) + "</td>" +
      '<td class="num">' + esc(rtt(l.alive ? l.rtt_us : -1)) + "</td>" +
      '<td><div class="spark-cell">' + spark(h.rtt_us, maxRtt, "line", l.name + " round-trip time") + "<small>max " + esc(rtt(Math.max(-1, ...h.rtt_us))) + "</small></div></td>" +
      '<td class="num">' + esc(lastLoss.toFixed(1)) + " %<br><small class=\"muted\">total " + esc(l.loss_percent) + " %</small></td>" +
      '<td><div class="spark-cell">' + spark(h.loss_percent, 100, h.loss_percent.some((v) => v > 0) ? "loss" : "zero", l.name + " heartbeat loss") + "</div></td>" +
      '<td class="num">' + esc(l.last_heard_ms_ago < 0 ? "never" : duration(l.last_heard_ms_ago)) + "</td></tr>";
  }
  html += "</tbody></table>";
  const rules = s.aac_rules || [];
  html += "<h3>Application rules</h3>";
  if (!rules.length) {
    html += '<p class="muted">No AAC rules on this node.</p>';
  } else {
    html += '<table class="grid rules"><thead><tr><th>Rule</th><th>State</th><th class="num">Checks</th><th class="num">Failures</th><th class="num">Restarts</th><th>Last check</th></tr></thead><tbody>';
    const active = s.role === "ACTIVE";
    for (const r of rules) {
      // The supervisor's states (docs/agents.md): running; failed/broken; the rest in between.
      const cls = r.state === "running" ? "up" : r.state === "failed" || r.state === "broken" ? "down" :
        ["disabled", "idle", "stopped"].includes(r.state) ? "off" : "warn";
      const busy = r.operator_action_pending;
      const running = r.enabled && (r.state === "running" || r.state === "recovering");
      // Monitored rules: stop, restart, disable. Stopped or disabled ones: start, enable.
      const buttons = r.enabled
        ? actionButton(n.name, "rule-stop", "Stop", r.name, busy || !active) + actionButton(n.name, "rule-restart", "Restart", r.name, busy || !active) +
          actionButton(n.name, "rule-disable", "Disable", r.name, busy)
        : actionButton(n.name, "rule-start", "Start", r.name, busy || !active || running) + actionButton(n.name, "rule-enable", "Enable", r.name, busy);
      html += '<tr data-rule-row="' + esc(r.name) + '"><td><b>' + esc(r.name) + '</b><br><small class="muted">' + esc(r.description || r.agent) + "</small></td>" +
        '<td class="state ' + cls + '" data-rule-state>' + esc(r.state) + (busy ? '<br><small class="muted">operator action running…</small>' : "") + "</td>" +
        '<td class="num" data-rule-checks>' + esc(r.checks) + '</td><td class="num">' + esc(r.failures) + '</td><td class="num" title="automatic restarts within the window / max_restarts; all automatic restarts since the last reset">' +
        esc(r.restarts_in_window + " / " + r.max_restarts) + (r.restarts ? '<br><small class="muted">' + esc(r.restarts) + " total</small>" : "") + "</td>" +
        "<td>" + esc(r.last_check_ms_ago < 0 ? "never" : duration(r.last_check_ms_ago) + " ago") + (r.last_result ? '<br><small class="muted">' + esc(r.last_result) + "</small>" : "") +
        (r.last_operator_action ? '<br><small class="muted" data-rule-operator>' + esc(r.last_operator_action) + "</small>" : "") + "</td></tr>" +
        // The rule's actions on a row of their own (the cards are narrow).
        '<tr class="rule-actions"><td colspan="6"><div class="buttons">' + buttons + actionButton(n.name, "rule-reset-statistics", "Reset stats", r.name) + "</div></td></tr>";
    }
    html += "</tbody></table>";
  }
  html += '<div class="actions buttons">' +
    actionButton(n.name, "switchover", "Switchover", "", s.role !== "ACTIVE") +
    actionButton(n.name, "standby", "Standby", "", s.role !== "ACTIVE") +
    (s.maintenance ? actionButton(n.name, "maintenance-off", "End maintenance") : actionButton(n.name, "maintenance-on", "Maintenance")) +
    actionButton(n.name, "fence-confirm", "Fence-confirm…", "", s.role !== "FENCING") + "</div>";
  setHTML(card, html);
}
function verdict(data) {
  const v = $("verdict"), t = $("verdict-text");
  const nodes = data.nodes || [];
  const down = nodes.filter((n) => !n.reachable);
  const roles = nodes.filter((n) => n.reachable).map((n) => n.name + " " + n.status.role);
  const active = nodes.filter((n) => n.reachable && n.status.role === "ACTIVE");
  const linkDown = nodes.some((n) => n.reachable && (n.status.links || []).some((l) => !l.alive));
  const fencing = nodes.some((n) => n.reachable && n.status.role === "FENCING");
  let cls = "ok", text;
  if (active.length > 1) { cls = "bad"; text = "Two nodes report ACTIVE: " + roles.join(" · "); }
  else if (fencing) { cls = "bad"; text = "Fencing in progress: " + roles.join(" · "); }
  else if (active.length === 0) { cls = "bad"; text = "No ACTIVE node" + (roles.length ? ": " + roles.join(" · ") : ""); }
  else if (down.length) { cls = "warn"; text = roles.join(" · ") + " — " + down.map((n) => n.name).join(", ") + " unreachable"; }
  else if (linkDown) { cls = "warn"; text = roles.join(" · ") + " — a heartbeat link is down"; }
  else text = "Cluster healthy: " + roles.join(" · ");
  v.className = "verdict " + cls;
  t.textContent = text;
}
function renderEvents(data) {
  const rows = [];
  for (const n of data.nodes || []) for (const e of n.events || []) rows.push([e.time, n.name, e]);
  rows.sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) || b[2].seq - a[2].seq);
  const body = $("events");
  if (!rows.length) { body.innerHTML = '<tr><td colspan="5" class="muted">none yet</td></tr>'; return; }
  body.innerHTML = rows.slice(0, 14).map(([t, node, e]) =>
    "<tr><td>" + esc(new Date(t * 1000).toLocaleTimeString()) + "</td><td>" + esc(node) + '</td><td class="lvl ' + esc(e.level) + '">' + esc(e.level) +
    '</td><td class="mono">' + esc(e.event) + "</td><td>" + esc(e.message) + "</td></tr>").join("");
}
let lastData = null, lastAt = 0;
function render(data) {
  lastData = data; lastAt = Date.now();
  verdict(data);
  for (const n of data.nodes || []) renderNode(n);
  renderEvents(data);
}
function liveState(on, text) {
  const l = $("live");
  l.className = "live " + (on ? "on" : "off");
  $("live-text").textContent = text;
}
function startDashboard() {
  fetch("/api/status", { credentials: "same-origin" }).then((r) => r.status === 401 ? (location.href = "/login") : r.json()).then((d) => d && d.nodes && render(d)).catch(() => {});
  const es = new EventSource("/api/events");
  es.addEventListener("status", (ev) => { render(JSON.parse(ev.data)); liveState(true, "live · updated just now"); });
  es.onerror = () => {
    liveState(false, "connection lost — retrying");
    fetch("/api/status", { credentials: "same-origin" }).then((r) => { if (r.status === 401) location.href = "/login"; }).catch(() => {});
  };
  setInterval(() => {
    if (!lastAt) return;
    const age = (Date.now() - lastAt) / 1000;
    if (age > 1.5 && $("live").classList.contains("on")) $("live-text").textContent = "live · updated " + age.toFixed(0) + " s ago";
  }, 1000);
  $("nodes").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-op]");
    if (!b) return;
    const node = b.dataset.node, op = b.dataset.op, rule = b.dataset.rule;
    const n = (lastData.nodes || []).find((x) => x.name === node);
    const peer = n && n.reachable ? n.status.peer.name : "the peer";
    const texts = {
      "switchover": ["Switch over?", node + " hands the ACTIVE role to " + peer + ". Services move to " + peer + " and are briefly unavailable.", "Switch over"],
      "standby": ["Put " + node + " in standby?", node + " stops serving and goes STANDBY; " + peer + " takes over.", "Go standby"],
      "maintenance-on": ["Maintenance on " + node + "?", "While in maintenance, " + node + " takes no automatic action (no takeover, no fencing).", "Start maintenance"],
      "maintenance-off": ["End maintenance on " + node + "?", node + " resumes automatic failover decisions.", "End maintenance"],
      "fence-confirm": ["Confirm " + peer + " is powered off?", "Fencing of " + peer + " did not succeed. Confirming makes " + node + " take over WITHOUT fencing. Only do this after checking that " + peer + " is really off: two ACTIVE nodes corrupt data.", "Confirm fenced"],
      "rule-enable": ["Enable rule " + rule + "?", "The AAC starts monitoring " + rule + " on " + node + " again.", "Enable"],
      "rule-disable": ["Disable rule " + rule + "?", "The AAC stops monitoring " + rule + " on " + node + ": failures will not restart it or fail over.", "Disable"],
      "rule-restart": ["Restart " + rule + "?", "The AAC restarts the service of rule " + rule + " on " + node + " now (not counted toward its restart limit).", "Restart"],
      "rule-start": ["Start " + rule + "?", "The AAC runs the start action of rule " + rule + " on " + node + " and monitors it again, with a fresh restart budget (failed checks within the rule's startup grace are not acted upon).", "Start"],
      "rule-stop": ["Stop " + rule + "?", "The AAC stops the service of rule " + rule + " on " + node + " through its agent and stops monitoring it: it is not restarted and its failure does not fail over to " + peer + " until you start or enable the rule again.", "Stop service"],
      "rule-reset-statistics": ["Reset the statistics of " + rule + "?", "Zeroes the counters of rule " + rule + " on " + node + " (checks, failures, restarts, handover requests) and its restart budget. Its state is kept: a failed rule stays failed until a check passes.", "Reset"],
    }[op];
    const answer = await confirmDialog(texts[0], texts[1], texts[2], op === "fence-confirm" ? peer : null);
    if (!answer) return;
    const body = { node, op };
    if (rule) body.rule = rule;
    if (op === "fence-confirm") body.confirm = answer;
    const res = $("action-result");
    res.hidden = false; res.className = "alert"; res.textContent = "Sending " + op + " to " + node + "…";
    try {
      const r = await post("/api/action", body);
      res.className = r.ok ? "alert ok" : "alert bad";
      res.textContent = r.ok ? op + " on " + node + ": accepted" + (r.result && r.result.message ? " — " + r.result.message : "")
                             : op + " on " + node + " refused: " + (r.message || "error") + (r.details && r.details.length ? " (" + r.details.join("; ") + ")" : "");
    } catch (e) { res.className = "alert bad"; res.textContent = String(e); }
  });
}

// ---------------------------------------------------------------- configuration editor
let baseHash = "", savedSinceApply = false;
function sections(text) {
  const nav = $("sections");
  const lines = text.split("\n");
  const counts = {}, groups = { "Global options": [], "Links": [], "AAC rules": [], "Other": [] };
  const globals = ["cluster", "node", "peer", "timing", "fencing", "watchdog", "realtime", "control", "log"];
  lines.forEach((l, i) => {
    const m = l.match(/^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?/);
    if (!m) return;
    const name = m[2], root = name.split(".")[0];
    const g = globals.includes(root) ? "Global options" : root === "link" ? "Links" : root === "aac" || root === "rule" ? "AAC rules" : "Other";
    counts[name] = (counts[name] || 0) + 1;
    const label = m[1] === "[[" ? name + " " + counts[name] : name;
    groups[g].push('<a href="#" data-line="' + i + '">' + esc(label) + "</a>");
  });
  let html = "";
  for (const [g, items] of Object.entries(groups)) if (items.length) html += '<div class="group">' + esc(g) + "</div>" + items.join("");
  nav.innerHTML = html;
}
function gotoLine(n) {
  const ta = $("text");
  const lines = ta.value.split("\n");
  let pos = 0;
  for (let i = 0; i < n && i < lines.length; i++) pos += lines[i].length + 1;
  ta.focus();
  ta.setSelectionRange(pos, pos + (lines[n] || "").length);
  const lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
  ta.scrollTop = Math.max(0, n * lh - ta.clientHeight / 3);
}
function showCheck(r, title) {
  $("result").hidden = false;
  $("result-title").textContent = title;
  const items = [];
  for (const e of r.errors || []) items.push('<li class="error" data-line="' + (e.line || 0) + '">Error: ' + esc(e.text) + "</li>");
  for (const w of r.warnings || []) items.push('<li class="warning" data-line="' + (w.line || 0) + '">Warning: ' + esc(w.text) + "</li>");
  if (r.valid && !(r.warnings || []).length) items.push('<li class="ok">The engine\'s validator accepts this configuration.</li>');
  $("problems").innerHTML = items.join("");
  const diff = r.diff || [];
  $("diff").innerHTML = diff.length ? diff.map((l) => {
    if (l === null) return '<span class="gap">…</span>';
    const cls = l.kind === "+" ? "add" : l.kind === "-" ? "del" : "";
    const num = l.kind === "+" ? l.new : l.old;
    return '<span class="' + cls + '">' + esc(l.kind + " " + String(num).padStart(4) + "  " + l.text) + "</span>";
  }).join("") : "";
  if (!diff.length && r.valid) $("problems").innerHTML += '<li class="ok">No changes against the file on disk.</li>';
  $("steps").innerHTML = "";
}
async function loadConfig() {
  const r = await fetch("/api/config", { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/login"; return; }
  const d = await r.json();
  if (!d.text && d.message) { showCheck({ errors: [{ text: d.message }], warnings: [], diff: [] }, "Cannot load the configuration"); return; }
  $("text").value = d.text;
  baseHash = d.hash;
  sections(d.text);
}
function startEditor() {
  loadConfig();
  $("text").addEventListener("input", () => sections($("text").value));
  $("sections").addEventListener("click", (ev) => { const a = ev.target.closest("a[data-line]"); if (a) { ev.preventDefault(); gotoLine(+a.dataset.line); } });
  $("problems").addEventListener("click", (ev) => { const li = ev.target.closest("li[data-line]"); if (li && +li.dataset.line > 0) gotoLine(+li.dataset.line - 1); });
  $("validate").addEventListener("click", async () => {
    const r = await post("/api/config/check", { text: $("text").value });
    showCheck(r, r.valid ? "Valid — changes against the saved file" : "Not valid — nothing was saved");
  });
  $("save").addEventListener("click", async () => {
    const r = await post("/api/config/save", { text: $("text").value, hash: baseHash });
    if (r.saved) {
      baseHash = r.hash; savedSinceApply = true;
      showCheck(r, "Saved — use Apply to put it into effect");
    } else if (r.errors) {
      showCheck(r, "Not saved: the configuration has errors");
    } else {
      showCheck({ errors: [{ text: r.message || "save failed" }], warnings: [], diff: [] }, "Not saved");
    }
  });
  $("apply").addEventListener("click", async () => {
    const ok = await confirmDialog("Apply the saved configuration?",
      "The ACTIVE node reloads its configuration now (through its control socket), and the boot image is rebuilt so the node's next boot uses the saved file." +
      (savedSinceApply ? "" : " (Nothing was saved in this session: the file on disk is applied as it is.)"), "Apply");
    if (!ok) return;
    $("result").hidden = false;
    $("result-title").textContent = "Applying…";
    $("problems").innerHTML = ""; $("diff").innerHTML = ""; $("steps").innerHTML = "";
    const r = await post("/api/config/apply", {});
    $("result-title").textContent = r.ok ? "Applied" : "Apply did not fully succeed";
    $("steps").innerHTML = (r.steps || []).map((s) => '<li class="' + (s.skipped ? "skip" : s.ok ? "ok" : "bad") + '">' + esc(s.message) +
      (s.details && s.details.length ? "<small>" + esc(s.details.join("\n")) + "</small>" : "") + "</li>").join("") ||
      '<li class="bad">' + esc(r.message || "failed") + "</li>";
    savedSinceApply = false;
  });
}

if (document.body.dataset.page === "dashboard") startDashboard();
if (document.body.dataset.page === "config") startEditor();
"""#
}
