/*
 * ui_app.h - the workbench's state, shared by the main loop (ui_app.c) and
 * the drawing code (ui_draw.c). Everything here lives on the UI thread;
 * the engine is reached only through engine.h.
 */
#ifndef ZT_UI_APP_H
#define ZT_UI_APP_H

#include <stdint.h>
#include <time.h>

#include "engine.h"
#include "ui_editor.h"
#include "ui_preview.h"
#include "ui_settings.h"
#include "ui_term.h"
#include "ui_theme.h"

typedef enum zt_ui_focus {
    ZT_UI_FOCUS_PROMPT,
    ZT_UI_FOCUS_NEGATIVE,
    ZT_UI_FOCUS_SEED,
    ZT_UI_FOCUS_SIZE,
    ZT_UI_FOCUS_STEPS,
    ZT_UI_FOCUS_GUIDANCE,
    ZT_UI_FOCUS_COUNT
} zt_ui_focus;

typedef enum zt_ui_popup {
    ZT_UI_POPUP_NONE,
    ZT_UI_POPUP_HELP,
    ZT_UI_POPUP_PRESETS,
    ZT_UI_POPUP_GALLERY,
    ZT_UI_POPUP_THEMES,
    ZT_UI_POPUP_QUIT,
    ZT_UI_POPUP_INPUT, /* one line of text: see input_kind */
} zt_ui_popup;

typedef enum zt_ui_input_kind {
    ZT_UI_INPUT_SIZE,
    ZT_UI_INPUT_PNG,
    ZT_UI_INPUT_GUIDANCE,
    ZT_UI_INPUT_OUTDIR,
} zt_ui_input_kind;

typedef struct zt_ui_job {
    uint64_t id;
    char *prompt; /* sanitised one-line summary */
    uint64_t seed;
    int w, h, steps;
    int running;
} zt_ui_job;

typedef struct zt_ui_result {
    zt_gen_params params;
    char *path;      /* NULL when nothing was written */
    uint8_t *rgb;    /* [params.height, params.width, 3] while not written (Ctrl-S) */
    char *kept;      /* where a copy was kept on quitting (rgb then NULL), or NULL */
    uint8_t *thumb;  /* [th, tw, 3] */
    int tw, th;
    double total_ms;
    time_t when;
} zt_ui_result;

typedef struct zt_ui_size_preset {
    int w, h;
} zt_ui_size_preset;

extern const zt_ui_size_preset zt_ui_size_presets[];
extern const int zt_ui_size_preset_count;

typedef struct zt_ui_binding {
    const char *keys, *what;
} zt_ui_binding;
extern const zt_ui_binding zt_ui_bindings[];
extern const int zt_ui_binding_count;

typedef struct zt_ui_app {
    zt_engine *eng;
    char model_dir[4096];
    char notice[256];       /* shown in the title bar (e.g. the bundled model) */
    char backend[32];
    int loaded;             /* 0 loading, 1 ready, -1 failed */
    char load_msg[600];

    zt_ui_settings set;
    zt_ui_history hist;
    int hist_pos;           /* == hist.n when not browsing */
    char *hist_draft;       /* heap: the prompt as typed when browsing began */
    zt_ui_editor prompt, negative;
    zt_ui_theme theme;
    int no_color;
    int utf8;               /* the locale writes UTF-8 (else no half blocks) */
    char **theme_names;
    int ntheme_names;

    int focus;
    int steps_typing;       /* digits are being typed into Steps: the next one appends */
    int seed_typing;        /* the same for Seed */
    int popup, popup_sel, popup_scroll;
    int input_kind;
    zt_ui_editor input;

    zt_ui_job *jobs;
    int njobs;
    int step, steps;        /* of the running job */
    double step_ms, eta_ms;
    uint64_t last_seed;
    zt_timings last_timings;
    int have_last_timings;

    zt_ui_result *results;
    int nresults;
    int gallery_mark;       /* result index + 1 marked for compare; 0 none */

    /* the image in the preview panel */
    uint8_t *img;
    int img_w, img_h, img_final;
    int img_stopped;        /* a live preview whose job was cancelled or failed */
    int img_dirty;          /* must be sent again (raw modes) or rescaled */
    int img_shown;          /* raw overlay currently on screen */
    int img_row, img_col, img_rows, img_cols; /* its cells */
    uint8_t *blocks;        /* cached scaled pixels for block modes */
    int blocks_cols, blocks_rows;
    long last_send_ms;

    zt_ui_term term;
    int gfx;                /* zt_ui_gfx */
    char gfx_override[16];

    zt_mem_snapshot mem;
    long phys_mem;
    size_t mem_limit; /* $ZIMT_MEM_LIMIT, 0 when unset: what jobs are planned against */

    char status[512];
    char status_next[512]; /* an error shown after the next key, or "" */
    int status_role;
    int status_keep;        /* an error no key has been pressed since */
    int quit;
    zt_precision precision; /* --precision as given */
    /* y in the quit popup wrote the copies it promised, and this many could
     * not be written (why says the first reason): the popup stays open and
     * a second y leaves without them */
    int keep_failed;
    char keep_why[512];
    int redraw_all;         /* Ctrl-L / resize */
    int tty_fd;

    /* a bracketed paste (ESC[200~ ... ESC[201~) on its way in: its bytes
     * are collected across wake-ups, so a slow link cannot turn the rest
     * of it into keys (a pasted newline would start a job), raw in the
     * terminal's encoding until the paste ends */
    int pasting;
    zt_ui_buf paste;
    long paste_ms;          /* when its last byte came */
} zt_ui_app;

/* The least screen the workbench draws on; below it only a notice shows,
 * and keys other than quitting and redrawing are ignored. */
#define ZT_UI_MIN_COLS 40
#define ZT_UI_MIN_LINES 12

/* Draw every panel and the popup into curses' buffers (no doupdate). */
void zt_ui_draw(zt_ui_app *a);
/* After doupdate: send or erase the raw image overlay as needed. */
void zt_ui_draw_overlay(zt_ui_app *a);
/* Erase the raw image (sixel or truecolor) if one is on screen: curses
 * does not know about its pixels. */
void zt_ui_image_erase(zt_ui_app *a);
/* The preview rectangle for the current screen size. */
void zt_ui_preview_area(const zt_ui_app *a, int *row, int *col, int *rows, int *cols);
/* Images of this run that could not be written (kept for Ctrl-S). */
int zt_ui_unsaved_count(const zt_ui_app *a);

/* Set a status-bar message with a role. */
void zt_ui_say(zt_ui_app *a, int role, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;


#endif
