/*
 * fuzz_config.c - every model configuration parser on the same text:
 * model_index.json, the text encoder, transformer, VAE and scheduler
 * configs (one input exercises all five, since they share the JSON layer).
 *
 * Property: a config that parses has the sizes the model code relies on
 * (positive layer counts and widths, heads dividing widths), and the
 * derived sizes are computed without overflow.
 */
#include "config.h"
#include "fuzz.h"

static int fuzz_config(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    zt_err err = {0};
    zt_model_index_parse(s, "model_index.json", &err);

    zt_te_config te;
    memset(&te, 0, sizeof te);
    if (zt_te_config_parse(&te, s, "text_encoder/config.json", &err) == ZT_OK) {
        if (te.hidden <= 0 || te.n_layers <= 0 || te.n_heads <= 0 || te.n_kv_heads <= 0 ||
            te.head_dim <= 0 || te.vocab <= 0 || te.intermediate <= 0)
            fuzz_fail("text encoder config accepted with a non-positive size");
        if (te.n_heads % te.n_kv_heads)
            fuzz_fail("text encoder: kv heads do not divide heads");
    }
    zt_dit_config dit;
    memset(&dit, 0, sizeof dit);
    if (zt_dit_config_parse(&dit, s, "transformer/config.json", &err) == ZT_OK) {
        if (dit.dim <= 0 || dit.n_layers <= 0 || dit.n_heads <= 0 || dit.dim % dit.n_heads)
            fuzz_fail("transformer config accepted with bad sizes");
        if (zt_dit_ffn_hidden(&dit) <= 0 || zt_dit_adaln_dim(&dit) <= 0)
            fuzz_fail("transformer config gives non-positive derived sizes");
    }
    zt_vae_config vae;
    memset(&vae, 0, sizeof vae);
    if (zt_vae_config_parse(&vae, s, "vae/config.json", &err) == ZT_OK) {
        if (vae.n_blocks <= 0 || vae.n_blocks > 8 || vae.latent_channels <= 0 ||
            vae.norm_groups <= 0)
            fuzz_fail("vae config accepted with bad sizes");
        for (int i = 0; i < vae.n_blocks; i++)
            if (vae.block_out[i] <= 0 || vae.block_out[i] % vae.norm_groups)
                fuzz_fail("vae block %d: %d channels, %d groups", i, vae.block_out[i],
                          vae.norm_groups);
    }
    zt_sched_config sc;
    memset(&sc, 0, sizeof sc);
    zt_sched_config_parse(&sc, s, "scheduler/scheduler_config.json", &err);
    free(s);
    return 0;
}

ZT_FUZZ_TARGET(fuzz_config)
