/*
 * cmd_gen.c - zimt gen: headless, scriptable generation through the engine.
 *
 *   zimt gen [--model DIR] --prompt TEXT [--negative TEXT] [--size WxH]
 *            [--steps N] [--seed S]... [--count N] [--jobs FILE.jsonl|-]
 *            [--guidance G] [--rng cuda|cpu] [--device auto|cpu|cuda]
 *            [--from PNG] [-o FILE | --outdir DIR [--name TEMPLATE]]
 *            [--json] [--quiet]
 *
 * Without -o, names come from TEMPLATE (default "{date}-{seed}-{slug}.png",
 * see outpath.h) inside --outdir, which is made when missing; "output"
 * entries of a jobs file are names inside --outdir too, their
 * subdirectories made as needed. Neither may leave that directory. -o is
 * the user's own path and may be anywhere. $ZIMT_MEM_LIMIT (bytes, or 8G, 512M)
 * makes the engine plan against that much memory instead of the device's.
 *
 * Every setting and every output path is checked before the model loads,
 * so a typo costs no time. One PNG per job, written atomically and never
 * over an existing file; an image that cannot be written there is kept
 * under $TMPDIR instead. Ctrl-C (or SIGTERM/SIGHUP) cancels: finished
 * images are kept, the running one is not written (on the CPU it stops
 * within one op); a second one leaves at once instead of at the end of the
 * running step.
 */
#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "engine.h"
#include "gen_opts.h"
#include "image.h"
#include "json.h"
#include "outpath.h"
#include "ui_text.h"

#define MAX_JOBS 10000

typedef struct gen_job {
    zt_gen_params params;
    char path[4096];
    uint64_t id;
    int done;
    /* directories made for a jobs line's output ("sub/x.png"): the deepest
     * and the outermost, taken back if the run is refused; NULL when none
     * were made (owned) */
    char *made_dir, *made_top;
    int line; /* its line in the jobs file, 0 when not from one */
} gen_job;

/* How messages name the jobs file. */
static const char *jobs_name(const zt_gen_opts *o)
{
    return !strcmp(o->jobs, "-") ? "stdin" : o->jobs;
}

/* How messages name job i: by its jobs file's line, else by number. */
static const char *job_name(const zt_gen_opts *o, const gen_job *j, int i, char *buf,
                            size_t n)
{
    if (j->line)
        snprintf(buf, n, "%s line %d", jobs_name(o), j->line);
    else
        snprintf(buf, n, "job %d", i + 1);
    return buf;
}

/* Takes back the directories made for a refused run, or left empty by the
 * run: the jobs' own, the latest first (a later job's may lie inside an
 * earlier one's), then a --outdir made for it. Only empty ones go. */
static void unmake_dirs(const zt_gen_opts *o, gen_job *js, int n)
{
    for (int i = n - 1; i >= 0; i--)
        if (js[i].made_top)
            zt_outpath_unmake_dir(js[i].made_dir, js[i].made_top);
    zt_outpath_unmake_dir(o->outdir, o->outdir_made);
}

static void usage(FILE *f)
{
    fputs("usage: zimt gen [--model DIR | --synthetic [SEED]] --prompt TEXT [--negative TEXT]\n"
          "                [--size WxH] [--steps N] [--seed S]... [--count N] [--jobs FILE.jsonl|-]\n"
          "                [--guidance G] [--rng cuda|cpu] [--device auto|cpu|cuda]\n"
          "                [--precision auto|bf16|fp32|fp8] [--from PNG]\n"
          "                [-o FILE | --outdir DIR [--name TEMPLATE]] [--json] [--quiet]\n"
          "TEMPLATE fields: {date} {seed} {slug} {n} {w} {h}; default {date}-{seed}-{slug}.png\n",
          f);
}

/* Two output paths name the same file: "x.png", "./x.png" and "o/../x.png"
 * do. Their directories exist by now (zt_check_output), so they are
 * compared with links resolved, and then the last components. */
static int same_output(const char *a, const char *b)
{
    if (!strcmp(a, b))
        return 1;
    const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
    const char *ba = sa ? sa + 1 : a, *bb = sb ? sb + 1 : b;
    if (strcmp(ba, bb))
        return 0;
    char da[PATH_MAX], db[PATH_MAX], ra[PATH_MAX], rb[PATH_MAX];
    snprintf(da, sizeof da, "%.*s", sa ? (int)(sa - a) + 1 : 1, sa ? a : ".");
    snprintf(db, sizeof db, "%.*s", sb ? (int)(sb - b) + 1 : 1, sb ? b : ".");
    return realpath(da, ra) && realpath(db, rb) && !strcmp(ra, rb);
}

/* The paths a batch's job may not take, reserved before any file exists:
 * the earlier jobs' and every job's own name from a jobs file, later lines'
 * too (js[k].path is "" for a later job whose name is still to be made). */
typedef struct other_jobs {
    const gen_job *js;
    int n, self;
} other_jobs;

static int taken_by_others(const char *path, void *ud)
{
    const other_jobs *e = ud;
    for (int k = 0; k < e->n; k++)
        if (k != e->self && e->js[k].path[0] && same_output(e->js[k].path, path))
            return 1;
    return 0;
}

/* Override base settings with one JSON-lines job. */
static zt_status job_from_json(gen_job *j, const cJSON *o, const char *outdir, const char *where,
                               zt_err *err)
{
    zt_status st;
    const cJSON *v;
    if (!cJSON_IsObject(o))
        return zt_fail(err, ZT_ERR_FORMAT, "%s: not a JSON object", where);
    /* a key zimt does not know (a typo, "width") must not be dropped quietly */
    static const char *keys[] = {"prompt", "negative", "negative_prompt", "size", "steps",
                                 "guidance", "seed", "rng", "output"};
    cJSON_ArrayForEach(v, o)
    {
        size_t k = 0;
        while (k < sizeof keys / sizeof *keys && strcmp(v->string, keys[k]))
            k++;
        if (k == sizeof keys / sizeof *keys)
            return zt_fail(err, ZT_ERR_FORMAT,
                           "%s: unknown key \"%.40s\" (known: prompt, negative or "
                           "negative_prompt, size, steps, guidance, seed, rng, output)",
                           where, v->string);
    }
    const char *dup = zt_json_dup_key(o); /* the first would be taken */
    if (dup)
        return zt_fail(err, ZT_ERR_FORMAT, "%s: \"%s\" given twice", where, dup);
    if (cJSON_GetObjectItem(o, "negative") && cJSON_GetObjectItem(o, "negative_prompt"))
        return zt_fail(err, ZT_ERR_FORMAT,
                       "%s: \"negative\" and \"negative_prompt\" both given (one negative prompt)",
                       where);
    if ((v = cJSON_GetObjectItem(o, "prompt"))) {
        if (!cJSON_IsString(v))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: \"prompt\" must be a string", where);
        if ((st = zt_gen_params_set_prompt(&j->params, v->valuestring, err)))
            return st;
    }
    if ((v = cJSON_GetObjectItem(o, "negative_prompt")) || (v = cJSON_GetObjectItem(o, "negative"))) {
        if (!cJSON_IsString(v))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: \"negative\" must be a string", where);
        if ((st = zt_gen_params_set_negative(&j->params, v->valuestring, err)))
            return st;
    }
    if ((v = cJSON_GetObjectItem(o, "size"))) {
        if (!cJSON_IsString(v))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: \"size\" must be a string like \"1024x768\"", where);
        if ((st = zt_parse_size(v->valuestring, &j->params.width, &j->params.height, err)))
            return zt_err_prefix(err, "%s", where);
    }
    if ((v = cJSON_GetObjectItem(o, "steps"))) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1 && v->valuedouble <= ZT_STEPS_MAX) ||
            v->valuedouble != (int)v->valuedouble)
            return zt_fail(err, ZT_ERR_FORMAT, "%s: \"steps\" must be a whole number 1..%d", where,
                           ZT_STEPS_MAX);
        j->params.steps = v->valueint;
    }
    if ((v = cJSON_GetObjectItem(o, "guidance"))) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= ZT_GUIDANCE_MAX))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: \"guidance\" must be a number 0..%g", where,
                           ZT_GUIDANCE_MAX);
        j->params.guidance = (float)v->valuedouble;
    }
    if ((v = cJSON_GetObjectItem(o, "seed"))) {
        char buf[64];
        double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
        if (cJSON_IsString(v))
            snprintf(buf, sizeof buf, "%s", v->valuestring);
        else if (!cJSON_IsNumber(v))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: \"seed\" must be a number or a string", where);
        else if (d != floor(d))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: \"seed\" %g is not a whole number", where, d);
        else if (d >= 9007199254740992.0)
            /* a JSON number this large has lost its last digits already */
            return zt_fail(err, ZT_ERR_FORMAT,
                           "%s: \"seed\" from 2^53 up must be a string, as in \"seed\": "
                           "\"18446744073709551615\"",
                           where);
        else
            snprintf(buf, sizeof buf, "%.0f", d); /* -1: random, as on the command line */
        int rnd;
        if ((st = zt_parse_seed(buf, &j->params.seed, &rnd, err)))
            return zt_err_prefix(err, "%s", where);
        if (rnd)
            j->params.seed = zt_random_seed();
    }
    if ((v = cJSON_GetObjectItem(o, "rng"))) {
        zt_rng_kind k;
        if (!cJSON_IsString(v) || (st = zt_rng_kind_parse(v->valuestring, &k, err)))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: \"rng\" must be \"cuda\" or \"cpu\"", where);
        snprintf(j->params.rng, sizeof j->params.rng, "%s", v->valuestring);
    }
    if ((v = cJSON_GetObjectItem(o, "output"))) {
        if (!cJSON_IsString(v))
            return zt_fail(err, ZT_ERR_FORMAT, "%s: \"output\" must be a string", where);
        /* A name inside --outdir: a jobs file may come from anywhere, so it
         * never chooses where on disk a file lands. Its subdirectories are
         * made, inside --outdir only. */
        const char *dir = outdir ? outdir : ".", *name = v->valuestring;
        char made[4096], sub[4096];
        if ((st = zt_outpath_make_subdir(dir, name, made, sizeof made, err)))
            return zt_err_prefix(err, "%s", where);
        if (made[0]) {
            const char *slash = strrchr(name, '/');
            snprintf(sub, sizeof sub, "%s/%.*s", dir, (int)(slash - name), name);
            j->made_dir = strdup(sub);
            j->made_top = strdup(made);
            if (!j->made_dir || !j->made_top) {
                zt_outpath_unmake_dir(sub, made);
                free(j->made_dir);
                free(j->made_top);
                j->made_dir = j->made_top = NULL;
                return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
            }
        }
        if ((st = zt_outpath_resolve(dir, name, 0, j->path, sizeof j->path, err)))
            return zt_err_prefix(err, "%s", where);
    }
    return ZT_OK;
}

static zt_status read_jobs(const zt_gen_opts *o, gen_job **jobs, int *n, zt_err *err)
{
    char *text = NULL;
    size_t len;
    /* "-": the jobs come on stdin, read whole before anything runs */
    const int from_stdin = !strcmp(o->jobs, "-");
    const char *name = jobs_name(o);
    zt_status st = from_stdin ? zt_read_stream(stdin, name, 64u << 20, &text, &len, err)
                              : zt_read_file(o->jobs, 64u << 20, &text, &len, err);
    if (st)
        return st;
    int cap = 16, count = 0, line_no = 0;
    gen_job *js = calloc((size_t)cap, sizeof *js);
    /* Lines by hand: every line counts for the numbers in messages, and a
     * NUL byte must not end the file early. */
    char *next = text, *end = text + len;
    while (js && next < end) {
        char *line = next, *nl = memchr(line, '\n', (size_t)(end - line));
        next = nl ? nl + 1 : end;
        if (nl)
            *nl = 0;
        line_no++;
        if (strlen(line) != (size_t)((nl ? nl : end) - line)) {
            st = zt_fail(err, ZT_ERR_FORMAT, "%s line %d: contains a NUL byte", name, line_no);
            break;
        }
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        if (!*line || *line == '#')
            continue;
        if (count == MAX_JOBS) {
            st = zt_fail(err, ZT_ERR_INVALID, "%s: more than %d jobs", name, MAX_JOBS);
            break;
        }
        if (count == cap) {
            gen_job *g = realloc(js, (size_t)cap * 2 * sizeof *g);
            if (!g) {
                st = zt_fail(err, ZT_ERR_NOMEM, "out of memory");
                break;
            }
            memset(g + cap, 0, (size_t)cap * sizeof *g);
            js = g;
            cap *= 2;
        }
        gen_job *j = &js[count++];
        j->line = line_no;
        zt_gen_params_init(&j->params);
        if ((st = zt_gen_params_copy(&j->params, &o->params, err)))
            break;
        char where[4200];
        snprintf(where, sizeof where, "%s line %d", name, line_no);
        /* one object a line, nothing after it; a \u0000 would cut a string
         * short without a word */
        cJSON *obj = cJSON_ParseWithOpts(line, NULL, 1);
        if (!obj) {
            const char *rest = NULL;
            cJSON *first = cJSON_ParseWithOpts(line, &rest, 0);
            cJSON_Delete(first);
            st = zt_fail(err, ZT_ERR_FORMAT,
                         first ? "%s: text after the JSON object (one job a line)"
                               : "%s: not valid JSON",
                         where);
            break;
        }
        if (zt_json_has_nul_escape(line)) {
            cJSON_Delete(obj);
            st = zt_fail(err, ZT_ERR_FORMAT, "%s: a string holds \\u0000", where);
            break;
        }
        st = job_from_json(j, obj, o->outdir, where, err);
        /* a line without a seed takes the command line's; a random one is
         * drawn for each line, as for each "random" (one draw for all gave
         * lines of one prompt the same image) */
        if (!st && o->seed_random && !cJSON_GetObjectItemCaseSensitive(obj, "seed"))
            j->params.seed = zt_random_seed();
        /* a prompt from the line, --prompt or --from, an empty one too (as
         * --prompt "" is): only none at all is refused */
        int prompted = cJSON_GetObjectItemCaseSensitive(obj, "prompt") || o->prompt || o->from;
        cJSON_Delete(obj);
        if (st)
            break;
        if (!prompted) {
            st = zt_fail(err, ZT_ERR_INVALID, "%s: no \"prompt\"", where);
            break;
        }
    }
    free(text);
    if (!js)
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
    if (st == ZT_OK && count == 0)
        st = zt_fail(err, ZT_ERR_INVALID, "%s: no jobs", name);
    *jobs = js;
    *n = count;
    return st;
}

/* The job list: --jobs, several --seed, --count, or the single job. */
static zt_status build_jobs(zt_gen_opts *o, gen_job **out, int *n_out, zt_err *err)
{
    zt_status st;
    gen_job *js = NULL;
    int n = 0;
    long count = 1;
    if (o->count && (st = zt_parse_int("count", o->count, 1, MAX_JOBS, &count, err)))
        return st;
    if (o->jobs) {
        if ((st = read_jobs(o, &js, &n, err))) {
            *out = js;
            *n_out = n;
            return st;
        }
    } else {
        n = o->n_seeds > 1 ? o->n_seeds : (int)count;
        /* --count's seeds follow the first; past the largest they would
         * wrap to 0 without a word */
        if (o->n_seeds <= 1 && o->params.seed > UINT64_MAX - (uint64_t)(n - 1))
            return zt_fail(err, ZT_ERR_INVALID,
                           "--count %d from seed %llu would pass the largest seed "
                           "(18446744073709551615); start from %llu or lower",
                           n, (unsigned long long)o->params.seed,
                           (unsigned long long)(UINT64_MAX - (uint64_t)(n - 1)));
        js = calloc((size_t)n, sizeof *js);
        if (!js)
            return zt_fail(err, ZT_ERR_NOMEM, "out of memory");
        for (int i = 0; i < n; i++) {
            zt_gen_params_init(&js[i].params);
            if ((st = zt_gen_params_copy(&js[i].params, &o->params, err))) {
                *out = js;
                *n_out = i + 1;
                return st;
            }
            if (o->n_seeds > 1) {
                int rnd;
                if ((st = zt_parse_seed(o->seeds[i], &js[i].params.seed, &rnd, err))) {
                    *out = js;
                    *n_out = i + 1;
                    return st;
                }
                if (rnd) /* each "random" its own draw */
                    js[i].params.seed = zt_random_seed();
            } else {
                js[i].params.seed = o->params.seed + (uint64_t)i;
            }
        }
    }
    *out = js;
    *n_out = n;
    /* outputs: explicit per job, -o numbered, or the --name template in --outdir */
    zt_name_hint hint = {.k = 0};
    for (int i = 0; i < n; i++) {
        gen_job *j = &js[i];
        if (j->path[0])
            continue;
        other_jobs e = {js, n, i};
        if (n == 1 && (o->output_path || o->output))
            snprintf(j->path, sizeof j->path, "%s", o->output_path ? o->output_path : o->output);
        else if (o->output) {
            if (!zt_outpath_numbered(j->path, sizeof j->path, o->output, i + 1))
                return zt_fail(err, ZT_ERR_INVALID, "-o %s: too long to number", o->output);
        } else if ((st = zt_gen_opts_template_path(o, &j->params, i + 1, taken_by_others, &e, &hint,
                                                   j->path, sizeof j->path, err)))
            return st;
    }
    for (int i = 0; i < n; i++) {
        size_t bad;
        char nm[4200];
        if (!zt_utf8_validate(js[i].params.prompt, strlen(js[i].params.prompt), &bad))
            return zt_fail(err, ZT_ERR_UTF8,
                           "%s: the prompt is not valid UTF-8 (bad byte at offset %zu)",
                           job_name(o, &js[i], i, nm, sizeof nm), bad);
        if (!zt_utf8_validate(js[i].params.negative_prompt, strlen(js[i].params.negative_prompt),
                              &bad))
            return zt_fail(err, ZT_ERR_UTF8,
                           "%s: the negative prompt is not valid UTF-8 (bad byte at offset "
                           "%zu)",
                           job_name(o, &js[i], i, nm, sizeof nm), bad);
        if ((st = zt_gen_params_check_values(&js[i].params, err)))
            return zt_err_prefix(err, "%s", job_name(o, &js[i], i, nm, sizeof nm));
        for (int k = 0; k < i; k++)
            if (same_output(js[k].path, js[i].path))
                return js[i].line ? zt_fail(err, ZT_ERR_INVALID, "%s lines %d and %d both write %s",
                                            jobs_name(o), js[k].line, js[i].line, js[i].path)
                                  : zt_fail(err, ZT_ERR_INVALID, "jobs %d and %d both write %s",
                                            k + 1, i + 1, js[i].path);
        if ((st = zt_check_output(js[i].path, err)))
            return js[i].line ? zt_err_prefix(err, "%s", job_name(o, &js[i], i, nm, sizeof nm))
                              : st;
        /* JSON holds text: a name of other bytes could not be printed */
        if (o->json && !zt_utf8_validate(js[i].path, strlen(js[i].path), &bad))
            return zt_fail(err, ZT_ERR_UTF8,
                           "%s: the output name is not valid UTF-8 (bad byte at offset %zu), "
                           "which --json cannot print; give a UTF-8 name",
                           job_name(o, &js[i], i, nm, sizeof nm), bad);
    }
    return ZT_OK;
}

/* Text for a --json line: a message or a kept copy's path can quote bytes
 * that are not UTF-8 ($TMPDIR, the model's folder), which JSON cannot
 * hold. */
static int add_text(cJSON *o, const char *key, const char *s)
{
    char *t = zt_ui_utf8_lossy(s, strlen(s));
    int ok = t && cJSON_AddStringToObject(o, key, t);
    free(t);
    return ok;
}

/* The job's line of --json output; -1 when memory ran out making it (a
 * line with a field missing is not printed: readers take every line as
 * whole). */

static int print_json_result(const gen_job *j, const zt_event *ev, const char *kept)
{
    cJSON *o = cJSON_CreateObject();
    char *settings = NULL;
    int ok = o && cJSON_AddNumberToObject(o, "job", (double)j->id);
    ok = ok && cJSON_AddStringToObject(o, "status",
                                       ev->kind == ZT_EV_JOB_FINISHED    ? "ok"
                                       : ev->kind == ZT_EV_JOB_CANCELLED ? "cancelled"
                                                                         : "failed");
    ok = ok && cJSON_AddStringToObject(o, "path", j->path);
    /* also for a job that failed or was cancelled: its settings (the seed
     * drawn included) make the same image again */
    /* the text as written: parsed and printed again by cJSON, a seed near
     * 2^53 came out as 9.00719925474099e+15, another seed */
    ok = ok && zt_gen_params_to_json(&j->params, &settings, NULL) == ZT_OK &&
         cJSON_AddRawToObject(o, "settings", settings);
    free(settings);
    if (ev->kind == ZT_EV_JOB_FINISHED) {
        ok = ok && cJSON_AddNumberToObject(o, "seconds", ev->timings.total_ms / 1000.0) &&
             cJSON_AddNumberToObject(o, "encode_ms", ev->timings.encode_ms) &&
             cJSON_AddNumberToObject(o, "decode_ms", ev->timings.decode_ms);
        cJSON *steps = ok ? cJSON_AddArrayToObject(o, "step_ms") : NULL;
        ok = steps != NULL;
        for (int i = 0; ok && i < ev->timings.steps; i++)
            ok = cJSON_AddItemToArray(steps, cJSON_CreateNumber(ev->timings.step_ms[i]));
    } else if (ev->msg[0]) {
        ok = ok && add_text(o, "error", ev->msg);
    }
    if (kept[0])
        ok = ok && add_text(o, "kept", kept);
    char *line = ok ? cJSON_PrintUnformatted(o) : NULL;
    if (line)
        printf("%s\n", line);
    zt_cli_flush();
    free(line);
    cJSON_Delete(o);
    return line ? 0 : -1;
}

static gen_job *find_job(gen_job *js, int n, uint64_t id)
{
    for (int i = 0; i < n; i++)
        if (js[i].id == id)
            return &js[i];
    return NULL;
}

/* Leave at once (writes already stopped): each job not reported yet is
 * reported cancelled, as at a first interrupt, and the running step and
 * the engine are left to the exit. */
static void stop_now(const zt_gen_opts *o, gen_job *js, int n, int not_made)
{
    unmake_dirs(o, js, n); /* those this run made and wrote nothing in */
    zt_event ev = {.kind = ZT_EV_JOB_CANCELLED};
    for (int i = 0; o->json && i < n; i++)
        if (!js[i].done) {
            ev.job = js[i].id;
            print_json_result(&js[i], &ev, "");
        }
    fprintf(stderr, "zimt: interrupted again: stopped at once; %d image%s not made, finished "
                    "images are kept\n", not_made, not_made == 1 ? "" : "s");
    fflush(NULL);
    _exit(128 + zt_cli_stop);
}

int zt_cmd_gen(int argc, char **argv)
{
    zt_gen_opts o;
    zt_err err = {0};
    int rc = 1, n = 0;
    gen_job *js = NULL;
    zt_engine *eng = NULL;
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
    /* a missing --outdir is made to check the names in; a refused run
     * leaves nothing */
    if (zt_gen_opts_resolve(&o, &err) != ZT_OK || build_jobs(&o, &js, &n, &err) != ZT_OK) {
        unmake_dirs(&o, js, n);
        rc = zt_cli_error(&err);
        if (o.bad_usage)
            rc = 2;
        goto done;
    }
    if (o.from_note[0])
        zt_cli_fail("warning: %s", o.from_note);

    zt_engine_opts eo = {
        .model_dir = o.synthetic ? NULL : o.model_dir,
        .synthetic = o.synthetic,
        .synth_seed = o.synth_seed_v,
        .tokenizer_path = o.synthetic ? o.tokenizer : NULL,
        .device = o.device ? o.device : "auto",
        .mem_limit = o.mem_limit,
        .precision = o.precision_v,
    };
    if (zt_engine_new(&eng, &eo, &err) != ZT_OK) {
        unmake_dirs(&o, js, n);
        rc = zt_cli_error(&err);
        goto done;
    }
    zt_cli_catch_stop();

    for (int i = 0; i < n; i++)
        if (zt_engine_submit(eng, &js[i].params, js[i].path, &js[i].id, &err) != ZT_OK) {
            rc = zt_cli_error(&err);
            goto done;
        }

    /* After a failed load every job fails with the load's message: it is
     * said once, and not_loaded counts the jobs for one closing line. */
    int remaining = n, failed = 0, cancelled_all = 0, now = 0, load_failed = 0, not_loaded = 0;
    while (remaining > 0) {
        if (zt_cli_stop && !cancelled_all) {
            fprintf(stderr, "zimt: interrupted: cancelling; finished images are kept (interrupt "
                            "again to stop at once)\n");
            zt_engine_cancel_all(eng);
            cancelled_all = 1;
        }
        /* A second signal: leave without waiting for the running step (or,
         * on the CPU, op), once no image is being written and the events
         * already queued are reported. */
        if (zt_cli_stops > 1 && !now) {
            zt_engine_stop_writes(eng); /* an image just written is reported below */
            now = 1;
        }
        zt_event ev;
        if (!zt_engine_poll(eng, &ev)) {
            if (now) /* not made: those still to come and those cancelled or failed */
                stop_now(&o, js, n, remaining + failed);
            struct pollfd pfd = {.fd = zt_engine_event_fd(eng), .events = POLLIN};
            poll(&pfd, 1, 200);
            continue;
        }
        gen_job *j = find_job(js, n, ev.job);
        switch (ev.kind) {
        case ZT_EV_LOAD_FAILED:
            /* every job fails next with the same message */
            zt_cli_fail("the model did not load: %s", ev.msg);
            load_failed = 1;
            break;
        case ZT_EV_LOAD_PROGRESS:
            if (!o.quiet && isatty(2)) {
                char line[256];
                zt_event_load_text(&ev, line, sizeof line);
                fputs("\r\033[K", stderr); /* the line before it, cleared */
                zt_cli_fprintf(stderr, "zimt: %s", line);
            }
            break;
        case ZT_EV_LOADED:
            if (!o.quiet && isatty(2))
                fprintf(stderr, "\r\033[K");
            if (!o.quiet) {
                char b[32];
                fprintf(stderr, "zimt: model loaded on %s (%s of weights in %.1f s)\n",
                        ev.backend, zt_bytes_text(b, sizeof b, ev.bytes_total), ev.ms / 1e3);
            }
            /* the CPU backend computes in F32 whatever was asked */
            if (!strcmp(ev.backend, "cpu") &&
                (o.precision_v == ZT_PRECISION_BF16 || o.precision_v == ZT_PRECISION_FP8))
                fprintf(stderr, "zimt: warning: --precision %s applies on CUDA; the CPU computes "
                        "in F32\n", o.precision_v == ZT_PRECISION_BF16 ? "bf16" : "fp8");
            break;
        case ZT_EV_JOB_STEP:
            if (!o.quiet)
                fprintf(stderr, "zimt: job %llu step %d/%d  %.0f ms\n",
                        (unsigned long long)ev.job, ev.step, ev.steps, ev.ms);
            break;
        case ZT_EV_JOB_FINISHED:
        case ZT_EV_JOB_FAILED:
        case ZT_EV_JOB_CANCELLED:
            if (!j || j->done)
                break;
            j->done = 1;
            remaining--;
            if (ev.kind != ZT_EV_JOB_FINISHED)
                failed++;
            /* made but not written: the image is in the event */
            int unsaved = ev.kind == ZT_EV_JOB_FAILED && ev.rgb;
            char kept[4200] = "";
            zt_err kept_why = {0};
            if (unsaved && !now)
                zt_cli_keep_unsaved(ev.rgb, ev.w, ev.h, &j->params, kept, sizeof kept,
                                    &kept_why);
            else if (unsaved)
                zt_fail(&kept_why, ZT_ERR_IO, "stopping at once");
            if (o.json) {
                if (print_json_result(j, &ev, kept)) {
                    fprintf(stderr, "zimt: job %llu: out of memory for its --json line\n",
                            (unsigned long long)ev.job);
                    failed++;
                }
            } else if (ev.kind == ZT_EV_JOB_FINISHED) {
                printf("%s\n", j->path);
            }
            zt_cli_flush();
            if (ev.kind == ZT_EV_JOB_FAILED && load_failed)
                not_loaded++;
            else if (ev.kind == ZT_EV_JOB_FAILED)
                zt_cli_fail("job %llu (seed %llu) failed: %s", (unsigned long long)ev.job,
                            (unsigned long long)j->params.seed, ev.msg);
            if (kept[0])
                zt_cli_fail("job %llu: the image is kept as %s", (unsigned long long)ev.job, kept);
            else if (unsaved)
                zt_cli_fail("job %llu: no copy could be kept either (%s); its seed and settings "
                            "make it again",
                            (unsigned long long)ev.job, kept_why.msg);
            else if (ev.kind == ZT_EV_JOB_FINISHED && !o.quiet)
                zt_cli_fail("wrote %s (%dx%d, seed %llu, %.2f s)", j->path, j->params.width,
                            j->params.height, (unsigned long long)j->params.seed,
                            ev.timings.total_ms / 1000.0);
            if (ev.kind == ZT_EV_JOB_FINISHED && ev.timings.prompt_truncated)
                fprintf(stderr, "zimt: warning: job %llu: the prompt was truncated to %d tokens\n",
                        (unsigned long long)ev.job, ZT_TOKENIZER_MAX_IDS);
            if (ev.kind == ZT_EV_JOB_FINISHED && ev.timings.negative_truncated)
                fprintf(stderr,
                        "zimt: warning: job %llu: the negative prompt was truncated to %d tokens\n",
                        (unsigned long long)ev.job, ZT_TOKENIZER_MAX_IDS);
            break;
        default:
            break;
        }
        zt_event_free(&ev);
    }
    if (not_loaded)
        fprintf(stderr, "zimt: %d %s not made: the model did not load\n", not_loaded,
                not_loaded == 1 ? "image" : "images");
    /* directories this run made and left empty (no job wrote in them: the
     * model did not load, jobs failed or were cancelled) are taken back;
     * one holding anything stays */
    unmake_dirs(&o, js, n);
    rc = zt_cli_stop ? 128 + zt_cli_stop : failed ? 1 : 0; /* 130 for Ctrl-C */
    /* Interrupted: every job is reported and no image is being written, but
     * the engine's worker may still be loading the model (a load stops only
     * between its parts; a full synthetic one on the CPU takes 20 s a part,
     * and a second interrupt was not heard while freeing the engine waited
     * for it). Leave without waiting: nothing of it is kept. */
    if (zt_cli_stop) {
        fflush(NULL);
        _exit(rc);
    }
done:
    zt_engine_free(eng);
    for (int i = 0; i < n; i++) {
        zt_gen_params_free(&js[i].params);
        free(js[i].made_dir);
        free(js[i].made_top);
    }
    free(js);
    zt_gen_opts_free(&o);
    return rc;
}
