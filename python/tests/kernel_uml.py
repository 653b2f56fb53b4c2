# The kernel backend on Linux's own rpmsg: run inside User-Mode Linux by
# tools/test-kernel-uml.sh (not collected by the host's pytest: the name
# has no test_ prefix). Linux 6.12's virtio_rpmsg_bus, rpmsg_char and
# rpmsg_ctrl talk to `amp serve --vhost-user`, which announces echo
# channels: vuart-channel, rpmsg-raw, and once-channel (destroyed by the
# remote after one echo). UML has no remoteproc: RemoteProc works on a
# model of /sys/class/remoteproc there (AMP_KERNEL_ROOT, see the script).
import errno
import fcntl
import os
import struct
import subprocess
import sys
import threading
import time

import amptest
import openamp
import pytest
from amptest import Collector, Session, expect_raises, wait_ready, wait_until

RPMSG_CREATE_DEV_IOCTL = 0x4028B503   # _IOW(0xb5, 3, struct rpmsg_endpoint_info)
RPMSG_RELEASE_DEV_IOCTL = 0x4028B504  # _IOW(0xb5, 4, struct rpmsg_endpoint_info)
ANY = 0xFFFFFFFF
BUS = "/sys/bus/rpmsg/devices"


def _attr(d, a):
    with open("%s/%s" % (d, a)) as f:
        return f.read().strip()


def channel(name):
    """(directory, src, dst) of the channel `name` in the kernel, or None."""
    for d in sorted(os.listdir(BUS)):
        p = BUS + "/" + d
        try:
            if _attr(p, "name") == name:
                return p, int(_attr(p, "src"), 0), int(_attr(p, "dst"), 0)
        except OSError:  # it went away while we looked
            pass
    return None


def endpoint_devices(name):
    """The /dev/rpmsgN the kernel has for endpoints called `name`: {N: src}."""
    out = {}
    for d in os.listdir("/sys/class/rpmsg"):
        p = "/sys/class/rpmsg/" + d
        if d.startswith("rpmsg") and d[5:].isdigit() and _attr(p, "name") == name:
            out[int(d[5:])] = int(_attr(p, "src"))
    return out


@pytest.fixture(autouse=True, scope="module")
def _announced():
    """The announcements may still be on their way when UML runs us."""
    def there():
        c = channel("rpmsg-raw")
        return c and os.listdir(c[0] + "/rpmsg") and channel("vuart-channel") and channel("once-channel")
    assert wait_until(there, 10), "amp serve's channels never appeared: %r" % (os.listdir(BUS),)


def test_backend_is_the_kernel_and_chosen_automatically():
    assert openamp.backend == "kernel"
    env = {k: v for k, v in os.environ.items() if k not in ("AMP_PLATFORM", "AMP_KERNEL_ROOT")}
    r = subprocess.run([sys.executable, "-c", "import openamp; print(openamp.backend)"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "kernel", r.stdout + r.stderr  # /dev/rpmsg_ctrl0 is there


def test_the_kernel_refuses_497_bytes():
    # the figure the module checks against is the kernel's: ask it directly
    d, _, _ = channel("rpmsg-raw")
    n = os.listdir(d + "/rpmsg")[0]
    fd = os.open("/dev/" + n, os.O_RDWR)
    try:
        e = expect_raises(OSError, os.write, fd, bytes(497), errno=amptest.EMSGSIZE)
        assert os.write(fd, bytes(496)) == 496
        assert len(os.read(fd, 4096)) == 496  # the echo
    finally:
        os.close(fd)
    assert e is not None


def test_raw_channel_is_its_char_device():
    _, src, dst = channel("rpmsg-raw")
    with Session() as s:
        cb = Collector()
        e = s.endpoint("rpmsg-raw", cb)
        assert e.is_ready()  # announced before we came
        assert (e.src, e.dest) == (src, dst)
        assert "(kernel)" in repr(e)
        assert e.send(b"raw") == 3
        assert cb.wait(1)
        assert cb.msgs == [b"raw"] and cb.srcs == [dst]
        e2 = s.endpoint("rpmsg-raw", None)  # the device is taken: an endpoint of its own
        assert e2.is_ready() and e2.src != src and e2.dest == dst
        e2.send(b"second")
        assert e2.recv(timeout=5000) == b"second"
        assert not cb.wait(2, 0.3)


def test_other_names_get_an_endpoint_device_from_rpmsg_ctrl():
    _, _, dst = channel("vuart-channel")
    with Session() as s:
        cb = Collector()
        e = s.endpoint("vuart-channel", cb)
        assert e.is_ready() and e.dest == dst and e.src >= 0x1000
        assert e.src in endpoint_devices("vuart-channel").values()
        assert e.send(b"via ctrl") == 8
        assert cb.wait(1) and cb.msgs == [b"via ctrl"] and cb.srcs == [dst]
        f = s.endpoint("vuart-channel", None, src=0x3456)
        assert f.src == 0x3456 and f.is_ready()
        f.send(b"from 0x3456")
        assert f.recv(timeout=5000) == b"from 0x3456"
        e.deinit()
        f.deinit()
        assert endpoint_devices("vuart-channel") == {}  # nothing left behind


def test_channel_destroyed_by_the_remote_is_econnreset():
    assert channel("once-channel") is not None
    with Session() as s:
        cb = Collector()
        e = s.endpoint("once-channel", cb)
        assert e.is_ready()
        e.send(b"once")
        assert cb.wait(1)
        assert wait_until(lambda: not e.is_ready(), 5), "still bound after the remote destroyed it"
        assert channel("once-channel") is None
        err = expect_raises(amptest.ConnectionResetError, e.send, b"x", errno=amptest.ECONNRESET)
        amptest.readable(err)
        assert endpoint_devices("once-channel") == {}


def test_channel_that_appears_later_binds_and_goes():
    # A channel appears when the kernel registers an rpmsg device: the
    # remote's announcement does that, and so does RPMSG_CREATE_DEV_IOCTL,
    # which lets the test make one (aimed at the remote's vuart-channel)
    # after the endpoint exists.
    _, _, dst = channel("vuart-channel")
    late = struct.pack("32sII", b"late-channel", ANY, dst)
    other = struct.pack("32sII", b"nobody-waits", ANY, dst)
    ctrl = os.open("/dev/rpmsg_ctrl0", os.O_RDWR)
    made = []
    try:
        with Session() as s:
            seen = []
            s.ns_callback(lambda addr, name: seen.append((name, addr)))
            cb = Collector()
            e = s.endpoint("late-channel", cb)
            assert not e.is_ready()
            expect_raises(OSError, e.send, b"x", errno=amptest.ENOTCONN)
            fcntl.ioctl(ctrl, RPMSG_CREATE_DEV_IOCTL, late)
            made.append(late)
            wait_ready(e)
            assert e.dest == dst
            e.send(b"late")
            assert cb.wait(1) and cb.msgs == [b"late"]
            fcntl.ioctl(ctrl, RPMSG_CREATE_DEV_IOCTL, other)
            made.append(other)
            assert wait_until(lambda: ("nobody-waits", dst) in seen, 5), seen
            assert ("late-channel", dst) not in seen  # an endpoint waited for that one
            fcntl.ioctl(ctrl, RPMSG_RELEASE_DEV_IOCTL, late)
            made.remove(late)
            assert wait_until(lambda: not e.is_ready(), 5)
            expect_raises(amptest.ConnectionResetError, e.send, b"x", errno=amptest.ECONNRESET)
            fcntl.ioctl(ctrl, RPMSG_CREATE_DEV_IOCTL, late)  # and back: it binds again
            made.append(late)
            wait_ready(e)
            cb.clear()
            e.send(b"again")
            assert cb.wait(1) and cb.msgs == [b"again"]
    finally:
        for m in made:
            fcntl.ioctl(ctrl, RPMSG_RELEASE_DEV_IOCTL, m)
        os.close(ctrl)


def test_waiters_learn_that_their_channel_went_away():
    # a recv(), an await recv_async() and a select() user waiting on an
    # endpoint whose channel goes (released here, as a remote that destroys
    # it or dies would) all end, with ConnectionResetError
    import asyncio
    import select

    _, _, dst = channel("vuart-channel")
    ctrl = os.open("/dev/rpmsg_ctrl0", os.O_RDWR)
    made = []

    def release(info):
        made.remove(info)  # first: the waiter may end (and the test) before the ioctl returns
        fcntl.ioctl(ctrl, RPMSG_RELEASE_DEV_IOCTL, info)

    def recv_async(e):
        async def main():
            return await asyncio.wait_for(e.recv_async(), 5)
        return asyncio.run(main())

    def selected(e):
        assert select.select([e], [], [], 5)[0] == [e], "the descriptor stayed quiet"
        return e.recv(timeout=0)

    try:
        with Session() as s:
            for how, wait in (("recv", lambda e: e.recv(timeout=5000)), ("async", recv_async),
                              ("select", selected)):
                info = struct.pack("32sII", ("gone-" + how).encode(), ANY, dst)
                e = s.endpoint("gone-" + how, None)
                fcntl.ioctl(ctrl, RPMSG_CREATE_DEV_IOCTL, info)
                made.append(info)
                wait_ready(e)
                e.send(b"x")
                assert e.recv(timeout=5000) == b"x"
                threading.Timer(0.3, release, (info,)).start()
                t0 = time.monotonic()
                expect_raises(amptest.ConnectionResetError, wait, e, errno=amptest.ECONNRESET)
                took = time.monotonic() - t0
                assert 0.2 < took < 4.5, (how, took)
    finally:
        for m in made:
            fcntl.ioctl(ctrl, RPMSG_RELEASE_DEV_IOCTL, m)
        os.close(ctrl)


def test_a_loss_is_news_once():
    # As on the virtual core (test_cpython_link_loss.py, test_blocked_recv.py):
    # a channel that goes ends the recv() waiting then (ConnectionResetError);
    # a recv() begun after waits for the channel to come back (TimeoutError),
    # send() says ECONNRESET meanwhile; an endpoint nobody waited on turns
    # readable, and its first recv(timeout=0) says ECONNRESET, once. Back
    # again, neither reports the old loss.
    import select

    _, _, dst = channel("vuart-channel")
    info = struct.pack("32sII", b"news-once", ANY, dst)
    ctrl = os.open("/dev/rpmsg_ctrl0", os.O_RDWR)
    made = []

    def release():
        made.remove(info)
        fcntl.ioctl(ctrl, RPMSG_RELEASE_DEV_IOCTL, info)

    try:
        with Session() as s:
            a = s.endpoint("news-once", None)   # a recv() waits on it
            b = s.endpoint("news-once", None)   # idle
            fcntl.ioctl(ctrl, RPMSG_CREATE_DEV_IOCTL, info)
            made.append(info)
            wait_ready(a)
            wait_ready(b)
            threading.Timer(0.3, release).start()
            err = expect_raises(amptest.ConnectionResetError, a.recv, timeout=5000, errno=amptest.ECONNRESET)
            amptest.readable(err, "'news-once' went away")
            assert wait_until(lambda: not b.is_ready(), 5)
            expect_raises(amptest.TimeoutError, a.recv, timeout=300, errno=amptest.ETIMEDOUT)
            expect_raises(BlockingIOError, a.recv, timeout=0)
            expect_raises(amptest.ConnectionResetError, a.send, b"x", errno=amptest.ECONNRESET)
            assert select.select([b], [], [], 2)[0] == [b], "not readable after the channel went"
            expect_raises(amptest.TimeoutError, b.recv, timeout=300, errno=amptest.ETIMEDOUT)
            err = expect_raises(amptest.ConnectionResetError, b.recv, timeout=0, errno=amptest.ECONNRESET)
            amptest.readable(err, "'news-once' went away")
            assert select.select([b], [], [], 0)[0] == []
            expect_raises(BlockingIOError, b.recv, timeout=0)
            fcntl.ioctl(ctrl, RPMSG_CREATE_DEV_IOCTL, info)  # back: announced anew
            made.append(info)
            wait_ready(a)
            wait_ready(b)
            for e in (a, b):
                expect_raises(BlockingIOError, e.recv, timeout=0)
                e.send(b"back")
                assert e.recv(timeout=5000) == b"back"
    finally:
        for m in made:
            fcntl.ioctl(ctrl, RPMSG_RELEASE_DEV_IOCTL, m)
        os.close(ctrl)


def test_new_service_callback_hears_of_channels_already_announced():
    _, _, dst = channel("vuart-channel")
    with Session() as s:
        seen = []
        s.ns_callback(lambda addr, name: seen.append((name, addr)))
        assert wait_until(lambda: ("vuart-channel", dst) in seen, 5), seen
        ept = s.endpoint("vuart-channel", None, dest=dst)  # as the spec's ns callback would
        assert ept.is_ready()
        ept.send(b"ns")
        assert ept.recv(timeout=5000) == b"ns"


def test_permission_denied_names_the_device():
    # as "nobody": /dev/rpmsg_ctrl0 is root's (0600 on devtmpfs)
    code = ("import openamp\n"
            "try:\n"
            "    openamp.Endpoint('vuart-channel', None)\n"
            "except PermissionError as e:\n"
            "    print('EACCES', e)\n")

    def nobody():
        os.setgid(65534)
        os.setuid(65534)

    env = {k: v for k, v in os.environ.items() if k != "AMP_KERNEL_ROOT"}  # (root's model: 0700)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       preexec_fn=nobody, cwd="/", env=env)
    assert r.stdout.startswith("EACCES"), r.stdout + r.stderr
    assert "/dev/rpmsg_ctrl0" in r.stdout and "udev" in r.stdout, r.stdout


def test_exit_gives_up_a_callback_that_never_returns():
    # the dispatcher thread runs the callbacks here: _shutdown waits 2 s
    # for one that blocks for ever, then exits without it (one line on
    # stderr, the program's status)
    code = ("import sys, threading, openamp\n"
            "inside = threading.Event()\n"
            "def cb(src, data):\n"
            "    inside.set()\n"
            "    threading.Event().wait()\n"
            "e = openamp.Endpoint('vuart-channel', cb)\n"
            "e.send(b'block')\n"
            "assert inside.wait(5)\n"
            "print('exiting', flush=True)\n"
            "sys.exit(3)\n")
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    took = time.monotonic() - t0
    assert r.returncode == 3 and "exiting" in r.stdout, (r.returncode, r.stdout, r.stderr)
    assert "did not return within 2 s" in r.stderr, r.stderr
    assert "Fatal" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert took < 15, took


# ==== A slow reader gets backpressure, not loss ====
# More echoes than the binding's event nodes (600 on CPython) arrive while
# the program does not take them: they must wait in the kernel (rpmsg_char's
# queue of the endpoint device) and all arrive, once each, in order.
FLOOD = 3000


def _flood(e):
    for i in range(FLOOD):
        e.send(b"%06d" % i)
    time.sleep(0.5)  # the last echoes land, still unread
    cpu = time.process_time()
    time.sleep(1)
    cpu = time.process_time() - cpu  # every thread of ours: the binding's too
    assert cpu < 0.5, "%.2f s of CPU in 1 s of waiting: the service thread spins" % cpu


def _check_flood(got, lost0):
    want = [b"%06d" % i for i in range(FLOOD)]
    missing = sorted(set(want) - set(got))
    assert got == want, "%d of %d arrived, %d missing (first %r), lost %d" % (
        len(got), FLOOD, len(missing), missing[:3], amptest.stats()["lost"] - lost0)
    assert amptest.stats()["lost"] == lost0


def test_a_reader_that_reads_late_gets_every_message_in_order():
    with Session() as s:
        e = s.endpoint("vuart-channel", None)
        wait_ready(e)
        lost0 = amptest.stats()["lost"]
        _flood(e)
        got = []
        try:
            while len(got) < FLOOD:
                got.append(bytes(e.recv(timeout=5000)))
        except OSError as err:
            assert err.errno in (errno.ETIMEDOUT, errno.EAGAIN), err
        _check_flood(got, lost0)


def _flood_held_callback(keep_slices):
    """Flood an endpoint whose callback waits at a gate until the flood is
    sent (keep_slices: a zero-copy callback that keeps a slice of each)."""
    gate = threading.Event()
    got, kept = [], []

    def cb(src, data):
        gate.wait(120)
        if keep_slices:
            kept.append(data[0:])
        got.append(bytes(data))

    with Session() as s:
        e = s.endpoint("vuart-channel", cb, zero_copy=keep_slices)
        wait_ready(e)
        lost0 = amptest.stats()["lost"]
        _flood(e)
        gate.set()
        wait_until(lambda: len(got) >= FLOOD, 60)
        time.sleep(0.3)  # none more
        _check_flood(got, lost0)
        del kept[:]


def test_a_callback_that_blocks_gets_every_message_in_order():
    _flood_held_callback(False)


def test_a_callback_that_keeps_its_slices_gets_every_message():
    # A zero-copy callback that keeps a slice takes its event (freeing the
    # node) but gives no buffer back: the service thread, starved while the
    # core was full, must read again all the same.
    _flood_held_callback(True)


def test_an_unread_endpoint_does_not_hold_back_the_others():
    # Endpoint A never reads while the remote floods it with more echoes
    # than the event nodes; B, on another channel, exchanges messages all
    # the while: A may hold only its share of the nodes (the rest of its
    # echoes wait in the kernel), so B's always find one.
    with Session() as s:
        a = s.endpoint("vuart-channel", None)
        b = s.endpoint("rpmsg-raw", None)
        wait_ready(a)
        wait_ready(b)
        lost0 = amptest.stats()["lost"]
        _flood(a)  # and no spinning while A is held back
        t0 = time.monotonic()
        for i in range(200):
            m = b"b%05d" % i
            b.send(m)
            try:
                got = bytes(b.recv(timeout=5000))
            except OSError as err:
                raise AssertionError("B's echo %d never came (%s): A holds B back" % (i, err))
            assert got == m, (i, got)
        took = time.monotonic() - t0
        assert took < 30, "200 echoes on B took %.1f s" % took
        cpu = time.process_time()
        time.sleep(1)  # A still held back, B idle: nothing to do
        cpu = time.process_time() - cpu
        assert cpu < 0.5, "%.2f s of CPU in 1 s of waiting: the service thread spins" % cpu
        got = []
        try:
            while len(got) < FLOOD:
                got.append(bytes(a.recv(timeout=5000)))
        except OSError as err:
            assert err.errno in (errno.ETIMEDOUT, errno.EAGAIN), err
        _check_flood(got, lost0)
