#!/usr/bin/env python3
"""Impairment relay for shaolin's fault tests and benchmarks (this kernel has no netem).

Forwards raw Ethernet frames between two interfaces (AF_PACKET, run it in a middle network
namespace that owns one end of each of two veth pairs) and bytes between two serial devices
(the inner ends of two socat pty pairs), applying per link and per direction:

  Ethernet: delay=MS jitter=MS loss=PCT dup=PCT corrupt=PCT reorder=PCT reorder_ms=MS
  serial:   delay=MS jitter=MS loss=PCT corrupt=PCT garbage=PCT garbage_len=N

  delay/jitter  each frame (Ethernet) or read chunk (serial) leaves at now + delay + U(-jitter, +jitter).
                On Ethernet jitter can reorder frames (like netem); serial bytes keep their order
                (a chunk never leaves before the one read before it).
  loss          drop the frame / chunk.
  dup           send the frame twice (the copy 0.1 ms after the original).
  corrupt       flip one random bit: Ethernet in the payload after the 14-byte header (so the
                frame still reaches the peer's EtherType filter), serial anywhere in the chunk.
  reorder       hold the frame back reorder_ms (default 25) more than the others: later frames overtake it.
  garbage       before a chunk, insert 1..garbage_len (default 32) random bytes.

Impairments apply to every frame, or with --ethertype only to that EtherType (others pass
through with no impairment). Scheduling is a monotonic-deadline heap: the loop sleeps in
select() until the earliest deadline or input, and sends everything due; the lateness of each
send against its deadline is kept in the stats (send_late_us_p99/max).

Settings come from --set arguments and, reread on SIGHUP or when its mtime changes, from a
control file (--control). Lines/--set values look like

    eth both delay=5 jitter=1      # link (eth|serial), direction (a2b|b2a|both), key=value...
    serial a2b garbage=10
    eth b2a reset                  # back to no impairment

Each reload starts from no impairment and applies --set, then the control file, in order;
"generation" in the stats file counts reloads. Stats (JSON) are written to --stats every 0.5 s,
after every reload and at exit (SIGTERM/SIGINT).

usage: impair.py [--eth IF_A IF_B] [--serial TTY_A TTY_B] [--ethertype 0x88b5]
                 [--set 'eth both delay=5']... [--control FILE] [--stats FILE] [--rt PRIO] [--seed N]
"""
import argparse, ctypes, errno, heapq, json, os, random, select, signal, socket, sys, termios, time, tty

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ETH_KEYS = {"delay", "jitter", "loss", "dup", "corrupt", "reorder", "reorder_ms"}
SERIAL_KEYS = {"delay", "jitter", "loss", "corrupt", "garbage", "garbage_len"}
DEFAULTS = {"delay": 0.0, "jitter": 0.0, "loss": 0.0, "dup": 0.0, "corrupt": 0.0, "reorder": 0.0,
            "reorder_ms": 25.0, "garbage": 0.0, "garbage_len": 32.0}


class SpecError(Exception):
    pass


def parse_spec(line, where):
    """'eth both delay=5 jitter=1' -> [(link, dir, {key: value})] ; raises SpecError naming where."""
    words = line.split("#", 1)[0].split()
    if not words:
        return []
    if len(words) < 2:
        raise SpecError(f"{where}: expected 'LINK DIRECTION key=value...', got {line.strip()!r}")
    link, direction, rest = words[0], words[1], words[2:]
    if link not in ("eth", "serial"):
        raise SpecError(f"{where}: unknown link {link!r} (eth or serial)")
    if direction not in ("a2b", "b2a", "both"):
        raise SpecError(f"{where}: unknown direction {direction!r} (a2b, b2a or both)")
    allowed = ETH_KEYS if link == "eth" else SERIAL_KEYS
    values = {}
    for w in rest:
        if w == "reset":
            values = {k: DEFAULTS[k] for k in allowed}
            continue
        if "=" not in w:
            raise SpecError(f"{where}: expected key=value, got {w!r}")
        k, v = w.split("=", 1)
        if k not in allowed:
            raise SpecError(f"{where}: {link} has no setting {k!r} (allowed: {', '.join(sorted(allowed))})")
        try:
            x = float(v)
        except ValueError:
            raise SpecError(f"{where}: {k}={v!r} is not a number")
        if x < 0 or (k in ("loss", "dup", "corrupt", "reorder", "garbage") and x > 100):
            raise SpecError(f"{where}: {k}={v} out of range")
        values[k] = x
    dirs = ("a2b", "b2a") if direction == "both" else (direction,)
    return [(link, d, values) for d in dirs]


class Direction:
    def __init__(self, link, name):
        self.link, self.name = link, name
        self.p = dict(DEFAULTS)
        self.c = {k: 0 for k in ("received", "forwarded", "dropped", "duplicated", "corrupted", "reordered",
                                 "garbage_chunks", "garbage_bytes", "passthrough", "send_errors", "bytes")}
        self.late = []          # send lateness samples (µs), bounded
        self.late_max = 0.0
        self.last_serial_deadline = 0.0

    def note_late(self, us):
        self.late_max = max(self.late_max, us)
        if len(self.late) < 200_000:
            self.late.append(us)

    def stats(self):
        xs = sorted(self.late)
        p = lambda q: round(xs[min(len(xs) - 1, int(q / 100 * len(xs)))], 1) if xs else 0
        return {**self.c, "settings": {k: self.p[k] for k in (ETH_KEYS if self.link == "eth" else SERIAL_KEYS)},
                "send_late_us_p50": p(50), "send_late_us_p99": p(99), "send_late_us_max": round(self.late_max, 1)}


class Relay:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.dirs = {(l, d): Direction(l, d) for l in ("eth", "serial") for d in ("a2b", "b2a")}
        self.heap = []          # (deadline, seq, kind, payload)
        self.seq = 0
        self.generation = 0
        self.control_mtime = None
        self.reload_wanted = True
        self.stop = False
        self.eth = None
        self.serial_paths = args.serial
        self.serial_fds = [None, None]
        self.serial_retry_at = 0.0
        self.ethertype = args.ethertype

    # --- settings ---------------------------------------------------------------------------
    def reload(self):
        specs = []
        for i, s in enumerate(self.args.set or []):
            specs += parse_spec(s, f"--set #{i + 1}")
        if self.args.control and os.path.exists(self.args.control):
            try:
                self.control_mtime = os.stat(self.args.control).st_mtime_ns
                with open(self.args.control) as f:
                    for n, line in enumerate(f, 1):
                        specs += parse_spec(line, f"{self.args.control}:{n}")
            except SpecError as e:
                print(f"impair: {e}; keeping the previous settings", file=sys.stderr)
                return
        for d in self.dirs.values():
            d.p = dict(DEFAULTS)
        for link, d, values in specs:
            self.dirs[(link, d)].p.update(values)
        self.generation += 1
        self.write_stats()

    def control_changed(self):
        if not self.args.control:
            return False
        try:
            return os.stat(self.args.control).st_mtime_ns != self.control_mtime
        except FileNotFoundError:
            return self.control_mtime is not None

    def write_stats(self):
        if not self.args.stats:
            return
        out = {"pid": os.getpid(), "generation": self.generation,
               "eth": {k: self.dirs[("eth", k)].stats() for k in ("a2b", "b2a")},
               "serial": {k: self.dirs[("serial", k)].stats() for k in ("a2b", "b2a")},
               "serial_open": [fd is not None for fd in self.serial_fds]}
        tmp = self.args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, self.args.stats)

    # --- scheduling -------------------------------------------------------------------------
    def schedule(self, deadline, kind, payload):
        self.seq += 1
        heapq.heappush(self.heap, (deadline, self.seq, kind, payload))

    def pct(self, x):
        return x > 0 and self.rng.random() * 100 < x

    def jittered(self, p):
        d = p["delay"] + (self.rng.uniform(-p["jitter"], p["jitter"]) if p["jitter"] > 0 else 0)
        return max(0.0, d) / 1000

    # --- Ethernet -----------------------------------------------------------------------------
    def open_eth(self):
        socks = []
        for ifname in self.args.eth:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((ifname, 0))
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            socks.append(s)
        self.eth = socks

    def eth_input(self, side, now):
        s = self.eth[side]
        d = self.dirs[("eth", "a2b" if side == 0 else "b2a")]
        while True:
            try:
                frame, addr = s.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.ENETDOWN, errno.ENXIO):
                    return
                raise
            if addr[2] == PACKET_OUTGOING:
                continue            # our own transmissions on this interface
            d.c["received"] += 1
            if self.ethertype is not None and (len(frame) < 14 or int.from_bytes(frame[12:14], "big") != self.ethertype):
                d.c["passthrough"] += 1
                self.schedule(now, ("eth", 1 - side, d), frame)
                continue
            p = d.p
            if self.pct(p["loss"]):
                d.c["dropped"] += 1
                continue
            if self.pct(p["corrupt"]) and len(frame) > 14:
                b = bytearray(frame)
                i = self.rng.randrange(14, len(b))
                b[i] ^= 1 << self.rng.randrange(8)
                frame = bytes(b)
                d.c["corrupted"] += 1
            t = now + self.jittered(p)
            if self.pct(p["reorder"]):
                t += p["reorder_ms"] / 1000
                d.c["reordered"] += 1
            self.schedule(t, ("eth", 1 - side, d), frame)
            if self.pct(p["dup"]):
                d.c["duplicated"] += 1
                self.schedule(t + 0.0001, ("eth", 1 - side, d), frame)

    # --- serial -------------------------------------------------------------------------------
    def open_serial(self, now):
        if now < self.serial_retry_at:
            return
        self.serial_retry_at = now + 0.1
        for i, path in enumerate(self.serial_paths):
            if self.serial_fds[i] is not None:
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                tty.setraw(fd)
                attrs = termios.tcgetattr(fd)
                attrs[3] &= ~termios.ECHO
                termios.tcsetattr(fd, termios.TCSANOW, attrs)
            except termios.error:
                pass
            self.serial_fds[i] = fd

    def close_serial(self, i):
        if self.serial_fds[i] is not None:
            os.close(self.serial_fds[i])
            self.serial_fds[i] = None

    def serial_input(self, side, now):
        fd = self.serial_fds[side]
        d = self.dirs[("serial", "a2b" if side == 0 else "b2a")]
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            self.close_serial(side)     # the pty went away (socat killed): reopen by path later
            return
        if not chunk:
            self.close_serial(side)
            return
        d.c["received"] += 1
        d.c["bytes"] += len(chunk)
        p = d.p
        if self.pct(p["loss"]):
            d.c["dropped"] += 1
            return
        if self.pct(p["corrupt"]):
            b = bytearray(chunk)
            b[self.rng.randrange(len(b))] ^= 1 << self.rng.randrange(8)
            chunk = bytes(b)
            d.c["corrupted"] += 1
        if self.pct(p["garbage"]):
            n = self.rng.randint(1, max(1, int(p["garbage_len"])))
            chunk = bytes(self.rng.getrandbits(8) for _ in range(n)) + chunk
            d.c["garbage_chunks"] += 1
            d.c["garbage_bytes"] += n
        t = max(now + self.jittered(p), d.last_serial_deadline)   # bytes keep their order
        d.last_serial_deadline = t
        self.schedule(t, ("serial", 1 - side, d), chunk)

    # --- output -------------------------------------------------------------------------------
    def send_due(self, now):
        while self.heap and self.heap[0][0] <= now:
            deadline, _, (kind, out, d), payload = heapq.heappop(self.heap)
            try:
                if kind == "eth":
                    self.eth[out].send(payload)
                else:
                    fd = self.serial_fds[out]
                    if fd is None:
                        d.c["send_errors"] += 1
                        continue
                    os.write(fd, payload)
                d.c["forwarded"] += 1
                d.note_late((time.monotonic() - deadline) * 1e6)
            except (BlockingIOError, OSError):
                d.c["send_errors"] += 1

    # --- main loop ----------------------------------------------------------------------------
    def run(self):
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wfd)
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "reload_wanted", True))
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stop", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stop", True))
        if self.args.eth:
            self.open_eth()
        next_housekeeping = 0.0
        while not self.stop:
            now = time.monotonic()
            if self.reload_wanted:
                self.reload_wanted = False
                self.reload()
            if now >= next_housekeeping:
                next_housekeeping = now + 0.1
                if self.serial_paths:
                    self.open_serial(now)
                if self.control_changed():
                    self.reload()
                if int(now * 2) != int((now - 0.1) * 2):
                    self.write_stats()
            fds = [rfd] + (self.eth or []) + [fd for fd in self.serial_fds if fd is not None]
            timeout = next_housekeeping - now
            if self.heap:
                timeout = min(timeout, self.heap[0][0] - now)
            r, _, _ = select.select(fds, [], [], max(0.0, timeout))
            now = time.monotonic()
            for f in r:
                if f == rfd:
                    try:
                        os.read(rfd, 512)
                    except BlockingIOError:
                        pass
                elif self.eth and f is self.eth[0]:
                    self.eth_input(0, now)
                elif self.eth and f is self.eth[1]:
                    self.eth_input(1, now)
                elif f == self.serial_fds[0]:
                    self.serial_input(0, now)
                elif f == self.serial_fds[1]:
                    self.serial_input(1, now)
            self.send_due(time.monotonic())
        self.write_stats()


def realtime(prio):
    """SCHED_FIFO + mlockall for tighter send deadlines; warns and carries on if refused."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(prio))
    except OSError as e:
        print(f"impair: SCHED_FIFO {prio} refused ({e}); running with normal scheduling", file=sys.stderr)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(3) != 0:   # MCL_CURRENT | MCL_FUTURE
        print(f"impair: mlockall refused ({os.strerror(ctypes.get_errno())})", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description="Impairment relay (Ethernet over AF_PACKET, serial over ptys).")
    ap.add_argument("--eth", nargs=2, metavar=("IF_A", "IF_B"), help="interfaces on the A and B side")
    ap.add_argument("--serial", nargs=2, metavar=("TTY_A", "TTY_B"), help="serial devices on the A and B side")
    ap.add_argument("--ethertype", type=lambda s: int(s, 0), default=None,
                    help="impair only this EtherType (others pass through), e.g. 0x88b5")
    ap.add_argument("--set", action="append", metavar="SPEC", help="'LINK DIR key=value...' (repeatable)")
    ap.add_argument("--control", metavar="FILE", help="settings file, reread on SIGHUP or change")
    ap.add_argument("--stats", metavar="FILE", help="JSON stats output")
    ap.add_argument("--rt", type=int, metavar="PRIO", help="run SCHED_FIFO at PRIO with mlockall")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    ap.add_argument("--check", action="store_true", help="only validate --set/--control and exit")
    args = ap.parse_args()
    try:
        for i, s in enumerate(args.set or []):
            parse_spec(s, f"--set #{i + 1}")
        if args.control and os.path.exists(args.control):
            with open(args.control) as f:
                for n, line in enumerate(f, 1):
                    parse_spec(line, f"{args.control}:{n}")
    except SpecError as e:
        sys.exit(f"impair: {e}")
    if args.check:
        return
    if not args.eth and not args.serial:
        sys.exit("impair: nothing to relay: give --eth IF_A IF_B and/or --serial TTY_A TTY_B")
    if args.rt:
        realtime(args.rt)
    try:
        Relay(args).run()
    except PermissionError as e:
        sys.exit(f"impair: {e} (AF_PACKET needs root or CAP_NET_RAW)")


if __name__ == "__main__":
    main()
