#!/bin/sh
# tool_amp.sh AMP FIRMWARE_DIR - the amp command: what it prints and its
# exit status, for scripts. Prints "N passed, N failed".
AMP=$1
FW=$2
passed=0
failed=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

check() { # NAME CONDITION...
    name=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
has() { grep -q -- "$2" "$1"; }

"$AMP" info "$FW/virtual_uart.elf" >"$out" 2>"$err"
check "info: exit 0" [ $? = 0 ]
check "info: entry and segments" has "$out" "entry 0x10001000"
check "info: decoded vdev" has "$out" "vdev id 7 (rpmsg)"
check "info: event-idx offered" has "$out" "EVENT_IDX"
check "info: trace entry" has "$out" 'trace "trace"'
check "info: says run would take it" has "$out" "virtual core: loads and can start"

"$AMP" info "$FW/virtual_uart_hosttable.elf" >"$out" 2>"$err"
check "info: no table, said so" has "$out" "none (the host must provide one)"

"$AMP" info "$FW/no-such.elf" >"$out" 2>"$err"
check "info: missing file is exit 3" [ $? = 3 ]
check "info: names the file and the cause" has "$err" "no-such.elf: No such file or directory"

"$AMP" info "$0" >"$out" 2>"$err"
check "info: not an ELF is exit 3" [ $? = 3 ]
check "info: says why" has "$err" "bad magic"

# Images amp run would refuse: info says so (exit 3), run refuses them as
# bad images (exit 3) before starting anything
tmp=$(mktemp -d)
python3 "$(dirname "$0")/bad_images.py" "$FW/virtual_uart.elf" "$tmp"
for bad in arm aarch64 entry segment vring; do
    "$AMP" info "$tmp/$bad.elf" >"$out" 2>"$err"
    check "info: $bad.elf is exit 3" [ $? = 3 ]
    check "info: $bad.elf: says run would refuse it" has "$err" "amp run would refuse it"
    timeout 20 "$AMP" run "$tmp/$bad.elf" --quiet >"$out" 2>"$err" </dev/null
    check "run: $bad.elf is a bad image (exit 3)" [ $? = 3 ]
done
"$AMP" info "$tmp/entry.elf" >"$out" 2>"$err"
check "info: names the entry point" has "$err" "entry point is outside"
rm -rf "$tmp"

# long lines: split into messages of at most one buffer's payload (496
# bytes), a line of exactly 496 is one message; memory stays bounded
python3 -c 'import sys; sys.stdout.write("a" * 1200 + "\n" + "b" * 496 + "\n" + "\n" + "c")' |
    timeout 20 "$AMP" run "$FW/virtual_uart.elf" --quiet >"$out" 2>"$err"
check "run: long lines in 496-byte messages" [ "$(awk '{ printf "%d ", length($0) }' "$out")" = "496 496 208 496 0 1 " ]
"$AMP" run "$FW/virtual_uart.elf" --quiet --linger 0 </dev/zero >/dev/null 2>"$err" &
pid=$!
sleep 3
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
kill -INT "$pid" 2>/dev/null
wait "$pid"
check "run: < /dev/zero stays under 64 MB (VmHWM ${hwm:-?} kB)" sh -c '[ -n "$1" ] && [ "$1" -lt 65536 ]' _ "$hwm"

# bad options: a clear error naming the option, exit 2; --help is usage
for args in "--linger abc" "--linger -5" "--linger 99999999999999999999" "--linger" "--channel" "--frob"; do
    # shellcheck disable=SC2086
    "$AMP" run "$FW/virtual_uart.elf" $args >"$out" 2>"$err" </dev/null
    rc=$?
    opt=${args%% *}
    check "run $args: exit 2" [ $rc = 2 ]
    check "run $args: names $opt" has "$err" "$opt"
done
timeout 5 "$AMP" run "$FW/virtual_uart.elf" --channel "" >"$out" 2>"$err" </dev/null
check "run --channel '': exit 2 at once" [ $? = 2 ]
check "run --channel '': says the name is empty" has "$err" "name is empty"
"$AMP" run --help >"$out" 2>"$err"
check "run --help: exit 0" [ $? = 0 ]
check "run --help: prints usage" has "$out" "usage: amp"

"$AMP" frobnicate >"$out" 2>"$err"
check "usage is exit 2" [ $? = 2 ]

printf 'hello\nworld\n' | timeout 20 "$AMP" run "$FW/virtual_uart.elf" --quiet >"$out" 2>"$err"
check "run: exit 0 at end of input" [ $? = 0 ]
check "run: echoes each line" [ "$(cat "$out")" = "$(printf 'hello\nworld')" ]

printf 'Eping\n' | timeout 20 "$AMP" run "$FW/bench_peer.elf" --channel amp-bench --quiet >"$out" 2>"$err"
check "run: --channel picks the service" [ "$(cat "$out")" = "Eping" ]

printf 'ok\nsegv\n' | timeout 20 "$AMP" run "$FW/crash.elf" >"$out" 2>"$err"
check "run: crash is exit 4" [ $? = 4 ]
check "run: reports the signal" has "$err" "killed by signal 11"
check "run: prints the trace" has "$err" "trace0:"

# Ctrl-C: stdin a FIFO we hold open, then SIGINT to amp itself
fifo=$(mktemp -u)
mkfifo "$fifo"
"$AMP" run "$FW/virtual_uart.elf" --quiet <"$fifo" >"$out" 2>"$err" &
pid=$!
exec 3>"$fifo"
echo "still here" >&3
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
exec 3>&-
rm -f "$fifo"
check "run: Ctrl-C is exit 130" [ $rc = 130 ]
check "run: echoed before Ctrl-C" [ "$(cat "$out")" = "still here" ]

# Ctrl-C at a terminal: SIGINT to the whole foreground process group. amp
# leads a group of its own here (setsid), as a shell's job would.
fifo=$(mktemp -u)
mkfifo "$fifo"
setsid "$AMP" run "$FW/virtual_uart.elf" <"$fifo" >"$out" 2>"$err" &
pid=$!
exec 3>"$fifo"
echo "still here" >&3
sleep 1
/bin/kill -s INT -- "-$pid" # procps: dash's kill takes no process group
wait "$pid"
rc=$?
exec 3>&-
rm -f "$fifo"
check "run: Ctrl-C to the process group is exit 130" [ $rc = 130 ]
check "run: ... with the remote stopped, not crashed" has "$err" "interrupted: remote stopped"
check "run: ... no crash reported" sh -c "! grep -q crashed '$err'"

# special files as the image: refused before any open that could block
fifo=$(mktemp -u)
mkfifo "$fifo"
timeout 10 "$AMP" info "$fifo" >"$out" 2>"$err"
check "info: a FIFO is exit 3 at once" [ $? = 3 ]
check "info: ... not a regular file" has "$err" "not a regular file"
timeout 10 "$AMP" run "$fifo" >"$out" 2>"$err" </dev/null
check "run: a FIFO is exit 3 at once" [ $? = 3 ]
check "run: ... not a regular file" has "$err" "not a regular file"
rm -f "$fifo"
timeout 10 "$AMP" info /dev/zero >"$out" 2>"$err"
check "info: a device is exit 3" [ $? = 3 ]

"$AMP" run "$FW/no-such.elf" >"$out" 2>"$err" </dev/null
check "run: missing firmware is exit 3" [ $? = 3 ]

printf 'x\n' | timeout 30 "$AMP" run "$FW/virtual_uart.elf" --channel nobody --quiet >"$out" 2>"$err"
check "run: a channel never announced is exit 5" [ $? = 5 ]
check "run: says which" has "$err" 'did not announce "nobody"'

long=/tmp/$(printf '%0120d' 0)
"$AMP" serve --vhost-user "$long" >"$out" 2>"$err"
check "serve: a socket path too long is exit 2" [ $? = 2 ]
check "serve: ... and says so" has "$err" "too long for a unix socket"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
