/* bench_unet.c: axon's side of bench/cnn: the reference U-Net (12/36/108 feature maps,
 * 3x3x3 valid convs, (1,2,2) pooling, transposed-conv upsampling, 3 sigmoid outputs) on a
 * 1 x 32 x 196 x 196 input (output 3 x 12 x 156 x 156), timed for inference and for one
 * training step (forward, weighted BCE, backward, Adam), exactly what bench_torch.py
 * times in PyTorch. Public API only (axon/axon.h). Prints one JSON object per mode.
 *
 * Build and run (bench/cnn/run.sh does this):
 *   cc -O2 -Iinclude bench/cnn/bench_unet.c build/libaxon.a $(pkg-config --libs jansson \
 *      libzstd blosc libdeflate libtiff-4 libpng zlib hdf5) -lm -pthread -o build/bench_unet
 *   AX_THREADS=2 build/bench_unet [reps] [d,h,w]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/axon.h"

static const char *REFERENCE =
    "{\"levels\": 3, \"base_fmaps\": 12, \"fmap_mult\": 3, \"downsample\": [[1,2,2],[1,2,2]],"
    " \"kernel\": [3,3,3], \"out_channels\": 3, \"out_activation\": \"sigmoid\"}";

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    int64_t in[3] = {32, 196, 196}, out[3];
    if (argc > 2 && sscanf(argv[2], "%lld,%lld,%lld", (long long *)&in[0], (long long *)&in[1],
                           (long long *)&in[2]) != 3)
        return 2;
    ax_net *net;
    if (ax_net_create(REFERENCE, 1, &net) || ax_net_output_shape(net, in, out)) {
        fprintf(stderr, "bench_unet: %s\n", ax_errmsg());
        return 1;
    }
    int64_t nin = in[0] * in[1] * in[2], nvox = out[0] * out[1] * out[2], nout = 3 * nvox;
    float *x = malloc((size_t)nin * 4), *y = malloc((size_t)nout * 4), *t = malloc((size_t)nout * 4),
          *w = malloc((size_t)nout * 4);
    uint64_t s = 1;
    for (int64_t i = 0; i < nin; i++) x[i] = (float)((s = s * 6364136223846793005ULL + 1) >> 40) / 16777216.0f;
    for (int64_t i = 0; i < nout; i++) {
        t[i] = (float)(i % 2);
        w[i] = 1.0f + (float)(i % 3);
    }
    double flops = ax_net_forward_flops(net, in);
    ax_optim_params op = ax_optim_params_default();
    for (int mode = 0; mode < 2; mode++) {
        double *ts = malloc(sizeof(double) * (size_t)(reps + 1)), loss;
        for (int r = 0; r <= reps; r++) { /* r = 0 is the warm-up */
            double t0 = ax_time_now();
            int rc = ax_net_forward(net, x, in, y, mode);
            if (!rc && mode) {
                ax_net_zero_grad(net);
                rc = ax_net_backward(net, AX_LOSS_BCE, t, w, &loss);
                if (!rc) rc = ax_net_adam_step(net, &op);
            }
            if (rc) {
                fprintf(stderr, "bench_unet: %s\n", ax_errmsg());
                return 1;
            }
            ts[r] = ax_time_now() - t0;
        }
        qsort(ts + 1, (size_t)reps, sizeof(double), cmp);
        double mn = ts[1], med = ts[1 + reps / 2], f = mode ? 3 * flops : flops;
        printf("{\"engine\": \"axon\", \"mode\": \"%s\", \"threads\": %d, \"simd\": \"%s\", \"in_shape\": [%lld, %lld, %lld], "
               "\"out_shape\": [%lld, %lld, %lld], \"reps\": %d, \"min_s\": %.4f, \"median_s\": %.4f, "
               "\"voxels_per_s\": %.1f, \"gflop\": %.3f, \"gflops\": %.2f, \"peak_rss_mib\": %.0f}\n",
               mode ? "train" : "inference", ax_threads_get(), ax_simd_name(), (long long)in[0], (long long)in[1],
               (long long)in[2], (long long)out[0], (long long)out[1], (long long)out[2], reps, mn, med,
               (double)nvox / mn, f / 1e9, f / mn / 1e9, (double)ax_peak_rss_bytes() / 1048576.0);
        fflush(stdout);
        free(ts);
    }
    ax_net_free(net);
    free(x);
    free(y);
    free(t);
    free(w);
    return 0;
}
