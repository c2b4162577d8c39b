/* ui_preview.c - sixel and half-block images (see ui_preview.h). */
#define _XOPEN_SOURCE_EXTENDED 1
#include "ui_preview.h"

#include <curses.h>
#include <sixel.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ui_theme.h"

void zt_ui_buf_put(zt_ui_buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void zt_ui_buf_printf(zt_ui_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        zt_ui_buf_put(b, tmp, (size_t)(n < (int)sizeof tmp ? n : (int)sizeof tmp - 1));
}

void zt_ui_buf_free(zt_ui_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void zt_ui_fit(int iw, int ih, int max_w, int max_h, int *w, int *h)
{
    if (iw <= 0 || ih <= 0 || max_w <= 0 || max_h <= 0) {
        *w = *h = 1;
        return;
    }
    double s = (double)max_w / iw;
    if ((double)max_h / ih < s)
        s = (double)max_h / ih;
    if (s > 4)
        s = 4;
    *w = (int)(iw * s);
    *h = (int)(ih * s);
    if (*w < 1)
        *w = 1;
    if (*h < 1)
        *h = 1;
}

uint8_t *zt_ui_scale(const uint8_t *rgb, int iw, int ih, int w, int h)
{
    uint8_t *out = malloc((size_t)w * (size_t)h * 3);
    if (!out)
        return NULL;
    for (int y = 0; y < h; y++) {
        int y0 = (int)((long)y * ih / h), y1 = (int)((long)(y + 1) * ih / h);
        if (y1 <= y0)
            y1 = y0 + 1;
        for (int x = 0; x < w; x++) {
            int x0 = (int)((long)x * iw / w), x1 = (int)((long)(x + 1) * iw / w);
            if (x1 <= x0)
                x1 = x0 + 1;
            unsigned sum[3] = {0, 0, 0}, cnt = 0;
            /* Box filter; large boxes are sampled on a 4x4 grid to bound cost. */
            int sy = (y1 - y0 + 3) / 4, sx = (x1 - x0 + 3) / 4;
            for (int yy = y0; yy < y1; yy += sy)
                for (int xx = x0; xx < x1; xx += sx) {
                    const uint8_t *p = rgb + ((size_t)yy * (size_t)iw + (size_t)xx) * 3;
                    sum[0] += p[0];
                    sum[1] += p[1];
                    sum[2] += p[2];
                    cnt++;
                }
            uint8_t *o = out + ((size_t)y * (size_t)w + (size_t)x) * 3;
            for (int c = 0; c < 3; c++)
                o[c] = (uint8_t)(sum[c] / cnt);
        }
    }
    return out;
}

static int sixel_sink(char *data, int size, void *priv)
{
    zt_ui_buf_put(priv, data, (size_t)size);
    return 0;
}

int zt_ui_sixel_encode(zt_ui_buf *out, const uint8_t *rgb, int w, int h, int final, int tmux)
{
    zt_ui_buf raw = {0};
    sixel_output_t *o = NULL;
    sixel_dither_t *d = NULL;
    int rc = -1;
    uint8_t *px = malloc((size_t)w * (size_t)h * 3);
    if (!px)
        return -1;
    memcpy(px, rgb, (size_t)w * (size_t)h * 3);
    if (SIXEL_FAILED(sixel_output_new(&o, sixel_sink, &raw, NULL)))
        goto done;
    if (SIXEL_FAILED(sixel_dither_new(&d, 256, NULL)))
        goto done;
    if (SIXEL_FAILED(sixel_dither_initialize(d, px, w, h, SIXEL_PIXELFORMAT_RGB888,
                                             SIXEL_LARGE_AUTO, SIXEL_REP_AUTO,
                                             final ? SIXEL_QUALITY_HIGH : SIXEL_QUALITY_LOW)))
        goto done;
    sixel_dither_set_diffusion_type(d, final ? SIXEL_DIFFUSE_FS : SIXEL_DIFFUSE_A_DITHER);
    if (SIXEL_FAILED(sixel_encode(px, w, h, 3, d, o)))
        goto done;
    if (tmux) {
        /* Passthrough: ESC Ptmux; payload with each ESC doubled, ESC \. */
        zt_ui_buf_put(out, "\033Ptmux;", 7);
        for (size_t i = 0; i < raw.n; i++) {
            if (raw.p[i] == 27)
                zt_ui_buf_put(out, "\033", 1);
            zt_ui_buf_put(out, raw.p + i, 1);
        }
        zt_ui_buf_put(out, "\033\\", 2);
    } else {
        zt_ui_buf_put(out, raw.p, raw.n);
    }
    rc = 0;
done:
    if (d)
        sixel_dither_unref(d);
    if (o)
        sixel_output_unref(o);
    zt_ui_buf_free(&raw);
    free(px);
    return rc;
}

void zt_ui_blocks_true(zt_ui_buf *out, const uint8_t *rgb, int cols, int rows, int row, int col,
                       zt_ui_cells how)
{
    for (int r = 0; r < rows; r++) {
        zt_ui_buf_printf(out, "\033[%d;%dH", row + r + 1, col + 1);
        for (int c = 0; c < cols; c++) {
            const uint8_t *t = rgb + ((size_t)(2 * r) * (size_t)cols + (size_t)c) * 3;
            const uint8_t *b = t + (size_t)cols * 3;
            if (how == ZT_UI_CELLS_HALF)
                zt_ui_buf_printf(out, "\033[38;2;%d;%d;%d;48;2;%d;%d;%dm\xe2\x96\x80", t[0],
                                 t[1], t[2], b[0], b[1], b[2]);
            else
                zt_ui_buf_printf(out, "\033[48;2;%d;%d;%dm ", (t[0] + b[0] + 1) / 2,
                                 (t[1] + b[1] + 1) / 2, (t[2] + b[2] + 1) / 2);
        }
        zt_ui_buf_put(out, "\033[0m", 4);
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

void zt_ui_overlay_write(int fd, const zt_ui_buf *b, int row, int col)
{
    char pos[32];
    int n = snprintf(pos, sizeof pos, "\0337\033[%d;%dH", row + 1, col + 1);
    write_all(fd, pos, (size_t)n);
    write_all(fd, b->p, b->n);
    write_all(fd, "\0338", 2);
}

void zt_ui_overlay_erase(int fd, int row, int col, int rows, int cols)
{
    zt_ui_buf b = {0};
    zt_ui_buf_put(&b, "\0337\033[0m", 6);
    for (int r = 0; r < rows; r++)
        zt_ui_buf_printf(&b, "\033[%d;%dH\033[%dX", row + r + 1, col + 1, cols);
    zt_ui_buf_put(&b, "\0338", 2);
    write_all(fd, b.p, b.n);
    zt_ui_buf_free(&b);
}

void zt_ui_blocks_curses(const uint8_t *rgb, int cols, int rows, int row, int col,
                         zt_ui_cells how)
{
    static const char ramp[] = " .:-=+*#%@";
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            const uint8_t *t = rgb + ((size_t)(2 * r) * (size_t)cols + (size_t)c) * 3;
            const uint8_t *b = t + (size_t)cols * 3;
            if (how == ZT_UI_CELLS_ASCII) {
                int lum = (t[0] * 3 + t[1] * 6 + t[2] + b[0] * 3 + b[1] * 6 + b[2]) / 20;
                mvaddch(row + r, col + c, (chtype)ramp[lum * 10 / 256]);
                continue;
            }
            int fg, bg;
            if (how == ZT_UI_CELLS_WHOLE) { /* a blank in the pixels' mean colour */
                fg = bg = zt_ui_color_nearest((unsigned)((t[0] + b[0] + 1) / 2 << 16 |
                                                         (t[1] + b[1] + 1) / 2 << 8 |
                                                         (t[2] + b[2] + 1) / 2),
                                              COLORS);
            } else {
                fg = zt_ui_color_nearest((unsigned)(t[0] << 16 | t[1] << 8 | t[2]), COLORS);
                bg = zt_ui_color_nearest((unsigned)(b[0] << 16 | b[1] << 8 | b[2]), COLORS);
            }
            int pair = alloc_pair(fg, bg);
            cchar_t cc;
            wchar_t wc[2] = {how == ZT_UI_CELLS_WHOLE ? L' ' : 0x2580, 0};
            setcchar(&cc, wc, A_NORMAL, (short)(pair > 0 ? pair : 0), NULL);
            mvadd_wch(row + r, col + c, &cc);
        }
    }
}
