#!/usr/bin/env python3
"""Heap allocations per heartbeat on the engine's real-time thread, in the running engine (root).

Starts the two-node lab (tools/lab.sh) with both engines under an LD_PRELOAD allocation counter
(benchmarks/malloc-count.c, counts per thread), keepalive KEEPALIVE_MS (default 1 ms, so 10,000
heartbeats take ~10 s), lets it warm up, then counts the allocations made by the real-time thread
(the engine's main thread, checked to be SCHED_FIFO) while node A sends at least HEARTBEATS
heartbeats. Both links are used (veth + pty); at 1 ms the serial link cannot keep up at 115200
baud, so its send-drop path is exercised too. Target: 0 after warm-up.

usage: benchmarks/malloc-per-heartbeat.py [HEARTBEATS] [KEEPALIVE_MS] [DEADTIME_MS]
"""
import os, subprocess, sys, time
from benchlib import Lab, wait

beats = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
ka = int(sys.argv[2]) if len(sys.argv) > 2 else 1
dt = int(sys.argv[3]) if len(sys.argv) > 3 else 50
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
work = f"/tmp/shaolin-malloc-bench-{os.getpid()}"
os.makedirs(work, exist_ok=True)
shaolind = os.environ.get("SHAOLIND") or next(
    p for p in (f"{repo}/.build/release/shaolind", f"{repo}/.build/debug/shaolind") if os.path.exists(p))
subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", f"{work}/malloc-count.so",
                f"{repo}/benchmarks/malloc-count.c", "-ldl", "-lpthread"], check=True)
with open(f"{work}/shaolind", "w") as f:
    f.write(f"#!/bin/sh\nexport LD_PRELOAD={work}/malloc-count.so SHAOLIN_MALLOC_COUNT_DIR={work}\nexec {shaolind} \"$@\"\n")
os.chmod(f"{work}/shaolind", 0o755)
lab = Lab("mallc", SHAOLIND=f"{work}/shaolind")
d = lab.dir
status = lab.status


def sent(n):
    s = status(n)
    return s["links"][0]["sent"] if s else 0   # eth: one heartbeat per keepalive


def rt_count(n):
    pid = int(open(f"{d}/{n}.pid").read())
    policy = int(open(f"/proc/{pid}/task/{pid}/stat").read().rsplit(")", 1)[1].split()[38])
    for line in open(f"{work}/{pid}.mallocs"):
        tid, c = map(int, line.split())
        if tid == pid:
            return c, policy
    return 0, policy


load = open("/proc/loadavg").read().split()[:3]
lab.up(ka, dt)
try:
    if not lab.settle(20):
        sys.exit("cluster did not settle")
    time.sleep(3)   # warm-up: first frames, first status files, link state, histogram growth
    c0 = {n: rt_count(n)[0] for n in "AB"}
    s0 = {n: sent(n) for n in "AB"}
    t0 = time.time()
    wait(lambda: sent("A") - s0["A"] >= beats and sent("B") - s0["B"] >= beats, 600)
    time.sleep(0.3)
    result = {}
    for n in "AB":
        c, policy = rt_count(n)
        st = status(n)
        result[n] = dict(allocs=c - c0[n], startup=c0[n], frames=sent(n) - s0[n], policy=policy, role=st["role"],
                         eth_sent=st["links"][0]["sent"], serial_drops=st["links"][1]["send_drops"])
    secs = time.time() - t0
finally:
    lab.down()
    subprocess.run(["rm", "-rf", work])

print(f"allocations on the real-time thread, keepalive {ka} ms, after 3 s warm-up, {secs:.1f} s (load {' '.join(load)})")
for n, r in result.items():
    per = r["allocs"] / max(1, r["frames"])
    print(f"  node {n} ({r['role']}, {'SCHED_FIFO' if r['policy'] == 1 else 'policy ' + str(r['policy'])}): "
          f"{r['frames']} heartbeats sent on eth (as many on serial, some dropped), {r['allocs']} allocations -> {per:.4f} per heartbeat "
          f"(serial send drops so far {r['serial_drops']}; {r['startup']} allocations on this thread before, "
          f"so the counter sees it)")
ok = all(r["allocs"] == 0 and r["frames"] >= beats and r["startup"] > 0 for r in result.values())
print(f"  target: 0 allocations after warm-up over >= {beats} heartbeats -> {'MET' if ok else 'NOT MET'}")
sys.exit(0 if ok else 1)
