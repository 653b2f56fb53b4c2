# The example from the openamp module's documentation, made finite: it
# stops after five echoes. Run it with `make demo`, or by hand from the
# directory holding virtual_uart.elf (build/firmware):
#     PYTHONPATH=python python3 examples/demo.py
import time

import openamp

received = 0


def ept_recv_callback(src, data):
    global received
    received += 1
    # data is a bytearray copy of the message (zero_copy=True: a view of the buffer)
    print("Received message on endpoint", bytes(data), "from", src)


# Create a new RPMsg endpoint to communicate with the remote core.
ept = openamp.Endpoint("vuart-channel", callback=ept_recv_callback)

# Create a RemoteProc object, load its firmware and start it.
rproc = openamp.RemoteProc("virtual_uart.elf")  # Or entry point address (ex 0x081E0000)
rproc.start()

sent = 0
deadline = time.time() + 10  # in case the remote never comes up
while sent < 5 and time.time() < deadline:
    if ept.is_ready():
        ept.send("data %d" % sent)
        sent += 1

deadline = time.time() + 5
while received < sent and time.time() < deadline:
    time.sleep(0.01)

print("demo: %d sent, %d echoed back; remote %s" % (sent, received, rproc.state))
print("demo: firmware trace:", rproc.trace().strip())
rproc.shutdown()
raise SystemExit(0 if received == sent else 1)
