#!/usr/bin/env bash
# Run one fuzz target, or fold what it found back into the kept corpus.
#
#   tests/fuzz/run.sh TARGET [SECONDS]   fuzz (default 600 s); new inputs go
#                                        to build-fuzz/work/TARGET, crashers
#                                        to build-fuzz/crash/TARGET/
#   tests/fuzz/run.sh merge TARGET       minimise work + kept corpus into
#                                        tests/fuzz/corpus/TARGET
#
# Build the targets first with `make fuzz` (clang, libFuzzer, ASan+UBSan).
# A crasher, once fixed, is copied to tests/fuzz/corpus/TARGET/ under a name
# that says what it was, so `make test` replays it (tests/test_fuzz_replay.c).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=build-fuzz
opts=(-max_len=65536 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1)
if [ "${1:-}" = merge ]; then
    t=$2
    mkdir -p "$B/work/$t" "$B/merged/$t"
    rm -rf "${B:?}/merged/$t"/*
    "$B/fuzz_$t" "${opts[@]}" -merge=1 "$B/merged/$t" tests/fuzz/corpus/"$t" "$B/work/$t"
    # Seeds and named regression inputs stay; the rest is replaced.
    find tests/fuzz/corpus/"$t" -type f ! -name 'seed-*' ! -name 'crash-*' -delete
    for f in "$B/merged/$t"/*; do
        [ -e "$f" ] || continue
        cp -n "$f" tests/fuzz/corpus/"$t"/
    done
    exit 0
fi
t=$1
secs=${2:-600}
mkdir -p "$B/work/$t" "$B/crash/$t"
exec "$B/fuzz_$t" "${opts[@]}" -max_total_time="$secs" \
    -artifact_prefix="$B/crash/$t/" "$B/work/$t" tests/fuzz/corpus/"$t"
