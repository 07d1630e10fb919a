/* ops.c: the U-Net's layers other than convolution, forward and backward. They are memory
 * bound, so they are plain loops spread over the pool by channel (or by chunk); each output
 * value is written by one task, so results do not depend on the thread count. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "nn/nn_int.h"

/* ---- a tiny "for each chunk" helper over the pool -------------------------------------- */

typedef void (*range_fn)(void *ctx, int64_t i);
typedef struct {
    range_fn fn;
    void *ctx;
} range_job;

static int range_task(void *ctx, int64_t i, int thread)
{
    range_job *j = ctx;
    j->fn(j->ctx, i);
    return AX_OK;
}

/* fn(ctx, i) for i in [0, n); interruption is checked by the caller between layers */
static void for_each(int64_t n, range_fn fn, void *ctx)
{
    range_job j = {fn, ctx};
    (void)ax_parallel_for(n, range_task, &j);
}

#define CHUNK 65536 /* elementwise work is split into chunks of this many floats */

/* ---- activations --------------------------------------------------------------------- */

typedef struct {
    ax__act act;
    float *y;
    const float *yc;
    float *g;
    int64_t n;
} act_job;

void ax__act_row(ax__act act, float *y, int64_t n)
{
    switch (act) {
    case AX_ACT_NONE: break;
    case AX_ACT_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case AX_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.01f * y[i];
        break;
    case AX_ACT_ELU:
        for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : expm1f(y[i]);
        break;
    case AX_ACT_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanhf(y[i]);
        break;
    case AX_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
        break;
    }
}

static void act_fwd_chunk(void *ctx, int64_t c)
{
    act_job *j = ctx;
    int64_t b = c * CHUNK, e = b + CHUNK < j->n ? b + CHUNK : j->n;
    ax__act_row(j->act, j->y + b, e - b);
}

void ax__act_forward(ax__act act, float *y, int64_t n)
{
    if (act == AX_ACT_NONE) return;
    act_job j = {act, y, NULL, NULL, n};
    for_each((n + CHUNK - 1) / CHUNK, act_fwd_chunk, &j);
}

static void act_bwd_chunk(void *ctx, int64_t c)
{
    act_job *j = ctx;
    int64_t b = c * CHUNK, e = b + CHUNK < j->n ? b + CHUNK : j->n;
    const float *y = j->yc;
    float *g = j->g;
    switch (j->act) {
    case AX_ACT_NONE: break;
    case AX_ACT_RELU: /* y > 0 exactly where x > 0 */
        for (int64_t i = b; i < e; i++) g[i] = y[i] > 0.0f ? g[i] : 0.0f;
        break;
    case AX_ACT_LEAKY_RELU:
        for (int64_t i = b; i < e; i++) g[i] = y[i] > 0.0f ? g[i] : 0.01f * g[i];
        break;
    case AX_ACT_ELU: /* x <= 0: d/dx expm1(x) = exp(x) = y + 1 */
        for (int64_t i = b; i < e; i++) g[i] = y[i] > 0.0f ? g[i] : g[i] * (y[i] + 1.0f);
        break;
    case AX_ACT_TANH:
        for (int64_t i = b; i < e; i++) g[i] *= 1.0f - y[i] * y[i];
        break;
    case AX_ACT_SIGMOID:
        for (int64_t i = b; i < e; i++) g[i] *= y[i] * (1.0f - y[i]);
        break;
    }
}

void ax__act_backward(ax__act act, const float *y, float *g, int64_t n)
{
    if (act == AX_ACT_NONE) return;
    act_job j = {act, NULL, y, g, n};
    for_each((n + CHUNK - 1) / CHUNK, act_bwd_chunk, &j);
}

typedef struct {
    float *out;
    const float *in;
    int64_t n;
} add_job;

static void add_chunk(void *ctx, int64_t c)
{
    add_job *j = ctx;
    int64_t b = c * CHUNK, e = b + CHUNK < j->n ? b + CHUNK : j->n;
    for (int64_t i = b; i < e; i++) j->out[i] += j->in[i];
}

void ax__add_inplace(float *out, const float *in, int64_t n)
{
    add_job j = {out, in, n};
    for_each((n + CHUNK - 1) / CHUNK, add_chunk, &j);
}

/* ---- max pool ------------------------------------------------------------------------ */

typedef struct {
    const ax__tensor *in, *out;
    const int64_t *f;
    const float *gout;
    float *gin;
} pool_job;

/* task = (channel, output z). The max is taken window row by window row over a whole
 * output row, loops the compiler vectorises. (A NaN input is not propagated: finite inputs
 * never make one, and raw input is checked for NaN on the way in.) */
static void pool_fwd_task(void *ctx, int64_t t)
{
    pool_job *j = ctx;
    const ax__tensor *in = j->in, *out = j->out;
    int64_t c = t / out->d, z = t % out->d;
    const int64_t fd = j->f[0], fh = j->f[1], fw = j->f[2], ow = out->w;
    for (int64_t y = 0; y < out->h; y++) {
        float *o = out->data + ((c * out->d + z) * out->h + y) * ow;
        for (int64_t x = 0; x < ow; x++) o[x] = -INFINITY;
        for (int64_t a = 0; a < fd; a++)
            for (int64_t b = 0; b < fh; b++) {
                const float *r = in->data + ((c * in->d + z * fd + a) * in->h + y * fh + b) * in->w;
                if (fw == 2)
                    for (int64_t x = 0; x < ow; x++) {
                        float m = r[2 * x] > r[2 * x + 1] ? r[2 * x] : r[2 * x + 1];
                        o[x] = m > o[x] ? m : o[x];
                    }
                else
                    for (int64_t k = 0; k < fw; k++)
                        for (int64_t x = 0; x < ow; x++) o[x] = r[x * fw + k] > o[x] ? r[x * fw + k] : o[x];
            }
    }
}

void ax__maxpool_forward(const ax__tensor *in, const int64_t f[3], ax__tensor *out)
{
    pool_job j = {in, out, f, NULL, NULL};
    for_each(out->c * out->d, pool_fwd_task, &j);
}

/* the common (1, 2, 2) window without branches: the gradient goes to the first of the
 * four inputs (scan order) equal to the maximum */
static void pool_bwd_122(const pool_job *j, int64_t c, int64_t z)
{
    const ax__tensor *in = j->in, *out = j->out;
    for (int64_t y = 0; y < out->h; y++) {
        int64_t orow = ((c * out->d + z) * out->h + y) * out->w;
        int64_t r0 = ((c * in->d + z) * in->h + 2 * y) * in->w, r1 = r0 + in->w;
        const float *m = out->data + orow, *g = j->gout + orow, *a = in->data + r0, *b = in->data + r1;
        float *ga = j->gin + r0, *gb = j->gin + r1;
        for (int64_t x = 0; x < out->w; x++) {
            float v = m[x], gv = g[x];
            bool h0 = a[2 * x] == v, h1 = !h0 && a[2 * x + 1] == v, h2 = !h0 && !h1 && b[2 * x] == v,
                 h3 = !h0 && !h1 && !h2;
            ga[2 * x] += h0 ? gv : 0.0f;
            ga[2 * x + 1] += h1 ? gv : 0.0f;
            gb[2 * x] += h2 ? gv : 0.0f;
            gb[2 * x + 1] += h3 ? gv : 0.0f;
        }
    }
}

static void pool_bwd_task(void *ctx, int64_t t)
{
    pool_job *j = ctx;
    const ax__tensor *in = j->in, *out = j->out;
    int64_t c = t / out->d, z = t % out->d;
    const int64_t fd = j->f[0], fh = j->f[1], fw = j->f[2];
    if (fd == 1 && fh == 2 && fw == 2) {
        pool_bwd_122(j, c, z);
        return;
    }
    for (int64_t y = 0; y < out->h; y++) {
        int64_t orow = ((c * out->d + z) * out->h + y) * out->w;
        for (int64_t x = 0; x < out->w; x++) {
            float m = out->data[orow + x];
            int64_t hit = -1; /* the first maximum in window scan order */
            for (int64_t a = 0; a < fd && hit < 0; a++)
                for (int64_t b = 0; b < fh && hit < 0; b++) {
                    int64_t r = ((c * in->d + z * fd + a) * in->h + y * fh + b) * in->w + x * fw;
                    for (int64_t k = 0; k < fw; k++)
                        if (in->data[r + k] == m) {
                            hit = r + k;
                            break;
                        }
                }
            if (hit >= 0) j->gin[hit] += j->gout[orow + x];
        }
    }
}

void ax__maxpool_backward(const ax__tensor *in, const int64_t f[3], const ax__tensor *out,
                          const float *gout, float *gin)
{
    pool_job j = {in, out, f, gout, gin};
    for_each(out->c * out->d, pool_bwd_task, &j);
}

/* ---- nearest upsampling ---------------------------------------------------------------- */

/* task = (channel, input z) */
static void upn_fwd_task(void *ctx, int64_t t)
{
    pool_job *j = ctx; /* in = low resolution, out = high */
    const ax__tensor *in = j->in, *out = j->out;
    int64_t c = t / in->d, z = t % in->d;
    const int64_t fd = j->f[0], fh = j->f[1], fw = j->f[2];
    for (int64_t a = 0; a < fd; a++)
        for (int64_t y = 0; y < out->h; y++) {
            const float *r = in->data + ((c * in->d + z) * in->h + y / fh) * in->w;
            float *o = out->data + ((c * out->d + z * fd + a) * out->h + y) * out->w;
            for (int64_t x = 0; x < out->w; x++) o[x] = r[x / fw];
        }
}

void ax__upnearest_forward(const ax__tensor *in, const int64_t f[3], ax__tensor *out)
{
    pool_job j = {in, out, f, NULL, NULL};
    for_each(in->c * in->d, upn_fwd_task, &j);
}

typedef struct {
    const ax__tensor *in;
    const int64_t *f;
    const float *gout;
    float *gin;
} upn_bwd_job;

static void upn_bwd_task(void *ctx, int64_t t)
{
    upn_bwd_job *j = ctx;
    const ax__tensor *in = j->in;
    int64_t c = t / in->d, z = t % in->d;
    const int64_t fd = j->f[0], fh = j->f[1], fw = j->f[2];
    const int64_t oh = in->h * fh, ow = in->w * fw, od = in->d * fd;
    for (int64_t y = 0; y < in->h; y++)
        for (int64_t x = 0; x < in->w; x++) {
            float s = 0.0f;
            for (int64_t a = 0; a < fd; a++)
                for (int64_t b = 0; b < fh; b++) {
                    const float *r = j->gout + ((c * od + z * fd + a) * oh + y * fh + b) * ow + x * fw;
                    for (int64_t k = 0; k < fw; k++) s += r[k];
                }
            j->gin[((c * in->d + z) * in->h + y) * in->w + x] += s;
        }
}

void ax__upnearest_backward(const ax__tensor *in, const int64_t f[3], const float *gout,
                            float *gin)
{
    upn_bwd_job j = {in, f, gout, gin};
    for_each(in->c * in->d, upn_bwd_task, &j);
}

/* ---- crop + concatenate (the U-Net skip connection) ------------------------------------ */

typedef struct {
    const ax__tensor *a, *b, *out;
    const float *gout;
    float *ga, *gb;
    int64_t oz, oy, ox; /* crop offset into a */
} cat_job;

/* task = (output channel, z) */
static void cat_fwd_task(void *ctx, int64_t t)
{
    cat_job *j = ctx;
    const ax__tensor *a = j->a, *b = j->b, *out = j->out;
    int64_t c = t / out->d, z = t % out->d;
    for (int64_t y = 0; y < out->h; y++) {
        float *o = out->data + ((c * out->d + z) * out->h + y) * out->w;
        const float *src = c < a->c
            ? a->data + ((c * a->d + z + j->oz) * a->h + y + j->oy) * a->w + j->ox
            : b->data + (((c - a->c) * b->d + z) * b->h + y) * b->w;
        memcpy(o, src, (size_t)out->w * sizeof(float));
    }
}

static void cat_offsets(cat_job *j)
{
    j->oz = (j->a->d - j->b->d) / 2;
    j->oy = (j->a->h - j->b->h) / 2;
    j->ox = (j->a->w - j->b->w) / 2;
}

void ax__cropcat_forward(const ax__tensor *a, const ax__tensor *b, ax__tensor *out)
{
    cat_job j = {a, b, out, NULL, NULL, NULL, 0, 0, 0};
    cat_offsets(&j);
    for_each(out->c * out->d, cat_fwd_task, &j);
}

static void cat_bwd_task(void *ctx, int64_t t)
{
    cat_job *j = ctx;
    const ax__tensor *a = j->a, *b = j->b, *out = j->out;
    int64_t c = t / out->d, z = t % out->d;
    float *dst = c < a->c ? j->ga : j->gb;
    if (!dst) return;
    for (int64_t y = 0; y < out->h; y++) {
        const float *g = j->gout + ((c * out->d + z) * out->h + y) * out->w;
        float *d = c < a->c ? dst + ((c * a->d + z + j->oz) * a->h + y + j->oy) * a->w + j->ox
                            : dst + (((c - a->c) * b->d + z) * b->h + y) * b->w;
        for (int64_t x = 0; x < out->w; x++) d[x] += g[x];
    }
}

void ax__cropcat_backward(const ax__tensor *a, const ax__tensor *b, const float *gout,
                          float *ga, float *gb)
{
    ax__tensor out = {a->c + b->c, b->d, b->h, b->w, NULL, NULL};
    cat_job j = {a, b, &out, gout, ga, gb, 0, 0, 0};
    cat_offsets(&j);
    for_each(out.c * out.d, cat_bwd_task, &j);
}

/* ---- group normalisation --------------------------------------------------------------- */

typedef struct {
    const ax__tensor *x;
    ax__tensor *y;
    int groups;
    const float *gamma, *beta, *gy;
    double *stats;
    const double *cstats;
    float *gx, *dgamma, *dbeta;
} gn_job;

static void gn_fwd_task(void *ctx, int64_t g)
{
    gn_job *j = ctx;
    const int64_t cpg = j->x->c / j->groups, sp = j->x->d * j->x->h * j->x->w;
    const float *x = j->x->data + g * cpg * sp;
    double s = 0.0, ss = 0.0;
    for (int64_t i = 0; i < cpg * sp; i++) s += x[i];
    double mean = s / (double)(cpg * sp);
    for (int64_t i = 0; i < cpg * sp; i++) ss += (x[i] - mean) * (x[i] - mean);
    double rstd = 1.0 / sqrt(ss / (double)(cpg * sp) + 1e-5);
    j->stats[2 * g] = mean;
    j->stats[2 * g + 1] = rstd;
    for (int64_t c = 0; c < cpg; c++) {
        int64_t ch = g * cpg + c;
        float sc = (float)(rstd * j->gamma[ch]), sh = (float)(j->beta[ch] - mean * rstd * j->gamma[ch]);
        const float *xc = x + c * sp;
        float *yc = j->y->data + ch * sp;
        for (int64_t i = 0; i < sp; i++) yc[i] = xc[i] * sc + sh;
    }
}

void ax__groupnorm_forward(const ax__tensor *x, int groups, const float *gamma,
                           const float *beta, ax__tensor *y, double *stats)
{
    gn_job j = {x, y, groups, gamma, beta, NULL, stats, NULL, NULL, NULL, NULL};
    for_each(groups, gn_fwd_task, &j);
}

/* per group: xh = (x - mean) rstd, dxh = gy gamma,
 * gx = rstd (dxh - mean(dxh) - xh mean(dxh xh)) */
static void gn_bwd_task(void *ctx, int64_t g)
{
    gn_job *j = ctx;
    const int64_t cpg = j->x->c / j->groups, sp = j->x->d * j->x->h * j->x->w;
    const double mean = j->cstats[2 * g], rstd = j->cstats[2 * g + 1];
    double s1 = 0.0, s2 = 0.0;
    for (int64_t c = 0; c < cpg; c++) {
        int64_t ch = g * cpg + c;
        const float *xc = j->x->data + ch * sp, *gc = j->gy + ch * sp;
        double sg = 0.0, sgx = 0.0;
        for (int64_t i = 0; i < sp; i++) {
            double xh = (xc[i] - mean) * rstd;
            sg += gc[i];
            sgx += gc[i] * xh;
        }
        j->dgamma[ch] += (float)sgx;
        j->dbeta[ch] += (float)sg;
        s1 += sg * j->gamma[ch];
        s2 += sgx * j->gamma[ch];
    }
    const double n = (double)(cpg * sp), m1 = s1 / n, m2 = s2 / n;
    for (int64_t c = 0; c < cpg; c++) {
        int64_t ch = g * cpg + c;
        const float *xc = j->x->data + ch * sp, *gc = j->gy + ch * sp;
        float *o = j->gx + ch * sp;
        for (int64_t i = 0; i < sp; i++) {
            double xh = (xc[i] - mean) * rstd;
            o[i] = (float)(rstd * (gc[i] * j->gamma[ch] - m1 - xh * m2));
        }
    }
}

void ax__groupnorm_backward(const ax__tensor *x, int groups, const float *gamma,
                            const double *stats, const float *gy, float *gx, float *dgamma,
                            float *dbeta)
{
    gn_job j = {x, NULL, groups, gamma, NULL, gy, NULL, stats, gx, dgamma, dbeta};
    for_each(groups, gn_bwd_task, &j);
}

/* ---- losses ---------------------------------------------------------------------------- */

double ax__bce_logits(const float *x, const float *t, const float *w, int64_t n, float *g)
{
    double sum = 0.0;
    const double inv = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0, xi = x[i];
        /* max(x,0) - x t + log(1 + exp(-|x|)): no overflow for any x */
        sum += wi * ((xi > 0 ? xi : 0.0) - xi * t[i] + log1p(exp(-fabs(xi))));
        double p = 1.0 / (1.0 + exp(-xi));
        g[i] = (float)(wi * (p - t[i]) * inv);
    }
    return sum * inv;
}

double ax__mse(const float *y, const float *t, const float *w, int64_t n, float *g)
{
    double sum = 0.0;
    const double inv = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0, d = (double)y[i] - t[i];
        sum += wi * d * d;
        g[i] = (float)(2.0 * wi * d * inv);
    }
    return sum * inv;
}
