/* test_snn_models.c: the neuron models of the spiking-network engine (src/snn/model_*.c)
 * through the public API (include/axon/snn.h), each against something independent:
 *
 * - izhikevich: an Euler loop written here with the same float operations (the same
 *   bits expected), the firing patterns of Izhikevich 2003 Fig. 2, the synaptic current,
 *   the delta input, gap junctions, parameter errors;
 * - hh_coba: a double-precision exponential-Euler implementation written here from the
 *   Brian2 COBAHH equations (exprel via expm1), the resting potential against the fixed
 *   point of the equations, current steps, the f-I curve, the "v > -20 mV" refractory
 *   condition, conductance input, AVX2 against the generic code;
 * - lif / lif_coba: the f-I curve against its closed form, the conductance decay, exact
 *   synaptic delays, and the same spikes for 1 and 2 threads on a random network.
 * No wall-clock limits: everything is deterministic. */
#include <math.h>
#include <stdint.h>

#include "test.h"

static const double DT = 0.1;

static ax_snn *mk(void)
{
    ax_snn *s = NULL;
    CHECK_OK(ax_snn_new(DT, 7, &s));
    return s;
}

static uint32_t pop_size(const ax_snn *s, int pop)
{
    uint32_t n = 0;
    CHECK_OK(ax_snn_population_info(s, pop, NULL, NULL, NULL, &n));
    return n;
}

/* run `steps` single steps; after each, out[k * m + j] = var of neurons idx[0..m) */
static void trace(ax_snn *s, int pop, const char *var, const uint32_t *idx, int m, int steps, float *out)
{
    uint32_t n = pop_size(s, pop);
    float *buf = malloc(n * sizeof(float));
    for (int k = 0; k < steps; k++) {
        int rc = ax_snn_run(s, DT, 1);
        if (rc) {
            CHECK_OK(rc);
            break;
        }
        ax_snn_get_state(s, pop, var, buf);
        for (int j = 0; j < m; j++) out[(size_t)k * m + j] = buf[idx[j]];
    }
    free(buf);
}

/* spike steps of global neuron g, into st (at most cap); returns the count */
static size_t spikes_of(const ax_snn *s, uint32_t g, uint32_t *st, size_t cap)
{
    size_t n, c = 0;
    const uint32_t *step, *id;
    CHECK_OK(ax_snn_spikes(s, &n, &step, &id));
    for (size_t k = 0; k < n; k++)
        if (id[k] == g) {
            if (c < cap) st[c] = step[k];
            c++;
        }
    return c;
}

/* ---- izhikevich --------------------------------------------------------------------- */

static int izh_pop(ax_snn *s, const char *name, uint32_t n, double a, double b, double c, double d)
{
    int p = -1;
    CHECK_OK(ax_snn_add_population(s, name, "izhikevich", n, &p));
    CHECK_OK(ax_snn_set_param(s, p, "a", a));
    CHECK_OK(ax_snn_set_param(s, p, "b", b));
    CHECK_OK(ax_snn_set_param(s, p, "c", c));
    CHECK_OK(ax_snn_set_param(s, p, "d", d));
    return p;
}

static void test_izh_exact(void)
{
    /* regular spiking under I_e = 10 for 1 s, against forward Euler written here with the
     * model's float operations in its order (src/snn/model_izh.c): same spike steps and
     * the same final bits */
    ax_snn *s = mk();
    int p = izh_pop(s, "rs", 1, 0.02, 0.2, -65, 8);
    float ie = 10;
    CHECK_OK(ax_snn_set_state(s, p, "I_e", &ie));
    /* init: v and u never set, so the first run starts them at c and b c */
    CHECK_OK(ax_snn_run(s, 0, 1));
    float v0, u0;
    CHECK_OK(ax_snn_get_state(s, p, "v", &v0));
    CHECK_OK(ax_snn_get_state(s, p, "u", &u0));
    CHECK(v0 == -65.0f && u0 == (float)(0.2 * -65));
    const int steps = 10000;
    CHECK_OK(ax_snn_run(s, steps * DT, 1));
    uint32_t got[200];
    size_t ng = spikes_of(s, 0, got, 200);

    const float dt = (float)DT, adt = (float)(0.02 * DT), b = 0.2f, c = -65.0f, d = 8.0f;
    float v = c, u = (float)(0.2 * -65), I = 10.0f;
    uint32_t want[200];
    size_t nw = 0;
    for (int k = 0; k < steps; k++) {
        float dv = (0.04f * v + 5.0f) * v + 140.0f - u + I;
        float vn = v + dt * dv;
        u = u + adt * (b * v - u);
        v = vn;
        if (v >= 30.0f) {
            if (nw < 200) want[nw] = (uint32_t)k;
            nw++;
            v = c;
            u += d;
        }
    }
    CHECK(ng == nw && ng > 10 && ng < 200);
    int same = ng == nw;
    for (size_t k = 0; same && k < ng && k < 200; k++) same = got[k] == want[k];
    CHECK(same);
    float vf, uf;
    CHECK_OK(ax_snn_get_state(s, p, "v", &vf));
    CHECK_OK(ax_snn_get_state(s, p, "u", &uf));
    CHECK(vf == v && uf == u);
    /* the FLOP count is the documented one */
    ax_snn_compute cp;
    CHECK_OK(ax_snn_get_compute(s, &cp));
    CHECK(cp.neuron_updates == (uint64_t)steps && fabs(cp.flops_neurons - 16.0 * steps) < 1e-6);
    ax_snn_free(s);
}

typedef struct {
    const char *name;
    double a, b, c, d;
} izh_type;

static size_t izh_run_type(const izh_type *t, uint32_t *st, size_t cap)
{
    /* as in Izhikevich's code: v = -65, u = b v, I = 10 from the start, 1 s */
    ax_snn *s = mk();
    int p = izh_pop(s, t->name, 1, t->a, t->b, t->c, t->d);
    float v = -65, u = (float)(t->b * -65), ie = 10;
    CHECK_OK(ax_snn_set_state(s, p, "v", &v));
    CHECK_OK(ax_snn_set_state(s, p, "u", &u));
    CHECK_OK(ax_snn_set_state(s, p, "I_e", &ie));
    CHECK_OK(ax_snn_run(s, 1000, 1));
    size_t n = spikes_of(s, 0, st, cap);
    ax_snn_free(s);
    return n < cap ? n : cap;
}

static void isi_stats(const uint32_t *st, size_t n, int *n_short, int *n_long)
{
    *n_short = *n_long = 0;
    for (size_t k = 1; k < n; k++) {
        double isi = (st[k] - st[k - 1]) * DT;
        if (isi < 10) (*n_short)++;
        if (isi > 20) (*n_long)++;
    }
}

static void test_izh_patterns(void)
{
    /* Izhikevich 2003 Fig. 2, I = 10: the spike counts in 1 s and ISI shapes */
    static const izh_type RS = {"RS", 0.02, 0.2, -65, 8}, IB = {"IB", 0.02, 0.2, -55, 4},
                          CH = {"CH", 0.02, 0.2, -50, 2}, FS = {"FS", 0.1, 0.2, -65, 2},
                          LTS = {"LTS", 0.02, 0.25, -65, 2};
    uint32_t st[400];
    int ns, nl;
    /* regular spiking: tonic, adapting (first ISI well below the steady one) */
    size_t n_rs = izh_run_type(&RS, st, 400);
    isi_stats(st, n_rs, &ns, &nl);
    CHECK(n_rs >= 15 && n_rs <= 35 && ns == 0);
    CHECK(n_rs > 3 && (st[1] - st[0]) < 0.7 * (st[n_rs - 1] - st[n_rs - 2]));
    /* intrinsically bursting: an initial burst (2 short ISIs), then tonic */
    size_t n_ib = izh_run_type(&IB, st, 400);
    isi_stats(st, n_ib, &ns, &nl);
    CHECK(n_ib >= 20 && n_ib <= 50 && ns >= 1 && ns <= 3 && nl >= (int)n_ib - 4);
    CHECK(n_ib > 3 && (st[1] - st[0]) * DT < 10 && (st[n_ib - 1] - st[n_ib - 2]) * DT > 20);
    /* chattering: repeated bursts, most ISIs short, some long */
    size_t n_ch = izh_run_type(&CH, st, 400);
    isi_stats(st, n_ch, &ns, &nl);
    CHECK(n_ch >= 50 && n_ch <= 150 && ns > (int)n_ch / 2 && nl >= 8);
    /* fast spiking: fast tonic, no adaptation to speak of */
    size_t n_fs = izh_run_type(&FS, st, 400);
    isi_stats(st, n_fs, &ns, &nl);
    CHECK(n_fs >= 100 && n_fs <= 200 && nl == 0 && n_fs > 4 * n_rs);
    /* low-threshold spiking: between RS and FS */
    size_t n_lts = izh_run_type(&LTS, st, 400);
    CHECK(n_lts > n_rs && n_lts < n_fs);
}

static void test_izh_synapse(void)
{
    /* a spike at 2 ms (step 20) into I_syn (weight 5): I_syn = 5 after the arrival step,
     * then decays by exp(-dt/tau_syn) per step; with tau_syn = 0 it is a jump of v at
     * the next update: the same v, bit for bit, as targeting v, from step 21 on */
    ax_snn *s = mk();
    int g = -1, a = izh_pop(s, "a", 1, 0.02, 0.2, -65, 8);
    int b = izh_pop(s, "b", 1, 0.02, 0.2, -65, 8);
    int c = izh_pop(s, "c", 1, 0.02, 0.2, -65, 8);
    CHECK_OK(ax_snn_set_param(s, b, "tau_syn", 0));
    CHECK_OK(ax_snn_add_population(s, "src", "spike_generator", 1, &g));
    uint32_t z = 0;
    double t = 2.0;
    CHECK_OK(ax_snn_set_spike_times(s, g, 1, &z, &t));
    float w = 5, w3 = 3;
    CHECK_OK(ax_snn_connect(s, "ga", g, a, "I_syn", 1, &z, &z, &w, NULL, 0));
    CHECK_OK(ax_snn_connect(s, "gb", g, b, "I_syn", 1, &z, &z, &w3, NULL, 0));
    CHECK_OK(ax_snn_connect(s, "gc", g, c, "v", 1, &z, &z, &w3, NULL, 0));
    enum { N = 100 };
    float is[N], vb[N], vc[N];
    int ok_b = 1;
    for (int k = 0; k < N; k++) {
        CHECK_OK(ax_snn_run(s, DT, 1));
        CHECK_OK(ax_snn_get_state(s, a, "I_syn", &is[k]));
        CHECK_OK(ax_snn_get_state(s, b, "v", &vb[k]));
        CHECK_OK(ax_snn_get_state(s, c, "v", &vc[k]));
        float isb;
        CHECK_OK(ax_snn_get_state(s, b, "I_syn", &isb));
        /* the delta input waits in I_syn for one step only */
        if (k != 20 && isb != 0) ok_b = 0;
    }
    CHECK(ok_b);
    CHECK(is[19] == 0 && is[20] == 5.0f);
    const float decay = (float)exp(-DT / 5);
    int ok = 1;
    float x = 5.0f;
    for (int k = 21; k < N; k++) {
        x *= decay;
        ok &= is[k] == x;
    }
    CHECK(ok);
    int same = 1;
    for (int k = 0; k < N; k++) same &= k == 20 || vb[k] == vc[k]; /* b's jump waits a step in I_syn */
    CHECK(same && vc[20] > vc[19] + 2.5f && vb[20] < vb[19]);
    /* the current input depolarises a */
    float va;
    CHECK_OK(ax_snn_get_state(s, a, "v", &va));
    CHECK(va > vc[19]);
    ax_snn_free(s);
}

static void test_izh_gap_and_errors(void)
{
    /* gap junction: neuron 0 driven (I_e = 10), neuron 1 not; coupled, 1 is depolarised
     * and 0 loses some of its drive */
    float vmax[2][2];
    size_t n0[2];
    for (int coupled = 0; coupled < 2; coupled++) {
        ax_snn *s = mk();
        int p = izh_pop(s, "z", 2, 0.02, 0.2, -65, 8);
        float ie[2] = {10, 0};
        CHECK_OK(ax_snn_set_state(s, p, "I_e", ie));
        if (coupled) {
            uint32_t a = 0, b = 1;
            float g = 0.3f;
            CHECK_OK(ax_snn_gap_junctions(s, p, 1, &a, &b, &g));
        }
        uint32_t idx[2] = {0, 1};
        enum { N = 3000 };
        float *tr = malloc(sizeof(float) * 2 * N);
        trace(s, p, "v", idx, 2, N, tr);
        vmax[coupled][0] = vmax[coupled][1] = -1e9f;
        for (int k = 1000; k < N; k++)
            for (int j = 0; j < 2; j++)
                if (tr[2 * k + j] > vmax[coupled][j]) vmax[coupled][j] = tr[2 * k + j];
        n0[coupled] = spikes_of(s, 0, NULL, 0);
        free(tr);
        ax_snn_free(s);
    }
    CHECK(vmax[1][1] > vmax[0][1] + 1.0f);
    CHECK(n0[0] > 0 && n0[1] <= n0[0]);

    /* parameter errors name the population and the parameter */
    ax_snn *s = mk();
    int p = izh_pop(s, "cortex", 1, 0.02, 0.2, -65, 8);
    CHECK_OK(ax_snn_set_param(s, p, "tau_syn", -1));
    CHECK_ERR(ax_snn_run(s, 1, 1), AX_E_INVALID, "population cortex: parameter tau_syn");
    CHECK_OK(ax_snn_set_param(s, p, "tau_syn", 5));
    CHECK_OK(ax_snn_set_param(s, p, "c", 40));
    CHECK_ERR(ax_snn_run(s, 1, 1), AX_E_INVALID, "population cortex: parameter c = 40");
    CHECK_OK(ax_snn_set_param(s, p, "c", -65));
    CHECK_OK(ax_snn_set_param(s, p, "refractory", -2));
    CHECK_ERR(ax_snn_run(s, 1, 1), AX_E_INVALID, "parameter refractory");
    CHECK_OK(ax_snn_set_param(s, p, "refractory", 0));
    CHECK_ERR(ax_snn_set_param(s, p, "tau_m", 3), AX_E_INVALID, "no parameter 'tau_m'");
    CHECK_OK(ax_snn_run(s, 1, 1));
    ax_snn_free(s);
}

static void test_izh_refractory(void)
{
    /* refractory 5 ms, tau_syn = 0 (delta input), 33 identical neurons (two vectorised
     * blocks of 16 and a scalar tail): every neuron the same bits; after a spike v is
     * held for round(5/dt) - 1 steps, u goes on, and a delta input arriving meanwhile
     * still lands on v */
    enum { N = 600, P = 33 };
    ax_snn *s = mk();
    int p = izh_pop(s, "z", P, 0.02, 0.2, -65, 8), g = -1;
    CHECK_OK(ax_snn_set_param(s, p, "refractory", 5));
    CHECK_OK(ax_snn_set_param(s, p, "tau_syn", 0));
    float ie[P];
    for (int i = 0; i < P; i++) ie[i] = 10;
    CHECK_OK(ax_snn_set_state(s, p, "I_e", ie));
    CHECK_OK(ax_snn_add_population(s, "src", "spike_generator", 1, &g));
    uint32_t zero[2] = {0, 0}, pre[P], post[P];
    double t[2] = {6.0, 20.0};
    CHECK_OK(ax_snn_set_spike_times(s, g, 2, zero, t));
    float w[P];
    for (int i = 0; i < P; i++) {
        pre[i] = 0;
        post[i] = (uint32_t)i;
        w[i] = 2;
    }
    CHECK_OK(ax_snn_connect(s, "in", g, p, "I_syn", P, pre, post, w, NULL, 0));
    uint32_t idx[3] = {0, 16, 32};
    float *v = malloc(sizeof(float) * 3 * N), *u = malloc(sizeof(float) * 3 * N);
    uint32_t n = pop_size(s, p);
    float *bv = malloc(n * sizeof(float)), *bu = malloc(n * sizeof(float));
    for (int k = 0; k < N; k++) {
        CHECK_OK(ax_snn_run(s, DT, 1));
        CHECK_OK(ax_snn_get_state(s, p, "v", bv));
        CHECK_OK(ax_snn_get_state(s, p, "u", bu));
        for (int j = 0; j < 3; j++) {
            v[3 * k + j] = bv[idx[j]];
            u[3 * k + j] = bu[idx[j]];
        }
    }
    int same = 1;
    for (int k = 0; k < N; k++)
        for (int j = 1; j < 3; j++) same &= v[3 * k + j] == v[3 * k] && u[3 * k + j] == u[3 * k];
    CHECK(same);
    uint32_t st[3][8];
    size_t ns[3];
    for (int j = 0; j < 3; j++) ns[j] = spikes_of(s, idx[j], st[j], 8);
    CHECK(ns[0] >= 2 && ns[0] == ns[1] && ns[0] == ns[2] && !memcmp(st[0], st[2], sizeof st[0]));
    uint32_t s0 = st[0][0];
    CHECK(s0 < 59); /* spiked before the input at step 60 */
    if (s0 < 59) {
        int held = 1;
        for (uint32_t k = s0; k <= 60; k++) held &= v[3 * k] == -65.0f;
        for (uint32_t k = 61; k < s0 + 50; k++) held &= v[3 * k] == -63.0f; /* the input landed */
        CHECK(held && v[3 * (s0 + 50)] != -63.0f);
        CHECK(u[3 * (s0 + 10)] != u[3 * (s0 + 20)]); /* u is not held */
    }
    free(v), free(u), free(bv), free(bu);
    ax_snn_free(s);
}

/* ---- hh_coba: a double-precision reference from the Brian2 equations ------------------ */

typedef struct {
    double v, m, h, n, ge, gi, ie, refr;
} hh_ref;

static double exprel(double x) { return x == 0 ? 1.0 : expm1(x) / x; }

static void hh_rates(double v, double r[6])
{
    const double VT = -63;
    r[0] = 0.32 * 4 / exprel((13 - v + VT) / 4);
    r[1] = 0.28 * 5 / exprel((v - VT - 40) / 5);
    r[2] = 0.128 * exp((17 - v + VT) / 18);
    r[3] = 4.0 / (1 + exp((40 - v + VT) / 5));
    r[4] = 0.032 * 5 / exprel((15 - v + VT) / 5);
    r[5] = 0.5 * exp((10 - v + VT) / 40);
}

static void hh_ref_init(hh_ref *x, double v)
{
    double r[6];
    hh_rates(v, r);
    memset(x, 0, sizeof *x);
    x->v = v;
    x->m = r[0] / (r[0] + r[1]);
    x->h = r[2] / (r[2] + r[3]);
    x->n = r[4] / (r[4] + r[5]);
}

/* one step of exponential Euler; returns 1 on a spike */
static int hh_ref_step(hh_ref *x)
{
    const double C = 200, gL = 10, EL = -60, gNa = 20000, gK = 6000, ENa = 50, EK = -90;
    double r[6];
    hh_rates(x->v, r);
    if (!(x->v > -20)) x->refr = 0;
    double *g[3] = {&x->m, &x->h, &x->n};
    double gna = gNa * x->m * x->m * x->m * x->h, gk = gK * pow(x->n, 4);
    for (int k = 0; k < 3; k++) {
        double a = r[2 * k], b = r[2 * k + 1], inf = a / (a + b);
        *g[k] = inf + (*g[k] - inf) * exp(-DT * (a + b));
    }
    double G = gL + x->ge + x->gi + gna + gk;
    double I = gL * EL + x->ge * 0 + x->gi * -80 + gna * ENa + gk * EK + x->ie;
    x->v = I / G + (x->v - I / G) * exp(-DT * G / C);
    x->ge *= exp(-DT / 5);
    x->gi *= exp(-DT / 10);
    if (x->v > -20 && !x->refr) {
        x->refr = 1;
        return 1;
    }
    return 0;
}

/* the membrane current (pA) with the gates at steady state for v */
static double hh_steady_current(double v, double ie)
{
    double r[6];
    hh_rates(v, r);
    double m = r[0] / (r[0] + r[1]), h = r[2] / (r[2] + r[3]), n = r[4] / (r[4] + r[5]);
    return 10 * (-60 - v) - 20000 * m * m * m * h * (v - 50) - 6000 * pow(n, 4) * (v + 90) + ie;
}

/* the resting potential under a holding current: the zero of the steady-state current */
static double hh_fixed_point(double ie)
{
    /* the lowest zero: scan up from -100 mV (inward current there) to the first sign
     * change, then bisect */
    double lo = -100, hi = -100;
    while (hi < 0 && hh_steady_current(hi, ie) > 0) hi += 0.01;
    lo = hi - 0.01;
    for (int it = 0; it < 100; it++) {
        double v = 0.5 * (lo + hi);
        if (hh_steady_current(v, ie) > 0) lo = v;
        else hi = v;
    }
    return 0.5 * (lo + hi);
}

static int hh_pop(ax_snn *s, const char *name, uint32_t n)
{
    int p = -1;
    CHECK_OK(ax_snn_add_population(s, name, "hh_coba", n, &p));
    return p;
}

static void test_hh_rest(void)
{
    /* without input the COBAHH cell is a slow pacemaker (about 13 Hz; Brian2's COBAHH
     * equations do the same), so the resting potential is tested under a holding
     * current of -50 pA: no spikes, and v settles at the fixed point of the equations */
    ax_snn *s = mk();
    int p = hh_pop(s, "hh", 1);
    float ie = -50;
    CHECK_OK(ax_snn_set_state(s, p, "I_e", &ie));
    CHECK_OK(ax_snn_run(s, 0, 1));
    float m0;
    CHECK_OK(ax_snn_get_state(s, p, "m", &m0));
    double r[6];
    hh_rates(-60, r);
    CHECK(fabs(m0 - r[0] / (r[0] + r[1])) < 1e-6); /* init_gates: steady state at v_rest */
    CHECK_OK(ax_snn_run(s, 1900, 1));
    float v1, v2, h, n;
    CHECK_OK(ax_snn_get_state(s, p, "v", &v1));
    CHECK_OK(ax_snn_run(s, 100, 1));
    CHECK_OK(ax_snn_get_state(s, p, "v", &v2));
    CHECK_OK(ax_snn_get_state(s, p, "h", &h));
    CHECK_OK(ax_snn_get_state(s, p, "n", &n));
    size_t ns;
    CHECK_OK(ax_snn_spikes(s, &ns, NULL, NULL));
    double vstar = hh_fixed_point(-50);
    hh_rates(vstar, r);
    CHECK(ns == 0);
    /* float v settles within about ulp(v)/2 / (dt G/C) = 3.8e-6 / 0.005 = 8e-4 mV of
     * the fixed point (a change below half an ulp per step is lost; the double
     * reference converges to it exactly) */
    CHECK(fabs(v2 - vstar) < 2e-3 && fabs(v2 - v1) < 1e-3);
    CHECK(fabs(h - r[2] / (r[2] + r[3])) < 1e-4 && fabs(n - r[4] / (r[4] + r[5])) < 1e-4);
    fprintf(stderr, "  hh rest at -50 pA: %.5f mV (fixed point %.5f)\n", v2, vstar);
    ax_snn_free(s);
}

static void test_hh_step_vs_reference(void)
{
    /* holding -50 pA, a step of +250 pA from 100 to 600 ms, 800 ms: spikes only during
     * the step, overshoot above 0 mV, v below -20 mV between spikes; against the double
     * reference: the same number of spikes within one step of each other, v within
     * 0.5 mV (float state and arithmetic against double; spikes are steep, 0.5 mV is
     * about 2 us of shift) */
    ax_snn *s = mk();
    int p = hh_pop(s, "hh", 1);
    float ie = -50;
    CHECK_OK(ax_snn_set_state(s, p, "I_e", &ie));
    /* the step is added in the synapse phase of step 999, so it drives the updates
     * from step 1000 on (t = 100 ms) */
    CHECK_OK(ax_snn_add_step(s, p, 0, 1, "I_e", 250, 99.9, 599.9));
    enum { N = 8000 };
    float *v = malloc(N * sizeof(float));
    uint32_t z = 0;
    trace(s, p, "v", &z, 1, N, v);
    uint32_t st[200];
    size_t ns = spikes_of(s, 0, st, 200);

    hh_ref x;
    hh_ref_init(&x, -60);
    x.ie = -50;
    uint32_t rst[200];
    size_t nr = 0;
    double maxdiff = 0, sumdiff = 0;
    for (int k = 0; k < N; k++) {
        if (k == 1000) x.ie += 250;
        if (k == 6000) x.ie -= 250;
        if (hh_ref_step(&x)) {
            if (nr < 200) rst[nr] = (uint32_t)k;
            nr++;
        }
        double d = fabs(x.v - v[k]);
        sumdiff += d;
        if (d > maxdiff) maxdiff = d;
    }
    fprintf(stderr, "  hh step: %zu spikes (reference %zu), |v - v_ref| max %.4f mean %.6f mV\n", ns, nr,
            maxdiff, sumdiff / N);
    CHECK(ns == nr && ns >= 10 && ns < 200);
    int close = ns == nr;
    for (size_t k = 0; close && k < ns; k++) close = abs((int)st[k] - (int)rst[k]) <= 1;
    CHECK(close);
    CHECK(maxdiff < 0.5 && sumdiff / N < 0.01);
    /* spikes only in the step, overshoot, and the refractory condition */
    CHECK(ns > 0 && st[0] >= 1000 && st[ns - 1] < 6100);
    float vmax = -1e9f;
    for (int k = 0; k < N; k++)
        if (v[k] > vmax) vmax = v[k];
    CHECK(vmax > 0);
    int below = 1;
    for (size_t j = 1; j < ns && j < 200; j++) {
        float vmin = 1e9f;
        for (uint32_t k = st[j - 1]; k < st[j]; k++)
            if (v[k] < vmin) vmin = v[k];
        below &= vmin <= -20;
    }
    CHECK(below);
    free(v);
    ax_snn_free(s);
}

static void test_hh_fi(void)
{
    /* f-I: 1 s at constant currents, one neuron each: counts strictly increase, and equal
     * the double reference's */
    static const float I[] = {0, 50, 100, 200, 400, 800, 1600};
    enum { K = sizeof I / sizeof I[0] };
    ax_snn *s = mk();
    int p = hh_pop(s, "hh", K);
    CHECK_OK(ax_snn_set_state(s, p, "I_e", I));
    CHECK_OK(ax_snn_run(s, 1000, 1));
    size_t cnt[K];
    for (int j = 0; j < K; j++) cnt[j] = spikes_of(s, (uint32_t)j, NULL, 0);
    int mono = 1;
    for (int j = 1; j < K; j++) mono &= cnt[j] > cnt[j - 1];
    CHECK(mono);
    for (int j = 0; j < K; j++) {
        hh_ref x;
        hh_ref_init(&x, -60);
        x.ie = I[j];
        size_t nr = 0;
        for (int k = 0; k < 10000; k++) nr += (size_t)hh_ref_step(&x);
        CHECK(nr == cnt[j]);
        fprintf(stderr, "  hh f-I: %5.0f pA: %3zu Hz (reference %zu)\n", I[j], cnt[j], nr);
    }
    ax_snn_free(s);
}

static void test_hh_conductance(void)
{
    /* a 50 Hz train (50-450 ms) into ge of a neuron held at -50 pA, weights 10, 40, 160
     * nS on three neurons: the spike counts grow with the weight and match the double
     * reference, spike for spike within a step */
    static const float W[] = {10, 40, 160};
    ax_snn *s = mk();
    int p = hh_pop(s, "hh", 3), g = -1;
    float ie[3] = {-50, -50, -50};
    CHECK_OK(ax_snn_set_state(s, p, "I_e", ie));
    CHECK_OK(ax_snn_add_population(s, "train", "spike_generator", 1, &g));
    uint32_t nid[20];
    double t[20];
    for (int k = 0; k < 20; k++) {
        nid[k] = 0;
        t[k] = 50 + 20 * k;
    }
    CHECK_OK(ax_snn_set_spike_times(s, g, 20, nid, t));
    uint32_t pre[3] = {0, 0, 0}, post[3] = {0, 1, 2};
    CHECK_OK(ax_snn_connect(s, "e", g, p, "ge", 3, pre, post, W, NULL, 0));
    CHECK_OK(ax_snn_run(s, 500, 1));
    size_t prev = 0;
    for (int j = 0; j < 3; j++) {
        uint32_t st[100], rst[100];
        size_t ns = spikes_of(s, (uint32_t)j, st, 100);
        hh_ref x;
        hh_ref_init(&x, -60);
        x.ie = -50;
        size_t nr = 0;
        for (int k = 0; k < 5000; k++) {
            if (hh_ref_step(&x) && nr < 100) rst[nr++] = (uint32_t)k;
            /* the input of step k arrives after its update */
            if (k >= 500 && k <= 4300 && (k - 500) % 200 == 0) x.ge += W[j];
        }
        fprintf(stderr, "  hh ge input %3.0f nS: %zu spikes (reference %zu)\n", W[j], ns, nr);
        CHECK(ns == nr && ns >= prev);
        int close = ns == nr;
        for (size_t k = 0; close && k < ns; k++) close = abs((int)st[k] - (int)rst[k]) <= 1;
        CHECK(close);
        prev = ns;
    }
    CHECK(prev > 20); /* the strongest input drives it above the input rate */
    ax_snn_free(s);
}

static void test_hh_refractory_condition(void)
{
    /* refractory until v <= v_refr: with v_refr far above any v the condition never
     * holds, so a neuron spikes in every step above -20 mV (several per action
     * potential); a fixed period also blocks */
    size_t cnt[3];
    for (int mode = 0; mode < 3; mode++) {
        ax_snn *s = mk();
        int p = hh_pop(s, "hh", 1);
        float ie = 400;
        CHECK_OK(ax_snn_set_state(s, p, "I_e", &ie));
        if (mode >= 1) CHECK_OK(ax_snn_set_param(s, p, "v_refr", 1000));
        if (mode == 2) CHECK_OK(ax_snn_set_param(s, p, "refractory", 3));
        CHECK_OK(ax_snn_run(s, 500, 1));
        cnt[mode] = spikes_of(s, 0, NULL, 0);
        ax_snn_free(s);
    }
    CHECK(cnt[1] > 2 * cnt[0]);
    CHECK(cnt[2] == cnt[0]); /* an action potential is shorter than 3 ms above -20 mV */
}

static void test_hh_simd_gap_errors(void)
{
    /* AVX2 and generic code give the same bits (37 neurons: blocks of 16 and a tail) */
    enum { N = 37 };
    float st[2][4][N];
    const char *vars[4] = {"v", "m", "ge", "refr"};
    size_t nsp[2];
    const char *simd = ax_simd_name(); /* restored after */
    for (int mode = 0; mode < 2; mode++) {
        CHECK_OK(ax_simd_set(mode ? "auto" : "generic"));
        ax_snn *s = mk();
        int p = hh_pop(s, "hh", N);
        float v[N], ge[N], gi[N];
        unsigned long long r = 99;
        for (int i = 0; i < N; i++) {
            v[i] = -70 + 20 * (float)(test_rand(&r) % 1000) / 1000;
            ge[i] = 50 * (float)(test_rand(&r) % 1000) / 1000;
            gi[i] = 200 * (float)(test_rand(&r) % 1000) / 1000;
        }
        CHECK_OK(ax_snn_set_state(s, p, "v", v));
        CHECK_OK(ax_snn_set_state(s, p, "ge", ge));
        CHECK_OK(ax_snn_set_state(s, p, "gi", gi));
        CHECK_OK(ax_snn_add_poisson(s, p, 0, N, "ge", 500, 10, 3));
        CHECK_OK(ax_snn_run(s, 300, 1));
        for (int k = 0; k < 4; k++) CHECK_OK(ax_snn_get_state(s, p, vars[k], st[mode][k]));
        CHECK_OK(ax_snn_spikes(s, &nsp[mode], NULL, NULL));
        ax_snn_free(s);
    }
    fprintf(stderr, "  hh generic vs %s: ", ax_simd_name());
    CHECK_OK(ax_simd_set(simd));
    CHECK(nsp[0] == nsp[1] && nsp[0] > 0 && !memcmp(st[0], st[1], sizeof st[0]));
    fprintf(stderr, "same bits, %zu spikes\n", nsp[0]);

    /* a gap junction (5 nS) from a firing neuron depolarises a silent one */
    float vmax[2];
    for (int coupled = 0; coupled < 2; coupled++) {
        ax_snn *s = mk();
        int p = hh_pop(s, "hh", 2);
        float ie[2] = {400, -50};
        CHECK_OK(ax_snn_set_state(s, p, "I_e", ie));
        if (coupled) {
            uint32_t a = 0, b = 1;
            float g = 5;
            CHECK_OK(ax_snn_gap_junctions(s, p, 1, &a, &b, &g));
        }
        uint32_t one = 1;
        enum { M = 3000 };
        float *tr = malloc(M * sizeof(float));
        trace(s, p, "v", &one, 1, M, tr);
        vmax[coupled] = -1e9f;
        for (int k = 1000; k < M; k++)
            if (tr[k] > vmax[coupled]) vmax[coupled] = tr[k];
        free(tr);
        ax_snn_free(s);
    }
    CHECK(vmax[1] > vmax[0] + 1);

    ax_snn *s = mk();
    int p = hh_pop(s, "cortex", 1);
    CHECK_OK(ax_snn_set_param(s, p, "C_m", 0));
    CHECK_ERR(ax_snn_run(s, 1, 1), AX_E_INVALID, "population cortex: parameter C_m = 0 must be > 0");
    CHECK_OK(ax_snn_set_param(s, p, "C_m", 200));
    CHECK_OK(ax_snn_set_param(s, p, "g_K", -1));
    CHECK_ERR(ax_snn_run(s, 1, 1), AX_E_INVALID, "parameter g_K");
    CHECK_OK(ax_snn_set_param(s, p, "g_K", 6000));
    CHECK_OK(ax_snn_set_param(s, p, "init_gates", 2));
    CHECK_ERR(ax_snn_run(s, 1, 1), AX_E_INVALID, "parameter init_gates");
    CHECK_OK(ax_snn_set_param(s, p, "init_gates", 0));
    CHECK_OK(ax_snn_run(s, 1, 1));
    ax_snn_compute cp;
    CHECK_OK(ax_snn_get_compute(s, &cp));
    CHECK(fabs(cp.flops_neurons - 208.0 * 10) < 1e-6); /* the documented count */
    ax_snn_free(s);
}

/* ---- lif / lif_coba ----------------------------------------------------------------- */

static void test_lif_fi(void)
{
    /* dv/dt = (v_rest - v + I_e)/tau_m from v_reset = v_rest reaches v_th after
     * T = tau_m ln(I / (I - (v_th - v_rest))); the model spikes in the first step whose
     * end is past T and holds v for round(t_ref/dt) - 1 steps after the spike step, so
     * every ISI is (round(t_ref/dt) + floor(T/dt)) steps: within one step (dt = 0.1 ms)
     * of t_ref + T, below it */
    static const float I[] = {8, 10, 15, 20, 30};
    enum { K = sizeof I / sizeof I[0] };
    ax_snn *s = mk();
    int p = -1;
    CHECK_OK(ax_snn_add_population(s, "lif", "lif", K, &p));
    CHECK_OK(ax_snn_set_state(s, p, "I_e", I));
    CHECK_OK(ax_snn_run(s, 2000, 1));
    const double tau = 20, dv = 7, tref = 2.2;
    for (int j = 0; j < K; j++) {
        uint32_t st[1000];
        size_t n = spikes_of(s, (uint32_t)j, st, 1000);
        double T = tau * log(I[j] / (I[j] - dv));
        uint32_t want = 22 + (uint32_t)floor(T / DT);
        int same = n > 5;
        for (size_t k = 1; k < n && k < 1000; k++) same &= st[k] - st[k - 1] == want;
        CHECK(same);
        CHECK(n > 0 && st[0] == (uint32_t)floor(T / DT)); /* from v_rest at t = 0 */
        double isi = n > 1 ? (st[n - 1] - st[0]) * DT / (double)(n - 1) : 0;
        CHECK(isi > tref + T - DT && isi <= tref + T);
        fprintf(stderr, "  lif I=%2.0f: %.3f Hz, closed form %.3f Hz\n", I[j], 1000 / isi, 1000 / (tref + T));
    }
    ax_snn_free(s);
}

static void test_coba_decay(void)
{
    /* ge(k steps) = ge0 exp(-k dt/tau_e): one float multiply per step by a rounded
     * factor, so within (2k + 1) 2^-24 relative */
    ax_snn *s = mk();
    int p = -1;
    CHECK_OK(ax_snn_add_population(s, "c", "lif_coba", 1, &p));
    CHECK_OK(ax_snn_set_param(s, p, "v_th", 1000));
    float ge0 = 2, gi0 = 3;
    CHECK_OK(ax_snn_set_state(s, p, "ge", &ge0));
    CHECK_OK(ax_snn_set_state(s, p, "gi", &gi0));
    enum { N = 300 };
    float ge[N], gi[N];
    for (int k = 0; k < N; k++) {
        CHECK_OK(ax_snn_run(s, DT, 1));
        CHECK_OK(ax_snn_get_state(s, p, "ge", &ge[k]));
        CHECK_OK(ax_snn_get_state(s, p, "gi", &gi[k]));
    }
    int ok = 1;
    for (int k = 0; k < N; k++) {
        double tol = (2.0 * (k + 1) + 1) * 0x1p-24;
        double we = 2 * exp(-(k + 1) * DT / 5), wi = 3 * exp(-(k + 1) * DT / 10);
        ok &= fabs(ge[k] - we) <= tol * we && fabs(gi[k] - wi) <= tol * wi;
    }
    CHECK(ok);
    ax_snn_free(s);
}

static void test_delays(void)
{
    /* a spike at t0 = 5 ms, delays 0, 0.1, 1.7 ms onto g of three lif neurons: g jumps
     * to the weight exactly in step t0/dt + d/dt (seen after that step) and is 0 before */
    ax_snn *s = mk();
    int g = -1, p = -1, q = -1;
    CHECK_OK(ax_snn_add_population(s, "src", "spike_generator", 1, &g));
    CHECK_OK(ax_snn_add_population(s, "dst", "lif", 3, &p));
    CHECK_OK(ax_snn_add_population(s, "dstc", "lif_coba", 1, &q));
    uint32_t z = 0;
    double t0 = 5.0;
    CHECK_OK(ax_snn_set_spike_times(s, g, 1, &z, &t0));
    uint32_t pre[3] = {0, 0, 0}, post[3] = {0, 1, 2};
    float w[3] = {1, 2, 4}, d[3] = {0, 0.1f, 1.7f}, wc = 0.5f;
    CHECK_OK(ax_snn_connect(s, "syn", g, p, "g", 3, pre, post, w, d, 0));
    CHECK_OK(ax_snn_connect(s, "sync", g, q, "ge", 1, &z, &z, &wc, NULL, 3.0));
    enum { N = 120 };
    float tr[N * 3], trc[N];
    uint32_t idx[3] = {0, 1, 2};
    for (int k = 0; k < N; k++) {
        float buf[3];
        CHECK_OK(ax_snn_run(s, DT, 1));
        CHECK_OK(ax_snn_get_state(s, p, "g", buf));
        for (int j = 0; j < 3; j++) tr[3 * k + j] = buf[idx[j]];
        CHECK_OK(ax_snn_get_state(s, q, "ge", &trc[k]));
    }
    const int at[3] = {50, 51, 67};
    const float e2 = (float)exp(-DT / 5);
    for (int j = 0; j < 3; j++) {
        int zero = 1;
        for (int k = 0; k < at[j]; k++) zero &= tr[3 * k + j] == 0;
        CHECK(zero);
        CHECK(tr[3 * at[j] + j] == w[j]);
        CHECK(tr[3 * (at[j] + 1) + j] == w[j] * e2);
    }
    int zero = 1;
    for (int k = 0; k < 80; k++) zero &= trc[k] == 0;
    CHECK(zero && trc[80] == 0.5f);
    ax_snn_free(s);
}

/* a random network of every model: lif_coba E/I with Poisson drive, lif, izhikevich with
 * gap junctions, hh_coba; random weights and delays */
static ax_snn *random_net(void)
{
    ax_snn *s = NULL;
    CHECK_OK(ax_snn_new(DT, 2024, &s));
    int pe, pi, pl, pz, ph;
    CHECK_OK(ax_snn_add_population(s, "E", "lif_coba", 160, &pe));
    CHECK_OK(ax_snn_add_population(s, "I", "lif_coba", 40, &pi));
    CHECK_OK(ax_snn_add_population(s, "L", "lif", 37, &pl));
    CHECK_OK(ax_snn_add_population(s, "Z", "izhikevich", 45, &pz));
    CHECK_OK(ax_snn_add_population(s, "H", "hh_coba", 41, &ph));
    int pops[5] = {pe, pi, pl, pz, ph};
    uint32_t sizes[5] = {160, 40, 37, 45, 41};
    const char *exc_t[5] = {"ge", "ge", "g", "I_syn", "ge"};
    const char *inh_t[5] = {"gi", "gi", "g", "I_syn", "gi"};
    const float ew[5] = {0.4f, 0.4f, 1.5f, 4, 6}, iw[5] = {2.0f, 2.0f, -3, -6, 67};
    unsigned long long r = 5;
    enum { CAP = 20000 };
    uint32_t *a = malloc(CAP * 4), *b = malloc(CAP * 4);
    float *w = malloc(CAP * 4), *d = malloc(CAP * 4);
    for (int src = 0; src < 5; src++)
        for (int dst = 0; dst < 5; dst++) {
            size_t n = 0;
            int inh = src == 1;
            for (uint32_t i = 0; i < sizes[src]; i++)
                for (uint32_t j = 0; j < sizes[dst]; j++)
                    if (test_rand(&r) % 1000 < 40 && n < CAP) {
                        a[n] = i;
                        b[n] = j;
                        w[n] = (inh ? iw[dst] : ew[dst]) * (0.5f + (float)(test_rand(&r) % 1000) / 1000);
                        d[n] = 0.1f * (float)(test_rand(&r) % 30);
                        n++;
                    }
            char name[32];
            snprintf(name, sizeof name, "p%d%d", src, dst);
            CHECK_OK(ax_snn_connect(s, name, pops[src], pops[dst], inh ? inh_t[dst] : exc_t[dst], n, a, b, w, d, 0));
        }
    CHECK_OK(ax_snn_add_poisson(s, pe, 0, 160, "ge", 20, 40, 0.15));
    CHECK_OK(ax_snn_add_poisson(s, pi, 0, 40, "ge", 20, 40, 0.15));
    CHECK_OK(ax_snn_add_poisson(s, ph, 0, 41, "ge", 20, 40, 5));
    float ie[45];
    for (int i = 0; i < 45; i++) ie[i] = 3 + (float)(i % 9);
    CHECK_OK(ax_snn_set_state(s, pz, "I_e", ie));
    float lie[37];
    for (int i = 0; i < 37; i++) lie[i] = 6 + (float)(i % 3);
    CHECK_OK(ax_snn_set_state(s, pl, "I_e", lie));
    uint32_t ga[30], gb[30];
    float gg[30];
    for (int k = 0; k < 30; k++) {
        ga[k] = (uint32_t)(test_rand(&r) % 45);
        gb[k] = (uint32_t)(test_rand(&r) % 45);
        gg[k] = 0.05f;
    }
    CHECK_OK(ax_snn_gap_junctions(s, pz, 30, ga, gb, gg));
    free(a), free(b), free(w), free(d);
    return s;
}

static void test_threads_identical(void)
{
    ax_snn *s1 = random_net(), *s2 = random_net();
    CHECK_OK(ax_snn_run(s1, 300, 1));
    CHECK_OK(ax_snn_run(s2, 300, 2));
    size_t n1, n2;
    const uint32_t *t1, *i1, *t2, *i2;
    CHECK_OK(ax_snn_spikes(s1, &n1, &t1, &i1));
    CHECK_OK(ax_snn_spikes(s2, &n2, &t2, &i2));
    CHECK(n1 == n2 && n1 > 500);
    CHECK(n1 == n2 && (n1 == 0 || (!memcmp(t1, t2, n1 * 4) && !memcmp(i1, i2, n1 * 4))));
    /* and every population spiked */
    int seen[5] = {0};
    for (size_t k = 0; k < n1; k++) {
        uint32_t g = i1[k];
        seen[g < 160 ? 0 : g < 200 ? 1 : g < 237 ? 2 : g < 282 ? 3 : 4] = 1;
    }
    CHECK(seen[0] && seen[1] && seen[2] && seen[3] && seen[4]);
    fprintf(stderr, "  random network: %zu spikes, identical for 1 and 2 threads\n", n1);
    float v1[45], v2[45];
    CHECK_OK(ax_snn_get_state(s1, 3, "v", v1));
    CHECK_OK(ax_snn_get_state(s2, 3, "v", v2));
    CHECK(!memcmp(v1, v2, sizeof v1));
    ax_snn_free(s1);
    ax_snn_free(s2);
}

int main(void)
{
    RUN(test_izh_exact);
    RUN(test_izh_patterns);
    RUN(test_izh_synapse);
    RUN(test_izh_gap_and_errors);
    RUN(test_izh_refractory);
    RUN(test_hh_rest);
    RUN(test_hh_step_vs_reference);
    RUN(test_hh_fi);
    RUN(test_hh_conductance);
    RUN(test_hh_refractory_condition);
    RUN(test_hh_simd_gap_errors);
    RUN(test_lif_fi);
    RUN(test_coba_decay);
    RUN(test_delays);
    RUN(test_threads_identical);
    return TEST_REPORT();
}
