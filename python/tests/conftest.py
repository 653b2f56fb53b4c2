"""pytest glue only: the tests themselves are plain functions (see amptest).

- a per-test watchdog: a test that hangs dumps every thread's stack and
  ends the run (faulthandler, exit=True) instead of hanging it;
- a check after each test that it left no virtual core running and the
  new-service callback unset (a test that leaks a running remote fails,
  and the remote is then shut down so the next test starts clean).

AMP_TEST_TIMEOUT sets the watchdog in seconds (default 60).
"""
import faulthandler
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import amptest  # noqa: E402
import openamp  # noqa: E402

TIMEOUT = float(os.environ.get("AMP_TEST_TIMEOUT", "60"))


@pytest.fixture(autouse=True)
def _amp_isolation(request):
    faulthandler.dump_traceback_later(TIMEOUT, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
    left = amptest.vcore_children()
    openamp.new_service_callback(None)
    if left:
        # last resort: drop the device (remote, threads); the next test
        # makes a fresh one
        openamp._openamp._shutdown()
        pytest.fail("test left a remote running (virtual core pids %r)" % (left,))
