#!/usr/bin/env python3
"""Footprint of an idle engine at 100 Hz (keepalive 10 ms) and the size of the shaolind binary (root).

Builds shaolind with --static-swift-stdlib (release, its own scratch path .build-static, as it goes
into the initramfs) unless SHAOLIND names a binary, starts the two-node lab with it, lets it settle,
then samples node A and B over SECONDS: CPU time (utime + stime of all threads, /proc/PID/stat)
extrapolated to one hour, and VmRSS / VmLck / VmHWM from /proc/PID/status. Targets: binary
<= 10 MB, RSS <= 16 MB. The lab's cyclictest-free idle is the reference: the load context is printed.

usage: benchmarks/engine-resources.py [SECONDS]
"""
import os, subprocess, sys, time
from benchlib import REPO, Lab, CPUSample, context_line

secs = float(sys.argv[1]) if len(sys.argv) > 1 else 120
binary = os.environ.get("SHAOLIND")
if not binary:
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "shaolind",
                    "--scratch-path", f"{REPO}/.build-static"], cwd=REPO, check=True)
    binary = f"{REPO}/.build-static/release/shaolind"
size = os.path.getsize(binary)
stripped = f"/tmp/shaolind-stripped-{os.getpid()}"
subprocess.run(["strip", "-o", stripped, binary], check=True)
ssize = os.path.getsize(stripped)
os.unlink(stripped)
ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
swift_dyn = [l.split()[0] for l in ldd.splitlines() if "swift" in l.lower()]
tick = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])   # utime + stime (all threads)


def mem(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmLck", "VmHWM"):
            out[k] = int(v.split()[0])
    return out


lab = Lab("res", SHAOLIND=binary)
try:
    lab.up(10, 50)
    if not lab.settle(30):
        sys.exit("lab did not settle")
    time.sleep(3)
    pids = {n: lab.pid(n) for n in "AB"}
    cpu = CPUSample()
    c0 = {n: cpu_ticks(p) for n, p in pids.items()}
    t0 = time.monotonic()
    peak = {n: {} for n in pids}
    while time.monotonic() - t0 < secs:
        time.sleep(1)
        for n, p in pids.items():
            for k, v in mem(p).items():
                peak[n][k] = max(peak[n].get(k, 0), v)
    el = time.monotonic() - t0
    c1 = {n: cpu_ticks(p) for n, p in pids.items()}
    ctx = cpu.done()
    roles = (lab.role("A"), lab.role("B"))
    sent = {n: lab.status(n)["links"][0]["sent"] for n in pids}
finally:
    lab.down()

print(f"shaolind {binary}")
print(f"  binary: {size / 1e6:.2f} MB ({ssize / 1e6:.2f} MB stripped), Swift runtime linked "
      f"{'dynamically: ' + ', '.join(swift_dyn) if swift_dyn else 'statically'}; target <= 10 MB -> {'MET' if size <= 10e6 else 'NOT MET'}")
print(f"idle engine, keepalive 10 ms (100 Hz), {el:.0f} s, roles {roles[0]}/{roles[1]}  ({context_line(ctx)})")
for n in pids:
    cpu_s = (c1[n] - c0[n]) / tick
    print(f"  node {n}: CPU {cpu_s:.2f} s in {el:.0f} s -> {cpu_s * 3600 / el:.0f} s per hour ({100 * cpu_s / el:.2f}% of one CPU); "
          f"VmRSS {peak[n]['VmRSS'] / 1024:.1f} MB, VmLck {peak[n]['VmLck'] / 1024:.1f} MB, VmHWM {peak[n]['VmHWM'] / 1024:.1f} MB; "
          f"RSS target <= 16 MB -> {'MET' if peak[n]['VmHWM'] <= 16 * 1024 else 'NOT MET'}")
print(f"  (CPU time resolution {1000 // tick} ms; the lab writes a status file every 100 ms and logs at info level)")
