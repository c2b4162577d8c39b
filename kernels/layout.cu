/*
 * layout.cu - data movement: 2-D transpose, patchify / unpatchify between
 * channel-first latents and token rows, and for the channels-last decoder
 * nearest 2x upsampling, im2col for the convolution GEMM and the 3x3
 * convolution to a few channels, which reads its input in place instead.
 * Each converts dtype on the way.
 */
#include "common.cuh"
#include "zt_kernels.h"

#define BS 256
#define TT 32 /* transpose tile */

/* x [M, N] (row stride ldx) -> y [N, M] (row stride ldy), one matrix per
 * blockIdx.z (batch strides bx, by elements), through a shared tile, so
 * both sides are coalesced. Row tiles stride by gridDim.y, so M may exceed
 * 65535 tiles (a 1536x1536 image's [H*W, 3] pixels). */
__global__ void k_transpose(void *y, int ydt, const void *x, int xdt, int64_t M, int64_t N,
                            int64_t ldx, int64_t ldy, int64_t bx, int64_t by)
{
    __shared__ float tile[TT][TT + 1];
    const int64_t c0 = (int64_t)blockIdx.x * TT;
    const int64_t xo = (int64_t)blockIdx.z * bx, yo = (int64_t)blockIdx.z * by;
    for (int64_t r0 = (int64_t)blockIdx.y * TT; r0 < M; r0 += (int64_t)gridDim.y * TT) {
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
        __syncthreads();
    }
}

cudaError_t zt_cuda_transpose_strided(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                                      int64_t batch, int64_t M, int64_t N, int64_t ldx,
                                      int64_t ldy, int64_t bx, int64_t by, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || (N + TT - 1) / TT > INT32_MAX || batch > 65535 ||
        ldx < N || ldy < M)
        return cudaErrorInvalidValue;
    if (M <= 0 || N <= 0 || batch <= 0)
        return cudaSuccess;
    int64_t mt = (M + TT - 1) / TT;
    dim3 grid((unsigned)((N + TT - 1) / TT), (unsigned)(mt < 65535 ? mt : 65535), (unsigned)batch);
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

/* Channels last, x [H, W, C] -> y [2H, 2W, C]: item i is element i of y,
 * or with vec the 8 channels starting at 8 * i (C a multiple of 8). */
__global__ void k_upsample2x(void *y, int ydt, const void *x, int xdt, int64_t H, int64_t W,
                             int64_t C, int vec)
{
    const int per = vec ? 8 : 1;
    const int64_t cv = C / per, n = 4 * H * W * cv;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = i % cv * per, pix = i / cv;
        int64_t ox = pix % (2 * W), oy = pix / (2 * W);
        int64_t src = ((oy / 2) * W + ox / 2) * C + c, dst = pix * C + c;
        if (vec) {
            float v[8];
            ld8(v, x, xdt, src);
            st8(y, ydt, dst, v);
        } else {
            st_f(y, ydt, dst, ld_f(x, xdt, src));
        }
    }
}

cudaError_t zt_cuda_upsample2x(void *y, zt_dtype ydt, const void *x, zt_dtype xdt, int64_t H,
                               int64_t W, int64_t C, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt))
        return cudaErrorInvalidValue;
    if (C * H * W <= 0)
        return cudaSuccess;
    int vec = C % 8 == 0 && al16(x) && al16(y);
    k_upsample2x<<<grid_for(4 * H * W * C / (vec ? 8 : 1), BS), BS, 0, st>>>(y, ydt, x, xdt, H,
                                                                            W, C, vec);
    return cudaGetLastError();
}

/* Item i is pixel i. The products and sums are spelled out so that nvcc
 * does not fuse them into an FMA, which rounds once where the CPU rounds
 * twice; __float2int_rn rounds half to even like the CPU's magic number. */
__global__ void k_to_rgb8(uint8_t *y, const void *x, int xdt, int64_t C, int64_t P)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < P;
         i += (int64_t)gridDim.x * blockDim.x)
        for (int64_t ch = 0; ch < C; ch++) {
            float v = __fadd_rn(__fmul_rn(ld_f(x, xdt, ch * P + i), 0.5f), 0.5f);
            v = v > 0.0f ? v : 0.0f; /* NaN goes to 0 too */
            v = v < 1.0f ? v : 1.0f;
            y[i * C + ch] = (uint8_t)__float2int_rn(__fmul_rn(v, 255.0f));
        }
}

cudaError_t zt_cuda_to_rgb8(uint8_t *y, const void *x, zt_dtype xdt, int64_t C, int64_t P,
                            cudaStream_t st)
{
    if (!float_dt(xdt))
        return cudaErrorInvalidValue;
    if (C * P <= 0)
        return cudaSuccess;
    k_to_rgb8<<<grid_for(P, BS), BS, 0, st>>>(y, x, xdt, C, P);
    return cudaGetLastError();
}

/* n: how many of x's N values are not finite, a warp's count added at once */
__global__ void k_count_nonfinite(unsigned long long *n, const void *x, int xdt, int64_t N)
{
    unsigned long long c = 0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N;
         i += (int64_t)gridDim.x * blockDim.x)
        c += !isfinite(ld_f(x, xdt, i));
    for (int o = 16; o; o >>= 1)
        c += __shfl_down_sync(0xffffffffu, c, o);
    if ((threadIdx.x & 31) == 0 && c)
        atomicAdd(n, c);
}

cudaError_t zt_cuda_count_nonfinite(unsigned long long *n, const void *x, zt_dtype xdt,
                                    int64_t N, cudaStream_t st)
{
    if (!float_dt(xdt))
        return cudaErrorInvalidValue;
    cudaError_t e = cudaMemsetAsync(n, 0, sizeof *n, st);
    if (e != cudaSuccess || N <= 0)
        return e;
    int64_t blocks = grid_for(N, BS);
    if (blocks > 4096) /* a few waves: the count is one atomic a warp */
        blocks = 4096;
    k_count_nonfinite<<<(unsigned)blocks, BS, 0, st>>>(n, x, xdt, N);
    return cudaGetLastError();
}

/* col [n*W, k*k*Ci] for image rows [r0, r0 + n) of x [H, W, Ci]: the row of
 * pixel (yy, xx) is its k*k neighbours' channel runs, tap-major (tap t = ky*k
 * + kx at columns t*Ci ..), zeros outside the image. Item i is one element
 * of col, or with vec 8 channels (Ci a multiple of 8). */
__global__ void k_im2col(void *col, int cdt, const void *x, int xdt, int64_t H, int64_t W,
                         int64_t Ci, int k, int64_t r0, int64_t n, int vec)
{
    const int per = vec ? 8 : 1, pad = k / 2;
    const int64_t cv = Ci / per, items = n * W * k * k * cv;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < items;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = i % cv * per, rest = i / cv;
        int t = (int)(rest % (k * k));
        int64_t p = rest / (k * k); /* pixel within the band */
        int64_t yy = r0 + p / W + t / k - pad, xx = p % W + t % k - pad;
        int inside = yy >= 0 && yy < H && xx >= 0 && xx < W;
        int64_t src = (yy * W + xx) * Ci + c, dst = (p * k * k + t) * Ci + c;
        if (vec) {
            float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            if (inside)
                ld8(v, x, xdt, src);
            st8(col, cdt, dst, v);
        } else {
            st_f(col, cdt, dst, inside ? ld_f(x, xdt, src) : 0.0f);
        }
    }
}

cudaError_t zt_cuda_im2col(void *col, zt_dtype cdt, const void *x, zt_dtype xdt, int64_t H,
                           int64_t W, int64_t Ci, int k, int64_t r0, int64_t n, cudaStream_t st)
{
    if (!float_dt(cdt) || !float_dt(xdt) || k <= 0 || r0 < 0 || n < 0 || r0 + n > H)
        return cudaErrorInvalidValue;
    if (n * W * Ci <= 0)
        return cudaSuccess;
    int vec = Ci % 8 == 0 && al16(x) && al16(col);
    int64_t items = n * W * k * k * Ci / (vec ? 8 : 1);
    k_im2col<<<grid_for(items, BS), BS, 0, st>>>(col, cdt, x, xdt, H, W, Ci, k, r0, n, vec);
    return cudaGetLastError();
}

/* y [H*W, Co] = the 3x3 convolution of x [H, W, Ci] (channels last, zero
 * padding 1) with wk [Co, 9*Ci] (tap-major, as for im2col), one thread a
 * pixel, Co <= ZT_CUDA_CONV_NARROW_CO accumulators in registers. The
 * filter sits in shared memory as F32, read by a whole warp at one
 * address; a pixel's neighbours are read 16 bytes at a time (vec) and
 * come from L1/L2 for the eight neighbouring threads that read them too. */
__global__ void k_conv3x3_narrow(void *y, int ydt, const void *x, int xdt, const void *wk,
                                 int wdt, int64_t H, int64_t W, int Ci, int Co, int vec)
{
    extern __shared__ float ws[]; /* [Co][9 * Ci] */
    const int K = 9 * Ci;
    for (int i = threadIdx.x; i < Co * K; i += blockDim.x)
        ws[i] = ld_f(wk, wdt, i);
    __syncthreads();
    const int64_t P = H * W;
    for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < P;
         p += (int64_t)gridDim.x * blockDim.x) {
        const int64_t py = p / W, px = p % W;
        float acc[ZT_CUDA_CONV_NARROW_CO] = {0};
        for (int t = 0; t < 9; t++) {
            const int64_t yy = py + t / 3 - 1, xx = px + t % 3 - 1;
            if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                continue;
            const int64_t src = (yy * W + xx) * Ci;
            const float *wt = ws + t * Ci;
            for (int c = 0; c < Ci; c += vec ? 8 : 1) {
                float v[8];
                if (vec)
                    ld8(v, x, xdt, src + c);
                else
                    v[0] = ld_f(x, xdt, src + c);
#pragma unroll
                for (int o = 0; o < ZT_CUDA_CONV_NARROW_CO; o++) {
                    if (o >= Co)
                        break;
                    const float *w = wt + o * K + c;
                    if (vec) {
#pragma unroll
                        for (int k = 0; k < 8; k++)
                            acc[o] = fmaf(v[k], w[k], acc[o]);
                    } else {
                        acc[o] = fmaf(v[0], w[0], acc[o]);
                    }
                }
            }
        }
        for (int o = 0; o < Co; o++)
            st_f(y, ydt, p * Co + o, acc[o]);
    }
}

/* k_conv3x3_narrow's filter in shared memory */
static size_t narrow_smem(int64_t Ci, int64_t Co)
{
    return (size_t)(Co * 9 * Ci) * sizeof(float);
}

int zt_cuda_conv3x3_narrow_ok(int64_t Ci, int64_t Co)
{
    return Co >= 1 && Co <= ZT_CUDA_CONV_NARROW_CO && Ci >= 1 &&
           narrow_smem(Ci, Co) <= 48 * 1024;
}

cudaError_t zt_cuda_conv3x3_narrow(void *y, zt_dtype ydt, const void *x, zt_dtype xdt,
                                   const void *wk, zt_dtype wdt, int64_t H, int64_t W, int64_t Ci,
                                   int64_t Co, cudaStream_t st)
{
    if (!float_dt(ydt) || !float_dt(xdt) || !float_dt(wdt) || !zt_cuda_conv3x3_narrow_ok(Ci, Co))
        return cudaErrorInvalidValue;
    if (H * W <= 0)
        return cudaSuccess;
    int vec = Ci % 8 == 0 && al16(x);
    k_conv3x3_narrow<<<grid_for(H * W, BS), BS, narrow_smem(Ci, Co), st>>>(
        y, ydt, x, xdt, wk, wdt, H, W, (int)Ci, (int)Co, vec);
    return cudaGetLastError();
}
