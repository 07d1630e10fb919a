/* model_hh.c: Hodgkin-Huxley neurons of the COBAHH benchmark (Brette et al. 2007,
 * benchmark 3; Traub & Miles 1991 channels as in Brian2's examples/COBAHH.py).
 *
 *   C dv/dt = g_L (E_L - v) + ge (E_e - v) + gi (E_i - v)
 *             - g_Na m^3 h (v - E_Na) - g_K n^4 (v - E_K) + I_e + I_gap
 *   dx/dt = alpha_x (1 - x) - beta_x x        for x = m, h, n
 *   dge/dt = -ge / tau_e,  dgi/dt = -gi / tau_i
 * with u = V_T - v (mV) and rates in 1/ms:
 *   alpha_m = 0.32 * 4 / exprel((13 + u) / 4)      beta_m = 0.28 * 5 / exprel(-(40 + u) / 5)
 *   alpha_h = 0.128 exp((17 + u) / 18)             beta_h = 4 / (1 + exp((40 + u) / 5))
 *   alpha_n = 0.032 * 5 / exprel((15 + u) / 5)     beta_n = 0.5 exp((10 + u) / 40)
 * exprel(x) = (e^x - 1)/x; 1/exprel(x) = x/(e^x - 1) is computed by its Taylor series
 * (1 - x/2 + x^2/12 - x^4/720 + x^6/30240, truncation < 4e-9 relative) for |x| < 0.5,
 * where e^x - 1 would lose digits, and directly elsewhere (relative error < 3e-7).
 * The three exponentials of (40 + u)/5 are one: beta_m's exprel(-w) gives w + w/(e^w - 1),
 * and e^((15 + u)/5) = e^w e^-5.
 *
 * Units: v mV, time ms, C pF, conductances nS (ge, gi and synaptic weights too: the
 * benchmark's we = 6 nS, wi = 67 nS), currents pA (nS * mV): I_e in pA, and gap
 * junctions take g in nS (current g (v_other - v) in pA).
 *
 * Integration: exponential Euler, as Brian2's method='exponential_euler': over a step
 * every variable sees the others fixed at their values at the start of the step;
 * each gate x -> x_inf + (x - x_inf) exp(-dt (alpha + beta)), v exactly given the
 * conductances (v_inf + (v - v_inf) exp(-dt G / C)), ge and gi exactly. State is float
 * and so is the arithmetic (exp: ax__expf, which vectorises under the -fno-trapping-math
 * that src/snn/ is built with); tests/unit/test_snn_models.c checks it against a
 * double-precision version and tests/interop/test_snn_models.py against Brian2.
 *
 * Spikes and refractoriness as Brian2's threshold='v > -20*mV', refractory='v > -20*mV':
 * a neuron spikes when v > v_th and it is not refractory; it is refractory from its
 * spike until a step starts with v <= v_refr (the flag is the state variable "refr", 1
 * while refractory). There is no reset. The extra fixed period "refractory" (default 0)
 * also blocks spikes for that long, so with v_refr set very high the neuron has Brian2's
 * refractory=3*ms behaviour instead.
 *
 * Initial state: v starts at v_rest (E_L). With init_gates = 1 (default), at the first
 * run (time 0) every neuron whose m, h and n are all still 0 gets its gates at their
 * steady state for its v; init_gates = 0 keeps them as set (Brian2's COBAHH.py leaves
 * them at 0).
 */
#include <string.h>

#include "snn/snn_int.h"

enum { P_CM, P_GL, P_EL, P_GNA, P_GK, P_ENA, P_EK, P_VT, P_TAUE, P_TAUI, P_EE, P_EI, P_VTH,
       P_VREFR, P_REFR, P_INIT, P_N };
enum { S_V, S_M, S_H, S_N, S_GE, S_GI, S_IE, S_REFR, S_NSTATE };


static inline uint32_t mask_of(int c) { return 0u - (uint32_t)c; }

/* x / (e^x - 1) given ex = e^x: 15 FLOPs, both branches computed (fabs, compare, x^2,
 * series 8, e^x - 1, two selects, division) */
static inline float exprel_inv(float x, float ex)
{
    uint32_t small = mask_of(fabsf(x) < 0.5f);
    float x2 = x * x;
    float ser = 1.0f - 0.5f * x + x2 * (1.0f / 12 + x2 * (-1.0f / 720 + x2 * (1.0f / 30240)));
    float d = ax__blend(small, 1.0f, ex - 1.0f);
    return ax__blend(small, ser, x / d);
}

/* the rates at v, in double, for the initial steady state */
static void rates_d(double v, double VT, double r[6])
{
    double u = VT - v;
    double xm = (13 + u) / 4, w = (40 + u) / 5, xn = (15 + u) / 5;
    r[0] = 1.28 * (fabs(xm) < 1e-9 ? 1 - xm / 2 : xm / expm1(xm));
    r[1] = 1.4 * (fabs(w) < 1e-9 ? 1 + w / 2 : w + w / expm1(w));
    r[2] = 0.128 * exp((17 + u) / 18);
    r[3] = 4 / (1 + exp(w));
    r[4] = 0.16 * (fabs(xn) < 1e-9 ? 1 - xn / 2 : xn / expm1(xn));
    r[5] = 0.5 * exp((10 + u) / 40);
}

static int hh_prepare(ax__snn_pop *p, double dt)
{
    const double *q = p->p;
    static const int pos[] = {P_CM, P_TAUE, P_TAUI};
    static const int nonneg[] = {P_GL, P_GNA, P_GK, P_REFR};
    for (size_t k = 0; k < sizeof pos / sizeof pos[0]; k++)
        if (!(q[pos[k]] > 0))
            return ax__err(AX_E_INVALID, "population %s: parameter %s = %g must be > 0", p->name,
                           p->m->param[pos[k]].name, q[pos[k]]);
    for (size_t k = 0; k < sizeof nonneg / sizeof nonneg[0]; k++)
        if (q[nonneg[k]] < 0)
            return ax__err(AX_E_INVALID, "population %s: parameter %s = %g must be >= 0", p->name,
                           p->m->param[nonneg[k]].name, q[nonneg[k]]);
    if (q[P_INIT] != 0 && q[P_INIT] != 1)
        return ax__err(AX_E_INVALID, "population %s: parameter init_gates = %g must be 0 or 1", p->name,
                       q[P_INIT]);
    p->c[0] = exp(-dt / q[P_TAUE]);
    p->c[1] = exp(-dt / q[P_TAUI]);
    p->c[2] = -dt / q[P_CM];
    p->c[3] = q[P_GL] * q[P_EL];
    p->c[4] = -dt;
    p->c[5] = !strcmp(ax_simd_name(), "avx2"); /* AVX2 present and not switched off */
    /* Brian2: timestep(t - lastspike) >= timestep(refractory), timestep(x) = int(x/dt + 1e-3) */
    p->refr_steps = (int64_t)floor(q[P_REFR] / dt + 1e-3);
    if (q[P_INIT] == 1 && p->owner && p->owner->step == 0) {
        float *v = p->s[S_V], *m = p->s[S_M], *h = p->s[S_H], *n = p->s[S_N];
        for (uint32_t i = 0; i < p->n; i++) {
            if (m[i] != 0 || h[i] != 0 || n[i] != 0) continue;
            double r[6];
            rates_d(v[i], q[P_VT], r);
            m[i] = (float)(r[0] / (r[0] + r[1]));
            h[i] = (float)(r[2] / (r[2] + r[3]));
            n[i] = (float)(r[4] / (r[4] + r[5]));
        }
    }
    return AX_OK;
}

typedef struct {
    float VT, mdt, dtC, gL, gLEL, gNa, gK, ENa, EK, Ee, Ei, de, di, vrefr, e5;
} hh_k;

#define HH_BLOCK 16
/* the dynamics of m neurons; with m a compile-time constant gcc -O2 vectorises it */
static inline __attribute__((always_inline)) void
hh_block(uint32_t cnt, const hh_k *restrict K, float *restrict v, float *restrict m, float *restrict h,
         float *restrict n, float *restrict ge, float *restrict gi, float *restrict refr,
         const float *restrict ie, const float *restrict gap)
{
    const float VT = K->VT, mdt = K->mdt, dtC = K->dtC, gL = K->gL, gLEL = K->gLEL;
    const float gNa = K->gNa, gK = K->gK, ENa = K->ENa, EK = K->EK, Ee = K->Ee, Ei = K->Ei;
    const float de = K->de, di = K->di, vrefr = K->vrefr, e5 = K->e5;
    for (uint32_t j = 0; j < cnt; j++) {
        const float vv = v[j], mm = m[j], hh = h[j], nn = n[j], gee = ge[j], gii = gi[j];
        const float u = VT - vv;
        /* rates */
        const float xm = 0.25f * (13.0f + u);
        const float w = 0.2f * (40.0f + u);
        const float xn = w - 5.0f;
        const float E = ax__expf(w);
        const float am = 1.28f * exprel_inv(xm, ax__expf(xm));
        const float bm = 1.4f * (w + exprel_inv(w, E));
        const float ah = 0.128f * ax__expf((17.0f + u) * (1.0f / 18));
        const float bh = 4.0f / (1.0f + E);
        const float an = 0.16f * exprel_inv(xn, E * e5);
        const float bn = 0.5f * ax__expf((10.0f + u) * (1.0f / 40));
        /* gates */
        const float sm = am + bm, sh = ah + bh, sn = an + bn;
        const float minf = am / sm, hinf = ah / sh, ninf = an / sn;
        m[j] = minf + (mm - minf) * ax__expf(mdt * sm);
        h[j] = hinf + (hh - hinf) * ax__expf(mdt * sh);
        n[j] = ninf + (nn - ninf) * ax__expf(mdt * sn);
        /* membrane */
        const float n2 = nn * nn;
        const float gna = gNa * (mm * mm * mm * hh), gk = gK * (n2 * n2);
        const float G = gL + gee + gii + gna + gk;
        const float I = gLEL + gee * Ee + gii * Ei + gna * ENa + gk * EK + ie[j] + gap[j];
        const float vinf = I / G;
        v[j] = vinf + (vv - vinf) * ax__expf(dtC * G);
        ge[j] = gee * de;
        gi[j] = gii * di;
        /* Brian2: not_refractory = not_refractory or not (v > v_refr), with v before the step */
        refr[j] = ax__blend(mask_of(vv > vrefr), refr[j], 0.0f);
    }
}

/* the dynamics of neurons [i0, i1), block by block */
#define HH_LOOP                                                                               \
    for (uint32_t i = i0; i < i1; i += HH_BLOCK) {                                           \
        uint32_t c = i1 - i < HH_BLOCK ? i1 - i : HH_BLOCK;                                  \
        const float *g = gap ? gap + i : zeros;                                              \
        if (c == HH_BLOCK)                                                                   \
            hh_block(HH_BLOCK, K, v + i, m + i, h + i, n + i, ge + i, gi + i, refr + i, ie + i, g); \
        else                                                                                 \
            hh_block(c, K, v + i, m + i, h + i, n + i, ge + i, gi + i, refr + i, ie + i, g); \
    }
static const float zeros[HH_BLOCK];

static void hh_dyn(const hh_k *K, uint32_t i0, uint32_t i1, float *v, float *m, float *h, float *n,
                   float *ge, float *gi, float *refr, const float *ie, const float *gap)
{
    HH_LOOP
}

#ifdef AX_HAVE_AVX2
/* the same code for AVX2 (8 lanes), chosen at run time when the library's kernel table
 * is avx2 (ax_simd_name(); AX_SIMD=generic turns it off). No FMA, so the results are
 * bit for bit those of hh_dyn. */
__attribute__((target("avx2"))) static void
hh_dyn_avx2(const hh_k *K, uint32_t i0, uint32_t i1, float *v, float *m, float *h, float *n,
            float *ge, float *gi, float *refr, const float *ie, const float *gap)
{
    HH_LOOP
}
#endif

static uint32_t hh_update(ax__snn_pop *p, uint32_t i0, uint32_t i1, int64_t step, uint32_t *spk)
{
    const double *q = p->p;
    const hh_k K = {
        .VT = (float)q[P_VT], .mdt = (float)p->c[4], .dtC = (float)p->c[2],
        .gL = (float)q[P_GL], .gLEL = (float)p->c[3], .gNa = (float)q[P_GNA], .gK = (float)q[P_GK],
        .ENa = (float)q[P_ENA], .EK = (float)q[P_EK], .Ee = (float)q[P_EE], .Ei = (float)q[P_EI],
        .de = (float)p->c[0], .di = (float)p->c[1], .vrefr = (float)q[P_VREFR],
        .e5 = (float)exp(-5.0),
    };
    float *v = p->s[S_V], *refr = p->s[S_REFR];
#ifdef AX_HAVE_AVX2
    if (p->c[5] != 0)
        hh_dyn_avx2(&K, i0, i1, v, p->s[S_M], p->s[S_H], p->s[S_N], p->s[S_GE], p->s[S_GI], refr,
                    p->s[S_IE], p->i_gap);
    else
#endif
        hh_dyn(&K, i0, i1, v, p->s[S_M], p->s[S_H], p->s[S_N], p->s[S_GE], p->s[S_GI], refr,
               p->s[S_IE], p->i_gap);
    const float vth = (float)q[P_VTH];
    const int64_t *last = p->last_spike, rs = p->refr_steps;
    uint32_t cnt = 0;
    for (uint32_t i = i0; i < i1; i++)
        if (v[i] > vth && refr[i] == 0 && step - last[i] >= rs) {
            refr[i] = 1;
            p->last_spike[i] = step;
            spk[cnt++] = i;
        }
    return cnt;
}

const ax__snn_model ax__model_hh_coba = {
    .name = "hh_coba",
    .doc = "Hodgkin-Huxley neuron with Traub-Miles channels and exponential conductances, "
           "the COBAHH benchmark (Brette et al. 2007; Brian2 examples/COBAHH.py); "
           "exponential Euler; spike when v > v_th, refractory until v <= v_refr "
           "(state refr = 1 meanwhile), no reset; ge, gi and weights in nS, I_e in pA",
    .n_state = S_NSTATE,
    .state = {"v", "m", "h", "n", "ge", "gi", "I_e", "refr"},
    .state_unit = {"mV", "", "", "", "nS", "nS", "pA", ""},
    .n_param = P_N,
    .param = {{"C_m", 200, "pF", "membrane capacitance (1 uF/cm^2 on 20000 um^2)"},
              {"g_L", 10, "nS", "leak conductance (5e-5 S/cm^2)"},
              {"v_rest", -60, "mV", "leak reversal E_L (v starts here)"},
              {"g_Na", 20000, "nS", "sodium conductance (100 mS/cm^2)"},
              {"g_K", 6000, "nS", "potassium (delayed rectifier) conductance (30 mS/cm^2)"},
              {"E_Na", 50, "mV", "sodium reversal"},
              {"E_K", -90, "mV", "potassium reversal"},
              {"V_T", -63, "mV", "offset of the rate functions (Traub-Miles VT)"},
              {"tau_e", 5, "ms", "excitatory conductance decay"},
              {"tau_i", 10, "ms", "inhibitory conductance decay"},
              {"E_e", 0, "mV", "excitatory reversal"},
              {"E_i", -80, "mV", "inhibitory reversal"},
              {"v_th", -20, "mV", "threshold: spike when v > v_th and not refractory"},
              {"v_refr", -20, "mV", "refractory until a step starts with v <= v_refr"},
              {"refractory", 0, "ms", "an extra fixed refractory period after a spike"},
              {"init_gates", 1, "", "1: at time 0, neurons whose m, h, n are all 0 start "
                                    "with the gates at steady state for their v"}},
    .prepare = hh_prepare,
    .update = hh_update,
    .reset = NULL,
    /* u: 1; arguments: xm 2, w 2, xn 1, alpha_h 2, beta_n 2; exps of w, xm, alpha_h,
     * beta_n: 4 x 12; E e^-5: 1; three exprel_inv: 3 x 15 (fabs, compare, x^2, series 8,
     * e^x - 1, division, two selects); the six rates: alpha_m 1, beta_m 2, alpha_h 1,
     * beta_h 2, alpha_n 1, beta_n 1; three gates: (sum, division, exp argument, exp,
     * sub, mul, add) 3 x (6 + 12); membrane: n^2 1, n^4 1, m^3 h 3, g_Na, g_K 2,
     * G 4 adds, I 4 mul + 6 add, division 1, exp argument 1, exp 12, sub, mul, add 3;
     * ge, gi: 2; refractory flag: 1; threshold: 1 */
    .flops_update = 1 + 9 + 4 * AX_SNN_EXP_FLOPS + 1 + 3 * 15 + 8 + 3 * (6 + AX_SNN_EXP_FLOPS) +
                    (1 + 1 + 3 + 2 + 4 + 10 + 1 + 1 + AX_SNN_EXP_FLOPS + 3) + 2 + 1 + 1,
    .flops_spike = 1, /* the refractory flag; no reset */
    .gap_state = S_V,
};
