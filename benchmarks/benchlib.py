"""Shared helpers for the lab-based benchmarks (tools/lab.sh, cyclictest, stress-ng, /proc)."""
import json, math, os, re, signal, subprocess, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = os.path.join(REPO, "tools", "lab.sh")


class Lab:
    def __init__(self, lab_id, **env):
        self.dir = f"/tmp/shaolin-lab-{lab_id}"
        self.env = dict(os.environ, LAB_ID=lab_id, LAB_DIR=self.dir, **env)

    def sh(self, *args, check=True):
        subprocess.run([LAB, *args], env=self.env, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def out(self, *args, check=True):
        """Runs a lab.sh command and returns what it printed (stdout and stderr)."""
        return subprocess.run([LAB, *args], env=self.env, check=check, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True).stdout

    def up(self, ka, dt):
        self.sh("up", str(ka), str(dt))

    def down(self):
        self.sh("down", check=False)

    def status(self, n):
        try:
            with open(f"{self.dir}/{n}.status.json") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def pid(self, n):
        try:
            return int(open(f"{self.dir}/{n}.pid").read())
        except (OSError, ValueError):
            return None

    def running(self, n):
        p = self.pid(n)
        try:
            return p is not None and " Z " not in open(f"/proc/{p}/stat").read().rsplit(")", 1)[1][:3]
        except OSError:
            return False

    def role(self, n):
        s = self.status(n)
        return s["role"] if s and self.running(n) else None

    def log(self, n):
        try:
            return open(f"{self.dir}/{n}.log").read()
        except OSError:
            return ""

    def event_us(self, n, event, after=0, extra=""):
        """CLOCK_MONOTONIC time (µs, SHAOLIN_MONOTONIC_US) of node n's first EVENT log record at or
        after `after` whose line also contains `extra`; None if there is none."""
        for line in self.log(n).splitlines():
            if f"SHAOLIN_EVENT={event} " in line + " " and extra in line:
                m = re.search(r"SHAOLIN_MONOTONIC_US=(\d+)", line)
                if m and int(m.group(1)) >= after:
                    return int(m.group(1))
        return None

    def control(self, n, op, **args):
        """One request on node n's control socket (docs/control-protocol.md); returns the result,
        raises RuntimeError with the engine's error."""
        import socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(f"{self.dir}/{n}.sock")
            f = s.makefile("rwb")
            json.loads(f.readline())  # hello
            f.write((json.dumps(dict(op=op, **args)) + "\n").encode())
            f.flush()
            r = json.loads(f.readline())
        if not r.get("ok"):
            raise RuntimeError(f"node {n}: {op}: {r.get('error')}")
        return r["result"]

    def settle(self, secs=20):
        return wait(lambda: (self.role("A"), self.role("B")) == ("ACTIVE", "STANDBY"), secs)


def wait(cond, secs, step=0.05):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return False


class CPUSample:
    """Load average and CPU steal/busy over an interval, from /proc."""

    def __init__(self):
        self.t0 = self._cpu()
        self.load0 = open("/proc/loadavg").read().split()[:3]

    @staticmethod
    def _cpu():
        f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return f

    def done(self):
        t1 = self._cpu()
        d = [b - a for a, b in zip(self.t0, t1)]
        total = sum(d[:8]) or 1
        idle = d[3] + d[4]
        load1 = open("/proc/loadavg").read().split()[:3]
        return {"steal_pct": round(100 * d[7] / total, 1), "busy_pct": round(100 * (total - idle) / total, 1),
                "load_before": " ".join(self.load0), "load_after": " ".join(load1)}


def context_line(c):
    return (f"machine: {os.cpu_count()} CPUs, busy {c['busy_pct']}% (steal {c['steal_pct']}%), "
            f"load average {c['load_before']} -> {c['load_after']}")


def start_stress():
    """stress-ng --cpu 2 --vm 1 --io 1 in its own process group; returns the Popen."""
    return subprocess.Popen(["stress-ng", "--cpu", "2", "--vm", "1", "--io", "1", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop_stress(p):
    if p is None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)   # its own group, created above
    except ProcessLookupError:
        pass
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def start_cyclictest(prio, interval_us, seconds, histfile, hist_us=100_000, threads=1):
    """cyclictest -m -p PRIO -i INTERVAL; with threads > 1, that many threads at the same interval
    (-d 0), not pinned, started together (so their deadlines coincide, as two engines' do)."""
    extra = ["-t", str(threads), "-d", "0"] if threads > 1 else []
    return subprocess.Popen(["cyclictest", "-m", "-p", str(prio), "-i", str(interval_us), "-D", f"{int(seconds)}s",
                             "-q", "-h", str(hist_us), f"--histfile={histfile}", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timerfd_phase_ns(pid, period_ns, samples=9):
    """Phase (ns, modulo period_ns, on CLOCK_MONOTONIC) of the deadline a process's timerfd is
    armed for, read from /proc/PID/fdinfo: `it_value` is the time left, so the deadline is the
    read's time plus it. The engine has one timerfd (its real-time loop's), armed at absolute
    deadlines on a fixed grid, so the phase is the grid's. Several reads, the circular median;
    None when no armed timerfd is found."""
    fds = []
    try:
        listing = os.listdir(f"/proc/{pid}/fdinfo") if pid else []
    except OSError:   # the process is gone
        listing = []
    for fd in listing:
        try:
            if "clockid:" in open(f"/proc/{pid}/fdinfo/{fd}").read():
                fds.append(fd)
        except OSError:
            pass
    phases = []
    for _ in range(samples):
        for fd in fds:
            t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            try:
                text = open(f"/proc/{pid}/fdinfo/{fd}").read()
            except OSError:
                continue
            t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            m = re.search(r"it_value:\s*\((\d+),\s*(\d+)\)", text)
            left = int(m.group(1)) * 1_000_000_000 + int(m.group(2)) if m else 0
            if left > 0 and t1 - t0 < 200_000:
                phases.append(((t0 + t1) // 2 + left) % period_ns)
        time.sleep(0.0037)
    if not phases:
        return None
    ref = phases[0]   # circular median: distances from the first, folded into ±period/2
    d = sorted(((x - ref + period_ns // 2) % period_ns) - period_ns // 2 for x in phases)
    return (ref + d[len(d) // 2]) % period_ns


def start_cyclictest_twin(prio, interval_us, seconds, histfile, cpu, phase_us, hist_us=100_000):
    """One cyclictest thread pinned to `cpu` whose deadlines fall at `phase_us` modulo the interval
    (--secaligned: the grid starts at the next full second of CLOCK_MONOTONIC plus the offset)."""
    return subprocess.Popen(["cyclictest", "-m", "-p", str(prio), "-i", str(interval_us), "-D", f"{int(seconds)}s",
                             "-q", "-h", str(hist_us), f"--histfile={histfile}", "-a", str(cpu),
                             f"--secaligned={int(phase_us) % interval_us}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Dist:
    """A latency distribution as (µs, count) pairs, ascending: cyclictest's 1-µs histogram or an
    engine's lateness histogram (the reset-lateness answer)."""

    def __init__(self, pairs):
        merged = {}
        for v, c in pairs:
            if c:
                merged[int(v)] = merged.get(int(v), 0) + int(c)
        self.pairs = sorted(merged.items())
        self.n = sum(c for _, c in self.pairs)

    @staticmethod
    def merge(*ds):
        return Dist([p for d in ds for p in d.pairs])

    def at_rank(self, k):
        """The k-th smallest value (1-based, clamped to 1..n)."""
        k, acc = max(1, min(self.n, k)), 0
        for v, c in self.pairs:
            acc += c
            if acc >= k:
                return v
        return self.pairs[-1][0] if self.pairs else 0

    def q(self, pct):
        """The value at percentile pct (the smallest value with at least pct % at or below it)."""
        return self.at_rank(math.ceil(pct / 100 * self.n))

    def q_ci(self, pct, z=1.96):
        """A distribution-free ~95 % confidence interval of the percentile: the order statistics at
        ranks n·p ∓ z·sqrt(n·p·(1−p)) (the rank of the true quantile is binomial)."""
        p = pct / 100
        half = z * math.sqrt(self.n * p * (1 - p))
        return self.at_rank(math.floor(self.n * p - half)), self.at_rank(math.ceil(self.n * p + half))

    def summary(self):
        return {"count": self.n, "p50": self.q(50), "p99": self.q(99), "p99_9": self.q(99.9),
                "max": self.pairs[-1][0] if self.pairs else 0}


def cyclictest_dists(histfile):
    """Per-thread distributions from cyclictest's histogram file (samples beyond its range are
    counted at the thread's maximum), and the total overflow count."""
    rows, overflow, maxima = [], [], []
    for line in open(histfile):
        if line.startswith("#"):
            if "Histogram Overflows" in line:
                overflow = [int(x) for x in line.split(":")[1].split()]
            elif "Max Latencies" in line:
                maxima = [int(x) for x in line.split(":")[1].split()]
            continue
        f = line.split()
        if len(f) >= 2:
            rows.append([int(x) for x in f])
    threads = max((len(r) - 1 for r in rows), default=1)
    dists = []
    for t in range(threads):
        pairs = [(r[0], r[t + 1]) for r in rows if len(r) > t + 1]
        if t < len(overflow) and overflow[t]:
            pairs.append((maxima[t] if t < len(maxima) else rows[-1][0], overflow[t]))
        dists.append(Dist(pairs))
    return dists, sum(overflow)


def cyclictest_result(histfile):
    """Percentiles (µs) of a one-thread cyclictest histogram; overflows count as beyond the range."""
    dists, overflow = cyclictest_dists(histfile)
    r = Dist.merge(*dists).summary()
    r["overflow"] = overflow
    return r


def now_us():
    """CLOCK_MONOTONIC in µs: the clock of the engines' SHAOLIN_MONOTONIC_US stamps."""
    return time.monotonic_ns() // 1000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else 0
