/* winograd_avx2.c: the AVX2 + FMA kernels of the Winograd F(2x2, 3x3) prototype (driver:
 * winograd.c; contracts: winograd.h).
 *
 * Input transform: 8 tiles of a tile row at a time. The row half B^T d runs on whole input
 * rows (4 contiguous rows, 16 floats per vector pair), then shuffle_ps(.., 0x88 / 0xDD)
 * splits even and odd columns for the column half (d B), once at x and once at x + 2. The
 * shuffles leave the 8 tiles in the lane order 0 1 4 5 | 2 3 6 7, kept through the GEMM
 * (which is column-wise), and undone for free by the output transform: unpacklo/hi of the
 * two output columns of a tile give the 16 consecutive outputs of a row in order.
 *
 * GEMM: register tile 4 output channels x 24 tiles (12 ymm accumulators, 3 V loads and 4
 * U broadcasts per k), as in the direct kernel (conv3d_avx2.c): enough independent FMAs
 * for 4-cycle latency x 2 pipes.
 */
#include <immintrin.h>
#include <string.h>

#include "nn/winograd.h"

#define AX_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define AX_UNROLL _Pragma("unroll")
#else
#define AX_UNROLL _Pragma("GCC unroll 16")
#endif

/* lanes in the shuffles' tile order 0 1 4 5 2 3 6 7 back to 0 .. 7 */
AX_INLINE __m256 natural(__m256 x)
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(x), 0xD8));
}

static void itrans_avx2(const float *r, ptrdiff_t rs, int64_t n, float *V, ptrdiff_t es)
{
    for (int64_t t = 0; t < n; t += 8, r += 16, V += 8) {
        int part = n - t < 8; /* natural order, its tail lanes spill into the next run */
        __m256 ev[2][4], od[2][4]; /* [x or x + 2][row i of B^T d] */
        AX_UNROLL
        for (int h = 0; h < 2; h++) {
            const float *p = r + 2 * h;
            __m256 a0 = _mm256_loadu_ps(p), b0 = _mm256_loadu_ps(p + 8);
            __m256 a1 = _mm256_loadu_ps(p + rs), b1 = _mm256_loadu_ps(p + rs + 8);
            __m256 a2 = _mm256_loadu_ps(p + 2 * rs), b2 = _mm256_loadu_ps(p + 2 * rs + 8);
            __m256 a3 = _mm256_loadu_ps(p + 3 * rs), b3 = _mm256_loadu_ps(p + 3 * rs + 8);
            __m256 ta[4] = {_mm256_sub_ps(a0, a2), _mm256_add_ps(a1, a2), _mm256_sub_ps(a2, a1),
                            _mm256_sub_ps(a1, a3)};
            __m256 tb[4] = {_mm256_sub_ps(b0, b2), _mm256_add_ps(b1, b2), _mm256_sub_ps(b2, b1),
                            _mm256_sub_ps(b1, b3)};
            AX_UNROLL
            for (int i = 0; i < 4; i++) {
                ev[h][i] = _mm256_shuffle_ps(ta[i], tb[i], 0x88);
                od[h][i] = _mm256_shuffle_ps(ta[i], tb[i], 0xDD);
            }
        }
        if (part)
            AX_UNROLL
            for (int h = 0; h < 2; h++)
                AX_UNROLL
                for (int i = 0; i < 4; i++) {
                    ev[h][i] = natural(ev[h][i]);
                    od[h][i] = natural(od[h][i]);
                }
        AX_UNROLL
        for (int i = 0; i < 4; i++) {
            /* columns d0 = ev[0], d1 = od[0], d2 = ev[1], d3 = od[1] */
            _mm256_storeu_ps(V + (4 * i + 0) * es, _mm256_sub_ps(ev[0][i], ev[1][i]));
            _mm256_storeu_ps(V + (4 * i + 1) * es, _mm256_add_ps(od[0][i], ev[1][i]));
            _mm256_storeu_ps(V + (4 * i + 2) * es, _mm256_sub_ps(ev[1][i], od[0][i]));
            _mm256_storeu_ps(V + (4 * i + 3) * es, _mm256_sub_ps(od[0][i], od[1][i]));
        }
    }
}

AX_INLINE void gemm_t(const int NV, int64_t K, const float *U, const float *V,
                      const ptrdiff_t *voff, float *M, ptrdiff_t ms)
{
    __m256 acc[4][3];
    AX_UNROLL
    for (int c = 0; c < 4; c++)
        AX_UNROLL
        for (int v = 0; v < NV; v++) acc[c][v] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++, U += 4) {
        const float *p = V + voff[k];
        __m256 x[3];
        AX_UNROLL
        for (int v = 0; v < NV; v++) x[v] = _mm256_loadu_ps(p + 8 * v);
        AX_UNROLL
        for (int c = 0; c < 4; c++) {
            __m256 b = _mm256_broadcast_ss(U + c);
            AX_UNROLL
            for (int v = 0; v < NV; v++) acc[c][v] = _mm256_fmadd_ps(b, x[v], acc[c][v]);
        }
    }
    AX_UNROLL
    for (int c = 0; c < 4; c++)
        AX_UNROLL
        for (int v = 0; v < NV; v++) _mm256_storeu_ps(M + c * ms + 8 * v, acc[c][v]);
}

static void gemm_avx2(int64_t K, const float *U, const float *V, const ptrdiff_t *voff,
                      float *M, ptrdiff_t ms, int nv)
{
    if (nv == 3)
        gemm_t(3, K, U, V, voff, M, ms);
    else if (nv == 2)
        gemm_t(2, K, U, V, voff, M, ms);
    else
        gemm_t(1, K, U, V, voff, M, ms);
}

/* store the first n of the 16 outputs of a row from the tiles' output columns y0, y1
 * (lanes in the shuffle order, or natural when `part`) */
AX_INLINE void store_row(float *o, __m256 y0, __m256 y1, int part, int64_t n)
{
    __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
    if (part) { /* lo: tiles 0 1 | 4 5, hi: 2 3 | 6 7 */
        __m256 a = _mm256_permute2f128_ps(lo, hi, 0x20), b = _mm256_permute2f128_ps(lo, hi, 0x31);
        lo = a, hi = b;
    }
    if (n >= 16) {
        _mm256_storeu_ps(o, lo);
        _mm256_storeu_ps(o + 8, hi);
    } else if (n > 0) {
        float tmp[16];
        _mm256_storeu_ps(tmp, lo);
        _mm256_storeu_ps(tmp + 8, hi);
        memcpy(o, tmp, (size_t)n * sizeof *o);
    }
}

static void otrans_avx2(const float *M, ptrdiff_t es, int64_t nt, float bias, float *o0,
                        float *o1, int64_t ncols)
{
    __m256 bv = _mm256_set1_ps(bias);
    for (int64_t v = 0; 8 * v < nt && 16 * v < ncols; v++) {
        int part = nt - 8 * v < 8; /* natural lane order (itrans_avx2) */
        __m256 p[4][2];
        AX_UNROLL
        for (int i = 0; i < 4; i++) { /* M A */
            __m256 m0 = _mm256_loadu_ps(M + (4 * i + 0) * es + 8 * v);
            __m256 m1 = _mm256_loadu_ps(M + (4 * i + 1) * es + 8 * v);
            __m256 m2 = _mm256_loadu_ps(M + (4 * i + 2) * es + 8 * v);
            __m256 m3 = _mm256_loadu_ps(M + (4 * i + 3) * es + 8 * v);
            p[i][0] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
            p[i][1] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
        }
        __m256 y0[2], y1[2]; /* A^T (M A) + bias, [output column of the tile] */
        AX_UNROLL
        for (int c = 0; c < 2; c++) {
            y0[c] = _mm256_add_ps(bv, _mm256_add_ps(_mm256_add_ps(p[0][c], p[1][c]), p[2][c]));
            y1[c] = _mm256_add_ps(bv, _mm256_sub_ps(_mm256_sub_ps(p[1][c], p[2][c]), p[3][c]));
        }
        int64_t n = ncols - 16 * v;
        store_row(o0 + 16 * v, y0[0], y0[1], part, n);
        if (o1) store_row(o1 + 16 * v, y1[0], y1[1], part, n);
    }
}

const ax__wino_kernels ax__wino_kernels_avx2 = {itrans_avx2, gemm_avx2, otrans_avx2};
