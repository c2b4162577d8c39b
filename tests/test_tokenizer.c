/*
 * test_tokenizer.c - the tokenizer against the reference ids, decoding
 * round trips, hostile text and hostile tokenizer.json files.
 *
 * Reference: tests/data/tiny-ref/tokenizer_cases.json, 28 prompts with
 * their templated+truncated ids and their raw ids, computed with the
 * reference implementation on the real Qwen3 tokenizer.json.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <utf8proc.h>

#include "harness.h"
#include "tokenizer.h"

#define TOK_PATH TEST_DATA "/tiny-zimage/tokenizer/tokenizer.json"
#define CASES_PATH TEST_DATA "/tiny-ref/tokenizer_cases.json"

static zt_tokenizer *tok;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = 0;
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

/* 1 when got[0..n) equals the JSON int array want. */
static int same_ids(const int32_t *got, size_t n, const cJSON *want, char *why, size_t why_len)
{
    size_t m = (size_t)cJSON_GetArraySize(want), i = 0;
    const cJSON *e = want ? want->child : NULL;
    for (; i < n && e; i++, e = e->next)
        if (got[i] != (int32_t)e->valuedouble) {
            snprintf(why, why_len, "at %zu got %d want %d (lengths %zu / %zu)", i, (int)got[i],
                     (int)e->valuedouble, n, m);
            return 0;
        }
    if (n != m) {
        snprintf(why, why_len, "length %zu want %zu", n, m);
        return 0;
    }
    return 1;
}

static void test_load(void)
{
    zt_err err = {0};
    zt_status s = zt_tokenizer_new(&tok, TOK_PATH, &err);
    CHECK(s == ZT_OK, "load: %s", err.msg);
    if (!tok)
        return;
    CHECK(zt_tokenizer_vocab_size(tok) == 151669, "vocab size %d", zt_tokenizer_vocab_size(tok));
    CHECK(zt_tokenizer_token_id(tok, "<|im_start|>", 12) == 151644, "im_start");
    CHECK(zt_tokenizer_token_id(tok, "<think>", 7) == 151667, "think");
    size_t l;
    const char *s198 = zt_tokenizer_token_str(tok, 198, &l);
    CHECK(s198 && l == 2 && !memcmp(s198, "\xC4\x8A", 2), "token 198 is the newline char");
    CHECK(zt_tokenizer_token_str(tok, -1, NULL) == NULL, "id -1");
    CHECK(zt_tokenizer_token_str(tok, 1 << 30, NULL) == NULL, "huge id");
    zt_tokenizer *missing = NULL;
    CHECK(zt_tokenizer_new(&missing, "tests/data/no/such/tokenizer.json", &err) == ZT_ERR_IO &&
              !missing && strstr(err.msg, "no/such"),
          "missing file: %s", err.msg);
    /* a FIFO in tokenizer.json's place is refused at once, not waited on */
    char fifo[] = "/tmp/zt-tok-fifo-XXXXXX";
    if (mkdtemp(fifo)) {
        char path[64];
        snprintf(path, sizeof path, "%s/tokenizer.json", fifo);
        CHECK(mkfifo(path, 0600) == 0, "mkfifo %s", path);
        CHECK(zt_tokenizer_new(&missing, path, &err) == ZT_ERR_IO && !missing &&
                  strstr(err.msg, "not a readable file") && strstr(err.msg, path),
              "FIFO: %s", err.msg);
        unlink(path);
        rmdir(fifo);
    }
}

static void test_cases(void)
{
    if (!tok)
        return;
    char *json = slurp(CASES_PATH, NULL);
    CHECK(json, "cannot read %s", CASES_PATH);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    free(json);
    CHECK(cJSON_IsArray(root) && cJSON_GetArraySize(root) == 28, "28 cases");
    int k = 0;
    for (const cJSON *c = root ? root->child : NULL; c; c = c->next, k++) {
        const cJSON *jp = cJSON_GetObjectItem(c, "prompt");
        const char *p = cJSON_GetStringValue(jp);
        if (!p) {
            CHECK(0, "case %d has no prompt", k);
            continue;
        }
        size_t plen = strlen(p);
        zt_err err = {0};
        char why[128];

        int32_t chat[ZT_TOKENIZER_MAX_IDS];
        int nc = -1;
        zt_status s = zt_tokenizer_encode_chat(tok, p, plen, chat, &nc, &err);
        CHECK(s == ZT_OK, "case %d chat: %s", k, err.msg);
        if (!s)
            CHECK(same_ids(chat, (size_t)nc, cJSON_GetObjectItem(c, "ids"), why, sizeof why),
                  "case %d ids %s: %.40s", k, why, p);

        /* The templated text through the plain encoder, cut by hand, too. */
        const char *ct = cJSON_GetStringValue(cJSON_GetObjectItem(c, "chat_text"));
        int32_t *ids = NULL;
        size_t n = 0;
        if (ct) {
            s = zt_tokenizer_encode(tok, ct, strlen(ct), &ids, &n, &err);
            CHECK(s == ZT_OK, "case %d chat_text: %s", k, err.msg);
            if (n > ZT_TOKENIZER_MAX_IDS)
                n = ZT_TOKENIZER_MAX_IDS;
            CHECK(same_ids(ids, n, cJSON_GetObjectItem(c, "ids"), why, sizeof why),
                  "case %d chat_text ids %s", k, why);
            free(ids);
        }

        s = zt_tokenizer_encode(tok, p, plen, &ids, &n, &err);
        CHECK(s == ZT_OK, "case %d raw: %s", k, err.msg);
        CHECK(same_ids(ids, n, cJSON_GetObjectItem(c, "raw_ids"), why, sizeof why),
              "case %d raw_ids %s: %.40s", k, why, p);

        /* Decoding gives back the NFC form of the prompt. */
        char *text = NULL;
        size_t tl = 0;
        s = zt_tokenizer_decode(tok, ids, n, 0, &text, &tl, &err);
        utf8proc_uint8_t *want = utf8proc_NFC((const utf8proc_uint8_t *)p);
        CHECK(s == ZT_OK && want && tl == strlen((char *)want) && !memcmp(text, want, tl),
              "case %d decode round trip: '%.60s'", k, text ? text : "");
        free(want);
        free(text);
        free(ids);
    }
    cJSON_Delete(root);
}

static void test_decode(void)
{
    if (!tok)
        return;
    zt_err err = {0};
    int32_t ids[] = {151644, 872, 198, 64, 151645};
    char *text;
    size_t n;
    CHECK(zt_tokenizer_decode(tok, ids, 5, 0, &text, &n, &err) == ZT_OK &&
              n == strlen("<|im_start|>user\na<|im_end|>") &&
              !strcmp(text, "<|im_start|>user\na<|im_end|>"),
          "decode with specials");
    free(text);
    CHECK(zt_tokenizer_decode(tok, ids, 5, 1, &text, &n, &err) == ZT_OK &&
              !strcmp(text, "user\na"),
          "decode skipping specials: '%s'", text);
    free(text);
    int32_t bad[] = {64, 999999};
    CHECK(zt_tokenizer_decode(tok, bad, 2, 0, &text, &n, &err) == ZT_ERR_INVALID && !text &&
              strstr(err.msg, "999999"),
          "unknown id: %s", err.msg);
    CHECK(zt_tokenizer_decode(tok, ids, 0, 0, &text, &n, &err) == ZT_OK && n == 0 && text &&
              !text[0],
          "empty decode");
    free(text);
}

static void test_invalid_utf8(void)
{
    if (!tok)
        return;
    static const struct {
        const char *s;
        size_t len, off;
    } bad[] = {
        {"ab\xED\xA0\x80" "cd", 7, 2},     /* lone surrogate U+D800 */
        {"\xED\xBF\xBF", 3, 0},            /* U+DFFF */
        {"x\xC0\xAF", 3, 1},               /* overlong '/' */
        {"xy\xE0\x80\xAF", 5, 2},          /* overlong 3-byte */
        {"\xF0\x80\x80\x80", 4, 0},        /* overlong 4-byte */
        {"abc\xF4\x90\x80\x80", 7, 3},     /* above U+10FFFF */
        {"\xF5\x80\x80\x80", 4, 0},
        {"hello \xFF", 7, 6},
        {"\x80", 1, 0},                    /* stray continuation */
        {"ok \xE4\xB8", 5, 3},             /* cut short */
        {"ok \xE4\xB8x", 6, 3},
        {"\xC3", 1, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t off = 999;
        CHECK(!zt_utf8_validate(bad[i].s, bad[i].len, &off) && off == bad[i].off,
              "validate case %zu: offset %zu want %zu", i, off, bad[i].off);
        zt_err err = {0};
        int32_t *ids = NULL;
        size_t n = 0;
        char want[64];
        snprintf(want, sizeof want, "offset %zu", bad[i].off);
        CHECK(zt_tokenizer_encode(tok, bad[i].s, bad[i].len, &ids, &n, &err) == ZT_ERR_UTF8 &&
                  !ids && strstr(err.msg, want),
              "encode case %zu: %s", i, err.msg);
        int32_t chat[ZT_TOKENIZER_MAX_IDS];
        int nc;
        CHECK(zt_tokenizer_encode_chat(tok, bad[i].s, bad[i].len, chat, &nc, &err) ==
                      ZT_ERR_UTF8 &&
                  strstr(err.msg, want),
              "chat case %zu: %s", i, err.msg);
    }
    static const char *good[] = {"", "a", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF",
                                 "\xEE\x80\x80", "\xEF\xBF\xBF", "\xF0\x90\x80\x80",
                                 "\xF4\x8F\xBF\xBF"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(zt_utf8_validate(good[i], strlen(good[i]), NULL), "valid case %zu", i);
}

/* Encode, require success and no id outside the vocabulary, and check the
 * decode gives back NFC(text) (added tokens decode to themselves). */
static void encode_ok(const char *what, const char *s, size_t len, int round_trip)
{
    zt_err err = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    zt_status st = zt_tokenizer_encode(tok, s, len, &ids, &n, &err);
    CHECK(st == ZT_OK, "%s: %s", what, err.msg);
    int32_t vs = zt_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vs || !zt_tokenizer_token_str(tok, ids[i], NULL)) {
            CHECK(0, "%s: bad id %d at %zu", what, (int)ids[i], i);
            break;
        }
    if (round_trip && st == ZT_OK) {
        char *text = NULL;
        size_t tl = 0;
        st = zt_tokenizer_decode(tok, ids, n, 0, &text, &tl, &err);
        utf8proc_uint8_t *want = NULL;
        utf8proc_ssize_t wl = len ? utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len,
                                                 &want, UTF8PROC_STABLE | UTF8PROC_COMPOSE)
                                  : 0;
        CHECK(st == ZT_OK && wl >= 0 && (size_t)wl == tl && (!tl || !memcmp(text, want, tl)),
              "%s: round trip (%zu bytes back, %ld wanted)", what, tl, (long)wl);
        free(want);
        free(text);
    }
    int32_t chat[ZT_TOKENIZER_MAX_IDS];
    int nc = -1;
    st = zt_tokenizer_encode_chat(tok, s, len, chat, &nc, &err);
    CHECK(st == ZT_OK && nc > 0 && nc <= ZT_TOKENIZER_MAX_IDS, "%s chat: %s (%d ids)", what,
          err.msg, nc);
    free(ids);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Append the UTF-8 of a code point (not a surrogate). */
static size_t put_cp(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static uint32_t random_cp(void)
{
    static const uint32_t pool[] = {' ',    '\n',   '\r',   '\t',   '\'',   's',    'S',
                                    0x85,   0xA0,   0x3000, 0x200B, 0x200D, 0x301,  0x308,
                                    0xE9,   0x1F600, 0x0,   '<',    '|',    '>',    '1'};
    switch (rnd() % 6) {
    case 0:
        return pool[rnd() % (sizeof pool / sizeof pool[0])];
    case 1:
        return 0x20 + rnd() % 0x5F;
    case 2:
        return rnd() % 0x800;
    case 3: {
        uint32_t c = rnd() % 0x10000;
        return c >= 0xD800 && c < 0xE000 ? 0xFFFD : c;
    }
    case 4:
        return 0x10000 + rnd() % 0x100000;
    default:
        return 'a' + rnd() % 26;
    }
}

static void test_adversarial(void)
{
    if (!tok)
        return;
    /* Random bytes: either rejected as UTF-8 or tokenised; never a crash. */
    char buf[512];
    for (int it = 0; it < 2000; it++) {
        size_t n = rnd() % sizeof buf, bad;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)rnd();
        zt_err err = {0};
        int32_t *ids = NULL;
        size_t nid = 0;
        zt_status s = zt_tokenizer_encode(tok, buf, n, &ids, &nid, &err);
        int valid = zt_utf8_validate(buf, n, &bad);
        CHECK(valid ? s == ZT_OK : s == ZT_ERR_UTF8, "random bytes %d: %s", it, err.msg);
        free(ids);
    }
    /* Random valid text (combining marks, NUL, NEL, specials' characters). */
    static char text[4 * 400 + 1];
    for (int it = 0; it < 500; it++) {
        size_t n = 0, m = rnd() % 400;
        for (size_t i = 0; i < m; i++)
            n += put_cp(text + n, random_cp());
        encode_ok("random text", text, n, 1);
    }

    /* Embedded NULs are ordinary characters. */
    encode_ok("NULs", "a\0b\0\0 c", 7, 1);
    int32_t *ids = NULL;
    size_t nid = 0;
    zt_err err = {0};
    CHECK(zt_tokenizer_encode(tok, "\0", 1, &ids, &nid, &err) == ZT_OK && nid == 1,
          "one NUL gives one id (%zu)", nid);
    free(ids);

    /* Every added token, back to back, then again with text between. */
    char all[2048];
    size_t n = 0, count = 0;
    for (int32_t id = 151643; id < zt_tokenizer_vocab_size(tok); id++) {
        size_t l;
        const char *s = zt_tokenizer_token_str(tok, id, &l);
        if (s && n + l + 2 < sizeof all) {
            memcpy(all + n, s, l);
            n += l;
            count++;
        }
    }
    CHECK(zt_tokenizer_encode(tok, all, n, &ids, &nid, &err) == ZT_OK && nid == count,
          "added tokens back to back: %zu ids for %zu tokens", nid, count);
    for (size_t i = 0; i < nid && i < count; i++)
        CHECK(ids[i] == 151643 + (int32_t)i, "added token %zu is %d", i, (int)ids[i]);
    free(ids);
    encode_ok("added tokens", all, n, 1);
    encode_ok("cut added token", "<|im_start", 10, 1);
    encode_ok("nested", "<|im_<|im_end|>start|>", 22, 1);

    /* Megabyte prompts: one huge word, one huge space run, mixed text. */
    size_t big = 1 << 20;
    char *s = malloc(big * 4 + 8);
    if (!s) {
        CHECK(0, "out of memory");
        return;
    }
    memset(s, 'a', big);
    encode_ok("1 MB of a", s, big, 1);
    memset(s, ' ', big);
    encode_ok("1 MB of spaces", s, big, 1);
    for (size_t i = 0; i < big; i++)
        s[i] = "\n \r\t"[rnd() % 4];
    encode_ok("1 MB of mixed space", s, big, 1);
    n = 0;
    while (n < big)
        n += put_cp(s + n, random_cp());
    encode_ok("1 MB of random text", s, n, 1);
    n = 0;
    while (n < big)
        n += put_cp(s + n, 0x4E00 + rnd() % 0x5000);
    encode_ok("1 MB of CJK", s, n, 1);
    n = 0;
    while (n + 12 < big) {
        memcpy(s + n, "<|im_end|>", 10);
        n += 10;
    }
    encode_ok("1 MB of im_end", s, n, 1);
    free(s);
}

/* Hostile or unsupported tokenizer.json texts fail cleanly. */
static void test_bad_files(void)
{
    static const char *bad[] = {
        "",
        "{",
        "[]",
        "{}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}",
        "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
        "{\"model\": {\"vocab\": {\"a\": -1}, \"merges\": []}}",
        "{\"model\": {\"vocab\": {\"a\": 1.5}, \"merges\": []}}",
        "{\"model\": {\"vocab\": {\"a\": 1e12}, \"merges\": []}}",
        "{\"model\": {\"vocab\": {\"a\": \"0\"}, \"merges\": []}}",
        "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}",
        "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"ab\"]}}",
        "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [[\"a\"]]}}",
        "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [7]}}",
        "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": {}}}",
        "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1}]}",
        "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": "
        "[{\"id\": 1, \"content\": \"\\udc00\"}]}",
        "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}, \"normalizer\": {\"type\": \"NFKC\"}}",
        "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": "
        "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}}",
        "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": "
        "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Removed\"}}",
        "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": null}",
        "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}, "
        "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zt_tokenizer *t = (zt_tokenizer *)&t;
        zt_err err = {0};
        zt_status s = zt_tokenizer_new_from_json(&t, bad[i], strlen(bad[i]), "bad.json", &err);
        CHECK(s != ZT_OK && !t && strstr(err.msg, "bad.json"), "bad file %zu accepted (%s)", i,
              err.msg);
    }
    /* a file cut short, an empty one and one with a BOM are said as such
     * (a cut file was described by the merge where the scan broke) */
    static const struct {
        const char *text, *says;
    } said[] = {
        {"", "the file is empty"},
        {" \n\t", "the file is empty"},
        {"\xef\xbb\xbf{}", "byte order mark"},
        {"{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [[\"a\", \"b\"], [\"a", "cut short"},
        {"{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}} x", "does not end"},
    };
    for (size_t i = 0; i < sizeof said / sizeof said[0]; i++) {
        zt_tokenizer *t = NULL;
        zt_err err = {0};
        zt_status s = zt_tokenizer_new_from_json(&t, said[i].text, strlen(said[i].text), "said.json",
                                                 &err);
        CHECK(s == ZT_ERR_FORMAT && strstr(err.msg, "said.json") && strstr(err.msg, said[i].says),
              "file %zu: '%s' lacks '%s'", i, err.msg, said[i].says);
        zt_tokenizer_free(t);
    }
    /* the message names where the text goes wrong ("tru"), not where the
     * value around it starts (byte 15) */
    static const char where[] = "{\"normalizer\": {\"type\": \"NFC\", \"list\": [1, 2, 3, 4, tru]}, "
                                "\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}}";
    zt_tokenizer *wt = NULL;
    zt_err werr = {0};
    char at[32];
    snprintf(at, sizeof at, "near byte %td", strstr(where, "tru") - where);
    CHECK(zt_tokenizer_new_from_json(&wt, where, sizeof where - 1, "where.json", &werr) ==
                  ZT_ERR_FORMAT &&
              strstr(werr.msg, at),
          "position: %s (tru at %td)", werr.msg, strstr(where, "tru") - where);
    zt_tokenizer_free(wt);

    /* A tiny valid byte-level file: merges as arrays, a repeated pair keeps
     * its last rank, an added token with lstrip/rstrip. */
    char json[8192];
    size_t n = (size_t)snprintf(json, sizeof json, "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
    for (int b = 0; b < 256; b++) {
        int cp = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174 ? b : -1;
        if (cp < 0) {
            int k = 256;
            for (int c = 0; c < b; c++)
                if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174))
                    k++;
            cp = k;
        }
        char u[8];
        size_t ul = put_cp(u, (uint32_t)cp);
        u[ul] = 0;
        if (cp == '"' || cp == '\\')
            n += (size_t)snprintf(json + n, sizeof json - n, "\"\\%s\": %d, ", u, b);
        else
            n += (size_t)snprintf(json + n, sizeof json - n, "\"%s\": %d, ", u, b);
    }
    n += (size_t)snprintf(json + n, sizeof json - n,
                          "\"ab\": 256, \"abc\": 257, \"bc\": 258}, "
                          "\"merges\": [[\"b\", \"c\"], [\"a\", \"b\"], \"ab c\", [\"b\", \"c\"]]},"
                          "\"added_tokens\": [{\"id\": 300, \"content\": \"[X]\", "
                          "\"lstrip\": true, \"rstrip\": true, \"special\": true}],"
                          "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": false}}");
    zt_tokenizer *t = NULL;
    zt_err err = {0};
    zt_status s = zt_tokenizer_new_from_json(&t, json, n, "mini.json", &err);
    CHECK(s == ZT_OK, "mini tokenizer: %s", err.msg);
    if (!t)
        return;
    int32_t *ids = NULL;
    size_t nid = 0;
    /* Ranks: (a,b)=1, (ab,c)=2, (b,c)=3 (the repeat). So "abc" -> ab + c -> abc. */
    CHECK(zt_tokenizer_encode(t, "abc", 3, &ids, &nid, &err) == ZT_OK && nid == 1 &&
              ids[0] == 257,
          "mini abc: %zu ids, first %d", nid, nid ? (int)ids[0] : -1);
    free(ids);
    /* lstrip/rstrip: the spaces around [X] belong to it. */
    CHECK(zt_tokenizer_encode(t, "a  [X]  b", 9, &ids, &nid, &err) == ZT_OK && nid == 3 &&
              ids[0] == 'a' && ids[1] == 300 && ids[2] == 'b',
          "mini strip: %zu ids", nid);
    free(ids);
    zt_tokenizer_free(t);
    zt_tokenizer_free(NULL);

    /* Every prefix of a valid file, and random byte changes: an error or a
     * working tokenizer, never a crash (the sanitizer builds check the rest). */
    for (size_t cut = 0; cut < n; cut += 7) {
        t = NULL;
        s = zt_tokenizer_new_from_json(&t, json, cut, "cut.json", &err);
        CHECK(s != ZT_OK && !t, "prefix of %zu bytes accepted", cut);
        zt_tokenizer_free(t);
    }
    static char mut[8192];
    for (int it = 0; it < 1500; it++) {
        memcpy(mut, json, n);
        for (int k = 1 + (int)(rnd() % 4); k > 0; k--)
            mut[rnd() % n] = "\"{}[],:\\u0 a9\x80\xff\n"[rnd() % 16];
        t = NULL;
        s = zt_tokenizer_new_from_json(&t, mut, n, "mut.json", &err);
        if (s == ZT_OK && t) {
            int32_t *mids = NULL;
            size_t mn = 0;
            zt_tokenizer_encode(t, "abc [X] b\xc3\xa9", 12, &mids, &mn, &err);
            free(mids);
        }
        CHECK((s == ZT_OK) == (t != NULL), "mutation %d: status and object disagree", it);
        zt_tokenizer_free(t);
    }

    /* Deep nesting anywhere is refused, not recursed into without bound. */
    size_t deep_n = 200000;
    char *deep = malloc(deep_n + 64);
    if (deep) {
        size_t k = (size_t)snprintf(deep, 64, "{\"x\": ");
        while (k < deep_n)
            deep[k++] = '[';
        t = NULL;
        CHECK(zt_tokenizer_new_from_json(&t, deep, k, "deep.json", &err) == ZT_ERR_FORMAT && !t,
              "deep nesting: %s", err.msg);
        free(deep);
    }
    /* Escapes in vocab keys decode; a lone surrogate escape is refused. */
    static const char esc_ok[] =
        "{\"model\": {\"vocab\": {\"\\u0061\": 0, \"\\ud83d\\ude00\": 1}, \"merges\": []},"
        " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": false}}";
    t = NULL;
    CHECK(zt_tokenizer_new_from_json(&t, esc_ok, strlen(esc_ok), "esc.json", &err) == ZT_OK &&
              zt_tokenizer_token_id(t, "a", 1) == 0 &&
              zt_tokenizer_token_id(t, "\xF0\x9F\x98\x80", 4) == 1,
          "escaped keys: %s", err.msg);
    /* "merges": [] builds no merge table: words of two or more bytes stay bytes */
    int32_t *eids = NULL;
    size_t en = 0;
    CHECK(t && zt_tokenizer_encode(t, "aa", 2, &eids, &en, &err) == ZT_OK && en == 2 &&
              eids[0] == 0 && eids[1] == 0,
          "no merges: %zu ids: %s", en, err.msg);
    free(eids);
    zt_tokenizer_free(t);
    /* A Split on a literal string isolates it: "a b" is a, space, b, where
     * without the split the merge a+space would apply. */
    static const char lit[] =
        "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"\u0120\": 2, \"a\u0120\": 3},"
        " \"merges\": [[\"a\", \"\u0120\"]]}, \"pre_tokenizer\": {\"type\": \"Sequence\","
        " \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"String\": \" \"},"
        " \"behavior\": \"Isolated\"}, {\"type\": \"ByteLevel\", \"use_regex\": false}]}}";
    t = NULL;
    CHECK(zt_tokenizer_new_from_json(&t, lit, strlen(lit), "lit.json", &err) == ZT_OK,
          "literal Split: %s", err.msg);
    eids = NULL;
    en = 0;
    CHECK(t && zt_tokenizer_encode(t, "a b", 3, &eids, &en, &err) == ZT_OK && en == 3 &&
              eids[0] == 0 && eids[1] == 2 && eids[2] == 1,
          "literal Split: %zu ids", en);
    free(eids);
    zt_tokenizer_free(t);
    static const char esc_bad[] =
        "{\"model\": {\"vocab\": {\"\\ud83d\": 0}, \"merges\": []},"
        " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": false}}";
    t = NULL;
    CHECK(zt_tokenizer_new_from_json(&t, esc_bad, strlen(esc_bad), "esc.json", &err) ==
                  ZT_ERR_FORMAT && !t,
          "lone surrogate escape accepted");
}

/* Many added tokens load in time proportional to their number (a sort by
 * insertion took a minute for 240k), and the longest still matches first.
 * Contents x0, x1, ... x149999: their lengths rise through the list, the
 * worst order for an insertion sort (about 15 s here). */
static void test_many_added(void)
{
    enum { N = 150000 };
    size_t cap = (size_t)N * 48 + 256, n = 0;
    char *json = malloc(cap);
    CHECK(json, "out of memory");
    if (!json)
        return;
    n += (size_t)snprintf(json + n, cap - n,
                          "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}, "
                          "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": false}, "
                          "\"added_tokens\": [");
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s{\"id\": %d, \"content\": \"x%d\"}",
                              i ? ", " : "", 1000 + i, i);
    n += (size_t)snprintf(json + n, cap - n, "]}");
    zt_tokenizer *t = NULL;
    zt_err err = {0};
    double t0 = zt_now_ms();
    zt_status s = zt_tokenizer_new_from_json(&t, json, n, "many.json", &err);
    double ms = zt_now_ms() - t0;
    free(json);
    CHECK(s == ZT_OK, "many added tokens: %s", err.msg);
    /* generous for sanitizer builds: the linear-time load takes about 0.2 s */
    CHECK(ms < 5000, "%d added tokens took %.0f ms to load", N, ms);
    int32_t *ids = NULL;
    size_t nid = 0;
    CHECK(t && zt_tokenizer_encode(t, "x149999x12", 10, &ids, &nid, &err) == ZT_OK &&
              nid == 2 && ids[0] == 1000 + 149999 && ids[1] == 1000 + 12,
          "longest added token first: %zu ids", nid);
    free(ids);
    zt_tokenizer_free(t);
}

/* One tokenizer, several threads: each encodes the same prompts and must
 * get what a lone thread gets. */
static const char *const thread_prompts[] = {
    "a red fox in the snow, 35mm photo", "\xe4\xb8\x80\xe5\x8f\xaa cat <|im_end|> x",
    "  multiple   spaces\n\nnew\r\nlines\t\ttabs  ", "it's I'M we'll they'd",
};

static void *thread_main(void *arg)
{
    int *bad = arg;
    for (int rep = 0; rep < 200; rep++)
        for (size_t i = 0; i < 4; i++) {
            int32_t a[ZT_TOKENIZER_MAX_IDS], b[ZT_TOKENIZER_MAX_IDS];
            int na = 0, nb = -1;
            zt_err err;
            const char *p = thread_prompts[i];
            zt_tokenizer_encode_chat(tok, p, strlen(p), a, &na, &err);
            if (rep == 0)
                continue;
            zt_tokenizer_encode_chat(tok, p, strlen(p), b, &nb, &err);
            if (na != nb || memcmp(a, b, (size_t)na * sizeof a[0]))
                (*bad)++;
        }
    return NULL;
}

static void test_threads(void)
{
    if (!tok)
        return;
    pthread_t th[4];
    int bad[4] = {0};
    for (int i = 0; i < 4; i++)
        CHECK(!pthread_create(&th[i], NULL, thread_main, &bad[i]), "pthread_create");
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(!bad[i], "thread %d saw %d differing encodings", i, bad[i]);
    }
}

/* tokenizer.json rewritten without added tokens: all of them (drop < 0) or
 * the one whose content is drop_content; written to path. 0 on failure. */
static int write_without(const char *path, const char *drop_content)
{
    size_t len = 0;
    char *text = slurp(TOK_PATH, &len);
    cJSON *root = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!root)
        return 0;
    if (!drop_content) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "added_tokens");
    } else {
        cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
        int i = 0;
        for (cJSON *e = list ? list->child : NULL; e; e = e->next, i++) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
            if (cJSON_IsString(c) && !strcmp(c->valuestring, drop_content)) {
                cJSON_DeleteItemFromArray(list, i);
                break;
            }
        }
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    FILE *f = out ? fopen(path, "wb") : NULL;
    int ok = f && fputs(out, f) >= 0;
    if (f)
        ok = !fclose(f) && ok;
    free(out);
    return ok;
}

/* Without its special tokens as added tokens the chat template would be
 * tokenized as plain text ('<', '|', 'im', ...): a model's tokenizer.json
 * is refused, naming the token, and encode_chat refuses too. */
static void test_chat_tokens(void)
{
    char dir[] = "/tmp/zt-tok-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    static const struct {
        const char *drop, *named;
    } cases[] = {{NULL, "'<|im_start|>'"}, {"<|im_end|>", "'<|im_end|>'"},
                 {"<|im_start|>", "'<|im_start|>'"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *what = cases[i].drop ? cases[i].drop : "all added tokens";
        if (!write_without(path, cases[i].drop)) {
            CHECK(0, "%s: cannot write %s", what, path);
            continue;
        }
        zt_tokenizer *t = NULL;
        zt_err err = {0};
        zt_status s = zt_tokenizer_new(&t, path, &err);
        CHECK(s == ZT_ERR_FORMAT && !t && strstr(err.msg, cases[i].named) &&
                  strstr(err.msg, "added_tokens") && strstr(err.msg, path),
              "%s dropped: load gave %d: %s", what, (int)s, err.msg);
        zt_tokenizer_free(t);
        err = (zt_err){0};
        int32_t n = -1;
        s = zt_tokenizer_check(path, 0, &n, &err);
        CHECK(s == ZT_ERR_FORMAT && strstr(err.msg, cases[i].named),
              "%s dropped: check gave %d: %s", what, (int)s, err.msg);
        /* in memory it loads, but the template is refused, not split */
        size_t len = 0;
        char *text = slurp(path, &len);
        t = NULL;
        if (text && zt_tokenizer_new_from_json(&t, text, len, "mem.json", &err) == ZT_OK) {
            int32_t ids[ZT_TOKENIZER_MAX_IDS];
            int nid = -1;
            err = (zt_err){0};
            s = zt_tokenizer_encode_chat(t, "hi", 2, ids, &nid, &err);
            CHECK(s == ZT_ERR_FORMAT && nid == 0 && strstr(err.msg, cases[i].named),
                  "%s dropped: encode_chat gave %d, %d ids: %s", what, (int)s, nid, err.msg);
        } else {
            CHECK(0, "%s dropped: from memory: %s", what, err.msg);
        }
        zt_tokenizer_free(t);
        free(text);
    }
    unlink(path);
    rmdir(dir);
}

/* A cut is said only when the templated text is longer than the limit.
 * "<|im_start|>user\n" + "\n cat cat ..." merges its two "\n" into one id
 * (271), so 504 " cat" fill exactly 512 ids: 3 + 504 + 5 (counting prompt
 * and template apart gives 513). */
static void test_chat_cut(void)
{
    if (!tok)
        return;
    static const int32_t tail[] = {151645, 198, 151644, 77091, 198};
    char p[1 + 4 * 506 + 1];
    for (int cats = 504; cats <= 505; cats++) {
        size_t n = 0;
        p[n++] = '\n';
        for (int i = 0; i < cats; i++, n += 4)
            memcpy(p + n, " cat", 4);
        int32_t ids[ZT_TOKENIZER_MAX_IDS];
        int nid = 0;
        zt_err err = {0};
        CHECK(zt_tokenizer_encode_chat(tok, p, n, ids, &nid, &err) == ZT_OK &&
                  nid == ZT_TOKENIZER_MAX_IDS,
              "%d cats: %d ids: %s", cats, nid, err.msg);
        if (nid != ZT_TOKENIZER_MAX_IDS)
            continue;
        CHECK(ids[2] == 271, "%d cats: the seam's \\n\\n is id %d", cats, (int)ids[2]);
        int whole = !memcmp(ids + nid - 5, tail, sizeof tail);
        int cut = zt_tokenizer_chat_cut(tok, p, n, nid);
        if (cats == 504)
            CHECK(whole && !cut, "504 cats fit (tail whole %d) but a cut was said", whole);
        else
            CHECK(!whole && cut, "505 cats pass the limit (tail whole %d), cut said %d", whole,
                  cut);
    }
}

int main(void)
{
    RUN(test_load);
    RUN(test_cases);
    RUN(test_decode);
    RUN(test_invalid_utf8);
    RUN(test_adversarial);
    RUN(test_bad_files);
    RUN(test_many_added);
    RUN(test_chat_tokens);
    RUN(test_chat_cut);
    RUN(test_threads);
    zt_tokenizer_free(tok);
    return zt_test_summary("test_tokenizer");
}
