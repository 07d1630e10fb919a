/* winograd_wgrad.h: conv3d weight gradient by Winograd F(3x3, 2x2) in the (y, x) plane, the
 * kd taps direct (winograd_wgrad.c: driver + portable kernels; winograd_wgrad_avx2.c: AVX2 +
 * FMA kernels).
 *
 * Scope: stride 1, kernels kd x 3 x 3 (any kd, ci, co), any zero padding.
 *   dw[co][ci][a][b][c] += sum_{z,y,x} dout[co][z][y][x] * in[ci][z+a-pd][y+b-ph][x+c-pw]
 * Per 2x2 tile g of dout and its 4x4 input patch d:
 *   V = B^T d B (B of F(2x2, 3x3)), Q = A' g A'^T, M[e] += V[e] * Q[e] (e = 4i + j),
 *   dw[b][c] = (G'^T M G')[b][c]
 * with A' = [1 0; .5 .5; .5 -.5; 0 -1] (4x2) and G'^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1] (3x4):
 * F(2, 3) transposed (dw = G^T ((A dout) . (B^T d)); the 1/2 of G moved into A').
 */
#ifndef AX_NN_WINOGRAD_WGRAD_H
#define AX_NN_WINOGRAD_WGRAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nn/nn_int.h"

/* The contract of ax__conv3d_backward_weight (dw, dbias accumulated, dbias may be NULL, the
 * same bits for any thread count; dw untouched on failure), to within the rounding of the
 * transforms. AX_E_UNSUPPORTED unless kh = kw = 3. */
AX_HIDDEN int ax__conv3d_backward_weight_winograd(const ax__conv3d_shape *s, const float *in,
                                                  const float *dout, float *dw, float *dbias);

/* ---- kernels ---------------------------------------------------------------------------
 * gemm: M[c * ms + k] += sum_{r < n} Q[r * qs + c] * W[r * ws + k] for c < nc, k < kc
 * (kc a multiple of 8, W rows and M rows 32-byte aligned), summed over r in order. */
typedef void (*ax__wwg_gemm_fn)(int64_t nc, int64_t kc, int64_t n, const float *Q,
                                ptrdiff_t qs, const float *W, ptrdiff_t ws, float *M,
                                ptrdiff_t ms);
#ifdef AX_HAVE_AVX2
AX_HIDDEN void ax__wwg_gemm_avx2(int64_t nc, int64_t kc, int64_t n, const float *Q,
                                 ptrdiff_t qs, const float *W, ptrdiff_t ws, float *M,
                                 ptrdiff_t ms);
AX_HIDDEN void ax__wwg_itrans_avx2(const float *X, ptrdiff_t xrs, int64_t ntx, int64_t c8,
                                   float *const *dst, int nd, ptrdiff_t es, ptrdiff_t ts);
/* dst[x * c8 + c] = src[c * cs + x] for c < round_up(nc, 8) (zero past nc), x < nx */
AX_HIDDEN void ax__wwg_pack_avx2(const float *src, ptrdiff_t cs, int64_t nc, int64_t nx,
                                 float *dst, int64_t c8);
AX_HIDDEN void ax__wwg_dtrans_avx2(const float *D, ptrdiff_t drs, int64_t ntx, int64_t c8,
                                   float *dst, ptrdiff_t es, ptrdiff_t ts);
#endif

/* The transforms, on channel-last rows (8 channels per vector; shared by both files, each
 * compiles them with its own flags). */
typedef float ax__wwg_v8 __attribute__((vector_size(32)));

/* unaligned load / store (macros: no 32-byte vectors passed by value without AVX) */
#define ax__wwg_ld(p)                                                                      \
    __extension__({                                                                        \
        ax__wwg_v8 v_;                                                                     \
        memcpy(&v_, (p), sizeof v_);                                                       \
        v_;                                                                                \
    })
#define ax__wwg_st(p, v)                                                                   \
    do {                                                                                   \
        ax__wwg_v8 s_ = (v);                                                               \
        memcpy((p), &s_, sizeof s_);                                                       \
    } while (0)

/* Input transform of a tile row: X holds 4 rows (stride xrs floats) of [x][c8] channel-last
 * input; tile tx reads columns 2tx .. 2tx + 3. V = B^T d B of each 8-channel vector goes to
 * dst[a] + e * es + tx * ts + 8 * cv for every a < nd with dst[a] non-NULL. */
static inline void ax__wwg_itrans_row(const float *X, ptrdiff_t xrs, int64_t ntx, int64_t c8,
                                      float *const *dst, int nd, ptrdiff_t es, ptrdiff_t ts)
{
    for (int64_t tx = 0; tx < ntx; tx++)
        for (int64_t cv = 0; cv < c8; cv += 8) {
            ax__wwg_v8 u[4][4], v[4][4];
            const float *p = X + 2 * tx * c8 + cv;
            for (int j = 0; j < 4; j++) { /* B^T d, column j */
                ax__wwg_v8 d0 = ax__wwg_ld(p + j * c8), d1 = ax__wwg_ld(p + xrs + j * c8);
                ax__wwg_v8 d2 = ax__wwg_ld(p + 2 * xrs + j * c8);
                ax__wwg_v8 d3 = ax__wwg_ld(p + 3 * xrs + j * c8);
                u[0][j] = d0 - d2;
                u[1][j] = d1 + d2;
                u[2][j] = d2 - d1;
                u[3][j] = d1 - d3;
            }
            for (int i = 0; i < 4; i++) { /* (B^T d) B */
                v[i][0] = u[i][0] - u[i][2];
                v[i][1] = u[i][1] + u[i][2];
                v[i][2] = u[i][2] - u[i][1];
                v[i][3] = u[i][1] - u[i][3];
            }
            for (int a = 0; a < nd; a++) {
                if (!dst[a]) continue;
                float *o = dst[a] + tx * ts + cv;
                for (int e = 0; e < 16; e++) ax__wwg_st(o + e * es, v[e / 4][e % 4]);
            }
        }
}

/* dout transform of a tile row: D holds 2 rows (stride drs) of [x][c8]; tile tx reads
 * columns 2tx, 2tx + 1. Q = A' g A'^T to dst + e * es + tx * ts + 8 * cv. */
static inline void ax__wwg_dtrans_row(const float *D, ptrdiff_t drs, int64_t ntx, int64_t c8,
                                      float *dst, ptrdiff_t es, ptrdiff_t ts)
{
    const ax__wwg_v8 h = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    for (int64_t tx = 0; tx < ntx; tx++)
        for (int64_t cv = 0; cv < c8; cv += 8) {
            const float *p = D + 2 * tx * c8 + cv;
            ax__wwg_v8 g[2][2], r[2][4];
            g[0][0] = ax__wwg_ld(p), g[0][1] = ax__wwg_ld(p + c8);
            g[1][0] = ax__wwg_ld(p + drs), g[1][1] = ax__wwg_ld(p + drs + c8);
            for (int i = 0; i < 2; i++) { /* g A'^T */
                r[i][0] = g[i][0];
                r[i][1] = h * (g[i][0] + g[i][1]);
                r[i][2] = h * (g[i][0] - g[i][1]);
                r[i][3] = -g[i][1];
            }
            float *o = dst + tx * ts + cv;
            for (int j = 0; j < 4; j++) { /* A' (g A'^T) */
                ax__wwg_st(o + (0 + j) * es, r[0][j]);
                ax__wwg_st(o + (4 + j) * es, h * (r[0][j] + r[1][j]));
                ax__wwg_st(o + (8 + j) * es, h * (r[0][j] - r[1][j]));
                ax__wwg_st(o + (12 + j) * es, -r[1][j]);
            }
        }
}

#endif /* AX_NN_WINOGRAD_WGRAD_H */
