# A hostile user, CPython only: a process out of file descriptors, the
# RemoteProc keywords that choose a processor (the kernel backend's), a
# zero-copy slice kept past exit, read(0).
import signal
import subprocess
import sys
import threading

import amptest
import openamp
from amptest import expect_raises, readable
from test_cpython_process import PKG, PROLOGUE, _env


def test_an_endpoint_without_a_descriptor_is_refused_not_half_made():
    # Each endpoint holds a descriptor (fileno()). Out of descriptors, an
    # Endpoint used to be made without one: fileno() then said "this
    # platform has no descriptor to wait on" (ENOTSUP), select and
    # recv_async could not work. Now it is refused, EMFILE, saying why.
    script = r"""
import errno, resource
e0 = openamp.Endpoint("first", None)
n = len(os.listdir("/proc/self/fd"))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 8, hard))
made = []
try:
    for i in range(64):
        made.append(openamp.Endpoint("e%d" % i, None))
    print("no error after", len(made))
except OSError as x:
    print("refused", x.errno == errno.EMFILE, "descriptor" in str(x), len(made) > 0)
for e in made:
    e.fileno()  # every endpoint made has its descriptor
made.pop().deinit()
again = openamp.Endpoint("again", None)  # a freed descriptor makes one again
print("fileno ok", again.fileno() >= 0)
"""
    p = subprocess.run([sys.executable, "-c", PROLOGUE + script], capture_output=True, env=_env(),
                       timeout=30)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, (out, err)
    assert "refused True True True" in out, (out, err)
    assert "fileno ok True" in out, (out, err)


def test_an_unknown_processor_is_named_not_an_earlier_error():
    # RemoteProc(name=, index=) choose a processor on the kernel backend;
    # the virtual core is the only one. Asking for another said the reason
    # of whatever failed before (here: an entry address out of range).
    expect_raises(OSError, openamp.RemoteProc, 0, errno=amptest.ERANGE)
    for kw in ({"name": "m4"}, {"index": 3}):
        e = expect_raises(OSError, openamp.RemoteProc, amptest.fw(amptest.VUART), **kw)
        text = readable(e, "processor", "virtual")
        assert "entry" not in text, text
    with amptest.Session() as s:  # the ones it has are chosen
        rp = s.adopt(openamp.RemoteProc(amptest.fw(amptest.VUART), name="virtual", index=0))
        assert rp.state == "ready"


def test_a_kept_zero_copy_slice_read_after_exit_closed_the_device():
    # A slice of a zero_copy message may be kept past the callback; exit
    # closes the device (atexit) and the core's memory went with it: code
    # that runs after that (an atexit handler registered before the import,
    # a finaliser) reading the slice crashed the interpreter (SIGSEGV). It
    # now reads zeros.
    script = r"""
import atexit, sys, time
sys.path.insert(0, %r)
kept = []
def late():
    print("late", bytes(kept[0]) in (b"abcd", bytes(4)), flush=True)
atexit.register(late)  # registered before openamp's own: runs after it
import openamp
def cb(src, data):
    kept.append(data[0:4])
e = openamp.Endpoint("vuart-channel", cb, zero_copy=True)
rp = openamp.RemoteProc(%r)
rp.start()
t0 = time.monotonic()
while not kept and time.monotonic() - t0 < 10:
    if e.is_ready() and not kept:
        e.send(b"abcdefgh")
    time.sleep(0.05)
print("kept", bytes(kept[0]), flush=True)
""" % (PKG, amptest.fw(amptest.VUART))
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, env=_env(), timeout=30)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert "kept b'abcd'" in out, (out, err)
    assert p.returncode == 0, (p.returncode, out, err)
    assert "late True" in out, (out, err)


def test_read_of_nothing_returns_at_once():
    # read(0) and readinto() of an empty buffer ask for nothing: as with a
    # file or a socket they return at once; they waited for a message
    # (for ever, with none coming).
    with amptest.Session() as s:
        ept = s.endpoint(amptest.ECHO, None)
        s.remote()
        amptest.wait_ready(ept)
        late = threading.Event()

        def message_later():  # what ended the wait before
            late.set()
            ept.send(b"late")

        t = threading.Timer(2.0, message_later)
        t.start()
        try:
            assert ept.read(0) == b""
            assert ept.readinto(bytearray()) == 0
            assert not late.is_set(), "read(0) waited for a message"
        finally:
            t.cancel()
            t.join()
        ept.deinit()
        expect_raises(OSError, ept.read, 0, errno=amptest.EBADF)


def test_a_send_blocked_when_the_remote_is_stopped_is_a_reset():
    # The README: a blocked send() returns with ConnectionResetError when
    # the remote is stopped or shut down. A stop that came between two of
    # the send's 100 ms slices (here from a signal handler, which runs
    # there; or from another thread) made it say ENOTCONN, "the remote has
    # not announced it yet".
    for how in ("stop", "shutdown"):
        with amptest.Session() as s:
            ept, rp, cb = amptest.echo_session(s, image=amptest.CRASH)
            ept.send(b"spin")  # the remote loops for ever, taking no buffer
            while True:
                try:
                    ept.send(b"fill", timeout=0)
                except BlockingIOError:
                    break
            old = signal.signal(signal.SIGALRM, lambda *a: getattr(rp, how)())
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            try:
                e = expect_raises(amptest.ConnectionResetError, ept.send, b"blocked",
                                  errno=amptest.ECONNRESET)
                readable(e)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
            # not bound when it began: still "not ready"
            expect_raises(OSError, ept.send, b"x", errno=amptest.ENOTCONN)
