# ticking.sh - sourced by tools/run-tests.sh.
#
# ticking NAME CMD...: run CMD (its output goes where the caller sends it)
# and, while it runs, print "  ... NAME: N s" on fd 3 every 5 s, so that no
# step of make test is silent for long. Returns CMD's status. The caller
# opens fd 3 on the terminal (exec 3>&1) before redirecting CMD's output.
ticking() {
    tick_name=$1
    shift
    "$@" &
    tick_pid=$!
    tick_t=0
    while kill -0 "$tick_pid" 2>/dev/null; do
        sleep 1
        tick_t=$((tick_t + 1))
        if [ $((tick_t % 5)) = 0 ] && kill -0 "$tick_pid" 2>/dev/null; then
            echo "  ... $tick_name: ${tick_t} s" >&3
        fi
    done
    wait "$tick_pid"
}
