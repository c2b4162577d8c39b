/*
 * ui_preview.h - images in the terminal: sixel (libsixel), Unicode
 * half-blocks ("▀": foreground = upper pixel, background = lower pixel) in
 * truecolor or 256 colours, and an ASCII ramp when there is no colour.
 *
 * Sixel and truecolor blocks are written straight to the tty after
 * curses' doupdate(), wrapped in save/restore cursor (ESC 7 / ESC 8), so
 * curses never learns of them: the caller tracks the rectangle and sends
 * the image again after anything drew over it. 256-colour and ASCII blocks
 * go through curses like any text. UI thread only (libsixel objects are
 * not thread-safe and are made per call).
 */
#ifndef ZT_UI_PREVIEW_H
#define ZT_UI_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

typedef enum zt_ui_gfx {
    ZT_UI_GFX_NONE,
    ZT_UI_GFX_SIXEL,
    ZT_UI_GFX_BLOCKS_TRUE, /* raw truecolor half-blocks */
    ZT_UI_GFX_BLOCKS_256,  /* curses colour pairs */
    ZT_UI_GFX_ASCII,       /* no colour at all */
} zt_ui_gfx;

/* A growable byte buffer for escape output. */
typedef struct zt_ui_buf {
    char *p;
    size_t n, cap;
} zt_ui_buf;
void zt_ui_buf_put(zt_ui_buf *b, const char *s, size_t n);
void zt_ui_buf_printf(zt_ui_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void zt_ui_buf_free(zt_ui_buf *b);

/* Largest size of an iw x ih image inside max_w x max_h keeping its aspect
 * (never upscaled past 4x, at least 1x1). */
void zt_ui_fit(int iw, int ih, int max_w, int max_h, int *w, int *h);
/* Resample rgb [ih, iw, 3] to [h, w, 3] (box filter down, nearest up). Heap. */
uint8_t *zt_ui_scale(const uint8_t *rgb, int iw, int ih, int w, int h);

/* Append the sixel DCS of rgb [h, w, 3]; final picks Floyd-Steinberg,
 * previews a stable positional dither. tmux wraps it for passthrough.
 * 0 on success. */
int zt_ui_sixel_encode(zt_ui_buf *out, const uint8_t *rgb, int w, int h, int final, int tmux);
/* How a cell shows its two pixels: the upper half block U+2580 in the top
 * pixel's colour over the bottom one's; one character of an ASCII ramp by
 * brightness; or, where the locale cannot write U+2580, a blank in their
 * mean colour. */
typedef enum zt_ui_cells { ZT_UI_CELLS_HALF, ZT_UI_CELLS_ASCII, ZT_UI_CELLS_WHOLE } zt_ui_cells;

/* Append truecolor cells of rgb [2*rows, cols, 3] (HALF or WHOLE) with the
 * top-left cell at (row, col) (0-based screen cells). */
void zt_ui_blocks_true(zt_ui_buf *out, const uint8_t *rgb, int cols, int rows, int row, int col,
                       zt_ui_cells how);
/* Write buf to fd wrapped in ESC 7, ESC[row;colH ... ESC 8 (0-based). */
void zt_ui_overlay_write(int fd, const zt_ui_buf *b, int row, int col);
/* Erase a rectangle of cells through the tty (ECH per row), so image
 * pixels under cells curses believes blank are gone. */
void zt_ui_overlay_erase(int fd, int row, int col, int rows, int cols);

/* Curses: draw rgb [2*rows, cols, 3] in 256 colours (HALF or WHOLE) or as
 * an ASCII ramp into the standard screen at (row, col). */
void zt_ui_blocks_curses(const uint8_t *rgb, int cols, int rows, int row, int col,
                         zt_ui_cells how);

#endif
