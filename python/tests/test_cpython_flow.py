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


# ==== Flow control ====

BIG = amptest.MAX_PAYLOAD


def test_write_with_a_timeout_returns_a_short_count():
    # nothing read: the echoes hold our receive buffers, the remote stops
    # taking messages, and a write without reading cannot finish
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote(amptest.VUART)
        wait_ready(ept)
        data = b"w" * (BIG * 600)
        t0 = time.monotonic()
        n = ept.write(data, timeout=1000)
        took = time.monotonic() - t0
        assert 0 < n < len(data) and n % BIG == 0, n
        assert took < 4, took
        expect_raises(amptest.TimeoutError, ept.write, b"more", timeout=200, errno=amptest.ETIMEDOUT)
        got = 0
        while got < n:
            got += len(ept.recv(timeout=5000))
        assert got == n
        expect_raises(amptest.TimeoutError, ept.recv, timeout=300)
        assert ept.write(b"tail", timeout=2000) == 4  # flowing again
        assert ept.recv(timeout=5000) == b"tail"
        amptest.quiescent()


def test_a_callback_that_floods_raises_instead_of_blocking_everyone():
    with Session() as s:
        errors = []
        sent = []
        other = amptest.Collector()

        def flood(src, data):
            if bytes(data) != b"go":
                return
            t0 = time.monotonic()
            try:
                for i in range(1000):
                    ept.send(b"f%d" % i)
                    sent.append(i)
            except OSError as e:
                errors.append((e, time.monotonic() - t0))

        ept = s.endpoint(ECHO, flood)
        s.remote(amptest.VUART)
        wait_ready(ept)
        second = s.endpoint("", other, dest=ept.dest)
        ept.send(b"go")
        assert amptest.wait_until(lambda: errors, 10), "the callback blocked (sent %d)" % len(sent)
        e, took = errors[0]
        assert isinstance(e, amptest.TimeoutError), e
        amptest.readable(e, "callback")
        assert took < 5, took
        # the other endpoint's callbacks run again
        second.send(b"hello")
        assert other.wait(1, 5), "the other endpoint's callback never ran"
        assert other.msgs == [b"hello"]
        amptest.quiescent()


# ==== Explicit dest across restarts ====


def test_endpoints_with_an_explicit_dest_rebind_after_a_restart():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote(amptest.VUART)
        wait_ready(ept)
        peer = ept.dest
        anon = s.endpoint("", None, dest=peer)  # unnamed
        quiet = s.endpoint("never-announced", None, dest=peer)  # named, never announced
        for restart in range(2):
            rp.stop()
            assert not anon.is_ready()
            rp.start()
            for e in (ept, anon, quiet):
                wait_ready(e)
            assert anon.dest == peer and quiet.dest == peer, (anon, quiet)
            for e in (anon, quiet):
                e.send(b"r%d" % restart, timeout=2000)
                assert e.recv(timeout=5000) == b"r%d" % restart
