"""openamp -- asymmetric multiprocessing: RPMsg endpoints and remote processor
life-cycle management, as MicroPython's ``openamp`` module documents them.

On a PC the remote core is the Linux virtual core: firmware ELFs built for it
run in a sandboxed process that shares memory with this one. See the README
for the platform settings (AMP_UART, AMP_BUF_SIZE, AMP_CPU).

On a Linux SoC the kernel drives the remote core (remoteproc) and carries
its channels (rpmsg): ``openamp.backend`` says which one this process uses,
"virtual" or "kernel" (AMP_PLATFORM, or ``set_backend()``, or automatic: see
the README, "Linux SoCs").

Beyond the documented API: ``Endpoint.recv``, the stream protocol
(``read``, ``readinto``, ``write``), ``Endpoint.fileno`` for select/selectors,
``await Endpoint.recv_async()`` for asyncio, ``RemoteProc.state``,
``RemoteProc.trace()``, and ``example_firmware()``: the path of the echo
firmware shipped with the package (``python -m openamp.demo`` runs the
documentation's example on it).

Processes: a child made by ``fork()`` must not use the parent's device; in
it every endpoint reads as deinitialised and every other call raises
``OSError(EPERM)``. It may exec, or use a fresh process (multiprocessing's
"spawn" or "forkserver") that opens a virtual core of its own.
"""
import asyncio as _asyncio
import atexit as _atexit
import os as _os

from . import _openamp
from ._openamp import ENDPOINT_ADDR_ANY, RemoteProc, new_service_callback

__all__ = ["Endpoint", "RemoteProc", "new_service_callback", "ENDPOINT_ADDR_ANY", "set_backend"]


def set_backend(name):
    """Choose the backend before first use: "kernel" (Linux's remoteproc and
    rpmsg char devices), "virtual" (the virtual core) or None (automatic:
    AMP_PLATFORM, else "kernel" when the machine has a processor in
    /sys/class/remoteproc or a /dev/rpmsg_ctrl* device). Returns it."""
    return _openamp._set_backend(name)


def __getattr__(name):
    if name == "backend":  # the one in use, else the one first use will pick
        return _openamp._backend()
    raise AttributeError("module 'openamp' has no attribute %r" % (name,))


def example_firmware(name="virtual_uart.elf"):
    """The path of an example firmware shipped with the package: the
    virtual core's echo service on "vuart-channel" (virtual_uart.elf)."""
    path = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "firmware", name)
    if not _os.path.isfile(path):
        raise FileNotFoundError(2, "no example firmware %r in this installation (built with the "
                                   "extension on x86-64 Linux only)" % name, path)
    return path


class Endpoint(_openamp.Endpoint):
    __doc__ = _openamp.Endpoint.__doc__

    async def recv_async(self, n=-1):
        """Wait for the next message without blocking the event loop.

        For endpoints created with callback=None, like recv().
        """
        loop = _asyncio.get_running_loop()
        while True:
            try:
                return self.recv(n, timeout=0)
            except BlockingIOError:
                pass
            ready = loop.create_future()
            fd = self.fileno()
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await ready
            finally:
                loop.remove_reader(fd)


# Stop the remote and the service threads before the interpreter goes away.
_atexit.register(_openamp._shutdown)
