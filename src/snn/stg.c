/* stg.c: the Prinz 2004 pyloric network (include/axon/stg.h, docs/stg.md).
 *
 * Units inside: V mV, t ms, conductances mS (the per-area table times the membrane area
 * A), capacitance uF, currents uA, [Ca] uM. Every step reads only the state at the start
 * of the step (V, [Ca], gates, s) and writes the next state: exponential Euler for V,
 * [Ca], m and h, forward Euler for s (s := s_inf where dt > tau_s). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "axon/stg.h"
#include "core/core_int.h"

/* ---- constants (Prinz et al. 2003, 2004; docs/stg.md) ------------------------------ */
#define AREA_CM2 0.628e-3          /* membrane area */
#define CM_UF (1.0 * AREA_CM2)     /* 1 uF/cm^2 */
#define E_NA 50.0
#define E_K (-80.0)
#define E_H (-20.0)
#define E_LEAK (-50.0)
#define TAU_CA 200.0               /* ms */
#define F_CA 14960.0               /* uM / uA (14.96 uM/nA) */
#define CA_0 0.05                  /* uM */
#define CA_OUT 3000.0              /* uM */
#ifndef RT_ZF
#define RT_ZF 12.2 /* mV: the original code's Nernst factor (docs/stg.md: the cross-check) */
#endif
#define KCA_HALF 3.0               /* uM */
#define SYN_VTH (-35.0)
#define SYN_DELTA 5.0
#define SPIKE_MV (-10.0)
#define BURST_GAP_MS 150.0

/* maximal conductances, mS/cm^2: Na, CaT, CaS, A, KCa, Kd, H, leak */
static const double GBAR_ABPD[5][8] = {
    {400, 2.5, 6, 50, 10, 100, 0.01, 0},
    {100, 2.5, 6, 50, 5, 100, 0.01, 0},
    {200, 2.5, 4, 50, 5, 50, 0.01, 0},
    {200, 5.0, 4, 40, 5, 125, 0.01, 0},
    {300, 2.5, 2, 10, 5, 125, 0.01, 0},
};
static const double GBAR_LP[5][8] = {
    {100, 0, 8, 40, 5, 75, 0.05, 0.02},
    {100, 0, 6, 30, 5, 50, 0.05, 0.02},
    {100, 0, 10, 50, 5, 100, 0, 0.03},
    {100, 0, 4, 20, 0, 25, 0.05, 0.03},
    {100, 0, 6, 30, 0, 50, 0.03, 0.02},
};
static const double GBAR_PY[6][8] = {
    {100, 2.5, 2, 50, 0, 125, 0.05, 0.01},
    {200, 7.5, 0, 50, 0, 75, 0.05, 0},
    {200, 10, 0, 50, 0, 100, 0.03, 0},
    {400, 2.5, 2, 50, 0, 75, 0.05, 0},
    {500, 2.5, 2, 40, 0, 125, 0.01, 0.03},
    {500, 2.5, 2, 40, 0, 125, 0, 0.02},
};

/* synapses: presynaptic cell, postsynaptic cell, E_s (mV), 1/k_- (ms) */
static const struct {
    int pre, post;
    double e_mV, inv_kminus_ms;
} SYN[AX_STG_NSYN] = {
    {AX_STG_ABPD, AX_STG_LP, -70.0, 40.0},  /* AB->LP */
    {AX_STG_ABPD, AX_STG_LP, -80.0, 100.0}, /* PD->LP */
    {AX_STG_ABPD, AX_STG_PY, -70.0, 40.0},  /* AB->PY */
    {AX_STG_ABPD, AX_STG_PY, -80.0, 100.0}, /* PD->PY */
    {AX_STG_LP, AX_STG_ABPD, -70.0, 40.0},  /* LP->AB/PD */
    {AX_STG_LP, AX_STG_PY, -70.0, 40.0},    /* LP->PY */
    {AX_STG_PY, AX_STG_LP, -70.0, 40.0},    /* PY->LP */
};
static const char *const SYN_NAME[AX_STG_NSYN] = {"AB->LP", "PD->LP",    "AB->PY", "PD->PY",
                                                   "LP->AB/PD", "LP->PY", "PY->LP"};

/* Prinz et al. 2004 Fig. 3: models (AB/PD, LP, PY) and the 7 synapses in nS */
static const struct {
    int abpd, lp, py;
    double g[AX_STG_NSYN];
} PANEL[10] = {
    {2, 4, 1, {10, 100, 10, 3, 30, 1, 3}},  /* a */
    {2, 4, 1, {3, 0, 0, 30, 3, 3, 0}},      /* b */
    {2, 4, 1, {100, 0, 30, 1, 0, 3, 0}},    /* c */
    {2, 4, 1, {3, 100, 10, 1, 10, 3, 10}},  /* d */
    {2, 4, 1, {30, 30, 10, 3, 30, 1, 30}},  /* e */
    {4, 5, 5, {3, 100, 10, 1, 10, 3, 10}},  /* f */
    {1, 4, 6, {3, 100, 10, 1, 10, 3, 10}},  /* g */
    {5, 2, 1, {3, 100, 10, 1, 10, 3, 10}},  /* h */
    {1, 4, 5, {3, 100, 10, 1, 10, 3, 10}},  /* i */
    {4, 2, 1, {3, 100, 10, 1, 10, 3, 10}},  /* j */
};

/* ---- gating functions ---------------------------------------------------------------
 * sig(V; a, b) = 1 / (1 + exp((V + a) / b)): 4 FLOPs + 1 exp. */
static inline double sig(double v, double a, double b) { return 1.0 / (1.0 + exp((v + a) / b)); }

/* steady states: m Na CaT CaS A KCa Kd H, h Na CaT CaS A (KCa without its [Ca] factor) */
static inline double minf_na(double v) { return sig(v, 25.5, -5.29); }
static inline double minf_cat(double v) { return sig(v, 27.1, -7.2); }
static inline double minf_cas(double v) { return sig(v, 33.0, -8.1); }
static inline double minf_a(double v) { return sig(v, 27.2, -8.7); }
static inline double minf_kca(double v, double ca) { return ca / (ca + KCA_HALF) * sig(v, 28.3, -12.6); }
static inline double minf_kd(double v) { return sig(v, 12.3, -11.8); }
static inline double minf_h(double v) { return sig(v, 75.0, 5.5); }
static inline double hinf_na(double v) { return sig(v, 48.9, 5.18); }
static inline double hinf_cat(double v) { return sig(v, 32.1, 5.5); }
static inline double hinf_cas(double v) { return sig(v, 60.0, 6.2); }
static inline double hinf_a(double v) { return sig(v, 56.9, 4.9); }

/* time constants, ms */
static inline double taum_na(double v) { return 2.64 - 2.52 * sig(v, 120.0, -25.0); }
static inline double taum_cat(double v) { return 43.4 - 42.6 * sig(v, 68.1, -20.5); }
static inline double taum_cas(double v)
{
    return 2.8 + 14.0 / (exp((v + 27.0) / 10.0) + exp((v + 70.0) / -13.0));
}
static inline double taum_a(double v) { return 23.2 - 20.8 * sig(v, 32.9, -15.2); }
static inline double taum_kca(double v) { return 180.6 - 150.2 * sig(v, 46.0, -22.7); }
static inline double taum_kd(double v) { return 14.4 - 12.8 * sig(v, 28.3, -19.2); }
static inline double taum_h(double v)
{
    return 2.0 / (exp((v + 169.7) / -11.6) + exp((v - 26.7) / 14.3));
}
static inline double tauh_na(double v)
{
    return (1.34 * sig(v, 62.9, -10.0)) * (1.5 + sig(v, 34.9, 3.6));
}
static inline double tauh_cat(double v) { return 210.0 - 179.6 * sig(v, 55.0, -16.9); }
static inline double tauh_cas(double v)
{
    return 120.0 + 300.0 / (exp((v + 55.0) / 9.0) + exp((v + 65.0) / -16.0));
}
static inline double tauh_a(double v) { return 77.2 - 58.4 * sig(v, 38.9, -26.5); }

/* exponential Euler towards xinf with time constant tau: 4 FLOPs + 1 exp */
static inline double relax(double x, double xinf, double tau, double neg_dt)
{
    return xinf + (x - xinf) * exp(neg_dt / tau);
}

static inline double e_ca(double ca) { return RT_ZF * log(CA_OUT / ca); }

/* ---- FLOP accounting (one neuron update, see docs/stg.md) ---------------------------
 * gates (arithmetic FLOPs / exp calls), sig = 4/1, relax = 4/1:
 *   m_Na 14/3, h_Na 19/4, m_CaT 14/3, h_CaT 14/3, m_CaS 15/4, h_CaS 15/4, m_A 14/3,
 *   h_A 14/3, m_KCa 17/3, m_Kd 14/3, m_H 14/4                          = 164 / 37
 *   conductances g m^p h^q: 4 x 4 (p=3, q=1) + 2 x 3 (p=4) + 1 (H)     = 23
 *   calcium: E_Ca 2 + 1 log, I_Ca 3, [Ca]_inf 2, relax 3                = 10 / 1 log
 *   V: sum g 6 + 1 (synaptic), sum g E 9 + 2 (synaptic, external),
 *      V_inf 1, exp argument 2, relax 3                                = 24 / 1 exp
 * total 221 arithmetic + 38 exp + 1 log. */
#define FLOPS_NEURON_ARITH 221
#define FLOPS_NEURON_TRANSC 39
/* synapse: s_inf 4 + 1 exp, tau_s 2, forward Euler 4, g s and g s E 2, their additions
 * into the postsynaptic sums 2 */
#define FLOPS_SYN_ARITH 14
#define FLOPS_SYN_TRANSC 1

int ax_stg_flops_per_step(void)
{
    return FLOPS_NEURON_ARITH + FLOPS_NEURON_TRANSC * AX_STG_FLOPS_PER_TRANSCENDENTAL;
}

int ax_stg_flops_per_synapse_update(void)
{
    return FLOPS_SYN_ARITH + FLOPS_SYN_TRANSC * AX_STG_FLOPS_PER_TRANSCENDENTAL;
}

/* ---- tables ------------------------------------------------------------------------ */

static const char *const CELL_NAME[AX_STG_NCELLS] = {"abpd", "lp", "py"};

static int gbar_row(int cell, int model, const double **row)
{
    static const int nmodels[AX_STG_NCELLS] = {AX_STG_MODELS_ABPD, AX_STG_MODELS_LP,
                                               AX_STG_MODELS_PY};
    if (cell < 0 || cell >= AX_STG_NCELLS)
        return ax__err(AX_E_INVALID, "stg: cell %d out of range (0 AB/PD, 1 LP, 2 PY)", cell);
    if (model < 1 || model > nmodels[cell])
        return ax__err(AX_E_INVALID, "stg: %s model %d out of range (1-%d)", CELL_NAME[cell],
                       model, nmodels[cell]);
    *row = cell == AX_STG_ABPD ? GBAR_ABPD[model - 1]
           : cell == AX_STG_LP ? GBAR_LP[model - 1]
                               : GBAR_PY[model - 1];
    return AX_OK;
}

int ax_stg_cell_gbar(int cell, int model, double gbar[8])
{
    const double *row = NULL;
    int rc = gbar_row(cell, model, &row);
    if (rc) return rc;
    memcpy(gbar, row, 8 * sizeof(double));
    return AX_OK;
}

int ax_stg_panel(char panel, ax_stg_circuit *out)
{
    int k = (panel >= 'A' && panel <= 'J') ? panel - 'A' : panel - 'a';
    if (!out) return ax__err(AX_E_INVALID, "stg: NULL circuit");
    if (k < 0 || k >= 10)
        return ax__err(AX_E_INVALID, "stg: panel '%c' unknown (Prinz 2004 Fig. 3 has a-j)",
                       panel >= 32 && panel < 127 ? panel : '?');
    memset(out, 0, sizeof *out);
    out->abpd = PANEL[k].abpd;
    out->lp = PANEL[k].lp;
    out->py = PANEL[k].py;
    memcpy(out->g_syn_nS, PANEL[k].g, sizeof out->g_syn_nS);
    out->dt_ms = 0.025;
    out->duration_ms = 20000;
    out->noise_nA = 0;
    out->seed = 1;
    out->v0_mV = -50;
    out->stats_from_ms = -1;
    return AX_OK;
}

/* ---- rest state -------------------------------------------------------------------- */

/* calcium conductance (mS) of the gates in s, for the per-area table row g */
static double g_ca(const double *g, const ax_stg_cell_state *s)
{
    return AREA_CM2 * (g[1] * s->m[1] * s->m[1] * s->m[1] * s->h[1] +
                       g[2] * s->m[2] * s->m[2] * s->m[2] * s->h[2]);
}

int ax_stg_cell_rest(int cell, int model, double v_mV, ax_stg_cell_state *out)
{
    const double *g;
    int rc = gbar_row(cell, model, &g);
    if (rc) return rc;
    if (!out) return ax__err(AX_E_INVALID, "stg: NULL state");
    if (!isfinite(v_mV) || fabs(v_mV) > 1000)
        return ax__err(AX_E_INVALID, "stg: v0_mV %g is not a finite voltage", v_mV);
    ax_stg_cell_state s;
    double v = v_mV;
    s.v_mV = v;
    s.m[0] = minf_na(v);
    s.m[1] = minf_cat(v);
    s.m[2] = minf_cas(v);
    s.m[3] = minf_a(v);
    s.m[5] = minf_kd(v);
    s.m[6] = minf_h(v);
    s.h[0] = hinf_na(v);
    s.h[1] = hinf_cat(v);
    s.h[2] = hinf_cas(v);
    s.h[3] = hinf_a(v);
    /* [Ca] - Ca_0 + f I_Ca(v, [Ca]) = 0 is increasing in [Ca] (E_Ca falls as [Ca]
     * rises): bisection on log [Ca] */
    double gc = g_ca(g, &s);
    double lo = log(1e-12), hi = log(1e9);
    for (int it = 0; it < 200 && gc > 0; it++) {
        double mid = 0.5 * (lo + hi), ca = exp(mid);
        double r = ca - CA_0 + F_CA * gc * (v - e_ca(ca));
        if (r > 0)
            hi = mid;
        else
            lo = mid;
    }
    s.ca_uM = gc > 0 ? exp(0.5 * (lo + hi)) : CA_0;
    s.m[4] = minf_kca(v, s.ca_uM);
    *out = s;
    return AX_OK;
}

/* ---- simulation -------------------------------------------------------------------- */

typedef struct {
    double g[8];                  /* mS */
    double v, ca, m[7], h[4];
} cell_t;

/* xoshiro256** seeded by splitmix64, Box-Muller normals */
typedef struct {
    uint64_t s[4];
    double spare;
    int has_spare;
} rng_t;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

static double rng_normal(rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = ((double)(rng_next(r) >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
    double u2 = (double)(rng_next(r) >> 11) * 0x1.0p-53;
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

typedef struct {
    double *t;
    size_t n, cap;
} spikes_t;

static int spikes_push(spikes_t *s, double t)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        double *p = realloc(s->t, cap * sizeof *p);
        if (!p) return ax__err(AX_E_NOMEM, "stg: out of memory for spike times");
        s->t = p;
        s->cap = cap;
    }
    s->t[s->n++] = t;
    return AX_OK;
}

size_t ax_stg_n_samples(const ax_stg_circuit *c, double sample_ms)
{
    if (!c || !(sample_ms > 0) || !isfinite(sample_ms) || !(c->duration_ms > 0) ||
        !isfinite(c->duration_ms))
        return 0;
    double n = floor(c->duration_ms / sample_ms + 1e-9);
    if (n > 1e15) return 0;
    return (size_t)n + 1;
}

static int validate(const ax_stg_circuit *c)
{
    const double *row = NULL;
    int rc;
    if (!c) return ax__err(AX_E_INVALID, "stg: NULL circuit");
    if ((rc = gbar_row(AX_STG_ABPD, c->abpd, &row)) || (rc = gbar_row(AX_STG_LP, c->lp, &row)) ||
        (rc = gbar_row(AX_STG_PY, c->py, &row)))
        return rc;
    if (!isfinite(c->dt_ms) || !(c->dt_ms > 0) || c->dt_ms > 1)
        return ax__err(AX_E_INVALID, "stg: dt_ms %g must be in (0, 1] ms", c->dt_ms);
    if (!isfinite(c->duration_ms) || !(c->duration_ms > 0))
        return ax__err(AX_E_INVALID, "stg: duration_ms %g must be finite and > 0",
                       c->duration_ms);
    if (c->duration_ms / c->dt_ms > 1e8)
        return ax__err(AX_E_INVALID, "stg: duration_ms / dt_ms = %g steps (at most 1e8)",
                       c->duration_ms / c->dt_ms);
    if (c->duration_ms / c->dt_ms < 0.5)
        return ax__err(AX_E_INVALID, "stg: duration_ms %g is shorter than half a step",
                       c->duration_ms);
    for (int k = 0; k < AX_STG_NSYN; k++)
        if (!isfinite(c->g_syn_nS[k]) || c->g_syn_nS[k] < 0 || c->g_syn_nS[k] > 1e6)
            return ax__err(AX_E_INVALID, "stg: g_syn_nS[%d] (%s) = %g must be in [0, 1e6] nS",
                           k, SYN_NAME[k], c->g_syn_nS[k]);
    if (!isfinite(c->noise_nA) || c->noise_nA < 0 || c->noise_nA > 1e6)
        return ax__err(AX_E_INVALID, "stg: noise_nA %g must be finite and >= 0", c->noise_nA);
    if (!isfinite(c->v0_mV) || fabs(c->v0_mV) > 200)
        return ax__err(AX_E_INVALID, "stg: v0_mV %g must be in [-200, 200] mV", c->v0_mV);
    if (!(c->stats_from_ms < c->duration_ms) || isnan(c->stats_from_ms))
        return ax__err(AX_E_INVALID, "stg: stats_from_ms %g must be < duration_ms %g",
                       c->stats_from_ms, c->duration_ms);
    return AX_OK;
}

/* One step of one cell from its old state (read only) into *nx. gsyn (mS) and gsyn_e
 * (mS mV) are the synaptic sums, i_ext (uA) the external current. */
static inline void cell_step(const cell_t *o, cell_t *nx, double gsyn, double gsyn_e,
                             double i_ext, double dt, double ca_decay)
{
    const double v = o->v, neg_dt = -dt;
    const double *g = o->g;
    /* conductances from the old gates */
    double m0 = o->m[0], m1 = o->m[1], m2 = o->m[2], m3 = o->m[3];
    double k4 = o->m[4] * o->m[4], k5 = o->m[5] * o->m[5];
    double c_na = g[0] * (m0 * m0 * m0) * o->h[0];
    double c_cat = g[1] * (m1 * m1 * m1) * o->h[1];
    double c_cas = g[2] * (m2 * m2 * m2) * o->h[2];
    double c_a = g[3] * (m3 * m3 * m3) * o->h[3];
    double c_kca = g[4] * (k4 * k4);
    double c_kd = g[5] * (k5 * k5);
    double c_h = g[6] * o->m[6];
    double c_l = g[7];
    /* calcium */
    double eca = e_ca(o->ca);
    double c_ca = c_cat + c_cas;
    double i_ca = c_ca * (v - eca);
    double ca_inf = CA_0 - F_CA * i_ca;
    nx->ca = ca_inf + (o->ca - ca_inf) * ca_decay;
    /* membrane: linear in V with everything else held */
    double c_k = c_a + c_kca + c_kd;
    double gsum = c_na + c_ca + c_k + c_h + c_l + gsyn;
    double gesum = c_na * E_NA + c_ca * eca + c_k * E_K + c_h * E_H + c_l * E_LEAK + gsyn_e + i_ext;
    double vinf = gesum / gsum;
    nx->v = vinf + (v - vinf) * exp(neg_dt * gsum / CM_UF);
    /* gates from the old V (and the old [Ca]) */
    nx->m[0] = relax(o->m[0], minf_na(v), taum_na(v), neg_dt);
    nx->m[1] = relax(o->m[1], minf_cat(v), taum_cat(v), neg_dt);
    nx->m[2] = relax(o->m[2], minf_cas(v), taum_cas(v), neg_dt);
    nx->m[3] = relax(o->m[3], minf_a(v), taum_a(v), neg_dt);
    nx->m[4] = relax(o->m[4], minf_kca(v, o->ca), taum_kca(v), neg_dt);
    nx->m[5] = relax(o->m[5], minf_kd(v), taum_kd(v), neg_dt);
    nx->m[6] = relax(o->m[6], minf_h(v), taum_h(v), neg_dt);
    nx->h[0] = relax(o->h[0], hinf_na(v), tauh_na(v), neg_dt);
    nx->h[1] = relax(o->h[1], hinf_cat(v), tauh_cat(v), neg_dt);
    nx->h[2] = relax(o->h[2], hinf_cas(v), tauh_cas(v), neg_dt);
    nx->h[3] = relax(o->h[3], hinf_a(v), tauh_a(v), neg_dt);
}

/* ---- statistics -------------------------------------------------------------------- */

typedef struct {
    double on, off;
} burst_t;

/* counted bursts (>= 2 spikes, wholly inside [t0, t1]) of one spike train into b */
static size_t find_bursts(const spikes_t *s, double t0, double t1, burst_t *b)
{
    size_t nb = 0, i = 0;
    while (i < s->n) {
        size_t j = i;
        while (j + 1 < s->n && s->t[j + 1] - s->t[j] < BURST_GAP_MS) j++;
        if (j > i && s->t[i] >= t0 && s->t[j] + BURST_GAP_MS <= t1) {
            b[nb].on = s->t[i];
            b[nb].off = s->t[j];
            nb++;
        }
        i = j + 1;
    }
    return nb;
}

static int compute_stats(spikes_t sp[AX_STG_NCELLS], double t0, double t1, ax_stg_stats *st)
{
    burst_t *b[AX_STG_NCELLS] = {0};
    size_t nb[AX_STG_NCELLS];
    int rc = AX_OK;
    st->t0_ms = t0;
    st->t1_ms = t1;
    for (int c = 0; c < AX_STG_NCELLS; c++) {
        b[c] = malloc((sp[c].n / 2 + 1) * sizeof(burst_t));
        if (!b[c]) {
            rc = ax__err(AX_E_NOMEM, "stg: out of memory for bursts");
            goto done;
        }
        nb[c] = find_bursts(&sp[c], t0, t1, b[c]);
        int n = 0;
        for (size_t i = 0; i < sp[c].n; i++) n += sp[c].t[i] >= t0 && sp[c].t[i] < t1;
        st->n_spikes[c] = n;
        st->rate_hz[c] = n / ((t1 - t0) * 1e-3);
        st->n_bursts[c] = (int)nb[c];
        st->bursting[c] = nb[c] >= 2;
        st->silent[c] = n == 0;
        st->tonic[c] = n > 0 && !st->bursting[c];
        double sum = 0;
        for (size_t i = 0; i < nb[c]; i++) sum += b[c][i].off - b[c][i].on;
        st->burst_ms[c] = nb[c] ? sum / (double)nb[c] : NAN;
    }
    size_t n0 = nb[AX_STG_ABPD];
    const burst_t *b0 = b[AX_STG_ABPD];
    st->period_ms = n0 >= 2 ? (b0[n0 - 1].on - b0[0].on) / (double)(n0 - 1) : NAN;
    for (int c = 0; c < AX_STG_NCELLS; c++) {
        st->duty[c] = st->burst_ms[c] / st->period_ms; /* NaN propagates */
        if (c == AX_STG_ABPD) {
            st->onset_phase[c] = 0;
            continue;
        }
        double sum = 0;
        int cnt = 0;
        size_t j = 0;
        for (size_t i = 0; i < n0 && !isnan(st->period_ms); i++) {
            double o = b0[i].on, bound = i + 1 < n0 ? b0[i + 1].on : o + st->period_ms;
            while (j < nb[c] && b[c][j].on < o) j++;
            if (j < nb[c] && b[c][j].on < bound) {
                sum += b[c][j].on - o;
                cnt++;
            }
        }
        st->onset_phase[c] = cnt ? sum / cnt / st->period_ms : NAN;
    }
    double pl = st->onset_phase[AX_STG_LP], pp = st->onset_phase[AX_STG_PY];
    st->triphasic = st->bursting[0] && st->bursting[1] && st->bursting[2] && pl > 0 &&
                    pl < pp && pp < 1;
done:
    for (int c = 0; c < AX_STG_NCELLS; c++) free(b[c]);
    return rc;
}

int ax_stg_run(const ax_stg_circuit *c, double sample_ms, float *v_out, size_t n_samples,
               ax_stg_stats *stats)
{
    int rc = validate(c);
    if (rc) return rc;
    if (v_out && n_samples) {
        size_t max = ax_stg_n_samples(c, sample_ms);
        if (!max)
            return ax__err(AX_E_INVALID, "stg: sample_ms %g must be finite and > 0", sample_ms);
        if (n_samples > max)
            return ax__err(AX_E_INVALID,
                           "stg: n_samples %zu exceeds the %zu samples of %g ms every %g ms",
                           n_samples, max, c->duration_ms, sample_ms);
    }
    const double dt = c->dt_ms;
    const int64_t nsteps = (int64_t)llround(c->duration_ms / dt);
    const double t_end = (double)nsteps * dt;
    double t0 = c->stats_from_ms < 0 ? 0.5 * t_end : c->stats_from_ms;

    /* initial state */
    int model[AX_STG_NCELLS] = {c->abpd, c->lp, c->py};
    cell_t cur[AX_STG_NCELLS], nxt[AX_STG_NCELLS];
    for (int j = 0; j < AX_STG_NCELLS; j++) {
        ax_stg_cell_state r;
        if ((rc = ax_stg_cell_rest(j, model[j], c->v0_mV, &r))) return rc;
        const double *row = NULL;
        gbar_row(j, model[j], &row);
        for (int k = 0; k < 8; k++) cur[j].g[k] = row[k] * AREA_CM2;
        cur[j].v = r.v_mV;
        cur[j].ca = r.ca_uM;
        memcpy(cur[j].m, r.m, sizeof r.m);
        memcpy(cur[j].h, r.h, sizeof r.h);
        nxt[j] = cur[j];
    }
    double s[AX_STG_NSYN], gs[AX_STG_NSYN], ks[AX_STG_NSYN];
    for (int k = 0; k < AX_STG_NSYN; k++) {
        s[k] = 1.0 / (1.0 + exp((SYN_VTH - c->v0_mV) / SYN_DELTA));
        gs[k] = c->g_syn_nS[k] * 1e-6; /* nS -> mS */
        ks[k] = SYN[k].inv_kminus_ms;
    }
    rng_t rng = {{0}, 0, 0};
    uint64_t seed = c->seed;
    for (int k = 0; k < 4; k++) rng.s[k] = splitmix(&seed);
    const double noise_uA = c->noise_nA * 1e-3;
    const double ca_decay = exp(-dt / TAU_CA);

    spikes_t sp[AX_STG_NCELLS] = {{0}};
    size_t next_sample = 0;
    int64_t next_sample_step = 0;
    if (!v_out) n_samples = 0;

    for (int64_t i = 0;; i++) {
        while (next_sample < n_samples && next_sample_step <= i) {
            for (int j = 0; j < AX_STG_NCELLS; j++)
                v_out[3 * next_sample + (size_t)j] = (float)cur[j].v;
            next_sample++;
            next_sample_step = (int64_t)llround((double)next_sample * sample_ms / dt);
            if (next_sample_step > nsteps) next_sample_step = nsteps;
        }
        if (i == nsteps) break;
        if ((i & 0xffff) == 0xffff && ax_interrupt_requested()) {
            rc = ax__err(AX_E_INTERRUPTED, "stg: interrupted at t = %g ms", (double)i * dt);
            goto done;
        }
        /* synaptic input from the old s */
        double gsyn[AX_STG_NCELLS] = {0}, gsyn_e[AX_STG_NCELLS] = {0};
        for (int k = 0; k < AX_STG_NSYN; k++) {
            double gk = gs[k] * s[k];
            gsyn[SYN[k].post] += gk;
            gsyn_e[SYN[k].post] += gk * SYN[k].e_mV;
        }
        for (int j = 0; j < AX_STG_NCELLS; j++) {
            double i_ext = noise_uA > 0 ? noise_uA * rng_normal(&rng) : 0.0;
            cell_step(&cur[j], &nxt[j], gsyn[j], gsyn_e[j], i_ext, dt, ca_decay);
        }
        /* synapses from the old V_pre */
        for (int k = 0; k < AX_STG_NSYN; k++) {
            double sinf = 1.0 / (1.0 + exp((SYN_VTH - cur[SYN[k].pre].v) / SYN_DELTA));
            double tau = (1.0 - sinf) * ks[k];
            s[k] = dt > tau ? sinf : s[k] + (sinf - s[k]) * dt / tau;
        }
        for (int j = 0; j < AX_STG_NCELLS; j++) {
            double va = cur[j].v, vb = nxt[j].v;
            if (va < SPIKE_MV && vb >= SPIKE_MV &&
                (rc = spikes_push(&sp[j], ((double)i + (SPIKE_MV - va) / (vb - va)) * dt)))
                goto done;
            if (!isfinite(vb)) {
                rc = ax__err(AX_E_INTERNAL, "stg: V of cell %d diverged at t = %g ms", j,
                             (double)(i + 1) * dt);
                goto done;
            }
            cur[j] = nxt[j];
        }
    }
    if (stats) {
        memset(stats, 0, sizeof *stats);
        rc = compute_stats(sp, t0, t_end, stats);
        stats->steps = nsteps;
    }
done:
    for (int j = 0; j < AX_STG_NCELLS; j++) free(sp[j].t);
    return rc;
}
