/* conv3d_wgrad_avx2.c: the AVX2/FMA tile of the conv3d weight gradient (built with -mavx2
 * -mfma, called by conv3d_wgrad.c only when ax_simd_name() is "avx2").
 *
 * A tile is up to 4 dout rows x 3 input streams: 12 dot products of length n, each kept
 * as 8 lanes in a ymm register. 12 accumulators + 3 input vectors + 1 dout vector fill the
 * 16 registers; per 8 positions that is 12 FMAs for 7 loads, so the two FMA pipes, not
 * the load ports, set the pace (the 3 input loads are unaligned and often split a cache
 * line). 12 independent chains also cover the 4-cycle FMA latency. */
#include <immintrin.h>

#include "nn/nn_int.h"

/* Lane sums of 8 vectors: result lane k = sum of the lanes of v[k]. */
static inline __m256 sum8(const __m256 *v)
{
    __m256 h01 = _mm256_hadd_ps(v[0], v[1]), h23 = _mm256_hadd_ps(v[2], v[3]);
    __m256 h45 = _mm256_hadd_ps(v[4], v[5]), h67 = _mm256_hadd_ps(v[6], v[7]);
    __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = _mm256_hadd_ps(h45, h67);
    /* q0 = [s0 s1 s2 s3 | s0' s1' s2' s3'] (128-bit halves), likewise q1 for 4..7 */
    return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20),
                         _mm256_permute2f128_ps(q0, q1, 0x31));
}

/* NC and NT are constants at every call site, so the NC/NT tests fold away and the used
 * accumulators stay in registers (spelled out: no reliance on unrolling pragmas). */
#define ROW(i)                                                                             \
    do {                                                                                   \
        __m256 dv = _mm256_load_ps(d##i + p); /* packed dout: 32-byte aligned */           \
        a##i##0 = _mm256_fmadd_ps(dv, x0, a##i##0);                                        \
        if (NT > 1) a##i##1 = _mm256_fmadd_ps(dv, x1, a##i##1);                            \
        if (NT > 2) a##i##2 = _mm256_fmadd_ps(dv, x2, a##i##2);                            \
    } while (0)

static inline __attribute__((always_inline)) void tile(const int NC, const int NT,
                                                        const float *const *d,
                                                        const float *const *x, int64_t n,
                                                        float *sums)
{
    const float *d0 = d[0], *d1 = d[NC > 1], *d2 = d[NC > 2 ? 2 : 0], *d3 = d[NC > 3 ? 3 : 0];
    const float *x0p = x[0], *x1p = x[NT > 1], *x2p = x[NT > 2 ? 2 : 0];
    __m256 z = _mm256_setzero_ps();
    __m256 a00 = z, a01 = z, a02 = z, a10 = z, a11 = z, a12 = z;
    __m256 a20 = z, a21 = z, a22 = z, a30 = z, a31 = z, a32 = z;
    for (int64_t p = 0; p < n; p += 8) {
        __m256 x0 = _mm256_loadu_ps(x0p + p);
        __m256 x1 = NT > 1 ? _mm256_loadu_ps(x1p + p) : z;
        __m256 x2 = NT > 2 ? _mm256_loadu_ps(x2p + p) : z;
        ROW(0);
        if (NC > 1) ROW(1);
        if (NC > 2) ROW(2);
        if (NC > 3) ROW(3);
    }
    /* in sums order (i * NT + j), zeros after */
    const __m256 all[12] = {a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32};
    __m256 v[16];
    for (int k = 0; k < 16; k++) v[k] = z;
    for (int i = 0; i < NC; i++)
        for (int j = 0; j < NT; j++) v[i * NT + j] = all[i * 3 + j];
    float out[16];
    _mm256_storeu_ps(out, sum8(v));
    if (NC * NT > 8) _mm256_storeu_ps(out + 8, sum8(v + 8));
    for (int k = 0; k < NC * NT; k++) sums[k] = out[k];
}
#undef ROW

/* sums[i * ntap + j] = sum_{p < n} d[i][p] * x[j][p] for 1 <= nco <= 4, 1 <= ntap <= 3;
 * n is a multiple of 8 and every d[i] 32-byte aligned. */
void ax__conv3d_wgrad_tile_avx2(int nco, int ntap, const float *const *d,
                                const float *const *x, int64_t n, float *sums)
{
    switch (nco * 4 + ntap) {
#define T(NC, NT)                                                                          \
    case NC * 4 + NT: tile(NC, NT, d, x, n, sums); break;
        T(1, 1) T(1, 2) T(1, 3) T(2, 1) T(2, 2) T(2, 3)
        T(3, 1) T(3, 2) T(3, 3) T(4, 1) T(4, 2) T(4, 3)
#undef T
    default: AX_ASSERT(!"conv3d wgrad tile shape");
    }
}
