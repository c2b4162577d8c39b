/*
 * cmd_synth.c - zimt synth --out DIR [--tiny] [--seed N] [--tokenizer DIR]
 * [--shard-mb N] [-q]: write a model directory in the published layout with
 * synthetic weights, so loading can be timed from files without the
 * download.
 *
 * Full size (about 20 GB) by default, from the built-in published configs;
 * --tiny uses the bundled tiny model's configs, and with seed 0 reproduces
 * its weights exactly. Progress goes to stderr when it is a terminal; the
 * summary goes to stdout.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "gen_opts.h"
#include "synthdir.h"

#define TINY_DIR ZT_DEFAULT_MODEL
#define TOKENIZER_DIR ZT_DEFAULT_MODEL "/tokenizer"

typedef struct progress {
    int show;
    double t0, last;
} progress;

/* Also the way out on Ctrl-C, SIGTERM or SIGHUP: a non-zero return stops
 * the writer, which removes its temporary folder. */
static int on_progress(void *ud, const char *file, uint64_t done, uint64_t total)
{
    progress *p = ud;
    double t = zt_now_ms() / 1e3;
    if (zt_cli_stop)
        return 1;
    if (!p->show || (t - p->last < 0.25 && done < total))
        return 0;
    p->last = t;
    double mb = (double)done / 1e6, rate = mb / (t - p->t0 > 1e-6 ? t - p->t0 : 1e-6);
    double eta = rate > 0 ? ((double)(total - done) / 1e6) / rate : 0;
    const char *base = strrchr(file, '/');
    fprintf(stderr, "\r\033[K%5.1f%%  %.0f / %.0f MB  %.0f MB/s  ETA %.0f s  %s",
            total ? 100.0 * (double)done / (double)total : 100.0, mb, (double)total / 1e6, rate,
            eta, base ? base + 1 : file);
    return 0;
}

static int usage(FILE *f)
{
    fputs("usage: zimt synth --out DIR [--tiny] [--seed N] [--tokenizer DIR] [--shard-mb N] "
          "[-q]\n"
          "  --out DIR        the model folder to create (must not exist)\n"
          "  --tiny           the bundled tiny model's sizes instead of the full 20 GB\n"
          "  --seed N         weight seed (default 0)\n"
          "  --tokenizer DIR  folder whose files become tokenizer/ (default " TOKENIZER_DIR
          ")\n"
          "  --shard-mb N     largest shard in MB (default 5000, as published)\n",
          f);
    return f == stdout ? 0 : 2;
}

int zt_cmd_synth(int argc, char **argv)
{
    const char *out = NULL, *tok = NULL, *seed_s = NULL, *shard_s = NULL;
    int tiny = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--out")         ? &out
                            : !strcmp(a, "--tokenizer") ? &tok
                            : !strcmp(a, "--seed")      ? &seed_s
                            : !strcmp(a, "--shard-mb")  ? &shard_s
                                                        : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                zt_cli_fail("synth: option %s needs a value", a);
                return usage(stderr);
            }
            *slot = argv[++i];
        } else if (!strcmp(a, "--tiny")) {
            tiny = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            return usage(stdout);
        } else {
            zt_cli_fail("synth: unknown argument '%s'", a);
            return usage(stderr);
        }
    }
    if (!out) {
        zt_cli_fail("synth: --out DIR is required");
        return usage(stderr);
    }
    if (!*out || (tok && !*tok))
        return zt_cli_fail("synth: %s is an empty path", !*out ? "--out" : "--tokenizer");
    char tokbuf[4096];
    if (!tok) {
        /* the bundled tokenizer's folder, wherever it was found */
        if (!zt_cli_bundled_tokenizer(tokbuf, sizeof tokbuf))
            return zt_cli_fail("synth: the bundled tokenizer (%s) was not found; give "
                               "--tokenizer DIR",
                               TOKENIZER_DIR);
        *strrchr(tokbuf, '/') = 0;
        tok = tokbuf;
    }
    zt_err err = {0};
    long seed = 0, shard_mb = 5000;
    if (seed_s && zt_parse_int("seed", seed_s, 0, 4294967295L, &seed, &err))
        return zt_cli_error(&err);
    if (shard_s && zt_parse_int("shard-mb", shard_s, 1, 1000000, &shard_mb, &err))
        return zt_cli_error(&err);

    zt_model_config cfg;
    if (tiny) {
        /* the bundled tiny model's configs, wherever it was found (the
         * working directory, beside the binary, or installed) */
        char tiny_dir[4096];
        if (!zt_cli_bundled_model(tiny_dir, sizeof tiny_dir))
            return zt_cli_fail("synth: --tiny needs the bundled tiny model (%s), and it was "
                               "not found",
                               TINY_DIR);
        if (zt_model_config_load(&cfg, tiny_dir, &err))
            return zt_cli_error(&err);
    } else {
        zt_model_config_full(&cfg);
    }
    progress pr = {!quiet && isatty(2), zt_now_ms() / 1e3, 0};
    zt_synthdir_opts o = {
        .cfg = &cfg,
        .seed = (uint32_t)seed,
        .tokenizer_dir = tok,
        .shard_bytes = (uint64_t)shard_mb * 1000000ull,
        .progress = on_progress,
        .ud = &pr,
    };
    zt_cli_catch_stop();
    zt_status st = zt_synthdir_write(out, &o, &err);
    if (pr.show)
        fputs("\r\033[K", stderr);
    if (st) {
        zt_cli_error(&err);
        return zt_cli_stop ? 128 + zt_cli_stop : 1; /* 130 for Ctrl-C */
    }
    uint64_t bytes = 0;
    zt_synthdir_bytes(&cfg, &bytes, NULL);
    double secs = zt_now_ms() / 1e3 - pr.t0;
    printf("wrote %s: %s model, seed %ld, %.1f MB of weights in %.1f s\n", out,
           tiny ? "tiny" : "full-size", seed, (double)bytes / 1e6, secs);
    return 0;
}
