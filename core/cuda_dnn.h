/*
 * cuda_dnn.h - cuDNN for the CUDA backend, one handle on the backend's
 * stream for both of its uses:
 *
 * - fused attention: the SDPA forward operation of cuDNN's graph API
 *   (cuDNN 9.13.1 or later), for BF16, non-causal attention with as many
 *   key/value heads as query heads (the DiT). Tensors are the backend's
 *   [S, H, hd] rows (heads interleaved), given to cuDNN as [1, H, S, hd] with
 *   strides [S*H*hd, hd, H*hd, 1]. An execution plan is built once per
 *   (Sq, Skv, H, hd) and kept. FP8 attention (E4M3 q, k, v and output,
 *   one scale each) is a graph of generic operations that the same fused
 *   engine runs on Hopper and later.
 * - 3x3 convolutions for the channels-last decoder: NHWC activations and
 *   KRSC filters, the layout cuDNN's tensor-core kernels take as it is. The
 *   algorithm for a shape comes from cuDNN's heuristics (deterministic ones
 *   only, the same choice in every run, so a seed always gives the same
 *   pixels) and is kept.
 *
 * Internal to backend_cuda.c. Without cuDNN (ZT_HAVE_CUDNN unset) or with
 * ZIMT_CUDNN=0, zt_dnn_new returns NULL and the backend uses its own
 * kernels; a run function returning 0 launched nothing and the caller falls
 * back the same way.
 */
#ifndef ZT_CUDA_DNN_H
#define ZT_CUDA_DNN_H

#include <stddef.h>
#include <stdint.h>

typedef struct zt_dnn zt_dnn;

/* A workspace of at least n device bytes that stays valid until the next
 * call (the backend's scratch), or NULL. */
typedef void *(*zt_dnn_ws_fn)(void *ud, size_t n);

/* stream: a cudaStream_t. */
zt_dnn *zt_dnn_new(void *stream);
void zt_dnn_free(zt_dnn *d);

/* out = softmax(q k^T * scale) v for BF16 q [Sq, H, hd], k, v [Skv, H, hd],
 * out [Sq, H, hd]. 1 when cuDNN ran it; 0 when it cannot (cuDNN without the
 * SDPA operation, or no engine for the shape). */
int zt_dnn_sdpa(zt_dnn *d, void *out, const void *q, const void *k, const void *v, int64_t Sq,
                int64_t Skv, int64_t H, int64_t hd, float scale, zt_dnn_ws_fn ws, void *ud);

/* 1 when FP8 attention can run here at all (cuDNN 9.13.1 or later, a
 * Hopper or later GPU); a shape may still find no engine. */
int zt_dnn_has_fp8_attention(const zt_dnn *d);

/* out = E4M3(softmax(q k^T * scale) v / v.s) for E4M3 q [Sq, H, hd], k, v
 * [Skv, H, hd] standing for q * qs[0] (and so on), the probabilities
 * rounded to E4M3 at 448 before the second product (backend.h's
 * attention_q). c: device floats {1/448, 448, 1/v.s}; amax: two device
 * floats the graph writes and nobody reads. 1 when cuDNN ran it, 0 when it
 * cannot (as zt_dnn_sdpa). */
int zt_dnn_sdpa_fp8(zt_dnn *d, void *out, const void *q, const void *k, const void *v,
                    const float *qs, const float *ks, const float *vs, const float *c, float *amax,
                    int64_t Sq, int64_t Skv, int64_t H, int64_t hd, float scale, zt_dnn_ws_fn ws,
                    void *ud);

/* Attention plans let go so far (the oldest shape goes when the cache is
 * full): a CUDA graph that captured one of them must not be replayed. */
unsigned zt_dnn_evictions(const zt_dnn *d);

/* y [H, W, Co] = conv3x3 of x [H, W, Ci] with w [Co, 3, 3, Ci], zero
 * padding of one pixel on every side, BF16, F32 accumulation. 1 when cuDNN
 * ran it; 0 when it cannot. */
int zt_dnn_conv3x3(zt_dnn *d, void *y, const void *x, const void *w, int64_t Ci, int64_t Co,
                   int64_t H, int64_t W, zt_dnn_ws_fn ws, void *ud);

#endif
