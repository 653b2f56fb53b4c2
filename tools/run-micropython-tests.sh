#!/bin/sh
# run-micropython-tests.sh - the shared Python tests on a MicroPython binary
# of your own, built with this module (see the README):
#
#     MICROPYTHON=/path/to/micropython make test-micropython
#
# The project never builds MicroPython itself; without a binary nothing is
# run, and that is said plainly (exit status 2, not a pass). After the
# tests it prints the callback path's figures on MicroPython next to
# CPython's (the exit status is the tests').
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
(cd python/tests && AMP_FIRMWARE_DIR="$FW" AMP_UART=null "$MICROPYTHON" run.py "$@")
status=$?

# The callback path's figures (bench/py_callbacks.py, not a test: they
# depend on the machine and its load), MicroPython's next to CPython's from
# the same run: AMP_BENCH_RUNS rounds (default 3), the two interpreters in
# turn, and the median of each figure. AMP_BENCH_FLOOD: messages in the
# echo flood (default 50000).
flood=${AMP_BENCH_FLOOD:-50000}
runs=${AMP_BENCH_RUNS:-3}
figures() { # figures NAME INTERPRETER: "RESULT" lines of the bench, or why not
    out=$(cd "$TOP" && AMP_UART=null PYTHONPATH="$TOP/python" "$2" bench/py_callbacks.py "$FW" "$flood" 2>&1)
    echo "$out" | grep "^RESULT" || echo "$out" | tail -n 3 | sed "s/^/  $1: /"
}
values() { # values KEY LINES: every run's value, in order
    echo "$2" | awk -v k="$1" '$1 == "RESULT" && $2 == k { printf "%s ", $3 }'
}
median() { # median VALUES...
    [ $# -gt 0 ] || { echo "-"; return; }
    printf "%s\n" "$@" | sort -n | sed -n "$((($# + 1) / 2))p"
}
echo "==== the callback path, MicroPython and CPython in the same run (bench/py_callbacks.py; not a test)"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
mp="" cp=""
i=0
while [ $i -lt "$runs" ]; do
    mp="$mp
$(figures micropython "$MICROPYTHON")"
    cp="$cp
$(figures cpython "${PYTHON:-/usr/bin/python3}")"
    i=$((i + 1))
done
echo "load after:  $(uptime | sed 's/.*load average/load average/')"
printf "%s\n%s\n" "$mp" "$cp" | grep -v "^RESULT" | grep . || true
row() { # row LABEL UNIT KEY: median, then each run
    m=$(values "micropython_$3" "$mp") c=$(values "cpython_$3" "$cp")
    printf "%-38s %10s %-5s %10s %-5s (runs: %s/ %s)\n" "$1" "$(median $m)" "$2" "$(median $c)" "$2" "$m" "$c"
}
printf "%-38s %16s %16s   median of %d runs\n" "" "MicroPython" "CPython" "$runs"
row "16-byte round trip through a callback" us rtt_callback_us
row "echo flood through callbacks ($flood)" msg/s echo_flood_msgps
exit $status
