#!/usr/bin/env python3
"""The web console in a real browser, against a real two-node cluster.

Starts a two-namespace lab cluster (tools/lab.sh, each node with its control socket),
shaolin-web in front of both sockets, and headless Chromium (Debian's package) driven over
the Chrome DevTools protocol through --remote-debugging-pipe (stdlib only). Like an operator
it: is sent to the login page, fails with a wrong password, logs in, sees both nodes, stops
and starts node A's AAC rule and resets its statistics (confirmation dialogs; the service
really stops and is not restarted behind the operator's back), asks for a switchover
(confirmation dialog) and watches the roles swap on the dashboard without a page reload, saves a bad configuration and sees the engine validator's error, saves a good
one and applies it (reload on the ACTIVE + the boot-image command). Screenshots go to
docs/ (--screenshots DIR to change, --no-screenshots to skip).

Run as root after building (release or debug): python3 tools/web-browser-test.py
Ends with "browser: N passed, N failed"; exit status 0 only when all passed.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_binary(name):
    env = os.environ.get(name.upper().replace("-", "_"))
    if env:
        return env
    # shaolin-web is built by its own package in web/ (the engine's package stays free of
    # Hummingbird and NIO); shaolind and shaolinctl by the root package.
    for root in (os.path.join(HERE, "web"), HERE):
        for mode in ("release", "debug"):
            p = os.path.join(root, ".build", mode, name)
            if os.path.exists(p):
                return p
    sys.exit(f"{name} is not built: run tools/web-test.sh (or swift build in web/ and in the repository root) first")


def find_chromium():
    for c in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(c)
        if p:
            return p
    sys.exit("chromium is not installed (apt-get install chromium; tools/bootstrap.sh does)")


class CDP:
    """Chrome DevTools protocol over --remote-debugging-pipe (fd 3: commands in, fd 4: out)."""

    def __init__(self, chromium, profile, log):
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        # Move the child's ends clear of 3 and 4 (close-on-exec); the child dup2s them there.
        hi_cmd_r, hi_out_w = fcntl_dup(cmd_r, 100), fcntl_dup(out_w, 100)
        os.close(cmd_r)
        os.close(out_w)

        def child_fds():
            os.dup2(hi_cmd_r, 3)
            os.dup2(hi_out_w, 4)

        args = [chromium, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--password-store=basic", "--hide-scrollbars",
                "--force-color-profile=srgb", "--font-render-hinting=none", "--lang=en-US",
                f"--user-data-dir={profile}", "about:blank"]
        # close_fds=False: Python's own descriptors are close-on-exec already; 3 and 4 must survive.
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=child_fds, close_fds=False, start_new_session=True)
        os.close(hi_cmd_r)
        os.close(hi_out_w)
        self.w = cmd_w
        self.r = out_r
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.read(deadline - time.time())
            if m is None:
                continue
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)
        raise TimeoutError(f"{method}: no answer from chromium")

    def read(self, timeout):
        import select
        while b"\0" not in self.buf:
            ready, _, _ = select.select([self.r], [], [], max(0, timeout))
            if not ready:
                return None
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\0", 1)
        return json.loads(line)

    def open_page(self, width, height):
        t = self.send("Target.createTarget", {"url": "about:blank"}, session=False, timeout=90)  # a loaded machine starts chromium slowly
        a = self.send("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True}, session=False)
        self.session = a["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def fcntl_dup(fd, minimum):
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, minimum)


class Browser:
    """What an operator does: go to a page, type, click, look."""

    def __init__(self, cdp):
        self.cdp = cdp

    def js(self, expression):
        r = self.cdp.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"script failed: {expression[:80]}: {r['exceptionDetails'].get('text')} {r['exceptionDetails'].get('exception', {}).get('description', '')}")
        return r["result"].get("value")

    def goto(self, url):
        self.cdp.send("Page.navigate", {"url": url})
        self.wait(lambda: self.js("document.readyState") == "complete", 15, f"load {url}")

    def wait(self, cond, seconds, what):
        deadline = time.time() + seconds
        last = None
        while time.time() < deadline:
            try:
                if cond():
                    return True
            except Exception as e:  # page navigating
                last = e
            time.sleep(0.1)
        raise AssertionError(f"timed out after {seconds} s waiting for: {what}" + (f" (last error: {last})" if last else ""))

    def center(self, selector):
        r = self.js(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; e.scrollIntoView({{block: 'center'}}); const b = e.getBoundingClientRect();
            return [b.left + b.width / 2, b.top + b.height / 2, e.disabled === true]; }})()""")
        if r is None:
            raise AssertionError(f"no element {selector}")
        return r

    def click(self, selector):
        x, y, disabled = self.center(selector)
        if disabled:
            raise AssertionError(f"{selector} is disabled")
        for t in ("mouseMoved", "mousePressed", "mouseReleased"):
            p = {"type": t, "x": x, "y": y}
            if t != "mouseMoved":
                p.update(button="left", clickCount=1)
            self.cdp.send("Input.dispatchMouseEvent", p)

    def type_into(self, selector, text, replace=True):
        self.click(selector)
        if replace:
            self.js(f"document.querySelector({json.dumps(selector)}).select()")
        self.cdp.send("Input.insertText", {"text": text})

    def text(self, selector):
        return self.js(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''")

    def screenshot(self, path, full=True):
        r = self.cdp.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full}, timeout=30)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--screenshots", default=os.path.join(HERE, "docs", "screenshots"))
    ap.add_argument("--no-screenshots", action="store_true")
    ap.add_argument("--keep", action="store_true", help="leave the work directory")
    opts = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (network namespaces)")

    shaolind = find_binary("shaolind")
    web = find_binary("shaolin-web")
    chromium = find_chromium()
    work = tempfile.mkdtemp(prefix="shaolin-web-browser-")
    lab_id = f"w{os.getpid() % 100000}"
    lab_dir = os.path.join(work, "lab")
    # Node A watches a "service" (a detached sleep started by a script, killed by PID at the
    # end) with an AAC rule and the built-in process agent.
    svc = os.path.join(work, "svc")
    os.makedirs(svc)
    start_script = os.path.join(svc, "start-service")
    with open(start_script, "w") as f:
        f.write(f"""#!/bin/bash
setsid sleep 100000 </dev/null >/dev/null 2>&1 &
pid=$!
echo $pid >> "{svc}/all.pids"
for _ in $(seq 1 200); do [ "$(cat /proc/$pid/comm 2>/dev/null)" = sleep ] && break; sleep 0.01; done
echo $pid > "{svc}/svc.pid"
echo "started $pid"
""")
    os.chmod(start_script, 0o755)
    rule_a = f"""
[aac]
agent_dir = "{os.path.join(HERE, 'agents')}"

[[aac.rule]]
name = "web"
description = "the web front end (process agent)"
agent = "process"
params = {{ pidfile = "{svc}/svc.pid", name = "sleep" }}
interval_ms = 500
startup_grace_ms = 0
start = ["{start_script}"]
max_restarts = 2
restart_window_ms = 60000
failover = true
"""
    env = dict(os.environ, LAB_ID=lab_id, LAB_DIR=lab_dir, SHAOLIND=shaolind, KEEP_LAB="1", EXTRA_CONF_A=rule_a)

    def service_pid():
        try:
            return int(open(os.path.join(svc, "svc.pid")).read().strip())
        except (OSError, ValueError):
            return None

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        try:  # a zombie is gone too
            return open(f"/proc/{pid}/stat").read().split(") ", 1)[1][0] != "Z"
        except OSError:
            return False
    results = []
    web_proc = cdp = None
    web_log = open(os.path.join(work, "shaolin-web.log"), "w+")
    chrome_log = open(os.path.join(work, "chromium.log"), "w")

    def check(name, fn):
        t0 = time.time()
        try:
            fn()
            results.append((name, True, ""))
            print(f"  ok    {name} ({time.time() - t0:.1f} s)", flush=True)
        except Exception as e:
            results.append((name, False, str(e)))
            print(f"  FAIL  {name}: {e}", flush=True)
            raise

    try:
        subprocess.run([start_script], check=True, stdout=subprocess.DEVNULL)
        print("== lab cluster (two namespaces, veth + pty, control sockets; an AAC rule on A)", flush=True)
        subprocess.run([os.path.join(HERE, "tools", "lab.sh"), "up", "100", "600"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        password = "operator-pass-42"
        phash = run([web, "hash-password", "--iterations", "20000"], input=password + "\n").stdout.strip()
        initramfs_log = os.path.join(work, "initramfs.log")
        with open(os.path.join(work, "web.toml"), "w") as f:
            f.write(f"""[web]
listen = "127.0.0.1:0"
poll_ms = 500
[auth]
user = "operator"
password_hash = "{phash}"
[engine]
config_file = "{lab_dir}/B.toml"
initramfs_command = ["/bin/sh", "-c", "echo rebuilt >> {initramfs_log}"]
[[node]]
name = "A"
socket = "{lab_dir}/A.sock"
[[node]]
name = "B"
socket = "{lab_dir}/B.sock"
local = true
""")
        web_proc = subprocess.Popen([web, "serve", "--config", os.path.join(work, "web.toml")],
                                    stdout=web_log, stderr=web_log, stdin=subprocess.DEVNULL, start_new_session=True)
        url = None
        deadline = time.time() + 30
        while time.time() < deadline and url is None:
            web_log.seek(0)
            m = re.search(r"serving (http://127\.0\.0\.1:\d+)/", web_log.read())
            if m:
                url = m.group(1)
            elif web_proc.poll() is not None:
                raise RuntimeError("shaolin-web exited: " + open(web_log.name).read())
            else:
                time.sleep(0.1)
        if not url:
            raise RuntimeError("shaolin-web did not start")
        print(f"== shaolin-web at {url}; chromium {run([chromium, '--version']).stdout.strip()}", flush=True)
        cdp = CDP(chromium, os.path.join(work, "profile"), chrome_log)
        cdp.open_page(1440, 1000)
        b = Browser(cdp)
        shots = None if opts.no_screenshots else opts.screenshots
        if shots:
            os.makedirs(shots, exist_ok=True)

        def login_page():
            b.goto(url + "/")
            b.wait(lambda: b.js("location.pathname") == "/login", 10, "redirect to /login")
            b.type_into("#user", "operator")
            b.type_into("#password", "not-the-password")
            b.click("#login")
            b.wait(lambda: "Wrong user name or password" in b.text(".alert.bad"), 10, "the wrong-password message")
        check("unauthenticated visit goes to the login page; a wrong password is refused", login_page)

        def login():
            b.type_into("#user", "operator")
            b.type_into("#password", password)
            b.click("#login")
            b.wait(lambda: b.js("location.pathname") == "/", 15, "the dashboard after login")
        check("log in", login)

        def role(node):
            return b.js(f"(document.querySelector('#node-{node} [data-role]') || {{}}).textContent || ''")

        def both_nodes():
            b.wait(lambda: role("A") == "ACTIVE" and role("B") == "STANDBY", 20, "A ACTIVE and B STANDBY on the dashboard")
            b.wait(lambda: "Cluster healthy" in b.text("#verdict-text"), 10, "the healthy verdict")
            # Both links of both nodes up, with sparkline data.
            b.wait(lambda: b.js("document.querySelectorAll('.links td.state.up').length") == 4, 10, "4 links up")
            b.wait(lambda: b.js("document.querySelectorAll('svg.spark polyline').length") >= 8, 10, "sparklines drawn")
            time.sleep(8)  # more samples for the sparklines
            if shots:
                b.screenshot(os.path.join(shots, "web-dashboard.png"))
        check("see both nodes: A ACTIVE, B STANDBY, links up, sparklines", both_nodes)

        def rule_cell(what):
            return b.js(f"(document.querySelector('#node-A tr[data-rule-row=web] [data-rule-{what}]') || {{}}).textContent || ''")

        def confirm(selector, shot=None):
            b.click(selector)
            b.wait(lambda: b.js("document.getElementById('confirm').open"), 5, f"the confirmation dialog of {selector}")
            if shot:
                b.screenshot(os.path.join(shots, shot), full=False)
            b.click("#confirm-ok")

        def aac_rule():
            b.wait(lambda: rule_cell("state").startswith("running"), 15, "A's rule 'web' running")
            first = service_pid()
            assert first and alive(first), f"service pid {first}"
            # Stop: the dialog says what happens; the service stops and the AAC leaves it stopped.
            confirm("#node-A button[data-op=rule-stop][data-rule=web]", "web-confirm-rule-stop.png" if shots else None)
            b.wait(lambda: "rule-stop on A: accepted" in b.text("#action-result"), 10, "the stop accepted")
            b.wait(lambda: rule_cell("state").startswith("stopped"), 10, "the rule shown stopped")
            b.wait(lambda: not alive(first), 15, "the service stopped by its agent")
            b.wait(lambda: rule_cell("operator").startswith("stop by the operator: done"), 10, "the stop's outcome on the page")
            time.sleep(2)  # four check intervals: a monitored rule would have restarted it
            assert service_pid() == first and not alive(first), "the AAC started the stopped service again"
            assert role("A") == "ACTIVE" and role("B") == "STANDBY", "a stopped service must not fail over"
            if shots:
                b.screenshot(os.path.join(shots, "web-dashboard-rule-stopped.png"))
            # Start: a new service process, monitored again.
            confirm("#node-A button[data-op=rule-start][data-rule=web]")
            b.wait(lambda: rule_cell("state").startswith("running") and service_pid() != first, 15, "the rule running again")
            assert alive(service_pid()), "the started service is not running"
            assert "start by the operator: done" in rule_cell("operator"), rule_cell("operator")
            # Reset statistics: the checks count starts again from zero.
            b.wait(lambda: int(rule_cell("checks") or 0) >= 4, 15, "a few checks counted")
            before = int(rule_cell("checks"))
            confirm("#node-A button[data-op=rule-reset-statistics][data-rule=web]")
            b.wait(lambda: "rule-reset-statistics on A: accepted" in b.text("#action-result"), 10, "the reset accepted")
            b.wait(lambda: int(rule_cell("checks") or 0) < before, 10, f"checks below {before} after the reset")
            assert rule_cell("state").startswith("running"), rule_cell("state")
        check("AAC rule: stop (service stopped, not restarted, no failover), start, reset statistics", aac_rule)

        def switchover():
            b.js("window.__sameDocument = 'yes'")
            b.click("#node-A button[data-op=switchover]")
            b.wait(lambda: b.js("document.getElementById('confirm').open"), 5, "the confirmation dialog")
            if shots:
                b.screenshot(os.path.join(shots, "web-confirm-switchover.png"), full=False)
            b.click("#confirm-ok")
            b.wait(lambda: role("B") == "ACTIVE" and role("A") in ("STANDBY", "STOPPED", "UNREACHABLE"), 30,
                   "B ACTIVE and A handed over")
            # The engine that handed over powers its node off (here: its process exits and B's
            # fence confirms it); the dashboard says so.
            b.wait(lambda: role("A") == "UNREACHABLE", 20, "A shown as powered off (unreachable)")
            if shots:
                b.screenshot(os.path.join(shots, "web-dashboard-handed-over.png"))
            # The operator powers A on again: it joins as STANDBY behind B.
            subprocess.run([os.path.join(HERE, "tools", "lab.sh"), "start", "A"], env=env, check=True)
            b.wait(lambda: role("A") == "STANDBY" and role("B") == "ACTIVE", 30, "A back as STANDBY behind B")
            assert b.js("window.__sameDocument") == "yes", "the page was reloaded"
            assert "accepted" in b.text("#action-result"), b.text("#action-result")
            b.wait(lambda: "Cluster healthy" in b.text("#verdict-text"), 15, "the healthy verdict after the switchover")
            if shots:
                time.sleep(1)
                b.screenshot(os.path.join(shots, "web-dashboard-after-switchover.png"))
        check("switchover with confirmation: roles swap live (no page reload)", switchover)

        cfg_path = os.path.join(lab_dir, "B.toml")
        original = open(cfg_path).read()

        def bad_config():
            b.goto(url + "/config")
            b.wait(lambda: "[cluster]" in b.js("document.getElementById('text').value"), 10, "the configuration text")
            text = b.js("document.getElementById('text').value")
            bad = re.sub(r"deadtime_ms = \d+", "deadtime_ms = 150", text, count=1)
            b.js(f"document.getElementById('text').value = {json.dumps(bad)}")
            b.click("#save")
            b.wait(lambda: "timing.deadtime_ms" in b.text("#problems"), 10, "the validation error for timing.deadtime_ms")
            assert "Not saved" in b.text("#result-title"), b.text("#result-title")
            assert open(cfg_path).read() == original, "the bad configuration reached the file"
            if shots:
                b.screenshot(os.path.join(shots, "web-config-invalid.png"))
        check("save a bad configuration: the engine's validator error is shown, the file is unchanged", bad_config)

        def good_config():
            text = b.js("document.getElementById('text').value")
            good = re.sub(r"deadtime_ms = \d+", "deadtime_ms = 600", text, count=1)
            good = good.replace('level = "info"', 'level = "notice"')
            assert good != original
            b.js(f"document.getElementById('text').value = {json.dumps(good)}")
            b.click("#save")
            b.wait(lambda: b.text("#result-title").startswith("Saved"), 10, "the saved message")
            assert '+ ' in b.text("#diff") and 'level = "notice"' in b.text("#diff"), b.text("#diff")
            assert open(cfg_path).read() == good, "the file does not hold the saved text"
            if shots:
                b.screenshot(os.path.join(shots, "web-config-saved.png"))
            b.click("#apply")
            b.wait(lambda: b.js("document.getElementById('confirm').open"), 5, "the apply confirmation")
            b.click("#confirm-ok")
            b.wait(lambda: b.text("#result-title") in ("Applied", "Apply did not fully succeed"), 30, "the apply result")
            steps = b.text("#steps")
            assert b.text("#result-title") == "Applied", steps
            assert "B (ACTIVE) reloaded" in steps and "log.level" in steps, steps
            assert "boot image rebuilt" in steps, steps
            assert open(initramfs_log).read() == "rebuilt\n"
            if shots:
                b.screenshot(os.path.join(shots, "web-config-applied.png"))
        check("save a good configuration, see the diff, apply: reload on the ACTIVE + boot image", good_config)

        def https():
            # The same console with a certificate: HTTPS only, Secure cookies, HSTS.
            import ssl
            import urllib.request
            run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                 "-keyout", os.path.join(work, "key.pem"), "-out", os.path.join(work, "cert.pem")])
            cfg = open(os.path.join(work, "web.toml")).read().replace(
                "[web]\n", f'[web]\ntls_certificate = "{work}/cert.pem"\ntls_key = "{work}/key.pem"\n', 1)
            with open(os.path.join(work, "web-tls.toml"), "w") as f:
                f.write(cfg)
            tls_log = open(os.path.join(work, "shaolin-web-tls.log"), "w+")
            p = subprocess.Popen([web, "serve", "--config", os.path.join(work, "web-tls.toml")], stdout=tls_log, stderr=tls_log,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                found = None
                for _ in range(300):
                    tls_log.seek(0)
                    found = re.search(r"serving (https://127\.0\.0\.1:\d+)/", tls_log.read())
                    if found:
                        break
                    time.sleep(0.1)
                assert found, "the TLS console did not start"
                ctx = ssl.create_default_context(cafile=os.path.join(work, "cert.pem"))
                ctx.check_hostname = False
                r = urllib.request.urlopen(found.group(1) + "/login", context=ctx, timeout=10)
                assert r.status == 200
                cookie = r.headers.get("Set-Cookie", "")
                assert "Secure" in cookie and "HttpOnly" in cookie, cookie
                assert r.headers.get("Strict-Transport-Security"), "no HSTS"
                assert r.headers.get("Content-Security-Policy"), "no CSP"
            finally:
                p.terminate()
                p.wait(timeout=10)
        check("HTTPS with a certificate: Secure cookies, HSTS", https)

        def audited():
            web_log.seek(0)
            log = web_log.read()
            for needle in ("login: failed", "login: ok", "rule-stop web on A: ok", "rule-start web on A: ok",
                           "rule-reset-statistics web on A: ok", "switchover on A: ok", "config save", "refused", "config apply: ok"):
                assert needle in log, f"audit record '{needle}' missing"
        check("every action is in the audit trail", audited)
    except Exception:
        if not results or results[-1][1]:
            import traceback
            traceback.print_exc()
            results.append(("setup", False, "exception"))
    finally:
        if cdp:
            cdp.close()
        if web_proc and web_proc.poll() is None:
            web_proc.terminate()
            try:
                web_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                web_proc.kill()
                web_proc.wait()
        subprocess.run([os.path.join(HERE, "tools", "lab.sh"), "down"], env=dict(env, KEEP_LAB=""),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The test's own service processes, by PID.
        try:
            for line in open(os.path.join(svc, "all.pids")):
                try:
                    os.kill(int(line), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
        except OSError:
            pass
        failed = [r for r in results if not r[1]]
        if failed:
            web_log.seek(0)
            print("---- shaolin-web log (tail)\n" + "".join(web_log.readlines()[-30:]))
        if opts.keep or failed:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    passed = sum(1 for r in results if r[1])
    print(f"browser: {passed} passed, {len(results) - passed} failed")
    sys.exit(0 if results and passed == len(results) else 1)


if __name__ == "__main__":
    main()
