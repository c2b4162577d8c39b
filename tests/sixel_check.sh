#!/usr/bin/env bash
# sixel_check.sh - the workbench's sixel image seen by a real terminal: xterm
# emulating a VT340 on a virtual X display (Xvfb), driven with xdotool and
# photographed with ImageMagick.
#
# It generates one small image with the tiny model on the CPU, then compares
# the screenshot's pixels at the preview position with the PNG the job wrote,
# scaled the way the workbench scales it (integer upscale = nearest). Sixel
# has 256 colour registers and the final image is dithered, so the check is
# a mean absolute difference under a threshold, next to two controls that
# must be far off (the same crop shifted one cell; the crop while a popup
# covers the image). Then a popup opens over the image and closes, and the
# image must be whole again.
#
# The workbench tells where it put the image through $ZIMT_DEBUG_LAYOUT (one
# line per send/erase: cell rectangle, pixel size, cell size). xterm runs
# with no internal border and no window manager, so cell (r, c) starts at
# pixel (c * cell_w, r * cell_h) of the root window.
#
# Needs: xterm xvfb imagemagick xdotool (Debian names). Run: make test-sixel
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
lib_init sixel_check.sh

for tool in Xvfb xterm xdotool import convert compare; do
    if ! command -v "$tool" >/dev/null; then
        echo "sixel_check.sh: $tool missing (apt-get install xterm xvfb imagemagick xdotool)"
        LIB_FAILED=1
        lib_summary
        exit 1
    fi
done

T=$LIB_TMP
XVFB_PID=
XTERM_PID=
stop_x() {
    [ -n "$XTERM_PID" ] && kill "$XTERM_PID" 2>/dev/null
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
    wait 2>/dev/null
    XTERM_PID=
    XVFB_PID=
}
cleanup() {
    stop_x
    rm -rf "$T"
}
trap cleanup EXIT

# wait_until SECONDS COMMAND...: poll every 0.1 s.
wait_until() {
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# Small, fast and exact: a 64x64 image upscaled 4x (the workbench's cap).
mkdir -p "$T/cfg/zimt"
cat >"$T/cfg/zimt/settings.json" <<'EOF'
{"theme": "dark", "graphics": "sixel", "output_dir": ".", "seed_locked": true,
 "params": {"prompt": "a sixel check", "width": 64, "height": 64, "steps": 2,
            "seed": 7, "guidance": 0}}
EOF
cat >"$T/run.sh" <<EOF
#!/bin/sh
cd "$PWD"
export LANG=C.UTF-8 XDG_CONFIG_HOME="$T/cfg" XDG_STATE_HOME="$T/state" \
       ZIMT_DEBUG_LAYOUT="$T/layout"
./zimt ui --model tests/data/tiny-zimage --device cpu --graphics sixel \
    --output-dir "$T/out" 2>"$T/zimt.err"
echo \$? >"$T/exit"
EOF
chmod +x "$T/run.sh"

# start_x: an Xvfb that answers a client, then xterm running the workbench
# with its window mapped. Either can fail to come up on a busy or shared
# machine (a display number another server answers for, a server that dies
# after announcing itself), so each attempt starts both afresh on a new
# display and says why it gave up; three attempts before the test fails.
display_up() { xdotool getdisplaygeometry >/dev/null 2>&1; }
window() { xdotool search --name zimt-sixel-check 2>/dev/null | head -n 1; }
has_window() { [ -n "$(window)" ]; }
xterm_gone() { ! kill -0 "$XTERM_PID" 2>/dev/null; }
has_window_or_gone() { has_window || xterm_gone; }
start_x() {
    rm -f "$T/display" "$T/layout" "$T/exit"
    # Xvfb picks a free display number itself and writes it to fd 3.
    # -noreset: an X server resets when its last client leaves, which the
    # probe below makes happen just before xterm connects; one attempt in a
    # CI run had xterm refused ("Can't open display") right after the probe
    # had been answered.
    Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp -noreset 3>"$T/display" 2>"$T/xvfb.log" &
    XVFB_PID=$!
    if ! wait_until 5 test -s "$T/display"; then
        X_WHY="Xvfb gave no display number"
        return 1
    fi
    export DISPLAY=":$(head -n 1 "$T/display")"
    if ! wait_until 5 display_up; then
        X_WHY="Xvfb on $DISPLAY does not answer"
        return 1
    fi
    xterm -ti vt340 -xrm 'XTerm*decTerminalID: vt340' -xrm 'XTerm*numColorRegisters: 256' \
        -xrm 'XTerm*allowWindowOps: true' -xrm 'XTerm*borderWidth: 0' -b 0 \
        -bg black -fg white -geometry 120x40+0+0 -fa Monospace -fs 10 \
        -T zimt-sixel-check -e "$T/run.sh" >"$T/xterm.log" 2>&1 &
    XTERM_PID=$!
    wait_until 10 has_window_or_gone
    if ! has_window; then
        X_WHY="xterm on $DISPLAY shows no window"
        return 1
    fi
    return 0
}
X_WHY=
x_ok=0
for attempt in 1 2 3; do
    if start_x; then
        x_ok=1
        break
    fi
    echo "sixel_check.sh: attempt $attempt: $X_WHY"
    sed 's/^/    xvfb: /' "$T/xvfb.log" 2>/dev/null | tail -n 5
    sed 's/^/    xterm: /' "$T/xterm.log" 2>/dev/null | tail -n 5
    stop_x
    rm -f "$T/xterm.log"
done
if [ "$x_ok" != 1 ]; then
    fail "xterm opens" "$X_WHY (3 attempts)"
    lib_summary
    exit 1
fi
sends() { cat "$T/layout" 2>/dev/null | grep -c "^send .*final=1"; }
erases() { cat "$T/layout" 2>/dev/null | grep -c "^erase"; }
has_sends() { [ "$(sends)" -ge "$1" ]; }
has_erases() { [ "$(erases)" -ge "$1" ]; }
WIN=$(window)
keys() {
    xdotool windowfocus --sync "$WIN"
    xdotool key --delay 50 "$@"
}
# Loading the tiny model takes a moment; the status bar tells when.
sleep 2
keys Return
if wait_until 60 has_sends 1; then pass "final image sent"; else
    fail "final image sent" "no final send in the layout log"
    cat "$T/layout" "$T/zimt.err" "$T/xterm.log" 2>/dev/null
    import -window root "$T/shot0.png"
    [ -n "${ZT_SIXEL_KEEP:-}" ] && mkdir -p "$ZT_SIXEL_KEEP" && cp "$T/shot0.png" "$ZT_SIXEL_KEEP"/
    lib_summary
    exit 1
fi
png=$(ls "$T"/out/*.png 2>/dev/null | head -n 1)
check "job wrote its PNG" test -n "$png"

# The last final send: "send row=R col=C rows=N cols=M px=WxH cell=WxH final=1".
geom() {
    grep "^send .*final=1" "$T/layout" | tail -n 1 |
        sed -E 's/.*row=([0-9]+) col=([0-9]+) rows=([0-9]+) cols=([0-9]+) px=([0-9]+)x([0-9]+) cell=([0-9]+)x([0-9]+).*/\1 \2 \3 \4 \5 \6 \7 \8/'
}
read -r ROW COL _ _ PW PH CW CH <<<"$(geom)"
X0=$((COL * CW))
Y0=$((ROW * CH))
convert "$png" -sample "${PW}x${PH}!" "$T/expected.png"

# mae SHOT X Y: normalised mean absolute difference of the PW x PH crop at
# (X, Y) of SHOT against the expected pixels, 0..1.
mae() {
    convert "$1" -crop "${PW}x${PH}+$2+$3" +repage "$T/crop.png"
    compare -metric MAE "$T/crop.png" "$T/expected.png" null: 2>&1 |
        sed -E 's/.*\(([0-9.e+-]+)\).*/\1/'
}
# below A B: 1 when A < B (floating point).
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
LIMIT=0.10 # sixel quantising and dithering stay well under this
FAR=0.12   # a wrong crop is far above

shot() {
    sleep 0.7 # let xterm paint what it has read
    import -window root "$1"
}
expect_image() {
    local name=$1 file=$2 d
    d=$(mae "$file" "$X0" "$Y0")
    if below "$d" "$LIMIT"; then pass "$name (MAE $d)"; else
        fail "$name" "MAE $d >= $LIMIT at ($X0,$Y0) ${PW}x${PH}"
    fi
}
expect_no_image() {
    local name=$1 file=$2 x=$3 y=$4 d
    d=$(mae "$file" "$x" "$y")
    if below "$FAR" "$d"; then pass "$name (MAE $d)"; else
        fail "$name" "MAE $d <= $FAR: the image is there"
    fi
}

shot "$T/shot1.png"
expect_image "final image at the preview position" "$T/shot1.png"
expect_no_image "one cell off does not match" "$T/shot1.png" $((X0 + CW)) "$Y0"

# Help over the image: the image's pixels must be gone while it is open.
e0=$(erases)
keys F1
wait_until 10 has_erases $((e0 + 1))
shot "$T/shot2.png"
expect_no_image "popup open: image erased" "$T/shot2.png" "$X0" "$Y0"

# Any key closes help; the image comes back whole.
s0=$(sends)
keys x
if wait_until 10 has_sends $((s0 + 1)); then pass "image sent again after the popup"; else
    fail "image sent again after the popup" "no send after closing"
fi
shot "$T/shot3.png"
expect_image "image intact after the popup closed" "$T/shot3.png"
# Same place as before: nothing moved.
read -r ROW2 COL2 _ <<<"$(geom)"
check "same cells after the popup" test "$ROW2 $COL2" = "$ROW $COL"

# Ctrl-L clears the screen; the image must be sent again.
s0=$(sends)
keys ctrl+l
wait_until 10 has_sends $((s0 + 1))
shot "$T/shot4.png"
expect_image "image intact after Ctrl-L" "$T/shot4.png"

keys ctrl+q
if wait_until 10 test -s "$T/exit"; then
    check "workbench exits 0" test "$(cat "$T/exit")" = 0
else
    fail "workbench exits" "still running"
fi
if [ -n "${ZT_SIXEL_KEEP:-}" ]; then
    mkdir -p "$ZT_SIXEL_KEEP"
    cp "$T"/*.png "$T/layout" "$ZT_SIXEL_KEEP"/ 2>/dev/null
    echo "screenshots kept in $ZT_SIXEL_KEEP"
fi
lib_summary
