/* test_agglomerate.c: waterz-style agglomeration on hand-computed graphs, every merge
 * function, and the same result for any block shape, thread count, and in memory or on
 * disk, on random volumes and on the gala sample ($AX_DATA/gala). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/axon.h"
#include "test.h"

static int agg(const float *aff, const uint64_t *frag, const int64_t sh[3], int mf, double q,
               const double *th, int nth, uint64_t **outs)
{
    ax_agglomerate_params p = ax_agglomerate_params_default();
    p.merge_function = mf;
    p.quantile = q;
    p.thresholds = th;
    p.n_thresholds = nth;
    return ax_agglomerate(aff, frag, sh, &p, outs);
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

static void test_line(void)
{
    /* fragments 7 7 5 9 along x; boundary 7|5 has affinity 0.8 (score 0.2), 5|9 0.4
     * (score 0.6); ids in the output follow the first voxel */
    const int64_t sh[3] = {1, 1, 4};
    const uint64_t frag[4] = {7, 7, 5, 9};
    float aff[12] = {0};
    aff[8 + 2] = 0.8f;
    aff[8 + 3] = 0.4f;
    aff[8 + 1] = 0.99f; /* inside fragment 7: ignored */
    uint64_t o[4][4], *outs[4] = {o[0], o[1], o[2], o[3]};
    const double th[4] = {0.7, 0.1, 0.3, 0.0}; /* any order; one output each */
    CHECK_OK(agg(aff, frag, sh, AX_MERGE_MEAN, 0, th, 4, outs));
    CHECK(seg_is(o[0], (const uint64_t[]){1, 1, 1, 1}, 4));
    CHECK(seg_is(o[1], (const uint64_t[]){1, 1, 2, 3}, 4));
    CHECK(seg_is(o[2], (const uint64_t[]){1, 1, 1, 2}, 4));
    CHECK(seg_is(o[3], (const uint64_t[]){1, 1, 2, 3}, 4));
    /* fragment 0 never merges and stays 0 */
    const uint64_t frag0[4] = {7, 0, 5, 9};
    CHECK_OK(agg(aff, frag0, sh, AX_MERGE_MEAN, 0, th, 1, outs));
    CHECK(seg_is(o[0], (const uint64_t[]){1, 0, 2, 2}, 4));
}

/* 1 x 2 x 3:   1 1 2
 *              3 3 2
 * (1,2): one x-edge 0.9; (3,2): one x-edge 0.1; (1,3): two y-edges 0.5, 0.5.
 * After 1+2 merge (score 0.1), the edge to 3 holds {0.5, 0.5, 0.1}:
 *   mean 0.3667 -> score 0.6333; max 0.5 -> 0.5; median: bin of 0.5 -> 0.502 -> 0.498 */
static void test_merge_functions(void)
{
    const int64_t sh[3] = {1, 2, 3};
    const uint64_t frag[6] = {1, 1, 2, 3, 3, 2};
    float aff[18] = {0};
    float *ay = aff + 6, *ax = aff + 12;
    ax[2] = 0.9f;
    ax[5] = 0.1f;
    ay[3] = 0.5f;
    ay[4] = 0.5f;
    ay[5] = 0.3f; /* 2 above 2: same fragment, ignored */
    uint64_t o[3][6], *outs[3] = {o[0], o[1], o[2]};
    const double th[3] = {0.2, 0.6, 0.65};
    const uint64_t two[6] = {1, 1, 1, 2, 2, 1}, one[6] = {1, 1, 1, 1, 1, 1};
    CHECK_OK(agg(aff, frag, sh, AX_MERGE_MEAN, 0, th, 3, outs));
    CHECK(seg_is(o[0], two, 6));
    CHECK(seg_is(o[1], two, 6));
    CHECK(seg_is(o[2], one, 6));
    CHECK_OK(agg(aff, frag, sh, AX_MERGE_MAX, 0, th, 3, outs));
    CHECK(seg_is(o[0], two, 6));
    CHECK(seg_is(o[1], one, 6));
    const double thq[3] = {0.2, 0.497, 0.499};
    CHECK_OK(agg(aff, frag, sh, AX_MERGE_QUANTILE, 0.5, thq, 3, outs));
    CHECK(seg_is(o[0], two, 6));
    CHECK(seg_is(o[1], two, 6));
    CHECK(seg_is(o[2], one, 6));
    /* quantile 0: the smallest value (0.1, bin 25 -> 0.1 score ~0.9) */
    const double th0[1] = {0.89};
    CHECK_OK(agg(aff, frag, sh, AX_MERGE_QUANTILE, 0.0, th0, 1, outs));
    CHECK(seg_is(o[0], two, 6));
}

static void test_bad_input(void)
{
    const int64_t sh[3] = {1, 1, 4};
    const uint64_t frag[4] = {1, 1, 2, 3};
    float aff[12] = {0};
    uint64_t o[4], *outs[1] = {o};
    const double th[1] = {0.5};
    aff[10] = NAN;
    CHECK_ERR(agg(aff, frag, sh, AX_MERGE_MEAN, 0, th, 1, outs), AX_E_INVALID, "NaN");
    aff[10] = -0.5f;
    CHECK_ERR(agg(aff, frag, sh, AX_MERGE_MEAN, 0, th, 1, outs), AX_E_INVALID, "outside [0, 1]");
    aff[10] = 0.5f;
    CHECK_ERR(agg(aff, frag, sh, AX_MERGE_MEAN, 0, th, 0, outs), AX_E_INVALID, "threshold");
    CHECK_ERR(agg(aff, frag, sh, AX_MERGE_QUANTILE, 1.5, th, 1, outs), AX_E_INVALID, "quantile");
    const double nan_th[1] = {NAN};
    CHECK_ERR(agg(aff, frag, sh, AX_MERGE_MEAN, 0, nan_th, 1, outs), AX_E_INVALID, "threshold");
    const uint64_t big[4] = {1, UINT64_MAX, 2, 3};
    CHECK_ERR(agg(aff, big, sh, AX_MERGE_MEAN, 0, th, 1, outs), AX_E_RANGE, "reserved");
}

/* ---- invariance ------------------------------------------------------------------- */

static int write_vol(const char *path, int ndim, const int64_t *shape, ax_dtype dt,
                     const void *data, int64_t chunk)
{
    ax_volume_create_params cp = ax_volume_create_params_default();
    cp.dtype = dt;
    cp.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        cp.shape[d] = shape[d];
        cp.chunks[d] = ndim == 4 && d == 0 ? shape[0] : chunk;
    }
    cp.overwrite = true;
    ax_volume *v;
    int rc = ax_volume_create(path, &cp, &v);
    if (rc < 0) return rc;
    int64_t s0[4] = {0, 0, 0, 0};
    rc = ax_volume_write_region(v, s0, shape, dt, data);
    int rc2 = ax_volume_close(v);
    return rc < 0 ? rc : rc2;
}

/* agglomerate aff/frag (shape sh) with several block shapes, threads and on disk and
 * compare with one whole-volume block; returns the reference outputs */
static void check_invariance(const float *aff, const uint64_t *frag, const int64_t sh[3], int mf,
                             const double *th, int nth, uint64_t **ref)
{
    size_t n = (size_t)(sh[0] * sh[1] * sh[2]);
    ax_agglomerate_params p = ax_agglomerate_params_default();
    p.merge_function = mf;
    p.quantile = 0.5;
    p.thresholds = th;
    p.n_thresholds = nth;
    memcpy(p.block, sh, sizeof p.block);
    CHECK_OK(ax_agglomerate(aff, frag, sh, &p, ref));
    uint64_t *o[8];
    for (int i = 0; i < nth; i++) o[i] = malloc(n * 8);
    const int64_t blocks[][3] = {{32, 32, 32}, {64, 64, 64}, {29, 37, 45}, {5, 9, 7}};
    for (size_t b = 0; b < 4; b++) {
        memcpy(p.block, blocks[b], sizeof p.block);
        CHECK_OK(ax_agglomerate(aff, frag, sh, &p, o));
        for (int i = 0; i < nth; i++) {
            bool same = !memcmp(o[i], ref[i], n * 8);
            if (!same)
                fprintf(stderr, "  merge %d block %lld,%lld,%lld threshold %g differs\n", mf,
                        (long long)blocks[b][0], (long long)blocks[b][1], (long long)blocks[b][2], th[i]);
            CHECK(same);
        }
    }
    int nt = ax_threads_get();
    ax_threads_set(1);
    p.block[0] = p.block[1] = p.block[2] = 16;
    CHECK_OK(ax_agglomerate(aff, frag, sh, &p, o));
    for (int i = 0; i < nth; i++) CHECK(!memcmp(o[i], ref[i], n * 8));
    ax_threads_set(nt);
    /* on disk: chunk 16, blocks aligned and not */
    char ap[600], fp[600], op[8][600];
    test_path(ap, sizeof ap, "agg_affs.zarr");
    test_path(fp, sizeof fp, "agg_frag.n5");
    const int64_t sh4[4] = {3, sh[0], sh[1], sh[2]};
    CHECK_OK(write_vol(ap, 4, sh4, AX_DTYPE_F32, aff, 16));
    CHECK_OK(write_vol(fp, 3, sh, AX_DTYPE_U64, frag, 16));
    const int64_t vblocks[][3] = {{32, 32, 32}, {13, 17, 19}};
    for (size_t b = 0; b < 2; b++) {
        ax_volume *av, *fv, *ov[8];
        CHECK_OK(ax_volume_open(ap, AX_OPEN_READ, &av));
        CHECK_OK(ax_volume_open(fp, AX_OPEN_READ, &fv));
        for (int i = 0; i < nth; i++) {
            char name[64];
            snprintf(name, sizeof name, "agg_out%d.zarr", i);
            test_path(op[i], sizeof op[i], name);
            ax_volume_create_params cp = ax_volume_create_params_default();
            cp.dtype = AX_DTYPE_U64;
            cp.ndim = 3;
            for (int d = 0; d < 3; d++) cp.shape[d] = sh[d], cp.chunks[d] = 16;
            cp.overwrite = true;
            CHECK_OK(ax_volume_create(op[i], &cp, &ov[i]));
        }
        memcpy(p.block, vblocks[b], sizeof p.block);
        CHECK_OK(ax_agglomerate_volume(av, fv, ov, &p));
        ax_volume_close(av);
        ax_volume_close(fv);
        for (int i = 0; i < nth; i++) {
            CHECK_OK(ax_volume_close(ov[i]));
            ax_volume *r;
            CHECK_OK(ax_volume_open(op[i], AX_OPEN_READ, &r));
            int64_t s0[3] = {0, 0, 0};
            CHECK_OK(ax_volume_read_region(r, s0, sh, AX_DTYPE_U64, o[i]));
            ax_volume_close(r);
            CHECK(!memcmp(o[i], ref[i], n * 8));
        }
    }
    for (int i = 0; i < nth; i++) free(o[i]);
}

static size_t count_ids(const uint64_t *s, size_t n)
{
    uint64_t mx = 0;
    for (size_t i = 0; i < n; i++) mx = s[i] > mx ? s[i] : mx;
    return (size_t)mx;
}

static void test_random_invariance(void)
{
    const int64_t sh[3] = {40, 70, 90};
    size_t n = (size_t)(sh[0] * sh[1] * sh[2]);
    unsigned long long seed = 7;
    float *aff = malloc(3 * n * sizeof *aff);
    uint64_t *frag = malloc(n * 8);
    /* fragments: a grid of 10^3 boxes with random ids (some 0); random affinities */
    for (int64_t z = 0; z < sh[0]; z++)
        for (int64_t y = 0; y < sh[1]; y++)
            for (int64_t x = 0; x < sh[2]; x++) {
                uint64_t cell = (uint64_t)((z / 10) * 100 + (y / 10) * 10 + x / 10);
                frag[(z * sh[1] + y) * sh[2] + x] = cell % 13 == 0 ? 0 : cell * 2654435761u + 5;
            }
    for (size_t i = 0; i < 3 * n; i++) aff[i] = (float)(test_rand(&seed) % 1001) / 1000.0f;
    const double th[3] = {0.3, 0.5, 0.52};
    uint64_t *ref[3];
    for (int i = 0; i < 3; i++) ref[i] = malloc(n * 8);
    for (int mf = 0; mf < 3; mf++) {
        check_invariance(aff, frag, sh, mf, th, 3, ref);
        if (mf == AX_MERGE_MEAN) CHECK(count_ids(ref[0], n) > count_ids(ref[2], n));
    }
    for (int i = 0; i < 3; i++) free(ref[i]);
    free(aff);
    free(frag);
}

/* gala: boundary probabilities -> affinities -> watershed -> agglomeration, every stage
 * block-wise equal to whole-volume */
static void test_gala(void)
{
    const char *d = getenv("AX_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/gala/train-p1.lzf.h5:stack", d && *d ? d : "../shared/data");
    ax_volume *v;
    if (ax_volume_open(path, AX_OPEN_READ, &v) < 0) {
        fprintf(stderr, "  skip: %s not found (set AX_DATA)\n", path);
        return;
    }
    const ax_volume_info *in = ax_volume_get_info(v);
    int64_t sh[3] = {in->shape[0], in->shape[1], in->shape[2]}, s0[3] = {0, 0, 0};
    size_t n = (size_t)(sh[0] * sh[1] * sh[2]);
    float *b = malloc(n * 4), *aff = malloc(3 * n * 4);
    CHECK_OK(ax_volume_read_region_as(v, s0, sh, AX_DTYPE_F32, b));
    ax_volume_close(v);
    CHECK_OK(ax_affinities_from_boundary(b, sh, AX_AFF_MIN, aff));
    uint64_t *frag = malloc(n * 8), *seg = malloc(n * 8);
    ax_watershed_params wp = ax_watershed_params_default();
    memcpy(wp.block, sh, sizeof wp.block);
    uint64_t nf = 0, n2 = 0;
    CHECK_OK(ax_watershed(aff, sh, &wp, frag, &nf));
    CHECK(nf > 50);
    const int64_t blocks[][3] = {{32, 32, 32}, {17, 29, 45}};
    for (int k = 0; k < 2; k++) {
        memcpy(wp.block, blocks[k], sizeof wp.block);
        CHECK_OK(ax_watershed(aff, sh, &wp, seg, &n2));
        CHECK(n2 == nf && !memcmp(seg, frag, n * 8));
    }
    const double th[3] = {0.1, 0.5, 0.9};
    uint64_t *ref[3];
    for (int i = 0; i < 3; i++) ref[i] = malloc(n * 8);
    check_invariance(aff, frag, sh, AX_MERGE_MEAN, th, 3, ref);
    CHECK(count_ids(ref[0], n) >= count_ids(ref[1], n) && count_ids(ref[1], n) > count_ids(ref[2], n));
    check_invariance(aff, frag, sh, AX_MERGE_QUANTILE, th, 3, ref);
    for (int i = 0; i < 3; i++) free(ref[i]);
    free(b);
    free(aff);
    free(frag);
    free(seg);
}

int main(void)
{
    RUN(test_line);
    RUN(test_merge_functions);
    RUN(test_bad_input);
    RUN(test_random_invariance);
    RUN(test_gala);
    return TEST_REPORT();
}
