/* conv3d_ref.c: plain C conv3d (forward and both gradients), the reference the fast
 * kernels are tested against. Loops as in the definition, double accumulators. */
#include <string.h>

#include "nn/nn_int.h"

int ax__conv3d_shape_init(ax__conv3d_shape *s)
{
    if (s->ci < 1 || s->co < 1 || s->kd < 1 || s->kh < 1 || s->kw < 1 || s->pd < 0 ||
        s->ph < 0 || s->pw < 0 || s->id < 1 || s->ih < 1 || s->iw < 1)
        return ax__err(AX_E_INVALID, "conv3d: bad shape");
    s->od = s->id + 2 * s->pd - s->kd + 1;
    s->oh = s->ih + 2 * s->ph - s->kh + 1;
    s->ow = s->iw + 2 * s->pw - s->kw + 1;
    if (s->od < 1 || s->oh < 1 || s->ow < 1)
        return ax__err(AX_E_INVALID,
                       "conv3d: input %lldx%lldx%lld is smaller than the %lldx%lldx%lld kernel",
                       (long long)s->id, (long long)s->ih, (long long)s->iw,
                       (long long)s->kd, (long long)s->kh, (long long)s->kw);
    return AX_OK;
}

#define IN(c, z, y, x) in[(((c) * s->id + (z)) * s->ih + (y)) * s->iw + (x)]
#define OUT(c, z, y, x) out[(((c) * s->od + (z)) * s->oh + (y)) * s->ow + (x)]
#define W(o, i, a, b, c) w[((((o) * s->ci + (i)) * s->kd + (a)) * s->kh + (b)) * s->kw + (c)]

void ax__conv3d_forward_ref(const ax__conv3d_shape *s, const float *in, const float *w,
                            const float *bias, float *out)
{
    for (int64_t o = 0; o < s->co; o++)
        for (int64_t z = 0; z < s->od; z++)
            for (int64_t y = 0; y < s->oh; y++)
                for (int64_t x = 0; x < s->ow; x++) {
                    double acc = bias ? bias[o] : 0.0;
                    for (int64_t i = 0; i < s->ci; i++)
                        for (int64_t a = 0; a < s->kd; a++) {
                            int64_t zz = z + a - s->pd;
                            if (zz < 0 || zz >= s->id) continue;
                            for (int64_t b = 0; b < s->kh; b++) {
                                int64_t yy = y + b - s->ph;
                                if (yy < 0 || yy >= s->ih) continue;
                                for (int64_t c = 0; c < s->kw; c++) {
                                    int64_t xx = x + c - s->pw;
                                    if (xx < 0 || xx >= s->iw) continue;
                                    acc += (double)W(o, i, a, b, c) * IN(i, zz, yy, xx);
                                }
                            }
                        }
                    OUT(o, z, y, x) = (float)acc;
                }
}

/* din[i][p] = sum over outputs q that read p of dout[o][q] * w[o][i][p - q + pad] */
void ax__conv3d_backward_data_ref(const ax__conv3d_shape *s, const float *dout,
                                  const float *w, float *din)
{
    const float *out = dout;
    float *in = din;
    for (int64_t i = 0; i < s->ci; i++)
        for (int64_t z = 0; z < s->id; z++)
            for (int64_t y = 0; y < s->ih; y++)
                for (int64_t x = 0; x < s->iw; x++) {
                    double acc = 0.0;
                    for (int64_t o = 0; o < s->co; o++)
                        for (int64_t a = 0; a < s->kd; a++) {
                            int64_t oz = z - a + s->pd;
                            if (oz < 0 || oz >= s->od) continue;
                            for (int64_t b = 0; b < s->kh; b++) {
                                int64_t oy = y - b + s->ph;
                                if (oy < 0 || oy >= s->oh) continue;
                                for (int64_t c = 0; c < s->kw; c++) {
                                    int64_t ox = x - c + s->pw;
                                    if (ox < 0 || ox >= s->ow) continue;
                                    acc += (double)W(o, i, a, b, c) * OUT(o, oz, oy, ox);
                                }
                            }
                        }
                    IN(i, z, y, x) = (float)acc;
                }
}

void ax__conv3d_backward_weight_ref(const ax__conv3d_shape *s, const float *in,
                                    const float *dout, float *dw, float *dbias)
{
    const float *out = dout;
    float *w = dw;
    for (int64_t o = 0; o < s->co; o++) {
        if (dbias) {
            double acc = 0.0;
            for (int64_t q = 0; q < s->od * s->oh * s->ow; q++) acc += out[o * s->od * s->oh * s->ow + q];
            dbias[o] += (float)acc;
        }
        for (int64_t i = 0; i < s->ci; i++)
            for (int64_t a = 0; a < s->kd; a++)
                for (int64_t b = 0; b < s->kh; b++)
                    for (int64_t c = 0; c < s->kw; c++) {
                        double acc = 0.0;
                        for (int64_t z = 0; z < s->od; z++) {
                            int64_t zz = z + a - s->pd;
                            if (zz < 0 || zz >= s->id) continue;
                            for (int64_t y = 0; y < s->oh; y++) {
                                int64_t yy = y + b - s->ph;
                                if (yy < 0 || yy >= s->ih) continue;
                                for (int64_t x = 0; x < s->ow; x++) {
                                    int64_t xx = x + c - s->pw;
                                    if (xx < 0 || xx >= s->iw) continue;
                                    acc += (double)OUT(o, z, y, x) * IN(i, zz, yy, xx);
                                }
                            }
                        }
                        W(o, i, a, b, c) += (float)acc;
                    }
    }
}
