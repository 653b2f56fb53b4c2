#!/bin/sh
# test-kernel-uml.sh - the `openamp` module's kernel backend against Linux's
# own rpmsg (virtio_rpmsg_bus, rpmsg_char, rpmsg_ctrl of Linux 6.12), inside
# User-Mode Linux, with `amp serve --vhost-user` as the remote (the harness
# of tools/uml/run.sh). Run from the repository, after `make build python`:
#
#   sh tools/test-kernel-uml.sh [pytest args for the first boot...]
#
# Inside UML, /usr/bin/python3 (the host's, through hostfs) runs pytest on
# python/tests/kernel_uml.py (the kernel backend's own tests) and on the
# shared tests that make sense without a remote processor to drive (see
# SHARED below, and the README, "Linux SoCs"), with AMP_PLATFORM=kernel.
# UML has no remoteproc driver: RemoteProc there works on a model of
# /sys/class/remoteproc (AMP_KERNEL_ROOT, whose bus and /dev are links to
# the real ones), so the spec's example runs unchanged while its endpoint
# goes through the kernel's rpmsg.
#
# A second boot runs python/tests/kernel_uml_dies.py against
# `amp serve --die-after 6`: the remote dies mid-conversation while another
# thread makes endpoint devices on rpmsg_ctrl0; Linux must not panic (it
# did without tools/uml/rpmsg_ctrl-refuse-ioctls-after-remove.patch), the
# endpoints get ECONNRESET naming their own channel (the module binds
# nothing on the device being removed), the loss is news once, nothing is
# left behind, and the kernel goes on.
#
# Last line: "kernel-uml: N passed, M failed" (M >= 1 if nothing ran, and
# for a boot that gave no result: a panic, a timeout).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
PYTHON=${PYTHON:-/usr/bin/python3}

# The shared tests that need no remote processor of their own: endpoints,
# send/recv/callbacks/stream/select/asyncio/threads, the new-service
# callback, EMSGSIZE, argument errors, and the spec's example. Left out:
# what drives the remote (stop, crash, trace, states, a remote that stops
# consuming), what the kernel does otherwise by design (an endpoint is
# bound at once when its channel was announced first; send(dest=) other
# than the channel's is EINVAL; a callback's src is the channel's), the
# bench firmware's channel, and timing (100k echoes in 30 s; five sends
# done before the first echo is handled, which UML's slower system calls
# do not grant).
SHARED="
python/tests/test_spec_example.py
python/tests/test_endpoint_api.py::test_endpoint_callback_positional
python/tests/test_endpoint_api.py::test_endpoint_callback_keyword
python/tests/test_endpoint_api.py::test_endpoint_callback_none
python/tests/test_endpoint_api.py::test_endpoint_src_dest_positional
python/tests/test_endpoint_api.py::test_send_data_types
python/tests/test_endpoint_api.py::test_send_src_dest_timeout_keywords
python/tests/test_endpoint_api.py::test_send_src_dest_timeout_positional
python/tests/test_endpoint_api.py::test_send_returns_sizes
python/tests/test_endpoint_api.py::test_send_empty_is_prompt
python/tests/test_endpoint_api.py::test_deinit
python/tests/test_endpoint_api.py::test_deinit_frees_the_address
python/tests/test_endpoint_api.py::test_deinit_and_rebind
python/tests/test_endpoint_api.py::test_many_endpoints_one_remote
python/tests/test_callbacks.py::test_callback_arguments
python/tests/test_callbacks.py::test_callbacks_run_during_sleep
python/tests/test_callbacks.py::test_exception_in_callback_does_not_stop_delivery
python/tests/test_callbacks.py::test_new_service_callback_endpoint_made_afterwards
python/tests/test_callbacks.py::test_send_from_inside_the_callback
python/tests/test_recv_stream.py
python/tests/test_cpython_select.py
python/tests/test_cpython_asyncio.py
python/tests/test_cpython_buffers.py::test_data_kept_past_the_callback_raises
python/tests/test_cpython_buffers.py::test_buffer_object_kept_past_the_callback_refuses
python/tests/test_cpython_buffers.py::test_data_is_read_only
python/tests/test_cpython_buffers.py::test_a_kept_slice_holds_the_buffer_until_dropped
python/tests/test_cpython_buffers.py::test_callback_exception_is_unraisable
python/tests/test_cpython_buffers.py::test_dropped_endpoint_is_deinitialised
python/tests/test_cpython_threads.py::test_callbacks_run_on_another_thread
python/tests/test_cpython_threads.py::test_blocking_recv_released_by_deinit
python/tests/test_cpython_threads.py::test_blocking_recv_woken_by_a_message_from_another_thread
python/tests/test_cpython_threads.py::test_signal_interrupts_a_blocking_recv
python/tests/test_cpython_threads.py::test_concurrent_senders_keep_their_order
python/tests/test_cpython_threads.py::test_stream_read_skips_empty_messages
python/tests/test_errors.py::test_message_too_large_is_emsgsize_and_nothing_is_sent
python/tests/test_errors.py::test_endpoint_argument_errors
python/tests/test_errors.py::test_send_argument_errors
python/tests/test_errors.py::test_new_service_callback_argument_errors
"

say() { echo "kernel-uml: $*"; }
result() {
    say "$1 passed, $2 failed"
    exit 0
}

ls "$TOP"/python/openamp/_openamp*.so >/dev/null 2>&1 || { say "ERROR: no extension built (make python)"; result 0 1; }
[ -f "$TOP/tools/uml/run.sh" ] || { say "ERROR: no tools/uml/run.sh"; result 0 1; }

# The model of remoteproc, with the kernel's rpmsg behind links.
root=$(mktemp -d "${TMPDIR:-/tmp}/amp-kernel-root.XXXXXX") || result 0 1
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/sys/class/remoteproc/remoteproc0" "$root/sys/module/firmware_class/parameters" \
    "$root/lib/firmware"
echo m4 >"$root/sys/class/remoteproc/remoteproc0/name"
echo offline >"$root/sys/class/remoteproc/remoteproc0/state"
echo rproc-m4-fw >"$root/sys/class/remoteproc/remoteproc0/firmware"
echo >"$root/sys/module/firmware_class/parameters/path"
ln -s /dev "$root/dev"
ln -s /sys/bus "$root/sys/bus"
ln -s /sys/class/rpmsg "$root/sys/class/rpmsg"

passed=0
failed=0
# count LOG: add pytest's counts in LOG (a boot without them: 1 failed)
count() {
    line=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$1" | tail -n 1)
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
    f=0
    for n in $(echo "$line" | grep -oE '[0-9]+ (failed|errors?)' | grep -oE '^[0-9]+'); do f=$((f + n)); done
    [ -n "$p" ] || p=0
    if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; fi
    if grep -q 'Kernel panic' "$1"; then
        say "FAIL - Linux panicked (log: $1)"
        f=$((f + 1))
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

say "booting User-Mode Linux (the kernel is built and cached on first use: 5-20 min)"
mkdir -p "$BUILD/test-logs"
log=$BUILD/test-logs/kernel-uml.log
# shellcheck disable=SC2086
AMP_PLATFORM=kernel AMP_KERNEL_ROOT=$root AMP_FIRMWARE_DIR=$BUILD/firmware AMP_TEST_TIMEOUT=120 \
    PYTHONPATH=$TOP/python:$TOP/python/tests PYTHONDONTWRITEBYTECODE=1 \
    sh tools/uml/run.sh --channel vuart-channel --channel rpmsg-raw --once once-channel -- \
    "$PYTHON" -m pytest -q --color=no -p no:cacheprovider -p kernel_uml_model "$@" python/tests/kernel_uml.py $SHARED \
    2>&1 | tee "$log"
count "$log"

say "booting User-Mode Linux against a remote that dies (amp serve --die-after 6)"
log=$BUILD/test-logs/kernel-uml-dies.log
AMP_PLATFORM=kernel AMP_DIE_AFTER=6 AMP_TEST_TIMEOUT=120 \
    PYTHONPATH=$TOP/python:$TOP/python/tests PYTHONDONTWRITEBYTECODE=1 \
    sh tools/uml/run.sh --timeout 300 --channel vuart-channel --channel rpmsg-raw --die-after 6 -- \
    "$PYTHON" -m pytest -q --color=no -p no:cacheprovider python/tests/kernel_uml_dies.py \
    2>&1 | tee "$log"
count "$log"
result "$passed" "$failed"
