#!/usr/bin/env bash
# tokenize.sh - zimt tokenize from the command line: ids, --chat, --json,
# stdin with NULs, bad UTF-8 refused with its offset, bad options.
# Runs from the repository root against the bundled tiny model.
set -u
zimt=./zimt
LIB_TMP_ERR=$(mktemp)
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() { # name, got, want
    if [ "$2" == "$3" ]; then ok; else bad "$1: got '$2' want '$3'"; fi
}

expect "raw ids" "$($zimt tokenize 'a red fox in the snow, 35mm photo')" \
    "64 2518 38835 304 279 11794 11 220 18 20 3821 6548"
expect "joined args" "$($zimt tokenize a red fox in the snow, 35mm photo)" \
    "64 2518 38835 304 279 11794 11 220 18 20 3821 6548"
expect "chat ids" "$($zimt tokenize --chat 'Hello, World!')" \
    "151644 872 198 9707 11 4337 0 151645 198 151644 77091 198"
expect "explicit model" "$($zimt tokenize --model tests/data/tiny-zimage --chat 'Hello, World!')" \
    "151644 872 198 9707 11 4337 0 151645 198 151644 77091 198"
expect "json" "$($zimt tokenize --json 'Hello, World!')" \
    '{"ids":[9707,11,4337,0],"tokens":["Hello",","," World","!"]}'
expect "stdin" "$(printf 'Hello, World!' | $zimt tokenize -)" "9707 11 4337 0"
expect "empty chat" "$($zimt tokenize --chat '')" "151644 872 198 151645 198 151644 77091 198"

# Embedded NULs come through stdin whole.
out=$(printf 'a\0b' | $zimt tokenize -)
if [ "$(echo "$out" | wc -w)" -ge 3 ]; then ok; else bad "NUL: '$out'"; fi

# Long prompts are cut to 512 ids with --chat.
long=$(printf 'word %.0s' $(seq 1 700))
n=$($zimt tokenize --chat "$long" | wc -w)
expect "chat cut" "$n" "512"

# A stdin that cannot be read says why.
err=$($zimt tokenize - 2>&1 >/dev/null <&-)
rc=$?
if [ $rc -ne 0 ] && [[ "$err" == *"stdin: Bad file descriptor"* ]]; then ok; else bad "closed stdin: rc $rc '$err'"; fi

# Invalid UTF-8 (a lone surrogate at byte 3) is refused with the offset.
err=$(printf 'abc\xed\xa0\x80' | $zimt tokenize - 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 0 ] && [[ "$err" == *"offset 3"* ]]; then ok; else bad "surrogate: rc $rc '$err'"; fi
err=$($zimt tokenize $'x\xff' 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 0 ] && [[ "$err" == *"offset 1"* ]]; then ok; else bad "0xFF: rc $rc '$err'"; fi

# Missing model and unknown options fail with a message.
err=$($zimt tokenize --model /nonexistent x 2>&1 >/dev/null)
if [ $? -ne 0 ] && [[ "$err" == *"model directory /nonexistent does not exist"* ]]; then ok; else bad "missing model: '$err'"; fi
err=$($zimt tokenize --model /tmp x 2>&1 >/dev/null)
if [ $? -ne 0 ] && [[ "$err" == *"/tmp/tokenizer/tokenizer.json"* ]]; then ok; else bad "model without a tokenizer: '$err'"; fi
err=$($zimt tokenize --bogus x 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 2 ] && [[ "$(echo "$err" | head -n 1)" == *"unknown option '--bogus'"* ]]; then ok; else bad "unknown option: rc $rc '$err'"; fi
$zimt tokenize >/dev/null 2>&1 && bad "no text accepted" || ok
# "-" reads stdin alone ("- extra" was tokenized as that text); --bench
# takes no text or output options (they were dropped without a word)
err=$(echo hi | $zimt tokenize - extra 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 2 ] && [[ "$err" == *"'-' reads the text from stdin and takes nothing after it"* ]]; then ok; else bad "- extra: rc $rc '$err'"; fi
err=$($zimt tokenize --model /nonexistent --bench --json 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 2 ] && [[ "$err" == *"--bench takes no TEXT, --json or --chat"* ]]; then ok; else bad "--bench --json: rc $rc '$err'"; fi
# --help on stdout, as the other commands give it
out=$($zimt tokenize --help 2>/dev/null)
if [[ "$out" == "usage: zimt tokenize"* ]]; then ok; else bad "--help not on stdout: '$out'"; fi
# --chat warns of a cut as gen does; a prompt that fits is not warned of
err=$(printf 'word %.0s' $(seq 1 600) | $zimt tokenize --chat - 2>&1 >/dev/null)
if [[ "$err" == *"warning: the prompt was truncated to 512 tokens"* ]]; then ok; else bad "--chat cut not said: '$err'"; fi
err=$($zimt tokenize --chat "a red fox" 2>&1 >/dev/null)
if [ -z "$err" ]; then ok; else bad "--chat short prompt warned: '$err'"; fi
# "\n" then 504 " cat": the template's "\n" and the prompt's merge into one
# id, so exactly 512 ids with the template's tail whole; no cut, no warning
long=$'\n'$(printf ' cat%.0s' $(seq 1 504))
out=$($zimt tokenize --chat "$long" 2>"$LIB_TMP_ERR")
expect "512 ids that fit: the tail whole" "$(echo "$out" | wc -w) ${out: -27}" \
    "512 151645 198 151644 77091 198"
expect "512 ids that fit: no warning" "$(cat "$LIB_TMP_ERR")" ""
out=$($zimt tokenize --chat "$long cat" 2>"$LIB_TMP_ERR")
expect "one id more: cut and said" "$(echo "$out" | wc -w) $(cat "$LIB_TMP_ERR")" \
    "512 zimt: warning: the prompt was truncated to 512 tokens"
rm -f "$LIB_TMP_ERR"

# A tokenizer.json without the chat template's special tokens would split
# "<|im_start|>" into '<', '|', 'im', ...: refused, naming the token, by
# tokenize, doctor and gen alike.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for c in noadded noimend; do
    cp -r tests/data/tiny-zimage "$tmp/$c"
done
sed -i 's/"added_tokens":/"added_tokens_gone":/' "$tmp/noadded/tokenizer/tokenizer.json"
sed -i 's/"content": "<|im_end|>"/"content": "<|im_stop|>"/' \
    "$tmp/noimend/tokenizer/tokenizer.json"
for c in "noadded <|im_start|>" "noimend <|im_end|>"; do
    m=$tmp/${c%% *} t=${c#* }
    want="$m/tokenizer/tokenizer.json: the special token '$t' that the chat template uses is not among its added_tokens"
    out=$($zimt tokenize --model "$m" --chat hi 2>"$tmp/err")
    rc=$?
    if [ $rc -eq 1 ] && [ -z "$out" ] && grep -qF "$want" "$tmp/err"; then ok; else bad "$c: tokenize --chat: rc $rc '$out' '$(cat "$tmp/err")'"; fi
    out=$($zimt doctor --model "$m" 2>"$tmp/err")
    rc=$?
    if [ $rc -eq 1 ] && grep -qF "$want" "$tmp/err" &&
        [[ "$out" == *"result: 1 problem; generation would fail"* ]]; then ok; else bad "$c: doctor: rc $rc '$(cat "$tmp/err")'"; fi
    $zimt gen -q --model "$m" --device cpu --steps 1 --size 32x32 --prompt x -o "$tmp/x.png" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 0 ] && [ ! -e "$tmp/x.png" ] && grep -qF "$want" "$tmp/err"; then ok; else bad "$c: gen: rc $rc '$(cat "$tmp/err")'"; fi
done

echo "tokenize.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
