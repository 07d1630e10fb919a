/* winograd.h: Winograd F(2x2, 3x3) conv3d forward pass (winograd.c, kernels in
 * winograd_avx2.c); ax__conv3d_forward uses it for unpadded kd x 3 x 3 layers with at
 * least 4 input channels on the AVX2 path (see conv3d.c).
 *
 * Scope: stride 1, no padding, kernels kd x 3 x 3 (any kd, any ci/co). The (y, x) plane
 * goes through F(2x2, 3x3), the kd taps stay direct:
 *   out[co][z] = bias[co] + sum_{ci, a < kd} Winograd2D(in[ci][z + a], w[co][ci][a]).
 */
#ifndef AX_NN_WINOGRAD_H
#define AX_NN_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn_int.h"

/* The same contract as ax__conv3d_forward (bias may be NULL, out overwritten, the same bits
 * for any thread count), to within the rounding of the transforms (~1e-6 relative to the
 * magnitude of the output). AX_E_UNSUPPORTED for padding or kh, kw != 3. */
AX_HIDDEN int ax__conv3d_forward_winograd(const ax__conv3d_shape *s, const float *in,
                                          const float *w, const float *bias, float *out);

/* ---- the kernels (winograd.c: portable; winograd_avx2.c: AVX2 + FMA) ------------------
 * Tiles are handled in vectors of 8 consecutive tiles of a tile row. Within such a vector,
 * the columns of V and M may hold the 8 tiles in any fixed order, as long as the input and
 * output transforms of one table agree (the AVX2 one uses the order its shuffles give). */
typedef struct {
    /* input transform of n tiles of a tile row, in vectors of 8 (nv = ceil(n / 8)): r is
     * input row 2ty at x = 2tx0, rows r + rs, r + 2rs, r + 3rs below it, each readable for
     * 16 * nv + 2 floats. V[e * es + 8 * v + lane] = (B^T d B)[e] of the tile, e = 4i + j.
     * A last partial vector must hold its tiles in natural order (lanes 0 .. n % 8 - 1):
     * its other lanes spill into the next run's columns, which that run overwrites. */
    void (*itrans)(const float *r, ptrdiff_t rs, int64_t n, float *V, ptrdiff_t es);
    /* M[c * ms + x] = sum_k U[k * 4 + c] * V[voff[k] + x] for c < 4, x < 8 * nv (nv 1..3),
     * summed in the order of k */
    void (*gemm)(int64_t K, const float *U, const float *V, const ptrdiff_t *voff, float *M,
                 ptrdiff_t ms, int nv);
    /* output transform of n tiles laid out as itrans left them: Y = bias + A^T M A from
     * M[e * es + 8 * v + lane]; stores columns [0, ncols) of rows o0 (and o1 if not NULL),
     * ncols <= 2 n */
    void (*otrans)(const float *M, ptrdiff_t es, int64_t n, float bias, float *o0, float *o1,
                   int64_t ncols);
} ax__wino_kernels;

#ifdef AX_HAVE_AVX2
AX_HIDDEN extern const ax__wino_kernels ax__wino_kernels_avx2;
#endif

#endif /* AX_NN_WINOGRAD_H */
