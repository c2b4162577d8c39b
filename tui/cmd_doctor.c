/*
 * cmd_doctor.c - zimt doctor [--model DIR]: find the model, say what is
 * wrong with the set-up and what to do about it.
 *
 * Sections, in order: every place searched and what was found there; the
 * chosen model per component (files against the index, sizes against
 * total_size, unfinished downloads, tensors against the config via the
 * headers only); the GPU, its driver and free memory; the estimated peak
 * memory of each size preset and whether it fits; whether this terminal
 * shows sixel and its cell size. Exit 0 only when a generation would work:
 * a complete model, and a GPU large enough for the smallest preset or no
 * GPU at all (the CPU works, slowly). Without a model it says whether gen
 * and the workbench would run the bundled tiny one instead. Nothing is
 * loaded, nothing written.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "backend.h"
#include "cli.h"
#include "config.h"
#include "discovery.h"
#include "engine.h"
#include "gen_opts.h"
#include "manifest.h"
#include "modelcheck.h"
#include "pipeline.h"
#include "safetensors.h"

typedef struct doctor {
    int problems;
    int model_ok;
    zt_model_config cfg;
    int have_cfg;
    uint64_t weight_bytes; /* te + dit + vae as stored, what a load takes */
    uint64_t dit_products; /* bytes of the blocks' product weights as stored (0: the
                              transformer's weights were not read) */
    size_t mem_limit;      /* $ZIMT_MEM_LIMIT when set and valid, else 0 */
} doctor;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void problem(doctor *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zt_cli_vfail(fmt, ap);
    va_end(ap);
    d->problems++;
}

/* ---- where the model is --------------------------------------------------- */

static void show_search(const zt_discovery_report *r)
{
    if (!r->n_places) /* a --model that is not a directory: said below */
        return;
    zt_cli_printf("model search:\n");
    for (int i = 0; i < r->n_places; i++) {
        const zt_discovery_place *p = &r->places[i];
        zt_cli_printf("  %-10s %s\n             %s", zt_place_state_str(p->state), p->source,
                      p->path);
        if (p->detail[0] && p->state != ZT_PLACE_CHOSEN && strcmp(p->detail, "complete"))
            zt_cli_printf("\n             %s", p->detail);
        putchar('\n');
    }
    if (r->n_omitted)
        zt_cli_printf("  (%d more places looked at, not listed)\n", r->n_omitted);
    for (int i = 0; i < r->n_warnings; i++)
        zt_cli_printf("  warning: %s\n", r->warnings[i]);
}

/* ---- the chosen model ----------------------------------------------------- */

/* The first few tensors the config does not use, for the warning. */
#define UNUSED_SHOWN 3
typedef struct unused_names {
    int n;
    char text[3 * 100];
} unused_names;

static void note_unused(void *ctx, zt_manifest_problem kind, const char *name,
                        const zt_manifest_entry *want, const zt_st_entry *found, const char *file)
{
    (void)want, (void)found, (void)file;
    unused_names *un = ctx;
    if (kind != ZT_MANIFEST_UNEXPECTED || un->n >= UNUSED_SHOWN)
        return;
    size_t len = strlen(un->text);
    snprintf(un->text + len, sizeof un->text - len, "%s%s", un->n++ ? ", " : "", name);
}

static void show_part(doctor *d, const zt_modelcheck_part *p, const char *dir,
                      const zt_manifest *m, const char *strip)
{
    char a[32];
    zt_cli_printf("  %s:\n    files: ", p->name);
    if (p->indexed) {
        zt_cli_printf("%d of %d shards named by the index", p->files_present, p->files_expected);
    } else if (p->singles > 1 && !p->files_present && !p->ignored) {
        /* several files, none the load would take: say what is there, the
         * problem says why it cannot load */
        zt_cli_printf("%d *.safetensors files and no index, none of them loadable alone\n",
                      p->singles);
        return;
    } else if (p->files_present) {
        zt_cli_printf("1 weight file (%s)", p->single);
    } else {
        zt_cli_printf("no weight file");
    }
    zt_cli_printf(", %s on disk", zt_bytes_text(a, sizeof a, p->bytes));
    if (p->total_size >= 0)
        zt_cli_printf(" (index total_size %s)",
                      zt_bytes_text(a, sizeof a, (uint64_t)p->total_size));
    zt_cli_printf("\n");
    /* variants beside the canonical file: a load never opens them */
    if (p->ignored)
        zt_cli_printf(
            "    ignored: %d other *.safetensors file%s (%s%s), as a load without a variant "
            "ignores them\n",
            p->ignored, p->ignored == 1 ? "" : "s", p->other, p->ignored > 1 ? ", ..." : "");
    if (!p->files_present || p->files_present < p->files_expected)
        return;
    char cdir[ZT_PATH_MAX + 32];
    snprintf(cdir, sizeof cdir, "%s/%s", dir, p->name);
    zt_weights *w = NULL;
    zt_err err = {0};
    if (zt_weights_open(&w, cdir, strip, &err)) {
        zt_cli_printf("    tensors: unreadable\n");
        problem(d, "%s", err.msg);
        return;
    }
    /* what a load holds: the tensors the pipeline takes, not the whole files
     * (the VAE's encoder, the text encoder's last layer are never loaded) */
    d->weight_bytes += m ? zt_manifest_loaded_bytes(m, w) : zt_weights_total_bytes(w);
    if (d->have_cfg && !strcmp(p->name, "transformer")) {
        size_t replaced = 0;
        zt_dit_fp8_weight_bytes(&d->cfg.dit, w, &replaced);
        d->dit_products = replaced;
    }
    if (m) {
        unused_names un = {0};
        int n_unused = 0;
        int bad = zt_manifest_check(m, w, note_unused, &un, &n_unused);
        zt_cli_printf("    tensors: %d, %s\n", zt_weights_count(w),
                      bad        ? "some missing or misshapen"
                      : n_unused ? "all the config uses present with the right shapes"
                                 : "all present with the right shapes");
        if (bad)
            problem(d, "%s: %d tensor problems; `zimt info --model %s` lists them", p->name,
                    bad, dir);
        /* a load skips them, so no problem; but a config and weights that
         * disagree (qk_norm off, norm weights present) make poor images */
        if (n_unused)
            zt_cli_printf("    warning: %d tensor%s the config does not use (%s%s); the config may "
                          "not match these weights\n",
                          n_unused, n_unused == 1 ? "" : "s", un.text,
                          n_unused > UNUSED_SHOWN ? ", ..." : "");
    }
    zt_weights_free(w);
}

/* partial: where the model's unfinished downloads land outside dir (a
 * cache's blobs), as the search looked; NULL or "" for none */
static void show_model(doctor *d, const char *dir, const char *partial)
{
    zt_modelcheck mc;
    zt_modelcheck_run(&mc, dir, partial && *partial ? partial : NULL);
    zt_cli_printf("model: %s\n", dir);
    zt_cli_printf("  model_index.json: %s\n  scheduler: %s\n",
                  mc.model_index ? "present" : mc.why[0], mc.scheduler ? "present" : mc.why[1]);
    for (int i = 0; i < mc.n_problems; i++)
        problem(d, "%s: %s", dir, mc.problems[i]);

    zt_err err = {0};
    /* read whole, as a load reads it: a file cut short or damaged is
     * present but stops every job */
    char tp[ZT_PATH_MAX + 32];
    int32_t tok_ids = 0; /* read whole: its id count, for the vocab check below */
    if (mc.tokenizer) {
        snprintf(tp, sizeof tp, "%s/tokenizer/tokenizer.json", dir);
        int32_t ids;
        if (zt_tokenizer_check(tp, 0, &ids, &err) == ZT_OK) {
            tok_ids = ids;
            zt_cli_printf("  tokenizer/tokenizer.json: present, %d ids\n", (int)ids);
        } else {
            zt_cli_printf("  tokenizer/tokenizer.json: unreadable\n");
            problem(d, "%s", err.msg);
        }
    } else {
        zt_cli_printf("  tokenizer/tokenizer.json: %s\n", mc.why[2]);
    }
    zt_manifest m[3] = {{0}};
    int have_m = 0;
    if (zt_model_config_load(&d->cfg, dir, &err) == ZT_OK) {
        d->have_cfg = 1;
        if (tok_ids && zt_tokenizer_vocab_check(tok_ids, d->cfg.te.vocab, tp, &err))
            problem(d, "%s", err.msg);
        have_m = !zt_manifest_te(&m[0], &d->cfg.te, &err) &&
                 !zt_manifest_dit(&m[1], &d->cfg.dit, &err) &&
                 !zt_manifest_vae(&m[2], &d->cfg.vae, &err);
        if (!have_m)
            problem(d, "%s", err.msg);
    } else if (mc.model_index) {
        problem(d, "%s", err.msg);
    }
    static const char *const strip[3] = {"model.", NULL, NULL};
    for (int i = 0; i < ZT_MODELCHECK_PARTS; i++)
        show_part(d, &mc.part[i], dir, have_m ? &m[i] : NULL, strip[i]);
    for (int i = 0; i < 3; i++)
        zt_manifest_free(&m[i]);
    if (mc.incomplete)
        zt_cli_printf("  downloads: %d unfinished (partial files), e.g. %s\n", mc.incomplete,
                      mc.incomplete_where);
    else
        zt_cli_printf("  downloads: none unfinished\n");
    d->model_ok = d->problems == 0 && d->have_cfg;
}

/* ---- GPU ------------------------------------------------------------------ */

/* The first line of a small text file, without its newline. */
static int first_line(const char *path, const char *prefix, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (!prefix || !strncmp(line, prefix, strlen(prefix))) {
            line[strcspn(line, "\n")] = 0;
            const char *v = line + (prefix ? strlen(prefix) : 0);
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(out, n, "%s", v);
            found = 1;
        }
    fclose(f);
    return found;
}

/* What the kernel driver says, which needs no CUDA in this build. */
static void show_driver(void)
{
    char v[512];
    if (first_line("/proc/driver/nvidia/version", NULL, v, sizeof v))
        zt_cli_printf("  driver: %s\n", v);
    DIR *dd = opendir("/proc/driver/nvidia/gpus");
    if (!dd)
        return;
    struct dirent *de;
    while ((de = readdir(dd)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[512];
        snprintf(p, sizeof p, "/proc/driver/nvidia/gpus/%.200s/information", de->d_name);
        if (first_line(p, "Model:", v, sizeof v))
            zt_cli_printf("  card: %s (%s)\n", v, de->d_name);
    }
    closedir(dd);
}

/* *free_b > 0 when a usable GPU answered. */
static void show_gpu(size_t *free_b, size_t *total_b)
{
    *free_b = *total_b = 0;
    zt_cli_printf("gpu:\n");
    show_driver();
    zt_backend *be = NULL;
    zt_err err = {0};
    if (zt_backend_cuda_new(&be, 0, &err) == ZT_OK &&
        be->vt->mem_info(be, free_b, total_b, &err) == ZT_OK) {
        char a[32], b[32];
        zt_cli_printf("  cuda: device 0, %s free of %s\n", zt_bytes_text(a, sizeof a, *free_b),
                      zt_bytes_text(b, sizeof b, *total_b));
    } else {
        *free_b = *total_b = 0;
#ifdef ZT_HAVE_CUDA
        zt_cli_printf("  no GPU: %s\n", err.msg[0] ? err.msg : "no usable device");
#else
        zt_cli_printf("  no GPU: this build has no CUDA (make CUDA=1 with nvcc installed)\n");
#endif
        zt_cli_printf("  generation runs on the CPU: it works, but takes minutes per image\n");
    }
    zt_backend_free(be);
}

/* ---- memory per size ------------------------------------------------------ */

/* The official demo's sizes (transposes need the same memory). */
static const int presets[][2] = {
    {1024, 1024}, {1152, 896}, {1152, 864}, {1248, 832}, {1280, 720},  {1344, 576},
    {1280, 1280}, {1440, 1120}, {1472, 1104}, {1536, 1024}, {1536, 864}, {1680, 720},
    {1536, 1536}, {1728, 1344}, {1728, 1296}, {1872, 1248}, {2048, 1152}, {2016, 864},
};

/* Prints the table; returns how many sizes fit at the default precision.
 * On a GPU, once the transformer's weights were read, each size also gets
 * its peak with --precision fp8 (the blocks' products in E4M3,
 * zt_dit_fp8_weight_bytes), and *fit8 how many fit so. *past counts the
 * sizes past the transformer's positions, which no memory makes fit. */
static int show_memory(doctor *d, size_t gpu_free, int *fit8, int *past)
{
    int n = (int)(sizeof presets / sizeof presets[0]), fit = 0;
    const int with8 = gpu_free && d->dit_products && d->dit_products <= d->weight_bytes;
    size_t w8 = with8 ? d->weight_bytes - d->dit_products +
                            zt_dit_fp8_weight_bytes(&d->cfg.dit, NULL, NULL)
                      : 0;
    *fit8 = *past = 0;
    /* what `zimt gen` computes in by default */
    zt_dtype act = gpu_free ? zt_precision_auto_dtype(&d->cfg) : ZT_F32;
    size_t avail = gpu_free;
    const char *where = "GPU memory free";
    if (!gpu_free) {
        size_t tot = 0;
        zt_backend *cpu = NULL;
        zt_err err = {0};
        if (zt_backend_cpu_new(&cpu, 1, &err) == ZT_OK)
            cpu->vt->mem_info(cpu, &avail, &tot, &err);
        zt_backend_free(cpu);
        where = "host memory available";
    }
    /* gen and bench plan against $ZIMT_MEM_LIMIT when it is set */
    zt_err lerr = {0};
    if (zt_mem_limit_env(&d->mem_limit, &lerr)) {
        problem(d, "%s", lerr.msg);
    } else if (d->mem_limit) {
        avail = d->mem_limit;
        where = "ZIMT_MEM_LIMIT";
    }
    char a[32], b[32];
    zt_cli_printf("memory (weights %s + activations, %s; %s: %s):\n",
                  zt_bytes_text(a, sizeof a, d->weight_bytes), act == ZT_BF16 ? "BF16" : "F32",
                  where, zt_bytes_text(b, sizeof b, avail));
    int mw, mh; /* past this, the transformer has no positions: no memory makes it fit */
    zt_model_size_max(&d->cfg, &mw, &mh);
    for (int i = 0; i < n; i++) {
        zt_job_params p = {.width = presets[i][0], .height = presets[i][1], .steps = 8};
        if (p.width > mw || p.height > mh) {
            zt_cli_printf(
                "  %4dx%-4d past the transformer's positions (axes_lens allow up to %dx%d)\n",
                p.width, p.height, mw, mh);
            (*past)++;
            continue;
        }
        size_t act_bytes = zt_pipeline_plan(&d->cfg, act, &p, 0, 0);
        size_t peak = d->weight_bytes + act_bytes, peak8 = w8 + act_bytes;
        int ok = avail && peak <= avail, ok8 = with8 && peak8 <= avail;
        fit += ok;
        *fit8 += ok8;
        zt_cli_printf("  %4dx%-4d %10s  %-*s", p.width, p.height, zt_bytes_text(a, sizeof a, peak),
                      with8 ? 12 : 0, ok ? "fits" : "does not fit");
        if (with8)
            zt_cli_printf("  fp8 %10s  %s", zt_bytes_text(b, sizeof b, peak8),
                          ok8 ? "fits" : "does not fit");
        zt_cli_printf("\n");
    }
    zt_cli_printf("  %d of %d sizes fit", fit, n);
    if (with8)
        zt_cli_printf("; %d with --precision fp8", *fit8);
    zt_cli_printf("\n");
    return fit;
}

/* ---- terminal ------------------------------------------------------------- */

/* Reads the replies to the queries until DA1's (it comes last) or 1 s. */
static size_t read_replies(int fd, char *buf, size_t n)
{
    size_t len = 0;
    const double t0 = zt_now_ms();
    for (;;) {
        long ms = 1000 - (long)(zt_now_ms() - t0);
        if (ms <= 0 || len + 1 >= n)
            break;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)ms) <= 0)
            break;
        ssize_t k = read(fd, buf + len, n - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
        buf[len] = 0;
        const char *da = strstr(buf, "\033[?");
        if (da && strchr(da, 'c'))
            break;
    }
    buf[len] = 0;
    return len;
}

/* DA1 "ESC[?63;1;2;4;6c": sixel when a parameter equals 4. */
static int da1_sixel(const char *buf)
{
    const char *p = strstr(buf, "\033[?");
    while (p) {
        const char *q = p + 3;
        const char *end = q + strspn(q, "0123456789;");
        if (*end == 'c') {
            while (q < end) {
                if (atoi(q) == 4)
                    return 1;
                q += strcspn(q, ";");
                if (*q == ';')
                    q++;
            }
            return 0;
        }
        p = strstr(p + 1, "\033[?");
    }
    return -1; /* no DA1 answer */
}

/* "ESC[<kind>;<a>;<b>t" replies. */
static int csi_t(const char *buf, int kind, int *a, int *b)
{
    char pre[8];
    snprintf(pre, sizeof pre, "\033[%d;", kind);
    const char *p = strstr(buf, pre);
    return p && sscanf(p + strlen(pre), "%d;%dt", a, b) == 2 && *a > 0 && *b > 0;
}

static void show_terminal(void)
{
    zt_cli_printf("terminal:\n");
    if (!isatty(1)) {
        zt_cli_printf("  not a terminal (output is redirected; run zimt doctor in the terminal to "
                      "check sixel)\n");
        return;
    }
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios old, raw;
    if (fd < 0 || tcgetattr(fd, &old) != 0) {
        zt_cli_printf("  cannot open the terminal for queries\n");
        if (fd >= 0)
            close(fd);
        return;
    }
    raw = old;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(fd, TCSANOW, &raw);
    static const char q[] = "\033[16t\033[14t\033[c"; /* DA1 last: everyone answers it */
    char buf[512] = "";
    if (write(fd, q, sizeof q - 1) == (ssize_t)(sizeof q - 1))
        read_replies(fd, buf, sizeof buf);
    tcsetattr(fd, TCSANOW, &old);

    struct winsize ws = {0};
    int cw = 0, ch = 0, a, b;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row &&
        ws.ws_xpixel >= 2 * ws.ws_col && ws.ws_ypixel >= 4 * ws.ws_row) {
        cw = ws.ws_xpixel / ws.ws_col;
        ch = ws.ws_ypixel / ws.ws_row;
    } else if (csi_t(buf, 6, &a, &b)) {
        ch = a;
        cw = b;
    } else if (csi_t(buf, 4, &a, &b) && ws.ws_col && ws.ws_row) {
        ch = a / ws.ws_row;
        cw = b / ws.ws_col;
    }
    close(fd);

    int sixel = da1_sixel(buf);
    const char *tp = getenv("TERM_PROGRAM"), *term = getenv("TERM");
    int hint = (tp && (!strcmp(tp, "WezTerm") || !strcmp(tp, "mintty"))) ||
               (term && (strstr(term, "foot") || strstr(term, "mlterm") ||
                         strstr(term, "contour")));
    if (sixel == 1)
        zt_cli_printf("  sixel: yes (the terminal says so)\n");
    else if (sixel == 0 && hint)
        zt_cli_printf("  sixel: probably (%s usually has it, but it did not say so)\n",
                      tp ? tp : term);
    else if (sixel == 0)
        zt_cli_printf("  sixel: no; previews use half blocks (for sixel try xterm -ti vt340, foot, "
                      "WezTerm, mlterm or Konsole)\n");
    else
        zt_cli_printf(
            "  sixel: unknown (no answer to the device query); previews use half blocks\n");
    if (cw && ch)
        zt_cli_printf("  cell size: %dx%d px\n", cw, ch);
    else
        zt_cli_printf("  cell size: unknown (the terminal does not report it)\n");
    if (getenv("TMUX"))
        zt_cli_printf("  inside tmux: sixel needs tmux >= 3.4 built with sixel\n");
}

/* ---- command -------------------------------------------------------------- */

static int usage(FILE *f)
{
    fputs("usage: zimt doctor [--model DIR]\n", f);
    return f == stdout ? 0 : 2;
}

int zt_cmd_doctor(int argc, char **argv)
{
    const char *explicit_dir = NULL;
    for (int i = 1; i < argc; i++) {
        int m = zt_cli_model_arg("doctor", argc, argv, &i, &explicit_dir);
        if (m < 0)
            return usage(stderr);
        if (m)
            continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(stdout);
        zt_cli_fail("doctor: unknown argument '%s'", argv[i]);
        return usage(stderr);
    }
    doctor d = {0};
    zt_discovery_report *rep = malloc(sizeof *rep);
    if (!rep)
        return zt_cli_fail("doctor: out of memory");
    char dir[ZT_PATH_MAX], tiny[ZT_PATH_MAX];
    const char *bundled = NULL;
    zt_err err = {0};
    zt_status st = zt_discover_model(explicit_dir, dir, sizeof dir, rep, &err);
    show_search(rep);
    if (st) {
        problem(&d, "%s", err.msg);
        zt_cli_printf(
            "model: none found\n  download it with `hf download Tongyi-MAI/Z-Image-Turbo` "
            "or `modelscope download Tongyi-MAI/Z-Image-Turbo`, or point ZIMT_MODEL or "
            "--model at a copy\n");
        /* what gen and the workbench do meanwhile (zt_cli_model): the
         * bundled model, unless $ZIMT_MODEL names one */
        const char *zm = getenv("ZIMT_MODEL");
        if (!explicit_dir && zm && *zm)
            zt_cli_printf("  gen and the workbench refuse to run meanwhile: $ZIMT_MODEL names %s\n",
                          zm);
        else if (!explicit_dir && (bundled = zt_cli_bundled_model(tiny, sizeof tiny)))
            zt_cli_printf("  until then gen and the workbench run the bundled tiny model (%s); its "
                          "weights are synthetic, so its images do not show the prompt\n",
                          tiny);
        /* The closest candidate in full: every missing piece, not just one. */
        for (int i = 0; i < rep->n_places; i++)
            if (rep->places[i].state == ZT_PLACE_INCOMPLETE) {
                zt_cli_printf("closest candidate, in detail:\n");
                show_model(&d, rep->places[i].path, rep->places[i].partial);
                break;
            }
    } else {
        /* the chosen place, with what the search knew of it */
        const char *partial = NULL;
        for (int i = 0; i < rep->n_places; i++)
            if (rep->places[i].state == ZT_PLACE_CHOSEN)
                partial = rep->places[i].partial;
        show_model(&d, dir, partial);
    }
    free(rep);

    size_t gfree, gtotal;
    show_gpu(&gfree, &gtotal);
    if (d.have_cfg) {
        int fit8 = 0, past = 0, fit = show_memory(&d, gfree, &fit8, &past);
        int mw, mh;
        zt_model_size_max(&d.cfg, &mw, &mh);
        if (past == (int)(sizeof presets / sizeof presets[0]))
            problem(&d, "the transformer's axes_lens allow images up to %dx%d, smaller than every "
                        "preset size",
                    mw, mh);
        else if (d.mem_limit && !fit)
            problem(&d, "ZIMT_MEM_LIMIT (%zu MiB) is too little for any preset size%s",
                    d.mem_limit >> 20, fit8 ? " (some fit with --precision fp8)" : "");
        else if (gfree && !fit)
            problem(&d, "the GPU has %zu MiB free, too little for any preset size%s; free GPU "
                        "memory or use --device cpu",
                    gfree >> 20, fit8 ? " (some fit with --precision fp8)" : "");
        else if (!gfree && !fit)
            problem(&d, "the host memory available is too little for any preset size");
    } else {
        zt_cli_printf("memory: no estimate without the model's configs\n");
    }
    show_terminal();

    if (d.problems) {
        zt_cli_printf("result: %d problem%s; %s\n", d.problems, d.problems == 1 ? "" : "s",
                      bundled ? "only the bundled tiny model would run" : "generation would fail");
        return 1;
    }
    zt_cli_printf("result: ok, generation will work%s\n", gfree ? "" : " (on the CPU, slowly)");
    return 0;
}
