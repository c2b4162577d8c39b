/*
 * zt_kernels.h - C-callable launchers for the CUDA kernels in kernels/ (one .cu per op family).
 *
 * Only core/backend_cuda.c includes this. Every pointer is device memory;
 * every launcher queues work on the given stream and returns the launch
 * status (cudaSuccess, or cudaErrorInvalidValue for arguments a kernel
 * cannot take). Dtype arguments are zt_dtype values; float inputs and outputs
 * may be F32, BF16 or F16 unless stated, and all arithmetic is F32.
 *
 * Shapes follow backend.h; "rows" is the product of the leading dims and
 * "C" the last dim.
 */
#ifndef ZT_KERNELS_H
#define ZT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* elementwise.cu ---------------------------------------------------------- */

/* y[i] = x[i] converted (n elements). */
cudaError_t zt_cuda_convert(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t n,
                            cudaStream_t st);
/* y = f(x); op: 0 SiLU, 1 tanh (zt_unary_op values). */
cudaError_t zt_cuda_unary(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t n,
                          int op, cudaStream_t st);
/* y = a op b, op 0 add / 1 mul; b has n elements (bcols 0) or is a row
 * vector of bcols elements repeated over n / bcols rows. y may alias a. */
cudaError_t zt_cuda_binary(void *y, zt_dtype ydt, const void *a, zt_dtype adt, const void *b,
                           zt_dtype bdt, int64_t n, int64_t bcols, int op, cudaStream_t st);
/* y += gate[c] * x for rows of C columns; gate NULL means 1. */
cudaError_t zt_cuda_gated_add(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                              const void *gate, zt_dtype gdt, int64_t n, int64_t C,
                              cudaStream_t st);
/* y = silu(gate) * up. */
cudaError_t zt_cuda_swiglu(void *y, zt_dtype ydt, const void *gate, zt_dtype gdt,
                           const void *up, zt_dtype udt, int64_t n, cudaStream_t st);
/* y = alpha * x + beta. */
cudaError_t zt_cuda_scale_add(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t n,
                              float alpha, float beta, cudaStream_t st);
/* y += alpha * x. */
cudaError_t zt_cuda_axpy(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t n,
                         float alpha, cudaStream_t st);
/* y[l][:] = table[ids[l]][:], table [V, H], ids I32 [L]. An id outside
 * [0, V) writes zeros and stores 1 into *bad (device int). */
cudaError_t zt_cuda_embed(void *y, zt_dtype ydt, const void *table, zt_dtype tdt,
                          const int32_t *ids, int64_t L, int64_t H, int64_t V, int *bad,
                          cudaStream_t st);

/* quant.cu ----------------------------------------------------------------- */

/* Per row r of x [rows, K]: s[r] = max|x| / 448 (1 for a zero row), q
 * (E4M3 bytes) = x * (1 / s[r]) converted saturating, nearest even. */
cudaError_t zt_cuda_quantize_rows(void *q, float *s, const void *x, zt_dtype xdt, int64_t rows,
                                  int64_t K, cudaStream_t st);
/* The same from rmsnorm(x) (* w) (* scale) and from silu(gate) * up over
 * rows of K, without writing those: cudaErrorNotSupported when K % 8 or
 * an alignment rules the fused kernel out (run the op, then quantize). */
cudaError_t zt_cuda_rmsnorm_q(void *q, float *s, const void *x, zt_dtype xdt, const void *w,
                              zt_dtype wdt, const void *scale, zt_dtype sdt, int64_t rows,
                              int64_t K, float eps, cudaStream_t st);
cudaError_t zt_cuda_swiglu_q(void *q, float *s, const void *gate, zt_dtype gdt, const void *up,
                             zt_dtype udt, int64_t rows, int64_t K, cudaStream_t st);
/* residual_norm (backend.h) over rows of C: x += gate * rmsnorm(o) * wo,
 * then rmsnorm(x) * w * scale into y, or (y NULL) its E4M3 rows q with
 * scales s. wo, gate, w, scale NULL-able; o may be overwritten.
 * cudaErrorNotSupported when C % 8, C > 16384 or an alignment rules the
 * one-pass kernel out (run norm_gated_add, then the norm). */
typedef struct zt_resnorm_args {
    void *x;
    const void *o, *wo, *gate, *w, *scale;
    void *y, *q;
    float *s;
    zt_dtype xdt, odt, wodt, gdt, wdt, sdt, ydt;
    int64_t rows, C;
    float eps;
} zt_resnorm_args;
cudaError_t zt_cuda_residual_norm(const zt_resnorm_args *a, cudaStream_t st);
/* y [rows, K] = q * s[row], the inverse (products of shapes FP8 GEMMs
 * cannot take run in BF16 from these). */
cudaError_t zt_cuda_dequantize_rows(void *y, zt_dtype ydt, const void *q, const float *s,
                                    int64_t rows, int64_t K, cudaStream_t st);

/* One scale for all of x [n] (quantize_t): s[0] = max|x| / 448 (1 for all
 * zero), q = E4M3(x * (1 / s)); tmp: one device float of scratch. */
cudaError_t zt_cuda_quantize_t(void *q, float *s, const void *x, zt_dtype xdt, int64_t n,
                               float *tmp, cudaStream_t st);
/* The same at the scale sqrt(hd) * max|w| / 448 from w [hd] (rmsnorm_rope_q's
 * bound) instead of max|x|. */
cudaError_t zt_cuda_quantize_bound(void *q, float *s, const void *x, zt_dtype xdt, int64_t n,
                                   const void *w, zt_dtype wdt, int hd, float *tmp,
                                   cudaStream_t st);
/* rmsnorm_rope_q (backend.h) from x [S*heads, hd] into E4M3 q with s[0]:
 * cudaErrorNotSupported unless interleaved, hd = 8 * a power of two <= 256
 * and aligned (run rmsnorm_rope on a copy, then zt_cuda_quantize_bound). */
cudaError_t zt_cuda_rmsnorm_rope_q(void *q, float *s, const void *x, zt_dtype xdt, const void *w,
                                   zt_dtype wdt, const float *cs, int64_t S, int64_t heads,
                                   int64_t hd, int kind, float eps, cudaStream_t st);
/* attention_q's constants c [3] = {1/448, 448, 1/v.s} for cuDNN and the
 * output's row scales out_s [Sq] = v.s, from vs (v's one scale). */
cudaError_t zt_cuda_attn_q_scales(float *c, float *out_s, const float *vs, int64_t Sq,
                                  cudaStream_t st);

/* norm.cu ------------------------------------------------------------------ */

/* y = x / sqrt(mean(x^2) + eps) (* w) (* scale) over rows of C; w, scale NULL-able. */
/* x [S*heads, hd] in place: rmsnorm over hd (times w, or NULL), then RoPE
 * with cs [S, hd/2, 2] (kind 0 rotate-half, 1 interleaved). */
cudaError_t zt_cuda_rmsnorm_rope(void *x, zt_dtype xdt, const void *w, zt_dtype wdt,
                                 const float *cs, int64_t S, int64_t heads, int64_t hd,
                                 int kind, float eps, cudaStream_t st);
/* y [rows, C] += g[C] * rmsnorm(x) * w[C] (g, w NULL-able); x only read. */
cudaError_t zt_cuda_norm_gated_add(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                                   const void *w, zt_dtype wdt, const void *g, zt_dtype gdt,
                                   int64_t rows, int64_t C, float eps, cudaStream_t st);
cudaError_t zt_cuda_rmsnorm(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, const void *w,
                            zt_dtype wdt, const void *scale, zt_dtype sdt, int64_t rows,
                            int64_t C, float eps, cudaStream_t st);
/* y = (x - mean) / sqrt(var + eps) (* w + b) (* scale); w, b, scale NULL-able. */
cudaError_t zt_cuda_layernorm(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                              const void *w, zt_dtype wdt, const void *b, zt_dtype bdt,
                              const void *scale, zt_dtype sdt, int64_t rows, int64_t C,
                              float eps, cudaStream_t st);
/* Bytes of F32 scratch zt_cuda_groupnorm needs for these sizes. */
size_t zt_cuda_groupnorm_scratch(int64_t C, int64_t P, int groups);
/* x, y [P, C] channels last; statistics over each group of C/groups
 * channels of all P rows; affine w, b [C] (NULL-able); silu != 0 applies
 * SiLU after. y may be x. */
cudaError_t zt_cuda_groupnorm(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t C,
                              int64_t P, int groups, const void *w, zt_dtype wdt,
                              const void *b, zt_dtype bdt, float eps, int silu,
                              void *scratch, cudaStream_t st);
/* Row softmax of x over C columns (y may be x). */
cudaError_t zt_cuda_softmax(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t rows,
                            int64_t C, cudaStream_t st);

/* rope.cu ------------------------------------------------------------------ */

/* x [S, heads, hd] in place; cs F32 [S, hd/2, 2] (cos, sin); kind 0 NEOX
 * (rotate-half), 1 interleaved (zt_rope_kind values). */
cudaError_t zt_cuda_rope(void *x, zt_dtype xdt, const float *cs, int64_t S, int64_t heads,
                         int64_t hd, int kind, cudaStream_t st);

/* layout.cu ---------------------------------------------------------------- */

/* x [M, N] -> y [N, M]. */
cudaError_t zt_cuda_transpose(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t M,
                              int64_t N, cudaStream_t st);
/* batch matrices: x_b [M, N] with row stride ldx -> y_b [N, M] with row
 * stride ldy; x_b = x + b * bx, y_b = y + b * by (elements). batch at
 * most 65535. */
cudaError_t zt_cuda_transpose_strided(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                                      int64_t batch, int64_t M, int64_t N, int64_t ldx,
                                      int64_t ldy, int64_t bx, int64_t by, cudaStream_t st);
/* x [C, H, W] -> y [(H/p)(W/p), p*p*C] (backend.h), and back. */
cudaError_t zt_cuda_patchify(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t C,
                             int64_t H, int64_t W, int p, cudaStream_t st);
cudaError_t zt_cuda_unpatchify(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t C,
                               int64_t H, int64_t W, int p, cudaStream_t st);
/* A decoded image x [C, P] (P pixels) -> y U8 [P, C], as backend.h
 * to_rgb8 says, bit for bit as the CPU backend. */
cudaError_t zt_cuda_to_rgb8(uint8_t *y, const void *x, zt_dtype xdt, int64_t C, int64_t P,
                            cudaStream_t st);
/* *n (device memory) = how many of x's N values are NaN or infinite. */
cudaError_t zt_cuda_count_nonfinite(unsigned long long *n, const void *x, zt_dtype xdt,
                                    int64_t N, cudaStream_t st);
/* Nearest, channels last: x [H, W, C] -> y [2H, 2W, C]. */
cudaError_t zt_cuda_upsample2x(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t H,
                               int64_t W, int64_t C, cudaStream_t st);
/* Rows of the im2col matrix of x [H, W, Ci] (channels last) for a k x k
 * kernel with padding k/2, for image rows [r0, r0 + n): col [n*W, k*k*Ci],
 * the row of a pixel holding its neighbours tap-major, (ky*k + kx)*Ci + ci. */
cudaError_t zt_cuda_im2col(void *col, zt_dtype cdt, const void *x, zt_dtype xdt, int64_t H,
                           int64_t W, int64_t Ci, int k, int64_t r0, int64_t n, cudaStream_t st);
/* The 3x3 convolution (padding 1) of x [H, W, Ci], channels last, to a few
 * channels: y [H, W, Co] = x * wk, wk [Co, 9*Ci] tap-major as for im2col,
 * accumulated in F32 straight from x (no im2col matrix). Takes
 * Co <= ZT_CUDA_CONV_NARROW_CO and a filter of at most 48 KiB as F32
 * (zt_cuda_conv3x3_narrow_ok): the VAE's conv_out, 128 -> 3. */
#define ZT_CUDA_CONV_NARROW_CO 4
int zt_cuda_conv3x3_narrow_ok(int64_t Ci, int64_t Co);
cudaError_t zt_cuda_conv3x3_narrow(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                                   const void *wk, zt_dtype wdt, int64_t H, int64_t W, int64_t Ci,
                                   int64_t Co, cudaStream_t st);

/* attention.cu ------------------------------------------------------------- */

/* Largest head dim zt_cuda_attention takes. */
#define ZT_CUDA_ATTN_MAX_HD 128

/* Fused attention (online softmax, no score matrix in memory):
 * q [Sq, Hq, hd], k, v [Skv, Hkv, hd], out [Sq, Hq, hd]; query head h reads
 * kv head h / (Hq / Hkv); causal masks key j > query i. hd <= 128. Matrix
 * products in BF16 with F32 accumulation; inputs of other dtypes are
 * rounded to BF16 on load. */
cudaError_t zt_cuda_attention(void *out, zt_dtype odt, const void *q, zt_dtype qdt,
                              const void *k, zt_dtype kdt, const void *v, zt_dtype vdt,
                              int64_t Sq, int64_t Skv, int64_t Hq, int64_t Hkv, int64_t hd,
                              int causal, float scale, cudaStream_t st);

/* Most keys zt_cuda_softmax_block takes in one block (a row in registers). */
#define ZT_CUDA_SOFTMAX_BLOCK_MAX 16384
/* One key block of attention computed a whole product at a time (head dims
 * over ZT_CUDA_ATTN_MAX_HD): x F32 [rows, ld] the scores of the block's nk
 * keys (ld % 8 == 0, x and p 16-byte aligned; p's columns nk to ld are
 * written as 0); causal masks key column c of
 * row r when c > r + off (off = first query row - first key). Online softmax
 * per row against m, l F32 [rows] (running max of scale * x and sum of
 * exp): p [rows, ld] (BF16 or F32) = exp(scale * x - new max), and
 * o F32 [rows, hd], the P V sum so far, is scaled to the new max. first != 0:
 * the row's first block (m, l, o not read). */
cudaError_t zt_cuda_softmax_block(void *p, zt_dtype pdt, const float *x, int64_t ld, int64_t rows,
                                  int64_t nk, float scale, int causal, int64_t off, float *m,
                                  float *l, float *o, int64_t hd, int first, cudaStream_t st);
/* out [rows] rows of hd values, ostride apart, = o / l per row (rows <= 65535). */
cudaError_t zt_cuda_attn_finish(void *out, zt_dtype odt, int64_t ostride, const float *o,
                                const float *l, int64_t rows, int64_t hd, cudaStream_t st);

/* synth.cu ----------------------------------------------------------------- */

/* y BF16 [n] = synthetic weights of per-tensor key (core/synth.h): mode 0
 * r * scale (rank >= 2, scale = sqrtf(3.0f / fan_in)), 1 bias r * 0.02,
 * 2 gain r * 0.1 + 1. Bit-identical to core/synth.c. y 4-byte aligned. */
cudaError_t zt_cuda_synth(void *y, int64_t n, uint32_t key, int mode, float scale,
                          cudaStream_t st);

#ifdef __cplusplus
}
#endif

#endif
