/*
 * cmd_gen.c - zimt gen: headless generation.
 *
 *   zimt gen [--model DIR] --prompt TEXT [--negative TEXT] [--size WxH]
 *            [--steps N] [--seed S] [--guidance G] [--rng cuda|cpu]
 *            [--device auto|cpu|cuda] [--from PNG] [-o FILE]
 *
 * Every setting is checked before the model loads, so a typo costs no
 * time. The PNG is written atomically and never over an existing file;
 * Ctrl-C (or SIGTERM/SIGHUP) stops after the current step and writes
 * nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "gen_opts.h"
#include "image.h"
#include "pipeline.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int on_step(void *ud, int step, int total, double ms, const float *x0, int C, int h,
                   int w)
{
    (void)x0;
    (void)C;
    (void)h;
    (void)w;
    const int *quiet = ud;
    if (!*quiet)
        fprintf(stderr, "zimt: step %d/%d  %.0f ms\n", step, total, ms);
    return interrupted;
}

static void usage(FILE *f)
{
    fputs("usage: zimt gen [--model DIR] --prompt TEXT [--negative TEXT] [--size WxH]\n"
          "                [--steps N] [--seed S] [--guidance G] [--rng cuda|cpu]\n"
          "                [--device auto|cpu|cuda] [--from PNG] [-o FILE] [--quiet]\n",
          f);
}

int zt_cmd_gen(int argc, char **argv)
{
    zt_gen_opts o;
    zt_err err = {0};
    int rc = 1;
    if (zt_gen_opts_parse(&o, argc, argv, &err) != ZT_OK) {
        zt_cli_error(&err);
        usage(stderr);
        return 2;
    }
    if (o.help) {
        usage(stdout);
        zt_gen_opts_free(&o);
        return 0;
    }
    zt_backend *be = NULL;
    zt_model *model = NULL;
    uint8_t *rgb = NULL;

    if (zt_gen_opts_resolve(&o, &err) != ZT_OK) {
        rc = zt_cli_error(&err);
        goto done;
    }
    if (zt_gen_opts_open_backend(&o, &be, &err) != ZT_OK) {
        rc = zt_cli_error(&err);
        goto done;
    }
    if (zt_model_open(&model, be, o.model_dir, NULL, NULL, &err) != ZT_OK) {
        rc = zt_cli_error(&err);
        goto done;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    zt_job_params jp = zt_gen_opts_job(&o);
    zt_timings tm;
    zt_run_hooks hk = {.on_step = on_step, .ud = &o.quiet};
    zt_status st = zt_pipeline_run(model, &jp, &hk, &rgb, &tm, &err);
    if (st == ZT_ERR_CANCELLED) {
        fprintf(stderr, "zimt: interrupted: %s; nothing written\n", err.msg);
        rc = 130;
        goto done;
    }
    if (st != ZT_OK) {
        rc = zt_cli_error(&err);
        goto done;
    }
    if (tm.prompt_truncated)
        fprintf(stderr, "zimt: warning: the prompt was truncated to %d tokens\n",
                ZT_TOKENIZER_MAX_IDS);
    if (zt_png_write(o.output_path, rgb, o.params.width, o.params.height, &o.params, &err) != ZT_OK) {
        rc = zt_cli_error(&err);
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr, "zimt: wrote %s (%dx%d, seed %llu, %.2f s)\n", o.output_path,
                o.params.width, o.params.height, (unsigned long long)o.params.seed,
                tm.total_ms / 1000.0);
    printf("%s\n", o.output_path);
    rc = 0;
done:
    free(rgb);
    zt_model_free(model);
    zt_backend_free(be);
    zt_gen_opts_free(&o);
    return rc;
}
