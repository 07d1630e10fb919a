/* test_nn_conv3d_wgrad.c: the fast conv3d weight gradient against the double reference on
 * odd shapes (channels, kernels, padding, widths, tiny volumes), for both the AVX2 and the
 * generic path; += semantics, dbias NULL, interruption, and the same bits for 1, 2 and 3
 * threads. */
#include <math.h>

#include "test.h"
#include "nn/nn_int.h"

static unsigned long long seed = 42;

static float *rnd(int64_t n)
{
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p) exit(2);
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)((double)(test_rand(&seed) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    return p;
}

static float *copyf(const float *a, int64_t n)
{
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p) exit(2);
    memcpy(p, a, (size_t)n * sizeof *p);
    return p;
}

static float *absf(const float *a, int64_t n)
{
    float *p = copyf(a, n);
    for (int64_t i = 0; i < n; i++) p[i] = fabsf(p[i]);
    return p;
}

static bool init_shape(ax__conv3d_shape *s, int ci, int co, const int k[3], const int pad[3],
                       const int dim[3])
{
    *s = (ax__conv3d_shape){.ci = ci, .co = co, .kd = k[0], .kh = k[1], .kw = k[2],
                            .pd = pad[0], .ph = pad[1], .pw = pad[2],
                            .id = dim[0], .ih = dim[1], .iw = dim[2]};
    return ax__conv3d_shape_init(s) == AX_OK;
}

/* fast vs reference, both accumulating onto the same non-zero dw/dbias. Error bound:
 * 1e-4 of sum |terms| (the reference run on |in|, |dout|) plus rounding of the start. */
static int compare_ref(const ax__conv3d_shape *s)
{
    int64_t nin = s->ci * s->id * s->ih * s->iw, nout = s->co * s->od * s->oh * s->ow;
    int64_t nw = s->co * s->ci * s->kd * s->kh * s->kw;
    float *in = rnd(nin), *dout = rnd(nout), *w0 = rnd(nw), *b0 = rnd(s->co);
    float *dw = copyf(w0, nw), *db = copyf(b0, s->co), *rw = copyf(w0, nw),
          *rb = copyf(b0, s->co);
    float *ain = absf(in, nin), *aout = absf(dout, nout), *mw = calloc((size_t)nw, 4),
          *mb = calloc((size_t)s->co, 4);
    int bad = 0;
    CHECK_OK(ax__conv3d_backward_weight(s, in, dout, dw, db));
    ax__conv3d_backward_weight_ref(s, in, dout, rw, rb);
    ax__conv3d_backward_weight_ref(s, ain, aout, mw, mb);
    for (int64_t e = 0; e < nw; e++)
        if (!(fabsf(dw[e] - rw[e]) <= 1e-4f * mw[e] + 1e-6f * fabsf(w0[e]) + 1e-30f)) bad++;
    for (int64_t o = 0; o < s->co; o++)
        if (!(fabsf(db[o] - rb[o]) <= 1e-4f * mb[o] + 1e-6f * fabsf(b0[o]) + 1e-30f)) bad++;
    if (bad)
        fprintf(stderr, "  %d wrong: ci %lld co %lld k %lldx%lldx%lld pad %lld,%lld,%lld "
                        "in %lldx%lldx%lld (%s)\n",
                bad, (long long)s->ci, (long long)s->co, (long long)s->kd, (long long)s->kh,
                (long long)s->kw, (long long)s->pd, (long long)s->ph, (long long)s->pw,
                (long long)s->id, (long long)s->ih, (long long)s->iw, ax_simd_name());
    free(in), free(dout), free(w0), free(b0), free(dw), free(db), free(rw), free(rb);
    free(ain), free(aout), free(mw), free(mb);
    return bad;
}

/* the SIMD paths to run: generic always, avx2 where the CPU has it */
static int simd_paths(const char *names[2])
{
    int n = 0;
    names[n++] = "generic";
    if (ax_simd_set("avx2") == AX_OK) names[n++] = "avx2";
    ax_simd_set("auto");
    return n;
}

static void test_shapes(void)
{
    static const int kern[][3] = {{1, 1, 1}, {3, 3, 3}, {1, 3, 3}, {3, 1, 1}, {2, 2, 2}, {5, 5, 5}};
    static const int chans[][2] = {{1, 1}, {1, 12}, {2, 13}, {3, 5}, {5, 3}, {12, 2},
                                   {13, 1}, {12, 13}, {13, 12}, {2, 3}};
    /* widths around multiples of 8 and tiny ones; with k <= 5 every input fits k */
    static const int dims[][3] = {{5, 7, 9}, {6, 5, 13}, {7, 6, 17}, {5, 9, 5},
                                  {8, 5, 23}, {5, 6, 31}, {6, 5, 33}, {5, 5, 8}};
    const char *paths[2];
    int np = simd_paths(paths);
    for (int p = 0; p < np; p++) {
        CHECK_OK(ax_simd_set(paths[p]));
        int combo = 0;
        for (size_t k = 0; k < sizeof kern / sizeof kern[0]; k++)
            for (int padded = 0; padded < 2; padded++)
                for (size_t c = 0; c < sizeof chans / sizeof chans[0]; c++, combo++) {
                    const int *kk = kern[k];
                    int pad[3] = {padded * (kk[0] / 2), padded * (kk[1] / 2),
                                  padded * (kk[2] / 2)};
                    const int *dim = dims[combo % (sizeof dims / sizeof dims[0])];
                    ax__conv3d_shape s;
                    CHECK(init_shape(&s, chans[c][0], chans[c][1], kk, pad, dim));
                    CHECK(compare_ref(&s) == 0);
                }
        /* output of a single voxel; kernel as large as the input; asymmetric kernels */
        static const struct {
            int ci, co, k[3], pad[3], dim[3];
        } odd[] = {
            {3, 5, {3, 3, 3}, {0, 0, 0}, {3, 3, 3}},   {2, 2, {5, 5, 5}, {0, 0, 0}, {5, 5, 5}},
            {1, 1, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}},   {4, 3, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}},
            {5, 7, {2, 3, 4}, {1, 1, 2}, {4, 6, 11}},  {3, 4, {1, 1, 5}, {0, 0, 2}, {2, 3, 19}},
            {2, 3, {3, 3, 3}, {2, 2, 2}, {3, 4, 5}},   {6, 4, {1, 2, 1}, {0, 1, 0}, {3, 8, 8}},
        };
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
            ax__conv3d_shape s;
            CHECK(init_shape(&s, odd[i].ci, odd[i].co, odd[i].k, odd[i].pad, odd[i].dim));
            CHECK(compare_ref(&s) == 0);
        }
    }
    ax_simd_set("auto");
}

/* enough positions for several blocks per plane and several chunks; a row wider than a
 * block */
static void test_large(void)
{
    static const struct {
        int ci, co, k[3], pad[3], dim[3];
    } big[] = {
        {3, 5, {3, 3, 3}, {0, 0, 0}, {10, 70, 75}},
        {5, 13, {3, 3, 3}, {1, 1, 1}, {6, 41, 67}},
        {2, 3, {1, 3, 3}, {0, 1, 1}, {3, 4, 1700}},
    };
    const char *paths[2];
    int np = simd_paths(paths);
    for (int p = 0; p < np; p++) {
        CHECK_OK(ax_simd_set(paths[p]));
        for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
            ax__conv3d_shape s;
            CHECK(init_shape(&s, big[i].ci, big[i].co, big[i].k, big[i].pad, big[i].dim));
            CHECK(compare_ref(&s) == 0);
        }
    }
    ax_simd_set("auto");
}

/* dw and dbias bits for 1, 2, 3 threads; dw bits with dbias NULL */
static void test_threads(void)
{
    static const struct {
        int ci, co, k[3], pad[3], dim[3];
    } sh[] = {
        {5, 13, {3, 3, 3}, {1, 1, 1}, {12, 40, 37}},
        {2, 3, {3, 3, 3}, {0, 0, 0}, {34, 66, 66}}, /* the most chunks */
        {12, 3, {1, 1, 1}, {0, 0, 0}, {9, 50, 51}},
    };
    int before = ax_threads_get();
    const char *paths[2];
    int np = simd_paths(paths);
    for (int p = 0; p < np; p++) {
        CHECK_OK(ax_simd_set(paths[p]));
        for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
            ax__conv3d_shape s;
            CHECK(init_shape(&s, sh[i].ci, sh[i].co, sh[i].k, sh[i].pad, sh[i].dim));
            int64_t nin = s.ci * s.id * s.ih * s.iw, nout = s.co * s.od * s.oh * s.ow;
            int64_t nw = s.co * s.ci * s.kd * s.kh * s.kw;
            float *in = rnd(nin), *dout = rnd(nout), *w0 = rnd(nw), *b0 = rnd(s.co);
            float *w[3], *b[3], *wn = copyf(w0, nw);
            for (int t = 0; t < 3; t++) {
                w[t] = copyf(w0, nw);
                b[t] = copyf(b0, s.co);
                CHECK_OK(ax_threads_set(t + 1));
                CHECK_OK(ax__conv3d_backward_weight(&s, in, dout, w[t], b[t]));
                if (t) {
                    CHECK(!memcmp(w[t], w[0], (size_t)nw * sizeof(float)));
                    CHECK(!memcmp(b[t], b[0], (size_t)s.co * sizeof(float)));
                }
            }
            CHECK_OK(ax__conv3d_backward_weight(&s, in, dout, wn, NULL));
            CHECK(!memcmp(wn, w[0], (size_t)nw * sizeof(float)));
            for (int t = 0; t < 3; t++) free(w[t]), free(b[t]);
            free(in), free(dout), free(w0), free(b0), free(wn);
        }
    }
    ax_simd_set("auto");
    CHECK_OK(ax_threads_set(before));
}

/* += semantics: two calls add up to twice the gradient; an interrupted call leaves dw and
 * dbias alone */
static void test_accumulate(void)
{
    ax__conv3d_shape s;
    CHECK(init_shape(&s, 3, 4, (const int[3]){3, 3, 3}, (const int[3]){1, 1, 1},
                     (const int[3]){6, 11, 13}));
    int64_t nin = s.ci * s.id * s.ih * s.iw, nout = s.co * s.od * s.oh * s.ow;
    int64_t nw = s.co * s.ci * s.kd * s.kh * s.kw;
    float *in = rnd(nin), *dout = rnd(nout);
    float *w1 = calloc((size_t)nw, 4), *b1 = calloc((size_t)s.co, 4);
    float *w2 = calloc((size_t)nw, 4), *b2 = calloc((size_t)s.co, 4);
    CHECK_OK(ax__conv3d_backward_weight(&s, in, dout, w1, b1));
    CHECK_OK(ax__conv3d_backward_weight(&s, in, dout, w2, b2));
    CHECK_OK(ax__conv3d_backward_weight(&s, in, dout, w2, b2));
    int bad = 0;
    for (int64_t e = 0; e < nw; e++) bad += fabsf(w2[e] - 2 * w1[e]) > 1e-5f * fabsf(w1[e]);
    for (int64_t o = 0; o < s.co; o++) bad += fabsf(b2[o] - 2 * b1[o]) > 1e-5f * fabsf(b1[o]);
    CHECK(bad == 0);

    float *w3 = copyf(w2, nw), *b3 = copyf(b2, s.co);
    ax_interrupt();
    CHECK(ax__conv3d_backward_weight(&s, in, dout, w3, b3) == AX_E_INTERRUPTED);
    ax_interrupt_clear();
    CHECK(!memcmp(w3, w2, (size_t)nw * sizeof(float)));
    CHECK(!memcmp(b3, b2, (size_t)s.co * sizeof(float)));
    free(in), free(dout), free(w1), free(b1), free(w2), free(b2), free(w3), free(b3);
}

int main(void)
{
    /* ax__conv3d_backward_weight with Winograd where it applies, then the direct kernel */
    for (int wino = 1; wino >= 0; wino--) {
        ax__conv3d_winograd = wino;
        printf("-- Winograd %s\n", wino ? "allowed" : "off");
        RUN(test_shapes);
        RUN(test_large);
        RUN(test_threads);
        RUN(test_accumulate);
    }
    return TEST_REPORT();
}
