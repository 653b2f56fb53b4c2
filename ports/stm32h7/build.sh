#!/bin/sh
# build.sh [OUTDIR] - compile-check the STM32H7 port with arm-none-eabi-gcc:
#   m7_host.elf       the M7 host example + the port + the whole library
#   m4_vuart.elf      the vUART remote (MicroPython layout, flash bank 2)
#   m4_vuart_fw.elf   the same with its own .resource_table (loaded to SRAM)
# Warnings are errors. Prints the sizes. OUTDIR defaults to build/stm32h7.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUT=${1:-build/stm32h7}
CC=arm-none-eabi-gcc
EX=$HERE/examples

# -ffreestanding implies -fno-builtin; -fbuiltin gives back the inlining
# of small fixed-size memcpy()s (the library reads shared words that way:
# one load instead of a call). Saves ~360 bytes on the M4.
COMMON="-Os -g -ffunction-sections -fdata-sections -std=c11 -ffreestanding -fbuiltin
    -Wall -Wextra -Werror -I$TOP/include -I$TOP/src -I$HERE"
M7="-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard"
M4="-mcpu=cortex-m4 -mthumb -mfloat-abi=soft"
LDFLAGS="-nostartfiles -Wl,--gc-sections" # newlib for memcpy, memset, strncmp

# build NAME "ARCH FLAGS" LDSCRIPT SOURCES...
build() {
    name=$1 flags=$2 ld=$3
    shift 3
    dir=$OUT/$name
    mkdir -p "$dir"
    objs=""
    for src in "$@"; do
        obj=$dir/$(basename "$src" .c).o
        # shellcheck disable=SC2086 # flag lists are meant to split
        $CC $flags $COMMON -c "$src" -o "$obj"
        objs="$objs $obj"
    done
    # shellcheck disable=SC2086
    $CC $flags $LDFLAGS -T "$ld" -Wl,-Map="$dir/$name.map" $objs -o "$OUT/$name.elf"
}

mkdir -p "$OUT"

build m7_host "$M7" "$EX/m7_host/m7.ld" \
    "$EX/m7_host/startup_m7.c" "$EX/m7_host/main.c" "$HERE/amp_stm32h7.c" \
    "$TOP/src/amp_vring.c" "$TOP/src/amp_rpmsg.c" "$TOP/src/amp_rsc.c" \
    "$TOP/src/amp_rproc.c" "$TOP/src/amp_elf.c"

REMOTE_SRCS="$EX/m4_vuart/startup_m4.c $EX/m4_vuart/m4_port.c $EX/m4_vuart/main.c
    $TOP/src/amp_vring.c $TOP/src/amp_rpmsg.c $TOP/src/amp_rsc.c"
# shellcheck disable=SC2086
build m4_vuart "$M4 -DAMP_CFG_HOST=0" "$EX/m4_vuart/m4_flash.ld" $REMOTE_SRCS
# shellcheck disable=SC2086
build m4_vuart_fw "$M4 -DAMP_CFG_HOST=0 -DVUART_FW_TABLE=1" "$EX/m4_vuart/m4_sram.ld" $REMOTE_SRCS

echo "stm32h7: sizes (text = code + read-only data, data, bss)"
arm-none-eabi-size "$OUT/m7_host.elf" "$OUT/m4_vuart.elf" "$OUT/m4_vuart_fw.elf"
