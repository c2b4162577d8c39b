/* outpath.c - output names from templates, kept inside their directory
 * (see outpath.h). */
#include "outpath.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void zt_outpath_slug(const char *prompt, char out[ZT_OUTPATH_SLUG_MAX + 1])
{
    size_t n = 0, last_cut = 0;
    int pending_dash = 0;
    for (const unsigned char *p = (const unsigned char *)(prompt ? prompt : ""); *p; p++) {
        unsigned char c = *p;
        int word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!word) {
            pending_dash = n > 0;
            continue;
        }
        if (pending_dash) {
            if (n + 2 > ZT_OUTPATH_SLUG_MAX)
                break;
            last_cut = n;
            out[n++] = '-';
            pending_dash = 0;
        }
        if (n + 1 > ZT_OUTPATH_SLUG_MAX) {
            /* Cut mid-word: back up to the last word boundary when that
             * keeps at least half the room. */
            if (last_cut >= ZT_OUTPATH_SLUG_MAX / 2)
                n = last_cut;
            break;
        }
        out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    if (n == 0) {
        memcpy(out, "image", 6);
        return;
    }
    out[n] = 0;
}

/* Appends s to out[*n..cap); 0 when it does not fit. */
static int put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
    if (len >= cap - *n)
        return 0;
    memcpy(out + *n, s, len);
    *n += len;
    out[*n] = 0;
    return 1;
}

zt_status zt_outpath_expand(const char *tmpl, const zt_outpath_vars *v, char *out, size_t cap,
                            zt_err *err)
{
    size_t n = 0;
    if (!cap)
        return zt_fail(err, ZT_ERR_INVALID, "no room for the output name");
    out[0] = 0;
    for (const char *p = tmpl; *p;) {
        char buf[64], slug[ZT_OUTPATH_SLUG_MAX + 1]; /* s may point at either */
        const char *s = buf;
        size_t len;
        if (p[0] == '{' && p[1] == '{') {
            s = "{", len = 1, p += 2;
        } else if (p[0] == '}' && p[1] == '}') {
            s = "}", len = 1, p += 2;
        } else if (*p == '}') {
            return zt_fail(err, ZT_ERR_INVALID, "name template '%s': unmatched '}'", tmpl);
        } else if (*p == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                return zt_fail(err, ZT_ERR_INVALID, "name template '%s': unmatched '{'", tmpl);
            size_t k = (size_t)(end - p - 1);
            const char *key = p + 1;
            if (k == 4 && !memcmp(key, "date", 4)) {
                struct tm tm;
                time_t t = v->when;
                if (!localtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm))
                    snprintf(buf, sizeof buf, "%lld", (long long)t);
            } else if (k == 4 && !memcmp(key, "seed", 4)) {
                snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->seed);
            } else if (k == 4 && !memcmp(key, "slug", 4)) {
                zt_outpath_slug(v->prompt, slug);
                s = slug;
            } else if (k == 1 && *key == 'n') {
                snprintf(buf, sizeof buf, "%d", v->index);
            } else if (k == 1 && *key == 'w') {
                snprintf(buf, sizeof buf, "%d", v->width);
            } else if (k == 1 && *key == 'h') {
                snprintf(buf, sizeof buf, "%d", v->height);
            } else {
                return zt_fail(err, ZT_ERR_INVALID,
                               "name template '%s': unknown field '{%.*s}' (use {date}, "
                               "{seed}, {slug}, {n}, {w}, {h})",
                               tmpl, (int)(k > 32 ? 32 : k), key);
            }
            len = strlen(s);
            p = end + 1;
        } else {
            const char *q = p;
            while (*q && *q != '{' && *q != '}')
                q++;
            s = p, len = (size_t)(q - p), p = q;
        }
        if (!put(out, cap, &n, s, len))
            return zt_fail(err, ZT_ERR_INVALID, "name template '%s': the name is too long",
                           tmpl);
    }
    if (!n)
        return zt_fail(err, ZT_ERR_INVALID, "name template '%s' gives an empty name", tmpl);
    return ZT_OK;
}

/* Why name may not be used as given, or NULL when its spelling is fine. */
static const char *bad_name(const char *name)
{
    if (!*name)
        return "it is empty";
    if (name[0] == '/')
        return "it is an absolute path";
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return "it holds a control character";
    const char *c = name;
    while (*c) {
        const char *e = strchr(c, '/');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return "it has a '..' component";
        if (!e)
            return len == 0 || (len == 1 && c[0] == '.') ? "it names a directory" : NULL;
        c = e + 1;
    }
    return "it names a directory";
}

int zt_outpath_numbered(char *dst, size_t cap, const char *name, int k)
{
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (!dot || (slash && dot < slash) || dot == name || (slash && dot == slash + 1))
        dot = name + strlen(name);
    int r = snprintf(dst, cap, "%.*s-%d%s", (int)(dot - name), name, k, dot);
    return r > 0 && (size_t)r < cap;
}

/* 1 when real (a resolved path) is root or below it. */
static int is_inside(const char *real, const char *root)
{
    size_t rl = strlen(root);
    return !strcmp(real, root) ||
           (!strncmp(real, root, rl) && (real[rl] == '/' || rl == 1));
}

/* first: the number to try first (1: the name itself); *used (may be
 * NULL) receives the one taken. */
static zt_status resolve(const char *dir, const char *name, int unique,
                         int (*taken)(const char *path, void *ud), void *ud, int first, int *used,
                         char *out, size_t cap, zt_err *err)
{
    const char *why = bad_name(name);
    if (why)
        return zt_fail(err, ZT_ERR_INVALID, "output name '%s' refused: %s", name, why);
    if (!*dir)
        return zt_fail(err, ZT_ERR_INVALID, "the output directory is an empty path");
    char *root = realpath(dir, NULL);
    if (!root)
        return zt_fail(err, errno == ENOENT ? ZT_ERR_MISSING : ZT_ERR_IO,
                       "output directory %s: %s", dir, strerror(errno));
    zt_status st = ZT_OK;
    char *parent_real = NULL;
    char path[PATH_MAX + 256];
    struct stat sb;
    if (stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        st = zt_fail(err, ZT_ERR_IO, "output directory %s is not a directory", dir);
        goto done;
    }
    /* The directory the file lands in, with every link resolved, must be
     * root or below it. */
    const char *slash = strrchr(name, '/');
    if (snprintf(path, sizeof path, "%s/%.*s", dir, slash ? (int)(slash - name) : 0, name) >=
        (int)sizeof path) {
        st = zt_fail(err, ZT_ERR_INVALID, "output name '%s' is too long", name);
        goto done;
    }
    parent_real = realpath(path, NULL);
    if (!parent_real) {
        st = zt_fail(err, ZT_ERR_MISSING, "cannot write %s/%s: directory %s: %s", dir, name,
                     path, strerror(errno));
        goto done;
    }
    if (!is_inside(parent_real, root)) {
        st = zt_fail(err, ZT_ERR_INVALID,
                     "output name '%s' refused: it leads out of the output directory %s (to %s)",
                     name, dir, parent_real);
        goto done;
    }
    char cand[PATH_MAX];
    if (first < 1 || first > 99999)
        first = 1;
    if (first == 1)
        snprintf(cand, sizeof cand, "%s", name);
    else if (!zt_outpath_numbered(cand, sizeof cand, name, first)) {
        st = zt_fail(err, ZT_ERR_INVALID, "output name '%s' is too long", name);
        goto done;
    }
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/"; /* "out/" gives "out/a.png" */
    for (int k = first + 1;; k++) {
        if (used)
            *used = k - 1;
        int r = snprintf(out, cap, "%s%s%s", dir, sep, cand);
        if (r < 0 || (size_t)r >= cap) {
            st = zt_fail(err, ZT_ERR_INVALID, "output name '%s' is too long", name);
            goto done;
        }
        /* lstat: a link (even a dangling one) counts as taken. */
        if (lstat(out, &sb) != 0) {
            if (errno != ENOENT) {
                st = zt_fail(err, ZT_ERR_IO, "cannot write %s: %s", out, strerror(errno));
                goto done;
            }
            if (!taken || !taken(out, ud))
                break;
        }
        if (!unique) {
            st = zt_fail(err, ZT_ERR_EXISTS, "%s already exists; not overwriting it", out);
            goto done;
        }
        if (k > 99999 || !zt_outpath_numbered(cand, sizeof cand, name, k)) {
            st = zt_fail(err, ZT_ERR_EXISTS, "%s/%s: no free name left", dir, name);
            goto done;
        }
    }
done:
    free(parent_real);
    free(root);
    return st;
}

zt_status zt_outpath_resolve(const char *dir, const char *name, int unique, char *out,
                             size_t cap, zt_err *err)
{
    return resolve(dir, name, unique, NULL, NULL, 1, NULL, out, cap, err);
}

zt_status zt_outpath_resolve_unique(const char *dir, const char *name,
                                    int (*taken)(const char *path, void *ud), void *ud, int *k,
                                    char *out, size_t cap, zt_err *err)
{
    return resolve(dir, name, 1, taken, ud, k ? *k : 1, k, out, cap, err);
}

/* ---- making the output directory ------------------------------------- */

void zt_outpath_unmake_dir(const char *dir, const char *made)
{
    if (!made || !*made)
        return;
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return;
    size_t stop = strlen(made);
    for (;;) {
        size_t l = strlen(p);
        while (l > 1 && p[l - 1] == '/') /* "a/b/" is "a/b" */
            p[--l] = 0;
        if (l < stop)
            return;
        rmdir(p); /* fails, harmlessly, on one that is not empty */
        char *slash = strrchr(p, '/');
        if (!slash || l == stop)
            return;
        *slash = 0;
    }
}

/* first (the outermost directory made for path, a prefix of it), or ""
 * when a component after it is "." or "..": past a new directory such a
 * path can lead back into ones that were there before, which taking the
 * new ones back must never reach ("./out/a" is fine; "new/../old" is not). */
static const char *undoable(const char *path, const char *first)
{
    if (!*first)
        return first;
    for (const char *s = path + strlen(first); *s;) {
        size_t l = strcspn(s, "/");
        if ((l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
            return "";
        s += l;
        s += *s == '/';
    }
    return first;
}

zt_status zt_outpath_make_dir(const char *dir, char *made, size_t cap, zt_err *err)
{
    if (made && cap)
        made[0] = 0;
    if (!dir || !*dir) {
        errno = ENOENT;
        return zt_fail(err, ZT_ERR_INVALID, "the output directory is an empty path");
    }
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return zt_fail(err, ZT_ERR_INVALID, "output directory %.200s...: too long", dir);
    }
    char first[PATH_MAX] = ""; /* the outermost directory made */
    struct stat sb;
    /* each prefix that ends before a '/', then the whole path */
    for (char *s = p + 1;; s++) {
        int end = !*s;
        if (!end && (*s != '/' || s[-1] == '/'))
            continue;
        char keep = *s;
        *s = 0;
        int e = 0;
        if (mkdir(p, 0755) == 0) {
            if (!first[0])
                snprintf(first, sizeof first, "%s", p);
        } else if (errno != EEXIST) {
            e = errno;
        } else if (stat(p, &sb) != 0) {
            e = errno;
        } else if (!S_ISDIR(sb.st_mode)) {
            e = ENOTDIR;
        }
        if (e) {
            zt_outpath_unmake_dir(p, undoable(p, first));
            zt_status code = e == ENOENT ? ZT_ERR_MISSING : ZT_ERR_IO;
            if (e == ENOTDIR)
                zt_fail(err, code, "cannot make output directory %s: %s is not a directory",
                        dir, p);
            else
                zt_fail(err, code, "cannot make output directory %s: %s%s%s%s", dir,
                        strerror(e), strcmp(p, dir) ? " (at " : "", strcmp(p, dir) ? p : "",
                        strcmp(p, dir) ? ")" : "");
            errno = e;
            return code;
        }
        *s = keep;
        if (end)
            break;
    }
    if (made && cap && snprintf(made, cap, "%s", undoable(dir, first)) >= (int)cap) {
        zt_outpath_unmake_dir(dir, undoable(dir, first));
        errno = ENAMETOOLONG;
        return zt_fail(err, ZT_ERR_INVALID, "output directory %.200s...: too long", dir);
    }
    return ZT_OK;
}

zt_status zt_outpath_make_subdir(const char *dir, const char *name, char *made, size_t cap,
                                 zt_err *err)
{
    if (made && cap)
        made[0] = 0;
    const char *why = bad_name(name);
    if (why)
        return zt_fail(err, ZT_ERR_INVALID, "output name '%s' refused: %s", name, why);
    const char *slash = strrchr(name, '/');
    if (!slash)
        return ZT_OK;
    char want[PATH_MAX], p[PATH_MAX];
    if (snprintf(want, sizeof want, "%s/%.*s", dir, (int)(slash - name), name) >=
        (int)sizeof want)
        return zt_fail(err, ZT_ERR_INVALID, "output name '%s' is too long", name);
    char *root = realpath(dir, NULL);
    if (!root)
        return zt_fail(err, errno == ENOENT ? ZT_ERR_MISSING : ZT_ERR_IO,
                       "output directory %s: %s", dir, strerror(errno));
    /* the deepest part of want that exists, which must lie inside root */
    snprintf(p, sizeof p, "%s", want);
    char *real = NULL;
    while (!(real = realpath(p, NULL))) {
        char *cut = strrchr(p, '/');
        if (errno != ENOENT || !cut || cut == p) {
            zt_status st = zt_fail(err, ZT_ERR_IO, "cannot write %s/%s: %s: %s", dir, name, p,
                                   strerror(errno));
            free(root);
            return st;
        }
        *cut = 0;
    }
    zt_status st = ZT_OK;
    if (!is_inside(real, root))
        st = zt_fail(err, ZT_ERR_INVALID,
                     "output name '%s' refused: it leads out of the output directory %s (to %s)",
                     name, dir, real);
    free(real);
    free(root);
    if (st == ZT_OK && strcmp(p, want))
        st = zt_outpath_make_dir(want, made, cap, err);
    return st;
}
