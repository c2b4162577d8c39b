/*
 * backend.c - the backend-independent half of backend.h: argument checking
 * for every zt_op_* wrapper, the sticky error, memory helpers and arenas.
 *
 * Each wrapper checks what backend.h documents (non-NULL tensors with data,
 * float dtypes, consistent shapes, no overlap where an op cannot work in
 * place) before calling the vtable, so backends may trust their arguments.
 * A violation records a sticky error naming the op and the shapes; while an
 * error is pending every op is skipped, and zt_backend_sync() reports it.
 */
#include "backend.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sticky error ---------------------------------------------------- */

void zt_backend_set_error(zt_backend *be, zt_status s, const char *fmt, ...)
{
    if (!be || be->error.code != ZT_OK)
        return; /* the first error is the one worth reporting */
    va_list ap;
    va_start(ap, fmt);
    zt_vfail(&be->error, s, fmt, ap);
    va_end(ap);
}

/* 1 when ops must be skipped: no backend, an error already pending, or a
 * stop asked for on a backend that runs ops as they come (the answer is
 * then recorded as the pending error). */
static int pending(zt_backend *be)
{
    if (!be || !be->vt || be->error.code != ZT_OK)
        return 1;
    if (be->stop && be->vt->ops_immediate && be->stop(be->stop_ud)) {
        zt_backend_set_error(be, ZT_ERR_CANCELLED, "cancelled");
        return 1;
    }
    return 0;
}

static int unsupported(zt_backend *be, const char *op)
{
    zt_backend_set_error(be, ZT_ERR_UNSUPPORTED, "op %s not implemented by backend %s", op,
                         be->vt->name ? be->vt->name : "?");
    return 0;
}

/* Evaluates to 1 when the vtable has the op (telling a profiler its name),
 * else records the error. */
#define HAVE_OP(be, op) ((be)->vt->op ? (mark_op((be), #op), 1) : unsupported((be), #op))

static void mark_op(zt_backend *be, const char *op)
{
    if (be->vt->mark)
        be->vt->mark(be, op, 0);
}

zt_status zt_backend_profile(zt_backend *be, int on, zt_err *err)
{
    if (!be || !be->vt || !be->vt->profile)
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "backend %s has no op profile",
                       be && be->vt ? be->vt->name : "?");
    zt_status st = be->vt->profile(be, on, err);
    if (st == ZT_OK)
        be->profiling = on;
    return st;
}

void zt_backend_phase(zt_backend *be, const char *phase)
{
    if (be && be->vt && be->vt->mark)
        be->vt->mark(be, phase, 1);
}

int zt_backend_profile_read(zt_backend *be, zt_prof_row *rows, int max)
{
    if (!be || !be->vt || !be->vt->profile_read || max <= 0)
        return 0;
    be->profiling = 0; /* reading stops the recording */
    return be->vt->profile_read(be, rows, max);
}

/* ---- argument checks (each records the error and returns 0) ---------- */

static int is_float(zt_dtype t)
{
    return t == ZT_F32 || t == ZT_BF16 || t == ZT_F16;
}

/* Records "op: y [2, 3], x [4] and w [5]: why" for up to three named
 * tensors; unused names are NULL. */
static void bad3(zt_backend *be, zt_status s, const char *op, const char *why,
                 const char *n1, const zt_tensor *t1, const char *n2, const zt_tensor *t2,
                 const char *n3, const zt_tensor *t3)
{
    const char *names[3] = {n1, n2, n3};
    const zt_tensor *ts[3] = {t1, t2, t3};
    int n = n3 ? 3 : n2 ? 2 : 1;
    char msg[400];
    size_t off = (size_t)snprintf(msg, sizeof msg, "%s:", op);
    for (int i = 0; i < n && off < sizeof msg; i++) {
        char sh[96];
        const char *sep = i == 0 ? " " : i == n - 1 ? " and " : ", ";
        off += (size_t)snprintf(msg + off, sizeof msg - off, "%s%s %s", sep, names[i],
                                ts[i] ? zt_shape_str(ts[i], sh, sizeof sh) : "(null)");
    }
    zt_backend_set_error(be, s, "%s: %s", msg, why);
}

static void bad1(zt_backend *be, zt_status s, const char *op, const char *why,
                 const char *n1, const zt_tensor *t1)
{
    bad3(be, s, op, why, n1, t1, NULL, NULL, NULL, NULL);
}

static void bad2(zt_backend *be, zt_status s, const char *op, const char *why,
                 const char *n1, const zt_tensor *t1, const char *n2, const zt_tensor *t2)
{
    bad3(be, s, op, why, n1, t1, n2, t2, NULL, NULL);
}

/* A tensor an op reads or writes: present, 0..4 dims, data when non-empty. */
static int tensor_ok(zt_backend *be, const char *op, const char *name, const zt_tensor *t)
{
    if (!t) {
        zt_backend_set_error(be, ZT_ERR_INVALID, "%s: %s is NULL", op, name);
        return 0;
    }
    if (t->ndim < 0 || t->ndim > ZT_MAX_DIMS) {
        zt_backend_set_error(be, ZT_ERR_SHAPE, "%s: %s has %d dims", op, name, t->ndim);
        return 0;
    }
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) {
            bad1(be, ZT_ERR_SHAPE, op, "negative dimension", name, t);
            return 0;
        }
    }
    if (!t->data && zt_tensor_numel(t) > 0) {
        zt_backend_set_error(be, ZT_ERR_INVALID, "%s: %s has no data", op, name);
        return 0;
    }
    return 1;
}

static int float_ok(zt_backend *be, const char *op, const char *name, const zt_tensor *t)
{
    if (!tensor_ok(be, op, name, t))
        return 0;
    if (!is_float(t->dtype)) {
        zt_backend_set_error(be, ZT_ERR_DTYPE, "%s: %s has dtype %s, want F32, BF16 or F16",
                             op, name, zt_dtype_name(t->dtype));
        return 0;
    }
    return 1;
}

static int64_t last_dim(const zt_tensor *t)
{
    return t->ndim > 0 ? t->shape[t->ndim - 1] : 1;
}

static int overlap(const zt_tensor *a, const zt_tensor *b)
{
    if (!a || !b || !a->data || !b->data)
        return 0;
    uintptr_t pa = (uintptr_t)a->data, pb = (uintptr_t)b->data;
    size_t na = zt_tensor_nbytes(a), nb = zt_tensor_nbytes(b);
    if (!na || !nb)
        return 0;
    return pa < pb + nb && pb < pa + na;
}

/* y must not share any memory with x. */
static int apart(zt_backend *be, const char *op, const char *yn, const zt_tensor *y,
                 const char *xn, const zt_tensor *x)
{
    if (!overlap(y, x))
        return 1;
    zt_backend_set_error(be, ZT_ERR_INVALID, "%s: %s and %s overlap; the op cannot run in place",
                         op, yn, xn);
    return 0;
}

/* y may be exactly x (same address, dtype and size: in place) or apart. */
static int same_or_apart(zt_backend *be, const char *op, const char *yn, const zt_tensor *y,
                         const char *xn, const zt_tensor *x)
{
    if (!overlap(y, x))
        return 1;
    if (y->data == x->data && y->dtype == x->dtype &&
        zt_tensor_nbytes(y) == zt_tensor_nbytes(x))
        return 1;
    zt_backend_set_error(be, ZT_ERR_INVALID,
                         "%s: %s and %s partly overlap or differ in dtype; only exact "
                         "in-place use is allowed",
                         op, yn, xn);
    return 0;
}

/* y and x hold the same number of elements. */
static int same_numel(zt_backend *be, const char *op, const char *yn, const zt_tensor *y,
                      const char *xn, const zt_tensor *x)
{
    if (zt_tensor_numel(y) == zt_tensor_numel(x))
        return 1;
    bad2(be, ZT_ERR_SHAPE, op, "element counts differ", yn, y, xn, x);
    return 0;
}

/* Row-wise ops: same numel and same last dim. */
static int same_rows(zt_backend *be, const char *op, const char *yn, const zt_tensor *y,
                     const char *xn, const zt_tensor *x)
{
    if (zt_tensor_numel(y) == zt_tensor_numel(x) && last_dim(y) == last_dim(x))
        return 1;
    bad2(be, ZT_ERR_SHAPE, op, "shapes differ", yn, y, xn, x);
    return 0;
}

/* An optional per-channel vector: NULL or exactly C elements. */
static int vec_ok(zt_backend *be, const char *op, const char *vn, const zt_tensor *v,
                  const char *xn, const zt_tensor *x, int64_t c)
{
    if (!v)
        return 1;
    if (!float_ok(be, op, vn, v))
        return 0;
    if (zt_tensor_numel(v) == c)
        return 1;
    char why[80];
    snprintf(why, sizeof why, "%s must have %lld elements", vn, (long long)c);
    bad2(be, ZT_ERR_SHAPE, op, why, xn, x, vn, v);
    return 0;
}

static int ndim_is(zt_backend *be, const char *op, const char *name, const zt_tensor *t,
                   int ndim)
{
    if (t->ndim == ndim)
        return 1;
    char why[48];
    snprintf(why, sizeof why, "%s must have %d dims", name, ndim);
    bad1(be, ZT_ERR_SHAPE, op, why, name, t);
    return 0;
}

/* ---- ops --------------------------------------------------------------- */

void zt_op_matmul(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                  const zt_tensor *bias)
{
    const char *op = "matmul";
    if (pending(be) || !HAVE_OP(be, matmul))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) || !float_ok(be, op, "w", w) ||
        !ndim_is(be, op, "w", w, 2))
        return;
    /* w [N, K]; x [..., K] viewed as [M, K]; y [..., N] viewed as [M, N] */
    int64_t n = w->shape[0], k = w->shape[1];
    if (last_dim(x) != k) {
        bad2(be, ZT_ERR_SHAPE, op, "K differs", "x", x, "w", w);
        return;
    }
    if (last_dim(y) != n) {
        bad2(be, ZT_ERR_SHAPE, op, "N differs", "y", y, "w", w);
        return;
    }
    int64_t m = k ? zt_tensor_numel(x) / k : 0;
    if ((n ? zt_tensor_numel(y) / n : 0) != m) {
        bad2(be, ZT_ERR_SHAPE, op, "row counts differ", "y", y, "x", x);
        return;
    }
    if (!vec_ok(be, op, "bias", bias, "w", w, n))
        return;
    if (!apart(be, op, "y", y, "x", x) || !apart(be, op, "y", y, "w", w) ||
        !apart(be, op, "y", y, "bias", bias))
        return;
    be->vt->matmul(be, y, x, w, bias);
}

/* m's parts are there and of E4M3 with F32 scales; qn, sn [32] get their names. */
static int qparts_ok(zt_backend *be, const char *op, const char *name, const zt_qmat *m, char *qn,
                     char *sn)
{
    snprintf(qn, 32, "%s.q", name);
    snprintf(sn, 32, "%s.s", name);
    if (!m) {
        zt_backend_set_error(be, ZT_ERR_INVALID, "%s: %s is NULL", op, name);
        return 0;
    }
    if (!tensor_ok(be, op, qn, &m->q) || !tensor_ok(be, op, sn, &m->s))
        return 0;
    if (m->q.dtype != ZT_F8E4M3 || m->s.dtype != ZT_F32) {
        zt_backend_set_error(be, ZT_ERR_DTYPE, "%s: %s is %s with %s scales, want F8_E4M3 with F32",
                             op, name, zt_dtype_name(m->q.dtype), zt_dtype_name(m->s.dtype));
        return 0;
    }
    return 1;
}

/* A zt_qmat of R rows of K: q F8E4M3 [..., K] with R rows, s F32 of R. */
static int qmat_ok(zt_backend *be, const char *op, const char *name, const zt_qmat *m,
                   int64_t *rows, int64_t *k)
{
    char qn[32], sn[32];
    if (!qparts_ok(be, op, name, m, qn, sn))
        return 0;
    *k = last_dim(&m->q);
    *rows = *k ? zt_tensor_numel(&m->q) / *k : 0;
    if (zt_tensor_numel(&m->s) != *rows) {
        bad2(be, ZT_ERR_SHAPE, op, "one scale per row", qn, &m->q, sn, &m->s);
        return 0;
    }
    return apart(be, op, qn, &m->q, sn, &m->s);
}

/* y, a qmat of x's rows, written apart from x */
static int qmat_out_ok(zt_backend *be, const char *op, zt_qmat *y, const char *xn,
                       const zt_tensor *x)
{
    int64_t rows, k;
    return float_ok(be, op, xn, x) && qmat_ok(be, op, "y", y, &rows, &k) &&
           same_rows(be, op, "y.q", &y->q, xn, x) && apart(be, op, "y.q", &y->q, xn, x) &&
           apart(be, op, "y.s", &y->s, xn, x);
}

void zt_op_quantize(zt_backend *be, zt_qmat *y, const zt_tensor *x)
{
    if (pending(be) || !HAVE_OP(be, quantize) || !qmat_out_ok(be, "quantize", y, "x", x))
        return;
    be->vt->quantize(be, y, x);
}

/* A zt_qmat holding one E4M3 tensor with a single scale (s F32 [1]). */
static int qtensor_ok(zt_backend *be, const char *op, const char *name, const zt_qmat *m)
{
    char qn[32], sn[32];
    if (!qparts_ok(be, op, name, m, qn, sn))
        return 0;
    if (zt_tensor_numel(&m->s) != 1) {
        bad1(be, ZT_ERR_SHAPE, op, "one scale for the tensor", sn, &m->s);
        return 0;
    }
    return apart(be, op, qn, &m->q, sn, &m->s);
}

void zt_op_quantize_t(zt_backend *be, zt_qmat *y, const zt_tensor *x)
{
    const char *op = "quantize_t";
    if (pending(be) || !HAVE_OP(be, quantize_t) || !float_ok(be, op, "x", x) ||
        !qtensor_ok(be, op, "y", y) || !same_numel(be, op, "y.q", &y->q, "x", x) ||
        !apart(be, op, "y.q", &y->q, "x", x) || !apart(be, op, "y.s", &y->s, "x", x))
        return;
    be->vt->quantize_t(be, y, x);
}

static int rmsnorm_q_ok(zt_backend *be, const char *op, zt_qmat *y, const zt_tensor *x,
                        const zt_tensor *w, const zt_tensor *scale)
{
    return qmat_out_ok(be, op, y, "x", x) && vec_ok(be, op, "w", w, "x", x, last_dim(x)) &&
           vec_ok(be, op, "scale", scale, "x", x, last_dim(x));
}

void zt_op_rmsnorm_q(zt_backend *be, zt_qmat *y, const zt_tensor *x, const zt_tensor *w,
                     const zt_tensor *scale, float eps)
{
    if (pending(be) || !HAVE_OP(be, rmsnorm_q) || !rmsnorm_q_ok(be, "rmsnorm_q", y, x, w, scale))
        return;
    be->vt->rmsnorm_q(be, y, x, w, scale, eps);
}

void zt_op_swiglu_q(zt_backend *be, zt_qmat *y, const zt_tensor *gate, const zt_tensor *up)
{
    const char *op = "swiglu_q";
    if (pending(be) || !HAVE_OP(be, swiglu_q) || !qmat_out_ok(be, op, y, "gate", gate) ||
        !qmat_out_ok(be, op, y, "up", up) || !same_rows(be, op, "gate", gate, "up", up))
        return;
    be->vt->swiglu_q(be, y, gate, up);
}

void zt_op_matmul_q(zt_backend *be, zt_tensor *y, const zt_qmat *x, const zt_qmat *w)
{
    const char *op = "matmul_q";
    int64_t m, k, n, kw;
    if (pending(be) || !HAVE_OP(be, matmul_q))
        return;
    if (!float_ok(be, op, "y", y) || !qmat_ok(be, op, "x", x, &m, &k) ||
        !qmat_ok(be, op, "w", w, &n, &kw) || !ndim_is(be, op, "w.q", &w->q, 2))
        return;
    if (k != kw) {
        bad2(be, ZT_ERR_SHAPE, op, "K differs", "x.q", &x->q, "w.q", &w->q);
        return;
    }
    if (last_dim(y) != n || (n ? zt_tensor_numel(y) / n : 0) != m) {
        bad2(be, ZT_ERR_SHAPE, op, "y must be [M, N]", "y", y, "x.q", &x->q);
        return;
    }
    if (!apart(be, op, "y", y, "x.q", &x->q) || !apart(be, op, "y", y, "x.s", &x->s) ||
        !apart(be, op, "y", y, "w.q", &w->q) || !apart(be, op, "y", y, "w.s", &w->s))
        return;
    be->vt->matmul_q(be, y, x, w);
}

static int rmsnorm_ok(zt_backend *be, const char *op, const zt_tensor *y, const zt_tensor *x,
                      const zt_tensor *w, const zt_tensor *scale)
{
    return float_ok(be, op, "y", y) && float_ok(be, op, "x", x) &&
           same_rows(be, op, "y", y, "x", x) && vec_ok(be, op, "w", w, "x", x, last_dim(x)) &&
           vec_ok(be, op, "scale", scale, "x", x, last_dim(x)) &&
           same_or_apart(be, op, "y", y, "x", x) && apart(be, op, "y", y, "w", w) &&
           apart(be, op, "y", y, "scale", scale);
}

void zt_op_rmsnorm(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                   const zt_tensor *scale, float eps)
{
    if (pending(be) || !HAVE_OP(be, rmsnorm) || !rmsnorm_ok(be, "rmsnorm", y, x, w, scale))
        return;
    be->vt->rmsnorm(be, y, x, w, scale, eps);
}

void zt_op_layernorm(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                     const zt_tensor *b, const zt_tensor *scale, float eps)
{
    const char *op = "layernorm";
    if (pending(be) || !HAVE_OP(be, layernorm))
        return;
    int64_t c = x ? last_dim(x) : 0;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) ||
        !same_rows(be, op, "y", y, "x", x) || !vec_ok(be, op, "w", w, "x", x, c) ||
        !vec_ok(be, op, "b", b, "x", x, c) || !vec_ok(be, op, "scale", scale, "x", x, c) ||
        !same_or_apart(be, op, "y", y, "x", x) || !apart(be, op, "y", y, "w", w) ||
        !apart(be, op, "y", y, "b", b) || !apart(be, op, "y", y, "scale", scale))
        return;
    be->vt->layernorm(be, y, x, w, b, scale, eps);
}

void zt_op_groupnorm(zt_backend *be, zt_tensor *y, const zt_tensor *x, int groups,
                     const zt_tensor *w, const zt_tensor *b, float eps, int silu)
{
    const char *op = "groupnorm";
    if (pending(be) || !HAVE_OP(be, groupnorm))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x))
        return;
    /* x, y [H, W, C] or [N, C]: channels last */
    if (x->ndim < 2 || y->ndim != x->ndim || zt_tensor_numel(y) != zt_tensor_numel(x) ||
        y->shape[y->ndim - 1] != x->shape[x->ndim - 1]) {
        bad2(be, ZT_ERR_SHAPE, op, "want equal shapes [H, W, C] or [N, C]", "y", y, "x", x);
        return;
    }
    int64_t c = x->shape[x->ndim - 1];
    if (groups <= 0 || c % groups != 0) {
        char why[64];
        snprintf(why, sizeof why, "%d groups do not divide the channels", groups);
        bad1(be, ZT_ERR_SHAPE, op, why, "x", x);
        return;
    }
    if (!vec_ok(be, op, "w", w, "x", x, c) || !vec_ok(be, op, "b", b, "x", x, c) ||
        !same_or_apart(be, op, "y", y, "x", x) || !apart(be, op, "y", y, "w", w) ||
        !apart(be, op, "y", y, "b", b))
        return;
    be->vt->groupnorm(be, y, x, groups, w, b, eps, silu);
}

/* rope's argument checks (also for rmsnorm_rope); 0 after recording why. */
static int rope_args_ok(zt_backend *be, const char *op, zt_tensor *x, const zt_tensor *cs,
                        zt_rope_kind kind)
{
    if (!float_ok(be, op, "x", x) || !tensor_ok(be, op, "cs", cs) ||
        !ndim_is(be, op, "x", x, 3))
        return 0;
    if (cs->dtype != ZT_F32) {
        zt_backend_set_error(be, ZT_ERR_DTYPE, "%s: cs has dtype %s, want F32", op,
                             zt_dtype_name(cs->dtype));
        return 0;
    }
    if (kind != ZT_ROPE_NEOX && kind != ZT_ROPE_INTERLEAVED) {
        zt_backend_set_error(be, ZT_ERR_INVALID, "%s: unknown kind %d", op, (int)kind);
        return 0;
    }
    /* x [S, heads, hd]; cs [S, hd/2, 2] */
    int64_t s = x->shape[0], hd = x->shape[2];
    if (hd % 2 != 0) {
        bad1(be, ZT_ERR_SHAPE, op, "head dim must be even", "x", x);
        return 0;
    }
    int64_t want[3] = {s, hd / 2, 2};
    if (!zt_shape_eq(cs, 3, want)) {
        bad2(be, ZT_ERR_SHAPE, op, "cs must be [S, hd/2, 2]", "x", x, "cs", cs);
        return 0;
    }
    return apart(be, op, "x", x, "cs", cs);
}

void zt_op_rope(zt_backend *be, zt_tensor *x, const zt_tensor *cs, zt_rope_kind kind)
{
    if (pending(be) || !HAVE_OP(be, rope) || !rope_args_ok(be, "rope", x, cs, kind))
        return;
    be->vt->rope(be, x, cs, kind);
}

void zt_op_rmsnorm_rope(zt_backend *be, zt_tensor *x, const zt_tensor *w, float eps,
                        const zt_tensor *cs, zt_rope_kind kind)
{
    const char *op = "rmsnorm_rope";
    if (pending(be) || !HAVE_OP(be, rmsnorm_rope) || !rope_args_ok(be, op, x, cs, kind) ||
        !vec_ok(be, op, "w", w, "x", x, last_dim(x)) || !apart(be, op, "x", x, "w", w))
        return;
    be->vt->rmsnorm_rope(be, x, w, eps, cs, kind);
}

void zt_op_rmsnorm_rope_q(zt_backend *be, zt_qmat *y, const zt_tensor *x, const zt_tensor *w,
                          float eps, const zt_tensor *cs, zt_rope_kind kind)
{
    const char *op = "rmsnorm_rope_q";
    if (pending(be) || !HAVE_OP(be, rmsnorm_rope_q) ||
        !rope_args_ok(be, op, (zt_tensor *)x, cs, kind) || !qtensor_ok(be, op, "y", y))
        return;
    if (!w) {
        zt_backend_set_error(be, ZT_ERR_INVALID, "%s: w is NULL", op);
        return;
    }
    if (!vec_ok(be, op, "w", w, "x", x, last_dim(x)))
        return;
    if (!zt_shape_eq(&y->q, 3, x->shape)) {
        bad2(be, ZT_ERR_SHAPE, op, "y.q must have x's shape", "y.q", &y->q, "x", x);
        return;
    }
    if (!apart(be, op, "y.q", &y->q, "x", x) || !apart(be, op, "y.s", &y->s, "x", x) ||
        !apart(be, op, "y.q", &y->q, "w", w) || !apart(be, op, "y.s", &y->s, "w", w))
        return;
    be->vt->rmsnorm_rope_q(be, y, x, w, eps, cs, kind);
}

void zt_op_attention_q(zt_backend *be, zt_qmat *out, const zt_qmat *q, const zt_qmat *k,
                       const zt_qmat *v, float scale)
{
    const char *op = "attention_q";
    if (pending(be) || !HAVE_OP(be, attention_q) || !qtensor_ok(be, op, "q", q) ||
        !qtensor_ok(be, op, "k", k) || !qtensor_ok(be, op, "v", v))
        return;
    if (!ndim_is(be, op, "q.q", &q->q, 3) || !ndim_is(be, op, "k.q", &k->q, 3) ||
        !ndim_is(be, op, "v.q", &v->q, 3))
        return;
    /* q [Sq, H, hd]; k, v [Skv, H, hd]; out.q [Sq, H, hd], out.s [Sq] */
    if (!zt_shape_eq(&v->q, 3, k->q.shape) || q->q.shape[1] != k->q.shape[1] ||
        q->q.shape[2] != k->q.shape[2]) {
        bad2(be, ZT_ERR_SHAPE, op, "k and v must be [Skv, H, hd] with q's H and hd", "q.q", &q->q,
             "k.q", &k->q);
        return;
    }
    char qn[32], sn[32];
    if (!qparts_ok(be, op, "out", out, qn, sn) || !apart(be, op, qn, &out->q, sn, &out->s))
        return;
    if (!zt_shape_eq(&out->q, 3, q->q.shape) || zt_tensor_numel(&out->s) != q->q.shape[0]) {
        bad2(be, ZT_ERR_SHAPE, op, "out must be q's shape with a scale per query", "out.q", &out->q,
             "out.s", &out->s);
        return;
    }
    const zt_qmat *in[3] = {q, k, v};
    for (int i = 0; i < 3; i++)
        if (!apart(be, op, "out.q", &out->q, "an input", &in[i]->q) ||
            !apart(be, op, "out.q", &out->q, "an input's scale", &in[i]->s) ||
            !apart(be, op, "out.s", &out->s, "an input", &in[i]->q) ||
            !apart(be, op, "out.s", &out->s, "an input's scale", &in[i]->s))
            return;
    be->vt->attention_q(be, out, q, k, v, scale);
}

void zt_op_attention(zt_backend *be, zt_tensor *out, const zt_tensor *q, const zt_tensor *k,
                     const zt_tensor *v, int causal, float scale)
{
    const char *op = "attention";
    if (pending(be) || !HAVE_OP(be, attention))
        return;
    if (!float_ok(be, op, "out", out) || !float_ok(be, op, "q", q) ||
        !float_ok(be, op, "k", k) || !float_ok(be, op, "v", v) ||
        !ndim_is(be, op, "q", q, 3) || !ndim_is(be, op, "k", k, 3) ||
        !ndim_is(be, op, "v", v, 3))
        return;
    /* q [Sq, Hq, hd]; k, v [Skv, Hkv, hd]; out [Sq, Hq, hd] */
    if (!zt_shape_eq(v, 3, k->shape)) {
        bad2(be, ZT_ERR_SHAPE, op, "k and v differ", "k", k, "v", v);
        return;
    }
    if (q->shape[2] != k->shape[2]) {
        bad2(be, ZT_ERR_SHAPE, op, "head dims differ", "q", q, "k", k);
        return;
    }
    if (k->shape[1] <= 0 || q->shape[1] % k->shape[1] != 0) {
        bad2(be, ZT_ERR_SHAPE, op, "query heads are not a multiple of kv heads", "q", q,
            "k", k);
        return;
    }
    if (!zt_shape_eq(out, 3, q->shape)) {
        bad2(be, ZT_ERR_SHAPE, op, "out must have q's shape", "out", out, "q", q);
        return;
    }
    if (!apart(be, op, "out", out, "q", q) || !apart(be, op, "out", out, "k", k) ||
        !apart(be, op, "out", out, "v", v))
        return;
    be->vt->attention(be, out, q, k, v, causal, scale);
}

void zt_op_softmax(zt_backend *be, zt_tensor *y, const zt_tensor *x)
{
    const char *op = "softmax";
    if (pending(be) || !HAVE_OP(be, softmax))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) ||
        !same_rows(be, op, "y", y, "x", x) || !same_or_apart(be, op, "y", y, "x", x))
        return;
    be->vt->softmax(be, y, x);
}

void zt_op_unary(zt_backend *be, zt_tensor *y, const zt_tensor *x, zt_unary_op uop)
{
    const char *op = "unary";
    if (pending(be) || !HAVE_OP(be, unary))
        return;
    if (uop != ZT_UNARY_SILU && uop != ZT_UNARY_TANH) {
        zt_backend_set_error(be, ZT_ERR_INVALID, "%s: unknown op %d", op, (int)uop);
        return;
    }
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) ||
        !same_numel(be, op, "y", y, "x", x) || !same_or_apart(be, op, "y", y, "x", x))
        return;
    be->vt->unary(be, y, x, uop);
}

/* add and mul: b has a's element count or is one row of a's last dim. */
static int binary_ok(zt_backend *be, const char *op, const zt_tensor *y, const zt_tensor *a,
                     const zt_tensor *b)
{
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "a", a) || !float_ok(be, op, "b", b) ||
        !same_rows(be, op, "y", y, "a", a))
        return 0;
    int64_t nb = zt_tensor_numel(b);
    if (nb != zt_tensor_numel(a) && nb != last_dim(a)) {
        bad2(be, ZT_ERR_SHAPE, op, "b must have a's shape or be a row [C]", "a", a, "b", b);
        return 0;
    }
    /* b broadcast as a row must stay apart; a full-size b may be y itself */
    return same_or_apart(be, op, "y", y, "a", a) &&
           (nb == zt_tensor_numel(a) ? same_or_apart(be, op, "y", y, "b", b)
                                     : apart(be, op, "y", y, "b", b));
}

void zt_op_add(zt_backend *be, zt_tensor *y, const zt_tensor *a, const zt_tensor *b)
{
    if (pending(be) || !HAVE_OP(be, add) || !binary_ok(be, "add", y, a, b))
        return;
    be->vt->add(be, y, a, b);
}

void zt_op_mul(zt_backend *be, zt_tensor *y, const zt_tensor *a, const zt_tensor *b)
{
    if (pending(be) || !HAVE_OP(be, mul) || !binary_ok(be, "mul", y, a, b))
        return;
    be->vt->mul(be, y, a, b);
}

/* y += gate * rmsnorm(x) * w, x overwritable: the arguments' names as
 * norm_gated_add gives them (yn, xn, wn for residual_norm's x, o, wo). */
static int gated_ok(zt_backend *be, const char *op, const char *yn, const zt_tensor *y,
                    const char *xn, const zt_tensor *x, const char *wn, const zt_tensor *w,
                    const zt_tensor *gate)
{
    return float_ok(be, op, yn, y) && float_ok(be, op, xn, x) && same_rows(be, op, yn, y, xn, x) &&
           vec_ok(be, op, wn, w, xn, x, last_dim(x)) &&
           vec_ok(be, op, "gate", gate, yn, y, last_dim(y)) && apart(be, op, yn, y, xn, x) &&
           apart(be, op, yn, y, wn, w) && apart(be, op, yn, y, "gate", gate) &&
           apart(be, op, xn, x, wn, w) && apart(be, op, xn, x, "gate", gate);
}

void zt_op_norm_gated_add(zt_backend *be, zt_tensor *y, zt_tensor *x, const zt_tensor *w,
                          const zt_tensor *gate, float eps)
{
    if (pending(be) || !HAVE_OP(be, norm_gated_add) ||
        !gated_ok(be, "norm_gated_add", "y", y, "x", x, "w", w, gate))
        return;
    be->vt->norm_gated_add(be, y, x, w, gate, eps);
}

void zt_op_residual_norm(zt_backend *be, zt_tensor *x, zt_tensor *o, const zt_tensor *wo,
                         const zt_tensor *gate, zt_tensor *y, zt_qmat *yq, const zt_tensor *w,
                         const zt_tensor *scale, float eps)
{
    const char *op = "residual_norm";
    if (pending(be) || !HAVE_OP(be, residual_norm))
        return;
    if (!y == !yq) {
        zt_backend_set_error(be, ZT_ERR_INVALID, "%s: give exactly one of y and yq", op);
        return;
    }
    if (!gated_ok(be, op, "x", x, "o", o, "wo", wo, gate))
        return;
    /* the norm reads the new x; o, which the first half may overwrite, and
     * the first half's inputs must not be its output */
    if (y ? !rmsnorm_ok(be, op, y, x, w, scale) || !apart(be, op, "y", y, "x", x) ||
                !apart(be, op, "y", y, "o", o) || !apart(be, op, "y", y, "wo", wo) ||
                !apart(be, op, "y", y, "gate", gate)
          : !rmsnorm_q_ok(be, op, yq, x, w, scale) || !apart(be, op, "y.q", &yq->q, "o", o) ||
                !apart(be, op, "y.s", &yq->s, "o", o))
        return;
    be->vt->residual_norm(be, x, o, wo, gate, y, yq, w, scale, eps);
}

void zt_op_gated_add(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *gate)
{
    const char *op = "gated_add";
    if (pending(be) || !HAVE_OP(be, gated_add))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) ||
        !same_rows(be, op, "y", y, "x", x) ||
        !vec_ok(be, op, "gate", gate, "y", y, last_dim(y)) ||
        !same_or_apart(be, op, "y", y, "x", x) || !apart(be, op, "y", y, "gate", gate))
        return;
    be->vt->gated_add(be, y, x, gate);
}

void zt_op_swiglu(zt_backend *be, zt_tensor *y, const zt_tensor *gate, const zt_tensor *up)
{
    const char *op = "swiglu";
    if (pending(be) || !HAVE_OP(be, swiglu))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "gate", gate) ||
        !float_ok(be, op, "up", up) || !same_numel(be, op, "y", y, "gate", gate) ||
        !same_numel(be, op, "y", y, "up", up) || !same_or_apart(be, op, "y", y, "gate", gate) ||
        !same_or_apart(be, op, "y", y, "up", up))
        return;
    be->vt->swiglu(be, y, gate, up);
}

void zt_op_scale_add(zt_backend *be, zt_tensor *y, const zt_tensor *x, float alpha,
                     float beta)
{
    const char *op = "scale_add";
    if (pending(be) || !HAVE_OP(be, scale_add))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) ||
        !same_numel(be, op, "y", y, "x", x) || !same_or_apart(be, op, "y", y, "x", x))
        return;
    be->vt->scale_add(be, y, x, alpha, beta);
}

void zt_op_axpy(zt_backend *be, zt_tensor *y, float alpha, const zt_tensor *x)
{
    const char *op = "axpy";
    if (pending(be) || !HAVE_OP(be, axpy))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) ||
        !same_numel(be, op, "y", y, "x", x) || !same_or_apart(be, op, "y", y, "x", x))
        return;
    be->vt->axpy(be, y, alpha, x);
}

void zt_op_copy(zt_backend *be, zt_tensor *y, const zt_tensor *x)
{
    const char *op = "copy";
    if (pending(be) || !HAVE_OP(be, copy))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) ||
        !same_numel(be, op, "y", y, "x", x) || !same_or_apart(be, op, "y", y, "x", x))
        return;
    be->vt->copy(be, y, x);
}

void zt_op_embed(zt_backend *be, zt_tensor *y, const zt_tensor *table, const zt_tensor *ids)
{
    const char *op = "embed";
    if (pending(be) || !HAVE_OP(be, embed))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "table", table) ||
        !tensor_ok(be, op, "ids", ids) || !ndim_is(be, op, "table", table, 2))
        return;
    if (ids->dtype != ZT_I32) {
        zt_backend_set_error(be, ZT_ERR_DTYPE, "%s: ids have dtype %s, want I32", op,
                             zt_dtype_name(ids->dtype));
        return;
    }
    /* y [L, H] = table[V, H] rows picked by ids [L]; the backend checks ids < V */
    if (last_dim(y) != table->shape[1] ||
        zt_tensor_numel(y) != zt_tensor_numel(ids) * table->shape[1]) {
        bad3(be, ZT_ERR_SHAPE, op, "y must be [L, H]", "y", y, "table", table, "ids", ids);
        return;
    }
    if (!apart(be, op, "y", y, "table", table) || !apart(be, op, "y", y, "ids", ids))
        return;
    be->vt->embed(be, y, table, ids);
}

void zt_op_conv2d(zt_backend *be, zt_tensor *y, const zt_tensor *x, const zt_tensor *w,
                  const zt_tensor *b)
{
    const char *op = "conv2d";
    if (pending(be) || !HAVE_OP(be, conv2d))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) || !float_ok(be, op, "w", w) ||
        !ndim_is(be, op, "x", x, 3) || !ndim_is(be, op, "y", y, 3) ||
        !ndim_is(be, op, "w", w, 4))
        return;
    /* x [H, W, Ci]; w [Co, Ci, k, k]; y [H, W, Co] */
    int64_t kk = w->shape[2];
    if ((kk != 1 && kk != 3) || w->shape[3] != kk) {
        bad1(be, ZT_ERR_SHAPE, op, "kernel must be 1x1 or 3x3", "w", w);
        return;
    }
    if (w->shape[1] != x->shape[2]) {
        bad2(be, ZT_ERR_SHAPE, op, "input channels differ", "x", x, "w", w);
        return;
    }
    int64_t want[3] = {x->shape[0], x->shape[1], w->shape[0]};
    if (!zt_shape_eq(y, 3, want)) {
        bad3(be, ZT_ERR_SHAPE, op, "y must be [H, W, Co]", "y", y, "x", x, "w", w);
        return;
    }
    if (!vec_ok(be, op, "b", b, "w", w, w->shape[0]) || !apart(be, op, "y", y, "x", x) ||
        !apart(be, op, "y", y, "w", w) || !apart(be, op, "y", y, "b", b))
        return;
    be->vt->conv2d(be, y, x, w, b);
}

void zt_op_upsample2x(zt_backend *be, zt_tensor *y, const zt_tensor *x)
{
    const char *op = "upsample2x";
    if (pending(be) || !HAVE_OP(be, upsample2x))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) || !ndim_is(be, op, "x", x, 3))
        return;
    int64_t want[3] = {2 * x->shape[0], 2 * x->shape[1], x->shape[2]};
    if (!zt_shape_eq(y, 3, want)) {
        bad2(be, ZT_ERR_SHAPE, op, "y must be [2H, 2W, C]", "y", y, "x", x);
        return;
    }
    if (!apart(be, op, "y", y, "x", x))
        return;
    be->vt->upsample2x(be, y, x);
}

void zt_op_transpose(zt_backend *be, zt_tensor *y, const zt_tensor *x)
{
    const char *op = "transpose";
    if (pending(be) || !HAVE_OP(be, transpose))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) || !ndim_is(be, op, "x", x, 2))
        return;
    int64_t want[2] = {x->shape[1], x->shape[0]};
    if (!zt_shape_eq(y, 2, want)) {
        bad2(be, ZT_ERR_SHAPE, op, "y must be [N, M]", "y", y, "x", x);
        return;
    }
    if (!apart(be, op, "y", y, "x", x))
        return;
    be->vt->transpose(be, y, x);
}

/* Shared by patchify and unpatchify: img [C, H, W] and tokens
 * [(H/p)(W/p), p*p*C] must agree. */
static int patch_ok(zt_backend *be, const char *op, const char *in, const zt_tensor *img,
                    const char *tn, const zt_tensor *tok, int p)
{
    if (!ndim_is(be, op, in, img, 3))
        return 0;
    if (p <= 0 || img->shape[1] % p != 0 || img->shape[2] % p != 0) {
        char why[64];
        snprintf(why, sizeof why, "patch %d does not divide H and W", p);
        bad1(be, ZT_ERR_SHAPE, op, why, in, img);
        return 0;
    }
    int64_t want[2] = {(img->shape[1] / p) * (img->shape[2] / p),
                       (int64_t)p * p * img->shape[0]};
    if (!zt_shape_eq(tok, 2, want)) {
        bad2(be, ZT_ERR_SHAPE, op, "tokens must be [(H/p)(W/p), p*p*C]", in, img, tn, tok);
        return 0;
    }
    return 1;
}

void zt_op_patchify(zt_backend *be, zt_tensor *y, const zt_tensor *x, int p)
{
    const char *op = "patchify";
    if (pending(be) || !HAVE_OP(be, patchify))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) ||
        !patch_ok(be, op, "x", x, "y", y, p) || !apart(be, op, "y", y, "x", x))
        return;
    be->vt->patchify(be, y, x, p);
}

void zt_op_unpatchify(zt_backend *be, zt_tensor *y, const zt_tensor *x, int p)
{
    const char *op = "unpatchify";
    if (pending(be) || !HAVE_OP(be, unpatchify))
        return;
    if (!float_ok(be, op, "y", y) || !float_ok(be, op, "x", x) ||
        !patch_ok(be, op, "y", y, "x", x, p) || !apart(be, op, "y", y, "x", x))
        return;
    be->vt->unpatchify(be, y, x, p);
}

void zt_op_to_rgb8(zt_backend *be, zt_tensor *y, const zt_tensor *x)
{
    const char *op = "to_rgb8";
    if (pending(be) || !HAVE_OP(be, to_rgb8))
        return;
    if (!float_ok(be, op, "x", x) || !ndim_is(be, op, "x", x, 3) || !tensor_ok(be, op, "y", y))
        return;
    if (y->dtype != ZT_U8) {
        bad1(be, ZT_ERR_DTYPE, op, "y must be U8", "y", y);
        return;
    }
    int64_t want[3] = {x->shape[1], x->shape[2], x->shape[0]};
    if (!zt_shape_eq(y, 3, want)) {
        bad2(be, ZT_ERR_SHAPE, op, "y must be [H, W, C]", "y", y, "x", x);
        return;
    }
    if (!apart(be, op, "y", y, "x", x))
        return;
    be->vt->to_rgb8(be, y, x);
}

void zt_op_synth_fill(zt_backend *be, zt_tensor *t, uint32_t key, int is_bias)
{
    const char *op = "synth_fill";
    if (pending(be) || !HAVE_OP(be, synth_fill))
        return;
    if (!tensor_ok(be, op, "t", t))
        return;
    if (t->dtype != ZT_BF16) {
        bad1(be, ZT_ERR_DTYPE, op, "synthetic weights are BF16", "t", t);
        return;
    }
    be->vt->synth_fill(be, t, key, is_bias);
}

/* ---- replays ------------------------------------------------------------ */

static int can_record(zt_backend *be)
{
    const char *env = getenv("ZIMT_GRAPHS");
    return !pending(be) && be->vt->record_begin && !be->profiling && !(env && !strcmp(env, "0"));
}

static void slot_drop(zt_backend *be, zt_replay_slot *sl)
{
    if (sl->rec && be && be->vt && be->vt->record_free)
        be->vt->record_free(be, sl->rec);
    sl->rec = NULL;
}

void zt_replay_drop(zt_backend *be, zt_replay *r)
{
    for (int i = 0; i < ZT_REPLAY_SLOTS; i++)
        slot_drop(be, &r->slot[i]);
}

/* The slot holding key, or the least recently used one made over to it. */
static zt_replay_slot *slot_for(zt_backend *be, zt_replay *r, const uint64_t *key, int nkey)
{
    int lru = 0;
    for (int i = 0; i < ZT_REPLAY_SLOTS; i++) {
        zt_replay_slot *sl = &r->slot[i];
        if (sl->nkey == nkey && !memcmp(sl->key, key, (size_t)nkey * sizeof *key)) {
            r->cur = i;
            return sl;
        }
        if (sl->used < r->slot[lru].used)
            lru = i;
    }
    zt_replay_slot *sl = &r->slot[lru];
    slot_drop(be, sl);
    memcpy(sl->key, key, (size_t)nkey * sizeof *key);
    sl->nkey = nkey;
    sl->seen = 0;
    r->cur = lru;
    return sl;
}

/* Queue slot sl's recording, counting it. */
static zt_status replay_slot(zt_backend *be, zt_replay_slot *sl, zt_err *e)
{
    zt_status st = be->vt->replay(be, sl->rec, e);
    if (st == ZT_OK)
        be->replays++;
    return st;
}

int zt_replay_enter(zt_backend *be, zt_replay *r, const uint64_t *key, int nkey)
{
    if (!r)
        return 1;
    r->recording = 0;
    r->cur = -1;
    /* a key that does not fit could not tell sequences apart: direct */
    if (r->off || nkey > ZT_REPLAY_KEY || !can_record(be))
        return 1;
    zt_replay_slot *sl = slot_for(be, r, key, nkey);
    sl->used = ++r->tick;
    zt_err e;
    if (sl->rec) {
        zt_status st = replay_slot(be, sl, &e);
        if (st == ZT_OK)
            return 0;
        slot_drop(be, sl);
        if (st != ZT_ERR_TOO_BIG) {
            zt_backend_set_error(be, st, "%s", e.msg);
            return 1; /* skipped: the error is pending */
        }
    }
    /* a new sequence runs directly once; recorded if it comes back */
    if (sl->seen)
        r->recording = be->vt->record_begin(be, &e) == ZT_OK;
    return 1;
}

int zt_replay_leave(zt_backend *be, zt_replay *r)
{
    if (!r || r->cur < 0)
        return 0;
    zt_replay_slot *sl = &r->slot[r->cur];
    if (!r->recording) {
        sl->seen = 1;
        return 0;
    }
    r->recording = 0;
    zt_err e;
    zt_status st = be->vt->record_end(be, &sl->rec, &e);
    if (st == ZT_OK && (st = replay_slot(be, sl, &e)) == ZT_OK)
        return 0;
    /* Nothing ran: issue the ops again, directly. The slot counts as not
     * seen, so that the pass now issued runs directly (and grows what the
     * recording could not) instead of being recorded again, which would
     * fail the same way for ever. */
    slot_drop(be, sl);
    sl->seen = 0;
    r->off = st != ZT_ERR_TOO_BIG;
    return 1;
}

int zt_backend_mem_usage(zt_backend *be, size_t *now, size_t *peak)
{
    *now = *peak = 0;
    if (!be || !be->vt || !be->vt->mem_usage)
        return 0;
    be->vt->mem_usage(be, now, peak);
    return 1;
}

/* ---- lifetime and memory ------------------------------------------------ */

void zt_backend_free(zt_backend *be)
{
    if (be && be->vt && be->vt->destroy)
        be->vt->destroy(be);
}

zt_status zt_backend_alloc(zt_backend *be, size_t bytes, void **out, zt_err *err)
{
    if (out)
        *out = NULL;
    if (!be || !be->vt || !out)
        return zt_fail(err, ZT_ERR_INVALID, "backend alloc: no backend or output");
    if (!be->vt->alloc)
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "op alloc not implemented by backend %s",
                       be->vt->name);
    return be->vt->alloc(be, bytes, out, err);
}

void zt_backend_release(zt_backend *be, void *p)
{
    if (be && be->vt && be->vt->release && p)
        be->vt->release(be, p);
}

zt_status zt_backend_upload(zt_backend *be, zt_tensor *dst, const void *src, zt_err *err)
{
    if (!be || !be->vt || !dst || (!src && zt_tensor_nbytes(dst)))
        return zt_fail(err, ZT_ERR_INVALID, "backend upload: missing argument");
    size_t n = zt_tensor_nbytes(dst);
    if (!n)
        return ZT_OK;
    if (!dst->data)
        return zt_fail(err, ZT_ERR_INVALID, "backend upload: destination has no data");
    if (!be->vt->upload)
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "op upload not implemented by backend %s",
                       be->vt->name);
    mark_op(be, "upload");
    return be->vt->upload(be, dst->data, src, n, err);
}

zt_status zt_backend_download(zt_backend *be, void *dst, const zt_tensor *src, zt_err *err)
{
    if (!be || !be->vt || !src || (!dst && zt_tensor_nbytes(src)))
        return zt_fail(err, ZT_ERR_INVALID, "backend download: missing argument");
    size_t n = zt_tensor_nbytes(src);
    if (!n)
        return ZT_OK;
    if (!src->data)
        return zt_fail(err, ZT_ERR_INVALID, "backend download: source has no data");
    if (!be->vt->download)
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "op download not implemented by backend %s",
                       be->vt->name);
    /* bytes the ops before it were to write: an error they raised is
     * reported (and cleared, as by sync) instead of handing back stale ones */
    if (be->error.code != ZT_OK)
        return zt_backend_sync(be, err);
    mark_op(be, "download");
    return be->vt->download(be, dst, src->data, n, err);
}

zt_status zt_backend_count_nonfinite(zt_backend *be, const zt_tensor *x, uint64_t *n,
                                     zt_err *err)
{
    *n = 0;
    if (!be || !be->vt || !x || (!x->data && zt_tensor_numel(x)))
        return zt_fail(err, ZT_ERR_INVALID, "backend count_nonfinite: missing argument");
    if (x->dtype != ZT_F32 && x->dtype != ZT_BF16 && x->dtype != ZT_F16)
        return zt_fail(err, ZT_ERR_DTYPE, "backend count_nonfinite: x is not a float tensor");
    if (be->error.code != ZT_OK)
        return zt_backend_sync(be, err);
    if (!zt_tensor_numel(x) || !be->vt->count_nonfinite) /* one that cannot count: 0 */
        return ZT_OK;
    mark_op(be, "count_nonfinite");
    return be->vt->count_nonfinite(be, x, n, err);
}

zt_status zt_backend_sync(zt_backend *be, zt_err *err)
{
    if (!be || !be->vt)
        return zt_fail(err, ZT_ERR_INVALID, "backend sync: no backend");
    zt_err local = {ZT_OK, ""};
    zt_status s = be->vt->sync ? be->vt->sync(be, &local) : ZT_OK;
    if (be->error.code != ZT_OK) {
        /* the op error came first; a sync failure is usually its echo */
        zt_status code = be->error.code;
        if (err)
            *err = be->error;
        be->error.code = ZT_OK;
        be->error.msg[0] = '\0';
        return code;
    }
    if (s != ZT_OK && err)
        *err = local;
    return s;
}

static int misaligned(const zt_tensor *t)
{
    return (uintptr_t)t->data % zt_dtype_size(t->dtype) != 0;
}

/* Host views are already backend memory, but a file may place a tensor's
 * data off its element size (safetensors asks for no alignment), and a
 * host backend reads elements in place. Such tensors are copied into one
 * aligned block (*block, freed by zt_backend_release_weights); the usual
 * case, everything aligned, copies nothing. */
static zt_status align_host_views(zt_tensor **ts, int n, void **block, zt_err *err)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (misaligned(ts[i]) &&
            !zt_add_ok(total, (zt_tensor_nbytes(ts[i]) + 63) & ~(size_t)63, &total))
            return zt_fail(err, ZT_ERR_TOO_BIG, "weights: size overflows");
    if (!total)
        return ZT_OK;
    char *b = aligned_alloc(64, total);
    if (!b)
        return zt_fail(err, ZT_ERR_NOMEM, "weights: out of memory for %zu bytes of aligned copies",
                       total);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (!misaligned(ts[i]))
            continue;
        size_t nb = zt_tensor_nbytes(ts[i]);
        memcpy(b + off, ts[i]->data, nb);
        ts[i]->data = b + off;
        off += (nb + 63) & ~(size_t)63;
    }
    *block = b;
    return ZT_OK;
}

zt_status zt_backend_adopt_weights(zt_backend *be, zt_tensor **ts, int n, void **block,
                                   zt_err *err)
{
    if (block)
        *block = NULL;
    if (!be || !be->vt || !block || n < 0 || (n > 0 && !ts))
        return zt_fail(err, ZT_ERR_INVALID, "adopt weights: missing argument");
    if (!be->vt->weights_adopt) {
        if (be->vt->host_memory)
            return align_host_views(ts, n, block, err);
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "op weights_adopt not implemented by backend %s",
                       be->vt->name);
    }
    return be->vt->weights_adopt(be, ts, n, block, err);
}

void zt_backend_release_weights(zt_backend *be, void *block)
{
    if (!be || !be->vt || !block)
        return;
    if (be->vt->weights_release)
        be->vt->weights_release(be, block);
    else if (be->vt->host_memory)
        free(block); /* align_host_views' copies */
}

/* ---- arena -------------------------------------------------------------- */

/* Every tensor starts on this boundary, in measuring and real mode alike,
 * so a measured size is exactly what a real arena needs. */
#define ARENA_ALIGN 256

void zt_arena_measure(zt_arena *a)
{
    memset(a, 0, sizeof *a);
    a->measuring = 1;
}

zt_status zt_arena_init(zt_arena *a, zt_backend *be, size_t bytes, zt_err *err)
{
    memset(a, 0, sizeof *a);
    a->be = be;
    if (!bytes)
        return ZT_OK;
    void *p = NULL;
    zt_status s = zt_backend_alloc(be, bytes, &p, err);
    if (s != ZT_OK)
        return s;
    a->base = p;
    a->cap = bytes;
    return ZT_OK;
}

void zt_arena_free(zt_arena *a)
{
    if (!a)
        return;
    if (a->base)
        zt_backend_release(a->be, a->base);
    memset(a, 0, sizeof *a);
}

zt_status zt_arena_tensor(zt_arena *a, zt_tensor *out, zt_dtype dt, int ndim,
                          const int64_t *shape, zt_err *err)
{
    if (!a || !out || ndim < 0 || ndim > ZT_MAX_DIMS || (ndim > 0 && !shape) ||
        (unsigned)dt >= ZT_DTYPE_COUNT)
        return zt_fail(err, ZT_ERR_INVALID, "arena: bad tensor request");
    size_t bytes = zt_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || !zt_mul_ok(bytes, (size_t)shape[i], &bytes))
            return zt_fail(err, ZT_ERR_TOO_BIG, "arena: tensor size overflows");
    }
    size_t off = 0, end = 0;
    if (!zt_add_ok(a->used, ARENA_ALIGN - 1, &off) || !zt_add_ok(off & ~(size_t)(ARENA_ALIGN - 1),
                                                                   bytes, &end))
        return zt_fail(err, ZT_ERR_TOO_BIG, "arena: size overflows");
    off &= ~(size_t)(ARENA_ALIGN - 1);
    *out = zt_tensor_make(dt, ndim, shape, NULL);
    if (!a->measuring) {
        if (end > a->cap) {
            char sh[96];
            return zt_fail(err, ZT_ERR_TOO_BIG,
                           "arena: %s %s needs %zu bytes at offset %zu: %zu bytes needed, "
                           "%zu reserved",
                           zt_dtype_name(dt), zt_shape_str(out, sh, sizeof sh), bytes, off,
                           end, a->cap);
        }
        out->data = a->base + off;
    }
    a->used = end;
    if (end > a->peak)
        a->peak = end;
    return ZT_OK;
}

size_t zt_arena_mark(const zt_arena *a)
{
    return a->used;
}

void zt_arena_reset(zt_arena *a, size_t mark)
{
    ZT_ASSERT(mark <= a->used);
    a->used = mark;
}
