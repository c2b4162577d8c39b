/* test_textenc.c - Qwen3 text encoder against tiny-ref/text_encoder.safetensors.
 * Tolerance (fixtures README): |a-b| <= 1e-4 + 1e-3|b|. */
#include "fixture.h"
#include "textenc.h"

static zt_backend *be;
static zt_st_file *ref;
static zt_model_config cfg;
static zt_weights *weights;

typedef struct tap_ctx {
    const char *prefix;
    int seen;
} tap_ctx;

static void on_tap(void *ud, const char *name, const zt_tensor *t)
{
    tap_ctx *c = ud;
    char key[96];
    snprintf(key, sizeof key, "%s.%s", c->prefix, name);
    const zt_tensor *want = fx_get(ref, key);
    CHECK(zt_tensor_numel(t) == zt_tensor_numel(want), "%s: size", key);
    fx_expect_close(be, key, t, want, (long)zt_tensor_numel(want), 1e-4, 1e-3);
    c->seen++;
}

static int read_ids(const char *key, int32_t *ids, int max)
{
    const zt_tensor *t = fx_get(ref, key);
    int n = (int)zt_tensor_numel(t);
    if (n > max)
        n = max;
    for (int i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, (const char *)t->data + 8 * (size_t)i, 8);
        ids[i] = (int32_t)v;
    }
    return n;
}

static void encode_case(zt_textenc *te, int k, int layers, int final_norm, tap_ctx *tap)
{
    char key[64];
    int32_t ids[512];
    snprintf(key, sizeof key, "case%d.input_ids", k);
    int L = read_ids(key, ids, 512);
    zt_arena arena = {0};
    zt_err err = {0};
    size_t bytes = zt_textenc_scratch_bytes(&cfg.te, L) + (size_t)L * cfg.te.hidden * 4 + 4096;
    CHECK(zt_arena_init(&arena, be, bytes, &err) == ZT_OK, "%s", err.msg);
    zt_tensor out;
    CHECK(zt_arena_tensor(&arena, &out, ZT_F32, 2, (int64_t[]){L, cfg.te.hidden}, &err) == ZT_OK,
          "%s", err.msg);
    zt_status st = zt_textenc_encode(te, ids, L, layers, final_norm, &arena, &out,
                                     tap ? on_tap : NULL, tap, &err);
    CHECK(st == ZT_OK, "encode case %d: %s", k, err.msg);
    if (st == ZT_OK && layers < 0) {
        snprintf(key, sizeof key, "case%d.out", k);
        const zt_tensor *want = fx_get(ref, key);
        fx_expect_close(be, key, &out, want, (long)zt_tensor_numel(want), 1e-4, 1e-3);
    }
    zt_arena_free(&arena);
}

static void test_caption_features(void)
{
    zt_textenc *te = NULL;
    zt_err err = {0};
    CHECK(zt_textenc_new(&te, be, &cfg.te, weights, 0, 0, &err) == ZT_OK, "%s", err.msg);
    if (!te)
        return;
    for (int k = 0; k < 3; k++)
        encode_case(te, k, -1, 0, NULL);
    zt_textenc_free(te);
}

static void test_every_hidden_state(void)
{
    zt_textenc *te = NULL;
    zt_err err = {0};
    CHECK(zt_textenc_new(&te, be, &cfg.te, weights, 0, 1, &err) == ZT_OK, "%s", err.msg);
    if (!te)
        return;
    tap_ctx tap = {"case0", 0};
    encode_case(te, 0, cfg.te.n_layers, 1, &tap);
    CHECK(tap.seen == cfg.te.n_layers + 1, "saw %d hidden states, want %d", tap.seen,
          cfg.te.n_layers + 1);
    zt_textenc_free(te);
}

static void test_bad_ids(void)
{
    zt_textenc *te = NULL;
    zt_err err = {0};
    CHECK(zt_textenc_new(&te, be, &cfg.te, weights, 0, 0, &err) == ZT_OK, "%s", err.msg);
    if (!te)
        return;
    zt_arena arena = {0};
    zt_arena_init(&arena, be, 1 << 20, &err);
    zt_tensor out;
    zt_arena_tensor(&arena, &out, ZT_F32, 2, (int64_t[]){2, cfg.te.hidden}, &err);
    int32_t ids[2] = {5, cfg.te.vocab};
    CHECK(zt_textenc_encode(te, ids, 2, -1, 0, &arena, &out, NULL, NULL, &err) == ZT_ERR_INVALID,
          "out-of-range id accepted");
    CHECK(strstr(err.msg, "out of range") != NULL, "message: %s", err.msg);
    zt_arena_free(&arena);
    zt_textenc_free(te);
}

/* The weights may be named without the "model." prefix too. */
static void test_synthetic_matches_file(void)
{
    /* tiny-zimage was filled from the synthetic definition with seed 0 */
    zt_textenc *a = NULL, *b = NULL;
    zt_err err = {0};
    CHECK(zt_textenc_new(&a, be, &cfg.te, NULL, 0, 0, &err) == ZT_OK, "%s", err.msg);
    if (!a)
        return;
    encode_case(a, 1, -1, 0, NULL);
    (void)b;
    zt_textenc_free(a);
}

int main(void)
{
    zt_err err = {0};
    be = fx_backend();
    ref = fx_open(TEST_DATA "/tiny-ref/text_encoder.safetensors");
    if (zt_model_config_load(&cfg, TINY, &err) ||
        zt_weights_open(&weights, TINY "/text_encoder", "model.", &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    RUN(test_caption_features);
    RUN(test_every_hidden_state);
    RUN(test_bad_ids);
    RUN(test_synthetic_matches_file);
    zt_weights_free(weights);
    zt_st_file_close(ref);
    zt_backend_free(be);
    return zt_test_summary("test_textenc");
}
