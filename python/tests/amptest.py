"""amptest -- helpers for the openamp test scripts.

The test scripts are plain ``def test_<what>():`` functions that use only
``assert`` and this module, so that the same files run under pytest on
CPython and under a bare runner (run.py) on MicroPython. Files named
test_cpython_*.py hold what only CPython can do (threads, asyncio,
selectors, finaliser timing, memoryview release, unraisable hooks).

Isolation: every test opens a Session (``with amptest.Session() as s:``);
on the way out it deinitialises the endpoints it made, resets the
new-service callback and shuts down the remotes it started, so no test
leaves a RemoteProc running.

Settings (environment):
  AMP_FIRMWARE_DIR  where virtual_uart.elf & co. are (default build/firmware)
  AMP_BUF_SIZE      the RPMsg buffer size the module uses (default 512)
"""
import sys
import time

try:
    import errno as _errno
except ImportError:  # pragma: no cover - MicroPython
    import uerrno as _errno
try:
    import os
except ImportError:  # pragma: no cover - MicroPython
    import uos as os

import openamp

MICROPYTHON = sys.implementation.name == "micropython"

# The errno values the module reports.
ENOENT = _errno.ENOENT
EBADF = _errno.EBADF
EAGAIN = _errno.EAGAIN
EINVAL = _errno.EINVAL
ENOEXEC = getattr(_errno, "ENOEXEC", 8)
EBUSY = getattr(_errno, "EBUSY", 16)
EMSGSIZE = getattr(_errno, "EMSGSIZE", 90)
EADDRINUSE = getattr(_errno, "EADDRINUSE", 98)
ECONNRESET = getattr(_errno, "ECONNRESET", 104)
ENOTCONN = getattr(_errno, "ENOTCONN", 107)
ETIMEDOUT = getattr(_errno, "ETIMEDOUT", 110)
ERANGE = getattr(_errno, "ERANGE", 34)
EPERM = getattr(_errno, "EPERM", 1)
ESHUTDOWN = getattr(_errno, "ESHUTDOWN", 108)

# CPython raises OSError subclasses picked by errno; MicroPython has only
# OSError. Tests name these, which are the subclass where it exists.
try:
    TimeoutError = TimeoutError
except NameError:  # pragma: no cover - MicroPython
    TimeoutError = OSError
try:
    BlockingIOError = BlockingIOError
except NameError:  # pragma: no cover
    BlockingIOError = OSError
try:
    FileNotFoundError = FileNotFoundError
except NameError:  # pragma: no cover
    FileNotFoundError = OSError
try:
    ConnectionResetError = ConnectionResetError
except NameError:  # pragma: no cover
    ConnectionResetError = OSError


def getenv(name, default=None):
    try:
        v = os.getenv(name)
    except AttributeError:  # pragma: no cover - a port without getenv
        v = None
    return default if v is None or v == "" else v


FIRMWARE_DIR = getenv("AMP_FIRMWARE_DIR", "build/firmware")
BUF_SIZE = int(getenv("AMP_BUF_SIZE", "512"))
MAX_PAYLOAD = BUF_SIZE - 16  # the RPMsg header takes 16 bytes

ECHO = "vuart-channel"  # virtual_uart.elf, virtual_uart_hosttable.elf, crash.elf
BENCH = "amp-bench"  # bench_peer.elf

VUART = "virtual_uart.elf"
VUART_HOSTTABLE = "virtual_uart_hosttable.elf"
BENCH_PEER = "bench_peer.elf"
CRASH = "crash.elf"
NAMES = "names.elf"  # echo services "amp-\xff\xfe-raw", "amp-\xc0\xaf", "amp-\\\xff" (not UTF-8), "amp-caf\xc3\xa9"


def fw(name):
    """The path of a firmware image."""
    return FIRMWARE_DIR + "/" + name


# ==== Time ====

if hasattr(time, "ticks_ms"):  # MicroPython

    def now_ms():
        return time.ticks_ms()

    def elapsed_ms(t0):
        return time.ticks_diff(time.ticks_ms(), t0)

    def monotonic():
        return time.ticks_ms() / 1000.0

else:

    def now_ms():
        return int(time.monotonic() * 1000)

    def elapsed_ms(t0):
        return now_ms() - t0

    def monotonic():
        return time.monotonic()


def wait_until(cond, timeout_s=5.0):
    """Poll cond() every 5 ms until it is true (return True) or timeout_s
    passes (return cond()'s last verdict, i.e. False)."""
    t0 = now_ms()
    limit = int(timeout_s * 1000)
    while True:
        if cond():
            return True
        if elapsed_ms(t0) >= limit:
            return bool(cond())
        time.sleep(0.005)


def expect_raises(exc_type, fn, *args, errno=None, **kw):
    """Call fn(*args, **kw); it must raise exc_type (with e.errno == errno
    if given). Returns the exception."""
    try:
        fn(*args, **kw)
    except exc_type as e:
        if errno is not None:
            got = getattr(e, "errno", None)
            if got is None and e.args:
                got = e.args[0]
            assert got == errno, "expected errno %d, got %r: %r" % (errno, got, e)
        return e
    except Exception as e:  # the wrong exception: say which
        raise AssertionError("expected %s, got %s: %r" % (_name(exc_type), _name(type(e)), e))
    raise AssertionError("expected %s, nothing raised" % _name(exc_type))


def _name(t):
    return getattr(t, "__name__", repr(t))


def readable(e, *words):
    """Check an exception's message is words, not just a number: it must
    contain each of `words` (case-insensitive)."""
    text = str(e)
    low = text.lower()
    assert len(text) > 8 and any(c.isalpha() for c in text), "unreadable message %r" % text
    for w in words:
        assert w.lower() in low, "message %r lacks %r" % (text, w)
    return text


# ==== Callbacks ====


class Collector:
    """An endpoint callback that keeps a copy of every message."""

    def __init__(self):
        self.msgs = []
        self.srcs = []
        self.count = 0

    def __call__(self, src, data):
        self.srcs.append(src)
        self.msgs.append(bytes(data))
        self.count += 1

    def wait(self, n=1, timeout_s=5.0):
        """Wait until n messages in all arrived."""
        return wait_until(lambda: self.count >= n, timeout_s)

    def clear(self):
        self.msgs = []
        self.srcs = []
        self.count = 0


# ==== Device ====


def shutdown_module():
    """What exit does: close the device (the remote, every endpoint)."""
    f = getattr(openamp, "_shutdown", None) or openamp._openamp._shutdown
    f()


def stats():
    """The RPMsg device's counters (a dict), or None where the port has none."""
    f = getattr(openamp, "_stats", None)
    if f is None:
        f = getattr(getattr(openamp, "_openamp", None), "_stats", None)
    return f() if f is not None else None


def quiescent(timeout_s=3.0):
    """Wait until no receive buffer is held by us and every send buffer is
    back on the free list (the remote must be running). Returns the
    counters; asserts on a leak. A no-op (None) without counters."""
    if stats() is None:
        return None

    def done():
        s = stats()
        return s["rx_held"] == 0 and s["tx_free"] == s["tx_total"]

    ok = wait_until(done, timeout_s)
    s = stats()
    assert ok, "buffers leaked: %r" % (s,)
    return s


def wait_ready(ept, timeout_s=5.0):
    if not wait_until(ept.is_ready, timeout_s):
        raise AssertionError("endpoint never became ready: %r (cores %r, counters %r)"
                             % (ept, vcore_children(), stats()))
    return ept


def wait_state(rp, state, timeout_s=5.0):
    assert wait_until(lambda: rp.state == state, timeout_s), "state %r, not %r" % (rp.state, state)


def elf_entry(path):
    """The entry point of an ELF64 little-endian image."""
    f = open(path, "rb")
    try:
        h = f.read(32)
    finally:
        f.close()
    assert h[:4] == b"\x7fELF" and h[4] == 2 and h[5] == 1, "not an ELF64 LE image: %s" % path
    return int.from_bytes(h[24:32], "little")


def vcore_children():
    """The virtual-core processes of this process (Linux /proc), or None
    where that cannot be known."""
    try:
        tasks = os.listdir("/proc/self/task")
    except (OSError, AttributeError):
        return None
    out = []
    for t in tasks:
        try:
            f = open("/proc/self/task/%s/children" % t)
            pids = f.read().split()
            f.close()
        except OSError:
            continue
        for p in pids:
            try:
                f = open("/proc/%s/cmdline" % p, "rb")
                argv0 = f.read().split(b"\0")[0]
                f.close()
            except OSError:
                continue
            if argv0 == b"amp-vcore-run":
                out.append(int(p))
    return out


class Session:
    """What one test made: endpoints, remotes, the new-service callback.

        with amptest.Session() as s:
            ept = s.endpoint(amptest.ECHO, cb)
            rp = s.remote(amptest.VUART)   # loaded and started
            amptest.wait_ready(ept)
    """

    def __init__(self):
        self.epts = []
        self.rprocs = []
        self.ns = False

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        err = self.close()
        if err is not None and et is None:
            raise err
        return False

    def endpoint(self, *args, **kw):
        e = openamp.Endpoint(*args, **kw)
        self.epts.append(e)
        return e

    def adopt(self, obj):
        """Clean up an endpoint or RemoteProc made elsewhere."""
        (self.rprocs if isinstance(obj, openamp.RemoteProc) else self.epts).append(obj)
        return obj

    def remote(self, image=VUART, start=True):
        """RemoteProc(firmware path or entry address), started unless told."""
        rp = openamp.RemoteProc(fw(image) if isinstance(image, str) else image)
        self.rprocs.append(rp)
        if start:
            rp.start()
        return rp

    def ns_callback(self, cb):
        self.ns = True
        openamp.new_service_callback(cb)

    def close(self):
        """Undo everything; returns the first cleanup error (or None)."""
        first = None
        if self.ns:
            try:
                openamp.new_service_callback(None)
            except Exception as e:
                first = first or e
        for e in self.epts:
            try:
                e.deinit()
            except Exception as x:
                first = first or x
        for rp in self.rprocs:
            try:
                rp.shutdown()
            except Exception as x:
                first = first or x
        self.epts = []
        self.rprocs = []
        return first


def echo_session(s, cb=None, image=VUART, name=ECHO, **kw):
    """An endpoint `name` with callback cb (a new Collector if None) and a
    started remote; waits until bound. kw go to Endpoint (zero_copy=True).
    Returns (ept, rproc, cb)."""
    if cb is None:
        cb = Collector()
    ept = s.endpoint(name, cb, **kw)
    rp = s.remote(image)
    wait_ready(ept)
    return ept, rp, cb
