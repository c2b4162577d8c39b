#!/usr/bin/env bash
# doctor.sh - model discovery and `zimt doctor` on fake download caches built
# from the tiny model: a Hugging Face snapshot with symlinked blobs, the two
# ModelScope layouts, an unfinished download, a missing tokenizer and
# conflicting cache variables. The caches must be left exactly as they were.
set -u
. tests/lib.sh
lib_init doctor.sh

ZIMT=$PWD/zimt
FIX=$PWD/tests/data/tiny-zimage
REV=0123456789abcdef0123456789abcdef01234567

# hf_cache ROOT: the tiny model as huggingface_hub stores it under ROOT
# (a hub folder): blobs named by hash, snapshot files as relative links.
hf_cache() {
    local repo=$1/models--Tongyi-MAI--Z-Image-Turbo f h
    mkdir -p "$repo/blobs" "$repo/refs" "$repo/snapshots/$REV"
    printf '%s' "$REV" >"$repo/refs/main"
    (cd "$FIX" && find . -type f | sed 's#^\./##') | while read -r f; do
        h=$(printf '%s' "$f" | sha1sum | cut -c1-40)
        ln "$FIX/$f" "$repo/blobs/$h" 2>/dev/null || cp "$FIX/$f" "$repo/blobs/$h"
        mkdir -p "$(dirname "$repo/snapshots/$REV/$f")"
        local up=../..
        case $f in */*) up=../../.. ;; esac
        ln -s "$up/blobs/$h" "$repo/snapshots/$REV/$f"
    done
}

# ms_cache DIR: a plain copy (ModelScope stores files as they are).
ms_cache() {
    mkdir -p "$(dirname "$1")"
    cp -al "$FIX" "$1" 2>/dev/null || cp -r "$FIX" "$1"
}

listing() {
    (cd "$1" && find . -printf '%p %y %s %l %T@\n' | sort)
}

# doctor_env ARGS...: zimt with only the variables the test sets.
H=$LIB_TMP/home
mkdir -p "$H"
zenv() {
    env -u HF_HUB_CACHE -u HF_HOME -u XDG_CACHE_HOME -u MODELSCOPE_CACHE -u ZIMT_MODEL \
        -u HUGGINGFACE_HUB_CACHE HOME="$H" "$@"
}

# ---- nothing anywhere
run zenv "$ZIMT" doctor
[ "$RC" -eq 1 ] && grep -q "model: none found" "$LIB_TMP/out" && pass "no model: exit 1" ||
    fail "no model: exit 1" "exit $RC"
expect_error "no model: says so" "no Z-Image-Turbo model found"
# what gen does without one is said too: the bundled model, and that it is no real one
check "no model: the bundled tiny model named" grep -qF \
    "until then gen and the workbench run the bundled tiny model (tests/data/tiny-zimage)" \
    "$LIB_TMP/out"
check "no model: the result says what would run" grep -qx \
    "result: 1 problem; only the bundled tiny model would run" "$LIB_TMP/out"

run zenv "$ZIMT" gen --prompt x -o "$LIB_TMP/nodir/x.png"
expect_error "gen falls back with a notice" "using the bundled tests/data/tiny-zimage"
# From another directory the bundled model is found beside the binary, and
# where make install puts it.
run zenv env -C "$LIB_TMP" "$ZIMT" gen --device cpu --steps 1 --size 32x32 --prompt x -o far.png
expect_ok "from another directory" far.png
check "from another directory: the bundled model beside the binary" \
    grep -q "using the bundled $PWD/tests/data/tiny-zimage" "$LIB_TMP/err"
mkdir -p "$LIB_TMP/pfx/bin" "$LIB_TMP/pfx/share/zimt"
cp "$ZIMT" "$LIB_TMP/pfx/bin/" && cp -r "$FIX" "$LIB_TMP/pfx/share/zimt/"
run zenv env -C "$LIB_TMP" "$LIB_TMP/pfx/bin/zimt" info
expect_ok "installed: info takes the installed tiny model" "share/zimt/tiny-zimage" "result: ok"
run zenv env -C "$LIB_TMP" "$LIB_TMP/pfx/bin/zimt" tokenize "a cat"
expect_ok "installed: tokenize" "64 8251"
rm -rf "$LIB_TMP/pfx/share"
run zenv env -C "$LIB_TMP" "$LIB_TMP/pfx/bin/zimt" gen --prompt x -o far2.png
expect_error "no model and none bundled" "nor is the bundled tiny model installed"
run zenv env -C "$LIB_TMP" "$LIB_TMP/pfx/bin/zimt" doctor
check "no model and none bundled: doctor says generation would fail" grep -qx \
    "result: 1 problem; generation would fail" "$LIB_TMP/out"
check "no model and none bundled: no bundled model named" \
    sh -c "! grep -q 'bundled' '$LIB_TMP/out'"

# ---- Hugging Face cache in the default place, symlinked blobs
hf_cache "$H/.cache/huggingface/hub"
before=$(listing "$H")
run zenv "$ZIMT" doctor
expect_ok "hf default cache" "chosen" "refs/main" "snapshots/$REV" "all present with the right shapes" \
    "result: ok"
run zenv "$ZIMT" info --model "$H/.cache/huggingface/hub/models--Tongyi-MAI--Z-Image-Turbo/snapshots/$REV"
expect_ok "symlinked snapshot loads its headers" "result: ok"
run zenv "$ZIMT" doctor --model "$H/.cache/huggingface/hub/models--Tongyi-MAI--Z-Image-Turbo"
expect_ok "--model at the repo folder" "snapshots/$REV" "result: ok"
check "hf cache unchanged" test "$before" = "$(listing "$H")"
# A FIFO as refs/main names no revision (it is not waited on): the newest
# snapshot is taken.
refs=$H/.cache/huggingface/hub/models--Tongyi-MAI--Z-Image-Turbo/refs
mv "$refs/main" "$refs/main.keep" && mkfifo "$refs/main"
run timeout 20 env -u HF_HUB_CACHE -u HF_HOME -u XDG_CACHE_HOME -u MODELSCOPE_CACHE \
    -u ZIMT_MODEL -u HUGGINGFACE_HUB_CACHE HOME="$H" "$ZIMT" doctor
expect_ok "a FIFO as refs/main is not waited on" "snapshots/$REV" "result: ok"
rm -f "$refs/main" && mv "$refs/main.keep" "$refs/main"

# The rest runs with an empty home, so the default locations hold nothing.
H=$LIB_TMP/home2
mkdir -p "$H"

# ---- an unfinished download under HF_HUB_CACHE, a good copy in ModelScope
A=$LIB_TMP/a/hub
hf_cache "$A"
repo=$A/models--Tongyi-MAI--Z-Image-Turbo
rm "$repo/snapshots/$REV/transformer/diffusion_pytorch_model.safetensors"
head -c 1000 "$FIX/transformer/diffusion_pytorch_model.safetensors" >"$repo/blobs/deadbeef.incomplete"
M=$LIB_TMP/ms
ms_cache "$M/models/Tongyi-MAI/Z-Image-Turbo"
beforeA=$(listing "$LIB_TMP/a")
beforeM=$(listing "$M")
run zenv HF_HUB_CACHE="$A" MODELSCOPE_CACHE="$M" "$ZIMT" doctor
expect_ok "incomplete hf, modelscope chosen" "incomplete" "download unfinished" ".incomplete" \
    "$M/models/Tongyi-MAI/Z-Image-Turbo" "result: ok"
grep -B1 -A2 "incomplete " "$LIB_TMP/out" | grep -q "HF_HUB_CACHE" &&
    pass "incomplete place named" || fail "incomplete place named" "$(cat "$LIB_TMP/out")"
check "hf cache unchanged (incomplete)" test "$beforeA" = "$(listing "$LIB_TMP/a")"
check "modelscope cache unchanged" test "$beforeM" = "$(listing "$M")"

# the same unfinished download alone: doctor fails and says why, and its
# closest candidate in detail counts the unfinished file in the blobs too
# (it said "downloads: none unfinished" under the search's finding)
run zenv HF_HUB_CACHE="$A" "$ZIMT" doctor
[ "$RC" -eq 1 ] && pass "only incomplete: exit 1" || fail "only incomplete: exit 1" "exit $RC"
expect_error "only incomplete: reason" "download unfinished"
check "only incomplete: the detail agrees" \
    grep -qF "downloads: 1 unfinished (partial files), e.g. $repo/blobs/deadbeef.incomplete" \
    "$LIB_TMP/out"

# doctor --model on the damaged snapshot names the missing file
run zenv "$ZIMT" doctor --model "$repo/snapshots/$REV"
expect_error "explicit incomplete model" "transformer" "no weights"
# a snapshot link whose blob is gone is named with where it points (it was
# "no weights", as if the file had never been there)
vae=$repo/snapshots/$REV/vae/diffusion_pytorch_model.safetensors
blob=$(readlink "$vae")
mv "$repo/snapshots/$REV/vae/$blob" "$LIB_TMP/vaeblob"
run zenv "$ZIMT" doctor --model "$repo/snapshots/$REV"
expect_error "a dangling weight link" \
    "vae: diffusion_pytorch_model.safetensors links to $blob, which is missing"
mv "$LIB_TMP/vaeblob" "$repo/snapshots/$REV/vae/$blob"

# ---- ModelScope older layout, missing tokenizer
M2=$LIB_TMP/ms2
ms_cache "$M2/Tongyi-MAI/Z-Image-Turbo"
rm "$M2/Tongyi-MAI/Z-Image-Turbo/tokenizer/tokenizer.json"
run zenv MODELSCOPE_CACHE="$M2" "$ZIMT" doctor
expect_error "missing tokenizer" "tokenizer/tokenizer.json missing"
grep -q "$M2/Tongyi-MAI/Z-Image-Turbo" "$LIB_TMP/out" && pass "old modelscope layout seen" ||
    fail "old modelscope layout seen" "path not shown"

# ModelScope old layout, complete
M3=$LIB_TMP/ms3
ms_cache "$M3/Tongyi-MAI/Z-Image-Turbo"
run zenv MODELSCOPE_CACHE="$M3" "$ZIMT" doctor
expect_ok "old modelscope layout" "chosen" "$M3/Tongyi-MAI/Z-Image-Turbo" "result: ok"

# ModelScope keeps a file it is downloading under its own name in
# ._____temp (never *.incomplete): such a file is an unfinished download,
# said as the Hugging Face ones are (it read "no weights", "none unfinished")
M4=$LIB_TMP/ms4
ms_cache "$M4/models/Tongyi-MAI/Z-Image-Turbo"
part=$M4/models/._____temp/Tongyi-MAI/Z-Image-Turbo/transformer/diffusion_pytorch_model.safetensors
mkdir -p "$(dirname "$part")"
head -c 1000 "$FIX/transformer/diffusion_pytorch_model.safetensors" >"$part"
rm "$M4/models/Tongyi-MAI/Z-Image-Turbo/transformer/diffusion_pytorch_model.safetensors"
run zenv MODELSCOPE_CACHE="$M4" "$ZIMT" doctor
expect_error "modelscope partial file" "download unfinished: 1 partial file ($part)"
check "modelscope partial file: the detail agrees" \
    grep -qF "downloads: 1 unfinished (partial files), e.g. $part" "$LIB_TMP/out"

# ---- conflicting variables: the model sits under HF_HOME, HF_HUB_CACHE elsewhere
B=$LIB_TMP/b
hf_cache "$B/hub"
mkdir -p "$LIB_TMP/empty"
run zenv HF_HUB_CACHE="$LIB_TMP/empty" HF_HOME="$B" "$ZIMT" doctor
expect_ok "conflicting variables" "warning: HF_HUB_CACHE" "point to different places" \
    "$B/hub/models--Tongyi-MAI--Z-Image-Turbo/snapshots/$REV" "result: ok"
# equal ones: no warning
run zenv HF_HUB_CACHE="$B/hub/" HF_HOME="$B" "$ZIMT" doctor
expect_ok "agreeing variables" "result: ok"
grep -q "warning" "$LIB_TMP/out" && fail "agreeing variables: no warning" "warned" ||
    pass "agreeing variables: no warning"

# ---- ZIMT_MODEL comes before the caches
run zenv ZIMT_MODEL="$FIX" HF_HOME="$B" "$ZIMT" doctor
expect_ok "ZIMT_MODEL first" "\$ZIMT_MODEL" "result: ok"
grep -A1 "chosen" "$LIB_TMP/out" | grep -q "$FIX" && pass "ZIMT_MODEL chosen" ||
    fail "ZIMT_MODEL chosen" "$(cat "$LIB_TMP/out")"

# a ZIMT_MODEL naming nothing: gen refuses to run (no bundled stand-in),
# and doctor says so rather than "set ZIMT_MODEL"
run zenv ZIMT_MODEL="$LIB_TMP/nowhere" HF_HOME="$LIB_TMP/nohf" "$ZIMT" doctor
expect_error "ZIMT_MODEL naming nothing" "fix ZIMT_MODEL"
check "ZIMT_MODEL naming nothing: gen refuses, said" grep -qF \
    "gen and the workbench refuse to run meanwhile: \$ZIMT_MODEL names $LIB_TMP/nowhere" \
    "$LIB_TMP/out"

# an incomplete ZIMT_MODEL is passed over for the cache
run zenv ZIMT_MODEL="$LIB_TMP/empty" HF_HOME="$B" "$ZIMT" doctor
expect_ok "bad ZIMT_MODEL passed over" "\$ZIMT_MODEL" "$B/hub" "result: ok"

# Many snapshots, no refs/main: the complete one is the oldest, behind 40
# empty ones, more places than the report lists. It is still found.
M=$LIB_TMP/many
hf_cache "$M"
mrepo=$M/models--Tongyi-MAI--Z-Image-Turbo
rm "$mrepo/refs/main"
touch -h -d "2001-01-01" "$mrepo/snapshots/$REV"
for i in $(seq 10 49); do mkdir "$mrepo/snapshots/e$i"; done
run zenv HF_HUB_CACHE="$M" "$ZIMT" doctor
expect_ok "many snapshots: the complete one found" "snapshots/$REV" "more places looked at" \
    "result: ok"
run zenv HF_HUB_CACHE="$M" "$ZIMT" gen -q --device cpu --steps 1 --size 64x64 --prompt x \
    -o "$LIB_TMP/many.png"
expect_ok "many snapshots: gen uses it" many.png
rm -rf "$mrepo/snapshots/$REV"
run zenv HF_HUB_CACHE="$M" "$ZIMT" doctor
expect_error "many snapshots, none complete: all counted" "found in 42 places"

run zenv "$ZIMT" doctor --model "$LIB_TMP/nonexistent"
expect_error "no such --model" "$LIB_TMP/nonexistent"
run "$ZIMT" doctor --bogus
expect_error "bad argument" "--bogus"

# $ZIMT_MEM_LIMIT, which gen and bench plan against, is what the table of
# sizes is measured against too (the tiny model needs 426.0 MiB in F32 at
# 1024x1024 and 375.8 MiB at 1280x720), with the weights a load takes (11.9
# MiB, not the files' 12.7: the VAE's encoder is never loaded).
run zenv ZIMT_MEM_LIMIT=400M "$ZIMT" doctor --model "$FIX"
expect_ok "memory limit: the table against it" "ZIMT_MEM_LIMIT: 400.0 MiB" "2 of 18 sizes fit" \
    "weights 11.9 MiB"
check "memory limit: 1024x1024 does not fit" grep -qE "1024x1024 +426.0 MiB +does not fit" \
    "$LIB_TMP/out"
check "memory limit: 1280x720 fits" grep -qE "1280x720 +375.8 MiB +fits" "$LIB_TMP/out"
# gen refuses the same size with the same figure
run zenv ZIMT_MEM_LIMIT=400M "$ZIMT" gen --model "$FIX" --device cpu --size 1024x1024 \
    --prompt a -o "$LIB_TMP/never.png"
expect_error "memory limit: gen's refusal" "1024x1024 needs 426.0 MiB (weights 11.9 MiB"
check "memory limit: gen wrote nothing" test ! -e "$LIB_TMP/never.png"
run zenv ZIMT_MEM_LIMIT=10M "$ZIMT" doctor --model "$FIX"
expect_error "memory limit: no size fits" "ZIMT_MEM_LIMIT (10 MiB) is too little for any preset size"
run zenv ZIMT_MEM_LIMIT=lots "$ZIMT" doctor --model "$FIX"
expect_error "memory limit: not a byte count" "ZIMT_MEM_LIMIT: 'lots' is not a byte count"


# Tensors the config does not use are skipped by a load: a warning that
# config and weights may differ, not a problem, and gen runs. Each case is
# a config or a name that leaves tensors over, nothing missing.
unused_case() { # NAME COUNT FIRST: doctor, info and gen on $LIB_TMP/NAME
    local d=$LIB_TMP/$1
    run zenv "$ZIMT" doctor --model "$d"
    expect_ok "$1: doctor passes" "warning: $2 tensors the config does not use ($3" \
        "the config may not match these weights" "result: ok"
    check "$1: doctor says nothing is missing" \
        bash -c "! grep -q 'missing or misshapen' '$LIB_TMP/out'"
    run zenv "$ZIMT" info --model "$d"
    expect_ok "$1: info passes" "result: ok; $2 tensors the configs do not use"
    check "$1: info warns" grep -q "zimt: warning: .*unexpected tensor '$3'" "$LIB_TMP/err"
    run zenv "$ZIMT" gen -q --model "$d" --device cpu --steps 1 --size 32x32 --prompt x \
        -o "$LIB_TMP/$1.png"
    expect_ok "$1: gen runs" "$1.png"
}
cp -r "$FIX" "$LIB_TMP/noqknorm"
sed -i 's/"qk_norm": true/"qk_norm": false/' "$LIB_TMP/noqknorm/transformer/config.json"
unused_case noqknorm 12 context_refiner.0.attention.norm_k.weight
cp -r "$FIX" "$LIB_TMP/nomidattn"
sed -i 's/"mid_block_add_attention": true/"mid_block_add_attention": false/' \
    "$LIB_TMP/nomidattn/vae/config.json"
unused_case nomidattn 10 decoder.mid_block.attentions.0.group_norm.bias
cp -r "$FIX" "$LIB_TMP/flipped"
st_edit_header "$LIB_TMP/flipped/vae/diffusion_pytorch_model.safetensors" \
    's/"encoder.conv_in.weight"/"enFoder.conv_in.weight"/'
run zenv "$ZIMT" doctor --model "$LIB_TMP/flipped"
expect_ok "a renamed optional tensor: doctor passes" \
    "warning: 1 tensor the config does not use (enFoder.conv_in.weight)" "result: ok" \
    "all the config uses present with the right shapes"
# a tensor the config needs is still a problem, beside the one left over
cp -r "$FIX" "$LIB_TMP/renamed"
st_edit_header "$LIB_TMP/renamed/transformer/diffusion_pytorch_model.safetensors" \
    's/"x_pad_token"/"y_pad_token"/'
run zenv "$ZIMT" doctor --model "$LIB_TMP/renamed"
expect_error "a needed tensor renamed: doctor fails" "transformer: 1 tensor problems"
check "a needed tensor renamed: missing, and the other said" grep -qF \
    "warning: 1 tensor the config does not use (y_pad_token)" "$LIB_TMP/out"
run zenv "$ZIMT" info --model "$LIB_TMP/renamed"
expect_error "a needed tensor renamed: info fails" "missing tensor 'x_pad_token'"

# A file that is there but cannot be used is said as such, not "missing":
# a shard that is a folder, a weight file that is a loop of links, a
# tokenizer.json that is a folder.
cp -r "$FIX" "$LIB_TMP/notfiles"
rm "$LIB_TMP/notfiles/text_encoder/model-00002-of-00002.safetensors"
mkdir "$LIB_TMP/notfiles/text_encoder/model-00002-of-00002.safetensors"
w=$LIB_TMP/notfiles/transformer/diffusion_pytorch_model.safetensors
rm "$w" && ln -s loop.safetensors.x "$w" && ln -s "$(basename "$w")" "$LIB_TMP/notfiles/transformer/loop.safetensors.x"
rm "$LIB_TMP/notfiles/tokenizer/tokenizer.json" && mkdir "$LIB_TMP/notfiles/tokenizer/tokenizer.json"
run zenv "$ZIMT" doctor --model "$LIB_TMP/notfiles"
expect_error "not files: doctor fails" \
    "text_encoder: shard model-00002-of-00002.safetensors (1 of 2 not usable): not a regular file" \
    "transformer: diffusion_pytorch_model.safetensors links to loop.safetensors.x: Too many levels of symbolic links" \
    "tokenizer/tokenizer.json: not a regular file"
check "not files: nothing called missing" sh -c "! grep -q missing '$LIB_TMP/err' '$LIB_TMP/out'"
run zenv "$ZIMT" info --model "$LIB_TMP/notfiles"
check "not files: info says the tokenizer is no file" grep -qF "tokenizer.json: not a regular file" "$LIB_TMP/out"

# A pre-tokenizer pattern that compiles but fails on every text (here a
# recursion PCRE2 refuses at run time): doctor says so, not "will work".
cp -r "$FIX" "$LIB_TMP/rxfail"
sed -i 's/"Regex": *"(?i:/"Regex": "(?R)?a|.|(?i:/' "$LIB_TMP/rxfail/tokenizer/tokenizer.json"
run zenv "$ZIMT" doctor --model "$LIB_TMP/rxfail"
expect_error "a pattern that fails on every text" "a sample prompt does not tokenize" \
    "nested recursion"
# a scheduler's config of another class is refused, not run as this one
cp -r "$FIX" "$LIB_TMP/ddim"
sed -i 's/FlowMatchEulerDiscreteScheduler/DDIMScheduler/' "$LIB_TMP/ddim/scheduler/scheduler_config.json"
run zenv "$ZIMT" gen --model "$LIB_TMP/ddim" --device cpu --prompt x --size 32x32 --steps 1 -o "$LIB_TMP/ddim.png"
expect_error "another scheduler class: gen refuses" "'_class_name' is \"DDIMScheduler\""

# Names from a model's files are shown with their terminal controls and
# bytes that are not UTF-8 escaped: a tensor named with an OSC title
# sequence, a screen clear and a 0xFF byte retitles and clears nothing.
cp -r "$FIX" "$LIB_TMP/controls"
st_edit_header "$LIB_TMP/controls/vae/diffusion_pytorch_model.safetensors" \
    's/"encoder.conv_in.weight"/"\x1b]0;T\x07\x1b[2Jenc\xff"/'
run zenv "$ZIMT" doctor --model "$LIB_TMP/controls"
expect_ok "controls in a tensor name: doctor passes" \
    "does not use (^[]0;T^G^[[2Jenc$(printf '\357\277\275'))" "result: ok"
run zenv "$ZIMT" info --model "$LIB_TMP/controls"
check "controls in a tensor name: info warns escaped" grep -qF \
    "unexpected tensor '^[]0;T^G^[[2Jenc" "$LIB_TMP/err"
for f in out err; do
    check "controls in a tensor name: no ESC, BEL or 0xFF byte in $f" \
        sh -c "! LC_ALL=C grep -q \"\$(printf '[\033\007\377]')\" '$LIB_TMP/$f'"
done


# A variant beside the canonical weight file (Hugging Face's NAME.fp16.
# safetensors) is ignored, as a load without a variant ignores it; with
# only variants, which to load is unknown, and doctor says what it found.
V=$LIB_TMP/variant
cp -r "$FIX" "$V"
cp "$V/transformer/diffusion_pytorch_model.safetensors" \
    "$V/transformer/diffusion_pytorch_model.fp16.safetensors"
run zenv "$ZIMT" doctor --model "$V"
expect_ok "a variant beside the weights: doctor passes" \
    "files: 1 weight file (diffusion_pytorch_model.safetensors), 1.4 MiB on disk" \
    "ignored: 1 other *.safetensors file (diffusion_pytorch_model.fp16.safetensors)" \
    "result: ok"
run zenv "$ZIMT" gen -q --model "$V" --device cpu --steps 1 --size 32x32 --prompt x \
    -o "$LIB_TMP/variant.png"
expect_ok "a variant beside the weights: gen runs" variant.png
mv "$V/transformer/diffusion_pytorch_model.safetensors" \
    "$V/transformer/diffusion_pytorch_model.bf16.safetensors"
run zenv "$ZIMT" doctor --model "$V"
expect_error "variants only: doctor fails" "transformer: 2 *.safetensors files" \
    "none named diffusion_pytorch_model.safetensors or model.safetensors"
check "variants only: says what it found" grep -qF \
    "files: 2 *.safetensors files and no index, none of them loadable alone" "$LIB_TMP/out"
check "variants only: no claim of no weight file" \
    bash -c "! grep -q 'no weight file' '$LIB_TMP/out'"

lib_summary
