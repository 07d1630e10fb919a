/* winograd_wgrad_avx2.c: the AVX2 + FMA kernels of the Winograd F(3x3, 2x2) weight gradient
 * (driver: winograd_wgrad.c; contracts: winograd_wgrad.h).
 *
 * GEMM: M (nc x kc) += Q^T W over n reduction rows (tiles x planes), outer products with a
 * register tile of NC output channels (broadcasts of Q) x NV vectors of 8 columns of W,
 * accumulators kept over the whole reduction: 4 x 3, 6 x 2 or 8 x 1 (12, 12, 8 ymm).
 */
#include <immintrin.h>

#include "nn/winograd_wgrad.h"

#define AX_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define AX_UNROLL _Pragma("unroll")
#else
#define AX_UNROLL _Pragma("GCC unroll 16")
#endif

AX_INLINE void gemm_t(const int NC, const int NV, int64_t n, const float *Q, ptrdiff_t qs,
                      const float *W, ptrdiff_t ws, float *M, ptrdiff_t ms)
{
    __m256 acc[8][3];
    AX_UNROLL
    for (int c = 0; c < NC; c++)
        AX_UNROLL
        for (int v = 0; v < NV; v++) acc[c][v] = _mm256_setzero_ps();
    for (int64_t r = 0; r < n; r++, Q += qs, W += ws) {
        __m256 w[3];
        AX_UNROLL
        for (int v = 0; v < NV; v++) w[v] = _mm256_load_ps(W + 8 * v);
        AX_UNROLL
        for (int c = 0; c < NC; c++) {
            __m256 q = _mm256_broadcast_ss(Q + c);
            AX_UNROLL
            for (int v = 0; v < NV; v++) acc[c][v] = _mm256_fmadd_ps(q, w[v], acc[c][v]);
        }
    }
    AX_UNROLL
    for (int c = 0; c < NC; c++)
        AX_UNROLL
        for (int v = 0; v < NV; v++) {
            float *m = M + c * ms + 8 * v;
            _mm256_store_ps(m, _mm256_add_ps(_mm256_load_ps(m), acc[c][v]));
        }
}

void ax__wwg_gemm_avx2(int64_t nc, int64_t kc, int64_t n, const float *Q, ptrdiff_t qs,
                       const float *W, ptrdiff_t ws, float *M, ptrdiff_t ms)
{
    for (int64_t k0 = 0; k0 < kc; k0 += 24) {
        int nv = kc - k0 >= 24 ? 3 : (int)((kc - k0) / 8);
        int NC = nv == 3 ? 4 : nv == 2 ? 6 : 8;
        for (int64_t c0 = 0; c0 < nc; c0 += NC) {
            int m = nc - c0 < NC ? (int)(nc - c0) : NC;
            const float *q = Q + c0, *w = W + k0;
            float *o = M + c0 * ms + k0;
            switch (nv * 16 + m) {
#define T(V, C)                                                                            \
    case V * 16 + C: gemm_t(C, V, n, q, qs, w, ws, o, ms); break;
                T(3, 1) T(3, 2) T(3, 3) T(3, 4)
                T(2, 1) T(2, 2) T(2, 3) T(2, 4) T(2, 5) T(2, 6)
                T(1, 1) T(1, 2) T(1, 3) T(1, 4) T(1, 5) T(1, 6) T(1, 7) T(1, 8)
#undef T
            default: AX_ASSERT(!"winograd wgrad gemm tile");
            }
        }
    }
}

void ax__wwg_itrans_avx2(const float *X, ptrdiff_t xrs, int64_t ntx, int64_t c8,
                         float *const *dst, int nd, ptrdiff_t es, ptrdiff_t ts)
{
    ax__wwg_itrans_row(X, xrs, ntx, c8, dst, nd, es, ts);
}

void ax__wwg_dtrans_avx2(const float *D, ptrdiff_t drs, int64_t ntx, int64_t c8, float *dst,
                         ptrdiff_t es, ptrdiff_t ts)
{
    ax__wwg_dtrans_row(D, drs, ntx, c8, dst, es, ts);
}

/* dst[x * c8 + c] = src[c * cs + x] for c < nc (zero for nc <= c < round_up(nc, 8)),
 * x < nx: 8 x 8 transposes */
void ax__wwg_pack_avx2(const float *src, ptrdiff_t cs, int64_t nc, int64_t nx, float *dst,
                       int64_t c8)
{
    static const float zero[8] = {0};
    for (int64_t c0 = 0; c0 < nc; c0 += 8) {
        const float *p[8];
        for (int k = 0; k < 8; k++) p[k] = c0 + k < nc ? src + (c0 + k) * cs : NULL;
        int64_t x = 0;
        for (; x + 8 <= nx; x += 8) {
            __m256 r[8];
            AX_UNROLL
            for (int k = 0; k < 8; k++)
                r[k] = p[k] ? _mm256_loadu_ps(p[k] + x) : _mm256_setzero_ps();
            __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
            __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
            __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
            __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *o = dst + x * c8 + c0;
            _mm256_storeu_ps(o + 0 * c8, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(o + 1 * c8, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(o + 2 * c8, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(o + 3 * c8, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(o + 4 * c8, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(o + 5 * c8, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(o + 6 * c8, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(o + 7 * c8, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; x < nx; x++)
            for (int k = 0; k < 8; k++) dst[x * c8 + c0 + k] = p[k] ? p[k][x] : zero[k];
    }
}
