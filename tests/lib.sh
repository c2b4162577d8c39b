# lib.sh - helpers for the shell tests in tests/cli/. Source it, then:
#
#   lib_init info.sh          # name for the summary; makes $LIB_TMP (removed on exit)
#   run ./zimt info --model d # runs a command: $RC, $LIB_TMP/out, $LIB_TMP/err
#   expect_ok "good model" text_encoder vae      # RC 0, stdout has each string
#   expect_error "bad json" model.json "not valid JSON"  # RC 1..127, stderr has each
#   check "name" test -f x    # passes when the command succeeds
#   lib_summary               # prints "info.sh: N passed, M failed"; exit status
#
# Safetensors surgery (plain shell, no interpreters):
#   st_header_len FILE        # prints the u64 header length
#   st_edit_header FILE SED   # rewrites the JSON header through sed, any length
#   le64 N                    # writes N as 8 little-endian bytes
#
# Tests run from the repository root (tests/run.sh cds there).

LIB_NAME=test
LIB_PASSED=0
LIB_FAILED=0
RC=0

lib_init() {
    LIB_NAME=$1
    LIB_TMP=$(mktemp -d)
    trap 'rm -rf "$LIB_TMP"' EXIT
}

pass() {
    LIB_PASSED=$((LIB_PASSED + 1))
    [ -z "${ZT_TEST_VERBOSE:-}" ] || echo "  ok $1"
}

# fail NAME WHY: prints the captured stderr to help the reader.
fail() {
    LIB_FAILED=$((LIB_FAILED + 1))
    echo "FAIL $1: $2"
    if [ -s "$LIB_TMP/err" ]; then
        sed 's/^/    stderr: /' "$LIB_TMP/err" | head -n 10
    fi
}

run() {
    "$@" >"$LIB_TMP/out" 2>"$LIB_TMP/err"
    RC=$?
}

check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

# expect_ok NAME STRING...: last run exited 0 and stdout holds every string.
expect_ok() {
    local name=$1 s
    shift
    if [ "$RC" -ne 0 ]; then
        fail "$name" "exit $RC, expected 0"
        return
    fi
    for s in "$@"; do
        if ! grep -qF -- "$s" "$LIB_TMP/out"; then
            fail "$name" "stdout lacks '$s'"
            return
        fi
    done
    pass "$name"
}

# expect_error NAME STRING...: last run failed cleanly (1..127, not a
# signal) and stderr holds every string.
expect_error() {
    local name=$1 s
    shift
    if [ "$RC" -eq 0 ]; then
        fail "$name" "exit 0, expected an error"
        return
    fi
    if [ "$RC" -ge 128 ]; then
        fail "$name" "exit $RC: crashed"
        return
    fi
    for s in "$@"; do
        if ! grep -qF -- "$s" "$LIB_TMP/err"; then
            fail "$name" "stderr lacks '$s'"
            return
        fi
    done
    pass "$name"
}

lib_summary() {
    echo "$LIB_NAME: $LIB_PASSED passed, $LIB_FAILED failed"
    [ "$LIB_FAILED" -eq 0 ]
}

# ---- safetensors surgery ----------------------------------------------------

le64() {
    local v=$1 i
    for i in 0 1 2 3 4 5 6 7; do
        # shellcheck disable=SC2059
        printf "\\$(printf %03o $(((v >> (8 * i)) & 255)))"
    done
}

st_header_len() {
    od -An -tu8 -N8 "$1" | tr -d ' \n'
}

# st_edit_header FILE SED_EXPR: header through sed, new length written, data kept.
st_edit_header() {
    local f=$1 expr=$2 n m
    n=$(st_header_len "$f")
    head -c $((8 + n)) "$f" | tail -c "$n" | LC_ALL=C sed -e "$expr" >"$f.hdr"
    m=$(wc -c <"$f.hdr")
    {
        le64 "$m"
        cat "$f.hdr"
        tail -c +$((9 + n)) "$f"
    } >"$f.new"
    mv "$f.new" "$f"
    rm -f "$f.hdr"
}
