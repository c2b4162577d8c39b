/*
 * pipeline.h - text -> image: tokenizer, text encoder, DiT with the Euler
 * schedule, VAE decoder, on one backend.
 *
 * zt_model owns the loaded components (weights resident in backend memory).
 * zt_pipeline_run generates one image: it plans the job's activation arena
 * up front (zt_pipeline_plan), allocates it once, and allocates nothing in
 * the denoising loop. One thread at a time per model.
 */
#ifndef ZT_PIPELINE_H
#define ZT_PIPELINE_H

#include <stdint.h>

#include "backend.h"
#include "config.h"
#include "dit.h"
#include "image.h"
#include "rng.h"
#include "scheduler.h"
#include "safetensors.h"
#include "textenc.h"
#include "tokenizer.h"
#include "vae.h"

typedef struct zt_model {
    zt_backend *be;          /* borrowed */
    zt_model_config cfg;
    zt_tokenizer *tok;       /* NULL with synthetic weights and no tokenizer */
    zt_textenc *te;
    zt_dit *dit;
    zt_vae *vae;
    int synthetic;
    uint32_t synth_seed;
    char dir[ZT_PATH_MAX];   /* model directory, to reload the text encoder */
    zt_weights *w[3];        /* file mappings kept while host backends read them */
    size_t te_bytes;         /* text-encoder weights, also while released */
    int release_te;          /* free the text encoder after each encode */
    zt_arena arena;          /* job activations, reused and grown across jobs */
    struct zt_prompt_cache *cache; /* recent prompts' features, host memory */
} zt_model;

/* Where a load is, for progress. Bytes are those of the model's weight
 * files: read so far and in all (the whole model, not one component). On
 * backends that copy the weights (CUDA) progress comes while each shard
 * streams, at most about ten times a second; on the CPU backend, which
 * reads the files in place, once per component. */
typedef struct zt_load_progress {
    const char *component; /* "tokenizer", "text_encoder", ..., "done" */
    int index, count;      /* component index of count */
    const char *file;      /* shard being read (base name), or "" */
    uint64_t bytes_done, bytes_total;
    double mb_s;           /* average since the load began (1e6 bytes/s); 0 until known */
    double eta_s;          /* time left at that rate; -1 until known */
} zt_load_progress;
/* Returns non-zero to cancel the load. */
typedef int (*zt_load_progress_fn)(void *ud, const zt_load_progress *p);

/* Load the model in dir onto be. progress (may be NULL) is called as above;
 * when it asks to cancel, the load stops within one staged piece (CUDA) or
 * one component (CPU), frees what it built and fails with
 * ZT_ERR_CANCELLED. */
zt_status zt_model_open(zt_model **out, zt_backend *be, const char *dir,
                        zt_load_progress_fn progress, void *ud, zt_err *err);
/* Full-size published configs (cfg NULL) or cfg, with synthetic weights of
 * the given seed. If tokenizer_path is not NULL, that tokenizer.json is
 * loaded too. progress (may be NULL) is told each component before it is
 * made, with no byte counts; asked to cancel, the load frees what it built
 * and fails with ZT_ERR_CANCELLED. */
zt_status zt_model_open_synthetic(zt_model **out, zt_backend *be, uint32_t seed,
                                  const zt_model_config *cfg, const char *tokenizer_path,
                                  zt_load_progress_fn progress, void *ud, zt_err *err);
void zt_model_free(zt_model *m);
/* Free the text encoder now and after every encode; it reloads on demand. */
void zt_model_set_release_text_encoder(zt_model *m, int on);
/* Features of up to this many recent prompts are kept to skip re-encoding. */
#define ZT_PROMPT_CACHE_SIZE 8
size_t zt_model_weight_bytes(const zt_model *m);

typedef struct zt_job_params {
    const char *prompt;      /* UTF-8 */
    const char *negative;    /* UTF-8 or NULL; used only when guidance > 0 */
    int width, height;       /* pixels, multiples of 16 */
    int steps;
    float guidance;          /* 0: off (the Turbo default) */
    uint64_t seed;
    zt_rng_kind rng;
} zt_job_params;

/* Image sides: multiples of 16 (8 for the VAE x 2 for the patch), at most: */
#define ZT_SIDE_MAX 8192
/* Check an image size; the message suggests the nearest valid size. */
zt_status zt_size_check(long width, long height, zt_err *err);

/* Largest guidance scale a job takes (far past any useful value). */
#define ZT_GUIDANCE_MAX 100.0f
/* Check size, steps and guidance; the message suggests the nearest valid
 * size. */
zt_status zt_job_params_check(const zt_job_params *p, zt_err *err);
/* The values of g that a job would refuse (size, steps, guidance, rng),
 * refused now: before a model loads, or when settings are read. */
zt_status zt_gen_params_check_values(const zt_gen_params *g, zt_err *err);

/* Peak backend bytes a job needs on this model, weights included (with the
 * text encoder counted even while released, since it reloads to encode). */
size_t zt_model_job_bytes(const zt_model *m, const zt_job_params *p);

/* Bytes a job may need on this model: mem_limit when set, else free_bytes
 * (the backend's free memory, as its mem_info tells it) plus what the model
 * holds (its weights and arena, which a job reuses). */
size_t zt_model_job_avail(const zt_model *m, size_t mem_limit, size_t free_bytes);

/* The largest image sides this model's transformer has positions for
 * (axes_lens[1..2] patches, at most ZT_SIDE_MAX). */
void zt_model_size_max(const zt_model_config *c, int *max_w, int *max_h);

/* ZT_ERR_INVALID when the job's size is past zt_model_size_max; else
 * ZT_ERR_TOO_BIG, with the bytes needed and available and the largest size
 * of the same aspect that fits, when the job needs more than
 * zt_model_job_avail counts (mem_limit, or free memory when it is 0). ZT_OK
 * also when the backend cannot tell its free memory. */
zt_status zt_model_check_fit(zt_model *m, const zt_job_params *p, size_t mem_limit, zt_err *err);

/* Arena bytes a job needs (the caption lengths at their 512-token maximum
 * when not known). */
size_t zt_pipeline_plan(const zt_model_config *cfg, zt_dtype act, const zt_job_params *p,
                        int cap_len, int neg_len);

typedef struct zt_timings {
    double encode_ms;        /* text encoder (or the prompt cache) */
    double decode_ms;        /* the VAE decoder on the backend */
    double output_ms;        /* 8-bit RGB made on the backend, its bytes downloaded */
    double total_ms;         /* everything, from tokenizing to 8-bit pixels */
    double step_ms[ZT_STEPS_MAX];
    int steps;
    int prompt_tokens, prompt_truncated;
    int negative_truncated;  /* the negative prompt (guidance > 0) was cut too */
    int prompt_cached;       /* the encoder was skipped: features from the cache */
} zt_timings;

/* on_step is called after each step with the step's time, and x0 the
 * predicted clean latent, F32 [C, h, w] in host memory, valid during the
 * call; x0 is NULL unless want_latents (may be NULL: never) asked for it
 * before the call (downloading it costs the step a transfer). Return
 * non-zero to cancel (the run stops with ZT_ERR_CANCELLED). */
typedef struct zt_run_hooks {
    int (*on_step)(void *ud, int step, int total, double ms, const float *x0, int C, int h,
                   int w);
    int (*want_latents)(void *ud, int step, int total);
    /* asked inside the decode (see zt_vae_decode); non-zero cancels (may
     * be NULL: on_step's answer is the only one) */
    int (*stop)(void *ud);
    zt_tap_fn tap;           /* tests: "prompt_embeds", "noise", "latents.stepK", "decoded" */
    void *ud;
} zt_run_hooks;

/* Run a job. *rgb receives a malloc'd [height, width, 3] image on success. */
zt_status zt_pipeline_run(zt_model *m, const zt_job_params *p, const zt_run_hooks *hooks,
                          uint8_t **rgb, zt_timings *tm, zt_err *err);

/* Encode a prompt with the chat template into ids[ZT_TOKENIZER_MAX_IDS]. */
zt_status zt_pipeline_tokenize(const zt_model *m, const char *prompt, int32_t *ids, int *n,
                               int *truncated, zt_err *err);

#endif
