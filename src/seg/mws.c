/* mws.c: the mutex watershed (Wolf et al., ECCV 2018; semantics of affogato's
 * compute_mws_segmentation with Kruskal ordering).
 *
 * GRAPH: nodes are voxels. Channel c of the affinity map (aff[c][z][y][x], see seg.h)
 * gives, at voxel p, the edge between p and q = p + o_c when q lies inside the volume
 * (edges leaving the volume are skipped, whatever value is stored). Channels
 * c < n_attractive are attractive with weight aff; the others are repulsive (mutex) with
 * weight 1 - aff (affogato takes weights; elf flips its boundary-style channels the same
 * way). With strides s, a repulsive edge is kept only when its voxel p has z % sz == 0,
 * y % sy == 0 and x % sx == 0 (affogato's deterministic strides); attractive edges are
 * always kept.
 *
 * ALGORITHM: every kept edge becomes a 64-bit key: the weight as an order-preserving
 * integer, descending (heaviest first), above the edge index (c, p), so ties are broken
 * by channel, then voxel raster order: deterministic, and at equal weight attractive
 * edges go first. Keys are unique, so an in-place MSD radix sort (American flag sort,
 * 8-bit digits, only as many digits as the key bits in use) gives one order for any
 * thread count; its first level is split into buckets sorted on the thread pool.
 * Kruskal then takes the edges in order with a union-find (union by rank, path
 * halving; parent and mutex-set handle share one 8-byte node, and the nodes of the edge
 * 16 places ahead are prefetched, since the finds are cache misses on big volumes): an
 * edge whose ends are in one cluster, or in two clusters with a mutex
 * between them, does nothing; otherwise an attractive edge merges the two clusters and a
 * repulsive one puts a mutex between them. Mutexes are kept per cluster root as a hash
 * set of the other clusters' set handles, symmetric; on a merge the smaller set is
 * folded into the larger and its members re-pointed, so checking a mutex is one lookup.
 * Repulsive edges ordered after the last attractive edge cannot change the result and
 * are dropped before sorting. Output labels are 1..n in raster order of each segment's
 * first voxel.
 *
 * MEMORY: 8 bytes per kept edge (at most n_voxels * n_offsets keys, sorted in place: no
 * second buffer) and 9 bytes per voxel (parent, mutex-set handle, rank), plus the mutex
 * sets (two hash entries per live mutex, at most 3/4 full). With the caller's affinities
 * (4 * n_offsets bytes per voxel) and labels (8) that is about 12 * n_offsets + 17 bytes
 * per voxel before the mutex sets: ~125 B/voxel for 9 offsets.
 * PERFORMANCE: the sort reads and permutes the keys once per radix level (about 3 levels
 * in practice, buckets under 49 keys go to insertion sort); Kruskal is one sequential
 * pass, bound by memory latency on big volumes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

#define NONE UINT32_MAX

/* ---- mutex sets: open addressing (linear probing) sets of uint32 handles ------------- */

typedef struct mset {
    uint32_t *slot; /* cap entries, NONE = empty */
    uint32_t count;
    uint32_t cap; /* 0 or a power of two */
} mset;

static inline uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static bool ms_has(const mset *s, uint32_t h)
{
    if (!s->count) return false;
    uint32_t m = s->cap - 1, j = mix32(h) & m;
    while (s->slot[j] != NONE) {
        if (s->slot[j] == h) return true;
        j = (j + 1) & m;
    }
    return false;
}

static void ms_put(uint32_t *slot, uint32_t cap, uint32_t h)
{
    uint32_t m = cap - 1, j = mix32(h) & m;
    while (slot[j] != NONE) j = (j + 1) & m;
    slot[j] = h;
}

/* add h (no-op when present) */
static int ms_add(mset *s, uint32_t h)
{
    if ((uint64_t)(s->count + 1) * 4 > (uint64_t)s->cap * 3) { /* load <= 3/4 */
        if (s->cap >= (1u << 31)) return AX_E_NOMEM;
        uint32_t ncap = s->cap ? s->cap * 2 : 4;
        uint32_t *ns = ax__malloc_array(ncap, sizeof *ns);
        if (!ns) return AX_E_NOMEM;
        memset(ns, 0xff, (size_t)ncap * sizeof *ns);
        for (uint32_t i = 0; i < s->cap; i++)
            if (s->slot[i] != NONE) ms_put(ns, ncap, s->slot[i]);
        free(s->slot);
        s->slot = ns;
        s->cap = ncap;
    }
    uint32_t m = s->cap - 1, j = mix32(h) & m;
    while (s->slot[j] != NONE) {
        if (s->slot[j] == h) return AX_OK;
        j = (j + 1) & m;
    }
    s->slot[j] = h;
    s->count++;
    return AX_OK;
}

/* remove h if present (backward-shift deletion keeps probe runs intact) */
static void ms_del(mset *s, uint32_t h)
{
    if (!s->count) return;
    uint32_t m = s->cap - 1, j = mix32(h) & m;
    while (s->slot[j] != NONE && s->slot[j] != h) j = (j + 1) & m;
    if (s->slot[j] == NONE) return;
    uint32_t hole = j;
    for (;;) {
        j = (j + 1) & m;
        uint32_t k = s->slot[j];
        if (k == NONE) break;
        uint32_t home = mix32(k) & m;
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        s->slot[hole] = k;
        hole = j;
    }
    s->slot[hole] = NONE;
    s->count--;
}

typedef struct mstore {
    mset *sets;      /* by handle */
    size_t n, cap;   /* handles handed out so far (< 2^32 - 1: one per voxel at most) */
    uint32_t *freeh; /* released handles, reused first (deterministic) */
    size_t nfree, free_cap;
} mstore;

static int mstore_new_handle(mstore *st, uint32_t *h)
{
    if (st->nfree) {
        *h = st->freeh[--st->nfree];
        return AX_OK;
    }
    if (st->n == st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 1024;
        mset *ns = realloc(st->sets, ncap * sizeof *ns);
        if (!ns) return AX_E_NOMEM;
        st->sets = ns;
        st->cap = ncap;
    }
    st->sets[st->n] = (mset){NULL, 0, 0};
    *h = (uint32_t)st->n++;
    return AX_OK;
}

static int mstore_release(mstore *st, uint32_t h)
{
    free(st->sets[h].slot);
    st->sets[h] = (mset){NULL, 0, 0};
    if (st->nfree == st->free_cap) {
        size_t ncap = st->free_cap ? st->free_cap * 2 : 1024;
        uint32_t *nf = realloc(st->freeh, ncap * sizeof *nf);
        if (!nf) return AX_E_NOMEM;
        st->freeh = nf;
        st->free_cap = ncap;
    }
    st->freeh[st->nfree++] = h;
    return AX_OK;
}

static void mstore_free(mstore *st)
{
    for (size_t i = 0; i < st->n; i++) free(st->sets[i].slot);
    free(st->sets);
    free(st->freeh);
    memset(st, 0, sizeof *st);
}

/* ---- in-place MSD radix sort of unique 64-bit keys ----------------------------------- */

static void insertion_sort(uint64_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

/* Partition a[0..n) by the digit (key >> shift) & 255, in place; bucket b then holds
 * a[start[b] .. start[b+1]). */
static void af_partition(uint64_t *a, size_t n, int shift, size_t start[257])
{
    size_t cnt[256] = {0};
    for (size_t i = 0; i < n; i++) cnt[(a[i] >> shift) & 255]++;
    size_t next[256];
    start[0] = 0;
    for (int b = 0; b < 256; b++) {
        start[b + 1] = start[b] + cnt[b];
        next[b] = start[b];
    }
    for (int b = 0; b < 256; b++) {
        while (next[b] < start[b + 1]) {
            uint64_t v = a[next[b]];
            unsigned d = (unsigned)((v >> shift) & 255);
            while (d != (unsigned)b) { /* cycle v to its bucket until one belongs here */
                uint64_t t = a[next[d]];
                a[next[d]++] = v;
                v = t;
                d = (unsigned)((v >> shift) & 255);
            }
            a[next[b]++] = v;
        }
    }
}

/* Sort by bits [0, shift + 8); bits above are equal across a[] already. */
static void af_sort(uint64_t *a, size_t n, int shift)
{
    if (n <= 48) {
        insertion_sort(a, n);
        return;
    }
    size_t start[257];
    af_partition(a, n, shift, start);
    if (shift == 0) return;
    int ns = shift > 8 ? shift - 8 : 0;
    for (int b = 0; b < 256; b++) {
        size_t m = start[b + 1] - start[b];
        if (m > 1) af_sort(a + start[b], m, ns);
    }
}

typedef struct sort_ctx {
    uint64_t *a;
    const size_t *start;
    int shift;
} sort_ctx;

static int sort_task(void *vctx, int64_t b, int thread)
{
    (void)thread;
    const sort_ctx *c = vctx;
    size_t m = c->start[b + 1] - c->start[b];
    if (m > 1) af_sort(c->a + c->start[b], m, c->shift);
    return AX_OK;
}

/* sort n unique keys whose bits above `bits` are zero */
static int sort_keys(uint64_t *a, size_t n, int bits)
{
    if (n < 2) return AX_OK;
    int shift = bits > 8 ? bits - 8 : 0;
    if (n <= 48) {
        insertion_sort(a, n);
        return AX_OK;
    }
    size_t start[257];
    af_partition(a, n, shift, start);
    if (shift == 0) return AX_OK;
    sort_ctx c = {a, start, shift > 8 ? shift - 8 : 0};
    return ax_parallel_for(256, sort_task, &c);
}

/* ---- edge keys ------------------------------------------------------------------------ */

/* weight as a uint32 that orders descending: heavier weight, smaller value; -0 == +0 */
static inline uint32_t desc_bits(float w)
{
    if (w == 0.0f) w = 0.0f;
    uint32_t u;
    memcpy(&u, &w, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* ascending */
    return ~u;
}

static int bits_for(uint64_t v) /* bits needed to hold v */
{
    int b = 0;
    while (v) {
        b++;
        v >>= 1;
    }
    return b;
}

typedef struct task_stat {
    int64_t count;      /* kept edges */
    uint32_t dmin, dmax; /* over kept edges */
    int64_t bad;        /* first NaN: voxel index, or -1 */
} task_stat;

enum { PHASE_CHECK = 0, PHASE_COUNT_REP = 1, PHASE_FILL = 2 };

typedef struct key_ctx {
    const float *aff;
    const int64_t (*off)[3];
    int64_t nz, ny, nx, n;
    int n_attractive;
    int64_t stride[3];
    int phase;
    int64_t task0;   /* task index offset (PHASE_COUNT_REP runs over repulsive channels) */
    uint32_t dcut;   /* repulsive edges kept iff key < dcut */
    uint32_t dmin;   /* PHASE_FILL: subtracted from the weight bits */
    int wshift, pbits;
    task_stat *st;
    const int64_t *pos; /* PHASE_FILL: where each task's keys start */
    uint64_t *keys;
} key_ctx;

static void vrange(int64_t n, int64_t o, int64_t *lo, int64_t *hi)
{
    if (o >= n || o <= -n) {
        *lo = *hi = 0;
        return;
    }
    *lo = o < 0 ? -o : 0;
    *hi = o > 0 ? n - o : n;
}

static inline int64_t up_to_multiple(int64_t v, int64_t s) { return (v + s - 1) / s * s; }

static int key_task(void *vctx, int64_t t0, int thread)
{
    (void)thread;
    const key_ctx *k = vctx;
    int64_t t = t0 + k->task0;
    int64_t c = t / k->nz, z = t % k->nz, plane = k->ny * k->nx;
    bool att = c < k->n_attractive;
    task_stat *st = &k->st[t];
    if (k->phase == PHASE_CHECK) *st = (task_stat){0, UINT32_MAX, 0, -1};
    if (k->phase == PHASE_COUNT_REP) st->count = 0, st->dmin = UINT32_MAX, st->dmax = 0;
    const int64_t *o = k->off[c];
    int64_t zlo, zhi, ylo, yhi, xlo, xhi;
    vrange(k->nz, o[0], &zlo, &zhi);
    vrange(k->ny, o[1], &ylo, &yhi);
    vrange(k->nx, o[2], &xlo, &xhi);
    if (z < zlo || z >= zhi || ylo >= yhi || xlo >= xhi) return AX_OK;
    const float *a = k->aff + c * k->n + z * plane;
    bool strided = !att && k->phase != PHASE_CHECK;
    int64_t sy = 1, sx = 1;
    if (strided) {
        if (z % k->stride[0]) return AX_OK;
        sy = k->stride[1];
        sx = k->stride[2];
        ylo = up_to_multiple(ylo, sy);
        xlo = up_to_multiple(xlo, sx);
    }
    int64_t count = 0;
    uint32_t dmin = UINT32_MAX, dmax = 0;
    uint64_t *out = k->phase == PHASE_FILL ? k->keys + k->pos[t] : NULL;
    uint64_t chigh = (uint64_t)c << k->pbits;
    for (int64_t y = ylo; y < yhi; y += sy) {
        const float *r = a + y * k->nx;
        if (k->phase == PHASE_CHECK) {
            for (int64_t x = xlo; x < xhi; x++)
                if (isnan(r[x])) {
                    st->bad = z * plane + y * k->nx + x;
                    return AX_OK;
                }
            if (!att) continue;
        }
        for (int64_t x = xlo; x < xhi; x += sx) {
            uint32_t d = desc_bits(att ? r[x] : 1.0f - r[x]);
            if (!att && d >= k->dcut) continue;
            if (out) {
                uint64_t p = (uint64_t)(z * plane + y * k->nx + x);
                out[count] = ((uint64_t)(d - k->dmin) << k->wshift) | chigh | p;
            } else {
                dmin = d < dmin ? d : dmin;
                dmax = d > dmax ? d : dmax;
            }
            count++;
        }
    }
    if (k->phase != PHASE_FILL) {
        st->count = count;
        st->dmin = dmin;
        st->dmax = dmax;
    }
    return AX_OK;
}

/* ---- union-find ----------------------------------------------------------------------- */

/* parent and mutex-set handle side by side: the handle of a root found by uf_find is in
 * the cache line just touched */
typedef struct node {
    uint32_t parent;
    uint32_t hset; /* mutex-set handle of a root, NONE if it has no mutex */
} node;

static inline uint32_t uf_find(node *nd, uint32_t x)
{
    while (nd[x].parent != x) {
        nd[x].parent = nd[nd[x].parent].parent;
        x = nd[x].parent;
    }
    return x;
}

/* ---- the mutex watershed -------------------------------------------------------------- */

int ax_mutex_watershed(const float *aff, const int64_t shape[3], const int64_t (*offsets)[3],
                       int n_offsets, int n_attractive, const int64_t strides[3],
                       uint64_t *seg, uint64_t *n_segments)
{
    if (n_segments) *n_segments = 0;
    if (!shape) return ax__err(AX_E_INVALID, "mutex watershed: shape is NULL");
    int64_t n = 1;
    for (int d = 0; d < 3; d++)
        if (shape[d] < 0 || !ax__mul_ok(n, shape[d], &n))
            return ax__err(AX_E_RANGE, "mutex watershed: bad shape %lld x %lld x %lld",
                           (long long)shape[0], (long long)shape[1], (long long)shape[2]);
    if (n_offsets < 1 || n_offsets > 64 || !offsets)
        return ax__err(AX_E_INVALID, "mutex watershed: need 1 to 64 offsets (got %d)", n_offsets);
    if (n_attractive < 1 || n_attractive > n_offsets)
        return ax__err(AX_E_INVALID,
                       "mutex watershed: the number of attractive channels (%d) must be in 1..%d",
                       n_attractive, n_offsets);
    int64_t stride[3] = {1, 1, 1};
    if (strides)
        for (int d = 0; d < 3; d++) {
            if (strides[d] < 1)
                return ax__err(AX_E_INVALID, "mutex watershed: strides must be >= 1 (got %lld)",
                               (long long)strides[d]);
            stride[d] = strides[d];
        }
    if (n == 0) return AX_OK;
    if (!aff || !seg) return ax__err(AX_E_INVALID, "mutex watershed: NULL array");
    if (n >= (int64_t)NONE)
        return ax__err(AX_E_UNSUPPORTED,
                       "mutex watershed: %lld voxels; at most 2^32 - 2 are supported in memory",
                       (long long)n);

    int C = n_offsets;
    int64_t nt = (int64_t)C * shape[0]; /* tasks: (channel, z) */
    int pbits = bits_for((uint64_t)n - 1), cbits = bits_for((uint64_t)C - 1);
    int64_t ostride[64];
    for (int c = 0; c < C; c++) {
        bool any = true;
        for (int d = 0; d < 3; d++)
            if (offsets[c][d] >= shape[d] || offsets[c][d] <= -shape[d]) any = false;
        /* |o_d| < shape_d, so this cannot overflow; channels without edges never use it */
        ostride[c] = any ? (offsets[c][0] * shape[1] + offsets[c][1]) * shape[2] + offsets[c][2]
                         : 0;
    }

    int rc = AX_OK;
    task_stat *st = ax__malloc_array((size_t)nt, sizeof *st);
    int64_t *pos = ax__malloc_array((size_t)nt + 1, sizeof *pos);
    uint64_t *keys = NULL;
    node *nd = NULL;
    uint8_t *rank = NULL;
    mstore ms = {0};
    if (!st || !pos) {
        rc = ax__err(AX_E_NOMEM, "mutex watershed: out of memory");
        goto out;
    }

    /* pass 1: NaN check of every in-volume edge; count and weight range of attractive */
    key_ctx k = {aff, offsets, shape[0], shape[1], shape[2], n, n_attractive,
                 {stride[0], stride[1], stride[2]}, PHASE_CHECK, 0, 0, 0, 0, pbits, st,
                 NULL, NULL};
    rc = ax_parallel_for(nt, key_task, &k);
    if (rc < 0) goto out;
    for (int64_t t = 0; t < nt; t++) /* tasks are (channel, z) in order: first = lowest */
        if (st[t].bad >= 0) {
            int64_t i = st[t].bad;
            rc = ax__err(AX_E_INVALID,
                         "mutex watershed: affinity at channel %lld, voxel (z=%lld, y=%lld, "
                         "x=%lld) is NaN",
                         (long long)(t / shape[0]), (long long)(i / (shape[1] * shape[2])),
                         (long long)(i / shape[2] % shape[1]), (long long)(i % shape[2]));
            goto out;
        }
    /* repulsive edges at or after the weakest attractive edge in the order cannot act */
    /* (an equal-weight repulsive edge has a larger index, so it comes after too); keys of
     * real weights are never 0, so dcut = 0 (no attractive edge) keeps none */
    uint32_t dcut = 0;
    for (int64_t t = 0; t < (int64_t)n_attractive * shape[0]; t++)
        if (st[t].count && st[t].dmax > dcut) dcut = st[t].dmax;
    if (C > n_attractive && dcut) {
        k.phase = PHASE_COUNT_REP;
        k.task0 = (int64_t)n_attractive * shape[0];
        k.dcut = dcut;
        rc = ax_parallel_for(nt - k.task0, key_task, &k);
        if (rc < 0) goto out;
    } else {
        for (int64_t t = (int64_t)n_attractive * shape[0]; t < nt; t++) st[t].count = 0;
    }
    uint32_t dmin = UINT32_MAX, dmax = 0;
    pos[0] = 0;
    for (int64_t t = 0; t < nt; t++) {
        pos[t + 1] = pos[t] + st[t].count;
        if (st[t].count) {
            dmin = st[t].dmin < dmin ? st[t].dmin : dmin;
            dmax = st[t].dmax > dmax ? st[t].dmax : dmax;
        }
    }
    int64_t ne = pos[nt];
    int wbits = ne ? bits_for((uint64_t)(dmax - dmin)) : 0;
    int ibits = pbits + cbits;
    if (wbits + ibits > 64) {
        rc = ax__err(AX_E_UNSUPPORTED,
                     "mutex watershed: %lld voxels x %d offsets is too large for 64-bit edge "
                     "keys with this weight range",
                     (long long)n, C);
        goto out;
    }
    keys = ax__malloc_array((size_t)(ne ? ne : 1), sizeof *keys);
    nd = ax__malloc_array((size_t)n, sizeof *nd);
    rank = ax__calloc((size_t)n, 1);
    if (!keys || !nd || !rank) {
        rc = ax__err(AX_E_NOMEM, "mutex watershed: out of memory (%.0f MiB of edge keys for %lld "
                     "edges)", (double)ne * 8.0 / 1048576.0, (long long)ne);
        goto out;
    }
    if (ne) {
        k.phase = PHASE_FILL;
        k.task0 = 0;
        k.dcut = dcut;
        k.dmin = dmin;
        k.wshift = ibits;
        k.pos = pos;
        k.keys = keys;
        rc = ax_parallel_for(nt, key_task, &k);
        if (rc < 0) goto out;
        rc = sort_keys(keys, (size_t)ne, wbits + ibits);
        if (rc < 0) goto out;
    }

    /* Kruskal with mutexes */
    for (int64_t i = 0; i < n; i++) nd[i] = (node){(uint32_t)i, NONE};
    uint64_t pmask = pbits ? (~0ull >> (64 - pbits)) : 0;
    uint64_t cmask = cbits ? (~0ull >> (64 - cbits)) : 0;
    enum { AHEAD = 16 }; /* prefetch distance in edges: the finds are cache misses */
    for (int64_t e = 0; e < ne; e++) {
        if (e + AHEAD < ne) {
            uint64_t kf = keys[e + AHEAD];
            uint32_t uf = (uint32_t)(kf & pmask);
            __builtin_prefetch(&nd[uf]);
            __builtin_prefetch(&nd[(int64_t)uf + ostride[(kf >> pbits) & cmask]]);
        }
        uint64_t key = keys[e];
        uint32_t c = (uint32_t)((key >> pbits) & cmask);
        uint32_t u = (uint32_t)(key & pmask);
        uint32_t v = (uint32_t)((int64_t)u + ostride[c]);
        uint32_t ru = uf_find(nd, u), rv = uf_find(nd, v);
        if (ru == rv) continue;
        uint32_t hu = nd[ru].hset, hv = nd[rv].hset;
        if (hu != NONE && hv != NONE) {
            const mset *su = &ms.sets[hu], *sv = &ms.sets[hv];
            if (su->count <= sv->count ? ms_has(su, hv) : ms_has(sv, hu)) continue;
        }
        if ((int)c >= n_attractive) { /* repulsive: a mutex between the two clusters */
            if (hu == NONE) {
                if ((rc = mstore_new_handle(&ms, &hu)) < 0) goto nomem;
                nd[ru].hset = hu;
            }
            if (hv == NONE) {
                if ((rc = mstore_new_handle(&ms, &hv)) < 0) goto nomem;
                nd[rv].hset = hv;
            }
            if ((rc = ms_add(&ms.sets[hu], hv)) < 0 || (rc = ms_add(&ms.sets[hv], hu)) < 0)
                goto nomem;
            continue;
        }
        /* attractive: merge rv into ru (union by rank), then the mutex sets */
        if (rank[ru] < rank[rv]) {
            uint32_t t = ru;
            ru = rv;
            rv = t;
            t = hu;
            hu = hv;
            hv = t;
        }
        nd[rv].parent = ru;
        if (rank[ru] == rank[rv]) rank[ru]++;
        if (hv == NONE) continue;
        if (hu == NONE) {
            nd[ru].hset = hv;
            continue;
        }
        uint32_t hs = hu, hl = hv; /* fold the smaller set into the larger */
        if (ms.sets[hs].count > ms.sets[hl].count) {
            hs = hv;
            hl = hu;
        }
        mset small = ms.sets[hs];
        for (uint32_t j = 0; j < small.cap; j++) {
            uint32_t x = small.slot[j];
            if (x == NONE) continue;
            ms_del(&ms.sets[x], hs);
            if ((rc = ms_add(&ms.sets[x], hl)) < 0 || (rc = ms_add(&ms.sets[hl], x)) < 0)
                goto nomem;
        }
        if ((rc = mstore_release(&ms, hs)) < 0) goto nomem;
        nd[ru].hset = hl;
    }

    /* labels 1..m in raster order of each segment's first voxel (hset reused as map) */
    for (int64_t i = 0; i < n; i++) nd[i].hset = 0;
    uint32_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t r = uf_find(nd, (uint32_t)i);
        if (!nd[r].hset) nd[r].hset = ++m;
        seg[i] = nd[r].hset;
    }
    if (n_segments) *n_segments = m;
    rc = AX_OK;
    goto out;
nomem:
    rc = ax__err(AX_E_NOMEM, "mutex watershed: out of memory for the mutex sets");
out:
    mstore_free(&ms);
    free(st);
    free(pos);
    free(keys);
    free(nd);
    free(rank);
    return rc;
}
