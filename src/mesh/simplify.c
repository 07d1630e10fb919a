/* simplify.c: quadric error metric edge collapse (Garland & Heckbert 1997) that keeps a
 * closed, oriented 2-manifold closed and oriented; Taubin smoothing.
 *
 * ALGORITHM
 * Every vertex carries the quadric of the planes of its original triangles (unweighted, so
 * v^T Q v is a sum of squared distances in nm^2). Each edge (u, v) is priced at the point x
 * minimising x^T (Qu + Qv) x under the constraint that the enclosed volume does not change
 * (the volume change of the collapse is linear in x: Lindstrom & Turk 1998), found from the
 * 3x3 system regularised towards the edge midpoint (A + eps I), so flat and cylindrical
 * neighbourhoods, whose A is singular, give the midpoint-nearest minimiser instead of a
 * point far away. Volume preservation matters here: plain QEM shrinks convex voxel
 * surfaces by a few % per halving of the triangle count, which thin neurites feel most.
 * The cheapest edge is collapsed (v into u, u moved to x) unless
 *   - the link condition fails: u and v have a common neighbour other than the two
 *     vertices opposite the edge (the collapse would pinch the surface, glue two triangles
 *     back to back, or flatten a tetrahedron), or
 *   - a triangle around u or v would turn its normal by more than ~75 degrees or collapse
 *     to no area (a fold or flip), or
 *   - no position keeps the volume (a thin fin folded onto itself).
 * With these checks the surface stays a closed, oriented manifold of the same genus.
 *
 * PERFORMANCE
 * Edges live in an indexed 4-ary heap (one slot per edge, updated in place), so a collapse
 * re-prices the edges around u without leaving stale entries behind (a lazy heap popped
 * three stale entries per live one, and sifting was 40% of the time). Keys are the cheap
 * unconstrained costs; the constrained cost, which walks both stars, is computed when an
 * edge reaches the top, and the edge is re-sifted if that made it dearer. Half-edges
 * carry their edge id, so a collapse finds and merges the edges it touches in O(degree).
 * Ties break on edge ids: the result is deterministic.
 *
 * MEMORY
 * Per vertex: position and quadric (128 B, one record), mark, list head, flag (~140 B);
 * per triangle its corners' list links and half-edge ids (25 B); per edge endpoints, heap
 * slot and position (~21 B). About 140 B per vertex and 55 B per triangle in all.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh_int.h"

#define NIL UINT32_MAX
/* cos of the largest normal turn a collapse may cause */
#define FLIP_COS 0.25

/* 8 bytes: a float key (ties break on the edge id) keeps the heap half the size, and a
 * 4-ary node's children in half a cache line */
typedef struct hslot {
    float cost;
    uint32_t e;
} hslot;

/* position and quadric side by side: pricing an edge touches both for each endpoint, and
 * separate arrays cost a cache miss each (pricing is memory-bound) */
typedef struct vtx {
    double p[3];
    double q[10];
    double pad[3]; /* 128 bytes: two whole cache lines */
} vtx;

typedef struct simp {
    vtx *vx;
    uint32_t *tri;
    int64_t nv, nt;
    uint32_t *mark, *head, *cnext; /* vertex stamps; incident corners as linked lists */
    uint8_t *vdead, *tdead;
    uint32_t stamp;
    uint32_t *he;            /* corner c -> edge of the half-edge tri[c] -> tri[next(c)] */
    uint32_t *eu, *ev;       /* edge endpoints */
    uint32_t *epos;          /* heap position (NIL: not in the heap) */
    uint8_t *exact;          /* key is the constrained cost */
    int64_t ne, max_edges;
    hslot *heap;
    size_t hn;
} simp;

static inline uint32_t next_corner(uint32_t c) { return c % 3 == 2 ? c - 2 : c + 1; }

/* ---- indexed 4-ary heap of edges ------------------------------------------------------- */

static inline bool hless(const hslot *a, const hslot *b)
{
    return a->cost < b->cost || (a->cost == b->cost && a->e < b->e);
}

static void sift_up(simp *s, size_t i)
{
    hslot x = s->heap[i];
    while (i) {
        size_t p = (i - 1) / 4;
        if (!hless(&x, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        s->epos[s->heap[i].e] = (uint32_t)i;
        i = p;
    }
    s->heap[i] = x;
    s->epos[x.e] = (uint32_t)i;
}

static void sift_down(simp *s, size_t i)
{
    hslot x = s->heap[i];
    const size_t n = s->hn;
    for (;;) {
        size_t l = 4 * i + 1;
        if (l >= n) break;
        size_t m = l, end = l + 4 < n ? l + 4 : n;
        for (size_t j = l + 1; j < end; j++)
            if (hless(&s->heap[j], &s->heap[m])) m = j;
        if (!hless(&s->heap[m], &x)) break;
        s->heap[i] = s->heap[m];
        s->epos[s->heap[i].e] = (uint32_t)i;
        i = m;
    }
    s->heap[i] = x;
    s->epos[x.e] = (uint32_t)i;
}

/* insert edge e with `cost`, or move it to its new place */
static void heap_set(simp *s, uint32_t e, double cost_d)
{
    const float cost = (float)cost_d;
    uint32_t p = s->epos[e];
    if (p == NIL) {
        p = (uint32_t)s->hn++;
        s->heap[p] = (hslot){cost, e};
        sift_up(s, p);
        return;
    }
    float old = s->heap[p].cost;
    s->heap[p].cost = cost;
    if (cost < old) sift_up(s, p);
    else sift_down(s, p);
}

static void heap_remove(simp *s, uint32_t e)
{
    uint32_t p = s->epos[e];
    if (p == NIL) return;
    s->epos[e] = NIL;
    hslot last = s->heap[--s->hn];
    if (p == s->hn) return;
    s->heap[p] = last;
    s->epos[last.e] = p;
    sift_up(s, p);
    sift_down(s, s->epos[last.e]);
}

/* ---- pricing ------------------------------------------------------------------------------ */

static double qeval(const double *q, const double x[3])
{
    return q[0] * x[0] * x[0] + 2 * q[1] * x[0] * x[1] + 2 * q[2] * x[0] * x[2] +
           2 * q[3] * x[0] + q[4] * x[1] * x[1] + 2 * q[5] * x[1] * x[2] + 2 * q[6] * x[1] +
           q[7] * x[2] * x[2] + 2 * q[8] * x[2] + q[9];
}

/* Volume constraint of collapsing (u, v): moving both to mid + d changes the enclosed
 * volume by g . d - h (coordinates relative to mid), linear in d. */
static void volume_constraint(const simp *s, uint32_t u, uint32_t v, const double mid[3],
                              double g[3], double *h)
{
    g[0] = g[1] = g[2] = 0;
    double old = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t w = pass ? v : u, other = pass ? u : v;
        for (uint32_t c = s->head[w]; c != NIL; c = s->cnext[c]) {
            const uint32_t *tv = s->tri + 3 * (int64_t)(c / 3); /* lists hold no dead corners */
            bool both = tv[0] == other || tv[1] == other || tv[2] == other;
            if (both && pass) continue; /* counted from u's side */
            int k = (int)(c % 3);
            double p[3][3];
            for (int j = 0; j < 3; j++) /* rotated: the moving vertex first */
                for (int d = 0; d < 3; d++)
                    p[j][d] = s->vx[tv[(k + j) % 3]].p[d] - mid[d];
            double bc[3] = {p[1][1] * p[2][2] - p[1][2] * p[2][1],
                            p[1][2] * p[2][0] - p[1][0] * p[2][2],
                            p[1][0] * p[2][1] - p[1][1] * p[2][0]};
            old += p[0][0] * bc[0] + p[0][1] * bc[1] + p[0][2] * bc[2];
            if (!both)
                for (int d = 0; d < 3; d++) g[d] += bc[d];
        }
    }
    *h = old; /* both sides carry the factor 1/6: dropped */
}

/* Best position for collapsing (u, v) and its cost: the quadric's minimiser (regularised
 * towards the midpoint) among the points that keep the enclosed volume (Lindstrom-Turk's
 * volume constraint), so simplification neither shrinks nor inflates objects. */
static double target(const simp *s, uint32_t u, uint32_t v, bool constrained, double x[3])
{
    double q[10];
    const double *qu = s->vx[u].q, *qv = s->vx[v].q;
    for (int i = 0; i < 10; i++) q[i] = qu[i] + qv[i];
    const double *pu = s->vx[u].p, *pv = s->vx[v].p;
    double mid[3] = {0.5 * (pu[0] + pv[0]), 0.5 * (pu[1] + pv[1]), 0.5 * (pu[2] + pv[2])};
    double eps = 1e-3 * (q[0] + q[4] + q[7]) / 3 + 1e-12;
    double a00 = q[0] + eps, a01 = q[1], a02 = q[2], a11 = q[4] + eps, a12 = q[5],
           a22 = q[7] + eps;
    /* r = -(A mid + b): the step d from mid solves (A + eps I) d = r */
    double r[3] = {-(q[0] * mid[0] + q[1] * mid[1] + q[2] * mid[2] + q[3]),
                   -(q[1] * mid[0] + q[4] * mid[1] + q[5] * mid[2] + q[6]),
                   -(q[2] * mid[0] + q[5] * mid[1] + q[7] * mid[2] + q[8])};
    double c00 = a11 * a22 - a12 * a12, c01 = a02 * a12 - a01 * a22, c02 = a01 * a12 - a02 * a11;
    double det = a00 * c00 + a01 * c01 + a02 * c02;
    memcpy(x, mid, sizeof mid);
    if (fabs(det) > 1e-30) { /* always, with eps > 0; else refuse the collapse */
        double c11 = a00 * a22 - a02 * a02, c12 = a01 * a02 - a00 * a12,
               c22 = a00 * a11 - a01 * a01;
        double d0[3] = {(c00 * r[0] + c01 * r[1] + c02 * r[2]) / det,
                        (c01 * r[0] + c11 * r[1] + c12 * r[2]) / det,
                        (c02 * r[0] + c12 * r[1] + c22 * r[2]) / det};
        if (!constrained) {
            for (int k = 0; k < 3; k++) x[k] = mid[k] + d0[k];
            goto priced;
        }
        double g[3], h;
        volume_constraint(s, u, v, mid, g, &h);
        double w[3] = {(c00 * g[0] + c01 * g[1] + c02 * g[2]) / det,
                       (c01 * g[0] + c11 * g[1] + c12 * g[2]) / det,
                       (c02 * g[0] + c12 * g[1] + c22 * g[2]) / det};
        double gw = g[0] * w[0] + g[1] * w[1] + g[2] * w[2];
        double gg = g[0] * g[0] + g[1] * g[1] + g[2] * g[2];
        double mu = 0;
        if (gg > 0 && gw > 1e-12 * gg / (fabs(a00) + fabs(a11) + fabs(a22)))
            mu = (g[0] * d0[0] + g[1] * d0[1] + g[2] * d0[2] - h) / gw;
        double d[3], l2 = 0;
        for (int k = 0; k < 3; k++) {
            d[k] = d0[k] - mu * w[k];
            x[k] = mid[k] + d[k];
            l2 += (pu[k] - pv[k]) * (pu[k] - pv[k]);
        }
        /* no point keeps the volume (g ~ 0: a thin fin folded onto itself): refuse */
        if (fabs(g[0] * d[0] + g[1] * d[1] + g[2] * d[2] - h) > 1e-6 * l2 * sqrt(l2))
            return INFINITY;
    } else {
        return INFINITY;
    }
    /* + a sliver of the squared edge length: on flat stretches (cost 0 everywhere) the
     * shortest edges go first, so the decimation stays even instead of growing fans around
     * the lowest vertex ids */
priced:;
    double c = qeval(q, x);
    double l2 = 0;
    for (int k = 0; k < 3; k++) l2 += (pu[k] - pv[k]) * (pu[k] - pv[k]);
    return (c > 0 ? c : 0) + 1e-3 * l2;
}

static void normal(const double *a, const double *b, const double *c, double n[3])
{
    double e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    double e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    n[0] = e1[1] * e2[2] - e1[2] * e2[1];
    n[1] = e1[2] * e2[0] - e1[0] * e2[2];
    n[2] = e1[0] * e2[1] - e1[1] * e2[0];
}

/* would moving `moving` (u or v) to x fold a triangle of its that survives the collapse? */
static bool folds(const simp *s, uint32_t moving, uint32_t other, const double x[3])
{
    for (uint32_t c = s->head[moving]; c != NIL; c = s->cnext[c]) {
        const uint32_t *tv = s->tri + 3 * (int64_t)(c / 3);
        if (tv[0] == other || tv[1] == other || tv[2] == other) continue; /* dies */
        const double *p[3], *q[3];
        for (int k = 0; k < 3; k++) {
            p[k] = s->vx[tv[k]].p;
            q[k] = tv[k] == moving ? x : p[k];
        }
        double n0[3], n1[3];
        normal(p[0], p[1], p[2], n0);
        normal(q[0], q[1], q[2], n1);
        double d = n0[0] * n1[0] + n0[1] * n1[1] + n0[2] * n1[2];
        double l0 = sqrt(n0[0] * n0[0] + n0[1] * n0[1] + n0[2] * n0[2]);
        double l1 = sqrt(n1[0] * n1[0] + n1[1] * n1[1] + n1[2] * n1[2]);
        if (l1 <= 1e-9 * l0 || d < FLIP_COS * l0 * l1) return true;
    }
    return false;
}

/* Link condition for an edge of a closed manifold: exactly two common neighbours. */
static bool link_ok(simp *s, uint32_t u, uint32_t v)
{
    if (s->stamp > UINT32_MAX - 4) { /* wrap: old marks could pass for new ones */
        memset(s->mark, 0, (size_t)s->nv * sizeof *s->mark);
        s->stamp = 0;
    }
    uint32_t a = s->stamp += 2, b = a + 1;
    for (uint32_t c = s->head[v]; c != NIL; c = s->cnext[c]) {
        const uint32_t *tv = s->tri + 3 * (int64_t)(c / 3);
        for (int k = 0; k < 3; k++) s->mark[tv[k]] = a;
    }
    int common = 0;
    for (uint32_t c = s->head[u]; c != NIL; c = s->cnext[c]) {
        const uint32_t *tv = s->tri + 3 * (int64_t)(c / 3);
        for (int k = 0; k < 3; k++) {
            uint32_t w = tv[k];
            if (w == u || w == v || s->mark[w] != a) continue;
            s->mark[w] = b;
            common++;
        }
    }
    return common == 2;
}

/* remove corners of dead triangles from v's list */
static void compact_list(simp *s, uint32_t v)
{
    uint32_t *link = &s->head[v];
    while (*link != NIL) {
        uint32_t c = *link;
        if (s->tdead[c / 3]) *link = s->cnext[c];
        else link = &s->cnext[c];
    }
}

/* Collapse edge e = (u, v) into u at x. The two triangles on the edge die; in each, the
 * edge (v, o) merges into (o, u), so the surviving triangle on (v, o) takes (o, u)'s id. */
static void collapse(simp *s, uint32_t e, uint32_t u, uint32_t v, const double x[3],
                     int64_t *alive)
{
    uint32_t gone[2] = {NIL, NIL}, keep[2] = {NIL, NIL}, opp[2] = {NIL, NIL};
    int nd = 0;
    for (uint32_t c = s->head[v]; c != NIL; c = s->cnext[c]) {
        uint32_t t = c / 3;
        const uint32_t *tv = s->tri + 3 * (int64_t)t;
        if (tv[0] != u && tv[1] != u && tv[2] != u) continue;
        s->tdead[t] = 1;
        (*alive)--;
        if (nd == 2) continue; /* cannot happen on a manifold (link condition checked) */
        for (uint32_t k = 0; k < 3; k++) {
            uint32_t cc = 3 * t + k, a = s->tri[cc], b = s->tri[next_corner(cc)];
            if ((a == v && b != u) || (b == v && a != u)) gone[nd] = s->he[cc];
            else if (a != v && b != v) keep[nd] = s->he[cc];
            if (a != u && a != v) opp[nd] = a;
        }
        nd++;
    }
    heap_remove(s, e);
    for (int k = 0; k < nd; k++) heap_remove(s, gone[k]);
    /* v's surviving triangles: v -> u, merged edge ids, edge endpoints */
    for (uint32_t c = s->head[v]; c != NIL; c = s->cnext[c]) {
        uint32_t t = c / 3;
        if (s->tdead[t]) continue;
        for (uint32_t k = 0; k < 3; k++) {
            uint32_t cc = 3 * t + k, id = s->he[cc];
            for (int j = 0; j < nd; j++)
                if (id == gone[j]) id = s->he[cc] = keep[j];
            if (s->eu[id] == v) s->eu[id] = u;
            if (s->ev[id] == v) s->ev[id] = u;
        }
        s->tri[c] = u;
    }
    /* splice v's corners onto u's list, then drop the dead ones */
    uint32_t *link = &s->head[v];
    while (*link != NIL) link = &s->cnext[*link];
    *link = s->head[u];
    s->head[u] = s->head[v];
    s->head[v] = NIL;
    compact_list(s, u);
    for (int k = 0; k < nd; k++) compact_list(s, opp[k]);
    memcpy(s->vx[u].p, x, 3 * sizeof *x);
    for (int i = 0; i < 10; i++) s->vx[u].q[i] += s->vx[v].q[i];
    s->vdead[v] = 1;
    /* re-price u's edges: each is in two of u's triangles, as the half-edge out of u in one
     * and into u in the other */
    for (uint32_t c = s->head[u]; c != NIL; c = s->cnext[c]) {
        uint32_t id = s->he[c], a = s->eu[id], b = s->ev[id];
        double xx[3];
        heap_set(s, id, target(s, a, b, false, xx));
        s->exact[id] = 0;
    }
}

static void simp_free(simp *s)
{
    free(s->vx);
    free(s->mark);
    free(s->head);
    free(s->cnext);
    free(s->vdead);
    free(s->tdead);
    free(s->he);
    free(s->eu);
    free(s->ev);
    free(s->epos);
    free(s->exact);
    free(s->heap);
}

/* Edge ids for every half-edge: the half-edges a -> b with a < b are numbered in corner
 * order, and each reverse half-edge b -> a finds its twin in a's corner list (a few
 * entries; a hash table of all edges was a tenth of the run time in cache misses). */
static int build_edges(simp *s)
{
    const int64_t nc = 3 * s->nt;
    int64_t ne = 0;
    for (int64_t c = 0; c < nc; c++) {
        uint32_t a = s->tri[c], b = s->tri[next_corner((uint32_t)c)];
        if (a > b) continue;
        if (ne == s->max_edges) /* more than 3T/2 edges: not closed (a bug upstream) */
            return ax__err(AX_E_INTERNAL, "mesh simplify: the mesh is not closed");
        s->eu[ne] = a;
        s->ev[ne] = b;
        s->he[c] = (uint32_t)ne++;
    }
    for (int64_t c = 0; c < nc; c++) {
        uint32_t a = s->tri[c], b = s->tri[next_corner((uint32_t)c)];
        if (a < b) continue;
        uint32_t twin = NIL;
        for (uint32_t k = s->head[b]; k != NIL && twin == NIL; k = s->cnext[k])
            if (s->tri[next_corner(k)] == a) twin = k; /* corner k holds b: edge b -> a */
        if (twin == NIL)
            return ax__err(AX_E_INTERNAL, "mesh simplify: an edge without its twin");
        s->he[c] = s->he[twin];
    }
    s->ne = ne;
    return AX_OK;
}

int ax__simplify(double *pos, int64_t *nv_io, uint32_t *tri, int64_t *nt_io, int64_t target_tris,
                 double max_error)
{
    const int64_t nv = *nv_io, nt = *nt_io;
    if (nt <= target_tris || nt < 4) return AX_OK;
    if (3 * nt >= (int64_t)NIL || nv >= (int64_t)NIL)
        return ax__err(AX_E_RANGE, "mesh simplify: %lld triangles: at most 2^32/3",
                       (long long)nt);
    const int64_t max_edges = 3 * nt / 2 + 1;
    simp s = {.tri = tri, .nv = nv, .nt = nt, .max_edges = max_edges};
    s.vx = ax__calloc((size_t)nv, sizeof *s.vx);
    s.mark = ax__calloc((size_t)nv, sizeof *s.mark);
    s.head = ax__malloc_array((size_t)nv, sizeof *s.head);
    s.cnext = ax__malloc_array((size_t)nt * 3, sizeof *s.cnext);
    s.vdead = ax__calloc((size_t)nv, 1);
    s.tdead = ax__calloc((size_t)nt, 1);
    s.he = ax__malloc_array((size_t)nt * 3, sizeof *s.he);
    s.eu = ax__malloc_array((size_t)max_edges, sizeof *s.eu);
    s.ev = ax__malloc_array((size_t)max_edges, sizeof *s.ev);
    s.epos = ax__malloc_array((size_t)max_edges, sizeof *s.epos);
    s.exact = ax__calloc((size_t)max_edges, 1);
    s.heap = ax__malloc_array((size_t)max_edges, sizeof *s.heap);
    int rc = AX_OK;
    if (!s.vx || !s.mark || !s.head || !s.cnext || !s.vdead || !s.tdead || !s.he || !s.eu ||
        !s.ev || !s.epos || !s.exact || !s.heap) {
        rc = ax__err(AX_E_NOMEM, "mesh simplify: out of memory (%lld triangles)", (long long)nt);
        goto out;
    }
    memset(s.head, 0xff, (size_t)nv * sizeof *s.head);
    for (int64_t v = 0; v < nv; v++) memcpy(s.vx[v].p, pos + 3 * v, sizeof s.vx[v].p);
    memset(s.epos, 0xff, (size_t)max_edges * sizeof *s.epos);
    for (int64_t t = nt - 1; t >= 0; t--) { /* lists in triangle order */
        const uint32_t *tv = tri + 3 * t;
        double n[3];
        normal(pos + 3 * (int64_t)tv[0], pos + 3 * (int64_t)tv[1], pos + 3 * (int64_t)tv[2], n);
        double l = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        double q[10] = {0};
        if (l > 0) {
            n[0] /= l;
            n[1] /= l;
            n[2] /= l;
            const double *a = pos + 3 * (int64_t)tv[0];
            double d = -(n[0] * a[0] + n[1] * a[1] + n[2] * a[2]);
            double qq[10] = {n[0] * n[0], n[0] * n[1], n[0] * n[2], n[0] * d, n[1] * n[1],
                             n[1] * n[2], n[1] * d,    n[2] * n[2], n[2] * d, d * d};
            memcpy(q, qq, sizeof q);
        }
        for (int k = 0; k < 3; k++) {
            uint32_t c = (uint32_t)(3 * t + k);
            s.cnext[c] = s.head[tv[k]];
            s.head[tv[k]] = c;
            for (int i = 0; i < 10; i++) s.vx[tv[k]].q[i] += q[i];
        }
    }
    if ((rc = build_edges(&s)) < 0) goto out;
    for (int64_t e = 0; e < s.ne; e++) {
        double x[3];
        s.heap[e] = (hslot){(float)target(&s, s.eu[e], s.ev[e], false, x), (uint32_t)e};
        s.epos[e] = (uint32_t)e;
    }
    s.hn = (size_t)s.ne;
    for (size_t i = s.hn / 4 + 1; i-- > 0;)
        if (i < s.hn) sift_down(&s, i);
    int64_t alive = nt;
    while (alive > target_tris && s.hn) {
        uint32_t e = s.heap[0].e, u = s.eu[e], v = s.ev[e];
        if (u > v) {
            uint32_t t = u;
            u = v;
            v = t;
        }
        /* the key is a lower bound until the constrained cost is in: put that in and let
         * the edge sink if it is no longer the cheapest */
        double x[3], cost = target(&s, u, v, true, x);
        if (isinf(cost)) { /* no volume-keeping position */
            heap_remove(&s, e);
            continue;
        }
        if (!s.exact[e] || (float)cost > s.heap[0].cost) {
            s.exact[e] = 1;
            s.heap[0].cost = (float)cost;
            bool sinks = false; /* still the cheapest: go on, no second star walk */
            for (size_t j = 1; j <= 4 && j < s.hn; j++) sinks |= hless(&s.heap[j], &s.heap[0]);
            if (sinks) {
                sift_down(&s, 0);
                continue;
            }
        }
        if (max_error > 0 && cost > max_error) break;
        if (!link_ok(&s, u, v) || folds(&s, u, v, x) || folds(&s, v, u, x)) {
            heap_remove(&s, e); /* back when a collapse at u or v re-prices it */
            continue;
        }
        collapse(&s, e, u, v, x, &alive);
    }
    /* compact: survivors keep their relative order */
    uint32_t *remap = s.mark; /* reuse */
    int64_t k = 0;
    for (int64_t v = 0; v < nv; v++) {
        if (s.vdead[v]) continue;
        remap[v] = (uint32_t)k;
        memcpy(pos + 3 * k, s.vx[v].p, 3 * sizeof *pos);
        k++;
    }
    *nv_io = k;
    k = 0;
    for (int64_t t = 0; t < nt; t++) {
        if (s.tdead[t]) continue;
        for (int j = 0; j < 3; j++) tri[3 * k + j] = remap[tri[3 * t + j]];
        k++;
    }
    *nt_io = k;
out:
    simp_free(&s);
    return rc;
}

/* ---- Taubin smoothing ---------------------------------------------------------------- */

int ax__smooth(double *pos, int64_t nv, const uint32_t *tri, int64_t nt, int iters)
{
    if (iters <= 0 || nv == 0) return AX_OK;
    /* 1-ring from directed edges: in a closed manifold each neighbour appears once as the
     * head of an edge leaving the vertex */
    int64_t *start = ax__calloc((size_t)nv + 1, sizeof *start);
    uint32_t *nb = ax__malloc_array((size_t)nt * 3, sizeof *nb);
    double *tmp = ax__malloc_array((size_t)nv * 3, sizeof *tmp);
    if (!start || !nb || !tmp) {
        free(start);
        free(nb);
        free(tmp);
        return ax__err(AX_E_NOMEM, "mesh smoothing: out of memory");
    }
    for (int64_t i = 0; i < 3 * nt; i++) start[tri[i] + 1]++;
    for (int64_t v = 0; v < nv; v++) start[v + 1] += start[v];
    for (int64_t t = 0; t < nt; t++)
        for (int k = 0; k < 3; k++) {
            uint32_t a = tri[3 * t + k];
            nb[start[a]++] = tri[3 * t + (k + 1) % 3];
        }
    for (int64_t v = nv; v > 0; v--) start[v] = start[v - 1]; /* undo the fill's shift */
    start[0] = 0;
    const double f[2] = {0.5, -0.53}; /* lambda, mu: shrink then inflate */
    for (int it = 0; it < iters; it++)
        for (int pass = 0; pass < 2; pass++) {
            for (int64_t v = 0; v < nv; v++) {
                double c[3] = {0, 0, 0};
                int64_t n = start[v + 1] - start[v];
                for (int64_t j = start[v]; j < start[v + 1]; j++)
                    for (int d = 0; d < 3; d++) c[d] += pos[3 * (int64_t)nb[j] + d];
                for (int d = 0; d < 3; d++)
                    tmp[3 * v + d] = n ? pos[3 * v + d] + f[pass] * (c[d] / n - pos[3 * v + d])
                                       : pos[3 * v + d];
            }
            memcpy(pos, tmp, (size_t)nv * 3 * sizeof *pos);
        }
    free(start);
    free(nb);
    free(tmp);
    return AX_OK;
}
