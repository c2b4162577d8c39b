/* test_outpath.c - output names: slugs, templates, and the rule that a
 * name never leads out of its directory or over an existing file. */
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
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return zt_test_summary("test_outpath");
}
