/*
 * test_image.c - settings text/JSON and PNG files (core/image.h).
 *
 * Everything is written under a fresh directory in /tmp, which is checked
 * at the end for leftover temporary files and then removed.
 */
#include <dirent.h>
#include <locale.h>
#include <png.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "image.h"
#include "json.h"

static char dir[64];

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

/* Type ("tEXt", "iTXt") of the chunk whose keyword is key, or "" */
static void chunk_type_of(const unsigned char *b, size_t n, const char *key, char type[5])
{
    type[0] = 0;
    size_t kl = strlen(key);
    for (size_t at = 8; at + 12 <= n;) {
        size_t len = (size_t)b[at] << 24 | (size_t)b[at + 1] << 16 | (size_t)b[at + 2] << 8 |
                     b[at + 3];
        const unsigned char *data = b + at + 8;
        if (at + 12 + len > n)
            return;
        if (len > kl && memcmp(data, key, kl) == 0 && data[kl] == 0) {
            memcpy(type, b + at + 4, 4);
            type[4] = 0;
            return;
        }
        at += 12 + len;
    }
}

static uint8_t *test_pixels(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++)
        px[i] = (uint8_t)(i * 37 + (i / 3) * 11);
    return px;
}

static void sample_params(zt_gen_params *p)
{
    zt_gen_params_init(p);
    zt_gen_params_set_prompt(p, "a cat on a mat", NULL);
    p->width = 1024;
    p->height = 768;
    p->seed = 42;
}

/* ------------------------------------------------------------- A1111 */

static void test_a1111_format(void)
{
    zt_gen_params p;
    sample_params(&p);
    char *t = NULL;
    CHECK(zt_gen_params_to_a1111(&p, &t, NULL) == ZT_OK, "to_a1111");
    const char *want = "a cat on a mat\nSteps: 8, Sampler: Euler, CFG scale: 0, Seed: 42, "
                       "Size: 1024x768, Model: Z-Image-Turbo";
    CHECK(t && strcmp(t, want) == 0, "got [%s]", t);
    free(t);

    zt_gen_params_set_negative(&p, "blurry, dark", NULL);
    p.guidance = 3.5f;
    p.seed = UINT64_MAX;
    snprintf(p.model, sizeof p.model, "my: model, \"v2\"");
    snprintf(p.rng, sizeof p.rng, "cpu");
    CHECK(zt_gen_params_to_a1111(&p, &t, NULL) == ZT_OK, "to_a1111");
    want = "a cat on a mat\nNegative prompt: blurry, dark\nSteps: 8, Sampler: Euler, "
           "CFG scale: 3.5, Seed: 18446744073709551615, Size: 1024x768, "
           "Model: \"my: model, \\\"v2\\\"\", RNG: cpu";
    CHECK(t && strcmp(t, want) == 0, "got [%s]", t);

    zt_gen_params q;
    zt_gen_params_init(&q);
    zt_err err;
    CHECK(zt_gen_params_from_a1111(&q, t, &err) == ZT_OK, "parse: %s", err.msg);
    CHECK(zt_gen_params_equal(&p, &q), "round trip differs: [%s] [%s] [%s]", q.prompt,
          q.negative_prompt, q.model);
    free(t);
    zt_gen_params_free(&p);
    zt_gen_params_free(&q);
}

static void test_a1111_parse(void)
{
    zt_gen_params p;
    zt_gen_params_init(&p);
    zt_err err;
    /* a file from another front end: unknown keys, multi-line prompts */
    const char *a = "line one\nline two\nNegative prompt: ugly\nbad hands\n"
                    "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 123, "
                    "Size: 512x640, Model hash: abc123, Model: sd15, Version: v1.6\n";
    CHECK(zt_gen_params_from_a1111(&p, a, &err) == ZT_OK, "%s", err.msg);
    CHECK(strcmp(p.prompt, "line one\nline two") == 0, "prompt [%s]", p.prompt);
    CHECK(strcmp(p.negative_prompt, "ugly\nbad hands") == 0, "neg [%s]", p.negative_prompt);
    CHECK(p.steps == 20 && p.seed == 123 && p.width == 512 && p.height == 640 &&
              p.guidance == 7.0f,
          "numbers %d %llu %dx%d %g", p.steps, (unsigned long long)p.seed, p.width, p.height,
          (double)p.guidance);
    CHECK(strcmp(p.sampler, "DPM++ 2M Karras") == 0 && strcmp(p.model, "sd15") == 0,
          "strings [%s] [%s]", p.sampler, p.model);

    /* no settings line: all prompt */
    CHECK(zt_gen_params_from_a1111(&p, "just: a prompt, really", &err) == ZT_OK, "%s",
          err.msg);
    CHECK(strcmp(p.prompt, "just: a prompt, really") == 0 && p.steps == 8, "[%s]", p.prompt);
    CHECK(zt_gen_params_from_a1111(&p, "Negative prompt: x\nSteps: 3", &err) == ZT_OK, "%s",
          err.msg);
    CHECK(!*p.prompt && strcmp(p.negative_prompt, "x") == 0 && p.steps == 3, "neg only");

    /* malformed values */
    CHECK(zt_gen_params_from_a1111(&p, "x\nSteps: many, Seed: 1", &err) == ZT_ERR_FORMAT,
          "bad steps accepted");
    CHECK(strstr(err.msg, "Steps") != NULL, "message names the key: %s", err.msg);
    CHECK(zt_gen_params_from_a1111(&p, "x\nSteps: 1, Seed: 18446744073709551616", &err) ==
              ZT_ERR_FORMAT,
          "seed overflow accepted");
    CHECK(zt_gen_params_from_a1111(&p, "x\nSteps: 1, Size: 10x", &err) == ZT_ERR_FORMAT,
          "bad size accepted");
    CHECK(zt_gen_params_from_a1111(&p, "\xff\xfe", &err) == ZT_ERR_UTF8, "bad UTF-8");
    zt_gen_params_free(&p);
}

/* ---------------------------------------------------------------- JSON */

/* Under a locale whose decimal point is a comma (LC_NUMERIC, which a
 * workbench or any program using the library may set), the settings still
 * read and write '.': under de_DE the JSON held "guidance":3,5 (no JSON),
 * the A1111 line "CFG scale: 3,5," (then read as part of the prompt) and
 * 3.5 could not be read at all. tests/run.sh makes the locale in
 * $ZT_TEST_LOCPATH where localedef and the locale sources are installed. */
static void test_decimal_comma(void)
{
    const char *locs = getenv("ZT_TEST_LOCPATH");
    if (!locs || setenv("LOCPATH", locs, 1) || !setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
        printf("test_decimal_comma: no de_DE.UTF-8 locale (ZT_TEST_LOCPATH), skipped\n");
        return;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%.1f", 3.5);
    CHECK(!strcmp(buf, "3,5"), "the locale writes a comma: %s", buf);
    CHECK(!strcmp(zt_float_text(buf, sizeof buf, 3.5f), "3.5"), "float text %s", buf);
    CHECK(!strcmp(zt_double_text(buf, sizeof buf, 1e6 + 0.25), "1000000.25"), "double %s", buf);
    char *end;
    CHECK(zt_strtof_c("3.5", &end) == 3.5f && !*end, "strtof_c");
    CHECK(zt_strtod_c("0.25x", &end) == 0.25 && *end == 'x', "strtod_c");
    zt_gen_params p, q;
    sample_params(&p);
    zt_gen_params_init(&q);
    p.guidance = 3.5f;
    char *t = NULL;
    zt_err err = {0};
    CHECK(zt_gen_params_to_json(&p, &t, &err) == ZT_OK && strstr(t, "\"guidance\":3.5,") &&
              zt_gen_params_from_json(&q, t, &err) == ZT_OK && zt_gen_params_equal(&p, &q),
          "JSON: %s (%s)", t ? t : "-", err.msg);
    free(t);
    t = NULL;
    zt_gen_params_free(&q);
    zt_gen_params_init(&q);
    CHECK(zt_gen_params_to_a1111(&p, &t, &err) == ZT_OK && strstr(t, "CFG scale: 3.5, ") &&
              zt_gen_params_from_a1111(&q, t, &err) == ZT_OK && zt_gen_params_equal(&p, &q),
          "A1111: %s -> prompt '%s', guidance %g", t ? t : "-", q.prompt, (double)q.guidance);
    free(t);
    zt_gen_params_free(&p);
    zt_gen_params_free(&q);
    setlocale(LC_NUMERIC, "C");
}

static void test_json(void)
{
    zt_gen_params p, q;
    sample_params(&p);
    zt_gen_params_init(&q);
    zt_gen_params_set_negative(&p, "line\n\"quoted\" \xe2\x9c\x93", NULL);
    p.guidance = 0.1f;
    uint64_t seeds[] = {0, 1, UINT64_C(1) << 53, (UINT64_C(1) << 53) + 1, UINT64_MAX};
    for (int i = 0; i < 5; i++) {
        p.seed = seeds[i];
        char *js = NULL;
        zt_err err;
        CHECK(zt_gen_params_to_json(&p, &js, &err) == ZT_OK, "to_json");
        CHECK(zt_gen_params_from_json(&q, js, &err) == ZT_OK, "from_json: %s", err.msg);
        CHECK(zt_gen_params_equal(&p, &q), "round trip of seed %llu: %s",
              (unsigned long long)seeds[i], js);
        free(js);
    }
    /* a guidance is written as the float's shortest text, not as the
     * double it widens to (7.3000001907348633), and reads back the same */
    const float gs[] = {7.3f, 0.1f, 2.25f, 1e-6f, 100.0f, 3.4028235e38f};
    const char *gtext[] = {"\"guidance\":7.3,", "\"guidance\":0.1,", "\"guidance\":2.25,",
                           "\"guidance\":1e-06,", "\"guidance\":100,",
                           "\"guidance\":3.4028235e+38,"};
    for (int i = 0; i < 6; i++) {
        char *js = NULL;
        zt_err err;
        p.guidance = gs[i];
        CHECK(zt_gen_params_to_json(&p, &js, &err) == ZT_OK && strstr(js, gtext[i]) &&
                  zt_gen_params_from_json(&q, js, &err) == ZT_OK && q.guidance == gs[i],
              "guidance %.9g written as %s: %s", (double)gs[i], gtext[i], js ? js : "-");
        free(js);
    }
    zt_err err;
    CHECK(zt_gen_params_from_json(&q, "{\"steps\": \"eight\"}", &err) == ZT_ERR_FORMAT,
          "string steps accepted");
    CHECK(strstr(err.msg, "steps") != NULL, "message names the key: %s", err.msg);
    CHECK(zt_gen_params_from_json(&q, "{\"seed\": -1}", &err) == ZT_ERR_FORMAT,
          "negative seed accepted");
    /* a number past 2^53 has lost digits: the message says to use a string */
    CHECK(zt_gen_params_from_json(&q, "{\"seed\": 18446744073709551615}", &err) ==
                  ZT_ERR_FORMAT &&
              strstr(err.msg, "must be a string"),
          "seed 2^64-1 as a number: %s", err.msg);
    /* 2^53 + 1 as a number reads as 2^53, another seed: from 2^53 up only
     * a string is taken (and written) */
    CHECK(zt_gen_params_from_json(&q, "{\"seed\": 9007199254740993}", &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, "must be a string"),
          "seed 2^53+1 as a number: %s", err.msg);
    CHECK(zt_gen_params_from_json(&q, "{\"seed\": 9007199254740991}", &err) == ZT_OK &&
              q.seed == 9007199254740991ULL,
          "seed 2^53-1 as a number: %s", err.msg);
    CHECK(zt_gen_params_from_json(&q, "[1,2]", &err) == ZT_ERR_FORMAT, "array accepted");
    CHECK(zt_gen_params_from_json(&q, "{\"prompt\": \"a\\u0000b\"}", &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, "u0000"),
          "a NUL escape cut the prompt short: %s", q.prompt);
    CHECK(zt_gen_params_from_json(&q, "{\"prompt\": \"a\\\\u0000b\\\\\\u0041\"}", &err) == ZT_OK &&
              !strcmp(q.prompt, "a\\u0000b\\A"),
          "a backslash before u0000: %s", q.prompt);
    CHECK(!zt_json_has_nul_escape("{\"k\": \"\\\\\", \"v\": \"u0000\"}") &&
              zt_json_has_nul_escape("[\"\\\\\\u0000\"]"),
          "escapes read one by one");
    CHECK(zt_gen_params_from_json(&q, "{\"width\": 512, \"future\": 1}", &err) == ZT_OK &&
              q.width == 512 && q.height == 1024,
          "partial JSON");
    /* a key given twice would be read as its first value without a word;
     * another version would mean other fields */
    CHECK(zt_gen_params_from_json(&q, "{\"seed\": 1, \"width\": 64, \"seed\": 2}", &err) ==
                  ZT_ERR_FORMAT &&
              strstr(err.msg, "\"seed\" given twice"),
          "a key given twice: %s", err.msg);
    CHECK(zt_gen_params_from_json(&q, "{\"version\": 2, \"seed\": 2}", &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, "version 2; this zimt reads version 1"),
          "version 2: %s", err.msg);
    CHECK(zt_gen_params_from_json(&q, "{\"version\": \"1\"}", &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, "that is not a number"),
          "version as text: %s", err.msg);
    CHECK(zt_gen_params_from_json(&q, "{\"version\": 1, \"seed\": 2}", &err) == ZT_OK &&
              q.seed == 2,
          "version 1: %s", err.msg);
    zt_gen_params_free(&p);
    zt_gen_params_free(&q);
}

/* ----------------------------------------------------------------- PNG */

static void round_trip(const char *name, const char *prompt, const char *want_type)
{
    char path[256];
    path_in(path, sizeof path, name);
    zt_gen_params p, q;
    sample_params(&p);
    zt_gen_params_set_prompt(&p, prompt, NULL);
    zt_gen_params_init(&q);
    int w = 37, h = 23;
    uint8_t *px = test_pixels(w, h);
    zt_err err;
    CHECK(zt_png_write(path, px, w, h, &p, &err) == ZT_OK, "write: %s", err.msg);
    uint8_t *got = NULL;
    int gw = 0, gh = 0, has = 0;
    CHECK(zt_png_read(path, &got, &gw, &gh, &q, &has, &err) == ZT_OK, "read: %s", err.msg);
    CHECK(gw == w && gh == h, "size %dx%d", gw, gh);
    CHECK(got && memcmp(got, px, (size_t)w * h * 3) == 0, "pixels differ");
    CHECK(has && zt_gen_params_equal(&p, &q), "params differ: [%s]", q.prompt);

    size_t n;
    unsigned char *b = slurp(path, &n);
    char type[5];
    chunk_type_of(b, n, "parameters", type);
    CHECK(strcmp(type, want_type) == 0, "parameters chunk is %s, want %s", type, want_type);
    chunk_type_of(b, n, "zimt", type);
    CHECK(strcmp(type, "iTXt") == 0, "zimt chunk is %s", type);

    /* without the zimt chunk the A1111 text alone restores the settings */
    for (size_t at = 8; b && at + 12 <= n;) {
        size_t len = (size_t)b[at] << 24 | (size_t)b[at + 1] << 16 | (size_t)b[at + 2] << 8 |
                     b[at + 3];
        if (memcmp(b + at + 8, "zimt", 5) == 0) {
            memmove(b + at, b + at + 12 + len, n - at - 12 - len);
            n -= 12 + len;
            break;
        }
        at += 12 + len;
    }
    char path2[300];
    snprintf(path2, sizeof path2, "%s.nozimt.png", path);
    spit(path2, b, n);
    CHECK(zt_png_read(path2, NULL, NULL, NULL, &q, &has, &err) == ZT_OK, "read: %s", err.msg);
    CHECK(has && zt_gen_params_equal(&p, &q), "A1111-only params differ: [%s]", q.prompt);
    free(b);
    free(got);
    free(px);
    zt_gen_params_free(&p);
    zt_gen_params_free(&q);
}

static void test_png_round_trip(void)
{
    round_trip("ascii.png", "a plain prompt", "tEXt");
    round_trip("latin1.png", "caf\xc3\xa9 cr\xc3\xa8me, \xc2\xbd price", "tEXt");
    round_trip("unicode.png", "\xe7\x8c\xab \xf0\x9f\x90\xb1\nsecond line", "iTXt");
}

static void test_png_no_params(void)
{
    char path[256];
    path_in(path, sizeof path, "plain.png");
    uint8_t *px = test_pixels(4, 3);
    zt_err err;
    CHECK(zt_png_write(path, px, 4, 3, NULL, &err) == ZT_OK, "write: %s", err.msg);
    zt_gen_params q;
    zt_gen_params_init(&q);
    int has = 1;
    CHECK(zt_png_read(path, NULL, NULL, NULL, &q, &has, &err) == ZT_OK, "read: %s", err.msg);
    CHECK(has == 0 && q.steps == 8 && !*q.prompt, "defaults expected");
    zt_gen_params_free(&q);
    free(px);
}

static void test_png_refuse_overwrite(void)
{
    char path[256];
    path_in(path, sizeof path, "once.png");
    uint8_t *px = test_pixels(8, 8);
    zt_err err;
    CHECK(zt_png_write(path, px, 8, 8, NULL, &err) == ZT_OK, "write: %s", err.msg);
    size_t n1, n2;
    unsigned char *before = slurp(path, &n1);
    px[0] ^= 0xff;
    CHECK(zt_png_write(path, px, 8, 8, NULL, &err) == ZT_ERR_EXISTS, "overwrote");
    CHECK(strstr(err.msg, path) != NULL, "message names the path: %s", err.msg);
    unsigned char *after = slurp(path, &n2);
    CHECK(before && after && n1 == n2 && memcmp(before, after, n1) == 0, "file changed");
    free(before);
    free(after);
    free(px);
}

static void test_png_bad_dir(void)
{
    char path[256];
    path_in(path, sizeof path, "no/such/dir/x.png");
    uint8_t px[3] = {1, 2, 3};
    zt_err err;
    CHECK(zt_png_write(path, px, 1, 1, NULL, &err) == ZT_ERR_IO, "wrote into a missing dir");
    CHECK(strstr(err.msg, path) != NULL, "message names the path: %s", err.msg);
    CHECK(zt_png_write(path, px, 0, 1, NULL, &err) == ZT_ERR_INVALID, "0 width accepted");
    zt_gen_params p;
    sample_params(&p);
    zt_gen_params_set_prompt(&p, "bad \xc3", NULL);
    path_in(path, sizeof path, "badutf8.png");
    CHECK(zt_png_write(path, px, 1, 1, &p, &err) == ZT_ERR_UTF8, "invalid UTF-8 written");
    CHECK(access(path, F_OK) != 0, "file left after refusal");
    zt_gen_params_free(&p);
}

/* A write that hits the file size limit (like a full disk) fails cleanly. */
static void test_png_write_fails(void)
{
    char path[256];
    path_in(path, sizeof path, "big.png");
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {16384, 16384};
        setrlimit(RLIMIT_FSIZE, &rl);
        int w = 256, h = 256;
        uint8_t *px = malloc((size_t)w * h * 3);
        uint32_t x = 12345;
        for (int i = 0; i < w * h * 3; i++) { /* incompressible */
            x = x * 1664525u + 1013904223u;
            px[i] = (uint8_t)(x >> 24);
        }
        zt_err err;
        zt_status st = zt_png_write(path, px, w, h, NULL, &err);
        free(px);
        _exit(st == ZT_ERR_IO && strstr(err.msg, path) ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "size-limited write not an I/O error");
    CHECK(access(path, F_OK) != 0, "partial file left behind");
}

static void test_png_hostile(void)
{
    char path[256], bad[256];
    path_in(path, sizeof path, "good.png");
    path_in(bad, sizeof bad, "bad.png");
    zt_gen_params p;
    sample_params(&p);
    uint8_t *px = test_pixels(64, 64);
    zt_err err;
    CHECK(zt_png_write(path, px, 64, 64, &p, &err) == ZT_OK, "write: %s", err.msg);
    size_t n;
    unsigned char *b = slurp(path, &n);
    size_t cuts[] = {0, 4, 8, 20, 33, 60, n / 2, n - 13, n - 1};
    for (int i = 0; b && i < (int)(sizeof cuts / sizeof cuts[0]); i++) {
        unlink(bad);
        spit(bad, b, cuts[i]);
        uint8_t *got = NULL;
        zt_status st = zt_png_read(bad, &got, NULL, NULL, &p, NULL, &err);
        /* a cut inside the trailing IEND only may still decode the image */
        if (cuts[i] < n - 12) {
            CHECK(st != ZT_OK, "truncated at %zu read fine", cuts[i]);
            CHECK(st != ZT_OK && strstr(err.msg, bad) != NULL, "message: %s", err.msg);
            if (cuts[i] >= 8)
                CHECK(st == ZT_ERR_FORMAT && strstr(err.msg, "truncated") != NULL,
                      "cut at %zu: %s", cuts[i], err.msg);
        }
        free(got);
    }
    /* flipped bytes in the middle of the image data */
    for (size_t i = n / 2; b && i < n / 2 + 8; i++)
        b[i] ^= 0x5a;
    unlink(bad);
    spit(bad, b, n);
    uint8_t *got = NULL;
    CHECK(zt_png_read(bad, &got, NULL, NULL, &p, NULL, &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, bad) && strstr(err.msg, "the PNG file is damaged ("),
          "corrupt data: %s", err.msg);
    free(got);
    free(b);

    /* an IHDR claiming 100000 x 100000 (and nothing after it): refused for
     * its size, which the message gives */
    static const unsigned char huge[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0, 0x27, 0x30, 0x9c, 0x9f};
    unlink(bad);
    spit(bad, huge, sizeof huge);
    CHECK(zt_png_read(bad, &got, NULL, NULL, NULL, NULL, &err) == ZT_ERR_TOO_BIG && !got &&
              strstr(err.msg, "image 100000x100000 is larger than allowed"),
          "huge: %s", err.msg);
    CHECK(zt_png_read("/nonexistent/x.png", &got, NULL, NULL, NULL, NULL, &err) == ZT_ERR_IO,
          "missing file");
    /* a FIFO in the PNG's place (--from) is refused at once, not waited on */
    unlink(bad);
    CHECK(mkfifo(bad, 0600) == 0, "mkfifo %s", bad);
    CHECK(zt_png_read(bad, &got, NULL, NULL, &p, NULL, &err) == ZT_ERR_FORMAT && !got &&
              strstr(err.msg, "not a regular file") && strstr(err.msg, bad),
          "FIFO: %s", err.msg);
    unlink(bad);
    free(px);
    zt_gen_params_free(&p);
}

/* Gray + alpha 16-bit written by libpng directly comes back as RGB8. */
static void test_png_convert(void)
{
    char path[256];
    path_in(path, sizeof path, "gray16.png");
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png))) {
        CHECK(0, "libpng setup");
        return;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, 3, 2, 16, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    unsigned char row[3 * 4];
    for (int y = 0; y < 2; y++) {
        for (int x = 0; x < 3; x++) {
            row[x * 4] = (unsigned char)(x * 100 + y), row[x * 4 + 1] = 0x80;
            row[x * 4 + 2] = 0xff, row[x * 4 + 3] = 0xff;
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    uint8_t *got = NULL;
    int w, h;
    zt_err err;
    CHECK(zt_png_read(path, &got, &w, &h, NULL, NULL, &err) == ZT_OK, "read: %s", err.msg);
    CHECK(w == 3 && h == 2, "size %dx%d", w, h);
    for (int i = 0; got && i < 6; i++) {
        int v = (i % 3) * 100 + i / 3;
        CHECK(got[i * 3] == v && got[i * 3 + 1] == v && got[i * 3 + 2] == v,
              "pixel %d = %d %d %d want %d", i, got[i * 3], got[i * 3 + 1], got[i * 3 + 2], v);
    }
    free(got);
}

/* A 1x1 PNG written by libpng directly with the n text chunks t. */
static int write_text_list(const char *path, png_text *t, int n)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png)))
        return -1;
    png_init_io(png, f);
    png_set_IHDR(png, info, 1, 1, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_text(png, info, t, n);
    png_write_info(png, info);
    unsigned char row[3] = {1, 2, 3};
    png_write_row(png, row);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 0;
}

/* A 1x1 PNG written by libpng directly with n_filler tEXt chunks and then
 * one text chunk key = text (iTXt when itxt is set). */
static int write_texts(const char *path, int n_filler, const char *key, const char *text,
                       int itxt)
{
    png_text t[64];
    memset(t, 0, sizeof t);
    char keys[64][16];
    for (int i = 0; i < n_filler && i < 63; i++) {
        snprintf(keys[i], sizeof keys[i], "note%d", i);
        t[i].compression = PNG_TEXT_COMPRESSION_NONE;
        t[i].key = keys[i];
        t[i].text = (char *)"x";
    }
    int n = n_filler < 63 ? n_filler : 63;
    /* itxt: 1 for iTXt, 2 for compressed zTXt, 0 for plain tEXt */
    t[n].compression = itxt == 1   ? PNG_ITXT_COMPRESSION_NONE
                       : itxt == 2 ? PNG_TEXT_COMPRESSION_zTXt
                                   : PNG_TEXT_COMPRESSION_NONE;
    t[n].key = (char *)key;
    t[n].text = (char *)text;
    return write_text_list(path, t, n + 1);
}

/* Settings that are there but cannot be taken are said to be so, not
 * reported as no settings. */
static void test_png_settings_dropped(void)
{
    {
        /* a "parameters" text past 4 MiB: libpng warns and reads it all
         * the same, and it became the prompt (30 MB, 25 s to tokenize) */
        char path[256];
        path_in(path, sizeof path, "bigtext.png");
        size_t n = (5u << 20) + 7;
        char *big = malloc(n + 1);
        memset(big, 'a', n);
        memcpy(big + n - 7, "\nSeed:3", 7);
        big[n] = 0;
        zt_gen_params p;
        zt_gen_params_init(&p);
        zt_err err = {0};
        int has = -1;
        CHECK(write_texts(path, 0, "parameters", big, 0) == 0, "write");
        CHECK(zt_png_read(path, NULL, NULL, NULL, &p, &has, &err) == ZT_ERR_FORMAT &&
                  strstr(err.msg, "longer than 4 MiB"),
              "a 5 MiB parameters text: %s", err.msg);
        free(big);
        zt_gen_params_free(&p);
        unlink(path);
    }
    {
        /* a zimt chunk stored as tEXt keeps its UTF-8 (JSON is UTF-8):
         * read as Latin-1 it gave "cafÃ©" */
        char path[256];
        path_in(path, sizeof path, "textzimt.png");
        png_text t[1] = {{.compression = PNG_TEXT_COMPRESSION_NONE,
                          .key = (char *)"zimt",
                          .text = (char *)"{\"prompt\":\"caf\xc3\xa9 \xe6\x97\xa5\",\"seed\":3}"}};
        zt_gen_params p;
        zt_gen_params_init(&p);
        zt_err err = {0};
        int has = -1;
        CHECK(write_text_list(path, t, 1) == 0, "write");
        CHECK(zt_png_read(path, NULL, NULL, NULL, &p, &has, &err) == ZT_OK && has == 1 &&
                  !strcmp(p.prompt, "caf\xc3\xa9 \xe6\x97\xa5"),
              "tEXt zimt chunk: '%s' (%s)", p.prompt ? p.prompt : "", err.msg);
        /* a zimt chunk that cannot be read beside good A1111 text: the text
         * is taken and said to stand in (it was taken without a word) */
        png_text t2[2] = {{.compression = PNG_ITXT_COMPRESSION_NONE,
                           .key = (char *)"zimt",
                           .text = (char *)"{\"prompt\":\"caf\xc3\"}"},
                          {.compression = PNG_TEXT_COMPRESSION_NONE,
                           .key = (char *)"parameters",
                           .text = (char *)"a cat\nSteps: 2, Seed: 5, Size: 64x64"}};
        err = (zt_err){0};
        CHECK(write_text_list(path, t2, 2) == 0, "write");
        CHECK(zt_png_read(path, NULL, NULL, NULL, &p, &has, &err) == ZT_OK &&
                  has == ZT_PNG_PARAMS_FALLBACK && p.seed == 5 &&
                  strstr(err.msg, "could not be read (its settings text is not valid UTF-8); "
                                  "its A1111 text was taken"),
              "unreadable zimt chunk beside A1111 text: has %d, '%s'", has, err.msg);
        zt_gen_params_free(&p);
        unlink(path);
    }
    char path[256];
    path_in(path, sizeof path, "dropped.png");
    zt_gen_params p;
    zt_gen_params_init(&p);
    zt_err err;
    int has = -1;
    CHECK(write_texts(path, 0, "zimt", "{\"prompt\":\"caf\xc3\"}", 1) == 0, "write");
    CHECK(zt_png_read(path, NULL, NULL, NULL, &p, &has, &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, "cannot be used") && strstr(err.msg, "UTF-8"),
          "invalid UTF-8 settings: %s", err.msg);
    unlink(path);
    CHECK(write_texts(path, 40, "parameters", "a cat\nSteps: 2, Seed: 5, Size: 64x64", 0) == 0,
          "write");
    CHECK(zt_png_read(path, NULL, NULL, NULL, &p, &has, &err) == ZT_ERR_FORMAT &&
              strstr(err.msg, "text chunks"),
          "settings past the chunk limit: %s", err.msg);
    unlink(path);
    CHECK(write_texts(path, 10, "parameters", "a cat\nSteps: 2, Seed: 5, Size: 64x64", 0) == 0,
          "write");
    CHECK(zt_png_read(path, NULL, NULL, NULL, &p, &has, &err) == ZT_OK && has == 1 &&
              p.seed == 5,
          "settings after ten notes: %s", err.msg);
    unlink(path);
    /* compressed settings that expand past the 4 MiB read: said, not "no
     * settings" */
    size_t big = 5u << 20;
    char *json = malloc(big + 32);
    if (json) {
        memset(json, 'a', big + 32);
        memcpy(json, "{\"prompt\":\"", 11);
        memcpy(json + big + 11, "\"}", 3);
        CHECK(write_texts(path, 0, "zimt", json, 2) == 0, "write");
        free(json);
        CHECK(zt_png_read(path, NULL, NULL, NULL, &p, &has, &err) == ZT_ERR_FORMAT &&
                  strstr(err.msg, "could not be read") && strstr(err.msg, "zTXt"),
              "settings past 4 MiB: %s", err.msg);
        unlink(path);
    }
    zt_gen_params_free(&p);
}

typedef struct bg_write {
    char path[256];
    uint8_t *px;
    int side;
    zt_status st;
} bg_write;

static void *bg_write_run(void *arg)
{
    bg_write *b = arg;
    zt_err err;
    b->st = zt_png_write(b->path, b->px, b->side, b->side, NULL, &err);
    return NULL;
}

/* Does dir hold a temporary file of name (".name.XXXXXX")? */
static int temp_of(const char *name)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, ".%s.", name);
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)))
        found |= !strncmp(e->d_name, prefix, strlen(prefix));
    if (d)
        closedir(d);
    return found;
}

/* zt_png_writes_stop while another thread's write has its temporary file
 * open: it returns once that image is whole under its name, and a write
 * started afterwards fails at once and makes no file. In a child, since writes stay
 * stopped; its exit code names the check that failed. */
static void test_png_writes_stop(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        bg_write a = {.side = 2048}, b = {.side = 16};
        path_in(a.path, sizeof a.path, "stop.png");
        path_in(b.path, sizeof b.path, "stop2.png");
        a.px = malloc((size_t)a.side * a.side * 3);
        b.px = a.px;
        uint32_t x = 777;
        for (size_t i = 0; i < (size_t)a.side * a.side * 3; i++) { /* incompressible: slow */
            x = x * 1664525u + 1013904223u;
            a.px[i] = (uint8_t)(x >> 24);
        }
        pthread_t ta, tb;
        if (pthread_create(&ta, NULL, bg_write_run, &a))
            _exit(2);
        struct timespec ms = {0, 1000000};
        int seen = 0;
        for (int i = 0; i < 10000 && !seen && access(a.path, F_OK) != 0; i++) {
            seen = temp_of("stop.png");
            if (!seen)
                nanosleep(&ms, NULL);
        }
        if (!seen)
            _exit(3); /* finished before its temporary file was seen */
        zt_png_writes_stop();
        uint8_t *rgb = NULL;
        int w = 0, h = 0;
        zt_err err;
        if (zt_png_read(a.path, &rgb, &w, &h, NULL, NULL, &err) != ZT_OK || w != a.side ||
            h != a.side || memcmp(rgb, a.px, (size_t)w * h * 3))
            _exit(4); /* the running write was cut short */
        if (temp_of("stop.png"))
            _exit(5);
        if (pthread_create(&tb, NULL, bg_write_run, &b))
            _exit(2);
        /* it fails at once (it blocked for good, and with it the thread
         * that still had to report an earlier write) */
        pthread_join(tb, NULL);
        if (access(b.path, F_OK) == 0 || temp_of("stop2.png"))
            _exit(6); /* a write started after the stop */
        if (b.st != ZT_ERR_CANCELLED)
            _exit(7);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writes_stop: child exit %d (see test)",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    char path[256];
    path_in(path, sizeof path, "stop.png");
    unlink(path);
}

/* Only the files the tests meant to leave; then clean up. */
static void test_no_temp_files(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int temps = 0;
    char path[512];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_name[0] == '.')
            temps++;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    CHECK(temps == 0, "%d temporary files left", temps);
    rmdir(dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/zt_test_image.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_a1111_format);
    RUN(test_a1111_parse);
    RUN(test_json);
    RUN(test_decimal_comma);
    RUN(test_png_round_trip);
    RUN(test_png_no_params);
    RUN(test_png_refuse_overwrite);
    RUN(test_png_bad_dir);
    RUN(test_png_write_fails);
    RUN(test_png_hostile);
    RUN(test_png_convert);
    RUN(test_png_settings_dropped);
    RUN(test_png_writes_stop);
    RUN(test_no_temp_files);
    return zt_test_summary("test_image");
}
