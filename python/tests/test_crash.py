# A remote that dies, seen from Python: crash.elf echoes on vuart-channel
# and dies on "segv", "exit", "syscall" or "abort".
import amptest
from amptest import ECHO, Session, expect_raises, readable, wait_ready, wait_state

HOW = {
    "segv": "segmentation",
    "exit": "status 3",
    "syscall": "signal 9",
    "abort": "illegal instruction",
}


def _crash_and_restart(s, ept, rp, cb, cmd):
    cb.clear()
    assert ept.send(b"before " + cmd.encode()) > 0
    assert cb.wait(1, 2)
    assert ept.send(cmd) == len(cmd)
    wait_state(rp, "crashed")
    assert not ept.is_ready()
    e = expect_raises(amptest.ConnectionResetError, ept.send, b"x", errno=amptest.ECONNRESET)
    readable(e, "crashed", HOW[cmd])
    # the trace of the dead core is still there
    assert "crash: start" in rp.trace()
    rp.start()
    assert rp.state == "running"
    wait_ready(ept)
    cb.clear()
    assert ept.send(b"after " + cmd.encode()) > 0
    assert cb.wait(1, 2), "no echo after restarting from %s" % cmd
    assert cb.msgs == [b"after " + cmd.encode()]


def test_crash_segv_then_restart():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s, image=amptest.CRASH)
        _crash_and_restart(s, ept, rp, cb, "segv")
        amptest.quiescent()


def test_crash_every_way_then_restart():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s, image=amptest.CRASH)
        for cmd in ("exit", "syscall", "abort", "segv"):
            _crash_and_restart(s, ept, rp, cb, cmd)
        amptest.quiescent()


def test_crash_with_messages_queued():
    # echoes queued for recv() when the core dies are dropped, not
    # handed out from a dead link; the endpoint works after a restart
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote(amptest.CRASH)
        wait_ready(ept)
        for i in range(10):
            ept.send(b"q")
        assert amptest.wait_until(lambda: amptest.stats() is None or amptest.stats()["rx_held"] >= 10, 2)
        ept.send(b"segv")
        wait_state(rp, "crashed")
        # a look without waiting learns of the crash once (a select/asyncio
        # user, woken by the descriptor), and finds nothing after it
        expect_raises(amptest.ConnectionResetError, ept.recv, timeout=0, errno=amptest.ECONNRESET)
        expect_raises(OSError, ept.recv, timeout=0, errno=amptest.EAGAIN)
        rp.start()
        wait_ready(ept)
        ept.send(b"fresh")
        assert ept.recv(timeout=2000) == b"fresh"
        amptest.quiescent()


def test_crash_then_stop_and_shutdown():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s, image=amptest.CRASH)
        ept.send(b"abort")
        wait_state(rp, "crashed")
        rp.stop()  # a crashed remote can be stopped
        assert rp.state == "stopped"
        expect_raises(OSError, ept.send, b"x", errno=amptest.ENOTCONN)
        rp.shutdown()
        assert rp.state == "offline"
