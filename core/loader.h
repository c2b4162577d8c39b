/*
 * loader.h - gathers a model component's weights into backend memory.
 *
 * Model code requests each weight by canonical name and expected shape into
 * its own zt_tensor slot. The source is either an opened safetensors set
 * (shape checked at request time; data stays a view into the mapping until
 * finish) or synthetic weights (synth.h, seed). zt_loader_finish then moves
 * every requested tensor into one backend allocation (or, on host-memory
 * backends, keeps the file views) and returns the block to release later.
 */
#ifndef ZT_LOADER_H
#define ZT_LOADER_H

#include <stdint.h>

#include "backend.h"
#include "safetensors.h"

typedef struct zt_loader {
    const zt_weights *w;   /* NULL: synthetic */
    uint32_t seed;         /* synthetic seed */
    const char *component; /* for messages: "transformer" */
    zt_tensor **slots;     /* requested tensors, in order */
    char **names;          /* their canonical names (owned) */
    int n, cap;
    zt_status status;      /* first failure; later requests are ignored */
    zt_err err;
} zt_loader;

void zt_loader_init(zt_loader *L, const zt_weights *w, uint32_t seed, const char *component);

/* Request weight `name` (printf-style) with the given shape into *slot.
 * Failures are remembered and reported by zt_loader_finish. */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
void zt_loader_get(zt_loader *L, zt_tensor *slot, int ndim, const int64_t *shape,
                   const char *fmt, ...);

/* Materialise every request in backend memory. *block receives the owning
 * allocation, freed by zt_loader_release. Frees the loader's own lists. */
zt_status zt_loader_finish(zt_loader *L, zt_backend *be, void **block, zt_err *err);
void zt_loader_release(zt_backend *be, void *block);

/* Convenience for shapes: zt_loader_get(L, &t, ZT_SHAPE(a, b), "name"). */
#define ZT_SHAPE(...) \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

#endif
