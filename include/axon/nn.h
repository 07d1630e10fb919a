/* axon/nn.h: the CNN engine: 3D U-Nets for boundary and affinity prediction.
 *
 * A network (ax_net) is built from a small JSON description (see docs/cnn.md) and holds its
 * parameters, their gradients and the Adam state. Tensors are float32 for one sample, laid
 * out [C][D][H][W] (PyTorch's NCDHW with N = 1), so parameters and activations are the same
 * arrays PyTorch uses. Parameter names follow the PyTorch reference module
 * (tests/interop/unet_torch.py), and ax_net_save()/ax_net_load() use safetensors, so models
 * move between axon and PyTorch both ways.
 *
 * Thread-safety: one ax_net is used by one thread at a time; the work inside each call is
 * spread over the library's thread pool (core.h), with results that do not depend on the
 * number of threads.
 */
#ifndef AXON_NN_H
#define AXON_NN_H

#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_net ax_net;

/* Build a network from its JSON description (text, not a path). Weights start He-uniform
 * (bound sqrt(6 / fan_in), drawn from `seed`), biases at 0, norm scales at 1. */
AX_API int ax_net_create(const char *config_json, uint64_t seed, ax_net **out);
/* Load a network saved by ax_net_save() (or by the PyTorch reference): safetensors with the
 * JSON description under __metadata__["axon.config"]. */
AX_API int ax_net_load(const char *path, ax_net **out);
/* Save config + parameters as safetensors (temp name + rename). Extra metadata key/value
 * pairs (may be NULL/0) are stored alongside, e.g. training provenance. */
AX_API int ax_net_save(const ax_net *net, const char *path, const char *const *meta_keys,
                       const char *const *meta_values, int n_meta);
/* As ax_net_save(), plus the optimiser state (Adam moments and step count), so training
 * resumes exactly where it stopped (ax_net_load() restores it when present). */
AX_API int ax_net_save_checkpoint(const ax_net *net, const char *path,
                                  const char *const *meta_keys, const char *const *meta_values,
                                  int n_meta);
/* A metadata value stored with a loaded network (NULL when absent); owned by net. */
AX_API const char *ax_net_meta(const ax_net *net, const char *key);
/* Number of optimiser steps taken so far (restored from a checkpoint). */
AX_API int64_t ax_net_steps(const ax_net *net);
AX_API void ax_net_free(ax_net *net);

/* The normalised JSON description (all defaults filled in); owned by net. */
AX_API const char *ax_net_config(const ax_net *net);
AX_API int ax_net_in_channels(const ax_net *net);
AX_API int ax_net_out_channels(const ax_net *net);
/* Output spatial shape for an input shape; AX_E_INVALID (with the reason) when the input
 * does not fit the network (too small, or not divisible where pooling needs it). */
AX_API int ax_net_output_shape(const ax_net *net, const int64_t in[3], int64_t out[3]);
/* The smallest input shape whose output covers at least `out_min` voxels per axis. */
AX_API int ax_net_input_for_output(const ax_net *net, const int64_t out_min[3], int64_t in[3],
                                   int64_t out[3]);
/* Bytes of activations (and gradients when train) a pass over this input shape needs. */
AX_API uint64_t ax_net_memory_bytes(const ax_net *net, const int64_t in[3], int train);
/* FLOPs (multiply + add = 2) of one forward pass for this input shape. */
AX_API double ax_net_forward_flops(const ax_net *net, const int64_t in[3]);

/* Parameters, in a fixed order; data and grad are arrays of numel floats owned by net. */
AX_API int ax_net_param_count(const ax_net *net);
AX_API const char *ax_net_param_name(const ax_net *net, int i);
AX_API float *ax_net_param_data(ax_net *net, int i, int64_t *numel);
AX_API float *ax_net_param_grad(ax_net *net, int i, int64_t *numel);

/* Forward pass: in is [Cin][D][H][W] with D,H,W = in_shape, out receives [Cout][od][oh][ow]
 * after the output activation. Activations are kept for ax_net_backward() when `train`. */
AX_API int ax_net_forward(ax_net *net, const float *in, const int64_t in_shape[3], float *out,
                          int train);

typedef enum {
    AX_LOSS_BCE = 0, /* binary cross-entropy on the output probabilities (needs a sigmoid
                        output activation; computed from the logits, as
                        BCEWithLogitsLoss does) */
    AX_LOSS_MSE = 1  /* squared error on the output */
} ax_loss;

/* After a training forward pass: loss = sum(weight * l(out, target)) / numel(out), with
 * weight = 1 when NULL; target and weight are shaped like the output. Adds d(loss)/d(param)
 * to every parameter's grad (call ax_net_zero_grad() first) and returns the loss. */
AX_API int ax_net_backward(ax_net *net, ax_loss loss, const float *target, const float *weight,
                           double *loss_out);
AX_API void ax_net_zero_grad(ax_net *net);

typedef struct {
    double lr;            /* learning rate */
    double beta1, beta2;  /* Adam moments (0.9, 0.999) */
    double eps;           /* Adam epsilon (1e-8) */
    double weight_decay;  /* L2 added to the gradient, as torch.optim.Adam/SGD (0) */
    double momentum;      /* SGD only (0) */
} ax_optim_params;
AX_API ax_optim_params ax_optim_params_default(void);
/* One step of torch.optim.Adam / torch.optim.SGD semantics with the current gradients. */
AX_API int ax_net_adam_step(ax_net *net, const ax_optim_params *p);
AX_API int ax_net_sgd_step(ax_net *net, const ax_optim_params *p);

#ifdef __cplusplus
}
#endif
#endif /* AXON_NN_H */
