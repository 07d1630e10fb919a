/* test_affinity.c: affinities from boundary maps and from labels: hand-computed values on
 * tiny volumes (both modes, border zeros, long-range and positive offsets), rejection of
 * NaN and out-of-range input naming the first bad voxel, agreement with a naive reference
 * on random volumes, thread-count invariance, and the CLI's block-streaming path
 * (`axon affinities-from-*` with small blocks and chunks) against the in-memory functions. */
#include <libgen.h>
#include <sys/wait.h>
#include <math.h>
#include <unistd.h>

#include "test.h"

static const int64_t NEAREST[3][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}};

static bool same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* ---- hand-computed -------------------------------------------------------------------- */

/* boundary b (2 x 2 x 3):  z0: 0    .5   1     z1: 1   0   .5
 *                              .25  .75  0         .5  .5  .25 */
static const float B[12] = {0, .5f, 1, .25f, .75f, 0, 1, 0, .5f, .5f, .5f, .25f};

static void test_boundary_by_hand(void)
{
    const int64_t shape[3] = {2, 2, 3};
    /* min: 1 - max(b_p, b_q); q = p - e_c; first plane / row / column is 0 */
    static const float want_min[36] = {
        /* c0 (z) */ 0, 0, 0, 0, 0, 0, /**/ 0, .5f, 0, .5f, .25f, .75f,
        /* c1 (y) */ 0, 0, 0, .75f, .25f, 0, /**/ 0, 0, 0, 0, .5f, .5f,
        /* c2 (x) */ 0, .5f, 0, 0, .25f, .25f, /**/ 0, 0, .5f, 0, .5f, .5f};
    /* mean: 1 - (b_p + b_q) / 2 */
    static const float want_mean[36] = {
        /* c0 */ 0, 0, 0, 0, 0, 0, /**/ .5f, .75f, .25f, .625f, .375f, .875f,
        /* c1 */ 0, 0, 0, .875f, .375f, .5f, /**/ 0, 0, 0, .25f, .75f, .625f,
        /* c2 */ 0, .75f, .25f, 0, .5f, .625f, /**/ 0, .5f, .75f, 0, .5f, .625f};
    float aff[36];
    memset(aff, 0x7f, sizeof aff);
    CHECK_OK(ax_affinities_from_boundary(B, shape, AX_AFF_MIN, aff));
    CHECK(same_floats(aff, want_min, 36));
    memset(aff, 0x7f, sizeof aff);
    CHECK_OK(ax_affinities_from_boundary(B, shape, AX_AFF_MEAN, aff));
    CHECK(same_floats(aff, want_mean, 36));
    for (int i = 0; i < 36; i++)
        if (aff[i] != want_mean[i]) fprintf(stderr, "  mean[%d] = %g, want %g\n", i, aff[i], want_mean[i]);

    /* a single voxel: every edge leaves the volume */
    const int64_t one[3] = {1, 1, 1};
    float b1 = 0.3f, a1[3] = {5, 5, 5};
    CHECK_OK(ax_affinities_from_boundary(&b1, one, AX_AFF_MEAN, a1));
    CHECK(a1[0] == 0 && a1[1] == 0 && a1[2] == 0);
    /* an empty volume is fine */
    const int64_t empty[3] = {0, 4, 4};
    CHECK_OK(ax_affinities_from_boundary(NULL, empty, AX_AFF_MIN, NULL));
}

static void test_boundary_rejects(void)
{
    const int64_t shape[3] = {2, 2, 3};
    float b[12], aff[36];
    memcpy(b, B, sizeof b);
    b[8] = NAN; /* (1, 0, 2) */
    CHECK_ERR(ax_affinities_from_boundary(b, shape, AX_AFF_MIN, aff), AX_E_INVALID,
              "(z=1, y=0, x=2) is NaN");
    b[4] = 1.5f; /* (0, 1, 1): earlier in raster order, named first */
    CHECK_ERR(ax_affinities_from_boundary(b, shape, AX_AFF_MEAN, aff), AX_E_INVALID,
              "(z=0, y=1, x=1) is outside [0, 1]");
    memcpy(b, B, sizeof b);
    b[0] = -0.01f;
    CHECK_ERR(ax_affinities_from_boundary(b, shape, AX_AFF_MIN, aff), AX_E_INVALID,
              "(z=0, y=0, x=0)");
    b[0] = INFINITY;
    CHECK_ERR(ax_affinities_from_boundary(b, shape, AX_AFF_MIN, aff), AX_E_INVALID, "outside");
    CHECK_ERR(ax_affinities_from_boundary(B, shape, (ax_aff_mode)7, aff), AX_E_INVALID, "mode");
    const int64_t neg[3] = {2, -1, 3};
    CHECK(ax_affinities_from_boundary(B, neg, AX_AFF_MIN, aff) == AX_E_RANGE);
}

static void test_labels_by_hand(void)
{
    /* 1 x 3 x 4:  1 1 2 0
     *             1 2 2 0
     *             1 1 2 2 */
    static const uint64_t L[12] = {1, 1, 2, 0, 1, 2, 2, 0, 1, 1, 2, 2};
    const int64_t shape[3] = {1, 3, 4};
    static const int64_t off[6][3] = {
        {0, 0, -1}, {0, -2, 0}, {0, -1, -2}, {0, 1, 1}, {-1, 0, 0}, {0, -5, 0}};
    static const float want[72] = {
        /* (0,0,-1) */ 0, 1, 0, 0, /**/ 0, 0, 1, 0, /**/ 0, 1, 0, 1,
        /* (0,-2,0) */ 0, 0, 0, 0, /**/ 0, 0, 0, 0, /**/ 1, 1, 1, 0,
        /* (0,-1,-2) */ 0, 0, 0, 0, /**/ 0, 0, 0, 0, /**/ 0, 0, 0, 1,
        /* (0,1,1): positive, links p to p + (0,1,1) */ 0, 0, 0, 0, /**/ 1, 1, 1, 0, /**/ 0, 0, 0, 0,
        /* (-1,0,0): no z neighbour */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        /* (0,-5,0): longer than the volume */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    float aff[72];
    memset(aff, 0x7f, sizeof aff);
    CHECK_OK(ax_affinities_from_labels(L, shape, off, 6, aff));
    CHECK(same_floats(aff, want, 72));
    for (int i = 0; i < 72; i++)
        if (aff[i] != want[i]) fprintf(stderr, "  labels[%d] = %g, want %g\n", i, aff[i], want[i]);

    /* 2 x 1 x 2 with z links:  z0: 3 3   z1: 3 0 */
    static const uint64_t L2[4] = {3, 3, 3, 0};
    const int64_t shape2[3] = {2, 1, 2};
    static const int64_t off2[2][3] = {{-1, 0, 0}, {1, 0, -1}};
    static const float want2[8] = {0, 0, 1, 0, /**/ 0, 1, 0, 0};
    float aff2[8];
    CHECK_OK(ax_affinities_from_labels(L2, shape2, off2, 2, aff2));
    CHECK(same_floats(aff2, want2, 8));

    CHECK_ERR(ax_affinities_from_labels(L, shape, off, 0, aff), AX_E_INVALID, "offset");
    CHECK_ERR(ax_affinities_from_labels(L, shape, NULL, 3, aff), AX_E_INVALID, "offset");
}

/* ---- random volumes against naive references ------------------------------------------ */

static void ref_boundary(const float *b, const int64_t s[3], ax_aff_mode mode, float *aff)
{
    int64_t n = s[0] * s[1] * s[2];
    for (int c = 0; c < 3; c++)
        for (int64_t z = 0; z < s[0]; z++)
            for (int64_t y = 0; y < s[1]; y++)
                for (int64_t x = 0; x < s[2]; x++) {
                    int64_t qz = z - (c == 0), qy = y - (c == 1), qx = x - (c == 2);
                    int64_t p = (z * s[1] + y) * s[2] + x;
                    float v = 0;
                    if (qz >= 0 && qy >= 0 && qx >= 0) {
                        float bp = b[p], bq = b[(qz * s[1] + qy) * s[2] + qx];
                        v = mode == AX_AFF_MIN ? fminf(1.0f - bp, 1.0f - bq)
                                               : 1.0f - (bp + bq) * 0.5f;
                    }
                    aff[c * n + p] = v;
                }
}

static void ref_labels(const uint64_t *l, const int64_t s[3], const int64_t (*off)[3], int k,
                       float *aff)
{
    int64_t n = s[0] * s[1] * s[2];
    for (int c = 0; c < k; c++)
        for (int64_t z = 0; z < s[0]; z++)
            for (int64_t y = 0; y < s[1]; y++)
                for (int64_t x = 0; x < s[2]; x++) {
                    int64_t q[3] = {z + off[c][0], y + off[c][1], x + off[c][2]};
                    int64_t p = (z * s[1] + y) * s[2] + x;
                    float v = 0;
                    if (q[0] >= 0 && q[0] < s[0] && q[1] >= 0 && q[1] < s[1] && q[2] >= 0 &&
                        q[2] < s[2]) {
                        uint64_t a = l[p], b = l[(q[0] * s[1] + q[1]) * s[2] + q[2]];
                        v = a == b && a != 0;
                    }
                    aff[c * n + p] = v;
                }
}

static void test_random_vs_reference(void)
{
    const int64_t s[3] = {7, 13, 19};
    int64_t n = s[0] * s[1] * s[2];
    unsigned long long seed = 42;
    float *b = malloc(n * sizeof *b), *a = malloc(3 * n * sizeof *a), *r = malloc(3 * n * sizeof *r);
    for (int64_t i = 0; i < n; i++) b[i] = (float)(test_rand(&seed) % 1001) / 1000.0f;
    for (int m = 0; m < 2; m++) {
        ref_boundary(b, s, (ax_aff_mode)m, r);
        CHECK_OK(ax_affinities_from_boundary(b, s, (ax_aff_mode)m, a));
        CHECK(same_floats(a, r, 3 * n));
    }
    free(a);
    free(r);

    static const int64_t off[9][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}, {-3, 0, 0},
                                      {0, -9, 0}, {0, 0, -9}, {2, -4, 5}, {0, 0, 25},
                                      {-6, 12, -18}};
    uint64_t *l = malloc(n * sizeof *l);
    for (int64_t i = 0; i < n; i++) l[i] = test_rand(&seed) % 4; /* 0 = background */
    a = malloc(9 * n * sizeof *a);
    r = malloc(9 * n * sizeof *r);
    ref_labels(l, s, off, 9, r);
    CHECK_OK(ax_affinities_from_labels(l, s, off, 9, a));
    CHECK(same_floats(a, r, 9 * n));
    free(a);
    free(r);
    free(l);
    free(b);
}

static void test_threads(void)
{
    const int64_t s[3] = {11, 37, 41};
    int64_t n = s[0] * s[1] * s[2];
    unsigned long long seed = 7;
    float *b = malloc(n * sizeof *b);
    uint64_t *l = malloc(n * sizeof *l);
    for (int64_t i = 0; i < n; i++) {
        b[i] = (float)(test_rand(&seed) >> 40) / (float)(1 << 24);
        l[i] = test_rand(&seed) % 3;
    }
    float *ref = malloc(9 * n * sizeof *ref), *a = malloc(9 * n * sizeof *a);
    int before = ax_threads_get();
    static const int64_t off[6][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}, {-2, 0, 0}, {0, -5, 0}, {0, 0, -5}};
    ax_threads_set(1);
    CHECK_OK(ax_affinities_from_boundary(b, s, AX_AFF_MEAN, ref));
    CHECK_OK(ax_affinities_from_labels(l, s, off, 6, ref + 3 * n));
    for (int t = 2; t <= 4; t++) {
        ax_threads_set(t);
        CHECK_OK(ax_affinities_from_boundary(b, s, AX_AFF_MEAN, a));
        CHECK_OK(ax_affinities_from_labels(l, s, off, 6, a + 3 * n));
        CHECK(same_floats(a, ref, 9 * n));
    }
    ax_threads_set(before);
    free(ref);
    free(a);
    free(b);
    free(l);
}

/* ---- the CLI's streaming path equals the in-memory functions ---------------------------- */

static char g_axon[1024];

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static float *read_f32(const char *path, int64_t shape[4])
{
    ax_volume *v;
    if (ax_volume_open(path, AX_OPEN_READ, &v) < 0) return NULL;
    const ax_volume_info *i = ax_volume_get_info(v);
    int64_t st[4] = {0, 0, 0, 0}, n = 1;
    for (int d = 0; d < i->ndim; d++) n *= i->shape[d];
    memcpy(shape, i->shape, 4 * sizeof *shape);
    float *buf = malloc(n * sizeof *buf);
    if (ax_volume_read_region_as(v, st, i->shape, AX_DTYPE_F32, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    ax_volume_close(v);
    return buf;
}

static void write_vol(const char *path, ax_dtype t, const int64_t s[3], const int64_t ch[3],
                      const void *data)
{
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = t;
    p.ndim = 3;
    memcpy(p.shape, s, 3 * sizeof *s);
    memcpy(p.chunks, ch, 3 * sizeof *ch);
    p.overwrite = true;
    p.has_voxel_size = true;
    p.voxel_size[0] = 40, p.voxel_size[1] = 8, p.voxel_size[2] = 8;
    ax_volume *v;
    int64_t st[3] = {0, 0, 0};
    CHECK_OK(ax_volume_create(path, &p, &v));
    CHECK_OK(ax_volume_write_region(v, st, s, t, data));
    CHECK_OK(ax_volume_close(v));
}

static void test_cli_streaming(void)
{
    if (access(g_axon, X_OK) != 0) {
        fprintf(stderr, "  skip: no axon binary at %s\n", g_axon);
        return;
    }
    const int64_t s[3] = {13, 17, 19}, ch[3] = {5, 6, 7};
    int64_t n = s[0] * s[1] * s[2];
    unsigned long long seed = 99;
    float *b = malloc(n * sizeof *b);
    uint8_t *b8 = malloc(n);
    uint64_t *l = malloc(n * sizeof *l);
    for (int64_t i = 0; i < n; i++) {
        b[i] = (float)(test_rand(&seed) % 4097) / 4096.0f;
        b8[i] = (uint8_t)test_rand(&seed);
        l[i] = test_rand(&seed) % 3 ? (uint64_t)(i / 50) : 0;
    }
    char bp[600], b8p[600], lp[600], op[600], cmd[4096];
    test_path(bp, sizeof bp, "bnd.zarr");
    test_path(b8p, sizeof b8p, "bnd8.n5");
    test_path(lp, sizeof lp, "lab.zarr");
    test_path(op, sizeof op, "aff.zarr");
    write_vol(bp, AX_DTYPE_F32, s, ch, b);
    write_vol(b8p, AX_DTYPE_U8, s, ch, b8);
    write_vol(lp, AX_DTYPE_U64, s, ch, l);
    float *want = malloc(9 * n * sizeof *want);
    int64_t os[4];

    /* blocks that straddle chunks, and blocks that are whole chunks (the default) */
    const char *blocks[] = {"--block 4,5,6 --chunks 3,3,4,5", "--chunks 2,4,8,8", ""};
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 3; k++) {
            snprintf(cmd, sizeof cmd,
                     "AX_PROGRESS=0 %s --quiet affinities-from-boundary %s %s --mode %s %s "
                     "--overwrite",
                     g_axon, bp, op, m ? "mean" : "min", blocks[k]);
            CHECK(sh(cmd) == 0);
            CHECK_OK(ax_affinities_from_boundary(b, s, (ax_aff_mode)m, want));
            float *got = read_f32(op, os);
            CHECK(got && os[0] == 3 && os[1] == s[0] && os[2] == s[1] && os[3] == s[2]);
            if (got) CHECK(same_floats(got, want, 3 * n));
            free(got);
        }
    /* uint8 maps are read as value/255 */
    snprintf(cmd, sizeof cmd,
             "AX_PROGRESS=0 %s --quiet affinities-from-boundary %s %s --block 3,8,5 --overwrite",
             g_axon, b8p, op);
    CHECK(sh(cmd) == 0);
    for (int64_t i = 0; i < n; i++) b[i] = (float)b8[i] / 255.0f;
    CHECK_OK(ax_affinities_from_boundary(b, s, AX_AFF_MIN, want));
    float *got = read_f32(op, os);
    if (got) CHECK(same_floats(got, want, 3 * n));
    free(got);

    /* labels: long-range and positive offsets need halos on both sides */
    static const int64_t off[9][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}, {-3, 0, 0},
                                      {0, -9, 0}, {0, 0, -4}, {2, -4, 5}, {0, 3, 0},
                                      {-6, 12, -18}};
    const char *lblocks[] = {"--block 4,5,6", "--block 1,2,3 --chunks 9,1,4,4", "--chunks 4,4,4"};
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd,
                 "AX_PROGRESS=0 %s --quiet affinities-from-labels %s %s --offsets "
                 "'-1,0,0;0,-1,0;0,0,-1;-3,0,0;0,-9,0;0,0,-4;2,-4,5;0,3,0;-6,12,-18' %s "
                 "--overwrite",
                 g_axon, lp, op, lblocks[k]);
        CHECK(sh(cmd) == 0);
        CHECK_OK(ax_affinities_from_labels(l, s, off, 9, want));
        got = read_f32(op, os);
        CHECK(got && os[0] == 9);
        if (got) CHECK(same_floats(got, want, 9 * n));
        free(got);
    }
    /* default offsets: the nearest three */
    snprintf(cmd, sizeof cmd, "AX_PROGRESS=0 %s --quiet affinities-from-labels %s %s --overwrite",
             g_axon, lp, op);
    CHECK(sh(cmd) == 0);
    CHECK_OK(ax_affinities_from_labels(l, s, NEAREST, 3, want));
    got = read_f32(op, os);
    CHECK(got && os[0] == 3);
    if (got) CHECK(same_floats(got, want, 3 * n));
    free(got);
    ax_volume *v;
    if (ax_volume_open(op, AX_OPEN_READ, &v) == AX_OK) { /* voxel size copied */
        const ax_volume_info *i = ax_volume_get_info(v);
        CHECK(i->has_voxel_size && i->voxel_size[0] == 40 && i->voxel_size[2] == 8);
        CHECK(i->dtype == AX_DTYPE_F32 && i->ndim == 4);
        ax_volume_close(v);
    }

    /* a NaN makes the command fail, naming the file and the voxel, and leaves no output */
    b[(5 * s[1] + 7) * s[2] + 11] = NAN;
    write_vol(bp, AX_DTYPE_F32, s, ch, b);
    char bad[600], log[600];
    test_path(bad, sizeof bad, "bad_aff.zarr");
    test_path(log, sizeof log, "bad.log");
    snprintf(cmd, sizeof cmd, "%s affinities-from-boundary %s %s --block 4,4,4 2>%s", g_axon, bp,
             bad, log);
    CHECK(sh(cmd) == 1);
    CHECK(access(bad, F_OK) != 0);
    snprintf(cmd, sizeof cmd, "grep -q 'bnd.zarr: boundary value nan at voxel (z=5, y=7, x=11) is NaN' %s", log);
    CHECK(sh(cmd) == 0);
    free(want);
    free(b);
    free(b8);
    free(l);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *e = getenv("AXON");
    if (e && *e) snprintf(g_axon, sizeof g_axon, "%s", e);
    else { /* $BUILD/tests/test_affinity -> $BUILD/axon */
        char self[900];
        snprintf(self, sizeof self, "%s", argv[0]);
        snprintf(g_axon, sizeof g_axon, "%s/../axon", dirname(self));
    }
    RUN(test_boundary_by_hand);
    RUN(test_boundary_rejects);
    RUN(test_labels_by_hand);
    RUN(test_random_vs_reference);
    RUN(test_threads);
    RUN(test_cli_streaming);
    return TEST_REPORT();
}
