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

Each case runs SECONDS, or longer until it holds MIN_SAMPLES intervals (environment, default
30000): p99.9 of 30,000 wake-ups is the 30th worst, while that of a minute at 10 ms (6,000) is the
6th worst, too few to rank two threads by (one more host stall decides it). The default run thus
takes about 13 minutes: 300 s per 10 ms case, 60 s per 1 ms case.

The engines' histograms are zeroed (control op reset-lateness) as cyclictest starts, so that all
three cover the same window. Two figures per engine: wake-up (deadline -> the thread running,
what cyclictest measures; the target compares this one) and judged (deadline -> the deadline
judged, after every link was drained).

usage: benchmarks/wakeup-lateness.py [SECONDS] [CASES]   e.g. 60 10:idle,10:stress,1:idle,1:stress
"""
import os, sys, time
from benchlib import Lab, CPUSample, context_line, start_stress, stop_stress, start_cyclictest, cyclictest_result

secs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
cases = [(int(k), m) for k, m in (c.split(":") for c in (sys.argv[2] if len(sys.argv) > 2
         else "10:idle,10:stress,1:idle,1:stress").split(","))]
PRIO = 50
KEYS = ("p50", "p99", "p99_9", "max")
MIN_SAMPLES = int(os.environ.get("MIN_SAMPLES", "30000"))
rows = []
for ka, mode in cases:
    case_secs = max(secs, -(-MIN_SAMPLES * ka // 1000))
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
        # The same window for all: the engines' histograms are zeroed as cyclictest starts (they
        # would otherwise also hold the lab's start-up: node A's alone, then B's start beside it).
        for l in [lab] + ([other] if other else []):
            l.settle()
            for n in "AB":
                l.control(n, "reset-lateness")
        ct = start_cyclictest(PRIO, ka * 1000, case_secs, hist)
        ct.wait(case_secs + 30)
        a, b = lab.status("A"), lab.status("B")
        oa, ob = (other.status("A"), other.status("B")) if other else (None, None)
        c = cyclictest_result(hist)
        ctx = cpu.done()
        ok = lab.role("A") is not None and lab.role("B") is not None
    finally:
        lab.down()
        if other:
            other.down()
        stop_stress(stress)
    print(f"\n== keepalive {ka} ms, {mode}, {case_secs} s  ({context_line(ctx)})")
    if not ok:
        print("  (an engine did not survive the run; figures below are up to its end)")
    print(f"  {'':16s} {'samples':>8s} " + " ".join(f"{k.replace('_', '.'):>9s}" for k in KEYS) + "   (µs)")
    engines = [("A", a), ("B", b)] + ([("cmp A", oa), ("cmp B", ob)] if other else [])
    shown = [("cyclictest", c)]
    for name, s in engines:
        shown += [(f"{name} wake-up", s.get("loop_wakeup_us") or s["loop_lateness_us"]), (f"{name} judged", s["loop_lateness_us"])]
    for name, s in shown:
        print(f"  {name:16s} {s['count']:8d} " + " ".join(f"{s[k]:9d}" for k in KEYS))
    for name, s in engines:
        w, j = s.get("loop_wakeup_us") or s["loop_lateness_us"], s["loop_lateness_us"]
        r = {k: w[k] / max(1, c[k]) for k in KEYS}
        rj = {k: j[k] / max(1, c[k]) for k in KEYS}
        print(f"  ratio {name}/cyclictest  " + " ".join(f"{r[k]:9.2f}" for k in KEYS)
              + f"   p99.9 within 1.25x: {'MET' if r['p99_9'] <= 1.25 else 'NOT MET'}   (judged: p99.9 {rj['p99_9']:.2f}x)")
        rows.append((ka, mode, name, w, j, c, r, rj, ctx))
    if c["overflow"]:
        print(f"  cyclictest: {c['overflow']} samples beyond 100 ms")

print("\nsummary (markdown):")
print("| keepalive | load | node | engine wake-up p50/p99/p99.9/max µs | cyclictest p50/p99/p99.9/max µs | ratio p50/p99/p99.9/max "
      "| judged p50/p99/p99.9/max µs | judged p99.9 ratio | steal |")
print("|---|---|---|---|---|---|---|---|---|")
for ka, mode, name, w, j, c, r, rj, ctx in rows:
    print(f"| {ka} ms | {mode} | {name} | {'/'.join(str(w[k]) for k in KEYS)} | {'/'.join(str(c[k]) for k in KEYS)} "
          f"| {'/'.join(f'{r[k]:.2f}' for k in KEYS)} | {'/'.join(str(j[k]) for k in KEYS)} | {rj['p99_9']:.2f} "
          f"| {ctx['steal_pct']}% |")
