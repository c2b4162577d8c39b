/*
 * cuda_sdpa.c - cuDNN fused attention for the CUDA backend (see
 * cuda_sdpa.h), through cuDNN's backend (graph) API: one SDPA forward
 * operation in an operation graph, an engine from heuristics mode A, an
 * execution plan kept per shape, a variant pack per call.
 */
#include "cuda_sdpa.h"

#if defined(ZT_HAVE_CUDA) && defined(ZT_HAVE_CUDNN)
#include <cudnn.h>
#if CUDNN_VERSION >= 91301
#define ZT_SDPA_CUDNN 1 /* the SDPA operation exists in this cuDNN */
#endif
#endif

#ifdef ZT_SDPA_CUDNN

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SDPA_PLANS 16
#define SDPA_CFGS 8

/* uids of the variant pack */
enum { UID_Q = 1, UID_K, UID_V, UID_O, UID_SCALE };

typedef struct sdpa_plan {
    int64_t Sq, Skv, H, hd;
    cudnnBackendDescriptor_t plan; /* NULL: cuDNN has no engine for it */
    int64_t ws;
} sdpa_plan;

struct zt_sdpa {
    cudnnHandle_t h;
    sdpa_plan plans[SDPA_PLANS];
    int n;
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
static void build(zt_sdpa *s, sdpa_plan *p)
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
                                     &s->h)) ||
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
                                        1, &s->h)) &&
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

zt_sdpa *zt_sdpa_new(void *stream)
{
    const char *env = getenv("ZIMT_CUDNN");
    if ((env && !strcmp(env, "0")) || cudnnGetVersion() < 91301)
        return NULL;
    zt_sdpa *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (!ok(cudnnCreate(&s->h))) {
        free(s);
        return NULL;
    }
    if (!ok(cudnnSetStream(s->h, (cudaStream_t)stream))) {
        zt_sdpa_free(s);
        return NULL;
    }
    return s;
}

void zt_sdpa_free(zt_sdpa *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        destroy(&s->plans[i].plan);
    if (s->h)
        cudnnDestroy(s->h);
    free(s);
}

int zt_sdpa_run(zt_sdpa *s, void *out, const void *q, const void *k, const void *v, int64_t Sq,
                int64_t Skv, int64_t H, int64_t hd, float scale, zt_sdpa_ws_fn ws, void *ud)
{
    if (!s)
        return 0;
    sdpa_plan *p = NULL;
    for (int i = 0; i < s->n && !p; i++)
        if (s->plans[i].Sq == Sq && s->plans[i].Skv == Skv && s->plans[i].H == H &&
            s->plans[i].hd == hd)
            p = &s->plans[i];
    if (!p) {
        if (s->n == SDPA_PLANS) { /* forget the oldest shape */
            destroy(&s->plans[0].plan);
            memmove(s->plans, s->plans + 1, (SDPA_PLANS - 1) * sizeof *s->plans);
            s->n--;
        }
        p = &s->plans[s->n++];
        memset(p, 0, sizeof *p);
        p->Sq = Sq, p->Skv = Skv, p->H = H, p->hd = hd;
        build(s, p);
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
               ok(cudnnBackendFinalize(pack)) && ok(cudnnBackendExecute(s->h, p->plan, pack));
    destroy(&pack);
    if (!done)
        destroy(&p->plan); /* it will not work later either: our kernel from now on */
    return done;
}

#elif defined(ZT_HAVE_CUDA) /* no cuDNN, or one without SDPA: always our kernel */

zt_sdpa *zt_sdpa_new(void *stream)
{
    (void)stream;
    return NULL;
}

void zt_sdpa_free(zt_sdpa *s)
{
    (void)s;
}

int zt_sdpa_run(zt_sdpa *s, void *out, const void *q, const void *k, const void *v, int64_t Sq,
                int64_t Skv, int64_t H, int64_t hd, float scale, zt_sdpa_ws_fn ws, void *ud)
{
    (void)s, (void)out, (void)q, (void)k, (void)v, (void)Sq, (void)Skv, (void)H, (void)hd;
    (void)scale, (void)ws, (void)ud;
    return 0;
}

#else
typedef int zt_cuda_sdpa_unused; /* built without CUDA: nothing here */
#endif
