#!/usr/bin/env python3
"""Failover with real IPMI fencing (tools/lab.sh LAB_FENCE=ipmi), as root.

Each node's engine is the "machine" behind an OpenIPMI ipmi_sim BMC (chassis power on starts
it, power off kills it); the survivor fences through ipmitool -I lanplus -C 3. Per run:

  crash: kill -9 the ACTIVE (A). Its chassis reads "off" as soon as the engine is gone, so
         the fence is "off" on a machine already off (ipmitool off + status polls).
  hang:  A is powered on again (joins as STANDBY), then the ACTIVE (B) is SIGSTOPped: alive
         but silent. A fences B: the BMC must really kill it (ipmi_sim acts at its 1 s tick).
  reference: B is powered on again, then ipmitool alone (no engine): "chassis power off",
         then "chassis power status" back to back until "off" — the BMC's own off latency,
         measured in the same run beside the engine's figures.

Times come from CLOCK_MONOTONIC stamps in the engine logs (SHAOLIN_MONOTONIC_US) and
Python's time.monotonic_ns() (the same clock).

usage: benchmarks/ipmi-failover.py [RUNS] [KEEPALIVE_MS] [DEADTIME_MS]
"""
import os, signal, sys, time
from benchlib import Lab, wait, now_us

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ka = int(sys.argv[2]) if len(sys.argv) > 2 else 50
dt = int(sys.argv[3]) if len(sys.argv) > 3 else 300
lab = Lab("ipbn", LAB_FENCE="ipmi", STARTUP_MS="1000")
sh = lab.out
pid = lab.pid
role = lab.role


def running(p):
    try:
        return open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def stamp(node, event, after, extra=""):
    return lab.event_us(node, event, after, extra)


def power_on(node, expect_role):
    old = pid(node)
    sh("ipmi", node, "chassis", "power", "on")
    if not wait(lambda: pid(node) not in (None, old) and role(node) == expect_role, 20, step=0.01):
        raise RuntimeError(f"{node} did not come back as {expect_role}")


def failover(victim, survivor, sig):
    """Signal the ACTIVE victim; return the survivor's figures in ms."""
    time.sleep(0.5)
    t0 = now_us()
    os.kill(pid(victim), sig)
    if not wait(lambda: role(survivor) == "ACTIVE", 20, step=0.01):
        raise RuntimeError(f"no takeover by {survivor}")
    time.sleep(0.05)
    dead = stamp(survivor, "PEER_DEAD", t0)
    start = stamp(survivor, "FENCE_START", t0)
    conf = stamp(survivor, "FENCE_CONFIRMED", t0)
    act = stamp(survivor, "ROLE_CHANGE", t0, "SHAOLIN_ROLE=ACTIVE")
    failed = stamp(survivor, "FENCE_FAILED", t0)
    if None in (dead, start, conf, act):
        raise RuntimeError(f"missing events in {survivor}.log")
    return {
        "detect": (dead - t0) / 1000, "dispatch": (start - dead) / 1000, "dead_to_confirmed": (conf - dead) / 1000,
        "confirmed_to_active": (act - conf) / 1000, "kill_to_active": (act - t0) / 1000, "retried": failed is not None,
    }


def ipmitool_off(node):
    """ipmitool alone: power off, then status until off. ms."""
    t0 = time.monotonic_ns()
    sh("ipmi", node, "chassis", "power", "off")
    while "is off" not in sh("ipmi", node, "chassis", "power", "status", check=False):
        if time.monotonic_ns() - t0 > 20e9:
            raise RuntimeError("BMC never reported off")
    return (time.monotonic_ns() - t0) / 1e6


def ipmitool_status(node):
    t0 = time.monotonic_ns()
    sh("ipmi", node, "chassis", "power", "status", check=False)
    return (time.monotonic_ns() - t0) / 1e6


crash, hang, ref_off, ref_status, errors = [], [], [], [], 0
for i in range(runs):
    try:
        sh("up", str(ka), str(dt))
        if not lab.settle(20):
            raise RuntimeError("cluster did not settle")
        crash.append(failover("A", "B", signal.SIGKILL))
        power_on("A", "STANDBY")
        victim = pid("B")
        hang.append(failover("B", "A", signal.SIGSTOP))
        if running(victim):
            raise RuntimeError("SAFETY: the hung ACTIVE still runs after the takeover")
        power_on("B", "STANDBY")
        time.sleep(0.3)
        ref_status.append(ipmitool_status("B"))
        ref_off.append(ipmitool_off("B"))
        print(f"run {i + 1}/{runs}: crash kill->ACTIVE {crash[-1]['kill_to_active']:.0f} ms, "
              f"hang dead->confirmed {hang[-1]['dead_to_confirmed']:.0f} ms, ipmitool off {ref_off[-1]:.0f} ms", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - report and go on
        errors += 1
        print(f"run {i + 1}: {e}", file=sys.stderr)
    finally:
        lab.down()


def stats(xs):
    s = sorted(xs)
    n = len(s)
    med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    return f"median {med:7.1f}  mean {sum(s) / n:7.1f}  min {s[0]:7.1f}  max {s[-1]:7.1f} ms"


if not crash:
    sys.exit("no measurement")
print(f"IPMI failover over veth + pty + ipmi_sim, keepalive {ka} ms, deadtime {dt} ms: "
      f"{len(crash)} crash runs, {len(hang)} hang runs, {errors} failed runs")
for name, rows in (("crash (kill -9 the ACTIVE)", crash), ("hang (SIGSTOP the ACTIVE)", hang)):
    if not rows:
        continue
    print(f"  {name}; fence retried in {sum(r['retried'] for r in rows)} run(s)")
    for key, label in (("detect", "kill -> PEER_DEAD"), ("dispatch", "PEER_DEAD -> FENCE_START"),
                       ("dead_to_confirmed", "PEER_DEAD -> FENCE_CONFIRMED"),
                       ("confirmed_to_active", "FENCE_CONFIRMED -> ACTIVE"), ("kill_to_active", "kill -> ACTIVE")):
        print(f"    {label:30s} {stats([r[key] for r in rows])}")
print("  reference, same runs (ipmitool alone, no engine):")
print(f"    {'chassis power status (1 call)':30s} {stats(ref_status)}")
print(f"    {'power off -> status says off':30s} {stats(ref_off)}")
