/*
 * discovery.c - model resolution across command line, environment and the
 * Hugging Face and ModelScope caches (see discovery.h).
 *
 * Every candidate is checked with zt_modelcheck_run, even after one was
 * chosen, so a report shows the whole picture (a stale download next to a
 * good one, say). Checking costs a few stat() calls and reading small index
 * files per candidate.
 */
#include "discovery.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modelcheck.h"

typedef struct ctx {
    zt_getenv_fn env;
    void *ud;
    zt_discovery_report *rep;
    const char *partial; /* the candidate's partial_dir while it is added */
} ctx;

static const char *sys_getenv(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

/* A variable that is set and not empty, else NULL. */
static const char *var(const ctx *c, const char *name)
{
    const char *v = c->env(c->ud, name);
    return v && v[0] ? v : NULL;
}

const char *zt_place_state_str(zt_place_state s)
{
    switch (s) {
    case ZT_PLACE_ABSENT:
        return "absent";
    case ZT_PLACE_INCOMPLETE:
        return "incomplete";
    case ZT_PLACE_COMPLETE:
        return "complete";
    case ZT_PLACE_CHOSEN:
        return "chosen";
    }
    return "?";
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void warn(ctx *c, const char *fmt, ...)
{
    zt_discovery_report *r = c->rep;
    if (r->n_warnings >= ZT_DISCOVERY_WARNINGS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->n_warnings++], sizeof r->warnings[0], fmt, ap);
    va_end(ap);
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static void add_place(ctx *c, const char *source, const char *path, zt_place_state st,
                      const char *fmt, ...)
{
    zt_discovery_report *r = c->rep;
    zt_discovery_place *p;
    if (r->n_places < ZT_DISCOVERY_PLACES_MAX) {
        p = &r->places[r->n_places++];
    } else {
        /* The list is full. A complete model must still be found: the
         * first one takes the last row unless one is listed already. */
        r->n_omitted++;
        int have = 0;
        for (int i = 0; i < r->n_places && !have; i++)
            have = r->places[i].state == ZT_PLACE_COMPLETE;
        if (st != ZT_PLACE_COMPLETE || have)
            return;
        p = &r->places[r->n_places - 1];
    }
    snprintf(p->source, sizeof p->source, "%s", source);
    snprintf(p->path, sizeof p->path, "%s", path);
    snprintf(p->partial, sizeof p->partial, "%s", c->partial ? c->partial : "");
    p->state = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof p->detail, fmt, ap);
    va_end(ap);
}

/* snprintf into a path buffer; a path too long for it is cut short, and a
 * cut path then simply names nothing on disk. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void pathf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Checks a model directory and records it. */
static void candidate(ctx *c, const char *source, const char *dir, const char *partial_dir)
{
    zt_modelcheck mc;
    zt_modelcheck_run(&mc, dir, partial_dir);
    c->partial = partial_dir;
    if (!mc.exists)
        add_place(c, source, dir, ZT_PLACE_ABSENT, "does not exist");
    else if (mc.n_problems)
        add_place(c, source, dir, ZT_PLACE_INCOMPLETE, "%s%s", zt_modelcheck_reason(&mc),
                  mc.n_problems > 1 ? " (and more)" : "");
    else if (mc.incomplete)
        add_place(c, source, dir, ZT_PLACE_COMPLETE,
                  "complete; an unrelated unfinished download sits in %s", mc.incomplete_where);
    else
        add_place(c, source, dir, ZT_PLACE_COMPLETE, "complete");
    c->partial = NULL;
}

/* ---- Hugging Face ----------------------------------------------------------- */

/* The revision refs/main names, or "" (refs are a hash and a newline). */
static void read_ref(const char *repo, char *rev, size_t n)
{
    rev[0] = 0;
    char path[ZT_PATH_MAX + 32];
    pathf(path, sizeof path, "%s/refs/main", repo);
    char *text = NULL;
    /* a FIFO is refused, not waited on; anything unreadable names no revision */
    if (zt_read_file(path, 4096, &text, NULL, NULL) != ZT_OK)
        return;
    snprintf(rev, n, "%s", text);
    free(text);
    rev[strcspn(rev, " \t\r\n")] = 0;
    /* A ref is a plain name; anything else is not followed. */
    if (strchr(rev, '/') || !strcmp(rev, ".") || !strcmp(rev, ".."))
        rev[0] = 0;
}

typedef struct snap {
    char name[256];
    long long mtime;
} snap;

static int snap_newest_first(const void *a, const void *b)
{
    const snap *x = a, *y = b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* A repo folder (models--Tongyi-MAI--Z-Image-Turbo): refs/main's snapshot,
 * then the other snapshots, newest first. */
static void hf_repo(ctx *c, const char *label, const char *repo)
{
    char rev[256], path[ZT_PATH_MAX], source[96], blobs[ZT_PATH_MAX];
    pathf(blobs, sizeof blobs, "%s/blobs", repo);
    read_ref(repo, rev, sizeof rev);
    if (rev[0]) {
        pathf(path, sizeof path, "%s/snapshots/%s", repo, rev);
        pathf(source, sizeof source, "%s, refs/main", label);
        if (is_dir(path))
            candidate(c, source, path, blobs);
        else
            add_place(c, source, path, ZT_PLACE_INCOMPLETE,
                      "refs/main names revision %s but its snapshot folder is missing", rev);
    }
    pathf(path, sizeof path, "%s/snapshots", repo);
    DIR *d = opendir(path);
    if (!d) {
        if (!rev[0])
            add_place(c, label, repo, ZT_PLACE_INCOMPLETE,
                      "no snapshots/ folder: the download never finished a file");
        return;
    }
    /* every snapshot is read before sorting, so that the newest wins
     * whatever the directory's order */
    snap *s = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, rev))
            continue;
        char p[ZT_PATH_MAX + 300];
        struct stat sb;
        pathf(p, sizeof p, "%s/%s", path, de->d_name);
        if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (n == cap) {
            snap *g = cap < (1 << 20) ? realloc(s, (size_t)(cap ? 2 * cap : 32) * sizeof *s)
                                      : NULL;
            if (!g) {
                warn(c, "%s: only the first %d snapshots were looked at (out of memory)",
                     path, n);
                break;
            }
            s = g;
            cap = cap ? 2 * cap : 32;
        }
        snprintf(s[n].name, sizeof s[n].name, "%s", de->d_name);
        s[n++].mtime = (long long)sb.st_mtime;
    }
    closedir(d);
    if (n)
        qsort(s, (size_t)n, sizeof s[0], snap_newest_first);
    if (!n && !rev[0])
        add_place(c, label, path, ZT_PLACE_INCOMPLETE, "no snapshot in it");
    for (int i = 0; i < n; i++) {
        char p[ZT_PATH_MAX + 300];
        pathf(p, sizeof p, "%s/%s", path, s[i].name);
        pathf(source, sizeof source, "%s, snapshot %.12s", label, s[i].name);
        candidate(c, source, p, blobs);
    }
    free(s);
}

static void hf_root(ctx *c, const char *label, const char *root)
{
    char repo[ZT_PATH_MAX];
    pathf(repo, sizeof repo, "%s/%s", root, ZT_HF_REPO_DIR);
    if (!is_dir(root))
        add_place(c, label, root, ZT_PLACE_ABSENT, "does not exist");
    else if (!is_dir(repo))
        add_place(c, label, root, ZT_PLACE_ABSENT, "exists, but holds no %s", ZT_HF_REPO_DIR);
    else
        hf_repo(c, label, repo);
}

/* Same folder? Compared after resolving links when both exist. */
static int same_dir(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    if (realpath(a, ra) && realpath(b, rb))
        return !strcmp(ra, rb);
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (lb > 1 && b[lb - 1] == '/')
        lb--;
    return la == lb && !strncmp(a, b, la);
}

static void hf_caches(ctx *c)
{
    const char *hub = var(c, "HF_HUB_CACHE"), *home = var(c, "HF_HOME");
    const char *xdg = var(c, "XDG_CACHE_HOME"), *user = var(c, "HOME");
    char roots[3][ZT_PATH_MAX], labels[3][64];
    int n = 0;
    char p[ZT_PATH_MAX];
    if (hub) {
        pathf(roots[n], sizeof roots[n], "%s", hub);
        snprintf(labels[n++], sizeof labels[0], "Hugging Face cache ($HF_HUB_CACHE)");
    }
    if (home) {
        pathf(p, sizeof p, "%s/hub", home);
        if (!hub) {
            pathf(roots[n], sizeof roots[n], "%s", p);
            snprintf(labels[n++], sizeof labels[0], "Hugging Face cache ($HF_HOME/hub)");
        } else if (!same_dir(hub, p)) {
            /* The downloader used one of them; which one is unknowable, so
             * both are searched, the winner first. */
            warn(c,
                 "HF_HUB_CACHE (%s) and HF_HOME (%s) point to different places; the Hugging "
                 "Face tools use HF_HUB_CACHE, so %s is searched only second. Unset one of "
                 "them.",
                 hub, home, p);
            pathf(roots[n], sizeof roots[n], "%s", p);
            snprintf(labels[n++], sizeof labels[0], "$HF_HOME/hub (overridden by $HF_HUB_CACHE)");
        }
    }
    /* The default location, where a download made without the variables
     * went. */
    if (xdg)
        pathf(p, sizeof p, "%s/huggingface/hub", xdg);
    else if (user)
        pathf(p, sizeof p, "%s/.cache/huggingface/hub", user);
    else
        p[0] = 0;
    int dup = !p[0];
    for (int i = 0; i < n && !dup; i++)
        dup = same_dir(roots[i], p);
    if (!dup) {
        pathf(roots[n], sizeof roots[n], "%s", p);
        snprintf(labels[n++], sizeof labels[0], "Hugging Face cache (%s)",
                 hub || home ? "default location" : xdg ? "$XDG_CACHE_HOME" : "default");
    }
    for (int i = 0; i < n; i++)
        hf_root(c, labels[i], roots[i]);
}

/* ---- ModelScope ------------------------------------------------------------- */

static void ms_caches(ctx *c)
{
    const char *ms = var(c, "MODELSCOPE_CACHE"), *user = var(c, "HOME");
    char root[ZT_PATH_MAX];
    if (ms)
        pathf(root, sizeof root, "%s", ms);
    else if (user)
        pathf(root, sizeof root, "%s/.cache/modelscope/hub", user);
    else
        return;
    const char *label = ms ? "ModelScope cache ($MODELSCOPE_CACHE)" : "ModelScope cache";
    if (!is_dir(root)) {
        add_place(c, label, root, ZT_PLACE_ABSENT, "does not exist");
        return;
    }
    /* Older releases store <owner>/<name> at the root, newer ones under
     * models/; each keeps unfinished files in ._____temp beside them. */
    static const char *const sub[] = {"", "models/"};
    for (int i = 0; i < 2; i++) {
        char dir[ZT_PATH_MAX + 64], tmp[ZT_PATH_MAX + 64];
        pathf(dir, sizeof dir, "%s/%s%s", root, sub[i], ZT_MS_REPO_DIR);
        pathf(tmp, sizeof tmp, "%s/%s" ZT_MS_TEMP_DIR "/%s", root, sub[i], ZT_MS_REPO_DIR);
        if (is_dir(dir))
            candidate(c, label, dir, tmp);
        else
            add_place(c, label, dir, ZT_PLACE_ABSENT, "does not exist");
    }
}

/* ---- resolution ------------------------------------------------------------- */

/* A user-named folder may be a model, or a Hugging Face repo folder (the one
 * holding snapshots/), which is searched like a cache entry. */
static void user_dir(ctx *c, const char *source, const char *dir)
{
    char p[ZT_PATH_MAX + 32];
    struct stat sb;
    pathf(p, sizeof p, "%s/snapshots", dir);
    int repo = stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
    pathf(p, sizeof p, "%s/model_index.json", dir);
    if (repo && stat(p, &sb) != 0)
        hf_repo(c, source, dir);
    else
        candidate(c, source, dir, NULL);
}

zt_status zt_model_dir_check(const char *dir, zt_err *err)
{
    struct stat sb;
    if (!dir || !*dir)
        return zt_fail(err, ZT_ERR_INVALID, "the model directory is an empty path");
    if (stat(dir, &sb) != 0)
        return zt_fail(err, errno == ENOENT ? ZT_ERR_MISSING : ZT_ERR_IO,
                       errno == ENOENT ? "model directory %s does not exist"
                                       : "model directory %s: %s",
                       dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return zt_fail(err, ZT_ERR_INVALID, "model directory %s is not a directory", dir);
    return ZT_OK;
}

zt_status zt_discover_model_env(const char *explicit_dir, zt_getenv_fn env, void *ud, char *out,
                                size_t n, zt_discovery_report *rep, zt_err *err)
{
    zt_discovery_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    rep->chosen = -1;
    ctx c = {env ? env : sys_getenv, ud, rep, NULL};
    if (n)
        out[0] = 0;

    if (explicit_dir) {
        /* named by the user: not a directory is an error, not a place
         * passed over */
        zt_status st = zt_model_dir_check(explicit_dir, err);
        if (st != ZT_OK)
            return st;
        user_dir(&c, "--model", explicit_dir);
        rep->explicit_dir = 1;
    } else {
        const char *zm = var(&c, "ZIMT_MODEL");
        if (zm)
            user_dir(&c, "$ZIMT_MODEL", zm);
        hf_caches(&c);
        ms_caches(&c);
    }
    for (int i = 0; i < rep->n_places; i++)
        if (rep->places[i].state == ZT_PLACE_COMPLETE) {
            rep->places[i].state = ZT_PLACE_CHOSEN;
            rep->chosen = i;
            break;
        }
    if (rep->chosen < 0 && explicit_dir && rep->n_places) {
        /* Named on the command line: used as it is, so that loading reports
         * exactly what is wrong with it. */
        rep->chosen = 0;
        for (int i = 0; i < rep->n_places; i++)
            if (rep->places[i].state == ZT_PLACE_INCOMPLETE) {
                rep->chosen = i;
                break;
            }
    }
    if (rep->chosen < 0) {
        const zt_discovery_place *best = NULL;
        for (int i = 0; i < rep->n_places && !best; i++)
            if (rep->places[i].state == ZT_PLACE_INCOMPLETE)
                best = &rep->places[i];
        int looked = rep->n_places + rep->n_omitted;
        if (best)
            return zt_fail(err, ZT_ERR_MISSING,
                           "no complete Z-Image-Turbo model found in %d places; closest: %s: %s",
                           looked, best->path, best->detail);
        return zt_fail(err, ZT_ERR_MISSING,
                       "no Z-Image-Turbo model found in %d places (%s ZIMT_MODEL, pass "
                       "--model DIR, or download Tongyi-MAI/Z-Image-Turbo)",
                       looked, !explicit_dir && var(&c, "ZIMT_MODEL") ? "fix" : "set");
    }
    const char *dir = rep->places[rep->chosen].path;
    if (strlen(dir) >= n)
        return zt_fail(err, ZT_ERR_INVALID, "%.200s...: model path too long", dir);
    snprintf(out, n, "%s", dir);
    return ZT_OK;
}

zt_status zt_discover_model(const char *explicit_dir, char *out, size_t n,
                            zt_discovery_report *rep, zt_err *err)
{
    return zt_discover_model_env(explicit_dir, NULL, NULL, out, n, rep, err);
}

int zt_exe_dir(char *buf, size_t n)
{
    if (n < 2)
        return -1;
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0 || (size_t)len >= n - 1) /* n - 1 bytes may be a cut path */
        return -1;
    buf[len] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return -1;
    *slash = 0;
    return 0;
}
