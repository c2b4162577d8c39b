/*
 * synth.h - hash-defined synthetic weights.
 *
 * Fills any tensor from its canonical name, shape and a seed, so full-size
 * runs and benchmarks need no download. Element i of tensor `name` is a pure
 * function of (name, i, seed, shape), stored as BF16.
 */
#ifndef ZT_SYNTH_H
#define ZT_SYNTH_H

#include <stdint.h>

#include "tensor.h"

uint32_t zt_synth_fnv1a32(const char *s);
/* The per-tensor key: fmix32(fnv1a32(name) ^ seed). */
uint32_t zt_synth_key(const char *name, uint32_t seed);
/* Float value of element i before BF16 rounding. */
float zt_synth_value(uint32_t key, uint64_t i, int rank, int64_t fan_in, int is_bias);
/* Fill a BF16 host tensor t (shape set, data allocated) for name/seed. */
void zt_synth_fill(zt_tensor *t, const char *name, uint32_t seed);

#endif
