/* skeleton.c: skeletonizing whole label arrays and volumes (ax_skeletonize_labels,
 * ax_skeletonize_volume), parameters, and the skeleton object itself.
 *
 * DESIGN: two passes. The scan finds every label's bounding box and voxel count (runs of
 * one label along x are counted once); it goes over z planes (in memory) or chunk-aligned
 * blocks (on disk) on the thread pool, each thread into its own table, merged after. Then
 * every kept object is one pool task: its box plus a 1-voxel border (clipped to the
 * volume) becomes a mask, read from memory or with ax_volume_read_region_as in slabs, and
 * ax__teasar makes its skeleton. Tasks go largest box first so one big object does not
 * start last; results land by id, so any thread count gives the same output.
 *
 * MEMORY: the scan holds one block per thread (about 16 MiB of uint64) and 64 bytes per
 * label; the second pass one object's box at a time per thread (see teasar.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "seg/seg_int.h"
#include "skel/skel_int.h"

/* blocks of the volume scan: whole chunks, grown to about this many voxels */
#define SCAN_BLOCK_VOXELS ((int64_t)1 << 21)
/* slab of a crop read at once, voxels */
#define CROP_SLAB_VOXELS ((int64_t)1 << 22)

ax_skel_params ax_skel_params_default(void)
{
    ax_skel_params p;
    memset(&p, 0, sizeof p);
    p.scale = 1.5;
    p.const_nm = 300;
    p.pdrf_scale = 100000;
    p.pdrf_exponent = 4;
    p.dust = 1000;
    return p;
}

void ax_skeleton_free(ax_skeleton *s)
{
    if (!s) return;
    free(s->vertices);
    free(s->radii);
    free(s->edges);
    free(s);
}

void ax_skeletons_free(ax_skeleton **s, int64_t n)
{
    if (!s) return;
    for (int64_t i = 0; i < n; i++) ax_skeleton_free(s[i]);
    free(s);
}

double ax_skeleton_length(const ax_skeleton *s)
{
    if (!s || !s->vertices || !s->edges) return 0;
    double sum = 0;
    for (int64_t e = 0; e < s->n_edges; e++) {
        uint32_t a = s->edges[2 * e], b = s->edges[2 * e + 1];
        if ((int64_t)a >= s->n_vertices || (int64_t)b >= s->n_vertices) continue;
        double d2 = 0;
        for (int k = 0; k < 3; k++) {
            double d = (double)s->vertices[3 * a + k] - (double)s->vertices[3 * b + k];
            d2 += d * d;
        }
        sum += sqrt(d2);
    }
    return sum;
}

/* ---- the scan: bounding boxes and sizes ---------------------------------------------- */

typedef struct obj_box {
    uint64_t id;
    int64_t count;
    int64_t lo[3], hi[3]; /* inclusive */
} obj_box;

typedef struct scan_table {
    ax__u64map map; /* id -> index into o */
    obj_box *o;
    int64_t n, cap;
} scan_table;

static int table_init(scan_table *t)
{
    memset(t, 0, sizeof *t);
    return ax__u64map_init(&t->map, 64);
}

static void table_free(scan_table *t)
{
    ax__u64map_free(&t->map);
    free(t->o);
}

/* fold a box (or a run, as a box) into the table */
static int table_add(scan_table *t, const obj_box *b)
{
    bool found;
    uint64_t *slot = ax__u64map_upsert(&t->map, b->id, (uint64_t)t->n, &found);
    if (!slot) return ax__err(AX_E_NOMEM, "skeletonize: out of memory (object table)");
    if (!found) {
        if (t->n == t->cap) {
            int64_t nc = t->cap ? 2 * t->cap : 256;
            obj_box *no = realloc(t->o, (size_t)nc * sizeof *no);
            if (!no) return ax__err(AX_E_NOMEM, "skeletonize: out of memory (object table)");
            t->o = no;
            t->cap = nc;
        }
        t->o[t->n++] = *b;
        return AX_OK;
    }
    obj_box *o = &t->o[*slot];
    o->count += b->count;
    for (int d = 0; d < 3; d++) {
        if (b->lo[d] < o->lo[d]) o->lo[d] = b->lo[d];
        if (b->hi[d] > o->hi[d]) o->hi[d] = b->hi[d];
    }
    return AX_OK;
}

/* runs of one non-zero label along x in rows of a (z, y, x) block at `start` */
static int scan_block(scan_table *t, const uint64_t *lab, const int64_t start[3],
                      const int64_t size[3], int64_t row_stride, int64_t plane_stride)
{
    int rc;
    for (int64_t z = 0; z < size[0]; z++)
        for (int64_t y = 0; y < size[1]; y++) {
            const uint64_t *row = lab + z * plane_stride + y * row_stride;
            for (int64_t x = 0; x < size[2];) {
                uint64_t id = row[x];
                int64_t x0 = x;
                while (x < size[2] && row[x] == id) x++;
                if (!id) continue;
                obj_box b = {id, x - x0, {start[0] + z, start[1] + y, start[2] + x0},
                             {start[0] + z, start[1] + y, start[2] + x - 1}};
                if ((rc = table_add(t, &b)) < 0) return rc;
            }
        }
    return AX_OK;
}

/* ---- the whole job ------------------------------------------------------------------- */

typedef struct skel_job {
    const uint64_t *labels; /* in memory, or */
    ax_volume *vol;         /* on disk */
    int lead;               /* leading singleton axes of the volume (0 or 1) */
    int64_t shape[3];
    double a[3], offset[3];
    ax_skel_params p;
    /* scan */
    int nslots;
    scan_table *tables;
    uint64_t **bufs;
    int64_t block[3], nb[3];
    /* objects */
    obj_box *objs; /* kept, sorted by id */
    int64_t n;
    int64_t *order; /* task -> object */
    ax_skeleton **out;
    ax_progress *prog;
} skel_job;

static int scan_plane_task(void *ctx, int64_t z, int thread)
{
    skel_job *j = ctx;
    if (thread < 0 || thread >= j->nslots)
        return ax__err(AX_E_INTERNAL, "skeletonize: thread slot %d outside 0..%d", thread,
                       j->nslots);
    int64_t st[3] = {z, 0, 0}, sz[3] = {1, j->shape[1], j->shape[2]};
    return scan_block(&j->tables[thread], j->labels + z * j->shape[1] * j->shape[2], st, sz,
                      j->shape[2], j->shape[1] * j->shape[2]);
}

static void block_box(const skel_job *j, int64_t i, int64_t st[3], int64_t sz[3])
{
    int64_t bi[3] = {i / (j->nb[1] * j->nb[2]), (i / j->nb[2]) % j->nb[1], i % j->nb[2]};
    for (int d = 0; d < 3; d++) {
        st[d] = bi[d] * j->block[d];
        sz[d] = j->shape[d] - st[d] < j->block[d] ? j->shape[d] - st[d] : j->block[d];
    }
}

static int read_box(skel_job *j, const int64_t st[3], const int64_t sz[3], uint64_t *buf)
{
    int64_t s4[4] = {0, st[0], st[1], st[2]}, z4[4] = {1, sz[0], sz[1], sz[2]};
    return ax_volume_read_region_as(j->vol, s4 + 1 - j->lead, z4 + 1 - j->lead, AX_DTYPE_U64,
                                    buf);
}

static int scan_block_task(void *ctx, int64_t i, int thread)
{
    skel_job *j = ctx;
    if (thread < 0 || thread >= j->nslots)
        return ax__err(AX_E_INTERNAL, "skeletonize: thread slot %d outside 0..%d", thread,
                       j->nslots);
    int64_t st[3], sz[3];
    block_box(j, i, st, sz);
    if (!j->bufs[thread]) {
        j->bufs[thread] = ax__malloc_array((size_t)(j->block[0] * j->block[1] * j->block[2]),
                                           sizeof(uint64_t));
        if (!j->bufs[thread]) return ax__err(AX_E_NOMEM, "skeletonize: out of memory for a block");
    }
    int rc = read_box(j, st, sz, j->bufs[thread]);
    if (rc == AX_OK)
        rc = scan_block(&j->tables[thread], j->bufs[thread], st, sz, sz[2], sz[1] * sz[2]);
    ax_progress_add(j->prog, 1);
    return rc;
}

static int cmp_box_id(const void *a, const void *b)
{
    uint64_t x = ((const obj_box *)a)->id, y = ((const obj_box *)b)->id;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* voxels of an object's box with its border */
static int64_t box_voxels(const obj_box *o)
{
    return (o->hi[0] - o->lo[0] + 3) * (o->hi[1] - o->lo[1] + 3) * (o->hi[2] - o->lo[2] + 3);
}

typedef struct task_key {
    int64_t vox;
    int64_t i;
} task_key;

/* larger boxes first, then by id */
static int cmp_task(const void *a, const void *b)
{
    const task_key *x = a, *y = b;
    if (x->vox != y->vox) return x->vox > y->vox ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* merge the thread tables, keep objects by dust and ids, order the tasks */
static int select_objects(skel_job *j)
{
    scan_table all;
    int rc = table_init(&all);
    for (int k = 0; k < j->nslots && rc == AX_OK; k++)
        for (int64_t i = 0; i < j->tables[k].n && rc == AX_OK; i++)
            rc = table_add(&all, &j->tables[k].o[i]);
    uint64_t *ids = NULL;
    if (rc == AX_OK && j->p.n_object_ids > 0) {
        ids = ax__malloc_array((size_t)j->p.n_object_ids, sizeof *ids);
        if (!ids) rc = ax__err(AX_E_NOMEM, "skeletonize: out of memory");
        else {
            memcpy(ids, j->p.object_ids, (size_t)j->p.n_object_ids * sizeof *ids);
            qsort(ids, (size_t)j->p.n_object_ids, sizeof *ids, cmp_u64);
        }
    }
    if (rc < 0) {
        free(ids);
        table_free(&all);
        return rc;
    }
    int64_t n = 0;
    for (int64_t i = 0; i < all.n; i++) {
        const obj_box *o = &all.o[i];
        if (o->count < j->p.dust) continue;
        if (ids && !bsearch(&o->id, ids, (size_t)j->p.n_object_ids, sizeof *ids, cmp_u64))
            continue;
        all.o[n++] = *o;
    }
    free(ids);
    if (n > 1) qsort(all.o, (size_t)n, sizeof *all.o, cmp_box_id);
    j->objs = all.o;
    j->n = n;
    all.o = NULL;
    table_free(&all);
    if (n == 0) return AX_OK;
    task_key *keys = ax__malloc_array((size_t)n, sizeof *keys);
    j->order = ax__malloc_array((size_t)n, sizeof *j->order);
    j->out = ax__calloc((size_t)n, sizeof *j->out);
    if (!keys || !j->order || !j->out) {
        free(keys);
        return ax__err(AX_E_NOMEM, "skeletonize: out of memory for %lld objects", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) keys[i] = (task_key){box_voxels(&j->objs[i]), i};
    qsort(keys, (size_t)n, sizeof *keys, cmp_task);
    for (int64_t i = 0; i < n; i++) j->order[i] = keys[i].i;
    free(keys);
    return AX_OK;
}

static int object_task(void *ctx, int64_t t, int thread)
{
    (void)thread;
    skel_job *j = ctx;
    int64_t oi = j->order[t];
    const obj_box *o = &j->objs[oi];
    int64_t st[3], sz[3], nbox = 1;
    for (int d = 0; d < 3; d++) {
        st[d] = o->lo[d] > 0 ? o->lo[d] - 1 : 0;
        int64_t end = o->hi[d] + 2 < j->shape[d] ? o->hi[d] + 2 : j->shape[d];
        sz[d] = end - st[d];
        nbox *= sz[d];
    }
    uint8_t *mask = ax__malloc_array((size_t)nbox, 1);
    if (!mask)
        return ax__err(AX_E_NOMEM, "skeletonize: out of memory for object %llu's box "
                       "(%lld x %lld x %lld)", (unsigned long long)o->id, (long long)sz[0],
                       (long long)sz[1], (long long)sz[2]);
    int rc = AX_OK;
    int64_t plane = sz[1] * sz[2];
    if (j->labels) {
        for (int64_t z = 0; z < sz[0]; z++)
            for (int64_t y = 0; y < sz[1]; y++) {
                const uint64_t *row =
                    j->labels + ((st[0] + z) * j->shape[1] + st[1] + y) * j->shape[2] + st[2];
                uint8_t *m = mask + z * plane + y * sz[2];
                for (int64_t x = 0; x < sz[2]; x++) m[x] = row[x] == o->id;
            }
    } else {
        /* slabs of whole planes keep the uint64 copy small next to the mask */
        int64_t slab = plane >= CROP_SLAB_VOXELS ? 1 : CROP_SLAB_VOXELS / plane;
        if (slab > sz[0]) slab = sz[0];
        uint64_t *buf = ax__malloc_array((size_t)(slab * plane), sizeof *buf);
        if (!buf) rc = ax__err(AX_E_NOMEM, "skeletonize: out of memory for a crop");
        for (int64_t z0 = 0; z0 < sz[0] && rc == AX_OK; z0 += slab) {
            int64_t nz = sz[0] - z0 < slab ? sz[0] - z0 : slab;
            int64_t s2[3] = {st[0] + z0, st[1], st[2]}, z2[3] = {nz, sz[1], sz[2]};
            rc = read_box(j, s2, z2, buf);
            for (int64_t k = 0; rc == AX_OK && k < nz * plane; k++)
                mask[z0 * plane + k] = buf[k] == o->id;
        }
        free(buf);
    }
    if (rc == AX_OK) {
        double origin[3];
        for (int d = 0; d < 3; d++) origin[d] = j->offset[d] + (double)st[d] * j->a[d];
        rc = ax__teasar(mask, sz, j->a, origin, &j->p, o->id, &j->out[oi]);
        if (rc < 0 && rc != AX_E_INTERRUPTED)
            rc = ax__err_prefix(rc, "%s: object %llu",
                                j->vol ? ax_volume_path(j->vol) : "labels",
                                (unsigned long long)o->id);
    }
    free(mask);
    ax_progress_add(j->prog, o->count);
    return rc;
}

static int check_params(const ax_skel_params *p, const char *what)
{
    for (int d = 0; d < 3; d++)
        if (!(p->anisotropy[d] >= 0) || !isfinite(p->anisotropy[d]) || !isfinite(p->offset[d]))
            return ax__err(AX_E_INVALID, "%s: voxel size %g,%g,%g must be positive (0: default)",
                           what, p->anisotropy[0], p->anisotropy[1], p->anisotropy[2]);
    if (!(p->scale >= 0) || !isfinite(p->scale))
        return ax__err(AX_E_INVALID, "%s: scale %g must be >= 0", what, p->scale);
    if (!(p->const_nm >= 0) || !isfinite(p->const_nm))
        return ax__err(AX_E_INVALID, "%s: const %g must be >= 0", what, p->const_nm);
    if (!(p->pdrf_scale >= 0) || !isfinite(p->pdrf_scale))
        return ax__err(AX_E_INVALID, "%s: pdrf_scale %g must be >= 0", what, p->pdrf_scale);
    if (!(p->pdrf_exponent >= 0) || !isfinite(p->pdrf_exponent))
        return ax__err(AX_E_INVALID, "%s: pdrf_exponent %g must be >= 0", what,
                       p->pdrf_exponent);
    if (p->dust < 0) return ax__err(AX_E_INVALID, "%s: dust %lld must be >= 0", what,
                                    (long long)p->dust);
    if (p->n_object_ids < 0 || (p->n_object_ids > 0 && !p->object_ids))
        return ax__err(AX_E_INVALID, "%s: object_ids is NULL or its count negative", what);
    return AX_OK;
}

static void job_free(skel_job *j)
{
    if (j->tables)
        for (int k = 0; k < j->nslots; k++) table_free(&j->tables[k]);
    free(j->tables);
    if (j->bufs)
        for (int k = 0; k < j->nslots; k++) free(j->bufs[k]);
    free(j->bufs);
    ax_skeletons_free(j->out, j->n);
    free(j->objs);
    free(j->order);
}

static int job_init_tables(skel_job *j)
{
    j->nslots = ax_threads_get();
    j->tables = ax__calloc((size_t)j->nslots, sizeof *j->tables);
    j->bufs = ax__calloc((size_t)j->nslots, sizeof *j->bufs);
    if (!j->tables || !j->bufs) return ax__err(AX_E_NOMEM, "skeletonize: out of memory");
    for (int k = 0; k < j->nslots; k++)
        if (table_init(&j->tables[k]) < 0)
            return ax__err(AX_E_NOMEM, "skeletonize: out of memory");
    return AX_OK;
}

/* the second pass and the hand-over of the results */
static int run_objects(skel_job *j, ax_skeleton ***out, int64_t *n_out)
{
    int rc = AX_OK;
    if (j->n > 0) {
        int64_t total = 0;
        for (int64_t i = 0; i < j->n; i++) total += j->objs[i].count;
        j->prog = ax_progress_new("skeletonize", total);
        rc = ax_parallel_for(j->n, object_task, j);
        ax_progress_done(j->prog);
        j->prog = NULL;
    }
    if (rc < 0) {
        ax_skeletons_free(j->out, j->n);
        j->out = NULL;
        return rc;
    }
    *out = j->out;
    *n_out = j->n;
    j->out = NULL;
    return AX_OK;
}

int ax_skeletonize_labels(const uint64_t *labels, const int64_t shape[3],
                          const ax_skel_params *p, ax_skeleton ***out, int64_t *n_out)
{
    if (!out || !n_out) return ax__err(AX_E_INVALID, "ax_skeletonize_labels: NULL output");
    *out = NULL;
    *n_out = 0;
    if (!labels || !shape) return ax__err(AX_E_INVALID, "ax_skeletonize_labels: NULL labels");
    int64_t nvox = 1;
    for (int d = 0; d < 3; d++)
        if (shape[d] <= 0 || shape[d] >= INT32_MAX || !ax__mul_ok(nvox, shape[d], &nvox))
            return ax__err(AX_E_INVALID, "ax_skeletonize_labels: bad shape %lld x %lld x %lld",
                           (long long)shape[0], (long long)shape[1], (long long)shape[2]);
    skel_job j = {.labels = labels, .p = p ? *p : ax_skel_params_default()};
    int rc = check_params(&j.p, "ax_skeletonize_labels");
    if (rc < 0) return rc;
    for (int d = 0; d < 3; d++) {
        j.shape[d] = shape[d];
        j.a[d] = j.p.anisotropy[d] > 0 ? j.p.anisotropy[d] : 1.0;
        j.offset[d] = j.p.offset[d];
    }
    if ((rc = job_init_tables(&j)) == AX_OK) rc = ax_parallel_for(shape[0], scan_plane_task, &j);
    if (rc == AX_OK) rc = select_objects(&j);
    if (rc == AX_OK) rc = run_objects(&j, out, n_out);
    job_free(&j);
    return rc;
}

int ax_skeletonize_volume(ax_volume *seg, const ax_skel_params *p, ax_skeleton ***out,
                          int64_t *n_out)
{
    if (!out || !n_out) return ax__err(AX_E_INVALID, "ax_skeletonize_volume: NULL output");
    *out = NULL;
    *n_out = 0;
    if (!seg) return ax__err(AX_E_INVALID, "ax_skeletonize_volume: NULL volume");
    const ax_volume_info *in = ax_volume_get_info(seg);
    const char *path = ax_volume_path(seg);
    if (in->dtype == AX_DTYPE_F32 || in->dtype == AX_DTYPE_UNKNOWN)
        return ax__err(AX_E_DTYPE, "%s: skeletonize needs integer labels; this volume is %s",
                       path, ax_dtype_name(in->dtype));
    if (!(in->ndim == 3 || (in->ndim == 4 && in->shape[0] == 1)))
        return ax__err(AX_E_RANGE,
                       "%s: skeletonize needs a 3-d (z, y, x) label volume; this one is %d-d "
                       "with %lld channels",
                       path, in->ndim, (long long)(in->ndim >= 4 ? in->shape[0] : 1));
    skel_job j = {.vol = seg, .lead = in->ndim - 3, .p = p ? *p : ax_skel_params_default()};
    int rc = check_params(&j.p, path);
    if (rc < 0) return rc;
    int64_t nblocks = 1;
    for (int d = 0; d < 3; d++) {
        j.shape[d] = in->shape[j.lead + d];
        if (j.shape[d] <= 0 || j.shape[d] >= INT32_MAX)
            return ax__err(AX_E_RANGE, "%s: bad shape for skeletonize", path);
        j.a[d] = j.p.anisotropy[d] > 0 ? j.p.anisotropy[d]
                 : in->voxel_size[d] > 0 ? in->voxel_size[d] : 1.0;
        j.offset[d] = in->offset[d];
        int64_t c = in->chunks[j.lead + d] > 0 ? in->chunks[j.lead + d] : 1;
        j.block[d] = c < j.shape[d] ? c : j.shape[d];
    }
    /* whole chunks, grown x first to ~SCAN_BLOCK_VOXELS; huge chunks halved */
    for (int d = 2; d >= 0; d--)
        while (j.block[0] * j.block[1] * j.block[2] < SCAN_BLOCK_VOXELS && j.block[d] < j.shape[d])
            j.block[d] = j.block[d] * 2 < j.shape[d] ? j.block[d] * 2 : j.shape[d];
    for (int d = 0; d < 3; d++)
        while (j.block[0] * j.block[1] * j.block[2] > 4 * SCAN_BLOCK_VOXELS && j.block[d] > 1)
            j.block[d] = (j.block[d] + 1) / 2;
    for (int d = 0; d < 3; d++) {
        j.nb[d] = (j.shape[d] + j.block[d] - 1) / j.block[d];
        nblocks *= j.nb[d];
    }
    if ((rc = job_init_tables(&j)) == AX_OK) {
        j.prog = ax_progress_new("skeletonize: scan", nblocks);
        rc = ax_parallel_for(nblocks, scan_block_task, &j);
        ax_progress_done(j.prog);
        j.prog = NULL;
    }
    /* the scan buffers are not needed any more */
    for (int k = 0; j.bufs && k < j.nslots; k++) {
        free(j.bufs[k]);
        j.bufs[k] = NULL;
    }
    if (rc == AX_OK) rc = select_objects(&j);
    if (rc == AX_OK) rc = run_objects(&j, out, n_out);
    job_free(&j);
    return rc;
}
