/* model_lif.c: integrate-and-fire neurons (current- and conductance-based, exponential
 * synapses) and the spike sources (Poisson, given spike times).
 *
 * Both LIF models are linear between spikes once the synaptic conductances are fixed
 * over a step, so they are integrated exactly: "lif" (the Shiu et al. 2024 fly-brain form)
 * as the exact solution of its 2-d linear system, "lif_coba" (Brette et al. 2007 COBA) by
 * exponential Euler, which is what Brian2's exponential_euler does: exact for v given ge,
 * gi at the start of the step, exact for the conductances. */
#include <string.h>

#include "snn/snn_int.h"

static int64_t refr_steps(double refr_ms, double dt)
{
    /* Brian2: timestep(t - lastspike) >= timestep(refractory), timestep(x) = int(x/dt + 1e-3) */
    return (int64_t)floor(refr_ms / dt + 1e-3);
}

static int positive(const ax__snn_pop *p, int k)
{
    if (!(p->p[k] > 0))
        return ax__err(AX_E_INVALID, "population %s: parameter %s = %g must be > 0", p->name,
                       p->m->param[k].name, p->p[k]);
    return AX_OK;
}

/* threshold for [i0, i1): spike when v > v_th and not refractory. Spikes are rare, so
 * blocks of 64 are tested with a vectorisable any() first. */
AX_SNN_CLONES static uint32_t threshold_scan(const float *restrict v, int32_t *restrict rl,
                                             int64_t *restrict last, uint32_t i0, uint32_t i1,
                                             float vth, int32_t rs, int64_t step, uint32_t *spk)
{
    uint32_t n = 0;
    for (uint32_t b = i0; b < i1; b += 64) {
        uint32_t e = b + 64 < i1 ? b + 64 : i1;
        int any = 0;
        for (uint32_t i = b; i < e; i++) any |= (v[i] > vth) & (rl[i] == 0);
        if (!any) continue;
        for (uint32_t i = b; i < e; i++)
            if (v[i] > vth && rl[i] == 0) {
                last[i] = step;
                rl[i] = rs;
                spk[n++] = i;
            }
    }
    return n;
}

/* ---- lif: dv/dt = (v_rest - v + g + I_e) / tau_m, dg/dt = -g / tau_syn --------------- */
enum { L_VREST, L_VRESET, L_VTH, L_TAUM, L_TAUS, L_REFR, L_HOLD, L_RESETG };
enum { LS_V, LS_G, LS_IE };

static int lif_prepare(ax__snn_pop *p, double dt)
{
    int rc;
    if ((rc = positive(p, L_TAUM)) || (rc = positive(p, L_TAUS))) return rc;
    if (p->p[L_REFR] < 0)
        return ax__err(AX_E_INVALID, "population %s: parameter refractory = %g must be >= 0", p->name, p->p[L_REFR]);
    double tm = p->p[L_TAUM], ts = p->p[L_TAUS];
    double e1 = exp(-dt / tm), e2 = exp(-dt / ts);
    p->c[0] = e1;
    p->c[1] = e2;
    p->c[2] = fabs(ts - tm) < 1e-9 * tm ? dt / tm * e1 : ts / (ts - tm) * (e2 - e1);
    p->refr_steps = refr_steps(p->p[L_REFR], dt);
    return AX_OK;
}

/* the dynamics, one instance per (gap junctions, hold g) combination, everything in
 * arguments so it vectorises, with an AVX2 clone */
#define LIF_DYN(NAME, GAP, HOLD)                                                              \
    AX_SNN_CLONES static void NAME(float *restrict v, float *restrict g,                    \
                                   const float *restrict ie, const float *restrict gap,     \
                                   int32_t *restrict rl, uint32_t i0, uint32_t i1, float e1, \
                                   float e2, float k, float vrest)                          \
    {                                                                                       \
        (void)gap;                                                                          \
        for (uint32_t i = i0; i < i1; i++) {                                                \
            int32_t r = rl[i] - 1;                                                          \
            r = r < 0 ? 0 : r;                                                              \
            rl[i] = r;                                                                      \
            float vinf = vrest + ie[i] + GAP;                                               \
            float vn = vinf + (v[i] - vinf) * e1 + g[i] * k;                                \
            v[i] = r == 0 ? vn : v[i];                                                      \
            float gn = g[i] * e2;                                                           \
            g[i] = HOLD ? (r == 0 ? gn : g[i]) : gn;                                        \
        }                                                                                   \
    }
LIF_DYN(lif_dyn, 0.0f, 0)
LIF_DYN(lif_dyn_hold, 0.0f, 1)
LIF_DYN(lif_dyn_gap, gap[i], 0)
LIF_DYN(lif_dyn_gap_hold, gap[i], 1)

static uint32_t lif_update(ax__snn_pop *p, uint32_t i0, uint32_t i1, int64_t step, uint32_t *spk)
{
    bool hold = p->p[L_HOLD] != 0;
    void (*f)(float *restrict, float *restrict, const float *restrict, const float *restrict, int32_t *restrict,
              uint32_t, uint32_t, float, float, float, float) =
        p->i_gap ? (hold ? lif_dyn_gap_hold : lif_dyn_gap) : (hold ? lif_dyn_hold : lif_dyn);
    f(p->s[LS_V], p->s[LS_G], p->s[LS_IE], p->i_gap, p->refr_left, i0, i1, (float)p->c[0], (float)p->c[1],
      (float)p->c[2], (float)p->p[L_VREST]);
    return threshold_scan(p->s[LS_V], p->refr_left, p->last_spike, i0, i1, (float)p->p[L_VTH],
                          (int32_t)p->refr_steps, step, spk);
}

static void lif_reset(ax__snn_pop *p, const uint32_t *spk, uint32_t n, int64_t step)
{
    (void)step;
    const float vr = (float)p->p[L_VRESET];
    const bool rg = p->p[L_RESETG] != 0;
    for (uint32_t j = 0; j < n; j++) {
        p->s[LS_V][spk[j]] = vr;
        if (rg) p->s[LS_G][spk[j]] = 0;
    }
}

const ax__snn_model ax__model_lif = {
    .name = "lif",
    .doc = "current-based LIF with an exponential synaptic drive (Shiu et al. 2024 form): "
           "dv/dt = (v_rest - v + g + I_e)/tau_m, dg/dt = -g/tau_syn; exact integration",
    .n_state = 3,
    .state = {"v", "g", "I_e"},
    .state_unit = {"mV", "mV", "mV"},
    .n_param = 8,
    .param = {{"v_rest", -52, "mV", "resting potential v_0"},
              {"v_reset", -52, "mV", "reset potential"},
              {"v_th", -45, "mV", "threshold (spike when v > v_th)"},
              {"tau_m", 20, "ms", "membrane time constant"},
              {"tau_syn", 5, "ms", "synaptic time constant"},
              {"refractory", 2.2, "ms", "refractory period"},
              {"hold_g_refractory", 1, "", "1: g is held (not decayed) while refractory, as in Shiu 2024"},
              {"reset_g", 1, "", "1: g is set to 0 at a spike, as in Shiu 2024"}},
    .prepare = lif_prepare,
    .update = lif_update,
    .reset = lif_reset,
    /* vinf: 2 adds (+1 with gap junctions); v: sub, mul, add, mul, add; g: mul; threshold: 1 */
    .flops_update = 9,
    .flops_spike = 1,
    .gap_state = LS_V,
};

/* ---- lif_coba: Brette et al. 2007 COBA ------------------------------------------------ *
 * dv/dt = (ge (E_e - v) + gi (E_i - v) + (v_rest - v) + I_e) / tau_m,
 * dge/dt = -ge/tau_e, dgi/dt = -gi/tau_i; conductances in units of the leak conductance */
enum { C_VREST, C_VRESET, C_VTH, C_TAUM, C_TAUE, C_TAUI, C_EE, C_EI, C_REFR };
enum { CS_V, CS_GE, CS_GI, CS_IE };

static int coba_prepare(ax__snn_pop *p, double dt)
{
    int rc;
    if ((rc = positive(p, C_TAUM)) || (rc = positive(p, C_TAUE)) || (rc = positive(p, C_TAUI))) return rc;
    if (p->p[C_REFR] < 0)
        return ax__err(AX_E_INVALID, "population %s: parameter refractory = %g must be >= 0", p->name, p->p[C_REFR]);
    p->c[0] = exp(-dt / p->p[C_TAUE]);
    p->c[1] = exp(-dt / p->p[C_TAUI]);
    p->c[2] = -dt / p->p[C_TAUM];
    p->refr_steps = refr_steps(p->p[C_REFR], dt);
    return AX_OK;
}

/* the dynamics of [i0, i1): branch-free, with everything in arguments, so the compiler
 * vectorises it (fields read through the struct kept it scalar) */
#define COBA_DYN(NAME, GAP)                                                                   \
    AX_SNN_CLONES static void NAME(float *restrict v, float *restrict ge, float *restrict gi,             \
                     const float *restrict ie, const float *restrict gap,                   \
                     int32_t *restrict rl, uint32_t i0, uint32_t i1, float a, float de,     \
                     float di, float vrest, float Ee, float Ei)                             \
    {                                                                                       \
        (void)gap;                                                                          \
        for (uint32_t i = i0; i < i1; i++) {                                                \
            int32_t r = rl[i] - 1;                                                          \
            r = r < 0 ? 0 : r;                                                              \
            rl[i] = r;                                                                      \
            float G = 1.0f + ge[i] + gi[i];                                                 \
            float num = vrest + ie[i] + ge[i] * Ee + gi[i] * Ei + GAP;                      \
            float vinf = num / G;                                                           \
            float vn = vinf + (v[i] - vinf) * ax__expf(a * G);                              \
            v[i] = r == 0 ? vn : v[i];                                                      \
            ge[i] *= de;                                                                    \
            gi[i] *= di;                                                                    \
        }                                                                                   \
    }
COBA_DYN(coba_dyn, 0.0f)
COBA_DYN(coba_dyn_gap, gap[i])

static uint32_t coba_update(ax__snn_pop *p, uint32_t i0, uint32_t i1, int64_t step, uint32_t *spk)
{
    (p->i_gap ? coba_dyn_gap : coba_dyn)(p->s[CS_V], p->s[CS_GE], p->s[CS_GI], p->s[CS_IE], p->i_gap,
                                         p->refr_left, i0, i1, (float)p->c[2], (float)p->c[0],
                                         (float)p->c[1], (float)p->p[C_VREST], (float)p->p[C_EE],
                                         (float)p->p[C_EI]);
    return threshold_scan(p->s[CS_V], p->refr_left, p->last_spike, i0, i1, (float)p->p[C_VTH],
                          (int32_t)p->refr_steps, step, spk);
}

static void coba_reset(ax__snn_pop *p, const uint32_t *spk, uint32_t n, int64_t step)
{
    (void)step;
    const float vr = (float)p->p[C_VRESET];
    for (uint32_t j = 0; j < n; j++) p->s[CS_V][spk[j]] = vr;
}

const ax__snn_model ax__model_lif_coba = {
    .name = "lif_coba",
    .doc = "conductance-based LIF with exponential conductances (Brette et al. 2007 COBA): "
           "dv/dt = (ge (E_e - v) + gi (E_i - v) + v_rest - v + I_e)/tau_m; "
           "exponential Euler (exact for v given ge, gi; exact for ge, gi)",
    .n_state = 4,
    .state = {"v", "ge", "gi", "I_e"},
    .state_unit = {"mV", "g_leak", "g_leak", "mV"},
    .n_param = 9,
    .param = {{"v_rest", -60, "mV", "leak reversal E_leak"},
              {"v_reset", -60, "mV", "reset potential"},
              {"v_th", -50, "mV", "threshold (spike when v > v_th)"},
              {"tau_m", 20, "ms", "membrane time constant C/g_leak"},
              {"tau_e", 5, "ms", "excitatory conductance decay"},
              {"tau_i", 10, "ms", "inhibitory conductance decay"},
              {"E_e", 0, "mV", "excitatory reversal"},
              {"E_i", -80, "mV", "inhibitory reversal"},
              {"refractory", 5, "ms", "refractory period (v held)"}},
    .prepare = coba_prepare,
    .update = coba_update,
    .reset = coba_reset,
    /* G: 2 adds; numerator: 2 mul + 3 add; vinf: 1 div; exp argument: 1 mul, exp: 12;
     * v: sub, mul, add; ge, gi: 2 mul; threshold: 1 */
    .flops_update = 2 + 5 + 1 + 1 + AX_SNN_EXP_FLOPS + 3 + 2 + 1,
    .flops_spike = 1,
    .gap_state = CS_V,
};

/* ---- poisson: independent Poisson spike trains, rate per neuron ----------------------- */
static int poisson_prepare(ax__snn_pop *p, double dt)
{
    float *r = p->s[0];
    for (uint32_t i = 0; i < p->n; i++)
        if (!(r[i] >= 0) || r[i] * dt * 1e-3 > 1)
            return ax__err(AX_E_INVALID, "population %s: rate %g Hz of neuron %u is not in [0, 1/dt]",
                           p->name, (double)r[i], i);
    p->c[0] = dt * 1e-3;
    p->refr_steps = 0;
    return AX_OK;
}

static uint32_t poisson_update(ax__snn_pop *p, uint32_t i0, uint32_t i1, int64_t step, uint32_t *spk)
{
    const float *r = p->s[0];
    const double dts = p->c[0];
    uint32_t n = 0;
    for (uint32_t i = i0; i < i1; i++)
        if (ax__rand_u01(&p->rng[i]) < r[i] * dts) {
            p->last_spike[i] = step;
            spk[n++] = i;
        }
    return n;
}

const ax__snn_model ax__model_poisson = {
    .name = "poisson",
    .doc = "Poisson spike source: each neuron spikes in a step with probability rate * dt",
    .n_state = 1,
    .state = {"rate"},
    .state_unit = {"Hz"},
    .n_param = 1,
    .param = {{"rate_hz", 0, "Hz", "rate of every neuron (sets the state variable rate)"}},
    .prepare = poisson_prepare,
    .update = poisson_update,
    .reset = NULL,
    .flops_update = 2, /* a uniform draw compared with rate * dt */
    .flops_spike = 0,
    .gap_state = -1,
};

/* ---- spike_generator: spikes at given times ------------------------------------------ */
static int gen_prepare(ax__snn_pop *p, double dt)
{
    (void)dt;
    p->refr_steps = 0;
    return AX_OK;
}

static uint32_t gen_update(ax__snn_pop *p, uint32_t i0, uint32_t i1, int64_t step, uint32_t *spk)
{
    /* the list is sorted by (step, neuron): find this step's run by bisection */
    size_t lo = 0, hi = p->gen_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->gen_step[mid] < step) lo = mid + 1;
        else hi = mid;
    }
    uint32_t n = 0;
    for (size_t k = lo; k < p->gen_n && p->gen_step[k] == step; k++) {
        uint32_t i = p->gen_neuron[k];
        if (i >= i0 && i < i1) {
            p->last_spike[i] = step;
            spk[n++] = i;
        }
    }
    return n;
}

const ax__snn_model ax__model_spike_generator = {
    .name = "spike_generator",
    .doc = "spike source that fires at given times (ax_snn_set_spike_times)",
    .n_state = 0,
    .n_param = 0,
    .prepare = gen_prepare,
    .update = gen_update,
    .reset = NULL,
    .flops_update = 0,
    .flops_spike = 0,
    .gap_state = -1,
};
