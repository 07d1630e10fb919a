/* test_eval.c: segmentation metrics (include/axon/eval.h).
 *
 * Hand-computed 4- and 5-voxel cases for VOI (bits) and the three adapted Rand errors;
 * a brute-force reference that counts voxel pairs one by one and takes entropies from
 * their definition H(X|Y) = H(X,Y) - H(Y), on random labels; labels >= 2^63 and the
 * ignore label 2^64-1; streaming (pieces, merges, clear) and thread counts giving
 * bit-identical results; volumes (zarr, h5) scored block-wise equal to the arrays; bad
 * inputs (empty, all ignored, shape mismatch, 4-d, fractional floats, negative labels).
 *
 * Conventions under test (eval.h): gt voxels with the ignore label (default 0) are left
 * out; seg 0 is an ordinary label for VOI, arand_seg0_label and arand_skimage, and a set
 * of singletons for arand (SNEMI3D/CREMI); arand and arand_seg0_label count pairs with
 * replacement (squares), arand_skimage pairs of distinct voxels.
 */
#include <math.h>

#include "test.h"

static bool near(double a, double b, double tol)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= tol * (1 + fabs(b));
}

static int score(const uint64_t *seg, const uint64_t *gt, size_t n, const ax_eval_params *p,
                 ax_eval_result *r)
{
    ax_contingency *c = NULL;
    int rc = ax_contingency_new(&c);
    if (rc == AX_OK) rc = ax_contingency_add(c, seg, gt, n);
    if (rc == AX_OK) rc = ax_contingency_score(c, p, r);
    ax_contingency_free(c);
    return rc;
}

/* every double of two results equal bit for bit, and the counts and lists too */
static bool same_result(const ax_eval_result *a, const ax_eval_result *b)
{
    const double da[] = {a->voi_split, a->voi_merge, a->arand, a->arand_precision,
                         a->arand_recall, a->arand_seg0_label, a->arand_skimage,
                         a->cremi_score};
    const double db[] = {b->voi_split, b->voi_merge, b->arand, b->arand_precision,
                         b->arand_recall, b->arand_seg0_label, b->arand_skimage,
                         b->cremi_score};
    if (memcmp(da, db, sizeof da)) return false;
    if (a->voxels_total != b->voxels_total || a->voxels_scored != b->voxels_scored ||
        a->voxels_ignored != b->voxels_ignored || a->voxels_seg0 != b->voxels_seg0 ||
        a->gt_labels != b->gt_labels || a->seg_labels != b->seg_labels || a->pairs != b->pairs)
        return false;
    if (a->n_worst_split != b->n_worst_split || a->n_worst_merge != b->n_worst_merge)
        return false;
    if (a->n_worst_split &&
        memcmp(a->worst_split, b->worst_split, sizeof *a->worst_split * (size_t)a->n_worst_split))
        return false;
    if (a->n_worst_merge &&
        memcmp(a->worst_merge, b->worst_merge, sizeof *a->worst_merge * (size_t)a->n_worst_merge))
        return false;
    return true;
}

#define N4 4
static void test_hand_cases(void)
{
    ax_eval_result r;
    ax_eval_params p = ax_eval_params_default();

    /* identical: everything 0 */
    uint64_t g1[N4] = {1, 1, 2, 2}, s1[N4] = {8, 8, 9, 9};
    CHECK_OK(score(s1, g1, N4, &p, &r));
    CHECK(r.voi_split == 0 && r.voi_merge == 0 && r.arand == 0 && r.arand_seg0_label == 0 &&
          r.arand_skimage == 0 && r.cremi_score == 0);
    CHECK(r.arand_precision == 1 && r.arand_recall == 1);
    CHECK(r.n_worst_split == 0 && r.n_worst_merge == 0); /* nothing split or merged */
    CHECK(r.voxels_scored == 4 && r.gt_labels == 2 && r.seg_labels == 2 && r.pairs == 2);
    ax_eval_result_clear(&r);

    /* full merge: H(gt|seg) = H(gt) = 1 bit. Squares: A = 8, B = 16, J = 8 -> 1/3.
     * Distinct pairs: A' = 4, B' = 12, J' = 4 -> P = 1, R = 1/3, error 1/2. */
    uint64_t s2[N4] = {5, 5, 5, 5};
    CHECK_OK(score(s2, g1, N4, &p, &r));
    CHECK(r.voi_split == 0 && near(r.voi_merge, 1.0, 1e-15));
    CHECK(near(r.arand, 1.0 / 3, 1e-15) && near(r.arand_seg0_label, 1.0 / 3, 1e-15));
    CHECK(near(r.arand_precision, 0.5, 1e-15) && r.arand_recall == 1);
    CHECK(near(r.arand_skimage, 0.5, 1e-15));
    CHECK(near(r.cremi_score, sqrt(1.0 / 3), 1e-15));
    CHECK(r.n_worst_merge == 1 && r.worst_merge[0].id == 5 && r.worst_merge[0].pieces == 2 &&
          r.worst_merge[0].size == 4 && near(r.worst_merge[0].bits, 1.0, 1e-15));
    ax_eval_result_clear(&r);

    /* split of one object into halves and quarters: H(seg|gt) = 0.5*1 + 2*0.25*2 = 1.5;
     * A = 16, B = 6, J = 6 -> 10/22 */
    uint64_t g3[N4] = {7, 7, 7, 7}, s3[N4] = {1, 1, 2, 3};
    CHECK_OK(score(s3, g3, N4, &p, &r));
    CHECK(near(r.voi_split, 1.5, 1e-15) && r.voi_merge == 0);
    CHECK(near(r.arand, 10.0 / 22, 1e-15) && near(r.arand_seg0_label, 10.0 / 22, 1e-15));
    /* distinct pairs: A' = 12, B' = 2, J' = 2 -> (14 - 4) / 14 */
    CHECK(near(r.arand_skimage, 10.0 / 14, 1e-15));
    CHECK(r.n_worst_split == 1 && r.worst_split[0].id == 7 && r.worst_split[0].pieces == 3 &&
          r.worst_split[0].size == 4 && near(r.worst_split[0].bits, 1.5, 1e-15));
    ax_eval_result_clear(&r);

    /* independent 2x2 partition: H = 1 bit each way; squares A = B = 8, J = 4 -> 1/2;
     * no distinct pair shares both labels -> 1 (skimage: NaN) */
    uint64_t s4[N4] = {1, 2, 1, 2};
    CHECK_OK(score(s4, g1, N4, &p, &r));
    CHECK(near(r.voi_split, 1, 1e-15) && near(r.voi_merge, 1, 1e-15));
    CHECK(near(r.arand, 0.5, 1e-15) && r.arand_skimage == 1.0);
    CHECK(near(r.cremi_score, 1.0, 1e-15));
    ax_eval_result_clear(&r);

    /* seg 0 as singletons: seg {0,0,3,3} on one gt object. arand: J = 4 + 2, B = 4 + 2,
     * A = 16 -> 10/22 (= the same seg with its zeros relabelled 10, 11); as a label:
     * J = 8, B = 8 -> 8/24; VOI treats 0 as a label: H(seg|gt) = 1 */
    uint64_t s5[N4] = {0, 0, 3, 3}, s5u[N4] = {10, 11, 3, 3};
    CHECK_OK(score(s5, g3, N4, &p, &r));
    CHECK(near(r.arand, 10.0 / 22, 1e-15) && near(r.arand_seg0_label, 8.0 / 24, 1e-15));
    CHECK(near(r.voi_split, 1.0, 1e-15) && r.voi_merge == 0 && r.voxels_seg0 == 2);
    ax_eval_result r2;
    CHECK_OK(score(s5u, g3, N4, &p, &r2));
    CHECK(r.arand == r2.arand_seg0_label && r2.arand == r2.arand_seg0_label);
    ax_eval_result_clear(&r);
    ax_eval_result_clear(&r2);

    /* the ignore label: gt 0 voxels leave; the rest is a perfect match */
    uint64_t g6[5] = {0, 0, 1, 1, 2}, s6[5] = {1, 2, 1, 1, 3};
    CHECK_OK(score(s6, g6, 5, &p, &r));
    CHECK(r.voi_split == 0 && r.voi_merge == 0 && r.arand == 0);
    CHECK(r.voxels_total == 5 && r.voxels_scored == 3 && r.voxels_ignored == 2);
    ax_eval_result_clear(&r);
    /* ... without it gt 0 is an object: H(seg|gt) = 2/5; H(gt|seg) = (3 log2 3 - 2) / 5 */
    p.ignore_gt = false;
    CHECK_OK(score(s6, g6, 5, &p, &r));
    CHECK(near(r.voi_split, 0.4, 1e-15) && near(r.voi_merge, (3 * log2(3) - 2) / 5, 1e-15));
    CHECK(r.voxels_ignored == 0 && r.gt_labels == 3);
    ax_eval_result_clear(&r);
    /* ... and another ignore label */
    p.ignore_gt = true;
    p.ignore_gt_label = 2;
    CHECK_OK(score(s6, g6, 5, &p, &r));
    CHECK(r.voxels_scored == 4 && r.gt_labels == 2);
    ax_eval_result_clear(&r);
}

/* ---- brute force from the definitions --------------------------------------------- */

static double entropy_of(const uint64_t *const *labs, int nl, size_t n)
{
    /* H of the joint of nl label arrays, by counting each distinct tuple (O(n^2)) */
    double h = 0;
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        size_t cnt = 0;
        for (size_t j = 0; j < n; j++) {
            bool same = true;
            for (int l = 0; l < nl; l++) same = same && labs[l][i] == labs[l][j];
            if (same) {
                if (j < i) first = false;
                cnt++;
            }
        }
        if (first) {
            double q = (double)cnt / (double)n;
            h -= q * log2(q);
        }
    }
    return h;
}

static void brute(const uint64_t *seg, const uint64_t *gt, size_t n, double *split,
                  double *merge, double *arand, double *arand_lab, double *arand_sk)
{
    const uint64_t *sg[2] = {seg, gt};
    double hj = entropy_of(sg, 2, n), hs = entropy_of(sg, 1, n), hg = entropy_of(sg + 1, 1, n);
    *split = hj - hg;
    *merge = hj - hs;
    /* ordered pairs (u, v), u == v included: with seg 0 singletons, u and v share a seg
     * object when u == v or their seg labels are equal and non-zero */
    double A = 0, B = 0, J = 0, Bl = 0, Jl = 0, A1 = 0, B1 = 0, J1 = 0;
    for (size_t u = 0; u < n; u++)
        for (size_t v = 0; v < n; v++) {
            bool g = gt[u] == gt[v], sl = seg[u] == seg[v], s = u == v || (sl && seg[u] != 0);
            A += g;
            B += s;
            J += g && s;
            Bl += sl;
            Jl += g && sl;
            if (u != v) {
                A1 += g;
                B1 += sl;
                J1 += g && sl;
            }
        }
    *arand = 1 - 2 * J / (A + B);
    *arand_lab = 1 - 2 * Jl / (A + Bl);
    *arand_sk = 1 - 2 * J1 / (A1 + B1);
}

static void test_brute_force(void)
{
    unsigned long long s = 11;
    enum { N = 400 };
    uint64_t seg[N], gt[N];
    for (int trial = 0; trial < 12; trial++) {
        int ks = 2 + trial % 5, kg = 2 + trial % 4;
        for (int i = 0; i < N; i++) {
            gt[i] = 1 + test_rand(&s) % (unsigned)kg;
            /* mostly a function of gt (a realistic segmentation) with noise and seg 0 */
            unsigned long long r = test_rand(&s) % 10;
            seg[i] = r < 6 ? gt[i] * 3 : r < 8 ? test_rand(&s) % (unsigned)ks : 0;
        }
        ax_eval_params p = ax_eval_params_default();
        p.ignore_gt = false; /* brute force has no ignore label */
        ax_eval_result r;
        CHECK_OK(score(seg, gt, N, &p, &r));
        double split, merge, ar, arl, ars;
        brute(seg, gt, N, &split, &merge, &ar, &arl, &ars);
        CHECK(near(r.voi_split, split, 1e-12) && near(r.voi_merge, merge, 1e-12));
        CHECK(near(r.arand, ar, 1e-12) && near(r.arand_seg0_label, arl, 1e-12));
        CHECK(near(r.arand_skimage, ars, 1e-12));
        CHECK(near(r.cremi_score, sqrt(ar * (split + merge)), 1e-12));
        ax_eval_result_clear(&r);
    }
}

/* the shares in the worst lists add up to the totals; the lists are ordered */
static void test_worst_lists(void)
{
    unsigned long long s = 5;
    enum { N = 20000 };
    uint64_t *seg = malloc(N * sizeof *seg), *gt = malloc(N * sizeof *gt);
    for (int i = 0; i < N; i++) {
        gt[i] = 1 + (uint64_t)i / 700;
        seg[i] = test_rand(&s) % 8 ? 1 + (uint64_t)i / 450 : test_rand(&s) % 40;
    }
    ax_eval_params p = ax_eval_params_default();
    p.worst = 1000000;
    ax_eval_result r;
    CHECK_OK(score(seg, gt, N, &p, &r));
    double ssum = 0, msum = 0;
    for (int k = 0; k < r.n_worst_split; k++) {
        ssum += r.worst_split[k].bits;
        CHECK(r.worst_split[k].pieces >= 2);
        if (k) CHECK(r.worst_split[k].bits <= r.worst_split[k - 1].bits);
    }
    for (int k = 0; k < r.n_worst_merge; k++) {
        msum += r.worst_merge[k].bits;
        if (k) CHECK(r.worst_merge[k].bits <= r.worst_merge[k - 1].bits);
    }
    CHECK(near(ssum, r.voi_split, 1e-12) && near(msum, r.voi_merge, 1e-12));
    CHECK((uint64_t)r.n_worst_split <= r.gt_labels && r.n_worst_split > 10);
    ax_eval_result r10;
    p.worst = 10;
    CHECK_OK(score(seg, gt, N, &p, &r10));
    CHECK(r10.n_worst_split == 10 && r10.n_worst_merge == 10);
    CHECK(!memcmp(r10.worst_split, r.worst_split, 10 * sizeof *r.worst_split));
    ax_eval_result_clear(&r10);
    p.worst = 0;
    CHECK_OK(score(seg, gt, N, &p, &r10));
    CHECK(r10.n_worst_split == 0 && !r10.worst_split && r10.voi_split == r.voi_split);
    ax_eval_result_clear(&r10);
    p.worst = -1;
    CHECK_ERR(score(seg, gt, N, &p, &r10), AX_E_INVALID, "worst");
    ax_eval_result_clear(&r);
    free(seg);
    free(gt);
}

/* labels are plain uint64 values: an order-preserving move above 2^63 changes nothing,
 * bit for bit; 2^64-1 works as an ignore label */
static void test_big_labels(void)
{
    unsigned long long s = 7;
    enum { N = 5000 };
    uint64_t seg[N], gt[N], segb[N], gtb[N];
    const uint64_t HI = 1ull << 63;
    for (int i = 0; i < N; i++) {
        gt[i] = (uint64_t)i / 300;
        seg[i] = test_rand(&s) % 5 ? (uint64_t)i / 170 : 0;
        segb[i] = seg[i] ? HI + seg[i] * 1000003 : 0; /* seg 0 stays 0 */
        gtb[i] = gt[i] ? HI + gt[i] : UINT64_MAX;     /* gt 0 becomes 2^64-1 */
    }
    ax_eval_result a, b;
    CHECK_OK(score(seg, gt, N, NULL, &a));
    ax_eval_params p = ax_eval_params_default();
    p.ignore_gt_label = UINT64_MAX;
    CHECK_OK(score(segb, gtb, N, &p, &b));
    const double da[] = {a.voi_split, a.voi_merge, a.arand, a.arand_seg0_label, a.arand_skimage};
    const double db[] = {b.voi_split, b.voi_merge, b.arand, b.arand_seg0_label, b.arand_skimage};
    CHECK(!memcmp(da, db, sizeof da));
    CHECK(a.voxels_ignored == 300 && b.voxels_ignored == 300);
    CHECK(b.n_worst_split > 0 && b.worst_split[0].id > HI);
    CHECK(b.n_worst_merge > 0 && (b.worst_merge[0].id > HI || b.worst_merge[0].id == 0));
    CHECK(a.n_worst_split == b.n_worst_split && b.worst_split[0].id == HI + a.worst_split[0].id);
    ax_eval_result_clear(&a);
    ax_eval_result_clear(&b);
    /* a non-monotonic relabelling (a permutation of ids) agrees to rounding */
    for (int i = 0; i < N; i++) segb[i] = seg[i] ? ~(seg[i] * 0x9E3779B97F4A7C15ull) : 0;
    CHECK_OK(score(seg, gt, N, NULL, &a));
    CHECK_OK(score(segb, gt, N, NULL, &b));
    CHECK(near(a.voi_split, b.voi_split, 1e-14) && near(a.voi_merge, b.voi_merge, 1e-14));
    CHECK(a.arand == b.arand && a.arand_skimage == b.arand_skimage);
    ax_eval_result_clear(&a);
    ax_eval_result_clear(&b);
}

static void random_labels(uint64_t *seg, uint64_t *gt, size_t n, unsigned long long seed)
{
    /* runs of labels like a real volume, plus scattered noise */
    unsigned long long s = seed;
    uint64_t cs = 0, cg = 0;
    for (size_t i = 0; i < n; i++) {
        if (test_rand(&s) % 50 == 0) cg = test_rand(&s) % 300;
        if (test_rand(&s) % 20 == 0) cs = test_rand(&s) % 2000;
        gt[i] = cg;
        seg[i] = test_rand(&s) % 100 ? cs : test_rand(&s) % 5000;
    }
}

/* adding in pieces, merging tables, clearing: the same result bit for bit */
static void test_streaming(void)
{
    enum { N = 300000 };
    uint64_t *seg = malloc(N * sizeof *seg), *gt = malloc(N * sizeof *gt);
    random_labels(seg, gt, N, 3);
    ax_eval_result whole, parts, merged;
    CHECK_OK(score(seg, gt, N, NULL, &whole));

    ax_contingency *c = NULL, *d = NULL, *e = NULL;
    CHECK_OK(ax_contingency_new(&c));
    CHECK_OK(ax_contingency_new(&d));
    CHECK_OK(ax_contingency_new(&e));
    /* pieces of odd sizes, in reverse order */
    size_t cuts[] = {0, 1, 17, 1000, 65537, 200001, N};
    int nc = (int)(sizeof cuts / sizeof *cuts);
    for (int k = nc - 2; k >= 0; k--)
        CHECK_OK(ax_contingency_add(c, seg + cuts[k], gt + cuts[k], cuts[k + 1] - cuts[k]));
    CHECK_OK(ax_contingency_add(c, seg, gt, 0)); /* empty add: nothing */
    CHECK(ax_contingency_voxels(c) == N);
    CHECK_OK(ax_contingency_score(c, NULL, &parts));
    CHECK(same_result(&whole, &parts));
    CHECK(ax_contingency_pairs(c) >= parts.pairs);

    /* two halves in two tables, merged */
    CHECK_OK(ax_contingency_add(d, seg, gt, N / 3));
    CHECK_OK(ax_contingency_add(e, seg + N / 3, gt + N / 3, N - N / 3));
    CHECK_OK(ax_contingency_merge(e, d));
    CHECK_OK(ax_contingency_score(e, NULL, &merged));
    CHECK(same_result(&whole, &merged));
    CHECK_ERR(ax_contingency_merge(e, e), AX_E_INVALID, "itself");

    /* clear, then reuse */
    ax_contingency_clear(c);
    CHECK(ax_contingency_voxels(c) == 0 && ax_contingency_pairs(c) == 0);
    ax_eval_result r;
    CHECK_ERR(ax_contingency_score(c, NULL, &r), AX_E_INVALID, "no voxels");
    CHECK_OK(ax_contingency_add(c, seg, gt, N));
    ax_eval_result again;
    CHECK_OK(ax_contingency_score(c, NULL, &again));
    CHECK(same_result(&whole, &again));

    ax_eval_result_clear(&whole);
    ax_eval_result_clear(&parts);
    ax_eval_result_clear(&merged);
    ax_eval_result_clear(&again);
    ax_eval_result_clear(&again); /* twice is fine */
    ax_contingency_free(c);
    ax_contingency_free(d);
    ax_contingency_free(e);
    ax_contingency_free(NULL);
    free(seg);
    free(gt);
}

/* ax_eval_arrays on 1, 2 and 3 threads: identical to the serial table */
static void test_threads(void)
{
    enum { N = 3 * (1 << 20) + 12345 };
    uint64_t *seg = malloc(N * sizeof *seg), *gt = malloc(N * sizeof *gt);
    random_labels(seg, gt, N, 9);
    ax_eval_result ref;
    CHECK_OK(score(seg, gt, N, NULL, &ref));
    int before = ax_threads_get();
    for (int t = 1; t <= 3; t++) {
        CHECK_OK(ax_threads_set(t));
        ax_eval_result r;
        CHECK_OK(ax_eval_arrays(seg, gt, N, NULL, &r));
        CHECK(same_result(&ref, &r));
        ax_eval_result_clear(&r);
    }
    CHECK_OK(ax_threads_set(before));
    ax_eval_result_clear(&ref);
    free(seg);
    free(gt);
}

/* ---- volumes ---------------------------------------------------------------------- */

static int make_volume(const char *path, ax_dtype t, int nd, const int64_t *shape,
                       const int64_t *chunks, const void *data)
{
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = t;
    p.ndim = nd;
    memcpy(p.shape, shape, sizeof(int64_t) * (size_t)nd);
    memcpy(p.chunks, chunks, sizeof(int64_t) * (size_t)nd);
    p.overwrite = true;
    ax_volume *v;
    int rc = ax_volume_create(path, &p, &v);
    if (rc < 0) return rc;
    int64_t st[AX_MAX_DIMS] = {0};
    rc = ax_volume_write_region(v, st, shape, t, data);
    if (rc < 0) {
        ax_volume_abort(v);
        return rc;
    }
    return ax_volume_close(v);
}

static void test_volumes(void)
{
    /* odd shape; seg (uint32, zarr) and gt (uint64, h5) chunked differently */
    const int64_t shape[3] = {23, 41, 37}, cs[3] = {7, 16, 9}, cg[3] = {10, 10, 40};
    size_t n = 23 * 41 * 37;
    uint64_t *seg = malloc(n * sizeof *seg), *gt = malloc(n * sizeof *gt);
    uint32_t *seg32 = malloc(n * sizeof *seg32);
    random_labels(seg, gt, n, 21);
    for (size_t i = 0; i < n; i++) seg32[i] = (uint32_t)seg[i];
    char ps[600], pg[600];
    test_path(ps, sizeof ps, "eval_seg.zarr");
    test_path(pg, sizeof pg, "eval_gt.h5");
    char pgd[700];
    snprintf(pgd, sizeof pgd, "%s:labels/gt", pg);
    CHECK_OK(make_volume(ps, AX_DTYPE_U32, 3, shape, cs, seg32));
    CHECK_OK(make_volume(pgd, AX_DTYPE_U64, 3, shape, cg, gt));

    ax_eval_result ref;
    CHECK_OK(score(seg, gt, n, NULL, &ref));
    ax_volume *vs = NULL, *vg = NULL;
    CHECK_OK(ax_volume_open(ps, AX_OPEN_READ, &vs));
    CHECK_OK(ax_volume_open(pgd, AX_OPEN_READ, &vg));
    int before = ax_threads_get();
    for (int t = 1; t <= 2 && vs && vg; t++) {
        CHECK_OK(ax_threads_set(t));
        ax_eval_result r;
        CHECK_OK(ax_eval_volumes(vs, vg, NULL, &r));
        CHECK(same_result(&ref, &r));
        ax_eval_result_clear(&r);
    }
    CHECK_OK(ax_threads_set(before));

    /* shape mismatch names both files and both shapes */
    const int64_t shape2[3] = {23, 41, 36};
    char pm[600];
    test_path(pm, sizeof pm, "eval_small.zarr");
    CHECK_OK(make_volume(pm, AX_DTYPE_U64, 3, shape2, cg, gt));
    ax_volume *vm = NULL;
    CHECK_OK(ax_volume_open(pm, AX_OPEN_READ, &vm));
    ax_eval_result r;
    if (vm && vg) {
        CHECK_ERR(ax_eval_volumes(vm, vg, NULL, &r), AX_E_RANGE, "shape mismatch");
        CHECK(strstr(ax_errmsg(), "eval_small.zarr") && strstr(ax_errmsg(), "eval_gt.h5"));
        CHECK(strstr(ax_errmsg(), "23 x 41 x 36") && strstr(ax_errmsg(), "23 x 41 x 37"));
    }
    ax_volume_close(vm);

    /* 4-d: one channel is fine, two are not */
    const int64_t shape4[4] = {1, 23, 41, 37}, c4[4] = {1, 8, 8, 8};
    char p4[600];
    test_path(p4, sizeof p4, "eval_c1.zarr");
    CHECK_OK(make_volume(p4, AX_DTYPE_U64, 4, shape4, c4, seg));
    CHECK_OK(ax_volume_open(p4, AX_OPEN_READ, &vm));
    if (vm && vg) {
        CHECK_OK(ax_eval_volumes(vm, vg, NULL, &r));
        CHECK(same_result(&ref, &r));
        ax_eval_result_clear(&r);
    }
    ax_volume_close(vm);
    const int64_t shape4b[4] = {2, 5, 6, 7};
    test_path(p4, sizeof p4, "eval_c2.zarr");
    CHECK_OK(make_volume(p4, AX_DTYPE_U64, 4, shape4b, c4, seg));
    CHECK_OK(ax_volume_open(p4, AX_OPEN_READ, &vm));
    if (vm && vg) CHECK_ERR(ax_eval_volumes(vm, vg, NULL, &r), AX_E_RANGE, "3-d labels");
    ax_volume_close(vm);

    /* float labels: whole numbers are read, a fractional one is an error naming the file */
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = (float)seg32[i];
    char pf[600];
    test_path(pf, sizeof pf, "eval_float.zarr");
    CHECK_OK(make_volume(pf, AX_DTYPE_F32, 3, shape, cs, f));
    CHECK_OK(ax_volume_open(pf, AX_OPEN_READ, &vm));
    if (vm && vg) {
        CHECK_OK(ax_eval_volumes(vm, vg, NULL, &r));
        CHECK(same_result(&ref, &r));
        ax_eval_result_clear(&r);
    }
    ax_volume_close(vm);
    f[n / 2] = 2.5f;
    CHECK_OK(make_volume(pf, AX_DTYPE_F32, 3, shape, cs, f));
    CHECK_OK(ax_volume_open(pf, AX_OPEN_READ, &vm));
    if (vm && vg) CHECK_ERR(ax_eval_volumes(vm, vg, NULL, &r), AX_E_RANGE, "eval_float.zarr");
    ax_volume_close(vm);
    free(f);

    /* negative int32 labels cannot be uint64 labels: an error, not a wrapped id */
    int32_t *neg = malloc(n * sizeof *neg);
    for (size_t i = 0; i < n; i++) neg[i] = (int32_t)seg32[i];
    neg[7] = -1;
    char pn[600];
    test_path(pn, sizeof pn, "eval_neg.zarr");
    CHECK_OK(make_volume(pn, AX_DTYPE_I32, 3, shape, cs, neg));
    CHECK_OK(ax_volume_open(pn, AX_OPEN_READ, &vm));
    if (vm && vg) CHECK_ERR(ax_eval_volumes(vm, vg, NULL, &r), AX_E_RANGE, "eval_neg.zarr");
    ax_volume_close(vm);
    free(neg);

    CHECK_ERR(ax_eval_volumes(NULL, vg, NULL, &r), AX_E_INVALID, "NULL");
    ax_volume_close(vs);
    ax_volume_close(vg);
    ax_eval_result_clear(&ref);
    free(seg);
    free(gt);
    free(seg32);
}

static void test_bad_inputs(void)
{
    ax_eval_result r;
    uint64_t z[3] = {0, 0, 0}, s[3] = {1, 2, 3};
    /* empty */
    CHECK_ERR(ax_eval_arrays(s, z, 0, NULL, &r), AX_E_INVALID, "no voxels");
    CHECK_ERR(score(s, z, 0, NULL, &r), AX_E_INVALID, "no voxels");
    /* every gt voxel ignored */
    CHECK_ERR(score(s, z, 3, NULL, &r), AX_E_INVALID, "nothing to score");
    CHECK(r.voxels_total == 3 && r.n_worst_split == 0 && !r.worst_split);
    ax_eval_params p = ax_eval_params_default();
    p.ignore_gt = false; /* then gt 0 is one object: everything split */
    CHECK_OK(score(s, z, 3, &p, &r));
    CHECK(near(r.voi_split, log2(3), 1e-15) && r.voi_merge == 0);
    /* every seg object a single voxel: skimage's precision is 0/0 -> NaN; arand is not */
    CHECK(isnan(r.arand_skimage) && near(r.arand, 1 - 2.0 * 3 / (9 + 3), 1e-15));
    ax_eval_result_clear(&r);
    /* NULLs */
    CHECK_ERR(ax_eval_arrays(NULL, z, 3, NULL, &r), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_eval_arrays(s, z, 3, NULL, NULL), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_contingency_add(NULL, s, z, 3), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_contingency_new(NULL), AX_E_INVALID, "NULL");
    CHECK_ERR(ax_contingency_score(NULL, NULL, &r), AX_E_INVALID, "NULL");
    ax_eval_result_clear(NULL);
}

/* ISBI section scores on a 1 x 4 section worked by hand: gt cells 1 1 | 2 (x=2 membrane) */
static void test_section_hand(void)
{
    const uint64_t gt[4] = {1, 1, 0, 2};
    ax_section_scores s;
    /* the prediction matches: nothing wrong */
    const float b1[4] = {0.1f, 0.2f, 0.9f, 0.1f};
    CHECK_OK(ax_eval_section(b1, gt, 1, 4, 0.5f, &s));
    CHECK(s.pixel_error == 0 && s.rand_error == 0 && s.info_error == 0 && s.cells == 2 && s.scored == 3);
    /* the border one pixel off: 2 of 4 pixels wrong, but after thinning the cells are right */
    const float b2[4] = {0.1f, 0.9f, 0.1f, 0.1f};
    CHECK_OK(ax_eval_section(b2, gt, 1, 4, 0.5f, &s));
    CHECK(s.pixel_error == 0.5 && s.rand_error == 0 && s.info_error == 0 && s.voi_split == 0);
    /* no border: one cell over both; scored x0,x1,x3: seg (1,1,1), gt (1,1,2):
     * V_rand = (4/9 + 1/9) / (0.5 * 1 + 0.5 * 5/9) = 5/7; I = 0 so V_info = 0;
     * VOI merge = H(2/3, 1/3); pixel error 1/4 */
    const float b3[4] = {0.1f, 0.1f, 0.1f, 0.1f};
    CHECK_OK(ax_eval_section(b3, gt, 1, 4, 0.5f, &s));
    double h = -(2.0 / 3) * log2(2.0 / 3) - (1.0 / 3) * log2(1.0 / 3);
    CHECK(s.pixel_error == 0.25 && near(s.rand_error, 2.0 / 7, 1e-15) && near(s.info_error, 1, 1e-15));
    CHECK(s.voi_split == 0 && near(s.voi_merge, h, 1e-15) && s.cells == 1);
    /* NaN is refused, naming the pixel */
    const float b4[4] = {0.1f, NAN, 0.1f, 0.1f};
    CHECK(ax_eval_section(b4, gt, 1, 4, 0.5f, &s) == AX_E_INVALID);
    CHECK(strstr(ax_errmsg(), "(y=0, x=1)") != NULL);
}

int main(void)
{
    RUN(test_section_hand);
    RUN(test_hand_cases);
    RUN(test_brute_force);
    RUN(test_worst_lists);
    RUN(test_big_labels);
    RUN(test_streaming);
    RUN(test_threads);
    RUN(test_volumes);
    RUN(test_bad_inputs);
    return TEST_REPORT();
}
