# A recv() blocked in the main thread is released with
# ConnectionResetError when the remote crashes, is stopped or is shut down
# meanwhile. No threads, so MicroPython runs these too: a callback on a
# second endpoint does it while the recv() is under way (MicroPython runs
# callbacks between the slices of a blocked call, CPython on the
# service thread). test_cpython_flow.py does the same from a thread.
import time

import amptest
from amptest import ECHO, Session, expect_raises, wait_ready, wait_state

AFTER_MS = 300  # recv() is waiting by then: it was called right after arm()
WAIT_MS = 5000  # a recv() not released fails with ETIMEDOUT, not a hang
BUSY_MS = 5000  # how long the other endpoint stays busy


def _pinger(s, ept, act=None):
    """A second endpoint on ept's service. arm() starts a ping-pong with
    the echo service. With act: the first echo AFTER_MS or more after
    arm() calls act(pinger) from the callback, once. Without: the pings
    go on until BUSY_MS after arm(). Returns (arm, state)."""
    st = {"t0": None, "acted": False, "pings": 0, "over": False}

    def cb(src, data):
        if st["acted"] or st["over"] or st["t0"] is None:
            return
        t = amptest.elapsed_ms(st["t0"])
        if act is not None and t >= AFTER_MS:
            st["acted"] = True
            act(pinger)
            return
        if act is None and t >= BUSY_MS:
            st["over"] = True
            return
        time.sleep(0.01 if act else 0.002)
        st["pings"] += 1
        try:
            pinger.send(b"ping")
        except OSError as e:  # the test ended meanwhile, and took the endpoint away
            if e.errno != amptest.EBADF or not st["over"]:
                raise

    pinger = s.endpoint("", cb, dest=ept.dest)

    def arm():
        st["t0"] = amptest.now_ms()
        for i in range(1 if act else 3):  # busy: a few in flight, no gaps
            pinger.send(b"ping")

    return arm, st


def _recv_released(ept, arm, st, *words):
    arm()
    e = expect_raises(amptest.ConnectionResetError, ept.recv, timeout=WAIT_MS, errno=amptest.ECONNRESET)
    # it was blocked when the remote went away, not before
    assert st["acted"], "recv() ended before the remote went away: %r" % (e,)
    amptest.readable(e, *words)


def test_blocked_recv_released_when_the_remote_crashes():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote(amptest.CRASH)
        wait_ready(ept)
        # the pinger tells the core to die: an echo would wake ept
        arm, st = _pinger(s, ept, lambda p: p.send(b"segv"))
        _recv_released(ept, arm, st, "crashed")
        wait_state(rp, "crashed")
        rp.start()
        wait_ready(ept)
        ept.send(b"again")
        assert ept.recv(timeout=WAIT_MS) == b"again"
        amptest.quiescent()


def test_blocked_recv_released_when_the_remote_is_stopped():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote(amptest.VUART)
        wait_ready(ept)
        arm, st = _pinger(s, ept, lambda p: rp.stop())
        _recv_released(ept, arm, st, "remote")
        wait_state(rp, "stopped")  # the callback (a thread on CPython) may still be in stop()
        rp.start()
        wait_ready(ept)
        ept.send(b"again")
        assert ept.recv(timeout=WAIT_MS) == b"again"
        amptest.quiescent()


def test_blocked_recv_released_when_the_remote_is_shut_down():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote(amptest.VUART)
        wait_ready(ept)
        arm, st = _pinger(s, ept, lambda p: rp.shutdown())
        _recv_released(ept, arm, st, "remote")
        wait_state(rp, "offline")
        # and a recv() that begins after that waits for a remote to come
        expect_raises(amptest.TimeoutError, ept.recv, timeout=200, errno=amptest.ETIMEDOUT)

