#!/usr/bin/env python3
"""Wake-up lateness of the engine's real-time loop beside cyclictest, in the same run (root).

For each case (keepalive 10 ms and 1 ms, idle and under `stress-ng --cpu 2 --vm 1 --io 1`):
starts the two-node lab (tools/lab.sh, SCHED_FIFO priority 50, mlockall, deadtime 1000 ms so that
no failover disturbs the run) and beside it the reference, `cyclictest -m -p 50 -i <keepalive>`.

The reference (REFERENCE=twins, the default): one cyclictest thread per engine, its "twin". Each
engine's heartbeat thread is pinned (node A on CPU 0, B on CPU 1: [realtime] cpu), and its twin
runs on the same CPU with its deadlines on the same grid, TWIN_LEAD_US (default 100) µs before
the engine's: the engine's deadline phase is read from its timerfd (/proc/PID/fdinfo, `it_value`)
and given to cyclictest as `--secaligned=<phase - lead>`. Why: on this VM a thread's p99.9 over a
few minutes depends on where its deadlines fall relative to the stalls of the host and of
stress-ng. Six identical cyclictest threads at six phases in one run differ five- to elevenfold (see
benchmarks/cyclictest-phase-spread.py), so a reference at another phase cannot tell the engine's
own cost from phase luck. The twin meets the same stalls on the same CPU. The lead keeps the two
from contending: the twin's few µs of work are done before the engine wakes (when one stall delays
both, the twin runs first: any bias is against the engine). REFERENCE=free keeps the earlier
method: `cyclictest -t 2 -d 0` started beside unpinned engines, at whatever phase it starts.

Same window: the engines' histograms are zeroed (control op reset-lateness) as cyclictest starts
and read and zeroed again as it ends; that answer carries the whole histograms, so the two
engines' wake-ups can be pooled like the two reference threads. Per engine two figures: wake-up
(deadline -> the thread running, what cyclictest measures; the target compares this one) and
judged (deadline -> the deadline judged, after every link was drained).

Printed per case: each engine's CPU and deadline phase (and how far it moved by the end: a long
stall can shift an engine's grid, leaving its twin behind); p50/p99/p99.9/max (µs) of each
reference thread, both pooled, each engine and both pooled; the ratio engine/reference per
percentile (each engine against its twin, the pooled engines against the pooled twins); a 95 %
confidence interval of the p99.9 ratio (distribution-free, from the order statistics around each
p99.9). Target: p99.9 within 1.25x.

Each case runs SECONDS, or longer until it holds MIN_SAMPLES intervals per thread (environment,
default 30000): p99.9 of 30,000 wake-ups is the 30th worst, that of a minute at 10 ms (6,000) the
6th worst, too few to rank two threads by (one more host stall decides it). The default run thus
takes about 13 minutes: 300 s per 10 ms case, 60 s per 1 ms case.

With COMPARE_SHAOLIND=<another shaolind> a second lab runs that binary in the same window (four
engines then share the CPUs, each with its twin), for before/after comparisons of an engine
change. With COMPARE_WAKE_ON_FRAMES=true the second lab (the same binary unless COMPARE_SHAOLIND says
otherwise) runs with `[realtime] wake_on_frames = true`; WAKE_ON_FRAMES=true sets it for the
first lab. Each engine's wake-ups per deadline (status `loop_wakeups` over the window) are
printed: 1.0 when only its timer wakes it.

usage: benchmarks/wakeup-lateness.py [SECONDS] [CASES]   e.g. 60 10:idle,10:stress,1:idle,1:stress
"""
import os, sys, time
from benchlib import (Lab, CPUSample, Dist, context_line, start_stress, stop_stress, start_cyclictest,
                      start_cyclictest_twin, timerfd_phase_ns, cyclictest_dists)

secs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
cases = [(int(k), m) for k, m in (c.split(":") for c in (sys.argv[2] if len(sys.argv) > 2
         else "10:idle,10:stress,1:idle,1:stress").split(","))]
PRIO = 50
KEYS = ("p50", "p99", "p99_9", "max")
MIN_SAMPLES = int(os.environ.get("MIN_SAMPLES", "30000"))
# The reference: "twins" (default), one cyclictest thread per engine on its CPU at its phase; "free",
# cyclictest -t 2 started beside unpinned engines at whatever phase it starts (the earlier method).
TWINS = os.environ.get("REFERENCE", "twins") == "twins"
TWIN_LEAD_US = int(os.environ.get("TWIN_LEAD_US", "100"))
CPUS = {"A": 0, "B": 1}


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
    period_ns = ka * 1_000_000
    pin = {"CPU_A": "0", "CPU_B": "1"} if TWINS else {}
    lab = Lab("wake", **pin)
    cmp_env = dict(pin)
    if os.environ.get("COMPARE_SHAOLIND"):
        cmp_env["SHAOLIND"] = os.environ["COMPARE_SHAOLIND"]
    if os.environ.get("COMPARE_WAKE_ON_FRAMES"):
        cmp_env["WAKE_ON_FRAMES"] = os.environ["COMPARE_WAKE_ON_FRAMES"]
    other = Lab("wcmp", **cmp_env) if len(cmp_env) > len(pin) else None
    labs = [lab] + ([other] if other else [])
    stress = start_stress() if mode == "stress" else None
    try:
        if stress:
            time.sleep(2)
        cpu = CPUSample()
        for l in labs:
            l.up(ka, 1000)
            l.settle()
        # Twins: each engine's reference is a cyclictest thread on the engine's CPU whose deadlines
        # fall TWIN_LEAD_US before the engine's (its phase read from the engine's timerfd).
        phases0 = [{n: timerfd_phase_ns(l.pid(n), period_ns) for n in "AB"} for l in labs] if TWINS else None
        # The same window for all: the engines' histograms are zeroed (control op reset-lateness) as
        # cyclictest starts (they would otherwise also hold the lab's start-up: node A's alone, then
        # B's start beside it), and read and zeroed again as it ends.
        woke0 = [{n: l.control(n, "status")["loop_wakeups"] for n in "AB"} for l in labs]
        cts_procs, hists = [], []
        if TWINS:
            # --secaligned starts each twin's grid at the next full second (the one after next once
            # 0.9 s of the current second have passed): start them 0.8 s into a second, then reset.
            now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            time.sleep(((800_000_000 - now % 1_000_000_000) % 1_000_000_000) / 1e9)
            for gi, l in enumerate(labs):
                for n in "AB":
                    h = f"/tmp/shaolin-wake-cyclictest-{ka}-{mode}-{gi}{n}.hist"
                    ph = phases0[gi][n]
                    if ph is None:
                        raise SystemExit(f"engine {n}: no armed timerfd found in /proc/{l.pid(n)}/fdinfo")
                    phase_us = (ph // 1000 - TWIN_LEAD_US) % (ka * 1000)
                    cts_procs.append(start_cyclictest_twin(PRIO, ka * 1000, case_secs, h, CPUS[n], phase_us))
                    hists.append(h)
        for l in labs:
            for n in "AB":
                l.control(n, "reset-lateness")
        if not TWINS:
            h = f"/tmp/shaolin-wake-cyclictest-{ka}-{mode}.hist"
            cts_procs.append(start_cyclictest(PRIO, ka * 1000, case_secs, h, threads=2))
            hists.append(h)
        for p in cts_procs:
            p.wait(case_secs + 30)
        got = [{n: l.control(n, "reset-lateness") for n in "AB"} for l in labs]
        status1 = [{n: l.control(n, "status") for n in "AB"} for l in labs]
        phases1 = [{n: timerfd_phase_ns(l.pid(n), period_ns) for n in "AB"} for l in labs] if TWINS else None
        per_hist = [cyclictest_dists(h) for h in hists]
        ctx = cpu.done()
        ok = all(l.role(n) is not None for l in labs for n in "AB")
    finally:
        for l in labs:
            l.down()
        stop_stress(stress)
    overflow = sum(o for _, o in per_hist)
    cts = [d for ds, _ in per_hist for d in ds]
    print(f"\n== keepalive {ka} ms, {mode}, {case_secs} s  ({context_line(ctx)})")
    if not ok:
        print("  (an engine did not survive the run; figures below are up to its end)")
    if TWINS:
        print(f"  reference: one cyclictest twin per engine, on its CPU, {TWIN_LEAD_US} µs before its deadlines")
        for gi in range(len(labs)):
            for n in "AB":
                a, b = phases0[gi][n], phases1[gi][n]
                moved = None if b is None else ((b - a + period_ns // 2) % period_ns) - period_ns // 2
                print(f"  {'cmp ' if gi else ''}engine {n}: CPU {CPUS[n]}, deadline phase {a / 1000:.0f} µs"
                      + (f", moved {moved / 1000:+.0f} µs by the end" if moved is not None else ", gone at the end")
                      + (" (its twin no longer matched it)" if moved is not None and abs(moved) > TWIN_LEAD_US * 1000 else ""))
    print(f"  {'':18s} {'samples':>8s} " + " ".join(f"{k.replace('_', '.'):>9s}" for k in KEYS) + "   (µs)")
    names = [f"twin {'cmp ' if gi else ''}{n}" for gi in range(len(labs)) for n in "AB"] if TWINS \
        else [f"cyclictest #{i + 1}" for i in range(len(cts))]
    for name, d in zip(names, cts):
        print(line(name, d))
    groups = [("", got[0])] + ([("cmp ", got[1])] if other else [])
    for gi, (prefix, g) in enumerate(groups):
        # The reference for this lab: its two twins, or the two shared cyclictest threads.
        refs = cts[2 * gi:2 * gi + 2] if TWINS else cts
        c = Dist.merge(*refs)
        print(line(f"{prefix}reference (both)", c))
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
        # Each engine against its own reference thread (its twin), then both pooled.
        ref_a, ref_b = (refs[0], refs[1]) if TWINS else (c, c)
        for name, e, r0 in [("A wake-up", wa, ref_a), ("B wake-up", wb, ref_b), ("A+B wake-up", Dist.merge(wa, wb), c),
                            ("A+B judged", Dist.merge(ja, jb), c)]:
            r, ci, text = ratio_line(f"ratio {prefix}{name}/ref", e, r0)
            print(text)
            rows.append((ka, mode, prefix + name, e.summary(), r0.summary(), r, ci, ctx))
    if overflow:
        print(f"  cyclictest: {overflow} samples beyond 100 ms")

print("\nsummary (markdown):")
print("| keepalive | load | engine | engine p50/p99/p99.9/max µs | reference p50/p99/p99.9/max µs "
      "| ratio p50/p99/p99.9/max | p99.9 ratio 95% CI | steal |")
print("|---|---|---|---|---|---|---|---|")
for ka, mode, name, e, c, r, ci, ctx in rows:
    print(f"| {ka} ms | {mode} | {name} | {'/'.join(str(e[k]) for k in KEYS)} | {'/'.join(str(c[k]) for k in KEYS)} "
          f"| {'/'.join(f'{r[k]:.2f}' for k in KEYS)} | {ci[0]:.2f}–{ci[1]:.2f} | {ctx['steal_pct']}% |")
