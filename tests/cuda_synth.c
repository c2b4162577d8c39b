/*
 * cuda_synth.c - synthetic weights made on the GPU against the host
 * definition (core/synth.c), bit for bit, and against the check values of
 * shared/specs/synthetic-weights.md.
 *
 * Cases cover every rule (rank >= 2 with several fan-ins, bias, norm gain),
 * odd element counts (the kernel writes pairs plus a tail), and tensors
 * larger than 2^32 / 0x9E3779B9 elements so the index product wraps.
 *
 * Without a usable CUDA device the cases are skipped: 0 passed, 0 failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "harness.h"
#include "synth.h"

static zt_backend *cpu, *gpu;

typedef struct synth_case {
    const char *name;
    int ndim;
    int64_t shape[4];
} synth_case;

static const synth_case cases[] = {
    {"layers.0.attention.to_q.weight", 2, {3840, 3840}},
    {"layers.0.attention_norm1.weight", 1, {3840}},
    {"x_embedder.bias", 1, {3840}},
    {"decoder.conv_in.weight", 4, {512, 16, 3, 3}},
    {"decoder.conv_in.bias", 1, {512}},
    {"odd.weight", 3, {7, 5, 3}},
    {"odd.bias", 1, {1}},
    {"embed_tokens.weight", 2, {151936, 64}},
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static void test_bit_equal(void)
{
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const synth_case *k = &cases[c];
        zt_tensor host = zt_tensor_make(ZT_BF16, k->ndim, k->shape, NULL);
        size_t bytes = zt_tensor_nbytes(&host);
        uint16_t *want = malloc(bytes), *got = malloc(bytes);
        host.data = want;
        zt_synth_fill(&host, k->name, 0);

        zt_tensor dev = host;
        void *p = NULL;
        zt_err err = {0};
        CHECK(zt_backend_alloc(gpu, bytes, &p, &err) == ZT_OK, "%s", err.msg);
        dev.data = p;
        zt_op_synth_fill(gpu, &dev, zt_synth_key(k->name, 0), ends_with(k->name, "bias"));
        CHECK(zt_backend_sync(gpu, &err) == ZT_OK, "%s: %s", k->name, err.msg);
        CHECK(zt_backend_download(gpu, got, &dev, &err) == ZT_OK, "%s", err.msg);
        int64_t n = zt_tensor_numel(&host), bad = 0, first = -1;
        for (int64_t i = 0; i < n; i++)
            if (got[i] != want[i] && bad++ == 0)
                first = i;
        CHECK(bad == 0, "%s: %lld of %lld differ, first at %lld: gpu 0x%04x host 0x%04x",
              k->name, (long long)bad, (long long)n, (long long)first,
              first >= 0 ? got[first] : 0, first >= 0 ? want[first] : 0);

        /* the CPU backend's op is the same definition */
        zt_tensor hc = host;
        hc.data = got;
        memset(got, 0, bytes);
        zt_op_synth_fill(cpu, &hc, zt_synth_key(k->name, 0), ends_with(k->name, "bias"));
        CHECK(!memcmp(got, want, bytes), "%s: CPU backend op differs", k->name);
        zt_backend_release(gpu, p);
        free(want);
        free(got);
    }
}

static void test_spec_values(void)
{
    CHECK(zt_synth_fnv1a32("layers.0.attention.to_q.weight") == 0x877d3612u, "fnv1a32");
    zt_tensor t = zt_tensor_make(ZT_BF16, 2, (int64_t[]){3840, 3840}, NULL);
    void *p = NULL;
    zt_err err = {0};
    CHECK(zt_backend_alloc(gpu, zt_tensor_nbytes(&t), &p, &err) == ZT_OK, "%s", err.msg);
    t.data = p;
    zt_op_synth_fill(gpu, &t, zt_synth_key("layers.0.attention.to_q.weight", 0), 0);
    uint16_t first[2] = {0, 0};
    zt_tensor head = zt_tensor_make(ZT_BF16, 1, (int64_t[]){2}, p);
    CHECK(zt_backend_sync(gpu, &err) == ZT_OK && zt_backend_download(gpu, first, &head, &err) == ZT_OK,
          "%s", err.msg);
    CHECK(first[0] == 0x3cd0, "element 0: 0x%04x, want 0x3cd0", first[0]);
    CHECK(first[1] == zt_f32_to_bf16(0.0014010530f), "element 1: 0x%04x", first[1]);
    zt_backend_release(gpu, p);
}

int main(void)
{
    zt_err err = {0};
    if (zt_backend_cuda_new(&gpu, 0, &err) != ZT_OK) {
        printf("no CUDA device (%s): skipped\n", err.msg);
        return zt_test_summary("cuda_synth");
    }
    if (zt_backend_cpu_new(&cpu, 1, &err) != ZT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    RUN(test_bit_equal);
    RUN(test_spec_values);
    zt_backend_free(gpu);
    zt_backend_free(cpu);
    return zt_test_summary("cuda_synth");
}
