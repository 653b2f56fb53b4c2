# A drop-in for MicroPython's own openamp module (extmod/modopenamp.c):
# callback data is a bytearray, ENDPOINT_ADDR_ANY works as an argument on
# every port, a non-callable new-service callback is a ValueError, the repr
# names the endpoint once, SystemExit and KeyboardInterrupt from a callback
# stop a MicroPython program (CPython runs callbacks on a thread of their
# own: there they are reported and delivery goes on), and a wake-up is never
# lost when the scheduler's queue is full.
import sys
import time

import amptest
import openamp
from amptest import ECHO, Session


def test_callback_data_is_a_bytearray_like_upstream():
    seen = []

    def cb(src, data):
        seen.append((type(data), repr(data), "%s" % (data,), data.decode(), data.startswith(b"da"), data))

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb)
        ept.send("data")  # the spec's example
        assert amptest.wait_until(lambda: seen, 2)
        t, r, printed, text, starts, kept = seen[0]
        assert t is bytearray, t
        assert r == "bytearray(b'data')", r
        assert printed == "bytearray(b'data')", printed  # what print() shows
        assert text == "data" and starts is True
        ept.send(b"other")  # a copy: kept past the callback, it still reads the same
        assert amptest.wait_until(lambda: len(seen) == 2, 2)
        assert kept == bytearray(b"data") and seen[1][5] == bytearray(b"other")
        kept.extend(b"-grown")  # it is the program's own: resizing it is safe
        assert kept == bytearray(b"data-grown")
        amptest.quiescent()  # and the buffers went back at once


def test_zero_copy_callback_data_is_a_view_valid_during_the_callback():
    seen = []

    def cb(src, data):
        seen.append((type(data), bytes(data), bytes(data[1:3]), data))

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb, zero_copy=True)
        ept.send(b"xyzw")
        assert amptest.wait_until(lambda: seen, 2)
        t, whole, part, kept = seen[0]
        assert t is memoryview
        assert (whole, part) == (b"xyzw", b"yz")
        ept.send(b"abcd")  # reuses the buffer: the kept view must not show it
        assert amptest.wait_until(lambda: len(seen) == 2, 2)
        try:
            after = bytes(kept)  # MicroPython: emptied
        except ValueError:
            after = b""  # CPython: released
        assert after == b"", after
        amptest.quiescent()


def test_endpoint_addr_any_is_accepted_everywhere():
    assert openamp.ENDPOINT_ADDR_ANY == 0xFFFFFFFF
    any_ = openamp.ENDPOINT_ADDR_ANY
    with Session() as s:
        cb = amptest.Collector()
        ept = s.endpoint(ECHO, cb, src=any_, dest=any_)
        s.remote()
        amptest.wait_ready(ept)
        assert ept.src != any_ and ept.dest != any_  # bound to real addresses
        assert ept.send(b"a1", src=any_, dest=any_) == 2
        assert ept.send(b"a2", -1, -1) == 2  # upstream's value on 32-bit ports
        assert cb.wait(2), cb.msgs
        assert cb.msgs == [b"a1", b"a2"], cb.msgs
        e2 = s.endpoint("other-name", None, -1, -1)  # positional, upstream's 32-bit value
        assert e2.src != any_


def test_new_service_callback_not_callable_is_a_value_error():
    try:
        for bad in (5, "not callable", b"x"):
            amptest.expect_raises(ValueError, openamp.new_service_callback, bad)
        assert openamp.new_service_callback(None) is None
    finally:
        openamp.new_service_callback(None)


def test_repr_names_the_endpoint_once():
    with Session() as s:
        ept = s.endpoint(ECHO, lambda src, data: None)
        r = repr(ept)
        assert r.startswith("<Endpoint 'vuart-channel' src="), r
        assert r.count("Endpoint") == 1, r
        ept.deinit()
        assert repr(ept) == "<Endpoint 'vuart-channel' deinitialised>", repr(ept)


def _raise_from_callback(exc):
    """Send 3 messages whose first callback raises exc. Returns what the
    main flow caught (None if nothing) and the payloads delivered."""
    got = []
    caught = []

    def cb(src, data):
        got.append(bytes(data))
        if data == b"m0":
            raise exc

    def send3(src, data):
        # from a callback: m0's cannot run before all 3 are sent, and what
        # it raises reaches the main flow inside the try below
        for i in range(3):
            ept.send(b"m%d" % i)

    hook = getattr(sys, "unraisablehook", None)
    reported = []
    with Session() as s:
        if hook is not None:  # CPython: the thread that runs callbacks reports it
            sys.unraisablehook = lambda u: reported.append(u.exc_type)
        try:
            ept, rp, _ = amptest.echo_session(s, cb)
            trigger = s.endpoint("", send3, dest=ept.dest)
            try:
                trigger.send(b"go")  # its echo's callback sends m0..m2
                t0 = amptest.now_ms()
                while len(got) < 3 and amptest.elapsed_ms(t0) < 3000:
                    time.sleep(0.002)
            except (SystemExit, KeyboardInterrupt) as e:
                caught.append(e)
            # the program goes on: the other messages still arrive
            assert amptest.wait_until(lambda: len(got) == 3, 3), got
            amptest.quiescent()
        finally:
            if hook is not None:
                sys.unraisablehook = hook
    return caught, got, reported


def test_system_exit_in_a_callback_stops_a_micropython_program():
    caught, got, reported = _raise_from_callback(SystemExit(7))
    assert got == [b"m0", b"m1", b"m2"], got
    if amptest.MICROPYTHON:
        assert len(caught) == 1 and isinstance(caught[0], SystemExit), caught
        assert caught[0].args == (7,), caught[0].args
    else:
        assert caught == [] and reported == [SystemExit], (caught, reported)


def test_keyboard_interrupt_in_a_callback_stops_a_micropython_program():
    caught, got, reported = _raise_from_callback(KeyboardInterrupt())
    assert got == [b"m0", b"m1", b"m2"], got
    if amptest.MICROPYTHON:
        assert len(caught) == 1 and isinstance(caught[0], KeyboardInterrupt), caught
    else:
        assert caught == [] and reported == [KeyboardInterrupt], (caught, reported)


def test_wakeup_not_lost_while_the_scheduler_queue_is_full():
    # MicroPython: a program keeps micropython.schedule's short queue full;
    # every message must still reach its callback promptly. (CPython has
    # no such queue: there the same messages simply arrive.)
    state = {"run": True, "n": 0}
    try:
        import micropython

        def filler(_):
            state["n"] += 1
            if state["run"]:
                micropython.schedule(filler, None)

        schedule = micropython.schedule
    except (ImportError, AttributeError):
        schedule = None
    got = []
    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, lambda src, data: got.append(bytes(data)))
        try:
            if schedule is not None:
                for _ in range(64):
                    try:
                        schedule(filler, None)
                    except RuntimeError:  # full
                        break
                else:
                    assert False, "the scheduler queue never filled"
            for i in range(10):
                ept.send(b"w%d" % i)
                t0 = amptest.now_ms()
                while len(got) <= i and amptest.elapsed_ms(t0) < 1000:
                    pass  # busy: no sleep, no call into openamp
                assert len(got) == i + 1, "message %d not delivered within 1 s (queue full)" % i
        finally:
            state["run"] = False
            time.sleep(0.05)  # let the fillers drain
        assert got == [b"w%d" % i for i in range(10)]
        if schedule is not None:
            assert state["n"] > 0  # the fillers did run alongside
        amptest.quiescent()
