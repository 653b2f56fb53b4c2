# CPython only: the memoryview a zero_copy=True callback gets, and unraisable reports.
import gc
import sys

import amptest
import openamp
from amptest import BENCH, Collector, Session, wait_ready


def test_data_kept_past_the_callback_raises():
    kept = []

    def cb(src, data):
        kept.append(data)
        kept.append(bytes(data))  # a copy made inside is fine

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb, zero_copy=True)
        ept.send(b"secret")
        assert amptest.wait_until(lambda: len(kept) == 2, 2)
        view, copy = kept
        assert copy == b"secret"
        for use in (bytes, len, lambda v: v[0], lambda v: v.tobytes(), lambda v: v[1:3]):
            amptest.expect_raises(ValueError, use, view)
        amptest.quiescent()  # the buffer went back when the callback returned


def test_buffer_object_kept_past_the_callback_refuses():
    # data.obj is the object exporting the shared buffer: a new view of
    # it after the callback is refused
    kept = []

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, lambda src, data: kept.append(data.obj), zero_copy=True)
        ept.send(b"secret")
        assert amptest.wait_until(lambda: kept, 2)
        e = amptest.expect_raises(BufferError, memoryview, kept[0])
        amptest.readable(e, "given back")
        amptest.expect_raises(BufferError, bytes, kept[0])
        amptest.quiescent()  # the buffer went back when the callback returned


def test_data_is_read_only():
    errors = []

    def cb(src, data):
        assert data.readonly
        try:
            data[0] = 0
        except TypeError as e:
            errors.append(e)

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb, zero_copy=True)
        ept.send(b"ro")
        assert amptest.wait_until(lambda: errors, 2)


def test_a_kept_slice_holds_the_buffer_until_dropped():
    kept = []

    def cb(src, data):
        kept.append(data[2:6])

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb, zero_copy=True)
        ept.send(b"01234567")
        assert amptest.wait_until(lambda: kept, 2)
        assert amptest.wait_until(lambda: amptest.stats()["rx_held"] == 1, 1)
        assert bytes(kept[0]) == b"2345"  # still valid: the buffer is held for it
        ept.send(b"other")  # other messages are not disturbed
        assert amptest.wait_until(lambda: len(kept) == 2, 2)
        assert bytes(kept[0]) == b"2345" and bytes(kept[1]) == b"her"
        kept.clear()
        gc.collect()
        amptest.quiescent()


def test_a_slice_kept_across_a_restart_is_safe_and_holds_nothing():
    # (README, callback `data`) The buffer a kept slice views goes back
    # with the link when the remote stops: the slice then reads what the
    # new link puts there - it is not tracked, the bytes are not its
    # message's - but it stays readable (the memory stays mapped), and
    # dropping it gives nothing back twice: the new link's buffers are all
    # accounted for.
    kept = []
    echoes = Collector()

    def cb(src, data):
        if not kept:
            kept.append(data[2:6])
        echoes(src, data)

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb, zero_copy=True)
        ept.send(b"01234567")
        assert amptest.wait_until(lambda: kept, 2)
        assert bytes(kept[0]) == b"2345"
        assert amptest.stats()["rx_held"] == 1  # the slice holds its buffer
        rp.stop()
        rp.start()
        wait_ready(ept)
        assert amptest.stats()["rx_held"] == 0  # it went with the old link
        for i in range(300):  # every receive buffer of the new link, and more
            ept.send(b"%08d" % i)
        assert echoes.wait(301, 5), echoes.count
        assert len(bytes(kept[0])) == 4  # readable; its bytes are whatever is there now
        kept.clear()
        gc.collect()
        st = amptest.quiescent()
        assert st["rx_held"] == 0 and st["tx_free"] == st["tx_total"], st


def test_a_reexport_of_data_is_safe():
    kept = []

    def cb(src, data):
        kept.append(memoryview(data))  # a second export of the buffer

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb, zero_copy=True)
        ept.send(b"abcdef")
        assert amptest.wait_until(lambda: kept, 2)
        # it either still reads the message or refuses: never other bytes
        try:
            assert bytes(kept[0]) == b"abcdef"
        except ValueError:
            pass
        kept.clear()
        gc.collect()
        amptest.quiescent()


def test_callback_exception_is_unraisable():
    reports = []
    hook = sys.unraisablehook
    calls = []

    def cb(src, data):
        calls.append(bytes(data))
        if data[:1] == b"!":
            raise RuntimeError("from the callback: %s" % bytes(data).decode())

    with Session() as s:
        sys.unraisablehook = lambda u: reports.append((u.exc_type, str(u.exc_value), u.object))
        try:
            ept, rp, _ = amptest.echo_session(s, cb)
            for m in (b"!one", b"ok", b"!two", b"ok"):
                ept.send(m)
            assert amptest.wait_until(lambda: len(calls) == 4, 2)
            assert amptest.wait_until(lambda: len(reports) == 2, 1)
        finally:
            sys.unraisablehook = hook
        assert calls == [b"!one", b"ok", b"!two", b"ok"]
        assert reports == [(RuntimeError, "from the callback: !one", cb),
                           (RuntimeError, "from the callback: !two", cb)]
        amptest.quiescent()


def test_ns_callback_exception_is_unraisable():
    reports = []
    hook = sys.unraisablehook
    announced = []

    def ns(addr, name):
        announced.append(name)
        raise KeyError(name)

    with Session() as s:
        sys.unraisablehook = lambda u: reports.append(u.exc_type)
        try:
            s.ns_callback(ns)
            rp = s.remote(amptest.BENCH_PEER)
            assert amptest.wait_until(lambda: reports, 2)
            rp.stop()
            rp.start()  # announced again: the callback still runs
            assert amptest.wait_until(lambda: len(reports) == 2, 2)
        finally:
            sys.unraisablehook = hook
        assert announced == [BENCH, BENCH]
        assert reports == [KeyError, KeyError]
        got = Collector()
        ept = s.endpoint(BENCH, got)  # the announcement is remembered
        wait_ready(ept, 2)
        ept.send(b"Ex")
        assert got.wait(1)


def test_dropped_endpoint_is_deinitialised():
    # dropping every reference to an endpoint with a callback deinits it
    # (its address is free again) and never calls a dead callback
    with Session() as s:
        cb = Collector()
        ept = openamp.Endpoint(amptest.ECHO, cb, src=0x800)
        s.remote()
        wait_ready(ept)
        ept.send(b"x")
        assert cb.wait(1)
        del ept
        gc.collect()
        again = s.endpoint("reuse", None, src=0x800)
        assert again.src == 0x800
