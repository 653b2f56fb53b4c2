# CPython, virtual core only: every waiter on a receive endpoint learns
# that the link went down (the remote stopped or crashed) - await
# Endpoint.recv_async() as a blocked recv() does, and a select/poll user
# through the descriptor. (The kernel backend's own case, a channel that
# goes, is in kernel_uml.py.)
import asyncio
import select

import amptest
from amptest import ECHO, Session, wait_ready


def _queue(s):
    ept = s.endpoint(ECHO, None)
    s.remote()
    wait_ready(ept)
    return ept


# recv_async() ends as a blocked recv() does: ConnectionResetError, within
# a bound (a coroutine left waiting for ever was the bug).

def _released_by(ept, act, *words):
    async def main():
        waiter = asyncio.ensure_future(ept.recv_async())
        await asyncio.sleep(0.3)
        assert not waiter.done(), "recv_async() ended before the remote went away"
        act()
        try:
            await asyncio.wait_for(waiter, 5)
        except ConnectionResetError as e:
            return e
        except asyncio.TimeoutError:
            raise AssertionError("recv_async() still waits 5 s after the remote went away")
        raise AssertionError("recv_async() returned a message from a remote that went away")

    e = asyncio.run(main())
    assert e.errno == amptest.ECONNRESET, e
    amptest.readable(e, *words)


def test_recv_async_released_when_the_remote_is_stopped():
    with Session() as s:
        ept = _queue(s)
        rp = s.rprocs[0]
        _released_by(ept, rp.stop)
        # the loss was reported once: the next await waits (for a restart)
        rp.start()
        wait_ready(ept)

        async def again():
            ept.send(b"again")
            return await asyncio.wait_for(ept.recv_async(), 5)

        assert asyncio.run(again()) == b"again"


def test_recv_async_released_when_the_remote_crashes():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote(amptest.CRASH)
        wait_ready(ept)
        _released_by(ept, lambda: ept.send(b"segv"), "crashed")
        amptest.wait_state(rp, "crashed")


def test_fileno_readable_when_the_link_goes_down():
    # a select/poll user learns of it too: the descriptor becomes readable,
    # recv(timeout=0) raises ConnectionResetError once, then it is quiet
    with Session() as s:
        ept = _queue(s)
        rp = s.rprocs[0]
        assert select.select([ept], [], [], 0)[0] == []
        rp.stop()
        assert select.select([ept], [], [], 2)[0] == [ept], "not readable after stop()"
        amptest.expect_raises(ConnectionResetError, ept.recv, timeout=0, errno=amptest.ECONNRESET)
        assert select.select([ept], [], [], 0)[0] == []
        amptest.expect_raises(BlockingIOError, ept.recv, timeout=0)
