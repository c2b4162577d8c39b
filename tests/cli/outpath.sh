#!/usr/bin/env bash
# zimt gen output names: a template with a prompt slug inside --outdir;
# names from a jobs file stay inside --outdir; nothing is overwritten and
# no link leads a file out of the directory.
. tests/lib.sh
lib_init outpath.sh
M=tests/data/tiny-zimage
G="./zimt gen -q --model $M --device cpu --steps 1 --size 64x64"
out=$LIB_TMP/o
mkdir -p "$out"
only() { # only NAME...: the output directory holds exactly these names
    [ "$(cd "$out" && ls -A | tr '\n' ' ' | xargs)" = "$*" ]
}

run $G --prompt 'A Red Fox: "in the snow"!' --seed 7 --outdir "$out"
expect_ok "default template" "-7-a-red-fox-in-the-snow.png"
check "date-seed-slug name" test -n "$(ls "$out" | grep -E '^[0-9]{8}-[0-9]{6}-7-a-red-fox-in-the-snow\.png$')"
rm -f "$out"/*

run $G --prompt "a cat" --seed 3 --outdir "$out" --name '{seed}-{w}x{h}-{slug}.png'
expect_ok "own template" "3-64x64-a-cat.png"
run $G --prompt "a cat" --seed 3 --outdir "$out" --name '{seed}-{w}x{h}-{slug}.png'
expect_ok "taken name gets a number" "3-64x64-a-cat-2.png"
check "first file kept" test -s "$out/3-64x64-a-cat.png"
run $G --prompt x --outdir "$out" --name '{bogus}.png'
expect_error "unknown template field" "{bogus}"
run $G --prompt x --outdir "$out" --name '/tmp/{seed}.png'
expect_error "absolute template" "absolute"
run $G --prompt x -o "$out/a.png" --name 'x.png'
expect_error "-o and --name" "not both"
rm -f "$out"/*

# jobs files name files inside --outdir, never elsewhere
printf '{"prompt":"a","output":"../escape.png"}\n' >"$LIB_TMP/j1.jsonl"
run $G --jobs "$LIB_TMP/j1.jsonl" --outdir "$out"
expect_error "jobs output with .." "line 1" "'..'"
printf '{"prompt":"a","output":"%s/abs.png"}\n' "$LIB_TMP" >"$LIB_TMP/j2.jsonl"
run $G --jobs "$LIB_TMP/j2.jsonl" --outdir "$out"
expect_error "absolute jobs output" "absolute"
check "nothing written outside" test ! -e "$LIB_TMP/escape.png" -a ! -e "$LIB_TMP/abs.png"
mkdir -p "$LIB_TMP/elsewhere"
ln -s "$LIB_TMP/elsewhere" "$out/link"
printf '{"prompt":"a","output":"link/x.png"}\n' >"$LIB_TMP/j3.jsonl"
run $G --jobs "$LIB_TMP/j3.jsonl" --outdir "$out"
expect_error "link out of the directory" "leads out"
ln -s "$LIB_TMP/elsewhere/target.png" "$out/dangling.png"
printf '{"prompt":"a","output":"dangling.png"}\n' >"$LIB_TMP/j4.jsonl"
run $G --jobs "$LIB_TMP/j4.jsonl" --outdir "$out"
expect_error "dangling link not followed" "already exists"
check "nothing written through links" test -z "$(ls -A "$LIB_TMP/elsewhere")"
printf '{"prompt":"a","output":"x\\u001b[2J.png"}\n' >"$LIB_TMP/j5.jsonl"
run $G --jobs "$LIB_TMP/j5.jsonl" --outdir "$out"
expect_error "escape sequence in a name" "control character"
rm -f "$out/link" "$out/dangling.png"
mkdir -p "$out/sub"
printf '{"prompt":"a","output":"sub/in.png"}\n' >"$LIB_TMP/j6.jsonl"
run $G --jobs "$LIB_TMP/j6.jsonl" --outdir "$out"
expect_ok "a subfolder inside is fine" "sub/in.png"
check "no other files" only sub
lib_summary
