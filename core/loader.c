/* loader.c - weight requests and materialisation (see loader.h). */
#include "loader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

void zt_loader_init(zt_loader *L, const zt_weights *w, uint32_t seed, const char *component)
{
    memset(L, 0, sizeof *L);
    L->w = w;
    L->seed = seed;
    L->component = component;
}

static void free_lists(zt_loader *L)
{
    for (int i = 0; i < L->n; i++)
        free(L->names[i]);
    free(L->names);
    free(L->slots);
    L->names = NULL;
    L->slots = NULL;
    L->n = L->cap = 0;
}

void zt_loader_get(zt_loader *L, zt_tensor *slot, int ndim, const int64_t *shape,
                   const char *fmt, ...)
{
    if (L->status != ZT_OK)
        return;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);

    if (L->n == L->cap) {
        int cap = L->cap ? 2 * L->cap : 64;
        zt_tensor **s = realloc(L->slots, (size_t)cap * sizeof *s);
        if (s)
            L->slots = s;
        char **nm = realloc(L->names, (size_t)cap * sizeof *nm);
        if (nm)
            L->names = nm;
        if (!s || !nm) {
            L->status = zt_fail(&L->err, ZT_ERR_NOMEM, "%s: out of memory", L->component);
            return;
        }
        L->cap = cap;
    }
    char *dup = strdup(name);
    if (!dup) {
        L->status = zt_fail(&L->err, ZT_ERR_NOMEM, "%s: out of memory", L->component);
        return;
    }
    if (L->w) {
        zt_status st = zt_weights_get(L->w, name, ndim, shape, slot, &L->err);
        if (st != ZT_OK) {
            free(dup);
            L->status = st;
            return;
        }
    } else {
        *slot = zt_tensor_make(ZT_BF16, ndim, shape, NULL);
    }
    L->slots[L->n] = slot;
    L->names[L->n] = dup;
    L->n++;
}

/* What *block points to: the backend's copy of file weights (if it made
 * one), or the backend block synth_fill wrote synthetic weights into. */
typedef struct loaded_block {
    void *adopted;  /* from zt_backend_adopt_weights, or NULL */
    void *filled;   /* from zt_backend_alloc, filled by zt_op_synth_fill, or NULL */
} loaded_block;

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Synthetic weights made by the backend where they will live: one block for
 * every tensor (each at a 256-byte boundary), no host copy at all. */
static zt_status fill_in_backend(zt_loader *L, zt_backend *be, size_t total, loaded_block *sb,
                                 zt_err *err)
{
    /* Refused up front where memory is known to be short: host memory is
     * handed out on trust and a shortfall shows later, as the out-of-memory
     * killer, while the weights are being written. */
    size_t fr = 0, tot = 0;
    char t_[32], f_[32];
    if (be->vt->mem_info && be->vt->mem_info(be, &fr, &tot, NULL) == ZT_OK && total > fr)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: synthetic weights need %s of %s memory and %s is "
                       "available", L->component, zt_bytes_text(t_, sizeof t_, total),
                       be->vt->host_memory ? "host" : "device", zt_bytes_text(f_, sizeof f_, fr));
    zt_status st = zt_backend_alloc(be, total ? total : 1, &sb->filled, err);
    if (st != ZT_OK)
        return zt_err_prefix(err, "synthetic weights");
    size_t off = 0;
    for (int i = 0; i < L->n; i++) {
        L->slots[i]->data = (char *)sb->filled + off;
        zt_op_synth_fill(be, L->slots[i], zt_synth_key(L->names[i], L->seed),
                         ends_with(L->names[i], "bias"));
        off += (zt_tensor_nbytes(L->slots[i]) + 255) & ~(size_t)255;
    }
    st = zt_backend_sync(be, err);
    if (st != ZT_OK) {
        zt_backend_release(be, sb->filled);
        sb->filled = NULL;
    }
    return st;
}

zt_status zt_loader_finish(zt_loader *L, zt_backend *be, void **block, zt_err *err)
{
    *block = NULL;
    zt_status st = L->status;
    if (st != ZT_OK) {
        if (err)
            *err = L->err;
        free_lists(L);
        return st;
    }
    loaded_block *sb = calloc(1, sizeof *sb);
    if (!sb) {
        free_lists(L);
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", L->component);
    }
    if (L->w) {
        /* the views point into the files */
        st = zt_backend_adopt_weights(be, L->slots, L->n, &sb->adopted, err);
        free_lists(L);
        if (st != ZT_OK) {
            free(sb);
            return st;
        }
        *block = sb;
        return ZT_OK;
    }

    /* Synthetic: made by the backend itself (a backend without synth_fill
     * reports it as a missing op). */
    size_t total = 0;
    for (int i = 0; i < L->n; i++) {
        size_t nb = (zt_tensor_nbytes(L->slots[i]) + 255) & ~(size_t)255;
        if (!zt_add_ok(total, nb, &total)) {
            free(sb);
            free_lists(L);
            return zt_fail(err, ZT_ERR_TOO_BIG, "%s: synthetic weights overflow the address space",
                           L->component);
        }
    }
    st = fill_in_backend(L, be, total, sb, err);
    free_lists(L);
    if (st != ZT_OK) {
        free(sb);
        return st;
    }
    *block = sb;
    return ZT_OK;
}

void zt_loader_release(zt_backend *be, void *block)
{
    loaded_block *sb = block;
    if (!sb)
        return;
    if (sb->adopted)
        zt_backend_release_weights(be, sb->adopted);
    if (sb->filled)
        zt_backend_release(be, sb->filled);
    free(sb);
}
