/* fma_peak.c: measured fp32 FMA peak of this machine with AVX2 (256-bit) FMAs, on 1 thread
 * and on N threads (default: the online CPUs), the yardstick for bench/cnn/conv_layers.c.
 *
 * Build and run (from the repository root):
 *   cc -O2 -pthread -o build/fma_peak bench/cnn/fma_peak.c && build/fma_peak [N]
 *
 * Each thread runs 12 independent dependency chains of vfmadd231ps ymm: enough for FMA
 * latency (4 cycles) x throughput (2 per cycle) on Zen 4/5 and recent Intel cores. The
 * best of several repeats is reported, over each thread's CPU time (what a core does while
 * it runs: steady when other processes share the cores) and over the wall clock. Only AVX2+FMA are
 * used, even where the CPU has AVX-512. conv_layers.c includes this file (FMA_PEAK_NO_MAIN)
 * to express its figures as a fraction of the same peak.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double fma_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    int64_t iters;
    float sink;
    double cpu; /* the thread's CPU seconds */
} fma_arg;

static double fma_cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* 12 accumulators x 8 lanes x 2 flops per iteration */
__attribute__((target("avx2,fma"))) static void *fma_loop(void *p)
{
    fma_arg *a = p;
    double t0 = fma_cpu_now();
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    /* distinct starting values, or the compiler merges identical chains */
    __m256 r0 = _mm256_set1_ps(1.0f), r1 = _mm256_set1_ps(1.1f), r2 = _mm256_set1_ps(1.2f);
    __m256 r3 = _mm256_set1_ps(1.3f), r4 = _mm256_set1_ps(1.4f), r5 = _mm256_set1_ps(1.5f);
    __m256 r6 = _mm256_set1_ps(1.6f), r7 = _mm256_set1_ps(1.7f), r8 = _mm256_set1_ps(1.8f);
    __m256 r9 = _mm256_set1_ps(1.9f), r10 = _mm256_set1_ps(2.0f), r11 = _mm256_set1_ps(2.1f);
    for (int64_t i = 0; i < a->iters; i++) {
        r0 = _mm256_fmadd_ps(r0, m, c);
        r1 = _mm256_fmadd_ps(r1, m, c);
        r2 = _mm256_fmadd_ps(r2, m, c);
        r3 = _mm256_fmadd_ps(r3, m, c);
        r4 = _mm256_fmadd_ps(r4, m, c);
        r5 = _mm256_fmadd_ps(r5, m, c);
        r6 = _mm256_fmadd_ps(r6, m, c);
        r7 = _mm256_fmadd_ps(r7, m, c);
        r8 = _mm256_fmadd_ps(r8, m, c);
        r9 = _mm256_fmadd_ps(r9, m, c);
        r10 = _mm256_fmadd_ps(r10, m, c);
        r11 = _mm256_fmadd_ps(r11, m, c);
        /* opaque to the optimiser: the 12 chains stay 12 chains in registers */
        __asm__("" : "+x"(r0), "+x"(r1), "+x"(r2), "+x"(r3), "+x"(r4), "+x"(r5));
        __asm__("" : "+x"(r6), "+x"(r7), "+x"(r8), "+x"(r9), "+x"(r10), "+x"(r11));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r0, r1), _mm256_add_ps(r2, r3)),
                             _mm256_add_ps(_mm256_add_ps(r4, r5), _mm256_add_ps(r6, r7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(r8, r9), _mm256_add_ps(r10, r11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    a->sink = out[0];
    a->cpu = fma_cpu_now() - t0;
    return NULL;
}

/* GFLOP/s of `threads` threads each running `iters` iterations, the best of `reps`. With
 * cpu_clock, the sum of each thread's rate over its own CPU time: what the threads reach
 * when they run, which other processes on a busy machine do not lower (they take turns
 * on the cores); otherwise over the wall clock. */
static double fma_peak_gflops_clock(int threads, int64_t iters, int reps, int cpu_clock)
{
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    pthread_t tid[256];
    fma_arg arg[256];
    if (threads > 256) threads = 256;
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = fma_now();
        for (int i = 1; i < threads; i++) {
            arg[i].iters = iters;
            pthread_create(&tid[i], NULL, fma_loop, &arg[i]);
        }
        arg[0].iters = iters;
        fma_loop(&arg[0]);
        for (int i = 1; i < threads; i++) pthread_join(tid[i], NULL);
        double g = (double)threads * (double)iters * 12 * 8 * 2 / (fma_now() - t0) * 1e-9;
        if (cpu_clock) {
            g = 0;
            for (int i = 0; i < threads; i++) g += (double)iters * 12 * 8 * 2 / arg[i].cpu * 1e-9;
        }
        if (g > best) best = g;
    }
    return best;
}

#ifdef FMA_PEAK_NO_MAIN
/* for conv_layers.c: over CPU time */
static double fma_peak_gflops(int threads, int64_t iters, int reps)
{
    return fma_peak_gflops_clock(threads, iters, reps, 1);
}
#else
int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "fma_peak: this CPU lacks AVX2+FMA\n");
        return 1;
    }
    int64_t iters = 200000000; /* ~1 s per thread at 4 GHz */
    for (int cpu = 1; cpu >= 0; cpu--) {
        const char *clk = cpu ? "per-thread CPU time" : "wall clock";
        double one = fma_peak_gflops_clock(1, iters / 2, 3, cpu);
        printf("fp32 AVX2 FMA peak, 1 thread:  %7.1f GFLOP/s (%s)\n", one, clk);
        if (n > 1) {
            double all = fma_peak_gflops_clock((int)n, iters / 2, 3, cpu);
            printf("fp32 AVX2 FMA peak, %ld threads: %7.1f GFLOP/s (%s, %.2f x 1 thread)\n", n,
                   all, clk, all / one);
        }
    }
    return 0;
}
#endif
