/* test_skel.c: skeletons (include/axon/skel.h).
 *
 * - ax_distance_transform against a brute-force nearest-zero search on random masks, with
 *   anisotropy, with and without a black border;
 * - TEASAR on analytic shapes: a capsule (one straight path, tip to tip), a Y of three
 *   capsules (3 end points, 1 branch point near the junction, arm lengths), a torus (one
 *   near-closed loop of length 2 pi R), a capsule along z with 40 x 4 x 4 nm voxels;
 * - structure on a dense Voronoi label volume: forests, parents before children, every
 *   vertex inside its object, radii equal to the object's distance transform, identical
 *   results for 1 and 2 threads and for the volume (zarr, chunked, with an offset) and
 *   in-memory paths; dust and id filters;
 * - SWC round trip (floats exact), SWC parsing and its errors, precomputed files decoded
 *   by hand from the documented layout;
 * - bad arguments fail with errors, not crashes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static double seg_dist(const double p[3], const double a[3], const double b[3])
{
    double ab[3], ap[3], t = 0, l2 = 0;
    for (int d = 0; d < 3; d++) {
        ab[d] = b[d] - a[d];
        ap[d] = p[d] - a[d];
        t += ab[d] * ap[d];
        l2 += ab[d] * ab[d];
    }
    t = l2 > 0 ? t / l2 : 0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double s = 0;
    for (int d = 0; d < 3; d++) {
        double q = p[d] - (a[d] + t * ab[d]);
        s += q * q;
    }
    return sqrt(s);
}

/* label voxels (z, y, x index scaled by vs) within r (physical) of segment a-b
 * (physical, z, y, x) */
static void paint_capsule(uint64_t *lab, const int64_t sh[3], const double vs[3],
                          const double a[3], const double b[3], double r, uint64_t id)
{
    for (int64_t z = 0; z < sh[0]; z++)
        for (int64_t y = 0; y < sh[1]; y++)
            for (int64_t x = 0; x < sh[2]; x++) {
                double p[3] = {z * vs[0], y * vs[1], x * vs[2]};
                if (seg_dist(p, a, b) <= r + 1e-9) lab[(z * sh[1] + y) * sh[2] + x] = id;
            }
}

typedef struct topo {
    int64_t ends, branches, pieces;
    int *deg;
} topo;

static topo topology(const ax_skeleton *s)
{
    topo t = {0};
    t.deg = calloc((size_t)s->n_vertices + 1, sizeof *t.deg);
    for (int64_t e = 0; e < 2 * s->n_edges; e++) t.deg[s->edges[e]]++;
    for (int64_t v = 0; v < s->n_vertices; v++) {
        if (t.deg[v] == 1) t.ends++;
        if (t.deg[v] >= 3) t.branches++;
    }
    t.pieces = s->n_vertices - s->n_edges; /* a forest */
    return t;
}

static double vdist(const ax_skeleton *s, int64_t a, int64_t b)
{
    double d2 = 0;
    for (int k = 0; k < 3; d2 += pow(s->vertices[3 * a + k] - s->vertices[3 * b + k], 2), k++) {}
    return sqrt(d2);
}

/* distance (voxel units, isotropic) of vertex v from the point (z, y, x) in voxels */
static double vdist_pt(const ax_skeleton *s, int64_t v, const double zyx[3])
{
    double dx = s->vertices[3 * v] - 0.5 - zyx[2], dy = s->vertices[3 * v + 1] - 0.5 - zyx[1],
           dz = s->vertices[3 * v + 2] - 0.5 - zyx[0];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

/* length along the tree from vertex `from` through neighbour `first` to an end point */
static double arm_length(const ax_skeleton *s, int64_t from, int64_t first, int64_t *end)
{
    double len = vdist(s, from, first);
    int64_t prev = from, cur = first;
    for (;;) {
        int64_t next = -1, deg = 0;
        for (int64_t e = 0; e < s->n_edges; e++) {
            int64_t a = s->edges[2 * e], b = s->edges[2 * e + 1];
            if (a == cur || b == cur) {
                deg++;
                int64_t o = a == cur ? b : a;
                if (o != prev) next = o;
            }
        }
        if (deg != 2 || next < 0) break;
        len += vdist(s, cur, next);
        prev = cur;
        cur = next;
    }
    *end = cur;
    return len;
}

static bool same_skeleton(const ax_skeleton *a, const ax_skeleton *b)
{
    if (a->id != b->id || a->n_vertices != b->n_vertices || a->n_edges != b->n_edges) return false;
    if (memcmp(a->vertices, b->vertices, (size_t)a->n_vertices * 3 * sizeof(float))) return false;
    if (!a->radii != !b->radii) return false;
    if (a->radii && memcmp(a->radii, b->radii, (size_t)a->n_vertices * sizeof(float))) return false;
    return !memcmp(a->edges, b->edges, (size_t)a->n_edges * 2 * sizeof(uint32_t));
}

static ax_skel_params small_params(void)
{
    ax_skel_params p = ax_skel_params_default();
    p.const_nm = 2;
    p.dust = 0;
    return p;
}

/* ---- distance transform -------------------------------------------------------------------- */

static void test_edt_brute(void)
{
    unsigned long long seed = 7;
    const double anis[3][3] = {{1, 1, 1}, {3, 1, 2}, {40, 4, 4}};
    for (int trial = 0; trial < 12; trial++) {
        int64_t sh[3] = {2 + (int64_t)(test_rand(&seed) % 7), 1 + (int64_t)(test_rand(&seed) % 9),
                         1 + (int64_t)(test_rand(&seed) % 11)};
        int64_t n = sh[0] * sh[1] * sh[2];
        const double *a = anis[trial % 3];
        bool black = trial % 2;
        double density = trial < 4 ? 0.95 : 0.6;
        uint8_t *m = malloc((size_t)n);
        float *d = malloc((size_t)n * sizeof *d);
        for (int64_t i = 0; i < n; i++)
            m[i] = (double)(test_rand(&seed) % 1000) / 1000.0 < density;
        CHECK_OK(ax_distance_transform(m, sh, a, black, d));
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t z = i / (sh[1] * sh[2]), y = (i / sh[2]) % sh[1], x = i % sh[2];
            double best = INFINITY;
            if (m[i]) {
                for (int64_t j = 0; j < n; j++) {
                    if (m[j]) continue;
                    int64_t z2 = j / (sh[1] * sh[2]), y2 = (j / sh[2]) % sh[1], x2 = j % sh[2];
                    double q = pow((z - z2) * a[0], 2) + pow((y - y2) * a[1], 2) +
                               pow((x - x2) * a[2], 2);
                    if (q < best) best = q;
                }
                best = sqrt(best);
                if (black) { /* nearest voxel outside: one step past a face */
                    double o[6] = {(z + 1) * a[0], (sh[0] - z) * a[0], (y + 1) * a[1],
                                   (sh[1] - y) * a[1], (x + 1) * a[2], (sh[2] - x) * a[2]};
                    for (int k = 0; k < 6; k++)
                        if (o[k] < best) best = o[k];
                }
            } else {
                best = 0;
            }
            bool ok = isinf(best) ? isinf(d[i]) : fabs(d[i] - best) <= 1e-4 * (1 + best);
            if (!ok && bad++ < 3)
                fprintf(stderr, "  edt trial %d voxel (%lld,%lld,%lld): %g, brute force %g\n",
                        trial, (long long)z, (long long)y, (long long)x, d[i], best);
        }
        CHECK(bad == 0);
        free(m);
        free(d);
    }
    /* no zero voxel at all: infinite, or the border distance */
    int64_t sh[3] = {3, 4, 5};
    uint8_t m[60];
    float d[60];
    memset(m, 1, sizeof m);
    CHECK_OK(ax_distance_transform(m, sh, NULL, false, d));
    CHECK(isinf(d[0]) && isinf(d[59]));
    double a[3] = {10, 1, 1};
    CHECK_OK(ax_distance_transform(m, sh, a, true, d));
    CHECK(d[0] == 1.0f && d[(1 * 4 + 1) * 5 + 2] == 2.0f);
}

/* ---- analytic shapes ---------------------------------------------------------------------- */

static void test_capsule(void)
{
    int64_t sh[3] = {24, 24, 72};
    uint64_t *lab = calloc((size_t)(sh[0] * sh[1] * sh[2]), sizeof *lab);
    double vs[3] = {1, 1, 1}, a[3] = {12, 12, 10}, b[3] = {12, 12, 60};
    paint_capsule(lab, sh, vs, a, b, 5, 3);
    ax_skel_params p = small_params();
    ax_skeleton **s;
    int64_t n;
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s, &n));
    CHECK(n == 1);
    if (n == 1) {
        topo t = topology(s[0]);
        double len = ax_skeleton_length(s[0]);
        fprintf(stderr, "  capsule: %lld vertices, length %.2f (tip to tip 60), %lld ends, "
                "%lld branches\n", (long long)s[0]->n_vertices, len, (long long)t.ends,
                (long long)t.branches);
        CHECK(s[0]->id == 3);
        CHECK(t.pieces == 1 && t.ends == 2 && t.branches == 0);
        CHECK(fabs(len - 60) <= 2);
        /* the end points are near the capsule's tips (x = 5 and 65 on the axis): TEASAR
         * ends at the geodesically farthest voxel, which the 26-connected metric puts on
         * the rim of the cap (oblique steps overrate distances), up to 3 voxels away */
        double t1[3] = {12, 12, 5}, t2[3] = {12, 12, 65};
        int near1 = 0, near2 = 0;
        for (int64_t v = 0; v < s[0]->n_vertices; v++) {
            if (t.deg[v] != 1) continue;
            near1 += vdist_pt(s[0], v, t1) <= 3;
            near2 += vdist_pt(s[0], v, t2) <= 3;
        }
        CHECK(near1 == 1 && near2 == 1);
        /* a centred path: along the cylinder every vertex is within a voxel of the axis */
        int off = 0;
        for (int64_t v = 0; v < s[0]->n_vertices; v++) {
            double x = s[0]->vertices[3 * v] - 0.5;
            double dy = s[0]->vertices[3 * v + 1] - 12.5, dz = s[0]->vertices[3 * v + 2] - 12.5;
            off += x >= 10 && x <= 60 && sqrt(dy * dy + dz * dz) > 1.01;
        }
        CHECK(off == 0);
        free(t.deg);
    }
    ax_skeletons_free(s, n);
    free(lab);
}

static void test_y_branch(void)
{
    int64_t sh[3] = {24, 84, 76};
    uint64_t *lab = calloc((size_t)(sh[0] * sh[1] * sh[2]), sizeof *lab);
    double vs[3] = {1, 1, 1}, r = 4;
    double J[3] = {12, 42, 32}, S[3] = {12, 42, 7}, A[3] = {12, 60, 50}, B[3] = {12, 24, 50};
    paint_capsule(lab, sh, vs, J, S, r, 9);
    paint_capsule(lab, sh, vs, J, A, r, 9);
    paint_capsule(lab, sh, vs, J, B, r, 9);
    ax_skel_params p = small_params();
    ax_skeleton **s;
    int64_t n;
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s, &n));
    CHECK(n == 1);
    if (n == 1) {
        const ax_skeleton *k = s[0];
        topo t = topology(k);
        fprintf(stderr, "  Y: %lld vertices, %lld ends, %lld branch points, length %.2f\n",
                (long long)k->n_vertices, (long long)t.ends, (long long)t.branches,
                ax_skeleton_length(k));
        CHECK(t.pieces == 1 && t.ends == 3 && t.branches == 1);
        int64_t bv = -1;
        for (int64_t v = 0; v < k->n_vertices; v++)
            if (t.deg[v] == 3) bv = v;
        if (bv >= 0 && t.ends == 3) {
            double dj = vdist_pt(k, bv, J);
            fprintf(stderr, "  Y: branch point %.2f voxels from the junction\n", dj);
            CHECK(dj <= 3);
            /* tips: segment ends pushed out by the radius */
            double ts[3] = {12, 42, 7 - r}, ta[3] = {12, 60 + r / sqrt(2), 50 + r / sqrt(2)},
                   tb[3] = {12, 24 - r / sqrt(2), 50 + r / sqrt(2)};
            const double *tips[3] = {ts, ta, tb};
            double want[3] = {25 + r, 18 * sqrt(2) + r, 18 * sqrt(2) + r};
            int matched = 0;
            for (int64_t e = 0; e < k->n_edges; e++) {
                int64_t o = -1;
                if (k->edges[2 * e] == bv) o = k->edges[2 * e + 1];
                if (k->edges[2 * e + 1] == bv) o = k->edges[2 * e];
                if (o < 0) continue;
                int64_t end;
                double len = arm_length(k, bv, o, &end);
                for (int i = 0; i < 3; i++) {
                    double dt = vdist_pt(k, end, tips[i]);
                    if (dt > 3) continue; /* the rim of the cap, as for the capsule */
                    matched++;
                    fprintf(stderr, "  Y arm %d: length %.2f (want %.2f), end %.2f from the tip\n",
                            i, len, want[i] + 0, dt);
                    CHECK(fabs(len - want[i]) <= 3);
                }
            }
            CHECK(matched == 3);
        }
        free(t.deg);
    }
    ax_skeletons_free(s, n);
    free(lab);
}

static void test_torus(void)
{
    int64_t sh[3] = {16, 84, 84};
    uint64_t *lab = calloc((size_t)(sh[0] * sh[1] * sh[2]), sizeof *lab);
    double R = 30, r = 5, c[3] = {8, 42, 42};
    for (int64_t z = 0; z < sh[0]; z++)
        for (int64_t y = 0; y < sh[1]; y++)
            for (int64_t x = 0; x < sh[2]; x++) {
                double q = hypot(y - c[1], x - c[2]) - R;
                if (q * q + (z - c[0]) * (z - c[0]) <= r * r) lab[(z * sh[1] + y) * sh[2] + x] = 5;
            }
    ax_skel_params p = small_params();
    ax_skeleton **s;
    int64_t n;
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s, &n));
    CHECK(n == 1);
    if (n == 1) {
        const ax_skeleton *k = s[0];
        topo t = topology(k);
        double len = ax_skeleton_length(k), want = 2 * M_PI * R;
        /* the loop covers the ring except the gap left by the last invalidation ball: the
         * largest angle between neighbouring vertices around the centre */
        int64_t nv = k->n_vertices, near_core = 0;
        double *ang = calloc((size_t)nv + 1, sizeof *ang);
        for (int64_t v = 0; v < nv; v++) {
            double x = k->vertices[3 * v] - 0.5, y = k->vertices[3 * v + 1] - 0.5,
                   z = k->vertices[3 * v + 2] - 0.5;
            ang[v] = atan2(y - c[1], x - c[2]) * 180 / M_PI;
            double q = hypot(y - c[1], x - c[2]) - R;
            near_core += sqrt(q * q + (z - c[0]) * (z - c[0])) <= 1.5;
        }
        for (int64_t i = 1; i < nv; i++) /* insertion sort: a few hundred values */
            for (int64_t j = i; j > 0 && ang[j - 1] > ang[j]; j--) {
                double tmp = ang[j];
                ang[j] = ang[j - 1];
                ang[j - 1] = tmp;
            }
        double gap = nv ? ang[0] + 360 - ang[nv - 1] : 360;
        for (int64_t i = 1; i < nv; i++)
            if (ang[i] - ang[i - 1] > gap) gap = ang[i] - ang[i - 1];
        free(ang);
        fprintf(stderr, "  torus: %lld vertices, length %.2f (2 pi R = %.2f, %+.1f%%), %lld ends, "
                "%lld branches, gap %.1f degrees, %.0f%% of vertices on the core circle\n",
                (long long)nv, len, want, 100 * (len / want - 1), (long long)t.ends,
                (long long)t.branches, gap, 100.0 * (double)near_core / (double)nv);
        CHECK(t.pieces == 1);
        /* a near-closed loop, plus at most one stub where the root sits on the surface */
        CHECK(t.ends <= 3 && t.branches <= 1 && t.ends == 2 + t.branches);
        /* the last ball: radius 1.5 * ~5 + 2 on both sides of the last target, ~17 degrees */
        CHECK(gap <= 25);
        /* 26-connected paths along a circle run ~5.5% long (chain-code bias), the ends and
         * the root stub add a radius each, the gap takes ~17 degrees off */
        CHECK(len / want >= 0.97 && len / want <= 1.10);
        CHECK(near_core >= 0.85 * (double)nv);
        free(t.deg);
    }
    ax_skeletons_free(s, n);
    free(lab);
}

static void test_anisotropic(void)
{
    /* voxels 40 x 4 x 4 nm (z, y, x); capsule along z, radius 40 nm, axis 1600 nm */
    int64_t sh[3] = {46, 26, 26};
    double vs[3] = {40, 4, 4};
    double a[3] = {2 * 40, 13 * 4, 13 * 4}, b[3] = {42 * 40, 13 * 4, 13 * 4};
    uint64_t *lab = calloc((size_t)(sh[0] * sh[1] * sh[2]), sizeof *lab);
    paint_capsule(lab, sh, vs, a, b, 40, 11);
    ax_skel_params p = ax_skel_params_default();
    p.dust = 0;
    p.const_nm = 80;
    memcpy(p.anisotropy, vs, sizeof vs);
    ax_skeleton **s;
    int64_t n;
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s, &n));
    CHECK(n == 1);
    if (n == 1) {
        topo t = topology(s[0]);
        double len = ax_skeleton_length(s[0]);
        fprintf(stderr, "  anisotropic capsule: length %.1f nm (tip to tip 1680), %lld ends, "
                "%lld branches, radius at the middle %.1f nm\n", len, (long long)t.ends,
                (long long)t.branches, s[0]->radii[s[0]->n_vertices / 2]);
        CHECK(t.ends == 2 && t.branches == 0 && t.pieces == 1);
        CHECK(fabs(len - 1680) <= 80);
        /* vertices at voxel centres in nm: z = (i + 0.5) * 40 */
        for (int64_t v = 0; v < s[0]->n_vertices; v++) {
            double iz = s[0]->vertices[3 * v + 2] / 40 - 0.5, ix = s[0]->vertices[3 * v] / 4 - 0.5;
            CHECK(fabs(iz - round(iz)) < 1e-4 && fabs(ix - round(ix)) < 1e-4);
        }
        /* radius on the axis: the nearest voxel outside the capsule (10 voxels of 4 nm) is
         * (dy, dx) = (10, 1) voxels away */
        int64_t mid = -1;
        for (int64_t v = 0; v < s[0]->n_vertices; v++)
            if (fabs(s[0]->vertices[3 * v + 2] - 22.5 * 40) < 1) mid = v;
        CHECK(mid >= 0 && fabs(s[0]->radii[mid] - 4 * sqrt(101)) < 1e-3);
        free(t.deg);
    }
    ax_skeletons_free(s, n);
    free(lab);
}

/* ---- a dense label volume ----------------------------------------------------------------- */

#define VZ 36
#define VY 44
#define VX 52

/* Voronoi cells of random seeds (dense, like ground truth) plus a few specks */
static uint64_t *voronoi(unsigned long long seed, int nseeds)
{
    int64_t n = (int64_t)VZ * VY * VX;
    uint64_t *lab = malloc((size_t)n * sizeof *lab);
    double s[64][3];
    for (int k = 0; k < nseeds; k++) {
        s[k][0] = (double)(test_rand(&seed) % VZ);
        s[k][1] = (double)(test_rand(&seed) % VY);
        s[k][2] = (double)(test_rand(&seed) % VX);
    }
    for (int64_t z = 0; z < VZ; z++)
        for (int64_t y = 0; y < VY; y++)
            for (int64_t x = 0; x < VX; x++) {
                int best = 0;
                double bd = INFINITY;
                for (int k = 0; k < nseeds; k++) {
                    double d = pow(z - s[k][0], 2) * 2 + pow(y - s[k][1], 2) + pow(x - s[k][2], 2);
                    if (d < bd) {
                        bd = d;
                        best = k;
                    }
                }
                lab[(z * VY + y) * VX + x] = (uint64_t)(100 + 7 * best);
            }
    /* a thin tube through everything, a second piece of label 100, and background */
    for (int64_t x = 3; x < VX - 3; x++) lab[(10 * VY + 20) * VX + x] = 5000;
    lab[(30 * VY + 40) * VX + 45] = 100;
    for (int64_t i = 0; i < 200; i++) lab[test_rand(&seed) % (uint64_t)n] = 0;
    return lab;
}

static void test_structure_and_threads(void)
{
    int64_t sh[3] = {VZ, VY, VX};
    uint64_t *lab = voronoi(42, 12);
    ax_skel_params p = ax_skel_params_default();
    p.const_nm = 3;
    p.dust = 0;
    double vs[3] = {2, 1, 1.5};
    memcpy(p.anisotropy, vs, sizeof vs);
    ax_skeleton **s1 = NULL, **s2 = NULL;
    int64_t n1 = 0, n2 = 0;
    int saved = ax_threads_get();
    CHECK_OK(ax_threads_set(1));
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s1, &n1));
    CHECK_OK(ax_threads_set(2));
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s2, &n2));
    ax_threads_set(saved);
    CHECK(n1 == 13 && n1 == n2);
    bool same = n1 == n2;
    for (int64_t i = 0; same && i < n1; i++) same = same_skeleton(s1[i], s2[i]);
    CHECK(same);

    /* per skeleton: sorted ids, a forest with parents first, vertices inside the object,
     * radii = the object's distance transform over the whole volume */
    int64_t nv = (int64_t)VZ * VY * VX;
    uint8_t *m = malloc((size_t)nv);
    float *dt = malloc((size_t)nv * sizeof *dt);
    int64_t bad_order = 0, outside = 0, bad_radius = 0, pieces100 = 0, branchy = 0;
    for (int64_t i = 0; i < n1; i++) {
        const ax_skeleton *k = s1[i];
        if (i > 0) CHECK(s1[i - 1]->id < k->id);
        for (int64_t q = 0; q < nv; q++) m[q] = lab[q] == k->id;
        CHECK_OK(ax_distance_transform(m, sh, vs, false, dt));
        for (int64_t e = 0; e < k->n_edges; e++)
            bad_order += k->edges[2 * e] >= k->edges[2 * e + 1];
        topo t = topology(k);
        if (k->id == 100) pieces100 = t.pieces;
        branchy += t.branches > 0;
        free(t.deg);
        for (int64_t v = 0; v < k->n_vertices; v++) {
            int64_t x = (int64_t)floor(k->vertices[3 * v] / vs[2]),
                    y = (int64_t)floor(k->vertices[3 * v + 1] / vs[1]),
                    z = (int64_t)floor(k->vertices[3 * v + 2] / vs[0]);
            if (x < 0 || y < 0 || z < 0 || x >= VX || y >= VY || z >= VZ) {
                outside++;
                continue;
            }
            int64_t q = (z * VY + y) * VX + x;
            outside += lab[q] != k->id;
            bad_radius += fabsf(k->radii[v] - dt[q]) > 1e-5f * (1 + dt[q]);
        }
    }
    fprintf(stderr, "  voronoi: %lld skeletons, %lld with branches, label 100 in %lld pieces\n",
            (long long)n1, (long long)branchy, (long long)pieces100);
    CHECK(bad_order == 0 && outside == 0 && bad_radius == 0);
    CHECK(pieces100 == 2); /* the speck is its own tree */
    CHECK(branchy >= 1);
    free(m);
    free(dt);

    /* dust and id filters */
    ax_skeleton **s3;
    int64_t n3;
    uint64_t want[3] = {5000, 107, 999999};
    p.object_ids = want;
    p.n_object_ids = 3;
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s3, &n3));
    CHECK(n3 == 2 && s3[0]->id == 107 && s3[1]->id == 5000);
    if (n3 == 2) {
        bool found = false;
        for (int64_t i = 0; i < n1; i++)
            if (s1[i]->id == 107) found = same_skeleton(s1[i], s3[0]);
        CHECK(found);
    }
    ax_skeletons_free(s3, n3);
    p.object_ids = NULL;
    p.n_object_ids = 0;
    p.dust = 100; /* drops the tube (46 voxels) */
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s3, &n3));
    CHECK(n3 == 12);
    for (int64_t i = 0; i < n3; i++) CHECK(s3[i]->id != 5000);
    ax_skeletons_free(s3, n3);

    ax_skeletons_free(s1, n1);
    ax_skeletons_free(s2, n2);
    free(lab);
}

static void test_volume_equals_labels(void)
{
    int64_t sh[3] = {VZ, VY, VX};
    uint64_t *lab = voronoi(9, 10);
    char path[600];
    test_path(path, sizeof path, "vor.zarr");
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_U64;
    cp.ndim = 3;
    memcpy(cp.shape, sh, sizeof sh);
    int64_t ch[3] = {16, 16, 16};
    memcpy(cp.chunks, ch, sizeof ch);
    cp.has_voxel_size = true;
    double vs[3] = {8, 6, 4}, off[3] = {800, 600, 400};
    memcpy(cp.voxel_size, vs, sizeof vs);
    memcpy(cp.offset, off, sizeof off);
    ax_volume *v;
    CHECK_OK(ax_volume_create(path, &cp, &v));
    int64_t st[3] = {0, 0, 0};
    CHECK_OK(ax_volume_write_region(v, st, sh, AX_DTYPE_U64, lab));
    CHECK_OK(ax_volume_close(v));
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));

    ax_skel_params p = ax_skel_params_default();
    p.const_nm = 20;
    p.dust = 50;
    ax_skeleton **sv, **sl;
    int64_t nv_, nl;
    CHECK_OK(ax_skeletonize_volume(v, &p, &sv, &nv_)); /* voxel size and offset from v */
    memcpy(p.anisotropy, vs, sizeof vs);
    memcpy(p.offset, off, sizeof off);
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &sl, &nl));
    CHECK(nv_ == nl && nl >= 10);
    bool same = nv_ == nl;
    for (int64_t i = 0; same && i < nl; i++) same = same_skeleton(sv[i], sl[i]);
    CHECK(same);
    /* vertices include the offset: the voxel comes back as floor((p - offset) / size) */
    int64_t outside = 0;
    for (int64_t i = 0; i < nl; i++)
        for (int64_t k = 0; k < sl[i]->n_vertices; k++) {
            int64_t x = (int64_t)floor((sl[i]->vertices[3 * k] - off[2]) / vs[2]),
                    y = (int64_t)floor((sl[i]->vertices[3 * k + 1] - off[1]) / vs[1]),
                    z = (int64_t)floor((sl[i]->vertices[3 * k + 2] - off[0]) / vs[0]);
            outside += x < 0 || y < 0 || z < 0 || x >= VX || y >= VY || z >= VZ ||
                       lab[(z * VY + y) * VX + x] != sl[i]->id;
        }
    CHECK(outside == 0);
    ax_skeletons_free(sv, nv_);
    ax_skeletons_free(sl, nl);
    ax_volume_close(v);

    /* a float volume and a 2-channel volume are refused */
    test_path(path, sizeof path, "float.zarr");
    cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_F32;
    cp.ndim = 3;
    int64_t s8[3] = {4, 4, 4};
    memcpy(cp.shape, s8, sizeof s8);
    CHECK_OK(ax_volume_create(path, &cp, &v));
    CHECK_OK(ax_volume_close(v));
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    CHECK_ERR(ax_skeletonize_volume(v, NULL, &sv, &nv_), AX_E_DTYPE, "integer labels");
    CHECK(sv == NULL && nv_ == 0);
    ax_volume_close(v);
    test_path(path, sizeof path, "two.zarr");
    cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_U32;
    cp.ndim = 4;
    int64_t s4[4] = {2, 4, 4, 4};
    memcpy(cp.shape, s4, sizeof s4);
    CHECK_OK(ax_volume_create(path, &cp, &v));
    CHECK_OK(ax_volume_close(v));
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    CHECK_ERR(ax_skeletonize_volume(v, NULL, &sv, &nv_), AX_E_RANGE, "3-d");
    ax_volume_close(v);
    free(lab);
}

/* ---- files --------------------------------------------------------------------------------- */

static ax_skeleton *y_skeleton(void)
{
    int64_t sh[3] = {20, 60, 60};
    uint64_t *lab = calloc((size_t)(sh[0] * sh[1] * sh[2]), sizeof *lab);
    double vs[3] = {1, 1, 1}, J[3] = {10, 30, 25}, S[3] = {10, 30, 5}, A[3] = {10, 45, 40},
           B[3] = {10, 15, 40};
    paint_capsule(lab, sh, vs, J, S, 3, 77);
    paint_capsule(lab, sh, vs, J, A, 3, 77);
    paint_capsule(lab, sh, vs, J, B, 3, 77);
    ax_skel_params p = small_params();
    p.anisotropy[0] = 3.3; /* coordinates that are not round numbers */
    p.anisotropy[1] = 1.7;
    p.anisotropy[2] = 0.9;
    p.offset[2] = 1e5 / 3;
    ax_skeleton **s;
    int64_t n;
    ax_skeleton *k = NULL;
    if (ax_skeletonize_labels(lab, sh, &p, &s, &n) == AX_OK && n == 1) {
        k = s[0];
        free(s);
    }
    free(lab);
    return k;
}

static void test_swc(void)
{
    ax_skeleton *k = y_skeleton();
    CHECK(k != NULL);
    if (!k) return;
    char path[600];
    test_path(path, sizeof path, "77.swc");
    CHECK_OK(ax_swc_write(path, k));
    ax_skeleton *r = NULL;
    CHECK_OK(ax_swc_read(path, &r));
    CHECK(r && same_skeleton(k, r)); /* ids, floats bit for bit, edges in order */
    ax_skeleton_free(r);

    /* without radii: 0 is written */
    float *rad = k->radii;
    k->radii = NULL;
    test_path(path, sizeof path, "12_noradius.swc");
    CHECK_OK(ax_swc_write(path, k));
    CHECK_OK(ax_swc_read(path, &r));
    CHECK(r && r->id == 12 && r->radii && r->radii[0] == 0 && r->n_edges == k->n_edges);
    ax_skeleton_free(r);
    k->radii = rad;

    /* a cycle cannot be written */
    ax_skeleton cyc = {.id = 1, .n_vertices = 3, .vertices = k->vertices, .n_edges = 3,
                       .edges = (uint32_t[]){0, 1, 1, 2, 2, 0}};
    test_path(path, sizeof path, "cycle.swc");
    CHECK_ERR(ax_swc_write(path, &cyc), AX_E_UNSUPPORTED, "not a forest");
    ax_skeleton_free(k);

    /* a hand-made file: comments, ids not 1..n, a parent listed after its child, a
     * vertex order that is not parents-first (written back breadth-first) */
    test_path(path, sizeof path, "hand.swc");
    FILE *f = fopen(path, "w");
    fputs("# made by hand\n\n10 1 0 0 0 1.5 -1\n30 3 2 0 0 1 20\n  20 3 1 0 0 1 10 # c\n"
          "40 3 1 1 0 0.5 20\n", f);
    fclose(f);
    CHECK_OK(ax_swc_read(path, &r));
    CHECK(r && r->id == 0 && r->n_vertices == 4 && r->n_edges == 3);
    if (r && r->n_edges == 3) {
        CHECK(r->edges[0] == 2 && r->edges[1] == 1); /* 20 -> 30 */
        CHECK(r->edges[2] == 0 && r->edges[3] == 2); /* 10 -> 20 */
        CHECK(r->vertices[3] == 2.0f && r->radii[0] == 1.5f);
        CHECK(fabs(ax_skeleton_length(r) - 3) < 1e-6);
        test_path(path, sizeof path, "hand2.swc");
        CHECK_OK(ax_swc_write(path, r));
        ax_skeleton *r2;
        CHECK_OK(ax_swc_read(path, &r2));
        CHECK(r2 && r2->n_vertices == 4 && r2->n_edges == 3);
        if (r2 && r2->n_edges == 3) {
            for (int64_t e = 0; e < 3; e++) CHECK(r2->edges[2 * e] < r2->edges[2 * e + 1]);
            CHECK(fabs(ax_skeleton_length(r2) - 3) < 1e-6);
        }
        ax_skeleton_free(r2);
    }
    ax_skeleton_free(r);

    /* errors: a bad line, an unknown parent, a duplicate id, a missing file */
    const char *bad[3][2] = {{"1 0 0 0 0 1 -1\n2 0 1 zero 0 1 1\n", ":2: not an SWC line"},
                             {"1 0 0 0 0 1 -1\n2 0 1 0 0 1 7\n", ":2: parent 7"},
                             {"1 0 0 0 0 1 -1\n1 0 1 0 0 1 -1\n", "defined twice"}};
    for (int i = 0; i < 3; i++) {
        test_path(path, sizeof path, "bad.swc");
        f = fopen(path, "w");
        fputs(bad[i][0], f);
        fclose(f);
        r = (ax_skeleton *)1;
        CHECK_ERR(ax_swc_read(path, &r), AX_E_FORMAT, bad[i][1]);
        CHECK(r == NULL);
    }
    test_path(path, sizeof path, "missing.swc");
    CHECK_ERR(ax_swc_read(path, &r), AX_E_NOTFOUND, "missing.swc");
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float lef32(const uint8_t *p)
{
    uint32_t u = le32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_precomputed(void)
{
    ax_skeleton *k = y_skeleton();
    CHECK(k != NULL);
    if (!k) return;
    float v1[3] = {1, 2, 3};
    ax_skeleton one = {.id = 18446744073709551615ull, .n_vertices = 1, .vertices = v1};
    ax_skeleton *list[2] = {k, &one};
    char dir[600], path[700];
    test_path(dir, sizeof dir, "skels");
    CHECK_OK(ax_skeletons_write_precomputed(dir, list, 2));
    snprintf(path, sizeof path, "%s/info", dir);
    FILE *f = fopen(path, "rb");
    char info[1024] = {0};
    CHECK(f && fread(info, 1, sizeof info - 1, f) > 0);
    if (f) fclose(f);
    CHECK(strstr(info, "\"@type\": \"neuroglancer_skeletons\"") != NULL);
    CHECK(strstr(info, "\"id\": \"radius\", \"data_type\": \"float32\", \"num_components\": 1"));
    CHECK(strstr(info, "\"spatial_index\": null") != NULL);

    snprintf(path, sizeof path, "%s/77", dir);
    f = fopen(path, "rb");
    uint8_t *buf = malloc(1 << 20);
    size_t got = f ? fread(buf, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    uint32_t nv = le32(buf), ne = le32(buf + 4);
    CHECK(nv == k->n_vertices && ne == k->n_edges);
    size_t want = 8 + 12 * (size_t)nv + 8 * (size_t)ne + 4 * (size_t)nv;
    CHECK(got == want);
    if (nv == k->n_vertices && ne == k->n_edges && got == want) {
        int diff = 0;
        const uint8_t *p = buf + 8;
        for (uint32_t i = 0; i < 3 * nv; i++, p += 4) diff += lef32(p) != k->vertices[i];
        for (uint32_t i = 0; i < 2 * ne; i++, p += 4) diff += le32(p) != k->edges[i];
        for (uint32_t i = 0; i < nv; i++, p += 4) diff += lef32(p) != k->radii[i];
        CHECK(diff == 0);
    }
    snprintf(path, sizeof path, "%s/18446744073709551615", dir);
    f = fopen(path, "rb");
    got = f ? fread(buf, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    CHECK(got == 8 + 12 + 4 && le32(buf) == 1 && le32(buf + 4) == 0 && lef32(buf + 12) == 2.0f &&
          lef32(buf + 20) == 0.0f);
    free(buf);
    ax_skeleton_free(k);
}

/* ---- bad input -------------------------------------------------------------------------- */

static void test_bad_input(void)
{
    uint64_t lab[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    int64_t sh[3] = {2, 2, 2}, zero[3] = {2, 0, 2};
    ax_skeleton **s = (ax_skeleton **)1;
    int64_t n = 5;
    CHECK_ERR(ax_skeletonize_labels(NULL, sh, NULL, &s, &n), AX_E_INVALID, "NULL");
    CHECK(s == NULL && n == 0);
    CHECK_ERR(ax_skeletonize_labels(lab, NULL, NULL, &s, &n), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_skeletonize_labels(lab, zero, NULL, &s, &n), AX_E_INVALID, "bad shape");
    CHECK_ERR(ax_skeletonize_labels(lab, sh, NULL, NULL, &n), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_skeletonize_volume(NULL, NULL, &s, &n), AX_E_INVALID, "NULL");
    ax_skel_params p = ax_skel_params_default();
    p.scale = -1;
    CHECK_ERR(ax_skeletonize_labels(lab, sh, &p, &s, &n), AX_E_INVALID, "scale");
    p = ax_skel_params_default();
    p.anisotropy[1] = NAN;
    CHECK_ERR(ax_skeletonize_labels(lab, sh, &p, &s, &n), AX_E_INVALID, "voxel size");
    p = ax_skel_params_default();
    p.n_object_ids = 2;
    CHECK_ERR(ax_skeletonize_labels(lab, sh, &p, &s, &n), AX_E_INVALID, "object_ids");
    float d[8];
    CHECK_ERR(ax_distance_transform(NULL, sh, NULL, false, d), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_distance_transform((uint8_t *)lab, zero, NULL, false, d), AX_E_INVALID, "shape");
    CHECK_ERR(ax_swc_write(NULL, NULL), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_skeletons_write_precomputed(NULL, NULL, 0), AX_E_INVALID, "NULL");
    ax_skeleton_free(NULL);
    ax_skeletons_free(NULL, 3);
    CHECK(ax_skeleton_length(NULL) == 0);

    /* tiny and degenerate objects: a single voxel, an object filling the whole array
     * (no boundary anywhere), dust keeping none */
    p = ax_skel_params_default();
    p.dust = 0;
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s, &n));
    CHECK(n == 1 && s[0]->n_vertices >= 1 && s[0]->radii[0] > 0 && isfinite(s[0]->radii[0]));
    ax_skeletons_free(s, n);
    uint64_t one[1] = {4};
    int64_t s1[3] = {1, 1, 1};
    CHECK_OK(ax_skeletonize_labels(one, s1, &p, &s, &n));
    CHECK(n == 1 && s[0]->n_vertices == 1 && s[0]->n_edges == 0 && s[0]->vertices[0] == 0.5f);
    ax_skeletons_free(s, n);
    p.dust = 9;
    CHECK_OK(ax_skeletonize_labels(lab, sh, &p, &s, &n));
    CHECK(n == 0 && s == NULL);
    uint64_t zeros[8] = {0};
    CHECK_OK(ax_skeletonize_labels(zeros, sh, NULL, &s, &n));
    CHECK(n == 0);
}

int main(void)
{
    RUN(test_edt_brute);
    RUN(test_capsule);
    RUN(test_y_branch);
    RUN(test_torus);
    RUN(test_anisotropic);
    RUN(test_structure_and_threads);
    RUN(test_volume_equals_labels);
    RUN(test_swc);
    RUN(test_precomputed);
    RUN(test_bad_input);
    return TEST_REPORT();
}
