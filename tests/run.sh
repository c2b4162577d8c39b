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
