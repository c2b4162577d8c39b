/* test_manifest.c - expected tensor lists against the tiny model and full sizes. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include <unistd.h>

#include "backend.h"
#include "harness.h"
#include "manifest.h"
#include "pipeline.h"
#include "safetensors.h"

#define TINY TEST_DATA "/tiny-zimage"

/* Every tensor of the component must be listed explicitly (not only allowed
 * by a prefix) with its exact shape, and every required entry present. */
static int exact_match(const zt_manifest *m, const char *dir, const char *strip)
{
    zt_weights *w = NULL;
    zt_err err = {0};
    if (zt_weights_open(&w, dir, strip, &err)) {
        CHECK(0, "%s", err.msg);
        return 0;
    }
    int listed = 0;
    for (int i = 0; i < zt_weights_count(w); i++) {
        const zt_st_entry *e = zt_weights_at(w, i);
        const zt_manifest_entry *me = zt_manifest_find(m, e->name);
        CHECK(me != NULL, "%s: '%s' not listed", dir, e->name);
        listed += me != NULL;
    }
    int unused = -1;
    int problems = zt_manifest_check(m, w, NULL, NULL, &unused);
    CHECK(problems == 0 && unused == 0, "%s: %d problems, %d unused", dir, problems, unused);
    CHECK(zt_manifest_verify(m, w, &err) == ZT_OK, "%s", err.msg);
    zt_weights_free(w);
    return listed;
}

static void test_tiny(void)
{
    zt_model_config c;
    zt_err err = {0};
    if (zt_model_config_load(&c, TINY, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    zt_manifest m;
    int total = 0;
    CHECK(zt_manifest_te(&m, &c.te, &err) == ZT_OK, "%s", err.msg);
    CHECK(zt_manifest_required_count(&m) == 35 && m.n == 36, "te %d/%d",
          zt_manifest_required_count(&m), m.n);
    total += exact_match(&m, TINY "/text_encoder", "model.");
    zt_manifest_free(&m);

    CHECK(zt_manifest_dit(&m, &c.dit, &err) == ZT_OK, "%s", err.msg);
    CHECK(m.n == 101, "dit %d", m.n);
    total += exact_match(&m, TINY "/transformer", NULL);
    zt_manifest_free(&m);

    CHECK(zt_manifest_vae(&m, &c.vae, &err) == ZT_OK, "%s", err.msg);
    CHECK(zt_manifest_required_count(&m) == 104, "vae required %d",
          zt_manifest_required_count(&m));
    total += exact_match(&m, TINY "/vae", NULL);
    zt_manifest_free(&m);
    CHECK(total == 312, "listed %d of 312", total);
}

/* The bytes the manifests say a load takes (what doctor plans with) are the
 * bytes a loaded model holds: not the files' totals, which also carry the
 * VAE's encoder and the text encoder's last layer. */
static void test_loaded_bytes(void)
{
    zt_model_config c;
    zt_err err = {0};
    zt_backend *be = NULL;
    zt_model *model = NULL;
    if (zt_model_config_load(&c, TINY, &err) || zt_backend_cpu_new(&be, 1, &err) ||
        zt_model_open(&model, be, TINY, NULL, NULL, &err)) {
        CHECK(0, "%s", err.msg);
        zt_backend_free(be);
        return;
    }
    static const char *const dirs[3] = {TINY "/text_encoder", TINY "/transformer", TINY "/vae"};
    uint64_t planned = 0, stored = 0;
    for (int k = 0; k < 3; k++) {
        zt_manifest m;
        zt_weights *w = NULL;
        zt_status st = k == 0   ? zt_manifest_te(&m, &c.te, &err)
                       : k == 1 ? zt_manifest_dit(&m, &c.dit, &err)
                                : zt_manifest_vae(&m, &c.vae, &err);
        if (st || zt_weights_open(&w, dirs[k], k ? NULL : "model.", &err)) {
            CHECK(0, "%s", err.msg);
            if (!st)
                zt_manifest_free(&m);
            continue;
        }
        planned += zt_manifest_loaded_bytes(&m, w);
        stored += zt_weights_total_bytes(w);
        zt_weights_free(w);
        zt_manifest_free(&m);
    }
    CHECK(planned == zt_model_weight_bytes(model), "planned %llu, loaded %zu",
          (unsigned long long)planned, zt_model_weight_bytes(model));
    CHECK(planned < stored, "planned %llu of %llu stored", (unsigned long long)planned,
          (unsigned long long)stored);
    zt_model_free(model);
    zt_backend_free(be);
}

typedef struct seen {
    int missing, unexpected, shape;
    char last[128];
} seen;

static void count(void *ctx, zt_manifest_problem kind, const char *name,
                  const zt_manifest_entry *want, const zt_st_entry *found, const char *file)
{
    seen *s = ctx;
    (void)want;
    (void)found;
    (void)file;
    if (kind == ZT_MANIFEST_MISSING)
        s->missing++;
    else if (kind == ZT_MANIFEST_UNEXPECTED)
        s->unexpected++;
    else
        s->shape++;
    snprintf(s->last, sizeof s->last, "%s", name);
}

/* A config that disagrees with the weights shows up as problems. */
static void test_mismatch(void)
{
    zt_model_config c;
    zt_err err = {0};
    if (zt_model_config_load(&c, TINY, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    zt_weights *w = NULL;
    if (zt_weights_open(&w, TINY "/transformer", NULL, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    zt_manifest m;
    c.dit.n_layers = 3; /* one block more than the file holds */
    CHECK(zt_manifest_dit(&m, &c.dit, &err) == ZT_OK, "%s", err.msg);
    seen s = {0};
    CHECK(zt_manifest_check(&m, w, count, &s, NULL) == 15 && s.missing == 15, "missing %d",
          s.missing);
    CHECK(zt_manifest_verify(&m, w, &err) == ZT_ERR_MISSING && strstr(err.msg, "layers.2.") &&
              strstr(err.msg, "15 tensor problems"),
          "%s", err.msg);
    zt_manifest_free(&m);

    /* One block fewer: its tensors are unexpected, but a load never reads
     * them, so they are reported and counted apart, not as problems. */
    c.dit.n_layers = 1;
    CHECK(zt_manifest_dit(&m, &c.dit, &err) == ZT_OK, "%s", err.msg);
    memset(&s, 0, sizeof s);
    int unused = -1;
    int bad = zt_manifest_check(&m, w, count, &s, &unused);
    CHECK(bad == 0 && unused == 15 && s.unexpected == 15 && s.missing == 0 && s.shape == 0,
          "problems %d, unused %d, reported %d", bad, unused, s.unexpected);
    err = (zt_err){0};
    CHECK(zt_manifest_verify(&m, w, &err) == ZT_OK && !err.msg[0], "verify: %s", err.msg);
    zt_manifest_free(&m);

    /* qk_norm off with the norm weights present: the same for the norms
     * (2 layers + 2 noise + 2 context refiners, 2 norms each) */
    c.dit.n_layers = 2;
    c.dit.qk_norm = 0;
    CHECK(zt_manifest_dit(&m, &c.dit, &err) == ZT_OK, "%s", err.msg);
    memset(&s, 0, sizeof s);
    bad = zt_manifest_check(&m, w, count, &s, &unused);
    CHECK(bad == 0 && unused == 12 && s.unexpected == 12 && strstr(s.last, "norm_"),
          "qk_norm off: problems %d, unused %d, last '%s'", bad, unused, s.last);
    CHECK(zt_manifest_verify(&m, w, &err) == ZT_OK, "verify: %s", err.msg);
    zt_manifest_free(&m);
    c.dit.qk_norm = 1;

    c.dit.n_layers = 2;
    c.dit.cap_feat_dim = 48;
    CHECK(zt_manifest_dit(&m, &c.dit, &err) == ZT_OK, "%s", err.msg);
    memset(&s, 0, sizeof s);
    CHECK(zt_manifest_check(&m, w, count, &s, NULL) == 2 && s.shape == 2, "shape %d", s.shape);
    CHECK(zt_manifest_verify(&m, w, &err) == ZT_ERR_SHAPE &&
              strstr(err.msg, "cap_embedder.0.weight") &&
              strstr(err.msg, "expected shape [48], found [32]"),
          "%s", err.msg);
    zt_manifest_free(&m);
    zt_weights_free(w);
}

/* Weights hold floats: a tensor of the right shape but of bytes is named,
 * by the check behind info and doctor and by the load's verify. */
static void test_dtype(void)
{
    char dir[] = "/tmp/zt-manifest-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const char hdr[] = "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}";
    uint64_t n = sizeof hdr - 1;
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "create %s", path);
    if (!f)
        return;
    fwrite(&n, 8, 1, f); /* little-endian hosts */
    fwrite(hdr, 1, (size_t)n, f);
    fwrite("\1\2\3\4", 1, 4, f);
    fclose(f);
    zt_weights *w = NULL;
    zt_err err = {0};
    CHECK(zt_weights_open(&w, dir, NULL, &err) == ZT_OK, "open: %s", err.msg);
    zt_manifest_entry e = {.name = "w", .ndim = 1, .shape = {4}};
    zt_manifest m = {.v = &e, .n = 1, .cap = 1};
    seen s = {0};
    if (w) {
        CHECK(zt_manifest_check(&m, w, count, &s, NULL) == 1 && !strcmp(s.last, "w"),
              "a U8 weight passed the check");
        CHECK(zt_manifest_verify(&m, w, &err) == ZT_ERR_DTYPE && strstr(err.msg, "'w'") &&
                  strstr(err.msg, "dtype U8"),
              "verify: %s", err.msg);
    }
    zt_weights_free(w);
    unlink(path);
    rmdir(dir);
}

static void test_full(void)
{
    zt_model_config c;
    zt_model_config_full(&c);
    zt_manifest m;
    zt_err err = {0};
    CHECK(zt_manifest_te(&m, &c.te, &err) == ZT_OK, "%s", err.msg);
    CHECK(zt_manifest_required_count(&m) == 1 + 36 * 11 + 1, "te count %d",
          zt_manifest_required_count(&m));
    const zt_manifest_entry *e = zt_manifest_find(&m, "layers.35.self_attn.o_proj.weight");
    CHECK(e && e->shape[0] == 2560 && e->shape[1] == 4096, "o_proj");
    /* Qwen3-4B: 4,022,468,096 parameters with its (tied) embedding */
    CHECK(zt_manifest_numel(&m) == 4022468096ull, "te parameters %llu",
          (unsigned long long)zt_manifest_numel(&m));
    zt_manifest_free(&m);

    CHECK(zt_manifest_dit(&m, &c.dit, &err) == ZT_OK, "%s", err.msg);
    CHECK(m.n == 30 * 15 + 2 * 15 + 2 * 13 + 15, "dit count %d", m.n);
    e = zt_manifest_find(&m, "layers.29.adaLN_modulation.0.weight");
    CHECK(e && e->shape[0] == 15360 && e->shape[1] == 256, "adaLN");
    e = zt_manifest_find(&m, "layers.0.feed_forward.w1.weight");
    CHECK(e && e->shape[0] == 10240 && e->shape[1] == 3840, "ffn");
    e = zt_manifest_find(&m, "all_x_embedder.2-1.weight");
    CHECK(e && e->shape[0] == 3840 && e->shape[1] == 64, "x_embedder");
    CHECK(!zt_manifest_find(&m, "context_refiner.0.adaLN_modulation.0.weight"), "ctx unmod");
    /* the published "6B" transformer, far above the auto-fp32 bound */
    CHECK(zt_manifest_numel(&m) > 6000000000ull && zt_manifest_numel(&m) < 6300000000ull,
          "dit parameters %llu", (unsigned long long)zt_manifest_numel(&m));
    zt_manifest_free(&m);

    CHECK(zt_manifest_vae(&m, &c.vae, &err) == ZT_OK, "%s", err.msg);
    e = zt_manifest_find(&m, "decoder.up_blocks.2.resnets.0.conv_shortcut.weight");
    CHECK(e && e->shape[0] == 256 && e->shape[1] == 512 && e->shape[2] == 1, "shortcut");
    e = zt_manifest_find(&m, "decoder.up_blocks.3.resnets.2.conv2.weight");
    CHECK(e && e->shape[0] == 128, "last resnet");
    CHECK(!zt_manifest_find(&m, "decoder.up_blocks.3.upsamplers.0.conv.weight"), "no last up");
    CHECK(!zt_manifest_find(&m, "post_quant_conv.weight"), "no post quant");
    CHECK(zt_manifest_allows_extra(&m, "encoder.whatever") &&
              !zt_manifest_allows_extra(&m, "decoder.whatever"),
          "extras");
    zt_manifest_free(&m);
    zt_manifest_free(NULL);
}

int main(void)
{
    RUN(test_tiny);
    RUN(test_loaded_bytes);
    RUN(test_mismatch);
    RUN(test_dtype);
    RUN(test_full);
    return zt_test_summary("test_manifest");
}
