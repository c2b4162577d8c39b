/*
 * vae.h - the Flux VAE decoder (AutoencoderKL, decoder only), spec §5.
 *
 * latents F32 [C, h, w] (the pipeline's latent space) -> image F32 [3, 8h, 8w]
 * in [-1, 1] before clamping. Scratch comes from the caller's arena.
 */
#ifndef ZT_VAE_H
#define ZT_VAE_H

#include <stdint.h>

#include "backend.h"
#include "config.h"
#include "safetensors.h"
#include "textenc.h" /* zt_tap_fn */

typedef struct zt_vae zt_vae;

zt_status zt_vae_new(zt_vae **out, zt_backend *be, const zt_vae_config *cfg,
                     const zt_weights *w, uint32_t synth_seed, zt_err *err);
void zt_vae_free(zt_vae *v);
size_t zt_vae_weight_bytes(const zt_vae *v);
/* Arena bytes for decoding an h x w latent. */
size_t zt_vae_scratch_bytes(const zt_vae_config *cfg, zt_dtype act, int h, int w);
/* Upsampling factor (8 for 4 blocks). */
int zt_vae_scale(const zt_vae_config *cfg);

/* z F32 [C, h, w] -> out F32 [out_channels, s*h, s*w]. unscale != 0 first
 * applies z / scaling_factor + shift_factor (pipeline latents); 0 takes z
 * as the decoder input directly. Taps: conv_in, mid_block, up_blocks.K,
 * conv_norm_out, conv_out. stop (may be NULL) is asked before each residual
 * block of the upsampling path (a large image takes a while on the CPU);
 * non-zero ends the decode with ZT_ERR_CANCELLED. */
zt_status zt_vae_decode(zt_vae *v, const zt_tensor *z, int unscale, zt_arena *arena,
                        zt_tensor *out, zt_tap_fn tap, void *tap_ud, int (*stop)(void *ud),
                        void *stop_ud, zt_err *err);

#endif
