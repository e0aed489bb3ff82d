#!/usr/bin/env python3
"""Wake-up lateness of the engine's real-time loop beside cyclictest, in the same run (root).

For each case (keepalive 10 ms and 1 ms, idle and under `stress-ng --cpu 2 --vm 1 --io 1`):
starts the two-node lab (tools/lab.sh, SCHED_FIFO priority 50, mlockall, deadtime 1000 ms so that
no failover disturbs the run), and beside it `cyclictest -m -p 50 -i <keepalive> -t 2 -d 0`: two
reference threads for the two engines, at the same priority and interval, so that every thread
at priority 50 shares the 2 CPUs with three others, engine or reference alike.

Same window: the engines' histograms are zeroed (control op reset-lateness) as cyclictest starts
and read and zeroed again as it ends; that answer carries the whole histograms, so the two
engines' wake-ups can be pooled like cyclictest's two threads. Per engine two figures: wake-up
(deadline -> the thread running, what cyclictest measures; the target compares this one) and
judged (deadline -> the deadline judged, after every link was drained).

Printed per case: p50/p99/p99.9/max (µs) of each cyclictest thread, both pooled, each engine and
both pooled; the ratio engine/cyclictest per percentile; a 95 % confidence interval of the p99.9
ratio (distribution-free, from the order statistics around each p99.9). Target: p99.9 within 1.25x.

Each case runs SECONDS, or longer until it holds MIN_SAMPLES intervals per thread (environment,
default 30000): p99.9 of 30,000 wake-ups is the 30th worst, that of a minute at 10 ms (6,000) the
6th worst, too few to rank two threads by (one more host stall decides it). The default run thus
takes about 13 minutes: 300 s per 10 ms case, 60 s per 1 ms case.

With COMPARE_SHAOLIND=<another shaolind> a second lab runs that binary in the same window (four
engines then share the CPUs), for before/after comparisons of an engine change. With
COMPARE_WAKE_ON_FRAMES=true the second lab (the same binary unless COMPARE_SHAOLIND says
otherwise) runs with `[realtime] wake_on_frames = true`; WAKE_ON_FRAMES=true sets it for the
first lab. Each engine's wake-ups per deadline (status `loop_wakeups` over the window) are
printed: 1.0 when only its timer wakes it.

usage: benchmarks/wakeup-lateness.py [SECONDS] [CASES]   e.g. 60 10:idle,10:stress,1:idle,1:stress
"""
import os, sys, time
from benchlib import Lab, CPUSample, Dist, context_line, start_stress, stop_stress, start_cyclictest, cyclictest_dists

secs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
cases = [(int(k), m) for k, m in (c.split(":") for c in (sys.argv[2] if len(sys.argv) > 2
         else "10:idle,10:stress,1:idle,1:stress").split(","))]
PRIO = 50
KEYS = ("p50", "p99", "p99_9", "max")
MIN_SAMPLES = int(os.environ.get("MIN_SAMPLES", "30000"))


def engine_dist(answer, member):
    return Dist((v, c) for v, c in answer[member]["histogram"])


def line(name, d):
    m = d.summary()
    return f"  {name:18s} {m['count']:8d} " + " ".join(f"{m[k]:9d}" for k in KEYS)


def ratio_line(name, e, c):
    me, mc = e.summary(), c.summary()
    r = {k: me[k] / max(1, mc[k]) for k in KEYS}
    (elo, ehi), (clo, chi) = e.q_ci(99.9), c.q_ci(99.9)
    ci = (elo / max(1, chi), ehi / max(1, clo))
    return r, ci, (f"  {name:26s} " + " ".join(f"{r[k]:9.2f}" for k in KEYS)
                   + f"   p99.9 {r['p99_9']:.2f}x (95% CI {ci[0]:.2f}–{ci[1]:.2f}): {'MET' if r['p99_9'] <= 1.25 else 'NOT MET'}")


rows = []
for ka, mode in cases:
    case_secs = max(secs, -(-MIN_SAMPLES * ka // 1000))
    lab = Lab("wake")
    cmp_env = {}
    if os.environ.get("COMPARE_SHAOLIND"):
        cmp_env["SHAOLIND"] = os.environ["COMPARE_SHAOLIND"]
    if os.environ.get("COMPARE_WAKE_ON_FRAMES"):
        cmp_env["WAKE_ON_FRAMES"] = os.environ["COMPARE_WAKE_ON_FRAMES"]
    other = Lab("wcmp", **cmp_env) if cmp_env else None
    labs = [lab] + ([other] if other else [])
    stress = start_stress() if mode == "stress" else None
    try:
        if stress:
            time.sleep(2)
        cpu = CPUSample()
        hist = f"/tmp/shaolin-wake-cyclictest-{ka}-{mode}.hist"
        for l in labs:
            l.up(ka, 1000)
            l.settle()
        # The same window for all: the engines' histograms are zeroed as cyclictest starts (they
        # would otherwise also hold the lab's start-up: node A's alone, then B's start beside it),
        # and read and zeroed again as it ends. As many cyclictest threads as engines in one lab.
        woke0 = [{n: l.control(n, "status")["loop_wakeups"] for n in "AB"} for l in labs]
        for l in labs:
            for n in "AB":
                l.control(n, "reset-lateness")
        ct = start_cyclictest(PRIO, ka * 1000, case_secs, hist, threads=2)
        ct.wait(case_secs + 30)
        got = [{n: l.control(n, "reset-lateness") for n in "AB"} for l in labs]
        status1 = [{n: l.control(n, "status") for n in "AB"} for l in labs]
        cts, overflow = cyclictest_dists(hist)
        ctx = cpu.done()
        ok = all(l.role(n) is not None for l in labs for n in "AB")
    finally:
        for l in labs:
            l.down()
        stop_stress(stress)
    c = Dist.merge(*cts)
    print(f"\n== keepalive {ka} ms, {mode}, {case_secs} s  ({context_line(ctx)})")
    if not ok:
        print("  (an engine did not survive the run; figures below are up to its end)")
    print(f"  {'':18s} {'samples':>8s} " + " ".join(f"{k.replace('_', '.'):>9s}" for k in KEYS) + "   (µs)")
    for i, d in enumerate(cts):
        print(line(f"cyclictest #{i + 1}", d))
    print(line("cyclictest (both)", c))
    groups = [("", got[0])] + ([("cmp ", got[1])] if other else [])
    for gi, (prefix, g) in enumerate(groups):
        per = []
        for n in "AB":
            woke = status1[gi][n]["loop_wakeups"] - woke0[gi][n]
            per.append(f"{n} {woke / max(1, g[n]['loop_wakeup_us']['count']):.2f}")
        print(f"  {prefix}wake-ups per deadline: {', '.join(per)}  "
              f"(wake_on_frames = {str(status1[gi]['A']['wake_on_frames']).lower()})")
        wa, wb = engine_dist(g["A"], "loop_wakeup_us"), engine_dist(g["B"], "loop_wakeup_us")
        ja, jb = engine_dist(g["A"], "loop_lateness_us"), engine_dist(g["B"], "loop_lateness_us")
        for name, d in [("A wake-up", wa), ("B wake-up", wb), ("A+B wake-up", Dist.merge(wa, wb)),
                        ("A judged", ja), ("B judged", jb), ("A+B judged", Dist.merge(ja, jb))]:
            print(line(prefix + name, d))
        for name, e in [("A wake-up", wa), ("B wake-up", wb), ("A+B wake-up", Dist.merge(wa, wb)),
                        ("A+B judged", Dist.merge(ja, jb))]:
            r, ci, text = ratio_line(f"ratio {prefix}{name}/ct", e, c)
            print(text)
            rows.append((ka, mode, prefix + name, e.summary(), c.summary(), r, ci, ctx))
    if overflow:
        print(f"  cyclictest: {overflow} samples beyond 100 ms")

print("\nsummary (markdown):")
print("| keepalive | load | engine | engine p50/p99/p99.9/max µs | cyclictest (2 threads) p50/p99/p99.9/max µs "
      "| ratio p50/p99/p99.9/max | p99.9 ratio 95% CI | steal |")
print("|---|---|---|---|---|---|---|---|")
for ka, mode, name, e, c, r, ci, ctx in rows:
    print(f"| {ka} ms | {mode} | {name} | {'/'.join(str(e[k]) for k in KEYS)} | {'/'.join(str(c[k]) for k in KEYS)} "
          f"| {'/'.join(f'{r[k]:.2f}' for k in KEYS)} | {ci[0]:.2f}–{ci[1]:.2f} | {ctx['steal_pct']}% |")
