#!/usr/bin/env python3
"""Failure detection and takeover time over veth + pty (tools/lab.sh), as root.

For each repetition: start A then B, kill -9 the ACTIVE (A), and read from B's log the
CLOCK_MONOTONIC time of PEER_DEAD (declared dead) and of ROLE_CHANGE to ACTIVE (takeover,
after the lab fence confirmed). Detection = PEER_DEAD - kill; takeover = ACTIVE - kill.
Target (issue): max detection <= deadtime + 2 x keepalive.

usage: benchmarks/failover-detection.py [REPS] [KEEPALIVE_MS] [DEADTIME_MS]
"""
import os, re, signal, subprocess, sys, time

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ka = int(sys.argv[2]) if len(sys.argv) > 2 else 10
dt = int(sys.argv[3]) if len(sys.argv) > 3 else 50
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
lab = os.path.join(repo, "tools", "lab.sh")
env = dict(os.environ, LAB_ID="bench", LAB_DIR="/tmp/shaolin-lab-bench", STARTUP_MS="1000")
d = env["LAB_DIR"]

def sh(*a):
    subprocess.run([lab, *a], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def role(n):
    try:
        m = re.search(r'"role": "([A-Z]+)"', open(f"{d}/{n}.status.json").read())
        return m.group(1) if m else None
    except OSError:
        return None

def wait(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False

def mono_us(log, event, extra=""):
    for line in open(log):
        if f"SHAOLIN_EVENT={event}" in line and extra in line:
            return int(re.search(r"SHAOLIN_MONOTONIC_US=(\d+)", line).group(1))
    return None

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

detect, takeover, false_failovers = [], [], 0
for i in range(reps):
    sh("up", str(ka), str(dt))
    try:
        if not wait(lambda: role("A") == "ACTIVE" and role("B") == "STANDBY", 15):
            print(f"rep {i}: cluster did not settle", file=sys.stderr); continue
        time.sleep(0.5)
        if "PEER_DEAD" in open(f"{d}/B.log").read():
            false_failovers += 1
        pid = int(open(f"{d}/A.pid").read())
        t_kill = time.monotonic_ns() // 1000
        os.kill(pid, signal.SIGKILL)
        if not wait(lambda: role("B") == "ACTIVE", 10):
            print(f"rep {i}: no takeover", file=sys.stderr); continue
        time.sleep(0.05)
        dead = mono_us(f"{d}/B.log", "PEER_DEAD")
        act = mono_us(f"{d}/B.log", "ROLE_CHANGE", "SHAOLIN_ROLE=ACTIVE")
        detect.append((dead - t_kill) / 1000)
        takeover.append((act - t_kill) / 1000)
    finally:
        sh("down")

if not detect:
    sys.exit("no measurement")
print(f"failover over veth + pty, keepalive {ka} ms, deadtime {dt} ms, {len(detect)} runs")
for name, xs in (("detection (kill -> PEER_DEAD)", detect), ("takeover (kill -> ACTIVE)", takeover)):
    print(f"  {name:32s} median {pct(xs,50):7.1f} ms  p99 {pct(xs,99):7.1f} ms  max {max(xs):7.1f} ms")
target = dt + 2 * ka
print(f"  target: max detection <= deadtime + 2 x keepalive = {target} ms -> {'MET' if max(detect) <= target else 'NOT MET'}")
print(f"  false failovers before the kill: {false_failovers}")
