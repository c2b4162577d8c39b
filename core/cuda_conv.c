/*
 * cuda_conv.c - cuDNN channels-last 3x3 convolutions (see cuda_conv.h),
 * through the classic convolution API: one set of descriptors reused for
 * every call, the algorithm chosen once per shape.
 */
#include "cuda_conv.h"

#if defined(ZT_HAVE_CUDA) && defined(ZT_HAVE_CUDNN)

#include <cudnn.h>
#include <stdlib.h>
#include <string.h>

#define CONV_PLANS 64
#define CONV_WS_MAX ((size_t)256 << 20)

typedef struct conv_plan {
    int64_t Ci, Co, H, W;
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws;
    int ok; /* 0: cuDNN has nothing for it within CONV_WS_MAX */
} conv_plan;

struct zt_dnnconv {
    cudnnHandle_t h;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    conv_plan plans[CONV_PLANS];
    int n;
};

static int ok(cudnnStatus_t s)
{
    return s == CUDNN_STATUS_SUCCESS;
}

void zt_dnnconv_free(zt_dnnconv *c)
{
    if (!c)
        return;
    if (c->x)
        cudnnDestroyTensorDescriptor(c->x);
    if (c->y)
        cudnnDestroyTensorDescriptor(c->y);
    if (c->w)
        cudnnDestroyFilterDescriptor(c->w);
    if (c->conv)
        cudnnDestroyConvolutionDescriptor(c->conv);
    if (c->h)
        cudnnDestroy(c->h);
    free(c);
}

zt_dnnconv *zt_dnnconv_new(void *stream)
{
    const char *env = getenv("ZIMT_CUDNN");
    if (env && !strcmp(env, "0"))
        return NULL;
    zt_dnnconv *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (!ok(cudnnCreate(&c->h))) {
        c->h = NULL;
        zt_dnnconv_free(c);
        return NULL;
    }
    if (!ok(cudnnSetStream(c->h, (cudaStream_t)stream)) ||
        !ok(cudnnCreateTensorDescriptor(&c->x)) || !ok(cudnnCreateTensorDescriptor(&c->y)) ||
        !ok(cudnnCreateFilterDescriptor(&c->w)) ||
        !ok(cudnnCreateConvolutionDescriptor(&c->conv)) ||
        !ok(cudnnSetConvolution2dDescriptor(c->conv, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT)) ||
        !ok(cudnnSetConvolutionMathType(c->conv, CUDNN_TENSOR_OP_MATH))) {
        zt_dnnconv_free(c);
        return NULL;
    }
    return c;
}

int zt_dnnconv_run(zt_dnnconv *c, void *y, const void *x, const void *w, int64_t Ci, int64_t Co,
                   int64_t H, int64_t W, zt_dnnconv_ws_fn ws, void *ud)
{
    if (!c || H < 1 || W < 1 || Ci > INT32_MAX || Co > INT32_MAX || H > INT32_MAX || W > INT32_MAX)
        return 0;
    if (!ok(cudnnSetTensor4dDescriptor(c->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 1, (int)Ci,
                                       (int)H, (int)W)) ||
        !ok(cudnnSetTensor4dDescriptor(c->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 1, (int)Co,
                                       (int)H, (int)W)) ||
        !ok(cudnnSetFilter4dDescriptor(c->w, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_NHWC, (int)Co,
                                       (int)Ci, 3, 3)))
        return 0;
    conv_plan *p = NULL;
    for (int i = 0; i < c->n && !p; i++)
        if (c->plans[i].Ci == Ci && c->plans[i].Co == Co && c->plans[i].H == H &&
            c->plans[i].W == W)
            p = &c->plans[i];
    if (!p) {
        if (c->n == CONV_PLANS) { /* forget the oldest shape */
            memmove(c->plans, c->plans + 1, (CONV_PLANS - 1) * sizeof *c->plans);
            c->n--;
        }
        p = &c->plans[c->n++];
        memset(p, 0, sizeof *p);
        p->Ci = Ci, p->Co = Co, p->H = H, p->W = W;
        /* cuDNN's heuristics, not timed trials: the same shape gets the same
         * algorithm in every run, so a seed gives the same pixels every
         * time; and only deterministic algorithms */
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int got = 0;
        if (ok(cudnnGetConvolutionForwardAlgorithm_v7(c->h, c->x, c->w, c->conv, c->y,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got,
                                                      perf)))
            for (int i = 0; i < got && !p->ok; i++) /* best first */
                if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= CONV_WS_MAX &&
                    perf[i].determinism == CUDNN_DETERMINISTIC) {
                    p->algo = perf[i].algo;
                    p->ws = perf[i].memory;
                    p->ok = 1;
                }
        cudaGetLastError(); /* a failed trial must not stick */
    }
    if (!p->ok)
        return 0;
    void *wsp = p->ws ? ws(ud, p->ws) : NULL;
    if (p->ws && !wsp)
        return 0;
    const float one = 1.0f, zero = 0.0f;
    if (ok(cudnnConvolutionForward(c->h, &one, c->x, x, c->w, w, c->conv, p->algo, wsp, p->ws,
                                   &zero, c->y, y)))
        return 1;
    p->ok = 0; /* it will not work later either */
    return 0;
}

#elif defined(ZT_HAVE_CUDA) /* CUDA without cuDNN: always im2col + GEMM */

zt_dnnconv *zt_dnnconv_new(void *stream)
{
    (void)stream;
    return NULL;
}

void zt_dnnconv_free(zt_dnnconv *c)
{
    (void)c;
}

int zt_dnnconv_run(zt_dnnconv *c, void *y, const void *x, const void *w, int64_t Ci, int64_t Co,
                   int64_t H, int64_t W, zt_dnnconv_ws_fn ws, void *ud)
{
    (void)c, (void)y, (void)x, (void)w, (void)Ci, (void)Co, (void)H, (void)W, (void)ws, (void)ud;
    return 0;
}

#else
typedef int zt_cuda_conv_unused; /* built without CUDA: nothing here */
#endif
