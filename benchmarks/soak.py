#!/usr/bin/env python3
"""Soak: false failovers and own stalls of the two-node lab over MINUTES (root).

Starts the lab (tools/lab.sh: veth + pty serial cable, SCHED_FIFO 50) with keepalive 10 ms and
deadtime 50 ms (defaults), optionally under `stress-ng --cpu 2 --vm 1 --io 1`, and watches both
nodes. A false failover is any PEER_DEAD or role change after the cluster settled (nobody was
killed): it is counted, and the lab is restarted so the soak goes on for the whole duration.
Reports per node the own stalls (wake-ups later than the stall threshold, max(keepalive/2, 20 ms))
and the longest, the loop lateness percentiles, and beside it a cyclictest at the same priority
and interval in the same run as the reference for the machine's own scheduling tails.

usage: benchmarks/soak.py MINUTES [idle|stress] [KEEPALIVE_MS] [DEADTIME_MS]
"""
import re, sys, time
from benchlib import Lab, CPUSample, context_line, start_stress, stop_stress, start_cyclictest, cyclictest_result

minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 10
mode = sys.argv[2] if len(sys.argv) > 2 else "idle"
ka = int(sys.argv[3]) if len(sys.argv) > 3 else 10
dt = int(sys.argv[4]) if len(sys.argv) > 4 else 50
secs = minutes * 60
lab = Lab(f"soak{mode[:2]}")
stress = start_stress() if mode == "stress" else None
false_failovers, segments, events = 0, [], []
try:
    if stress:
        time.sleep(2)
    cpu = CPUSample()
    hist = f"/tmp/shaolin-soak-{mode}-cyclictest.hist"
    ct = start_cyclictest(50, ka * 1000, secs, hist)
    start = time.time()
    while time.time() - start < secs:
        lab.up(ka, dt)
        if not lab.settle(30):
            print(f"lab did not settle at +{time.time() - start:.0f} s", file=sys.stderr)
            lab.down()
            continue
        seg_start = time.time()
        failed = None
        while time.time() - start < secs:
            time.sleep(0.2)
            if (lab.role("A"), lab.role("B")) != ("ACTIVE", "STANDBY") or "PEER_DEAD" in lab.log("A") + lab.log("B"):
                failed = f"+{time.time() - start:.1f} s: roles {lab.role('A')}/{lab.role('B')}"
                time.sleep(0.5)
                break
        st = {n: lab.status(n) for n in "AB"}
        logs = {n: lab.log(n) for n in "AB"}
        segments.append((time.time() - seg_start, st))
        if failed:
            false_failovers += 1
            why = [l for n in "AB" for l in logs[n].splitlines() if re.search("PEER_DEAD|OWN_STALL|LINK_DOWN", l)][-6:]
            events.append((failed, why))
        lab.down()
    ct.wait(60)
    c = cyclictest_result(hist)
    ctx = cpu.done()
finally:
    lab.down()
    stop_stress(stress)

print(f"soak {mode}, {minutes:g} min, keepalive {ka} ms, deadtime {dt} ms  ({context_line(ctx)})")
print(f"  false failovers: {false_failovers} (lab segments: {len(segments)})")
for failed, why in events:
    print(f"    {failed}")
    for l in why:
        print(f"      {l[:220]}")
for n in "AB":
    stalls = sum((s[n] or {}).get("stalls", 0) for _, s in segments)
    longest = max(((s[n] or {}).get("longest_stall_us", 0) for _, s in segments), default=0)
    lat = [(s[n] or {}).get("loop_lateness_us", {}) for _, s in segments]
    mx = max((l.get("max", 0) for l in lat), default=0)
    last = lat[-1] if lat else {}
    print(f"  node {n}: own stalls {stalls}, longest {longest / 1000:.1f} ms; loop lateness (last segment) "
          f"p50 {last.get('p50')} p99 {last.get('p99')} p99.9 {last.get('p99_9')} max {mx} µs over {last.get('count')} wake-ups")
print(f"  cyclictest -m -p 50 -i {ka * 1000} (same run): p50 {c['p50']} p99 {c['p99']} p99.9 {c['p99_9']} max {c['max']} µs "
      f"over {c['count']} wake-ups, {c['overflow']} beyond 100 ms")
