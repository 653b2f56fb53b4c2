#!/bin/sh
# fuzz/run.sh - build the fuzz targets, replay the regression inputs, then
# fuzz each target for FUZZ_SECONDS. `make test` runs it with 20 s,
# `make fuzz` with 600 s. One line per target:
#
#   fuzz: <target> ok (<runs> runs in <s> s, <n> regression inputs)
#   fuzz: <target> FAILED (<why>)
#
# and the exit status is non-zero if any target failed.
#
# Environment:
#   FUZZ_SECONDS  time per target (default 20); 0: build and replay only
#   BUILD         the main build directory (default build); the fuzzers go
#                 to $BUILD/fuzz, built with clang, never with the main
#                 build's compiler or flags
#   FUZZ_JOBS     targets fuzzed at once (default: the number of CPUs)
#   FUZZ_TARGETS  a subset, e.g. "rsc elf" (default: all seven)
#   FUZZ_CC       the compiler (default clang-14, else clang)
#
# A finding leaves its input in $BUILD/fuzz/artifacts/<target>/. Keep it as
# fuzz/regressions/<target>/<name>: every run replays those first.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
OUT=$BUILD/fuzz
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
FUZZ_TARGETS=${FUZZ_TARGETS:-rsc elf host remote lean lean-echo vhost}
if [ -z "${FUZZ_CC:-}" ]; then
    FUZZ_CC=clang
    command -v clang-14 >/dev/null 2>&1 && FUZZ_CC=clang-14
fi

# The library's translation units (amp_rpmsg.c includes amp_rpmsg_lean.c).
LIB="amp_vring amp_rpmsg amp_rsc amp_elf amp_rproc"
# lean: fuzz_remote against the lean remote (AMP_CFG_RPMSG_LEAN) with the
# settings it is built for (tools/footprint.sh's remote); lean-echo: the
# same without zero-copy and endpoint destroy (its remote-echo). The
# library and the harness are both compiled with them.
LEAN="-DAMP_CFG_RPMSG_LEAN=1 -DAMP_CFG_RPMSG_EPT_MAX=1 -DAMP_CFG_RPMSG_WAIT=0 -DAMP_CFG_VRING_EVENT_IDX=0
    -DAMP_CFG_RPMSG_NS_CACHE=0 -DAMP_CFG_LOCK=0 -DAMP_CFG_CACHE=0 -DAMP_CFG_VRING_PARTS=0"
cfg_of() {
    case $1 in
    lean) echo "$LEAN" ;;
    lean-echo) echo "$LEAN -DAMP_CFG_RPMSG_ZEROCOPY=0 -DAMP_CFG_RPMSG_EPT_DESTROY=0" ;;
    *) echo ;;
    esac
}

# what each target is built from, its extra flags and its largest input
src_of() { case $1 in rsc) echo fuzz_rsc.c ;; elf) echo fuzz_elf.c ;; vhost) echo fuzz_vhost.c ;; *) echo fuzz_ring.c ;; esac; }
# vhost: the Linux port's vhost-user backend, built into the target
extra_of() { case $1 in vhost) echo "-I$TOP/ports/linux $TOP/ports/linux/amp_vhost.c $TOP/ports/linux/amp_guard.c $TOP/ports/linux/amp_linux.c" ;; *) echo ;; esac; }
def_of() { case $1 in host) echo -DFUZZ_HOST=1 ;; remote | lean*) echo -DFUZZ_HOST=0 ;; *) echo ;; esac; }
len_of() { case $1 in rsc) echo 4096 ;; elf) echo 262144 ;; *) echo 4096 ;; esac; }
dict_of() { case $1 in host | remote | lean*) echo ring ;; *) echo "$1" ;; esac; }
# whose seeds and regression inputs a target starts from (as well as its own)
like_of() { case $1 in lean*) echo remote ;; *) echo "$1" ;; esac; }

WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=c11 -g -O1 $WARN -I$TOP/include -I$TOP/src"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# ---- build ----
mkdir -p "$OUT/obj" "$OUT/logs"
if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
    for t in $FUZZ_TARGETS; do echo "fuzz: $t FAILED (no $FUZZ_CC: apt-get install clang libclang-rt-14-dev)"; done
    exit 1
fi
build() {
    built=""
    for t in $FUZZ_TARGETS; do
        cfg=$(cfg_of "$t")
        dir=$OUT/obj${cfg:+-$t} # the library, once per configuration
        objs=""
        for f in $LIB; do
            objs="$objs $dir/$f.o"
            case " $built " in *" $dir "*) continue ;; esac
            mkdir -p "$dir"
            # instrumented for coverage, freestanding as in the main build
            $FUZZ_CC $CFLAGS $cfg -ffreestanding $SAN -fsanitize=fuzzer-no-link -c "$TOP/src/$f.c" \
                -o "$dir/$f.o" || return 1
        done
        built="$built $dir"
        $FUZZ_CC $CFLAGS $cfg $SAN -fsanitize=fuzzer $(def_of "$t") "$TOP/fuzz/$(src_of "$t")" $(extra_of "$t") \
            $objs -o "$OUT/fuzz_$t" || return 1
    done
    $FUZZ_CC $CFLAGS "$TOP/fuzz/gen_seeds.c" "$TOP/src/amp_rsc.c" "$TOP/src/amp_elf.c" \
        -o "$OUT/gen_seeds" || return 1
}
if ! build >"$OUT/logs/build.log" 2>&1; then
    cat "$OUT/logs/build.log"
    for t in $FUZZ_TARGETS; do echo "fuzz: $t FAILED (build, see $OUT/logs/build.log)"; done
    exit 1
fi

# ---- seeds: our own firmware, tables and ring scripts ----
rm -rf "$OUT/seeds"
if ! "$OUT/gen_seeds" "$OUT/seeds" "$BUILD/firmware" >"$OUT/logs/seeds.log" 2>&1; then
    cat "$OUT/logs/seeds.log"
    for t in $FUZZ_TARGETS; do echo "fuzz: $t FAILED (seed generator)"; done
    exit 1
fi

# ---- one target: replay, then fuzz; writes $OUT/logs/<t>.result ----
run_target() {
    t=$1
    bin=$OUT/fuzz_$t
    res=$OUT/logs/$t.result
    log=$OUT/logs/$t.log
    rm -f "$log" "$OUT/logs/$t.replay.log"
    like=$(like_of "$t")
    mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t" "$OUT/seeds/$t"
    [ "$like" = "$t" ] || cp "$OUT/seeds/$like"/* "$OUT/seeds/$t"/ 2>/dev/null
    dirs=$t
    [ "$like" = "$t" ] || dirs="$t $like"
    nreg=0
    for d in $dirs; do
        for f in "$TOP/fuzz/regressions/$d"/*; do
            [ -f "$f" ] || continue
            cp "$f" "$OUT/seeds/$t"/ # good seeds too
            nreg=$((nreg + 1))
            if ! "$bin" -runs=1 "$f" >"$OUT/logs/$t.replay.log" 2>&1; then
                echo "fuzz: $t FAILED (regression input fuzz/regressions/$d/$(basename "$f"), see $OUT/logs/$t.replay.log)" >"$res"
                return
            fi
        done
    done
    if [ "$FUZZ_SECONDS" -le 0 ]; then
        echo "fuzz: $t ok (0 runs in 0 s, $nreg regression inputs)" >"$res"
        return
    fi
    "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len="$(len_of "$t")" \
        -dict="$TOP/fuzz/dict/$(dict_of "$t").dict" -artifact_prefix="$OUT/artifacts/$t/" \
        -print_final_stats=1 "$OUT/corpus/$t" "$OUT/seeds/$t" >"$log" 2>&1
    rc=$?
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
    runs=$(echo "$done_line" | sed -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/')
    secs=$(echo "$done_line" | sed -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/')
    if [ $rc -ne 0 ] || [ -z "$done_line" ]; then
        art=$(ls -t "$OUT/artifacts/$t" 2>/dev/null | head -n 1)
        echo "fuzz: $t FAILED (exit $rc; input $OUT/artifacts/$t/$art; keep it in fuzz/regressions/$t/; log $log)" >"$res"
        return
    fi
    echo "fuzz: $t ok ($runs runs in $secs s, $nreg regression inputs)" >"$res"
}

# ---- run, FUZZ_JOBS at a time ----
set -- $FUZZ_TARGETS
while [ $# -gt 0 ]; do
    pids=""
    n=0
    while [ $# -gt 0 ] && [ $n -lt "$FUZZ_JOBS" ]; do
        rm -f "$OUT/logs/$1.result"
        run_target "$1" &
        pids="$pids $!"
        n=$((n + 1))
        shift
    done
    for p in $pids; do wait "$p"; done
done

status=0
for t in $FUZZ_TARGETS; do
    if [ -f "$OUT/logs/$t.result" ]; then
        line=$(cat "$OUT/logs/$t.result")
    else
        line="fuzz: $t FAILED (no result)"
    fi
    echo "$line"
    case $line in
    *" FAILED"*)
        status=1
        # the finding itself: the sanitizer's report or the broken invariant
        for l in "$OUT/logs/$t.replay.log" "$OUT/logs/$t.log"; do
            [ -f "$l" ] && grep -q -E 'ERROR|runtime error|invariant broken|deadly signal' "$l" &&
                grep -E -A 30 'ERROR: |runtime error|invariant broken' "$l" | head -n 40 && break
        done
        ;;
    esac
done
exit $status
