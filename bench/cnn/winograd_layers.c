/* winograd_layers.c: the Winograd kernels against the direct ones on the 3x3x3 layers of the
 * reference 3-level U-Net (valid convs; L0c1 with its single input channel is left out):
 * the forward pass F(2x2, 3x3) (src/nn/winograd*.c, --pass f, the default) or the weight
 * gradient F(3x3, 2x2) (src/nn/winograd_wgrad*.c, --pass w). Reported as ms, "effective"
 * GFLOP/s (the direct convolution's 2 * co * ci * 27 * outputs FLOPs over the time, so the
 * two columns compare as speeds) and the ratio direct / Winograd time, plus the largest
 * difference between the two results relative to the result's magnitude.
 *
 * Build (from the repository root, after `make`):
 *   cc -O2 -Iinclude -Isrc -o build/winograd_layers bench/cnn/winograd_layers.c \
 *      build/libaxon.a $(pkg-config --libs jansson libzstd blosc libdeflate libtiff-4 \
 *      libpng zlib hdf5) -lm -pthread
 * Run:
 *   build/winograd_layers [--pass f|w] [--threads 1,2] [--reps 5] [--layers L1c2,L2c2]
 *                         [--cputime]
 * Each figure is the best of --reps runs after one warm-up (other processes share the
 * cores). --cputime: the process's CPU time divided by the thread count instead of the
 * wall clock (as in conv_layers.c).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/nn_int.h"
#include "nn/winograd.h"
#include "nn/winograd_wgrad.h"

typedef struct {
    const char *name;
    int64_t ci, co, d, h, w;
} layer;

static const layer layers[] = {
    {"L0c2", 12, 12, 30, 194, 194}, {"L1c1", 12, 36, 28, 96, 96},
    {"L1c2", 36, 36, 26, 94, 94},   {"L2c1", 36, 108, 24, 46, 46},
    {"L2c2", 108, 108, 22, 44, 44}, {"R1c1", 72, 36, 20, 84, 84},
    {"R1c2", 36, 36, 18, 82, 82},   {"R0c1", 24, 12, 16, 160, 160},
    {"R0c2", 12, 12, 14, 158, 158},
};
#define NLAYERS ((int)(sizeof layers / sizeof *layers))

static float *tensor(int64_t n, unsigned seed)
{
    float *p = ax__aligned_alloc((size_t)n * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    uint32_t x = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (float)(x >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

static bool cputime;

static double clock_now(int threads)
{
    if (!cputime) return ax_time_now();
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return ((double)t.tv_sec + 1e-9 * (double)t.tv_nsec) / threads;
}

static bool weight_pass; /* --pass w */

typedef struct {
    const ax__conv3d_shape *s;
    const float *in, *w, *bias, *dout;
    float *out, *dw, *dbias;
} bufs;

static void run(bool wino, const bufs *b)
{
    ax__conv3d_winograd = false; /* the library's own entry points, kept on their direct kernels */
    int rc;
    if (weight_pass)
        rc = wino ? ax__conv3d_backward_weight_winograd(b->s, b->in, b->dout, b->dw, b->dbias)
                  : ax__conv3d_backward_weight(b->s, b->in, b->dout, b->dw, b->dbias);
    else
        rc = wino ? ax__conv3d_forward_winograd(b->s, b->in, b->w, b->bias, b->out)
                  : ax__conv3d_forward(b->s, b->in, b->w, b->bias, b->out);
    if (rc) {
        fprintf(stderr, "%s: %s\n", wino ? "winograd" : "conv3d", ax_errmsg());
        exit(1);
    }
}

static double best_time(bool wino, const bufs *b, int reps, int threads)
{
    run(wino, b); /* warm-up */
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = clock_now(threads);
        run(wino, b);
        double t = clock_now(threads) - t0;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    int threads[8] = {1, 2}, nthreads = 2, reps = 5;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = 0;
            for (char *t = strtok(argv[++i], ","); t && nthreads < 8; t = strtok(NULL, ","))
                threads[nthreads++] = atoi(t);
        } else if (!strcmp(argv[i], "--pass") && i + 1 < argc) {
            weight_pass = argv[++i][0] == 'w';
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--layers") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--cputime")) {
            cputime = true;
        } else {
            fprintf(stderr, "usage: %s [--pass f|w] [--threads 1,2] [--reps N] [--layers L1c2,...] "
                    "[--cputime]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    printf("simd: %s; %s, best of %d; GF/s = direct-conv FLOPs / time\n", ax_simd_name(),
           weight_pass ? "weight gradient" : "forward pass", reps);
    printf("%-6s %-16s %7s", "layer", "shape", "GFLOP");
    for (int t = 0; t < nthreads; t++)
        printf(" | %dT direct ms  GF/s | %dT wino ms  GF/s  speedup", threads[t], threads[t]);
    printf(" | max rel err\n");
    double tot[8][2] = {{0}}, tot_flops = 0, worst_all = 0;
    for (int l = 0; l < NLAYERS; l++) {
        const layer *L = &layers[l];
        if (only && !strstr(only, L->name)) continue;
        ax__conv3d_shape s = {.ci = L->ci, .co = L->co, .kd = 3, .kh = 3, .kw = 3,
                              .id = L->d, .ih = L->h, .iw = L->w};
        if (ax__conv3d_shape_init(&s)) return 1;
        int64_t ni = s.ci * s.id * s.ih * s.iw, no = s.co * s.od * s.oh * s.ow;
        int64_t nw = s.co * s.ci * 27;
        double flops = 2.0 * (double)nw * (double)(s.od * s.oh * s.ow);
        /* the result compared: the output (forward) or dw (weight gradient, from zero) */
        int64_t nr = weight_pass ? nw : no;
        float *ref = ax__calloc((size_t)nr, sizeof *ref), *res = ax__calloc((size_t)nr, sizeof *res);
        bufs b = {&s, tensor(ni, 1), tensor(nw, 2), tensor(s.co, 3), tensor(no, 4), res, res,
                  ax__calloc((size_t)s.co, sizeof(float))};
        char shape[64];
        snprintf(shape, sizeof shape, "%lld>%lld %lldx%lldx%lld", (long long)s.ci,
                 (long long)s.co, (long long)s.id, (long long)s.ih, (long long)s.iw);
        printf("%-6s %-16s %7.2f", L->name, shape, flops * 1e-9);
        fflush(stdout);
        /* accuracy: Winograd against the direct result */
        b.out = b.dw = ref;
        run(false, &b);
        b.out = b.dw = res;
        run(true, &b);
        double mag = 1e-30, err = 0;
        for (int64_t i = 0; i < nr; i++) {
            mag = fmax(mag, fabs(ref[i]));
            double e = fabs((double)res[i] - ref[i]);
            if (!(e <= err)) err = e;
        }
        for (int t = 0; t < nthreads; t++) {
            ax_threads_set(threads[t]);
            double td = best_time(false, &b, reps, threads[t]);
            double tw = best_time(true, &b, reps, threads[t]);
            tot[t][0] += td, tot[t][1] += tw;
            printf(" | %9.1f %6.1f | %7.1f %6.1f %6.2fx", td * 1e3, flops / td * 1e-9, tw * 1e3,
                   flops / tw * 1e-9, td / tw);
            fflush(stdout);
        }
        printf(" | %.2g\n", err / mag);
        if (err / mag > worst_all) worst_all = err / mag;
        tot_flops += flops;
        free(ref), free(res), free(b.dbias);
        free((void *)b.in), free((void *)b.w), free((void *)b.bias), free((void *)b.dout);
    }
    printf("%-6s %-16s %7.2f", "total", "", tot_flops * 1e-9);
    for (int t = 0; t < nthreads; t++)
        printf(" | %9.1f %6.1f | %7.1f %6.1f %6.2fx", tot[t][0] * 1e3,
               tot_flops / tot[t][0] * 1e-9, tot[t][1] * 1e3, tot_flops / tot[t][1] * 1e-9,
               tot[t][0] / tot[t][1]);
    printf(" | %.2g\n", worst_all);
    return 0;
}
