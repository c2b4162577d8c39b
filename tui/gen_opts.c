/* gen_opts.c - command-line generation settings (see gen_opts.h). */
#include "gen_opts.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "outpath.h"
#include "tokenizer.h"

/* Whether s starts as a number written here does: a digit, or '-' (strtol
 * would also skip spaces and take a '+'). */
static int starts_number(const char *s)
{
    return (*s >= '0' && *s <= '9') || *s == '-';
}

zt_status zt_parse_int(const char *what, const char *s, long lo, long hi, long *out, zt_err *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!starts_number(s) || *end || (errno && errno != ERANGE))
        return zt_fail(err, ZT_ERR_INVALID, "%s: '%s' is not a whole number", what, s);
    if (errno == ERANGE) /* a whole number, past any limit */
        return zt_fail(err, ZT_ERR_INVALID, "%s must be between %ld and %ld (got %s)", what, lo,
                       hi, s);
    if (v < lo || v > hi)
        return zt_fail(err, ZT_ERR_INVALID, "%s must be between %ld and %ld (got %ld)", what, lo,
                       hi, v);
    *out = v;
    return ZT_OK;
}

zt_status zt_parse_device(const char *device, zt_err *err)
{
    if (strcmp(device, "auto") && strcmp(device, "cpu") && strcmp(device, "cuda"))
        return zt_fail(err, ZT_ERR_INVALID, "device '%s': use auto, cpu or cuda", device);
    return ZT_OK;
}

zt_status zt_parse_float(const char *what, const char *s, float lo, float hi, float *out,
                         zt_err *err)
{
    char *end;
    errno = 0;
    float v = zt_strtof_c(s, &end);
    /* decimal only: strtof also takes hex ("0x10" is 16), "inf", "nan"
     * and leading blanks, none of which anyone means as a guidance */
    if (!*s || *end || (errno && errno != ERANGE) || isnan(v) ||
        s[strspn(s, "+-.0123456789eE")])
        return zt_fail(err, ZT_ERR_INVALID, "%s: '%s' is not a number", what, s);
    /* ERANGE: past a float's range (inf, refused below) or under it, where
     * the value strtof gives (0 or the nearest subnormal) is taken */
    if (isinf(v))
        return zt_fail(err, ZT_ERR_INVALID, "%s must be between %g and %g (got %s)", what, lo,
                       hi, s);
    /* the text as given: 100.00001 is a float past 100 that %g prints as
     * "100", which read as a refusal of 100 itself */
    if (v < lo || v > hi)
        return zt_fail(err, ZT_ERR_INVALID, "%s must be between %g and %g (got %s)", what, lo, hi,
                       s);
    *out = v == 0 ? 0.0f : v; /* -0 is 0: shown and written without its sign */
    return ZT_OK;
}

zt_status zt_parse_size(const char *s, int *w, int *h, zt_err *err)
{
    char *end;
    errno = 0;
    /* (a negative side is refused below, with the nearest size) */
    long a = strtol(s, &end, 10);
    if (!starts_number(s) || end == s || (*end != 'x' && *end != 'X') || errno)
        return zt_fail(err, ZT_ERR_INVALID, "size '%s' is not WIDTHxHEIGHT (e.g. 1024x768)", s);
    const char *p = end + 1;
    errno = 0;
    long b = strtol(p, &end, 10);
    if (!starts_number(p) || end == p || *end || errno)
        return zt_fail(err, ZT_ERR_INVALID, "size '%s' is not WIDTHxHEIGHT (e.g. 1024x768)", s);
    zt_status st = zt_size_check(a, b, err);
    if (st != ZT_OK)
        return st;
    *w = (int)a;
    *h = (int)b;
    return ZT_OK;
}

zt_status zt_parse_seed(const char *s, uint64_t *seed, int *random, zt_err *err)
{
    *random = 0;
    if (!strcmp(s, "-1") || !strcmp(s, "random")) {
        *random = 1;
        return ZT_OK;
    }
    if (!*s || *s == '-' || *s == '+')
        return zt_fail(err, ZT_ERR_INVALID,
                       "seed '%s' is not valid: use 0 to 18446744073709551615, or -1 for random",
                       s);
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return zt_fail(err, ZT_ERR_INVALID,
                           "seed '%s' is not a number: use 0 to 18446744073709551615, or -1 for "
                           "random",
                           s);
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno)
        return zt_fail(err, ZT_ERR_INVALID, "seed '%s' is larger than 18446744073709551615", s);
    *seed = (uint64_t)v;
    return ZT_OK;
}

uint64_t zt_random_seed(void)
{
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
            v = 0;
        close(fd);
    }
    if (!v)
        v = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    /* Keep seeds short enough to type: 32 bits, like most front ends. */
    return v & 0xffffffffu;
}

zt_status zt_gen_opts_parse(zt_gen_opts *o, int argc, char **argv, zt_err *err)
{
    memset(o, 0, sizeof *o);
    static const struct {
        const char *name;
        size_t off;
    } valued[] = {
        {"--model", offsetof(zt_gen_opts, model)},   {"--prompt", offsetof(zt_gen_opts, prompt)},
        {"--negative", offsetof(zt_gen_opts, negative)}, {"--size", offsetof(zt_gen_opts, size)},
        {"--steps", offsetof(zt_gen_opts, steps)},   {"--seed", offsetof(zt_gen_opts, seed)},
        {"--guidance", offsetof(zt_gen_opts, guidance)}, {"--rng", offsetof(zt_gen_opts, rng)},
        {"--device", offsetof(zt_gen_opts, device)}, {"--from", offsetof(zt_gen_opts, from)},
        {"-o", offsetof(zt_gen_opts, output)},       {"--output", offsetof(zt_gen_opts, output)},
        {"--count", offsetof(zt_gen_opts, count)},   {"--jobs", offsetof(zt_gen_opts, jobs)},
        {"--outdir", offsetof(zt_gen_opts, outdir)}, {"--name", offsetof(zt_gen_opts, name)},
        {"--precision", offsetof(zt_gen_opts, precision)},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
            continue;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--synthetic")) {
            /* an optional seed: the next argument when it is a number */
            o->synthetic = 1;
            if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
                o->synth_seed = argv[++i];
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof valued / sizeof valued[0]; k++)
            if (!strcmp(a, valued[k].name))
                break;
        if (k == sizeof valued / sizeof valued[0])
            return zt_fail(err, ZT_ERR_INVALID, "unknown option '%s'", a);
        if (i + 1 >= argc)
            return zt_fail(err, ZT_ERR_INVALID, "option %s needs a value", a);
        const char **slot = (const char **)((char *)o + valued[k].off);
        /* Given again, an option's last value counts (a script's defaults
         * can be overridden), except where each would be expected to add
         * jobs: the earlier prompt or jobs file would be dropped unseen. */
        if (*slot && (!strcmp(a, "--prompt") || !strcmp(a, "--jobs") || !strcmp(a, "--from")))
            return zt_fail(err, ZT_ERR_INVALID,
                           "%s given twice ('%.60s', then '%.60s'): a run takes one; for several "
                           "prompts, give a jobs file with --jobs",
                           a, *slot, argv[i + 1]);
        *slot = argv[++i];
        if (!strcmp(a, "--seed")) {
            if (o->n_seeds == (int)(sizeof o->seeds / sizeof o->seeds[0]))
                return zt_fail(err, ZT_ERR_INVALID, "too many --seed values (at most %d)",
                               o->n_seeds);
            o->seeds[o->n_seeds++] = argv[i];
        }
    }
    return ZT_OK;
}

static zt_status check_text(const char *what, const char *s, zt_err *err)
{
    size_t bad;
    if (!zt_utf8_validate(s, strlen(s), &bad))
        return zt_fail(err, ZT_ERR_UTF8, "%s is not valid UTF-8 (bad byte at offset %zu)", what,
                       bad);
    return ZT_OK;
}

/* The output must not exist and its directory must be writable, so that a
 * long run never ends in an error it could have reported at once. */
zt_status zt_check_output(const char *path, zt_err *err)
{
    struct stat stt;
    if (!*path)
        return zt_fail(err, ZT_ERR_INVALID, "empty output path");
    /* Images are always PNG: a name that says otherwise would mislead
     * whatever opens it later. A name without an extension is taken as is. */
    const char *base = strrchr(path, '/'), *dot;
    base = base ? base + 1 : path;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return zt_fail(err, ZT_ERR_INVALID, "%s names a directory; give a file name such as %s%s",
                       path, path, base[0] ? "/image.png" : "image.png");
    if ((dot = strrchr(base, '.')) && dot != base && strcasecmp(dot, ".png") != 0)
        return zt_fail(err, ZT_ERR_INVALID,
                       "%s: zimt writes PNG images; give the name a .png extension", path);
    if (lstat(path, &stt) == 0)
        return zt_fail(err, ZT_ERR_EXISTS, "%s already exists; not overwriting it", path);
    if (errno != ENOENT) /* a name too long, a path through a file, ... */
        return zt_fail(err, ZT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (stat(dir, &stt) != 0 || !S_ISDIR(stt.st_mode))
        return zt_fail(err, ZT_ERR_IO, "cannot write %s: directory %s does not exist", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return zt_fail(err, ZT_ERR_IO, "cannot write %s: directory %s is not writable (%s)", path,
                       dir, strerror(errno));
    return ZT_OK;
}

/* "4G", "512M", "1073741824": a byte count with an optional K/M/G/T
 * (binary) suffix. */
static zt_status parse_bytes(const char *what, const char *s, size_t *out, zt_err *err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    else if (*end == 'T' || *end == 't')
        shift = 40;
    if (shift)
        end++;
    if (end == s || *end || errno || *s == '-' || v == 0 || v > (SIZE_MAX >> shift))
        return zt_fail(err, ZT_ERR_INVALID,
                       "%s: '%s' is not a byte count (e.g. 8G, 512M or 1073741824)", what, s);
    *out = (size_t)(v << shift);
    return ZT_OK;
}

zt_status zt_mem_limit_env(size_t *limit, zt_err *err)
{
    const char *s = getenv("ZIMT_MEM_LIMIT");
    *limit = 0;
    return s && *s ? parse_bytes("ZIMT_MEM_LIMIT", s, limit, err) : ZT_OK;
}

zt_status zt_gen_opts_template_path(const zt_gen_opts *o, const zt_gen_params *p, int index,
                                    int (*taken)(const char *path, void *ud), void *ud,
                                    zt_name_hint *hint, char *out, size_t cap, zt_err *err)
{
    zt_outpath_vars v = {
        .prompt = p->prompt,
        .seed = p->seed,
        .index = index,
        .width = p->width,
        .height = p->height,
        .when = o->when,
    };
    char name[1024];
    zt_status st = zt_outpath_expand(o->name ? o->name : ZT_OUTPATH_TEMPLATE, &v, name,
                                     sizeof name, err);
    if (st)
        return st;
    int k = hint && !strcmp(hint->name, name) ? hint->k + 1 : 1;
    if ((st = zt_outpath_resolve_unique(o->outdir ? o->outdir : ".", name, taken, ud, &k, out, cap,
                                        err)))
        return st;
    if (hint) {
        snprintf(hint->name, sizeof hint->name, "%s", name);
        hint->k = k;
    }
    return ZT_OK;
}

zt_status zt_gen_opts_resolve(zt_gen_opts *o, zt_err *err)
{
    zt_status st;
    zt_gen_params *p = &o->params;
    if ((st = zt_gen_params_init(p)))
        return zt_fail(err, st, "out of memory");
    p->width = p->height = 1024;
    p->steps = 8;
    p->guidance = 0.0f;
    snprintf(p->rng, sizeof p->rng, "cuda");
    snprintf(p->sampler, sizeof p->sampler, "Euler");
    snprintf(p->model, sizeof p->model, "Z-Image-Turbo");
    int have_seed = 0;
    o->when = time(NULL);
    if ((st = zt_mem_limit_env(&o->mem_limit, err)))
        return st;
    /* mixes of options that cannot go together are bad usage, as an
     * unknown option is; values out of range are errors */
    o->bad_usage = 1;
    if (o->output && o->name)
        return zt_fail(err, ZT_ERR_INVALID, "give -o FILE or --name TEMPLATE, not both");
    /* options that would otherwise be dropped without a word */
    if (o->output && o->outdir && !o->jobs)
        return zt_fail(err, ZT_ERR_INVALID,
                       "give -o FILE or --outdir DIR, not both (--outdir holds the names "
                       "a --jobs file gives)");
    if (o->n_seeds > 1 && o->count)
        return zt_fail(err, ZT_ERR_INVALID,
                       "give several --seed or --count, not both (each --seed is one job)");
    if (o->jobs && (o->count || o->n_seeds > 1))
        return zt_fail(err, ZT_ERR_INVALID,
                       "--jobs makes one job a line: it takes no --count and at most one "
                       "--seed (for lines without a seed)");
    if (!o->prompt && !o->from && !o->jobs)
        return zt_fail(err, ZT_ERR_INVALID, "no prompt: give --prompt TEXT (or --from PNG)");
    if (o->synthetic && o->model)
        return zt_fail(err, ZT_ERR_INVALID, "--model and --synthetic exclude each other");
    o->bad_usage = 0;

    if (o->from) {
        uint8_t *rgb = NULL;
        int w, h, has = 0;
        if ((st = zt_png_read(o->from, &rgb, &w, &h, p, &has, err)))
            return st;
        free(rgb);
        if (has & ZT_PNG_PARAMS_FALLBACK)
            snprintf(o->from_note, sizeof o->from_note, "%s", err->msg);
        if (!has)
            return zt_fail(err, ZT_ERR_MISSING, "%s carries no generation settings", o->from);
        /* the settings are taken, not the source's sampler and model names:
         * this image is made by this model with this sampler */
        snprintf(p->sampler, sizeof p->sampler, "Euler");
        snprintf(p->model, sizeof p->model, "Z-Image-Turbo");
        /* a text without a seed: drawn as without --seed (its 0 made one
         * image for every such file), and said unless --seed gives one */
        have_seed = !(has & ZT_PNG_PARAMS_NO_SEED);
        size_t k = strlen(o->from_note);
        if (!have_seed && !o->seed)
            snprintf(o->from_note + k, sizeof o->from_note - k,
                     "%s%s gives no seed; a random one is drawn", k ? "; " : "", o->from);
    }
    if (o->prompt && (st = zt_gen_params_set_prompt(p, o->prompt, err)))
        return st;
    if (o->negative && (st = zt_gen_params_set_negative(p, o->negative, err)))
        return st;
    if ((st = check_text("the prompt", p->prompt, err)) ||
        (st = check_text("the negative prompt", p->negative_prompt, err)))
        return st;
    if (o->size && (st = zt_parse_size(o->size, &p->width, &p->height, err)))
        return st;
    long v;
    if (o->steps) {
        if ((st = zt_parse_int("steps", o->steps, 1, ZT_STEPS_MAX, &v, err)))
            return st;
        p->steps = (int)v;
    }
    if (o->guidance &&
        (st = zt_parse_float("guidance", o->guidance, 0.0f, ZT_GUIDANCE_MAX, &p->guidance, err)))
        return st;
    if (o->seed) {
        int rnd;
        if ((st = zt_parse_seed(o->seed, &p->seed, &rnd, err)))
            return st;
        have_seed = !rnd;
    }
    if (!have_seed)
        p->seed = zt_random_seed();
    o->seed_random = !have_seed;
    if (o->rng)
        snprintf(p->rng, sizeof p->rng, "%s", o->rng);
    if ((st = zt_rng_kind_parse(p->rng, &o->rng_kind, err)))
        return o->from && !o->rng ? zt_err_prefix(err, "%s", o->from) : st;
    /* what a PNG's settings brought in is checked here too, not after the
     * model has loaded */
    if ((st = zt_gen_params_check_values(p, err)))
        return o->from ? zt_err_prefix(err, "%s", o->from) : st;
    if ((st = zt_precision_parse(o->precision, &o->precision_v, err)))
        return st;
    if (o->device && (st = zt_parse_device(o->device, err)))
        return st;
    if (o->synthetic) {
        /* full-size synthetic weights made on the device: no model folder */
        if (o->synth_seed) {
            if ((st = zt_parse_int("--synthetic seed", o->synth_seed, 0, 4294967295L, &v, err)))
                return st;
            o->synth_seed_v = (uint32_t)v;
        }
        if (!zt_cli_bundled_tokenizer(o->tokenizer, sizeof o->tokenizer))
            return zt_fail(err, ZT_ERR_MISSING,
                           "--synthetic needs the Qwen3 tokenizer (%s) and it was not found",
                           ZT_BUNDLED_TOKENIZER);
    }
    /* --model, $ZIMT_MODEL, then the download caches; the bundled tiny model
     * only when none holds a complete model and none was named (a --model
     * that is not a directory is said now, not after the engine started). */
    if (!o->synthetic &&
        (st = zt_cli_model(o->model, o->model_dir, sizeof o->model_dir, o->quiet, NULL, err)))
        return st;

    /* last, so that only a run whose other settings hold makes it; the
     * names are then checked inside it */
    if (o->outdir &&
        (st = zt_outpath_make_dir(o->outdir, o->outdir_made, sizeof o->outdir_made, err)))
        return st;
    if (o->n_seeds > 1 || o->count || o->jobs)
        return ZT_OK; /* a batch names and checks its outputs per job */
    if (o->output) {
        o->output_path = o->output; /* the user's own path: anywhere they say */
    } else {
        if ((st = zt_gen_opts_template_path(o, p, 1, NULL, NULL, NULL, o->output_buf,
                                            sizeof o->output_buf, err)))
            return st;
        o->output_path = o->output_buf;
    }
    return zt_check_output(o->output_path, err);
}

void zt_gen_opts_free(zt_gen_opts *o)
{
    zt_gen_params_free(&o->params);
}

