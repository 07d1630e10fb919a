/* test_nn.c: the U-Net engine: gradients against finite differences for every layer kind,
 * thread-count and SIMD independence, safetensors round trips and malformed files, bad
 * descriptions and shapes, and a short training run whose loss falls. (Equivalence with
 * PyTorch is tests/interop/test_nn_torch.py; the conv kernels have their own tests.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"
#include "test.h"

static unsigned long long seed = 42;

static float frand(void) { return (float)((double)(test_rand(&seed) >> 11) / 9007199254740992.0); }

static float *rand_buf(int64_t n, float lo, float hi)
{
    float *b = malloc((size_t)n * sizeof *b);
    for (int64_t i = 0; i < n; i++) b[i] = lo + (hi - lo) * frand();
    return b;
}

static int64_t prod3(const int64_t s[3]) { return s[0] * s[1] * s[2]; }

typedef struct {
    const char *name, *json;
    int64_t want[3]; /* smallest output wanted: the input is the least that gives it */
    ax_loss loss;
} netcase;

/* every layer kind appears in some case: conv (3x3x3, 1x3x3, 1x1x1), group and instance
 * norm, max pool, transposed and nearest upsampling, crop+concat, the activations, both
 * losses. The kinks of ReLU and leaky ReLU make central differences unreliable on nets
 * this small, so the cases use smooth activations; those two are checked against PyTorch
 * in tests/interop/test_nn_torch.py. */
static const netcase CASES[] = {
    {"elu+group+transposed",
     "{\"levels\":2,\"base_fmaps\":4,\"fmap_mult\":2,\"downsample\":[[1,2,2]],\"kernel\":[[1,3,3],[3,3,3]],"
     "\"activation\":\"elu\",\"norm\":\"group\",\"norm_groups\":2,\"out_channels\":3}",
     {2, 6, 6}, AX_LOSS_BCE},
    {"tanh+instance+nearest+same",
     "{\"levels\":2,\"base_fmaps\":3,\"fmap_mult\":2,\"downsample\":[[2,2,2]],\"padding\":\"same\",\"upsample\":\"nearest\","
     "\"activation\":\"tanh\",\"norm\":\"instance\",\"out_channels\":2,\"in_channels\":2}",
     {4, 8, 6}, AX_LOSS_BCE},
    {"tanh+3levels+mse-sigmoid",
     "{\"levels\":3,\"base_fmaps\":2,\"fmap_mult\":2,\"downsample\":[[1,2,2],[1,2,2]],\"kernel\":[1,3,3],"
     "\"activation\":\"tanh\",\"out_channels\":1}",
     {2, 6, 5}, AX_LOSS_MSE},
    {"sigmoid-act+tanh-out+mse",
     "{\"levels\":1,\"base_fmaps\":3,\"convs_per_level\":3,\"activation\":\"sigmoid\",\"out_activation\":\"tanh\",\"out_channels\":2}",
     {3, 4, 5}, AX_LOSS_MSE},
    {"elu+none-out+mse",
     "{\"levels\":2,\"base_fmaps\":3,\"fmap_mult\":3,\"downsample\":[[2,2,2]],\"activation\":\"elu\",\"out_activation\":\"none\",\"out_channels\":2}",
     {2, 2, 3}, AX_LOSS_MSE},
};

static double loss_at(ax_net *net, const float *x, const int64_t in[3], ax_loss loss, const float *t,
                      const float *w)
{
    double l = NAN;
    CHECK_OK(ax_net_forward(net, x, in, NULL, 1));
    ax_net_zero_grad(net);
    CHECK_OK(ax_net_backward(net, loss, t, w, &l));
    return l;
}

static void test_gradients_vs_finite_differences(void)
{
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        const netcase *k = &CASES[c];
        ax_net *net;
        CHECK_OK(ax_net_create(k->json, 7 + c, &net));
        if (!net) continue;
        int64_t out[3], kin[3];
        CHECK_OK(ax_net_input_for_output(net, k->want, kin, out));
        int64_t nin = prod3(kin) * ax_net_in_channels(net), nout = prod3(out) * ax_net_out_channels(net);
        float *x = rand_buf(nin, -1, 1), *t = rand_buf(nout, 0, 1), *w = rand_buf(nout, 0.5f, 2);
        (void)loss_at(net, x, kin, k->loss, t, w);
        int np = ax_net_param_count(net);
        float **an = calloc((size_t)np, sizeof *an);
        for (int p = 0; p < np; p++) {
            int64_t n;
            float *g = ax_net_param_grad(net, p, &n);
            an[p] = malloc((size_t)n * sizeof(float));
            memcpy(an[p], g, (size_t)n * sizeof(float));
        }
        int bad = 0, checked = 0;
        double worst = 0;
        for (int p = 0; p < np; p++) {
            int64_t n, imax = 0;
            float *v = ax_net_param_data(net, p, &n);
            for (int64_t i = 1; i < n; i++)
                if (fabsf(an[p][i]) > fabsf(an[p][imax])) imax = i;
            int64_t picks[3] = {imax, (int64_t)(test_rand(&seed) % (unsigned long long)n),
                                (int64_t)(test_rand(&seed) % (unsigned long long)n)};
            for (int q = 0; q < 3; q++) {
                int64_t i = picks[q];
                float keep = v[i], h = 2e-3f * fmaxf(1.0f, fabsf(keep));
                v[i] = keep + h;
                double lp = loss_at(net, x, kin, k->loss, t, w);
                v[i] = keep - h;
                double lm = loss_at(net, x, kin, k->loss, t, w);
                v[i] = keep;
                double fd = (lp - lm) / (2.0 * ((double)(keep + h) - keep));
                double err = fabs(fd - an[p][i]), scale = fabs(an[p][imax]);
                /* central differences of a float32 network: 3% of the parameter's largest
                 * gradient, plus the float32 noise floor of the loss difference */
                double tol = 0.03 * scale + 2e-7 / h;
                checked++;
                if (err > tol) {
                    bad++;
                    fprintf(stderr, "  %s: %s[%lld]: analytic %.6g, finite difference %.6g\n", k->name,
                            ax_net_param_name(net, p), (long long)i, an[p][i], fd);
                }
                if (scale > 1e-4 && err / scale > worst) worst = err / scale;
            }
        }
        printf("  %-28s %d params x 3 entries, worst error %.2g of the largest gradient\n", k->name, np, worst);
        CHECK(checked > 0 && bad == 0);
        for (int p = 0; p < np; p++) free(an[p]);
        free(an);
        free(x);
        free(t);
        free(w);
        ax_net_free(net);
    }
}

/* forward + backward under one configuration; returns output and all gradients, flat */
static float *run_once(const netcase *k, int64_t *len)
{
    ax_net *net;
    if (ax_net_create(k->json, 3, &net)) return NULL;
    int64_t out[3], kin[3];
    (void)ax_net_input_for_output(net, k->want, kin, out);
    int64_t nin = prod3(kin) * ax_net_in_channels(net), nout = prod3(out) * ax_net_out_channels(net);
    unsigned long long s0 = seed;
    seed = 99;
    float *x = rand_buf(nin, -1, 1), *t = rand_buf(nout, 0, 1);
    seed = s0;
    int64_t total = nout;
    for (int p = 0; p < ax_net_param_count(net); p++) {
        int64_t n;
        ax_net_param_data(net, p, &n);
        total += n;
    }
    float *r = malloc((size_t)total * sizeof(float));
    double l;
    CHECK_OK(ax_net_forward(net, x, kin, r, 1));
    ax_net_zero_grad(net);
    CHECK_OK(ax_net_backward(net, k->loss, t, NULL, &l));
    int64_t at = nout;
    for (int p = 0; p < ax_net_param_count(net); p++) {
        int64_t n;
        float *g = ax_net_param_grad(net, p, &n);
        memcpy(r + at, g, (size_t)n * sizeof(float));
        at += n;
    }
    *len = total;
    free(x);
    free(t);
    ax_net_free(net);
    return r;
}

static void test_threads_and_simd(void)
{
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        int64_t n1, n2, n3;
        ax_threads_set(1);
        float *a = run_once(&CASES[c], &n1);
        ax_threads_set(2);
        float *b = run_once(&CASES[c], &n2);
        CHECK(a && b && n1 == n2 && !memcmp(a, b, (size_t)n1 * sizeof(float)));
        if (!strcmp(ax_simd_name(), "avx2")) {
            CHECK_OK(ax_simd_set("generic"));
            float *g = run_once(&CASES[c], &n3);
            CHECK_OK(ax_simd_set("avx2"));
            double worst = 0, big = 0;
            for (int64_t i = 0; g && i < n1; i++) big = fmax(big, fabs(a[i]));
            for (int64_t i = 0; g && i < n1; i++) worst = fmax(worst, fabs(a[i] - g[i]));
            CHECK(g && n3 == n1 && worst <= 1e-4 * big);
            free(g);
        }
        free(a);
        free(b);
    }
    ax_threads_set(0);
}

static void test_shapes(void)
{
    ax_net *net;
    const char *ref = "{\"levels\":3,\"base_fmaps\":12,\"fmap_mult\":3,\"downsample\":[[1,2,2],[1,2,2]],\"out_channels\":3}";
    CHECK_OK(ax_net_create(ref, 1, &net));
    int64_t in[3] = {32, 196, 196}, out[3], want[3] = {12, 156, 156}, got_in[3], got_out[3];
    CHECK_OK(ax_net_output_shape(net, in, out));
    CHECK(out[0] == 12 && out[1] == 156 && out[2] == 156);
    /* 318 kFLOP per output voxel, as the issue computes it */
    double fl = ax_net_forward_flops(net, in) / (12.0 * 156 * 156);
    CHECK(fl > 315e3 && fl < 320e3);
    CHECK_OK(ax_net_input_for_output(net, want, got_in, got_out));
    CHECK(got_in[0] == 32 && got_in[1] == 196 && got_in[2] == 196);
    int64_t w2[3] = {1, 1, 1};
    CHECK_OK(ax_net_input_for_output(net, w2, got_in, got_out));
    for (int d = 0; d < 3; d++) {
        int64_t smaller[3] = {got_in[0], got_in[1], got_in[2]}, o2[3];
        smaller[d]--;
        CHECK(ax_net_output_shape(net, smaller, o2) != AX_OK); /* minimal */
    }
    int64_t odd[3] = {32, 195, 196}, tiny[3] = {8, 196, 196};
    CHECK_ERR(ax_net_output_shape(net, odd, out), AX_E_INVALID, "pooling");
    CHECK_ERR(ax_net_output_shape(net, tiny, out), AX_E_INVALID, "too small");
    float *x = calloc((size_t)prod3(odd), sizeof(float));
    CHECK_ERR(ax_net_forward(net, x, odd, NULL, 0), AX_E_INVALID, "pooling");
    free(x);
    CHECK(ax_net_memory_bytes(net, in, 0) < ax_net_memory_bytes(net, in, 1));
    CHECK_ERR(ax_net_backward(net, AX_LOSS_BCE, NULL, NULL, NULL), AX_E_INVALID, "no training forward");
    ax_net_free(net);
}

static void test_bad_descriptions(void)
{
    static const struct { const char *json, *needle; } bad[] = {
        {"[1,2]", "not a JSON object"},
        {"{\"levels\":2}", "out_channels"},
        {"{\"out_channels\":1,\"levels\":0}", "levels"},
        {"{\"out_channels\":1,\"activation\":\"gelu\"}", "unknown activation"},
        {"{\"out_channels\":1,\"levels\":3,\"downsample\":[[1,2,2]]}", "downsample"},
        {"{\"out_channels\":1,\"padding\":\"same\",\"kernel\":[2,3,3]}", "odd"},
        {"{\"out_channels\":1,\"norm\":\"group\",\"norm_groups\":5,\"base_fmaps\":12}", "does not divide"},
        {"{\"out_channels\":1,\"kernel\":[3,3]}", "kernel"},
        {"{\"out_channels\":1,\"type\":\"resnet\"}", "unet"},
        {"{\"out_channels\":1,\"levels\":9}", "levels"},
        {"{\"out_channels\":1,\"base_fmaps\":4096,\"fmap_mult\":16,\"levels\":3}", "feature maps"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ax_net *net = (ax_net *)1;
        CHECK_ERR(ax_net_create(bad[i].json, 1, &net), AX_E_INVALID, bad[i].needle);
        CHECK(net == NULL);
    }
}

static const char *SMALL = "{\"levels\":2,\"base_fmaps\":3,\"fmap_mult\":2,\"downsample\":[[1,2,2]],\"out_channels\":2,"
                           "\"kernel\":[1,3,3],\"offsets\":[[-1,0,0],[0,-1,0]]}";

static void test_save_load(void)
{
    char path[600], ck[600];
    test_path(path, sizeof path, "m.safetensors");
    test_path(ck, sizeof ck, "m.ckpt");
    ax_net *a, *b, *c;
    CHECK_OK(ax_net_create(SMALL, 5, &a));
    const char *mk[] = {"note"}, *mv[] = {"hello"};
    CHECK_OK(ax_net_save(a, path, mk, mv, 1));
    CHECK_OK(ax_net_load(path, &b));
    CHECK(b && !strcmp(ax_net_config(a), ax_net_config(b)));
    CHECK(b && ax_net_meta(b, "note") && !strcmp(ax_net_meta(b, "note"), "hello"));
    CHECK(b && ax_net_meta(b, "missing") == NULL);
    for (int p = 0; b && p < ax_net_param_count(a); p++) {
        int64_t n1, n2;
        float *x = ax_net_param_data(a, p, &n1), *y = ax_net_param_data(b, p, &n2);
        CHECK(n1 == n2 && !memcmp(x, y, (size_t)n1 * sizeof(float)));
    }
    /* a checkpoint resumes Adam exactly: 2 steps + save/load + 2 steps == 4 steps */
    int64_t in[3] = {2, 20, 20}, out[3];
    CHECK_OK(ax_net_output_shape(a, in, out));
    int64_t nout = prod3(out) * 2;
    float *x = rand_buf(prod3(in), 0, 1), *t = rand_buf(nout, 0, 1);
    ax_optim_params op = ax_optim_params_default();
    double l;
    for (int s = 0; s < 2; s++) {
        CHECK_OK(ax_net_forward(a, x, in, NULL, 1));
        ax_net_zero_grad(a);
        CHECK_OK(ax_net_backward(a, AX_LOSS_BCE, t, NULL, &l));
        CHECK_OK(ax_net_adam_step(a, &op));
    }
    CHECK_OK(ax_net_save_checkpoint(a, ck, NULL, NULL, 0));
    CHECK_OK(ax_net_load(ck, &c));
    CHECK(c && ax_net_steps(c) == 2);
    for (int s = 0; c && s < 2; s++) {
        ax_net *nets[2] = {a, c};
        for (int k = 0; k < 2; k++) {
            CHECK_OK(ax_net_forward(nets[k], x, in, NULL, 1));
            ax_net_zero_grad(nets[k]);
            CHECK_OK(ax_net_backward(nets[k], AX_LOSS_BCE, t, NULL, &l));
            CHECK_OK(ax_net_adam_step(nets[k], &op));
        }
    }
    for (int p = 0; c && p < ax_net_param_count(a); p++) {
        int64_t n;
        const float *pa = ax_net_param_data(a, p, &n), *pc = ax_net_param_data(c, p, NULL);
        CHECK(!memcmp(pa, pc, (size_t)n * sizeof(float)));
    }
    free(x);
    free(t);
    ax_net_free(a);
    ax_net_free(b);
    ax_net_free(c);
}

/* write bytes to a file, then expect ax_net_load to fail naming the file and the problem */
static void expect_bad(const char *name, const void *data, size_t len, int code, const char *needle)
{
    char path[600];
    test_path(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    ax_net *net = (ax_net *)1;
    CHECK_ERR(ax_net_load(path, &net), code, needle);
    CHECK(net == NULL);
    CHECK(strstr(ax_errmsg(), name) != NULL);
}

/* a safetensors file with a hand-written header and `data_len` bytes of data */
static size_t make_st(uint8_t *buf, const char *header, const void *data, size_t data_len)
{
    uint64_t hl = strlen(header);
    memcpy(buf, &hl, 8);
    memcpy(buf + 8, header, hl);
    memcpy(buf + 8 + hl, data, data_len);
    return 8 + hl + data_len;
}

static void test_malformed_files(void)
{
    char path[600];
    test_path(path, sizeof path, "good.safetensors");
    ax_net *a;
    CHECK_OK(ax_net_create(SMALL, 5, &a));
    CHECK_OK(ax_net_save(a, path, NULL, NULL, 0));
    uint8_t *good;
    size_t len;
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    good = malloc(len);
    CHECK(fread(good, 1, len, f) == len);
    fclose(f);

    expect_bad("empty.st", "", 0, AX_E_FORMAT, "no header");
    expect_bad("trunc.st", good, len - 5, AX_E_FORMAT, "data_offsets");
    uint8_t *huge = malloc(len);
    memcpy(huge, good, len);
    uint64_t hl = 1ull << 40;
    memcpy(huge, &hl, 8);
    expect_bad("hugeheader.st", huge, len, AX_E_FORMAT, "header size");
    memcpy(huge, good, len);
    huge[9] = '!';
    expect_bad("notjson.st", huge, len, AX_E_FORMAT, "not a JSON object");
    free(huge);

    uint8_t buf[4096];
    float four[4] = {1, 2, 3, 4}, nan4[4] = {1, NAN, 3, 4};
    const char *cfg = "\"__metadata__\":{\"axon.config\":\"{\\\"levels\\\":1,\\\"base_fmaps\\\":1,\\\"convs_per_level\\\":1,"
                      "\\\"kernel\\\":[1,1,1],\\\"out_channels\\\":1}\"}";
    /* that network: down0.conv0 (1x1x1x1x1 + 1), out (1x1x1x1x1 + 1): four floats */
    char h[2048];
    snprintf(h, sizeof h,
             "{%s,\"down0.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]},"
             "\"down0.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
             "\"out.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[8,12]},"
             "\"out.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", cfg);
    size_t n = make_st(buf, h, four, 16);
    {
        /* the well-formed version loads and computes out = w2 (w1 x + b1 relu) + b2 */
        char ok[600];
        test_path(ok, sizeof ok, "hand.st");
        f = fopen(ok, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
        ax_net *net;
        CHECK_OK(ax_net_load(ok, &net));
        float x = 0.5f, y;
        int64_t one[3] = {1, 1, 1};
        CHECK_OK(ax_net_forward(net, &x, one, &y, 0));
        CHECK(fabsf(y - 1.0f / (1.0f + expf(-(3.0f * (1.0f * 0.5f + 2.0f) + 4.0f)))) < 1e-6f);
        ax_net_free(net);
    }
    n = make_st(buf, h, nan4, 16);
    expect_bad("nan.st", buf, n, AX_E_FORMAT, "non-finite");
    snprintf(h, sizeof h,
             "{%s,\"down0.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]},"
             "\"down0.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
             "\"out.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[12,16]},"
             "\"out.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", cfg);
    float five[5] = {1, 2, 3, 4, 5};
    n = make_st(buf, h, five, 16);
    expect_bad("shape.st", buf, n, AX_E_FORMAT, "has shape [1x1x1x1x2]");
    snprintf(h, sizeof h,
             "{%s,\"down0.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]},"
             "\"out.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[8,12]},"
             "\"out.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", cfg);
    n = make_st(buf, h, four, 16);
    expect_bad("missing.st", buf, n, AX_E_FORMAT, "\"down0.conv0.bias\" is missing");
    snprintf(h, sizeof h,
             "{%s,\"down0.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]},"
             "\"down0.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
             "\"out.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[8,12]},"
             "\"out.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
             "\"extra\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", cfg);
    n = make_st(buf, h, four, 16);
    expect_bad("extra.st", buf, n, AX_E_FORMAT, "\"extra\" is not a parameter");
    snprintf(h, sizeof h,
             "{%s,\"down0.conv0.weight\":{\"dtype\":\"I64\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,8]}}", cfg);
    n = make_st(buf, h, four, 16);
    expect_bad("dtype.st", buf, n, AX_E_UNSUPPORTED, "dtype I64");
    snprintf(h, sizeof h,
             "{%s,\"down0.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,400]}}", cfg);
    n = make_st(buf, h, four, 16);
    expect_bad("offsets.st", buf, n, AX_E_FORMAT, "data_offsets");
    snprintf(h, sizeof h, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
    n = make_st(buf, h, four, 4);
    expect_bad("noconfig.st", buf, n, AX_E_FORMAT, "no network description");
    free(good);
    ax_net_free(a);
}

/* a short training run on a task the network can learn: mark voxels brighter than their
 * neighbourhood (a membrane-like mask); the loss must fall well below where it started */
static void test_training_loss_falls(void)
{
    ax_net *net;
    CHECK_OK(ax_net_create("{\"levels\":2,\"base_fmaps\":4,\"fmap_mult\":2,\"downsample\":[[1,2,2]],"
                           "\"kernel\":[1,3,3],\"out_channels\":1}", 11, &net));
    int64_t want[3] = {2, 16, 16}, in[3], out[3];
    CHECK_OK(ax_net_input_for_output(net, want, in, out));
    float *x = malloc((size_t)prod3(in) * sizeof(float)), *t = malloc((size_t)prod3(out) * sizeof(float));
    ax_optim_params op = ax_optim_params_default();
    op.lr = 3e-3;
    double first = 0, last = 0;
    for (int it = 0; it < 300; it++) {
        /* random "cells": a few bright lines on a noisy background */
        for (int64_t i = 0; i < prod3(in); i++) x[i] = 0.3f * frand();
        for (int k = 0; k < 3; k++) {
            int64_t yy = (int64_t)(test_rand(&seed) % (unsigned long long)in[1]);
            for (int64_t z = 0; z < in[0]; z++)
                for (int64_t xx = 0; xx < in[2]; xx++) x[(z * in[1] + yy) * in[2] + xx] = 0.9f;
        }
        int64_t c[3] = {(in[0] - out[0]) / 2, (in[1] - out[1]) / 2, (in[2] - out[2]) / 2};
        for (int64_t z = 0; z < out[0]; z++)
            for (int64_t y = 0; y < out[1]; y++)
                for (int64_t xx = 0; xx < out[2]; xx++)
                    t[(z * out[1] + y) * out[2] + xx] = x[((z + c[0]) * in[1] + y + c[1]) * in[2] + xx + c[2]] > 0.5f;
        double l;
        CHECK_OK(ax_net_forward(net, x, in, NULL, 1));
        ax_net_zero_grad(net);
        CHECK_OK(ax_net_backward(net, AX_LOSS_BCE, t, NULL, &l));
        CHECK_OK(ax_net_adam_step(net, &op));
        if (it < 20) first += l / 20;
        if (it >= 280) last += l / 20;
    }
    printf("  training: mean loss of the first 20 iterations %.4f, of the last 20 %.4f\n", first, last);
    CHECK(last < 0.25 * first);
    free(x);
    free(t);
    ax_net_free(net);
}

int main(void)
{
    RUN(test_gradients_vs_finite_differences);
    RUN(test_threads_and_simd);
    RUN(test_shapes);
    RUN(test_bad_descriptions);
    RUN(test_save_load);
    RUN(test_malformed_files);
    RUN(test_training_loss_falls);
    return TEST_REPORT();
}
