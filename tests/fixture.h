/*
 * fixture.h - helpers for tests that compare model stages with tiny-ref.
 *
 * fx_open loads a reference safetensors file; fx_get returns a tensor by
 * name (host memory, F32 or I64); fx_expect_close downloads a backend tensor
 * and compares it with a reference tensor using the fixtures' tolerance.
 */
#ifndef ZT_TEST_FIXTURE_H
#define ZT_TEST_FIXTURE_H

#include "harness.h"
#include "backend.h"
#include "config.h"
#include "dit.h"
#include "safetensors.h"

static inline zt_st_file *fx_open(const char *path)
{
    zt_st_file *f = NULL;
    zt_err err = {0};
    if (zt_st_file_open(&f, path, &err) != ZT_OK) {
        fprintf(stderr, "cannot open fixture: %s\n", err.msg);
        exit(1);
    }
    return f;
}

static inline const zt_tensor *fx_get(const zt_st_file *f, const char *name)
{
    const zt_st_entry *e = zt_st_file_find(f, name);
    if (!e) {
        fprintf(stderr, "fixture tensor %s missing\n", name);
        exit(1);
    }
    return &e->t;
}

/* Copy a host F32 fixture tensor into backend memory as dtype dt with the
 * given shape (same element count). Caller frees with zt_backend_release. */
static inline zt_tensor fx_upload(zt_backend *be, const zt_tensor *src, zt_dtype dt, int ndim,
                                  const int64_t *shape)
{
    zt_tensor host = zt_tensor_make(ZT_F32, ndim, shape, src->data);
    if (zt_tensor_numel(&host) != zt_tensor_numel(src)) {
        fprintf(stderr, "fx_upload: element count mismatch\n");
        exit(1);
    }
    zt_tensor f32 = host, out = zt_tensor_make(dt, ndim, shape, NULL);
    void *p = NULL, *q = NULL;
    zt_err err = {0};
    if (zt_backend_alloc(be, zt_tensor_nbytes(&out), &p, &err) ||
        zt_backend_alloc(be, zt_tensor_nbytes(&f32), &q, &err)) {
        fprintf(stderr, "fx_upload: %s\n", err.msg);
        exit(1);
    }
    out.data = p;
    f32.data = q;
    /* Fixture data may be unaligned in the mapping: upload copies bytes. */
    zt_backend_upload(be, &f32, src->data, &err);
    zt_op_copy(be, &out, &f32);
    zt_backend_sync(be, &err);
    zt_backend_release(be, q);
    return out;
}

/* Download t (any float dtype) as F32 into a malloc'd buffer. */
static inline float *fx_download(zt_backend *be, const zt_tensor *t)
{
    int64_t n = zt_tensor_numel(t);
    zt_tensor f32 = zt_tensor_make(ZT_F32, 1, (int64_t[]){n}, NULL);
    float *host = malloc((size_t)n * sizeof(float) + 1);
    void *p = NULL;
    zt_err err = {0};
    if (!host || zt_backend_alloc(be, (size_t)n * sizeof(float) + 1, &p, &err)) {
        fprintf(stderr, "fx_download: out of memory\n");
        exit(1);
    }
    f32.data = p;
    zt_tensor flat = zt_tensor_make(t->dtype, 1, (int64_t[]){n}, t->data);
    zt_op_copy(be, &f32, &flat);
    if (zt_backend_sync(be, &err) || zt_backend_download(be, host, &f32, &err)) {
        fprintf(stderr, "fx_download: %s\n", err.msg);
        exit(1);
    }
    zt_backend_release(be, p);
    return host;
}

/* Compare the first n elements of backend tensor t with reference ref. */
static inline int fx_expect_close(zt_backend *be, const char *what, const zt_tensor *t,
                                  const zt_tensor *ref, long n, double atol, double rtol)
{
    float *got = fx_download(be, t);
    float *want = malloc((size_t)n * sizeof(float) + 1);
    memcpy(want, ref->data, (size_t)n * sizeof(float)); /* may be unaligned */
    int ok = zt_test_close(what, got, want, n, atol, rtol);
    free(got);
    free(want);
    return ok;
}

/* How far backend tensor t is from reference F32 tensor want (same count). */
typedef struct fx_error {
    double rel_l2, cosine, max_abs;
    int finite; /* 0 when t holds a NaN or an infinity */
} fx_error;

static inline fx_error fx_measure(zt_backend *be, const zt_tensor *t, const zt_tensor *want)
{
    long n = (long)zt_tensor_numel(want);
    float *got = fx_download(be, t);
    double dd = 0, rr = 0, gg = 0, gr = 0;
    fx_error e = {.finite = 1};
    for (long i = 0; i < n; i++) {
        float r;
        memcpy(&r, (const char *)want->data + 4 * (size_t)i, 4); /* may be unaligned */
        double g = got[i], d = g - r;
        e.finite &= isfinite(g) != 0;
        dd += d * d;
        rr += (double)r * r;
        gg += g * g;
        gr += g * r;
        if (fabs(d) > e.max_abs)
            e.max_abs = fabs(d);
    }
    free(got);
    e.rel_l2 = sqrt(dd / (rr > 0 ? rr : 1));
    e.cosine = gr / sqrt((gg > 0 ? gg : 1) * (rr > 0 ? rr : 1));
    return e;
}

/* 8-bit images: how many of n values differ by more than 1, and the most. */
static inline long fx_u8_off_by_more(const uint8_t *a, const uint8_t *b, long n, int *maxd)
{
    long off = 0;
    int md = 0;
    for (long i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        off += d > 1;
        if (d > md)
            md = d;
    }
    if (maxd)
        *maxd = md;
    return off;
}

static inline zt_backend *fx_cpu(void)
{
    zt_backend *be = NULL;
    zt_err err = {0};
    if (zt_backend_cpu_new(&be, 0, &err) != ZT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return be;
}

/* ZT_TEST_DEVICE=cuda runs the model tests on the CUDA backend. */
static inline zt_backend *fx_backend(void)
{
    const char *dev = getenv("ZT_TEST_DEVICE");
    if (dev && !strcmp(dev, "cuda")) {
        zt_backend *be = NULL;
        zt_err err = {0};
        if (zt_backend_cuda_new(&be, 0, &err) != ZT_OK) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        return be;
    }
    return fx_cpu();
}

/* The transformer loaded as with --precision fp8: the backend's switch is
 * on only while it loads (w NULL: synthetic weights of seed 0). */
static inline zt_status fx_dit_new_fp8(zt_dit **d, zt_backend *be, const zt_dit_config *cfg,
                                       const zt_weights *w, zt_err *err)
{
    be->fp8 = 1;
    zt_status st = zt_dit_new(d, be, cfg, w, 0, err);
    be->fp8 = 0;
    return st;
}

#define TINY TEST_DATA "/tiny-zimage"

#endif
