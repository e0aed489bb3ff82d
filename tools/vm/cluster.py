#!/usr/bin/env python3
"""Whole-cluster boot tests under qemu (TCG): two VMs boot from ONE shared raw disk.

Each VM has a serial cable and an Ethernet link to the other (qemu chardev socket, -netdev dgram),
an i6300esb watchdog, and a BMC: an OpenIPMI ipmi_sim on 127.0.0.1 driving the VM through qemu's
ipmi-bmc-extern. The guests reach the peer's BMC through qemu user networking at 10.0.2.2.
The initramfs is the one tools/vm/build.sh made with shaolin's real hook and boot script.

Scenarios (each prints its timings; any failed check exits 1):
  quit       A and B boot together; A wins, B waits in the initramfs as STANDBY (it also watches A
             through A's switch_root: any heartbeat gap there would make B fence A); A's qemu
             quits (monitor `quit`); B fences A via A's BMC, continues booting, reaches multi-user.
  sigstop    A boots alone (fences B's BMC at boot), then B boots and stays STANDBY; A's engine
             gets SIGSTOP inside A; with a watchdog-capable engine A's i6300esb resets A; B fences
             A (A's qemu really exits), continues booting, reaches multi-user.
  watchdog   one VM: the engine pets the i6300esb; SIGSTOP -> the VM resets within the timeout;
             after a reboot, SIGTERM (clean stop) disarms it -> no reset.
  off        one VM booted with shaolin=off: no engine, a warning, the root is mounted (rescue).
Usage: cluster.py [--out DIR] SCENARIO...
"""
import argparse, os, re, shutil, signal, socket, subprocess, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
T0 = time.monotonic()


def now():
    return time.monotonic() - T0


def log(msg):
    print(f"[{now():7.1f}s] {msg}", flush=True)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    log(f"ok: {what}")


def port_free(port, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Console(threading.Thread):
    """A VM's serial console (ttyS0) over a unix socket: every line with the time it arrived."""

    def __init__(self, name, path, logpath):
        super().__init__(daemon=True)
        self.name, self.path = name, path
        self.lines = []  # (time, text)
        self.cond = threading.Condition()
        self.logf = open(logpath, "w")
        self.sock = None
        self.closed = False

    def connect(self, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                self.sock = s
                self.start()
                return
            except OSError:
                time.sleep(0.05)
        raise Failure(f"{self.name}: console socket {self.path} never appeared")

    def run(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._add(line)
        if buf:
            self._add(buf)
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _add(self, raw):
        text = raw.decode("utf-8", "replace").rstrip("\r")
        t = now()
        self.logf.write(f"{t:8.2f} {text}\n")
        self.logf.flush()
        with self.cond:
            self.lines.append((t, text))
            self.cond.notify_all()

    def find(self, pattern, after=-1.0, before=1e18):
        rx = re.compile(pattern)
        with self.cond:
            for t, text in self.lines:
                if after < t < before and rx.search(text):
                    return t, text
        return None

    def find_all(self, pattern, after=-1.0, before=1e18):
        rx = re.compile(pattern)
        with self.cond:
            return [(t, x) for t, x in self.lines if after < t < before and rx.search(x)]

    def wait_for(self, pattern, timeout, after=-1.0, what=None):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, text in self.lines:
                    if t > after and rx.search(text):
                        return t, text
                left = end - time.monotonic()
                if left <= 0 or (self.closed and not any(t > after and rx.search(x) for t, x in self.lines)):
                    if left > 0 and self.closed:
                        raise Failure(f"{self.name}: console closed before {what or pattern!r}")
                    raise Failure(f"{self.name}: no {what or pattern!r} within {timeout}s")
                self.cond.wait(min(left, 1.0))

    def send(self, text):
        self.sock.sendall(text.encode())

    def tail(self, n=40):
        with self.cond:
            return "\n".join(f"  {self.name} {t:8.2f} {x}" for t, x in self.lines[-n:])


class BMC:
    """ipmi_sim on 127.0.0.1: LAN (RMCP+) for ipmitool, a VM port qemu's ipmi-bmc-extern connects to."""

    def __init__(self, name, work, lan_port, vm_port):
        self.name, self.lan_port, self.vm_port = name, lan_port, vm_port
        self.dir = os.path.join(work, f"bmc-{name}")
        os.makedirs(self.dir + "/state", exist_ok=True)
        with open(self.dir + "/lan.conf", "w") as f:
            f.write(f"""name "bmc-{name}"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {lan_port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  serial 15 127.0.0.1 {vm_port} codec VM
  user 1 true  ""      "test"   user  10 none md2 md5 straight
  user 2 true  "admin" "secret" admin 10 none md2 md5 straight
""")
        with open(self.dir + "/bmc.emu", "w") as f:
            f.write("mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n")
        for p, k in ((lan_port, socket.SOCK_DGRAM), (vm_port, socket.SOCK_STREAM)):
            if not port_free(p, k):
                raise Failure(f"port {p} is taken (a leftover ipmi_sim or qemu?): free it, or rebuild with SHAOLIN_VM_PORT_BASE")
        self.proc = subprocess.Popen(
            ["ipmi_sim", "-c", self.dir + "/lan.conf", "-f", self.dir + "/bmc.emu", "-s", self.dir + "/state", "-n"],
            stdin=subprocess.DEVNULL, stdout=open(self.dir + "/ipmi_sim.log", "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise Failure(f"{name}'s ipmi_sim exited: {open(self.dir + '/ipmi_sim.log').read()}")
            if self.power() is not None:
                return
            time.sleep(0.2)
        raise Failure(f"{name}'s ipmi_sim does not answer")

    def ipmitool(self, *words, timeout=5):
        return subprocess.run(["ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", str(self.lan_port), "-U", "admin",
                               "-P", "secret", "-C", "3", *words], capture_output=True, text=True, timeout=timeout)

    def power(self):
        try:
            r = self.ipmitool("chassis", "power", "status")
        except subprocess.TimeoutExpired:
            return None
        if "is on" in r.stdout:
            return "on"
        if "is off" in r.stdout:
            return "off"
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class VM:
    def __init__(self, name, node, work, out, ports, disk, cable_server, extra_append="", boot=None):
        self.name, self.node = name, node
        me, peer = ("ALPHA", "BETA") if node == "alpha" else ("BETA", "ALPHA")
        mac = ports[f"MAC_{me}"]
        umac = mac[:-5] + "01" + mac[-3:]
        con = os.path.join(work, f"{name}.console")
        self.monitor = os.path.join(work, f"{name}.monitor")
        cable = os.path.join(work, "serial-cable")
        for p in (con, self.monitor):
            if os.path.exists(p):
                os.unlink(p)
        serial = (f"socket,id=hb,path={cable},server=on,wait=off" if cable_server
                  else f"socket,id=hb,path={cable},reconnect=1")
        append = ("console=ttyS0 root=/dev/vda rw net.ifnames=0 panic=-1 "
                  "i6300esb.heartbeat=30 " + extra_append)
        cmd = ["qemu-system-x86_64", "-accel", "tcg,tb-size=256", "-m", "512", "-smp", "1",
               "-display", "none", "-nodefaults", "-no-user-config",
               "-kernel", os.path.join(boot or out, "vmlinux"), "-initrd", os.path.join(boot or out, "initrd.img"),
               "-append", append,
               "-drive", f"file={disk},format=raw,if=virtio,file.locking=off",
               "-chardev", f"socket,id=con,path={con},server=on,wait=on", "-serial", "chardev:con",
               "-chardev", serial, "-serial", "chardev:hb",
               "-netdev", f"dgram,id=hb0,local.type=inet,local.host=127.0.0.1,local.port={ports['ETH_' + me]},"
                          f"remote.type=inet,remote.host=127.0.0.1,remote.port={ports['ETH_' + peer]}",
               "-device", f"virtio-net-pci,netdev=hb0,mac={mac},addr=0x3",
               "-netdev", "user,id=u0,restrict=off",
               "-device", f"virtio-net-pci,netdev=u0,mac={umac},addr=0x4",
               "-device", "i6300esb,addr=0x5", "-action", "watchdog=reset",
               "-chardev", f"socket,id=ipmi0,host=127.0.0.1,port={ports['BMC_VM_' + me]},reconnect=10",
               "-device", "ipmi-bmc-extern,chardev=ipmi0,id=bmc0", "-device", "isa-ipmi-kcs,bmc=bmc0",
               "-monitor", f"unix:{self.monitor},server=on,wait=off"]
        self.qemu_log = open(os.path.join(work, f"{name}.qemu.log"), "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.qemu_log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.exit_time = None
        self.console = Console(name, con, os.path.join(work, f"{name}.console.log"))
        self.console.connect()
        threading.Thread(target=self._reap, daemon=True).start()
        log(f"{name} ({node}) started: qemu pid {self.proc.pid}")

    def _reap(self):
        self.proc.wait()
        self.exit_time = now()
        log(f"{self.name}: qemu exited (status {self.proc.returncode})")

    def monitor_cmd(self, text):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.monitor)
        s.sendall(text.encode() + b"\n")
        time.sleep(0.2)
        s.close()

    def wait_exit(self, timeout):
        end = time.monotonic() + timeout
        while self.exit_time is None and time.monotonic() < end:
            time.sleep(0.05)
        return self.exit_time

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def mount_count(disk):
    r = subprocess.run(["dumpe2fs", "-h", disk], capture_output=True, text=True)
    m = re.search(r"Mount count:\s+(\d+)", r.stdout)
    return int(m.group(1)) if m else None


# Set when the engine pets the hardware watchdog (tools/vm-test.sh decides).
EXPECT_WATCHDOG = os.environ.get("SHAOLIN_VM_EXPECT_WATCHDOG", "0") == "1"
ROOT_TOUCH = r"Running /scripts/local-top|Running /scripts/local-premount|SHAOLIN-TEST: ROOT-RW"
BOOT_BANNER = r"Linux version \d"


class Cluster:
    def __init__(self, out, scenario, boot=None):
        """boot: the folder with vmlinux, initrd.img and shared.pristine.img (default: out)."""
        self.out = out
        self.boot = boot
        self.ports = {}
        for line in open(os.path.join(out, "ports.env")):
            if "=" in line:
                k, v = line.strip().split("=", 1)
                self.ports[k] = v
        self.work = os.path.join(out, "run", scenario)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.disk = os.path.join(self.work, "shared.img")
        subprocess.run(["cp", "--sparse=always", os.path.join(boot or out, "shared.pristine.img"), self.disk], check=True)
        self.mounts_before = mount_count(self.disk) or 0  # an image built on a loop mount was mounted already
        for p in ("ETH_ALPHA", "ETH_BETA"):
            if not port_free(int(self.ports[p]), socket.SOCK_DGRAM):
                raise Failure(f"UDP port {self.ports[p]} is taken")
        self.bmcs = {}
        self.vms = []

    def bmc(self, node):
        up = node.upper()
        self.bmcs[node] = BMC(node, self.work, int(self.ports["BMC_LAN_" + up]), int(self.ports["BMC_VM_" + up]))
        return self.bmcs[node]

    def vm(self, name, node, server, extra_append=""):
        v = VM(name, node, self.work, self.out, self.ports, self.disk, server, extra_append, self.boot)
        self.vms.append(v)
        return v

    def close(self):
        for v in self.vms:
            v.kill()
        for b in self.bmcs.values():
            b.stop()

    def dump(self):
        for v in self.vms:
            print(v.console.tail(), flush=True)


def scenario_failover(c, variant):
    c.bmc("alpha")
    c.bmc("beta")
    a_start = now()
    a = c.vm("A", "alpha", server=True)
    if variant != "quit":
        a.console.wait_for("SHAOLIN-TEST: MULTIUSER", 300, what="A's multi-user marker")
    b_start = now()
    b = c.vm("B", "beta", server=False)
    t_a_active, _ = a.console.wait_for(r"shaolin: ACTIVE: continuing the boot", 240, what="A ACTIVE in the initramfs")
    t_a_mu, a_mu = a.console.wait_for("SHAOLIN-TEST: MULTIUSER", 240, what="A's multi-user marker")
    log(f"A: {a_mu}")
    check("role=ACTIVE" in a_mu and "engine-alive=yes" in a_mu, "A reached multi-user ACTIVE with the initramfs-started engine still running")
    check("argv0=@shaolind" in a_mu, "A's engine runs as @shaolind (spared by systemd's shutdown killing spree)")
    t_b_standby, _ = b.console.wait_for(r"shaolin: role STANDBY.*peer ACTIVE alive=true", 240, what="B STANDBY in the initramfs")
    # Let B hold STANDBY for a while: it must stay in the initramfs.
    time.sleep(8)
    check(b.console.find(ROOT_TOUCH) is None, "B stayed in the initramfs while A is ACTIVE (no local-top, no root mount)")
    if variant == "quit":
        sw = a.console.find(r"Running /scripts/init-bottom")
        if sw:
            log(f"B was STANDBY {sw[0] - t_b_standby:+.1f}s before A ran init-bottom (switch_root follows)")
        lapses = b.console.find_all(r"shaolin: role .*(alive=false|FENCING)", after=t_b_standby)
        check(not lapses, "B never lost A's heartbeat while A went through switch_root and multi-user " + str(lapses))
    a.console.send("status\n")
    a.console.wait_for("SHAOLIN-TEST: STATUS", 30)
    # --- kill A ---
    if variant == "quit":
        t_fail = now()
        a.monitor_cmd("quit")
        log("A: qemu monitor quit")
    else:
        a.console.send("stop-engine\n")
        t_fail, _ = a.console.wait_for("SHAOLIN-TEST: ENGINE-STOPPED", 30, what="A's engine SIGSTOPped")
        log("A: engine SIGSTOPped")
    t_b_active, _ = b.console.wait_for(r"shaolin: ACTIVE: continuing the boot", 120, after=t_fail, what="B taking over")
    t_b_mu, b_mu = b.console.wait_for("SHAOLIN-TEST: MULTIUSER", 180, what="B's multi-user marker")
    log(f"B: {b_mu}")
    t_a_exit = a.wait_exit(60)
    check(t_a_exit is not None, "A's qemu stopped")
    resets = a.console.find_all(BOOT_BANNER, after=t_fail)
    t_a_reset = resets[0][0] if resets else None
    if variant == "sigstop":
        check(t_a_exit > t_fail, "A's qemu was stopped by B's fence through A's BMC (it ran until then)")
        if EXPECT_WATCHDOG:
            # A race by design: A's watchdog fires one timeout after its last keepalive, B's
            # fence one deadtime plus one ipmitool round after A's last heartbeat; under TCG
            # either may come first. Whichever does, B must not touch the root before it (checked
            # below); the "watchdog" scenario proves the reset on its own.
            if t_a_reset is not None and t_a_reset < t_a_exit:
                log(f"ok: A's i6300esb reset A +{t_a_reset - t_fail:.1f}s after its engine froze, before B's fence")
            else:
                log(f"note: B's fence powered A off +{t_a_exit - t_fail:.1f}s after the freeze, before A's watchdog fired")
    t_dead = min(t for t in (t_a_exit, t_a_reset) if t is not None)
    t_b_root, line = b.console.find(ROOT_TOUCH)
    check(t_b_root > t_dead, f"B touched the root only after A was dead (A dead at {t_dead:.1f}s, B's first root step at {t_b_root:.1f}s: {line.strip()[:60]})")
    if t_a_reset is not None:
        check(a.console.find("SHAOLIN-TEST: ROOT-RW", after=t_a_reset) is None, "A did not mount the root again after its reset")
    check("role=ACTIVE" in b_mu, "B reached multi-user ACTIVE")
    # B's link counters cover A's whole life (nothing arrives after A's death): heartbeats lost
    # (sequence gaps) and late (arrived after warntime = 1.5 s of silence), per link.
    b.console.send("status\n")
    _, st = b.console.wait_for("SHAOLIN-TEST: STATUS", 60, after=t_b_mu)
    counters = ", ".join(f"{n}: lost {l} late {t}" for n, l, t in
                         re.findall(r'"name":\s*"([^"]+)",\s*"id":\s*\d+.*?"lost":\s*(\d+).*?"late":\s*(\d+)', st))
    log(f"B's view of A's heartbeats: {counters}")
    for v in c.vms:
        v.kill()
    mc = mount_count(c.disk) - c.mounts_before
    check(mc == 2, f"the shared root was mounted exactly twice (A, then B): ext4 mount count +{mc}")
    print(f"RESULT {variant}: A failed at {t_fail:.1f}s; A's qemu gone +{t_a_exit - t_fail:.1f}s"
          + (f"; A's watchdog reset +{t_a_reset - t_fail:.1f}s" if t_a_reset else "; no watchdog reset seen on A")
          + f"; B ACTIVE +{t_b_active - t_fail:.1f}s; B multi-user marker +{t_b_mu - t_fail:.1f}s"
          + f" (A multi-user {t_a_mu - a_start:.1f}s after its qemu started; B STANDBY {t_b_standby - b_start:.1f}s after its)"
          + f"; B's counters of A's heartbeats: {counters}", flush=True)
    return {"variant": variant, "fail_to_b_marker_s": t_b_mu - t_fail, "watchdog_reset": t_a_reset is not None}


def scenario_watchdog(c, timeout_s):
    c.bmc("beta")  # alpha fences beta's (empty) chassis at boot: no peer heard
    c.bmc("alpha")
    a = c.vm("A", "alpha", server=True)
    a.console.wait_for("SHAOLIN-TEST: MULTIUSER", 240, what="A's multi-user marker")
    a.console.send("log\n")
    time.sleep(1)
    wd = a.console.find_all(r"SHAOLIN-LOG: .*[Ww]atchdog")
    for _, x in wd:
        log(x)
    # Part 1: engine frozen -> the i6300esb resets the VM (it reboots inside the same qemu).
    a.console.send("stop-engine\n")
    t_stop, _ = a.console.wait_for("SHAOLIN-TEST: ENGINE-STOPPED", 30)
    t_reset, _ = a.console.wait_for(BOOT_BANNER, 4 * timeout_s + 20, after=t_stop, what="a watchdog reset")
    # i6300esb: the reset comes one timeout after the last keepalive; TCG adds its own delay.
    log(f"watchdog reset {t_reset - t_stop:.1f}s after SIGSTOP (timeout {timeout_s}s)")
    check(t_reset - t_stop <= 2 * timeout_s + 10, f"the VM reset within the watchdog timeout (+TCG slack): {t_reset - t_stop:.1f}s")
    # Part 2: after the reboot, a clean stop (SIGTERM) disarms the watchdog: no reset.
    t_mu2, _ = a.console.wait_for("SHAOLIN-TEST: MULTIUSER", 240, after=t_reset, what="A's multi-user marker after the reset")
    a.console.send("term-engine\n")
    t_gone, _ = a.console.wait_for("SHAOLIN-TEST: ENGINE-GONE", 60, after=t_mu2)
    a.console.send("log\n")
    _, disarm = a.console.wait_for(r"SHAOLIN-LOG: .*WATCHDOG_DISARMED", 30, after=t_gone, what="the engine's WATCHDOG_DISARMED message")
    log(disarm)
    quiet = 3 * timeout_s + 10
    time.sleep(quiet)
    check(a.console.find(BOOT_BANNER, after=t_gone) is None, f"no reset in {quiet}s after a clean stop (watchdog disarmed)")
    check(a.exit_time is None, "the VM still runs")
    print(f"RESULT watchdog: reset {t_reset - t_stop:.1f}s after SIGSTOP (timeout {timeout_s}s); no reset {quiet}s after SIGTERM", flush=True)


def scenario_off(c):
    # shaolin=off: the rescue boot. No engine, a loud warning, the root is mounted.
    c.bmc("beta")
    a = c.vm("A", "alpha", server=True, extra_append="shaolin=off")
    a.console.wait_for("SHAOLIN-TEST: MULTIUSER", 300, what="the multi-user marker")
    check(a.console.find(r"shaolin: DISABLED by shaolin=off.*WITHOUT cluster protection") is not None,
          "shaolin=off: the console says the cluster is disabled and the shared disks unprotected")
    check(a.console.find(r"shaolin: node .*starting the cluster engine") is None, "shaolin=off: no engine started")
    check(a.console.find(r"SHAOLIN-TEST: MULTIUSER .*engine-alive=no") is not None, "shaolin=off: no engine in the booted system")
    print("RESULT off: rescue boot without the cluster", flush=True)



def fields(line):
    """key=value words of a SHAOLIN-TEST line."""
    return dict(w.split("=", 1) for w in line.split() if "=" in w)


def json_num(text, key):
    m = re.search(r'"%s":\s*(-?\d+)' % re.escape(key), text)
    return int(m.group(1)) if m else None


def link_counters(status_line):
    return re.findall(r'"name":"([^"]+)","id":\d+.*?"lost":(\d+).*?"late":(\d+)', status_line)


class RootGuard:
    """'At no point are both VMs' roots mounted': per VM, from its first root step (initramfs
    local-top, printed on its console) to its qemu's exit; the intervals must not overlap."""

    def __init__(self):
        self.vms = []

    def add(self, vm):
        self.vms.append(vm)

    def check(self):
        spans = []
        for v in self.vms:
            first = v.console.find(ROOT_TOUCH)
            if first is None:
                continue
            end = v.exit_time if v.exit_time is not None else 1e18
            spans.append((first[0], end, v.name))
        spans.sort()
        for (s1, e1, n1), (s2, e2, n2) in zip(spans, spans[1:]):
            check(s2 > e1, f"root use never overlaps: {n1} [{s1:.1f}s, {e1:.1f}s] before {n2} from {s2:.1f}s")
        return spans


def debian_multiuser(v, timeout, after=-1.0):
    """Waits for the agent's marker; checks that systemd runs the node with the adopted engine."""
    t, line = v.console.wait_for("SHAOLIN-TEST: MULTIUSER", timeout, after=after, what=f"{v.name}'s multi-user marker (systemd)")
    log(f"{v.name}: {line.strip()}")
    f = fields(line)
    check(f.get("init") == "systemd", f"{v.name}: PID 1 is systemd")
    check(f.get("role") == "ACTIVE" and f.get("engine-alive") == "yes",
          f"{v.name}: multi-user, ACTIVE, with the engine the initramfs started (pid {f.get('engine-pid')})")
    check(f.get("argv0") == "@shaolind", f"{v.name}: the engine runs as @shaolind")
    check(f.get("unit") == "active" and f.get("engine-cgroup") == "/system.slice/shaolin-initramfs.service",
          f"{v.name}: shaolin-initramfs.service adopted the engine (unit {f.get('unit')}, engine cgroup {f.get('engine-cgroup')})")
    return t, f


def debian_status(v, after):
    v.console.send("status\n")
    _, st = v.console.wait_for("SHAOLIN-TEST: STATUS", 60, after=after, what=f"{v.name}'s status")
    return st


def scenario_debian(c, with_poweroff=True):
    """systemd on a debootstrap root, installed with `make install` (tools/vm/debian-image.sh)."""
    guard = RootGuard()
    c.bmc("alpha")
    c.bmc("beta")
    results = []
    # --- 1. A and B boot together: A ACTIVE under systemd, B a STANDBY in the initramfs ------------
    t0 = now()
    a = c.vm("A", "alpha", server=True)
    b = c.vm("B", "beta", server=False)
    guard.add(a); guard.add(b)
    a.console.wait_for(r"shaolin: ACTIVE: continuing the boot", 240, what="A ACTIVE in the initramfs")
    t_a_mu, fa = debian_multiuser(a, 400)
    t_b_standby, _ = b.console.wait_for(r"shaolin: role STANDBY.*peer ACTIVE alive=true", 240, what="B STANDBY in the initramfs")
    a.console.send("check\n")
    t_chk, chk = a.console.wait_for("SHAOLIN-TEST: CHECK-DONE", 60, after=t_a_mu, what="A's systemctl/journal check")
    sysl = [x for _, x in a.console.find_all(r"^SHAOLIN-SYSTEMCTL: ", after=t_a_mu)]
    for x in sysl:
        log(f"A {x}")
    check(any("Active: active (running)" in x for x in sysl), "A: systemctl status shaolin-initramfs: active (running)")
    check(any("@shaolind --config" in x for x in sysl), "A: systemctl status lists the engine (@shaolind) in the unit's cgroup")
    jl = [x for _, x in a.console.find_all(r"^SHAOLIN-JOURNAL: ", after=t_a_mu)]
    for x in jl:
        log(f"A {x}")
    n = int(a.console.find(r"^SHAOLIN-JOURNAL-COUNT: ", after=t_a_mu)[1].split()[-1])
    check(n >= 5 and any("moved into /system.slice/shaolin-initramfs.service" in x for x in jl),
          f"A: journalctl -u shaolin-initramfs holds the adoption and the engine's log ({n} records)")
    check(any("role BOOTING -> ACTIVE" in x for x in jl),
          "A: the engine's own records (its role change to ACTIVE in the initramfs) are in the unit's journal")
    time.sleep(5)
    check(b.console.find(ROOT_TOUCH) is None, "B stayed in the initramfs while A is ACTIVE (no local-top, no root mount)")
    lapses = b.console.find_all(r"shaolin: role .*(alive=false|FENCING)", after=t_b_standby)
    check(not lapses, "B never lost A's heartbeat while A went through switch_root and systemd's start-up " + str(lapses[:2]))
    st = debian_status(a, t_chk)
    log(f"A's engine after switch_root and systemd start-up: stalls {json_num(st, 'stalls')}, longest stall "
        f"{json_num(st, 'longest_stall_us')} us (keepalive 200 ms)")
    a_longest = json_num(st, "longest_stall_us")

    # --- 2. systemctl stop on A = graceful leave: B takes over ------------------------------------------
    a.console.send("stop-unit\n")
    t_stop, _ = a.console.wait_for("SHAOLIN-TEST: UNIT-STOPPING", 30, after=t_chk)
    t_fence_b, fl = b.console.wait_for(r"shaolin: role FENCING", 60, after=t_stop, what="B fencing A after A's leave")
    log(f"B: {fl.strip()}")
    check("peer announced shutdown" in fl, "B saw A's graceful leave (shutdown notice), not a death: the state machine's peerShutdown → FENCING")
    t_b_active, _ = b.console.wait_for(r"shaolin: ACTIVE: continuing the boot", 120, after=t_stop, what="B taking over")
    t_a_exit = a.wait_exit(60)
    check(t_a_exit is not None, "A's qemu was powered off by B's fence through A's BMC")
    t_b_mu, fb = debian_multiuser(b, 400, after=t_b_active)
    st = debian_status(b, t_b_mu)
    counters = ", ".join(f"{n}: lost {l} late {t}" for n, l, t in link_counters(st))
    log(f"B's counters of A's heartbeats (A's whole life: initramfs, switch_root, systemd, leave): {counters}")
    check(link_counters(st) and all(t == "0" for _, _, t in link_counters(st)),
          "no heartbeat of A arrived later than warntime at B (no gap across switch_root and systemd's start-up)")
    results.append(f"leave: systemctl stop on A -> B FENCING +{t_fence_b - t_stop:.1f}s, A off +{t_a_exit - t_stop:.1f}s, "
                   f"B ACTIVE +{t_b_active - t_stop:.1f}s, B multi-user +{t_b_mu - t_stop:.1f}s; "
                   f"A multi-user {t_a_mu - t0:.1f}s after its qemu started; B's counters of A: {counters}; "
                   f"A's longest loop stall {a_longest} us")

    # --- 3. A boots again (STANDBY), B's qemu quits: A fences B and takes over -----------------------
    t_a2 = now()
    a2 = c.vm("A2", "alpha", server=True)
    guard.add(a2)
    t_a2_sb, _ = a2.console.wait_for(r"shaolin: role STANDBY.*peer ACTIVE alive=true", 240, what="A2 STANDBY in the initramfs")
    time.sleep(5)
    check(a2.console.find(ROOT_TOUCH) is None, "A2 stays in the initramfs while B is ACTIVE")
    t_kill = now()
    b.monitor_cmd("quit")
    log("B: qemu monitor quit")
    t_a2_active, _ = a2.console.wait_for(r"shaolin: ACTIVE: continuing the boot", 120, after=t_kill, what="A2 taking over")
    t_a2_mu, _ = debian_multiuser(a2, 400, after=t_a2_active)
    results.append(f"kill: B's qemu quit -> A2 ACTIVE +{t_a2_active - t_kill:.1f}s, A2 multi-user +{t_a2_mu - t_kill:.1f}s "
                   f"(A2 STANDBY {t_a2_sb - t_a2:.1f}s after its qemu started)")

    # --- 4. B boots again (STANDBY); systemctl poweroff on A2: the engine survives the killing spree ---
    if with_poweroff:
        t_b2 = now()
        b2 = c.vm("B2", "beta", server=False)
        guard.add(b2)
        t_b2_sb, _ = b2.console.wait_for(r"shaolin: role STANDBY.*peer ACTIVE alive=true", 240, what="B2 STANDBY in the initramfs")
        time.sleep(3)
        a2.console.send("poweroff\n")
        t_po, _ = a2.console.wait_for("SHAOLIN-TEST: POWEROFF", 30, after=t_a2_mu)
        t_a2_exit = a2.wait_exit(180)
        check(t_a2_exit is not None, "A2 powered off")
        spree = a2.console.find(r"Sending SIGTERM to remaining processes", after=t_po)
        unmounted = a2.console.find(r"All filesystems.*(unmounted|detached)|Unmounting file systems|reboot: Power down", after=t_po)
        t_b2_dead, dl = b2.console.wait_for(r"shaolin: role .*(alive=false|FENCING)", 60, after=t_po, what="B2 noticing A2's end")
        log(f"B2: {dl.strip()}")
        check("peer announced shutdown" not in dl,
              "A2's engine got no SIGTERM during the shutdown (spared by the killing spree: no leave notice)")
        # B2 judges A2 dead one deadtime (3 s) after its last heartbeat; with the engine alive until
        # the power went, that is at least ~deadtime after A2's qemu exit (1 s allowed for console lag).
        last_hb = t_b2_dead - 3.0
        log(f"A2: poweroff at {t_po:.1f}s, spree {spree[0] if spree else None}, root unmounted {unmounted[0] if unmounted else None}, "
            f"qemu exit {t_a2_exit:.1f}s; B2 judged A2 dead at {t_b2_dead:.1f}s (last heartbeat ≈ {last_hb:.1f}s)")
        if spree:
            check(last_hb > spree[0],
                  f"B2 heard A2's engine after systemd-shutdown's killing spree began (last heartbeat ≈ {last_hb - t_a2_exit:+.1f}s, "
                  f"spree {spree[0] - t_a2_exit:+.1f}s, root unmounted {unmounted[0] - t_a2_exit if unmounted else float('nan'):+.1f}s, "
                  f"relative to A2's qemu exit)")
        else:
            log("note: A2's console shows no 'Sending SIGTERM to remaining processes' line")
        t_b2_active, _ = b2.console.wait_for(r"shaolin: ACTIVE: continuing the boot", 120, after=t_po, what="B2 taking over")
        t_b2_mu, _ = debian_multiuser(b2, 400, after=t_b2_active)
        results.append(f"poweroff: systemctl poweroff on A2 -> A2 off +{t_a2_exit - t_po:.1f}s, B2 judged it dead +{t_b2_dead - t_po:.1f}s "
                       f"(last heartbeat {last_hb - t_a2_exit:+.1f}s from A2's power-off"
                       + (f", killing spree at {spree[0] - t_a2_exit:+.1f}s" if spree else "") + f"), "
                       f"B2 ACTIVE +{t_b2_active - t_po:.1f}s, B2 multi-user +{t_b2_mu - t_po:.1f}s")
    # --- 5. A boots again (STANDBY); `shaolinctl switchover` on B2: B2's engine hands over and exits
    #        10 after switch_root; shaolin-adopt powers B2 off (nobody else would); A3 fences, takes over.
    if with_poweroff and os.environ.get("SHAOLIN_VM_DEBIAN_SWITCHOVER", "1") == "1":
        t_a3 = now()
        a3 = c.vm("A3", "alpha", server=True)
        guard.add(a3)
        t_a3_sb, _ = a3.console.wait_for(r"shaolin: role STANDBY.*peer ACTIVE alive=true", 240, what="A3 STANDBY in the initramfs")
        time.sleep(3)
        b2.console.send("switchover\n")
        t_sw, swl = b2.console.wait_for("SHAOLIN-TEST: SWITCHOVER", 60, after=t_b2_mu, what="B2's shaolinctl switchover")
        log(f"B2: {swl.strip()}")
        t_b2_exit = b2.wait_exit(90)
        check(t_b2_exit is not None, "B2 powered off after handing over")
        adopt = b2.console.find(r"shaolin-adopt: the engine handed over to the peer \(exit 10\): powering off", after=t_sw)
        t_a3_fence = a3.console.wait_for(r"shaolin: role FENCING", 60, after=t_sw - 5, what="A3 fencing B2 after the handover")
        check("peer asked us to take over" in t_a3_fence[1],
              "A3 was asked to take over (graceful handover: STANDBY → FENCING handoverRequested)")
        if adopt:
            log(f"ok: B2's shaolin-adopt acted on the engine's exit 10 and powered B2 off ({adopt[0] - t_sw:+.1f}s after the "
                f"switchover; B2's qemu gone {t_b2_exit - t_sw:+.1f}s)")
        else:
            log(f"note: A3's fence powered B2 off ({t_b2_exit - t_sw:+.1f}s) before B2's shaolin-adopt printed its power-off")
        t_a3_active, _ = a3.console.wait_for(r"shaolin: ACTIVE: continuing the boot", 120, after=t_sw, what="A3 taking over")
        t_a3_mu, _ = debian_multiuser(a3, 400, after=t_a3_active)
        results.append(f"switchover: shaolinctl switchover on B2 -> B2 off +{t_b2_exit - t_sw:.1f}s "
                       + (f"(by its own shaolin-adopt on exit 10, +{adopt[0] - t_sw:.1f}s)" if adopt else "(by A3's fence first)")
                       + f", A3 ACTIVE +{t_a3_active - t_sw:.1f}s, A3 multi-user +{t_a3_mu - t_sw:.1f}s")
    for v in c.vms:
        v.kill()
    spans = guard.check()
    mc = mount_count(c.disk) - c.mounts_before
    check(mc == len(spans), f"the shared root was mounted exactly once per ACTIVE: ext4 mount count +{mc}, {len(spans)} ACTIVE spans")
    for r in results:
        print(f"RESULT debian {r}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", os.path.join(ROOT, ".build-vm")))
    ap.add_argument("scenarios", nargs="+", choices=["quit", "sigstop", "watchdog", "off", "debian"])
    args = ap.parse_args()
    failed = []
    for s in args.scenarios:
        log(f"=== scenario {s}")
        c = Cluster(args.out, s, boot=os.path.join(args.out, "debian") if s == "debian" else None)
        try:
            if s == "watchdog":
                scenario_watchdog(c, int(c.ports.get("WATCHDOG_S", "2")))
            elif s == "off":
                scenario_off(c)
            elif s == "debian":
                scenario_debian(c, with_poweroff=os.environ.get("SHAOLIN_VM_DEBIAN_POWEROFF", "1") == "1")
            else:
                scenario_failover(c, s)
        except Failure as e:
            log(f"FAIL ({s}): {e}")
            c.dump()
            failed.append(s)
        finally:
            c.close()
    if failed:
        print(f"FAILED scenarios: {' '.join(failed)}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
