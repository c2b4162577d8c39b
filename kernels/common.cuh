/*
 * common.cuh - device helpers shared by kernels/ (one .cu per op family): dtype-generic loads
 * and stores (F32, BF16, F16 by run-time dtype; the branch is uniform across
 * a launch, so it costs a few instructions, not divergence), grid sizing and
 * warp reductions.
 */
#ifndef ZT_COMMON_CUH
#define ZT_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "tensor.h"

static __device__ __forceinline__ float ld_f(const void *p, int dt, int64_t i)
{
    switch (dt) {
    case ZT_BF16:
        return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    case ZT_F16:
        return __half2float(((const __half *)p)[i]);
    default:
        return ((const float *)p)[i];
    }
}

static __device__ __forceinline__ void st_f(void *p, int dt, int64_t i, float v)
{
    switch (dt) {
    case ZT_BF16:
        ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
        break;
    case ZT_F16:
        ((__half *)p)[i] = __float2half_rn(v);
        break;
    default:
        ((float *)p)[i] = v;
        break;
    }
}

/* v as stored in dtype dt and read back (st_f then ld_f) */
static __device__ __forceinline__ float rnd_f(int dt, float v)
{
    switch (dt) {
    case ZT_BF16:
        return __bfloat162float(__float2bfloat16_rn(v));
    case ZT_F16:
        return __half2float(__float2half_rn(v));
    default:
        return v;
    }
}

static __device__ __forceinline__ float silu_f(float v)
{
    return v / (1.0f + __expf(-v));
}

static __device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Interleaved RoPE on 8 values (4 pairs (v[2k], v[2k+1])) with their 4
 * (cos, sin) pairs at cs (16-byte aligned): two 16-byte loads. */
static __device__ __forceinline__ void rope_il8(float *v, const float *cs)
{
    const float4 *q = (const float4 *)cs;
    float4 a = q[0], b = q[1];
    const float c[4] = {a.x, a.z, b.x, b.z}, sn[4] = {a.y, a.w, b.y, b.w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
        float x0 = v[2 * k], x1 = v[2 * k + 1];
        v[2 * k] = x0 * c[k] - x1 * sn[k];
        v[2 * k + 1] = x0 * sn[k] + x1 * c[k];
    }
}

static __device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static __device__ __forceinline__ float red_max(float a, float b)
{
    return fmaxf(a, b);
}

static __device__ __forceinline__ double red_max(double a, double b)
{
    return fmax(a, b);
}

/* x summed (or with MAX its largest) over a one-dimensional block of
 * THREADS threads (a multiple of 32); every thread gets it. red holds
 * THREADS / 32 values and may be used again as soon as this returns. */
template <bool MAX, int THREADS, class T>
static __device__ __forceinline__ T block_reduce(T x, T *red)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const T y = __shfl_xor_sync(0xffffffffu, x, o);
        x = MAX ? red_max(x, y) : x + y;
    }
    if (threadIdx.x % 32 == 0)
        red[threadIdx.x / 32] = x;
    __syncthreads();
    T t = red[0];
#pragma unroll
    for (int i = 1; i < THREADS / 32; i++)
        t = MAX ? red_max(t, red[i]) : t + red[i];
    __syncthreads(); /* red is reused */
    return t;
}

/* Blocks for a grid-stride loop over n items with bs threads per block:
 * enough to fill the device several times over, never more than needed. */
static inline unsigned grid_for(int64_t n, int bs)
{
    int64_t b = (n + bs - 1) / bs;
    if (b > 65535LL * 16)
        b = 65535LL * 16;
    if (b < 1)
        b = 1;
    return (unsigned)b;
}

/* Eight BF16 values packed in a 16-byte word, as F32. */
static __device__ __forceinline__ void bf16x8(float *o, uint4 u)
{
    const __nv_bfloat162 *h = (const __nv_bfloat162 *)&u;
#pragma unroll
    for (int k = 0; k < 4; k++) {
        float2 f = __bfloat1622float2(h[k]);
        o[2 * k] = f.x;
        o[2 * k + 1] = f.y;
    }
}

/* Eight consecutive elements at index i (a multiple of 8) as F32. BF16 and
 * F32 use 16-byte loads: the host checks that the base pointer is 16-byte
 * aligned before choosing a path that calls these. F16 goes one by one. */
static __device__ __forceinline__ void ld8(float *o, const void *p, int dt, int64_t i)
{
    if (dt == ZT_BF16) {
        bf16x8(o, *(const uint4 *)((const __nv_bfloat16 *)p + i));
    } else if (dt == ZT_F32) {
        const float4 *q = (const float4 *)((const float *)p + i);
        float4 a = q[0], b = q[1];
        o[0] = a.x, o[1] = a.y, o[2] = a.z, o[3] = a.w;
        o[4] = b.x, o[5] = b.y, o[6] = b.z, o[7] = b.w;
    } else {
#pragma unroll
        for (int k = 0; k < 8; k++)
            o[k] = ld_f(p, dt, i + k);
    }
}

static __device__ __forceinline__ void st8(void *p, int dt, int64_t i, const float *v)
{
    if (dt == ZT_BF16) {
        __nv_bfloat162 h[4];
#pragma unroll
        for (int k = 0; k < 4; k++)
            h[k] = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
        *(uint4 *)((__nv_bfloat16 *)p + i) = *(const uint4 *)h;
    } else if (dt == ZT_F32) {
        float4 *q = (float4 *)((float *)p + i);
        q[0] = make_float4(v[0], v[1], v[2], v[3]);
        q[1] = make_float4(v[4], v[5], v[6], v[7]);
    } else {
#pragma unroll
        for (int k = 0; k < 8; k++)
            st_f(p, dt, i + k, v[k]);
    }
}

/* v[0..8) *= p[c .. c + 8) when p is given */
static __device__ __forceinline__ void mul8(float *v, const void *p, int dt, int64_t c)
{
    if (!p)
        return;
    float t[8];
    ld8(t, p, dt, c);
#pragma unroll
    for (int k = 0; k < 8; k++)
        v[k] *= t[k];
}

/* The RMSNorm of 8 values at column c of a row whose 1/rms is inv:
 * v * inv (* w[c..]) (* scale[c..]), w and scale NULL-able. */
static __device__ __forceinline__ void norm8(float *v, float inv, const void *w, int wdt,
                                             const void *scale, int sdt, int64_t c)
{
#pragma unroll
    for (int k = 0; k < 8; k++)
        v[k] *= inv;
    mul8(v, w, wdt, c);
    mul8(v, scale, sdt, c);
}

/* True when p may be read 8 elements at a time by ld8/st8. */
static inline int al16(const void *p)
{
    return ((uintptr_t)p & 15) == 0;
}

static inline int float_dt(zt_dtype t)
{
    return t == ZT_F32 || t == ZT_BF16 || t == ZT_F16;
}

/*
 * The q/k norm with RoPE on two rows a thread, for heads of hd = 8 * tpr
 * (norm.cu's k_rmsnorm_rope_v2, quant.cu's k_rmsnorm_rope_q): a thread
 * takes chunk c of rows r0 and r0 + rpb of x [rows, hd], both loaded
 * before either is reduced (twice the bytes in flight of one row a
 * thread), zeros past the last row. rope_rows2_norm then takes each row's
 * sum of squares over its tpr threads (every thread takes part in the
 * shuffles) and, for the rows that exist, applies 1/rms, w and the
 * interleaved rotation from cs [S, hd/2, 2].
 */
struct rope_rows2 {
    int r0, rpb, c;
};

static __device__ __forceinline__ rope_rows2 rope_rows2_load(float (&v)[2][8], const void *x,
                                                             int xdt, int rows, int hd, int tpr)
{
    rope_rows2 r;
    r.rpb = blockDim.x / tpr;
    r.c = (threadIdx.x % tpr) * 8;
    r.r0 = blockIdx.x * 2 * r.rpb + threadIdx.x / tpr;
#pragma unroll
    for (int j = 0; j < 2; j++) {
        const int row = r.r0 + j * r.rpb;
        if (row < rows)
            ld8(v[j], x, xdt, (int64_t)row * hd + r.c);
        else
#pragma unroll
            for (int k = 0; k < 8; k++)
                v[j][k] = 0.0f;
    }
    return r;
}

static __device__ __forceinline__ void rope_rows2_norm(float (&v)[2][8], rope_rows2 r,
                                                       const void *w, int wdt, const float *cs,
                                                       int rows, int heads, int hd, int tpr,
                                                       float eps)
{
    float ss[2];
#pragma unroll
    for (int j = 0; j < 2; j++) {
        ss[j] = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; k++)
            ss[j] += v[j][k] * v[j][k];
        for (int o = tpr / 2; o > 0; o >>= 1)
            ss[j] += __shfl_xor_sync(0xffffffffu, ss[j], o);
    }
    const int half = hd / 2;
#pragma unroll
    for (int j = 0; j < 2; j++) {
        const int row = r.r0 + j * r.rpb;
        if (row >= rows)
            continue;
        norm8(v[j], rsqrtf(ss[j] / (float)hd + eps), w, wdt, NULL, 0, r.c);
        rope_il8(v[j], cs + ((int64_t)(row / heads) * half + r.c / 2) * 2);
    }
}

#endif
