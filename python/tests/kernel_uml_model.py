"""pytest plugin for the UML stage (tools/test-kernel-uml.sh): the kernel's
side of the remoteproc model.

User-Mode Linux has no remoteproc driver, so there RemoteProc works on a
model of /sys/class/remoteproc (AMP_KERNEL_ROOT). On a real kernel a write
of "start" to remoteprocN/state runs the processor before the write returns
and the file then reads "running"; in the model the file keeps what was
written. This plugin plays that part, as test_kernel_sysfs.py does by hand:
before and after each RemoteProc call it turns a pending "start" into
"running" and "stop" into "offline". The remote itself (amp serve) runs
from boot whatever the model says; the endpoints go through the kernel.
"""
import os

import openamp

STATE = os.environ["AMP_KERNEL_ROOT"] + "/sys/class/remoteproc/remoteproc0/state"
REACTION = {"start": "running", "stop": "offline"}


def settle():
    with open(STATE) as f:
        s = f.read().strip()
    if s in REACTION:
        with open(STATE, "w") as f:
            f.write(REACTION[s] + "\n")


class RemoteProc(openamp.RemoteProc):
    __doc__ = openamp.RemoteProc.__doc__

    def __init__(self, *args, **kw):
        settle()  # a stop written by a finaliser
        super().__init__(*args, **kw)

    def start(self):
        settle()
        try:
            return super().start()
        finally:
            settle()

    def stop(self):
        settle()
        try:
            return super().stop()
        finally:
            settle()

    def shutdown(self):
        settle()
        try:
            return super().shutdown()
        finally:
            settle()


openamp.RemoteProc = RemoteProc
