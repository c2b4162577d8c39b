/* test_status.c - error messages: one that does not fit a zt_err loses
 * its middle, never its end, where the reason is; UTF-8 stays whole. */
#include "harness.h"
#include "status.h"

/* Whether s is whole UTF-8 (no character cut). */
static int utf8_whole(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : 4;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        p += n;
    }
    return 1;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

static void test_short(void)
{
    zt_err err = {0};
    CHECK(zt_fail(&err, ZT_ERR_IO, "%s: %s", "a/b.png", "no space left") == ZT_ERR_IO &&
              err.code == ZT_ERR_IO && !strcmp(err.msg, "a/b.png: no space left"),
          "short message: '%s'", err.msg);
    zt_err_prefix(&err, "gen");
    CHECK(!strcmp(err.msg, "gen: a/b.png: no space left"), "prefixed: '%s'", err.msg);
    CHECK(zt_fail(NULL, ZT_ERR_MISSING, "x") == ZT_ERR_MISSING, "no err given");
}

/* A path of 3000 bytes (directories named with two-byte characters) and a
 * reason: the message starts as the path does, ends with the reason, and
 * marks what went in between. */
static void test_long_path(void)
{
    char path[3100];
    size_t n = 0;
    while (n + 4 < 3000) {
        memcpy(path + n, "\xc3\xa9t/", 4); /* "ét/" */
        n += 4;
    }
    path[n] = '\0';
    zt_err err = {0};
    zt_fail(&err, ZT_ERR_IO, "%s: cannot write: No space left on device", path);
    CHECK(strlen(err.msg) < sizeof err.msg, "fits");
    CHECK(ends_with(err.msg, ": cannot write: No space left on device"), "the reason is kept: '%s'",
          err.msg + strlen(err.msg) - 60);
    CHECK(!strncmp(err.msg, path, 100), "the path's start is kept");
    CHECK(strstr(err.msg, " \xe2\x80\xa6 ") != NULL, "the cut is marked");
    CHECK(utf8_whole(err.msg), "no character cut in two");
    /* a prefix over a message that already fills the room: both ends kept */
    zt_err_prefix(&err, "transformer: shard %d", 3);
    CHECK(!strncmp(err.msg, "transformer: shard 3: ", 22), "the prefix is kept: '%.40s'", err.msg);
    CHECK(ends_with(err.msg, "No space left on device"), "the reason is still kept");
    CHECK(utf8_whole(err.msg) && strlen(err.msg) < sizeof err.msg, "whole and within the room");
}

/* Exactly the room (511 bytes) is whole; one more is cut in the middle. */
static void test_edge(void)
{
    char s[600];
    memset(s, 'a', sizeof s);
    s[511] = '\0';
    zt_err err = {0};
    zt_fail(&err, ZT_ERR_FORMAT, "%s", s);
    CHECK(!strcmp(err.msg, s), "511 bytes kept whole");
    memset(s, 'a', sizeof s);
    s[511] = 'z';
    s[512] = '\0';
    zt_fail(&err, ZT_ERR_FORMAT, "%s", s);
    CHECK(ends_with(err.msg, "az") && strstr(err.msg, "\xe2\x80\xa6") && strlen(err.msg) == 511,
          "512 bytes: %zu kept, ends '%s'", strlen(err.msg), err.msg + strlen(err.msg) - 3);
}

int main(void)
{
    RUN(test_short);
    RUN(test_long_path);
    RUN(test_edge);
    return zt_test_summary("test_status");
}
