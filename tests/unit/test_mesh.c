/* test_mesh.c: meshes of labelled objects.
 *
 * Every mesh is checked to be a closed, oriented 2-manifold (each directed edge once, its
 * reverse present, every vertex star one fan) with the right Euler characteristic, and its
 * enclosed volume is compared with the voxels it encloses:
 *   - exact cases: a lone voxel is an octahedron of volume 1/6; an N^3 box loses its 12
 *     chamfered edges and 8 corners: N^3 - 1.5 (N - 1) - 5/6;
 *   - curved objects (sphere, torus, blobs): marching cubes through edge midpoints is
 *     unbiased on planes of any slope (the surface of x+y+z <= k runs at x+y+z = k + 1/2,
 *     where the voxel count puts it too) and loses only at convex edges and corners, so
 *     the relative error falls like 1/size: 1% for the sphere of radius 12 and 1.5% for the
 *     torus of tube radius 5 (measured -0.4%, -0.7%); for blobs (unions of balls of radius 3-6,
 *     200+ voxels) |dV| < 0.08 voxel * area, i.e. the surface sits on average less than
 *     0.08 voxel inside the voxel faces (measured 0.035-0.066; -2.5% to -7.5% of volume);
 *   - simplification keeps the enclosed volume (volume-preserving collapses): within 0.2%
 *     of the raw mesh (float rounding only), still closed, same Euler characteristic, and
 *     the triangle count as asked (default: keep 15%).
 * Also: all 256 cube configurations and random noise (the ambiguous faces), anisotropic
 * voxels (volumes scale by the voxel volume exactly), thread-count invariance, the volume
 * path equal to the in-memory one, dust and id filters, the precomputed, PLY and OBJ files
 * decoded by hand, and bad arguments. */
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#include "test.h"

static int64_t g_euler;

/* closed oriented manifold, with the Euler characteristic in g_euler */
static bool closed(const ax_mesh *m)
{
    const char *why = NULL;
    bool ok = ax_mesh_is_closed_manifold(m, &g_euler, &why);
    if (!ok) fprintf(stderr, "  mesh %llu: %s\n", (unsigned long long)m->id, why);
    return ok;
}

static double vol_of(const ax_mesh *m)
{
    double v;
    ax_mesh_measure(m, &v, NULL);
    return v;
}

static uint64_t *alloc_labels(const int64_t s[3])
{
    return calloc((size_t)(s[0] * s[1] * s[2]), sizeof(uint64_t));
}

static int64_t count_label(const uint64_t *l, const int64_t s[3], uint64_t id)
{
    int64_t n = 0;
    for (int64_t i = 0; i < s[0] * s[1] * s[2]; i++) n += l[i] == id;
    return n;
}

static void put_ball(uint64_t *l, const int64_t s[3], double cz, double cy, double cx, double r,
                     uint64_t id)
{
    for (int64_t z = 0; z < s[0]; z++)
        for (int64_t y = 0; y < s[1]; y++)
            for (int64_t x = 0; x < s[2]; x++) {
                double dz = z - cz, dy = y - cy, dx = x - cx;
                if (dz * dz + dy * dy + dx * dx <= r * r) l[(z * s[1] + y) * s[2] + x] = id;
            }
}

static ax_mesh **mesh(const uint64_t *l, const int64_t s[3], const ax_mesh_params *p, int64_t *n)
{
    ax_mesh **m = NULL;
    *n = -1;
    CHECK_OK(ax_mesh_labels(l, s, p, &m, n));
    return m;
}

static ax_mesh_params raw_params(void)
{
    ax_mesh_params p = ax_mesh_params_default();
    p.reduction = 1;
    return p;
}

static void test_single_voxel(void)
{
    const int64_t s[3] = {1, 1, 1};
    uint64_t l[1] = {7};
    ax_mesh_params p = raw_params();
    int64_t n;
    ax_mesh **m = mesh(l, s, &p, &n);
    CHECK(n == 1);
    if (n != 1) return;
    CHECK(m[0]->id == 7);
    CHECK(m[0]->n_vertices == 6 && m[0]->n_triangles == 8); /* an octahedron */
    CHECK(closed(m[0]) && g_euler == 2);
    CHECK(fabs(vol_of(m[0]) - 1.0 / 6) < 1e-6);
    /* the voxel covers [0, 1)^3 nm: vertices on its face centres */
    float lo = 1e9f, hi = -1e9f;
    for (int64_t i = 0; i < 3 * m[0]->n_vertices; i++) {
        lo = fminf(lo, m[0]->vertices[i]);
        hi = fmaxf(hi, m[0]->vertices[i]);
    }
    CHECK(lo == 0.f && hi == 1.f);
    ax_meshes_free(m, n);
    /* simplified as far as it goes: still closed (a tetrahedron at least) */
    p = ax_mesh_params_default();
    m = mesh(l, s, &p, &n);
    CHECK(n == 1 && m[0]->n_triangles >= 4 && m[0]->n_triangles <= 8 && closed(m[0]) &&
          g_euler == 2 && vol_of(m[0]) > 0);
    ax_meshes_free(m, n);
}

static void test_box(void)
{
    const int64_t s[3] = {14, 13, 12}, N = 10;
    uint64_t *l = alloc_labels(s);
    for (int64_t z = 2; z < 2 + N; z++)
        for (int64_t y = 1; y < 1 + N; y++)
            for (int64_t x = 1; x < 1 + N; x++) l[(z * s[1] + y) * s[2] + x] = 3;
    ax_mesh_params p = raw_params();
    int64_t n;
    ax_mesh **m = mesh(l, s, &p, &n);
    CHECK(n == 1);
    double exact = (double)(N * N * N) - 1.5 * (double)(N - 1) - 5.0 / 6;
    CHECK(closed(m[0]) && g_euler == 2);
    CHECK(fabs(vol_of(m[0]) - exact) < 1e-3);
    /* bounding box: voxels z 2..11, y 1..10, x 1..10 cover x,y in [1, 11), z in [2, 12) */
    float mn[3] = {1e9f, 1e9f, 1e9f}, mx[3] = {-1e9f, -1e9f, -1e9f};
    for (int64_t i = 0; i < m[0]->n_vertices; i++)
        for (int d = 0; d < 3; d++) {
            mn[d] = fminf(mn[d], m[0]->vertices[3 * i + d]);
            mx[d] = fmaxf(mx[d], m[0]->vertices[3 * i + d]);
        }
    CHECK(mn[0] == 1 && mn[1] == 1 && mn[2] == 2 && mx[0] == 11 && mx[1] == 11 && mx[2] == 12);
    int64_t mc = m[0]->n_triangles;
    ax_meshes_free(m, n);
    p = ax_mesh_params_default();
    m = mesh(l, s, &p, &n);
    CHECK(n == 1 && closed(m[0]) && g_euler == 2);
    CHECK(m[0]->n_triangles_mc == mc);
    CHECK(m[0]->n_triangles <= (int64_t)ceil(0.15 * (double)mc));
    CHECK(fabs(vol_of(m[0]) / exact - 1) < 0.002);
    ax_meshes_free(m, n);
    free(l);
}

static void check_shape(const uint64_t *l, const int64_t s[3], uint64_t id, int64_t euler,
                        double tol, const double vs[3])
{
    ax_mesh_params p = raw_params();
    double vvox = 1;
    for (int d = 0; d < 3; d++) {
        p.voxel_size[d] = vs[d];
        vvox *= vs[d];
    }
    double want = (double)count_label(l, s, id) * vvox;
    int64_t n;
    ax_mesh **m = mesh(l, s, &p, &n);
    CHECK(n == 1 && m[0]->id == id);
    CHECK(closed(m[0]) && g_euler == euler);
    double v = vol_of(m[0]);
    if (!(fabs(v / want - 1) < tol))
        fprintf(stderr, "  raw volume %.1f vs %.1f voxels (%.2f%%)\n", v, want,
                100 * (v / want - 1));
    CHECK(fabs(v / want - 1) < tol);
    double vraw = v;
    int64_t mc = m[0]->n_triangles;
    ax_meshes_free(m, n);
    p.reduction = 0.15;
    m = mesh(l, s, &p, &n);
    CHECK(n == 1 && closed(m[0]) && g_euler == euler);
    v = vol_of(m[0]);
    /* collapses keep the enclosed volume: only float rounding is left */
    if (!(fabs(v / vraw - 1) < 0.002))
        fprintf(stderr, "  simplified volume %.2f vs %.2f raw\n", v, vraw);
    CHECK(fabs(v / vraw - 1) < 0.002);
    CHECK(m[0]->n_triangles_mc == mc);
    CHECK(m[0]->n_triangles <= (int64_t)ceil(0.15 * (double)mc));
    CHECK(m[0]->n_triangles >= (int64_t)(0.15 * (double)mc) - 2);
    ax_meshes_free(m, n);
}

static void test_sphere(void)
{
    const int64_t s[3] = {30, 30, 30};
    uint64_t *l = alloc_labels(s);
    put_ball(l, s, 14.5, 14.3, 14.7, 12, 1);
    const double iso[3] = {1, 1, 1}, aniso[3] = {40, 8, 4};
    check_shape(l, s, 1, 2, 0.01, iso);
    check_shape(l, s, 1, 2, 0.01, aniso);
    free(l);
}

static void test_torus(void)
{
    const int64_t s[3] = {16, 40, 40};
    uint64_t *l = alloc_labels(s);
    const double R = 12, r = 5;
    for (int64_t z = 0; z < s[0]; z++)
        for (int64_t y = 0; y < s[1]; y++)
            for (int64_t x = 0; x < s[2]; x++) {
                double dz = z - 7.5, dy = y - 19.5, dx = x - 19.5;
                double q = sqrt(dy * dy + dx * dx) - R;
                if (q * q + dz * dz <= r * r) l[(z * s[1] + y) * s[2] + x] = 9;
            }
    const double iso[3] = {1, 1, 1};
    check_shape(l, s, 9, 0, 0.015, iso);
    free(l);
}

/* anisotropic voxels scale the raw mesh's volume by exactly the voxel volume */
static void test_anisotropy_exact(void)
{
    const int64_t s[3] = {12, 12, 12};
    uint64_t *l = alloc_labels(s);
    put_ball(l, s, 5.5, 5.2, 6, 4.5, 2);
    ax_mesh_params p = raw_params();
    int64_t n1, n2;
    ax_mesh **a = mesh(l, s, &p, &n1);
    p.voxel_size[0] = 30;
    p.voxel_size[1] = 6;
    p.voxel_size[2] = 4;
    p.offset[0] = 1000; /* z */
    p.offset[2] = -50;  /* x */
    ax_mesh **b = mesh(l, s, &p, &n2);
    CHECK(n1 == 1 && n2 == 1);
    CHECK(fabs(vol_of(b[0]) / vol_of(a[0]) / 720 - 1) < 1e-5);
    CHECK(a[0]->n_vertices == b[0]->n_vertices);
    bool same = true;
    for (int64_t i = 0; i < a[0]->n_vertices && same; i++)
        same = fabsf(b[0]->vertices[3 * i] - (a[0]->vertices[3 * i] * 4 - 50)) < 1e-3f &&
               fabsf(b[0]->vertices[3 * i + 1] - a[0]->vertices[3 * i + 1] * 6) < 1e-3f &&
               fabsf(b[0]->vertices[3 * i + 2] - (a[0]->vertices[3 * i + 2] * 30 + 1000)) < 1e-2f;
    CHECK(same);
    ax_meshes_free(a, n1);
    ax_meshes_free(b, n2);
    free(l);
}

/* two boxes sharing a face, and a third touching one only along an edge */
static void test_touching(void)
{
    const int64_t s[3] = {6, 8, 12};
    uint64_t *l = alloc_labels(s);
    for (int64_t z = 1; z < 5; z++)
        for (int64_t y = 1; y < 5; y++)
            for (int64_t x = 1; x < 9; x++) l[(z * s[1] + y) * s[2] + x] = x < 5 ? 1 : 2;
    for (int64_t z = 1; z < 5; z++)
        for (int64_t x = 9; x < 11; x++) l[(z * s[1] + 5) * s[2] + x] = 3; /* edge contact */
    ax_mesh_params p = raw_params();
    int64_t n;
    ax_mesh **m = mesh(l, s, &p, &n);
    CHECK(n == 3);
    for (int64_t i = 0; i < n; i++) {
        CHECK(m[i]->id == (uint64_t)i + 1);
        CHECK(closed(m[i]) && g_euler == 2);
    }
    /* a 4x4x4 box and a 4x4x2 ... box: exact chamfer formula for a*b*c boxes */
    double v1 = 64 - 0.5 * 0.25 * 4 * (3 + 3 + 3) - 5.0 / 6; /* 4 edges of each length */
    CHECK(fabs(vol_of(m[0]) - v1) < 1e-4);
    CHECK(fabs(vol_of(m[1]) - v1) < 1e-4);
    /* the shared face x = 5: both meshes have the same vertices there */
    int64_t on1 = 0, on2 = 0;
    for (int64_t i = 0; i < m[0]->n_vertices; i++) on1 += m[0]->vertices[3 * i] == 5.f;
    for (int64_t i = 0; i < m[1]->n_vertices; i++) on2 += m[1]->vertices[3 * i] == 5.f;
    CHECK(on1 > 0 && on1 == on2);
    ax_meshes_free(m, n);
    free(l);
}

/* every 2x2x2 configuration, 4096 of 2x2x3 (faces between cubes), random noise */
static void test_all_configurations(void)
{
    bool ok = true;
    for (int c = 1; c < 4096 && ok; c++) {
        int64_t s[3] = {c < 256 ? 2 : 3, 2, 2};
        uint8_t mask[12];
        for (int i = 0; i < 12; i++) mask[i] = (uint8_t)((c >> i) & 1);
        ax_mesh *m = NULL;
        int rc = ax_mesh_mask(mask, s, NULL, NULL, &m);
        ok = rc == AX_OK && m && closed(m) && vol_of(m) > 0;
        if (!ok) fprintf(stderr, "  configuration %d\n", c);
        ax_mesh_free(m);
    }
    CHECK(ok);
    unsigned long long seed = 42;
    for (int rep = 0; rep < 6; rep++) {
        int64_t s[3] = {9 + rep, 11, 13 - rep};
        size_t nv = (size_t)(s[0] * s[1] * s[2]);
        uint8_t *mask = malloc(nv);
        for (size_t i = 0; i < nv; i++) mask[i] = (uint8_t)(test_rand(&seed) % 100 < (unsigned long long)(30 + 8 * rep));
        ax_mesh *m = NULL;
        CHECK_OK(ax_mesh_mask(mask, s, NULL, NULL, &m));
        CHECK(m && closed(m) && vol_of(m) > 0);
        CHECK_OK(ax_mesh_simplify(m, 0.3, 0));
        CHECK(closed(m) && vol_of(m) > 0);
        ax_mesh_free(m);
        free(mask);
    }
}

static uint64_t *blobs(const int64_t s[3], int nballs, unsigned long long seed)
{
    uint64_t *l = alloc_labels(s);
    for (int b = 0; b < nballs; b++) {
        double r = 3 + (double)(test_rand(&seed) % 300) / 100;
        double c[3];
        for (int d = 0; d < 3; d++) c[d] = (double)(test_rand(&seed) % (uint64_t)s[d]);
        put_ball(l, s, c[0], c[1], c[2], r, 1 + test_rand(&seed) % 9);
    }
    return l;
}

static void test_blobs(void)
{
    const int64_t s[3] = {28, 32, 36};
    uint64_t *l = blobs(s, 30, 7);
    ax_mesh_params p = raw_params();
    int64_t n, n2;
    ax_mesh **m = mesh(l, s, &p, &n);
    p.reduction = 0.15;
    ax_mesh **m2 = mesh(l, s, &p, &n2);
    CHECK(n >= 5 && n2 == n);
    for (int64_t i = 0; i < n && n2 == n; i++) {
        CHECK(closed(m[i]) && closed(m2[i]));
        CHECK(i == 0 || m[i]->id > m[i - 1]->id);
        int64_t cnt = count_label(l, s, m[i]->id);
        double v, a, v2;
        ax_mesh_measure(m[i], &v, &a);
        v2 = vol_of(m2[i]);
        /* the surface sits on average within 0.08 voxel inside the voxel faces */
        if (cnt >= 200 && !(fabs(v - (double)cnt) < 0.08 * a))
            fprintf(stderr, "  blob %llu: volume %.1f vs %lld voxels, area %.1f\n",
                    (unsigned long long)m[i]->id, v, (long long)cnt, a);
        CHECK(cnt < 200 || fabs(v - (double)cnt) < 0.08 * a);
        if (!(fabs(v2 / v - 1) < 0.002))
            fprintf(stderr, "  blob %llu: %lld -> %lld triangles, volume %.3f -> %.3f\n",
                    (unsigned long long)m[i]->id, (long long)m[i]->n_triangles,
                    (long long)m2[i]->n_triangles, v, v2);
        CHECK(m2[i]->id == m[i]->id && fabs(v2 / v - 1) < 0.002);
        CHECK(m2[i]->n_triangles <= (int64_t)ceil(0.15 * (double)m[i]->n_triangles) ||
              m2[i]->n_triangles <= 8);
    }
    ax_meshes_free(m, n);
    ax_meshes_free(m2, n2);
    free(l);
}

static bool same_meshes(ax_mesh **a, int64_t na, ax_mesh **b, int64_t nb)
{
    if (na != nb) return false;
    for (int64_t i = 0; i < na; i++) {
        if (a[i]->id != b[i]->id || a[i]->n_vertices != b[i]->n_vertices ||
            a[i]->n_triangles != b[i]->n_triangles ||
            memcmp(a[i]->vertices, b[i]->vertices, (size_t)a[i]->n_vertices * 12) ||
            memcmp(a[i]->triangles, b[i]->triangles, (size_t)a[i]->n_triangles * 12))
            return false;
    }
    return true;
}

static void test_threads(void)
{
    const int64_t s[3] = {30, 34, 38};
    uint64_t *l = blobs(s, 40, 99);
    ax_mesh_params p = ax_mesh_params_default();
    p.smooth_iterations = 2;
    int64_t n1, n2, n3;
    CHECK_OK(ax_threads_set(1));
    ax_mesh **a = mesh(l, s, &p, &n1);
    CHECK_OK(ax_threads_set(2));
    ax_mesh **b = mesh(l, s, &p, &n2);
    CHECK_OK(ax_threads_set(3));
    ax_mesh **c = mesh(l, s, &p, &n3);
    CHECK_OK(ax_threads_set(0));
    CHECK(n1 > 5 && same_meshes(a, n1, b, n2) && same_meshes(a, n1, c, n3));
    ax_meshes_free(a, n1);
    ax_meshes_free(b, n2);
    ax_meshes_free(c, n3);
    free(l);
}

static void test_filters(void)
{
    const int64_t s[3] = {10, 10, 10};
    uint64_t *l = alloc_labels(s);
    l[0] = 5;                                     /* 1 voxel */
    put_ball(l, s, 5, 5, 5, 3, 8);                /* big */
    l[999] = 12;                                  /* 1 voxel */
    l[998] = 12;                                  /* 2 voxels */
    ax_mesh_params p = raw_params();
    int64_t n;
    ax_mesh **m = mesh(l, s, &p, &n);
    CHECK(n == 3 && m[0]->id == 5 && m[1]->id == 8 && m[2]->id == 12);
    ax_meshes_free(m, n);
    p.dust = 2;
    m = mesh(l, s, &p, &n);
    CHECK(n == 2 && m[0]->id == 8 && m[1]->id == 12);
    ax_meshes_free(m, n);
    uint64_t ids[3] = {12, 5, 77};
    p.dust = 0;
    p.ids = ids;
    p.n_ids = 3;
    m = mesh(l, s, &p, &n);
    CHECK(n == 2 && m[0]->id == 5 && m[1]->id == 12);
    ax_meshes_free(m, n);
    /* empty volume: no meshes, no error */
    memset(l, 0, 1000 * sizeof *l);
    p.ids = NULL;
    p.n_ids = 0;
    m = mesh(l, s, &p, &n);
    CHECK(n == 0);
    ax_meshes_free(m, n);
    free(l);
}

/* ax_mesh_volume (zarr, small chunks, offset, voxel size) == ax_mesh_labels */
static void test_volume_path(void)
{
    const int64_t s[3] = {20, 26, 30};
    uint64_t *l = blobs(s, 25, 3);
    char path[600];
    test_path(path, sizeof path, "labels.zarr");
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_U32;
    cp.ndim = 3;
    memcpy(cp.shape, s, sizeof s);
    cp.chunks[0] = 7;
    cp.chunks[1] = 9;
    cp.chunks[2] = 11;
    cp.has_voxel_size = true;
    cp.voxel_size[0] = 40;
    cp.voxel_size[1] = 8;
    cp.voxel_size[2] = 8;
    cp.offset[0] = 400;
    cp.offset[1] = 80;
    cp.offset[2] = 16;
    ax_volume *v;
    CHECK_OK(ax_volume_create(path, &cp, &v));
    const int64_t start[3] = {0, 0, 0};
    uint32_t *l32 = malloc((size_t)(s[0] * s[1] * s[2]) * sizeof *l32);
    for (int64_t i = 0; i < s[0] * s[1] * s[2]; i++) l32[i] = (uint32_t)l[i];
    CHECK_OK(ax_volume_write_region(v, start, s, AX_DTYPE_U32, l32));
    free(l32);
    CHECK_OK(ax_volume_close(v));
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    ax_mesh_params p = ax_mesh_params_default();
    int64_t n1, n2;
    ax_mesh **a = NULL, **b = NULL;
    CHECK_OK(ax_mesh_volume(v, &p, &a, &n1));
    for (int d = 0; d < 3; d++) {
        p.voxel_size[d] = cp.voxel_size[d];
        p.offset[d] = cp.offset[d];
    }
    b = mesh(l, s, &p, &n2);
    CHECK(n1 > 5 && same_meshes(a, n1, b, n2));
    ax_meshes_free(a, n1);
    /* dust and ids through the volume path; params offset adds to the volume's */
    p = ax_mesh_params_default();
    p.dust = 200;
    p.offset[2] = 1000;
    CHECK_OK(ax_mesh_volume(v, &p, &a, &n1));
    int64_t big = 0;
    for (int64_t i = 0; i < n2; i++) big += count_label(l, s, b[i]->id) >= 200;
    CHECK(n1 == big && n1 > 0);
    for (int64_t i = 0, j = 0; i < n1; i++) {
        while (b[j]->id != a[i]->id) j++;
        CHECK(a[i]->n_vertices == b[j]->n_vertices &&
              fabsf(a[i]->vertices[0] - b[j]->vertices[0] - 1000) < 1e-2f);
    }
    ax_meshes_free(a, n1);
    ax_meshes_free(b, n2);
    ax_volume_close(v);
    free(l);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float lef32(const uint8_t *p)
{
    uint32_t u = le32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_files(void)
{
    const int64_t s[3] = {12, 14, 16};
    uint64_t *l = blobs(s, 8, 11);
    l[0] = 4000000000000ull; /* an id beyond 32 bits */
    ax_mesh_params p = ax_mesh_params_default();
    int64_t n;
    ax_mesh **m = mesh(l, s, &p, &n);
    CHECK(n >= 3);
    if (n < 3) {
        ax_meshes_free(m, n);
        free(l);
        return;
    }
    char dir[600], f[700];
    test_path(dir, sizeof dir, "meshes/sub");
    CHECK_OK(ax_meshes_write_precomputed(dir, m, n));
    size_t len;
    snprintf(f, sizeof f, "%s/info", dir);
    uint8_t *b = slurp(f, &len);
    CHECK(b && !strcmp((char *)b, "{\"@type\": \"neuroglancer_legacy_mesh\"}\n"));
    free(b);
    for (int64_t i = 0; i < n; i++) {
        unsigned long long id = (unsigned long long)m[i]->id;
        char want[128];
        snprintf(f, sizeof f, "%s/%llu:0", dir, id);
        snprintf(want, sizeof want, "{\"fragments\": [\"%llu:0:0\"]}\n", id);
        b = slurp(f, &len);
        CHECK(b && !strcmp((char *)b, want));
        free(b);
        snprintf(f, sizeof f, "%s/%llu:0:0", dir, id);
        b = slurp(f, &len);
        CHECK(b && len == 4 + 12 * (size_t)m[i]->n_vertices + 12 * (size_t)m[i]->n_triangles);
        if (!b) continue;
        CHECK(le32(b) == (uint32_t)m[i]->n_vertices);
        bool same = true;
        for (int64_t k = 0; k < 3 * m[i]->n_vertices && same; k++)
            same = lef32(b + 4 + 4 * k) == m[i]->vertices[k];
        const uint8_t *t = b + 4 + 12 * m[i]->n_vertices;
        for (int64_t k = 0; k < 3 * m[i]->n_triangles && same; k++)
            same = le32(t + 4 * k) == m[i]->triangles[k];
        CHECK(same);
        free(b);
    }
    CHECK(m[0]->id == 4000000000000ull || m[n - 1]->id == 4000000000000ull);
    /* PLY: header then the same arrays */
    snprintf(f, sizeof f, "%s/one.ply", dir);
    CHECK_OK(ax_mesh_write_ply(f, m[0]));
    b = slurp(f, &len);
    char head[256];
    snprintf(head, sizeof head, "element vertex %lld\n", (long long)m[0]->n_vertices);
    CHECK(b && !memcmp(b, "ply\nformat binary_little_endian 1.0\n", 36) && strstr((char *)b, head));
    if (b) {
        const char *end = strstr((char *)b, "end_header\n");
        CHECK(end != NULL);
        if (end) {
            size_t hl = (size_t)(end - (char *)b) + 11;
            CHECK(len == hl + 12 * (size_t)m[0]->n_vertices + 13 * (size_t)m[0]->n_triangles);
            CHECK(lef32(b + hl) == m[0]->vertices[0]);
            const uint8_t *t = b + hl + 12 * m[0]->n_vertices;
            CHECK(t[0] == 3 && le32(t + 1) == m[0]->triangles[0] && le32(t + 9) == m[0]->triangles[2]);
        }
    }
    free(b);
    snprintf(f, sizeof f, "%s/one.obj", dir);
    CHECK_OK(ax_mesh_write_obj(f, m[0]));
    b = slurp(f, &len);
    int64_t nvl = 0, nfl = 0;
    for (char *q = (char *)b; q && *q; q++)
        if (q == (char *)b || q[-1] == '\n') {
            nvl += q[0] == 'v';
            nfl += q[0] == 'f';
        }
    CHECK(nvl == m[0]->n_vertices && nfl == m[0]->n_triangles);
    free(b);
    /* two meshes with one id */
    ax_mesh *dup[2] = {m[0], m[0]};
    CHECK_ERR(ax_meshes_write_precomputed(dir, dup, 2), AX_E_INVALID, "two meshes for id");
    ax_meshes_free(m, n);
    free(l);
}

static void test_simplify_api(void)
{
    const int64_t s[3] = {16, 16, 16};
    uint8_t *mask = calloc(16 * 16 * 16, 1);
    for (int64_t z = 0; z < 16; z++)
        for (int64_t y = 0; y < 16; y++)
            for (int64_t x = 0; x < 16; x++) {
                double d = (z - 7.5) * (z - 7.5) + (y - 7.5) * (y - 7.5) + (x - 7.5) * (x - 7.5);
                mask[(z * 16 + y) * 16 + x] = d <= 36;
            }
    const double vs[3] = {50, 10, 10}, off[3] = {1e5, 2e5, 3e5};
    ax_mesh *m = NULL;
    CHECK_OK(ax_mesh_mask(mask, s, vs, off, &m));
    CHECK(m && closed(m) && g_euler == 2);
    double v0 = vol_of(m);
    int64_t t0 = m->n_triangles;
    /* a max-error cap stops early: fewer collapses than an uncapped run */
    ax_mesh *m2 = NULL;
    CHECK_OK(ax_mesh_mask(mask, s, vs, off, &m2));
    CHECK_OK(ax_mesh_simplify(m2, 0.05, 1.0));
    CHECK_OK(ax_mesh_simplify(m, 0.05, 0));
    CHECK(closed(m) && g_euler == 2 && closed(m2) && g_euler == 2);
    CHECK(m->n_triangles <= (int64_t)ceil(0.05 * (double)t0));
    CHECK(m2->n_triangles > m->n_triangles && m2->n_triangles < t0);
    CHECK(fabs(vol_of(m) / v0 - 1) < 0.002 && fabs(vol_of(m2) / v0 - 1) < 0.002);
    /* far from the origin: still the right place (local coordinates inside) */
    float mn = 1e30f;
    for (int64_t i = 0; i < m->n_vertices; i++) mn = fminf(mn, m->vertices[3 * i]);
    CHECK(mn > 3e5f + 10 && mn < 3e5f + 40);
    /* an open mesh (one triangle dropped) is refused, untouched */
    m->n_triangles--;
    int64_t nt = m->n_triangles;
    CHECK_ERR(ax_mesh_simplify(m, 0.5, 0), AX_E_INVALID, "not a closed oriented manifold");
    CHECK(m->n_triangles == nt);
    m->n_triangles++;
    /* flipped orientation of one triangle */
    uint32_t t = m->triangles[0];
    m->triangles[0] = m->triangles[1];
    m->triangles[1] = t;
    CHECK(!ax_mesh_is_closed_manifold(m, NULL, NULL));
    CHECK_ERR(ax_mesh_simplify(m, 0.5, 0), AX_E_INVALID, "manifold");
    CHECK_ERR(ax_mesh_simplify(m2, 0, 0), AX_E_INVALID, "reduction");
    CHECK_ERR(ax_mesh_simplify(m2, 1.5, 0), AX_E_INVALID, "reduction");
    CHECK_ERR(ax_mesh_simplify(m2, 0.5, -1), AX_E_INVALID, "max_error");
    CHECK_ERR(ax_mesh_simplify(NULL, 0.5, 0), AX_E_INVALID, "NULL");
    ax_mesh_free(m);
    ax_mesh_free(m2);
    ax_mesh_free(NULL);
    ax_meshes_free(NULL, 3);
    /* empty mask: no mesh, no error */
    memset(mask, 0, 16 * 16 * 16);
    m = (ax_mesh *)1;
    CHECK_OK(ax_mesh_mask(mask, s, NULL, NULL, &m));
    CHECK(m == NULL);
    free(mask);
}

static void test_errors(void)
{
    uint64_t l[8] = {1, 1, 0, 0, 2, 0, 0, 0};
    const int64_t s[3] = {2, 2, 2}, bad[3] = {2, 0, 2};
    ax_mesh **m = NULL;
    int64_t n;
    ax_mesh_params p = ax_mesh_params_default();
    CHECK_ERR(ax_mesh_labels(NULL, s, &p, &m, &n), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_mesh_labels(l, bad, &p, &m, &n), AX_E_INVALID, "bad shape");
    CHECK_ERR(ax_mesh_labels(l, s, &p, NULL, &n), AX_E_INVALID, "NULL output");
    p.reduction = 0;
    CHECK_ERR(ax_mesh_labels(l, s, &p, &m, &n), AX_E_INVALID, "reduction");
    p.reduction = 1.01;
    CHECK_ERR(ax_mesh_labels(l, s, &p, &m, &n), AX_E_INVALID, "reduction");
    p = ax_mesh_params_default();
    p.dust = -1;
    CHECK_ERR(ax_mesh_labels(l, s, &p, &m, &n), AX_E_INVALID, "dust");
    p = ax_mesh_params_default();
    p.voxel_size[1] = -4;
    CHECK_ERR(ax_mesh_labels(l, s, &p, &m, &n), AX_E_INVALID, "voxel size");
    p = ax_mesh_params_default();
    p.n_ids = 2;
    CHECK_ERR(ax_mesh_labels(l, s, &p, &m, &n), AX_E_INVALID, "ids");
    p = ax_mesh_params_default();
    p.max_error = NAN;
    CHECK_ERR(ax_mesh_labels(l, s, &p, &m, &n), AX_E_INVALID, "max_error");
    p = ax_mesh_params_default();
    p.smooth_iterations = -1;
    CHECK_ERR(ax_mesh_labels(l, s, &p, &m, &n), AX_E_INVALID, "smooth");
    /* NULL params: defaults */
    CHECK_OK(ax_mesh_labels(l, s, NULL, &m, &n));
    CHECK(n == 2);
    ax_meshes_free(m, n);
    uint8_t mask[8] = {1};
    ax_mesh *one;
    const double vs0[3] = {1, 0, 1};
    CHECK_ERR(ax_mesh_mask(mask, bad, NULL, NULL, &one), AX_E_INVALID, "shape");
    CHECK_ERR(ax_mesh_mask(mask, s, vs0, NULL, &one), AX_E_INVALID, "voxel size");
    CHECK_ERR(ax_mesh_mask(NULL, s, NULL, NULL, &one), AX_E_INVALID, "NULL");
    /* volumes: float32 and 4-d are refused with the path in the message */
    char path[600];
    test_path(path, sizeof path, "float.zarr");
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_F32;
    cp.ndim = 3;
    cp.shape[0] = cp.shape[1] = cp.shape[2] = 4;
    ax_volume *v;
    CHECK_OK(ax_volume_create(path, &cp, &v));
    CHECK_OK(ax_volume_close(v));
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    CHECK_ERR(ax_mesh_volume(v, NULL, &m, &n), AX_E_DTYPE, "float.zarr");
    ax_volume_close(v);
    test_path(path, sizeof path, "four.zarr");
    cp.dtype = AX_DTYPE_U64;
    cp.ndim = 4;
    cp.shape[3] = 4;
    CHECK_OK(ax_volume_create(path, &cp, &v));
    CHECK_OK(ax_volume_close(v));
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    CHECK_ERR(ax_mesh_volume(v, NULL, &m, &n), AX_E_RANGE, "3-d");
    ax_volume_close(v);
    CHECK_ERR(ax_mesh_volume(NULL, NULL, &m, &n), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_mesh_write_ply(NULL, NULL), AX_E_INVALID, "NULL");
    ax_mesh broken = {.id = 1, .n_vertices = 3, .n_triangles = 1};
    float vv[9] = {0};
    uint32_t tt[3] = {0, 1, 3};
    broken.vertices = vv;
    broken.triangles = tt;
    test_path(path, sizeof path, "broken.ply");
    CHECK_ERR(ax_mesh_write_ply(path, &broken), AX_E_INVALID, "triangle index");
    ax_mesh *list[1] = {&broken};
    CHECK_ERR(ax_meshes_write_precomputed(path, list, 1), AX_E_INVALID, "triangle index");
    struct stat st;
    CHECK(stat(path, &st) != 0); /* nothing written */
}

int main(void)
{
    setenv("AX_PROGRESS", "0", 1);
    RUN(test_single_voxel);
    RUN(test_box);
    RUN(test_sphere);
    RUN(test_torus);
    RUN(test_anisotropy_exact);
    RUN(test_touching);
    RUN(test_all_configurations);
    RUN(test_blobs);
    RUN(test_threads);
    RUN(test_filters);
    RUN(test_volume_path);
    RUN(test_files);
    RUN(test_simplify_api);
    RUN(test_errors);
    return TEST_REPORT();
}
