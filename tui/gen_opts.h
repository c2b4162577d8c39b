/*
 * gen_opts.h - generation settings from the command line (and --from PNG),
 * shared by zimt gen and zimt bench. Parsing checks syntax; resolving
 * fills defaults, applies --from, and checks every value and the output
 * path before any model is loaded.
 */
#ifndef ZT_GEN_OPTS_H
#define ZT_GEN_OPTS_H

#include <stddef.h>
#include <time.h>

#include "backend.h"
#include "engine.h"
#include "image.h"
#include "pipeline.h"

typedef struct zt_gen_opts {
    /* as given; NULL when absent */
    const char *model, *prompt, *negative, *size, *steps, *seed, *guidance, *rng, *device;
    const char *precision;
    const char *from, *output;
    const char *count, *jobs, *outdir;  /* batches */
    const char *name;                   /* --name TEMPLATE (outpath.h) */
    const char *seeds[256];             /* every --seed, in order */
    int n_seeds;
    int seed_random;                    /* no seed given (or "random"): each job draws one */
    int quiet, help, json;
    int bad_usage;              /* resolve refused a mix of options (exit 2, not 1) */
    int synthetic;                      /* --synthetic [SEED] */
    const char *synth_seed;             /* its SEED, or NULL */
    /* resolved */
    zt_gen_params params;      /* owned */
    zt_rng_kind rng_kind;
    zt_precision precision_v;  /* --precision (auto by default) */
    uint32_t synth_seed_v;     /* --synthetic's seed (0 by default) */
    char tokenizer[4096];      /* --synthetic: the bundled tokenizer.json */
    char model_dir[4096];
    char output_buf[4096];
    const char *output_path;   /* points at output or output_buf */
    char outdir_made[4096];    /* the outermost directory made for a missing
                                  --outdir, "" when none: the caller takes it
                                  back (zt_outpath_unmake_dir) when this or a
                                  later check refuses the run */
    char from_note[512];       /* --from took the A1111 text over a damaged zimt
                                  chunk: why, for a warning; else "" */
    time_t when;               /* the batch's {date} */
    size_t mem_limit;          /* $ZIMT_MEM_LIMIT in bytes, 0 when unset */
} zt_gen_opts;

/* Parse argv (argv[0] is the subcommand). Unknown options are errors. */
zt_status zt_gen_opts_parse(zt_gen_opts *o, int argc, char **argv, zt_err *err);
zt_status zt_gen_opts_resolve(zt_gen_opts *o, zt_err *err);
void zt_gen_opts_free(zt_gen_opts *o);

/* The PNG path for a job named by the template (--name, else the default)
 * inside --outdir (else "."); a name that exists, or for which
 * taken(path, ud) says so (a batch's earlier jobs), gets a number.
 * taken may be NULL. hint (may be NULL) carries one job's name and number
 * to the next: a job whose name is the same starts past that number. */
typedef struct zt_name_hint {
    char name[1024]; /* the last job's expanded name */
    int k;           /* and the number it took (zt_outpath_resolve_unique) */
} zt_name_hint;
zt_status zt_gen_opts_template_path(const zt_gen_opts *o, const zt_gen_params *p, int index,
                                    int (*taken)(const char *path, void *ud), void *ud,
                                    zt_name_hint *hint, char *out, size_t cap, zt_err *err);

/* An output path must not exist and its directory must be writable. */
zt_status zt_check_output(const char *path, zt_err *err);
/* A fresh random seed (32 bits, short enough to type). */
uint64_t zt_random_seed(void);

/* Value parsers used by several commands. */
zt_status zt_parse_size(const char *s, int *w, int *h, zt_err *err);
zt_status zt_parse_int(const char *what, const char *s, long lo, long hi, long *out, zt_err *err);
/* $ZIMT_MEM_LIMIT, the bytes jobs are planned against instead of the
 * device's free memory: digits with an optional K, M, G or T (powers of
 * 1024). *limit is 0 when it is unset or empty. */
zt_status zt_mem_limit_env(size_t *limit, zt_err *err);
zt_status zt_parse_seed(const char *s, uint64_t *seed, int *random, zt_err *err);
/* ZT_OK for auto, cpu or cuda (what --device takes in gen and the
 * workbench); else ZT_ERR_INVALID saying so. */
zt_status zt_parse_device(const char *device, zt_err *err);
zt_status zt_parse_float(const char *what, const char *s, float lo, float hi, float *out,
                         zt_err *err);

#endif
