/*
 * cuda_pipeline.c - the tiny model end to end on the GPU against
 * tiny-ref/pipeline.* and against the CPU backend.
 *
 * The GPU computes in BF16, so the fixtures' FP32 element tolerances do not
 * apply; each stage (prompt features, noise, the latent after every step,
 * the decoded image) must instead be within rel-L2 0.03 and cosine 0.999 of
 * the reference, the criteria used for the full-size components. The noise
 * is generated in F32 on the host side of the pipeline and must match to
 * 1e-5. The u8 image is compared with the reference's and with the CPU
 * backend's image. Every figure is printed.
 *
 * Image bound: the FP32 goal is +-1 on at least 99.9% of values. BF16
 * activations in the VAE decoder cannot meet it on this model (measured on
 * an H200: 92.0%, 92.0% and 78.8% of values within +-1 for the three cases,
 * at most 6 apart, with the decoded image at rel-L2 0.011-0.017), so the
 * test asserts what BF16 holds to: every value within +-8 and at least 75%
 * within +-1. Meeting +-1 on 99.9% needs F32: test_fp32 runs the three
 * cases on a CUDA backend made for F32 activations (--precision fp32) and
 * holds it to the FP32 goal against the reference and the CPU image.
 *
 * test_load_cancel stops a load while the weights stream to the device.
 *
 * Without a usable CUDA device the cases are skipped: 0 passed, 0 failed.
 */
#include <cJSON.h>

#include "fixture.h"
#include "pipeline_cases.h"

#define MAX_REL_L2 0.03
#define MIN_COS 0.999
#define IMG_MAX_DIFF 8       /* BF16 bound; see above */
#define IMG_MIN_WITHIN1 0.75

static zt_backend *gpu, *cpu;
static zt_st_file *ref;
static zt_model *mg, *mc;
static cJSON *cases;

typedef struct tap_ctx {
    int k, seen;
} tap_ctx;

static void on_tap(void *ud, const char *name, const zt_tensor *t)
{
    tap_ctx *c = ud;
    char key[96];
    snprintf(key, sizeof key, "case%d.%s", c->k, name);
    const zt_tensor *want = fx_get(ref, key);
    long n = (long)zt_tensor_numel(want);
    CHECK(zt_tensor_numel(t) == n, "%s: size", key);
    if (zt_tensor_numel(t) != n)
        return;
    fx_error e = fx_measure(gpu, t, want);
    printf("  %-24s rel-L2 %.5f  cosine %.6f  max-abs %.3g\n", key, e.rel_l2, e.cosine,
           e.max_abs);
    if (!strcmp(name, "noise"))
        CHECK(e.finite && e.max_abs <= 1e-5, "%s: max-abs %g", key, e.max_abs);
    else
        CHECK(e.finite && e.rel_l2 <= MAX_REL_L2 && e.cosine >= MIN_COS,
              "%s: rel-L2 %.5f (max %.2f), cosine %.6f (min %.3f)", key, e.rel_l2, MAX_REL_L2,
              e.cosine, MIN_COS);
    c->seen++;
}

/* Values of a and b (n bytes) more than 1 apart. */
static void run_case(const cJSON *cs)
{
    int k = cJSON_GetObjectItem(cs, "case")->valueint;
    zt_job_params p = fx_case_params(cs);
    tap_ctx tc = {k, 0};
    zt_run_hooks hk = {.tap = on_tap, .ud = &tc};
    uint8_t *rg = NULL, *rc = NULL;
    zt_err err = {0};
    zt_timings tm;
    printf("case %d: %dx%d, %d steps, guidance %g\n", k, p.width, p.height, p.steps,
           (double)p.guidance);
    zt_status st = zt_pipeline_run(mg, &p, &hk, &rg, &tm, &err);
    CHECK(st == ZT_OK, "case %d on the GPU: %s", k, err.msg);
    int want_taps = 3 + p.steps + (p.guidance > 0);
    CHECK(tc.seen == want_taps, "case %d: %d stages compared, want %d", k, tc.seen, want_taps);
    st = zt_pipeline_run(mc, &p, NULL, &rc, &tm, &err);
    CHECK(st == ZT_OK, "case %d on the CPU: %s", k, err.msg);
    char key[64];
    snprintf(key, sizeof key, "case%d.image_u8", k);
    const zt_tensor *want = fx_get(ref, key);
    long n = (long)zt_tensor_numel(want);
    int maxd;
    if (rg) {
        long off = fx_u8_off_by_more(rg, want->data, n, &maxd);
        printf("  GPU vs reference image: %.3f%% within +-1 (%ld of %ld off, max %d)\n",
               100.0 * (double)(n - off) / (double)n, off, n, maxd);
        CHECK(maxd <= IMG_MAX_DIFF && (double)(n - off) >= IMG_MIN_WITHIN1 * (double)n,
              "case %d: %ld of %ld values off the reference by more than 1, max %d", k, off, n,
              maxd);
    }
    if (rg && rc) {
        long off = fx_u8_off_by_more(rg, rc, n, &maxd);
        printf("  GPU vs CPU image:       %.3f%% within +-1 (%ld of %ld off, max %d)\n",
               100.0 * (double)(n - off) / (double)n, off, n, maxd);
        CHECK(maxd <= IMG_MAX_DIFF && (double)(n - off) >= IMG_MIN_WITHIN1 * (double)n,
              "case %d: %ld of %ld values off the CPU image by more than 1, max %d", k, off, n,
              maxd);
    }
    free(rg);
    free(rc);
}

/* --precision fp32: F32 activations and matrix products on the GPU. */
static void test_fp32(void)
{
    zt_backend *g32 = NULL;
    zt_model *m32 = NULL;
    zt_err err = {0};
    CHECK(zt_backend_cuda_new_ex(&g32, 0, ZT_F32, &err) == ZT_OK, "%s", err.msg);
    CHECK(g32 && zt_model_open(&m32, g32, TINY, NULL, NULL, &err) == ZT_OK, "%s", err.msg);
    const cJSON *cs;
    cJSON_ArrayForEach(cs, cases)
    {
        if (!m32)
            break;
        int k = cJSON_GetObjectItem(cs, "case")->valueint;
        zt_job_params p = fx_case_params(cs);
        uint8_t *rg = NULL, *rc = NULL;
        CHECK(zt_pipeline_run(m32, &p, NULL, &rg, NULL, &err) == ZT_OK, "fp32 case %d: %s", k,
              err.msg);
        CHECK(zt_pipeline_run(mc, &p, NULL, &rc, NULL, &err) == ZT_OK, "cpu case %d: %s", k,
              err.msg);
        char key[64];
        snprintf(key, sizeof key, "case%d.image_u8", k);
        const zt_tensor *want = fx_get(ref, key);
        long n = (long)zt_tensor_numel(want);
        if (rg && rc) {
            int md1, md2;
            long o1 = fx_u8_off_by_more(rg, want->data, n, &md1);
            long o2 = fx_u8_off_by_more(rg, rc, n, &md2);
            printf("fp32 case %d: vs reference %.3f%% within +-1 (max %d); vs CPU %.3f%% (max %d)\n",
                   k, 100.0 * (n - o1) / n, md1, 100.0 * (n - o2) / n, md2);
            CHECK(o1 * 1000 <= n, "fp32 case %d: %ld of %ld values off the reference by > 1", k,
                  o1, n);
            CHECK(o2 * 1000 <= n, "fp32 case %d: %ld of %ld values off the CPU by > 1", k, o2, n);
        }
        free(rg);
        free(rc);
    }
    zt_model_free(m32);
    zt_backend_free(g32);
}

/* Run case cs without hooks; returns the u8 image (caller frees). */
static uint8_t *plain_run(const cJSON *cs, const char *what)
{
    zt_job_params p = fx_case_params(cs);
    uint8_t *img = NULL;
    zt_err err = {0};
    CHECK(zt_pipeline_run(mg, &p, NULL, &img, NULL, &err) == ZT_OK, "%s: %s", what, err.msg);
    return img;
}

/* Recorded passes (backend.h replays): the text encoder pass and each
 * denoising step are run directly the first time, recorded the second and
 * replayed after; every run of a case must give the same bytes as the
 * first, with the cases interleaved (so keys change between jobs), and as
 * a run with recording off (ZIMT_GRAPHS=0). */
static void test_replay(void)
{
    enum { NC = 3, RUNS = 4 };
    const cJSON *cs[NC] = {0};
    uint8_t *first[NC] = {0};
    long n[NC] = {0};
    int k = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        if (k == NC)
            break;
        cs[k] = c;
        char key[64];
        snprintf(key, sizeof key, "case%d.image_u8", cJSON_GetObjectItem(c, "case")->valueint);
        n[k++] = (long)zt_tensor_numel(fx_get(ref, key));
    }
    CHECK(k == NC, "%d cases", k);
    setenv("ZIMT_GRAPHS", "0", 1);
    for (int i = 0; i < k; i++)
        first[i] = plain_run(cs[i], "recording off");
    unsetenv("ZIMT_GRAPHS");
    unsigned long before = gpu->replays;
    int same = 0, total = 0;
    for (int r = 0; r < RUNS; r++)
        for (int i = 0; i < k; i++) {
            uint8_t *img = plain_run(cs[i], "recording on");
            if (img && first[i]) {
                total++;
                same += !memcmp(img, first[i], (size_t)n[i]);
            }
            free(img);
        }
    /* per job: 1 encoder pass (2 with a negative prompt) and steps (x2) */
    unsigned long got = gpu->replays - before;
    printf("replays: %lu queued; %d of %d runs identical to the run without them\n", got, same,
           total);
    CHECK(total == RUNS * k && same == total, "%d of %d runs differ", total - same, total);
    CHECK(got > 0, "no pass was replayed");
    for (int i = 0; i < k; i++)
        free(first[i]);
}

/* A recorded step holds cuDNN's attention kernels; when cuDNN lets that
 * plan go (its cache keeps 16 shapes), the recording must be made again,
 * not replayed. Largest size first, so no scratch grows later and only the
 * plan cache changes: 64x64 is recorded, 17 other sizes push its attention
 * shapes out, and 64x64 must then give the same bytes again. */
static void test_replay_after_eviction(void)
{
    zt_job_params p = {.prompt = "a lighthouse", .width = 336, .height = 336, .steps = 2,
                       .seed = 3, .rng = ZT_RNG_CUDA};
    zt_err err = {0};
    uint8_t *img = NULL, *first = NULL;
    CHECK(zt_pipeline_run(mg, &p, NULL, &img, NULL, &err) == ZT_OK, "336: %s", err.msg);
    free(img);
    p.width = p.height = 64;
    for (int r = 0; r < 3; r++) { /* direct, recorded, replayed */
        img = NULL;
        CHECK(zt_pipeline_run(mg, &p, NULL, &img, NULL, &err) == ZT_OK, "64: %s", err.msg);
        if (!first)
            first = img;
        else
            free(img);
    }
    for (int s = 80; s <= 320; s += 16) {
        zt_job_params q = p;
        q.width = s, q.height = 64;
        img = NULL;
        CHECK(zt_pipeline_run(mg, &q, NULL, &img, NULL, &err) == ZT_OK, "%d: %s", s, err.msg);
        free(img);
    }
    unsigned long before = gpu->replays;
    for (int r = 0; r < 2; r++) {
        img = NULL;
        CHECK(zt_pipeline_run(mg, &p, NULL, &img, NULL, &err) == ZT_OK, "64 again: %s", err.msg);
        CHECK(img && first && !memcmp(img, first, 64 * 64 * 3), "64x64 differs after evictions");
        free(img);
    }
    printf("after 17 other sizes: %lu replays in two more 64x64 jobs\n", gpu->replays - before);
    CHECK(gpu->replays > before, "not replayed again");
    free(first);
}

static void test_cases(void)
{
    const cJSON *cs;
    int n = 0;
    cJSON_ArrayForEach(cs, cases)
    {
        run_case(cs);
        n++;
    }
    CHECK(n == 3, "%d cases", n);
}

/* Stops at the first report from inside the transformer's upload (a shard
 * named: the backend is between staged pieces). */
static int stop_in_transformer(void *ud, const zt_load_progress *p)
{
    int *reports = ud;
    ++*reports;
    return !strcmp(p->component, "transformer") && p->file && p->file[0];
}

/* A load cancelled while weights stream to the device fails with
 * ZT_ERR_CANCELLED and gives back every byte it took; the backend then
 * loads the model whole. */
static void test_load_cancel(void)
{
    zt_backend *g = NULL;
    zt_model *m = NULL;
    zt_err err = {0};
    CHECK(zt_backend_cuda_new(&g, 0, &err) == ZT_OK, "%s", err.msg);
    if (!g)
        return;
    size_t before = 0, after = 0, peak = 0;
    zt_backend_mem_usage(g, &before, &peak);
    int reports = 0;
    zt_status st = zt_model_open(&m, g, TINY, stop_in_transformer, &reports, &err);
    zt_backend_mem_usage(g, &after, &peak);
    CHECK(st == ZT_ERR_CANCELLED && m == NULL, "status %d: %s", st, err.msg);
    CHECK(after == before && peak > before, "held %zu bytes before, %zu after (peak %zu)", before,
          after, peak);
    CHECK(reports >= 3, "%d reports", reports); /* tokenizer, text encoder, transformer */
    zt_model_free(m);
    m = NULL;
    CHECK(zt_model_open(&m, g, TINY, NULL, NULL, &err) == ZT_OK, "reload: %s", err.msg);
    zt_model_free(m);
    zt_backend_free(g);
}

int main(void)
{
    zt_err err = {0};
    if (zt_backend_cuda_new(&gpu, 0, &err) != ZT_OK) {
        printf("no CUDA device (%s): skipped\n", err.msg);
        return zt_test_summary("cuda_pipeline");
    }
    cpu = fx_cpu();
    char *text = NULL;
    size_t len;
    ref = fx_open(TEST_DATA "/tiny-ref/pipeline.safetensors");
    if (zt_read_file(TEST_DATA "/tiny-ref/pipeline.json", 1 << 20, &text, &len, &err) ||
        !(cases = cJSON_Parse(text)) || zt_model_open(&mg, gpu, TINY, NULL, NULL, &err) ||
        zt_model_open(&mc, cpu, TINY, NULL, NULL, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return 1;
    }
    free(text);
    RUN(test_cases);
    RUN(test_replay);
    RUN(test_replay_after_eviction);
    RUN(test_fp32);
    RUN(test_load_cancel);
    zt_model_free(mg);
    zt_model_free(mc);
    cJSON_Delete(cases);
    zt_st_file_close(ref);
    zt_backend_free(gpu);
    zt_backend_free(cpu);
    return zt_test_summary("cuda_pipeline");
}
