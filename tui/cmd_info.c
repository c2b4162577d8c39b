/*
 * cmd_info.c - zimt info [--model DIR]: describe a model directory and check
 * every component's tensors against what its config implies.
 *
 * The description goes to stdout; each problem goes to stderr as one
 * "zimt: ..." line naming the file, tensor or key. Every component is
 * checked even after one fails, so one run lists all problems. Exit 0 only
 * when everything is present and correct.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "discovery.h"
#include "manifest.h"
#include "modelcheck.h"
#include "safetensors.h"
#include "tokenizer.h"

typedef struct info {
    const char *dir;
    int problems;
    int unused; /* tensors no config uses: warned about, not problems */
} info;

static void problem_err(info *in, const zt_err *err)
{
    zt_cli_error(err);
    in->problems++;
}

static void path_of(char *buf, size_t n, const info *in, const char *rel)
{
    snprintf(buf, n, "%s/%s", in->dir, rel);
}

static void print_size(uint64_t b)
{
    char t[32];
    fputs(zt_bytes_text(t, sizeof t, b), stdout);
}

typedef struct report_ctx {
    info *in;
    const char *comp;
    int shown;
} report_ctx;

/* Long lists are capped so one broken file doesn't flood the terminal. */
#define MAX_SHOWN 40

static void report(void *ctx, zt_manifest_problem kind, const char *name,
                   const zt_manifest_entry *want, const zt_st_entry *found, const char *file)
{
    report_ctx *rc = ctx;
    if (rc->shown++ >= MAX_SHOWN)
        return;
    char a[96], b[96];
    switch (kind) {
    case ZT_MANIFEST_MISSING:
        zt_cli_fail("%s: missing tensor '%s' %s", rc->comp, name,
                    zt_manifest_shape_str(want, a, sizeof a));
        break;
    case ZT_MANIFEST_UNEXPECTED: /* a warning: loads never read it */
        zt_cli_fail("warning: %s: %s: unexpected tensor '%s' %s (the config does not use it)",
                    rc->comp, file, name, zt_shape_str(&found->t, b, sizeof b));
        break;
    case ZT_MANIFEST_SHAPE:
        zt_cli_fail("%s: %s: tensor '%s': wrong shape: expected %s, found %s", rc->comp, file,
                    name, zt_manifest_shape_str(want, a, sizeof a),
                    zt_shape_str(&found->t, b, sizeof b));
        break;
    case ZT_MANIFEST_DTYPE:
        zt_cli_fail("%s: %s: tensor '%s': dtype %s, expected F32, BF16 or F16", rc->comp, file,
                    name, zt_dtype_name(found->t.dtype));
        break;
    }
}

/* Opens the component's weights, prints the summary and checks them against
 * the manifest (m may be NULL when the config failed to load). */
static void check_weights(info *in, const char *comp, const char *strip, const zt_manifest *m)
{
    char dir[ZT_PATH_MAX + 64];
    path_of(dir, sizeof dir, in, comp);
    zt_weights *w = NULL;
    zt_err err = {0};
    if (zt_weights_open(&w, dir, strip, &err)) {
        problem_err(in, &err);
        /* the reason, not only its kind: several files with no canonical
         * one are no "malformed file" */
        zt_cli_printf("  weights: cannot be opened: %s\n", err.msg);
        return;
    }
    int n = zt_weights_count(w);
    int per_dtype[ZT_DTYPE_COUNT] = {0};
    for (int i = 0; i < n; i++)
        per_dtype[zt_weights_at(w, i)->t.dtype]++;
    zt_cli_printf("  weights: %d file%s, %d tensors, ", zt_weights_file_count(w),
                  zt_weights_file_count(w) == 1 ? "" : "s", n);
    print_size(zt_weights_total_bytes(w));
    zt_cli_printf(" (%llu bytes)", (unsigned long long)zt_weights_total_bytes(w));
    int64_t idx = zt_weights_index_total_size(w);
    if (idx >= 0)
        zt_cli_printf(", index total_size %lld", (long long)idx);
    zt_cli_printf("\n  dtypes:");
    for (int d = 0; d < ZT_DTYPE_COUNT; d++)
        if (per_dtype[d])
            zt_cli_printf(" %s %d", zt_dtype_name((zt_dtype)d), per_dtype[d]);
    zt_cli_printf("\n");
    if (m) {
        report_ctx rc = {in, comp, 0};
        int unused = 0;
        int bad = zt_manifest_check(m, w, report, &rc, &unused);
        if (rc.shown > MAX_SHOWN)
            zt_cli_fail("%s: ... and %d more tensor problems or warnings", comp,
                        rc.shown - MAX_SHOWN);
        zt_cli_printf("  check: %d expected (%d required): %s", m->n, zt_manifest_required_count(m),
                      bad ? "" : "all present with the right shapes\n");
        if (bad)
            zt_cli_printf("%d problem%s\n", bad, bad == 1 ? "" : "s");
        /* not counted: a generation runs without them (see zimt doctor) */
        if (unused)
            zt_cli_printf(
                "  warning: %d tensor%s the config does not use; the config may not match "
                "these weights\n",
                unused, unused == 1 ? "" : "s");
        in->problems += bad;
        in->unused += unused;
    }
    zt_weights_free(w);
}

/* The part every model component shares once its config is handled:
 * st_cfg is the config load, st_man the manifest build (both with err).
 * Prints, checks the weights and returns 1 when config and manifest are good. */
static int finish_component(info *in, const char *comp, const char *strip, zt_status st_cfg,
                            zt_status st_man, zt_manifest *m, const zt_err *err)
{
    if (st_cfg) {
        problem_err(in, err);
        zt_cli_printf("  config: unreadable\n");
    } else if (st_man) {
        problem_err(in, err);
    }
    int ok = !st_cfg && !st_man;
    check_weights(in, comp, strip, ok ? m : NULL);
    zt_manifest_free(m);
    return ok;
}

static void config_path(char *buf, size_t n, const info *in, const char *comp)
{
    zt_cli_printf("%s:\n", comp);
    snprintf(buf, n, "%s/%s/config.json", in->dir, comp);
}

static int do_text_encoder(info *in, zt_te_config *te)
{
    char path[ZT_PATH_MAX + 64];
    zt_err err = {0};
    zt_manifest m = {0};
    zt_status st_man = ZT_OK;
    config_path(path, sizeof path, in, "text_encoder");
    zt_status st = zt_te_config_load(te, path, &err);
    if (!st) {
        zt_cli_printf("  config: hidden %d, %d layers, %d heads (%d kv) x %d, ffn %d, vocab %d, "
                      "eps %g, rope theta %g\n",
                      te->hidden, te->n_layers, te->n_heads, te->n_kv_heads, te->head_dim,
                      te->intermediate, te->vocab, (double)te->rms_eps, te->rope_theta);
        st_man = zt_manifest_te(&m, te, &err);
    }
    return finish_component(in, "text_encoder", "model.", st, st_man, &m, &err);
}

static int do_transformer(info *in, zt_dit_config *dit)
{
    char path[ZT_PATH_MAX + 64];
    zt_err err = {0};
    zt_manifest m = {0};
    zt_status st_man = ZT_OK;
    config_path(path, sizeof path, in, "transformer");
    zt_status st = zt_dit_config_load(dit, path, &err);
    if (!st) {
        zt_cli_printf("  config: dim %d, %d layers + %d/%d refiners, %d heads (%d kv), ffn %d, "
                      "adaLN %d, caption %d, axes [%d,%d,%d], patch %d, in %d\n",
                      dit->dim, dit->n_layers, dit->n_refiner_layers, dit->n_refiner_layers,
                      dit->n_heads, dit->n_kv_heads, zt_dit_ffn_hidden(dit), zt_dit_adaln_dim(dit),
                      dit->cap_feat_dim, dit->axes_dims[0], dit->axes_dims[1], dit->axes_dims[2],
                      dit->patch, dit->in_channels);
        st_man = zt_manifest_dit(&m, dit, &err);
    }
    return finish_component(in, "transformer", NULL, st, st_man, &m, &err);
}

static int do_vae(info *in, zt_vae_config *vae)
{
    char path[ZT_PATH_MAX + 64];
    zt_err err = {0};
    zt_manifest m = {0};
    zt_status st_man = ZT_OK;
    config_path(path, sizeof path, in, "vae");
    zt_status st = zt_vae_config_load(vae, path, &err);
    if (!st) {
        zt_cli_printf("  config: channels [");
        for (int i = 0; i < vae->n_blocks; i++)
            zt_cli_printf("%s%d", i ? "," : "", vae->block_out[i]);
        zt_cli_printf("], %d+1 resnets per level, latent %d, out %d, groups %d, scale %g, "
                      "shift %g, post-quant conv %s, mid attention %s\n",
                      vae->layers_per_block, vae->latent_channels, vae->out_channels,
                      vae->norm_groups, (double)vae->scaling_factor, (double)vae->shift_factor,
                      vae->use_post_quant_conv ? "yes" : "no", vae->mid_attention ? "yes" : "no");
        st_man = zt_manifest_vae(&m, vae, &err);
    }
    return finish_component(in, "vae", NULL, st, st_man, &m, &err);
}

/* vocab: the text encoder's vocab_size, 0 when unknown */
static void do_tokenizer_scheduler(info *in, int vocab)
{
    char path[ZT_PATH_MAX + 64];
    zt_err err = {0};
    uint64_t size = 0;
    path_of(path, sizeof path, in, "tokenizer/tokenizer.json");
    /* a folder or a link to one in its place is no missing file */
    const char *why = zt_modelcheck_file(path, &size);
    if (!why) {
        /* read whole, as a load reads it */
        int32_t ids;
        zt_cli_printf("tokenizer:\n  tokenizer.json: present, ");
        print_size(size);
        zt_status st = zt_tokenizer_check(path, vocab, &ids, &err);
        if (st == ZT_OK) {
            zt_cli_printf(", %d ids\n", (int)ids);
        } else {
            zt_cli_printf(ids ? ", %d ids: not this model's\n" : ", unreadable\n", (int)ids);
            problem_err(in, &err);
        }
        err = (zt_err){0};
    } else {
        zt_cli_printf("tokenizer:\n  tokenizer.json: %s\n", why);
        zt_cli_fail("%s: %s", path, why);
        in->problems++;
    }
    zt_sched_config sc;
    path_of(path, sizeof path, in, "scheduler/scheduler_config.json");
    zt_cli_printf("scheduler:\n");
    if (zt_sched_config_load(&sc, path, &err)) {
        problem_err(in, &err);
        zt_cli_printf("  config: unreadable\n");
    } else {
        zt_cli_printf("  config: shift %g, %d train timesteps, dynamic shifting %s\n",
                      (double)sc.shift, sc.num_train_timesteps,
                      sc.use_dynamic_shifting ? "on" : "off");
    }
}

static int usage(void)
{
    fputs("usage: zimt info [--model DIR]\n", stderr);
    return 2;
}

int zt_cmd_info(int argc, char **argv)
{
    info in = {NULL, 0, 0};
    for (int i = 1; i < argc; i++) {
        int m = zt_cli_model_arg("info", argc, argv, &i, &in.dir);
        if (m < 0)
            return usage();
        if (m)
            continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs("usage: zimt info [--model DIR]\n", stdout);
            return 0;
        }
        zt_cli_fail("info: unknown argument '%s'", argv[i]);
        return usage();
    }
    zt_err derr = {0};
    char found[ZT_PATH_MAX];
    if (!in.dir) {
        /* none named: the model gen would use */
        if (zt_cli_model(NULL, found, sizeof found, 0, NULL, &derr) != ZT_OK)
            return zt_cli_error(&derr);
        in.dir = found;
    } else if (zt_model_dir_check(in.dir, &derr) != ZT_OK) {
        return zt_cli_error(&derr);
    }
    if (strlen(in.dir) > ZT_PATH_MAX - 64)
        return zt_cli_fail("info: model directory path too long");

    zt_cli_printf("model: %s\n", in.dir);
    char path[ZT_PATH_MAX + 64], *text = NULL;
    zt_err err = {0};
    path_of(path, sizeof path, &in, "model_index.json");
    if (zt_read_file(path, 1u << 20, &text, NULL, &err) ||
        zt_model_index_parse(text, path, &err))
        problem_err(&in, &err);
    else
        zt_cli_printf("model_index.json: ok\n");
    free(text);

    zt_te_config te;
    zt_dit_config dit;
    zt_vae_config vae;
    int te_ok = do_text_encoder(&in, &te);
    int dit_ok = do_transformer(&in, &dit);
    int vae_ok = do_vae(&in, &vae);
    do_tokenizer_scheduler(&in, te_ok ? te.vocab : 0);

    /* The components must fit together, not just each be well formed. */
    if (te_ok && dit_ok && te.hidden != dit.cap_feat_dim) {
        zt_cli_fail("%s/transformer/config.json: cap_feat_dim %d != text encoder "
                    "hidden_size %d",
                    in.dir, dit.cap_feat_dim, te.hidden);
        in.problems++;
    }
    if (dit_ok && vae_ok && dit.in_channels != vae.latent_channels) {
        zt_cli_fail("%s/transformer/config.json: in_channels %d != vae latent_channels %d",
                    in.dir, dit.in_channels, vae.latent_channels);
        in.problems++;
    }
    if (in.problems) {
        zt_cli_printf("result: %d problem%s\n", in.problems, in.problems == 1 ? "" : "s");
        return 1;
    }
    if (in.unused)
        zt_cli_printf("result: ok; %d tensor%s the configs do not use (warnings above)\n",
                      in.unused, in.unused == 1 ? "" : "s");
    else
        zt_cli_printf("result: ok\n");
    return 0;
}
