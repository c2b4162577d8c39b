/*
 * fake_engine.c - engine.h with deterministic events and no model, for
 * workbench tests that need no weights: loading succeeds at once as
 * backend "fake"; each job emits STARTED, one STEP and one PREVIEW per step
 * (ZT_FAKE_STEP_MS apart, default 150), then FINISHED with a gradient image
 * that is written with zt_png_write when a path was given. Cancel works
 * between steps. Link it instead of the real engine.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

typedef struct fjob {
    uint64_t id;
    zt_gen_params p;
    char *path;
    struct fjob *next;
} fjob;

typedef struct fev {
    zt_event ev;
    struct fev *next;
} fev;

struct zt_engine {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pipe[2];
    fjob *jobs;
    fev *evs, *evs_tail;
    uint64_t next_id, running, cancel_id;
    int stop, cancel_running;
    int writing; /* between a job's write and its event (zt_engine_stop_writes) */
};

static void push(zt_engine *e, zt_event *ev)
{
    fev *n = calloc(1, sizeof *n);
    n->ev = *ev;
    pthread_mutex_lock(&e->mu);
    if (e->evs_tail)
        e->evs_tail->next = n;
    else
        e->evs = n;
    e->evs_tail = n;
    pthread_mutex_unlock(&e->mu);
    char b = 1;
    if (write(e->pipe[1], &b, 1) < 0) {
    }
}

static uint8_t *gradient(int w, int h, int step, int steps)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
            p[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
            p[2] = (uint8_t)(steps ? step * 255 / steps : 255);
        }
    return rgb;
}

static void *worker(void *ud)
{
    zt_engine *e = ud;
    zt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = ZT_EV_LOADED;
    snprintf(ev.backend, sizeof ev.backend, "fake");
    push(e, &ev);
    const char *ms = getenv("ZT_FAKE_STEP_MS");
    int step_ms = ms ? atoi(ms) : 150;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->jobs && !e->stop)
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->stop) {
            pthread_mutex_unlock(&e->mu);
            return NULL;
        }
        fjob *j = e->jobs;
        e->jobs = j->next;
        e->running = j->id;
        e->cancel_running = 0;
        pthread_mutex_unlock(&e->mu);
        memset(&ev, 0, sizeof ev);
        ev.kind = ZT_EV_JOB_STARTED;
        ev.job = j->id;
        push(e, &ev);
        int cancelled = 0;
        for (int s = 1; s <= j->p.steps; s++) {
            struct timespec ts = {step_ms / 1000, (step_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&e->mu);
            cancelled = e->cancel_running || e->stop;
            pthread_mutex_unlock(&e->mu);
            if (cancelled)
                break;
            memset(&ev, 0, sizeof ev);
            ev.kind = ZT_EV_JOB_STEP;
            ev.job = j->id;
            ev.step = s;
            ev.steps = j->p.steps;
            ev.ms = step_ms;
            ev.eta_ms = (double)step_ms * (j->p.steps - s);
            push(e, &ev);
            memset(&ev, 0, sizeof ev);
            ev.kind = ZT_EV_JOB_PREVIEW;
            ev.job = j->id;
            ev.w = j->p.width / 8;
            ev.h = j->p.height / 8;
            ev.rgb = gradient(ev.w, ev.h, s, j->p.steps);
            push(e, &ev);
        }
        memset(&ev, 0, sizeof ev);
        ev.job = j->id;
        if (cancelled) {
            ev.kind = ZT_EV_JOB_CANCELLED;
            push(e, &ev);
        } else {
            ev.kind = ZT_EV_JOB_FINISHED;
            ev.w = j->p.width;
            ev.h = j->p.height;
            ev.rgb = gradient(ev.w, ev.h, 1, 1);
            zt_gen_params_init(&ev.params);
            zt_gen_params_copy(&ev.params, &j->p, NULL);
            ev.timings.total_ms = (double)step_ms * j->p.steps;
            ev.timings.steps = j->p.steps;
            zt_err err;
            pthread_mutex_lock(&e->mu);
            e->writing = 1;
            pthread_mutex_unlock(&e->mu);
            if (j->path && zt_png_write(j->path, ev.rgb, ev.w, ev.h, &j->p, &err) == ZT_OK)
                ev.path = strdup(j->path);
            push(e, &ev);
            pthread_mutex_lock(&e->mu);
            e->writing = 0;
            pthread_cond_broadcast(&e->cv);
            pthread_mutex_unlock(&e->mu);
        }
        pthread_mutex_lock(&e->mu);
        e->running = 0;
        pthread_mutex_unlock(&e->mu);
        zt_gen_params_free(&j->p);
        free(j->path);
        free(j);
    }
}

zt_status zt_engine_new(zt_engine **out, const zt_engine_opts *opts, zt_err *err)
{
    (void)opts;
    (void)err;
    zt_engine *e = calloc(1, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pipe(e->pipe))
        return ZT_ERR_IO;
    fcntl(e->pipe[0], F_SETFL, O_NONBLOCK);
    e->next_id = 1;
    pthread_create(&e->th, NULL, worker, e);
    *out = e;
    return ZT_OK;
}

void zt_engine_free(zt_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_broadcast(&e->cv); /* the worker, or zt_engine_stop_writes */
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->th, NULL);
    zt_event ev;
    while (zt_engine_poll(e, &ev))
        zt_event_free(&ev);
    while (e->jobs) {
        fjob *j = e->jobs;
        e->jobs = j->next;
        zt_gen_params_free(&j->p);
        free(j->path);
        free(j);
    }
    close(e->pipe[0]);
    close(e->pipe[1]);
    free(e);
}

zt_status zt_engine_submit(zt_engine *e, const zt_gen_params *params, const char *output_path,
                           uint64_t *job, zt_err *err)
{
    fjob *j = calloc(1, sizeof *j);
    zt_gen_params_init(&j->p);
    zt_gen_params_copy(&j->p, params, err);
    j->path = output_path ? strdup(output_path) : NULL;
    pthread_mutex_lock(&e->mu);
    j->id = e->next_id++;
    fjob **t = &e->jobs;
    while (*t)
        t = &(*t)->next;
    *t = j;
    pthread_cond_broadcast(&e->cv); /* the worker, or zt_engine_stop_writes */
    pthread_mutex_unlock(&e->mu);
    *job = j->id;
    return ZT_OK;
}

zt_status zt_engine_cancel(zt_engine *e, uint64_t job)
{
    pthread_mutex_lock(&e->mu);
    zt_status st = ZT_ERR_MISSING;
    if (e->running && (job == 0 || job == e->running)) {
        e->cancel_running = 1;
        st = ZT_OK;
    }
    pthread_mutex_unlock(&e->mu);
    return st;
}

void zt_engine_cancel_all(zt_engine *e)
{
    zt_engine_cancel(e, 0);
}

void zt_engine_stop_writes(zt_engine *e)
{
    zt_png_writes_stop();
    pthread_mutex_lock(&e->mu);
    while (e->writing)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

int zt_engine_pending(zt_engine *e)
{
    pthread_mutex_lock(&e->mu);
    int n = e->running ? 1 : 0;
    for (fjob *j = e->jobs; j; j = j->next)
        n++;
    pthread_mutex_unlock(&e->mu);
    return n;
}

int zt_engine_event_fd(const zt_engine *e)
{
    return e->pipe[0];
}

int zt_engine_poll(zt_engine *e, zt_event *ev)
{
    char b[64];
    while (read(e->pipe[0], b, sizeof b) > 0) {
    }
    pthread_mutex_lock(&e->mu);
    fev *n = e->evs;
    if (n) {
        e->evs = n->next;
        if (!e->evs)
            e->evs_tail = NULL;
    }
    pthread_mutex_unlock(&e->mu);
    if (!n)
        return 0;
    *ev = n->ev;
    free(n);
    /* more waiting: keep the fd readable */
    pthread_mutex_lock(&e->mu);
    if (e->evs && write(e->pipe[1], "", 1) < 0) {
    }
    pthread_mutex_unlock(&e->mu);
    return 1;
}

void zt_event_free(zt_event *ev)
{
    free(ev->rgb);
    free(ev->path);
    if (ev->kind == ZT_EV_JOB_FINISHED)
        zt_gen_params_free(&ev->params);
    memset(ev, 0, sizeof *ev);
}

void zt_engine_memory(zt_engine *e, zt_mem_snapshot *m)
{
    (void)e;
    memset(m, 0, sizeof *m);
    m->text_encoder = 3u << 20;
    m->transformer = 5u << 20;
    m->vae = 1u << 20;
    m->activations = 2u << 20;
}

size_t zt_engine_estimate(zt_engine *e, int width, int height, float guidance)
{
    (void)e;
    return (size_t)width * height * (guidance > 0 ? 2 : 1) * 64;
}

void zt_latent_preview(const float *x0, int C, int h, int w, uint8_t *rgb)
{
    (void)x0;
    (void)C;
    memset(rgb, 0, (size_t)h * w * 3);
}
