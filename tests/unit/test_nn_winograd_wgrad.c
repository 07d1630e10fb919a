/* test_nn_winograd_wgrad.c: the Winograd F(3x3, 2x2) conv3d weight gradient
 * (src/nn/winograd_wgrad*.c) against the double-precision reference: channel counts around
 * the register tiles and the 8-channel vectors (1..37), kd 1, 2 and 3, odd and even output
 * sizes (zero-padded partial tiles), widths 3..70, padding 0 and 1 (also in z only / in
 * y, x only), several units and chunks (many planes, tall planes), on both the AVX2 and
 * the generic path; accumulation into non-zero dw and dbias (and dbias NULL); 1 vs 2
 * threads give the same bits; other kernels are AX_E_UNSUPPORTED. Tolerance: 1e-4 of the
 * sum of |terms| of each entry. */
#include <math.h>

#include "test.h"
#include "nn/nn_int.h"
#include "nn/winograd_wgrad.h"

static unsigned long long seed = 777;

static float *rand_tensor(int64_t n)
{
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p) abort();
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)((double)(test_rand(&seed) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    return p;
}

static float *abs_copy(const float *a, int64_t n)
{
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p) abort();
    for (int64_t i = 0; i < n; i++) p[i] = fabsf(a[i]);
    return p;
}

static double worst_seen;

static void run_case(int64_t ci, int64_t co, int64_t kd, int64_t id, int64_t ih, int64_t iw,
                     int64_t pd, int64_t phw)
{
    ax__conv3d_shape s = {.ci = ci, .co = co, .kd = kd, .kh = 3, .kw = 3, .pd = pd,
                          .ph = phw, .pw = phw, .id = id, .ih = ih, .iw = iw};
    CHECK_OK(ax__conv3d_shape_init(&s));
    int64_t ni = s.ci * s.id * s.ih * s.iw, no = s.co * s.od * s.oh * s.ow;
    int64_t nw = s.co * s.ci * s.kd * 9;
    float *in = rand_tensor(ni), *dout = rand_tensor(no), *dw0 = rand_tensor(nw);
    float *b0 = rand_tensor(co);
    float *ain = abs_copy(in, ni), *adout = abs_copy(dout, no);
    float *mag = calloc((size_t)nw, sizeof *mag), *ref = malloc((size_t)nw * sizeof *ref);
    float *a = malloc((size_t)nw * sizeof *a), *b = malloc((size_t)nw * sizeof *b);
    float *rb = malloc((size_t)co * sizeof *rb), *ab = malloc((size_t)co * sizeof *ab);
    float *bb = malloc((size_t)co * sizeof *bb);
    if (!mag || !ref || !a || !b || !rb || !ab || !bb) abort();
    ax__conv3d_backward_weight_ref(&s, ain, adout, mag, NULL); /* sum of |terms| */
    memcpy(ref, dw0, (size_t)nw * sizeof *ref);
    memcpy(rb, b0, (size_t)co * sizeof *rb);
    ax__conv3d_backward_weight_ref(&s, in, dout, ref, rb);
    for (int withb = 0; withb < 2; withb++) {
        memcpy(a, dw0, (size_t)nw * sizeof *a);
        memcpy(ab, b0, (size_t)co * sizeof *ab);
        CHECK_OK(ax_threads_set(1));
        CHECK_OK(ax__conv3d_backward_weight_winograd(&s, in, dout, a, withb ? ab : NULL));
        double worst = 0;
        bool ok = true;
        for (int64_t i = 0; i < nw; i++) {
            double e = fabs((double)a[i] - ref[i]) / (mag[i] + 1e-30);
            if (!(e <= 1e-4)) ok = false; /* also NaN */
            if (e > worst) worst = e;
        }
        CHECK(ok);
        if (worst > worst_seen) worst_seen = worst;
        if (withb) {
            bool bok = true;
            for (int64_t o = 0; o < co; o++)
                if (!(fabs((double)ab[o] - rb[o]) <= 1e-5 * (1 + (double)no / co))) bok = false;
            CHECK(bok);
        } else {
            CHECK(!memcmp(ab, b0, (size_t)co * sizeof *ab));
        }
        if (!ok)
            fprintf(stderr, "    %s ci %lld co %lld kd %lld in %lldx%lldx%lld pad %lld,%lld: "
                    "error %.3g of sum|terms|\n", ax_simd_name(), (long long)ci, (long long)co,
                    (long long)kd, (long long)id, (long long)ih, (long long)iw, (long long)pd,
                    (long long)phw, worst);
        CHECK_OK(ax_threads_set(2));
        memcpy(b, dw0, (size_t)nw * sizeof *b);
        memcpy(bb, b0, (size_t)co * sizeof *bb);
        CHECK_OK(ax__conv3d_backward_weight_winograd(&s, in, dout, b, withb ? bb : NULL));
        CHECK(!memcmp(a, b, (size_t)nw * sizeof *a));
        CHECK(!memcmp(ab, bb, (size_t)co * sizeof *ab));
    }
    free(in), free(dout), free(dw0), free(b0), free(ain), free(adout), free(mag), free(ref);
    free(a), free(b), free(rb), free(ab), free(bb);
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
        for (int i = 0; i < nw; i++)
            for (int kd = 1; kd <= 3; kd += 2, n++) {
                int64_t ci = chans[n % nc], co = chans[(n * 5 + 3) % nc];
                if (widths[i] > 30 && ci * co > 200) ci = ci > 5 ? 5 : ci;
                int64_t pad = n % 4 == 3; /* every 4th case padded by 1 */
                run_case(ci, co, kd, kd + n % 3, 3 + n % 6, widths[i], pad, pad);
            }
        /* every channel count on both sides of the tiles, padded and not */
        for (int i = 0; i < nc; i++)
            run_case(chans[i], chans[nc - 1 - i], 3, 4, 7, 8, i & 1, i & 1);
        run_case(3, 5, 3, 4, 40, 37, 0, 0);
        run_case(2, 4, 1, 2, 61, 62, 1, 1);
        run_case(37, 6, 3, 3, 15, 33, 0, 0);
        run_case(36, 12, 3, 3, 20, 20, 1, 1);
        run_case(12, 36, 3, 4, 13, 14, 0, 0);
        run_case(13, 13, 1, 1, 30, 4, 0, 0);
        run_case(5, 3, 3, 3, 50, 3, 0, 0);   /* 1 output wide */
        run_case(1, 1, 1, 1, 3, 3, 0, 0);    /* a single output */
        run_case(1, 1, 3, 1, 1, 1, 1, 1);    /* a single input, padded */
        run_case(4, 6, 3, 5, 6, 7, 1, 0);    /* padding in z only */
        run_case(6, 4, 3, 3, 6, 7, 0, 1);    /* in y, x only */
        run_case(3, 5, 2, 9, 12, 13, 0, 0);  /* kd 2 */
        /* many planes and tall planes: several units and chunks */
        run_case(2, 5, 3, 30, 20, 36, 0, 0);
        run_case(3, 4, 1, 40, 30, 30, 1, 1);
        run_case(9, 10, 3, 6, 140, 20, 0, 0);
        fprintf(stderr, "    %s: worst error %.3g of sum|terms|\n", paths[p], worst_seen);
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
    CHECK_OK(ax__conv3d_backward_weight_winograd(&s, x, x, x + 2048, NULL));
    int64_t kk[][3] = {{3, 5, 5}, {3, 1, 1}, {1, 3, 1}, {3, 3, 5}, {3, 2, 2}};
    for (size_t i = 0; i < sizeof kk / sizeof *kk; i++) {
        ax__conv3d_shape bad = s;
        bad.kd = kk[i][0], bad.kh = kk[i][1], bad.kw = kk[i][2];
        CHECK_OK(ax__conv3d_shape_init(&bad));
        CHECK_ERR(ax__conv3d_backward_weight_winograd(&bad, x, x, x + 2048, NULL),
                  AX_E_UNSUPPORTED, "winograd");
    }
    ax__conv3d_shape bad = s;
    bad.ow = 2;
    CHECK_ERR(ax__conv3d_backward_weight_winograd(&bad, x, x, x, NULL), AX_E_INVALID,
              "winograd");
    bad = s;
    bad.ci = 0;
    CHECK_ERR(ax__conv3d_backward_weight_winograd(&bad, x, x, x, NULL), AX_E_INVALID,
              "bad shape");
    CHECK_ERR(ax__conv3d_backward_weight_winograd(NULL, x, x, x, NULL), AX_E_INVALID,
              "winograd");
    CHECK_ERR(ax__conv3d_backward_weight_winograd(&s, NULL, x, x, NULL), AX_E_INVALID,
              "missing");
}

int main(void)
{
    RUN(test_shapes);
    RUN(test_unsupported);
    return TEST_REPORT();
}
