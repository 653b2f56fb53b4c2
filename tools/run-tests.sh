#!/bin/sh
# run-tests.sh - the whole test suite, as `make test` runs it (the build is
# already done). Every stage runs even if an earlier one failed; the last
# line sums them up: "make test: N passed, M failed".
#
# Stages: ctest (normal build); ctest again under AddressSanitizer and
# UndefinedBehaviorSanitizer; gcc and clang Release builds; the Cortex-M4 cross build and footprint;
# pytest on the CPython module; pip install; the fuzzers' regression inputs
# and a short fuzzing run per target; the README's code blocks, install and
# cross build (tools/test-readme.sh); the AN521 tests under QEMU
# (tools/test-qemu.sh). Steps that print nothing for a while say every 5 s
# that they still run.
set -u
PYTHON=${PYTHON:-/usr/bin/python3}
BUILD=${BUILD:-build}
JOBS=${JOBS:-2}
TOP=$(pwd)
LOG=$BUILD/test-logs
mkdir -p "$LOG"
ABS=$(cd "$BUILD" && pwd) # the build directory, absolute
FW=$ABS/firmware
passed=0
failed=0
summary=""

. tools/ticking.sh # ticking NAME CMD...: says every 5 s that CMD still runs
exec 3>&1 # the terminal, for ticking() inside redirections

# stage NAME PASSED FAILED
stage() {
    passed=$((passed + $2))
    failed=$((failed + $3))
    summary="$summary
  $1: $2 passed, $3 failed"
}

# ctest's "N% tests passed, F tests failed out of T"
ctest_counts() {
    line=$(grep -E "tests passed, [0-9]+ tests? failed out of" "$1" | tail -n 1)
    total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
    fail=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed.*/\1/')
    if [ -z "$line" ]; then echo "0 1"; else echo "$((total - fail)) $fail"; fi
}

echo "==== ctest ($BUILD)"
(cd "$BUILD" && ctest --output-on-failure -j"$JOBS") 2>&1 | tee "$LOG/ctest.log"
set -- $(ctest_counts "$LOG/ctest.log")
stage "ctest" "$1" "$2"

echo "==== ctest under ASan + UBSan ($BUILD/asan)"
if cmake -S . -B "$BUILD/asan" -DCMAKE_BUILD_TYPE=Debug -DAMP_SANITIZE=ON -DAMP_BUILD_BENCH=OFF >/dev/null &&
    ticking "building with sanitizers" cmake --build "$BUILD/asan" -j"$JOBS" >"$LOG/asan-build.log" 2>&1; then
    (cd "$BUILD/asan" && AMP_INTEGRITY_COUNT=100000 ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$JOBS") 2>&1 |
        tee "$LOG/asan.log"
    set -- $(ctest_counts "$LOG/asan.log")
    stage "ctest (sanitizers)" "$1" "$2"
else
    tail -n 30 "$LOG/asan-build.log"
    stage "ctest (sanitizers): build" 0 1
fi

# Every -Werror build of the repository (library, ports, firmware, tests)
# in the configurations users pick, so a warning only -O3 or clang sees
# cannot hide: gcc Release (-O3), clang Release (compile and link only).
echo "==== other builds: gcc -O3, clang -O3 (compile check)"
for cc in gcc clang; do
    dir="$BUILD/release-$cc"
    if CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release >"$LOG/release-$cc.log" 2>&1 &&
        ticking "$cc Release build" cmake --build "$dir" -j"$JOBS" >>"$LOG/release-$cc.log" 2>&1; then
        echo "$cc Release: built"
        stage "$cc Release build" 1 0
    else
        grep -E "error|warning:" "$LOG/release-$cc.log" | head -n 20
        stage "$cc Release build" 0 1
    fi
done

echo "==== Cortex-M4 build and footprint"
ticking "cortex-m4 build" sh tools/footprint.sh "$BUILD/m4" >"$LOG/footprint.log" 2>&1
rc=$?
cat "$LOG/footprint.log"
if [ $rc = 0 ]; then stage "cortex-m4 build + footprint" 1 0; else stage "cortex-m4 build + footprint" 0 1; fi

echo "==== STM32H7 port: M7 host and M4 firmware (compile check)"
ticking "stm32h7 build" sh ports/stm32h7/build.sh "$BUILD/stm32h7" >"$LOG/stm32h7.log" 2>&1
rc=$?
tail -n 6 "$LOG/stm32h7.log"
if [ $rc = 0 ]; then stage "stm32h7 build" 1 0; else stage "stm32h7 build" 0 1; fi

if [ -d python/tests ]; then
    echo "==== pytest (CPython module)"
    AMP_FIRMWARE_DIR="$FW" PYTHONPATH="$TOP/python" AMP_UART=null \
        "$PYTHON" -m pytest -q -p no:cacheprovider python/tests 2>&1 | tee "$LOG/pytest.log"
    line=$(tail -n 1 "$LOG/pytest.log")
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
    f=0
    for n in $(echo "$line" | grep -oE '[0-9]+ (failed|errors?)' | grep -oE '^[0-9]+'); do f=$((f + n)); done
    [ -n "$p" ] || p=0
    if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; fi
    stage "pytest" "$p" "$f"
fi

echo "==== pip install . (a venv, Debian's setuptools, no downloads), then python -m openamp.demo in /"
rm -rf "$ABS/venv"
if "$PYTHON" -m venv --system-site-packages "$ABS/venv" >"$LOG/pip.log" 2>&1 &&
    ticking "pip install" "$ABS/venv/bin/pip" install --no-build-isolation --no-index . >>"$LOG/pip.log" 2>&1 &&
    (cd / && AMP_UART=null "$ABS/venv/bin/python" -m openamp.demo) >>"$LOG/pip.log" 2>&1 &&
    "$ABS/venv/bin/python" -m openamp.demo --firmware | grep -q "^$ABS/venv/.*/openamp/firmware/virtual_uart.elf$"; then
    tail -n 1 "$LOG/pip.log"
    stage "pip install + demo" 1 0
else
    tail -n 20 "$LOG/pip.log"
    stage "pip install + demo" 0 1
fi

if [ -f fuzz/run.sh ]; then
    echo "==== fuzzing: regression inputs and short runs"
    if ticking "fuzzing (build, replay, ${FUZZ_SECONDS:-20} s per target)" \
        env FUZZ_SECONDS="${FUZZ_SECONDS:-20}" BUILD="$BUILD" sh fuzz/run.sh >"$LOG/fuzz.log" 2>&1; then
        cat "$LOG/fuzz.log"
        stage "fuzz" "$(grep -c '^fuzz: .* ok' "$LOG/fuzz.log")" 0
    else
        cat "$LOG/fuzz.log"
        stage "fuzz" "$(grep -c '^fuzz: .* ok' "$LOG/fuzz.log")" 1
    fi
fi

echo "==== the README: its C blocks built and run, install, cross build"
sh tools/test-readme.sh "$BUILD" 2>&1 | tee "$LOG/readme.log"
set -- $(tail -n 1 "$LOG/readme.log" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p')
if [ $# = 2 ]; then stage "readme" "$1" "$2"; else stage "readme" 0 1; fi

echo "==== QEMU mps2-an521: host on core 0, firmware on core 1 (tools/test-qemu.sh)"
sh tools/test-qemu.sh "$BUILD/an521" 2>&1 | tee "$LOG/qemu.log"
line=$(grep -E '^test-qemu: [0-9]+ passed, [0-9]+ failed' "$LOG/qemu.log" | tail -n 1)
if [ -n "$line" ]; then
    set -- $(echo "$line" | sed -E 's/^test-qemu: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/')
    stage "qemu an521" "$1" "$2"
else
    stage "qemu an521" 0 1
fi

echo "==== STM32H7 memory map vs the MicroPython boards"
"$PYTHON" tools/check-stm32h7-layout.py "$BUILD/stm32h7" >"$LOG/stm32h7-layout.log" 2>&1
rc=$?
tail -n 1 "$LOG/stm32h7-layout.log"
p=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' "$LOG/stm32h7-layout.log")
f=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' "$LOG/stm32h7-layout.log")
if [ $rc != 0 ]; then grep FAIL "$LOG/stm32h7-layout.log"; [ "${f:-0}" = 0 ] && f=1; fi
stage "stm32h7 layout" "${p:-0}" "${f:-0}"


echo "==== Linux 6.12 as a peer: User-Mode Linux against amp serve --vhost-user"
BUILD="$BUILD" sh tests/uml/test-linux.sh 2>&1 | tee "$LOG/linux-peer.log"
line=$(grep -E '^test-linux: [0-9]+ passed, [0-9]+ failed' "$LOG/linux-peer.log" | tail -n 1)
p=$(echo "$line" | sed -nE 's/.* ([0-9]+) passed.*/\1/p')
f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
[ -n "$line" ] || f=1
stage "linux peer (uml)" "${p:-0}" "${f:-1}"

if [ -f tools/test-kernel-uml.sh ]; then
    echo "==== kernel backend: the openamp module on Linux's rpmsg, in User-Mode Linux"
    BUILD="$BUILD" PYTHON="$PYTHON" sh tools/test-kernel-uml.sh 2>&1 | tee "$LOG/kernel-uml-stage.log"
    set -- $(sed -n 's/^kernel-uml: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$LOG/kernel-uml-stage.log" | tail -n 1)
    stage "kernel backend (UML)" "${1:-0}" "${2:-1}"
fi

echo "==== summary$summary"
echo "make test: $passed passed, $failed failed"
[ "$failed" = 0 ]
