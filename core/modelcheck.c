/*
 * modelcheck.c - completeness of a model directory without reading weights
 * (see modelcheck.h).
 *
 * Only stat(), readdir() and the small index files are read, so discovery
 * can afford to check every candidate on each start.
 */
#include "modelcheck.h"
#include "json.h"
#include "safetensors.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An index lists a few thousand names; anything far larger is not one. */
#define INDEX_MAX_BYTES (64u << 20)
/* Local-dir downloads keep partial files a few levels down
 * (.cache/huggingface/download/<component>/x.incomplete). */
#define SCAN_DEPTH 5

static const char *const part_names[ZT_MODELCHECK_PARTS] = {"text_encoder", "transformer",
                                                            "vae"};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void problem(zt_modelcheck *mc, const char *fmt, ...)
{
    if (mc->n_problems >= ZT_MODELCHECK_PROBLEMS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(mc->problems[mc->n_problems++], sizeof mc->problems[0], fmt, ap);
    va_end(ap);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

const char *zt_modelcheck_file(const char *path, uint64_t *size)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno == ENOENT || errno == ENOTDIR ? "missing" : strerror(errno);
    if (!S_ISREG(sb.st_mode))
        return "not a regular file";
    if (size)
        *size = (uint64_t)sb.st_size;
    return NULL;
}

/* zt_modelcheck_file as a yes or no, the reason in *why (may be NULL). */
static int regular_file(const char *path, uint64_t *size, const char **why)
{
    const char *w = zt_modelcheck_file(path, size);
    if (why)
        *why = w;
    return !w;
}

static int file_in(const char *dir, const char *rel, uint64_t *size, const char **why)
{
    char path[ZT_PATH_MAX + 128];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path) {
        if (why)
            *why = "path too long";
        return 0;
    }
    return regular_file(path, size, why);
}

/* Counts *.incomplete files under dir (depth-limited), or every file when
 * any is set; the first one found is remembered for messages. */
static int count_incomplete(const char *dir, int depth, int any, char *first, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, ".."))
            continue;
        char path[ZT_PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, nm) >= (int)sizeof path)
            continue;
        struct stat sb;
        /* lstat: never follow a link into another tree (a snapshot's links
         * point into blobs/, which is scanned on its own). */
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (depth > 0)
                count += count_incomplete(path, depth - 1, any, first, n);
        } else if (any || ends_with(nm, ".incomplete")) {
            if (first && !first[0])
                snprintf(first, n, "%s", path);
            count++;
        }
    }
    closedir(d);
    return count;
}

/* Reads an index: total_size and the distinct shard names, each checked. */
static void check_index(zt_modelcheck *mc, zt_modelcheck_part *p, const char *cdir,
                        const char *index_name)
{
    char path[ZT_PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s", cdir, index_name);
    char *text = NULL;
    size_t len = 0;
    zt_err err = {0};
    if (zt_read_file(path, INDEX_MAX_BYTES, &text, &len, &err)) {
        problem(mc, "%s", err.msg);
        return;
    }
    int nomem;
    cJSON *root = zt_json_parse(text, len, NULL, &nomem);
    free(text);
    if (!root && nomem) {
        problem(mc, "%s: out of memory reading it", path);
        return;
    }
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(map)) {
        problem(mc, "%s: not a weight index (no 'weight_map' object)", path);
        cJSON_Delete(root);
        return;
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *ts = cJSON_IsObject(meta) ? cJSON_GetObjectItemCaseSensitive(meta, "total_size")
                                           : NULL;
    if (cJSON_IsNumber(ts) && ts->valuedouble >= 0 && ts->valuedouble < 9.0e18)
        p->total_size = (int64_t)ts->valuedouble;

    /* Shards in order of first mention; an index names a handful. */
    const char *seen[256];
    int n_seen = 0;
    char missing[256] = "";
    const char *why = NULL, *first_why = NULL; /* the first shard's reason */
    const cJSON *it;
    int before = mc->n_problems; /* a bad entry is said once, not again as none */
    cJSON_ArrayForEach(it, map)
    {
        const char *f = cJSON_IsString(it) ? it->valuestring : NULL;
        if (!f || !f[0] || strchr(f, '/') || strstr(f, "..")) {
            problem(mc, "%s: weight_map['%s'] is not a plain file name", path,
                    it->string ? it->string : "?");
            break;
        }
        int dup = 0;
        for (int i = 0; i < n_seen && !dup; i++)
            dup = !strcmp(seen[i], f);
        if (dup)
            continue;
        if (n_seen == (int)(sizeof seen / sizeof seen[0])) {
            problem(mc, "%s: more than %d shards", path, n_seen);
            break;
        }
        seen[n_seen++] = f;
        p->files_expected++;
        uint64_t sz = 0;
        if (file_in(cdir, f, &sz, &why)) {
            p->files_present++;
            p->bytes += sz;
        } else if (!missing[0]) {
            snprintf(missing, sizeof missing, "%s", f);
            first_why = why;
        }
    }
    if (!p->files_expected && mc->n_problems == before)
        problem(mc, "%s: the index names no tensors", path);
    else if (p->files_present < p->files_expected && strcmp(first_why, "missing"))
        problem(mc, "%s: shard %s (%d of %d not usable): %s", p->name, missing,
                p->files_expected - p->files_present, p->files_expected, first_why);
    else if (p->files_present < p->files_expected)
        problem(mc, "%s: %d of %d shards missing (first: %s)", p->name,
                p->files_expected - p->files_present, p->files_expected, missing);
    else if (p->total_size >= 0 && p->bytes < (uint64_t)p->total_size)
        /* Shards hold their headers too, so complete ones are always larger. */
        problem(mc,
                "%s: shards hold %llu bytes, less than the index's total_size %lld "
                "(a truncated download?)",
                p->name, (unsigned long long)p->bytes, (long long)p->total_size);
    cJSON_Delete(root);
}

static void check_part(zt_modelcheck *mc, zt_modelcheck_part *p, const char *dir)
{
    char cdir[ZT_PATH_MAX + 32];
    snprintf(cdir, sizeof cdir, "%s/%s", dir, p->name);
    const char *why;
    p->config = file_in(cdir, "config.json", NULL, &why);
    if (!p->config && !strcmp(why, "missing"))
        problem(mc, "%s/config.json missing", p->name);
    else if (!p->config)
        problem(mc, "%s/config.json: %s", p->name, why);

    DIR *d = opendir(cdir);
    if (!d) {
        if (errno == ENOENT)
            problem(mc, "%s/ missing", p->name);
        else
            problem(mc, "%s/: cannot be read: %s", p->name, strerror(errno));
        return;
    }
    /* the first two *.safetensors names, for messages */
    char index[256] = "", first[256] = "", second[256] = "", canon[256] = "";
    int n_index = 0, n_single = 0, n_canon = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (ends_with(nm, ".safetensors.index.json")) {
            if (!n_index++)
                snprintf(index, sizeof index, "%s", nm);
        } else if (ends_with(nm, ".safetensors")) {
            /* as the load picks (scan_dir in safetensors.c): the canonical
             * name among several, variants beside it ignored */
            if (zt_st_canonical_name(nm) && !n_canon++)
                snprintf(canon, sizeof canon, "%s", nm);
            if (n_single < 2)
                snprintf(n_single ? second : first, sizeof first, "%s", nm);
            n_single++;
        } else if (ends_with(nm, ".incomplete")) {
            p->incomplete++;
        }
    }
    closedir(d);
    p->singles = n_single;
    if (n_index > 1) {
        problem(mc, "%s: %d weight index files, expected one", p->name, n_index);
    } else if (n_index == 1) {
        p->indexed = 1;
        check_index(mc, p, cdir, index);
    } else {
        p->files_expected = 1;
        uint64_t sz = 0;
        /* several files: the one canonical name is loaded, the rest are
         * variants; which one came first in the listing does not matter */
        const int pick = n_single == 1 || n_canon == 1;
        const char *single = n_single > 1 && n_canon == 1 ? canon : first;
        snprintf(p->single, sizeof p->single, "%s", single);
        if (n_single > 1) {
            p->ignored = pick ? n_single - 1 : 0;
            snprintf(p->other, sizeof p->other, "%s", strcmp(first, single) ? first : second);
        }
        if (pick && file_in(cdir, single, &sz, &why)) {
            p->files_present = 1;
            p->bytes = sz;
        } else if (n_single > 1 && !pick) {
            problem(mc,
                    "%s: %d *.safetensors files (%s, %s%s) and no index%s; a load cannot tell "
                    "which to take",
                    p->name, n_single, first, second, n_single > 2 ? ", ..." : "",
                    n_canon ? ""
                            : ", none named diffusion_pytorch_model.safetensors or "
                              "model.safetensors");
        } else if (pick) {
            /* a dangling snapshot link: the name is there, the blob is not */
            char path[ZT_PATH_MAX + 300], to[ZT_PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", cdir, single);
            ssize_t k = readlink(path, to, sizeof to - 1);
            to[k > 0 ? k : 0] = 0;
            if (k > 0 && !strcmp(why, "missing"))
                problem(mc, "%s: %s links to %s, which is missing (an unfinished download?)",
                        p->name, single, to);
            else if (k > 0)
                problem(mc, "%s: %s links to %s: %s", p->name, single, to, why);
            else
                problem(mc, "%s: %s: %s", p->name, single, why);
        } else {
            problem(mc, "%s: no weights (*.safetensors)", p->name);
        }
    }
}

void zt_modelcheck_run(zt_modelcheck *mc, const char *dir, const char *partial_dir)
{
    memset(mc, 0, sizeof *mc);
    for (int i = 0; i < ZT_MODELCHECK_PARTS; i++) {
        mc->part[i].name = part_names[i];
        mc->part[i].total_size = -1;
    }
    /* callers name dir before each problem */
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        problem(mc, "%s", strerror(errno));
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        problem(mc, "not a directory");
        return;
    }
    mc->exists = 1;
    static const char *const top[3] = {"model_index.json", "scheduler/scheduler_config.json",
                                       "tokenizer/tokenizer.json"};
    int *has[3] = {&mc->model_index, &mc->scheduler, &mc->tokenizer};
    for (int i = 0; i < 3; i++) {
        const char *why;
        *has[i] = file_in(dir, top[i], NULL, &why);
        if (!*has[i]) {
            snprintf(mc->why[i], sizeof mc->why[i], "%s", why);
            problem(mc, strcmp(why, "missing") ? "%s: %s" : "%s %s", top[i], why);
        }
    }
    for (int i = 0; i < ZT_MODELCHECK_PARTS; i++)
        check_part(mc, &mc->part[i], dir);

    int inside = count_incomplete(dir, SCAN_DEPTH, 0, mc->incomplete_where,
                                  sizeof mc->incomplete_where);
    /* ModelScope writes a file being downloaded under its own name (or as
     * NAME_START_END parts) into its ZT_MS_TEMP_DIR folder, never as
     * *.incomplete: every file there is unfinished. Hugging Face's blobs
     * hold finished files too; there only *.incomplete counts. */
    int ms_temp = partial_dir && strstr(partial_dir, "/" ZT_MS_TEMP_DIR "/") != NULL;
    int beside = partial_dir ? count_incomplete(partial_dir, SCAN_DEPTH, ms_temp,
                                                mc->incomplete_where,
                                                sizeof mc->incomplete_where)
                             : 0;
    mc->incomplete = inside + beside;
    if (inside || (beside && mc->n_problems)) {
        mc->unfinished = 1;
        if (mc->n_problems == ZT_MODELCHECK_PROBLEMS_MAX)
            mc->n_problems--; /* this one must be kept: reason() shows it */
        problem(mc, "download unfinished: %d partial file%s (%s); run the download again",
                mc->incomplete, mc->incomplete == 1 ? "" : "s", mc->incomplete_where);
    }
}

const char *zt_modelcheck_reason(const zt_modelcheck *mc)
{
    /* An unfinished download explains the missing files better than the
     * first missing file does. */
    if (!mc->n_problems)
        return "";
    return mc->unfinished ? mc->problems[mc->n_problems - 1] : mc->problems[0];
}
