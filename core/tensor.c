/* tensor.c - descriptors and scalar dtype conversions (see tensor.h). */
#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
    size_t size;
    const char *name;
} dtypes[ZT_DTYPE_COUNT] = {
    [ZT_F32] = {4, "F32"}, [ZT_BF16] = {2, "BF16"}, [ZT_F16] = {2, "F16"},
    [ZT_I64] = {8, "I64"}, [ZT_I32] = {4, "I32"},   [ZT_U8] = {1, "U8"},
    [ZT_F8E4M3] = {1, "F8_E4M3"},
};

size_t zt_dtype_size(zt_dtype t)
{
    return (unsigned)t < ZT_DTYPE_COUNT ? dtypes[t].size : 0;
}

const char *zt_dtype_name(zt_dtype t)
{
    return (unsigned)t < ZT_DTYPE_COUNT ? dtypes[t].name : "?";
}

int64_t zt_tensor_numel(const zt_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

size_t zt_tensor_nbytes(const zt_tensor *t)
{
    return (size_t)zt_tensor_numel(t) * zt_dtype_size(t->dtype);
}

zt_tensor zt_tensor_make(zt_dtype dt, int ndim, const int64_t *shape, void *data)
{
    ZT_ASSERT(ndim >= 0 && ndim <= ZT_MAX_DIMS);
    zt_tensor t = {.dtype = dt, .ndim = ndim, .data = data};
    for (int i = 0; i < ZT_MAX_DIMS; i++)
        t.shape[i] = i < ndim ? shape[i] : 1;
    return t;
}

zt_tensor zt_tensor_2d(zt_dtype dt, int64_t rows, int64_t cols, void *data)
{
    int64_t s[2] = {rows, cols};
    return zt_tensor_make(dt, 2, s, data);
}

zt_tensor zt_tensor_rows(const zt_tensor *t, int64_t r0, int64_t n)
{
    ZT_ASSERT(t->ndim >= 1 && r0 >= 0 && n >= 0 && r0 + n <= t->shape[0]);
    zt_tensor v = *t;
    size_t row = zt_tensor_nbytes(t) / (size_t)(t->shape[0] ? t->shape[0] : 1);
    v.shape[0] = n;
    v.data = t->data ? (char *)t->data + (size_t)r0 * row : NULL;
    return v;
}

zt_tensor zt_tensor_reshape(const zt_tensor *t, int ndim, const int64_t *shape)
{
    zt_tensor v = zt_tensor_make(t->dtype, ndim, shape, t->data);
    ZT_ASSERT(zt_tensor_numel(&v) == zt_tensor_numel(t));
    return v;
}

const char *zt_shape_str(const zt_tensor *t, char *buf, size_t n)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "[");
    for (int i = 0; i < t->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? ", " : "",
                                (long long)t->shape[i]);
    if (off < n)
        snprintf(buf + off, n - off, "]");
    return buf;
}

int zt_shape_eq(const zt_tensor *t, int ndim, const int64_t *shape)
{
    if (t->ndim != ndim)
        return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i])
            return 0;
    return 1;
}

float zt_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t zt_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet, not Inf */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float zt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    int exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    float f;
    if (exp == 0) {
        f = ldexpf((float)man, -24); /* zero or subnormal */
    } else if (exp == 31) {
        f = man ? NAN : INFINITY;
    } else {
        f = ldexpf((float)(man | 0x400), exp - 25);
    }
    uint32_t u;
    memcpy(&u, &f, 4);
    u |= sign;
    memcpy(&f, &u, 4);
    return f;
}

float zt_e4m3_to_f32(uint8_t b)
{
    int exp = (b >> 3) & 15, man = b & 7;
    float f;
    if (exp == 15 && man == 7)
        f = NAN;
    else if (exp == 0)
        f = ldexpf((float)man, -9); /* zero or subnormal: man * 2^-9 */
    else
        f = ldexpf((float)(8 | man), exp - 10); /* 1.man * 2^(exp-7) */
    return (b & 0x80) ? -f : f;
}

uint8_t zt_f32_to_e4m3(float f)
{
    if (isnan(f))
        return 0x7f;
    uint8_t sign = signbit(f) ? 0x80 : 0;
    float a = fabsf(f);
    if (a >= ZT_E4M3_MAX)
        return sign | 0x7e;
    /* scaling by a power of two is exact, so nearbyintf (round to nearest
     * even in the default mode) rounds exactly once */
    if (a < 0x1p-6f) /* subnormal range: steps of 2^-9; 8 steps is the smallest normal */
        return sign | (uint8_t)nearbyintf(ldexpf(a, 9));
    int e = ilogbf(a);                   /* -6 .. 8 */
    int q = (int)nearbyintf(ldexpf(a, 3 - e)); /* 8 .. 16 */
    if (q == 16) {
        q = 8;
        e++;
    }
    int code = ((e + 7) << 3) | (q - 8);
    return sign | (uint8_t)(code > 0x7e ? 0x7e : code);
}

uint16_t zt_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    float a = fabsf(f);
    if (isnan(f))
        return sign | 0x7e00;
    if (a >= 65520.0f)
        return sign | 0x7c00;
    if (a < 6.103515625e-05f) { /* subnormal: units of 2^-24 */
        float q = rintf(a * 16777216.0f);
        return sign | (uint16_t)q;
    }
    int e;
    float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5,1) */
    float q = rintf(m * 2048.0f); /* 11 significant bits */
    if (q >= 2048.0f) {
        q = 1024.0f;
        e++;
    }
    int exp = e - 1 + 15;
    if (exp >= 31)
        return sign | 0x7c00;
    return sign | (uint16_t)((exp << 10) | ((int)q & 0x3ff));
}

int zt_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

int zt_add_ok(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return 0;
    *out = a + b;
    return 1;
}
