/*
 * engine.h - the one interface front ends use to generate images.
 *
 * An engine owns a worker thread that owns the backend and the resident
 * model; jobs run one at a time in submission order. The front end never
 * blocks on the worker: it submits jobs, cancels them, waits on a file
 * descriptor that becomes readable when events are queued, and polls the
 * events, which are copies it owns (free each with zt_event_free).
 *
 * Threads: every function may be called from any one front-end thread;
 * none of them blocks on GPU work except zt_engine_free, which cancels
 * queued jobs, stops a model load in progress (within one staged piece of
 * weights, or one component on the CPU and for synthetic weights), waits
 * for the running job to stop and joins the worker.
 */
#ifndef ZT_ENGINE_H
#define ZT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "pipeline.h"
#include "status.h"

typedef struct zt_engine zt_engine;

/* Activations and matrix products on CUDA. AUTO: FP32 for models under
 * ZT_PRECISION_AUTO_PARAMS parameters (text encoder and DiT together), where
 * it costs little and gives the CPU reference's 8-bit pixels; BF16 above
 * (the published model). FP8 is never chosen by AUTO: it trades accuracy
 * (rel-L2 against the BF16 reference grows) for speed. The CPU backend
 * always computes in F32. */
typedef enum zt_precision {
    ZT_PRECISION_AUTO,
    ZT_PRECISION_BF16,
    ZT_PRECISION_FP32,
    ZT_PRECISION_FP8, /* BF16, with the transformer blocks' products in FP8 (backend.h) */
} zt_precision;
#define ZT_PRECISION_AUTO_PARAMS 1000000000ull
/* "auto", "bf16", "fp32" or "fp8" (NULL: auto); anything else is refused. */
zt_status zt_precision_parse(const char *s, zt_precision *out, zt_err *err);
/* What AUTO computes in on CUDA for a model of these configs: ZT_F32 under
 * ZT_PRECISION_AUTO_PARAMS, ZT_BF16 otherwise. */
zt_dtype zt_precision_auto_dtype(const zt_model_config *cfg);

typedef struct zt_engine_opts {
    const char *model_dir;     /* NULL with synthetic */
    int synthetic;             /* full-size synthetic weights */
    uint32_t synth_seed;
    const char *tokenizer_path;/* synthetic: a tokenizer.json to use */
    const char *device;        /* "auto" (default), "cpu" or "cuda" */
    zt_precision precision;    /* CUDA only; AUTO by default */
    int threads;               /* CPU backend threads; 0 = all cores */
    int release_text_encoder;  /* free the encoder after each encode (16 GB cards) */
    int previews;              /* emit live previews */
    size_t mem_limit;          /* >0: plan against this many bytes instead of the device's */
} zt_engine_opts;

typedef enum zt_event_kind {
    ZT_EV_LOAD_PROGRESS,   /* component, index/count, file, bytes, mb_s, eta_ms */
    ZT_EV_LOADED,          /* backend name, weight bytes, ms the load took */
    ZT_EV_LOAD_FAILED,     /* status, msg: the engine serves no jobs */
    ZT_EV_JOB_QUEUED,
    ZT_EV_JOB_STARTED,
    ZT_EV_JOB_STEP,        /* step, steps, ms, eta_ms */
    ZT_EV_JOB_PREVIEW,     /* rgb [h, w, 3] of the predicted image, latent size;
                              after each step, or after 32 evenly spaced steps
                              (the last included) when a job has more */
    ZT_EV_JOB_FINISHED,    /* rgb [h, w, 3], params, path (NULL if none), timings */
    ZT_EV_JOB_FAILED,      /* status, msg; when the image was made but could not be
                              written, also rgb, params and timings as for FINISHED */
    ZT_EV_JOB_CANCELLED,
} zt_event_kind;

typedef struct zt_event {
    zt_event_kind kind;
    uint64_t job;              /* 0 for load events */
    double t_ms;               /* when it was emitted, CLOCK_MONOTONIC in ms */
    /* load */
    char component[32];
    int index, count;
    char file[96];             /* shard being read, or "" */
    uint64_t bytes_done, bytes_total;
    double mb_s;               /* load rate so far, 1e6 bytes/s (0 until known) */
    char backend[32];          /* LOADED: "cpu", "cuda bf16", "cuda fp32" */
    /* steps */
    int step, steps;
    double ms, eta_ms;         /* eta_ms: also for loads (-1 until known) */
    /* images (owned by the event) */
    uint8_t *rgb;
    int w, h;
    /* results */
    zt_gen_params params;      /* owned; valid for FINISHED */
    char *path;                /* owned; the file written, or NULL */
    zt_timings timings;
    int prompt_cached;
    zt_status status;
    char msg[512];
} zt_event;

typedef struct zt_mem_snapshot {
    int have_device;           /* 0 on the CPU backend */
    size_t device_total, device_free;
    size_t text_encoder, transformer, vae, activations; /* zimt's own */
    /* what a job may need, counted as the check at submit counts it
     * ($ZIMT_MEM_LIMIT, else free memory plus zimt's own); 0 unknown */
    size_t job_avail;
} zt_mem_snapshot;

/* Start the worker; loading proceeds in the background with events. */
zt_status zt_engine_new(zt_engine **out, const zt_engine_opts *opts, zt_err *err);
void zt_engine_free(zt_engine *e); /* NULL is fine */

/* Queue a job. params are copied. output_path: where to write the PNG (it
 * must not exist), or NULL for none. *job receives the id (>= 1). */
zt_status zt_engine_submit(zt_engine *e, const zt_gen_params *params, const char *output_path,
                           uint64_t *job, zt_err *err);
/* Cancel a queued or running job (0: the running one). A running job stops
 * within one step and writes nothing. Returns ZT_ERR_MISSING if unknown. */
zt_status zt_engine_cancel(zt_engine *e, uint64_t job);
void zt_engine_cancel_all(zt_engine *e);
/* Jobs queued or running. */
int zt_engine_pending(zt_engine *e);
/* For a front end about to leave at once: zt_png_writes_stop (the image
 * being written is finished, later ones make no file and fail), then wait
 * until the writer has reported the result it holds, so that the event of
 * an image written just before is queued when this returns. */
void zt_engine_stop_writes(zt_engine *e);

/* Readable while events wait. */
int zt_engine_event_fd(const zt_engine *e);
/* 1 with *ev filled (free it with zt_event_free), 0 when none wait. */
int zt_engine_poll(zt_engine *e, zt_event *ev);
void zt_event_free(zt_event *ev);
/* One line for a LOAD_PROGRESS event, for front ends:
 * "transformer (2/3) shard.safetensors: 4.1 of 20.4 GB, 2950 MB/s, 6 s left". */
void zt_event_load_text(const zt_event *ev, char *buf, size_t n);

void zt_engine_memory(zt_engine *e, zt_mem_snapshot *m);

/* Peak bytes a job of these settings would need on this engine's model
 * (weights included), for front ends' "fits" hints. 0 before loading, and
 * for a size or guidance a job would be refused. */
size_t zt_engine_estimate(zt_engine *e, int width, int height, float guidance);

/* Preview projection of a latent x0 [C, h, w] (C = 16) to RGB [h, w, 3]. */
void zt_latent_preview(const float *x0, int C, int h, int w, uint8_t *rgb);

#endif
