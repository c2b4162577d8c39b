/*
 * manifest.c - expected tensor names and shapes per component (manifest.h).
 *
 * The lists follow the reference modules' parameter names:
 *   text encoder  Qwen3Model (transformers), no "model." prefix;
 *   transformer   ZImageTransformer2DModel (diffusers);
 *   vae           AutoencoderKL (diffusers): decoder required, encoder and
 *                 quant_conv optional (text-to-image never runs them).
 * Shapes are PyTorch's: Linear [out, in], Conv2d [out, in, kh, kw].
 */
#include "manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const zt_manifest_entry *)a)->name, ((const zt_manifest_entry *)b)->name);
}

void zt_manifest_free(zt_manifest *m)
{
    if (!m)
        return;
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* Builder state: the first error sticks and later adds are no-ops, so the
 * list code below reads as a plain list. */
typedef struct builder {
    zt_manifest *m;
    zt_err *err;
    zt_status st;
    int idle; /* entries added now are idle (manifest.h) */
} builder;

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static void add(builder *b, int optional, int ndim, const int64_t *shape, const char *fmt, ...)
{
    if (b->st)
        return;
    zt_manifest *m = b->m;
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 64;
        zt_manifest_entry *v = realloc(m->v, (size_t)cap * sizeof *v);
        if (!v) {
            b->st = zt_fail(b->err, ZT_ERR_NOMEM, "manifest: out of memory");
            return;
        }
        m->v = v;
        m->cap = cap;
    }
    zt_manifest_entry *e = &m->v[m->n];
    memset(e, 0, sizeof *e);
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof e->name) {
        b->st = zt_fail(b->err, ZT_ERR_INVALID, "manifest: tensor name too long ('%s...')",
                        e->name);
        return;
    }
    for (int i = 0; i < ZT_MAX_DIMS; i++)
        e->shape[i] = i < ndim ? shape[i] : 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            b->st = zt_fail(b->err, ZT_ERR_INVALID,
                            "manifest: tensor '%s' would have dimension %lld", e->name,
                            (long long)shape[i]);
            return;
        }
    }
    e->ndim = ndim;
    e->optional = optional;
    e->idle = b->idle;
    m->n++;
}

/* Shorthands for the common ranks; dims are int64 so products cannot wrap. */
#define S1(a) 1, (const int64_t[]){(a)}
#define S2(a, b) 2, (const int64_t[]){(a), (b)}
#define S4(a, b, c, d) 4, (const int64_t[]){(a), (b), (c), (d)}

static zt_status finish(builder *b)
{
    if (b->st) {
        zt_manifest_free(b->m);
        return b->st;
    }
    qsort(b->m->v, (size_t)b->m->n, sizeof *b->m->v, cmp_entry);
    for (int i = 1; i < b->m->n; i++)
        ZT_ASSERT(strcmp(b->m->v[i - 1].name, b->m->v[i].name) != 0);
    return ZT_OK;
}

/* ---- text encoder --------------------------------------------------------- */

zt_status zt_manifest_te(zt_manifest *m, const zt_te_config *c, zt_err *err)
{
    memset(m, 0, sizeof *m);
    builder b = {.m = m, .err = err, .st = ZT_OK};
    int64_t h = c->hidden, hd = c->head_dim, q = (int64_t)c->n_heads * hd,
            kv = (int64_t)c->n_kv_heads * hd, ff = c->intermediate;
    add(&b, 0, S2(c->vocab, h), "embed_tokens.weight");
    for (int l = 0; l < c->n_layers; l++) {
        b.idle = l == c->n_layers - 1;
        add(&b, 0, S2(q, h), "layers.%d.self_attn.q_proj.weight", l);
        add(&b, 0, S2(kv, h), "layers.%d.self_attn.k_proj.weight", l);
        add(&b, 0, S2(kv, h), "layers.%d.self_attn.v_proj.weight", l);
        add(&b, 0, S2(h, q), "layers.%d.self_attn.o_proj.weight", l);
        add(&b, 0, S1(hd), "layers.%d.self_attn.q_norm.weight", l);
        add(&b, 0, S1(hd), "layers.%d.self_attn.k_norm.weight", l);
        add(&b, 0, S1(h), "layers.%d.input_layernorm.weight", l);
        add(&b, 0, S1(h), "layers.%d.post_attention_layernorm.weight", l);
        add(&b, 0, S2(ff, h), "layers.%d.mlp.gate_proj.weight", l);
        add(&b, 0, S2(ff, h), "layers.%d.mlp.up_proj.weight", l);
        add(&b, 0, S2(h, ff), "layers.%d.mlp.down_proj.weight", l);
    }
    add(&b, 0, S1(h), "norm.weight");
    b.idle = 0;
    /* The causal-LM head ships with some checkpoints; the encoder never uses it. */
    add(&b, 1, S2(c->vocab, h), "lm_head.weight");
    return finish(&b);
}

/* ---- transformer ---------------------------------------------------------- */

/* One transformer block under prefix (layers.N, noise_refiner.N, ...). */
static void dit_block(builder *b, const zt_dit_config *c, const char *pre, int l,
                      int modulated)
{
    int64_t d = c->dim, hd = c->dim / c->n_heads, kv = (int64_t)c->n_kv_heads * hd,
            ff = zt_dit_ffn_hidden(c), a = zt_dit_adaln_dim(c);
    add(b, 0, S2(d, d), "%s.%d.attention.to_q.weight", pre, l);
    add(b, 0, S2(kv, d), "%s.%d.attention.to_k.weight", pre, l);
    add(b, 0, S2(kv, d), "%s.%d.attention.to_v.weight", pre, l);
    add(b, 0, S2(d, d), "%s.%d.attention.to_out.0.weight", pre, l);
    if (c->qk_norm) {
        add(b, 0, S1(hd), "%s.%d.attention.norm_q.weight", pre, l);
        add(b, 0, S1(hd), "%s.%d.attention.norm_k.weight", pre, l);
    }
    add(b, 0, S1(d), "%s.%d.attention_norm1.weight", pre, l);
    add(b, 0, S1(d), "%s.%d.attention_norm2.weight", pre, l);
    add(b, 0, S1(d), "%s.%d.ffn_norm1.weight", pre, l);
    add(b, 0, S1(d), "%s.%d.ffn_norm2.weight", pre, l);
    add(b, 0, S2(ff, d), "%s.%d.feed_forward.w1.weight", pre, l);
    add(b, 0, S2(d, ff), "%s.%d.feed_forward.w2.weight", pre, l);
    add(b, 0, S2(ff, d), "%s.%d.feed_forward.w3.weight", pre, l);
    if (modulated) {
        /* m = W c + b: shift/gate for attention and FFN, D each. */
        add(b, 0, S2(4 * d, a), "%s.%d.adaLN_modulation.0.weight", pre, l);
        add(b, 0, S1(4 * d), "%s.%d.adaLN_modulation.0.bias", pre, l);
    }
}

zt_status zt_manifest_dit(zt_manifest *m, const zt_dit_config *c, zt_err *err)
{
    memset(m, 0, sizeof *m);
    builder b = {.m = m, .err = err, .st = ZT_OK};
    int64_t d = c->dim, a = zt_dit_adaln_dim(c);
    /* Patch vector: f_patch * patch * patch * in_channels values. */
    int64_t pv = (int64_t)c->f_patch * c->patch * c->patch * c->in_channels;
    char key[32];
    snprintf(key, sizeof key, "%d-%d", c->patch, c->f_patch);

    for (int l = 0; l < c->n_layers; l++)
        dit_block(&b, c, "layers", l, 1);
    for (int l = 0; l < c->n_refiner_layers; l++) {
        dit_block(&b, c, "noise_refiner", l, 1);
        dit_block(&b, c, "context_refiner", l, 0);
    }
    /* Timestep MLP: 256 sinusoid features -> 1024 -> A. */
    add(&b, 0, S2(1024, 256), "t_embedder.mlp.0.weight");
    add(&b, 0, S1(1024), "t_embedder.mlp.0.bias");
    add(&b, 0, S2(a, 1024), "t_embedder.mlp.2.weight");
    add(&b, 0, S1(a), "t_embedder.mlp.2.bias");
    add(&b, 0, S1(c->cap_feat_dim), "cap_embedder.0.weight");
    add(&b, 0, S2(d, c->cap_feat_dim), "cap_embedder.1.weight");
    add(&b, 0, S1(d), "cap_embedder.1.bias");
    add(&b, 0, S2(d, pv), "all_x_embedder.%s.weight", key);
    add(&b, 0, S1(d), "all_x_embedder.%s.bias", key);
    add(&b, 0, S2(pv, d), "all_final_layer.%s.linear.weight", key);
    add(&b, 0, S1(pv), "all_final_layer.%s.linear.bias", key);
    add(&b, 0, S2(d, a), "all_final_layer.%s.adaLN_modulation.1.weight", key);
    add(&b, 0, S1(d), "all_final_layer.%s.adaLN_modulation.1.bias", key);
    add(&b, 0, S2(1, d), "x_pad_token");
    add(&b, 0, S2(1, d), "cap_pad_token");
    return finish(&b);
}

/* ---- VAE ------------------------------------------------------------------ */

static void conv(builder *b, int opt, int64_t out, int64_t in, int64_t k, const char *pre,
                 const char *nm)
{
    add(b, opt, S4(out, in, k, k), "%s.%s.weight", pre, nm);
    add(b, opt, S1(out), "%s.%s.bias", pre, nm);
}

static void norm(builder *b, int opt, int64_t ch, const char *pre, const char *nm)
{
    add(b, opt, S1(ch), "%s.%s.weight", pre, nm);
    add(b, opt, S1(ch), "%s.%s.bias", pre, nm);
}

/* ResnetBlock2D in -> out; a 1x1 shortcut when the width changes. */
static void resnet(builder *b, int opt, int64_t in, int64_t out, const char *fmt, int i, int r)
{
    char pre[80];
    snprintf(pre, sizeof pre, fmt, i, r);
    norm(b, opt, in, pre, "norm1");
    conv(b, opt, out, in, 3, pre, "conv1");
    norm(b, opt, out, pre, "norm2");
    conv(b, opt, out, out, 3, pre, "conv2");
    if (in != out)
        conv(b, opt, out, in, 1, pre, "conv_shortcut");
}

/* UNetMidBlock2D: resnet, single-head attention (optional), resnet. */
static void mid_block(builder *b, int opt, int64_t ch, int attention, const char *part)
{
    char fmt[64], pre[80];
    snprintf(fmt, sizeof fmt, "%s.mid_block.resnets.%%d", part);
    resnet(b, opt, ch, ch, fmt, 0, 0);
    resnet(b, opt, ch, ch, fmt, 1, 0);
    if (!attention)
        return;
    snprintf(pre, sizeof pre, "%s.mid_block.attentions.0", part);
    norm(b, opt, ch, pre, "group_norm");
    add(b, opt, S2(ch, ch), "%s.to_q.weight", pre);
    add(b, opt, S1(ch), "%s.to_q.bias", pre);
    add(b, opt, S2(ch, ch), "%s.to_k.weight", pre);
    add(b, opt, S1(ch), "%s.to_k.bias", pre);
    add(b, opt, S2(ch, ch), "%s.to_v.weight", pre);
    add(b, opt, S1(ch), "%s.to_v.bias", pre);
    add(b, opt, S2(ch, ch), "%s.to_out.0.weight", pre);
    add(b, opt, S1(ch), "%s.to_out.0.bias", pre);
}

static const char *const vae_extras[] = {"encoder.", "quant_conv.", NULL};

zt_status zt_manifest_vae(zt_manifest *m, const zt_vae_config *c, zt_err *err)
{
    memset(m, 0, sizeof *m);
    m->extra_prefixes = vae_extras;
    builder b = {.m = m, .err = err, .st = ZT_OK};
    int n = c->n_blocks;
    int64_t lat = c->latent_channels, top = c->block_out[n - 1], bottom = c->block_out[0];
    char pre[80];

    /* Decoder: widths run from block_out[n-1] down to block_out[0]. */
    conv(&b, 0, top, lat, 3, "decoder", "conv_in");
    mid_block(&b, 0, top, c->mid_attention, "decoder");
    int64_t prev = top;
    for (int i = 0; i < n; i++) {
        int64_t out = c->block_out[n - 1 - i];
        for (int r = 0; r <= c->layers_per_block; r++)
            resnet(&b, 0, r ? out : prev, out, "decoder.up_blocks.%d.resnets.%d", i, r);
        if (i < n - 1) {
            snprintf(pre, sizeof pre, "decoder.up_blocks.%d.upsamplers.0", i);
            conv(&b, 0, out, out, 3, pre, "conv");
        }
        prev = out;
    }
    norm(&b, 0, bottom, "decoder", "conv_norm_out");
    conv(&b, 0, c->out_channels, bottom, 3, "decoder", "conv_out");
    if (c->use_post_quant_conv) {
        add(&b, 0, S4(lat, lat, 1, 1), "post_quant_conv.weight");
        add(&b, 0, S1(lat), "post_quant_conv.bias");
    }

    /* Encoder (optional): image channels taken equal to out_channels. */
    conv(&b, 1, bottom, c->out_channels, 3, "encoder", "conv_in");
    prev = bottom;
    for (int i = 0; i < n; i++) {
        int64_t out = c->block_out[i];
        for (int r = 0; r < c->layers_per_block; r++)
            resnet(&b, 1, r ? out : prev, out, "encoder.down_blocks.%d.resnets.%d", i, r);
        if (i < n - 1) {
            snprintf(pre, sizeof pre, "encoder.down_blocks.%d.downsamplers.0", i);
            conv(&b, 1, out, out, 3, pre, "conv");
        }
        prev = out;
    }
    mid_block(&b, 1, top, c->mid_attention, "encoder");
    norm(&b, 1, top, "encoder", "conv_norm_out");
    /* Mean and log-variance: 2 * latent channels. */
    conv(&b, 1, 2 * lat, top, 3, "encoder", "conv_out");
    add(&b, 1, S4(2 * lat, 2 * lat, 1, 1), "quant_conv.weight");
    add(&b, 1, S1(2 * lat), "quant_conv.bias");
    return finish(&b);
}

/* ---- checking ------------------------------------------------------------- */

const zt_manifest_entry *zt_manifest_find(const zt_manifest *m, const char *name)
{
    zt_manifest_entry key;
    size_t len = strlen(name);
    if (len >= sizeof key.name)
        return NULL;
    memcpy(key.name, name, len + 1);
    return bsearch(&key, m->v, (size_t)m->n, sizeof *m->v, cmp_entry);
}

int zt_manifest_allows_extra(const zt_manifest *m, const char *name)
{
    for (const char *const *p = m->extra_prefixes; p && *p; p++)
        if (!strncmp(name, *p, strlen(*p)))
            return 1;
    return 0;
}

uint64_t zt_manifest_loaded_bytes(const zt_manifest *m, const zt_weights *w)
{
    uint64_t sum = 0;
    for (int i = 0; i < m->n; i++) {
        const zt_manifest_entry *e = &m->v[i];
        const zt_st_entry *s = e->optional || e->idle ? NULL : zt_weights_find(w, e->name);
        if (s)
            sum += zt_tensor_nbytes(&s->t);
    }
    return sum;
}

int zt_manifest_required_count(const zt_manifest *m)
{
    int n = 0;
    for (int i = 0; i < m->n; i++)
        n += !m->v[i].optional;
    return n;
}

static int shape_matches(const zt_manifest_entry *e, const zt_st_entry *s)
{
    return zt_shape_eq(&s->t, e->ndim, e->shape);
}

int zt_manifest_check(const zt_manifest *m, const zt_weights *w, zt_manifest_cb cb, void *ctx,
                      int *unused)
{
    int problems = 0, extra = 0;
    /* Expected side: missing and wrongly shaped. */
    for (int i = 0; i < m->n; i++) {
        const zt_manifest_entry *e = &m->v[i];
        const zt_st_entry *s = zt_weights_find(w, e->name);
        if (!s && !e->optional) {
            problems++;
            if (cb)
                cb(ctx, ZT_MANIFEST_MISSING, e->name, e, NULL, NULL);
        } else if (s && !shape_matches(e, s)) {
            problems++;
            if (cb)
                cb(ctx, ZT_MANIFEST_SHAPE, e->name, e, s, zt_weights_file(w, s->file));
        } else if (s && s->t.dtype != ZT_F32 && s->t.dtype != ZT_BF16 && s->t.dtype != ZT_F16) {
            problems++;
            if (cb)
                cb(ctx, ZT_MANIFEST_DTYPE, e->name, e, s, zt_weights_file(w, s->file));
        }
    }
    /* Found side: anything not listed and not tolerated. Loads take tensors
     * by name and never look at the rest, so these are said, not counted. */
    for (int i = 0; i < zt_weights_count(w); i++) {
        const zt_st_entry *s = zt_weights_at(w, i);
        if (zt_manifest_find(m, s->name) || zt_manifest_allows_extra(m, s->name))
            continue;
        extra++;
        if (cb)
            cb(ctx, ZT_MANIFEST_UNEXPECTED, s->name, NULL, s, zt_weights_file(w, s->file));
    }
    if (unused)
        *unused = extra;
    return problems;
}

/* zt_manifest_verify keeps only the first problem. */
typedef struct first_problem {
    zt_err *err;
    const zt_weights *w;
    int seen;
} first_problem;

static void keep_first(void *ctx, zt_manifest_problem kind, const char *name,
                       const zt_manifest_entry *want, const zt_st_entry *found, const char *file)
{
    first_problem *fp = ctx;
    if (kind == ZT_MANIFEST_UNEXPECTED || fp->seen++)
        return;
    char a[96], b[96];
    switch (kind) {
    case ZT_MANIFEST_MISSING:
        zt_fail(fp->err, ZT_ERR_MISSING, "%s: tensor '%s' %s is missing",
                zt_weights_dir(fp->w), name, zt_manifest_shape_str(want, a, sizeof a));
        break;
    case ZT_MANIFEST_UNEXPECTED: /* no failure; skipped above */
        break;
    case ZT_MANIFEST_SHAPE:
        zt_fail(fp->err, ZT_ERR_SHAPE, "%s: tensor '%s': expected shape %s, found %s", file,
                name, zt_manifest_shape_str(want, a, sizeof a),
                zt_shape_str(&found->t, b, sizeof b));
        break;
    case ZT_MANIFEST_DTYPE:
        zt_fail(fp->err, ZT_ERR_DTYPE, "%s: tensor '%s': dtype %s, expected F32, BF16 or F16",
                file, name, zt_dtype_name(found->t.dtype));
        break;
    }
}

zt_status zt_manifest_verify(const zt_manifest *m, const zt_weights *w, zt_err *err)
{
    first_problem fp = {err, w, 0};
    int n = zt_manifest_check(m, w, keep_first, &fp, NULL);
    if (!n)
        return ZT_OK;
    if (n > 1)
        zt_err_prefix(err, "%d tensor problems, first", n);
    return err ? err->code : ZT_ERR_FORMAT;
}

const char *zt_manifest_shape_str(const zt_manifest_entry *e, char *buf, size_t n)
{
    zt_tensor t = {.ndim = e->ndim};
    memcpy(t.shape, e->shape, sizeof t.shape);
    return zt_shape_str(&t, buf, n);
}

uint64_t zt_manifest_numel(const zt_manifest *m)
{
    uint64_t sum = 0;
    for (int i = 0; i < m->n; i++) {
        if (m->v[i].optional)
            continue;
        uint64_t k = 1;
        for (int d = 0; d < m->v[i].ndim; d++)
            k *= (uint64_t)m->v[i].shape[d];
        sum += k;
    }
    return sum;
}
