#!/bin/sh
# build-kernel.sh - the User-Mode Linux kernel that `make test-linux` boots,
# built once and cached outside the clone.
#
#   sh tools/uml/build-kernel.sh        prints the path of the binary
#
# Input: Debian's linux-source-6.12 (/usr/src/linux-source-6.12.tar.xz), our
# patches (every tools/uml/*.patch, one per fix, applied in name order:
# rpmsg_ctrl-refuse-ioctls-after-remove.patch, the kernel-side race a dying
# remote hit; virtio_uml-callbacks-in-process-context.patch) and our
# fragment (rpmsg.config) merged onto `tinyconfig`, ARCH=um.  Output:
#   ${AMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/amp}/uml-KEY/linux
# where KEY hashes the package version, the fragment and the patches (and
# AMP_UML_KEY_EXTRA, to force a rebuild after changing how it is built): a
# change to any of them builds a new kernel, and a hit costs nothing. A
# miss prints progress; it took 20 minutes (-j2, 649 objects) on this
# project's 2-core VM shared with other jobs (the proof of concept: about 5).
#
# Invariant: the cache holds a binary only once it was built completely
# from those inputs (built in a scratch directory, renamed into place under
# a lock); where a kernel cannot be built or run (not x86-64, ptrace
# forbidden, no source), this script fails loudly: the test it feeds is
# never skipped in silence.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC_TAR=${AMP_LINUX_SOURCE:-/usr/src/linux-source-6.12.tar.xz}
PKG=linux-source-6.12
FRAGMENT=$HERE/rpmsg.config
JOBS=${JOBS:-2}
CACHE=${AMP_CACHE:-${XDG_CACHE_HOME:-${HOME:?set HOME or AMP_CACHE}/.cache}/amp}

say() { echo "uml-kernel: $*" >&2; }
die() {
    echo "uml-kernel: ERROR: $*" >&2
    echo "uml-kernel: ERROR: the Linux peer tests cannot run on this machine" >&2
    exit 1
}

# UML is an x86-64 (or i386) Linux program that traces its own children.
[ "$(uname -s)" = Linux ] || die "User-Mode Linux needs a Linux host, this is $(uname -s)"
[ "$(uname -m)" = x86_64 ] || die "User-Mode Linux is built for x86-64 here, this host is $(uname -m)"
if [ -r /proc/sys/kernel/yama/ptrace_scope ] &&
    [ "$(cat /proc/sys/kernel/yama/ptrace_scope)" = 3 ]; then
    die "ptrace is disabled (kernel.yama.ptrace_scope=3); User-Mode Linux needs it"
fi
[ -r "$SRC_TAR" ] || die "no kernel source at $SRC_TAR (make deps installs $PKG)"

version=$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || true)
[ -n "$version" ] || version=$(stat -c %s-%Y "$SRC_TAR")
set -- "$HERE"/*.patch
[ -r "$1" ] || die "no patches in $HERE"
key=$( (echo "$PKG $version"; echo "${AMP_UML_KEY_EXTRA:-}"; cat "$FRAGMENT" "$HERE"/*.patch) | sha256sum | cut -c1-16)
OUT=$CACHE/uml-$key
if [ -x "$OUT/linux" ]; then
    echo "$OUT/linux"
    exit 0
fi

mkdir -p "$CACHE"
# One build at a time per cache; whoever waited finds the binary made.
exec 9>"$CACHE/uml-$key.lock"
if ! flock -n 9; then
    say "another build of uml-$key is running, waiting for it"
    flock 9
fi
if [ -x "$OUT/linux" ]; then
    echo "$OUT/linux"
    exit 0
fi

for tool in make gcc flex bison bc patch xz; do
    command -v $tool >/dev/null 2>&1 || die "$tool is missing (make deps installs it)"
done

T0=$(date +%s)
WORK=$CACHE/uml-$key.build
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM HUP
say "cache miss: building $PKG $version for ARCH=um into $OUT (5-20 min)"
say "extracting $SRC_TAR"
tar -xJf "$SRC_TAR" -C "$WORK"
cd "$WORK/$PKG"
for p in "$HERE"/*.patch; do
    say "applying $(basename "$p")"
    patch -p1 --quiet <"$p" || die "$(basename "$p") does not apply"
done
say "configuring: tinyconfig + $(basename "$FRAGMENT")"
if ! { make ARCH=um tinyconfig &&
    scripts/kconfig/merge_config.sh -m .config "$FRAGMENT" &&
    make ARCH=um olddefconfig; } >"$WORK/config.log" 2>&1; then
    tail -n 30 "$WORK/config.log" >&2
    die "kernel configuration failed"
fi
# A dependency left out turns an option off without a word: check them all.
grep -E '^CONFIG_[A-Z0-9_]+=' "$FRAGMENT" | while read -r line; do
    grep -qx "$line" .config || die "kernel config lost '$line' (a dependency is missing)"
done

say "compiling with -j$JOBS (log: $WORK/build.log)"
make ARCH=um -j"$JOBS" linux >"$WORK/build.log" 2>&1 &
mpid=$!
# progress: the number of objects so far, every 30 s
while kill -0 $mpid 2>/dev/null; do
    sleep 30
    n=$(grep -c -E '^ +(CC|AS) ' "$WORK/build.log" || true)
    say "  $n objects compiled, $(($(date +%s) - T0)) s"
done
if ! wait $mpid; then
    tail -n 40 "$WORK/build.log" >&2
    die "kernel build failed"
fi
strip -o linux.stripped linux 2>/dev/null || cp linux linux.stripped
mkdir -p "$OUT"
cp .config "$OUT/config"
cp linux.stripped "$OUT/linux.tmp"
mv "$OUT/linux.tmp" "$OUT/linux"
say "built $OUT/linux in $(($(date +%s) - T0)) s"
echo "$OUT/linux"
