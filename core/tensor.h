/*
 * tensor.h - tensor descriptors, dtypes and activation arenas.
 *
 * A zt_tensor never owns memory: it is a view (dtype, up to 4 dims,
 * row-major, contiguous) into a weight mapping, a device allocation or an
 * arena. Whoever owns the buffer keeps it alive while views exist.
 */
#ifndef ZT_TENSOR_H
#define ZT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum zt_dtype {
    ZT_F32,
    ZT_BF16,
    ZT_F16,
    ZT_I64,
    ZT_I32,
    ZT_U8,
    ZT_F8E4M3, /* OCP E4M3 (finite, max 448): --precision fp8 weights and
                  matrix-product inputs only, always with per-row scales */
    ZT_DTYPE_COUNT
} zt_dtype;

#define ZT_MAX_DIMS 4

typedef struct zt_tensor {
    zt_dtype dtype;
    int ndim;
    int64_t shape[ZT_MAX_DIMS]; /* unused trailing dims are 1 */
    void *data;                 /* host or device memory, see backend */
} zt_tensor;

size_t zt_dtype_size(zt_dtype t);
const char *zt_dtype_name(zt_dtype t);

/* Element count and byte length. */
int64_t zt_tensor_numel(const zt_tensor *t);
size_t zt_tensor_nbytes(const zt_tensor *t);

/* A descriptor with no data. Dims beyond ndim are set to 1. */
zt_tensor zt_tensor_make(zt_dtype dt, int ndim, const int64_t *shape, void *data);
zt_tensor zt_tensor_2d(zt_dtype dt, int64_t rows, int64_t cols, void *data);

/* Rows [r0, r0+n) of a tensor viewed as [shape[0], rest]: contiguous. */
zt_tensor zt_tensor_rows(const zt_tensor *t, int64_t r0, int64_t n);

/* Same data, another shape of equal element count (ZT_ASSERT checked). */
zt_tensor zt_tensor_reshape(const zt_tensor *t, int ndim, const int64_t *shape);

/* "[3840, 64]" into buf. */
const char *zt_shape_str(const zt_tensor *t, char *buf, size_t n);
int zt_shape_eq(const zt_tensor *t, int ndim, const int64_t *shape);

/* Scalar conversions (round-to-nearest-even for narrowing). */
float zt_bf16_to_f32(uint16_t h);
uint16_t zt_f32_to_bf16(float f);
float zt_f16_to_f32(uint16_t h);
uint16_t zt_f32_to_f16(float f);
/* E4M3: saturating (|f| > 448 gives 448), NaN gives 0x7f, as CUDA's
 * __nv_cvt_float_to_fp8(f, __NV_SATFINITE, __NV_E4M3). */
#define ZT_E4M3_MAX 448.0f
float zt_e4m3_to_f32(uint8_t b);
uint8_t zt_f32_to_e4m3(float f);

/* Overflow-checked size arithmetic: return 0 on overflow. */
int zt_mul_ok(size_t a, size_t b, size_t *out);
int zt_add_ok(size_t a, size_t b, size_t *out);

#endif
