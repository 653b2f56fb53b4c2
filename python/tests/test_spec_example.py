# The openamp module documentation's example, as written, with its
# `while True` loop bounded, and the module-level names the spec lists.
import os

import amptest
import openamp

SENDS = 20


def test_spec_example_verbatim():
    seen = []
    cwd = os.getcwd()
    os.chdir(amptest.FIRMWARE_DIR)  # the example names the image relative to here
    ept = rproc = None
    try:
        # ---- from the spec (print kept; one line added to record) ----
        def ept_recv_callback(src, data):
            print("Received message on endpoint", data)
            seen.append((src, bytes(data)))

        # Create a new RPMsg endpoint to communicate with the remote core.
        ept = openamp.Endpoint("vuart-channel", callback=ept_recv_callback)

        # Create a RemoteProc object, load its firmware and start it.
        rproc = openamp.RemoteProc("virtual_uart.elf")  # Or entry point address (ex 0x081E0000)
        rproc.start()

        sent = 0
        t0 = amptest.now_ms()
        while sent < SENDS:  # was: while True
            if ept.is_ready():
                ept.send("data")
                sent += 1
            assert amptest.elapsed_ms(t0) < 10000, "endpoint never became ready"
        # ---- end of the spec's example ----

        assert amptest.wait_until(lambda: len(seen) >= SENDS, 5), "%d of %d echoes" % (len(seen), SENDS)
        assert len(seen) == SENDS
        assert all(d == b"data" for _, d in seen)
        assert all(src == ept.dest for src, _ in seen)  # from the remote's vuart-channel
        amptest.quiescent()
    finally:
        os.chdir(cwd)
        if ept is not None:
            ept.deinit()
        if rproc is not None:
            rproc.shutdown()


def test_module_names():
    assert openamp.ENDPOINT_ADDR_ANY == 0xFFFFFFFF
    assert callable(openamp.new_service_callback)
    assert isinstance(openamp.Endpoint, type)
    assert isinstance(openamp.RemoteProc, type)
    for m in ("deinit", "is_ready", "send"):
        assert callable(getattr(openamp.Endpoint, m)), m
    for m in ("start", "stop", "shutdown"):
        assert callable(getattr(openamp.RemoteProc, m)), m
