/*
 * synthdir.c - synthetic model directories in the published layout (see
 * synthdir.h).
 *
 * Each shard is written as: u64 little-endian header length, the JSON
 * header padded with spaces to a multiple of 8 (as the safetensors library
 * does, so data stays aligned), then the tensors' BF16 data in header
 * order. Values are computed chunk by chunk with zt_synth_value, element
 * for element what zt_synth_fill gives for the whole tensor. The host is
 * assumed little-endian, like the format.
 */
#include "synthdir.h"
#include "tokenizer.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "manifest.h"
#include "synth.h"
#include "tensor.h"

/* Elements filled per write: 32 MiB of BF16, whatever the tensor size. */
#define CHUNK_ELEMS (16u << 20)

/* ---- a growing text buffer -------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int k = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)k < room) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)k;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

/* snprintf for paths: callers check lengths up front (the destination is
 * limited to ZT_PATH_MAX - 32), so a cut can only hit names from readdir,
 * which then fail to open with a clear message. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void pathf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

/* ---- files ------------------------------------------------------------------ */

static zt_status write_file(const char *path, const void *data, size_t n, zt_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return zt_fail(err, ZT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t put = fwrite(data, 1, n, f);
    int bad = put != n || ferror(f);
    if (fclose(f) != 0)
        bad = 1;
    return bad ? zt_fail(err, ZT_ERR_IO, "%s: write failed: %s", path, strerror(errno))
               : ZT_OK;
}

static zt_status write_sbuf(const char *path, const sbuf *b, zt_err *err)
{
    if (b->oom)
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", path);
    return write_file(path, b->p, b->len, err);
}

static zt_status make_dir(const char *path, zt_err *err)
{
    if (mkdir(path, 0755) != 0)
        return zt_fail(err, ZT_ERR_IO, "%s: cannot create directory: %s", path, strerror(errno));
    return ZT_OK;
}

/* Removes the temporary tree this file created: regular files in folders
 * two levels deep at most. */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[ZT_PATH_MAX + 300];
            pathf(p, sizeof p, "%s/%s", dir, de->d_name);
            struct stat sb;
            if (lstat(p, &sb) != 0)
                continue;
            if (S_ISDIR(sb.st_mode) && depth > 0)
                remove_tree(p, depth - 1);
            else if (!S_ISDIR(sb.st_mode))
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static zt_status copy_file(const char *from, const char *to, zt_err *err)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return zt_fail(err, ZT_ERR_IO, "%s: cannot open: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return zt_fail(err, ZT_ERR_IO, "%s: cannot create: %s", to, strerror(errno));
    }
    char buf[1 << 16];
    size_t k;
    int bad = 0; /* the errno of the first failure: why the copy failed */
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, out) != k) {
            bad = errno ? errno : EIO;
            break;
        }
    if (!bad && ferror(in))
        bad = errno ? errno : EIO;
    fclose(in);
    if (fclose(out) != 0 && !bad)
        bad = errno ? errno : EIO;
    return bad ? zt_fail(err, ZT_ERR_IO, "copying %s to %s failed: %s", from, to, strerror(bad))
               : ZT_OK;
}

static zt_status copy_tokenizer(const char *from, const char *to, zt_err *err)
{
    DIR *d = opendir(from);
    if (!d)
        return zt_fail(err, ZT_ERR_MISSING, "%s: cannot open tokenizer folder: %s", from,
                       strerror(errno));
    zt_status st = ZT_OK;
    int have_json = 0;
    struct dirent *de;
    while (!st && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char src[ZT_PATH_MAX + 300], dst[ZT_PATH_MAX + 300];
        pathf(src, sizeof src, "%s/%s", from, de->d_name);
        pathf(dst, sizeof dst, "%s/%s", to, de->d_name);
        struct stat sb;
        if (stat(src, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        have_json |= !strcmp(de->d_name, "tokenizer.json");
        st = copy_file(src, dst, err);
    }
    closedir(d);
    if (!st && !have_json)
        st = zt_fail(err, ZT_ERR_MISSING, "%s: no tokenizer.json in the tokenizer folder", from);
    return st;
}

/* ---- configs ---------------------------------------------------------------- */

static const char model_index_json[] =
    "{\n"
    "  \"_class_name\": \"ZImagePipeline\",\n"
    "  \"_diffusers_version\": \"0.36.0\",\n"
    "  \"scheduler\": [\"diffusers\", \"FlowMatchEulerDiscreteScheduler\"],\n"
    "  \"text_encoder\": [\"transformers\", \"Qwen3Model\"],\n"
    "  \"tokenizer\": [\"transformers\", \"Qwen2Tokenizer\"],\n"
    "  \"transformer\": [\"diffusers\", \"ZImageTransformer2DModel\"],\n"
    "  \"vae\": [\"diffusers\", \"AutoencoderKL\"]\n"
    "}\n";

static void te_json(sbuf *b, const zt_te_config *c)
{
    char x[40], y[40];
    sb_printf(b,
              "{\n  \"architectures\": [\"Qwen3ForCausalLM\"],\n  \"model_type\": \"qwen3\",\n"
              "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n"
              "  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n"
              "  \"num_key_value_heads\": %d,\n  \"head_dim\": %d,\n  \"vocab_size\": %d,\n"
              "  \"max_position_embeddings\": 40960,\n  \"rms_norm_eps\": %s,\n"
              "  \"rope_theta\": %s,\n  \"tie_word_embeddings\": true,\n"
              "  \"hidden_act\": \"silu\",\n  \"attention_bias\": false,\n"
              "  \"torch_dtype\": \"bfloat16\"\n}\n",
              c->hidden, c->intermediate, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
              c->vocab, zt_float_text(x, sizeof x, c->rms_eps),
              zt_double_text(y, sizeof y, c->rope_theta));
}

static void dit_json(sbuf *b, const zt_dit_config *c)
{
    char x[40], y[40], z[40];
    sb_printf(b,
              "{\n  \"_class_name\": \"ZImageTransformer2DModel\",\n"
              "  \"_diffusers_version\": \"0.36.0\",\n"
              "  \"all_patch_size\": [%d],\n  \"all_f_patch_size\": [%d],\n"
              "  \"in_channels\": %d,\n  \"dim\": %d,\n  \"n_layers\": %d,\n"
              "  \"n_refiner_layers\": %d,\n  \"n_heads\": %d,\n  \"n_kv_heads\": %d,\n"
              "  \"norm_eps\": %s,\n  \"qk_norm\": %s,\n  \"cap_feat_dim\": %d,\n"
              "  \"rope_theta\": %s,\n  \"t_scale\": %s,\n"
              "  \"axes_dims\": [%d, %d, %d],\n  \"axes_lens\": [%d, %d, %d]\n}\n",
              c->patch, c->f_patch, c->in_channels, c->dim, c->n_layers, c->n_refiner_layers,
              c->n_heads, c->n_kv_heads, zt_float_text(x, sizeof x, c->norm_eps),
              c->qk_norm ? "true" : "false", c->cap_feat_dim,
              zt_double_text(y, sizeof y, c->rope_theta), zt_float_text(z, sizeof z, c->t_scale),
              c->axes_dims[0], c->axes_dims[1], c->axes_dims[2], c->axes_lens[0],
              c->axes_lens[1], c->axes_lens[2]);
}

static void vae_json(sbuf *b, const zt_vae_config *c)
{
    char x[40], y[40];
    sb_printf(b, "{\n  \"_class_name\": \"AutoencoderKL\",\n  \"_diffusers_version\": "
                 "\"0.36.0\",\n  \"act_fn\": \"silu\",\n  \"block_out_channels\": [");
    for (int i = 0; i < c->n_blocks; i++)
        sb_printf(b, "%s%d", i ? ", " : "", c->block_out[i]);
    sb_printf(b, "],\n  \"down_block_types\": [");
    for (int i = 0; i < c->n_blocks; i++)
        sb_printf(b, "%s\"DownEncoderBlock2D\"", i ? ", " : "");
    sb_printf(b, "],\n  \"up_block_types\": [");
    for (int i = 0; i < c->n_blocks; i++)
        sb_printf(b, "%s\"UpDecoderBlock2D\"", i ? ", " : "");
    sb_printf(b,
              "],\n  \"in_channels\": %d,\n  \"out_channels\": %d,\n"
              "  \"latent_channels\": %d,\n  \"layers_per_block\": %d,\n"
              "  \"norm_num_groups\": %d,\n  \"sample_size\": 1024,\n"
              "  \"scaling_factor\": %s,\n  \"shift_factor\": %s,\n"
              "  \"use_quant_conv\": false,\n  \"use_post_quant_conv\": %s,\n"
              "  \"mid_block_add_attention\": %s,\n  \"force_upcast\": true\n}\n",
              c->out_channels, c->out_channels, c->latent_channels, c->layers_per_block,
              c->norm_groups, zt_float_text(x, sizeof x, c->scaling_factor),
              zt_float_text(y, sizeof y, c->shift_factor), c->use_post_quant_conv ? "true" : "false",
              c->mid_attention ? "true" : "false");
}

static void sched_json(sbuf *b, const zt_sched_config *c)
{
    char x[40];
    sb_printf(b,
              "{\n  \"_class_name\": \"FlowMatchEulerDiscreteScheduler\",\n"
              "  \"_diffusers_version\": \"0.36.0\",\n  \"num_train_timesteps\": %d,\n"
              "  \"use_dynamic_shifting\": %s,\n  \"shift\": %s\n}\n",
              c->num_train_timesteps, c->use_dynamic_shifting ? "true" : "false",
              zt_float_text(x, sizeof x, c->shift));
}

/* ---- weights ---------------------------------------------------------------- */

typedef struct writer {
    const zt_synthdir_opts *o;
    uint16_t *buf;       /* CHUNK_ELEMS values */
    uint64_t done, total;
} writer;

/* Which optional tensors a published-layout file holds: the VAE encoder
 * (shipped although text-to-image never runs it); not the text encoder's
 * lm_head (tied to the embeddings) nor quant_conv (use_quant_conv false). */
static int written(const zt_manifest_entry *e)
{
    return !e->optional || !strncmp(e->name, "encoder.", 8);
}

static uint64_t entry_bytes(const zt_manifest_entry *e)
{
    uint64_t n = 2;
    for (int d = 0; d < e->ndim; d++)
        n *= (uint64_t)e->shape[d];
    return n;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Streams one tensor's values into f. */
static zt_status put_tensor(writer *w, FILE *f, const zt_manifest_entry *e, const char *path,
                            zt_err *err)
{
    uint32_t key = zt_synth_key(e->name, w->o->seed);
    int64_t fan_in = 1;
    for (int d = 1; d < e->ndim; d++)
        fan_in *= e->shape[d];
    int bias = ends_with(e->name, "bias");
    uint64_t n = entry_bytes(e) / 2;
    for (uint64_t i0 = 0; i0 < n; i0 += CHUNK_ELEMS) {
        uint64_t k = n - i0 < CHUNK_ELEMS ? n - i0 : CHUNK_ELEMS;
        for (uint64_t j = 0; j < k; j++)
            w->buf[j] = zt_f32_to_bf16(zt_synth_value(key, i0 + j, e->ndim, fan_in, bias));
        if (fwrite(w->buf, 2, (size_t)k, f) != k)
            return zt_fail(err, ZT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    return ZT_OK;
}

/* One safetensors file holding entries ents[0..n). */
static zt_status put_shard(writer *w, const char *path, const char *prefix,
                           const zt_manifest_entry *const *ents, int n, zt_err *err)
{
    sbuf h = {0};
    uint64_t off = 0;
    sb_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        const zt_manifest_entry *e = ents[i];
        uint64_t nb = entry_bytes(e);
        sb_printf(&h, ",\"%s%s\":{\"dtype\":\"BF16\",\"shape\":[", prefix, e->name);
        for (int d = 0; d < e->ndim; d++)
            sb_printf(&h, "%s%lld", d ? "," : "", (long long)e->shape[d]);
        sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                  (unsigned long long)(off + nb));
        off += nb;
    }
    sb_printf(&h, "}");
    while (!h.oom && h.len % 8)
        sb_printf(&h, " ");
    if (h.oom) {
        free(h.p);
        return zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory for the header", path);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(h.p);
        return zt_fail(err, ZT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    zt_status st = ZT_OK;
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(h.p, 1, h.len, f) != h.len)
        st = zt_fail(err, ZT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    free(h.p);
    for (int i = 0; !st && i < n; i++) {
        st = put_tensor(w, f, ents[i], path, err);
        w->done += entry_bytes(ents[i]);
        if (!st && w->o->progress && w->o->progress(w->o->ud, path, w->done, w->total))
            st = zt_fail(err, ZT_ERR_CANCELLED, "writing %s: cancelled", path);
    }
    if (fclose(f) != 0 && !st)
        st = zt_fail(err, ZT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return st;
}

/* A component's weights: one file (stem.safetensors) when !sharded, else
 * stem-0000K-of-0000N.safetensors plus stem.safetensors.index.json. */
static zt_status put_weights(writer *w, const char *dir, const char *stem, const char *prefix,
                             const zt_manifest *m, int sharded, zt_err *err)
{
    const zt_manifest_entry **ents = malloc(sizeof *ents * (size_t)(m->n ? m->n : 1));
    int *shard_of = malloc(sizeof *shard_of * (size_t)(m->n ? m->n : 1));
    zt_status st = ZT_OK;
    sbuf idx = {0};
    if (!ents || !shard_of) {
        st = zt_fail(err, ZT_ERR_NOMEM, "%s: out of memory", dir);
        goto done;
    }
    /* Plan: greedy in manifest order, a new shard when the next tensor would
     * pass the limit; a tensor larger than the limit gets a shard alone. */
    uint64_t limit = w->o->shard_bytes ? w->o->shard_bytes : ZT_SYNTHDIR_SHARD_BYTES;
    uint64_t cur = 0, total = 0;
    int n = 0, shards = 1;
    for (int i = 0; i < m->n; i++) {
        if (!written(&m->v[i]))
            continue;
        uint64_t nb = entry_bytes(&m->v[i]);
        if (sharded && cur > 0 && cur + nb > limit) {
            shards++;
            cur = 0;
        }
        cur += nb;
        total += nb;
        shard_of[n] = shards - 1;
        ents[n++] = &m->v[i];
    }
    char path[ZT_PATH_MAX + 128], file[160];
    if (!sharded) {
        pathf(path, sizeof path, "%s/%s.safetensors", dir, stem);
        st = put_shard(w, path, prefix, ents, n, err);
        goto done;
    }
    sb_printf(&idx, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {",
              (unsigned long long)total);
    for (int s = 0, first = 0; s < shards && !st; s++) {
        int last = first;
        while (last < n && shard_of[last] == s)
            last++;
        pathf(file, sizeof file, "%s-%05d-of-%05d.safetensors", stem, s + 1, shards);
        pathf(path, sizeof path, "%s/%s", dir, file);
        st = put_shard(w, path, prefix, ents + first, last - first, err);
        for (int i = first; i < last; i++)
            sb_printf(&idx, "%s\n    \"%s%s\": \"%s\"", i ? "," : "", prefix, ents[i]->name,
                      file);
        first = last;
    }
    sb_printf(&idx, "\n  }\n}\n");
    if (!st) {
        pathf(path, sizeof path, "%s/%s.safetensors.index.json", dir, stem);
        st = write_sbuf(path, &idx, err);
    }
done:
    free(idx.p);
    free(ents);
    free(shard_of);
    return st;
}

typedef struct manifests {
    zt_manifest te, dit, vae;
} manifests;

static void manifests_free(manifests *ms)
{
    zt_manifest_free(&ms->te);
    zt_manifest_free(&ms->dit);
    zt_manifest_free(&ms->vae);
}

static zt_status manifests_build(manifests *ms, const zt_model_config *c, zt_err *err)
{
    memset(ms, 0, sizeof *ms);
    zt_status st;
    if ((st = zt_manifest_te(&ms->te, &c->te, err)) ||
        (st = zt_manifest_dit(&ms->dit, &c->dit, err)) ||
        (st = zt_manifest_vae(&ms->vae, &c->vae, err)))
        manifests_free(ms);
    return st;
}

static uint64_t required_bytes(const zt_manifest *m)
{
    uint64_t t = 0;
    for (int i = 0; i < m->n; i++)
        if (written(&m->v[i]))
            t += entry_bytes(&m->v[i]);
    return t;
}

zt_status zt_synthdir_bytes(const zt_model_config *cfg, uint64_t *bytes, zt_err *err)
{
    manifests ms;
    zt_status st = manifests_build(&ms, cfg, err);
    if (st)
        return st;
    *bytes = required_bytes(&ms.te) + required_bytes(&ms.dit) + required_bytes(&ms.vae);
    manifests_free(&ms);
    return ZT_OK;
}

/* ---- the whole directory ---------------------------------------------------- */

static zt_status write_all(writer *w, const char *tmp, const manifests *ms, zt_err *err)
{
    const zt_model_config *c = w->o->cfg;
    char path[ZT_PATH_MAX + 128];
    static const char *const subdirs[] = {"scheduler", "text_encoder", "transformer", "vae",
                                          "tokenizer"};
    zt_status st;
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        pathf(path, sizeof path, "%s/%s", tmp, subdirs[i]);
        if ((st = make_dir(path, err)))
            return st;
    }
    pathf(path, sizeof path, "%s/model_index.json", tmp);
    if ((st = write_file(path, model_index_json, sizeof model_index_json - 1, err)))
        return st;
    pathf(path, sizeof path, "%s/tokenizer", tmp);
    if ((st = copy_tokenizer(w->o->tokenizer_dir, path, err)))
        return st;

    sbuf b[4] = {{0}};
    sched_json(&b[0], &c->sched);
    te_json(&b[1], &c->te);
    dit_json(&b[2], &c->dit);
    vae_json(&b[3], &c->vae);
    static const char *const files[] = {"scheduler/scheduler_config.json",
                                        "text_encoder/config.json", "transformer/config.json",
                                        "vae/config.json"};
    st = ZT_OK;
    for (int i = 0; i < 4; i++) {
        pathf(path, sizeof path, "%s/%s", tmp, files[i]);
        if (!st)
            st = write_sbuf(path, &b[i], err);
        free(b[i].p);
    }
    if (st)
        return st;

    pathf(path, sizeof path, "%s/text_encoder", tmp);
    if ((st = put_weights(w, path, "model", "model.", &ms->te, 1, err)))
        return st;
    pathf(path, sizeof path, "%s/transformer", tmp);
    if ((st = put_weights(w, path, "diffusion_pytorch_model", "", &ms->dit, 1, err)))
        return st;
    pathf(path, sizeof path, "%s/vae", tmp);
    return put_weights(w, path, "diffusion_pytorch_model", "", &ms->vae, 0, err);
}

zt_status zt_synthdir_write(const char *out_dir, const zt_synthdir_opts *o, zt_err *err)
{
    if (!out_dir || !out_dir[0] || !o || !o->cfg || !o->tokenizer_dir)
        return zt_fail(err, ZT_ERR_INVALID, "synthdir: output folder, config and tokenizer "
                                            "folder are required");
    size_t len = strlen(out_dir);
    while (len > 1 && out_dir[len - 1] == '/')
        len--;
    if (len + 32 >= ZT_PATH_MAX)
        return zt_fail(err, ZT_ERR_INVALID, "%.200s...: path too long", out_dir);
    char dst[ZT_PATH_MAX], tmp[ZT_PATH_MAX + 32];
    pathf(dst, sizeof dst, "%.*s", (int)len, out_dir);
    struct stat sb;
    if (lstat(dst, &sb) == 0)
        return zt_fail(err, ZT_ERR_EXISTS, "%s already exists; not writing into it", dst);
    /* read whole before anything is written: a damaged tokenizer.json
     * would make a model that cannot load */
    char tp[ZT_PATH_MAX + 32];
    pathf(tp, sizeof tp, "%s/tokenizer.json", o->tokenizer_dir);
    if (stat(tp, &sb) != 0)
        return zt_fail(err, ZT_ERR_MISSING, "%s: no tokenizer.json in the tokenizer folder (%s)",
                       o->tokenizer_dir, strerror(errno));
    zt_status tst = zt_tokenizer_check(tp, o->cfg->te.vocab, NULL, err);
    if (tst != ZT_OK)
        return tst;

    /* The temporary folder sits beside the destination so the final rename
     * stays on one file system. */
    const char *slash = strrchr(dst, '/');
    if (slash)
        pathf(tmp, sizeof tmp, "%.*s/.%s.tmp-XXXXXX", (int)(slash - dst), dst, slash + 1);
    else
        pathf(tmp, sizeof tmp, ".%s.tmp-XXXXXX", dst);
    if (!mkdtemp(tmp))
        return zt_fail(err, ZT_ERR_IO, "cannot create a folder beside %s: %s", dst,
                       strerror(errno));
    chmod(tmp, 0755);

    manifests ms;
    zt_status st = manifests_build(&ms, o->cfg, err);
    if (st) {
        remove_tree(tmp, 2);
        return st;
    }
    writer w = {o, malloc(sizeof(uint16_t) * CHUNK_ELEMS), 0, 0};
    w.total = required_bytes(&ms.te) + required_bytes(&ms.dit) + required_bytes(&ms.vae);
    if (!w.buf)
        st = zt_fail(err, ZT_ERR_NOMEM, "out of memory for the write buffer");
    if (!st)
        st = write_all(&w, tmp, &ms, err);
    free(w.buf);
    manifests_free(&ms);
    /* Checked again: something may have appeared there meanwhile, and
     * rename() would replace an empty folder. */
    if (!st && lstat(dst, &sb) == 0)
        st = zt_fail(err, ZT_ERR_EXISTS, "%s appeared while writing; not replacing it", dst);
    if (!st && rename(tmp, dst) != 0)
        st = zt_fail(err, ZT_ERR_IO, "cannot rename %s to %s: %s", tmp, dst, strerror(errno));
    if (st)
        remove_tree(tmp, 2);
    return st;
}
