/*
 * dit.h - the Z-Image denoiser (ZImageTransformer2DModel), spec §4.
 *
 * zt_dit holds the weights. A zt_dit_job holds what one image needs across
 * its denoising steps: the scratch tensors, the RoPE tables, and each
 * caption's stream after the context refiner (it does not depend on the
 * step, so it is computed once). Everything is carved from the caller's
 * arena in zt_dit_job_init; zt_dit_forward allocates nothing.
 */
#ifndef ZT_DIT_H
#define ZT_DIT_H

#include "backend.h"
#include "config.h"
#include "safetensors.h"
#include "scheduler.h" /* ZT_STEPS_MAX */
#include "textenc.h" /* zt_tap_fn */

typedef struct zt_dit zt_dit;

zt_status zt_dit_new(zt_dit **out, zt_backend *be, const zt_dit_config *cfg,
                     const zt_weights *w, uint32_t synth_seed, zt_err *err);
void zt_dit_free(zt_dit *d);
size_t zt_dit_weight_bytes(const zt_dit *d);
/* --precision fp8, before loading: the bytes the modulated blocks' E4M3
 * product weights and their per-channel scales take (what zt_dit_new adds
 * to the weights), and in *replaced (may be NULL) the bytes of the product
 * weights they stand for (what it then leaves out), in the dtype the
 * transformer's weights w store them in (BF16 when w is NULL or lacks
 * them). */
size_t zt_dit_fp8_weight_bytes(const zt_dit_config *cfg, const zt_weights *w, size_t *replaced);

#define ZT_DIT_MAX_CAPTIONS 2

typedef struct zt_dit_caption {
    int L, Lp;            /* caption rows, padded to a multiple of 32 */
    zt_tensor y;          /* [Lp, D] after the context refiner */
    zt_tensor rope;       /* F32 [Np + Lp, hd/2, 2]: image rows then caption rows */
} zt_dit_caption;

typedef struct zt_dit_job {
    zt_dit *dit;
    int h, w;             /* latent height, width */
    int N, Np;            /* image tokens, padded */
    int n_caps;
    zt_dit_caption caps[ZT_DIT_MAX_CAPTIONS];
    /* scratch (act dtype unless noted), S = Np + max Lp */
    zt_tensor u;          /* [S, D] unified stream */
    zt_tensor h1, q, k, v, att, o; /* [S, D]; q .. att are rows of qkva */
    zt_tensor qkva;       /* [4S, D] */
    zt_tensor f1, f3;     /* [S, F] */
    zt_tensor patches;    /* [N, p*p*C] */
    zt_tensor temb;       /* F32 [ZT_STEPS_MAX, 256] sinusoidal embeddings, per step */
    zt_tensor t1;         /* [1, 1024] */
    zt_tensor c, c_silu;  /* [1, A] */
    /* a step's modulation, M = the modulated blocks (dit.c modulate) */
    zt_tensor mraw;       /* [4M + 1, D] as the products give it: block m's
                             scale_msa, gate_msa, scale_mlp, gate_mlp in rows
                             4m .. 4m+3, the final layer's scale in row 4M */
    zt_tensor mod;        /* [4M + 1, D] the same rows, scales first: 1 + scale
                             in rows 0 .. 2M (msa 2m, mlp 2m+1, final 2M),
                             tanh(gate) in rows 2M+1 .. 4M (msa, mlp) */
    zt_tensor mids;       /* I32 [4M + 1] mod's row r comes from mraw's row mids[r] */
    zt_tensor fout;       /* [N, p*p*C] */
    zt_tensor xpads;      /* [Np - N, D] x_pad_token rows, filled once per job */
    zt_tensor qs;         /* F32 [S] per-row scales of a quantized product input
                             (fp8; the E4M3 rows reuse buffers free at the time) */
    zt_tensor ts;         /* F32 [3]: the one scales of FP8 attention's q, k, v */
} zt_dit_job;

/* Carve the job's tensors for a latent of h x w and captions of the given
 * lengths from arena (measuring arenas work: data stays NULL). */
zt_status zt_dit_job_carve(zt_dit_job *j, zt_dit *d, zt_arena *arena, int h, int w,
                           const int *cap_lens, int n_caps, zt_err *err);
/* Arena bytes for such a job. */
size_t zt_dit_job_bytes(const zt_dit_config *cfg, zt_dtype act, int h, int w,
                        const int *cap_lens, int n_caps);
/* Upload RoPE tables and run cap_embedder + context refiner for caption i
 * (features [L, cap_feat_dim] in backend memory). Once per job per caption. */
zt_status zt_dit_job_set_caption(zt_dit_job *j, int i, const zt_tensor *feats,
                                 zt_tap_fn tap, void *tap_ud, zt_err *err);

/* Per-job constants, once before the steps: the timestep embeddings of
 * model times t[0..n) (n <= ZT_STEPS_MAX), the image pad rows and mids, so
 * a step transfers nothing from the host and copies its pad rows in one op. */
zt_status zt_dit_job_set_times(zt_dit_job *j, const float *t, int n, zt_err *err);

/* One forward at step k (model time t[k] of set_times): x F32 [C, h, w]
 * latent, caption i -> out F32 [C, h, w]. Ops are queued; no host transfer,
 * no synchronisation, no allocation. */
void zt_dit_forward_step(zt_dit_job *j, int cap, const zt_tensor *x, int k, zt_tensor *out,
                         zt_tap_fn tap, void *tap_ud);

/* One forward at model time t (set_times with one entry, then step 0). */
void zt_dit_forward(zt_dit_job *j, int cap, const zt_tensor *x, float t, zt_tensor *out,
                    zt_tap_fn tap, void *tap_ud);

#endif
