/* test_noalloc.c - nothing is allocated inside the denoising loop, on the
 * CPU backend, in the pipeline and in the engine around it.
 *
 * This binary is linked with the allocators, fopen and pthread_create wrapped
 * (Makefile: -Wl,--wrap=...), so every call that zimt's own code makes to
 * them is logged here: when it was made and whether the test's thread made
 * it. The first step may still allocate (scratch buffers reach their size,
 * the CPU backend's workers start), and on the CUDA backend the second
 * (recorded into a graph); after those, to the end of the last step, no
 * call may be made. `make test` runs it on the CPU, `make test-cuda` on
 * the GPU too. */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "engine.h"
#include "pipeline.h"

#define TINY TEST_DATA "/tiny-zimage"
#define LOG_MAX 65536

static atomic_long n_calls;
static double log_t[LOG_MAX];      /* zt_now_ms() of each call */
static unsigned char log_other[LOG_MAX]; /* 1: made off the test's thread */
static pthread_t test_thread;

static void note(void)
{
    long i = atomic_fetch_add(&n_calls, 1);
    if (i < LOG_MAX) {
        log_t[i] = zt_now_ms();
        log_other[i] = !pthread_equal(pthread_self(), test_thread);
    }
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
char *__real_strdup(const char *s);
FILE *__real_fopen64(const char *path, const char *mode);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
                          void *arg);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
char *__wrap_strdup(const char *s);
FILE *__wrap_fopen64(const char *path, const char *mode);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
                          void *arg);

void *__wrap_malloc(size_t n)
{
    note();
    return __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    note();
    return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    note();
    return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
    note();
    return __real_aligned_alloc(a, n);
}

int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
    note();
    return __real_posix_memalign(p, a, n);
}

char *__wrap_strdup(const char *s)
{
    note();
    return __real_strdup(s);
}

/* fopen (fopen64 with _FILE_OFFSET_BITS=64): an open file is a buffer
 * allocated inside libc, and I/O on the hot path */
FILE *__wrap_fopen64(const char *path, const char *mode)
{
    note();
    return __real_fopen64(path, mode);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    note();
    return __real_pthread_create(t, a, fn, arg);
}

/* Calls made off the test's thread after t0 and before t1 (ms). */
static long other_calls_between(double t0, double t1)
{
    long n = atomic_load(&n_calls), k = 0;
    if (n > LOG_MAX)
        n = LOG_MAX;
    for (long i = 0; i < n; i++)
        k += log_other[i] && log_t[i] > t0 && log_t[i] < t1;
    return k;
}

/* ---- the pipeline on the CPU backend ---- */

typedef struct step_log {
    long calls[16]; /* n_calls when step i + 1 ended */
    int steps;
} step_log;

static int on_step(void *ud, int step, int total, double ms, const float *x0, int C, int h,
                   int w)
{
    step_log *l = ud;
    (void)total;
    (void)ms;
    (void)x0;
    (void)C;
    (void)h;
    (void)w;
    if (step >= 1 && step <= 16)
        l->calls[step - 1] = atomic_load(&n_calls);
    l->steps = step;
    return 0;
}

static int every_step(void *ud, int step, int total)
{
    (void)ud;
    (void)step;
    (void)total;
    return 1;
}

/* On be, the steps after `warm` of a 5-step job allocate nothing, with the
 * predicted image downloaded each step as for previews; a second job of
 * the same size neither. On the CPU backend (warm 1) the work is split
 * over four threads (a 256x256 image is large enough for the split); the
 * CUDA backend (warm 2) records the step into a graph the second time. */
static void pipeline_steps(zt_backend *be, int warm)
{
    zt_model *m = NULL;
    zt_err err = {0};
    if (zt_model_open(&m, be, TINY, NULL, NULL, &err)) {
        CHECK(0, "open: %s", err.msg);
        return;
    }
    for (int job = 0; job < 2; job++) {
        zt_job_params p = {.prompt = "a lighthouse at dusk", .width = 256, .height = 256,
                           .steps = 5, .seed = 7};
        step_log l = {{0}, 0};
        zt_run_hooks hk = {.on_step = on_step, .want_latents = every_step, .ud = &l};
        uint8_t *rgb = NULL;
        long before = atomic_load(&n_calls);
        zt_status st = zt_pipeline_run(m, &p, &hk, &rgb, NULL, &err);
        CHECK(st == ZT_OK && rgb, "job %d: %s", job, err.msg);
        CHECK(l.steps == 5, "job %d: %d steps", job, l.steps);
        CHECK(l.calls[4] == l.calls[warm - 1],
              "job %d: %ld allocator or thread calls in steps %d-5", job,
              l.calls[4] - l.calls[warm - 1], warm + 1);
        CHECK(atomic_load(&n_calls) > before, "job %d: no call logged at all (the wrapping "
              "is not in effect)", job);
        free(rgb);
    }
    zt_model_free(m);
}

static void test_cpu_steps(void)
{
    zt_backend *be = NULL;
    zt_err err = {0};
    CHECK(zt_backend_cpu_new(&be, 4, &err) == ZT_OK, "cpu: %s", err.msg);
    if (be)
        pipeline_steps(be, 1);
    zt_backend_free(be);
}

static zt_backend *gpu;

static void test_cuda_steps(void)
{
    pipeline_steps(gpu, 2);
}

/* ---- the engine: step and preview events ---- */

/* The engine's worker allocates nothing between its first STEP event and
 * its last (each event's t_ms is taken as it is queued), and every STEP
 * and PREVIEW event still arrives. */
static void test_engine_steps(void)
{
    zt_engine_opts o = {.model_dir = TINY, .device = "cpu", .previews = 1, .threads = 4};
    zt_engine *e = NULL;
    zt_err err = {0};
    if (zt_engine_new(&e, &o, &err) != ZT_OK) {
        CHECK(0, "engine: %s", err.msg);
        return;
    }
    zt_gen_params p;
    zt_gen_params_init(&p);
    zt_gen_params_set_prompt(&p, "a red fox in snow", NULL);
    p.width = 128;
    p.height = 128;
    p.steps = 5;
    p.seed = 3;
    uint64_t id = 0;
    CHECK(zt_engine_submit(e, &p, NULL, &id, &err) == ZT_OK, "submit: %s", err.msg);
    zt_gen_params_free(&p);
    double t_first = -1, t_last = -1, deadline = zt_now_ms() + 120000;
    int steps = 0, previews = 0, ended = 0;
    while (!ended && zt_now_ms() < deadline) {
        zt_event ev;
        if (!zt_engine_poll(e, &ev)) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (ev.job == id && ev.kind == ZT_EV_JOB_STEP) {
            steps++;
            if (ev.step == 1)
                t_first = ev.t_ms;
            if (ev.step == ev.steps)
                t_last = ev.t_ms;
        }
        previews += ev.job == id && ev.kind == ZT_EV_JOB_PREVIEW && ev.rgb && ev.w == 16 &&
                    ev.h == 16;
        CHECK(ev.kind != ZT_EV_JOB_FAILED && ev.kind != ZT_EV_LOAD_FAILED, "%s", ev.msg);
        ended = ev.job == id && (ev.kind == ZT_EV_JOB_FINISHED || ev.kind == ZT_EV_JOB_FAILED ||
                                 ev.kind == ZT_EV_JOB_CANCELLED);
        zt_event_free(&ev);
    }
    CHECK(ended, "the job did not end");
    CHECK(steps == 5 && previews == 5, "%d step and %d preview events", steps, previews);
    CHECK(t_first > 0 && t_last > t_first, "step times %.3f %.3f", t_first, t_last);
    long k = other_calls_between(t_first, t_last);
    CHECK(k == 0, "%ld allocator or thread calls off the test's thread during steps 2-5", k);
    zt_engine_free(e);
}

int main(void)
{
    test_thread = pthread_self();
    RUN(test_cpu_steps);
    RUN(test_engine_steps);
    zt_err err = {0};
    if (zt_backend_cuda_new(&gpu, 0, &err) == ZT_OK)
        RUN(test_cuda_steps);
    else
        printf("test_noalloc: no CUDA device (%s): test_cuda_steps skipped\n", err.msg);
    zt_backend_free(gpu);
    return zt_test_summary("test_noalloc");
}
