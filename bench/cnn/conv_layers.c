/* conv_layers.c: per-layer timing of axon's conv3d kernels (forward, backward-data,
 * backward-weight) on the conv layers of the reference 3-level U-Net (12/36/108 maps,
 * valid 3x3x3 convs, input 32x196x196), beside im2col + OpenBLAS sgemm for the same
 * layers, as ms, GFLOP/s and fraction of the measured AVX2 FMA peak (fma_peak.c).
 *
 * Build (from the repository root, after `make`; OpenBLAS is only for this program:
 * Debian libopenblas-dev):
 *   cc -O2 -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread \
 *      -o build/conv_layers bench/cnn/conv_layers.c build/libaxon.a \
 *      $(pkg-config --libs jansson libzstd blosc libdeflate libtiff-4 libpng zlib hdf5) \
 *      -lopenblas -lm -pthread
 * Run:
 *   build/conv_layers [--threads 1,2] [--reps 3] [--layers L0c1,L2c2] [--passes fdw]
 *                     [--no-blas] [--cputime]
 * --passes picks f(orward), d(ata gradient), w(eight gradient). Each figure is the best of
 * --reps runs after one warm-up (other processes share the cores); %pk is against the FMA
 * peak (fma_peak.c, over CPU time) measured just before the layer. --cputime times with the
 * process's CPU clock divided by the thread count instead of the wall clock: steady on a
 * busy machine, where other processes take turns on the cores. With 1 thread that is the
 * time the work ran; with N it is what N dedicated cores would take if the tasks were
 * spread perfectly (the wait for the last task is not counted: idle threads sleep). Build
 * without OpenBLAS by adding -DNO_BLAS and dropping -lopenblas.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

#ifndef NO_BLAS
#include <cblas.h>
#endif

#define FMA_PEAK_NO_MAIN
#include "fma_peak.c"

typedef struct {
    const char *name;
    int64_t ci, co, k, d, h, w;
} layer;

/* Ci -> Co, kernel k^3 valid, input D x H x W */
static const layer layers[] = {
    {"L0c1", 1, 12, 3, 32, 196, 196},  {"L0c2", 12, 12, 3, 30, 194, 194},
    {"L1c1", 12, 36, 3, 28, 96, 96},   {"L1c2", 36, 36, 3, 26, 94, 94},
    {"L2c1", 36, 108, 3, 24, 46, 46},  {"L2c2", 108, 108, 3, 22, 44, 44},
    {"R1c1", 72, 36, 3, 20, 84, 84},   {"R1c2", 36, 36, 3, 18, 82, 82},
    {"R0c1", 24, 12, 3, 16, 160, 160}, {"R0c2", 12, 12, 3, 14, 158, 158},
    {"out", 12, 3, 1, 12, 156, 156},
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

/* ---- im2col + sgemm, one output plane z at a time (a whole layer's columns would take
 * up to 1.3 GB); im2col / col2im are spread over the threads with axon's pool ---------- */
#ifndef NO_BLAS
typedef struct {
    const ax__conv3d_shape *s;
    const float *src;
    float *col;
    int64_t z;
} colctx;

/* col[(ci, a, b, c)][y * ow + x] = in[ci][z + a][y + b][x + c]: one row per task */
static int im2col_task(void *ctx, int64_t r, int thread)
{
    (void)thread;
    const colctx *c = ctx;
    const ax__conv3d_shape *s = c->s;
    int64_t k = s->kd * s->kh * s->kw, ci = r / k, t = r % k;
    int64_t a = t / (s->kh * s->kw), b = t / s->kw % s->kh, cc = t % s->kw;
    float *dst = c->col + r * s->oh * s->ow;
    for (int64_t y = 0; y < s->oh; y++)
        memcpy(dst + y * s->ow,
               c->src + ((ci * s->id + c->z + a) * s->ih + y + b) * s->iw + cc,
               (size_t)s->ow * sizeof *dst);
    return AX_OK;
}

/* din[ci][z + a][y + b][x + c] += col[(ci, a, b, c)][y * ow + x]: one channel per task */
static int col2im_task(void *ctx, int64_t ci, int thread)
{
    (void)thread;
    const colctx *c = ctx;
    const ax__conv3d_shape *s = c->s;
    int64_t k = s->kd * s->kh * s->kw;
    for (int64_t t = 0; t < k; t++) {
        int64_t a = t / (s->kh * s->kw), b = t / s->kw % s->kh, cc = t % s->kw;
        const float *src = c->col + (ci * k + t) * s->oh * s->ow;
        for (int64_t y = 0; y < s->oh; y++) {
            float *d = (float *)c->src + ((ci * s->id + c->z + a) * s->ih + y + b) * s->iw + cc;
            for (int64_t x = 0; x < s->ow; x++) d[x] += src[y * s->ow + x];
        }
    }
    return AX_OK;
}

/* out = bias + W x col, the bias broadcast first (beta = 1) as PyTorch's slow conv does */
static void gemm_forward(const ax__conv3d_shape *s, const float *in, const float *w,
                         const float *bias, float *out, float *col)
{
    int64_t K = s->ci * s->kd * s->kh * s->kw, P = s->oh * s->ow;
    for (int64_t z = 0; z < s->od; z++) {
        colctx c = {s, in, col, z};
        ax_parallel_for(K, im2col_task, &c);
        for (int64_t o = 0; o < s->co; o++)
            for (int64_t q = 0; q < P; q++) out[(o * s->od + z) * P + q] = bias[o];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->co, (int)P, (int)K,
                    1.0f, w, (int)K, col, (int)P, 1.0f, out + z * P, (int)(s->od * P));
    }
}

static void gemm_backward_data(const ax__conv3d_shape *s, const float *dout, const float *w,
                               float *din, float *col)
{
    int64_t K = s->ci * s->kd * s->kh * s->kw, P = s->oh * s->ow;
    memset(din, 0, (size_t)(s->ci * s->id * s->ih * s->iw) * sizeof *din);
    for (int64_t z = 0; z < s->od; z++) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)P, (int)s->co,
                    1.0f, w, (int)K, dout + z * P, (int)(s->od * P), 0.0f, col, (int)P);
        colctx c = {s, din, col, z};
        ax_parallel_for(s->ci, col2im_task, &c);
    }
}

static void gemm_backward_weight(const ax__conv3d_shape *s, const float *in,
                                 const float *dout, float *dw, float *col)
{
    int64_t K = s->ci * s->kd * s->kh * s->kw, P = s->oh * s->ow;
    for (int64_t z = 0; z < s->od; z++) {
        colctx c = {s, in, col, z};
        ax_parallel_for(K, im2col_task, &c);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->co, (int)K, (int)P,
                    1.0f, dout + z * P, (int)(s->od * P), col, (int)P, 1.0f, dw, (int)K);
    }
}
#endif

enum { P_FWD, P_DATA, P_WEIGHT, P_N };
static const char *pass_name[P_N] = {"forward", "backward-data", "backward-weight"};

typedef struct {
    const ax__conv3d_shape *s;
    float *in, *w, *bias, *out, *dout, *din, *dw, *dbias, *col;
} bufs;

static void run_pass(int pass, bool blas, const bufs *b)
{
    int rc = AX_OK;
    if (!blas) {
        if (pass == P_FWD) rc = ax__conv3d_forward(b->s, b->in, b->w, b->bias, b->out);
        if (pass == P_DATA) rc = ax__conv3d_backward_data(b->s, b->dout, b->w, b->din);
        if (pass == P_WEIGHT)
            rc = ax__conv3d_backward_weight(b->s, b->in, b->dout, b->dw, b->dbias);
        if (rc) {
            fprintf(stderr, "conv3d: %s\n", ax_errmsg());
            exit(1);
        }
        return;
    }
#ifndef NO_BLAS
    if (pass == P_FWD) gemm_forward(b->s, b->in, b->w, b->bias, b->out, b->col);
    if (pass == P_DATA) gemm_backward_data(b->s, b->dout, b->w, b->din, b->col);
    if (pass == P_WEIGHT) gemm_backward_weight(b->s, b->in, b->dout, b->dw, b->col);
#endif
}

static bool cputime;

/* seconds: wall clock, or with --cputime process CPU time per thread */
static double clock_now(int threads)
{
    if (!cputime) return ax_time_now();
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return ((double)t.tv_sec + 1e-9 * (double)t.tv_nsec) / threads;
}

/* the two implementations must agree (same result to ~1e-5 of its magnitude): run each
 * once from zeroed gradients and compare */
static void check_pass(int pass, const bufs *b)
{
    const ax__conv3d_shape *s = b->s;
    int64_t n = pass == P_FWD    ? s->co * s->od * s->oh * s->ow
                : pass == P_DATA ? s->ci * s->id * s->ih * s->iw
                                 : s->co * s->ci * s->kd * s->kh * s->kw;
    float *res = pass == P_FWD ? b->out : pass == P_DATA ? b->din : b->dw;
    float *mine = malloc((size_t)n * sizeof *mine);
    if (!mine) exit(1);
    memset(b->dw, 0, (size_t)(s->co * s->ci * s->kd * s->kh * s->kw) * sizeof *b->dw);
    memset(b->dbias, 0, (size_t)s->co * sizeof *b->dbias);
    run_pass(pass, false, b);
    memcpy(mine, res, (size_t)n * sizeof *mine);
    memset(b->dw, 0, (size_t)(s->co * s->ci * s->kd * s->kh * s->kw) * sizeof *b->dw);
    run_pass(pass, true, b);
    double mag = 1e-30, err = 0;
    for (int64_t i = 0; i < n; i++) {
        mag = fmax(mag, fabs(res[i]));
        err = fmax(err, fabs((double)res[i] - mine[i]));
    }
    if (!(err <= 1e-4 * mag))
        printf(" [MISMATCH axon vs im2col+sgemm: %.3g of the magnitude]", err / mag);
    free(mine);
}

static double best_time(int pass, bool blas, const bufs *b, int reps, int threads)
{
    run_pass(pass, blas, b); /* warm-up: page faults, caches, the thread pool */
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = clock_now(threads);
        run_pass(pass, blas, b);
        double t = clock_now(threads) - t0;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    /* AX_CONV_DIRECT=1: the direct kernels only (default: what the library dispatches to,
     * Winograd where it is faster) */
    if (getenv("AX_CONV_DIRECT") && *getenv("AX_CONV_DIRECT") == '1') ax__conv3d_winograd = false;
    int threads[8] = {1, 2}, nthreads = 2, reps = 3;
    bool want[P_N] = {true, true, true}, use_blas = true;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = 0;
            for (char *t = strtok(argv[++i], ","); t && nthreads < 8; t = strtok(NULL, ","))
                threads[nthreads++] = atoi(t);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--layers") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--passes") && i + 1 < argc) {
            const char *p = argv[++i];
            want[P_FWD] = strchr(p, 'f') != NULL;
            want[P_DATA] = strchr(p, 'd') != NULL;
            want[P_WEIGHT] = strchr(p, 'w') != NULL;
        } else if (!strcmp(argv[i], "--cputime")) {
            cputime = true;
        } else if (!strcmp(argv[i], "--no-blas")) {
            use_blas = false;
        } else {
            fprintf(stderr, "usage: %s [--threads 1,2] [--reps N] [--layers L0c1,...] "
                    "[--passes fdw] [--no-blas] [--cputime]\n", argv[0]);
            return 2;
        }
    }
#ifdef NO_BLAS
    use_blas = false;
#endif
    if (reps < 1) reps = 1;

    printf("simd: %s\n", ax_simd_name());
    /* the peak is measured again before each layer: the clock of a shared (virtual)
     * machine drifts by 20% and more over minutes, and %pk should compare like with like */
    double peak[8], peak_sum[8] = {0};
    int npeak = 0;
    for (int t = 0; t < nthreads; t++) {
        peak[t] = fma_peak_gflops(threads[t], 50000000, 5);
        printf("measured fp32 AVX2 FMA peak, %d thread(s): %.1f GFLOP/s (over CPU time)\n",
               threads[t], peak[t]);
    }
    double total_t[P_N][8][2] = {{{0}}};

    for (int p = 0; p < P_N; p++) {
        if (!want[p]) continue;
        printf("\n%s\n%-6s %-16s %9s", pass_name[p], "layer", "shape", "GFLOP");
        for (int t = 0; t < nthreads; t++)
            printf(" | %dT axon: ms GF/s %%pk", threads[t]);
        if (use_blas)
            for (int t = 0; t < nthreads; t++) printf(" | %dT im2col+sgemm: ms GF/s", threads[t]);
        printf("\n");
        double pass_flops = 0;
        for (int l = 0; l < NLAYERS; l++) {
            const layer *L = &layers[l];
            if (only && !strstr(only, L->name)) continue;
            ax__conv3d_shape s = {.ci = L->ci, .co = L->co, .kd = L->k, .kh = L->k,
                                  .kw = L->k, .id = L->d, .ih = L->h, .iw = L->w};
            if (ax__conv3d_shape_init(&s)) return 1;
            int64_t ni = s.ci * s.id * s.ih * s.iw, no = s.co * s.od * s.oh * s.ow;
            int64_t nw = s.co * s.ci * s.kd * s.kh * s.kw;
            double flops = 2.0 * (double)nw * (double)(s.od * s.oh * s.ow);
            bufs b = {.s = &s, .in = tensor(ni, 1), .w = tensor(nw, 2), .bias = tensor(s.co, 3),
                      .out = tensor(no, 4), .dout = tensor(no, 5), .din = tensor(ni, 6),
                      .dw = tensor(nw, 7), .dbias = tensor(s.co, 8)};
            if (use_blas) b.col = tensor(nw / s.co * s.oh * s.ow, 9);
            char shape[64];
            snprintf(shape, sizeof shape, "%lld>%lld %lldx%lldx%lld", (long long)s.ci,
                     (long long)s.co, (long long)s.id, (long long)s.ih, (long long)s.iw);
            printf("%-6s %-16s %9.3f", L->name, shape, flops * 1e-9);
            fflush(stdout);
            for (int t = 0; t < nthreads; t++) {
                peak[t] = fma_peak_gflops(threads[t], 20000000, 3);
                peak_sum[t] += peak[t];
            }
            npeak++;
            for (int t = 0; t < nthreads; t++) {
                ax_threads_set(threads[t]);
                double sec = best_time(p, false, &b, reps, threads[t]);
                total_t[p][t][0] += sec;
                printf(" | %8.2f %6.1f %3.0f%%", sec * 1e3, flops / sec * 1e-9,
                       100 * flops / sec * 1e-9 / peak[t]);
                fflush(stdout);
            }
#ifndef NO_BLAS
            if (use_blas) check_pass(p, &b);
            if (use_blas)
                for (int t = 0; t < nthreads; t++) {
                    ax_threads_set(threads[t]);
                    openblas_set_num_threads(threads[t]);
                    double sec = best_time(p, true, &b, reps, threads[t]);
                    total_t[p][t][1] += sec;
                    printf(" | %8.2f %6.1f", sec * 1e3, flops / sec * 1e-9);
                    fflush(stdout);
                }
#endif
            printf("\n");
            pass_flops += flops;
            free(b.in), free(b.w), free(b.bias), free(b.out), free(b.dout), free(b.din);
            free(b.dw), free(b.dbias), free(b.col);
        }
        printf("%-6s %-16s %9.3f", "total", "", pass_flops * 1e-9);
        for (int t = 0; t < nthreads; t++) /* % of the mean of the per-layer peaks */
            printf(" | %8.2f %6.1f %3.0f%%", total_t[p][t][0] * 1e3,
                   pass_flops / total_t[p][t][0] * 1e-9,
                   100 * pass_flops / total_t[p][t][0] * 1e-9 / (peak_sum[t] / npeak));
        if (use_blas)
            for (int t = 0; t < nthreads; t++)
                printf(" | %8.2f %6.1f", total_t[p][t][1] * 1e3,
                       pass_flops / total_t[p][t][1] * 1e-9);
        printf("\n");
        for (int t = 0; t < nthreads; t++) {
            printf("  (%dT FMA peak over this pass: %.1f GFLOP/s mean)\n", threads[t],
                   peak_sum[t] / npeak);
            total_t[p][t][0] = total_t[p][t][1] = peak_sum[t] = 0;
        }
        npeak = 0;
    }
    return 0;
}
