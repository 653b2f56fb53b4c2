#!/bin/sh
# build.sh [OUTDIR] - build everything for QEMU's mps2-an521 with
# arm-none-eabi-gcc (Cortex-M33, soft-float, -Os, warnings are errors):
#   firmware/*.elf    core 1: virtual_uart (own table), virtual_uart_hosttable
#                     (MicroPython layout), hostile, bench_peer, crash, names - the virtual
#                     core's examples built against sdk/vcore.h, plus
#                     tests/qemu/fw_crash.c
#   firmware-lean/*.elf  the one-endpoint ones again (virtual_uart,
#                     virtual_uart_hosttable, crash) with the lean remote
#                     (AMP_CFG_RPMSG_LEAN, tools/footprint.sh's "remote" switches)
#   an521_test.elf    core 0: the test host (tests/qemu/host_test.c), the
#                     port, the host runtime and the whole library
# and print the sizes. OUTDIR defaults to build/an521.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUT=${1:-build/an521}
CC=arm-none-eabi-gcc
# Core 0 of the SSE-200 has neither FPU nor DSP extension (QEMU faults
# on SMLABB there); core 1 has both, but the firmware needs neither.
ARCH="-mcpu=cortex-m33+nodsp -mthumb -mfloat-abi=soft"
# -fbuiltin after -ffreestanding: small fixed-size memcpy()s stay inline
COMMON="$ARCH -Os -g -ffunction-sections -fdata-sections -std=c11 -ffreestanding -fbuiltin
    -Wall -Wextra -Werror -I$TOP/include -I$HERE"
LDFLAGS="$ARCH -nostartfiles -Wl,--gc-sections" # newlib for memcpy, memset, strncmp

# compile DIR "FLAGS" SOURCES... -> objects listed in $objs
compile() {
    dir=$1 flags=$2
    shift 2
    mkdir -p "$dir"
    objs=""
    for src in "$@"; do
        obj=$dir/$(basename "$src" .c).o
        # shellcheck disable=SC2086 # flag lists are meant to split
        $CC $COMMON $flags -c "$src" -o "$obj"
        objs="$objs $obj"
    done
}

# link NAME LDSCRIPT OBJECTS...
link() {
    name=$1 ld=$2
    shift 2
    # shellcheck disable=SC2086
    $CC $LDFLAGS -T "$ld" -Wl,-Map="$OUT/$name.map" "$@" -o "$OUT/$name.elf"
}

mkdir -p "$OUT/firmware"

# ---- core 1: the remote library, the SDK, the firmware ----
SDK="-I$HERE/sdk -DAMP_CFG_HOST=0"
# the lean remote: the switches tools/footprint.sh measures as "remote"
LEAN="$SDK -DAMP_CFG_RPMSG_LEAN=1 -DAMP_CFG_LOCK=0 -DAMP_CFG_CACHE=0 -DAMP_CFG_RPMSG_NS_CACHE=0
    -DAMP_CFG_VRING_PARTS=0 -DAMP_CFG_RPMSG_EPT_MAX=1 -DAMP_CFG_RPMSG_WAIT=0 -DAMP_CFG_VRING_EVENT_IDX=0"

# remote DIR "FLAGS": the library and the SDK, each built with FLAGS
remote() {
    compile "$OUT/obj/$1" "$2" "$TOP/src/amp_vring.c" "$TOP/src/amp_rpmsg.c" "$TOP/src/amp_rsc.c" \
        "$HERE/sdk/an521_sdk.c" "$TOP/firmware/sdk/vc_common.c" "$HERE/an521_fmt.c" "$HERE/sdk/fw_table.c" \
        "$HERE/sdk/host_table.c"
    R=$OUT/obj/$1
    FLAGS=$2
    REMOTE="$R/amp_vring.o $R/amp_rpmsg.o $R/amp_rsc.o $R/an521_sdk.o $R/vc_common.o $R/an521_fmt.o"
}

# firmware DIR NAME TABLE(fw_table|host_table) SOURCE [FLAGS]: with the last remote()
firmware() {
    compile "$OUT/obj/$1/$2" "$FLAGS ${5:-}" "$4"
    # shellcheck disable=SC2086
    link "$1/$2" "$HERE/sdk/link.ld" $objs $REMOTE "$R/$3.o"
}
mkdir -p "$OUT/firmware-lean"
remote remote "$SDK"
firmware firmware virtual_uart fw_table "$TOP/firmware/examples/virtual_uart.c"
firmware firmware virtual_uart_hosttable host_table "$TOP/firmware/examples/virtual_uart.c" -DVC_HOST_TABLE
# a short attack: each round waits about a millisecond
firmware firmware hostile fw_table "$TOP/firmware/examples/hostile.c" -DHOSTILE_ROUNDS=400u
firmware firmware crash fw_table "$TOP/tests/qemu/fw_crash.c"
firmware firmware bench_peer fw_table "$TOP/firmware/examples/bench_peer.c"
firmware firmware names fw_table "$TOP/firmware/examples/names.c"
remote remote-lean "$LEAN"
firmware firmware-lean virtual_uart fw_table "$TOP/firmware/examples/virtual_uart.c"
firmware firmware-lean virtual_uart_hosttable host_table "$TOP/firmware/examples/virtual_uart.c" -DVC_HOST_TABLE
firmware firmware-lean crash fw_table "$TOP/tests/qemu/fw_crash.c"

# ---- core 0: the library, the port, the runtime, the test host ----
HOST="-I$HERE/host"
compile "$OUT/obj/host" "$HOST" "$TOP/src/amp_vring.c" "$TOP/src/amp_rpmsg.c" "$TOP/src/amp_rsc.c" \
    "$TOP/src/amp_elf.c" "$TOP/src/amp_rproc.c" "$HERE/amp_an521.c" "$HERE/host/an521_host.c" \
    "$HERE/an521_fmt.c" "$HERE/an521_semi.c" "$TOP/tests/qemu/host_test.c"
# shellcheck disable=SC2086
link an521_test "$HERE/host/host.ld" $objs

echo "an521: sizes (text = code + read-only data, data, bss)"
arm-none-eabi-size "$OUT/an521_test.elf" "$OUT"/firmware/*.elf "$OUT"/firmware-lean/*.elf
