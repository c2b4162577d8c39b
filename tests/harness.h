/*
 * harness.h - the small test harness every tests/test_*.c uses.
 *
 * A test binary defines static void test functions and calls RUN(fn) for
 * each from main, then returns zt_test_summary("name"). A test passes when
 * none of its CHECKs failed. The summary line "name: N passed, M failed" is
 * what tests/run.sh adds up. Tests run from the repository root, so fixture
 * paths start with tests/data/.
 */
#ifndef ZT_TEST_HARNESS_H
#define ZT_TEST_HARNESS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_DATA "tests/data"

static int t_passed, t_failed, t_cur_failed;
static const char *t_cur_name;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            t_cur_failed++;                                                 \
            fprintf(stderr, "FAIL %s (%s:%d): ", t_cur_name, __FILE__,      \
                    __LINE__);                                              \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

#define RUN(fn)                                                             \
    do {                                                                    \
        t_cur_name = #fn;                                                   \
        t_cur_failed = 0;                                                   \
        fn();                                                               \
        if (t_cur_failed)                                                   \
            t_failed++;                                                     \
        else                                                                \
            t_passed++;                                                     \
    } while (0)

/* A seed for the test named name (FNV-1a of it and of ZT_TEST_SEED, if
 * set): tests that draw random data reseed their generator with it, so
 * that their draws do not depend on the tests before them, and a sweep
 * over ZT_TEST_SEED tries their tolerances on other draws. Never 0. */
static inline uint64_t zt_test_fnv1a(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static inline uint64_t zt_test_seed(const char *name)
{
    uint64_t h = zt_test_fnv1a(zt_test_fnv1a(14695981039346656037ULL, name),
                               getenv("ZT_TEST_SEED"));
    return h ? h : 1;
}

/* RUN(fn) after seed_fn(zt_test_seed("fn")). */
#define RUN_SEEDED(fn, seed_fn)          \
    do {                                 \
        seed_fn(zt_test_seed(#fn));      \
        RUN(fn);                         \
    } while (0)

static inline int zt_test_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, t_passed, t_failed);
    return t_failed ? 1 : 0;
}

/* Compare got against ref element-wise with |g-r| <= atol + rtol*|r|.
 * Prints max-abs, rel-L2 and the worst element when it fails; NaN/Inf in
 * got always fails. Returns 1 when close. */
static inline int zt_test_close(const char *what, const float *got, const float *ref,
                                long n, double atol, double rtol)
{
    double maxabs = 0, num = 0, den = 0;
    long worst = -1, bad = 0;
    double worst_excess = 0;
    for (long i = 0; i < n; i++) {
        double g = got[i], r = ref[i], d = fabs(g - r);
        if (!isfinite(g)) {
            d = INFINITY;
        }
        num += (g - r) * (g - r);
        den += r * r;
        if (d > maxabs)
            maxabs = d;
        double lim = atol + rtol * fabs(r);
        if (!(d <= lim)) {
            bad++;
            if (worst < 0 || d - lim > worst_excess) {
                worst = i;
                worst_excess = d - lim;
            }
        }
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    if (bad) {
        t_cur_failed++;
        fprintf(stderr,
                "FAIL %s: %s: %ld/%ld out of tolerance (atol %g rtol %g); max-abs %.3g "
                "rel-L2 %.3g; worst [%ld] got %.7g want %.7g\n",
                t_cur_name, what, bad, n, atol, rtol, maxabs, rel, worst, got[worst],
                ref[worst]);
        return 0;
    }
    if (getenv("ZT_TEST_VERBOSE"))
        fprintf(stderr, "  ok %s: max-abs %.3g rel-L2 %.3g\n", what, maxabs, rel);
    return 1;
}

#endif
