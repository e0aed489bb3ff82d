#!/usr/bin/env python3
"""Failure detection and takeover time over veth + pty (tools/lab.sh), as root.

For each repetition: start A then B, kill -9 the ACTIVE (A), and read from B's log the
CLOCK_MONOTONIC time of PEER_DEAD (declared dead) and of ROLE_CHANGE to ACTIVE (takeover,
after the lab fence confirmed). Detection = PEER_DEAD - kill; takeover = ACTIVE - kill.
Target (issue): max detection <= deadtime + 2 x keepalive.

usage: benchmarks/failover-detection.py [REPS] [KEEPALIVE_MS] [DEADTIME_MS]
"""
import os, signal, sys, time
from benchlib import Lab, wait, now_us, pct

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ka = int(sys.argv[2]) if len(sys.argv) > 2 else 10
dt = int(sys.argv[3]) if len(sys.argv) > 3 else 50
lab = Lab("bench", STARTUP_MS="1000")

detect, takeover, false_failovers = [], [], 0
for i in range(reps):
    lab.up(ka, dt)
    try:
        if not lab.settle(15):
            print(f"rep {i}: cluster did not settle", file=sys.stderr); continue
        time.sleep(0.5)
        if "PEER_DEAD" in lab.log("B"):
            false_failovers += 1
        t_kill = now_us()
        os.kill(lab.pid("A"), signal.SIGKILL)
        if not wait(lambda: lab.role("B") == "ACTIVE", 10, step=0.01):
            print(f"rep {i}: no takeover", file=sys.stderr); continue
        time.sleep(0.05)
        dead = lab.event_us("B", "PEER_DEAD", t_kill)
        act = lab.event_us("B", "ROLE_CHANGE", t_kill, "SHAOLIN_ROLE=ACTIVE")
        detect.append((dead - t_kill) / 1000)
        takeover.append((act - t_kill) / 1000)
    finally:
        lab.down()

if not detect:
    sys.exit("no measurement")
print(f"failover over veth + pty, keepalive {ka} ms, deadtime {dt} ms, {len(detect)} runs")
for name, xs in (("detection (kill -> PEER_DEAD)", detect), ("takeover (kill -> ACTIVE)", takeover)):
    print(f"  {name:32s} median {pct(xs,50):7.1f} ms  p99 {pct(xs,99):7.1f} ms  max {max(xs):7.1f} ms")
target = dt + 2 * ka
print(f"  target: max detection <= deadtime + 2 x keepalive = {target} ms -> {'MET' if max(detect) <= target else 'NOT MET'}")
print(f"  false failovers before the kill: {false_failovers}")
