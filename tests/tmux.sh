# tmux.sh - driving the workbench in tmux, for the tui*.sh suites (sourced
# after tests/lib.sh). The caller sets TMUX_SOCK (a socket in its $LIB_TMP)
# and S (the session the screen is read from).
#   tm ARGS...            # tmux on the suite's own server
#   screen                # the session's screen as text
#   wait_for TEXT SECS    # poll the screen until it shows TEXT
#   wait_re ERE SECS      # poll the screen until it matches ERE
#   expect_screen NAME TEXT [SECS]  # pass when it does, else fail with the screen
#   custom_size WxH       # the workbench's size set through F4, c, WxH, Enter

tm() { tmux -S "$TMUX_SOCK" -f /dev/null "$@"; }

screen() { tm capture-pane -p -t "$S"; }

# wait_grep F|E TEXT SECS: poll the screen until grep -F (fixed) or -E
# (extended regular expression) finds TEXT.
wait_grep() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        screen | grep -q"$1" -- "$2" && return 0
        sleep 0.1
    done
    return 1
}
wait_for() { wait_grep F "$1" "$2"; }
wait_re() { wait_grep E "$1" "$2"; }

expect_screen() {
    if wait_for "$2" "${3:-10}"; then pass "$1"; else
        fail "$1" "screen lacks '$2'"
        screen | sed 's/^/    | /' | head -40
    fi
}

# open_custom_size: the custom size input, from the size list (F4, c).
open_custom_size() {
    tm send-keys -t "$S" F4
    wait_for "Size (Enter picks" 5
    tm send-keys -t "$S" c
    wait_for "Custom size WxH" 5
}

# retype TEXT: the open input's text replaced by TEXT, then Enter.
retype() {
    tm send-keys -t "$S" C-u
    tm send-keys -t "$S" -l "$1"
    tm send-keys -t "$S" Enter
}

# open_png PATH: Ctrl-O, then PATH and Enter in its input.
open_png() {
    tm send-keys -t "$S" C-o
    wait_for "Open PNG settings" 5
    tm send-keys -t "$S" -l "$1"
    tm send-keys -t "$S" Enter
}

custom_size() {
    open_custom_size
    tm send-keys -t "$S" -l "$1"
    tm send-keys -t "$S" Enter
    wait_for "$1  (custom)" 5
}
