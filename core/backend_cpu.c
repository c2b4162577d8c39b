/*
 * backend_cpu.c - the CPU backend: the readable reference for every op.
 *
 * Plain C loops over host memory, F32 accumulation. Activations are F32
 * (act_dtype), but any float dtype is accepted: an input in BF16/F16 is
 * converted into a temporary F32 copy ("staged") and an output in BF16/F16
 * is computed in F32 and converted back. Matmul weights are never staged
 * whole: blocks of weight rows are converted on the fly, so a BF16 model
 * costs no extra memory.
 *
 * Large ops (matmul, attention, conv2d, norms over many rows) are split
 * across a pool of worker threads, started the first time an op needs them
 * and kept until the backend is destroyed; small ones run on the calling
 * thread, where waking the pool would cost more than the work.
 *
 * Temporaries (staged copies, converted weight blocks, attention scores,
 * im2col rows) come from a few scratch buffers the backend keeps and only
 * grows, so a run of identical steps allocates nothing after its first.
 * One thread at a time may issue ops on a backend.
 *
 * The wrappers in backend.c have checked every argument; the only error an
 * op here can record is running out of memory for scratch, or an embedding
 * id out of range (ids live in backend memory, so only the backend sees them).
 */
#include "backend.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synth.h"

/* Below this many multiply-adds an op runs on one thread. */
#define PARALLEL_MIN_WORK 200000.0
#define MAX_THREADS 64
/* Scratch buffers one op holds at once, at most (rmsnorm_q: its F32
 * temporary, then x, w, scale and y staged). */
#define SCRATCH_SLOTS 8

/* fn handles items [lo, hi) on worker tid (0 .. nthreads-1). */
typedef void (*range_fn)(void *ctx, int64_t lo, int64_t hi, int tid);

struct pool;

typedef struct pool_arg {
    struct pool *pl;
    int tid;
} pool_arg;

/* Worker threads 1 .. started (the caller is thread 0). A round: the caller
 * sets the job under mu, bumps round and wakes them; worker t < nt runs its
 * range and counts down left; the caller waits for left to reach 0. Ranges
 * never issue ops, so rounds do not nest. */
typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t th[MAX_THREADS];
    pool_arg args[MAX_THREADS];
    int started;        /* workers running */
    int spawn_failed;   /* a start failed: run with those there are */
    int quit;
    unsigned long round;
    range_fn fn;
    void *ctx;
    int64_t n;
    int nt, left;
} pool;

typedef struct scratch_slot {
    float *p;
    size_t cap; /* bytes */
    int busy;
} scratch_slot;

typedef struct cpu_backend {
    zt_backend base; /* first: a zt_backend * is a cpu_backend * */
    int threads;
    pool pool;
    scratch_slot scr[SCRATCH_SLOTS];
} cpu_backend;

/* ---- dtype conversion ------------------------------------------------- */

static float load1(const void *p, zt_dtype dt, int64_t i)
{
    switch (dt) {
    case ZT_BF16:
        return zt_bf16_to_f32(((const uint16_t *)p)[i]);
    case ZT_F16:
        return zt_f16_to_f32(((const uint16_t *)p)[i]);
    case ZT_F8E4M3:
        return zt_e4m3_to_f32(((const uint8_t *)p)[i]);
    default:
        return ((const float *)p)[i];
    }
}

static void store1(void *p, zt_dtype dt, int64_t i, float v)
{
    switch (dt) {
    case ZT_BF16:
        ((uint16_t *)p)[i] = zt_f32_to_bf16(v);
        break;
    case ZT_F16:
        ((uint16_t *)p)[i] = zt_f32_to_f16(v);
        break;
    default:
        ((float *)p)[i] = v;
        break;
    }
}

/* dst[0..n) = src[i0 .. i0+n) as F32. */
static void to_f32(float *dst, const void *src, zt_dtype dt, int64_t i0, int64_t n)
{
    if (dt == ZT_F32) {
        memcpy(dst, (const float *)src + i0, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; i++)
        dst[i] = load1(src, dt, i0 + i);
}

/*
 * n floats of scratch, held until scratch_put, or NULL with the error set.
 * The lowest free slot is taken, so ops issued in the same order ask each
 * slot for the same sizes every time: after one pass through a step the
 * slots are large enough and nothing more is allocated. A slot grows with
 * a quarter to spare; its old contents are not kept.
 */
static float *scratch_get(zt_backend *be, int64_t n)
{
    cpu_backend *cb = (cpu_backend *)be;
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    for (int i = 0; i < SCRATCH_SLOTS; i++) {
        scratch_slot *s = &cb->scr[i];
        if (s->busy)
            continue;
        if (s->cap < bytes) {
            free(s->p);
            s->cap = 0;
            size_t cap = bytes <= SIZE_MAX - bytes / 4 ? bytes + bytes / 4 : bytes;
            if (!(s->p = malloc(cap))) {
                zt_backend_set_error(be, ZT_ERR_NOMEM,
                                     "cpu: out of memory for %zu bytes of scratch", cap);
                return NULL;
            }
            s->cap = cap;
        }
        s->busy = 1;
        return s->p;
    }
    zt_backend_set_error(be, ZT_ERR_UNSUPPORTED, "cpu: an op asked for more than %d scratch buffers",
                         SCRATCH_SLOTS);
    return NULL;
}

/* Gives back a buffer from scratch_get; NULL is fine. */
static void scratch_put(zt_backend *be, float *p)
{
    cpu_backend *cb = (cpu_backend *)be;
    for (int i = 0; p && i < SCRATCH_SLOTS; i++)
        if (cb->scr[i].p == p)
            cb->scr[i].busy = 0;
}

/*
 * Staging. stage_in returns t's data as F32: the tensor itself when it is
 * F32, else a converted copy in scratch, kept in *tmp (give it back with
 * scratch_put). NULL t gives NULL; NULL with an error recorded means out of
 * memory (check be->error).
 */
static const float *stage_in(zt_backend *be, const zt_tensor *t, float **tmp)
{
    *tmp = NULL;
    if (!t)
        return NULL;
    if (t->dtype == ZT_F32)
        return t->data;
    int64_t n = zt_tensor_numel(t);
    *tmp = scratch_get(be, n);
    if (*tmp)
        to_f32(*tmp, t->data, t->dtype, 0, n);
    return *tmp;
}

/* An F32 buffer for output y: y's own data, or a scratch that stage_done
 * converts into y (and gives back). keep != 0 loads y's current values (ops
 * that add to y). */
static float *stage_out(zt_backend *be, zt_tensor *y, int keep, float **tmp)
{
    *tmp = NULL;
    if (y->dtype == ZT_F32)
        return y->data;
    int64_t n = zt_tensor_numel(y);
    *tmp = scratch_get(be, n);
    if (*tmp && keep)
        to_f32(*tmp, y->data, y->dtype, 0, n);
    return *tmp;
}

static void stage_done(zt_backend *be, zt_tensor *y, float *tmp)
{
    /* After a failure y keeps its old contents: the op did not happen. */
    if (tmp && be->error.code == ZT_OK) {
        int64_t n = zt_tensor_numel(y);
        for (int64_t i = 0; i < n; i++)
            store1(y->data, y->dtype, i, tmp[i]);
    }
    scratch_put(be, tmp);
}

/* ---- threads ------------------------------------------------------------ */

/* How many threads n items worth `work` multiply-adds deserve. */
static int plan_threads(const zt_backend *be, int64_t n, double work)
{
    const cpu_backend *cb = (const cpu_backend *)be;
    if (work < PARALLEL_MIN_WORK || n < 2)
        return 1;
    return n < cb->threads ? (int)n : cb->threads;
}

static void *pool_main(void *arg)
{
    const pool_arg *a = arg;
    pool *pl = a->pl;
    unsigned long seen = 0;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (!pl->quit && pl->round == seen)
            pthread_cond_wait(&pl->go, &pl->mu);
        if (pl->quit)
            break;
        seen = pl->round;
        if (a->tid >= pl->nt)
            continue; /* not needed this round */
        range_fn fn = pl->fn;
        void *ctx = pl->ctx;
        int64_t n = pl->n, nt = pl->nt;
        pthread_mutex_unlock(&pl->mu);
        fn(ctx, n * a->tid / nt, n * (a->tid + 1) / nt, a->tid);
        pthread_mutex_lock(&pl->mu);
        if (--pl->left == 0)
            pthread_cond_signal(&pl->done);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* Starts workers until there are want - 1 of them (or a start fails);
 * returns how many threads a round can have, the caller's included. */
static int pool_grow(pool *pl, int want)
{
    while (!pl->spawn_failed && pl->started + 1 < want) {
        int t = pl->started + 1;
        pl->args[t] = (pool_arg){pl, t};
        if (pthread_create(&pl->th[t], NULL, pool_main, &pl->args[t])) {
            pl->spawn_failed = 1;
            break;
        }
        pl->started = t;
    }
    return pl->started + 1 < want ? pl->started + 1 : want;
}

static zt_status pool_init(pool *pl, zt_err *err)
{
    if (pthread_mutex_init(&pl->mu, NULL))
        return zt_fail(err, ZT_ERR_NOMEM, "cpu backend: cannot make a mutex");
    if (pthread_cond_init(&pl->go, NULL) == 0) {
        if (pthread_cond_init(&pl->done, NULL) == 0)
            return ZT_OK;
        pthread_cond_destroy(&pl->go);
    }
    pthread_mutex_destroy(&pl->mu);
    return zt_fail(err, ZT_ERR_NOMEM, "cpu backend: cannot make a condition variable");
}

static void pool_stop(pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->quit = 1;
    pthread_cond_broadcast(&pl->go);
    pthread_mutex_unlock(&pl->mu);
    for (int t = 1; t <= pl->started; t++)
        pthread_join(pl->th[t], NULL);
    pthread_cond_destroy(&pl->done);
    pthread_cond_destroy(&pl->go);
    pthread_mutex_destroy(&pl->mu);
}

/* Split [0, n) into nt contiguous ranges, one per thread; the calling
 * thread takes the first, and any a worker could not be started for. */
static void parallel_for(zt_backend *be, int nt, int64_t n, range_fn fn, void *ctx)
{
    pool *pl = &((cpu_backend *)be)->pool;
    nt = nt > 1 ? nt : 1;
    int np = pool_grow(pl, nt);
    if (np > 1) {
        pthread_mutex_lock(&pl->mu);
        pl->fn = fn;
        pl->ctx = ctx;
        pl->n = n;
        pl->nt = nt;
        pl->left = np - 1;
        pl->round++;
        pthread_cond_broadcast(&pl->go);
        pthread_mutex_unlock(&pl->mu);
    }
    fn(ctx, 0, n / nt, 0);
    for (int t = np; t < nt; t++) /* no worker for these */
        fn(ctx, n * t / nt, n * (t + 1) / nt, t);
    if (np > 1) {
        pthread_mutex_lock(&pl->mu);
        while (pl->left > 0)
            pthread_cond_wait(&pl->done, &pl->mu);
        pthread_mutex_unlock(&pl->mu);
    }
}

/* ---- memory ------------------------------------------------------------- */

static void cpu_destroy(zt_backend *be)
{
    cpu_backend *cb = (cpu_backend *)be;
    pool_stop(&cb->pool);
    for (int i = 0; i < SCRATCH_SLOTS; i++)
        free(cb->scr[i].p);
    free(cb);
}

static zt_status cpu_alloc(zt_backend *be, size_t bytes, void **out, zt_err *err)
{
    (void)be;
    void *p = NULL;
    /* 256 bytes: the arena's alignment, so offsets line up the same way */
    if (posix_memalign(&p, 256, bytes ? bytes : 1) != 0) {
        *out = NULL;
        return zt_fail(err, ZT_ERR_NOMEM, "cpu: cannot allocate %zu bytes", bytes);
    }
    *out = p;
    return ZT_OK;
}

static void cpu_release(zt_backend *be, void *p)
{
    (void)be;
    free(p);
}

static zt_status cpu_copy_bytes(zt_backend *be, void *dst, const void *src, size_t n,
                                zt_err *err)
{
    (void)be;
    (void)err;
    if (n)
        memmove(dst, src, n);
    return ZT_OK;
}

static zt_status cpu_sync(zt_backend *be, zt_err *err)
{
    (void)be;
    (void)err;
    return ZT_OK; /* every op has finished when it returns */
}

/* The kernel's estimate of memory available without swapping (Linux's
 * MemAvailable, in bytes), or -1 when it cannot be read. */
static long long mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    char line[128];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb >= 0 ? kb * 1024 : -1;
}

static zt_status cpu_mem_info(zt_backend *be, size_t *free_b, size_t *total_b, zt_err *err)
{
    (void)be;
    long page = sysconf(_SC_PAGESIZE);
    long total = sysconf(_SC_PHYS_PAGES);
    /* Free pages alone leave out the page cache, which the kernel gives
     * back on demand: after a model's shards have been read it can hold
     * most of the memory, and a job that fits would be refused. */
    long long avail = mem_available();
    if (avail < 0 && page > 0) {
        long pages = sysconf(_SC_AVPHYS_PAGES);
        avail = pages >= 0 ? (long long)pages * page : -1;
    }
    if (page <= 0 || avail < 0 || total <= 0)
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "cpu: cannot query host memory");
    if (free_b)
        *free_b = (size_t)avail;
    if (total_b)
        *total_b = (size_t)total * (size_t)page;
    return ZT_OK;
}

/* ---- matmul ------------------------------------------------------------- */

/* Work item: a tile of MM_ROWS rows of x times a block of MM_COLS rows of w.
 * The w block, converted to F32, stays in cache while the x rows stream. */
#define MM_ROWS 64
#define MM_COLS 16

typedef struct mm_ctx {
    const float *x;    /* [M, K] */
    const zt_tensor *w; /* [N, K], any float dtype */
    const float *bias; /* [N] or NULL */
    float *y;          /* [M, N] */
    int64_t m, n, k;
    int64_t nblocks;   /* ceil(N / MM_COLS) */
    float *scratch;    /* per thread: MM_COLS * K floats */
} mm_ctx;

static float dot(const float *a, const float *b, int64_t n)
{
    /* eight partial sums: independent chains the compiler can vectorise */
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++)
        r += a[i] * b[i];
    return r;
}

static void mm_range(void *arg, int64_t lo, int64_t hi, int tid)
{
    mm_ctx *c = arg;
    float *wb = c->scratch + (size_t)tid * MM_COLS * (size_t)c->k;
    int64_t k = c->k;
    for (int64_t item = lo; item < hi; item++) {
        /* items run block-major inside a row tile, so one x tile is reused */
        int64_t m0 = item / c->nblocks * MM_ROWS, n0 = item % c->nblocks * MM_COLS;
        int64_t m1 = m0 + MM_ROWS < c->m ? m0 + MM_ROWS : c->m;
        int64_t nn = n0 + MM_COLS < c->n ? MM_COLS : c->n - n0;
        const float *wr;
        if (c->w->dtype == ZT_F32) {
            wr = (const float *)c->w->data + n0 * k;
        } else {
            to_f32(wb, c->w->data, c->w->dtype, n0 * k, nn * k); /* rows n0..n0+nn */
            wr = wb;
        }
        for (int64_t i = m0; i < m1; i++) {
            const float *xr = c->x + i * k;
            float *yr = c->y + i * c->n + n0;
            for (int64_t j = 0; j < nn; j++)
                yr[j] = dot(xr, wr + j * k, k) + (c->bias ? c->bias[n0 + j] : 0.0f);
        }
    }
}

/* y [m, N] = x [m, K] . w [N, K]^T (+ bias [N]) on F32 x, y; w any float
 * dtype (converted a block of rows at a time). Errors go to be. */
static void gemm_f32(zt_backend *be, float *y, const float *x, const zt_tensor *w,
                     const float *bias, int64_t m)
{
    mm_ctx c = {.x = x, .w = w, .bias = bias, .y = y, .m = m};
    c.n = w->shape[0];
    c.k = zt_tensor_numel(w) / (c.n ? c.n : 1);
    c.nblocks = (c.n + MM_COLS - 1) / MM_COLS;
    int64_t items = (c.m + MM_ROWS - 1) / MM_ROWS * c.nblocks;
    int nt = plan_threads(be, items, (double)c.m * (double)c.n * (double)c.k);
    c.scratch = w->dtype == ZT_F32 ? NULL : scratch_get(be, (int64_t)nt * MM_COLS * c.k);
    if (be->error.code == ZT_OK)
        parallel_for(be, nt, items, mm_range, &c);
    scratch_put(be, c.scratch);
}

static void cpu_matmul(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                       const zt_tensor *bias)
{
    /* y [M, N] = x [M, K] . w [N, K]^T + bias [N] */
    float *tx, *tb, *ty;
    int64_t n = w->shape[0], k = w->shape[1];
    int64_t m = k ? zt_tensor_numel(x) / k : zt_tensor_numel(y) / (n ? n : 1);
    const float *xf = stage_in(be, x, &tx);
    const float *bf = stage_in(be, bias, &tb);
    float *yf = stage_out(be, y, 0, &ty);
    if (be->error.code == ZT_OK)
        gemm_f32(be, yf, xf, w, bf, m);
    scratch_put(be, tx);
    scratch_put(be, tb);
    stage_done(be, y, ty);
}

/* q = E4M3(x * (1 / s)) over n values, and s into *s_out. */
static void quantize_by(uint8_t *q, float *s_out, const float *x, int64_t n, float s)
{
    float inv = 1.0f / s;
    for (int64_t i = 0; i < n; i++)
        q[i] = zt_f32_to_e4m3(x[i] * inv);
    *s_out = s;
}

/* Per row r of x [R, K]: s[r] = max|x| / 448 (1 for a zero row), q = E4M3(x * (1 / s)). */
static void cpu_quantize(zt_backend *be, zt_qmat *y, const zt_tensor *x)
{
    float *tx;
    const float *xf = stage_in(be, x, &tx);
    int64_t k = y->q.shape[y->q.ndim - 1], rows = k ? zt_tensor_numel(x) / k : 0;
    uint8_t *q = y->q.data;
    float *sc = y->s.data;
    for (int64_t r = 0; xf && r < rows; r++) {
        const float *xr = xf + r * k;
        float amax = 0.0f;
        for (int64_t i = 0; i < k; i++)
            amax = fmaxf(amax, fabsf(xr[i]));
        quantize_by(q + r * k, sc + r, xr, k, amax > 0.0f ? amax / ZT_E4M3_MAX : 1.0f);
    }
    scratch_put(be, tx);
}

/* One scale for all of x: s = max|x| / 448 (1 when all zero). */
static void cpu_quantize_t(zt_backend *be, zt_qmat *y, const zt_tensor *x)
{
    float *tx;
    const float *xf = stage_in(be, x, &tx);
    int64_t n = zt_tensor_numel(x);
    float amax = 0.0f;
    for (int64_t i = 0; xf && i < n; i++)
        amax = fmaxf(amax, fabsf(xf[i]));
    if (xf)
        quantize_by(y->q.data, y->s.data, xf, n, amax > 0.0f ? amax / ZT_E4M3_MAX : 1.0f);
    scratch_put(be, tx);
}

/* y [M, N] = (x.q . w.q^T) * x.s[m] * w.s[n]: the E4M3 values are exact in
 * F32, so this is gemm_f32 on them and the two scales after. */
static void cpu_matmul_q(zt_backend *be, zt_tensor *y, const zt_qmat *x, const zt_qmat *w)
{
    float *tx, *ty;
    int64_t n = w->q.shape[0], k = w->q.shape[1];
    int64_t m = k ? zt_tensor_numel(&x->q) / k : 0;
    const float *xf = stage_in(be, &x->q, &tx);
    float *yf = stage_out(be, y, 0, &ty);
    if (be->error.code == ZT_OK) {
        gemm_f32(be, yf, xf, &w->q, NULL, m);
        const float *xs = x->s.data, *ws = w->s.data;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                yf[i * n + j] = yf[i * n + j] * xs[i] * ws[j];
    }
    scratch_put(be, tx);
    stage_done(be, y, ty);
}

/* ---- normalisations ----------------------------------------------------- */

typedef struct norm_ctx {
    const float *x, *w, *b, *scale; /* x [rows, C]; w, b, scale [C] or NULL */
    float *y;
    int64_t c;
    float eps;
    int layer; /* 0: rmsnorm, 1: layernorm */
} norm_ctx;

static void norm_range(void *arg, int64_t lo, int64_t hi, int tid)
{
    (void)tid;
    norm_ctx *n = arg;
    int64_t c = n->c;
    for (int64_t r = lo; r < hi; r++) {
        const float *xr = n->x + r * c;
        float *yr = n->y + r * c;
        /* statistics in double: sums of many squares stay exact enough */
        double mean = 0, ms = 0;
        if (n->layer) {
            for (int64_t i = 0; i < c; i++)
                mean += xr[i];
            mean /= (double)c;
        }
        for (int64_t i = 0; i < c; i++) {
            double d = xr[i] - mean;
            ms += d * d;
        }
        ms /= (double)c; /* rmsnorm: mean(x^2); layernorm: biased variance */
        float inv = (float)(1.0 / sqrt(ms + (double)n->eps));
        float fmean = (float)mean;
        for (int64_t i = 0; i < c; i++) {
            float v = (xr[i] - fmean) * inv;
            if (n->w)
                v *= n->w[i];
            if (n->b)
                v += n->b[i];
            if (n->scale)
                v *= n->scale[i];
            yr[i] = v;
        }
    }
}

static void run_norm(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                     const zt_tensor *b, const zt_tensor *scale, float eps, int layer)
{
    float *tx, *tw, *tb, *ts, *ty;
    norm_ctx n = {.eps = eps, .layer = layer};
    n.c = x->ndim ? x->shape[x->ndim - 1] : 1;
    int64_t rows = n.c ? zt_tensor_numel(x) / n.c : 0;
    n.x = stage_in(be, x, &tx);
    n.w = stage_in(be, w, &tw);
    n.b = stage_in(be, b, &tb);
    n.scale = stage_in(be, scale, &ts);
    n.y = stage_out(be, y, 0, &ty);
    if (be->error.code == ZT_OK)
        parallel_for(be, plan_threads(be, rows, 4.0 * (double)rows * (double)n.c), rows,
                     norm_range, &n);
    scratch_put(be, tx);
    scratch_put(be, tw);
    scratch_put(be, tb);
    scratch_put(be, ts);
    stage_done(be, y, ty);
}

static void cpu_rmsnorm(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                        const zt_tensor *scale, float eps)
{
    run_norm(be, y, x, w, NULL, scale, eps, 0);
}

static void cpu_layernorm(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                          const zt_tensor *b, const zt_tensor *scale, float eps)
{
    run_norm(be, y, x, w, b, scale, eps, 1);
}

static float silu(float v)
{
    return v / (1.0f + expf(-v));
}

typedef struct gn_ctx {
    const float *x, *w, *b; /* x [N, C] channels last; w, b [C] or NULL */
    float *y;
    int64_t c, cpg, n; /* channels, channels per group, rows */
    float eps;
    int silu;
} gn_ctx;

static void gn_range(void *arg, int64_t lo, int64_t hi, int tid)
{
    (void)tid;
    gn_ctx *g = arg;
    const int64_t c = g->c, cpg = g->cpg;
    for (int64_t grp = lo; grp < hi; grp++) {
        /* the group is cpg channels of every row: two passes in double */
        const int64_t c0 = grp * cpg;
        double mean = 0, var = 0;
        for (int64_t r = 0; r < g->n; r++)
            for (int64_t ci = c0; ci < c0 + cpg; ci++)
                mean += g->x[r * c + ci];
        mean /= (double)(g->n * cpg);
        for (int64_t r = 0; r < g->n; r++)
            for (int64_t ci = c0; ci < c0 + cpg; ci++) {
                double d = g->x[r * c + ci] - mean;
                var += d * d;
            }
        var /= (double)(g->n * cpg);
        float inv = (float)(1.0 / sqrt(var + (double)g->eps)), fmean = (float)mean;
        for (int64_t r = 0; r < g->n; r++)
            for (int64_t ci = c0; ci < c0 + cpg; ci++) {
                float wv = g->w ? g->w[ci] : 1.0f, bv = g->b ? g->b[ci] : 0.0f;
                float v = (g->x[r * c + ci] - fmean) * inv * wv + bv;
                g->y[r * c + ci] = g->silu ? silu(v) : v;
            }
    }
}

static void cpu_groupnorm(zt_backend *be, zt_tensor *y, const zt_tensor *x, int groups,
                          const zt_tensor *w, const zt_tensor *b, float eps, int silu_after)
{
    float *tx, *tw, *tb, *ty;
    gn_ctx g = {.eps = eps, .silu = silu_after};
    g.c = x->shape[x->ndim - 1];
    g.cpg = g.c / groups;
    g.n = g.c ? zt_tensor_numel(x) / g.c : 0;
    g.x = stage_in(be, x, &tx);
    g.w = stage_in(be, w, &tw);
    g.b = stage_in(be, b, &tb);
    g.y = stage_out(be, y, 0, &ty);
    if (be->error.code == ZT_OK)
        parallel_for(be, plan_threads(be, groups, 4.0 * (double)zt_tensor_numel(x)), groups,
                     gn_range, &g);
    scratch_put(be, tx);
    scratch_put(be, tw);
    scratch_put(be, tb);
    stage_done(be, y, ty);
}

/* ---- rope and attention -------------------------------------------------- */

static void cpu_rope(zt_backend *be, zt_tensor *xt, const zt_tensor *cst, zt_rope_kind kind)
{
    /* x [S, heads, hd] in place; cs [S, hd/2, 2] = (cos, sin) per pair */
    float *tx;
    float *x = stage_out(be, xt, 1, &tx);
    if (!x)
        return;
    const float *cs = cst->data;
    int64_t s = xt->shape[0], heads = xt->shape[1], hd = xt->shape[2], half = hd / 2;
    for (int64_t p = 0; p < s; p++) {
        const float *csp = cs + p * hd; /* hd/2 pairs of (cos, sin) */
        for (int64_t h = 0; h < heads; h++) {
            float *v = x + (p * heads + h) * hd;
            for (int64_t i = 0; i < half; i++) {
                float c = csp[2 * i], sn = csp[2 * i + 1];
                if (kind == ZT_ROPE_NEOX) { /* rotate-half: (v[i], v[i+hd/2]) */
                    float a = v[i], b = v[i + half];
                    v[i] = a * c - b * sn;
                    v[i + half] = b * c + a * sn;
                } else { /* interleaved: (v[2i], v[2i+1]) */
                    float a = v[2 * i], b = v[2 * i + 1];
                    v[2 * i] = a * c - b * sn;
                    v[2 * i + 1] = a * sn + b * c;
                }
            }
        }
    }
    stage_done(be, xt, tx);
}

typedef struct attn_ctx {
    const float *q, *k, *v; /* q [Sq, Hq, hd]; k, v [Skv, Hkv, hd] */
    float *out;             /* [Sq, Hq, hd] */
    int64_t sq, skv, hq, hkv, hd;
    int causal;
    int p8; /* attention_q: probabilities rounded to E4M3 (at 448) before use */
    float scale;
    float *scratch; /* per thread: Skv scores */
} attn_ctx;

static void attn_range(void *arg, int64_t lo, int64_t hi, int tid)
{
    attn_ctx *a = arg;
    float *p = a->scratch + (size_t)tid * (size_t)a->skv;
    int64_t group = a->hq / a->hkv, hd = a->hd;
    for (int64_t item = lo; item < hi; item++) {
        /* item = h * Sq + i: query row i of head h */
        int64_t h = item / a->sq, i = item % a->sq, kh = h / group;
        const float *qr = a->q + (i * a->hq + h) * hd;
        float *o = a->out + (i * a->hq + h) * hd;
        int64_t nk = a->causal ? (i + 1 < a->skv ? i + 1 : a->skv) : a->skv; /* j <= i */
        float mx = -INFINITY;
        for (int64_t j = 0; j < nk; j++) {
            p[j] = a->scale * dot(qr, a->k + (j * a->hkv + kh) * hd, hd);
            if (p[j] > mx)
                mx = p[j];
        }
        float sum = 0;
        for (int64_t j = 0; j < nk; j++) {
            p[j] = expf(p[j] - mx);
            sum += p[j];
        }
        for (int64_t d = 0; d < hd; d++)
            o[d] = 0;
        for (int64_t j = 0; j < nk; j++) {
            const float *vr = a->v + (j * a->hkv + kh) * hd;
            float pj =
                a->p8 ? zt_e4m3_to_f32(zt_f32_to_e4m3(p[j] * ZT_E4M3_MAX)) / ZT_E4M3_MAX : p[j];
            for (int64_t d = 0; d < hd; d++)
                o[d] += pj * vr[d];
        }
        float inv = sum > 0 ? 1.0f / sum : 0.0f; /* nk == 0: a row of zeros */
        for (int64_t d = 0; d < hd; d++)
            o[d] *= inv;
    }
}

static void cpu_attention(zt_backend *be, zt_tensor *out, const zt_tensor *q,
                          const zt_tensor *k, const zt_tensor *v, int causal, float scale)
{
    float *tq, *tk, *tv, *to;
    attn_ctx a = {.causal = causal, .scale = scale};
    a.sq = q->shape[0];
    a.hq = q->shape[1];
    a.hd = q->shape[2];
    a.skv = k->shape[0];
    a.hkv = k->shape[1];
    a.q = stage_in(be, q, &tq);
    a.k = stage_in(be, k, &tk);
    a.v = stage_in(be, v, &tv);
    a.out = stage_out(be, out, 0, &to);
    int64_t items = a.sq * a.hq;
    int nt = plan_threads(be, items, 2.0 * (double)items * (double)a.skv * (double)a.hd);
    a.scratch = scratch_get(be, (int64_t)nt * a.skv);
    if (be->error.code == ZT_OK)
        parallel_for(be, nt, items, attn_range, &a);
    scratch_put(be, a.scratch);
    scratch_put(be, tq);
    scratch_put(be, tk);
    scratch_put(be, tv);
    stage_done(be, out, to);
}

/* x's E4M3 values times its one scale, in F32 scratch (NULL on failure) */
static float *dequantize_t(zt_backend *be, const zt_qmat *x)
{
    int64_t n = zt_tensor_numel(&x->q);
    float *f = scratch_get(be, n);
    const uint8_t *q = x->q.data;
    float s = *(const float *)x->s.data;
    for (int64_t i = 0; f && i < n; i++)
        f[i] = zt_e4m3_to_f32(q[i]) * s;
    return f;
}

/* attention_q (backend.h): the logits from the dequantized values, each
 * row's probabilities before normalization rounded to E4M3 at 448, the
 * output rounded to E4M3 at v's scale. */
static void cpu_attention_q(zt_backend *be, zt_qmat *out, const zt_qmat *q, const zt_qmat *k,
                            const zt_qmat *v, float scale)
{
    attn_ctx a = {.scale = scale, .p8 = 1};
    a.sq = q->q.shape[0];
    a.hq = a.hkv = q->q.shape[1];
    a.hd = q->q.shape[2];
    a.skv = k->q.shape[0];
    float *fq = dequantize_t(be, q), *fk = dequantize_t(be, k), *fv = dequantize_t(be, v);
    float *fo = scratch_get(be, zt_tensor_numel(&out->q));
    a.q = fq, a.k = fk, a.v = fv, a.out = fo;
    int64_t items = a.sq * a.hq;
    int nt = plan_threads(be, items, 2.0 * (double)items * (double)a.skv * (double)a.hd);
    a.scratch = scratch_get(be, (int64_t)nt * a.skv);
    if (be->error.code == ZT_OK) {
        parallel_for(be, nt, items, attn_range, &a);
        const float vs = *(const float *)v->s.data;
        float *os = out->s.data;
        quantize_by(out->q.data, os, fo, zt_tensor_numel(&out->q), vs);
        for (int64_t i = 1; i < a.sq; i++)
            os[i] = vs;
    }
    scratch_put(be, a.scratch);
    scratch_put(be, fq);
    scratch_put(be, fk);
    scratch_put(be, fv);
    scratch_put(be, fo);
}

static void cpu_softmax(zt_backend *be, zt_tensor *yt, const zt_tensor *xt)
{
    /* over the last dim C of x viewed as [rows, C] */
    float *tx, *ty;
    const float *x = stage_in(be, xt, &tx);
    float *y = stage_out(be, yt, 0, &ty);
    if (be->error.code != ZT_OK) {
        scratch_put(be, tx);
        scratch_put(be, ty);
        return;
    }
    int64_t c = xt->ndim ? xt->shape[xt->ndim - 1] : 1;
    int64_t rows = c ? zt_tensor_numel(xt) / c : 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
        float mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < c; i++)
            mx = xr[i] > mx ? xr[i] : mx;
        for (int64_t i = 0; i < c; i++) {
            yr[i] = expf(xr[i] - mx);
            sum += yr[i];
        }
        for (int64_t i = 0; i < c; i++)
            yr[i] /= sum;
    }
    scratch_put(be, tx);
    stage_done(be, yt, ty);
}

/* ---- elementwise --------------------------------------------------------- */

static void cpu_unary(zt_backend *be, zt_tensor *yt, const zt_tensor *xt, zt_unary_op op)
{
    float *tx, *ty;
    const float *x = stage_in(be, xt, &tx);
    float *y = stage_out(be, yt, 0, &ty);
    if (be->error.code == ZT_OK) {
        int64_t n = zt_tensor_numel(xt);
        for (int64_t i = 0; i < n; i++)
            y[i] = op == ZT_UNARY_SILU ? silu(x[i]) : tanhf(x[i]);
    }
    scratch_put(be, tx);
    stage_done(be, yt, ty);
}

/* y = a op b; b full size or a row [C] repeated over a's rows. */
static void binary(zt_backend *be, zt_tensor *yt, const zt_tensor *at, const zt_tensor *bt,
                   int is_mul)
{
    float *ta, *tb, *ty;
    const float *a = stage_in(be, at, &ta);
    const float *b = stage_in(be, bt, &tb);
    float *y = stage_out(be, yt, 0, &ty);
    if (be->error.code == ZT_OK) {
        int64_t n = zt_tensor_numel(at), nb = zt_tensor_numel(bt);
        for (int64_t i = 0; i < n; i++) {
            float bv = b[nb == n ? i : i % nb];
            y[i] = is_mul ? a[i] * bv : a[i] + bv;
        }
    }
    scratch_put(be, ta);
    scratch_put(be, tb);
    stage_done(be, yt, ty);
}

static void cpu_add(zt_backend *be, zt_tensor *y, const zt_tensor *a, const zt_tensor *b)
{
    binary(be, y, a, b, 0);
}

static void cpu_mul(zt_backend *be, zt_tensor *y, const zt_tensor *a, const zt_tensor *b)
{
    binary(be, y, a, b, 1);
}

static void cpu_gated_add(zt_backend *be, zt_tensor *yt, const zt_tensor *xt,
                          const zt_tensor *gt)
{
    /* y [rows, C] += gate [C] * x [rows, C] */
    float *tx, *tg, *ty;
    const float *x = stage_in(be, xt, &tx);
    const float *g = stage_in(be, gt, &tg);
    float *y = stage_out(be, yt, 1, &ty);
    if (be->error.code == ZT_OK) {
        int64_t n = zt_tensor_numel(yt), c = yt->ndim ? yt->shape[yt->ndim - 1] : 1;
        for (int64_t i = 0; i < n; i++)
            y[i] += (g ? g[i % c] : 1.0f) * x[i];
    }
    scratch_put(be, tx);
    scratch_put(be, tg);
    stage_done(be, yt, ty);
}

/* The fused ops of backend.h are their two steps here, in place: the same
 * arithmetic as calling them one after the other. */
static void cpu_norm_gated_add(zt_backend *be, zt_tensor *y, zt_tensor *x, const zt_tensor *w,
                               const zt_tensor *gate, float eps)
{
    cpu_rmsnorm(be, x, x, w, NULL, eps);
    if (be->error.code == ZT_OK)
        cpu_gated_add(be, y, x, gate);
}

static void cpu_rmsnorm_rope(zt_backend *be, zt_tensor *x, const zt_tensor *w, float eps,
                             const zt_tensor *cs, zt_rope_kind kind)
{
    cpu_rmsnorm(be, x, x, w, NULL, eps);
    if (be->error.code == ZT_OK)
        cpu_rope(be, x, cs, kind);
}

static void cpu_swiglu(zt_backend *be, zt_tensor *yt, const zt_tensor *gt, const zt_tensor *ut)
{
    float *tg, *tu, *ty;
    const float *g = stage_in(be, gt, &tg);
    const float *u = stage_in(be, ut, &tu);
    float *y = stage_out(be, yt, 0, &ty);
    if (be->error.code == ZT_OK) {
        int64_t n = zt_tensor_numel(yt);
        for (int64_t i = 0; i < n; i++)
            y[i] = silu(g[i]) * u[i];
    }
    scratch_put(be, tg);
    scratch_put(be, tu);
    stage_done(be, yt, ty);
}

/* rmsnorm_q, swiglu_q: the op into an F32 temporary, then quantize. */
static zt_tensor f32_like(zt_backend *be, const zt_tensor *x)
{
    zt_tensor t = *x;
    t.dtype = ZT_F32;
    t.data = scratch_get(be, zt_tensor_numel(x));
    return t;
}

/* rmsnorm_rope into F32 scratch, then one E4M3 tensor at the bound's scale
 * sqrt(hd) * max|w| / 448 (backend.h). */
static void cpu_rmsnorm_rope_q(zt_backend *be, zt_qmat *y, const zt_tensor *x, const zt_tensor *w,
                               float eps, const zt_tensor *cs, zt_rope_kind kind)
{
    zt_tensor t = f32_like(be, x);
    float *tw;
    const float *wf = stage_in(be, w, &tw);
    if (t.data)
        cpu_rmsnorm(be, &t, x, w, NULL, eps);
    if (be->error.code == ZT_OK)
        cpu_rope(be, &t, cs, kind);
    if (be->error.code == ZT_OK && wf) {
        int64_t hd = x->shape[2];
        float wmax = 0.0f;
        for (int64_t i = 0; i < hd; i++)
            wmax = fmaxf(wmax, fabsf(wf[i]));
        float s = sqrtf((float)hd) * wmax / ZT_E4M3_MAX;
        quantize_by(y->q.data, y->s.data, t.data, zt_tensor_numel(x), s > 0.0f ? s : 1.0f);
    }
    scratch_put(be, tw);
    scratch_put(be, t.data);
}

static void cpu_rmsnorm_q(zt_backend *be, zt_qmat *y, const zt_tensor *x, const zt_tensor *w,
                          const zt_tensor *scale, float eps)
{
    zt_tensor t = f32_like(be, x);
    if (t.data)
        cpu_rmsnorm(be, &t, x, w, scale, eps);
    if (be->error.code == ZT_OK)
        cpu_quantize(be, y, &t);
    scratch_put(be, t.data);
}

static void cpu_swiglu_q(zt_backend *be, zt_qmat *y, const zt_tensor *gate, const zt_tensor *up)
{
    zt_tensor t = f32_like(be, gate);
    if (t.data)
        cpu_swiglu(be, &t, gate, up);
    if (be->error.code == ZT_OK)
        cpu_quantize(be, y, &t);
    scratch_put(be, t.data);
}

static void cpu_residual_norm(zt_backend *be, zt_tensor *x, zt_tensor *o, const zt_tensor *wo,
                              const zt_tensor *gate, zt_tensor *y, zt_qmat *yq,
                              const zt_tensor *w, const zt_tensor *scale, float eps)
{
    cpu_norm_gated_add(be, x, o, wo, gate, eps);
    if (be->error.code != ZT_OK)
        return;
    if (y)
        cpu_rmsnorm(be, y, x, w, scale, eps);
    else
        cpu_rmsnorm_q(be, yq, x, w, scale, eps);
}

/* keep == 0: y = alpha * x + beta (scale_add); keep != 0: y += alpha * x (axpy). */
static void affine(zt_backend *be, zt_tensor *yt, const zt_tensor *xt, float alpha,
                   float beta, int keep)
{
    float *tx, *ty;
    const float *x = stage_in(be, xt, &tx);
    float *y = stage_out(be, yt, keep, &ty);
    if (be->error.code == ZT_OK) {
        int64_t n = zt_tensor_numel(yt);
        for (int64_t i = 0; i < n; i++)
            y[i] = keep ? y[i] + alpha * x[i] : alpha * x[i] + beta;
    }
    scratch_put(be, tx);
    stage_done(be, yt, ty);
}

static void cpu_scale_add(zt_backend *be, zt_tensor *y, const zt_tensor *x, float alpha,
                          float beta)
{
    affine(be, y, x, alpha, beta, 0);
}

static void cpu_axpy(zt_backend *be, zt_tensor *y, float alpha, const zt_tensor *x)
{
    affine(be, y, x, alpha, 0.0f, 1);
}

/* ---- data movement: element by element, any float dtype to any ------- */

static void cpu_copy(zt_backend *be, zt_tensor *y, const zt_tensor *x)
{
    (void)be;
    int64_t n = zt_tensor_numel(x);
    if (y->dtype == x->dtype) {
        if (y->data != x->data)
            memcpy(y->data, x->data, zt_tensor_nbytes(x));
        return;
    }
    for (int64_t i = 0; i < n; i++)
        store1(y->data, y->dtype, i, load1(x->data, x->dtype, i));
}

static void cpu_embed(zt_backend *be, zt_tensor *y, const zt_tensor *table,
                      const zt_tensor *idt)
{
    /* y [L, H] = table [V, H] rows ids [L] */
    const int32_t *ids = idt->data;
    int64_t l = zt_tensor_numel(idt), v = table->shape[0], h = table->shape[1];
    for (int64_t r = 0; r < l; r++) {
        if (ids[r] < 0 || ids[r] >= v) {
            zt_backend_set_error(be, ZT_ERR_INVALID, "embed: id %d at %lld is outside [0, %lld)",
                                 (int)ids[r], (long long)r, (long long)v);
            return;
        }
    }
    for (int64_t r = 0; r < l; r++)
        for (int64_t i = 0; i < h; i++)
            store1(y->data, y->dtype, r * h + i, load1(table->data, table->dtype, ids[r] * h + i));
}

/* Floats of im2col rows built at a time (64 MB). */
#define CONV_COL_FLOATS ((int64_t)16 << 20)

/*
 * conv2d channels last as a GEMM over pixels: y [P, Co] = col [P, k*k*Ci] .
 * wr [Co, k*k*Ci]^T + b, with the weights reordered tap-major ([Co, k, k, Ci],
 * so one column row is the k*k neighbours' channel runs, zeros outside the
 * image). col is built for a band of image rows at a time; a 1x1 kernel
 * multiplies x itself.
 */
static void cpu_conv2d(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                       const zt_tensor *b)
{
    const int64_t H = x->shape[0], W = x->shape[1], ci = x->shape[2];
    const int64_t co = w->shape[0], k = w->shape[2], pad = k / 2, K = ci * k * k;
    float *tx, *tb, *ty;
    const float *xf = stage_in(be, x, &tx);
    const float *bf = stage_in(be, b, &tb);
    float *yf = stage_out(be, y, 0, &ty);
    int64_t rows = CONV_COL_FLOATS / (W * K > 0 ? W * K : 1);
    rows = rows < 1 ? 1 : rows > H ? H : rows;
    float *wr = scratch_get(be, co * K);
    float *col = k == 1 ? NULL : scratch_get(be, rows * W * K);
    if (be->error.code == ZT_OK) {
        for (int64_t o = 0; o < co; o++)
            for (int64_t c = 0; c < ci; c++)
                for (int64_t t = 0; t < k * k; t++)
                    wr[(o * k * k + t) * ci + c] = load1(w->data, w->dtype, (o * ci + c) * k * k + t);
        zt_tensor wt = zt_tensor_2d(ZT_F32, co, K, wr);
        for (int64_t r0 = 0; r0 < H && be->error.code == ZT_OK; r0 += rows) {
            int64_t n = H - r0 < rows ? H - r0 : rows;
            const float *src = xf + r0 * W * ci;
            if (col) {
                for (int64_t r = 0; r < n; r++)
                    for (int64_t j = 0; j < W; j++) {
                        float *dst = col + (r * W + j) * K;
                        for (int64_t u = 0; u < k; u++)
                            for (int64_t v = 0; v < k; v++, dst += ci) {
                                int64_t iy = r0 + r + u - pad, ix = j + v - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    memset(dst, 0, (size_t)ci * sizeof *dst);
                                else
                                    memcpy(dst, xf + (iy * W + ix) * ci, (size_t)ci * sizeof *dst);
                            }
                    }
                src = col;
            }
            gemm_f32(be, yf + r0 * W * co, src, &wt, bf, n * W);
        }
    }
    scratch_put(be, wr);
    scratch_put(be, col);
    scratch_put(be, tx);
    scratch_put(be, tb);
    stage_done(be, y, ty);
}

static void cpu_upsample2x(zt_backend *be, zt_tensor *y, const zt_tensor *x)
{
    (void)be;
    /* x [H, W, C] -> y [2H, 2W, C], each pixel repeated in a 2x2 square */
    int64_t h = x->shape[0], w = x->shape[1], c = x->shape[2];
    for (int64_t oy = 0; oy < 2 * h; oy++)
        for (int64_t ox = 0; ox < 2 * w; ox++)
            for (int64_t ch = 0; ch < c; ch++)
                store1(y->data, y->dtype, (oy * 2 * w + ox) * c + ch,
                       load1(x->data, x->dtype, ((oy / 2) * w + ox / 2) * c + ch));
}

static void cpu_transpose(zt_backend *be, zt_tensor *y, const zt_tensor *x)
{
    (void)be;
    /* x [M, N] -> y [N, M] */
    int64_t m = x->shape[0], n = x->shape[1];
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            store1(y->data, y->dtype, j * m + i, load1(x->data, x->dtype, i * n + j));
}

/* img [C, H, W] <-> tok [(H/p)(W/p), p*p*C]:
 * tok[i*(W/p)+j][(py*p+px)*C + c] = img[c][i*p+py][j*p+px]. */
static void patch_move(const zt_tensor *img, const zt_tensor *tok, int p, int to_tokens)
{
    int64_t c = img->shape[0], h = img->shape[1], w = img->shape[2];
    int64_t gw = w / p, row = (int64_t)p * p * c;
    for (int64_t ch = 0; ch < c; ch++) {
        for (int64_t y = 0; y < h; y++) {
            for (int64_t x = 0; x < w; x++) {
                int64_t i = y / p, py = y % p, j = x / p, px = x % p;
                int64_t ti = (i * gw + j) * row + (py * p + px) * c + ch;
                int64_t ii = (ch * h + y) * w + x;
                if (to_tokens)
                    store1(tok->data, tok->dtype, ti, load1(img->data, img->dtype, ii));
                else
                    store1(img->data, img->dtype, ii, load1(tok->data, tok->dtype, ti));
            }
        }
    }
}

static void cpu_patchify(zt_backend *be, zt_tensor *y, const zt_tensor *x, int p)
{
    (void)be;
    patch_move(x, y, p, 1);
}

static void cpu_unpatchify(zt_backend *be, zt_tensor *y, const zt_tensor *x, int p)
{
    (void)be;
    patch_move(y, x, p, 0);
}

static zt_status cpu_count_nonfinite(zt_backend *be, const zt_tensor *x, uint64_t *n,
                                     zt_err *err)
{
    (void)be;
    (void)err;
    uint64_t bad = 0;
    const int64_t N = zt_tensor_numel(x);
    for (int64_t i = 0; i < N; i++)
        bad += !isfinite(load1(x->data, x->dtype, i));
    *n = bad;
    return ZT_OK;
}

static void cpu_to_rgb8(zt_backend *be, zt_tensor *y, const zt_tensor *x)
{
    (void)be;
    /* x [C, H, W] -> y [H, W, C]. Adding and taking away 1.5 * 2^23 rounds
     * a float in [0, 255] to an integer in the default rounding mode (half
     * to even, as numpy's round), exactly as rintf, without a libm call per
     * value; the CUDA kernel computes the same bytes. */
    const float magic = 12582912.0f;
    int64_t C = x->shape[0], plane = x->shape[1] * x->shape[2];
    uint8_t *out = y->data;
    for (int64_t i = 0; i < plane; i++)
        for (int64_t ch = 0; ch < C; ch++) {
            float v = load1(x->data, x->dtype, ch * plane + i) / 2.0f + 0.5f;
            v = v > 0.0f ? v : 0.0f; /* NaN goes to 0 too */
            v = v < 1.0f ? v : 1.0f;
            out[i * C + ch] = (uint8_t)((v * 255.0f + magic) - magic);
        }
}

typedef struct synth_ctx {
    uint16_t *out;
    uint32_t key;
    int ndim, is_bias;
    int64_t fan_in;
} synth_ctx;

static void synth_range(void *ctx, int64_t lo, int64_t hi, int tid)
{
    const synth_ctx *c = ctx;
    (void)tid;
    for (int64_t i = lo; i < hi; i++)
        c->out[i] = zt_f32_to_bf16(zt_synth_value(c->key, (uint64_t)i, c->ndim, c->fan_in,
                                                  c->is_bias));
}

/* Synthetic weights: the definition in synth.c, element by element (each
 * a hash of its index, so the threads' ranges give the same bytes). */
static void cpu_synth_fill(zt_backend *be, zt_tensor *t, uint32_t key, int is_bias)
{
    int64_t fan_in = 1, n = zt_tensor_numel(t);
    for (int d = 1; d < t->ndim; d++)
        fan_in *= t->shape[d];
    synth_ctx c = {t->data, key, t->ndim, is_bias, fan_in};
    /* a value costs a few dozen operations: counted as 16 multiply-adds */
    parallel_for(be, plan_threads(be, n, 16.0 * (double)n), n, synth_range, &c);
}

/* ---- constructor ---------------------------------------------------------- */

static const zt_backend_vt cpu_vt = {
    .name = "cpu",
    .host_memory = 1,
    .ops_immediate = 1,
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_copy_bytes,
    .download = cpu_copy_bytes,
    .sync = cpu_sync,
    .mem_info = cpu_mem_info,
    .count_nonfinite = cpu_count_nonfinite,
    .weights_adopt = NULL, /* weights stay in their host mapping */
    .weights_release = NULL,
    .matmul = cpu_matmul,
    .quantize = cpu_quantize,
    .quantize_t = cpu_quantize_t,
    .matmul_q = cpu_matmul_q,
    .rmsnorm_q = cpu_rmsnorm_q,
    .swiglu_q = cpu_swiglu_q,
    .rmsnorm = cpu_rmsnorm,
    .layernorm = cpu_layernorm,
    .groupnorm = cpu_groupnorm,
    .rope = cpu_rope,
    .attention = cpu_attention,
    .softmax = cpu_softmax,
    .unary = cpu_unary,
    .add = cpu_add,
    .mul = cpu_mul,
    .gated_add = cpu_gated_add,
    .norm_gated_add = cpu_norm_gated_add,
    .residual_norm = cpu_residual_norm,
    .rmsnorm_rope = cpu_rmsnorm_rope,
    .rmsnorm_rope_q = cpu_rmsnorm_rope_q,
    .attention_q = cpu_attention_q,
    .swiglu = cpu_swiglu,
    .scale_add = cpu_scale_add,
    .axpy = cpu_axpy,
    .copy = cpu_copy,
    .embed = cpu_embed,
    .conv2d = cpu_conv2d,
    .upsample2x = cpu_upsample2x,
    .transpose = cpu_transpose,
    .patchify = cpu_patchify,
    .unpatchify = cpu_unpatchify,
    .to_rgb8 = cpu_to_rgb8,
    .synth_fill = cpu_synth_fill,
};

zt_status zt_backend_cpu_new(zt_backend **out, int threads, zt_err *err)
{
    *out = NULL;
    cpu_backend *cb = calloc(1, sizeof *cb);
    if (!cb)
        return zt_fail(err, ZT_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", sizeof *cb);
    zt_status st = pool_init(&cb->pool, err);
    if (st != ZT_OK) {
        free(cb);
        return st;
    }
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
    }
    cb->threads = threads < MAX_THREADS ? threads : MAX_THREADS;
    cb->base.vt = &cpu_vt;
    cb->base.act_dtype = ZT_F32;
    cb->base.error.code = ZT_OK;
    *out = &cb->base;
    return ZT_OK;
}
