/* test_nn_conv3d.c: the fast conv3d forward and data gradient (src/nn/conv3d*.c) against
 * the double-precision reference on odd shapes (channel counts around the 4-channel tiles,
 * kernels 1..5, padding 0 and k/2, widths around the 8-float vectors and the x-blocks), on
 * both the AVX2 and the generic path; 1 vs 2 threads give the same bits; bad shapes fail. */
#include <math.h>

#include "test.h"
#include "nn/nn_int.h"

static unsigned long long seed = 12345;

static float *rand_tensor(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) abort();
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)((double)(test_rand(&seed) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    return p;
}

/* |a - ref| <= 1e-5 * max|ref| over the tensor (the float sums of up to ~2000 terms) */
static bool close_to(const float *a, const float *ref, int64_t n, double *worst)
{
    double mag = 1e-30, err = 0;
    for (int64_t i = 0; i < n; i++) mag = fmax(mag, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]);
        if (!(e <= err)) err = e; /* also catches NaN */
    }
    *worst = err / mag;
    return err <= 1e-5 * mag;
}

typedef struct {
    int64_t ci, co, k[3], p[3], in[3];
} conv_case;

/* run one case on the current SIMD path: forward and backward-data against the reference,
 * then 1 vs 2 threads bit for bit */
static void run_case(const conv_case *c)
{
    ax__conv3d_shape s = {.ci = c->ci, .co = c->co, .kd = c->k[0], .kh = c->k[1],
                          .kw = c->k[2], .pd = c->p[0], .ph = c->p[1], .pw = c->p[2],
                          .id = c->in[0], .ih = c->in[1], .iw = c->in[2]};
    CHECK_OK(ax__conv3d_shape_init(&s));
    int64_t ni = s.ci * s.id * s.ih * s.iw, no = s.co * s.od * s.oh * s.ow;
    float *in = rand_tensor(ni), *w = rand_tensor(s.co * s.ci * s.kd * s.kh * s.kw);
    float *bias = rand_tensor(s.co), *dout = rand_tensor(no);
    float *ref = malloc((size_t)(no > ni ? no : ni) * sizeof *ref);
    float *a = malloc((size_t)(no > ni ? no : ni) * sizeof *a);
    float *b = malloc((size_t)(no > ni ? no : ni) * sizeof *b);
    if (!ref || !a || !b) abort();
    double worst;
    bool ok;

    /* forward, with and without bias */
    for (int withb = 0; withb < 2; withb++) {
        const float *bb = withb ? bias : NULL;
        ax__conv3d_forward_ref(&s, in, w, bb, ref);
        memset(a, 0xff, (size_t)no * sizeof *a); /* NaN: every output must be written */
        CHECK_OK(ax_threads_set(1));
        CHECK_OK(ax__conv3d_forward(&s, in, w, bb, a));
        CHECK(ok = close_to(a, ref, no, &worst));
        CHECK_OK(ax_threads_set(2));
        memset(b, 0xff, (size_t)no * sizeof *b);
        CHECK_OK(ax__conv3d_forward(&s, in, w, bb, b));
        CHECK(!memcmp(a, b, (size_t)no * sizeof *a));
        if (!ok)
            fprintf(stderr, "    forward %s ci %lld co %lld k %lldx%lldx%lld p %lld,%lld,%lld "
                    "in %lldx%lldx%lld: error %.3g of the magnitude\n", ax_simd_name(),
                    (long long)s.ci, (long long)s.co, (long long)s.kd, (long long)s.kh,
                    (long long)s.kw, (long long)s.pd, (long long)s.ph, (long long)s.pw,
                    (long long)s.id, (long long)s.ih, (long long)s.iw, worst);
    }

    /* backward data */
    ax__conv3d_backward_data_ref(&s, dout, w, ref);
    memset(a, 0xff, (size_t)ni * sizeof *a);
    CHECK_OK(ax_threads_set(1));
    CHECK_OK(ax__conv3d_backward_data(&s, dout, w, a));
    CHECK(ok = close_to(a, ref, ni, &worst));
    CHECK_OK(ax_threads_set(2));
    memset(b, 0xff, (size_t)ni * sizeof *b);
    CHECK_OK(ax__conv3d_backward_data(&s, dout, w, b));
    CHECK(!memcmp(a, b, (size_t)ni * sizeof *a));
    if (!ok)
        fprintf(stderr, "    backward_data %s ci %lld co %lld k %lldx%lldx%lld p %lld,%lld,%lld "
                "in %lldx%lldx%lld: error %.3g of the magnitude\n", ax_simd_name(),
                (long long)s.ci, (long long)s.co, (long long)s.kd, (long long)s.kh,
                (long long)s.kw, (long long)s.pd, (long long)s.ph, (long long)s.pw,
                (long long)s.id, (long long)s.ih, (long long)s.iw, worst);
    free(in), free(w), free(bias), free(dout), free(ref), free(a), free(b);
}

static const int64_t kernels[][3] = {{1, 1, 1}, {3, 3, 3}, {1, 3, 3}, {3, 1, 1},
                                     {2, 2, 2}, {5, 5, 5}, {1, 1, 3}};
static const int64_t chans[] = {1, 2, 3, 5, 12, 13};

/* the cases: every kernel with padding 0 and k/2, channel pairs and widths cycling through
 * their lists (so each value meets several others), plus a few chosen for the blocking */
static int make_cases(conv_case *out, int max)
{
    int n = 0;
    int64_t widths[] = {1, 2, 3, 5, 7, 8, 9, 17, 23, 24, 25, 31, 33, 47, 49, 97, 100};
    int nw = (int)(sizeof widths / sizeof *widths), nc = (int)(sizeof chans / sizeof *chans);
    int iw = 0, ic = 0;
    for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++)
        for (int pad = 0; pad < 2; pad++)
            for (int rep = 0; rep < 4 && n < max; rep++) {
                conv_case c = {0};
                for (int d = 0; d < 3; d++) {
                    c.k[d] = kernels[k][d];
                    c.p[d] = pad ? kernels[k][d] / 2 : 0;
                }
                c.ci = chans[ic % nc];
                c.co = chans[(ic * 5 + 3) % nc];
                ic++;
                int64_t wdt = widths[iw++ % nw];
                bool big = kernels[k][0] == 5; /* keep the 5x5x5 cases small */
                c.in[0] = c.k[0] + (big ? 0 : rep % 3);
                c.in[1] = c.k[1] + (big ? 1 : 2 + rep);
                c.in[2] = wdt + c.k[2] - 1 - 2 * c.p[2]; /* output width wdt */
                if (c.in[2] < 1) c.in[2] = 1;
                if (wdt > 50) c.ci = c.ci > 3 ? 3 : c.ci; /* wide rows: fewer channels */
                out[n++] = c;
            }
    /* several ci blocks (37 channels > a 3x3x3 block), 4-row tasks with a partial last one
     * and zero padding gathered (8 x 17 outputs), padding larger than the kernel needs
     * (backward crops), a 1-channel 96-wide tile, co % 4 = 3 next to full tiles */
    conv_case extra[] = {
        {37, 6, {3, 3, 3}, {0, 0, 0}, {3, 4, 11}},
        {37, 5, {3, 3, 3}, {1, 1, 1}, {2, 3, 10}},
        {3, 5, {3, 3, 3}, {1, 1, 1}, {8, 17, 9}},
        {4, 3, {3, 3, 3}, {0, 0, 0}, {10, 19, 26}},
        {2, 3, {1, 3, 3}, {1, 2, 2}, {2, 3, 5}},
        {12, 1, {3, 3, 3}, {0, 0, 0}, {3, 3, 130}},
        {1, 12, {3, 3, 3}, {0, 0, 0}, {3, 3, 130}},
        {12, 7, {1, 1, 1}, {0, 0, 0}, {2, 3, 29}},
        {13, 15, {2, 3, 1}, {1, 0, 0}, {3, 5, 19}},
    };
    for (size_t e = 0; e < sizeof extra / sizeof *extra && n < max; e++) out[n++] = extra[e];
    return n;
}

static void test_paths(void)
{
    conv_case cases[128];
    int n = make_cases(cases, 128);
    const char *paths[] = {"generic", "avx2"};
    for (int p = 0; p < 2; p++) {
        int rc = ax_simd_set(paths[p]);
        if (rc == AX_E_UNSUPPORTED) {
            fprintf(stderr, "    (no %s on this CPU: skipped)\n", paths[p]);
            continue;
        }
        CHECK_OK(rc);
        for (int i = 0; i < n; i++) run_case(&cases[i]);
    }
    CHECK_OK(ax_simd_set("auto"));
    CHECK_OK(ax_threads_set(0));
}

/* a case large enough to have several tasks per thread and full tiles everywhere, where
 * the AVX2 and generic paths must agree closely too */
static void test_paths_agree(void)
{
    ax__conv3d_shape s = {.ci = 12, .co = 12, .kd = 3, .kh = 3, .kw = 3,
                          .id = 6, .ih = 20, .iw = 53};
    CHECK_OK(ax__conv3d_shape_init(&s));
    int64_t no = s.co * s.od * s.oh * s.ow;
    float *in = rand_tensor(s.ci * s.id * s.ih * s.iw), *w = rand_tensor(12 * 12 * 27);
    float *a = malloc((size_t)no * sizeof *a), *b = malloc((size_t)no * sizeof *b);
    if (!a || !b) abort();
    CHECK_OK(ax_simd_set("generic"));
    CHECK_OK(ax__conv3d_forward(&s, in, w, NULL, a));
    if (ax_simd_set("avx2") == AX_OK) {
        CHECK_OK(ax__conv3d_forward(&s, in, w, NULL, b));
        double worst;
        CHECK(close_to(b, a, no, &worst));
    }
    CHECK_OK(ax_simd_set("auto"));
    free(in), free(w), free(a), free(b);
}

static void test_invalid(void)
{
    float x[64] = {0};
    ax__conv3d_shape s = {.ci = 1, .co = 1, .kd = 3, .kh = 3, .kw = 3,
                          .id = 2, .ih = 3, .iw = 3};
    CHECK_ERR(ax__conv3d_shape_init(&s), AX_E_INVALID, "smaller than");
    CHECK_ERR(ax__conv3d_forward(&s, x, x, NULL, x), AX_E_INVALID, "conv3d");
    CHECK_ERR(ax__conv3d_backward_data(&s, x, x, x), AX_E_INVALID, "conv3d");
    s.id = 3;
    CHECK_OK(ax__conv3d_shape_init(&s));
    CHECK_OK(ax__conv3d_forward(&s, x, x, NULL, x));
    ax__conv3d_shape bad = s;
    bad.ci = 0;
    CHECK_ERR(ax__conv3d_forward(&bad, x, x, NULL, x), AX_E_INVALID, "bad shape");
    bad = s;
    bad.pw = -1;
    CHECK_ERR(ax__conv3d_backward_data(&bad, x, x, x), AX_E_INVALID, "bad shape");
    bad = s;
    bad.ow = 2; /* not the output shape of the rest */
    CHECK_ERR(ax__conv3d_forward(&bad, x, x, NULL, x), AX_E_INVALID, "output shape");
    CHECK_ERR(ax__conv3d_forward(NULL, x, x, NULL, x), AX_E_INVALID, "conv3d");
    CHECK_ERR(ax__conv3d_forward(&s, NULL, x, NULL, x), AX_E_INVALID, "missing");
    CHECK_ERR(ax__conv3d_backward_data(&s, x, x, NULL), AX_E_INVALID, "missing");
}

int main(void)
{
    /* ax__conv3d_forward with Winograd where it applies, then the direct kernel alone */
    for (int wino = 1; wino >= 0; wino--) {
        ax__conv3d_winograd = wino;
        printf("-- Winograd %s\n", wino ? "allowed" : "off");
        RUN(test_paths);
        RUN(test_paths_agree);
        RUN(test_invalid);
    }
    return TEST_REPORT();
}
