/* watershed.c: zwatershed (Zlateski & Seung 2015) on a nearest-neighbour affinity graph,
 * block by block, with a result that does not depend on the block shape.
 *
 * Per voxel v, m = the largest affinity of its (up to six) edges.
 *   m <= low           v is background (0) and joins nothing.
 *   m >= high          v joins every neighbour it shares an edge >= high with.
 *   low < m < high     v follows one edge of weight m (steepest ascent): the first, in the
 *                      order -z,-y,-x,+z,+y,+x, that leads off the plateau (to a neighbour
 *                      whose own largest edge is > m), else the first of weight m.
 * The basins are the connected components of these links. zwatershed divides plateaus by
 * a breadth-first search from their exits; the rule above takes the search's first step
 * and breaks the remaining ties by direction, which keeps every decision local to a
 * two-voxel neighbourhood. That locality is the seam rule: a block read with a halo of one
 * voxel below and two above decides exactly what the whole volume would, so the links
 * across block faces are recorded and joined afterwards (union-find over block-local
 * labels). Exact ties below `high` are rare with float affinities.
 *
 * Then, as zwatershed: the region graph of basins weighted by the largest affinity between
 * them, edges taken from the largest down to merge_low, joining two regions when either is
 * smaller than size_threshold; regions still smaller than dust become 0. Every ordering
 * uses keys that do not depend on blocks (weight, then each basin's first voxel in raster
 * order), so the result is identical for any block shape and thread count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seg/seg_int.h"

ax_watershed_params ax_watershed_params_default(void)
{
    ax_watershed_params p;
    memset(&p, 0, sizeof p);
    p.low = 0.0001f;
    p.high = 0.9999f;
    p.merge_low = 0.3f;
    p.size_threshold = 250;
    p.dust = 50;
    return p;
}

enum { NONBG = 0x40 };

/* What pass 1 keeps of a block: label statistics, region-graph edges inside it, and its
 * six faces (labels and link flags; the high faces also carry the affinity across). */
typedef struct ws_block {
    uint32_t n;                 /* local labels 1..n */
    uint64_t *size, *minidx;    /* [n + 1] */
    ax__u64map edges;           /* pair of local labels -> float bits of the max affinity */
    uint32_t *flab[2][3];       /* [low/high][axis] face labels */
    uint8_t *fflag[2][3];
    float *fw[3];               /* high faces: affinity to the voxel above */
} ws_block;

/* per-thread buffers, kept across blocks: fresh large allocations cost page faults */
typedef struct ws_scratch {
    float *A, *vmax;
    uint8_t *flag;
    uint32_t *par;
    uint64_t *lab;
    size_t hn, bn;
} ws_scratch;

static int scratch_fit(ws_scratch *S, size_t hn, size_t bn)
{
    if (hn > S->hn) {
        free(S->A);
        free(S->vmax);
        S->A = ax__malloc_array(3 * hn, sizeof(float));
        S->vmax = ax__malloc_array(hn, sizeof(float));
        S->hn = S->A && S->vmax ? hn : 0;
        if (!S->hn) return AX_E_NOMEM;
    }
    if (bn > S->bn) {
        free(S->flag);
        free(S->par);
        free(S->lab);
        S->flag = ax__malloc_array(bn, 1);
        S->par = ax__malloc_array(bn, sizeof(uint32_t));
        S->lab = ax__malloc_array(bn, sizeof(uint64_t));
        S->bn = S->flag && S->par && S->lab ? bn : 0;
        if (!S->bn) return AX_E_NOMEM;
    }
    return AX_OK;
}

static void scratch_free(ws_scratch *S)
{
    free(S->A);
    free(S->vmax);
    free(S->flag);
    free(S->par);
    free(S->lab);
    memset(S, 0, sizeof *S);
}

typedef struct ws_ctx {
    ws_scratch *scr;            /* one per thread */
    bool need_rg;               /* size merging needs the region graph; else skip it */
    const ax_watershed_params *p;
    ax__io in, out;
    ax__grid g;
    ws_block *blocks;
    uint64_t *off;              /* block -> first global label index */
    uint64_t *final_of_g;       /* global label index -> output id */
    ax_progress *prog;
} ws_ctx;

static int64_t face_n(const int64_t size[3], int d)
{
    return d == 0 ? size[1] * size[2] : d == 1 ? size[0] * size[2] : size[0] * size[1];
}

static int64_t face_i(const int64_t size[3], int d, int64_t z, int64_t y, int64_t x)
{
    return d == 0 ? y * size[2] + x : d == 1 ? z * size[2] + x : z * size[1] + y;
}

static void block_free(ws_block *b)
{
    free(b->size);
    free(b->minidx);
    ax__u64map_free(&b->edges);
    for (int s = 0; s < 2; s++)
        for (int d = 0; d < 3; d++) {
            free(b->flab[s][d]);
            free(b->fflag[s][d]);
        }
    for (int d = 0; d < 3; d++) free(b->fw[d]);
    memset(b, 0, sizeof *b);
}

static inline void put_max(uint64_t *slot, float w)
{
    uint32_t bits;
    memcpy(&bits, &w, 4);
    if (bits > *slot) *slot = bits; /* non-negative floats order like their bits */
}

/* Pass 1 on block bi: local basins (written to out as local labels) and what the global
 * stage needs. */
static int ws_pass1(void *vctx, int64_t bi, int thread)
{
    ws_ctx *c = vctx;
    const ax_watershed_params *p = c->p;
    const int64_t *sh = c->g.shape;
    int64_t s[3], b[3], hs[3], he[3], hz[3];
    ax__grid_box(&c->g, bi, s, b);
    for (int d = 0; d < 3; d++) {
        hs[d] = s[d] > 0 ? s[d] - 1 : 0;
        he[d] = s[d] + b[d] + 2 < sh[d] ? s[d] + b[d] + 2 : sh[d];
        hz[d] = he[d] - hs[d];
    }
    size_t hn = (size_t)(hz[0] * hz[1] * hz[2]), bn = (size_t)(b[0] * b[1] * b[2]);
    const int64_t hsy = hz[2], hsz = hz[1] * hz[2];
    ws_block *B = &c->blocks[bi];
    int rc = AX_OK;
    ws_scratch *S = &c->scr[thread];
    if (scratch_fit(S, hn, bn) < 0) return ax__err(AX_E_NOMEM, "watershed: out of memory for a block");
    float *A = S->A, *vmax = S->vmax;
    uint8_t *flag = S->flag;
    uint32_t *par = S->par;
    uint64_t *lab = S->lab;
    memset(flag, 0, bn);
    if ((rc = ax__io_read_affs(&c->in, hs, hz, A)) < 0) goto done;
    const float *A0 = A, *A1 = A + hn, *A2 = A + 2 * hn;

    /* largest edge of every voxel within one voxel of the block */
    int64_t lo[3], hi[3];
    for (int d = 0; d < 3; d++) {
        lo[d] = (s[d] > 0 ? s[d] - 1 : 0) - hs[d];
        hi[d] = (s[d] + b[d] + 1 < sh[d] ? s[d] + b[d] + 1 : sh[d]) - hs[d];
    }
    for (int64_t z = lo[0]; z < hi[0]; z++)
        for (int64_t y = lo[1]; y < hi[1]; y++)
            for (int64_t x = lo[2]; x < hi[2]; x++) {
                int64_t i = z * hsz + y * hsy + x;
                int64_t gz = hs[0] + z, gy = hs[1] + y, gx = hs[2] + x;
                float m = -1.0f;
                if (gz > 0 && A0[i] > m) m = A0[i];
                if (gy > 0 && A1[i] > m) m = A1[i];
                if (gx > 0 && A2[i] > m) m = A2[i];
                if (gz + 1 < sh[0] && A0[i + hsz] > m) m = A0[i + hsz];
                if (gy + 1 < sh[1] && A1[i + hsy] > m) m = A1[i + hsy];
                if (gx + 1 < sh[2] && A2[i + 1] > m) m = A2[i + 1];
                vmax[i] = m;
            }

    /* links of the block's voxels */
    const int64_t by = b[2], bz = b[1] * b[2];
    for (int64_t z = 0; z < b[0]; z++)
        for (int64_t y = 0; y < b[1]; y++)
            for (int64_t x = 0; x < b[2]; x++) {
                int64_t i = (z + s[0] - hs[0]) * hsz + (y + s[1] - hs[1]) * hsy + (x + s[2] - hs[2]);
                int64_t gz = s[0] + z, gy = s[1] + y, gx = s[2] + x;
                float m = vmax[i];
                if (!(m > p->low)) continue;
                float w[6];
                int64_t nb[6];
                w[0] = gz > 0 ? A0[i] : -1.0f, nb[0] = i - hsz;
                w[1] = gy > 0 ? A1[i] : -1.0f, nb[1] = i - hsy;
                w[2] = gx > 0 ? A2[i] : -1.0f, nb[2] = i - 1;
                w[3] = gz + 1 < sh[0] ? A0[i + hsz] : -1.0f, nb[3] = i + hsz;
                w[4] = gy + 1 < sh[1] ? A1[i + hsy] : -1.0f, nb[4] = i + hsy;
                w[5] = gx + 1 < sh[2] ? A2[i + 1] : -1.0f, nb[5] = i + 1;
                uint8_t f = NONBG;
                if (m >= p->high) {
                    for (int d = 0; d < 6; d++)
                        if (w[d] >= p->high) f |= (uint8_t)(1u << d);
                } else {
                    int first = -1, exit_d = -1;
                    for (int d = 0; d < 6; d++) {
                        if (w[d] != m) continue;
                        if (first < 0) first = d;
                        if (vmax[nb[d]] > m) {
                            exit_d = d;
                            break;
                        }
                    }
                    f |= (uint8_t)(1u << (exit_d >= 0 ? exit_d : first));
                }
                flag[z * bz + y * by + x] = f;
            }

    /* local components: union by smaller index, over links inside the block */
    for (size_t i = 0; i < bn; i++) par[i] = (uint32_t)i;
    static const int dz[6] = {-1, 0, 0, 1, 0, 0}, dy[6] = {0, -1, 0, 0, 1, 0},
                     dx[6] = {0, 0, -1, 0, 0, 1};
    for (int64_t z = 0; z < b[0]; z++)
        for (int64_t y = 0; y < b[1]; y++)
            for (int64_t x = 0; x < b[2]; x++) {
                int64_t i = z * bz + y * by + x;
                uint8_t f = flag[i];
                if (!(f & 0x3f)) continue;
                for (int d = 0; d < 6; d++) {
                    if (!(f & (1u << d))) continue;
                    int64_t nz = z + dz[d], ny = y + dy[d], nx = x + dx[d];
                    if (nz < 0 || ny < 0 || nx < 0 || nz >= b[0] || ny >= b[1] || nx >= b[2])
                        continue;
                    uint32_t ra = ax__uf_find32(par, (uint32_t)i);
                    uint32_t rb = ax__uf_find32(par, (uint32_t)(nz * bz + ny * by + nx));
                    if (ra < rb) par[rb] = ra;
                    else if (rb < ra) par[ra] = rb;
                }
            }
    /* labels in raster order: a root is the smallest index of its set, so it is met
     * before the rest of its set */
    uint32_t n = 0;
    for (size_t i = 0; i < bn; i++) {
        if (!flag[i]) {
            lab[i] = 0;
            continue;
        }
        uint32_t r = ax__uf_find32(par, (uint32_t)i);
        if (r == i) {
            lab[i] = ++n;
        } else {
            lab[i] = lab[r];
        }
    }
    B->n = n;
    B->size = ax__calloc(n + 1, sizeof(uint64_t));
    B->minidx = ax__malloc_array(n + 1, sizeof(uint64_t));
    if (!B->size || !B->minidx || ax__u64map_init(&B->edges, 64) < 0) {
        rc = ax__err(AX_E_NOMEM, "watershed: out of memory for block labels");
        goto done;
    }
    for (int64_t z = 0; z < b[0]; z++)
        for (int64_t y = 0; y < b[1]; y++)
            for (int64_t x = 0; x < b[2]; x++) {
                uint64_t l = lab[z * bz + y * by + x];
                if (!l) continue;
                if (!B->size[l]++)
                    B->minidx[l] = (uint64_t)(((s[0] + z) * sh[1] + s[1] + y) * sh[2] + s[2] + x);
            }
    /* region-graph edges inside the block (the lower voxel of each edge in the block),
     * with the last slot per axis cached */
    uint64_t last_key[3] = {AX__EMPTY, AX__EMPTY, AX__EMPTY}, *last_max[3] = {NULL, NULL, NULL};
    for (int64_t z = 0; c->need_rg && z < b[0]; z++)
        for (int64_t y = 0; y < b[1]; y++)
            for (int64_t x = 0; x < b[2]; x++) {
                int64_t i = z * bz + y * by + x;
                uint64_t l = lab[i];
                if (!l) continue;
                int64_t ai = (z + s[0] - hs[0]) * hsz + (y + s[1] - hs[1]) * hsy + (x + s[2] - hs[2]);
                const int64_t q[3] = {z > 0 ? i - bz : -1, y > 0 ? i - by : -1, x > 0 ? i - 1 : -1};
                for (int d = 0; d < 3; d++) {
                    if (q[d] < 0) continue;
                    uint64_t m = lab[q[d]];
                    if (!m || m == l) continue;
                    /* runs of voxels along a boundary repeat the pair: skip the hash */
                    uint64_t key = ax__pair_key(l, m);
                    if (key != last_key[d]) {
                        bool found;
                        uint64_t *slot = ax__u64map_upsert(&B->edges, key, 0, &found);
                        if (!slot) {
                            rc = ax__err(AX_E_NOMEM, "watershed: out of memory for edges");
                            goto done;
                        }
                        if (!found) /* an insertion may have moved every slot */
                            last_key[0] = last_key[1] = last_key[2] = AX__EMPTY;
                        last_key[d] = key;
                        last_max[d] = slot;
                    }
                    put_max(last_max[d], A[(size_t)d * hn + (size_t)ai]);
                }
            }
    /* faces */
    for (int side = 0; side < 2; side++)
        for (int d = 0; d < 3; d++) {
            int64_t fn = face_n(b, d);
            B->flab[side][d] = ax__malloc_array((size_t)fn, sizeof(uint32_t));
            B->fflag[side][d] = ax__malloc_array((size_t)fn, 1);
            if (side) B->fw[d] = ax__malloc_array((size_t)fn, sizeof(float));
            if (!B->flab[side][d] || !B->fflag[side][d] || (side && !B->fw[d])) {
                rc = ax__err(AX_E_NOMEM, "watershed: out of memory for block faces");
                goto done;
            }
            int64_t c0 = side ? b[d] - 1 : 0;
            int64_t r0[3] = {0, 0, 0}, r1[3] = {b[0], b[1], b[2]};
            r0[d] = c0, r1[d] = c0 + 1;
            for (int64_t z = r0[0]; z < r1[0]; z++)
                for (int64_t y = r0[1]; y < r1[1]; y++)
                    for (int64_t x = r0[2]; x < r1[2]; x++) {
                        int64_t i = z * bz + y * by + x, fi = face_i(b, d, z, y, x);
                        B->flab[side][d][fi] = (uint32_t)lab[i];
                        B->fflag[side][d][fi] = flag[i];
                        if (side) {
                            int64_t g[3] = {s[0] + z, s[1] + y, s[2] + x};
                            float w = 0.0f;
                            if (g[d] + 1 < sh[d]) {
                                int64_t ai = (g[0] - hs[0] + (d == 0)) * hsz +
                                             (g[1] - hs[1] + (d == 1)) * hsy + (g[2] - hs[2] + (d == 2));
                                w = A[(size_t)d * hn + (size_t)ai];
                            }
                            B->fw[d][fi] = w;
                        }
                    }
        }
    ax__io_lock(&c->out);
    rc = ax__io_write_labels(&c->out, s, b, lab);
    ax__io_unlock(&c->out);
    ax_progress_add(c->prog, 1);
done:
    return rc;
}

static int ws_pass2(void *vctx, int64_t bi, int thread)
{
    ws_ctx *c = vctx;
    int64_t s[3], b[3];
    ax__grid_box(&c->g, bi, s, b);
    size_t bn = (size_t)(b[0] * b[1] * b[2]);
    if (scratch_fit(&c->scr[thread], 0, bn) < 0)
        return ax__err(AX_E_NOMEM, "watershed: out of memory for a block");
    uint64_t *lab = c->scr[thread].lab;
    const uint64_t *map = c->final_of_g + c->off[bi] - 1; /* local label l -> map[l] */
    uint32_t n = c->blocks[bi].n;
    ax__io_lock(&c->out);
    int rc = ax__io_read_labels(&c->out, s, b, lab);
    for (size_t i = 0; rc == AX_OK && i < bn; i++) {
        uint64_t l = lab[i];
        if (l > n) rc = ax__err(AX_E_INTERNAL, "watershed: local label out of range");
        else if (l) lab[i] = map[l];
    }
    if (rc == AX_OK) rc = ax__io_write_labels(&c->out, s, b, lab);
    ax__io_unlock(&c->out);
    ax_progress_add(c->prog, 1);
    return rc;
}

typedef struct rg_edge {
    float w;
    uint32_t a, b; /* basin indices, a < b */
} rg_edge;

static int rg_cmp(const void *x, const void *y)
{
    const rg_edge *e = x, *f = y;
    if (e->w != f->w) return e->w > f->w ? -1 : 1;
    if (e->a != f->a) return e->a < f->a ? -1 : 1;
    return (e->b > f->b) - (e->b < f->b);
}

static int by_minidx(const void *x, const void *y, void *minidx)
{
    const uint64_t *m = minidx;
    uint64_t a = m[*(const uint64_t *)x], b = m[*(const uint64_t *)y];
    return (a > b) - (a < b);
}

/* Join the blocks, build the region graph of basins, merge by size, drop dust, and fill
 * c->final_of_g. */
static int ws_global(ws_ctx *c, uint64_t *n_segments)
{
    const ax__grid *g = &c->g;
    int rc = AX_OK;
    uint64_t L = 0;
    c->off = ax__malloc_array((size_t)g->count + 1, sizeof(uint64_t));
    if (!c->off) return ax__err(AX_E_NOMEM, "watershed: out of memory");
    for (int64_t i = 0; i < g->count; i++) {
        c->off[i] = L;
        L += c->blocks[i].n;
    }
    c->off[g->count] = L;
    uint64_t *par = ax__malloc_array((size_t)L + 1, sizeof(uint64_t));
    uint64_t *size = ax__calloc((size_t)L + 1, sizeof(uint64_t));
    uint64_t *minidx = ax__malloc_array((size_t)L + 1, sizeof(uint64_t));
    uint64_t *basin = ax__malloc_array((size_t)L + 1, sizeof(uint64_t));
    uint64_t *roots = NULL, *bpar = NULL, *bsize = NULL, *bfinal = NULL;
    rg_edge *edges = NULL;
    ax__u64map rg = {0};
    if (!par || !size || !minidx || !basin) {
        rc = ax__err(AX_E_NOMEM, "watershed: out of memory for %llu labels", (unsigned long long)L);
        goto done;
    }
    for (uint64_t i = 0; i < L; i++) par[i] = i;
#define GID(bi, l) (c->off[bi] + (l) - 1)
    /* links across faces */
    for (int64_t bi = 0; bi < g->count; bi++) {
        int64_t s[3], b[3];
        ax__grid_box(g, bi, s, b);
        for (int d = 0; d < 3; d++) {
            if (s[d] + b[d] >= g->shape[d]) continue;
            int64_t step = d == 0 ? g->nb[1] * g->nb[2] : d == 1 ? g->nb[2] : 1;
            int64_t bj = bi + step;
            const ws_block *P = &c->blocks[bi], *Q = &c->blocks[bj];
            int64_t fn = face_n(b, d);
            for (int64_t k = 0; k < fn; k++) {
                uint32_t lv = P->flab[1][d][k], lu = Q->flab[0][d][k];
                if (!lv || !lu) continue;
                if ((P->fflag[1][d][k] & (1u << (3 + d))) || (Q->fflag[0][d][k] & (1u << d))) {
                    uint64_t ra = ax__uf_find64(par, GID(bi, lv)), rb = ax__uf_find64(par, GID(bj, lu));
                    if (ra < rb) par[rb] = ra;
                    else if (rb < ra) par[ra] = rb;
                }
            }
        }
    }
    /* basins: roots ordered by their first voxel */
    for (uint64_t i = 0; i < L; i++) size[i] = 0, minidx[i] = UINT64_MAX;
    for (int64_t bi = 0; bi < g->count; bi++)
        for (uint32_t l = 1; l <= c->blocks[bi].n; l++) {
            uint64_t r = ax__uf_find64(par, GID(bi, l));
            size[r] += c->blocks[bi].size[l];
            if (c->blocks[bi].minidx[l] < minidx[r]) minidx[r] = c->blocks[bi].minidx[l];
        }
    uint64_t nb = 0;
    for (uint64_t i = 0; i < L; i++)
        if (par[i] == i) nb++;
    if (nb >= UINT32_MAX) {
        rc = ax__err(AX_E_RANGE, "watershed: %llu basins, more than 2^32", (unsigned long long)nb);
        goto done;
    }
    roots = ax__malloc_array((size_t)nb + 1, sizeof(uint64_t));
    bpar = ax__malloc_array((size_t)nb + 1, sizeof(uint64_t));
    bsize = ax__malloc_array((size_t)nb + 1, sizeof(uint64_t));
    bfinal = ax__malloc_array((size_t)nb + 1, sizeof(uint64_t));
    if (!roots || !bpar || !bsize || !bfinal) {
        rc = ax__err(AX_E_NOMEM, "watershed: out of memory for %llu basins", (unsigned long long)nb);
        goto done;
    }
    nb = 0;
    for (uint64_t i = 0; i < L; i++)
        if (par[i] == i) roots[nb++] = i;
    qsort_r(roots, (size_t)nb, sizeof *roots, by_minidx, minidx);
    for (uint64_t k = 0; k < nb; k++) {
        basin[roots[k]] = k;
        bpar[k] = k;
        bsize[k] = size[roots[k]];
    }
    for (uint64_t i = 0; i < L; i++) basin[i] = basin[ax__uf_find64(par, i)];

    /* region graph between basins */
    if ((rc = ax__u64map_init(&rg, (size_t)nb * 4)) < 0) {
        rc = ax__err(AX_E_NOMEM, "watershed: out of memory for the region graph");
        goto done;
    }
    for (int64_t bi = 0; c->need_rg && bi < g->count; bi++) {
        ws_block *P = &c->blocks[bi];
        for (size_t k = 0; k < P->edges.cap; k++) {
            uint64_t key = P->edges.keys[k];
            if (key == AX__EMPTY) continue;
            uint64_t a = basin[GID(bi, key >> 32)], b2 = basin[GID(bi, key & 0xffffffffu)];
            if (a == b2) continue;
            uint64_t *slot = ax__u64map_upsert(&rg, ax__pair_key(a, b2), 0, NULL);
            if (!slot) {
                rc = ax__err(AX_E_NOMEM, "watershed: out of memory for the region graph");
                goto done;
            }
            if (P->edges.vals[k] > *slot) *slot = P->edges.vals[k];
        }
        int64_t s[3], b[3];
        ax__grid_box(g, bi, s, b);
        for (int d = 0; d < 3; d++) {
            if (s[d] + b[d] >= g->shape[d]) continue;
            int64_t step = d == 0 ? g->nb[1] * g->nb[2] : d == 1 ? g->nb[2] : 1;
            int64_t bj = bi + step;
            const ws_block *Q = &c->blocks[bj];
            int64_t fn = face_n(b, d);
            for (int64_t k = 0; k < fn; k++) {
                uint32_t lv = P->flab[1][d][k], lu = Q->flab[0][d][k];
                if (!lv || !lu) continue;
                uint64_t a = basin[GID(bi, lv)], b2 = basin[GID(bj, lu)];
                if (a == b2) continue;
                uint64_t *slot = ax__u64map_upsert(&rg, ax__pair_key(a, b2), 0, NULL);
                if (!slot) {
                    rc = ax__err(AX_E_NOMEM, "watershed: out of memory for the region graph");
                    goto done;
                }
                put_max(slot, P->fw[d][k]);
            }
        }
    }
    size_t ne = 0;
    edges = ax__malloc_array(rg.size + 1, sizeof *edges);
    if (!edges) {
        rc = ax__err(AX_E_NOMEM, "watershed: out of memory for the region graph");
        goto done;
    }
    for (size_t k = 0; k < rg.cap; k++) {
        if (rg.keys[k] == AX__EMPTY) continue;
        uint32_t bits = (uint32_t)rg.vals[k];
        float w;
        memcpy(&w, &bits, 4);
        edges[ne++] = (rg_edge){w, (uint32_t)(rg.keys[k] >> 32), (uint32_t)(rg.keys[k] & 0xffffffffu)};
    }
    ax__u64map_free(&rg);
    qsort(edges, ne, sizeof *edges, rg_cmp);

    /* size-dependent single linkage (the root of a set is its first basin) */
    const uint64_t T = c->p->size_threshold > 0 ? (uint64_t)c->p->size_threshold : 0;
    for (size_t k = 0; k < ne && edges[k].w >= c->p->merge_low; k++) {
        uint64_t ra = ax__uf_find64(bpar, edges[k].a), rb = ax__uf_find64(bpar, edges[k].b);
        if (ra == rb || (bsize[ra] >= T && bsize[rb] >= T)) continue;
        if (rb < ra) {
            uint64_t t = ra;
            ra = rb;
            rb = t;
        }
        bpar[rb] = ra;
        bsize[ra] += bsize[rb];
    }
    /* dust and output ids in raster order of first voxel */
    const uint64_t D = c->p->dust > 0 ? (uint64_t)c->p->dust : 0;
    uint64_t next = 0;
    for (uint64_t k = 0; k < nb; k++) {
        uint64_t r = ax__uf_find64(bpar, k);
        if (r == k) bfinal[k] = bsize[k] >= D ? ++next : 0;
        else bfinal[k] = bfinal[r]; /* r < k: already decided */
    }
    c->final_of_g = ax__malloc_array((size_t)L + 1, sizeof(uint64_t));
    if (!c->final_of_g) {
        rc = ax__err(AX_E_NOMEM, "watershed: out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < L; i++) c->final_of_g[i] = bfinal[basin[i]];
    if (n_segments) *n_segments = next;
#undef GID
done:
    ax__u64map_free(&rg);
    free(par);
    free(size);
    free(minidx);
    free(basin);
    free(roots);
    free(bpar);
    free(bsize);
    free(bfinal);
    free(edges);
    return rc;
}

static int check_params(const ax_watershed_params *p)
{
    if (!p) return ax__err(AX_E_INVALID, "watershed: NULL parameters");
    if (!(p->low >= 0 && p->low <= 1 && p->high >= 0 && p->high <= 1 && p->low <= p->high &&
          p->merge_low >= 0 && p->merge_low <= 1))
        return ax__err(AX_E_INVALID,
                       "watershed: thresholds must satisfy 0 <= low <= high <= 1 and merge_low "
                       "in [0, 1] (got low %g, high %g, merge_low %g)",
                       (double)p->low, (double)p->high, (double)p->merge_low);
    if (p->size_threshold < 0 || p->dust < 0)
        return ax__err(AX_E_INVALID, "watershed: size threshold and dust must be >= 0");
    return AX_OK;
}

static int ws_run(ws_ctx *c, uint64_t *n_segments)
{
    int rc;
    int nt = ax_threads_get();
    c->need_rg = c->p->size_threshold > 0;
    c->blocks = ax__calloc((size_t)c->g.count, sizeof *c->blocks);
    c->scr = ax__calloc((size_t)nt, sizeof *c->scr);
    if (!c->blocks || !c->scr) {
        free(c->blocks);
        free(c->scr);
        return ax__err(AX_E_NOMEM, "watershed: out of memory");
    }
    c->prog = ax_progress_new("watershed: basins", c->g.count);
    double T0 = ax_time_now();
    rc = ax_parallel_for(c->g.count, ws_pass1, c);
    ax_progress_done(c->prog);
    double T1 = ax_time_now();
    if (rc == AX_OK) rc = ws_global(c, n_segments);
    double T2 = ax_time_now();
    if (getenv("AX_WS_PROF")) fprintf(stderr, "pass1 %.3f global %.3f\n", T1 - T0, T2 - T1);
    for (int64_t i = 0; i < c->g.count; i++) {
        ax__u64map_free(&c->blocks[i].edges);
        for (int s = 0; s < 2; s++)
            for (int d = 0; d < 3; d++) {
                free(c->blocks[i].flab[s][d]);
                free(c->blocks[i].fflag[s][d]);
                c->blocks[i].flab[s][d] = NULL;
                c->blocks[i].fflag[s][d] = NULL;
            }
        for (int d = 0; d < 3; d++) free(c->blocks[i].fw[d]), c->blocks[i].fw[d] = NULL;
    }
    if (rc == AX_OK) {
        c->prog = ax_progress_new("watershed: labels", c->g.count);
        double T3 = ax_time_now();
        rc = ax_parallel_for(c->g.count, ws_pass2, c);
        ax_progress_done(c->prog);
        if (getenv("AX_WS_PROF")) fprintf(stderr, "pass2 %.3f\n", ax_time_now() - T3);
    }
    for (int64_t i = 0; i < c->g.count; i++) block_free(&c->blocks[i]);
    for (int t = 0; t < nt; t++) scratch_free(&c->scr[t]);
    free(c->scr);
    free(c->blocks);
    free(c->off);
    free(c->final_of_g);
    return rc;
}

int ax_watershed(const float *aff, const int64_t shape[3], const ax_watershed_params *p,
                 uint64_t *seg, uint64_t *n_segments)
{
    int rc = check_params(p);
    if (rc < 0) return rc;
    if (!aff || !shape || !seg) return ax__err(AX_E_INVALID, "watershed: NULL argument");
    int64_t n = 1;
    for (int d = 0; d < 3; d++)
        if (shape[d] <= 0 || !ax__mul_ok(n, shape[d], &n) || n > INT64_MAX / 4)
            return ax__err(AX_E_RANGE, "watershed: bad shape");
    ws_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.in.aff = aff;
    c.in.name = "affinities";
    c.out.out = seg;
    c.out.name = "segmentation";
    for (int d = 0; d < 3; d++) c.in.shape[d] = c.out.shape[d] = shape[d];
    int64_t block[3];
    ax__pick_block(p->block, NULL, shape, block);
    if ((rc = ax__grid_init(&c.g, shape, block)) < 0) return rc;
    return ws_run(&c, n_segments);
}

int ax_watershed_volume(ax_volume *affs, ax_volume *out, const ax_watershed_params *p,
                        uint64_t *n_segments)
{
    int rc = check_params(p);
    if (rc < 0) return rc;
    if (!affs || !out) return ax__err(AX_E_INVALID, "watershed: NULL volume");
    ws_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    if ((rc = ax__io_from_volume(&c.in, affs, 3)) < 0) return rc;
    if ((rc = ax__io_from_volume(&c.out, out, 0)) < 0) return rc;
    if (ax_volume_get_info(out)->dtype != AX_DTYPE_U64)
        return ax__err(AX_E_DTYPE, "%s: the watershed output must be uint64", c.out.name);
    for (int d = 0; d < 3; d++)
        if (c.in.shape[d] != c.out.shape[d])
            return ax__err(AX_E_RANGE, "%s and %s: spatial shapes differ", c.in.name, c.out.name);
    int64_t block[3];
    ax__pick_block(p->block, out, c.in.shape, block);
    c.out.locked_writes = !ax__block_aligned(out, block, c.in.shape);
    if ((rc = ax__grid_init(&c.g, c.in.shape, block)) < 0) return rc;
    return ws_run(&c, n_segments);
}
