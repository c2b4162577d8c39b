/* ui_term.c - terminal capability queries (see ui_term.h). */
#include "ui_term.h"

#include <curses.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

#include "status.h"

int zt_ui_term_da1_has_sixel(const char *r, int len)
{
    /* Find "ESC [ ?" then numbers separated by ';' up to 'c'. */
    for (int i = 0; i + 2 < len; i++) {
        if (r[i] != 27 || r[i + 1] != '[' || r[i + 2] != '?')
            continue;
        int v = 0, have = 0;
        for (int j = i + 3; j < len; j++) {
            char c = r[j];
            if (c >= '0' && c <= '9') {
                v = v * 10 + (c - '0');
                have = 1;
                if (v > 100000)
                    break;
            } else if (c == ';' || c == 'c') {
                if (have && v == 4)
                    return 1;
                v = 0;
                have = 0;
                if (c == 'c')
                    break;
            } else {
                break;
            }
        }
    }
    return 0;
}

/* The end of a DA1 reply: ESC [ ? ... c. */
static int has_da1(const char *b, int n)
{
    for (int i = 0; i + 2 < n; i++)
        if (b[i] == 27 && b[i + 1] == '[' && b[i + 2] == '?')
            for (int j = i + 3; j < n; j++) {
                if (b[j] == 'c')
                    return 1;
                if (!((b[j] >= '0' && b[j] <= '9') || b[j] == ';'))
                    break;
            }
    return 0;
}

/* The two numbers of the first "ESC [ code ; a ; b t" report in b (the
 * window manipulation replies: 6 the cell, 4 the text area, h before w).
 * 1 when one is there. */
static int parse_t_report(const char *b, int n, char code, int *h, int *w)
{
    for (int i = 0; i + 3 < n; i++) {
        if (b[i] != 27 || b[i + 1] != '[' || b[i + 2] != code || b[i + 3] != ';')
            continue;
        char tmp[32];
        int k = 0, j = i + 4;
        for (; j < n && k < 31 && b[j] != 't'; j++)
            tmp[k++] = b[j];
        if (j >= n || b[j] != 't')
            continue; /* cut short */
        tmp[k] = 0;
        char *semi = strchr(tmp, ';');
        *h = atoi(tmp);
        *w = semi ? atoi(semi + 1) : 0;
        return 1;
    }
    return 0;
}

/* Take a cell of w x h pixels when it is one a terminal could have. */
static void set_cell(zt_ui_term *t, int w, int h)
{
    if (h >= 4 && w >= 2 && h < 200 && w < 200) {
        t->cell_h = h;
        t->cell_w = w;
    }
}

/* The cell size from the replies when the kernel had none: CSI 16 t's
 * cell, else CSI 14 t's text area over the rows and columns. */
static void parse_cell(const char *b, int n, int fd, zt_ui_term *t)
{
    int h, w;
    if (parse_t_report(b, n, '6', &h, &w))
        set_cell(t, w, h);
    struct winsize ws;
    if (!t->cell_w && parse_t_report(b, n, '4', &h, &w) && ioctl(fd, TIOCGWINSZ, &ws) == 0 &&
        ws.ws_col && ws.ws_row)
        set_cell(t, w / ws.ws_col, h / ws.ws_row);
}

void zt_ui_term_cell_size(zt_ui_term *t, int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row &&
        ws.ws_xpixel >= 2 * ws.ws_col && ws.ws_ypixel >= 4 * ws.ws_row) {
        t->cell_w = ws.ws_xpixel / ws.ws_col;
        t->cell_h = ws.ws_ypixel / ws.ws_row;
    }
}

static int env_hint_sixel(void)
{
    const char *tp = getenv("TERM_PROGRAM"), *term = getenv("TERM");
    if (getenv("WEZTERM_EXECUTABLE") || getenv("MLTERM"))
        return 1;
    if (tp && (!strcmp(tp, "WezTerm") || !strcmp(tp, "mintty") || !strcmp(tp, "contour")))
        return 1;
    if (term && (!strncmp(term, "foot", 4) || !strncmp(term, "mlterm", 6) ||
                 !strncmp(term, "contour", 7)))
        return 1;
    return 0;
}

void zt_ui_term_detect(zt_ui_term *t, int fd, int timeout_ms)
{
    memset(t, 0, sizeof *t);
    const char *ct = getenv("COLORTERM");
    t->truecolor = ct && (!strcmp(ct, "truecolor") || !strcmp(ct, "24bit"));
    t->in_tmux = getenv("TMUX") != NULL;
    zt_ui_term_cell_size(t, fd);

    struct termios old, raw;
    if (tcgetattr(fd, &old) == 0) {
        raw = old;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(fd, TCSANOW, &raw);
        static const char q[] = "\033[16t\033[14t\033[c";
        if (write(fd, q, sizeof q - 1) == (ssize_t)(sizeof q - 1)) {
            char buf[512];
            int n = 0;
            long end = (long)zt_now_ms() + timeout_ms;
            while (n < (int)sizeof buf - 1) {
                long left = end - (long)zt_now_ms();
                if (left <= 0)
                    break;
                struct pollfd p = {fd, POLLIN, 0};
                if (poll(&p, 1, (int)left) <= 0)
                    break;
                ssize_t k = read(fd, buf + n, sizeof buf - 1 - (size_t)n);
                if (k <= 0)
                    break;
                n += (int)k;
                if (has_da1(buf, n))
                    break;
            }
            t->answered = has_da1(buf, n);
            t->sixel = zt_ui_term_da1_has_sixel(buf, n);
            if (!t->cell_w)
                parse_cell(buf, n, fd, t);
        }
        tcsetattr(fd, TCSANOW, &old);
    }
    if (!t->answered && env_hint_sixel())
        t->sixel = 1;
}

int zt_ui_term_usable(int fd, char *why, int why_len)
{
    const char *name = getenv("TERM");
    int err = 0;
    if (!name || !*name) {
        snprintf(why, (size_t)why_len, "TERM is not set; set it to your terminal's type "
                 "(for example TERM=xterm-256color)");
        return 0;
    }
    if (setupterm(NULL, fd, &err) != OK) {
        snprintf(why, (size_t)why_len, "the terminal type '%s' (TERM) is not in the terminfo "
                 "database here; try TERM=xterm-256color", name);
        return 0;
    }
    const char *cup = tigetstr("cup");
    int can_move = cup && cup != (const char *)-1;
    del_curterm(cur_term);
    if (!can_move) {
        snprintf(why, (size_t)why_len, "the terminal type '%s' (TERM) cannot move the cursor, "
                 "which the workbench needs; use 'zimt gen', or a TERM such as xterm-256color",
                 name);
        return 0;
    }
    return 1;
}
