/* mesh.c: one mesh per labelled object, from an in-memory label array or a volume on disk.
 *
 * DESIGN
 * Two passes. The first finds every label's bounding box and voxel count (run by run along
 * x, one hash lookup per run), on the thread pool over z slabs (in memory) or blocks (on
 * disk), with one table per thread merged afterwards (unions and sums: the same result for
 * any split). The second meshes one object per task: its box padded with one voxel of
 * background becomes a 0/1 mask, marching cubes (mc.c) makes the raw surface, optional
 * Taubin smoothing and quadric simplification (simplify.c) follow, and the vertices are
 * scaled to nm. Each object's work is serial, so the meshes do not depend on the thread
 * count; tasks are handed out largest box first so one big object does not finish last.
 *
 * MEMORY
 * Per thread: the padded mask (1 byte per box voxel), the box read as uint64 (volumes
 * only, 8 bytes per voxel), the marching-cubes edge planes (20 bytes per (y, x)) and the
 * object's raw mesh (~12 bytes per vertex + 12 per triangle, plus ~2x that while
 * simplifying). Per object: 64 bytes of box record, and the finished (simplified) mesh.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh_int.h"
#include "seg/seg_int.h" /* ax__grid */

ax_mesh_params ax_mesh_params_default(void)
{
    ax_mesh_params p;
    memset(&p, 0, sizeof p);
    p.reduction = 0.15;
    return p;
}

void ax_mesh_free(ax_mesh *m)
{
    if (!m) return;
    free(m->vertices);
    free(m->triangles);
    free(m);
}

void ax_meshes_free(ax_mesh **m, int64_t n)
{
    if (!m) return;
    for (int64_t i = 0; i < n; i++) ax_mesh_free(m[i]);
    free(m);
}

/* ---- per-label bounding boxes --------------------------------------------------------- */

typedef struct obj {
    uint64_t id; /* 0: empty slot */
    int64_t lo[3], hi[3]; /* inclusive, (z, y, x) */
    int64_t count;
} obj;

typedef struct objmap {
    obj *e;
    size_t cap, n;
} objmap;

static int objmap_init(objmap *m, size_t cap)
{
    m->cap = cap;
    m->n = 0;
    m->e = ax__calloc(cap, sizeof *m->e);
    return m->e ? AX_OK : ax__err(AX_E_NOMEM, "mesh: out of memory (label table)");
}

static obj *objmap_slot(objmap *m, uint64_t id)
{
    size_t mask = m->cap - 1, j = ax__mix64(id) & mask;
    while (m->e[j].id && m->e[j].id != id) j = (j + 1) & mask;
    return &m->e[j];
}

/* the record of id, made (empty box) if new; NULL on OOM */
static obj *objmap_get(objmap *m, uint64_t id)
{
    obj *o = objmap_slot(m, id);
    if (o->id) return o;
    if ((m->n + 1) * 2 > m->cap) {
        objmap bigger;
        if (objmap_init(&bigger, m->cap * 2) < 0) return NULL;
        for (size_t i = 0; i < m->cap; i++)
            if (m->e[i].id) *objmap_slot(&bigger, m->e[i].id) = m->e[i];
        bigger.n = m->n;
        free(m->e);
        *m = bigger;
        o = objmap_slot(m, id);
    }
    o->id = id;
    for (int d = 0; d < 3; d++) {
        o->lo[d] = INT64_MAX;
        o->hi[d] = INT64_MIN;
    }
    o->count = 0;
    m->n++;
    return o;
}

static void box_add(obj *o, int64_t z, int64_t y, int64_t x0, int64_t x1)
{
    if (z < o->lo[0]) o->lo[0] = z;
    if (z > o->hi[0]) o->hi[0] = z;
    if (y < o->lo[1]) o->lo[1] = y;
    if (y > o->hi[1]) o->hi[1] = y;
    if (x0 < o->lo[2]) o->lo[2] = x0;
    if (x1 > o->hi[2]) o->hi[2] = x1;
    o->count += x1 - x0 + 1;
}

/* Add the runs of labels in buf (box start/size, C order) to m. */
static int scan_box(objmap *m, const uint64_t *buf, const int64_t start[3], const int64_t size[3],
                    int64_t row_stride, int64_t plane_stride)
{
    obj *last = NULL;
    for (int64_t z = 0; z < size[0]; z++)
        for (int64_t y = 0; y < size[1]; y++) {
            const uint64_t *r = buf + z * plane_stride + y * row_stride;
            int64_t x = 0, nx = size[2];
            while (x < nx) {
                uint64_t id = r[x];
                int64_t x1 = x + 1;
                while (x1 < nx && r[x1] == id) x1++;
                if (id) {
                    if (!last || last->id != id) {
                        last = objmap_get(m, id);
                        if (!last) return AX_E_NOMEM;
                    }
                    box_add(last, start[0] + z, start[1] + y, start[2] + x, start[2] + x1 - 1);
                }
                x = x1;
            }
        }
    return AX_OK;
}

static int merge_maps(objmap *into, const objmap *from)
{
    for (size_t i = 0; i < from->cap; i++) {
        const obj *s = &from->e[i];
        if (!s->id) continue;
        obj *o = objmap_get(into, s->id);
        if (!o) return AX_E_NOMEM;
        for (int d = 0; d < 3; d++) {
            if (s->lo[d] < o->lo[d]) o->lo[d] = s->lo[d];
            if (s->hi[d] > o->hi[d]) o->hi[d] = s->hi[d];
        }
        o->count += s->count;
    }
    return AX_OK;
}

static int cmp_obj_id(const void *a, const void *b)
{
    uint64_t x = ((const obj *)a)->id, y = ((const obj *)b)->id;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The objects to mesh, sorted by id: dust and the id filter applied. */
static int select_objects(const objmap *m, const ax_mesh_params *p, obj **out, int64_t *n_out)
{
    uint64_t *want = NULL;
    if (p->ids && p->n_ids > 0) {
        want = ax__malloc_array((size_t)p->n_ids, sizeof *want);
        if (!want) return ax__err(AX_E_NOMEM, "mesh: out of memory");
        memcpy(want, p->ids, (size_t)p->n_ids * sizeof *want);
        qsort(want, (size_t)p->n_ids, sizeof *want, cmp_u64);
    }
    obj *o = ax__malloc_array(m->n ? m->n : 1, sizeof *o);
    if (!o) {
        free(want);
        return ax__err(AX_E_NOMEM, "mesh: out of memory (%zu objects)", m->n);
    }
    int64_t n = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const obj *s = &m->e[i];
        if (!s->id || s->count < p->dust) continue;
        if (want && !bsearch(&s->id, want, (size_t)p->n_ids, sizeof *want, cmp_u64)) continue;
        o[n++] = *s;
    }
    free(want);
    qsort(o, (size_t)n, sizeof *o, cmp_obj_id);
    *out = o;
    *n_out = n;
    return AX_OK;
}

/* ---- meshing one object --------------------------------------------------------------- */

typedef struct tstate {
    uint8_t *mask;
    size_t mask_cap;
    uint64_t *crop;
    size_t crop_cap;
    double *pos;
    size_t pos_cap;
    ax__mc_scratch mc;
    ax__mc_out mo;
} tstate;

typedef struct job {
    const ax_mesh_params *p;
    double vs[3], off[3]; /* (z, y, x) nm */
    const uint64_t *labels; /* in memory, or */
    ax_volume *vol;         /* on disk */
    int64_t shape[3];
    obj *objs;
    int64_t n;
    int64_t *order; /* task -> object, biggest box first */
    ax_mesh **out;
    tstate *ts;
    int nts;
    ax_progress *prog;
    /* bounding-box pass */
    objmap *maps;
    ax__grid grid;
} job;

static void tstate_free(tstate *t)
{
    free(t->mask);
    free(t->crop);
    free(t->pos);
    ax__mc_scratch_free(&t->mc);
    ax__mc_out_free(&t->mo);
}

static bool grow_buf(void **buf, size_t *cap, size_t n, size_t esz)
{
    if (*cap >= n) return true;
    void *b = ax__malloc_array(n, esz);
    if (!b) return false;
    free(*buf);
    *buf = b;
    *cap = n;
    return true;
}

/* Raw mesh (mc out, padded-mask coordinates) -> simplified ax_mesh in nm.
 * base: nm of padded coordinate 0 (x, y, z order); vs: nm per voxel (x, y, z order). */
static int finish_mesh(tstate *t, const double base[3], const double vs[3], uint64_t id,
                       const ax_mesh_params *p, ax_mesh **out)
{
    ax__mc_out *mo = &t->mo;
    *out = NULL;
    if (mo->nt == 0) return AX_OK;
    if (!grow_buf((void **)&t->pos, &t->pos_cap, (size_t)mo->nv * 3, sizeof(double)))
        return ax__err(AX_E_NOMEM, "mesh: out of memory (object %llu)", (unsigned long long)id);
    for (int64_t i = 0; i < mo->nv; i++)
        for (int d = 0; d < 3; d++) t->pos[3 * i + d] = (double)mo->v[3 * i + d] * vs[d];
    int64_t nv = mo->nv, nt = mo->nt;
    int rc = ax__smooth(t->pos, nv, mo->t, nt, p->smooth_iterations);
    if (rc < 0) return rc;
    if (p->reduction < 1 || p->max_error > 0) {
        int64_t target = (int64_t)ceil(p->reduction * (double)nt);
        if (target < 4) target = 4;
        rc = ax__simplify(t->pos, &nv, mo->t, &nt, target, p->max_error);
        if (rc < 0) return ax__err_prefix(rc, "object %llu", (unsigned long long)id);
    }
    ax_mesh *m = ax__calloc(1, sizeof *m);
    if (!m) return ax__err(AX_E_NOMEM, "mesh: out of memory");
    m->id = id;
    m->n_vertices = nv;
    m->n_triangles = nt;
    m->n_triangles_mc = mo->nt;
    m->vertices = ax__malloc_array((size_t)nv * 3, sizeof *m->vertices);
    m->triangles = ax__malloc_array((size_t)nt * 3, sizeof *m->triangles);
    if (!m->vertices || !m->triangles) {
        ax_mesh_free(m);
        return ax__err(AX_E_NOMEM, "mesh: out of memory (object %llu)", (unsigned long long)id);
    }
    for (int64_t i = 0; i < nv; i++)
        for (int d = 0; d < 3; d++) m->vertices[3 * i + d] = (float)(base[d] + t->pos[3 * i + d]);
    memcpy(m->triangles, mo->t, (size_t)nt * 3 * sizeof *m->triangles);
    *out = m;
    return AX_OK;
}

static int mesh_task(void *vctx, int64_t i, int thread)
{
    job *c = vctx;
    int64_t k = c->order[i];
    const obj *o = &c->objs[k];
    tstate *t = &c->ts[thread];
    int64_t box[3], pad[3], nbox = 1, npad = 1;
    for (int d = 0; d < 3; d++) {
        box[d] = o->hi[d] - o->lo[d] + 1;
        pad[d] = box[d] + 2;
        if (!ax__mul_ok(npad, pad[d], &npad) || !ax__mul_ok(nbox, box[d], &nbox))
            return ax__err(AX_E_RANGE, "mesh: object %llu: bounding box too large",
                           (unsigned long long)o->id);
    }
    if (!grow_buf((void **)&t->mask, &t->mask_cap, (size_t)npad, 1))
        return ax__err(AX_E_NOMEM, "mesh: object %llu: out of memory (box of %lld voxels)",
                       (unsigned long long)o->id, (long long)npad);
    const uint64_t *src;
    int64_t rs, ps; /* source row and plane strides */
    if (c->vol) {
        if (!grow_buf((void **)&t->crop, &t->crop_cap, (size_t)nbox, sizeof(uint64_t)))
            return ax__err(AX_E_NOMEM, "mesh: object %llu: out of memory (box of %lld voxels)",
                           (unsigned long long)o->id, (long long)nbox);
        int rc = ax_volume_read_region_as(c->vol, o->lo, box, AX_DTYPE_U64, t->crop);
        if (rc < 0) return rc;
        src = t->crop;
        rs = box[2];
        ps = box[1] * box[2];
    } else {
        rs = c->shape[2];
        ps = c->shape[1] * c->shape[2];
        src = c->labels + o->lo[0] * ps + o->lo[1] * rs + o->lo[2];
    }
    /* padded 0/1 mask: the border stays background so every surface closes */
    uint8_t *m = t->mask;
    const uint64_t id = o->id;
    const int64_t pp = pad[1] * pad[2];
    memset(m, 0, (size_t)pp);
    for (int64_t z = 0; z < box[0]; z++) {
        uint8_t *mp = m + (z + 1) * pp;
        memset(mp, 0, (size_t)pad[2]);
        for (int64_t y = 0; y < box[1]; y++) {
            uint8_t *mr = mp + (y + 1) * pad[2];
            const uint64_t *r = src + z * ps + y * rs;
            mr[0] = 0;
            for (int64_t x = 0; x < box[2]; x++) mr[x + 1] = r[x] == id;
            mr[box[2] + 1] = 0;
        }
        memset(mp + (box[1] + 1) * pad[2], 0, (size_t)pad[2]);
    }
    memset(m + (box[0] + 1) * pp, 0, (size_t)pp);
    t->mo.nv = t->mo.nt = 0;
    int rc = ax__mc_run(m, pad, &t->mc, &t->mo);
    if (rc < 0) return ax__err_prefix(rc, "object %llu", (unsigned long long)id);
    double base[3], vs[3];
    for (int d = 0; d < 3; d++) { /* (x, y, z) = axes 2, 1, 0 */
        int a = 2 - d;
        vs[d] = c->vs[a];
        base[d] = c->off[a] + ((double)o->lo[a] - 0.5) * c->vs[a];
    }
    rc = finish_mesh(t, base, vs, id, c->p, &c->out[k]);
    ax_progress_add(c->prog, 1);
    return rc;
}

/* tasks: box volume, largest first; ties by index (a total order: deterministic) */
typedef struct order_key {
    double vol;
    int64_t i;
} order_key;

static int cmp_order(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->vol != y->vol) return x->vol > y->vol ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int check_params(const ax_mesh_params *p)
{
    if (!(p->reduction > 0 && p->reduction <= 1))
        return ax__err(AX_E_INVALID, "mesh: reduction %g: a fraction in (0, 1]", p->reduction);
    if (!(p->max_error >= 0) || !isfinite(p->max_error))
        return ax__err(AX_E_INVALID, "mesh: max_error %g: >= 0 (0 = off)", p->max_error);
    if (p->dust < 0) return ax__err(AX_E_INVALID, "mesh: dust %lld: >= 0", (long long)p->dust);
    if (p->smooth_iterations < 0 || p->smooth_iterations > 10000)
        return ax__err(AX_E_INVALID, "mesh: smooth_iterations %d: 0..10000",
                       p->smooth_iterations);
    if (p->n_ids < 0 || (p->n_ids > 0 && !p->ids))
        return ax__err(AX_E_INVALID, "mesh: ids: %lld ids and %s pointer", (long long)p->n_ids,
                       p->ids ? "a" : "no");
    for (int d = 0; d < 3; d++) {
        if (!(p->voxel_size[d] >= 0) || !isfinite(p->voxel_size[d]))
            return ax__err(AX_E_INVALID, "mesh: voxel size %g: positive (0 = default)",
                           p->voxel_size[d]);
        if (!isfinite(p->offset[d])) return ax__err(AX_E_INVALID, "mesh: offset not finite");
    }
    return AX_OK;
}

/* Mesh c->objs (sorted by id) into a new array *out. */
static int mesh_objects(job *c, ax_mesh ***out, int64_t *n_out)
{
    int rc = AX_OK;
    c->out = ax__calloc(c->n ? (size_t)c->n : 1, sizeof *c->out);
    c->order = ax__malloc_array(c->n ? (size_t)c->n : 1, sizeof *c->order);
    c->nts = ax_threads_get();
    c->ts = ax__calloc((size_t)c->nts, sizeof *c->ts);
    if (!c->out || !c->order || !c->ts) {
        rc = ax__err(AX_E_NOMEM, "mesh: out of memory (%lld objects)", (long long)c->n);
        goto out;
    }
    order_key *keys = ax__malloc_array(c->n ? (size_t)c->n : 1, sizeof *keys);
    if (!keys) {
        rc = ax__err(AX_E_NOMEM, "mesh: out of memory (%lld objects)", (long long)c->n);
        goto out;
    }
    for (int64_t i = 0; i < c->n; i++) {
        const obj *o = &c->objs[i];
        keys[i].vol = (double)(o->hi[0] - o->lo[0] + 1) * (double)(o->hi[1] - o->lo[1] + 1) *
                      (double)(o->hi[2] - o->lo[2] + 1);
        keys[i].i = i;
    }
    qsort(keys, (size_t)c->n, sizeof *keys, cmp_order);
    for (int64_t i = 0; i < c->n; i++) c->order[i] = keys[i].i;
    free(keys);
    c->prog = ax_progress_new("mesh", c->n);
    rc = ax_parallel_for(c->n, mesh_task, c);
    ax_progress_done(c->prog);
    if (rc < 0) goto out;
    /* empty meshes (nothing left after the mask, cannot happen for a real object) drop out */
    int64_t k = 0;
    for (int64_t i = 0; i < c->n; i++)
        if (c->out[i]) c->out[k++] = c->out[i];
    *out = c->out;
    *n_out = k;
    c->out = NULL;
out:
    if (c->out) ax_meshes_free(c->out, c->n);
    c->out = NULL;
    if (c->ts)
        for (int i = 0; i < c->nts; i++) tstate_free(&c->ts[i]);
    free(c->ts);
    free(c->order);
    return rc;
}

/* ---- in memory ------------------------------------------------------------------------ */

static int scan_slab_task(void *vctx, int64_t i, int thread)
{
    job *c = vctx;
    int64_t start[3], size[3];
    ax__grid_box(&c->grid, i, start, size);
    const uint64_t *buf = c->labels + (start[0] * c->shape[1] + start[1]) * c->shape[2] + start[2];
    int rc = scan_box(&c->maps[thread], buf, start, size, c->shape[2], c->shape[1] * c->shape[2]);
    return rc < 0 ? ax__err(rc, "mesh: out of memory (label table)") : AX_OK;
}

static int scan_volume_task(void *vctx, int64_t i, int thread);

/* bounding boxes of every label, by blocks of the grid, then the selection */
static int find_objects(job *c, int (*task)(void *, int64_t, int))
{
    int nt = ax_threads_get();
    c->maps = ax__calloc((size_t)nt, sizeof *c->maps);
    if (!c->maps) return ax__err(AX_E_NOMEM, "mesh: out of memory");
    int rc = AX_OK;
    for (int i = 0; i < nt && rc == AX_OK; i++) rc = objmap_init(&c->maps[i], 64);
    ax_progress *prog = NULL;
    if (rc == AX_OK) {
        if (task == scan_volume_task) {
            prog = ax_progress_new("mesh: bounding boxes", c->grid.count);
            c->prog = prog;
        }
        rc = ax_parallel_for(c->grid.count, task, c);
        ax_progress_done(prog);
        c->prog = NULL;
    }
    for (int i = 1; i < nt && rc == AX_OK; i++) rc = merge_maps(&c->maps[0], &c->maps[i]);
    if (rc == AX_OK) rc = select_objects(&c->maps[0], c->p, &c->objs, &c->n);
    for (int i = 0; i < nt; i++) free(c->maps[i].e);
    free(c->maps);
    c->maps = NULL;
    return rc;
}

int ax_mesh_labels(const uint64_t *labels, const int64_t shape[3], const ax_mesh_params *p,
                   ax_mesh ***out, int64_t *n_out)
{
    if (!out || !n_out) return ax__err(AX_E_INVALID, "mesh: NULL output");
    *out = NULL;
    *n_out = 0;
    ax_mesh_params def = ax_mesh_params_default();
    if (!p) p = &def;
    if (!labels || !shape) return ax__err(AX_E_INVALID, "mesh: NULL labels or shape");
    int64_t n;
    if (shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0 || !ax__mul_ok(shape[0], shape[1], &n) ||
        !ax__mul_ok(n, shape[2], &n))
        return ax__err(AX_E_INVALID, "mesh: bad shape %lld x %lld x %lld", (long long)shape[0],
                       (long long)shape[1], (long long)shape[2]);
    int rc = check_params(p);
    if (rc < 0) return rc;
    job c = {.p = p, .labels = labels};
    for (int d = 0; d < 3; d++) {
        c.shape[d] = shape[d];
        c.vs[d] = p->voxel_size[d] > 0 ? p->voxel_size[d] : 1;
        c.off[d] = p->offset[d];
    }
    /* z slabs of ~1M voxels */
    int64_t plane = shape[1] * shape[2], block[3] = {1, shape[1], shape[2]};
    block[0] = plane >= (1 << 20) ? 1 : (1 << 20) / plane;
    if (block[0] > shape[0]) block[0] = shape[0];
    if (plane >= ((int64_t)1 << 31)) block[1] = ((int64_t)1 << 30) / shape[2] + 1;
    if ((rc = ax__grid_init(&c.grid, shape, block)) < 0) return rc;
    if ((rc = find_objects(&c, scan_slab_task)) < 0) return rc;
    rc = mesh_objects(&c, out, n_out);
    free(c.objs);
    return rc;
}

/* ---- on disk ---------------------------------------------------------------------------- */

static int scan_volume_task(void *vctx, int64_t i, int thread)
{
    job *c = vctx;
    int64_t start[3], size[3];
    ax__grid_box(&c->grid, i, start, size);
    tstate *t = &c->ts[thread]; /* borrow the crop buffer */
    size_t n = (size_t)(size[0] * size[1] * size[2]);
    if (!grow_buf((void **)&t->crop, &t->crop_cap, n, sizeof(uint64_t)))
        return ax__err(AX_E_NOMEM, "mesh: out of memory (block of %zu voxels)", n);
    int rc = ax_volume_read_region_as(c->vol, start, size, AX_DTYPE_U64, t->crop);
    if (rc < 0) return rc;
    rc = scan_box(&c->maps[thread], t->crop, start, size, size[2], size[1] * size[2]);
    ax_progress_add(c->prog, 1);
    return rc < 0 ? ax__err(rc, "mesh: out of memory (label table)") : AX_OK;
}

int ax_mesh_volume(ax_volume *seg, const ax_mesh_params *p, ax_mesh ***out, int64_t *n_out)
{
    if (!out || !n_out) return ax__err(AX_E_INVALID, "mesh: NULL output");
    *out = NULL;
    *n_out = 0;
    if (!seg) return ax__err(AX_E_INVALID, "mesh: NULL volume");
    ax_mesh_params def = ax_mesh_params_default();
    if (!p) p = &def;
    int rc = check_params(p);
    if (rc < 0) return rc;
    const ax_volume_info *vi = ax_volume_get_info(seg);
    const char *path = ax_volume_path(seg);
    if (vi->ndim != 3)
        return ax__err(AX_E_RANGE, "%s: meshing needs a 3-d (z, y, x) label volume; this one is %d-d",
                       path, vi->ndim);
    if (vi->dtype == AX_DTYPE_F32 || vi->dtype == AX_DTYPE_UNKNOWN)
        return ax__err(AX_E_DTYPE, "%s: meshing needs integer labels; this volume is %s", path,
                       ax_dtype_name(vi->dtype));
    job c = {.p = p, .vol = seg};
    for (int d = 0; d < 3; d++) {
        c.shape[d] = vi->shape[d];
        c.vs[d] = p->voxel_size[d] > 0 ? p->voxel_size[d] : vi->voxel_size[d];
        c.off[d] = vi->offset[d] + p->offset[d];
        if (!(c.vs[d] > 0))
            return ax__err(AX_E_INVALID, "%s: voxel size %g along axis %d", path, c.vs[d], d);
    }
    /* blocks: the chunks, doubled along x, y, then z up to ~2M voxels */
    int64_t block[3];
    for (int d = 0; d < 3; d++) block[d] = vi->chunks[d] > 0 ? vi->chunks[d] : 64;
    for (int d = 2; d >= 0; d--)
        while (block[d] < c.shape[d] && block[0] * block[1] * block[2] * 2 <= (1 << 21))
            block[d] *= 2;
    if ((rc = ax__grid_init(&c.grid, c.shape, block)) < 0) return rc;
    c.nts = ax_threads_get();
    c.ts = ax__calloc((size_t)c.nts, sizeof *c.ts);
    if (!c.ts) return ax__err(AX_E_NOMEM, "mesh: out of memory");
    rc = find_objects(&c, scan_volume_task);
    for (int i = 0; i < c.nts; i++) tstate_free(&c.ts[i]);
    free(c.ts);
    c.ts = NULL;
    if (rc < 0) return rc;
    rc = mesh_objects(&c, out, n_out);
    free(c.objs);
    return rc;
}

/* ---- one mask --------------------------------------------------------------------------- */

int ax_mesh_mask(const uint8_t *mask, const int64_t shape[3], const double voxel_size[3],
                 const double offset[3], ax_mesh **out)
{
    if (!out) return ax__err(AX_E_INVALID, "mesh: NULL output");
    *out = NULL;
    if (!mask || !shape) return ax__err(AX_E_INVALID, "mesh: NULL mask or shape");
    int64_t pad[3], n = 1;
    for (int d = 0; d < 3; d++) {
        if (shape[d] <= 0 || !ax__mul_ok(n, shape[d] + 2, &n))
            return ax__err(AX_E_INVALID, "mesh: bad mask shape %lld x %lld x %lld",
                           (long long)shape[0], (long long)shape[1], (long long)shape[2]);
        pad[d] = shape[d] + 2;
        if (voxel_size && (!(voxel_size[d] > 0) || !isfinite(voxel_size[d])))
            return ax__err(AX_E_INVALID, "mesh: voxel size %g: must be positive", voxel_size[d]);
        if (offset && !isfinite(offset[d])) return ax__err(AX_E_INVALID, "mesh: offset not finite");
    }
    tstate t;
    memset(&t, 0, sizeof t);
    t.mask = ax__calloc((size_t)n, 1);
    if (!t.mask) return ax__err(AX_E_NOMEM, "mesh: out of memory (mask of %lld voxels)", (long long)n);
    for (int64_t z = 0; z < shape[0]; z++)
        for (int64_t y = 0; y < shape[1]; y++) {
            const uint8_t *r = mask + (z * shape[1] + y) * shape[2];
            uint8_t *m = t.mask + ((z + 1) * pad[1] + y + 1) * pad[2] + 1;
            for (int64_t x = 0; x < shape[2]; x++) m[x] = r[x] != 0;
        }
    int rc = ax__mc_run(t.mask, pad, &t.mc, &t.mo);
    if (rc == AX_OK) {
        ax_mesh_params p = ax_mesh_params_default();
        p.reduction = 1;
        double base[3], vs[3];
        for (int d = 0; d < 3; d++) {
            int a = 2 - d;
            vs[d] = voxel_size ? voxel_size[a] : 1;
            base[d] = (offset ? offset[a] : 0) - 0.5 * vs[d];
        }
        rc = finish_mesh(&t, base, vs, 0, &p, out);
    }
    tstate_free(&t);
    return rc;
}

/* ---- simplification of a given mesh ------------------------------------------------------ */

int ax_mesh_simplify(ax_mesh *m, double reduction, double max_error)
{
    if (!m) return ax__err(AX_E_INVALID, "mesh simplify: NULL mesh");
    if (!(reduction > 0 && reduction <= 1))
        return ax__err(AX_E_INVALID, "mesh simplify: reduction %g: a fraction in (0, 1]", reduction);
    if (!(max_error >= 0) || !isfinite(max_error))
        return ax__err(AX_E_INVALID, "mesh simplify: max_error %g: >= 0", max_error);
    const char *why = NULL;
    if (!ax_mesh_is_closed_manifold(m, NULL, &why))
        return ax__err(AX_E_INVALID, "mesh %llu: not a closed oriented manifold: %s",
                       (unsigned long long)m->id, why);
    if (m->n_vertices >= INT32_MAX)
        return ax__err(AX_E_RANGE, "mesh %llu: over 2^31 vertices", (unsigned long long)m->id);
    int64_t nv = m->n_vertices, nt = m->n_triangles;
    double *pos = ax__malloc_array((size_t)(nv ? nv : 1) * 3, sizeof *pos);
    if (!pos) return ax__err(AX_E_NOMEM, "mesh simplify: out of memory");
    /* local coordinates: quadrics of positions near 1e5 nm would lose digits to d^2 */
    double o[3] = {0, 0, 0};
    if (nv) for (int d = 0; d < 3; d++) o[d] = m->vertices[d];
    for (int64_t i = 0; i < nv; i++)
        for (int d = 0; d < 3; d++) pos[3 * i + d] = (double)m->vertices[3 * i + d] - o[d];
    int64_t target = (int64_t)ceil(reduction * (double)nt);
    if (target < 4) target = 4;
    int rc = AX_OK;
    if (reduction < 1 || max_error > 0)
        rc = ax__simplify(pos, &nv, m->triangles, &nt, target, max_error);
    if (rc == AX_OK) {
        for (int64_t i = 0; i < nv; i++)
            for (int d = 0; d < 3; d++) m->vertices[3 * i + d] = (float)(pos[3 * i + d] + o[d]);
        m->n_vertices = nv;
        m->n_triangles = nt;
        /* shrink to fit; failing to shrink is harmless */
        float *v = realloc(m->vertices, (size_t)(nv ? nv : 1) * 3 * sizeof *v);
        if (v) m->vertices = v;
        uint32_t *t = realloc(m->triangles, (size_t)(nt ? nt : 1) * 3 * sizeof *t);
        if (t) m->triangles = t;
    }
    free(pos);
    return rc;
}

/* ---- measures ----------------------------------------------------------------------------- */

void ax_mesh_measure(const ax_mesh *m, double *volume, double *area)
{
    double vol = 0, ar = 0;
    if (m && m->n_vertices > 0) {
        const float *v = m->vertices;
        double o[3] = {v[0], v[1], v[2]}; /* relative to a vertex: fewer cancelled digits */
        for (int64_t t = 0; t < m->n_triangles; t++) {
            double p[3][3];
            for (int k = 0; k < 3; k++)
                for (int d = 0; d < 3; d++) p[k][d] = v[3 * (int64_t)m->triangles[3 * t + k] + d] - o[d];
            double cx = p[1][1] * p[2][2] - p[1][2] * p[2][1];
            double cy = p[1][2] * p[2][0] - p[1][0] * p[2][2];
            double cz = p[1][0] * p[2][1] - p[1][1] * p[2][0];
            vol += (p[0][0] * cx + p[0][1] * cy + p[0][2] * cz) / 6;
            double e1[3], e2[3];
            for (int d = 0; d < 3; d++) {
                e1[d] = p[1][d] - p[0][d];
                e2[d] = p[2][d] - p[0][d];
            }
            double nx = e1[1] * e2[2] - e1[2] * e2[1], ny = e1[2] * e2[0] - e1[0] * e2[2],
                   nz = e1[0] * e2[1] - e1[1] * e2[0];
            ar += 0.5 * sqrt(nx * nx + ny * ny + nz * nz);
        }
    }
    if (volume) *volume = vol;
    if (area) *area = ar;
}

/* half-edge leaving a vertex: its head vertex and the corner it starts at */
typedef struct hedge {
    uint32_t head, corner;
} hedge;

static int cmp_hedge(const void *a, const void *b)
{
    const hedge *x = a, *y = b;
    if (x->head != y->head) return x->head < y->head ? -1 : 1;
    return x->corner < y->corner ? -1 : x->corner > y->corner;
}

/* the half-edge v -> head in v's sorted list, or NULL */
static const hedge *find_hedge(const hedge *h, const int64_t *start, uint32_t v, uint32_t head)
{
    int64_t lo = start[v], hi = start[v + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (h[mid].head < head) lo = mid + 1;
        else hi = mid;
    }
    return lo < start[v + 1] && h[lo].head == head ? &h[lo] : NULL;
}

/* Half-edges grouped by tail vertex (counting sort) and sorted by head within a vertex:
 * every check is a lookup among one vertex's few neighbours, which stays in cache (a hash
 * of all edges cost as much as simplifying). */
bool ax_mesh_is_closed_manifold(const ax_mesh *m, int64_t *euler, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    *why = NULL;
    if (!m || m->n_triangles < 0 || m->n_vertices < 0 || (m->n_triangles && !m->triangles) ||
        (m->n_vertices && !m->vertices)) {
        *why = "NULL or negative counts";
        return false;
    }
    const int64_t nt = m->n_triangles, nv = m->n_vertices;
    if (nt == 0) {
        *why = "no triangles";
        return false;
    }
    if (nv >= UINT32_MAX || 3 * nt >= UINT32_MAX) {
        *why = "too large";
        return false;
    }
    const uint32_t *T = m->triangles;
    for (int64_t t = 0; t < nt; t++) {
        uint32_t a = T[3 * t], b = T[3 * t + 1], c = T[3 * t + 2];
        if (a >= nv || b >= nv || c >= nv) {
            *why = "vertex index out of range";
            return false;
        }
        if (a == b || b == c || a == c) {
            *why = "a triangle repeats a vertex";
            return false;
        }
    }
    int64_t *start = ax__calloc((size_t)nv + 1, sizeof *start);
    hedge *h = ax__malloc_array((size_t)nt * 3, sizeof *h);
    bool ok = false;
    if (!start || !h) {
        *why = "out of memory";
        goto out;
    }
    for (int64_t c = 0; c < 3 * nt; c++) start[T[c] + 1]++;
    for (int64_t v = 0; v < nv; v++) start[v + 1] += start[v];
    for (int64_t c = 0; c < 3 * nt; c++) {
        int64_t nx = c % 3 == 2 ? c - 2 : c + 1;
        h[start[T[c]]++] = (hedge){T[nx], (uint32_t)c};
    }
    for (int64_t v = nv; v > 0; v--) start[v] = start[v - 1]; /* undo the fill's shift */
    start[0] = 0;
    int64_t used = 0;
    for (int64_t v = 0; v < nv; v++) {
        int64_t n = start[v + 1] - start[v];
        if (!n) continue;
        used++;
        qsort(h + start[v], (size_t)n, sizeof *h, cmp_hedge);
        for (int64_t i = start[v] + 1; i < start[v + 1]; i++)
            if (h[i].head == h[i - 1].head) {
                *why = "a directed edge appears twice (edge shared by more than two triangles, "
                       "or inconsistent orientation)";
                goto out;
            }
    }
    for (int64_t v = 0; v < nv; v++)
        for (int64_t i = start[v]; i < start[v + 1]; i++)
            if (!find_hedge(h, start, h[i].head, (uint32_t)v)) {
                *why = "an edge with one triangle (a hole), or inconsistent orientation";
                goto out;
            }
    /* vertex stars: walking around v from one triangle must visit all of v's triangles.
     * In triangle (v, a, b) the next one around v holds the half-edge v -> b. */
    for (int64_t v = 0; v < nv; v++) {
        int64_t deg = start[v + 1] - start[v];
        if (!deg) continue;
        uint32_t c0 = h[start[v]].corner, c = c0;
        int64_t steps = 0;
        do {
            uint32_t b = T[c % 3 == 0 ? c + 2 : c - 1];
            c = find_hedge(h, start, (uint32_t)v, b)->corner; /* exists: checked above */
            steps++;
        } while (c != c0 && steps <= deg);
        if (steps != deg) {
            *why = "a vertex whose triangles form more than one fan (pinched surface)";
            goto out;
        }
    }
    if (euler) *euler = used - 3 * nt / 2 + nt;
    ok = true;
out:
    free(start);
    free(h);
    return ok;
}
