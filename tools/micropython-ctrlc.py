#!/usr/bin/python3
"""micropython-ctrlc.py - Ctrl-C at random points of the spec's example, on
a MicroPython unix binary of your own built with this module:

    tools/micropython-ctrlc.py MICROPYTHON [RUNS] [--thread | --group]

Each run starts the example with its loop unbounded, sends SIGINT 0.02-1.5 s
into it, lets the program catch KeyboardInterrupt (as at the REPL) and then
checks that 20 messages still echo. --thread first sends SIGINT to every
thread but the interpreter's (the service thread), then to the process;
--group sends it to the whole process group, as a terminal's Ctrl-C does
(the virtual core gets it too). A run is clean if the echo worked and the
program exited 0; a hang is no exit within 30 s; a crash a non-zero status.
Settings: AMP_FIRMWARE_DIR (default build/firmware). Exit status 0 if every
run was clean.
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

SEED = r'''
import os, sys, time
import openamp

os.chdir(sys.argv[1])
count = [0, 0]

def cb(src, data):
    count[0] += 1
    if bytes(data[:5]) == b"after":
        count[1] += 1

ept = openamp.Endpoint("vuart-channel", callback=cb)
rproc = openamp.RemoteProc("virtual_uart.elf")
rproc.start()
print("READY")
hit = "none"
try:
    while True:  # the spec's loop
        if ept.is_ready():
            ept.send("data")
except KeyboardInterrupt:
    hit = "kbd"
print("INTERRUPTED", hit)
for attempt in range(3):  # a Ctrl-C may land here too: retry
    try:
        t0 = time.ticks_ms()
        want = count[1] + 20
        for i in range(20):
            ept.send(b"after%d" % i, timeout=3000)
        while count[1] < want and time.ticks_diff(time.ticks_ms(), t0) < 5000:
            time.sleep_ms(10)
        print("ECHO-OK" if count[1] >= want else "ECHO-FAIL %d/%d" % (count[1], want))
        break
    except KeyboardInterrupt:
        print("late KeyboardInterrupt")
ept.deinit()
rproc.shutdown()
print("DONE")
'''


def tgkill(pid, tid, sig):
    import ctypes

    nr = {"x86_64": 234, "aarch64": 131, "i686": 270, "i386": 270}.get(os.uname().machine)
    if nr is None:
        raise SystemExit("tgkill: unknown system call number on " + os.uname().machine)
    if ctypes.CDLL(None, use_errno=True).syscall(nr, pid, tid, sig) != 0:
        raise OSError(ctypes.get_errno(), "tgkill")


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip())
        return 2
    mp = argv[1]
    runs = int(argv[2]) if len(argv) > 2 and argv[2].isdigit() else 50
    mode = "thread" if "--thread" in argv else "group" if "--group" in argv else "process"
    fw = os.path.abspath(os.environ.get("AMP_FIRMWARE_DIR") or "build/firmware")
    res = {"clean": 0, "hang": 0, "crash": 0, "echo_fail": 0}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(SEED)
        seed = f.name
    try:
        for run in range(runs):
            env = dict(os.environ, AMP_UART="null")
            p = subprocess.Popen([mp, seed, fw], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                 text=True, start_new_session=True)
            first = p.stdout.readline()
            if "READY" not in first:
                p.kill()
                out, _ = p.communicate()
                res["crash"] += 1
                print("run %d: did not start: %r" % (run, (first + out)[-300:]))
                continue
            delay = random.uniform(0.02, 1.5)
            time.sleep(delay)
            if mode == "thread":
                for t in os.listdir("/proc/%d/task" % p.pid):
                    if int(t) != p.pid:
                        tgkill(p.pid, int(t), signal.SIGINT)
                time.sleep(0.3)
            if mode == "group":
                os.killpg(p.pid, signal.SIGINT)
            else:
                p.send_signal(signal.SIGINT)
            try:
                out, _ = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
                res["hang"] += 1
                print("run %d (%.2f s): HANG: %r" % (run, delay, out[-300:]))
                continue
            if p.returncode != 0:
                res["crash"] += 1
                print("run %d (%.2f s): CRASH, status %d: %r" % (run, delay, p.returncode, out[-300:]))
            elif "ECHO-OK" not in out:
                res["echo_fail"] += 1
                print("run %d (%.2f s): no echo afterwards: %r" % (run, delay, out[-300:]))
            else:
                res["clean"] += 1
    finally:
        os.unlink(seed)
    print("ctrl-c (%s): runs=%d %s" % (mode, runs, " ".join("%s=%d" % kv for kv in res.items())))
    return 0 if res["clean"] == runs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
