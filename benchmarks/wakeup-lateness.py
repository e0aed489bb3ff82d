#!/usr/bin/env python3
"""Wake-up lateness of the engine's real-time loop beside cyclictest, in the same run (root).

For each case (keepalive 10 ms and 1 ms, idle and under `stress-ng --cpu 2 --vm 1 --io 1`):
starts the two-node lab (tools/lab.sh, SCHED_FIFO priority 50, mlockall), and at the same time
`cyclictest -m -p 50 -i <keepalive> -D <SECONDS>` (one thread), lets both run SECONDS, then reads
the engines' lateness histograms (status file "loop_lateness_us": deadline -> wake-up, every timer
expiry since start) and cyclictest's histogram. Prints p50/p99/p99.9/max in µs for node A, node B
and cyclictest, and the ratio engine/cyclictest per percentile. Target: p99.9 within 1.25x.

Deadtime is 1000 ms here so that no failover disturbs the measurement (the loop wakes at the
keepalive either way). Two engines and cyclictest share the 2 CPUs at the same priority.

With COMPARE_SHAOLIND=<another shaolind> a second lab runs that binary in the same window (four
engines then share the CPUs), for before/after comparisons of an engine change.

usage: benchmarks/wakeup-lateness.py [SECONDS] [CASES]   e.g. 60 10:idle,10:stress,1:idle,1:stress
"""
import os, sys, time
from benchlib import Lab, CPUSample, context_line, start_stress, stop_stress, start_cyclictest, cyclictest_result

secs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
cases = [(int(k), m) for k, m in (c.split(":") for c in (sys.argv[2] if len(sys.argv) > 2
         else "10:idle,10:stress,1:idle,1:stress").split(","))]
PRIO = 50
KEYS = ("p50", "p99", "p99_9", "max")
rows = []
for ka, mode in cases:
    lab = Lab("wake")
    other = Lab("wcmp", SHAOLIND=os.environ["COMPARE_SHAOLIND"]) if os.environ.get("COMPARE_SHAOLIND") else None
    stress = start_stress() if mode == "stress" else None
    try:
        if stress:
            time.sleep(2)
        cpu = CPUSample()
        hist = f"/tmp/shaolin-wake-cyclictest-{ka}-{mode}.hist"
        lab.up(ka, 1000)
        if other:
            other.up(ka, 1000)
        ct = start_cyclictest(PRIO, ka * 1000, secs, hist)
        time.sleep(secs)
        a, b = lab.status("A"), lab.status("B")
        oa, ob = (other.status("A"), other.status("B")) if other else (None, None)
        ct.wait(30)
        c = cyclictest_result(hist)
        ctx = cpu.done()
        ok = lab.role("A") is not None and lab.role("B") is not None
    finally:
        lab.down()
        if other:
            other.down()
        stop_stress(stress)
    print(f"\n== keepalive {ka} ms, {mode}, {secs} s  ({context_line(ctx)})")
    if not ok:
        print("  (an engine did not survive the run; figures below are up to its end)")
    print(f"  {'':12s} {'samples':>8s} " + " ".join(f"{k.replace('_', '.'):>9s}" for k in KEYS) + "   (µs)")
    shown = [("cyclictest", c), ("engine A", a["loop_lateness_us"]), ("engine B", b["loop_lateness_us"])]
    if other:
        shown += [("compare A", oa["loop_lateness_us"]), ("compare B", ob["loop_lateness_us"])]
    for name, s in shown:
        print(f"  {name:12s} {s['count']:8d} " + " ".join(f"{s[k]:9d}" for k in KEYS))
    for name, e in [("A", a["loop_lateness_us"]), ("B", b["loop_lateness_us"])] + (
            [("cmp A", oa["loop_lateness_us"]), ("cmp B", ob["loop_lateness_us"])] if other else []):
        r = {k: e[k] / max(1, c[k]) for k in KEYS}
        print(f"  ratio {name}/cyclictest  " + " ".join(f"{r[k]:9.2f}" for k in KEYS)
              + f"   p99.9 within 1.25x: {'MET' if r['p99_9'] <= 1.25 else 'NOT MET'}")
        rows.append((ka, mode, name, e, c, r, ctx))
    if c["overflow"]:
        print(f"  cyclictest: {c['overflow']} samples beyond 100 ms")

print("\nsummary (markdown):")
print("| keepalive | load | node | engine p50/p99/p99.9/max µs | cyclictest p50/p99/p99.9/max µs | ratio p50/p99/p99.9/max | steal |")
print("|---|---|---|---|---|---|---|")
for ka, mode, name, e, c, r, ctx in rows:
    print(f"| {ka} ms | {mode} | {name} | {'/'.join(str(e[k]) for k in KEYS)} | {'/'.join(str(c[k]) for k in KEYS)} "
          f"| {'/'.join(f'{r[k]:.2f}' for k in KEYS)} | {ctx['steal_pct']}% |")
