#!/usr/bin/env bash
# Runs every test binary given on the command line and (unless ZT_NO_CLI is
# set, as for the GPU suite) every tests/cli/*.sh,
# adds up their "N passed, M failed" lines and prints the total last.
# Exit status: 0 only when nothing failed.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run_one() {
    local name=$1
    shift
    "$@" >"$log" 2>&1
    local rc=$?
    cat "$log"
    local line
    line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$name: crashed or printed no summary (exit $rc)"
        failed=$((failed + 1))
        return
    fi
    local p f
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
    f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: exit $rc with no failure counted"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}
# A locale whose decimal point is a comma, for the tests that numbers in
# files and on screens do not follow it; made where localedef and the
# locale sources (Debian's locales package) are installed, else those
# cases say they are skipped.
locdir=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$locdir"' EXIT
if localedef -i de_DE -f UTF-8 "$locdir/de_DE.UTF-8" >/dev/null 2>&1; then
    export ZT_TEST_LOCPATH=$locdir
fi
for bin in "$@"; do
    run_one "$(basename "$bin")" "$bin"
done
for sh in ${ZT_NO_CLI:+/nonexistent/}tests/cli/*.sh; do
    [ -e "$sh" ] || continue
    run_one "$(basename "$sh")" bash "$sh"
done
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
