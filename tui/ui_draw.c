/*
 * ui_draw.c - the workbench's panels, status bar and popups.
 *
 * Layout (columns split when the screen is 80 wide or more):
 *
 *   title: model, backend, notice                                  theme
 *   Prompt editor         | Preview (sixel / half-blocks)
 *   Negative (guidance>0) |
 *   Seed Size Steps CFG   |
 *   Queue and progress    |
 *   Memory bar, timings   |
 *   status bar: message or key hints
 *
 * Text from outside (prompts, paths, messages) is sanitised before it
 * reaches the screen. The image's last row stays above the status bar so
 * the terminal never scrolls.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json.h"
#include "ui_app.h"
#include "ui_text.h"

/* Half blocks where the locale can write them. */
static zt_ui_cells cells(const zt_ui_app *a)
{
    return a->utf8 ? ZT_UI_CELLS_HALF : ZT_UI_CELLS_WHOLE;
}

/* Print at most maxw cells of UTF-8 s (sanitised) at (y, x). Returns cells.
 * The text goes to curses as wide characters, which it writes in the
 * locale's encoding (what the locale cannot write shows as a stand-in). */
static int put(int y, int x, int maxw, int role, const char *s)
{
    if (maxw <= 0 || !s)
        return 0;
    char *clean = zt_ui_sanitize(s, strlen(s), 0);
    if (!clean)
        return 0;
    int w;
    size_t i = zt_ui_fit_width(clean, strlen(clean), 0, maxw, &w);
    attrset(zt_ui_attr(role));
    wchar_t *wide = malloc((i + 1) * sizeof *wide);
    if (wide) {
        size_t n = 0;
        for (size_t k = 0; k < i;) {
            uint32_t cp;
            k += zt_ui_utf8_decode(clean, i, k, &cp);
            wide[n++] = (wchar_t)cp;
        }
        wide[n] = 0;
        mvaddnwstr(y, x, wide, (int)n);
        free(wide);
    }
    free(clean);
    return w;
}

/* Prints the first of n texts that fits in maxw cells: the longer forms
 * say more, the shorter ones fit narrow panes. When none fits, the last is
 * cut and ends in a mark ("…", "..." where the locale is not UTF-8), so
 * that a number cut short does not read as another whole one. */
static int put_fit(const zt_ui_app *a, int y, int x, int maxw, int role, const char *const *texts,
                   int n)
{
    for (int i = 0; i < n; i++)
        if (zt_ui_str_width(texts[i], strlen(texts[i])) <= maxw)
            return put(y, x, maxw, role, texts[i]);
    const char *mark = a->utf8 ? "\xe2\x80\xa6" : "...";
    int mw = a->utf8 ? 1 : 3;
    if (maxw <= mw)
        return put(y, x, maxw, role, mark);
    int used = put(y, x, maxw - mw, role, texts[n - 1]);
    return used + put(y, x + used, mw, role, mark);
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int putf(int y, int x, int maxw, int role, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return put(y, x, maxw, role, buf);
}

static void fill(int y, int x, int w, int role)
{
    attrset(zt_ui_attr(role));
    for (int i = 0; i < w; i++)
        mvaddch(y, x + i, ' ');
}

static void human(char *out, size_t n, double bytes)
{
    const char *u[] = {"B", "K", "M", "G", "T"};
    int k = 0;
    while (bytes >= 1024 && k < 4) {
        bytes /= 1024;
        k++;
    }
    snprintf(out, n, k >= 3 ? "%.1f%s" : "%.0f%s", bytes, u[k]);
}

static int left_width(void)
{
    return COLS >= 80 ? (COLS * 45 / 100 < 40 ? 40 : COLS * 45 / 100) : COLS;
}

void zt_ui_preview_area(const zt_ui_app *a, int *row, int *col, int *rows, int *cols)
{
    (void)a;
    int lw = left_width();
    if (lw >= COLS) {
        *row = *col = *rows = *cols = 0;
        return;
    }
    *row = 2;
    *col = lw + 2;
    *rows = LINES - 4; /* title, panel title, bottom border, status bar */
    *cols = COLS - lw - 3;
    if (*rows < 0)
        *rows = 0;
    if (*cols < 0)
        *cols = 0;
}

/* Where the text cursor goes once everything is drawn. */
static int cursor_y, cursor_x, cursor_on;

static void draw_editor(zt_ui_editor *e, int y, int x, int w, int h, int focused)
{
    /* Rows on the stack for ordinary prompts; a long one (pasted text) lays
     * out again into the heap so that its last rows can be shown too. */
    zt_ui_row local[256], *rows = local;
    int n = zt_ui_editor_layout(e, w, rows, 256);
    if (n > 256) {
        zt_ui_row *big = malloc((size_t)n * sizeof *big);
        if (big) {
            rows = big;
            n = zt_ui_editor_layout(e, w, rows, n);
        } else {
            n = 256;
        }
    }
    int cr, cc;
    zt_ui_editor_cursor_pos(e, w, &cr, &cc);
    /* the view stays where it was while the cursor is in it: Up from the
     * bottom row moves the cursor, not the text (it scrolled, the cursor
     * pinned to the last row) */
    int top = e->top;
    if (top > n - h)
        top = n - h; /* no empty rows below a text that got shorter */
    if (top < 0)
        top = 0;
    if (cr < top)
        top = cr;
    if (cr >= top + h)
        top = cr - h + 1;
    e->top = top;
    for (int r = 0; r < h; r++) {
        fill(y + r, x, w, ZT_UI_ROLE_NORMAL);
        if (top + r < n) {
            zt_ui_row *rw = &rows[top + r];
            char *line = strndup(e->buf + rw->start, rw->end - rw->start);
            put(y + r, x, w, ZT_UI_ROLE_VALUE, line);
            free(line);
        }
    }
    if (focused) {
        cursor_y = y + cr - top;
        cursor_x = x + cc;
        cursor_on = 1;
    }
    if (rows != local)
        free(rows);
}

static int label_role(const zt_ui_app *a, int f)
{
    return a->focus == f && a->popup == ZT_UI_POPUP_NONE ? ZT_UI_ROLE_FOCUS : ZT_UI_ROLE_LABEL;
}

static void draw_bar(int y, int x, int w, double frac, int role_fg, int role_bg)
{
    int n = (int)(frac * w + 0.5);
    if (n > w)
        n = w;
    fill(y, x, n, role_fg);
    fill(y, x + n, w - n, role_bg);
}

static void draw_memory(zt_ui_app *a, int y, int x, int w)
{
    const zt_mem_snapshot *m = &a->mem;
    double total = m->have_device ? (double)m->device_total : (double)a->phys_mem;
    double used = m->have_device ? (double)(m->device_total - m->device_free) : 0;
    double parts[4] = {(double)m->text_encoder, (double)m->transformer, (double)m->vae,
                       (double)m->activations};
    static const int roles[4] = {ZT_UI_ROLE_MEM_TEXT_ENCODER, ZT_UI_ROLE_MEM_DIT,
                                 ZT_UI_ROLE_MEM_VAE, ZT_UI_ROLE_MEM_ACTIVATIONS};
    static const char *names[4] = {"TE", "DiT", "VAE", "act"};
    double own = parts[0] + parts[1] + parts[2] + parts[3];
    if (used < own)
        used = own;
    char t[32], u[32];
    human(t, sizeof t, total);
    human(u, sizeof u, used);
    putf(y, x, w, ZT_UI_ROLE_LABEL, "%s memory", m->have_device ? "GPU" : "Host");
    putf(y, x + 12, w - 12, ZT_UI_ROLE_VALUE, "%s / %s%s", u, t,
         m->have_device ? "" : " (zimt's share)");
    int bw = w;
    int cx = x;
    if (total > 0) {
        for (int i = 0; i < 4; i++) {
            int n = (int)(parts[i] / total * bw + 0.5);
            if (parts[i] > 0 && n == 0)
                n = 1;
            if (cx + n > x + bw)
                n = x + bw - cx;
            fill(y + 1, cx, n, roles[i]);
            cx += n;
        }
        int other = (int)((used - own) / total * bw + 0.5);
        if (cx + other > x + bw)
            other = x + bw - cx;
        fill(y + 1, cx, other, ZT_UI_ROLE_MEM_OTHER);
        cx += other;
    }
    fill(y + 1, cx, x + bw - cx, ZT_UI_ROLE_PROGRESS_BG);
    int lx = x;
    for (int i = 0; i < 4 && lx < x + w; i++) {
        char h[32];
        human(h, sizeof h, parts[i]);
        lx += put(y + 2, lx, x + w - lx, roles[i], " ");
        lx += putf(y + 2, lx, x + w - lx, ZT_UI_ROLE_DIM, " %s %s  ", names[i], h);
    }
}

static void draw_left(zt_ui_app *a)
{
    int lw = left_width();
    int w = lw - 2, x = 1, y = 1;
    int bottom = LINES - 2;
    int guidance_on = a->set.params.guidance > 0;
    int fixed = 4 /* fields */ + 1 + 3 /* queue */ + 4 /* memory+timings */ + 2;
    int ph = bottom - y - fixed - (guidance_on ? 4 : 0) - 1;
    if (ph > 8)
        ph = 8;
    if (ph < 1)
        ph = 1;
    int nh = 2;

    putf(y, x, w, label_role(a, ZT_UI_FOCUS_PROMPT), "Prompt");
    if (a->hist_pos < a->hist.n)
        putf(y, x + 8, w - 8, ZT_UI_ROLE_DIM, "(history %d/%d)", a->hist_pos + 1, a->hist.n);
    y++;
    draw_editor(&a->prompt, y, x, w, ph, a->focus == ZT_UI_FOCUS_PROMPT && !a->popup);
    y += ph;
    if (guidance_on) {
        putf(y++, x, w, label_role(a, ZT_UI_FOCUS_NEGATIVE), "Negative prompt");
        draw_editor(&a->negative, y, x, w, nh, a->focus == ZT_UI_FOCUS_NEGATIVE && !a->popup);
        y += nh;
    }
    y++;
    const zt_gen_params *p = &a->set.params;
    putf(y, x, 10, label_role(a, ZT_UI_FOCUS_SEED), "Seed");
    if (a->set.seed_locked) {
        char t[3][64];
        unsigned long long sd = (unsigned long long)p->seed;
        snprintf(t[0], sizeof t[0], "%llu  [locked]", sd);
        snprintf(t[1], sizeof t[1], "%llu [locked]", sd);
        snprintf(t[2], sizeof t[2], "%llu", sd);
        put_fit(a, y, x + 10, w - 10, ZT_UI_ROLE_VALUE, (const char *[]){t[0], t[1], t[2]}, 3);
    } else if (a->last_seed) {
        char t[4][64];
        unsigned long long last = (unsigned long long)a->last_seed;
        snprintf(t[0], sizeof t[0], "random  (last %llu; l keeps it)", last);
        snprintf(t[1], sizeof t[1], "random  (last %llu)", last);
        snprintf(t[2], sizeof t[2], "random (last %llu)", last);
        snprintf(t[3], sizeof t[3], "last %llu", last);
        put_fit(a, y, x + 10, w - 10, ZT_UI_ROLE_VALUE, (const char *[]){t[0], t[1], t[2], t[3]},
                4);
    } else
        putf(y, x + 10, w - 10, ZT_UI_ROLE_VALUE, "random");
    y++;
    putf(y, x, 10, label_role(a, ZT_UI_FOCUS_SIZE), "Size");
    {
        int idx = -1;
        for (int i = 0; i < zt_ui_size_preset_count; i++)
            if (zt_ui_size_presets[i].w == p->width && zt_ui_size_presets[i].h == p->height)
                idx = i;
        if (idx >= 0)
            putf(y, x + 10, w - 10, ZT_UI_ROLE_VALUE, "%dx%d  (preset %d/%d)", p->width,
                 p->height, idx + 1, zt_ui_size_preset_count);
        else
            putf(y, x + 10, w - 10, ZT_UI_ROLE_VALUE, "%dx%d  (custom)", p->width, p->height);
    }
    y++;
    putf(y, x, 10, label_role(a, ZT_UI_FOCUS_STEPS), "Steps");
    putf(y++, x + 10, w - 10, ZT_UI_ROLE_VALUE, "%d", p->steps);
    putf(y, x, 10, label_role(a, ZT_UI_FOCUS_GUIDANCE), "Guidance");
    char g[32]; /* as typed: 2.25 is not shown as 2.2 */
    putf(y++, x + 10, w - 10, ZT_UI_ROLE_VALUE, "%s%s", zt_float_text(g, sizeof g, p->guidance),
         p->guidance > 0 ? "" : "  (off)");
    y++;

    /* queue and progress */
    putf(y, x, w, ZT_UI_ROLE_LABEL, "Queue");
    putf(y, x + 7, w - 7, ZT_UI_ROLE_DIM, "%d job%s", a->njobs, a->njobs == 1 ? "" : "s");
    y++;
    if (a->njobs && a->jobs[0].running) {
        zt_ui_job *j = &a->jobs[0];
        int done = a->step;
        int bw = w / 3;
        draw_bar(y, x, bw, j->steps ? (double)done / j->steps : 0, ZT_UI_ROLE_PROGRESS,
                 ZT_UI_ROLE_PROGRESS_BG);
        int total = a->steps ? a->steps : j->steps;
        if (done > 0) {
            /* the ETA counts steps; after the last one the image is
             * decoding. Shorter forms for narrow panes, not a cut one. */
            char what[40], f[3][80];
            if (done >= total)
                snprintf(what, sizeof what, "decoding...");
            else
                snprintf(what, sizeof what, "ETA %.1f s + decode", a->eta_ms / 1000.0);
            snprintf(f[0], sizeof f[0], "step %d/%d  %.0f ms/step  %s", done, total, a->step_ms,
                     what);
            snprintf(f[1], sizeof f[1], "step %d/%d  %s", done, total, what);
            snprintf(f[2], sizeof f[2], "%d/%d  %s", done, total, what);
            const char *const forms[] = {f[0], f[1], f[2]};
            put_fit(a, y, x + bw + 1, w - bw - 1, ZT_UI_ROLE_VALUE, forms, 3);
        } else {
            putf(y, x + bw + 1, w - bw - 1, ZT_UI_ROLE_VALUE, "#%llu encoding the prompt...",
                 (unsigned long long)j->id);
        }
    } else if (a->loaded == 0) {
        putf(y, x, w, ZT_UI_ROLE_NOTICE, "%s", a->load_msg[0] ? a->load_msg : "loading...");
    } else {
        putf(y, x, w, ZT_UI_ROLE_DIM, "idle");
    }
    y++;
    for (int i = 0; i < a->njobs && i < 2; i++) {
        int k = a->jobs[0].running ? i + 1 : i;
        if (k >= a->njobs)
            break;
        zt_ui_job *j = &a->jobs[k];
        /* the prompt may be cut at the pane's edge, the seed not: shorter
         * forms when the line through the seed is too wide */
        unsigned long long id = (unsigned long long)j->id, sd = (unsigned long long)j->seed;
        char f[3][96];
        int n = snprintf(f[0], sizeof f[0], "#%llu queued %dx%d seed %llu", id, j->w, j->h, sd);
        if (n <= w) {
            putf(y++, x, w, ZT_UI_ROLE_DIM, "%s  %s", f[0], j->prompt);
        } else {
            snprintf(f[0], sizeof f[0], "#%llu %dx%d seed %llu", id, j->w, j->h, sd);
            snprintf(f[1], sizeof f[1], "#%llu seed %llu", id, sd);
            snprintf(f[2], sizeof f[2], "#%llu queued", id);
            put_fit(a, y++, x, w, ZT_UI_ROLE_DIM, (const char *[]){f[0], f[1], f[2]}, 3);
        }
    }
    if (y < bottom - 6)
        y = bottom - 6;
    draw_memory(a, y, x, w);
    y += 3;
    if (a->have_last_timings) {
        const zt_timings *t = &a->last_timings;
        double steps = 0;
        for (int i = 0; i < t->steps; i++)
            steps += t->step_ms[i];
        char f[4][128];
        snprintf(f[0], sizeof f[0], "encode %.0f ms  steps %.0f ms  decode %.0f ms  total %.2f s",
                 t->encode_ms, steps, t->decode_ms, t->total_ms / 1000.0);
        snprintf(f[1], sizeof f[1], "%.2f s: encode %.0f, steps %.0f, decode %.0f ms",
                 t->total_ms / 1000.0, t->encode_ms, steps, t->decode_ms);
        snprintf(f[2], sizeof f[2], "%.2f s: steps %.0f, decode %.0f ms", t->total_ms / 1000.0,
                 steps, t->decode_ms);
        snprintf(f[3], sizeof f[3], "%.2f s, steps %.0f ms", t->total_ms / 1000.0, steps);
        putf(y, x, w, ZT_UI_ROLE_LABEL, "Last");
        put_fit(a, y, x + 6, w - 6, ZT_UI_ROLE_VALUE, (const char *[]){f[0], f[1], f[2], f[3]}, 4);
    }
    y++;
    putf(y, x, w, ZT_UI_ROLE_DIM, "Results: %d  (F3 gallery)", a->nresults);
}

static void draw_frame(int y, int x, int h, int w, int role, const char *title)
{
    attrset(zt_ui_attr(role));
    mvhline(y, x + 1, ACS_HLINE, w - 2);
    mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
    mvvline(y + 1, x, ACS_VLINE, h - 2);
    mvvline(y + 1, x + w - 1, ACS_VLINE, h - 2);
    mvaddch(y, x, ACS_ULCORNER);
    mvaddch(y, x + w - 1, ACS_URCORNER);
    mvaddch(y + h - 1, x, ACS_LLCORNER);
    mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
    if (title)
        putf(y, x + 2, w - 4, role, " %s ", title);
}

/* buf (n bytes) holds the name when it is made */
static const char *gfx_name(int g, char *buf, size_t n)
{
    switch (g) {
    case ZT_UI_GFX_SIXEL:
        return "sixel";
    case ZT_UI_GFX_BLOCKS_TRUE:
        return "blocks, truecolor";
    case ZT_UI_GFX_BLOCKS_256:
        /* the palette the terminal has: 8 on xterm and the Linux console */
        snprintf(buf, n, "blocks, %d colours", COLORS < 256 ? COLORS : 256);
        return buf;
    case ZT_UI_GFX_ASCII:
        return "text";
    default:
        return "off";
    }
}

/* A cell's size in pixels, 8 x 16 when the terminal gave none. */
static void cell_px(const zt_ui_app *a, int *cw, int *ch)
{
    *cw = a->term.cell_w ? a->term.cell_w : 8;
    *ch = a->term.cell_h ? a->term.cell_h : 16;
}

/* Cell rectangle of the image inside the preview area; no rows when none
 * is shown. */
static void place_image(const zt_ui_app *a, int *irow, int *icol, int *irows, int *icols)
{
    int row, col, rows, cols;
    zt_ui_preview_area(a, &row, &col, &rows, &cols);
    *irow = *icol = *irows = *icols = 0;
    if (!a->img || rows < 2 || cols < 2 || a->gfx == ZT_UI_GFX_NONE)
        return;
    if (a->gfx == ZT_UI_GFX_SIXEL) {
        int cw, ch;
        cell_px(a, &cw, &ch);
        int pw, ph;
        zt_ui_fit(a->img_w, a->img_h, cols * cw, rows * ch, &pw, &ph);
        *icols = (pw + cw - 1) / cw;
        *irows = (ph + ch - 1) / ch;
    } else {
        int pw, ph;
        zt_ui_fit(a->img_w, a->img_h, cols, rows * 2, &pw, &ph);
        ph &= ~1;
        if (ph < 2)
            ph = 2;
        *icols = pw;
        *irows = ph / 2;
    }
    *irow = row + (rows - *irows) / 2;
    *icol = col + (cols - *icols) / 2;
}

static void draw_preview(zt_ui_app *a)
{
    int row, col, rows, cols;
    zt_ui_preview_area(a, &row, &col, &rows, &cols);
    if (cols <= 0)
        return;
    char title[96], gname[32];
    snprintf(title, sizeof title, "Preview (%s)%s", gfx_name(a->gfx, gname, sizeof gname),
             !a->img || a->img_final ? ""
             : a->img_stopped        ? " - stopped"
                                     : " - live");
    draw_frame(row - 1, col - 1, rows + 2, cols + 2, ZT_UI_ROLE_BORDER, title);
    for (int r = 0; r < rows; r++)
        fill(row + r, col, cols, ZT_UI_ROLE_NORMAL);
    if (!a->img) {
        putf(row + rows / 2, col + (cols > 20 ? (cols - 20) / 2 : 0), cols, ZT_UI_ROLE_DIM,
             "no image yet");
        return;
    }
    int r, c, rs, cs;
    place_image(a, &r, &c, &rs, &cs);
    if (r != a->img_row || c != a->img_col || rs != a->img_rows || cs != a->img_cols) {
        /* A raw image (sixel, truecolor blocks) went to the terminal past
         * curses, which takes its cells for blank and never repaints them:
         * erase it at its old place before the new one is put elsewhere. */
        zt_ui_image_erase(a);
        a->img_row = r;
        a->img_col = c;
        a->img_rows = rs;
        a->img_cols = cs;
        a->img_dirty = 1;
    }
    if (a->gfx == ZT_UI_GFX_BLOCKS_256 || a->gfx == ZT_UI_GFX_ASCII) {
        if (a->popup)
            return;
        if (a->img_dirty || !a->blocks || a->blocks_cols != a->img_cols ||
            a->blocks_rows != a->img_rows) {
            free(a->blocks);
            a->blocks = zt_ui_scale(a->img, a->img_w, a->img_h, a->img_cols, a->img_rows * 2);
            a->blocks_cols = a->img_cols;
            a->blocks_rows = a->img_rows;
            a->img_dirty = 0;
        }
        if (a->blocks)
            zt_ui_blocks_curses(a->blocks, a->img_cols, a->img_rows, a->img_row, a->img_col,
                                a->gfx == ZT_UI_GFX_ASCII ? ZT_UI_CELLS_ASCII : cells(a));
    }
}

static void draw_title(zt_ui_app *a)
{
    fill(0, 0, COLS, ZT_UI_ROLE_TITLE);
    const char *slash = strrchr(a->model_dir, '/');
    const char *name = slash && slash[1] ? slash + 1 : a->model_dir;
    int x = putf(0, 0, COLS, ZT_UI_ROLE_TITLE, " zimt  %s  %s", name,
                 a->loaded == 1 ? a->backend : a->loaded < 0 ? "failed" : "loading");
    char th[100];
    snprintf(th, sizeof th, "theme: %s  F1 help ", a->no_color ? "mono (NO_COLOR)" : a->theme.name);
    int tw = (int)strlen(th);
    /* the notice (a model stand-in, say) matters more than the theme's
     * name: that goes when both do not fit with a cell between them */
    int nw = a->notice[0] ? zt_ui_str_width(a->notice, strlen(a->notice)) + 2 : 0;
    int theme_fits = COLS >= x + 2 + nw + (nw ? 1 : 0) + tw;
    if (a->notice[0])
        putf(0, x + 2, COLS - x - 2, ZT_UI_ROLE_NOTICE, " %s ", a->notice);
    if (theme_fits)
        put(0, COLS - tw, tw, ZT_UI_ROLE_TITLE, th);
}

static void draw_status(zt_ui_app *a)
{
    fill(LINES - 1, 0, COLS, ZT_UI_ROLE_STATUSBAR);
    if (a->status[0]) {
        /* a message too long for the bar loses the middle of its path, or
         * its own middle: not its end, where the reason is ("...: No space
         * left on device") */
        char *fit = zt_ui_fit_message(a->status, COLS - 2, a->utf8 ? "\xe2\x80\xa6" : "...");
        /* what is then still too wide ends in the mark, not in a seed's
         * first digits */
        put_fit(a, LINES - 1, 1, COLS - 2, a->status_role, (const char *[]){fit ? fit : a->status},
                1);
        free(fit);
        return;
    }
    /* fewer keys where the line is narrow, not one cut mid-word */
    static const char *const hints[] = {
        "Enter generate  Tab next field  Esc cancel  F2 theme  F3 gallery  F4 sizes  "
        "Ctrl-O open PNG  F1 help  Ctrl-Q quit",
        "Enter generate  Esc cancel  F3 gallery  F4 sizes  Ctrl-O open PNG  F1 help  Ctrl-Q quit",
        "Enter generate  F3 gallery  F4 sizes  F1 help  Ctrl-Q quit",
        "F1 help  Ctrl-Q quit",
    };
    put_fit(a, LINES - 1, 1, COLS - 2, ZT_UI_ROLE_STATUSBAR, hints, 4);
}

/* A framed box of *h x *w cells in the middle of the screen, shrunk to fit
 * it (callers lay out their content in the shrunk *h and *w). */
static void popup_box(int *h, int *w, const char *title, int *y, int *x)
{
    if (*w > COLS - 2)
        *w = COLS - 2;
    if (*h > LINES - 2)
        *h = LINES - 2;
    *y = (LINES - *h) / 2;
    *x = (COLS - *w) / 2;
    for (int r = 0; r < *h; r++)
        fill(*y + r, *x, *w, ZT_UI_ROLE_POPUP);
    draw_frame(*y, *x, *h, *w, ZT_UI_ROLE_POPUP, title);
}

/* The first key binding shown when vis lines fit (the help scrolls). */
static int help_top(zt_ui_app *a, int vis)
{
    int max = zt_ui_binding_count - vis;
    if (a->popup_scroll > max)
        a->popup_scroll = max;
    if (a->popup_scroll < 0)
        a->popup_scroll = 0;
    return a->popup_scroll;
}

static int list_top(zt_ui_app *a, int n, int visible)
{
    if (a->popup_sel < 0)
        a->popup_sel = 0;
    if (a->popup_sel >= n)
        a->popup_sel = n ? n - 1 : 0;
    if (a->popup_sel < a->popup_scroll)
        a->popup_scroll = a->popup_sel;
    if (a->popup_sel >= a->popup_scroll + visible)
        a->popup_scroll = a->popup_sel - visible + 1;
    return a->popup_scroll;
}

/* One result's thumbnail as half-blocks at the top of a cols x rows box,
 * with two caption lines under it. */
static void draw_result_image(const zt_ui_app *a, const zt_ui_result *r, int y, int x,
                              int rows, int cols, const char *label)
{
    int pw = 0, ph = 0;
    rows -= 2; /* two caption lines */
    if (r->thumb && a->gfx != ZT_UI_GFX_NONE && rows >= 1 && cols >= 2) {
        zt_ui_fit(r->tw, r->th, cols, rows * 2, &pw, &ph);
        ph &= ~1;
        if (ph < 2)
            ph = 2;
        uint8_t *px = zt_ui_scale(r->thumb, r->tw, r->th, pw, ph);
        if (px)
            zt_ui_blocks_curses(px, pw, ph / 2, y, x + (cols - pw) / 2,
                                has_colors() ? cells(a) : ZT_UI_CELLS_ASCII);
        free(px);
    }
    putf(y + ph / 2, x, cols, ZT_UI_ROLE_KEY, "%s", label);
    char f[3][64];
    unsigned long long sd = (unsigned long long)r->params.seed;
    snprintf(f[0], sizeof f[0], "seed %llu  %dx%d", sd, r->params.width, r->params.height);
    snprintf(f[1], sizeof f[1], "seed %llu", sd);
    snprintf(f[2], sizeof f[2], "%llu", sd);
    put_fit(a, y + ph / 2 + 1, x, cols, ZT_UI_ROLE_POPUP, (const char *[]){f[0], f[1], f[2]}, 3);
}

/* The gallery's right pane: the selected result, or the marked one and the
 * selected one side by side. */
static void draw_gallery_view(zt_ui_app *a, int y, int x, int h, int w)
{
    attrset(zt_ui_attr(ZT_UI_ROLE_POPUP));
    mvvline(y, x, ACS_VLINE, h);
    x += 2;
    w -= 3;
    int sel = a->nresults - 1 - a->popup_sel;
    if (sel < 0 || sel >= a->nresults)
        return;
    int mark = a->gallery_mark - 1;
    if (mark >= a->nresults)
        mark = -1;
    int rows = h - 1;
    if (mark >= 0 && mark != sel) {
        int cw = (w - 2) / 2;
        draw_result_image(a, &a->results[mark], y, x, rows, cw, "marked:");
        draw_result_image(a, &a->results[sel], y, x + cw + 2, rows, cw, "selected:");
    } else {
        draw_result_image(a, &a->results[sel], y, x, rows, w,
                          mark == sel ? "marked:" : "selected:");
    }
}

static void draw_popup(zt_ui_app *a)
{
    int y, x, w, h;
    switch (a->popup) {
    case ZT_UI_POPUP_HELP: {
        /* two columns as wide as their longest entries, two cells apart
         * (the box narrows to the screen, cutting the descriptions) */
        int kw = 0, dw = 0;
        for (int i = 0; i < zt_ui_binding_count; i++) {
            int k = zt_ui_str_width(zt_ui_bindings[i].keys, strlen(zt_ui_bindings[i].keys));
            int d = zt_ui_str_width(zt_ui_bindings[i].what, strlen(zt_ui_bindings[i].what));
            kw = k > kw ? k : kw;
            dw = d > dw ? d : dw;
        }
        h = zt_ui_binding_count + 4;
        w = kw + dw + 6;
        int fits = h <= LINES - 2;
        popup_box(&h, &w, fits ? "Keys (any key closes)" : "Keys (Up/Down scroll, other keys close)",
                  &y, &x);
        int vis = h - 4, top = help_top(a, vis);
        for (int i = 0; i < vis && top + i < zt_ui_binding_count; i++) {
            put(y + 2 + i, x + 2, kw < w - 4 ? kw : w - 4, ZT_UI_ROLE_KEY,
                zt_ui_bindings[top + i].keys);
            put(y + 2 + i, x + kw + 4, w - kw - 6, ZT_UI_ROLE_POPUP, zt_ui_bindings[top + i].what);
        }
        break;
    }
    case ZT_UI_POPUP_PRESETS: {
        int n = zt_ui_size_preset_count + 1;
        h = LINES - 4 < n + 3 ? LINES - 4 : n + 3;
        w = 40;
        popup_box(&h, &w, "Size (Enter picks, Esc closes)", &y, &x);
        int vis = h - 3, top = list_top(a, n, vis);
        for (int i = 0; i < vis && top + i < n; i++) {
            int k = top + i, role = k == a->popup_sel ? ZT_UI_ROLE_SELECTION : ZT_UI_ROLE_POPUP;
            fill(y + 2 + i, x + 1, w - 2, role);
            if (k < zt_ui_size_preset_count) {
                const zt_ui_size_preset *s = &zt_ui_size_presets[k];
                size_t need = a->loaded == 1 ? zt_engine_estimate(a->eng, s->w, s->h,
                                                                  a->set.params.guidance)
                                             : 0;
                int fits = !need || !a->mem.job_avail || need <= a->mem.job_avail;
                putf(y + 2 + i, x + 2, w - 4, role, "%4d x %-4d  %s%s", s->w, s->h,
                     s->w == s->h ? "1:1" : s->w > s->h ? "landscape" : "portrait",
                     fits ? "" : "  (too big)");
            } else {
                put(y + 2 + i, x + 2, w - 4, role, "Custom size...");
            }
        }
        break;
    }
    case ZT_UI_POPUP_THEMES: {
        int n = a->ntheme_names;
        h = n + 3 > LINES - 4 ? LINES - 4 : n + 3;
        w = 36;
        popup_box(&h, &w, "Theme (Enter picks)", &y, &x);
        int vis = h - 3, top = list_top(a, n, vis);
        for (int i = 0; i < vis && top + i < n; i++) {
            int k = top + i, role = k == a->popup_sel ? ZT_UI_ROLE_SELECTION : ZT_UI_ROLE_POPUP;
            fill(y + 2 + i, x + 1, w - 2, role);
            put(y + 2 + i, x + 2, w - 4, role, a->theme_names[k]);
        }
        break;
    }
    case ZT_UI_POPUP_GALLERY: {
        h = LINES - 4;
        w = COLS - 6;
        popup_box(&h, &w, "Gallery (Enter loads settings, m marks to compare, Esc closes)", &y,
                  &x);
        if (!a->nresults) {
            put(y + 2, x + 2, w - 4, ZT_UI_ROLE_DIM, "No results yet in this run.");
            break;
        }
        /* Wide enough: the list takes the left half, the selected result's
         * image (and the marked one beside it) the right. */
        int full_w = w;
        if (w >= 80) {
            w = w / 2;
            draw_gallery_view(a, y + 1, x + w, h - 2, full_w - w - 1);
        }
        /* An entry is a thumbnail of up to 8 rows (fewer when the box is
         * low; none under 2) beside 4 lines of text, then a gap; lines
         * below the box's last row are not drawn. */
        int avail = h - 3, last = y + h - 2;
        int trows = avail - 1 < 8 ? avail - 1 : 8, tcols = 16;
        if (trows < 2)
            trows = 0;
        int eh = (trows > 4 ? trows : 4) + 1;
        int vis = avail / eh;
        if (vis < 1)
            vis = 1;
        int top = list_top(a, a->nresults, vis);
        for (int i = 0; i < vis && top + i < a->nresults; i++) {
            int k = a->nresults - 1 - (top + i); /* newest first */
            zt_ui_result *r = &a->results[k];
            int yy = y + 2 + i * eh;
            int role = top + i == a->popup_sel ? ZT_UI_ROLE_SELECTION : ZT_UI_ROLE_POPUP;
            if (trows && r->thumb && a->gfx != ZT_UI_GFX_NONE && has_colors()) {
                uint8_t *px = zt_ui_scale(r->thumb, r->tw, r->th, tcols, trows * 2);
                if (px)
                    zt_ui_blocks_curses(px, tcols, trows, yy, x + 2, cells(a));
                free(px);
            }
            struct tm tmv;
            localtime_r(&r->when, &tmv);
            char when[16];
            strftime(when, sizeof when, "%H:%M:%S", &tmv);
            int tx = trows ? x + 4 + tcols : x + 2, tw = trows ? w - tcols - 6 : w - 4;
            fill(yy, tx, tw, role);
            /* shorter forms rather than a seed cut short (a wrong number):
             * the time goes first, then the word */
            const char *mk = k == a->gallery_mark - 1 ? "* " : "";
            unsigned long long sd = (unsigned long long)r->params.seed;
            char f0[64], f1[64], f2[64];
            snprintf(f0, sizeof f0, "%s%s  seed %llu", mk, when, sd);
            snprintf(f1, sizeof f1, "%sseed %llu", mk, sd);
            snprintf(f2, sizeof f2, "%s%llu", mk, sd);
            const char *const forms[] = {f0, f1, f2};
            put_fit(a, yy, tx, tw, role, forms, 3);
            if (yy + 1 <= last)
                putf(yy + 1, tx, tw, ZT_UI_ROLE_POPUP, "%dx%d  %d steps  %.1f s",
                     r->params.width, r->params.height, r->params.steps, r->total_ms / 1000.0);
            if (yy + 2 <= last)
                put(yy + 2, tx, tw, ZT_UI_ROLE_POPUP, r->params.prompt);
            if (yy + 3 <= last)
                put(yy + 3, tx, tw, r->rgb ? ZT_UI_ROLE_ERROR : ZT_UI_ROLE_DIM,
                    r->path   ? r->path
                    : r->kept ? r->kept /* its copy, kept when a quit failed */
                    : r->rgb  ? "(not saved: Ctrl-S)"
                              : "(not saved)");
        }
        break;
    }
    case ZT_UI_POPUP_QUIT: {
        int unsaved = zt_ui_unsaved_count(a);
        /* a copy is promised only where one can be written (looked at
         * each time: the popup stays open while jobs finish) */
        zt_err keep = {0};
        int keep_ok = !unsaved || zt_cli_keep_dir_check(&keep) == ZT_OK;
        if (a->keep_failed && keep_ok) { /* the copies were tried and failed */
            keep_ok = 0;
            snprintf(keep.msg, sizeof keep.msg, "%s", a->keep_why);
        }
        h = unsaved ? (keep_ok ? 7 : 8) : 6;
        w = 60;
        int why_w = keep_ok ? 0 : zt_ui_str_width(keep.msg, strlen(keep.msg)) + 4;
        w = why_w > w ? why_w : w; /* the reason whole where the screen allows */
        popup_box(&h, &w, "Quit?", &y, &x);
        if (a->njobs)
            putf(y + 2, x + 2, w - 4, ZT_UI_ROLE_POPUP, "%d job%s queued or running.",
                 a->njobs, a->njobs == 1 ? "" : "s");
        if (unsaved) {
            int row = y + 2 + (a->njobs > 0);
            putf(row, x + 2, w - 4, ZT_UI_ROLE_POPUP, "%d image%s not saved: Ctrl-S writes %s;",
                 unsaved, unsaved == 1 ? "" : "s", unsaved == 1 ? "it" : "them");
            if (keep_ok && row + 1 < y + h - 2)
                putf(row + 1, x + 2, w - 4, ZT_UI_ROLE_POPUP, "quitting keeps %s in %s.",
                     unsaved == 1 ? "a copy" : "copies", zt_cli_keep_dir());
            if (!keep_ok && row + 1 < y + h - 2)
                putf(row + 1, x + 2, w - 4, ZT_UI_ROLE_ERROR, "quitting loses %s, as no copy %s:",
                     unsaved == 1 ? "it" : "them",
                     a->keep_failed ? "could be kept" : "can be kept");
            if (!keep_ok && row + 2 < y + h - 2)
                put(row + 2, x + 2, w - 4, ZT_UI_ROLE_ERROR, keep.msg);
        }
        put(y + h - 2, x + 2, w - 4, ZT_UI_ROLE_POPUP, "Quit anyway? (y/n)");
        break;
    }
    case ZT_UI_POPUP_INPUT: {
        static const char *titles[] = {"Custom size WxH (multiples of 16)", "Open PNG settings",
                                       "Guidance (0 = off)", "Output directory"};
        h = 5;
        w = COLS - 10 > 70 ? 70 : COLS - 10;
        popup_box(&h, &w, titles[a->input_kind], &y, &x);
        draw_editor(&a->input, y + 2, x + 2, w - 4, 1, 1);
        return; /* keep the cursor in the field */
    }
    default:
        break;
    }
    cursor_on = 0;
}

void zt_ui_draw(zt_ui_app *a)
{
    attrset(zt_ui_attr(ZT_UI_ROLE_NORMAL));
    bkgdset((chtype)zt_ui_attr(ZT_UI_ROLE_NORMAL) | ' ');
    erase();
    cursor_on = 0;
    if (LINES < ZT_UI_MIN_LINES || COLS < ZT_UI_MIN_COLS) {
        /* in pieces that fit even a very narrow screen */
        char least[32];
        snprintf(least, sizeof least, "%dx%d at least", ZT_UI_MIN_COLS, ZT_UI_MIN_LINES);
        /* a quit question still takes its y or n here: say it is open
         * (a blind y left, any other key closed it unseen) */
        const char *part[] = {"zimt: the terminal ", "is too small: ", least,
                              " (quit? y or n)"};
        const int n = a->popup == ZT_UI_POPUP_QUIT ? 4 : 3;
        for (int i = 0, y = 0, x = 0; i < n; i++) {
            if (i && y + 1 < LINES) {
                y++;
                x = 0;
            }
            x += put(y, x, COLS - x, ZT_UI_ROLE_ERROR, part[i]);
        }
        return;
    }
    draw_title(a);
    draw_preview(a);
    draw_left(a);
    draw_status(a);
    if (a->popup)
        draw_popup(a);
    if (cursor_on)
        move(cursor_y, cursor_x);
    curs_set(cursor_on);
}

/* With ZIMT_DEBUG_LAYOUT=FILE, each send or erase of the raw image appends
 * one line to FILE: what happened, the cell rectangle, the pixel size sent,
 * the cell size assumed and whether the image was final. A screenshot test
 * needs exactly these numbers to know where to look. */
static void log_layout(const zt_ui_app *a, const char *what, int pw, int ph)
{
    const char *path = getenv("ZIMT_DEBUG_LAYOUT");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    int cw, ch;
    cell_px(a, &cw, &ch);
    fprintf(f, "%s row=%d col=%d rows=%d cols=%d px=%dx%d cell=%dx%d final=%d\n", what,
            a->img_row, a->img_col, a->img_rows, a->img_cols, pw, ph, cw, ch, a->img_final);
    fclose(f);
}

void zt_ui_image_erase(zt_ui_app *a)
{
    if (!a->img_shown)
        return;
    zt_ui_overlay_erase(a->tty_fd, a->img_row, a->img_col, a->img_rows, a->img_cols);
    a->img_shown = 0;
    log_layout(a, "erase", 0, 0);
}

void zt_ui_draw_overlay(zt_ui_app *a)
{
    int raw = a->gfx == ZT_UI_GFX_SIXEL || a->gfx == ZT_UI_GFX_BLOCKS_TRUE;
    if (!raw)
        return;
    int prow, pcol, prows, pcols;
    zt_ui_preview_area(a, &prow, &pcol, &prows, &pcols);
    /* no preview pane (a narrow screen): the image's last place is stale */
    if (a->popup || !a->img || a->img_rows == 0 || pcols <= 0 || prows <= 0 || LINES < 12 ||
        COLS < 40) {
        /* curses thinks these cells are blank and will not repaint them:
         * erase the pixels ourselves. */
        zt_ui_image_erase(a);
        return;
    }
    if (a->img_shown && !a->img_dirty)
        return;
    long now = (long)zt_now_ms();
    /* Live previews at most a few per second; the final image at once. */
    if (!a->img_final && a->img_shown && now - a->last_send_ms < 250)
        return;
    zt_ui_buf b = {0};
    int pw = a->img_cols, ph = a->img_rows * 2;
    if (a->gfx == ZT_UI_GFX_SIXEL) {
        int cw, ch;
        cell_px(a, &cw, &ch);
        zt_ui_fit(a->img_w, a->img_h, a->img_cols * cw, a->img_rows * ch, &pw, &ph);
        if (!a->img_final) {
            /* previews: small and cheap over SSH */
            int mw = pw > 256 ? 256 : pw, mh = ph > 256 ? 256 : ph;
            zt_ui_fit(a->img_w, a->img_h, mw, mh, &pw, &ph);
        }
        uint8_t *px = zt_ui_scale(a->img, a->img_w, a->img_h, pw, ph);
        if (px)
            zt_ui_sixel_encode(&b, px, pw, ph, a->img_final, a->term.in_tmux);
        free(px);
        if (a->img_shown)
            zt_ui_overlay_erase(a->tty_fd, a->img_row, a->img_col, a->img_rows, a->img_cols);
    } else {
        uint8_t *px = zt_ui_scale(a->img, a->img_w, a->img_h, a->img_cols, a->img_rows * 2);
        if (px)
            zt_ui_blocks_true(&b, px, a->img_cols, a->img_rows, a->img_row, a->img_col,
                              cells(a));
        free(px);
    }
    if (b.n)
        zt_ui_overlay_write(a->tty_fd, &b, a->img_row, a->img_col);
    zt_ui_buf_free(&b);
    log_layout(a, "send", pw, ph);
    a->img_shown = 1;
    a->img_dirty = 0;
    a->last_send_ms = now;
}
