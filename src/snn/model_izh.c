/* model_izh.c: Izhikevich (2003) neurons with an exponential synaptic current.
 *
 *   dv/dt = (0.04 v^2 + 5 v + 140 - u + I_e + I_syn + I_gap) / ms
 *   du/dt = a (b v - u)
 *   dI_syn/dt = -I_syn / tau_syn
 *   v >= v_peak: spike; v = c, u += d.
 *
 * Units as in Brian2's Izhikevich examples: v, u, I_e, I_syn in mV (the equation divides
 * by 1 ms), a in 1/ms, b dimensionless, c and d in mV. Synapses and Poisson inputs may
 * target I_syn (a current jump that decays with tau_syn) or v (a voltage jump).
 *
 * Integration: forward Euler at the network's dt for v and u, both from the state at
 * the start of the step, which is what Brian2's method='euler' does:
 *   v' = v + dt * ((0.04 v + 5) v + 140 - u + I),   I = I_e + I_syn + I_gap
 *   u' = u + (a dt) (b v - u)
 * in float, in exactly this order (tests/unit/test_snn_models.c repeats it and expects
 * the same bits). I_syn decays exactly: I_syn' = I_syn exp(-dt / tau_syn), after v used
 * the old value (in Brian2: a run_regularly 'I_syn *= exp(-dt/tau_syn)' right after the
 * state updater). tau_syn = 0 makes I_syn a delta input: what arrived in I_syn is added
 * to v at the start of the next update (a voltage jump in mV) and I_syn is cleared; this
 * is the same as targeting v except that an input arriving in a spike's step survives
 * the reset.
 *
 * Refractoriness (default 0 ms: none): while refractory v is held (a delta input to v
 * still lands), u and I_syn go on, as Brian2 does for 'dv/dt = ... (unless refractory)'.
 *
 * Initial state: with init = 1 (default), at the first run (the network at time 0) every
 * neuron whose v and u are both still 0 (never set: the state arrays start at 0) starts
 * at v = c, u = b c, as in Izhikevich's code; a neuron with v or u set keeps both as set.
 * init = 0 takes the state arrays as they are (Brian2's behaviour: everything at 0).
 *
 * Gap junctions: the drive g (v_other - v) (g dimensionless, mV) is added to I like I_e.
 */
#include <string.h>

#include "snn/snn_int.h"

enum { P_A, P_B, P_C, P_D, P_VPEAK, P_TAUS, P_REFR, P_INIT, P_N };
enum { S_V, S_U, S_IE, S_ISYN, S_N };
/* derived constants in p->c */
enum { K_DT, K_ADT, K_DECAY, K_DELTA };

static int izh_prepare(ax__snn_pop *p, double dt)
{
    const double *q = p->p;
    if (q[P_TAUS] < 0)
        return ax__err(AX_E_INVALID, "population %s: parameter tau_syn = %g must be >= 0 (0: delta input)",
                       p->name, q[P_TAUS]);
    if (q[P_REFR] < 0)
        return ax__err(AX_E_INVALID, "population %s: parameter refractory = %g must be >= 0", p->name, q[P_REFR]);
    if (!(q[P_C] < q[P_VPEAK]))
        return ax__err(AX_E_INVALID, "population %s: parameter c = %g must be below v_peak = %g (the reset "
                       "would spike again at once)", p->name, q[P_C], q[P_VPEAK]);
    if (q[P_INIT] != 0 && q[P_INIT] != 1)
        return ax__err(AX_E_INVALID, "population %s: parameter init = %g must be 0 or 1", p->name, q[P_INIT]);
    if (q[P_A] * dt > 1) /* negative a is allowed (Izhikevich 2004's inhibition-induced types) */
        return ax__err(AX_E_INVALID, "population %s: parameter a = %g must be at most 1/dt = %g (forward "
                       "Euler on u overshoots beyond)", p->name, q[P_A], 1 / dt);
    p->c[K_DT] = dt;
    p->c[K_ADT] = q[P_A] * dt;
    p->c[K_DELTA] = q[P_TAUS] == 0;
    p->c[K_DECAY] = q[P_TAUS] > 0 ? exp(-dt / q[P_TAUS]) : 0;
    /* Brian2: timestep(t - lastspike) >= timestep(refractory), timestep(x) = int(x/dt + 1e-3) */
    p->refr_steps = (int64_t)floor(q[P_REFR] / dt + 1e-3);
    if (q[P_INIT] == 1 && p->owner && p->owner->step == 0) {
        float *v = p->s[S_V], *u = p->s[S_U];
        const float c = (float)q[P_C], u0 = (float)(q[P_B] * q[P_C]);
        for (uint32_t i = 0; i < p->n; i++)
            if (v[i] == 0 && u[i] == 0) {
                v[i] = c;
                u[i] = u0;
            }
    }
    return AX_OK;
}


/* The dynamics of m neurons from the given pointers. With m a compile-time constant the
 * loop has no epilogue, so gcc -O2 (whose cost model vectorises only such loops)
 * vectorises it. `hold` != 0: neurons with keep[j] = ~0u hold v. */
#define IZH_BLOCK 16
static inline __attribute__((always_inline)) void
izh_block(uint32_t m, float *restrict v, float *restrict u, float *restrict is,
          const float *restrict ie, const float *restrict gap, const uint32_t *restrict keep, int hold,
          int delta, float dt, float adt, float b, float decay)
{
    for (uint32_t j = 0; j < m; j++) {
        float vv = v[j], uu = u[j], I;
        if (delta) {
            vv = vv + is[j];
            I = ie[j] + gap[j];
            is[j] = 0.0f;
        } else {
            I = ie[j] + is[j] + gap[j];
            is[j] = is[j] * decay;
        }
        float dv = (0.04f * vv + 5.0f) * vv + 140.0f - uu + I;
        float vn = vv + dt * dv;
        u[j] = uu + adt * (b * vv - uu);
        v[j] = hold ? ax__blend(keep[j], vv, vn) : vn;
    }
}

static uint32_t izh_update(ax__snn_pop *p, uint32_t i0, uint32_t i1, int64_t step, uint32_t *spk)
{
    float *v = p->s[S_V], *u = p->s[S_U], *is = p->s[S_ISYN];
    const float *ie = p->s[S_IE], *gap = p->i_gap;
    const float dt = (float)p->c[K_DT], adt = (float)p->c[K_ADT], b = (float)p->p[P_B];
    const float decay = (float)p->c[K_DECAY], vpeak = (float)p->p[P_VPEAK];
    const int delta = p->c[K_DELTA] != 0;
    const int64_t *last = p->last_spike, rs = p->refr_steps;
    const int hold = rs > 0;
    static const float zeros[IZH_BLOCK];
    uint32_t keep[IZH_BLOCK];
    for (uint32_t i = i0; i < i1; i += IZH_BLOCK) {
        uint32_t m = i1 - i < IZH_BLOCK ? i1 - i : IZH_BLOCK;
        const float *g = gap ? gap + i : zeros;
        if (hold)
            for (uint32_t j = 0; j < m; j++) keep[j] = step - last[i + j] < rs ? ~0u : 0u;
        /* the variants as separate constant-argument calls, so each inlines into a
         * branch-free loop */
        if (m == IZH_BLOCK) {
            if (delta) {
                if (hold) izh_block(IZH_BLOCK, v + i, u + i, is + i, ie + i, g, keep, 1, 1, dt, adt, b, decay);
                else izh_block(IZH_BLOCK, v + i, u + i, is + i, ie + i, g, keep, 0, 1, dt, adt, b, decay);
            } else {
                if (hold) izh_block(IZH_BLOCK, v + i, u + i, is + i, ie + i, g, keep, 1, 0, dt, adt, b, decay);
                else izh_block(IZH_BLOCK, v + i, u + i, is + i, ie + i, g, keep, 0, 0, dt, adt, b, decay);
            }
        } else {
            izh_block(m, v + i, u + i, is + i, ie + i, g, keep, hold, delta, dt, adt, b, decay);
        }
    }
    uint32_t n = 0;
    for (uint32_t i = i0; i < i1; i++)
        if (v[i] >= vpeak && step - last[i] >= rs) {
            p->last_spike[i] = step;
            spk[n++] = i;
        }
    return n;
}

static void izh_reset(ax__snn_pop *p, const uint32_t *spk, uint32_t n, int64_t step)
{
    (void)step;
    const float c = (float)p->p[P_C], d = (float)p->p[P_D];
    float *v = p->s[S_V], *u = p->s[S_U];
    for (uint32_t j = 0; j < n; j++) {
        v[spk[j]] = c;
        u[spk[j]] += d;
    }
}

const ax__snn_model ax__model_izhikevich = {
    .name = "izhikevich",
    .doc = "Izhikevich (2003) neuron: dv/dt = (0.04 v^2 + 5 v + 140 - u + I_e + I_syn)/ms, "
           "du/dt = a (b v - u), spike when v >= v_peak, then v = c, u += d; exponential "
           "synaptic current I_syn (tau_syn; 0: delta input into v); forward Euler as "
           "Brian2's 'euler'; v, u start at c, b c unless set (init)",
    .n_state = S_N,
    .state = {"v", "u", "I_e", "I_syn"},
    .state_unit = {"mV", "mV", "mV", "mV"},
    .n_param = P_N,
    .param = {{"a", 0.02, "1/ms", "recovery rate (regular spiking 0.02, fast spiking 0.1)"},
              {"b", 0.2, "", "sensitivity of u to v"},
              {"c", -65, "mV", "reset potential (and the initial v)"},
              {"d", 8, "mV", "jump of u at a spike (regular spiking 8, chattering 2)"},
              {"v_peak", 30, "mV", "spike cut-off: spike when v >= v_peak"},
              {"tau_syn", 5, "ms", "decay of the synaptic current I_syn; 0: delta input (I_syn "
                                   "is added to v at the next step and cleared)"},
              {"refractory", 0, "ms", "refractory period (v held, u and I_syn go on)"},
              {"init", 1, "", "1: at time 0 neurons whose v and u are both 0 (never set) "
                              "start at v = c, u = b c; 0: take the state as set"}},
    .prepare = izh_prepare,
    .update = izh_update,
    .reset = izh_reset,
    /* I: 2 adds (I_e + I_syn + gap); dv: mul, add, mul, add, sub, add; v: mul, add;
     * u: mul, sub, mul, add; I_syn: mul; threshold: 1 (the refractory select is not
     * counted, as in model_lif.c) */
    .flops_update = 2 + 6 + 2 + 4 + 1 + 1,
    .flops_spike = 1, /* u += d; the reset of v is a store */
    .gap_state = S_V,
};
