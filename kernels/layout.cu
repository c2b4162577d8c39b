/*
 * layout.cu - data movement: 2-D transpose, patchify / unpatchify between
 * channel-first latents and token rows, nearest 2x upsampling, and im2col
 * for the convolution GEMM. Each converts dtype on the way.
 */
#include "common.cuh"
#include "zt_kernels.h"

#define BS 256
#define TT 32 /* transpose tile */

/* x [M, N] (row stride ldx) -> y [N, M] (row stride ldy), one matrix per
 * blockIdx.z (batch strides bx, by elements), through a shared tile, so
 * both sides are coalesced. */
__global__ void k_transpose(void *y, int ydt, const void *x, int xdt, int64_t M, int64_t N,
                            int64_t ldx, int64_t ldy, int64_t bx, int64_t by)
{
    __shared__ float tile[TT][TT + 1];
    int64_t r0 = (int64_t)blockIdx.y * TT, c0 = (int64_t)blockIdx.x * TT;
    int64_t xo = (int64_t)blockIdx.z * bx, yo = (int64_t)blockIdx.z * by;
    for (int j = threadIdx.y; j < TT; j += blockDim.y) {
        int64_t r = r0 + j, c = c0 + threadIdx.x;
        if (r < M && c < N)
            tile[j][threadIdx.x] = ld_f(x, xdt, xo + r * ldx + c);
    }
    __syncthreads();
    for (int j = threadIdx.y; j < TT; j += blockDim.y) {
        int64_t c = c0 + j, r = r0 + threadIdx.x; /* y[c][r] */
        if (r < M && c < N)
            st_f(y, ydt, yo + c * ldy + r, tile[threadIdx.x][j]);
    }
}

cudaError_t zt_cuda_transpose_strided(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                                      int64_t batch, int64_t M, int64_t N, int64_t ldx,
                                      int64_t ldy, int64_t bx, int64_t by, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || (M + TT - 1) / TT > 65535 || batch > 65535 ||
        ldx < N || ldy < M)
        return cudaErrorInvalidValue;
    if (M <= 0 || N <= 0 || batch <= 0)
        return cudaSuccess;
    dim3 grid((unsigned)((N + TT - 1) / TT), (unsigned)((M + TT - 1) / TT), (unsigned)batch);
    k_transpose<<<grid, dim3(TT, 8), 0, st>>>(y, ydt, x, xdt, M, N, ldx, ldy, bx, by);
    return cudaGetLastError();
}

cudaError_t zt_cuda_transpose(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t M,
                              int64_t N, cudaStream_t st)
{
    return zt_cuda_transpose_strided(y, ydt, x, xdt, 1, M, N, N, M, 0, 0, st);
}

/* One thread per token-row element: y[t][(py*p+px)*C + c] = x[c][i*p+py][j*p+px],
 * t = i*(W/p) + j. unpatch != 0 moves the other way. */
__global__ void k_patchify(void *y, int ydt, const void *x, int xdt, int64_t C, int64_t H,
                           int64_t W, int p, int unpatch)
{
    int64_t wp = W / p, n = C * H * W, row = (int64_t)p * p * C;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t t = i / row, e = i % row;
        int64_t pp = e / C, c = e % C;
        int64_t py = pp / p, px = pp % p;
        int64_t yy = (t / wp) * p + py, xx = (t % wp) * p + px;
        int64_t xi = (c * H + yy) * W + xx;
        if (unpatch)
            st_f(y, ydt, xi, ld_f(x, xdt, i));
        else
            st_f(y, ydt, i, ld_f(x, xdt, xi));
    }
}

cudaError_t zt_cuda_patchify(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t C,
                             int64_t H, int64_t W, int p, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || p <= 0 || H % p || W % p)
        return cudaErrorInvalidValue;
    if (C * H * W <= 0)
        return cudaSuccess;
    k_patchify<<<grid_for(C * H * W, BS), BS, 0, st>>>(y, ydt, x, xdt, C, H, W, p, 0);
    return cudaGetLastError();
}

cudaError_t zt_cuda_unpatchify(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t C,
                               int64_t H, int64_t W, int p, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || p <= 0 || H % p || W % p)
        return cudaErrorInvalidValue;
    if (C * H * W <= 0)
        return cudaSuccess;
    k_patchify<<<grid_for(C * H * W, BS), BS, 0, st>>>(y, ydt, x, xdt, C, H, W, p, 1);
    return cudaGetLastError();
}

__global__ void k_upsample2x(void *y, int ydt, const void *x, int xdt, int64_t C, int64_t H,
                             int64_t W)
{
    int64_t W2 = 2 * W, n = C * 4 * H * W;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t xx = i % W2, rest = i / W2;
        int64_t yy = rest % (2 * H), c = rest / (2 * H);
        st_f(y, ydt, i, ld_f(x, xdt, (c * H + yy / 2) * W + xx / 2));
    }
}

cudaError_t zt_cuda_upsample2x(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t C,
                               int64_t H, int64_t W, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt))
        return cudaErrorInvalidValue;
    if (C * H * W <= 0)
        return cudaSuccess;
    k_upsample2x<<<grid_for(4 * C * H * W, BS), BS, 0, st>>>(y, ydt, x, xdt, C, H, W);
    return cudaGetLastError();
}

/* col[r][q] for r = (ci*k + ky)*k + kx, q = p - p0: x[ci][y+ky-k/2][x+kx-k/2]
 * or 0 outside the image. blockIdx.y is the row r (so its (ci, ky, kx) are
 * block constants) and threads take consecutive q: writes are coalesced,
 * reads nearly so, and the per-element index work is one 32-bit div/mod.
 * Rows past 65535 wrap through blockIdx.z. */
__global__ void k_im2col(void *col, int cdt, const void *x, int xdt, int64_t rows, int H, int W,
                         int k, int64_t p0, int np)
{
    int64_t r = (int64_t)blockIdx.z * 65535 + blockIdx.y;
    if (r >= rows)
        return;
    int kx = (int)(r % k), ky = (int)((r / k) % k);
    int64_t ci = r / (k * k);
    int pad = k / 2;
    const int64_t cbase = ci * H * W;
    for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < np; q += gridDim.x * blockDim.x) {
        int p = (int)p0 + q;
        int yy = p / W + ky - pad, xx = p % W + kx - pad;
        float v = 0.0f;
        if (yy >= 0 && yy < H && xx >= 0 && xx < W)
            v = ld_f(x, xdt, cbase + (int64_t)yy * W + xx);
        st_f(col, cdt, r * np + q, v);
    }
}

/* The BF16 -> BF16 case, 8 columns a thread and one 16-byte store: the
 * conv's hot path, limited by the bytes it writes. Needs np and p0
 * multiples of 8 and col 16-byte aligned. */
__global__ void k_im2col_bf16x8(uint4 *col, const uint16_t *x, int64_t rows, int H, int W, int k,
                                int64_t p0, int np8)
{
    int64_t r = (int64_t)blockIdx.z * 65535 + blockIdx.y;
    if (r >= rows)
        return;
    int kx = (int)(r % k), ky = (int)((r / k) % k);
    int pad = k / 2;
    const uint16_t *xc = x + (r / (k * k)) * H * W;
    for (int q8 = blockIdx.x * blockDim.x + threadIdx.x; q8 < np8;
         q8 += gridDim.x * blockDim.x) {
        int p = (int)p0 + 8 * q8;
        int yy = p / W, xx = p % W;
        uint16_t v[8];
#pragma unroll
        for (int e = 0; e < 8; e++) {
            int sy = yy + ky - pad, sx = xx + kx - pad;
            v[e] = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? xc[sy * W + sx] : (uint16_t)0;
            if (++xx == W)
                xx = 0, yy++;
        }
        uint4 o;
        o.x = v[0] | ((uint32_t)v[1] << 16);
        o.y = v[2] | ((uint32_t)v[3] << 16);
        o.z = v[4] | ((uint32_t)v[5] << 16);
        o.w = v[6] | ((uint32_t)v[7] << 16);
        col[r * (np8) + q8] = o;
    }
}

cudaError_t zt_cuda_im2col(void *col, zt_dtype cdt, const void *x, zt_dtype xdt, int64_t Ci,
                           int64_t H, int64_t W, int k, int64_t p0, int64_t np,
                           cudaStream_t st)
{
    if (!float_dt(cdt) || !float_dt(xdt) || k <= 0 || p0 < 0 || p0 + np > H * W)
        return cudaErrorInvalidValue;
    int64_t rows = Ci * k * k;
    if (H * W > INT32_MAX || np > INT32_MAX || rows > 65535LL * 65535)
        return cudaErrorInvalidValue;
    if (rows <= 0 || np <= 0)
        return cudaSuccess;
    if (cdt == ZT_BF16 && xdt == ZT_BF16 && np % 8 == 0 && p0 % 8 == 0 &&
        ((uintptr_t)col & 15) == 0) {
        int64_t np8 = np / 8;
        unsigned gx = (unsigned)((np8 + BS - 1) / BS);
        dim3 grid(gx, (unsigned)(rows < 65535 ? rows : 65535), (unsigned)((rows + 65534) / 65535));
        k_im2col_bf16x8<<<grid, BS, 0, st>>>((uint4 *)col, (const uint16_t *)x, rows, (int)H,
                                              (int)W, k, p0, (int)np8);
        return cudaGetLastError();
    }
    unsigned gx = (unsigned)((np + BS * 4 - 1) / (BS * 4)); /* 4 columns a thread */
    dim3 grid(gx, (unsigned)(rows < 65535 ? rows : 65535), (unsigned)((rows + 65534) / 65535));
    k_im2col<<<grid, BS, 0, st>>>(col, cdt, x, xdt, rows, (int)H, (int)W, k, p0, (int)np);
    return cudaGetLastError();
}
