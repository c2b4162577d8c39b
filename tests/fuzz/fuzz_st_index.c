/*
 * fuzz_st_index.c - a *.safetensors.index.json through zt_st_index_parse.
 *
 * The text is copied to a buffer of exactly its size, so reading past the
 * given length is caught.
 *
 * Property: every tensor maps to a shard in range; shard names are
 * distinct plain file names (nothing that leaves the component directory).
 */
#include "fuzz.h"
#include "safetensors.h"

static int fuzz_st_index(const uint8_t *data, size_t size)
{
    char *json = malloc(size ? size : 1);
    if (!json)
        return 0;
    if (size)
        memcpy(json, data, size);
    zt_st_index ix;
    zt_err err = {0};
    if (zt_st_index_parse(&ix, json, size, "fuzz.index.json", &err) == ZT_OK) {
        for (int i = 0; i < ix.n_names; i++)
            if (!ix.names[i] || ix.shard_of[i] < 0 || ix.shard_of[i] >= ix.n_shards)
                fuzz_fail("name %d maps to shard %d of %d", i, ix.shard_of[i], ix.n_shards);
        for (int k = 0; k < ix.n_shards; k++) {
            const char *s = ix.shards[k];
            if (!s || !s[0] || strchr(s, '/') || strchr(s, '\\') || strstr(s, ".."))
                fuzz_fail("shard %d: '%s' is not a plain file name", k, s ? s : "(null)");
            for (int j = 0; j < k; j++)
                if (!strcmp(ix.shards[j], s))
                    fuzz_fail("shard '%s' listed twice", s);
        }
    } else if (ix.n_names || ix.n_shards || ix.names || ix.shards) {
        fuzz_fail("failed parse left entries");
    }
    zt_st_index_free(&ix);
    free(json);
    return 0;
}

ZT_FUZZ_TARGET(fuzz_st_index)
