/* conv3d.c: fast conv3d forward and data gradient (placeholder: calls the reference). */
#include "nn/nn_int.h"

int ax__conv3d_forward(const ax__conv3d_shape *s, const float *in, const float *w,
                       const float *bias, float *out)
{
    ax__conv3d_forward_ref(s, in, w, bias, out);
    return AX_OK;
}

int ax__conv3d_backward_data(const ax__conv3d_shape *s, const float *dout, const float *w,
                             float *din)
{
    ax__conv3d_backward_data_ref(s, dout, w, din);
    return AX_OK;
}
