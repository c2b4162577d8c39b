/* scheduler.c - sigma schedule (see scheduler.h and the architecture spec §6). */
#include "scheduler.h"

#include <stdlib.h>

/* torch.linspace in float32: the first half counts up from start, the second
 * half down from end, so both ends are exact. */
static float linspace_at(float start, float end, int n, int i)
{
    if (n == 1)
        return start;
    float step = (end - start) / (float)(n - 1);
    if (i < n / 2)
        return start + step * (float)i;
    return end - step * (float)(n - 1 - i);
}

zt_status zt_schedule_init(zt_schedule *s, int steps, float shift, int legacy, zt_err *err)
{
    *s = (zt_schedule){0};
    if (steps < 1 || steps > ZT_STEPS_MAX)
        return zt_fail(err, ZT_ERR_INVALID, "steps must be between 1 and %d (got %d)",
                       ZT_STEPS_MAX, steps);
    s->steps = steps;
    s->sigmas = calloc((size_t)steps + 1, sizeof(float));
    s->timesteps = calloc((size_t)steps, sizeof(float));
    s->model_t = calloc((size_t)steps, sizeof(float));
    if (!s->sigmas || !s->timesteps || !s->model_t) {
        zt_schedule_free(s);
        return zt_fail(err, ZT_ERR_NOMEM, "out of memory for a %d-step schedule", steps);
    }
    for (int i = 0; i < steps; i++) {
        float sigma;
        if (legacy) {
            /* The old pipeline built this schedule in float64 (numpy) and
             * rounded once at the end. */
            double u = steps == 1 ? 1.0 : 1.0 - (double)i / (double)(steps - 1);
            sigma = (float)((double)shift * u / (1.0 + ((double)shift - 1.0) * u));
        } else {
            float u = linspace_at(1.0f, 1.0f / (float)steps, steps, i);
            sigma = shift * u / (1.0f + (shift - 1.0f) * u);
        }
        s->sigmas[i] = sigma;
        s->timesteps[i] = sigma * 1000.0f;
        s->model_t[i] = (1000.0f - s->timesteps[i]) / 1000.0f;
    }
    s->sigmas[steps] = 0.0f;
    return ZT_OK;
}

void zt_schedule_free(zt_schedule *s)
{
    free(s->sigmas);
    free(s->timesteps);
    free(s->model_t);
    *s = (zt_schedule){0};
}
