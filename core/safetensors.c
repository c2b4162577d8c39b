/*
 * safetensors.c - validated, mmapped safetensors files (see safetensors.h).
 *
 * File layout: u64 little-endian header length n, n bytes of JSON, then the
 * data area. The JSON is an object mapping tensor names to
 * {"dtype", "shape", "data_offsets": [begin, end]} with offsets relative to
 * the data area, plus an optional "__metadata__" object we ignore.
 *
 * Nothing in a file is trusted: every number is range-checked and every size
 * product is overflow-checked before a view into the mapping is made.
 */
#include "safetensors.h"
#include "json.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* Index files are small JSON; refuse anything absurd before reading it. */
#define INDEX_MAX_BYTES (64u << 20)
/* JSON numbers are doubles: integers above 2^53 are not exact. */
#define JSON_INT_MAX 9007199254740992.0

/* ---- parsing one file ---------------------------------------------------- */

static int dtype_from_name(const char *s, zt_dtype *out)
{
    for (int i = 0; i < ZT_DTYPE_COUNT; i++) {
        if (i == ZT_F8E4M3) /* an internal dtype: no FP8 checkpoints are read */
            continue;
        if (!strcmp(s, zt_dtype_name((zt_dtype)i))) {
            *out = (zt_dtype)i;
            return 1;
        }
    }
    return 0;
}

/* A JSON number that is a non-negative integer exactly representable. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double d = j->valuedouble;
    if (!(d >= 0) || d > JSON_INT_MAX || d != floor(d))
        return 0;
    *out = (uint64_t)d;
    return 1;
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const zt_st_entry *)a)->name, ((const zt_st_entry *)b)->name);
}

/* For the layout check: entries' offsets, sorted by begin, and their names
 * (the entries' own strings, which stay put when the entries are sorted). */
typedef struct span {
    size_t begin, end;
    const char *name;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

void zt_st_entries_free(zt_st_entry *entries, int count)
{
    if (!entries)
        return;
    for (int i = 0; i < count; i++)
        free(entries[i].name);
    free(entries);
}

/* Parse one {dtype, shape, data_offsets} object into e (name set by caller).
 * data/dlen is the data area; sp receives the byte range. */
static zt_status parse_tensor(const cJSON *obj, const char *name, const uint8_t *data,
                              size_t dlen, const char *what, zt_st_entry *e, span *sp,
                              zt_err *err)
{
    if (!cJSON_IsObject(obj))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: tensor '%s': header entry is not an object",
                       what, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(obj, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(obj, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(obj, "data_offsets");
    if (!cJSON_IsString(jd))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: tensor '%s': missing or non-string dtype",
                       what, name);
    if (!cJSON_IsArray(js))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: tensor '%s': missing or non-array shape",
                       what, name);
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2)
        return zt_fail(err, ZT_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets must be an array of 2 integers", what,
                       name);
    zt_dtype dt;
    if (!dtype_from_name(jd->valuestring, &dt))
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "%s: tensor '%s': unsupported dtype '%s'",
                       what, name, jd->valuestring);
    int ndim = cJSON_GetArraySize(js);
    if (ndim > ZT_MAX_DIMS)
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "%s: tensor '%s': rank %d exceeds %d", what,
                       name, ndim, ZT_MAX_DIMS);
    int64_t shape[ZT_MAX_DIMS];
    size_t nbytes = zt_dtype_size(dt);
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, js)
    {
        uint64_t d;
        if (!json_uint(it, &d))
            return zt_fail(err, ZT_ERR_FORMAT,
                           "%s: tensor '%s': shape[%d] is not a non-negative integer", what,
                           name, k);
        if (!zt_mul_ok(nbytes, (size_t)d, &nbytes) || d > (uint64_t)INT64_MAX)
            return zt_fail(err, ZT_ERR_FORMAT, "%s: tensor '%s': shape size overflows", what,
                           name);
        shape[k++] = (int64_t)d;
    }
    uint64_t b, en;
    if (!json_uint(cJSON_GetArrayItem(jo, 0), &b) || !json_uint(cJSON_GetArrayItem(jo, 1), &en))
        return zt_fail(err, ZT_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets must be non-negative integers", what,
                       name);
    if (b > en)
        return zt_fail(err, ZT_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets begin %llu > end %llu", what, name,
                       (unsigned long long)b, (unsigned long long)en);
    if (en > dlen)
        return zt_fail(err, ZT_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets end %llu past the data area (%zu bytes)",
                       what, name, (unsigned long long)en, dlen);
    if (en - b != nbytes)
        return zt_fail(err, ZT_ERR_FORMAT,
                       "%s: tensor '%s': %s shape needs %zu bytes but data_offsets span %llu",
                       what, name, zt_dtype_name(dt), nbytes, (unsigned long long)(en - b));
    e->t = zt_tensor_make(dt, ndim, shape, (void *)(data + b));
    e->nbytes = nbytes;
    e->file = 0;
    sp->begin = (size_t)b;
    sp->end = (size_t)en;
    return ZT_OK;
}

zt_status zt_st_parse(const uint8_t *buf, size_t len, const char *what,
                      zt_st_entry **entries, int *count, zt_err *err)
{
    *entries = NULL;
    *count = 0;
    if (len < 8)
        return zt_fail(err, ZT_ERR_FORMAT, "%s: file too short (%zu bytes) for a header",
                       what, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > len - 8)
        return zt_fail(err, ZT_ERR_FORMAT,
                       "%s: header length %llu past the end of the file (%zu bytes)", what,
                       (unsigned long long)hlen, len);
    if (hlen < 2)
        return zt_fail(err, ZT_ERR_FORMAT, "%s: header length %llu too short for JSON", what,
                       (unsigned long long)hlen);
    const char *json = (const char *)buf + 8;
    const uint8_t *data = buf + 8 + hlen;
    size_t dlen = len - 8 - (size_t)hlen;

    const char *end = NULL;
    int nomem;
    cJSON *root = zt_json_parse(json, (size_t)hlen, &end, &nomem);
    if (!root && nomem)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory reading the header", what);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return zt_fail(err, ZT_ERR_FORMAT, "%s: header is not valid JSON (near byte %zu)",
                       what, at + 8);
    }
    /* cJSON ends a string at \u0000: "a\u0000b" would be taken as "a" */
    if (zt_json_nul_escape(json, (size_t)hlen)) {
        cJSON_Delete(root);
        return zt_fail(err, ZT_ERR_FORMAT, "%s: a string in the header holds \\u0000", what);
    }
    /* The writer pads the header with spaces; anything else is garbage. */
    for (const char *p = end; p && p < json + hlen; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0') {
            cJSON_Delete(root);
            return zt_fail(err, ZT_ERR_FORMAT, "%s: trailing bytes after the JSON header",
                           what);
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return zt_fail(err, ZT_ERR_FORMAT, "%s: header is not a JSON object", what);
    }

    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) n++;
    zt_st_entry *e = calloc((size_t)n + 1, sizeof *e);
    span *sp = calloc((size_t)n + 1, sizeof *sp);
    zt_status st = ZT_OK;
    int k = 0;
    if (!e || !sp) {
        st = zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory for %d header entries", what, n);
        goto fail;
    }
    cJSON_ArrayForEach(it, root)
    {
        const char *name = it->string ? it->string : "";
        if (!strcmp(name, "__metadata__")) {
            /* the format's metadata is text to text; the library refuses
             * anything else */
            const cJSON *m;
            int text = cJSON_IsObject(it);
            cJSON_ArrayForEach(m, it) text = text && cJSON_IsString(m);
            if (!text) {
                st = zt_fail(err, ZT_ERR_FORMAT, "%s: __metadata__ is not an object of strings",
                             what);
                goto fail;
            }
            continue;
        }
        st = parse_tensor(it, name, data, dlen, what, &e[k], &sp[k], err);
        if (st)
            goto fail;
        e[k].name = strdup(name);
        if (!e[k].name) {
            st = zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", what);
            goto fail;
        }
        sp[k].name = e[k].name;
        k++;
    }
    /* cJSON keeps duplicate keys as separate members: said first, as such,
     * rather than as two tensors over the same bytes */
    qsort(e, (size_t)k, sizeof *e, cmp_entry_name);
    for (int i = 1; i < k; i++) {
        if (!strcmp(e[i - 1].name, e[i].name)) {
            st = zt_fail(err, ZT_ERR_FORMAT, "%s: duplicate tensor name '%s'", what, e[i].name);
            goto fail;
        }
    }

    /* Packed, as the library writes and reads them: sorted by begin, each
     * begins where the one before ends (the first at 0). Empty tensors
     * occupy nothing. */
    qsort(sp, (size_t)k, sizeof *sp, cmp_span);
    int prev = -1;
    for (int i = 0; i < k; i++) {
        if (sp[i].begin == sp[i].end)
            continue;
        size_t want = prev >= 0 ? sp[prev].end : 0;
        if (sp[i].begin < want) {
            st = zt_fail(err, ZT_ERR_FORMAT,
                         "%s: tensors '%s' and '%s' have overlapping data_offsets", what,
                         sp[prev].name, sp[i].name);
            goto fail;
        }
        if (sp[i].begin > want) {
            st = zt_fail(err, ZT_ERR_FORMAT,
                         "%s: %zu bytes before tensor '%s' belong to no tensor (its "
                         "data_offsets begin at %zu, not %zu)",
                         what, sp[i].begin - want, sp[i].name, sp[i].begin, want);
            goto fail;
        }
        prev = i;
    }
    /* as the safetensors library reads a file: the data area is exactly
     * the tensors' (bytes past them mean a file damaged or run together
     * with another); the last span in order ends last, none overlapping */
    size_t last_end = prev >= 0 ? sp[prev].end : 0;
    if (last_end != dlen) {
        st = zt_fail(err, ZT_ERR_FORMAT,
                     "%s: %zu bytes follow the last tensor's data; the header accounts for "
                     "%zu of the %zu after it (a damaged file, or another appended?)",
                     what, dlen - last_end, last_end, dlen);
        goto fail;
    }
    free(sp);
    cJSON_Delete(root);
    *entries = e;
    *count = k;
    return ZT_OK;
fail:
    free(sp);
    zt_st_entries_free(e, k);
    cJSON_Delete(root);
    return st;
}

/* ---- mapping files -------------------------------------------------------- */

typedef struct mapping {
    char *path;
    const uint8_t *buf;
    size_t len;
} mapping;

static zt_status map_file(mapping *m, const char *path, zt_err *err)
{
    memset(m, 0, sizeof *m);
    m->path = strdup(path);
    if (!m->path)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", path);
    /* O_NONBLOCK: a FIFO in a shard's place is refused below, not waited on */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return zt_fail(err, errno == ENOENT ? ZT_ERR_MISSING : ZT_ERR_IO, "%s: cannot open: %s",
                       path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return zt_fail(err, ZT_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return zt_fail(err, ZT_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return zt_fail(err, ZT_ERR_FORMAT, "%s: file too short (%lld bytes) for a header",
                       path, (long long)sb.st_size);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return zt_fail(err, ZT_ERR_TOO_BIG, "%s: file too large to map", path);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return zt_fail(err, ZT_ERR_IO, "%s: mmap failed: %s", path, strerror(e));
    m->buf = p;
    m->len = (size_t)sb.st_size;
    return ZT_OK;
}

static void unmap_file(mapping *m)
{
    if (m->buf)
        munmap((void *)m->buf, m->len);
    free(m->path);
    memset(m, 0, sizeof *m);
}

/* ---- standalone file ------------------------------------------------------ */

struct zt_st_file {
    mapping map;
    zt_st_entry *entries; /* sorted by name */
    int count;
};

static const zt_st_entry *find_sorted(const zt_st_entry *e, int n, const char *name)
{
    zt_st_entry key = {.name = (char *)name};
    return bsearch(&key, e, (size_t)n, sizeof *e, cmp_entry_name);
}

zt_status zt_st_file_open(zt_st_file **out, const char *path, zt_err *err)
{
    *out = NULL;
    zt_st_file *f = calloc(1, sizeof *f);
    if (!f)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", path);
    zt_status st = map_file(&f->map, path, err);
    if (!st)
        st = zt_st_parse(f->map.buf, f->map.len, path, &f->entries, &f->count, err);
    if (st) {
        zt_st_file_close(f);
        return st;
    }
    *out = f;
    return ZT_OK;
}

void zt_st_file_close(zt_st_file *f)
{
    if (!f)
        return;
    zt_st_entries_free(f->entries, f->count);
    unmap_file(&f->map);
    free(f);
}

const zt_st_entry *zt_st_file_find(const zt_st_file *f, const char *name)
{
    return find_sorted(f->entries, f->count, name);
}

int zt_st_file_count(const zt_st_file *f)
{
    return f->count;
}

const zt_st_entry *zt_st_file_at(const zt_st_file *f, int i)
{
    return i >= 0 && i < f->count ? &f->entries[i] : NULL;
}

/* ---- a component directory ------------------------------------------------ */

struct zt_weights {
    char *dir;
    mapping *files;
    int n_files;
    zt_st_entry *entries; /* all files, canonical names, sorted by name */
    int count;
    uint64_t total_bytes;
    int64_t index_total;
};

int zt_weights_file_of(const zt_weights *w, const void *p)
{
    const uint8_t *b = p;
    for (int i = 0; w && i < w->n_files; i++)
        if (b >= w->files[i].buf && b < w->files[i].buf + w->files[i].len)
            return i;
    return -1;
}

void zt_weights_drop_pages(const zt_weights *w, const void *p, size_t n)
{
    int f = zt_weights_file_of(w, p);
    long pg = sysconf(_SC_PAGESIZE);
    if (f < 0 || pg <= 0 || !n)
        return;
    const mapping *m = &w->files[f];
    uintptr_t base = (uintptr_t)m->buf, lo = (uintptr_t)p, hi = lo + n;
    if (hi > base + m->len)
        hi = base + m->len;
    lo = (lo + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    hi &= ~((uintptr_t)pg - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advice only: a failure costs memory */
}

void zt_weights_free(zt_weights *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n_files; i++)
        unmap_file(&w->files[i]);
    free(w->files);
    zt_st_entries_free(w->entries, w->count);
    free(w->dir);
    free(w);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int zt_st_canonical_name(const char *name)
{
    return !strcmp(name, "diffusion_pytorch_model.safetensors") ||
           !strcmp(name, "model.safetensors");
}

zt_status zt_st_scan_dir(const char *dir, char **index, char **single, zt_err *err)
{
    *index = *single = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return zt_fail(err, errno == ENOENT ? ZT_ERR_MISSING : ZT_ERR_IO,
                       "%s: cannot open directory: %s", dir, strerror(errno));
    int n_index = 0, n_single = 0, n_canon = 0;
    zt_status st = ZT_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        char **slot = NULL;
        if (ends_with(nm, ".safetensors.index.json")) {
            n_index++;
            slot = index;
        } else if (ends_with(nm, ".safetensors")) {
            n_single++;
            slot = single;
            /* the canonical name wins over whichever file came first */
            if (zt_st_canonical_name(nm) && !n_canon++ && *single) {
                free(*single);
                *single = NULL;
            }
        }
        if (slot && !*slot) {
            *slot = strdup(nm);
            if (!*slot) {
                st = zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
        }
    }
    closedir(d);
    if (!st && n_index > 1)
        st = zt_fail(err, ZT_ERR_FORMAT, "%s: %d *.safetensors.index.json files, expected one",
                     dir, n_index);
    if (!st && !n_index && n_single == 0)
        st = zt_fail(err, ZT_ERR_MISSING, "%s: no *.safetensors file", dir);
    /* Several files and one canonical name: the others are variants
     * (*.fp16.safetensors, ...) that a load without a variant ignores. */
    if (!st && !n_index && n_single > 1 && n_canon != 1)
        st = zt_fail(err, ZT_ERR_FORMAT,
                     "%s: %d *.safetensors files and no *.safetensors.index.json%s", dir,
                     n_single,
                     n_canon ? ""
                             : " (none named diffusion_pytorch_model.safetensors or "
                               "model.safetensors)");
    if (st || n_index) {
        free(*single);
        *single = NULL;
    }
    if (st) {
        free(*index);
        *index = NULL;
    }
    return st;
}

/* Shard names come from an untrusted file: a plain name in dir, nothing else. */
static int plain_file_name(const char *s)
{
    return s[0] && !strchr(s, '/') && !strchr(s, '\\') && strcmp(s, ".") && strcmp(s, "..") &&
           !strstr(s, "..");
}

static zt_status add_file(zt_weights *w, const char *name, zt_err *err)
{
    mapping *nf = realloc(w->files, ((size_t)w->n_files + 1) * sizeof *nf);
    if (!nf)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", w->dir);
    w->files = nf;
    char *path = join(w->dir, name);
    if (!path)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", w->dir);
    zt_status st = map_file(&w->files[w->n_files], path, err);
    free(path);
    w->n_files++; /* even on failure, so free() releases the path */
    return st;
}

/* Parses file fi and appends its entries with canonical names. */
static zt_status add_entries(zt_weights *w, int fi, const char *strip, zt_err *err)
{
    mapping *m = &w->files[fi];
    zt_st_entry *e;
    int n;
    zt_status st = zt_st_parse(m->buf, m->len, m->path, &e, &n, err);
    if (st)
        return st;
    zt_st_entry *all = realloc(w->entries, ((size_t)w->count + (size_t)n + 1) * sizeof *all);
    if (!all) {
        zt_st_entries_free(e, n);
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", m->path);
    }
    w->entries = all;
    size_t sl = strip ? strlen(strip) : 0;
    for (int i = 0; i < n; i++) {
        if (sl && !strncmp(e[i].name, strip, sl))
            memmove(e[i].name, e[i].name + sl, strlen(e[i].name + sl) + 1);
        e[i].file = fi;
        w->entries[w->count++] = e[i];
        w->total_bytes += e[i].nbytes;
    }
    free(e); /* names moved into w->entries */
    return ZT_OK;
}

/* ---- the shard index ------------------------------------------------------ */

void zt_st_index_free(zt_st_index *ix)
{
    if (!ix)
        return;
    for (int i = 0; i < ix->n_shards; i++)
        free(ix->shards[i]);
    for (int i = 0; i < ix->n_names; i++)
        free(ix->names[i]);
    free(ix->shards);
    free(ix->names);
    free(ix->shard_of);
    memset(ix, 0, sizeof *ix);
    ix->total_size = -1;
}

/* A weight_map value and where it was mentioned, for sorting. */
typedef struct shard_ref {
    const char *file;
    int pos;
} shard_ref;

static int cmp_shard_ref(const void *a, const void *b)
{
    const shard_ref *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int cmp_int_pair(const void *a, const void *b)
{
    const int *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Distinct shard names are found by sorting, not by comparing every pair:
 * an index may map millions of names, and a hostile one to as many files. */
zt_status zt_st_index_parse(zt_st_index *ix, const char *json, size_t len, const char *what,
                            zt_err *err)
{
    memset(ix, 0, sizeof *ix);
    ix->total_size = -1;
    shard_ref *refs = NULL;
    int *runs = NULL;
    zt_status st = ZT_OK;
    int nomem;
    cJSON *root = zt_json_parse(json, len, NULL, &nomem);
    if (!root && nomem) {
        st = zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory reading it", what);
        goto done;
    }
    if (!root || !cJSON_IsObject(root)) {
        st = zt_fail(err, ZT_ERR_FORMAT, "%s: not a JSON object", what);
        goto done;
    }
    if (zt_json_nul_escape(json, len)) { /* see zt_st_parse */
        st = zt_fail(err, ZT_ERR_FORMAT, "%s: a string holds \\u0000", what);
        goto done;
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *ts = cJSON_IsObject(meta) ? cJSON_GetObjectItemCaseSensitive(meta, "total_size")
                                           : NULL;
    uint64_t total;
    if (ts && json_uint(ts, &total))
        ix->total_size = (int64_t)total;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        st = zt_fail(err, ZT_ERR_FORMAT, "%s: key 'weight_map' missing or not an object", what);
        goto done;
    }
    int n = cJSON_GetArraySize(map);
    const cJSON *it;
    cJSON_ArrayForEach(it, map)
    {
        if (!cJSON_IsString(it)) {
            st = zt_fail(err, ZT_ERR_FORMAT, "%s: weight_map['%s'] is not a string", what,
                         it->string);
            goto done;
        }
        if (!plain_file_name(it->valuestring)) {
            st = zt_fail(err, ZT_ERR_FORMAT,
                         "%s: weight_map['%s'] names '%s', not a plain file name", what,
                         it->string, it->valuestring);
            goto done;
        }
    }
    if (n == 0)
        goto done;
    ix->names = calloc((size_t)n, sizeof *ix->names);
    ix->shard_of = calloc((size_t)n, sizeof *ix->shard_of);
    refs = calloc((size_t)n, sizeof *refs);
    runs = calloc((size_t)n * 2, sizeof *runs);
    if (!ix->names || !ix->shard_of || !refs || !runs)
        goto nomem;
    int i = 0;
    cJSON_ArrayForEach(it, map)
    {
        if (!(ix->names[i] = strdup(it->string)))
            goto nomem;
        ix->n_names = i + 1;
        refs[i].file = it->valuestring;
        refs[i].pos = i;
        i++;
    }
    /* Runs of equal file names; each run's first element is its first
     * mention. shard_of holds the run number until the runs are ranked. */
    qsort(refs, (size_t)n, sizeof *refs, cmp_shard_ref);
    int n_runs = 0;
    for (int k = 0; k < n; k++) {
        if (k == 0 || strcmp(refs[k].file, refs[k - 1].file)) {
            runs[2 * n_runs] = refs[k].pos;
            runs[2 * n_runs + 1] = n_runs;
            n_runs++;
        }
        ix->shard_of[refs[k].pos] = n_runs - 1;
    }
    /* Rank runs by first mention: runs[2r] = first position, runs[2r+1] = run. */
    qsort(runs, (size_t)n_runs, 2 * sizeof *runs, cmp_int_pair);
    ix->shards = calloc((size_t)n_runs, sizeof *ix->shards);
    int *rank = calloc((size_t)n_runs, sizeof *rank);
    if (!ix->shards || !rank) {
        free(rank);
        goto nomem;
    }
    for (int r = 0; r < n_runs; r++) {
        rank[runs[2 * r + 1]] = r;
    }
    for (int k = 0; k < n; k++)
        ix->shard_of[k] = rank[ix->shard_of[k]];
    free(rank);
    ix->n_shards = n_runs;
    i = 0;
    cJSON_ArrayForEach(it, map)
    {
        int s = ix->shard_of[i++];
        if (!ix->shards[s] && !(ix->shards[s] = strdup(it->valuestring)))
            goto nomem;
    }
    goto done;
nomem:
    st = zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", what);
done:
    free(refs);
    free(runs);
    cJSON_Delete(root);
    if (st)
        zt_st_index_free(ix);
    return st;
}

/* w's entries sorted by name, each name once: two shards holding a tensor,
 * or one file holding it with and without the prefix a load strips. */
static zt_status sort_entries(zt_weights *w, zt_err *err)
{
    qsort(w->entries, (size_t)w->count, sizeof *w->entries, cmp_entry_name);
    for (int i = 1; i < w->count; i++)
        if (!strcmp(w->entries[i - 1].name, w->entries[i].name))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: tensor '%s' appears twice (in %s and %s)",
                           w->dir, w->entries[i].name, w->files[w->entries[i - 1].file].path,
                           w->files[w->entries[i].file].path);
    return ZT_OK;
}

/* Reads the index; opens each shard it names, in order of first mention. */
static zt_status open_index(zt_weights *w, const char *index_name, const char *strip,
                            zt_err *err)
{
    char *path = join(w->dir, index_name);
    char *text = NULL;
    size_t len = 0;
    zt_st_index ix;
    memset(&ix, 0, sizeof ix);
    zt_status st = ZT_OK;
    if (!path)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", w->dir);
    st = zt_read_file(path, INDEX_MAX_BYTES, &text, &len, err);
    if (st)
        goto done;
    st = zt_st_index_parse(&ix, text, len, path, err);
    if (st)
        goto done;
    w->index_total = ix.total_size;
    /* File k of w is shard k of the index. */
    for (int k = 0; k < ix.n_shards; k++) {
        st = add_file(w, ix.shards[k], err);
        if (st) {
            if (st == ZT_ERR_MISSING)
                st = zt_fail(err, ZT_ERR_MISSING, "%s: shard '%s' named in %s is missing",
                             w->dir, ix.shards[k], index_name);
            goto done;
        }
        st = add_entries(w, w->n_files - 1, strip, err);
        if (st)
            goto done;
    }
    /* Every mapped tensor must be in the shard the index names; one in
     * two shards is said as such first (the lookup below finds either). */
    st = sort_entries(w, err);
    if (st)
        goto done;
    size_t sl = strip ? strlen(strip) : 0;
    for (int k = 0; k < ix.n_names; k++) {
        const char *nm = ix.names[k];
        if (sl && !strncmp(nm, strip, sl))
            nm += sl;
        const zt_st_entry *e = find_sorted(w->entries, w->count, nm);
        if (!e || e->file != ix.shard_of[k]) {
            st = zt_fail(err, ZT_ERR_MISSING, "%s/%s: tensor '%s' (listed in %s) not found",
                         w->dir, ix.shards[ix.shard_of[k]], ix.names[k], index_name);
            goto done;
        }
    }
done:
    zt_st_index_free(&ix);
    free(text);
    free(path);
    return st;
}

zt_status zt_weights_open(zt_weights **out, const char *dir, const char *strip_prefix,
                          zt_err *err)
{
    *out = NULL;
    zt_weights *w = calloc(1, sizeof *w);
    if (!w)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", dir);
    w->index_total = -1;
    w->dir = strdup(dir);
    char *index = NULL, *single = NULL;
    zt_status st = w->dir ? zt_st_scan_dir(dir, &index, &single, err)
                          : zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", dir);
    if (!st && index) {
        st = open_index(w, index, strip_prefix, err);
    } else if (!st) {
        st = add_file(w, single, err);
        if (!st)
            st = add_entries(w, 0, strip_prefix, err);
    }
    free(index);
    free(single);
    if (!st)
        st = sort_entries(w, err);
    if (st) {
        zt_weights_free(w);
        return st;
    }
    *out = w;
    return ZT_OK;
}

int zt_weights_count(const zt_weights *w)
{
    return w->count;
}

const zt_st_entry *zt_weights_at(const zt_weights *w, int i)
{
    return i >= 0 && i < w->count ? &w->entries[i] : NULL;
}

const zt_st_entry *zt_weights_find(const zt_weights *w, const char *name)
{
    return find_sorted(w->entries, w->count, name);
}

const char *zt_weights_file(const zt_weights *w, int file)
{
    return file >= 0 && file < w->n_files ? w->files[file].path : "?";
}

const char *zt_weights_dir(const zt_weights *w)
{
    return w->dir;
}

int zt_weights_file_count(const zt_weights *w)
{
    return w->n_files;
}

uint64_t zt_weights_total_bytes(const zt_weights *w)
{
    return w->total_bytes;
}

int64_t zt_weights_index_total_size(const zt_weights *w)
{
    return w->index_total;
}

static void shape_to_str(int ndim, const int64_t *shape, char *buf, size_t n)
{
    zt_tensor t = {.ndim = ndim};
    for (int i = 0; i < ndim && i < ZT_MAX_DIMS; i++)
        t.shape[i] = shape[i];
    zt_shape_str(&t, buf, n);
}

zt_status zt_weights_get(const zt_weights *w, const char *name, int ndim,
                         const int64_t *shape, zt_tensor *out, zt_err *err)
{
    const zt_st_entry *e = zt_weights_find(w, name);
    if (!e)
        return zt_fail(err, ZT_ERR_MISSING, "%s: tensor '%s' not found", w->dir, name);
    if (!zt_shape_eq(&e->t, ndim, shape)) {
        char want[96], got[96];
        shape_to_str(ndim, shape, want, sizeof want);
        zt_shape_str(&e->t, got, sizeof got);
        return zt_fail(err, ZT_ERR_SHAPE, "%s: tensor '%s': expected shape %s, found %s",
                       zt_weights_file(w, e->file), name, want, got);
    }
    *out = e->t;
    return ZT_OK;
}
