"""py_callbacks -- the callback path's two figures, on CPython or MicroPython:

    python3 bench/py_callbacks.py [FIRMWARE_DIR] [FLOOD_MESSAGES]
    micropython bench/py_callbacks.py [FIRMWARE_DIR] [FLOOD_MESSAGES]

- round trip through a callback: 16 bytes to virtual_uart.elf's echo
  service, one at a time, the echo checked in the callback and waited for
  by the program (CPython: a threading.Event; MicroPython: a loop, during
  which the scheduler runs the callback);
- echo flood through callbacks: FLOOD_MESSAGES (default 50000) numbered
  messages sent back to back, each echo checked in the callback (its
  number, in order, and its length).

Prints "RESULT name value" lines (tools/run-micropython-tests.sh prints
MicroPython's next to CPython's). Exit status 1 if an echo was wrong.
"""
import struct
import sys
import time

import openamp

MICROPYTHON = sys.implementation.name == "micropython"
if MICROPYTHON:
    def now_us():
        return time.ticks_us()

    def us_since(t0):
        return time.ticks_diff(time.ticks_us(), t0)
else:
    import threading

    def now_us():
        return time.perf_counter()

    def us_since(t0):
        return (time.perf_counter() - t0) * 1e6


class Waiter:
    """Set by the callback, waited for by the program."""

    def __init__(self):
        self.ev = None if MICROPYTHON else threading.Event()
        self.flag = False

    def set(self):
        self.flag = True
        if self.ev:
            self.ev.set()

    def clear(self):
        self.flag = False
        if self.ev:
            self.ev.clear()

    def wait(self, timeout_s):
        if self.ev:
            return self.ev.wait(timeout_s)
        t0 = now_us()
        while not self.flag:  # the scheduler runs the callback meanwhile
            if us_since(t0) > timeout_s * 1e6:
                return False
        return True


def session(fw, cb):
    ept = openamp.Endpoint("vuart-channel", cb)
    rp = openamp.RemoteProc(fw + "/virtual_uart.elf")
    rp.start()
    t0 = now_us()
    while not ept.is_ready():
        if us_since(t0) > 5e6:
            raise OSError("the echo endpoint never became ready")
        time.sleep(0.002)
    return ept, rp


def round_trip(fw, n=3000):
    msg = bytes(range(16))
    box = {"bad": 0}
    done = Waiter()

    def cb(src, data):
        if bytes(data) != msg:
            box["bad"] += 1
        done.set()

    ept, rp = session(fw, cb)
    try:
        samples = []
        for i in range(n + 200):
            done.clear()
            t0 = now_us()
            ept.send(msg)
            if not done.wait(2):
                raise OSError("no echo within 2 s")
            if i >= 200:  # after a warm-up
                samples.append(us_since(t0))
        if box["bad"]:
            raise OSError("%d wrong echoes" % box["bad"])
        samples.sort()
        return samples[len(samples) // 2]
    finally:
        ept.deinit()
        rp.shutdown()


def flood(fw, n):
    st = {"next": 0, "bad": 0}
    done = Waiter()
    unpack = struct.unpack

    def cb(src, data):
        if len(data) != 4 or unpack("<I", data)[0] != st["next"]:
            st["bad"] += 1
        st["next"] += 1
        if st["next"] == n:
            done.set()

    ept, rp = session(fw, cb)
    try:
        pack = struct.pack
        send = ept.send
        t0 = now_us()
        for i in range(n):
            send(pack("<I", i), -1, -1, 5000)
        if not done.wait(60):
            raise OSError("echo flood stuck at %d of %d" % (st["next"], n))
        us = us_since(t0)
        if st["bad"]:
            raise OSError("%d of %d echoes wrong or out of order" % (st["bad"], n))
        return n * 1e6 / us
    finally:
        ept.deinit()
        rp.shutdown()


def main(argv):
    fw = argv[1] if len(argv) > 1 else "build/firmware"
    n = int(argv[2]) if len(argv) > 2 else 50000
    impl = sys.implementation.name
    try:
        rt = round_trip(fw)
        print("RESULT %s_rtt_callback_us %.1f" % (impl, rt))
        rate = flood(fw, n)
        print("RESULT %s_echo_flood_msgps %.0f" % (impl, rate))
    except OSError as e:
        print("py_callbacks: %s: %s" % (impl, e))
        return 1
    finally:
        if hasattr(openamp, "_openamp"):
            openamp._openamp._shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
