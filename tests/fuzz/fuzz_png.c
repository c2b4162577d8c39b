/*
 * fuzz_png.c - a PNG file through zt_png_read: pixels and the generation
 * settings in its "zimt" and "parameters" text chunks.
 *
 * zt_png_read takes a path, so the bytes go to an anonymous memory file
 * read back through /proc/self/fd (nothing is left on disk).
 *
 * Property: a decoded image has sides within ZT_PNG_SIDE_MAX and every one
 * of its w*h*3 bytes is readable; settings that were found are valid UTF-8.
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzz.h"
#include "image.h"
#include "tokenizer.h"

static int fuzz_png_fd = -1;

static int fuzz_png(const uint8_t *data, size_t size)
{
    if (fuzz_png_fd < 0) {
        fuzz_png_fd = (int)syscall(SYS_memfd_create, "zt-fuzz-png", 0);
        if (fuzz_png_fd < 0) {
            perror("memfd_create");
            abort();
        }
    }
    if (ftruncate(fuzz_png_fd, 0) != 0 ||
        (size && pwrite(fuzz_png_fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz_png: write");
        abort();
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fuzz_png_fd);

    uint8_t *rgb = NULL;
    int w = 0, h = 0, has = 0;
    zt_gen_params p;
    zt_err err = {0};
    if (zt_gen_params_init(&p) != ZT_OK)
        return 0;
    if (zt_png_read(path, &rgb, &w, &h, &p, &has, &err) == ZT_OK) {
        if (w <= 0 || h <= 0 || w > ZT_PNG_SIDE_MAX || h > ZT_PNG_SIDE_MAX || !rgb)
            fuzz_fail("decoded a %dx%d image", w, h);
        volatile uint8_t sink = rgb[0];
        sink ^= rgb[(size_t)w * (size_t)h * 3 - 1];
        (void)sink;
        if (has && (!zt_utf8_validate(p.prompt, strlen(p.prompt), NULL) ||
                    !zt_utf8_validate(p.negative_prompt, strlen(p.negative_prompt), NULL)))
            fuzz_fail("settings with a prompt that is not UTF-8");
    } else if (rgb) {
        fuzz_fail("failed read returned pixels");
    }
    free(rgb);
    zt_gen_params_free(&p);
    return 0;
}

ZT_FUZZ_TARGET(fuzz_png)
