/*
 * scheduler.h - the flow-matching Euler schedule of Z-Image-Turbo.
 *
 * For N steps: sigmas[0..N] (sigmas[N] = 0), the reference's timesteps
 * t_i = sigma_i * 1000, and the model time (1000 - t_i) / 1000 that the DiT
 * takes. All in float32, computed in the order the reference computes them,
 * so the values match it bit for bit.
 */
#ifndef ZT_SCHEDULER_H
#define ZT_SCHEDULER_H

#include "status.h"

#define ZT_STEPS_MAX 1000

typedef struct zt_schedule {
    int steps;
    float *sigmas;     /* [steps + 1], last is 0 */
    float *timesteps;  /* [steps] */
    float *model_t;    /* [steps]: (1000 - t_i) / 1000 */
} zt_schedule;

/* legacy != 0 gives the old "9 steps" schedule (linspace(1, 0, N), whose
 * last step has dt = 0). Fails on steps outside 1..ZT_STEPS_MAX. */
zt_status zt_schedule_init(zt_schedule *s, int steps, float shift, int legacy, zt_err *err);
void zt_schedule_free(zt_schedule *s);

#endif
