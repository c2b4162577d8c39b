/*
 * cuda_conv.h - cuDNN's 3x3 convolution for the CUDA backend's BF16 decoder
 * convolutions. The decoder is channels last (NHWC activations) and the
 * backend hands over KRSC filters, the layout cuDNN's tensor-core kernels
 * take as it is.
 *
 * The algorithm for a shape comes from cuDNN's heuristics (deterministic
 * ones only, the same choice in every run, so a seed always gives the same
 * pixels) and is kept.
 * Internal to backend_cuda.c. Without cuDNN (ZT_HAVE_CUDNN unset) the
 * constructor returns NULL and the backend uses its own kernels.
 */
#ifndef ZT_CUDA_CONV_H
#define ZT_CUDA_CONV_H

#include <stddef.h>
#include <stdint.h>

typedef struct zt_dnnconv zt_dnnconv;

/* As zt_sdpa_ws_fn: device scratch of at least n bytes, or NULL. */
typedef void *(*zt_dnnconv_ws_fn)(void *ud, size_t n);

/* NULL without cuDNN (or with ZIMT_CUDNN=0). stream: a cudaStream_t. */
zt_dnnconv *zt_dnnconv_new(void *stream);
void zt_dnnconv_free(zt_dnnconv *c);

/* y [H, W, Co] = conv3x3 of x [H, W, Ci] with w [Co, 3, 3, Ci], zero
 * padding of one pixel on every side, BF16, F32 accumulation. 1 when cuDNN
 * ran it; 0 when it cannot (nothing was launched). */
int zt_dnnconv_run(zt_dnnconv *c, void *y, const void *x, const void *w, int64_t Ci, int64_t Co,
                   int64_t H, int64_t W, zt_dnnconv_ws_fn ws, void *ud);

#endif
