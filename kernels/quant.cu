/*
 * quant.cu - rows to E4M3 with a per-row scale (--precision fp8).
 *
 * A warp a row: one pass for max|x|, one to scale and convert (the row is
 * at most 20 KB, so the second read comes from cache). The arithmetic is
 * the CPU reference's, operation for operation and correctly rounded
 * (s = amax / 448, inv = 1 / s, x * inv, then the saturating
 * round-to-nearest-even conversion), so both backends give the same bytes.
 */
#include <cuda_fp8.h>

#include "common.cuh"
#include "zt_kernels.h"

#define QROWS 8 /* warps (rows) a block */

static __device__ __forceinline__ uint8_t e4m3(float v)
{
    return (uint8_t)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
}

static __device__ __forceinline__ float row_scale(float amax)
{
    return amax > 0.0f ? __fdiv_rn(amax, 448.0f) : 1.0f;
}

/* K % 8 == 0, x 16-byte and q 8-byte aligned: 8 elements a lane a step */
__global__ void quant_rows8(uint8_t *q, float *s, const void *x, int xdt, int64_t rows, int K)
{
    int64_t r = (int64_t)blockIdx.x * QROWS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    const int64_t base = r * K;
    float amax = 0.0f, v[8];
    for (int i = lane * 8; i < K; i += 256) {
        ld8(v, x, xdt, base + i);
#pragma unroll
        for (int k = 0; k < 8; k++)
            amax = fmaxf(amax, fabsf(v[k]));
    }
    const float sr = row_scale(warp_max(amax)), inv = __frcp_rn(sr);
    for (int i = lane * 8; i < K; i += 256) {
        ld8(v, x, xdt, base + i);
        uint32_t w[2] = {0, 0};
#pragma unroll
        for (int k = 0; k < 8; k++)
            w[k / 4] |= (uint32_t)e4m3(__fmul_rn(v[k], inv)) << (8 * (k % 4));
        *(uint2 *)(q + base + i) = make_uint2(w[0], w[1]);
    }
    if (lane == 0)
        s[r] = sr;
}

__global__ void quant_rows1(uint8_t *q, float *s, const void *x, int xdt, int64_t rows, int K)
{
    int64_t r = (int64_t)blockIdx.x * QROWS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    const int64_t base = r * K;
    float amax = 0.0f;
    for (int i = lane; i < K; i += 32)
        amax = fmaxf(amax, fabsf(ld_f(x, xdt, base + i)));
    const float sr = row_scale(warp_max(amax)), inv = __frcp_rn(sr);
    for (int i = lane; i < K; i += 32)
        q[base + i] = e4m3(__fmul_rn(ld_f(x, xdt, base + i), inv));
    if (lane == 0)
        s[r] = sr;
}

__global__ void dequant_rows(void *y, int ydt, const uint8_t *q, const float *s, int64_t n,
                             int64_t K)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        __nv_fp8_e4m3 v;
        v.__x = q[i];
        st_f(y, ydt, i, (float)v * s[i / K]);
    }
}

extern "C" cudaError_t zt_cuda_dequantize_rows(void *y, zt_dtype ydt, const void *q, const float *s,
                                               int64_t rows, int64_t K, cudaStream_t st)
{
    if (!float_dt(ydt) || K < 1)
        return cudaErrorInvalidValue;
    int64_t n = rows * K;
    if (n < 1)
        return cudaSuccess;
    dequant_rows<<<grid_for(n, 256), 256, 0, st>>>(y, ydt, (const uint8_t *)q, s, n, K);
    return cudaGetLastError();
}

extern "C" cudaError_t zt_cuda_quantize_rows(void *q, float *s, const void *x, zt_dtype xdt,
                                             int64_t rows, int64_t K, cudaStream_t st)
{
    if (!float_dt(xdt) || K < 1 || K > INT32_MAX)
        return cudaErrorInvalidValue;
    if (rows < 1)
        return cudaSuccess;
    unsigned blocks = (unsigned)((rows + QROWS - 1) / QROWS);
    if (K % 8 == 0 && xdt != ZT_F16 && al16(x) && ((uintptr_t)q & 7) == 0)
        quant_rows8<<<blocks, QROWS * 32, 0, st>>>((uint8_t *)q, s, x, xdt, rows, (int)K);
    else
        quant_rows1<<<blocks, QROWS * 32, 0, st>>>((uint8_t *)q, s, x, xdt, rows, (int)K);
    return cudaGetLastError();
}
