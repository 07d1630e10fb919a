/* test_stg.c: the Prinz 2004 pyloric network (include/axon/stg.h).
 *
 * Reference figures: docs/stg.md and /work/shared/data/models/stg_prinz2004.md (a numpy
 * re-simulation: V0 -50 mV, gates at steady state, 20 s, stats over 10-20 s).
 *   a, f: AB/PD silent, LP tonic at 19.5 and 6.6 Hz, PY silent      (rate: +-0.5 Hz)
 *   e: period 1778 ms, duty 0.31/0.22/0.40, onset phases 0.49/0.57
 *   j: period 1816 ms, duty 0.38/0.15/0.32, onset phases 0.57/0.65
 * Tolerances for e and j: period and onset phases within 10 %; duty cycles within 0.04
 * absolute (10 % of 0.4; the rhythm is irregular: e's LP bursts alternate between about
 * 405 and 500 ms from cycle to cycle, so a 5-burst mean moves by ~0.03 with any change of
 * the numerics, e.g. dt 0.025 -> 0.01 or RT/zF 12.2 -> 12.19).
 * Each full 20 s run at dt 0.025 takes ~0.5 s at -O2; the whole test ~2 s, ~3 s under ASan. */
#include <math.h>

#include "axon/stg.h"
#include "test.h"

static bool near(double a, double b, double tol) { return fabs(a - b) <= tol; }
static bool rel(double a, double ref, double frac) { return fabs(a - ref) <= frac * fabs(ref); }

/* ---- x_inf written out from the model table (docs/stg.md), independent of stg.c --- */
static double sg(double v, double a, double b) { return 1 / (1 + exp((v + a) / b)); }

static void test_rest_state(void)
{
    const int nmodels[3] = {5, 5, 6};
    for (int cell = 0; cell < 3; cell++)
        for (int model = 1; model <= nmodels[cell]; model++) {
            double v = -50, g[8];
            ax_stg_cell_state s;
            CHECK_OK(ax_stg_cell_rest(cell, model, v, &s));
            CHECK_OK(ax_stg_cell_gbar(cell, model, g));
            const double minf[7] = {sg(v, 25.5, -5.29), sg(v, 27.1, -7.2), sg(v, 33, -8.1),
                                    sg(v, 27.2, -8.7), s.ca_uM / (s.ca_uM + 3) * sg(v, 28.3, -12.6),
                                    sg(v, 12.3, -11.8), sg(v, 75, 5.5)};
            const double hinf[4] = {sg(v, 48.9, 5.18), sg(v, 32.1, 5.5), sg(v, 60, 6.2),
                                    sg(v, 56.9, 4.9)};
            for (int k = 0; k < 7; k++) CHECK(near(s.m[k], minf[k], 1e-12));
            for (int k = 0; k < 4; k++) CHECK(near(s.h[k], hinf[k], 1e-12));
            CHECK(s.v_mV == v);
            /* calcium equilibrium: [Ca] = Ca_0 - f I_Ca, f = 14.96 uM/nA, I_Ca in nA
             * (mS/cm^2 * 0.628e-3 cm^2 * mV = uA) */
            double eca = 12.2 * log(3000 / s.ca_uM);
            double ica_nA = 1e3 * 0.628e-3 *
                            (g[1] * pow(s.m[1], 3) * s.h[1] + g[2] * pow(s.m[2], 3) * s.h[2]) *
                            (v - eca);
            CHECK(rel(s.ca_uM, 0.05 - 14.96 * ica_nA, 1e-9));
            CHECK(s.ca_uM > 0.05); /* inward calcium current at -50 mV raises [Ca] */
        }
    /* the table: AB/PD 1 and PY 6 */
    double g[8];
    CHECK_OK(ax_stg_cell_gbar(AX_STG_ABPD, 1, g));
    CHECK(g[0] == 400 && g[1] == 2.5 && g[4] == 10 && g[6] == 0.01 && g[7] == 0);
    CHECK_OK(ax_stg_cell_gbar(AX_STG_PY, 6, g));
    CHECK(g[0] == 500 && g[5] == 125 && g[6] == 0 && g[7] == 0.02);
    CHECK(ax_stg_flops_per_step() == 221 + 39 * AX_STG_FLOPS_PER_TRANSCENDENTAL);
    CHECK(ax_stg_flops_per_synapse_update() == 14 + AX_STG_FLOPS_PER_TRANSCENDENTAL);
}

/* Isolated cells (no synapses): a cell's trace does not depend on the other cells, the
 * run starts at v0, it is deterministic, and halving dt moves V little before the
 * first spike (exponential Euler is first order: the difference should halve). */
static void test_isolated(void)
{
    ax_stg_circuit c;
    CHECK_OK(ax_stg_panel('e', &c));
    for (int k = 0; k < AX_STG_NSYN; k++) c.g_syn_nS[k] = 0;
    c.duration_ms = 300;
    size_t n = ax_stg_n_samples(&c, 0.5);
    CHECK(n == 601);
    float *v1 = calloc(n * 3, sizeof(float)), *v2 = calloc(n * 3, sizeof(float));
    CHECK_OK(ax_stg_run(&c, 0.5, v1, n, NULL));
    CHECK(v1[0] == -50 && v1[1] == -50 && v1[2] == -50);
    c.abpd = 1;
    c.py = 6;
    CHECK_OK(ax_stg_run(&c, 0.5, v2, n, NULL));
    int same_lp = 1, diff_abpd = 0;
    for (size_t i = 0; i < n; i++) {
        same_lp &= v1[3 * i + 1] == v2[3 * i + 1];
        diff_abpd |= v1[3 * i] != v2[3 * i];
    }
    CHECK(same_lp && diff_abpd);
    /* the same run twice is bit-identical */
    float *v3 = calloc(n * 3, sizeof(float));
    CHECK_OK(ax_stg_run(&c, 0.5, v3, n, NULL));
    CHECK(memcmp(v2, v3, n * 3 * sizeof(float)) == 0);
    /* dt convergence over the first 20 ms (before any spike): |V(dt) - V(dt/8)| at
     * dt 0.05 is about twice that at dt 0.025 */
    double err[2];
    for (int r = 0; r < 2; r++) {
        ax_stg_circuit a = c, b = c;
        a.duration_ms = b.duration_ms = 20;
        a.dt_ms = r ? 0.025 : 0.05;
        b.dt_ms = a.dt_ms / 8;
        float va[3 * 41], vb[3 * 41];
        CHECK_OK(ax_stg_run(&a, 0.5, va, 41, NULL));
        CHECK_OK(ax_stg_run(&b, 0.5, vb, 41, NULL));
        err[r] = 0;
        for (int i = 0; i < 3 * 41; i++) err[r] = fmax(err[r], fabs(va[i] - vb[i]));
    }
    CHECK(err[1] < 0.5 && err[1] > 0);
    CHECK(err[0] / err[1] > 1.6 && err[0] / err[1] < 2.5);
    /* noise: deterministic per seed, different across seeds */
    c.noise_nA = 0.5;
    c.seed = 7;
    CHECK_OK(ax_stg_run(&c, 0.5, v1, n, NULL));
    CHECK_OK(ax_stg_run(&c, 0.5, v2, n, NULL));
    CHECK(memcmp(v1, v2, n * 3 * sizeof(float)) == 0);
    c.seed = 8;
    CHECK_OK(ax_stg_run(&c, 0.5, v2, n, NULL));
    CHECK(memcmp(v1, v2, n * 3 * sizeof(float)) != 0);
    free(v1);
    free(v2);
    free(v3);
}

static void run_panel(char p, ax_stg_stats *st)
{
    ax_stg_circuit c;
    CHECK_OK(ax_stg_panel(p, &c));
    memset(st, 0, sizeof *st);
    CHECK_OK(ax_stg_run(&c, 1, NULL, 0, st));
    fprintf(stderr,
            "  panel %c: rate %.2f %.2f %.2f Hz, bursting %d%d%d tonic %d%d%d silent %d%d%d, "
            "period %.0f ms, duty %.3f %.3f %.3f, phase LP %.3f PY %.3f\n",
            p, st->rate_hz[0], st->rate_hz[1], st->rate_hz[2], st->bursting[0], st->bursting[1],
            st->bursting[2], st->tonic[0], st->tonic[1], st->tonic[2], st->silent[0],
            st->silent[1], st->silent[2], st->period_ms, st->duty[0], st->duty[1], st->duty[2],
            st->onset_phase[1], st->onset_phase[2]);
}

static void test_tonic_panels(void)
{
    const char panels[2] = {'a', 'f'};
    const double lp_hz[2] = {19.5, 6.6};
    for (int k = 0; k < 2; k++) {
        ax_stg_stats st;
        run_panel(panels[k], &st);
        CHECK(st.silent[0] && st.tonic[1] && st.silent[2]);
        CHECK(!st.bursting[0] && !st.bursting[1] && !st.bursting[2] && !st.triphasic);
        CHECK(near(st.rate_hz[1], lp_hz[k], 0.5));
        CHECK(isnan(st.period_ms) && isnan(st.duty[1]));
        CHECK(st.t0_ms == 10000 && st.t1_ms == 20000 && st.steps == 800000);
    }
}

static void test_triphasic_panels(void)
{
    const char panels[2] = {'e', 'j'};
    const double period[2] = {1778, 1816};
    const double duty[2][3] = {{0.31, 0.22, 0.40}, {0.38, 0.15, 0.32}};
    const double phase[2][2] = {{0.49, 0.57}, {0.57, 0.65}};
    for (int k = 0; k < 2; k++) {
        ax_stg_stats st;
        run_panel(panels[k], &st);
        CHECK(st.triphasic);
        CHECK(st.bursting[0] && st.bursting[1] && st.bursting[2]);
        CHECK(!st.tonic[0] && !st.silent[1] && !st.silent[2]);
        CHECK(rel(st.period_ms, period[k], 0.10));
        for (int c = 0; c < 3; c++) CHECK(near(st.duty[c], duty[k][c], 0.04));
        CHECK(rel(st.onset_phase[1], phase[k][0], 0.10));
        CHECK(rel(st.onset_phase[2], phase[k][1], 0.10));
        CHECK(st.onset_phase[0] == 0);
        CHECK(st.n_bursts[0] >= 4 && st.n_spikes[0] > 50);
    }
}

static void test_bad_input(void)
{
    ax_stg_circuit c, b;
    ax_stg_stats st;
    CHECK_ERR(ax_stg_panel('k', &c), AX_E_INVALID, "panel 'k'");
    CHECK_OK(ax_stg_panel('E', &c));
    CHECK(c.abpd == 2 && c.lp == 4 && c.py == 1 && c.g_syn_nS[6] == 30 && c.dt_ms == 0.025);
    b = c, b.abpd = 6;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "abpd model 6");
    b = c, b.lp = 0;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "lp model 0");
    b = c, b.py = 7;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "py model 7");
    b = c, b.dt_ms = -0.025;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "dt_ms");
    b = c, b.dt_ms = NAN;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "dt_ms");
    b = c, b.duration_ms = 0;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "duration_ms");
    b = c, b.duration_ms = INFINITY;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "duration_ms");
    b = c, b.g_syn_nS[4] = -1;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "g_syn_nS[4] (LP->AB/PD)");
    b = c, b.noise_nA = NAN;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "noise_nA");
    b = c, b.v0_mV = INFINITY;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "v0_mV");
    b = c, b.stats_from_ms = 20000;
    CHECK_ERR(ax_stg_run(&b, 1, NULL, 0, &st), AX_E_INVALID, "stats_from_ms");
    b = c, b.duration_ms = 10;
    float v[3 * 12];
    CHECK(ax_stg_n_samples(&b, 1) == 11);
    CHECK_ERR(ax_stg_run(&b, 1, v, 12, NULL), AX_E_INVALID, "n_samples 12");
    CHECK_ERR(ax_stg_run(&b, 0, v, 5, NULL), AX_E_INVALID, "sample_ms");
    CHECK_ERR(ax_stg_run(NULL, 1, NULL, 0, NULL), AX_E_INVALID, "NULL");
    ax_stg_cell_state s;
    CHECK_ERR(ax_stg_cell_rest(3, 1, -50, &s), AX_E_INVALID, "cell 3");
    CHECK_ERR(ax_stg_cell_rest(AX_STG_PY, 7, -50, &s), AX_E_INVALID, "py model 7");
    /* a short run with its own window: stats over [5, 10] ms, no spikes there */
    b.stats_from_ms = 5;
    CHECK_OK(ax_stg_run(&b, 1, v, 11, &st));
    CHECK(st.t0_ms == 5 && st.t1_ms == 10 && st.steps == 400);
}

int main(void)
{
    RUN(test_rest_state);
    RUN(test_isolated);
    RUN(test_bad_input);
    RUN(test_tonic_panels);
    RUN(test_triphasic_panels);
    return TEST_REPORT();
}
