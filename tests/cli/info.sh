#!/usr/bin/env bash
# info.sh - `zimt info` on the tiny model and on damaged copies of it.
# Each damaged copy must fail cleanly (exit 1..127) with a message naming the
# file, tensor or key and the problem.
set -u
. tests/lib.sh
lib_init info.sh

ZIMT=./zimt
FIX=tests/data/tiny-zimage
TE=text_encoder/model-00002-of-00002.safetensors
DIT=transformer/diffusion_pytorch_model.safetensors
VAE=vae/diffusion_pytorch_model.safetensors

# fresh NAME: a copy of the fixture in $LIB_TMP/NAME, printed. Files are hard
# links when possible; own() makes one a private copy before damaging it.
fresh() {
    local d=$LIB_TMP/$1
    cp -al "$FIX" "$d" 2>/dev/null || cp -r "$FIX" "$d"
    echo "$d"
}
own() {
    cp "$1" "$1.own" && mv "$1.own" "$1"
}

run $ZIMT info
expect_ok "default model" "model: $FIX" text_encoder transformer vae tokenizer scheduler \
    "result: ok"
run $ZIMT info --model "$FIX"
expect_ok "good model" "text_encoder:" "transformer:" "vae:" "35 tensors" "101 tensors" \
    "176 tensors"

# A --model that is no directory: one line that says so, not a problem per
# file (the same check in gen, doctor and the workbench).
run $ZIMT info --model "$LIB_TMP/none"
expect_error "missing directory" "model directory $LIB_TMP/none does not exist"
check "missing directory: one line" test "$(wc -l <"$LIB_TMP/err")" -eq 1
run $ZIMT info --model "$FIX/model_index.json"
expect_error "a file, not a directory" "model_index.json is not a directory"
run $ZIMT info --model ""
expect_error "an empty path" "the model directory is an empty path"
run $ZIMT gen --model "$FIX/model_index.json" --prompt x -o "$LIB_TMP/x.png"
expect_error "gen: a file as the model" "is not a directory" "zimt doctor"
run $ZIMT doctor --model ""
expect_error "doctor: an empty path" "the model directory is an empty path"
run $ZIMT tokenize --model "$FIX/model_index.json" "a cat"
expect_error "tokenize: a file as the model" "is not a directory"
run $ZIMT bench --device cpu --model "$LIB_TMP/none" --runs 1
expect_error "bench: a missing model" "model directory $LIB_TMP/none does not exist"
# bench --json escapes the model's path; the CPU computes in F32 and says so
ln -s "$PWD/$FIX" "$LIB_TMP/q\"m\\x"
run $ZIMT bench --device cpu --model "$LIB_TMP/q\"m\\x" --size 32x32 --steps 1 --runs 1 --json
expect_ok "bench --json: a quote and a backslash in the path" 'q\"m\\x"' '"precision":"fp32"'
run $ZIMT bench --steps
check "bench: a missing value is bad usage" test "$RC" -eq 2

d=$(fresh truncated)
own "$d/$TE"
truncate -s 20000 "$d/$TE"
run $ZIMT info --model "$d"
expect_error "truncated shard" model-00002-of-00002.safetensors "past the data area"

d=$(fresh hdrlen)
own "$d/$VAE"
le64 99999999999 | dd of="$d/$VAE" conv=notrunc status=none
run $ZIMT info --model "$d"
expect_error "header length past EOF" "$VAE" "header length 99999999999 past the end"

d=$(fresh badjson)
own "$d/$DIT"
printf 'X' | dd of="$d/$DIT" bs=1 seek=8 conv=notrunc status=none
run $ZIMT info --model "$d"
expect_error "bad JSON header" "$DIT" "not valid JSON"

d=$(fresh range)
st_edit_header "$d/$DIT" 's/\[1411776,1411904\]/[1411776,1511904]/'
run $ZIMT info --model "$d"
expect_error "offsets out of range" "$DIT" x_pad_token "past the data area"

d=$(fresh overlap)
st_edit_header "$d/$DIT" 's/"data_offsets":\[8320,8448\]/"data_offsets":[0,128]/'
run $ZIMT info --model "$d"
expect_error "overlapping offsets" "$DIT" "all_final_layer.2-1.linear.bias" overlapping

d=$(fresh mismatch)
st_edit_header "$d/$DIT" \
    's/"x_pad_token":{"dtype":"BF16"/"x_pad_token":{"dtype":"F32"/'
run $ZIMT info --model "$d"
expect_error "dtype/shape size mismatch" "$DIT" x_pad_token "needs 256 bytes" "span 128"

d=$(fresh overflow)
st_edit_header "$d/$DIT" \
    's/"shape":\[1,64\]/"shape":[9007199254740991,9007199254740991,4096,4096]/'
run $ZIMT info --model "$d"
expect_error "shape overflow" "$DIT" pad_token "overflows"

d=$(fresh dtype)
st_edit_header "$d/$DIT" 's/"x_pad_token":{"dtype":"BF16"/"x_pad_token":{"dtype":"F64"/'
run $ZIMT info --model "$d"
expect_error "unsupported dtype" "$DIT" x_pad_token "unsupported dtype 'F64'"

d=$(fresh noshard)
rm "$d/$TE"
run $ZIMT info --model "$d"
expect_error "missing shard" "model-00002-of-00002.safetensors" "missing" \
    model.safetensors.index.json

d=$(fresh badshard)
own "$d/text_encoder/model.safetensors.index.json"
sed -i 's#"model.norm.weight": "model-00002-of-00002.safetensors"#"model.norm.weight": "../x.safetensors"#' \
    "$d/text_encoder/model.safetensors.index.json"
run $ZIMT info --model "$d"
expect_error "shard path in index" "../x.safetensors" "not a plain file name"

d=$(fresh notinshard)
st_edit_header "$d/$TE" 's/"model.norm.weight"/"model.norm.weighx"/'
run $ZIMT info --model "$d"
expect_error "indexed tensor not in shard" "model-00002-of-00002.safetensors" \
    "model.norm.weight" "not found"

d=$(fresh missing)
st_edit_header "$d/$DIT" 's/"x_pad_token"/"y_pad_token"/'
run $ZIMT info --model "$d"
expect_error "missing tensor" "missing tensor 'x_pad_token' [1, 64]" \
    "unexpected tensor 'y_pad_token'"

d=$(fresh shape)
st_edit_header "$d/$DIT" 's/"x_pad_token":{"dtype":"BF16","shape":\[1,64\]/"x_pad_token":{"dtype":"BF16","shape":[2,32]/'
run $ZIMT info --model "$d"
expect_error "wrong shape" "$DIT" "x_pad_token" "expected [1, 64], found [2, 32]"

d=$(fresh vaeshape)
st_edit_header "$d/$VAE" 's/"decoder.conv_out.bias":{"dtype":"BF16","shape":\[3\],"data_offsets":\[\([0-9]*\),\([0-9]*\)\]/"decoder.conv_out.bias":{"dtype":"BF16","shape":[1,3],"data_offsets":[\1,\2]/'
run $ZIMT info --model "$d"
expect_error "wrong VAE shape" "decoder.conv_out.bias" "expected [3], found [1, 3]"

d=$(fresh dup)
st_edit_header "$d/$DIT" 's/"cap_pad_token"/"x_pad_token"/'
run $ZIMT info --model "$d"
expect_error "duplicate tensor name" "$DIT" "duplicate tensor name 'x_pad_token'"

d=$(fresh nonnum)
own "$d/transformer/config.json"
sed -i 's/"dim": 64/"dim": "64"/' "$d/transformer/config.json"
run $ZIMT info --model "$d"
expect_error "non-numeric config value" transformer/config.json "'dim'" "must be a number"

d=$(fresh nokey)
own "$d/text_encoder/config.json"
sed -i '/"num_hidden_layers"/d' "$d/text_encoder/config.json"
run $ZIMT info --model "$d"
expect_error "missing config key" text_encoder/config.json "'num_hidden_layers'" missing

d=$(fresh axes)
own "$d/transformer/config.json"
sed -i 's/^  4,$/  6,/' "$d/transformer/config.json"
run $ZIMT info --model "$d"
expect_error "axes_dims do not sum" transformer/config.json "axes_dims"

d=$(fresh index)
own "$d/model_index.json"
sed -i 's/"vae"/"vay"/' "$d/model_index.json"
run $ZIMT info --model "$d"
expect_error "bad model_index" model_index.json "'vae'"

d=$(fresh indexjson)
own "$d/model_index.json"
printf '["not", "an", "object"]' >"$d/model_index.json"
run $ZIMT info --model "$d"
expect_error "model_index not an object" model_index.json "not a JSON object"

d=$(fresh notok)
rm "$d/tokenizer/tokenizer.json"
run $ZIMT info --model "$d"
expect_error "missing tokenizer" "tokenizer/tokenizer.json" missing

# A tokenizer.json cut short is present but stops every load: info, doctor
# and gen say so alike (info and doctor said "ok"), and synth does not copy
# it into a model.
d=$(fresh cuttok)
rm "$d/tokenizer/tokenizer.json"
head -c 100 "$FIX/tokenizer/tokenizer.json" >"$d/tokenizer/tokenizer.json"
run $ZIMT info --model "$d"
expect_error "a tokenizer cut short" "tokenizer/tokenizer.json: its JSON object does not end" "a file cut short?"
check "info: said unreadable" grep -qE "tokenizer.json: present, .*, unreadable" "$LIB_TMP/out"
check "info: not ok" test -z "$(grep -F 'result: ok' "$LIB_TMP/out")"
run $ZIMT doctor --model "$d"
expect_error "doctor: a tokenizer cut short" "tokenizer/tokenizer.json: its JSON object does not end"
check "doctor: said unreadable" grep -qF "tokenizer/tokenizer.json: unreadable" "$LIB_TMP/out"
check "doctor: not ok" test -z "$(grep -F 'generation will work' "$LIB_TMP/out")"
run $ZIMT synth --tiny --out "$LIB_TMP/cutsynth" --tokenizer "$d/tokenizer" -q
expect_error "synth: a tokenizer cut short refused" "tokenizer.json: its JSON object does not end"
check "synth: nothing written" test ! -e "$LIB_TMP/cutsynth"

# A tokenizer whose ids run past the text encoder's vocab_size is another
# model's: every prompt with <|im_start|> (all of them) would fail in the
# encoder. info, doctor, gen and synth refuse it before any job.
d=$(fresh bigids)
rm "$d/tokenizer/tokenizer.json"
sed 's/"id": 151644,/"id": 999999,/' "$FIX/tokenizer/tokenizer.json" >"$d/tokenizer/tokenizer.json"
nope="tokenizer.json: its ids run to 999999 but the text encoder's vocab_size is 151936 (ids 0 to 151935)"
run $ZIMT info --model "$d"
expect_error "ids past the vocab: info" "$nope"
check "ids past the vocab: info says so" grep -qF "1000000 ids: not this model's" "$LIB_TMP/out"
run $ZIMT doctor --model "$d"
expect_error "ids past the vocab: doctor" "$nope"
check "ids past the vocab: doctor not ok" test -z "$(grep -F 'generation will work' "$LIB_TMP/out")"
run $ZIMT gen --model "$d" --device cpu --prompt x --size 32x32 -o "$LIB_TMP/bigids.png"
expect_error "ids past the vocab: gen" "$nope"
check "ids past the vocab: no image" test ! -e "$LIB_TMP/bigids.png"
run $ZIMT synth --tiny --out "$LIB_TMP/bigsynth" --tokenizer "$d/tokenizer" -q
expect_error "ids past the vocab: synth" "$nope"
check "ids past the vocab: synth wrote nothing" test ! -e "$LIB_TMP/bigsynth"

# An index that names no shards is a model without those weights: doctor
# said "ok" (0 of 0 shards present) and gen failed after loading.
d=$(fresh emptyindex)
echo '{"weight_map": {}}' >"$d/transformer/diffusion_pytorch_model.safetensors.index.json"
run $ZIMT doctor --model "$d"
expect_error "an index naming nothing: doctor" "safetensors.index.json: the index names no tensors"
check "an index naming nothing: doctor not ok" \
    test -z "$(grep -F 'generation will work' "$LIB_TMP/out")"
run $ZIMT info --model "$d"
expect_error "an index naming nothing: info" "transformer"

# A transformer whose axes_lens give positions for 64x64 images at most:
# doctor listed every preset as fitting and said "ok"; gen refuses a larger
# size with the range instead of failing inside the transformer.
d=$(fresh fewpos)
rm "$d/transformer/config.json"
sed -z 's/"axes_lens": \[\n  1024,\n  512,\n  512/"axes_lens": [1024, 4, 4/' \
    "$FIX/transformer/config.json" >"$d/transformer/config.json"
check "few positions: the config edited" grep -qF '"axes_lens": [1024, 4, 4' "$d/transformer/config.json"
run $ZIMT doctor --model "$d"
expect_error "few positions: doctor" "axes_lens allow images up to 64x64, smaller than every preset size"
check "few positions: sizes marked" grep -qE "1024x1024 past the transformer's positions" "$LIB_TMP/out"
run $ZIMT gen --model "$d" --device cpu --prompt x --size 128x64 -o "$LIB_TMP/fewpos.png"
expect_error "few positions: gen" "128x64 is past this model's position range" "up to 64x64"
run $ZIMT gen --model "$d" --device cpu --prompt x --size 64x64 -o "$LIB_TMP/fewpos.png"
expect_ok "few positions: 64x64 made" fewpos.png

# Weights that are NaN (every byte 0xff, a BF16 NaN, after the header)
# read as well formed, and made an all-black image reported as written;
# the job now fails saying why, and writes nothing.
d=$(fresh nanweights)
f=$d/transformer/diffusion_pytorch_model.safetensors
own "$f"
hl=$(od -An -tu8 -N8 "$f" | tr -d ' ')
size=$(stat -c %s "$f")
head -c $((size - 8 - hl)) /dev/zero | tr '\0' '\377' |
    dd of="$f" bs=65536 seek=$((8 + hl)) oflag=seek_bytes conv=notrunc status=none
check "NaN weights: the size kept" test "$(stat -c %s "$f")" -eq "$size"
run $ZIMT gen --model "$d" --device cpu --prompt x --size 32x32 -o "$LIB_TMP/nan.png"
expect_error "NaN weights: the job fails" "NaN or infinite values" "weights may hold such values"
check "NaN weights: no image" test ! -e "$LIB_TMP/nan.png"

# Safetensors asks for no alignment: a space before the header puts every
# tensor's data one byte off. The model loads, and gives the same pixels
# (the sanitizer builds also check that nothing is read misaligned).
d=$(fresh unaligned)
st_edit_header "$d/$DIT" 's/^{/ {/'
run $ZIMT info --model "$d"
expect_ok "unaligned tensors" "result: ok"
gen="gen -q --device cpu --steps 2 --size 64x64 --prompt fox --seed 1"
run $ZIMT $gen --model "$d" -o "$LIB_TMP/unaligned.png"
expect_ok "unaligned tensors: gen" unaligned.png
run $ZIMT $gen --model "$FIX" -o "$LIB_TMP/aligned.png"
check "unaligned tensors: the same image" cmp -s "$LIB_TMP/aligned.png" "$LIB_TMP/unaligned.png"

run $ZIMT info --model "$LIB_TMP/nonexistent"
expect_error "no such model" "$LIB_TMP/nonexistent"

$ZIMT info --model "$FIX" >/dev/full 2>"$LIB_TMP/err"
RC=$?
expect_error "a report that cannot be written" "cannot write to standard output: No space left on device"
$ZIMT --help >/dev/full 2>"$LIB_TMP/err"
RC=$?
expect_error "a usage text that cannot be written" "cannot write to standard output"

run $ZIMT info --model
expect_error "info: --model without a value" "--model needs a directory"
run $ZIMT doctor --model
expect_error "doctor: --model without a value" "--model needs a directory"
run $ZIMT tokenize --model
expect_error "tokenize: --model without a value" "--model needs a directory"

run $ZIMT info --bogus
expect_error "bad argument" "--bogus"

# weights that cannot be opened are said with the reason, not as a
# "malformed file": two files and no canonical one
d=$(fresh twofiles)
mv "$d/transformer/diffusion_pytorch_model.safetensors" "$d/transformer/a.safetensors"
cp "$d/transformer/a.safetensors" "$d/transformer/b.safetensors"
run $ZIMT info --model "$d"
check "two files, no canonical one: the reason" grep -qF \
    "weights: cannot be opened: $d/transformer: 2 *.safetensors files and no *.safetensors.index.json" \
    "$LIB_TMP/out"

lib_summary
