/*
 * ui_app.c - zimt's terminal workbench: the main loop, keys and engine
 * events.
 *
 * One thread does everything visible. It sleeps in poll() on the tty, the
 * engine's event fd and a 1 Hz tick (memory readings), then drains all
 * keys (nodelay) and all events, and redraws at most once per wake-up, so
 * typing never waits on the GPU. Signals (INT, TERM, HUP) only set a flag;
 * the loop then restores the terminal and lets the engine finish cleanly.
 * Results already written stay on disk.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include "ui_app.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include "cli.h"
#include "gen_opts.h"
#include "image.h"
#include "json.h"
#include "ui_text.h"

const zt_ui_size_preset zt_ui_size_presets[] = {
    {1024, 1024}, {1024, 768},  {768, 1024},  {1152, 896},  {896, 1152},  {1152, 864},
    {864, 1152},  {1248, 832},  {832, 1248},  {1280, 720},  {720, 1280},  {1344, 576},
    {576, 1344},  {1280, 1280}, {1440, 1120}, {1120, 1440}, {1472, 1104}, {1104, 1472},
    {1536, 1024}, {1024, 1536}, {1536, 864},  {864, 1536},  {1680, 720},  {720, 1680},
    {1536, 1536}, {1728, 1344}, {1344, 1728}, {1728, 1296}, {1296, 1728}, {1872, 1248},
    {1248, 1872}, {2048, 1152}, {1152, 2048}, {2016, 864},  {864, 2016},
};
const int zt_ui_size_preset_count = sizeof zt_ui_size_presets / sizeof zt_ui_size_presets[0];

const zt_ui_binding zt_ui_bindings[] = {
    {"Enter, Ctrl-G", "generate with the current settings"},
    {"Esc", "cancel the running job (closes popups first)"},
    {"Tab, Shift-Tab", "next / previous field"},
    {"Alt-Enter, Ctrl-J", "new line in the prompt"},
    {"Left Right Home End", "move by character / line (Ctrl-A, Ctrl-E)"},
    {"Ctrl-Left/Right", "move by word (also Alt-b, Alt-f)"},
    {"Up Down", "move by row; on the edges: prompt history"},
    {"Ctrl-P, Ctrl-N", "previous / next prompt from history"},
    {"Ctrl-W, Ctrl-K, Ctrl-U", "delete word / to end / to start of line"},
    {"Ctrl-Z, Ctrl-_", "undo"},
    {"Seed: + - r l digits", "seed +1/-1, new random, lock, type a value"},
    {"Size: Left Right", "previous / next preset; Enter or F4 lists all"},
    {"Steps/Guidance: + -", "change the value; digits type steps, Enter guidance"},
    {"F2, Ctrl-T", "choose a theme (remembered)"},
    {"F3, Ctrl-B", "gallery of this run's results; m marks one to compare"},
    {"F4", "size presets and custom size"},
    {"Ctrl-O", "load settings from a PNG (zimt or A1111)"},
    {"Ctrl-S", "write the images that could not be saved (again)"},
    {"F5", "set the output directory"},
    {"Ctrl-L", "redraw the screen"},
    {"F1, ?", "this help (? outside the prompts)"},
    {"q, Ctrl-Q, Ctrl-C", "quit, asking while jobs run (q outside prompts)"},
};
const int zt_ui_binding_count = sizeof zt_ui_bindings / sizeof zt_ui_bindings[0];

void zt_ui_say(zt_ui_app *a, int role, const char *fmt, ...)
{
    /* An error stays until a key is pressed: a notice that comes later on
     * its own (a model loaded, a job done) must not wipe it unread. */
    if (role != ZT_UI_ROLE_ERROR && a->status_keep)
        return;
    a->status_keep = role == ZT_UI_ROLE_ERROR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->status, sizeof a->status, fmt, ap);
    va_end(ap);
    a->status_role = role;
}

/* Writes the settings (when they changed). 0, or -1 with why. */
static int store_settings(zt_ui_app *a, char *why, int why_len)
{
    zt_gen_params_set_prompt(&a->set.params, a->prompt.buf, NULL);
    zt_gen_params_set_negative(&a->set.params, a->negative.buf, NULL);
    return zt_ui_settings_save(&a->set, why, why_len);
}

static void save_settings(zt_ui_app *a)
{
    char why[512] = "";
    int rc = store_settings(a, why, sizeof why);
    if (rc < 0)
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "settings not saved: %s", why);
    else if (rc > 0) /* saved, over a file damaged since the start */
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "settings saved; %s", why);
}

/* Loads and applies the theme called name, which is then remembered. When
 * it cannot be loaded the status line says why and the theme in use stays;
 * at start, when none is in use yet, fallback (the remembered theme; may be
 * NULL), dark or else the built-in mono is shown, and the remembered name
 * is kept: a theme missing for one run (a theme file being edited, a binary
 * run away from its themes) is not replaced for good. */
static void set_theme(zt_ui_app *a, const char *name, const char *fallback)
{
    /* both may point into a->set.theme, which is written below */
    char want[sizeof a->set.theme], alt[sizeof a->set.theme], why[256] = "";
    snprintf(want, sizeof want, "%s", name);
    snprintf(alt, sizeof alt, "%s", fallback ? fallback : "dark");
    zt_ui_theme t;
    int chosen = 1;
    if (zt_ui_theme_load(&t, want, why, sizeof why)) {
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "theme %s: %s", want, why);
        if (a->theme.name[0])
            return;
        char why2[256];
        if (zt_ui_theme_load(&t, alt, why2, sizeof why2) &&
            zt_ui_theme_load(&t, "dark", why2, sizeof why2))
            zt_ui_theme_mono(&t);
        chosen = 0;
    }
    a->theme = t;
    if (chosen)
        snprintf(a->set.theme, sizeof a->set.theme, "%s", want);
    reset_color_pairs();
    zt_ui_theme_apply(&a->theme, a->no_color);
    a->img_dirty = 1;
}

/* ---- jobs and results ---------------------------------------------------- */

static int output_path(zt_ui_app *a, uint64_t seed, char *out, size_t n)
{
    const char *dir = a->set.output_dir[0] ? a->set.output_dir : ".";
    if (zt_ui_make_dirs(dir))
        return -1;
    time_t t = time(NULL);
    struct tm tmv;
    localtime_r(&t, &tmv);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
    for (int k = 0; k < 1000; k++) {
        if (k)
            snprintf(out, n, "%s/zimt-%s-%llu-%d.png", dir, stamp, (unsigned long long)seed, k);
        else
            snprintf(out, n, "%s/zimt-%s-%llu.png", dir, stamp, (unsigned long long)seed);
        int taken = access(out, F_OK) == 0;
        if (!taken)
            return 0;
    }
    errno = EEXIST;
    return -1;
}

static uint64_t random_seed(void)
{
    uint64_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&s, sizeof s, 1, f) != 1)
            s = 0;
        fclose(f);
    }
    if (!s)
        s = (uint64_t)time(NULL) * 6364136223846793005ULL + (uint64_t)getpid();
    return s >> 1; /* keep seeds readable and exact in JSON numbers */
}

static char *one_line(const char *s)
{
    char *c = zt_ui_sanitize(s, strlen(s), 1);
    if (c)
        for (char *p = c; *p; p++)
            if (*p == '\n')
                *p = ' ';
    return c;
}

static void generate(zt_ui_app *a)
{
    if (a->loaded < 0) {
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "the model did not load: %s", a->load_msg);
        return;
    }
    zt_gen_params *p = &a->set.params;
    zt_gen_params_set_prompt(p, a->prompt.buf, NULL);
    zt_gen_params_set_negative(p, p->guidance > 0 ? a->negative.buf : "", NULL);
    if (!a->set.seed_locked)
        p->seed = random_seed();
    char path[4200];
    static uint64_t serial;
    if (output_path(a, p->seed, path, sizeof path)) {
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "cannot create the output directory %s: %s (F5 sets it)",
                  a->set.output_dir, strerror(errno));
        return;
    }
    /* Two jobs queued within one second with a locked seed would share a
     * name: the engine refuses existing files, so make queued names unique. */
    if (a->njobs) {
        size_t l = strlen(path);
        if (l > 4)
            snprintf(path + l - 4, sizeof path - (l - 4), "-q%llu.png",
                     (unsigned long long)++serial);
    }
    uint64_t id = 0;
    zt_err err = {0};
    if (zt_engine_submit(a->eng, p, path, &id, &err) != ZT_OK) {
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "%s", err.msg[0] ? err.msg : zt_status_str(err.code));
        return;
    }
    zt_ui_job *v = realloc(a->jobs, (size_t)(a->njobs + 1) * sizeof *v);
    if (!v)
        return;
    a->jobs = v;
    a->jobs[a->njobs++] = (zt_ui_job){id, one_line(p->prompt), p->seed, p->width, p->height,
                                      p->steps, 0};
    a->last_seed = p->seed;
    zt_ui_history_add(&a->hist, p->prompt);
    char hwhy[512] = "", swhy[512] = "";
    int hbad = zt_ui_history_save(&a->hist, hwhy, sizeof hwhy);
    a->hist_pos = a->hist.n; /* the save may have added another workbench's prompts */
    int sbad = store_settings(a, swhy, sizeof swhy);
    if (hbad < 0 || sbad < 0)
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "queued job #%llu; %s not saved: %s",
                  (unsigned long long)id, hbad < 0 ? "prompt history" : "settings",
                  hbad < 0 ? hwhy : swhy);
    else if (hbad || sbad) /* saved over a file damaged since the start */
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "queued job #%llu; %s", (unsigned long long)id,
                  hbad ? hwhy : swhy);
    else
        zt_ui_say(a, ZT_UI_ROLE_NOTICE, "queued job #%llu (seed %llu)", (unsigned long long)id,
                  (unsigned long long)p->seed);
}

static int job_index(zt_ui_app *a, uint64_t id)
{
    for (int i = 0; i < a->njobs; i++)
        if (a->jobs[i].id == id)
            return i;
    return -1;
}

static void drop_job(zt_ui_app *a, uint64_t id)
{
    int i = job_index(a, id);
    if (i < 0)
        return;
    free(a->jobs[i].prompt);
    memmove(a->jobs + i, a->jobs + i + 1, (size_t)(a->njobs - i - 1) * sizeof *a->jobs);
    a->njobs--;
}

static void set_image(zt_ui_app *a, uint8_t *rgb, int w, int h, int final)
{
    free(a->img);
    a->img = rgb;
    a->img_w = w;
    a->img_h = h;
    a->img_final = final;
    a->img_stopped = 0;
    a->img_dirty = 1;
}

/* A job without guidance is made with no negative prompt (generate), so
 * such a result's empty one says nothing: loading it keeps the negative
 * prompt typed (hidden while guidance is 0) rather than wiping it. */
static int takes_negative(const zt_gen_params *p)
{
    return p->guidance > 0 || (p->negative_prompt && *p->negative_prompt);
}

static void load_params(zt_ui_app *a, const zt_gen_params *p)
{
    zt_gen_params_copy(&a->set.params, p, NULL);
    zt_ui_editor_set(&a->prompt, p->prompt);
    if (takes_negative(p))
        zt_ui_editor_set(&a->negative, p->negative_prompt);
    a->set.seed_locked = 1; /* reloading a result means keeping its seed */
    a->focus = ZT_UI_FOCUS_PROMPT;
}

/* A finished image (ev->rgb, taken) into the gallery and the preview. An
 * image that was not written (unsaved) keeps its pixels in the gallery for
 * Ctrl-S. 1 when it is kept. */
static int add_result(zt_ui_app *a, zt_event *ev, int unsaved)
{
    int kept = 0;
    zt_ui_result *v = realloc(a->results, (size_t)(a->nresults + 1) * sizeof *v);
    if (v) {
        a->results = v;
        zt_ui_result *r = &a->results[a->nresults++];
        /* the gallery lists the newest first: an open one keeps its
         * highlight on the same result (Enter loaded the one above it) */
        if (a->popup == ZT_UI_POPUP_GALLERY && a->nresults > 1) {
            a->popup_sel++;
            a->popup_scroll++;
        }
        memset(r, 0, sizeof *r);
        zt_gen_params_init(&r->params);
        zt_gen_params_copy(&r->params, &ev->params, NULL);
        r->path = ev->path && !unsaved ? strdup(ev->path) : NULL;
        r->total_ms = ev->timings.total_ms;
        r->when = time(NULL);
        if (ev->rgb) {
            int tw, th;
            zt_ui_fit(ev->w, ev->h, 64, 64, &tw, &th);
            r->thumb = zt_ui_scale(ev->rgb, ev->w, ev->h, tw, th);
            r->tw = tw;
            r->th = th;
            if (unsaved) {
                size_t n = (size_t)ev->w * (size_t)ev->h * 3;
                if ((r->rgb = malloc(n)))
                    memcpy(r->rgb, ev->rgb, n);
                kept = r->rgb != NULL;
            }
        }
    }
    a->last_timings = ev->timings;
    a->have_last_timings = 1;
    if (ev->rgb) {
        set_image(a, ev->rgb, ev->w, ev->h, 1);
        ev->rgb = NULL;
    }
    return kept;
}

int zt_ui_unsaved_count(const zt_ui_app *a)
{
    int n = 0;
    for (int i = 0; i < a->nresults; i++)
        n += a->results[i].rgb != NULL;
    return n;
}

/* Ctrl-S: write every kept image that could not be written, into the
 * output directory as it is now. */
static void save_unsaved(zt_ui_app *a)
{
    int done = 0, left = 0;
    char msg[4400] = "";
    for (int i = 0; i < a->nresults; i++) {
        zt_ui_result *r = &a->results[i];
        if (!r->rgb)
            continue;
        char path[4200];
        zt_err err = {0};
        if (output_path(a, r->params.seed, path, sizeof path)) {
            snprintf(msg, sizeof msg, "cannot create the output directory %s: %s (F5 sets it)",
                     a->set.output_dir, strerror(errno));
            left++;
            continue;
        }
        if (zt_png_write(path, r->rgb, r->params.width, r->params.height, &r->params, &err)) {
            snprintf(msg, sizeof msg, "%s", err.msg);
            left++;
            continue;
        }
        r->path = strdup(path);
        free(r->rgb);
        r->rgb = NULL;
        done++;
        snprintf(msg, sizeof msg, "%s", path);
    }
    if (!done && !left)
        zt_ui_say(a, ZT_UI_ROLE_NOTICE, "every image of this run is saved");
    else if (left)
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "%d saved, %d not saved: %s", done, left, msg);
    else
        zt_ui_say(a, ZT_UI_ROLE_NOTICE, "saved %d image%s: %s%s", done, done == 1 ? "" : "s",
                  msg, done > 1 ? " (the last)" : "");
}

static void on_event(zt_ui_app *a, zt_event *ev)
{
    switch (ev->kind) {
    case ZT_EV_LOAD_PROGRESS:
        zt_event_load_text(ev, a->load_msg, sizeof a->load_msg);
        break;
    case ZT_EV_LOADED:
        a->loaded = 1;
        snprintf(a->backend, sizeof a->backend, "%s", ev->backend);
        /* as gen warns: the CPU computes in F32 whatever was asked */
        if (!strcmp(ev->backend, "cpu") &&
            (a->precision == ZT_PRECISION_BF16 || a->precision == ZT_PRECISION_FP8))
            zt_ui_say(a, ZT_UI_ROLE_NOTICE, "model loaded (cpu); --precision %s applies on CUDA: "
                      "the CPU computes in F32", a->precision == ZT_PRECISION_FP8 ? "fp8" : "bf16");
        else
            zt_ui_say(a, ZT_UI_ROLE_NOTICE, "model loaded (%s)", ev->backend);
        break;
    case ZT_EV_LOAD_FAILED:
        a->loaded = -1;
        snprintf(a->load_msg, sizeof a->load_msg, "%s", ev->msg);
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "model failed to load: %s", ev->msg);
        break;
    case ZT_EV_JOB_QUEUED:
        break;
    case ZT_EV_JOB_STARTED: {
        int i = job_index(a, ev->job);
        if (i > 0) { /* keep the running job first */
            zt_ui_job j = a->jobs[i];
            memmove(a->jobs + 1, a->jobs, (size_t)i * sizeof *a->jobs);
            a->jobs[0] = j;
        }
        if (i >= 0)
            a->jobs[0].running = 1;
        a->step = 0;
        a->steps = i >= 0 ? a->jobs[0].steps : 0;
        a->step_ms = a->eta_ms = 0;
        break;
    }
    case ZT_EV_JOB_STEP:
        a->step = ev->step;
        a->steps = ev->steps;
        a->step_ms = ev->ms;
        a->eta_ms = ev->eta_ms;
        break;
    case ZT_EV_JOB_PREVIEW:
        if (ev->rgb) {
            set_image(a, ev->rgb, ev->w, ev->h, 0);
            ev->rgb = NULL;
        }
        break;
    case ZT_EV_JOB_FINISHED:
        add_result(a, ev, 0);
        drop_job(a, ev->job);
        /* the path last: a narrow status line cuts it, not the time; a
         * prompt the encoder did not see whole is said before it */
        char cut[64] = "";
        if (ev->timings.prompt_truncated || ev->timings.negative_truncated)
            snprintf(cut, sizeof cut, ", %s cut to %d tokens",
                     !ev->timings.negative_truncated ? "prompt"
                     : ev->timings.prompt_truncated  ? "prompt and negative"
                                                     : "negative prompt",
                     ZT_TOKENIZER_MAX_IDS);
        zt_ui_say(a, cut[0] ? ZT_UI_ROLE_ERROR : ZT_UI_ROLE_NOTICE, "done #%llu in %.2f s, seed %llu%s: %s",
                  (unsigned long long)ev->job, ev->timings.total_ms / 1000.0,
                  (unsigned long long)ev->params.seed, cut, ev->path ? ev->path : "not saved");
        break;
    case ZT_EV_JOB_FAILED:
        drop_job(a, ev->job);
        if (ev->rgb) {
            /* made, but the file could not be written: keep the pixels */
            int kept = add_result(a, ev, 1);
            zt_ui_say(a, ZT_UI_ROLE_ERROR, "job #%llu not saved: %s%s",
                      (unsigned long long)ev->job, ev->msg,
                      kept ? " (Ctrl-S writes it again; F5 changes the directory)" : "");
            break;
        }
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "job #%llu failed: %s", (unsigned long long)ev->job,
                  ev->msg[0] ? ev->msg : zt_status_str(ev->status));
        a->img_stopped = a->img && !a->img_final; /* its preview is no longer live */
        break;
    case ZT_EV_JOB_CANCELLED: {
        /* a queued job's cancel leaves the running one's preview live */
        int i = job_index(a, ev->job);
        if (i >= 0 && a->jobs[i].running)
            a->img_stopped = a->img && !a->img_final;
        drop_job(a, ev->job);
        zt_ui_say(a, ZT_UI_ROLE_NOTICE, "job #%llu cancelled", (unsigned long long)ev->job);
        break;
    }
    }
}

/* ---- keys ---------------------------------------------------------------- */

typedef struct key {
    int code;     /* KEY_* or a character */
    int is_key;   /* code is a KEY_* */
    int alt;
} key;

/* Backspace, as terminals send it (DEL, ^H) or curses names it. */
static int is_backspace(key k)
{
    return k.is_key ? k.code == KEY_BACKSPACE : k.code == 127 || k.code == 8;
}

static int k_cleft, k_cright;

static void history_move(zt_ui_app *a, int dir)
{
    int np = a->hist_pos + dir;
    if (np < 0 || np > a->hist.n)
        return;
    /* what was typed before browsing comes back past the newest entry */
    if (a->hist_pos == a->hist.n) {
        free(a->hist_draft);
        a->hist_draft = strdup(a->prompt.buf);
    }
    a->hist_pos = np;
    zt_ui_editor_set(&a->prompt, np < a->hist.n            ? a->hist.items[np]
                                 : a->hist_draft ? a->hist_draft
                                                 : "");
}

static int text_width(zt_ui_app *a)
{
    (void)a;
    int lw = COLS >= 80 ? (COLS * 45 / 100 < 40 ? 40 : COLS * 45 / 100) : COLS;
    return lw - 2;
}

/* Keys shared by every text field. Returns 1 when handled. */
static int edit_key(zt_ui_editor *e, key k, int width, int multiline)
{
    if (k.is_key) {
        if (k.code == KEY_LEFT)
            zt_ui_editor_left(e);
        else if (k.code == KEY_RIGHT)
            zt_ui_editor_right(e);
        else if (k.code == k_cleft && k_cleft)
            zt_ui_editor_word_left(e);
        else if (k.code == k_cright && k_cright)
            zt_ui_editor_word_right(e);
        else if (k.code == KEY_HOME)
            zt_ui_editor_home(e);
        else if (k.code == KEY_END)
            zt_ui_editor_end(e);
        else if (k.code == KEY_BACKSPACE)
            zt_ui_editor_backspace(e);
        else if (k.code == KEY_DC)
            zt_ui_editor_delete(e);
        else if (k.code == KEY_UP && multiline)
            return zt_ui_editor_up(e, width);
        else if (k.code == KEY_DOWN && multiline)
            return zt_ui_editor_down(e, width);
        else
            return 0;
        return 1;
    }
    if (k.alt) {
        if (k.code == 'b')
            zt_ui_editor_word_left(e);
        else if (k.code == 'f')
            zt_ui_editor_word_right(e);
        else if (k.code == 127 || k.code == 8)
            zt_ui_editor_delete_word_back(e);
        else if ((k.code == '\r' || k.code == '\n') && multiline)
            zt_ui_editor_insert(e, "\n", 1);
        else
            return 0;
        return 1;
    }
    switch (k.code) {
    case 1: zt_ui_editor_home(e); return 1;          /* Ctrl-A */
    case 5: zt_ui_editor_end(e); return 1;           /* Ctrl-E */
    case 2: zt_ui_editor_left(e); return 1;          /* Ctrl-B is the gallery; kept for fields */
    case 6: zt_ui_editor_right(e); return 1;         /* Ctrl-F */
    case 8:
    case 127: zt_ui_editor_backspace(e); return 1;
    case 4: zt_ui_editor_delete(e); return 1;        /* Ctrl-D */
    case 23: zt_ui_editor_delete_word_back(e); return 1;
    case 11: zt_ui_editor_kill_to_eol(e); return 1;
    case 21: zt_ui_editor_kill_to_bol(e); return 1;
    case 26:
    case 31: zt_ui_editor_undo(e); return 1;         /* Ctrl-Z, Ctrl-_ */
    case '\n':
        if (multiline) {
            zt_ui_editor_insert(e, "\n", 1);
            return 1;
        }
        return 0;
    default:
        break;
    }
    if (k.code >= 0x20 && k.code != 127 && !(k.code >= 0x80 && k.code < 0xA0)) {
        zt_ui_editor_insert_cp(e, (uint32_t)k.code);
        return 1;
    }
    return 0;
}

static void open_popup(zt_ui_app *a, int p, int sel)
{
    a->popup = p;
    a->popup_sel = sel;
    a->popup_scroll = 0;
}

static void open_input(zt_ui_app *a, int kind, const char *initial)
{
    zt_ui_editor_set(&a->input, initial);
    zt_ui_editor_forget_undo(&a->input);
    a->input_kind = kind;
    open_popup(a, ZT_UI_POPUP_INPUT, 0);
}

/* r's unsaved image kept as $TMPDIR/zimt-unsaved-SEED.png
 * (zt_cli_keep_unsaved): 1 with r->kept naming it and the pixels freed,
 * else 0 with why (the pixels stay). */
static int keep_copy(zt_ui_result *r, zt_err *why)
{
    char kept[4200];
    zt_cli_keep_unsaved(r->rgb, r->params.width, r->params.height, &r->params, kept, sizeof kept,
                        why);
    if (!kept[0])
        return 0;
    if (!(r->kept = strdup(kept))) {
        zt_fail(why, ZT_ERR_NOMEM, "out of memory noting the copy %.200s", kept);
        return 0;
    }
    free(r->rgb);
    r->rgb = NULL;
    return 1;
}

/* y in the quit popup. The copies it promises are written now, while the
 * workbench is open: when one cannot be (a full $TMPDIR) the session stays,
 * the popup says why, and only a second y leaves without that image (the
 * exit status then says an image was lost). Where the popup already said
 * no copy can be kept, y leaves at once. */
static void confirm_quit(zt_ui_app *a)
{
    zt_err dir = {0}; /* no place for copies: the popup said they are lost */
    if (a->keep_failed || zt_cli_keep_dir_check(&dir) != ZT_OK) {
        a->quit = 1;
        return;
    }
    int kept = 0;
    for (int i = 0; i < a->nresults; i++) {
        zt_err why = {0};
        if (!a->results[i].rgb)
            continue;
        if (keep_copy(&a->results[i], &why))
            kept++;
        else if (!a->keep_failed++)
            snprintf(a->keep_why, sizeof a->keep_why, "%s", why.msg);
    }
    if (!a->keep_failed)
        a->quit = 1;
    else if (kept) /* those are safe: the gallery names their copies */
        zt_ui_say(a, ZT_UI_ROLE_NOTICE, "%d image%s kept in %s (F3 names %s)", kept,
                  kept == 1 ? "" : "s", zt_cli_keep_dir(), kept == 1 ? "it" : "them");
}

static void request_quit(zt_ui_app *a)
{
    if (a->njobs || zt_ui_unsaved_count(a))
        open_popup(a, ZT_UI_POPUP_QUIT, 0);
    else
        a->quit = 1;
}

/* A path typed in a popup (what: "directory", "file") into out, a leading
 * ~/ (or ~ alone) as the home directory, as a shell reads it. -1 with why
 * for blanks alone (no name anyone means: a directory "   " was made) or a
 * path past n. */
static int typed_path(const char *typed, const char *what, char *out, size_t n, char *why,
                      size_t why_n)
{
    const char *home = getenv("HOME");
    int k = typed[0] == '~' && (!typed[1] || typed[1] == '/') && home && home[0]
                ? snprintf(out, n, "%s%s", home, typed + 1)
                : snprintf(out, n, "%s", typed);
    if (!typed[strspn(typed, " \t")])
        snprintf(why, why_n, "no %s given", what);
    else if (k < 0 || (size_t)k >= n)
        snprintf(why, why_n, "the %s's path is too long", what);
    else
        return 0;
    return -1;
}

/* The output directory as typed (F5) or given (--output-dir): a leading
 * ~/ is the home directory, as in a shell; it is made when missing and
 * checked at once; a relative one is kept as its absolute path, so that a
 * later start from another directory writes to the same place. 0 with
 * *made (whether it was created), or -1 with why. */
static int set_outdir(zt_ui_app *a, const char *typed, int *made, char *why, size_t why_n)
{
    char path[sizeof a->set.output_dir], abs[PATH_MAX];
    if (typed_path(typed, "directory", path, sizeof path, why, why_n))
        return -1;
    struct stat st;
    *made = stat(path, &st) != 0;
    if (zt_ui_make_dirs(path) || access(path, W_OK | X_OK)) {
        snprintf(why, why_n, "%.400s cannot hold the images: %s", path, strerror(errno));
        return -1;
    }
    if (path[0] != '/' && realpath(path, abs) && strlen(abs) < sizeof path)
        snprintf(path, sizeof path, "%s", abs);
    snprintf(a->set.output_dir, sizeof a->set.output_dir, "%s", path);
    return 0;
}

/* A value was given again (a popup's Enter): an error left on the status
 * line from an earlier try goes, so that it is not read as being about the
 * value now taken; a new refusal says its own. */
static void drop_error(zt_ui_app *a)
{
    if (a->status_role == ZT_UI_ROLE_ERROR) {
        a->status[0] = '\0';
        a->status_role = ZT_UI_ROLE_STATUSBAR;
        a->status_keep = 0;
    }
}

/* n bytes of text (blanks and line breaks at its ends dropped: a paste
 * brings them, and " 64x64" was "not WIDTHxHEIGHT") as the value of field
 * (Seed, Size, Steps or Guidance), read as the command line reads it; on a
 * bad one the value stays and the field's own reason is said. 0, or -1. */
static int take_value(zt_ui_app *a, int field, const char *text, size_t n)
{
    char v[64];
    while (n && strchr(" \t\r\n", *text))
        text++, n--;
    while (n && strchr(" \t\r\n", text[n - 1]))
        n--;
    if (n >= sizeof v || memchr(text, 0, n)) {
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "no value for this field");
        return -1;
    }
    memcpy(v, text, n);
    v[n] = 0;
    zt_gen_params *p = &a->set.params;
    zt_err err = {0};
    zt_status st;
    long l;
    int rnd, w, h;
    uint64_t seed;
    switch (field) {
    case ZT_UI_FOCUS_SEED:
        if ((st = zt_parse_seed(v, &seed, &rnd, &err)) == ZT_OK) {
            if (!rnd)
                p->seed = seed;
            a->set.seed_locked = !rnd;
        }
        break;
    case ZT_UI_FOCUS_SIZE:
        if ((st = zt_parse_size(v, &w, &h, &err)) == ZT_OK) {
            p->width = w;
            p->height = h;
        }
        break;
    case ZT_UI_FOCUS_STEPS:
        if ((st = zt_parse_int("steps", v, 1, ZT_STEPS_MAX, &l, &err)) == ZT_OK)
            p->steps = (int)l;
        break;
    default:
        st = zt_parse_float("guidance", v, 0, ZT_GUIDANCE_MAX, &p->guidance, &err);
        break;
    }
    if (st != ZT_OK)
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "%s", err.msg);
    return st != ZT_OK ? -1 : 0;
}

static void input_done(zt_ui_app *a)
{
    drop_error(a);
    zt_err err = {0};
    const char *s = a->input.buf;
    switch (a->input_kind) {
    case ZT_UI_INPUT_SIZE:
    case ZT_UI_INPUT_GUIDANCE:
        if (take_value(a,
                       a->input_kind == ZT_UI_INPUT_SIZE ? ZT_UI_FOCUS_SIZE : ZT_UI_FOCUS_GUIDANCE,
                       s, strlen(s)))
            return; /* stay open to fix it */
        break;
    case ZT_UI_INPUT_PNG: {
        zt_gen_params p;
        int has = 0;
        char path[4096], why[64]; /* ~/ as F5 reads it */
        if (typed_path(s, "file", path, sizeof path, why, sizeof why)) {
            zt_ui_say(a, ZT_UI_ROLE_ERROR, "%s", why);
            return;
        }
        s = path;
        zt_gen_params_init(&p);
        if (zt_png_read(s, NULL, NULL, NULL, &p, &has, &err) != ZT_OK) {
            zt_ui_say(a, ZT_UI_ROLE_ERROR, "%s", err.msg);
        } else if (!has) {
            zt_ui_say(a, ZT_UI_ROLE_ERROR, "%s carries no zimt or A1111 settings", s);
        } else if (zt_gen_params_check_values(&p, &err) != ZT_OK) {
            /* as gen --from: settings a job would refuse are not loaded */
            zt_ui_say(a, ZT_UI_ROLE_ERROR, "%s: %s; settings not loaded", s, err.msg);
        } else {
            /* a text without a seed keeps the seed as it was, locked or not
             * (its 0 is not the image's) */
            const int no_seed = has & ZT_PNG_PARAMS_NO_SEED, locked = a->set.seed_locked;
            if (no_seed)
                p.seed = a->set.params.seed;
            load_params(a, &p);
            if (no_seed)
                a->set.seed_locked = locked;
            /* The editor drops control characters; say so and show the
             * prompt as the file had it (the status bar makes controls
             * visible as ^X), so nothing is changed behind the user's back. */
            int cut_neg = takes_negative(&p) && strcmp(a->negative.buf, p.negative_prompt);
            /* past what the editor holds, the text is cut there: said as a
             * paste's cut is, not as control characters */
            int long_p = strlen(p.prompt) > a->prompt.len &&
                         a->prompt.len + 4 > ZT_UI_EDITOR_MAX;
            int long_n = cut_neg && strlen(p.negative_prompt) > a->negative.len &&
                         a->negative.len + 4 > ZT_UI_EDITOR_MAX;
            const char *seed_kept = no_seed ? "; it gives no seed, so the seed is as it was" : "";
            if ((has & ZT_PNG_PARAMS_FALLBACK) || no_seed)
                zt_ui_say(a, has & ZT_PNG_PARAMS_FALLBACK ? ZT_UI_ROLE_ERROR : ZT_UI_ROLE_NOTICE,
                          "settings loaded from %s%s", has & ZT_PNG_PARAMS_FALLBACK ? err.msg : s,
                          seed_kept);
            else if (long_p || long_n)
                zt_ui_say(a, ZT_UI_ROLE_ERROR,
                          "settings loaded from %s; its %s was cut: a prompt holds at most %d KiB",
                          s, long_p ? "prompt" : "negative prompt", ZT_UI_EDITOR_MAX / 1024);
            else if (strcmp(a->prompt.buf, p.prompt) || cut_neg)
                zt_ui_say(a, ZT_UI_ROLE_NOTICE,
                          "settings loaded from %s; control characters dropped from: %s", s,
                          strcmp(a->prompt.buf, p.prompt) ? p.prompt : p.negative_prompt);
            else
                zt_ui_say(a, ZT_UI_ROLE_NOTICE, "settings loaded from %s", s);
        }
        zt_gen_params_free(&p);
        break;
    }
    case ZT_UI_INPUT_OUTDIR: {
        /* made and checked now, not when the first image has nowhere to
         * go; the popup stays open for another try */
        char why[sizeof a->status];
        int made;
        if (set_outdir(a, s, &made, why, sizeof why)) {
            zt_ui_say(a, ZT_UI_ROLE_ERROR, "%s", why);
            return;
        }
        zt_ui_say(a, ZT_UI_ROLE_NOTICE, "outputs go to %s%s", a->set.output_dir,
                  made ? " (created)" : "");
        break;
    }
    }
    a->popup = ZT_UI_POPUP_NONE;
    save_settings(a);
}

static int list_len(zt_ui_app *a)
{
    switch (a->popup) {
    case ZT_UI_POPUP_PRESETS:
        return zt_ui_size_preset_count + 1;
    case ZT_UI_POPUP_THEMES:
        return a->ntheme_names;
    case ZT_UI_POPUP_GALLERY:
        return a->nresults;
    default:
        return 0;
    }
}

static void popup_key(zt_ui_app *a, key k)
{
    if (a->popup == ZT_UI_POPUP_HELP) {
        /* the arrows scroll a help taller than the screen; drawing clamps */
        if (k.is_key && (k.code == KEY_UP || k.code == KEY_PPAGE))
            a->popup_scroll -= k.code == KEY_UP ? 1 : 10;
        else if (k.is_key && (k.code == KEY_DOWN || k.code == KEY_NPAGE))
            a->popup_scroll += k.code == KEY_DOWN ? 1 : 10;
        else
            a->popup = ZT_UI_POPUP_NONE;
        return;
    }
    if (a->popup == ZT_UI_POPUP_QUIT) {
        if (!k.is_key && (k.code == 'y' || k.code == 'Y')) {
            confirm_quit(a);
        } else {
            a->popup = ZT_UI_POPUP_NONE;
            a->keep_failed = 0; /* the next quit tries the copies again */
        }
        return;
    }
    if (!k.is_key && k.code == 27) {
        a->popup = ZT_UI_POPUP_NONE;
        return;
    }
    if (a->popup == ZT_UI_POPUP_INPUT) {
        if (!k.is_key && !k.alt && (k.code == '\r' || k.code == '\n'))
            input_done(a);
        else
            edit_key(&a->input, k, 60, 0);
        return;
    }
    int n = list_len(a);
    if (k.is_key && k.code == KEY_UP)
        a->popup_sel--;
    else if (k.is_key && k.code == KEY_DOWN)
        a->popup_sel++;
    else if (k.is_key && k.code == KEY_PPAGE)
        a->popup_sel -= 10;
    else if (k.is_key && k.code == KEY_NPAGE)
        a->popup_sel += 10;
    else if (k.is_key && k.code == KEY_HOME)
        a->popup_sel = 0;
    else if (k.is_key && k.code == KEY_END)
        a->popup_sel = n - 1;
    else if (!k.is_key && (k.code == 'q'))
        a->popup = ZT_UI_POPUP_NONE;
    else if (!k.is_key && k.code == 'm' && a->popup == ZT_UI_POPUP_GALLERY && n > 0) {
        /* mark for side-by-side compare; again on the marked one unmarks */
        int idx = a->nresults - 1 - a->popup_sel;
        a->gallery_mark = a->gallery_mark == idx + 1 ? 0 : idx + 1;
    }
    else if (!k.is_key && k.code == 'c' && a->popup == ZT_UI_POPUP_PRESETS) {
        a->popup = ZT_UI_POPUP_NONE;
        open_input(a, ZT_UI_INPUT_SIZE, "");
        return;
    }
    else if (!k.is_key && (k.code == '\r' || k.code == '\n') && n > 0) {
        int s = a->popup_sel;
        drop_error(a);
        if (a->popup == ZT_UI_POPUP_PRESETS) {
            a->popup = ZT_UI_POPUP_NONE;
            if (s < zt_ui_size_preset_count) {
                a->set.params.width = zt_ui_size_presets[s].w;
                a->set.params.height = zt_ui_size_presets[s].h;
                save_settings(a);
            } else {
                char cur[32];
                snprintf(cur, sizeof cur, "%dx%d", a->set.params.width, a->set.params.height);
                open_input(a, ZT_UI_INPUT_SIZE, cur);
            }
        } else if (a->popup == ZT_UI_POPUP_THEMES) {
            a->popup = ZT_UI_POPUP_NONE;
            set_theme(a, a->theme_names[s], NULL);
            /* under NO_COLOR the screen does not change: say why */
            if (a->no_color && !strcmp(a->set.theme, a->theme_names[s]))
                zt_ui_say(a, ZT_UI_ROLE_NOTICE,
                          "theme %s remembered; NO_COLOR keeps this screen without colours",
                          a->theme_names[s]);
            save_settings(a);
        } else if (a->popup == ZT_UI_POPUP_GALLERY) {
            a->popup = ZT_UI_POPUP_NONE;
            zt_ui_result *r = &a->results[a->nresults - 1 - s];
            load_params(a, &r->params);
            zt_ui_say(a, ZT_UI_ROLE_NOTICE, "settings of seed %llu loaded",
                      (unsigned long long)r->params.seed);
        }
        return;
    }
    if (a->popup_sel < 0)
        a->popup_sel = 0;
    if (a->popup_sel >= n)
        a->popup_sel = n > 0 ? n - 1 : 0;
}

static int preset_index(const zt_ui_app *a)
{
    for (int i = 0; i < zt_ui_size_preset_count; i++)
        if (zt_ui_size_presets[i].w == a->set.params.width &&
            zt_ui_size_presets[i].h == a->set.params.height)
            return i;
    return -1;
}

static void field_key(zt_ui_app *a, key k)
{
    zt_gen_params *p = &a->set.params;
    int c = k.is_key ? 0 : k.code;
    switch (a->focus) {
    case ZT_UI_FOCUS_SEED:
        if (c == '+' || c == '=' || (k.is_key && k.code == KEY_RIGHT)) {
            p->seed++;
            a->set.seed_locked = 1;
        } else if (c == '-' || (k.is_key && k.code == KEY_LEFT)) {
            p->seed--;
            a->set.seed_locked = 1;
        } else if (c == 'r') {
            p->seed = random_seed();
            a->set.seed_locked = 1;
        } else if (c == 'l' || c == ' ') {
            if (!a->set.seed_locked && a->last_seed)
                p->seed = a->last_seed;
            a->set.seed_locked = !a->set.seed_locked;
        } else if (c >= '0' && c <= '9') {
            /* Digits in a row make one number, as on Steps: the first after
             * any other key (r, +, a result loaded) starts a new seed; a
             * digit past 2^64 - 1 is dropped. */
            uint64_t d = (uint64_t)(c - '0');
            if (!a->seed_typing)
                p->seed = d;
            else if (p->seed <= (UINT64_MAX - d) / 10)
                p->seed = p->seed * 10 + d;
            a->seed_typing = 1;
            a->set.seed_locked = 1;
        } else if (is_backspace(k) && a->set.seed_locked) {
            /* (unlocked, the field shows "random": nothing typed to erase) */
            p->seed /= 10;
            a->seed_typing = 1; /* digits typed next append */
        }
        break;
    case ZT_UI_FOCUS_SIZE: {
        int i = preset_index(a);
        if ((k.is_key && k.code == KEY_RIGHT) || c == '+') {
            i = (i + 1) % zt_ui_size_preset_count;
        } else if ((k.is_key && k.code == KEY_LEFT) || c == '-') {
            i = i <= 0 ? zt_ui_size_preset_count - 1 : i - 1;
        } else if (c == 'c') {
            open_input(a, ZT_UI_INPUT_SIZE, "");
            return;
        } else {
            return;
        }
        p->width = zt_ui_size_presets[i].w;
        p->height = zt_ui_size_presets[i].h;
        break;
    }
    case ZT_UI_FOCUS_STEPS:
        if ((c == '+' || c == '=' || (k.is_key && k.code == KEY_RIGHT)) && p->steps < ZT_STEPS_MAX)
            p->steps++;
        else if ((c == '-' || (k.is_key && k.code == KEY_LEFT)) && p->steps > 1)
            p->steps--;
        else if (c >= '0' && c <= '9') {
            /* Digits in a row make one number, as in the seed field. The
             * first after any other key starts a new one, and so does a
             * digit that would pass the maximum; a 0 cannot start one. */
            int d = c - '0';
            if (a->steps_typing && p->steps <= (ZT_STEPS_MAX - d) / 10)
                p->steps = p->steps * 10 + d;
            else if (d)
                p->steps = d;
            a->steps_typing = a->steps_typing || d;
        } else if (is_backspace(k)) {
            /* the last digit goes; of one digit, the next typed replaces it */
            a->steps_typing = p->steps >= 10;
            if (p->steps >= 10)
                p->steps /= 10;
        }
        break;
    case ZT_UI_FOCUS_GUIDANCE:
        if (c == '+' || c == '=' || (k.is_key && k.code == KEY_RIGHT))
            p->guidance = fminf(p->guidance + 0.5f, ZT_GUIDANCE_MAX);
        else if (c == '-' || (k.is_key && k.code == KEY_LEFT))
            p->guidance = p->guidance - 0.5f < 0 ? 0 : p->guidance - 0.5f;
        else if (c >= '0' && c <= '9') {
            char init[2] = {(char)c, 0};
            open_input(a, ZT_UI_INPUT_GUIDANCE, init);
        }
        break;
    default:
        break;
    }
}

/* The theme list, on the theme in use. */
static void open_themes(zt_ui_app *a)
{
    int sel = 0;
    for (int i = 0; i < a->ntheme_names; i++)
        if (!strcmp(a->theme_names[i], a->theme.name))
            sel = i;
    open_popup(a, ZT_UI_POPUP_THEMES, sel);
}

static void next_focus(zt_ui_app *a, int dir)
{
    do
        a->focus = (a->focus + dir + ZT_UI_FOCUS_COUNT) % ZT_UI_FOCUS_COUNT;
    while (a->focus == ZT_UI_FOCUS_NEGATIVE && a->set.params.guidance <= 0);
}

static void handle_key(zt_ui_app *a, key k)
{
    int c = k.is_key ? -1 : k.code;
    /* A resize or Ctrl-L only redraws: an error on the status line stays
     * there (kept from later notices) until another key is pressed. */
    if (k.is_key && k.code == KEY_RESIZE) {
        a->redraw_all = 1;
        zt_ui_term_cell_size(&a->term, a->tty_fd);
        return;
    }
    if (c == 12) { /* Ctrl-L */
        a->redraw_all = 1;
        return;
    }
    /* nothing shows below the least size but the notice: typing there
     * went into the prompt and popups unseen (quitting still works) */
    if ((LINES < ZT_UI_MIN_LINES || COLS < ZT_UI_MIN_COLS) && c != 17 && c != 3 &&
        a->popup != ZT_UI_POPUP_QUIT)
        return;
    a->status_keep = 0;
    if (a->status_next[0]) { /* the next start-up warning, after a key */
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "%s", a->status_next);
        a->status_next[0] = 0;
    }
    /* Any key but a digit or Backspace on Steps (Seed) ends the number
     * typed there. */
    int digit_or_back = (c >= '0' && c <= '9') || is_backspace(k);
    if (a->popup || a->focus != ZT_UI_FOCUS_STEPS || !digit_or_back)
        a->steps_typing = 0;
    if (a->popup || a->focus != ZT_UI_FOCUS_SEED || !digit_or_back)
        a->seed_typing = 0;
    if (c == 17 || c == 3) { /* Ctrl-Q, Ctrl-C */
        request_quit(a);
        return;
    }
    if (a->popup) {
        popup_key(a, k);
        return;
    }
    if (k.is_key) {
        switch (k.code) {
        case KEY_F(1):
            open_popup(a, ZT_UI_POPUP_HELP, 0);
            return;
        case KEY_F(2):
            open_themes(a);
            return;
        case KEY_F(3):
            open_popup(a, ZT_UI_POPUP_GALLERY, 0);
            return;
        case KEY_F(4):
            open_popup(a, ZT_UI_POPUP_PRESETS, preset_index(a) < 0 ? 0 : preset_index(a));
            return;
        case KEY_F(5):
            open_input(a, ZT_UI_INPUT_OUTDIR, a->set.output_dir);
            return;
        case KEY_BTAB:
            next_focus(a, -1);
            return;
        default:
            break;
        }
    }
    switch (c) {
    case 7: /* Ctrl-G */
        generate(a);
        return;
    case '\r':
        if (k.alt)
            break;
        if (a->focus == ZT_UI_FOCUS_SIZE) {
            open_popup(a, ZT_UI_POPUP_PRESETS, preset_index(a) < 0 ? 0 : preset_index(a));
            return;
        }
        if (a->focus == ZT_UI_FOCUS_GUIDANCE) {
            char cur[32];
            open_input(a, ZT_UI_INPUT_GUIDANCE, zt_float_text(cur, sizeof cur, a->set.params.guidance));
            return;
        }
        generate(a);
        return;
    case 27:
        if (k.alt)
            break;
        if (a->njobs) {
            zt_engine_cancel(a->eng, 0);
            zt_ui_say(a, ZT_UI_ROLE_NOTICE, "cancelling...");
        }
        return;
    case '\t':
        next_focus(a, 1);
        return;
    case 20: /* Ctrl-T */
        open_themes(a);
        return;
    case 2: /* Ctrl-B */
        open_popup(a, ZT_UI_POPUP_GALLERY, 0);
        return;
    case 15: /* Ctrl-O */
        open_input(a, ZT_UI_INPUT_PNG, "");
        return;
    case 19: /* Ctrl-S */
        save_unsaved(a);
        return;
    case 16: /* Ctrl-P */
        history_move(a, -1);
        return;
    case 14: /* Ctrl-N */
        history_move(a, 1);
        return;
    default:
        break;
    }
    int w = text_width(a);
    if (a->focus == ZT_UI_FOCUS_PROMPT || a->focus == ZT_UI_FOCUS_NEGATIVE) {
        zt_ui_editor *e = a->focus == ZT_UI_FOCUS_PROMPT ? &a->prompt : &a->negative;
        if (edit_key(e, k, w, 1))
            return;
        if (a->focus == ZT_UI_FOCUS_PROMPT && k.is_key && k.code == KEY_UP)
            history_move(a, -1);
        else if (a->focus == ZT_UI_FOCUS_PROMPT && k.is_key && k.code == KEY_DOWN)
            history_move(a, 1);
        return;
    }
    if (c == 'q') {
        request_quit(a);
        return;
    }
    if (c == '?') {
        open_popup(a, ZT_UI_POPUP_HELP, 0);
        return;
    }
    if (k.is_key && k.code == KEY_UP) {
        next_focus(a, -1);
        return;
    }
    if (k.is_key && k.code == KEY_DOWN) {
        next_focus(a, 1);
        return;
    }
    field_key(a, k);
}

#define PASTE_IDLE_MS 5000 /* a paste with no byte for this long is taken as ended */

/* A finished paste's raw bytes as UTF-8. In a UTF-8 locale they stay as
 * they are: the editor drops a byte that is not UTF-8 and keeps the rest.
 * Elsewhere the locale decodes them, a byte it cannot decode dropped. */
static void paste_to_utf8(zt_ui_app *a)
{
    if (a->utf8)
        return;
    zt_ui_buf u = {0};
    mbstate_t st;
    memset(&st, 0, sizeof st);
    for (size_t i = 0; i < a->paste.n;) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, a->paste.p + i, a->paste.n - i, &st);
        if (k == (size_t)-1 || k == (size_t)-2) {
            memset(&st, 0, sizeof st);
            i++;
            continue;
        }
        char enc[8];
        int m = zt_ui_utf8_encode((uint32_t)wc, enc);
        zt_ui_buf_put(&u, enc, (size_t)m);
        i += k ? k : 1;
    }
    zt_ui_buf_free(&a->paste);
    a->paste = u;
}

/* A finished bracketed paste into the focused editor: verbatim into the
 * prompts, on one line into a popup's input (a directory, a file, a size),
 * where a copied line's end would otherwise become part of the name. */
static void end_paste(zt_ui_app *a)
{
    int one_line = a->popup == ZT_UI_POPUP_INPUT;
    /* a paste while a window other than an input is open goes nowhere (it
     * went into the prompt behind it) */
    int on_value = a->popup == ZT_UI_POPUP_NONE && a->focus != ZT_UI_FOCUS_PROMPT &&
                   a->focus != ZT_UI_FOCUS_NEGATIVE;
    /* below the least size keys are ignored; a paste too (it went into the
     * prompt unseen) */
    int small = LINES < ZT_UI_MIN_LINES || COLS < ZT_UI_MIN_COLS;
    if ((a->popup != ZT_UI_POPUP_NONE && !one_line) || on_value || small) {
        paste_to_utf8(a);
        if (on_value && !small) {
            /* onto Seed, Size, Steps or Guidance: that value (it went
             * into the prompt, unseen); an earlier try's error goes */
            drop_error(a);
            take_value(a, a->focus, a->paste.p, a->paste.n);
        } else if (!small) {
            zt_ui_say(a, ZT_UI_ROLE_ERROR, "a paste goes into the prompt or an input, not "
                                           "this window (Esc closes it)");
        }
        zt_ui_buf_free(&a->paste);
        a->pasting = 0;
        return;
    }
    zt_ui_editor *e = one_line                           ? &a->input
                      : a->focus == ZT_UI_FOCUS_NEGATIVE ? &a->negative
                                                         : &a->prompt;
    paste_to_utf8(a);
    size_t before = e->len;
    if (a->paste.n && one_line)
        zt_ui_editor_insert_line(e, a->paste.p, a->paste.n);
    else if (a->paste.n)
        zt_ui_editor_insert(e, a->paste.p, a->paste.n);
    if (e->len - before + 4 < a->paste.n && e->len + 4 > ZT_UI_EDITOR_MAX)
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "the paste was cut: a prompt holds at most %d KiB",
                  ZT_UI_EDITOR_MAX / 1024);
    zt_ui_buf_free(&a->paste);
    a->pasting = 0;
}

/* One byte of a paste in progress; ESC[201~ ends it. Bytes, not
 * characters: get_wch() drops what follows a byte the locale cannot
 * decode, the end of the paste included, which then stalled input until
 * the idle limit and lost the rest of the text. */
static void paste_byte(zt_ui_app *a, int byte)
{
    char c = (char)byte;
    zt_ui_buf_put(&a->paste, &c, 1);
    a->paste_ms = (long)zt_now_ms();
    if (a->paste.n >= 6 && !memcmp(a->paste.p + a->paste.n - 6, "\033[201~", 6)) {
        a->paste.n -= 6;
        end_paste(a);
    }
}

/* Bytes of a character that arrives split wait this long for the rest. */
#define UTF8_REST_MS 50

/* The next key as get_wch() returns it (OK with a character, KEY_CODE_YES
 * with a KEY_* code, ERR when none waits). In a UTF-8 locale the bytes are
 * decoded here: get_wch() drops what arrived with a byte that is not UTF-8
 * (a Latin-1 byte then "hello" lost the word); here only the bad bytes are
 * dropped. Other locales keep get_wch(), which knows their encodings. */
static int read_key(zt_ui_app *a, wint_t *ch)
{
    if (!a->utf8)
        return get_wch(ch);
    for (;;) {
        int b = getch();
        if (b == ERR)
            return ERR;
        if (b < 0 || b > 0xFF) {
            *ch = (wint_t)b;
            return KEY_CODE_YES;
        }
        if (b < 0x80) {
            *ch = (wint_t)b;
            return OK;
        }
        int need = b >= 0xC2 && b <= 0xDF ? 1 : b >= 0xE0 && b <= 0xEF ? 2
                                            : b >= 0xF0 && b <= 0xF4   ? 3
                                                                       : 0;
        if (!need)
            continue; /* not a lead byte: dropped */
        char u[4] = {(char)b};
        int n = 1;
        timeout(UTF8_REST_MS);
        while (n <= need) {
            int c = getch();
            if (c == ERR)
                break;
            if (c < 0x80 || c > 0xBF) { /* not a continuation: read it next */
                ungetch(c);
                break;
            }
            u[n++] = (char)c;
        }
        nodelay(stdscr, TRUE);
        uint32_t cp;
        /* overlong forms, surrogates and past U+10FFFF decode as one bad byte */
        if (n == need + 1 && zt_ui_utf8_decode(u, (size_t)n, 0, &cp) == (size_t)n) {
            *ch = (wint_t)cp;
            return OK;
        }
        /* bad or cut short: drop the lead byte and read the rest again
         * (continuation bytes alone are dropped in turn) */
        for (int i = n - 1; i >= 1; i--)
            ungetch((unsigned char)u[i]);
    }
}

/* Read every waiting key. ESC followed at once by more input is Alt+key or
 * a bracketed paste (ESC[200~ ... ESC[201~), whose text goes into the
 * focused editor verbatim, newlines included. Returns keys handled. */
static int drain_keys(zt_ui_app *a)
{
    int handled = 0;
    wint_t ch;
    int r;
    for (;;) {
        if (a->pasting) {
            int b = getch();
            if (b == ERR)
                break;
            if (b >= 0 && b <= 0xFF) /* not a KEY_* code */
                paste_byte(a, b);
            handled++;
            continue;
        }
        if ((r = read_key(a, &ch)) == ERR)
            break;
        key k = {(int)ch, r == KEY_CODE_YES, 0};
        if (!k.is_key && ch == 27) {
            wint_t n2;
            int r2 = read_key(a, &n2);
            if (r2 == KEY_CODE_YES && n2 == KEY_BACKSPACE) {
                /* Alt-Backspace: ESC DEL, whose DEL the keypad reads as
                 * KEY_BACKSPACE (taken as Esc it cancelled the running job
                 * and closed an open input) */
                k = (key){127, 0, 1};
            } else if (r2 == KEY_CODE_YES || (r2 == OK && n2 == 27)) {
                /* A bare Esc typed just before another key: push that key
                 * back and handle the Esc alone. */
                if (r2 == KEY_CODE_YES)
                    ungetch((int)n2);
                else
                    unget_wch(n2);
            } else if (r2 != ERR && !(r2 == OK && n2 == '[')) {
                k = (key){(int)n2, r2 == KEY_CODE_YES, 1};
            } else if (r2 == OK && n2 == '[') {
                char seq[16];
                int m = 0;
                wint_t c3;
                while (m < 15 && read_key(a, &c3) == OK) {
                    seq[m++] = (char)c3;
                    if (c3 >= 0x40 && c3 <= 0x7E)
                        break;
                }
                seq[m] = 0;
                if (!strcmp(seq, "200~")) {
                    a->pasting = 1;
                    a->paste_ms = (long)zt_now_ms();
                    handled++;
                    continue;
                }
                /* Home/End as some terminals send them without keypad mode. */
                if (!strcmp(seq, "H") || !strcmp(seq, "1~") || !strcmp(seq, "7~"))
                    handle_key(a, (key){KEY_HOME, 1, 0});
                else if (!strcmp(seq, "F") || !strcmp(seq, "4~") || !strcmp(seq, "8~"))
                    handle_key(a, (key){KEY_END, 1, 0});
                handled++;
                continue; /* any other sequence is ignored whole */
            }
        }
        handle_key(a, k);
        handled++;
    }
    /* A terminal that never ends its paste must not keep the keys. */
    if (a->pasting && (long)zt_now_ms() - a->paste_ms > PASTE_IDLE_MS) {
        end_paste(a);
        handled++;
    }
    return handled;
}

/* ---- setup and the loop -------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: zimt [ui] [--model DIR] [--device auto|cpu|cuda] [--graphics auto|sixel|blocks|none]\n"
          "              [--theme NAME] [--output-dir DIR] [--precision auto|bf16|fp32|fp8]\n",
          f);
}

static int pick_gfx(zt_ui_app *a)
{
    const char *g = a->gfx_override[0] ? a->gfx_override : a->set.graphics;
    int colors = has_colors() && COLORS >= 8;
    if (!strcmp(g, "none"))
        return ZT_UI_GFX_NONE;
    if (!strcmp(g, "sixel"))
        return ZT_UI_GFX_SIXEL;
    if (!strcmp(g, "blocks") || !a->term.sixel) {
        if (a->term.truecolor)
            return ZT_UI_GFX_BLOCKS_TRUE;
        return colors && COLORS >= 256 ? ZT_UI_GFX_BLOCKS_256 : colors ? ZT_UI_GFX_BLOCKS_256
                                                                       : ZT_UI_GFX_ASCII;
    }
    return ZT_UI_GFX_SIXEL;
}

static void free_app(zt_ui_app *a)
{
    for (int i = 0; i < a->njobs; i++)
        free(a->jobs[i].prompt);
    free(a->jobs);
    for (int i = 0; i < a->nresults; i++) {
        zt_gen_params_free(&a->results[i].params);
        free(a->results[i].path);
        free(a->results[i].kept);
        free(a->results[i].rgb);
        free(a->results[i].thumb);
    }
    free(a->results);
    for (int i = 0; i < a->ntheme_names; i++)
        free(a->theme_names[i]);
    free(a->theme_names);
    free(a->img);
    free(a->blocks);
    zt_ui_buf_free(&a->paste);
    free(a->hist_draft);
    zt_ui_editor_free(&a->prompt);
    zt_ui_editor_free(&a->negative);
    zt_ui_editor_free(&a->input);
    zt_ui_settings_free(&a->set);
    zt_ui_history_free(&a->hist);
}

/* The paths written this session, one a line, for the shell. */
static void print_results(const zt_ui_app *a)
{
    for (int i = 0; i < a->nresults; i++)
        if (a->results[i].path)
            printf("%s\n", a->results[i].path);
}

/* Leaving with images that could not be written (the quit popup said so,
 * or a signal ended the session): each goes where gen keeps such images,
 * named on stderr, rather than being lost with the process. */
static int keep_unsaved_all(zt_ui_app *a)
{
    int lost = 0;
    for (int i = 0; i < a->nresults; i++) {
        zt_ui_result *r = &a->results[i];
        zt_err why = {0};
        if (r->rgb && !keep_copy(r, &why)) {
            zt_cli_fail("the image not saved (seed %llu) could not be kept either (%s); its seed "
                        "and settings make it again",
                        (unsigned long long)r->params.seed, why.msg);
            lost++;
            free(r->rgb); /* tried once */
            r->rgb = NULL;
        }
        /* (also the ones kept when the quit was confirmed) */
        if (r->kept)
            zt_cli_fail("the image not saved (seed %llu) is kept as %s",
                        (unsigned long long)r->params.seed, r->kept);
        free(r->kept);
        r->kept = NULL;
    }
    return lost; /* images neither written nor kept */
}

/* Leaving with jobs under way: they are cancelled, and the running one
 * stops at the end of its step on the GPU, within one op on the CPU.
 * Meanwhile a signal (Ctrl-C, the terminal being back in cooked mode)
 * leaves at once, once no image is being written and any not saved are
 * kept; so does a second one when a signal ended the session. Events still
 * come in as before, so an image finished meanwhile is among the results
 * printed. */
/* Every event queued now, handled; returns how many. */
static int drain_events(zt_ui_app *a)
{
    int n = 0;
    zt_event ev;
    for (; zt_engine_poll(a->eng, &ev) == 1; n++) {
        on_event(a, &ev);
        zt_event_free(&ev);
    }
    return n;
}

static void wait_for_cancel(zt_ui_app *a)
{
    if (!a->eng)
        return;
    int stops = zt_cli_stops, said = 0;
    for (;;) {
        /* read before the drain: a job's last event is queued as it stops
         * counting, so once this reads 0 the drain sees every event (an
         * image that could not be written among them) */
        int pending = zt_engine_pending(a->eng);
        drain_events(a);
        if (!pending)
            return;
        if (!said) {
            fprintf(stderr, "zimt: cancelling %d job%s (Ctrl-C to leave at once)\n", pending,
                    pending == 1 ? "" : "s");
            zt_engine_cancel_all(a->eng);
            said = 1;
        }
        if (zt_cli_stops > stops || stops > 1) {
            /* an image whose file failed meanwhile (the writer finishing
             * what came before the cancel) is kept before writes stop */
            keep_unsaved_all(a);
            zt_engine_stop_writes(a->eng);
            drain_events(a); /* an image written just before */
            fprintf(stderr, "zimt: left at once\n");
            print_results(a);
            fflush(NULL);
            _exit(128 + zt_cli_stop);
        }
        struct pollfd pfd = {zt_engine_event_fd(a->eng), POLLIN, 0};
        poll(&pfd, 1, 200);
    }
}

/* 1 when dir is the bundled tiny model, however it was named (relative,
 * absolute, through a link). */
static int is_bundled_model(const char *dir)
{
    char tiny[4096];
    if (!zt_cli_bundled_model(tiny, sizeof tiny))
        return 0;
    char *a = realpath(dir, NULL), *b = realpath(tiny, NULL);
    int same = a && b && !strcmp(a, b);
    free(a);
    free(b);
    return same;
}

int zt_cmd_ui(int argc, char **argv)
{
    static zt_ui_app app;
    zt_ui_app *a = &app;
    const char *model = NULL, *device = "auto", *theme = NULL, *outdir = NULL, *gfx = NULL,
               *precision = NULL;
    /* every option takes a value; each is checked after the loop */
    const struct {
        const char *name;
        const char **val;
    } opts[] = {{"--model", &model},   {"--device", &device},      {"--graphics", &gfx},
                {"--theme", &theme},   {"--output-dir", &outdir}, {"--precision", &precision}};
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 0;
        }
        int k = 0;
        while (k < nopts && strcmp(o, opts[k].name))
            k++;
        if (k == nopts || i + 1 == argc) {
            zt_cli_fail(k < nopts ? "option '%s' needs a value" : "unknown option '%s'", o);
            usage(stderr);
            return 2;
        }
        *opts[k].val = argv[++i];
    }
    if (gfx) {
        if (strcmp(gfx, "auto") && strcmp(gfx, "sixel") && strcmp(gfx, "blocks") &&
            strcmp(gfx, "none"))
            return zt_cli_fail("--graphics must be auto, sixel, blocks or none"), 2;
        snprintf(a->gfx_override, sizeof a->gfx_override, "%s", gfx);
    }
    zt_precision prec = ZT_PRECISION_AUTO;
    zt_err perr = {0};
    if (precision && zt_precision_parse(precision, &prec, &perr) != ZT_OK)
        return zt_cli_error(&perr), 2;
    if (device && zt_parse_device(device, &perr) != ZT_OK)
        return zt_cli_error(&perr), 2;
    a->precision = prec;
    /* as gen plans against it */
    zt_err lerr = {0};
    if (zt_mem_limit_env(&a->mem_limit, &lerr) != ZT_OK)
        return zt_cli_error(&lerr);
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return zt_cli_fail("the workbench needs a terminal (use 'zimt gen' in scripts)");
    char term_why[256];
    if (!zt_ui_term_usable(STDOUT_FILENO, term_why, sizeof term_why))
        return zt_cli_fail("%s", term_why);
    setlocale(LC_ALL, "");
    /* The plain C locale (common over SSH, where the client's locale is
     * often missing) cannot write any non-ASCII text; its terminal is
     * nearly always UTF-8, so take C.UTF-8 for the characters, as other
     * tools coerce it. Any other locale's encoding is used as it is. */
    if (strcmp(nl_langinfo(CODESET), "UTF-8") && !strcmp(nl_langinfo(CODESET), "ANSI_X3.4-1968"))
        setlocale(LC_CTYPE, "C.UTF-8");
    a->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    /* numbers are typed, shown and written with '.', as the command line
     * takes them, whatever the user's locale writes (3,5 under de_DE) */
    setlocale(LC_NUMERIC, "C");

    /* Problems with the remembered files are shown once the screen is up
     * (stderr is hidden behind it until exit). */
    /* one at a time: joined, the second ran past the status line's end */
    char warn[600] = "", hwarn[sizeof a->status_next] = "", why[512] = "";
    if (zt_ui_settings_load(&a->set, why, sizeof why))
        snprintf(warn, sizeof warn, "settings not used: %s%s%.63s%s", why,
                 a->set.file.bad_file ? " (kept as " : "", a->set.file.aside,
                 a->set.file.bad_file ? " when settings change)" : "");
    if (zt_ui_history_load(&a->hist, why, sizeof why))
        snprintf(hwarn, sizeof hwarn, "history %s: %s%s%.63s%s",
                 a->hist.n ? "partly used" : "not used", why,
                 a->hist.file.bad_file ? " (kept as " : "", a->hist.file.aside,
                 a->hist.file.bad_file ? " when a prompt is added)" : "");
    if (!warn[0]) {
        snprintf(warn, sizeof warn, "%s", hwarn);
        hwarn[0] = 0;
    }
    a->hist_pos = a->hist.n;
    int made;
    if (outdir && set_outdir(a, outdir, &made, why, sizeof why))
        return zt_cli_fail("--output-dir: %s", why);
    zt_ui_editor_init(&a->prompt);
    zt_ui_editor_init(&a->negative);
    zt_ui_editor_init(&a->input);
    zt_ui_editor_set(&a->prompt, a->set.params.prompt);
    zt_ui_editor_set(&a->negative, a->set.params.negative_prompt);
    zt_ui_editor_forget_undo(&a->prompt);
    zt_ui_editor_forget_undo(&a->negative);
    const char *nc = getenv("NO_COLOR");
    a->no_color = nc && *nc;
    a->ntheme_names = zt_ui_theme_list(&a->theme_names);
    a->tty_fd = STDOUT_FILENO;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    a->phys_mem = pages > 0 && psz > 0 ? pages * psz : 0;

    /* --model, $ZIMT_MODEL, the download caches; else the bundled tiny
     * model with a notice in the title bar. */
    zt_err derr = {0};
    int bundled;
    if (zt_cli_model(model, a->model_dir, sizeof a->model_dir, 1, &bundled, &derr) != ZT_OK) {
        free_app(a);
        return zt_cli_error(&derr);
    }
    if (bundled) {
        snprintf(a->notice, sizeof a->notice,
                 "no model found: bundled tiny model (noise images; see zimt doctor)");
    } else if (is_bundled_model(a->model_dir)) {
        snprintf(a->notice, sizeof a->notice, "bundled tiny model: noise-like images");
    }
    zt_engine_opts eo = {0};
    eo.model_dir = a->model_dir;
    eo.device = device;
    eo.precision = prec;
    eo.previews = 1;
    eo.mem_limit = a->mem_limit;
    zt_err err = {0};
    if (zt_engine_new(&a->eng, &eo, &err) != ZT_OK) {
        free_app(a);
        return zt_cli_error(&err);
    }

    /* Signals only set a flag from here on (no SA_RESTART: poll() wakes),
     * so Ctrl-C during the terminal query below still restores the tty. */
    zt_cli_catch_stop();
    /* Ask the terminal before curses owns it. */
    zt_ui_term_detect(&a->term, STDIN_FILENO, 1000);
    if (zt_cli_stop) {
        int sig = zt_cli_stop;
        zt_engine_free(a->eng);
        free_app(a);
        return 128 + sig;
    }

    set_escdelay(25);
    initscr();
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    if (has_colors()) {
        start_color();
        use_default_colors();
    }
    k_cleft = key_defined("\033[1;5D");
    k_cright = key_defined("\033[1;5C");
    /* bracketed paste: pasted newlines must not start jobs */
    fputs("\033[?2004h", stdout);
    fflush(stdout);
    a->status[0] = 0;
    /* --theme for this run; the remembered one if that does not load */
    set_theme(a, theme ? theme : a->set.theme[0] ? a->set.theme : "dark", a->set.theme);
    a->gfx = pick_gfx(a);
    if (warn[0]) {
        char theme_msg[sizeof a->status];
        snprintf(theme_msg, sizeof theme_msg, "%s", a->status);
        zt_ui_say(a, ZT_UI_ROLE_ERROR, "%s%s%s", theme_msg, theme_msg[0] ? "; " : "", warn);
        snprintf(a->status_next, sizeof a->status_next, "%s", hwarn);
    }

    long next_tick = 0;
    int dirty = 1;
    while (!a->quit && !zt_cli_stop) {
        long now = (long)zt_now_ms();
        if (now >= next_tick) {
            zt_engine_memory(a->eng, &a->mem);
            next_tick = now + 1000;
            dirty = 1;
        }
        if (dirty) {
            if (a->redraw_all) {
                clearok(curscr, TRUE);
                a->img_shown = 0; /* the clear removed it */
                a->img_dirty = 1;
                a->redraw_all = 0;
            }
            int had_popup = a->popup;
            zt_ui_draw(a);
            if (had_popup && a->img_shown && (a->gfx == ZT_UI_GFX_SIXEL ||
                                              a->gfx == ZT_UI_GFX_BLOCKS_TRUE)) {
                /* Erase the image before curses paints the popup, so no
                 * pixels show through the popup's blank cells. */
                zt_ui_image_erase(a);
                touchwin(stdscr);
            }
            refresh();
            zt_ui_draw_overlay(a);
            dirty = 0;
        }
        /* Wait for input, an engine event or the next tick; a pending live
         * preview that was rate-limited asks to be woken sooner. */
        int timeout = (int)(next_tick - (long)zt_now_ms());
        if (a->img && a->img_dirty && !a->popup && timeout > 100)
            timeout = 100;
        if (a->pasting && timeout > 500)
            timeout = 500; /* to notice a paste that stopped */
        if (timeout < 0)
            timeout = 0;
        struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0},
                                {zt_engine_event_fd(a->eng), POLLIN, 0}};
        int pr = poll(fds, 2, timeout);
        if (pr < 0 && errno != EINTR)
            break;
        if (fds[0].revents & (POLLHUP | POLLERR))
            break; /* the terminal went away */
        if (drain_events(a))
            dirty = 1;
        int was_popup = a->popup;
        if (drain_keys(a))
            dirty = 1;
        if (was_popup && !a->popup)
            a->img_dirty = 1; /* send the image again over the closed popup */
        if (a->img_dirty)
            dirty = 1;
        if (pr == 0 || zt_cli_stop)
            dirty = 1;
    }
    fputs("\033[?2004l", stdout);
    fflush(stdout);
    endwin();
    int src = store_settings(a, why, sizeof why);
    if (src)
        zt_cli_fail("settings %s: %s", src < 0 ? "not saved" : "saved", why);
    int lost = keep_unsaved_all(a);
    wait_for_cancel(a);
    lost += keep_unsaved_all(a); /* any that came in meanwhile */
    int sig = zt_cli_stop;
    zt_engine_free(a->eng);
    print_results(a);
    free_app(a);
    /* an image lost is a failure, as in gen */
    return sig ? 128 + sig : lost ? 1 : 0;
}
