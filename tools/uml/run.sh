#!/bin/sh
# run.sh - run a command inside User-Mode Linux, against amp's vhost-user
# virtio-rpmsg device (`amp serve --vhost-user`), and return its status.
#
#   sh tools/uml/run.sh [OPTIONS] -- COMMAND [ARG]...
#
# COMMAND runs as PID 1's child in a Linux 6.12 kernel whose root is the
# host's / (hostfs, read-write, as the calling user), in the caller's
# current directory, once /dev/rpmsg_ctrl0 exists (Linux's rpmsg has bound
# to the device). It sees the host's files and programs (a static binary,
# /usr/bin/python3 and its modules, a build tree) but its own /proc, /sys
# and /dev: the channels amp announces are /dev/rpmsgN there. Its output
# and the kernel's warnings come on stdout; amp serve's log goes to stderr
# when the run fails (or always with --verbose). The announcements may
# still be on their way when COMMAND starts: wait for the /dev/rpmsgN (or
# /sys/bus/rpmsg/devices entry) you need, with a time limit.
#
# Options (the serve options go to `amp serve`, see `amp --help`):
#   --channel NAME       announce an echo channel (repeatable; default rpmsg-raw)
#   --once NAME          a channel that answers one message and is destroyed
#   --sink NAME          a channel that takes messages and answers none
#   --event-idx on|off   offer VIRTIO_RING_F_EVENT_IDX (default on)
#   --die-after N        amp serve kills itself after N echoes
#   --in-band            amp serve offers in-band notifications (no doorbell fds)
#   --env NAME=VALUE     set in COMMAND's environment (repeatable); PATH,
#                        HOME, PYTHONPATH and AMP_* are passed on anyway
#   --socket PATH        use a vhost-user device already listening at PATH
#                        (your own amp_vhost program, or an amp serve that
#                        outlives this boot) instead of starting amp serve
#   --timeout SECONDS    host-side limit for the whole boot (default 600)
#   --verbose            all kernel messages, and amp serve's log
#
# Environment: AMP (the amp binary; default $BUILD/amp, BUILD=build),
# UML_LINUX (a kernel binary; default: tools/uml/build-kernel.sh builds or
# reuses the cached one), TMPDIR (must allow exec: UML maps its memory
# there).
#
# Exit status: COMMAND's (through /proc/exitcode), 124 if the host-side
# timeout hit, 125 if the harness could not run (no kernel, no amp, a
# noexec TMPDIR, UML did not come up). For example, from the repo:
#
#   sh tools/uml/run.sh --channel rpmsg-raw -- /usr/bin/python3 -c \
#       'import os; print(os.listdir("/dev"))'
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
AMP=${AMP:-$BUILD/amp}
timeout_s=600
verbose=0
socket=""
serve_args=""
envs=""

fail() {
    echo "uml: ERROR: $*" >&2
    exit 125
}

# a single-quoted shell word
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

while [ $# -gt 0 ]; do
    case $1 in
    --channel | --once | --sink | --event-idx | --die-after)
        [ $# -ge 2 ] || fail "$1 needs a value"
        serve_args="$serve_args $1 $(quote "$2")"
        shift 2 ;;
    --in-band)
        serve_args="$serve_args --in-band"
        shift ;;
    --env)
        [ $# -ge 2 ] || fail "--env needs NAME=VALUE"
        envs="$envs
export $(quote "$2" | sed "s/^'\([A-Za-z_][A-Za-z0-9_]*\)=/\1='/")"
        shift 2 ;;
    --socket) socket=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --verbose) verbose=1; shift ;;
    --) shift; break ;;
    *) fail "unknown option $1 (usage: run.sh [OPTIONS] -- COMMAND [ARG]...)" ;;
    esac
done
[ $# -gt 0 ] || fail "no command (usage: run.sh [OPTIONS] -- COMMAND [ARG]...)"
[ -z "$socket" ] || [ -z "$serve_args" ] || fail "--socket: serve options go to your own server"
[ -z "$socket" ] || [ -S "$socket" ] || fail "--socket $socket: no socket there"
[ -x "$AMP" ] || fail "no amp binary at $AMP (make build, or set AMP)"

if [ -z "${UML_LINUX:-}" ]; then
    UML_LINUX=$(sh "$HERE/build-kernel.sh") || fail "no User-Mode Linux kernel (see above)"
fi
[ -x "$UML_LINUX" ] || fail "UML_LINUX=$UML_LINUX is not executable"

dir=$(mktemp -d "${TMPDIR:-/tmp}/amp-uml.XXXXXX") || fail "cannot make a directory in ${TMPDIR:-/tmp}"
serve_pid=""
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
cp /bin/true "$dir/exec-check" && "$dir/exec-check" ||
    fail "${TMPDIR:-/tmp} does not allow exec (UML maps its memory there): set TMPDIR"
mkdir "$dir/uml"

# COMMAND's words, quoted for the init script
cmd=""
for a in "$@"; do cmd="$cmd $(quote "$a")"; done

# PID 1 inside UML: mount the kernel's file systems, wait for rpmsg, run.
{
    echo '#!/bin/sh'
    echo 'export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin'
    echo 'mount -t proc proc /proc && mount -t sysfs sysfs /sys || echo "uml: cannot mount /proc, /sys"'
    echo 'mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev'
    for v in HOME PYTHONPATH PYTHONDONTWRITEBYTECODE $(env | sed -n 's/^\(AMP_[A-Za-z0-9_]*\)=.*/\1/p'); do
        eval "val=\${$v-}"
        [ -n "$val" ] && echo "export $v=$(quote "$val")"
    done
    echo "$envs"
    echo "cd $(quote "$(pwd)") || exit 1"
    echo 'i=0; while [ ! -e /dev/rpmsg_ctrl0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done'
    echo '[ -e /dev/rpmsg_ctrl0 ] || echo "uml: no /dev/rpmsg_ctrl0 after 10 s: rpmsg did not come up"'
    echo "set --$cmd"
    echo '"$@" && rc=0 || rc=$?'
    echo 'echo "$rc" > /proc/exitcode'
    echo 'echo "uml: command exited with status $rc"'
    echo 'echo o > /proc/sysrq-trigger'
    echo 'sleep 30'
} >"$dir/init.sh"
chmod +x "$dir/init.sh"

# amp serve, and wait until it listens
if [ -z "$socket" ]; then
    socket=$dir/vu.sock
    eval "set -- $serve_args"
    "$AMP" serve --vhost-user "$socket" "$@" 2>"$dir/serve.log" &
    serve_pid=$!
    i=0
    while ! grep -q "listening on" "$dir/serve.log" 2>/dev/null; do
        kill -0 "$serve_pid" 2>/dev/null || { cat "$dir/serve.log" >&2; fail "amp serve did not start"; }
        i=$((i + 1))
        [ $i -lt 100 ] || fail "amp serve did not listen within 10 s"
        sleep 0.1
    done
else
    echo "(the device at $socket is not ours: no log)" >"$dir/serve.log"
fi

loglevel="loglevel=4"
[ $verbose = 1 ] && loglevel=""
{
    TMPDIR=$dir timeout -k 5 "$timeout_s" "$UML_LINUX" mem=64M rootfstype=hostfs rootflags=/ rw \
        init="$dir/init.sh" con0=null,fd:1 con=null ssl=null uml_dir="$dir/uml" $loglevel \
        virtio_uml.device="$socket:7" </dev/null
    echo $? >"$dir/rc"
} | tee "$dir/console"
rc=$(cat "$dir/rc")
if [ $rc != 124 ] && ! grep -q "^uml: command exited with status" "$dir/console"; then
    echo "uml: ERROR: UML exited ($rc) before the command ran: see the console above" >&2
    [ -r /proc/sys/kernel/yama/ptrace_scope ] &&
        echo "uml: (kernel.yama.ptrace_scope=$(cat /proc/sys/kernel/yama/ptrace_scope); UML needs ptrace)" >&2
    rc=125
fi
if [ $rc = 124 ]; then
    echo "uml: ERROR: no result within $timeout_s s (host-side timeout): UML killed" >&2
fi
if [ $rc != 0 ] || [ $verbose = 1 ]; then
    echo "uml: amp serve's log:" >&2
    sed 's/^/  /' "$dir/serve.log" >&2
fi
exit $rc
