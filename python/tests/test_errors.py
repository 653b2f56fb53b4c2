# Errors: the right exception, the right errno, a message in words.
import amptest
import openamp
from amptest import ECHO, Session, expect_raises, readable, wait_ready, wait_state

NOT_AN_ELF = "/tmp/amptest-not-an-elf.txt"


def _cb(src, data):
    pass


def test_send_not_ready_is_enotconn():
    with Session() as s:
        ept = s.endpoint(ECHO, _cb)
        e = expect_raises(OSError, ept.send, b"x", errno=amptest.ENOTCONN)
        readable(e, "not ready")
        expect_raises(OSError, ept.send, b"x", timeout=0, errno=amptest.ENOTCONN)
        expect_raises(OSError, ept.send, b"x", timeout=100, errno=amptest.ENOTCONN)
        rp = s.remote(start=False)  # loaded, not started
        expect_raises(OSError, ept.send, b"x", errno=amptest.ENOTCONN)
        rp.start()
        wait_ready(ept)
        rp.stop()  # stopped on purpose: not a crash
        expect_raises(OSError, ept.send, b"x", errno=amptest.ENOTCONN)


def test_missing_firmware_is_enoent():
    e = expect_raises(amptest.FileNotFoundError, openamp.RemoteProc, "/nonexistent/fw.elf",
                      errno=amptest.ENOENT)
    readable(e, "/nonexistent/fw.elf")
    expect_raises(OSError, openamp.RemoteProc, amptest.fw("no-such.elf"), errno=amptest.ENOENT)


def test_not_an_elf_is_enoexec():
    f = open(NOT_AN_ELF, "w")
    f.write("this is not firmware\n" * 10)
    f.close()
    e = expect_raises(OSError, openamp.RemoteProc, NOT_AN_ELF, errno=amptest.ENOEXEC)
    readable(e, "ELF")
    # an ELF, but a Linux program, not an image for the core
    e = expect_raises(OSError, openamp.RemoteProc, "/bin/ls", errno=amptest.ENOEXEC)
    readable(e)
    # and a failed load leaves nothing behind: a good image loads next
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        assert ept.send(b"ok") == 2
        assert cb.wait(1)


def test_message_too_large_is_emsgsize_and_nothing_is_sent():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        before = amptest.stats()
        big = bytes(amptest.MAX_PAYLOAD + 1)  # 497 with 512-byte buffers
        e = expect_raises(OSError, ept.send, big, errno=amptest.EMSGSIZE)
        readable(e, "larger than one buffer")
        expect_raises(OSError, ept.send, big, timeout=0, errno=amptest.EMSGSIZE)
        expect_raises(OSError, ept.send, "x" * 4096, errno=amptest.EMSGSIZE)
        expect_raises(OSError, ept.send, "\u00e9" * 249, errno=amptest.EMSGSIZE)  # 498 bytes of UTF-8
        assert not cb.wait(1, 0.2), "something was sent: %r" % (cb.msgs,)
        if before is not None:
            assert amptest.stats()["tx"] == before["tx"]
        assert ept.send(bytes(amptest.MAX_PAYLOAD)) == amptest.MAX_PAYLOAD


def test_remote_crash_is_econnreset():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s, image=amptest.CRASH)
        assert ept.send(b"segv") == 4
        wait_state(rp, "crashed")
        assert not ept.is_ready()
        e = expect_raises(amptest.ConnectionResetError, ept.send, b"x", errno=amptest.ECONNRESET)
        readable(e, "crashed", "segmentation")
        expect_raises(OSError, ept.send, b"x", timeout=0, errno=amptest.ECONNRESET)


def test_send_timeout_is_etimedout():
    # crash.elf "spin": the remote loops forever and never takes a buffer
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s, image=amptest.CRASH)
        ept.send(b"spin")
        sent = 0
        t0 = amptest.now_ms()
        while True:
            try:
                ept.send(b"fill", timeout=100)
            except OSError as e:
                assert e.errno == amptest.ETIMEDOUT, repr(e)
                break
            sent += 1
            assert sent < 1000, "the remote keeps taking buffers"
        assert sent > 0  # the send buffers ran out first
        t0 = amptest.now_ms()
        e = expect_raises(amptest.TimeoutError, ept.send, b"x", timeout=200, errno=amptest.ETIMEDOUT)
        took = amptest.elapsed_ms(t0)
        assert 150 <= took < 2000, "timeout=200 took %d ms" % took
        readable(e, "timed out")
        e = expect_raises(amptest.BlockingIOError, ept.send, b"x", timeout=0, errno=amptest.EAGAIN)
        readable(e)
        assert rp.state == "running"
        # stop() releases it: sends fail at once, restart echoes again
        rp.stop()
        expect_raises(OSError, ept.send, b"x", timeout=0, errno=amptest.ENOTCONN)
        rp.start()
        wait_ready(ept)
        cb.clear()
        assert ept.send(b"back") == 4
        assert cb.wait(1)
        assert cb.msgs == [b"back"]


def test_endpoint_argument_errors():
    with Session() as s:
        expect_raises(ValueError, openamp.Endpoint, "x" * 32, _cb)
        expect_raises(ValueError, openamp.Endpoint, "\u00e9" * 16, _cb)  # 32 bytes of UTF-8
        ok = s.adopt(openamp.Endpoint("y" * 31, _cb))  # 31 bytes: the longest
        assert ok.name == "y" * 31
        expect_raises(TypeError, openamp.Endpoint, 42, _cb)
        expect_raises(TypeError, openamp.Endpoint, b"bytes-name", _cb)
        expect_raises(TypeError, openamp.Endpoint, ECHO, 5)
        expect_raises(TypeError, openamp.Endpoint, ECHO, "not callable")
        expect_raises(ValueError, openamp.Endpoint, ECHO, _cb, src=-5)
        expect_raises(ValueError, openamp.Endpoint, ECHO, _cb, -5)
        expect_raises(ValueError, openamp.Endpoint, ECHO, _cb, dest=-5)
        expect_raises(ValueError, openamp.Endpoint, ECHO, _cb, src=1 << 32)
        expect_raises(ValueError, openamp.Endpoint, ECHO, _cb, src=53)  # the name service's
        expect_raises(TypeError, openamp.Endpoint, ECHO, _cb, src="1")
        expect_raises(TypeError, openamp.Endpoint)
        expect_raises(TypeError, openamp.Endpoint, ECHO, _cb, 1, 2, 3)


def test_send_argument_errors():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        expect_raises(ValueError, ept.send, b"x", src=-5)
        expect_raises(ValueError, ept.send, b"x", -5)
        expect_raises(ValueError, ept.send, b"x", dest=-2)
        expect_raises(ValueError, ept.send, b"x", -1, -2)
        expect_raises(ValueError, ept.send, b"x", dest=1 << 32)
        e = expect_raises(ValueError, ept.send, b"x", timeout=-2)
        readable(e, "timeout")
        expect_raises(ValueError, ept.send, b"x", -1, -1, -2)
        expect_raises(TypeError, ept.send, b"x", timeout=1.5)
        expect_raises(TypeError, ept.send, b"x", src="1")
        expect_raises(TypeError, ept.send, 5)
        expect_raises(TypeError, ept.send, None)
        expect_raises(TypeError, ept.send, [1, 2])
        expect_raises(TypeError, ept.send)
        assert not cb.wait(1, 0.1), "a bad call sent something: %r" % (cb.msgs,)
        assert ept.send(b"fine") == 4
        assert cb.wait(1)


def test_new_service_callback_argument_errors():
    try:
        expect_raises(ValueError, openamp.new_service_callback, 5)  # as upstream
        expect_raises(ValueError, openamp.new_service_callback, "not callable")
        expect_raises(TypeError, openamp.new_service_callback)
        assert openamp.new_service_callback(None) is None
    finally:
        openamp.new_service_callback(None)


def test_remoteproc_argument_errors():
    expect_raises(TypeError, openamp.RemoteProc, 1.5)
    expect_raises(TypeError, openamp.RemoteProc, None)
    expect_raises(TypeError, openamp.RemoteProc)
    expect_raises(ValueError, openamp.RemoteProc, -1)
