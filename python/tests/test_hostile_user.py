# A hostile user's arguments: what the API must refuse with the error the
# README names (ValueError for a value out of range, naming it), on every
# platform. CPython-only ones are in test_cpython_hostile_user.py.
import amptest
import openamp
from amptest import ECHO, Session, expect_raises, readable

HUGE = 1 << 64  # wider than any C integer the module converts to


def _cb(src, data):
    pass


def test_addresses_wider_than_64_bits_are_value_errors_naming_the_argument():
    with Session() as s:
        for kw, name in (({"src": HUGE}, "src"), ({"dest": HUGE << 8}, "dest"), ({"src": -HUGE}, "src")):
            e = expect_raises(ValueError, openamp.Endpoint, ECHO, _cb, **kw)
            readable(e, name, "range")
        ept, rp, cb = amptest.echo_session(s)
        for kw, name in (({"src": HUGE}, "src"), ({"dest": -HUGE}, "dest")):
            e = expect_raises(ValueError, ept.send, b"x", **kw)
            readable(e, name, "range")
        assert not cb.wait(1, 0.2), "a refused send sent something: %r" % (cb.msgs,)
        assert ept.send(b"still") == 5
        assert cb.wait(1)


def test_timeouts_wider_than_64_bits_are_value_errors():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        for t in (HUGE, -HUGE, 1 << 31):
            e = expect_raises(ValueError, ept.send, b"x", timeout=t)
            readable(e, "timeout")
        assert not cb.wait(1, 0.2), "a refused send sent something: %r" % (cb.msgs,)


def test_address_53_is_refused_as_dest_too():
    # the name service's address: a message to it would be read by the
    # remote as an announcement
    with Session() as s:
        e = expect_raises(ValueError, openamp.Endpoint, "to-ns", None, dest=53)
        readable(e, "53", "name service")
        ept, rp, cb = amptest.echo_session(s)
        before = amptest.stats()
        for kw in ({"dest": 53}, {"src": 53}):
            e = expect_raises(ValueError, ept.send, b"\0" * 40, **kw)
            readable(e, "53", "name service")
        if before is not None:
            assert amptest.stats()["tx"] == before["tx"], "a message went to address 53"
        assert ept.send(b"ok") == 2
        assert cb.wait(1)


def test_trace_index_never_wraps():
    # (from test_cpython_misc.py: MicroPython gave buffer 0 for 2**32, and
    # ValueError for -1, where CPython says ENOENT)
    with Session() as s:
        rp = s.remote(amptest.VUART)
        assert amptest.wait_until(lambda: "start" in rp.trace(0), 5)
        for i in (2**32, 2**32 + 1, 2**64, -1):
            expect_raises(OSError, rp.trace, i, errno=amptest.ENOENT)
        assert "start" in rp.trace(False)  # a bool is an int (0), as everywhere in Python


def test_remoteproc_from_an_int_and_a_path_agree_on_a_running_remote():
    # (from test_cpython_misc.py: MicroPython's RemoteProc(entry) stopped
    # the running remote and took it over, where CPython refuses)
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote(amptest.VUART)
        amptest.wait_ready(ept)
        entry = amptest.elf_entry(amptest.fw(amptest.VUART))
        for arg in (amptest.fw(amptest.VUART), entry):
            e = expect_raises(OSError, openamp.RemoteProc, arg, errno=amptest.EBUSY)
            readable(e, "running")
        assert rp.state == "running"
        ept.send(b"alive")
        assert ept.recv(timeout=5000) == b"alive"


def test_read_returns_all_that_is_queued():
    # read() (n=-1) returns all the bytes queued, readinto() fills what it
    # can: they stopped after 16 messages, whatever was queued behind them
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote()
        amptest.wait_ready(ept)
        n = 40
        for i in range(n):
            ept.send(bytes([65 + i % 26]) * 100)
        st = amptest.stats()
        if st is not None:
            assert amptest.wait_until(lambda: amptest.stats()["rx_held"] >= n, 5)
        else:
            amptest.wait_until(lambda: False, 1)  # no counters: give the echoes a second
        got = ept.read()
        assert len(got) == n * 100, "read() gave %d of %d bytes" % (len(got), n * 100)
        assert got == b"".join(bytes([65 + i % 26]) * 100 for i in range(n))
        for i in range(n):
            ept.send(b"x" * 100)
        if st is not None:
            assert amptest.wait_until(lambda: amptest.stats()["rx_held"] >= n, 5)
        buf = bytearray(n * 100 - 50)
        assert ept.readinto(buf) == len(buf)
        assert ept.read(50) == b"x" * 50


def test_an_endpoint_made_again_binds_when_the_old_one_goes():
    # The usual way to make an endpoint again: the new one is made before
    # the name lets go of the old one (or a garbage collection takes the
    # old one later). The remote's service is announced once; when the old
    # endpoint goes, the one that waits for that name must get it, as a
    # new one made afterwards would. It stays unbound for good, until
    # amp_ept_destroy() (src/amp_rpmsg.c) hands the service to it.
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        remote = ept.dest
        cb2 = amptest.Collector()
        again = s.endpoint(ECHO, cb2)
        assert not again.is_ready()  # the service is the first one's
        ept.deinit()
        assert amptest.wait_until(again.is_ready, 2), "%r never bound" % (again,)
        assert again.dest == remote
        assert again.send(b"again") == 5
        assert cb2.wait(1)
        assert cb2.msgs == [b"again"]


def test_a_name_that_is_not_utf8_is_announced_escaped():
    # A peer may announce any bytes before the NUL. The new-service
    # callback was never called for one that is not UTF-8 (the decoding
    # failed: an "unraisable" report in CPython, a printed UnicodeError in
    # MicroPython). It gets the name in ASCII, each byte above 0x7F as
    # \xNN and a backslash as \\ (else the bytes "\\xff" and the byte
    # 0xFF read the same), and the service is usable by its address; a
    # UTF-8 name comes as it is.
    with Session() as s:
        announced = []
        s.ns_callback(lambda addr, name: announced.append((addr, name)))
        s.remote(amptest.NAMES)
        assert amptest.wait_until(lambda: len(announced) == 4, 3), "announced: %r" % (announced,)
        names = sorted(name for addr, name in announced)
        # (an overlong '/' is not UTF-8 for MicroPython's module either,
        # whose interpreter would take it)
        assert names == ["amp-\\\\\\xff", "amp-\\xc0\\xaf", "amp-\\xff\\xfe-raw", "amp-caf\u00e9"], names
        for addr, name in announced:
            got = amptest.Collector()
            ept = s.endpoint(name, got, dest=addr)
            assert ept.is_ready()
            assert ept.send(b"hello " + name.encode()) > 0
            assert got.wait(1), "no echo from %r at %d" % (name, addr)
            assert got.msgs == [b"hello " + name.encode()]


def test_an_endpoint_whose_device_was_shut_down_says_eshutdown():
    # The device is closed at exit (atexit; openamp._shutdown()). An
    # endpoint the program still holds then said EBADF, "endpoint was
    # deinitialised", which the program never did; a recv() blocked in a
    # callback meanwhile said ESHUTDOWN. Every call says ESHUTDOWN now.
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        own = s.endpoint("deinit-by-hand", None)
        s.remote()
        amptest.wait_ready(ept)
        own.deinit()
        amptest.shutdown_module()
        for call, args in ((ept.send, (b"x",)), (ept.recv, ()), (ept.is_ready, ())):
            e = expect_raises(OSError, call, *args, errno=amptest.ESHUTDOWN)
            readable(e, "shut")
        # one the program deinitialised itself says so, as before
        expect_raises(OSError, own.send, b"x", errno=amptest.EBADF)
        ept.deinit()  # harmless, as twice
    # and the module is usable again afterwards (a device opened anew)
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        ept.send(b"again")
        assert cb.wait(1)


def test_errors_print_their_errno_and_words():
    # MicroPython printed an OSError whose errno its errno module has no
    # name for as a tuple: "(90, 'message larger than one buffer')". Every
    # error reads "[Errno N] ...", as CPython's do, with the errno in
    # args[0] and e.errno.
    def check(e, errno, *words):
        text = readable(e, *words)
        assert isinstance(e, OSError) and e.errno == errno and e.args[0] == errno, repr(e)
        assert text.startswith("[Errno %d] " % errno), text

    with Session() as s:
        ept = s.endpoint(ECHO, None)
        rp = s.remote()
        amptest.wait_ready(ept)
        check(expect_raises(OSError, ept.send, b"x" * (amptest.MAX_PAYLOAD + 1)), amptest.EMSGSIZE, "larger")
        check(expect_raises(OSError, openamp.RemoteProc, amptest.fw(amptest.VUART)), amptest.EBUSY, "running")
        check(expect_raises(OSError, ept.recv, timeout=0), amptest.EAGAIN, "no message")
        amptest.shutdown_module()
        check(expect_raises(OSError, ept.send, b"x"), amptest.ESHUTDOWN, "shut")


def _exc_line(e):
    # the line an uncaught exception ends with: "Name: text"
    if amptest.MICROPYTHON:
        import io
        import sys

        f = io.StringIO()
        sys.print_exception(e, f)
        return f.getvalue().rstrip("\n").split("\n")[-1]
    import traceback

    return traceback.format_exception_only(type(e), e)[-1].rstrip("\n")


def test_an_errors_type_makes_exceptions_that_print_whatever_their_arguments():
    # MicroPython's module raises an OSError subclass for an errno its errno
    # module has no name for, whose printing read args[0] and args[1]
    # without looking: str(type(e)(90)) crashed the interpreter, as would
    # an error made when memory was short (its args the empty tuple). Made
    # with any arguments, or subclassed, it reads as CPython's OSError does.
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote()
        amptest.wait_ready(ept)
        e = expect_raises(OSError, ept.send, b"x" * (amptest.MAX_PAYLOAD + 1), errno=amptest.EMSGSIZE)
    base = type(e)

    class Sub(base):
        pass

    for t in (base, Sub):
        name = t.__name__
        # (CPython reads a third argument as a file name)
        for args, texts in (((), ("",)), ((90,), ("90",)), ((90, "x", "y"), ("(90, 'x', 'y')", "[Errno 90] x: 'y'")),
                            (("text",), ("text",))):
            x = t(*args)
            text = str(x)
            assert text in texts, (name, args, text)
            r = repr(x)
            assert r.startswith(name + "(") and r.endswith(")") and repr(args[:1])[1:-2] in r, (name, args, r)
            head, _, tail = _exc_line(x).partition(": ")
            assert head.rstrip(":").endswith(name) and tail.rstrip() == text, (name, args, _exc_line(x))
            assert isinstance(x, OSError) and x.args[:2] == args[:2], (name, args, x.args)
        x = t(90, "too big")
        assert str(x).startswith("[Errno 90] ") and str(x).endswith(" too big"), (name, str(x))
        assert repr(x) == name + "(90, 'too big')", (name, repr(x))
        head, _, tail = _exc_line(x).partition(": ")
        assert head.endswith(name) and tail == str(x), (name, _exc_line(x))
        assert x.errno == 90
