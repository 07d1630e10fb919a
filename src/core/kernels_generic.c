/* kernels_generic.c: plain C reference kernels; always built, the oracle for the SIMD
 * variants in tests. */
#include <math.h>

#include "core/core_int.h"

static void bswap16_generic(void *p, size_t n)
{
    uint16_t *a = p;
    for (size_t i = 0; i < n; i++) a[i] = __builtin_bswap16(a[i]);
}

static void bswap32_generic(void *p, size_t n)
{
    uint32_t *a = p;
    for (size_t i = 0; i < n; i++) a[i] = __builtin_bswap32(a[i]);
}

static void bswap64_generic(void *p, size_t n)
{
    uint64_t *a = p;
    for (size_t i = 0; i < n; i++) a[i] = __builtin_bswap64(a[i]);
}

static void minmax_f32_generic(const float *p, size_t n, float *mn, float *mx, size_t *nans)
{
    float lo = INFINITY, hi = -INFINITY;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float x = p[i];
        if (x != x) {
            bad++;
            continue;
        }
        if (x < lo) lo = x;
        if (x > hi) hi = x;
    }
    *mn = lo;
    *mx = hi;
    *nans = bad;
}

const ax__kernels ax__kernels_generic = {
    .name = "generic",
    .bswap16 = bswap16_generic,
    .bswap32 = bswap32_generic,
    .bswap64 = bswap64_generic,
    .minmax_f32 = minmax_f32_generic,
};
