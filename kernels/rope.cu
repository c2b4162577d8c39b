/*
 * rope.cu - rotary position embedding applied in place to x [S, heads, hd].
 *
 * cs is F32 [S, hd/2, 2]: (cos, sin) for each position and pair, built by the
 * model code (the DiT's three-axis table and Qwen's 1-D table look the same
 * here). NEOX pairs (x[i], x[i + hd/2]); interleaved pairs (x[2m], x[2m+1]).
 * One thread per pair; both elements of a pair are read before either is
 * written, so in place is safe.
 */
#include "common.cuh"
#include "zt_kernels.h"

__global__ void k_rope(void *x, int xdt, const float *cs, int64_t S, int64_t heads, int64_t hd,
                       int kind)
{
    int64_t half = hd / 2, n = S * heads * half;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t m = i % half, sh = i / half; /* sh = s * heads + h */
        int64_t s = sh / heads;
        float c = cs[(s * half + m) * 2], sn = cs[(s * half + m) * 2 + 1];
        int64_t base = sh * hd;
        int64_t i0 = kind == 0 ? base + m : base + 2 * m;
        int64_t i1 = kind == 0 ? base + m + half : base + 2 * m + 1;
        float x0 = ld_f(x, xdt, i0), x1 = ld_f(x, xdt, i1);
        st_f(x, xdt, i0, x0 * c - x1 * sn);
        st_f(x, xdt, i1, x0 * sn + x1 * c);
    }
}

/* Interleaved pairs, 8 elements (4 pairs) a thread: one 16-byte load of x and
 * two of cs. Needs hd % 8 == 0 and 16-byte aligned x and cs (host checks). */
__global__ void k_rope_il8(void *x, int xdt, const float *cs, unsigned heads, unsigned hd,
                           unsigned n8)
{
    const unsigned c8 = hd / 8, half = hd / 2;
    for (unsigned j = blockIdx.x * blockDim.x + threadIdx.x; j < n8; j += gridDim.x * blockDim.x) {
        const unsigned sh = j / c8, m0 = (j % c8) * 4, s = sh / heads;
        float v[8];
        ld8(v, x, xdt, (int64_t)j * 8);
        rope_il8(v, cs + ((size_t)s * half + m0) * 2);
        st8(x, xdt, (int64_t)j * 8, v);
    }
}

cudaError_t zt_cuda_rope(void *x, zt_dtype xdt, const float *cs, int64_t S, int64_t heads,
                         int64_t hd, int kind, cudaStream_t st)
{
    if (!float_dt(xdt) || hd <= 0 || hd % 2 || kind < 0 || kind > 1)
        return cudaErrorInvalidValue;
    int64_t n = S * heads * (hd / 2);
    if (n <= 0)
        return cudaSuccess;
    if (kind == 1 && hd % 8 == 0 && S * heads * hd < (1LL << 31) && al16(x) && al16(cs)) {
        unsigned n8 = (unsigned)(S * heads * hd / 8);
        k_rope_il8<<<grid_for(n8, 256), 256, 0, st>>>(x, xdt, cs, (unsigned)heads,
                                                       (unsigned)hd, n8);
        return cudaGetLastError();
    }
    k_rope<<<grid_for(n, 256), 256, 0, st>>>(x, xdt, cs, S, heads, hd, kind);
    return cudaGetLastError();
}
