/* cmd_nn.c: `axon train`, `axon predict`, `axon model-info`: the CNN step of the pipeline.
 *
 * Raw EM is fed to the network as float32: uint8 as value/127.5 - 1, uint16 as
 * value/32767.5 - 1 (both onto [-1, 1]), float32 unchanged. A valid-padded network's output voxel (0,0,0) sits at input voxel
 * (I - O)/2 (I, O: input and output tile shapes), so tiles of output laid side by side cover
 * the volume without seams; beyond the volume the input is mirrored. Training targets use
 * the same alignment, so what `predict` writes is what `train` taught.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

#define MAX_OFF 32

/* ---- volumes in memory ---------------------------------------------------------------- */

typedef struct {
    const char *raw_path, *lab_path;
    float *raw;         /* [D][H][W], normalised */
    uint64_t *lab;      /* [D][H][W] labels (NULL for predict) */
    int64_t shape[3];
    bool invert;        /* mask target from label == 0 (--labels-invert) */
} dataset;

static int64_t vox(const int64_t s[3]) { return s[0] * s[1] * s[2]; }

/* Read a 3-d raw volume (or the box start/size of it) as normalised float32. */
static int read_raw(ax_volume *v, const char *path, const int64_t start[3], const int64_t size[3],
                    float *out)
{
    const ax_volume_info *ii = ax_volume_get_info(v);
    /* integers to [-1, 1]: zero-centred inputs train faster than [0, 1] */
    double scale = ii->dtype == AX_DTYPE_U8 ? 2.0 / 255 : ii->dtype == AX_DTYPE_U16 ? 2.0 / 65535 : 1.0;
    double shift = ii->dtype == AX_DTYPE_U8 || ii->dtype == AX_DTYPE_U16 ? -1.0 : 0.0;
    int rc = ax_volume_read_region_as(v, start, size, AX_DTYPE_F32, out);
    if (rc) return rc;
    int64_t n = vox(size);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(out[i])) {
            fprintf(stderr, "axon: error: %s: raw value %g is not finite\n", path, (double)out[i]);
            return AX_E_INVALID;
        }
        out[i] = (float)(out[i] * scale + shift);
    }
    return AX_OK;
}

static int open3(const char *path, ax_volume **v, int64_t shape[3])
{
    int rc = ax_volume_open(path, AX_OPEN_READ, v);
    if (rc) return fail(rc);
    const ax_volume_info *ii = ax_volume_get_info(*v);
    if (ii->ndim != 3) {
        fprintf(stderr, "axon: error: %s: expected a 3-d volume (this one has %d axes)\n", path, ii->ndim);
        ax_volume_close(*v);
        return 1;
    }
    for (int d = 0; d < 3; d++) shape[d] = ii->shape[d];
    return 0;
}

static int load_dataset(dataset *ds)
{
    ax_volume *v;
    int64_t z3[3] = {0, 0, 0}, ls[3];
    if (open3(ds->raw_path, &v, ds->shape)) return 1;
    ds->raw = malloc((size_t)vox(ds->shape) * sizeof(float));
    int rc = ds->raw ? read_raw(v, ds->raw_path, z3, ds->shape, ds->raw) : AX_E_NOMEM;
    ax_volume_close(v);
    if (rc) return rc == AX_E_INVALID ? 1 : fail(rc);
    if (!ds->lab_path) return 0;
    if (open3(ds->lab_path, &v, ls)) return 1;
    if (ls[0] != ds->shape[0] || ls[1] != ds->shape[1] || ls[2] != ds->shape[2]) {
        fprintf(stderr, "axon: error: %s is %lldx%lldx%lld but the raw %s is %lldx%lldx%lld\n",
                ds->lab_path, (long long)ls[0], (long long)ls[1], (long long)ls[2], ds->raw_path,
                (long long)ds->shape[0], (long long)ds->shape[1], (long long)ds->shape[2]);
        ax_volume_close(v);
        return 1;
    }
    ds->lab = malloc((size_t)vox(ds->shape) * sizeof(uint64_t));
    rc = ds->lab ? ax_volume_read_region_as(v, z3, ds->shape, AX_DTYPE_U64, ds->lab) : AX_E_NOMEM;
    ax_volume_close(v);
    return rc ? fail(rc) : 0;
}

/* reflect i into [0, n) (d c b | a b c d | c b a) */
static int64_t mirror(int64_t i, int64_t n)
{
    if (n == 1) return 0;
    int64_t p = 2 * (n - 1);
    i %= p;
    if (i < 0) i += p;
    return i < n ? i : p - i;
}

/* ---- network output alignment -------------------------------------------------------- */

typedef struct {
    int64_t in[3], out[3], ctx[3]; /* tile input/output shapes; output (0,0,0) at input ctx */
    int64_t keep_lo[3], keep[3];   /* the part of each output tile that is kept */
} tiling;

/* Product of the network's pooling factors per axis (its coarsest grid), from the
 * normalised description. */
static void pooling_product(const ax_net *net, int64_t f[3])
{
    f[0] = f[1] = f[2] = 1;
    json_t *cfg = json_loads(ax_net_config(net), 0, NULL), *ds = json_object_get(cfg, "downsample");
    for (size_t l = 0; l < json_array_size(ds); l++)
        for (int d = 0; d < 3; d++) f[d] *= json_integer_value(json_array_get(json_array_get(ds, l), (size_t)d));
    json_decref(cfg);
}

/* The tiles kept from each network output start on the network's coarsest grid (the
 * pooling product; twice it in y and x): a U-Net with pooling only commutes with shifts
 * by that grid, and in y and x every layer then also sees its 2x2 Winograd tiles
 * (src/nn/winograd.c) in the phase of a whole-volume pass. The prediction is the same
 * bits for any tile shape. */
static int make_tiling(const ax_net *net, const int64_t want_out[3], const int64_t overlap[3],
                       const int64_t *vol, tiling *t)
{
    int64_t want[3], f[3];
    pooling_product(net, f);
    for (int d = 0; d < 3; d++) {
        want[d] = want_out[d];
        int64_t m = d ? 2 * f[d] : f[d];
        if (vol && m > 1) { /* as many tiles as --block asks for, each a multiple of m */
            int64_t n = (vol[d] + want[d] - 1) / want[d], per = (vol[d] + n - 1) / n;
            want[d] = (per + m - 1) / m * m;
        }
        want[d] += 2 * overlap[d];
    }
    int rc = ax_net_input_for_output(net, want, t->in, t->out);
    if (rc) return fail(rc);
    for (int d = 0; d < 3; d++) {
        t->ctx[d] = (t->in[d] - t->out[d]) / 2;
        t->keep_lo[d] = overlap[d];
        t->keep[d] = t->out[d] - 2 * overlap[d];
        int64_t m = d ? 2 * f[d] : f[d];
        if (t->keep[d] >= m) t->keep[d] -= t->keep[d] % m;
    }
    return 0;
}

/* in[z][y][x] = raw(mirror(start + (z,y,x))) for a raw box held in memory at `origin` */
static void fill_input(const float *box, const int64_t origin[3], const int64_t bshape[3],
                       const int64_t vol[3], const int64_t start[3], const int64_t size[3],
                       float *in)
{
    for (int64_t z = 0; z < size[0]; z++) {
        int64_t zz = mirror(start[0] + z, vol[0]) - origin[0];
        for (int64_t y = 0; y < size[1]; y++) {
            int64_t yy = mirror(start[1] + y, vol[1]) - origin[1];
            const float *row = box + (zz * bshape[1] + yy) * bshape[2];
            float *o = in + (z * size[1] + y) * size[2];
            for (int64_t x = 0; x < size[2]; x++) o[x] = row[mirror(start[2] + x, vol[2]) - origin[2]];
        }
    }
}

/* the box of volume coordinates that mirror() maps [start, start + size) onto */
static void mirror_box(const int64_t vol[3], const int64_t start[3], const int64_t size[3],
                       int64_t bo[3], int64_t bs[3])
{
    for (int d = 0; d < 3; d++) {
        int64_t lo = vol[d], hi = -1;
        for (int64_t i = start[d]; i < start[d] + size[d]; i++) {
            int64_t m = mirror(i, vol[d]);
            if (m < lo) lo = m;
            if (m > hi) hi = m;
        }
        bo[d] = lo;
        bs[d] = hi - lo + 1;
    }
}

/* Predict the output box [ostart, ostart + osize) of an in-memory volume (validation). */
static int predict_memory(ax_net *net, const tiling *t, const dataset *ds, const int64_t ostart[3],
                          const int64_t osize[3], float *out)
{
    int C = ax_net_out_channels(net);
    float *in = malloc((size_t)vox(t->in) * sizeof(float));
    float *y = malloc((size_t)vox(t->out) * (size_t)C * sizeof(float));
    int64_t nb[3], zero[3] = {0, 0, 0};
    for (int d = 0; d < 3; d++) nb[d] = (osize[d] + t->keep[d] - 1) / t->keep[d];
    int rc = in && y ? AX_OK : AX_E_NOMEM;
    for (int64_t b = 0; b < nb[0] * nb[1] * nb[2] && !rc; b++) {
        int64_t k[3] = {b / (nb[1] * nb[2]), (b / nb[2]) % nb[1], b % nb[2]}, ts[3], is[3], n[3];
        for (int d = 0; d < 3; d++) {
            ts[d] = k[d] * t->keep[d]; /* kept part's start, relative to ostart */
            is[d] = ostart[d] + ts[d] - t->keep_lo[d] - t->ctx[d];
            n[d] = ts[d] + t->keep[d] > osize[d] ? osize[d] - ts[d] : t->keep[d];
        }
        fill_input(ds->raw, zero, ds->shape, ds->shape, is, t->in, in);
        if ((rc = ax_net_forward(net, in, t->in, y, 0))) break;
        for (int c = 0; c < C; c++)
            for (int64_t z = 0; z < n[0]; z++)
                for (int64_t yy = 0; yy < n[1]; yy++)
                    memcpy(out + ((c * osize[0] + ts[0] + z) * osize[1] + ts[1] + yy) * osize[2] + ts[2],
                           y + ((c * t->out[0] + t->keep_lo[0] + z) * t->out[1] + t->keep_lo[1] + yy) * t->out[2] +
                               t->keep_lo[2],
                           (size_t)n[2] * sizeof(float));
    }
    free(in);
    free(y);
    return rc;
}

/* ---- targets ----------------------------------------------------------------------------- */

typedef struct {
    bool affinities;        /* else a mask: target = (label != 0) xor invert */
    bool invert;
    int64_t off[MAX_OFF][3];
    int n_off;
} target_spec;

/* Targets and weights for output box [s, s + n) of a dataset, under the augmentation that
 * maps patch coordinates q to volume coordinates map(q): flips per axis and an x/y swap.
 * Affinity c of voxel p is 1 when p and p + off_c carry the same non-zero label; pairs that
 * leave the volume get weight 0. Weights then balance the two classes per channel. */
typedef struct {
    int64_t s[3];     /* volume start of the (un-augmented) box */
    int64_t n[3];     /* box size in patch coordinates */
    bool flip[3], swap;
    const float *edy, *edx; /* elastic displacement over the patch's (y, x), or NULL */
    int64_t vol[3];   /* the volume's shape (clamping under elastic) */
} aug;

/* the augmentation's smooth in-plane displacement at patch (y, x), clamped to its field */
static void displacement(const aug *a, int64_t y, int64_t x, double *dy, double *dx)
{
    y = y < 0 ? 0 : y >= a->n[1] ? a->n[1] - 1 : y;
    x = x < 0 ? 0 : x >= a->n[2] ? a->n[2] - 1 : x;
    *dy = a->edy[y * a->n[2] + x];
    *dx = a->edx[y * a->n[2] + x];
}

/* volume position of patch voxel q: flips and swap, then the elastic displacement (when
 * there is one), clamped into the volume. Fractional in y and x with elastic. */
static void to_volume_f(const aug *a, const int64_t q[3], double v[3])
{
    int64_t p[3] = {q[0], q[1], q[2]}, sz[3] = {a->n[0], a->n[1], a->n[2]};
    if (a->swap) {
        int64_t t = p[1];
        p[1] = p[2], p[2] = t;
        t = sz[1], sz[1] = sz[2], sz[2] = t;
    }
    for (int d = 0; d < 3; d++) v[d] = (double)(a->s[d] + (a->flip[d] ? sz[d] - 1 - p[d] : p[d]));
    if (a->edy) {
        double dy, dx;
        displacement(a, q[1], q[2], &dy, &dx);
        v[1] += dy, v[2] += dx;
        for (int d = 1; d < 3; d++) v[d] = v[d] < 0 ? 0 : v[d] > a->vol[d] - 1 ? (double)(a->vol[d] - 1) : v[d];
    }
}

/* nearest voxel (labels) */
static void to_volume(const aug *a, const int64_t q[3], int64_t v[3])
{
    double f[3];
    to_volume_f(a, q, f);
    for (int d = 0; d < 3; d++) v[d] = (int64_t)floor(f[d] + 0.5);
}

/* raw at patch voxel q: bilinear in y and x under an elastic displacement */
static float raw_at(const dataset *ds, const aug *a, const int64_t q[3])
{
    double f[3];
    to_volume_f(a, q, f);
    const int64_t H = ds->shape[1], W = ds->shape[2], z = (int64_t)f[0];
    int64_t y0 = (int64_t)floor(f[1]), x0 = (int64_t)floor(f[2]);
    double wy = f[1] - (double)y0, wx = f[2] - (double)x0;
    int64_t y1 = y0 + 1 < H ? y0 + 1 : y0, x1 = x0 + 1 < W ? x0 + 1 : x0;
    const float *r = ds->raw + z * H * W;
    return (float)((1 - wy) * ((1 - wx) * r[y0 * W + x0] + wx * r[y0 * W + x1]) +
                   wy * ((1 - wx) * r[y1 * W + x0] + wx * r[y1 * W + x1]));
}

/* A smooth random in-plane displacement field over the patch: Gaussian offsets of
 * standard deviation sigma on a control grid every `step` voxels, bilinearly
 * interpolated (the elastic augmentation of the U-Net paper, simplified). */
static double rng_unit(uint64_t *s);
static void make_elastic(aug *a, double sigma, int64_t step, uint64_t *rng, float *dy, float *dx)
{
    int64_t gh = a->n[1] / step + 2, gw = a->n[2] / step + 2;
    double g[2][64][64];
    if (gh > 64) gh = 64;
    if (gw > 64) gw = 64;
    for (int c = 0; c < 2; c++)
        for (int64_t i = 0; i < gh; i++)
            for (int64_t j = 0; j < gw; j++) { /* Box-Muller */
                double u1 = rng_unit(rng) + 1e-12, u2 = rng_unit(rng);
                g[c][i][j] = sigma * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            }
    for (int64_t y = 0; y < a->n[1]; y++)
        for (int64_t x = 0; x < a->n[2]; x++) {
            double fy = (double)y / (double)step, fx = (double)x / (double)step;
            int64_t i = (int64_t)fy, j = (int64_t)fx;
            if (i > gh - 2) i = gh - 2;
            if (j > gw - 2) j = gw - 2;
            double wy = fy - (double)i, wx = fx - (double)j;
            for (int c = 0; c < 2; c++) {
                double v = (1 - wy) * ((1 - wx) * g[c][i][j] + wx * g[c][i][j + 1]) +
                           wy * ((1 - wx) * g[c][i + 1][j] + wx * g[c][i + 1][j + 1]);
                (c ? dx : dy)[y * a->n[2] + x] = (float)v;
            }
        }
    a->edy = dy;
    a->edx = dx;
}

/* targets for the output box: patch coordinates ctx + [0, O) under augmentation a */
static void make_targets(const target_spec *ts, const dataset *ds, const aug *a, const int64_t ctx[3],
                         const int64_t O[3], float *tgt, float *w, bool balance)
{
    int C = ts->affinities ? ts->n_off : 1;
    const int64_t N = vox(O);
    for (int c = 0; c < C; c++) {
        int64_t npos = 0, nneg = 0;
        float *tc = tgt + c * N, *wc = w + c * N;
        for (int64_t i = 0; i < N; i++) {
            int64_t q[3] = {ctx[0] + i / (O[1] * O[2]), ctx[1] + (i / O[2]) % O[1], ctx[2] + i % O[2]}, v[3];
            to_volume(a, q, v);
            uint64_t l = ds->lab[(v[0] * ds->shape[1] + v[1]) * ds->shape[2] + v[2]];
            float t, wt = 1.0f;
            if (!ts->affinities) {
                t = (l != 0) != (ts->invert != ds->invert) ? 1.0f : 0.0f;
            } else {
                /* the neighbour is taken in patch coordinates, so flips turn the labels, not
                 * the offsets, as augmenting the labels before making affinities would */
                int64_t q2[3] = {q[0] + ts->off[c][0], q[1] + ts->off[c][1], q[2] + ts->off[c][2]}, v2[3];
                to_volume(a, q2, v2);
                bool inside = true;
                for (int d = 0; d < 3; d++) inside &= v2[d] >= 0 && v2[d] < ds->shape[d];
                if (!inside) {
                    t = 0.0f, wt = 0.0f;
                } else {
                    uint64_t l2 = ds->lab[(v2[0] * ds->shape[1] + v2[1]) * ds->shape[2] + v2[2]];
                    t = l != 0 && l == l2 ? 1.0f : 0.0f;
                }
            }
            tc[i] = t;
            wc[i] = wt;
            if (wt > 0) *(t > 0.5f ? &npos : &nneg) += 1;
        }
        if (!balance || !npos || !nneg) continue;
        float wp = (float)(npos + nneg) / (2.0f * (float)npos), wn = (float)(npos + nneg) / (2.0f * (float)nneg);
        for (int64_t i = 0; i < N; i++)
            if (wc[i] > 0) wc[i] = tc[i] > 0.5f ? wp : wn;
    }
}

/* ---- random numbers ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }
static int64_t rng_int(uint64_t *s, int64_t n) { return n <= 1 ? 0 : (int64_t)(rng_next(s) % (uint64_t)n); }

/* ---- axon train ----------------------------------------------------------------------------- */

typedef struct {
    double loss, acc, f1; /* unweighted BCE, accuracy at 0.5, F1 of the boundary class */
    int64_t n;
    /* when the first three channels are the nearest-neighbour affinities: the pipeline's own
     * score, watershed + mean agglomeration at the best of a few thresholds against the
     * labels (NaN otherwise) */
    double voi_split, voi_merge, arand, threshold;
} val_score;

/* watershed + agglomeration of predicted affinities against the slab's labels */
static int segment_score(const float *aff, const int64_t shape[3], const uint64_t *gt, val_score *vs)
{
    static const double TH[] = {0.1, 0.3, 0.5, 0.7, 0.9};
    enum { NT = sizeof TH / sizeof TH[0] };
    int64_t n = vox(shape);
    uint64_t *frag = malloc((size_t)n * sizeof *frag), *segs[NT] = {NULL}, nseg;
    int rc = frag ? AX_OK : AX_E_NOMEM;
    for (int i = 0; i < NT && !rc; i++)
        if (!(segs[i] = malloc((size_t)n * sizeof(uint64_t)))) rc = AX_E_NOMEM;
    ax_watershed_params wp = ax_watershed_params_default();
    if (!rc) rc = ax_watershed(aff, shape, &wp, frag, &nseg);
    ax_agglomerate_params ap = ax_agglomerate_params_default();
    ap.merge_function = AX_MERGE_MEAN;
    ap.thresholds = TH;
    ap.n_thresholds = NT;
    if (!rc) rc = ax_agglomerate(aff, frag, shape, &ap, segs);
    ax_eval_params ep = ax_eval_params_default();
    ep.worst = 0;
    vs->voi_split = vs->voi_merge = vs->arand = vs->threshold = NAN;
    for (int i = 0; i < NT && !rc; i++) {
        ax_eval_result r;
        memset(&r, 0, sizeof r);
        if ((rc = ax_eval_arrays(segs[i], gt, (size_t)n, &ep, &r))) break;
        if (isnan(vs->voi_split) || r.voi_split + r.voi_merge < vs->voi_split + vs->voi_merge) {
            vs->voi_split = r.voi_split, vs->voi_merge = r.voi_merge, vs->arand = r.arand;
            vs->threshold = TH[i];
        }
        ax_eval_result_clear(&r);
    }
    free(frag);
    for (int i = 0; i < NT; i++) free(segs[i]);
    return rc;
}

/* Predict the validation slab and score it against its targets (no augmentation). For
 * affinities the boundary class is "not connected" (target 0); for a mask it is the mask. */
static int validate(ax_net *net, const tiling *t, const dataset *ds, const target_spec *ts,
                    const int64_t vz[2], val_score *vs)
{
    int C = ax_net_out_channels(net);
    int64_t os[3] = {vz[0], 0, 0}, on[3] = {vz[1] - vz[0], ds->shape[1], ds->shape[2]}, N = vox(on);
    float *p = malloc((size_t)N * (size_t)C * sizeof(float)), *tg = malloc((size_t)N * (size_t)C * sizeof(float)),
          *w = malloc((size_t)N * (size_t)C * sizeof(float));
    int rc = p && tg && w ? predict_memory(net, t, ds, os, on, p) : AX_E_NOMEM;
    if (!rc) {
        aug a = {{os[0], os[1], os[2]}, {on[0], on[1], on[2]}, {false, false, false}, false, NULL, NULL,
                 {ds->shape[0], ds->shape[1], ds->shape[2]}};
        int64_t zero[3] = {0, 0, 0};
        make_targets(ts, ds, &a, zero, on, tg, w, false);
        double l = 0, ok = 0, tp = 0, fp = 0, fn = 0, n = 0;
        for (int64_t i = 0; i < N * C; i++) {
            if (w[i] == 0) continue;
            double q = fmin(fmax(p[i], 1e-7), 1 - 1e-7);
            l -= tg[i] > 0.5f ? log(q) : log(1 - q);
            bool pb = ts->affinities ? p[i] < 0.5f : p[i] >= 0.5f, tb = ts->affinities ? tg[i] < 0.5f : tg[i] > 0.5f;
            ok += pb == tb;
            tp += pb && tb, fp += pb && !tb, fn += !pb && tb;
            n++;
        }
        vs->loss = l / fmax(n, 1), vs->acc = ok / fmax(n, 1), vs->f1 = 2 * tp / fmax(2 * tp + fp + fn, 1);
        vs->n = (int64_t)n;
        static const int64_t NEAR[3][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}};
        vs->voi_split = vs->voi_merge = vs->arand = vs->threshold = NAN;
        /* the first three channels drive the segmentation; longer-range ones are extra
         * (auxiliary) targets */
        if (ts->affinities && ts->n_off >= 3 && !memcmp(ts->off, NEAR, sizeof NEAR))
            rc = segment_score(p, on, ds->lab + vz[0] * ds->shape[1] * ds->shape[2], vs);
    }
    free(p);
    free(tg);
    free(w);
    return rc;
}

static bool parse_range(const char *s, int64_t r[2])
{
    char *colon = strchr(s, ':');
    if (!colon) return false;
    char a[32];
    size_t la = (size_t)(colon - s);
    if (la == 0 || la >= sizeof a) return false;
    memcpy(a, s, la);
    a[la] = 0;
    return parse_i64(a, &r[0]) && parse_i64(colon + 1, &r[1]) && r[0] >= 0 && r[1] > r[0];
}

static int parse_offsets3(const char *s, int64_t (*off)[3], int max)
{
    int n = 0;
    char buf[1024];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    for (char *tok = strtok(buf, ";"); tok; tok = strtok(NULL, ";")) {
        if (n == max || parse_list(tok, off[n], 3) != 3) return -1;
        n++;
    }
    return n;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, len = 0, r;
    do {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = 2 * cap + 8192);
            if (!nb) break;
            buf = nb;
        }
        r = fread(buf + len, 1, 4096, f);
        len += r;
    } while (r > 0 && len < (1u << 20));
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

static const char TRAIN_USAGE[] =
    "usage: axon train --config unet.json --raw VOL --labels VOL [--raw VOL --labels VOL ...]\n"
    "                  --out model.safetensors [options]\n"
    "  --target affinities|mask  affinities from label ids (default), or a mask (label != 0)\n"
    "  --invert                  mask target: learn label == 0 instead\n"
    "  --labels-invert VOL       as --labels, inverting the mask for this volume only\n"
    "  --offsets 'z,y,x;...'     affinity offsets (default -1,0,0;0,-1,0;0,0,-1)\n"
    "  --iterations N            total iterations (default 1000)\n"
    "  --lr F                    Adam learning rate (default 1e-4)\n"
    "  --patch z,y,x             output patch per iteration (default 8,32,32)\n"
    "  --val-z A:B               hold out slices [A, B) of the first volume and score them\n"
    "  --val-every N             validate every N iterations (default 500) and at the end\n"
    "  --checkpoint-every N      write OUT.ckpt every N iterations (default 100)\n"
    "  --resume                  continue from OUT.ckpt\n"
    "  --no-augment              no flips / transposes / intensity jitter\n"
    "  --jitter F                intensity scale and shift jitter (default 0.1)\n"
    "  --elastic S               smooth in-plane elastic deformation, S voxels standard\n"
    "                            deviation on a 16-voxel control grid (default 0: off)\n"
    "  --seed N                  (default 1)\n";

int cmd_train(int argc, char **argv)
{
    const char *config_path = NULL, *out_path = NULL, *offsets_s = NULL, *target_s = "affinities";
    const char *raws[8], *labs[8];
    bool lab_inv[8] = {false};
    int n_raw = 0, n_lab = 0;
    int64_t iters = 1000, patch[3] = {8, 32, 32}, val_every = 500, ckpt_every = 100, seed = 1;
    int64_t vz[2] = {0, 0};
    double lr = 1e-4, jitter = 0.1, elastic = 0;
    bool resume = false, augment = true, invert = false, have_val = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(TRAIN_USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--resume")) { resume = true; continue; }
        if (!strcmp(a, "--no-augment")) { augment = false; continue; }
        if (!strcmp(a, "--invert")) { invert = true; continue; }
        if (!v) return usage_error("train: %s needs a value", a);
        i++;
        if (!strcmp(a, "--config")) config_path = v;
        else if (!strcmp(a, "--out")) out_path = v;
        else if (!strcmp(a, "--raw")) { if (n_raw == 8) return usage_error("train: at most 8 %s", a); raws[n_raw++] = v; }
        else if (!strcmp(a, "--labels") || !strcmp(a, "--labels-invert")) {
            if (n_lab == 8) return usage_error("train: at most 8 %s", a);
            lab_inv[n_lab] = !strcmp(a, "--labels-invert");
            labs[n_lab++] = v;
        }
        else if (!strcmp(a, "--target")) target_s = v;
        else if (!strcmp(a, "--offsets")) offsets_s = v;
        else if (!strcmp(a, "--iterations")) { if (!parse_i64(v, &iters) || iters < 1) return usage_error("train: bad --iterations '%s'", v); }
        else if (!strcmp(a, "--lr")) { if (!parse_f64(v, &lr) || lr <= 0) return usage_error("train: bad --lr '%s'", v); }
        else if (!strcmp(a, "--elastic")) { if (!parse_f64(v, &elastic) || elastic < 0 || elastic > 50) return usage_error("train: bad --elastic '%s' (voxels, 0..50)", v); }
        else if (!strcmp(a, "--jitter")) { if (!parse_f64(v, &jitter) || jitter < 0 || jitter >= 1) return usage_error("train: bad --jitter '%s'", v); }
        else if (!strcmp(a, "--patch")) { if (parse_list(v, patch, 3) != 3 || patch[0] < 1 || patch[1] < 1 || patch[2] < 1) return usage_error("train: bad --patch '%s' (z,y,x)", v); }
        else if (!strcmp(a, "--val-z")) { if (!parse_range(v, vz)) return usage_error("train: bad --val-z '%s' (A:B)", v); have_val = true; }
        else if (!strcmp(a, "--val-every")) { if (!parse_i64(v, &val_every) || val_every < 1) return usage_error("train: bad --val-every '%s'", v); }
        else if (!strcmp(a, "--checkpoint-every")) { if (!parse_i64(v, &ckpt_every) || ckpt_every < 1) return usage_error("train: bad --checkpoint-every '%s'", v); }
        else if (!strcmp(a, "--seed")) { if (!parse_i64(v, &seed)) return usage_error("train: bad --seed '%s'", v); }
        else return usage_error("train: unknown option '%s'", a);
    }
    if (!out_path || !n_raw || (!config_path && !resume))
        return usage_error("%s", "train: needs --config, --raw, --labels and --out (axon train --help)");
    if (n_raw != n_lab) return usage_error("%s", "train: give one --labels per --raw");
    target_spec ts = {.affinities = !strcmp(target_s, "affinities"), .invert = invert};
    if (!ts.affinities && strcmp(target_s, "mask")) return usage_error("train: --target '%s' (affinities or mask)", target_s);

    char *ckpt_path = malloc(strlen(out_path) + 6);
    sprintf(ckpt_path, "%s.ckpt", out_path);
    ax_net *net = NULL;
    int rc;
    int64_t it0 = 0;
    uint64_t rng = (uint64_t)seed * 0x2545F4914F6CDD1DULL + 7;
    if (resume) {
        if ((rc = ax_net_load(ckpt_path, &net))) {
            free(ckpt_path);
            return fail(rc);
        }
        const char *s_it = ax_net_meta(net, "axon.train.iteration"), *s_rng = ax_net_meta(net, "axon.train.rng");
        if (s_it) it0 = strtoll(s_it, NULL, 10);
        if (s_rng) rng = strtoull(s_rng, NULL, 10);
        if (!g_quiet) fprintf(stderr, "axon train: resuming %s at iteration %lld\n", ckpt_path, (long long)it0);
    } else {
        char *txt = read_text(config_path);
        if (!txt) {
            fprintf(stderr, "axon: error: %s: cannot read the network description\n", config_path);
            free(ckpt_path);
            return 1;
        }
        rc = ax_net_create(txt, (uint64_t)seed, &net);
        free(txt);
        if (rc) {
            fprintf(stderr, "axon: error: %s: %s\n", config_path, ax_errmsg());
            free(ckpt_path);
            return 1;
        }
    }
    /* offsets: --offsets, else the config's, else the nearest neighbours */
    ts.n_off = 3;
    int64_t nearest[3][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}};
    memcpy(ts.off, nearest, sizeof nearest);
    if (offsets_s && (ts.n_off = parse_offsets3(offsets_s, ts.off, MAX_OFF)) < 1) {
        ax_net_free(net);
        free(ckpt_path);
        return usage_error("train: bad --offsets '%s' ('z,y,x;z,y,x;...')", offsets_s);
    }
    int C = ax_net_out_channels(net);
    if ((ts.affinities && C != ts.n_off) || (!ts.affinities && C != 1)) {
        fprintf(stderr, "axon: error: the network has %d output channels but the %s target has %d\n", C,
                target_s, ts.affinities ? ts.n_off : 1);
        ax_net_free(net);
        free(ckpt_path);
        return 1;
    }
    if (ax_net_in_channels(net) != 1) {
        fprintf(stderr, "axon: error: the network takes %d input channels; train feeds one raw volume\n",
                ax_net_in_channels(net));
        ax_net_free(net);
        free(ckpt_path);
        return 1;
    }

    dataset ds[8] = {{0}};
    int ret = 1;
    float *in = NULL, *tgt = NULL, *w = NULL, *edy = NULL, *edx = NULL;
    for (int k = 0; k < n_raw; k++) {
        ds[k].raw_path = raws[k], ds[k].lab_path = labs[k], ds[k].invert = lab_inv[k];
        if (load_dataset(&ds[k])) goto done;
    }
    tiling t;
    int64_t no_overlap[3] = {0, 0, 0};
    if (make_tiling(net, patch, no_overlap, NULL, &t)) goto done;
    /* training z range of each volume; the validation slab comes out of the first */
    int64_t tz[8][2];
    for (int k = 0; k < n_raw; k++) tz[k][0] = 0, tz[k][1] = ds[k].shape[0];
    if (have_val) {
        if (vz[1] > ds[0].shape[0]) {
            fprintf(stderr, "axon: error: --val-z %lld:%lld is outside %s (%lld slices)\n", (long long)vz[0],
                    (long long)vz[1], raws[0], (long long)ds[0].shape[0]);
            goto done;
        }
        if (vz[0] >= ds[0].shape[0] - vz[1]) tz[0][1] = vz[0];
        else tz[0][0] = vz[1];
    }
    int64_t weight_sum = 0, wsum[8];
    for (int k = 0; k < n_raw; k++) {
        for (int d = 0; d < 3; d++) {
            int64_t have = d ? ds[k].shape[d] : tz[k][1] - tz[k][0];
            if (have < t.in[d]) {
                fprintf(stderr, "axon: error: %s: the training region is %lld voxels along axis %d but a "
                        "training patch needs %lld (patch %lld plus context); use a smaller --patch\n",
                        raws[k], (long long)have, d, (long long)t.in[d], (long long)t.out[d]);
                goto done;
            }
        }
        wsum[k] = (tz[k][1] - tz[k][0]) * ds[k].shape[1] * ds[k].shape[2];
        weight_sum += wsum[k];
    }
    in = malloc((size_t)vox(t.in) * sizeof(float));
    edy = malloc((size_t)(t.in[1] * t.in[2]) * sizeof(float));
    edx = malloc((size_t)(t.in[1] * t.in[2]) * sizeof(float));
    tgt = malloc((size_t)vox(t.out) * (size_t)C * sizeof(float));
    w = malloc((size_t)vox(t.out) * (size_t)C * sizeof(float));
    if (!in || !tgt || !w || !edy || !edx) {
        fprintf(stderr, "axon: error: out of memory\n");
        goto done;
    }
    bool can_swap = t.in[1] == t.in[2] && t.out[1] == t.out[2];
    bool can_flip[3];
    for (int d = 0; d < 3; d++) can_flip[d] = (t.in[d] - t.out[d]) % 2 == 0;

    if (!g_quiet)
        fprintf(stderr, "axon train: %s, %d volume(s), patch in %lldx%lldx%lld -> out %lldx%lldx%lld, "
                "%.1f GFLOP/iteration, %.0f MiB of activations, %d threads\n",
                ts.affinities ? "affinities" : "mask", n_raw, (long long)t.in[0], (long long)t.in[1],
                (long long)t.in[2], (long long)t.out[0], (long long)t.out[1], (long long)t.out[2],
                3 * ax_net_forward_flops(net, t.in) / 1e9, mib(ax_net_memory_bytes(net, t.in, 1)),
                ax_threads_get());
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    ax_optim_params op = ax_optim_params_default();
    op.lr = lr;
    double ema = NAN, t0 = ax_time_now(), tlast = t0;
    int64_t last_print = it0;
    val_score vs = {NAN, NAN, NAN, 0, NAN, NAN, NAN, NAN};
    bool tty = isatty(2);
    for (int64_t it = it0; it < iters; it++) {
        if (g_interrupted) {
            fprintf(stderr, "\naxon train: interrupted at iteration %lld; the last checkpoint is %s\n",
                    (long long)it, ckpt_path);
            ret = 130;
            goto done;
        }
        /* a patch: volume by size, position, augmentation */
        int k = 0;
        int64_t r = rng_int(&rng, weight_sum);
        while (r >= wsum[k]) r -= wsum[k++];
        aug a = {{0}, {t.in[0], t.in[1], t.in[2]}, {false, false, false}, false, NULL, NULL,
                 {ds[k].shape[0], ds[k].shape[1], ds[k].shape[2]}};
        a.s[0] = tz[k][0] + rng_int(&rng, tz[k][1] - tz[k][0] - t.in[0] + 1);
        for (int d = 1; d < 3; d++) a.s[d] = rng_int(&rng, ds[k].shape[d] - t.in[d] + 1);
        double js = 1.0, jb = 0.0;
        if (augment) {
            for (int d = 0; d < 3; d++) a.flip[d] = can_flip[d] && (rng_next(&rng) & 1);
            a.swap = can_swap && (rng_next(&rng) & 1);
            js = 1.0 + jitter * (2 * rng_unit(&rng) - 1);
            jb = jitter * (2 * rng_unit(&rng) - 1);
            if (elastic > 0) make_elastic(&a, elastic, 16, &rng, edy, edx);
        }
        for (int64_t i = 0; i < vox(t.in); i++) {
            int64_t q[3] = {i / (t.in[1] * t.in[2]), (i / t.in[2]) % t.in[1], i % t.in[2]};
            in[i] = (float)(raw_at(&ds[k], &a, q) * js + jb);
        }
        make_targets(&ts, &ds[k], &a, t.ctx, t.out, tgt, w, true);
        double loss;
        ax_net_zero_grad(net);
        if ((rc = ax_net_forward(net, in, t.in, NULL, 1)) || (rc = ax_net_backward(net, AX_LOSS_BCE, tgt, w, &loss)) ||
            (rc = ax_net_adam_step(net, &op))) {
            if (rc == AX_E_INTERRUPTED) continue; /* reported at the top of the loop */
            fail(rc);
            goto done;
        }
        ema = isnan(ema) ? loss : 0.98 * ema + 0.02 * loss;
        double now = ax_time_now();
        bool last = it + 1 == iters;
        if (!g_quiet && (last || (tty && now - tlast > 0.5) || (!tty && (it + 1) % 50 == 0))) {
            double rate = (double)(it + 1 - last_print) / fmax(now - tlast, 1e-9);
            fprintf(stderr, "%saxon train: it %lld/%lld  loss %.4f  %.2f it/s  eta %.0f s%s", tty ? "\r" : "",
                    (long long)(it + 1), (long long)iters, ema, rate, (double)(iters - it - 1) / fmax(rate, 1e-9),
                    tty && !last ? "   " : "\n");
            tlast = now;
            last_print = it + 1;
        }
        if (have_val && ((it + 1) % val_every == 0 || last)) {
            if ((rc = validate(net, &t, &ds[0], &ts, vz, &vs))) {
                fail(rc);
                goto done;
            }
            if (!g_quiet) {
                fprintf(stderr, "%saxon train: validation z%lld-%lld at it %lld: BCE %.4f  accuracy %.4f  boundary F1 %.4f",
                        tty ? "\n" : "", (long long)vz[0], (long long)vz[1], (long long)(it + 1), vs.loss, vs.acc, vs.f1);
                if (!isnan(vs.voi_split))
                    fprintf(stderr, "  VOI %.3f (split %.3f, merge %.3f) ARAND %.4f at threshold %.1f",
                            vs.voi_split + vs.voi_merge, vs.voi_split, vs.voi_merge, vs.arand, vs.threshold);
                fputc('\n', stderr);
            }
        }
        if ((it + 1) % ckpt_every == 0 || last) {
            char s_it[32], s_rng[32];
            snprintf(s_it, sizeof s_it, "%lld", (long long)(it + 1));
            snprintf(s_rng, sizeof s_rng, "%llu", (unsigned long long)rng);
            const char *mk[] = {"axon.train.iteration", "axon.train.rng"}, *mv[] = {s_it, s_rng};
            if ((rc = ax_net_save_checkpoint(net, ckpt_path, mk, mv, 2))) {
                fail(rc);
                goto done;
            }
        }
    }
    {
        /* the model, with how it was made */
        char cmdline[2048] = "axon train", s_it[32], s_val[512], s_sec[32], s_off[1024] = "";
        for (int i = 0; i < argc; i++)
            snprintf(cmdline + strlen(cmdline), sizeof cmdline - strlen(cmdline), " %s", argv[i]);
        snprintf(s_it, sizeof s_it, "%lld", (long long)iters);
        snprintf(s_sec, sizeof s_sec, "%.1f", ax_time_now() - t0);
        if (have_val && !isnan(vs.voi_split))
            snprintf(s_val, sizeof s_val,
                     "{\"slab_z\":[%lld,%lld],\"bce\":%.5f,\"accuracy\":%.5f,\"boundary_f1\":%.5f,"
                     "\"voi_split\":%.4f,\"voi_merge\":%.4f,\"arand\":%.5f,\"agglomeration_threshold\":%.1f,"
                     "\"segmentation\":\"axon watershed (defaults) + agglomerate --merge-function mean\"}",
                     (long long)vz[0], (long long)vz[1], vs.loss, vs.acc, vs.f1, vs.voi_split, vs.voi_merge, vs.arand,
                     vs.threshold);
        else if (have_val)
            snprintf(s_val, sizeof s_val, "{\"slab_z\":[%lld,%lld],\"bce\":%.5f,\"accuracy\":%.5f,\"boundary_f1\":%.5f}",
                     (long long)vz[0], (long long)vz[1], vs.loss, vs.acc, vs.f1);
        else
            snprintf(s_val, sizeof s_val, "null");
        for (int c = 0; ts.affinities && c < ts.n_off; c++)
            snprintf(s_off + strlen(s_off), sizeof s_off - strlen(s_off), "%s%lld,%lld,%lld", c ? ";" : "",
                     (long long)ts.off[c][0], (long long)ts.off[c][1], (long long)ts.off[c][2]);
        const char *mk[] = {"axon.train.command", "axon.train.iterations", "axon.train.validation",
                            "axon.train.seconds", "axon.target", "axon.offsets"};
        const char *mv[] = {cmdline, s_it, s_val, s_sec, ts.affinities ? "affinities" : (invert ? "mask-inverted" : "mask"), s_off};
        if ((rc = ax_net_save(net, out_path, mk, mv, 6))) {
            fail(rc);
            goto done;
        }
        if (!g_quiet)
            fprintf(stderr, "axon train: wrote %s (%lld iterations, %.0f s, peak memory %.0f MiB)\n", out_path,
                    (long long)iters, ax_time_now() - t0, mib(ax_peak_rss_bytes()));
        ret = 0;
    }
done:
    for (int k = 0; k < n_raw; k++) {
        free(ds[k].raw);
        free(ds[k].lab);
    }
    free(in);
    free(tgt);
    free(w);
    free(edy);
    free(edx);
    free(ckpt_path);
    ax_net_free(net);
    return ret;
}

/* ---- axon predict ---------------------------------------------------------------------------- */

static const char PREDICT_USAGE[] =
    "usage: axon predict --model M.safetensors RAW OUT [options]\n"
    "  --block z,y,x     output tile per forward pass (default 32,128,128, clipped to the volume;\n"
    "                    y and x rounded down to a multiple of twice the pooling factors)\n"
    "  --overlap z,y,x   output voxels dropped at each tile face (default 0 for valid-padded\n"
    "                    networks, which tile seamlessly; use it for 'same'-padded ones)\n"
    "  --chunks z,y,x    output chunks (default: the tile)\n"
    "  --overwrite       replace OUT if it exists\n"
    "  --tta             test-time augmentation: average the 8 flips of every tile (8x the\n"
    "                    work; affinity channels are re-aligned to their offsets)\n"
    "  --resume          keep finished tiles in DIR/.partial-NAME (zarr or n5 OUT) and, when\n"
    "                    run again after a kill with the same arguments, compute only the rest\n"
    "OUT is a 4-d float32 (C, z, y, x) volume (zarr, n5, h5, ...), built under a temporary name.\n";

/* ---- resumable prediction: a work volume beside OUT and a log of finished tiles ------------ */

/* dir/.partial-NAME for dir/NAME: the same extension, so the format is the same */
static char *partial_path(const char *out_path)
{
    const char *base = strrchr(out_path, '/');
    base = base ? base + 1 : out_path;
    size_t n = strlen(out_path) + 16;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%.*s.partial-%s", (int)(base - out_path), out_path, base);
    return p;
}

static bool resumable_format(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    if (strchr(path, ':')) return false;
    return (n > 5 && !strncmp(path + n - 5, ".zarr", 5)) || (n > 3 && !strncmp(path + n - 3, ".n5", 3));
}

/* The tiles a killed run finished: log line 1 is the key, then one tile index per line;
 * a line cut off by the kill has no newline and is not counted. Returns the count. */
static int64_t read_tile_log(const char *log, const char *key, uint8_t *done, int64_t total)
{
    FILE *f = fopen(log, "r");
    if (!f) return -1;
    char line[2048];
    int64_t n = -1;
    if (fgets(line, sizeof line, f) && strlen(line) == strlen(key) + 1 && !strncmp(line, key, strlen(key))) {
        n = 0;
        while (fgets(line, sizeof line, f)) {
            char *end;
            long long b = strtoll(line, &end, 10);
            if (*end != '\n' || end == line || b < 0 || b >= total) continue;
            if (!done[b]) n++;
            done[b] = 1;
        }
    }
    fclose(f);
    return n;
}

/* Open the work volume for a resumable run: the killed run's one when its log has the same
 * key and its array the same layout, else a new empty one. *done gets the finished tiles. */
static int open_work(const char *work, const char *log, const char *key, const ax_volume_create_params *p,
                     uint8_t *done, int64_t total, int64_t *ndone, FILE **lf, ax_volume **out)
{
    *ndone = read_tile_log(log, key, done, total);
    if (*ndone >= 0 && ax_volume_open(work, AX_OPEN_RW, out) == AX_OK) {
        const ax_volume_info *wi = ax_volume_get_info(*out);
        bool same = wi->ndim == p->ndim && wi->dtype == p->dtype;
        for (int d = 0; same && d < p->ndim; d++) same = wi->shape[d] == p->shape[d] && wi->chunks[d] == p->chunks[d];
        if (same) {
            *lf = fopen(log, "a");
            if (*lf) return 0;
        }
        ax_volume_close(*out);
    }
    memset(done, 0, (size_t)total);
    *ndone = 0;
    ax_volume_remove(log);
    ax_volume_remove(work);
    ax_volume_create_params q = *p;
    q.overwrite = true;
    int rc = ax_volume_create(work, &q, out);
    if (!rc) rc = ax_volume_close(*out); /* committed empty: chunks not yet written read as fill */
    if (!rc) rc = ax_volume_open(work, AX_OPEN_RW, out);
    if (rc) return fail(rc);
    if (!(*lf = fopen(log, "w")) || fprintf(*lf, "%s\n", key) < 0 || fflush(*lf)) {
        fprintf(stderr, "axon: error: %s: cannot write (%s)\n", log, strerror(errno));
        if (*lf) fclose(*lf);
        *lf = NULL;
        ax_volume_close(*out);
        return 1;
    }
    return 0;
}

/* the finished work volume becomes out_path (replacing an old one only with overwrite) */
static int commit_work(const char *work, const char *log, const char *out_path, bool overwrite)
{
    struct stat sb;
    if (stat(out_path, &sb) == 0) {
        if (!overwrite) {
            fprintf(stderr, "axon: error: %s: already exists (ask to overwrite); the prediction is in %s\n", out_path, work);
            return 1;
        }
        char *trash = partial_path(out_path);
        size_t n = strlen(trash) + 8;
        char *t2 = malloc(n);
        snprintf(t2, n, "%s.old", trash);
        int bad = rename(out_path, t2) != 0;
        if (!bad) ax_volume_remove(t2);
        free(trash);
        free(t2);
        if (bad) {
            fprintf(stderr, "axon: error: %s: cannot move the old volume aside (%s)\n", out_path, strerror(errno));
            return 1;
        }
    }
    if (rename(work, out_path)) {
        fprintf(stderr, "axon: error: %s: cannot rename %s into place (%s)\n", out_path, work, strerror(errno));
        return 1;
    }
    unlink(log);
    return 0;
}

/* ---- test-time augmentation: the 8 flips of a tile, averaged --------------------------- */

/* Channel c of an affinity model links p to p + off_c. The network run on input flipped
 * along the axes in F predicts, at p, the edge to p + off'_c (off_c with the F components
 * negated): the same edge as ours at p + off_c when every non-zero component of off_c is
 * flipped, and at p itself when none is. Other flips cannot give this channel (-1).
 * Returns the shift s_c (our value at p = theirs at p + s_c). */
static int tta_shift(const int64_t off[3], int flips, int64_t s[3])
{
    bool any = false, all = true;
    for (int d = 0; d < 3; d++) {
        if (!off[d]) continue;
        if (flips >> d & 1) any = true;
        else all = false;
    }
    for (int d = 0; d < 3; d++) s[d] = any ? off[d] : 0;
    return any && !all ? -1 : 0;
}

/* the channels' offsets from the model's training record: affinities get theirs, a mask
 * model none (every flip fits); unknown channels only take the unflipped pass */
static void tta_offsets(const ax_net *net, int C, int64_t (*off)[3], bool *known)
{
    const char *target = ax_net_meta(net, "axon.target"), *offs = ax_net_meta(net, "axon.offsets");
    bool aff = !target || !strcmp(target, "affinities");
    if (ax_net_out_channels(net) == 1 && !offs) aff = false;
    int n = 0;
    if (aff && offs) {
        int64_t all[MAX_OFF][3];
        n = parse_offsets3(offs, all, MAX_OFF);
        if (n > C) n = C;
        if (n > 0) memcpy(off, all, (size_t)n * sizeof *off);
    }
    else if (aff) {
        const int64_t nearest[3][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}};
        n = C < 3 ? C : 3;
        memcpy(off, nearest, (size_t)n * sizeof *off);
    }
    for (int c = 0; c < C; c++) {
        known[c] = !aff || c < n;
        if (!aff) off[c][0] = off[c][1] = off[c][2] = 0;
    }
}

/* in (flipped along `flips`) -> out */
static void flip_box(const float *in, const int64_t n[3], int flips, float *out)
{
    for (int64_t z = 0; z < n[0]; z++) {
        int64_t zz = flips & 1 ? n[0] - 1 - z : z;
        for (int64_t y = 0; y < n[1]; y++) {
            int64_t yy = flips & 2 ? n[1] - 1 - y : y;
            const float *src = in + (zz * n[1] + yy) * n[2];
            float *dst = out + (z * n[1] + y) * n[2];
            if (flips & 4)
                for (int64_t x = 0; x < n[2]; x++) dst[x] = src[n[2] - 1 - x];
            else memcpy(dst, src, (size_t)n[2] * sizeof *dst);
        }
    }
}

/* Block-wise inference of `net` over raw_path into out_path (see cli.h). */
int predict_volume(ax_net *net, const char *model, const char *raw_path, const char *out_path,
                   const predict_opts *po, predict_stats *st)
{
    double t0 = ax_time_now();
    int64_t block[3] = {po->block[0], po->block[1], po->block[2]}, overlap[3], chunks[3];
    bool overwrite = po->overwrite, tta = po->tta;
    int max_channels = po->max_channels;
    const char *resume_key = po->resume_key;
    memcpy(overlap, po->overlap, sizeof overlap);
    memcpy(chunks, po->chunks, sizeof chunks);
    if (ax_net_in_channels(net) != 1) {
        fprintf(stderr, "axon: error: %s takes %d input channels; predict feeds one raw volume\n", model,
                ax_net_in_channels(net));
        return 1;
    }
    if (resume_key && !resumable_format(out_path)) {
        fprintf(stderr, "axon: error: %s: resuming needs a .zarr or .n5 output\n", out_path);
        return 1;
    }
    if (resume_key && !overwrite && access(out_path, F_OK) == 0) {
        fprintf(stderr, "axon: error: %s: already exists (ask to overwrite)\n", out_path);
        return 1;
    }
    int NC = ax_net_out_channels(net), C = max_channels > 0 && max_channels < NC ? max_channels : NC;
    /* tta: each tile's output grows by the largest shift a kept channel needs */
    int64_t (*toff)[3] = calloc((size_t)C, sizeof *toff);
    bool *tknown = calloc((size_t)C, sizeof *tknown);
    if (!toff || !tknown) {
        free(toff), free(tknown);
        return fail(AX_E_NOMEM);
    }
    if (tta) {
        /* the margin is a whole number of the coarsest grid (twice it in y, x, as the tiles
         * are), so every flip sees the pooling windows and Winograd tiles where the plain
         * pass does: a U-Net with pooling only commutes with shifts by its grid */
        int64_t f[3], need[3] = {0, 0, 0};
        pooling_product(net, f);
        tta_offsets(net, C, toff, tknown);
        for (int c = 0; c < C; c++)
            for (int d = 0; d < 3; d++)
                if (tknown[c] && llabs(toff[c][d]) > need[d]) need[d] = llabs(toff[c][d]);
        for (int d = 0; d < 3; d++) {
            int64_t m = d ? 2 * f[d] : f[d];
            if (need[d] > overlap[d]) overlap[d] = need[d];
            overlap[d] = (overlap[d] + m - 1) / m * m;
        }
    }
    ax_volume *raw;
    int64_t shape[3];
    if (open3(raw_path, &raw, shape)) {
        free(toff), free(tknown);
        return 1;
    }
    const ax_volume_info *ri = ax_volume_get_info(raw);
    for (int d = 0; d < 3; d++)
        if (block[d] > shape[d]) block[d] = shape[d];
    tiling t;
    if (make_tiling(net, block, overlap, shape, &t)) {
        ax_volume_close(raw);
        free(toff), free(tknown);
        return 1;
    }
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_F32;
    p.ndim = 4;
    p.shape[0] = p.chunks[0] = C;
    for (int d = 0; d < 3; d++) {
        p.shape[d + 1] = shape[d];
        int64_t c = chunks[d] ? chunks[d] : t.keep[d];
        p.chunks[d + 1] = c < shape[d] ? c : shape[d];
        p.voxel_size[d] = ri->voxel_size[d];
        p.offset[d] = ri->offset[d];
    }
    p.has_voxel_size = ri->has_voxel_size;
    p.overwrite = overwrite;
    int64_t nb[3], total = 1;
    for (int d = 0; d < 3; d++) {
        nb[d] = (shape[d] + t.keep[d] - 1) / t.keep[d];
        total *= nb[d];
    }
    ax_volume *out;
    int rc;
    char *work = NULL, *log = NULL, *key = NULL;
    uint8_t *done = calloc((size_t)total, 1);
    FILE *lf = NULL;
    int64_t ndone = 0, ncomp = 0;
    bool reported = false;
    if (!done) {
        ax_volume_close(raw);
        free(toff), free(tknown);
        return fail(AX_E_NOMEM);
    }
    if (resume_key) {
        /* the key also pins what decides the tiles, so a changed tiling starts afresh */
        size_t kn = strlen(resume_key) + 256;
        work = partial_path(out_path);
        log = malloc(strlen(work) + 8);
        key = malloc(kn);
        sprintf(log, "%s.tiles", work);
        snprintf(key, kn, "axon predict tiles v1; %s; C=%d tile=%lld,%lld,%lld in=%lld,%lld,%lld", resume_key, C,
                 (long long)t.keep[0], (long long)t.keep[1], (long long)t.keep[2], (long long)t.in[0],
                 (long long)t.in[1], (long long)t.in[2]);
        rc = open_work(work, log, key, &p, done, total, &ndone, &lf, &out);
        if (!rc && ndone && !g_quiet)
            fprintf(stderr, "axon predict: resuming %s: %lld of %lld tiles were done\n", work, (long long)ndone,
                    (long long)total);
        if (rc) {
            ax_volume_close(raw);
            free(work), free(log), free(key), free(done), free(toff), free(tknown);
            return 1;
        }
    } else if ((rc = ax_volume_create(out_path, &p, &out))) {
        ax_volume_close(raw);
        free(done), free(toff), free(tknown);
        return fail(rc);
    }
    /* tiles go straight to storage (a tile is a whole chunk by default; the tile log must
     * only name tiles whose chunks are written) */
    ax_volume_set_cache_bytes(out, 0);
    /* the raw box one tile reads is at most the tile input (mirroring only folds it) */
    float *box = malloc((size_t)vox(t.in) * sizeof(float)), *in = malloc((size_t)vox(t.in) * sizeof(float));
    float *y = malloc((size_t)vox(t.out) * (size_t)NC * sizeof(float)), *o = malloc((size_t)vox(t.keep) * (size_t)C * sizeof(float));
    float *fin = NULL, *yf = NULL;
    double *acc = NULL;
    int *cnt = NULL;
    if (tta) {
        fin = malloc((size_t)vox(t.in) * sizeof *fin);
        yf = malloc((size_t)vox(t.out) * (size_t)NC * sizeof *yf);
        acc = malloc((size_t)vox(t.keep) * (size_t)C * sizeof *acc);
        cnt = malloc((size_t)C * sizeof *cnt);
    }
    if (!box || !in || !y || !o || (tta && (!fin || !yf || !acc || !cnt))) {
        fprintf(stderr, "axon: error: out of memory for the tile buffers\n");
        rc = AX_E_NOMEM;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    ax_progress *prog = ax_progress_new("predict", total);
    ax_progress_add(prog, ndone);
    double tnet = 0;
    for (int64_t b = 0; b < total && !rc; b++) {
        if (g_interrupted) {
            rc = AX_E_INTERRUPTED;
            break;
        }
        if (done[b]) continue;
        int64_t k[3] = {b / (nb[1] * nb[2]), (b / nb[2]) % nb[1], b % nb[2]}, os[3], on[3], is[3], bo[3], bs[3];
        for (int d = 0; d < 3; d++) {
            os[d] = k[d] * t.keep[d];
            on[d] = os[d] + t.keep[d] > shape[d] ? shape[d] - os[d] : t.keep[d];
            is[d] = os[d] - t.keep_lo[d] - t.ctx[d];
        }
        mirror_box(shape, is, t.in, bo, bs);
        if ((rc = read_raw(raw, raw_path, bo, bs, box))) break;
        fill_input(box, bo, bs, shape, is, t.in, in);
        double tn = ax_time_now();
        if (!tta) {
            if ((rc = ax_net_forward(net, in, t.in, y, 0))) break;
            for (int c = 0; c < C; c++)
                for (int64_t z = 0; z < on[0]; z++)
                    for (int64_t yy = 0; yy < on[1]; yy++)
                        memcpy(o + ((c * on[0] + z) * on[1] + yy) * on[2],
                               y + ((c * t.out[0] + t.keep_lo[0] + z) * t.out[1] + t.keep_lo[1] + yy) * t.out[2] + t.keep_lo[2],
                               (size_t)on[2] * sizeof(float));
        } else {
            /* flips in a fixed order, summed in double: deterministic */
            int64_t kn = on[0] * on[1] * on[2], ov = vox(t.out);
            memset(acc, 0, (size_t)(kn * C) * sizeof *acc);
            memset(cnt, 0, (size_t)C * sizeof *cnt);
            for (int f = 0; f < 8 && !rc; f++) {
                flip_box(in, t.in, f, fin);
                if ((rc = ax_net_forward(net, fin, t.in, yf, 0))) break;
                for (int c = 0; c < C; c++) {
                    int64_t sh[3];
                    if ((f && !tknown[c]) || tta_shift(toff[c], f, sh)) continue;
                    flip_box(yf + c * ov, t.out, f, y + c * ov);
                    cnt[c]++;
                    double *a = acc + c * kn;
                    for (int64_t z = 0; z < on[0]; z++)
                        for (int64_t yy = 0; yy < on[1]; yy++) {
                            const float *src = y + c * ov + ((t.keep_lo[0] + z + sh[0]) * t.out[1] + t.keep_lo[1] + yy + sh[1]) *
                                                                t.out[2] + t.keep_lo[2] + sh[2];
                            double *dst = a + (z * on[1] + yy) * on[2];
                            for (int64_t x = 0; x < on[2]; x++) dst[x] += src[x];
                        }
                }
            }
            if (rc) break;
            for (int c = 0; c < C; c++)
                for (int64_t i = 0; i < kn; i++) o[c * kn + i] = (float)(acc[c * kn + i] / cnt[c]);
        }
        tnet += ax_time_now() - tn;
        int64_t ws[4] = {0, os[0], os[1], os[2]}, wz[4] = {C, on[0], on[1], on[2]};
        if ((rc = ax_volume_write_region(out, ws, wz, AX_DTYPE_F32, o))) break;
        if (lf && (fprintf(lf, "%lld\n", (long long)b) < 0 || fflush(lf))) {
            fprintf(stderr, "axon: error: %s: cannot write (%s)\n", log, strerror(errno));
            rc = AX_E_IO;
            reported = true;
            break;
        }
        ndone++;
        ncomp++;
        ax_progress_add(prog, 1);
    }
    ax_progress_done(prog);
    free(box);
    free(in);
    free(y);
    free(o);
    free(fin);
    free(yf);
    free(acc);
    free(cnt);
    free(toff);
    free(tknown);
    free(done);
    ax_volume_close(raw);
    int ret = 0;
    if (lf && fclose(lf) && !rc) {
        fprintf(stderr, "axon: error: %s: cannot write (%s)\n", log, strerror(errno));
        rc = AX_E_IO;
        reported = true;
    }
    if (rc) {
        if (rc == AX_E_INTERRUPTED && work)
            fprintf(stderr, "\naxon: interrupted: %lld of %lld tiles are done in %s; run the same command again to "
                    "continue\n", (long long)ndone, (long long)total, work);
        else if (rc == AX_E_INTERRUPTED) fprintf(stderr, "\naxon: interrupted: %s was not written\n", out_path);
        else if (!reported && (rc != AX_E_INVALID || ax_errmsg()[0])) fail(rc);
        if (work) ax_volume_close(out); /* keep the finished tiles for the next run */
        else ax_volume_abort(out);
        ret = rc == AX_E_INTERRUPTED ? 130 : 1;
    } else if ((rc = ax_volume_close(out))) ret = fail(rc);
    else if (work) ret = commit_work(work, log, out_path, overwrite);
    free(work);
    free(log);
    free(key);
    if (ret) return ret;
    /* rates count this run's work (a resumed run computed only the missing tiles) */
    double sec = ax_time_now() - t0, gf = ax_net_forward_flops(net, t.in) * (double)ncomp * (tta ? 8 : 1) / 1e9;
    int64_t nvox = (int64_t)((double)vox(shape) * (double)ncomp / (double)total);
    if (st) {
        st->seconds = sec;
        st->net_seconds = tnet;
        st->gflops = gf / fmax(tnet, 1e-9);
        st->voxels = nvox;
        st->tiles = ncomp;
    }
    if (!g_quiet)
        fprintf(stderr,
                "axon: wrote %s: %d x %lld x %lld x %lld float32 in %.2f s (%.3g voxels/s; network %.2f s, "
                "%.1f GFLOP/s), %lld tiles of %lldx%lldx%lld from %lldx%lldx%lld inputs, %d threads, "
                "peak memory %.0f MiB\n",
                out_path, C, (long long)shape[0], (long long)shape[1], (long long)shape[2], sec,
                (double)nvox / sec, tnet, gf / fmax(tnet, 1e-9), (long long)ncomp, (long long)t.keep[0],
                (long long)t.keep[1], (long long)t.keep[2], (long long)t.in[0], (long long)t.in[1],
                (long long)t.in[2], ax_threads_get(), mib(ax_peak_rss_bytes()));
    return 0;
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *pos[2] = {NULL, NULL};
    int npos = 0;
    int64_t block[3] = {32, 128, 128}, overlap[3] = {0, 0, 0}, chunks[3] = {0, 0, 0};
    bool overwrite = false, resume = false, tta = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(PREDICT_USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--overwrite")) { overwrite = true; continue; }
        if (!strcmp(a, "--resume")) { resume = true; continue; }
        if (!strcmp(a, "--tta")) { tta = true; continue; }
        if (a[0] == '-' && a[1] == '-') {
            if (!v) return usage_error("predict: %s needs a value", a);
            i++;
            if (!strcmp(a, "--model")) model = v;
            else if (!strcmp(a, "--block")) { if (parse_list(v, block, 3) != 3 || block[0] < 1 || block[1] < 1 || block[2] < 1) return usage_error("predict: bad --block '%s'", v); }
            else if (!strcmp(a, "--overlap")) { if (parse_list(v, overlap, 3) != 3 || overlap[0] < 0 || overlap[1] < 0 || overlap[2] < 0) return usage_error("predict: bad --overlap '%s'", v); }
            else if (!strcmp(a, "--chunks")) { if (parse_list(v, chunks, 3) != 3 || chunks[0] < 1 || chunks[1] < 1 || chunks[2] < 1) return usage_error("predict: bad --chunks '%s'", v); }
            else return usage_error("predict: unknown option '%s'", a);
            continue;
        }
        if (npos == 2) return usage_error("predict: unexpected argument '%s'", a);
        pos[npos++] = a;
    }
    if (!model || npos != 2) return usage_error("%s", "predict: needs --model, RAW and OUT (axon predict --help)");
    ax_net *net;
    int rc = ax_net_load(model, &net);
    if (rc) return fail(rc);
    char key[3072];
    if (resume) {
        char stamp[64];
        file_stamp(model, stamp, sizeof stamp);
        snprintf(key, sizeof key, "raw=%s model=%s (%s) overlap=%lld,%lld,%lld chunks=%lld,%lld,%lld tta=%d", pos[0],
                 model, stamp, (long long)overlap[0], (long long)overlap[1], (long long)overlap[2], (long long)chunks[0],
                 (long long)chunks[1], (long long)chunks[2], (int)tta);
    }
    predict_opts po = {.overwrite = overwrite, .tta = tta, .resume_key = resume ? key : NULL};
    memcpy(po.block, block, sizeof block);
    memcpy(po.overlap, overlap, sizeof overlap);
    memcpy(po.chunks, chunks, sizeof chunks);
    int ret = predict_volume(net, model, pos[0], pos[1], &po, NULL);
    ax_net_free(net);
    return ret;
}

/* ---- axon model-info --------------------------------------------------------------------------- */

int cmd_model_info(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        fputs("usage: axon model-info M.safetensors\n", argc == 1 ? stdout : stderr);
        return argc == 1 ? 0 : 2;
    }
    ax_net *net;
    int rc = ax_net_load(argv[0], &net);
    if (rc) return fail(rc);
    int64_t np = 0;
    for (int i = 0; i < ax_net_param_count(net); i++) {
        int64_t n;
        ax_net_param_data(net, i, &n);
        np += n;
    }
    printf("{\"path\": ");
    json_str(argv[0]);
    printf(", \"parameters\": %lld, \"in_channels\": %d, \"out_channels\": %d, \"steps\": %lld,\n \"config\": %s",
           (long long)np, ax_net_in_channels(net), ax_net_out_channels(net), (long long)ax_net_steps(net),
           ax_net_config(net));
    const char *keys[] = {"axon.target", "axon.offsets", "axon.train.command", "axon.train.iterations",
                          "axon.train.seconds"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = ax_net_meta(net, keys[i]);
        if (!v) continue;
        printf(",\n \"%s\": ", keys[i]);
        json_str(v);
    }
    const char *val = ax_net_meta(net, "axon.train.validation");
    if (val) printf(",\n \"axon.train.validation\": %s", val);
    printf("}\n");
    ax_net_free(net);
    return 0;
}
