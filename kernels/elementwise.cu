/*
 * elementwise.cu - pointwise ops: dtype conversion, unary functions, add/mul
 * with row broadcast, gated residual add, SwiGLU, scale-add, axpy, and the
 * embedding gather.
 *
 * All are memory-bound grid-stride loops over flat element indices; the
 * dtype of each operand is chosen at run time (common.cuh), and arithmetic
 * is F32.
 */
#include "common.cuh"
#include "zt_kernels.h"

#define BS 256

/* The vector path of the pointwise ops: 8 elements a thread with 16-byte
 * loads and stores (the scalar loops move 2 bytes a thread and reach about a
 * quarter of the memory bandwidth). Used when n, the broadcast width and
 * every pointer allow it; indices fit 32 bits (n < 2^31, checked). */
enum { EW_ADD, EW_MUL, EW_GATED, EW_SWIGLU, EW_SCALE_ADD, EW_AXPY, EW_SILU, EW_TANH };

template <int OP>
__global__ void k_ew8(void *y, int ydt, const void *a, int adt, const void *b, int bdt,
                      unsigned n8, unsigned bcols, float alpha, float beta)
{
    for (unsigned j = blockIdx.x * blockDim.x + threadIdx.x; j < n8; j += gridDim.x * blockDim.x) {
        const unsigned i = j * 8;
        float av[8], bv[8], yv[8];
        ld8(av, a, adt, i);
        if (OP == EW_ADD || OP == EW_MUL || OP == EW_SWIGLU)
            ld8(bv, b, bdt, bcols ? i % bcols : i);
        if (OP == EW_GATED) {
            if (b)
                ld8(bv, b, bdt, i % bcols);
            else
#pragma unroll
                for (int k = 0; k < 8; k++)
                    bv[k] = 1.0f;
        }
        if (OP == EW_GATED || OP == EW_AXPY)
            ld8(yv, y, ydt, i);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            float r;
            switch (OP) {
            case EW_ADD: r = av[k] + bv[k]; break;
            case EW_MUL: r = av[k] * bv[k]; break;
            case EW_GATED: r = yv[k] + bv[k] * av[k]; break;
            case EW_SWIGLU: r = silu_f(av[k]) * bv[k]; break;
            case EW_SCALE_ADD: r = alpha * av[k] + beta; break;
            case EW_AXPY: r = yv[k] + alpha * av[k]; break;
            case EW_SILU: r = silu_f(av[k]); break;
            default: r = tanhf(av[k]); break;
            }
            yv[k] = r;
        }
        st8(y, ydt, i, yv);
    }
}

/* b may be NULL (gated add without a gate); bcols 0 means b is as long as y. */
static int ew8_ok(const void *y, const void *a, const void *b, int64_t n, int64_t bcols)
{
    return n % 8 == 0 && bcols % 8 == 0 && n < (1LL << 31) && al16(y) && al16(a) &&
           (!b || al16(b));
}

template <int OP>
static cudaError_t ew8(void *y, int ydt, const void *a, int adt, const void *b, int bdt,
                       int64_t n, int64_t bcols, float alpha, float beta, cudaStream_t st)
{
    k_ew8<OP><<<grid_for(n / 8, BS), BS, 0, st>>>(y, ydt, a, adt, b, bdt, (unsigned)(n / 8),
                                                   (unsigned)bcols, alpha, beta);
    return cudaGetLastError();
}

__global__ void k_convert(void *y, int ydt, const void *x, int xdt, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        st_f(y, ydt, i, ld_f(x, xdt, i));
}

/* BF16 -> BF16 and F32 -> BF16 are the hot conversions; 8 wide. */
__global__ void k_convert_f32_bf16_v(__nv_bfloat16 *y, const float *x, int64_t n8)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n8;
         i += (int64_t)gridDim.x * blockDim.x) {
        float4 a = ((const float4 *)x)[2 * i], b = ((const float4 *)x)[2 * i + 1];
        __nv_bfloat162 o[4] = {__floats2bfloat162_rn(a.x, a.y), __floats2bfloat162_rn(a.z, a.w),
                               __floats2bfloat162_rn(b.x, b.y), __floats2bfloat162_rn(b.z, b.w)};
        ((uint4 *)y)[i] = *(const uint4 *)o;
    }
}

cudaError_t zt_cuda_convert(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t n,
                            cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt))
        return cudaErrorInvalidValue;
    if (n <= 0)
        return cudaSuccess;
    if (ydt == xdt)
        return cudaMemcpyAsync(y, x, (size_t)n * (ydt == ZT_F32 ? 4 : 2),
                               cudaMemcpyDeviceToDevice, st);
    if (xdt == ZT_F32 && ydt == ZT_BF16 && n % 8 == 0 && ((uintptr_t)x & 15) == 0 &&
        ((uintptr_t)y & 15) == 0) {
        k_convert_f32_bf16_v<<<grid_for(n / 8, BS), BS, 0, st>>>((__nv_bfloat16 *)y,
                                                                  (const float *)x, n / 8);
        return cudaGetLastError();
    }
    k_convert<<<grid_for(n, BS), BS, 0, st>>>(y, ydt, x, xdt, n);
    return cudaGetLastError();
}

__global__ void k_unary(void *y, int ydt, const void *x, int xdt, int64_t n, int op)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float v = ld_f(x, xdt, i);
        st_f(y, ydt, i, op == 0 ? silu_f(v) : tanhf(v));
    }
}

cudaError_t zt_cuda_unary(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t n,
                          int op, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || op < 0 || op > 1)
        return cudaErrorInvalidValue;
    if (n <= 0)
        return cudaSuccess;
    if (ew8_ok(y, x, NULL, n, 0))
        return op == 0 ? ew8<EW_SILU>(y, ydt, x, xdt, NULL, 0, n, 0, 0, 0, st)
                       : ew8<EW_TANH>(y, ydt, x, xdt, NULL, 0, n, 0, 0, 0, st);
    k_unary<<<grid_for(n, BS), BS, 0, st>>>(y, ydt, x, xdt, n, op);
    return cudaGetLastError();
}

__global__ void k_binary(void *y, int ydt, const void *a, int adt, const void *b, int bdt,
                         int64_t n, int64_t bcols, int op)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float av = ld_f(a, adt, i), bv = ld_f(b, bdt, bcols ? i % bcols : i);
        st_f(y, ydt, i, op == 0 ? av + bv : av * bv);
    }
}

cudaError_t zt_cuda_binary(void *y, zt_dtype ydt, const void *a, zt_dtype adt, const void *b,
                           zt_dtype bdt, int64_t n, int64_t bcols, int op, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(adt) || !float_dt(bdt) || op < 0 || op > 1 || bcols < 0)
        return cudaErrorInvalidValue;
    if (n <= 0)
        return cudaSuccess;
    if (ew8_ok(y, a, b, n, bcols))
        return op == 0 ? ew8<EW_ADD>(y, ydt, a, adt, b, bdt, n, bcols, 0, 0, st)
                       : ew8<EW_MUL>(y, ydt, a, adt, b, bdt, n, bcols, 0, 0, st);
    k_binary<<<grid_for(n, BS), BS, 0, st>>>(y, ydt, a, adt, b, bdt, n, bcols, op);
    return cudaGetLastError();
}

__global__ void k_gated_add(void *y, int ydt, const void *x, int xdt, const void *g, int gdt,
                            int64_t n, int64_t C)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float gv = g ? ld_f(g, gdt, i % C) : 1.0f;
        st_f(y, ydt, i, ld_f(y, ydt, i) + gv * ld_f(x, xdt, i));
    }
}

cudaError_t zt_cuda_gated_add(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                              const void *gate, zt_dtype gdt, int64_t n, int64_t C,
                              cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || (gate && !float_dt(gdt)) || C <= 0)
        return cudaErrorInvalidValue;
    if (n <= 0)
        return cudaSuccess;
    if (ew8_ok(y, x, gate, n, C))
        return ew8<EW_GATED>(y, ydt, x, xdt, gate, gdt, n, C, 0, 0, st);
    k_gated_add<<<grid_for(n, BS), BS, 0, st>>>(y, ydt, x, xdt, gate, gdt, n, C);
    return cudaGetLastError();
}

__global__ void k_swiglu(void *y, int ydt, const void *g, int gdt, const void *u, int udt,
                         int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        st_f(y, ydt, i, silu_f(ld_f(g, gdt, i)) * ld_f(u, udt, i));
}

cudaError_t zt_cuda_swiglu(void *y, zt_dtype ydt, const void *gate, zt_dtype gdt,
                           const void *up, zt_dtype udt, int64_t n, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(gdt) || !float_dt(udt))
        return cudaErrorInvalidValue;
    if (n <= 0)
        return cudaSuccess;
    if (ew8_ok(y, gate, up, n, 0))
        return ew8<EW_SWIGLU>(y, ydt, gate, gdt, up, udt, n, 0, 0, 0, st);
    k_swiglu<<<grid_for(n, BS), BS, 0, st>>>(y, ydt, gate, gdt, up, udt, n);
    return cudaGetLastError();
}

__global__ void k_scale_add(void *y, int ydt, const void *x, int xdt, int64_t n, float alpha,
                            float beta)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        st_f(y, ydt, i, alpha * ld_f(x, xdt, i) + beta);
}

cudaError_t zt_cuda_scale_add(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t n,
                              float alpha, float beta, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt))
        return cudaErrorInvalidValue;
    if (n <= 0)
        return cudaSuccess;
    if (ew8_ok(y, x, NULL, n, 0))
        return ew8<EW_SCALE_ADD>(y, ydt, x, xdt, NULL, 0, n, 0, alpha, beta, st);
    k_scale_add<<<grid_for(n, BS), BS, 0, st>>>(y, ydt, x, xdt, n, alpha, beta);
    return cudaGetLastError();
}

__global__ void k_axpy(void *y, int ydt, const void *x, int xdt, int64_t n, float alpha)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        st_f(y, ydt, i, ld_f(y, ydt, i) + alpha * ld_f(x, xdt, i));
}

cudaError_t zt_cuda_axpy(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t n,
                         float alpha, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt))
        return cudaErrorInvalidValue;
    if (n <= 0)
        return cudaSuccess;
    if (ew8_ok(y, x, NULL, n, 0))
        return ew8<EW_AXPY>(y, ydt, x, xdt, NULL, 0, n, 0, alpha, 0, st);
    k_axpy<<<grid_for(n, BS), BS, 0, st>>>(y, ydt, x, xdt, n, alpha);
    return cudaGetLastError();
}

__global__ void k_embed(void *y, int ydt, const void *table, int tdt, const int32_t *ids,
                        int64_t L, int64_t H, int64_t V, int *bad)
{
    int64_t n = L * H;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t l = i / H, h = i % H;
        int32_t id = ids[l];
        if (id < 0 || id >= V) {
            if (h == 0)
                *bad = 1;
            st_f(y, ydt, i, 0.0f);
        } else {
            st_f(y, ydt, i, ld_f(table, tdt, (int64_t)id * H + h));
        }
    }
}

cudaError_t zt_cuda_embed(void *y, zt_dtype ydt, const void *table, zt_dtype tdt,
                          const int32_t *ids, int64_t L, int64_t H, int64_t V, int *bad,
                          cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(tdt) || H <= 0)
        return cudaErrorInvalidValue;
    if (L <= 0)
        return cudaSuccess;
    k_embed<<<grid_for(L * H, BS), BS, 0, st>>>(y, ydt, table, tdt, ids, L, H, V, bad);
    return cudaGetLastError();
}
