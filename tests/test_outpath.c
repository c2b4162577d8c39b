/* test_outpath.c - output names: slugs, templates, and the rule that a
 * name never leads out of its directory or over an existing file. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "outpath.h"

static char tmp[256];

static void slug_is(const char *prompt, const char *want)
{
    char s[ZT_OUTPATH_SLUG_MAX + 1];
    zt_outpath_slug(prompt, s);
    CHECK(!strcmp(s, want), "slug of '%s': got '%s', want '%s'", prompt ? prompt : "(null)", s,
          want);
}

static void test_slug(void)
{
    slug_is("A Cat, on a MAT!", "a-cat-on-a-mat");
    slug_is("  ../../etc/passwd  ", "etc-passwd");
    slug_is("caf\xc3\xa9 \x1b[31mred\x1b[0m", "caf-31mred-0m");
    slug_is("", "image");
    slug_is(NULL, "image");
    slug_is("\xe6\xbc\xa2\xe5\xad\x97", "image");
    /* Long prompts are cut at a word boundary, within the limit. */
    char s[ZT_OUTPATH_SLUG_MAX + 1];
    zt_outpath_slug("a very long prompt about a small red fox jumping over a lazy brown dog", s);
    CHECK(strlen(s) <= ZT_OUTPATH_SLUG_MAX && s[strlen(s) - 1] != '-', "long slug '%s'", s);
    CHECK(!strcmp(s, "a-very-long-prompt-about-a-small-red-fox-jumping"), "long slug '%s'", s);
    char word[200];
    memset(word, 'x', sizeof word - 1);
    word[sizeof word - 1] = 0;
    zt_outpath_slug(word, s);
    CHECK(strlen(s) == ZT_OUTPATH_SLUG_MAX, "one long word: %zu bytes", strlen(s));
}

static void test_expand(void)
{
    zt_outpath_vars v = {.prompt = "A cat", .seed = 42, .index = 3, .width = 64, .height = 32,
                         .when = 0};
    char out[256];
    zt_err err = {0};
    CHECK(zt_outpath_expand("{seed}-{slug}-{n}-{w}x{h}.png", &v, out, sizeof out, &err) == ZT_OK,
          "%s", err.msg);
    CHECK(!strcmp(out, "42-a-cat-3-64x32.png"), "got '%s'", out);
    CHECK(zt_outpath_expand("{{x}}-{date}.png", &v, out, sizeof out, &err) == ZT_OK, "%s",
          err.msg);
    CHECK(!strncmp(out, "{x}-19", 6) && strlen(out) == strlen("{x}-19700101-000000.png"),
          "got '%s'", out);
    CHECK(zt_outpath_expand("{bogus}.png", &v, out, sizeof out, &err) == ZT_ERR_INVALID &&
              strstr(err.msg, "{bogus}"),
          "unknown field: %s", err.msg);
    CHECK(zt_outpath_expand("{seed", &v, out, sizeof out, &err) == ZT_ERR_INVALID, "unmatched {");
    CHECK(zt_outpath_expand("a}b", &v, out, sizeof out, &err) == ZT_ERR_INVALID, "unmatched }");
    CHECK(zt_outpath_expand("", &v, out, sizeof out, &err) == ZT_ERR_INVALID, "empty");
    CHECK(zt_outpath_expand("{slug}{slug}", &v, out, 8, &err) == ZT_ERR_INVALID, "too long");
}

static void refused(const char *name, zt_status want, const char *msg)
{
    char out[512];
    zt_err err = {0};
    zt_status st = zt_outpath_resolve(tmp, name, 0, out, sizeof out, &err);
    CHECK(st == want && strstr(err.msg, msg), "'%s': status %d, '%s' (want %d, '%s')", name, st,
          err.msg, want, msg);
}

static void test_resolve(void)
{
    char out[512], p[512];
    zt_err err = {0};
    CHECK(zt_outpath_resolve(tmp, "a.png", 0, out, sizeof out, &err) == ZT_OK, "%s", err.msg);
    snprintf(p, sizeof p, "%s/a.png", tmp);
    CHECK(!strcmp(out, p), "got %s", out);
    refused("../a.png", ZT_ERR_INVALID, "'..'");
    refused("sub/../../a.png", ZT_ERR_INVALID, "'..'");
    refused("/etc/a.png", ZT_ERR_INVALID, "absolute");
    refused("", ZT_ERR_INVALID, "empty");
    refused("a\x1b[2J.png", ZT_ERR_INVALID, "control character");
    refused("sub/", ZT_ERR_INVALID, "directory");
    refused("nodir/a.png", ZT_ERR_MISSING, "nodir");

    /* A link to a directory outside is refused; one inside is fine. */
    snprintf(p, sizeof p, "%s/out", tmp);
    CHECK(symlink("/tmp", p) == 0, "symlink");
    refused("out/a.png", ZT_ERR_INVALID, "leads out");
    snprintf(p, sizeof p, "%s/sub", tmp);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/in", tmp);
    CHECK(symlink("sub", p) == 0, "symlink");
    CHECK(zt_outpath_resolve(tmp, "in/a.png", 0, out, sizeof out, &err) == ZT_OK, "%s",
          err.msg);
    CHECK(zt_outpath_resolve(tmp, "./sub/a.png", 0, out, sizeof out, &err) == ZT_OK, "%s",
          err.msg);

    /* Existing entries, dangling links included, are never replaced. */
    snprintf(p, sizeof p, "%s/taken.png", tmp);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
    refused("taken.png", ZT_ERR_EXISTS, "already exists");
    snprintf(p, sizeof p, "%s/dangling.png", tmp);
    CHECK(symlink("/tmp/zimt-nonexistent-target.png", p) == 0, "symlink");
    refused("dangling.png", ZT_ERR_EXISTS, "already exists");
    CHECK(zt_outpath_resolve(tmp, "taken.png", 1, out, sizeof out, &err) == ZT_OK, "%s",
          err.msg);
    snprintf(p, sizeof p, "%s/taken-2.png", tmp);
    CHECK(!strcmp(out, p), "unique name: got %s", out);

    /* The directory itself may be reached through a link. */
    snprintf(p, sizeof p, "%s/in", tmp);
    CHECK(zt_outpath_resolve(p, "a.png", 0, out, sizeof out, &err) == ZT_OK, "%s", err.msg);
    CHECK(zt_outpath_resolve("/nonexistent-zimt-dir", "a.png", 0, out, sizeof out, &err) ==
              ZT_ERR_MISSING,
          "missing dir: %s", err.msg);
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* A missing output directory is made with its parents, and what a call
 * made is what unmake takes back: nothing that existed before, nothing
 * that is not empty. */
static void test_make_dir(void)
{
    char d[512], made[512], p[600];
    zt_err err = {0};
    snprintf(d, sizeof d, "%s/mk/a/b/", tmp);
    CHECK(zt_outpath_make_dir(d, made, sizeof made, &err) == ZT_OK, "%s", err.msg);
    CHECK(is_dir(d), "%s not made", d);
    snprintf(p, sizeof p, "%s/mk", tmp);
    CHECK(!strcmp(made, p), "outermost made: %s", made);
    /* the name then joins without a doubled slash */
    char out[700];
    CHECK(zt_outpath_resolve(d, "x.png", 0, out, sizeof out, &err) == ZT_OK, "%s", err.msg);
    snprintf(p, sizeof p, "%sx.png", d);
    CHECK(!strcmp(out, p), "joined: %s", out);

    zt_outpath_unmake_dir(d, made);
    snprintf(p, sizeof p, "%s/mk", tmp);
    CHECK(!is_dir(p), "%s left behind", p);
    CHECK(is_dir(tmp), "the directory that was there went");

    /* existing: nothing made, nothing taken back */
    CHECK(zt_outpath_make_dir(tmp, made, sizeof made, &err) == ZT_OK && made[0] == 0,
          "existing: '%s' %s", made, err.msg);
    zt_outpath_unmake_dir(tmp, made);
    CHECK(is_dir(tmp), "unmake took an existing directory");

    /* a directory that gained a file is kept */
    snprintf(d, sizeof d, "%s/keep/inner", tmp);
    CHECK(zt_outpath_make_dir(d, made, sizeof made, &err) == ZT_OK, "%s", err.msg);
    snprintf(p, sizeof p, "%s/keep/f.png", tmp);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
    zt_outpath_unmake_dir(d, made);
    CHECK(!is_dir(d) && access(p, F_OK) == 0, "a directory with a file in it was removed");

    /* a file in the way: ENOTDIR, named, and nothing left made */
    snprintf(d, sizeof d, "%s/keep/f.png/x/y", tmp);
    errno = 0;
    CHECK(zt_outpath_make_dir(d, made, sizeof made, &err) == ZT_ERR_IO && errno == ENOTDIR,
          "through a file: %d, errno %d", err.code, errno);
    CHECK(strstr(err.msg, "f.png is not a directory") != NULL, "message: %s", err.msg);
    /* with "..", what a failing call made stays rather than risk taking
     * back one that was there before */
    snprintf(d, sizeof d, "%s/new3/h/../../keep/f.png/z", tmp);
    CHECK(zt_outpath_make_dir(d, made, sizeof made, &err) != ZT_OK, "through a file, via '..'");
    snprintf(p, sizeof p, "%s/new3/h", tmp);
    CHECK(is_dir(p), "made through '..': taken back");
    snprintf(d, sizeof d, "%s/empty-before", tmp);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/new4/../empty-before/sub", tmp);
    CHECK(zt_outpath_make_dir(d, made, sizeof made, &err) == ZT_OK && made[0] == 0,
          "'..' path: made '%s'", made);
    snprintf(d, sizeof d, "%s/new4/../empty-before/sub", tmp);
    zt_outpath_unmake_dir(d, made);
    snprintf(p, sizeof p, "%s/empty-before", tmp);
    CHECK(is_dir(p), "a directory that was there before went");
    /* "." before the first directory made does not matter */
    snprintf(d, sizeof d, "%s/./dotnew/a", tmp);
    CHECK(zt_outpath_make_dir(d, made, sizeof made, &err) == ZT_OK && made[0], "'./': '%s' %s",
          made, err.msg);
    zt_outpath_unmake_dir(d, made);
    snprintf(p, sizeof p, "%s/dotnew", tmp);
    CHECK(!is_dir(p), "'./' path: %s not taken back", p);
    /* without dots, a failure deeper (a name past NAME_MAX) takes back
     * what the call made */
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    char dl[700];
    snprintf(dl, sizeof dl, "%s/new5/%s", tmp, longname);
    CHECK(zt_outpath_make_dir(dl, made, sizeof made, &err) != ZT_OK, "a name past NAME_MAX");
    snprintf(p, sizeof p, "%s/new5", tmp);
    CHECK(!is_dir(p), "the part made before the failure is left: %s", p);
    CHECK(zt_outpath_make_dir("", made, sizeof made, &err) == ZT_ERR_INVALID, "empty path");
}

/* A name's subdirectories are made inside its directory only: through a
 * link that stays inside, not through one that leads out, and never for
 * a name the rules refuse. */
static void test_make_subdir(void)
{
    char d[512], made[512], p[600];
    zt_err err = {0};
    snprintf(d, sizeof d, "%s/sd", tmp);
    mkdir(d, 0755);
    CHECK(zt_outpath_make_subdir(d, "a.png", made, sizeof made, &err) == ZT_OK && !made[0],
          "no directory part: '%s' %s", made, err.msg);
    CHECK(zt_outpath_make_subdir(d, "x/y/a.png", made, sizeof made, &err) == ZT_OK, "%s",
          err.msg);
    snprintf(p, sizeof p, "%s/x/y", d);
    CHECK(is_dir(p), "%s not made", p);
    snprintf(p, sizeof p, "%s/x", d);
    CHECK(!strcmp(made, p), "outermost made: %s", made);
    CHECK(zt_outpath_make_subdir(d, "x/y/b.png", made, sizeof made, &err) == ZT_OK && !made[0],
          "existing: '%s'", made);

    snprintf(p, sizeof p, "%s/in", d);
    CHECK(symlink("x", p) == 0, "symlink");
    CHECK(zt_outpath_make_subdir(d, "in/z/a.png", made, sizeof made, &err) == ZT_OK, "%s",
          err.msg);
    snprintf(p, sizeof p, "%s/x/z", d);
    CHECK(is_dir(p), "made through a link inside: %s", p);

    char far[512];
    snprintf(far, sizeof far, "%s/far", tmp);
    mkdir(far, 0755);
    snprintf(p, sizeof p, "%s/out", d);
    CHECK(symlink(far, p) == 0, "symlink");
    CHECK(zt_outpath_make_subdir(d, "out/new/a.png", made, sizeof made, &err) ==
                  ZT_ERR_INVALID &&
              strstr(err.msg, "leads out"),
          "through a link out: %s", err.msg);
    snprintf(p, sizeof p, "%s/new", far);
    CHECK(!is_dir(p), "made at the link's far end");
    CHECK(zt_outpath_make_subdir(d, "../esc/a.png", made, sizeof made, &err) == ZT_ERR_INVALID,
          "'..' name");
    CHECK(zt_outpath_make_subdir(d, "/abs/a.png", made, sizeof made, &err) == ZT_ERR_INVALID,
          "absolute name");
    snprintf(p, sizeof p, "%s/file", d);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
    CHECK(zt_outpath_make_subdir(d, "file/q/a.png", made, sizeof made, &err) != ZT_OK,
          "through a file");
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/zt-outpath-XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_slug);
    RUN(test_expand);
    RUN(test_resolve);
    RUN(test_make_dir);
    RUN(test_make_subdir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return zt_test_summary("test_outpath");
}
