/* test_gen_cli.c - zimt gen end to end: case 0 of tiny-ref through the
 * command line gives the reference pixels (within +-1 on >= 99.9%), and
 * --from on that PNG gives the same pixels again. */
#include <unistd.h>

#include "fixture.h"
#include "image.h"

static char dir[] = "/tmp/zt-gen-XXXXXX";

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_case0_and_from(void)
{
    zt_st_file *ref = fx_open(TEST_DATA "/tiny-ref/pipeline.safetensors");
    const zt_tensor *want = fx_get(ref, "case0.image_u8");
    char cmd[1024], a[256], b[256];
    snprintf(a, sizeof a, "%s/a.png", dir);
    snprintf(b, sizeof b, "%s/b.png", dir);
    snprintf(cmd, sizeof cmd,
             "./zimt gen -q --model " TINY " --device cpu --prompt 'a red fox in the snow, 35mm "
             "photo' --size 128x128 --steps 8 --seed 42 -o %s >/dev/null", a);
    CHECK(run(cmd) == 0, "gen failed");
    uint8_t *rgb = NULL, *rgb2 = NULL;
    int w = 0, h = 0, has = 0;
    zt_gen_params p;
    zt_gen_params_init(&p);
    zt_err err = {0};
    CHECK(zt_png_read(a, &rgb, &w, &h, &p, &has, &err) == ZT_OK, "%s", err.msg);
    if (rgb) {
        long n = (long)zt_tensor_numel(want);
        CHECK(w == 128 && h == 128, "size %dx%d", w, h);
        long off = fx_u8_off_by_more(rgb, want->data, n, NULL);
        CHECK(off * 1000 <= n, "%ld of %ld values off by more than 1", off, n);
        CHECK(has && p.seed == 42 && p.steps == 8 && !strcmp(p.prompt, "a red fox in the snow, 35mm photo"),
              "metadata: seed %llu steps %d prompt %s", (unsigned long long)p.seed, p.steps, p.prompt);
    }
    snprintf(cmd, sizeof cmd, "./zimt gen -q --model " TINY " --device cpu --from %s -o %s >/dev/null",
             a, b);
    CHECK(run(cmd) == 0, "gen --from failed");
    CHECK(zt_png_read(b, &rgb2, &w, &h, &p, &has, &err) == ZT_OK, "%s", err.msg);
    if (rgb && rgb2)
        CHECK(!memcmp(rgb, rgb2, 128 * 128 * 3), "--from gave other pixels");
    free(rgb);
    free(rgb2);
    zt_gen_params_free(&p);
    zt_st_file_close(ref);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    RUN(test_case0_and_from);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return zt_test_summary("test_gen_cli");
}
