/*
 * attention.cu - fused multi-head attention with online softmax (the
 * FlashAttention-2 scheme): the S x S score matrix never reaches memory.
 *
 * q [Sq, Hq, hd], k, v [Skv, Hkv, hd], out [Sq, Hq, hd] (rows of all heads
 * interleaved, as the projections produce them). GQA: query head h reads kv
 * head h / (Hq / Hkv). Causal masks key j > query i (absolute indices).
 *
 * A block of 4 warps owns 64 query rows of one head (16 rows a warp) and
 * walks the keys 64 at a time, two tiles in flight: BF16 tiles stream in
 * with cp.async into one stage while the other is computed on. Tiles live in shared memory as BF16 with
 * rows padded by 16 bytes, which makes the ldmatrix reads below free of bank
 * conflicts. Products use the m16n8k16 BF16 tensor-core MMA with F32
 * accumulators:
 *   S[16 x 64]  = Q[16 x HD] . K^T      (K fragments: ldmatrix, non-transposed)
 *   O[16 x HD] += P[16 x 64] . V        (V fragments: ldmatrix .trans)
 * The score accumulators are laid out exactly as the A operand of the second
 * product wants, so P goes from registers to the MMA without shared memory.
 * The head dim is padded with zeros up to HD in {16, 32, 64, 128}; padded
 * columns add nothing to the scores and are not written out.
 */
#include <math.h>

#include "common.cuh"
#include "zt_kernels.h"

#define BQ 64   /* query rows per block */
#define BK 64   /* keys per tile */
#define NW 4    /* warps per block */

struct attn_args {
    void *out;
    const void *q, *k, *v;
    int odt, qdt, kdt, vdt;
    int qvec, kvec, vvec; /* 1: BF16 rows of exactly HD, 16-byte aligned */
    int64_t Sq, Skv, Hq, Hkv, hd;
    int causal;
    float scale_log2; /* softmax scale times log2(e): exponentials are exp2 */
};

static __device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&v;
}

static __device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0,
                                                uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

static __device__ __forceinline__ void ldsm_x4(uint32_t r[4], const void *p)
{
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

static __device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], const void *p)
{
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

static __device__ __forceinline__ void cp_async16(void *smem_dst, const void *gsrc, int nbytes)
{
    uint32_t d = (uint32_t)__cvta_generic_to_shared(smem_dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(gsrc),
                 "r"(nbytes));
}

static __device__ __forceinline__ void cp_async_commit(void)
{
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int N>
static __device__ __forceinline__ void cp_async_wait(void)
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* Rows [r0, r0 + ROWS) of head hoff of a [rows, H*hd] tensor into s[ROWS][HD+8]
 * as BF16, zeros past nrows and past hd. The BF16 path copies 16 bytes a
 * thread asynchronously (zero-filled past nrows): the caller commits and
 * waits. Other dtypes convert through registers and are done on return. */
template <int HD, int ROWS, int NTH>
static __device__ __forceinline__ void load_tile(uint16_t *s, const void *g, int dt, int vec,
                                                 int64_t r0, int64_t nrows, int64_t rstride,
                                                 int64_t hoff, int hd)
{
    const int LD = HD + 8;
    if (vec) {
        const int CPR = HD / 8; /* 16-byte chunks per row */
        for (int i = threadIdx.x; i < ROWS * CPR; i += NTH) {
            int r = i / CPR, c = (i % CPR) * 8;
            int64_t rr = r0 + r < nrows ? r0 + r : 0; /* in bounds even when skipped */
            cp_async16(s + r * LD + c, (const uint16_t *)g + rr * rstride + hoff + c,
                       r0 + r < nrows ? 16 : 0);
        }
    } else {
        for (int i = threadIdx.x; i < ROWS * HD; i += NTH) {
            int r = i / HD, c = i % HD;
            float val = 0.0f;
            if (r0 + r < nrows && c < hd)
                val = ld_f(g, dt, (r0 + r) * rstride + hoff + c);
            __nv_bfloat16 b = __float2bfloat16_rn(val);
            s[r * LD + c] = *(uint16_t *)&b;
        }
    }
}

template <int HD>
__global__ void __launch_bounds__(NW * 32) k_attention(attn_args a)
{
    const int LD = HD + 8;
    extern __shared__ __align__(16) uint16_t smem[];
    /* Q, then two stages of (K, V): the next tile streams in during compute */
    uint16_t *sQ = smem;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, t = lane % 4;
    const int64_t h = blockIdx.y, kvh = h / (a.Hq / a.Hkv);
    const int64_t q0 = (int64_t)blockIdx.x * BQ;
    const int hd = (int)a.hd;

    load_tile<HD, BQ, NW * 32>(sQ, a.q, a.qdt, a.qvec, q0, a.Sq, a.Hq * a.hd, h * a.hd, hd);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    /* Q fragments for this warp's 16 rows, all of HD */
    uint32_t qf[HD / 16][4];
    {
        const uint16_t *qr = sQ + (warp * 16 + g) * LD + 2 * t;
#pragma unroll
        for (int kc = 0; kc < HD / 16; kc++) {
            qf[kc][0] = *(const uint32_t *)(qr + kc * 16);
            qf[kc][1] = *(const uint32_t *)(qr + 8 * LD + kc * 16);
            qf[kc][2] = *(const uint32_t *)(qr + kc * 16 + 8);
            qf[kc][3] = *(const uint32_t *)(qr + 8 * LD + kc * 16 + 8);
        }
    }

    float o[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; i++)
        o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
    const int64_t qi0 = q0 + warp * 16 + g, qi1 = qi0 + 8;

    int64_t kv_end = a.Skv;
    if (a.causal && q0 + BQ < kv_end)
        kv_end = q0 + BQ;

    /* ldmatrix lane addressing: matrix mi = lane / 8, row ri = lane % 8 */
    const int mi = lane / 8, ri = lane % 8;

    const int64_t kvstride = a.Hkv * a.hd;
    if (kv_end > 0) {
        load_tile<HD, BK, NW * 32>(smem + BQ * LD, a.k, a.kdt, a.kvec, 0, a.Skv, kvstride, kvh * a.hd, hd);
        load_tile<HD, BK, NW * 32>(smem + (BQ + BK) * LD, a.v, a.vdt, a.vvec, 0, a.Skv, kvstride, kvh * a.hd,
                      hd);
        cp_async_commit();
    }
    int stage = 0;
    for (int64_t kv0 = 0; kv0 < kv_end; kv0 += BK, stage ^= 1) {
        const uint16_t *sK = smem + (BQ + stage * 2 * BK) * LD, *sV = sK + BK * LD;
        if (kv0 + BK < kv_end) { /* prefetch the next tile into the other stage */
            uint16_t *nK = smem + (BQ + (stage ^ 1) * 2 * BK) * LD;
            load_tile<HD, BK, NW * 32>(nK, a.k, a.kdt, a.kvec, kv0 + BK, a.Skv, kvstride, kvh * a.hd, hd);
            load_tile<HD, BK, NW * 32>(nK + BK * LD, a.v, a.vdt, a.vvec, kv0 + BK, a.Skv, kvstride,
                          kvh * a.hd, hd);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();

        /* S = Q K^T: 8 n-tiles of 8 keys */
        float s[BK / 8][4];
#pragma unroll
        for (int i = 0; i < BK / 8; i++)
            s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < HD / 16; kc++) {
#pragma unroll
            for (int nt = 0; nt < BK / 8; nt += 2) {
                /* matrices: (keys nt, d lo) (keys nt, d hi) (keys nt+1, d lo) (keys nt+1, d hi) */
                uint32_t b[4];
                ldsm_x4(b, sK + (nt * 8 + (mi >> 1) * 8 + ri) * LD + kc * 16 + (mi & 1) * 8);
                mma_bf16(s[nt], qf[kc], b[0], b[1]);
                mma_bf16(s[nt + 1], qf[kc], b[2], b[3]);
            }
        }

        /* scale into log2 units, mask, row maxima (rows g and g+8 of the warp) */
        float mx0 = -INFINITY, mx1 = -INFINITY;
        const bool need_mask = kv0 + BK > a.Skv || (a.causal && kv0 + BK - 1 > q0);
#pragma unroll
        for (int nt = 0; nt < BK / 8; nt++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float v = s[nt][e] * a.scale_log2;
                if (need_mask) {
                    int64_t key = kv0 + nt * 8 + 2 * t + (e & 1);
                    int64_t qi = e < 2 ? qi0 : qi1;
                    if (key >= a.Skv || (a.causal && key > qi))
                        v = -INFINITY;
                }
                s[nt][e] = v;
            }
            mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
            mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        /* a row with every key masked so far keeps reference 0: p = 0, no NaN */
        float b0 = mn0 == -INFINITY ? 0.0f : mn0, b1 = mn1 == -INFINITY ? 0.0f : mn1;
        float al0 = exp2f(m0 - b0), al1 = exp2f(m1 - b1);
        m0 = mn0;
        m1 = mn1;
        float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
        for (int nt = 0; nt < BK / 8; nt++) {
            s[nt][0] = exp2f(s[nt][0] - b0);
            s[nt][1] = exp2f(s[nt][1] - b0);
            s[nt][2] = exp2f(s[nt][2] - b1);
            s[nt][3] = exp2f(s[nt][3] - b1);
            ps0 += s[nt][0] + s[nt][1];
            ps1 += s[nt][2] + s[nt][3];
        }
        l0 = l0 * al0 + ps0;
        l1 = l1 * al1 + ps1;
#pragma unroll
        for (int nt = 0; nt < HD / 8; nt++) {
            o[nt][0] *= al0;
            o[nt][1] *= al0;
            o[nt][2] *= al1;
            o[nt][3] *= al1;
        }

        /* O += P V: 4 k-chunks of 16 keys */
#pragma unroll
        for (int kc = 0; kc < BK / 16; kc++) {
            uint32_t pa[4];
            pa[0] = pack_bf16(s[2 * kc][0], s[2 * kc][1]);
            pa[1] = pack_bf16(s[2 * kc][2], s[2 * kc][3]);
            pa[2] = pack_bf16(s[2 * kc + 1][0], s[2 * kc + 1][1]);
            pa[3] = pack_bf16(s[2 * kc + 1][2], s[2 * kc + 1][3]);
#pragma unroll
            for (int nt = 0; nt < HD / 8; nt += 2) {
                /* matrices: (keys lo, d nt) (keys hi, d nt) (keys lo, d nt+1) (keys hi, d nt+1) */
                uint32_t b[4];
                ldsm_x4_t(b, sV + (kc * 16 + (mi & 1) * 8 + ri) * LD + nt * 8 + (mi >> 1) * 8);
                mma_bf16(o[nt], pa, b[0], b[1]);
                mma_bf16(o[nt + 1], pa, b[2], b[3]);
            }
        }
        __syncthreads(); /* this stage is refilled two tiles from now */
    }

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    const int64_t ostride = a.Hq * a.hd;
#pragma unroll
    for (int nt = 0; nt < HD / 8; nt++) {
        int c = nt * 8 + 2 * t;
        if (a.odt == ZT_BF16 && c + 1 < hd) {
            if (qi0 < a.Sq)
                *(uint32_t *)((uint16_t *)a.out + qi0 * ostride + h * a.hd + c) =
                    pack_bf16(o[nt][0] * inv0, o[nt][1] * inv0);
            if (qi1 < a.Sq)
                *(uint32_t *)((uint16_t *)a.out + qi1 * ostride + h * a.hd + c) =
                    pack_bf16(o[nt][2] * inv1, o[nt][3] * inv1);
            continue;
        }
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int64_t qi = e < 2 ? qi0 : qi1;
            int cc = c + (e & 1);
            if (qi < a.Sq && cc < hd)
                st_f(a.out, a.odt, qi * ostride + h * a.hd + cc, o[nt][e] * (e < 2 ? inv0 : inv1));
        }
    }
}

/*
 * The head-dim-128 kernel: 4 warps of 32 query rows each (two m16 tiles a
 * warp), keys 32 at a time. Every K and V fragment read from shared memory
 * feeds two MMAs instead of one, which is what limits the 16-row kernel above
 * (ldmatrix bandwidth, not the tensor cores). Q fragments come from shared
 * memory on each use so that O (2 x 16 x 4 F32) fits the register file at two
 * blocks an SM. Shared memory: Q 128 rows + 2 stages of K, V 32 rows each.
 */
#define W_BQ 128
#define W_BK 32

__global__ void __launch_bounds__(4 * 32, 2) k_attention_w(attn_args a)
{
    constexpr int HD = 128, LD = HD + 8;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *sQ = smem;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, t = lane % 4;
    const int mi = lane / 8, ri = lane % 8;
    const int64_t h = blockIdx.y, kvh = h / (a.Hq / a.Hkv);
    const int64_t q0 = (int64_t)blockIdx.x * W_BQ;
    const int hd = (int)a.hd;
    const int64_t kvstride = a.Hkv * a.hd;

    load_tile<HD, W_BQ, 128>(sQ, a.q, a.qdt, a.qvec, q0, a.Sq, a.Hq * a.hd, h * a.hd, hd);
    cp_async_commit();

    float o[2][HD / 8][4];
#pragma unroll
    for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int i = 0; i < HD / 8; i++)
            o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
    /* running max and sum for rows (mt, g) at [2 mt] and (mt, g + 8) at [2 mt + 1] */
    float m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, l[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const int64_t qrow = q0 + warp * 32 + g;

    int64_t kv_end = a.Skv;
    if (a.causal && q0 + W_BQ < kv_end)
        kv_end = q0 + W_BQ;
    if (kv_end > 0) {
        load_tile<HD, W_BK, 128>(smem + W_BQ * LD, a.k, a.kdt, a.kvec, 0, a.Skv, kvstride,
                                 kvh * a.hd, hd);
        load_tile<HD, W_BK, 128>(smem + (W_BQ + W_BK) * LD, a.v, a.vdt, a.vvec, 0, a.Skv,
                                 kvstride, kvh * a.hd, hd);
        cp_async_commit();
    }
    int stage = 0;
    for (int64_t kv0 = 0; kv0 < kv_end; kv0 += W_BK, stage ^= 1) {
        const uint16_t *sK = smem + (W_BQ + stage * 2 * W_BK) * LD, *sV = sK + W_BK * LD;
        if (kv0 + W_BK < kv_end) {
            uint16_t *nK = smem + (W_BQ + (stage ^ 1) * 2 * W_BK) * LD;
            load_tile<HD, W_BK, 128>(nK, a.k, a.kdt, a.kvec, kv0 + W_BK, a.Skv, kvstride,
                                     kvh * a.hd, hd);
            load_tile<HD, W_BK, 128>(nK + W_BK * LD, a.v, a.vdt, a.vvec, kv0 + W_BK, a.Skv,
                                     kvstride, kvh * a.hd, hd);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();

        /* S[mt] = Q[mt] K^T: 32 rows x 32 keys a warp */
        float s[2][W_BK / 8][4];
#pragma unroll
        for (int mt = 0; mt < 2; mt++)
#pragma unroll
            for (int i = 0; i < W_BK / 8; i++)
                s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < HD / 16; kc++) {
            uint32_t qa[2][4];
#pragma unroll
            for (int mt = 0; mt < 2; mt++) /* (rows lo, d lo) (rows hi, d lo) (lo, hi) (hi, hi) */
                ldsm_x4(qa[mt], sQ + (warp * 32 + mt * 16 + (mi & 1) * 8 + ri) * LD + kc * 16 +
                                    (mi >> 1) * 8);
#pragma unroll
            for (int nt = 0; nt < W_BK / 8; nt += 2) {
                uint32_t b[4];
                ldsm_x4(b, sK + (nt * 8 + (mi >> 1) * 8 + ri) * LD + kc * 16 + (mi & 1) * 8);
#pragma unroll
                for (int mt = 0; mt < 2; mt++) {
                    mma_bf16(s[mt][nt], qa[mt], b[0], b[1]);
                    mma_bf16(s[mt][nt + 1], qa[mt], b[2], b[3]);
                }
            }
        }

        const bool need_mask = kv0 + W_BK > a.Skv || (a.causal && kv0 + W_BK - 1 > q0);
#pragma unroll
        for (int mt = 0; mt < 2; mt++) {
            const int64_t qi0 = qrow + mt * 16, qi1 = qi0 + 8;
            float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < W_BK / 8; nt++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float v = s[mt][nt][e] * a.scale_log2;
                    if (need_mask) {
                        int64_t key = kv0 + nt * 8 + 2 * t + (e & 1);
                        int64_t qi = e < 2 ? qi0 : qi1;
                        if (key >= a.Skv || (a.causal && key > qi))
                            v = -INFINITY;
                    }
                    s[mt][nt][e] = v;
                }
                mx0 = fmaxf(mx0, fmaxf(s[mt][nt][0], s[mt][nt][1]));
                mx1 = fmaxf(mx1, fmaxf(s[mt][nt][2], s[mt][nt][3]));
            }
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
            float mn0 = fmaxf(m[2 * mt], mx0), mn1 = fmaxf(m[2 * mt + 1], mx1);
            /* a row with every key masked so far keeps reference 0: p = 0, no NaN */
            float b0 = mn0 == -INFINITY ? 0.0f : mn0, b1 = mn1 == -INFINITY ? 0.0f : mn1;
            float al0 = exp2f(m[2 * mt] - b0), al1 = exp2f(m[2 * mt + 1] - b1);
            m[2 * mt] = mn0;
            m[2 * mt + 1] = mn1;
            float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
            for (int nt = 0; nt < W_BK / 8; nt++) {
                s[mt][nt][0] = exp2f(s[mt][nt][0] - b0);
                s[mt][nt][1] = exp2f(s[mt][nt][1] - b0);
                s[mt][nt][2] = exp2f(s[mt][nt][2] - b1);
                s[mt][nt][3] = exp2f(s[mt][nt][3] - b1);
                ps0 += s[mt][nt][0] + s[mt][nt][1];
                ps1 += s[mt][nt][2] + s[mt][nt][3];
            }
            l[2 * mt] = l[2 * mt] * al0 + ps0;
            l[2 * mt + 1] = l[2 * mt + 1] * al1 + ps1;
#pragma unroll
            for (int nt = 0; nt < HD / 8; nt++) {
                o[mt][nt][0] *= al0;
                o[mt][nt][1] *= al0;
                o[mt][nt][2] *= al1;
                o[mt][nt][3] *= al1;
            }
        }

        /* O[mt] += P[mt] V: 2 k-chunks of 16 keys */
#pragma unroll
        for (int kc = 0; kc < W_BK / 16; kc++) {
            uint32_t pa[2][4];
#pragma unroll
            for (int mt = 0; mt < 2; mt++) {
                pa[mt][0] = pack_bf16(s[mt][2 * kc][0], s[mt][2 * kc][1]);
                pa[mt][1] = pack_bf16(s[mt][2 * kc][2], s[mt][2 * kc][3]);
                pa[mt][2] = pack_bf16(s[mt][2 * kc + 1][0], s[mt][2 * kc + 1][1]);
                pa[mt][3] = pack_bf16(s[mt][2 * kc + 1][2], s[mt][2 * kc + 1][3]);
            }
#pragma unroll
            for (int nt = 0; nt < HD / 8; nt += 2) {
                uint32_t b[4];
                ldsm_x4_t(b, sV + (kc * 16 + (mi & 1) * 8 + ri) * LD + nt * 8 + (mi >> 1) * 8);
#pragma unroll
                for (int mt = 0; mt < 2; mt++) {
                    mma_bf16(o[mt][nt], pa[mt], b[0], b[1]);
                    mma_bf16(o[mt][nt + 1], pa[mt], b[2], b[3]);
                }
            }
        }
        __syncthreads(); /* this stage is refilled two tiles from now */
    }

    const int64_t ostride = a.Hq * a.hd;
#pragma unroll
    for (int mt = 0; mt < 2; mt++) {
        float l0 = l[2 * mt], l1 = l[2 * mt + 1];
        l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
        l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
        float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
        const int64_t qi0 = qrow + mt * 16, qi1 = qi0 + 8;
#pragma unroll
        for (int nt = 0; nt < HD / 8; nt++) {
            int c = nt * 8 + 2 * t;
            if (a.odt == ZT_BF16 && c + 1 < hd) {
                if (qi0 < a.Sq)
                    *(uint32_t *)((uint16_t *)a.out + qi0 * ostride + h * a.hd + c) =
                        pack_bf16(o[mt][nt][0] * inv0, o[mt][nt][1] * inv0);
                if (qi1 < a.Sq)
                    *(uint32_t *)((uint16_t *)a.out + qi1 * ostride + h * a.hd + c) =
                        pack_bf16(o[mt][nt][2] * inv1, o[mt][nt][3] * inv1);
                continue;
            }
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int64_t qi = e < 2 ? qi0 : qi1;
                int cc = c + (e & 1);
                if (qi < a.Sq && cc < hd)
                    st_f(a.out, a.odt, qi * ostride + h * a.hd + cc,
                         o[mt][nt][e] * (e < 2 ? inv0 : inv1));
            }
        }
    }
}

static cudaError_t launch_w(const attn_args &a, cudaStream_t st)
{
    size_t smem = (size_t)(W_BQ + 4 * W_BK) * (128 + 8) * sizeof(uint16_t);
    cudaError_t e = cudaFuncSetAttribute(k_attention_w,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return e;
    dim3 grid((unsigned)((a.Sq + W_BQ - 1) / W_BQ), (unsigned)a.Hq);
    k_attention_w<<<grid, 128, smem, st>>>(a);
    return cudaGetLastError();
}

template <int HD>
static cudaError_t launch(const attn_args &a, cudaStream_t st)
{
    size_t smem = (size_t)(BQ + 4 * BK) * (HD + 8) * sizeof(uint16_t);
    cudaError_t e = cudaFuncSetAttribute(k_attention<HD>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)smem);
    if (e != cudaSuccess)
        return e;
    dim3 grid((unsigned)((a.Sq + BQ - 1) / BQ), (unsigned)a.Hq);
    k_attention<HD><<<grid, NW * 32, smem, st>>>(a);
    return cudaGetLastError();
}

static int vec_ok(const void *p, zt_dtype dt, int64_t hd, int HD)
{
    return dt == ZT_BF16 && hd == HD && ((uintptr_t)p & 15) == 0;
}

cudaError_t zt_cuda_attention(void *out, zt_dtype odt, const void *q, zt_dtype qdt,
                              const void *k, zt_dtype kdt, const void *v, zt_dtype vdt,
                              int64_t Sq, int64_t Skv, int64_t Hq, int64_t Hkv, int64_t hd,
                              int causal, float scale, cudaStream_t st)
{
    if (!float_dt(odt) || !float_dt(qdt) || !float_dt(kdt) || !float_dt(vdt) || hd <= 0 ||
        hd > ZT_CUDA_ATTN_MAX_HD || Hq <= 0 || Hkv <= 0 || Hq % Hkv || Hq > 65535 ||
        (odt == ZT_BF16 && hd % 2))
        return cudaErrorInvalidValue;
    if (Sq <= 0)
        return cudaSuccess;
    int HD = hd <= 16 ? 16 : hd <= 32 ? 32 : hd <= 64 ? 64 : 128;
    attn_args a;
    a.out = out;
    a.q = q;
    a.k = k;
    a.v = v;
    a.odt = odt;
    a.qdt = qdt;
    a.kdt = kdt;
    a.vdt = vdt;
    a.qvec = vec_ok(q, qdt, hd, HD);
    a.kvec = vec_ok(k, kdt, hd, HD);
    a.vvec = vec_ok(v, vdt, hd, HD);
    a.Sq = Sq;
    a.Skv = Skv;
    a.Hq = Hq;
    a.Hkv = Hkv;
    a.hd = hd;
    a.causal = causal;
    a.scale_log2 = scale * 1.4426950408889634f;
    switch (HD) {
    case 16:
        return launch<16>(a, st);
    case 32:
        return launch<32>(a, st);
    case 64:
        return launch<64>(a, st);
    default:
        /* 128-row blocks where they still make two waves' worth on 132 SMs
         * (the DiT: 33 x 30 blocks); the text encoder's 512 x 32 stays on
         * 64-row blocks, which fill more of the device there. */
        if ((Sq + W_BQ - 1) / W_BQ * Hq >= 264)
            return launch_w(a, st);
        return launch<128>(a, st);
    }
}

/* ---- attention in key blocks (head dims over ZT_CUDA_ATTN_MAX_HD) --------
 *
 * The host (core/backend_cuda.c attention_chunked) computes a chunk of query
 * rows' scores against one block of keys with cuBLAS, then calls
 * zt_cuda_softmax_block, then adds P V_block into o with cuBLAS; after the
 * last block zt_cuda_attn_finish divides by the row sums. The running max
 * and sum per row make it the online softmax of the fused kernel above, at
 * the granularity of whole GEMMs.
 */

#define KB_THREADS 256
#define KB_CHUNKS (ZT_CUDA_SOFTMAX_BLOCK_MAX / (KB_THREADS * 8))

/*
 * A block a row r, the row's scores in registers (KB_CHUNKS chunks of 8 a
 * thread). s = scale * x[r, c], masked (-inf) where c >= nk, or c > r + off
 * when causal; m' = max(m[r], max s); p[r, c] = exp(s - m'); l[r] = l[r]
 * e^(m[r] - m') + sum p; o[r, :hd] *= e^(m[r] - m'). On the first block m
 * and l are not read (nor o scaled: the product after it writes o with
 * beta 0). Rows are ld % 8 == 0 apart, so a chunk is always whole: columns
 * from nk to ld are read (whatever they hold is masked) and written as 0.
 */
__global__ void k_softmax_block(void *p, int pdt, const float *x, int64_t ld, int nk, float scale,
                                int causal, int64_t off, float *m, float *l, float *o, int64_t hd,
                                int first)
{
    __shared__ float red[KB_THREADS / 32];
    const int64_t r = blockIdx.x;
    const int64_t seen = r + off + 1; /* keys this row may see when causal */
    const int lim = !causal ? nk : seen <= 0 ? 0 : seen < nk ? (int)seen : nk;
    const float m_old = first ? -INFINITY : m[r];
    float v[KB_CHUNKS][8];
    float mx = -INFINITY;
#pragma unroll
    for (int j = 0; j < KB_CHUNKS; j++) {
        const int c = (j * KB_THREADS + (int)threadIdx.x) * 8;
        if (c < nk)
            ld8(v[j], x, ZT_F32, r * ld + c);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            v[j][k] = c + k < lim ? scale * v[j][k] : -INFINITY;
            mx = fmaxf(mx, v[j][k]);
        }
    }
    const float m_new = fmaxf(m_old, block_reduce<true, KB_THREADS>(mx, red));
    /* every key so far masked: nothing to add, nothing to rescale */
    const float sub = m_new == -INFINITY ? 0.0f : m_new;
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < KB_CHUNKS; j++) {
        const int c = (j * KB_THREADS + (int)threadIdx.x) * 8;
        if (c >= nk)
            break;
#pragma unroll
        for (int k = 0; k < 8; k++) {
            v[j][k] = __expf(v[j][k] - sub); /* exp(-inf) = 0 for masked keys */
            sum += v[j][k];
        }
        st8(p, pdt, r * ld + c, v[j]);
    }
    sum = block_reduce<false, KB_THREADS>(sum, red);
    const float alpha = m_new == -INFINITY ? 1.0f : __expf(m_old - m_new);
    if (!first && alpha != 1.0f)
        for (int64_t c = threadIdx.x; c < hd; c += KB_THREADS)
            o[r * hd + c] *= alpha;
    if (threadIdx.x == 0) {
        m[r] = m_new;
        l[r] = (first ? 0.0f : l[r] * alpha) + sum;
    }
}

cudaError_t zt_cuda_softmax_block(void *p, zt_dtype pdt, const float *x, int64_t ld, int64_t rows,
                                  int64_t nk, float scale, int causal, int64_t off, float *m,
                                  float *l, float *o, int64_t hd, int first, cudaStream_t st)
{
    if ((pdt != ZT_BF16 && pdt != ZT_F32) || nk <= 0 || nk > ZT_CUDA_SOFTMAX_BLOCK_MAX ||
        ld < nk || ld % 8 || ((uintptr_t)x & 15) || ((uintptr_t)p & 15) || hd <= 0 ||
        rows > INT32_MAX)
        return cudaErrorInvalidValue;
    if (rows <= 0)
        return cudaSuccess;
    k_softmax_block<<<(unsigned)rows, KB_THREADS, 0, st>>>(p, pdt, x, ld, (int)nk, scale, causal,
                                                           off, m, l, o, hd, first);
    return cudaGetLastError();
}

/* out[r * ostride + c] = o[r, c] / l[r]; a row whose keys were all masked
 * (l = 0) is 0. */
__global__ void k_attn_finish(void *out, int odt, int64_t ostride, const float *o, const float *l,
                              int64_t hd)
{
    const int64_t r = blockIdx.y;
    const int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= hd)
        return;
    const float s = l[r];
    st_f(out, odt, r * ostride + c, s > 0.0f ? o[r * hd + c] / s : 0.0f);
}

cudaError_t zt_cuda_attn_finish(void *out, zt_dtype odt, int64_t ostride, const float *o,
                                const float *l, int64_t rows, int64_t hd, cudaStream_t st)
{
    if (!float_dt(odt) || hd <= 0 || ostride < hd || rows > 65535)
        return cudaErrorInvalidValue;
    if (rows <= 0)
        return cudaSuccess;
    const unsigned bx = (unsigned)((hd + 127) / 128);
    k_attn_finish<<<dim3(bx, (unsigned)rows), 128, 0, st>>>(out, odt, ostride, o, l, hd);
    return cudaGetLastError();
}
