/* conv3d_wgrad.c: fast conv3d weight gradient (placeholder: calls the reference). */
#include "nn/nn_int.h"

int ax__conv3d_backward_weight(const ax__conv3d_shape *s, const float *in, const float *dout,
                               float *dw, float *dbias)
{
    ax__conv3d_backward_weight_ref(s, in, dout, dw, dbias);
    return AX_OK;
}
