#!/bin/sh
# test-readme.sh [BUILD] - the README as a new user reads it, checked from
# the README itself (run from the top of the tree, after the build):
#   - every C block (tools/readme_blocks.py): a host program is built with
#     the documented command line and run next to the example firmware; a
#     virtual-core firmware is added to the firmware build as documented
#     and run with `amp run`; any other C compiles freestanding for the host
#     and for Cortex-M4, warnings as errors; Python blocks compile;
#   - `cmake --install BUILD --prefix P` installs what the C API section
#     says, and the host example builds against it through pkg-config;
#   - the README's own cross-build commands build libamp.a for Cortex-M4.
# Prints progress, then "N passed, N failed".
set -u
BUILD=${1:-build}
ABS=$(cd "$BUILD" && pwd)
FW=$ABS/firmware
W=$ABS/readme
CFLAGS="-Wall -Wextra -Werror"
passed=0
failed=0
rm -rf "$W"
mkdir -p "$W/blocks"
LOG=$W/log

check() { # NAME CONDITION...
    name=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; tail -n 20 "$LOG" 2>/dev/null; fi
}
has() { grep -q -- "$2" "$1"; }
run() { "$@" >"$LOG" 2>&1; }

echo "readme: extracting code blocks from README.md"
blocks=$(python3 tools/readme_blocks.py README.md "$W/blocks")
check "README has C blocks" sh -c "echo '$blocks' | grep -q '\\.c$'"

for b in $blocks; do
    n=$(basename "$b" | sed 's/\..*//')
    line=${n%%-*}
    line=${line#"${line%%[!0]*}"}
    what="block at README.md:$line"
    echo "readme: $what ($(basename "$b"))"
    case $b in
    *-host.c)
        run cc $CFLAGS -I include -I ports/linux "$b" -o "$W/$n" \
            "$ABS/ports/linux/libamp_linux.a" "$ABS/libamp.a" -lpthread
        check "$what: builds as documented (in the tree)" [ $? = 0 ]
        (cd "$FW" && AMP_UART=null timeout 20 "$W/$n") >"$W/$n.out" 2>&1
        check "$what: runs next to the example firmware (exit 0)" [ $? = 0 ]
        check "$what: prints the echo" has "$W/$n.out" "hello"
        ;;
    *-vcore.c)
        run sh -c "cmake -S . -B '$W/fw' -DAMP_EXTRA_FIRMWARE='$b' -DAMP_BUILD_TESTS=OFF \
            -DAMP_BUILD_BENCH=OFF && cmake --build '$W/fw' --target 'fw_$n' -j2"
        check "$what: builds as an amp_firmware() with RSC_TABLE" [ $? = 0 ]
        printf 'hello\n' | timeout 20 "$ABS/amp" run "$W/fw/firmware/$n.elf" --quiet >"$W/$n.out" 2>&1
        check "$what: amp run echoes" [ "$(cat "$W/$n.out")" = hello ]
        ;;
    *-c.c)
        run cc -std=c11 $CFLAGS -ffreestanding -I include -c "$b" -o "$W/$n.o"
        check "$what: compiles (host, freestanding)" [ $? = 0 ]
        if command -v arm-none-eabi-gcc >/dev/null; then
            run arm-none-eabi-gcc -std=c11 -mcpu=cortex-m4 -mthumb $CFLAGS -ffreestanding -I include -c "$b" -o "$W/$n.m4.o"
            check "$what: compiles (Cortex-M4)" [ $? = 0 ]
        fi
        ;;
    *-python.py)
        run python3 -c 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")' "$b"
        check "$what: Python compiles" [ $? = 0 ]
        ;;
    esac
done

echo "readme: cmake --install $BUILD --prefix $W/prefix"
P=$W/prefix
run cmake --install "$BUILD" --prefix "$P"
check "install: exit 0" [ $? = 0 ]
for f in include/amp/amp.h include/amp/amp_host.h include/amp/amp_vhost.h lib/libamp.a lib/libamp_linux.a \
    lib/pkgconfig/amp.pc lib/pkgconfig/amp_linux.pc lib/cmake/amp/ampConfig.cmake; do
    check "install: $f" [ -f "$P/$f" ]
done
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
inc=$(pkg-config --variable=includedir amp 2>/dev/null)
check "install: amp.pc points into the prefix ($inc)" [ "$(cd "$inc" 2>/dev/null && pwd)" = "$P/include" ]
for b in "$W"/blocks/*-host.c; do
    [ -f "$b" ] || continue
    n=$(basename "$b" .c)
    # shellcheck disable=SC2046
    run cc $CFLAGS "$b" -o "$W/$n-installed" $(pkg-config --cflags --libs amp_linux)
    check "install: $n builds with pkg-config amp_linux" [ $? = 0 ]
    (cd "$FW" && AMP_UART=null timeout 20 "$W/$n-installed") >"$W/$n.out2" 2>&1
    check "install: ... and runs" has "$W/$n.out2" "hello"
done
unset PKG_CONFIG_PATH
for b in "$W"/blocks/*-host.c; do
    [ -f "$b" ] || continue
    n=$(basename "$b" .c)
    mkdir -p "$W/consumer"
    cp "$b" "$W/consumer/main.c"
    printf '%s\n' 'cmake_minimum_required(VERSION 3.16)' 'project(consumer C)' \
        'find_package(amp REQUIRED)' 'add_executable(host main.c)' \
        'target_link_libraries(host PRIVATE amp::amp_linux)' >"$W/consumer/CMakeLists.txt"
    run sh -c "cmake -S '$W/consumer' -B '$W/consumer/build' -DCMAKE_PREFIX_PATH='$P' && cmake --build '$W/consumer/build'"
    check "install: $n builds with find_package(amp), amp::amp_linux" [ $? = 0 ]
done

if command -v arm-none-eabi-gcc >/dev/null; then
    echo "readme: the README's cross build (Cortex-M4)"
    # its own command lines, with the build directory moved under ours
    grep -E '^ +cmake .*(arm-none-eabi|--build build-m4)' README.md | sed -e 's/#.*//' \
        -e "s|build-m4|$W/m4|g" >"$W/cross.sh"
    check "cross build: README has the commands" [ "$(wc -l <"$W/cross.sh")" -ge 2 ]
    run sh -e "$W/cross.sh"
    check "cross build: succeeds" [ $? = 0 ]
    check "cross build: libamp.a for ARM" sh -c "arm-none-eabi-objdump -f '$W/m4/libamp.a' | grep -q elf32-littlearm"
    check "cross build: no host tests in it" [ ! -d "$W/m4/tests" ]
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
