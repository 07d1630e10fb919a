/* test_cc.c: connected components. Hand-computed cases per connectivity, labels that touch
 * but differ, ids in raster order of first voxels, out == in, a flood-fill reference on
 * random volumes, thread-count invariance, block-wise (ax_cc_volume) equal to whole-volume
 * (ax_cc_label) for many block shapes, dtypes and thresholds, on random and (when
 * present) real data, and bad arguments. */
#include <math.h>

#include "test.h"

static uint64_t *cc(const uint64_t *in, const int64_t s[3], int conn, uint64_t *n)
{
    size_t nv = (size_t)(s[0] * s[1] * s[2]);
    uint64_t *out = malloc(nv * sizeof *out);
    CHECK_OK(ax_cc_label(in, s, conn, out, n));
    return out;
}

/* number of components of a volume given as a list of set voxels (value 1) */
static uint64_t count_of(const int64_t s[3], const int (*vox)[3], int nvox, int conn)
{
    size_t nv = (size_t)(s[0] * s[1] * s[2]);
    uint64_t *in = calloc(nv, sizeof *in), n = 999;
    for (int i = 0; i < nvox; i++) in[(vox[i][0] * s[1] + vox[i][1]) * s[2] + vox[i][2]] = 1;
    free(cc(in, s, conn, &n));
    free(in);
    return n;
}

static void test_connectivity_cases(void)
{
    const int64_t s[3] = {3, 3, 3};
    /* face neighbours: one component under every connectivity */
    const int face[2][3] = {{1, 1, 1}, {1, 1, 2}};
    /* edge neighbours (two coordinates differ): 18 and 26 only, in every plane */
    const int edge_xy[2][3] = {{0, 0, 0}, {0, 1, 1}}, edge_zy[2][3] = {{0, 0, 0}, {1, 1, 0}},
              edge_zx[2][3] = {{1, 2, 2}, {2, 2, 1}};
    /* corner neighbours (three differ): 26 only */
    const int corner[2][3] = {{0, 0, 0}, {1, 1, 1}}, corner2[2][3] = {{2, 0, 2}, {1, 1, 1}};
    /* two apart: never */
    const int apart[2][3] = {{0, 0, 0}, {0, 0, 2}};
    const int conns[3] = {6, 18, 26};
    for (int c = 0; c < 3; c++) {
        int k = conns[c];
        CHECK(count_of(s, face, 2, k) == 1);
        CHECK(count_of(s, edge_xy, 2, k) == (k == 6 ? 2u : 1u));
        CHECK(count_of(s, edge_zy, 2, k) == (k == 6 ? 2u : 1u));
        CHECK(count_of(s, edge_zx, 2, k) == (k == 6 ? 2u : 1u));
        CHECK(count_of(s, corner, 2, k) == (k == 26 ? 1u : 2u));
        CHECK(count_of(s, corner2, 2, k) == (k == 26 ? 1u : 2u));
        CHECK(count_of(s, apart, 2, k) == 2);
    }
    /* a diagonal staircase through the cube: 3 pieces (6), 1 (18: edges chain) */
    const int stair[3][3] = {{0, 0, 0}, {1, 1, 0}, {2, 2, 0}};
    CHECK(count_of(s, stair, 3, 6) == 3);
    CHECK(count_of(s, stair, 3, 18) == 1);
    /* the main diagonal: corners only */
    const int diag[3][3] = {{0, 0, 0}, {1, 1, 1}, {2, 2, 2}};
    CHECK(count_of(s, diag, 3, 18) == 3);
    CHECK(count_of(s, diag, 3, 26) == 1);
}

/* A 2 x 3 x 4 volume worked out by hand, for each connectivity. */
static void test_hand_computed(void)
{
    const int64_t s[3] = {2, 3, 4};
    const uint64_t in[24] = {
        /* z = 0 */
        1, 0, 0, 5,
        0, 1, 0, 5,
        0, 0, 7, 0,
        /* z = 1 */
        0, 0, 5, 0,
        0, 0, 0, 0,
        1, 0, 0, 7,
    };
    /* 6: every voxel of 1 and 7 alone; the 5s at (0,0,3),(0,1,3) are one; (1,0,2) alone */
    const uint64_t want6[24] = {1, 0, 0, 2, 0, 3, 0, 2, 0, 0, 4, 0,
                                0, 0, 5, 0, 0, 0, 0, 0, 6, 0, 0, 7};
    /* 18: (0,0,0)-(0,1,1) edge; (1,0,2)-(0,0,3) edge (z, x); (1,2,0) alone (dz=1,dy=1,dx=-1
     * from (0,1,1) is a corner); 7s (0,2,2),(1,2,3): edge (z, x) */
    const uint64_t want18[24] = {1, 0, 0, 2, 0, 1, 0, 2, 0, 0, 3, 0,
                                 0, 0, 2, 0, 0, 0, 0, 0, 4, 0, 0, 3};
    /* 26: (1,2,0) now meets (0,1,1) through the corner */
    const uint64_t want26[24] = {1, 0, 0, 2, 0, 1, 0, 2, 0, 0, 3, 0,
                                 0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 3};
    uint64_t n;
    uint64_t *o = cc(in, s, 6, &n);
    CHECK(n == 7 && !memcmp(o, want6, sizeof want6));
    free(o);
    o = cc(in, s, 18, &n);
    CHECK(n == 4 && !memcmp(o, want18, sizeof want18));
    free(o);
    o = cc(in, s, 26, &n);
    CHECK(n == 3 && !memcmp(o, want26, sizeof want26));
    free(o);
}

/* Touching voxels of different values stay apart; equal values joined only directly. */
static void test_multi_label(void)
{
    const int64_t s[3] = {1, 1, 7};
    const uint64_t in[7] = {0, 9, 0, 3, 3, 9, 9};
    const uint64_t want[7] = {0, 1, 0, 2, 2, 3, 3}; /* ids by first voxel */
    uint64_t n, *o = cc(in, s, 26, &n);
    CHECK(n == 3 && !memcmp(o, want, sizeof want));
    free(o);
    /* 5 | 7 | 5 along x in a 1 x 3 x 3 slab: the two 5 columns never meet through 7 */
    const int64_t s2[3] = {1, 3, 3};
    const uint64_t in2[9] = {5, 7, 5, 5, 7, 5, 5, 7, 5};
    const uint64_t want2[9] = {1, 2, 3, 1, 2, 3, 1, 2, 3};
    for (int k = 6; k <= 26; k += k == 6 ? 12 : 8) {
        o = cc(in2, s2, k, &n);
        CHECK(n == 3 && !memcmp(o, want2, sizeof want2));
        free(o);
    }
    /* a checkerboard of two labels: 6 and 18 see single voxels; in-plane diagonals join
     * equal labels under 18 and 26 */
    const int64_t s3[3] = {1, 4, 4};
    uint64_t in3[16];
    for (int i = 0; i < 16; i++) in3[i] = ((i / 4 + i % 4) % 2) ? 4 : 8;
    o = cc(in3, s3, 6, &n);
    CHECK(n == 16);
    free(o);
    o = cc(in3, s3, 18, &n);
    CHECK(n == 2 && o[0] == 1 && o[1] == 2);
    free(o);
    /* a value that is all ones in uint64 is just another label */
    const uint64_t in4[7] = {UINT64_MAX, UINT64_MAX, 0, UINT64_MAX, 1, 1, UINT64_MAX};
    const uint64_t want4[7] = {1, 1, 0, 2, 3, 3, 4};
    o = cc(in4, s, 6, &n);
    CHECK(n == 4 && !memcmp(o, want4, sizeof want4));
    free(o);
}

/* ---- a flood-fill reference ---------------------------------------------------------- */

static uint64_t ref_label(const uint64_t *in, const int64_t s[3], int conn, uint64_t *out)
{
    int64_t nv = s[0] * s[1] * s[2];
    int64_t *stack = malloc(sizeof *stack * (size_t)nv);
    memset(out, 0, sizeof *out * (size_t)nv);
    uint64_t n = 0;
    for (int64_t p = 0; p < nv; p++) {
        if (!in[p] || out[p]) continue;
        out[p] = ++n;
        int64_t top = 0;
        stack[top++] = p;
        while (top) {
            int64_t q = stack[--top];
            int64_t z = q / (s[1] * s[2]), y = q / s[2] % s[1], x = q % s[2];
            for (int dz = -1; dz <= 1; dz++)
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int o = (dz != 0) + (dy != 0) + (dx != 0);
                        if (!o || (conn == 6 && o > 1) || (conn == 18 && o > 2)) continue;
                        int64_t zz = z + dz, yy = y + dy, xx = x + dx;
                        if (zz < 0 || yy < 0 || xx < 0 || zz >= s[0] || yy >= s[1] || xx >= s[2])
                            continue;
                        int64_t r = (zz * s[1] + yy) * s[2] + xx;
                        if (in[r] != in[p] || out[r]) continue;
                        out[r] = n;
                        stack[top++] = r;
                    }
        }
    }
    free(stack);
    return n;
}

/* random volume: density of non-zero voxels, nvals distinct values, optionally smoothed
 * into blobs by a few rounds of majority voting */
static uint64_t *random_volume(const int64_t s[3], double density, int nvals,
                               unsigned long long seed)
{
    size_t nv = (size_t)(s[0] * s[1] * s[2]);
    uint64_t *v = malloc(nv * sizeof *v);
    for (size_t i = 0; i < nv; i++) {
        unsigned long long r = test_rand(&seed);
        v[i] = (double)(r >> 11) / 9007199254740992.0 < density ? 1 + r % (unsigned)nvals : 0;
    }
    return v;
}

static void test_against_reference(void)
{
    unsigned long long seed = 7;
    for (int t = 0; t < 60; t++) {
        int64_t s[3] = {1 + (int64_t)(test_rand(&seed) % 9), 1 + (int64_t)(test_rand(&seed) % 11),
                        1 + (int64_t)(test_rand(&seed) % 13)};
        double dens = 0.1 + 0.8 * (double)(test_rand(&seed) % 100) / 100.0;
        int nvals = t % 3 == 0 ? 1 : 1 + (int)(test_rand(&seed) % 4);
        uint64_t *in = random_volume(s, dens, nvals, seed + (unsigned)t);
        size_t nv = (size_t)(s[0] * s[1] * s[2]);
        uint64_t *want = malloc(nv * sizeof *want);
        for (int k = 6; k <= 26; k += k == 6 ? 12 : 8) {
            uint64_t nw = ref_label(in, s, k, want), n;
            uint64_t *o = cc(in, s, k, &n);
            bool same = n == nw && !memcmp(o, want, nv * sizeof *o);
            CHECK(same);
            if (!same)
                fprintf(stderr, "    shape %lld %lld %lld conn %d: %llu vs %llu\n", (long long)s[0],
                        (long long)s[1], (long long)s[2], k, (unsigned long long)n,
                        (unsigned long long)nw);
            free(o);
        }
        free(want);
        free(in);
    }
}

/* out == in, and 1, 2 and 3 threads all give the same array */
static void test_alias_and_threads(void)
{
    const int64_t s[3] = {37, 41, 53};
    size_t nv = (size_t)(s[0] * s[1] * s[2]);
    for (int v = 0; v < 2; v++) {
        uint64_t *in = random_volume(s, v ? 0.55 : 0.3, v ? 3 : 1, 99 + (unsigned)v);
        for (int k = 6; k <= 26; k += k == 6 ? 12 : 8) {
            uint64_t n1, n2, n3, na;
            CHECK_OK(ax_threads_set(1));
            uint64_t *o1 = cc(in, s, k, &n1);
            CHECK_OK(ax_threads_set(2));
            uint64_t *o2 = cc(in, s, k, &n2);
            CHECK_OK(ax_threads_set(3));
            uint64_t *o3 = cc(in, s, k, &n3);
            CHECK(n1 == n2 && n2 == n3);
            CHECK(!memcmp(o1, o2, nv * 8) && !memcmp(o1, o3, nv * 8));
            uint64_t *alias = malloc(nv * 8);
            memcpy(alias, in, nv * 8);
            CHECK_OK(ax_cc_label(alias, s, k, alias, &na));
            CHECK(na == n1 && !memcmp(alias, o1, nv * 8));
            free(alias);
            free(o1);
            free(o2);
            free(o3);
        }
        free(in);
    }
    CHECK_OK(ax_threads_set(0));
}

/* ---- block-wise ---------------------------------------------------------------------- */

static ax_volume *write_volume_mode(const char *name, const void *data, ax_dtype t,
                                    const int64_t s[3], const int64_t chunks[3], int mode)
{
    char path[700];
    test_path(path, sizeof path, name);
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = t;
    p.ndim = 3;
    memcpy(p.shape, s, 3 * sizeof *s);
    memcpy(p.chunks, chunks, 3 * sizeof *chunks);
    p.overwrite = true;
    ax_volume *v = NULL;
    const int64_t z0[3] = {0, 0, 0};
    CHECK_OK(ax_volume_create(path, &p, &v));
    if (!v) return NULL;
    CHECK_OK(ax_volume_write_region(v, z0, s, t, data));
    CHECK_OK(ax_volume_close(v));
    v = NULL;
    CHECK_OK(ax_volume_open(path, mode, &v));
    return v;
}

static ax_volume *write_volume(const char *name, const void *data, ax_dtype t, const int64_t s[3],
                               const int64_t chunks[3])
{
    return write_volume_mode(name, data, t, s, chunks, AX_OPEN_READ);
}

/* ax_cc_volume of `in` with block `blk` (and output chunks `oc`) must equal `want` */
static void check_volume_cc(ax_volume *in, const ax_cc_params *p, const int64_t oc[3],
                            const uint64_t *want, uint64_t want_n, const char *what)
{
    const ax_volume_info *ii = ax_volume_get_info(in);
    const int64_t *s = ii->shape;
    char path[700];
    test_path(path, sizeof path, "cc_out.h5:labels");
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_U64;
    cp.ndim = 3;
    memcpy(cp.shape, s, 3 * sizeof *s);
    memcpy(cp.chunks, oc, 3 * sizeof *oc);
    cp.compression = AX_COMPRESSION_RAW;
    cp.overwrite = true;
    ax_volume *out = NULL;
    CHECK_OK(ax_volume_create(path, &cp, &out));
    if (!out) return;
    uint64_t n = 0;
    int rc = ax_cc_volume(in, out, p, &n);
    CHECK_OK(rc);
    CHECK_OK(ax_volume_close(out));
    size_t nv = (size_t)(s[0] * s[1] * s[2]);
    uint64_t *got = malloc(nv * 8);
    const int64_t z0[3] = {0, 0, 0};
    out = NULL;
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &out));
    if (out) CHECK_OK(ax_volume_read_region(out, z0, s, AX_DTYPE_U64, got));
    bool same = rc == AX_OK && n == want_n && !memcmp(got, want, nv * 8);
    CHECK(same);
    if (!same)
        fprintf(stderr, "    %s: conn %d block %lld,%lld,%lld chunks %lld,%lld,%lld: %llu vs %llu\n",
                what, p->connectivity, (long long)p->block[0], (long long)p->block[1],
                (long long)p->block[2], (long long)oc[0], (long long)oc[1], (long long)oc[2],
                (unsigned long long)n, (unsigned long long)want_n);
    free(got);
    ax_volume_close(out);
}

static const int64_t BLOCKS[][3] = {{32, 32, 32}, {64, 64, 64}, {29, 37, 45}, {7, 5, 3},
                                    {1, 64, 64},  {50, 1, 9},   {0, 0, 0},    {200, 200, 200}};
#define NBLOCKS ((int)(sizeof BLOCKS / sizeof BLOCKS[0]))

/* every block shape and connectivity against ax_cc_label of the whole (labels as given) */
static void blocks_vs_whole(ax_volume *v, const uint64_t *labels, const ax_cc_params *base,
                            const char *what)
{
    const int64_t *s = ax_volume_get_info(v)->shape;
    size_t nv = (size_t)(s[0] * s[1] * s[2]);
    uint64_t *want = malloc(nv * 8);
    for (int k = 6; k <= 26; k += k == 6 ? 12 : 8) {
        uint64_t wn = 0;
        CHECK_OK(ax_cc_label(labels, s, k, want, &wn));
        for (int b = 0; b < NBLOCKS; b++) {
            ax_cc_params p = *base;
            p.connectivity = k;
            memcpy(p.block, BLOCKS[b], sizeof p.block);
            /* output chunks: aligned with the blocks, or not (writes then take turns) */
            int64_t oc[3] = {32, 32, 32};
            if (b % 2) oc[0] = oc[1] = oc[2] = 16;
            check_volume_cc(v, &p, oc, want, wn, what);
        }
    }
    free(want);
}

static void test_volume_labels(void)
{
    const int64_t s[3] = {70, 90, 110}, ch[3] = {32, 32, 32};
    size_t nv = (size_t)(s[0] * s[1] * s[2]);
    /* blob-like labels: random values on a coarse grid, upsampled, with random holes */
    uint64_t *lab = malloc(nv * 8);
    unsigned long long seed = 5;
    for (int64_t z = 0; z < s[0]; z++)
        for (int64_t y = 0; y < s[1]; y++)
            for (int64_t x = 0; x < s[2]; x++) {
                unsigned long long cell = (unsigned long long)((z / 6) * 1000 + (y / 5) * 31 + x / 7);
                unsigned long long h = cell * 0x9E3779B97F4A7C15ull;
                uint64_t v = (h >> 60) < 5 ? 0 : 1 + (h >> 61);
                if (test_rand(&seed) % 10 == 0) v = 0;
                lab[(z * s[1] + y) * s[2] + x] = v;
            }
    ax_volume *v = write_volume("cc_labels.zarr", lab, AX_DTYPE_U64, s, ch);
    if (v) {
        ax_cc_params p = ax_cc_params_default();
        blocks_vs_whole(v, lab, &p, "labels");
        /* the same labels as uint16 read through ax_volume_read_region_as */
        uint16_t *l16 = malloc(nv * 2);
        for (size_t i = 0; i < nv; i++) l16[i] = (uint16_t)lab[i];
        ax_volume *v16 = write_volume("cc_labels16.n5", l16, AX_DTYPE_U16, s, ch);
        if (v16) {
            CHECK_OK(ax_threads_set(1));
            blocks_vs_whole(v16, lab, &p, "labels uint16, 1 thread");
            CHECK_OK(ax_threads_set(0));
        }
        ax_volume_close(v16);
        free(l16);
    }
    ax_volume_close(v);
    free(lab);
}

static void test_volume_threshold(void)
{
    const int64_t s[3] = {45, 67, 80}, ch[3] = {16, 32, 20};
    size_t nv = (size_t)(s[0] * s[1] * s[2]);
    /* smooth random field: sum of a few waves, plus noise */
    float *f = malloc(nv * 4);
    unsigned long long seed = 11;
    for (int64_t z = 0; z < s[0]; z++)
        for (int64_t y = 0; y < s[1]; y++)
            for (int64_t x = 0; x < s[2]; x++) {
                double v = sin(0.31 * z + 0.2 * y) + cos(0.27 * x - 0.13 * z) + sin(0.17 * y * 1.3 + 0.4 * x);
                v += 0.6 * ((double)(test_rand(&seed) >> 11) / 9007199254740992.0 - 0.5);
                f[(z * s[1] + y) * s[2] + x] = (float)v;
            }
    const double th[3] = {0.9, 1.2, -0.5};
    uint64_t *bin = malloc(nv * 8);
    ax_volume *vf = write_volume("cc_float.zarr", f, AX_DTYPE_F32, s, ch);
    for (int t = 0; t < 3 && vf; t++) {
        for (size_t i = 0; i < nv; i++) bin[i] = (double)f[i] > th[t];
        ax_cc_params p = ax_cc_params_default();
        p.use_threshold = true;
        p.threshold = th[t];
        blocks_vs_whole(vf, bin, &p, "float32 > threshold");
    }
    ax_volume_close(vf);
    /* uint8 and int32 versions with integer-aware thresholds */
    uint8_t *u8 = malloc(nv);
    int32_t *i32 = malloc(nv * 4);
    for (size_t i = 0; i < nv; i++) {
        double v = (f[i] + 3.0) * 40.0;
        u8[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        i32[i] = (int32_t)floor((double)f[i] * 1000.0);
    }
    ax_volume *v8 = write_volume("cc_u8.h5:data", u8, AX_DTYPE_U8, s, ch);
    ax_volume *v32 = write_volume("cc_i32.zarr", i32, AX_DTYPE_I32, s, ch);
    const double t8[2] = {160.5, 160}; /* > 160.5 and > 160 are the same for integers */
    for (int t = 0; t < 2 && v8; t++) {
        for (size_t i = 0; i < nv; i++) bin[i] = u8[i] > 160;
        ax_cc_params p = ax_cc_params_default();
        p.use_threshold = true;
        p.threshold = t8[t];
        blocks_vs_whole(v8, bin, &p, "uint8 > threshold");
    }
    if (v32) {
        for (size_t i = 0; i < nv; i++) bin[i] = i32[i] > -750;
        ax_cc_params p = ax_cc_params_default();
        p.use_threshold = true;
        p.threshold = -750.25; /* > -750.25 means >= -750 */
        for (size_t i = 0; i < nv; i++) bin[i] = i32[i] >= -750;
        blocks_vs_whole(v32, bin, &p, "int32 > negative threshold");
    }
    /* thresholds outside the dtype's range: nothing, or everything, is foreground */
    for (int t = 0; t < 2 && v8; t++) {
        ax_cc_params p = ax_cc_params_default();
        p.use_threshold = true;
        p.threshold = t ? -1 : 255;
        for (size_t i = 0; i < nv; i++) bin[i] = t ? 1 : 0;
        const int64_t oc[3] = {32, 32, 32};
        p.block[0] = 20, p.block[1] = 30, p.block[2] = 40;
        check_volume_cc(v8, &p, oc, bin, t ? 1 : 0, "uint8 threshold out of range");
    }
    ax_volume_close(v8);
    ax_volume_close(v32);
    free(u8);
    free(i32);
    free(bin);
    free(f);
}

/* the real medulla labels, if the data are there */
static void test_real_data(void)
{
    const char *dir = getenv("AX_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/flyem_medulla/medulla_z0-149.h5", dir && *dir ? dir : "../shared/data");
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "    skip: %s not found (set AX_DATA)\n", path);
        return;
    }
    fclose(f);
    strncat(path, ":gt_bodies", sizeof path - strlen(path) - 1);
    ax_volume *v = NULL;
    CHECK_OK(ax_volume_open(path, AX_OPEN_READ, &v));
    if (!v) return;
    const ax_volume_info *ii = ax_volume_get_info(v);
    const int64_t *s = ii->shape, z0[3] = {0, 0, 0};
    size_t nv = (size_t)(s[0] * s[1] * s[2]);
    uint64_t *lab = malloc(nv * 8), *want = malloc(nv * 8);
    CHECK_OK(ax_volume_read_region(v, z0, s, AX_DTYPE_U64, lab));
    const int64_t blocks[4][3] = {{32, 32, 32}, {64, 64, 64}, {29, 37, 45}, {0, 0, 0}};
    for (int k = 6; k <= 26; k += 20) {
        uint64_t wn;
        CHECK_OK(ax_cc_label(lab, s, k, want, &wn));
        CHECK(wn > 100); /* hundreds of bodies, some split by the crop */
        for (int b = 0; b < 4; b++) {
            ax_cc_params p = ax_cc_params_default();
            p.connectivity = k;
            memcpy(p.block, blocks[b], sizeof p.block);
            const int64_t oc[3] = {64, 64, 64};
            check_volume_cc(v, &p, oc, want, wn, "medulla gt_bodies");
        }
    }
    /* the binary case on real shapes: gt_bodies > 0 */
    for (size_t i = 0; i < nv; i++) lab[i] = lab[i] != 0;
    uint64_t wn;
    CHECK_OK(ax_cc_label(lab, s, 26, want, &wn));
    ax_cc_params p = ax_cc_params_default();
    p.connectivity = 26;
    p.use_threshold = true;
    p.threshold = 0;
    p.block[0] = 29, p.block[1] = 37, p.block[2] = 45;
    const int64_t oc[3] = {50, 125, 125};
    check_volume_cc(v, &p, oc, want, wn, "medulla gt_bodies > 0");
    free(lab);
    free(want);
    ax_volume_close(v);
}

/* ---- bad arguments ------------------------------------------------------------------- */

static void test_bad_input(void)
{
    uint64_t in[8] = {0}, out[8], n;
    int64_t s[3] = {2, 2, 2};
    CHECK_ERR(ax_cc_label(NULL, s, 6, out, &n), AX_E_INVALID, "in is NULL");
    CHECK_ERR(ax_cc_label(in, NULL, 6, out, &n), AX_E_INVALID, "shape is NULL");
    CHECK_ERR(ax_cc_label(in, s, 6, NULL, &n), AX_E_INVALID, "out is NULL");
    CHECK_ERR(ax_cc_label(in, s, 4, out, &n), AX_E_INVALID, "connectivity 4");
    CHECK_ERR(ax_cc_label(in, s, 0, out, &n), AX_E_INVALID, "6, 18 or 26");
    int64_t z[3] = {2, 0, 2}, neg[3] = {-1, 2, 2};
    CHECK_ERR(ax_cc_label(in, z, 6, out, &n), AX_E_INVALID, "<= 0");
    CHECK_ERR(ax_cc_label(in, neg, 6, out, &n), AX_E_INVALID, "<= 0");
    int64_t huge[3] = {INT64_MAX / 4, 1 << 20, 1 << 20};
    CHECK_ERR(ax_cc_label(in, huge, 6, out, &n), AX_E_RANGE, "overflows");
    int64_t longrow[3] = {1, 1, (int64_t)1 << 31};
    CHECK_ERR(ax_cc_label(in, longrow, 6, out, &n), AX_E_RANGE, "rows of");
    /* n_components may be NULL; an all-zero volume has none */
    CHECK_OK(ax_cc_label(in, s, 26, out, NULL));
    CHECK_OK(ax_cc_label(in, s, 26, out, &n));
    CHECK(n == 0 && out[0] == 0 && out[7] == 0);

    /* volumes */
    const int64_t vs[3] = {4, 5, 6}, ch[3] = {2, 2, 2};
    float f[120];
    for (int i = 0; i < 120; i++) f[i] = (float)i * 0.5f; /* halves: not whole numbers */
    ax_volume *vf = write_volume("cc_bad_f.zarr", f, AX_DTYPE_F32, vs, ch);
    uint32_t u[120] = {0};
    ax_volume *vu = write_volume("cc_bad_u32.zarr", u, AX_DTYPE_U32, vs, ch);
    ax_volume *o64 = write_volume_mode("cc_bad_out.zarr", (uint64_t[120]){0}, AX_DTYPE_U64, vs, ch,
                                       AX_OPEN_RW);
    const int64_t ws[3] = {4, 5, 7};
    ax_volume *wrong = write_volume("cc_bad_shape.zarr", (uint64_t[140]){0}, AX_DTYPE_U64, ws, ch);
    char p4[700];
    test_path(p4, sizeof p4, "cc_bad_4d.zarr");
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_U8;
    cp.ndim = 4;
    cp.shape[0] = 2, cp.shape[1] = 3, cp.shape[2] = 4, cp.shape[3] = 5;
    cp.overwrite = true;
    ax_volume *v4 = NULL;
    CHECK_OK(ax_volume_create(p4, &cp, &v4));
    CHECK_OK(ax_volume_close(v4));
    v4 = NULL;
    CHECK_OK(ax_volume_open(p4, AX_OPEN_READ, &v4));
    if (vf && vu && o64 && wrong && v4) {
        ax_cc_params p = ax_cc_params_default();
        CHECK_ERR(ax_cc_volume(NULL, o64, &p, &n), AX_E_INVALID, "in is NULL");
        CHECK_ERR(ax_cc_volume(vf, NULL, &p, &n), AX_E_INVALID, "out is NULL");
        CHECK_ERR(ax_cc_volume(o64, o64, &p, &n), AX_E_INVALID, "same volume");
        CHECK_ERR(ax_cc_volume(v4, o64, &p, &n), AX_E_RANGE, "3-d");
        CHECK_ERR(ax_cc_volume(vf, wrong, &p, &n), AX_E_RANGE, "shape differs");
        CHECK_ERR(ax_cc_volume(vf, vu, &p, &n), AX_E_DTYPE, "uint64");
        p.connectivity = 8;
        CHECK_ERR(ax_cc_volume(vf, o64, &p, &n), AX_E_INVALID, "connectivity 8");
        p = ax_cc_params_default();
        p.block[1] = -3;
        CHECK_ERR(ax_cc_volume(vf, o64, &p, &n), AX_E_INVALID, "negative");
        p = ax_cc_params_default();
        p.use_threshold = true;
        p.threshold = NAN;
        CHECK_ERR(ax_cc_volume(vf, o64, &p, &n), AX_E_INVALID, "NaN");
        /* float labels must be whole numbers: read_region_as says where */
        p = ax_cc_params_default();
        CHECK_ERR(ax_cc_volume(vf, o64, &p, &n), AX_E_RANGE, "cc_bad_f.zarr");
        /* NULL params: the defaults; threshold 0 on the halves */
        CHECK_OK(ax_cc_volume(vu, o64, NULL, &n));
        CHECK(n == 0);
        p.use_threshold = true;
        p.threshold = 0;
        p.connectivity = 6;
        CHECK_OK(ax_cc_volume(vf, o64, &p, &n));
        CHECK(n == 1); /* everything but voxel 0 */
    }
    ax_volume_close(vf);
    ax_volume_close(vu);
    ax_volume_close(o64);
    ax_volume_close(wrong);
    ax_volume_close(v4);
}

static void test_params_default(void)
{
    ax_cc_params p = ax_cc_params_default();
    CHECK(p.connectivity == 6 && !p.use_threshold && p.block[0] == 0 && p.block[2] == 0);
}

int main(void)
{
    RUN(test_params_default);
    RUN(test_connectivity_cases);
    RUN(test_hand_computed);
    RUN(test_multi_label);
    RUN(test_against_reference);
    RUN(test_alias_and_threads);
    RUN(test_volume_labels);
    RUN(test_volume_threshold);
    RUN(test_real_data);
    RUN(test_bad_input);
    return TEST_REPORT();
}
