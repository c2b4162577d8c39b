/*
 * cuda_sdpa.h - cuDNN's fused attention (the SDPA forward operation of its
 * graph API) for the CUDA backend, where the cuDNN found at build and run
 * time has it (9.13.1 or later). Used for BF16, non-causal attention with
 * as many key/value heads as query heads (the DiT); everything else stays
 * on our own kernel.
 *
 * Tensors are the backend's [S, H, hd] rows (heads interleaved), given to
 * cuDNN as [1, H, S, hd] with strides [S*H*hd, hd, H*hd, 1]. An execution
 * plan is built once per (Sq, Skv, H, hd) and kept; the first call for a
 * shape pays for cuDNN's heuristics and plan finalisation.
 *
 * Internal to backend_cuda.c. Without cuDNN (ZT_HAVE_CUDNN unset) the
 * constructor returns NULL and the backend uses its own kernels.
 */
#ifndef ZT_CUDA_SDPA_H
#define ZT_CUDA_SDPA_H

#include <stddef.h>
#include <stdint.h>

typedef struct zt_sdpa zt_sdpa;

/* A workspace of at least n device bytes that stays valid until the next
 * call (the backend's scratch), or NULL. */
typedef void *(*zt_sdpa_ws_fn)(void *ud, size_t n);

/* NULL when cuDNN or its SDPA operation is not available (or ZIMT_CUDNN=0
 * is set): callers then use their own kernel. stream: a cudaStream_t. */
zt_sdpa *zt_sdpa_new(void *stream);
void zt_sdpa_free(zt_sdpa *s);

/* out = softmax(q k^T * scale) v for BF16 q [Sq, H, hd], k, v [Skv, H, hd],
 * out [Sq, H, hd]. 1 when cuDNN ran it; 0 when it cannot take this shape
 * (nothing was launched; the caller falls back). */
int zt_sdpa_run(zt_sdpa *s, void *out, const void *q, const void *k, const void *v, int64_t Sq,
                int64_t Skv, int64_t H, int64_t hd, float scale, zt_sdpa_ws_fn ws, void *ud);

#endif
