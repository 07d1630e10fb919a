/* test.h: a minimal test harness (Redis testhelp.h / blosc2 cutest.h sized).
 *
 * CHECK(cond) records a failure with file:line and goes on; CHECK_OK(rc) also prints
 * ax_errmsg(); TEST_MAIN runs the registered tests and exits non-zero on any failure. */
#ifndef AX_TEST_H
#define AX_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/axon.h"

static int test_failures, test_checks;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        test_checks++;                                                                     \
        if (!(cond)) {                                                                     \
            test_failures++;                                                               \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                                  \
    } while (0)

#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        test_checks++;                                                                     \
        if (rc_ != AX_OK) {                                                                \
            test_failures++;                                                               \
            fprintf(stderr, "  FAIL %s:%d: %s -> %d (%s): %s\n", __FILE__, __LINE__, #expr, \
                    rc_, ax_strerror(rc_), ax_errmsg());                                   \
        }                                                                                  \
    } while (0)

/* expr must fail with `code` and leave a message containing `needle` */
#define CHECK_ERR(expr, code, needle)                                                      \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        test_checks++;                                                                     \
        if (rc_ != (code) || !strstr(ax_errmsg(), (needle))) {                             \
            test_failures++;                                                               \
            fprintf(stderr, "  FAIL %s:%d: %s -> %d (%s) '%s', wanted %d with '%s'\n",      \
                    __FILE__, __LINE__, #expr, rc_, ax_strerror(rc_), ax_errmsg(), (code),  \
                    (needle));                                                             \
        }                                                                                  \
    } while (0)

#define RUN(fn)                                                                            \
    do {                                                                                   \
        int before_ = test_failures;                                                       \
        fn();                                                                              \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn);       \
    } while (0)

#define TEST_REPORT()                                                                      \
    (fprintf(stderr, "%d checks, %d failures\n", test_checks, test_failures),              \
     test_failures ? 1 : 0)

/* Scratch directory under $AX_TEST_TMP (default /tmp), unique per process. */
static inline const char *test_tmpdir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *base = getenv("AX_TEST_TMP");
        snprintf(dir, sizeof dir, "%s/axon-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return dir;
}

static inline void test_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%.200s/%.300s", test_tmpdir(), name);
}

/* deterministic pseudo-random numbers (splitmix64) */
static inline unsigned long long test_rand(unsigned long long *s)
{
    unsigned long long z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
