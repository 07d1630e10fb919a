/* axon/stg.h: the pyloric network of the crab stomatogastric ganglion (STG) after
 * Prinz, Bucher & Marder 2004 (Nat Neurosci 7:1345), with the model neurons of Prinz,
 * Billimoria & Marder 2003 (J Neurophysiol 90:3998).
 *
 * Three single-compartment, conductance-based cells: AB/PD (the pacemaker kernel, AB and
 * PD lumped into one compartment), LP and PY. Each has 8 currents (Na, CaT, CaS, A, KCa,
 * Kd, H, leak) and an intracellular calcium pool; the maximal conductances come from the
 * published table of model neurons (AB/PD 1-5, LP 1-5, PY 1-6). Seven graded synapses
 * connect them (I_s = g_s s (V_post - E_s), s relaxing to a sigmoid of V_pre):
 *   0 AB->LP   (glutamatergic: E_s = -70 mV, k_- = 1/40 ms^-1)
 *   1 PD->LP   (cholinergic:   E_s = -80 mV, k_- = 1/100 ms^-1)
 *   2 AB->PY   (glutamatergic)
 *   3 PD->PY   (cholinergic)
 *   4 LP->AB/PD (glutamatergic)
 *   5 LP->PY   (glutamatergic)
 *   6 PY->LP   (glutamatergic)
 * AB and PD synapses both take V of the AB/PD compartment as V_pre.
 *
 * Numerics ("Prinz' scheme"): every step updates all state from the state at the start
 * of the step; V, [Ca], and every m and h by exponential Euler (each is linear in itself
 * with the other variables held: V relaxes to V_inf = sum(g E)/sum(g) with
 * tau_V = C/sum(g), synaptic conductances and the external current included), the
 * synaptic s by forward Euler, s := s_inf where dt > tau_s. Double precision throughout.
 * docs/stg.md has the equations, the constants and measured results.
 *
 * Thread-safety: the functions keep no state; concurrent runs are fine.
 */
#ifndef AXON_STG_H
#define AXON_STG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* the cells, in the order of every [3] array below */
enum ax_stg_cell { AX_STG_ABPD = 0, AX_STG_LP = 1, AX_STG_PY = 2 };
#define AX_STG_NCELLS 3
#define AX_STG_NSYN 7
/* models per cell in the Prinz 2004 table */
#define AX_STG_MODELS_ABPD 5
#define AX_STG_MODELS_LP 5
#define AX_STG_MODELS_PY 6

typedef struct {
    int abpd, lp, py;          /* 1-based model numbers of the table: AB/PD 1-5, LP 1-5,
                                  PY 1-6 */
    double g_syn_nS[AX_STG_NSYN]; /* maximal synaptic conductances, nS, >= 0, in the order
                                     AB->LP, PD->LP, AB->PY, PD->PY, LP->AB/PD, LP->PY,
                                     PY->LP */
    double dt_ms;              /* time step (0.025); > 0, at most 1 */
    double duration_ms;        /* simulated time (20000); > 0, at most 1e8 steps */
    double noise_nA;           /* SD of a Gaussian current drawn independently for every
                                  cell and step and held over the step (0: none); >= 0 */
    uint64_t seed;             /* seed of the noise (deterministic for a given seed) */
    double v0_mV;              /* initial V of all cells (-50); gates start at their
                                  steady state at v0, [Ca] at its equilibrium there
                                  (ax_stg_cell_rest), synapses at s_inf(v0) */
    double stats_from_ms;      /* statistics cover [stats_from_ms, duration_ms]; < 0
                                  (the default, -1): the second half of the run */
} ax_stg_circuit;

/* Fill *out with the network of Prinz et al. 2004 Fig. 3, panel 'a'..'j' (either case):
 * its three model numbers and seven synapses, dt 0.025 ms, 20000 ms, v0 -50 mV, no
 * noise, seed 1, stats over the second half. AX_E_INVALID for another letter. */
AX_API int ax_stg_panel(char panel, ax_stg_circuit *out);

/* Statistics of a run over the window [t0_ms, t1_ms] (the second half by default).
 *  spike        an upward crossing of -10 mV, timed by linear interpolation between the
 *               two steps around it; spikes are found over the whole run.
 *  burst        a maximal run of spikes whose inter-spike intervals are all < 150 ms
 *               (bursts split at ISI >= 150 ms), grouped over the whole run. Only bursts
 *               of >= 2 spikes that lie wholly in the window count: onset (first spike)
 *               >= t0 and last spike + 150 ms <= t1 (so a burst that the end of the run
 *               may have cut short is left out). Its duration: last minus first spike.
 *  n_spikes, rate_hz   spikes with t in [t0, t1), and n_spikes / (t1 - t0).
 *  n_bursts     counted bursts.
 *  bursting     >= 2 counted bursts; tonic: spiking but not bursting; silent: no spike
 *               in the window. Exactly one of the three holds for each cell.
 *  period_ms    mean interval between consecutive AB/PD burst onsets (NaN unless AB/PD
 *               is bursting).
 *  burst_ms     mean burst duration (NaN when the cell has no counted burst).
 *  duty         burst_ms / period_ms (NaN when either is).
 *  onset_phase  for each AB/PD burst onset o, the delay from o to the cell's first burst
 *               onset at or after o and before the next AB/PD onset (cycles where the
 *               cell has none are skipped); mean delay / period. [0] is 0; NaN when no
 *               cycle has a delay.
 *  triphasic    all three cells burst and 0 < onset_phase[LP] < onset_phase[PY] < 1.
 * Fields are indexed by enum ax_stg_cell. */
typedef struct {
    double t0_ms, t1_ms;
    int n_spikes[AX_STG_NCELLS];
    double rate_hz[AX_STG_NCELLS];
    int n_bursts[AX_STG_NCELLS];
    int bursting[AX_STG_NCELLS], tonic[AX_STG_NCELLS], silent[AX_STG_NCELLS];
    double period_ms;
    double burst_ms[AX_STG_NCELLS];
    double duty[AX_STG_NCELLS];
    double onset_phase[AX_STG_NCELLS];
    int triphasic;
    int64_t steps;             /* time steps taken (each updates 3 cells, 7 synapses) */
} ax_stg_stats;

/* Number of samples ax_stg_run writes for this circuit at sample_ms:
 * floor(duration / sample_ms + 1e-9) + 1 (t = 0 included). 0 when sample_ms <= 0 or
 * is not finite. */
AX_API size_t ax_stg_n_samples(const ax_stg_circuit *c, double sample_ms);

/* Simulate the circuit. v_out (may be NULL) gets V in mV of the three cells at
 * t = k * sample_ms, k = 0 .. n_samples-1, each taken at the nearest step, as
 * v_out[3 k + cell]; n_samples must not exceed ax_stg_n_samples(c, sample_ms) (fewer
 * is fine: the first n_samples). stats (may be NULL) gets the statistics above.
 * AX_E_INVALID, naming the field, for a model number out of range, a non-finite or
 * out-of-range dt_ms, duration_ms, g_syn_nS[k], noise_nA, v0_mV or stats_from_ms (which
 * must be < duration_ms), or a bad sample_ms / n_samples; AX_E_NOMEM; AX_E_INTERRUPTED
 * when ax_interrupt() is called during the run (checked every 65536 steps). */
AX_API int ax_stg_run(const ax_stg_circuit *c, double sample_ms, float *v_out,
                      size_t n_samples, ax_stg_stats *stats);

/* ---- one cell ----------------------------------------------------------------------- */

/* State of one cell. Gate order: m = Na, CaT, CaS, A, KCa, Kd, H; h = Na, CaT, CaS, A. */
typedef struct {
    double v_mV, ca_uM;
    double m[7], h[4];
} ax_stg_cell_state;

/* The maximal conductances of model `model` (1-based) of cell `cell`, mS/cm^2, in the
 * order Na, CaT, CaS, A, KCa, Kd, H, leak. AX_E_INVALID for a bad cell or model. */
AX_API int ax_stg_cell_gbar(int cell, int model, double gbar[8]);

/* The rest state ax_stg_run starts from at v_mV: every m and h at x_inf(v_mV) (KCa's
 * m_inf at the [Ca] found), and [Ca] the root of the calcium equation's equilibrium
 * [Ca] = [Ca]_0 - f I_Ca(v_mV, [Ca]) with I_Ca = (g_CaT m^3 h + g_CaS m^3 h) A
 * (v_mV - E_Ca([Ca])). AX_E_INVALID for a bad cell, model or non-finite v_mV. */
AX_API int ax_stg_cell_rest(int cell, int model, double v_mV, ax_stg_cell_state *out);

/* ---- compute accounting ------------------------------------------------------------- */

/* FLOPs charged for one call of exp() or log() in the counts below. */
#define AX_STG_FLOPS_PER_TRANSCENDENTAL 20

/* Floating-point operations of one neuron update (one cell, one step): every +, -, *, /
 * of the update counts 1 (a comparison 0), each of its 38 exp() calls and 1 log() call
 * counts AX_STG_FLOPS_PER_TRANSCENDENTAL. The synaptic input is counted per synapse
 * (ax_stg_flops_per_synapse_update), the noise generator not at all. docs/stg.md lists
 * the breakdown. */
AX_API int ax_stg_flops_per_step(void);
/* Floating-point operations of one synapse update (s and its share of the synaptic
 * conductance and current of the postsynaptic cell), counted the same way. */
AX_API int ax_stg_flops_per_synapse_update(void);

#ifdef __cplusplus
}
#endif
#endif /* AXON_STG_H */
