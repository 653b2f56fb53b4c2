"""Run the openamp test scripts without pytest (MicroPython has none).

    micropython run.py [-v] [-k substring] [test_file.py ...]
    python3 run.py ...          (CPython: the same, without pytest)

Every test_*.py here (or the files named) is imported and each of its
test_* functions called; test_cpython_*.py and test_kernel_*.py files
are skipped on MicroPython. After each test the runner checks that it
left no virtual core running. Exit status 0 if every test passed.
"""
import sys

try:
    import os
except ImportError:  # pragma: no cover
    import uos as os

import amptest
import openamp


def _here():
    f = globals().get("__file__", "")
    i = f.rfind("/")
    return f[:i] if i >= 0 else "."


def _print_exc(e):
    if hasattr(sys, "print_exception"):  # MicroPython
        sys.print_exception(e)
    else:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)


def _tests(mod):
    names = [n for n in dir(mod) if n.startswith("test_") and callable(getattr(mod, n))]
    names.sort()
    return names


def main(argv):
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    only = None
    if "-k" in argv:
        i = argv.index("-k")
        only = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
    here = _here()
    if here not in sys.path:
        sys.path.insert(0, here)
    files = argv or sorted(f for f in os.listdir(here) if f.startswith("test_") and f.endswith(".py"))
    if amptest.MICROPYTHON:  # (the kernel backend is the CPython module's)
        files = [f for f in files if not f.split("/")[-1].startswith(("test_cpython_", "test_kernel_"))]
    watchdog = None
    try:
        import faulthandler

        watchdog = faulthandler
    except ImportError:
        pass

    passed, failed = 0, []
    t_all = amptest.now_ms()
    for f in files:
        modname = f.split("/")[-1][:-3]
        mod = __import__(modname)
        for name in _tests(mod):
            if only and only not in name:
                continue
            t0 = amptest.now_ms()
            if watchdog:
                watchdog.dump_traceback_later(60, exit=True)
            err = None
            try:
                getattr(mod, name)()
            except Exception as e:  # AssertionError included
                err = e
            if watchdog:
                watchdog.cancel_dump_traceback_later()
            openamp.new_service_callback(None)
            left = amptest.vcore_children()
            if err is None and left:
                err = AssertionError("test left a remote running (pids %r)" % (left,))
            ms = amptest.elapsed_ms(t0)
            if err is None:
                passed += 1
                if verbose:
                    print("PASS %s.%s (%d ms)" % (modname, name, ms))
            else:
                failed.append("%s.%s" % (modname, name))
                print("FAIL %s.%s (%d ms): %r" % (modname, name, ms, err))
                _print_exc(err)
            if left and hasattr(openamp, "_openamp"):
                openamp._openamp._shutdown()  # start the next test clean
    print("%d passed, %d failed in %.1f s" % (passed, len(failed), amptest.elapsed_ms(t_all) / 1000))
    for n in failed:
        print("  failed: " + n)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
