#!/usr/bin/env bash
# bench.sh - `zimt bench` on the tiny model on the CPU: the table and the
# JSON report with a row per size, a size that does not fit after one that
# does (the measured row is still reported), and bad arguments.
set -u
. tests/lib.sh
lib_init bench.sh

B="./zimt bench --model tests/data/tiny-zimage --device cpu --steps 1 --runs 1"
# a row: size, prompt tokens, then encode, step, decode and end to end as
# min / median, then the two peaks
row() {
    echo "^$1 +[0-9]+( +[0-9]+\.[0-9] / +[0-9]+\.[0-9]){4} +[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{2}$"
}

run $B --size 64x64 --size 32x48
expect_ok "table" "zimt bench: cpu, tests/data/tiny-zimage, fp32, 1 steps, 1 runs" \
    "peak host GiB" "peak host: host memory in use"
check "table: a row for 64x64" grep -qE "$(row 64x64)" "$LIB_TMP/out"
check "table: a row for 32x48" grep -qE "$(row 32x48)" "$LIB_TMP/out"
# stderr is no terminal here: no progress written over itself
check "no progress off a terminal" test ! -s "$LIB_TMP/err"

run $B --size 64x64 --size 32x48 --json
expect_ok "json" '"device":"cpu"' '"precision":"fp32"' '"steps":1' '"runs":1' \
    '"sizes_asked":2,"complete":true' \
    '"sizes":[{"width":64,"height":64,"prompt_tokens":43,' '{"width":32,"height":48,'
check "json: one line" test "$(wc -l <"$LIB_TMP/out")" -eq 1
check "json: timings" grep -qE '"step_ms":\{"min":[0-9.e-]+,"median":[0-9.e-]+\}' "$LIB_TMP/out"
check "json: a lifetime peak on the CPU too" grep -qE '"zimt_lifetime_peak_bytes":[1-9]' "$LIB_TMP/out"

# The second size needs more than ZIMT_MEM_LIMIT: refused before its first
# job with what would fit, after the first size's row is printed.
run env ZIMT_MEM_LIMIT=50M $B --size 64x64 --size 1024x1024
expect_error "too big after a size that fits" "1024x1024 needs" "but 50.0 MiB is available" \
    "would fit" "the sizes before it are reported above"
check "too big: the size that fits is reported" grep -qE "$(row 64x64)" "$LIB_TMP/out"
check "too big: no row for the size refused" test -z "$(grep -E '^1024x1024' "$LIB_TMP/out")"
run env ZIMT_MEM_LIMIT=50M $B --size 64x64 --size 1024x1024 --json
check "too big, json: the size that fits is reported" \
    grep -qF '"sizes":[{"width":64,"height":64,' "$LIB_TMP/out"
# (the JSON alone says the report is not whole: it read like a full one)
check "too big, json: not complete" grep -qF '"sizes_asked":2,"complete":false' "$LIB_TMP/out"
check "too big, json: exit 1" test "$RC" -eq 1
run env ZIMT_MEM_LIMIT=50M $B --size 1024x1024
expect_error "too big alone" "1024x1024 needs"
check "too big alone: no table" test ! -s "$LIB_TMP/out"

run env ZIMT_MEM_LIMIT=lots $B
expect_error "bad memory limit" "ZIMT_MEM_LIMIT: 'lots' is not a byte count"
run $B --profile --size 32x32
expect_ok "profile on the CPU: the table still comes" "32x32"
check "profile on the CPU: said why not" grep -qF \
    "warning: --profile: backend cpu has no op profile; the timings come without it" "$LIB_TMP/err"
run $B --precision fp8 --size 32x32
expect_ok "fp8 on the CPU: runs in F32" "fp32"
check "fp8 on the CPU: said, as gen says it" grep -qF \
    "warning: --precision fp8 applies on CUDA; the CPU computes in F32" "$LIB_TMP/err"
# and F32 is what runs: the same weights as without it (the blocks were
# quantized and run as E4M3 on the CPU under an "fp32" label)
ZIMT_FP8_ATTENTION=1 run $B --precision fp8 --size 32x32 --json
w8=$(grep -o '"weights_bytes":[0-9]*' "$LIB_TMP/out")
check "fp8 on the CPU, FP8 attention asked for: none runs" \
    grep -qF '"precision":"fp32","fp8_attention":false' "$LIB_TMP/out"
run $B --size 32x32 --json
check "fp8 on the CPU: F32 weights" test -n "$w8" -a "$w8" = "$(grep -o '"weights_bytes":[0-9]*' "$LIB_TMP/out")"

run $B --bogus 3
expect_error "unknown option" "unknown option '--bogus'"
check "unknown option: exit 2" test "$RC" -eq 2
run $B --bogus
expect_error "unknown option last" "unknown option '--bogus'"
run $B --size
expect_error "missing value" "--size: missing value"
check "missing value: exit 2" test "$RC" -eq 2
run $B --size 100x64
expect_error "size not 16-multiple" "multiples of 16" "96x64"
run $B --runs 0
expect_error "runs out of range" "--runs must be between 1 and 100 (got 0)"
run $B --precision fp16
expect_error "unknown precision" "--precision must be bf16 or fp8 (got 'fp16')"
run $B --device tpu
expect_error "unknown device" "--device must be cuda or cpu (got 'tpu')"
run $B --synthetic
expect_error "model and synthetic" "--model and --synthetic exclude each other"
run ./zimt bench --model "$LIB_TMP/none" --device cpu
expect_error "missing model" "model directory $LIB_TMP/none does not exist"

# Ctrl-C while the second size runs, on a terminal (where the progress line
# says when the first size is done): the job stops within an op, the first
# size's row is reported, and the exit status says which signal.
if command -v tmux >/dev/null; then
    S=zt-bench-$$
    TMUX_SOCK=$LIB_TMP/tmux.sock
    . tests/tmux.sh
    tm new-session -d -s "$S" -x 200 -y 30 \
        "$B --size 32x32 --size 1024x1024 >$LIB_TMP/int.out; echo EXIT=\$?; sleep 60"
    if wait_for "32x32: job 2 of 2" 60; then
        sleep 0.3
        tm send-keys -t "$S" C-c
        expect_screen "interrupted: said, with the size" \
            "interrupted while measuring 1024x1024 (the sizes before it are reported above)" 30
        expect_screen "interrupted: exit 130" "EXIT=130" 5
        check "interrupted: the size measured is reported" grep -qE "$(row 32x32)" "$LIB_TMP/int.out"
        check "interrupted: no row for the size stopped" \
            test -z "$(grep -E '^1024x1024' "$LIB_TMP/int.out")"
    else
        fail "interrupted: the first size measured" "$(screen)"
    fi
    tm kill-server 2>/dev/null
fi

lib_summary
