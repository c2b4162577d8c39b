/*
 * norm.cu - row normalisations (RMSNorm, LayerNorm), GroupNorm over
 * channel-first images, and row softmax. Statistics and exponentials in F32.
 *
 * Row ops use one warp per row (rows are 128..16384 wide here; there are
 * always many rows). GroupNorm groups are contiguous ranges of C/G * P
 * elements, up to 4M at 1024x1024, so statistics come from many blocks per
 * group: each block reduces a slice to (count, mean, M2) with two passes over
 * its slice (the second hits L2), a small kernel merges the slices with
 * Chan's formula in double, and a pointwise kernel applies the result.
 */
#include <math.h>

#include "common.cuh"
#include "zt_kernels.h"

#define ROWS_PER_BLOCK 8 /* warps per block */

__global__ void k_rmsnorm(void *y, int ydt, const void *x, int xdt, const void *w, int wdt,
                          const void *scale, int sdt, int64_t rows, int64_t C, float eps)
{
    int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y;
    if (r >= rows)
        return;
    int lane = threadIdx.x;
    int64_t base = r * C;
    float ss = 0.0f;
    for (int64_t c = lane; c < C; c += 32) {
        float v = ld_f(x, xdt, base + c);
        ss += v * v;
    }
    ss = warp_sum(ss);
    float inv = rsqrtf(ss / (float)C + eps);
    for (int64_t c = lane; c < C; c += 32) {
        float v = ld_f(x, xdt, base + c) * inv;
        if (w)
            v *= ld_f(w, wdt, c);
        if (scale)
            v *= ld_f(scale, sdt, c);
        st_f(y, ydt, base + c, v);
    }
}

/* Vector RMSNorm: tpr threads a row (a power of two up to 32, so a row's
 * threads sit in one warp), 8 elements a thread with 16-byte loads. Rows of
 * 3840 (the DiT) take a full warp; rows of 128 (per-head q/k norm) take 16
 * threads, two rows a warp. The second pass re-reads the row, mostly from L1.
 * Threads past the last row still take part in the shuffles (full mask). */
__global__ void k_rmsnorm_v(void *y, int ydt, const void *x, int xdt, const void *w, int wdt,
                            const void *scale, int sdt, int rows, int C, int tpr, float eps)
{
    const int sub = threadIdx.x % tpr;
    const int r = blockIdx.x * (blockDim.x / tpr) + threadIdx.x / tpr;
    const bool ok = r < rows;
    const int64_t base = (int64_t)(ok ? r : 0) * C;
    float ss = 0.0f;
    if (ok)
        for (int c = sub * 8; c < C; c += tpr * 8) {
            float v[8];
            ld8(v, x, xdt, base + c);
#pragma unroll
            for (int k = 0; k < 8; k++)
                ss += v[k] * v[k];
        }
    for (int o = tpr / 2; o > 0; o >>= 1)
        ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if (!ok)
        return;
    const float inv = rsqrtf(ss / (float)C + eps);
    for (int c = sub * 8; c < C; c += tpr * 8) {
        float v[8], t[8];
        ld8(v, x, xdt, base + c);
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[k] *= inv;
        if (w) {
            ld8(t, w, wdt, c);
#pragma unroll
            for (int k = 0; k < 8; k++)
                v[k] *= t[k];
        }
        if (scale) {
            ld8(t, scale, sdt, c);
#pragma unroll
            for (int k = 0; k < 8; k++)
                v[k] *= t[k];
        }
        st8(y, ydt, base + c, v);
    }
}

cudaError_t zt_cuda_rmsnorm(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, const void *w,
                            zt_dtype wdt, const void *scale, zt_dtype sdt, int64_t rows,
                            int64_t C, float eps, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || (w && !float_dt(wdt)) ||
        (scale && !float_dt(sdt)) || C <= 0)
        return cudaErrorInvalidValue;
    if (rows <= 0)
        return cudaSuccess;
    if (C % 8 == 0 && C < (1 << 30) && rows < (1LL << 31) / 256 && al16(y) && al16(x) &&
        (!w || al16(w)) && (!scale || al16(scale))) {
        int tpr = 32;
        while (tpr > 1 && tpr * 8 > C)
            tpr /= 2;
        const int rpb = 256 / tpr;
        k_rmsnorm_v<<<(unsigned)((rows + rpb - 1) / rpb), 256, 0, st>>>(
            y, ydt, x, xdt, w, wdt, scale, sdt, (int)rows, (int)C, tpr, eps);
        return cudaGetLastError();
    }
    dim3 bs(32, ROWS_PER_BLOCK);
    unsigned nb = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    k_rmsnorm<<<nb, bs, 0, st>>>(y, ydt, x, xdt, w, wdt, scale, sdt, rows, C, eps);
    return cudaGetLastError();
}

/* ---- RMSNorm fused with what follows it ------------------------------- */

/* rope: x [rows = S*heads, C = hd] in place, v = rmsnorm(x) * w, then the
 * rotation of each pair with cs [S, hd/2, 2] (kind 0 NEOX, 1 interleaved).
 * resid: y [rows, C] += gate[C] * rmsnorm(x) * w (x is only read).
 * One warp a row; the pairs / columns of a row are spread over its lanes. */
__global__ void k_rmsnorm_rope(void *x, int xdt, const void *w, int wdt, const float *cs,
                               int64_t rows, int64_t heads, int64_t hd, int kind, float eps)
{
    int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y;
    if (r >= rows)
        return;
    const int64_t base = r * hd, half = hd / 2, s = r / heads;
    float ss = 0.0f;
    for (int64_t c = threadIdx.x; c < hd; c += 32) {
        float v = ld_f(x, xdt, base + c);
        ss += v * v;
    }
    const float inv = rsqrtf(warp_sum(ss) / (float)hd + eps);
    for (int64_t m = threadIdx.x; m < half; m += 32) {
        int64_t i0 = kind == 0 ? m : 2 * m, i1 = kind == 0 ? m + half : 2 * m + 1;
        float a = ld_f(x, xdt, base + i0) * inv, b = ld_f(x, xdt, base + i1) * inv;
        if (w) {
            a *= ld_f(w, wdt, i0);
            b *= ld_f(w, wdt, i1);
        }
        float c = cs[(s * half + m) * 2], sn = cs[(s * half + m) * 2 + 1];
        st_f(x, xdt, base + i0, a * c - b * sn);
        st_f(x, xdt, base + i1, a * sn + b * c);
    }
}

/* Interleaved pairs, 8 elements a thread, tpr threads a row (as
 * k_rmsnorm_v): hd % 8 == 0, x, w and cs 16-byte aligned. */
__global__ void k_rmsnorm_rope_v(void *x, int xdt, const void *w, int wdt, const float *cs,
                                 int rows, int heads, int hd, int tpr, float eps)
{
    const int sub = threadIdx.x % tpr;
    const int r = blockIdx.x * (blockDim.x / tpr) + threadIdx.x / tpr;
    const bool ok = r < rows;
    const int64_t base = (int64_t)(ok ? r : 0) * hd;
    float ss = 0.0f;
    if (ok)
        for (int c = sub * 8; c < hd; c += tpr * 8) {
            float v[8];
            ld8(v, x, xdt, base + c);
#pragma unroll
            for (int k = 0; k < 8; k++)
                ss += v[k] * v[k];
        }
    for (int o = tpr / 2; o > 0; o >>= 1)
        ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if (!ok)
        return;
    const float inv = rsqrtf(ss / (float)hd + eps);
    const int64_t s = r / heads, half = hd / 2;
    for (int c = sub * 8; c < hd; c += tpr * 8) {
        float v[8], t[8];
        ld8(v, x, xdt, base + c);
        if (w)
            ld8(t, w, wdt, c);
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[k] *= w ? inv * t[k] : inv;
        const float4 *q = (const float4 *)(cs + (s * half + c / 2) * 2);
        float4 a = q[0], b = q[1];
        const float cc[4] = {a.x, a.z, b.x, b.z}, sn[4] = {a.y, a.w, b.y, b.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            float x0 = v[2 * k], x1 = v[2 * k + 1];
            v[2 * k] = x0 * cc[k] - x1 * sn[k];
            v[2 * k + 1] = x0 * sn[k] + x1 * cc[k];
        }
        st8(x, xdt, base + c, v);
    }
}

cudaError_t zt_cuda_rmsnorm_rope(void *x, zt_dtype xdt, const void *w, zt_dtype wdt,
                                 const float *cs, int64_t S, int64_t heads, int64_t hd,
                                 int kind, float eps, cudaStream_t st)
{
    if (!float_dt(xdt) || (w && !float_dt(wdt)) || hd <= 0 || hd % 2 || kind < 0 || kind > 1)
        return cudaErrorInvalidValue;
    int64_t rows = S * heads;
    if (rows <= 0)
        return cudaSuccess;
    if (kind == 1 && hd % 8 == 0 && hd <= 256 && rows < (1LL << 31) / 256 && al16(x) &&
        (!w || al16(w)) && al16(cs)) {
        int tpr = 32;
        while (tpr > 1 && tpr * 8 > hd)
            tpr /= 2;
        const int rpb = 256 / tpr;
        k_rmsnorm_rope_v<<<(unsigned)((rows + rpb - 1) / rpb), 256, 0, st>>>(
            x, xdt, w, wdt, cs, (int)rows, (int)heads, (int)hd, tpr, eps);
        return cudaGetLastError();
    }
    unsigned nb = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    k_rmsnorm_rope<<<nb, dim3(32, ROWS_PER_BLOCK), 0, st>>>(x, xdt, w, wdt, cs, rows, heads, hd,
                                                            kind, eps);
    return cudaGetLastError();
}

__global__ void k_norm_gated_add(void *y, int ydt, const void *x, int xdt, const void *w,
                                 int wdt, const void *g, int gdt, int64_t rows, int64_t C,
                                 float eps)
{
    int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y;
    if (r >= rows)
        return;
    const int64_t base = r * C;
    float ss = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += 32) {
        float v = ld_f(x, xdt, base + c);
        ss += v * v;
    }
    const float inv = rsqrtf(warp_sum(ss) / (float)C + eps);
    for (int64_t c = threadIdx.x; c < C; c += 32) {
        float v = ld_f(x, xdt, base + c) * inv;
        if (w)
            v *= ld_f(w, wdt, c);
        if (g)
            v *= ld_f(g, gdt, c);
        st_f(y, ydt, base + c, ld_f(y, ydt, base + c) + v);
    }
}

/* 8 elements a thread, tpr threads a row (as k_rmsnorm_v). */
__global__ void k_norm_gated_add_v(void *y, int ydt, const void *x, int xdt, const void *w,
                                   int wdt, const void *g, int gdt, int rows, int C, int tpr,
                                   float eps)
{
    const int sub = threadIdx.x % tpr;
    const int r = blockIdx.x * (blockDim.x / tpr) + threadIdx.x / tpr;
    const bool ok = r < rows;
    const int64_t base = (int64_t)(ok ? r : 0) * C;
    float ss = 0.0f;
    if (ok)
        for (int c = sub * 8; c < C; c += tpr * 8) {
            float v[8];
            ld8(v, x, xdt, base + c);
#pragma unroll
            for (int k = 0; k < 8; k++)
                ss += v[k] * v[k];
        }
    for (int o = tpr / 2; o > 0; o >>= 1)
        ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if (!ok)
        return;
    const float inv = rsqrtf(ss / (float)C + eps);
    for (int c = sub * 8; c < C; c += tpr * 8) {
        float v[8], t[8], o[8];
        ld8(v, x, xdt, base + c);
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[k] *= inv;
        if (w) {
            ld8(t, w, wdt, c);
#pragma unroll
            for (int k = 0; k < 8; k++)
                v[k] *= t[k];
        }
        if (g) {
            ld8(t, g, gdt, c);
#pragma unroll
            for (int k = 0; k < 8; k++)
                v[k] *= t[k];
        }
        ld8(o, y, ydt, base + c);
#pragma unroll
        for (int k = 0; k < 8; k++)
            o[k] += v[k];
        st8(y, ydt, base + c, o);
    }
}

cudaError_t zt_cuda_norm_gated_add(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                                   const void *w, zt_dtype wdt, const void *g, zt_dtype gdt,
                                   int64_t rows, int64_t C, float eps, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || (w && !float_dt(wdt)) || (g && !float_dt(gdt)) ||
        C <= 0)
        return cudaErrorInvalidValue;
    if (rows <= 0)
        return cudaSuccess;
    if (C % 8 == 0 && C < (1 << 30) && rows < (1LL << 31) / 256 && al16(y) && al16(x) &&
        (!w || al16(w)) && (!g || al16(g))) {
        int tpr = 32;
        while (tpr > 1 && tpr * 8 > C)
            tpr /= 2;
        const int rpb = 256 / tpr;
        k_norm_gated_add_v<<<(unsigned)((rows + rpb - 1) / rpb), 256, 0, st>>>(
            y, ydt, x, xdt, w, wdt, g, gdt, (int)rows, (int)C, tpr, eps);
        return cudaGetLastError();
    }
    unsigned nb = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    k_norm_gated_add<<<nb, dim3(32, ROWS_PER_BLOCK), 0, st>>>(y, ydt, x, xdt, w, wdt, g, gdt,
                                                              rows, C, eps);
    return cudaGetLastError();
}

__global__ void k_layernorm(void *y, int ydt, const void *x, int xdt, const void *w, int wdt,
                            const void *b, int bdt, const void *scale, int sdt, int64_t rows,
                            int64_t C, float eps)
{
    int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y;
    if (r >= rows)
        return;
    int lane = threadIdx.x;
    int64_t base = r * C;
    float s = 0.0f;
    for (int64_t c = lane; c < C; c += 32)
        s += ld_f(x, xdt, base + c);
    float mean = warp_sum(s) / (float)C;
    float ss = 0.0f;
    for (int64_t c = lane; c < C; c += 32) {
        float d = ld_f(x, xdt, base + c) - mean;
        ss += d * d;
    }
    float inv = rsqrtf(warp_sum(ss) / (float)C + eps);
    for (int64_t c = lane; c < C; c += 32) {
        float v = (ld_f(x, xdt, base + c) - mean) * inv;
        if (w)
            v *= ld_f(w, wdt, c);
        if (b)
            v += ld_f(b, bdt, c);
        if (scale)
            v *= ld_f(scale, sdt, c);
        st_f(y, ydt, base + c, v);
    }
}

cudaError_t zt_cuda_layernorm(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                              const void *w, zt_dtype wdt, const void *b, zt_dtype bdt,
                              const void *scale, zt_dtype sdt, int64_t rows, int64_t C,
                              float eps, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || (w && !float_dt(wdt)) || (b && !float_dt(bdt)) ||
        (scale && !float_dt(sdt)) || C <= 0)
        return cudaErrorInvalidValue;
    if (rows <= 0)
        return cudaSuccess;
    dim3 bs(32, ROWS_PER_BLOCK);
    unsigned nb = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    k_layernorm<<<nb, bs, 0, st>>>(y, ydt, x, xdt, w, wdt, b, bdt, scale, sdt, rows, C, eps);
    return cudaGetLastError();
}

/* ---- GroupNorm ---------------------------------------------------------- */

#define GN_BS 256
#define GN_SLICE 16384 /* elements per statistics block */

static int64_t gn_slices(int64_t C, int64_t P, int groups)
{
    int64_t gsz = C / groups * P;
    return (gsz + GN_SLICE - 1) / GN_SLICE;
}

size_t zt_cuda_groupnorm_scratch(int64_t C, int64_t P, int groups)
{
    /* per slice (mean, M2) + per group (mean, inv std) */
    return (size_t)(groups * gn_slices(C, P, groups) * 2 + groups * 2) * sizeof(float);
}

static __device__ float block_sum(float v, float *sh)
{
    v = warp_sum(v);
    int w = threadIdx.x / 32, l = threadIdx.x % 32;
    __syncthreads();
    if (l == 0)
        sh[w] = v;
    __syncthreads();
    if (w == 0) {
        v = l < (int)(blockDim.x / 32) ? sh[l] : 0.0f;
        v = warp_sum(v);
        if (l == 0)
            sh[0] = v;
    }
    __syncthreads();
    return sh[0];
}

/* grid (slices, groups): slice s of group g -> part[(g*slices+s)*2 + {0,1}].
 * vec: 8 elements a load (x 16-byte aligned, gsz a multiple of 8). */
__global__ void k_gn_partial(const void *x, int xdt, int64_t gsz, int64_t slices, float *part,
                             int vec)
{
    __shared__ float sh[32];
    int64_t g = blockIdx.y, s = blockIdx.x;
    int64_t lo = s * GN_SLICE, hi = min(lo + (int64_t)GN_SLICE, gsz);
    const int64_t base = g * gsz;
    float sum = 0.0f, v[8];
    if (vec) {
        for (int64_t i = lo + 8 * threadIdx.x; i < hi; i += 8 * blockDim.x) {
            ld8(v, x, xdt, base + i);
#pragma unroll
            for (int k = 0; k < 8; k++)
                sum += v[k];
        }
    } else {
        for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x)
            sum += ld_f(x, xdt, base + i);
    }
    float mean = block_sum(sum, sh) / (float)(hi - lo);
    float m2 = 0.0f;
    if (vec) {
        for (int64_t i = lo + 8 * threadIdx.x; i < hi; i += 8 * blockDim.x) {
            ld8(v, x, xdt, base + i);
#pragma unroll
            for (int k = 0; k < 8; k++)
                m2 += (v[k] - mean) * (v[k] - mean);
        }
    } else {
        for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
            float d = ld_f(x, xdt, base + i) - mean;
            m2 += d * d;
        }
    }
    m2 = block_sum(m2, sh);
    if (threadIdx.x == 0) {
        part[(g * slices + s) * 2] = mean;
        part[(g * slices + s) * 2 + 1] = m2;
    }
}

/* one thread per group: merge slices (Chan et al.) in double */
__global__ void k_gn_merge(const float *part, float *stats, int groups, int64_t gsz,
                           int64_t slices, float eps)
{
    int g = blockIdx.x * blockDim.x + threadIdx.x;
    if (g >= groups)
        return;
    double n = 0, mean = 0, m2 = 0;
    for (int64_t s = 0; s < slices; s++) {
        double nb = (double)(min((s + 1) * (int64_t)GN_SLICE, gsz) - s * GN_SLICE);
        double mb = part[(g * slices + s) * 2], m2b = part[(g * slices + s) * 2 + 1];
        double d = mb - mean, nn = n + nb;
        mean += d * nb / nn;
        m2 += m2b + d * d * n * nb / nn;
        n = nn;
    }
    stats[2 * g] = (float)mean;
    stats[2 * g + 1] = (float)(1.0 / sqrt(m2 / n + (double)eps));
}

/* grid (column blocks, C): channel constants are per block. vec: 8
 * elements a load and store (x, y 16-byte aligned, P a multiple of 8). */
__global__ void k_gn_apply(void *y, int ydt, const void *x, int xdt, const float *stats,
                           const void *w, int wdt, const void *b, int bdt, int64_t P, int cpg,
                           int silu, int vec)
{
    int64_t c = blockIdx.y, g = c / cpg;
    float mean = stats[2 * g], inv = stats[2 * g + 1];
    float wv = w ? ld_f(w, wdt, c) : 1.0f, bv = b ? ld_f(b, bdt, c) : 0.0f;
    float mul = inv * wv, add = bv - mean * inv * wv;
    const int64_t base = c * P;
    if (vec) {
        float v[8];
        for (int64_t p = 8 * (blockIdx.x * (int64_t)blockDim.x + threadIdx.x); p < P;
             p += 8 * (int64_t)gridDim.x * blockDim.x) {
            ld8(v, x, xdt, base + p);
#pragma unroll
            for (int k = 0; k < 8; k++) {
                v[k] = v[k] * mul + add;
                if (silu)
                    v[k] = silu_f(v[k]);
            }
            st8(y, ydt, base + p, v);
        }
        return;
    }
    for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < P;
         p += (int64_t)gridDim.x * blockDim.x) {
        float v = ld_f(x, xdt, base + p) * mul + add;
        if (silu)
            v = silu_f(v);
        st_f(y, ydt, base + p, v);
    }
}

cudaError_t zt_cuda_groupnorm(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t C,
                              int64_t P, int groups, const void *w, zt_dtype wdt,
                              const void *b, zt_dtype bdt, float eps, int silu,
                              void *scratch, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || (w && !float_dt(wdt)) || (b && !float_dt(bdt)) ||
        groups <= 0 || C % groups || P <= 0 || C > 65535 || !scratch)
        return cudaErrorInvalidValue;
    int64_t slices = gn_slices(C, P, groups), gsz = C / groups * P;
    if (slices > 65535)
        return cudaErrorInvalidValue;
    float *part = (float *)scratch, *stats = part + groups * slices * 2;
    int vx = al16(x) && gsz % 8 == 0, vy = vx && al16(y) && P % 8 == 0;
    k_gn_partial<<<dim3((unsigned)slices, (unsigned)groups), GN_BS, 0, st>>>(x, xdt, gsz,
                                                                              slices, part, vx);
    k_gn_merge<<<(groups + 63) / 64, 64, 0, st>>>(part, stats, groups, gsz, slices, eps);
    /* 4 elements a thread, or 8 with the vector path */
    int per = vy ? 8 : 4;
    unsigned gx = (unsigned)((P + GN_BS * per - 1) / (GN_BS * per));
    k_gn_apply<<<dim3(gx, (unsigned)C), GN_BS, 0, st>>>(y, ydt, x, xdt, stats, w, wdt, b, bdt, P,
                                                        (int)(C / groups), silu, vy);
    return cudaGetLastError();
}

/* ---- softmax ------------------------------------------------------------ */

__global__ void k_softmax(void *y, int ydt, const void *x, int xdt, int64_t rows, int64_t C,
                          float scale, int64_t causal_off)
{
    int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y;
    if (r >= rows)
        return;
    int lane = threadIdx.x;
    int64_t base = r * C;
    int64_t lim = causal_off >= 0 ? min(C, r + causal_off + 1) : C; /* columns kept */
    float m = -INFINITY;
    for (int64_t c = lane; c < lim; c += 32)
        m = fmaxf(m, scale * ld_f(x, xdt, base + c));
    m = warp_max(m);
    float s = 0.0f;
    for (int64_t c = lane; c < lim; c += 32)
        s += __expf(scale * ld_f(x, xdt, base + c) - m);
    s = warp_sum(s);
    float inv = s > 0.0f ? 1.0f / s : 0.0f;
    for (int64_t c = lane; c < C; c += 32)
        st_f(y, ydt, base + c, c < lim ? __expf(scale * ld_f(x, xdt, base + c) - m) * inv : 0.0f);
}

cudaError_t zt_cuda_softmax(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t rows,
                            int64_t C, float scale, int64_t causal_off, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || C <= 0)
        return cudaErrorInvalidValue;
    if (rows <= 0)
        return cudaSuccess;
    dim3 bs(32, ROWS_PER_BLOCK);
    unsigned nb = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    k_softmax<<<nb, bs, 0, st>>>(y, ydt, x, xdt, rows, C, scale, causal_off);
    return cudaGetLastError();
}
