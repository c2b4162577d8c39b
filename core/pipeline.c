/*
 * pipeline.c - one text-to-image job on a loaded model (see pipeline.h).
 *
 * Arena layout for a job (one allocation, planned by zt_pipeline_plan):
 *   persistent: cap [L, Hte], neg [Ln, Hte], x, pred, predn F32 [C, h, w],
 *               image F32 [3, H, W], rgb U8 [H, W, 3]
 *   then, one after the other from the same mark: text-encoder scratch,
 *   the DiT job (captions' refined streams, scratch), VAE scratch.
 */
#include "pipeline.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scheduler.h"

static const struct {
    const char *sub, *strip;
} components[3] = {{"text_encoder", "model."}, {"transformer", NULL}, {"vae", NULL}};

/* Progress over the whole model's weight files while they load. */
typedef struct load_meter {
    zt_load_progress_fn fn;   /* NULL: pages are given back, nothing is reported */
    void *ud;
    zt_load_progress p;       /* what is reported; p.file points into file */
    char file[256];
    uint64_t part_bytes[3];   /* each component's weight files (shard_bytes) */
    const zt_weights *w;      /* the component being read */
    int shard;                /* its shard last reported, -1 before */
    int cancelled;            /* fn asked to stop */
    double t0, last;          /* ms: load start, last report */
} load_meter;

/* Report where the load is; returns non-zero once fn has asked to stop. */
static int meter_report(load_meter *lm)
{
    double t = zt_now_ms(), s = (t - lm->t0) / 1e3;
    lm->last = t;
    lm->p.mb_s = s > 0 && lm->p.bytes_done ? lm->p.bytes_done / 1e6 / s : 0;
    lm->p.eta_s = lm->p.mb_s > 0 && lm->p.bytes_total >= lm->p.bytes_done
                      ? (lm->p.bytes_total - lm->p.bytes_done) / 1e6 / lm->p.mb_s
                      : -1;
    lm->p.file = lm->file;
    if (lm->fn && !lm->cancelled)
        lm->cancelled = lm->fn(lm->ud, &lm->p) != 0;
    return lm->cancelled;
}

/* The backend has read [src, src + n) of the mapping (be->on_read): count
 * it, give the pages back (the resident set stays at the staging buffers,
 * not the model), and report when a shard starts or 100 ms have passed. */
static int meter_on_read(void *ud, const void *src, size_t n)
{
    load_meter *lm = ud;
    zt_weights_drop_pages(lm->w, src, n);
    lm->p.bytes_done += n;
    int f = zt_weights_file_of(lm->w, src);
    if (f != lm->shard && f >= 0) {
        const char *path = zt_weights_file(lm->w, f), *base = strrchr(path, '/');
        snprintf(lm->file, sizeof lm->file, "%s", base ? base + 1 : path);
        lm->shard = f;
        return meter_report(lm);
    }
    return zt_now_ms() - lm->last >= 100 ? meter_report(lm) : lm->cancelled;
}

/* Bytes of the weight files in dir that a load reads: its one file, or all
 * *.safetensors files beside an index (its shards; 0 when unreadable: the
 * load itself reports what is wrong). */
static uint64_t shard_bytes(const char *dir)
{
    char *index = NULL, *single = NULL;
    char path[ZT_PATH_MAX + 300];
    struct stat sb;
    uint64_t sum = 0;
    if (zt_st_scan_dir(dir, &index, &single, NULL) != ZT_OK)
        return 0;
    if (single) {
        snprintf(path, sizeof path, "%s/%s", dir, single);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            sum = (uint64_t)sb.st_size;
        free(single);
        return sum;
    }
    free(index);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 12 || strcmp(de->d_name + n - 12, ".safetensors"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            sum += (uint64_t)sb.st_size;
    }
    if (d)
        closedir(d);
    return sum;
}

/* Build component i (0 text encoder, 1 DiT, 2 VAE) from w, or from
 * synthetic weights of seed when w is NULL. */
static zt_status new_component(zt_model *m, int i, const zt_weights *w, uint32_t seed,
                               zt_err *err)
{
    if (i == 0)
        return zt_textenc_new(&m->te, m->be, &m->cfg.te, w, seed, 0, err);
    if (i == 1)
        return zt_dit_new(&m->dit, m->be, &m->cfg.dit, w, seed, err);
    return zt_vae_new(&m->vae, m->be, &m->cfg.vae, w, seed, err);
}

/* Open component i's files (0 text encoder, 1 DiT, 2 VAE) and build it.
 * Weights are views into the files until adopted: a host-memory backend
 * keeps reading the mapping, so the model holds it in m->w[i]; a copying
 * backend lets it go at once. lm follows the bytes read and gives back
 * the pages already copied. */
static zt_status load_component(zt_model *m, int i, load_meter *lm, zt_err *err)
{
    char path[ZT_PATH_MAX + 32];
    zt_weights *w = NULL;
    snprintf(path, sizeof path, "%s/%s", m->dir, components[i].sub);
    uint64_t start = lm->p.bytes_done;
    zt_status st = zt_weights_open(&w, path, components[i].strip, err);
    if (st == ZT_OK) {
        lm->w = w;
        lm->shard = -1;
        m->be->on_read = meter_on_read;
        m->be->on_read_ud = lm;
        st = new_component(m, i, w, 0, err);
    }
    m->be->on_read = NULL;
    m->be->on_read_ud = NULL;
    /* headers and tensors the model does not use (the VAE encoder) count
     * as read once the component is in */
    lm->w = NULL;
    lm->p.bytes_done = start + lm->part_bytes[i];
    if (st == ZT_OK && m->be->vt->host_memory) {
        zt_weights_free(m->w[i]);
        m->w[i] = w;
        return ZT_OK;
    }
    zt_weights_free(w);
    return st;
}

/* m's tokenizer from path, refused when its ids run past the text
 * encoder's embedding (m->cfg must be set) */
static zt_status open_tokenizer(zt_model *m, const char *path, zt_err *err)
{
    zt_status st = zt_tokenizer_new(&m->tok, path, err);
    return st ? st
              : zt_tokenizer_vocab_check(zt_tokenizer_vocab_size(m->tok), m->cfg.te.vocab, path,
                                         err);
}

zt_status zt_model_open(zt_model **out, zt_backend *be, const char *dir,
                        zt_load_progress_fn progress, void *ud, zt_err *err)
{
    *out = NULL;
    zt_model *m = calloc(1, sizeof *m);
    if (!m)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
    m->be = be;
    char path[ZT_PATH_MAX];
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    zt_status st = zt_model_config_load(&m->cfg, dir, err);
    if (st != ZT_OK)
        goto fail;
    load_meter lm = {.fn = progress, .ud = ud, .t0 = zt_now_ms(), .shard = -1};
    lm.p.count = 4;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, components[i].sub);
        lm.part_bytes[i] = shard_bytes(path);
        lm.p.bytes_total += lm.part_bytes[i];
    }
    lm.p.component = "tokenizer";
    if (meter_report(&lm))
        goto cancelled;
    snprintf(path, sizeof path, "%s/tokenizer/tokenizer.json", dir);
    if ((st = open_tokenizer(m, path, err)) != ZT_OK)
        goto fail;
    for (int i = 0; i < 3; i++) {
        lm.p.component = components[i].sub;
        lm.p.index = i + 1;
        lm.file[0] = '\0';
        if (meter_report(&lm))
            goto cancelled;
        if ((st = load_component(m, i, &lm, err)) != ZT_OK)
            goto fail;
    }
    m->te_bytes = zt_textenc_weight_bytes(m->te);
    lm.p.component = "done";
    lm.p.index = 4;
    lm.file[0] = '\0';
    if (meter_report(&lm))
        goto cancelled;
    *out = m;
    return ZT_OK;
cancelled:
    st = zt_fail(err, ZT_ERR_CANCELLED, "load cancelled");
fail:
    zt_model_free(m);
    return st;
}

zt_status zt_model_open_synthetic(zt_model **out, zt_backend *be, uint32_t seed,
                                  const zt_model_config *cfg, const char *tokenizer_path,
                                  zt_load_progress_fn progress, void *ud, zt_err *err)
{
    *out = NULL;
    zt_model *m = calloc(1, sizeof *m);
    if (!m)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
    m->be = be;
    m->synthetic = 1;
    m->synth_seed = seed;
    if (cfg)
        m->cfg = *cfg;
    else
        zt_model_config_full(&m->cfg);
    /* no bytes are read: the reports name the component about to be made,
     * and give the caller its chance to stop between them */
    load_meter lm = {.fn = progress, .ud = ud, .t0 = zt_now_ms(), .shard = -1};
    lm.p.count = 4;
    lm.p.component = "tokenizer";
    zt_status st = ZT_OK;
    if (meter_report(&lm))
        goto cancelled;
    if (tokenizer_path && (st = open_tokenizer(m, tokenizer_path, err)))
        goto fail;
    for (int i = 0; i < 3; i++) {
        lm.p.component = components[i].sub;
        lm.p.index = i + 1;
        if (meter_report(&lm))
            goto cancelled;
        if ((st = new_component(m, i, NULL, seed, err)))
            goto fail;
    }
    m->te_bytes = zt_textenc_weight_bytes(m->te);
    lm.p.component = "done";
    lm.p.index = 4;
    if (meter_report(&lm))
        goto cancelled;
    *out = m;
    return ZT_OK;
cancelled:
    st = zt_fail(err, ZT_ERR_CANCELLED, "load cancelled");
fail:
    zt_model_free(m);
    return st;
}

typedef struct cache_entry {
    char *prompt;      /* NULL: free slot */
    float *feats;      /* [L, hidden] F32 */
    int L;
    uint64_t used;     /* LRU clock */
} cache_entry;

struct zt_prompt_cache {
    cache_entry e[ZT_PROMPT_CACHE_SIZE];
    uint64_t clock;
};

static void cache_free(struct zt_prompt_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < ZT_PROMPT_CACHE_SIZE; i++) {
        free(c->e[i].prompt);
        free(c->e[i].feats);
    }
    free(c);
}

static cache_entry *cache_find(zt_model *m, const char *prompt)
{
    if (!m->cache)
        return NULL;
    for (int i = 0; i < ZT_PROMPT_CACHE_SIZE; i++) {
        cache_entry *e = &m->cache->e[i];
        if (e->prompt && !strcmp(e->prompt, prompt)) {
            e->used = ++m->cache->clock;
            return e;
        }
    }
    return NULL;
}

/* Take ownership of feats; on failure it is freed (caching is best effort). */
static void cache_put(zt_model *m, const char *prompt, float *feats, int L)
{
    if (!m->cache && !(m->cache = calloc(1, sizeof *m->cache))) {
        free(feats);
        return;
    }
    cache_entry *victim = &m->cache->e[0];
    for (int i = 0; i < ZT_PROMPT_CACHE_SIZE; i++) {
        cache_entry *e = &m->cache->e[i];
        if (!e->prompt) {
            victim = e;
            break;
        }
        if (e->used < victim->used)
            victim = e;
    }
    char *dup = strdup(prompt);
    if (!dup) {
        free(feats);
        return;
    }
    free(victim->prompt);
    free(victim->feats);
    victim->prompt = dup;
    victim->feats = feats;
    victim->L = L;
    victim->used = ++m->cache->clock;
}

void zt_model_set_release_text_encoder(zt_model *m, int on)
{
    m->release_te = on;
    if (on) {
        zt_textenc_free(m->te);
        m->te = NULL;
        zt_weights_free(m->w[0]);
        m->w[0] = NULL;
    }
}

static zt_status ensure_text_encoder(zt_model *m, zt_err *err)
{
    if (m->te)
        return ZT_OK;
    if (m->synthetic)
        return new_component(m, 0, NULL, m->synth_seed, err);
    load_meter lm = {.t0 = zt_now_ms(), .shard = -1}; /* no report: pages given back only */
    return load_component(m, 0, &lm, err);
}

void zt_model_free(zt_model *m)
{
    if (!m)
        return;
    zt_arena_free(&m->arena);
    cache_free(m->cache);
    zt_textenc_free(m->te);
    zt_dit_free(m->dit);
    zt_vae_free(m->vae);
    for (int i = 0; i < 3; i++)
        zt_weights_free(m->w[i]);
    zt_tokenizer_free(m->tok);
    free(m);
}

size_t zt_model_weight_bytes(const zt_model *m)
{
    return (m->te ? zt_textenc_weight_bytes(m->te) : 0) + zt_dit_weight_bytes(m->dit) +
           zt_vae_weight_bytes(m->vae);
}

size_t zt_model_job_bytes(const zt_model *m, const zt_job_params *p)
{
    return m->te_bytes + zt_dit_weight_bytes(m->dit) + zt_vae_weight_bytes(m->vae) +
           zt_pipeline_plan(&m->cfg, m->be->act_dtype, p, 0, 0);
}

/* Largest size of the same aspect, in steps of 16, whose job fits. */
static void fitting_size(const zt_model *m, const zt_job_params *p, size_t avail, int *fw,
                         int *fh)
{
    *fw = *fh = 0;
    for (int k = 1; k < 512; k++) {
        double f = 1.0 - k / 64.0;
        if (f <= 0)
            break;
        zt_job_params q = *p;
        q.width = (int)(p->width * f) / 16 * 16;
        q.height = (int)(p->height * f) / 16 * 16;
        if (q.width < 16 || q.height < 16)
            break;
        if (zt_model_job_bytes(m, &q) <= avail) {
            *fw = q.width;
            *fh = q.height;
            return;
        }
    }
}

size_t zt_model_job_avail(const zt_model *m, size_t mem_limit, size_t free_bytes)
{
    return mem_limit ? mem_limit : free_bytes + zt_model_weight_bytes(m) + m->arena.cap;
}

void zt_model_size_max(const zt_model_config *c, int *max_w, int *max_h)
{
    /* image rows and columns take RoPE positions 0 .. side / (scale * patch) - 1 */
    long unit = (long)zt_vae_scale(&c->vae) * c->dit.patch;
    long w = c->dit.axes_lens[2] * unit, h = c->dit.axes_lens[1] * unit;
    *max_w = (int)(w < ZT_SIDE_MAX ? w : ZT_SIDE_MAX);
    *max_h = (int)(h < ZT_SIDE_MAX ? h : ZT_SIDE_MAX);
}

zt_status zt_model_check_fit(zt_model *m, const zt_job_params *p, size_t mem_limit, zt_err *err)
{
    int mw, mh;
    zt_model_size_max(&m->cfg, &mw, &mh);
    if (p->width > mw || p->height > mh)
        return zt_fail(err, ZT_ERR_INVALID,
                       "%dx%d is past this model's position range: its transformer's axes_lens "
                       "allow images up to %dx%d",
                       p->width, p->height, mw, mh);
    size_t fr = 0, tot = 0;
    if (!mem_limit &&
        (!m->be->vt->mem_info || m->be->vt->mem_info(m->be, &fr, &tot, NULL) != ZT_OK))
        return ZT_OK; /* nothing to plan against */
    size_t need = zt_model_job_bytes(m, p), avail = zt_model_job_avail(m, mem_limit, fr);
    if (need <= avail)
        return ZT_OK;
    int fw, fh;
    fitting_size(m, p, avail, &fw, &fh);
    char fits[48] = "no size fits";
    if (fw)
        snprintf(fits, sizeof fits, "%dx%d would fit", fw, fh);
    size_t act = zt_pipeline_plan(&m->cfg, m->be->act_dtype, p, 0, 0);
    char n_[32], w_[32], a_[32], v_[32];
    return zt_fail(err, ZT_ERR_TOO_BIG,
                   "%dx%d needs %s (weights %s + activations %s) but %s is available; %s",
                   p->width, p->height, zt_bytes_text(n_, sizeof n_, need),
                   zt_bytes_text(w_, sizeof w_, need - act), zt_bytes_text(a_, sizeof a_, act),
                   zt_bytes_text(v_, sizeof v_, avail), fits);
}

static long nearest16(long v)
{
    long r = (v + 8) / 16 * 16;
    return r < 16 ? 16 : r > ZT_SIDE_MAX ? ZT_SIDE_MAX : r;
}

zt_status zt_size_check(long width, long height, zt_err *err)
{
    if (width <= 0 || height <= 0 || width % 16 || height % 16 || width > ZT_SIDE_MAX ||
        height > ZT_SIDE_MAX)
        return zt_fail(err, ZT_ERR_INVALID,
                       "size %ldx%ld is not valid: width and height must be multiples of 16 "
                       "between 16 and %d (nearest valid size: %ldx%ld)",
                       width, height, ZT_SIDE_MAX, nearest16(width), nearest16(height));
    return ZT_OK;
}

zt_status zt_job_params_check(const zt_job_params *p, zt_err *err)
{
    zt_status st = zt_size_check(p->width, p->height, err);
    if (st != ZT_OK)
        return st;
    if (p->steps < 1 || p->steps > ZT_STEPS_MAX)
        return zt_fail(err, ZT_ERR_INVALID, "steps must be between 1 and %d (got %d)",
                       ZT_STEPS_MAX, p->steps);
    if (!(p->guidance >= 0.0f && p->guidance <= ZT_GUIDANCE_MAX))
        return zt_fail(err, ZT_ERR_INVALID, "guidance must be between 0 and %g (got %g)",
                       ZT_GUIDANCE_MAX, p->guidance);
    if (!p->prompt)
        return zt_fail(err, ZT_ERR_INVALID, "no prompt");
    return ZT_OK;
}

zt_status zt_gen_params_check_values(const zt_gen_params *g, zt_err *err)
{
    zt_job_params p = {.prompt = g->prompt, .negative = g->negative_prompt, .width = g->width,
                       .height = g->height, .steps = g->steps, .guidance = g->guidance,
                       .seed = g->seed};
    zt_status st = zt_rng_kind_parse(g->rng, &p.rng, err);
    return st ? st : zt_job_params_check(&p, err);
}

typedef struct job_tensors {
    zt_tensor cap, neg;        /* [L, Hte], [Ln, Hte] */
    zt_tensor x, pred, predn;  /* F32 [C, h, w] */
    zt_tensor image;           /* F32 [3, H, W] */
    zt_tensor rgb;             /* U8 [H, W, 3]: the image as it is handed back */
} job_tensors;

static zt_status carve_persistent(zt_arena *a, const zt_model_config *c, zt_dtype act,
                                  const zt_job_params *p, int L, int Ln, job_tensors *t,
                                  zt_err *err)
{
    const int s = zt_vae_scale(&c->vae), C = c->vae.latent_channels;
    const int64_t h = p->height / s, w = p->width / s;
    zt_status st;
    memset(t, 0, sizeof *t);
    if ((st = zt_arena_tensor(a, &t->cap, act, 2, (int64_t[]){L, c->te.hidden}, err)) ||
        (Ln > 0 && (st = zt_arena_tensor(a, &t->neg, act, 2, (int64_t[]){Ln, c->te.hidden}, err))) ||
        (st = zt_arena_tensor(a, &t->x, ZT_F32, 3, (int64_t[]){C, h, w}, err)) ||
        (st = zt_arena_tensor(a, &t->pred, ZT_F32, 3, (int64_t[]){C, h, w}, err)) ||
        (Ln > 0 && (st = zt_arena_tensor(a, &t->predn, ZT_F32, 3, (int64_t[]){C, h, w}, err))) ||
        (st = zt_arena_tensor(a, &t->image, ZT_F32, 3,
                              (int64_t[]){c->vae.out_channels, p->height, p->width}, err)) ||
        (st = zt_arena_tensor(a, &t->rgb, ZT_U8, 3,
                              (int64_t[]){p->height, p->width, c->vae.out_channels}, err)))
        return st;
    return ZT_OK;
}

size_t zt_pipeline_plan(const zt_model_config *c, zt_dtype act, const zt_job_params *p,
                        int L, int Ln)
{
    if (L <= 0)
        L = ZT_TOKENIZER_MAX_IDS;
    if (p->guidance > 0.0f && Ln <= 0)
        Ln = ZT_TOKENIZER_MAX_IDS;
    if (p->guidance <= 0.0f)
        Ln = 0;
    zt_arena a;
    job_tensors t;
    zt_arena_measure(&a);
    carve_persistent(&a, c, act, p, L, Ln, &t, NULL);
    const int s = zt_vae_scale(&c->vae);
    const int h = p->height / s, w = p->width / s;
    int Lm = L > Ln ? L : Ln;
    /* encoder scratch plus the F32 copy of the features for the cache */
    size_t te = zt_textenc_scratch_bytes(&c->te, Lm) +
                (((size_t)Lm * (size_t)c->te.hidden * 4 + 255) & ~(size_t)255);
    int lens[2] = {L, Ln};
    size_t dit = zt_dit_job_bytes(&c->dit, act, h, w, lens, Ln > 0 ? 2 : 1);
    size_t vae = zt_vae_scratch_bytes(&c->vae, act, h, w);
    size_t peak = te > dit ? te : dit;
    if (vae > peak)
        peak = vae;
    return a.peak + peak;
}

zt_status zt_pipeline_tokenize(const zt_model *m, const char *prompt, int32_t *ids, int *n,
                               int *truncated, zt_err *err)
{
    if (!m->tok)
        return zt_fail(err, ZT_ERR_MISSING, "no tokenizer loaded");
    size_t len = strlen(prompt);
    zt_status st = zt_tokenizer_encode_chat(m->tok, prompt, len, ids, n, err);
    if (st != ZT_OK || !truncated)
        return st;
    *truncated = zt_tokenizer_chat_cut(m->tok, prompt, len, *n);
    return ZT_OK;
}

/* Caption features for one prompt into out [L, hidden]: from the cache, or
 * by running the encoder (reloaded if it was released) and caching them.
 * Uses the arena above its current position as scratch. */
static zt_status encode_prompt(zt_model *m, const char *prompt, const int32_t *ids, int L,
                               zt_arena *a, zt_tensor *out, int *cached, zt_err *err)
{
    zt_backend *be = m->be;
    size_t mark = zt_arena_mark(a);
    zt_tensor f32;
    zt_status st = zt_arena_tensor(a, &f32, ZT_F32, 2, (int64_t[]){L, m->cfg.te.hidden}, err);
    if (st != ZT_OK)
        return st;
    cache_entry *hit = cache_find(m, prompt);
    if (hit && hit->L == L) {
        *cached = 1;
        st = zt_backend_upload(be, &f32, hit->feats, err);
        if (st == ZT_OK) {
            zt_op_copy(be, out, &f32);
            st = zt_backend_sync(be, err);
        }
        zt_arena_reset(a, mark);
        return st;
    }
    *cached = 0;
    if ((st = ensure_text_encoder(m, err)) ||
        (st = zt_textenc_encode(m->te, ids, L, -1, 0, a, out, NULL, NULL, err))) {
        zt_arena_reset(a, mark);
        return st;
    }
    float *host = malloc((size_t)L * (size_t)m->cfg.te.hidden * sizeof(float));
    if (host) {
        zt_op_copy(be, &f32, out);
        if (zt_backend_download(be, host, &f32, NULL) == ZT_OK)
            cache_put(m, prompt, host, L);
        else
            free(host);
    }
    zt_arena_reset(a, mark);
    return ZT_OK;
}

static void tap_named(const zt_run_hooks *hk, const char *name, const zt_tensor *t)
{
    if (hk && hk->tap)
        hk->tap(hk->ud, name, t);
}

/* The job's initial noise, drawn on the host by a thread of its own while
 * the device encodes the prompt. out is the caller's, n floats. */
typedef struct noise_job {
    zt_rng rng;
    float *out;
    int64_t n;
    zt_status st;
    zt_err err;
} noise_job;

static void *draw_noise(void *arg)
{
    noise_job *nj = arg;
    nj->st = zt_rng_randn(&nj->rng, nj->out, nj->n, &nj->err);
    return NULL;
}

zt_status zt_pipeline_run(zt_model *m, const zt_job_params *p, const zt_run_hooks *hk,
                          uint8_t **rgb, zt_timings *tm, zt_err *err)
{
    zt_backend *be = m->be;
    const zt_model_config *c = &m->cfg;
    zt_timings local;
    if (!tm)
        tm = &local;
    memset(tm, 0, sizeof *tm);
    *rgb = NULL;
    zt_status st = zt_job_params_check(p, err);
    if (st != ZT_OK)
        return st;
    const int s = zt_vae_scale(&c->vae), C = c->vae.latent_channels;
    const int h = p->height / s, w = p->width / s;
    const int cfg_on = p->guidance > 0.0f;
    double t_start = zt_now_ms();

    int32_t ids[ZT_TOKENIZER_MAX_IDS], nids[ZT_TOKENIZER_MAX_IDS];
    int L = 0, Ln = 0;
    if ((st = zt_pipeline_tokenize(m, p->prompt, ids, &L, &tm->prompt_truncated, err)))
        return st;
    if (cfg_on &&
        (st = zt_pipeline_tokenize(m, p->negative ? p->negative : "", nids, &Ln,
                                   &tm->negative_truncated, err)))
        return st;
    tm->prompt_tokens = L;

    /* The job arena persists in the model and only grows, so back-to-back
     * jobs of one size allocate nothing. */
    zt_arena *arena = &m->arena;
    zt_schedule sched = {0};
    float *host = NULL; /* [2, C, h, w]: the noise, then x and pred for on_step */
    noise_job nj = {.st = ZT_OK};
    pthread_t noise_tid;
    int noise_running = 0;
    size_t bytes = zt_pipeline_plan(c, be->act_dtype, p, L, Ln);
    if (arena->cap < bytes) {
        zt_arena_free(arena);
        if ((st = zt_arena_init(arena, be, bytes, err)))
            return st;
    }
    zt_arena_reset(arena, 0);
    job_tensors jt;
    if ((st = carve_persistent(arena, c, be->act_dtype, p, L, Ln, &jt, err)))
        goto done;
    size_t mark = zt_arena_mark(arena);

    /* 0. noise, as torch.randn with a generator seeded with the seed, on the
     * host while the prompt is encoded (a few ms on the job's critical path
     * otherwise); drawn here when no thread can be had */
    size_t nlat = (size_t)C * h * w;
    host = malloc(2 * nlat * sizeof(float));
    if (!host) {
        st = zt_fail(err, ZT_ERR_NOMEM, "out of memory");
        goto done;
    }
    nj.out = host;
    nj.n = (int64_t)nlat;
    zt_rng_init(&nj.rng, p->rng, p->seed, ZT_RNG_SM_COUNT_DEFAULT,
                ZT_RNG_THREADS_PER_SM_DEFAULT);
    noise_running = pthread_create(&noise_tid, NULL, draw_noise, &nj) == 0;
    if (!noise_running)
        draw_noise(&nj);

    /* On the CPU the stop hook is asked before every op from here on, so
     * a cancel ends a step of the full model (minutes there) within one
     * op; queued backends leave it to on_step and the decoder. */
    if (hk && hk->stop) {
        be->stop = hk->stop;
        be->stop_ud = hk->ud;
    }

    /* 1. captions */
    zt_backend_phase(be, "encode");
    double t0 = zt_now_ms();
    int cached_neg = 1;
    if ((st = encode_prompt(m, p->prompt, ids, L, arena, &jt.cap, &tm->prompt_cached, err)) ||
        (cfg_on && (st = encode_prompt(m, p->negative ? p->negative : "", nids, Ln, arena,
                                       &jt.neg, &cached_neg, err)))) {
        if (st == ZT_ERR_CANCELLED)
            zt_fail(err, st, "cancelled while encoding the prompt");
        goto done;
    }
    /* released once both prompts are encoded, not reloaded for the second */
    if (m->release_te && m->te)
        zt_model_set_release_text_encoder(m, 1);
    tm->prompt_cached = tm->prompt_cached && cached_neg;
    tm->encode_ms = zt_now_ms() - t0;
    zt_backend_phase(be, "prepare");
    tap_named(hk, "prompt_embeds", &jt.cap);
    if (cfg_on)
        tap_named(hk, "negative_embeds", &jt.neg);

    /* 2. the DiT job: scratch and refined captions, once */
    zt_dit_job job;
    int lens[2] = {L, Ln};
    if ((st = zt_dit_job_carve(&job, m->dit, arena, h, w, lens, cfg_on ? 2 : 1, err)) ||
        (st = zt_dit_job_set_caption(&job, 0, &jt.cap, NULL, NULL, err)) ||
        (cfg_on && (st = zt_dit_job_set_caption(&job, 1, &jt.neg, NULL, NULL, err))))
        goto done;

    /* 3. the noise drawn in 0. */
    if (noise_running) {
        pthread_join(noise_tid, NULL);
        noise_running = 0;
    }
    if (nj.st != ZT_OK) {
        st = zt_fail(err, nj.st, "%s", nj.err.msg);
        goto done;
    }
    if ((st = zt_backend_upload(be, &jt.x, host, err)))
        goto done;
    tap_named(hk, "noise", &jt.x);
    if ((st = zt_schedule_init(&sched, p->steps, c->sched.shift, 0, err)) ||
        (st = zt_dit_job_set_times(&job, sched.model_t, p->steps, err)))
        goto done;

    /* 4. denoising: x += (sigma[i+1] - sigma[i]) * (-pred); nothing is
     * allocated in here */
    for (int i = 0; i < p->steps; i++) {
        zt_backend_phase(be, "step");
        double ts = zt_now_ms();
        zt_dit_forward_step(&job, 0, &jt.x, i, &jt.pred, NULL, NULL);
        if (cfg_on) {
            /* pred = pos + g (pos - neg) = (1 + g) pos - g neg */
            zt_dit_forward_step(&job, 1, &jt.x, i, &jt.predn, NULL, NULL);
            zt_op_scale_add(be, &jt.pred, &jt.pred, 1.0f + p->guidance, 0.0f);
            zt_op_axpy(be, &jt.pred, -p->guidance, &jt.predn);
        }
        float dt = sched.sigmas[i + 1] - sched.sigmas[i];
        zt_op_axpy(be, &jt.x, -dt, &jt.pred);
        if ((st = zt_backend_sync(be, err))) {
            if (st == ZT_ERR_CANCELLED)
                zt_fail(err, st, "cancelled during step %d of %d", i + 1, p->steps);
            goto done;
        }
        tm->step_ms[i] = zt_now_ms() - ts;
        tm->steps = i + 1;
        if (hk && hk->tap) {
            char name[32];
            snprintf(name, sizeof name, "latents.step%d", i);
            hk->tap(hk->ud, name, &jt.x);
        }
        if (hk && hk->on_step) {
            const float *x0 = NULL;
            if (hk->want_latents && hk->want_latents(hk->ud, i + 1, p->steps)) {
                /* predicted clean latent: x0 = x_{i+1} + sigma_{i+1} * pred */
                float *xh = host, *ph = host + nlat;
                if ((st = zt_backend_download(be, xh, &jt.x, err)) ||
                    (st = zt_backend_download(be, ph, &jt.pred, err)))
                    goto done;
                for (size_t k = 0; k < nlat; k++)
                    ph[k] = xh[k] + sched.sigmas[i + 1] * ph[k];
                x0 = ph;
            }
            if (hk->on_step(hk->ud, i + 1, p->steps, tm->step_ms[i], x0, C, h, w)) {
                st = zt_fail(err, ZT_ERR_CANCELLED, "cancelled after step %d of %d", i + 1,
                             p->steps);
                goto done;
            }
        }
    }

    /* 5. decode; the DiT's space is free again */
    zt_arena_reset(arena, mark);
    zt_backend_phase(be, "decode");
    t0 = zt_now_ms();
    if ((st = zt_vae_decode(m->vae, &jt.x, 1, arena, &jt.image, NULL, NULL,
                            hk ? hk->stop : NULL, hk ? hk->ud : NULL, err))) {
        if (st == ZT_ERR_CANCELLED)
            zt_fail(err, st, "cancelled while decoding");
        goto done;
    }
    /* zt_vae_decode synchronises: this is the decoder's own time */
    tm->decode_ms = zt_now_ms() - t0;
    zt_backend_phase(be, "output");
    t0 = zt_now_ms();
    tap_named(hk, "decoded", &jt.image);
    /* A NaN or infinity anywhere upstream (a damaged weight) spreads to
     * every pixel, which the bytes would show as a black image: a job that
     * made no image fails saying so. */
    uint64_t bad = 0;
    if ((st = zt_backend_count_nonfinite(be, &jt.image, &bad, err)) != ZT_OK)
        goto done;
    if (bad) {
        st = zt_fail(err, ZT_ERR_FORMAT,
                     "the image came out as %llu NaN or infinite values of %lld: the model's "
                     "weights may hold such values, or a config.json a number out of range "
                     "(a damaged file?)",
                     (unsigned long long)bad, (long long)zt_tensor_numel(&jt.image));
        goto done;
    }
    /* Bytes are made where the image is, so only they cross the bus. */
    zt_op_to_rgb8(be, &jt.rgb, &jt.image);
    uint8_t *out = malloc((size_t)zt_tensor_numel(&jt.rgb));
    if (!out) {
        st = zt_fail(err, ZT_ERR_NOMEM, "out of memory for a %dx%d image", p->width, p->height);
        goto done;
    }
    if ((st = zt_backend_download(be, out, &jt.rgb, err))) { /* reports the op's error */
        free(out);
        goto done;
    }
    tm->output_ms = zt_now_ms() - t0;
    *rgb = out;
done:
    be->stop = NULL;
    be->stop_ud = NULL;
    if (m->release_te && m->te) /* a job that failed while encoding */
        zt_model_set_release_text_encoder(m, 1);
    if (noise_running)
        pthread_join(noise_tid, NULL);
    tm->total_ms = zt_now_ms() - t_start;
    free(host);
    zt_schedule_free(&sched);
    zt_arena_reset(arena, 0);
    return st;
}
