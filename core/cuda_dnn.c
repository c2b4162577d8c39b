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
    int fp8; /* the FP8 graph (zt_dnn_sdpa_fp8), else the BF16 SDPA operation */
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
    int fp8_ok;  /* and FP8 attention graphs run here (a Hopper or later GPU) */
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
    int dev = 0, major = 0;
    d->fp8_ok =
        d->sdpa_ok && cudaGetDevice(&dev) == cudaSuccess &&
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
        major >= 9;
    cudaGetLastError();
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

enum { T_PLAIN, T_BY_VALUE, T_VIRTUAL };

/* A finalised tensor descriptor; NULL on failure. kind: T_BY_VALUE for a
 * host scalar given in the variant pack, T_VIRTUAL for a value that stays
 * inside the fused kernel. */
static cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t dt, const int64_t dim[4],
                                       const int64_t str[4], int kind)
{
    cudnnBackendDescriptor_t d = NULL;
    /* a scalar (a scale) need only be a float's alignment */
    int64_t align = dim[0] * dim[1] * dim[2] * dim[3] == 1 ? 4 : 16;
    bool yes = true;
    if (!ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &d)))
        return NULL;
    if (!ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)) ||
        !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1,
                                     &dt)) ||
        !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dim)) ||
        !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, str)) ||
        !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1,
                                     &align)) ||
        (kind == T_BY_VALUE && !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_IS_BY_VALUE,
                                                            CUDNN_TYPE_BOOLEAN, 1, &yes))) ||
        (kind == T_VIRTUAL && !ok(cudnnBackendSetAttribute(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL,
                                                           CUDNN_TYPE_BOOLEAN, 1, &yes))) ||
        !ok(cudnnBackendFinalize(d)))
        destroy(&d);
    return d;
}

static int set_desc(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a,
                    cudnnBackendDescriptor_t v)
{
    return ok(cudnnBackendSetAttribute(d, a, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v));
}

/* p->plan from an operation graph of ops[0..n): the first of heuristics
 * mode A's engines that finalises; left NULL when none does. */
static void plan_from_ops(zt_dnn *d, sdpa_plan *p, cudnnBackendDescriptor_t *ops, int n)
{
    cudnnBackendDescriptor_t graph = NULL, heur = NULL, cfg[SDPA_CFGS] = {0};
    if (!ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &graph)) ||
        !ok(cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, n, ops)) ||
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
        int64_t ws = 0, m = 0;
        if (ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan)) &&
            ok(cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE,
                                        1, &d->h)) &&
            set_desc(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg[i]) &&
            ok(cudnnBackendFinalize(plan)) &&
            ok(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                        CUDNN_TYPE_INT64, 1, &m, &ws)) &&
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
}

/* The descriptors a graph is built from, destroyed together. */
typedef struct desc_list {
    cudnnBackendDescriptor_t d[64];
    int n, failed;
} desc_list;

static cudnnBackendDescriptor_t keep(desc_list *l, cudnnBackendDescriptor_t d)
{
    if (!d || l->n == (int)(sizeof l->d / sizeof l->d[0])) {
        destroy(&d);
        l->failed = 1;
        return NULL;
    }
    return l->d[l->n++] = d;
}

static void drop_all(desc_list *l)
{
    for (int i = 0; i < l->n; i++)
        destroy(&l->d[i]);
    l->n = 0;
}

/* ---- FP8 attention: a graph of matrix products, pointwise ops and
 * reductions that cuDNN's fused attention engine recognises as a whole */

/* uids of the FP8 graph's variant pack, after UID_SCALE */
enum { UID_DQ = UID_SCALE + 1, UID_DK, UID_DV, UID_DS, UID_SS, UID_SO, UID_AMAX_S, UID_AMAX_O };
#define FP8_UIDS 13

/* A finalised descriptor of type t with F32 arithmetic under prec and, when
 * mode is given, mode under mode_attr (of type mode_type). */
static cudnnBackendDescriptor_t inner(desc_list *l, cudnnBackendDescriptorType_t t,
                                      cudnnBackendAttributeName_t mode_attr,
                                      cudnnBackendAttributeType_t mode_type, const void *mode,
                                      cudnnBackendAttributeName_t prec)
{
    cudnnBackendDescriptor_t d = NULL;
    cudnnDataType_t f = CUDNN_DATA_FLOAT;
    if (l->failed || !ok(cudnnBackendCreateDescriptor(t, &d)) || !keep(l, d) ||
        (mode && !ok(cudnnBackendSetAttribute(d, mode_attr, mode_type, 1, mode))) ||
        !ok(cudnnBackendSetAttribute(d, prec, CUDNN_TYPE_DATA_TYPE, 1, &f)) ||
        !ok(cudnnBackendFinalize(d))) {
        l->failed = 1;
        return NULL;
    }
    return d;
}

/* A finalised operation of type t with descriptors ds[i] under attrs[i]
 * (a NULL one left out). */
static cudnnBackendDescriptor_t operation(desc_list *l, cudnnBackendDescriptorType_t t, int n,
                                          const cudnnBackendAttributeName_t *attrs,
                                          const cudnnBackendDescriptor_t *ds)
{
    cudnnBackendDescriptor_t op = NULL;
    int good = !l->failed && ok(cudnnBackendCreateDescriptor(t, &op)) && keep(l, op);
    for (int i = 0; good && i < n; i++)
        good = !ds[i] || set_desc(op, attrs[i], ds[i]);
    if (!good || !ok(cudnnBackendFinalize(op))) {
        l->failed = 1;
        return NULL;
    }
    return op;
}

/* Builds the plan for p's shape: p->plan stays NULL when cuDNN offers no
 * engine that finalises. */
static void sdpa_build(zt_dnn *d, sdpa_plan *p)
{
    const int64_t H = p->H, hd = p->hd;
    const int64_t dq[4] = {1, H, p->Sq, hd}, sq[4] = {p->Sq * H * hd, hd, H * hd, 1};
    const int64_t dk[4] = {1, H, p->Skv, hd}, sk[4] = {p->Skv * H * hd, hd, H * hd, 1};
    const int64_t one[4] = {1, 1, 1, 1};
    desc_list l = {0};
    cudnnBackendDescriptor_t tq = keep(&l, tensor(UID_Q, CUDNN_DATA_BFLOAT16, dq, sq, T_PLAIN));
    cudnnBackendDescriptor_t tk = keep(&l, tensor(UID_K, CUDNN_DATA_BFLOAT16, dk, sk, T_PLAIN));
    cudnnBackendDescriptor_t tv = keep(&l, tensor(UID_V, CUDNN_DATA_BFLOAT16, dk, sk, T_PLAIN));
    cudnnBackendDescriptor_t to = keep(&l, tensor(UID_O, CUDNN_DATA_BFLOAT16, dq, sq, T_PLAIN));
    cudnnBackendDescriptor_t ts =
        keep(&l, tensor(UID_SCALE, CUDNN_DATA_FLOAT, one, one, T_BY_VALUE));
    const cudnnBackendAttributeName_t at[5] = {
        CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC,
        CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC,
        CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC};
    const cudnnBackendDescriptor_t ds[5] = {tq, tk, tv, to, ts};
    cudnnBackendDescriptor_t op =
        operation(&l, CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, 5, at, ds);
    if (op)
        plan_from_ops(d, p, &op, 1);
    drop_all(&l);
}

static cudnnBackendDescriptor_t pw_op(desc_list *l, cudnnPointwiseMode_t mode,
                                      cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                                      cudnnBackendDescriptor_t y)
{
    const cudnnBackendAttributeName_t at[4] = {
        CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_ATTR_OPERATION_POINTWISE_XDESC,
        CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_ATTR_OPERATION_POINTWISE_YDESC};
    const cudnnBackendDescriptor_t ds[4] = {
        inner(l, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, CUDNN_ATTR_POINTWISE_MODE,
              CUDNN_TYPE_POINTWISE_MODE, &mode, CUDNN_ATTR_POINTWISE_MATH_PREC),
        x, b, y};
    return operation(l, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, 4, at, ds);
}

static cudnnBackendDescriptor_t red_op(desc_list *l, cudnnReduceTensorOp_t mode,
                                       cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y)
{
    const cudnnBackendAttributeName_t at[3] = {CUDNN_ATTR_OPERATION_REDUCTION_DESC,
                                               CUDNN_ATTR_OPERATION_REDUCTION_XDESC,
                                               CUDNN_ATTR_OPERATION_REDUCTION_YDESC};
    const cudnnBackendDescriptor_t ds[3] = {
        inner(l, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, CUDNN_ATTR_REDUCTION_OPERATOR,
              CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, &mode, CUDNN_ATTR_REDUCTION_COMP_TYPE),
        x, y};
    return operation(l, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, 3, at, ds);
}

static cudnnBackendDescriptor_t mm_op(desc_list *l, cudnnBackendDescriptor_t a,
                                      cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t c)
{
    const cudnnBackendAttributeName_t at[4] = {
        CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_ATTR_OPERATION_MATMUL_ADESC,
        CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_ATTR_OPERATION_MATMUL_CDESC};
    const cudnnBackendDescriptor_t ds[4] = {inner(l, CUDNN_BACKEND_MATMUL_DESCRIPTOR,
                                                  CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE,
                                                  NULL, CUDNN_ATTR_MATMUL_COMP_TYPE),
                                            a, b, c};
    return operation(l, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, 4, at, ds);
}

/*
 * The FP8 graph, as the fused engine expects it (S = the scores
 * [1, H, Sq, Skv], R = a row statistic [1, H, Sq, 1], all F32 and virtual):
 *   S = Q . K^T * scale * descale_q * descale_k; softmax over keys with
 *   its max, sum and log-sum-exp; amax_s = max|P|; P8 = E4M3(P * 448);
 *   O' = P8 . V * (1 / 448) * descale_v; amax_o = max|O'|; O = E4M3(O' * (1 / v.s)).
 * K is given as K^T: dims [1, H, hd, Skv] over the same rows.
 */
static void sdpa_fp8_build(zt_dnn *d, sdpa_plan *p)
{
    const int64_t H = p->H, hd = p->hd, Sq = p->Sq, Skv = p->Skv;
    const int64_t dq[4] = {1, H, Sq, hd}, sq[4] = {Sq * H * hd, hd, H * hd, 1};
    const int64_t dv[4] = {1, H, Skv, hd}, sv[4] = {Skv * H * hd, hd, H * hd, 1};
    const int64_t dkt[4] = {1, H, hd, Skv}, skt[4] = {Skv * H * hd, hd, 1, H * hd};
    const int64_t ds[4] = {1, H, Sq, Skv}, ss[4] = {H * Sq * Skv, Sq * Skv, Skv, 1};
    const int64_t dr[4] = {1, H, Sq, 1}, sr[4] = {H * Sq, Sq, 1, 1};
    const int64_t one[4] = {1, 1, 1, 1};
    const cudnnDataType_t E = CUDNN_DATA_FP8_E4M3, F = CUDNN_DATA_FLOAT;
    desc_list l = {0};
    cudnnBackendDescriptor_t q = keep(&l, tensor(UID_Q, E, dq, sq, T_PLAIN));
    cudnnBackendDescriptor_t kt = keep(&l, tensor(UID_K, E, dkt, skt, T_PLAIN));
    cudnnBackendDescriptor_t v = keep(&l, tensor(UID_V, E, dv, sv, T_PLAIN));
    cudnnBackendDescriptor_t o = keep(&l, tensor(UID_O, E, dq, sq, T_PLAIN));
    cudnnBackendDescriptor_t sc = keep(&l, tensor(UID_SCALE, F, one, one, T_BY_VALUE));
    cudnnBackendDescriptor_t c[UID_AMAX_O - UID_DQ + 1]; /* descales, scales, amaxes */
    for (int i = 0; i <= UID_AMAX_O - UID_DQ; i++)
        c[i] = keep(&l, tensor(UID_DQ + i, F, one, one, T_PLAIN));
    /* the virtual tensors, uids from 100 */
    const int64_t *vd[15] = {ds, ds, ds, ds, dr, ds, ds, dr, dr, dr, ds, ds, dq, dq, dq};
    const int64_t *vs[15] = {ss, ss, ss, ss, sr, ss, ss, sr, sr, sr, ss, ss, sq, sq, sq};
    cudnnBackendDescriptor_t t[15];
    for (int i = 0; i < 15; i++)
        t[i] = keep(&l, tensor(100 + i, i == 11 ? E : F, vd[i], vs[i], T_VIRTUAL));
    if (!l.failed) {
        cudnnBackendDescriptor_t ops[18] = {
            mm_op(&l, q, kt, t[0]),
            pw_op(&l, CUDNN_POINTWISE_MUL, t[0], sc, t[1]),
            pw_op(&l, CUDNN_POINTWISE_MUL, t[1], c[0], t[2]), /* descale q */
            pw_op(&l, CUDNN_POINTWISE_MUL, t[2], c[1], t[3]), /* descale k */
            red_op(&l, CUDNN_REDUCE_TENSOR_MAX, t[3], t[4]),
            pw_op(&l, CUDNN_POINTWISE_SUB, t[3], t[4], t[5]),
            pw_op(&l, CUDNN_POINTWISE_EXP, t[5], NULL, t[6]),
            red_op(&l, CUDNN_REDUCE_TENSOR_ADD, t[6], t[7]),
            pw_op(&l, CUDNN_POINTWISE_LOG, t[7], NULL, t[8]),
            pw_op(&l, CUDNN_POINTWISE_ADD, t[4], t[8], t[9]), /* log-sum-exp */
            pw_op(&l, CUDNN_POINTWISE_DIV, t[6], t[7], t[10]),
            red_op(&l, CUDNN_REDUCE_TENSOR_AMAX, t[10], c[6]),
            pw_op(&l, CUDNN_POINTWISE_MUL, t[10], c[4], t[11]), /* scale s: to E4M3 */
            mm_op(&l, t[11], v, t[12]),
            pw_op(&l, CUDNN_POINTWISE_MUL, t[12], c[3], t[13]), /* descale s */
            pw_op(&l, CUDNN_POINTWISE_MUL, t[13], c[2], t[14]), /* descale v */
            pw_op(&l, CUDNN_POINTWISE_MUL, t[14], c[5], o),     /* scale o */
            red_op(&l, CUDNN_REDUCE_TENSOR_AMAX, t[14], c[7]),
        };
        if (!l.failed)
            plan_from_ops(d, p, ops, 18);
    }
    drop_all(&l);
}

/* The kept plan for a shape and kind, built on first use; NULL when cuDNN
 * has none. */
static sdpa_plan *sdpa_plan_for(zt_dnn *d, int64_t Sq, int64_t Skv, int64_t H, int64_t hd, int fp8)
{
    sdpa_plan *p = NULL;
    for (int i = 0; i < d->n_sdpa && !p; i++)
        if (d->sdpa[i].Sq == Sq && d->sdpa[i].Skv == Skv && d->sdpa[i].H == H &&
            d->sdpa[i].hd == hd && d->sdpa[i].fp8 == fp8)
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
        p->Sq = Sq, p->Skv = Skv, p->H = H, p->hd = hd, p->fp8 = fp8;
        if (fp8)
            sdpa_fp8_build(d, p);
        else
            sdpa_build(d, p);
    }
    return p->plan ? p : NULL;
}

/* Runs p with n pointers for uids 1 .. n; on failure the plan is let go
 * (it will not work later either: the caller's fallback from now on). */
static int sdpa_run(zt_dnn *d, sdpa_plan *p, int n, void **ptrs, zt_dnn_ws_fn ws, void *ud)
{
    void *w = p->ws ? ws(ud, (size_t)p->ws) : NULL;
    if (p->ws && !w)
        return 0;
    int64_t uids[FP8_UIDS];
    for (int i = 0; i < n; i++)
        uids[i] = i + 1;
    cudnnBackendDescriptor_t pack = NULL;
    int done = ok(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack)) &&
               ok(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS,
                                           CUDNN_TYPE_INT64, n, uids)) &&
               ok(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS,
                                           CUDNN_TYPE_VOID_PTR, n, ptrs)) &&
               ok(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE,
                                           CUDNN_TYPE_VOID_PTR, 1, &w)) &&
               ok(cudnnBackendFinalize(pack)) && ok(cudnnBackendExecute(d->h, p->plan, pack));
    destroy(&pack);
    if (!done)
        destroy(&p->plan);
    return done;
}

int zt_dnn_sdpa(zt_dnn *d, void *out, const void *q, const void *k, const void *v, int64_t Sq,
                int64_t Skv, int64_t H, int64_t hd, float scale, zt_dnn_ws_fn ws, void *ud)
{
    if (!d || !d->sdpa_ok)
        return 0;
    sdpa_plan *p = sdpa_plan_for(d, Sq, Skv, H, hd, 0);
    void *ptrs[5] = {(void *)q, (void *)k, (void *)v, out, &scale};
    return p && sdpa_run(d, p, 5, ptrs, ws, ud);
}

int zt_dnn_has_fp8_attention(const zt_dnn *d)
{
    return d && d->fp8_ok;
}

int zt_dnn_sdpa_fp8(zt_dnn *d, void *out, const void *q, const void *k, const void *v,
                    const float *qs, const float *ks, const float *vs, const float *c, float *amax,
                    int64_t Sq, int64_t Skv, int64_t H, int64_t hd, float scale, zt_dnn_ws_fn ws,
                    void *ud)
{
    if (!d || !d->fp8_ok)
        return 0;
    sdpa_plan *p = sdpa_plan_for(d, Sq, Skv, H, hd, 1);
    /* uids 1 .. 13: Q K V O scale, descale q k v s, scale s o, amax s o */
    void *ptrs[FP8_UIDS] = {(void *)q,       (void *)k,  (void *)v,  out,       &scale,
                            (void *)qs,      (void *)ks, (void *)vs, (void *)c, (void *)(c + 1),
                            (void *)(c + 2), amax,       amax + 1};
    return p && sdpa_run(d, p, FP8_UIDS, ptrs, ws, ud);
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

int zt_dnn_has_fp8_attention(const zt_dnn *d)
{
    (void)d;
    return 0;
}

int zt_dnn_sdpa_fp8(zt_dnn *d, void *out, const void *q, const void *k, const void *v,
                    const float *qs, const float *ks, const float *vs, const float *c, float *amax,
                    int64_t Sq, int64_t Skv, int64_t H, int64_t hd, float scale, zt_dnn_ws_fn ws,
                    void *ud)
{
    (void)d, (void)out, (void)q, (void)k, (void)v, (void)qs, (void)ks, (void)vs, (void)c;
    (void)amax, (void)Sq, (void)Skv, (void)H, (void)hd, (void)scale, (void)ws, (void)ud;
    return 0;
}
#endif

#ifndef ZT_HAVE_CUDA
typedef int zt_cuda_dnn_unused; /* built without CUDA: nothing here */
#endif
