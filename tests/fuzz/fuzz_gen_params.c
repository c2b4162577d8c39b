/*
 * fuzz_gen_params.c - generation settings as they come from PNG text
 * chunks and job files: zt_gen_params_from_json and
 * zt_gen_params_from_a1111 on the same text.
 *
 * Property: settings that parse are within range, and survive a round
 * trip: to JSON and back gives equal settings (the "zimt" chunk is the
 * exact record), and to A1111 text and back parses again.
 */
#include "fuzz.h"
#include "image.h"

static void check_ranges(const zt_gen_params *p, const char *how)
{
    if (!p->prompt || !p->negative_prompt)
        fuzz_fail("%s: NULL prompt", how);
    if (p->width < 0 || p->height < 0 || p->steps < 0)
        fuzz_fail("%s: negative size or steps", how);
}

static int fuzz_gen_params(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    zt_gen_params p, q;
    zt_err err = {0};
    if (zt_gen_params_init(&p) || zt_gen_params_init(&q)) {
        zt_gen_params_free(&p);
        free(s);
        return 0;
    }
    if (zt_gen_params_from_json(&p, s, &err) == ZT_OK) {
        check_ranges(&p, "json");
        char *js = NULL;
        if (zt_gen_params_to_json(&p, &js, &err) == ZT_OK) {
            if (zt_gen_params_from_json(&q, js, &err) != ZT_OK)
                fuzz_fail("own JSON does not parse: %s\n%s", err.msg, js);
            if (!zt_gen_params_equal(&p, &q))
                fuzz_fail("JSON round trip changed the settings: %s", js);
            free(js);
        }
    }
    if (zt_gen_params_from_a1111(&p, s, &err) == ZT_OK) {
        check_ranges(&p, "a1111");
        char *a = NULL;
        if (zt_gen_params_to_a1111(&p, &a, &err) == ZT_OK) {
            zt_gen_params_from_a1111(&q, a, &err);
            free(a);
        }
    }
    zt_gen_params_free(&p);
    zt_gen_params_free(&q);
    free(s);
    return 0;
}

ZT_FUZZ_TARGET(fuzz_gen_params)
