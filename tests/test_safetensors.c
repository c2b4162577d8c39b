/* test_safetensors.c - the safetensors reader on crafted, corrupt and real files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "safetensors.h"

/* A file in memory: u64 LE header length, json, then data_len zero bytes. */
static uint8_t *make_st(const char *json, size_t data_len, size_t *len)
{
    size_t n = strlen(json);
    *len = 8 + n + data_len;
    uint8_t *b = calloc(1, *len);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    return b;
}

/* Parse json+data; returns the status and leaves the message in err. */
static zt_status parse(const char *json, size_t data_len, zt_err *err)
{
    size_t len;
    uint8_t *b = make_st(json, data_len, &len);
    zt_st_entry *e = NULL;
    int n = 0;
    zt_status st = zt_st_parse(b, len, "t.safetensors", &e, &n, err);
    zt_st_entries_free(e, n);
    free(b);
    return st;
}

/* The parse must fail and the message must hold every given fragment. */
#define EXPECT_FAIL(json, data_len, ...)                                           \
    do {                                                                           \
        zt_err e_ = {0};                                                           \
        zt_status s_ = parse(json, data_len, &e_);                                 \
        CHECK(s_ != ZT_OK, "accepted: %s", json);                                  \
        const char *frags_[] = {"t.safetensors", __VA_ARGS__};                     \
        for (size_t i_ = 0; i_ < sizeof frags_ / sizeof frags_[0]; i_++)           \
            CHECK(strstr(e_.msg, frags_[i_]), "message '%s' lacks '%s'", e_.msg,   \
                  frags_[i_]);                                                     \
    } while (0)

static const char *good_json =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]},"
    "\"a\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]},"
    "\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[32,40]},"
    "\"z\":{\"dtype\":\"U8\",\"shape\":[0,5],\"data_offsets\":[40,40]}}   ";

static void test_good(void)
{
    size_t len;
    uint8_t *b = make_st(good_json, 40, &len);
    zt_st_entry *e = NULL;
    int n = 0;
    zt_err err = {0};
    zt_status st = zt_st_parse(b, len, "good", &e, &n, &err);
    CHECK(st == ZT_OK, "%s", err.msg);
    CHECK(n == 4, "count %d", n);
    if (st == ZT_OK && n == 4) {
        /* Sorted by name: a, b, s, z. */
        CHECK(!strcmp(e[0].name, "a") && e[0].t.dtype == ZT_BF16 && e[0].t.ndim == 1 &&
                  e[0].t.shape[0] == 4 && e[0].nbytes == 8,
              "a");
        const uint8_t *data = b + 8 + strlen(good_json);
        CHECK(e[0].t.data == data, "a data");
        CHECK(!strcmp(e[1].name, "b") && e[1].t.ndim == 2 && e[1].t.shape[1] == 3 &&
                  e[1].t.data == data + 8,
              "b");
        CHECK(!strcmp(e[2].name, "s") && e[2].t.ndim == 0 && e[2].nbytes == 8, "scalar");
        CHECK(!strcmp(e[3].name, "z") && e[3].nbytes == 0, "empty tensor");
    }
    zt_st_entries_free(e, n);
    free(b);
    zt_err e2 = {0};
    CHECK(parse("{}", 0, &e2) == ZT_OK, "empty header: %s", e2.msg);
}

static void test_header_corrupt(void)
{
    zt_err err = {0};
    uint8_t small[5] = {0};
    zt_st_entry *e;
    int n;
    CHECK(zt_st_parse(small, sizeof small, "t.safetensors", &e, &n, &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, "too short"),
          "%s", err.msg);

    /* Header length past the end of the file. */
    size_t len;
    uint8_t *b = make_st("{}", 0, &len);
    b[0] = 0xff;
    b[5] = 0x7f;
    CHECK(zt_st_parse(b, len, "t.safetensors", &e, &n, &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, "past the end"),
          "%s", err.msg);
    /* Length 2^64-1: must not wrap. */
    memset(b, 0xff, 8);
    CHECK(zt_st_parse(b, len, "t.safetensors", &e, &n, &err) == ZT_ERR_FORMAT, "%s", err.msg);
    free(b);

    EXPECT_FAIL("{\"a\":", 0, "not valid JSON");
    EXPECT_FAIL("[1,2]", 0, "not a JSON object");
    EXPECT_FAIL("{}xx", 0, "trailing");
    EXPECT_FAIL("{\"a\":1}", 0, "'a'", "not an object");
}

static void test_entry_corrupt(void)
{
    /* bytes past the last tensor's data: refused, as the safetensors
     * library refuses them (they were read as if not there) */
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 1004,
                "1000 bytes follow the last tensor's data", "4 of the 1004");
    EXPECT_FAIL("{}", 3, "3 bytes follow");
    EXPECT_FAIL("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "'a'", "dtype");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "'a'", "shape");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "'a'", "data_offsets");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "'a'",
                "data_offsets");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "'w'",
                "unsupported dtype 'F64'");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                "'w'", "rank 5");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "'w'",
                "shape[0]");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "'w'",
                "shape[0]");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "'w'",
                "shape[0]");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                "\"data_offsets\":[0,4]}}",
                4, "'w'", "overflows");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, "'w'",
                "shape[0]");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "'w'",
                "begin 8 > end 4");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 4, "'w'",
                "past the data area");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "'w'",
                "data_offsets");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "'w'",
                "needs 8 bytes", "span 4");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12, "'a'", "'b'", "overlapping");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, "duplicate tensor name 'a'");
    /* the same name twice over the same bytes is a duplicate, not an overlap */
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                4, "duplicate tensor name 'a'");
    /* bytes between two tensors, or before the first, belong to none: the
     * library refuses such a file */
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[6,10]}}",
                10, "2 bytes before tensor 'b' belong to no tensor", "begin at 6, not 4");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
                "8 bytes before tensor 'a'");
    /* cJSON would end the name at the NUL and find "a" */
    EXPECT_FAIL("{\"a\\u0000x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                "holds \\u0000");
    EXPECT_FAIL("{\"__metadata__\":{\"format\":\"p\\u0000t\"}}", 0, "holds \\u0000");
    CHECK(parse("{\"a\\\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                &(zt_err){0}) == ZT_OK,
          "an escaped backslash before u0000 is plain text");
    /* metadata is text to text */
    EXPECT_FAIL("{\"__metadata__\":3}", 0, "__metadata__ is not an object of strings");
    EXPECT_FAIL("{\"__metadata__\":{\"format\":{\"x\":\"pt\"}}}", 0, "__metadata__");
    EXPECT_FAIL("{\"__metadata__\":[\"pt\"]}", 0, "__metadata__");
}

/* Every truncation and many single-byte corruptions of a good file must be
 * rejected or accepted without touching memory outside the buffer (run under
 * SANITIZE=address to see it). */
static void test_mutations(void)
{
    size_t len;
    uint8_t *good = make_st(good_json, 40, &len);
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *b = malloc(cut ? cut : 1);
        memcpy(b, good, cut);
        zt_st_entry *e = NULL;
        int n = 0;
        zt_err err;
        if (zt_st_parse(b, cut, "cut", &e, &n, &err) == ZT_OK)
            accepted++;
        zt_st_entries_free(e, n);
        free(b);
    }
    CHECK(accepted == 0, "%d truncations accepted", accepted);
    uint32_t seed = 12345;
    for (int k = 0; k < 3000; k++) {
        uint8_t *b = malloc(len);
        memcpy(b, good, len);
        for (int j = 0; j < 3; j++) {
            seed = seed * 1664525u + 1013904223u;
            size_t at = (seed >> 8) % (len - 40);
            seed = seed * 1664525u + 1013904223u;
            b[at] = (uint8_t)(seed >> 24);
        }
        zt_st_entry *e = NULL;
        int n = 0;
        zt_err err;
        if (zt_st_parse(b, len, "mut", &e, &n, &err) == ZT_OK) {
            for (int i = 0; i < n; i++) {
                const uint8_t *p = e[i].t.data;
                CHECK(p >= b + 8 && p + e[i].nbytes <= b + len, "view outside the buffer");
            }
        }
        zt_st_entries_free(e, n);
        free(b);
    }
    free(good);
}

static void test_fixture_sharded(void)
{
    zt_weights *w = NULL;
    zt_err err = {0};
    zt_status st = zt_weights_open(&w, TEST_DATA "/tiny-zimage/text_encoder", "model.", &err);
    CHECK(st == ZT_OK, "%s", err.msg);
    if (st)
        return;
    CHECK(zt_weights_count(w) == 35, "count %d", zt_weights_count(w));
    CHECK(zt_weights_file_count(w) == 2, "files %d", zt_weights_file_count(w));
    CHECK(zt_weights_index_total_size(w) == 9816704, "index total");
    CHECK(zt_weights_total_bytes(w) == 9816704, "total %llu",
          (unsigned long long)zt_weights_total_bytes(w));
    const zt_st_entry *e = zt_weights_find(w, "layers.0.self_attn.q_proj.weight");
    CHECK(e && e->t.dtype == ZT_BF16 && e->t.shape[0] == 64 && e->t.shape[1] == 32, "q_proj");
    CHECK(!zt_weights_find(w, "model.norm.weight"), "prefix not stripped");
    e = zt_weights_find(w, "norm.weight");
    CHECK(e && strstr(zt_weights_file(w, e->file), "model-00002-of-00002"), "norm in shard 2");

    zt_tensor t;
    int64_t good[2] = {151936, 32}, bad[2] = {32, 151936};
    CHECK(zt_weights_get(w, "embed_tokens.weight", 2, good, &t, &err) == ZT_OK && t.data,
          "%s", err.msg);
    CHECK(zt_weights_get(w, "embed_tokens.weight", 2, bad, &t, &err) == ZT_ERR_SHAPE &&
              strstr(err.msg, "model-00001-of-00002.safetensors") &&
              strstr(err.msg, "embed_tokens.weight") &&
              strstr(err.msg, "expected shape [32, 151936], found [151936, 32]"),
          "%s", err.msg);
    CHECK(zt_weights_get(w, "nope", 1, good, &t, &err) == ZT_ERR_MISSING &&
              strstr(err.msg, "'nope'") && strstr(err.msg, "text_encoder"),
          "%s", err.msg);
    zt_weights_free(w);

    /* Without stripping the names keep their prefix. */
    st = zt_weights_open(&w, TEST_DATA "/tiny-zimage/text_encoder", NULL, &err);
    CHECK(st == ZT_OK && zt_weights_find(w, "model.norm.weight"), "%s", err.msg);
    zt_weights_free(w);
    zt_weights_free(NULL);
}

static void test_fixture_single(void)
{
    zt_weights *w = NULL;
    zt_err err = {0};
    CHECK(zt_weights_open(&w, TEST_DATA "/tiny-zimage/vae", NULL, &err) == ZT_OK, "%s",
          err.msg);
    if (w) {
        CHECK(zt_weights_count(w) == 176, "count %d", zt_weights_count(w));
        CHECK(zt_weights_index_total_size(w) == -1, "no index");
        CHECK(zt_weights_find(w, "decoder.conv_in.weight") != NULL, "conv_in");
        /* Pages given back are read again from the file, unchanged; the
         * largest tensor spans whole pages. */
        const zt_st_entry *big = zt_weights_at(w, 0);
        for (int i = 1; i < zt_weights_count(w); i++)
            if (zt_weights_at(w, i)->nbytes > big->nbytes)
                big = zt_weights_at(w, i);
        CHECK(big->nbytes > 3 * 4096, "largest tensor %zu bytes", big->nbytes);
        unsigned char *copy = malloc(big->nbytes);
        if (copy) {
            memcpy(copy, big->t.data, big->nbytes);
            CHECK(zt_weights_file_of(w, big->t.data) == big->file, "file_of");
            CHECK(zt_weights_file_of(w, copy) == -1, "file_of outside the mappings");
            zt_weights_drop_pages(w, big->t.data, big->nbytes);
            zt_weights_drop_pages(w, copy, 16); /* not a mapping: ignored */
            CHECK(!memcmp(copy, big->t.data, big->nbytes), "bytes changed after drop_pages");
            free(copy);
        }
    }
    zt_weights_free(w);

    zt_st_file *f = NULL;
    CHECK(zt_st_file_open(&f, TEST_DATA "/tiny-zimage/transformer/"
                                        "diffusion_pytorch_model.safetensors",
                          &err) == ZT_OK,
          "%s", err.msg);
    if (f) {
        CHECK(zt_st_file_count(f) == 101, "count");
        CHECK(zt_st_file_find(f, "x_pad_token") && zt_st_file_at(f, 0) &&
                  !zt_st_file_at(f, 101),
              "find/at");
    }
    zt_st_file_close(f);
    zt_st_file_close(NULL);
    CHECK(zt_st_file_open(&f, TEST_DATA "/nope.safetensors", &err) == ZT_ERR_MISSING &&
              strstr(err.msg, "nope.safetensors"),
          "%s", err.msg);
}

/* ---- crafted directories -------------------------------------------------- */

static char tmpdir[64];

static void write_file(const char *name, const void *data, size_t len)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    if (!f)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
}

static void write_st(const char *name, const char *json, size_t data_len)
{
    size_t len;
    uint8_t *b = make_st(json, data_len, &len);
    write_file(name, b, len);
    free(b);
}

static void clear_dir(void)
{
    static const char *names[] = {"a.safetensors", "b.safetensors",
                                  "model.safetensors.index.json"};
    char p[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
}

static zt_status open_tmp(const char *strip, zt_err *err)
{
    zt_weights *w = NULL;
    zt_status st = zt_weights_open(&w, tmpdir, strip, err);
    zt_weights_free(w);
    return st;
}

static const char *one_a = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
static const char *one_b = "{\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";

static void test_dirs(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zt-st-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    zt_err err = {0};
    CHECK(open_tmp(NULL, &err) == ZT_ERR_MISSING && strstr(err.msg, "no *.safetensors"),
          "%s", err.msg);

    write_st("a.safetensors", one_a, 4);
    CHECK(open_tmp(NULL, &err) == ZT_OK, "%s", err.msg);
    write_st("b.safetensors", one_b, 4);
    CHECK(open_tmp(NULL, &err) == ZT_ERR_FORMAT && strstr(err.msg, "no *.safetensors.index"),
          "%s", err.msg);

    const char *idx = "{\"metadata\":{\"total_size\":8},\"weight_map\":"
                      "{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\"}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    CHECK(open_tmp(NULL, &err) == ZT_OK, "%s", err.msg);

    idx = "{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"a.safetensors\"}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    CHECK(open_tmp(NULL, &err) == ZT_ERR_MISSING && strstr(err.msg, "'y'") &&
              strstr(err.msg, "a.safetensors"),
          "%s", err.msg);

    idx = "{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"c.safetensors\"}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    CHECK(open_tmp(NULL, &err) == ZT_ERR_MISSING && strstr(err.msg, "'c.safetensors'"),
          "%s", err.msg);

    idx = "{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"../b.safetensors\"}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    CHECK(open_tmp(NULL, &err) == ZT_ERR_FORMAT && strstr(err.msg, "plain file name"), "%s",
          err.msg);

    idx = "{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":3}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    CHECK(open_tmp(NULL, &err) == ZT_ERR_FORMAT && strstr(err.msg, "'y'"), "%s", err.msg);

    idx = "{\"metadata\":{}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    CHECK(open_tmp(NULL, &err) == ZT_ERR_FORMAT && strstr(err.msg, "weight_map"), "%s",
          err.msg);

    write_file("model.safetensors.index.json", "{", 1);
    CHECK(open_tmp(NULL, &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, "model.safetensors.index.json"),
          "%s", err.msg);

    /* The same tensor in two shards: said as such, whichever the index
     * maps it to (it was "not found" in the one that holds it). */
    write_st("b.safetensors", one_a, 4);
    idx = "{\"weight_map\":{\"x\":\"a.safetensors\",\"z\":\"b.safetensors\"}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    CHECK(open_tmp(NULL, &err) != ZT_OK && strstr(err.msg, "'x' appears twice"), "%s", err.msg);
    idx = "{\"weight_map\":{\"x\":\"b.safetensors\",\"z\":\"a.safetensors\"}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    CHECK(open_tmp(NULL, &err) != ZT_OK && strstr(err.msg, "'x' appears twice"), "%s", err.msg);
    /* a name holding \u0000 in the index */
    idx = "{\"weight_map\":{\"x\\u0000y\":\"a.safetensors\"}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    CHECK(open_tmp(NULL, &err) == ZT_ERR_FORMAT && strstr(err.msg, "holds \\u0000"), "%s",
          err.msg);

    /* With and without the prefix in one file: the same canonical name. */
    clear_dir();
    write_st("a.safetensors",
             "{\"model.x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             8);
    CHECK(open_tmp(NULL, &err) == ZT_OK, "%s", err.msg);
    CHECK(open_tmp("model.", &err) == ZT_ERR_FORMAT && strstr(err.msg, "'x' appears twice"),
          "%s", err.msg);

    /* A FIFO in a shard's place is refused at once, not waited on. */
    clear_dir();
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/a.safetensors", tmpdir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    CHECK(open_tmp(NULL, &err) == ZT_ERR_IO && strstr(err.msg, "not a regular file") &&
              strstr(err.msg, "a.safetensors"),
          "FIFO: %s", err.msg);
    unlink(fifo);

    /* A truncated file. */
    write_file("a.safetensors", "\x10\0\0\0", 4);
    CHECK(open_tmp(NULL, &err) == ZT_ERR_FORMAT && strstr(err.msg, "a.safetensors"), "%s",
          err.msg);

    clear_dir();
    rmdir(tmpdir);
    CHECK(open_tmp(NULL, &err) == ZT_ERR_MISSING && strstr(err.msg, tmpdir), "%s", err.msg);
}

static void unlink_tmp(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    unlink(p);
}

/* Variant files beside the canonical one (Hugging Face names them
 * NAME.fp16.safetensors, ...): the canonical file is loaded, the others
 * ignored, as diffusers and transformers do without a variant asked for.
 * Without a canonical file, several files and no index stay refused. */
static void test_variants(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zt-stv-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    static const char *const canon[] = {"diffusion_pytorch_model.safetensors",
                                        "model.safetensors"};
    static const char *const variant[] = {"diffusion_pytorch_model.fp16.safetensors",
                                          "model.fp16.safetensors"};
    for (int i = 0; i < 2; i++) {
        CHECK(zt_st_canonical_name(canon[i]) && !zt_st_canonical_name(variant[i]),
              "canonical names: %s", canon[i]);
        /* the variant written first and last: the listing order must not matter */
        for (int order = 0; order < 2; order++) {
            write_st(order ? canon[i] : variant[i], order ? one_a : one_b, 4);
            write_st(order ? variant[i] : canon[i], order ? one_b : one_a, 4);
            write_st("z.safetensors", one_b, 4);
            zt_weights *w = NULL;
            zt_err err = {0};
            zt_status st = zt_weights_open(&w, tmpdir, NULL, &err);
            CHECK(st == ZT_OK && zt_weights_file_count(w) == 1 && zt_weights_find(w, "x") &&
                      !zt_weights_find(w, "y") &&
                      strstr(zt_weights_file(w, 0), canon[i]),
                  "%s beside variants: %d %s", canon[i], (int)st, err.msg);
            zt_weights_free(w);
            unlink_tmp(canon[i]);
            err = (zt_err){0};
            CHECK(open_tmp(NULL, &err) == ZT_ERR_FORMAT &&
                      strstr(err.msg, "2 *.safetensors files and no") &&
                      strstr(err.msg, "none named diffusion_pytorch_model.safetensors"),
                  "variants only: %s", err.msg);
            unlink_tmp(variant[i]);
            unlink_tmp("z.safetensors");
        }
    }
    /* both canonical names: which one is meant is not known */
    write_st(canon[0], one_a, 4);
    write_st(canon[1], one_b, 4);
    zt_err err = {0};
    CHECK(open_tmp(NULL, &err) == ZT_ERR_FORMAT && strstr(err.msg, "2 *.safetensors files"),
          "both canonical names: %s", err.msg);
    unlink_tmp(canon[0]);
    unlink_tmp(canon[1]);
    rmdir(tmpdir);
}

int main(void)
{
    RUN(test_good);
    RUN(test_header_corrupt);
    RUN(test_entry_corrupt);
    RUN(test_mutations);
    RUN(test_fixture_sharded);
    RUN(test_fixture_single);
    RUN(test_dirs);
    RUN(test_variants);
    return zt_test_summary("test_safetensors");
}
