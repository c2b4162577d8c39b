/*
 * dit.c - ZImageTransformer2DModel forward pass on backend ops (spec §4).
 *
 * Shapes: D model width, hd = D / heads, F = int(D/3*8) FFN width,
 * A = min(D, 256) adaLN width, P = p*p*C patch vector (64), N image tokens
 * padded to Np, caption rows L padded to Lp, S = Np + Lp.
 */
#include "dit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define T_FREQ_DIM 256 /* sinusoidal timestep embedding width */
#define T_MID 1024     /* t_embedder hidden width */

/* A block's seven matrix products, in the order of lin8 below. */
enum { LIN_Q, LIN_K, LIN_V, LIN_O, LIN_W1, LIN_W2, LIN_W3, N_LIN };
static const char *const lin_names[N_LIN] = {
    "attention.to_q", "attention.to_k",  "attention.to_v", "attention.to_out.0",
    "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"};

typedef struct dit_block {
    int mi;                          /* its index among the modulated blocks,
                                      * which picks its rows of the job's mod;
                                      * -1: unmodulated */
    zt_tensor ada_w, ada_b;          /* [4D, A], [4D] */
    zt_tensor norm_q, norm_k;        /* [hd] */
    zt_tensor n1, n2, fn1, fn2;      /* [D] */
    /* the seven product weights in the lin_names order, [n, k] by
     * lin_shape: q, o [D, D], k, v [kv*hd, D], w1, w3 [F, D], w2 [D, F] */
    zt_tensor lin[N_LIN];
    /* --precision fp8 (modulated blocks): the same as E4M3 rows with a
     * scale per output channel, held in the model's block8; lin is then
     * not loaded */
    int fp8;
    zt_qmat lin8[N_LIN];
} dit_block;

struct zt_dit {
    zt_backend *be;
    zt_dit_config cfg;
    int D, F, A, hd, P, kv;
    zt_tensor t0w, t0b, t2w, t2b;    /* [1024, 256], [1024], [A, 1024], [A] */
    zt_tensor xw, xb;                /* [D, P], [D] */
    zt_tensor cap_norm, capw, capb;  /* [Cf], [D, Cf], [D] */
    zt_tensor xpad, cpad;            /* [1, D] */
    zt_tensor fada_w, fada_b;        /* [D, A], [D] */
    zt_tensor fw, fb;                /* [P, D], [P] */
    dit_block *noise, *ctx, *layers;
    void *block;
    void *block8;                    /* the fp8 weights and scales, or NULL */
    size_t weight_bytes;
    zt_replay step[ZT_DIT_MAX_CAPTIONS]; /* a step after its t-embedder, per caption */
};

/* The blocks that read a modulation: the noise refiner's, then the main
 * layers (dit_block.mi counts them in that order). */
static int n_modulated(const zt_dit_config *cfg)
{
    return cfg->n_refiner_layers + cfg->n_layers;
}

/* The rows of a step's modulation (dit.h mod) that modulated block m of M
 * reads, k = 0 for its attention, 1 for its feed-forward: 1 + scale in
 * the first 2M rows, the final layer's 1 + scale in row 2M, tanh(gate) in
 * the last 2M. */
static int64_t scale_row(int64_t m, int k)
{
    return 2 * m + k;
}

static int64_t gate_row(int64_t M, int64_t m, int k)
{
    return 2 * M + 1 + 2 * m + k;
}

static int64_t final_scale_row(int64_t M)
{
    return 2 * M;
}

/* Weight i of the block's products is [n, k]. */
static void lin_shape(const zt_dit_config *cfg, int i, int64_t *n, int64_t *k)
{
    const int64_t D = cfg->dim, F = zt_dit_ffn_hidden(cfg);
    const int64_t KV = (int64_t)cfg->n_kv_heads * (cfg->dim / cfg->n_heads);
    *n = i == LIN_K || i == LIN_V ? KV : i == LIN_W1 || i == LIN_W3 ? F : D;
    *k = i == LIN_W2 ? F : D;
}

/* Requests block i of prefix into L; the seven products' weights too
 * unless the block is to be FP8 (load_block_fp8 reads those). mi: the
 * block's index among the modulated ones, or -1 for an unmodulated block. */
static void load_block(zt_loader *L, const zt_dit *d, dit_block *b, const char *prefix, int i,
                       int mi, int fp8)
{
    const int64_t D = d->D, hd = d->hd;
    char p[64];
    snprintf(p, sizeof p, "%s.%d", prefix, i);
    b->mi = mi;
    b->fp8 = fp8;
    if (mi >= 0) {
        zt_loader_get(L, &b->ada_w, ZT_SHAPE(4 * D, d->A), "%s.adaLN_modulation.0.weight", p);
        zt_loader_get(L, &b->ada_b, ZT_SHAPE(4 * D), "%s.adaLN_modulation.0.bias", p);
    }
    for (int l = 0; l < N_LIN && !fp8; l++) {
        int64_t n, k;
        lin_shape(&d->cfg, l, &n, &k);
        zt_loader_get(L, &b->lin[l], ZT_SHAPE(n, k), "%s.%s.weight", p, lin_names[l]);
    }
    zt_loader_get(L, &b->norm_q, ZT_SHAPE(hd), "%s.attention.norm_q.weight", p);
    zt_loader_get(L, &b->norm_k, ZT_SHAPE(hd), "%s.attention.norm_k.weight", p);
    zt_loader_get(L, &b->n1, ZT_SHAPE(D), "%s.attention_norm1.weight", p);
    zt_loader_get(L, &b->n2, ZT_SHAPE(D), "%s.attention_norm2.weight", p);
    zt_loader_get(L, &b->fn1, ZT_SHAPE(D), "%s.ffn_norm1.weight", p);
    zt_loader_get(L, &b->fn2, ZT_SHAPE(D), "%s.ffn_norm2.weight", p);
}

#define ALIGN8 256 /* carving alignment in block8 (FP8 products want 16) */

static size_t align_up(size_t n)
{
    return (n + ALIGN8 - 1) / ALIGN8 * ALIGN8;
}

/* The dtype w stores the block products' weights in (BF16 when w is NULL
 * or lacks them). */
static zt_dtype product_dtype(const zt_weights *w)
{
    char name[64];
    snprintf(name, sizeof name, "layers.0.%s.weight", lin_names[LIN_Q]);
    const zt_st_entry *e = w ? zt_weights_find(w, name) : NULL;
    return e ? e->t.dtype : ZT_BF16;
}

size_t zt_dit_fp8_weight_bytes(const zt_dit_config *cfg, const zt_weights *w, size_t *replaced)
{
    /* per block: each product's E4M3 rows and F32 scales, carved as
     * load_block_fp8 carves them */
    size_t n8 = 0, weights = 0, blocks = (size_t)n_modulated(cfg);
    for (int l = 0; l < N_LIN; l++) {
        int64_t n, k;
        lin_shape(cfg, l, &n, &k);
        n8 += align_up((size_t)(n * k)) + align_up((size_t)n * sizeof(float));
        weights += (size_t)(n * k);
    }
    if (replaced)
        *replaced = weights * blocks * zt_dtype_size(product_dtype(w));
    return n8 * blocks;
}

/*
 * --precision fp8: block i of prefix's seven product weights, read in
 * their stored dtype into an allocation of their own (354 MB at full
 * size), quantized a row (an output channel) at a time into b->lin8 at
 * *cursor in block8, then let go, so the BF16 copies never all coexist.
 */
static zt_status load_block_fp8(zt_dit *d, dit_block *b, const zt_weights *w, uint32_t seed,
                                const char *prefix, int i, char **cursor, zt_err *err)
{
    zt_loader L;
    zt_tensor tmp[N_LIN];
    char p[64];
    snprintf(p, sizeof p, "%s.%d", prefix, i);
    zt_loader_init(&L, w, seed, "transformer");
    for (int l = 0; l < N_LIN; l++) {
        int64_t n, k;
        lin_shape(&d->cfg, l, &n, &k);
        zt_loader_get(&L, &tmp[l], ZT_SHAPE(n, k), "%s.%s.weight", p, lin_names[l]);
    }
    void *blk = NULL;
    zt_status st = zt_loader_finish(&L, d->be, &blk, err);
    if (st != ZT_OK)
        return st;
    for (int l = 0; l < N_LIN; l++) {
        int64_t n = tmp[l].shape[0], k = tmp[l].shape[1];
        b->lin8[l].q = zt_tensor_2d(ZT_F8E4M3, n, k, *cursor);
        *cursor += align_up((size_t)(n * k));
        b->lin8[l].s = zt_tensor_make(ZT_F32, 1, &n, *cursor);
        *cursor += align_up((size_t)n * sizeof(float));
        zt_op_quantize(d->be, &b->lin8[l], &tmp[l]);
    }
    st = zt_backend_sync(d->be, err);
    zt_loader_release(d->be, blk);
    if (st != ZT_OK)
        zt_err_prefix(err, "transformer: fp8 weights");
    return st;
}

zt_status zt_dit_new(zt_dit **out, zt_backend *be, const zt_dit_config *cfg,
                     const zt_weights *w, uint32_t synth_seed, zt_err *err)
{
    *out = NULL;
    if (cfg->n_heads <= 0 || cfg->dim % cfg->n_heads || cfg->n_kv_heads <= 0 ||
        cfg->n_heads % cfg->n_kv_heads)
        return zt_fail(err, ZT_ERR_INVALID, "transformer: dim %d, %d heads, %d kv heads do not divide",
                       cfg->dim, cfg->n_heads, cfg->n_kv_heads);
    zt_dit *d = calloc(1, sizeof *d);
    if (!d)
        return zt_fail(err, ZT_ERR_NOMEM, "transformer: out of memory");
    d->be = be;
    d->cfg = *cfg;
    d->D = cfg->dim;
    d->F = zt_dit_ffn_hidden(cfg);
    d->A = zt_dit_adaln_dim(cfg);
    d->hd = cfg->dim / cfg->n_heads;
    d->kv = cfg->n_kv_heads;
    d->P = cfg->patch * cfg->patch * cfg->f_patch * cfg->in_channels;
    int nr = cfg->n_refiner_layers, nl = cfg->n_layers;
    d->noise = calloc((size_t)nr + 1, sizeof *d->noise);
    d->ctx = calloc((size_t)nr + 1, sizeof *d->ctx);
    d->layers = calloc((size_t)nl + 1, sizeof *d->layers);
    if (!d->noise || !d->ctx || !d->layers) {
        zt_dit_free(d);
        return zt_fail(err, ZT_ERR_NOMEM, "transformer: out of memory");
    }
    const int64_t D = d->D, A = d->A, P = d->P, Cf = cfg->cap_feat_dim;
    char emb[32];
    snprintf(emb, sizeof emb, "%d-%d", cfg->patch, cfg->f_patch);

    zt_loader L;
    zt_loader_init(&L, w, synth_seed, "transformer");
    zt_loader_get(&L, &d->t0w, ZT_SHAPE(T_MID, T_FREQ_DIM), "t_embedder.mlp.0.weight");
    zt_loader_get(&L, &d->t0b, ZT_SHAPE(T_MID), "t_embedder.mlp.0.bias");
    zt_loader_get(&L, &d->t2w, ZT_SHAPE(A, T_MID), "t_embedder.mlp.2.weight");
    zt_loader_get(&L, &d->t2b, ZT_SHAPE(A), "t_embedder.mlp.2.bias");
    zt_loader_get(&L, &d->xw, ZT_SHAPE(D, P), "all_x_embedder.%s.weight", emb);
    zt_loader_get(&L, &d->xb, ZT_SHAPE(D), "all_x_embedder.%s.bias", emb);
    zt_loader_get(&L, &d->cap_norm, ZT_SHAPE(Cf), "cap_embedder.0.weight");
    zt_loader_get(&L, &d->capw, ZT_SHAPE(D, Cf), "cap_embedder.1.weight");
    zt_loader_get(&L, &d->capb, ZT_SHAPE(D), "cap_embedder.1.bias");
    zt_loader_get(&L, &d->xpad, ZT_SHAPE(1, D), "x_pad_token");
    zt_loader_get(&L, &d->cpad, ZT_SHAPE(1, D), "cap_pad_token");
    zt_loader_get(&L, &d->fada_w, ZT_SHAPE(D, A), "all_final_layer.%s.adaLN_modulation.1.weight", emb);
    zt_loader_get(&L, &d->fada_b, ZT_SHAPE(D), "all_final_layer.%s.adaLN_modulation.1.bias", emb);
    zt_loader_get(&L, &d->fw, ZT_SHAPE(P, D), "all_final_layer.%s.linear.weight", emb);
    zt_loader_get(&L, &d->fb, ZT_SHAPE(P), "all_final_layer.%s.linear.bias", emb);
    /* fp8: the modulated blocks' products (the caption refiner runs once a
     * job and stays BF16, as do the embedders and the final layer) */
    const int fp8 = be->fp8;
    for (int i = 0; i < nr; i++) {
        load_block(&L, d, &d->noise[i], "noise_refiner", i, i, fp8);
        load_block(&L, d, &d->ctx[i], "context_refiner", i, -1, 0);
    }
    for (int i = 0; i < nl; i++)
        load_block(&L, d, &d->layers[i], "layers", i, nr + i, fp8);
    size_t total = 0;
    for (int i = 0; i < L.n; i++)
        total += zt_tensor_nbytes(L.slots[i]);
    zt_status st = zt_loader_finish(&L, be, &d->block, err);
    if (st == ZT_OK && fp8) {
        size_t n8 = zt_dit_fp8_weight_bytes(&d->cfg, NULL, NULL);
        st = zt_backend_alloc(be, n8, &d->block8, err);
        char *cursor = d->block8;
        for (int i = 0; st == ZT_OK && i < nr + nl; i++)
            st = load_block_fp8(d, i < nr ? &d->noise[i] : &d->layers[i - nr], w, synth_seed,
                                i < nr ? "noise_refiner" : "layers", i < nr ? i : i - nr,
                                &cursor, err);
        total += n8;
    }
    if (st != ZT_OK) {
        zt_dit_free(d);
        return st;
    }
    d->weight_bytes = total;
    *out = d;
    return ZT_OK;
}

void zt_dit_free(zt_dit *d)
{
    if (!d)
        return;
    for (int i = 0; i < ZT_DIT_MAX_CAPTIONS; i++)
        zt_replay_drop(d->be, &d->step[i]);
    zt_loader_release(d->be, d->block);
    zt_backend_release(d->be, d->block8);
    free(d->noise);
    free(d->ctx);
    free(d->layers);
    free(d);
}

size_t zt_dit_weight_bytes(const zt_dit *d)
{
    return d->weight_bytes;
}

static int pad_to(int n)
{
    return (n + ZT_DIT_SEQ_MULTI - 1) / ZT_DIT_SEQ_MULTI * ZT_DIT_SEQ_MULTI;
}

/* The sizes a job needs, derived from the config alone so that memory can
 * be planned before weights exist. */
typedef struct job_dims {
    int D, F, A, P, hd, Cf, N, Np, Lmax, Smax;
    int M; /* modulated blocks (n_modulated) */
} job_dims;

static job_dims dims_of(const zt_dit_config *c, int h, int w, const int *cap_lens, int n_caps)
{
    job_dims g;
    g.D = c->dim;
    g.F = zt_dit_ffn_hidden(c);
    g.A = zt_dit_adaln_dim(c);
    g.P = c->patch * c->patch * c->f_patch * c->in_channels;
    g.hd = c->dim / (c->n_heads ? c->n_heads : 1);
    g.Cf = c->cap_feat_dim;
    g.N = (h / c->patch) * (w / c->patch);
    g.Np = pad_to(g.N);
    g.Lmax = 0;
    for (int i = 0; i < n_caps; i++)
        if (pad_to(cap_lens[i]) > g.Lmax)
            g.Lmax = pad_to(cap_lens[i]);
    g.Smax = g.Np + g.Lmax;
    g.M = n_modulated(c);
    return g;
}

static zt_status carve(zt_dit_job *j, const zt_dit_config *c, zt_dtype act, zt_arena *a,
                       int h, int w, const int *cap_lens, int n_caps, zt_err *err)
{
    job_dims g = dims_of(c, h, w, cap_lens, n_caps);
    const int64_t S = g.Smax, D = g.D;
    zt_status st = ZT_OK;
    j->h = h;
    j->w = w;
    j->N = g.N;
    j->Np = g.Np;
    j->n_caps = n_caps;
    for (int i = 0; i < n_caps && st == ZT_OK; i++) {
        zt_dit_caption *cp = &j->caps[i];
        cp->L = cap_lens[i];
        cp->Lp = pad_to(cap_lens[i]);
        if ((st = zt_arena_tensor(a, &cp->y, act, 2, (int64_t[]){cp->Lp, D}, err)) ||
            (st = zt_arena_tensor(a, &cp->rope, ZT_F32, 3,
                                  (int64_t[]){g.Np + cp->Lp, g.hd / 2, 2}, err)))
            return st;
    }
    zt_tensor *sd[] = {&j->u, &j->h1, &j->o};
    for (size_t i = 0; i < sizeof sd / sizeof sd[0]; i++)
        if ((st = zt_arena_tensor(a, sd[i], act, 2, (int64_t[]){S, D}, err)))
            return st;
    /* q, k, v, att: four [S, D] parts of one region, which the fp8
     * feed-forward uses whole for its E4M3 hidden rows ([S, F] bytes,
     * F = 8D/3, within 4 x S x D activations) */
    if ((st = zt_arena_tensor(a, &j->qkva, act, 2, (int64_t[]){4 * S, D}, err)))
        return st;
    j->q = zt_tensor_rows(&j->qkva, 0, S);
    j->k = zt_tensor_rows(&j->qkva, S, S);
    j->v = zt_tensor_rows(&j->qkva, 2 * S, S);
    j->att = zt_tensor_rows(&j->qkva, 3 * S, S);
    /* f1 also holds the normed caption features [L, Cf] during set_caption */
    int64_t fcols = g.F, frows = S;
    if ((int64_t)g.Lmax * g.Cf > frows * fcols)
        frows = ((int64_t)g.Lmax * g.Cf + fcols - 1) / fcols;
    if ((st = zt_arena_tensor(a, &j->f1, act, 2, (int64_t[]){frows, fcols}, err)) ||
        (st = zt_arena_tensor(a, &j->f3, act, 2, (int64_t[]){S, g.F}, err)) ||
        (st = zt_arena_tensor(a, &j->patches, act, 2, (int64_t[]){g.N, g.P}, err)) ||
        (st =
             zt_arena_tensor(a, &j->temb, ZT_F32, 2, (int64_t[]){ZT_STEPS_MAX, T_FREQ_DIM}, err)) ||
        (st = zt_arena_tensor(a, &j->t1, act, 2, (int64_t[]){1, T_MID}, err)) ||
        (st = zt_arena_tensor(a, &j->c, act, 2, (int64_t[]){1, g.A}, err)) ||
        (st = zt_arena_tensor(a, &j->c_silu, act, 2, (int64_t[]){1, g.A}, err)) ||
        (st = zt_arena_tensor(a, &j->mraw, act, 2, (int64_t[]){4 * g.M + 1, D}, err)) ||
        (st = zt_arena_tensor(a, &j->mod, act, 2, (int64_t[]){4 * g.M + 1, D}, err)) ||
        (st = zt_arena_tensor(a, &j->mids, ZT_I32, 1, (int64_t[]){4 * g.M + 1}, err)) ||
        (st = zt_arena_tensor(a, &j->fout, act, 2, (int64_t[]){g.N, g.P}, err)) ||
        (st = zt_arena_tensor(a, &j->xpads, act, 2, (int64_t[]){g.Np > g.N ? g.Np - g.N : 1, D},
                              err)) ||
        (st = zt_arena_tensor(a, &j->qs, ZT_F32, 1, (int64_t[]){S}, err)) ||
        (st = zt_arena_tensor(a, &j->ts, ZT_F32, 1, (int64_t[]){3}, err)))
        return st;
    return ZT_OK;
}

static zt_status check_size(const zt_dit_config *c, int h, int w, const int *cap_lens,
                            int n_caps, zt_err *err)
{
    if (n_caps < 1 || n_caps > ZT_DIT_MAX_CAPTIONS)
        return zt_fail(err, ZT_ERR_INVALID, "transformer: %d captions (1..%d)", n_caps,
                       ZT_DIT_MAX_CAPTIONS);
    if (h <= 0 || w <= 0 || h % c->patch || w % c->patch)
        return zt_fail(err, ZT_ERR_INVALID, "transformer: latent %dx%d is not a multiple of the patch %d",
                       h, w, c->patch);
    /* RoPE positions index tables of axes_lens entries in the reference:
     * image rows and columns take positions 0 .. h/patch - 1. */
    if (h / c->patch > c->axes_lens[1] || w / c->patch > c->axes_lens[2])
        return zt_fail(err, ZT_ERR_INVALID, "transformer: latent %dx%d exceeds the position range %dx%d",
                       h, w, c->axes_lens[1] * c->patch, c->axes_lens[2] * c->patch);
    for (int i = 0; i < n_caps; i++)
        if (cap_lens[i] < 1 || pad_to(cap_lens[i]) + 1 >= c->axes_lens[0])
            return zt_fail(err, ZT_ERR_INVALID, "transformer: caption of %d tokens out of range",
                           cap_lens[i]);
    return ZT_OK;
}

zt_status zt_dit_job_carve(zt_dit_job *j, zt_dit *d, zt_arena *arena, int h, int w,
                           const int *cap_lens, int n_caps, zt_err *err)
{
    memset(j, 0, sizeof *j);
    j->dit = d;
    zt_status st = check_size(&d->cfg, h, w, cap_lens, n_caps, err);
    if (st != ZT_OK)
        return st;
    return carve(j, &d->cfg, d->be->act_dtype, arena, h, w, cap_lens, n_caps, err);
}

size_t zt_dit_job_bytes(const zt_dit_config *cfg, zt_dtype act, int h, int w,
                        const int *cap_lens, int n_caps)
{
    zt_arena a;
    zt_dit_job j;
    memset(&j, 0, sizeof j);
    zt_arena_measure(&a);
    carve(&j, cfg, act, &a, h, w, cap_lens, n_caps, NULL);
    return a.peak;
}

/* One row of the 3-axis table: for each axis a, d_a/2 pairs with angle
 * pos_a * theta^(-2k/d_a), computed in float64 and rounded to float32 before
 * cos/sin, as the reference precomputes it. */
static void rope_row(float *cs, const zt_dit_config *c, const int pos[3])
{
    int m = 0;
    for (int a = 0; a < 3; a++) {
        int da = c->axes_dims[a];
        for (int k = 0; k < da / 2; k++, m++) {
            double freq = 1.0 / pow(c->rope_theta, (double)(2 * k) / (double)da);
            float ang = (float)((double)pos[a] * freq);
            cs[2 * m + 0] = cosf(ang);
            cs[2 * m + 1] = sinf(ang);
        }
    }
}

/* Positions: image token (i, j) -> (Lp+1, i, j); image pads -> (0, 0, 0);
 * caption row r (pads included) -> (1+r, 0, 0). Image rows come first. */
static zt_status upload_rope(zt_dit_job *j, zt_dit_caption *cp, zt_err *err)
{
    const zt_dit_config *c = &j->dit->cfg;
    int half = j->dit->hd / 2, wt = j->w / c->patch;
    size_t rows = (size_t)j->Np + (size_t)cp->Lp;
    float *cs = malloc(rows * (size_t)half * 2 * sizeof(float));
    if (!cs)
        return zt_fail(err, ZT_ERR_NOMEM, "transformer: out of memory for RoPE tables");
    for (int r = 0; r < j->Np; r++) {
        int pos[3] = {0, 0, 0};
        if (r < j->N) {
            pos[0] = cp->Lp + 1;
            pos[1] = r / wt;
            pos[2] = r % wt;
        }
        rope_row(cs + (size_t)r * half * 2, c, pos);
    }
    for (int r = 0; r < cp->Lp; r++) {
        int pos[3] = {1 + r, 0, 0};
        rope_row(cs + ((size_t)j->Np + r) * half * 2, c, pos);
    }
    zt_status st = zt_backend_upload(j->dit->be, &cp->rope, cs, err);
    free(cs);
    return st;
}

static zt_tensor vec(const zt_tensor *t, int64_t off, int64_t n)
{
    /* A [n] view at element off of a contiguous tensor. */
    zt_tensor v = zt_tensor_make(t->dtype, 1, (int64_t[]){n}, NULL);
    v.data = t->data ? (char *)t->data + (size_t)off * zt_dtype_size(t->dtype) : NULL;
    return v;
}

/* FP8 blocks' product inputs: E4M3 rows [rows, K] over buf's memory (free
 * at that point, at least rows x K bytes) with their scales in j->qs. */
static zt_qmat qrows(zt_dit_job *j, const zt_tensor *buf, int64_t rows, int64_t K)
{
    zt_qmat m = {zt_tensor_2d(ZT_F8E4M3, rows, K, buf->data), zt_tensor_rows(&j->qs, 0, rows)};
    return m;
}

static void tap_k(zt_tap_fn tap, void *ud, const char *what, int k, const zt_tensor *t)
{
    if (!tap)
        return;
    char name[64];
    if (k >= 0)
        snprintf(name, sizeof name, "%s.%d", what, k);
    else
        snprintf(name, sizeof name, "%s", what);
    tap(ud, name, t);
}

/* A block's last gated residual, x += gate * rmsnorm(o) * w with o in
 * j->o, left for the next block's first norm to take in the same pass
 * (residual_norm), or for settle(). */
typedef struct dit_tail {
    const zt_tensor *w; /* [D]; NULL: nothing owed */
    zt_tensor gate;     /* [D], the block's row of j->mod (which nothing
                         * writes until the next step); no data for
                         * unmodulated blocks */
} dit_tail;

static void owe(dit_tail *t, const zt_tensor *w, const zt_tensor *gate)
{
    t->w = w;
    t->gate = gate ? *gate : (zt_tensor){0};
}

/* What t owes x [S, D]: o's rows into *o, and the gate (NULL for none). */
static const zt_tensor *owed(zt_dit_job *j, const dit_tail *t, const zt_tensor *x, zt_tensor *o)
{
    *o = zt_tensor_rows(&j->o, 0, x->shape[0]);
    return t->gate.data ? &t->gate : NULL;
}

/* Pay a pending residual into x [S, D]. */
static void settle(zt_dit_job *j, zt_tensor *x, dit_tail *t)
{
    if (!t->w)
        return;
    zt_tensor o;
    const zt_tensor *gate = owed(j, t, x, &o);
    zt_op_norm_gated_add(j->dit->be, x, &o, t->w, gate, j->dit->cfg.norm_eps);
    t->w = NULL;
}

/* The normed input of the block's products: rmsnorm(x) * w * scale into h1,
 * or for FP8 blocks straight into the E4M3 rows xq; a pending residual is
 * paid into x in the same pass. */
static void norm_in(zt_dit_job *j, const dit_block *b, dit_tail *t, zt_qmat *xq, zt_tensor *h1,
                    zt_tensor *x, const zt_tensor *w, const zt_tensor *scale)
{
    zt_backend *be = j->dit->be;
    const float eps = j->dit->cfg.norm_eps;
    if (t->w) {
        zt_tensor o;
        const zt_tensor *gate = owed(j, t, x, &o);
        zt_op_residual_norm(be, x, &o, t->w, gate, b->fp8 ? NULL : h1, b->fp8 ? xq : NULL, w,
                            scale, eps);
        t->w = NULL;
    } else if (b->fp8) {
        zt_op_rmsnorm_q(be, xq, x, w, scale, eps);
    } else {
        zt_op_rmsnorm(be, h1, x, w, scale, eps);
    }
}

/* y = x . W^T for the block's product i: BF16 from x, or FP8 from xq. */
static void lin(zt_backend *be, const dit_block *b, int i, zt_tensor *y, const zt_tensor *x,
                const zt_qmat *xq)
{
    if (b->fp8)
        zt_op_matmul_q(be, y, xq, &b->lin8[i]);
    else
        zt_op_matmul(be, y, x, &b->lin[i], NULL);
}

/* FP8 blocks take FP8 attention where the backend offers it (backend.h
 * fp8_attention), for the DiT's q/k-normed heads, one kv head a query
 * head. */
static int fp8_attention(const zt_dit_job *j, const dit_block *b)
{
    const zt_dit *d = j->dit;
    return b->fp8 && d->be->fp8_attention && d->cfg.qk_norm && d->kv == d->cfg.n_heads;
}

/* The block's attention in E4M3 from q3, k3 [S, H, hd] (before their norm
 * and RoPE) and v [S, D]: the output's rows for the out product. q and k
 * go over h1 (the products' input is spent), v over att, the output over
 * q, each S x D bytes, with their scales in ts and qs. */
static zt_qmat attend_fp8(zt_dit_job *j, const dit_block *b, const zt_tensor *q3,
                          const zt_tensor *k3, const zt_tensor *v, const zt_tensor *rope)
{
    zt_dit *d = j->dit;
    zt_backend *be = d->be;
    const float eps = d->cfg.norm_eps;
    const int64_t S = q3->shape[0], D = d->D, hd = d->hd;
    const int64_t qd[3] = {S, d->cfg.n_heads, hd};
    uint8_t *h1b = j->h1.data;
    zt_qmat q8 = {zt_tensor_make(ZT_F8E4M3, 3, qd, h1b), vec(&j->ts, 0, 1)};
    zt_qmat k8 = {zt_tensor_make(ZT_F8E4M3, 3, qd, h1b + S * D), vec(&j->ts, 1, 1)};
    zt_qmat v8 = {zt_tensor_make(ZT_F8E4M3, 3, qd, j->att.data), vec(&j->ts, 2, 1)};
    zt_qmat o8 = {zt_tensor_make(ZT_F8E4M3, 3, qd, j->q.data), zt_tensor_rows(&j->qs, 0, S)};
    zt_op_rmsnorm_rope_q(be, &q8, q3, &b->norm_q, eps, rope, ZT_ROPE_INTERLEAVED);
    zt_op_rmsnorm_rope_q(be, &k8, k3, &b->norm_k, eps, rope, ZT_ROPE_INTERLEAVED);
    zt_op_quantize_t(be, &v8, v);
    zt_op_attention_q(be, &o8, &q8, &k8, &v8, 1.0f / sqrtf((float)hd));
    return (zt_qmat){zt_tensor_2d(ZT_F8E4M3, S, D, o8.q.data), o8.s};
}

/* One transformer block on x [S, D] (a view into the unified stream) with
 * RoPE rows rope [S, hd/2, 2]. Modulated blocks read their rows of the
 * step's mod. t: the previous block's residual, if still owed on x; on
 * return, this block's. */
static void run_block(zt_dit_job *j, const dit_block *b, zt_tensor *x, const zt_tensor *rope,
                      dit_tail *t)
{
    zt_dit *d = j->dit;
    zt_backend *be = d->be;
    const float eps = d->cfg.norm_eps;
    const int64_t S = x->shape[0], D = d->D, H = d->cfg.n_heads, KVH = d->kv, hd = d->hd;

    zt_tensor h1 = zt_tensor_rows(&j->h1, 0, S);
    zt_tensor q = zt_tensor_rows(&j->q, 0, S), o = zt_tensor_rows(&j->o, 0, S);
    zt_tensor att = zt_tensor_rows(&j->att, 0, S);
    /* k, v are [S, KVH*hd]: reshape the [S, D] scratch, which is at least as big. */
    zt_tensor k = zt_tensor_2d(be->act_dtype, S, KVH * hd, j->k.data);
    zt_tensor v = zt_tensor_2d(be->act_dtype, S, KVH * hd, j->v.data);
    zt_tensor f1 = zt_tensor_2d(be->act_dtype, S, d->F, j->f1.data);
    zt_tensor f3 = zt_tensor_rows(&j->f3, 0, S);

    zt_tensor s_msa, g_msa, s_mlp, g_mlp;
    const zt_tensor *sc_msa = NULL, *gt_msa = NULL, *sc_mlp = NULL, *gt_mlp = NULL;
    if (b->mi >= 0) {
        /* this block's rows of the step's modulation (modulate) */
        const int64_t M = n_modulated(&d->cfg), m = b->mi;
        s_msa = vec(&j->mod, scale_row(m, 0) * D, D);
        s_mlp = vec(&j->mod, scale_row(m, 1) * D, D);
        g_msa = vec(&j->mod, gate_row(M, m, 0) * D, D);
        g_mlp = vec(&j->mod, gate_row(M, m, 1) * D, D);
        sc_msa = &s_msa;
        gt_msa = &g_msa;
        sc_mlp = &s_mlp;
        gt_mlp = &g_mlp;
    }

    /* attention; FP8 blocks norm straight into E4M3 rows over h1 */
    zt_qmat xq = qrows(j, &j->h1, S, D);
    norm_in(j, b, t, &xq, &h1, x, &b->n1, sc_msa);
    lin(be, b, LIN_Q, &q, &h1, &xq);
    lin(be, b, LIN_K, &k, &h1, &xq);
    lin(be, b, LIN_V, &v, &h1, &xq);
    zt_tensor q3 = zt_tensor_reshape(&q, 3, (int64_t[]){S, H, hd});
    zt_tensor k3 = zt_tensor_reshape(&k, 3, (int64_t[]){S, KVH, hd});
    zt_tensor v3 = zt_tensor_reshape(&v, 3, (int64_t[]){S, KVH, hd});
    zt_tensor a3 = zt_tensor_reshape(&att, 3, (int64_t[]){S, H, hd});
    if (fp8_attention(j, b)) {
        xq = attend_fp8(j, b, &q3, &k3, &v, rope);
    } else {
        if (d->cfg.qk_norm) {
            zt_op_rmsnorm_rope(be, &q3, &b->norm_q, eps, rope, ZT_ROPE_INTERLEAVED);
            zt_op_rmsnorm_rope(be, &k3, &b->norm_k, eps, rope, ZT_ROPE_INTERLEAVED);
        } else {
            zt_op_rope(be, &q3, rope, ZT_ROPE_INTERLEAVED);
            zt_op_rope(be, &k3, rope, ZT_ROPE_INTERLEAVED);
        }
        zt_op_attention(be, &a3, &q3, &k3, &v3, 0, 1.0f / sqrtf((float)hd));
        if (b->fp8)
            zt_op_quantize(be, &xq, &att);
    }
    lin(be, b, LIN_O, &o, &att, &xq);
    owe(t, &b->n2, gt_msa); /* x += gate * norm(o), paid by the next norm */

    /* feed-forward; FP8 blocks norm into rows over h1 again, and their
     * SwiGLU goes straight to E4M3 rows over q .. att (free by now) */
    norm_in(j, b, t, &xq, &h1, x, &b->fn1, sc_mlp);
    lin(be, b, LIN_W1, &f1, &h1, &xq);
    lin(be, b, LIN_W3, &f3, &h1, &xq);
    zt_qmat hq = qrows(j, &j->qkva, S, d->F);
    if (b->fp8)
        zt_op_swiglu_q(be, &hq, &f1, &f3);
    else
        zt_op_swiglu(be, &f1, &f1, &f3);
    lin(be, b, LIN_W2, &o, &f1, &hq);
    owe(t, &b->fn2, gt_mlp);
}

/* n blocks over x; a block's last residual is paid by the next block's
 * first norm, and settled after the last (or before each tap, which
 * reads x whole). */
static void run_blocks(zt_dit_job *j, const dit_block *bs, int n, zt_tensor *x,
                       const zt_tensor *rope, zt_tap_fn tap, void *tap_ud, const char *what)
{
    dit_tail t = {0};
    for (int l = 0; l < n; l++) {
        run_block(j, &bs[l], x, rope, &t);
        if (tap) {
            settle(j, x, &t);
            tap_k(tap, tap_ud, what, l, x);
        }
    }
    settle(j, x, &t);
}

zt_status zt_dit_job_set_caption(zt_dit_job *j, int i, const zt_tensor *feats,
                                 zt_tap_fn tap, void *tap_ud, zt_err *err)
{
    zt_dit *d = j->dit;
    zt_backend *be = d->be;
    if (i < 0 || i >= j->n_caps)
        return zt_fail(err, ZT_ERR_INVALID, "transformer: caption %d of %d", i, j->n_caps);
    zt_dit_caption *cp = &j->caps[i];
    const int64_t Cf = d->cfg.cap_feat_dim;
    if (feats->ndim != 2 || feats->shape[0] != cp->L || feats->shape[1] != Cf)
        return zt_fail(err, ZT_ERR_SHAPE, "transformer: caption features must be [%d, %lld]",
                       cp->L, (long long)Cf);
    zt_status st = upload_rope(j, cp, err);
    if (st != ZT_OK)
        return st;

    /* y[:L] = rmsnorm(feats) . W^T + b; y[L:Lp] = cap_pad_token */
    zt_tensor normed = zt_tensor_2d(be->act_dtype, cp->L, Cf, j->f1.data);
    zt_op_rmsnorm(be, &normed, feats, &d->cap_norm, NULL, d->cfg.norm_eps);
    zt_tensor yl = zt_tensor_rows(&cp->y, 0, cp->L);
    zt_op_matmul(be, &yl, &normed, &d->capw, &d->capb);
    tap_k(tap, tap_ud, "cap_embedder", -1, &yl);
    for (int r = cp->L; r < cp->Lp; r++) {
        zt_tensor row = zt_tensor_rows(&cp->y, r, 1);
        zt_op_copy(be, &row, &d->cpad);
    }
    zt_tensor rope = zt_tensor_rows(&cp->rope, j->Np, cp->Lp);
    run_blocks(j, d->ctx, d->cfg.n_refiner_layers, &cp->y, &rope, tap, tap_ud,
               "context_refiner");
    st = zt_backend_sync(be, err);
    if (st != ZT_OK)
        zt_err_prefix(err, "transformer");
    return st;
}

/* Sinusoidal embedding of tau = t * t_scale in float32, as the reference:
 * f_i = exp(-ln(10000) * i / 128), e = [cos(tau f), sin(tau f)]. */
static void timestep_embedding(float *e, float t, float t_scale)
{
    const int half = T_FREQ_DIM / 2;
    const float neg_log = (float)(-log(10000.0));
    float tau = t * t_scale;
    for (int i = 0; i < half; i++) {
        float f = expf(neg_log * (float)i / (float)half);
        float arg = tau * f;
        e[i] = cosf(arg);
        e[half + i] = sinf(arg);
    }
}

/* mod's rows from mraw's (dit.h): block m's scales and gates to the rows
 * scale_row and gate_row give, the final layer's scale to row 2M. */
static zt_status upload_mids(zt_dit_job *j, zt_err *err)
{
    const int M = n_modulated(&j->dit->cfg);
    int32_t *ids = malloc((size_t)(4 * M + 1) * sizeof *ids);
    if (!ids)
        return zt_fail(err, ZT_ERR_NOMEM, "transformer: out of memory");
    for (int m = 0; m < M; m++)
        for (int k = 0; k < 2; k++) { /* mraw: scale_msa, gate_msa, scale_mlp, gate_mlp */
            ids[scale_row(m, k)] = 4 * m + 2 * k;
            ids[gate_row(M, m, k)] = 4 * m + 2 * k + 1;
        }
    ids[final_scale_row(M)] = 4 * M;
    zt_status st = zt_backend_upload(j->dit->be, &j->mids, ids, err);
    free(ids);
    return st;
}

zt_status zt_dit_job_set_times(zt_dit_job *j, const float *t, int n, zt_err *err)
{
    if (n < 1 || n > ZT_STEPS_MAX)
        return zt_fail(err, ZT_ERR_INVALID, "transformer: %d timesteps (1..%d)", n, ZT_STEPS_MAX);
    float *e = malloc((size_t)n * T_FREQ_DIM * sizeof(float));
    if (!e)
        return zt_fail(err, ZT_ERR_NOMEM, "transformer: out of memory");
    for (int i = 0; i < n; i++)
        timestep_embedding(e + (size_t)i * T_FREQ_DIM, t[i], j->dit->cfg.t_scale);
    zt_tensor rows = zt_tensor_rows(&j->temb, 0, n);
    zt_status st = zt_backend_upload(j->dit->be, &rows, e, err);
    free(e);
    if (st == ZT_OK)
        st = upload_mids(j, err);
    /* the image pad rows every step starts from: Np - N copies of x_pad_token */
    for (int r = 0; st == ZT_OK && r < j->Np - j->N; r++) {
        zt_tensor row = zt_tensor_rows(&j->xpads, r, 1);
        zt_op_copy(j->dit->be, &row, &j->dit->xpad);
    }
    return st;
}

void zt_dit_forward(zt_dit_job *j, int cap, const zt_tensor *x, float t, zt_tensor *out,
                    zt_tap_fn tap, void *tap_ud)
{
    zt_err err;
    if (zt_dit_job_set_times(j, &t, 1, &err) != ZT_OK) {
        zt_backend_set_error(j->dit->be, err.code, "%s", err.msg);
        return;
    }
    zt_dit_forward_step(j, cap, x, 0, out, tap, tap_ud);
}

/* The step's modulation of every modulated block and of the final layer,
 * before its blocks run: a product a block from c into mraw, then one
 * gather that puts the scales before the gates, so that 1 + scale and
 * tanh(gate) take an op each for all blocks instead of four ops a block. */
static void modulate(zt_dit_job *j)
{
    zt_dit *d = j->dit;
    zt_backend *be = d->be;
    const int nr = d->cfg.n_refiner_layers, M = n_modulated(&d->cfg);
    const int64_t D = d->D;
    for (int m = 0; m < M; m++) {
        const dit_block *b = m < nr ? &d->noise[m] : &d->layers[m - nr];
        zt_tensor rows = zt_tensor_rows(&j->mraw, 4 * m, 4);
        zt_tensor y = zt_tensor_reshape(&rows, 2, (int64_t[]){1, 4 * D});
        zt_op_matmul(be, &y, &j->c, &b->ada_w, &b->ada_b);
    }
    zt_op_unary(be, &j->c_silu, &j->c, ZT_UNARY_SILU);
    zt_tensor fy = zt_tensor_rows(&j->mraw, 4 * (int64_t)M, 1);
    zt_op_matmul(be, &fy, &j->c_silu, &d->fada_w, &d->fada_b);
    zt_op_embed(be, &j->mod, &j->mraw, &j->mids);
    /* the blocks' scales and the final layer's, then the blocks' gates */
    const int64_t g0 = gate_row(M, 0, 0);
    zt_tensor scales = zt_tensor_rows(&j->mod, 0, g0);
    zt_tensor gates = zt_tensor_rows(&j->mod, g0, 2 * (int64_t)M);
    zt_op_scale_add(be, &scales, &scales, 1.0f, 1.0f);
    zt_op_unary(be, &gates, &gates, ZT_UNARY_TANH);
}

/* The rest of a step once c holds its conditioning: embed x, the noise
 * refiner, the main layers over image and caption rows, the final layer
 * into out. */
static void dit_pass(zt_dit_job *j, zt_dit_caption *cp, const zt_tensor *x, zt_tensor *out,
                     zt_tap_fn tap, void *tap_ud)
{
    zt_dit *d = j->dit;
    zt_backend *be = d->be;
    const int S = j->Np + cp->Lp;
    modulate(j);
    /* image tokens: patchify [C, h, w] -> [N, P], embed into u[:N], pads */
    zt_op_patchify(be, &j->patches, x, d->cfg.patch);
    zt_tensor xi = zt_tensor_rows(&j->u, 0, j->N);
    zt_op_matmul(be, &xi, &j->patches, &d->xw, &d->xb);
    tap_k(tap, tap_ud, "x_embedder", -1, &xi);
    if (j->Np > j->N) {
        zt_tensor pads = zt_tensor_rows(&j->u, j->N, j->Np - j->N);
        zt_tensor src = zt_tensor_rows(&j->xpads, 0, j->Np - j->N);
        zt_op_copy(be, &pads, &src);
    }
    zt_tensor X = zt_tensor_rows(&j->u, 0, j->Np);
    zt_tensor rope_x = zt_tensor_rows(&cp->rope, 0, j->Np);
    run_blocks(j, d->noise, d->cfg.n_refiner_layers, &X, &rope_x, tap, tap_ud, "noise_refiner");

    /* unified stream: image rows, then the caption's refined rows */
    zt_tensor Y = zt_tensor_rows(&j->u, j->Np, cp->Lp);
    zt_op_copy(be, &Y, &cp->y);
    zt_tensor U = zt_tensor_rows(&j->u, 0, S);
    run_blocks(j, d->layers, d->cfg.n_layers, &U, &cp->rope, tap, tap_ud, "layers");

    /* final layer on the image rows: layernorm * (1 + scale), linear */
    zt_tensor fs = vec(&j->mod, final_scale_row(n_modulated(&d->cfg)) * d->D, d->D);
    zt_tensor hn = zt_tensor_rows(&j->h1, 0, j->N);
    zt_op_layernorm(be, &hn, &xi, NULL, NULL, &fs, 1e-6f);
    zt_op_matmul(be, &j->fout, &hn, &d->fw, &d->fb);
    tap_k(tap, tap_ud, "final_layer", -1, &j->fout);
    zt_op_unpatchify(be, out, &j->fout, d->cfg.patch);
}

void zt_dit_forward_step(zt_dit_job *j, int cap, const zt_tensor *x, int k, zt_tensor *out,
                         zt_tap_fn tap, void *tap_ud)
{
    zt_dit *d = j->dit;
    zt_backend *be = d->be;
    if (cap < 0 || cap >= j->n_caps) {
        zt_backend_set_error(be, ZT_ERR_INVALID, "transformer: caption %d of %d", cap, j->n_caps);
        return;
    }
    zt_dit_caption *cp = &j->caps[cap];

    /* c [1, A] from step k's embedding */
    if (k < 0 || k >= ZT_STEPS_MAX) {
        zt_backend_set_error(be, ZT_ERR_INVALID, "transformer: step %d", k);
        return;
    }
    zt_tensor temb = zt_tensor_rows(&j->temb, k, 1);
    zt_op_matmul(be, &j->t1, &temb, &d->t0w, &d->t0b);
    zt_op_unary(be, &j->t1, &j->t1, ZT_UNARY_SILU);
    zt_op_matmul(be, &j->c, &j->t1, &d->t2w, &d->t2b);
    tap_k(tap, tap_ud, "t_embedder", -1, &j->c);

    /* The rest is replayed unless taps read results back mid-step: it bakes
     * in the job's shapes and addresses (its tensors are carved in order
     * from the first caption's rows on), the caption and x, out. */
    const uint64_t key[] = {(uint64_t)(uintptr_t)j->caps[0].y.data, (uint64_t)j->h,
                            (uint64_t)j->w, (uint64_t)j->n_caps, (uint64_t)cap,
                            (uint64_t)j->caps[0].Lp, (uint64_t)j->caps[j->n_caps - 1].Lp,
                            (uint64_t)(uintptr_t)x->data, (uint64_t)x->dtype,
                            (uint64_t)(uintptr_t)out->data, (uint64_t)out->dtype};
    zt_replay *r = tap ? NULL : &d->step[cap];
    do {
        if (zt_replay_enter(be, r, key, (int)(sizeof key / sizeof *key)))
            dit_pass(j, cp, x, out, tap, tap_ud);
    } while (zt_replay_leave(be, r));
}
