/* wgrad_layers.c: times ax__conv3d_backward_weight on the U-Net training layers.
 *
 * Build (after `make`, from the repository root):
 *   cc -std=c11 -O2 -Iinclude -Isrc -o build/wgrad_layers bench/cnn/wgrad_layers.c \
 *      build/libaxon.a $(pkg-config --libs jansson libzstd blosc libdeflate libtiff-4 \
 *      libpng zlib hdf5) -lm -pthread
 * Run: build/wgrad_layers [-s] [repeats] [layer index...]; prints min ms and GFLOP/s for 1
 * and 2 threads (AX_SIMD=generic times the portable path). The layers are those of the
 * reference U-Net training step (input 32x196x196); -s: the same net on a 24x100x100
 * training patch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/nn_int.h"

typedef struct {
    int ci, co, k, d, h, w; /* channels in/out, kernel, INPUT shape (valid conv) */
} layer;

static const layer big[] = {
    {1, 12, 3, 32, 196, 196},  {12, 12, 3, 30, 194, 194}, {12, 36, 3, 28, 96, 96},
    {36, 36, 3, 26, 94, 94},   {36, 108, 3, 24, 46, 46},  {108, 108, 3, 22, 44, 44},
    {72, 36, 3, 20, 84, 84},   {36, 36, 3, 18, 82, 82},   {24, 12, 3, 16, 160, 160},
    {12, 12, 3, 14, 158, 158}, {12, 3, 1, 12, 156, 156},
};
static const layer small[] = {
    {1, 12, 3, 24, 100, 100}, {12, 12, 3, 22, 98, 98}, {12, 36, 3, 20, 48, 48},
    {36, 36, 3, 18, 46, 46},  {36, 108, 3, 16, 22, 22}, {108, 108, 3, 14, 20, 20},
    {72, 36, 3, 12, 36, 36},  {36, 36, 3, 10, 34, 34}, {24, 12, 3, 8, 64, 64},
    {12, 12, 3, 6, 62, 62},   {12, 3, 1, 4, 60, 60},
};
enum { NL = sizeof big / sizeof big[0] };

static float *randbuf(int64_t n, unsigned seed)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) exit(2);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
    }
    return p;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* min wall time of reps calls; *cpu: min process CPU time (for one thread it excludes the
 * time other processes took the core, so it is the steadier figure on a shared machine) */
static double time_min(const ax__conv3d_shape *s, const float *in, const float *dout,
                       float *dw, float *db, int reps, double *cpu)
{
    double best = 1e30;
    *cpu = 1e30;
    for (int r = 0; r < reps; r++) {
        double c0 = cpu_now(), t0 = ax_time_now();
        if (ax__conv3d_backward_weight(s, in, dout, dw, db) != AX_OK) {
            fprintf(stderr, "error: %s\n", ax_errmsg());
            exit(1);
        }
        double t = ax_time_now() - t0, c = cpu_now() - c0;
        if (t < best) best = t;
        if (c < *cpu) *cpu = c;
    }
    return best;
}

int main(int argc, char **argv)
{
    const layer *layers = big;
    int a = 1;
    if (a < argc && !strcmp(argv[a], "-s")) layers = small, a++;
    int reps = a < argc ? atoi(argv[a++]) : 5;
    int pick[NL], np = 0;
    for (; a < argc && np < NL; a++)
        if (atoi(argv[a]) >= 0 && atoi(argv[a]) < NL) pick[np++] = atoi(argv[a]);
    if (!np)
        for (int l = 0; l < NL; l++) pick[np++] = l;
    printf("simd %s, min of %d; %%pk of 97.5 GFLOP/s per core; cpu: CPU time of 1T\n"
           "%-28s %9s %7s %5s %9s %7s %5s %9s\n",
           ax_simd_name(), reps, "layer", "ms(1T)", "GF/s", "%pk", "ms(2T)", "GF/s", "%pk",
           "cpu(1T)");
    double tot1 = 0, tot2 = 0, totc = 0;
    for (int q = 0; q < np; q++) {
        int l = pick[q];
        ax__conv3d_shape s = {.ci = layers[l].ci, .co = layers[l].co, .kd = layers[l].k,
                              .kh = layers[l].k, .kw = layers[l].k, .id = layers[l].d,
                              .ih = layers[l].h, .iw = layers[l].w};
        if (ax__conv3d_shape_init(&s) != AX_OK) return 1;
        int64_t nin = s.ci * s.id * s.ih * s.iw, nout = s.co * s.od * s.oh * s.ow;
        int64_t nw = s.co * s.ci * s.kd * s.kh * s.kw;
        float *in = randbuf(nin, 1), *dout = randbuf(nout, 2), *dw = calloc((size_t)nw, 4),
              *db = calloc((size_t)s.co, 4);
        double flop = 2.0 * (double)nw * (double)(s.od * s.oh * s.ow);
        double c1, c2;
        ax_threads_set(1);
        time_min(&s, in, dout, dw, db, 1, &c1); /* warm up: page faults, pool */
        double t1 = time_min(&s, in, dout, dw, db, reps, &c1);
        ax_threads_set(2);
        double t2 = time_min(&s, in, dout, dw, db, reps, &c2);
        char name[64];
        snprintf(name, sizeof name, "%d->%d k%d %dx%dx%d", s.ci > 0 ? (int)s.ci : 0,
                 (int)s.co, layers[l].k, layers[l].d, layers[l].h, layers[l].w);
        printf("%-28s %9.2f %7.1f %5.0f %9.2f %7.1f %5.0f %9.2f\n", name, t1 * 1e3,
               flop / t1 / 1e9, flop / t1 / 1e9 / 97.5 * 100, t2 * 1e3, flop / t2 / 1e9,
               flop / t2 / 1e9 / 195.0 * 100, c1 * 1e3);
        tot1 += t1;
        tot2 += t2;
        totc += c1;
        free(in);
        free(dout);
        free(dw);
        free(db);
    }
    printf("%-28s %9.2f %7s %5s %9.2f %7s %5s %9.2f\n", "total", tot1 * 1e3, "", "",
           tot2 * 1e3, "", "", totc * 1e3);
    return 0;
}
