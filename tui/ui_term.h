/*
 * ui_term.h - what the terminal can show: sixel support and the cell size
 * in pixels, asked before curses starts.
 *
 * All queries go out in one write with DA1 last; every terminal answers
 * DA1, so its reply ends the wait (at most timeout_ms). The cell size
 * comes from the kernel's pixel sizes (TIOCGWINSZ), else the terminal's
 * cell report (CSI 16 t), else its text area (CSI 14 t) over the rows and
 * columns; 0 when none gives one (the preview then assumes 8 x 16). Sixel is on when a
 * DA1 parameter equals 4, or when the environment names a terminal known
 * to have it and nothing answered. Call on the UI thread with the tty in
 * its normal mode; it restores the mode it found.
 */
#ifndef ZT_UI_TERM_H
#define ZT_UI_TERM_H

typedef struct zt_ui_term {
    int sixel;           /* DA1 said 4, or a trusted hint */
    int answered;        /* DA1 reply seen */
    int cell_w, cell_h;  /* pixels per cell; 0 when unknown */
    int truecolor;       /* COLORTERM says truecolor/24bit */
    int in_tmux;
} zt_ui_term;

void zt_ui_term_detect(zt_ui_term *t, int fd, int timeout_ms);
/* Whether $TERM names a terminal the workbench can draw on (a terminfo
 * entry with cursor addressing); if not, 0 with why. Without this check
 * curses ends the process on an unknown TERM, and draws one line at a
 * time on TERM=dumb. */
int zt_ui_term_usable(int fd, char *why, int why_len);
/* Parse a DA1 reply "ESC[?63;1;2;4c": 1 when a parameter equals 4. */
int zt_ui_term_da1_has_sixel(const char *reply, int len);
/* Refresh the cell size from TIOCGWINSZ (after a resize); keeps the old
 * value when the kernel has no pixel sizes. */
void zt_ui_term_cell_size(zt_ui_term *t, int fd);

#endif
