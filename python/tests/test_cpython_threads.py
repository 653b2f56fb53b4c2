# CPython only: threads. Callbacks run on a thread of the library's (the
# virtual core's service thread; the kernel backend's dispatcher); blocking
# calls release the GIL and are released by the life cycle, never hang.
import os
import signal
import struct
import sys
import threading
import time

import amptest
from amptest import ECHO, Collector, Session, wait_ready


def _in_thread(fn, *args):
    """Run fn in a thread; returns (thread, box) where box gets 'result'
    or 'error', and 'ms' it took."""
    box = {}

    def run():
        t0 = time.monotonic()
        try:
            box["result"] = fn(*args)
        except BaseException as e:
            box["error"] = e
        box["ms"] = (time.monotonic() - t0) * 1000

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, box


def _spinning_remote(s, name=ECHO):
    """crash.elf made to spin (never consume) and its send buffers used up."""
    ept = s.endpoint(name, Collector())
    rp = s.remote(amptest.CRASH)
    wait_ready(ept)
    ept.send(b"spin")
    for _ in range(1000):
        try:
            ept.send(b"fill", timeout=100)
        except TimeoutError:
            return ept, rp
    raise AssertionError("the remote keeps consuming")


def test_callbacks_run_on_another_thread():
    threads = []
    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, lambda src, data: threads.append(threading.get_ident()))
        ept.send(b"x")
        assert amptest.wait_until(lambda: threads, 2)
        assert threads[0] != threading.get_ident()


def test_blocking_send_released_by_stop():
    with Session() as s:
        ept, rp = _spinning_remote(s)
        th, box = _in_thread(ept.send, b"blocked")  # timeout=-1: forever
        time.sleep(0.3)
        assert th.is_alive(), "the send did not block: %r" % box
        rp.stop()
        th.join(5)
        assert not th.is_alive(), "send still blocked after stop()"
        assert isinstance(box.get("error"), OSError), box
        assert box["error"].errno in (amptest.ECONNRESET, amptest.ENOTCONN), box


def test_blocking_send_released_by_shutdown():
    with Session() as s:
        ept, rp = _spinning_remote(s)
        th, box = _in_thread(ept.send, b"blocked", -1, -1, -1)
        time.sleep(0.2)
        assert th.is_alive(), box
        rp.shutdown()
        th.join(5)
        assert not th.is_alive(), "send still blocked after shutdown()"
        assert isinstance(box.get("error"), OSError), box
        amptest.readable(box["error"])


def test_blocking_send_released_by_deinit():
    with Session() as s:
        ept, rp = _spinning_remote(s)
        th, box = _in_thread(ept.send, b"blocked")
        time.sleep(0.2)
        assert th.is_alive(), box
        ept.deinit()
        th.join(5)
        assert not th.is_alive(), "send still blocked after deinit()"
        assert isinstance(box.get("error"), OSError), box
        # what a send after the deinit says (a send that meets the deinit
        # inside the library said EINVAL: tests/test_ampy_send_race.c)
        after = amptest.expect_raises(OSError, ept.send, b"late", errno=amptest.EBADF)
        assert box["error"].errno == amptest.EBADF, box
        assert str(box["error"]) == str(after), (box, after)


def test_blocked_send_and_recv_at_exit_say_eshutdown():
    # Exit closes the device (atexit: openamp._openamp._shutdown) while
    # daemon threads may be blocked in it. Their send said EBADF
    # ("endpoint was deinitialised", which the program never did), a
    # recv EBADF or ESHUTDOWN, by a race. Both say ESHUTDOWN, as a call
    # made afterwards does.
    with Session() as s:
        ept, rp = _spinning_remote(s)
        quiet = s.endpoint("quiet", None)
        sender, sbox = _in_thread(ept.send, b"blocked")
        receiver, rbox = _in_thread(quiet.recv)
        time.sleep(0.3)
        assert sender.is_alive() and receiver.is_alive(), (sbox, rbox)
        amptest.shutdown_module()
        sender.join(5)
        receiver.join(5)
        assert not sender.is_alive() and not receiver.is_alive(), "blocked after the device closed"
        for box in (sbox, rbox):
            assert getattr(box.get("error"), "errno", None) == amptest.ESHUTDOWN, box
            assert isinstance(box["error"], BrokenPipeError), box  # CPython's class for it
            amptest.readable(box["error"], "shut")


_EXIT_SCRIPT = r"""
import atexit, sys, threading, time
sys.path.insert(0, %r)
box = {}

def report():  # registered before the module's handler: runs after it closed the device
    th.join(5)
    e = box.get("error")
    print("alive", th.is_alive(), "error", type(e).__name__, getattr(e, "errno", None), e)

atexit.register(report)
import openamp
ept = openamp.Endpoint("vuart-channel", lambda src, data: None)
rp = openamp.RemoteProc(%r)
rp.start()
while not ept.is_ready():
    time.sleep(0.01)
ept.send(b"spin")  # crash.elf stops consuming
try:
    for _ in range(1000):
        ept.send(b"fill", timeout=100)
except TimeoutError:
    pass

def blocked():
    try:
        ept.send(b"blocked")
    except Exception as e:
        box["error"] = e

th = threading.Thread(target=blocked, daemon=True)
th.start()
time.sleep(0.3)
print("blocked", th.is_alive())
"""


def test_a_daemon_threads_send_blocked_at_exit_says_eshutdown():
    # The same at a real exit: the module's atexit handler closes the
    # device while a daemon thread is blocked in send() (it said EBADF or
    # ECONNRESET).
    import subprocess
    import sys

    from test_cpython_process import PKG, _env
    script = _EXIT_SCRIPT % (PKG, amptest.fw(amptest.CRASH))
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, env=_env(), timeout=60)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, (out, err)
    assert "blocked True" in out, (out, err)
    assert "alive False error BrokenPipeError %d [Errno %d] the device was shut down" % (amptest.ESHUTDOWN, amptest.ESHUTDOWN) in out, (out, err)


def test_blocking_recv_released_by_deinit():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote()
        wait_ready(ept)
        th, box = _in_thread(ept.recv)
        time.sleep(0.2)
        assert th.is_alive(), box
        ept.deinit()
        th.join(5)
        assert not th.is_alive(), "recv still blocked after deinit()"
        assert getattr(box.get("error"), "errno", None) == amptest.EBADF, box


def test_no_init_under_a_call_that_deinit_let_go():
    """__init__ must not remake an endpoint a call on another thread is still
    inside (deinit() released it, but it has not returned yet): the remade
    endpoint's memory would change under it, and a waiting send would go
    out from the new endpoint with the old one's addresses. The switch
    interval keeps the GIL here, so the released call cannot return in
    between."""
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote()
        wait_ready(ept)
        th, box = _in_thread(ept.recv)
        time.sleep(0.2)
        assert th.is_alive(), box
        old = sys.getswitchinterval()
        sys.setswitchinterval(60)
        try:
            ept.deinit()
            try:
                ept.__init__(ECHO)
                remade = None
            except RuntimeError as e:
                remade = e
        finally:
            sys.setswitchinterval(old)
        th.join(5)
        assert not th.is_alive(), "recv still blocked after deinit()"
        assert getattr(box.get("error"), "errno", None) == amptest.EBADF, box
        assert remade is not None and "in use" in str(remade), remade
        ept.__init__(ECHO)  # once the call returned, it may be remade
        wait_ready(ept)
        ept.send(b"again")
        assert ept.recv(timeout=5000) == b"again"
        ept.deinit()


def test_blocking_recv_woken_by_a_message_from_another_thread():
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote()
        wait_ready(ept)
        th, box = _in_thread(ept.recv, -1, 5000)
        time.sleep(0.1)
        ept.send(b"wake up")
        th.join(5)
        assert box.get("result") == b"wake up", box


def test_signal_interrupts_a_blocking_send():
    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted()

    with Session() as s:
        ept, rp = _spinning_remote(s)
        old = signal.signal(signal.SIGALRM, handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            t0 = time.monotonic()
            amptest.expect_raises(Interrupted, ept.send, b"blocked")
            took = time.monotonic() - t0
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        assert took < 1.5, "Ctrl-C would take %.2f s" % took


def test_signal_interrupts_a_blocking_recv():
    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted()

    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote()
        wait_ready(ept)
        old = signal.signal(signal.SIGALRM, handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            t0 = time.monotonic()
            amptest.expect_raises(Interrupted, ept.recv)
            took = time.monotonic() - t0
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        assert took < 1.5, took
        ept.send(b"fine")
        assert ept.recv(timeout=2000) == b"fine"


def test_start_from_a_short_lived_thread():
    # the core must not die with the thread that started it
    with Session() as s:
        cb = Collector()
        ept = s.endpoint(ECHO, cb)
        rp = s.remote(start=False)
        th = threading.Thread(target=rp.start)
        th.start()
        th.join(5)
        wait_ready(ept)
        time.sleep(0.2)
        assert rp.state == "running"
        ept.send(b"still here")
        assert cb.wait(1)


def test_concurrent_senders_keep_their_order():
    per_thread = 2000
    names = ["t%d" % i for i in range(4)]
    with Session() as s:
        seen = {n: [] for n in names}

        def cb(src, data):
            tag, seq = bytes(data).split(b":")
            seen[tag.decode()].append(int(seq))

        ept, rp, _ = amptest.echo_session(s, cb)

        def sender(tag):
            for i in range(per_thread):
                ept.send(("%s:%d" % (tag, i)).encode(), timeout=5000)

        ths = [threading.Thread(target=sender, args=(n,)) for n in names]
        for th in ths:
            th.start()
        for th in ths:
            th.join(20)
        assert not any(th.is_alive() for th in ths)
        assert amptest.wait_until(lambda: sum(len(v) for v in seen.values()) == 4 * per_thread, 10)
        for n in names:
            assert seen[n] == list(range(per_thread)), n
        amptest.quiescent()


def test_callbacks_run_while_the_main_thread_blocks_in_c():
    # the main thread waits in a blocking recv on one endpoint; callbacks of
    # another endpoint keep running meanwhile
    with Session() as s:
        cb = Collector()
        ept, rp, _ = amptest.echo_session(s, cb)
        q = s.endpoint("queue", None, dest=ept.dest)
        th, box = _in_thread(lambda: [ept.send(b"cb") for _ in range(20)])
        amptest.expect_raises(TimeoutError, q.recv, timeout=300)
        th.join(5)
        assert cb.count == 20


def test_stream_read_skips_empty_messages():
    # read() is the stream view: an empty message has no bytes for it, and
    # b"" would read as end of file; it waits for bytes instead
    with Session() as s:
        ept = s.endpoint(ECHO, None)
        s.remote()
        wait_ready(ept)
        ept.send(b"")
        assert amptest.wait_until(lambda: amptest.stats()["rx_held"] >= 1, 2)
        timer = threading.Timer(0.2, ept.send, (b"bytes",))
        timer.start()
        try:
            th, box = _in_thread(ept.read)
            th.join(5)
        finally:
            timer.cancel()
        assert not th.is_alive(), "read() still blocked"
        assert box.get("result") == b"bytes", box
        ept.send(b"")
        ept.send(b"")
        assert amptest.wait_until(lambda: amptest.stats()["rx_held"] >= 2, 2)
        threading.Timer(0.2, ept.send, (b"xy",)).start()
        buf = bytearray(8)
        assert ept.readinto(buf) == 2 and buf[:2] == b"xy"


def _sigblk(tid):
    with open("/proc/self/task/%d/status" % tid) as f:
        for line in f:
            if line.startswith("SigBlk:"):
                return int(line.split()[1], 16)
    raise AssertionError("no SigBlk for thread %d" % tid)


def test_library_threads_block_sigint():
    # the library's threads (the host's service thread, where callbacks
    # run) block asynchronous signals: Ctrl-C's SIGINT is taken by a
    # thread of the program, where it interrupts a blocking call
    tids = []
    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, lambda src, data: tids.append(threading.get_native_id()))
        ept.send(b"x")
        assert amptest.wait_until(lambda: tids, 2)
        python = {t.native_id for t in threading.enumerate()} | {threading.get_native_id()}
        library = {int(t) for t in os.listdir("/proc/self/task")} - python | {tids[0]}
        assert tids[0] not in python  # the thread that runs callbacks is the library's
        # (and the service thread; also faulthandler's watchdog under pytest)
        bit = 1 << (signal.SIGINT - 1)
        assert not _sigblk(threading.get_native_id()) & bit
        for tid in library:
            assert _sigblk(tid) & bit, "thread %d takes SIGINT" % tid


def test_callback_sends_more_than_the_ring_holds():
    # the callback runs on the thread that would tell a waiting sender that
    # buffers came back: its send must look for them itself, not sleep
    n = 2000
    state = {"err": None, "counts": None, "ms": None}

    def cb(src, data):
        if data[:1] == b"E":
            t0 = time.monotonic()
            try:
                for _ in range(n):
                    ept.send(b"S" + bytes(amptest.MAX_PAYLOAD - 1))  # the sink: no reply
                ept.send(b"Q")
            except Exception as e:
                state["err"] = e
            state["ms"] = (time.monotonic() - t0) * 1000
        elif len(data) == 16:
            state["counts"] = struct.unpack("<QQ", data)

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb, image=amptest.BENCH_PEER, name=amptest.BENCH)
        ept.send(b"Q")  # the counters start from zero
        assert amptest.wait_until(lambda: state["counts"], 2)
        state["counts"] = None
        ept.send(b"Ego")
        assert amptest.wait_until(lambda: state["counts"] or state["err"], 10), state
        assert state["err"] is None, repr(state["err"])
        assert state["counts"] == (n, n * amptest.MAX_PAYLOAD), state
        # (a sleep of 100 ms each time the ring runs dry: seconds for this)
        assert state["ms"] < 1000, "%d sends took %d ms" % (n, state["ms"])
        amptest.quiescent()


def test_blocking_recv_inside_a_callback():
    # the callback waits for a message that only the thread it runs on
    # would poll from the ring
    got = []

    def cb(src, data):
        rx.send(b"inner")
        try:
            got.append(rx.recv(timeout=2000))
        except Exception as e:
            got.append(e)

    with Session() as s:
        ept, rp, _ = amptest.echo_session(s, cb)
        rx = s.endpoint("", None, dest=ept.dest)  # another address, the same echo service
        t0 = time.monotonic()
        ept.send(b"outer")
        assert amptest.wait_until(lambda: got, 5)
        assert got == [b"inner"], got
        assert time.monotonic() - t0 < 1.5
        amptest.quiescent()


def test_trace_while_callbacks_run():
    # trace() is done on the service thread, which runs the callbacks: it
    # must let go of the GIL meanwhile, or the two wait for each other
    with Session() as s:
        ept, rp, cb = amptest.echo_session(s)
        for _ in range(20):
            for _ in range(20):
                ept.send(b"t")
            assert isinstance(rp.trace(), str)
        assert cb.wait(400, 5), "%d of 400 echoes" % cb.count
        amptest.quiescent()
