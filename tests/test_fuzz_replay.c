/*
 * test_fuzz_replay.c - replays the kept fuzz corpora: every file under
 * tests/fuzz/corpus/<target>/ goes through the same entry point the fuzzer
 * drove (tests/fuzz/fuzz_<target>.c, included here), built with the normal
 * compiler and flags, so the seeds, the minimised corpus and every fixed
 * crasher run in `make test` and under SANITIZE=address|undefined.
 *
 * An input passes when the entry point returns: crashes, sanitizer reports
 * and broken properties abort the binary, which tests/run.sh counts as a
 * failure. The name of the input being replayed is printed first with
 * ZT_TEST_VERBOSE set, and always kept in a static for a debugger.
 */
#define ZT_FUZZ_REPLAY 1

#include <dirent.h>
#include <sys/stat.h>

#include "harness.h"

#include "fuzz/fuzz_config.c"
#include "fuzz/fuzz_encode.c"
#include "fuzz/fuzz_gen_params.c"
#include "fuzz/fuzz_outpath.c"
#include "fuzz/fuzz_png.c"
#include "fuzz/fuzz_safetensors.c"
#include "fuzz/fuzz_settings.c"
#include "fuzz/fuzz_st_index.c"
#include "fuzz/fuzz_tokenizer.c"

#define CORPUS "tests/fuzz/corpus"

static const char *replaying;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feeds every regular file of CORPUS/name to fn, in name order; returns
 * how many were fed (-1 when the folder cannot be read). */
static int replay_dir(const char *name, int (*fn)(const uint8_t *, size_t))
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", CORPUS, name);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    int fed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        FILE *f = fopen(path, "rb");
        struct stat sb;
        if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
            if (f)
                fclose(f);
            continue;
        }
        size_t len = (size_t)sb.st_size;
        uint8_t *buf = malloc(len ? len : 1);
        size_t got = buf ? fread(buf, 1, len, f) : 0;
        fclose(f);
        CHECK(buf && got == len, "%s: short read", path);
        if (buf && got == len) {
            replaying = path;
            if (getenv("ZT_TEST_VERBOSE"))
                fprintf(stderr, "  replay %s\n", path);
            fn(buf, len);
            fed++;
        }
        free(buf);
    }
    free(names);
    replaying = NULL;
    return fed;
}

#define REPLAY(target)                                                      \
    static void test_replay_##target(void)                                  \
    {                                                                       \
        int fed = replay_dir(#target, fuzz_##target);                       \
        CHECK(fed > 0, "no inputs replayed from %s/%s", CORPUS, #target);   \
    }

REPLAY(safetensors)
REPLAY(st_index)
REPLAY(config)
REPLAY(tokenizer)
REPLAY(encode)
REPLAY(png)
REPLAY(gen_params)
REPLAY(outpath)
REPLAY(settings)

int main(void)
{
    RUN(test_replay_safetensors);
    RUN(test_replay_st_index);
    RUN(test_replay_config);
    RUN(test_replay_tokenizer);
    RUN(test_replay_encode);
    RUN(test_replay_png);
    RUN(test_replay_gen_params);
    RUN(test_replay_outpath);
    RUN(test_replay_settings);
    if (fuzz_png_fd >= 0)
        close(fuzz_png_fd);

    return zt_test_summary("test_fuzz_replay");
}
