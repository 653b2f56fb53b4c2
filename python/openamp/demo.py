"""The example from the openamp module's documentation, made finite (five
echoes), on the echo firmware shipped with the package. From any directory:

    python3 -m openamp.demo              # run it
    python3 -m openamp.demo --firmware   # print the firmware's path

Exit status 0 if every message came back.
"""
import sys
import time

import openamp


def main(argv=()):
    firmware = openamp.example_firmware()
    if "--firmware" in argv:
        print(firmware)
        return 0
    received = []

    def ept_recv_callback(src, data):
        received.append(bytes(data))
        print("Received message on endpoint", bytes(data), "from", src)

    ept = openamp.Endpoint("vuart-channel", callback=ept_recv_callback)
    rproc = openamp.RemoteProc(firmware)
    rproc.start()
    sent = 0
    deadline = time.monotonic() + 10  # in case the remote never comes up
    while sent < 5 and time.monotonic() < deadline:
        if ept.is_ready():
            ept.send("data %d" % sent)
            sent += 1
        else:
            time.sleep(0.001)
    deadline = time.monotonic() + 5
    while len(received) < sent and time.monotonic() < deadline:
        time.sleep(0.01)
    print("demo: %d sent, %d echoed back; remote %s" % (sent, len(received), rproc.state))
    rproc.shutdown()
    ept.deinit()
    return 0 if sent == 5 and len(received) == sent else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
