/*
 * quant.cu - rows to E4M3 with a per-row scale (--precision fp8): plain
 * rows, and fused with the op that makes them (RMSNorm, SwiGLU), so the
 * BF16 intermediate is never written. Also the DiT's residual_norm, which
 * holds two rows in registers the same way, in BF16 or to E4M3.
 *
 * A block a row with the row held in registers (up to 16384 wide), so the
 * input is read once (two passes over a 40 KB SwiGLU row pair went back to
 * DRAM: 161 us against 69 + 40 us unfused at 4128 x 10240); other widths
 * take a warp a row and two passes. The quantization is the CPU
 * reference's, operation for operation and correctly rounded (s = amax /
 * 448, inv = 1 / s, y * inv, then the saturating round-to-nearest-even
 * conversion), so plain rows give the same bytes on both backends.
 */
#include <cuda_fp8.h>

#include "common.cuh"
#include "zt_kernels.h"

static __device__ __forceinline__ uint32_t e4m3(float v)
{
    return (uint32_t)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
}

/* 8 values times inv as E4M3 bytes, in order, for one 8-byte store. */
static __device__ __forceinline__ uint2 e4m3x8(const float *v, float inv)
{
    uint32_t w[2] = {0, 0};
#pragma unroll
    for (int k = 0; k < 8; k++)
        w[k / 4] |= e4m3(__fmul_rn(v[k], inv)) << (8 * (k % 4));
    return make_uint2(w[0], w[1]);
}

static __device__ __forceinline__ float row_scale(float amax)
{
    return amax > 0.0f ? __fdiv_rn(amax, 448.0f) : 1.0f;
}

/* Row sources: get8() gives 8 values of the row at column c (c % 8 == 0);
 * for RMSNorm they are x itself, and norm8() applies the row's 1/rms and
 * the weights once the sum of squares is known. glu_bf16_src has fetch()
 * (the loads only) and make8() instead, and load_row issues every chunk's
 * fetch before any make8, where get8's dtype branches keep one chunk's
 * loads in flight at a time. */
struct plain_src {
    static const bool rms = false;
    const void *x;
    int xdt;
    __device__ void get8(float *v, int64_t base, int c) const { ld8(v, x, xdt, base + c); }
    __device__ void norm8(float *, int, float) const {}
};

/* rmsnorm(x) (* w) (* scale), as norm.cu computes it */
struct rms_src {
    static const bool rms = true;
    const void *x, *w, *sc;
    int xdt, wdt, sdt;
    __device__ void get8(float *v, int64_t base, int c) const { ld8(v, x, xdt, base + c); }
    __device__ void norm8(float *v, int c, float inv) const
    {
        ::norm8(v, inv, w, wdt, sc, sdt, c);
    }
};

/* silu(gate) * up, as elementwise.cu computes it */
struct glu_src {
    static const bool rms = false;
    const void *g, *u;
    int gdt, udt;
    __device__ void get8(float *v, int64_t base, int c) const
    {
        float t[8];
        ld8(v, g, gdt, base + c);
        ld8(t, u, udt, base + c);
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[k] = silu_f(v[k]) * t[k];
    }
    __device__ void norm8(float *, int, float) const {}
};

/* silu(gate) * up with both BF16: the values glu_src gives, from raw
 * 16-byte words fetched ahead */
struct glu_bf16_src {
    static const bool rms = false;
    const __nv_bfloat16 *g, *u;
    struct raw {
        uint4 g, u;
    };
    __device__ void fetch(raw &r, int64_t base, int c) const
    {
        r.g = *(const uint4 *)(g + base + c);
        r.u = *(const uint4 *)(u + base + c);
    }
    __device__ void make8(float *v, const raw &r) const
    {
        float t[8];
        bf16x8(v, r.g);
        bf16x8(t, r.u);
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[k] = silu_f(v[k]) * t[k];
    }
    __device__ void norm8(float *, int, float) const {}
};

#define QTHREADS 256 /* a block a row: 8 elements a thread per chunk */

/* The first column of this thread's chunk j of 8 in a block-a-row kernel. */
static __device__ __forceinline__ int chunk_col(int j)
{
    return (j * QTHREADS + (int)threadIdx.x) * 8;
}

/* Over this thread's chunks of a row held in registers (those below K),
 * then over the block: the sum of squares, or with MAX the largest |v|.
 * Every thread gets it. */
template <bool MAX, int CH>
static __device__ __forceinline__ float row_reduce(const float (&v)[CH][8], int K, float *red)
{
    float t = 0.0f;
#pragma unroll
    for (int j = 0; j < CH; j++)
        if (chunk_col(j) < K)
#pragma unroll
            for (int k = 0; k < 8; k++)
                t = MAX ? fmaxf(t, fabsf(v[j][k])) : t + v[j][k] * v[j][k];
    return block_reduce<MAX, QTHREADS>(t, red);
}

/* The row's E4M3 bytes at q + base and its scale s[blockIdx.x] from the
 * values v held in registers (the chunks below K), as the CPU quantizes. */
template <int CH>
static __device__ __forceinline__ void store_q_row(uint8_t *q, float *s, const float (&v)[CH][8],
                                                   int64_t base, int K, float *red)
{
    const float sr = row_scale(row_reduce<true>(v, K, red)), inv = __frcp_rn(sr);
#pragma unroll
    for (int j = 0; j < CH; j++) {
        const int c = chunk_col(j);
        if (c >= K)
            continue;
        *(uint2 *)(q + base + c) = e4m3x8(v[j], inv);
    }
    if (threadIdx.x == 0)
        s[blockIdx.x] = sr;
}

/* 1 / sqrt(mean(v^2) + eps) of a row held in registers; every thread
 * gets it. */
template <int CH>
static __device__ __forceinline__ float row_inv_rms(const float (&v)[CH][8], int K, float *red,
                                                    float eps)
{
    return rsqrtf(row_reduce<false>(v, K, red) / (float)K + eps);
}

/* The row's values into v: with a split source, every chunk's loads
 * first, then their values. */
template <class Src, int CH>
static __device__ __forceinline__ void load_row(float (&v)[CH][8], const Src &src, int64_t base,
                                                int K)
{
#pragma unroll
    for (int j = 0; j < CH; j++) {
        if (chunk_col(j) < K)
            src.get8(v[j], base, chunk_col(j));
    }
}

template <int CH>
static __device__ __forceinline__ void load_row(float (&v)[CH][8], const glu_bf16_src &src,
                                                int64_t base, int K)
{
    glu_bf16_src::raw r[CH];
#pragma unroll
    for (int j = 0; j < CH; j++)
        if (chunk_col(j) < K)
            src.fetch(r[j], base, chunk_col(j));
#pragma unroll
    for (int j = 0; j < CH; j++)
        if (chunk_col(j) < K)
            src.make8(v[j], r[j]);
}

/*
 * A block a row with the row in registers (at most CH chunks of 8 a
 * thread, K <= CH * 2048), so the input is read once: the values, for
 * RMSNorm their sum of squares and then the normed values, max|y|, and the
 * E4M3 bytes. K % 8 == 0, inputs 16-byte and q 8-byte aligned.
 */
template <class Src, int CH>
__global__ void k_quant_row(uint8_t *q, float *s, Src src, int K, float eps)
{
    __shared__ float red[QTHREADS / 32];
    const int64_t base = (int64_t)blockIdx.x * K;
    float v[CH][8];
    load_row(v, src, base, K);
    if (Src::rms) {
        const float inv = row_inv_rms(v, K, red, eps);
#pragma unroll
        for (int j = 0; j < CH; j++)
            if (chunk_col(j) < K)
                src.norm8(v[j], chunk_col(j), inv);
    }
    store_q_row(q, s, v, base, K, red);
}

/*
 * residual_norm, a block a row with both rows in registers: o's sum of
 * squares; x + gate * rmsnorm(o) * wo written to x and kept as x holds it
 * (rounded to its dtype, as the norm that follows would read it back);
 * its sum of squares; then y or the E4M3 row. The arithmetic is
 * norm_gated_add's and rmsnorm's (norm.cu); only the order of the sums
 * differs.
 */
template <int CH, bool Q>
__global__ void k_residual_norm(zt_resnorm_args a)
{
    __shared__ float red[QTHREADS / 32];
    const int K = (int)a.C;
    const int64_t base = (int64_t)blockIdx.x * K;
    float v[CH][8];
#pragma unroll
    for (int j = 0; j < CH; j++)
        if (chunk_col(j) < K)
            ld8(v[j], a.o, a.odt, base + chunk_col(j));
    const float io = row_inv_rms(v, K, red, a.eps);
#pragma unroll
    for (int j = 0; j < CH; j++) {
        const int c = chunk_col(j);
        if (c >= K)
            continue;
        float t[8];
        norm8(v[j], io, a.wo, a.wodt, a.gate, a.gdt, c);
        ld8(t, a.x, a.xdt, base + c);
#pragma unroll
        for (int k = 0; k < 8; k++)
            t[k] += v[j][k];
        st8(a.x, a.xdt, base + c, t);
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[j][k] = rnd_f(a.xdt, t[k]);
    }
    const float inv = row_inv_rms(v, K, red, a.eps);
#pragma unroll
    for (int j = 0; j < CH; j++) {
        const int c = chunk_col(j);
        if (c >= K)
            continue;
        norm8(v[j], inv, a.w, a.wdt, a.scale, a.sdt, c);
        if (!Q)
            st8(a.y, a.ydt, base + c, v[j]);
    }
    if (Q)
        store_q_row((uint8_t *)a.q, a.s, v, base, K, red);
}

#define QROW_MAX_K (8 * QTHREADS * 8) /* 16384 */

/* l.go<CH>() with the fewest register chunks (1..8) that hold rows of K:
 * spare ones cost registers, and with a block a row the SM needs many
 * blocks in flight to keep loads going. */
template <class L>
static cudaError_t by_chunks(int64_t K, const L &l)
{
    switch ((int)((K + 8 * QTHREADS - 1) / (8 * QTHREADS))) {
    case 1: l.template go<1>(); break;
    case 2: l.template go<2>(); break;
    case 3: l.template go<3>(); break;
    case 4: l.template go<4>(); break;
    case 5: l.template go<5>(); break;
    case 6: l.template go<6>(); break;
    case 7: l.template go<7>(); break;
    default: l.template go<8>(); break;
    }
    return cudaGetLastError();
}

template <class Src>
struct quant_row_go {
    uint8_t *q;
    float *s;
    Src src;
    int K;
    float eps;
    unsigned nb;
    cudaStream_t st;
    template <int CH>
    void go() const
    {
        k_quant_row<Src, CH><<<nb, QTHREADS, 0, st>>>(q, s, src, K, eps);
    }
};

/* Launch k_quant_row for rows of K (at most QROW_MAX_K). */
template <class Src>
static cudaError_t quant_row_launch(void *q, float *s, const Src &src, int64_t rows, int64_t K,
                                    float eps, cudaStream_t st)
{
    if (rows < 1)
        return cudaSuccess;
    if (rows > INT32_MAX)
        return cudaErrorNotSupported;
    return by_chunks(K, quant_row_go<Src>{(uint8_t *)q, s, src, (int)K, eps, (unsigned)rows, st});
}

#define QROWS 8 /* warps (rows) a block, for the one-by-one kernel */

__global__ void k_quant1(uint8_t *q, float *s, const void *x, int xdt, int64_t rows, int K)
{
    int64_t r = (int64_t)blockIdx.x * QROWS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    const int64_t base = r * K;
    float amax = 0.0f;
    for (int i = lane; i < K; i += 32)
        amax = fmaxf(amax, fabsf(ld_f(x, xdt, base + i)));
    const float sr = row_scale(warp_max(amax)), inv = __frcp_rn(sr);
    for (int i = lane; i < K; i += 32)
        q[base + i] = (uint8_t)e4m3(__fmul_rn(ld_f(x, xdt, base + i), inv));
    if (lane == 0)
        s[r] = sr;
}

/* Whether the register-row kernels take rows of K, writing E4M3 rows at q
 * (8-byte aligned) when q is given. */
static bool rows_ok(int64_t K, const void *q)
{
    return K % 8 == 0 && K <= QROW_MAX_K && ((uintptr_t)q & 7) == 0;
}

/* an operand they can take: absent, or 16-byte aligned and not F16 (which
 * ld8 would load one by one: left to the unfused path) */
static bool opt_vec(const void *p, zt_dtype dt)
{
    return !p || (al16(p) && dt != ZT_F16);
}

extern "C" cudaError_t zt_cuda_quantize_rows(void *q, float *s, const void *x, zt_dtype xdt,
                                             int64_t rows, int64_t K, cudaStream_t st)
{
    if (!float_dt(xdt) || K < 1 || K > INT32_MAX)
        return cudaErrorInvalidValue;
    if (rows < 1)
        return cudaSuccess;
    if (rows_ok(K, q) && opt_vec(x, xdt) && rows <= INT32_MAX)
        return quant_row_launch(q, s, plain_src{x, xdt}, rows, K, 0.0f, st);
    unsigned nb = (unsigned)((rows + QROWS - 1) / QROWS);
    k_quant1<<<nb, QROWS * 32, 0, st>>>((uint8_t *)q, s, x, xdt, rows, (int)K);
    return cudaGetLastError();
}

extern "C" cudaError_t zt_cuda_rmsnorm_q(void *q, float *s, const void *x, zt_dtype xdt,
                                         const void *w, zt_dtype wdt, const void *scale,
                                         zt_dtype sdt, int64_t rows, int64_t K, float eps,
                                         cudaStream_t st)
{
    if (!float_dt(xdt) || (w && !float_dt(wdt)) || (scale && !float_dt(sdt)) || K < 1)
        return cudaErrorInvalidValue;
    if (!rows_ok(K, q) || !opt_vec(x, xdt) || !opt_vec(w, wdt) || !opt_vec(scale, sdt))
        return cudaErrorNotSupported;
    return quant_row_launch(q, s, rms_src{x, w, scale, xdt, wdt, sdt}, rows, K, eps, st);
}

extern "C" cudaError_t zt_cuda_swiglu_q(void *q, float *s, const void *gate, zt_dtype gdt,
                                        const void *up, zt_dtype udt, int64_t rows, int64_t K,
                                        cudaStream_t st)
{
    if (!float_dt(gdt) || !float_dt(udt) || K < 1)
        return cudaErrorInvalidValue;
    if (!rows_ok(K, q) || !opt_vec(gate, gdt) || !opt_vec(up, udt))
        return cudaErrorNotSupported;
    if (gdt == ZT_BF16 && udt == ZT_BF16)
        return quant_row_launch(q, s,
                                glu_bf16_src{(const __nv_bfloat16 *)gate, (const __nv_bfloat16 *)up},
                                rows, K, 0.0f, st);
    return quant_row_launch(q, s, glu_src{gate, up, gdt, udt}, rows, K, 0.0f, st);
}

struct residual_go {
    const zt_resnorm_args *a;
    cudaStream_t st;
    template <int CH>
    void go() const
    {
        const unsigned nb = (unsigned)a->rows;
        if (a->y)
            k_residual_norm<CH, false><<<nb, QTHREADS, 0, st>>>(*a);
        else
            k_residual_norm<CH, true><<<nb, QTHREADS, 0, st>>>(*a);
    }
};

/* an optional operand: absent, or of a float dtype */
static bool opt_float(const void *p, zt_dtype dt)
{
    return !p || float_dt(dt);
}

extern "C" cudaError_t zt_cuda_residual_norm(const zt_resnorm_args *a, cudaStream_t st)
{
    if (!float_dt(a->xdt) || !float_dt(a->odt) || !opt_float(a->wo, a->wodt) ||
        !opt_float(a->gate, a->gdt) || !opt_float(a->w, a->wdt) ||
        !opt_float(a->scale, a->sdt) || !opt_float(a->y, a->ydt) || !a->x || !a->o ||
        (!a->y && (!a->q || !a->s)) || a->C < 1)
        return cudaErrorInvalidValue;
    if (a->rows < 1)
        return cudaSuccess;
    if (!rows_ok(a->C, a->q) || a->rows > INT32_MAX || !opt_vec(a->x, a->xdt) ||
        !opt_vec(a->o, a->odt) || !opt_vec(a->wo, a->wodt) || !opt_vec(a->gate, a->gdt) ||
        !opt_vec(a->w, a->wdt) || !opt_vec(a->scale, a->sdt) || !opt_vec(a->y, a->ydt))
        return cudaErrorNotSupported;
    return by_chunks(a->C, residual_go{a, st});
}

__global__ void dequant_rows(void *y, int ydt, const uint8_t *q, const float *s, int64_t n,
                             int64_t K)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        __nv_fp8_e4m3 v;
        v.__x = q[i];
        st_f(y, ydt, i, (float)v * s[i / K]);
    }
}

extern "C" cudaError_t zt_cuda_dequantize_rows(void *y, zt_dtype ydt, const void *q,
                                               const float *s, int64_t rows, int64_t K,
                                               cudaStream_t st)
{
    if (!float_dt(ydt) || K < 1)
        return cudaErrorInvalidValue;
    int64_t n = rows * K;
    if (n < 1)
        return cudaSuccess;
    dequant_rows<<<grid_for(n, 256), 256, 0, st>>>(y, ydt, (const uint8_t *)q, s, n, K);
    return cudaGetLastError();
}

/* ---- one scale for a whole tensor (FP8 attention's q, k, v) ------------ */

/* *amax = max(*amax, max|x|) over n values: a block's largest, then an
 * atomic max on the bits (for floats >= 0 their order as integers). */
__global__ void k_amax(float *amax, const void *x, int xdt, int64_t n, int vec)
{
    __shared__ float red[256 / 32];
    float m = 0.0f;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    if (vec) {
        for (int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * 8; i < n;
             i += stride * 8) {
            float v[8];
            ld8(v, x, xdt, i);
#pragma unroll
            for (int k = 0; k < 8; k++)
                m = fmaxf(m, fabsf(v[k]));
        }
    } else {
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
            m = fmaxf(m, fabsf(ld_f(x, xdt, i)));
    }
    m = block_reduce<true, 256>(m, red);
    if (threadIdx.x == 0)
        atomicMax((int *)amax, __float_as_int(m));
}

/* q = E4M3(x * (1 / s)) with s = amax / 448 (1 for 0) from *amax, as the
 * CPU quantizes; the first thread writes s. */
__global__ void k_quant_by(uint8_t *q, float *s, const void *x, int xdt, int64_t n,
                           const float *amax, int vec)
{
    const float sr = row_scale(*amax), inv = __frcp_rn(sr);
    const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    if (t == 0)
        *s = sr;
    if (vec) {
        for (int64_t i = t * 8; i < n; i += stride * 8) {
            float v[8];
            ld8(v, x, xdt, i);
            *(uint2 *)(q + i) = e4m3x8(v, inv);
        }
    } else {
        for (int64_t i = t; i < n; i += stride)
            q[i] = (uint8_t)e4m3(__fmul_rn(ld_f(x, xdt, i), inv));
    }
}

/* *b = sqrt(hd) * max|w| over w [hd]: the bound of rmsnorm_rope_q. */
__global__ void k_wbound(float *b, const void *w, int wdt, int hd)
{
    __shared__ float red[256 / 32];
    float m = 0.0f;
    for (int i = threadIdx.x; i < hd; i += blockDim.x)
        m = fmaxf(m, fabsf(ld_f(w, wdt, i)));
    m = block_reduce<true, 256>(m, red);
    if (threadIdx.x == 0)
        *b = __fmul_rn(sqrtf((float)hd), m);
}

static bool vec8(const void *x, const void *q, int64_t n)
{
    return n % 8 == 0 && al16(x) && ((uintptr_t)q & 7) == 0;
}

extern "C" cudaError_t zt_cuda_quantize_t(void *q, float *s, const void *x, zt_dtype xdt,
                                          int64_t n, float *tmp, cudaStream_t st)
{
    if (!float_dt(xdt) || n < 1)
        return n < 1 ? cudaSuccess : cudaErrorInvalidValue;
    const int vec = vec8(x, q, n);
    const unsigned nb = grid_for(vec ? n / 8 : n, 256);
    cudaError_t e = cudaMemsetAsync(tmp, 0, sizeof(float), st);
    if (e != cudaSuccess)
        return e;
    k_amax<<<nb, 256, 0, st>>>(tmp, x, xdt, n, vec);
    k_quant_by<<<nb, 256, 0, st>>>((uint8_t *)q, s, x, xdt, n, tmp, vec);
    return cudaGetLastError();
}

extern "C" cudaError_t zt_cuda_quantize_bound(void *q, float *s, const void *x, zt_dtype xdt,
                                              int64_t n, const void *w, zt_dtype wdt, int hd,
                                              float *tmp, cudaStream_t st)
{
    if (!float_dt(xdt) || !float_dt(wdt) || hd < 1)
        return cudaErrorInvalidValue;
    if (n < 1)
        return cudaSuccess;
    const int vec = vec8(x, q, n);
    k_wbound<<<1, 256, 0, st>>>(tmp, w, wdt, hd);
    k_quant_by<<<grid_for(vec ? n / 8 : n, 256), 256, 0, st>>>((uint8_t *)q, s, x, xdt, n, tmp,
                                                                vec);
    return cudaGetLastError();
}

/* rmsnorm_rope_q (backend.h) for interleaved heads of hd = 8 * tpr: each
 * thread takes one chunk of 8 of two rows, blockDim.x / tpr apart, as
 * norm.cu's k_rmsnorm_rope_v2 does and with its arithmetic, and writes
 * E4M3 bytes at the bound's scale, which every row's threads find from
 * their chunks of w. */
__global__ void k_rmsnorm_rope_q(uint8_t *q, float *s, const void *x, int xdt, const void *w,
                                 int wdt, const float *cs, int rows, int heads, int hd, int tpr,
                                 float eps)
{
    float v[2][8], wv[8], wm = 0.0f;
    const rope_rows2 r = rope_rows2_load(v, x, xdt, rows, hd, tpr);
    ld8(wv, w, wdt, r.c);
#pragma unroll
    for (int k = 0; k < 8; k++)
        wm = fmaxf(wm, fabsf(wv[k]));
    for (int o = tpr / 2; o > 0; o >>= 1)
        wm = fmaxf(wm, __shfl_xor_sync(0xffffffffu, wm, o));
    const float sr = row_scale(__fmul_rn(sqrtf((float)hd), wm)), inv = __frcp_rn(sr);
    if (blockIdx.x == 0 && threadIdx.x == 0)
        *s = sr;
    rope_rows2_norm(v, r, w, wdt, cs, rows, heads, hd, tpr, eps);
#pragma unroll
    for (int j = 0; j < 2; j++) {
        const int row = r.r0 + j * r.rpb;
        if (row >= rows)
            continue;
        *(uint2 *)(q + (int64_t)row * hd + r.c) = e4m3x8(v[j], inv);
    }
}

extern "C" cudaError_t zt_cuda_rmsnorm_rope_q(void *q, float *s, const void *x, zt_dtype xdt,
                                              const void *w, zt_dtype wdt, const float *cs,
                                              int64_t S, int64_t heads, int64_t hd, int kind,
                                              float eps, cudaStream_t st)
{
    if (!float_dt(xdt) || !float_dt(wdt) || !w || hd <= 0 || hd % 2 || kind < 0 || kind > 1)
        return cudaErrorInvalidValue;
    const int64_t rows = S * heads;
    if (rows <= 0)
        return cudaSuccess;
    /* one 16-byte chunk a thread: tpr threads of a warp a row */
    const int tpr = (int)(hd / 8);
    if (kind != 1 || hd % 8 || tpr > 32 || (tpr & (tpr - 1)) || rows >= (1LL << 31) / 256 ||
        !al16(x) || !al16(w) || !al16(cs) || ((uintptr_t)q & 7))
        return cudaErrorNotSupported;
    const int64_t per = 2 * (256 / tpr); /* rows a block */
    k_rmsnorm_rope_q<<<(unsigned)((rows + per - 1) / per), 256, 0, st>>>(
        (uint8_t *)q, s, x, xdt, w, wdt, cs, (int)rows, (int)heads, (int)hd, tpr, eps);
    return cudaGetLastError();
}

/* FP8 attention's constants for cuDNN and the output's row scales:
 * c[0] = 1 / 448 and c[1] = 448 (the probabilities' descale and scale),
 * c[2] = 1 / v.s (the output's scale); out_s[i] = v.s. */
__global__ void k_attn_q_scales(float *c, float *out_s, const float *vs, int64_t Sq)
{
    const float v = *vs;
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i == 0) {
        c[0] = 1.0f / 448.0f;
        c[1] = 448.0f;
        c[2] = __frcp_rn(v);
    }
    if (i < Sq)
        out_s[i] = v;
}

extern "C" cudaError_t zt_cuda_attn_q_scales(float *c, float *out_s, const float *vs, int64_t Sq,
                                             cudaStream_t st)
{
    if (Sq < 1)
        return cudaErrorInvalidValue;
    k_attn_q_scales<<<grid_for(Sq, 256), 256, 0, st>>>(c, out_s, vs, Sq);
    return cudaGetLastError();
}
