/* main.c - zimt entry point: dispatches subcommands (see cli.h). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "discovery.h"
#include "outpath.h"
#include "ui_text.h"

/* Written a character at a time through zt_ui_sanitize_one, so a message
 * of any length needs no memory of its own beyond the formatting. */
static void put_safe(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        char c[5];
        size_t k;
        i += zt_ui_sanitize_one(s, len, i, 1, c, &k);
        fwrite(c, 1, k, f);
    }
}

int zt_cli_vprintf(FILE *f, const char *fmt, va_list ap)
{
    char small[1024], *text = small;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small) {
        char *big = malloc((size_t)n + 1);
        if (big && vsnprintf(big, (size_t)n + 1, fmt, again) == n)
            text = big;
        else /* out of memory: the message's start */
            n = (int)sizeof small - 1;
    }
    va_end(again);
    if (n > 0)
        put_safe(f, text, (size_t)n);
    if (text != small)
        free(text);
    return n;
}

int zt_cli_fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = zt_cli_vprintf(f, fmt, ap);
    va_end(ap);
    return n;
}

int zt_cli_error(const zt_err *err)
{
    if (err && err->msg[0])
        zt_cli_fail("%s", err->msg);
    else
        zt_cli_fail("%s", zt_status_str(err ? err->code : ZT_ERR_INVALID));
    return 1;
}

const char *zt_cli_keep_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir && dir[0] == '/' ? dir : "/tmp";
}

zt_status zt_cli_keep_dir_check(zt_err *why)
{
    const char *dir = zt_cli_keep_dir(), *env = getenv("TMPDIR");
    const char *name = env && !strcmp(env, dir) ? "TMPDIR " : "";
    struct stat st;
    if (stat(dir, &st) != 0)
        return zt_fail(why, ZT_ERR_IO, "%s%s: %s", name, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return zt_fail(why, ZT_ERR_IO, "%s%s is not a directory", name, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return zt_fail(why, ZT_ERR_IO, "%s%s: %s", name, dir, strerror(errno));
    return ZT_OK;
}

void zt_cli_keep_unsaved(const uint8_t *rgb, int w, int h, const zt_gen_params *p, char *kept,
                         size_t cap, zt_err *why)
{
    kept[0] = '\0';
    const char *dir = zt_cli_keep_dir();
    if (zt_cli_keep_dir_check(why) != ZT_OK)
        return;
    char name[64];
    snprintf(name, sizeof name, "zimt-unsaved-%llu.png", (unsigned long long)p->seed);
    /* a name taken between the look and the write is looked past again */
    for (int tries = 0; tries < 8; tries++) {
        if (zt_outpath_resolve(dir, name, 1, kept, cap, why) != ZT_OK)
            break;
        zt_status st = zt_png_write(kept, rgb, w, h, p, why);
        if (st == ZT_OK)
            return;
        if (st != ZT_ERR_EXISTS)
            break;
    }
    kept[0] = '\0';
}

volatile sig_atomic_t zt_cli_stop, zt_cli_stops;

static void on_stop(int sig)
{
    zt_cli_stop = sig;
    if (zt_cli_stops < 2)
        zt_cli_stops++;
}

void zt_cli_catch_stop(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    /* SA_RESTART: a write to a slow pipe (gen --json into a reader that
     * lags) goes on after the signal instead of failing with EINTR, which
     * made stdio drop the rest of a line; poll() still wakes, as it is
     * never restarted */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* SIGHUP ignored when zimt started stays ignored: nohup, so that a
     * batch left running goes on when the SSH session ends. (SIGINT is
     * caught even when ignored, as a script's background job starts:
     * kill -INT is how such a script stops it.) */
    if (sigaction(SIGHUP, NULL, &old) != 0 || old.sa_handler != SIG_IGN)
        sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int exists_as(const char *p, int dir)
{
    struct stat sb;
    return stat(p, &sb) == 0 && (dir ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
}

/* rel (a file, or with dir set a folder) from the working directory, else
 * beside the binary (a build tree), else installed in ../share/zimt/ from
 * it. buf receives the path found; NULL when none is. */
static const char *bundled(const char *rel, const char *installed, int dir, char *buf,
                           size_t n)
{
    if (exists_as(rel, dir) && (size_t)snprintf(buf, n, "%s", rel) < n)
        return buf;
    char exe[4096];
    if (zt_exe_dir(exe, sizeof exe))
        return NULL;
    const char *fmt[] = {"%s/%s", "%s/../share/zimt/%s"};
    const char *tail[] = {rel, installed};
    for (size_t i = 0; i < 2; i++)
        if ((size_t)snprintf(buf, n, fmt[i], exe, tail[i]) < n && exists_as(buf, dir))
            return buf;
    return NULL;
}

const char *zt_cli_bundled_tokenizer(char *buf, size_t n)
{
    return bundled(ZT_BUNDLED_TOKENIZER, "tiny-zimage/tokenizer/tokenizer.json", 0, buf, n);
}

const char *zt_cli_bundled_model(char *buf, size_t n)
{
    return bundled(ZT_DEFAULT_MODEL, "tiny-zimage", 1, buf, n);
}

int zt_cli_model_arg(const char *cmd, int argc, char **argv, int *i, const char **dir)
{
    const char *a = argv[*i];
    if (!strncmp(a, "--model=", 8)) {
        *dir = a + 8;
        return 1;
    }
    if (strcmp(a, "--model"))
        return 0;
    if (*i + 1 == argc) {
        zt_cli_fail("%s: --model needs a directory", cmd);
        return -1;
    }
    *dir = argv[++*i];
    return 1;
}

zt_status zt_cli_model(const char *named, char *out, size_t n, int quiet, int *bundled,
                       zt_err *err)
{
    zt_err derr = {0};
    if (bundled)
        *bundled = 0;
    if (zt_discover_model(named, out, n, NULL, &derr) == ZT_OK)
        return ZT_OK;
    if (named)
        return zt_fail(err, derr.code, "%s (zimt doctor shows where models are looked for)",
                       derr.msg);
    /* a model the environment names is not stood in for by the bundled one
     * (its noise images came without a word under --quiet), and a folder
     * that is not there is said as such, not as "set ZIMT_MODEL" */
    const char *zm = getenv("ZIMT_MODEL");
    if (zm && *zm) {
        zt_err merr = {0};
        if (zt_model_dir_check(zm, &merr) != ZT_OK)
            return zt_fail(err, merr.code, "$ZIMT_MODEL: %s", merr.msg);
        return zt_fail(err, derr.code, "%s ($ZIMT_MODEL names %s; zimt doctor shows what it holds)",
                       derr.msg, zm);
    }
    if (!zt_cli_bundled_model(out, n))
        return zt_fail(err, derr.code, "%s; nor is the bundled tiny model installed", derr.msg);
    if (bundled)
        *bundled = 1;
    if (!quiet)
        zt_cli_fail("%s; using the bundled %s (zimt doctor explains)", derr.msg, out);
    return ZT_OK;
}

static int stdout_errno; /* the first failed flush's errno (zt_cli_flush) */

void zt_cli_flush(void)
{
    errno = 0;
    if (fflush(stdout) && !stdout_errno)
        stdout_errno = errno;
}

int zt_cli_vfail(const char *fmt, va_list ap)
{
    fputs("zimt: ", stderr);
    zt_cli_vprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return 1;
}

int zt_cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zt_cli_vfail(fmt, ap);
    va_end(ap);
    return 1;
}

static void usage(FILE *f)
{
    fputs("usage: zimt <command> [options]\n"
          "\n"
          "commands:\n"
          "  info      describe a model directory and check its tensors\n"
          "  tokenize  print the token ids of a prompt\n"
          "  gen       generate an image\n"
          "  doctor    find the model and check that generation can work\n"
          "  synth     write a model folder with synthetic weights\n"
          "  bench     time loading, each stage and whole jobs; peak memory\n"
          "  ui        open the terminal workbench (also: zimt with no command, on a terminal)\n"
          "\n"
          "See zimt(1) for details.\n",
          f);
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"info", zt_cmd_info},
    {"tokenize", zt_cmd_tokenize},
    {"gen", zt_cmd_gen},
    {"doctor", zt_cmd_doctor},
    {"synth", zt_cmd_synth},
    {"bench", zt_cmd_bench},
    {"ui", zt_cmd_ui},
};

/* A command's status once its standard output is written out: what it
 * printed (paths, JSON results, reports) is part of its result, so output
 * that could not be written (a full disk, a closed pipe) fails the command
 * even when everything else worked. */
static int flushed(int rc)
{
    zt_cli_flush();
    if (!ferror(stdout))
        return rc;
    fprintf(stderr, "zimt: cannot write to standard output: %s\n",
            stdout_errno ? strerror(stdout_errno) : "write error");
    return rc ? rc : 1;
}

int main(int argc, char **argv)
{
    /* Past a file size limit (ulimit -f, a full quota) a write must fail
     * with EFBIG, so the writer cleans up and says so; the default action
     * would kill the process and leave a temporary file behind. */
    signal(SIGXFSZ, SIG_IGN);
    /* On a terminal, no command opens the workbench; scripts and pipes get
     * the usage text. Workbench options without "ui" are the workbench's
     * anywhere: without a terminal it says it needs one (they were taken
     * for an unknown command). */
    if (argc < 2 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        return zt_cmd_ui(argc, argv);
    if (argc >= 2 && argv[1][0] == '-' && strcmp(argv[1], "-h") && strcmp(argv[1], "--help"))
        return zt_cmd_ui(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return flushed(0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return flushed(commands[i].fn(argc - 1, argv + 1));
    zt_cli_fail("unknown command '%s'", argv[1]);
    usage(stderr);
    return 2;
}
