#!/bin/sh
# test-linux.sh - Linux 6.12's own rpmsg (virtio_rpmsg_bus, rpmsg_char,
# rpmsg_ctrl) against amp's remote role, `amp serve --vhost-user`, in
# User-Mode Linux (`make test-linux`, a stage of `make test`).
#
#   sh tests/uml/test-linux.sh           the tests; last line
#                                        "test-linux: N passed, N failed"
#   sh tests/uml/test-linux.sh --bench   round trip and one-way figures,
#                                        next to the eventfd limit
#
# Six boots: the main checks (tests/uml/linux_rpmsg.c) with
# VIRTIO_RING_F_EVENT_IDX offered, the same with it withheld, the same
# with in-band notifications (doorbells as vhost-user messages: the
# other path of the kernel patch), two Linux in turn on one amp serve
# (the first goes away, the second is served), and a backend that kills
# itself mid-stream. Each boot is bounded by a
# host-side timeout; a boot that fails or times out counts as a failure
# even if it printed no "FAIL" line. Where no kernel can be built, this
# fails (loudly, from tools/uml/build-kernel.sh): it is never skipped.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
OUT=$BUILD/uml
LOG=$OUT/logs
TIMEOUT=${UML_TIMEOUT:-300}
mkdir -p "$LOG"
passed=0
failed=0

give_up() {
    echo "test-linux: ERROR: $*"
    echo "test-linux: $passed passed, $((failed + 1)) failed"
    exit 1
}

# The program that runs inside: static, so it needs nothing from the
# host's libraries at its path inside UML.
${CC:-cc} -static -O2 -Wall -Wextra -Werror -o "$OUT/linux_rpmsg" "$TOP/tests/uml/linux_rpmsg.c" \
    >"$LOG/cc.log" 2>&1 || { cat "$LOG/cc.log"; give_up "cannot build tests/uml/linux_rpmsg.c statically (libc6-dev)"; }
[ -x "$BUILD/amp" ] || give_up "no $BUILD/amp (make build)"
UML_LINUX=$(sh "$TOP/tools/uml/build-kernel.sh") || give_up "no User-Mode Linux kernel (see above)"
export UML_LINUX BUILD

# boot NAME [run.sh options] -- COMMAND...: one boot, its counts added
boot() {
    name=$1
    shift
    echo "test-linux: booting Linux for \"$name\""
    t0=$(date +%s)
    sh "$TOP/tools/uml/run.sh" --timeout "$TIMEOUT" "$@" >"$LOG/$name.log" 2>&1
    rc=$?
    grep -E '^(ok|FAIL) - |^bench: |^uml: ERROR|^linux_rpmsg: |BUG|WARNING|Kernel panic' "$LOG/$name.log" |
        sed 's/^/  /'
    line=$(grep -E '^linux_rpmsg: [0-9]+ passed, [0-9]+ failed' "$LOG/$name.log" | tail -n 1)
    p=$(echo "$line" | sed -nE 's/.* ([0-9]+) passed.*/\1/p')
    f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1 # the boot itself failed: no result, a timeout, a crash
        echo "  FAIL - $name: exit status $rc without a failed check (log: $LOG/$name.log)"
        tail -n 30 "$LOG/$name.log" | sed 's/^/  | /'
    fi
    echo "test-linux: $name: $p passed, $f failed ($(($(date +%s) - t0)) s)"
    passed=$((passed + p))
    failed=$((failed + f))
}

T=$OUT/linux_rpmsg
if [ "${1:-}" = --bench ]; then
    "$T" eventfd
    boot bench --channel rpmsg-raw --sink amp-sink -- "$T" bench
    exit 0
fi
for ei in on off; do
    boot "event-idx-$ei" --event-idx "$ei" --channel rpmsg-raw --channel amp-second \
        --once amp-once -- "$T" main "$ei"
done
boot in-band --verbose --in-band --channel rpmsg-raw --channel amp-second --once amp-once -- \
    "$T" main on
if grep -q "rings up: announcing (in-band doorbells)" "$LOG/in-band.log"; then
    echo "  ok - in-band notifications were negotiated"
    passed=$((passed + 1))
else
    echo "  FAIL - in-band notifications were not negotiated (log: $LOG/in-band.log)"
    failed=$((failed + 1))
fi
# one amp serve, two frontends in turn
sock=$OUT/reconnect.sock
"$BUILD/amp" serve --vhost-user "$sock" 2>"$LOG/reconnect-serve.log" &
spid=$!
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S "$sock" ] && break; sleep 0.2; done
boot reconnect-1 --socket "$sock" -- "$T" again
boot reconnect-2 --socket "$sock" -- "$T" again
if kill "$spid" 2>/dev/null && wait "$spid"; [ "$(grep -c 'brought the rings up' "$LOG/reconnect-serve.log")" = 2 ]; then
    echo "  ok - one amp serve brought the rings up for two Linux in turn"
    passed=$((passed + 1))
else
    echo "  FAIL - one amp serve, two Linux in turn (log: $LOG/reconnect-serve.log)"
    failed=$((failed + 1))
fi
boot backend-dies --die-after 150 -- "$T" die
echo "test-linux: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
