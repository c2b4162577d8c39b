#!/usr/bin/env bash
# synth.sh - `zimt synth`: a tiny synthetic model in the published layout that
# `zimt info` accepts, refusal of an existing folder, and clean failures.
set -u
. tests/lib.sh
lib_init synth.sh

ZIMT=./zimt
OUT=$LIB_TMP/tiny

run $ZIMT synth --tiny --out "$OUT" -q
expect_ok "tiny synth" "wrote $OUT" "tiny model"
check "index and shards" test -f "$OUT/text_encoder/model.safetensors.index.json"
check "transformer index" test -f "$OUT/transformer/diffusion_pytorch_model.safetensors.index.json"
check "vae single file" test -f "$OUT/vae/diffusion_pytorch_model.safetensors"
check "tokenizer copied" cmp -s "$OUT/tokenizer/tokenizer.json" \
    tests/data/tiny-zimage/tokenizer/tokenizer.json
check "no temporary folder left" test -z "$(ls -A "$LIB_TMP" | grep -v -e "^tiny$" -e "^out$" -e "^err$")"

run $ZIMT info --model "$OUT"
expect_ok "info accepts it" "35 tensors" "101 tensors" "176 tensors" "result: ok"

run $ZIMT synth --tiny --out "$OUT" -q
expect_error "existing folder refused" "$OUT" "already exists"

# From another directory the bundled model's configs are found beside the
# binary, and the weights are the same bytes.
run env -C "$LIB_TMP" "$PWD/zimt" synth --tiny --out far -q
expect_ok "tiny synth from another directory" "wrote far"
check "the same transformer weights" cmp -s "$OUT/transformer/diffusion_pytorch_model-00001-of-00001.safetensors" \
    "$LIB_TMP/far/transformer/diffusion_pytorch_model-00001-of-00001.safetensors"

run $ZIMT synth --tiny --out "" -q
expect_error "an empty --out" "--out is an empty path"

run $ZIMT synth --tiny --out "$LIB_TMP/small" --shard-mb 1 -q
expect_ok "small shards" "wrote"
check "several transformer shards" \
    test -f "$LIB_TMP/small/transformer/diffusion_pytorch_model-00002-of-00002.safetensors"

run $ZIMT synth --tiny --out "$LIB_TMP/notok" --tokenizer "$LIB_TMP/none" -q
expect_error "bad tokenizer folder" "$LIB_TMP/none"
check "nothing left after a failure" test ! -e "$LIB_TMP/notok"

run $ZIMT synth --tiny
expect_error "no --out" "--out DIR is required"

run $ZIMT synth --tiny --out "$LIB_TMP/x" --seed abc
expect_error "bad seed" "seed" "abc"

lib_summary
