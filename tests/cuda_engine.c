/* cuda_engine.c - the engine on the GPU with full-size synthetic weights:
 * five 1024x1024 jobs back to back. Reports each job's time and the gap
 * between the end of one job's computation and the start of the next
 * (target: under 5 ms). Set ZT_ENGINE_JOBS / ZT_ENGINE_SIZE to vary. */
#include <poll.h>

#include "harness.h"
#include "engine.h"

int main(void)
{
    const char *tok = TEST_DATA "/tiny-zimage/tokenizer/tokenizer.json";
    int jobs = getenv("ZT_ENGINE_JOBS") ? atoi(getenv("ZT_ENGINE_JOBS")) : 5;
    int size = getenv("ZT_ENGINE_SIZE") ? atoi(getenv("ZT_ENGINE_SIZE")) : 1024;
    if (jobs < 2 || jobs > 63) /* and the first again: ids up to 64 */
        jobs = 5;
    zt_engine_opts o = {.synthetic = 1, .synth_seed = 0, .tokenizer_path = tok, .device = "cuda"};
    zt_engine *e = NULL;
    zt_err err = {0};
    t_cur_name = "engine";
    if (zt_engine_new(&e, &o, &err) != ZT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    zt_gen_params p;
    zt_gen_params_init(&p);
    zt_gen_params_set_prompt(&p, "a lighthouse on a cliff at dusk, waves, photo", NULL);
    p.width = p.height = size;
    p.steps = 8;
    snprintf(p.rng, sizeof p.rng, "cuda");
    uint64_t ids[64];
    for (int i = 0; i < jobs; i++) {
        p.seed = (uint64_t)i;
        zt_engine_submit(e, &p, NULL, &ids[i], NULL);
    }
    /* the first job again: a seed gives the same pixels every time */
    uint64_t again = 0;
    p.seed = 0;
    zt_engine_submit(e, &p, NULL, &again, NULL);
    uint8_t *first_rgb = NULL, *again_rgb = NULL;
    size_t npx = (size_t)size * size * 3;
    zt_gen_params_free(&p);
    double started[65] = {0}, total[65] = {0};
    int done = 0, failed = 0;
    while (done < jobs + 1) {
        zt_event ev;
        if (!zt_engine_poll(e, &ev)) {
            struct pollfd pf = {.fd = zt_engine_event_fd(e), .events = POLLIN};
            if (poll(&pf, 1, 600000) <= 0)
                break;
            continue;
        }
        if (ev.kind == ZT_EV_LOAD_FAILED)
            fprintf(stderr, "load failed: %s\n", ev.msg);
        if (ev.kind == ZT_EV_LOADED)
            printf("loaded on %s: %.2f GiB weights\n", ev.backend, ev.bytes_total / 1073741824.0);
        if (ev.kind == ZT_EV_JOB_FINISHED && (ev.job == ids[0] || ev.job == again)) {
            *(ev.job == again ? &again_rgb : &first_rgb) = ev.rgb;
            ev.rgb = NULL; /* kept */
        }
        if (ev.job >= 1 && ev.job <= 64) {
            if (ev.kind == ZT_EV_JOB_STARTED)
                started[ev.job] = ev.t_ms;
            if (ev.kind == ZT_EV_JOB_FINISHED) {
                total[ev.job] = ev.timings.total_ms;
                printf("job %llu: %.1f ms (encode %.1f, decode %.1f%s)\n",
                       (unsigned long long)ev.job, ev.timings.total_ms, ev.timings.encode_ms,
                       ev.timings.decode_ms, ev.prompt_cached ? ", prompt cached" : "");
                done++;
            }
            if (ev.kind == ZT_EV_JOB_FAILED || ev.kind == ZT_EV_JOB_CANCELLED) {
                fprintf(stderr, "job %llu failed: %s\n", (unsigned long long)ev.job, ev.msg);
                failed++;
                done++;
            }
        }
        zt_event_free(&ev);
    }
    CHECK(failed == 0 && done == jobs + 1, "%d of %d jobs failed", failed, jobs);
    CHECK(first_rgb && again_rgb && !memcmp(first_rgb, again_rgb, npx),
          "the same seed gave different pixels the second time");
    free(first_rgb);
    free(again_rgb);
    double worst = 0;
    for (int i = 2; i <= jobs; i++) {
        double gap = started[i] - (started[i - 1] + total[i - 1]);
        printf("gap before job %d: %.3f ms\n", i, gap);
        if (gap > worst)
            worst = gap;
    }
    printf("largest gap between jobs: %.3f ms\n", worst);
    CHECK(worst < 5.0, "gap between jobs %.3f ms >= 5 ms", worst);
    zt_engine_free(e);
    t_passed += t_cur_failed == 0;
    t_failed += t_cur_failed != 0;
    return zt_test_summary("cuda_engine");
}
