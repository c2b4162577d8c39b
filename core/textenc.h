/*
 * textenc.h - the Qwen3 text encoder: token ids -> caption features.
 *
 * Caption features are hidden_states[-2] of the reference: the residual
 * stream after layer n_layers-2, with no final norm, so only n_layers-1
 * layers are loaded and run. Weights live in backend memory for the
 * encoder's lifetime; scratch comes from the caller's arena per call.
 */
#ifndef ZT_TEXTENC_H
#define ZT_TEXTENC_H

#include "backend.h"
#include "config.h"
#include "safetensors.h"

typedef struct zt_textenc zt_textenc;

/* Optional hook to observe intermediate activations (tests): name is
 * "hidden.K" for the residual stream after K layers (0 = embeddings). */
typedef void (*zt_tap_fn)(void *ud, const char *name, const zt_tensor *t);

/* Load from weights w (names without "model."), or synthetic weights when w
 * is NULL. all_layers != 0 also loads the last layer and the final norm
 * (needed only to reproduce every hidden state). */
zt_status zt_textenc_new(zt_textenc **out, zt_backend *be, const zt_te_config *cfg,
                         const zt_weights *w, uint32_t synth_seed, int all_layers,
                         zt_err *err);
void zt_textenc_free(zt_textenc *te);

/* Bytes of weights held in backend memory. */
size_t zt_textenc_weight_bytes(const zt_textenc *te);
/* Arena bytes zt_textenc_encode needs for L ids. */
size_t zt_textenc_scratch_bytes(const zt_te_config *cfg, int L);

/* ids [L] on the host -> out [L, hidden] (act dtype or F32, backend memory).
 * layers < 0 runs n_layers-1 layers with no final norm (the caption
 * features); otherwise `layers` layers and, if final_norm, the final norm.
 * Scratch is carved from arena and returned before this returns. */
zt_status zt_textenc_encode(zt_textenc *te, const int32_t *ids, int L, int layers,
                            int final_norm, zt_arena *arena, zt_tensor *out,
                            zt_tap_fn tap, void *tap_ud, zt_err *err);

#endif
