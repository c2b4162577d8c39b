/*
 * test_rng.c - zt_rng against torch.randn fixtures (tests/data/rng).
 *
 * Every case of rng.json is regenerated in full and compared with the
 * stored tensor or its .head/.mid/.tail slices: CPU within 1e-6, CUDA
 * within 1e-5 (the reference GPU uses fast sin/cos). The fixture file is
 * read with a small reader local to this test so the test does not depend
 * on the weights loader.
 */
#include <cjson/cJSON.h>
#include <stdint.h>

#include "harness.h"
#include "rng.h"

#define RNG_DIR TEST_DATA "/rng"

/* ------------------------------------------- minimal safetensors reader */

typedef struct fixture {
    unsigned char *buf; /* whole file */
    size_t len;
    size_t data_off; /* 8 + header length */
    cJSON *header;
} fixture;

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *b = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            b = malloc((size_t)n + 1);
            if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
                free(b);
                b = NULL;
            }
            *len = (size_t)n;
        }
    }
    fclose(f);
    return b;
}

static int fixture_open(fixture *fx, const char *path)
{
    memset(fx, 0, sizeof *fx);
    fx->buf = read_all(path, &fx->len);
    if (!fx->buf || fx->len < 8)
        return 0;
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | fx->buf[i];
    if (hl > fx->len - 8)
        return 0;
    fx->data_off = 8 + (size_t)hl;
    fx->header = cJSON_ParseWithLength((const char *)fx->buf + 8, (size_t)hl);
    return fx->header != NULL;
}

static void fixture_close(fixture *fx)
{
    cJSON_Delete(fx->header);
    free(fx->buf);
}

/* F32 tensor `key` as a malloc'd (hence aligned) copy, and its element
 * count; NULL when missing or out of bounds. */
static float *fixture_get(const fixture *fx, const char *key, long *n)
{
    cJSON *e = cJSON_GetObjectItemCaseSensitive(fx->header, key);
    cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "F32") != 0 ||
        cJSON_GetArraySize(off) != 2)
        return NULL;
    double a = cJSON_GetArrayItem(off, 0)->valuedouble;
    double b = cJSON_GetArrayItem(off, 1)->valuedouble;
    if (a < 0 || b < a || (size_t)b > fx->len - fx->data_off || ((size_t)(b - a)) % 4)
        return NULL;
    size_t bytes = (size_t)(b - a);
    float *out = malloc(bytes ? bytes : 1);
    if (!out)
        return NULL;
    memcpy(out, fx->buf + fx->data_off + (size_t)a, bytes); /* little-endian host */
    *n = (long)(bytes / 4);
    return out;
}

/* ----------------------------------------------------------------- tests */

static fixture fx;
static cJSON *cases;
static int fixture_ok;

static void load_fixtures(void)
{
    size_t len = 0;
    unsigned char *js = read_all(RNG_DIR "/rng.json", &len);
    cJSON *root = js ? cJSON_ParseWithLength((const char *)js, len) : NULL;
    free(js);
    cases = root;
    fixture_ok = root && fixture_open(&fx, RNG_DIR "/rng.safetensors");
}

static int compare_slice(const char *key, const char *suffix, const float *got, long at,
                         double atol)
{
    char name[256];
    snprintf(name, sizeof name, "%s%s", key, suffix);
    long n = 0;
    float *ref = fixture_get(&fx, name, &n);
    CHECK(ref != NULL, "fixture %s missing", name);
    if (!ref)
        return 0;
    int ok = zt_test_close(name, got + at, ref, n, atol, 0);
    free(ref);
    return ok;
}

static void test_fixture_cases(void)
{
    CHECK(fixture_ok, "cannot read %s", RNG_DIR);
    if (!fixture_ok)
        return;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(cases, "cases");
    cJSON *smj = cJSON_GetObjectItemCaseSensitive(cases, "sm_count");
    int sm = cJSON_IsNumber(smj) ? smj->valueint : ZT_RNG_SM_COUNT_DEFAULT;
    int count = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, list)
    {
        const char *key = cJSON_GetObjectItemCaseSensitive(c, "key")->valuestring;
        const char *dev = cJSON_GetObjectItemCaseSensitive(c, "device")->valuestring;
        int full = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "full"));
        /* seeds up to 2^64-1 do not survive a double: take them from the key */
        const char *sp = strstr(key, ".seed");
        uint64_t seed = sp ? strtoull(sp + 5, NULL, 10) : 0;
        long n = 1;
        cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(c, "shape")) n *= d->valueint;
        zt_rng_kind kind;
        CHECK(zt_rng_kind_parse(dev, &kind, NULL) == ZT_OK, "device %s", dev);
        float *got = malloc((size_t)n * sizeof *got);
        zt_rng r;
        zt_rng_init(&r, kind, seed, sm, 0);
        zt_err err;
        CHECK(zt_rng_randn(&r, got, n, &err) == ZT_OK, "%s: %s", key, err.msg);
        double atol = kind == ZT_RNG_CPU ? 1e-6 : 1e-5;
        if (full) {
            compare_slice(key, "", got, 0, atol);
        } else {
            compare_slice(key, ".head", got, 0, atol);
            compare_slice(key, ".mid", got, n / 2, atol);
            compare_slice(key, ".tail", got, n - 1024, atol);
        }
        free(got);
        count++;
    }
    CHECK(count >= 84, "only %d cases", count);
}

static void test_two_draws(void)
{
    if (!fixture_ok)
        return;
    static const char *devs[] = {"cuda", "cpu"};
    for (int i = 0; i < 2; i++) {
        zt_rng_kind kind;
        zt_rng_kind_parse(devs[i], &kind, NULL);
        zt_rng r;
        zt_rng_init(&r, kind, 42, 0, 0);
        float a[1024], b[1024];
        zt_rng_randn(&r, a, 1024, NULL);
        zt_rng_randn(&r, b, 1024, NULL);
        double atol = kind == ZT_RNG_CPU ? 1e-6 : 1e-5;
        char key[64];
        snprintf(key, sizeof key, "%s.seed42.two_draws", devs[i]);
        compare_slice(key, ".first", a, 0, atol);
        compare_slice(key, ".second", b, 0, atol);
        if (kind == ZT_RNG_CUDA) {
            /* the one-shot form chains through the offset */
            float c[1024];
            uint64_t off = 0;
            zt_rng_randn_cuda(42, c, 1024, 0, 0, &off, NULL);
            CHECK(off == 4, "offset after 1024 normals %llu", (unsigned long long)off);
            zt_rng_randn_cuda(42, c, 1024, 0, off, &off, NULL);
            CHECK(memcmp(b, c, sizeof c) == 0, "chained one-shot differs");
        }
    }
}

/* Philox4x32-10 known-answer vectors of the Random123 distribution. */
static void test_philox_kat(void)
{
    uint32_t out[4];
    uint32_t z[4] = {0, 0, 0, 0};
    zt_philox4x32_10(z, 0, out);
    CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
              out[3] == 0x9b00dbd8u,
          "philox(0,0) = %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    uint32_t f[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    zt_philox4x32_10(f, UINT64_MAX, out);
    CHECK(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u &&
              out[3] == 0x6d5451fdu,
          "philox(ff,ff) = %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
}

static void test_small_and_edges(void)
{
    zt_err err;
    zt_rng r;
    zt_rng_init(&r, ZT_RNG_CPU, 7, 0, 0);
    float v[15];
    CHECK(zt_rng_randn(&r, v, 15, &err) == ZT_OK, "scalar path");
    for (int i = 0; i < 15; i++)
        CHECK(isfinite(v[i]) && fabsf(v[i]) < 7, "v[%d] = %g", i, v[i]);
    CHECK(zt_rng_randn(&r, v, -1, &err) == ZT_ERR_INVALID, "negative n");
    CHECK(zt_rng_randn(&r, NULL, 0, &err) == ZT_OK, "empty draw");
    zt_rng_kind k;
    CHECK(zt_rng_kind_parse("gpu", &k, &err) == ZT_ERR_INVALID, "bad kind accepted");
    CHECK(strstr(err.msg, "gpu") != NULL, "message names the value: %s", err.msg);
    CHECK(strcmp(zt_rng_kind_name(ZT_RNG_CPU), "cpu") == 0, "kind name");
}

int main(void)
{
    load_fixtures();
    RUN(test_philox_kat);
    RUN(test_fixture_cases);
    RUN(test_two_draws);
    RUN(test_small_and_edges);
    if (fixture_ok)
        fixture_close(&fx);
    cJSON_Delete(cases);
    return zt_test_summary("test_rng");
}
