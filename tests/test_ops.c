/*
 * test_ops.c - the backend ops on the CPU backend, checked against values
 * worked out by hand or recomputed here by a separate, plain formulation in
 * double (explicit score matrices, padded convolution loops, complex
 * rotations). Also: argument checking and the sticky error, memory helpers,
 * arenas, and the scalar BF16/F16 conversions.
 */
#include <complex.h>
#include <stdint.h>

#include "backend.h"
#include "harness.h"

static zt_backend *be;

/* ---- helpers -------------------------------------------------------------- */

static uint32_t rng_state = 12345u;

/* Each test draws from its own stream (harness.h zt_test_seed). */
static void seed_rng(uint64_t seed)
{
    rng_state = (uint32_t)(seed ^ (seed >> 32));
    if (!rng_state)
        rng_state = 12345u;
}

/* Uniform in [-1, 1): xorshift32, deterministic across runs. */
static float frand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)((rng_state >> 8) * (1.0 / 8388608.0) - 1.0);
}

static float *frand_buf(long n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    for (long i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

static zt_tensor t1d(zt_dtype dt, int64_t a, void *data)
{
    int64_t s[1] = {a};
    return zt_tensor_make(dt, 1, s, data);
}

static zt_tensor t3d(zt_dtype dt, int64_t a, int64_t b, int64_t c, void *data)
{
    int64_t s[3] = {a, b, c};
    return zt_tensor_make(dt, 3, s, data);
}

/* Syncs and expects no error; returns 1 when clean. */
static int sync_ok(const char *what)
{
    zt_err e = {ZT_OK, ""};
    zt_status s = zt_backend_sync(be, &e);
    CHECK(s == ZT_OK, "%s: unexpected error: %s", what, e.msg);
    return s == ZT_OK;
}

/* Syncs and expects error code with msg containing needle. */
static void sync_expect(zt_status code, const char *needle)
{
    zt_err e = {ZT_OK, ""};
    zt_status s = zt_backend_sync(be, &e);
    CHECK(s == code, "want status %s, got %s (%s)", zt_status_str(code), zt_status_str(s),
          e.msg);
    CHECK(strstr(e.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", e.msg, needle);
    CHECK(be->error.code == ZT_OK, "error not cleared by sync");
}

/* Values rounded through a narrow dtype, as the op will see them. */
static void quantise(float *v, long n, zt_dtype dt)
{
    for (long i = 0; i < n; i++) {
        if (dt == ZT_BF16)
            v[i] = zt_bf16_to_f32(zt_f32_to_bf16(v[i]));
        else if (dt == ZT_F16)
            v[i] = zt_f16_to_f32(zt_f32_to_f16(v[i]));
    }
}

/* Converts n floats to dt into a new buffer. */
static void *encode(const float *v, long n, zt_dtype dt)
{
    if (dt == ZT_F32) {
        float *p = malloc((size_t)n * 4);
        memcpy(p, v, (size_t)n * 4);
        return p;
    }
    uint16_t *p = malloc((size_t)n * 2);
    for (long i = 0; i < n; i++)
        p[i] = dt == ZT_BF16 ? zt_f32_to_bf16(v[i]) : zt_f32_to_f16(v[i]);
    return p;
}

/* Decodes n values of dt into floats. */
static void decode(float *out, const void *src, long n, zt_dtype dt)
{
    for (long i = 0; i < n; i++) {
        if (dt == ZT_F32)
            out[i] = ((const float *)src)[i];
        else if (dt == ZT_BF16)
            out[i] = zt_bf16_to_f32(((const uint16_t *)src)[i]);
        else
            out[i] = zt_f16_to_f32(((const uint16_t *)src)[i]);
    }
}

/* ---- scalar conversions ----------------------------------------------------- */

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_bf16_conversion(void)
{
    CHECK(zt_f32_to_bf16(1.0f) == 0x3f80, "1.0 -> %#x", zt_f32_to_bf16(1.0f));
    CHECK(zt_f32_to_bf16(-2.0f) == 0xc000, "-2.0");
    CHECK(zt_f32_to_bf16(0.1f) == 0x3dcd, "0.1 -> %#x", zt_f32_to_bf16(0.1f));
    CHECK(zt_f32_to_bf16(0.025440143f) == 0x3cd0, "synthetic weight value -> %#x",
          zt_f32_to_bf16(0.025440143f));
    /* ties go to the even mantissa */
    CHECK(zt_f32_to_bf16(from_bits(0x3f808000u)) == 0x3f80, "tie down to even");
    CHECK(zt_f32_to_bf16(from_bits(0x3f818000u)) == 0x3f82, "tie up to even");
    CHECK(zt_f32_to_bf16(from_bits(0x3f808001u)) == 0x3f81, "above tie rounds up");
    CHECK(zt_f32_to_bf16(INFINITY) == 0x7f80, "inf");
    CHECK(isnan(zt_bf16_to_f32(zt_f32_to_bf16(NAN))), "NaN stays NaN");
    CHECK(zt_bf16_to_f32(0x4049) == 3.140625f, "0x4049 -> %g", zt_bf16_to_f32(0x4049));
    CHECK(zt_bf16_to_f32(0xbf80) == -1.0f, "0xbf80");
}

static void test_f16_conversion(void)
{
    CHECK(zt_f32_to_f16(1.0f) == 0x3c00, "1.0 -> %#x", zt_f32_to_f16(1.0f));
    CHECK(zt_f32_to_f16(-2.0f) == 0xc000, "-2.0");
    CHECK(zt_f32_to_f16(0.5f) == 0x3800, "0.5");
    CHECK(zt_f32_to_f16(0.1f) == 0x2e66, "0.1 -> %#x", zt_f32_to_f16(0.1f));
    CHECK(zt_f32_to_f16(65504.0f) == 0x7bff, "max");
    CHECK(zt_f32_to_f16(65520.0f) == 0x7c00, "overflow to inf");
    CHECK(zt_f32_to_f16(ldexpf(1.0f, -14)) == 0x0400, "smallest normal");
    CHECK(zt_f32_to_f16(ldexpf(1.0f, -24)) == 0x0001, "smallest subnormal");
    CHECK(zt_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000, "subnormal tie to even (0)");
    CHECK(zt_f32_to_f16(ldexpf(3.0f, -25)) == 0x0002, "subnormal tie to even (2)");
    CHECK(zt_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00, "tie down to even");
    CHECK(zt_f32_to_f16(1.0f + ldexpf(3.0f, -11)) == 0x3c02, "tie up to even");
    CHECK(zt_f16_to_f32(0x3555) == 0.333251953125f, "0x3555");
    CHECK(zt_f16_to_f32(0x7bff) == 65504.0f, "0x7bff");
    CHECK(zt_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "0x0001");
    CHECK(zt_f16_to_f32(0xfc00) == -INFINITY, "-inf");
    CHECK(isnan(zt_f16_to_f32(0x7e00)), "NaN");
}

/* E4M3 (OCP): 4 exponent bits (bias 7), 3 mantissa bits, no infinities,
 * 0x7f / 0xff NaN, largest finite 448, subnormals m * 2^-9. */
static void test_e4m3_conversion(void)
{
    CHECK(zt_f32_to_e4m3(1.0f) == 0x38, "1.0 -> %#x", zt_f32_to_e4m3(1.0f));
    CHECK(zt_f32_to_e4m3(-2.0f) == 0xc0, "-2.0 -> %#x", zt_f32_to_e4m3(-2.0f));
    CHECK(zt_f32_to_e4m3(448.0f) == 0x7e, "448 -> %#x", zt_f32_to_e4m3(448.0f));
    CHECK(zt_f32_to_e4m3(1e6f) == 0x7e && zt_f32_to_e4m3(-1e6f) == 0xfe, "saturates");
    CHECK(zt_f32_to_e4m3(INFINITY) == 0x7e, "inf saturates");
    CHECK((zt_f32_to_e4m3(NAN) & 0x7f) == 0x7f, "NaN");
    CHECK(zt_f32_to_e4m3(ldexpf(1.0f, -6)) == 0x08, "smallest normal");
    CHECK(zt_f32_to_e4m3(ldexpf(1.0f, -9)) == 0x01, "smallest subnormal");
    CHECK(zt_f32_to_e4m3(ldexpf(1.0f, -10)) == 0x00, "subnormal tie to even (0)");
    CHECK(zt_f32_to_e4m3(ldexpf(3.0f, -10)) == 0x02, "subnormal tie to even (2)");
    CHECK(zt_f32_to_e4m3(1.0625f) == 0x38, "tie down to even (1 + 1/16)");
    CHECK(zt_f32_to_e4m3(1.1875f) == 0x3a, "tie up to even (1 + 3/16)");
    CHECK(zt_f32_to_e4m3(1.07f) == 0x39, "above the tie rounds up");
    CHECK(zt_f32_to_e4m3(15.5f) == 0x58, "carry into the exponent (15.5 -> 16)");
    CHECK(zt_e4m3_to_f32(0x7e) == 448.0f && zt_e4m3_to_f32(0x01) == ldexpf(1.0f, -9),
          "decode ends");
    CHECK(zt_e4m3_to_f32(0x3b) == 1.375f && zt_e4m3_to_f32(0xd6) == -14.0f, "decode");
    CHECK(isnan(zt_e4m3_to_f32(0x7f)) && isnan(zt_e4m3_to_f32(0xff)), "decode NaN");
    /* every finite code decodes to a value that encodes back to it, and the
     * midpoint between neighbours goes to the one with an even code */
    int bad = 0;
    for (int c = 0; c < 256; c++) {
        if ((c & 0x7f) == 0x7f)
            continue;
        float v = zt_e4m3_to_f32((uint8_t)c);
        bad += zt_f32_to_e4m3(v) != (c == 0x80 ? 0x80 : c);
        if ((c & 0x7f) < 0x7e) {
            float mid = 0.5f * (v + zt_e4m3_to_f32((uint8_t)(c + 1)));
            int want = (c & 1) ? c + 1 : c;
            bad += zt_f32_to_e4m3(mid) != want;
        }
    }
    CHECK(bad == 0, "%d codes fail the round trip or the tie rule", bad);
}

/* ---- matmul ------------------------------------------------------------------ */

static void test_matmul_small(void)
{
    /* [[1,2,3],[4,5,6]] . [[1,0,-1],[.5,.5,.5]]^T + [10,20] */
    float x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f}, b[2] = {10, 20};
    float y[4], want[4] = {8, 23, 8, 27.5f}, want_nb[4] = {-2, 3, -2, 7.5f};
    zt_tensor X = zt_tensor_2d(ZT_F32, 2, 3, x), W = zt_tensor_2d(ZT_F32, 2, 3, w);
    zt_tensor B = t1d(ZT_F32, 2, b), Y = zt_tensor_2d(ZT_F32, 2, 2, y);
    zt_op_matmul(be, &Y, &X, &W, &B);
    if (sync_ok("matmul"))
        zt_test_close("matmul with bias", y, want, 4, 0, 0);
    zt_op_matmul(be, &Y, &X, &W, NULL);
    if (sync_ok("matmul"))
        zt_test_close("matmul no bias", y, want_nb, 4, 0, 0);
}

/* y [M, N] = x [M, K] . w [N, K]^T + b, in double. */
static void ref_matmul(float *y, const float *x, const float *w, const float *b, long m,
                       long n, long k)
{
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            double s = b ? b[j] : 0;
            for (long t = 0; t < k; t++)
                s += (double)x[i * k + t] * w[j * k + t];
            y[i * n + j] = (float)s;
        }
}

/* x given as rank 3 [a, b, K]; weights and output in the given dtypes. */
static void matmul_case(long a, long bdim, long k, long n, zt_dtype wdt, zt_dtype ydt)
{
    long m = a * bdim;
    float *x = frand_buf(m * k), *w = frand_buf(n * k), *bias = frand_buf(n);
    float *ref = malloc((size_t)(m * n) * 4), *got = malloc((size_t)(m * n) * 4);
    quantise(w, n * k, wdt);
    quantise(bias, n, wdt);
    void *wq = encode(w, n * k, wdt), *bq = encode(bias, n, wdt);
    void *yb = malloc((size_t)(m * n) * 4);
    ref_matmul(ref, x, w, bias, m, n, k);
    zt_tensor X = t3d(ZT_F32, a, bdim, k, x), W = zt_tensor_2d(wdt, n, k, wq);
    zt_tensor B = t1d(wdt, n, bq), Y = t3d(ydt, a, bdim, n, yb);
    zt_op_matmul(be, &Y, &X, &W, &B);
    if (sync_ok("matmul")) {
        decode(got, yb, m * n, ydt);
        char what[80];
        snprintf(what, sizeof what, "matmul %ldx%ldx%ld w %s y %s", m, k, n,
                 zt_dtype_name(wdt), zt_dtype_name(ydt));
        double tol = ydt == ZT_F32 ? 1e-4 : ydt == ZT_F16 ? 2e-3 : 1e-2;
        zt_test_close(what, got, ref, m * n, tol, tol);
    }
    free(x), free(w), free(bias), free(ref), free(got), free(wq), free(bq), free(yb);
}

static void test_matmul_dtypes(void)
{
    matmul_case(3, 13, 70, 45, ZT_F32, ZT_F32);  /* K, N not multiples of 8 or 16 */
    matmul_case(3, 13, 70, 45, ZT_BF16, ZT_F32);
    matmul_case(3, 13, 70, 45, ZT_F16, ZT_F32);
    matmul_case(1, 1, 9, 3, ZT_BF16, ZT_F32);    /* one row */
    matmul_case(2, 65, 200, 70, ZT_BF16, ZT_F32); /* big enough to use threads */
    matmul_case(2, 65, 200, 70, ZT_F32, ZT_F32);
    matmul_case(1, 20, 32, 24, ZT_F32, ZT_BF16); /* narrow outputs */
    matmul_case(1, 20, 32, 24, ZT_BF16, ZT_F16);
}

static void test_matmul_threads_agree(void)
{
    /* every output is computed by the same loop whatever the split, so
     * one thread and three threads must agree bit for bit */
    zt_backend *b1 = NULL, *b3 = NULL;
    zt_err e;
    CHECK(zt_backend_cpu_new(&b1, 1, &e) == ZT_OK, "cpu_new: %s", e.msg);
    CHECK(zt_backend_cpu_new(&b3, 3, &e) == ZT_OK, "cpu_new: %s", e.msg);
    if (!b1 || !b3)
        return;
    long m = 150, k = 96, n = 100;
    float *x = frand_buf(m * k), *w = frand_buf(n * k);
    float *y1 = malloc((size_t)(m * n) * 4), *y3 = malloc((size_t)(m * n) * 4);
    void *wq = encode(w, n * k, ZT_BF16);
    zt_tensor X = zt_tensor_2d(ZT_F32, m, k, x), W = zt_tensor_2d(ZT_BF16, n, k, wq);
    zt_tensor Y1 = zt_tensor_2d(ZT_F32, m, n, y1), Y3 = zt_tensor_2d(ZT_F32, m, n, y3);
    zt_op_matmul(b1, &Y1, &X, &W, NULL);
    zt_op_matmul(b3, &Y3, &X, &W, NULL);
    CHECK(zt_backend_sync(b1, &e) == ZT_OK && zt_backend_sync(b3, &e) == ZT_OK, "sync");
    CHECK(memcmp(y1, y3, (size_t)(m * n) * 4) == 0, "1 and 3 threads differ");
    free(x), free(w), free(y1), free(y3), free(wq);
    zt_backend_free(b1);
    zt_backend_free(b3);
}

/* ---- norms --------------------------------------------------------------------- */

static void test_rmsnorm(void)
{
    /* [3, 4]: mean square 12.5, rms 3.5355339 */
    float x[2] = {3, 4}, y[2], want[2] = {0.84852814f, 1.13137085f};
    zt_tensor X = t1d(ZT_F32, 2, x), Y = t1d(ZT_F32, 2, y);
    zt_op_rmsnorm(be, &Y, &X, NULL, NULL, 0.0f);
    if (sync_ok("rmsnorm"))
        zt_test_close("rmsnorm [3,4]", y, want, 2, 1e-6, 1e-6);

    /* random rows with weight, scale and eps; in place */
    long rows = 7, c = 37;
    float *v = frand_buf(rows * c), *w = frand_buf(c), *s = frand_buf(c);
    float *ref = malloc((size_t)(rows * c) * 4);
    float eps = 1e-5f;
    for (long r = 0; r < rows; r++) {
        double ss = 0;
        for (long i = 0; i < c; i++)
            ss += (double)v[r * c + i] * v[r * c + i];
        double rms = sqrt(ss / (double)c + eps);
        for (long i = 0; i < c; i++)
            ref[r * c + i] = (float)(v[r * c + i] / rms * w[i] * s[i]);
    }
    zt_tensor V = zt_tensor_2d(ZT_F32, rows, c, v), W = t1d(ZT_F32, c, w), S = t1d(ZT_F32, c, s);
    zt_op_rmsnorm(be, &V, &V, &W, &S, eps);
    if (sync_ok("rmsnorm in place"))
        zt_test_close("rmsnorm random in place", v, ref, rows * c, 1e-5, 1e-5);
    free(v), free(w), free(s), free(ref);
}

static void test_layernorm(void)
{
    /* [1,2,3,4]: mean 2.5, biased variance 1.25 */
    float x[4] = {1, 2, 3, 4}, y[4];
    float want[4] = {-1.34164079f, -0.44721360f, 0.44721360f, 1.34164079f};
    zt_tensor X = t1d(ZT_F32, 4, x), Y = t1d(ZT_F32, 4, y);
    zt_op_layernorm(be, &Y, &X, NULL, NULL, NULL, 0.0f);
    if (sync_ok("layernorm"))
        zt_test_close("layernorm [1,2,3,4]", y, want, 4, 1e-6, 1e-6);

    long rows = 5, c = 29;
    float *v = frand_buf(rows * c), *w = frand_buf(c), *b = frand_buf(c), *s = frand_buf(c);
    float *out = malloc((size_t)(rows * c) * 4), *ref = malloc((size_t)(rows * c) * 4);
    for (long r = 0; r < rows; r++) {
        double mean = 0, var = 0;
        for (long i = 0; i < c; i++)
            mean += v[r * c + i] / (double)c;
        for (long i = 0; i < c; i++)
            var += (v[r * c + i] - mean) * (v[r * c + i] - mean) / (double)c;
        for (long i = 0; i < c; i++)
            ref[r * c + i] =
                (float)(((v[r * c + i] - mean) / sqrt(var + 1e-6) * w[i] + b[i]) * s[i]);
    }
    zt_tensor V = zt_tensor_2d(ZT_F32, rows, c, v), O = zt_tensor_2d(ZT_F32, rows, c, out);
    zt_tensor W = t1d(ZT_F32, c, w), B = t1d(ZT_F32, c, b), S = t1d(ZT_F32, c, s);
    zt_op_layernorm(be, &O, &V, &W, &B, &S, 1e-6f);
    if (sync_ok("layernorm"))
        zt_test_close("layernorm random", out, ref, rows * c, 1e-5, 1e-5);
    free(v), free(w), free(b), free(s), free(out), free(ref);
}

/* x [h, w, c] channels last; the reference walks it by channel and pixel */
static void groupnorm_case(long c, long h, long w, int groups, int silu, int affine)
{
    long hw = h * w, n = c * hw, cpg = c / groups;
    float *x = frand_buf(n), *g = frand_buf(c), *b = frand_buf(c);
    float *y = malloc((size_t)n * 4), *ref = malloc((size_t)n * 4);
    for (long i = 0; i < n; i++)
        x[i] = x[i] * 3 + 0.5f; /* an offset, so the mean matters */
    float eps = 1e-6f;
    for (int grp = 0; grp < groups; grp++) {
        /* two passes in double over the group's channels x pixels */
        double mean = 0, var = 0;
        for (long ch = grp * cpg; ch < (grp + 1) * cpg; ch++)
            for (long p = 0; p < hw; p++)
                mean += x[p * c + ch];
        mean /= (double)(cpg * hw);
        for (long ch = grp * cpg; ch < (grp + 1) * cpg; ch++)
            for (long p = 0; p < hw; p++)
                var += (x[p * c + ch] - mean) * (x[p * c + ch] - mean);
        var /= (double)(cpg * hw);
        for (long ch = grp * cpg; ch < (grp + 1) * cpg; ch++)
            for (long p = 0; p < hw; p++) {
                double v = (x[p * c + ch] - mean) / sqrt(var + eps);
                if (affine)
                    v = v * g[ch] + b[ch];
                if (silu)
                    v = v / (1 + exp(-v));
                ref[p * c + ch] = (float)v;
            }
    }
    zt_tensor X = t3d(ZT_F32, h, w, c, x), Y = t3d(ZT_F32, h, w, c, y);
    zt_tensor G = t1d(ZT_F32, c, g), B = t1d(ZT_F32, c, b);
    zt_op_groupnorm(be, &Y, &X, groups, affine ? &G : NULL, affine ? &B : NULL, eps, silu);
    if (sync_ok("groupnorm")) {
        char what[64];
        snprintf(what, sizeof what, "groupnorm C%ld %dgroups silu%d", c, groups, silu);
        zt_test_close(what, y, ref, n, 1e-5, 1e-5);
    }
    free(x), free(g), free(b), free(y), free(ref);
}

static void test_groupnorm(void)
{
    groupnorm_case(6, 3, 4, 3, 0, 1);
    groupnorm_case(6, 3, 4, 3, 1, 1);
    groupnorm_case(8, 5, 5, 8, 0, 0);
    groupnorm_case(64, 32, 32, 32, 1, 1); /* large: threads */
}

/* ---- rope ------------------------------------------------------------------------ */

static void test_rope_hand(void)
{
    /* one position, one head, hd 2, angle 90 degrees: (1, 0) -> (0, 1) */
    float x[2] = {1, 0}, cs[2] = {0, 1}, want[2] = {0, 1};
    zt_tensor X = t3d(ZT_F32, 1, 1, 2, x), CS = t3d(ZT_F32, 1, 1, 2, cs);
    zt_op_rope(be, &X, &CS, ZT_ROPE_INTERLEAVED);
    if (sync_ok("rope"))
        zt_test_close("rope 90 degrees", x, want, 2, 1e-7, 0);
}

static void test_rope(void)
{
    long s = 5, heads = 3, hd = 8, n = s * heads * hd;
    float *cs = malloc((size_t)(s * hd) * 4);
    double ang[5][4];
    for (long p = 0; p < s; p++)
        for (long i = 0; i < hd / 2; i++) {
            ang[p][i] = (double)p * pow(100.0, -2.0 * (double)i / (double)hd) + 0.3 * (double)i;
            cs[(p * hd / 2 + i) * 2] = (float)cos(ang[p][i]);
            cs[(p * hd / 2 + i) * 2 + 1] = (float)sin(ang[p][i]);
        }
    zt_tensor CS = t3d(ZT_F32, s, hd / 2, 2, cs);

    /* NEOX, as the reference writes it: x*cos + rotate_half(x)*sin with
     * cos, sin repeated over both halves and rotate_half(x) = [-x2, x1] */
    float *x = frand_buf(n), *ref = malloc((size_t)n * 4);
    for (long p = 0; p < s; p++)
        for (long h = 0; h < heads; h++) {
            const float *v = x + (p * heads + h) * hd;
            for (long d = 0; d < hd; d++) {
                long i = d % (hd / 2);
                double rot = d < hd / 2 ? -v[d + hd / 2] : v[d - hd / 2];
                ref[(p * heads + h) * hd + d] =
                    (float)(v[d] * (double)cs[(p * hd / 2 + i) * 2] +
                            rot * (double)cs[(p * hd / 2 + i) * 2 + 1]);
            }
        }
    zt_tensor X = t3d(ZT_F32, s, heads, hd, x);
    zt_op_rope(be, &X, &CS, ZT_ROPE_NEOX);
    if (sync_ok("rope neox"))
        zt_test_close("rope neox", x, ref, n, 1e-6, 1e-6);

    /* interleaved: each pair is a complex number multiplied by e^(i angle) */
    float *xi = frand_buf(n);
    for (long p = 0; p < s; p++)
        for (long h = 0; h < heads; h++)
            for (long m = 0; m < hd / 2; m++) {
                const float *v = xi + (p * heads + h) * hd + 2 * m;
                double complex z = v[0] + v[1] * I;
                double complex r = cexp(I * ang[p][m]);
                z *= r;
                ref[(p * heads + h) * hd + 2 * m] = (float)creal(z);
                ref[(p * heads + h) * hd + 2 * m + 1] = (float)cimag(z);
            }
    zt_tensor XI = t3d(ZT_F32, s, heads, hd, xi);
    zt_op_rope(be, &XI, &CS, ZT_ROPE_INTERLEAVED);
    if (sync_ok("rope interleaved"))
        zt_test_close("rope interleaved", xi, ref, n, 1e-6, 1e-6);

    /* a BF16 activation goes through the same rotation */
    float *xb = frand_buf(n);
    quantise(xb, n, ZT_BF16);
    void *xbq = encode(xb, n, ZT_BF16);
    float *got = malloc((size_t)n * 4);
    zt_tensor XB = t3d(ZT_BF16, s, heads, hd, xbq), XF = t3d(ZT_F32, s, heads, hd, xb);
    zt_op_rope(be, &XF, &CS, ZT_ROPE_INTERLEAVED);
    zt_op_rope(be, &XB, &CS, ZT_ROPE_INTERLEAVED);
    if (sync_ok("rope bf16")) {
        decode(got, xbq, n, ZT_BF16);
        zt_test_close("rope bf16", got, xb, n, 1e-2, 1e-2);
    }
    free(cs), free(x), free(ref), free(xi), free(xb), free(xbq), free(got);
}

/* The fused ops against their formulas in double: the q/k norm with RoPE
 * (interleaved pairs as complex numbers) and the normed, gated residual. */
static void test_fused_norms(void)
{
    long s = 4, heads = 2, hd = 8, n = s * heads * hd;
    float *cs = malloc((size_t)(s * hd) * 4), *x = frand_buf(n), *ref = malloc((size_t)n * 4);
    float w[8] = {1.0f, 0.5f, 2.0f, 1.5f, 0.25f, 1.0f, 3.0f, 0.75f};
    double ang[4][4];
    for (long p = 0; p < s; p++)
        for (long i = 0; i < hd / 2; i++) {
            ang[p][i] = 0.7 * (double)p + 0.3 * (double)i;
            cs[(p * hd / 2 + i) * 2] = (float)cos(ang[p][i]);
            cs[(p * hd / 2 + i) * 2 + 1] = (float)sin(ang[p][i]);
        }
    const float eps = 1e-6f;
    for (long r = 0; r < s * heads; r++) {
        const float *v = x + r * hd;
        double ss = 0;
        for (long d = 0; d < hd; d++)
            ss += (double)v[d] * v[d];
        double inv = 1.0 / sqrt(ss / (double)hd + eps);
        for (long m = 0; m < hd / 2; m++) {
            double complex z = v[2 * m] * inv * w[2 * m] + I * (v[2 * m + 1] * inv * w[2 * m + 1]);
            z *= cexp(I * ang[r / heads][m]);
            ref[r * hd + 2 * m] = (float)creal(z);
            ref[r * hd + 2 * m + 1] = (float)cimag(z);
        }
    }
    zt_tensor X = t3d(ZT_F32, s, heads, hd, x), W = t1d(ZT_F32, hd, w);
    zt_tensor CS = t3d(ZT_F32, s, hd / 2, 2, cs);
    zt_op_rmsnorm_rope(be, &X, &W, eps, &CS, ZT_ROPE_INTERLEAVED);
    if (sync_ok("rmsnorm_rope"))
        zt_test_close("rmsnorm_rope", x, ref, n, 1e-6, 1e-5);
    /* a w of the wrong length is refused */
    zt_tensor W3 = t1d(ZT_F32, 3, w);
    zt_op_rmsnorm_rope(be, &X, &W3, eps, &CS, ZT_ROPE_INTERLEAVED);
    zt_err err = {0};
    CHECK(zt_backend_sync(be, &err) == ZT_ERR_SHAPE && strstr(err.msg, "rmsnorm_rope"),
          "short w: %s", err.msg);

    /* y += g * x / rms(x) * w over rows of 8 */
    float y[16], y0[16], xr[16], g[8] = {0.5f, -1, 2, 0, 1, 1, -0.5f, 0.25f}, want[16];
    float *xs = frand_buf(16);
    for (int i = 0; i < 16; i++) {
        y[i] = y0[i] = (float)i / 4 - 2;
        xr[i] = xs[i] * 30;
    }
    for (int r = 0; r < 2; r++) {
        double ss = 0;
        for (int c = 0; c < 8; c++)
            ss += (double)xr[r * 8 + c] * xr[r * 8 + c];
        double inv = 1.0 / sqrt(ss / 8 + 1e-5);
        for (int c = 0; c < 8; c++)
            want[r * 8 + c] = (float)(y0[r * 8 + c] + g[c] * xr[r * 8 + c] * inv * w[c]);
    }
    zt_tensor Y = zt_tensor_2d(ZT_F32, 2, 8, y), XR = zt_tensor_2d(ZT_F32, 2, 8, xr);
    zt_tensor G = t1d(ZT_F32, 8, g);
    zt_op_norm_gated_add(be, &Y, &XR, &W, &G, 1e-5f);
    if (sync_ok("norm_gated_add"))
        zt_test_close("norm_gated_add", y, want, 16, 1e-6, 1e-5);
    /* y and x may not be the same tensor */
    zt_op_norm_gated_add(be, &Y, &Y, &W, &G, 1e-5f);
    CHECK(zt_backend_sync(be, &err) == ZT_ERR_INVALID && strstr(err.msg, "overlap"),
          "in place: %s", err.msg);
    free(cs), free(x), free(ref), free(xs);
}

/* ---- attention ------------------------------------------------------------------- */

static void test_attention_hand(void)
{
    /* hd 1: q = 1, keys 0 and ln 2 -> weights 1/3, 2/3 over values 3, 6 -> 5 */
    float q[1] = {1}, k[2] = {0, (float)log(2.0)}, v[2] = {3, 6}, o[1], want[1] = {5};
    zt_tensor Q = t3d(ZT_F32, 1, 1, 1, q), K = t3d(ZT_F32, 2, 1, 1, k);
    zt_tensor V = t3d(ZT_F32, 2, 1, 1, v), O = t3d(ZT_F32, 1, 1, 1, o);
    zt_op_attention(be, &O, &Q, &K, &V, 0, 1.0f);
    if (sync_ok("attention"))
        zt_test_close("attention 1/3 2/3", o, want, 1, 1e-6, 1e-6);
}

static void attention_case(long sq, long skv, long hq, long hkv, long hd, int causal)
{
    float *q = frand_buf(sq * hq * hd), *k = frand_buf(skv * hkv * hd);
    float *v = frand_buf(skv * hkv * hd);
    long no = sq * hq * hd;
    float *o = malloc((size_t)no * 4), *ref = malloc((size_t)no * 4);
    double *sc = malloc((size_t)(sq * skv) * sizeof(double));
    float scale = (float)(1.0 / sqrt((double)hd));
    for (long h = 0; h < hq; h++) {
        long kh = h * hkv / hq; /* heads hq/hkv at a time share one kv head */
        /* the whole score matrix of head h, masked, then softmax per row */
        for (long i = 0; i < sq; i++)
            for (long j = 0; j < skv; j++) {
                double d = 0;
                for (long t = 0; t < hd; t++)
                    d += (double)q[(i * hq + h) * hd + t] * k[(j * hkv + kh) * hd + t];
                sc[i * skv + j] = causal && j > i ? -INFINITY : d * scale;
            }
        for (long i = 0; i < sq; i++) {
            double mx = -INFINITY, sum = 0;
            for (long j = 0; j < skv; j++)
                mx = fmax(mx, sc[i * skv + j]);
            for (long j = 0; j < skv; j++)
                sum += (sc[i * skv + j] = exp(sc[i * skv + j] - mx));
            for (long t = 0; t < hd; t++) {
                double acc = 0;
                for (long j = 0; j < skv; j++)
                    acc += sc[i * skv + j] / sum * v[(j * hkv + kh) * hd + t];
                ref[(i * hq + h) * hd + t] = (float)acc;
            }
        }
    }
    zt_tensor Q = t3d(ZT_F32, sq, hq, hd, q), K = t3d(ZT_F32, skv, hkv, hd, k);
    zt_tensor V = t3d(ZT_F32, skv, hkv, hd, v), O = t3d(ZT_F32, sq, hq, hd, o);
    zt_op_attention(be, &O, &Q, &K, &V, causal, scale);
    if (sync_ok("attention")) {
        char what[80];
        snprintf(what, sizeof what, "attention Sq%ld Skv%ld H%ld/%ld causal%d", sq, skv, hq,
                 hkv, causal);
        zt_test_close(what, o, ref, no, 1e-5, 1e-4);
    }
    free(q), free(k), free(v), free(o), free(ref), free(sc);
}

static void test_attention(void)
{
    attention_case(7, 7, 4, 2, 16, 1);  /* GQA, causal */
    attention_case(5, 9, 4, 4, 8, 0);   /* Sq != Skv */
    attention_case(6, 6, 6, 1, 4, 0);   /* one kv head for all */
    attention_case(64, 64, 4, 2, 32, 1); /* large: threads */
}

/* ---- small elementwise ops --------------------------------------------------------- */

static void test_softmax(void)
{
    float x[6] = {0, (float)log(2.0), 1000, 1000, -1, -1}, y[6];
    float want[6] = {1.0f / 3, 2.0f / 3, 0.5f, 0.5f, 0.5f, 0.5f};
    zt_tensor X = zt_tensor_2d(ZT_F32, 3, 2, x), Y = zt_tensor_2d(ZT_F32, 3, 2, y);
    zt_op_softmax(be, &Y, &X);
    if (sync_ok("softmax"))
        zt_test_close("softmax [0, ln2], [1000, 1000]", y, want, 6, 1e-7, 1e-6);
    zt_op_softmax(be, &X, &X); /* in place */
    if (sync_ok("softmax in place"))
        zt_test_close("softmax in place", x, want, 6, 1e-7, 1e-6);
}

static void test_unary(void)
{
    float x[4] = {0, 1, -1, 0.5f}, y[4];
    float silu[4] = {0, 0.73105858f, -0.26894142f, 0.31122967f};
    float th[4] = {0, 0.76159416f, -0.76159416f, 0.46211716f};
    zt_tensor X = t1d(ZT_F32, 4, x), Y = t1d(ZT_F32, 4, y);
    zt_op_unary(be, &Y, &X, ZT_UNARY_SILU);
    if (sync_ok("silu"))
        zt_test_close("silu", y, silu, 4, 1e-7, 1e-6);
    zt_op_unary(be, &Y, &X, ZT_UNARY_TANH);
    if (sync_ok("tanh"))
        zt_test_close("tanh", y, th, 4, 1e-7, 1e-6);
}

static void test_binary(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 1, 2, 2, 3, 3}, row[3] = {10, 20, 30}, y[6];
    zt_tensor A = zt_tensor_2d(ZT_F32, 2, 3, a), B = zt_tensor_2d(ZT_F32, 2, 3, b);
    zt_tensor R = t1d(ZT_F32, 3, row), Y = zt_tensor_2d(ZT_F32, 2, 3, y);
    float add[6] = {2, 3, 5, 6, 8, 9}, addr[6] = {11, 22, 33, 14, 25, 36};
    float mul[6] = {1, 2, 6, 8, 15, 18}, mulr[6] = {10, 40, 90, 40, 100, 180};
    zt_op_add(be, &Y, &A, &B);
    if (sync_ok("add"))
        zt_test_close("add", y, add, 6, 0, 0);
    zt_op_add(be, &Y, &A, &R);
    if (sync_ok("add row"))
        zt_test_close("add row", y, addr, 6, 0, 0);
    zt_op_mul(be, &Y, &A, &B);
    if (sync_ok("mul"))
        zt_test_close("mul", y, mul, 6, 0, 0);
    zt_op_mul(be, &Y, &A, &R);
    if (sync_ok("mul row"))
        zt_test_close("mul row", y, mulr, 6, 0, 0);
    zt_op_add(be, &A, &A, &B); /* in place */
    if (sync_ok("add in place"))
        zt_test_close("add in place", a, add, 6, 0, 0);
}

static void test_gated_swiglu_axpy(void)
{
    float y[4] = {1, 1, 1, 1}, x[4] = {1, 2, 3, 4}, g[2] = {0.5f, -1};
    zt_tensor Y = zt_tensor_2d(ZT_F32, 2, 2, y), X = zt_tensor_2d(ZT_F32, 2, 2, x);
    zt_tensor G = t1d(ZT_F32, 2, g);
    float want_g[4] = {1.5f, -1, 2.5f, -3};
    zt_op_gated_add(be, &Y, &X, &G);
    if (sync_ok("gated_add"))
        zt_test_close("gated_add", y, want_g, 4, 0, 0);
    float want_1[4] = {2.5f, 1, 5.5f, 1};
    zt_op_gated_add(be, &Y, &X, NULL);
    if (sync_ok("gated_add NULL"))
        zt_test_close("gated_add gate 1", y, want_1, 4, 0, 0);

    float gate[3] = {0, 1, -1}, up[3] = {5, 2, 3}, s[3];
    float want_s[3] = {0, 2 * 0.73105858f, 3 * -0.26894142f};
    zt_tensor GT = t1d(ZT_F32, 3, gate), UP = t1d(ZT_F32, 3, up), S = t1d(ZT_F32, 3, s);
    zt_op_swiglu(be, &S, &GT, &UP);
    if (sync_ok("swiglu"))
        zt_test_close("swiglu", s, want_s, 3, 1e-7, 1e-6);

    float sa[3], want_sa[3] = {1, 3, -1}; /* 2 * [0, 1, -1] + 1 */
    zt_tensor SA = t1d(ZT_F32, 3, sa);
    zt_op_scale_add(be, &SA, &GT, 2.0f, 1.0f);
    if (sync_ok("scale_add"))
        zt_test_close("scale_add", sa, want_sa, 3, 0, 0);
    float want_ax[3] = {-9, -1, -7}; /* [1, 3, -1] - 2 * [5, 2, 3] */
    zt_op_axpy(be, &SA, -2.0f, &UP);
    if (sync_ok("axpy"))
        zt_test_close("axpy", sa, want_ax, 3, 0, 0);
}

static void test_copy_dtypes(void)
{
    float src[4] = {1.0f, -2.0f, 0.1f, 0.025440143f};
    uint16_t bf[4], hf[4];
    float back[4], want[4];
    zt_tensor S = t1d(ZT_F32, 4, src), BF = t1d(ZT_BF16, 4, bf), HF = t1d(ZT_F16, 4, hf);
    zt_tensor BK = t1d(ZT_F32, 4, back);
    zt_op_copy(be, &BF, &S);
    if (sync_ok("copy to bf16"))
        CHECK(bf[0] == 0x3f80 && bf[1] == 0xc000 && bf[2] == 0x3dcd && bf[3] == 0x3cd0,
              "bf16 bits %#x %#x %#x %#x", bf[0], bf[1], bf[2], bf[3]);
    zt_op_copy(be, &HF, &BF); /* BF16 -> F16: exact for these values */
    zt_op_copy(be, &BK, &HF);
    for (int i = 0; i < 4; i++)
        want[i] = zt_f16_to_f32(zt_f32_to_f16(zt_bf16_to_f32(zt_f32_to_bf16(src[i]))));
    if (sync_ok("copy bf16 -> f16 -> f32")) {
        CHECK(hf[0] == 0x3c00 && hf[1] == 0xc000, "f16 bits %#x %#x", hf[0], hf[1]);
        zt_test_close("copy round trip", back, want, 4, 0, 0);
    }
    zt_op_copy(be, &S, &S); /* in place, same dtype: a no-op */
    float orig[4] = {1.0f, -2.0f, 0.1f, 0.025440143f};
    if (sync_ok("copy in place"))
        zt_test_close("copy in place", src, orig, 4, 0, 0);
}

static void test_embed(void)
{
    float table[12] = {0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}, y[9];
    int32_t ids[3] = {2, 0, 3};
    float want[9] = {20, 21, 22, 0, 1, 2, 30, 31, 32};
    zt_tensor T = zt_tensor_2d(ZT_F32, 4, 3, table), IDS = t1d(ZT_I32, 3, ids);
    zt_tensor Y = zt_tensor_2d(ZT_F32, 3, 3, y);
    zt_op_embed(be, &Y, &T, &IDS);
    if (sync_ok("embed"))
        zt_test_close("embed", y, want, 9, 0, 0);
    /* a BF16 table, as the weights come */
    void *tq = encode(table, 12, ZT_BF16);
    zt_tensor TQ = zt_tensor_2d(ZT_BF16, 4, 3, tq);
    zt_op_embed(be, &Y, &TQ, &IDS);
    if (sync_ok("embed bf16"))
        zt_test_close("embed bf16", y, want, 9, 0, 0);
    free(tq);
    ids[1] = 4;
    zt_op_embed(be, &Y, &T, &IDS);
    sync_expect(ZT_ERR_INVALID, "id 4 at 1");
}

/* ---- convolution and image layout --------------------------------------------------- */

static void test_conv_hand(void)
{
    /* 3x3 ones on a 3x3 plane of ones with zero padding: counts of neighbours */
    float x[9], w[9], y[9], want[9] = {4, 6, 4, 6, 9, 6, 4, 6, 4};
    for (int i = 0; i < 9; i++)
        x[i] = w[i] = 1;
    int64_t ws[4] = {1, 1, 3, 3};
    zt_tensor X = t3d(ZT_F32, 3, 3, 1, x), W = zt_tensor_make(ZT_F32, 4, ws, w);
    zt_tensor Y = t3d(ZT_F32, 3, 3, 1, y);
    zt_op_conv2d(be, &Y, &X, &W, NULL);
    if (sync_ok("conv2d"))
        zt_test_close("conv2d ones", y, want, 9, 0, 0);
}

/* channels last: x [h, wd, ci] -> y [h, wd, co]; w [co, ci, k, k] */
static void conv_case(long ci, long co, long h, long wd, long k, int bias, zt_dtype wdt)
{
    long pad = k / 2, nx = ci * h * wd, nw = co * ci * k * k, ny = co * h * wd;
    float *x = frand_buf(nx), *w = frand_buf(nw), *b = frand_buf(co);
    float *y = malloc((size_t)ny * 4), *ref = malloc((size_t)ny * 4);
    quantise(w, nw, wdt);
    void *wq = encode(w, nw, wdt);
    /* explicit zero-padded input, then the textbook sum */
    long ph = h + 2 * pad, pw = wd + 2 * pad;
    double *xp = calloc((size_t)(ci * ph * pw), sizeof(double));
    for (long c = 0; c < ci; c++)
        for (long i = 0; i < h; i++)
            for (long j = 0; j < wd; j++)
                xp[(c * ph + i + pad) * pw + j + pad] = x[(i * wd + j) * ci + c];
    for (long o = 0; o < co; o++)
        for (long i = 0; i < h; i++)
            for (long j = 0; j < wd; j++) {
                double s = bias ? b[o] : 0;
                for (long c = 0; c < ci; c++)
                    for (long u = 0; u < k; u++)
                        for (long v = 0; v < k; v++)
                            s += w[((o * ci + c) * k + u) * k + v] *
                                 xp[(c * ph + i + u) * pw + j + v];
                ref[(i * wd + j) * co + o] = (float)s;
            }
    int64_t ws[4] = {co, ci, k, k};
    zt_tensor X = t3d(ZT_F32, h, wd, ci, x), W = zt_tensor_make(wdt, 4, ws, wq);
    zt_tensor B = t1d(ZT_F32, co, b), Y = t3d(ZT_F32, h, wd, co, y);
    zt_op_conv2d(be, &Y, &X, &W, bias ? &B : NULL);
    if (sync_ok("conv2d")) {
        char what[80];
        snprintf(what, sizeof what, "conv2d %ld->%ld %ldx%ld k%ld %s", ci, co, h, wd, k,
                 zt_dtype_name(wdt));
        zt_test_close(what, y, ref, ny, 1e-5, 1e-4);
    }
    free(x), free(w), free(b), free(y), free(ref), free(wq), free(xp);
}

static void test_conv2d(void)
{
    conv_case(3, 5, 6, 7, 3, 1, ZT_F32);
    conv_case(3, 5, 6, 7, 1, 1, ZT_F32);
    conv_case(4, 2, 1, 5, 3, 0, ZT_F32); /* one row: all vertical taps pad */
    conv_case(16, 64, 16, 16, 3, 1, ZT_BF16); /* large: threads */
    conv_case(8, 4, 5, 5, 3, 1, ZT_F16);
}

static void test_upsample_transpose(void)
{
    /* [2, 2, 2] channels last: channel 1 is channel 0 times ten */
    float x[8] = {1, 10, 2, 20, 3, 30, 4, 40}, y[32], want[32];
    const float plane[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    for (int i = 0; i < 16; i++)
        want[2 * i] = plane[i], want[2 * i + 1] = 10 * plane[i];
    zt_tensor X = t3d(ZT_F32, 2, 2, 2, x), Y = t3d(ZT_F32, 4, 4, 2, y);
    zt_op_upsample2x(be, &Y, &X);
    if (sync_ok("upsample2x"))
        zt_test_close("upsample2x", y, want, 32, 0, 0);

    float m[6] = {1, 2, 3, 4, 5, 6}, t[6], want_t[6] = {1, 4, 2, 5, 3, 6};
    zt_tensor M = zt_tensor_2d(ZT_F32, 2, 3, m), T = zt_tensor_2d(ZT_F32, 3, 2, t);
    zt_op_transpose(be, &T, &M);
    if (sync_ok("transpose"))
        zt_test_close("transpose", t, want_t, 6, 0, 0);
}

static void test_to_rgb8(void)
{
    /* x [3, 1, 3] planar -> y [1, 3, 3]: x/2 + 0.5 clamped, * 255, rounded
     * half to even (0 -> 127.5 -> 128; 0.5 -> 191.25 -> 191), NaN and -inf
     * to 0. cuda_ops compares the GPU's bytes with these on random values. */
    float x[9] = {-1.0f, 1.0f, 0.0f, 2.0f, -3.0f, 1.0f / 255.0f, NAN, -INFINITY, 0.5f};
    uint8_t y[9], want[9] = {0, 255, 0, 255, 0, 0, 128, 128, 191};
    memset(y, 0xAA, sizeof y);
    zt_tensor X = t3d(ZT_F32, 3, 1, 3, x), Y = t3d(ZT_U8, 1, 3, 3, y);
    zt_op_to_rgb8(be, &Y, &X);
    if (sync_ok("to_rgb8"))
        CHECK(!memcmp(y, want, 9), "to_rgb8: %d %d %d  %d %d %d  %d %d %d", y[0], y[1], y[2],
              y[3], y[4], y[5], y[6], y[7], y[8]);
    zt_tensor P = t3d(ZT_U8, 3, 1, 3, y); /* planar, not [H, W, C] */
    zt_op_to_rgb8(be, &P, &X);
    sync_expect(ZT_ERR_SHAPE, "[H, W, C]");
    zt_tensor F = t3d(ZT_F32, 1, 3, 3, x);
    zt_op_to_rgb8(be, &F, &X);
    sync_expect(ZT_ERR_DTYPE, "U8");
}

static void test_patchify(void)
{
    long c = 3, h = 4, w = 6, p = 2, n = c * h * w;
    float *x = frand_buf(n), *y = malloc((size_t)n * 4), *ref = malloc((size_t)n * 4);
    float *back = malloc((size_t)n * 4);
    /* the spec's formula, term by term */
    for (long i = 0; i < h / p; i++)
        for (long j = 0; j < w / p; j++)
            for (long py = 0; py < p; py++)
                for (long px = 0; px < p; px++)
                    for (long ch = 0; ch < c; ch++)
                        ref[(i * (w / p) + j) * (p * p * c) + (py * p + px) * c + ch] =
                            x[(ch * h + i * p + py) * w + j * p + px];
    zt_tensor X = t3d(ZT_F32, c, h, w, x), B = t3d(ZT_F32, c, h, w, back);
    zt_tensor Y = zt_tensor_2d(ZT_F32, (h / p) * (w / p), p * p * c, y);
    zt_op_patchify(be, &Y, &X, (int)p);
    if (sync_ok("patchify"))
        zt_test_close("patchify", y, ref, n, 0, 0);
    zt_op_unpatchify(be, &B, &Y, (int)p);
    if (sync_ok("unpatchify"))
        zt_test_close("unpatchify(patchify(x)) == x", back, x, n, 0, 0);
    free(x), free(y), free(ref), free(back);
}

/* ---- argument checks and the sticky error ------------------------------------------- */

/* quantize: per row s = max|x| / 448, q = E4M3(x / s); worked by hand:
 * row 0 has max 7, s = 2^-6, 1/s = 64 exactly; row 1 is zero (s = 1). */
static void test_quantize_hand(void)
{
    float x[8] = {3.5f, -7.0f, 0.25f, 0.0f, 0, 0, 0, 0};
    uint8_t q[8];
    float s[2];
    zt_tensor X = zt_tensor_2d(ZT_F32, 2, 4, x);
    zt_qmat Q = {zt_tensor_2d(ZT_F8E4M3, 2, 4, q), t1d(ZT_F32, 2, s)};
    zt_op_quantize(be, &Q, &X);
    sync_ok("quantize");
    /* 224 = 1.75 * 2^7, -448, 16 = 2^4, 0 */
    const uint8_t want[8] = {0x76, 0xfe, 0x58, 0x00, 0, 0, 0, 0};
    CHECK(!memcmp(q, want, 8), "codes %02x %02x %02x %02x / %02x", q[0], q[1], q[2], q[3], q[4]);
    CHECK(s[0] == ldexpf(1.0f, -6) && s[1] == 1.0f, "scales %g %g", s[0], s[1]);
}

/* quantize_t: one scale for the tensor, from its largest value. */
static void test_quantize_t(void)
{
    float x[8] = {3.5f, -7.0f, 0.25f, 0.0f, 1.0f, 0, 0, 0}, z[4] = {0};
    uint8_t q[8], qz[4];
    float s = 0, sz = 0;
    zt_tensor X = zt_tensor_2d(ZT_F32, 2, 4, x), Z = t1d(ZT_F32, 4, z);
    zt_qmat Q = {zt_tensor_2d(ZT_F8E4M3, 2, 4, q), t1d(ZT_F32, 1, &s)};
    zt_qmat QZ = {t1d(ZT_F8E4M3, 4, qz), t1d(ZT_F32, 1, &sz)};
    zt_op_quantize_t(be, &Q, &X);
    zt_op_quantize_t(be, &QZ, &Z);
    sync_ok("quantize_t");
    /* s = 7 / 448 = 2^-6: 224 = 1.75 * 2^7, -448, 16 = 2^4, 0, 64 = 2^6 */
    const uint8_t want[8] = {0x76, 0xfe, 0x58, 0x00, 0x68, 0, 0, 0};
    CHECK(!memcmp(q, want, 8), "codes %02x %02x %02x %02x %02x", q[0], q[1], q[2], q[3], q[4]);
    CHECK(s == ldexpf(1.0f, -6), "scale %g", s);
    CHECK(sz == 1.0f && !qz[0] && !qz[3], "all zero: scale %g, codes %02x", sz, qz[0]);
    float s2[2];
    zt_qmat bad = {zt_tensor_2d(ZT_F8E4M3, 2, 4, q), t1d(ZT_F32, 2, s2)};
    zt_op_quantize_t(be, &bad, &X);
    sync_expect(ZT_ERR_SHAPE, "one scale for the tensor");
}

/* rmsnorm_rope_q: rmsnorm_rope's values at the scale sqrt(hd) * max|w| /
 * 448, within E4M3's rounding; a row whose energy is all in one element
 * reaches the bound and takes the largest code, not past it. */
static void test_rmsnorm_rope_q(void)
{
    enum { S = 5, H = 3, HD = 8, N = S * H * HD };
    float *x = frand_buf(N), ref[N], w[HD], cs[S * HD];
    for (int i = 0; i < HD; i++)
        w[i] = 0.5f + fabsf(frand());
    w[0] = 1.5f; /* the largest weight */
    for (int i = 0; i < S * HD / 2; i++) {
        double a = 0.37 * i;
        cs[2 * i] = (float)cos(a);
        cs[2 * i + 1] = (float)sin(a);
    }
    for (int i = 0; i < HD; i++) /* row 0: all in element 0, and no rotation at position 0 */
        x[i] = i ? 0.0f : 5.0f;
    for (int i = 0; i < HD / 2; i++)
        cs[2 * i] = 1.0f, cs[2 * i + 1] = 0.0f;
    memcpy(ref, x, sizeof ref);
    zt_tensor R = t3d(ZT_F32, S, H, HD, ref), X = t3d(ZT_F32, S, H, HD, x);
    zt_tensor W = t1d(ZT_F32, HD, w), CS = t3d(ZT_F32, S, HD / 2, 2, cs);
    zt_op_rmsnorm_rope(be, &R, &W, 0.0f, &CS, ZT_ROPE_INTERLEAVED);
    uint8_t q[N];
    float s = 0;
    zt_qmat Q = {t3d(ZT_F8E4M3, S, H, HD, q), t1d(ZT_F32, 1, &s)};
    zt_op_rmsnorm_rope_q(be, &Q, &X, &W, 0.0f, &CS, ZT_ROPE_INTERLEAVED);
    if (!sync_ok("rmsnorm_rope_q"))
        return;
    const float want_s = sqrtf((float)HD) * 1.5f / 448.0f;
    CHECK(s == want_s, "scale %.9g, want %.9g", s, want_s);
    CHECK(q[0] == 0x7e, "the bound's element: code %02x, want 7e (448)", q[0]);
    long off = 0;
    for (int i = 0; i < N; i++) {
        float d = zt_e4m3_to_f32(q[i]) * s;
        /* half a step: 2^-4 relative, or 2^-10 of the scale below the normal range */
        off += fabsf(d - ref[i]) > fabsf(ref[i]) / 16.0f + s / 1024.0f;
        off += fabsf(ref[i]) > 448.0f * s * 1.0001f; /* the bound holds */
    }
    CHECK(off == 0, "%ld values off", off);
    free(x);
    zt_op_rmsnorm_rope_q(be, &Q, &X, NULL, 0.0f, &CS, ZT_ROPE_INTERLEAVED);
    sync_expect(ZT_ERR_INVALID, "w is NULL");
}

/* attention_q against the formula of backend.h in double on the decoded
 * operands (each row's p rounded to E4M3 at 448), within the output's own
 * E4M3 rounding; and near plain attention of the same values. */
static void test_attention_q(void)
{
    enum { SQ = 9, SKV = 13, H = 2, HD = 16 };
    const int nq = SQ * H * HD, nk = SKV * H * HD;
    float *q = frand_buf(nq), *k = frand_buf(nk), *v = frand_buf(nk);
    uint8_t q8[SQ * H * HD], k8[SKV * H * HD], v8[SKV * H * HD], o8[SQ * H * HD];
    float qs, ks, vs, os[SQ], o[SQ * H * HD], plain[SQ * H * HD];
    zt_tensor Q = t3d(ZT_F32, SQ, H, HD, q), K = t3d(ZT_F32, SKV, H, HD, k);
    zt_tensor V = t3d(ZT_F32, SKV, H, HD, v);
    zt_qmat Q8 = {t3d(ZT_F8E4M3, SQ, H, HD, q8), t1d(ZT_F32, 1, &qs)};
    zt_qmat K8 = {t3d(ZT_F8E4M3, SKV, H, HD, k8), t1d(ZT_F32, 1, &ks)};
    zt_qmat V8 = {t3d(ZT_F8E4M3, SKV, H, HD, v8), t1d(ZT_F32, 1, &vs)};
    zt_qmat O8 = {t3d(ZT_F8E4M3, SQ, H, HD, o8), t1d(ZT_F32, SQ, os)};
    zt_op_quantize_t(be, &Q8, &Q);
    zt_op_quantize_t(be, &K8, &K);
    zt_op_quantize_t(be, &V8, &V);
    const float scale = 0.25f;
    zt_op_attention_q(be, &O8, &Q8, &K8, &V8, scale);
    if (!sync_ok("attention_q"))
        goto done;
    long off = 0, rows_s = 0;
    double num = 0, den = 0;
    for (int i = 0; i < SQ; i++) {
        rows_s += os[i] != vs;
        for (int h = 0; h < H; h++) {
            double l[SKV], mx = -INFINITY, sum = 0, sum_plain = 0;
            for (int j = 0; j < SKV; j++) {
                double d = 0;
                for (int t = 0; t < HD; t++)
                    d += (double)zt_e4m3_to_f32(q8[(i * H + h) * HD + t]) * qs *
                         zt_e4m3_to_f32(k8[(j * H + h) * HD + t]) * ks;
                l[j] = d * scale;
                mx = fmax(mx, l[j]);
            }
            for (int j = 0; j < SKV; j++)
                sum += exp(l[j] - mx);
            for (int t = 0; t < HD; t++) {
                double acc = 0, accp = 0;
                sum_plain = 0;
                for (int j = 0; j < SKV; j++) {
                    double p = exp(l[j] - mx);
                    float p8 = zt_e4m3_to_f32(zt_f32_to_e4m3((float)p * 448.0f)) / 448.0f;
                    double vv = (double)zt_e4m3_to_f32(v8[(j * H + h) * HD + t]) * vs;
                    acc += p8 * vv;
                    accp += p * vv;
                    sum_plain += p;
                }
                const int at = (i * H + h) * HD + t;
                o[at] = (float)(acc / sum);
                plain[at] = (float)(accp / sum_plain);
                float got = zt_e4m3_to_f32(o8[at]) * os[i];
                off += fabsf(got - o[at]) > fabsf(o[at]) / 16.0f * 1.001f + vs / 1024.0f;
                num += ((double)got - plain[at]) * ((double)got - plain[at]);
                den += (double)plain[at] * plain[at];
            }
        }
    }
    CHECK(off == 0, "%ld values off the formula", off);
    CHECK(rows_s == 0, "%ld row scales are not v's", rows_s);
    double rel = sqrt(num / den);
    CHECK(rel <= 0.05, "rel-L2 %.4f against plain attention of the same values", rel);
done:
    free(q), free(k), free(v);
}

/* matmul_q against the plain double formulation on the decoded values. */
static void test_matmul_q(void)
{
    enum { M = 16, N = 24, K = 48 };
    float *x = frand_buf(M * K), *w = frand_buf(N * K);
    for (int i = 0; i < K; i++)
        x[2 * K + i] *= 100.0f; /* rows of different magnitudes */
    uint8_t xq[M * K], wq[N * K];
    float xs[M], ws[N], y[M * N];
    zt_tensor X = zt_tensor_2d(ZT_F32, M, K, x), W = zt_tensor_2d(ZT_F32, N, K, w);
    zt_qmat XQ = {zt_tensor_2d(ZT_F8E4M3, M, K, xq), t1d(ZT_F32, M, xs)};
    zt_qmat WQ = {zt_tensor_2d(ZT_F8E4M3, N, K, wq), t1d(ZT_F32, N, ws)};
    zt_tensor Y = zt_tensor_2d(ZT_F32, M, N, y);
    zt_op_quantize(be, &XQ, &X);
    zt_op_quantize(be, &WQ, &W);
    zt_op_matmul_q(be, &Y, &XQ, &WQ);
    sync_ok("matmul_q");
    /* qerr: the quantization error of each product over the size of its
     * terms, sqrt(sum_k (x_k w_k)^2): the products' own sums cancel to
     * anything, and the x100 row would outweigh the rest */
    double worst = 0, qerr = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0, mag = 0, exact = 0, terms = 0;
            for (int k = 0; k < K; k++) {
                double t = (double)x[i * K + k] * w[j * K + k];
                double tq = (double)zt_e4m3_to_f32(xq[i * K + k]) * zt_e4m3_to_f32(wq[j * K + k]);
                acc += tq;
                mag += fabs(tq);
                exact += t;
                terms += t * t;
            }
            /* a float sum of K terms is off by at most K * 2^-24 of the
             * sum of their sizes (mag) */
            double want = acc * xs[i] * ws[j];
            double e = fabs(y[i * N + j] - want) / (mag * xs[i] * ws[j]);
            worst = e > worst ? e : worst;
            qerr += (want - exact) * (want - exact) / terms;
        }
    CHECK(worst < 1e-5, "matmul_q off the double formulation by %.3g (relative)", worst);
    /* E4M3 keeps 3 mantissa bits: each input is off by at most 2^-4 of
     * itself, about 2.5 % RMS, so a product's error is about sqrt(2) x that
     * of its terms' size (measured 0.031-0.039 over 400 other seeds) */
    double rel = sqrt(qerr / (M * N));
    printf("  matmul_q vs the unquantized product: RMS error %.4f of the terms' size\n", rel);
    CHECK(rel < 0.05, "quantized product error %.4f of the terms' size", rel);
    /* checks: dtypes, scales, K */
    zt_qmat BAD = {zt_tensor_2d(ZT_F32, M, K, x), t1d(ZT_F32, M, xs)};
    zt_op_matmul_q(be, &Y, &BAD, &WQ);
    sync_expect(ZT_ERR_DTYPE, "x is F32 with F32 scales, want F8_E4M3");
    zt_qmat SHORT = {zt_tensor_2d(ZT_F8E4M3, M, K, xq), t1d(ZT_F32, M - 1, xs)};
    zt_op_matmul_q(be, &Y, &SHORT, &WQ);
    sync_expect(ZT_ERR_SHAPE, "one scale per row");
    zt_qmat WK = {zt_tensor_2d(ZT_F8E4M3, N, K / 2, wq), t1d(ZT_F32, N, ws)};
    zt_op_matmul_q(be, &Y, &XQ, &WK);
    sync_expect(ZT_ERR_SHAPE, "K differs");
    free(x);
    free(w);
}

/* rmsnorm_q and swiglu_q against the plain double formulas: every value
 * decodes to within E4M3's rounding (half a step: 2^-4 relative for
 * normals, 2^-10 s for subnormals) of the exact one. */
static double q_worst(const uint8_t *q, const float *s, const double *want, int rows, int k)
{
    double worst = 0;
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < k; i++) {
            double got = (double)zt_e4m3_to_f32(q[r * k + i]) * s[r], w = want[r * k + i];
            double e = fabs(got - w) / (fabs(w) / 16.0 + s[r] / 1024.0);
            worst = e > worst ? e : worst;
        }
    return worst; /* <= 1 within the rounding */
}

static void test_fused_quantize(void)
{
    enum { R = 6, K = 40 };
    float *x = frand_buf(R * K), *g = frand_buf(R * K), *u = frand_buf(R * K);
    float *w = frand_buf(K), *sc = frand_buf(K);
    for (int i = 0; i < R * K; i++)
        x[i] *= (float)(1 + i / K * 7); /* rows of different scales */
    uint8_t q[R * K];
    float s[R];
    double want[R * K];
    zt_tensor X = zt_tensor_2d(ZT_F32, R, K, x), G = zt_tensor_2d(ZT_F32, R, K, g);
    zt_tensor U = zt_tensor_2d(ZT_F32, R, K, u), W = t1d(ZT_F32, K, w), SC = t1d(ZT_F32, K, sc);
    zt_qmat Q = {zt_tensor_2d(ZT_F8E4M3, R, K, q), t1d(ZT_F32, R, s)};
    const double eps = 1e-5;
    zt_op_rmsnorm_q(be, &Q, &X, &W, &SC, (float)eps);
    sync_ok("rmsnorm_q");
    for (int r = 0; r < R; r++) {
        double ss = 0;
        for (int i = 0; i < K; i++)
            ss += (double)x[r * K + i] * x[r * K + i];
        double inv = 1.0 / sqrt(ss / K + eps);
        for (int i = 0; i < K; i++)
            want[r * K + i] = x[r * K + i] * inv * w[i] * sc[i];
    }
    double e = q_worst(q, s, want, R, K);
    CHECK(e <= 1.0001, "rmsnorm_q: off by %.3f of E4M3's rounding", e);
    zt_op_swiglu_q(be, &Q, &G, &U);
    sync_ok("swiglu_q");
    for (int i = 0; i < R * K; i++)
        want[i] = (double)g[i] / (1.0 + exp(-(double)g[i])) * u[i];
    e = q_worst(q, s, want, R, K);
    CHECK(e <= 1.0001, "swiglu_q: off by %.3f of E4M3's rounding", e);
    zt_tensor U2 = zt_tensor_2d(ZT_F32, R - 1, K, u);
    zt_op_swiglu_q(be, &Q, &G, &U2);
    sync_expect(ZT_ERR_SHAPE, "swiglu_q");
    free(x), free(g), free(u), free(w), free(sc);
}

/* residual_norm against the formula in double: x += g * rmsnorm(o) * wo,
 * then y = rmsnorm(x) * w * sc, and the same y as E4M3 rows. */
static void test_residual_norm(void)
{
    enum { R = 3, K = 24 };
    float *x0 = frand_buf(R * K), *o = frand_buf(R * K), *wo = frand_buf(K), *g = frand_buf(K);
    float *w = frand_buf(K), *sc = frand_buf(K);
    float x[R * K], y[R * K], yf[R * K], s[R];
    double wx[R * K], wy[R * K];
    uint8_t q[R * K];
    const double eps = 1e-6;
    for (int i = 0; i < R * K; i++)
        o[i] *= (float)(1 + i / K * 20); /* rows of different scales */
    for (int r = 0; r < R; r++) {
        double so = 0, sx = 0;
        for (int i = 0; i < K; i++)
            so += (double)o[r * K + i] * o[r * K + i];
        for (int i = 0; i < K; i++) {
            int k = r * K + i;
            wx[k] = x0[k] + (double)g[i] * o[k] / sqrt(so / K + eps) * wo[i];
            sx += wx[k] * wx[k];
        }
        for (int i = 0; i < K; i++)
            wy[r * K + i] = wx[r * K + i] / sqrt(sx / K + eps) * w[i] * sc[i];
    }
    float *oc = malloc(sizeof(float) * R * K);
    zt_tensor X = zt_tensor_2d(ZT_F32, R, K, x), O = zt_tensor_2d(ZT_F32, R, K, oc);
    zt_tensor Y = zt_tensor_2d(ZT_F32, R, K, y), WO = t1d(ZT_F32, K, wo), G = t1d(ZT_F32, K, g);
    zt_tensor W = t1d(ZT_F32, K, w), SC = t1d(ZT_F32, K, sc);
    zt_qmat Q = {zt_tensor_2d(ZT_F8E4M3, R, K, q), t1d(ZT_F32, R, s)};
    float fx[R * K], fy[R * K];
    for (int i = 0; i < R * K; i++)
        fx[i] = (float)wx[i], fy[i] = (float)wy[i];

    memcpy(x, x0, sizeof x);
    memcpy(oc, o, sizeof(float) * R * K);
    zt_op_residual_norm(be, &X, &O, &WO, &G, &Y, NULL, &W, &SC, (float)eps);
    if (sync_ok("residual_norm")) {
        zt_test_close("residual_norm x", x, fx, R * K, 1e-6, 1e-5);
        zt_test_close("residual_norm y", y, fy, R * K, 1e-6, 1e-5);
    }
    memcpy(yf, y, sizeof y);
    memcpy(x, x0, sizeof x);
    memcpy(oc, o, sizeof(float) * R * K);
    zt_op_residual_norm(be, &X, &O, &WO, &G, NULL, &Q, &W, &SC, (float)eps);
    if (sync_ok("residual_norm to E4M3")) {
        zt_test_close("residual_norm to E4M3, x", x, fx, R * K, 1e-6, 1e-5);
        double e = q_worst(q, s, wy, R, K);
        CHECK(e <= 1.0001, "residual_norm to E4M3: off by %.3f of E4M3's rounding", e);
    }

    /* exactly one output; the output apart from o and x; w's length */
    zt_op_residual_norm(be, &X, &O, &WO, &G, &Y, &Q, &W, &SC, 1e-6f);
    sync_expect(ZT_ERR_INVALID, "exactly one of y and yq");
    zt_op_residual_norm(be, &X, &O, &WO, &G, NULL, NULL, &W, &SC, 1e-6f);
    sync_expect(ZT_ERR_INVALID, "exactly one of y and yq");
    zt_op_residual_norm(be, &X, &O, &WO, &G, &O, NULL, &W, &SC, 1e-6f);
    sync_expect(ZT_ERR_INVALID, "y and o overlap");
    zt_op_residual_norm(be, &X, &O, &WO, &G, &X, NULL, &W, &SC, 1e-6f);
    sync_expect(ZT_ERR_INVALID, "y and x overlap");
    zt_tensor W5 = t1d(ZT_F32, 5, w);
    zt_op_residual_norm(be, &X, &O, &W5, &G, &Y, NULL, &W, &SC, 1e-6f);
    sync_expect(ZT_ERR_SHAPE, "residual_norm");
    CHECK(memcmp(y, yf, sizeof y) == 0, "a refused call wrote y");
    free(x0), free(o), free(oc), free(wo), free(g), free(w), free(sc);
}

static void test_validation_matmul(void)
{
    static float x[20 * 32], w[64 * 48], y[20 * 64], a[4] = {1, 2, 3, 4}, out[4];
    zt_tensor X = zt_tensor_2d(ZT_F32, 20, 32, x), W = zt_tensor_2d(ZT_F32, 64, 48, w);
    zt_tensor Y = zt_tensor_2d(ZT_F32, 20, 64, y);
    zt_tensor A = t1d(ZT_F32, 4, a), O = t1d(ZT_F32, 4, out);
    out[0] = -7;
    zt_op_matmul(be, &Y, &X, &W, NULL);
    CHECK(be->error.code == ZT_ERR_SHAPE, "error not recorded");
    zt_op_add(be, &O, &A, &A); /* must be skipped while the error is pending */
    CHECK(out[0] == -7, "op ran while an error was pending");
    sync_expect(ZT_ERR_SHAPE, "matmul: x [20, 32] and w [64, 48]: K differs");
    zt_err e;
    CHECK(zt_backend_sync(be, &e) == ZT_OK, "second sync still reports an error");
    zt_op_add(be, &O, &A, &A);
    CHECK(out[0] == 2, "op after sync did not run");
    sync_ok("after");

    /* N mismatch, bias length, aliasing, dtype, NULL */
    zt_tensor W2 = zt_tensor_2d(ZT_F32, 60, 32, w);
    zt_op_matmul(be, &Y, &X, &W2, NULL);
    sync_expect(ZT_ERR_SHAPE, "N differs");
    zt_tensor W3 = zt_tensor_2d(ZT_F32, 64, 32, w), BI = t1d(ZT_F32, 4, a);
    zt_op_matmul(be, &Y, &X, &W3, &BI);
    sync_expect(ZT_ERR_SHAPE, "bias must have 64 elements");
    zt_tensor XA = zt_tensor_2d(ZT_F32, 20, 32, y), YA = zt_tensor_2d(ZT_F32, 20, 32, y);
    zt_tensor W4 = zt_tensor_2d(ZT_F32, 32, 32, w);
    zt_op_matmul(be, &YA, &XA, &W4, NULL);
    sync_expect(ZT_ERR_INVALID, "overlap");
    zt_tensor XI = zt_tensor_2d(ZT_I32, 20, 32, x);
    zt_op_matmul(be, &Y, &XI, &W3, NULL);
    sync_expect(ZT_ERR_DTYPE, "x has dtype I32");
    zt_op_matmul(be, &Y, NULL, &W3, NULL);
    sync_expect(ZT_ERR_INVALID, "x is NULL");
}

static void test_validation_others(void)
{
    static float buf[4096], buf2[4096];
    zt_tensor Q = t3d(ZT_F32, 4, 3, 8, buf), K = t3d(ZT_F32, 4, 2, 8, buf + 200);
    zt_tensor V = t3d(ZT_F32, 4, 2, 8, buf + 400), O = t3d(ZT_F32, 4, 3, 8, buf2);
    zt_op_attention(be, &O, &Q, &K, &V, 1, 1.0f);
    sync_expect(ZT_ERR_SHAPE, "attention: q [4, 3, 8] and k [4, 2, 8]: query heads");
    zt_tensor O2 = t3d(ZT_F32, 4, 3, 8, buf + 10);
    zt_tensor K3 = t3d(ZT_F32, 4, 3, 8, buf + 200), V3 = t3d(ZT_F32, 4, 3, 8, buf + 400);
    zt_op_attention(be, &O2, &Q, &K3, &V3, 1, 1.0f);
    sync_expect(ZT_ERR_INVALID, "out and q overlap");

    int64_t ws[4] = {2, 3, 2, 2};
    zt_tensor X = t3d(ZT_F32, 4, 4, 3, buf), W = zt_tensor_make(ZT_F32, 4, ws, buf + 100);
    zt_tensor Y = t3d(ZT_F32, 4, 4, 2, buf2);
    zt_op_conv2d(be, &Y, &X, &W, NULL);
    sync_expect(ZT_ERR_SHAPE, "kernel must be 1x1 or 3x3");

    zt_tensor P = t3d(ZT_F32, 3, 5, 4, buf), PY = zt_tensor_2d(ZT_F32, 6, 12, buf2);
    zt_op_patchify(be, &PY, &P, 2);
    sync_expect(ZT_ERR_SHAPE, "patch 2 does not divide");

    zt_tensor G = t3d(ZT_F32, 2, 2, 6, buf), GY = t3d(ZT_F32, 2, 2, 6, buf2);
    zt_op_groupnorm(be, &GY, &G, 4, NULL, NULL, 1e-6f, 0);
    sync_expect(ZT_ERR_SHAPE, "4 groups do not divide");

    zt_tensor R = t3d(ZT_F32, 4, 2, 8, buf), CS = t3d(ZT_F32, 4, 8, 2, buf2);
    zt_op_rope(be, &R, &CS, ZT_ROPE_NEOX);
    sync_expect(ZT_ERR_SHAPE, "cs must be [S, hd/2, 2]");

    /* partial overlap of an elementwise op is refused; exact in place is fine */
    zt_tensor A = t1d(ZT_F32, 8, buf), A2 = t1d(ZT_F32, 8, buf + 4);
    zt_op_add(be, &A2, &A, &A);
    sync_expect(ZT_ERR_INVALID, "partly overlap");
    zt_op_add(be, &A, &A, &A);
    sync_ok("exact in place");
    zt_tensor AB = t1d(ZT_BF16, 8, buf2), AC = t1d(ZT_F32, 5, buf2 + 100);
    zt_op_add(be, &AB, &A, &AC);
    sync_expect(ZT_ERR_SHAPE, "b must have a's shape or be a row");
}

static void test_missing_op(void)
{
    /* a backend whose table lacks softmax: an error, never a fallback */
    zt_backend_vt vt = *be->vt;
    vt.softmax = NULL;
    vt.name = "partial";
    zt_backend fake = {.vt = &vt, .act_dtype = ZT_F32, .error = {ZT_OK, ""}};
    float x[2] = {0, 0};
    zt_tensor X = t1d(ZT_F32, 2, x);
    zt_op_softmax(&fake, &X, &X);
    zt_err e;
    CHECK(zt_backend_sync(&fake, &e) == ZT_ERR_UNSUPPORTED, "no error for a missing op");
    CHECK(strstr(e.msg, "op softmax not implemented by backend partial") != NULL, "msg: %s",
          e.msg);
}

/* ---- replays ----------------------------------------------------------------------------- */

/* A backend that records like the CUDA one: record_end fails with
 * ZT_ERR_TOO_BIG while too_big is set (a scratch buffer that would have had
 * to grow during the recording), and direct passes clear it. */
static struct {
    int too_big, recording, begun, direct, replayed;
} rec_state;

static zt_status rec_begin(zt_backend *b, zt_err *err)
{
    (void)b;
    (void)err;
    rec_state.recording = 1;
    rec_state.begun++;
    return ZT_OK;
}

static zt_status rec_end(zt_backend *b, void **rec, zt_err *err)
{
    (void)b;
    rec_state.recording = 0;
    if (rec_state.too_big)
        return zt_fail(err, ZT_ERR_TOO_BIG, "scratch must grow");
    *rec = &rec_state;
    return ZT_OK;
}

static zt_status rec_replay(zt_backend *b, void *rec, zt_err *err)
{
    (void)b;
    (void)rec;
    (void)err;
    rec_state.replayed++;
    return ZT_OK;
}

static void rec_free(zt_backend *b, void *rec)
{
    (void)b;
    (void)rec;
}

/* One pass of the replay loop; returns how many times the ops were issued. */
static int replay_pass(zt_backend *b, zt_replay *r, uint64_t key)
{
    int issued = 0;
    do {
        if (zt_replay_enter(b, r, &key, 1)) {
            if (++issued > 10)
                break; /* the loop did not end */
            if (!rec_state.recording) {
                rec_state.direct++;
                rec_state.too_big = 0; /* a direct pass grows the scratch */
            }
        }
    } while (zt_replay_leave(b, r));
    return issued;
}

static void test_replay(void)
{
    zt_backend_vt vt = *be->vt;
    vt.record_begin = rec_begin;
    vt.record_end = rec_end;
    vt.replay = rec_replay;
    vt.record_free = rec_free;
    zt_backend fake = {.vt = &vt, .act_dtype = ZT_F32, .error = {ZT_OK, ""}};
    zt_replay r;
    memset(&r, 0, sizeof r);
    memset(&rec_state, 0, sizeof rec_state);
    unsetenv("ZIMT_GRAPHS");
    CHECK(replay_pass(&fake, &r, 7) == 1 && rec_state.direct == 1, "first pass direct");
    CHECK(replay_pass(&fake, &r, 7) == 1 && rec_state.begun == 1 && rec_state.replayed == 1,
          "second pass recorded and replayed");
    CHECK(replay_pass(&fake, &r, 7) == 0 && rec_state.replayed == 2, "third pass replayed");

    /* A recording that fails because the scratch must grow: the ops are
     * issued again directly (growing it), not recorded again for ever, and
     * the next pass records. */
    memset(&rec_state, 0, sizeof rec_state);
    replay_pass(&fake, &r, 8);
    rec_state.too_big = 1;
    int issued = replay_pass(&fake, &r, 8);
    CHECK(issued == 2 && rec_state.begun == 1 && rec_state.direct == 2,
          "failed recording: issued %d times, %d recordings, %d direct", issued, rec_state.begun,
          rec_state.direct);
    CHECK(replay_pass(&fake, &r, 8) == 1 && rec_state.begun == 2 && rec_state.replayed == 1,
          "recorded on the next pass");
    zt_replay_drop(&fake, &r);
}

/* ---- memory and arena ----------------------------------------------------------------- */

static void test_memory(void)
{
    zt_err e;
    CHECK(be->act_dtype == ZT_F32, "act dtype %s", zt_dtype_name(be->act_dtype));
    void *p = NULL;
    CHECK(zt_backend_alloc(be, 1000, &p, &e) == ZT_OK && p, "alloc: %s", e.msg);
    CHECK(((uintptr_t)p & 255) == 0, "alloc not 256-byte aligned");
    float src[3] = {1, 2, 3}, dst[3] = {0, 0, 0};
    zt_tensor T = t1d(ZT_F32, 3, p);
    CHECK(zt_backend_upload(be, &T, src, &e) == ZT_OK, "upload");
    CHECK(zt_backend_download(be, dst, &T, &e) == ZT_OK, "download");
    CHECK(dst[0] == 1 && dst[2] == 3, "round trip");
    /* with an op's error pending, a download reports it and copies nothing */
    zt_tensor T2 = t1d(ZT_F32, 2, p);
    zt_op_add(be, &T, &T, &T2);
    dst[0] = -1;
    CHECK(zt_backend_download(be, dst, &T, &e) == ZT_ERR_SHAPE && strstr(e.msg, "add"),
          "download after a failed op: %s", e.msg);
    CHECK(dst[0] == -1 && be->error.code == ZT_OK, "download copied, or kept the error");
    zt_backend_release(be, p);

    /* weights stay in their host views on the CPU */
    zt_tensor wt = t1d(ZT_F32, 3, src), *ts[1] = {&wt};
    void *block = (void *)1;
    CHECK(zt_backend_adopt_weights(be, ts, 1, &block, &e) == ZT_OK, "adopt: %s", e.msg);
    CHECK(block == NULL && wt.data == src, "adopt moved host views");
    zt_backend_release_weights(be, block);

    size_t fb = 0, tb = 0;
    CHECK(be->vt->mem_info(be, &fb, &tb, &e) == ZT_OK && tb > 0 && fb <= tb,
          "mem_info %zu / %zu", fb, tb);
    /* "free" is what the kernel could hand out (MemAvailable, the page
     * cache included), not only the free pages; within 64 MiB or 5 %, as
     * other processes move it between the two reads */
    FILE *mi = fopen("/proc/meminfo", "r");
    char line[128];
    long long kb = -1;
    while (mi && fgets(line, sizeof line, mi))
        if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
            break;
    if (mi)
        fclose(mi);
    if (kb >= 0) {
        double want = (double)kb * 1024.0, d = fabs((double)fb - want);
        CHECK(d <= 64.0 * 1048576.0 || d <= 0.05 * want, "mem_info free %zu, MemAvailable %.0f",
              fb, want);
    }

#ifndef __SANITIZE_ADDRESS__ /* ASan aborts on absurd sizes instead of failing */
    void *huge = NULL;
    zt_status s = zt_backend_alloc(be, SIZE_MAX / 2, &huge, &e);
    CHECK(s == ZT_ERR_NOMEM && !huge, "huge alloc: %s", zt_status_str(s));
    CHECK(strstr(e.msg, "bytes") != NULL, "nomem message: %s", e.msg);
#endif
    zt_backend_free(NULL);
}

/* Carves the same sequence of tensors; returns 0 at the first failure. */
static int carve(zt_arena *a, zt_tensor *ts, zt_err *e)
{
    int64_t s1[2] = {3, 5}, s2[1] = {1}, s3[3] = {4, 7, 9}, s4[2] = {100, 3};
    if (zt_arena_tensor(a, &ts[0], ZT_F32, 2, s1, e) != ZT_OK ||
        zt_arena_tensor(a, &ts[1], ZT_BF16, 1, s2, e) != ZT_OK ||
        zt_arena_tensor(a, &ts[2], ZT_F16, 3, s3, e) != ZT_OK)
        return 0;
    size_t mark = zt_arena_mark(a);
    if (zt_arena_tensor(a, &ts[3], ZT_F32, 2, s4, e) != ZT_OK)
        return 0;
    zt_arena_reset(a, mark); /* scratch reused: the peak stays */
    return zt_arena_tensor(a, &ts[4], ZT_I32, 1, s2, e) == ZT_OK;
}

static void test_arena(void)
{
    zt_err e;
    zt_arena m, a, small, zero = {0};
    zt_tensor tm[5], ta[5], tsm[5];
    zt_arena_measure(&m);
    CHECK(carve(&m, tm, &e), "measure: %s", e.msg);
    CHECK(tm[0].data == NULL, "measuring hands out data");
    /* each tensor starts on a 256-byte boundary; the peak ends at the last
     * byte of the scratch tensor [100, 3] F32 */
    size_t want = 60;                                /* [3, 5] F32 at 0 */
    want = (want + 255) / 256 * 256 + 2;             /* [1] BF16 at 256 */
    want = (want + 255) / 256 * 256 + 4 * 7 * 9 * 2; /* [4, 7, 9] F16 at 512 */
    want = (want + 255) / 256 * 256 + 100 * 3 * 4;   /* [100, 3] F32 at 1024 */
    CHECK(m.peak == want, "measured peak %zu, want %zu", m.peak, want);

    CHECK(zt_arena_init(&a, be, m.peak, &e) == ZT_OK, "init: %s", e.msg);
    CHECK(carve(&a, ta, &e), "real arena of the measured size: %s", e.msg);
    CHECK(a.peak == m.peak, "real peak %zu vs measured %zu", a.peak, m.peak);
    for (int i = 0; i < 5; i++) {
        CHECK(((uintptr_t)ta[i].data & 255) == 0, "tensor %d not aligned", i);
        CHECK(zt_shape_eq(&ta[i], tm[i].ndim, tm[i].shape), "shapes differ at %d", i);
    }
    CHECK(ta[4].data == ta[3].data, "reset did not reuse the scratch");
    zt_arena_free(&a);

    CHECK(zt_arena_init(&small, be, m.peak - 1, &e) == ZT_OK, "init small");
    CHECK(!carve(&small, tsm, &e) && e.code == ZT_ERR_TOO_BIG, "short arena accepted");
    char needle[64];
    snprintf(needle, sizeof needle, "%zu bytes needed, %zu reserved", m.peak, m.peak - 1);
    CHECK(strstr(e.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", e.msg, needle);
    zt_arena_free(&small);
    zt_arena_free(&zero);
    zt_arena_free(&m);
}

int main(void)
{
    zt_err e;
    if (zt_backend_cpu_new(&be, 2, &e) != ZT_OK) {
        fprintf(stderr, "cpu backend: %s\n", e.msg);
        return 1;
    }
    RUN_SEEDED(test_bf16_conversion, seed_rng);
    RUN_SEEDED(test_f16_conversion, seed_rng);
    RUN_SEEDED(test_e4m3_conversion, seed_rng);
    RUN_SEEDED(test_matmul_small, seed_rng);
    RUN_SEEDED(test_matmul_dtypes, seed_rng);
    RUN_SEEDED(test_matmul_threads_agree, seed_rng);
    RUN_SEEDED(test_rmsnorm, seed_rng);
    RUN_SEEDED(test_layernorm, seed_rng);
    RUN_SEEDED(test_groupnorm, seed_rng);
    RUN_SEEDED(test_rope_hand, seed_rng);
    RUN_SEEDED(test_rope, seed_rng);
    RUN_SEEDED(test_fused_norms, seed_rng);
    RUN_SEEDED(test_attention_hand, seed_rng);
    RUN_SEEDED(test_attention, seed_rng);
    RUN_SEEDED(test_softmax, seed_rng);
    RUN_SEEDED(test_unary, seed_rng);
    RUN_SEEDED(test_binary, seed_rng);
    RUN_SEEDED(test_gated_swiglu_axpy, seed_rng);
    RUN_SEEDED(test_copy_dtypes, seed_rng);
    RUN_SEEDED(test_embed, seed_rng);
    RUN_SEEDED(test_conv_hand, seed_rng);
    RUN_SEEDED(test_conv2d, seed_rng);
    RUN_SEEDED(test_upsample_transpose, seed_rng);
    RUN_SEEDED(test_to_rgb8, seed_rng);
    RUN_SEEDED(test_patchify, seed_rng);
    RUN_SEEDED(test_quantize_hand, seed_rng);
    RUN_SEEDED(test_quantize_t, seed_rng);
    RUN_SEEDED(test_rmsnorm_rope_q, seed_rng);
    RUN_SEEDED(test_attention_q, seed_rng);
    RUN_SEEDED(test_matmul_q, seed_rng);
    RUN_SEEDED(test_fused_quantize, seed_rng);
    RUN_SEEDED(test_residual_norm, seed_rng);
    RUN_SEEDED(test_validation_matmul, seed_rng);
    RUN_SEEDED(test_validation_others, seed_rng);
    RUN_SEEDED(test_missing_op, seed_rng);
    RUN_SEEDED(test_replay, seed_rng);
    RUN_SEEDED(test_memory, seed_rng);
    RUN_SEEDED(test_arena, seed_rng);
    zt_backend_free(be);
    return zt_test_summary("test_ops");
}
