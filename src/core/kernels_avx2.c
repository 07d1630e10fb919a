/* kernels_avx2.c: AVX2 variants of the kernel table (compiled with -mavx2 -mfma only for
 * this file; chosen at run time by cpu.c). Each must give bit-identical results to
 * kernels_generic.c, which tests/unit/test_core.c checks on odd lengths. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/core_int.h"

static void bswap_shuffle(void *p, size_t n, size_t elem, __m256i mask)
{
    uint8_t *b = p;
    size_t bytes = n * elem, i = 0;
    for (; i + 32 <= bytes; i += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(b + i));
        _mm256_storeu_si256((__m256i *)(b + i), _mm256_shuffle_epi8(v, mask));
    }
    for (; i < bytes; i += elem) /* tail: plain reversal of each element */
        for (size_t a = 0, z = elem - 1; a < z; a++, z--) {
            uint8_t t = b[i + a];
            b[i + a] = b[i + z];
            b[i + z] = t;
        }
}

static void bswap16_avx2(void *p, size_t n)
{
    const __m256i m = _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14,
                                       1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    bswap_shuffle(p, n, 2, m);
}

static void bswap32_avx2(void *p, size_t n)
{
    const __m256i m = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
                                       3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    bswap_shuffle(p, n, 4, m);
}

static void bswap64_avx2(void *p, size_t n)
{
    const __m256i m = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8,
                                       7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
    bswap_shuffle(p, n, 8, m);
}

static void minmax_f32_avx2(const float *p, size_t n, float *mn, float *mx, size_t *nans)
{
    __m256 lo = _mm256_set1_ps(INFINITY), hi = _mm256_set1_ps(-INFINITY);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(p + i);
        __m256 ord = _mm256_cmp_ps(x, x, _CMP_ORD_Q); /* all-ones where not NaN */
        /* NaN lanes are replaced by the neutral value so they never win */
        lo = _mm256_min_ps(lo, _mm256_blendv_ps(_mm256_set1_ps(INFINITY), x, ord));
        hi = _mm256_max_ps(hi, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, ord));
        bad = _mm256_sub_epi32(bad, _mm256_xor_si256(_mm256_castps_si256(ord),
                                                     _mm256_set1_epi32(-1)));
    }
    float l[8], h[8];
    int32_t c[8];
    _mm256_storeu_ps(l, lo);
    _mm256_storeu_ps(h, hi);
    _mm256_storeu_si256((__m256i *)c, bad);
    float L = INFINITY, H = -INFINITY;
    size_t B = 0;
    for (int k = 0; k < 8; k++) {
        if (l[k] < L) L = l[k];
        if (h[k] > H) H = h[k];
        B += (size_t)(uint32_t)c[k];
    }
    for (; i < n; i++) {
        float x = p[i];
        if (x != x) {
            B++;
            continue;
        }
        if (x < L) L = x;
        if (x > H) H = x;
    }
    *mn = L;
    *mx = H;
    *nans = B;
}

const ax__kernels ax__kernels_avx2 = {
    .name = "avx2",
    .bswap16 = bswap16_avx2,
    .bswap32 = bswap32_avx2,
    .bswap64 = bswap64_avx2,
    .minmax_f32 = minmax_f32_avx2,
};
