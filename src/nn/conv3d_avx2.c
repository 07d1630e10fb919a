/* conv3d_avx2.c: the AVX2+FMA register tile of the direct conv3d (driver: conv3d.c).
 *
 * One call computes an output tile of nco channels (1..4) x nx consecutive x positions
 * (nx <= 96 / nco, i.e. 12 ymm accumulators whatever nco is): 4x24, 3x32, 2x48 or 1x96.
 * It runs over a list of taps, each a (ci, kz, ky, kx) input offset `toff[t]` relative to
 * `in`, with the weights packed as w[t][nco] so each tap broadcasts nco weights that meet
 * nx/8 unaligned input vectors. 12 accumulators cover the FMA latency x throughput (4
 * cycles x 2 pipes on Zen 4/5 and recent Intel cores) and leave 4 of the 16 registers for
 * the operands.
 *
 * Only this file is compiled with -mavx2 -mfma; conv3d.c calls it after ax_simd_name()
 * says the CPU has both.
 */
#include <immintrin.h>
#include <stddef.h>

#include "nn/nn_int.h"

#define AX_INLINE static inline __attribute__((always_inline))
/* full unrolling of the constant-trip loops over the tile, so the accumulator array
 * becomes registers (both compilers need to be told) */
#if defined(__clang__)
#define AX_UNROLL _Pragma("unroll")
#define AX_UNROLL2 _Pragma("unroll 2")
#else
#define AX_UNROLL _Pragma("GCC unroll 16")
#define AX_UNROLL2 _Pragma("GCC unroll 2")
#endif

/* The tile, specialised by the compile-time NCO (channels), NV (vectors of 8 x) and MASK:
 * 0: nx = 8 * NV; 1: the last vector is partial, its lanes past nx are not stored, but the
 * input is read in full (the caller knows the over-read stays inside the array: garbage
 * that only reaches discarded lanes); 2: nor are they loaded from the input (the end of the
 * array). Masked loads are slow, hence 1. Each accumulator sums its taps in list order,
 * the same order in every variant: results do not depend on the tiling. */
AX_INLINE void tile(const int NCO, const int NV, const int MASK, const float *in,
                    const ptrdiff_t *toff, int64_t ntaps, const float *w, float *out,
                    int64_t ostride, const float *bias, int first, __m256i m)
{
    __m256 acc[4][12];
    AX_UNROLL
    for (int c = 0; c < NCO; c++) {
        float *o = out + c * ostride;
        AX_UNROLL
        for (int v = 0; v < NV; v++) {
            if (first)
                acc[c][v] = bias ? _mm256_set1_ps(bias[c]) : _mm256_setzero_ps();
            else if (MASK && v == NV - 1)
                acc[c][v] = _mm256_maskload_ps(o + 8 * v, m); /* outputs: never past nx */
            else
                acc[c][v] = _mm256_loadu_ps(o + 8 * v);
        }
    }
    AX_UNROLL2 /* the tap loop twice over: 3-5% less loop overhead on big layers */
    for (int64_t t = 0; t < ntaps; t++, w += NCO) {
        const float *p = in + toff[t];
        if (NCO == 4) {
            /* 3 input vectors live, one broadcast at a time: 12 + 3 + 1 registers */
            __m256 x[12];
            AX_UNROLL
            for (int v = 0; v < NV; v++)
                x[v] = MASK == 2 && v == NV - 1 ? _mm256_maskload_ps(p + 8 * v, m)
                                                : _mm256_loadu_ps(p + 8 * v);
            AX_UNROLL
            for (int c = 0; c < NCO; c++) {
                __m256 b = _mm256_broadcast_ss(w + c);
                AX_UNROLL
                for (int v = 0; v < NV; v++) acc[c][v] = _mm256_fmadd_ps(b, x[v], acc[c][v]);
            }
        } else {
            /* NCO broadcasts live, one input vector at a time: 12 + NCO + 1 registers */
            __m256 b[4];
            AX_UNROLL
            for (int c = 0; c < NCO; c++) b[c] = _mm256_broadcast_ss(w + c);
            AX_UNROLL
            for (int v = 0; v < NV; v++) {
                __m256 x = MASK == 2 && v == NV - 1 ? _mm256_maskload_ps(p + 8 * v, m)
                                                    : _mm256_loadu_ps(p + 8 * v);
                AX_UNROLL
                for (int c = 0; c < NCO; c++) acc[c][v] = _mm256_fmadd_ps(b[c], x, acc[c][v]);
            }
        }
    }
    AX_UNROLL
    for (int c = 0; c < NCO; c++) {
        float *o = out + c * ostride;
        AX_UNROLL
        for (int v = 0; v < NV; v++) {
            if (MASK && v == NV - 1)
                _mm256_maskstore_ps(o + 8 * v, m, acc[c][v]);
            else
                _mm256_storeu_ps(o + 8 * v, acc[c][v]);
        }
    }
}

typedef void (*tile_fn)(const float *in, const ptrdiff_t *toff, int64_t ntaps,
                        const float *w, float *out, int64_t ostride, const float *bias,
                        int first, __m256i m);

/* one function per (NCO, NV, MASK) */
#define T1(C, V, M)                                                                       \
    static void tile_##C##_##V##_##M(const float *in, const ptrdiff_t *toff, int64_t n,   \
                                     const float *w, float *out, int64_t os,              \
                                     const float *bias, int first, __m256i m)             \
    {                                                                                     \
        tile(C, V, M, in, toff, n, w, out, os, bias, first, m);                           \
    }
#define T2(C, V) T1(C, V, 0) T1(C, V, 1) T1(C, V, 2)
T2(4, 1) T2(4, 2) T2(4, 3)
T2(3, 1) T2(3, 2) T2(3, 3) T2(3, 4)
T2(2, 1) T2(2, 2) T2(2, 3) T2(2, 4) T2(2, 5) T2(2, 6)
T2(1, 1) T2(1, 2) T2(1, 3) T2(1, 4) T2(1, 5) T2(1, 6)
T2(1, 7) T2(1, 8) T2(1, 9) T2(1, 10) T2(1, 11) T2(1, 12)

#define E(C, V) [C][V] = {tile_##C##_##V##_0, tile_##C##_##V##_1, tile_##C##_##V##_2}
static const tile_fn tiles[5][13][3] = {
    E(4, 1), E(4, 2), E(4, 3),
    E(3, 1), E(3, 2), E(3, 3), E(3, 4),
    E(2, 1), E(2, 2), E(2, 3), E(2, 4), E(2, 5), E(2, 6),
    E(1, 1), E(1, 2), E(1, 3), E(1, 4), E(1, 5), E(1, 6),
    E(1, 7), E(1, 8), E(1, 9), E(1, 10), E(1, 11), E(1, 12),
};

/* declared in nn_int.h */
void ax__conv3d_tile_avx2(int nco, int64_t nx, const float *in, const ptrdiff_t *toff,
                          int64_t ntaps, const float *w, float *out, int64_t ostride,
                          const float *bias, int first, int overread)
{
    int nv = (int)((nx + 7) / 8), rem = (int)(nx & 7);
    AX_ASSERT(nco >= 1 && nco <= 4 && nv >= 1 && nv * nco <= 12);
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem),
                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    tiles[nco][nv][rem == 0 ? 0 : overread ? 1 : 2](in, toff, ntaps, w, out, ostride, bias,
                                                     first, m);
}
