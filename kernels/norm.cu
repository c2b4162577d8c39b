/*
 * norm.cu - row normalisations (RMSNorm, LayerNorm), GroupNorm over
 * channels-last images, and row softmax. Statistics and exponentials in F32.
 *
 * Row ops use one warp per row (rows are 128..16384 wide here; there are
 * always many rows). A GroupNorm group is C/G channels of every pixel, up
 * to 4M values at 1024x1024, so its statistics come from many blocks: each
 * reduces a slice of rows to (mean, M2) per channel in one pass, a block a
 * group merges them in double, and a pointwise kernel applies the result.
 */
#include <math.h>

#include "common.cuh"
#include "zt_kernels.h"

#define ROWS_PER_BLOCK 8 /* warps per block */

/* ---- row helpers -------------------------------------------------------- */

/* 1 / sqrt(mean(x^2) + eps) of the row x[base .. base + C), a warp a row
 * (lane threadIdx.x); every lane gets it. */
static __device__ float row_inv_rms(const void *x, int xdt, int64_t base, int64_t C, float eps)
{
    float ss = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += 32) {
        float v = ld_f(x, xdt, base + c);
        ss += v * v;
    }
    return rsqrtf(warp_sum(ss) / (float)C + eps);
}

/* Vector rows: tpr threads a row (a power of two up to 32, so a row's
 * threads sit in one warp), 8 elements a thread with 16-byte loads. Rows of
 * 3840 (the DiT) take a full warp; rows of 128 (per-head q/k norm) take 16
 * threads, two rows a warp. Second passes re-read the row, mostly from L1.
 * Blocks are 256 threads. */
typedef struct vrow {
    int row, sub, tpr; /* this thread's row, its index among the row's threads */
    bool ok;           /* row < rows */
    int64_t base;      /* the row's first element (0 past the last row) */
} vrow;

static __device__ vrow vrow_at(int rows, int C, int tpr)
{
    vrow r;
    r.tpr = tpr;
    r.sub = threadIdx.x % tpr;
    r.row = blockIdx.x * (blockDim.x / tpr) + threadIdx.x / tpr;
    r.ok = r.row < rows;
    r.base = (int64_t)(r.ok ? r.row : 0) * C;
    return r;
}

/* row_inv_rms for a vector row. Every thread calls it (full-mask
 * shuffles); threads past the last row add nothing. */
static __device__ float vrow_inv_rms(const vrow &r, const void *x, int xdt, int C, float eps)
{
    float ss = 0.0f;
    if (r.ok)
        for (int c = r.sub * 8; c < C; c += r.tpr * 8) {
            float v[8];
            ld8(v, x, xdt, r.base + c);
#pragma unroll
            for (int k = 0; k < 8; k++)
                ss += v[k] * v[k];
        }
    for (int o = r.tpr / 2; o > 0; o >>= 1)
        ss += __shfl_xor_sync(0xffffffffu, ss, o);
    return rsqrtf(ss / (float)C + eps);
}

/* Host: a vector row's threads, and blocks of 256 threads for rows. */
static int vrow_tpr(int64_t C)
{
    int tpr = 32;
    while (tpr > 1 && tpr * 8 > C)
        tpr /= 2;
    return tpr;
}

static unsigned vrow_blocks(int64_t rows, int tpr)
{
    const int rpb = 256 / tpr;
    return (unsigned)((rows + rpb - 1) / rpb);
}

/* ---- RMSNorm ---------------------------------------------------------- */

/* y = rmsnorm(x) (* w) (* scale), or with acc y += that (the DiT's gated
 * residual, the gate as scale; x is then only read). */
__global__ void k_rmsnorm(void *y, int ydt, const void *x, int xdt, const void *w, int wdt,
                          const void *scale, int sdt, int64_t rows, int64_t C, float eps, int acc)
{
    int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y;
    if (r >= rows)
        return;
    const int64_t base = r * C;
    const float inv = row_inv_rms(x, xdt, base, C, eps);
    for (int64_t c = threadIdx.x; c < C; c += 32) {
        float v = ld_f(x, xdt, base + c) * inv;
        if (w)
            v *= ld_f(w, wdt, c);
        if (scale)
            v *= ld_f(scale, sdt, c);
        st_f(y, ydt, base + c, acc ? ld_f(y, ydt, base + c) + v : v);
    }
}

__global__ void k_rmsnorm_v(void *y, int ydt, const void *x, int xdt, const void *w, int wdt,
                            const void *scale, int sdt, int rows, int C, int tpr, float eps,
                            int acc)
{
    const vrow r = vrow_at(rows, C, tpr);
    const float inv = vrow_inv_rms(r, x, xdt, C, eps);
    if (!r.ok)
        return;
    for (int c = r.sub * 8; c < C; c += tpr * 8) {
        float v[8];
        ld8(v, x, xdt, r.base + c);
        norm8(v, inv, w, wdt, scale, sdt, c);
        if (acc) {
            float o[8];
            ld8(o, y, ydt, r.base + c);
#pragma unroll
            for (int k = 0; k < 8; k++)
                v[k] += o[k];
        }
        st8(y, ydt, r.base + c, v);
    }
}

static cudaError_t rmsnorm_launch(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                                  const void *w, zt_dtype wdt, const void *scale, zt_dtype sdt,
                                  int64_t rows, int64_t C, float eps, int acc, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || (w && !float_dt(wdt)) ||
        (scale && !float_dt(sdt)) || C <= 0)
        return cudaErrorInvalidValue;
    if (rows <= 0)
        return cudaSuccess;
    if (C % 8 == 0 && C < (1 << 30) && rows < (1LL << 31) / 256 && al16(y) && al16(x) &&
        (!w || al16(w)) && (!scale || al16(scale))) {
        const int tpr = vrow_tpr(C);
        k_rmsnorm_v<<<vrow_blocks(rows, tpr), 256, 0, st>>>(y, ydt, x, xdt, w, wdt, scale, sdt,
                                                            (int)rows, (int)C, tpr, eps, acc);
        return cudaGetLastError();
    }
    dim3 bs(32, ROWS_PER_BLOCK);
    unsigned nb = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    k_rmsnorm<<<nb, bs, 0, st>>>(y, ydt, x, xdt, w, wdt, scale, sdt, rows, C, eps, acc);
    return cudaGetLastError();
}

cudaError_t zt_cuda_rmsnorm(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, const void *w,
                            zt_dtype wdt, const void *scale, zt_dtype sdt, int64_t rows,
                            int64_t C, float eps, cudaStream_t st)
{
    return rmsnorm_launch(y, ydt, x, xdt, w, wdt, scale, sdt, rows, C, eps, 0, st);
}

cudaError_t zt_cuda_norm_gated_add(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                                   const void *w, zt_dtype wdt, const void *g, zt_dtype gdt,
                                   int64_t rows, int64_t C, float eps, cudaStream_t st)
{
    return rmsnorm_launch(y, ydt, x, xdt, w, wdt, g, gdt, rows, C, eps, 1, st);
}

/* ---- RMSNorm fused with what follows it ------------------------------- */

/* x [rows = S*heads, C = hd] in place, v = rmsnorm(x) * w, then the
 * rotation of each pair with cs [S, hd/2, 2] (kind 0 NEOX, 1 interleaved).
 * One warp a row; the pairs of a row are spread over its lanes. (The norm
 * fused with the gated residual is k_rmsnorm with acc.) */
__global__ void k_rmsnorm_rope(void *x, int xdt, const void *w, int wdt, const float *cs,
                               int64_t rows, int64_t heads, int64_t hd, int kind, float eps)
{
    int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y;
    if (r >= rows)
        return;
    const int64_t base = r * hd, half = hd / 2, s = r / heads;
    const float inv = row_inv_rms(x, xdt, base, hd, eps);
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

/* Interleaved pairs on vector rows: hd % 8 == 0, x, w and cs 16-byte
 * aligned. */
__global__ void k_rmsnorm_rope_v(void *x, int xdt, const void *w, int wdt, const float *cs,
                                 int rows, int heads, int hd, int tpr, float eps)
{
    const vrow r = vrow_at(rows, hd, tpr);
    const float inv = vrow_inv_rms(r, x, xdt, hd, eps);
    if (!r.ok)
        return;
    const int64_t s = r.row / heads, half = hd / 2;
    for (int c = r.sub * 8; c < hd; c += tpr * 8) {
        float v[8];
        ld8(v, x, xdt, r.base + c);
        norm8(v, inv, w, wdt, NULL, 0, c);
        rope_il8(v, cs + (s * half + c / 2) * 2);
        st8(x, xdt, r.base + c, v);
    }
}

/* k_rmsnorm_rope_v when a row is one chunk a thread (hd == 8 * tpr: the
 * DiT's interleaved heads of 128 take 16 threads), two rows a thread
 * (common.cuh rope_rows2): twice the bytes in flight, which a pass of one
 * 16-byte load a thread needs to come near DRAM's rate. The sums and
 * products are k_rmsnorm_rope_v's, in the same order. */
__global__ void k_rmsnorm_rope_v2(void *x, int xdt, const void *w, int wdt, const float *cs,
                                  int rows, int heads, int hd, int tpr, float eps)
{
    float v[2][8];
    const rope_rows2 r = rope_rows2_load(v, x, xdt, rows, hd, tpr);
    rope_rows2_norm(v, r, w, wdt, cs, rows, heads, hd, tpr, eps);
#pragma unroll
    for (int j = 0; j < 2; j++) {
        const int row = r.r0 + j * r.rpb;
        if (row < rows)
            st8(x, xdt, (int64_t)row * hd + r.c, v[j]);
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
        const int tpr = vrow_tpr(hd);
        if (hd == 8 * tpr) {
            const int64_t per = 2 * (256 / tpr); /* rows a block */
            k_rmsnorm_rope_v2<<<(unsigned)((rows + per - 1) / per), 256, 0, st>>>(
                x, xdt, w, wdt, cs, (int)rows, (int)heads, (int)hd, tpr, eps);
        } else {
            k_rmsnorm_rope_v<<<vrow_blocks(rows, tpr), 256, 0, st>>>(
                x, xdt, w, wdt, cs, (int)rows, (int)heads, (int)hd, tpr, eps);
        }
        return cudaGetLastError();
    }
    unsigned nb = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    k_rmsnorm_rope<<<nb, dim3(32, ROWS_PER_BLOCK), 0, st>>>(x, xdt, w, wdt, cs, rows, heads, hd,
                                                            kind, eps);
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

/* ---- GroupNorm, channels last -------------------------------------------- */

/*
 * x, y [P, C]. The statistics of a group (its C/groups channels of all P
 * rows) are built in two stages so that every read runs along the channels:
 * k_gn_partial gives each (slice of GN_ROWS rows, channel) its mean and M2
 * in one pass over the slice, 8 channels a thread (16-byte loads) when it
 * can; k_gn_merge folds a group's slices and channels in double, a block a
 * group, and leaves each channel's affine (mul, add);
 * k_gn_apply is then y = x * mul + add with the same channel tiles.
 */
#define GN_BS 256
#define GN_ROWS 256 /* rows of a statistics slice */
#define GN_MERGE_BS 1024 /* threads of k_gn_merge, a block a group */

static int64_t gn_slices(int64_t P)
{
    return (P + GN_ROWS - 1) / GN_ROWS;
}

size_t zt_cuda_groupnorm_scratch(int64_t C, int64_t P, int groups)
{
    (void)groups;
    /* per (slice, channel) (mean, M2) + per channel (mul, add) */
    return (size_t)(gn_slices(P) * C * 2 + C * 2) * sizeof(float);
}

/* a[k] = the sum of a[k] over the block's row lanes (threadIdx.y), for
 * every thread; sh holds GN_BS * 8 floats. */
static __device__ void gn_lane_sum(float *a, float *sh)
{
    /* sh[k][thread]: neighbouring threads touch neighbouring words */
    const int tx = blockDim.x, t = threadIdx.y * tx + threadIdx.x;
#pragma unroll
    for (int k = 0; k < 8; k++)
        sh[k * GN_BS + t] = a[k];
    __syncthreads();
#pragma unroll
    for (int k = 0; k < 8; k++) {
        float sum = 0.0f;
        for (int l = 0; l < (int)blockDim.y; l++)
            sum += sh[k * GN_BS + l * tx + threadIdx.x];
        a[k] = sum;
    }
    __syncthreads();
}

/* v[k] (k < per) of row r, channels [c0, c0 + per) */
static __device__ __forceinline__ void gn_load(float *v, const void *x, int xdt, int64_t r,
                                               int64_t C, int64_t c0, int per)
{
    if (per == 8)
        ld8(v, x, xdt, r * C + c0);
    else
        v[0] = ld_f(x, xdt, r * C + c0);
}

/*
 * Block (tx, GN_BS / tx): threadIdx.x takes channels [c0, c0 + per), c0 =
 * per * (blockIdx.y * tx + threadIdx.x); threadIdx.y a lane of the rows of
 * slice blockIdx.x. per is 8 (16-byte loads) or 1.
 *
 * One pass over the slice: the sums of d and d^2 for d = x - (the slice's
 * first row), then mean = ref + sum d / n and M2 = sum d^2 - (sum d)^2 / n.
 * Shifting by a value of the data keeps the cancellation small (the
 * channel's values in 256 neighbouring pixels lie within a few standard
 * deviations of it). A second pass about the mean re-read the slice, from
 * DRAM once C is 512 (256 KB slices, more than L2 holds for all blocks in
 * flight). Four rows' loads are issued before their sums.
 */
__global__ void k_gn_partial(const void *x, int xdt, int64_t P, int64_t C, float *part, int per)
{
    __shared__ float sh[GN_BS * 8];
    const int64_t s = blockIdx.x, c0 = ((int64_t)blockIdx.y * blockDim.x + threadIdx.x) * per;
    const int64_t lo = s * GN_ROWS, hi = min(lo + (int64_t)GN_ROWS, P);
    const int64_t ty = blockDim.y;
    const int on = c0 < C; /* off threads still take part in gn_lane_sum's barriers */
    float ref[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s1[8] = {0, 0, 0, 0, 0, 0, 0, 0},
          s2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (on)
        gn_load(ref, x, xdt, lo, C, c0, per);
    int64_t r = on ? lo + threadIdx.y : hi;
    for (; r + 3 * ty < hi; r += 4 * ty) {
        float v[4][8] = {};
#pragma unroll
        for (int u = 0; u < 4; u++)
            gn_load(v[u], x, xdt, r + u * ty, C, c0, per);
#pragma unroll
        for (int u = 0; u < 4; u++)
#pragma unroll
            for (int k = 0; k < 8; k++) {
                const float d = v[u][k] - ref[k];
                s1[k] += d;
                s2[k] += d * d;
            }
    }
    for (; r < hi; r += ty) {
        float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        gn_load(v, x, xdt, r, C, c0, per);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const float d = v[k] - ref[k];
            s1[k] += d;
            s2[k] += d * d;
        }
    }
    gn_lane_sum(s1, sh);
    gn_lane_sum(s2, sh);
    if (threadIdx.y == 0 && on) {
        const float n = (float)(hi - lo);
        for (int k = 0; k < per; k++) {
            part[(s * C + c0 + k) * 2] = ref[k] + s1[k] / n;
            part[(s * C + c0 + k) * 2 + 1] = fmaxf(s2[k] - s1[k] * s1[k] / n, 0.0f);
        }
    }
}

/* Item i of group g's slices x channels in part (slice i / cpg, the group's
 * channel i % cpg): its (mean, M2), and in *n its slice's row count. */
static __device__ __forceinline__ const float *gn_item(const float *part, int64_t i, int g,
                                                       int cpg, int64_t C, int64_t P, double *n)
{
    const int64_t sl = i / cpg, c = (int64_t)g * cpg + i % cpg;
    *n = (double)(min((sl + 1) * (int64_t)GN_ROWS, P) - sl * GN_ROWS);
    return part + (sl * C + c) * 2;
}

/*
 * A block a group; leaves coef[c] = (mul, add) for the group's channels:
 * y = x * mul + add is the normalised, affine value. The slices' (n, mean,
 * M2) are folded in double as two sums rather than Chan's pairwise merges
 * (a chain of divisions a thread): the group's mean = sum n mean / N, then
 * M2 = sum (M2 + n (mean_slice - mean)^2). Each channel has P rows.
 */
__global__ void k_gn_merge(const float *part, float *coef, int64_t P, int64_t C, int cpg,
                           int64_t slices, float eps, const void *w, int wdt, const void *b,
                           int bdt)
{
    __shared__ double red[GN_MERGE_BS / 32];
    const int g = blockIdx.x;
    const int64_t items = slices * cpg;
    const double N = (double)P * cpg;
    double t = 0.0, nb = 0.0;
    for (int64_t i = threadIdx.x; i < items; i += GN_MERGE_BS) {
        const float *it = gn_item(part, i, g, cpg, C, P, &nb);
        t += nb * it[0];
    }
    const double mean = block_reduce<false, GN_MERGE_BS>(t, red) / N;
    t = 0.0;
    for (int64_t i = threadIdx.x; i < items; i += GN_MERGE_BS) {
        const float *it = gn_item(part, i, g, cpg, C, P, &nb);
        const double d = it[0] - mean;
        t += it[1] + nb * d * d;
    }
    const double m2 = block_reduce<false, GN_MERGE_BS>(t, red);
    const float fm = (float)mean, inv = (float)(1.0 / sqrt(m2 / N + (double)eps));
    for (int k = threadIdx.x; k < cpg; k += GN_MERGE_BS) {
        int64_t c = (int64_t)g * cpg + k;
        float wv = w ? ld_f(w, wdt, c) : 1.0f, bv = b ? ld_f(b, bdt, c) : 0.0f;
        coef[2 * c] = inv * wv;
        coef[2 * c + 1] = bv - fm * inv * wv;
    }
}

/* Block and channel tiles as k_gn_partial; blocks stride over the rows, so
 * each thread keeps its channels' (mul, add) in registers. */
__global__ void k_gn_apply(void *y, int ydt, const void *x, int xdt, const float *coef,
                           int64_t P, int64_t C, int silu, int per)
{
    const int64_t c0 = ((int64_t)blockIdx.y * blockDim.x + threadIdx.x) * per;
    if (c0 >= C)
        return;
    float mul[8], add[8], v[8];
#pragma unroll
    for (int k = 0; k < 8; k++) {
        mul[k] = k < per ? coef[2 * (c0 + k)] : 0.0f;
        add[k] = k < per ? coef[2 * (c0 + k) + 1] : 0.0f;
    }
    for (int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y; r < P;
         r += (int64_t)gridDim.x * blockDim.y) {
        gn_load(v, x, xdt, r, C, c0, per);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            float t = v[k] * mul[k] + add[k];
            v[k] = silu ? silu_f(t) : t;
        }
        if (per == 8)
            st8(y, ydt, r * C + c0, v);
        else
            st_f(y, ydt, r * C + c0, v[0]);
    }
}

cudaError_t zt_cuda_groupnorm(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t C,
                              int64_t P, int groups, const void *w, zt_dtype wdt,
                              const void *b, zt_dtype bdt, float eps, int silu,
                              void *scratch, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || (w && !float_dt(wdt)) || (b && !float_dt(bdt)) ||
        groups <= 0 || C % groups || P <= 0 || !scratch || ((uintptr_t)scratch & 7))
        return cudaErrorInvalidValue;
    const int per = C % 8 == 0 && al16(x) && al16(y) ? 8 : 1;
    const int64_t slices = gn_slices(P), cv = C / per;
    const int tx = (int)(cv < GN_BS ? cv : GN_BS);
    const int64_t cb = (cv + tx - 1) / tx;
    if (slices > INT32_MAX || cb > 65535)
        return cudaErrorInvalidValue;
    float *part = (float *)scratch, *coef = part + slices * C * 2;
    k_gn_partial<<<dim3((unsigned)slices, (unsigned)cb), dim3(tx, GN_BS / tx), 0, st>>>(
        x, xdt, P, C, part, per);
    k_gn_merge<<<groups, GN_MERGE_BS, 0, st>>>(part, coef, P, C, (int)(C / groups), slices,
                                               eps, w, wdt, b, bdt);
    const int64_t ty = GN_BS / tx, rb = (P + ty - 1) / ty;
    const unsigned gx = (unsigned)(rb < 8192 ? rb : 8192);
    k_gn_apply<<<dim3(gx, (unsigned)cb), dim3(tx, GN_BS / tx), 0, st>>>(y, ydt, x, xdt, coef, P,
                                                                       C, silu, per);
    return cudaGetLastError();
}

/* ---- softmax ------------------------------------------------------------ */

__global__ void k_softmax(void *y, int ydt, const void *x, int xdt, int64_t rows, int64_t C)
{
    int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y;
    if (r >= rows)
        return;
    int lane = threadIdx.x;
    int64_t base = r * C;
    float m = -INFINITY;
    for (int64_t c = lane; c < C; c += 32)
        m = fmaxf(m, ld_f(x, xdt, base + c));
    m = warp_max(m);
    float s = 0.0f;
    for (int64_t c = lane; c < C; c += 32)
        s += __expf(ld_f(x, xdt, base + c) - m);
    s = warp_sum(s);
    float inv = s > 0.0f ? 1.0f / s : 0.0f;
    for (int64_t c = lane; c < C; c += 32)
        st_f(y, ydt, base + c, __expf(ld_f(x, xdt, base + c) - m) * inv);
}

cudaError_t zt_cuda_softmax(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t rows,
                            int64_t C, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || C <= 0)
        return cudaErrorInvalidValue;
    if (rows <= 0)
        return cudaSuccess;
    dim3 bs(32, ROWS_PER_BLOCK);
    unsigned nb = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    k_softmax<<<nb, bs, 0, st>>>(y, ydt, x, xdt, rows, C);
    return cudaGetLastError();
}
