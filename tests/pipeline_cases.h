/*
 * pipeline_cases.h - the end-to-end cases of tiny-ref/pipeline.json as job
 * settings, shared by the CPU and GPU pipeline tests.
 */
#ifndef ZT_TEST_PIPELINE_CASES_H
#define ZT_TEST_PIPELINE_CASES_H

#include <cJSON.h>

#include "pipeline.h"

/* The job of one case; the strings point into cs. */
static inline zt_job_params fx_case_params(const cJSON *cs)
{
    const cJSON *neg = cJSON_GetObjectItem(cs, "negative_prompt");
    zt_job_params p = {
        .prompt = cJSON_GetObjectItem(cs, "prompt")->valuestring,
        .negative = cJSON_IsString(neg) ? neg->valuestring : NULL,
        .width = cJSON_GetObjectItem(cs, "width")->valueint,
        .height = cJSON_GetObjectItem(cs, "height")->valueint,
        .steps = cJSON_GetObjectItem(cs, "steps")->valueint,
        .guidance = (float)cJSON_GetObjectItem(cs, "guidance_scale")->valuedouble,
        .seed = (uint64_t)cJSON_GetObjectItem(cs, "seed")->valuedouble,
        .rng = ZT_RNG_CUDA,
    };
    return p;
}

#endif
