/*
 * vae.c - Flux VAE decoder on backend ops (spec §5).
 *
 * Channels ch[] = block_out_channels; the decoder runs them reversed. With
 * h x w latents and 4 blocks: conv_in -> ch[-1] @ h x w; mid block; up block
 * i has layers_per_block+1 resnets and (except the last) a x2 upsampler.
 * Activations are channels last, [H, W, C] (rows of pixels: the attention
 * reads them as [S, C] with no transposes, and convolutions run on tensor
 * cores without layout changes), in four scratch buffers (vae_sizes below).
 * The latents come in and the image goes out channel-first, [C, h, w].
 */
#include "vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define VAE_MAX_BLOCKS 8
#define VAE_MAX_RESNETS 8
#define VAE_EPS 1e-6f

typedef struct resnet {
    zt_tensor n1w, n1b, c1w, c1b, n2w, n2b, c2w, c2b;
    zt_tensor scw, scb; /* 1x1 shortcut when channels change; data NULL otherwise */
    int cin, cout;
} resnet;

typedef struct up_block {
    resnet r[VAE_MAX_RESNETS];
    int n_res;
    int has_up;
    zt_tensor upw, upb;
} up_block;

struct zt_vae {
    zt_backend *be;
    zt_vae_config cfg;
    zt_tensor pq_w, pq_b;       /* post_quant_conv 1x1, optional */
    zt_tensor cin_w, cin_b;
    resnet mid0, mid1;
    zt_tensor an_w, an_b, aq_w, aq_b, ak_w, ak_b, av_w, av_b, ao_w, ao_b;
    up_block up[VAE_MAX_BLOCKS];
    zt_tensor no_w, no_b, cout_w, cout_b;
    void *block;
    size_t weight_bytes;
};

static void load_resnet(zt_loader *L, resnet *r, int cin, int cout, const char *p)
{
    r->cin = cin;
    r->cout = cout;
    zt_loader_get(L, &r->n1w, ZT_SHAPE(cin), "%s.norm1.weight", p);
    zt_loader_get(L, &r->n1b, ZT_SHAPE(cin), "%s.norm1.bias", p);
    zt_loader_get(L, &r->c1w, ZT_SHAPE(cout, cin, 3, 3), "%s.conv1.weight", p);
    zt_loader_get(L, &r->c1b, ZT_SHAPE(cout), "%s.conv1.bias", p);
    zt_loader_get(L, &r->n2w, ZT_SHAPE(cout), "%s.norm2.weight", p);
    zt_loader_get(L, &r->n2b, ZT_SHAPE(cout), "%s.norm2.bias", p);
    zt_loader_get(L, &r->c2w, ZT_SHAPE(cout, cout, 3, 3), "%s.conv2.weight", p);
    zt_loader_get(L, &r->c2b, ZT_SHAPE(cout), "%s.conv2.bias", p);
    if (cin != cout) {
        zt_loader_get(L, &r->scw, ZT_SHAPE(cout, cin, 1, 1), "%s.conv_shortcut.weight", p);
        zt_loader_get(L, &r->scb, ZT_SHAPE(cout), "%s.conv_shortcut.bias", p);
    }
}

int zt_vae_scale(const zt_vae_config *cfg)
{
    return 1 << (cfg->n_blocks - 1);
}

zt_status zt_vae_new(zt_vae **out, zt_backend *be, const zt_vae_config *cfg,
                     const zt_weights *w, uint32_t synth_seed, zt_err *err)
{
    *out = NULL;
    if (cfg->n_blocks < 1 || cfg->n_blocks > VAE_MAX_BLOCKS ||
        cfg->layers_per_block + 1 > VAE_MAX_RESNETS)
        return zt_fail(err, ZT_ERR_UNSUPPORTED, "vae: %d blocks of %d resnets not supported",
                       cfg->n_blocks, cfg->layers_per_block + 1);
    zt_vae *v = calloc(1, sizeof *v);
    if (!v)
        return zt_fail(err, ZT_ERR_NOMEM, "vae: out of memory");
    v->be = be;
    v->cfg = *cfg;
    const int nb = cfg->n_blocks, top = cfg->block_out[nb - 1], lc = cfg->latent_channels;

    zt_loader L;
    zt_loader_init(&L, w, synth_seed, "vae");
    if (cfg->use_post_quant_conv) {
        zt_loader_get(&L, &v->pq_w, ZT_SHAPE(lc, lc, 1, 1), "post_quant_conv.weight");
        zt_loader_get(&L, &v->pq_b, ZT_SHAPE(lc), "post_quant_conv.bias");
    }
    zt_loader_get(&L, &v->cin_w, ZT_SHAPE(top, lc, 3, 3), "decoder.conv_in.weight");
    zt_loader_get(&L, &v->cin_b, ZT_SHAPE(top), "decoder.conv_in.bias");
    load_resnet(&L, &v->mid0, top, top, "decoder.mid_block.resnets.0");
    if (cfg->mid_attention) {
        const char *a = "decoder.mid_block.attentions.0";
        zt_loader_get(&L, &v->an_w, ZT_SHAPE(top), "%s.group_norm.weight", a);
        zt_loader_get(&L, &v->an_b, ZT_SHAPE(top), "%s.group_norm.bias", a);
        zt_loader_get(&L, &v->aq_w, ZT_SHAPE(top, top), "%s.to_q.weight", a);
        zt_loader_get(&L, &v->aq_b, ZT_SHAPE(top), "%s.to_q.bias", a);
        zt_loader_get(&L, &v->ak_w, ZT_SHAPE(top, top), "%s.to_k.weight", a);
        zt_loader_get(&L, &v->ak_b, ZT_SHAPE(top), "%s.to_k.bias", a);
        zt_loader_get(&L, &v->av_w, ZT_SHAPE(top, top), "%s.to_v.weight", a);
        zt_loader_get(&L, &v->av_b, ZT_SHAPE(top), "%s.to_v.bias", a);
        zt_loader_get(&L, &v->ao_w, ZT_SHAPE(top, top), "%s.to_out.0.weight", a);
        zt_loader_get(&L, &v->ao_b, ZT_SHAPE(top), "%s.to_out.0.bias", a);
    }
    load_resnet(&L, &v->mid1, top, top, "decoder.mid_block.resnets.1");
    int cin = top;
    for (int i = 0; i < nb; i++) {
        up_block *b = &v->up[i];
        int cout = cfg->block_out[nb - 1 - i];
        b->n_res = cfg->layers_per_block + 1;
        for (int r = 0; r < b->n_res; r++) {
            char p[96];
            snprintf(p, sizeof p, "decoder.up_blocks.%d.resnets.%d", i, r);
            load_resnet(&L, &b->r[r], r ? cout : cin, cout, p);
        }
        b->has_up = i < nb - 1;
        if (b->has_up) {
            zt_loader_get(&L, &b->upw, ZT_SHAPE(cout, cout, 3, 3),
                          "decoder.up_blocks.%d.upsamplers.0.conv.weight", i);
            zt_loader_get(&L, &b->upb, ZT_SHAPE(cout), "decoder.up_blocks.%d.upsamplers.0.conv.bias", i);
        }
        cin = cout;
    }
    zt_loader_get(&L, &v->no_w, ZT_SHAPE(cin), "decoder.conv_norm_out.weight");
    zt_loader_get(&L, &v->no_b, ZT_SHAPE(cin), "decoder.conv_norm_out.bias");
    zt_loader_get(&L, &v->cout_w, ZT_SHAPE(cfg->out_channels, cin, 3, 3), "decoder.conv_out.weight");
    zt_loader_get(&L, &v->cout_b, ZT_SHAPE(cfg->out_channels), "decoder.conv_out.bias");
    size_t total = 0;
    for (int i = 0; i < L.n; i++)
        total += zt_tensor_nbytes(L.slots[i]);
    v->weight_bytes = total;
    zt_status st = zt_loader_finish(&L, be, &v->block, err);
    if (st != ZT_OK) {
        zt_vae_free(v);
        return st;
    }
    *out = v;
    return ZT_OK;
}

void zt_vae_free(zt_vae *v)
{
    if (!v)
        return;
    zt_loader_release(v->be, v->block);
    free(v);
}

size_t zt_vae_weight_bytes(const zt_vae *v)
{
    return v->weight_bytes;
}

/*
 * Scratch: two activation buffers. buf[0] holds the activation between
 * layers; buf[1] holds a layer's temporaries, laid out by run_resnet and
 * run_attention, and an upsampler's doubled input before its convolution
 * (buf[0] -> buf[1] -> buf[0]).
 * With a shortcut the resnet takes it first, so that its first norm can
 * overwrite x in place; then x and the block's two cout-wide temporaries
 * never need more than buf[0] plus 2 * cout * H * W. At 1024x1024 both
 * buffers hold 256 x 1024 x 1024 values (the last upsampler's output and
 * the 256 -> 128 resnet's input): 1.0 GiB in BF16, where four buffers
 * (a third for the resnets' outputs, a fourth for attention) made it 1.3.
 */
typedef struct vae_sizes {
    int64_t x;    /* buf[0]: max C*H*W over the activations, upsampled ones included */
    int64_t work; /* buf[1]: max over the layers' temporaries (see above) */
} vae_sizes;

/* Offsets inside buf[1] are rounded to 128 values, so every view stays as
 * aligned as the arena's tensors (16-byte loads, cuDNN's alignment). */
static int64_t al128(int64_t n)
{
    return (n + 127) & ~(int64_t)127;
}

static void at_least(int64_t *v, int64_t n)
{
    if (n > *v)
        *v = n;
}

/* What k views of n values take in buf[1], view i at i * al128(n): a
 * resnet's two, the mid attention's four. */
static int64_t views_work(int k, int64_t n)
{
    return (k - 1) * al128(n) + n;
}

static vae_sizes vae_buf_sizes(const zt_vae_config *c, int h, int w)
{
    const int nb = c->n_blocks;
    int64_t hw = (int64_t)h * w;
    int64_t cin = c->block_out[nb - 1];
    /* the unscaled latents and post_quant_conv's output in buf[1], conv_in
     * into buf[0], the mid block's resnets and attention (4 [top, hw]) */
    vae_sizes s = {cin * hw, c->latent_channels * hw};
    at_least(&s.work, views_work(2, cin * hw));
    if (c->mid_attention)
        at_least(&s.work, views_work(4, cin * hw));
    for (int i = 0; i < nb; i++) {
        int64_t cout = c->block_out[nb - 1 - i];
        /* the block's first resnet takes cin -> cout, the others cout -> cout;
         * each keeps two cout-wide views in buf[1] (run_resnet) */
        at_least(&s.x, (cin > cout ? cin : cout) * hw);
        at_least(&s.work, views_work(2, cout * hw));
        if (i < nb - 1) {
            hw *= 4;
            at_least(&s.x, cout * hw);
            at_least(&s.work, cout * hw);
        }
        cin = cout;
    }
    at_least(&s.work, cin * hw); /* the output norm */
    return s;
}

typedef struct vae_scratch {
    zt_tensor buf[2];     /* flat, sized by vae_buf_sizes */
    zt_tensor zin;        /* [h, w, C] decoder input */
    zt_tensor rgb;        /* F32 [H, W, out_channels]: conv_out before the final transpose */
} vae_scratch;

static zt_status carve(zt_arena *a, const zt_vae_config *c, zt_dtype act, int h, int w,
                       vae_scratch *s, zt_err *err)
{
    vae_sizes z = vae_buf_sizes(c, h, w);
    int64_t n[2] = {z.x, z.work};
    zt_status st;
    for (int i = 0; i < 2; i++)
        if ((st = zt_arena_tensor(a, &s->buf[i], act, 1, (int64_t[]){n[i]}, err)))
            return st;
    const int sc = zt_vae_scale(c);
    if ((st = zt_arena_tensor(a, &s->zin, act, 3, (int64_t[]){h, w, c->latent_channels}, err)))
        return st;
    return zt_arena_tensor(a, &s->rgb, ZT_F32, 3,
                           (int64_t[]){(int64_t)h * sc, (int64_t)w * sc, c->out_channels}, err);
}

size_t zt_vae_scratch_bytes(const zt_vae_config *cfg, zt_dtype act, int h, int w)
{
    zt_arena a;
    vae_scratch s;
    zt_arena_measure(&a);
    carve(&a, cfg, act, h, w, &s, NULL);
    return a.peak;
}

/* A view of n values at value `at` of a flat scratch buffer; a view past
 * its end (vae_sizes out of step with the layers) fails the backend, so
 * the decode reports it instead of writing into the next tensor. */
static void *view_at(zt_backend *be, const zt_tensor *buf, int64_t at, int64_t n)
{
    if (at + n > zt_tensor_numel(buf)) {
        zt_backend_set_error(be, ZT_ERR_SHAPE,
                             "a view of %lld values at %lld is past its %lld-value buffer",
                             (long long)n, (long long)at, (long long)zt_tensor_numel(buf));
        return NULL;
    }
    return buf->data ? (char *)buf->data + (size_t)at * zt_dtype_size(buf->dtype) : NULL;
}

/* A [H, W, C] view at value `at` of a flat scratch buffer. */
static zt_tensor view3(zt_backend *be, const zt_tensor *buf, int64_t at, int64_t C, int64_t H,
                       int64_t W)
{
    return zt_tensor_make(buf->dtype, 3, (int64_t[]){H, W, C}, view_at(be, buf, at, H * W * C));
}

/* A [S, C] view at value `at` of a flat scratch buffer. */
static zt_tensor view2(zt_backend *be, const zt_tensor *buf, int64_t at, int64_t S, int64_t C)
{
    return zt_tensor_2d(buf->dtype, S, C, view_at(be, buf, at, S * C));
}

/*
 * out = shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))), x and out
 * in bufs[0], n = cout * H * W values, o = al128(n) (vae_sizes); a resnet
 * has a shortcut exactly when cin != cout, so without one x is n wide too:
 *   with a shortcut: sc = bufs[1][0, n); norm1 in place in bufs[0] (x is
 *     not read again); c1 = bufs[1][o, o + n); norm2 into bufs[0];
 *     c2 = bufs[1][o, o + n); out = sc + c2 into bufs[0].
 *   without: t = bufs[1][0, n); c1 = bufs[1][o, o + n); norm2 into
 *     bufs[1][0, n); c2 = bufs[1][o, o + n); out = x + c2.
 */
static void run_resnet(zt_vae *v, const resnet *r, zt_tensor *bufs, int64_t H, int64_t W)
{
    zt_backend *be = v->be;
    int G = v->cfg.norm_groups;
    zt_tensor x = view3(be, &bufs[0], 0, r->cin, H, W);
    zt_tensor y = view3(be, &bufs[0], 0, r->cout, H, W);
    zt_tensor t = view3(be, &bufs[1], 0, r->cout, H, W); /* sc, or t and t2 */
    zt_tensor c = view3(be, &bufs[1], al128(r->cout * H * W), r->cout, H, W);
    if (r->scw.data) {
        zt_tensor sc = t;
        zt_op_conv2d(be, &sc, &x, &r->scw, &r->scb);
        zt_op_groupnorm(be, &x, &x, G, &r->n1w, &r->n1b, VAE_EPS, 1);
        zt_op_conv2d(be, &c, &x, &r->c1w, &r->c1b);
        zt_op_groupnorm(be, &y, &c, G, &r->n2w, &r->n2b, VAE_EPS, 1);
        zt_op_conv2d(be, &c, &y, &r->c2w, &r->c2b);
        zt_op_add(be, &y, &sc, &c);
    } else {
        zt_op_groupnorm(be, &t, &x, G, &r->n1w, &r->n1b, VAE_EPS, 1);
        zt_op_conv2d(be, &c, &t, &r->c1w, &r->c1b);
        zt_op_groupnorm(be, &t, &c, G, &r->n2w, &r->n2b, VAE_EPS, 1);
        zt_op_conv2d(be, &c, &t, &r->c2w, &r->c2b);
        zt_op_add(be, &y, &x, &c);
    }
}

/* Single-head attention over the H*W pixels, C wide, plus the residual.
 * x [S, C] in bufs[0]; the normalised input g, q, k and v are four
 * [S, C] views in bufs[1], o = al128(S * C) apart (views_work). */
static void run_attention(zt_vae *v, zt_tensor *bufs, int64_t C, int64_t H, int64_t W)
{
    zt_backend *be = v->be;
    const int64_t S = H * W, o = al128(S * C);
    zt_tensor x = view2(be, &bufs[0], 0, S, C);
    zt_tensor g = view2(be, &bufs[1], 0, S, C);
    zt_op_groupnorm(be, &g, &x, v->cfg.norm_groups, &v->an_w, &v->an_b, VAE_EPS, 0);
    zt_tensor q = view2(be, &bufs[1], o, S, C);
    zt_tensor k = view2(be, &bufs[1], 2 * o, S, C);
    zt_tensor vv = view2(be, &bufs[1], 3 * o, S, C);
    zt_op_matmul(be, &q, &g, &v->aq_w, &v->aq_b);
    zt_op_matmul(be, &k, &g, &v->ak_w, &v->ak_b);
    zt_op_matmul(be, &vv, &g, &v->av_w, &v->av_b);
    zt_tensor a = g; /* the normalised input is no longer needed */
    zt_tensor q3 = zt_tensor_reshape(&q, 3, (int64_t[]){S, 1, C});
    zt_tensor k3 = zt_tensor_reshape(&k, 3, (int64_t[]){S, 1, C});
    zt_tensor v3 = zt_tensor_reshape(&vv, 3, (int64_t[]){S, 1, C});
    zt_tensor a3 = zt_tensor_reshape(&a, 3, (int64_t[]){S, 1, C});
    zt_op_attention(be, &a3, &q3, &k3, &v3, 0, 1.0f / sqrtf((float)C));
    zt_tensor out = q; /* q is no longer needed */
    zt_op_matmul(be, &out, &a, &v->ao_w, &v->ao_b);
    zt_op_add(be, &x, &x, &out);
}

/* Hand a [H, W, C] activation to the tap as [C, H, W], the reference's
 * layout, through a temporary (taps are for tests, never in a job). */
static void tap_view(zt_vae *v, zt_tap_fn tap, void *ud, const char *name, const zt_tensor *buf,
                     int64_t C, int64_t H, int64_t W)
{
    if (!tap)
        return;
    zt_tensor t = zt_tensor_make(buf->dtype, 3, (int64_t[]){C, H, W}, NULL);
    zt_err err = {0};
    if (zt_backend_alloc(v->be, zt_tensor_nbytes(&t), &t.data, &err) != ZT_OK) {
        zt_backend_set_error(v->be, err.code, "vae tap %s: %s", name, err.msg);
        return;
    }
    zt_tensor src = zt_tensor_2d(buf->dtype, H * W, C, buf->data);
    zt_tensor dst = zt_tensor_2d(buf->dtype, C, H * W, t.data);
    zt_op_transpose(v->be, &dst, &src);
    tap(ud, name, &t);
    zt_backend_release(v->be, t.data);
}

zt_status zt_vae_decode(zt_vae *v, const zt_tensor *z, int unscale, zt_arena *arena,
                        zt_tensor *out, zt_tap_fn tap, void *tap_ud, int (*stop)(void *ud),
                        void *stop_ud, zt_err *err)
{
    zt_backend *be = v->be;
    const zt_vae_config *c = &v->cfg;
    if (z->ndim != 3 || z->shape[0] != c->latent_channels)
        return zt_fail(err, ZT_ERR_SHAPE, "vae: latents must be [%d, h, w]", c->latent_channels);
    const int h = (int)z->shape[1], w = (int)z->shape[2], nb = c->n_blocks;
    const int s = zt_vae_scale(c);
    if (out->ndim != 3 || out->shape[0] != c->out_channels || out->shape[1] != (int64_t)h * s ||
        out->shape[2] != (int64_t)w * s)
        return zt_fail(err, ZT_ERR_SHAPE, "vae: output must be [%d, %d, %d]", c->out_channels,
                       h * s, w * s);
    size_t mark = zt_arena_mark(arena);
    vae_scratch sc;
    zt_status st = carve(arena, c, be->act_dtype, h, w, &sc, err);
    if (st != ZT_OK)
        return st;
    const int top = c->block_out[nb - 1], lc = c->latent_channels;
    int64_t H = h, W = w;

    /* [C, h, w] latents -> [h, w, C] rows of pixels (unscaled first, in buf[1]) */
    zt_tensor zt = zt_tensor_2d(be->act_dtype, h * w, lc, sc.zin.data);
    zt_tensor zc = zt_tensor_2d(z->dtype, lc, (int64_t)h * w, z->data);
    if (unscale) {
        zc = view2(be, &sc.buf[1], 0, lc, (int64_t)h * w);
        zt_op_scale_add(be, &zc, z, 1.0f / c->scaling_factor, c->shift_factor);
    }
    zt_op_transpose(be, &zt, &zc);
    if (c->use_post_quant_conv) {
        zt_tensor t = view3(be, &sc.buf[1], 0, lc, H, W);
        zt_op_conv2d(be, &t, &sc.zin, &v->pq_w, &v->pq_b);
        zt_op_copy(be, &sc.zin, &t);
    }
    zt_tensor h0 = view3(be, &sc.buf[0], 0, top, H, W);
    zt_op_conv2d(be, &h0, &sc.zin, &v->cin_w, &v->cin_b);
    tap_view(v, tap, tap_ud, "conv_in", &sc.buf[0], top, H, W);

    run_resnet(v, &v->mid0, sc.buf, H, W);
    if (c->mid_attention)
        run_attention(v, sc.buf, top, H, W);
    run_resnet(v, &v->mid1, sc.buf, H, W);
    tap_view(v, tap, tap_ud, "mid_block", &sc.buf[0], top, H, W);

    int ch = top, stopped = 0;
    for (int i = 0; i < nb; i++) {
        up_block *b = &v->up[i];
        for (int r = 0; r < b->n_res && !(stopped = stop && stop(stop_ud)); r++)
            run_resnet(v, &b->r[r], sc.buf, H, W);
        if (stopped)
            break;
        ch = b->r[b->n_res - 1].cout;
        if (b->has_up) {
            zt_tensor x = view3(be, &sc.buf[0], 0, ch, H, W);
            zt_tensor u = view3(be, &sc.buf[1], 0, ch, 2 * H, 2 * W);
            zt_op_upsample2x(be, &u, &x);
            H *= 2;
            W *= 2;
            zt_tensor y = view3(be, &sc.buf[0], 0, ch, H, W);
            zt_op_conv2d(be, &y, &u, &b->upw, &b->upb);
        }
        char name[32];
        snprintf(name, sizeof name, "up_blocks.%d", i);
        tap_view(v, tap, tap_ud, name, &sc.buf[0], ch, H, W);
    }
    if (stopped)
        goto finish;
    zt_tensor x = view3(be, &sc.buf[0], 0, ch, H, W);
    zt_tensor n = view3(be, &sc.buf[1], 0, ch, H, W);
    zt_op_groupnorm(be, &n, &x, c->norm_groups, &v->no_w, &v->no_b, VAE_EPS, 0);
    tap_view(v, tap, tap_ud, "conv_norm_out", &sc.buf[1], ch, H, W);
    zt_op_unary(be, &n, &n, ZT_UNARY_SILU);
    /* conv_out in F32, then [H*W, 3] -> the planar [3, H, W] image */
    zt_op_conv2d(be, &sc.rgb, &n, &v->cout_w, &v->cout_b);
    zt_tensor rows = zt_tensor_2d(ZT_F32, H * W, c->out_channels, sc.rgb.data);
    zt_tensor planes = zt_tensor_2d(out->dtype, c->out_channels, H * W, out->data);
    zt_op_transpose(be, &planes, &rows);
    if (tap)
        tap(tap_ud, "conv_out", out);
finish:
    /* the ops issued finish before their arena space is given back */
    st = zt_backend_sync(be, err);
    zt_arena_reset(arena, mark);
    if (st != ZT_OK)
        return zt_err_prefix(err, "vae");
    return stopped ? zt_fail(err, ZT_ERR_CANCELLED, "cancelled while decoding") : ZT_OK;
}
