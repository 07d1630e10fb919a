/* teasar.c: the skeleton of one object (ax__teasar), TEASAR as kimimaro does it
 * (Sato et al. 2000; Silversmith et al.), on the object's bounding box.
 *
 * ALGORITHM:
 *  1. DBF: the exact anisotropic distance of every object voxel to the boundary (edt.c).
 *     Box faces that are volume edges are no boundary; if no boundary voxel exists at
 *     all, the box's outside is taken as one.
 *  2. The object voxels are numbered in raster order (a compact index) and split into
 *     26-connected pieces (breadth-first); each piece gets its own tree.
 *  3. Per piece: Dijkstra (26 neighbours, step lengths in nm) from the piece's first voxel;
 *     the farthest voxel is the root. Dijkstra again from the root gives the distance
 *     from root field (DAF) that orders targets, and a third one over
 *     step * (1 + pdrf_scale * (1 - DBF / (1.01 max DBF))^pdrf_exponent) gives every
 *     voxel a parent on a centred path to the root.
 *  4. Target loop: the voxel of largest DAF not yet invalidated is traced along the
 *     parents until the tree is met; the new voxels become vertices (parents first) and
 *     edges. Every voxel within r = scale * DBF(p) + const of a path voxel p, reached
 *     from p through object voxels, is invalidated. Until no voxel is left.
 *     The invalidation is one multi-source flood per path over the voxels still valid:
 *     each reached voxel carries the path voxel (source) that reached it with the most
 *     slack r - |v - p|, and spreads while the slack is >= 0 (kimimaro's ball "inside
 *     the component", which also stops at voxels already invalidated).
 *  Ties are broken by fixed orders (compact index, breadth-first order, last in first out
 *  in a bucket), so the result depends on the data only, never on threads or timing.
 *
 * MEMORY: the mask and 4 bytes per voxel of the padded box (the box -> index map), the
 * float EDT of the box while it is made, then about 90 bytes per object voxel, the
 * queues' entries (16 bytes per queued voxel) and 1 MiB of bucket heads.
 * PERFORMANCE: three Dijkstra runs with a bucket queue, O(n) per piece (plus the buckets),
 * plus a flood per path over the voxels its balls cover.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "skel/skel_int.h"

/* Dijkstra's circular bucket queue: enough buckets for the heaviest penalized step of the
 * default parameters (sqrt(3) * 100001 lightest steps) at full resolution */
#define DQ_BUCKETS ((int64_t)1 << 18)

typedef struct dq_ent {
    double d;     /* distance when queued */
    int32_t v;    /* voxel */
    int32_t next; /* next entry of the bucket or of the free list, -1 */
} dq_ent;

/* a bucket of the flood queue: (voxel, source) pairs, last in first out */
typedef struct fbucket {
    int32_t *e;
    int32_t n, cap;
} fbucket;

typedef struct tz {
    int64_t box[3];
    int64_t py, pz; /* strides of the padded box (x stride 1) */
    int32_t *idx;   /* padded box -> compact index, -1 for non-object voxels */
    int32_t n;      /* object voxels */
    int32_t *co;    /* n * 3: z, y, x in the box */
    float *dbf;     /* n: distance to boundary, nm */
    float *pen;     /* n: penalty factor (1 + pdrf term) */
    double a[3];    /* voxel size z, y, x */
    double origin[3];
    int64_t off[26];
    double len[26];
    int8_t dz[26], dy[26], dx[26];
    /* Dijkstra */
    double *dist;
    int32_t *parent;
    int32_t *dq_head; /* DQ_BUCKETS list heads, -1 empty */
    dq_ent *dq;       /* entry pool */
    int32_t dq_n, dq_cap, dq_free;
    /* pieces and targets */
    int32_t *order; /* component voxels, piece after piece (BFS order) */
    int32_t *stamp; /* flood number that last reached a voxel; -1 unseen by the BFS */
    float *best;    /* most slack a voxel was pushed with in flood stamp[] */
    uint8_t *valid;
    int32_t *vert; /* vertex of a voxel, -1 */
    /* flood queue: buckets of slack, fdelta nm wide, the highest first */
    fbucket *fb;
    int32_t nfb, fcur;
    double fdelta;
    /* output */
    float *ov, *orad;
    uint32_t *oe;
    int64_t nv, ne, capv, cape;
} tz;

static inline int64_t tz_pos(const tz *t, int32_t i)
{
    const int32_t *c = t->co + 3 * (int64_t)i;
    return (int64_t)(c[0] + 1) * t->pz + (int64_t)(c[1] + 1) * t->py + c[2] + 1;
}

/* ---- Dijkstra with a circular bucket queue (Dial) --------------------------------------
 * Bucket i holds the voxels whose tentative distance lies in [i, i+1) * delta. With delta
 * at most the lightest step, a voxel popped from the current bucket cannot be improved by
 * another one of that bucket, so it is final: O(1) per queue operation where a binary
 * heap of the wavefront cost twice as much. Buckets are singly linked lists in one entry
 * pool (last in, first out). Entries carry the distance they were queued with; a later,
 * shorter one makes them stale. If the heaviest step would need more than DQ_BUCKETS
 * buckets, delta grows, and a voxel improved within its own bucket is queued and
 * processed again (label correcting): still exact. The order is a function of the data,
 * so the parents are too. */

static int dq_push(tz *t, int64_t bi, double d, int32_t v)
{
    int32_t e = t->dq_free;
    if (e >= 0) {
        t->dq_free = t->dq[e].next;
    } else {
        if (t->dq_n == t->dq_cap) {
            int32_t nc = t->dq_cap ? 2 * t->dq_cap : 4096;
            dq_ent *ne = nc > t->dq_cap ? realloc(t->dq, (size_t)nc * sizeof *ne) : NULL;
            if (!ne) return ax__err(AX_E_NOMEM, "skeletonize: out of memory (Dijkstra queue)");
            t->dq = ne;
            t->dq_cap = nc;
        }
        e = t->dq_n++;
    }
    int32_t *head = &t->dq_head[bi & (DQ_BUCKETS - 1)];
    t->dq[e] = (dq_ent){d, v, *head};
    *head = e;
    return AX_OK;
}

/* Dijkstra over the m voxels vox[] from src: step lengths, times pen[] of the voxel
 * stepped into when penalized (wmax: the heaviest step then); parents when wanted.
 * *far gets the farthest voxel (the smallest index among equals). */
static int dijkstra(tz *t, const int32_t *vox, int32_t m, int32_t src, bool penalized,
                    double wmax, bool parents, int32_t *far)
{
    double delta = fmin(t->a[0], fmin(t->a[1], t->a[2]));
    if (!penalized) wmax = t->len[0]; /* (-1,-1,-1): the longest step */
    if (wmax / delta + 2 > (double)DQ_BUCKETS) delta = wmax / (double)(DQ_BUCKETS - 2);
    double inv = 1.0 / delta;
    for (int32_t k = 0; k < m; k++) t->dist[vox[k]] = INFINITY;
    t->dist[src] = 0;
    if (parents) t->parent[src] = -1;
    int rc = dq_push(t, 0, 0.0, src);
    int64_t queued = 1, cur = 0;
    while (queued > 0 && rc == AX_OK) {
        int32_t *head = &t->dq_head[cur & (DQ_BUCKETS - 1)];
        if (*head < 0) {
            cur++;
            continue;
        }
        int32_t e = *head;
        dq_ent h = t->dq[e];
        *head = h.next;
        t->dq[e].next = t->dq_free;
        t->dq_free = e;
        queued--;
        int32_t v = h.v;
        double dv = h.d;
        if (dv != t->dist[v]) continue; /* stale: improved since */
        const int32_t *ip = t->idx + tz_pos(t, v);
        for (int k = 0; k < 26; k++) {
            int32_t w = ip[t->off[k]];
            if (w < 0) continue;
            double nd = dv + (penalized ? t->len[k] * t->pen[w] : t->len[k]);
            if (nd < t->dist[w]) {
                t->dist[w] = nd;
                if (parents) t->parent[w] = v;
                int64_t bi = (int64_t)(nd * inv);
                if (bi < cur) bi = cur; /* rounding */
                if ((rc = dq_push(t, bi, nd, w)) < 0) break;
                queued++;
            }
        }
    }
    if (rc < 0) { /* empty the buckets for the next run */
        for (int64_t b = 0; b < DQ_BUCKETS; b++) t->dq_head[b] = -1;
        t->dq_n = 0;
        t->dq_free = -1;
        return rc;
    }
    int32_t best = src;
    for (int32_t k = 0; k < m; k++) {
        int32_t v = vox[k];
        if (t->dist[v] > t->dist[best] || (t->dist[v] == t->dist[best] && v < best)) best = v;
    }
    *far = best;
    return AX_OK;
}

/* ---- the invalidation flood ----------------------------------------------------------
 * A bucket queue ordered by slack (quarter-voxel buckets; last in, first out within one):
 * O(1) per push and pop where a binary heap of the flood front cost ~60% of the run. */

static int f_push(tz *t, double slack, int32_t v, int32_t src)
{
    int32_t b = (int32_t)(slack / t->fdelta);
    if (b >= t->nfb) b = t->nfb - 1;
    fbucket *q = &t->fb[b];
    if (q->n == q->cap) {
        int32_t nc = q->cap ? 2 * q->cap : 64;
        int32_t *ne = realloc(q->e, (size_t)nc * 2 * sizeof *ne);
        if (!ne) return ax__err(AX_E_NOMEM, "skeletonize: out of memory (invalidation queue)");
        q->e = ne;
        q->cap = nc;
    }
    q->e[2 * q->n] = v;
    q->e[2 * q->n + 1] = src;
    q->n++;
    if (b > t->fcur) t->fcur = b;
    return AX_OK;
}

/* invalidate the balls around path[0..np) (flood number fid); *left counts valid voxels.
 * Like kimimaro, the flood only enters voxels still valid: each voxel is invalidated and
 * expanded once over all paths, which keeps the total work O(n) however much the balls
 * overlap. best[] (valid where stamp == fid) skips pushes that cannot win. */
static int invalidate(tz *t, const int32_t *path, int64_t np, int32_t fid, double scale,
                      double cst, int64_t *left)
{
    int rc;
    t->fcur = -1;
    for (int64_t k = 0; k < np; k++) {
        int32_t v = path[k];
        double r = scale * t->dbf[v] + cst;
        if (!t->valid[v] || (t->stamp[v] == fid && t->best[v] >= r)) continue;
        t->stamp[v] = fid;
        t->best[v] = (float)r;
        if ((rc = f_push(t, r, v, v)) < 0) return rc;
    }
    while (t->fcur >= 0) {
        fbucket *q = &t->fb[t->fcur];
        if (q->n == 0) {
            t->fcur--;
            continue;
        }
        q->n--;
        int32_t v = q->e[2 * q->n], src = q->e[2 * q->n + 1];
        if (!t->valid[v]) continue;
        t->valid[v] = 0;
        (*left)--;
        double r = scale * t->dbf[src] + cst;
        const int32_t *cs = t->co + 3 * (int64_t)src, *cv = t->co + 3 * (int64_t)v;
        const int32_t *ip = t->idx + tz_pos(t, v);
        for (int k = 0; k < 26; k++) {
            int32_t w = ip[t->off[k]];
            if (w < 0 || !t->valid[w]) continue;
            double ddz = (double)(cv[0] + t->dz[k] - cs[0]) * t->a[0];
            double ddy = (double)(cv[1] + t->dy[k] - cs[1]) * t->a[1];
            double ddx = (double)(cv[2] + t->dx[k] - cs[2]) * t->a[2];
            double d2 = ddz * ddz + ddy * ddy + ddx * ddx;
            if (d2 > r * r) continue; /* outside the ball */
            double sl = r - sqrt(d2);
            if (sl < 0 || (t->stamp[w] == fid && (double)t->best[w] >= sl)) continue;
            t->stamp[w] = fid;
            t->best[w] = (float)sl;
            if ((rc = f_push(t, sl, w, src)) < 0) return rc;
        }
    }
    return AX_OK;
}

/* ---- output ------------------------------------------------------------------------ */

static int add_vertex(tz *t, int32_t v)
{
    if (t->nv == t->capv) {
        int64_t nc = t->capv ? 2 * t->capv : 256;
        float *a = realloc(t->ov, (size_t)nc * 3 * sizeof *a);
        if (a) t->ov = a;
        float *r = realloc(t->orad, (size_t)nc * sizeof *r);
        if (r) t->orad = r;
        if (!a || !r) return ax__err(AX_E_NOMEM, "skeletonize: out of memory (vertices)");
        t->capv = nc;
    }
    const int32_t *c = t->co + 3 * (int64_t)v;
    float *o = t->ov + 3 * t->nv;
    o[0] = (float)(t->origin[2] + ((double)c[2] + 0.5) * t->a[2]);
    o[1] = (float)(t->origin[1] + ((double)c[1] + 0.5) * t->a[1]);
    o[2] = (float)(t->origin[0] + ((double)c[0] + 0.5) * t->a[0]);
    t->orad[t->nv] = t->dbf[v];
    t->vert[v] = (int32_t)t->nv++;
    return AX_OK;
}

static int add_edge(tz *t, int32_t parent_vertex, int32_t child_vertex)
{
    if (t->ne == t->cape) {
        int64_t nc = t->cape ? 2 * t->cape : 256;
        uint32_t *e = realloc(t->oe, (size_t)nc * 2 * sizeof *e);
        if (!e) return ax__err(AX_E_NOMEM, "skeletonize: out of memory (edges)");
        t->oe = e;
        t->cape = nc;
    }
    t->oe[2 * t->ne] = (uint32_t)parent_vertex;
    t->oe[2 * t->ne + 1] = (uint32_t)child_vertex;
    t->ne++;
    return AX_OK;
}

/* ---- one piece ----------------------------------------------------------------------- */

typedef struct daf_key {
    uint64_t key; /* farthest first: the complement of the distance's bits */
    int32_t v;
} daf_key;

/* stable LSD radix sort of k[0..m) by key, 8 bits a pass, through tmp; passes where
 * every key has the same byte are skipped. 4x faster than qsort on the large objects. */
static void radix_sort(daf_key *k, daf_key *tmp, int32_t m)
{
    uint32_t count[8][256];
    memset(count, 0, sizeof count);
    for (int32_t i = 0; i < m; i++)
        for (int b = 0; b < 8; b++) count[b][(k[i].key >> (8 * b)) & 255]++;
    for (int b = 0; b < 8; b++) {
        uint32_t *c = count[b], sum = 0;
        bool trivial = false;
        for (int d = 0; d < 256; d++) {
            if (c[d] == (uint32_t)m) trivial = true;
            uint32_t x = c[d];
            c[d] = sum;
            sum += x;
        }
        if (trivial) continue;
        for (int32_t i = 0; i < m; i++) tmp[c[(k[i].key >> (8 * b)) & 255]++] = k[i];
        memcpy(k, tmp, (size_t)m * sizeof *k);
    }
}

static int do_piece(tz *t, const int32_t *vox, int32_t m, const ax_skel_params *p,
                    int32_t *fid, int32_t *path, daf_key *keys)
{
    int rc;
    if (m == 1) return add_vertex(t, vox[0]);
    int32_t root, far;
    if ((rc = dijkstra(t, vox, m, vox[0], false, 0, false, &root)) < 0 ||
        (rc = dijkstra(t, vox, m, root, false, 0, false, &far)) < 0)
        return rc;
    /* targets, farthest first (ties in breadth-first order); distances are >= 0, so
     * their bits order like the numbers */
    for (int32_t k = 0; k < m; k++) {
        uint64_t bits;
        memcpy(&bits, &t->dist[vox[k]], sizeof bits);
        keys[k] = (daf_key){~bits, vox[k]};
    }
    radix_sort(keys, keys + m, m);

    float dmax = 0;
    for (int32_t k = 0; k < m; k++)
        if (t->dbf[vox[k]] > dmax) dmax = t->dbf[vox[k]];
    double inv_m = 1.0 / (1.01 * (double)dmax);
    double ex = p->pdrf_exponent;
    bool int_ex = ex == floor(ex) && ex >= 0 && ex <= 64;
    float pmax = 1;
    for (int32_t k = 0; k < m; k++) {
        int32_t v = vox[k];
        double b = 1.0 - (double)t->dbf[v] * inv_m, f = 1.0;
        if (int_ex) {
            for (int e = (int)ex; e > 0; e >>= 1, b *= b) /* b^ex by squaring */
                if (e & 1) f *= b;
        } else {
            f = pow(b, ex);
        }
        t->pen[v] = (float)(1.0 + p->pdrf_scale * f);
        if (t->pen[v] > pmax) pmax = t->pen[v];
    }
    if ((rc = dijkstra(t, vox, m, root, true, t->len[0] * (double)pmax, true, &far)) < 0)
        return rc;

    for (int32_t k = 0; k < m; k++) t->valid[vox[k]] = 1;
    int64_t left = m;
    if ((rc = add_vertex(t, root)) < 0) return rc;
    int32_t next = 0;
    while (left > 0) {
        if (ax_interrupt_requested())
            return ax__err(AX_E_INTERRUPTED, "skeletonize: interrupted");
        while (next < m && !t->valid[keys[next].v]) next++;
        if (next == m) break;
        /* trace the target back to the tree */
        int64_t np = 0;
        int32_t c = keys[next].v;
        while (t->vert[c] < 0) {
            path[np++] = c;
            c = t->parent[c];
            if (c < 0) return ax__err(AX_E_INTERNAL, "skeletonize: path left the tree");
        }
        int32_t up = t->vert[c];
        for (int64_t k = np - 1; k >= 0; k--) {
            if ((rc = add_vertex(t, path[k])) < 0) return rc;
            if ((rc = add_edge(t, up, t->vert[path[k]])) < 0) return rc;
            up = t->vert[path[k]];
        }
        path[np++] = c; /* the junction's ball too */
        if ((rc = invalidate(t, path, np, ++*fid, p->scale, p->const_nm, &left)) < 0)
            return rc;
    }
    return AX_OK;
}

/* ---- the object ------------------------------------------------------------------------ */

static void tz_free(tz *t)
{
    free(t->idx);
    free(t->co);
    free(t->dbf);
    free(t->pen);
    free(t->dist);
    free(t->parent);
    free(t->dq_head);
    free(t->dq);
    free(t->order);
    free(t->stamp);
    free(t->best);
    free(t->valid);
    free(t->vert);
    for (int32_t b = 0; t->fb && b < t->nfb; b++) free(t->fb[b].e);
    free(t->fb);
    free(t->ov);
    free(t->orad);
    free(t->oe);
}

/* distance transform of the box and the compact numbering of the object's voxels */
static int setup(tz *t, const uint8_t *mask)
{
    int64_t nz = t->box[0], ny = t->box[1], nx = t->box[2], nbox = nz * ny * nx;
    t->py = nx + 2;
    t->pz = (ny + 2) * (nx + 2);
    int64_t npad;
    if (!ax__mul_ok(nz + 2, t->pz, &npad) || npad > INT64_MAX / 4)
        return ax__err(AX_E_RANGE, "skeletonize: object box %lld x %lld x %lld is too big",
                       (long long)nz, (long long)ny, (long long)nx);
    float *edt = ax__malloc_array((size_t)nbox, sizeof *edt);
    t->idx = ax__malloc_array((size_t)npad, sizeof *t->idx);
    if (!edt || !t->idx) {
        free(edt);
        return ax__err(AX_E_NOMEM, "skeletonize: out of memory for a %lld x %lld x %lld box",
                       (long long)nz, (long long)ny, (long long)nx);
    }
    int rc = ax__edt(mask, t->box, t->a, false, edt);
    int64_t n = 0;
    bool unbounded = false;
    for (int64_t i = 0; i < nbox; i++)
        if (mask[i]) {
            n++;
            if (isinf(edt[i])) unbounded = true;
        }
    /* no boundary anywhere (the object fills the volume): its outside is one */
    if (rc == AX_OK && unbounded) rc = ax__edt(mask, t->box, t->a, true, edt);
    if (rc == AX_OK && n >= INT32_MAX)
        rc = ax__err(AX_E_RANGE, "skeletonize: object of %lld voxels (2^31 at most)",
                     (long long)n);
    if (rc == AX_OK) {
        t->n = (int32_t)n;
        size_t un = (size_t)(n ? n : 1);
        t->co = ax__malloc_array(un * 3, sizeof *t->co);
        t->dbf = ax__malloc_array(un, sizeof *t->dbf);
        if (!t->co || !t->dbf)
            rc = ax__err(AX_E_NOMEM, "skeletonize: out of memory for %lld voxels", (long long)n);
    }
    if (rc < 0) {
        free(edt);
        return rc;
    }
    for (int64_t i = 0; i < npad; i++) t->idx[i] = -1;
    int32_t k = 0;
    for (int64_t z = 0; z < nz; z++)
        for (int64_t y = 0; y < ny; y++) {
            int64_t row = (z * ny + y) * nx;
            int32_t *ip = t->idx + (z + 1) * t->pz + (y + 1) * t->py + 1;
            for (int64_t x = 0; x < nx; x++) {
                if (!mask[row + x]) continue;
                ip[x] = k;
                t->co[3 * k] = (int32_t)z;
                t->co[3 * k + 1] = (int32_t)y;
                t->co[3 * k + 2] = (int32_t)x;
                t->dbf[k] = edt[row + x];
                k++;
            }
        }
    free(edt);
    int j = 0;
    for (int dz = -1; dz <= 1; dz++)
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                if (!dz && !dy && !dx) continue;
                t->dz[j] = (int8_t)dz;
                t->dy[j] = (int8_t)dy;
                t->dx[j] = (int8_t)dx;
                t->off[j] = dz * t->pz + dy * t->py + dx;
                t->len[j] = sqrt(dz * dz * t->a[0] * t->a[0] + dy * dy * t->a[1] * t->a[1] +
                                 dx * dx * t->a[2] * t->a[2]);
                j++;
            }
    return AX_OK;
}

int ax__teasar(const uint8_t *mask, const int64_t shape[3], const double aniso[3],
               const double origin[3], const ax_skel_params *p, uint64_t id, ax_skeleton **out)
{
    *out = NULL;
    tz t = {.box = {shape[0], shape[1], shape[2]}};
    memcpy(t.a, aniso, sizeof t.a);
    memcpy(t.origin, origin, sizeof t.origin);
    int rc = setup(&t, mask);
    if (rc < 0) goto out_free;
    size_t un = (size_t)(t.n ? t.n : 1);
    t.pen = ax__malloc_array(un, sizeof *t.pen);
    t.dist = ax__malloc_array(un, sizeof *t.dist);
    t.parent = ax__malloc_array(un, sizeof *t.parent);
    t.dq_head = ax__malloc_array((size_t)DQ_BUCKETS, sizeof *t.dq_head);
    t.dq_free = -1;
    t.order = ax__malloc_array(un, sizeof *t.order);
    t.stamp = ax__malloc_array(un, sizeof *t.stamp);
    t.best = ax__malloc_array(un, sizeof *t.best);
    t.valid = ax__malloc_array(un, sizeof *t.valid);
    t.vert = ax__malloc_array(un, sizeof *t.vert);
    int32_t *path = ax__malloc_array(un + 1, sizeof *path);
    daf_key *keys = ax__malloc_array(2 * un, sizeof *keys); /* and the sort's buffer */
    if (!t.pen || !t.dist || !t.parent || !t.dq_head || !t.order || !t.stamp ||
        !t.best || !t.valid || !t.vert || !path || !keys) {
        rc = ax__err(AX_E_NOMEM, "skeletonize: out of memory for %lld voxels",
                     (long long)t.n);
        goto out_path;
    }
    for (int64_t b = 0; b < DQ_BUCKETS; b++) t.dq_head[b] = -1;
    float dbf_max = 0;
    for (int32_t i = 0; i < t.n; i++) {
        t.stamp[i] = -1;
        t.vert[i] = -1;
        if (t.dbf[i] > dbf_max) dbf_max = t.dbf[i];
    }
    /* flood buckets a quarter voxel wide, at most 2^16 of them */
    double amin = fmin(t.a[0], fmin(t.a[1], t.a[2]));
    double rmax = p->scale * (double)dbf_max + p->const_nm;
    t.fdelta = fmax(amin / 4, rmax / 65536);
    t.nfb = (int32_t)(rmax / t.fdelta) + 2;
    t.fb = ax__calloc((size_t)t.nfb, sizeof *t.fb);
    if (!t.fb) {
        rc = ax__err(AX_E_NOMEM, "skeletonize: out of memory");
        goto out_path;
    }
    /* pieces: breadth-first from each unseen voxel in raster order */
    int32_t done = 0, fid = 0;
    for (int32_t s = 0; s < t.n && rc == AX_OK; s++) {
        if (t.stamp[s] != -1) continue;
        int32_t head = done, tail = done;
        t.order[tail++] = s;
        t.stamp[s] = 0;
        while (head < tail) {
            int32_t v = t.order[head++];
            const int32_t *ip = t.idx + tz_pos(&t, v);
            for (int k = 0; k < 26; k++) {
                int32_t w = ip[t.off[k]];
                if (w >= 0 && t.stamp[w] == -1) {
                    t.stamp[w] = 0;
                    t.order[tail++] = w;
                }
            }
        }
        rc = do_piece(&t, t.order + done, tail - done, p, &fid, path, keys);
        done = tail;
    }
    if (rc < 0) goto out_path;

    ax_skeleton *s = calloc(1, sizeof *s);
    if (!s) {
        rc = ax__err(AX_E_NOMEM, "skeletonize: out of memory");
        goto out_path;
    }
    s->id = id;
    s->n_vertices = t.nv;
    s->n_edges = t.ne;
    /* hand the arrays over, trimmed (NULL for an empty object) */
    s->vertices = t.nv ? realloc(t.ov, (size_t)t.nv * 3 * sizeof(float)) : t.ov;
    s->radii = t.nv ? realloc(t.orad, (size_t)t.nv * sizeof(float)) : t.orad;
    s->edges = t.ne ? realloc(t.oe, (size_t)t.ne * 2 * sizeof(uint32_t)) : t.oe;
    if (!s->vertices) s->vertices = t.ov;
    if (!s->radii) s->radii = t.orad;
    if (!s->edges) s->edges = t.oe;
    t.ov = NULL;
    t.orad = NULL;
    t.oe = NULL;
    *out = s;
out_path:
    free(path);
    free(keys);
out_free:
    tz_free(&t);
    return rc;
}
