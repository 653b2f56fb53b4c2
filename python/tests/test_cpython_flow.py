# Blocked calls and flow control: a recv() blocked when the remote goes
# away, write() with a timeout, sends from callbacks, endpoints with an
# explicit dest across a restart.
import threading
import time

import amptest
import openamp
from amptest import ECHO, Session, expect_raises, wait_ready, wait_state


def _blocked_recv(ept):
    """recv() on a thread; returns (thread, result list)."""
    res = []

    def run():
        t0 = time.monotonic()
        try:
            res.append(ept.recv())
        except Exception as e:  # what we look at
            res.append(e)
        res.append(time.monotonic() - t0)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(0.3)  # it is blocked by now
    assert not res, res
    return t, res


def _released(t, res, how):
    t.join(5)
    assert not t.is_alive(), "recv() still blocked after the remote %s" % how
    assert isinstance(res[0], ConnectionResetError), res
    assert res[0].errno == amptest.ECONNRESET
    amptest.readable(res[0], "remote")


def test_blocked_recv_released_when_the_remote_crashes():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote(amptest.CRASH)
        wait_ready(ept)
        t, res = _blocked_recv(ept)
        # a second endpoint tells the core to die: its echo would wake the first
        killer = s.endpoint("", None, dest=ept.dest)
        killer.send(b"segv")
        wait_state(rp, "crashed")
        _released(t, res, "crashed")
        amptest.readable(res[0], "crashed")
        rp.start()
        wait_ready(ept)
        ept.send(b"again")
        assert ept.recv(timeout=5000) == b"again"


def test_blocked_recv_released_on_stop_and_on_shutdown():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote(amptest.VUART)
        wait_ready(ept)
        t, res = _blocked_recv(ept)
        rp.stop()
        _released(t, res, "stopped")
        rp.start()
        wait_ready(ept)
        t, res = _blocked_recv(ept)
        rp.shutdown()
        _released(t, res, "shut down")


def test_recv_with_the_remote_never_started_still_waits():
    # the spec's order: the endpoint first, the remote later; no reset then
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        expect_raises(amptest.TimeoutError, ept.recv, timeout=300, errno=amptest.ETIMEDOUT)
