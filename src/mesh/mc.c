/* mc.c: marching cubes on a binary mask, with a case table built at start-up from a
 * face-consistent rule, so that the surface is watertight by construction.
 *
 * ALGORITHM
 * A cube joins 8 voxel centres; corner c is (x, y, z) = (c & 1, c >> 1 & 1, c >> 2 & 1) and
 * the case index has bit c set when corner c is inside. The surface crosses every cube edge
 * whose two corners differ, at the edge midpoint (the mask is binary: there is nothing to
 * interpolate). Instead of a hand-typed 256-case table (the classic one has cracks where
 * the ambiguous faces of neighbouring cubes are split differently), the table is derived:
 *   1. On each cube face, the crossing points are joined by segments. A face with two
 *      crossings has one segment; an ambiguous face (inside corners on one diagonal, outside
 *      on the other) always cuts off its two inside corners, i.e. inside voxels that touch
 *      only along an edge stay apart (objects are 6-connected; the two outside voxels of
 *      such a face are joined). The rule reads only the face's own four corners, so the two
 *      cubes sharing a face cut it identically and their polygons meet edge to edge: no
 *      cracks. Inside the cube, corners meeting only at the cube's centre are kept apart
 *      too, inside or outside (each loop bounds one cut-off piece).
 *   2. Each segment is oriented so that the surface, seen from outside the object, runs
 *      counter-clockwise; the two cubes sharing a face see its segments in opposite
 *      directions, which makes the whole surface consistently oriented.
 *   3. The segments chain into closed loops (each crossing point lies on exactly two faces
 *      of the cube, so it has one segment in and one out); each loop is a polygon.
 *   4. A polygon is triangulated with diagonals that join points on no common face: such a
 *      diagonal can belong to no other cube (two cubes that share two edges share the face
 *      holding them), so no edge is ever used by more than two triangles. Among those
 *      triangulations the one with the shortest diagonals wins; when none exists (some
 *      loops of 6-7 points), the polygon becomes a fan around an extra vertex at the loop's
 *      centroid, private to the cube.
 * Every crossing point of a cube edge is one shared vertex (the four cubes around that edge
 * look it up in the same slot), so the topology is explicit, and the star of every vertex
 * is one disk: the result is a closed, oriented 2-manifold.
 *
 * PERFORMANCE
 * One pass over the cubes, z slab by z slab. The case index comes from 8 byte loads; runs
 * of 7 cubes that are all outside or all inside are skipped with four 8-byte loads (most
 * cubes of a bounding box). Vertex indices live in two planes of x/y-edge slots plus one
 * of z-edge slots (20 bytes per (y, x) position): memory is O(ny * nx), not O(volume).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh_int.h"

#define MC_MAX_TRIS 16   /* checked while building the table */
#define MC_MAX_CENTERS 4 /* extra centroid vertices per cube */

/* cube edge -> its two corners; edges 0-3 run along x, 4-7 along y, 8-11 along z */
static const uint8_t edge_corner[12][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {0, 2}, {1, 3},
                                           {4, 6}, {5, 7}, {0, 4}, {1, 5}, {2, 6}, {3, 7}};
/* faces: corners in cyclic order, outward normal axis (0 x, 1 y, 2 z) and sign */
static const uint8_t face_corner[6][4] = {{0, 2, 6, 4}, {1, 3, 7, 5}, {0, 1, 5, 4},
                                          {2, 3, 7, 6}, {0, 1, 3, 2}, {4, 5, 7, 6}};
static const int face_axis[6] = {0, 0, 1, 1, 2, 2};
static const int face_sign[6] = {-1, 1, -1, 1, -1, 1};

static uint8_t mc_ntri[256];
static uint8_t mc_tri[256][MC_MAX_TRIS * 3]; /* codes: 0-11 edges, 12+k centroid k */
static float mc_center[256][MC_MAX_CENTERS][3];
static pthread_once_t mc_once = PTHREAD_ONCE_INIT;

static void corner_pos(int c, double p[3])
{
    p[0] = c & 1;
    p[1] = (c >> 1) & 1;
    p[2] = (c >> 2) & 1;
}

static void edge_mid(int e, double p[3])
{
    double a[3], b[3];
    corner_pos(edge_corner[e][0], a);
    corner_pos(edge_corner[e][1], b);
    for (int d = 0; d < 3; d++) p[d] = 0.5 * (a[d] + b[d]);
}

static int edge_of(int a, int b)
{
    for (int e = 0; e < 12; e++)
        if ((edge_corner[e][0] == a && edge_corner[e][1] == b) ||
            (edge_corner[e][0] == b && edge_corner[e][1] == a))
            return e;
    return -1;
}

/* bit set of the (two) faces edge e lies on */
static unsigned edge_faces(int e)
{
    unsigned f = 0;
    for (int i = 0; i < 6; i++) {
        int hits = 0;
        for (int k = 0; k < 4; k++)
            hits += face_corner[i][k] == edge_corner[e][0] || face_corner[i][k] == edge_corner[e][1];
        if (hits == 2) f |= 1u << i;
    }
    return f;
}

/* Triangulate loop L (k points) with diagonals between points on no common face, shortest
 * diagonals first (O(k^3) dynamic programme). Returns the triangle count written to tri
 * (3 codes each), or -1 when no such triangulation exists. */
static int triangulate_loop(const int *L, int k, uint8_t *tri)
{
    enum { K = 12 };
    double cost[K][K];
    int best[K][K];
    bool ok[K][K];
    double pi[3], pj[3];
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            bool side = j == i + 1 || i == j + 1 || (i == 0 && j == k - 1) || (j == 0 && i == k - 1);
            ok[i][j] = side || !(edge_faces(L[i]) & edge_faces(L[j]));
        }
    for (int len = 1; len < k; len++)
        for (int i = 0; i + len < k; i++) {
            int j = i + len;
            best[i][j] = -1;
            cost[i][j] = len == 1 ? 0 : INFINITY;
            for (int m = i + 1; m < j; m++) {
                if (!ok[i][m] || !ok[m][j] || !isfinite(cost[i][m]) || !isfinite(cost[m][j]))
                    continue;
                double c = cost[i][m] + cost[m][j];
                if (m > i + 1) {
                    edge_mid(L[i], pi);
                    edge_mid(L[m], pj);
                    c += sqrt((pi[0] - pj[0]) * (pi[0] - pj[0]) + (pi[1] - pj[1]) * (pi[1] - pj[1]) +
                              (pi[2] - pj[2]) * (pi[2] - pj[2]));
                }
                if (j > m + 1) {
                    edge_mid(L[m], pi);
                    edge_mid(L[j], pj);
                    c += sqrt((pi[0] - pj[0]) * (pi[0] - pj[0]) + (pi[1] - pj[1]) * (pi[1] - pj[1]) +
                              (pi[2] - pj[2]) * (pi[2] - pj[2]));
                }
                if (c < cost[i][j] - 1e-12) {
                    cost[i][j] = c;
                    best[i][j] = m;
                }
            }
        }
    if (!isfinite(cost[0][k - 1])) return -1;
    /* unwind the choices with an explicit stack of sub-polygons */
    int stack[2 * K], sp = 0, nt = 0;
    stack[sp++] = 0;
    stack[sp++] = k - 1;
    while (sp) {
        int j = stack[--sp], i = stack[--sp];
        if (j - i < 2) continue;
        int m = best[i][j];
        tri[3 * nt + 0] = (uint8_t)L[i];
        tri[3 * nt + 1] = (uint8_t)L[m];
        tri[3 * nt + 2] = (uint8_t)L[j];
        nt++;
        stack[sp++] = i;
        stack[sp++] = m;
        stack[sp++] = m;
        stack[sp++] = j;
    }
    return nt;
}

static void build_case(int c)
{
    int next[12], prev[12];
    for (int e = 0; e < 12; e++) next[e] = prev[e] = -1;
    for (int f = 0; f < 6; f++) {
        int in[4], cross[4], n = 0;
        for (int i = 0; i < 4; i++) in[i] = (c >> face_corner[f][i]) & 1;
        for (int i = 0; i < 4; i++)
            if (in[i] != in[(i + 1) & 3])
                cross[n++] = edge_of(face_corner[f][i], face_corner[f][(i + 1) & 3]);
        int seg[2][2], ns = 0;
        if (n == 2) {
            seg[0][0] = cross[0];
            seg[0][1] = cross[1];
            ns = 1;
        } else if (n == 4) { /* ambiguous: cut off each inside corner on its own */
            for (int i = 0; i < 4; i++) {
                if (!in[i]) continue;
                seg[ns][0] = edge_of(face_corner[f][(i + 3) & 3], face_corner[f][i]);
                seg[ns][1] = edge_of(face_corner[f][i], face_corner[f][(i + 1) & 3]);
                ns++;
            }
        }
        for (int s = 0; s < ns; s++) {
            int p = seg[s][0], q = seg[s][1];
            /* direction t must satisfy t . (m x n) > 0, m = inside -> outside along p's edge */
            double a[3], b[3], pm[3], qm[3], m[3], nrm[3] = {0, 0, 0}, mxn[3];
            int ca = edge_corner[p][0], cb = edge_corner[p][1];
            if (!((c >> ca) & 1)) {
                int t = ca;
                ca = cb;
                cb = t;
            }
            corner_pos(ca, a);
            corner_pos(cb, b);
            for (int d = 0; d < 3; d++) m[d] = b[d] - a[d];
            nrm[face_axis[f]] = face_sign[f];
            mxn[0] = m[1] * nrm[2] - m[2] * nrm[1];
            mxn[1] = m[2] * nrm[0] - m[0] * nrm[2];
            mxn[2] = m[0] * nrm[1] - m[1] * nrm[0];
            edge_mid(p, pm);
            edge_mid(q, qm);
            double dot = 0;
            for (int d = 0; d < 3; d++) dot += (qm[d] - pm[d]) * mxn[d];
            AX_ASSERT(fabs(dot) > 1e-9);
            if (dot < 0) {
                int t = p;
                p = q;
                q = t;
            }
            AX_ASSERT(next[p] < 0 && prev[q] < 0);
            next[p] = q;
            prev[q] = p;
        }
    }
    bool seen[12] = {false};
    int nt = 0, ncen = 0;
    for (int e0 = 0; e0 < 12; e0++) {
        if (next[e0] < 0 || seen[e0]) continue;
        int L[12], k = 0;
        for (int e = e0; !seen[e]; e = next[e]) {
            AX_ASSERT(next[e] >= 0 && prev[e] >= 0);
            seen[e] = true;
            L[k++] = e;
        }
        AX_ASSERT(k >= 3);
        uint8_t tri[3 * 12];
        int n = triangulate_loop(L, k, tri);
        if (n < 0) { /* fan around the loop's centroid */
            AX_ASSERT(ncen < MC_MAX_CENTERS);
            double cen[3] = {0, 0, 0}, pm[3];
            for (int i = 0; i < k; i++) {
                edge_mid(L[i], pm);
                for (int d = 0; d < 3; d++) cen[d] += pm[d] / k;
            }
            for (int d = 0; d < 3; d++) mc_center[c][ncen][d] = (float)cen[d];
            for (int i = 0; i < k; i++) {
                tri[3 * i + 0] = (uint8_t)L[i];
                tri[3 * i + 1] = (uint8_t)L[(i + 1) % k];
                tri[3 * i + 2] = (uint8_t)(12 + ncen);
            }
            n = k;
            ncen++;
        }
        AX_ASSERT(nt + n <= MC_MAX_TRIS);
        memcpy(&mc_tri[c][3 * nt], tri, 3 * (size_t)n);
        nt += n;
    }
    for (int e = 0; e < 12; e++) AX_ASSERT((next[e] < 0) == (prev[e] < 0));
    mc_ntri[c] = (uint8_t)nt;
}

static void build_table(void)
{
    for (int c = 0; c < 256; c++) build_case(c);
}

void ax__mc_scratch_free(ax__mc_scratch *s)
{
    free(s->plane);
    memset(s, 0, sizeof *s);
}

void ax__mc_out_free(ax__mc_out *o)
{
    free(o->v);
    free(o->t);
    memset(o, 0, sizeof *o);
}

static int grow(ax__mc_out *o, int64_t more_v, int64_t more_t)
{
    if (o->nv + more_v > o->cap_v) {
        int64_t cap = o->cap_v ? 2 * o->cap_v : 4096;
        while (cap < o->nv + more_v) cap *= 2;
        float *v = realloc(o->v, (size_t)cap * 3 * sizeof *v);
        if (!v) return ax__err(AX_E_NOMEM, "mesh: out of memory (%lld vertices)", (long long)cap);
        o->v = v;
        o->cap_v = cap;
    }
    if (o->nt + more_t > o->cap_t) {
        int64_t cap = o->cap_t ? 2 * o->cap_t : 8192;
        while (cap < o->nt + more_t) cap *= 2;
        uint32_t *t = realloc(o->t, (size_t)cap * 3 * sizeof *t);
        if (!t) return ax__err(AX_E_NOMEM, "mesh: out of memory (%lld triangles)", (long long)cap);
        o->t = t;
        o->cap_t = cap;
    }
    return AX_OK;
}

int ax__mc_run(const uint8_t *mask, const int64_t shape[3], ax__mc_scratch *s, ax__mc_out *out)
{
    pthread_once(&mc_once, build_table);
    const int64_t nz = shape[0], ny = shape[1], nx = shape[2];
    if (nz < 2 || ny < 2 || nx < 2) return AX_OK; /* no cube: only background fits */
    const int64_t plane = ny * nx;
    size_t need = (size_t)plane * 5;
    if (s->cap < need) {
        int32_t *p = ax__malloc_array(need, sizeof *p);
        if (!p) return ax__err(AX_E_NOMEM, "mesh: out of memory (edge planes of %lld x %lld)",
                               (long long)ny, (long long)nx);
        free(s->plane);
        s->plane = p;
        s->cap = need;
    }
    int32_t *xe[2] = {s->plane, s->plane + plane};
    int32_t *ye[2] = {s->plane + 2 * plane, s->plane + 3 * plane};
    int32_t *ze = s->plane + 4 * plane;
    /* per edge code: offset of its slot from the cube's (y, x) slot, and position offset */
    int64_t eoff[12];
    float epos[12][3];
    for (int e = 0; e < 12; e++) {
        int a = edge_corner[e][0], dx = a & 1, dy = (a >> 1) & 1, dz = a >> 2, axis = e / 4;
        eoff[e] = axis == 0 ? dy * nx : axis == 1 ? dx : dy * nx + dx;
        epos[e][0] = (float)dx + (axis == 0 ? 0.5f : 0.f);
        epos[e][1] = (float)dy + (axis == 1 ? 0.5f : 0.f);
        epos[e][2] = (float)dz + (axis == 2 ? 0.5f : 0.f);
    }
    /* Slots are never cleared between slabs: vertex ids only grow, so a slot is current
     * when its id is at least the vertex count at the start of the slab that fills it
     * (plane z+1 and the z edges: this slab; plane z: the slab before). Clearing three
     * planes per slab was a fifth of the kernel's time. -1 (never set) is below every
     * bound. */
    memset(s->plane, 0xff, (size_t)plane * 5 * sizeof(int32_t));
    const uint64_t ones = 0x0101010101010101ull;
    int32_t base_prev = 0;
    for (int64_t z = 0; z + 1 < nz; z++) {
        int32_t *x0 = xe[z & 1], *x1 = xe[(z + 1) & 1], *y0 = ye[z & 1], *y1 = ye[(z + 1) & 1];
        const int32_t base_now = (int32_t)out->nv;
        int32_t *base[12], lo[12];
        for (int e = 0; e < 12; e++) {
            int a = edge_corner[e][0], dz = a >> 2, axis = e / 4;
            int32_t *pl = axis == 0 ? (dz ? x1 : x0) : axis == 1 ? (dz ? y1 : y0) : ze;
            base[e] = pl + eoff[e];
            lo[e] = axis == 2 || dz ? base_now : base_prev;
        }
        base_prev = base_now;
        for (int64_t y = 0; y + 1 < ny; y++) {
            const uint8_t *r00 = mask + (z * ny + y) * nx, *r01 = r00 + nx;
            const uint8_t *r10 = r00 + plane, *r11 = r10 + nx;
            int64_t x = 0;
            while (x + 1 < nx) {
                if (x + 8 <= nx) { /* 7 cubes x..x+6 read bytes x..x+7 of the four rows */
                    uint64_t w00, w01, w10, w11;
                    memcpy(&w00, r00 + x, 8);
                    memcpy(&w01, r01 + x, 8);
                    memcpy(&w10, r10 + x, 8);
                    memcpy(&w11, r11 + x, 8);
                    if ((w00 | w01 | w10 | w11) == 0 || (w00 & w01 & w10 & w11) == ones) {
                        x += 7;
                        continue;
                    }
                }
                unsigned c = (unsigned)r00[x] | (unsigned)r00[x + 1] << 1 |
                             (unsigned)r01[x] << 2 | (unsigned)r01[x + 1] << 3 |
                             (unsigned)r10[x] << 4 | (unsigned)r10[x + 1] << 5 |
                             (unsigned)r11[x] << 6 | (unsigned)r11[x + 1] << 7;
                if (c == 0 || c == 255) {
                    x++;
                    continue;
                }
                if (out->nv + 12 + MC_MAX_CENTERS > out->cap_v ||
                    out->nt + MC_MAX_TRIS > out->cap_t) {
                    if (out->nv + 12 + MC_MAX_CENTERS > INT32_MAX)
                        return ax__err(AX_E_RANGE, "mesh: an object with over 2^31 vertices");
                    int rc = grow(out, 12 + MC_MAX_CENTERS, MC_MAX_TRIS);
                    if (rc < 0) return rc;
                }
                const int64_t yx = y * nx + x;
                const uint8_t *tt = mc_tri[c];
                int n = mc_ntri[c];
                int32_t cen[MC_MAX_CENTERS] = {-1, -1, -1, -1};
                uint32_t *t = out->t + 3 * out->nt;
                for (int i = 0; i < 3 * n; i++) {
                    int code = tt[i];
                    int32_t id;
                    if (code < 12) {
                        int32_t *slot = base[code] + yx;
                        id = *slot;
                        if (id < lo[code]) {
                            id = (int32_t)out->nv++;
                            float *v = out->v + 3 * (int64_t)id;
                            v[0] = (float)x + epos[code][0];
                            v[1] = (float)y + epos[code][1];
                            v[2] = (float)z + epos[code][2];
                            *slot = id;
                        }
                    } else {
                        int k = code - 12;
                        id = cen[k];
                        if (id < 0) {
                            id = cen[k] = (int32_t)out->nv++;
                            float *v = out->v + 3 * (int64_t)id;
                            v[0] = (float)x + mc_center[c][k][0];
                            v[1] = (float)y + mc_center[c][k][1];
                            v[2] = (float)z + mc_center[c][k][2];
                        }
                    }
                    t[i] = (uint32_t)id;
                }
                out->nt += n;
                x++;
            }
        }
    }
    return AX_OK;
}
