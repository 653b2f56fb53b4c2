#!/bin/sh
# footprint.sh OUTDIR - build the library for Cortex-M4 (every source, with
# -Werror) and measure the remote side: device-role vrings + RPMsg + name
# service + zero-copy, -Os, --gc-sections, with a table of what each
# function costs. Fails if the remote's text is over AMP_FOOTPRINT_MAX
# bytes (default: the budget below).
set -eu
OUT=${1:-build/m4}
# A regression budget, not the goal: the issue asked for 2,000 bytes, which
# this feature set with every peer check does not reach (README, "Size").
# 3700 + 150 for the interoperability fixes of issue 9 (3,610 -> 3,838:
# queued NS destroys 100, continuing from the shared used index, feature
# check, always_notify, tx_poll_ms / busy-poll waits).
MAX=${AMP_FOOTPRINT_MAX:-3850}
CC=arm-none-eabi-gcc
mkdir -p "$OUT"

cmake -S . -B "$OUT/lib" -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake \
    -DCMAKE_BUILD_TYPE=MinSizeRel -DAMP_BUILD_TESTS=OFF >/dev/null
cmake --build "$OUT/lib" >/dev/null
echo "footprint: the whole library for Cortex-M4 (-Os), per file:"
arm-none-eabi-size -t "$OUT/lib/libamp.a" | sed 's/^/  /'

# The remote's configuration: device role only, no lock, no cache
# maintenance (a Cortex-M4 has no data cache), no announcement cache.
CFLAGS="-mcpu=cortex-m4 -mthumb -Os -ffunction-sections -fdata-sections -std=c11 -Wall -Wextra -Werror
    -DAMP_CFG_HOST=0 -DAMP_CFG_LOCK=0 -DAMP_CFG_CACHE=0 -DAMP_CFG_RPMSG_NS_CACHE=0 -Iinclude"
for f in src/amp_vring.c src/amp_rpmsg.c tools/footprint_remote.c; do
    $CC $CFLAGS -c "$f" -o "$OUT/$(basename "$f" .c).o"
done
$CC -mcpu=cortex-m4 -mthumb -nostartfiles -Wl,--gc-sections -Wl,-e,footprint_main \
    -Wl,-Map="$OUT/remote.map" "$OUT/amp_vring.o" "$OUT/amp_rpmsg.o" "$OUT/footprint_remote.o" \
    -o "$OUT/remote.elf"
python3 tools/footprint.py "$OUT/remote.map" "$MAX" -v

# The host side that MicroPython's module adds on a Cortex-M7 (STM32H7):
# the whole library, the binding core and the port. The module's own two
# files need a MicroPython tree: MICROPY=/path/to/micropython adds them,
# compiled against the generated headers of a unix-port build of the
# module with AMP_PLATFORM=stm32h7 (MICROPY_BUILD, the build directory),
# threads off.
M7="-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard -Os -ffunction-sections -fdata-sections
    -std=c11 -Wall -Wextra -Werror -DAMPY_EVENTS=96 -Iinclude -Ibind -Iports/stm32h7"
mkdir -p "$OUT/m7"
set --
for f in src/amp_vring.c src/amp_rpmsg.c src/amp_rsc.c src/amp_elf.c src/amp_rproc.c bind/ampy.c \
    ports/stm32h7/amp_stm32h7.c; do
    $CC $M7 -c "$f" -o "$OUT/m7/$(basename "$f" .c).o"
    set -- "$@" "$OUT/m7/$(basename "$f" .c).o"
done
if [ -n "${MICROPY:-}" ]; then
    MP="-I$MICROPY -I$MICROPY/ports/unix -I${MICROPY_BUILD:-$MICROPY/ports/unix/build-standard}
        -I$MICROPY/ports/unix/variants/standard -DMICROPY_PY_THREAD=0
        -DMICROPY_SCHEDULER_STATIC_NODES=1 -DMICROPY_PY_OPENAMP_AMP=1"
    for f in micropython/openamp/modopenamp.c micropython/openamp/platform_stm32h7.c; do
        $CC $M7 -std=gnu99 -Wno-error $MP -c "$f" -o "$OUT/m7/$(basename "$f" .c).o"
        set -- "$@" "$OUT/m7/$(basename "$f" .c).o"
    done
fi
echo "footprint: the MicroPython module's host side on Cortex-M7 (-Os), per object:"
arm-none-eabi-size -t "$@" | sed 's/^/  /'
[ -n "${MICROPY:-}" ] || echo "footprint: (modopenamp.c and platform_stm32h7.c not counted: set MICROPY=/path/to/micropython)"
