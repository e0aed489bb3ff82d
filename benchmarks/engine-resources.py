#!/usr/bin/env python3
"""Footprint of an idle engine at 100 Hz (keepalive 10 ms) and the size of the shaolind binary (root).

Builds shaolind with --static-swift-stdlib (release, its own scratch path .build-static, as it goes
into the initramfs) unless SHAOLIND names a binary, starts the two-node lab with it, lets it settle,
then samples node A and B every second over SECONDS: CPU time (utime + stime of all threads,
/proc/PID/stat) extrapolated to one hour; VmRSS / VmLck / VmHWM (/proc/PID/status); and, per
mapping, Rss and Locked from /proc/PID/smaps at the sample with the highest RSS.

Every page of the engine is locked (mlockall(MCL_CURRENT|MCL_FUTURE)), so its locked resident memory
is the Rss of its locked mappings (VmFlags "lo"); smaps' own "Locked:" field is proportional (a page
shared with the other node counts half), so it is printed too but not compared. The engine maps
the same libraries whichever log sink it uses (journald and sd_notify are spoken without
libsystemd, docs/logging.md).

Targets (issue 3): the binary as installed (stripped; `make install`, the initramfs hook and the VM
image install it stripped) <= 10 MB; locked resident memory <= 16 MB. PASS/FAIL lines at the end.

usage: benchmarks/engine-resources.py [SECONDS]
"""
import collections, os, subprocess, sys, time
from benchlib import REPO, Lab, CPUSample, context_line

secs = float(sys.argv[1]) if len(sys.argv) > 1 else 120
MB = 1e6
TARGET_BINARY = 10 * MB
TARGET_LOCKED_KB = 16 * 1024          # 16 MB as MiB-based kB, like the kernel's figures

binary = os.environ.get("SHAOLIND")
if not binary:
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "shaolind",
                    "--scratch-path", f"{REPO}/.build-static"], cwd=REPO, check=True)
    binary = f"{REPO}/.build-static/release/shaolind"
binary = os.path.realpath(binary)
size = os.path.getsize(binary)
stripped = f"/tmp/shaolind-stripped-{os.getpid()}"
subprocess.run(["strip", "-o", stripped, binary], check=True)
ssize = os.path.getsize(stripped)
os.unlink(stripped)
needed = [l.split("[")[1].rstrip("]") for l in
          subprocess.run(["readelf", "-d", binary], capture_output=True, text=True).stdout.splitlines() if "(NEEDED)" in l]
# Swift runtime pieces the engine should not carry (symbols of the unstripped binary).
symbols = subprocess.run(["nm", binary], capture_output=True, text=True).stdout
pieces = {"_StringProcessing (regex engine)": "17_StringProcessing", "_Concurrency": "swift_task_create",
          "Dispatch": "dispatch_async", "Foundation": "10Foundation"}
carried = [name for name, needle in pieces.items() if needle in symbols]
tick = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])   # utime + stime (all threads)


def status(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmLck", "VmHWM", "RssAnon", "RssFile"):
            out[k] = int(v.split()[0])
    return out


def locked_rss(pid):
    """Rss and Anonymous (kB) of the mappings flagged VM_LOCKED, per mapping name; proportional
    smaps Locked: summed over all mappings."""
    per, anon, pss_locked = collections.Counter(), 0, 0
    cur, rss, an = None, 0, 0
    for line in open(f"/proc/{pid}/smaps"):
        p = line.split()
        if len(p) >= 5 and "-" in p[0] and not p[0].endswith(":"):
            cur, rss, an = (p[5] if len(p) > 5 else "[anon]"), 0, 0
        elif p[0] == "Rss:":
            rss = int(p[1])
        elif p[0] == "Anonymous:":
            an = int(p[1])
        elif p[0] == "Locked:":
            pss_locked += int(p[1])
        elif p[0] == "VmFlags:" and "lo" in p[1:]:
            per[cur] += rss
            anon += an
    return per, anon, pss_locked


def sample(lab, seconds, label):
    pids = {n: lab.pid(n) for n in "AB"}
    cpu = CPUSample()
    c0 = {n: cpu_ticks(p) for n, p in pids.items()}
    t0 = time.monotonic()
    peak = {n: {} for n in pids}
    worst = {n: (-1, None, None) for n in pids}     # (locked kB, per-mapping smaps, status)
    while time.monotonic() - t0 < seconds:
        time.sleep(1)
        for n, p in pids.items():
            st = status(p)
            for k, v in st.items():
                peak[n][k] = max(peak[n].get(k, 0), v)
            per_locked, anon, pss_locked = locked_rss(p)
            total = sum(per_locked.values())
            if total > worst[n][0]:
                worst[n] = (total, (per_locked, anon, pss_locked), st)
    el = time.monotonic() - t0
    c1 = {n: cpu_ticks(p) for n, p in pids.items()}
    return {"pids": pids, "elapsed": el, "cpu": {n: (c1[n] - c0[n]) / tick for n in pids}, "peak": peak,
            "worst": worst, "ctx": cpu.done(), "roles": (lab.role("A"), lab.role("B")), "label": label}


def run_phase(seconds, label, **env):
    lab = Lab("res", SHAOLIND=binary, **env)
    try:
        lab.up(10, 50)
        if not lab.settle(30):
            sys.exit(f"lab did not settle ({label})")
        time.sleep(3)
        return sample(lab, seconds, label)
    finally:
        lab.down()


def report(r, cpu=True):
    print(f"{r['label']}: {r['elapsed']:.0f} s, roles {r['roles'][0]}/{r['roles'][1]}  ({context_line(r['ctx'])})")
    for n in r["pids"]:
        total, (per_locked, anon, pss_locked), st = r["worst"][n]
        line = (f"  node {n}: locked resident {total / 1024:.1f} MB (file-backed {(total - anon) / 1024:.1f}, "
                f"anonymous {anon / 1024:.1f}); VmRSS {st['VmRSS'] / 1024:.1f} MB (peak VmHWM {r['peak'][n]['VmHWM'] / 1024:.1f}), "
                f"RssAnon {st['RssAnon'] / 1024:.1f} / RssFile {st['RssFile'] / 1024:.1f} MB; "
                f"smaps Locked (proportional) {pss_locked / 1024:.1f} MB; VmLck (locked virtual) {st['VmLck'] / 1024:.1f} MB")
        if cpu:
            c = r["cpu"][n]
            line += f"; CPU {c:.2f} s in {r['elapsed']:.0f} s -> {c * 3600 / r['elapsed']:.0f} s per hour ({100 * c / r['elapsed']:.2f}% of one CPU)"
        print(line)
        for name, kb in sorted(per_locked.items(), key=lambda x: -x[1]):
            if kb >= 16:
                print(f"      {kb:7d} kB  {name}")


print(f"shaolind {binary}")
print(f"  binary: {size / MB:.2f} MB unstripped (symbols and DWARF), {ssize / MB:.2f} MB stripped (as installed); "
      f"dynamic libraries: {', '.join(needed)}")
print(f"  Swift runtime pieces linked that the engine does not need: {', '.join(carried) if carried else 'none'}")
main = run_phase(secs, "idle engine, keepalive 10 ms (100 Hz)")
report(main)
print(f"  (CPU time resolution {1000 // tick} ms; the lab writes a status file every 100 ms and logs at info level)")

def verdict(ok, text):
    print(f"{'PASS' if ok else 'FAIL'}: {text}")


verdict(ssize <= TARGET_BINARY, f"installed (stripped) shaolind {ssize / MB:.2f} MB <= 10 MB "
        f"(unstripped build output {size / MB:.2f} MB)")
verdict(not carried, "no _StringProcessing/_Concurrency/Dispatch/Foundation in shaolind")
verdict(not [l for l in needed if l.startswith(("libsystemd", "libstdc++"))], "neither libsystemd nor libstdc++.so is linked")
for n in "AB":
    kb = main["worst"][n][0]
    verdict(kb <= TARGET_LOCKED_KB, f"node {n} locked resident {kb / 1024:.1f} MB <= 16 MB")
