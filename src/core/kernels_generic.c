/* kernels_generic.c: plain C reference kernels; always built, the oracle for the SIMD
 * variants in tests. */
#include <math.h>
#include <string.h>

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

/* Byte shuffle as HDF5 does it: byte k of every element together; a tail shorter than an
 * element stays at the end. unshuffle is the inverse. */
void ax__shuffle_generic(const uint8_t *in, uint8_t *out, size_t n, size_t esz)
{
    size_t ne = esz ? n / esz : 0;
    if (esz <= 1 || ne <= 1) {
        memcpy(out, in, n);
        return;
    }
    for (size_t b = 0; b < esz; b++) {
        uint8_t *o = out + b * ne;
        const uint8_t *s = in + b;
        for (size_t i = 0; i < ne; i++) o[i] = s[i * esz];
    }
    memcpy(out + ne * esz, in + ne * esz, n - ne * esz);
}

void ax__unshuffle_generic(const uint8_t *in, uint8_t *out, size_t n, size_t esz)
{
    size_t ne = esz ? n / esz : 0;
    if (esz <= 1 || ne <= 1) {
        memcpy(out, in, n);
        return;
    }
    switch (esz) {
    case 2:
        for (size_t i = 0; i < ne; i++) {
            out[2 * i] = in[i];
            out[2 * i + 1] = in[ne + i];
        }
        break;
    case 4:
        for (size_t i = 0; i < ne; i++) {
            out[4 * i] = in[i];
            out[4 * i + 1] = in[ne + i];
            out[4 * i + 2] = in[2 * ne + i];
            out[4 * i + 3] = in[3 * ne + i];
        }
        break;
    case 8:
        for (size_t i = 0; i < ne; i++)
            for (size_t b = 0; b < 8; b++) out[8 * i + b] = in[b * ne + i];
        break;
    default:
        for (size_t i = 0; i < ne; i++)
            for (size_t b = 0; b < esz; b++) out[esz * i + b] = in[b * ne + i];
        break;
    }
    memcpy(out + ne * esz, in + ne * esz, n - ne * esz);
}

const ax__kernels ax__kernels_generic = {
    .name = "generic",
    .bswap16 = bswap16_generic,
    .bswap32 = bswap32_generic,
    .bswap64 = bswap64_generic,
    .minmax_f32 = minmax_f32_generic,
    .shuffle = ax__shuffle_generic,
    .unshuffle = ax__unshuffle_generic,
};
