#!/bin/sh
# run-micropython-tests.sh - the shared Python tests on a MicroPython binary
# of your own, built with this module (see the README):
#
#     MICROPYTHON=/path/to/micropython make test-micropython
#
# The project never builds MicroPython itself; without a binary nothing is
# run, and that is said plainly (exit status 2, not a pass).
set -u
BUILD=${BUILD:-build}
TOP=$(pwd)
case "$BUILD" in /*) FW=$BUILD/firmware ;; *) FW=$TOP/$BUILD/firmware ;; esac
if [ -z "${MICROPYTHON:-}" ]; then
    echo "test-micropython: no MicroPython binary given: nothing was run (not a pass)."
    echo "  Build MicroPython's unix port with USER_C_MODULES=$TOP/micropython, then"
    echo "  MICROPYTHON=/path/to/micropython make test-micropython"
    exit 2
fi
if ! "$MICROPYTHON" -c "import openamp; openamp.Endpoint" >/dev/null 2>&1; then
    echo "test-micropython: $MICROPYTHON has no openamp module from amp:" \
        "build it with USER_C_MODULES=$TOP/micropython (nothing was run)."
    exit 2
fi
echo "test-micropython: $MICROPYTHON"
cd python/tests && AMP_FIRMWARE_DIR="$FW" AMP_UART=null exec "$MICROPYTHON" run.py "$@"
