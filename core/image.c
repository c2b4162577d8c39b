/*
 * image.c - generation settings (JSON, A1111 text) and PNG files with them
 * (see image.h).
 *
 * libpng reports errors by longjmp. Every function that calls setjmp keeps
 * what it changes afterwards in a struct owned by its caller, so nothing
 * the error path reads lives in a clobberable local.
 */
#include "image.h"
#include "json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------- strings */

static char *dup_str(const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s ? s : "", n);
    return d;
}

/* Decode one UTF-8 code point at s (NUL-terminated); -1 when malformed,
 * overlong, a surrogate or beyond U+10FFFF. *len gets its length. */
static long utf8_decode(const unsigned char *s, int *len)
{
    unsigned c = s[0];
    long cp;
    int n;
    if (c < 0x80) {
        *len = 1;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        cp = c & 0x1f, n = 2;
    } else if ((c & 0xf0) == 0xe0) {
        cp = c & 0x0f, n = 3;
    } else if ((c & 0xf8) == 0xf0) {
        cp = c & 0x07, n = 4;
    } else {
        return -1;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const long min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = n;
    return cp;
}

static int utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        int n;
        if (utf8_decode(u, &n) < 0)
            return 0;
        u += n;
    }
    return 1;
}

/* UTF-8 into Latin-1 bytes (heap) when every code point is <= U+00FF;
 * NULL otherwise or on allocation failure (*latin1_ok tells which). */
static char *utf8_to_latin1(const char *s, int *latin1_ok)
{
    const unsigned char *u = (const unsigned char *)s;
    char *out = malloc(strlen(s) + 1), *o = out;
    *latin1_ok = 1;
    if (!out)
        return NULL;
    while (*u) {
        int n;
        long cp = utf8_decode(u, &n);
        if (cp < 0 || cp > 0xff) {
            *latin1_ok = 0;
            free(out);
            return NULL;
        }
        *o++ = (char)(unsigned char)cp;
        u += n;
    }
    *o = 0;
    return out;
}

/* Latin-1 bytes into UTF-8 (heap). */
static char *latin1_to_utf8(const char *s, size_t len)
{
    char *out = malloc(2 * len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            *o++ = (char)c;
        } else {
            *o++ = (char)(0xc0 | c >> 6);
            *o++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *o = 0;
    return out;
}

/* A growable string for building text. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->failed = 1;
            return;
        }
        b->s = t, b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* ---------------------------------------------------------- parameters */

static void set_fixed(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s);
}

zt_status zt_gen_params_init(zt_gen_params *p)
{
    memset(p, 0, sizeof *p);
    p->width = 1024;
    p->height = 1024;
    p->steps = 8;
    set_fixed(p->rng, sizeof p->rng, "cuda");
    set_fixed(p->sampler, sizeof p->sampler, "Euler");
    set_fixed(p->model, sizeof p->model, "Z-Image-Turbo");
    p->prompt = dup_str("");
    p->negative_prompt = dup_str("");
    return p->prompt && p->negative_prompt ? ZT_OK : ZT_ERR_NOMEM;
}

void zt_gen_params_free(zt_gen_params *p)
{
    if (!p)
        return;
    free(p->prompt);
    free(p->negative_prompt);
    p->prompt = p->negative_prompt = NULL;
}

static zt_status set_string(char **field, const char *s, zt_err *err)
{
    char *d = dup_str(s);
    if (!d)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory copying a prompt");
    free(*field);
    *field = d;
    return ZT_OK;
}

zt_status zt_gen_params_set_prompt(zt_gen_params *p, const char *s, zt_err *err)
{
    return set_string(&p->prompt, s, err);
}

zt_status zt_gen_params_set_negative(zt_gen_params *p, const char *s, zt_err *err)
{
    return set_string(&p->negative_prompt, s, err);
}

zt_status zt_gen_params_copy(zt_gen_params *dst, const zt_gen_params *src, zt_err *err)
{
    char *a = dup_str(src->prompt), *b = dup_str(src->negative_prompt);
    if (!a || !b) {
        free(a);
        free(b);
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory copying settings");
    }
    zt_gen_params_free(dst);
    *dst = *src;
    dst->prompt = a;
    dst->negative_prompt = b;
    return ZT_OK;
}

static int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int zt_gen_params_equal(const zt_gen_params *a, const zt_gen_params *b)
{
    return str_eq(a->prompt, b->prompt) && str_eq(a->negative_prompt, b->negative_prompt) &&
           a->width == b->width && a->height == b->height && a->steps == b->steps &&
           a->seed == b->seed && a->guidance == b->guidance && str_eq(a->rng, b->rng) &&
           str_eq(a->sampler, b->sampler) && str_eq(a->model, b->model);
}

/* ------------------------------------------------------------------ JSON */

zt_status zt_gen_params_to_json(const zt_gen_params *p, char **out, zt_err *err)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "version", 1);
    ok = ok && cJSON_AddStringToObject(o, "prompt", p->prompt ? p->prompt : "");
    ok = ok && cJSON_AddStringToObject(o, "negative_prompt",
                                       p->negative_prompt ? p->negative_prompt : "");
    ok = ok && cJSON_AddNumberToObject(o, "width", p->width);
    ok = ok && cJSON_AddNumberToObject(o, "height", p->height);
    ok = ok && cJSON_AddNumberToObject(o, "steps", p->steps);
    /* digits written verbatim (cJSON would print large integers as
     * doubles); from 2^53 on a JSON number cannot be told from its
     * neighbours when read back (2^53 + 1 reads as 2^53), so a string */
    if (p->seed < (UINT64_C(1) << 53))
        ok = ok && cJSON_AddRawToObject(o, "seed", seed);
    else
        ok = ok && cJSON_AddStringToObject(o, "seed", seed);
    /* the float's own shortest text: 7.3, not the double 7.3000001907348633 */
    char g[32];
    ok = ok && cJSON_AddRawToObject(o, "guidance", zt_float_text(g, sizeof g, p->guidance));
    ok = ok && cJSON_AddStringToObject(o, "rng", p->rng);
    ok = ok && cJSON_AddStringToObject(o, "sampler", p->sampler);
    ok = ok && cJSON_AddStringToObject(o, "model", p->model);
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory writing settings JSON");
    /* cJSON's allocator is malloc unless changed: hand out a malloc copy so
     * the caller's free() is right either way */
    *out = dup_str(s);
    cJSON_free(s);
    if (!*out)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory writing settings JSON");
    return ZT_OK;
}

static zt_status json_int(const cJSON *o, const char *key, int lo, int hi, int *out,
                          zt_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return ZT_OK;
    /* range first: casting a huge double to an integer is undefined */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != (double)(int)v->valuedouble)
        return zt_fail(err, ZT_ERR_FORMAT, "settings JSON: \"%s\" must be an integer in [%d, %d]",
                       key, lo, hi);
    *out = (int)v->valuedouble;
    return ZT_OK;
}

static zt_status json_fixed(const cJSON *o, const char *key, char *dst, size_t cap,
                            zt_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return ZT_OK;
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap || !utf8_valid(v->valuestring))
        return zt_fail(err, ZT_ERR_FORMAT,
                       "settings JSON: \"%s\" must be a UTF-8 string shorter than %zu bytes",
                       key, cap);
    set_fixed(dst, cap, v->valuestring);
    return ZT_OK;
}

static zt_status json_prompt(const cJSON *o, const char *key, char **field, zt_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return ZT_OK;
    if (!cJSON_IsString(v) || !utf8_valid(v->valuestring))
        return zt_fail(err, ZT_ERR_FORMAT, "settings JSON: \"%s\" must be a UTF-8 string",
                       key);
    return set_string(field, v->valuestring, err);
}

/* Decimal digits only, no sign, no overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

static zt_status reset(zt_gen_params *p, zt_err *err)
{
    zt_gen_params_free(p);
    if (zt_gen_params_init(p) != ZT_OK)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
    return ZT_OK;
}

/* zt_gen_params_from_object; *seed_seen (may be NULL) says whether o
 * gives a seed (without one p's is 0, no image's seed), as a1111_read's. */
static zt_status params_from_object(zt_gen_params *p, const cJSON *o, int *seed_seen, zt_err *err)
{
    zt_status st = reset(p, err);
    if (st != ZT_OK)
        return st;
    if (!cJSON_IsObject(o))
        return zt_fail(err, ZT_ERR_FORMAT, "settings JSON: not a JSON object");
    if ((st = json_prompt(o, "prompt", &p->prompt, err)) ||
        (st = json_prompt(o, "negative_prompt", &p->negative_prompt, err)) ||
        (st = json_int(o, "width", 0, ZT_PNG_SIDE_MAX, &p->width, err)) ||
        (st = json_int(o, "height", 0, ZT_PNG_SIDE_MAX, &p->height, err)) ||
        (st = json_int(o, "steps", 0, 100000, &p->steps, err)) ||
        (st = json_fixed(o, "rng", p->rng, sizeof p->rng, err)) ||
        (st = json_fixed(o, "sampler", p->sampler, sizeof p->sampler, err)) ||
        (st = json_fixed(o, "model", p->model, sizeof p->model, err)))
        return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "seed");
    if (seed_seen)
        *seed_seen = v != NULL;
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
        v->valuedouble < 9007199254740992.0 &&
        v->valuedouble == (double)(uint64_t)v->valuedouble) {
        p->seed = (uint64_t)v->valuedouble;
    } else if (cJSON_IsString(v) &&
               parse_u64(v->valuestring, strlen(v->valuestring), &p->seed)) {
        /* parsed */
    } else if (cJSON_IsNumber(v) && v->valuedouble >= 9007199254740992.0 &&
               v->valuedouble <= 18446744073709551616.0) {
        /* from 2^53 a JSON number may have lost its last digits already:
         * 9007199254740993 reads as 9007199254740992 */
        return zt_fail(err, ZT_ERR_FORMAT,
                       "settings JSON: \"seed\" from 2^53 up must be a string (as zimt "
                       "writes it), as in \"seed\": \"18446744073709551615\"");
    } else if (v) {
        return zt_fail(err, ZT_ERR_FORMAT,
                       "settings JSON: \"seed\" must be an integer in [0, 2^64-1]");
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "guidance");
    if (cJSON_IsNumber(v))
        p->guidance = (float)v->valuedouble;
    else if (v)
        return zt_fail(err, ZT_ERR_FORMAT, "settings JSON: \"guidance\" must be a number");
    return ZT_OK;
}

zt_status zt_gen_params_from_object(zt_gen_params *p, const struct cJSON *o, zt_err *err)
{
    return params_from_object(p, o, NULL, err);
}

/* What the settings JSON of a PNG must also be: no key given twice (a
 * lookup would take the first without a word) and, when it names one,
 * the version zimt writes (another would mean other fields). */
static zt_status settings_sound(const cJSON *o, zt_err *err)
{
    const char *dup = zt_json_dup_key(o);
    if (dup)
        return zt_fail(err, ZT_ERR_FORMAT, "settings JSON: \"%.60s\" given twice", dup);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "version");
    if (v && !(cJSON_IsNumber(v) && v->valuedouble == 1.0)) {
        char num[32];
        return zt_fail(err, ZT_ERR_FORMAT,
                       "settings JSON: version %s; this zimt reads version 1 (written by a "
                       "newer zimt?)",
                       cJSON_IsNumber(v) ? zt_double_text(num, sizeof num, v->valuedouble)
                                         : "that is not a number");
    }
    return ZT_OK;
}

static zt_status params_from_json(zt_gen_params *p, const char *json, int *seed_seen, zt_err *err)
{
    int nomem = 0, nul = zt_json_has_nul_escape(json);
    cJSON *o = nul ? NULL : zt_json_parse(json, strlen(json), NULL, &nomem);
    /* resets p once, and refuses a NULL o as not an object */
    zt_status st = params_from_object(p, o, seed_seen, err);
    if (st == ZT_OK)
        st = settings_sound(o, err);
    cJSON_Delete(o);
    if (nul)
        return zt_fail(err, ZT_ERR_FORMAT, "settings JSON: a string holds \\u0000");
    if (nomem)
        return zt_fail(err, ZT_ERR_NOMEM, "settings JSON: out of memory reading it");
    return st;
}

zt_status zt_gen_params_from_json(zt_gen_params *p, const char *json, zt_err *err)
{
    return params_from_json(p, json, NULL, err);
}

/* ---------------------------------------------------------------- A1111 */

/* Append a settings value, JSON-quoted when it holds a separator. */
static void a1111_value(sbuf *b, const char *v)
{
    if (!strpbrk(v, ",:\"\n\r")) {
        sb_str(b, v);
        return;
    }
    cJSON *s = cJSON_CreateString(v);
    char *q = s ? cJSON_PrintUnformatted(s) : NULL;
    if (q)
        sb_str(b, q);
    else
        b->failed = 1;
    cJSON_free(q);
    cJSON_Delete(s);
}

zt_status zt_gen_params_to_a1111(const zt_gen_params *p, char **out, zt_err *err)
{
    sbuf b = {0};
    char num[64];
    sb_str(&b, p->prompt ? p->prompt : "");
    sb_str(&b, "\n");
    if (p->negative_prompt && *p->negative_prompt) {
        sb_str(&b, "Negative prompt: ");
        sb_str(&b, p->negative_prompt);
        sb_str(&b, "\n");
    }
    snprintf(num, sizeof num, "Steps: %d, Sampler: ", p->steps);
    sb_str(&b, num);
    a1111_value(&b, p->sampler);
    sb_str(&b, ", CFG scale: ");
    sb_str(&b, zt_float_text(num, sizeof num, p->guidance));
    snprintf(num, sizeof num, ", Seed: %llu, Size: %dx%d, Model: ",
             (unsigned long long)p->seed, p->width, p->height);
    sb_str(&b, num);
    a1111_value(&b, p->model);
    /* "cuda" noise is the default of the Python pipeline: only note the other */
    if (strcmp(p->rng, "cuda") != 0) {
        sb_str(&b, ", RNG: ");
        a1111_value(&b, p->rng);
    }
    if (b.failed || !b.s) {
        free(b.s);
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory writing A1111 text");
    }
    *out = b.s;
    return ZT_OK;
}

/* One "Key: value" pair of a settings line, starting at s. Returns the
 * position after it (after the ',' if any) or NULL when none is there.
 * The value is heap (JSON-unquoted when quoted). */
static const char *next_pair(const char *s, char *key, size_t keycap, char **value)
{
    while (*s == ' ' || *s == '\t')
        s++;
    const char *k = s;
    while (*s && *s != ':' && *s != ',')
        s++;
    if (*s != ':' || s == k || (size_t)(s - k) >= keycap)
        return NULL;
    size_t kl = (size_t)(s - k);
    while (kl && k[kl - 1] == ' ')
        kl--;
    memcpy(key, k, kl);
    key[kl] = 0;
    s++;
    while (*s == ' ')
        s++;
    if (*s == '"') {
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithOpts(s, &end, 0);
        if (!cJSON_IsString(j) || !end) {
            cJSON_Delete(j);
            return NULL;
        }
        *value = dup_str(j->valuestring);
        cJSON_Delete(j);
        s = end;
        while (*s == ' ')
            s++;
    } else {
        const char *v = s;
        while (*s && *s != ',')
            s++;
        size_t vl = (size_t)(s - v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\r'))
            vl--;
        *value = malloc(vl + 1);
        if (*value) {
            memcpy(*value, v, vl);
            (*value)[vl] = 0;
        }
    }
    if (!*value)
        return NULL;
    if (*s == ',')
        s++;
    else if (*s)
        return NULL; /* junk after a quoted value */
    return s;
}

static int parse_int_range(const char *v, int lo, int hi, int *out)
{
    uint64_t u;
    if (!parse_u64(v, strlen(v), &u) || u < (uint64_t)lo || u > (uint64_t)hi)
        return 0;
    *out = (int)u;
    return 1;
}

/* Apply one pair; unknown keys are ignored. */
static zt_status apply_pair(zt_gen_params *p, const char *key, const char *v, zt_err *err)
{
    int ok = 1;
    if (strcmp(key, "Steps") == 0) {
        ok = parse_int_range(v, 0, 100000, &p->steps);
    } else if (strcmp(key, "Sampler") == 0) {
        ok = strlen(v) < sizeof p->sampler;
        if (ok)
            set_fixed(p->sampler, sizeof p->sampler, v);
    } else if (strcmp(key, "CFG scale") == 0) {
        char *end;
        errno = 0;
        float f = zt_strtof_c(v, &end);
        /* decimal only, as --guidance reads it: strtof also takes hex
         * ("0x10" was 16), "inf" and "nan" */
        ok = end != v && *end == 0 && errno == 0 && !v[strspn(v, "+-.0123456789eE")] && isfinite(f);
        if (ok)
            p->guidance = f;
    } else if (strcmp(key, "Seed") == 0) {
        ok = parse_u64(v, strlen(v), &p->seed);
    } else if (strcmp(key, "Size") == 0) {
        const char *x = strchr(v, 'x');
        char wbuf[16];
        ok = x && (size_t)(x - v) < sizeof wbuf;
        if (ok) {
            memcpy(wbuf, v, (size_t)(x - v));
            wbuf[x - v] = 0;
            ok = parse_int_range(wbuf, 0, ZT_PNG_SIDE_MAX, &p->width) &&
                 parse_int_range(x + 1, 0, ZT_PNG_SIDE_MAX, &p->height);
        }
    } else if (strcmp(key, "Model") == 0) {
        ok = strlen(v) < sizeof p->model;
        if (ok)
            set_fixed(p->model, sizeof p->model, v);
    } else if (strcmp(key, "RNG") == 0) {
        ok = strcmp(v, "cpu") == 0 || strcmp(v, "cuda") == 0;
        if (ok)
            set_fixed(p->rng, sizeof p->rng, v);
    }
    if (!ok)
        return zt_fail(err, ZT_ERR_FORMAT, "A1111 text: bad value \"%.64s\" for %s", v, key);
    return ZT_OK;
}

/* Parse a settings line into p: 0 (p untouched) when it is not one, -1
 * with err set on a bad value (fields before it applied), else 1, or 2
 * when the line gives a seed. */
static int parse_settings_line(zt_gen_params *p, const char *line, zt_err *err)
{
    /* first pass: is it a settings line at all (pairs to the end, Steps)? */
    const char *s = line;
    int pairs = 0, has_steps = 0, has_seed = 0;
    char key[64];
    while (*s) {
        char *v = NULL;
        s = next_pair(s, key, sizeof key, &v);
        free(v);
        if (!s)
            return 0;
        pairs++;
        has_steps |= strcmp(key, "Steps") == 0;
        has_seed |= strcmp(key, "Seed") == 0;
    }
    if (!pairs || !has_steps)
        return 0;
    for (s = line; *s;) {
        char *v = NULL;
        s = next_pair(s, key, sizeof key, &v);
        if (!s || !v) { /* the first pass read it whole: out of memory now */
            free(v);
            zt_fail(err, ZT_ERR_NOMEM, "out of memory");
            return -1;
        }
        zt_status st = apply_pair(p, key, v, err);
        free(v);
        if (st != ZT_OK)
            return -1;
    }
    return has_seed ? 2 : 1;
}

/* zt_gen_params_from_a1111; *seed_seen (may be NULL) says whether the text
 * gave a seed (p's is then 0, which makes one image for every such text). */
static zt_status a1111_read(zt_gen_params *p, const char *text, int *seed_seen, zt_err *err)
{
    if (seed_seen)
        *seed_seen = 0;
    zt_status st = reset(p, err);
    if (st != ZT_OK)
        return st;
    if (!utf8_valid(text))
        return zt_fail(err, ZT_ERR_UTF8, "A1111 text is not valid UTF-8");
    char *t = dup_str(text);
    if (!t)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
    size_t n = strlen(t);
    while (n && (t[n - 1] == '\n' || t[n - 1] == '\r'))
        t[--n] = 0;
    /* the last line may be the settings line */
    char *last = strrchr(t, '\n');
    char *line = last ? last + 1 : t;
    int r = parse_settings_line(p, line, err);
    if (r < 0) {
        free(t);
        return ZT_ERR_FORMAT;
    }
    if (seed_seen)
        *seed_seen = r == 2;
    if (r > 0) {
        if (last)
            *last = 0;
        else
            *t = 0;
    }
    /* prompt lines, then "Negative prompt:" and the negative's lines */
    char *neg = NULL;
    static const char tag[] = "Negative prompt:";
    if (strncmp(t, tag, sizeof tag - 1) == 0) {
        neg = t;
    } else {
        for (char *q = strchr(t, '\n'); q; q = strchr(q + 1, '\n'))
            if (strncmp(q + 1, tag, sizeof tag - 1) == 0) {
                *q = 0;
                neg = q + 1;
                break;
            }
    }
    if (neg) {
        char *nv = neg + sizeof tag - 1;
        if (*nv == ' ')
            nv++;
        st = zt_gen_params_set_negative(p, nv, err);
        *neg = 0;
    }
    if (st == ZT_OK)
        st = zt_gen_params_set_prompt(p, t, err);
    free(t);
    return st;
}

zt_status zt_gen_params_from_a1111(zt_gen_params *p, const char *text, zt_err *err)
{
    return a1111_read(p, text, NULL, err);
}

/* ---------------------------------------------------------- PNG errors */

typedef struct png_msg {
    char text[200];
    int sys_errno; /* errno when the error was raised: why a write failed */
    int cache_full; /* a text chunk was skipped: the chunk cache was full */
    char text_lost[80]; /* libpng's word on a text chunk it dropped, or "" */
} png_msg;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_msg *m = png_get_error_ptr(png);
    if (m) {
        m->sys_errno = errno;
        snprintf(m->text, sizeof m->text, "%s", msg);
    }
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    /* warnings (e.g. bad CRC of an ancillary chunk) are not fatal; a skipped
     * text chunk is noted, as it may have held the settings */
    png_msg *m = png_get_error_ptr(png);
    if (m && strstr(msg, "chunk cache"))
        m->cache_full = 1;
    /* "zTXt: truncated" when the text passes the chunk size limit */
    if (m && !m->text_lost[0] &&
        (!strncmp(msg, "tEXt", 4) || !strncmp(msg, "zTXt", 4) || !strncmp(msg, "iTXt", 4)))
        snprintf(m->text_lost, sizeof m->text_lost, "%s", msg);
}

/* ----------------------------------------------------------- PNG write */

typedef struct write_job {
    FILE *f;
    const uint8_t *rgb;
    int w, h;
    png_text text[2];
    int ntext;
    png_msg msg;
} write_job;

/* Encode job into job->f. 0 on success, -1 with job->msg set. Nothing
 * local is modified after setjmp. */
static int encode_png(write_job *job)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job->msg,
                                              on_png_error, on_png_warning);
    if (!png) {
        snprintf(job->msg.text, sizeof job->msg.text, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        if (!info)
            snprintf(job->msg.text, sizeof job->msg.text, "out of memory");
        png_destroy_write_struct(&png, info ? &info : NULL);
        return -1;
    }
    png_init_io(png, job->f);
    png_set_IHDR(png, info, (png_uint_32)job->w, (png_uint_32)job->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (job->ntext)
        png_set_text(png, info, job->text, job->ntext);
    png_write_info(png, info);
    for (int y = 0; y < job->h; y++)
        png_write_row(png, job->rgb + (size_t)y * (size_t)job->w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* "dir/name" -> "dir" and "name" (heap; "." when there is no slash). */
static int split_path(const char *path, char **dir, char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = dup_str(".");
        *base = dup_str(path);
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        *dir = malloc(n + 1);
        if (*dir) {
            memcpy(*dir, path, n);
            (*dir)[n] = 0;
        }
        *base = dup_str(slash + 1);
    }
    return *dir && *base;
}

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

/* Move tmp to path unless path exists: renameat2(NOREPLACE) where the
 * kernel and filesystem have it, else link + unlink. 0, or an errno. */
static int publish(const char *tmp, const char *path)
{
#ifdef SYS_renameat2
    if (syscall(SYS_renameat2, AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != ENOSYS && errno != EINVAL && errno != ENOTSUP)
        return errno;
#endif
    if (link(tmp, path) != 0)
        return errno;
    unlink(tmp);
    return 0;
}

/* Held for reading from a write's temporary file to its publication or
 * removal; zt_png_writes_stop sets writes_stopped, then takes the lock for
 * writing once, which waits for the writes under way. A write that takes
 * the lock after that finds writes_stopped set and makes no file. (Keeping
 * the lock instead blocked such a write for good, and with it the thread
 * that had still to report the write before it.) */
static pthread_rwlock_t writes_lock = PTHREAD_RWLOCK_INITIALIZER;
static atomic_int writes_stopped;

void zt_png_writes_stop(void)
{
    atomic_store(&writes_stopped, 1);
    pthread_rwlock_wrlock(&writes_lock);
    pthread_rwlock_unlock(&writes_lock);
}

zt_status zt_png_write(const char *path, const uint8_t *rgb, int w, int h,
                       const zt_gen_params *p, zt_err *err)
{
    if (!path || !*path || !rgb || w <= 0 || h <= 0 || w > ZT_PNG_SIDE_MAX ||
        h > ZT_PNG_SIDE_MAX)
        return zt_fail(err, ZT_ERR_INVALID, "%s: bad image (%dx%d)", path ? path : "(null)",
                       w, h);
    zt_status st = ZT_OK;
    char *a1111 = NULL, *latin1 = NULL, *json = NULL, *dir = NULL, *base = NULL, *tmp = NULL;
    int fd = -1, locked = 0;
    FILE *f = NULL;
    write_job job;
    memset(&job, 0, sizeof job);

    if (p) {
        if (!utf8_valid(p->prompt ? p->prompt : "") ||
            !utf8_valid(p->negative_prompt ? p->negative_prompt : "") ||
            !utf8_valid(p->model) || !utf8_valid(p->sampler) || !utf8_valid(p->rng)) {
            st = zt_fail(err, ZT_ERR_UTF8, "%s: settings are not valid UTF-8", path);
            goto fail;
        }
        if ((st = zt_gen_params_to_a1111(p, &a1111, err)) != ZT_OK ||
            (st = zt_gen_params_to_json(p, &json, err)) != ZT_OK)
            goto fail;
        int is_latin1;
        latin1 = utf8_to_latin1(a1111, &is_latin1);
        if (!latin1 && is_latin1) {
            st = zt_fail(err, ZT_ERR_NOMEM, "out of memory");
            goto fail;
        }
        /* libpng keeps these pointers only until png_set_text copies them */
        job.text[0].key = (png_charp) "parameters";
        if (latin1) {
            job.text[0].compression = PNG_TEXT_COMPRESSION_NONE;
            job.text[0].text = latin1;
        } else {
            job.text[0].compression = PNG_ITXT_COMPRESSION_NONE;
            job.text[0].text = a1111;
            job.text[0].lang = (png_charp) "";
            job.text[0].lang_key = (png_charp) "";
        }
        job.text[1].compression = PNG_ITXT_COMPRESSION_NONE;
        job.text[1].key = (png_charp) "zimt";
        job.text[1].text = json;
        job.text[1].lang = (png_charp) "";
        job.text[1].lang_key = (png_charp) "";
        job.ntext = 2;
    }

    if (access(path, F_OK) == 0) {
        st = zt_fail(err, ZT_ERR_EXISTS, "%s: file exists; not overwriting", path);
        goto fail;
    }
    if (!split_path(path, &dir, &base)) {
        st = zt_fail(err, ZT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (!*base) {
        st = zt_fail(err, ZT_ERR_INVALID, "%s: not a file name", path);
        goto fail;
    }
    size_t tl = strlen(dir) + strlen(base) + 16;
    tmp = malloc(tl);
    if (!tmp) {
        st = zt_fail(err, ZT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* the temporary name is the final one with 8 more bytes, unless that
     * would pass the longest name a directory holds */
    if (strlen(base) + 8 > 255)
        snprintf(tmp, tl, "%s/.zimt-png.XXXXXX", dir);
    else
        snprintf(tmp, tl, "%s/.%s.XXXXXX", dir, base);
    if (pthread_rwlock_rdlock(&writes_lock) != 0) {
        st = zt_fail(err, ZT_ERR_IO, "%s: cannot start a write (too many at once)", path);
        free(tmp);
        tmp = NULL;
        goto fail;
    }
    locked = 1;
    if (atomic_load(&writes_stopped)) {
        st = zt_fail(err, ZT_ERR_CANCELLED, "%s: not written: zimt is stopping at once", path);
        free(tmp);
        tmp = NULL;
        goto fail;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        st = zt_fail(err, ZT_ERR_IO, "%s: cannot create a file in %s: %s", path, dir,
                     strerror(errno));
        free(tmp);
        tmp = NULL;
        goto fail;
    }
    if (fchmod(fd, 0644) != 0 || !(f = fdopen(fd, "wb"))) {
        st = zt_fail(err, ZT_ERR_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1; /* owned by f now */
    job.f = f;
    job.rgb = rgb;
    job.w = w;
    job.h = h;
    if (encode_png(&job) != 0) {
        /* libpng only says "Write Error"; the stream knows whether the
         * disk was full or a file size limit was hit. */
        if (ferror(f) && job.msg.sys_errno)
            st = zt_fail(err, ZT_ERR_IO, "%s: writing PNG failed: %s", path,
                         strerror(job.msg.sys_errno));
        else
            st = zt_fail(err, ZT_ERR_IO, "%s: writing PNG failed: %s", path, job.msg.text);
        goto fail;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        st = zt_fail(err, ZT_ERR_IO, "%s: writing failed: %s", path, strerror(errno));
        goto fail;
    }
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) {
        st = zt_fail(err, ZT_ERR_IO, "%s: writing failed: %s", path, strerror(errno));
        goto fail;
    }
    int e = publish(tmp, path);
    if (e == EEXIST) {
        st = zt_fail(err, ZT_ERR_EXISTS, "%s: file exists; not overwriting", path);
        goto fail;
    } else if (e) {
        st = zt_fail(err, ZT_ERR_IO, "%s: cannot move the finished file into place: %s", path,
                     strerror(e));
        goto fail;
    }
    free(tmp);
    tmp = NULL;
    /* make the new directory entry durable too; best effort, since some
     * filesystems cannot sync a directory */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
fail:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    if (locked)
        pthread_rwlock_unlock(&writes_lock);
    free(a1111);
    free(latin1);
    free(json);
    free(dir);
    free(base);
    return st;
}

/* ------------------------------------------------------------ PNG read */

typedef struct read_job {
    FILE *f;
    uint8_t *rgb;     /* result, heap */
    png_bytep *rows;  /* scratch */
    char *zimt;       /* "zimt" text (UTF-8), heap */
    char *parameters; /* "parameters" text converted to UTF-8, heap */
    int w, h;
    int own_msg;          /* msg is ours, not libpng's */
    const char *bad_text; /* why a zimt or parameters text was not taken */
    png_msg msg;
} read_job;

static char *text_to_utf8(const png_text *t)
{
    if (t->compression == PNG_ITXT_COMPRESSION_NONE || t->compression == PNG_ITXT_COMPRESSION_zTXt)
        return utf8_valid(t->text) ? dup_str(t->text) : NULL;
    /* tEXt and zTXt are Latin-1, but the zimt chunk is JSON, which is
     * UTF-8: one a tool stored as tEXt keeps its UTF-8 (read as Latin-1,
     * "café" came back as "cafÃ©") */
    if (!strcmp(t->key, "zimt") && utf8_valid(t->text))
        return dup_str(t->text);
    return latin1_to_utf8(t->text, t->text_length);
}

/* The longest settings text read (decompressed), and libpng's chunk limit. */
#define TEXT_MAX (4u << 20)

static void collect_text(png_structp png, png_infop info, read_job *job)
{
    png_textp text = NULL;
    int n = png_get_text(png, info, &text, NULL);
    for (int i = 0; i < n; i++) {
        char **slot = strcmp(text[i].key, "zimt") == 0         ? &job->zimt
                      : strcmp(text[i].key, "parameters") == 0 ? &job->parameters
                                                               : NULL;
        /* libpng warns of a text past png_set_chunk_malloc_max but may
         * read it all the same (a 30 MB "parameters" became the prompt) */
        if (slot && !*slot && text[i].text && strlen(text[i].text) > TEXT_MAX) {
            job->bad_text = "its settings text is longer than 4 MiB";
            continue;
        }
        if (slot && !*slot && text[i].text && !(*slot = text_to_utf8(&text[i])))
            job->bad_text = utf8_valid(text[i].text) ? "out of memory"
                                                     : "its settings text is not valid UTF-8";
    }
}

/* Decode job->f. 0 on success, -1 with job->msg set. Everything that
 * changes after setjmp is in *job. */
static int decode_png(read_job *job)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job->msg, on_png_error,
                                             on_png_warning);
    if (!png) {
        snprintf(job->msg.text, sizeof job->msg.text, "out of memory");
        job->own_msg = 1;
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        if (!info) {
            snprintf(job->msg.text, sizeof job->msg.text, "out of memory");
            job->own_msg = 1;
        }
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        return -1;
    }
    png_init_io(png, job->f);
    png_set_user_limits(png, ZT_PNG_SIDE_MAX, ZT_PNG_SIDE_MAX);
    /* Text chunks and the like are all held until the end: at most 32 of
     * at most 4 MiB each (decompressed), 128 MiB in the worst file. Our
     * settings take a few KB; other tools' workflows rarely pass 1 MiB. */
    png_set_chunk_cache_max(png, 32);
    png_set_chunk_malloc_max(png, TEXT_MAX);
    png_read_info(png, info);
    /* the size was checked from IHDR before (zt_png_read), and libpng
     * refuses a zero side */
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    /* any PNG -> 8-bit RGB */
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) {
        snprintf(job->msg.text, sizeof job->msg.text, "unsupported pixel layout");
        job->own_msg = 1;
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    job->w = (int)w;
    job->h = (int)h;
    job->rgb = malloc((size_t)w * h * 3);
    job->rows = malloc((size_t)h * sizeof *job->rows);
    if (!job->rgb || !job->rows) {
        job->own_msg = 1;
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < h; y++)
        job->rows[y] = job->rgb + (size_t)y * w * 3;
    png_read_image(png, job->rows);
    png_read_end(png, info); /* text after the image data lands in info too */
    collect_text(png, info, job);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

zt_status zt_png_read(const char *path, uint8_t **rgb, int *w, int *h, zt_gen_params *p,
                      int *has_params, zt_err *err)
{
    zt_status st = ZT_OK;
    read_job job;
    memset(&job, 0, sizeof job);
    if (has_params)
        *has_params = 0;
    if (rgb)
        *rgb = NULL;
    if (p && (st = reset(p, err)) != ZT_OK)
        return st;
    /* O_NONBLOCK: a FIFO is refused as not a file instead of waited on */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return zt_fail(err, ZT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || !(job.f = fdopen(fd, "rb"))) {
        close(fd);
        return zt_fail(err, ZT_ERR_FORMAT, "%s: not a regular file", path);
    }
    unsigned char sig[8];
    if (fread(sig, 1, 8, job.f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        st = zt_fail(err, ZT_ERR_FORMAT, "%s: not a PNG file", path);
        goto done;
    }
    /* The size, from IHDR (the first chunk), refused before libpng reads
     * on: it would call an IHDR past its limits invalid, or stop at a
     * file's end far from IHDR and call it truncated. */
    unsigned char ihdr[16];
    if (fread(ihdr, 1, sizeof ihdr, job.f) == sizeof ihdr && !memcmp(ihdr + 4, "IHDR", 4)) {
        unsigned long iw = png_get_uint_32(ihdr + 8), ih = png_get_uint_32(ihdr + 12);
        if (iw > ZT_PNG_SIDE_MAX || ih > ZT_PNG_SIDE_MAX || iw * ih > ZT_PNG_PIXELS_MAX) {
            st = zt_fail(err, ZT_ERR_TOO_BIG,
                         "%s: image %lux%lu is larger than allowed (at most %d pixels a side "
                         "and %ld million pixels)",
                         path, iw, ih, ZT_PNG_SIDE_MAX, ZT_PNG_PIXELS_MAX >> 20);
            goto done;
        }
    }
    rewind(job.f);
    if (decode_png(&job) != 0) {
        /* libpng's own reader says only "Read Error" when the file ends
         * early or the read fails; say which. */
        if (feof(job.f))
            st = zt_fail(err, ZT_ERR_FORMAT, "%s: the PNG file is truncated", path);
        else if (ferror(job.f))
            st = zt_fail(err, ZT_ERR_IO, "%s: reading failed: %s", path,
                         job.msg.sys_errno ? strerror(job.msg.sys_errno) : job.msg.text);
        else if (job.own_msg)
            st = zt_fail(err, ZT_ERR_FORMAT, "%s: %s", path, job.msg.text);
        else /* libpng's terse words ("bad adaptive filter value") */
            st = zt_fail(err, ZT_ERR_FORMAT, "%s: the PNG file is damaged (%s)", path,
                         job.msg.text);
        goto done;
    }
    if (p) {
        int got = 0;
        zt_err why = {0}, why2 = {0};
        /* a settings chunk that was there but not read (damaged, its text
         * not UTF-8, dropped by libpng): the A1111 text is then a stand-in,
         * and said to be one */
        int lost = job.zimt || job.bad_text || job.msg.text_lost[0] || job.msg.cache_full;
        /* an empty "parameters" text holds no settings (it read as an
         * empty prompt with seed 0) */
        const int text = job.parameters && job.parameters[strspn(job.parameters, " \t\r\n")];
        int seed_seen = 1;
        if (job.zimt && params_from_json(p, job.zimt, &seed_seen, &why) == ZT_OK)
            got = 1 | (seed_seen ? 0 : ZT_PNG_PARAMS_NO_SEED);
        else if (text && a1111_read(p, job.parameters, &seed_seen, &why2) == ZT_OK)
            got = (lost ? ZT_PNG_PARAMS_FALLBACK : 1) | (seed_seen ? 0 : ZT_PNG_PARAMS_NO_SEED);
        else if ((st = reset(p, err)) != ZT_OK)
            goto done;
        if (!got && (job.zimt || text)) {
            /* settings there but unusable: say why, not "none" */
            st = zt_fail(err, ZT_ERR_FORMAT, "%s: its settings cannot be used: %s", path,
                         job.zimt ? why.msg : why2.msg);
            goto done;
        }
        if (!got && (job.bad_text || job.msg.cache_full)) {
            st = zt_fail(err, ZT_ERR_FORMAT, "%s: its settings cannot be used: %s", path,
                         job.bad_text ? job.bad_text
                                      : "it holds more text chunks than are read (32)");
            goto done;
        }
        if (!got && job.msg.text_lost[0]) {
            st = zt_fail(err, ZT_ERR_FORMAT,
                         "%s: a text chunk that may hold its settings could not be read (%s; "
                         "text is read up to 4 MiB)",
                         path, job.msg.text_lost);
            goto done;
        }
        if (has_params)
            *has_params = got;
        if ((got & ZT_PNG_PARAMS_FALLBACK) && err) { /* not silently: the caller says it */
            err->code = ZT_OK;
            snprintf(err->msg, sizeof err->msg, "%.200s: %s (%.200s); its A1111 text was taken",
                     path,
                     job.zimt ? "its zimt settings cannot be used"
                              : "a text chunk that may hold its zimt settings could not be read",
                     job.zimt               ? why.msg
                     : job.bad_text         ? job.bad_text
                     : job.msg.text_lost[0] ? job.msg.text_lost
                                            : "more text chunks than are read (32)");
        }
    }
    if (w)
        *w = job.w;
    if (h)
        *h = job.h;
    if (rgb) {
        *rgb = job.rgb;
        job.rgb = NULL;
    }
done:
    fclose(job.f);
    free(job.rgb);
    free(job.rows);
    free(job.zimt);
    free(job.parameters);
    return st;
}
