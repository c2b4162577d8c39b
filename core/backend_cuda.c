/* backend_cuda.c - the CUDA backend (not yet available). */
#include "backend.h"

zt_status zt_backend_cuda_new(zt_backend **out, int device, zt_err *err)
{
    (void)device;
    *out = NULL;
    return zt_fail(err, ZT_ERR_UNSUPPORTED, "CUDA backend: not available in this build");
}
