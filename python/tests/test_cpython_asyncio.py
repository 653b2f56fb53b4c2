# CPython only: await Endpoint.recv_async().
import asyncio

import amptest
from amptest import ECHO, Session, wait_ready


def _queue(s):
    ept = s.endpoint(ECHO, None)
    s.remote()
    wait_ready(ept)
    return ept


def test_recv_async():
    with Session() as s:
        ept = _queue(s)

        async def main():
            ept.send(b"async hello")
            return await asyncio.wait_for(ept.recv_async(), 5)

        assert asyncio.run(main()) == b"async hello"


def test_recv_async_n_bytes():
    with Session() as s:
        ept = _queue(s)

        async def main():
            ept.send(b"0123456789")
            a = await asyncio.wait_for(ept.recv_async(3), 5)
            b = await asyncio.wait_for(ept.recv_async(), 5)
            return a, b

        assert asyncio.run(main()) == (b"012", b"3456789")


def test_recv_async_does_not_block_the_loop():
    with Session() as s:
        ept = _queue(s)

        async def ticker(ticks):
            while True:
                ticks.append(1)
                await asyncio.sleep(0.01)

        async def late_send():
            await asyncio.sleep(0.2)
            ept.send(b"late")

        async def main():
            ticks = []
            t = asyncio.ensure_future(ticker(ticks))
            asyncio.ensure_future(late_send())
            msg = await asyncio.wait_for(ept.recv_async(), 5)
            t.cancel()
            return msg, len(ticks)

        msg, ticks = asyncio.run(main())
        assert msg == b"late"
        assert ticks >= 5, "the loop was blocked (%d ticks)" % ticks


def test_recv_async_timeout_and_cancel():
    with Session() as s:
        ept = _queue(s)

        async def main():
            try:
                await asyncio.wait_for(ept.recv_async(), 0.1)
            except asyncio.TimeoutError:
                pass
            else:
                raise AssertionError("no timeout")
            # the reader was removed: waiting again works
            ept.send(b"after cancel")
            return await asyncio.wait_for(ept.recv_async(), 5)

        assert asyncio.run(main()) == b"after cancel"


def test_recv_async_many_endpoints():
    with Session() as s:
        first = _queue(s)
        others = [s.endpoint("aq%d" % i, None, dest=first.dest) for i in range(4)]

        async def main():
            for i, e in enumerate(others):
                e.send(("to %d" % i).encode())
            return await asyncio.wait_for(asyncio.gather(*(e.recv_async() for e in others)), 5)

        assert asyncio.run(main()) == [("to %d" % i).encode() for i in range(4)]


def test_recv_async_many_messages():
    with Session() as s:
        ept = _queue(s)

        async def main():
            got = []
            for i in range(200):
                ept.send(("%d" % i).encode())
                got.append(await asyncio.wait_for(ept.recv_async(), 5))
            return got

        assert asyncio.run(main()) == [("%d" % i).encode() for i in range(200)]
        amptest.quiescent()


# ==== The link goes down while a coroutine awaits ====
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
    import select

    with Session() as s:
        ept = _queue(s)
        rp = s.rprocs[0]
        assert select.select([ept], [], [], 0)[0] == []
        rp.stop()
        assert select.select([ept], [], [], 2)[0] == [ept], "not readable after stop()"
        amptest.expect_raises(ConnectionResetError, ept.recv, timeout=0, errno=amptest.ECONNRESET)
        assert select.select([ept], [], [], 0)[0] == []
        amptest.expect_raises(BlockingIOError, ept.recv, timeout=0)
