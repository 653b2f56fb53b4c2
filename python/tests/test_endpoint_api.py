# Endpoint: every constructor and method form the spec documents.
import amptest
import openamp
from amptest import ECHO, Collector, Session, wait_ready


def _echo_once(ept, cb, payload, *args, **kw):
    """Send payload (with extra send() arguments), check the echo."""
    cb.clear()
    n = ept.send(payload, *args, **kw)
    want = payload.encode() if isinstance(payload, str) else bytes(payload)
    assert n == len(want), "send returned %r for %d bytes" % (n, len(want))
    assert cb.wait(1), "no echo of %r" % (want,)
    assert cb.msgs == [want], cb.msgs
    return n


def test_endpoint_callback_positional():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s, Collector())
        _echo_once(ept, cb, b"positional")


def test_endpoint_callback_keyword():
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, callback=cb)
        s.remote()
        wait_ready(ept)
        _echo_once(ept, cb, b"keyword")
        assert ept.name == ECHO


def test_endpoint_callback_none():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote()
        wait_ready(ept)
        assert ept.send(b"nobody listens") == 14
        # with no callback the echo is queued for recv(), not lost
        assert ept.recv(timeout=2000) == b"nobody listens"
        amptest.quiescent()


def test_endpoint_src_dest_keywords():
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb, src=0x600, dest=openamp.ENDPOINT_ADDR_ANY)
        assert ept.src == 0x600
        assert ept.dest == openamp.ENDPOINT_ADDR_ANY
        assert not ept.is_ready()
        s.remote()
        wait_ready(ept)
        assert ept.src == 0x600 and ept.dest != openamp.ENDPOINT_ADDR_ANY
        _echo_once(ept, cb, b"src by keyword")
        assert cb.srcs == [ept.dest]


def test_endpoint_src_dest_positional():
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb, 0x601, openamp.ENDPOINT_ADDR_ANY)
        assert ept.src == 0x601
        s.remote()
        wait_ready(ept)
        _echo_once(ept, cb, b"src positional")


def test_endpoint_explicit_dest_registered_early():
    # dest given up front (the remote's first dynamic address): ready once
    # the link is up, whatever the announcement says
    with Session() as s:
        probe = s.endpoint(ECHO, None)
        rp = s.remote()
        wait_ready(probe)
        remote_addr = probe.dest
        probe.deinit()
        rp.shutdown()

        cb = Collector()
        ept = s.endpoint("some-other-name", cb, dest=remote_addr)
        assert ept.dest == remote_addr
        assert not ept.is_ready()  # no link yet
        s.remote()
        wait_ready(ept)
        assert ept.dest == remote_addr
        _echo_once(ept, cb, b"explicit dest")


def test_is_ready_follows_the_link():
    with Session() as s:
        ept = s.endpoint(ECHO, Collector())
        assert ept.is_ready() is False
        rp = s.remote(start=False)
        assert ept.is_ready() is False
        rp.start()
        wait_ready(ept)
        assert ept.is_ready() is True
        rp.stop()
        assert ept.is_ready() is False
        rp.start()
        wait_ready(ept)
        rp.shutdown()
        assert ept.is_ready() is False


def test_send_data_types():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        _echo_once(ept, cb, "a str")
        _echo_once(ept, cb, "\u00e9t\u00e9")  # str goes as UTF-8
        _echo_once(ept, cb, b"bytes")
        _echo_once(ept, cb, bytearray(b"a bytearray"))
        _echo_once(ept, cb, memoryview(b"xx a memoryview xx")[3:-3])
        _echo_once(ept, cb, bytes(range(256)) + bytes(amptest.MAX_PAYLOAD - 256))  # a full buffer
        amptest.quiescent()


def test_send_src_dest_timeout_keywords():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        _echo_once(ept, cb, b"k1", src=-1, dest=-1, timeout=-1)
        _echo_once(ept, cb, b"k2", src=ept.src, dest=ept.dest, timeout=1000)
        _echo_once(ept, cb, b"k3", timeout=0)
        _echo_once(ept, cb, b"k4", dest=ept.dest)
        _echo_once(ept, cb, b"k5", src=ept.src)


def test_send_src_dest_timeout_positional():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        _echo_once(ept, cb, b"p1", -1)
        _echo_once(ept, cb, b"p2", -1, -1)
        _echo_once(ept, cb, b"p3", -1, -1, -1)
        _echo_once(ept, cb, b"p4", ept.src, ept.dest, 500)


def test_send_explicit_src_redirects_the_reply():
    # the echo goes back to the message's source address: another
    # endpoint of ours gets it (and binds to the sender, as OpenAMP does)
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        other_cb = Collector()
        other = s.endpoint("elsewhere", other_cb)
        assert not other.is_ready()
        assert ept.send(b"for the other one", src=other.src) == 17
        assert other_cb.wait(1)
        assert other_cb.msgs == [b"for the other one"]
        assert other_cb.srcs == [ept.dest]
        assert cb.count == 0
        assert other.is_ready() and other.dest == ept.dest


def test_send_explicit_dest_nobody_there():
    # a message to an address the remote does not have is sent and dropped
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        assert ept.send(b"to nowhere", dest=0x7777) == 10
        assert not cb.wait(1, 0.2)
        _echo_once(ept, cb, b"still fine")


def test_send_returns_sizes():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        for n in (0, 1, 2, 100, amptest.MAX_PAYLOAD - 1, amptest.MAX_PAYLOAD):
            cb.clear()
            assert ept.send(bytes(n)) == n
            assert cb.wait(1), "no echo of %d bytes" % n
            assert cb.msgs == [bytes(n)]


def test_send_empty_is_prompt():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        t0 = amptest.now_ms()
        assert ept.send(b"") == 0
        assert ept.send("") == 0
        assert amptest.elapsed_ms(t0) < 1000
        assert cb.wait(2, 2)
        assert cb.msgs == [b"", b""]


def test_deinit():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        assert ept.deinit() is None
        assert ept.deinit() is None  # twice is harmless
        e = amptest.expect_raises(OSError, ept.is_ready, errno=amptest.EBADF)
        amptest.readable(e, "deinit")
        amptest.expect_raises(OSError, ept.send, b"x", errno=amptest.EBADF)
        amptest.expect_raises(OSError, ept.send, b"x", timeout=0, errno=amptest.EBADF)
        amptest.quiescent()


def test_deinit_frees_the_address():
    with Session() as s:
        a = s.endpoint("addr-reuse", None, src=0x700)
        amptest.expect_raises(OSError, openamp.Endpoint, "addr-reuse", None, src=0x700,
                              errno=amptest.EADDRINUSE)
        a.deinit()
        b = s.endpoint("addr-reuse", None, src=0x700)
        assert b.src == 0x700


def test_deinit_and_rebind():
    # a new endpoint with the same name binds again to the remote's
    # service, which is still there: at once, as the library remembers it
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        remote = ept.dest
        ept.deinit()
        for i in range(3):
            cb2 = Collector()
            again = s.endpoint(ECHO, cb2)
            assert amptest.wait_until(again.is_ready, 2), "round %d: %r did not bind again" % (i, again)
            assert again.dest == remote
            _echo_once(again, cb2, ("rebound %d" % i).encode())
            again.deinit()
        amptest.quiescent()


def test_many_endpoints_one_remote():
    # endpoints that are not the announced one still exchange with it by
    # explicit dest
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        cbs = [Collector() for _ in range(8)]
        epts = [s.endpoint("extra-%d" % i, cbs[i], dest=ept.dest) for i in range(8)]
        for i, e in enumerate(epts):
            assert e.is_ready()
            assert e.send(("from %d" % i).encode()) == len(("from %d" % i).encode())
        for i in range(8):
            assert cbs[i].wait(1)
            assert cbs[i].msgs == [("from %d" % i).encode()]
        assert cb.count == 0
        amptest.quiescent()
