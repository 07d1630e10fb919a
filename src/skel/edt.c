/* edt.c: exact anisotropic Euclidean distance transform (ax_distance_transform), the
 * distance-to-boundary field (DBF) of the skeletonizer.
 *
 * ALGORITHM: separable squared distances (Felzenszwalb & Huttenlocher 2012). Pass 1, along
 * x, is a two-sided scan for the nearest zero in the row. Passes 2 (y) and 3 (z) take, for
 * every line, the lower envelope of the parabolas f(q) + w (p - q)^2 (w = voxel size
 * squared) rooted at the line's finite values and read it at every p; infinite values
 * (no zero found yet) root no parabola. A black border adds zero-valued parabolas just
 * outside both ends of every line. The square root comes last.
 *
 * PERFORMANCE: O(voxels) per pass; lines are copied to a contiguous buffer so the y and z
 * passes do not stride through memory per element. Planes go to the thread pool (a call
 * from inside a pool task runs serially, as the skeletonizer's do).
 * MEMORY: the output array plus three line buffers per task.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "skel/skel_int.h"

/* lower envelope of parabolas f[q] + w (p - q)^2 over the line f[0..n), into d;
 * v, z: scratch of n + 2 and n + 3 */
static void envelope(const double *f, int64_t n, double w, bool black, double *d, int64_t *v,
                     double *z)
{
    int64_t k = -1;
    /* sites in increasing q; the black border's virtual zeros sit at -1 and n */
    for (int64_t q = black ? -1 : 0; q <= (black ? n : n - 1); q++) {
        double fq = (q < 0 || q >= n) ? 0.0 : f[q];
        if (isinf(fq)) continue;
        if (k < 0) {
            k = 0;
            v[0] = q;
            z[0] = -INFINITY;
            z[1] = INFINITY;
            continue;
        }
        /* pop parabolas the new one hides; z[0] = -inf stops the loop at k = 0 */
        double s;
        for (;;) {
            int64_t r = v[k];
            double fr = (r < 0 || r >= n) ? 0.0 : f[r];
            s = ((fq + w * (double)q * (double)q) - (fr + w * (double)r * (double)r)) /
                (2.0 * w * (double)(q - r));
            if (s > z[k]) break;
            k--;
        }
        k++;
        v[k] = q;
        z[k] = s;
        z[k + 1] = INFINITY;
    }
    if (k < 0) {
        for (int64_t p = 0; p < n; p++) d[p] = INFINITY;
        return;
    }
    int64_t j = 0;
    for (int64_t p = 0; p < n; p++) {
        while (z[j + 1] < (double)p) j++;
        int64_t q = v[j];
        double fq = (q < 0 || q >= n) ? 0.0 : f[q];
        double t = (double)(p - q);
        d[p] = fq + w * t * t;
    }
}

typedef struct edt_job {
    const uint8_t *mask;
    float *out;
    int64_t nz, ny, nx;
    double w[3]; /* squared voxel sizes (z, y, x) */
    bool black;
    int pass; /* 0: x, 1: y, 2: z */
} edt_job;

typedef struct line_buf {
    double *f, *d, *zb;
    int64_t *v;
} line_buf;

static int line_buf_init(line_buf *b, int64_t n)
{
    b->f = ax__malloc_array((size_t)n + 3, sizeof(double));
    b->d = ax__malloc_array((size_t)n + 3, sizeof(double));
    b->zb = ax__malloc_array((size_t)n + 4, sizeof(double));
    b->v = ax__malloc_array((size_t)n + 3, sizeof(int64_t));
    if (b->f && b->d && b->zb && b->v) return AX_OK;
    free(b->f);
    free(b->d);
    free(b->zb);
    free(b->v);
    return ax__err(AX_E_NOMEM, "distance transform: out of memory for a line of %lld voxels",
                   (long long)n);
}

static void line_buf_free(line_buf *b)
{
    free(b->f);
    free(b->d);
    free(b->zb);
    free(b->v);
}

/* pass 1 on row (z, y): squared distance to the nearest zero of the row */
static void row_pass(const edt_job *j, int64_t row)
{
    const uint8_t *m = j->mask + row * j->nx;
    float *o = j->out + row * j->nx;
    int64_t nx = j->nx;
    double w = j->w[2];
    /* forward: distance to the last zero at or before x (in voxels), -1: none */
    int64_t last = j->black ? -1 : INT64_MIN;
    for (int64_t x = 0; x < nx; x++) {
        if (!m[x]) last = x;
        o[x] = last == INT64_MIN ? INFINITY : (float)(w * (double)(x - last) * (double)(x - last));
    }
    int64_t next = j->black ? nx : INT64_MAX;
    for (int64_t x = nx - 1; x >= 0; x--) {
        if (!m[x]) next = x;
        if (next != INT64_MAX) {
            double t = (double)(next - x);
            float b = (float)(w * t * t);
            if (b < o[x]) o[x] = b;
        }
    }
}

static int plane_task(void *ctx, int64_t i, int thread)
{
    (void)thread;
    edt_job *j = ctx;
    if (j->pass == 0) {
        for (int64_t y = 0; y < j->ny; y++) row_pass(j, i * j->ny + y);
        return AX_OK;
    }
    /* pass 1 (y): plane z = i, lines along y for each x; pass 2 (z): plane y = i, lines
     * along z for each x */
    int64_t n = j->pass == 1 ? j->ny : j->nz;
    int64_t stride = j->pass == 1 ? j->nx : j->ny * j->nx;
    int64_t base = j->pass == 1 ? i * j->ny * j->nx : i * j->nx;
    double w = j->w[j->pass == 1 ? 1 : 0];
    line_buf b;
    int rc = line_buf_init(&b, n);
    if (rc < 0) return rc;
    for (int64_t x = 0; x < j->nx; x++) {
        float *o = j->out + base + x;
        bool any = false, all_zero = true;
        for (int64_t q = 0; q < n; q++) {
            b.f[q] = o[q * stride];
            if (b.f[q] != 0) all_zero = false;
            if (!isinf(b.f[q])) any = true;
        }
        if (all_zero) continue; /* nothing can get nearer than 0 */
        if (!any && !j->black) continue; /* all infinite stays infinite */
        envelope(b.f, n, w, j->black, b.d, b.v, b.zb);
        for (int64_t q = 0; q < n; q++) o[q * stride] = (float)b.d[q];
    }
    line_buf_free(&b);
    return AX_OK;
}

static int sqrt_task(void *ctx, int64_t i, int thread)
{
    (void)thread;
    edt_job *j = ctx;
    float *o = j->out + i * j->ny * j->nx;
    const uint8_t *m = j->mask + i * j->ny * j->nx;
    for (int64_t k = 0; k < j->ny * j->nx; k++) o[k] = m[k] ? sqrtf(o[k]) : 0.0f;
    return AX_OK;
}

int ax__edt(const uint8_t *mask, const int64_t shape[3], const double aniso[3], bool black,
            float *out)
{
    edt_job j = {.mask = mask, .out = out, .nz = shape[0], .ny = shape[1], .nx = shape[2],
                 .black = black};
    for (int d = 0; d < 3; d++) j.w[d] = aniso[d] * aniso[d];
    int rc = AX_OK;
    for (j.pass = 0; j.pass < 3 && rc == AX_OK; j.pass++)
        rc = ax_parallel_for(j.pass == 2 ? j.ny : j.nz, plane_task, &j);
    if (rc == AX_OK) rc = ax_parallel_for(j.nz, sqrt_task, &j);
    return rc;
}

int ax_distance_transform(const uint8_t *mask, const int64_t shape[3],
                          const double anisotropy[3], bool black_border, float *out)
{
    if (!mask || !shape || !out)
        return ax__err(AX_E_INVALID, "ax_distance_transform: NULL argument");
    int64_t n = 1;
    for (int d = 0; d < 3; d++) {
        if (shape[d] <= 0 || !ax__mul_ok(n, shape[d], &n))
            return ax__err(AX_E_INVALID, "ax_distance_transform: bad shape %lld x %lld x %lld",
                           (long long)shape[0], (long long)shape[1], (long long)shape[2]);
    }
    double a[3] = {1, 1, 1};
    if (anisotropy) {
        for (int d = 0; d < 3; d++) {
            if (!(anisotropy[d] > 0) || !isfinite(anisotropy[d]))
                return ax__err(AX_E_INVALID,
                               "ax_distance_transform: voxel size %g,%g,%g must be positive",
                               anisotropy[0], anisotropy[1], anisotropy[2]);
            a[d] = anisotropy[d];
        }
    }
    return ax__edt(mask, shape, a, black_border, out);
}
