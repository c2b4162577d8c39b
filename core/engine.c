/*
 * engine.c - worker thread, job queue, writer thread and events
 * (see engine.h for the contract).
 *
 * Threads:
 *   front end  submit / cancel / poll / memory (any one thread)
 *   worker     owns the backend and the model; runs jobs in order
 *   writer     writes finished PNGs, so the next job starts at once
 * One mutex guards the job queue, the writer queue, the event queue and
 * the published state. Each queued event has one byte in a pipe, so the
 * pipe's read end is readable exactly while events wait.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest.h"

typedef struct ev_node ev_node;

typedef struct job {
    uint64_t id;
    zt_gen_params params;
    char *path;             /* NULL: no file */
    ev_node *last;          /* reserved at submit for the job's last event */
    struct job *next;
} job;

typedef struct result {     /* a finished job on its way to the writer */
    job *j;
    uint8_t *rgb;
    zt_timings tm;
    struct result *next;
} result;

struct ev_node {
    zt_event ev;
    struct ev_node *next;
};

struct zt_engine {
    zt_engine_opts opts;    /* strings below are owned copies */
    char *model_dir, *tokenizer_path, *device;
    pthread_t worker, writer;
    int worker_started, writer_started;
    pthread_mutex_t mu;
    pthread_cond_t job_cv, write_cv;
    pthread_cond_t written_cv; /* signalled as the writer puts a result down */
    int writing;               /* the writer holds a result it has not reported */
    int stop;
    job *q_head, *q_tail;
    uint64_t next_id;
    uint64_t running;       /* id of the running job, 0 when idle */
    atomic_int cancel_running;
    atomic_int closing;     /* zt_engine_free has begun: a load in progress stops */
    result *w_head, *w_tail;
    int unfinished;         /* jobs submitted whose last event is not yet queued */
    ev_node *ev_head, *ev_tail;
    ev_node *load_end;      /* reserved for LOADED or LOAD_FAILED, which must
                               not be lost to OOM; the worker takes it */
    int pipe_r, pipe_w;
    /* published by the worker for the front end */
    int loaded;             /* 1 loaded, -1 failed */
    zt_err load_err;
    zt_mem_snapshot mem;
    zt_model_config cfg;
    zt_dtype act;
    size_t te_bytes, dit_bytes, vae_bytes;
    /* worker-owned */
    zt_backend *be;
    zt_model *model;
};

/* ---- events ---- */

/*
 * Events: a list under mu, and a byte in the pipe for each, so that the
 * pipe's read end is readable while events wait. The bytes are not paired
 * with the events: zt_engine_poll drains the pipe whenever it finds the
 * list empty, then looks once more, so a byte written after its event was
 * taken cannot leave the fd readable with nothing to read.
 */

/* Queues *ev, which gives up what it owns to the queue, in node n (or a new
 * one when n is NULL). last: a job's last event, which stops the job
 * counting as pending in the same step (zt_engine_pending never reads 0
 * while such an event is still to come, nor counts the job once it is
 * there). */
static void queue_event(zt_engine *e, zt_event *ev, ev_node *n, int last)
{
    if (!n && !(n = malloc(sizeof *n))) {
        zt_event_free(ev); /* a step or preview lost to OOM; the job goes on */
        return;
    }
    n->ev = *ev;
    n->next = NULL;
    n->ev.t_ms = zt_now_ms();
    pthread_mutex_lock(&e->mu);
    if (e->ev_tail)
        e->ev_tail->next = n;
    else
        e->ev_head = n;
    e->ev_tail = n;
    e->unfinished -= last;
    pthread_mutex_unlock(&e->mu);
    char b = 1;
    /* a full pipe (EAGAIN) is readable already */
    while (write(e->pipe_w, &b, 1) < 0 && errno == EINTR)
        ;
}

static void push_event(zt_engine *e, zt_event *ev)
{
    queue_event(e, ev, NULL, 0);
}

static void emit(zt_engine *e, zt_event_kind kind, uint64_t id)
{
    zt_event ev = {.kind = kind, .job = id};
    push_event(e, &ev);
}

/* A job's last event (finished, failed or cancelled) goes out in the node
 * reserved at submit: running out of memory cannot lose it, and front ends
 * that count finished jobs never wait for it forever. */
static void job_event(zt_engine *e, job *j, zt_event *ev)
{
    ev_node *n = j->last;
    j->last = NULL;
    queue_event(e, ev, n, 1);
}

static void job_emit(zt_engine *e, job *j, zt_event_kind kind)
{
    zt_event ev = {.kind = kind, .job = j->id};
    job_event(e, j, &ev);
}

/* ev's status and message from err (its code's name when it has no text). */
static void set_error(zt_event *ev, const zt_err *err)
{
    ev->status = err->code;
    snprintf(ev->msg, sizeof ev->msg, "%s", err->msg[0] ? err->msg : zt_status_str(err->code));
}

static void job_error(zt_engine *e, job *j, const zt_err *err)
{
    zt_event ev = {.kind = ZT_EV_JOB_FAILED, .job = j->id};
    set_error(&ev, err);
    job_event(e, j, &ev);
}

int zt_engine_event_fd(const zt_engine *e)
{
    return e->pipe_r;
}

static ev_node *take_event(zt_engine *e)
{
    pthread_mutex_lock(&e->mu);
    ev_node *n = e->ev_head;
    if (n) {
        e->ev_head = n->next;
        if (!e->ev_head)
            e->ev_tail = NULL;
    }
    pthread_mutex_unlock(&e->mu);
    return n;
}

int zt_engine_poll(zt_engine *e, zt_event *ev)
{
    ev_node *n = take_event(e);
    if (!n) {
        char buf[256];
        ssize_t k;
        while ((k = read(e->pipe_r, buf, sizeof buf)) > 0 || (k < 0 && errno == EINTR))
            ;
        n = take_event(e); /* one queued while the pipe drained */
        if (!n)
            return 0;
        /* The drain may also have taken the bytes of events queued after
         * this one: while any wait, the fd must stay readable. */
        pthread_mutex_lock(&e->mu);
        int more = e->ev_head != NULL;
        pthread_mutex_unlock(&e->mu);
        char b = 1;
        while (more && write(e->pipe_w, &b, 1) < 0 && errno == EINTR)
            ;
    }
    *ev = n->ev;
    free(n);
    return 1;
}

void zt_event_free(zt_event *ev)
{
    if (!ev)
        return;
    free(ev->rgb);
    free(ev->path);
    zt_gen_params_free(&ev->params);
    memset(ev, 0, sizeof *ev);
}

/* ---- preview ---- */

/* Latent (16 channels) -> RGB factors for the Flux VAE's latent space,
 * rows = channels, columns = R, G, B; then a bias. */
static const float preview_w[16][3] = {
    {-0.0346f, 0.0244f, 0.0681f}, {0.0034f, 0.0210f, 0.0687f},  {0.0275f, -0.0668f, -0.0433f},
    {-0.0174f, 0.0160f, 0.0617f}, {0.0859f, 0.0721f, 0.0329f},  {0.0004f, 0.0383f, 0.0115f},
    {0.0405f, 0.0861f, 0.0915f},  {-0.0236f, -0.0185f, -0.0259f}, {-0.0245f, 0.0250f, 0.1180f},
    {0.1008f, 0.0755f, -0.0421f}, {-0.0515f, 0.0201f, 0.0011f}, {0.0428f, -0.0012f, -0.0036f},
    {0.0817f, 0.0765f, 0.0749f},  {-0.1264f, -0.0522f, -0.1103f}, {-0.0280f, -0.0881f, -0.0499f},
    {-0.1262f, -0.0982f, -0.0778f},
};
static const float preview_b[3] = {-0.0329f, -0.0718f, -0.0851f};

void zt_latent_preview(const float *x0, int C, int h, int w, uint8_t *rgb)
{
    size_t plane = (size_t)h * w;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) {
            float v = preview_b[c];
            for (int k = 0; k < C && k < 16; k++)
                v += x0[(size_t)k * plane + i] * preview_w[k][c];
            v = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
            rgb[i * 3 + c] = (uint8_t)lrintf((v + 1.0f) * 127.5f);
        }
}

/* ---- worker ---- */

/* Previews a job emits at most: with more steps than this they come at
 * evenly spaced steps, the last included (front ends show a few a second). */
#define PREVIEWS_MAX 32

typedef struct step_ctx {
    zt_engine *e;
    uint64_t id;
    double sum_ms;      /* steps after the first (warm-up) */
    int n_ms;
    /* Reserved before the denoising loop so that the loop allocates
     * nothing: a node for each STEP and PREVIEW event, and the previews'
     * pixels [pv_h, pv_w, 3]. Each goes to the front end with its event;
     * what a stopped job left is freed after it. An event whose node could
     * not be reserved is not sent (as one lost to OOM). */
    ev_node *nodes;     /* chained through next */
    uint8_t *pv[PREVIEWS_MAX];
    int n_pv, used_pv, pv_w, pv_h;
} step_ctx;

/* Does step (1-based) of total emit a preview? (the pipeline asks, and
 * makes the predicted image only then) */
static int preview_due(void *ud, int step, int total)
{
    (void)ud;
    int n = total < PREVIEWS_MAX ? total : PREVIEWS_MAX;
    return (long long)step * n / total > (long long)(step - 1) * n / total;
}

static void reserve_steps(step_ctx *s, int steps, int previews, int pv_w, int pv_h)
{
    int n_pv = !previews ? 0 : steps < PREVIEWS_MAX ? steps : PREVIEWS_MAX;
    s->pv_w = pv_w;
    s->pv_h = pv_h;
    for (; s->n_pv < n_pv; s->n_pv++)
        if (!(s->pv[s->n_pv] = malloc((size_t)pv_w * pv_h * 3)))
            break;
    for (int i = 0; i < steps + s->n_pv; i++) {
        ev_node *n = malloc(sizeof *n);
        if (!n)
            break;
        n->next = s->nodes;
        s->nodes = n;
    }
}

static ev_node *take_node(step_ctx *s)
{
    ev_node *n = s->nodes;
    if (n)
        s->nodes = n->next;
    return n;
}

static void release_steps(step_ctx *s)
{
    for (ev_node *n; (n = take_node(s));)
        free(n);
    for (int i = s->used_pv; i < s->n_pv; i++)
        free(s->pv[i]);
    s->n_pv = s->used_pv = 0;
}

/* in_step: called from a step's hook, inside the denoising loop, where
 * the host's free memory (a read of /proc/meminfo) is not asked for; the
 * device's (cudaMemGetInfo) is asked once, for both of its uses. */
static void publish_memory(zt_engine *e, int in_step)
{
    zt_mem_snapshot m = {0};
    const zt_backend *be = e->be;
    size_t fr = 0, tot = 0;
    int have_free = be && be->vt->mem_info && (!be->vt->host_memory || !in_step) &&
                    be->vt->mem_info(e->be, &fr, &tot, NULL) == ZT_OK;
    if (have_free && !be->vt->host_memory) {
        m.have_device = 1;
        m.device_free = fr;
        m.device_total = tot;
    }
    if (e->model) {
        m.text_encoder = e->model->te ? zt_textenc_weight_bytes(e->model->te) : 0;
        m.transformer = zt_dit_weight_bytes(e->model->dit);
        m.vae = zt_vae_weight_bytes(e->model->vae);
        m.activations = e->model->arena.cap;
        /* in a step on the CPU: the count made before it (only this
         * thread writes e->mem) */
        m.job_avail = e->opts.mem_limit || have_free
                          ? zt_model_job_avail(e->model, e->opts.mem_limit, fr)
                          : e->mem.job_avail;
    }
    pthread_mutex_lock(&e->mu);
    e->mem = m;
    pthread_mutex_unlock(&e->mu);
}

static int on_step(void *ud, int step, int total, double ms, const float *x0, int C, int h,
                   int w)
{
    step_ctx *s = ud;
    zt_engine *e = s->e;
    if (step > 1) {
        s->sum_ms += ms;
        s->n_ms++;
    }
    double per = s->n_ms ? s->sum_ms / s->n_ms : ms;
    zt_event ev = {.kind = ZT_EV_JOB_STEP, .job = s->id, .step = step, .steps = total,
                   .ms = ms, .eta_ms = per * (total - step)};
    ev_node *n = take_node(s);
    if (n)
        queue_event(e, &ev, n, 0);
    if (x0 && w == s->pv_w && h == s->pv_h &&
        s->used_pv < s->n_pv && (n = take_node(s))) {
        zt_event pv = {.kind = ZT_EV_JOB_PREVIEW, .job = s->id, .step = step, .steps = total,
                       .w = w, .h = h, .rgb = s->pv[s->used_pv++]};
        zt_latent_preview(x0, C, h, w, pv.rgb);
        queue_event(e, &pv, n, 0);
    }
    publish_memory(e, 1);
    return atomic_load(&e->cancel_running);
}

/* Asked inside the decode, and on the CPU before each op: a cancel need
 * not wait for the whole decoder, nor for a CPU step. */
static int job_stop(void *ud)
{
    step_ctx *s = ud;
    return atomic_load(&s->e->cancel_running);
}

/* Reports the load; stops it once zt_engine_free has begun. */
static int load_progress(void *ud, const zt_load_progress *p)
{
    zt_engine *e = ud;
    zt_event ev = {.kind = ZT_EV_LOAD_PROGRESS,
                   .index = p->index,
                   .count = p->count,
                   .bytes_done = p->bytes_done,
                   .bytes_total = p->bytes_total,
                   .mb_s = p->mb_s,
                   .eta_ms = p->eta_s < 0 ? -1 : p->eta_s * 1e3};
    snprintf(ev.component, sizeof ev.component, "%s", p->component);
    snprintf(ev.file, sizeof ev.file, "%s", p->file ? p->file : "");
    push_event(e, &ev);
    return atomic_load(&e->closing);
}

static void free_job(job *j)
{
    if (!j)
        return;
    zt_gen_params_free(&j->params);
    free(j->path);
    free(j->last);
    free(j);
}

void zt_event_load_text(const zt_event *ev, char *buf, size_t n)
{
    if (!n)
        return;
    int k = ev->index >= 1 && ev->index < ev->count
                ? snprintf(buf, n, "loading %s (%d/%d)", ev->component, ev->index, ev->count - 1)
                : snprintf(buf, n, "loading %s", ev->component);
    if (k < 0 || (size_t)k >= n)
        return;
    if (ev->file[0])
        k += snprintf(buf + k, n - (size_t)k, " %s", ev->file);
    if ((size_t)k < n && ev->bytes_total)
        k += snprintf(buf + k, n - (size_t)k, ": %.1f of %.1f GB", ev->bytes_done / 1e9,
                      ev->bytes_total / 1e9);
    if ((size_t)k < n && ev->mb_s > 0)
        k += snprintf(buf + k, n - (size_t)k, ", %.0f MB/s", ev->mb_s);
    if ((size_t)k < n && ev->eta_ms >= 0 && ev->bytes_done < ev->bytes_total)
        snprintf(buf + k, n - (size_t)k, ", %.0f s left", ev->eta_ms / 1e3);
}

zt_dtype zt_precision_auto_dtype(const zt_model_config *cfg)
{
    zt_manifest te = {0}, dit = {0};
    uint64_t n = 0;
    if (zt_manifest_te(&te, &cfg->te, NULL) == ZT_OK &&
        zt_manifest_dit(&dit, &cfg->dit, NULL) == ZT_OK)
        n = zt_manifest_numel(&te) + zt_manifest_numel(&dit);
    zt_manifest_free(&te);
    zt_manifest_free(&dit);
    return n && n < ZT_PRECISION_AUTO_PARAMS ? ZT_F32 : ZT_BF16;
}

zt_status zt_precision_parse(const char *s, zt_precision *out, zt_err *err)
{
    static const struct {
        const char *name;
        zt_precision v;
    } names[] = {{"auto", ZT_PRECISION_AUTO},
                 {"bf16", ZT_PRECISION_BF16},
                 {"fp32", ZT_PRECISION_FP32},
                 {"fp8", ZT_PRECISION_FP8}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!s || !strcmp(s, names[i].name)) {
            *out = s ? names[i].v : ZT_PRECISION_AUTO;
            return ZT_OK;
        }
    return zt_fail(err, ZT_ERR_INVALID, "precision '%s': use auto, bf16, fp32 or fp8", s);
}

static zt_dtype cuda_act_dtype(const zt_engine *e)
{
    if (e->opts.precision == ZT_PRECISION_FP32)
        return ZT_F32;
    if (e->opts.precision == ZT_PRECISION_BF16 || e->opts.synthetic)
        return ZT_BF16; /* synthetic weights are always full size */
    /* configs that cannot be read: BF16 here, and the load says why */
    zt_model_config cfg;
    if (zt_model_config_load(&cfg, e->model_dir, NULL) != ZT_OK)
        return ZT_BF16;
    return zt_precision_auto_dtype(&cfg);
}

static zt_status open_backend(zt_engine *e, zt_err *err)
{
    const char *dev = e->device ? e->device : "auto";
    if (strcmp(dev, "cpu")) {
        zt_status st = zt_backend_cuda_new_ex(&e->be, 0, cuda_act_dtype(e), err);
        if (st == ZT_OK)
            e->be->fp8 = e->opts.precision == ZT_PRECISION_FP8;
        if (st == ZT_OK || !strcmp(dev, "cuda"))
            return st;
    }
    return zt_backend_cpu_new(&e->be, e->opts.threads, err);
}

static zt_status load(zt_engine *e, zt_err *err)
{
    zt_status st = open_backend(e, err);
    if (st != ZT_OK)
        return st;
    if (e->opts.synthetic)
        st = zt_model_open_synthetic(&e->model, e->be, e->opts.synth_seed, NULL,
                                     e->tokenizer_path, load_progress, e, err);
    else
        st = zt_model_open(&e->model, e->be, e->model_dir, load_progress, e, err);
    if (st != ZT_OK)
        return st;
    if (e->opts.release_text_encoder)
        zt_model_set_release_text_encoder(e->model, 1);
    return ZT_OK;
}

static void run_job(zt_engine *e, job *j)
{
    zt_err err = {0};
    zt_job_params p = {
        .prompt = j->params.prompt,
        .negative = j->params.negative_prompt,
        .width = j->params.width,
        .height = j->params.height,
        .steps = j->params.steps,
        .guidance = j->params.guidance,
        .seed = j->params.seed,
    };
    zt_status st = zt_rng_kind_parse(j->params.rng, &p.rng, &err);
    if (st == ZT_OK)
        st = zt_job_params_check(&p, &err);
    if (st == ZT_OK) /* refused before anything is allocated for it */
        st = zt_model_check_fit(e->model, &p, e->opts.mem_limit, &err);
    uint8_t *rgb = NULL;
    zt_timings tm = {0};
    if (st == ZT_OK) {
        step_ctx sc = {.e = e, .id = j->id};
        int vs = zt_vae_scale(&e->model->cfg.vae);
        reserve_steps(&sc, p.steps, e->opts.previews, p.width / vs, p.height / vs);
        zt_run_hooks hk = {.on_step = on_step,
                           .want_latents = e->opts.previews ? preview_due : NULL,
                           .stop = job_stop, .ud = &sc};
        st = zt_pipeline_run(e->model, &p, &hk, &rgb, &tm, &err);
        release_steps(&sc);
    }
    publish_memory(e, 0);
    if (st == ZT_ERR_CANCELLED) {
        job_emit(e, j, ZT_EV_JOB_CANCELLED);
        free_job(j);
        return;
    }
    if (st != ZT_OK) {
        job_error(e, j, &err);
        free_job(j);
        return;
    }
    result *r = calloc(1, sizeof *r);
    if (!r) {
        zt_fail(&err, ZT_ERR_NOMEM, "out of memory");
        job_error(e, j, &err);
        free(rgb);
        free_job(j);
        return;
    }
    r->j = j;
    r->rgb = rgb;
    r->tm = tm;
    pthread_mutex_lock(&e->mu);
    /* A cancel that came after the last step's check (during the decode)
     * still means nothing is written. zt_engine_cancel sets the flag under
     * mu: checked here, a cancel is either obeyed or finds nothing running,
     * never answered and then ignored. */
    if (atomic_load(&e->cancel_running)) {
        pthread_mutex_unlock(&e->mu);
        free(r);
        free(rgb);
        job_emit(e, j, ZT_EV_JOB_CANCELLED);
        free_job(j);
        return;
    }
    if (e->w_tail)
        e->w_tail->next = r;
    else
        e->w_head = r;
    e->w_tail = r;
    e->running = 0; /* handed over to the writer */
    pthread_cond_signal(&e->write_cv);
    pthread_mutex_unlock(&e->mu);
}

static void *worker_main(void *arg)
{
    zt_engine *e = arg;
    zt_err err = {0};
    double t0 = zt_now_ms();
    zt_status st = load(e, &err);
    double load_ms = zt_now_ms() - t0;
    zt_event ev = {.kind = st == ZT_OK ? ZT_EV_LOADED : ZT_EV_LOAD_FAILED};
    if (st == ZT_OK) {
        pthread_mutex_lock(&e->mu);
        e->cfg = e->model->cfg;
        e->act = e->be->act_dtype;
        e->te_bytes = e->model->te_bytes;
        e->dit_bytes = zt_dit_weight_bytes(e->model->dit);
        e->vae_bytes = zt_vae_weight_bytes(e->model->vae);
        e->loaded = 1;
        pthread_mutex_unlock(&e->mu);
        publish_memory(e, 0);
        ev.bytes_total = zt_model_weight_bytes(e->model);
        ev.ms = load_ms;
        if (e->be->vt->host_memory)
            snprintf(ev.backend, sizeof ev.backend, "%s", e->be->vt->name);
        else
            snprintf(ev.backend, sizeof ev.backend, "%s %s", e->be->vt->name,
                     e->be->act_dtype == ZT_F32 ? "fp32" : "bf16");
    } else {
        pthread_mutex_lock(&e->mu);
        e->loaded = -1;
        e->load_err = err;
        pthread_mutex_unlock(&e->mu);
        set_error(&ev, &err);
    }
    queue_event(e, &ev, e->load_end, 0);
    e->load_end = NULL;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->stop && !e->q_head)
            pthread_cond_wait(&e->job_cv, &e->mu);
        if (e->stop) {
            pthread_mutex_unlock(&e->mu);
            break;
        }
        job *j = e->q_head;
        e->q_head = j->next;
        if (!e->q_head)
            e->q_tail = NULL;
        e->running = j->id;
        atomic_store(&e->cancel_running, 0);
        pthread_mutex_unlock(&e->mu);

        emit(e, ZT_EV_JOB_STARTED, j->id);
        if (st != ZT_OK) {
            job_error(e, j, &err);
            free_job(j);
        } else {
            run_job(e, j);
        }
        pthread_mutex_lock(&e->mu);
        e->running = 0;
        pthread_mutex_unlock(&e->mu);
    }
    zt_model_free(e->model);
    e->model = NULL;
    zt_backend_free(e->be);
    e->be = NULL;
    return NULL;
}

static void *writer_main(void *arg)
{
    zt_engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->w_head && !(e->stop && !e->worker_started))
            pthread_cond_wait(&e->write_cv, &e->mu);
        result *r = e->w_head;
        if (!r) {
            pthread_mutex_unlock(&e->mu);
            break;
        }
        e->w_head = r->next;
        if (!e->w_head)
            e->w_tail = NULL;
        e->writing = 1;
        pthread_mutex_unlock(&e->mu);

        job *j = r->j;
        zt_err err = {0};
        zt_status st = ZT_OK;
        if (j->path)
            st = zt_png_write(j->path, r->rgb, j->params.width, j->params.height, &j->params,
                              &err);
        zt_event ev = {.kind = ZT_EV_JOB_FINISHED, .job = j->id, .rgb = r->rgb,
                       .w = j->params.width, .h = j->params.height, .timings = r->tm,
                       .prompt_cached = r->tm.prompt_cached, .path = j->path};
        if (st != ZT_OK) {
            /* The image is made but not on disk: hand it over with the
             * error, so that a front end can keep it and save it again. */
            ev.kind = ZT_EV_JOB_FAILED;
            ev.path = NULL;
            set_error(&ev, &err);
        } else {
            j->path = NULL; /* moved into the event */
        }
        ev.params = j->params; /* moved into the event */
        zt_gen_params_init(&j->params);
        job_event(e, j, &ev); /* and no longer pending */
        free_job(j);
        free(r);
        pthread_mutex_lock(&e->mu);
        e->writing = 0;
        pthread_cond_broadcast(&e->written_cv);
        pthread_mutex_unlock(&e->mu);
    }
    return NULL;
}

void zt_engine_stop_writes(zt_engine *e)
{
    zt_png_writes_stop();
    /* a write that finished just before is reported before this returns:
     * its file is there, and a front end leaving now must say so */
    pthread_mutex_lock(&e->mu);
    while (e->writing)
        pthread_cond_wait(&e->written_cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

/* ---- front-end calls ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

zt_status zt_engine_new(zt_engine **out, const zt_engine_opts *opts, zt_err *err)
{
    *out = NULL;
    zt_engine *e = calloc(1, sizeof *e);
    if (!e)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
    e->opts = *opts;
    e->next_id = 1;
    e->pipe_r = e->pipe_w = -1;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->job_cv, NULL);
    pthread_cond_init(&e->write_cv, NULL);
    pthread_cond_init(&e->written_cv, NULL);
    e->model_dir = dup_or_null(opts->model_dir);
    e->tokenizer_path = dup_or_null(opts->tokenizer_path);
    e->device = dup_or_null(opts->device);
    e->load_end = malloc(sizeof *e->load_end);
    if ((opts->model_dir && !e->model_dir) || (opts->tokenizer_path && !e->tokenizer_path) ||
        (opts->device && !e->device) || !e->load_end) {
        zt_engine_free(e);
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
    }
    int fds[2];
    if (pipe(fds) != 0) {
        zt_engine_free(e);
        return zt_fail(err, ZT_ERR_IO, "cannot create the event pipe: %s", strerror(errno));
    }
    e->pipe_r = fds[0];
    e->pipe_w = fds[1];
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    if (!opts->synthetic && !opts->model_dir) {
        zt_engine_free(e);
        return zt_fail(err, ZT_ERR_INVALID, "no model directory given");
    }
    if (pthread_create(&e->writer, NULL, writer_main, e) != 0) {
        zt_engine_free(e);
        return zt_fail(err, ZT_ERR_NOMEM, "cannot start the writer thread");
    }
    e->writer_started = 1;
    e->worker_started = 1;
    if (pthread_create(&e->worker, NULL, worker_main, e) != 0) {
        e->worker_started = 0;
        zt_engine_free(e);
        return zt_fail(err, ZT_ERR_NOMEM, "cannot start the worker thread");
    }
    *out = e;
    return ZT_OK;
}

void zt_engine_free(zt_engine *e)
{
    if (!e)
        return;
    atomic_store(&e->closing, 1);
    zt_engine_cancel_all(e);
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_broadcast(&e->job_cv);
    pthread_mutex_unlock(&e->mu);
    if (e->worker_started)
        pthread_join(e->worker, NULL);
    /* the writer finishes what the worker handed over, then stops */
    pthread_mutex_lock(&e->mu);
    e->worker_started = 0;
    pthread_cond_broadcast(&e->write_cv);
    pthread_mutex_unlock(&e->mu);
    if (e->writer_started)
        pthread_join(e->writer, NULL);
    zt_event ev;
    while (zt_engine_poll(e, &ev))
        zt_event_free(&ev);
    if (e->pipe_r >= 0)
        close(e->pipe_r);
    if (e->pipe_w >= 0)
        close(e->pipe_w);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->job_cv);
    pthread_cond_destroy(&e->write_cv);
    pthread_cond_destroy(&e->written_cv);
    free(e->model_dir);
    free(e->tokenizer_path);
    free(e->device);
    free(e->load_end);
    free(e);
}

zt_status zt_engine_submit(zt_engine *e, const zt_gen_params *params, const char *output_path,
                           uint64_t *id, zt_err *err)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->last = malloc(sizeof *j->last))) {
        free(j);
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
    }
    zt_status st = zt_gen_params_init(&j->params);
    if (st != ZT_OK)
        st = zt_fail(err, st, "out of memory");
    else
        st = zt_gen_params_copy(&j->params, params, err);
    if (st == ZT_OK && output_path && !(j->path = strdup(output_path)))
        st = zt_fail(err, ZT_ERR_NOMEM, "out of memory");
    if (st != ZT_OK) {
        free_job(j);
        return st;
    }
    pthread_mutex_lock(&e->mu);
    j->id = e->next_id++;
    pthread_mutex_unlock(&e->mu);
    *id = j->id;
    /* queued goes out before the job is in the queue: a worker that is not
     * waiting takes a job at once, and its started must come after */
    emit(e, ZT_EV_JOB_QUEUED, *id);
    pthread_mutex_lock(&e->mu);
    if (e->q_tail)
        e->q_tail->next = j;
    else
        e->q_head = j;
    e->q_tail = j;
    e->unfinished++;
    pthread_cond_signal(&e->job_cv);
    pthread_mutex_unlock(&e->mu);
    return ZT_OK;
}

zt_status zt_engine_cancel(zt_engine *e, uint64_t id)
{
    pthread_mutex_lock(&e->mu);
    if (id == 0 || id == e->running) {
        int running = e->running != 0;
        if (running)
            atomic_store(&e->cancel_running, 1);
        pthread_mutex_unlock(&e->mu);
        return running ? ZT_OK : ZT_ERR_MISSING;
    }
    job **pp = &e->q_head, *prev = NULL;
    while (*pp && (*pp)->id != id) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    job *j = *pp;
    if (j) {
        *pp = j->next;
        if (e->q_tail == j)
            e->q_tail = prev;
    }
    pthread_mutex_unlock(&e->mu);
    if (!j)
        return ZT_ERR_MISSING;
    job_emit(e, j, ZT_EV_JOB_CANCELLED);
    free_job(j);
    return ZT_OK;
}

void zt_engine_cancel_all(zt_engine *e)
{
    pthread_mutex_lock(&e->mu);
    job *j = e->q_head;
    e->q_head = e->q_tail = NULL;
    if (e->running)
        atomic_store(&e->cancel_running, 1);
    pthread_mutex_unlock(&e->mu);
    while (j) {
        job *next = j->next;
        job_emit(e, j, ZT_EV_JOB_CANCELLED);
        free_job(j);
        j = next;
    }
}

int zt_engine_pending(zt_engine *e)
{
    pthread_mutex_lock(&e->mu);
    int n = e->unfinished;
    pthread_mutex_unlock(&e->mu);
    return n;
}

void zt_engine_memory(zt_engine *e, zt_mem_snapshot *m)
{
    pthread_mutex_lock(&e->mu);
    *m = e->mem;
    pthread_mutex_unlock(&e->mu);
}

size_t zt_engine_estimate(zt_engine *e, int width, int height, float guidance)
{
    pthread_mutex_lock(&e->mu);
    size_t n = 0;
    zt_job_params p = {.prompt = "", .width = width, .height = height, .steps = 1,
                       .guidance = guidance};
    /* the plan's arithmetic holds for the sizes a job may have, not past them */
    if (e->loaded == 1 && zt_job_params_check(&p, NULL) == ZT_OK) {
        n = e->te_bytes + e->dit_bytes + e->vae_bytes +
            zt_pipeline_plan(&e->cfg, e->act, &p, 0, 0);
    }
    pthread_mutex_unlock(&e->mu);
    return n;
}
