/* test_vae.c - the VAE decoder against tiny-ref/vae.safetensors: two
 * decodes, and every activation of case 0.
 * Tolerance (fixtures README): |a-b| <= 1e-3 + 1e-3|b|. */
#include "fixture.h"
#include "vae.h"

static zt_backend *be;
static zt_st_file *ref;
static zt_model_config cfg;
static zt_weights *weights;
static zt_vae *vae;

static void on_tap(void *ud, const char *name, const zt_tensor *t)
{
    int *seen = ud;
    char key[96];
    snprintf(key, sizeof key, "case0.act.%s", name);
    const zt_tensor *want = fx_get(ref, key);
    CHECK(zt_tensor_numel(t) == zt_tensor_numel(want), "%s: size", key);
    fx_expect_close(be, key, t, want, (long)zt_tensor_numel(want), 1e-3, 1e-3);
    (*seen)++;
}

/* Case k's latent and an output of the reference's shape in backend
 * memory, with an arena for the decoder. */
typedef struct decode_job {
    const zt_tensor *want; /* the reference output */
    zt_tensor z, out;
    zt_arena arena;
} decode_job;

static void job_open(decode_job *j, int k)
{
    char key[64];
    snprintf(key, sizeof key, "case%d.z", k);
    const zt_tensor *z = fx_get(ref, key);
    snprintf(key, sizeof key, "case%d.out", k);
    j->want = fx_get(ref, key);
    int C = (int)z->shape[1], h = (int)z->shape[2], w = (int)z->shape[3];
    int s = zt_vae_scale(&cfg.vae);
    zt_err err = {0};
    j->arena = (zt_arena){0};
    size_t bytes = zt_vae_scratch_bytes(&cfg.vae, be->act_dtype, h, w);
    CHECK(zt_arena_init(&j->arena, be, bytes, &err) == ZT_OK, "%s", err.msg);
    j->z = fx_upload(be, z, ZT_F32, 3, (int64_t[]){C, h, w});
    j->out = fx_upload(be, j->want, ZT_F32, 3, (int64_t[]){3, h * s, w * s});
}

static void job_close(decode_job *j)
{
    zt_backend_release(be, j->z.data);
    zt_backend_release(be, j->out.data);
    zt_arena_free(&j->arena);
}

static void run_case(int k, int *seen)
{
    decode_job j;
    job_open(&j, k);
    zt_err err = {0};
    zt_op_scale_add(be, &j.out, &j.out, 0.0f, 1e9f); /* poison */
    zt_status st = zt_vae_decode(vae, &j.z, 0, &j.arena, &j.out, seen ? on_tap : NULL, seen,
                                 NULL, NULL, &err);
    CHECK(st == ZT_OK, "decode: %s", err.msg);
    char key[64];
    snprintf(key, sizeof key, "case%d.out", k);
    fx_expect_close(be, key, &j.out, j.want, (long)zt_tensor_numel(j.want), 1e-3, 1e-3);
    job_close(&j);
}

static void test_decode_cases(void)
{
    run_case(0, NULL);
    run_case(1, NULL);
}

static void test_activations(void)
{
    int seen = 0;
    run_case(0, &seen);
    CHECK(seen == 3 + cfg.vae.n_blocks + 1, "saw %d activations", seen);
}

/* stop() answers 1 from its at-th call on; the taps count the blocks run. */
typedef struct stopper {
    int calls, at, taps;
} stopper;

static int stop_at(void *ud)
{
    stopper *s = ud;
    return ++s->calls >= s->at;
}

static void count_tap(void *ud, const char *name, const zt_tensor *t)
{
    (void)name;
    (void)t;
    ((stopper *)ud)->taps++;
}

/* Asked to stop, the decode ends at the next block with ZT_ERR_CANCELLED;
 * never asked, it runs whole. */
static void test_stop(void)
{
    decode_job j;
    job_open(&j, 0);
    zt_err err = {0};
    for (int at = 1; at <= 3; at++) {
        stopper st = {.at = at};
        zt_status r = zt_vae_decode(vae, &j.z, 0, &j.arena, &j.out, count_tap, &st, stop_at, &st,
                                    &err);
        /* conv_in and mid_block are tapped before the first question */
        CHECK(r == ZT_ERR_CANCELLED && st.calls == at && st.taps == 2 + (at > 2),
              "stop at %d: status %d, %d questions, %d taps", at, r, st.calls, st.taps);
    }
    stopper never = {.at = 1 << 30};
    CHECK(zt_vae_decode(vae, &j.z, 0, &j.arena, &j.out, count_tap, &never, stop_at, &never,
                        &err) == ZT_OK &&
              never.taps == 3 + cfg.vae.n_blocks + 1,
          "not stopped: %s, %d taps", err.msg, never.taps);
    job_close(&j);
}

static void test_bad_shapes(void)
{
    zt_err err = {0};
    zt_arena arena = {0};
    zt_arena_init(&arena, be, 1 << 16, &err);
    zt_tensor z, out;
    zt_arena_tensor(&arena, &z, ZT_F32, 3, (int64_t[]){4, 2, 2}, &err);
    zt_arena_tensor(&arena, &out, ZT_F32, 3, (int64_t[]){3, 16, 16}, &err);
    CHECK(zt_vae_decode(vae, &z, 1, &arena, &out, NULL, NULL, NULL, NULL, &err) == ZT_ERR_SHAPE,
          "wrong channel count accepted");
    zt_arena_free(&arena);
}

int main(void)
{
    zt_err err = {0};
    be = fx_backend();
    ref = fx_open(TEST_DATA "/tiny-ref/vae.safetensors");
    if (zt_model_config_load(&cfg, TINY, &err) ||
        zt_weights_open(&weights, TINY "/vae", NULL, &err) ||
        zt_vae_new(&vae, be, &cfg.vae, weights, 0, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    RUN(test_decode_cases);
    RUN(test_activations);
    RUN(test_stop);
    RUN(test_bad_shapes);
    zt_vae_free(vae);
    zt_weights_free(weights);
    zt_st_file_close(ref);
    zt_backend_free(be);
    return zt_test_summary("test_vae");
}
