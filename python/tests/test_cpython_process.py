# What the process around the module does to it: a terminal's Ctrl-C
# (SIGINT to the whole foreground process group), a FIFO or a device as the
# firmware path, fork() with a live remote. Each runs a small script in a
# child interpreter of its own, as a user's program would be.
import os
import signal
import subprocess
import sys
import tempfile
import time

import amptest
import openamp
from amptest import ECHO, fw

PKG = os.path.dirname(os.path.dirname(os.path.abspath(openamp.__file__)))

PROLOGUE = """
import os, sys, time
sys.path.insert(0, %r)
import openamp
""" % PKG


def _env():
    env = dict(os.environ)
    env["AMP_UART"] = "null"
    return env


def _spawn(script, **kw):
    return subprocess.Popen([sys.executable, "-c", PROLOGUE + script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(), **kw)


def _run(script, timeout_s):
    """Run script to its end (killed past timeout_s): (status, stdout, stderr)."""
    p = _spawn(script)
    try:
        out, err = p.communicate(timeout=timeout_s)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, out.decode(), err.decode()


def _read_until(p, word, timeout_s=10.0):
    """Read the child's stdout lines until one equals word."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        line = p.stdout.readline()
        if not line:
            break
        if line.strip() == word.encode():
            return True
    return False


# ==== Ctrl-C ====

CTRL_C = """
got = []
ept = openamp.Endpoint(%r, callback=lambda src, data: got.append(bytes(data)))
rp = openamp.RemoteProc(%r)
rp.start()
while not ept.is_ready():
    time.sleep(0.01)
rx = openamp.Endpoint("", None, dest=ept.dest)
try:
    print("ready", flush=True)
    rx.recv()
except KeyboardInterrupt:
    print("KeyboardInterrupt", rp.state, flush=True)
ept.send(b"after")
t0 = time.monotonic()
while not got and time.monotonic() - t0 < 5:
    time.sleep(0.01)
print("echo", got, flush=True)
"""


def test_ctrl_c_to_the_process_group_spares_the_core():
    # a terminal sends SIGINT to every process of its foreground group;
    # the child is a group leader of its own, like a shell's job
    p = _spawn(CTRL_C % (ECHO, fw(amptest.VUART)), start_new_session=True)
    try:
        assert _read_until(p, "ready"), p.stderr.read().decode()
        time.sleep(0.2)
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out, err = out.decode(), err.decode()
    assert p.returncode == 0, (p.returncode, out, err)
    assert "KeyboardInterrupt running" in out, (out, err)
    assert "echo [b'after']" in out, (out, err)
    assert "crashed" not in err and "lost sys.stderr" not in err, err


# ==== Special files ====


FIFO = """
for path in sys.argv[1:]:
    t0 = time.monotonic()
    try:
        openamp.RemoteProc(path)
        print("accepted", path)
    except OSError as e:
        print("refused %d %s in %.1f s" % (e.errno, e, time.monotonic() - t0), flush=True)
"""


def test_fifo_or_device_as_firmware_is_refused_at_once():
    # opening a FIFO for reading waits for a writer: it must never be opened so
    d = tempfile.mkdtemp()
    fifo = os.path.join(d, "fw.elf")
    os.mkfifo(fifo)
    try:
        p = subprocess.Popen([sys.executable, "-c", PROLOGUE + FIFO, fifo, "/dev/zero", d],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
        try:
            out, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    finally:
        os.unlink(fifo)
        os.rmdir(d)
    lines = out.decode().splitlines()
    assert len(lines) == 3, (lines, err)
    for line in lines:
        assert line.startswith("refused %d " % amptest.EINVAL), lines
        assert "not a regular file in 0." in line, lines


# ==== fork ====

FORK = """
got = []
ept = openamp.Endpoint(%r, callback=None)
rp = openamp.RemoteProc(%r)
rp.start()
while not ept.is_ready():
    time.sleep(0.01)
ept.send(b"before")
assert ept.recv(timeout=5000) == b"before"
pid = os.fork()
if pid == 0:
    # the child: everything inherited is inert, nothing reaches the parent's rings
    msgs = []
    for f in (lambda: ept.send(b"child"), lambda: ept.recv(timeout=0), rp.stop,
              lambda: openamp.Endpoint("x")):
        try:
            f()
            msgs.append("no error")
        except OSError as e:
            msgs.append("%%d %%s" %% (e.errno, e))
    print("child", rp.state, msgs, flush=True)
    sys.exit(0)  # a normal exit: atexit runs the module's shutdown
t0 = time.monotonic()
_, status = os.waitpid(pid, 0)
print("child exit", status, "in %%.1f s" %% (time.monotonic() - t0), flush=True)
for i in range(200):
    ept.send(b"m%%d" %% i)
    assert ept.recv(timeout=5000) == b"m%%d" %% i
st = openamp._openamp._stats()
print("parent", rp.state, st["ring_errors"], st["msg_errors"], st["lost"], flush=True)
"""


def test_fork_child_leaves_the_parents_link_alone():
    rc, out, err = _run(FORK % (ECHO, fw(amptest.VUART)), 30)
    assert rc == 0, (rc, out, err)
    assert "child exit 0 in" in out, (out, err)
    assert "parent running 0 0 0" in out, (out, err)
    # the child's calls fail with words, not by touching shared memory
    child = [line for line in out.splitlines() if line.startswith("child ")][0]
    assert "no error" not in child, child
    assert "fork() child" in child or "deinitialised" in child, child
    assert child.count("[Errno 9]") == 2 and child.count("[Errno 1] the device belongs") == 2, child


# ==== Settings ====

SETTING = """
try:
    openamp.Endpoint("x")
    print("accepted")
except OSError as e:
    print("refused", e.errno, e)
"""


def _setting(name, value):
    env = _env()
    env[name] = value
    p = subprocess.run([sys.executable, "-c", PROLOGUE + SETTING], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=20)
    return p.stdout.decode().strip()


def test_bad_settings_are_errors_naming_the_variable():
    bad = [("AMP_BUF_SIZE", v) for v in ("16", "1", "17", "513", "-1", "abc", "0x200", "99999999999999999999")]
    bad += [("AMP_CPU", v) for v in ("999", "-7", "abc", "4096")]
    for name, value in bad:
        out = _setting(name, value)
        assert out.startswith("refused %d " % amptest.EINVAL), (name, value, out)
        assert "%s=%s" % (name, value[:40]) in out, (name, value, out)
    out = _setting("AMP_UART", "/no/such/dir/uart.log")
    assert out.startswith("refused %d " % amptest.ENOENT), out
    assert "AMP_UART=/no/such/dir/uart.log" in out and "No such file" in out, out
    for name, value in (("AMP_BUF_SIZE", "256"), ("AMP_BUF_SIZE", "2048"), ("AMP_CPU", "0"),
                        ("AMP_UART", "null")):
        assert _setting(name, value) == "accepted", (name, value)


# ==== fork() from a callback ====

FORK_IN_CB = """
import signal
got = []
forked = []
def cb(src, data):
    if data == b"fork":
        pid = os.fork()
        if pid:
            forked.append(pid)
        # the child simply returns: it must touch nothing shared, and end
        return
    got.append(data)
ept = openamp.Endpoint(%r, callback=cb)
rp = openamp.RemoteProc(%r)
rp.start()
while not ept.is_ready():
    time.sleep(0.01)
ept.send(b"fork")
t0 = time.monotonic()
while not forked and time.monotonic() - t0 < 5:
    time.sleep(0.01)
pid = forked[0]
time.sleep(0.2)  # the child, if it still served the rings, would be in poll() by now
for i in range(5):
    ept.send(b"m%%d" %% i)
    t0 = time.monotonic()
    while len(got) <= i and time.monotonic() - t0 < 2:
        time.sleep(0.01)
print("parent got", len(got), flush=True)
t0 = time.monotonic()
status = None
while time.monotonic() - t0 < 5:
    r, st = os.waitpid(pid, os.WNOHANG)
    if r:
        status = st
        break
    time.sleep(0.02)
if status is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print("child status", status, flush=True)
st = openamp._openamp._stats()
print("parent", rp.state, st["ring_errors"], st["msg_errors"], st["lost"], flush=True)
"""


def test_fork_in_a_callback_child_is_inert_and_ends():
    rc, out, err = _run(FORK_IN_CB % (ECHO, fw(amptest.VUART)), 40)
    assert rc == 0, (rc, out, err)
    # the child consumed none of the parent's messages, and ended by itself
    assert "parent got 5" in out, (out, err)
    assert "child status 0" in out, (out, err)
    assert "parent running 0 0 0" in out, (out, err)


# ==== Ctrl-C while a callback holds the service thread ====

BLOCKED_CB = """
import signal, threading
gate = threading.Event()
inside = threading.Event()
got = []
def cb(src, data):
    if data == b"block":
        inside.set()
        gate.wait()
        return
    got.append(bytes(data))
ept = openamp.Endpoint(%r, callback=cb)
rp = openamp.RemoteProc(%r)
rp.start()
while not ept.is_ready():
    time.sleep(0.01)
ept.send(b"block")
assert inside.wait(5)
threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
release = threading.Timer(4.0, gate.set)  # without the fix: let the call end
release.start()
t0 = time.monotonic()
try:
    %s
    print("returned in %%.1f s" %% (time.monotonic() - t0), flush=True)
except KeyboardInterrupt:
    print("interrupted in %%.1f s" %% (time.monotonic() - t0), flush=True)
print("state", rp.state, flush=True)
release.cancel()
gate.set()
ept.send(b"after")
t0 = time.monotonic()
while not got and time.monotonic() - t0 < 5:
    time.sleep(0.01)
print("echo", got, flush=True)
rp.stop()
print("stopped", rp.state, flush=True)
"""


def _blocked_cb(call):
    rc, out, err = _run(BLOCKED_CB % (ECHO, fw(amptest.VUART), call), 40)
    assert rc == 0, (rc, out, err)
    return out, err


def test_ctrl_c_gives_up_a_life_cycle_call_held_up_by_a_callback():
    for call in ("rp.stop()", "rp.trace()", "rp.shutdown()"):
        out, err = _blocked_cb(call)
        lines = out.splitlines()
        # given up at once (the call was never begun: SIGINT at 0.3 s), not
        # when the callback was released (4 s)
        assert lines[0].startswith("interrupted in "), (call, out, err)
        assert float(lines[0].split()[2]) < 2.5, (call, out, err)
        # nothing was done: the remote runs on and still echoes
        assert "state running" in lines, (call, out, err)
        assert "echo [b'after']" in lines, (call, out, err)
        assert "stopped stopped" in lines, (call, out, err)


# ==== Exit while a callback never returns ====
# _shutdown (atexit) waits EXIT_WAIT_S for a running callback, then gives
# it up with one line on stderr: the interpreter exits with the program's
# status, and the virtual core goes with it.

EXIT_WAIT_S = 2.0

STUCK_AT_EXIT = """
import threading
inside = threading.Event()
other = None
def cb(src, data):
    inside.set()
    %s
ept = openamp.Endpoint(%r, callback=cb)
rp = openamp.RemoteProc(%r)
rp.start()
while not ept.is_ready():
    time.sleep(0.01)
other = openamp.Endpoint("", None, dest=ept.dest)  # nothing ever comes to it
cores = []
for t in os.listdir("/proc/self/task"):
    cores += open("/proc/self/task/%%s/children" %% t).read().split()
print("cores", " ".join(cores), flush=True)
ept.send(b"block")
assert inside.wait(5)
print("exiting", flush=True)
sys.exit(%d)
"""


def _gone(pid, timeout_s=5.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True  # dead; its new parent reaps it
        except OSError:
            return True
        time.sleep(0.05)
    return False


def _stuck_at_exit(block, status):
    t0 = time.monotonic()
    rc, out, err = _run(STUCK_AT_EXIT % (block, ECHO, fw(amptest.VUART), status), 20)
    took = time.monotonic() - t0
    assert rc == status, (rc, out, err)
    assert "exiting" in out, (out, err)
    assert took < 15, "exit took %.1f s" % took
    cores = [int(p) for p in out.split("cores", 1)[1].split("\n", 1)[0].split()]
    assert cores, (out, err)
    for pid in cores:
        assert _gone(pid), "virtual core %d still runs after the program exited" % pid
    return err


def test_exit_gives_up_a_callback_that_never_returns():
    err = _stuck_at_exit("threading.Event().wait()", 0)
    lines = [l for l in err.splitlines() if "callback" in l]
    assert len(lines) == 1 and "did not return" in lines[0] and "2 s" in lines[0], err
    assert "Fatal" not in err and "Traceback" not in err and "Segmentation" not in err, err


def test_exit_gives_up_a_stuck_callback_with_the_programs_status():
    err = _stuck_at_exit("threading.Event().wait()", 3)
    assert "did not return" in err, err


def test_exit_ends_a_callback_blocked_in_recv():
    # a recv in a callback ends when the device closes (OSError ESHUTDOWN,
    # reported as unraisable): no need to give it up
    err = _stuck_at_exit("other.recv()", 0)
    assert "did not return" not in err, err
