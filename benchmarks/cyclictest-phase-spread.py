#!/usr/bin/env python3
"""How much a cyclictest thread's tail depends on its deadlines' phase (root; no engine involved).

Runs N single-thread `cyclictest -m -p 50 -i INTERVAL` processes side by side, pinned alternately to
CPU 0 and CPU 1, each on the same grid shifted by a different offset (--secaligned=<offset>), under
`stress-ng --cpu 2 --vm 1 --io 1` (or idle with LOAD=idle), and prints each thread's
p50/p99/p99.9/max and the spread of p99.9 (worst / best). The threads are identical programs at
the same priority and interval; only the phase of their deadlines and their CPU differ. On this
VM the spread is large (five- to elevenfold in the runs noted in docs/benchmarks.md) and the ranking changes
from run to run: the stalls of the host and of stress-ng fall on some phases and miss others. This
is why benchmarks/wakeup-lateness.py compares each engine with a cyclictest "twin" on the engine's
CPU and phase, not with a thread at an arbitrary phase.

usage: benchmarks/cyclictest-phase-spread.py [SECONDS] [INTERVAL_US] [OFFSETS_US]
       e.g. 120 10000 0,1600,3300,5000,6600,8300
"""
import os, subprocess, sys, time
from benchlib import cyclictest_dists, start_stress, stop_stress, CPUSample, context_line

secs = int(sys.argv[1]) if len(sys.argv) > 1 else 120
interval = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
offsets = [int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "0,1600,3300,5000,6600,8300").split(",")]
stress = start_stress() if os.environ.get("LOAD", "stress") == "stress" else None
procs, hists = [], []
try:
    if stress:
        time.sleep(2)
    cpu = CPUSample()
    for i, off in enumerate(offsets):
        h = f"/tmp/shaolin-phase-spread-{i}.hist"
        procs.append(subprocess.Popen(["cyclictest", "-m", "-p", "50", "-i", str(interval), "-D", f"{secs}s", "-q",
                                       "-h", "100000", f"--histfile={h}", "-a", str(i % 2),
                                       f"--secaligned={off % interval}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        hists.append(h)
    for p in procs:
        p.wait(secs + 30)
    ctx = cpu.done()
finally:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    stop_stress(stress)
print(f"{len(offsets)} cyclictest threads, interval {interval} µs, {secs} s, "
      f"{os.environ.get('LOAD', 'stress')}  ({context_line(ctx)})")
print(f"  {'offset µs':>9s} {'CPU':>3s} {'samples':>8s} {'p50':>6s} {'p99':>6s} {'p99.9':>6s} {'max':>7s}   (µs)")
p999 = []
for i, (off, h) in enumerate(zip(offsets, hists)):
    m = cyclictest_dists(h)[0][0].summary()
    p999.append(m["p99_9"])
    print(f"  {off % interval:9d} {i % 2:3d} {m['count']:8d} {m['p50']:6d} {m['p99']:6d} {m['p99_9']:6d} {m['max']:7d}")
print(f"  p99.9 spread: best {min(p999)} µs, worst {max(p999)} µs, worst/best {max(p999) / max(1, min(p999)):.2f}x")
