/* metrics.c: contingency tables and segmentation scores: VOI split/merge, adapted Rand
 * error (three named conventions), CREMI score, worst split and merged objects.
 *
 * DESIGN: an ax_contingency is an open-addressing hash (linear probing, power-of-two
 * capacity, load <= 0.7) from a (seg, gt) label pair to its voxel count; count 0 marks an
 * empty cell, so every one of the 2^128 pairs is a valid key. Voxels are added run by
 * run (consecutive voxels with the same pair cost one update). Scoring copies the cells
 * into an array, drops the ignored gt label, sorts it by (gt, seg) for the gt marginals
 * and split shares, then by (seg, gt) for the seg marginals and merge shares: the sorted
 * order is a total order on distinct pairs, so every sum is taken in the same order
 * whatever the insertion order (thread count, block shape) was, and results are
 * bit-identical.
 *
 * NUMERICS: the entropies are written as sums of non-negative terms,
 * H(seg|gt) = (1/N) sum_ij n_ij log2(a_i/n_ij), never as the difference
 * sum a log a - sum n log n (which cancels badly when the error is small); the totals
 * use Neumaier compensated summation. Pair counts (sums of n^2) are exact 128-bit
 * integers, and each adapted Rand error is formed as (A + B - 2J) / (A + B) from them,
 * one rounding in all.
 *
 * MEMORY: the table holds 24 bytes per distinct pair (at most 1/0.7 of that with empty
 * cells); scoring needs 24 bytes per pair plus 32 per label once more. Block-wise
 * evaluation gives each thread a block buffer pair and a small local table that is
 * merged into the shared one (under a mutex) after every block, so the peak is
 * O(pairs + threads x block) whatever the volume size.
 *
 * The conventions are stated in include/axon/eval.h and docs/segmentation.md.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 u128; /* exact sums of squared counts */
#else
typedef long double u128;
#endif

typedef struct cell {
    uint64_t seg, gt, n; /* n == 0: empty */
} cell;

struct ax_contingency {
    cell *cells;
    size_t cap; /* 0 or a power of two */
    size_t used;
    uint64_t voxels;
};

enum { MIN_CAP = 256 };
#define EVAL_WORST_MAX 1000000

/* ---- the hash --------------------------------------------------------------------- */


static inline size_t slot_of(uint64_t s, uint64_t g, size_t mask)
{
    return (size_t)(ax__mix64(s * 0x9E3779B97F4A7C15ull + ax__mix64(g ^ 0x632BE59BD9B4E019ull)) & mask);
}

/* add n to (s, g); the caller made room */
static inline void put(ax_contingency *c, uint64_t s, uint64_t g, uint64_t n)
{
    size_t mask = c->cap - 1, i = slot_of(s, g, mask);
    for (;;) {
        cell *e = &c->cells[i];
        if (e->n == 0) {
            e->seg = s;
            e->gt = g;
            e->n = n;
            c->used++;
            return;
        }
        if (e->seg == s && e->gt == g) {
            e->n += n;
            return;
        }
        i = (i + 1) & mask;
    }
}

static int grow_to(ax_contingency *c, size_t cap)
{
    cell *nc = ax__calloc(cap, sizeof *nc);
    if (!nc)
        return ax__err(AX_E_NOMEM, "contingency table: out of memory for %zu label pairs",
                       c->used);
    cell *old = c->cells;
    size_t old_cap = c->cap;
    c->cells = nc;
    c->cap = cap;
    c->used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].n) put(c, old[i].seg, old[i].gt, old[i].n);
    free(old);
    return AX_OK;
}

/* room for `extra` more pairs at load <= 0.7 */
static int reserve(ax_contingency *c, size_t extra)
{
    size_t need = c->used + extra;
    if (need < c->used) return ax__err(AX_E_NOMEM, "contingency table: too many label pairs");
    if (c->cap && need <= c->cap / 10 * 7) return AX_OK;
    size_t cap = c->cap ? c->cap : MIN_CAP;
    while (need > cap / 10 * 7) {
        if (cap > SIZE_MAX / 2 / sizeof(cell))
            return ax__err(AX_E_NOMEM, "contingency table: too many label pairs");
        cap *= 2;
    }
    return grow_to(c, cap);
}

int ax_contingency_new(ax_contingency **out)
{
    if (!out) return ax__err(AX_E_INVALID, "ax_contingency_new: out is NULL");
    *out = NULL;
    ax_contingency *c = ax__calloc(1, sizeof *c);
    if (!c) return ax__err(AX_E_NOMEM, "contingency table: out of memory");
    *out = c;
    return AX_OK;
}

void ax_contingency_free(ax_contingency *c)
{
    if (!c) return;
    free(c->cells);
    free(c);
}

void ax_contingency_clear(ax_contingency *c)
{
    if (!c) return;
    if (c->used) memset(c->cells, 0, c->cap * sizeof *c->cells);
    c->used = 0;
    c->voxels = 0;
}

int ax_contingency_add(ax_contingency *c, const uint64_t *seg, const uint64_t *gt, size_t n)
{
    if (!c || (n && (!seg || !gt)))
        return ax__err(AX_E_INVALID, "ax_contingency_add: NULL table or label array");
    size_t i = 0;
    while (i < n) {
        uint64_t s = seg[i], g = gt[i];
        size_t j = i + 1;
        while (j < n && seg[j] == s && gt[j] == g) j++;
        int rc = reserve(c, 1);
        if (rc < 0) return rc;
        put(c, s, g, (uint64_t)(j - i));
        c->voxels += (uint64_t)(j - i);
        i = j;
    }
    return AX_OK;
}

int ax_contingency_merge(ax_contingency *dst, const ax_contingency *src)
{
    if (!dst || !src) return ax__err(AX_E_INVALID, "ax_contingency_merge: NULL table");
    if (dst == src) return ax__err(AX_E_INVALID, "ax_contingency_merge: a table into itself");
    int rc = reserve(dst, src->used);
    if (rc < 0) return rc;
    for (size_t i = 0; i < src->cap; i++)
        if (src->cells[i].n) put(dst, src->cells[i].seg, src->cells[i].gt, src->cells[i].n);
    dst->voxels += src->voxels;
    return AX_OK;
}

uint64_t ax_contingency_voxels(const ax_contingency *c) { return c ? c->voxels : 0; }
uint64_t ax_contingency_pairs(const ax_contingency *c) { return c ? (uint64_t)c->used : 0; }

/* ---- scoring ---------------------------------------------------------------------- */

ax_eval_params ax_eval_params_default(void)
{
    ax_eval_params p = {.ignore_gt = true, .ignore_gt_label = 0, .worst = 10};
    return p;
}

void ax_eval_result_clear(ax_eval_result *r)
{
    if (!r) return;
    free(r->worst_split);
    free(r->worst_merge);
    memset(r, 0, sizeof *r);
}

static int cmp_gt_seg(const void *pa, const void *pb)
{
    const cell *a = pa, *b = pb;
    if (a->gt != b->gt) return a->gt < b->gt ? -1 : 1;
    if (a->seg != b->seg) return a->seg < b->seg ? -1 : 1;
    return 0;
}

static int cmp_seg_gt(const void *pa, const void *pb)
{
    const cell *a = pa, *b = pb;
    if (a->seg != b->seg) return a->seg < b->seg ? -1 : 1;
    if (a->gt != b->gt) return a->gt < b->gt ? -1 : 1;
    return 0;
}

/* worst first: larger share, then smaller id */
static int cmp_worst(const void *pa, const void *pb)
{
    const ax_eval_object *a = pa, *b = pb;
    if (a->bits != b->bits) return a->bits > b->bits ? -1 : 1;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return 0;
}

/* Neumaier compensated sum */
typedef struct ksum {
    double s, c;
} ksum;

static inline void ksum_add(ksum *k, double x)
{
    double t = k->s + x;
    if (fabs(k->s) >= fabs(x)) k->c += (k->s - t) + x;
    else k->c += (x - t) + k->s;
    k->s = t;
}

static inline double ksum_get(const ksum *k) { return k->s + k->c; }

static inline u128 sq(uint64_t x) { return (u128)x * (u128)x; }

/* 1 - 2J/(A+B) = (A + B - 2J) / (A + B), one rounding; needs J <= A, J <= B */
static double rand_error(u128 A, u128 B, u128 J)
{
    u128 den = A + B;
    if (den == 0) return NAN;
    return (double)(den - 2 * J) / (double)den;
}

/* Walk the runs of equal `key(cell)` in t[0..m) (sorted by that key first): per object
 * id, size, distinct partners and sum n log2(size/n). Fills objs (one per run) and
 * returns their count. */
static size_t objects_of(const cell *t, size_t m, bool by_gt, ax_eval_object *objs)
{
    size_t no = 0;
    for (size_t k = 0; k < m;) {
        uint64_t id = by_gt ? t[k].gt : t[k].seg, size = 0;
        size_t e = k;
        while (e < m && (by_gt ? t[e].gt : t[e].seg) == id) size += t[e++].n;
        double h = 0, dsize = (double)size;
        for (size_t q = k; q < e; q++) {
            double dn = (double)t[q].n;
            if (t[q].n != size) h += dn * log2(dsize / dn);
        }
        objs[no++] =
            (ax_eval_object){.id = id, .bits = h, .pieces = (uint64_t)(e - k), .size = size};
        k = e;
    }
    return no;
}

/* Sort objs worst first and keep the first `keep` with a non-zero share (scaled to bits)
 * in a new array. */
static int worst_list(ax_eval_object *objs, size_t no, int keep, double inv_n,
                      ax_eval_object **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    if (keep == 0 || no == 0) return AX_OK;
    qsort(objs, no, sizeof *objs, cmp_worst);
    size_t k = 0; /* objects with a share: split into (merged from) two labels or more */
    while (k < no && k < (size_t)keep && objs[k].pieces > 1) k++;
    if (k == 0) return AX_OK;
    ax_eval_object *w = ax__malloc_array(k, sizeof *w);
    if (!w) return ax__err(AX_E_NOMEM, "eval: out of memory");
    for (size_t i = 0; i < k; i++) {
        w[i] = objs[i];
        w[i].bits *= inv_n;
    }
    *out = w;
    *nout = (int)k;
    return AX_OK;
}

int ax_contingency_score(const ax_contingency *c, const ax_eval_params *pp, ax_eval_result *r)
{
    if (!c || !r) return ax__err(AX_E_INVALID, "ax_contingency_score: NULL argument");
    memset(r, 0, sizeof *r);
    ax_eval_params p = pp ? *pp : ax_eval_params_default();
    if (p.worst < 0 || p.worst > EVAL_WORST_MAX)
        return ax__err(AX_E_INVALID, "eval: worst-list length %d is not in 0..%d", p.worst,
                       EVAL_WORST_MAX);
    r->voxels_total = c->voxels;
    if (c->voxels == 0) return ax__err(AX_E_INVALID, "eval: no voxels to score (empty input)");

    /* the scored pairs */
    cell *t = ax__malloc_array(c->used ? c->used : 1, sizeof *t);
    if (!t) return ax__err(AX_E_NOMEM, "eval: out of memory for %zu label pairs", c->used);
    size_t m = 0;
    uint64_t N = 0;
    for (size_t i = 0; i < c->cap; i++) {
        const cell *e = &c->cells[i];
        if (!e->n || (p.ignore_gt && e->gt == p.ignore_gt_label)) continue;
        t[m++] = *e;
        N += e->n;
    }
    r->voxels_scored = N;
    r->voxels_ignored = c->voxels - N;
    r->pairs = m;
    if (N == 0) {
        free(t);
        return ax__err(AX_E_INVALID,
                       "eval: nothing to score: all %llu voxels have the ignored gt label %llu",
                       (unsigned long long)c->voxels, (unsigned long long)p.ignore_gt_label);
    }

    int rc = AX_OK;
    ax_eval_object *objs = ax__malloc_array(m, sizeof *objs);
    if (!objs) {
        free(t);
        return ax__err(AX_E_NOMEM, "eval: out of memory for %zu labels", m);
    }
    double inv_n = 1.0 / (double)N;

    /* gt side: a_i, split shares; pair sums */
    qsort(t, m, sizeof *t, cmp_gt_seg);
    u128 J_all = 0, J_nz = 0, A = 0, B_all = 0, B_nz = 0;
    uint64_t Z = 0;
    for (size_t k = 0; k < m; k++) {
        J_all += sq(t[k].n);
        if (t[k].seg == 0) Z += t[k].n;
        else J_nz += sq(t[k].n);
    }
    size_t ngt = objects_of(t, m, true, objs);
    ksum split = {0, 0}, hgt = {0, 0};
    for (size_t i = 0; i < ngt; i++) {
        A += sq(objs[i].size);
        ksum_add(&split, objs[i].bits);
        ksum_add(&hgt, (double)objs[i].size * log2((double)N / (double)objs[i].size));
    }
    r->gt_labels = ngt;
    rc = worst_list(objs, ngt, p.worst, inv_n, &r->worst_split, &r->n_worst_split);
    if (rc < 0) goto out;

    /* seg side: b_j, merge shares */
    qsort(t, m, sizeof *t, cmp_seg_gt);
    size_t nseg = objects_of(t, m, false, objs);
    ksum merge = {0, 0}, hseg = {0, 0};
    for (size_t j = 0; j < nseg; j++) {
        B_all += sq(objs[j].size);
        if (objs[j].id != 0) B_nz += sq(objs[j].size);
        ksum_add(&merge, objs[j].bits);
        ksum_add(&hseg, (double)objs[j].size * log2((double)N / (double)objs[j].size));
    }
    r->seg_labels = nseg;
    r->voxels_seg0 = Z;
    rc = worst_list(objs, nseg, p.worst, inv_n, &r->worst_merge, &r->n_worst_merge);
    if (rc < 0) goto out;

    r->voi_split = ksum_get(&split) * inv_n;
    r->voi_merge = ksum_get(&merge) * inv_n;
    r->h_gt = ksum_get(&hgt) * inv_n;
    r->h_seg = ksum_get(&hseg) * inv_n;

    /* SNEMI3D / CREMI: seg-0 voxels are singletons, each adding 1^2 to B and to J */
    u128 Jc = J_nz + Z, Bc = B_nz + Z;
    r->arand = rand_error(A, Bc, Jc);
    r->arand_precision = (double)Jc / (double)Bc;
    r->arand_recall = (double)Jc / (double)A;
    /* seg 0 an ordinary object */
    r->arand_seg0_label = rand_error(A, B_all, J_all);
    /* skimage: pairs of distinct voxels, sum n(n-1) */
    u128 A1 = A - N, B1 = B_all - N, J1 = J_all - N;
    if (A1 == 0 || B1 == 0) r->arand_skimage = NAN;
    else if (J1 == 0) r->arand_skimage = 1.0;
    else r->arand_skimage = rand_error(A1, B1, J1);

    double voi = r->voi_split + r->voi_merge;
    r->cremi_score = sqrt(r->arand * voi);

out:
    free(objs);
    free(t);
    if (rc < 0) {
        ax_eval_result_clear(r);
        r->voxels_total = c->voxels;
    }
    return rc;
}

/* ---- parallel accumulation -------------------------------------------------------- */

/* Each thread slot counts a block into its own table, then merges it into the shared one
 * and clears it: memory stays O(pairs + threads x block). */
typedef struct accum {
    ax_contingency *global;
    pthread_mutex_t lock;
    int nslots;
    ax_contingency **local;
} accum;

static int accum_init(accum *a)
{
    memset(a, 0, sizeof *a);
    a->nslots = ax_threads_get();
    a->local = ax__calloc((size_t)a->nslots, sizeof *a->local);
    if (!a->local) return ax__err(AX_E_NOMEM, "eval: out of memory");
    int rc = ax_contingency_new(&a->global);
    if (rc < 0) {
        free(a->local);
        a->local = NULL;
        return rc;
    }
    pthread_mutex_init(&a->lock, NULL);
    return AX_OK;
}

static void accum_free(accum *a)
{
    if (!a->local) return;
    for (int i = 0; i < a->nslots; i++) ax_contingency_free(a->local[i]);
    free(a->local);
    ax_contingency_free(a->global);
    pthread_mutex_destroy(&a->lock);
    a->local = NULL;
}

static int accum_add(accum *a, int slot, const uint64_t *seg, const uint64_t *gt, size_t n)
{
    if (slot < 0 || slot >= a->nslots)
        return ax__err(AX_E_INTERNAL, "eval: thread slot %d outside 0..%d", slot, a->nslots);
    int rc;
    if (!a->local[slot] && (rc = ax_contingency_new(&a->local[slot])) < 0) return rc;
    ax_contingency *loc = a->local[slot];
    if ((rc = ax_contingency_add(loc, seg, gt, n)) < 0) return rc;
    pthread_mutex_lock(&a->lock);
    rc = ax_contingency_merge(a->global, loc);
    pthread_mutex_unlock(&a->lock);
    ax_contingency_clear(loc);
    return rc;
}

/* ---- arrays ----------------------------------------------------------------------- */

enum { ARRAY_PIECE = 1 << 20 };

typedef struct array_job {
    const uint64_t *seg, *gt;
    size_t n;
    accum acc;
} array_job;

static int array_task(void *ctx, int64_t i, int thread)
{
    array_job *j = ctx;
    size_t lo = (size_t)i * ARRAY_PIECE, len = j->n - lo < ARRAY_PIECE ? j->n - lo : ARRAY_PIECE;
    return accum_add(&j->acc, thread, j->seg + lo, j->gt + lo, len);
}

int ax_eval_arrays(const uint64_t *seg, const uint64_t *gt, size_t n, const ax_eval_params *p,
                   ax_eval_result *r)
{
    if (!r) return ax__err(AX_E_INVALID, "ax_eval_arrays: result is NULL");
    memset(r, 0, sizeof *r);
    if (n && (!seg || !gt)) return ax__err(AX_E_INVALID, "ax_eval_arrays: NULL label array");
    if (n == 0) return ax__err(AX_E_INVALID, "eval: no voxels to score (empty input)");
    array_job j = {.seg = seg, .gt = gt, .n = n};
    int rc = accum_init(&j.acc);
    if (rc < 0) return rc;
    rc = ax_parallel_for((int64_t)((n + ARRAY_PIECE - 1) / ARRAY_PIECE), array_task, &j);
    if (rc == AX_OK) rc = ax_contingency_score(j.acc.global, p, r);
    accum_free(&j.acc);
    return rc;
}

/* ---- volumes ---------------------------------------------------------------------- */

enum { BLOCK_TARGET = 1 << 18, BLOCK_MAX = 1 << 22 }; /* voxels per block */

typedef struct vol_job {
    ax_volume *v[2]; /* seg, gt */
    int nd[2];
    int64_t shape[3], block[3], nb[3];
    accum acc;
    uint64_t **buf; /* per slot: 2 x block voxels */
    ax_progress *prog;
} vol_job;

static int vol_task(void *ctx, int64_t i, int thread)
{
    vol_job *j = ctx;
    if (thread < 0 || thread >= j->acc.nslots)
        return ax__err(AX_E_INTERNAL, "eval: thread slot %d outside 0..%d", thread, j->acc.nslots);
    int64_t bi[3] = {i / (j->nb[1] * j->nb[2]), (i / j->nb[2]) % j->nb[1], i % j->nb[2]};
    int64_t st[3], sz[3];
    size_t nvox = 1;
    for (int d = 0; d < 3; d++) {
        st[d] = bi[d] * j->block[d];
        sz[d] = j->shape[d] - st[d] < j->block[d] ? j->shape[d] - st[d] : j->block[d];
        nvox *= (size_t)sz[d];
    }
    if (!j->buf[thread]) {
        size_t bv = (size_t)(j->block[0] * j->block[1] * j->block[2]);
        j->buf[thread] = ax__malloc_array(2 * bv, sizeof(uint64_t));
        if (!j->buf[thread]) return ax__err(AX_E_NOMEM, "eval: out of memory for a block");
    }
    uint64_t *lab[2] = {j->buf[thread], j->buf[thread] + nvox};
    for (int k = 0; k < 2; k++) {
        int64_t s4[4] = {0, st[0], st[1], st[2]}, z4[4] = {1, sz[0], sz[1], sz[2]};
        int off = j->nd[k] == 4 ? 0 : 1;
        int rc = ax_volume_read_region_as(j->v[k], s4 + off, z4 + off, AX_DTYPE_U64, lab[k]);
        if (rc < 0) return rc;
    }
    int rc = accum_add(&j->acc, thread, lab[0], lab[1], nvox);
    ax_progress_add(j->prog, 1);
    return rc;
}

static void shape_str(char *buf, size_t n, const ax_volume_info *in)
{
    int w = 0;
    for (int d = 0; d < in->ndim && w >= 0 && (size_t)w < n; d++)
        w += snprintf(buf + w, n - (size_t)w, "%s%lld", d ? " x " : "", (long long)in->shape[d]);
}

/* a 3-d volume, or a 4-d one with one channel */
static int check_labels(ax_volume *v, const char *what)
{
    const ax_volume_info *in = ax_volume_get_info(v);
    if (in->ndim == 3 || (in->ndim == 4 && in->shape[0] == 1)) return AX_OK;
    char s[160];
    shape_str(s, sizeof s, in);
    return ax__err(AX_E_RANGE, "%s: %s volume is %s (%d-d); eval needs 3-d labels (z, y, x)",
                   ax_volume_path(v), what, s, in->ndim);
}

int ax_eval_volumes(ax_volume *seg, ax_volume *gt, const ax_eval_params *p, ax_eval_result *r)
{
    if (!r) return ax__err(AX_E_INVALID, "ax_eval_volumes: result is NULL");
    memset(r, 0, sizeof *r);
    if (!seg || !gt) return ax__err(AX_E_INVALID, "ax_eval_volumes: NULL volume");
    int rc;
    if ((rc = check_labels(seg, "seg")) < 0 || (rc = check_labels(gt, "gt")) < 0) return rc;
    const ax_volume_info *is = ax_volume_get_info(seg), *ig = ax_volume_get_info(gt);
    const int64_t *ss = is->shape + is->ndim - 3, *gs = ig->shape + ig->ndim - 3;
    if (ss[0] != gs[0] || ss[1] != gs[1] || ss[2] != gs[2]) {
        char a[160], b[160];
        shape_str(a, sizeof a, is);
        shape_str(b, sizeof b, ig);
        return ax__err(AX_E_RANGE, "eval: shape mismatch: seg %s is %s, gt %s is %s",
                       ax_volume_path(seg), a, ax_volume_path(gt), b);
    }
    vol_job j = {.v = {seg, gt}, .nd = {is->ndim, ig->ndim}};
    const int64_t *ch = is->chunks + is->ndim - 3;
    int64_t nblocks = 1;
    for (int d = 0; d < 3; d++) {
        j.shape[d] = ss[d];
        if (ss[d] <= 0) return ax__err(AX_E_INVALID, "eval: %s is empty", ax_volume_path(seg));
        int64_t c = ch[d] > 0 ? ch[d] : 1;
        j.block[d] = c < ss[d] ? c : ss[d];
    }
    /* grow blocks of whole chunks (x, then y, then z) to ~BLOCK_TARGET voxels; shrink
     * huge chunks (an unchunked HDF5 dataset) below BLOCK_MAX */
    for (int d = 2; d >= 0; d--)
        while (j.block[0] * j.block[1] * j.block[2] < BLOCK_TARGET && j.block[d] < j.shape[d])
            j.block[d] = j.block[d] * 2 < j.shape[d] ? j.block[d] * 2 : j.shape[d];
    for (int d = 0; d < 3; d++)
        while (j.block[0] * j.block[1] * j.block[2] > BLOCK_MAX && j.block[d] > 1)
            j.block[d] = (j.block[d] + 1) / 2;
    for (int d = 0; d < 3; d++) {
        j.nb[d] = (j.shape[d] + j.block[d] - 1) / j.block[d];
        nblocks *= j.nb[d];
    }
    if ((rc = accum_init(&j.acc)) < 0) return rc;
    j.buf = ax__calloc((size_t)j.acc.nslots, sizeof *j.buf);
    if (!j.buf) {
        accum_free(&j.acc);
        return ax__err(AX_E_NOMEM, "eval: out of memory");
    }
    j.prog = ax_progress_new("eval", nblocks);
    rc = ax_parallel_for(nblocks, vol_task, &j);
    ax_progress_done(j.prog);
    for (int k = 0; k < j.acc.nslots; k++) free(j.buf[k]);
    free(j.buf);
    if (rc == AX_OK) rc = ax_contingency_score(j.acc.global, p, r);
    accum_free(&j.acc);
    return rc;
}
