/* erl.c: expected run length (ERL) of a segmentation along ground-truth skeletons, as
 * funlib.evaluate.expected_run_length computes it (see include/axon/eval.h).
 *
 * Everything is gathered into arrays and sorted, so the sums run in one fixed order and
 * the result does not depend on the order skeletons or edges come in.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "axon/eval.h"
#include "axon/skel.h"

typedef struct {
    uint64_t seg;
    int64_t skel;
} seg_skel;

typedef struct {
    int64_t skel;
    uint64_t seg;
    double len;
} run_piece;

static int cmp_seg_skel(const void *a, const void *b)
{
    const seg_skel *x = a, *y = b;
    if (x->seg != y->seg) return x->seg < y->seg ? -1 : 1;
    return x->skel < y->skel ? -1 : x->skel > y->skel;
}

static int cmp_piece(const void *a, const void *b)
{
    const run_piece *x = a, *y = b;
    if (x->skel != y->skel) return x->skel < y->skel ? -1 : 1;
    if (x->seg != y->seg) return x->seg < y->seg ? -1 : 1;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double edge_length(const ax_skeleton *s, int64_t e)
{
    const float *a = s->vertices + 3 * (size_t)s->edges[2 * e], *b = s->vertices + 3 * (size_t)s->edges[2 * e + 1];
    double dx = (double)a[0] - b[0], dy = (double)a[1] - b[1], dz = (double)a[2] - b[2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

/* is segment g under two or more skeletons? (pairs sorted by seg, unique) */
static bool merged(const seg_skel *pairs, int64_t np, uint64_t g)
{
    int64_t lo = 0, hi = np;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (pairs[mid].seg < g) lo = mid + 1;
        else hi = mid;
    }
    return lo + 1 < np && pairs[lo].seg == g && pairs[lo + 1].seg == g;
}

int ax_erl_lut(ax_skeleton *const *sk, int64_t n, const uint64_t *const *seg, ax_erl_result *r)
{
    if (!r) return ax__err(AX_E_INVALID, "erl: no result");
    memset(r, 0, sizeof *r);
    if (n < 0 || (n && (!sk || !seg))) return ax__err(AX_E_INVALID, "erl: bad skeleton list");
    int64_t nv = 0, ne = 0;
    for (int64_t i = 0; i < n; i++) {
        const ax_skeleton *s = sk[i];
        if (!s || s->n_vertices < 0 || s->n_edges < 0 || (s->n_vertices && !s->vertices) ||
            (s->n_edges && !s->edges) || (s->n_vertices && !seg[i]))
            return ax__err(AX_E_INVALID, "erl: skeleton %lld is malformed", (long long)i);
        for (int64_t e = 0; e < 2 * s->n_edges; e++)
            if ((int64_t)s->edges[e] >= s->n_vertices)
                return ax__err(AX_E_INVALID, "erl: skeleton %llu: edge %lld names vertex %u of %lld",
                               (unsigned long long)s->id, (long long)(e / 2), s->edges[e], (long long)s->n_vertices);
        nv += s->n_vertices;
        ne += s->n_edges;
    }
    seg_skel *pairs = ax__malloc_array((size_t)(nv ? nv : 1), sizeof *pairs);
    run_piece *pieces = ax__malloc_array((size_t)(ne ? ne : 1), sizeof *pieces);
    uint64_t *ids = NULL;
    int64_t maxv = 0;
    for (int64_t i = 0; i < n; i++) maxv = sk[i]->n_vertices > maxv ? sk[i]->n_vertices : maxv;
    ids = ax__malloc_array((size_t)(maxv ? maxv : 1), sizeof *ids);
    if (!pairs || !pieces || !ids) {
        free(pairs), free(pieces), free(ids);
        return ax__err(AX_E_NOMEM, "erl: out of memory for %lld vertices", (long long)nv);
    }

    /* which segments lie under which skeletons; the splits per skeleton */
    int64_t np = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = 0;
        for (int64_t v = 0; v < sk[i]->n_vertices; v++)
            if (seg[i][v]) ids[k++] = seg[i][v];
        qsort(ids, (size_t)k, sizeof *ids, cmp_u64);
        int64_t distinct = 0;
        for (int64_t j = 0; j < k; j++)
            if (!j || ids[j] != ids[j - 1]) {
                pairs[np++] = (seg_skel){ids[j], i};
                distinct++;
            }
        if (distinct > 1) r->splits += distinct - 1;
    }
    qsort(pairs, (size_t)np, sizeof *pairs, cmp_seg_skel);
    for (int64_t j = 0; j < np; j++)
        if (j + 1 < np && pairs[j + 1].seg == pairs[j].seg && (j == 0 || pairs[j - 1].seg != pairs[j].seg)) r->merges++;

    /* edge lengths: all of them make L; the correct ones go to their (skeleton, segment) */
    int64_t npc = 0;
    double *lengths = ax__malloc_array((size_t)(ne ? ne : 1), sizeof *lengths);
    if (!lengths) {
        free(pairs), free(pieces), free(ids);
        return ax__err(AX_E_NOMEM, "erl: out of memory for %lld edges", (long long)ne);
    }
    double L = 0, perfect = 0;
    for (int64_t i = 0; i < n; i++) {
        const ax_skeleton *s = sk[i];
        for (int64_t e = 0; e < s->n_edges; e++) lengths[e] = edge_length(s, e);
        /* sorted, so the sums do not depend on the edge order */
        qsort(lengths, (size_t)s->n_edges, sizeof *lengths, cmp_double);
        double Ls = 0;
        for (int64_t e = 0; e < s->n_edges; e++) Ls += lengths[e];
        if (s->n_edges) r->skeletons++;
        L += Ls;
        perfect += Ls * Ls;
        for (int64_t e = 0; e < s->n_edges; e++) {
            uint64_t a = seg[i][s->edges[2 * e]], b = seg[i][s->edges[2 * e + 1]];
            if (!a || !b) r->omitted_edges++;
            else if (a != b) r->split_edges++;
            else if (merged(pairs, np, a)) r->merged_edges++;
            else pieces[npc++] = (run_piece){i, a, edge_length(s, e)};
        }
    }
    qsort(pieces, (size_t)npc, sizeof *pieces, cmp_piece);
    double sum_sq = 0;
    for (int64_t j = 0; j < npc;) {
        double l = 0;
        int64_t k = j;
        for (; k < npc && pieces[k].skel == pieces[j].skel && pieces[k].seg == pieces[j].seg; k++) l += pieces[k].len;
        sum_sq += l * l;
        j = k;
    }
    r->total_length = L;
    r->erl = L > 0 ? sum_sq / L : 0;
    r->max_erl = L > 0 ? perfect / L : 0;
    free(pairs);
    free(pieces);
    free(ids);
    free(lengths);
    return AX_OK;
}

int ax_erl_volume(ax_skeleton *const *sk, int64_t n, ax_volume *seg, ax_erl_result *r)
{
    if (!seg || !r) return ax__err(AX_E_INVALID, "erl: no segmentation or result");
    const ax_volume_info *vi = ax_volume_get_info(seg);
    int sp = vi->ndim == 4 && vi->shape[0] == 1 ? 1 : 0;
    if (vi->ndim != 3 + sp)
        return ax__err(AX_E_INVALID, "%s: erl needs a 3-d segmentation (this one has %d axes)", ax_volume_path(seg),
                       vi->ndim);
    uint64_t **lut = ax__calloc((size_t)(n ? n : 1), sizeof *lut);
    if (!lut) return ax__err(AX_E_NOMEM, "erl: out of memory");
    int rc = AX_OK;
    for (int64_t i = 0; i < n && rc == AX_OK; i++) {
        const ax_skeleton *s = sk[i];
        if (!s) {
            rc = ax__err(AX_E_INVALID, "erl: skeleton %lld is missing", (long long)i);
            break;
        }
        lut[i] = ax__malloc_array((size_t)(s->n_vertices ? s->n_vertices : 1), sizeof **lut);
        if (!lut[i]) {
            rc = ax__err(AX_E_NOMEM, "erl: out of memory");
            break;
        }
        for (int64_t v = 0; v < s->n_vertices && rc == AX_OK; v++) {
            /* vertices are (x, y, z); the volume is indexed (z, y, x) */
            int64_t q[3];
            bool inside = true;
            for (int d = 0; d < 3; d++) {
                double p = s->vertices[3 * v + (2 - d)];
                double vs = vi->voxel_size[d] > 0 ? vi->voxel_size[d] : 1;
                q[d] = (int64_t)floor((p - vi->offset[d]) / vs);
                if (!(q[d] >= 0 && q[d] < vi->shape[sp + d])) inside = false;
            }
            lut[i][v] = 0;
            if (!inside) continue;
            int64_t start[4] = {0, q[0], q[1], q[2]}, size[4] = {1, 1, 1, 1};
            rc = ax_volume_read_region_as(seg, sp ? start : start + 1, size, AX_DTYPE_U64, &lut[i][v]);
        }
    }
    if (rc == AX_OK) rc = ax_erl_lut(sk, n, (const uint64_t *const *)lut, r);
    for (int64_t i = 0; i < n; i++) free(lut[i]);
    free(lut);
    return rc;
}
