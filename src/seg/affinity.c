/* affinity.c: affinity maps from boundary probabilities and from ground-truth labels.
 *
 * CONVENTION (waterz / zwatershed / affogato, see include/axon/seg.h): an affinity map is
 * float32 aff[c][z][y][x], one channel per offset o_c = (oz, oy, ox); channel c at voxel
 * p = (z, y, x) is the affinity of the edge between p and q = p + o_c. The nearest-
 * neighbour channels are o_0 = (-1,0,0), o_1 = (0,-1,0), o_2 = (0,0,-1), so aff[0][z][y][x]
 * links (z,y,x) with (z-1,y,x), and every voxel owns the edges to its lower neighbours.
 * An edge whose q lies outside the volume does not exist; its stored value is 0 (so the
 * first plane of channel 0, the first row of channel 1 and the first column of channel 2
 * are 0).
 *
 * ALGORITHM: one pass per output channel plane, channel-major, on the thread pool (task =
 * (channel, z)); each output value depends only on the input, so the result is the same
 * for any thread count and for any tiling of the volume (a block plus a halo that holds
 * every q reproduces the whole-volume values exactly: tools/cmd_mws.c relies on it).
 *
 * MEMORY: none beyond the caller's arrays. PERFORMANCE: memory-bound, one read of the
 * input per channel and one write of the output.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

static int check_shape(const int64_t shape[3], int64_t *n)
{
    if (!shape) return ax__err(AX_E_INVALID, "affinities: shape is NULL");
    int64_t v = 1;
    for (int d = 0; d < 3; d++) {
        if (shape[d] < 0 || !ax__mul_ok(v, shape[d], &v))
            return ax__err(AX_E_RANGE, "affinities: bad shape %lld x %lld x %lld",
                           (long long)shape[0], (long long)shape[1], (long long)shape[2]);
    }
    *n = v;
    return AX_OK;
}

/* ---- from boundary -------------------------------------------------------------------- */

typedef struct bnd_ctx {
    const float *b;
    float *aff;
    int64_t nz, ny, nx, n;
    ax_aff_mode mode;
} bnd_ctx;

/* out[i] = affinity of the edge between voxels with boundary values p[i] and q[i]:
 * min: 1 - max(p, q) (= min(1 - p, 1 - q) exactly: rounding is monotone); mean: 1 - (p+q)/2,
 * both in float32 arithmetic */
static void bnd_row(const float *restrict p, const float *restrict q, float *restrict out,
                    int64_t n, ax_aff_mode mode)
{
    if (mode == AX_AFF_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = 1.0f - (p[i] > q[i] ? p[i] : q[i]);
    else
        for (int64_t i = 0; i < n; i++) out[i] = 1.0f - (p[i] + q[i]) * 0.5f;
}

static int bnd_task(void *vctx, int64_t t, int thread)
{
    (void)thread;
    const bnd_ctx *c = vctx;
    int64_t ch = t / c->nz, z = t % c->nz, plane = c->ny * c->nx;
    const float *b = c->b + z * plane;
    float *out = c->aff + ch * c->n + z * plane;
    if (ch == 0) {
        if (z == 0) memset(out, 0, (size_t)plane * sizeof *out);
        else bnd_row(b, b - plane, out, plane, c->mode);
    } else if (ch == 1) {
        memset(out, 0, (size_t)c->nx * sizeof *out);
        if (c->ny > 1) bnd_row(b + c->nx, b, out + c->nx, plane - c->nx, c->mode);
    } else {
        for (int64_t y = 0; y < c->ny; y++) {
            const float *r = b + y * c->nx;
            float *o = out + y * c->nx;
            o[0] = 0.0f;
            if (c->nx > 1) bnd_row(r + 1, r, o + 1, c->nx - 1, c->mode);
        }
    }
    return AX_OK;
}

int ax_affinities_from_boundary(const float *boundary, const int64_t shape[3],
                                ax_aff_mode mode, float *aff)
{
    int64_t n;
    int rc = check_shape(shape, &n);
    if (rc < 0) return rc;
    if (mode != AX_AFF_MIN && mode != AX_AFF_MEAN)
        return ax__err(AX_E_INVALID, "affinities from boundary: unknown mode %d", (int)mode);
    if (n == 0) return AX_OK;
    if (!boundary || !aff)
        return ax__err(AX_E_INVALID, "affinities from boundary: NULL array");
    /* sequential on purpose: the message names the first bad voxel in raster order, and a
     * scan is a small fraction of the work */
    for (int64_t i = 0; i < n; i++) {
        float v = boundary[i];
        if (v >= 0.0f && v <= 1.0f) continue;
        int64_t x = i % shape[2], y = (i / shape[2]) % shape[1], z = i / (shape[2] * shape[1]);
        return ax__err(AX_E_INVALID,
                       "affinities from boundary: boundary value %g at voxel (z=%lld, y=%lld, "
                       "x=%lld) is %s; boundary probabilities must lie in [0, 1]",
                       (double)v, (long long)z, (long long)y, (long long)x,
                       isnan(v) ? "NaN" : "outside [0, 1]");
    }
    bnd_ctx c = {boundary, aff, shape[0], shape[1], shape[2], n, mode};
    return ax_parallel_for(3 * shape[0], bnd_task, &c);
}

/* ---- from labels ---------------------------------------------------------------------- */

typedef struct lab_ctx {
    const uint64_t *lab;
    float *aff;
    const int64_t (*off)[3];
    int64_t nz, ny, nx, n;
} lab_ctx;

/* [lo, hi) of coordinates v in [0, n) with v + o also in [0, n) (empty when |o| >= n) */
static void valid_range(int64_t n, int64_t o, int64_t *lo, int64_t *hi)
{
    if (o >= n || o <= -n) {
        *lo = *hi = 0;
        return;
    }
    *lo = o < 0 ? -o : 0;
    *hi = o > 0 ? n - o : n;
}

static int lab_task(void *vctx, int64_t t, int thread)
{
    (void)thread;
    const lab_ctx *c = vctx;
    int64_t ch = t / c->nz, z = t % c->nz, plane = c->ny * c->nx;
    const int64_t *o = c->off[ch];
    float *out = c->aff + ch * c->n + z * plane;
    int64_t zlo, zhi, ylo, yhi, xlo, xhi;
    valid_range(c->nz, o[0], &zlo, &zhi);
    valid_range(c->ny, o[1], &ylo, &yhi);
    valid_range(c->nx, o[2], &xlo, &xhi);
    if (z < zlo || z >= zhi || ylo >= yhi || xlo >= xhi) {
        memset(out, 0, (size_t)plane * sizeof *out);
        return AX_OK;
    }
    int64_t delta = (o[0] * c->ny + o[1]) * c->nx + o[2]; /* |o| < shape: no overflow */
    for (int64_t y = 0; y < c->ny; y++) {
        float *row = out + y * c->nx;
        if (y < ylo || y >= yhi) {
            memset(row, 0, (size_t)c->nx * sizeof *row);
            continue;
        }
        const uint64_t *p = c->lab + z * plane + y * c->nx;
        for (int64_t x = 0; x < xlo; x++) row[x] = 0.0f;
        for (int64_t x = xlo; x < xhi; x++) {
            uint64_t a = p[x], b = p[x + delta];
            row[x] = (a == b && a != 0) ? 1.0f : 0.0f;
        }
        for (int64_t x = xhi; x < c->nx; x++) row[x] = 0.0f;
    }
    return AX_OK;
}

int ax_affinities_from_labels(const uint64_t *labels, const int64_t shape[3],
                              const int64_t (*offsets)[3], int n_offsets, float *aff)
{
    int64_t n;
    int rc = check_shape(shape, &n);
    if (rc < 0) return rc;
    if (n_offsets < 1 || !offsets)
        return ax__err(AX_E_INVALID, "affinities from labels: need at least one offset (got %d)",
                       n_offsets);
    int64_t total;
    if (!ax__mul_ok(n, n_offsets, &total) || total > INT64_MAX / 4)
        return ax__err(AX_E_RANGE, "affinities from labels: %d channels of %lld voxels overflow",
                       n_offsets, (long long)n);
    if (n == 0) return AX_OK;
    if (!labels || !aff) return ax__err(AX_E_INVALID, "affinities from labels: NULL array");
    lab_ctx c = {labels, aff, offsets, shape[0], shape[1], shape[2], n};
    return ax_parallel_for((int64_t)n_offsets * shape[0], lab_task, &c);
}
