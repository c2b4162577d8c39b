/*
 * common.cuh - device helpers shared by kernels/ (one .cu per op family): dtype-generic loads
 * and stores (F32, BF16, F16 by run-time dtype; the branch is uniform across
 * a launch, so it costs a few instructions, not divergence), grid sizing and
 * warp reductions.
 */
#ifndef ZT_COMMON_CUH
#define ZT_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "tensor.h"

static __device__ __forceinline__ float ld_f(const void *p, int dt, int64_t i)
{
    switch (dt) {
    case ZT_BF16:
        return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    case ZT_F16:
        return __half2float(((const __half *)p)[i]);
    default:
        return ((const float *)p)[i];
    }
}

static __device__ __forceinline__ void st_f(void *p, int dt, int64_t i, float v)
{
    switch (dt) {
    case ZT_BF16:
        ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
        break;
    case ZT_F16:
        ((__half *)p)[i] = __float2half_rn(v);
        break;
    default:
        ((float *)p)[i] = v;
        break;
    }
}

static __device__ __forceinline__ float silu_f(float v)
{
    return v / (1.0f + __expf(-v));
}

static __device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Blocks for a grid-stride loop over n items with bs threads per block:
 * enough to fill the device several times over, never more than needed. */
static inline unsigned grid_for(int64_t n, int bs)
{
    int64_t b = (n + bs - 1) / bs;
    if (b > 65535LL * 16)
        b = 65535LL * 16;
    if (b < 1)
        b = 1;
    return (unsigned)b;
}

static inline int float_dt(zt_dtype t)
{
    return t == ZT_F32 || t == ZT_BF16 || t == ZT_F16;
}

#endif
