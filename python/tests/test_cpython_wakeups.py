# A recv() timeout while other endpoints' messages keep waking the wait.
# CPython only: on MicroPython a ping-pong run from callbacks keeps the
# dispatch going round, so the waiting program does not run at all then.
import amptest
from amptest import ECHO, Session, expect_raises, wait_ready
from test_blocked_recv import AFTER_MS, BUSY_MS, _pinger


def test_recv_timeout_holds_while_another_endpoint_is_busy():
    # every message for the other endpoint wakes the waiting recv(); each
    # wake-up must not start its timeout over
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote(amptest.VUART)
        wait_ready(ept)
        arm, st = _pinger(s, ept)
        arm()
        expect_raises(amptest.TimeoutError, ept.recv, timeout=AFTER_MS, errno=amptest.ETIMEDOUT)
        busy = not st["over"]
        pings = st["pings"]
        st["over"] = True
        assert busy, "recv(timeout=%d) outlasted %d ms of traffic for another endpoint" % (AFTER_MS, BUSY_MS)
        assert pings >= 1, "the other endpoint was not busy meanwhile"
        amptest.quiescent()
