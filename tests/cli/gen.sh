#!/usr/bin/env bash
# zimt gen: bad settings give a clear error, a non-zero exit and no file;
# batches write one PNG per job and a JSON line per result.
. tests/lib.sh
lib_init gen.sh
M=tests/data/tiny-zimage
G="./zimt gen -q --model $M --device cpu --steps 2 --size 64x64"
out=$LIB_TMP/o
mkdir -p "$out"

no_files() { [ -z "$(ls -A "$out")" ]; }

run $G --prompt x --size 100x64 -o "$out/a.png"
expect_error "size not a multiple of 16" "multiples of 16" "96x64"
check "no file after a bad size" no_files
run $G --prompt x --size 0x64 -o "$out/a.png"
expect_error "zero size" "multiples of 16"
run $G --prompt x --size -64x64 -o "$out/a.png"
expect_error "negative size" "multiples of 16"
for z in " 64x64" "+64x64" "64x 32" "64x+32" "64x64 "; do
    run $G --prompt x --size "$z" -o "$out/a.png"
    expect_error "size '$z' refused" "size '$z' is not WIDTHxHEIGHT"
done
run $G --prompt x --steps 1 --size 0032X0032 -o "$out/z.png"
expect_ok "size with leading zeros and X" "$out/z.png"
rm -f "$out/z.png"
run $G --prompt x --steps " 4" -o "$out/a.png"
expect_error "steps with a space" "steps: ' 4' is not a whole number"
run $G --prompt x --steps 1 --size 32x32 --outdir "$out" --name "$(printf 'a\377.png')" --json
expect_error "--json: a name not UTF-8" "output name is not valid UTF-8 (bad byte at offset"
check "--json: a name not UTF-8: nothing written" no_files
run $G --prompt x --size big -o "$out/a.png"
expect_error "size not WxH" "WIDTHxHEIGHT"
run $G --prompt x --steps 0 -o "$out/a.png"
expect_error "zero steps" "steps must be between"
run $G --prompt x --steps -3 -o "$out/a.png"
expect_error "negative steps" "steps must be between"
run $G --prompt x --steps 99999999999999999999 -o "$out/a.png"
expect_error "steps past any integer" "steps must be between 1 and"
run $G --prompt x --guidance 1e50 -o "$out/a.png"
expect_error "guidance past a float" "guidance must be between 0 and 100"
# a value just past the limit is quoted as given, not as %g rounds it
run $G --prompt x --guidance 100.00001 -o "$out/g.png"
expect_error "guidance just past 100: said as given" "guidance must be between 0 and 100 (got 100.00001)"
run $G --prompt x -o "$out/"
expect_error "an output that names a directory" "names a directory"
run $G --prompt x --seed 12abc -o "$out/a.png"
expect_error "non-numeric seed" "seed" "not a number"
run $G --prompt x --seed 18446744073709551616 -o "$out/a.png"
expect_error "seed over 64 bits" "larger than"
run $G --prompt x --guidance much -o "$out/a.png"
expect_error "non-numeric guidance" "guidance"
# -0 is 0, written without its sign
run $G --prompt x --guidance -0 --json -o "$out/z.png"
expect_ok "guidance -0" '"guidance":0,'
rm -f "$out/z.png"
# decimal only: strtof would read 0x10 as 16 and " 3" as 3
for g in 0x10 inf " 3" 1e; do
    run $G --prompt x --guidance "$g" -o "$out/a.png"
    expect_error "guidance '$g'" "guidance: '$g' is not a number"
done
run $G --prompt x --rng gpu -o "$out/a.png"
expect_error "unknown rng" "gpu"
run $G --prompt x --precision fp16 -o "$out/a.png"
expect_error "unknown precision" "fp16" "auto, bf16, fp32 or fp8"
# the CPU computes in F32 whatever was asked: said, not silent
run $G --prompt x --precision fp8 -o "$LIB_TMP/p8.png"
expect_ok "fp8 on the CPU: made" p8.png
check "fp8 on the CPU: said to be F32" \
    grep -qF "warning: --precision fp8 applies on CUDA; the CPU computes in F32" "$LIB_TMP/err"
run $G --prompt x --precision fp32 -o "$LIB_TMP/p32.png"
check "fp32 on the CPU: no warning" test ! -s "$LIB_TMP/err"
run ./zimt ui --precision fp16
expect_error "workbench: unknown precision" "fp16" "auto, bf16, fp32 or fp8"
run ./zimt ui --bogus 1
expect_error "workbench: unknown option" "unknown option '--bogus'"
run ./zimt ui --bogus
expect_error "workbench: unknown option last" "unknown option '--bogus'"
run ./zimt ui --theme
expect_error "workbench: missing value" "option '--theme' needs a value"
run env ZIMT_MEM_LIMIT=lots ./zimt ui
expect_error "workbench: bad memory limit" "ZIMT_MEM_LIMIT: 'lots' is not a byte count"
run $G --prompt x -o /nonexistent/dir/a.png
expect_error "missing output directory" "/nonexistent/dir" "does not exist"
run $G --prompt x --outdir ""
expect_error "an empty output directory" "the output directory is an empty path"
# A missing --outdir is made, parents included; "DIR/" names its files
# without a doubled slash.
run $G --prompt x --seed 3 --seed 4 --outdir "$LIB_TMP/new/a/" --name 'n-{seed}.png' --json
expect_ok "a missing --outdir is made" "\"path\":\"$LIB_TMP/new/a/n-3.png\""
check "both images in the new directory" test -s "$LIB_TMP/new/a/n-4.png"
# a run refused by a later check leaves no directory behind
run $G --prompt x --outdir "$LIB_TMP/new2/b" --name 'x.webp'
expect_error "refused after making --outdir" "give the name a .png extension"
check "refused: the directory made for it is gone" test ! -e "$LIB_TMP/new2"
# A jobs file's subdirectories are made inside --outdir; a batch refused
# by a later line takes back every directory made for it, and a link
# that leads out is refused before anything is made at its far end.
printf '{"prompt":"a"}\n{"prompt":"b","output":"sub/deep/x.png"}\n' >"$LIB_TMP/sub.jsonl"
run $G --jobs "$LIB_TMP/sub.jsonl" --outdir "$LIB_TMP/new3/c"
expect_ok "a jobs line's subdirectories made"
check "the image in the subdirectory" test -s "$LIB_TMP/new3/c/sub/deep/x.png"
printf '{"prompt":"b","output":"one/x.png"}\n{"prompt":"c","output":"one/two/y.png"}\n{"prompt":"d","output":"z.webp"}\n' \
    >"$LIB_TMP/sub2.jsonl"
run $G --jobs "$LIB_TMP/sub2.jsonl" --outdir "$LIB_TMP/new4/e"
expect_error "a batch refused by its third job" "z.webp: zimt writes PNG images"
check "refused batch: every directory made for it is gone" test ! -e "$LIB_TMP/new4"
# a model that does not load writes nothing: the --outdir made stays no more
mkdir -p "$LIB_TMP/notok" && cp -r "${M:?}/." "$LIB_TMP/notok/" && rm "$LIB_TMP/notok/vae/config.json"
run ./zimt gen --model "$LIB_TMP/notok" --device cpu --prompt x --outdir "$LIB_TMP/new5/f"
expect_error "a model that did not load" "did not load"
check "no load: the directory made for it is gone" test ! -e "$LIB_TMP/new5"
mkdir -p "$LIB_TMP/new5" "$LIB_TMP/far"
ln -s "$LIB_TMP/far" "$LIB_TMP/new5/link"
printf '{"prompt":"b","output":"link/made/x.png"}\n' >"$LIB_TMP/sub3.jsonl"
run $G --jobs "$LIB_TMP/sub3.jsonl" --outdir "$LIB_TMP/new5"
expect_error "a jobs line through a link out" "leads out of the output directory"
check "nothing made at the link's far end" test ! -e "$LIB_TMP/far/made"
: >"$LIB_TMP/plainfile"
run $G --prompt x --outdir "$LIB_TMP/plainfile/d"
expect_error "--outdir through a file" "cannot make output directory $LIB_TMP/plainfile/d: $LIB_TMP/plainfile is not a directory"
mkdir -p "$LIB_TMP/ro" && chmod 555 "$LIB_TMP/ro"
if [ "$(id -u)" -ne 0 ]; then
    run $G --prompt x -o "$LIB_TMP/ro/a.png"
    expect_error "unwritable output directory" "not writable"
fi
run $G --prompt x -o "$out/a.jpg"
expect_error "output named for another format" "a.jpg" ".png extension"
run $G --prompt x --outdir "$out" --name '{seed}.webp'
expect_error "template naming another format" ".webp" ".png extension"
run $G --prompt "$(printf 'caf\xc3')" -o "$out/a.png"
expect_error "invalid UTF-8 prompt" "UTF-8" "offset 3"
check "no file after bad settings" no_files
touch "$out/exists.png"
run $G --prompt x -o "$out/exists.png"
expect_error "output exists" "already exists"
check "existing file untouched" test ! -s "$out/exists.png"
rm -f "$out/exists.png"
run ./zimt gen --model "$LIB_TMP/nomodel" --device cpu --prompt x -o "$out/a.png"
expect_error "missing model" "nomodel"
check "no file after a missing model" no_files
run $G --prompt x --bogus
expect_error "unknown option" "--bogus"

run $G --prompt "a cat" --seed 1 --seed 2 --outdir "$out" --name 'zimt-{seed}.png' --json
expect_ok "two seeds" '"status":"ok"' "zimt-1.png" "zimt-2.png"
check "two PNGs" test -s "$out/zimt-1.png" -a -s "$out/zimt-2.png"
check "one JSON line per job" test "$(wc -l <"$LIB_TMP/out")" -eq 2
# seeds near 2^53 are printed exactly (cJSON printed 9.00719925474099e+15)
run $G --prompt x --steps 1 --size 32x32 --seed 9007199254740991 --seed 8000000000000001 \
    --outdir "$out" --name 'big-{seed}.png' --json
expect_ok "--json: seeds near 2^53 exact" '"seed":9007199254740991,' '"seed":8000000000000001,'
run $G --prompt "a cat" --count 2 --seed 7 -o "$out/c.png"
expect_ok "count" "c-1.png" "c-2.png"
run $G --prompt "a cat" --count 1 --steps 1 --size 32x32 -o "$out/one.png"
expect_ok "a count of one keeps the name" "$out/one.png"
# each "random" among several seeds is its own draw, not the last seed
run $G --prompt x --steps 1 --size 32x32 --seed random --seed 5 --outdir "$out" \
    --name 'mix-{n}.png' --json
expect_ok "random among seeds" '"seed":5'
check "random among seeds: two different seeds" \
    test "$(grep -o '"seed":[0-9]*' "$LIB_TMP/out" | sort -u | wc -l)" -eq 2
# a template name taken on disk is skipped when a batch numbers its names
touch "$out/t-2.png"
run $G --prompt x --steps 1 --size 32x32 --count 3 --outdir "$out" --name t.png
expect_ok "template numbering skips names on disk" "t.png" "t-3.png" "t-4.png"
check "the file in the way is untouched" test ! -s "$out/t-2.png"
# a template name numbered past a file on disk skips a later line's own name
# too (the batch was refused: "lines 1 and 2 both write .../n-2.png")
touch "$out/n.png"
printf '{"prompt":"a","steps":1,"size":"32x32"}\n{"prompt":"b","steps":1,"size":"32x32","output":"n-2.png"}\n' >"$LIB_TMP/n.jsonl"
run $G --jobs "$LIB_TMP/n.jsonl" --outdir "$out" --name n.png
expect_ok "template numbering skips a later line's name" "n-3.png" "n-2.png"
check "template numbering: the file in the way is untouched" test ! -s "$out/n.png"
check "template numbering: both written" test -s "$out/n-2.png" -a -s "$out/n-3.png"
# the same file spelled two ways is one output, refused before the model loads
printf '{"prompt":"a","output":"x.png"}\n{"prompt":"b","output":"./x.png"}\n' >"$LIB_TMP/x.jsonl"
run $G --jobs "$LIB_TMP/x.jsonl" --outdir "$out"
expect_error "one file, two spellings" "x.jsonl lines 1 and 2 both write"
check "one file, two spellings: nothing written" test ! -e "$out/x.png"
# $ZIMT_MODEL naming no model is an error, not the bundled tiny model in
# its place (under --quiet its images came without a word)
run env ZIMT_MODEL="$LIB_TMP/nowhere" ./zimt gen -q --device cpu --size 16x16 --prompt x \
    -o "$out/zm.png"
expect_error "ZIMT_MODEL missing" "\$ZIMT_MODEL: model directory $LIB_TMP/nowhere does not exist"
check "ZIMT_MODEL missing: nothing written" test ! -e "$out/zm.png"
mkdir -p "$LIB_TMP/emptymodel"
run env ZIMT_MODEL="$LIB_TMP/emptymodel" HF_HOME="$LIB_TMP/nohf" MODELSCOPE_CACHE="$LIB_TMP/noms" \
    ./zimt gen -q --device cpu --size 16x16 --prompt x -o "$out/zm.png"
expect_error "ZIMT_MODEL incomplete" "\$ZIMT_MODEL names $LIB_TMP/emptymodel"
check "ZIMT_MODEL incomplete: nothing written" test ! -e "$out/zm.png"
# a line's empty prompt is a prompt, as --prompt "" is; no prompt at all
# (none on the line, no --prompt, no --from) is refused
printf '{"prompt":"","steps":1,"size":"32x32","output":"e.png"}\n' >"$LIB_TMP/e.jsonl"
run ./zimt gen -q --model $M --device cpu --jobs "$LIB_TMP/e.jsonl" --outdir "$out" --json
expect_ok "jobs file: an empty prompt" '"prompt":""' '"status":"ok"'
rm -f "$out/e.png"
printf '{"steps":1}\n' >"$LIB_TMP/e.jsonl"
run ./zimt gen -q --model $M --device cpu --jobs "$LIB_TMP/e.jsonl" --outdir "$out"
expect_error "jobs file: no prompt at all" "e.jsonl line 1: no \"prompt\""
# a key given twice in a line is refused, as an unknown key is (the first
# value was taken without a word); a line's refused output names the line
printf '{"prompt":"a","prompt":"b"}\n' >"$LIB_TMP/d.jsonl"
run $G --jobs "$LIB_TMP/d.jsonl" --outdir "$out"
expect_error "jobs file: a key twice" "d.jsonl line 1: \"prompt\" given twice"
printf '{"prompt":"a","negative":"x","negative_prompt":"y"}\n' >"$LIB_TMP/d.jsonl"
run $G --jobs "$LIB_TMP/d.jsonl" --outdir "$out"
expect_error "jobs file: both spellings of negative" \
    "d.jsonl line 1: \"negative\" and \"negative_prompt\" both given"
printf '{"prompt":"a"}\n{"prompt":"a","output":"sub/x.jpg"}\n' >"$LIB_TMP/d.jsonl"
run $G --jobs "$LIB_TMP/d.jsonl" --outdir "$out"
expect_error "jobs file: a refused output names its line" "d.jsonl line 2: " "x.jpg"
# a jobs file's problems name its line (a bad prompt said "job 2")
printf '# c\n\n{"prompt":"ok"}\n{"prompt":"ca\377"}\n' >"$LIB_TMP/u.jsonl"
run $G --jobs "$LIB_TMP/u.jsonl" --outdir "$out"
expect_error "jobs file: a bad prompt's line" "u.jsonl line 4: the prompt is not valid UTF-8"
# options that would be dropped are refused
run $G --jobs "$LIB_TMP/u.jsonl" --jobs "$LIB_TMP/x.jsonl" --outdir "$out"
expect_error "--jobs twice" "--jobs given twice"
run $G --prompt x --prompt y -o "$out/pp.png"
expect_error "--prompt twice" "--prompt given twice ('x', then 'y')"
check "--prompt twice: nothing written" test ! -e "$out/pp.png"
run $G --prompt x --steps 1 --size 32x32 --seed 18446744073709551614 --count 3 --outdir "$out/wrap"
expect_error "--count past the largest seed" "would pass the largest seed" "18446744073709551613"
check "--count past the largest seed: nothing made" test ! -e "$out/wrap"
run $G --prompt x --steps 1 --size 32x32 --seed 18446744073709551613 --count 3 --outdir "$out" \
    --name 'w-{seed}.png'
expect_ok "--count up to the largest seed" "w-18446744073709551615.png"
run $G --prompt x --seed 1 --seed 2 --count 5 -o "$out/q.png"
expect_error "several seeds and --count" "not both"
check "several seeds and --count: bad usage, exit 2" test "$RC" -eq 2
run $G
expect_error "no prompt" "no prompt: give --prompt TEXT"
check "no prompt: bad usage, exit 2" test "$RC" -eq 2
run $G --prompt x --size abc -o "$out/q.png"
check "a bad value: an error, exit 1" test "$RC" -eq 1
run $G --jobs "$LIB_TMP/x.jsonl" --count 3
expect_error "--jobs and --count" "no --count"
run $G --prompt x -o "$out/q.png" --outdir "$LIB_TMP/nowhere"
expect_error "-o and --outdir" "-o FILE or --outdir DIR"
printf '{"prompt":"a cat","seed":3}\n{"prompt":"a dog","output":"dog.png"}\n' >"$LIB_TMP/j.jsonl"
run $G --jobs "$LIB_TMP/j.jsonl" --outdir "$out" --name 'zimt-{seed}.png'
expect_ok "jobs file" "zimt-3.png" "dog.png"
printf '{"prompt":"a cat","output":"in-1.png"}\n{"prompt":"a dog","output":"in-2.png"}\n' |
    $G --jobs - --outdir "$out" >"$LIB_TMP/out" 2>"$LIB_TMP/err"
RC=$?
expect_ok "jobs from stdin" "in-1.png" "in-2.png"
printf '{"prompt":"a cat"}\n{"prompt":5}\n' | $G --jobs - --outdir "$out" >"$LIB_TMP/out" 2>"$LIB_TMP/err"
RC=$?
expect_error "a bad job on stdin names the line" "stdin line 2"
printf '{"prompt":"a cat"}\nnot json\n' >"$LIB_TMP/bad.jsonl"
run $G --jobs "$LIB_TMP/bad.jsonl" --outdir "$out"
expect_error "bad jobs file" "line 2" "not valid JSON"

# Jobs files never lose a job or a setting quietly; all checked before the
# model loads (so no file is written).
rm -f "$out"/*
jobs_error() { # NAME TEXT WANT...
    local name=$1 text=$2
    shift 2
    printf "$text" >"$LIB_TMP/e.jsonl"
    run $G --jobs "$LIB_TMP/e.jsonl" --outdir "$out"
    expect_error "$name" "$@"
}
jobs_error "two objects on a line" '{"prompt":"a","seed":5}{"prompt":"b","seed":6}\n' \
    "line 1" "text after the JSON object"
jobs_error "line numbers count blank lines" '{"prompt":"a"}\n\n\n\n{"prompt":5}\n' \
    "line 5" '"prompt" must be a string'
jobs_error "a NUL byte" '{"prompt":"a"}\n\0\n{"prompt":"b"}\n' "line 2" "NUL byte"
jobs_error "an escaped NUL" '{"prompt":"a\\u0000b"}\n' "line 1" "\\u0000"
jobs_error "an escaped NUL after a backslash" '{"prompt":"a\\\\\\u0000b"}\n' "line 1" "\\u0000"
jobs_error "an unknown key" '{"prompt":"a","width":512}\n' 'unknown key "width"'
jobs_error "steps out of any range" '{"prompt":"a","steps":1e300}\n' '"steps" must be'
jobs_error "a fractional seed" '{"prompt":"a","seed":1.7}\n' '"seed" 1.7 is not a whole number'
jobs_error "a seed past 2^53 as a number" '{"prompt":"a","seed":18446744073709551615}\n' \
    "must be a string"
jobs_error "negative prompt not UTF-8" '{"prompt":"cat","negative":"\xff"}\n' \
    "negative prompt is not valid UTF-8"
check "no file after bad jobs files" no_files
printf '{"prompt":"a\\\\u0000b \\\\\\u0041","output":"lit.png"}\n' >"$LIB_TMP/lit.jsonl"
run $G --jobs "$LIB_TMP/lit.jsonl" --outdir "$out" --steps 1 --size 32x32
expect_ok "a backslash before u0000 is text, not NUL"
check "that prompt is written" test -s "$out/lit.png"
rm -f "$out/lit.png"
printf '{"prompt":"a","seed":"random"}\n{"prompt":"b","seed":"random"}\n' >"$LIB_TMP/r.jsonl"
run $G --jobs "$LIB_TMP/r.jsonl" --seed 7 --outdir "$out" --name 'r-{seed}.png' --json
expect_ok "random seeds in a jobs file" '"status":"ok"'
check "random seeds are drawn, not --seed" \
    test "$(ls "$out" | grep -c '^r-')" -eq 2 -a ! -e "$out/r-7.png"
# lines without a seed, and no --seed (or --seed random): a draw for each
# line (one draw for all made lines of one prompt the same image)
printf '{"prompt":"a"}\n{"prompt":"a"}\n{"prompt":"a"}\n' >"$LIB_TMP/n.jsonl"
for s in "" "--seed random"; do
    rm -f "$out"/n-*.png
    run $G --jobs "$LIB_TMP/n.jsonl" $s --steps 1 --size 32x32 --outdir "$out" --name 'n-{seed}-{n}.png'
    check "jobs without seeds ($s): a seed each" \
        test "$(ls "$out" | grep '^n-' | cut -d- -f2 | sort -u | wc -l)" -eq 3
done
rm -f "$out"/n-*.png
run $G --jobs "$LIB_TMP/n.jsonl" --seed 9 --steps 1 --size 32x32 --outdir "$out" --name 'n-{seed}-{n}.png'
check "jobs without seeds, --seed 9: that seed each" \
    test "$(ls "$out" | grep -c '^n-9-')" -eq 3

# A job that could not be written still reports its settings, the seed
# drawn included, so the same image can be made again.
run prlimit --fsize=2000 $G --prompt "a cat" --size 32x32 --steps 1 --outdir "$out" --name big.png --json
check "a failed write exits 1" test "$RC" -eq 1
check "its JSON names the failure and the seed" grep -q \
    '"status":"failed".*"settings":{.*"seed":[0-9]*.*"error":".*File too large' "$LIB_TMP/out"
check "no partial file" test ! -e "$out/big.png"
check "the copy under TMPDIR failed the same way, and says so" grep -q \
    "no copy could be kept either (.*File too large.*); its seed and settings" "$LIB_TMP/err"

# An image whose directory went away while it was made is kept under
# $TMPDIR with its settings, and the JSON says where.
gone=$LIB_TMP/gone
rescue=$LIB_TMP/rescue
mkdir -p "$gone" "$rescue"
TMPDIR=$rescue ./zimt gen --model $M --device cpu --steps 60 --size 256x256 --prompt "a cat" \
    --seed 5 --outdir "$gone" --name g.png --json >"$LIB_TMP/out" 2>"$LIB_TMP/err" &
pid=$!
for i in $(seq 600); do
    grep -q "step 2/60" "$LIB_TMP/err" 2>/dev/null && break
    sleep 0.05
done
rm -rf "$gone"
wait "$pid"
RC=$?
check "a job whose directory went away fails" test "$RC" -eq 1
check "its image is kept under TMPDIR" test -s "$rescue/zimt-unsaved-5.png"
check "stderr names the copy" grep -qF "the image is kept as $rescue/zimt-unsaved-5.png" \
    "$LIB_TMP/err"
check "the JSON names the copy" grep -qF "\"kept\":\"$rescue/zimt-unsaved-5.png\"" "$LIB_TMP/out"
run ./zimt gen -q --model $M --device cpu --from "$rescue/zimt-unsaved-5.png" -o "$out/again.png"
expect_ok "the copy's settings make it again"
if command -v identify >/dev/null; then # ImageMagick: not in the quick-start packages
    check "the same pixels again" test "$(identify -format '%#' "$out/again.png")" = \
        "$(identify -format '%#' "$rescue/zimt-unsaved-5.png")"
fi
rm -f "$out/again.png"

# Results that cannot be printed (stdout on a full disk) fail the command;
# the image itself is still written.
$G --prompt x --steps 1 --size 32x32 -o "$out/full.png" --json >/dev/full 2>"$LIB_TMP/err"
RC=$?
expect_error "stdout on a full disk" "cannot write to standard output: No space left on device"
check "stdout on a full disk: the image is kept" test -s "$out/full.png"

# Names up to the longest a directory takes are written; longer ones are
# refused before anything runs.
long=$(printf 'n%.0s' $(seq 1 250))
run $G --prompt x --steps 1 --size 32x32 -o "$out/$long.png"
expect_ok "a 254-byte file name is written"
check "the long name is on disk" test -s "$out/$long.png"
run $G --prompt x --steps 1 --size 32x32 -o "$out/${long}xxxxxxxxxx.png"
expect_error "a name past 255 bytes" "File name too long"

# Settings from a PNG are checked before the model loads.
if command -v convert >/dev/null; then
    convert -size 16x16 xc:red -set parameters "$(printf 'cat\nSteps: 0, Size: 16x16')" \
        "$LIB_TMP/steps0.png"
    run ./zimt gen --model $M --device cpu --from "$LIB_TMP/steps0.png" -o "$out/f.png"
    expect_error "--from: steps out of range" "steps0.png" "steps must be between"
    check "--from: refused before loading" test -z "$(grep -F 'loaded' "$LIB_TMP/err")"
    convert -size 16x16 xc:red -set parameters \
        "$(printf 'cat\nSteps: 2, Seed: 99999999999999999999999, Size: 16x16')" "$LIB_TMP/seed.png"
    run ./zimt gen --model $M --device cpu --from "$LIB_TMP/seed.png" -o "$out/f.png"
    expect_error "--from: an unreadable seed named" "settings cannot be used" "Seed"
    # a damaged zimt chunk beside good A1111 text: the text is taken, and
    # said (it was taken without a word)
    convert -size 16x16 xc:red -set zimt '{"prompt": "dog", "steps": ' -set parameters \
        "$(printf 'cat\nSteps: 2, Seed: 5, Size: 16x16')" "$LIB_TMP/fallback.png"
    run ./zimt gen --model $M --device cpu --from "$LIB_TMP/fallback.png" -o "$out/fb.png" --json
    expect_ok "--from: the A1111 text over a damaged zimt chunk" '"prompt":"cat"'
    check "--from: the fallback said" grep -qF \
        "warning: $LIB_TMP/fallback.png: its zimt settings cannot be used" "$LIB_TMP/err"
    rm -f "$out/fb.png"
    convert -size 16x16 xc:red -set parameters \
        "$(printf 'cat\nSteps: 2, CFG scale: 1e30, Size: 16x16')" "$LIB_TMP/cfg.png"
    run ./zimt gen --model $M --device cpu --from "$LIB_TMP/cfg.png" -o "$out/f.png"
    expect_error "--from: guidance past the limit" "cfg.png" "guidance must be between 0 and 100"
    # the settings are taken, not another tool's sampler and model names
    a1111='Steps: 1, Sampler: DPM++ 2M Karras, Seed: 4, Size: 32x32, Model: sd_xl_base_1.0'
    convert -size 16x16 xc:red -set parameters "$(printf 'cat\n%s' "$a1111")" "$LIB_TMP/samp.png"
    run ./zimt gen -q --model $M --device cpu --from "$LIB_TMP/samp.png" -o "$out/samp.png" --json
    expect_ok "--from: settings taken" '"seed":4' '"sampler":"Euler"' '"model":"Z-Image-Turbo"'
    # A1111 text without a seed: one is drawn and said (it was seed 0 for
    # every such file, without a word); --seed gives one without a word
    # from_noseed NAME PNG PROMPT OUT: made from PNG's settings, which give
    # no seed: with a seed drawn (not 0), and said
    from_noseed() {
        run ./zimt gen -q --model $M --device cpu --from "$2" -o "$out/$4" --json
        expect_ok "$1: made" "\"prompt\":\"$3\""
        check "$1: not seed 0" test -z "$(grep -F '"seed":0,' "$LIB_TMP/out")"
        check "$1: said" grep -qF "warning: $2 gives no seed; a random one is drawn" \
            "$LIB_TMP/err"
    }
    convert -size 16x16 xc:red -set parameters "$(printf 'cat\nSteps: 1, Size: 32x32')" \
        "$LIB_TMP/noseed.png"
    from_noseed "--from without a seed" "$LIB_TMP/noseed.png" cat ns.png
    run ./zimt gen -q --model $M --device cpu --from "$LIB_TMP/noseed.png" --seed 7 \
        -o "$out/ns7.png" --json
    expect_ok "--from without a seed, --seed 7" '"seed":7,'
    check "--from without a seed, --seed 7: nothing said" test ! -s "$LIB_TMP/err"
    # a zimt chunk without a seed: the same (it was seed 0 without a word)
    convert -size 16x16 xc:red -set zimt '{"version":1,"prompt":"a","width":32,"height":32,"steps":1}' \
        "$LIB_TMP/znoseed.png"
    from_noseed "--from a zimt chunk without a seed" "$LIB_TMP/znoseed.png" a zns.png
    # A1111's CFG scale is decimal, as --guidance is ("0x10" was 16)
    convert -size 16x16 xc:red -set parameters "$(printf 'cat\nSteps: 1, CFG scale: 0x10, Seed: 3')" \
        "$LIB_TMP/hexcfg.png"
    run ./zimt gen -q --model $M --device cpu --from "$LIB_TMP/hexcfg.png" -o "$out/hex.png"
    expect_error "--from A1111 CFG scale in hex: refused" "CFG scale"
    # both: a damaged zimt chunk and A1111 text without a seed (the first
    # reason was lost, an empty note)
    convert -size 16x16 xc:red -set zimt '{"version":1,"prompt":' -set parameters \
        "$(printf 'dog\nSteps: 1, Size: 32x32')" "$LIB_TMP/dmgns.png"
    run ./zimt gen -q --model $M --device cpu --from "$LIB_TMP/dmgns.png" -o "$out/dn.png"
    expect_ok "--from damaged and without a seed: made"
    check "--from damaged and without a seed: both said" grep -qF \
        "its zimt settings cannot be used (settings JSON: not a JSON object); its A1111 text was taken; $LIB_TMP/dmgns.png gives no seed" \
        "$LIB_TMP/err"
    # blank A1111 text is no settings (it read as an empty prompt, seed 0)
    convert -size 16x16 xc:red -set parameters " " "$LIB_TMP/blank.png"
    run ./zimt gen -q --model $M --device cpu --from "$LIB_TMP/blank.png" -o "$out/bl.png"
    expect_error "--from blank text" "blank.png carries no generation settings"
fi

# One --name for every job of a batch: numbered past the names taken, by
# files there before or by earlier jobs; 4000 of them planned in seconds
# (each job tried every number below its own against every other job: 24 s
# for 2000, hours for 10000). ZIMT_MEM_LIMIT fails the jobs at once.
mkdir -p "$LIB_TMP/nm" && touch "$LIB_TMP/nm/x-3.png"
run env ZIMT_MEM_LIMIT=1M ./zimt gen -q --model $M --device cpu --prompt a --count 4 \
    --outdir "$LIB_TMP/nm" --name x.png --json
check "one name: numbered past a file there" test \
    "$(grep -o '"path":"[^"]*"' "$LIB_TMP/out" | tr '\n' ' ')" = \
    "\"path\":\"$LIB_TMP/nm/x.png\" \"path\":\"$LIB_TMP/nm/x-2.png\" \"path\":\"$LIB_TMP/nm/x-4.png\" \"path\":\"$LIB_TMP/nm/x-5.png\" "
run env ZIMT_MEM_LIMIT=1M timeout 60 ./zimt gen -q --model $M --device cpu --prompt a \
    --count 4000 --outdir "$LIB_TMP/nm" --name y.png --json
check "one name, 4000 jobs: planned and reported" test "$(grep -c '"status":"failed"' "$LIB_TMP/out")" -eq 4000
check "one name, 4000 jobs: the last numbered 4000" grep -qF "\"path\":\"$LIB_TMP/nm/y-4000.png\"" "$LIB_TMP/out"

# --json lines are UTF-8 whatever the bytes they quote: a model folder (in
# the failure's message) and a $TMPDIR (in a kept copy's path) that are not
# UTF-8 come out with U+FFFD for the bad byte (they came out raw: no JSON).
bad=$(printf '%s/m\377odel' "$LIB_TMP")
cp -r "$M" "$bad"
truncate -s 700000 "$bad/transformer/diffusion_pytorch_model.safetensors"
run ./zimt gen -q --model "$bad" --device cpu --prompt x --size 32x32 --steps 1 -o "$out/u.png" --json
check "--json: a failure quoting bytes not UTF-8 fails" test "$RC" -eq 1
check "--json: the line is UTF-8" iconv -f UTF-8 -t UTF-8 -o /dev/null "$LIB_TMP/out"
check "--json: the byte given as U+FFFD" grep -qF "m$(printf '\357\277\275')odel" "$LIB_TMP/out"
lib_summary
