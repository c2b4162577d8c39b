/*
 * backend.h - the one interface model code uses to compute.
 *
 * Two implementations: backend_cpu.c (plain C, the readable reference) and
 * backend_cuda.c (cuBLAS plus kernels/). Model code (textenc, dit, vae)
 * calls only the zt_op_* wrappers below and never includes CUDA headers.
 *
 * Memory: every tensor passed to an op lives in backend memory (host memory
 * for the CPU backend, device memory for CUDA), obtained from zt_backend_alloc,
 * an arena, or zt_backend_adopt_weights. Tensors are contiguous row-major.
 *
 * Dtypes: activations use be->act_dtype (F32 on the CPU, BF16 on CUDA);
 * weights may be BF16, F16 or F32; latents and RoPE tables are F32. Every
 * op accumulates in F32. Ops accept any float dtype for inputs and outputs
 * unless stated.
 *
 * Errors: ops do not return a status. A wrapper that finds a shape or dtype
 * mismatch, or a backend that fails, records a sticky error in the backend;
 * later ops are skipped until zt_backend_sync() (or a download, which
 * would otherwise hand back bytes never written) reports and clears it. A
 * missing op is an error, never a silent fallback.
 *
 * Threads: a backend is used by one thread at a time.
 */
#ifndef ZT_BACKEND_H
#define ZT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

typedef struct zt_backend zt_backend;

/* A matrix of E4M3 values with one F32 scale per row: row r stands for
 * q[r, :] * s[r]. q is F8E4M3 [..., K] viewed as [R, K], s F32 [R]. The
 * --precision fp8 transformer keeps its block weights so (a scale per
 * output channel) and quantizes their inputs so (a scale per token). */
typedef struct zt_qmat {
    zt_tensor q, s;
} zt_qmat;

typedef enum zt_unary_op { ZT_UNARY_SILU, ZT_UNARY_TANH } zt_unary_op;
typedef enum zt_rope_kind {
    ZT_ROPE_NEOX,        /* rotate-half: pairs (x[i], x[i+hd/2]) (Qwen3) */
    ZT_ROPE_INTERLEAVED  /* pairs (x[2m], x[2m+1]) (DiT) */
} zt_rope_kind;

/* One line of an op profile: the time the device spent in op during
 * phase (as marked by zt_backend_phase), over calls launches. */
typedef struct zt_prof_row {
    char phase[16];
    char op[24];
    int calls;
    double ms;
} zt_prof_row;

typedef struct zt_backend_vt {
    const char *name;
    int host_memory; /* 1 when backend memory is ordinary host memory */
    int ops_immediate; /* 1 when an op has run by the time its call returns (the
                          CPU): zt_backend's stop is asked before each op */
    void (*destroy)(zt_backend *be);

    /* memory */
    zt_status (*alloc)(zt_backend *be, size_t bytes, void **out, zt_err *err);
    void (*release)(zt_backend *be, void *p);
    zt_status (*upload)(zt_backend *be, void *dst, const void *src, size_t n, zt_err *err);
    zt_status (*download)(zt_backend *be, void *dst, const void *src, size_t n, zt_err *err);
    zt_status (*sync)(zt_backend *be, zt_err *err);
    /* free/total device memory in bytes; the CPU backend reports host RAM */
    zt_status (*mem_info)(zt_backend *be, size_t *free_b, size_t *total_b, zt_err *err);
    /* *n: how many of float x's values are NaN or infinite (waits for the
     * ops before it, as download) */
    zt_status (*count_nonfinite)(zt_backend *be, const zt_tensor *x, uint64_t *n, zt_err *err);
    /* Move n host-memory weight views into backend memory, rewriting each
     * ts[i]->data. *block receives what weights_release frees later.
     * NULL: views stay where they are (host-memory backends); only views
     * whose data is off their element size are copied, aligned. */
    zt_status (*weights_adopt)(zt_backend *be, zt_tensor **ts, int n, void **block, zt_err *err);
    void (*weights_release)(zt_backend *be, void *block);

    /* ops: arguments already validated by the zt_op_* wrappers */
    void (*matmul)(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                   const zt_tensor *bias);
    void (*quantize)(zt_backend *be, zt_qmat *y, const zt_tensor *x);
    void (*quantize_t)(zt_backend *be, zt_qmat *y, const zt_tensor *x);
    void (*matmul_q)(zt_backend *be, zt_tensor *y, const zt_qmat *x, const zt_qmat *w);
    void (*rmsnorm_q)(zt_backend *be, zt_qmat *y, const zt_tensor *x, const zt_tensor *w,
                      const zt_tensor *scale, float eps);
    void (*swiglu_q)(zt_backend *be, zt_qmat *y, const zt_tensor *gate, const zt_tensor *up);
    void (*rmsnorm)(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                    const zt_tensor *scale, float eps);
    void (*layernorm)(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                      const zt_tensor *b, const zt_tensor *scale, float eps);
    void (*groupnorm)(zt_backend *be, zt_tensor *y, const zt_tensor *x, int groups,
                      const zt_tensor *w, const zt_tensor *b, float eps, int silu);
    void (*rope)(zt_backend *be, zt_tensor *x, const zt_tensor *cs, zt_rope_kind kind);
    void (*attention)(zt_backend *be, zt_tensor *out, const zt_tensor *q, const zt_tensor *k,
                      const zt_tensor *v, int causal, float scale);
    void (*softmax)(zt_backend *be, zt_tensor *y, const zt_tensor *x);
    void (*unary)(zt_backend *be, zt_tensor *y, const zt_tensor *x, zt_unary_op op);
    void (*add)(zt_backend *be, zt_tensor *y, const zt_tensor *a, const zt_tensor *b);
    void (*mul)(zt_backend *be, zt_tensor *y, const zt_tensor *a, const zt_tensor *b);
    void (*gated_add)(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *gate);
    void (*norm_gated_add)(zt_backend *be, zt_tensor *y, zt_tensor *x, const zt_tensor *w,
                           const zt_tensor *gate, float eps);
    void (*residual_norm)(zt_backend *be, zt_tensor *x, zt_tensor *o, const zt_tensor *wo,
                          const zt_tensor *gate, zt_tensor *y, zt_qmat *yq, const zt_tensor *w,
                          const zt_tensor *scale, float eps);
    void (*rmsnorm_rope)(zt_backend *be, zt_tensor *x, const zt_tensor *w, float eps,
                         const zt_tensor *cs, zt_rope_kind kind);
    void (*rmsnorm_rope_q)(zt_backend *be, zt_qmat *y, const zt_tensor *x, const zt_tensor *w,
                           float eps, const zt_tensor *cs, zt_rope_kind kind);
    void (*attention_q)(zt_backend *be, zt_qmat *out, const zt_qmat *q, const zt_qmat *k,
                        const zt_qmat *v, float scale);
    void (*swiglu)(zt_backend *be, zt_tensor *y, const zt_tensor *gate, const zt_tensor *up);
    void (*scale_add)(zt_backend *be, zt_tensor *y, const zt_tensor *x, float alpha, float beta);
    void (*axpy)(zt_backend *be, zt_tensor *y, float alpha, const zt_tensor *x);
    void (*copy)(zt_backend *be, zt_tensor *y, const zt_tensor *x);
    void (*embed)(zt_backend *be, zt_tensor *y, const zt_tensor *table, const zt_tensor *ids);
    void (*conv2d)(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                   const zt_tensor *b);
    void (*upsample2x)(zt_backend *be, zt_tensor *y, const zt_tensor *x);
    void (*transpose)(zt_backend *be, zt_tensor *y, const zt_tensor *x);
    void (*patchify)(zt_backend *be, zt_tensor *y, const zt_tensor *x, int p);
    void (*unpatchify)(zt_backend *be, zt_tensor *y, const zt_tensor *x, int p);
    void (*to_rgb8)(zt_backend *be, zt_tensor *y, const zt_tensor *x);

    /* optional: fill BF16 t with synthetic weights (synth.h) for the tensor
     * key zt_synth_key(name, seed), in place in backend memory */
    void (*synth_fill)(zt_backend *be, zt_tensor *t, uint32_t key, int is_bias);
    /* optional: bytes the backend holds now and at most since it was made
     * (allocations, scratch, workspaces) */
    void (*mem_usage)(zt_backend *be, size_t *now, size_t *peak);
    /* optional op profile: mark is told each op's name (or, with phase
     * set, a phase name) just before the op is issued; profile starts
     * (clearing) or stops recording; profile_read stops recording, waits
     * for the device and fills up to max rows, most time first, returning
     * how many. */
    void (*mark)(zt_backend *be, const char *what, int phase);
    zt_status (*profile)(zt_backend *be, int on, zt_err *err);
    int (*profile_read)(zt_backend *be, zt_prof_row *rows, int max);
    /* optional recording (CUDA graphs), used through zt_replay below,
     * which never records while an op profile is on: ops issued between
     * record_begin and record_end are recorded, not run. record_end hands
     * back the recording in *rec, or fails with ZT_ERR_TOO_BIG when
     * something it would hold went away meanwhile (a scratch buffer had to
     * grow; worth trying again later) or another code when the ops cannot
     * be recorded at all; either way the ops did not run and any error
     * they recorded is cleared. replay queues a recording; it fails with
     * ZT_ERR_TOO_BIG when something it holds has gone since (record
     * again). */
    zt_status (*record_begin)(zt_backend *be, zt_err *err);
    zt_status (*record_end)(zt_backend *be, void **rec, zt_err *err);
    zt_status (*replay)(zt_backend *be, void *rec, zt_err *err);
    void (*record_free)(zt_backend *be, void *rec);
} zt_backend_vt;

/* Base of every backend; implementations embed it first. */
struct zt_backend {
    const zt_backend_vt *vt;
    zt_dtype act_dtype;
    zt_err error;   /* sticky; error.code == ZT_OK when none */
    /* Optional, set by the caller around zt_backend_adopt_weights: told
     * after each piece of the host tensors [src, src + n) has been read, so
     * the caller can report progress and give the pages back. A non-zero
     * return stops the adoption, which then fails with ZT_ERR_CANCELLED
     * and keeps nothing. Backends that keep the host views never call it. */
    int (*on_read)(void *ud, const void *src, size_t n);
    void *on_read_ud;
    /* Optional, set by the caller around a run: on a backend whose ops run
     * as they are issued (vt->ops_immediate), asked before each op; a
     * non-zero answer records ZT_ERR_CANCELLED, so the rest of the pass is
     * skipped and the next sync reports it. A CPU step of the full model
     * takes minutes, so a cancel need not wait for it. Queued backends
     * never ask: their ops are issued long before they run. */
    int (*stop)(void *ud);
    void *stop_ud;
    unsigned long replays; /* recordings queued by zt_replay_enter so far */
    int profiling;         /* an op profile is recording (zt_backend_profile on, not yet
                              off or read): every op is issued, none replayed */
    /* Set by the caller before loading: the transformer's block weights
     * become E4M3 with per-output-channel scales, and their products FP8
     * (--precision fp8; never the default). */
    int fp8;
    /* Set by the backend: 1 when FP8 blocks are to take attention_q (CUDA:
     * asked for with ZIMT_FP8_ATTENTION=1, and cuDNN runs FP8 attention
     * here). The op itself runs on every backend either way. */
    int fp8_attention;
};

/* Constructors. zt_backend_cuda_new fails with ZT_ERR_UNSUPPORTED when built
 * without CUDA or when no device is usable. threads <= 0: all cores; the
 * CPU backend starts its workers when an op first needs them and keeps
 * them, with its scratch buffers, until it is destroyed. */
zt_status zt_backend_cpu_new(zt_backend **out, int threads, zt_err *err);
zt_status zt_backend_cuda_new(zt_backend **out, int device, zt_err *err);
/* act: ZT_BF16 (the default: BF16 tensor-core matrix products) or ZT_F32
 * (F32 activations and F32 matrix products: slower, and close enough to the
 * CPU reference to give the same 8-bit pixels). */
zt_status zt_backend_cuda_new_ex(zt_backend **out, int device, zt_dtype act, zt_err *err);
void zt_backend_free(zt_backend *be); /* NULL is fine */

/* Op profile (CUDA: device time between consecutive ops, from events).
 * zt_backend_profile fails with ZT_ERR_UNSUPPORTED on backends without
 * one; zt_backend_phase names the phase the following ops belong to (a
 * no-op unless recording); zt_backend_profile_read returns the rows. */
zt_status zt_backend_profile(zt_backend *be, int on, zt_err *err);
void zt_backend_phase(zt_backend *be, const char *phase);
int zt_backend_profile_read(zt_backend *be, zt_prof_row *rows, int max);

/* Memory helpers (forwarding to the vtable). */
zt_status zt_backend_alloc(zt_backend *be, size_t bytes, void **out, zt_err *err);
void zt_backend_release(zt_backend *be, void *p);
zt_status zt_backend_upload(zt_backend *be, zt_tensor *dst, const void *src, zt_err *err);
/* Waits for the ops before it; with a sticky error pending, reports and
 * clears it (as zt_backend_sync) and leaves dst untouched. */
zt_status zt_backend_download(zt_backend *be, void *dst, const zt_tensor *src, zt_err *err);
/* Wait for queued work; returns and clears the sticky error if any. */
zt_status zt_backend_sync(zt_backend *be, zt_err *err);
/* *n: how many of float x's values are NaN or infinite (0 on a backend
 * without the op). Waits for the ops before it; a sticky error is
 * reported and cleared as by download. */
zt_status zt_backend_count_nonfinite(zt_backend *be, const zt_tensor *x, uint64_t *n,
                                     zt_err *err);
zt_status zt_backend_adopt_weights(zt_backend *be, zt_tensor **ts, int n, void **block,
                                   zt_err *err);
void zt_backend_release_weights(zt_backend *be, void *block);

/* Record an error unless one is pending (for wrappers and backends). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void zt_backend_set_error(zt_backend *be, zt_status s, const char *fmt, ...);

/*
 * Ops. Shapes (x viewed as [rows, C] where C is the last dim):
 *  matmul     y[M,N] = x[M,K] . w[N,K]^T (+ bias[N]); x,y may be any rank whose
 *             last dim is K / N and leading dims multiply to M.
 *  quantize   y = x as a zt_qmat: per row s = max|x| / 448 (1 for a zero row),
 *             q = E4M3(x * (1 / s)), rounded to nearest even, saturating.
 *  quantize_t y = x as one E4M3 tensor: y.s F32 [1] = max|x| / 448 (1 when
 *             all zero), q = E4M3(x * (1 / s)).
 *  matmul_q   y[M,N] = (x.q[M,K] . w.q[N,K]^T) * x.s[m] * w.s[n], products of
 *             E4M3 values summed in F32.
 *  rmsnorm_q, swiglu_q  quantize(rmsnorm(x, w, scale)), quantize(swiglu(gate,
 *             up)) in one pass: the F32 results are quantized directly.
 *  rmsnorm    y = x / sqrt(mean(x^2) + eps) * w (* scale): over the last dim C of
 *             x; w [C] or NULL; scale [C] or NULL (the DiT's 1 + s).
 *  layernorm  y = (x - mean) / sqrt(var + eps) (* w + b) (* scale); w,b,scale NULL-able.
 *  groupnorm  x,y [..., C] channels last (an image [H,W,C] or rows [N,C]);
 *             groups divide C, statistics over all rows of a group's
 *             channels; affine w,b [C]; silu != 0 applies SiLU after.
 *  rope       x [S, heads, hd] in place; cs F32 [S, hd/2, 2] holds (cos, sin)
 *             for each position and pair.
 *  rmsnorm_rope  x [S, heads, hd] in place: rmsnorm over hd with w [hd], then
 *             rope (the q/k norm before attention, in one pass).
 *  rmsnorm_rope_q  the same from x [S, heads, hd] into y, one E4M3 tensor of
 *             x's shape with y.s F32 [1] = sqrt(hd) * max|w| / 448 (1 when w
 *             is all zero): a bound, not a measure, since no element of an
 *             RMS-normed row exceeds sqrt(hd) * max|w| and RoPE only turns
 *             pairs; w [hd] is required.
 *  attention_q  attention of E4M3 tensors q [Sq,H,hd], k, v [Skv,H,hd], each
 *             with one scale (s F32 [1]), not causal, one kv head a query
 *             head: for each row, p_j = exp(l_j - max l) of the logits
 *             l = scale * (q . k^T) * q.s * k.s; o = sum_j E4M3(448 p_j) / 448
 *             * v_j * v.s / sum_j p_j; out.q = E4M3(o / v.s) [Sq,H,hd] with
 *             out.s F32 [Sq] (v.s a row on the CPU; a backend may scale its
 *             rows otherwise). No |o| exceeds max|v|, so o / v.s fits.
 *  attention  q [Sq,Hq,hd], k,v [Skv,Hkv,hd], out [Sq,Hq,hd]; Hq % Hkv == 0 and
 *             query head h reads kv head h/(Hq/Hkv); causal masks j > i.
 *  softmax    over the last dim.
 *  unary      y = f(x), same numel.
 *  add, mul   y = a op b; b has a's shape, or is a row vector [C] broadcast.
 *  gated_add  y += gate * x (gate [C] broadcast over rows, or NULL for 1).
 *  norm_gated_add  y += gate * rmsnorm(x) * w (w [C], gate [C] or NULL): the
 *             DiT's normed, gated residual in one pass; x may be overwritten.
 *  residual_norm  norm_gated_add(x, o, wo, gate), then rmsnorm(x, w, scale)
 *             into y, or rmsnorm_q into yq (exactly one given): a block's
 *             gated residual and the norm that reads x next, x read and
 *             written once; o may be overwritten.
 *  swiglu     y = silu(gate) * up.
 *  scale_add  y = alpha * x + beta.
 *  axpy       y += alpha * x.
 *  copy       y = x with dtype conversion (equal numel).
 *  embed      y[L,H] = table[ids[l]]; ids I32 [L] in backend memory, checked < V.
 *  conv2d     channels last: x [H,W,Ci] -> y [H,W,Co]; w [Co,Ci,k,k] as
 *             checkpoints store it, k 1 or 3 (padding k/2); b [Co] or NULL.
 *  upsample2x nearest, channels last: x [H,W,C] -> y [2H,2W,C].
 *  transpose  x [M,N] -> y [N,M].
 *  patchify   x [C,H,W] -> y [(H/p)(W/p), p*p*C] with
 *             y[i*(W/p)+j][(py*p+px)*C + c] = x[c][i*p+py][j*p+px]; unpatchify inverts.
 *  to_rgb8    a decoded image x [C,H,W] (values in [-1, 1]) -> y U8 [H,W,C]:
 *             rint(clamp(x/2 + 1/2, 0, 1) * 255), halves to even as numpy's
 *             round, NaN to 0; the same bytes on every backend.
 */
void zt_op_matmul(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                  const zt_tensor *bias);
void zt_op_quantize(zt_backend *be, zt_qmat *y, const zt_tensor *x);
void zt_op_quantize_t(zt_backend *be, zt_qmat *y, const zt_tensor *x);
void zt_op_matmul_q(zt_backend *be, zt_tensor *y, const zt_qmat *x, const zt_qmat *w);
void zt_op_rmsnorm_q(zt_backend *be, zt_qmat *y, const zt_tensor *x, const zt_tensor *w,
                     const zt_tensor *scale, float eps);
void zt_op_swiglu_q(zt_backend *be, zt_qmat *y, const zt_tensor *gate, const zt_tensor *up);
void zt_op_rmsnorm(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                   const zt_tensor *scale, float eps);
void zt_op_layernorm(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                     const zt_tensor *b, const zt_tensor *scale, float eps);
void zt_op_groupnorm(zt_backend *be, zt_tensor *y, const zt_tensor *x, int groups,
                     const zt_tensor *w, const zt_tensor *b, float eps, int silu);
void zt_op_rope(zt_backend *be, zt_tensor *x, const zt_tensor *cs, zt_rope_kind kind);
void zt_op_attention(zt_backend *be, zt_tensor *out, const zt_tensor *q, const zt_tensor *k,
                     const zt_tensor *v, int causal, float scale);
void zt_op_softmax(zt_backend *be, zt_tensor *y, const zt_tensor *x);
void zt_op_unary(zt_backend *be, zt_tensor *y, const zt_tensor *x, zt_unary_op op);
void zt_op_add(zt_backend *be, zt_tensor *y, const zt_tensor *a, const zt_tensor *b);
void zt_op_mul(zt_backend *be, zt_tensor *y, const zt_tensor *a, const zt_tensor *b);
void zt_op_gated_add(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *gate);
void zt_op_norm_gated_add(zt_backend *be, zt_tensor *y, zt_tensor *x, const zt_tensor *w,
                          const zt_tensor *gate, float eps);
void zt_op_residual_norm(zt_backend *be, zt_tensor *x, zt_tensor *o, const zt_tensor *wo,
                         const zt_tensor *gate, zt_tensor *y, zt_qmat *yq, const zt_tensor *w,
                         const zt_tensor *scale, float eps);
void zt_op_rmsnorm_rope(zt_backend *be, zt_tensor *x, const zt_tensor *w, float eps,
                        const zt_tensor *cs, zt_rope_kind kind);
void zt_op_rmsnorm_rope_q(zt_backend *be, zt_qmat *y, const zt_tensor *x, const zt_tensor *w,
                          float eps, const zt_tensor *cs, zt_rope_kind kind);
void zt_op_attention_q(zt_backend *be, zt_qmat *out, const zt_qmat *q, const zt_qmat *k,
                       const zt_qmat *v, float scale);
void zt_op_swiglu(zt_backend *be, zt_tensor *y, const zt_tensor *gate, const zt_tensor *up);
void zt_op_scale_add(zt_backend *be, zt_tensor *y, const zt_tensor *x, float alpha,
                     float beta);
void zt_op_axpy(zt_backend *be, zt_tensor *y, float alpha, const zt_tensor *x);
void zt_op_copy(zt_backend *be, zt_tensor *y, const zt_tensor *x);
void zt_op_embed(zt_backend *be, zt_tensor *y, const zt_tensor *table, const zt_tensor *ids);
void zt_op_conv2d(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                  const zt_tensor *b);
void zt_op_upsample2x(zt_backend *be, zt_tensor *y, const zt_tensor *x);
void zt_op_transpose(zt_backend *be, zt_tensor *y, const zt_tensor *x);
void zt_op_patchify(zt_backend *be, zt_tensor *y, const zt_tensor *x, int p);
void zt_op_unpatchify(zt_backend *be, zt_tensor *y, const zt_tensor *x, int p);
void zt_op_to_rgb8(zt_backend *be, zt_tensor *y, const zt_tensor *x);
/* t BF16 (any shape) = synthetic weights of key (synth.h); is_bias selects
 * the rank-1 bias rule. Bit-identical on every backend. */
void zt_op_synth_fill(zt_backend *be, zt_tensor *t, uint32_t key, int is_bias);
/* Backend-held bytes now and at peak; returns 0 (and zeros) when the
 * backend does not count. */
int zt_backend_mem_usage(zt_backend *be, size_t *now, size_t *peak);

/*
 * Replays: a fixed sequence of ops (a text encoder pass, a denoising step)
 * issued once directly, recorded the second time its key is seen, and
 * replayed from then on while the key stays the same. The key holds
 * everything the sequence bakes in: shapes, and the addresses of every
 * tensor it reads or writes. The values in those tensors may change
 * between replays; a replayed sequence runs exactly the kernels the
 * direct one ran, so results are bit-identical. Backends without
 * recording, an op profile being recorded, and ZIMT_GRAPHS=0 make every
 * pass direct. The caller issues its ops in a loop:
 *
 *     do {
 *         if (zt_replay_enter(be, &r, key, nkey))
 *             issue_the_ops(...);
 *     } while (zt_replay_leave(be, &r));
 *
 * A NULL r runs the ops directly, once: for passes with taps or anything
 * else that reads results back mid-sequence, which must not be recorded.
 * One zt_replay belongs to one backend.
 */
#define ZT_REPLAY_KEY 12
#define ZT_REPLAY_SLOTS 4 /* sequences kept per site, the least recently used replaced */

typedef struct zt_replay_slot {
    uint64_t key[ZT_REPLAY_KEY];
    int nkey;
    int seen;            /* the key ran directly once */
    void *rec;           /* backend recording for key, or NULL */
    unsigned long used;  /* tick of the last pass */
} zt_replay_slot;

typedef struct zt_replay {
    zt_replay_slot slot[ZT_REPLAY_SLOTS];
    unsigned long tick;
    int cur;        /* slot of the pass between enter and leave */
    int recording;  /* between enter and leave, ops are being recorded */
    int off;        /* recording failed for good: always direct */
} zt_replay;

/* Returns 1 when the caller must issue the ops (run directly or being
 * recorded), 0 when a recording was queued in their place. */
int zt_replay_enter(zt_backend *be, zt_replay *r, const uint64_t *key, int nkey);
/* Ends a pass; returns 1 when the ops must be issued again, directly (the
 * recording failed and nothing ran). */
int zt_replay_leave(zt_backend *be, zt_replay *r);
/* Frees the recordings (before the backend or the tensors they name go). */
void zt_replay_drop(zt_backend *be, zt_replay *r);

/*
 * Arena: one backend allocation carved into tensors, sized before a job.
 * A measuring arena (zt_arena_measure) hands out tensors with data NULL and
 * only counts, so the same allocation code computes the size to reserve.
 */
typedef struct zt_arena {
    zt_backend *be;
    char *base;   /* NULL while measuring */
    size_t cap;   /* bytes reserved */
    size_t used;
    size_t peak;
    int measuring;
} zt_arena;

void zt_arena_measure(zt_arena *a);
zt_status zt_arena_init(zt_arena *a, zt_backend *be, size_t bytes, zt_err *err);
void zt_arena_free(zt_arena *a); /* releases the allocation; init'd to zero is fine */
/* Carve a tensor; fails with ZT_ERR_TOO_BIG when the reservation is short. */
zt_status zt_arena_tensor(zt_arena *a, zt_tensor *out, zt_dtype dt, int ndim,
                          const int64_t *shape, zt_err *err);
/* Position marks, to reuse scratch space between stages. */
size_t zt_arena_mark(const zt_arena *a);
void zt_arena_reset(zt_arena *a, size_t mark);

#endif
