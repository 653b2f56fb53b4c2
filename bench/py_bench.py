#!/usr/bin/env python3
"""py_bench -- the openamp Python module's round trips and throughput,
next to the C library's own figures (build/bench/amp-bench --quick, if
built).

    PYTHONPATH=python python3 bench/py_bench.py [--seconds S] [--runs N] [--no-c]

Round trips: a 16-byte message to the remote and its echo back, one at a
time, waited for (a) in the endpoint callback, which sets a
threading.Event the sender waits on, and (b) with recv() on a
callback=None endpoint. Throughput: 496-byte messages (one full 512-byte
buffer each) into bench_peer's sink ('S'), counted by the remote and
checked with a 'Q' query; the same bytes through write(); and an echo
flood through callbacks (each echo's number checked, in order). Every
figure checks what came back.

--runs N (default 3) measures everything N times, the C benchmark once
per run between them, and prints the median of the runs with their
range, the callback round trip over the C notified one (each run's
ratio, then their median), the machine's load, and RESULT lines.

Settings: AMP_FIRMWARE_DIR (default build/firmware), AMP_UART (default
null here), AMP_CPU, AMP_BUF_SIZE, as for the module.
"""
import argparse
import faulthandler
import os
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("AMP_UART", "null")  # read when the device is first used
try:
    import openamp
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import openamp

FW = os.environ.get("AMP_FIRMWARE_DIR") or os.path.join(ROOT, "build", "firmware")
C_BENCH = os.path.join(ROOT, "build", "bench", "amp-bench")
PAYLOAD = int(os.environ.get("AMP_BUF_SIZE", "512")) - 16
RT_LEN = 16


class BenchError(Exception):
    pass


def wait_ready(ept, timeout=5.0):
    t0 = time.monotonic()
    while not ept.is_ready():
        if time.monotonic() - t0 > timeout:
            raise BenchError("endpoint %r never became ready" % (ept,))
        time.sleep(0.002)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


def timed_loop(seconds, step, warm=200):
    """Run step() `warm` times, then for about `seconds`; returns the
    per-step times in seconds."""
    for _ in range(warm):
        step()
    samples = []
    clock = time.perf_counter
    end = clock() + seconds
    while True:
        t = clock()
        step()
        t1 = clock()
        samples.append(t1 - t)
        if t1 >= end:
            return samples


# ==== Round trips ====


def rtt_callback_event(seconds):
    ev = threading.Event()
    box = {"data": None}
    msg = bytes(range(RT_LEN))

    def cb(src, data):
        box["data"] = bytes(data)
        ev.set()

    ept = openamp.Endpoint("vuart-channel", cb)
    rp = openamp.RemoteProc(os.path.join(FW, "virtual_uart.elf"))
    try:
        rp.start()
        wait_ready(ept)

        def step():
            ev.clear()
            ept.send(msg, timeout=2000)
            if not ev.wait(2):
                raise BenchError("no echo within 2 s")
            if box["data"] != msg:
                raise BenchError("wrong echo %r" % (box["data"],))

        return timed_loop(seconds, step)
    finally:
        ept.deinit()
        rp.shutdown()


def rtt_recv(seconds, busy_poll=False):
    name, image = ("amp-bench", "bench_peer.elf") if busy_poll else ("vuart-channel", "virtual_uart.elf")
    ept = openamp.Endpoint(name, None)
    rp = openamp.RemoteProc(os.path.join(FW, image))
    msg = (b"E" if busy_poll else b"e") + bytes(range(1, RT_LEN))
    try:
        rp.start()
        wait_ready(ept)
        if busy_poll:
            ept.send(b"P")
            ept.send(b"Q")  # answered once the switch has happened
            if len(ept.recv(timeout=2000)) != 16:
                raise BenchError("bad 'Q' reply")

        def step():
            ept.send(msg, timeout=2000)
            if ept.recv(timeout=2000) != msg:
                raise BenchError("wrong echo")

        return timed_loop(seconds, step)
    finally:
        if busy_poll and ept.is_ready():
            ept.send(b"W")
        ept.deinit()
        rp.shutdown()


# ==== Throughput ====


def sink_session(fn):
    """Run fn(ept) against bench_peer; returns (messages, bytes) the remote
    counted and fn's elapsed seconds (until the 'Q' reply: everything
    was consumed)."""
    ept = openamp.Endpoint("amp-bench", None)
    rp = openamp.RemoteProc(os.path.join(FW, "bench_peer.elf"))
    try:
        rp.start()
        wait_ready(ept)
        ept.send(b"Q")
        ept.recv(timeout=2000)  # counters start from zero
        t0 = time.perf_counter()
        fn(ept)
        ept.send(b"Q")
        reply = ept.recv(timeout=10000)
        dt = time.perf_counter() - t0
        msgs, nbytes = struct.unpack("<QQ", reply)
        return msgs, nbytes, dt  # 'Q' messages are not counted
    finally:
        ept.deinit()
        rp.shutdown()


def tp_send(n):
    msg = b"S" + bytes(PAYLOAD - 1)

    def run(ept):
        send = ept.send
        for _ in range(n):
            send(msg, -1, -1, 5000)

    msgs, nbytes, dt = sink_session(run)
    if msgs != n or nbytes != n * PAYLOAD:
        raise BenchError("sink counted %d messages, %d bytes; sent %d" % (msgs, nbytes, n))
    return n, nbytes, dt


def tp_write(total):
    data = b"S" * total  # every chunk write() cuts starts with 'S'

    def run(ept):
        if ept.write(data) != total:
            raise BenchError("short write")

    msgs, nbytes, dt = sink_session(run)
    want = -(-total // PAYLOAD)
    if nbytes != total or msgs != want:
        raise BenchError("sink counted %d messages, %d bytes; wrote %d bytes" % (msgs, nbytes, total))
    return msgs, nbytes, dt


def tp_echo_flood(n):
    state = {"next": 0, "bad": 0}
    done = threading.Event()

    def cb(src, data):
        if len(data) != 4 or struct.unpack("<I", data)[0] != state["next"]:
            state["bad"] += 1
        state["next"] += 1
        if state["next"] == n:
            done.set()

    ept = openamp.Endpoint("vuart-channel", cb)
    rp = openamp.RemoteProc(os.path.join(FW, "virtual_uart.elf"))
    try:
        rp.start()
        wait_ready(ept)
        pack = struct.pack
        send = ept.send
        t0 = time.perf_counter()
        for i in range(n):
            send(pack("<I", i), -1, -1, 5000)  # a stuck remote: an error, not a hang
        if not done.wait(30):
            raise BenchError("echo flood stuck at %d of %d" % (state["next"], n))
        dt = time.perf_counter() - t0
        if state["bad"]:
            raise BenchError("%d echoes out of order" % state["bad"])
        return n, n * 4, dt
    finally:
        ept.deinit()
        rp.shutdown()


# ==== C figures ====


def c_figures(timeout=45):
    if not os.access(C_BENCH, os.X_OK):
        return None, "not built (%s)" % os.path.relpath(C_BENCH, ROOT)
    try:
        out = subprocess.run([C_BENCH, "--quick"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "failed: %s" % e
    res = {}
    for line in (out.stdout + out.stderr).splitlines():
        if "vring num" in line:
            res["config"] = line.split(":", 1)[-1].strip()
        p = line.split()
        if len(p) >= 3 and p[0] == "RESULT":
            try:
                res[p[1]] = float(p[2])
            except ValueError:
                pass
    if len(res) < 2:
        return None, "no RESULT lines (exit %d)" % out.returncode
    return res, None


# ==== Report ====

FIGURES = [
    # key, label, kind (rtt: us, lower is better; tp: msg/s), C column
    ("rtt_callback", "round trip, callback + Event (16 B)", "rtt", "amp_rtt_notified"),
    ("rtt_recv", "round trip, recv() (16 B)", "rtt", "amp_rtt_notified"),
    ("rtt_recv_busy", "round trip, recv(), remote busy-polls", "rtt", "amp_rtt_busy"),
    ("tp_send", "one-way send() into sink (%d B)" % PAYLOAD, "tp", "amp_oneway_copy"),
    ("tp_write", "one-way write() stream into sink", "tp", "amp_oneway_copy"),
    ("echo_flood", "echo flood through callbacks (4 B)", "tp", None),
]


def measure(key, seconds, n):
    """One figure: us per round trip, or (msg/s, MB/s); or the exception."""
    try:
        if key == "rtt_callback":
            return median(rtt_callback_event(seconds)) * 1e6
        if key == "rtt_recv":
            return median(rtt_recv(seconds)) * 1e6
        if key == "rtt_recv_busy":
            return median(rtt_recv(seconds, True)) * 1e6
        msgs, nbytes, dt = {"tp_send": tp_send, "tp_write": lambda n: tp_write(n * PAYLOAD),
                            "echo_flood": tp_echo_flood}[key](n)
        return msgs / dt, nbytes / dt / 1e6
    except Exception as e:  # report it in the table, keep going
        return e


def span(xs, fmt):
    """median, and the range if there is more than one value."""
    m = fmt % median(xs)
    return m if len(xs) < 2 else "%s (%s-%s)" % (m, fmt % min(xs), fmt % max(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="per round-trip figure (default 2)")
    ap.add_argument("--messages", type=int, default=100000, help="per throughput figure (default 100000)")
    ap.add_argument("--runs", type=int, default=3, help="measure everything this often (default 3)")
    ap.add_argument("--no-c", action="store_true", help="skip the C benchmark")
    a = ap.parse_args()
    faulthandler.dump_traceback_later(120 * a.runs, exit=True)  # never hang

    t_start = time.monotonic()
    load0 = os.getloadavg()
    py = {f[0]: [] for f in FIGURES}
    cs, why, ratios = [], "skipped (--no-c)", []
    for r in range(a.runs):
        for key, label, kind, ckey in FIGURES:
            py[key].append(measure(key, a.seconds, a.messages))
        c = None
        if not a.no_c:
            c, why = c_figures()
        if c:
            cs.append(c)
            cb = py["rtt_callback"][-1]
            if not isinstance(cb, Exception) and "amp_rtt_notified_median" in c:
                ratios.append(cb / c["amp_rtt_notified_median"])
    load1 = os.getloadavg()

    rows = []
    for key, label, kind, ckey in FIGURES:
        vals = py[key]
        errs = [v for v in vals if isinstance(v, Exception)]
        ok = [v for v in vals if not isinstance(v, Exception)]
        if errs:
            cell = "ERROR: %s" % errs[0]
        elif kind == "rtt":
            cell = span(ok, "%.1f") + " us"
        else:
            cell = span([v[0] for v in ok], "%.0f") + " msg/s, " + span([v[1] for v in ok], "%.1f") + " MB/s"
        ccell = ""
        if ckey and cs and ckey + ("_median" if kind == "rtt" else "_mbps") in cs[0]:
            if kind == "rtt":
                ccell = span([c[ckey + "_median"] for c in cs], "%.1f") + " us"
            else:
                ccell = span([c[ckey + "_mmsgps"] * 1e6 for c in cs], "%.0f") + " msg/s"
        rows.append((label, cell, ccell))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print("openamp Python benchmark (CPython %s, buffers %d B, %s, %d run%s: median (range))"
          % (sys.version.split()[0], PAYLOAD + 16, "AMP_CPU=" + os.environ.get("AMP_CPU", "unset"),
             a.runs, "s" if a.runs > 1 else ""))
    print("%-*s  %-*s  %s" % (w0, "", w1, "Python", "C (amp-bench --quick, same runs)"))
    for label, cell, ccell in rows:
        print("%-*s  %-*s  %s" % (w0, label, w1, cell, ccell))
    if ratios:
        print("callback round trip / C notified round trip: %s (each run: %s)"
              % (span(ratios, "%.2fx"), ", ".join("%.2f" % x for x in ratios)))
    flood = [v[0] for v in py["echo_flood"] if not isinstance(v, Exception)]
    if len(flood) > 1:
        print("echo flood, each run: %s msg/s" % ", ".join("%.0fk" % (x / 1e3) for x in flood))
    if not cs:
        print("C figures: %s" % why)
    else:
        print("C: the library alone between two pinned processes (%s); the Python"
              % cs[0].get("config", "?"))
        print("   figures add the binding, the interpreter and the virtual core's 64-entry vrings.")
    print("load average (1, 5, 15 min): %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end"
          % (load0 + load1))
    for key, label, kind, ckey in FIGURES:
        ok = [v for v in py[key] if not isinstance(v, Exception)]
        if ok:
            if kind == "rtt":
                print("RESULT py_%s_us %.1f" % (key, median(ok)))
            else:
                print("RESULT py_%s_msgps %.0f" % (key, median([v[0] for v in ok])))
    if cs and "amp_rtt_notified_median" in cs[0]:
        print("RESULT c_rtt_notified_us %.1f" % median([c["amp_rtt_notified_median"] for c in cs]))
    if ratios:
        print("RESULT py_rtt_callback_ratio %.2f" % median(ratios))
    print("total %.1f s" % (time.monotonic() - t_start))
    openamp._openamp._shutdown()
    failed = any(isinstance(v, Exception) for vals in py.values() for v in vals)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
