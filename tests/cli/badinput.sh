#!/usr/bin/env bash
# The bad-input matrix: for every way input from outside can be wrong, zimt
# gen stops with a clear message and a known exit code, and leaves no output
# file behind (no partial PNG, no temporary file). One row per case:
#
#   name | command | exit | stderr holds (';' between strings) | must exist
#
# The command runs through eval, from the repository root, with $G (zimt gen
# on the tiny model, CPU, 64x64), $V (a folder of broken model variants) and
# $OUT (the output directory, emptied before each row). After a row, $OUT
# must hold exactly the files in the last column ('-' for none): nothing
# else, temporary files included.
. tests/lib.sh
lib_init badinput.sh
M=tests/data/tiny-zimage
G="./zimt gen -q --model $M --device cpu --steps 1 --size 64x64 --seed 1"
V=$LIB_TMP/variants
OUT=$LIB_TMP/outdir
mkdir -p "$V" "$OUT"

# ---- broken models: a tree of links to the tiny model, one file replaced
variant() {
    cp -as "$PWD/$M" "$V/$1"
}
own() { # replace the link at $1 with a copy of what it points to
    cp --remove-destination "$(readlink -f "$1")" "$1"
}
variant shard
rm "$V/shard/text_encoder/model-00002-of-00002.safetensors"
variant trunc
f=$V/trunc/transformer/diffusion_pytorch_model.safetensors
head -c 100000 "$(readlink -f "$f")" >"$f.part" && rm "$f" && mv "$f.part" "$f"
variant dtype
f=$V/dtype/vae/diffusion_pytorch_model.safetensors
own "$f"
st_edit_header "$f" 's/"decoder.conv_in.bias":{"dtype":"BF16"/"decoder.conv_in.bias":{"dtype":"I16"/'
variant shape
f=$V/shape/vae/diffusion_pytorch_model.safetensors
own "$f"
st_edit_header "$f" 's/"decoder.conv_in.weight":{"dtype":"BF16","shape":\[64,16,3,3\]/"decoder.conv_in.weight":{"dtype":"BF16","shape":[16,64,3,3]/'
variant json
rm "$V/json/transformer/config.json"
printf '{"_class_name": "ZImageTransformer2DModel", "dim": 64,' >"$V/json/transformer/config.json"

LONG=$(printf 'a small red fox %.0s' $(seq 200))
BADUTF8=$(printf 'caf\xc3')
mkdir -p "$LIB_TMP/ro" && chmod 555 "$LIB_TMP/ro"

# interrupt SIG: a batch of two long jobs; SIG arrives once the first PNG
# is on disk, while the second runs. $RC is zimt's exit status.
interrupt() {
    # with "ignored", gen starts with the signal ignored, as under nohup
    (
        [ "${2:-}" != ignored ] || trap '' "$1"
        exec ./zimt gen -q --model $M --device cpu --steps 60 --size 256x256 --prompt "a cat" \
            --seed 1 --seed 2 --outdir "$OUT" --name 'j-{seed}.png'
    ) &
    local pid=$! i
    for i in $(seq 600); do
        [ -e "$OUT/j-1.png" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -"$1" "$pid"
    wait "$pid"
}

# Ctrl-C twice: a small job finishes, then a 1536x1536 one (its CPU steps
# take seconds each) is interrupted a second into its first step, and again
# 0.3 s later. gen must leave within 4 s of the second signal, long before
# the step ends, with no temporary file of the running image left behind.
interrupt_twice() {
    # a third job, queued, is cancelled at the first signal and counted
    # among those not made at the second (it was left out)
    printf '{"seed": 1, "size": "64x64", "output": "j-1.png"}\n{"seed": 2, "size": "1536x1536", "output": "j-2.png"}\n{"seed": 3, "size": "64x64", "output": "j-3.png"}\n' >"$LIB_TMP/two.jsonl"
    ./zimt gen -q --model $M --device cpu --prompt "a cat" --jobs "$LIB_TMP/two.jsonl" \
        --outdir "$OUT" &
    local pid=$! i rc
    for i in $(seq 600); do
        [ -e "$OUT/j-1.png" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1
    kill -INT "$pid"
    sleep 0.3
    kill -INT "$pid"
    local t0 t1
    t0=$(date +%s%N)
    wait "$pid"
    rc=$?
    t1=$(date +%s%N)
    if [ $(((t1 - t0) / 1000000)) -gt 4000 ]; then
        echo "left $(((t1 - t0) / 1000000)) ms after the second signal" >&2
        return 99
    fi
    return $rc
}

# Ctrl-C twice with nothing written: the --outdir the run made (three
# levels) is taken back, as it is after one Ctrl-C.
interrupt_twice_newdir() {
    ./zimt gen -q --model $M --device cpu --prompt "a cat" --size 1536x1536 \
        --outdir "$OUT/nd/a/b" &
    local pid=$!
    sleep 1.5
    kill -INT "$pid"
    sleep 0.3
    kill -INT "$pid"
    wait "$pid"
}

# Root writes through any mode bits, so as root this row is skipped (exit
# 77 below), and said so, rather than counted as passed.
synth_interrupt() { # Ctrl-C while the full-size model is being written
    ./zimt synth -q --out "$OUT/m" &
    local pid=$! i
    for i in $(seq 100); do
        [ -n "$(ls -A "$OUT")" ] && break
        sleep 0.05
    done
    sleep 0.5
    kill -"$1" "$pid"
    wait "$pid"
}

unwritable() {
    [ "$(id -u)" -ne 0 ] || return 77
    $G --prompt x --outdir "$LIB_TMP/ro" --name a.png
}

while IFS='|' read -r name cmd want msg keep; do
    name=$(echo "$name" | xargs)
    [ -n "$name" ] && [ "${name#\#}" = "$name" ] || continue
    want=$(echo "$want" | xargs)
    keep=$(echo "$keep" | xargs)
    rm -rf "${OUT:?}"/* "$OUT"/.[!.]* 2>/dev/null
    eval "run $cmd"
    if [ "$RC" -eq 77 ]; then
        echo "skip $name: running as root"
        continue
    fi
    if [ "$RC" -ne "$want" ]; then
        fail "$name" "exit $RC, expected $want"
        continue
    fi
    ok=1
    msg=${msg//\$V/$V}
    IFS=';' read -ra parts <<<"$msg"
    for s in "${parts[@]}"; do
        s=$(echo "$s" | sed -e 's/^ *//' -e 's/ *$//')
        [ -z "$s" ] && continue
        if ! grep -qF -- "$s" "$LIB_TMP/err"; then
            fail "$name" "stderr lacks '$s'"
            ok=0
            break
        fi
    done
    [ "$ok" -eq 1 ] || continue
    got=$(cd "$OUT" && ls -A | tr '\n' ' ' | xargs)
    [ -n "$got" ] || got=-
    if [ "$got" != "$keep" ]; then
        fail "$name" "output directory holds '$got', expected '$keep'"
        continue
    fi
    pass "$name"
done <<'ROWS'
# name               | command                                                        | exit | stderr holds                                   | must exist
missing model dir    | ./zimt gen -q --model $V/none --device cpu --prompt x --outdir $OUT | 1 | model directory $V/none does not exist   | -
missing shard        | ${G/$M/$V/shard} --prompt x --outdir $OUT                    | 1    | shard 'model-00002-of-00002.safetensors' ; is missing | -
truncated shard      | ${G/$M/$V/trunc} --prompt x --outdir $OUT                    | 1    | diffusion_pytorch_model.safetensors ; past the data area | -
wrong dtype          | ${G/$M/$V/dtype} --prompt x --outdir $OUT                    | 1    | decoder.conv_in.bias ; dtype 'I16'             | -
wrong shape          | ${G/$M/$V/shape} --prompt x --outdir $OUT                    | 1    | decoder.conv_in.weight ; expected shape [64, 16, 3, 3], found [16, 64, 3, 3] | -
invalid JSON         | ${G/$M/$V/json} --prompt x --outdir $OUT                     | 1    | transformer/config.json: not valid JSON        | -
invalid UTF-8 prompt | $G --prompt "$BADUTF8" --outdir $OUT                          | 1    | not valid UTF-8 ; offset 3                     | -
over-long prompt     | $G --prompt "$LONG" --outdir $OUT --name long.png             | 0    | warning ; truncated to 512 tokens              | long.png
over-long negative   | $G --prompt x --negative "$LONG" --guidance 2 --outdir $OUT --name longn.png | 0 | the negative prompt was truncated to 512 tokens | longn.png
size not 16-multiple | $G --prompt x --size 100x64 --outdir $OUT                     | 1    | multiples of 16 ; 96x64                        | -
size too big         | env ZIMT_MEM_LIMIT=1G $G --prompt x --size 8192x8192 --outdir $OUT | 1   | 8192x8192 needs ; 1.00 GiB is available ; would fit | -
bad memory limit     | env ZIMT_MEM_LIMIT=lots $G --prompt x --outdir $OUT               | 1    | ZIMT_MEM_LIMIT ; not a byte count              | -
unwritable out dir   | unwritable                                                    | 1    | not writable                                   | -
full disk            | prlimit --fsize=2000 $G --prompt x --seed 77 --outdir $OUT --name a.png | 1 | (seed 77) failed ; a.png: writing PNG failed: File too large | -
name leaves outdir   | $G --prompt x --outdir $OUT --name '../{seed}.png'            | 1    | refused ; '..'                                  | -
synth full disk      | prlimit --fsize=50000000 ./zimt synth -q --out $OUT/m          | 1    | File too large                                 | -
synth tokenizer full | prlimit --fsize=5000000 ./zimt synth --tiny -q --out $OUT/t     | 1    | copying ; tokenizer.json ; failed: File too large | -
synth SIGINT         | synth_interrupt INT                                           | 130  | cancelled                                      | -
synth SIGTERM        | synth_interrupt TERM                                          | 143  | cancelled                                      | -
synthetic and model  | $G --synthetic --prompt x --outdir $OUT                       | 2    | --model and --synthetic exclude each other     | -
SIGINT during batch  | interrupt INT                                                 | 130  | interrupted ; finished images are kept         | j-1.png
SIGHUP during batch  | interrupt HUP                                                 | 129  | interrupted                                    | j-1.png
SIGHUP under nohup   | interrupt HUP ignored                                         | 0    |                                                | j-1.png j-2.png
SIGINT twice         | interrupt_twice                                               | 130  | interrupted again ; stopped at once ; 2 images not made | j-1.png
SIGINT twice, new dir | interrupt_twice_newdir                                       | 130  | interrupted again ; 1 image not made           | -
ROWS

# A model that does not load fails every job of the batch with the same
# message: stderr says it once and counts the images, while --json still
# gives each job its record with the message.
run ${G/$M/$V/shard} --prompt x --seed 2 --seed 3 --outdir "$OUT" --json
check "load failure said once" test "$(grep -c "is missing" "$LIB_TMP/err")" -eq 1
check "load failure counts the jobs" grep -q "3 images not made: the model did not load" "$LIB_TMP/err"
check "load failure in every JSON record" test "$(grep -c '"status":"failed".*is missing' "$LIB_TMP/out")" -eq 3
check "load failure exit 1" test "$RC" -eq 1

# Ctrl-C while --json output waits on a reader that lags (the pipe full,
# gen blocked in write): every job still gets one whole line. A write cut
# by the signal used to make stdio drop the rest of its buffer, which left
# a line cut at 4096 bytes with the next one run on and others lost. Lines
# of 4 KB (a long prompt) and 40 jobs fill the pipe's 64 KiB.
slow_reader_interrupt() {
    local fifo=$LIB_TMP/slow.fifo go=$LIB_TMP/slow.go words i
    rm -f "$fifo" "$go" "$LIB_TMP/slow.out"
    mkfifo "$fifo"
    words=$(printf 'word%.0s ' $(seq 800))
    ( exec 3<"$fifo"; while [ ! -e "$go" ]; do sleep 0.05; done; cat <&3 >"$LIB_TMP/slow.out" ) &
    local reader=$!
    ./zimt gen -q --model $M --device cpu --prompt "$words" --size 16x16 --steps 1 \
        --count 40 --outdir "$OUT/slow" --json >"$fifo" 2>"$LIB_TMP/slow.err" &
    local pid=$!
    for i in $(seq 600); do
        [ "$(cat /proc/$pid/wchan 2>/dev/null)" = pipe_write ] && break
        sleep 0.05
    done
    kill -INT "$pid"
    sleep 0.3
    touch "$go"
    wait "$pid"
    local rc=$?
    wait "$reader"
    return $rc
}
run slow_reader_interrupt
check "slow reader, Ctrl-C: exit 130 or 0" test "$RC" -eq 130 -o "$RC" -eq 0
check "slow reader, Ctrl-C: 40 lines" test "$(wc -l <"$LIB_TMP/slow.out")" -eq 40
check "slow reader, Ctrl-C: each a whole record" test \
    "$(grep -c '^{"job":[0-9]*,"status":"[a-z]*".*}$' "$LIB_TMP/slow.out")" -eq 40
check "slow reader, Ctrl-C: one record a line" test \
    "$(grep -o '{"job":' "$LIB_TMP/slow.out" | wc -l)" -eq 40
check "slow reader, Ctrl-C: every job once" test \
    "$(grep -o '^{"job":[0-9]*' "$LIB_TMP/slow.out" | sort -u | wc -l)" -eq 40
lib_summary
