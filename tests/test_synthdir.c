/*
 * test_synthdir.c - the synthetic model writer: with the tiny fixture's
 * configs and seed 0 it must reproduce tests/data/tiny-zimage's tensors bit
 * for bit, in the published layout, and the result must load.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "backend.h"
#include "config.h"
#include "discovery.h"
#include "modelcheck.h"
#include "pipeline.h"
#include "safetensors.h"
#include "synthdir.h"

#define FIX TEST_DATA "/tiny-zimage"

static char tmp_root[256];
static char out_dir[512];

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Every tensor of the fixture component equals the written one: names,
 * dtype, shape and bytes; and there are no others. */
static void same_component(const char *comp, const char *strip)
{
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/%s", FIX, comp);
    snprintf(b, sizeof b, "%s/%s", out_dir, comp);
    zt_weights *wa = NULL, *wb = NULL;
    zt_err err = {0};
    CHECK(zt_weights_open(&wa, a, strip, &err) == ZT_OK, "%s", err.msg);
    CHECK(zt_weights_open(&wb, b, strip, &err) == ZT_OK, "%s", err.msg);
    if (!wa || !wb)
        goto done;
    CHECK(zt_weights_count(wa) == zt_weights_count(wb), "%s: %d tensors, fixture %d", comp,
          zt_weights_count(wb), zt_weights_count(wa));
    int bad = 0;
    for (int i = 0; i < zt_weights_count(wa) && bad < 5; i++) {
        const zt_st_entry *x = zt_weights_at(wa, i);
        const zt_st_entry *y = zt_weights_find(wb, x->name);
        if (!y) {
            CHECK(0, "%s: %s not written", comp, x->name);
            bad++;
            continue;
        }
        int same = x->t.dtype == y->t.dtype && x->t.ndim == y->t.ndim &&
                   !memcmp(x->t.shape, y->t.shape, sizeof x->t.shape) && x->nbytes == y->nbytes &&
                   !memcmp(x->t.data, y->t.data, x->nbytes);
        CHECK(same, "%s: %s differs from the fixture", comp, x->name);
        bad += !same;
    }
    int64_t ts = zt_weights_index_total_size(wb);
    if (ts >= 0)
        CHECK((uint64_t)ts == zt_weights_total_bytes(wb), "%s: total_size %lld, tensors %llu",
              comp, (long long)ts, (unsigned long long)zt_weights_total_bytes(wb));
done:
    zt_weights_free(wa);
    zt_weights_free(wb);
}

static void test_write_tiny(void)
{
    zt_model_config cfg;
    zt_err err = {0};
    CHECK(zt_model_config_load(&cfg, FIX, &err) == ZT_OK, "%s", err.msg);
    /* A small shard limit so the tiny model is sharded like the real one. */
    zt_synthdir_opts o = {.cfg = &cfg, .seed = 0, .tokenizer_dir = FIX "/tokenizer",
                          .shard_bytes = 1u << 20};
    zt_status st = zt_synthdir_write(out_dir, &o, &err);
    CHECK(st == ZT_OK, "%s", err.msg);
    if (st)
        return;
    same_component("text_encoder", "model.");
    same_component("transformer", NULL);
    same_component("vae", NULL);
    char p[700];
    snprintf(p, sizeof p, "%s/text_encoder/model.safetensors.index.json", out_dir);
    CHECK(exists(p), "%s missing", p);
    snprintf(p, sizeof p, "%s/transformer/diffusion_pytorch_model.safetensors.index.json",
             out_dir);
    CHECK(exists(p), "%s missing", p);
    snprintf(p, sizeof p, "%s/transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
             out_dir);
    CHECK(exists(p), "%s missing: the transformer should need two 1 MiB shards", p);
    snprintf(p, sizeof p, "%s/tokenizer/tokenizer_config.json", out_dir);
    CHECK(exists(p), "%s missing", p);

    /* The configs written read back to the same sizes. */
    zt_model_config back;
    CHECK(zt_model_config_load(&back, out_dir, &err) == ZT_OK, "%s", err.msg);
    CHECK(!memcmp(&back.te, &cfg.te, sizeof cfg.te), "text encoder config differs");
    CHECK(!memcmp(&back.dit, &cfg.dit, sizeof cfg.dit), "transformer config differs");
    CHECK(!memcmp(&back.vae, &cfg.vae, sizeof cfg.vae), "vae config differs");
    CHECK(!memcmp(&back.sched, &cfg.sched, sizeof cfg.sched), "scheduler config differs");

    zt_modelcheck mc;
    zt_modelcheck_run(&mc, out_dir, NULL);
    CHECK(mc.n_problems == 0, "modelcheck: %s", zt_modelcheck_reason(&mc));

    /* No temporary folder is left beside it. */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep -v '^model$')\"", tmp_root);
    CHECK(system(cmd) == 0, "leftovers beside %s", out_dir);
}

static void test_loads(void)
{
    zt_backend *be = NULL;
    zt_model *m = NULL;
    zt_err err = {0};
    CHECK(zt_backend_cpu_new(&be, 1, &err) == ZT_OK, "%s", err.msg);
    if (!be)
        return;
    CHECK(zt_model_open(&m, be, out_dir, NULL, NULL, &err) == ZT_OK, "%s", err.msg);
    zt_model_free(m);
    zt_backend_free(be);
}

static void test_refuses_existing(void)
{
    zt_model_config cfg;
    zt_err err = {0};
    CHECK(zt_model_config_load(&cfg, FIX, &err) == ZT_OK, "%s", err.msg);
    zt_synthdir_opts o = {.cfg = &cfg, .tokenizer_dir = FIX "/tokenizer"};
    CHECK(zt_synthdir_write(out_dir, &o, &err) == ZT_ERR_EXISTS, "overwrote %s", out_dir);
    CHECK(strstr(err.msg, "already exists") != NULL, "message: %s", err.msg);

    /* A bad tokenizer folder fails and leaves nothing behind. */
    char other[600];
    snprintf(other, sizeof other, "%s/other", tmp_root);
    o.tokenizer_dir = "/nonexistent-tokenizer";
    CHECK(zt_synthdir_write(other, &o, &err) == ZT_ERR_MISSING, "status %d", err.code);
    CHECK(!exists(other), "%s created after a failure", other);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep -v '^model$')\"", tmp_root);
    CHECK(system(cmd) == 0, "a failed write left files in %s", tmp_root);
}

static int stop_early(void *ud, const char *comp, uint64_t done, uint64_t total)
{
    (void)comp;
    (void)total;
    *(uint64_t *)ud = done;
    return done > 0;
}

static void test_cancel(void)
{
    zt_model_config cfg;
    zt_err err = {0};
    CHECK(zt_model_config_load(&cfg, FIX, &err) == ZT_OK, "%s", err.msg);
    uint64_t seen = 0;
    zt_synthdir_opts o = {.cfg = &cfg, .tokenizer_dir = FIX "/tokenizer",
                          .progress = stop_early, .ud = &seen};
    char other[600];
    snprintf(other, sizeof other, "%s/cancelled", tmp_root);
    CHECK(zt_synthdir_write(other, &o, &err) == ZT_ERR_CANCELLED, "status %d", err.code);
    CHECK(seen > 0, "no progress reported");
    CHECK(!exists(other), "%s exists after cancel", other);
}

static void test_full_size_bytes(void)
{
    /* The published model: about 4.0 B text-encoder, 6.2 B transformer and
     * 0.05 B decoder parameters, all BF16. */
    zt_model_config cfg;
    zt_model_config_full(&cfg);
    uint64_t b = 0;
    zt_err err = {0};
    CHECK(zt_synthdir_bytes(&cfg, &b, &err) == ZT_OK, "%s", err.msg);
    CHECK(b > 19000000000ull && b < 22000000000ull, "full size %llu bytes",
          (unsigned long long)b);
}

int main(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/zt-synthdir-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(out_dir, sizeof out_dir, "%s/model", tmp_root);
    RUN(test_write_tiny);
    RUN(test_loads);
    RUN(test_refuses_existing);
    RUN(test_cancel);
    RUN(test_full_size_bytes);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_root);
    return zt_test_summary("test_synthdir");
}
