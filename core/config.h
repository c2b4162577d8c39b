/*
 * config.h - typed model configuration from the published JSON files.
 *
 * Parses model_index.json, text_encoder/config.json, transformer/config.json,
 * vae/config.json and scheduler/scheduler_config.json. Unknown keys are
 * ignored; a missing or mistyped required key is an error naming the file
 * and the key. Every size the engine uses comes from here.
 */
#ifndef ZT_CONFIG_H
#define ZT_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "status.h"

#define ZT_PATH_MAX 4096

typedef struct zt_te_config {    /* Qwen3 */
    int hidden;                   /* hidden_size */
    int intermediate;             /* intermediate_size */
    int n_layers;                 /* num_hidden_layers */
    int n_heads;                  /* num_attention_heads */
    int n_kv_heads;               /* num_key_value_heads */
    int head_dim;                 /* head_dim (else hidden / heads) */
    int vocab;                    /* vocab_size */
    float rms_eps;                /* rms_norm_eps */
    double rope_theta;            /* rope_theta */
} zt_te_config;

/* The DiT pads each token stream (image, caption) to a multiple of this
 * (the reference's SEQ_MULTI_OF). */
#define ZT_DIT_SEQ_MULTI 32

typedef struct zt_dit_config {
    int dim, n_layers, n_refiner_layers, n_heads, n_kv_heads;
    float norm_eps;
    int qk_norm;
    int cap_feat_dim;
    double rope_theta;
    float t_scale;
    int axes_dims[3], axes_lens[3];
    int in_channels;
    int patch, f_patch;           /* all_patch_size[0], all_f_patch_size[0] */
} zt_dit_config;

typedef struct zt_vae_config {
    int block_out[8];
    int n_blocks;                 /* length of block_out_channels */
    int layers_per_block;
    int latent_channels;
    int out_channels;
    int norm_groups;
    float scaling_factor, shift_factor;
    int use_post_quant_conv;
    int mid_attention;            /* mid_block_add_attention (default 1) */
} zt_vae_config;

typedef struct zt_sched_config {
    float shift;
    int num_train_timesteps;
    int use_dynamic_shifting;
} zt_sched_config;

typedef struct zt_model_config {
    char dir[ZT_PATH_MAX];
    zt_te_config te;
    zt_dit_config dit;
    zt_vae_config vae;
    zt_sched_config sched;
} zt_model_config;

/* Each parser reads one file; path names it in messages. */
zt_status zt_te_config_load(zt_te_config *c, const char *path, zt_err *err);
zt_status zt_dit_config_load(zt_dit_config *c, const char *path, zt_err *err);
zt_status zt_vae_config_load(zt_vae_config *c, const char *path, zt_err *err);
zt_status zt_sched_config_load(zt_sched_config *c, const char *path, zt_err *err);
/* Checks model_index.json names the expected components, then loads all four
 * and checks they fit together (zt_model_config_check). */
zt_status zt_model_config_load(zt_model_config *c, const char *dir, zt_err *err);
/* The components' sizes where they meet: the text encoder's hidden size is
 * the transformer's caption width, and the transformer works on the VAE's
 * latent channels. */
zt_status zt_model_config_check(const zt_model_config *c, zt_err *err);

/* Parse from a string (fuzzing, tests); what names it in messages. */
zt_status zt_te_config_parse(zt_te_config *c, const char *json, const char *what, zt_err *err);
zt_status zt_dit_config_parse(zt_dit_config *c, const char *json, const char *what, zt_err *err);
zt_status zt_vae_config_parse(zt_vae_config *c, const char *json, const char *what, zt_err *err);
zt_status zt_sched_config_parse(zt_sched_config *c, const char *json, const char *what,
                                zt_err *err);

/* Checks a model_index.json text is an object naming the transformer, vae,
 * text_encoder, tokenizer and scheduler components. */
zt_status zt_model_index_parse(const char *json, const char *what, zt_err *err);

/* Built-in published full-size configs (for --synthetic). */
void zt_model_config_full(zt_model_config *c);

/* Derived sizes. */
int zt_dit_ffn_hidden(const zt_dit_config *c);  /* int(dim / 3 * 8) */
int zt_dit_adaln_dim(const zt_dit_config *c);   /* min(dim, 256) */

/* Read a whole file into a NUL-terminated malloc'd buffer (max_bytes cap). */
zt_status zt_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                       zt_err *err);
/* The same for an open stream read to its end (a pipe, stdin); name is
 * for messages. More than max_bytes is ZT_ERR_TOO_BIG. */
zt_status zt_read_stream(FILE *f, const char *name, size_t max_bytes, char **out, size_t *len,
                         zt_err *err);

#endif
