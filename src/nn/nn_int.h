/* nn_int.h: internals of the CNN engine (src/nn/), not installed.
 *
 * Tensors are float32, one sample (batch 1), laid out [C][D][H][W] contiguous exactly like
 * PyTorch's NCDHW with N = 1, so weights and activations move between the two unchanged.
 * Weights of a conv are [Co][Ci][Kd][Kh][Kw] (PyTorch Conv3d.weight).
 */
#ifndef AX_NN_INT_H
#define AX_NN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core_int.h"
#include "axon/nn.h"

/* activations applied to a layer's output (ops.c) */
typedef enum {
    AX_ACT_NONE = 0,
    AX_ACT_RELU,
    AX_ACT_LEAKY_RELU, /* slope 0.01 */
    AX_ACT_ELU,        /* alpha 1 */
    AX_ACT_TANH,
    AX_ACT_SIGMOID
} ax__act;
/* y = act(y) over n values, single-threaded (a row while it is in cache) */
AX_HIDDEN void ax__act_row(ax__act act, float *y, int64_t n);

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
/* Whether the conv passes may use Winograd (F(2x2, 3x3) forward and data gradient,
 * F(3x3, 2x2) weight gradient) where it is faster (default true; the tests turn it off to
 * check the direct kernels on the same shapes). */
AX_HIDDEN extern bool ax__conv3d_winograd;
/* the same with the activation applied to each output row as soon as it is complete */
AX_HIDDEN int ax__conv3d_forward_act(const ax__conv3d_shape *s, const float *in, const float *w,
                                     const float *bias, float *out, ax__act act);
/* din = d(loss)/d(in) from dout = d(loss)/d(out): overwritten, not accumulated. */
AX_HIDDEN int ax__conv3d_backward_data(const ax__conv3d_shape *s, const float *dout,
                                       const float *w, float *din);
/* dw += d(loss)/d(w), dbias += d(loss)/d(bias) (dbias may be NULL): accumulated, so the
 * caller zeroes them once per step. Deterministic: the same bits for any thread count. */
AX_HIDDEN int ax__conv3d_backward_weight(const ax__conv3d_shape *s, const float *in,
                                         const float *dout, float *dw, float *dbias);

#ifdef AX_HAVE_AVX2
/* conv3d_avx2.c, the forward tile: out[c * ostride + x] (c < nco, x < nx) =
 * (first ? bias[c] or 0 : out[...]) + sum_t w[t * nco + c] * in[toff[t] + x]. The caller
 * keeps nx <= 96 / nco; `overread` says in[toff[t] + x] may be read up to x < nx rounded
 * up to 8. */
AX_HIDDEN void ax__conv3d_tile_avx2(int nco, int64_t nx, const float *in,
                                    const ptrdiff_t *toff, int64_t ntaps, const float *w,
                                    float *out, int64_t ostride, const float *bias, int first,
                                    int overread);
/* conv3d_wgrad_avx2.c, the weight-gradient tile: sums[i * ntap + j] = dot(d[i], x[j]) over
 * n floats (a multiple of 8, every d[i] 32-byte aligned), 1 <= nco <= 4, 1 <= ntap <= 3 */
AX_HIDDEN void ax__conv3d_wgrad_tile_avx2(int nco, int ntap, const float *const *d,
                                          const float *const *x, int64_t n, float *sums);
#endif

/* Plain C references (single thread, straightforward loops, double accumulators): the
 * independent check for the fast kernels above. Same contracts. */
AX_HIDDEN void ax__conv3d_forward_ref(const ax__conv3d_shape *s, const float *in,
                                      const float *w, const float *bias, float *out);
AX_HIDDEN void ax__conv3d_backward_data_ref(const ax__conv3d_shape *s, const float *dout,
                                            const float *w, float *din);
AX_HIDDEN void ax__conv3d_backward_weight_ref(const ax__conv3d_shape *s, const float *in,
                                              const float *dout, float *dw, float *dbias);

/* ---- the other layers (ops.c): forward and backward, threaded over channels -------- */

/* A [C][D][H][W] float tensor; grad is its gradient (NULL when not needed). */
typedef struct {
    int64_t c, d, h, w;
    float *data;
    float *grad;
} ax__tensor;

static inline int64_t ax__tensor_numel(const ax__tensor *t) { return t->c * t->d * t->h * t->w; }


/* y = act(y) in place over n values */
AX_HIDDEN void ax__act_forward(ax__act act, float *y, int64_t n);
/* g *= act'(x) given y = act(x): every activation here has a derivative expressible in y */
AX_HIDDEN void ax__act_backward(ax__act act, const float *y, float *g, int64_t n);

/* max pool with kernel = stride = f (the input divisible by f). Backward adds the gradient
 * to the first maximum of each window (PyTorch's choice) into din (accumulated). */
AX_HIDDEN void ax__maxpool_forward(const ax__tensor *in, const int64_t f[3], ax__tensor *out);
AX_HIDDEN void ax__maxpool_backward(const ax__tensor *in, const int64_t f[3], const ax__tensor *out,
                                    const float *gout, float *gin);
/* nearest upsampling by f; backward sums each output block into gin (accumulated) */
AX_HIDDEN void ax__upnearest_forward(const ax__tensor *in, const int64_t f[3], ax__tensor *out);
AX_HIDDEN void ax__upnearest_backward(const ax__tensor *in, const int64_t f[3], const float *gout,
                                      float *gin);
/* out = cat([crop(a centred to b's shape), b], channels); backward adds into ga (on the
 * cropped window) and gb (both accumulated; either may be NULL) */
AX_HIDDEN void ax__cropcat_forward(const ax__tensor *a, const ax__tensor *b, ax__tensor *out);
AX_HIDDEN void ax__cropcat_backward(const ax__tensor *a, const ax__tensor *b, const float *gout,
                                    float *ga, float *gb);
/* group normalisation (eps 1e-5, biased variance, per-channel affine gamma/beta) with the
 * per-group mean and 1/std saved in stats[2*groups] for the backward pass */
AX_HIDDEN void ax__groupnorm_forward(const ax__tensor *x, int groups, const float *gamma,
                                     const float *beta, ax__tensor *y, double *stats);
/* gx = d/dx (overwritten), dgamma/dbeta accumulated */
AX_HIDDEN void ax__groupnorm_backward(const ax__tensor *x, int groups, const float *gamma,
                                      const double *stats, const float *gy, float *gx,
                                      float *dgamma, float *dbeta);

/* losses over n values, returning sum(w * l) / n and writing d(loss)/d(input) into g:
 * BCE takes logits (the stable BCEWithLogits form), MSE takes the output itself */
AX_HIDDEN double ax__bce_logits(const float *logits, const float *t, const float *w, int64_t n,
                                float *g);
AX_HIDDEN double ax__mse(const float *y, const float *t, const float *w, int64_t n, float *g);

/* out += in over n floats, threaded */
AX_HIDDEN void ax__add_inplace(float *out, const float *in, int64_t n);

/* ---- safetensors (safetensors.c) ----------------------------------------------------------
 * 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
 * optional "__metadata__" of string pairs, then the raw little-endian tensor bytes. */

typedef struct {
    const char *name;
    int ndim;
    int64_t shape[8];
    const float *data;
} ax__st_tensor;

/* Write F32 tensors + metadata atomically (temp + rename). */
AX_HIDDEN int ax__st_write(const char *path, const char *const *meta_keys,
                           const char *const *meta_values, int n_meta, const ax__st_tensor *t,
                           int n);

typedef struct ax__st_file ax__st_file;
/* Read and validate the header (offsets inside the file, known dtypes, shapes that match the
 * byte counts). Errors name the file. */
AX_HIDDEN int ax__st_open(const char *path, ax__st_file **out);
AX_HIDDEN void ax__st_close(ax__st_file *f);
AX_HIDDEN const char *ax__st_meta(const ax__st_file *f, const char *key);
/* a copy of the __metadata__ object (a json_t *, caller decrefs; empty when absent) */
AX_HIDDEN struct json_t *ax__st_meta_copy(const ax__st_file *f);
AX_HIDDEN int ax__st_count(const ax__st_file *f);
AX_HIDDEN const char *ax__st_name(const ax__st_file *f, int i);
AX_HIDDEN bool ax__st_has(const ax__st_file *f, const char *name);
/* Tensor `name` as float32 into dst (F32, F64, F16 and BF16 are converted), checking that
 * its shape is exactly `shape`; a missing tensor or another shape is an error naming both. */
AX_HIDDEN int ax__st_read(const ax__st_file *f, const char *name, int ndim, const int64_t *shape,
                          float *dst);

#endif /* AX_NN_INT_H */
