/* test_watershed.c: zwatershed on hand-computed graphs, and the seam rule: the same
 * segmentation for any block shape, thread count, and in memory or on disk. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/axon.h"
#include "test.h"

/* a 1 x 1 x n line: edges[x] links voxel x-1 and x (edges[0] unused) */
static void line_affs(const float *edges, int n, float *aff)
{
    memset(aff, 0, 3 * (size_t)n * sizeof(float));
    for (int x = 1; x < n; x++) aff[2 * n + x] = edges[x];
}

static int run_line(const float *edges, int n, ax_watershed_params p, uint64_t *seg)
{
    float aff[3 * 16];
    line_affs(edges, n, aff);
    int64_t shape[3] = {1, 1, n};
    uint64_t k = 0;
    int rc = ax_watershed(aff, shape, &p, seg, &k);
    return rc < 0 ? rc : (int)k;
}

static bool seg_is(const uint64_t *seg, const uint64_t *want, int n)
{
    for (int i = 0; i < n; i++)
        if (seg[i] != want[i]) {
            fprintf(stderr, "  voxel %d: got %llu, want %llu\n", i, (unsigned long long)seg[i],
                    (unsigned long long)want[i]);
            return false;
        }
    return true;
}

static void test_line_basins(void)
{
    /* 0 -.9- 1 -.2- 2 -.8- 3 -.85- 4 -.1- 5
     * 0 and 1 point at each other (0.9); 2 climbs to 3, 3 to 4, 4 back to 3, 5 to 4 */
    const float e[6] = {0, 0.9f, 0.2f, 0.8f, 0.85f, 0.1f};
    ax_watershed_params p = ax_watershed_params_default();
    p.size_threshold = 0;
    p.dust = 0;
    uint64_t seg[6];
    CHECK(run_line(e, 6, p, seg) == 2);
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 2, 2, 2, 2}, 6));
    /* voxel 5's best edge (0.1) is not above low: background */
    p.low = 0.15f;
    CHECK(run_line(e, 6, p, seg) == 2);
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 2, 2, 2, 0}, 6));
    /* size merging: region {0,1} (2 voxels) is below 3 and its edge 0.2 >= merge_low */
    p.low = 0.0001f;
    p.size_threshold = 3;
    p.merge_low = 0.15f;
    CHECK(run_line(e, 6, p, seg) == 1);
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 1, 1, 1}, 6));
    /* ... but not through an edge below merge_low */
    p.merge_low = 0.3f;
    CHECK(run_line(e, 6, p, seg) == 2);
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 2, 2, 2, 2}, 6));
    /* dust: the 2-voxel region disappears, ids stay consecutive */
    p.dust = 3;
    CHECK(run_line(e, 6, p, seg) == 1);
    CHECK(seg_is(seg, (const uint64_t[]){0, 0, 1, 1, 1, 1}, 6));
    /* high: 0.85 and above always join; 0.2 joins nothing even so */
    p = ax_watershed_params_default();
    p.size_threshold = 0;
    p.dust = 0;
    p.high = 0.5f;
    CHECK(run_line(e, 6, p, seg) == 2);
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 2, 2, 2, 2}, 6));
    p.high = 0.15f; /* now 0.2 joins too; 0.1 does not, but 5 still climbs to 4 */
    CHECK(run_line(e, 6, p, seg) == 1);
}

static void test_plateau_division(void)
{
    /* 0 -.9- 1 -.5- 2 -.5- 3 -.5- 4 -.9- 5: the plateau 2..3 of 0.5 edges is split between
     * its two exits: 2 leaves towards 1, 3 towards 4 (zwatershed's plateau division) */
    const float e[6] = {0, 0.9f, 0.5f, 0.5f, 0.5f, 0.9f};
    ax_watershed_params p = ax_watershed_params_default();
    p.size_threshold = 0;
    p.dust = 0;
    uint64_t seg[6];
    CHECK(run_line(e, 6, p, seg) == 2);
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 2, 2, 2}, 6));
    /* a flat line with no exit is one basin */
    const float f[5] = {0, 0.5f, 0.5f, 0.5f, 0.5f};
    CHECK(run_line(f, 5, p, seg) == 1);
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 1, 1}, 5));
}

static void test_bad_input(void)
{
    float aff[3 * 4] = {0};
    uint64_t seg[4];
    int64_t shape[3] = {1, 2, 2};
    ax_watershed_params p = ax_watershed_params_default();
    aff[5] = NAN;
    CHECK_ERR(ax_watershed(aff, shape, &p, seg, NULL), AX_E_INVALID, "NaN");
    aff[5] = 1.5f;
    CHECK_ERR(ax_watershed(aff, shape, &p, seg, NULL), AX_E_INVALID, "outside [0, 1]");
    aff[5] = 0.5f;
    p.low = 0.9f;
    p.high = 0.1f;
    CHECK_ERR(ax_watershed(aff, shape, &p, seg, NULL), AX_E_INVALID, "low <= high");
    p = ax_watershed_params_default();
    int64_t bad[3] = {1, 0, 2};
    CHECK_ERR(ax_watershed(aff, bad, &p, seg, NULL), AX_E_RANGE, "shape");
    CHECK_ERR(ax_watershed(NULL, shape, &p, seg, NULL), AX_E_INVALID, "NULL");
}

/* smooth random boundary map -> min-rule affinities, optionally quantised to 1/q so that
 * ties (plateaus) are everywhere */
static float *random_affs(const int64_t sh[3], unsigned long long seed, int q)
{
    size_t n = (size_t)(sh[0] * sh[1] * sh[2]);
    float *b = malloc(n * sizeof *b), *t = malloc(n * sizeof *t), *aff = calloc(3 * n, sizeof *aff);
    for (size_t i = 0; i < n; i++) b[i] = (float)(test_rand(&seed) % 1000) / 1000.0f;
    for (int pass = 0; pass < 3; pass++) /* box blur along each axis */
        for (int ax = 0; ax < 3; ax++) {
            int64_t st = ax == 0 ? sh[1] * sh[2] : ax == 1 ? sh[2] : 1;
            for (int64_t z = 0; z < sh[0]; z++)
                for (int64_t y = 0; y < sh[1]; y++)
                    for (int64_t x = 0; x < sh[2]; x++) {
                        int64_t c[3] = {z, y, x}, i = (z * sh[1] + y) * sh[2] + x;
                        float s = b[i];
                        int k = 1;
                        if (c[ax] > 0) s += b[i - st], k++;
                        if (c[ax] + 1 < sh[ax]) s += b[i + st], k++;
                        t[i] = s / (float)k;
                    }
            memcpy(b, t, n * sizeof *b);
        }
    float mn = 1, mx = 0;
    for (size_t i = 0; i < n; i++) mn = fminf(mn, b[i]), mx = fmaxf(mx, b[i]);
    for (size_t i = 0; i < n; i++) {
        float v = (b[i] - mn) / (mx - mn);
        b[i] = q ? roundf(v * (float)q) / (float)q : v;
    }
    for (int64_t z = 0; z < sh[0]; z++)
        for (int64_t y = 0; y < sh[1]; y++)
            for (int64_t x = 0; x < sh[2]; x++) {
                size_t i = (size_t)((z * sh[1] + y) * sh[2] + x);
                if (z) aff[i] = 1 - fmaxf(b[i], b[i - (size_t)(sh[1] * sh[2])]);
                if (y) aff[n + i] = 1 - fmaxf(b[i], b[i - (size_t)sh[2]]);
                if (x) aff[2 * n + i] = 1 - fmaxf(b[i], b[i - 1]);
            }
    free(b);
    free(t);
    return aff;
}

static int write_affs(const char *path, const float *aff, const int64_t sh[3], int64_t chunk)
{
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_F32;
    cp.ndim = 4;
    cp.shape[0] = 3;
    cp.chunks[0] = 3;
    for (int d = 0; d < 3; d++) cp.shape[d + 1] = sh[d], cp.chunks[d + 1] = chunk;
    cp.overwrite = true;
    ax_volume *v;
    int rc = ax_volume_create(path, &cp, &v);
    if (rc < 0) return rc;
    int64_t s4[4] = {0, 0, 0, 0}, z4[4] = {3, sh[0], sh[1], sh[2]};
    rc = ax_volume_write_region(v, s4, z4, AX_DTYPE_F32, aff);
    int rc2 = ax_volume_close(v);
    return rc < 0 ? rc : rc2;
}

static void check_block_invariance(const int64_t sh[3], int q, unsigned long long seed)
{
    size_t n = (size_t)(sh[0] * sh[1] * sh[2]);
    float *aff = random_affs(sh, seed, q);
    uint64_t *ref = malloc(n * 8), *seg = malloc(n * 8);
    ax_watershed_params p = ax_watershed_params_default();
    p.size_threshold = 20;
    p.dust = 5;
    p.merge_low = 0.2f;
    p.block[0] = sh[0], p.block[1] = sh[1], p.block[2] = sh[2]; /* one block: the whole */
    uint64_t nref = 0, nseg = 0;
    CHECK_OK(ax_watershed(aff, sh, &p, ref, &nref));
    CHECK(nref > 3);
    const int64_t blocks[][3] = {{32, 32, 32}, {64, 64, 64}, {29, 37, 45}, {7, 11, 5}, {1, 64, 64}};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        memcpy(p.block, blocks[b], sizeof p.block);
        memset(seg, 0xee, n * 8);
        CHECK_OK(ax_watershed(aff, sh, &p, seg, &nseg));
        bool same = nseg == nref && !memcmp(seg, ref, n * 8);
        if (!same)
            fprintf(stderr, "  blocks %lld,%lld,%lld (q=%d): %llu vs %llu segments\n",
                    (long long)blocks[b][0], (long long)blocks[b][1], (long long)blocks[b][2], q,
                    (unsigned long long)nseg, (unsigned long long)nref);
        CHECK(same);
    }
    /* threads */
    int nt = ax_threads_get();
    ax_threads_set(1);
    p.block[0] = p.block[1] = p.block[2] = 16;
    CHECK_OK(ax_watershed(aff, sh, &p, seg, &nseg));
    CHECK(!memcmp(seg, ref, n * 8));
    ax_threads_set(nt);
    /* on disk, blocks aligned with chunks and not */
    char ap[600], op[600];
    test_path(ap, sizeof ap, "ws_affs.zarr");
    test_path(op, sizeof op, "ws_seg.zarr");
    CHECK_OK(write_affs(ap, aff, sh, 16));
    const int64_t vblocks[][3] = {{16, 16, 16}, {32, 48, 16}, {13, 17, 19}};
    for (size_t b = 0; b < 3; b++) {
        ax_volume *av, *ov;
        CHECK_OK(ax_volume_open(ap, AX_OPEN_READ, &av));
        ax_volume_create_params cp = ax_volume_create_params_default();
        cp.dtype = AX_DTYPE_U64;
        cp.ndim = 3;
        for (int d = 0; d < 3; d++) cp.shape[d] = sh[d], cp.chunks[d] = 16;
        cp.overwrite = true;
        CHECK_OK(ax_volume_create(op, &cp, &ov));
        memcpy(p.block, vblocks[b], sizeof p.block);
        CHECK_OK(ax_watershed_volume(av, ov, &p, &nseg));
        CHECK_OK(ax_volume_close(ov));
        ax_volume_close(av);
        CHECK_OK(ax_volume_open(op, AX_OPEN_READ, &ov));
        int64_t s0[3] = {0, 0, 0};
        memset(seg, 0, n * 8);
        CHECK_OK(ax_volume_read_region(ov, s0, sh, AX_DTYPE_U64, seg));
        ax_volume_close(ov);
        CHECK(nseg == nref && !memcmp(seg, ref, n * 8));
    }
    free(aff);
    free(ref);
    free(seg);
}

static void test_block_invariance(void)
{
    const int64_t sh[3] = {40, 70, 90};
    check_block_invariance(sh, 0, 1);
    check_block_invariance(sh, 8, 2); /* quantised: plateaus cross every seam */
}

static void test_volume_errors(void)
{
    char ap[600], op[600];
    test_path(ap, sizeof ap, "ws_bad_affs.zarr");
    test_path(op, sizeof op, "ws_bad_out.zarr");
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = AX_DTYPE_F32;
    cp.ndim = 4;
    cp.shape[0] = 2, cp.shape[1] = 4, cp.shape[2] = 4, cp.shape[3] = 4;
    cp.overwrite = true;
    ax_volume *av, *ov;
    CHECK_OK(ax_volume_create(ap, &cp, &av));
    CHECK_OK(ax_volume_close(av));
    cp.dtype = AX_DTYPE_U64;
    cp.ndim = 3;
    cp.shape[0] = 4;
    CHECK_OK(ax_volume_create(op, &cp, &ov));
    CHECK_OK(ax_volume_open(ap, AX_OPEN_READ, &av));
    ax_watershed_params p = ax_watershed_params_default();
    CHECK_ERR(ax_watershed_volume(av, ov, &p, NULL), AX_E_RANGE, "2 channels");
    ax_volume_close(av);
    ax_volume_abort(ov);
}

/* an interrupt request stops the work between blocks with AX_E_INTERRUPTED */
static void test_interrupt(void)
{
    const int64_t sh[3] = {20, 30, 40};
    size_t n = (size_t)(sh[0] * sh[1] * sh[2]);
    float *aff = calloc(3 * n, sizeof *aff);
    uint64_t *seg = malloc(n * 8);
    ax_watershed_params p = ax_watershed_params_default();
    p.block[0] = p.block[1] = p.block[2] = 8;
    ax_interrupt();
    CHECK(ax_interrupt_requested());
    CHECK_ERR(ax_watershed(aff, sh, &p, seg, NULL), AX_E_INTERRUPTED, "interrupted");
    ax_interrupt_clear();
    CHECK(!ax_interrupt_requested());
    CHECK_OK(ax_watershed(aff, sh, &p, seg, NULL));
    free(aff);
    free(seg);
}

int main(void)
{
    RUN(test_interrupt);
    RUN(test_line_basins);
    RUN(test_plateau_division);
    RUN(test_bad_input);
    RUN(test_block_invariance);
    RUN(test_volume_errors);
    return TEST_REPORT();
}
