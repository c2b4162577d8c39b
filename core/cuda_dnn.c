/*
 * cuda_dnn.c - cuDNN for the CUDA backend (see cuda_dnn.h). Attention goes
 * through the backend (graph) API: one SDPA forward operation in an
 * operation graph, an engine from heuristics mode A, an execution plan kept
 * per shape, a variant pack per call. Convolutions go through the classic
 * API: one set of descriptors reused for every call, the algorithm chosen
 * once per shape.
 */
#include "cuda_dnn.h"

#if defined(ZT_HAVE_CUDA) && defined(ZT_HAVE_CUDNN)

#include <cudnn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if CUDNN_VERSION >= 91301
#define ZT_SDPA_CUDNN 1 /* the SDPA operation exists in this cuDNN */
#endif

#define SDPA_PLANS 16
#define SDPA_CFGS 8
#define CONV_PLANS 64
#define CONV_WS_MAX ((size_t)256 << 20)

typedef struct sdpa_plan {
    int64_t Sq, Skv, H, hd;
    cudnnBackendDescriptor_t plan; /* NULL: cuDNN has no engine for it */
    int64_t ws;
} sdpa_plan;

typedef struct conv_plan {
    int64_t Ci, Co, H, W;
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws;
    int ok; /* 0: cuDNN has nothing for it within CONV_WS_MAX */
} conv_plan;

struct zt_dnn {
    cudnnHandle_t h;
    int sdpa_ok; /* the cuDNN running has the SDPA operation */
    sdpa_plan sdpa[SDPA_PLANS];
    int n_sdpa;
    cudnnTensorDescriptor_t cx, cy;
    cudnnFilterDescriptor_t cw;
    cudnnConvolutionDescriptor_t conv;
    conv_plan convs[CONV_PLANS];
    int n_conv;
    unsigned evicted; /* attention plans destroyed to make room */
};

static int ok(cudnnStatus_t s)
{
    return s == CUDNN_STATUS_SUCCESS;
}

static void destroy(cudnnBackendDescriptor_t *d)
{
    if (*d)
        cudnnBackendDestroyDescriptor(*d);
    *d = NULL;
}

zt_dnn *zt_dnn_new(void *stream)
{
    const char *env = getenv("ZIMT_CUDNN");
    if (env && !strcmp(env, "0"))
        return NULL;
    zt_dnn *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (!ok(cudnnCreate(&d->h))) {
        free(d);
        return NULL;
    }
    if (!ok(cudnnSetStream(d->h, (cudaStream_t)stream)) ||
        !ok(cudnnCreateTensorDescriptor(&d->cx)) || !ok(cudnnCreateTensorDescriptor(&d->cy)) ||
        !ok(cudnnCreateFilterDescriptor(&d->cw)) ||
        !ok(cudnnCreateConvolutionDescriptor(&d->conv)) ||
        !ok(cudnnSetConvolution2dDescriptor(d->conv, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT)) ||
        !ok(cudnnSetConvolutionMathType(d->conv, CUDNN_TENSOR_OP_MATH))) {
        zt_dnn_free(d);
        return NULL;
    }
#ifdef ZT_SDPA_CUDNN
    d->sdpa_ok = cudnnGetVersion() >= 91301;
#endif
    return d;
}

void zt_dnn_free(zt_dnn *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n_sdpa; i++)
        destroy(&d->sdpa[i].plan);
    if (d->cx)
        cudnnDestroyTensorDescriptor(d->cx);
    if (d->cy)
        cudnnDestroyTensorDescriptor(d->cy);
    if (d->cw)
        cudnnDestroyFilterDescriptor(d->cw);
    if (d->conv)
        cudnnDestroyConvolutionDescriptor(d->conv);
    if (d->h)
        cudnnDestroy(d->h);
    free(d);
}

/* ---- fused attention ---------------------------------------------------- */

#ifdef ZT_SDPA_CUDNN

/* uids of the variant pack */
enum { UID_Q = 1, UID_K, UID_V, UID_O, UID_SCALE };

/* A finalised tensor descriptor; NULL on failure. */
static cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t dt, const int64_t dim[4],
                                       const int64_t str[4], int by_value)
{
    cudnnBackendDescriptor_t d = NULL;
    int64_t align = by_value ? 4 : 16;
    bool bv = true;
    if (!ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &d)))
        return NULL;
    if (!ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)) ||
        !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1,
                                     &dt)) ||
        !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dim)) ||
        !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, str)) ||
        !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1,
                                     &align)) ||
        (by_value && !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_IS_BY_VALUE,
                                                  CUDNN_TYPE_BOOLEAN, 1, &bv))) ||
        !ok(cudnnBackendFinalize(d)))
        destroy(&d);
    return d;
}

static int set_desc(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a,
                    cudnnBackendDescriptor_t v)
{
    return ok(cudnnBackendSetAttribute(d, a, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v));
}

/* Builds the plan for p's shape: p->plan stays NULL when cuDNN offers no
 * engine that finalises. */
static void sdpa_build(zt_dnn *d, sdpa_plan *p)
{
    const int64_t H = p->H, hd = p->hd;
    const int64_t dq[4] = {1, H, p->Sq, hd}, sq[4] = {p->Sq * H * hd, hd, H * hd, 1};
    const int64_t dk[4] = {1, H, p->Skv, hd}, sk[4] = {p->Skv * H * hd, hd, H * hd, 1};
    const int64_t one[4] = {1, 1, 1, 1};
    cudnnBackendDescriptor_t tq = tensor(UID_Q, CUDNN_DATA_BFLOAT16, dq, sq, 0);
    cudnnBackendDescriptor_t tk = tensor(UID_K, CUDNN_DATA_BFLOAT16, dk, sk, 0);
    cudnnBackendDescriptor_t tv = tensor(UID_V, CUDNN_DATA_BFLOAT16, dk, sk, 0);
    cudnnBackendDescriptor_t to = tensor(UID_O, CUDNN_DATA_BFLOAT16, dq, sq, 0);
    cudnnBackendDescriptor_t ts = tensor(UID_SCALE, CUDNN_DATA_FLOAT, one, one, 1);
    cudnnBackendDescriptor_t op = NULL, graph = NULL, heur = NULL, cfg[SDPA_CFGS] = {0};
    if (!tq || !tk || !tv || !to || !ts)
        goto done;
    if (!ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, &op)) ||
        !set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, tq) ||
        !set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, tk) ||
        !set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, tv) ||
        !set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC, to) ||
        !set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, ts) || !ok(cudnnBackendFinalize(op)))
        goto done;
    if (!ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &graph)) ||
        !set_desc(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, op) ||
        !ok(cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1,
                                     &d->h)) ||
        !ok(cudnnBackendFinalize(graph)))
        goto done;
    cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    if (!ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur)) ||
        !set_desc(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph) ||
        !ok(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1,
                                     &mode)) ||
        !ok(cudnnBackendFinalize(heur)))
        goto done;
    for (int i = 0; i < SDPA_CFGS; i++)
        if (!ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfg[i])))
            goto done;
    int64_t got = 0;
    if (!ok(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, SDPA_CFGS, &got, cfg)))
        goto done;
    /* the heuristics' order: the first plan that finalises */
    for (int64_t i = 0; i < got && !p->plan; i++) {
        cudnnBackendDescriptor_t plan = NULL;
        int64_t ws = 0, n = 0;
        if (ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan)) &&
            ok(cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE,
                                        1, &d->h)) &&
            set_desc(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg[i]) &&
            ok(cudnnBackendFinalize(plan)) &&
            ok(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                        CUDNN_TYPE_INT64, 1, &n, &ws)) &&
            ws >= 0) {
            p->plan = plan;
            p->ws = ws;
        } else {
            destroy(&plan);
        }
    }
done:
    for (int i = 0; i < SDPA_CFGS; i++)
        destroy(&cfg[i]);
    destroy(&heur);
    destroy(&graph);
    destroy(&op);
    destroy(&tq);
    destroy(&tk);
    destroy(&tv);
    destroy(&to);
    destroy(&ts);
}

int zt_dnn_sdpa(zt_dnn *d, void *out, const void *q, const void *k, const void *v, int64_t Sq,
                int64_t Skv, int64_t H, int64_t hd, float scale, zt_dnn_ws_fn ws, void *ud)
{
    if (!d || !d->sdpa_ok)
        return 0;
    sdpa_plan *p = NULL;
    for (int i = 0; i < d->n_sdpa && !p; i++)
        if (d->sdpa[i].Sq == Sq && d->sdpa[i].Skv == Skv && d->sdpa[i].H == H &&
            d->sdpa[i].hd == hd)
            p = &d->sdpa[i];
    if (!p) {
        if (d->n_sdpa == SDPA_PLANS) { /* forget the oldest shape */
            destroy(&d->sdpa[0].plan);
            d->evicted++;
            memmove(d->sdpa, d->sdpa + 1, (SDPA_PLANS - 1) * sizeof *d->sdpa);
            d->n_sdpa--;
        }
        p = &d->sdpa[d->n_sdpa++];
        memset(p, 0, sizeof *p);
        p->Sq = Sq, p->Skv = Skv, p->H = H, p->hd = hd;
        sdpa_build(d, p);
    }
    if (!p->plan)
        return 0;
    void *w = p->ws ? ws(ud, (size_t)p->ws) : NULL;
    if (p->ws && !w)
        return 0;
    int64_t uids[5] = {UID_Q, UID_K, UID_V, UID_O, UID_SCALE};
    void *ptrs[5] = {(void *)q, (void *)k, (void *)v, out, &scale};
    cudnnBackendDescriptor_t pack = NULL;
    int done = ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack)) &&
               ok(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS,
                                           CUDNN_TYPE_INT64, 5, uids)) &&
               ok(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS,
                                           CUDNN_TYPE_VOID_PTR, 5, ptrs)) &&
               ok(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE,
                                           CUDNN_TYPE_VOID_PTR, 1, &w)) &&
               ok(cudnnBackendFinalize(pack)) && ok(cudnnBackendExecute(d->h, p->plan, pack));
    destroy(&pack);
    if (!done)
        destroy(&p->plan); /* it will not work later either: our kernel from now on */
    return done;
}

#endif /* ZT_SDPA_CUDNN */

unsigned zt_dnn_evictions(const zt_dnn *d)
{
    return d ? d->evicted : 0;
}

/* ---- convolutions -------------------------------------------------------- */

int zt_dnn_conv3x3(zt_dnn *d, void *y, const void *x, const void *w, int64_t Ci, int64_t Co,
                   int64_t H, int64_t W, zt_dnn_ws_fn ws, void *ud)
{
    if (!d || H < 1 || W < 1 || Ci > INT32_MAX || Co > INT32_MAX || H > INT32_MAX || W > INT32_MAX)
        return 0;
    if (!ok(cudnnSetTensor4dDescriptor(d->cx, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 1, (int)Ci,
                                       (int)H, (int)W)) ||
        !ok(cudnnSetTensor4dDescriptor(d->cy, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 1, (int)Co,
                                       (int)H, (int)W)) ||
        !ok(cudnnSetFilter4dDescriptor(d->cw, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_NHWC, (int)Co,
                                       (int)Ci, 3, 3)))
        return 0;
    conv_plan *p = NULL;
    for (int i = 0; i < d->n_conv && !p; i++)
        if (d->convs[i].Ci == Ci && d->convs[i].Co == Co && d->convs[i].H == H &&
            d->convs[i].W == W)
            p = &d->convs[i];
    if (!p) {
        if (d->n_conv == CONV_PLANS) { /* forget the oldest shape */
            memmove(d->convs, d->convs + 1, (CONV_PLANS - 1) * sizeof *d->convs);
            d->n_conv--;
        }
        p = &d->convs[d->n_conv++];
        memset(p, 0, sizeof *p);
        p->Ci = Ci, p->Co = Co, p->H = H, p->W = W;
        /* cuDNN's heuristics, not timed trials: the same shape gets the same
         * algorithm in every run, so a seed gives the same pixels every
         * time; and only deterministic algorithms */
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int got = 0;
        if (ok(cudnnGetConvolutionForwardAlgorithm_v7(d->h, d->cx, d->cw, d->conv, d->cy,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got,
                                                      perf)))
            for (int i = 0; i < got && !p->ok; i++) /* best first */
                if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= CONV_WS_MAX &&
                    perf[i].determinism == CUDNN_DETERMINISTIC) {
                    p->algo = perf[i].algo;
                    p->ws = perf[i].memory;
                    p->ok = 1;
                }
        cudaGetLastError(); /* a failed query must not leave a CUDA error behind */
    }
    if (!p->ok)
        return 0;
    void *wsp = p->ws ? ws(ud, p->ws) : NULL;
    if (p->ws && !wsp)
        return 0;
    const float one = 1.0f, zero = 0.0f;
    if (ok(cudnnConvolutionForward(d->h, &one, d->cx, x, d->cw, w, d->conv, p->algo, wsp, p->ws,
                                   &zero, d->cy, y)))
        return 1;
    p->ok = 0; /* it will not work later either */
    return 0;
}

#elif defined(ZT_HAVE_CUDA) /* CUDA without cuDNN: always our own kernels */

zt_dnn *zt_dnn_new(void *stream)
{
    (void)stream;
    return NULL;
}

void zt_dnn_free(zt_dnn *d)
{
    (void)d;
}

unsigned zt_dnn_evictions(const zt_dnn *d)
{
    (void)d;
    return 0;
}

int zt_dnn_conv3x3(zt_dnn *d, void *y, const void *x, const void *w, int64_t Ci, int64_t Co,
                   int64_t H, int64_t W, zt_dnn_ws_fn ws, void *ud)
{
    (void)d, (void)y, (void)x, (void)w, (void)Ci, (void)Co, (void)H, (void)W, (void)ws, (void)ud;
    return 0;
}

#endif

#if defined(ZT_HAVE_CUDA) && !defined(ZT_SDPA_CUDNN)
/* No cuDNN, or one without the SDPA operation: always our attention kernel. */
int zt_dnn_sdpa(zt_dnn *d, void *out, const void *q, const void *k, const void *v, int64_t Sq,
                int64_t Skv, int64_t H, int64_t hd, float scale, zt_dnn_ws_fn ws, void *ud)
{
    (void)d, (void)out, (void)q, (void)k, (void)v, (void)Sq, (void)Skv, (void)H, (void)hd;
    (void)scale, (void)ws, (void)ud;
    return 0;
}
#endif

#ifndef ZT_HAVE_CUDA
typedef int zt_cuda_dnn_unused; /* built without CUDA: nothing here */
#endif
