/* test_config.c - config parsers: good files, missing and mistyped keys, ranges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define TINY TEST_DATA "/tiny-zimage"

/* The status must be an error whose message holds every fragment. */
#define EXPECT_ERR(call, ...)                                                      \
    do {                                                                           \
        zt_err e_ = {0};                                                           \
        zt_status s_ = call;                                                       \
        CHECK(s_ != ZT_OK, "accepted: %s", #call);                                 \
        const char *frags_[] = {__VA_ARGS__};                                      \
        for (size_t i_ = 0; i_ < sizeof frags_ / sizeof frags_[0]; i_++)           \
            CHECK(strstr(e_.msg, frags_[i_]), "message '%s' lacks '%s'", e_.msg,   \
                  frags_[i_]);                                                     \
    } while (0)

static const char *te_json =
    "{\"hidden_size\": 32, \"intermediate_size\": 96, \"num_hidden_layers\": 3,"
    " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 16,"
    " \"vocab_size\": 151936, \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0,"
    " \"rope_scaling\": null, \"architectures\": [\"Qwen3ForCausalLM\"]}";

/* te_json with one substring replaced (for crafted variants). */
static char *subst(const char *src, const char *from, const char *to)
{
    const char *at = strstr(src, from);
    size_t n = strlen(src) + strlen(to) + 1;
    char *out = malloc(n);
    if (!at) {
        snprintf(out, n, "%s", src);
        return out;
    }
    snprintf(out, n, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
    return out;
}

static void test_te(void)
{
    zt_te_config c;
    zt_err err = {0};
    CHECK(zt_te_config_parse(&c, te_json, "te.json", &err) == ZT_OK, "%s", err.msg);
    CHECK(c.hidden == 32 && c.intermediate == 96 && c.n_layers == 3 && c.n_heads == 4 &&
              c.n_kv_heads == 2 && c.head_dim == 16 && c.vocab == 151936,
          "values");
    CHECK(c.rms_eps == 1e-6f && c.rope_theta == 1e6, "floats");

    char *s = subst(te_json, "\"head_dim\": 16,", "");
    CHECK(zt_te_config_parse(&c, s, "te.json", &err) == ZT_OK && c.head_dim == 8,
          "default head_dim: %s", err.msg);
    free(s);

    s = subst(te_json, "\"num_hidden_layers\": 3,", "");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "te.json", "'num_hidden_layers'",
               "missing");
    free(s);
    s = subst(te_json, "\"vocab_size\": 151936", "\"vocab_size\": \"151936\"");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "te.json", "'vocab_size'",
               "number");
    free(s);
    s = subst(te_json, "\"vocab_size\": 151936", "\"vocab_size\": 1.5");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "'vocab_size'", "integer");
    free(s);
    s = subst(te_json, "\"vocab_size\": 151936", "\"vocab_size\": 1e12");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "'vocab_size'", "integer");
    free(s);
    /* keys that would change the encoder's maths take only Qwen3's values:
     * read and then ignored, they gave the same images as the real model */
    const char *other[][2] = {
        {"\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2}"},
        {"\"rope_scaling\": null", "\"rope_scaling\": null, \"hidden_act\": \"gelu\""},
        {"\"rope_scaling\": null", "\"rope_scaling\": null, \"attention_bias\": true"},
        {"\"rope_scaling\": null", "\"rope_scaling\": null, \"use_sliding_window\": true"},
    };
    const char *keys[] = {"'rope_scaling'", "'hidden_act' is \"gelu\"", "'attention_bias'",
                          "'use_sliding_window'"};
    for (int i = 0; i < 4; i++) {
        s = subst(te_json, other[i][0], other[i][1]);
        EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "te.json", keys[i],
                   "only", "supported");
        free(s);
    }
    s = subst(te_json, "\"rope_scaling\": null",
              "\"rope_scaling\": null, \"hidden_act\": \"silu\", \"attention_bias\": false, "
              "\"use_sliding_window\": false");
    CHECK(zt_te_config_parse(&c, s, "te.json", &err) == ZT_OK, "Qwen3's own values: %s",
          err.msg);
    free(s);
    /* the same computation spelled otherwise is taken: "swish" is SiLU in
     * transformers, a "default" rope type is no scaling */
    const char *same[] = {"\"rope_scaling\": null, \"hidden_act\": \"swish\"",
                          "\"rope_scaling\": {\"rope_type\": \"default\"}",
                          "\"rope_scaling\": {\"type\": \"default\"}"};
    for (int i = 0; i < 3; i++) {
        s = subst(te_json, "\"rope_scaling\": null", same[i]);
        CHECK(zt_te_config_parse(&c, s, "te.json", &err) == ZT_OK, "%s: %s", same[i], err.msg);
        free(s);
    }
    s = subst(te_json, "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "te.json", "num_key_value_heads");
    free(s);
    s = subst(te_json, "\"hidden_size\": 32", "\"hidden_size\": 0");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "'hidden_size'", "positive");
    free(s);
    /* sizes far past any model are refused, not allocated for */
    s = subst(te_json, "\"num_hidden_layers\": 3", "\"num_hidden_layers\": 2000000000");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "'num_hidden_layers'", "at most");
    free(s);
    s = subst(te_json, "\"hidden_size\": 32", "\"hidden_size\": 1073741824");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "'hidden_size'", "at most");
    free(s);
    /* floats that a float cannot hold */
    s = subst(te_json, "\"rms_norm_eps\": 1e-06", "\"rms_norm_eps\": 1e-60");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "'rms_norm_eps'", "out of range");
    free(s);
    s = subst(te_json, "{", "{\"model_type\": \"llama\", ");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "'model_type' is \"llama\"", "qwen3");
    free(s);
    s = subst(te_json, "{", "{\"model_type\": \"qwen3\", ");
    CHECK(zt_te_config_parse(&c, s, "te.json", &err) == ZT_OK, "model_type qwen3: %s", err.msg);
    free(s);
    /* a theta below 1 makes RoPE's frequencies grow; at 1e-300 past a float */
    s = subst(te_json, "\"rope_theta\": 1000000.0", "\"rope_theta\": 1e-300");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "te.json", "rope_theta",
               "at least 1", "1e-300");
    free(s);
    s = subst(te_json, "\"rope_theta\": 1000000.0", "\"rope_theta\": 0.5");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "rope_theta", "at least 1");
    free(s);
    s = subst(te_json, "\"rope_theta\": 1000000.0", "\"rope_theta\": 1");
    CHECK(zt_te_config_parse(&c, s, "te.json", &err) == ZT_OK, "rope_theta 1: %s", err.msg);
    free(s);
    s = subst(te_json, "\"hidden_size\": 32", "\"hidden_size\": null");
    EXPECT_ERR(zt_te_config_parse(&c, s, "te.json", &e_), "'hidden_size'");
    free(s);
    /* Unknown keys are ignored. */
    s = subst(te_json, "{", "{\"something_new\": {\"x\": [1,2]}, ");
    CHECK(zt_te_config_parse(&c, s, "te.json", &err) == ZT_OK, "unknown key: %s", err.msg);
    free(s);

    EXPECT_ERR(zt_te_config_parse(&c, "{\"hidden_size\": ", "te.json", &e_), "te.json",
               "not valid JSON");
    EXPECT_ERR(zt_te_config_parse(&c, "[1]", "te.json", &e_), "te.json", "not a JSON object");
    EXPECT_ERR(zt_te_config_parse(&c, "", "te.json", &e_), "te.json");
}

static void test_dit(void)
{
    zt_dit_config c;
    zt_err err = {0};
    CHECK(zt_dit_config_load(&c, TINY "/transformer/config.json", &err) == ZT_OK, "%s",
          err.msg);
    CHECK(c.dim == 64 && c.n_layers == 2 && c.n_refiner_layers == 2 && c.n_heads == 4 &&
              c.n_kv_heads == 4 && c.qk_norm == 1 && c.cap_feat_dim == 32 &&
              c.in_channels == 16 && c.patch == 2 && c.f_patch == 1,
          "ints");
    CHECK(c.axes_dims[0] == 4 && c.axes_dims[1] == 6 && c.axes_dims[2] == 6 &&
              c.axes_lens[0] == 1024 && c.axes_lens[2] == 512,
          "axes");
    CHECK(c.rope_theta == 256.0 && c.t_scale == 1000.0f && c.norm_eps == 1e-5f, "floats");
    CHECK(zt_dit_ffn_hidden(&c) == 170 && zt_dit_adaln_dim(&c) == 64, "derived");

    char *text = NULL;
    CHECK(zt_read_file(TINY "/transformer/config.json", 1 << 16, &text, NULL, &err) == ZT_OK,
          "%s", err.msg);
    if (!text)
        return;
    char *s = subst(text, "\"dim\": 64", "\"dim\": \"64\"");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "dit.json", "'dim'", "number");
    free(s);
    s = subst(text, "\"qk_norm\": true", "\"qk_norm\": 1");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'qk_norm'", "true or false");
    free(s);
    s = subst(text, "\"t_scale\"", "\"t_scalx\"");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'t_scale'", "missing");
    free(s);
    s = subst(text, "\"n_heads\": 4", "\"n_heads\": 8");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "dit.json", "axes_dims");
    free(s);
    s = subst(text, "\"n_heads\": 4", "\"n_heads\": 5");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "dit.json", "n_heads");
    free(s);
    s = subst(text, "\"all_patch_size\": [\n  2\n ]", "\"all_patch_size\": []");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'all_patch_size'");
    free(s);
    s = subst(text, "\"axes_lens\": [", "\"axes_lens\": [7, ");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'axes_lens'", "3 entries");
    free(s);
    /* too few caption positions for a 512-token prompt (every long prompt
     * failed after loading); 514 is the least that holds one */
    s = subst(text, "\"axes_lens\": [\n  1024,", "\"axes_lens\": [\n  513,");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'axes_lens'[0] = 513", "at least 514");
    free(s);
    s = subst(text, "\"axes_lens\": [\n  1024,", "\"axes_lens\": [\n  514,");
    CHECK(zt_dit_config_parse(&c, s, "dit.json", NULL) == ZT_OK && c.axes_lens[0] == 514,
          "axes_lens[0] 514 refused");
    free(s);
    /* axes_dims whose int sum would wrap round to the head dim (16) */
    char *s1 = subst(text, "\"axes_dims\": [\n  4,\n  6,",
                     "\"axes_dims\": [2147483646, 2147483646,");
    s = subst(s1, "6\n ],\n \"axes_lens", "20\n ],\n \"axes_lens");
    free(s1);
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'axes_dims'[0]", "at most");
    free(s);
    s = subst(text, "ZImageTransformer2DModel", "FluxTransformer2DModel");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'_class_name'",
               "ZImageTransformer2DModel");
    free(s);
    s = subst(text, "\"rope_theta\": 256.0", "\"rope_theta\": 1e-300");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "dit.json", "rope_theta",
               "at least 1");
    free(s);
    s = subst(text, "\"t_scale\": 1000.0", "\"t_scale\": 1e300");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'t_scale'", "out of range");
    free(s);
    s = subst(text, "\"n_layers\": 2", "\"n_layers\": 1e10");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'n_layers'", "out of range");
    free(s);
    /* each patch size within bounds, their product (the patch vector) not */
    s = subst(text, "\"all_patch_size\": [\n  2\n ]", "\"all_patch_size\": [1048576]");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "patch vector", "1048576");
    free(s);
    s = subst(text, "\"all_patch_size\": [\n  2\n ]", "\"all_patch_size\": [512]");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "patch vector");
    free(s);
    s = subst(text, "\"axes_dims\": [", "\"axes_dims\": \"x\", \"z\": [");
    EXPECT_ERR(zt_dit_config_parse(&c, s, "dit.json", &e_), "'axes_dims'", "array");
    free(s);
    free(text);
}

static const char *vae_json =
    "{\"block_out_channels\": [32, 32, 64, 64], \"layers_per_block\": 1,"
    " \"latent_channels\": 16, \"norm_num_groups\": 32, \"scaling_factor\": 0.3611,"
    " \"shift_factor\": 0.1159, \"act_fn\": \"silu\"}";

static void test_vae(void)
{
    zt_vae_config c;
    zt_err err = {0};
    CHECK(zt_vae_config_parse(&c, vae_json, "vae.json", &err) == ZT_OK, "%s", err.msg);
    CHECK(c.n_blocks == 4 && c.block_out[2] == 64 && c.layers_per_block == 1 &&
              c.latent_channels == 16 && c.norm_groups == 32,
          "ints");
    CHECK(c.out_channels == 3 && c.use_post_quant_conv == 1 && c.mid_attention == 1,
          "defaults");
    CHECK(c.scaling_factor == 0.3611f && c.shift_factor == 0.1159f, "floats");
    char *k = subst(vae_json, "{", "{\"_class_name\": \"AutoencoderTiny\", ");
    EXPECT_ERR(zt_vae_config_parse(&c, k, "vae.json", &e_), "'_class_name'", "AutoencoderKL");
    free(k);

    CHECK(zt_vae_config_load(&c, TINY "/vae/config.json", &err) == ZT_OK, "%s", err.msg);
    CHECK(c.use_post_quant_conv == 0 && c.mid_attention == 1, "fixture flags");

    char *s = subst(vae_json, "[32, 32, 64, 64]", "[32, 32, 32, 32, 32, 32, 32, 32, 32]");
    EXPECT_ERR(zt_vae_config_parse(&c, s, "vae.json", &e_), "'block_out_channels'");
    free(s);
    s = subst(vae_json, "[32, 32, 64, 64]", "[32, 48]");
    EXPECT_ERR(zt_vae_config_parse(&c, s, "vae.json", &e_), "vae.json", "norm_num_groups");
    free(s);
    s = subst(vae_json, "\"scaling_factor\": 0.3611", "\"scaling_factor\": \"0.3611\"");
    EXPECT_ERR(zt_vae_config_parse(&c, s, "vae.json", &e_), "'scaling_factor'", "number");
    free(s);
    s = subst(vae_json, "\"latent_channels\": 16,", "\"latent_channels\": 16, \"out_channels\": 1,");
    EXPECT_ERR(zt_vae_config_parse(&c, s, "vae.json", &e_), "'out_channels'", "3");
    free(s);
    s = subst(vae_json, "\"latent_channels\": 16,", "");
    EXPECT_ERR(zt_vae_config_parse(&c, s, "vae.json", &e_), "'latent_channels'", "missing");
    free(s);
    s = subst(vae_json, "\"shift_factor\": 0.1159", "\"shift_factor\": null");
    CHECK(zt_vae_config_parse(&c, s, "vae.json", &err) == ZT_OK && c.shift_factor == 0,
          "null shift: %s", err.msg);
    free(s);
}

static void test_sched(void)
{
    zt_sched_config c;
    zt_err err = {0};
    CHECK(zt_sched_config_parse(&c, "{}", "s.json", &err) == ZT_OK && c.shift == 1.0f &&
              c.num_train_timesteps == 1000 && c.use_dynamic_shifting == 0,
          "defaults: %s", err.msg);
    CHECK(zt_sched_config_load(&c, TINY "/scheduler/scheduler_config.json", &err) == ZT_OK &&
              c.shift == 3.0f,
          "%s", err.msg);
    EXPECT_ERR(zt_sched_config_parse(&c, "{\"shift\": \"3\"}", "s.json", &e_), "s.json",
               "'shift'");
    EXPECT_ERR(zt_sched_config_parse(&c, "{\"shift\": -1}", "s.json", &e_), "'shift'",
               "positive");
    EXPECT_ERR(zt_sched_config_parse(&c, "{\"use_dynamic_shifting\": \"no\"}", "s.json", &e_),
               "'use_dynamic_shifting'");
    /* the schedule is the static shift over 1000 train steps: other values
     * were read and then ignored */
    EXPECT_ERR(zt_sched_config_parse(&c, "{\"use_dynamic_shifting\": true}", "s.json", &e_),
               "'use_dynamic_shifting' is true; only false is supported");
    EXPECT_ERR(zt_sched_config_parse(&c, "{\"num_train_timesteps\": 500}", "s.json", &e_),
               "'num_train_timesteps' is 500; only 1000 is supported");
    EXPECT_ERR(zt_sched_config_parse(&c, "{\"shift\": 1e39}", "s.json", &e_), "'shift'",
               "out of range");
    /* another scheduler's config, read as this one's, gave other images */
    EXPECT_ERR(zt_sched_config_parse(&c, "{\"_class_name\": \"DDIMScheduler\"}", "s.json", &e_),
               "'_class_name' is \"DDIMScheduler\"; only \"FlowMatchEulerDiscreteScheduler\"");
}

static void test_model(void)
{
    zt_model_config c;
    zt_err err = {0};
    CHECK(zt_model_config_load(&c, TINY, &err) == ZT_OK, "%s", err.msg);
    CHECK(c.te.hidden == 32 && c.dit.dim == 64 && c.vae.n_blocks == 4 && c.sched.shift == 3.0f,
          "values");
    CHECK(!strcmp(c.dir, TINY), "dir");
    /* 5.6 M parameters in text encoder and DiT: auto computes in FP32 */
    CHECK(zt_precision_auto_dtype(&c) == ZT_F32, "auto precision of the tiny model");
    EXPECT_ERR(zt_model_config_load(&c, TEST_DATA "/nope", &e_), "nope/model_index.json");

    CHECK(zt_model_index_parse("{\"transformer\":[],\"vae\":[],\"text_encoder\":[],"
                               "\"tokenizer\":[],\"scheduler\":[]}",
                               "mi.json", &err) == ZT_OK,
          "%s", err.msg);
    EXPECT_ERR(zt_model_index_parse("{\"transformer\":[],\"vae\":[],\"text_encoder\":[],"
                                    "\"scheduler\":[]}",
                                    "mi.json", &e_),
               "mi.json", "'tokenizer'");
    EXPECT_ERR(zt_model_index_parse("[]", "mi.json", &e_), "mi.json", "not a JSON object");
}

static void test_full(void)
{
    zt_model_config c;
    zt_model_config_full(&c);
    CHECK(c.te.hidden == 2560 && c.te.intermediate == 9728 && c.te.n_layers == 36 &&
              c.te.n_heads == 32 && c.te.n_kv_heads == 8 && c.te.head_dim == 128 &&
              c.te.vocab == 151936,
          "te");
    CHECK(c.dit.dim == 3840 && c.dit.n_layers == 30 && c.dit.n_heads == 30 &&
              c.dit.cap_feat_dim == 2560 && c.dit.axes_dims[1] == 48 &&
              c.dit.axes_lens[0] == 1024 && c.dit.t_scale == 1000.0f &&
              c.dit.rope_theta == 256.0,
          "dit");
    CHECK(zt_dit_ffn_hidden(&c.dit) == 10240 && zt_dit_adaln_dim(&c.dit) == 256, "derived");
    CHECK(c.vae.block_out[0] == 128 && c.vae.block_out[3] == 512 && c.vae.n_blocks == 4 &&
              c.vae.out_channels == 3 && !c.vae.use_post_quant_conv && c.vae.mid_attention,
          "vae");
    CHECK(c.sched.shift == 3.0f && c.sched.num_train_timesteps == 1000, "sched");
    /* 10.2 B parameters: auto computes in BF16 */
    CHECK(zt_precision_auto_dtype(&c) == ZT_BF16, "auto precision of the published model");

    zt_err err = {0};
    CHECK(zt_model_config_check(&c, &err) == ZT_OK, "%s", err.msg);
    c.dit.cap_feat_dim = 2048;
    EXPECT_ERR(zt_model_config_check(&c, &e_), "hidden_size 2560", "cap_feat_dim 2048");
    c.dit.cap_feat_dim = 2560;
    c.vae.latent_channels = 4;
    EXPECT_ERR(zt_model_config_check(&c, &e_), "latent_channels 4", "in_channels 16");
}

static void test_read_file(void)
{
    char *t = NULL;
    size_t n = 0;
    zt_err err = {0};
    CHECK(zt_read_file(TINY "/model_index.json", 1 << 20, &t, &n, &err) == ZT_OK && t &&
              n > 10 && t[n] == '\0',
          "%s", err.msg);
    free(t);
    t = NULL;
    CHECK(zt_read_file(TINY "/model_index.json", 10, &t, &n, &err) == ZT_ERR_TOO_BIG &&
              strstr(err.msg, "model_index.json") && !t,
          "%s", err.msg);
    CHECK(zt_read_file(TINY "/missing.json", 10, &t, &n, &err) == ZT_ERR_MISSING &&
              strstr(err.msg, "missing.json"),
          "%s", err.msg);
    CHECK(zt_read_file(TINY, 1 << 20, &t, &n, &err) != ZT_OK && strstr(err.msg, "regular"),
          "%s", err.msg);
    /* a FIFO in a config's place is refused at once, not waited on */
    char fifo[] = "/tmp/zt-config-fifo-XXXXXX";
    int fd = mkstemp(fifo);
    if (fd >= 0) {
        close(fd);
        unlink(fifo);
        if (mkfifo(fifo, 0600) == 0) {
            CHECK(zt_read_file(fifo, 1 << 20, &t, &n, &err) != ZT_OK &&
                      strstr(err.msg, "regular"),
                  "FIFO: %s", err.msg);
            unlink(fifo);
        }
    }
}

/* Streams: read to the end through the buffer's growth; a stream of
 * exactly the limit is read, one byte more is refused. */
static void test_read_stream(void)
{
    const size_t sizes[] = {0, 1, 65535, 65536, 65537, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t m = sizes[i];
        FILE *f = tmpfile();
        if (!f) {
            CHECK(0, "tmpfile");
            return;
        }
        for (size_t k = 0; k < m; k++)
            fputc('a' + (int)(k % 26), f);
        char *t = NULL;
        size_t n = 0;
        zt_err err = {0};
        rewind(f);
        CHECK(zt_read_stream(f, "s", m, &t, &n, &err) == ZT_OK && n == m && t[m] == '\0' &&
                  (!m || (t[0] == 'a' && t[m - 1] == 'a' + (int)((m - 1) % 26))),
              "%zu bytes at a limit of %zu: %s", m, m, err.msg);
        free(t);
        t = NULL;
        rewind(f);
        if (m) {
            CHECK(zt_read_stream(f, "s", m - 1, &t, &n, &err) == ZT_ERR_TOO_BIG && !t &&
                      strstr(err.msg, "s: more than"),
                  "%zu bytes at a limit of %zu: %s", m, m - 1, err.msg);
        }
        fclose(f);
    }
}

int main(void)
{
    RUN(test_te);
    RUN(test_dit);
    RUN(test_vae);
    RUN(test_sched);
    RUN(test_model);
    RUN(test_full);
    RUN(test_read_file);
    RUN(test_read_stream);
    return zt_test_summary("test_config");
}
