/*
 * rng.c - torch.randn-compatible normals (see rng.h).
 *
 * CUDA generator. PyTorch's normal_ on a CUDA float tensor launches a
 * grid-stride kernel of 256-thread blocks; grid = min(ceil(n/256),
 * sm_count * threads_per_sm/256). Thread t of T = 256*grid threads calls
 * curand_init(seed, t, offset) and then, per round r, curand_normal4():
 * one Philox4x32-10 block of the counter (offset/4 + r, t) under the key
 * (seed lo, seed hi) gives four u32, turned into four normals by two
 * Box-Mullers. Normal k of round r goes to element r*4T + k*T + t when that
 * is < n. The generator's offset then grows by 4 * rounds.
 *
 * CPU generator. For n >= 16 PyTorch fills n uniforms (24-bit mantissa from
 * one mt19937 draw each), then for each block of 16: u1 = 1 - d[j],
 * u2 = d[j+8], d[j] = r cos(2 pi u2), d[j+8] = r sin(2 pi u2), j < 8. When
 * 16 does not divide n the last 16 elements are refilled with fresh
 * uniforms and transformed again. x86 builds of PyTorch do the 16-block
 * with AVX2 and the Cephes-style log/sincos of avx_mathfun; this file
 * computes the same polynomials in scalar float with the same FMA use, so
 * results match bit for bit. For n < 16 each element is a double
 * Box-Muller normal (53-bit uniforms from two draws), the second value of
 * each pair cached in the generator.
 */
#include "rng.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* ---------------------------------------------------------------- Philox */

#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u

void zt_philox4x32_10(const uint32_t ctr[4], uint64_t key, uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* curand's _curand_box_muller: two u32 into two normals. The uniform
 * conversions are written as fmaf because nvcc contracts them so. */
#define CURAND_2POW32_INV 2.3283064e-10f
#define CURAND_2PI 6.2831855f

static void box_muller_curand(uint32_t x, uint32_t y, float *a, float *b)
{
    const float inv_2pi = CURAND_2POW32_INV * CURAND_2PI;
    float u = fmaf((float)x, CURAND_2POW32_INV, CURAND_2POW32_INV / 2.0f);
    float v = fmaf((float)y, inv_2pi, inv_2pi / 2.0f);
    float s = sqrtf(-2.0f * logf(u));
    *a = s * sinf(v);
    if (b) /* the cosine only when its value is used */
        *b = s * cosf(v);
}

typedef struct philox_job {
    uint64_t seed, base;
    int64_t n, threads, rounds;
    int64_t t0, t1; /* this part's torch threads */
    float *out;
} philox_job;

/* Torch's thread t draws four values a round and writes them at t + k *
 * threads; values past n are never computed (with one round, as for most
 * latents, only the first of the four is used). */
static void *randn_philox_part(void *arg)
{
    const philox_job *j = arg;
    const int64_t per_round = 4 * j->threads;
    for (int64_t t = j->t0; t < j->t1; t++) {
        for (int64_t r = 0; r < j->rounds; r++) {
            int64_t first = r * per_round + t;
            if (first >= j->n)
                break;
            uint64_t c = j->base + (uint64_t)r;
            uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), (uint32_t)t,
                               (uint32_t)((uint64_t)t >> 32)};
            uint32_t x[4];
            float f[4];
            int used = (int)((j->n - first + j->threads - 1) / j->threads);
            zt_philox4x32_10(ctr, j->seed, x);
            box_muller_curand(x[0], x[1], &f[0], used > 1 ? &f[1] : NULL);
            if (used > 2)
                box_muller_curand(x[2], x[3], &f[2], used > 3 ? &f[3] : NULL);
            for (int k = 0; k < 4 && k < used; k++)
                j->out[first + k * j->threads] = f[k];
        }
    }
    return NULL;
}

/* Large draws are split over threads by torch thread index: each value is
 * computed exactly as alone, so the result does not depend on the split. */
#define PHILOX_PARTS 8
#define PHILOX_PART_MIN 16384

static void randn_philox(uint64_t seed, uint64_t offset, int64_t n, int64_t grid,
                         float *out)
{
    philox_job j = {.seed = seed, .base = offset / 4, /* torch's offsets are multiples of 4 */
                    .n = n, .threads = 256 * grid, .out = out};
    j.rounds = (n - 1) / (4 * j.threads) + 1;
    int64_t active = j.threads < n ? j.threads : n; /* threads that write anything */
    int parts = (int)(active / PHILOX_PART_MIN);
    if (parts > PHILOX_PARTS)
        parts = PHILOX_PARTS;
    if (parts < 1)
        parts = 1;
    philox_job pj[PHILOX_PARTS];
    pthread_t tid[PHILOX_PARTS];
    int on_thread[PHILOX_PARTS] = {0};
    for (int i = 0; i < parts; i++) {
        pj[i] = j;
        pj[i].t0 = active * i / parts;
        pj[i].t1 = active * (i + 1) / parts;
        on_thread[i] = i > 0 && pthread_create(&tid[i], NULL, randn_philox_part, &pj[i]) == 0;
    }
    /* this thread takes the first part and any part whose thread did not start */
    for (int i = 0; i < parts; i++)
        if (!on_thread[i])
            randn_philox_part(&pj[i]);
    for (int i = 1; i < parts; i++)
        if (on_thread[i])
            pthread_join(tid[i], NULL);
}

/* grid and per-thread offset increment of PyTorch's calc_execution_policy */
static void cuda_policy(int64_t n, int sm_count, int threads_per_sm, int64_t *grid,
                        uint64_t *increment)
{
    int64_t g = (n + 255) / 256;
    int64_t cap = (int64_t)sm_count * (threads_per_sm / 256);
    if (cap < 1)
        cap = 1;
    if (g > cap)
        g = cap;
    *grid = g;
    *increment = (uint64_t)((n - 1) / (256 * g * 4) + 1) * 4;
}

/* --------------------------------------------------------------- mt19937 */

static void mt_seed(zt_rng *r, uint64_t seed)
{
    /* torch's mt19937 keeps the full seed but initialises from its low
     * 32 bits, exactly like std::mt19937. */
    r->mt[0] = (uint32_t)(seed & 0xffffffffu);
    for (int i = 1; i < ZT_MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mt_next = ZT_MT_N;
}

static void mt_twist(zt_rng *r)
{
    uint32_t *s = r->mt;
    for (int i = 0; i < ZT_MT_N; i++) {
        uint32_t y = (s[i] & 0x80000000u) | (s[(i + 1) % ZT_MT_N] & 0x7fffffffu);
        uint32_t v = s[(i + 397) % ZT_MT_N] ^ (y >> 1);
        if (y & 1u)
            v ^= 0x9908b0dfu;
        s[i] = v;
    }
    r->mt_next = 0;
}

static uint32_t mt_u32(zt_rng *r)
{
    if (r->mt_next >= ZT_MT_N)
        mt_twist(r);
    uint32_t y = r->mt[r->mt_next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* torch's uniform_real_distribution<float>(0,1): low 24 bits / 2^24 */
static float mt_uniform_f(zt_rng *r)
{
    return (float)(mt_u32(r) & 0xffffffu) * (1.0f / 16777216.0f);
}

/* uniform_real_distribution<double>: random64() = (first << 32) | second,
 * low 53 bits / 2^53 */
static double mt_uniform_d(zt_rng *r)
{
    uint64_t hi = mt_u32(r);
    uint64_t lo = mt_u32(r);
    uint64_t v = (hi << 32) | lo;
    return (double)(v & ((UINT64_C(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* ---------------------------------------- avx_mathfun's log and sincos */

/* GCC contracts the intrinsics' multiply-then-add pairs into FMAs when it
 * builds PyTorch's AVX2 kernels; where a sum has two products as operands
 * it fuses the one computed first. Each fused pair is written as fmaf
 * below; this file is compiled as ISO C, which contracts nothing itself.
 * With exactly these fusions the fixtures match bit for bit. */
#define MADD(a, b, c) fmaf((a), (b), (c))

static float cephes_logf(float x)
{
    /* x in (0, 1] here; split into mantissa m in [0.5, 1) and exponent */
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int ex = (int)(bits >> 23) - 0x7f;
    bits = (bits & ~0x7f800000u) | 0x3f000000u;
    float m;
    memcpy(&m, &bits, sizeof m);
    float e = (float)ex + 1.0f;
    float tmp = 0.0f;
    if (m < 0.707106781186547524f) {
        tmp = m;
        e -= 1.0f;
    }
    m = m - 1.0f;
    m = m + tmp;
    float z = m * m;
    float y = 7.0376836292E-2f;
    y = MADD(y, m, -1.1514610310E-1f);
    y = MADD(y, m, 1.1676998740E-1f);
    y = MADD(y, m, -1.2420140846E-1f);
    y = MADD(y, m, 1.4249322787E-1f);
    y = MADD(y, m, -1.6668057665E-1f);
    y = MADD(y, m, 2.0000714765E-1f);
    y = MADD(y, m, -2.4999993993E-1f);
    y = MADD(y, m, 3.3333331174E-1f);
    y = y * m;
    y = MADD(y, z, e * -2.12194440e-4f);
    y = MADD(-z, 0.5f, y);
    m = m + y;
    m = MADD(e, 0.693359375f, m);
    return m;
}

static void cephes_sincosf(float x, float *s, float *c)
{
    /* x = 2 pi u in [0, 2 pi): no sign handling needed */
    float y = x * 1.27323954473516f;
    int32_t j = (int32_t)y;
    j = (j + 1) & ~1;
    y = (float)j;
    int sin_neg = (j & 4) != 0;
    int cos_neg = ((j - 2) & 4) == 0;
    int use_cos_poly_for_sin = (j & 2) != 0;
    x = MADD(y, -0.78515625f, x);
    x = MADD(y, -2.4187564849853515625e-4f, x);
    x = MADD(y, -3.77489497744594108e-8f, x);
    float z = x * x;
    float pc = 2.443315711809948E-005f;
    pc = MADD(pc, z, -1.388731625493765E-003f);
    pc = MADD(pc, z, 4.166664568298827E-002f);
    pc = pc * z;
    pc = MADD(pc, z, -(z * 0.5f));
    pc = pc + 1.0f;
    float ps = -1.9515295891E-4f;
    ps = MADD(ps, z, 8.3321608736E-3f);
    ps = MADD(ps, z, -1.6666654611E-1f);
    ps = ps * z;
    ps = MADD(ps, x, x);
    float sv = use_cos_poly_for_sin ? pc : ps;
    float cv = use_cos_poly_for_sin ? ps : pc;
    *s = sin_neg ? -sv : sv;
    *c = cos_neg ? -cv : cv;
}

/* normal_fill_16 of the AVX2 build, on d[0..16) holding uniforms */
static void fill16(float *d)
{
    const float two_pi = (float)(2.0 * 3.14159265358979323846);
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];
        float u2 = d[j + 8];
        float radius = sqrtf(-2.0f * cephes_logf(u1));
        float theta = two_pi * u2;
        float sn, cs;
        cephes_sincosf(theta, &sn, &cs);
        d[j] = radius * cs;
        d[j + 8] = radius * sn;
    }
}

static void randn_mt(zt_rng *r, float *out, int64_t n)
{
    if (n >= 16) {
        for (int64_t i = 0; i < n; i++)
            out[i] = mt_uniform_f(r);
        for (int64_t i = 0; i + 16 <= n; i += 16)
            fill16(out + i);
        if (n % 16) {
            float *d = out + n - 16;
            for (int i = 0; i < 16; i++)
                d[i] = mt_uniform_f(r);
            fill16(d);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double v;
        if (r->has_next_normal) {
            r->has_next_normal = 0;
            v = r->next_normal;
        } else {
            double u1 = mt_uniform_d(r);
            double u2 = mt_uniform_d(r);
            double rad = sqrt(-2.0 * log1p(-u2));
            double theta = 2.0 * 3.14159265358979323846 * u1;
            r->next_normal = rad * sin(theta);
            r->has_next_normal = 1;
            v = rad * cos(theta);
        }
        out[i] = (float)v;
    }
}

/* ------------------------------------------------------------ interface */

zt_status zt_rng_kind_parse(const char *s, zt_rng_kind *kind, zt_err *err)
{
    if (s && strcmp(s, "cuda") == 0) {
        *kind = ZT_RNG_CUDA;
        return ZT_OK;
    }
    if (s && strcmp(s, "cpu") == 0) {
        *kind = ZT_RNG_CPU;
        return ZT_OK;
    }
    return zt_fail(err, ZT_ERR_INVALID, "rng '%s': expected \"cuda\" or \"cpu\"",
                   s ? s : "(null)");
}

const char *zt_rng_kind_name(zt_rng_kind kind)
{
    return kind == ZT_RNG_CPU ? "cpu" : "cuda";
}

void zt_rng_init(zt_rng *r, zt_rng_kind kind, uint64_t seed, int sm_count,
                 int threads_per_sm)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->seed = seed;
    r->sm_count = sm_count > 0 ? sm_count : ZT_RNG_SM_COUNT_DEFAULT;
    r->threads_per_sm = threads_per_sm >= 256 ? threads_per_sm : ZT_RNG_THREADS_PER_SM_DEFAULT;
    if (kind == ZT_RNG_CPU)
        mt_seed(r, seed);
}

zt_status zt_rng_randn(zt_rng *r, float *out, int64_t n, zt_err *err)
{
    if (n < 0 || (n > 0 && !out))
        return zt_fail(err, ZT_ERR_INVALID, "randn: bad element count %lld",
                       (long long)n);
    if (n > INT32_MAX)
        return zt_fail(err, ZT_ERR_TOO_BIG, "randn: %lld elements exceed 2^31-1",
                       (long long)n);
    if (n == 0)
        return ZT_OK;
    if (r->kind == ZT_RNG_CPU) {
        randn_mt(r, out, n);
        return ZT_OK;
    }
    int64_t grid;
    uint64_t inc;
    cuda_policy(n, r->sm_count, r->threads_per_sm, &grid, &inc);
    randn_philox(r->seed, r->philox_offset, n, grid, out);
    r->philox_offset += inc;
    return ZT_OK;
}

zt_status zt_rng_randn_cuda(uint64_t seed, float *out, int64_t n, int sm_count,
                            uint64_t offset_in, uint64_t *offset_out, zt_err *err)
{
    zt_rng r;
    zt_rng_init(&r, ZT_RNG_CUDA, seed, sm_count, 0);
    /* torch rounds every increment up to a multiple of 4 */
    r.philox_offset = (offset_in + 3) / 4 * 4;
    zt_status st = zt_rng_randn(&r, out, n, err);
    if (st == ZT_OK && offset_out)
        *offset_out = r.philox_offset;
    return st;
}

zt_status zt_rng_randn_cpu(uint64_t seed, float *out, int64_t n, zt_err *err)
{
    /* the mt19937 state is 2.5 KB: fine on the stack */
    zt_rng r;
    zt_rng_init(&r, ZT_RNG_CPU, seed, 0, 0);
    return zt_rng_randn(&r, out, n, err);
}
