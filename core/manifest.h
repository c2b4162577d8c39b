/*
 * manifest.h - the tensors a model component must hold, derived from its
 * config: every name with its shape.
 *
 * Model loaders use a manifest to check a weight file before touching it, and
 * `zimt info` and `zimt doctor` use it to report missing and wrongly shaped
 * tensors (failures) and unexpected ones (a warning). Names are canonical
 * (text encoder without the "model." prefix, see zt_weights_open). A
 * manifest owns its entry array; free it with zt_manifest_free.
 */
#ifndef ZT_MANIFEST_H
#define ZT_MANIFEST_H

#include <stdint.h>

#include "config.h"
#include "safetensors.h"
#include "status.h"
#include "tensor.h"

typedef struct zt_manifest_entry {
    char name[96];
    int ndim;
    int64_t shape[ZT_MAX_DIMS];
    int optional; /* may be absent (lm_head, VAE encoder); checked if present */
    int idle;     /* required, but generation never loads it (the text encoder's
                     last layer and final norm: it takes the second-to-last
                     hidden state) */
} zt_manifest_entry;

typedef struct zt_manifest {
    zt_manifest_entry *v; /* sorted by name once built */
    int n, cap;
    /* Tensors under these prefixes are tolerated even when unlisted (parts
     * the engine never runs, such as the VAE encoder). NULL-terminated. */
    const char *const *extra_prefixes;
} zt_manifest;

/* Build the list for one component into m (caller storage, zeroed first).
 * Fails only on out-of-memory or on sizes that overflow. */
zt_status zt_manifest_te(zt_manifest *m, const zt_te_config *c, zt_err *err);
zt_status zt_manifest_dit(zt_manifest *m, const zt_dit_config *c, zt_err *err);
zt_status zt_manifest_vae(zt_manifest *m, const zt_vae_config *c, zt_err *err);
void zt_manifest_free(zt_manifest *m);

const zt_manifest_entry *zt_manifest_find(const zt_manifest *m, const char *name);
/* Whether an unlisted name falls under one of m->extra_prefixes. */
int zt_manifest_allows_extra(const zt_manifest *m, const char *name);
/* Elements of the required entries together (the component's parameters). */
uint64_t zt_manifest_numel(const zt_manifest *m);
/* Bytes, as stored in w, of the required entries a generation loads (not
 * optional, not idle): the weights a loaded model holds in memory. Entries
 * absent from w count 0. */
uint64_t zt_manifest_loaded_bytes(const zt_manifest *m, const zt_weights *w);
/* Required entries (not optional). */
int zt_manifest_required_count(const zt_manifest *m);

typedef enum zt_manifest_problem {
    ZT_MANIFEST_MISSING,    /* required, absent: want set, found NULL */
    ZT_MANIFEST_UNEXPECTED, /* present, not listed: want NULL, found set (not a
                               failure: see zt_manifest_check) */
    ZT_MANIFEST_SHAPE,      /* both set, shapes differ */
    ZT_MANIFEST_DTYPE,      /* both set, found holds no floats (weights are F32, BF16, F16) */
} zt_manifest_problem;

/* Called once per problem, in name order; file is the path holding found
 * (NULL for missing). */
typedef void (*zt_manifest_cb)(void *ctx, zt_manifest_problem kind, const char *name,
                               const zt_manifest_entry *want, const zt_st_entry *found,
                               const char *file);

/* Compare w against m; returns the number of problems that stop a load
 * (missing, misshapen, wrong dtype; 0: the weights hold all the config
 * needs). Unexpected tensors are passed to cb too, but not counted: loaders
 * look tensors up by name, so one the config does not use never stops a
 * generation; it hints that config and weights differ (qk_norm off with
 * norm weights present, say), which is for the caller to say. *unused,
 * when not NULL, receives their number. cb may be NULL. */
int zt_manifest_check(const zt_manifest *m, const zt_weights *w, zt_manifest_cb cb, void *ctx,
                      int *unused);

/* The same check for loaders: the first problem that stops a load becomes
 * an error naming the file or directory, the tensor and expected vs found
 * shape; unexpected tensors are no error. */
zt_status zt_manifest_verify(const zt_manifest *m, const zt_weights *w, zt_err *err);

/* "[3840, 64]" for an entry. */
const char *zt_manifest_shape_str(const zt_manifest_entry *e, char *buf, size_t n);

#endif
