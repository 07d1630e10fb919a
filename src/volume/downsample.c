/* downsample.c: one level of an image or label pyramid, streamed slab by slab.
 *
 * Output voxel q covers the input box [q * f, (q + 1) * f) clipped to the volume (the last
 * voxel along an axis may cover fewer inputs). Images take the mean of the box, rounded
 * to nearest for integer types; labels take the most frequent non-zero label of the box
 * (ties: the smaller id), and 0 only where the box is all 0, so thin objects survive a
 * level or two instead of vanishing into the background (cloud-volume's "mode" rule).
 * Work runs on the thread pool over output rows; the result does not depend on it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "volume/volume_int.h"

typedef struct {
    const void *in;     /* slab of input, (nz, ny, nx) of dtype */
    void *out;          /* (oz, oy, ox) */
    int64_t in_shape[3], out_shape[3], f[3];
    ax_dtype dtype;
    bool labels;
} ds_job;

static double load_as_double(const void *p, ax_dtype t, size_t i)
{
    switch (t) {
    case AX_DTYPE_U8: return ((const uint8_t *)p)[i];
    case AX_DTYPE_U16: return ((const uint16_t *)p)[i];
    case AX_DTYPE_U32: return ((const uint32_t *)p)[i];
    case AX_DTYPE_I32: return ((const int32_t *)p)[i];
    case AX_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    case AX_DTYPE_F32: return ((const float *)p)[i];
    default: return 0;
    }
}

static void store_mean(void *p, ax_dtype t, size_t i, double v)
{
    switch (t) {
    case AX_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)lround(v); break;
    case AX_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)lround(v); break;
    case AX_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)llround(v); break;
    case AX_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)llround(v); break;
    case AX_DTYPE_U64: ((uint64_t *)p)[i] = (uint64_t)llround(v); break;
    case AX_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    default: break;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* one output row (z, y) of the slab */
static int ds_row(void *ctx, int64_t row, int tid)
{
    (void)tid;
    const ds_job *j = ctx;
    int64_t z = row / j->out_shape[1], y = row % j->out_shape[1];
    int64_t z0 = z * j->f[0], z1 = z0 + j->f[0] < j->in_shape[0] ? z0 + j->f[0] : j->in_shape[0];
    int64_t y0 = y * j->f[1], y1 = y0 + j->f[1] < j->in_shape[1] ? y0 + j->f[1] : j->in_shape[1];
    uint64_t box[512]; /* f is at most 8 per axis */
    for (int64_t x = 0; x < j->out_shape[2]; x++) {
        int64_t x0 = x * j->f[2], x1 = x0 + j->f[2] < j->in_shape[2] ? x0 + j->f[2] : j->in_shape[2];
        size_t o = (size_t)((z * j->out_shape[1] + y) * j->out_shape[2] + x);
        if (!j->labels) {
            double s = 0;
            int64_t n = 0;
            for (int64_t a = z0; a < z1; a++)
                for (int64_t b = y0; b < y1; b++)
                    for (int64_t c = x0; c < x1; c++, n++)
                        s += load_as_double(j->in, j->dtype, (size_t)((a * j->in_shape[1] + b) * j->in_shape[2] + c));
            store_mean(j->out, j->dtype, o, s / (double)n);
            continue;
        }
        int n = 0;
        const uint64_t *in = j->in;
        for (int64_t a = z0; a < z1; a++)
            for (int64_t b = y0; b < y1; b++)
                for (int64_t c = x0; c < x1; c++) {
                    uint64_t v = in[(a * j->in_shape[1] + b) * j->in_shape[2] + c];
                    if (v) box[n++] = v;
                }
        uint64_t best = 0;
        if (n) {
            qsort(box, (size_t)n, sizeof *box, cmp_u64);
            int bestc = 0;
            for (int i = 0; i < n;) {
                int k = i;
                while (k < n && box[k] == box[i]) k++;
                if (k - i > bestc) bestc = k - i, best = box[i];
                i = k;
            }
        }
        ((uint64_t *)j->out)[o] = best;
    }
    return AX_OK;
}

int ax_volume_downsample(ax_volume *in, ax_volume *out, const int64_t factor[3], bool labels)
{
    if (!in || !out || !factor) return ax__err(AX_E_INVALID, "downsample: missing argument");
    const ax_volume_info *ii = ax_volume_get_info(in), *oi = ax_volume_get_info(out);
    if (ii->ndim != 3 || oi->ndim != 3)
        return ax__err(AX_E_INVALID, "%s: downsampling takes 3-d volumes (this one has %d axes)", ax_volume_path(in), ii->ndim);
    for (int d = 0; d < 3; d++) {
        if (factor[d] < 1 || factor[d] > 8)
            return ax__err(AX_E_INVALID, "downsample: factor %lld is not in 1..8", (long long)factor[d]);
        if (oi->shape[d] != (ii->shape[d] + factor[d] - 1) / factor[d])
            return ax__err(AX_E_INVALID, "%s: shape %lld along axis %d is not ceil(%lld / %lld)", ax_volume_path(out),
                           (long long)oi->shape[d], d, (long long)ii->shape[d], (long long)factor[d]);
    }
    if (oi->dtype != ii->dtype && !labels)
        return ax__err(AX_E_INVALID, "%s: dtype %s differs from the input's %s", ax_volume_path(out), ax_dtype_name(oi->dtype),
                       ax_dtype_name(ii->dtype));
    ax_dtype t = labels ? AX_DTYPE_U64 : ii->dtype;
    size_t es = ax_dtype_size(t);
    /* slabs of whole output chunks in z, so every output chunk is written once */
    int64_t oz = oi->chunks[0] > 0 ? oi->chunks[0] : 16;
    int64_t plane_in = ii->shape[1] * ii->shape[2], plane_out = oi->shape[1] * oi->shape[2];
    void *ibuf = ax__malloc_array((size_t)(oz * factor[0] * plane_in), es);
    void *obuf = ax__malloc_array((size_t)(oz * plane_out), es);
    int rc = ibuf && obuf ? AX_OK : ax__err(AX_E_NOMEM, "downsample: out of memory for a slab");
    ax_progress *prog = ax_progress_new("downsample", (oi->shape[0] + oz - 1) / oz);
    for (int64_t z = 0; rc == AX_OK && z < oi->shape[0]; z += oz) {
        if (ax_interrupt_requested()) {
            rc = ax__err(AX_E_INTERRUPTED, "interrupted");
            break;
        }
        int64_t on = z + oz < oi->shape[0] ? oz : oi->shape[0] - z;
        int64_t iz = z * factor[0], inz = on * factor[0];
        if (iz + inz > ii->shape[0]) inz = ii->shape[0] - iz;
        int64_t is[3] = {iz, 0, 0}, isz[3] = {inz, ii->shape[1], ii->shape[2]};
        if ((rc = ax_volume_read_region_as(in, is, isz, t, ibuf))) break;
        ds_job j = {ibuf, obuf, {inz, ii->shape[1], ii->shape[2]}, {on, oi->shape[1], oi->shape[2]},
                    {factor[0], factor[1], factor[2]}, t, labels};
        if ((rc = ax_parallel_for(on * oi->shape[1], ds_row, &j))) break;
        int64_t os[3] = {z, 0, 0}, osz[3] = {on, oi->shape[1], oi->shape[2]};
        rc = ax_volume_write_region(out, os, osz, t, obuf);
        ax_progress_add(prog, 1);
    }
    ax_progress_done(prog);
    free(ibuf);
    free(obuf);
    return rc;
}
