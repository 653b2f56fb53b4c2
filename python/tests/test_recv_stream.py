# Endpoints made with callback=None: recv(), the stream protocol
# (read/readinto/write) and fileno() for poll.
import select
import time

import amptest
from amptest import ECHO, Session, expect_raises, readable, wait_ready


def _queue_session(s, image=amptest.VUART):
    ept = s.endpoint(ECHO, None)
    rp = s.remote(image)
    wait_ready(ept)
    return ept, rp


def test_recv_whole_message():
    with Session() as s:
        ept, rp = _queue_session(s)
        assert ept.send(b"hello world") == 11
        assert ept.recv() == b"hello world"
        assert ept.send(b"two") == 3
        assert ept.recv(-1, 2000) == b"two"  # n and timeout positionally
        assert ept.send(b"three") == 5
        assert ept.recv(n=-1, timeout=2000) == b"three"
        assert ept.send(b"") == 0
        assert ept.recv(timeout=2000) == b""  # an empty message is a message
        amptest.quiescent()


def test_recv_keeps_message_boundaries_and_order():
    with Session() as s:
        ept, rp = _queue_session(s)
        msgs = [("m%d" % i).encode() * (i + 1) for i in range(40)]
        for m in msgs:
            ept.send(m)
        got = [ept.recv(timeout=2000) for _ in msgs]
        assert got == msgs
        expect_raises(OSError, ept.recv, timeout=0, errno=amptest.EAGAIN)


def test_recv_first_n_bytes_then_the_rest():
    with Session() as s:
        ept, rp = _queue_session(s)
        ept.send(b"0123456789")
        ept.send(b"next")
        assert ept.recv(4, timeout=2000) == b"0123"
        assert ept.recv(3) == b"456"
        assert ept.recv() == b"789"  # the rest of that message only
        assert ept.recv(100) == b"next"  # n larger than the message
        ept.send(b"abc")
        assert ept.recv(0, timeout=2000) == b""  # n=0 takes nothing
        assert ept.recv() == b"abc"
        amptest.quiescent()


def test_recv_timeout():
    with Session() as s:
        ept, rp = _queue_session(s)
        t0 = amptest.now_ms()
        e = expect_raises(amptest.TimeoutError, ept.recv, timeout=150, errno=amptest.ETIMEDOUT)
        took = amptest.elapsed_ms(t0)
        assert 120 <= took < 2000, "timeout=150 took %d ms" % took
        readable(e, "timed out")
        t0 = amptest.now_ms()
        e = expect_raises(amptest.BlockingIOError, ept.recv, timeout=0, errno=amptest.EAGAIN)
        assert amptest.elapsed_ms(t0) < 100
        readable(e)
        expect_raises(amptest.BlockingIOError, ept.recv, 5, 0, errno=amptest.EAGAIN)
        # and it still works afterwards
        ept.send(b"late")
        assert ept.recv(timeout=2000) == b"late"


def test_recv_argument_errors():
    with Session() as s:
        ept, rp = _queue_session(s)
        expect_raises(ValueError, ept.recv, timeout=-2)
        expect_raises(ValueError, ept.recv, -2)
        expect_raises(TypeError, ept.recv, timeout=0.5)
        with_cb = s.endpoint("has-callback", lambda src, data: None)
        e = expect_raises(ValueError, with_cb.recv, timeout=0)
        readable(e, "callback")


def test_recv_after_deinit_is_ebadf():
    with Session() as s:
        ept, rp = _queue_session(s)
        ept.send(b"queued, never read")
        _wait_held(1)
        ept.deinit()
        expect_raises(OSError, ept.recv, errno=amptest.EBADF)
        expect_raises(OSError, ept.recv, timeout=0, errno=amptest.EBADF)
        expect_raises(OSError, ept.read, errno=amptest.EBADF)
        expect_raises(OSError, ept.readinto, bytearray(4), errno=amptest.EBADF)
        expect_raises(OSError, ept.write, b"x", errno=amptest.EBADF)
        expect_raises(OSError, ept.fileno, errno=amptest.EBADF)
        amptest.quiescent()  # the queued message went back to the remote


def test_stream_read_spans_messages():
    with Session() as s:
        ept, rp = _queue_session(s)
        ept.send(b"abc")
        ept.send(b"def")
        ept.send(b"ghi")
        got = b""
        while len(got) < 9:
            got += ept.read()
        assert got == b"abcdefghi"
        ept.send(b"12345")
        ept.send(b"67890")
        _wait_held(2)
        assert ept.read(7) == b"1234567"  # across the boundary
        assert ept.read(7) == b"890"  # what is there


def _wait_held(n):
    """Wait until n received messages are queued with us."""
    if amptest.stats() is None:
        time.sleep(0.2)
    else:
        assert amptest.wait_until(lambda: amptest.stats()["rx_held"] >= n, 2), amptest.stats()


def test_stream_write_larger_than_a_buffer():
    with Session() as s:
        ept, rp = _queue_session(s)
        n = 5 * amptest.MAX_PAYLOAD + 123
        data = bytes((i * 7 + 3) & 0xFF for i in range(n))
        assert ept.write(data) == n
        got = bytearray()
        t0 = amptest.now_ms()
        while len(got) < n:
            got += ept.read(1000)
            assert amptest.elapsed_ms(t0) < 5000, "echo stuck at %d of %d bytes" % (len(got), n)
        assert bytes(got) == data
        assert ept.write(bytearray(b"ba")) == 2
        assert ept.write(memoryview(b"xcd")[1:]) == 2
        got = b""
        while len(got) < 4:
            got += ept.read()
        assert got == b"bacd"
        amptest.quiescent()


def test_stream_write_nothing_sends_nothing():
    # a stream has no messages: writing no bytes sends none (an empty
    # message would come back and read() would return b"", which means
    # end of file to a stream's reader)
    with Session() as s:
        ept, rp = _queue_session(s)
        assert ept.write(b"") == 0
        expect_raises(OSError, ept.recv, timeout=200, errno=amptest.ETIMEDOUT)


def test_stream_write_splits_into_max_payload_messages():
    with Session() as s:
        ept, rp = _queue_session(s)
        n = 2 * amptest.MAX_PAYLOAD + 1
        assert ept.write(bytes(n)) == n
        # recv() keeps message boundaries: the split is visible
        sizes = [len(ept.recv(timeout=2000)) for _ in range(3)]
        assert sizes == [amptest.MAX_PAYLOAD, amptest.MAX_PAYLOAD, 1]


def test_stream_readinto():
    with Session() as s:
        ept, rp = _queue_session(s)
        ept.send(b"0123456789")
        buf = bytearray(4)
        assert ept.readinto(buf) == 4
        assert buf == b"0123"
        big = bytearray(100)
        assert ept.readinto(big) == 6
        assert big[:6] == b"456789"
        ept.send(b"xyz")
        mv = memoryview(bytearray(8))
        assert ept.readinto(mv[2:]) == 3
        assert bytes(mv[2:5]) == b"xyz"
        expect_raises(TypeError, ept.readinto, b"immutable")


def test_fileno_poll():
    with Session() as s:
        ept, rp = _queue_session(s)
        fd = ept.fileno()
        assert isinstance(fd, int) and fd >= 0
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(0) == []  # nothing queued
        ept.send(b"ping")
        ev = p.poll(2000)
        assert len(ev) == 1 and ev[0][1] & select.POLLIN, ev
        assert p.poll(0) != []  # level-triggered: readable until read
        assert ept.recv(timeout=0) == b"ping"
        assert p.poll(0) == []
        # two messages: stays readable until both are taken
        ept.send(b"a")
        ept.send(b"b")
        _wait_held(2)
        assert len(p.poll(0)) == 1
        assert ept.recv(timeout=2000) == b"a"
        assert p.poll(0) != []
        assert ept.recv(timeout=2000) == b"b"
        assert p.poll(0) == []
        p.unregister(fd)
