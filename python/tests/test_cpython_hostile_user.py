# A hostile user, CPython only: a process out of file descriptors.
import subprocess
import sys

from test_cpython_process import PROLOGUE, _env


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

