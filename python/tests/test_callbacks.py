# Endpoint callbacks and the new-service callback.
import struct
import sys
import time

import amptest
import openamp
from amptest import BENCH, ECHO, Collector, Session, wait_ready

N_FLOOD = 100000


def test_callback_arguments():
    seen = []

    def cb(src, data):
        # data is the message, readable during the callback
        seen.append((src, type(data), len(data), data[0], bytes(data), bytes(data[1:3])))

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb)
        ept.send(b"xyzw")
        assert amptest.wait_until(lambda: seen, 2)
        src, t, n, first, whole, part = seen[0]
        assert src == ept.dest and isinstance(src, int)
        assert t is bytearray  # a copy, as upstream's type (zero_copy=True: a memoryview)
        assert (n, first, whole, part) == (4, ord("x"), b"xyzw", b"yz")


def test_callbacks_run_during_sleep():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        for i in range(50):
            ept.send(b"s")
        time.sleep(0.5)  # one sleep: the echoes are delivered meanwhile
        assert cb.count == 50, "%d of 50 delivered during sleep" % cb.count
        amptest.quiescent()


def test_callbacks_run_during_a_busy_loop():
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        for i in range(50):
            ept.send(b"b")
        t0 = amptest.now_ms()
        spins = 0
        while cb.count < 50 and amptest.elapsed_ms(t0) < 5000:
            spins += 1  # no sleep, no call into openamp
        assert cb.count == 50, "%d of 50 delivered during a busy loop" % cb.count
        assert spins > 0
        amptest.quiescent()


def test_exception_in_callback_does_not_stop_delivery():
    state = {"n": 0}
    hook = getattr(sys, "unraisablehook", None)
    reported = []

    def cb(src, data):
        state["n"] += 1
        if data[0] == ord("!"):
            raise ValueError("raised on purpose")

    with Session() as s:
        if hook is not None:  # CPython: keep the report quiet, and count it
            sys.unraisablehook = lambda u: reported.append(u.exc_type)
        try:
            ept, rp, _ = amptest.echo_session(s, cb)
            for i in range(30):
                ept.send(b"!" if i % 3 == 0 else b".")
            assert amptest.wait_until(lambda: state["n"] == 30, 3), "%d of 30 callbacks ran" % state["n"]
            amptest.quiescent()  # the buffers went back all the same
        finally:
            if hook is not None:
                sys.unraisablehook = hook
        if hook is not None:
            assert reported == [ValueError] * 10, reported


def test_new_service_callback_with_explicit_dest():
    # no local endpoint of that name: the announcement goes to the callback,
    # and an endpoint made there with dest=addr talks to the service
    with Session() as s:
        announced = []
        made = []

        def ns(addr, name):
            announced.append((addr, name))
            if name == BENCH:
                made.append(s.adopt(openamp.Endpoint(name, got, dest=addr)))

        got = Collector()
        s.ns_callback(ns)
        s.remote(amptest.BENCH_PEER)
        assert amptest.wait_until(lambda: made, 3), "no announcement: %r" % (announced,)
        addr, name = announced[0]
        assert name == BENCH and isinstance(addr, int) and addr != openamp.ENDPOINT_ADDR_ANY
        ept = made[0]
        assert ept.is_ready() and ept.dest == addr
        for i in range(10):
            msg = ("E%d" % i).encode()
            assert ept.send(msg) == len(msg)
        assert got.wait(10, 2)
        assert got.msgs == [("E%d" % i).encode() for i in range(10)]
        assert got.srcs == [addr] * 10
        assert announced == [(addr, name)]  # once


def test_new_service_callback_endpoint_made_afterwards():
    with Session() as s:
        announced = []
        s.ns_callback(lambda addr, name: announced.append((addr, name)))
        s.remote(amptest.BENCH_PEER)
        assert amptest.wait_until(lambda: announced, 3)
        addr, name = announced[0]
        got = Collector()
        ept = s.endpoint(name, got, dest=addr)
        assert ept.is_ready()
        ept.send(b"Elate")
        assert got.wait(1, 2)
        assert got.msgs == [b"Elate"]


def test_new_service_callback_not_called_for_bound_names():
    # a local endpoint registered first takes the announcement
    with Session() as s:
        announced = []
        s.ns_callback(lambda addr, name: announced.append(name))
        ept, rp, cb = amptest.echo_session(s)
        time.sleep(0.1)
        assert ECHO not in announced, announced
        ept.send(b"still echoes")
        assert cb.wait(1)


def test_new_service_callback_reset_with_none():
    with Session() as s:
        announced = []
        s.ns_callback(lambda addr, name: announced.append(name))
        openamp.new_service_callback(None)
        s.remote(amptest.BENCH_PEER)
        time.sleep(0.2)
        assert announced == []
        # without a callback, an endpoint made later still binds by name
        got = Collector()
        ept = s.endpoint(BENCH, got)
        wait_ready(ept, 2)
        ept.send(b"Eok")
        assert got.wait(1)


def test_new_service_callback_on_every_start():
    with Session() as s:
        announced = []
        s.ns_callback(lambda addr, name: announced.append(name))
        rp = s.remote(amptest.BENCH_PEER)
        assert amptest.wait_until(lambda: len(announced) == 1, 3)
        rp.stop()
        rp.start()
        assert amptest.wait_until(lambda: len(announced) == 2, 3), announced
        assert announced == [BENCH, BENCH]


def test_100k_messages_in_order():
    state = {"next": 0, "bad": None}

    def cb(src, data):
        seq = struct.unpack("<I", data)[0]
        if seq != state["next"] and state["bad"] is None:
            state["bad"] = (state["next"], seq)
        state["next"] = seq + 1

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb)
        pack = struct.pack
        send = ept.send
        before = amptest.stats()
        t0 = amptest.now_ms()
        for i in range(N_FLOOD):
            send(pack("<I", i), -1, -1, 5000)
            if i & 1023 == 1023:  # bound the whole run, not only each send
                ms = amptest.elapsed_ms(t0)
                assert ms < 30000, "too slow: %d sent, %d echoed in %d ms" % (i + 1, state["next"], ms)
        assert amptest.wait_until(lambda: state["next"] >= N_FLOOD, 30), "stuck at %d" % state["next"]
        ms = max(amptest.elapsed_ms(t0), 1)
        print("100k: %d messages echoed through Python callbacks in %d ms: %d msg/s"
              % (N_FLOOD, ms, N_FLOOD * 1000 // ms))
        assert state["bad"] is None, "expected %d, got %d" % state["bad"]
        assert state["next"] == N_FLOOD
        amptest.quiescent()
        if before is not None:  # nothing dropped for want of room on the way
            st = amptest.stats()
            assert st["lost"] == before["lost"] and st["dropped"] == before["dropped"], st
        assert ms < 60000


def test_send_from_inside_the_callback():
    # ping-pong: each echo is answered from the callback itself
    state = {"n": 0, "err": None}

    def cb(src, data):
        state["n"] += 1
        if state["n"] < 200:
            try:
                ept.send(data)  # the received buffer, sent straight back
            except Exception as e:
                state["err"] = e

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb)
        ept.send(b"ping-pong")
        assert amptest.wait_until(lambda: state["n"] >= 200 or state["err"], 5), state
        assert state["err"] is None, repr(state["err"])
        time.sleep(0.05)
        assert state["n"] == 200
        amptest.quiescent()


def _shutdown_from_a_callback():
    """openamp's _shutdown() from a callback: True if it closed the device,
    False if the module refuses it there (CPython: RuntimeError)."""
    try:
        getattr(openamp, "_openamp", openamp)._shutdown()
        return True
    except RuntimeError:
        return False


def test_shutdown_inside_a_callback():
    # MicroPython: the device closed under the loop that runs the callbacks,
    # with more echoes or announcements queued behind: none of them is
    # delivered, and the program goes on with a new device. CPython refuses
    # it there, and delivery goes on.
    hits = []
    closed = []

    def cb(src, data):
        hits.append(bytes(data))
        if len(hits) == 1:
            closed.append(_shutdown_from_a_callback())

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb)
        try:
            for i in range(5):
                ept.send(b"m%d" % i)
        except OSError:
            assert closed == [True]  # the callback closed the device
        assert amptest.wait_until(lambda: closed and (closed[0] or len(hits) == 5), 5), hits
        time.sleep(0.1)
        assert hits == ([b"m0"] if closed[0] else [b"m%d" % i for i in range(5)]), (closed, hits)
    seen = []

    def ns(addr, name):
        seen.append(_shutdown_from_a_callback())

    with Session() as s:
        s.ns_callback(ns)
        s.remote(amptest.BENCH_PEER)
        assert amptest.wait_until(lambda: seen, 3)
        time.sleep(0.1)
        assert seen[0] == closed[0] and (len(seen) == 1 or not seen[0]), seen
    with Session() as s:
        ept, rp, got = amptest.echo_session(s)
        ept.send(b"after")
        assert got.wait(1, 2)
        assert got.msgs == [b"after"]


def test_deinit_inside_the_callback():
    state = {"n": 0}

    def cb(src, data):
        state["n"] += 1
        ept.deinit()

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb)
        for i in range(5):
            try:
                ept.send(b"d")
            except OSError as e:  # the first echo's callback ran since the last send
                assert e.errno == amptest.EBADF and state["n"] == 1, repr(e)
                break
            if state["n"]:
                break
        time.sleep(0.2)
        assert state["n"] == 1  # nothing delivered after deinit
        amptest.expect_raises(OSError, ept.send, b"x", errno=amptest.EBADF)
        amptest.quiescent()  # what was queued for it went back


def test_stop_inside_the_callback():
    state = {"n": 0}

    def cb(src, data):
        state["n"] += 1
        if state["n"] == 3:
            rp.stop()

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb)
        for i in range(10):
            try:
                ept.send(b"s", timeout=1000)
            except OSError as e:  # the stop overtook us
                assert e.errno in (amptest.ENOTCONN, amptest.ECONNRESET), repr(e)
                break
        amptest.wait_state(rp, "stopped")
        time.sleep(0.1)
        assert 3 <= state["n"] <= 10
        rp.start()
        wait_ready(ept)
        n = state["n"]
        ept.send(b"again")
        assert amptest.wait_until(lambda: state["n"] == n + 1, 2)
        amptest.quiescent()
