/*
 * rng.h - initial noise that matches PyTorch's torch.randn bit for bit.
 *
 * Two generators, both computed on the host in plain C:
 *
 *   ZT_RNG_CUDA  torch.Generator("cuda").manual_seed(seed): Philox4x32-10
 *                with curand's counter layout and Box-Muller, arranged the
 *                way PyTorch's CUDA normal_ kernel arranges its threads.
 *                The layout depends on the GPU's SM count for tensors of
 *                more than about a million elements, so the generator
 *                carries the count of the GPU being imitated.
 *   ZT_RNG_CPU   torch.Generator("cpu").manual_seed(seed): mt19937 and
 *                PyTorch's 16-wide Box-Muller fill.
 *
 * A zt_rng advances like torch's generator: two successive draws equal two
 * successive torch.randn calls on one generator. CPU results are bit-exact
 * against PyTorch's x86 (AVX2) build; CUDA results differ only by the GPU's
 * fast sin/cos (about 2e-6 at most on the fixtures).
 *
 * A zt_rng is plain caller-owned storage (no heap); one thread at a time.
 */
#ifndef ZT_RNG_H
#define ZT_RNG_H

#include <stdint.h>

#include "status.h"

typedef enum zt_rng_kind {
    ZT_RNG_CUDA,
    ZT_RNG_CPU,
} zt_rng_kind;

/* The GPU of the reference runs: H100 SXM / H200 (Hopper). */
#define ZT_RNG_SM_COUNT_DEFAULT 132
#define ZT_RNG_THREADS_PER_SM_DEFAULT 2048

#define ZT_MT_N 624

typedef struct zt_rng {
    zt_rng_kind kind;
    uint64_t seed;
    /* CUDA: Philox offset (per thread, in 32-bit draws) of the next call,
     * and the GPU shape that decides the grid. */
    uint64_t philox_offset;
    int sm_count;
    int threads_per_sm;
    /* CPU: mt19937 state, and the cached second normal of the scalar
     * (double) path that torch keeps in its generator. */
    uint32_t mt[ZT_MT_N];
    int mt_next;
    int has_next_normal;
    double next_normal;
} zt_rng;

/* "cuda" or "cpu" (case-sensitive) into *kind; ZT_ERR_INVALID otherwise. */
zt_status zt_rng_kind_parse(const char *s, zt_rng_kind *kind, zt_err *err);
const char *zt_rng_kind_name(zt_rng_kind kind);

/* Seed like manual_seed(seed). sm_count / threads_per_sm describe the GPU
 * whose layout to imitate (multiProcessorCount, maxThreadsPerMultiProcessor);
 * 0 means the defaults above. Ignored by the CPU generator. */
void zt_rng_init(zt_rng *r, zt_rng_kind kind, uint64_t seed, int sm_count,
                 int threads_per_sm);

/* n standard normals into out[0..n), like torch.randn((n,)) - the shape
 * does not matter, only the element count. Advances the generator.
 * n < 0 is ZT_ERR_INVALID; n beyond 2^31-1 elements is ZT_ERR_TOO_BIG
 * (PyTorch would split such a launch; latents never come near). */
zt_status zt_rng_randn(zt_rng *r, float *out, int64_t n, zt_err *err);

/* One-shot forms. The CUDA one takes and returns the Philox offset so a
 * caller can chain draws without a zt_rng (offset_out may be NULL). */
zt_status zt_rng_randn_cuda(uint64_t seed, float *out, int64_t n, int sm_count,
                            uint64_t offset_in, uint64_t *offset_out, zt_err *err);
zt_status zt_rng_randn_cpu(uint64_t seed, float *out, int64_t n, zt_err *err);

/* Philox4x32-10 of one 128-bit counter (ctr[0] lowest word) under a 64-bit
 * key: exposed for tests. */
void zt_philox4x32_10(const uint32_t ctr[4], uint64_t key, uint32_t out[4]);

#endif
