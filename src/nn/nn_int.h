/* nn_int.h: internals of the CNN engine (src/nn/), not installed.
 *
 * Tensors are float32, one sample (batch 1), laid out [C][D][H][W] contiguous exactly like
 * PyTorch's NCDHW with N = 1, so weights and activations move between the two unchanged.
 * Weights of a conv are [Co][Ci][Kd][Kh][Kw] (PyTorch Conv3d.weight).
 */
#ifndef AX_NN_INT_H
#define AX_NN_INT_H

#include <stdint.h>

#include "core/core_int.h"
#include "axon/nn.h"

/* ---- conv3d: stride 1, zero padding, bias ------------------------------------------ */

typedef struct {
    int64_t ci, co;         /* input / output channels */
    int64_t kd, kh, kw;     /* kernel extent */
    int64_t pd, ph, pw;     /* zero padding on each side (0 = valid) */
    int64_t id, ih, iw;     /* input spatial shape */
    int64_t od, oh, ow;     /* output spatial shape: i + 2p - k + 1 (ax__conv3d_shape_init) */
} ax__conv3d_shape;

/* Fill the output shape from the rest; AX_E_INVALID when it would be < 1. */
AX_HIDDEN int ax__conv3d_shape_init(ax__conv3d_shape *s);

/* out[co][z][y][x] = bias[co] + sum_{ci,a,b,c} w[co][ci][a][b][c] * in[ci][z+a-pd][y+b-ph][x+c-pw]
 * (zero outside the input). bias may be NULL. out is overwritten. Threaded (ax_parallel_for),
 * the result does not depend on the thread count. */
AX_HIDDEN int ax__conv3d_forward(const ax__conv3d_shape *s, const float *in, const float *w,
                                 const float *bias, float *out);
/* din = d(loss)/d(in) from dout = d(loss)/d(out): overwritten, not accumulated. */
AX_HIDDEN int ax__conv3d_backward_data(const ax__conv3d_shape *s, const float *dout,
                                       const float *w, float *din);
/* dw += d(loss)/d(w), dbias += d(loss)/d(bias) (dbias may be NULL): accumulated, so the
 * caller zeroes them once per step. Deterministic: the same bits for any thread count. */
AX_HIDDEN int ax__conv3d_backward_weight(const ax__conv3d_shape *s, const float *in,
                                         const float *dout, float *dw, float *dbias);

/* Plain C references (single thread, straightforward loops, double accumulators): the
 * independent check for the fast kernels above. Same contracts. */
AX_HIDDEN void ax__conv3d_forward_ref(const ax__conv3d_shape *s, const float *in,
                                      const float *w, const float *bias, float *out);
AX_HIDDEN void ax__conv3d_backward_data_ref(const ax__conv3d_shape *s, const float *dout,
                                            const float *w, float *din);
AX_HIDDEN void ax__conv3d_backward_weight_ref(const ax__conv3d_shape *s, const float *in,
                                              const float *dout, float *dw, float *dbias);

#endif /* AX_NN_INT_H */
