// /assets/app.css: the console's only style sheet.

extension Assets {
    static let css = #"""
:root {
  --bg: #f3f5f8; --card: #ffffff; --ink: #1c2430; --muted: #677385; --line: #dde2ea;
  --top: #18212e; --accent: #2f6fdb;
  --ok: #1f8a4c; --ok-bg: #e3f4ea; --info: #2f6fdb; --info-bg: #e5eefc;
  --warn: #b26a00; --warn-bg: #fdf1dc; --bad: #c62f2f; --bad-bg: #fbe5e5; --idle: #6b7684; --idle-bg: #eceff3;
  font-family: "DejaVu Sans", "Segoe UI", system-ui, sans-serif; font-size: 14px; color: var(--ink);
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); }
main { max-width: 1320px; margin: 0 auto; padding: 18px 22px 40px; }
code, pre, textarea, .mono { font-family: "DejaVu Sans Mono", ui-monospace, monospace; }
h1, h2, h3 { margin: 0 0 6px; font-weight: 600; }
h2 { font-size: 20px; } h3 { font-size: 15px; }
.muted { color: var(--muted); }
.top { display: flex; align-items: center; gap: 28px; background: var(--top); color: #e8edf5; padding: 0 22px; height: 52px; }
.brand { display: flex; align-items: center; gap: 8px; font-weight: 700; font-size: 17px; letter-spacing: .3px; }
.brand small { font-weight: 400; color: #9aa7b8; font-size: 12px; margin-left: 4px; }
.nav { display: flex; gap: 4px; flex: 1; }
.nav a { color: #c5cfdc; text-decoration: none; padding: 7px 12px; border-radius: 6px; }
.nav a.current, .nav a:hover { background: #2a3646; color: #fff; }
.who { display: flex; align-items: center; gap: 10px; color: #c5cfdc; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin-bottom: 16px; box-shadow: 0 1px 2px rgba(20,30,50,.04); }
.btn { white-space: nowrap; font: inherit; border: 1px solid #c3cbd7; background: #fff; color: var(--ink); border-radius: 7px; padding: 7px 13px; cursor: pointer; }
.btn:hover { border-color: var(--accent); }
.btn:disabled { opacity: .45; cursor: not-allowed; }
.btn.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.btn.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
.btn.ghost { background: transparent; border-color: #5b6777; color: inherit; }
.btn.small { padding: 4px 9px; font-size: 12px; }
.buttons { display: flex; gap: 8px; flex-wrap: wrap; }
.alert { padding: 9px 12px; border-radius: 7px; background: var(--info-bg); color: #173f82; margin: 0 0 14px; }
.alert.bad { background: var(--bad-bg); color: #8a1d1d; }
.alert.ok { background: var(--ok-bg); color: #125c31; }
/* login */
.login { max-width: 360px; margin: 70px auto; display: flex; flex-direction: column; gap: 12px; padding: 26px; }
.login label { display: flex; flex-direction: column; gap: 4px; color: var(--muted); }
input { font: inherit; padding: 8px 10px; border: 1px solid #c3cbd7; border-radius: 7px; color: var(--ink); }
/* summary */
.summary { display: flex; justify-content: space-between; align-items: center; margin-bottom: 14px; gap: 14px; }
.verdict { display: flex; align-items: center; gap: 10px; font-size: 16px; font-weight: 600; padding: 10px 16px; border-radius: 9px; flex: 1; }
.verdict .dot, .live .dot { width: 11px; height: 11px; border-radius: 50%; background: currentColor; display: inline-block; }
.verdict.ok { background: var(--ok-bg); color: var(--ok); }
.verdict.warn { background: var(--warn-bg); color: var(--warn); }
.verdict.bad { background: var(--bad-bg); color: var(--bad); }
.verdict.unknown { background: var(--idle-bg); color: var(--idle); }
.live { display: flex; align-items: center; gap: 7px; color: var(--muted); font-size: 12px; white-space: nowrap; }
.live.on .dot { color: var(--ok); animation: pulse 2s infinite; }
.live.off .dot { color: var(--bad); }
@keyframes pulse { 50% { opacity: .35; } }
/* nodes */
.nodes { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; margin-bottom: 16px; }
.node { margin-bottom: 0; }
.node-head { display: flex; align-items: center; gap: 12px; margin-bottom: 4px; }
.node-head h2 { margin: 0; font-size: 24px; }
.role { font-weight: 700; letter-spacing: .6px; padding: 4px 12px; border-radius: 999px; font-size: 13px; }
.role.ACTIVE { background: var(--ok-bg); color: var(--ok); border: 1px solid #9fd4b3; }
.role.STANDBY { background: var(--info-bg); color: var(--info); border: 1px solid #a9c3ef; }
.role.FENCING, .role.UNREACHABLE, .role.STOPPED { background: var(--bad-bg); color: var(--bad); border: 1px solid #eeb0b0; }
.role.other { background: var(--warn-bg); color: var(--warn); border: 1px solid #efcf98; }
.tag { font-size: 11px; padding: 2px 7px; border-radius: 5px; background: var(--idle-bg); color: var(--idle); }
.tag.warn { background: var(--warn-bg); color: var(--warn); }
.facts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 12px 0; }
.fact { background: #f7f9fb; border: 1px solid var(--line); border-radius: 8px; padding: 7px 10px; }
.fact b { display: block; font-size: 15px; margin-top: 2px; }
.fact span { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .4px; }
.fact.bad b { color: var(--bad); } .fact.warn b { color: var(--warn); } .fact.ok b { color: var(--ok); }
table.grid { width: 100%; border-collapse: collapse; margin: 6px 0 12px; }
.grid th { text-align: left; font-weight: 600; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .4px; border-bottom: 1px solid var(--line); padding: 5px 6px; }
.grid td { border-bottom: 1px solid #eef1f5; padding: 6px; vertical-align: middle; }
.grid td.num { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
.state { font-weight: 600; }
.rules tr[data-rule-row] td { border-bottom: none; padding-bottom: 2px; }
.rules tr.rule-actions td { padding-top: 2px; }
.rules tr.rule-actions .buttons { gap: 6px; }
.state.up { color: var(--ok); } .state.down { color: var(--bad); } .state.warn { color: var(--warn); } .state.off { color: var(--muted); }
svg.spark { display: block; }
svg.spark .line { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.spark .loss { fill: none; stroke: var(--bad); stroke-width: 1.5; }
svg.spark .zero { fill: none; stroke: #8cc9a4; stroke-width: 1.5; }
svg.spark .base { stroke: #e2e6ec; stroke-width: 1; }
.spark-cell { display: flex; align-items: center; gap: 6px; }
.spark-cell small { color: var(--muted); min-width: 58px; text-align: right; font-variant-numeric: tabular-nums; }
.actions { border-top: 1px solid var(--line); padding-top: 12px; margin-top: 4px; }
.events td:nth-child(1), .events td:nth-child(2) { white-space: nowrap; }
.lvl { font-size: 11px; font-weight: 700; text-transform: uppercase; }
.lvl.error, .lvl.crit, .lvl.alert, .lvl.emerg { color: var(--bad); } .lvl.warning { color: var(--warn); } .lvl.notice { color: var(--info); } .lvl.info, .lvl.debug { color: var(--muted); }
.unreachable-msg { color: var(--bad); margin: 10px 0; }
/* dialog */
dialog { border: none; border-radius: 12px; padding: 0; box-shadow: 0 18px 50px rgba(10,20,40,.35); max-width: 520px; }
dialog::backdrop { background: rgba(15,22,33,.55); }
.dialog { padding: 20px 22px; display: flex; flex-direction: column; gap: 12px; }
.dialog .buttons { justify-content: flex-end; }
.dialog label { display: flex; flex-direction: column; gap: 6px; }
/* editor */
.editor-head .buttons { flex-wrap: nowrap; }
.editor-head { display: flex; justify-content: space-between; align-items: flex-start; gap: 16px; margin-bottom: 12px; }
.editor { display: grid; grid-template-columns: 170px 1fr; gap: 12px; }
.sections { display: flex; flex-direction: column; gap: 2px; border-right: 1px solid var(--line); padding-right: 10px; }
.sections a { color: var(--ink); text-decoration: none; padding: 4px 8px; border-radius: 5px; font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
.sections a:hover { background: var(--info-bg); }
.sections .group { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .4px; margin: 8px 0 2px 8px; }
textarea { width: 100%; min-height: 520px; font-size: 13px; line-height: 1.45; border: 1px solid #c3cbd7; border-radius: 8px; padding: 10px 12px; resize: vertical; tab-size: 4; }
.problems { margin: 6px 0 12px; padding-left: 0; list-style: none; }
.problems li { padding: 6px 10px; border-radius: 6px; margin-bottom: 4px; cursor: pointer; }
.problems li.error { background: var(--bad-bg); color: #8a1d1d; }
.problems li.warning { background: var(--warn-bg); color: #6e4300; }
.problems li.ok { background: var(--ok-bg); color: #125c31; cursor: default; }
pre.diff { background: #f7f9fb; border: 1px solid var(--line); border-radius: 8px; padding: 8px 0; overflow-x: auto; margin: 0 0 10px; font-size: 12.5px; }
pre.diff:empty { display: none; }
pre.diff span { display: block; padding: 0 12px; white-space: pre; }
pre.diff .add { background: #e3f4ea; color: #125c31; }
pre.diff .del { background: #fbe5e5; color: #8a1d1d; }
pre.diff .gap { color: var(--muted); }
.steps { list-style: none; padding: 0; margin: 0; }
.steps li { padding: 6px 10px; border-radius: 6px; margin-bottom: 4px; }
.steps li.ok { background: var(--ok-bg); } .steps li.bad { background: var(--bad-bg); } .steps li.skip { background: var(--idle-bg); }
.steps small { display: block; color: var(--muted); white-space: pre-wrap; }
"""#
}
