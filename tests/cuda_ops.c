/*
 * cuda_ops.c - the CUDA backend checked op by op against the CPU backend.
 *
 * Each case draws seeded random inputs, rounds them to the dtype the GPU
 * gets (so both backends see the same values), runs the op on the CPU
 * backend in F32 and on the CUDA backend (BF16 activations unless the case
 * says otherwise), and compares: every element within atol + rtol*|ref|,
 * where atol is a fraction of the reference's RMS so one tolerance fits any
 * scale, plus a bound on the relative L2 error. GPU outputs are poisoned
 * with NaN before the op, so an unwritten element fails. Weights go through
 * zt_backend_adopt_weights from BF16, F16 or F32 host copies.
 *
 * Shapes are moderate (the CPU reference must stay quick) but DiT-like:
 * S 300, D 256, 2 heads x 128, tiny hd 16, causal GQA 32/8, the VAE's single
 * wide head (512), odd image sizes for conv and groupnorm.
 *
 * ZT_BENCH=1 adds timings at the real model's shapes (attention S 4128,
 * 30 x 128; GEMMs 4128 x 3840 x 3840 and 4128 x 10240 x 3840; VAE conv,
 * groupnorm and attention at 1024x1024), timed over repeated launches with a
 * sync around them, median of 5.
 *
 * Without a usable CUDA device every case is skipped and the summary says
 * 0 passed, 0 failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "harness.h"

static zt_backend *cpu, *gpu;
static uint64_t rng = 0x2545F4914F6CDD1DULL;

/* Each test draws from its own stream (harness.h zt_test_seed). */
static void seed_rng(uint64_t seed)
{
    rng = seed;
}

static uint64_t next_u64(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

/* uniform in [lo, hi) */
static float frand(float lo, float hi)
{
    return lo + (hi - lo) * (float)((next_u64() >> 40) * (1.0 / 16777216.0));
}

static float round_to(zt_dtype dt, float v)
{
    if (dt == ZT_BF16)
        return zt_bf16_to_f32(zt_f32_to_bf16(v));
    if (dt == ZT_F16)
        return zt_f16_to_f32(zt_f32_to_f16(v));
    return v;
}

/* floats -> n elements of dtype dt in dst */
static void encode(void *dst, zt_dtype dt, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (dt == ZT_BF16)
            ((uint16_t *)dst)[i] = zt_f32_to_bf16(src[i]);
        else if (dt == ZT_F16)
            ((uint16_t *)dst)[i] = zt_f32_to_f16(src[i]);
        else
            ((float *)dst)[i] = src[i];
    }
}

static void decode(float *dst, zt_dtype dt, const void *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (dt == ZT_BF16)
            dst[i] = zt_bf16_to_f32(((const uint16_t *)src)[i]);
        else if (dt == ZT_F16)
            dst[i] = zt_f16_to_f32(((const uint16_t *)src)[i]);
        else
            dst[i] = ((const float *)src)[i];
    }
}

/* A tensor on both backends: c on the CPU (F32), g on the GPU. */
typedef struct buf {
    zt_tensor c, g;
    void *gblock; /* adopted weights block, or NULL */
} buf;

static int setup_ok = 1;

static zt_tensor alloc_on(zt_backend *be, zt_dtype dt, int ndim, const int64_t *shape)
{
    zt_tensor t = zt_tensor_make(dt, ndim, shape, NULL);
    zt_err err = {0};
    if (zt_backend_alloc(be, zt_tensor_nbytes(&t) ? zt_tensor_nbytes(&t) : 1, &t.data, &err) !=
        ZT_OK) {
        fprintf(stderr, "alloc: %s\n", err.msg);
        setup_ok = 0;
    }
    return t;
}

static void upload_floats(zt_backend *be, zt_tensor *t, const float *v)
{
    int64_t n = zt_tensor_numel(t);
    void *tmp = malloc(zt_tensor_nbytes(t) + 1);
    encode(tmp, t->dtype, v, n);
    zt_err err = {0};
    if (zt_backend_upload(be, t, tmp, &err) != ZT_OK) {
        fprintf(stderr, "upload: %s\n", err.msg);
        setup_ok = 0;
    }
    free(tmp);
}

/* Random activation: values in [lo, hi) rounded to gdt. */
static buf mk(zt_dtype gdt, int ndim, const int64_t *shape, float lo, float hi)
{
    buf b = {0};
    b.c = alloc_on(cpu, ZT_F32, ndim, shape);
    b.g = alloc_on(gpu, gdt, ndim, shape);
    int64_t n = zt_tensor_numel(&b.c);
    float *v = malloc(sizeof(float) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++)
        v[i] = round_to(gdt, frand(lo, hi));
    upload_floats(cpu, &b.c, v);
    upload_floats(gpu, &b.g, v);
    free(v);
    return b;
}

/* Random weight stored as fdt on the host and adopted by the GPU backend
 * (which keeps float weights as BF16); the CPU gets the adopted values. */
static buf mk_w(zt_dtype fdt, int ndim, const int64_t *shape, float lo, float hi)
{
    buf b = {0};
    b.c = alloc_on(cpu, ZT_F32, ndim, shape);
    int64_t n = zt_tensor_numel(&b.c);
    float *v = malloc(sizeof(float) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++)
        v[i] = round_to(fdt, frand(lo, hi));
    zt_tensor h = zt_tensor_make(fdt, ndim, shape, NULL);
    void *host = malloc(zt_tensor_nbytes(&h) + 1);
    encode(host, fdt, v, n);
    h.data = host;
    zt_tensor *hp = &h;
    zt_err err = {0};
    if (zt_backend_adopt_weights(gpu, &hp, 1, &b.gblock, &err) != ZT_OK) {
        fprintf(stderr, "adopt: %s\n", err.msg);
        setup_ok = 0;
    }
    b.g = h;
    free(host);
    for (int64_t i = 0; i < n; i++)
        v[i] = round_to(b.g.dtype, v[i]);
    upload_floats(cpu, &b.c, v);
    free(v);
    return b;
}

/* Output tensor: zeros on the CPU, NaN poison on the GPU. */
static buf mk_out(zt_dtype gdt, int ndim, const int64_t *shape)
{
    buf b = {0};
    b.c = alloc_on(cpu, ZT_F32, ndim, shape);
    b.g = alloc_on(gpu, gdt, ndim, shape);
    int64_t n = zt_tensor_numel(&b.c);
    float *v = calloc((size_t)(n + 1), sizeof(float));
    upload_floats(cpu, &b.c, v);
    for (int64_t i = 0; i < n; i++)
        v[i] = NAN;
    upload_floats(gpu, &b.g, v);
    free(v);
    return b;
}

static void free_buf(buf *b)
{
    zt_backend_release(cpu, b->c.data);
    if (b->gblock)
        zt_backend_release_weights(gpu, b->gblock);
    else
        zt_backend_release(gpu, b->g.data);
    memset(b, 0, sizeof *b);
}

static float *fetch(zt_backend *be, const zt_tensor *t)
{
    int64_t n = zt_tensor_numel(t);
    void *raw = malloc(zt_tensor_nbytes(t) + 1);
    float *v = malloc(sizeof(float) * (size_t)(n + 1));
    zt_err err = {0};
    if (zt_backend_download(be, raw, t, &err) != ZT_OK)
        fprintf(stderr, "download: %s\n", err.msg);
    decode(v, t->dtype, raw, n);
    free(raw);
    return v;
}

/* Sync both, compare o's GPU copy with its CPU copy. tol scales the RMS of
 * the reference into atol; rtol is per element; rel-L2 must be <= l2 and
 * goes to *rel_out when that is not NULL. */
static int compare_rel(const char *what, buf *o, double tol, double rtol, double l2,
                       double *rel_out)
{
    zt_err e1 = {0}, e2 = {0};
    zt_status s1 = zt_backend_sync(cpu, &e1), s2 = zt_backend_sync(gpu, &e2);
    CHECK(s1 == ZT_OK, "%s: cpu: %s", what, e1.msg);
    CHECK(s2 == ZT_OK, "%s: cuda: %s", what, e2.msg);
    if (s1 != ZT_OK || s2 != ZT_OK || !setup_ok)
        return 0;
    int64_t n = zt_tensor_numel(&o->c);
    float *r = fetch(cpu, &o->c), *g = fetch(gpu, &o->g);
    double ss = 0, num = 0;
    for (int64_t i = 0; i < n; i++) {
        ss += (double)r[i] * r[i];
        num += ((double)g[i] - r[i]) * ((double)g[i] - r[i]);
    }
    double rms = n ? sqrt(ss / (double)n) : 0;
    int ok = zt_test_close(what, g, r, (long)n, tol * (rms > 0 ? rms : 1), rtol);
    double rel = ss > 0 ? sqrt(num / ss) : sqrt(num);
    CHECK(rel <= l2, "%s: rel-L2 %.3g over %.3g", what, rel, l2);
    if (rel_out)
        *rel_out = rel;
    free(r);
    free(g);
    return ok && rel <= l2;
}

static int compare(const char *what, buf *o, double tol, double rtol, double l2)
{
    return compare_rel(what, o, tol, rtol, l2, NULL);
}

/* tolerances: BF16 outputs, F32 outputs */
#define BF_TOL 2e-2, 1e-2, 1e-2
#define F32_TOL 1e-4, 1e-4, 1e-5

#define S4(a, b, c, d) ((const int64_t[]){a, b, c, d})

/* ---- cases ---------------------------------------------------------------- */

static void test_copy(void)
{
    const zt_dtype pairs[][2] = {{ZT_F32, ZT_BF16}, {ZT_BF16, ZT_F32}, {ZT_F32, ZT_F32},
                                 {ZT_BF16, ZT_BF16}, {ZT_F16, ZT_F32}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        buf x = mk(pairs[i][0], 2, S4(1001, 333, 0, 0), -4, 4);
        buf y = mk_out(pairs[i][1], 2, S4(1001, 333, 0, 0));
        zt_op_copy(cpu, &y.c, &x.c);
        zt_op_copy(gpu, &y.g, &x.g);
        char name[64];
        snprintf(name, sizeof name, "copy %s->%s", zt_dtype_name(pairs[i][0]),
                 zt_dtype_name(pairs[i][1]));
        if (pairs[i][1] == ZT_BF16)
            compare(name, &y, 0, 4e-3, 4e-3);
        else
            compare(name, &y, 0, 0, 0);
        free_buf(&x);
        free_buf(&y);
    }
}

static void one_matmul(const char *name, zt_dtype xdt, zt_dtype wdt, zt_dtype ydt, int nd,
                       int64_t M, int64_t N, int64_t K, int with_bias)
{
    int64_t xs[3] = {2, M / 2, K}, ys[3] = {2, M / 2, N};
    buf x = nd == 3 ? mk(xdt, 3, xs, -1, 1) : mk(xdt, 2, S4(M, K, 0, 0), -1, 1);
    buf w = mk_w(wdt, 2, S4(N, K, 0, 0), -1, 1);
    buf bias = {0};
    if (with_bias)
        bias = mk_w(wdt, 1, S4(N, 0, 0, 0), -2, 2);
    buf y = nd == 3 ? mk_out(ydt, 3, ys) : mk_out(ydt, 2, S4(M, N, 0, 0));
    zt_op_matmul(cpu, &y.c, &x.c, &w.c, with_bias ? &bias.c : NULL);
    zt_op_matmul(gpu, &y.g, &x.g, &w.g, with_bias ? &bias.g : NULL);
    /* operands meet in the weight's dtype (BF16 after adoption), so an F32
     * x is rounded to BF16 too: BF16 tolerances either way */
    (void)ydt;
    compare(name, &y, BF_TOL);
    free_buf(&x);
    free_buf(&w);
    if (with_bias)
        free_buf(&bias);
    free_buf(&y);
}

static void test_matmul(void)
{
    one_matmul("matmul bf16 300x384x256", ZT_BF16, ZT_BF16, ZT_BF16, 2, 300, 384, 256, 0);
    one_matmul("matmul bf16 bias", ZT_BF16, ZT_BF16, ZT_BF16, 2, 300, 384, 256, 1);
    one_matmul("matmul 3-d x", ZT_BF16, ZT_BF16, ZT_BF16, 3, 300, 256, 256, 0);
    one_matmul("matmul F16 weights", ZT_BF16, ZT_F16, ZT_BF16, 2, 64, 170, 64, 0);
    one_matmul("matmul F32 weights", ZT_BF16, ZT_F32, ZT_BF16, 2, 64, 64, 170, 1);
    one_matmul("matmul F32 x -> F32 y", ZT_F32, ZT_BF16, ZT_F32, 2, 32, 64, 256, 1);
    one_matmul("matmul bf16 x -> F32 y", ZT_BF16, ZT_BF16, ZT_F32, 2, 33, 1024, 256, 0);
    one_matmul("matmul odd sizes", ZT_BF16, ZT_BF16, ZT_BF16, 2, 7, 13, 29, 1);
}

/* x [M, K] quantized on both backends (the GPU from x's BF16 or F32 copy,
 * the CPU from the same values in F32) into a qmat on each. */
typedef struct qbuf {
    zt_qmat c, g;
} qbuf;

static zt_qmat alloc_qmat(zt_backend *be, int64_t M, int64_t K)
{
    zt_qmat m = {alloc_on(be, ZT_F8E4M3, 2, S4(M, K, 0, 0)),
                 alloc_on(be, ZT_F32, 1, S4(M, 0, 0, 0))};
    return m;
}

static qbuf quantize_both(const buf *x, int64_t M, int64_t K)
{
    qbuf q = {alloc_qmat(cpu, M, K), alloc_qmat(gpu, M, K)};
    zt_op_quantize(cpu, &q.c, &x->c);
    zt_op_quantize(gpu, &q.g, &x->g);
    return q;
}

static void free_qbuf(qbuf *q)
{
    zt_backend_release(cpu, q->c.q.data);
    zt_backend_release(cpu, q->c.s.data);
    zt_backend_release(gpu, q->g.q.data);
    zt_backend_release(gpu, q->g.s.data);
}

/* How many elements of c (on the CPU) and g (its GPU twin, same dtype
 * and shape) differ bit for bit; *first gets the first such index (-1
 * when none). -1 when a download fails. */
static long bits_differ(const zt_tensor *c, const zt_tensor *g, int64_t *first)
{
    size_t n = zt_tensor_nbytes(c), es = zt_dtype_size(c->dtype);
    uint8_t *bc = malloc(n + 1), *bg = malloc(n + 1);
    zt_err err = {0};
    long d = 0;
    *first = -1;
    if (zt_backend_download(cpu, bc, c, &err) != ZT_OK ||
        zt_backend_download(gpu, bg, g, &err) != ZT_OK) {
        fprintf(stderr, "download: %s\n", err.msg);
        d = -1;
    }
    for (size_t i = 0; d >= 0 && i < n; i += es)
        if (memcmp(bc + i, bg + i, es) && d++ == 0)
            *first = (int64_t)(i / es);
    free(bc);
    free(bg);
    return d;
}

/* A qmat's values, q * s, on the host. */
static float *decode_qmat(zt_backend *be, const zt_qmat *m, int64_t M, int64_t K)
{
    uint8_t *q = malloc((size_t)(M * K));
    float *s = malloc((size_t)M * 4), *v = malloc((size_t)(M * K) * 4);
    zt_err err = {0};
    zt_backend_download(be, q, &m->q, &err);
    zt_backend_download(be, s, &m->s, &err);
    for (int64_t i = 0; i < M * K; i++)
        v[i] = zt_e4m3_to_f32(q[i]) * s[i / K];
    free(q);
    free(s);
    return v;
}

/* The E4M3 bytes and the scales must be identical: both backends do the
 * same correctly rounded F32 operations (kernels/quant.cu). */
static void one_quantize(const char *name, zt_dtype xdt, int64_t M, int64_t K)
{
    buf x = mk(xdt, 2, S4(M, K, 0, 0), -3, 3);
    qbuf q = quantize_both(&x, M, K);
    zt_err e1 = {0}, e2 = {0};
    CHECK(zt_backend_sync(cpu, &e1) == ZT_OK && zt_backend_sync(gpu, &e2) == ZT_OK, "%s: %s %s",
          name, e1.msg, e2.msg);
    int64_t first;
    long dq = bits_differ(&q.c.q, &q.g.q, &first), ds = bits_differ(&q.c.s, &q.g.s, &first);
    printf("  %-36s %ld of %lld codes and %ld of %lld scales differ\n", name, dq,
           (long long)(M * K), ds, (long long)M);
    CHECK(dq == 0 && ds == 0, "%s: %ld codes, %ld scales differ from the CPU", name, dq, ds);
    free_qbuf(&q);
    free_buf(&x);
}

/* FP8 product on both backends from their (identical) quantized operands. */
static void one_matmul_q(const char *name, zt_dtype ydt, int64_t M, int64_t N, int64_t K)
{
    buf x = mk(ZT_BF16, 2, S4(M, K, 0, 0), -1, 1), w = mk(ZT_BF16, 2, S4(N, K, 0, 0), -1, 1);
    qbuf xq = quantize_both(&x, M, K), wq = quantize_both(&w, N, K);
    buf y = mk_out(ydt, 2, S4(M, N, 0, 0));
    zt_op_matmul_q(cpu, &y.c, &xq.c, &wq.c);
    zt_op_matmul_q(gpu, &y.g, &xq.g, &wq.g);
    /* same E4M3 inputs; the CPU sums in F32, the tensor cores' FP8 fast
     * accumulation in a narrower accumulator that rounds toward zero
     * (backend_cuda.c lt_plan_for): measured rel-L2 2.9e-4 at K = 512,
     * 1.1e-3 at 3840 and 2.09-2.15e-3 at 10240 (24 seeds), single elements
     * up to 0.9% small at 10240. Bounds: twice the rel-L2, and an element
     * within 1.5% plus 2% of the RMS (a sum near zero keeps the error of
     * its larger partial sums). For a BF16 result, its rounding on top. */
    double rel = 0;
    if (ydt == ZT_BF16)
        compare_rel(name, &y, BF_TOL, &rel);
    else
        compare_rel(name, &y, 2e-2, 1.5e-2, 4e-3, &rel);
    printf("  %-36s rel-L2 %.2e\n", name, rel);
    free_qbuf(&xq), free_qbuf(&wq);
    free_buf(&x), free_buf(&w), free_buf(&y);
}

/* E4M3 rows from both backends, compared as decoded values: the F32
 * results before quantizing differ in the last bits (rsqrtf, __expf, the
 * order of sums), which can move a value across a rounding boundary, one
 * E4M3 step (1/8 relative) at most. */
static void q_close(const char *name, qbuf *q, int64_t M, int64_t K)
{
    zt_err e1 = {0}, e2 = {0};
    CHECK(zt_backend_sync(cpu, &e1) == ZT_OK && zt_backend_sync(gpu, &e2) == ZT_OK, "%s: %s %s",
          name, e1.msg, e2.msg);
    float *vc = decode_qmat(cpu, &q->c, M, K), *vg = decode_qmat(gpu, &q->g, M, K);
    double num = 0, den = 0, amax = 0;
    long off = 0;
    for (int64_t i = 0; i < M * K; i++)
        amax = fmax(amax, fabs(vc[i]));
    for (int64_t i = 0; i < M * K; i++) {
        double d = (double)vg[i] - vc[i];
        num += d * d;
        den += (double)vc[i] * vc[i];
        /* a step: 1/8 of a normal value, 2^-9 of the scale below those */
        off += fabs(d) > fabs(vc[i]) * 0.13 + amax / 448.0 / 256.0;
    }
    double rel = den > 0 ? sqrt(num / den) : 0;
    printf("  %-36s rel-L2 %.5f, %ld values more than a step apart\n", name, rel, off);
    CHECK(rel <= 0.01 && off == 0, "%s: rel-L2 %.5f, %ld values off", name, rel, off);
    free(vc), free(vg);
}

/* rmsnorm_q / swiglu_q on both backends */
static void one_fused_q(const char *name, int glu, int64_t M, int64_t K)
{
    buf x = mk(ZT_BF16, 2, S4(M, K, 0, 0), -2, 2), u = mk(ZT_BF16, 2, S4(M, K, 0, 0), -2, 2);
    buf w = mk_w(ZT_BF16, 1, S4(K, 0, 0, 0), 0.5f, 1.5f);
    buf sc = mk(ZT_BF16, 1, S4(K, 0, 0, 0), 0.5f, 1.5f);
    qbuf q = {alloc_qmat(cpu, M, K), alloc_qmat(gpu, M, K)};
    if (glu) {
        zt_op_swiglu_q(cpu, &q.c, &x.c, &u.c);
        zt_op_swiglu_q(gpu, &q.g, &x.g, &u.g);
    } else {
        zt_op_rmsnorm_q(cpu, &q.c, &x.c, &w.c, &sc.c, 1e-6f);
        zt_op_rmsnorm_q(gpu, &q.g, &x.g, &w.g, &sc.g, 1e-6f);
    }
    q_close(name, &q, M, K);
    free_qbuf(&q);
    free_buf(&x), free_buf(&u), free_buf(&w), free_buf(&sc);
}

static void test_fp8(void)
{
    one_quantize("quantize bf16 300x256 (vector)", ZT_BF16, 300, 256);
    one_quantize("quantize f32 64x512 (vector)", ZT_F32, 64, 512);
    one_quantize("quantize bf16 37x100 (scalar)", ZT_BF16, 37, 100);
    one_matmul_q("matmul_q 300x384x256 -> bf16", ZT_BF16, 300, 384, 256);
    one_matmul_q("matmul_q 33x1024x512 -> f32", ZT_F32, 33, 1024, 512);
    one_matmul_q("matmul_q 64x512x3840 -> f32", ZT_F32, 64, 512, 3840);
    one_matmul_q("matmul_q 64x512x10240 -> f32", ZT_F32, 64, 512, 10240);
    one_matmul_q("matmul_q odd 20x40x24 (BF16 path)", ZT_BF16, 20, 40, 24);
    one_fused_q("rmsnorm_q 300x3840 (fused)", 0, 300, 3840);
    one_fused_q("rmsnorm_q 37x100 (unfused)", 0, 37, 100);
    one_fused_q("swiglu_q 300x10240 (fused)", 1, 300, 10240);
    one_fused_q("swiglu_q 37x100 (unfused)", 1, 37, 100);
}

static void test_norms(void)
{
    /* rmsnorm with weight and scale over D 256 */
    buf x = mk(ZT_BF16, 2, S4(300, 256, 0, 0), -3, 3);
    buf w = mk_w(ZT_BF16, 1, S4(256, 0, 0, 0), 0.5f, 1.5f);
    buf s = mk(ZT_BF16, 1, S4(256, 0, 0, 0), 0.5f, 2.0f);
    buf y = mk_out(ZT_BF16, 2, S4(300, 256, 0, 0));
    zt_op_rmsnorm(cpu, &y.c, &x.c, &w.c, &s.c, 1e-5f);
    zt_op_rmsnorm(gpu, &y.g, &x.g, &w.g, &s.g, 1e-5f);
    compare("rmsnorm w scale", &y, BF_TOL);
    zt_op_rmsnorm(cpu, &y.c, &x.c, NULL, NULL, 1e-6f);
    zt_op_rmsnorm(gpu, &y.g, &x.g, NULL, NULL, 1e-6f);
    compare("rmsnorm plain", &y, BF_TOL);
    free_buf(&x);
    free_buf(&w);
    free_buf(&s);
    free_buf(&y);

    /* q/k norm: [S, heads, hd] over hd */
    x = mk(ZT_BF16, 3, S4(300, 2, 128, 0), -2, 2);
    w = mk_w(ZT_BF16, 1, S4(128, 0, 0, 0), 0.5f, 1.5f);
    y = mk_out(ZT_BF16, 3, S4(300, 2, 128, 0));
    zt_op_rmsnorm(cpu, &y.c, &x.c, &w.c, NULL, 1e-5f);
    zt_op_rmsnorm(gpu, &y.g, &x.g, &w.g, NULL, 1e-5f);
    compare("rmsnorm per head", &y, BF_TOL);
    free_buf(&x);
    free_buf(&w);
    free_buf(&y);

    /* layernorm: none, affine, scale; D 3840 with an offset mean */
    x = mk(ZT_BF16, 2, S4(40, 3840, 0, 0), 1, 5);
    w = mk_w(ZT_BF16, 1, S4(3840, 0, 0, 0), 0.5f, 1.5f);
    buf bb = mk_w(ZT_BF16, 1, S4(3840, 0, 0, 0), -1, 1);
    s = mk(ZT_BF16, 1, S4(3840, 0, 0, 0), 0.5f, 2.0f);
    y = mk_out(ZT_BF16, 2, S4(40, 3840, 0, 0));
    zt_op_layernorm(cpu, &y.c, &x.c, NULL, NULL, NULL, 1e-6f);
    zt_op_layernorm(gpu, &y.g, &x.g, NULL, NULL, NULL, 1e-6f);
    compare("layernorm plain", &y, BF_TOL);
    zt_op_layernorm(cpu, &y.c, &x.c, &w.c, &bb.c, NULL, 1e-5f);
    zt_op_layernorm(gpu, &y.g, &x.g, &w.g, &bb.g, NULL, 1e-5f);
    compare("layernorm affine", &y, BF_TOL);
    zt_op_layernorm(cpu, &y.c, &x.c, NULL, NULL, &s.c, 1e-6f);
    zt_op_layernorm(gpu, &y.g, &x.g, NULL, NULL, &s.g, 1e-6f);
    compare("layernorm scale", &y, BF_TOL);
    free_buf(&x);
    free_buf(&w);
    free_buf(&bb);
    free_buf(&s);
    free_buf(&y);

    /* softmax over 1000 columns */
    x = mk(ZT_BF16, 2, S4(300, 1000, 0, 0), -8, 8);
    y = mk_out(ZT_BF16, 2, S4(300, 1000, 0, 0));
    zt_op_softmax(cpu, &y.c, &x.c);
    zt_op_softmax(gpu, &y.g, &x.g);
    compare("softmax", &y, BF_TOL);
    free_buf(&x);
    free_buf(&y);
}

/* shape channels last: [H, W, C] or [N, C]; x uniform in [lo, hi] */
static void one_groupnorm_in(const char *name, int ndim, const int64_t *shape, int silu,
                             zt_dtype dt, float lo, float hi)
{
    int64_t C = shape[ndim - 1];
    buf x = mk(dt, ndim, shape, lo, hi);
    buf w = mk_w(ZT_BF16, 1, S4(C, 0, 0, 0), 0.5f, 1.5f);
    buf b = mk_w(ZT_BF16, 1, S4(C, 0, 0, 0), -1, 1);
    buf y = mk_out(dt, ndim, shape);
    zt_op_groupnorm(cpu, &y.c, &x.c, 32, &w.c, &b.c, 1e-6f, silu);
    zt_op_groupnorm(gpu, &y.g, &x.g, 32, &w.g, &b.g, 1e-6f, silu);
    if (dt == ZT_BF16)
        compare(name, &y, BF_TOL);
    else
        compare(name, &y, 1e-4, 1e-4, 1e-4);
    free_buf(&x);
    free_buf(&w);
    free_buf(&b);
    free_buf(&y);
}

static void one_groupnorm(const char *name, int ndim, const int64_t *shape, int silu,
                          zt_dtype dt)
{
    one_groupnorm_in(name, ndim, shape, silu, dt, -1, 3);
}

static void test_groupnorm(void)
{
    one_groupnorm("groupnorm 33x45x128 silu", 3, S4(33, 45, 128, 0), 1, ZT_BF16);
    one_groupnorm("groupnorm 1000x64", 2, S4(1000, 64, 0, 0), 0, ZT_BF16);
    one_groupnorm("groupnorm 128x128x128 f32", 3, S4(128, 128, 128, 0), 1, ZT_F32);
    one_groupnorm("groupnorm 200x512 16 channels a group", 2, S4(200, 512, 0, 0), 1,
                  ZT_BF16);
    one_groupnorm("groupnorm 9x7x96 odd channels a group", 3, S4(9, 7, 96, 0), 0, ZT_BF16);
    /* a mean 170 standard deviations from 0: the statistics must not lose
     * the variance to cancellation (the CPU's are two passes in double) */
    one_groupnorm_in("groupnorm 96x96x128 f32 about 100", 3, S4(96, 96, 128, 0), 0, ZT_F32,
                     99, 101);
}

/* A (cos, sin) table [S, hd/2, 2] of real rotations on both sides. */
static buf mk_rotations(int64_t S, int64_t hd)
{
    buf cs = mk(ZT_F32, 3, S4(S, hd / 2, 2, 0), 0, 1);
    float *v = malloc(sizeof(float) * (size_t)(S * hd));
    for (int64_t i = 0; i < S * hd / 2; i++) {
        float a = frand(-20, 20);
        v[2 * i] = cosf(a);
        v[2 * i + 1] = sinf(a);
    }
    upload_floats(cpu, &cs.c, v);
    upload_floats(gpu, &cs.g, v);
    free(v);
    return cs;
}

/* The q/k norm fused with RoPE against the CPU's two steps. */
static void one_rmsnorm_rope(const char *name, int64_t S, int64_t H, int64_t hd,
                             zt_rope_kind kind, int with_w)
{
    buf x = mk(ZT_BF16, 3, S4(S, H, hd, 0), -3, 3);
    buf w = mk_w(ZT_BF16, 1, S4(hd, 0, 0, 0), 0.5f, 1.5f);
    buf cs = mk_rotations(S, hd);
    zt_op_rmsnorm_rope(cpu, &x.c, with_w ? &w.c : NULL, 1e-6f, &cs.c, kind);
    zt_op_rmsnorm_rope(gpu, &x.g, with_w ? &w.g : NULL, 1e-6f, &cs.g, kind);
    compare(name, &x, BF_TOL);
    free_buf(&x);
    free_buf(&w);
    free_buf(&cs);
}

/* y += gate * rmsnorm(x) * w against the CPU's two steps (which normalise x
 * in place: only y is compared). */
static void one_norm_gated_add(const char *name, int64_t rows, int64_t C, int with_gate)
{
    buf y = mk(ZT_BF16, 2, S4(rows, C, 0, 0), -2, 2);
    buf x = mk(ZT_BF16, 2, S4(rows, C, 0, 0), -40, 40);
    buf w = mk_w(ZT_BF16, 1, S4(C, 0, 0, 0), 0.5f, 1.5f);
    buf g = mk(ZT_BF16, 1, S4(C, 0, 0, 0), -1, 1);
    zt_op_norm_gated_add(cpu, &y.c, &x.c, &w.c, with_gate ? &g.c : NULL, 1e-5f);
    zt_op_norm_gated_add(gpu, &y.g, &x.g, &w.g, with_gate ? &g.g : NULL, 1e-5f);
    compare(name, &y, BF_TOL);
    free_buf(&y);
    free_buf(&x);
    free_buf(&w);
    free_buf(&g);
}

/* residual_norm against the CPU's two ops: the new x and y in BF16. x is
 * a residual stream (values up to 40), o a block's output. The E4M3 rows
 * are compared with the CPU's rmsnorm_q of the GPU's new x: against the
 * CPU's own x (F32, where the GPU's is rounded to BF16) more values cross
 * a rounding boundary (rel-L2 0.012-0.013 measured, for the two ops and the
 * one pass alike, none more than a step apart). */
static void one_residual_norm(const char *name, int64_t rows, int64_t C, int with_gate, int q8)
{
    buf x = mk(ZT_BF16, 2, S4(rows, C, 0, 0), -40, 40);
    buf o = mk(ZT_BF16, 2, S4(rows, C, 0, 0), -3, 3);
    buf wo = mk_w(ZT_BF16, 1, S4(C, 0, 0, 0), 0.5f, 1.5f);
    buf g = mk(ZT_BF16, 1, S4(C, 0, 0, 0), -1, 1);
    buf w = mk_w(ZT_BF16, 1, S4(C, 0, 0, 0), 0.5f, 1.5f);
    buf sc = mk(ZT_BF16, 1, S4(C, 0, 0, 0), 0.5f, 1.5f);
    buf y = mk_out(ZT_BF16, 2, S4(rows, C, 0, 0));
    qbuf q = {alloc_qmat(cpu, rows, C), alloc_qmat(gpu, rows, C)};
    zt_op_residual_norm(cpu, &x.c, &o.c, &wo.c, with_gate ? &g.c : NULL, q8 ? NULL : &y.c,
                        q8 ? &q.c : NULL, &w.c, &sc.c, 1e-6f);
    zt_op_residual_norm(gpu, &x.g, &o.g, &wo.g, with_gate ? &g.g : NULL, q8 ? NULL : &y.g,
                        q8 ? &q.g : NULL, &w.g, &sc.g, 1e-6f);
    char what[96];
    snprintf(what, sizeof what, "%s: x", name);
    compare(what, &x, BF_TOL);
    if (q8) {
        float *xg = fetch(gpu, &x.g);
        upload_floats(cpu, &x.c, xg);
        zt_op_rmsnorm_q(cpu, &q.c, &x.c, &w.c, &sc.c, 1e-6f);
        q_close(name, &q, rows, C);
        free(xg);
    } else {
        snprintf(what, sizeof what, "%s: y", name);
        compare(what, &y, BF_TOL);
    }
    free_qbuf(&q);
    free_buf(&x), free_buf(&o), free_buf(&wo), free_buf(&g), free_buf(&w), free_buf(&sc);
    free_buf(&y);
}

static void test_fused_norms(void)
{
    one_rmsnorm_rope("rmsnorm_rope interleaved 300x6x128", 300, 6, 128, ZT_ROPE_INTERLEAVED,
                     1);
    one_rmsnorm_rope("rmsnorm_rope neox 200x8x128", 200, 8, 128, ZT_ROPE_NEOX, 1);
    one_rmsnorm_rope("rmsnorm_rope interleaved hd 16, no w", 77, 4, 16, ZT_ROPE_INTERLEAVED,
                     0);
    one_rmsnorm_rope("rmsnorm_rope interleaved hd 96 (2 chunks)", 90, 5, 96,
                     ZT_ROPE_INTERLEAVED, 1);
    one_rmsnorm_rope("rmsnorm_rope interleaved hd 256", 60, 3, 256, ZT_ROPE_INTERLEAVED, 1);
    one_rmsnorm_rope("rmsnorm_rope interleaved hd 10 (scalar)", 50, 3, 10, ZT_ROPE_INTERLEAVED,
                     1);
    one_norm_gated_add("norm_gated_add 300x3840", 300, 3840, 1);
    one_norm_gated_add("norm_gated_add 300x3840 no gate", 300, 3840, 0);
    one_norm_gated_add("norm_gated_add 77x100 (scalar)", 77, 100, 1);
    one_residual_norm("residual_norm 300x3840", 300, 3840, 1, 0);
    one_residual_norm("residual_norm 300x3840 no gate", 300, 3840, 0, 0);
    one_residual_norm("residual_norm 300x3840 to E4M3", 300, 3840, 1, 1);
    one_residual_norm("residual_norm 64x12288 to E4M3", 64, 12288, 1, 1);
    one_residual_norm("residual_norm 77x100 (two ops)", 77, 100, 1, 0);
    one_residual_norm("residual_norm 37x100 to E4M3 (two ops)", 37, 100, 1, 1);
}

/* ---- FP8 attention's ops: one scale a tensor -------------------------- */

static zt_qmat alloc_qt(zt_backend *be, int ndim, const int64_t *shape)
{
    zt_qmat m = {alloc_on(be, ZT_F8E4M3, ndim, shape), alloc_on(be, ZT_F32, 1, S4(1, 0, 0, 0))};
    return m;
}

/* quantize_t: the same bytes and scale on both backends (the same correctly
 * rounded operations, as quantize). */
static void one_quantize_t(const char *name, zt_dtype xdt, int64_t n)
{
    buf x = mk(xdt, 1, S4(n, 0, 0, 0), -3, 3);
    qbuf q = {alloc_qt(cpu, 1, S4(n, 0, 0, 0)), alloc_qt(gpu, 1, S4(n, 0, 0, 0))};
    zt_op_quantize_t(cpu, &q.c, &x.c);
    zt_op_quantize_t(gpu, &q.g, &x.g);
    zt_err e1 = {0}, e2 = {0};
    CHECK(zt_backend_sync(cpu, &e1) == ZT_OK && zt_backend_sync(gpu, &e2) == ZT_OK, "%s: %s %s",
          name, e1.msg, e2.msg);
    int64_t first;
    long dq = bits_differ(&q.c.q, &q.g.q, &first), ds = bits_differ(&q.c.s, &q.g.s, &first);
    CHECK(dq == 0 && ds == 0, "%s: %ld codes, %ld scales differ from the CPU", name, dq, ds);
    free_qbuf(&q);
    free_buf(&x);
}

/* rmsnorm_rope_q: the scale (from w alone) the same bits; the values within
 * a step of the CPU's (q_close). */
static void one_rmsnorm_rope_q(const char *name, int64_t S, int64_t H, int64_t hd)
{
    buf x = mk(ZT_BF16, 3, S4(S, H, hd, 0), -3, 3);
    buf w = mk_w(ZT_BF16, 1, S4(hd, 0, 0, 0), 0.5f, 1.5f);
    buf cs = mk_rotations(S, hd);
    qbuf q = {alloc_qt(cpu, 3, S4(S, H, hd, 0)), alloc_qt(gpu, 3, S4(S, H, hd, 0))};
    zt_op_rmsnorm_rope_q(cpu, &q.c, &x.c, &w.c, 1e-6f, &cs.c, ZT_ROPE_INTERLEAVED);
    zt_op_rmsnorm_rope_q(gpu, &q.g, &x.g, &w.g, 1e-6f, &cs.g, ZT_ROPE_INTERLEAVED);
    q_close(name, &q, 1, S * H * hd);
    int64_t first;
    CHECK(bits_differ(&q.c.s, &q.g.s, &first) == 0, "%s: scale differs from the CPU", name);
    free_qbuf(&q);
    free_buf(&x), free_buf(&w), free_buf(&cs);
}

/*
 * attention_q from the same E4M3 operands (quantize_t, equal above). The
 * CPU rounds each row's probabilities at its final max; a fused kernel at
 * its running max, so they round differently, and the outputs differ by
 * E4M3 steps. Measured on an H200 over three seeds: rel-L2 0.020-0.034
 * against the CPU with cuDNN (bound 0.05), 0.044 without it, where the
 * probabilities are not rounded at all (bound 0.06). With cuDNN every
 * row's scale is v's (the fallback quantizes its rows anew).
 */
static void one_attention_q(const char *name, int64_t Sq, int64_t Skv, int64_t H, int64_t hd,
                            double bound)
{
    buf q = mk(ZT_BF16, 3, S4(Sq, H, hd, 0), -3, 3);
    buf k = mk(ZT_BF16, 3, S4(Skv, H, hd, 0), -1, 1);
    buf v = mk(ZT_BF16, 3, S4(Skv, H, hd, 0), -2, 2);
    qbuf q8 = {alloc_qt(cpu, 3, S4(Sq, H, hd, 0)), alloc_qt(gpu, 3, S4(Sq, H, hd, 0))};
    qbuf k8 = {alloc_qt(cpu, 3, S4(Skv, H, hd, 0)), alloc_qt(gpu, 3, S4(Skv, H, hd, 0))};
    qbuf v8 = {alloc_qt(cpu, 3, S4(Skv, H, hd, 0)), alloc_qt(gpu, 3, S4(Skv, H, hd, 0))};
    qbuf o8 = {
        {alloc_on(cpu, ZT_F8E4M3, 3, S4(Sq, H, hd, 0)), alloc_on(cpu, ZT_F32, 1, S4(Sq, 0, 0, 0))},
        {alloc_on(gpu, ZT_F8E4M3, 3, S4(Sq, H, hd, 0)), alloc_on(gpu, ZT_F32, 1, S4(Sq, 0, 0, 0))}};
    buf *in[3] = {&q, &k, &v};
    qbuf *in8[3] = {&q8, &k8, &v8};
    for (int i = 0; i < 3; i++) {
        zt_op_quantize_t(cpu, &in8[i]->c, &in[i]->c);
        zt_op_quantize_t(gpu, &in8[i]->g, &in[i]->g);
    }
    float scale = 1.0f / sqrtf((float)hd);
    zt_op_attention_q(cpu, &o8.c, &q8.c, &k8.c, &v8.c, scale);
    zt_op_attention_q(gpu, &o8.g, &q8.g, &k8.g, &v8.g, scale);
    zt_err e1 = {0}, e2 = {0};
    CHECK(zt_backend_sync(cpu, &e1) == ZT_OK && zt_backend_sync(gpu, &e2) == ZT_OK, "%s: %s %s",
          name, e1.msg, e2.msg);
    const int64_t K = H * hd;
    float *vc = decode_qmat(cpu, &o8.c, Sq, K), *vg = decode_qmat(gpu, &o8.g, Sq, K);
    double num = 0, den = 0;
    for (int64_t i = 0; i < Sq * K; i++) {
        num += ((double)vg[i] - vc[i]) * ((double)vg[i] - vc[i]);
        den += (double)vc[i] * vc[i];
    }
    double rel = den > 0 ? sqrt(num / den) : 1;
    printf("  %-36s rel-L2 %.5f against the CPU\n", name, rel);
    CHECK(rel <= bound, "%s: rel-L2 %.5f over %.2f", name, rel, bound);
    if (gpu->fp8_attention) {
        float *sg = malloc((size_t)Sq * 4), vs = 0;
        zt_backend_download(gpu, sg, &o8.g.s, &e2);
        zt_backend_download(gpu, &vs, &v8.g.s, &e2);
        int64_t odd = 0;
        for (int64_t i = 0; i < Sq; i++)
            odd += sg[i] != vs;
        CHECK(odd == 0, "%s: %lld row scales are not v's (not cuDNN's graph?)", name,
              (long long)odd);
        free(sg);
    }
    free(vc), free(vg);
    for (int i = 0; i < 3; i++) {
        free_qbuf(in8[i]);
        free_buf(in[i]);
    }
    free_qbuf(&o8);
}

/* A second CUDA backend made with the variable name set to value, in place
 * of gpu until the returned one is given back to back_to; NULL when it
 * cannot be made. */
static zt_backend *gpu_with(const char *name, const char *value)
{
    zt_backend *main_gpu = gpu;
    zt_err err = {0};
    setenv(name, value, 1);
    zt_status st = zt_backend_cuda_new(&gpu, 0, &err);
    unsetenv(name);
    CHECK(st == ZT_OK, "CUDA backend with %s=%s: %s", name, value, err.msg);
    if (st != ZT_OK) {
        gpu = main_gpu;
        return NULL;
    }
    return main_gpu;
}

static void back_to(zt_backend *main_gpu)
{
    zt_backend_free(gpu);
    gpu = main_gpu;
}

static void test_fp8_attention(void)
{
    one_quantize_t("quantize_t bf16 300x768 (vector)", ZT_BF16, 300 * 768);
    one_quantize_t("quantize_t f32 1001 (scalar)", ZT_F32, 1001);
    one_rmsnorm_rope_q("rmsnorm_rope_q 300x6x128 (fused)", 300, 6, 128);
    one_rmsnorm_rope_q("rmsnorm_rope_q 90x5x96 (unfused)", 90, 5, 96);
    /* FP8 blocks take attention_q only when asked for; the op runs either way */
    CHECK(!gpu->fp8_attention, "FP8 attention offered without ZIMT_FP8_ATTENTION=1");
    zt_backend *main_gpu = gpu_with("ZIMT_FP8_ATTENTION", "1");
    if (main_gpu) {
        one_attention_q("attention_q DiT rows S1040 6x128", 1040, 1040, 6, 128, 0.05);
        one_attention_q("attention_q Sq 100, Skv 301, 2x128", 100, 301, 2, 128, 0.05);
        back_to(main_gpu);
    }
    /* without cuDNN: dequantized, BF16 attention, rows quantized */
    if ((main_gpu = gpu_with("ZIMT_CUDNN", "0"))) {
        CHECK(!gpu->fp8_attention, "without cuDNN, FP8 attention must not be offered");
        one_attention_q("attention_q without cuDNN S300 2x128", 300, 300, 2, 128, 0.06);
        back_to(main_gpu);
    }
}

static void one_rope(const char *name, int64_t S, int64_t H, int64_t hd, zt_rope_kind kind)
{
    buf x = mk(ZT_BF16, 3, S4(S, H, hd, 0), -2, 2);
    buf cs = mk_rotations(S, hd);
    zt_op_rope(cpu, &x.c, &cs.c, kind);
    zt_op_rope(gpu, &x.g, &cs.g, kind);
    compare(name, &x, BF_TOL);
    free_buf(&x);
    free_buf(&cs);
}

static void test_rope(void)
{
    one_rope("rope neox 300x4x128", 300, 4, 128, ZT_ROPE_NEOX);
    one_rope("rope interleaved 300x2x128", 300, 2, 128, ZT_ROPE_INTERLEAVED);
    one_rope("rope interleaved hd 16", 77, 4, 16, ZT_ROPE_INTERLEAVED);
    one_rope("rope neox hd 16", 77, 4, 16, ZT_ROPE_NEOX);
}

static void one_attn(const char *name, int64_t Sq, int64_t Skv, int64_t Hq, int64_t Hkv,
                     int64_t hd, int causal, zt_dtype dt)
{
    buf q = mk(dt, 3, S4(Sq, Hq, hd, 0), -3, 3);
    buf k = mk(dt, 3, S4(Skv, Hkv, hd, 0), -1, 1);
    buf v = mk(dt, 3, S4(Skv, Hkv, hd, 0), -2, 2);
    buf o = mk_out(dt, 3, S4(Sq, Hq, hd, 0));
    float scale = 1.0f / sqrtf((float)hd);
    zt_op_attention(cpu, &o.c, &q.c, &k.c, &v.c, causal, scale);
    zt_op_attention(gpu, &o.g, &q.g, &k.g, &v.g, causal, scale);
    compare(name, &o, 3e-2, 2e-2, 1.5e-2);
    free_buf(&q);
    free_buf(&k);
    free_buf(&v);
    free_buf(&o);
}

static void test_attention(void)
{
    one_attn("attention S300 2x128", 300, 300, 2, 2, 128, 0, ZT_BF16);
    one_attn("attention DiT rows S1040 6x128", 1040, 1040, 6, 6, 128, 0, ZT_BF16);
    one_attn("attention tiny hd16", 77, 77, 4, 4, 16, 0, ZT_BF16);
    one_attn("attention causal GQA 32/8", 200, 200, 32, 8, 128, 1, ZT_BF16);
    one_attn("attention causal hd 64", 129, 129, 4, 2, 64, 1, ZT_BF16);
    one_attn("attention Sq != Skv", 100, 301, 2, 1, 128, 0, ZT_BF16);
    one_attn("attention hd 80 (padded)", 100, 100, 3, 3, 80, 0, ZT_BF16);
    one_attn("attention hd 32 F32 io", 65, 65, 2, 2, 32, 0, ZT_F32);
    one_attn("attention VAE 1x512", 1024, 1024, 1, 1, 512, 0, ZT_BF16);
    one_attn("attention wide causal chunked", 300, 300, 2, 1, 256, 1, ZT_BF16);
}

/*
 * Head dims over the fused kernel's take the keys a block at a time. 64 query
 * rows against 20001 keys make two blocks of the largest size (the second
 * ending inside a chunk of 8). A second backend with ZIMT_ATTN_KEYS=64 puts
 * block edges inside sizes the CPU reference runs quickly: causal masks that
 * cross them, GQA, F32 operands, and 4200 rows, which take two chunks of
 * query rows (4096, then 104).
 */
static void test_attention_blocks(void)
{
    one_attn("attention hd 512, 20001 keys, 2 blocks", 64, 20001, 1, 1, 512, 0, ZT_BF16);
    zt_backend *main_gpu = gpu_with("ZIMT_ATTN_KEYS", "64");
    if (!main_gpu)
        return;
    one_attn("attention 64-key blocks", 300, 301, 2, 1, 256, 0, ZT_BF16);
    one_attn("attention 64-key blocks causal GQA", 300, 300, 4, 2, 256, 1, ZT_BF16);
    one_attn("attention 64-key blocks F32", 130, 250, 2, 2, 144, 0, ZT_F32);
    one_attn("attention 64-key blocks causal, 2 row chunks", 4200, 4200, 1, 1, 160, 1, ZT_BF16);
    back_to(main_gpu);
}

static void test_elementwise(void)
{
    const int64_t *sh = S4(300, 256, 0, 0);
    buf a = mk(ZT_BF16, 2, sh, -4, 4), b = mk(ZT_BF16, 2, sh, -2, 2);
    buf row = mk(ZT_BF16, 1, S4(256, 0, 0, 0), -2, 2);
    buf y = mk_out(ZT_BF16, 2, sh);
    zt_op_unary(cpu, &y.c, &a.c, ZT_UNARY_SILU);
    zt_op_unary(gpu, &y.g, &a.g, ZT_UNARY_SILU);
    compare("silu", &y, BF_TOL);
    zt_op_unary(cpu, &y.c, &a.c, ZT_UNARY_TANH);
    zt_op_unary(gpu, &y.g, &a.g, ZT_UNARY_TANH);
    compare("tanh", &y, BF_TOL);
    zt_op_add(cpu, &y.c, &a.c, &b.c);
    zt_op_add(gpu, &y.g, &a.g, &b.g);
    compare("add", &y, BF_TOL);
    zt_op_add(cpu, &y.c, &a.c, &row.c);
    zt_op_add(gpu, &y.g, &a.g, &row.g);
    compare("add row", &y, BF_TOL);
    zt_op_mul(cpu, &y.c, &a.c, &b.c);
    zt_op_mul(gpu, &y.g, &a.g, &b.g);
    compare("mul", &y, BF_TOL);
    zt_op_mul(cpu, &y.c, &a.c, &row.c);
    zt_op_mul(gpu, &y.g, &a.g, &row.g);
    compare("mul row", &y, BF_TOL);
    zt_op_swiglu(cpu, &y.c, &a.c, &b.c);
    zt_op_swiglu(gpu, &y.g, &a.g, &b.g);
    compare("swiglu", &y, BF_TOL);
    zt_op_scale_add(cpu, &y.c, &a.c, 0.3611f, 0.1159f);
    zt_op_scale_add(gpu, &y.g, &a.g, 0.3611f, 0.1159f);
    compare("scale_add", &y, BF_TOL);
    /* in place: y already holds scale_add's result on both sides */
    zt_op_gated_add(cpu, &y.c, &b.c, &row.c);
    zt_op_gated_add(gpu, &y.g, &b.g, &row.g);
    compare("gated_add", &y, BF_TOL);
    zt_op_gated_add(cpu, &y.c, &b.c, NULL);
    zt_op_gated_add(gpu, &y.g, &b.g, NULL);
    compare("gated_add no gate", &y, BF_TOL);
    free_buf(&a);
    free_buf(&b);
    free_buf(&row);
    free_buf(&y);

    /* the latents path: F32 axpy and scale_add */
    buf lx = mk(ZT_F32, 3, S4(16, 64, 48, 0), -3, 3), ly = mk(ZT_F32, 3, S4(16, 64, 48, 0), -3, 3);
    zt_op_axpy(cpu, &ly.c, -0.0714f, &lx.c);
    zt_op_axpy(gpu, &ly.g, -0.0714f, &lx.g);
    compare("axpy F32", &ly, F32_TOL);
    free_buf(&lx);
    free_buf(&ly);
    lx = mk(ZT_BF16, 2, sh, -3, 3);
    ly = mk(ZT_F32, 2, sh, -3, 3);
    zt_op_axpy(cpu, &ly.c, 0.5f, &lx.c);
    zt_op_axpy(gpu, &ly.g, 0.5f, &lx.g);
    compare("axpy F32 += BF16", &ly, F32_TOL);
    free_buf(&lx);
    free_buf(&ly);
}

static void test_embed(void)
{
    buf t = mk_w(ZT_BF16, 2, S4(1000, 256, 0, 0), -1, 1);
    int64_t L = 77;
    zt_tensor ic = alloc_on(cpu, ZT_I32, 1, S4(L, 0, 0, 0));
    zt_tensor ig = alloc_on(gpu, ZT_I32, 1, S4(L, 0, 0, 0));
    int32_t ids[77];
    for (int i = 0; i < L; i++)
        ids[i] = (int32_t)(next_u64() % 1000);
    ids[0] = 0;
    ids[1] = 999;
    zt_err err = {0};
    zt_backend_upload(cpu, &ic, ids, &err);
    zt_backend_upload(gpu, &ig, ids, &err);
    buf y = mk_out(ZT_BF16, 2, S4(L, 256, 0, 0));
    zt_op_embed(cpu, &y.c, &t.c, &ic);
    zt_op_embed(gpu, &y.g, &t.g, &ig);
    compare("embed", &y, 0, 0, 0);
    /* an id out of range is reported at the next sync */
    ids[5] = 1000;
    zt_backend_upload(gpu, &ig, ids, &err);
    zt_op_embed(gpu, &y.g, &t.g, &ig);
    zt_status s = zt_backend_sync(gpu, &err);
    CHECK(s != ZT_OK, "embed with id 1000 of 1000 was not reported");
    CHECK(zt_backend_sync(gpu, &err) == ZT_OK, "error not cleared by sync: %s", err.msg);
    zt_backend_release(cpu, ic.data);
    zt_backend_release(gpu, ig.data);
    free_buf(&t);
    free_buf(&y);
}

static void one_conv_to(const char *name, int64_t Ci, int64_t Co, int64_t H, int64_t W, int k,
                        int bias, zt_dtype wdt, zt_dtype ydt)
{
    buf x = mk(ZT_BF16, 3, S4(H, W, Ci, 0), -2, 2);
    buf w = mk_w(wdt, 4, S4(Co, Ci, k, k), -0.3f, 0.3f);
    buf b = {0};
    if (bias)
        b = mk_w(wdt, 1, S4(Co, 0, 0, 0), -1, 1);
    buf y = mk_out(ydt, 3, S4(H, W, Co, 0));
    zt_op_conv2d(cpu, &y.c, &x.c, &w.c, bias ? &b.c : NULL);
    zt_op_conv2d(gpu, &y.g, &x.g, &w.g, bias ? &b.g : NULL);
    /* an F32 result: the same BF16 products, summed in another order */
    if (ydt == ZT_F32)
        compare(name, &y, F32_TOL);
    else
        compare(name, &y, BF_TOL);
    free_buf(&x);
    free_buf(&w);
    if (bias)
        free_buf(&b);
    free_buf(&y);
}

static void one_conv(const char *name, int64_t Ci, int64_t Co, int64_t H, int64_t W, int k,
                     int bias, zt_dtype wdt)
{
    one_conv_to(name, Ci, Co, H, W, k, bias, wdt, ZT_BF16);
}

static void test_conv(void)
{
    one_conv("conv 3x3 32->48 37x29", 32, 48, 37, 29, 3, 1, ZT_BF16);
    one_conv("conv 3x3 16->64 conv_in", 16, 64, 24, 20, 3, 1, ZT_F32);
    one_conv("conv 3x3 64->3 conv_out", 64, 3, 31, 33, 3, 1, ZT_BF16);
    /* the decoder's conv_out: F32 pixels; odd channels take the scalar loads */
    one_conv_to("conv 3x3 128->3 conv_out f32", 128, 3, 40, 36, 3, 1, ZT_BF16, ZT_F32);
    one_conv_to("conv 3x3 12->4 9x11 f32", 12, 4, 9, 11, 3, 1, ZT_BF16, ZT_F32);
    one_conv_to("conv 3x3 600->3 (filter over 48 KiB)", 600, 3, 6, 5, 3, 1, ZT_BF16, ZT_F32);
    one_conv("conv 1x1 64->32 shortcut", 64, 32, 20, 21, 1, 1, ZT_F16);
    one_conv("conv 3x3 no bias", 8, 8, 5, 7, 3, 0, ZT_BF16);
    one_conv("conv 3x3 32->40 24x16 vector im2col", 32, 40, 24, 16, 3, 1, ZT_BF16);
    one_conv("conv 3x3 12->20 9x11 odd channels", 12, 20, 9, 11, 3, 1, ZT_BF16);
    one_conv("conv 3x3 128->128 40x40", 128, 128, 40, 40, 3, 1, ZT_BF16);
}

/* nearest 2x of x [H, W, C] */
static void one_upsample(const char *name, int64_t H, int64_t W, int64_t C)
{
    buf x = mk(ZT_BF16, 3, S4(H, W, C, 0), -2, 2);
    buf y = mk_out(ZT_BF16, 3, S4(2 * H, 2 * W, C, 0));
    zt_op_upsample2x(cpu, &y.c, &x.c);
    zt_op_upsample2x(gpu, &y.g, &x.g);
    compare(name, &y, 0, 0, 0);
    free_buf(&x);
    free_buf(&y);
}

static void one_transpose(const char *name, zt_dtype dt, int64_t M, int64_t N)
{
    buf x = mk(dt, 2, S4(M, N, 0, 0), -2, 2);
    buf y = mk_out(dt, 2, S4(N, M, 0, 0));
    zt_op_transpose(cpu, &y.c, &x.c);
    zt_op_transpose(gpu, &y.g, &x.g);
    compare(name, &y, 0, 0, 0);
    free_buf(&x);
    free_buf(&y);
}

static void test_layout(void)
{
    one_upsample("upsample2x", 13, 17, 16);
    one_upsample("upsample2x narrow rows", 5, 3, 6); /* rows of 6: no 16-byte path */
    one_transpose("transpose", ZT_BF16, 300, 257);
    /* the decoder's last step at 1536x1536: [H*W, 3] -> [3, H*W], more than
     * 65535 row tiles */
    one_transpose("transpose tall", ZT_F32, 1536 * 1536, 3);

    /* latents [16, 64, 48] <-> tokens [32*24, 64], F32 in, BF16 tokens */
    buf x = mk(ZT_F32, 3, S4(16, 64, 48, 0), -3, 3);
    buf y = mk_out(ZT_BF16, 2, S4(32 * 24, 64, 0, 0));
    zt_op_patchify(cpu, &y.c, &x.c, 2);
    zt_op_patchify(gpu, &y.g, &x.g, 2);
    compare("patchify", &y, 0, 4e-3, 4e-3);
    free_buf(&x);
    free_buf(&y);
    x = mk(ZT_BF16, 2, S4(32 * 24, 64, 0, 0), -3, 3);
    y = mk_out(ZT_F32, 3, S4(16, 64, 48, 0));
    zt_op_unpatchify(cpu, &y.c, &x.c, 2);
    zt_op_unpatchify(gpu, &y.g, &x.g, 2);
    compare("unpatchify", &y, 0, 0, 0);
    free_buf(&x);
    free_buf(&y);
}

/* The decoded image to bytes, F32 or BF16 in: the GPU must give the CPU's
 * bytes exactly, also where x/2 + 0.5 lands next to a rounding half, where
 * a fused multiply-add would round differently. */
static void one_rgb8(const char *name, zt_dtype dt, int64_t H, int64_t W)
{
    int64_t n = 3 * H * W;
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        if (i % 4 == 0) /* next to (k + 1/2) / 255 */
            v[i] = 2.0f * (((float)(i % 255) + 0.5f) / 255.0f) - 1.0f;
        else if (i % 4 == 1)
            v[i] = nextafterf(2.0f * (((float)(i % 255) + 0.5f) / 255.0f) - 1.0f, 2.0f);
        else
            v[i] = frand(-1.3f, 1.3f);
    }
    v[0] = NAN, v[1] = INFINITY, v[2] = -INFINITY, v[n / 2] = -NAN, v[n - 1] = NAN;
    for (int64_t i = 0; i < n; i++)
        v[i] = round_to(dt, v[i]);
    int64_t xs[3] = {3, H, W}, ys[3] = {H, W, 3};
    zt_tensor xc = alloc_on(cpu, dt, 3, xs), xg = alloc_on(gpu, dt, 3, xs);
    zt_tensor yc = alloc_on(cpu, ZT_U8, 3, ys), yg = alloc_on(gpu, ZT_U8, 3, ys);
    upload_floats(cpu, &xc, v);
    upload_floats(gpu, &xg, v);
    zt_op_to_rgb8(cpu, &yc, &xc);
    zt_op_to_rgb8(gpu, &yg, &xg);
    zt_err ec = {0}, eg = {0};
    int ok = zt_backend_sync(cpu, &ec) == ZT_OK && zt_backend_sync(gpu, &eg) == ZT_OK;
    CHECK(ok, "%s: %s%s", name, ec.msg, eg.msg);
    int64_t first = -1;
    long diff = ok ? bits_differ(&yc, &yg, &first) : -1;
    CHECK(ok && diff == 0, "%s: %ld of %lld bytes differ, first at %lld", name, diff,
          (long long)n, (long long)first);
    /* the same image's values that are not finite, counted on each */
    uint64_t nc = 0, ng = 0;
    CHECK(zt_backend_count_nonfinite(cpu, &xc, &nc, &ec) == ZT_OK &&
              zt_backend_count_nonfinite(gpu, &xg, &ng, &eg) == ZT_OK && nc == 5 && ng == 5,
          "%s: %llu and %llu values not finite (5): %s%s", name, (unsigned long long)nc,
          (unsigned long long)ng, ec.msg, eg.msg);
    free(v);
    zt_backend_release(cpu, xc.data);
    zt_backend_release(cpu, yc.data);
    zt_backend_release(gpu, xg.data);
    zt_backend_release(gpu, yg.data);
}

static void test_rgb8(void)
{
    one_rgb8("to_rgb8 F32", ZT_F32, 67, 129);
    one_rgb8("to_rgb8 BF16", ZT_BF16, 16, 24);
}

/* ---- timings (ZT_BENCH=1) ------------------------------------------------- */

static zt_tensor dev_rand(zt_dtype dt, int ndim, const int64_t *shape, float lo, float hi)
{
    zt_tensor t = alloc_on(gpu, dt, ndim, shape);
    int64_t n = zt_tensor_numel(&t);
    float *v = malloc(sizeof(float) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++)
        v[i] = frand(lo, hi);
    upload_floats(gpu, &t, v);
    free(v);
    return t;
}

typedef void (*bench_fn)(void *ctx);

/* median over 5 rounds of the mean time of `iters` back-to-back launches */
static double bench(bench_fn fn, void *ctx, int iters)
{
    zt_err err = {0};
    fn(ctx); /* warm-up: handles, kernel loads, scratch growth */
    zt_backend_sync(gpu, &err);
    double t[5];
    for (int r = 0; r < 5; r++) {
        double t0 = zt_now_ms() / 1e3;
        for (int i = 0; i < iters; i++)
            fn(ctx);
        if (zt_backend_sync(gpu, &err) != ZT_OK)
            fprintf(stderr, "bench: %s\n", err.msg);
        t[r] = (zt_now_ms() / 1e3 - t0) / iters;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (t[j] < t[i]) {
                double s = t[i];
                t[i] = t[j];
                t[j] = s;
            }
    return t[2];
}

typedef struct {
    zt_tensor *o, *a, *b, *c;
    int flag;
    float f;
} bctx;

static void b_attn(void *p)
{
    bctx *c = p;
    zt_op_attention(gpu, c->o, c->a, c->b, c->c, c->flag, c->f);
}

static void b_matmul(void *p)
{
    bctx *c = p;
    zt_op_matmul(gpu, c->o, c->a, c->b, NULL);
}

static void b_conv(void *p)
{
    bctx *c = p;
    zt_op_conv2d(gpu, c->o, c->a, c->b, c->c);
}

static void b_gn(void *p)
{
    bctx *c = p;
    zt_op_groupnorm(gpu, c->o, c->a, 32, c->b, c->c, 1e-6f, 1);
}

static void b_rms(void *p)
{
    bctx *c = p;
    zt_op_rmsnorm(gpu, c->o, c->a, c->b, c->c, 1e-5f);
}

static zt_qmat bq; /* E4M3 rows for the fp8 timings */

static void b_rms_q(void *p)
{
    bctx *c = p;
    zt_op_rmsnorm_q(gpu, &bq, c->a, c->b, c->c, 1e-5f);
}

static void b_glu_q(void *p)
{
    bctx *c = p;
    zt_op_swiglu_q(gpu, &bq, c->a, c->b);
}

static void b_glu_then_q(void *p)
{
    bctx *c = p;
    zt_op_swiglu(gpu, c->o, c->a, c->b);
    zt_op_quantize(gpu, &bq, c->o);
}

/* The fp8 feed-forward's fused SwiGLU -> E4M3 against the two ops, and
 * the fused RMSNorm -> E4M3, at the 1024x1024 DiT's rows. */
static void bench_fp8_rows(void)
{
    const int64_t S = 4128, D = 3840, F = 10240;
    zt_tensor g = dev_rand(ZT_BF16, 2, S4(S, F, 0, 0), -2, 2);
    zt_tensor u = dev_rand(ZT_BF16, 2, S4(S, F, 0, 0), -2, 2);
    zt_tensor o = alloc_on(gpu, ZT_BF16, 2, S4(S, F, 0, 0));
    zt_tensor w = dev_rand(ZT_BF16, 1, S4(D, 0, 0, 0), 0.5f, 1.5f);
    bq = alloc_qmat(gpu, S, F);
    bctx c = {&o, &g, &u, NULL, 0, 0};
    double bytes = (double)S * F * (2 + 2 + 1);
    double t = bench(b_glu_q, &c, 20);
    printf("bench %-40s %9.3f ms %7.1f GB/s\n", "swiglu_q 4128x10240", t * 1e3, bytes / t * 1e-9);
    t = bench(b_glu_then_q, &c, 20);
    printf("bench %-40s %9.3f ms\n", "swiglu then quantize 4128x10240", t * 1e3);
    zt_qmat big = bq;
    bq = (zt_qmat){zt_tensor_2d(ZT_F8E4M3, S, D, big.q.data), zt_tensor_rows(&big.s, 0, S)};
    zt_tensor x = zt_tensor_2d(ZT_BF16, S, D, g.data);
    c = (bctx){&o, &x, &w, &w, 0, 0};
    t = bench(b_rms_q, &c, 20);
    printf("bench %-40s %9.3f ms %7.1f GB/s\n", "rmsnorm_q 4128x3840", t * 1e3,
           (double)S * D * 3 / t * 1e-9);
    zt_backend_release(gpu, g.data);
    zt_backend_release(gpu, u.data);
    zt_backend_release(gpu, o.data);
    zt_backend_release(gpu, w.data);
    zt_backend_release(gpu, big.q.data);
    zt_backend_release(gpu, big.s.data);
}

static void bench_attn(const char *name, int64_t S, int64_t Hq, int64_t Hkv, int64_t hd,
                       int causal, int iters)
{
    zt_tensor q = dev_rand(ZT_BF16, 3, S4(S, Hq, hd, 0), -3, 3);
    zt_tensor k = dev_rand(ZT_BF16, 3, S4(S, Hkv, hd, 0), -1, 1);
    zt_tensor v = dev_rand(ZT_BF16, 3, S4(S, Hkv, hd, 0), -1, 1);
    zt_tensor o = alloc_on(gpu, ZT_BF16, 3, S4(S, Hq, hd, 0));
    bctx c = {&o, &q, &k, &v, causal, 1.0f / sqrtf((float)hd)};
    double t = bench(b_attn, &c, iters);
    double fl = 4.0 * (double)S * (double)S * (double)Hq * (double)hd * (causal ? 0.5 : 1.0);
    printf("bench %-40s %9.3f ms %7.1f TFLOP/s\n", name, t * 1e3, fl / t * 1e-12);
    zt_backend_release(gpu, q.data);
    zt_backend_release(gpu, k.data);
    zt_backend_release(gpu, v.data);
    zt_backend_release(gpu, o.data);
}

static void bench_matmul(const char *name, int64_t M, int64_t N, int64_t K, int iters)
{
    zt_tensor x = dev_rand(ZT_BF16, 2, S4(M, K, 0, 0), -1, 1);
    zt_tensor w = dev_rand(ZT_BF16, 2, S4(N, K, 0, 0), -1, 1);
    zt_tensor y = alloc_on(gpu, ZT_BF16, 2, S4(M, N, 0, 0));
    bctx c = {&y, &x, &w, NULL, 0, 0};
    double t = bench(b_matmul, &c, iters);
    printf("bench %-40s %9.3f ms %7.1f TFLOP/s\n", name, t * 1e3,
           2.0 * (double)M * (double)N * (double)K / t * 1e-12);
    zt_backend_release(gpu, x.data);
    zt_backend_release(gpu, w.data);
    zt_backend_release(gpu, y.data);
}

static void bench_conv(const char *name, int64_t Ci, int64_t Co, int64_t H, int64_t W, int iters)
{
    zt_tensor x = dev_rand(ZT_BF16, 3, S4(H, W, Ci, 0), -1, 1);
    zt_tensor w = dev_rand(ZT_BF16, 4, S4(Co, Ci, 3, 3), -0.1f, 0.1f);
    zt_tensor b = dev_rand(ZT_BF16, 1, S4(Co, 0, 0, 0), -0.1f, 0.1f);
    zt_tensor y = alloc_on(gpu, ZT_BF16, 3, S4(H, W, Co, 0));
    bctx c = {&y, &x, &w, &b, 0, 0};
    double t = bench(b_conv, &c, iters);
    printf("bench %-40s %9.3f ms %7.1f TFLOP/s\n", name, t * 1e3,
           2.0 * (double)Co * (double)Ci * 9 * (double)(H * W) / t * 1e-12);
    zt_backend_release(gpu, x.data);
    zt_backend_release(gpu, w.data);
    zt_backend_release(gpu, b.data);
    zt_backend_release(gpu, y.data);
}

static void b_rope(void *p)
{
    bctx *c = p;
    zt_op_rmsnorm_rope(gpu, c->a, c->b, 1e-6f, c->c, ZT_ROPE_INTERLEAVED);
}

/* The DiT's q norm and RoPE in place, [4128, 30, 128]. */
static void bench_rope(void)
{
    const int64_t S = 4128, H = 30, hd = 128;
    zt_tensor x = dev_rand(ZT_BF16, 3, S4(S, H, hd, 0), -3, 3);
    zt_tensor w = dev_rand(ZT_BF16, 1, S4(hd, 0, 0, 0), 0.5f, 1.5f);
    zt_tensor cs = dev_rand(ZT_F32, 3, S4(S, hd / 2, 2, 0), -1, 1);
    bctx c = {NULL, &x, &w, &cs, 0, 0};
    double t = bench(b_rope, &c, 20);
    printf("bench %-40s %9.3f ms %7.1f GB/s\n", "rmsnorm_rope 4128x30x128", t * 1e3,
           2.0 * 2 * S * H * hd / t * 1e-9);
    zt_backend_release(gpu, x.data);
    zt_backend_release(gpu, w.data);
    zt_backend_release(gpu, cs.data);
}

static void b_resnorm(void *p)
{
    bctx *c = p;
    zt_op_residual_norm(gpu, c->a, c->b, c->c, c->c, c->flag ? NULL : c->o,
                        c->flag ? &bq : NULL, c->c, c->c, 1e-5f);
}

static void b_resnorm_2ops(void *p)
{
    bctx *c = p;
    zt_op_norm_gated_add(gpu, c->a, c->b, c->c, c->c, 1e-5f);
    if (c->flag)
        zt_op_rmsnorm_q(gpu, &bq, c->a, c->c, c->c, 1e-5f);
    else
        zt_op_rmsnorm(gpu, c->o, c->a, c->c, c->c, 1e-5f);
}

/* The DiT's gated residual and the next norm over x [4128, 3840] into y,
 * in one pass and as two ops, to BF16 and to E4M3 rows; v [3840] serves as
 * every weight and gate. */
static void bench_residual(zt_tensor *x, zt_tensor *y, zt_tensor *v)
{
    const int64_t S = 4128, D = 3840;
    zt_tensor o = dev_rand(ZT_BF16, 2, S4(S, D, 0, 0), -1, 1);
    bq = alloc_qmat(gpu, S, D);
    for (int q8 = 0; q8 < 2; q8++) {
        bctx c = {y, x, &o, v, q8, 0};
        double t1 = bench(b_resnorm, &c, 20), t2 = bench(b_resnorm_2ops, &c, 20);
        double bytes = (double)S * D * (2 + 2 + 2 + (q8 ? 1 : 2));
        printf("bench %-40s %9.3f ms %7.1f GB/s (two ops %.3f ms)\n",
               q8 ? "residual_norm 4128x3840 to E4M3" : "residual_norm 4128x3840", t1 * 1e3,
               bytes / t1 * 1e-9, t2 * 1e3);
    }
    zt_backend_release(gpu, o.data);
    zt_backend_release(gpu, bq.q.data);
    zt_backend_release(gpu, bq.s.data);
}

static void run_bench(void)
{
    bench_attn("attention DiT S4128 30x128", 4128, 30, 30, 128, 0, 10);
    bench_attn("attention textenc S512 32/8x128 causal", 512, 32, 8, 128, 1, 50);
    bench_attn("attention VAE 1024^2 S16384 1x512", 16384, 1, 1, 512, 0, 3);
    bench_attn("attention VAE 1536^2 S36864 1x512", 36864, 1, 1, 512, 0, 2);
    bench_attn("attention VAE 2048^2 S65536 1x512", 65536, 1, 1, 512, 0, 2);
    bench_matmul("matmul 4128x3840x3840", 4128, 3840, 3840, 20);
    bench_matmul("matmul 4128x10240x3840 (w1/w3)", 4128, 10240, 3840, 10);
    bench_matmul("matmul 4128x3840x10240 (w2)", 4128, 3840, 10240, 10);
    bench_fp8_rows();
    bench_rope();
    bench_conv("conv3x3 128->128 1024x1024", 128, 128, 1024, 1024, 3);
    bench_conv("conv3x3 512->512 128x128", 512, 512, 128, 128, 10);
    bench_conv("conv3x3 256->256 1024x1024", 256, 256, 1024, 1024, 3);

    zt_tensor x = dev_rand(ZT_BF16, 3, S4(1024, 1024, 128, 0), -1, 1);
    zt_tensor y = alloc_on(gpu, ZT_BF16, 3, S4(1024, 1024, 128, 0));
    zt_tensor w = dev_rand(ZT_BF16, 1, S4(128, 0, 0, 0), 0.5f, 1.5f);
    zt_tensor b = dev_rand(ZT_BF16, 1, S4(128, 0, 0, 0), -1, 1);
    bctx c = {&y, &x, &w, &b, 0, 0};
    double t = bench(b_gn, &c, 5);
    printf("bench %-40s %9.3f ms %7.1f GB/s\n", "groupnorm+silu 128x1024x1024", t * 1e3,
           2.0 * 2 * 128 * 1024 * 1024 / t * 1e-9);
    zt_backend_release(gpu, x.data);
    zt_backend_release(gpu, y.data);
    zt_backend_release(gpu, w.data);
    zt_backend_release(gpu, b.data);

    x = dev_rand(ZT_BF16, 2, S4(4128, 3840, 0, 0), -1, 1);
    y = alloc_on(gpu, ZT_BF16, 2, S4(4128, 3840, 0, 0));
    w = dev_rand(ZT_BF16, 1, S4(3840, 0, 0, 0), 0.5f, 1.5f);
    b = dev_rand(ZT_BF16, 1, S4(3840, 0, 0, 0), 0.5f, 1.5f);
    c = (bctx){&y, &x, &w, &b, 0, 0};
    t = bench(b_rms, &c, 20);
    printf("bench %-40s %9.3f ms %7.1f GB/s\n", "rmsnorm 4128x3840 w scale", t * 1e3,
           2.0 * 2 * 4128 * 3840 / t * 1e-9);
    bench_residual(&x, &y, &b);
    zt_backend_release(gpu, x.data);
    zt_backend_release(gpu, y.data);
    zt_backend_release(gpu, w.data);
    zt_backend_release(gpu, b.data);
}

int main(void)
{
    zt_err err = {0};
    if (zt_backend_cuda_new(&gpu, 0, &err) != ZT_OK) {
        printf("cuda_ops: skipped: %s\n", err.msg);
        return zt_test_summary("cuda_ops");
    }
    if (zt_backend_cpu_new(&cpu, 0, &err) != ZT_OK) {
        fprintf(stderr, "cpu backend: %s\n", err.msg);
        zt_backend_free(gpu);
        return 1;
    }
    RUN_SEEDED(test_copy, seed_rng);
    RUN_SEEDED(test_matmul, seed_rng);
    RUN_SEEDED(test_fp8, seed_rng);
    RUN_SEEDED(test_fp8_attention, seed_rng);
    RUN_SEEDED(test_norms, seed_rng);
    RUN_SEEDED(test_groupnorm, seed_rng);
    RUN_SEEDED(test_rope, seed_rng);
    RUN_SEEDED(test_fused_norms, seed_rng);
    RUN_SEEDED(test_attention, seed_rng);
    RUN_SEEDED(test_attention_blocks, seed_rng);
    RUN_SEEDED(test_elementwise, seed_rng);
    RUN_SEEDED(test_embed, seed_rng);
    RUN_SEEDED(test_conv, seed_rng);
    RUN_SEEDED(test_layout, seed_rng);
    RUN_SEEDED(test_rgb8, seed_rng);
    const char *bv = getenv("ZT_BENCH");
    if (bv && *bv && strcmp(bv, "0"))
        run_bench();
    size_t fr = 0, tot = 0;
    if (zt_backend_sync(gpu, &err) == ZT_OK && gpu->vt->mem_info(gpu, &fr, &tot, &err) == ZT_OK)
        printf("cuda_ops: device memory %zu MiB free of %zu MiB\n", fr >> 20, tot >> 20);
    zt_backend_free(cpu);
    zt_backend_free(gpu);
    return zt_test_summary("cuda_ops");
}
