#!/bin/sh
# ticking.sh TOP - make test's progress lines (tools/ticking.sh): a silent
# step is announced every 5 s while it runs, and its status is kept.
. "$1/tools/ticking.sh"
passed=0
failed=0
check() {
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
exec 3>"$out"
ticking "a quiet step" sh -c 'sleep 12; exit 3' >/dev/null
rc=$?
exec 3>&-
check "status kept" '[ $rc = 3 ]'
check "a line every 5 s" '[ "$(grep -c "^  ... a quiet step: [0-9]* s$" "$out")" -ge 2 ]'
check "they count up" 'grep -q ": 10 s" "$out"'
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
