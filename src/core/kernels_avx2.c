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

/* Byte (un)shuffle for 2-, 4- and 8-byte elements, 16 elements per step: a byte transpose
 * done with unpack (and pshufb for the forward direction) on 128-bit lanes; other element
 * sizes and the tails go to the generic code. */
static void unshuffle_simd(const uint8_t *in, uint8_t *out, size_t n, size_t esz)
{
    size_t ne = esz ? n / esz : 0;
    if ((esz != 2 && esz != 4 && esz != 8) || ne < 16) {
        ax__unshuffle_generic(in, out, n, esz);
        return;
    }
    size_t i = 0;
    for (; i + 16 <= ne; i += 16) {
        __m128i a[8];
        for (size_t k = 0; k < esz; k++) a[k] = _mm_loadu_si128((const __m128i *)(in + k * ne + i));
        uint8_t *o = out + i * esz;
        if (esz == 2) {
            _mm_storeu_si128((__m128i *)o, _mm_unpacklo_epi8(a[0], a[1]));
            _mm_storeu_si128((__m128i *)(o + 16), _mm_unpackhi_epi8(a[0], a[1]));
        } else if (esz == 4) {
            __m128i b0 = _mm_unpacklo_epi8(a[0], a[1]), b1 = _mm_unpackhi_epi8(a[0], a[1]);
            __m128i b2 = _mm_unpacklo_epi8(a[2], a[3]), b3 = _mm_unpackhi_epi8(a[2], a[3]);
            _mm_storeu_si128((__m128i *)o, _mm_unpacklo_epi16(b0, b2));
            _mm_storeu_si128((__m128i *)(o + 16), _mm_unpackhi_epi16(b0, b2));
            _mm_storeu_si128((__m128i *)(o + 32), _mm_unpacklo_epi16(b1, b3));
            _mm_storeu_si128((__m128i *)(o + 48), _mm_unpackhi_epi16(b1, b3));
        } else {
            __m128i b[8], c[8];
            for (int k = 0; k < 8; k += 2) {
                b[k] = _mm_unpacklo_epi8(a[k], a[k + 1]);     /* elements 0-7, bytes k,k+1 */
                b[k + 1] = _mm_unpackhi_epi8(a[k], a[k + 1]); /* elements 8-15 */
            }
            c[0] = _mm_unpacklo_epi16(b[0], b[2]); /* elements 0-3, bytes 0-3 */
            c[1] = _mm_unpackhi_epi16(b[0], b[2]); /* 4-7 */
            c[2] = _mm_unpacklo_epi16(b[1], b[3]); /* 8-11 */
            c[3] = _mm_unpackhi_epi16(b[1], b[3]); /* 12-15 */
            c[4] = _mm_unpacklo_epi16(b[4], b[6]); /* same, bytes 4-7 */
            c[5] = _mm_unpackhi_epi16(b[4], b[6]);
            c[6] = _mm_unpacklo_epi16(b[5], b[7]);
            c[7] = _mm_unpackhi_epi16(b[5], b[7]);
            for (int k = 0; k < 4; k++) {
                _mm_storeu_si128((__m128i *)(o + 32 * k), _mm_unpacklo_epi32(c[k], c[k + 4]));
                _mm_storeu_si128((__m128i *)(o + 32 * k + 16), _mm_unpackhi_epi32(c[k], c[k + 4]));
            }
        }
    }
    for (; i < ne; i++)
        for (size_t k = 0; k < esz; k++) out[i * esz + k] = in[k * ne + i];
    memcpy(out + ne * esz, in + ne * esz, n - ne * esz);
}

static void shuffle_simd(const uint8_t *in, uint8_t *out, size_t n, size_t esz)
{
    size_t ne = esz ? n / esz : 0;
    if ((esz != 2 && esz != 4 && esz != 8) || ne < 16) {
        ax__shuffle_generic(in, out, n, esz);
        return;
    }
    const __m128i m2 = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const __m128i m4 = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m128i m8 = _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    size_t i = 0;
    for (; i + 16 <= ne; i += 16) {
        const uint8_t *s = in + i * esz;
        __m128i e[8], r[8];
        if (esz == 2) {
            e[0] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)s), m2);
            e[1] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 16)), m2);
            r[0] = _mm_unpacklo_epi64(e[0], e[1]);
            r[1] = _mm_unpackhi_epi64(e[0], e[1]);
        } else if (esz == 4) {
            for (int k = 0; k < 4; k++)
                e[k] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 16 * k)), m4);
            __m128i t0 = _mm_unpacklo_epi32(e[0], e[1]), t1 = _mm_unpackhi_epi32(e[0], e[1]);
            __m128i t2 = _mm_unpacklo_epi32(e[2], e[3]), t3 = _mm_unpackhi_epi32(e[2], e[3]);
            r[0] = _mm_unpacklo_epi64(t0, t2);
            r[1] = _mm_unpackhi_epi64(t0, t2);
            r[2] = _mm_unpacklo_epi64(t1, t3);
            r[3] = _mm_unpackhi_epi64(t1, t3);
        } else {
            __m128i t[8], u[8];
            for (int k = 0; k < 8; k++)
                e[k] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 16 * k)), m8);
            for (int k = 0; k < 8; k += 2) {
                t[k] = _mm_unpacklo_epi16(e[k], e[k + 1]);     /* 16-bit units 0-3 */
                t[k + 1] = _mm_unpackhi_epi16(e[k], e[k + 1]); /* units 4-7 */
            }
            u[0] = _mm_unpacklo_epi32(t[0], t[2]);
            u[1] = _mm_unpackhi_epi32(t[0], t[2]);
            u[2] = _mm_unpacklo_epi32(t[1], t[3]);
            u[3] = _mm_unpackhi_epi32(t[1], t[3]);
            u[4] = _mm_unpacklo_epi32(t[4], t[6]);
            u[5] = _mm_unpackhi_epi32(t[4], t[6]);
            u[6] = _mm_unpacklo_epi32(t[5], t[7]);
            u[7] = _mm_unpackhi_epi32(t[5], t[7]);
            for (int k = 0; k < 4; k++) {
                r[2 * k] = _mm_unpacklo_epi64(u[k], u[k + 4]);
                r[2 * k + 1] = _mm_unpackhi_epi64(u[k], u[k + 4]);
            }
        }
        for (size_t k = 0; k < esz; k++) _mm_storeu_si128((__m128i *)(out + k * ne + i), r[k]);
    }
    for (; i < ne; i++)
        for (size_t k = 0; k < esz; k++) out[k * ne + i] = in[i * esz + k];
    memcpy(out + ne * esz, in + ne * esz, n - ne * esz);
}

const ax__kernels ax__kernels_avx2 = {
    .name = "avx2",
    .bswap16 = bswap16_avx2,
    .bswap32 = bswap32_avx2,
    .bswap64 = bswap64_avx2,
    .minmax_f32 = minmax_f32_avx2,
    .shuffle = shuffle_simd,
    .unshuffle = unshuffle_simd,
};
