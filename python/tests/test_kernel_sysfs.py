# The kernel backend against a MODEL of the kernel's files, not a kernel:
# a directory laid out like /sys/class/remoteproc, /sys/bus/rpmsg, /dev and
# /lib/firmware (AMP_KERNEL_ROOT points the module at it; tests only).
# The kernel acts on a sysfs write before the write returns; here the test
# plays the kernel by rewriting the files between calls, and checks what
# the module wrote, in which file, and what it refused to do.
#
# Each test runs its script in a fresh interpreter (the backend is chosen
# once per process), some of them as "nobody" for the permission errors.
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap

import amptest
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
NOBODY = 65534

PRELUDE = r"""
import errno, os, sys
sys.path.insert(0, %(here)r)
import openamp
ROOT = os.environ["AMP_KERNEL_ROOT"]
FW = %(fw)r
RP0 = ROOT + "/sys/class/remoteproc/remoteproc0"

def rd(rel):
    with open(ROOT + "/" + rel) as f:
        return f.read()

def kernel_sets(state, proc="remoteproc0"):  # the kernel's reaction, played by hand
    with open(ROOT + "/sys/class/remoteproc/%%s/state" %% proc, "w") as f:
        f.write(state + "\n")

def raises(fn, *a, errno_=None, words=(), **kw):
    try:
        fn(*a, **kw)
    except OSError as e:
        assert errno_ is None or e.errno == errno_, "errno %%r, want %%r: %%s" %% (e.errno, errno_, e)
        for w in words:
            assert w.lower() in str(e).lower(), "%%r lacks %%r" %% (str(e), w)
        return e
    raise AssertionError("nothing raised")
"""


def firmware():
    p = amptest.fw(amptest.VUART)
    if not os.path.exists(p):
        pytest.fail("firmware %s not built (AMP_FIRMWARE_DIR)" % p)
    return os.path.abspath(p)


@pytest.fixture
def root():
    """A model of the kernel's files: one processor, remoteproc0 'm4'."""
    r = tempfile.mkdtemp(prefix="amp-sysfs-")
    os.chmod(r, 0o755)  # "nobody" must get in
    proc(r, 0, "m4")
    os.makedirs(r + "/sys/module/firmware_class/parameters")
    with open(r + "/sys/module/firmware_class/parameters/path", "w") as f:
        f.write("\n")  # unset, as on most systems
    os.makedirs(r + "/lib/firmware")
    os.makedirs(r + "/dev")
    os.makedirs(r + "/sys/bus/rpmsg/devices")
    for d, _, _ in os.walk(r):
        os.chmod(d, 0o755)
    yield r
    shutil.rmtree(r)


def proc(r, n, name, state="offline"):
    d = "%s/sys/class/remoteproc/remoteproc%d" % (r, n)
    os.makedirs(d)
    for f, v in (("name", name), ("state", state), ("firmware", "rproc-%s-fw" % name)):
        with open("%s/%s" % (d, f), "w") as fh:
            fh.write(v + "\n")
    return d


def run(root, code, env=None, user=None, expect_ok=True):
    """Run PRELUDE + code in a fresh interpreter on the model; returns stdout."""
    e = dict(os.environ, AMP_PLATFORM="kernel", AMP_KERNEL_ROOT=root, PYTHONPATH=PYDIR)
    e.update(env or {})
    e = {k: v for k, v in e.items() if v is not None}
    pre = None
    if user is not None:
        def pre():
            os.setgid(user)
            os.setuid(user)
    script = PRELUDE % {"here": HERE, "fw": firmware()} + textwrap.dedent(code)
    fd, path = tempfile.mkstemp(suffix=".py", prefix="amp-sysfs-")  # (a file: tracebacks show lines)
    with os.fdopen(fd, "w") as f:
        f.write(script)
    os.chmod(path, 0o644)
    try:
        r = subprocess.run([sys.executable, path], env=e, capture_output=True, text=True,
                           timeout=60, preexec_fn=pre, cwd="/")
    finally:
        os.unlink(path)
    if expect_ok:
        assert r.returncode == 0, "script failed:\n%s%s" % (r.stdout, r.stderr)
    return r


# ==== The life cycle ====


def test_load_copies_into_the_search_path_and_names_it(root):
    run(root, """
        rp = openamp.RemoteProc(FW)
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "amp/virtual_uart.elf"
        with open(ROOT + "/lib/firmware/amp/virtual_uart.elf", "rb") as a, open(FW, "rb") as b:
            assert a.read() == b.read()
        assert rp.state == "offline"
        assert "(kernel)" in repr(rp) and "offline" in repr(rp)
        assert openamp.backend == "kernel"
        rp.start()
        assert rd("sys/class/remoteproc/remoteproc0/state") == "start"
        kernel_sets("running")
        assert rp.state == "running"
        rp.stop()
        assert rd("sys/class/remoteproc/remoteproc0/state") == "stop"
        kernel_sets("offline")
        rp.start()
        assert rd("sys/class/remoteproc/remoteproc0/state") == "start"
        kernel_sets("running")
        rp.shutdown()
        assert rd("sys/class/remoteproc/remoteproc0/state") == "stop"
        assert not os.path.exists(ROOT + "/lib/firmware/amp/virtual_uart.elf")  # our copy only
        assert rp.state == "offline"
    """)


def test_every_state_is_mirrored(root):
    run(root, """
        rp = openamp.RemoteProc(FW)
        for s in ("offline", "suspended", "running", "crashed", "attached", "detached", "invalid"):
            kernel_sets(s)
            assert rp.state == s, (rp.state, s)
        kernel_sets("on fire")  # not a state Linux has: said so, not passed on
        assert rp.state == "invalid"
    """)


def test_crashed_remote_restarts_and_can_be_stopped(root):
    run(root, """
        rp = openamp.RemoteProc(FW)
        rp.start()
        kernel_sets("crashed")
        assert rp.state == "crashed"
        rp.start()  # stop (the kernel starts only from offline), then start
        assert rd("sys/class/remoteproc/remoteproc0/state") == "start"
        kernel_sets("crashed")
        rp.stop()
        assert rd("sys/class/remoteproc/remoteproc0/state") == "stop"
    """)


def test_life_cycle_errors(root):
    run(root, """
        rp = openamp.RemoteProc(FW)
        raises(rp.stop, errno_=errno.EINVAL, words=("not running", "remoteproc0"))
        assert rd("sys/class/remoteproc/remoteproc0/state") == "offline\\n"  # nothing written
        rp.start()
        kernel_sets("running")
        raises(rp.start, errno_=errno.EBUSY, words=("already running",))
        # a new image while it runs: refused before anything is written
        raises(openamp.RemoteProc, FW, errno_=errno.EBUSY, words=("running", "stop it"))
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "amp/virtual_uart.elf"
    """)


def test_image_already_in_the_search_path_is_named_not_copied(root):
    shutil.copy(firmware(), root + "/lib/firmware/rproc-m4-fw.elf")
    run(root, """
        rp = openamp.RemoteProc(ROOT + "/lib/firmware/rproc-m4-fw.elf")
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "rproc-m4-fw.elf"
        assert not os.path.exists(ROOT + "/lib/firmware/amp")
        rp.shutdown()
        assert os.path.exists(ROOT + "/lib/firmware/rproc-m4-fw.elf")  # not ours to remove
    """)


def test_a_file_of_the_same_name_is_never_replaced(root):
    with open(root + "/lib/firmware/virtual_uart.elf", "w") as f:
        f.write("the distribution's\n")
    run(root, """
        rp = openamp.RemoteProc(FW)
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "amp/virtual_uart.elf"
        assert rd("lib/firmware/virtual_uart.elf") == "the distribution's\\n"
    """)


def test_firmware_class_path_is_used(root):
    os.makedirs(root + "/opt/fw")
    with open(root + "/sys/module/firmware_class/parameters/path", "w") as f:
        f.write("/opt/fw\n")
    run(root, """
        rp = openamp.RemoteProc(FW)
        assert os.path.exists(ROOT + "/opt/fw/amp/virtual_uart.elf")
        assert not os.path.exists(ROOT + "/lib/firmware/amp")
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "amp/virtual_uart.elf"
    """)


def test_missing_firmware_directory(root):
    shutil.rmtree(root + "/lib/firmware")
    run(root, """
        e = raises(openamp.RemoteProc, FW, errno_=errno.ENOENT, words=("firmware directory", "/lib/firmware"))
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "rproc-m4-fw\\n"  # untouched
    """)


def test_bad_images(root):
    run(root, """
        raises(openamp.RemoteProc, "/nonexistent/fw.elf", errno_=errno.ENOENT, words=("/nonexistent/fw.elf",))
        raises(openamp.RemoteProc, "/etc/hostname", errno_=errno.ENOEXEC, words=("not an ELF",))
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "rproc-m4-fw\\n"
    """)


def test_fifo_or_device_as_firmware_is_refused_at_once(root):
    # opening a FIFO for reading waits for a writer: it must never be opened so
    os.mkfifo(root + "/fw.elf")
    run(root, """
        import time
        t0 = time.monotonic()
        for path in (ROOT + "/fw.elf", "/dev/zero", ROOT):
            raises(openamp.RemoteProc, path, errno_=errno.EINVAL, words=(path, "regular file"))
        assert time.monotonic() - t0 < 5
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "rproc-m4-fw\\n"
    """)


# ==== Attaching, and which processor ====


def test_attach_to_a_running_processor_never_stops_it(root):
    with open(root + "/sys/class/remoteproc/remoteproc0/state", "w") as f:
        f.write("attached\n")
    run(root, """
        rp = openamp.RemoteProc(0x081E0000)
        assert rp.state == "attached"
        assert rd("sys/class/remoteproc/remoteproc0/state") == "attached\\n"  # nothing written
        raises(rp.start, errno_=errno.EBUSY)
        rp.stop()
        assert rd("sys/class/remoteproc/remoteproc0/state") == "stop"
        kernel_sets("running")  # started by someone else (echo start > state)
        rp = openamp.RemoteProc(0x081E0000)
        assert rd("sys/class/remoteproc/remoteproc0/state") == "running\\n"  # nothing written
    """)


def test_attach_to_an_offline_processor_is_a_clear_error(root):
    run(root, """
        raises(openamp.RemoteProc, 0x081E0000, errno_=errno.EINVAL,
               words=("remoteproc0", "offline", "attaches only", "firmware path"))
    """)


def test_choose_processor_by_name_or_index(root):
    proc(root, 1, "dsp")
    run(root, """
        openamp.RemoteProc(FW, name="dsp")
        assert rd("sys/class/remoteproc/remoteproc1/firmware") == "amp/virtual_uart.elf"
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "rproc-m4-fw\\n"
        kernel_sets("running", "remoteproc1")
        rp = openamp.RemoteProc(1234, index=1)
        assert rp.state == "running"
        raises(openamp.RemoteProc, FW, name="gpu", errno_=errno.ENODEV,
               words=("gpu", "remoteproc0 'm4'", "remoteproc1 'dsp'"))
        raises(openamp.RemoteProc, FW, index=7, errno_=errno.ENODEV, words=("remoteproc7",))
        rp0 = openamp.RemoteProc(FW)  # the default: the first
        assert rd("sys/class/remoteproc/remoteproc0/firmware") == "amp/virtual_uart.elf"
    """)


def test_no_processor(root):
    shutil.rmtree(root + "/sys/class/remoteproc/remoteproc0")
    run(root, """
        raises(openamp.RemoteProc, FW, errno_=errno.ENODEV, words=("no remote processor", "remoteproc"))
    """)


# ==== Permissions and refusals ====


def test_permission_errors_name_the_file(root):
    # as "nobody": sysfs attributes and /lib/firmware are root's
    shutil.copy(firmware(), root + "/fw.elf")
    os.chmod(root + "/fw.elf", 0o644)
    r = run(root, """
        e = raises(openamp.RemoteProc, ROOT + "/fw.elf", errno_=errno.EACCES,
                   words=("/lib/firmware/amp", "permission denied", "udev"))
        print("LOAD:", e)
    """, user=NOBODY)
    assert "LOAD:" in r.stdout
    # the image is in the search path already: the firmware file is next
    shutil.copy(firmware(), root + "/lib/firmware/m4.elf")
    os.chmod(root + "/lib/firmware/m4.elf", 0o644)
    run(root, """
        raises(openamp.RemoteProc, ROOT + "/lib/firmware/m4.elf", errno_=errno.EACCES,
               words=("remoteproc0/firmware", "permission denied"))
        raises(openamp.RemoteProc, ROOT + "/fw.elf", errno_=errno.EACCES)
    """, user=NOBODY)
    with open(root + "/sys/class/remoteproc/remoteproc0/state", "w") as f:
        f.write("running\n")
    run(root, """
        rp = openamp.RemoteProc(0x1000)
        raises(rp.stop, errno_=errno.EACCES, words=("remoteproc0/state", "permission denied", "udev"))
    """, user=NOBODY)
    assert open(root + "/sys/class/remoteproc/remoteproc0/state").read() == "running\n"


def test_a_write_the_kernel_refuses_is_an_error_naming_the_file(root):
    # /dev/full refuses every write (ENOSPC), as the kernel refuses a start
    # it cannot do
    run(root, """
        rp = openamp.RemoteProc(FW)
        os.unlink(RP0 + "/state")
        os.symlink("/dev/full", RP0 + "/state")
        raises(rp.start, errno_=errno.ENOSPC, words=("refused", "start", "remoteproc0/state"))
    """)


def test_trace_reads_debugfs_when_mounted(root):
    run(root, """
        rp = openamp.RemoteProc(FW)
        raises(rp.trace, errno_=errno.ENOENT, words=("debugfs is not mounted",))
    """)
    d = root + "/sys/kernel/debug/remoteproc/remoteproc0"
    os.makedirs(d)
    with open(d + "/trace0", "w") as f:
        f.write("m4: hello\n")
    run(root, """
        rp = openamp.RemoteProc(FW)
        assert rp.trace() == "m4: hello\\n"
        assert rp.trace(0) == "m4: hello\\n"
        raises(rp.trace, 1, errno_=errno.ENOENT, words=("trace1",))
    """)


def test_a_failed_firmware_write_takes_the_copy_back(root):
    fwattr = root + "/sys/class/remoteproc/remoteproc0/firmware"
    os.unlink(fwattr)
    os.mkdir(fwattr)  # any write fails (EISDIR)
    run(root, """
        raises(openamp.RemoteProc, FW, words=("remoteproc0/firmware",))
        assert not os.path.exists(ROOT + "/lib/firmware/amp/virtual_uart.elf")
    """)


# ==== The choice of backend ====


def test_backend_choice(root):
    def backend(env, code="print(openamp.backend)"):
        return run(root, code, env=env).stdout.strip()

    assert backend({"AMP_PLATFORM": None}) == "kernel"  # a processor in /sys/class/remoteproc
    assert backend({"AMP_PLATFORM": "virtual"}) == "virtual"
    assert backend({"AMP_PLATFORM": None}, "print(openamp.set_backend('virtual'), openamp.backend)") == \
        "virtual virtual"
    shutil.rmtree(root + "/sys/class/remoteproc/remoteproc0")
    assert backend({"AMP_PLATFORM": None}) == "virtual"  # nothing of the kernel's
    open(root + "/dev/rpmsg_ctrl0", "w").close()
    assert backend({"AMP_PLATFORM": None}) == "kernel"  # an rpmsg control device
    assert backend({"AMP_PLATFORM": "kernel"}, "print(openamp.set_backend(None))") == "kernel"
    r = run(root, """
        assert openamp.backend is None
        raises(openamp.Endpoint, "x", None, errno_=errno.EINVAL, words=("AMP_PLATFORM",))
        try:
            openamp.set_backend("qemu")
        except ValueError as e:
            assert "kernel" in str(e)
        else:
            raise AssertionError("set_backend('qemu') accepted")
        print("ok")
    """, env={"AMP_PLATFORM": "bogus"})
    assert r.stdout.strip() == "ok"


# ==== Endpoints on a model of /sys/bus/rpmsg (no kernel: a FIFO as /dev/rpmsg0) ====


def raw_channel(root, dst=0x401):
    """A channel rpmsg_chrdev serves, as the kernel lays it out; its device
    is a FIFO, so what we send comes back as if echoed."""
    d = root + "/sys/bus/rpmsg/devices/virtio0.rpmsg-raw.-1.%d" % dst
    os.makedirs(d + "/rpmsg/rpmsg0")
    for f, v in (("name", "rpmsg-raw"), ("src", "0x400"), ("dst", "0x%x" % dst)):
        with open("%s/%s" % (d, f), "w") as fh:
            fh.write(v + "\n")
    os.mkfifo(root + "/dev/rpmsg0")


def test_endpoint_before_its_channel(root):
    run(root, """
        got = []
        e = openamp.Endpoint("vuart-channel", lambda s, d: got.append(d))
        assert not e.is_ready()
        assert e.src >= 0x1000 and e.dest == openamp.ENDPOINT_ADDR_ANY
        assert "(kernel)" in repr(e)
        raises(e.send, b"x", errno_=errno.ENOTCONN, words=("not ready",))
        raises(e.send, bytes(497), errno_=errno.EMSGSIZE, words=("496",))
        raises(e.send, bytes(496), errno_=errno.ENOTCONN)
        raises(openamp.Endpoint, "", None, errno_=errno.EINVAL)
        a = openamp.Endpoint("x", None, src=0x2000)
        raises(openamp.Endpoint, "y", None, src=0x2000, errno_=errno.EADDRINUSE)
        e.deinit()
        a.deinit()
    """)


def test_raw_channel_binds_to_its_device(root):
    raw_channel(root)
    run(root, """
        import select, time
        got = []
        e = openamp.Endpoint("rpmsg-raw", lambda s, d: got.append((s, bytes(d))))
        assert e.is_ready()
        assert (e.src, e.dest) == (0x400, 0x401)
        assert e.send(b"ping") == 4
        t0 = time.monotonic()
        while not got and time.monotonic() - t0 < 5:
            time.sleep(0.01)
        assert got == [(0x401, b"ping")], got
        raises(e.send, b"x", dest=0x999, errno_=errno.EINVAL)  # a device talks to its channel only
        e.deinit()
        q = openamp.Endpoint("rpmsg-raw", None)  # free again: recv, fileno
        q.send(b"pong")
        assert select.select([q], [], [], 5)[0] == [q]
        assert q.recv(timeout=1000) == b"pong"
        q.deinit()
    """)


def test_new_service_callback_hears_of_channels_already_there(root):
    raw_channel(root)
    run(root, """
        import time
        seen = []
        openamp.new_service_callback(lambda addr, name: seen.append((name, addr)))
        t0 = time.monotonic()
        while not seen and time.monotonic() - t0 < 5:
            time.sleep(0.01)
        assert seen == [("rpmsg-raw", 0x401)], seen
        e = openamp.Endpoint("rpmsg-raw", None, dest=0x401)
        assert e.is_ready()
        seen.clear()
        openamp.new_service_callback(lambda addr, name: seen.append((name, addr)))
        time.sleep(0.2)
        assert seen == []  # claimed now: not new
        openamp.new_service_callback(None)
        e.deinit()
    """)
