/*
 * synthdir.h - write a model directory in the published layout, filled with
 * synthetic weights (synth.h), so loading can be measured from files without
 * the 20 GB download.
 *
 * Layout: model_index.json, scheduler/scheduler_config.json,
 * text_encoder/{config.json, model-0000K-of-0000N.safetensors,
 * model.safetensors.index.json} (names with the "model." prefix, as
 * published), transformer/{config.json, diffusion_pytorch_model-0000K-of-
 * 0000N.safetensors, diffusion_pytorch_model.safetensors.index.json},
 * vae/{config.json, diffusion_pytorch_model.safetensors} (decoder and
 * encoder, as published), tokenizer/ copied from a given folder. Tensor
 * names and shapes come from the manifests (manifest.h): the required
 * entries plus the VAE encoder; every tensor is BF16.
 *
 * Writing streams tensor by tensor through one bounded buffer, so memory
 * stays small for any model size. Everything goes into a temporary folder
 * beside the destination that is renamed into place at the end: a failed or
 * interrupted run leaves no half-written model under the destination name.
 * An existing destination is refused.
 */
#ifndef ZT_SYNTHDIR_H
#define ZT_SYNTHDIR_H

#include <stdint.h>

#include "config.h"
#include "status.h"

/* The published shards stay under 5 GB each. */
#define ZT_SYNTHDIR_SHARD_BYTES (5000000000ull)

/* Called after each tensor: component, bytes written so far and in all.
 * Return non-zero to stop (the run fails with ZT_ERR_CANCELLED and removes
 * what it wrote). */
typedef int (*zt_synthdir_progress_fn)(void *ud, const char *component, uint64_t done,
                                       uint64_t total);

typedef struct zt_synthdir_opts {
    const zt_model_config *cfg;  /* sizes (e.g. zt_model_config_full) */
    uint32_t seed;
    const char *tokenizer_dir;   /* every regular file in it is copied */
    uint64_t shard_bytes;        /* tensor bytes per shard at most; 0: the default */
    zt_synthdir_progress_fn progress; /* may be NULL */
    void *ud;
} zt_synthdir_opts;

zt_status zt_synthdir_write(const char *out_dir, const zt_synthdir_opts *o, zt_err *err);

/* Tensor bytes the model will hold (what progress counts up to). */
zt_status zt_synthdir_bytes(const zt_model_config *cfg, uint64_t *bytes, zt_err *err);

#endif
