/* test_nn_winograd.c: the Winograd F(2x2, 3x3) conv3d forward prototype (src/nn/winograd*.c)
 * against the double-precision reference: channel counts around the 4-channel register
 * tile (1..37), kd 1 and 3, odd and even output sizes (partial tiles at the right and
 * bottom), widths 3..70 (runs of tiles around the 8-tile vectors), planes with several
 * tile blocks (blocks that end inside a tile row), many planes (the input transform of a
 * plane reused by the next output planes, tasks starting at every z % kd), on both the AVX2 and the generic path;
 * 1 vs 2 threads give the same bits; padding and other kernels are AX_E_UNSUPPORTED. */
#include <math.h>

#include "test.h"
#include "nn/nn_int.h"
#include "nn/winograd.h"

static unsigned long long seed = 4242;

static float *rand_tensor(int64_t n)
{
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p) abort();
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)((double)(test_rand(&seed) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    return p;
}

/* |a - ref| <= 1e-4 * max|ref| over the tensor: F(2, 3) rounds a little more than the
 * direct sums (the transforms scale and cancel), ~1e-6 in practice */
static bool close_to(const float *a, const float *ref, int64_t n, double *worst)
{
    double mag = 1e-30, err = 0;
    for (int64_t i = 0; i < n; i++) mag = fmax(mag, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]);
        if (!(e <= err)) err = e; /* also catches NaN */
    }
    *worst = err / mag;
    return err <= 1e-4 * mag;
}

static double worst_seen;

/* one shape: with and without bias against the reference, 1 vs 2 threads bit for bit */
static void run_case(int64_t ci, int64_t co, int64_t kd, int64_t id, int64_t ih, int64_t iw)
{
    ax__conv3d_shape s = {.ci = ci, .co = co, .kd = kd, .kh = 3, .kw = 3,
                          .id = id, .ih = ih, .iw = iw};
    CHECK_OK(ax__conv3d_shape_init(&s));
    int64_t ni = s.ci * s.id * s.ih * s.iw, no = s.co * s.od * s.oh * s.ow;
    float *in = rand_tensor(ni), *w = rand_tensor(s.co * s.ci * s.kd * 9);
    float *bias = rand_tensor(s.co);
    float *ref = malloc((size_t)no * sizeof *ref), *a = malloc((size_t)no * sizeof *a);
    float *b = malloc((size_t)no * sizeof *b);
    if (!ref || !a || !b) abort();
    for (int withb = 0; withb < 2; withb++) {
        const float *bb = withb ? bias : NULL;
        double worst;
        ax__conv3d_forward_ref(&s, in, w, bb, ref);
        memset(a, 0xff, (size_t)no * sizeof *a); /* NaN: every output must be written */
        CHECK_OK(ax_threads_set(1));
        CHECK_OK(ax__conv3d_forward_winograd(&s, in, w, bb, a));
        bool ok = close_to(a, ref, no, &worst);
        CHECK(ok);
        if (worst > worst_seen) worst_seen = worst;
        if (!ok)
            fprintf(stderr, "    %s ci %lld co %lld kd %lld in %lldx%lldx%lld bias %d: error "
                    "%.3g of the magnitude\n", ax_simd_name(), (long long)ci, (long long)co,
                    (long long)kd, (long long)id, (long long)ih, (long long)iw, withb, worst);
        CHECK_OK(ax_threads_set(2));
        memset(b, 0xff, (size_t)no * sizeof *b);
        CHECK_OK(ax__conv3d_forward_winograd(&s, in, w, bb, b));
        CHECK(!memcmp(a, b, (size_t)no * sizeof *a));
    }
    free(in), free(w), free(bias), free(ref), free(a), free(b);
}

static void test_shapes(void)
{
    static const int64_t chans[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 17, 24, 36, 37};
    static const int64_t widths[] = {3, 4, 5, 6, 9, 10, 11, 18, 19, 20, 21, 34, 35, 36,
                                     37, 50, 51, 66, 69, 70};
    int nc = (int)(sizeof chans / sizeof *chans), nw = (int)(sizeof widths / sizeof *widths);
    const char *paths[] = {"generic", "avx2"};
    for (int p = 0; p < 2; p++) {
        int rc = ax_simd_set(paths[p]);
        if (rc == AX_E_UNSUPPORTED) {
            fprintf(stderr, "    (no %s on this CPU: skipped)\n", paths[p]);
            continue;
        }
        CHECK_OK(rc);
        worst_seen = 0;
        int n = 0;
        /* every width with two kd and channel pairs cycling through their lists; heights
         * 3..8 (1..6 output rows, odd and even) */
        for (int i = 0; i < nw; i++)
            for (int kd = 1; kd <= 3; kd += 2, n++) {
                int64_t ci = chans[n % nc], co = chans[(n * 5 + 3) % nc];
                if (widths[i] > 30 && ci * co > 200) ci = ci > 5 ? 5 : ci;
                run_case(ci, co, kd, kd + n % 3, 3 + n % 6, widths[i]);
            }
        /* several tile blocks per plane, blocks ending inside tile rows, big K (a small
         * block) next to small K (large blocks), odd everything */
        run_case(3, 5, 3, 4, 40, 37);   /* 19 x 18 tiles, K 9: two blocks */
        run_case(2, 4, 1, 2, 61, 62);   /* 30 x 30 tiles, K 2: 4 blocks */
        run_case(37, 6, 3, 3, 15, 33);  /* K 111: 48-tile blocks */
        run_case(36, 12, 3, 3, 20, 20); /* K 108 */
        run_case(12, 36, 3, 4, 13, 14);
        run_case(13, 13, 1, 1, 30, 4);  /* 2 outputs wide: 1-tile runs */
        run_case(5, 3, 3, 3, 50, 3);    /* 1 output wide: single-column tiles */
        run_case(1, 1, 1, 1, 3, 3);     /* a single output */
        /* many output planes: tasks of 2 planes starting at every phase z % kd, the V of
         * an input plane reused by the next output planes; kd 2 and 1 */
        run_case(2, 5, 3, 22, 40, 36);
        run_case(4, 3, 2, 9, 12, 13);
        run_case(3, 4, 1, 12, 30, 30);
        fprintf(stderr, "    %s: worst error %.3g of the magnitude\n", paths[p], worst_seen);
    }
    CHECK_OK(ax_simd_set("auto"));
    CHECK_OK(ax_threads_set(0));
}

static void test_unsupported(void)
{
    float x[4096] = {0};
    ax__conv3d_shape s = {.ci = 1, .co = 1, .kd = 3, .kh = 3, .kw = 3,
                          .id = 5, .ih = 5, .iw = 5};
    CHECK_OK(ax__conv3d_shape_init(&s));
    CHECK_OK(ax__conv3d_forward_winograd(&s, x, x, NULL, x));
    ax__conv3d_shape bad = s;
    bad.ph = bad.pw = 1;
    CHECK_OK(ax__conv3d_shape_init(&bad));
    CHECK_ERR(ax__conv3d_forward_winograd(&bad, x, x, NULL, x), AX_E_UNSUPPORTED, "winograd");
    bad = s;
    bad.pd = 1;
    CHECK_OK(ax__conv3d_shape_init(&bad));
    CHECK_ERR(ax__conv3d_forward_winograd(&bad, x, x, NULL, x), AX_E_UNSUPPORTED, "winograd");
    int64_t kk[][3] = {{3, 5, 5}, {3, 1, 1}, {1, 3, 1}, {3, 3, 5}, {3, 2, 2}};
    for (size_t i = 0; i < sizeof kk / sizeof *kk; i++) {
        bad = s;
        bad.kd = kk[i][0], bad.kh = kk[i][1], bad.kw = kk[i][2];
        CHECK_OK(ax__conv3d_shape_init(&bad));
        CHECK_ERR(ax__conv3d_forward_winograd(&bad, x, x, NULL, x), AX_E_UNSUPPORTED,
                  "winograd");
    }
    /* invalid shapes are still AX_E_INVALID */
    bad = s;
    bad.ow = 2;
    CHECK_ERR(ax__conv3d_forward_winograd(&bad, x, x, NULL, x), AX_E_INVALID, "winograd");
    bad = s;
    bad.ci = 0;
    CHECK_ERR(ax__conv3d_forward_winograd(&bad, x, x, NULL, x), AX_E_INVALID, "bad shape");
    CHECK_ERR(ax__conv3d_forward_winograd(NULL, x, x, NULL, x), AX_E_INVALID, "winograd");
    CHECK_ERR(ax__conv3d_forward_winograd(&s, NULL, x, NULL, x), AX_E_INVALID, "missing");
}

int main(void)
{
    RUN(test_shapes);
    RUN(test_unsupported);
    return TEST_REPORT();
}
