/*
 * synth.cu - synthetic weights (shared/specs/synthetic-weights.md) computed
 * in place in device memory, so a full-size model needs no host copy.
 *
 * Element i of a tensor with per-tensor key `key`:
 *   x = fmix32((uint32)i * 0x9E3779B9 ^ key); u = (x >> 8) * 2^-24; r = 2u - 1
 *   mode 0 (rank >= 2): r * scale, scale = sqrtf(3 / fan_in) from the host
 *   mode 1 (bias):      r * 0.02
 *   mode 2 (gain):      r * 0.1 + 1
 * then rounded to BF16, nearest even. Every float step is one IEEE
 * operation (__fmul_rn / __fadd_rn are never contracted into an FMA), so the
 * result matches core/synth.c bit for bit.
 */
#include "common.cuh"
#include "zt_kernels.h"

#define BS 256

static __device__ __forceinline__ uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

static __device__ __forceinline__ __nv_bfloat16 synth_one(uint64_t i, uint32_t key, int mode,
                                                          float scale)
{
    uint32_t x = fmix32(((uint32_t)i * 0x9E3779B9u) ^ key);
    float u = __fmul_rn((float)(x >> 8), 1.0f / 16777216.0f);
    float r = __fadd_rn(__fmul_rn(2.0f, u), -1.0f);
    float v;
    if (mode == 0)
        v = __fmul_rn(r, scale);
    else if (mode == 1)
        v = __fmul_rn(r, 0.02f);
    else
        v = __fadd_rn(__fmul_rn(r, 0.1f), 1.0f);
    return __float2bfloat16_rn(v);
}

/* Two elements per thread per iteration: one 4-byte store. */
__global__ void k_synth(__nv_bfloat16 *y, int64_t n, uint32_t key, int mode, float scale)
{
    int64_t n2 = n / 2;
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < n2;
         j += (int64_t)gridDim.x * blockDim.x) {
        __nv_bfloat162 o;
        o.x = synth_one((uint64_t)(2 * j), key, mode, scale);
        o.y = synth_one((uint64_t)(2 * j + 1), key, mode, scale);
        ((__nv_bfloat162 *)y)[j] = o;
    }
    if ((n & 1) && blockIdx.x == 0 && threadIdx.x == 0)
        y[n - 1] = synth_one((uint64_t)(n - 1), key, mode, scale);
}

cudaError_t zt_cuda_synth(void *y, int64_t n, uint32_t key, int mode, float scale,
                          cudaStream_t st)
{
    if (mode < 0 || mode > 2 || ((uintptr_t)y & 3))
        return cudaErrorInvalidValue;
    if (n <= 0)
        return cudaSuccess;
    k_synth<<<grid_for((n + 1) / 2, BS), BS, 0, st>>>((__nv_bfloat16 *)y, n, key, mode, scale);
    return cudaGetLastError();
}
