#!/bin/sh
# run-micropython-qemu.sh - the shared Python tests on MicroPython in
# QEMU's mps2-an521: MicroPython on core 0 (a qemu-port binary of your own,
# built with the board in ports/an521/micropython and amp's module), the
# firmware on core 1, loaded by path through semihosting:
#
#     MICROPYTHON_QEMU=/path/to/firmware.elf make test-micropython-qemu
#
# The project never builds MicroPython itself; without a binary nothing is
# run, and that is said plainly (exit status 2, not a pass). The core-1
# firmware is built here (ports/an521/build.sh). Takes about a minute.
set -u
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
TOP=$(pwd)
if [ -z "${MICROPYTHON_QEMU:-}" ] || [ ! -f "${MICROPYTHON_QEMU:-}" ]; then
    echo "test-micropython-qemu: no MicroPython firmware.elf given: nothing was run (not a pass)."
    echo "  Build MicroPython's qemu port with"
    echo "    make -C ports/qemu BOARD=MPS2_AN521 BOARD_DIR=$TOP/ports/an521/micropython \\"
    echo "         USER_C_MODULES=$TOP/micropython"
    echo "  then MICROPYTHON_QEMU=/path/to/build-MPS2_AN521/firmware.elf make test-micropython-qemu"
    exit 2
fi
if ! grep -a -q ENDPOINT_ADDR_ANY "$MICROPYTHON_QEMU"; then
    echo "test-micropython-qemu: $MICROPYTHON_QEMU has no openamp module from amp:" \
        "build it with USER_C_MODULES=$TOP/micropython (nothing was run)."
    exit 2
fi
if ! sh ports/an521/build.sh "$BUILD/an521" >"$BUILD/an521-mpy-build.log" 2>&1; then
    cat "$BUILD/an521-mpy-build.log"
    exit 1
fi
echo "test-micropython-qemu: $MICROPYTHON_QEMU"
exec "$PYTHON" tools/micropython_qemu.py "$MICROPYTHON_QEMU" "$BUILD/an521/firmware" "$@"
