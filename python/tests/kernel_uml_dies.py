# A remote that dies, seen through Linux's own rpmsg: run inside User-Mode
# Linux by tools/test-kernel-uml.sh, in a boot of its own, against
# `amp serve --die-after N` (AMP_DIE_AFTER=N), which SIGKILLs itself after
# N echoes: its vhost-user socket closes, virtio_uml unregisters the virtio
# device, and virtio_rpmsg_bus removes rpmsg_ctrl0 and the channels.
#
# While the conversation runs, another thread keeps making endpoint devices
# through an open /dev/rpmsg_ctrl0 (what the kernel backend itself does when
# it binds or rebinds an endpoint). Linux 6.12 let such an ioctl, waiting
# for rpmsg_ctrl's lock while the device was being removed, make a device
# on the removed rpmsg_ctrl: opening or closing it then used freed memory
# and panicked the kernel, or the device stayed behind. Our kernel carries
# tools/uml/rpmsg_ctrl-refuse-ioctls-after-remove.patch; this is the test
# that fails without it (see the README, "Linux SoCs", for the rates).
# The module's own part: every ECONNRESET names its endpoint's channel and
# says nothing of binding again (it must not try on the device being
# removed), and the loss is news once, as on the virtual core.
import errno
import fcntl
import os
import select
import struct
import subprocess
import sys
import threading
import time

import amptest
from amptest import Session, expect_raises, wait_until

RPMSG_CREATE_EPT_IOCTL = 0x4028B501   # _IOW(0xb5, 1, struct rpmsg_endpoint_info)
ANY = 0xFFFFFFFF
BUS = "/sys/bus/rpmsg/devices"
CLASS = "/sys/class/rpmsg"
DIE_AFTER = int(os.environ["AMP_DIE_AFTER"])
MANY = 200  # endpoint devices made before the conversation: rpmsg_ctrl's removal takes a while


def _attr(d, a):
    with open("%s/%s" % (d, a)) as f:
        return f.read().strip()


def channel(name):
    """(src, dst) of the channel `name` in the kernel, or None."""
    try:
        devs = os.listdir(BUS)
    except OSError:
        return None
    for d in devs:
        try:
            if _attr(BUS + "/" + d, "name") == name:
                return int(_attr(BUS + "/" + d, "src"), 0), int(_attr(BUS + "/" + d, "dst"), 0)
        except OSError:  # it went away while we looked
            pass
    return None


def endpoint_devices():
    """Every /dev/rpmsgN the kernel has (endpoint devices): {name: N}."""
    out = {}
    for d in os.listdir(CLASS):
        if d.startswith("rpmsg") and d[5:].isdigit():
            try:
                out[_attr(CLASS + "/" + d, "name")] = int(d[5:])
            except OSError:
                pass
    return out


class Maker(threading.Thread):
    """Makes and opens endpoint devices on one open /dev/rpmsg_ctrl0 until
    the kernel refuses; then closes them."""

    def __init__(self, dst):
        super().__init__(daemon=True)
        self.dst = dst
        self.made = 0
        self.refused = None  # the OSError that ended it
        self.ctrl = os.open("/dev/rpmsg_ctrl0", os.O_RDWR)
        self.fds = []
        self.seen = set(d for d in os.listdir(CLASS) if d[5:].isdigit())

    def run(self):
        try:
            while True:
                name = b"late-%d" % self.made
                try:
                    fcntl.ioctl(self.ctrl, RPMSG_CREATE_EPT_IOCTL, struct.pack("32sII", name, ANY, self.dst))
                except OSError as e:
                    self.refused = e
                    break
                self.made += 1
                try:
                    new = [d for d in os.listdir(CLASS) if d[5:].isdigit() and d not in self.seen]
                except OSError:
                    new = []
                for d in new:  # ours (or the module's, which it holds: EBUSY)
                    self.seen.add(d)
                    try:
                        self.fds.append(os.open("/dev/" + d, os.O_RDWR))
                    except OSError:
                        pass  # already destroyed with its rpmsg_ctrl
        finally:
            time.sleep(0.3)  # after the device went: a late endpoint used freed memory here
            for fd in self.fds:
                os.close(fd)
            os.close(self.ctrl)


def kernel_log():
    """The kernel's messages so far, one per line."""
    out = []
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                rec = os.read(fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:  # overwritten while we read: go on
                continue
            out.append(rec.decode(errors="replace").split(";", 1)[-1].strip())
    finally:
        os.close(fd)
    return out


# What Linux 6.12 said when an endpoint device was made on a removed
# rpmsg_ctrl (after its sysfs directory went): the device could not be
# added, and its error path is one the kernel calls broken.
BROKEN = ("kobject_add_internal failed", "does not have a release() function", "BUG:", "Oops")


# What an ECONNRESET says: the channel went away, not why binding to it
# again failed (the module tried, on the channel being removed).
BINDING = ("rpmsg_ctrl", "RPMSG_CREATE_EPT_IOCTL", "cannot open", "binding", "being removed")


def said_gone(err, name):
    """err (a ConnectionResetError) says that the channel `name` went away,
    and nothing about binding to it again."""
    amptest.readable(err)
    text = str(err)
    assert "went away" in text and "'%s'" % name in text, text
    assert not [w for w in BINDING if w in text], text


def test_a_remote_that_dies_mid_conversation():
    assert wait_until(lambda: channel("vuart-channel") and channel("rpmsg-raw"), 10), os.listdir(BUS)
    _, dst = channel("vuart-channel")
    maker = Maker(dst)
    with Session() as s:
        e = s.endpoint("vuart-channel", None)   # a device made on rpmsg_ctrl0
        r = s.endpoint("rpmsg-raw", None)       # rpmsg_chrdev's device for the channel
        q = s.endpoint("vuart-channel", None)   # idle: nobody waits on it when the remote dies
        assert e.is_ready() and r.is_ready() and q.is_ready()
        waiter = {}

        def wait_r():  # a recv() blocked on the other channel when the remote dies
            try:
                waiter["got"] = r.recv(timeout=60000)
            except OSError as x:
                waiter["got"] = x

        t = threading.Thread(target=wait_r, daemon=True)
        t.start()
        maker.start()
        assert wait_until(lambda: maker.made >= MANY or not maker.is_alive(), 20), maker.made
        assert maker.refused is None, maker.refused  # the remote is still there
        echoes = 0
        err = None
        op = None
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 30:
                op = "send"
                e.send(b"before %d" % echoes)
                op = "recv"
                assert e.recv(timeout=5000) == b"before %d" % echoes
                echoes += 1
        except ConnectionResetError as x:
            err = x
            told = op == "recv"  # the loss was news to a recv() (a send's is not)
        except OSError as x:
            # the last echo went with the remote (a timeout), or a send met
            # the broken rings before the device went (EIO, the kernel's
            # write): the reset follows
            assert isinstance(x, TimeoutError) or x.errno == errno.EIO, x
            assert wait_until(lambda: not e.is_ready(), 10), "still bound after the remote died"
            err = expect_raises(amptest.ConnectionResetError, e.send, b"x", errno=amptest.ECONNRESET)
            told = False
        assert err is not None, "the remote never died (%d echoes)" % echoes
        assert DIE_AFTER - 1 <= echoes <= DIE_AFTER, echoes
        assert err.errno == errno.ECONNRESET
        said_gone(err, "vuart-channel")
        # every endpoint learns it, the char device's too, and a recv()
        # blocked on it hears of its own channel
        assert wait_until(lambda: not r.is_ready() and not q.is_ready(), 10)
        t.join(10)
        assert isinstance(waiter.get("got"), ConnectionResetError), waiter
        said_gone(waiter["got"], "rpmsg-raw")
        said_gone(expect_raises(amptest.ConnectionResetError, r.send, b"x", errno=amptest.ECONNRESET),
                  "rpmsg-raw")
        time.sleep(0.5)  # the teardown is over: nothing binds again meanwhile
        for ept, name in ((e, "vuart-channel"), (r, "rpmsg-raw"), (q, "vuart-channel")):
            said_gone(expect_raises(amptest.ConnectionResetError, ept.send, b"x", errno=amptest.ECONNRESET),
                      name)
        # a loss is news once, as on the virtual core: a recv() begun after
        # it waits for the channel to come back (TimeoutError); the idle
        # endpoint's descriptor is readable, and its first recv(timeout=0)
        # says ECONNRESET, then nothing more
        expect_raises(amptest.TimeoutError, e.recv, timeout=300, errno=amptest.ETIMEDOUT)
        if not told:
            expect_raises(amptest.ConnectionResetError, e.recv, timeout=0, errno=amptest.ECONNRESET)
        expect_raises(BlockingIOError, e.recv, timeout=0)
        expect_raises(amptest.TimeoutError, r.recv, timeout=300, errno=amptest.ETIMEDOUT)
        expect_raises(BlockingIOError, r.recv, timeout=0)
        assert select.select([q], [], [], 0)[0] == [q], "the idle endpoint is not readable"
        expect_raises(amptest.TimeoutError, q.recv, timeout=300, errno=amptest.ETIMEDOUT)
        said_gone(expect_raises(amptest.ConnectionResetError, q.recv, timeout=0, errno=amptest.ECONNRESET),
                  "vuart-channel")
        assert select.select([q], [], [], 0)[0] == []
        expect_raises(BlockingIOError, q.recv, timeout=0)
        maker.join(30)
        assert not maker.is_alive(), "RPMSG_CREATE_EPT_IOCTL still succeeds on a removed rpmsg_ctrl"
        assert maker.refused is not None and maker.refused.errno == errno.ENODEV, maker.refused  # the patch's answer
        assert maker.made >= MANY
    # the device went whole, and nothing was left behind on it
    assert wait_until(lambda: not os.path.exists("/dev/rpmsg_ctrl0") and not os.listdir(BUS), 10), \
        os.listdir(BUS)
    assert endpoint_devices() == {}, "endpoint devices left behind: %r" % endpoint_devices()
    assert not [m for m in kernel_log() if any(b in m for b in BROKEN)], \
        [m for m in kernel_log() if any(b in m for b in BROKEN)]


def test_the_kernel_keeps_working_after_the_remote_died():
    # a new program, and a new endpoint, on the kernel the remote left
    code = ("import openamp; e = openamp.Endpoint('vuart-channel', None); "
            "print(openamp.backend, e.is_ready())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.split() == ["kernel", "False"], (out.stdout, out.stderr)
    with open("/proc/meminfo") as f:
        assert "MemFree" in f.read()
    assert not os.path.exists("/dev/rpmsg_ctrl0")
