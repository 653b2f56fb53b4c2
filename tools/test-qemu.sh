#!/bin/sh
# test-qemu.sh [OUTDIR] - amp on a real Cortex-M: build everything for
# QEMU's mps2-an521 (ports/an521/build.sh), then run the test host
# (tests/qemu/host_test.c) on core 0 with the firmware on core 1, once in
# each TCG mode: the default multi-threaded one (the cores really run in
# parallel) and -accel tcg,thread=single (one host thread takes turns);
# then, in both modes again, the tests of the remote's RPMsg against the
# firmware built with the lean remote (firmware-lean/, AMP_CFG_RPMSG_LEAN).
# Never -icount: it starves core 1.
#
# A run passes only if QEMU exits with status 0 AND printed
# "an521: N passed, 0 failed": a guest reset also exits with 0 (with
# -no-reboot), and a hang is ended by the timeout. Prints the footprint
# (sizes of the firmware and of the host's amp code) and, last,
# "test-qemu: N passed, M failed" for tools/run-tests.sh.
set -u
OUT=${1:-build/an521}
TIMEOUT=${QEMU_TIMEOUT:-120}
QEMU=${QEMU:-qemu-system-arm}
passed=0
failed=0

if ! command -v "$QEMU" >/dev/null 2>&1; then
    echo "test-qemu: $QEMU not found (make deps installs qemu-system-arm)"
    echo "test-qemu: 0 passed, 1 failed"
    exit 1
fi
mkdir -p "$OUT"
if ! sh ports/an521/build.sh "$OUT" >"$OUT/build.log" 2>&1; then
    cat "$OUT/build.log"
    echo "test-qemu: 0 passed, 1 failed"
    exit 1
fi
FW=$(cd "$OUT/firmware" && pwd)
FWLEAN=$(cd "$OUT/firmware-lean" && pwd)

# run NAME HOST_TEST_ARGS [QEMU OPTIONS...]; the arguments as semihosting
# passes them: arg=FIRMWARE_DIR[,arg=lean]
run() {
    name=$1
    args=$2
    shift 2
    log=$OUT/$name.log
    start=$(date +%s)
    timeout "$TIMEOUT" "$QEMU" -M mps2-an521 -display none -monitor none -no-reboot \
        -serial stdio -serial "file:$OUT/$name.core1.log" \
        -semihosting-config "enable=on,target=native,arg=an521_test,$args" \
        -kernel "$OUT/an521_test.elf" "$@" >"$log" 2>&1
    rc=$?
    line=$(grep -E '^an521: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=$(echo "$line" | sed -E 's/^an521: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    grep -E 'FAIL' "$log"
    if [ -n "$line" ] && [ "$rc" = 0 ] && [ "$f" = 0 ] && [ "$p" -gt 0 ]; then
        echo "test-qemu: $name: $p passed in $(($(date +%s) - start)) s"
        passed=$((passed + p))
    else
        echo "test-qemu: $name: FAILED (QEMU exit status $rc$([ "$rc" = 124 ] && echo ': timeout'), result line '${line:-none}')"
        tail -n 15 "$log"
        echo "  core 1 said (last lines of $OUT/$name.core1.log):"
        tail -n 5 "$OUT/$name.core1.log" 2>/dev/null
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        [ "${f:-0}" -gt 0 ] || failed=$((failed + 1))
    fi
}

echo "test-qemu: mps2-an521, host on core 0, firmware on core 1 ($($QEMU --version | head -n 1))"
run mttcg "arg=$FW"
run tcg-single "arg=$FW" -accel tcg,thread=single
run lean-mttcg "arg=$FWLEAN,arg=lean"
run lean-tcg-single "arg=$FWLEAN,arg=lean" -accel tcg,thread=single

echo "test-qemu: footprint on the real images (Cortex-M33, -Os, linked with --gc-sections):"
# text + rodata that objects named NAME.o put into a linked image, from its map
linked() {
    awk -v o="/$2.o" '/^Linker script and memory map/ { go = 1 } go && /^ \.(text|rodata)/ { if (NF == 1) { getline; sz = $2; obj = $3 } else { sz = $3; obj = $4 }
            if (index(obj, o)) print sz }' "$1" | while read -r x; do printf '%d\n' "$x"; done |
        awk '{ s += $1 } END { print s + 0 }'
}
sum() { # MAP NAMES...
    map=$1
    shift
    t=0
    for f in "$@"; do t=$((t + $(linked "$map" "$f"))); done
    echo "$t"
}
echo "  core 1, virtual_uart.elf: $(arm-none-eabi-size "$OUT/firmware/virtual_uart.elf" | awk 'NR == 2 { print $1 " text, " $2 " data, " $3 " bss" }')" \
    "(amp: $(sum "$OUT/firmware/virtual_uart.map" amp_vring amp_rpmsg amp_rsc) bytes of it)"
echo "  core 1, virtual_uart_hosttable.elf: $(arm-none-eabi-size "$OUT/firmware/virtual_uart_hosttable.elf" | awk 'NR == 2 { print $1 " text, " $2 " data, " $3 " bss" }')" \
    "(amp: $(sum "$OUT/firmware/virtual_uart_hosttable.map" amp_vring amp_rpmsg amp_rsc) bytes of it)"
echo "  core 1, lean remote (AMP_CFG_RPMSG_LEAN), virtual_uart.elf:" \
    "$(arm-none-eabi-size "$OUT/firmware-lean/virtual_uart.elf" | awk 'NR == 2 { print $1 " text, " $2 " data, " $3 " bss" }')" \
    "(amp: $(sum "$OUT/firmware-lean/virtual_uart.map" amp_vring amp_rpmsg amp_rsc) bytes of it)"
echo "  core 0, the host's amp code in an521_test.elf:" \
    "$(sum "$OUT/an521_test.map" amp_vring amp_rpmsg amp_rsc amp_elf amp_rproc amp_an521) bytes" \
    "(library $(sum "$OUT/an521_test.map" amp_vring amp_rpmsg amp_rsc amp_elf amp_rproc)," \
    "port $(linked "$OUT/an521_test.map" amp_an521))"
echo "test-qemu: $passed passed, $failed failed"
[ "$failed" = 0 ]
