"""Run the shared openamp tests on MicroPython in QEMU's mps2-an521.

    python3 tools/micropython_qemu.py FIRMWARE.elf FIRMWARE_DIR [-v] [-k substring] [test_file.py ...]

FIRMWARE.elf is MicroPython's qemu port built with the MPS2_AN521 board
(ports/an521/micropython) and amp's module; FIRMWARE_DIR holds the core-1
images (ports/an521/build.sh). Each test file gets a fresh QEMU whose
working directory is FIRMWARE_DIR, so that the firmware paths the tests
use reach the PC's files through semihosting. The file and amptest.py are
sent over the raw REPL (the port has no file system for them), every
test_* function is called, and each one's verdict comes back as a line.

Tests that cannot apply to this board are listed in NOT_HERE with the
reason; they are reported as such and counted neither way. Exit status 0
if every test that ran passed; the last line is "N passed, M failed".
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "python", "tests")
TIMEOUT_S = int(os.environ.get("MPY_QEMU_TIMEOUT", "300"))  # one test file

# test name -> why it does not apply on this board
NOT_HERE = {
    "test_attach_state": "reads the ELF's entry with open(): the port's file system has no PC files",
    "test_attach_to_a_loaded_image": "reads the ELF's entry with open(): the port's file system has no PC files",
    "test_attach_bogus_entry_crashes": "reads the ELF's entry with open(): the port's file system has no PC files",
    "test_remoteproc_from_an_int_and_a_path_agree_on_a_running_remote": "reads the ELF's entry with open(): the port's file system has no PC files",
    "test_not_an_elf_is_enoexec": "writes a file with open(): the port's file system has no PC files",
    "test_fileno_poll": "fileno() is an OS descriptor: a microcontroller has none (select.poll on the endpoint works)",
    "test_remote_crash_is_econnreset": "wants Linux's word for the death ('segmentation'); test_crash checks this board's",
}

# what the board reports a death with, for test_crash's HOW (crash.elf:
# tests/qemu/fw_crash.c, which takes the virtual core's commands)
OVERRIDES = {
    "test_crash": {"HOW": {"segv": "BusFault", "exit": "status 3", "syscall": "unexpected exception",
                           "abort": "UsageFault"}},
}

# The driver that runs inside MicroPython: it makes modules of the sources
# it is given (sys.modules), then calls each test_* function.
DRIVER = r"""
import sys, gc, os
class _PC:  # a root for os.chdir/getcwd: the port has no file system; paths go to the PC
    def mount(self, readonly, mkfs): pass
    def umount(self): pass
    def chdir(self, path): pass
    def getcwd(self): return ''
    def stat(self, path): raise OSError(2)
    def ilistdir(self, path): return iter(())
try:
    os.mount(_PC(), '/')
except OSError:
    pass
def _mod(name, src, over):
    d = {'__name__': name}
    exec(src, d)
    d.update(over)
    m = type(name, (), d)
    sys.modules[name] = m
    return m
_amptest = _mod('amptest', _AMPTEST, {'FIRMWARE_DIR': '.'})
_m = _mod(_NAME, _SRC, _OVER)
_names = sorted(n for n in dir(_m) if n.startswith('test_'))
for _n in _names:
    if _ONLY and _ONLY not in _n:
        continue
    if _n in _SKIP:
        print('@@ SKIP', _n)
        continue
    _t0 = _amptest.now_ms()
    try:
        getattr(_m, _n)()
        print('@@ PASS', _n, _amptest.elapsed_ms(_t0))
    except BaseException as e:  # KeyboardInterrupt from a callback too: the next tests still run
        print('@@ FAIL', _n, repr(e))
        sys.print_exception(e)
    gc.collect()
print('@@ DONE')
"""


class Qemu:
    def __init__(self, elf, cwd):
        self.p = subprocess.Popen(
            ["qemu-system-arm", "-M", "mps2-an521", "-display", "none", "-monitor", "none", "-no-reboot",
             "-serial", "stdio", "-semihosting-config", "enable=on,target=native", "-kernel", elf],
            cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)
        self.buf = b""

    def read_until(self, marker, timeout_s):
        t0 = time.monotonic()
        os.set_blocking(self.p.stdout.fileno(), False)
        while marker not in self.buf:
            if time.monotonic() - t0 > timeout_s or self.p.poll() is not None:
                raise TimeoutError("waited for %r; got %r" % (marker, self.buf[-300:]))
            chunk = self.p.stdout.read(4096)
            if chunk:
                self.buf += chunk
            else:
                time.sleep(0.01)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def write(self, data):
        # the emulated UART takes a character at a time: small chunks
        for i in range(0, len(data), 256):
            self.p.stdin.write(data[i:i + 256])
            self.p.stdin.flush()
            time.sleep(0.002)

    def raw_exec(self, code, timeout_s, on_line):
        self.write(b"\r\x03\x03")
        time.sleep(0.2)
        self.write(b"\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", 10)
        self.write(code.encode() + b"\x04")
        self.read_until(b"OK", 10)
        t0 = time.monotonic()
        line = b""
        while True:
            out = self.read_until(b"\n", max(1, timeout_s - (time.monotonic() - t0)))
            line = out.rstrip(b"\r\n").decode(errors="replace")
            if "\x04" in line:  # the end of the output: an error came
                on_line(line.replace("\x04", ""))
                break
            on_line(line)
            if line.startswith("@@ DONE"):
                break

    def close(self):
        self.p.kill()
        self.p.wait()


def run_file(elf, fwdir, path, only, verbose):
    name = os.path.basename(path)[:-3]
    with open(os.path.join(TESTS, "amptest.py")) as f:
        amptest = f.read()
    with open(path) as f:
        src = f.read()
    code = "_AMPTEST = %r\n_SRC = %r\n_NAME = %r\n_ONLY = %r\n_SKIP = %r\n_OVER = %r\n%s" % (
        amptest, src, name, only or "", sorted(NOT_HERE), OVERRIDES.get(name, {}), DRIVER)
    results = []

    done, tail = [], []

    def on_line(line):
        if line.startswith("@@ DONE"):
            done.append(True)
        tail[:] = tail[-7:] + [line]
        if line.startswith("@@ "):
            parts = line.split(" ", 3)
            if parts[1] in ("PASS", "FAIL", "SKIP"):
                results.append((parts[1], parts[2], parts[3] if len(parts) > 3 else ""))
                if parts[1] == "SKIP":
                    print("  n/a   %s.%s: %s" % (name, parts[2], NOT_HERE[parts[2]]))
                else:
                    print("  %s  %s.%s %s" % ("ok  " if parts[1] == "PASS" else "FAIL", name, parts[2],
                                              parts[3] + (" ms" if parts[1] == "PASS" else "")))
        elif verbose or (results and results[-1][0] == "FAIL"):
            print("    | " + line)

    q = Qemu(elf, fwdir)
    try:
        q.read_until(b">>> ", 20)
        q.raw_exec(code, TIMEOUT_S, on_line)
    except TimeoutError as e:
        print("  FAIL  %s: %s" % (name, e))
        results.append(("FAIL", name, "timeout"))
    else:
        if not done:  # the driver itself died: the tests after the last verdict never ran
            print("  FAIL  %s: ended after %d tests, without @@ DONE; its last lines:" % (name, len(results)))
            for line in tail:
                print("    | " + line)
            results.append(("FAIL", name, "no @@ DONE"))
    finally:
        q.close()
    return results


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    elf, fwdir = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    rest = argv[2:]
    verbose = "-v" in rest
    rest = [a for a in rest if a != "-v"]
    only = None
    if "-k" in rest:
        i = rest.index("-k")
        only = rest[i + 1]
        rest = rest[:i] + rest[i + 2:]
    files = rest or sorted(os.path.join(TESTS, f) for f in os.listdir(TESTS)
                           if f.startswith("test_") and f.endswith(".py")
                           and not f.startswith(("test_cpython_", "test_kernel_")))  # CPython's
    passed = failed = skipped = 0
    for path in files:
        print("micropython-qemu: %s" % os.path.basename(path))
        for verdict, _, _ in run_file(elf, fwdir, path, only, verbose):
            passed += verdict == "PASS"
            failed += verdict == "FAIL"
            skipped += verdict == "SKIP"
    print("micropython-qemu: %d not applicable to this board (listed above)" % skipped)
    print("micropython-qemu: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
