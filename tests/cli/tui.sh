#!/usr/bin/env bash
# tui.sh - the workbench driven through tmux with the tiny model on the CPU:
# open, type, pick a preset and a custom size, generate, see the steps and
# the finished entry, check the PNG's settings, cancel, resize, switch the
# theme, quit, and find the terminal sane afterwards.
set -u
. tests/lib.sh
lib_init tui.sh

if ! command -v tmux >/dev/null; then
    echo "tui.sh: tmux missing; skipped"
    lib_summary
    exit 0
fi

S=zt-tui-$$
OUT=$LIB_TMP/out
TMUX_SOCK=$LIB_TMP/tmux.sock
. tests/tmux.sh
trap 'tm kill-server 2>/dev/null; rm -rf "$LIB_TMP"' EXIT

tm new-session -d -s "$S" -x 120 -y 40 \
    "env LANG=C.UTF-8 TERM=xterm-256color XDG_CONFIG_HOME=$LIB_TMP/cfg XDG_STATE_HOME=$LIB_TMP/state \
     ./zimt ui --model tests/data/tiny-zimage --device cpu --graphics blocks --output-dir $OUT; \
     echo EXIT=\$?; stty -a | tr ' ' '\n' | grep -x -e icanon -e echo | tr '\n' ' '; echo; sleep 60"

expect_screen "opens with the model" "tiny-zimage" 10
expect_screen "model loads on the CPU" "cpu" 30

tm send-keys -t "$S" -l 'a red fox 狐狸 in snow'
expect_screen "typed prompt with CJK" "a red fox 狐狸 in snow"

tm send-keys -t "$S" F4
expect_screen "size presets popup" "Size (Enter picks"
tm send-keys -t "$S" Down Enter
expect_screen "preset picked" "768x1024  (preset 3/"

tm send-keys -t "$S" F4
wait_for "Size (Enter picks" 5
tm send-keys -t "$S" c
expect_screen "custom size popup" "Custom size WxH"
tm send-keys -t "$S" -l '100x100'
tm send-keys -t "$S" Enter
expect_screen "size not a multiple of 16 refused" "multiples of 16"
tm send-keys -t "$S" C-u
tm send-keys -t "$S" -l '208x208'
tm send-keys -t "$S" Enter
expect_screen "custom size set" "208x208  (custom)"

# fewer steps: Tab to Steps (prompt -> seed -> size -> steps)
tm send-keys -t "$S" Tab Tab Tab - - - - Tab Tab
expect_screen "steps lowered" "Steps     4"

tm send-keys -t "$S" Enter
expect_screen "step progress shown" "ms/step" 60
expect_screen "finished entry" "done #1" 120
png=$(ls "$OUT"/*.png 2>/dev/null | head -n 1)
check "PNG written" test -n "$png"
if [ -n "$png" ]; then
    check "PNG carries the prompt" grep -aqF 'a red fox 狐狸 in snow' "$png"
    check "PNG carries the size and steps" grep -aqE 'Steps: 4.*Size: 208x208' "$png"
fi

tm send-keys -t "$S" F3
expect_screen "gallery lists the result" "208x208  4 steps"
tm send-keys -t "$S" Escape

# Ctrl-O: settings from a PNG whose prompt carries escape sequences (clear
# screen, set the window title). They must show as ^[ and never act.
evil=$LIB_TMP/evil.png
./zimt gen --model tests/data/tiny-zimage --device cpu --size 32x32 --steps 1 --seed 5 \
    --prompt "$(printf 'evil\033[2Jprompt\033]2;pwned\007 end')" -o "$evil" >/dev/null 2>&1
check "PNG with escapes in its prompt written" test -s "$evil"
tm send-keys -t "$S" C-o
expect_screen "open PNG popup" "Open PNG settings"
tm send-keys -t "$S" -l "$evil"
tm send-keys -t "$S" Enter
expect_screen "settings loaded from the PNG" "settings loaded from"
expect_screen "escapes shown as ^[" "evil^[[2Jprompt^[]2;pwned^G end"
expect_screen "prompt loaded without controls" "evil[2Jprompt]2;pwned end"
expect_screen "PNG's size loaded" "32x32  (custom)"
expect_screen "PNG's seed loaded and locked" "5  [locked]"
expect_screen "screen not cleared by the file" "tiny-zimage"
check "window title not set by the file" test "$(tm display -p -t "$S" '#{pane_title}')" != pwned
open_png "$LIB_TMP/none.png"
expect_screen "missing PNG reported" "none.png"

# A second result from the loaded settings, then the gallery: the selected
# result's image beside the list, and two side by side once one is marked.
tm send-keys -t "$S" Enter
expect_screen "second result" "done #2" 60
tm send-keys -t "$S" F3
expect_screen "gallery shows the selected result" "seed 5  32x32"
tm send-keys -t "$S" Down m Up
expect_screen "marked result shown" "marked:"
expect_screen "beside the selected one" "selected:"
if screen | grep -q "marked: .*selected:" && screen | grep -q "seed [0-9]* .*seed 5  32x32"; then pass "side by side"; else
    fail "side by side" "not on one row"
    screen | sed 's/^/    | /' | head -40
fi
[ -z "${ZT_TUI_SHOW:-}" ] || screen
tm send-keys -t "$S" Escape

# cancel: a larger job, Esc as soon as it runs
tm send-keys -t "$S" F4
wait_for "Size (Enter picks" 5
tm send-keys -t "$S" c
wait_for "Custom size WxH" 5
tm send-keys -t "$S" -l '512x512'
tm send-keys -t "$S" Enter Tab Tab Tab
tm send-keys -t "$S" -l '8'
tm send-keys -t "$S" Tab Tab Enter
expect_screen "third job queued" "queued job #3" 10
tm send-keys -t "$S" Escape
expect_screen "job cancelled" "job #3 cancelled" 40

tm resize-window -t "$S" -x 90 -y 30
sleep 0.5
expect_screen "redrawn after resize" "Prompt"
tm send-keys -t "$S" C-l
expect_screen "redrawn after Ctrl-L" "Preview"

tm send-keys -t "$S" F2
expect_screen "theme popup" "Theme (Enter picks)"
tm send-keys -t "$S" Home Down Enter
expect_screen "theme switched" "theme: light"

tm send-keys -t "$S" F1
expect_screen "help overlay" "Keys (any key closes)"
# the longest keys keep a gap before their text; the longest text is whole
expect_screen "help keys apart" "Ctrl-W, Ctrl-K, Ctrl-U  delete word"
expect_screen "help text whole" "m marks one to compare"
tm send-keys -t "$S" x

tm send-keys -t "$S" C-q
sleep 0.5
screen | grep -qF "Quit anyway" && tm send-keys -t "$S" y
expect_screen "quits cleanly" "EXIT=0" 30
expect_screen "terminal sane after" "icanon echo" 5
check "theme remembered" grep -q '"theme":[[:space:]]*"light"' "$LIB_TMP/cfg/zimt/settings.json"
check "history kept" grep -qF 'a red fox' "$LIB_TMP/state/zimt/history.json"

# A second run with the first run's files: the theme is still light. Its
# history file is broken (kept aside, not overwritten), pasted text that
# arrives slowly stays text, an image whose file cannot be written stays in
# the gallery until Ctrl-S writes it, and with no room for the preview pane
# the truecolor image is not sent.
tm kill-session -t "$S"
printf '{"prompts": ["an old prompt",]}' > "$LIB_TMP/state/zimt/history.json"
OUT2=$LIB_TMP/out2
LAYOUT=$LIB_TMP/layout.log
tm new-session -d -s "$S" -x 120 -y 40 \
    "env LANG=C.UTF-8 TERM=xterm-256color COLORTERM=truecolor ZIMT_DEBUG_LAYOUT=$LAYOUT \
     XDG_CONFIG_HOME=$LIB_TMP/cfg XDG_STATE_HOME=$LIB_TMP/state \
     ./zimt ui --model tests/data/tiny-zimage --device cpu --graphics blocks --output-dir $OUT2; \
     echo EXIT=\$?; sleep 60"
expect_screen "theme remembered across runs" "theme: light" 10
expect_screen "broken history reported" "history not used" 10
expect_screen "model loads again" "cpu" 30
tm send-keys -t "$S" C-u C-k
tm send-keys -t "$S" -l $'\033[200~slow paste line one'
sleep 1.5
tm send-keys -t "$S" -l $'\rline two\033[201~'
expect_screen "slow paste kept as text" "line two"
sleep 0.5
if screen | grep -qF "queued job"; then fail "pasted newline starts no job" "a job was queued"; else
    pass "pasted newline starts no job"
fi
custom_size 256x256
tm send-keys -t "$S" C-g
expect_screen "job queued" "queued job #1" 10
rm -rf "$OUT2"
expect_screen "unwritable image reported" "not saved" 60
check "history kept aside, not overwritten" grep -qF 'an old prompt' "$LIB_TMP/state/zimt/history.json.bad"
check "new history written" grep -qF 'line two' "$LIB_TMP/state/zimt/history.json"
tm send-keys -t "$S" C-q
expect_screen "quit asks about the unsaved image" "1 image not saved" 5
tm send-keys -t "$S" n
tm send-keys -t "$S" C-s
expect_screen "Ctrl-S writes it" "saved 1 image" 10
check "the image is on disk" test -n "$(ls "$OUT2"/*.png 2>/dev/null)"
# at 120 columns the last job's timings take a shorter form, whole
check "last timings fit the pane" eval 'screen | grep -qE "Last  [0-9.]+ s: encode [0-9]+, steps [0-9]+, decode [0-9]+ ms "'
sends=$(grep -c '^send' "$LAYOUT" 2>/dev/null)
tm resize-window -t "$S" -x 60 -y 30
sleep 0.5
tm send-keys -t "$S" C-l
sleep 0.5
check "no image sent without a preview pane" test "$(grep -c '^send' "$LAYOUT")" = "$sends"
# popups stay inside their frames on a small screen
tm resize-window -t "$S" -x 40 -y 12
sleep 0.5
tm send-keys -t "$S" F1
expect_screen "help scrolls on a small screen" "Up/Down scroll" 5
check "help above the status bar" test -z "$(screen | tail -n 1 | grep -F 'generate with')"
tm send-keys -t "$S" Down Down x
tm send-keys -t "$S" F3
expect_screen "gallery on a small screen" "Gallery" 5
check "gallery above the status bar" test -z "$(screen | tail -n 1 | grep -F '256x256')"
tm send-keys -t "$S" Escape
tm send-keys -t "$S" C-q
expect_screen "second run quits" "EXIT=0" 30

# A theme that does not exist: said so, and the remembered one is used and
# kept. The plain C locale (as over SSH without the client's locale) still
# shows and takes non-ASCII text.
tm kill-session -t "$S"
tm new-session -d -s "$S" -x 100 -y 30 \
    "env -u LANG LC_ALL=C TERM=xterm-256color XDG_CONFIG_HOME=$LIB_TMP/cfg XDG_STATE_HOME=$LIB_TMP/state \
     ./zimt ui --model tests/data/tiny-zimage --device cpu --graphics blocks --theme nosuch; \
     echo EXIT=\$?; sleep 60"
expect_screen "unknown theme reported" "theme nosuch: theme 'nosuch' not found" 10
expect_screen "remembered theme used instead" "theme: light" 5
tm send-keys -t "$S" C-u C-k
tm send-keys -t "$S" -l 'café 狐狸'
expect_screen "C locale: non-ASCII typed and shown" "café 狐狸" 5
tm send-keys -t "$S" C-p
expect_screen "history entry shown" "slow paste line one" 5
check "the draft is replaced while browsing" test -z "$(screen | grep -F 'café')"
# a paste into the entry shown leaves the draft alone
tm send-keys -t "$S" -l $'\033[200~ and more\033[201~'
expect_screen "a paste while browsing" "line two and more" 5
tm send-keys -t "$S" C-n
expect_screen "the draft comes back past the newest entry" "café 狐狸" 5
tm send-keys -t "$S" C-q
expect_screen "third run quits" "EXIT=0" 30
check "remembered theme kept" grep -q '"theme":[[:space:]]*"light"' "$LIB_TMP/cfg/zimt/settings.json"

# The remembered theme itself missing (its file being edited, or a binary
# run away from its themes): dark is shown for this run, and the name
# stays remembered rather than being replaced by the stand-in.
sed -i 's/"theme":[[:space:]]*"light"/"theme": "gone"/' "$LIB_TMP/cfg/zimt/settings.json"
tm kill-session -t "$S"
tm new-session -d -s "$S" -x 100 -y 30 \
    "TERM=xterm-256color XDG_CONFIG_HOME=$LIB_TMP/cfg XDG_STATE_HOME=$LIB_TMP/state \
     ./zimt ui --model tests/data/tiny-zimage --device cpu --graphics blocks; \
     echo EXIT=\$?; sleep 60"
expect_screen "missing remembered theme reported" "theme gone: theme 'gone' not found" 10
expect_screen "dark stands in" "theme: dark" 5
tm send-keys -t "$S" C-q
expect_screen "fourth run quits" "EXIT=0" 30
check "the missing theme stays remembered" grep -q '"theme":[[:space:]]*"gone"' \
    "$LIB_TMP/cfg/zimt/settings.json"

# Themes are found beside the binary (a build tree run from elsewhere) and
# in ../share/zimt/themes from it (make install with any PREFIX).
mkdir -p "$LIB_TMP/pfx/bin" "$LIB_TMP/pfx/share/zimt/themes" "$LIB_TMP/elsewhere"
cp zimt "$LIB_TMP/pfx/bin/" && cp themes/light.json "$LIB_TMP/pfx/share/zimt/themes/"
for bin in "$PWD/zimt|build tree" "$LIB_TMP/pfx/bin/zimt|installed"; do
    tm kill-session -t "$S"
    tm new-session -d -s "$S" -x 100 -y 30 \
        "cd $LIB_TMP/elsewhere && TERM=xterm-256color XDG_CONFIG_HOME=$LIB_TMP/cfg2 \
         XDG_STATE_HOME=$LIB_TMP/state2 XDG_DATA_HOME=$LIB_TMP/data2 ${bin%%|*} ui \
         --model $PWD/tests/data/tiny-zimage --device cpu --graphics blocks --theme light; \
         echo EXIT=\$?; sleep 60"
    expect_screen "${bin#*|}: its theme found from another directory" "theme: light" 10
    # the bundled model named by its absolute path is still said to be it
    # (the installed copy here has none of its own)
    [ "${bin#*|}" != "build tree" ] ||
        expect_screen "build tree: the bundled model's notice" \
            "bundled tiny model: noise-like images" 5
    tm send-keys -t "$S" C-q
    expect_screen "${bin#*|}: quits" "EXIT=0" 30
done

# Terminals the workbench cannot draw on: one line that says why, exit 1
# (curses itself would end the process on an unknown TERM, and draw one
# line at a time on TERM=dumb).
for t in "TERM=nosuchterm|is not in the terminfo database" "TERM=dumb|cannot move the cursor" \
    "-u TERM|TERM is not set"; do
    tm kill-session -t "$S"
    tm new-session -d -s "$S" -x 120 -y 30 \
        "env ${t%%|*} ./zimt ui --model tests/data/tiny-zimage --device cpu; echo EXIT=\$?; sleep 60"
    expect_screen "${t%%|*}: said why" "${t#*|}" 10
    expect_screen "${t%%|*}: exit 1" "EXIT=1" 5
done
# A --model that is no directory: said before the screen opens.
tm kill-session -t "$S"
tm new-session -d -s "$S" -x 120 -y 30 \
    "env TERM=xterm-256color ./zimt ui --model $LIB_TMP/none; echo EXIT=\$?; sleep 60"
expect_screen "a missing --model: said why" "model directory $LIB_TMP/none does not exist" 10
expect_screen "a missing --model: exit 1" "EXIT=1" 5

# Workbench options without "ui" and without a terminal: the workbench says
# it needs one, as "zimt ui" does (they were an unknown command, exit 2).
# (not through run: $LIB_TMP/out is the workbench's output folder here)
./zimt --model tests/data/tiny-zimage --device cpu </dev/null >"$LIB_TMP/nt.out" 2>"$LIB_TMP/nt.err"
check "options without ui, no terminal: exit 1" test $? -eq 1
check "options without ui, no terminal: said" grep -qF "the workbench needs a terminal" "$LIB_TMP/nt.err"
./zimt </dev/null >"$LIB_TMP/nt.out" 2>"$LIB_TMP/nt.err"
check "no command, no terminal: the usage, exit 2" test $? -eq 2

lib_summary
