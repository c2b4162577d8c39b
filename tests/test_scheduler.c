/* test_scheduler.c - sigma/timestep schedules against tiny-ref/scheduler.json. */
#include <cJSON.h>

#include "harness.h"
#include "config.h"
#include "scheduler.h"

static cJSON *cases;

/* Tolerance from the fixtures README: |a-b| <= 1e-4 + 1e-3|b|. */
static void check_list(const char *what, int steps, const float *got, int n,
                       const cJSON *ref)
{
    CHECK(cJSON_GetArraySize(ref) == n, "%s steps %d: %d values, want %d", what, steps, n,
          cJSON_GetArraySize(ref));
    float want[ZT_STEPS_MAX + 1];
    for (int i = 0; i < n && i <= ZT_STEPS_MAX; i++)
        want[i] = (float)cJSON_GetArrayItem(ref, i)->valuedouble;
    char name[64];
    snprintf(name, sizeof name, "%s (steps %d)", what, steps);
    zt_test_close(name, got, want, n, 1e-4, 1e-3);
}

static void test_schedules(void)
{
    int n_cases = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        int steps = cJSON_GetObjectItem(c, "steps")->valueint;
        for (int legacy = 0; legacy < 2; legacy++) {
            zt_schedule s;
            zt_err err = {0};
            CHECK(zt_schedule_init(&s, steps, 3.0f, legacy, &err) == ZT_OK, "%s", err.msg);
            check_list(legacy ? "legacy_sigmas" : "sigmas", steps, s.sigmas, steps + 1,
                       cJSON_GetObjectItem(c, legacy ? "legacy_sigmas" : "sigmas"));
            check_list(legacy ? "legacy_timesteps" : "timesteps", steps, s.timesteps, steps,
                       cJSON_GetObjectItem(c, legacy ? "legacy_timesteps" : "timesteps"));
            zt_schedule_free(&s);
        }
        n_cases++;
    }
    CHECK(n_cases == 24, "expected 24 schedule cases, found %d", n_cases);
}

static void test_model_time(void)
{
    zt_schedule s;
    CHECK(zt_schedule_init(&s, 8, 3.0f, 0, NULL) == ZT_OK, "init");
    /* model time = 1 - sigma; first step is pure noise (t = 0). */
    CHECK(s.model_t[0] == 0.0f, "model_t[0] = %g", s.model_t[0]);
    for (int i = 0; i < 8; i++)
        CHECK(fabsf(s.model_t[i] - (1.0f - s.sigmas[i])) < 1e-6f, "model_t[%d]", i);
    CHECK(s.sigmas[8] == 0.0f, "last sigma");
    zt_schedule_free(&s);
}

static void test_bad_steps(void)
{
    zt_schedule s;
    zt_err err = {0};
    CHECK(zt_schedule_init(&s, 0, 3.0f, 0, &err) == ZT_ERR_INVALID, "0 steps accepted");
    CHECK(strstr(err.msg, "steps") != NULL, "message: %s", err.msg);
    CHECK(zt_schedule_init(&s, -3, 3.0f, 0, &err) == ZT_ERR_INVALID, "negative accepted");
}

int main(void)
{
    char *text = NULL;
    size_t len = 0;
    zt_err err = {0};
    if (zt_read_file(TEST_DATA "/tiny-ref/scheduler.json", 1 << 20, &text, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cases = cJSON_Parse(text);
    free(text);
    if (!cases) {
        fprintf(stderr, "scheduler.json: bad JSON\n");
        return 1;
    }
    RUN(test_schedules);
    RUN(test_model_time);
    RUN(test_bad_steps);
    cJSON_Delete(cases);
    return zt_test_summary("test_scheduler");
}
