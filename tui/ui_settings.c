/* ui_settings.c - settings and prompt history as JSON files (see ui_settings.h). */
#include "ui_settings.h"

#include "config.h"
#include "json.h"
#include "outpath.h"
#include "pipeline.h"
#include "tokenizer.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void xdg_dir(const char *var, const char *fallback, char *out, int len)
{
    const char *x = getenv(var), *home = getenv("HOME");
    if (x && *x == '/')
        snprintf(out, (size_t)len, "%s/zimt", x);
    else
        snprintf(out, (size_t)len, "%s/%s/zimt", home && *home ? home : ".", fallback);
}

void zt_ui_config_dir(char *out, int len)
{
    xdg_dir("XDG_CONFIG_HOME", ".config", out, len);
}

void zt_ui_state_dir(char *out, int len)
{
    xdg_dir("XDG_STATE_HOME", ".local/state", out, len);
}

/* mkdir -p */
int zt_ui_make_dirs(const char *dir)
{
    return zt_outpath_make_dir(dir, NULL, 0, NULL) == ZT_OK ? 0 : -1;
}

/* dir exists (save_kind made it, to lock it) */
static int write_atomic(const char *dir, const char *name, const char *text, char *why,
                        int why_len)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    /* a name of its own, made new (never a link or a file left there) */
    snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "wb");
    if (!f) {
        snprintf(why, (size_t)why_len, "%s: %s", fd < 0 ? path : tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return -1;
    }
    (void)fchmod(fd, 0644); /* mkstemp's 0600, as a plain save would not */
    int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) {
        snprintf(why, (size_t)why_len, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    /* the rename itself on disk: a crash right after leaves the new file */
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
        (void)fsync(d);
        close(d);
    }
    return 0;
}

void zt_ui_settings_defaults(zt_ui_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->theme, sizeof s->theme, "dark");
    snprintf(s->graphics, sizeof s->graphics, "auto");
    snprintf(s->output_dir, sizeof s->output_dir, ".");
    zt_gen_params_init(&s->params);
    s->params.width = 1024;
    s->params.height = 768;
}

void zt_ui_settings_free(zt_ui_settings *s)
{
    if (!s)
        return;
    zt_gen_params_free(&s->params);
    free(s->file.mine);
    s->file.mine = NULL;
}

char *zt_ui_settings_to_json(const zt_ui_settings *s)
{
    cJSON *root = cJSON_CreateObject();
    char *pj = NULL, *out = NULL;
    zt_err err;
    if (!root)
        return NULL;
    /* every field or nothing: a file without one would lose it */
    int ok = cJSON_AddStringToObject(root, "theme", s->theme) &&
             cJSON_AddStringToObject(root, "graphics", s->graphics) &&
             cJSON_AddStringToObject(root, "output_dir", s->output_dir) &&
             cJSON_AddBoolToObject(root, "seed_locked", s->seed_locked);
    /* the params' text as written (parsed and printed again, a seed near
     * 2^53 came back as 9.00719925474099e+15: another seed); without it
     * nothing is written, rather than a file that loses the prompt */
    if (ok && zt_gen_params_to_json(&s->params, &pj, &err) == ZT_OK &&
        cJSON_AddRawToObject(root, "params", pj))
        out = cJSON_Print(root);
    free(pj);
    cJSON_Delete(root);
    return out;
}

/* 1 when root's key is absent or a string of UTF-8 text shorter than n
 * bytes: one that is not (a number, raw bytes, too long) makes the file
 * damaged, kept aside before a save (it was ignored, and the next save
 * wrote the default over it) */
static int str_usable(const cJSON *root, const char *key, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return !v || (cJSON_IsString(v) && strlen(v->valuestring) < n &&
                  zt_utf8_validate(v->valuestring, strlen(v->valuestring), NULL));
}

static void copy_str(const cJSON *root, const char *key, char *dst, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsString(v))
        snprintf(dst, n, "%s", v->valuestring);
}

/* The root of a settings or history file; NULL with why and *rc (-1
 * for text that is not a JSON object, or one with a string holding \u0000,
 * which cJSON ends there, so the field or prompt would be taken cut; -2
 * when memory ran out). */
static cJSON *parse_root(const char *json, int *rc, char *why, int why_len)
{
    int nomem = 0;
    cJSON *root = zt_json_parse_object(json, why, (size_t)why_len, &nomem);
    if (!root) {
        *rc = nomem ? -2 : -1;
    } else if (zt_json_has_nul_escape(json)) {
        cJSON_Delete(root);
        snprintf(why, (size_t)why_len, "a string holds \\u0000");
        *rc = -1;
        root = NULL;
    }
    return root;
}

int zt_ui_settings_from_json(zt_ui_settings *s, const char *json, char *why, int why_len)
{
    int rc;
    cJSON *root = parse_root(json, &rc, why, why_len);
    if (!root)
        return rc;
    /* All or nothing: a file whose params a job would refuse is not used
     * at all (it is kept aside), so its other fields are not applied
     * either. The params are checked before anything is copied. */
    static const char *const texts[] = {"theme", "graphics", "output_dir"};
    const size_t caps[] = {sizeof s->theme, sizeof s->graphics, sizeof s->output_dir};
    for (int i = 0; i < 3; i++)
        if (!str_usable(root, texts[i], caps[i])) {
            cJSON_Delete(root);
            snprintf(why, (size_t)why_len, "'%s' is not UTF-8 text of at most %zu bytes",
                     texts[i], caps[i] - 1);
            return -1;
        }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "params");
    if (cJSON_IsObject(p)) {
        zt_gen_params tmp = {0}; /* from_object resets it */
        /* read from the object (printed and parsed again, a seed near 2^53
         * came back as another number); cJSON ends a string at \u0000 */
        zt_err err = {0};
        zt_status st = zt_gen_params_from_object(&tmp, p, &err);
        if (st == ZT_OK)
            st = zt_gen_params_check_values(&tmp, &err);
        if (st != ZT_OK) {
            zt_gen_params_free(&tmp);
            cJSON_Delete(root);
            snprintf(why, (size_t)why_len, "params: %s", err.msg);
            return st == ZT_ERR_NOMEM ? -2 : -1;
        }
        zt_gen_params_free(&s->params);
        s->params = tmp;
    }
    copy_str(root, "theme", s->theme, sizeof s->theme);
    copy_str(root, "graphics", s->graphics, sizeof s->graphics);
    copy_str(root, "output_dir", s->output_dir, sizeof s->output_dir);
    const cJSON *lk = cJSON_GetObjectItemCaseSensitive(root, "seed_locked");
    if (cJSON_IsBool(lk))
        s->seed_locked = cJSON_IsTrue(lk);
    cJSON_Delete(root);
    return 0;
}

/* A kind of file the front end keeps: where it lives and how its JSON
 * is read and written. merge makes the JSON a save writes when the file
 * holds disk (which another workbench may have written since mine was
 * read or written here): 0 with *out (heap; NULL without memory), or -1
 * with why when disk cannot be read as this kind. */
typedef struct file_kind {
    const char *name;
    void (*dir)(char *out, int len);
    int (*parse)(void *obj, const char *json, char *why, int why_len);
    char *(*to_json)(const void *obj); /* heap, or NULL without memory */
    int (*merge)(void *obj, const char *mine, const char *disk, char **out, char *why,
                 int why_len);
} file_kind;

#define ASIDE_MAX 1000 /* NAME.bad, then NAME.bad.1 .. NAME.bad.999 */

static void aside_name(const char *name, int k, char *out, size_t n)
{
    if (k)
        snprintf(out, n, "%s.bad.%d", name, k);
    else
        snprintf(out, n, "%s.bad", name);
}

/* The name a bad file in dir will be kept as: the first free of NAME.bad,
 * NAME.bad.1, ... (the last one tried when all are taken). */
static void plan_aside(const char *dir, const char *name, zt_ui_file *f)
{
    for (int k = 0; k < ASIDE_MAX; k++) {
        char path[4300];
        struct stat st;
        aside_name(name, k, f->aside, sizeof f->aside);
        snprintf(path, sizeof path, "%s/%s", dir, f->aside);
        if (lstat(path, &st) && errno == ENOENT)
            return;
    }
}

/* Moves dir/name to the first free NAME.bad[.K] and names it in f->aside.
 * An earlier copy is never replaced: link() fails on a name that exists,
 * where rename() would replace it; only a file system without hard links
 * gets a rename onto a name seen free just before. 0 when kept or when
 * the file is gone already; -1 with errno. */
static int keep_aside(const char *dir, const char *name, zt_ui_file *f)
{
    char path[4200], aside[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (int k = 0; k < ASIDE_MAX; k++) {
        aside_name(name, k, f->aside, sizeof f->aside);
        snprintf(aside, sizeof aside, "%s/%s", dir, f->aside);
        if (link(path, aside) == 0) {
            unlink(path); /* if it stays, the save replaces it: the copy is kept */
            return 0;
        }
        if (errno == EEXIST)
            continue;
        if (errno == ENOENT)
            return 0;
        struct stat st;
        if (lstat(aside, &st) == 0)
            continue;
        return rename(path, aside) && errno != ENOENT ? -1 : 0;
    }
    errno = EEXIST;
    return -1;
}

/* The file's text (heap) in *disk, NULL when there is none; -1 with why
 * when it is there but cannot be read, -2 when memory ran out. */
static int read_current(const char *path, char **disk, char *why, int why_len)
{
    zt_err err = {0};
    *disk = NULL;
    zt_status st = zt_read_file(path, ZT_UI_FILE_MAX, disk, NULL, &err);
    if (st == ZT_OK || st == ZT_ERR_MISSING)
        return 0;
    snprintf(why, (size_t)why_len, "%s", err.msg);
    return st == ZT_ERR_NOMEM ? -2 : -1;
}

/* obj (already at its defaults) takes the file's values when it can be
 * read, and f notes the JSON they make. A missing file is not an error
 * (0, obj untouched); any other failure is -1 with why naming the file,
 * and f marks it to be kept aside before the first save over it. */
static int load_kind(const file_kind *k, void *obj, zt_ui_file *f, char *why, int why_len)
{
    char dir[4096], path[4200], sub[256] = "";
    k->dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, k->name);
    char *json = NULL;
    /* not a regular file (a FIFO would block the start for good), too
     * large, unreadable: the file is kept aside like a malformed one */
    int rc = read_current(path, &json, why, why_len) ? -1 : 0;
    struct stat sd;
    if (rc && stat(dir, &sd) == 0 && !S_ISDIR(sd.st_mode)) {
        /* no file to keep aside: the directory itself is a file */
        snprintf(why, (size_t)why_len, "%s is not a directory, so %s is neither read nor saved",
                 dir, k->name);
        return -1;
    }
    if (!rc && json && (rc = k->parse(obj, json, sub, sizeof sub)) != 0) {
        snprintf(why, (size_t)why_len, "%s: %s", path, sub);
    }
    free(json);
    if (rc) {
        f->bad_file = 1;
        plan_aside(dir, k->name, f);
    }
    /* the defaults when the file was not used: what a save measures this
     * workbench's own changes against */
    f->mine = k->to_json(obj);
    return rc;
}

/* text as written by write_atomic is json and a newline */
static int same_text(const char *text, const char *json)
{
    size_t n = strlen(json);
    return !strncmp(text, json, n) && (!text[n] || (text[n] == '\n' && !text[n + 1]));
}

/* Writes obj to its file, merged (k->merge) with what the file holds now,
 * unless that is what it holds already. The directory is locked from the
 * read to the rename, so two saves cannot both read the old file. The file
 * is read again even when it could not be used at the load: another
 * workbench may have replaced it since, and a good file is merged, never
 * kept aside. One that cannot be used now is first kept aside (see
 * keep_aside). On success f->mine becomes obj's JSON. 0, 1 when a file
 * first found damaged now was kept aside (why names the copy), or -1. */
static int save_kind(const file_kind *k, void *obj, zt_ui_file *f, char *why, int why_len)
{
    char dir[4096], path[4200], sub[512] = "";
    k->dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, k->name);
    if (zt_ui_make_dirs(dir)) {
        snprintf(why, (size_t)why_len, "%s: %s", dir, strerror(errno));
        return -1;
    }
    /* without a lock (a file system that has none) the save goes on: the
     * window it leaves is the few lines between the read and the rename */
    int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock >= 0)
        (void)flock(lock, LOCK_EX);
    char *disk = NULL, *out = NULL;
    const int known = f->bad_file; /* said at the start: not said again */
    int rc = -1, got = read_current(path, &disk, sub, sizeof sub);
    f->bad_file = got == -1; /* unreadable now: kept aside below */
    /* (without memory for a merge, out stays NULL: nothing is written) */
    if (disk && k->merge(obj, f->mine, disk, &out, sub, sizeof sub)) {
        free(disk); /* malformed now: kept aside below */
        disk = NULL;
        f->bad_file = 1;
    }
    if (f->bad_file)
        plan_aside(dir, k->name, f);
    if (!disk && got != -2)
        out = k->to_json(obj);
    char *now = out ? k->to_json(obj) : NULL;
    if (!now) {
        snprintf(why, (size_t)why_len, "out of memory");
    } else if (f->bad_file ? 0 : disk ? same_text(disk, out) : f->mine && !strcmp(f->mine, out)) {
        rc = 0; /* the file holds it already, or there is none and nothing changed */
    } else if (f->bad_file && keep_aside(dir, k->name, f)) {
        snprintf(why, (size_t)why_len, "%s could not be kept as %s (%s); not overwriting it",
                 path, f->aside, strerror(errno));
    } else {
        rc = write_atomic(dir, k->name, out, why, why_len);
        if (rc == 0 && f->bad_file && !known) {
            snprintf(why, (size_t)why_len, "%s was damaged (%s); kept as %s", path, sub,
                     f->aside);
            rc = 1;
        }
        f->bad_file = 0;
    }
    if (rc >= 0) {
        free(f->mine);
        f->mine = now;
        now = NULL;
    }
    if (lock >= 0)
        close(lock); /* releases the lock */
    free(now);
    free(out);
    free(disk);
    return rc;
}

static int parse_settings(void *obj, const char *json, char *why, int why_len)
{
    return zt_ui_settings_from_json(obj, json, why, why_len);
}

static char *settings_json(const void *obj)
{
    return zt_ui_settings_to_json(obj);
}

/* dst (the file's value) takes cur when cur is a change made here: when
 * it differs from base, this workbench's value as last read or written */
static void take_str(char *dst, size_t n, const char *cur, const char *base)
{
    if (strcmp(cur, base))
        snprintf(dst, n, "%s", cur);
}

/* The settings in disk with this workbench's own changes since mine on
 * top, field by field (the params as one): what another workbench sharing
 * the file changed stays, unless this one changed the same field. obj is
 * not changed: its screen keeps what it shows. */
static int settings_merge(void *obj, const char *mine, const char *disk, char **out, char *why,
                          int why_len)
{
    const zt_ui_settings *cur = obj;
    zt_ui_settings base, m;
    char sub[8];
    zt_ui_settings_defaults(&base);
    zt_ui_settings_defaults(&m);
    int rc = zt_ui_settings_from_json(&m, disk, why, why_len);
    *out = NULL;
    /* mine is this workbench's own JSON: it should fail only without memory */
    int rb = rc == 0 && mine ? zt_ui_settings_from_json(&base, mine, sub, sizeof sub) : 0;
    /* without a base (mine could not be made or read back) every field
     * counts as changed */
    if (rc == 0 && mine && rb == 0) {
        take_str(m.theme, sizeof m.theme, cur->theme, base.theme);
        take_str(m.graphics, sizeof m.graphics, cur->graphics, base.graphics);
        take_str(m.output_dir, sizeof m.output_dir, cur->output_dir, base.output_dir);
        if (cur->seed_locked != base.seed_locked)
            m.seed_locked = cur->seed_locked;
        if (zt_gen_params_equal(&cur->params, &base.params) ||
            zt_gen_params_copy(&m.params, &cur->params, NULL) == ZT_OK)
            *out = zt_ui_settings_to_json(&m);
    } else if (rc == 0 && (!mine || rb == -1)) {
        *out = zt_ui_settings_to_json(cur);
    }
    zt_ui_settings_free(&base);
    zt_ui_settings_free(&m);
    return rc == -2 ? 0 : rc; /* without memory: *out NULL says so */
}

static const file_kind settings_kind = {"settings.json", zt_ui_config_dir, parse_settings,
                                        settings_json, settings_merge};

int zt_ui_settings_load(zt_ui_settings *s, char *why, int why_len)
{
    zt_ui_settings_defaults(s);
    return load_kind(&settings_kind, s, &s->file, why, why_len);
}

int zt_ui_settings_save(zt_ui_settings *s, char *why, int why_len)
{
    return save_kind(&settings_kind, s, &s->file, why, why_len);
}

void zt_ui_history_free(zt_ui_history *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++)
        free(h->items[i]);
    free(h->items);
    free(h->file.mine);
    h->items = NULL;
    h->file.mine = NULL;
    h->n = h->fresh = 0;
}

/* zt_ui_history_add: 1 when prompt became the newest entry, 0 when it
 * is empty or the newest already, -1 without memory */
static int history_push(zt_ui_history *h, const char *prompt)
{
    if (!prompt || !*prompt)
        return 0;
    if (h->n && !strcmp(h->items[h->n - 1], prompt))
        return 0;
    char *c = strdup(prompt);
    if (!c)
        return -1;
    if (h->n == ZT_UI_HISTORY_MAX) {
        free(h->items[0]);
        memmove(h->items, h->items + 1, (size_t)(h->n - 1) * sizeof *h->items);
        h->n--;
    }
    char **v = realloc(h->items, (size_t)(h->n + 1) * sizeof *v);
    if (!v) {
        free(c);
        return -1;
    }
    h->items = v;
    h->items[h->n++] = c;
    return 1;
}

void zt_ui_history_add(zt_ui_history *h, const char *prompt)
{
    int k = history_push(h, prompt);
    if (k > 0 && h->fresh < h->n)
        h->fresh++;
    /* the newest already: not listed twice here, but still this
     * workbench's to add after another's prompts in the file */
    else if (k == 0 && prompt && *prompt && !h->fresh)
        h->fresh = 1;
}

/* The history as the file holds it (heap), or NULL without memory. */
static char *history_to_json(const void *obj)
{
    const zt_ui_history *h = obj;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "prompts") : NULL;
    int ok = arr != NULL; /* all the prompts or no file: one missing would be lost */
    for (int i = 0; ok && i < h->n; i++)
        ok = cJSON_AddItemToArray(arr, cJSON_CreateString(h->items[i]));
    char *json = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return json;
}

int zt_ui_history_from_json(zt_ui_history *h, const char *json, char *why, int why_len)
{
    int rc = 0;
    cJSON *root = parse_root(json, &rc, why, why_len);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "prompts"), *it;
    if (!root) /* why says what the text is */
        return rc;
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(root);
        snprintf(why, (size_t)why_len, "no 'prompts' list");
        return -1;
    }
    /* Entries that are not text are not recalled (a prompt from the file
     * must be something the editor and the tokenizer accept as it is), and
     * they make the file damaged, -1: the others are recalled, and the file
     * is kept aside before a save writes them without the bad ones. */
    int bad = 0, all = 0;
    cJSON_ArrayForEach(it, arr)
    {
        all++;
        if (!cJSON_IsString(it) ||
            !zt_utf8_validate(it->valuestring, strlen(it->valuestring), NULL)) {
            bad++;
        } else if (history_push(h, it->valuestring) < 0) {
            snprintf(why, (size_t)why_len, "out of memory");
            rc = -2;
            break;
        }
    }
    cJSON_Delete(root);
    if (rc == 0 && bad) {
        snprintf(why, (size_t)why_len, "%d of its %d prompts %s not UTF-8 text", bad, all,
                 bad == 1 ? "is" : "are");
        rc = -1;
    }
    return rc;
}

static int parse_history(void *obj, const char *json, char *why, int why_len)
{
    return zt_ui_history_from_json(obj, json, why, why_len);
}

/* The prompts in disk, then the ones added here since the file was last
 * read or written: h takes that list, so the prompts of another
 * workbench sharing the file are recalled here too. */
static int history_merge(void *obj, const char *mine, const char *disk, char **out, char *why,
                         int why_len)
{
    zt_ui_history *h = obj, m = {0};
    (void)mine;
    *out = NULL;
    int rc = zt_ui_history_from_json(&m, disk, why, why_len);
    for (int i = h->n - h->fresh; rc == 0 && i < h->n; i++) {
        int k = history_push(&m, h->items[i]);
        m.fresh += k > 0;
        rc = k < 0 ? -2 : 0;
    }
    if (m.fresh > m.n)
        m.fresh = m.n;
    if (rc == 0)
        *out = history_to_json(&m);
    if (*out) {
        for (int i = 0; i < h->n; i++)
            free(h->items[i]);
        free(h->items);
        h->items = m.items;
        h->n = m.n;
        h->fresh = m.fresh;
        m.items = NULL;
        m.n = 0;
    }
    zt_ui_history_free(&m);
    return rc == -2 ? 0 : rc; /* without memory: *out NULL says so */
}

static const file_kind history_kind = {"history.json", zt_ui_state_dir, parse_history,
                                       history_to_json, history_merge};

int zt_ui_history_load(zt_ui_history *h, char *why, int why_len)
{
    memset(h, 0, sizeof *h);
    int rc = load_kind(&history_kind, h, &h->file, why, why_len);
    h->fresh = 0;
    return rc;
}

int zt_ui_history_save(zt_ui_history *h, char *why, int why_len)
{
    int rc = save_kind(&history_kind, h, &h->file, why, why_len);
    if (rc >= 0)
        h->fresh = 0;
    return rc;
}
