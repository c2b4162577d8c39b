# tmux.sh - driving the workbench in tmux, for the tui*.sh suites (sourced
# after tests/lib.sh). The caller sets TMUX_SOCK (a socket in its $LIB_TMP)
# and S (the session the screen is read from).
#   tm ARGS...            # tmux on the suite's own server
#   screen                # the session's screen as text
#   wait_for TEXT SECS    # poll the screen until it shows TEXT
#   expect_screen NAME TEXT [SECS]  # pass when it does, else fail with the screen

tm() { tmux -S "$TMUX_SOCK" -f /dev/null "$@"; }

screen() { tm capture-pane -p -t "$S"; }

wait_for() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    return 1
}

expect_screen() {
    if wait_for "$2" "${3:-10}"; then pass "$1"; else
        fail "$1" "screen lacks '$2'"
        screen | sed 's/^/    | /' | head -40
    fi
}
