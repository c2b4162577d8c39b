/*
 * cmd_bench.c - zimt bench [--model DIR | --synthetic [SEED]] [--size WxH ...]
 * [--steps N] [--runs R] [--device cuda|cpu] [--json]: time a model's load,
 * text encoding, each denoising step, VAE decode and the whole job, and
 * report peak memory.
 *
 * Method: one warm-up job per size, then R timed jobs; every figure is the
 * min and the median over the R jobs (the per-step figure of one job is the
 * median of its steps). Loading is timed the same way: a warm-up load, then
 * R loads, the last of which stays for the jobs. Each job gets a prompt of
 * its own (the benchmark prompt and a job number of the same token length),
 * so the prompt-feature cache never skips the text encoder.
 *
 * Memory: "device" is what the driver reports in use (total - free, sampled
 * after the load, after every step and after each job; the CUDA context and
 * other processes included); "zimt" is what the backend itself holds at its
 * peak (weights, the job arena, scratch and workspaces), the counterpart of
 * PyTorch's peak allocated memory.
 */
#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "discovery.h"
#include "gen_opts.h"
#include "pipeline.h"

#define MAX_SIZES 16
#define MAX_RUNS 100
#define BENCH_PROMPT                                                                           \
    "A photograph of a red fox sitting in fresh snow at the edge of a pine forest, soft "      \
    "morning light, shallow depth of field, highly detailed fur"

typedef struct stat2 {
    double min, med;
} stat2;

typedef struct size_result {
    int w, h;
    stat2 encode, step, decode, total;
    size_t dev_peak;   /* device bytes in use at the highest sample */
    size_t own_peak;   /* backend-held bytes at peak */
    size_t arena;      /* the job arena */
    int tokens;
} size_result;

typedef struct bench {
    zt_backend *be;
    size_t dev_total, dev_base, dev_peak; /* total, in use before loading, highest sample */
    size_t own_peak;                      /* highest backend-held sample */
    size_t life_peak;                     /* the backend's own peak over everything */
    long load_rss_kib;                    /* peak resident host memory after the loads */
    const char *precision;                /* "bf16" or "fp8" */
} bench;

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static stat2 stats(double *v, int n)
{
    stat2 s = {0, 0};
    if (n <= 0)
        return s;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    s.min = v[0];
    s.med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return s;
}

/* Device bytes in use now; keeps the highest sample. */
static void sample(bench *b)
{
    size_t fr = 0, tot = 0;
    if (b->be->vt->mem_info && b->be->vt->mem_info(b->be, &fr, &tot, NULL) == ZT_OK) {
        size_t used = tot - fr;
        b->dev_total = tot;
        if (used > b->dev_peak)
            b->dev_peak = used;
    }
    size_t now, peak;
    if (zt_backend_mem_usage(b->be, &now, &peak) && now > b->own_peak)
        b->own_peak = now;
}

/* A signal (Ctrl-C, SIGTERM, SIGHUP) ends the measuring: a load stops, a
 * job stops at its step's end (on the CPU within an op), and the sizes
 * measured before it are reported. */
static int stopped(void *ud)
{
    (void)ud;
    return zt_cli_stop != 0;
}

static int load_stopped(void *ud, const zt_load_progress *p)
{
    (void)p;
    return stopped(ud);
}

static int on_step(void *ud, int step, int total, double ms, const float *x0, int C, int h,
                   int w)
{
    (void)step, (void)total, (void)ms, (void)x0, (void)C, (void)h, (void)w;
    sample(ud);
    return stopped(ud);
}

/* The GPU's name as the driver reports it, or "" when not known. */
static void gpu_name(char *out, size_t n)
{
    out[0] = 0;
    DIR *dd = opendir("/proc/driver/nvidia/gpus");
    if (!dd)
        return;
    struct dirent *de;
    while (!out[0] && (de = readdir(dd)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[512], line[256];
        snprintf(path, sizeof path, "/proc/driver/nvidia/gpus/%.200s/information", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "Model:", 6)) {
                const char *v = line + 6;
                while (*v == ' ' || *v == '\t')
                    v++;
                snprintf(out, n, "%.*s", (int)(n - 1), v);
                out[strcspn(out, "\n")] = 0;
                break;
            }
        }
        fclose(f);
    }
    closedir(dd);
}

static int usage(FILE *f)
{
    fputs("usage: zimt bench [--model DIR | --synthetic [SEED]] [--size WxH ...] [--steps N]\n"
          "                  [--runs R] [--device cuda|cpu] [--precision bf16|fp8] [--json]\n"
          "                  [--profile]\n"
          "  --model DIR       a model folder in the published layout\n"
          "  --synthetic SEED  full-size synthetic weights made on the device (default, seed 0)\n"
          "  --size WxH        image size; repeat for a table of sizes (default 1024x1024)\n"
          "  --steps N         denoising steps (default 8)\n"
          "  --runs R          timed jobs after one warm-up (default 3)\n"
          "  --device D        cuda (default) or cpu\n"
          "  --precision P     bf16 (default) or fp8: the transformer blocks' products in FP8\n"
          "  --json            one JSON object on stdout instead of the table\n"
          "  --profile         after the runs, one more job per size with an op profile:\n"
          "                    device time per phase and op (CUDA)\n",
          f);
    return f == stdout ? 0 : 2;
}

static zt_status open_model(zt_model **m, zt_backend *be, const char *dir, uint32_t seed,
                            const char *tok, zt_err *err)
{
    if (dir)
        return zt_model_open(m, be, dir, load_stopped, NULL, err);
    return zt_model_open_synthetic(m, be, seed, NULL, tok, load_stopped, NULL, err);
}

/* One more job with the backend's op profile on; the table goes to stdout
 * (stderr with --json) at once: device time per phase and op, per step for
 * the denoising phase. */
static void profile_job(zt_model *m, const size_result *s, int steps, int json)
{
    FILE *f = json ? stderr : stdout;
    zt_err err = {0};
    if (zt_backend_profile(m->be, 1, &err) != ZT_OK) {
        zt_cli_fail("--profile: %s", err.msg);
        return;
    }
    zt_job_params p = {.prompt = BENCH_PROMPT, .width = s->w, .height = s->h, .steps = steps,
                       .seed = 1, .rng = ZT_RNG_CUDA};
    zt_timings tm;
    memset(&tm, 0, sizeof tm);
    uint8_t *rgb = NULL;
    zt_status st = zt_pipeline_run(m, &p, NULL, &rgb, &tm, &err);
    free(rgb);
    zt_backend_profile(m->be, 0, NULL);
    static zt_prof_row rows[256];
    int n = zt_backend_profile_read(m->be, rows, 256);
    if (st != ZT_OK) {
        zt_cli_fail("--profile job: %s", err.msg);
        return;
    }
    const char *phases[] = {"encode", "prepare", "step", "decode", "output"};
    fprintf(f,
            "\nop profile, %dx%d (device time from an event at each op to the next, so host "
            "time between ops counts to the op before; %.0f ms end to end)\n",
            s->w, s->h, tm.total_ms);
    for (size_t k = 0; k < sizeof phases / sizeof phases[0]; k++) {
        double sum = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(rows[i].phase, phases[k]))
                sum += rows[i].ms;
        if (sum <= 0)
            continue;
        int per_step = !strcmp(phases[k], "step");
        double div = per_step ? steps : 1;
        fprintf(f, "  %s: %.2f ms%s\n", phases[k], sum / div, per_step ? " a step" : "");
        for (int i = 0; i < n; i++)
            if (!strcmp(rows[i].phase, phases[k]))
                fprintf(f, "    %-12s %7d calls %9.3f ms %5.1f%%\n", rows[i].op,
                        (int)(rows[i].calls / div), rows[i].ms / div, 100 * rows[i].ms / sum);
    }
}

static double gib(size_t b)
{
    return (double)b / (1024.0 * 1024.0 * 1024.0);
}

/* 1 when added (0: out of memory) */
static int add_stat(cJSON *o, const char *key, stat2 v)
{
    cJSON *s = cJSON_AddObjectToObject(o, key);
    return s && cJSON_AddNumberToObject(s, "min", v.min) &&
           cJSON_AddNumberToObject(s, "median", v.med);
}

/* The FP8 blocks' attention is FP8 too (ZIMT_FP8_ATTENTION=1, backend.h). */
static int fp8_attention(const bench *b)
{
    return b->be->fp8 && b->be->fp8_attention;
}

/* One JSON object on stdout; the strings (a model path, a GPU's name) may
 * hold anything, so the text is cJSON's. n of the asked sizes were
 * measured: "complete" says whether that is all (a run stopped or refused
 * part-way read like a whole one but for its exit status). */
static int print_json(const char *dev, const char *gpu, const char *src, int steps, int runs,
                      stat2 load, size_t weights, const bench *b, const size_result *r, int n,
                      int asked)
{
    cJSON *o = cJSON_CreateObject(), *sizes = NULL;
    /* every field or no report: one missing would read as not measured */
    int ok = o && cJSON_AddStringToObject(o, "device", dev) &&
             cJSON_AddStringToObject(o, "gpu", gpu) && cJSON_AddStringToObject(o, "model", src) &&
             cJSON_AddStringToObject(o, "precision", b->precision) &&
             cJSON_AddBoolToObject(o, "fp8_attention", fp8_attention(b)) &&
             cJSON_AddNumberToObject(o, "steps", steps) &&
             cJSON_AddNumberToObject(o, "runs", runs) &&
             cJSON_AddNumberToObject(o, "sizes_asked", asked) &&
             cJSON_AddBoolToObject(o, "complete", n == asked) && add_stat(o, "load_ms", load) &&
             cJSON_AddNumberToObject(o, "load_peak_rss_bytes", (double)b->load_rss_kib * 1024) &&
             cJSON_AddNumberToObject(o, "weights_bytes", (double)weights) &&
             cJSON_AddNumberToObject(o, "device_total_bytes", (double)b->dev_total) &&
             cJSON_AddNumberToObject(o, "device_used_before_load_bytes", (double)b->dev_base) &&
             cJSON_AddNumberToObject(o, "zimt_lifetime_peak_bytes", (double)b->life_peak) &&
             (sizes = cJSON_AddArrayToObject(o, "sizes")) != NULL;
    for (int i = 0; ok && i < n; i++) {
        const size_result *s = &r[i];
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(sizes, e)) {
            cJSON_Delete(e);
            ok = 0;
            break;
        }
        ok = cJSON_AddNumberToObject(e, "width", s->w) &&
             cJSON_AddNumberToObject(e, "height", s->h) &&
             cJSON_AddNumberToObject(e, "prompt_tokens", s->tokens) &&
             add_stat(e, "encode_ms", s->encode) && add_stat(e, "step_ms", s->step) &&
             add_stat(e, "decode_ms", s->decode) && add_stat(e, "total_ms", s->total) &&
             cJSON_AddNumberToObject(e, "peak_device_used_bytes", (double)s->dev_peak) &&
             cJSON_AddNumberToObject(e, "peak_zimt_bytes", (double)s->own_peak) &&
             cJSON_AddNumberToObject(e, "arena_bytes", (double)s->arena);
    }
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        return zt_cli_fail("out of memory for the JSON report");
    printf("%s\n", text);
    free(text);
    return 0;
}

static void print_table(const char *dev, const char *gpu, const char *src, int steps, int runs,
                        stat2 load, size_t weights, const bench *b, const size_result *r, int n)
{
    printf("zimt bench: %s%s%s%s, %s, %s%s, %d steps, %d runs after a warm-up (min / median)\n",
           dev, gpu[0] ? " (" : "", gpu, gpu[0] ? ")" : "", src, b->precision,
           fp8_attention(b) ? " with FP8 attention" : "", steps, runs);
    char wb[32];
    printf("load: %.0f / %.0f ms, weights %s (%.0f MB/s at the median), peak resident "
           "host memory %.0f MiB\n\n",
           load.min, load.med, zt_bytes_text(wb, sizeof wb, weights),
           load.med > 0 ? weights / 1e3 / load.med : 0, b->load_rss_kib / 1024.0);
    /* the CPU backend's "device" is the host's memory */
    const int host = b->be->vt->host_memory != 0;
    printf("%-10s %6s %19s %19s %19s %21s %21s %s\n", "size", "tokens", "encode ms",
           "step ms", "decode ms", "end to end ms", host ? "peak host GiB" : "peak device GiB",
           "peak zimt GiB");
    for (int i = 0; i < n; i++) {
        const size_result *s = &r[i];
        char sz[32];
        snprintf(sz, sizeof sz, "%dx%d", s->w, s->h);
        printf("%-10s %6d %8.1f / %8.1f %8.1f / %8.1f %8.1f / %8.1f %9.1f / %9.1f %21.2f %13.2f\n",
               sz, s->tokens, s->encode.min, s->encode.med, s->step.min, s->step.med,
               s->decode.min, s->decode.med, s->total.min, s->total.med, gib(s->dev_peak),
               gib(s->own_peak));
    }
    if (host)
        printf("\npeak host: host memory in use (total - available) at the highest sample, other "
               "processes included (%.2f GiB in use before loading);\n",
               gib(b->dev_base));
    else
        printf("\npeak device: in use on the device (total - free) at the highest sample, "
               "context and other processes included (%.2f GiB in use before loading);\n",
               gib(b->dev_base));
    printf("peak zimt: what zimt held at once (weights + job arena + scratch and workspaces)\n");
}

int zt_cmd_bench(int argc, char **argv)
{
    const char *model = NULL, *device = "cuda", *precision = "bf16";
    int synthetic = 0, json = 0, profile = 0, steps = 8, runs = 3, n_sizes = 0;
    uint32_t seed = 0;
    int sizes[MAX_SIZES][2];
    zt_err err = {0};
    long v;
    const char *size_args[MAX_SIZES], *steps_arg = NULL, *runs_arg = NULL;
    const struct {
        const char *name;
        const char **val; /* NULL: --size, which repeats */
    } opts[] = {{"--model", &model}, {"--device", &device}, {"--precision", &precision},
                {"--size", NULL},    {"--steps", &steps_arg}, {"--runs", &runs_arg}};
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout);
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--profile")) {
            profile = 1;
        } else if (!strcmp(a, "--synthetic")) {
            synthetic = 1;
            if (next && next[0] >= '0' && next[0] <= '9') {
                if (zt_parse_int("--synthetic", next, 0, 4294967295L, &v, &err))
                    return zt_cli_error(&err);
                seed = (uint32_t)v;
                i++;
            }
        } else {
            /* the other options take a value; each is checked after the loop */
            int k = 0;
            while (k < nopts && strcmp(a, opts[k].name))
                k++;
            if (k == nopts) {
                zt_cli_fail("unknown option '%s'", a);
                return usage(stderr);
            }
            if (!next) {
                zt_cli_fail("%s: missing value (see zimt bench --help)", a);
                return 2; /* bad usage, as an unknown option */
            }
            if (opts[k].val)
                *opts[k].val = next;
            else if (n_sizes == MAX_SIZES)
                return zt_cli_fail("at most %d sizes", MAX_SIZES);
            else
                size_args[n_sizes++] = next;
            i++;
        }
    }
    if (strcmp(device, "cuda") && strcmp(device, "cpu"))
        return zt_cli_fail("--device must be cuda or cpu (got '%s')", device);
    if (strcmp(precision, "bf16") && strcmp(precision, "fp8"))
        return zt_cli_fail("--precision must be bf16 or fp8 (got '%s')", precision);
    for (int k = 0; k < n_sizes; k++)
        if (zt_parse_size(size_args[k], &sizes[k][0], &sizes[k][1], &err))
            return zt_cli_error(&err);
    if (steps_arg) {
        if (zt_parse_int("--steps", steps_arg, 1, ZT_STEPS_MAX, &v, &err))
            return zt_cli_error(&err);
        steps = (int)v;
    }
    if (runs_arg) {
        if (zt_parse_int("--runs", runs_arg, 1, MAX_RUNS, &v, &err))
            return zt_cli_error(&err);
        runs = (int)v;
    }
    size_t mem_limit = 0;
    if (zt_mem_limit_env(&mem_limit, &err))
        return zt_cli_error(&err);
    /* progress on a terminal only: a log keeps the table */
    const int tty = !json && isatty(2);
    if (model && synthetic)
        return zt_cli_fail("--model and --synthetic exclude each other");
    if (model && zt_model_dir_check(model, &err) != ZT_OK)
        return zt_cli_error(&err);
    if (!n_sizes)
        sizes[0][0] = sizes[0][1] = 1024, n_sizes = 1;

    char tokbuf[4096];
    const char *tok = model ? NULL : zt_cli_bundled_tokenizer(tokbuf, sizeof tokbuf);
    if (!model && !tok)
        return zt_cli_fail("--synthetic needs the Qwen3 tokenizer (%s) and it was not found",
                           ZT_BUNDLED_TOKENIZER);

    zt_cli_catch_stop();
    bench b = {0};
    zt_status st = !strcmp(device, "cuda") ? zt_backend_cuda_new(&b.be, 0, &err)
                                           : zt_backend_cpu_new(&b.be, 0, &err);
    if (st)
        return zt_cli_error(&err);
    /* --profile on a backend without one: a warning before the runs (it
     * read as an error after them); the timings still come */
    if (profile && zt_backend_profile(b.be, 1, &err) != ZT_OK) {
        zt_cli_fail("warning: --profile: %s; the timings come without it", err.msg);
        profile = 0;
    } else if (profile) {
        zt_backend_profile(b.be, 0, NULL);
    }
    /* the CPU backend computes in F32 whatever was asked (said as gen says
     * it for fp8): its fp8 flag stays off, as gen leaves it, so what is
     * measured is what the table's label says */
    b.be->fp8 = !b.be->vt->host_memory && !strcmp(precision, "fp8");
    if (b.be->vt->host_memory && !strcmp(precision, "fp8"))
        fprintf(stderr, "zimt: warning: --precision fp8 applies on CUDA; the CPU computes in "
                        "F32\n");
    b.precision = b.be->vt->host_memory ? "fp32" : precision;
    char gpu[256] = "";
    if (!strcmp(device, "cuda"))
        gpu_name(gpu, sizeof gpu);
    sample(&b);
    b.dev_base = b.dev_peak;

    /* loads: a warm-up, then `runs`; the last stays */
    double load_ms[MAX_RUNS];
    zt_model *m = NULL;
    for (int r = 0; r <= runs; r++) {
        zt_model_free(m);
        m = NULL;
        double t0 = zt_now_ms();
        if ((st = open_model(&m, b.be, model, seed, tok, &err)) ||
            (st = zt_backend_sync(b.be, &err))) {
            zt_model_free(m);
            zt_backend_free(b.be);
            if (zt_cli_stop) {
                if (tty)
                    fputc('\n', stderr);
                zt_cli_fail("interrupted while loading; nothing measured");
                return 128 + zt_cli_stop;
            }
            return zt_cli_error(&err);
        }
        if (r > 0)
            load_ms[r - 1] = zt_now_ms() - t0;
        if (tty)
            fprintf(stderr, "\rloaded %d of %d", r + 1, runs + 1);
    }
    if (tty)
        fputc('\n', stderr);
    stat2 load = stats(load_ms, runs);
    size_t weights = zt_model_weight_bytes(m);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        b.load_rss_kib = ru.ru_maxrss;
    sample(&b);

    size_result res[MAX_SIZES];
    memset(res, 0, sizeof res);
    /* done: the sizes measured; a size that fails ends the runs, and the
     * table still reports the sizes before it */
    int done = 0;
    zt_err fail = {0};
    for (int si = 0; si < n_sizes && !fail.code; si++) {
        size_result *s = &res[si];
        s->w = sizes[si][0];
        s->h = sizes[si][1];
        double enc[MAX_RUNS], step[MAX_RUNS], dec[MAX_RUNS], tot[MAX_RUNS];
        b.dev_peak = b.own_peak = 0;
        for (int r = 0; r <= runs; r++) {
            /* a new prompt each job, same length: digits are single tokens */
            char prompt[512];
            snprintf(prompt, sizeof prompt, "%s, take %d%d", BENCH_PROMPT, si % 10, r % 10);
            zt_job_params p = {.prompt = prompt, .width = s->w, .height = s->h,
                               .steps = steps, .seed = (uint64_t)r, .rng = ZT_RNG_CUDA};
            zt_run_hooks hk = {.on_step = on_step, .stop = stopped, .ud = &b};
            zt_timings tm;
            memset(&tm, 0, sizeof tm);
            uint8_t *rgb = NULL;
            if (r == 0 && zt_model_check_fit(m, &p, mem_limit, &fail))
                break; /* its message names the size */
            if (zt_pipeline_run(m, &p, &hk, &rgb, &tm, &fail) || zt_cli_stop) {
                free(rgb);
                char why[sizeof fail.msg];
                snprintf(why, sizeof why, "%s", fail.msg);
                if (zt_cli_stop)
                    zt_fail(&fail, ZT_ERR_CANCELLED, "interrupted while measuring %dx%d", s->w,
                            s->h);
                else
                    snprintf(fail.msg, sizeof fail.msg, "%dx%d: %.480s", s->w, s->h, why);
                break;
            }
            free(rgb);
            sample(&b);
            if (tty)
                fprintf(stderr, "\r%dx%d: job %d of %d, %.0f ms%s", s->w, s->h, r + 1, runs + 1,
                        tm.total_ms, r == 0 ? " (warm-up)" : "          ");
            if (r == 0)
                continue;
            double st_ms[ZT_STEPS_MAX];
            memcpy(st_ms, tm.step_ms, (size_t)tm.steps * sizeof *st_ms);
            enc[r - 1] = tm.encode_ms;
            step[r - 1] = stats(st_ms, tm.steps).med;
            dec[r - 1] = tm.decode_ms;
            tot[r - 1] = tm.total_ms;
            s->tokens = tm.prompt_tokens;
        }
        if (tty)
            fputc('\n', stderr);
        if (fail.code)
            break;
        if (profile && !zt_cli_stop)
            profile_job(m, s, steps, json);
        s->encode = stats(enc, runs);
        s->step = stats(step, runs);
        s->decode = stats(dec, runs);
        s->total = stats(tot, runs);
        s->dev_peak = b.dev_peak;
        s->arena = m->arena.cap;
        s->own_peak = b.own_peak;
        if (!s->own_peak) /* a backend that does not count: weights + arena */
            s->own_peak = weights + s->arena;
        done++;
    }
    size_t now_b;
    zt_backend_mem_usage(b.be, &now_b, &b.life_peak);
    for (int i = 0; i < done; i++) /* a backend that does not count: the sizes' peaks */
        if (res[i].own_peak > b.life_peak)
            b.life_peak = res[i].own_peak;
    int rc = 0;
    if (done) {
        char src[64];
        if (model)
            snprintf(src, sizeof src, "model folder");
        else
            snprintf(src, sizeof src, "synthetic seed %u", (unsigned)seed);
        if (json)
            rc = print_json(device, gpu, model ? model : src, steps, runs, load, weights, &b, res,
                            done, n_sizes);
        else
            print_table(device, gpu, model ? model : src, steps, runs, load, weights, &b, res,
                        done);
    }
    if (fail.code) {
        zt_cli_flush();
        zt_cli_fail("%s%s", fail.msg, done ? " (the sizes before it are reported above)" : "");
        rc = zt_cli_stop ? 128 + zt_cli_stop : 1;
    }
    zt_model_free(m);
    zt_backend_free(b.be);
    return rc;
}
