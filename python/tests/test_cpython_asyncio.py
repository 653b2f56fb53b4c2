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
