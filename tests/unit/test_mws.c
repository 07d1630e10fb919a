/* test_mws.c: the mutex watershed. Hand-computed 1-d and 2-d chains where a repulsive
 * edge stops a merge; the tie-break (channel, then voxel raster order; attractive first);
 * strides; argument and NaN checks; agreement with a naive reference (sorted edge list,
 * cluster relabelling, a dense mutex matrix) on random graphs with long-range and
 * positive offsets, ties and strides; thread-count invariance; and the ground-truth
 * property: on affinities made by ax_affinities_from_labels from a label volume (with the
 * nearest offsets among the repulsive channels too) the result is exactly the partition
 * into 6-connected components of each label, every background voxel on its own; with
 * long-range-only repulsive channels it is a coarsening of that partition. The property
 * runs on a synthetic volume and, when present, on a crop of the FlyEM medulla
 * ground truth ($AX_DATA, default ../shared/data). Also the `axon mws` CLI against the
 * in-memory function. */
#include <libgen.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static const int64_t NEAREST[3][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}};

static bool seg_is(const uint64_t *seg, const uint64_t *want, int64_t n)
{
    bool ok = memcmp(seg, want, (size_t)n * sizeof *seg) == 0;
    if (!ok) {
        fprintf(stderr, "  got ");
        for (int64_t i = 0; i < n; i++) fprintf(stderr, "%llu ", (unsigned long long)seg[i]);
        fprintf(stderr, "\n  want");
        for (int64_t i = 0; i < n; i++) fprintf(stderr, " %llu", (unsigned long long)want[i]);
        fprintf(stderr, "\n");
    }
    return ok;
}

/* ---- hand-computed -------------------------------------------------------------------- */

static void test_chain_1d(void)
{
    /* voxels 0..4 in x. Channel 0 attractive (0,0,-1): x links x-1; channel 1 repulsive
     * (0,0,-2), weight 1 - aff. Order: a(0,1) .9 merge; r(0,2) .85 mutex {0,1}|{2};
     * a(1,2) .8 blocked; a(3,4) .7 merge; r(2,4) .5 mutex; a(2,3) .3 blocked. */
    const int64_t s[3] = {1, 1, 5};
    static const int64_t off[2][3] = {{0, 0, -1}, {0, 0, -2}};
    float aff[10] = {0, .9f, .8f, .3f, .7f, /**/ 0, 0, .15f, .9f, .5f};
    uint64_t seg[5], ns = 0;
    CHECK_OK(ax_mutex_watershed(aff, s, off, 2, 1, NULL, seg, &ns));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 2, 3, 3}, 5) && ns == 3);
    /* without the repulsive channel everything merges */
    CHECK_OK(ax_mutex_watershed(aff, s, off, 1, 1, NULL, seg, &ns));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 1, 1}, 5) && ns == 1);
    /* a weaker mutex (.75 < .8) comes too late to split 1 from 2 */
    aff[7] = .25f;
    CHECK_OK(ax_mutex_watershed(aff, s, off, 2, 1, NULL, seg, &ns));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 2, 2}, 5) && ns == 2);
    /* both channels attractive: one segment */
    CHECK_OK(ax_mutex_watershed(aff, s, off, 2, 2, NULL, seg, &ns));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 1, 1}, 5));
}

static void test_chain_2d(void)
{
    /* 1 x 2 x 3:  a b c     attractive x: a-b .9, b-c .2, d-e .8, e-f .85
     *             d e f     attractive y: a-d .1, b-e .3, c-f .7
     * repulsive (0,-1,-2) at f: f-a, aff .05 -> weight .95, first.
     * a|f mutex; a-b; e-f (mutex {a,b}|{e,f}); d-e; c-f; then b-e, b-c, a-d blocked. */
    const int64_t s[3] = {1, 2, 3};
    static const int64_t off[4][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}, {0, -1, -2}};
    float aff[24] = {
        /* z: no edges; whatever is stored (even NaN) is skipped */
        NAN, NAN, NAN, NAN, NAN, NAN,
        /* y */ NAN, NAN, NAN, .1f, .3f, .7f,
        /* x */ NAN, .9f, .2f, NAN, .8f, .85f,
        /* (0,-1,-2) */ NAN, NAN, NAN, NAN, NAN, .05f};
    uint64_t seg[6], ns = 0;
    CHECK_OK(ax_mutex_watershed(aff, s, off, 4, 3, NULL, seg, &ns));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 2, 2, 2, 2}, 6) && ns == 2);
    /* without the mutex, b-e (.3) joins everything */
    CHECK_OK(ax_mutex_watershed(aff, s, off, 3, 3, NULL, seg, &ns));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 1, 1, 1}, 6) && ns == 1);
}

static void test_ties(void)
{
    /* 1 x 1 x 3. Mutex 0|2 (weight .9) first; then two attractive edges of equal weight .5:
     * the one with the lower (channel, voxel) index goes first and the other is blocked. */
    const int64_t s[3] = {1, 1, 3};
    static const int64_t off1[2][3] = {{0, 0, -1}, {0, 0, -2}};
    float a1[6] = {0, .5f, .5f, /**/ 0, 0, .1f};
    uint64_t seg[3];
    CHECK_OK(ax_mutex_watershed(a1, s, off1, 2, 1, NULL, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 2}, 3)); /* voxel 1's edge (0-1) first */
    /* channel before voxel: channel 0 = (0,0,-1) at voxel 2 (link 2-1) goes before
     * channel 1 = (0,0,+1) at voxel 0 (link 0-1) */
    static const int64_t off2[3][3] = {{0, 0, -1}, {0, 0, 1}, {0, 0, -2}};
    float a2[9] = {0, 0, .5f, /**/ .5f, 0, 0, /**/ 0, 0, .1f};
    CHECK_OK(ax_mutex_watershed(a2, s, off2, 3, 2, NULL, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 2, 2}, 3));
    /* at equal weight attractive edges go before repulsive ones: all merge */
    float a3[6] = {0, .5f, .5f, /**/ 0, 0, .5f};
    CHECK_OK(ax_mutex_watershed(a3, s, off1, 2, 1, NULL, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1}, 3));
    /* -0 and +0 are one weight */
    float a4[6] = {0, -0.0f, 0.0f, /**/ 0, 0, 1.0f};
    CHECK_OK(ax_mutex_watershed(a4, s, off1, 2, 1, NULL, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1}, 3));
}

static void test_strides(void)
{
    /* x chain of 5, attractive .5 everywhere; repulsive (0,0,-2) strong (.9) at x = 3
     * only. Strides (1,1,2) keep repulsive edges at even x, so that mutex goes. */
    const int64_t s[3] = {1, 1, 5};
    static const int64_t off[2][3] = {{0, 0, -1}, {0, 0, -2}};
    float aff[10] = {0, .5f, .5f, .5f, .5f, /**/ 0, 0, .9f, .1f, .9f};
    uint64_t seg[5];
    CHECK_OK(ax_mutex_watershed(aff, s, off, 2, 1, NULL, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 2, 2}, 5));
    const int64_t st2[3] = {1, 1, 2}, st1[3] = {1, 1, 1}, st3[3] = {1, 1, 3};
    CHECK_OK(ax_mutex_watershed(aff, s, off, 2, 1, st1, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 2, 2}, 5));
    CHECK_OK(ax_mutex_watershed(aff, s, off, 2, 1, st2, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 1, 1}, 5));
    CHECK_OK(ax_mutex_watershed(aff, s, off, 2, 1, st3, seg, NULL)); /* x = 3 kept */
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 2, 2}, 5));
    /* the same along y, strides in y */
    const int64_t sy[3] = {1, 4, 1};
    static const int64_t offy[2][3] = {{0, -1, 0}, {0, -2, 0}};
    float ay[8] = {0, .5f, .5f, .5f, /**/ 0, 0, .9f, .1f};
    const int64_t sty[3] = {1, 2, 1};
    CHECK_OK(ax_mutex_watershed(ay, sy, offy, 2, 1, NULL, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 2}, 4));
    CHECK_OK(ax_mutex_watershed(ay, sy, offy, 2, 1, sty, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 1}, 4));
    /* strides never drop attractive edges */
    const int64_t big[3] = {5, 5, 5};
    CHECK_OK(ax_mutex_watershed(aff, s, off, 1, 1, big, seg, NULL));
    CHECK(seg_is(seg, (const uint64_t[]){1, 1, 1, 1, 1}, 5));
}

static void test_rejects(void)
{
    const int64_t s[3] = {1, 2, 3};
    float aff[12] = {0};
    uint64_t seg[6];
    static const int64_t off[2][3] = {{0, -1, 0}, {0, 0, -1}};
    CHECK_ERR(ax_mutex_watershed(aff, s, off, 0, 1, NULL, seg, NULL), AX_E_INVALID, "offsets");
    CHECK_ERR(ax_mutex_watershed(aff, s, off, 65, 1, NULL, seg, NULL), AX_E_INVALID, "offsets");
    CHECK_ERR(ax_mutex_watershed(aff, s, off, 2, 0, NULL, seg, NULL), AX_E_INVALID, "attractive");
    CHECK_ERR(ax_mutex_watershed(aff, s, off, 2, 3, NULL, seg, NULL), AX_E_INVALID, "attractive");
    const int64_t st[3] = {1, 0, 1};
    CHECK_ERR(ax_mutex_watershed(aff, s, off, 2, 1, st, seg, NULL), AX_E_INVALID, "strides");
    aff[6 + 5] = NAN; /* channel 1 at (0,1,2): in the volume */
    CHECK_ERR(ax_mutex_watershed(aff, s, off, 2, 1, NULL, seg, NULL), AX_E_INVALID,
              "channel 1, voxel (z=0, y=1, x=2) is NaN");
    aff[6 + 5] = 0;
    aff[6 + 3] = NAN; /* channel 1 at (0,1,0): the edge would leave the volume */
    CHECK_OK(ax_mutex_watershed(aff, s, off, 2, 1, NULL, seg, NULL));
    aff[6 + 3] = INFINITY; /* infinities are ordinary weights */
    aff[4] = -INFINITY;
    CHECK_OK(ax_mutex_watershed(aff, s, off, 2, 1, NULL, seg, NULL));
    const int64_t empty[3] = {0, 3, 3};
    uint64_t ns = 7;
    CHECK_OK(ax_mutex_watershed(NULL, empty, off, 2, 1, NULL, NULL, &ns));
    CHECK(ns == 0);
    const int64_t one[3] = {1, 1, 1};
    CHECK_OK(ax_mutex_watershed(aff, one, off, 2, 1, NULL, seg, &ns));
    CHECK(ns == 1 && seg[0] == 1);
}

/* ---- naive reference ------------------------------------------------------------------ */

typedef struct redge {
    float w;
    int c;
    int64_t p, q;
} redge;

static int redge_cmp(const void *a, const void *b)
{
    const redge *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    if (x->c != y->c) return x->c < y->c ? -1 : 1;
    return (x->p > y->p) - (x->p < y->p);
}

static void ref_mws(const float *aff, const int64_t s[3], const int64_t (*off)[3], int C,
                    int na, const int64_t *strides, uint64_t *seg)
{
    int64_t n = s[0] * s[1] * s[2], ne = 0;
    redge *e = malloc((size_t)(n * C) * sizeof *e);
    for (int c = 0; c < C; c++)
        for (int64_t z = 0; z < s[0]; z++)
            for (int64_t y = 0; y < s[1]; y++)
                for (int64_t x = 0; x < s[2]; x++) {
                    int64_t q[3] = {z + off[c][0], y + off[c][1], x + off[c][2]};
                    if (q[0] < 0 || q[0] >= s[0] || q[1] < 0 || q[1] >= s[1] || q[2] < 0 ||
                        q[2] >= s[2])
                        continue;
                    if (c >= na && strides &&
                        (z % strides[0] || y % strides[1] || x % strides[2]))
                        continue;
                    int64_t p = (z * s[1] + y) * s[2] + x;
                    float a = aff[c * n + p];
                    e[ne++] = (redge){c < na ? a : 1.0f - a, c, p,
                                      (q[0] * s[1] + q[1]) * s[2] + q[2]};
                }
    qsort(e, (size_t)ne, sizeof *e, redge_cmp);
    int64_t *cl = malloc((size_t)n * sizeof *cl);
    uint8_t *m = calloc((size_t)(n * n), 1);
    for (int64_t i = 0; i < n; i++) cl[i] = i;
    for (int64_t k = 0; k < ne; k++) {
        int64_t a = cl[e[k].p], b = cl[e[k].q];
        if (a == b || m[a * n + b]) continue;
        if (e[k].c >= na) {
            m[a * n + b] = m[b * n + a] = 1;
            continue;
        }
        for (int64_t i = 0; i < n; i++) {
            if (cl[i] == b) cl[i] = a;
            if (m[b * n + i]) {
                m[a * n + i] = m[i * n + a] = 1;
                m[b * n + i] = m[i * n + b] = 0;
            }
        }
    }
    int64_t *lab = calloc((size_t)n, sizeof *lab), next = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!lab[cl[i]]) lab[cl[i]] = ++next;
        seg[i] = (uint64_t)lab[cl[i]];
    }
    free(lab);
    free(m);
    free(cl);
    free(e);
}

static void test_random_vs_reference(void)
{
    unsigned long long seed = 2024;
    int trials = 0, mismatches = 0;
    for (int t = 0; t < 60; t++) {
        int64_t s[3] = {1 + (int64_t)(test_rand(&seed) % 4), 1 + (int64_t)(test_rand(&seed) % 7),
                        1 + (int64_t)(test_rand(&seed) % 9)};
        if (t >= 56) s[0] = 8, s[1] = 24, s[2] = 24; /* bigger: deeper radix levels */
        int64_t n = s[0] * s[1] * s[2];
        int C = 1 + (int)(test_rand(&seed) % 8), na = 1 + (int)(test_rand(&seed) % (unsigned)C);
        int64_t off[8][3];
        for (int c = 0; c < C; c++)
            for (int d = 0; d < 3; d++) {
                off[c][d] = (int64_t)(test_rand(&seed) % 7) - 3;
                if (c < 3 && c < na) off[c][d] = NEAREST[c][d];
            }
        int levels = t % 3 == 0 ? 4 : t % 3 == 1 ? 50 : 0; /* 0: continuous weights */
        float *aff = malloc((size_t)(n * C) * sizeof *aff);
        for (int64_t i = 0; i < n * C; i++)
            aff[i] = levels ? (float)(test_rand(&seed) % (unsigned)(levels + 1)) / (float)levels
                            : (float)(test_rand(&seed) >> 40) / (float)(1 << 24);
        int64_t strides[3] = {1 + (int64_t)(test_rand(&seed) % 2), 1 + (int64_t)(test_rand(&seed) % 3),
                              1 + (int64_t)(test_rand(&seed) % 3)};
        bool use_strides = t % 2;
        uint64_t *got = malloc((size_t)n * sizeof *got), *want = malloc((size_t)n * sizeof *want);
        uint64_t ns = 0;
        CHECK_OK(ax_mutex_watershed(aff, s, (const int64_t(*)[3])off, C, na,
                                    use_strides ? strides : NULL, got, &ns));
        ref_mws(aff, s, (const int64_t(*)[3])off, C, na, use_strides ? strides : NULL, want);
        uint64_t mx = 0;
        for (int64_t i = 0; i < n; i++) mx = want[i] > mx ? want[i] : mx;
        trials++;
        if (memcmp(got, want, (size_t)n * sizeof *got) || ns != mx) {
            mismatches++;
            fprintf(stderr, "  trial %d: shape %lldx%lldx%lld C=%d na=%d differs\n", t,
                    (long long)s[0], (long long)s[1], (long long)s[2], C, na);
        }
        free(aff);
        free(got);
        free(want);
    }
    CHECK(mismatches == 0);
    fprintf(stderr, "  %d random graphs match the reference\n", trials);
}

static void test_threads(void)
{
    const int64_t s[3] = {12, 40, 44};
    int64_t n = s[0] * s[1] * s[2];
    static const int64_t off[9][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}, {-2, 0, 0}, {0, -4, 0},
                                      {0, 0, -4}, {-4, 0, 0}, {0, -9, 0}, {0, 0, -9}};
    unsigned long long seed = 5;
    float *aff = malloc((size_t)(9 * n) * sizeof *aff);
    uint64_t *ref = malloc((size_t)n * sizeof *ref), *got = malloc((size_t)n * sizeof *got);
    int before = ax_threads_get();
    for (int ties = 0; ties < 2; ties++) {
        for (int64_t i = 0; i < 9 * n; i++)
            aff[i] = ties ? (float)(test_rand(&seed) % 8) / 7.0f
                          : (float)(test_rand(&seed) >> 40) / (float)(1 << 24);
        const int64_t st[3] = {1, 2, 2};
        ax_threads_set(1);
        uint64_t n1 = 0, n2 = 0;
        CHECK_OK(ax_mutex_watershed(aff, s, off, 9, 3, ties ? st : NULL, ref, &n1));
        for (int t = 2; t <= 4; t++) {
            ax_threads_set(t);
            CHECK_OK(ax_mutex_watershed(aff, s, off, 9, 3, ties ? st : NULL, got, &n2));
            CHECK(n1 == n2 && memcmp(ref, got, (size_t)n * sizeof *got) == 0);
        }
        CHECK(n1 > 1);
    }
    ax_threads_set(before);
    free(aff);
    free(ref);
    free(got);
}

/* ---- ground-truth property ------------------------------------------------------------- */

/* 6-connected components of each non-zero label; every 0 voxel is its own segment;
 * numbered 1.. in raster order of first voxel */
static uint64_t cc6(const uint64_t *lab, const int64_t s[3], uint64_t *out)
{
    int64_t n = s[0] * s[1] * s[2];
    int64_t *stack = malloc((size_t)n * sizeof *stack);
    memset(out, 0, (size_t)n * sizeof *out);
    uint64_t next = 0;
    for (int64_t i = 0; i < n; i++) {
        if (out[i]) continue;
        out[i] = ++next;
        if (!lab[i]) continue;
        int64_t top = 0;
        stack[top++] = i;
        while (top) {
            int64_t p = stack[--top];
            int64_t x = p % s[2], y = (p / s[2]) % s[1], z = p / (s[1] * s[2]);
            int64_t nb[6][3] = {{z - 1, y, x}, {z + 1, y, x}, {z, y - 1, x},
                                {z, y + 1, x}, {z, y, x - 1}, {z, y, x + 1}};
            for (int k = 0; k < 6; k++) {
                if (nb[k][0] < 0 || nb[k][0] >= s[0] || nb[k][1] < 0 || nb[k][1] >= s[1] ||
                    nb[k][2] < 0 || nb[k][2] >= s[2])
                    continue;
                int64_t q = (nb[k][0] * s[1] + nb[k][1]) * s[2] + nb[k][2];
                if (out[q] || lab[q] != lab[i]) continue;
                out[q] = next;
                stack[top++] = q;
            }
        }
    }
    free(stack);
    return next;
}

/* MWS on ground-truth affinities of `lab`: exact with the nearest offsets repulsive too,
 * a coarsening with long-range-only repulsive channels */
static void check_gt_property(const uint64_t *lab, const int64_t s[3], const char *what)
{
    int64_t n = s[0] * s[1] * s[2];
    static const int64_t off[12][3] = {
        {-1, 0, 0},  {0, -1, 0}, {0, 0, -1}, /* attractive */
        {-1, 0, 0},  {0, -1, 0}, {0, 0, -1}, /* repulsive, nearest */
        {-3, 0, 0},  {0, -3, 0}, {0, 0, -3}, {0, -9, 0}, {0, 0, -9}, {-2, -5, 5}};
    float *aff = malloc((size_t)(12 * n) * sizeof *aff);
    uint64_t *cc = malloc((size_t)n * sizeof *cc), *seg = malloc((size_t)n * sizeof *seg);
    uint64_t ncc = cc6(lab, s, cc), ns = 0;
    CHECK_OK(ax_affinities_from_labels(lab, s, off, 12, aff));
    CHECK_OK(ax_mutex_watershed(aff, s, off, 12, 3, NULL, seg, &ns));
    bool exact = ns == ncc && memcmp(seg, cc, (size_t)n * sizeof *seg) == 0;
    CHECK(exact);
    fprintf(stderr, "  %s: %llu components, mutex watershed %llu segments: %s\n", what,
            (unsigned long long)ncc, (unsigned long long)ns, exact ? "identical" : "DIFFERENT");

    /* channels 3..5 dropped: long-range-only repulsion; every component stays whole */
    static const int64_t off2[9][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}, {-3, 0, 0}, {0, -3, 0},
                                       {0, 0, -3}, {0, -9, 0}, {0, 0, -9}, {-2, -5, 5}};
    CHECK_OK(ax_affinities_from_labels(lab, s, off2, 9, aff));
    CHECK_OK(ax_mutex_watershed(aff, s, off2, 9, 3, NULL, seg, &ns));
    uint64_t *map = calloc((size_t)ncc + 1, sizeof *map);
    bool coarsening = true;
    for (int64_t i = 0; i < n; i++) {
        if (!map[cc[i]]) map[cc[i]] = seg[i];
        else if (map[cc[i]] != seg[i]) coarsening = false;
    }
    CHECK(coarsening && ns <= ncc);
    fprintf(stderr, "  %s, long-range repulsion only: %llu segments (a coarsening: %s)\n", what,
            (unsigned long long)ns, coarsening ? "yes" : "NO");
    /* and with strides on the repulsive channels it is still a coarsening */
    const int64_t st[3] = {1, 2, 2};
    CHECK_OK(ax_mutex_watershed(aff, s, off2, 9, 3, st, seg, &ns));
    memset(map, 0, ((size_t)ncc + 1) * sizeof *map);
    coarsening = true;
    for (int64_t i = 0; i < n; i++) {
        if (!map[cc[i]]) map[cc[i]] = seg[i];
        else if (map[cc[i]] != seg[i]) coarsening = false;
    }
    CHECK(coarsening);
    free(map);
    free(aff);
    free(cc);
    free(seg);
}

static void test_gt_synthetic(void)
{
    /* nearest-seed cells (anisotropic distance), some boundary voxels set to background */
    const int64_t s[3] = {10, 36, 40};
    int64_t n = s[0] * s[1] * s[2];
    unsigned long long seed = 77;
    int64_t seeds[40][3];
    for (int k = 0; k < 40; k++)
        for (int d = 0; d < 3; d++) seeds[k][d] = (int64_t)(test_rand(&seed) % (uint64_t)s[d]);
    uint64_t *lab = malloc((size_t)n * sizeof *lab);
    for (int64_t z = 0; z < s[0]; z++)
        for (int64_t y = 0; y < s[1]; y++)
            for (int64_t x = 0; x < s[2]; x++) {
                int64_t best = INT64_MAX, second = INT64_MAX;
                int bk = 0;
                for (int k = 0; k < 40; k++) {
                    int64_t dz = 3 * (z - seeds[k][0]), dy = y - seeds[k][1], dx = x - seeds[k][2];
                    int64_t d = dz * dz + dy * dy + dx * dx;
                    if (d < best) second = best, best = d, bk = k;
                    else if (d < second) second = d;
                }
                int64_t i = (z * s[1] + y) * s[2] + x;
                /* labels are not consecutive: ids 1000 + 7k; near-ties become background */
                lab[i] = second - best < 3 && test_rand(&seed) % 2 ? 0 : 1000 + 7 * (uint64_t)bk;
            }
    check_gt_property(lab, s, "synthetic 10x36x40");
    free(lab);
}

static void test_gt_medulla(void)
{
    const char *base = getenv("AX_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/flyem_medulla/medulla_z0-149.h5:gt_bodies",
             base && *base ? base : "../shared/data");
    ax_volume *v;
    if (ax_volume_open(path, AX_OPEN_READ, &v) != AX_OK) {
        fprintf(stderr, "  skip: %s not found\n", path);
        return;
    }
    const int64_t st[3] = {40, 60, 80}, s[3] = {20, 100, 100};
    int64_t n = s[0] * s[1] * s[2];
    uint64_t *lab = malloc((size_t)n * sizeof *lab);
    CHECK_OK(ax_volume_read_region_as(v, st, s, AX_DTYPE_U64, lab));
    ax_volume_close(v);
    check_gt_property(lab, s, "medulla gt_bodies 20x100x100");
    free(lab);
}

/* ---- CLI ------------------------------------------------------------------------------ */

static char g_axon[1024];

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli(void)
{
    if (access(g_axon, X_OK) != 0) {
        fprintf(stderr, "  skip: no axon binary at %s\n", g_axon);
        return;
    }
    const int64_t s[3] = {9, 21, 23};
    int64_t n = s[0] * s[1] * s[2];
    static const int64_t off[6][3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1},
                                      {-2, 0, 0}, {0, -5, 0}, {0, 0, -5}};
    unsigned long long seed = 3;
    float *aff = malloc((size_t)(6 * n) * sizeof *aff);
    for (int64_t i = 0; i < 6 * n; i++) aff[i] = (float)(test_rand(&seed) % 1000) / 999.0f;
    char ap[600], op[600], cmd[4096];
    test_path(ap, sizeof ap, "mws_affs.zarr");
    test_path(op, sizeof op, "mws_seg.zarr");
    ax_volume_create_params p = ax_volume_create_params_default();
    p.dtype = AX_DTYPE_F32;
    p.ndim = 4;
    p.shape[0] = 6;
    memcpy(p.shape + 1, s, sizeof s);
    p.chunks[0] = 6, p.chunks[1] = 4, p.chunks[2] = 8, p.chunks[3] = 8;
    p.has_voxel_size = true;
    p.voxel_size[0] = 30, p.voxel_size[1] = 4, p.voxel_size[2] = 4;
    ax_volume *v;
    int64_t z4[4] = {0, 0, 0, 0};
    CHECK_OK(ax_volume_create(ap, &p, &v));
    CHECK_OK(ax_volume_write_region(v, z4, p.shape, AX_DTYPE_F32, aff));
    CHECK_OK(ax_volume_close(v));

    uint64_t *want = malloc((size_t)n * sizeof *want), *got = malloc((size_t)n * sizeof *got);
    const int64_t strides[3] = {1, 2, 2};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd,
                 "%s --quiet mws %s %s --offsets '-1,0,0;0,-1,0;0,0,-1;-2,0,0;0,-5,0;0,0,-5' %s "
                 "--overwrite",
                 g_axon, ap, op, k ? "--attractive 3 --strides 1,2,2" : "");
        CHECK(sh(cmd) == 0);
        CHECK_OK(ax_mutex_watershed(aff, s, off, 6, 3, k ? strides : NULL, want, NULL));
        if (ax_volume_open(op, AX_OPEN_READ, &v) == AX_OK) {
            const ax_volume_info *i = ax_volume_get_info(v);
            CHECK(i->dtype == AX_DTYPE_U64 && i->ndim == 3 && i->shape[0] == s[0] &&
                  i->shape[2] == s[2] && i->voxel_size[0] == 30);
            CHECK_OK(ax_volume_read_region(v, z4, s, AX_DTYPE_U64, got));
            CHECK(memcmp(got, want, (size_t)n * sizeof *got) == 0);
            ax_volume_close(v);
        } else {
            CHECK(0);
        }
    }
    /* channel count must match the offsets; usage errors exit 2 */
    char log[600];
    test_path(log, sizeof log, "mws.log");
    snprintf(cmd, sizeof cmd, "%s mws %s %s --offsets '-1,0,0;0,-1,0;0,0,-1' --overwrite 2>%s",
             g_axon, ap, op, log);
    CHECK(sh(cmd) == 1);
    snprintf(cmd, sizeof cmd, "grep -q 'has 6 channels but --offsets lists 3' %s", log);
    CHECK(sh(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s mws %s %s 2>/dev/null", g_axon, ap, op);
    CHECK(sh(cmd) == 1); /* 6 channels: offsets required */
    snprintf(cmd, sizeof cmd, "%s mws %s %s --offsets '1,2' 2>/dev/null", g_axon, ap, op);
    CHECK(sh(cmd) == 2);
    snprintf(cmd, sizeof cmd, "%s mws %s %s --strides 1,0,1 2>/dev/null", g_axon, ap, op);
    CHECK(sh(cmd) == 2);
    free(aff);
    free(want);
    free(got);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *e = getenv("AXON");
    if (e && *e) snprintf(g_axon, sizeof g_axon, "%s", e);
    else { /* $BUILD/tests/test_mws -> $BUILD/axon */
        char self[900];
        snprintf(self, sizeof self, "%s", argv[0]);
        snprintf(g_axon, sizeof g_axon, "%s/../axon", dirname(self));
    }
    RUN(test_chain_1d);
    RUN(test_chain_2d);
    RUN(test_ties);
    RUN(test_strides);
    RUN(test_rejects);
    RUN(test_random_vs_reference);
    RUN(test_threads);
    RUN(test_gt_synthetic);
    RUN(test_gt_medulla);
    RUN(test_cli);
    return TEST_REPORT();
}
