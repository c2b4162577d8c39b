/* test_pipeline.c - end to end against tiny-ref/pipeline.*: prompt
 * features, starting noise, the latents after every step, the decoded image
 * and its u8 pixels. Tolerances (fixtures README): text encoder and
 * intermediate latents 1e-4 + 1e-3|b|; final latents and decoded image
 * 1e-3 + 1e-3|b|; noise 1e-5 absolute; image_u8 within +-1 on >= 99.9%.
 * Also: cancelling a run and a load, and parameters refused. */
#include <cJSON.h>

#include "fixture.h"
#include "pipeline_cases.h"

static zt_backend *be;
static zt_st_file *ref;
static zt_model *model;
static cJSON *cases;

typedef struct tap_ctx {
    int k, steps, seen;
} tap_ctx;

static void on_tap(void *ud, const char *name, const zt_tensor *t)
{
    tap_ctx *c = ud;
    char key[96];
    snprintf(key, sizeof key, "case%d.%s", c->k, name);
    const zt_tensor *want = fx_get(ref, key);
    double atol = 1e-4, rtol = 1e-3;
    if (!strcmp(name, "noise"))
        atol = 1e-5, rtol = 0;
    char last[32];
    snprintf(last, sizeof last, "latents.step%d", c->steps - 1);
    if (!strcmp(name, last) || !strcmp(name, "decoded"))
        atol = 1e-3;
    CHECK(zt_tensor_numel(t) == zt_tensor_numel(want), "%s: size", key);
    fx_expect_close(be, key, t, want, (long)zt_tensor_numel(want), atol, rtol);
    c->seen++;
}

static int steps_seen;
static int on_step(void *ud, int step, int total, double ms, const float *x0, int C, int h,
                   int w)
{
    (void)ud;
    (void)ms;
    (void)x0;
    (void)C;
    (void)h;
    (void)w;
    CHECK(step == steps_seen + 1 && step <= total, "step %d of %d after %d", step, total,
          steps_seen);
    steps_seen = step;
    return 0;
}

static void run_case(const cJSON *cs)
{
    int k = cJSON_GetObjectItem(cs, "case")->valueint;
    zt_job_params p = fx_case_params(cs);
    tap_ctx tc = {k, p.steps, 0};
    zt_run_hooks hk = {.on_step = on_step, .tap = on_tap, .ud = &tc};
    uint8_t *rgb = NULL;
    zt_err err = {0};
    zt_timings tm;
    steps_seen = 0;
    zt_status st = zt_pipeline_run(model, &p, &hk, &rgb, &tm, &err);
    CHECK(st == ZT_OK, "case %d: %s", k, err.msg);
    CHECK(steps_seen == p.steps, "case %d: %d step events", k, steps_seen);
    int want_taps = 3 + p.steps + (p.guidance > 0);
    CHECK(tc.seen == want_taps, "case %d: %d stages compared, want %d", k, tc.seen, want_taps);
    if (!rgb)
        return;
    char key[64];
    snprintf(key, sizeof key, "case%d.image_u8", k);
    const zt_tensor *want = fx_get(ref, key);
    long n = (long)zt_tensor_numel(want);
    long off = fx_u8_off_by_more(rgb, want->data, n, NULL);
    CHECK(off * 1000 <= n, "case %d: %ld of %ld pixels off by more than 1", k, off, n);
    free(rgb);
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

static int cancel_at;
static int cancel_step(void *ud, int step, int total, double ms, const float *x0, int C, int h,
                       int w)
{
    (void)ud;
    (void)total;
    (void)ms;
    (void)C;
    (void)x0;
    (void)h;
    (void)w;
    steps_seen = step;
    return step == cancel_at;
}

static void test_cancel(void)
{
    zt_job_params p = {.prompt = "a cat", .width = 64, .height = 64, .steps = 5, .seed = 1};
    zt_run_hooks hk = {.on_step = cancel_step};
    uint8_t *rgb = NULL;
    zt_err err = {0};
    cancel_at = 2;
    steps_seen = 0;
    CHECK(zt_pipeline_run(model, &p, &hk, &rgb, NULL, &err) == ZT_ERR_CANCELLED, "not cancelled");
    CHECK(steps_seen == 2 && rgb == NULL, "ran %d steps", steps_seen);
}

/* On the CPU a cancel does not wait for the step (minutes with the full
 * model): the stop hook is asked before each op, so a stop raised once two
 * steps are done ends the third within one op, and the backend serves the
 * next job as before. */
static int stop_after, stop_asked_late;
static int stop_when_done(void *ud)
{
    (void)ud;
    if (steps_seen < stop_after)
        return 0;
    stop_asked_late++;
    return 1;
}

static void test_cancel_inside_step(void)
{
    if (!be->vt->ops_immediate) {
        printf("  (skipped: the backend queues its ops)\n");
        return;
    }
    zt_job_params p = {.prompt = "a dog on a beach", .width = 64, .height = 64, .steps = 5,
                       .seed = 3};
    zt_run_hooks hk = {.on_step = on_step, .stop = stop_when_done};
    uint8_t *rgb = NULL;
    zt_err err = {0};
    steps_seen = 0;
    stop_after = 2;
    stop_asked_late = 0;
    zt_status st = zt_pipeline_run(model, &p, &hk, &rgb, NULL, &err);
    CHECK(st == ZT_ERR_CANCELLED && rgb == NULL, "status %d: %s", st, err.msg);
    CHECK(steps_seen == 2, "%d steps finished", steps_seen);
    /* asked once: the first op after the stop is skipped with all after it */
    CHECK(stop_asked_late == 1, "asked %d times after the stop", stop_asked_late);
    CHECK(strstr(err.msg, "during step 3 of 5") != NULL, "message: %s", err.msg);

    /* a stop before anything runs ends the encoding, with its own words */
    steps_seen = 0;
    stop_after = 0;
    st = zt_pipeline_run(model, &p, &hk, &rgb, NULL, &err);
    CHECK(st == ZT_ERR_CANCELLED && rgb == NULL, "status %d: %s", st, err.msg);
    CHECK(strstr(err.msg, "encoding") != NULL, "message: %s", err.msg);
    CHECK(be->stop == NULL, "the backend still asks the job's hook");

    /* the same job again, not stopped: whole, as from a fresh backend */
    steps_seen = 0;
    stop_after = 99;
    st = zt_pipeline_run(model, &p, &hk, &rgb, NULL, &err);
    CHECK(st == ZT_OK && rgb != NULL && steps_seen == 5, "after a cancel: %s", err.msg);
    uint8_t *again = NULL;
    zt_run_hooks plain = {0};
    st = zt_pipeline_run(model, &p, &plain, &again, NULL, &err);
    CHECK(st == ZT_OK && again != NULL, "without hooks: %s", err.msg);
    if (rgb && again)
        CHECK(!memcmp(rgb, again, 64 * 64 * 3), "the images differ");
    free(rgb);
    free(again);
}

/* A load asked to stop at its k-th report stops there: no further report,
 * ZT_ERR_CANCELLED, no model, nothing leaked (the sanitizer builds). Left
 * alone it names the tokenizer, the three components and "done" in turn.
 * The same for a load from files and one of synthetic weights. */
static int load_calls, load_cancel_at, n_named;
static char named[8][16]; /* the components reported, each once in turn */

static int cancel_load(void *ud, const zt_load_progress *p)
{
    (void)ud;
    if (n_named < 8 && (!n_named || strcmp(named[n_named - 1], p->component)))
        snprintf(named[n_named++], sizeof named[0], "%s", p->component);
    return ++load_calls == load_cancel_at;
}

static zt_status open_files(zt_model **m, zt_err *err)
{
    return zt_model_open(m, be, TINY, cancel_load, NULL, err);
}

static zt_status open_synthetic(zt_model **m, zt_err *err)
{
    zt_model_config c;
    zt_status st = zt_model_config_load(&c, TINY, err);
    return st ? st : zt_model_open_synthetic(m, be, 3, &c, NULL, cancel_load, NULL, err);
}

/* exact: the number of reports when it is known (no shard progress) */
static void cancel_each_report(const char *what, zt_status (*open)(zt_model **, zt_err *),
                               int exact)
{
    static const char *const order[] = {"tokenizer", "text_encoder", "transformer", "vae",
                                        "done"};
    zt_err err = {0};
    zt_model *m = NULL;
    load_calls = load_cancel_at = n_named = 0;
    CHECK(open(&m, &err) == ZT_OK && m, "%s: %s", what, err.msg);
    zt_model_free(m);
    int reports = load_calls;
    CHECK(reports >= 5 && n_named == 5 && (!exact || reports == exact),
          "%s: %d reports, %d components", what, reports, n_named);
    for (int i = 0; i < n_named && i < 5; i++)
        CHECK(!strcmp(named[i], order[i]), "%s: report %d: %s", what, i, named[i]);
    for (int k = 1; k <= reports; k++) {
        load_calls = n_named = 0;
        load_cancel_at = k;
        m = NULL;
        zt_status st = open(&m, &err);
        CHECK(st == ZT_ERR_CANCELLED && m == NULL && load_calls == k,
              "%s: stop at report %d: status %d, %d reports", what, k, st, load_calls);
        CHECK(strstr(err.msg, "cancelled") != NULL, "%s: message: %s", what, err.msg);
        zt_model_free(m);
    }
}

static void test_load_cancel(void)
{
    cancel_each_report("files", open_files, 0);
    cancel_each_report("synthetic", open_synthetic, 5);
}

static void test_bad_params(void)
{
    zt_err err = {0};
    uint8_t *rgb = NULL;
    zt_job_params p = {.prompt = "x", .width = 100, .height = 64, .steps = 8};
    CHECK(zt_pipeline_run(model, &p, NULL, &rgb, NULL, &err) == ZT_ERR_INVALID, "100 wide");
    CHECK(strstr(err.msg, "96x64") != NULL, "no suggestion: %s", err.msg);
    p.width = 64;
    p.steps = 0;
    CHECK(zt_pipeline_run(model, &p, NULL, &rgb, NULL, &err) == ZT_ERR_INVALID, "0 steps");
    p.steps = 2;
    p.height = -16;
    CHECK(zt_pipeline_run(model, &p, NULL, &rgb, NULL, &err) == ZT_ERR_INVALID, "negative");
}

int main(void)
{
    zt_err err = {0};
    char *text = NULL;
    size_t len;
    be = fx_backend();
    ref = fx_open(TEST_DATA "/tiny-ref/pipeline.safetensors");
    if (zt_read_file(TEST_DATA "/tiny-ref/pipeline.json", 1 << 20, &text, &len, &err) ||
        !(cases = cJSON_Parse(text)) || zt_model_open(&model, be, TINY, NULL, NULL, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return 1;
    }
    free(text);
    RUN(test_cases);
    RUN(test_cancel);
    RUN(test_cancel_inside_step);
    RUN(test_bad_params);
    RUN(test_load_cancel);
    zt_model_free(model);
    cJSON_Delete(cases);
    zt_st_file_close(ref);
    zt_backend_free(be);
    return zt_test_summary("test_pipeline");
}
