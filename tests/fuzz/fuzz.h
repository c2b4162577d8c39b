/*
 * fuzz.h - shared glue for the fuzz targets in tests/fuzz/.
 *
 * Each fuzz_<name>.c defines one static entry point
 *     static int fuzz_<name>(const uint8_t *data, size_t size);
 * that feeds untrusted bytes to a parser and checks what comes back, and
 * ends with ZT_FUZZ_TARGET(fuzz_<name>). Built by `make fuzz` with clang's
 * libFuzzer, that macro becomes LLVMFuzzerTestOneInput. The regression
 * replay (tests/test_fuzz_replay.c) defines ZT_FUZZ_REPLAY and includes
 * every target, so the kept corpora and crashers run under the normal
 * compiler and under the sanitizers in `make test`.
 *
 * A broken property (something a parser accepted but should not have) is
 * reported with fuzz_fail, which aborts: libFuzzer then saves the input.
 */
#ifndef ZT_FUZZ_H
#define ZT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ZT_FUZZ_REPLAY
#define ZT_FUZZ_TARGET(fn)
#else
#define ZT_FUZZ_TARGET(fn)                                                  \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);           \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)            \
    {                                                                       \
        return fn(data, size);                                              \
    }
#endif

#define fuzz_fail(...)                                                      \
    do {                                                                    \
        fprintf(stderr, "fuzz property broken (%s:%d): ", __FILE__,         \
                __LINE__);                                                  \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        abort();                                                            \
    } while (0)

/* A NUL-terminated heap copy of the input, for parsers that take C
 * strings (the input may hold NULs of its own; the parser then sees the
 * text up to the first). NULL only when out of memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        if (size)
            memcpy(s, data, size);
        s[size] = 0;
    }
    return s;
}

#endif
