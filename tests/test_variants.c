/* test_variants.c - the model code takes every size from the configs:
 * tiny models of other widths, head counts, layer counts, RoPE axes, VAE
 * depths and shard counts are written to disk with synthetic weights, loaded
 * and run end to end; the pixels must equal those of the same model built
 * in memory (so loading, naming and sharding agree), and be finite. */
#include <unistd.h>

#include "fixture.h"
#include "pipeline.h"
#include "synthdir.h"

static void run_variant(const char *name, const zt_model_config *cfg, int W, int H)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/zt-variant-%s-%d", name, (int)getpid());
    zt_err err = {0};
    zt_synthdir_opts so = {.cfg = cfg, .seed = 3, .tokenizer_dir = TINY "/tokenizer",
                           .shard_bytes = 20000};
    zt_status st = zt_synthdir_write(dir, &so, &err);
    CHECK(st == ZT_OK, "%s: write: %s", name, err.msg);
    if (st != ZT_OK)
        return;
    zt_backend *be = fx_cpu();
    zt_model *a = NULL, *b = NULL;
    CHECK(zt_model_open(&a, be, dir, NULL, NULL, &err) == ZT_OK, "%s: open: %s", name, err.msg);
    CHECK(zt_model_open_synthetic(&b, be, 3, cfg, TINY "/tokenizer/tokenizer.json", NULL, NULL,
                                  &err) == ZT_OK,
          "%s: synthetic: %s", name, err.msg);
    if (a && b) {
        zt_job_params p = {.prompt = "a small red boat", .negative = "fog", .width = W,
                           .height = H, .steps = 2, .guidance = 1.5f, .seed = 9};
        uint8_t *ia = NULL, *ib = NULL;
        CHECK(zt_pipeline_run(a, &p, NULL, &ia, NULL, &err) == ZT_OK, "%s: run: %s", name, err.msg);
        CHECK(zt_pipeline_run(b, &p, NULL, &ib, NULL, &err) == ZT_OK, "%s: run: %s", name, err.msg);
        if (ia && ib) {
            CHECK(!memcmp(ia, ib, (size_t)W * H * 3), "%s: file and in-memory models differ", name);
            long sum = 0;
            for (long i = 0; i < (long)W * H * 3; i++)
                sum += ia[i];
            CHECK(sum > 0 && sum < 255L * W * H * 3, "%s: blank image", name);
        }
        free(ia);
        free(ib);
    }
    zt_model_free(a);
    zt_model_free(b);
    zt_backend_free(be);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static zt_model_config base(void)
{
    zt_model_config c;
    zt_err err = {0};
    if (zt_model_config_load(&c, TINY, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return c;
}

static void test_wider_deeper(void)
{
    zt_model_config c = base();
    c.te.hidden = 48;
    c.te.n_layers = 4;
    c.te.n_heads = 6;
    c.te.n_kv_heads = 3;
    c.te.head_dim = 8;
    c.te.intermediate = 80;
    c.dit.dim = 96;
    c.dit.n_heads = 3;
    c.dit.n_kv_heads = 3;
    c.dit.axes_dims[0] = 8;
    c.dit.axes_dims[1] = 12;
    c.dit.axes_dims[2] = 12;
    c.dit.n_layers = 3;
    c.dit.n_refiner_layers = 1;
    c.dit.cap_feat_dim = 48;
    run_variant("wide", &c, 80, 48);
}

static void test_narrow_vae(void)
{
    zt_model_config c = base();
    c.dit.n_heads = 2;
    c.dit.n_kv_heads = 1; /* grouped kv heads */
    c.dit.axes_dims[0] = 8;
    c.dit.axes_dims[1] = 12;
    c.dit.axes_dims[2] = 12;
    c.vae.n_blocks = 3;
    c.vae.block_out[0] = 32;
    c.vae.block_out[1] = 64;
    c.vae.block_out[2] = 64;
    c.vae.layers_per_block = 2;
    run_variant("vae3", &c, 48, 32);
}

static size_t short_free;
static zt_status short_mem_info(zt_backend *be, size_t *free_b, size_t *total_b, zt_err *err)
{
    (void)be;
    (void)err;
    *free_b = short_free;
    *total_b = 4 * short_free;
    return ZT_OK;
}

/* Synthetic weights that do not fit the memory the backend reports are
 * refused before anything is written (host memory would be promised and
 * the shortfall found by the out-of-memory killer); with room they load. */
static void test_synthetic_memory(void)
{
    zt_model_config c = base();
    zt_backend *be = fx_cpu();
    const zt_backend_vt *vt0 = be->vt;
    zt_backend_vt vt = *vt0;
    vt.mem_info = short_mem_info;
    be->vt = &vt;
    zt_model *m = NULL;
    zt_err err = {0};
    short_free = 100000; /* under the tiny text encoder's weights */
    zt_status st = zt_model_open_synthetic(&m, be, 3, &c, NULL, NULL, NULL, &err);
    CHECK(st == ZT_ERR_NOMEM && !m && strstr(err.msg, "synthetic weights need") &&
              strstr(err.msg, "host memory"),
          "status %d: %s", st, err.msg);
    short_free = (size_t)1 << 40;
    CHECK(zt_model_open_synthetic(&m, be, 3, &c, NULL, NULL, NULL, &err) == ZT_OK,
          "with room: %s", err.msg);
    zt_model_free(m);
    be->vt = vt0;
    zt_backend_free(be);
}

int main(void)
{
    RUN(test_wider_deeper);
    RUN(test_narrow_vae);
    RUN(test_synthetic_memory);
    return zt_test_summary("test_variants");
}
