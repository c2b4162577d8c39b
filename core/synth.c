/* synth.c - synthetic weights (see synth.h for the contract). */
#include "synth.h"

#include <math.h>
#include <string.h>

uint32_t zt_synth_fnv1a32(const char *s)
{
    uint32_t h = 0x811C9DC5u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x01000193u;
    }
    return h;
}

static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

uint32_t zt_synth_key(const char *name, uint32_t seed)
{
    return fmix32(zt_synth_fnv1a32(name) ^ seed);
}

/* Each step is one float32 operation; volatile keeps the compiler from
 * contracting r*0.1f + 1 into an FMA, which would change the last bit. */
float zt_synth_value(uint32_t key, uint64_t i, int rank, int64_t fan_in, int is_bias)
{
    uint32_t x = fmix32(((uint32_t)i * 0x9E3779B9u) ^ key);
    float u = (float)(x >> 8) * (1.0f / 16777216.0f);
    volatile float r = 2.0f * u - 1.0f;
    if (rank >= 2)
        return r * sqrtf(3.0f / (float)fan_in);
    if (is_bias)
        return r * 0.02f;
    volatile float m = r * 0.1f;
    return m + 1.0f;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void zt_synth_fill(zt_tensor *t, const char *name, uint32_t seed)
{
    ZT_ASSERT(t->dtype == ZT_BF16);
    uint32_t key = zt_synth_key(name, seed);
    int64_t fan_in = 1;
    for (int d = 1; d < t->ndim; d++)
        fan_in *= t->shape[d];
    int bias = ends_with(name, "bias");
    int64_t n = zt_tensor_numel(t);
    uint16_t *out = t->data;
    for (int64_t i = 0; i < n; i++)
        out[i] = zt_f32_to_bf16(zt_synth_value(key, (uint64_t)i, t->ndim, fan_in, bias));
}
