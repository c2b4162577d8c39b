/*
 * tokenizer.c - byte-level BPE from a Hugging Face tokenizer.json (see
 * tokenizer.h for what is and is not supported).
 *
 * Layout of the loaded object (all owned by struct zt_tokenizer):
 *   arena      every token string, back to back (vocab keys, added tokens)
 *   strs[id]   offset/length into arena of id's string (id -> text)
 *   vocab      open-addressing hash: model vocab string -> id
 *   merges     open-addressing hash: (left id, right id) -> rank, merged id
 *   added[]    added tokens, each set ordered by first byte then length
 *              (longest first) so a scan finds the leftmost-longest match
 *   re         the Split regex, PCRE2 (JIT when available)
 *
 * Encoding allocates its own scratch (struct work) per call, so one
 * tokenizer can serve several threads.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <pcre2.h>
#include <utf8proc.h>

/* Ids above this are refused at load: a hostile file must not make us
 * allocate gigabytes for an id table. Real vocabularies are ~150k-260k. */
#define MAX_ID (1 << 24)
/* tokenizer.json files are ~11 MB; refuse absurd sizes before reading. */
#define MAX_FILE_BYTES ((size_t)1 << 30)

typedef struct str_ref {
    uint32_t off, len;          /* into arena; len UINT32_MAX = no string */
} str_ref;

typedef struct vocab_slot {
    uint32_t off, len;          /* key in arena */
    uint32_t hash;              /* full hash of the key: most misses stop here */
    int32_t id;                 /* -1 = empty slot */
} vocab_slot;

typedef struct merge_slot {
    uint64_t key;               /* left << 32 | right; UINT64_MAX = empty */
    int32_t rank, id;           /* rank = position in the merges list */
} merge_slot;

typedef struct added_token {
    uint32_t off, len;          /* content in arena (NFC'd when normalized) */
    int32_t id;
    unsigned char special, lstrip, rstrip, single_word, normalized;
} added_token;

/* One set of added tokens matched together. first[b]..first[b+1] indexes
 * the tokens (in order[]) whose content starts with byte b, longest first. */
typedef struct added_set {
    int n;
    int32_t *order;             /* [n] indices into tok->added */
    int32_t first[257];
} added_set;

struct zt_tokenizer {
    char *arena;
    size_t arena_len, arena_cap;

    int32_t n_ids;              /* 1 + largest id */
    int32_t ids_cap;            /* room in the three tables below */
    str_ref *strs;              /* [n_ids] */
    unsigned char *is_special;  /* [n_ids] 1 = special added token */
    unsigned char *is_added;    /* [n_ids] 1 = added token (decode uses it) */

    vocab_slot *vocab;
    uint32_t vocab_mask;
    int32_t n_vocab;

    merge_slot *merges;
    uint32_t merge_mask;
    int32_t n_merges;

    added_token *added;
    int n_added;
    added_set raw_set;          /* normalized == false: matched on input */
    added_set norm_set;         /* normalized == true: matched after NFC */

    int32_t byte_id[256];       /* id of the ByteLevel char of each byte, -1 */
    unsigned char byte_chr[256][2]; /* UTF-8 of each byte's char */
    unsigned char byte_chr_len[256];
    int16_t cp_byte[324];       /* ByteLevel char code point -> byte, -1 */

    int32_t unk_id;             /* -1 when the model has no unk token */
    int fuse_unk;
    int ignore_merges;
    int nfc;

    pcre2_code *re;             /* NULL: the whole segment is one word */
};

/* ---------------------------------------------------------------- UTF-8 */

int zt_utf8_validate(const char *s, size_t len, size_t *bad_offset)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;      /* no overlongs */
            else if (c == 0xED)
                hi = 0x9F;      /* no surrogates D800-DFFF */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;      /* at most U+10FFFF */
        } else {
            goto bad;
        }
        if (len - i <= need)
            goto bad;
        if (p[i + 1] < lo || p[i + 1] > hi)
            goto bad;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                goto bad;
        i += need + 1;
    }
    return 1;
bad:
    if (bad_offset)
        *bad_offset = i;
    return 0;
}

/* Decode one code point of valid UTF-8 at s (len > 0). Returns its length;
 * on malformed input returns 0. Used on file strings, which are untrusted. */
static int utf8_next(const unsigned char *s, size_t len, int32_t *cp)
{
    size_t bad;
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if ((size_t)n > len || !zt_utf8_validate((const char *)s, (size_t)n, &bad))
        return 0;
    if (n == 1)
        *cp = (int32_t)c;
    else if (n == 2)
        *cp = (int32_t)(((c & 0x1F) << 6) | (s[1] & 0x3F));
    else if (n == 3)
        *cp = (int32_t)(((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F));
    else
        *cp = (int32_t)(((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) |
                        (s[3] & 0x3F));
    return n;
}

/* Code point ending at s[end) (valid UTF-8 assumed). Returns its length. */
static int utf8_prev(const unsigned char *s, size_t end, int32_t *cp)
{
    size_t i = end - 1;
    while (i > 0 && (s[i] & 0xC0) == 0x80 && end - i < 4)
        i--;
    int n = utf8_next(s + i, end - i, cp);
    return n ? n : 1;
}

/* Unicode White_Space, what Rust's char::is_whitespace tests (lstrip and
 * rstrip of added tokens use it). */
static int is_white_space(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Letters and numbers (single_word's notion of a word character). */
static int is_alnum_cp(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

/* ---------------------------------------------------------------- hashing */

static uint32_t hash_bytes(const char *s, size_t n)
{
    /* FNV-1a; token strings are short, so this is not worth beating. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t hash_pair(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (uint32_t)k;
}

/* FNV-1a is a stream: the hash of a+b continues from the hash of a. */
static uint32_t hash_more(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static void prefetch(const void *p)
{
#if defined(__GNUC__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
}

/* Lookup with the key's hash h already known. */
static int32_t vocab_find_h(const zt_tokenizer *t, const char *s, size_t n, uint32_t h)
{
    uint32_t i = h & t->vocab_mask;
    for (;;) {
        const vocab_slot *v = &t->vocab[i];
        if (v->id < 0)
            return -1;
        if (v->hash == h && v->len == n && !memcmp(t->arena + v->off, s, n))
            return v->id;
        i = (i + 1) & t->vocab_mask;
    }
}

static int32_t vocab_find(const zt_tokenizer *t, const char *s, size_t n)
{
    if (!t->vocab)
        return -1;
    return vocab_find_h(t, s, n, hash_bytes(s, n));
}

static const merge_slot *merge_find(const zt_tokenizer *t, int32_t a, int32_t b)
{
    if (!t->merges) /* "merges": [] builds no table */
        return NULL;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint32_t i = hash_pair(key) & t->merge_mask;
    for (;;) {
        const merge_slot *m = &t->merges[i];
        if (m->key == key)
            return m;
        if (m->key == UINT64_MAX)
            return NULL;
        i = (i + 1) & t->merge_mask;
    }
}

/* ------------------------------------------------------- the JSON scanner
 *
 * The vocab and merges are ~300k small strings; building a cJSON tree for
 * them costs more than the rest of loading. This scanner walks the text in
 * place instead. It accepts only well-formed JSON (RFC 8259: no control
 * characters in strings, no lone surrogate escapes, valid UTF-8, nesting
 * at most SCAN_DEPTH) and never reads past end. Everything outside vocab
 * and merges is small and still goes through cJSON, one value at a time.
 */

#define SCAN_DEPTH 128

typedef struct scan {
    const char *p, *end, *base; /* cursor, end of text, start (for offsets) */
    char *buf[2];               /* decoded strings that had escapes */
    size_t cap[2];
    int nomem;
} scan;

static void scan_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static int scan_eat(scan *s, char c)
{
    scan_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

static int hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return 0;
        *v = *v << 4 | (uint32_t)d;
    }
    return 1;
}

/* A string at the cursor. *out points into the text when it has no escapes,
 * else into buf[which]; valid until the next call with the same which. */
static int scan_str(scan *s, int which, const char **out, size_t *len)
{
    scan_ws(s);
    if (s->p >= s->end || *s->p != '"')
        return 0;
    const char *start = ++s->p, *q = start;
    int high = 0, esc = 0;
    while (q < s->end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20)
            return 0;
        high |= c & 0x80;
        if (c == '\\') {
            esc = 1;
            if (++q >= s->end)
                return 0;
        }
        q++;
    }
    if (q >= s->end)
        return 0;
    size_t n = (size_t)(q - start);
    if (!esc) {
        if (high && !zt_utf8_validate(start, n, NULL))
            return 0;
        *out = start;
        *len = n;
        s->p = q + 1;
        return 1;
    }
    /* Escapes only shrink the text, so n bytes always suffice. */
    if (n + 1 > s->cap[which]) {
        char *b = realloc(s->buf[which], n + 1);
        if (!b) {
            s->nomem = 1;
            return 0;
        }
        s->buf[which] = b;
        s->cap[which] = n + 1;
    }
    char *o = s->buf[which];
    for (const char *r = start; r < q;) {
        if (*r != '\\') {
            *o++ = *r++;
            continue;
        }
        r++;
        char c = *r++;
        uint32_t cp;
        switch (c) {
        case '"': case '\\': case '/':
            *o++ = c;
            continue;
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case 'n': *o++ = '\n'; continue;
        case 'r': *o++ = '\r'; continue;
        case 't': *o++ = '\t'; continue;
        case 'u':
            if (q - r < 4 || !hex4(r, &cp))
                return 0;
            r += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return 0; /* lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (q - r < 6 || r[0] != '\\' || r[1] != 'u' || !hex4(r + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return 0; /* lone high surrogate */
                r += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18);
                *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            continue;
        default:
            return 0;
        }
    }
    *len = (size_t)(o - s->buf[which]);
    *out = s->buf[which];
    if (!zt_utf8_validate(*out, *len, NULL))
        return 0;
    s->p = q + 1;
    return 1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Any JSON value, checked and passed over. */
static int scan_skip(scan *s, int depth)
{
    const char *o;
    size_t l;
    if (depth > SCAN_DEPTH)
        return 0;
    scan_ws(s);
    if (s->p >= s->end)
        return 0;
    char c = *s->p;
    if (c == '"')
        return scan_str(s, 0, &o, &l);
    if (c == '{') {
        s->p++;
        if (scan_eat(s, '}'))
            return 1;
        do {
            if (!scan_str(s, 0, &o, &l) || !scan_eat(s, ':') || !scan_skip(s, depth + 1))
                return 0;
        } while (scan_eat(s, ','));
        return scan_eat(s, '}');
    }
    if (c == '[') {
        s->p++;
        if (scan_eat(s, ']'))
            return 1;
        do {
            if (!scan_skip(s, depth + 1))
                return 0;
        } while (scan_eat(s, ','));
        return scan_eat(s, ']');
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t wl = strlen(words[i]);
        if ((size_t)(s->end - s->p) >= wl && !memcmp(s->p, words[i], wl)) {
            s->p += wl;
            return 1;
        }
    }
    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    const char *p = s->p, *e = s->end;
    if (p < e && *p == '-')
        p++;
    if (p >= e || !is_digit(*p))
        return 0;
    if (*p == '0')
        p++;
    else
        while (p < e && is_digit(*p))
            p++;
    if (p < e && *p == '.') {
        if (++p >= e || !is_digit(*p))
            return 0;
        while (p < e && is_digit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !is_digit(*p))
            return 0;
        while (p < e && is_digit(*p))
            p++;
    }
    s->p = p;
    return 1;
}

/* A whole number in [0, MAX_ID) at the cursor (the form ids take). */
static int scan_id(scan *s, int32_t *id)
{
    scan_ws(s);
    const char *p = s->p;
    uint32_t v = 0;
    if (p >= s->end || !is_digit(*p))
        return 0;
    if (*p == '0' && p + 1 < s->end && is_digit(p[1]))
        return 0;
    while (p < s->end && is_digit(*p)) {
        v = v * 10 + (uint32_t)(*p++ - '0');
        if (v >= MAX_ID)
            return 0;
    }
    if (p < s->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return 0;
    s->p = p;
    *id = (int32_t)v;
    return 1;
}

static zt_status scan_error(scan *s, zt_status st, const char *what, const char *where,
                            zt_err *err)
{
    if (st == ZT_ERR_NOMEM || s->nomem)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory reading %s", what, where);
    return zt_fail(err, ZT_ERR_FORMAT, "%s: JSON error in %s near byte %zu", what, where,
                   (size_t)(s->p - s->base));
}

/* Called for a member named in scan_members' keys; must consume its value
 * and fill err when it fails. */
typedef zt_status (*member_fn)(scan *s, int which, void *ctx, zt_err *err);

/* Walk an object's members. A key named in keys[] goes to fn (which reads
 * the value itself); every other member is parsed with cJSON and added to
 * obj (a repeated key keeps its last value). where names the object in
 * messages. */
static zt_status scan_members(scan *s, cJSON *obj, const char *const *keys, int n_keys,
                              member_fn fn, void *ctx, const char *what, const char *where,
                              zt_err *err)
{
    if (!scan_eat(s, '{'))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: %s is not an object", what, where);
    if (scan_eat(s, '}'))
        return ZT_OK;
    do {
        const char *k;
        size_t kl;
        if (!scan_str(s, 0, &k, &kl) || !scan_eat(s, ':'))
            return scan_error(s, ZT_ERR_FORMAT, what, where, err);
        int which = -1;
        for (int i = 0; i < n_keys; i++)
            if (strlen(keys[i]) == kl && !memcmp(keys[i], k, kl))
                which = i;
        if (which >= 0) {
            zt_status st = fn(s, which, ctx, err);
            if (st)
                return st;
            continue;
        }
        char *key = malloc(kl + 1);
        if (!key)
            return scan_error(s, ZT_ERR_NOMEM, what, where, err);
        memcpy(key, k, kl);
        key[kl] = 0;
        scan_ws(s);
        const char *v = s->p;
        cJSON *item = NULL;
        if (!scan_skip(s, 1)) { /* s->p is where the value went wrong */
            free(key);
            return scan_error(s, ZT_ERR_FORMAT, what, where, err);
        }
        const char *bad = NULL;
        int nomem;
        if (!(item = zt_json_parse(v, (size_t)(s->p - v), &bad, &nomem))) {
            free(key);
            s->nomem |= nomem;
            if (!nomem && bad >= v && bad <= s->p)
                s->p = bad; /* the message names where cJSON stopped */
            return scan_error(s, ZT_ERR_FORMAT, what, where, err);
        }
        /* each copies the key: without memory for it, item stays ours */
        cJSON_bool kept = cJSON_GetObjectItemCaseSensitive(obj, key)
                              ? cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)
                              : cJSON_AddItemToObject(obj, key, item);
        free(key);
        if (!kept) {
            cJSON_Delete(item);
            return scan_error(s, ZT_ERR_NOMEM, what, where, err);
        }
    } while (scan_eat(s, ','));
    if (!scan_eat(s, '}'))
        return scan_error(s, ZT_ERR_FORMAT, what, where, err);
    return ZT_OK;
}

/* ---------------------------------------------------------------- loading */

static zt_status arena_add(zt_tokenizer *t, const char *s, size_t n, uint32_t *off,
                           zt_err *err)
{
    if (n >= UINT32_MAX || t->arena_len + n >= UINT32_MAX)
        return zt_fail(err, ZT_ERR_TOO_BIG, "token strings exceed 4 GiB");
    /* Allocate even for an empty first string (a file may hold "" as a
     * token): every string's pointer is arena + offset, never NULL + 0. */
    if (!t->arena || t->arena_len + n > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 1 << 16;
        while (cap < t->arena_len + n)
            cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a)
            return zt_fail(err, ZT_ERR_NOMEM, "out of memory for token strings");
        t->arena = a;
        t->arena_cap = cap;
    }
    memcpy(t->arena + t->arena_len, s, n);
    *off = (uint32_t)t->arena_len;
    t->arena_len += n;
    return ZT_OK;
}

/* A JSON number that is a whole id in [0, MAX_ID). */
static int json_id(const cJSON *v, int32_t *id)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d < MAX_ID) || d != (double)(int32_t)d)
        return 0;
    *id = (int32_t)d;
    return 1;
}

static int json_flag(const cJSON *obj, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    return dflt;
}

/* Make room in the id tables for id. */
static zt_status ensure_id(zt_tokenizer *t, int32_t id, zt_err *err)
{
    if (id < t->ids_cap) {
        if (id >= t->n_ids)
            t->n_ids = id + 1;
        return ZT_OK;
    }
    int32_t n = t->ids_cap ? t->ids_cap : 1024;
    while (n <= id)
        n = n > MAX_ID / 2 ? MAX_ID : n * 2;
    str_ref *s = realloc(t->strs, (size_t)n * sizeof *s);
    if (!s)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory for %d ids", n);
    t->strs = s;
    unsigned char *sp = realloc(t->is_special, (size_t)n);
    if (!sp)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory for %d ids", n);
    t->is_special = sp;
    unsigned char *ad = realloc(t->is_added, (size_t)n);
    if (!ad)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory for %d ids", n);
    t->is_added = ad;
    for (int32_t i = t->ids_cap; i < n; i++) {
        t->strs[i].off = 0;
        t->strs[i].len = UINT32_MAX;
        t->is_special[i] = 0;
        t->is_added[i] = 0;
    }
    t->ids_cap = n;
    t->n_ids = id + 1;
    return ZT_OK;
}

static zt_status vocab_grow(zt_tokenizer *t, zt_err *err)
{
    uint32_t old = t->vocab ? t->vocab_mask + 1 : 0;
    if (old >= 1u << 28)
        return zt_fail(err, ZT_ERR_TOO_BIG, "vocab too large");
    uint32_t sz = old ? old * 2 : 1u << 12;
    vocab_slot *nv = malloc((size_t)sz * sizeof *nv);
    if (!nv)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory for the vocab");
    for (uint32_t i = 0; i < sz; i++)
        nv[i].id = -1;
    for (uint32_t i = 0; i < old; i++) {
        if (t->vocab[i].id < 0)
            continue;
        uint32_t h = t->vocab[i].hash & (sz - 1);
        while (nv[h].id >= 0)
            h = (h + 1) & (sz - 1);
        nv[h] = t->vocab[i];
    }
    free(t->vocab);
    t->vocab = nv;
    t->vocab_mask = sz - 1;
    return ZT_OK;
}

static zt_status vocab_put(zt_tokenizer *t, const char *key, size_t len, int32_t id, zt_err *err)
{
    zt_status s;
    if (!t->vocab || (size_t)(t->n_vocab + 1) * 2 > (size_t)t->vocab_mask + 1)
        if ((s = vocab_grow(t, err)))
            return s;
    if ((s = ensure_id(t, id, err)))
        return s;
    uint32_t hash = hash_bytes(key, len), h = hash & t->vocab_mask;
    uint32_t off;
    while (t->vocab[h].id >= 0) {
        vocab_slot *v = &t->vocab[h];
        if (v->hash == hash && v->len == len && !memcmp(t->arena + v->off, key, len))
            break; /* a repeated key keeps its last id */
        h = (h + 1) & t->vocab_mask;
    }
    /* One id for two different strings would make encoding and decoding
     * disagree (the fuzzer found one such file): refuse it. A repeated
     * key with its own id again is fine. */
    if (t->strs[id].len != UINT32_MAX && !(t->vocab[h].id == id))
        return zt_fail(err, ZT_ERR_FORMAT, "model.vocab gives id %d to two different tokens",
                       id);
    if (t->vocab[h].id >= 0) {
        off = t->vocab[h].off;
        if (t->vocab[h].id != id) /* the old id loses its string, as in a map */
            t->strs[t->vocab[h].id].len = UINT32_MAX;
    } else {
        if ((s = arena_add(t, key, len, &off, err)))
            return s;
        t->n_vocab++;
    }
    t->vocab[h].off = off;
    t->vocab[h].len = (uint32_t)len;
    t->vocab[h].hash = hash;
    t->vocab[h].id = id;
    t->strs[id].off = off;
    t->strs[id].len = (uint32_t)len;
    return ZT_OK;
}

/* model.vocab: {"token": id, ...} at the cursor. */
static zt_status load_vocab(zt_tokenizer *t, scan *sc, const char *what, zt_err *err)
{
    if (!scan_eat(sc, '{'))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: model.vocab is not an object", what);
    if (!scan_eat(sc, '}')) {
        do {
            const char *k;
            size_t kl;
            int32_t id;
            if (!scan_str(sc, 0, &k, &kl) || !scan_eat(sc, ':'))
                return scan_error(sc, ZT_ERR_FORMAT, what, "model.vocab", err);
            if (!scan_id(sc, &id))
                return zt_fail(err, ZT_ERR_FORMAT,
                               "%s: model.vocab entry '%.*s' is not an id in [0, %d) (byte %zu)",
                               what, (int)(kl > 64 ? 64 : kl), k, MAX_ID,
                               (size_t)(sc->p - sc->base));
            zt_status s = vocab_put(t, k, kl, id, err);
            if (s)
                return zt_err_prefix(err, "%s", what);
        } while (scan_eat(sc, ','));
        if (!scan_eat(sc, '}'))
            return scan_error(sc, ZT_ERR_FORMAT, what, "model.vocab", err);
    }
    if (t->n_vocab == 0)
        return zt_fail(err, ZT_ERR_FORMAT, "%s: model.vocab is empty", what);
    return ZT_OK;
}

static zt_status merge_grow(zt_tokenizer *t, zt_err *err)
{
    uint32_t old = t->merges ? t->merge_mask + 1 : 0;
    if (old >= 1u << 28)
        return zt_fail(err, ZT_ERR_TOO_BIG, "too many merges");
    uint32_t sz = old ? old * 2 : 1u << 12;
    merge_slot *nm = malloc((size_t)sz * sizeof *nm);
    if (!nm)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory for merges");
    for (uint32_t i = 0; i < sz; i++)
        nm[i].key = UINT64_MAX;
    for (uint32_t i = 0; i < old; i++) {
        if (t->merges[i].key == UINT64_MAX)
            continue;
        uint32_t h = hash_pair(t->merges[i].key) & (sz - 1);
        while (nm[h].key != UINT64_MAX)
            h = (h + 1) & (sz - 1);
        nm[h] = t->merges[i];
    }
    free(t->merges);
    t->merges = nm;
    t->merge_mask = sz - 1;
    return ZT_OK;
}

static zt_status add_merge(zt_tokenizer *t, const char *a, size_t na, const char *b, size_t nb,
                           int32_t rank, char **tmp, size_t *tmp_cap, int32_t *guess,
                           const char *what, zt_err *err)
{
    zt_status s;
    if (!t->merges || (size_t)(t->n_merges + 1) * 2 > (size_t)t->merge_mask + 1)
        if ((s = merge_grow(t, err)))
            return zt_err_prefix(err, "%s", what);
    /* Loading is bound by cache misses on the vocab table: start all
     * three lookups' loads before using any of them. */
    uint32_t ha = hash_bytes(a, na), hb = hash_bytes(b, nb), hab = hash_more(ha, b, nb);
    prefetch(&t->vocab[ha & t->vocab_mask]);
    prefetch(&t->vocab[hb & t->vocab_mask]);
    /* In BPE files the merged token's id usually follows the previous
     * merge's; checking that guess reads the arena in order. */
    int32_t im = -1, g = *guess;
    if (g >= 0 && g < t->n_ids && t->strs[g].len == na + nb &&
        !memcmp(t->arena + t->strs[g].off, a, na) &&
        !memcmp(t->arena + t->strs[g].off + na, b, nb))
        im = g;
    else
        prefetch(&t->vocab[hab & t->vocab_mask]);
    int32_t ia = vocab_find_h(t, a, na, ha), ib = vocab_find_h(t, b, nb, hb);
    if (im < 0) {
        if (na + nb > *tmp_cap) {
            size_t cap = 2 * (na + nb);
            char *p = realloc(*tmp, cap);
            if (!p)
                return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", what);
            *tmp = p;
            *tmp_cap = cap;
        }
        memcpy(*tmp, a, na);
        memcpy(*tmp + na, b, nb);
        im = vocab_find_h(t, *tmp, na + nb, hab);
    }
    *guess = im + 1;
    if (ia < 0 || ib < 0 || im < 0)
        return zt_fail(err, ZT_ERR_FORMAT, "%s: merge %d ('%.*s' '%.*s'): %s not in the vocab",
                       what, rank, (int)(na > 64 ? 64 : na), a, (int)(nb > 64 ? 64 : nb), b,
                       ia < 0 ? "left part" : ib < 0 ? "right part" : "merged token");
    uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
    uint32_t i = hash_pair(key) & t->merge_mask;
    while (t->merges[i].key != UINT64_MAX && t->merges[i].key != key)
        i = (i + 1) & t->merge_mask;
    if (t->merges[i].key == UINT64_MAX)
        t->n_merges++;
    /* A repeated pair keeps its last rank, as a map built from the list does. */
    t->merges[i].key = key;
    t->merges[i].rank = rank;
    t->merges[i].id = im;
    return ZT_OK;
}

/* model.merges at the cursor: ["a b", ...] or [["a", "b"], ...], in rank
 * order. A "a b" string splits at its first space. */
static zt_status load_merges(zt_tokenizer *t, scan *sc, const char *what, zt_err *err)
{
    if (!scan_eat(sc, '['))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: model.merges is not an array", what);
    if (scan_eat(sc, ']'))
        return ZT_OK;
    char *tmp = NULL;
    size_t tmp_cap = 0;
    zt_status s = ZT_OK;
    int32_t rank = 0, guess = -1;
    do {
        const char *a, *b;
        size_t na, nb;
        if (rank == INT32_MAX - 1) {
            s = zt_fail(err, ZT_ERR_TOO_BIG, "%s: too many merges", what);
            break;
        }
        if (scan_eat(sc, '[')) {
            if (!scan_str(sc, 0, &a, &na) || !scan_eat(sc, ',') || !scan_str(sc, 1, &b, &nb) ||
                !scan_eat(sc, ']')) {
                s = zt_fail(err, ZT_ERR_FORMAT,
                            "%s: merge %d is not [\"a\", \"b\"] (byte %zu)", what, rank,
                            (size_t)(sc->p - sc->base));
                break;
            }
        } else if (scan_str(sc, 0, &a, &na)) {
            const char *sp = memchr(a, ' ', na);
            if (!sp) {
                s = zt_fail(err, ZT_ERR_FORMAT, "%s: merge %d '%.*s' has no space", what, rank,
                            (int)(na > 64 ? 64 : na), a);
                break;
            }
            b = sp + 1;
            nb = na - (size_t)(b - a);
            na = (size_t)(sp - a);
        } else {
            s = zt_fail(err, ZT_ERR_FORMAT,
                        "%s: merge %d is neither \"a b\" nor [\"a\", \"b\"] (byte %zu)", what,
                        rank, (size_t)(sc->p - sc->base));
            break;
        }
        if ((s = add_merge(t, a, na, b, nb, rank, &tmp, &tmp_cap, &guess, what, err)))
            break;
        rank++;
    } while (scan_eat(sc, ','));
    if (!s && !scan_eat(sc, ']'))
        s = scan_error(sc, ZT_ERR_FORMAT, what, "model.merges", err);
    free(tmp);
    return s;
}

/* An added token's sort key: by first byte, longest first, then by index
 * (so equal keys keep the file's order). */
typedef struct added_key {
    uint32_t first, len;
    int32_t idx;
} added_key;

static int cmp_added(const void *pa, const void *pb)
{
    const added_key *a = pa, *b = pb;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Sorts idx[0..n) by cmp_added. qsort has no context argument in C11, so the
 * keys are copied out first: a file may hold any number of added tokens. */
static zt_status sort_added(int32_t *idx, int n, const zt_tokenizer *t, zt_err *err)
{
    added_key *k = malloc((size_t)(n ? n : 1) * sizeof *k);
    if (!k)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory for added tokens");
    for (int i = 0; i < n; i++) {
        const added_token *a = &t->added[idx[i]];
        k[i] = (added_key){(unsigned char)t->arena[a->off], a->len, idx[i]};
    }
    qsort(k, (size_t)n, sizeof *k, cmp_added);
    for (int i = 0; i < n; i++)
        idx[i] = k[i].idx;
    free(k);
    return ZT_OK;
}

static zt_status build_set(zt_tokenizer *t, added_set *set, int normalized, zt_err *err)
{
    set->n = 0;
    set->order = malloc((size_t)(t->n_added ? t->n_added : 1) * sizeof *set->order);
    if (!set->order)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory for added tokens");
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].normalized == normalized && t->added[i].len > 0)
            set->order[set->n++] = i;
    zt_status st = sort_added(set->order, set->n, t, err);
    if (st != ZT_OK)
        return st;
    int k = 0;
    for (int b = 0; b < 256; b++) {
        set->first[b] = k;
        while (k < set->n && (unsigned char)t->arena[t->added[set->order[k]].off] == b)
            k++;
    }
    set->first[256] = k;
    return ZT_OK;
}

static zt_status nfc(const char *s, size_t n, char **out, size_t *out_len, zt_err *err);

static zt_status load_added(zt_tokenizer *t, const cJSON *list, const char *what, zt_err *err)
{
    if (!list || cJSON_IsNull(list))
        return ZT_OK;
    if (!cJSON_IsArray(list))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: added_tokens is not an array", what);
    int n = cJSON_GetArraySize(list);
    t->added = calloc((size_t)(n ? n : 1), sizeof *t->added);
    if (!t->added)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", what);
    int i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        int32_t id;
        if (!cJSON_IsObject(e) || !cJSON_IsString(content) ||
            !json_id(cJSON_GetObjectItemCaseSensitive(e, "id"), &id))
            return zt_fail(err, ZT_ERR_FORMAT,
                           "%s: added_tokens[%d] needs a string content and an id in [0, %d)",
                           what, i, MAX_ID);
        added_token *a = &t->added[t->n_added];
        a->id = id;
        a->special = (unsigned char)json_flag(e, "special", 0);
        a->lstrip = (unsigned char)json_flag(e, "lstrip", 0);
        a->rstrip = (unsigned char)json_flag(e, "rstrip", 0);
        a->single_word = (unsigned char)json_flag(e, "single_word", 0);
        /* HF's default: special tokens are not normalized, others are. */
        a->normalized = (unsigned char)json_flag(e, "normalized", !a->special);
        const char *c = content->valuestring;
        size_t len = strlen(c), bad;
        if (!zt_utf8_validate(c, len, &bad))
            return zt_fail(err, ZT_ERR_FORMAT,
                           "%s: added_tokens[%d] content is not valid UTF-8 at byte %zu", what,
                           i, bad);
        zt_status s = ensure_id(t, id, err);
        if (s)
            return s;
        s = arena_add(t, c, len, &a->off, err);
        if (s)
            return s;
        a->len = (uint32_t)len;
        t->strs[id].off = a->off;
        t->strs[id].len = a->len;
        t->is_added[id] = 1;
        t->is_special[id] = a->special;
        if (a->normalized && t->nfc && len) {
            /* Matched against normalised text, so its content is normalised too. */
            char *nc;
            size_t nl;
            s = nfc(c, len, &nc, &nl, err);
            if (s)
                return s;
            s = arena_add(t, nc, nl, &a->off, err);
            free(nc);
            if (s)
                return s;
            a->len = (uint32_t)nl;
        }
        t->n_added++;
    }
    zt_status s = build_set(t, &t->raw_set, 0, err);
    if (!s)
        s = build_set(t, &t->norm_set, 1, err);
    return s;
}

static zt_status load_normalizer(zt_tokenizer *t, const cJSON *n, const char *what,
                                 zt_err *err)
{
    if (!n || cJSON_IsNull(n))
        return ZT_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(n, "type");
    if (!cJSON_IsString(type))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: normalizer has no type", what);
    if (!strcmp(type->valuestring, "NFC")) {
        t->nfc = 1;
        return ZT_OK;
    }
    if (!strcmp(type->valuestring, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        if (!cJSON_IsArray(list))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: normalizer Sequence has no list", what);
        for (const cJSON *e = list->child; e; e = e->next) {
            zt_status s = load_normalizer(t, e, what, err);
            if (s)
                return s;
        }
        return ZT_OK;
    }
    return zt_fail(err, ZT_ERR_UNSUPPORTED, "%s: normalizer '%.64s' is not supported", what,
                   type->valuestring);
}

/* Rewrite \s and \S to Unicode White_Space: the reference's regex engine
 * (Oniguruma) counts U+0085 as a space, PCRE2's \s under UCP does not. */
static char *rewrite_spaces(const char *p)
{
    size_t n = strlen(p), extra = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '\\') {
            if (p[i + 1] == 's' || p[i + 1] == 'S')
                extra += 16;
            i++;
        }
    char *out = malloc(n + extra + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 1 < n) {
            if (p[i + 1] == 's' || p[i + 1] == 'S') {
                o += (size_t)sprintf(out + o, "\\%c{White_Space}", p[i + 1] == 's' ? 'p' : 'P');
            } else {
                out[o++] = p[i];
                out[o++] = p[i + 1];
            }
            i++;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = 0;
    return out;
}

static zt_status compile_regex(zt_tokenizer *t, const char *pattern, int literal,
                               const char *what, zt_err *err)
{
    if (t->re)
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "%s: more than one Split pre-tokenizer", what);
    /* PCRE2 refuses PCRE2_UCP beside PCRE2_LITERAL, which needs no classes */
    uint32_t opts = literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP;
    char *pat = NULL;
    if (!literal && !(pat = rewrite_spaces(pattern)))
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", what);
    int ec;
    PCRE2_SIZE eo;
    t->re = pcre2_compile((PCRE2_SPTR)(pat ? pat : pattern), PCRE2_ZERO_TERMINATED, opts, &ec,
                          &eo, NULL);
    if (!t->re && pat) /* no White_Space property in this PCRE2: plain \s */
        t->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
    free(pat);
    if (!t->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return zt_fail(err, ZT_ERR_FORMAT, "%s: Split regex at offset %zu: %s", what,
                       (size_t)eo, (const char *)msg);
    }
    /* JIT is an optimisation only; the interpreter gives the same matches. */
    (void)pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE);
    return ZT_OK;
}

/* GPT-2's split, which ByteLevel applies itself when use_regex is true. */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static zt_status load_pretok(zt_tokenizer *t, const cJSON *p, int *byte_level,
                             const char *what, zt_err *err)
{
    if (!p || cJSON_IsNull(p))
        return ZT_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
    if (!cJSON_IsString(type))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: pre_tokenizer has no type", what);
    const char *ty = type->valuestring;
    if (!strcmp(ty, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        if (!cJSON_IsArray(list))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: pre_tokenizer Sequence has no list", what);
        for (const cJSON *e = list->child; e; e = e->next) {
            zt_status s = load_pretok(t, e, byte_level, what, err);
            if (s)
                return s;
        }
        return ZT_OK;
    }
    if (*byte_level)
        return zt_fail(err, ZT_ERR_UNSUPPORTED,
                       "%s: a pre-tokenizer after ByteLevel is not supported", what);
    if (!strcmp(ty, "ByteLevel")) {
        if (json_flag(p, "add_prefix_space", 0))
            return zt_fail(err, ZT_ERR_UNSUPPORTED,
                           "%s: ByteLevel add_prefix_space is not supported", what);
        *byte_level = 1;
        if (json_flag(p, "use_regex", 1))
            return compile_regex(t, gpt2_pattern, 0, what, err);
        return ZT_OK;
    }
    if (!strcmp(ty, "Split")) {
        const cJSON *behavior = cJSON_GetObjectItemCaseSensitive(p, "behavior");
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        if (!cJSON_IsString(behavior) || strcmp(behavior->valuestring, "Isolated"))
            return zt_fail(err, ZT_ERR_UNSUPPORTED,
                           "%s: Split behavior other than Isolated is not supported", what);
        if (json_flag(p, "invert", 0))
            return zt_fail(err, ZT_ERR_UNSUPPORTED, "%s: Split invert is not supported", what);
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *lit = cJSON_GetObjectItemCaseSensitive(pat, "String");
        if (cJSON_IsString(re))
            return compile_regex(t, re->valuestring, 0, what, err);
        if (cJSON_IsString(lit))
            return compile_regex(t, lit->valuestring, 1, what, err);
        return zt_fail(err, ZT_ERR_FORMAT, "%s: Split pattern needs Regex or String", what);
    }
    return zt_fail(err, ZT_ERR_UNSUPPORTED, "%s: pre_tokenizer '%.64s' is not supported", what,
                   ty);
}

static int empty_or_null(const cJSON *v)
{
    return !v || cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[0]);
}

/* State of one load while the scanner walks the file. */
typedef struct load_ctx {
    zt_tokenizer *t;
    cJSON *model;               /* the model's small members */
    const char *what;
    const char *merges_at;      /* merges seen before vocab: read them later */
    int have_model, have_vocab, have_merges;
} load_ctx;

static zt_status model_member(scan *s, int which, void *ctx, zt_err *err)
{
    load_ctx *c = ctx;
    if (which == 0) {
        if (c->have_vocab)
            return zt_fail(err, ZT_ERR_FORMAT, "%s: model.vocab given twice", c->what);
        c->have_vocab = 1;
        return load_vocab(c->t, s, c->what, err);
    }
    if (c->have_merges || c->merges_at)
        return zt_fail(err, ZT_ERR_FORMAT, "%s: model.merges given twice", c->what);
    if (c->have_vocab) {
        c->have_merges = 1;
        return load_merges(c->t, s, c->what, err);
    }
    /* Merges name vocab entries, so they wait for the vocab. */
    scan_ws(s);
    c->merges_at = s->p;
    if (!scan_skip(s, 1))
        return scan_error(s, ZT_ERR_FORMAT, c->what, "model.merges", err);
    return ZT_OK;
}

static zt_status top_member(scan *s, int which, void *ctx, zt_err *err)
{
    static const char *const model_keys[] = {"vocab", "merges"};
    load_ctx *c = ctx;
    (void)which;
    if (c->have_model)
        return zt_fail(err, ZT_ERR_FORMAT, "%s: model given twice", c->what);
    c->have_model = 1;
    return scan_members(s, c->model, model_keys, 2, model_member, c, c->what, "model", err);
}

/* The model's settings, once vocab and merges are in. */
static zt_status load_model(zt_tokenizer *t, const cJSON *m, const char *what, zt_err *err)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
    if (type && !(cJSON_IsString(type) && !strcmp(type->valuestring, "BPE")))
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "%s: model type is not BPE", what);
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(m, "dropout");
    if (!(!dropout || cJSON_IsNull(dropout) ||
          (cJSON_IsNumber(dropout) && dropout->valuedouble == 0)))
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "%s: BPE dropout is not supported", what);
    if (!empty_or_null(cJSON_GetObjectItemCaseSensitive(m, "continuing_subword_prefix")) ||
        !empty_or_null(cJSON_GetObjectItemCaseSensitive(m, "end_of_word_suffix")))
        return zt_fail(err, ZT_ERR_UNSUPPORTED,
                       "%s: BPE subword prefixes/suffixes are not supported", what);
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(m, "unk_token");
    t->unk_id = -1;
    if (cJSON_IsString(unk)) {
        t->unk_id = vocab_find(t, unk->valuestring, strlen(unk->valuestring));
        if (t->unk_id < 0)
            return zt_fail(err, ZT_ERR_FORMAT, "%s: unk_token '%.64s' is not in the vocab", what,
                           unk->valuestring);
    }
    t->fuse_unk = json_flag(m, "fuse_unk", 0);
    t->ignore_merges = json_flag(m, "ignore_merges", 0);
    return ZT_OK;
}

/* GPT-2's reversible byte -> printable character table: printable Latin-1
 * bytes stand for themselves, the rest take code points from U+0100 up. */
static void build_byte_map(zt_tokenizer *t)
{
    int next = 256;
    for (int i = 0; i < 324; i++)
        t->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        int cp;
        if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
            cp = b;
        else
            cp = next++;
        t->cp_byte[cp] = (int16_t)b;
        if (cp < 0x80) {
            t->byte_chr[b][0] = (unsigned char)cp;
            t->byte_chr_len[b] = 1;
        } else {
            t->byte_chr[b][0] = (unsigned char)(0xC0 | (cp >> 6));
            t->byte_chr[b][1] = (unsigned char)(0x80 | (cp & 0x3F));
            t->byte_chr_len[b] = 2;
        }
        t->byte_id[b] = vocab_find(t, (const char *)t->byte_chr[b], t->byte_chr_len[b]);
    }
}

zt_status zt_tokenizer_new_from_json(zt_tokenizer **out, const char *json, size_t len,
                                     const char *what, zt_err *err)
{
    *out = NULL;
    if (!what)
        what = "tokenizer.json";
    zt_tokenizer *t = calloc(1, sizeof *t);
    cJSON *root = cJSON_CreateObject(), *model = cJSON_CreateObject();
    scan sc = {.p = json, .end = json + len, .base = json};
    zt_status s;
    if (!t || !root || !model) {
        s = zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", what);
        goto fail;
    }
    t->unk_id = -1;
    /* a download cut short is said as such, not by the merge or the
     * string where the scan then broke ("merge 36838 is not ...") */
    size_t last = len;
    while (last > 0 && strchr(" \t\r\n", json[last - 1]))
        last--;
    if (!last) {
        s = zt_fail(err, ZT_ERR_FORMAT, "%s: the file is empty", what);
        goto fail;
    }
    if (len >= 3 && !memcmp(json, "\xef\xbb\xbf", 3)) {
        s = zt_fail(err, ZT_ERR_FORMAT, "%s: starts with a byte order mark, which JSON has not",
                    what);
        goto fail;
    }
    if (json[last - 1] != '}') {
        s = zt_fail(err, ZT_ERR_FORMAT,
                    "%s: its JSON object does not end (after %zu bytes): a file cut short?", what,
                    last);
        goto fail;
    }

    /* One pass over the text: everything but the model's vocab and merges
     * becomes cJSON (small); those two load straight into the tables. */
    static const char *const top_keys[] = {"model"};
    load_ctx ctx = {.t = t, .model = model, .what = what};
    s = scan_members(&sc, root, top_keys, 1, top_member, &ctx, what, "the top-level object",
                     err);
    if (s)
        goto fail;
    scan_ws(&sc);
    if (sc.p != sc.end) {
        s = zt_fail(err, ZT_ERR_FORMAT, "%s: text after the JSON object at byte %zu", what,
                    (size_t)(sc.p - sc.base));
        goto fail;
    }
    if (!ctx.have_model || !ctx.have_vocab || (!ctx.have_merges && !ctx.merges_at)) {
        s = zt_fail(err, ZT_ERR_FORMAT, "%s: %s", what,
                    !ctx.have_model ? "no model object" : "model needs vocab and merges");
        goto fail;
    }
    if (ctx.merges_at) {
        sc.p = ctx.merges_at;
        if ((s = load_merges(t, &sc, what, err)))
            goto fail;
    }
    s = load_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), what, err);
    if (s)
        goto fail;
    s = load_model(t, model, what, err);
    if (s)
        goto fail;
    s = load_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), what, err);
    if (s)
        goto fail;
    int byte_level = 0;
    s = load_pretok(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), &byte_level,
                    what, err);
    if (s)
        goto fail;
    if (!byte_level) {
        s = zt_fail(err, ZT_ERR_UNSUPPORTED, "%s: only ByteLevel tokenizers are supported",
                    what);
        goto fail;
    }
    build_byte_map(t);
    cJSON_Delete(root);
    cJSON_Delete(model);
    free(sc.buf[0]);
    free(sc.buf[1]);
    *out = t;
    return ZT_OK;
fail:
    cJSON_Delete(root);
    cJSON_Delete(model);
    free(sc.buf[0]);
    free(sc.buf[1]);
    zt_tokenizer_free(t);
    return s;
}

/* The Z-Image chat template (zt_tokenizer_encode_chat) and the special
 * tokens in it. Each must be an added token: as plain text the BPE splits
 * "<|im_start|>" into '<', '|', 'im', ... and the text encoder is handed a
 * prompt it was never trained on, without any error. */
static const char chat_head[] = "<|im_start|>user\n";
static const char chat_tail[] = "<|im_end|>\n<|im_start|>assistant\n";
static const char *const chat_specials[] = {"<|im_start|>", "<|im_end|>"};

static int is_added_token(const zt_tokenizer *t, const char *str)
{
    size_t len = strlen(str);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == len && !memcmp(t->arena + t->added[i].off, str, len))
            return 1;
    return 0;
}

static zt_status chat_tokens_check(const zt_tokenizer *t, const char *what, zt_err *err)
{
    for (size_t i = 0; i < sizeof chat_specials / sizeof chat_specials[0]; i++)
        if (!is_added_token(t, chat_specials[i]))
            return zt_fail(err, ZT_ERR_FORMAT,
                           "%s: the special token '%s' that the chat template uses is not "
                           "among its added_tokens (a damaged or foreign tokenizer.json)",
                           what, chat_specials[i]);
    return ZT_OK;
}

zt_status zt_tokenizer_new(zt_tokenizer **out, const char *path, zt_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO: refused, not waited on */
    if (fd < 0)
        return zt_fail(err, ZT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return zt_fail(err, ZT_ERR_IO, "%s: not a readable file", path);
    }
    if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
        close(fd);
        return zt_fail(err, ZT_ERR_TOO_BIG, "%s: %lld bytes is too large", path,
                       (long long)st.st_size);
    }
    size_t len = (size_t)st.st_size;
    /* Mapped, not read: the text is only walked once and then dropped. */
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (len && map == MAP_FAILED)
        return zt_fail(err, ZT_ERR_IO, "%s: mmap: %s", path, strerror(errno));
    zt_status s = zt_tokenizer_new_from_json(out, len ? map : "", len, path, err);
    if (len)
        munmap(map, len);
    /* A model's tokenizer is used through the chat template: one that
     * cannot tokenize it is refused here, before any weight loads. */
    if (s == ZT_OK && (s = chat_tokens_check(*out, path, err))) {
        zt_tokenizer_free(*out);
        *out = NULL;
    }
    return s;
}

void zt_tokenizer_free(zt_tokenizer *t)
{
    if (!t)
        return;
    free(t->arena);
    free(t->strs);
    free(t->is_special);
    free(t->is_added);
    free(t->vocab);
    free(t->merges);
    free(t->added);
    free(t->raw_set.order);
    free(t->norm_set.order);
    pcre2_code_free(t->re);
    free(t);
}

/* ---------------------------------------------------------------- encoding */

typedef struct sym {
    int32_t id;
    int32_t prev, next;         /* neighbours in the word; -1 at the ends */
} sym;

typedef struct heap_ent {
    int32_t rank, pos;          /* pos: index of the pair's left symbol */
} heap_ent;

/* Per-call scratch. ids grows; encoding stops once n reaches limit. */
typedef struct work {
    const zt_tokenizer *t;
    int32_t *ids;
    size_t n, cap, limit;
    sym *syms;
    size_t syms_cap;
    heap_ent *heap;
    size_t heap_n, heap_cap;
    pcre2_match_data *md;
} work;

static zt_status grow(void **p, size_t *cap, size_t need, size_t elem, zt_err *err)
{
    if (need <= *cap)
        return ZT_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    if (c > SIZE_MAX / elem)
        return zt_fail(err, ZT_ERR_NOMEM, "tokenizer: out of memory");
    void *q = realloc(*p, c * elem);
    if (!q)
        return zt_fail(err, ZT_ERR_NOMEM, "tokenizer: out of memory");
    *p = q;
    *cap = c;
    return ZT_OK;
}

static zt_status push_id(work *w, int32_t id, zt_err *err)
{
    if (w->n >= w->limit)
        return ZT_OK;
    if (w->n == w->cap) {
        zt_status s = grow((void **)&w->ids, &w->cap, w->n + 1, sizeof *w->ids, err);
        if (s)
            return s;
    }
    w->ids[w->n++] = id;
    return ZT_OK;
}

static int heap_less(heap_ent a, heap_ent b)
{
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void heap_push(work *w, heap_ent e)
{
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(e, w->heap[p]))
            break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = e;
}

static heap_ent heap_pop(work *w)
{
    heap_ent top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && heap_less(w->heap[c + 1], w->heap[c]))
            c++;
        if (!heap_less(w->heap[c], last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n)
        w->heap[i] = last;
    return top;
}

static void push_pair(work *w, int32_t pos)
{
    int32_t nx = w->syms[pos].next;
    if (nx < 0)
        return;
    const merge_slot *m = merge_find(w->t, w->syms[pos].id, w->syms[nx].id);
    if (m)
        heap_push(w, (heap_ent){m->rank, pos});
}

/* BPE on one pre-token: its bytes become ByteLevel symbols, then the
 * lowest-ranked adjacent pair (leftmost among equals) merges until no pair
 * has a rank. Equivalent to HF's priority-queue BPE; O(n log n). */
static zt_status bpe_word(work *w, const unsigned char *s, size_t n, zt_err *err)
{
    const zt_tokenizer *t = w->t;
    if (n == 0 || w->n >= w->limit)
        return ZT_OK;
    if (n > INT32_MAX / 2)
        return zt_fail(err, ZT_ERR_TOO_BIG, "tokenizer: a %zu-byte word is too long", n);
    if (t->ignore_merges) {
        /* A word already in the vocab is taken whole. */
        char small[256];
        if (2 * n <= sizeof small) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                for (int j = 0; j < t->byte_chr_len[s[i]]; j++)
                    small[k++] = (char)t->byte_chr[s[i]][j];
            int32_t id = vocab_find(t, small, k);
            if (id >= 0)
                return push_id(w, id, err);
        }
    }
    zt_status st = grow((void **)&w->syms, &w->syms_cap, n, sizeof *w->syms, err);
    if (st)
        return st;
    /* Symbols for the known bytes; an unknown byte becomes unk (fused with a
     * preceding unk when fuse_unk) or is dropped when there is no unk. */
    int32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[s[i]];
        if (id < 0) {
            if (t->unk_id < 0)
                continue;
            if (t->fuse_unk && m > 0 && w->syms[m - 1].id == t->unk_id)
                continue;
            id = t->unk_id;
        }
        w->syms[m].id = id;
        w->syms[m].prev = m - 1;
        w->syms[m].next = m + 1;
        m++;
    }
    if (m == 0)
        return ZT_OK;
    w->syms[m - 1].next = -1;
    if (m > 1) {
        /* Each merge adds at most two pairs: the heap never holds more than
         * the m-1 initial pairs plus 2 per merge (at most m-1 merges). */
        st = grow((void **)&w->heap, &w->heap_cap, 3 * (size_t)m, sizeof *w->heap, err);
        if (st)
            return st;
        w->heap_n = 0;
        for (int32_t i = 0; i + 1 < m; i++)
            push_pair(w, i);
        while (w->heap_n) {
            heap_ent e = heap_pop(w);
            sym *a = &w->syms[e.pos];
            if (a->id < 0 || a->next < 0)
                continue; /* merged away since it was queued */
            sym *b = &w->syms[a->next];
            const merge_slot *mg = merge_find(t, a->id, b->id);
            if (!mg || mg->rank != e.rank)
                continue; /* the pair changed since it was queued */
            a->id = mg->id;
            b->id = -1;
            a->next = b->next;
            if (b->next >= 0)
                w->syms[b->next].prev = e.pos;
            if (a->prev >= 0)
                push_pair(w, a->prev);
            push_pair(w, e.pos);
        }
    }
    for (int32_t i = 0; i >= 0; i = w->syms[i].next) {
        st = push_id(w, w->syms[i].id, err);
        if (st)
            return st;
    }
    return ZT_OK;
}

/* The Split pre-tokenizer with behaviour Isolated: each regex match and
 * each gap between matches is a word of its own. */
static zt_status pretokenize(work *w, const char *s, size_t n, zt_err *err)
{
    const zt_tokenizer *t = w->t;
    const unsigned char *u = (const unsigned char *)s;
    if (!t->re)
        return bpe_word(w, u, n, err);
    size_t pos = 0, gap = 0;
    zt_status st;
    while (pos < n && w->n < w->limit) {
        int rc = pcre2_match(t->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, w->md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(t->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                             w->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return zt_fail(err, ZT_ERR_INVALID, "tokenizer: regex failed at byte %zu: %s", pos,
                           (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms || ms < pos) {
            /* An empty match splits nothing: search again one character on. */
            size_t step = 1;
            while (ms + step < n && (u[ms + step] & 0xC0) == 0x80)
                step++;
            pos = (ms < pos ? pos : ms) + step;
            continue;
        }
        if (ms > gap && (st = bpe_word(w, u + gap, ms - gap, err)))
            return st;
        if ((st = bpe_word(w, u + ms, me - ms, err)))
            return st;
        pos = gap = me;
    }
    if (gap < n)
        return bpe_word(w, u + gap, n - gap, err);
    return ZT_OK;
}

/* Leftmost-longest added token of set at or after pos: *ms, *me, *which
 * (index into t->added). Returns 0 when there is none. */
static int find_added(const zt_tokenizer *t, const added_set *set, const char *s, size_t n,
                      size_t pos, size_t *ms, size_t *me, int *which)
{
    if (!set->n)
        return 0;
    for (size_t i = pos; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        for (int32_t k = set->first[b]; k < set->first[b + 1]; k++) {
            const added_token *a = &t->added[set->order[k]];
            if (a->len <= n - i && !memcmp(s + i, t->arena + a->off, a->len)) {
                *ms = i;
                *me = i + a->len;
                *which = set->order[k];
                return 1;
            }
        }
    }
    return 0;
}

typedef zt_status (*segment_fn)(work *w, const char *s, size_t n, zt_err *err);

/* Cut s at the tokens of set (HF AddedVocabulary semantics): a matched
 * token emits its id, the text between goes to next(). lstrip/rstrip take
 * the white space beside the token into it; single_word tokens count only
 * between non-word characters. */
static zt_status split_added(work *w, const added_set *set, const char *s, size_t n,
                             segment_fn next, zt_err *err)
{
    const zt_tokenizer *t = w->t;
    const unsigned char *u = (const unsigned char *)s;
    size_t pos = 0, done = 0, ms, me;
    int which;
    zt_status st;
    while (w->n < w->limit && find_added(t, set, s, n, pos, &ms, &me, &which)) {
        const added_token *a = &t->added[which];
        pos = me;
        if (ms < done)
            continue; /* inside white space an rstrip already took */
        if (a->single_word) {
            int32_t c;
            if (ms > 0 && utf8_prev(u, ms, &c) && is_alnum_cp(c))
                continue;
            if (me < n && utf8_next(u + me, n - me, &c) && is_alnum_cp(c))
                continue;
        }
        if (a->lstrip) {
            int32_t c;
            while (ms > done) {
                int k = utf8_prev(u, ms, &c);
                if (!is_white_space(c))
                    break;
                ms -= (size_t)k;
            }
        }
        if (a->rstrip) {
            int32_t c;
            int k;
            while (me < n && (k = utf8_next(u + me, n - me, &c)) > 0 && is_white_space(c))
                me += (size_t)k;
            pos = me;
        }
        if (ms > done && (st = next(w, s + done, ms - done, err)))
            return st;
        if ((st = push_id(w, a->id, err)))
            return st;
        done = me;
    }
    if (done < n && w->n < w->limit)
        return next(w, s + done, n - done, err);
    return ZT_OK;
}

static zt_status nfc(const char *s, size_t n, char **out, size_t *out_len, zt_err *err)
{
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (r < 0)
        return zt_fail(err, r == UTF8PROC_ERROR_NOMEM ? ZT_ERR_NOMEM : ZT_ERR_UTF8,
                       "tokenizer: NFC: %s", utf8proc_errmsg(r));
    *out = (char *)dst;
    *out_len = (size_t)r;
    return ZT_OK;
}

static zt_status after_norm_added(work *w, const char *s, size_t n, zt_err *err)
{
    return split_added(w, &w->t->norm_set, s, n, pretokenize, err);
}

/* Text between raw added tokens: normalise, then look for the normalized
 * added tokens, then pre-tokenise what is left. */
static zt_status normalize_segment(work *w, const char *s, size_t n, zt_err *err)
{
    const zt_tokenizer *t = w->t;
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = (unsigned char)s[i] < 0x80;
    if (!t->nfc || ascii) /* ASCII is its own NFC */
        return after_norm_added(w, s, n, err);
    char *ns;
    size_t nn;
    zt_status st = nfc(s, n, &ns, &nn, err);
    if (st)
        return st;
    st = after_norm_added(w, ns, nn, err);
    free(ns);
    return st;
}

static zt_status encode_limit(const zt_tokenizer *t, const char *text, size_t len,
                              size_t limit, work *w, zt_err *err)
{
    size_t bad;
    memset(w, 0, sizeof *w);
    w->t = t;
    w->limit = limit;
    if (!text && len)
        return zt_fail(err, ZT_ERR_INVALID, "tokenizer: NULL text");
    if (!zt_utf8_validate(text, len, &bad))
        return zt_fail(err, ZT_ERR_UTF8, "invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad,
                       (unsigned char)text[bad]);
    if (t->re) {
        w->md = pcre2_match_data_create_from_pattern(t->re, NULL);
        if (!w->md)
            return zt_fail(err, ZT_ERR_NOMEM, "tokenizer: out of memory");
    }
    return split_added(w, &t->raw_set, text, len, normalize_segment, err);
}

static void work_free(work *w)
{
    free(w->syms);
    free(w->heap);
    pcre2_match_data_free(w->md);
}

zt_status zt_tokenizer_encode(const zt_tokenizer *t, const char *text, size_t len,
                              int32_t **ids, size_t *n_ids, zt_err *err)
{
    work w;
    *ids = NULL;
    *n_ids = 0;
    zt_status s = encode_limit(t, text, len, SIZE_MAX, &w, err);
    work_free(&w);
    if (s) {
        free(w.ids);
        return s;
    }
    *ids = w.ids;
    *n_ids = w.n;
    return ZT_OK;
}

/* The templated prompt's first limit ids into w (the caller frees w.ids).
 * Ids come out in text order and each depends only on text before it and
 * a bounded look-ahead, so stopping at the limit equals cutting. */
static zt_status encode_templated(const zt_tokenizer *t, const char *prompt, size_t len,
                                  size_t limit, work *w, zt_err *err)
{
    memset(w, 0, sizeof *w);
    size_t nh = sizeof chat_head - 1, nt = sizeof chat_tail - 1;
    if (len > SIZE_MAX - nh - nt - 1)
        return zt_fail(err, ZT_ERR_TOO_BIG, "tokenizer: prompt too long");
    char *full = malloc(nh + len + nt + 1);
    if (!full)
        return zt_fail(err, ZT_ERR_NOMEM, "tokenizer: out of memory for a %zu-byte prompt", len);
    memcpy(full, chat_head, nh);
    if (len)
        memcpy(full + nh, prompt, len);
    memcpy(full + nh + len, chat_tail, nt + 1);
    zt_status s = encode_limit(t, full, nh + len + nt, limit, w, err);
    work_free(w);
    free(full);
    return s;
}

zt_status zt_tokenizer_encode_chat(const zt_tokenizer *t, const char *prompt, size_t len,
                                   int32_t *ids, int *n_ids, zt_err *err)
{
    *n_ids = 0;
    size_t bad;
    if (!prompt && len)
        return zt_fail(err, ZT_ERR_INVALID, "tokenizer: NULL prompt");
    /* Checked here so the offset is the prompt's, not the templated text's. */
    if (!zt_utf8_validate(prompt, len, &bad))
        return zt_fail(err, ZT_ERR_UTF8, "invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad,
                       (unsigned char)prompt[bad]);
    /* zt_tokenizer_new checked this; one made from JSON in memory was not */
    zt_status s = chat_tokens_check(t, "tokenizer", err);
    if (s)
        return s;
    work w;
    s = encode_templated(t, prompt, len, ZT_TOKENIZER_MAX_IDS, &w, err);
    if (!s) {
        memcpy(ids, w.ids, w.n * sizeof *ids);
        *n_ids = (int)w.n;
    }
    free(w.ids);
    return s;
}

/* ---------------------------------------------------------------- decoding */

const char *zt_tokenizer_token_str(const zt_tokenizer *t, int32_t id, size_t *len)
{
    if (!t || id < 0 || id >= t->n_ids || t->strs[id].len == UINT32_MAX)
        return NULL;
    if (len)
        *len = t->strs[id].len;
    return t->arena + t->strs[id].off;
}

int32_t zt_tokenizer_vocab_size(const zt_tokenizer *t)
{
    return t->n_ids;
}

int32_t zt_tokenizer_token_id(const zt_tokenizer *t, const char *str, size_t len)
{
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == len && !memcmp(t->arena + t->added[i].off, str, len))
            return t->added[i].id;
    return vocab_find(t, str, len);
}

zt_status zt_tokenizer_decode(const zt_tokenizer *t, const int32_t *ids, size_t n_ids,
                              int skip_special, char **text, size_t *len, zt_err *err)
{
    *text = NULL;
    *len = 0;
    size_t cap = 1, n = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_ids || t->strs[ids[i]].len == UINT32_MAX)
            return zt_fail(err, ZT_ERR_INVALID, "tokenizer: id %d at position %zu is unknown",
                           (int)ids[i], i);
        cap += t->strs[ids[i]].len; /* a ByteLevel char never yields more bytes than it has */
    }
    char *out = malloc(cap);
    if (!out)
        return zt_fail(err, ZT_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < n_ids; i++) {
        int32_t id = ids[i];
        if (skip_special && t->is_special[id])
            continue;
        const unsigned char *s = (const unsigned char *)t->arena + t->strs[id].off;
        size_t sl = t->strs[id].len, start = n, k = 0;
        /* Every character a ByteLevel char: its bytes. Otherwise the token's
         * own bytes, as the reference decoder does. */
        while (k < sl) {
            int32_t cp;
            int step = utf8_next(s + k, sl - k, &cp);
            if (!step || cp >= 324 || t->cp_byte[cp] < 0)
                break;
            out[n++] = (char)t->cp_byte[cp];
            k += (size_t)step;
        }
        if (k < sl) {
            n = start;
            memcpy(out + n, s, sl);
            n += sl;
        }
    }
    out[n] = 0;
    *text = out;
    *len = n;
    return ZT_OK;
}

zt_status zt_tokenizer_vocab_check(int32_t n_ids, int vocab, const char *path, zt_err *err)
{
    if (n_ids <= vocab)
        return ZT_OK;
    return zt_fail(err, ZT_ERR_FORMAT,
                   "%s: its ids run to %d but the text encoder's vocab_size is %d (ids 0 to "
                   "%d): the tokenizer is not this model's",
                   path, (int)n_ids - 1, vocab, vocab - 1);
}

zt_status zt_tokenizer_check(const char *path, int vocab, int32_t *n_ids, zt_err *err)
{
    zt_tokenizer *t = NULL;
    zt_status st = zt_tokenizer_new(&t, path, err);
    int32_t n = t ? zt_tokenizer_vocab_size(t) : 0;
    if (n_ids)
        *n_ids = n;
    if (st == ZT_OK && vocab > 0)
        st = zt_tokenizer_vocab_check(n, vocab, path, err);
    /* a pre-tokenizer pattern can compile and still fail on every text
     * (PCRE2's recursion or match limits): a prompt of letters, digits,
     * marks, CJK and an emoji shows it here rather than in every job */
    static const char sample[] = "A photo of 2 cats, 35mm f/1.8 \xe2\x80\x94 caf\xc3\xa9 "
                                 "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb1!\n";
    int32_t ids[ZT_TOKENIZER_MAX_IDS];
    int got;
    if (st == ZT_OK &&
        zt_tokenizer_encode_chat(t, sample, sizeof sample - 1, ids, &got, err) != ZT_OK)
        st = zt_err_prefix(err, "%s: a sample prompt does not tokenize", path);
    zt_tokenizer_free(t);
    return st;
}

int zt_tokenizer_chat_cut(const zt_tokenizer *tok, const char *prompt, size_t len, int n_ids)
{
    if (n_ids < ZT_TOKENIZER_MAX_IDS)
        return 0;
    /* The templated text itself, one id past the limit: counting the
     * prompt's ids and the template's apart overcounts, as BPE merges
     * across the seams (a prompt's trailing "\n" and the template's make
     * one "\n\n"). */
    work w;
    int cut = encode_templated(tok, prompt, len, (size_t)ZT_TOKENIZER_MAX_IDS + 1, &w, NULL) ==
                  ZT_OK &&
              w.n > (size_t)ZT_TOKENIZER_MAX_IDS;
    free(w.ids);
    return cut;
}
