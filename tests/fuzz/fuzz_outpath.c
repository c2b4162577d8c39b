/*
 * fuzz_outpath.c - output names: a name template (first line of the input)
 * expanded with a prompt (the rest), then resolved inside a scratch output
 * directory that holds a subfolder "sub", a link "in" to it and a link
 * "up" to the directory's parent.
 *
 * Property: a name that resolves lands directly in the directory or in
 * "sub" (through "in" or not), never through "up"; and the slug of any
 * prompt is made only of [a-z0-9-] and within its length.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "outpath.h"

static char fuzz_outdir[64];

/* Names are only resolved, never created, so the scratch directory holds
 * just what fuzz_outpath_dir made. */
static void fuzz_outpath_cleanup(void)
{
    static const char *const parts[] = {"up", "in", "sub"};
    char p[128];
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", fuzz_outdir, parts[i]);
        if (i < 2)
            unlink(p);
        else
            rmdir(p);
    }
    rmdir(fuzz_outdir);
}

static const char *fuzz_outpath_dir(void)
{
    if (!fuzz_outdir[0]) {
        char p[128];
        snprintf(fuzz_outdir, sizeof fuzz_outdir, "/tmp/zt-fuzz-outpath-XXXXXX");
        if (!mkdtemp(fuzz_outdir))
            abort();
        snprintf(p, sizeof p, "%s/sub", fuzz_outdir);
        if (mkdir(p, 0755) != 0)
            abort();
        snprintf(p, sizeof p, "%s/in", fuzz_outdir);
        if (symlink("sub", p) != 0)
            abort();
        snprintf(p, sizeof p, "%s/up", fuzz_outdir);
        if (symlink("..", p) != 0)
            abort();
        atexit(fuzz_outpath_cleanup);
    }
    return fuzz_outdir;
}

static int fuzz_outpath(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_outpath_dir();
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    char *nl = strchr(s, '\n');
    const char *prompt = "";
    if (nl) {
        *nl = 0;
        prompt = nl + 1;
    }
    char slug[ZT_OUTPATH_SLUG_MAX + 1];
    zt_outpath_slug(prompt, slug);
    size_t sl = strlen(slug);
    if (!sl || sl > ZT_OUTPATH_SLUG_MAX || slug[0] == '-' || slug[sl - 1] == '-' ||
        strspn(slug, "abcdefghijklmnopqrstuvwxyz0123456789-") != sl || strstr(slug, "--"))
        fuzz_fail("bad slug '%s'", slug);
    zt_outpath_vars v = {.prompt = prompt, .seed = 42, .index = 1, .width = 64, .height = 64,
                         .when = 0};
    char name[512], path[1024];
    zt_err err = {0};
    if (zt_outpath_expand(s, &v, name, sizeof name, &err) == ZT_OK &&
        zt_outpath_resolve(dir, name, 0, path, sizeof path, &err) == ZT_OK) {
        size_t dl = strlen(dir);
        if (strncmp(path, dir, dl) || path[dl] != '/')
            fuzz_fail("'%s' resolved to '%s'", name, path);
        char *slash = strrchr(path, '/');
        *slash = 0;
        char *real = realpath(path, NULL);
        char *root = realpath(dir, NULL);
        if (!real || !root)
            fuzz_fail("resolved directory of '%s' does not exist", name);
        size_t rl = strlen(root);
        if (strncmp(real, root, rl) || (real[rl] && real[rl] != '/'))
            fuzz_fail("'%s' lands in %s, outside %s", name, real, root);
        for (const char *c = slash + 1; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                fuzz_fail("control character in '%s'", name);
        free(real);
        free(root);
    }
    free(s);
    return 0;
}

ZT_FUZZ_TARGET(fuzz_outpath)
