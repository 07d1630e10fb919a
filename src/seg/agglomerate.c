/* agglomerate.c: waterz-style hierarchical agglomeration of fragments.
 *
 * The region adjacency graph has an edge between two fragments for every pair of
 * face-adjacent voxels that carry them (fragment 0 takes no part), with statistics of the
 * affinities on that boundary: a fixed-point sum and count (mean), the largest value
 * (max) and, for quantiles, a 256-bin histogram, so memory grows with the number of
 * edges, never with the boundary's area. The edge of lowest score = 1 - statistic is
 * merged first (a priority queue with lazy deletion); merging two regions merges their
 * edges to shared neighbours, whose scores are recomputed. Segmentations are emitted as
 * the score passes each threshold, all from one pass.
 *
 * Block-wise: the graph is accumulated block by block (a one-voxel halo below each block
 * reaches the edges across its lower faces) and merged; sums are in fixed point (affinity
 * x 2^24, rounded) so they do not depend on the order of addition, and ties in the queue
 * are broken by edge index in the order of (fragment, fragment) ids. The result is the
 * same for any block shape and thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seg/seg_int.h"

#define NBINS 256
#define FIX_SCALE 16777216.0 /* 2^24 */

ax_agglomerate_params ax_agglomerate_params_default(void)
{
    ax_agglomerate_params p;
    memset(&p, 0, sizeof p);
    p.merge_function = AX_MERGE_MEAN;
    p.quantile = 0.5;
    return p;
}

/* growable edge statistics (one set per thread, then one global) */
typedef struct estats {
    ax__u64map index; /* pair key -> edge number */
    size_t n, cap;
    uint64_t *key, *sum, *count;
    uint32_t *maxbits;
    uint32_t *hist; /* n * NBINS when quantiles are asked for */
} estats;

static void estats_free(estats *e)
{
    ax__u64map_free(&e->index);
    free(e->key);
    free(e->sum);
    free(e->count);
    free(e->maxbits);
    free(e->hist);
    memset(e, 0, sizeof *e);
}

static int estats_reserve(estats *e, size_t n, bool hist)
{
    if (n <= e->cap) return AX_OK;
    size_t cap = e->cap ? e->cap : 256;
    while (cap < n) cap *= 2;
#define GROW(f, t)                                                                       \
    do {                                                                                 \
        t *q = realloc(e->f, cap * sizeof(t));                                           \
        if (!q) return AX_E_NOMEM;                                                       \
        e->f = q;                                                                        \
    } while (0)
    GROW(key, uint64_t);
    GROW(sum, uint64_t);
    GROW(count, uint64_t);
    GROW(maxbits, uint32_t);
#undef GROW
    if (hist) {
        uint32_t *h = realloc(e->hist, cap * NBINS * sizeof(uint32_t));
        if (!h) return AX_E_NOMEM;
        e->hist = h;
    }
    e->cap = cap;
    return AX_OK;
}

static inline int bin_of(float a)
{
    int b = (int)(a * NBINS);
    return b < 0 ? 0 : b >= NBINS ? NBINS - 1 : b;
}

static inline void add_to(estats *e, size_t i, float a, bool hist)
{
    uint32_t bits;
    memcpy(&bits, &a, 4);
    e->sum[i] += (uint64_t)llrint((double)a * FIX_SCALE);
    e->count[i]++;
    if (bits > e->maxbits[i]) e->maxbits[i] = bits;
    if (hist) e->hist[i * NBINS + bin_of(a)]++;
}

/* add one voxel edge, or (other != NULL) a whole edge's statistics */
static int estats_add(estats *e, uint64_t key, float a, const estats *other, size_t oi,
                      bool hist, size_t *out_index)
{
    bool found;
    uint64_t *slot = ax__u64map_upsert(&e->index, key, e->n, &found);
    if (!slot) return AX_E_NOMEM;
    size_t i = (size_t)*slot;
    if (!found) {
        if (estats_reserve(e, e->n + 1, hist) < 0) return AX_E_NOMEM;
        e->n++;
        e->key[i] = key;
        e->sum[i] = e->count[i] = 0;
        e->maxbits[i] = 0;
        if (hist) memset(e->hist + i * NBINS, 0, NBINS * sizeof(uint32_t));
    }
    if (other) {
        e->sum[i] += other->sum[oi];
        e->count[i] += other->count[oi];
        if (other->maxbits[oi] > e->maxbits[i]) e->maxbits[i] = other->maxbits[oi];
        if (hist)
            for (int k = 0; k < NBINS; k++) e->hist[i * NBINS + k] += other->hist[oi * NBINS + k];
    } else {
        add_to(e, i, a, hist);
    }
    if (out_index) *out_index = i;
    return AX_OK;
}

typedef struct agg_ctx {
    const ax_agglomerate_params *p;
    bool hist;
    ax__io frag, aff;
    ax__io *outs;          /* n_thresholds */
    ax__grid g;
    int nthreads;
    ax__u64map *tfrag;     /* per thread: fragment id -> first voxel index */
    estats *tedges;        /* per thread */
    ax__u64map dense;      /* fragment id -> dense index (sorted by id) */
    uint32_t *table;       /* the same for ids < ntable (compact ids), or NULL */
    uint64_t ntable;
    const uint64_t *final; /* dense -> output id, for the output pass */
    ax__io *cur_out;
    ax_progress *prog;
} agg_ctx;

/* fragment id -> dense index: a direct table when the ids are compact (watershed output
 * is 1..n), else the hash */
static inline uint64_t dense_of(const agg_ctx *c, uint64_t f)
{
    return f < c->ntable ? c->table[f] : *ax__u64map_get(&c->dense, f);
}

static inline uint64_t lookup_dense(const agg_ctx *c, uint64_t f, uint64_t *last_f,
                                    uint64_t *last_d)
{
    if (f != *last_f) {
        *last_f = f;
        *last_d = dense_of(c, f);
    }
    return *last_d;
}

/* pass A: which fragments exist and where each starts */
static int pass_fragments(void *vctx, int64_t bi, int thread)
{
    agg_ctx *c = vctx;
    int64_t s[3], b[3];
    ax__grid_box(&c->g, bi, s, b);
    size_t bn = (size_t)(b[0] * b[1] * b[2]);
    uint64_t *f = ax__malloc_array(bn, sizeof(uint64_t));
    if (!f) return ax__err(AX_E_NOMEM, "agglomerate: out of memory for a block");
    int rc = ax__io_read_labels(&c->frag, s, b, f);
    ax__u64map *m = &c->tfrag[thread];
    uint64_t last = 0;
    size_t i = 0;
    const int64_t *sh = c->g.shape;
    for (int64_t z = 0; rc == AX_OK && z < b[0]; z++)
        for (int64_t y = 0; y < b[1]; y++) {
            uint64_t row = (uint64_t)(((s[0] + z) * sh[1] + s[1] + y) * sh[2] + s[2]);
            for (int64_t x = 0; x < b[2]; x++, i++) {
                uint64_t v = f[i];
                if (!v || v == last) continue;
                if (v == AX__EMPTY) {
                    rc = ax__err(AX_E_RANGE, "%s: fragment id 2^64-1 is reserved", c->frag.name);
                    break;
                }
                last = v;
                bool found;
                uint64_t *slot = ax__u64map_upsert(m, v, row + (uint64_t)x, &found);
                if (!slot) {
                    rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory for fragment ids");
                    break;
                }
                if (found && row + (uint64_t)x < *slot) *slot = row + (uint64_t)x;
            }
            if (rc < 0) break;
        }
    free(f);
    ax_progress_add(c->prog, 1);
    return rc;
}

/* pass B: region-graph statistics */
static int pass_edges(void *vctx, int64_t bi, int thread)
{
    agg_ctx *c = vctx;
    int64_t s[3], b[3], hs[3], hz[3];
    ax__grid_box(&c->g, bi, s, b);
    for (int d = 0; d < 3; d++) {
        hs[d] = s[d] > 0 ? s[d] - 1 : 0;
        hz[d] = s[d] + b[d] - hs[d];
    }
    size_t bn = (size_t)(b[0] * b[1] * b[2]), hn = (size_t)(hz[0] * hz[1] * hz[2]);
    uint64_t *f = ax__malloc_array(hn, sizeof(uint64_t));
    float *A = ax__malloc_array(3 * bn, sizeof(float));
    int rc = AX_OK;
    if (!f || !A) {
        rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory for a block");
        goto done;
    }
    if ((rc = ax__io_read_labels(&c->frag, hs, hz, f)) < 0) goto done;
    if ((rc = ax__io_read_affs(&c->aff, s, b, A)) < 0) goto done;
    estats *E = &c->tedges[thread];
    uint64_t lf = 0, ld = 0, cp[3] = {0, 0, 0}, cq[3] = {0, 0, 0};
    size_t ci[3] = {0, 0, 0};
    const int64_t hy = hz[2], hzs = hz[1] * hz[2];
    size_t i = 0;
    for (int64_t z = 0; z < b[0]; z++)
        for (int64_t y = 0; y < b[1]; y++)
            for (int64_t x = 0; x < b[2]; x++, i++) {
                int64_t hi = (z + s[0] - hs[0]) * hzs + (y + s[1] - hs[1]) * hy + (x + s[2] - hs[2]);
                uint64_t fp = f[hi];
                if (!fp) continue;
                const bool has[3] = {s[0] + z > 0, s[1] + y > 0, s[2] + x > 0};
                const int64_t q[3] = {hi - hzs, hi - hy, hi - 1};
                for (int d = 0; d < 3; d++) {
                    if (!has[d]) continue;
                    uint64_t fq = f[q[d]];
                    if (!fq || fq == fp) continue;
                    float a = A[(size_t)d * bn + i];
                    if (fp == cp[d] && fq == cq[d]) { /* same boundary as the last voxel */
                        add_to(E, ci[d], a, c->hist);
                        continue;
                    }
                    uint64_t dp = lookup_dense(c, fp, &lf, &ld);
                    uint64_t dq = dense_of(c, fq);
                    if (estats_add(E, ax__pair_key(dp, dq), a, NULL, 0, c->hist, &ci[d]) < 0) {
                        rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory for the region graph");
                        goto done;
                    }
                    cp[d] = fp, cq[d] = fq;
                }
            }
done:
    free(f);
    free(A);
    ax_progress_add(c->prog, 1);
    return rc;
}

static int pass_output(void *vctx, int64_t bi, int thread)
{
    agg_ctx *c = vctx;
    int64_t s[3], b[3];
    ax__grid_box(&c->g, bi, s, b);
    size_t bn = (size_t)(b[0] * b[1] * b[2]);
    uint64_t *f = ax__malloc_array(bn, sizeof(uint64_t));
    if (!f) return ax__err(AX_E_NOMEM, "agglomerate: out of memory for a block");
    int rc = ax__io_read_labels(&c->frag, s, b, f);
    uint64_t lf = 0, ld = 0, lo = 0;
    for (size_t i = 0; rc == AX_OK && i < bn; i++) {
        if (!f[i]) continue;
        if (f[i] != lf) {
            ld = lookup_dense(c, f[i], &lf, &ld);
            lo = c->final[ld];
        }
        f[i] = lo;
    }
    if (rc == AX_OK) {
        ax__io_lock(c->cur_out);
        rc = ax__io_write_labels(c->cur_out, s, b, f);
        ax__io_unlock(c->cur_out);
    }
    free(f);
    ax_progress_add(c->prog, 1);
    (void)thread;
    return rc;
}

/* ---- the merge loop ----------------------------------------------------------------- */

typedef struct heap_ent {
    double score;
    uint32_t e, ver;
} heap_ent;

typedef struct heap {
    heap_ent *a;
    size_t n, cap;
} heap;

static inline bool ent_less(const heap_ent *x, const heap_ent *y)
{
    return x->score < y->score || (x->score == y->score && x->e < y->e);
}

static int heap_push(heap *h, heap_ent v)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        heap_ent *q = realloc(h->a, cap * sizeof *q);
        if (!q) return AX_E_NOMEM;
        h->a = q;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(&v, &h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = v;
    return AX_OK;
}

static heap_ent heap_pop(heap *h)
{
    heap_ent top = h->a[0], v = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const heap_ent *best = &v;
        if (l < h->n && ent_less(&h->a[l], best)) m = l, best = &h->a[l];
        if (r < h->n && ent_less(&h->a[r], best)) m = r;
        if (m == i) break;
        h->a[i] = h->a[m];
        i = m;
    }
    if (h->n) h->a[i] = v;
    return top;
}

typedef struct elist {
    uint32_t *e;
    uint32_t n, cap;
} elist;

static int elist_push(elist *l, uint32_t e)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        uint32_t *q = realloc(l->e, cap * sizeof *q);
        if (!q) return AX_E_NOMEM;
        l->e = q;
        l->cap = cap;
    }
    l->e[l->n++] = e;
    return AX_OK;
}

static double score_of(const agg_ctx *c, const estats *E, size_t i)
{
    switch (c->p->merge_function) {
    case AX_MERGE_MAX: {
        float w;
        memcpy(&w, &E->maxbits[i], 4);
        return 1.0 - (double)w;
    }
    case AX_MERGE_QUANTILE: {
        /* the bin holding rank q*(n-1), reported as the bin's centre */
        const uint32_t *h = E->hist + i * NBINS;
        double target = c->p->quantile * (double)(E->count[i] - 1);
        uint64_t cum = 0;
        int k = 0;
        for (; k < NBINS - 1; k++) {
            cum += h[k];
            if ((double)cum > target) break;
        }
        return 1.0 - ((double)k + 0.5) / NBINS;
    }
    default:
        return 1.0 - ((double)E->sum[i] / FIX_SCALE) / (double)E->count[i];
    }
}

static int by_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static int by_first_voxel(const void *x, const void *y, void *m)
{
    const uint64_t *minidx = m;
    uint64_t a = minidx[*(const uint32_t *)x], b = minidx[*(const uint32_t *)y];
    return (a > b) - (a < b);
}

/* output ids for the current merge state: segments numbered by their first voxel */
static int assign_ids(uint32_t *uf, const uint64_t *fminidx, uint64_t nf, uint64_t *final)
{
    uint64_t *segmin = ax__malloc_array((size_t)nf + 1, sizeof(uint64_t));
    uint32_t *roots = ax__malloc_array((size_t)nf + 1, sizeof(uint32_t));
    if (!segmin || !roots) {
        free(segmin);
        free(roots);
        return ax__err(AX_E_NOMEM, "agglomerate: out of memory");
    }
    for (uint64_t k = 0; k < nf; k++) segmin[k] = UINT64_MAX;
    for (uint64_t k = 0; k < nf; k++) {
        uint32_t r = ax__uf_find32(uf, (uint32_t)k);
        if (fminidx[k] < segmin[r]) segmin[r] = fminidx[k];
    }
    size_t nr = 0;
    for (uint64_t k = 0; k < nf; k++)
        if (uf[k] == k) roots[nr++] = (uint32_t)k;
    qsort_r(roots, nr, sizeof *roots, by_first_voxel, segmin);
    for (size_t k = 0; k < nr; k++) segmin[roots[k]] = k + 1; /* reuse: root -> id */
    for (uint64_t k = 0; k < nf; k++) final[k] = segmin[ax__uf_find32(uf, (uint32_t)k)];
    free(segmin);
    free(roots);
    return AX_OK;
}

static int check_params(const ax_agglomerate_params *p)
{
    if (!p) return ax__err(AX_E_INVALID, "agglomerate: NULL parameters");
    if (p->merge_function < AX_MERGE_MEAN || p->merge_function > AX_MERGE_MAX)
        return ax__err(AX_E_INVALID, "agglomerate: unknown merge function %d", (int)p->merge_function);
    if (p->merge_function == AX_MERGE_QUANTILE && !(p->quantile >= 0 && p->quantile <= 1))
        return ax__err(AX_E_INVALID, "agglomerate: quantile %g outside [0, 1]", p->quantile);
    if (p->n_thresholds < 1 || !p->thresholds)
        return ax__err(AX_E_INVALID, "agglomerate: at least one threshold is needed");
    for (int i = 0; i < p->n_thresholds; i++)
        if (!isfinite(p->thresholds[i]))
            return ax__err(AX_E_INVALID, "agglomerate: threshold %d is not a number", i);
    return AX_OK;
}

static int agg_run(agg_ctx *c)
{
    const ax_agglomerate_params *p = c->p;
    int rc = AX_OK;
    c->hist = p->merge_function == AX_MERGE_QUANTILE;
    c->nthreads = ax_threads_get();
    c->tfrag = ax__calloc((size_t)c->nthreads, sizeof *c->tfrag);
    c->tedges = ax__calloc((size_t)c->nthreads, sizeof *c->tedges);
    uint64_t *ids = NULL, *fminidx = NULL, *final = NULL;
    uint32_t *uf = NULL, *ver = NULL;
    uint8_t *alive = NULL;
    elist *lists = NULL;
    heap h = {0};
    estats E = {0};
    uint64_t *order = NULL;
    uint64_t nf = 0;
    if (!c->tfrag || !c->tedges) {
        rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory");
        goto done;
    }
    for (int t = 0; t < c->nthreads; t++)
        if (ax__u64map_init(&c->tfrag[t], 1024) < 0 || ax__u64map_init(&c->tedges[t].index, 1024) < 0) {
            rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory");
            goto done;
        }
    /* fragments, sorted by id */
    c->prog = ax_progress_new("agglomerate: fragments", c->g.count);
    rc = ax_parallel_for(c->g.count, pass_fragments, c);
    ax_progress_done(c->prog);
    if (rc < 0) goto done;
    for (int t = 1; t < c->nthreads; t++) {
        ax__u64map *m = &c->tfrag[t];
        for (size_t k = 0; k < m->cap; k++) {
            if (m->keys[k] == AX__EMPTY) continue;
            bool found;
            uint64_t *slot = ax__u64map_upsert(&c->tfrag[0], m->keys[k], m->vals[k], &found);
            if (!slot) {
                rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory");
                goto done;
            }
            if (found && m->vals[k] < *slot) *slot = m->vals[k];
        }
        ax__u64map_free(m);
    }
    ax__u64map *fm = &c->tfrag[0];
    nf = fm->size;
    if (nf >= UINT32_MAX) {
        rc = ax__err(AX_E_RANGE, "agglomerate: %llu fragments, more than 2^32", (unsigned long long)nf);
        goto done;
    }
    ids = ax__malloc_array((size_t)nf + 1, sizeof(uint64_t));
    fminidx = ax__malloc_array((size_t)nf + 1, sizeof(uint64_t));
    if (!ids || !fminidx || ax__u64map_init(&c->dense, (size_t)nf + 1) < 0) {
        rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory for %llu fragments", (unsigned long long)nf);
        goto done;
    }
    size_t k2 = 0;
    for (size_t k = 0; k < fm->cap; k++)
        if (fm->keys[k] != AX__EMPTY) ids[k2++] = fm->keys[k];
    qsort(ids, (size_t)nf, sizeof *ids, by_u64);
    for (uint64_t k = 0; k < nf; k++) {
        fminidx[k] = *ax__u64map_get(fm, ids[k]);
        if (!ax__u64map_upsert(&c->dense, ids[k], k, NULL)) {
            rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory");
            goto done;
        }
    }
    ax__u64map_free(fm);
    if (nf && ids[nf - 1] <= 4 * nf + 1024) { /* compact ids: a direct table */
        c->ntable = ids[nf - 1] + 1;
        if ((c->table = ax__malloc_array((size_t)c->ntable, sizeof(uint32_t))))
            for (uint64_t k = 0; k < nf; k++) c->table[ids[k]] = (uint32_t)k;
        else
            c->ntable = 0;
    }

    /* region graph */
    c->prog = ax_progress_new("agglomerate: region graph", c->g.count);
    rc = ax_parallel_for(c->g.count, pass_edges, c);
    ax_progress_done(c->prog);
    if (rc < 0) goto done;
    estats *G = &c->tedges[0];
    for (int t = 1; t < c->nthreads; t++) {
        estats *T = &c->tedges[t];
        for (size_t i = 0; i < T->n; i++)
            if (estats_add(G, T->key[i], 0, T, i, c->hist, NULL) < 0) {
                rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory for the region graph");
                goto done;
            }
        estats_free(T);
    }
    /* edges numbered in key order: the tie-break that does not depend on blocks */
    size_t ne = G->n;
    if (ne >= UINT32_MAX) {
        rc = ax__err(AX_E_RANGE, "agglomerate: more than 2^32 region-graph edges");
        goto done;
    }
    order = ax__malloc_array(ne + 1, sizeof(uint64_t));
    if (!order || ax__u64map_init(&E.index, ne + 1) < 0 || estats_reserve(&E, ne + 1, c->hist) < 0) {
        rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory for the region graph");
        goto done;
    }
    {
        uint64_t *keys = order;
        memcpy(keys, G->key, ne * sizeof(uint64_t));
        qsort(keys, ne, sizeof *keys, by_u64);
        for (size_t i = 0; i < ne; i++) {
            size_t gi = (size_t)*ax__u64map_get(&G->index, keys[i]);
            if (estats_add(&E, keys[i], 0, G, gi, c->hist, NULL) < 0) {
                rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory for the region graph");
                goto done;
            }
        }
    }
    estats_free(G);

    uf = ax__malloc_array((size_t)nf + 1, sizeof(uint32_t));
    lists = ax__calloc((size_t)nf + 1, sizeof *lists);
    ver = ax__calloc(ne + 1, sizeof(uint32_t));
    alive = ax__malloc_array(ne + 1, 1);
    final = ax__malloc_array((size_t)nf + 1, sizeof(uint64_t));
    if (!uf || !lists || !ver || !alive || !final) {
        rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory");
        goto done;
    }
    for (uint64_t k = 0; k < nf; k++) uf[k] = (uint32_t)k;
    memset(alive, 1, ne);
    for (size_t i = 0; i < ne; i++) {
        uint32_t a = (uint32_t)(E.key[i] >> 32), b = (uint32_t)E.key[i];
        if (elist_push(&lists[a], (uint32_t)i) < 0 || elist_push(&lists[b], (uint32_t)i) < 0 ||
            heap_push(&h, (heap_ent){score_of(c, &E, i), (uint32_t)i, 0}) < 0) {
            rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory for the queue");
            goto done;
        }
    }

    /* thresholds in ascending order; outputs keep the caller's order */
    int nt = p->n_thresholds;
    int *tord = ax__malloc_array((size_t)nt, sizeof(int));
    if (!tord) {
        rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory");
        goto done;
    }
    for (int i = 0; i < nt; i++) tord[i] = i;
    for (int i = 1; i < nt; i++)
        for (int j = i; j > 0 && p->thresholds[tord[j]] < p->thresholds[tord[j - 1]]; j--) {
            int t = tord[j];
            tord[j] = tord[j - 1];
            tord[j - 1] = t;
        }
    for (int ti = 0; ti < nt && rc == AX_OK; ti++) {
        double th = p->thresholds[tord[ti]];
        while (h.n && h.a[0].score < th) {
            heap_ent top = heap_pop(&h);
            uint32_t e = top.e;
            if (!alive[e] || ver[e] != top.ver) continue;
            uint32_t u = (uint32_t)(E.key[e] >> 32), v = (uint32_t)E.key[e];
            alive[e] = 0;
            ax__u64map_del(&E.index, E.key[e]);
            /* the endpoint with more edges survives (smaller lists are the ones moved) */
            uint32_t s = lists[u].n >= lists[v].n ? u : v, t = s == u ? v : u;
            uf[t] = s;
            elist *lt = &lists[t];
            for (uint32_t k = 0; k < lt->n && rc == AX_OK; k++) {
                uint32_t x = lt->e[k];
                if (!alive[x]) continue;
                uint32_t a = (uint32_t)(E.key[x] >> 32), b = (uint32_t)E.key[x];
                uint32_t nbr = a == t ? b : a;
                ax__u64map_del(&E.index, E.key[x]);
                uint64_t nk = ax__pair_key(s, nbr);
                uint64_t *fi = ax__u64map_get(&E.index, nk);
                if (fi) {
                    size_t f = (size_t)*fi;
                    E.sum[f] += E.sum[x];
                    E.count[f] += E.count[x];
                    if (E.maxbits[x] > E.maxbits[f]) E.maxbits[f] = E.maxbits[x];
                    if (c->hist)
                        for (int q = 0; q < NBINS; q++) E.hist[f * NBINS + q] += E.hist[(size_t)x * NBINS + q];
                    alive[x] = 0;
                    ver[f]++;
                    if (heap_push(&h, (heap_ent){score_of(c, &E, f), (uint32_t)f, ver[f]}) < 0)
                        rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory for the queue");
                } else {
                    E.key[x] = nk;
                    if (!ax__u64map_upsert(&E.index, nk, x, NULL) || elist_push(&lists[s], x) < 0)
                        rc = ax__err(AX_E_NOMEM, "agglomerate: out of memory");
                }
            }
            free(lt->e);
            memset(lt, 0, sizeof *lt);
            if (rc < 0) break;
        }
        if (rc < 0) break;
        /* this threshold's segmentation */
        if ((rc = assign_ids(uf, fminidx, nf, final)) < 0) break;
        c->final = final;
        c->cur_out = &c->outs[tord[ti]];
        c->prog = ax_progress_new("agglomerate: write", c->g.count);
        rc = ax_parallel_for(c->g.count, pass_output, c);
        ax_progress_done(c->prog);
    }
    free(tord);
done:
    if (c->tfrag)
        for (int t = 0; t < c->nthreads; t++) ax__u64map_free(&c->tfrag[t]);
    if (c->tedges)
        for (int t = 0; t < c->nthreads; t++) estats_free(&c->tedges[t]);
    free(c->tfrag);
    free(c->tedges);
    ax__u64map_free(&c->dense);
    free(c->table);
    c->table = NULL;
    c->ntable = 0;
    estats_free(&E);
    if (lists) {
        for (uint64_t k = 0; k < nf; k++) free(lists[k].e);
        free(lists);
    }
    free(ids);
    free(fminidx);
    free(final);
    free(uf);
    free(ver);
    free(alive);
    free(order);
    free(h.a);
    return rc;
}

int ax_agglomerate(const float *aff, const uint64_t *fragments, const int64_t shape[3],
                   const ax_agglomerate_params *p, uint64_t **segs)
{
    int rc = check_params(p);
    if (rc < 0) return rc;
    if (!aff || !fragments || !shape || !segs)
        return ax__err(AX_E_INVALID, "agglomerate: NULL argument");
    int64_t n = 1;
    for (int d = 0; d < 3; d++)
        if (shape[d] <= 0 || !ax__mul_ok(n, shape[d], &n) || n > INT64_MAX / 4)
            return ax__err(AX_E_RANGE, "agglomerate: bad shape");
    for (int i = 0; i < p->n_thresholds; i++)
        if (!segs[i]) return ax__err(AX_E_INVALID, "agglomerate: output %d is NULL", i);
    agg_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.aff.aff = aff;
    c.aff.name = "affinities";
    c.frag.labels = fragments;
    c.frag.name = "fragments";
    for (int d = 0; d < 3; d++) c.aff.shape[d] = c.frag.shape[d] = shape[d];
    c.outs = ax__calloc((size_t)p->n_thresholds, sizeof *c.outs);
    if (!c.outs) return ax__err(AX_E_NOMEM, "agglomerate: out of memory");
    for (int i = 0; i < p->n_thresholds; i++) {
        c.outs[i].out = segs[i];
        c.outs[i].name = "segmentation";
        for (int d = 0; d < 3; d++) c.outs[i].shape[d] = shape[d];
    }
    int64_t block[3];
    ax__pick_block(p->block, NULL, shape, block);
    if ((rc = ax__grid_init(&c.g, shape, block)) == AX_OK) rc = agg_run(&c);
    free(c.outs);
    return rc;
}

int ax_agglomerate_volume(ax_volume *affs, ax_volume *fragments, ax_volume **outs,
                          const ax_agglomerate_params *p)
{
    int rc = check_params(p);
    if (rc < 0) return rc;
    if (!affs || !fragments || !outs) return ax__err(AX_E_INVALID, "agglomerate: NULL volume");
    agg_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    if ((rc = ax__io_from_volume(&c.aff, affs, 3)) < 0) return rc;
    if ((rc = ax__io_from_volume(&c.frag, fragments, 0)) < 0) return rc;
    for (int d = 0; d < 3; d++)
        if (c.aff.shape[d] != c.frag.shape[d])
            return ax__err(AX_E_RANGE,
                           "%s and %s: spatial shapes differ (%lld x %lld x %lld vs %lld x %lld x %lld)",
                           c.aff.name, c.frag.name, (long long)c.aff.shape[0], (long long)c.aff.shape[1],
                           (long long)c.aff.shape[2], (long long)c.frag.shape[0],
                           (long long)c.frag.shape[1], (long long)c.frag.shape[2]);
    int64_t block[3];
    ax__pick_block(p->block, fragments, c.frag.shape, block);
    c.outs = ax__calloc((size_t)p->n_thresholds, sizeof *c.outs);
    if (!c.outs) return ax__err(AX_E_NOMEM, "agglomerate: out of memory");
    for (int i = 0; i < p->n_thresholds && rc == AX_OK; i++) {
        if (!outs[i]) rc = ax__err(AX_E_INVALID, "agglomerate: output %d is NULL", i);
        else if ((rc = ax__io_from_volume(&c.outs[i], outs[i], 0)) == AX_OK) {
            if (ax_volume_get_info(outs[i])->dtype != AX_DTYPE_U64)
                rc = ax__err(AX_E_DTYPE, "%s: the output must be uint64", c.outs[i].name);
            for (int d = 0; d < 3 && rc == AX_OK; d++)
                if (c.outs[i].shape[d] != c.frag.shape[d])
                    rc = ax__err(AX_E_RANGE, "%s: shape differs from %s", c.outs[i].name, c.frag.name);
            c.outs[i].locked_writes = !ax__block_aligned(outs[i], block, c.frag.shape);
        }
    }
    if (rc == AX_OK && (rc = ax__grid_init(&c.g, c.frag.shape, block)) == AX_OK) rc = agg_run(&c);
    free(c.outs);
    return rc;
}
