/* axon/snn.h: spiking-network simulation of connectomes and circuit models.
 *
 * An ax_snn holds populations of model neurons, projections between them (synapses with
 * weights, delays, optional plasticity), gap junctions, inputs and recorders. Build one
 * from a JSON config (ax_snn_from_config; the format is docs/simulate.md) or piece by
 * piece with the functions below, then ax_snn_run() it, as often as you like: each call
 * continues where the last stopped.
 *
 * Units: time ms, voltage mV, rates Hz. lif_coba takes conductances in units of its leak
 * conductance (dimensionless), as in Brette et al. 2007; hh_coba takes nS (and pA).
 *
 * One time step (dt, default 0.1 ms) runs in Brian2's default order, which published
 * models depend on:
 *   1. state update: every neuron's equations are integrated over dt (variables a model
 *      holds while refractory are left alone);
 *   2. threshold: a neuron that is not refractory and is above threshold spikes; its
 *      refractory period starts now;
 *   3. synapses: spikes that arrive in this step (sent d steps ago with delay d, d >= 0)
 *      are added to their targets, plastic synapses update, then Poisson inputs and
 *      gap-junction currents are added;
 *   4. reset: spiking neurons are reset.
 * So an input that arrives in the step of a spike is wiped by the reset, and a neuron is
 * refractory for round(t_ref / dt) steps after the step it spiked in.
 *
 * Threads: ax_snn_run() splits the neurons into contiguous partitions, one per thread,
 * each owning the synapses onto its neurons. A seed gives bit-identical spikes for any
 * thread count (every neuron has its own random stream; every target sums its inputs in
 * the same order).
 */
#ifndef AXON_SNN_H
#define AXON_SNN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_snn ax_snn;

/* ---- building -------------------------------------------------------------------- */

/* A new, empty network with time step dt_ms (> 0) and a seed for every random draw. */
AX_API int ax_snn_new(double dt_ms, uint64_t seed, ax_snn **out);
AX_API void ax_snn_free(ax_snn *s);

/* The neuron models this build knows ("lif", "lif_coba", "izhikevich", "hh_coba",
 * "poisson", "spike_generator", ...), NULL-terminated. */
AX_API const char *const *ax_snn_models(void);

/* Add a population of n neurons of `model`; its parameters start at the model's
 * defaults. Returns the population's index in *pop. */
AX_API int ax_snn_add_population(ax_snn *s, const char *name, const char *model, uint32_t n,
                                 int *pop);
/* Population by name: index, or AX_E_NOTFOUND. */
AX_API int ax_snn_find_population(const ax_snn *s, const char *name, int *pop);
/* Set a parameter of population `pop` (names as in docs/simulate.md, e.g. "tau_m"). */
AX_API int ax_snn_set_param(ax_snn *s, int pop, const char *name, double value);
/* Set a state variable ("v", "ge", ...) of every neuron: values has n entries. */
AX_API int ax_snn_set_state(ax_snn *s, int pop, const char *var, const float *values);
AX_API int ax_snn_get_state(const ax_snn *s, int pop, const char *var, float *values);

/* Add synapses pre[k] -> post[k] (indices within the populations) onto state variable
 * `target` of the post population ("g", "ge", "v", ...), with weight[k] (in the target's
 * units) and delay_ms[k] (NULL: all delay_ms0). Several calls add to one projection if
 * they use the same name. */
AX_API int ax_snn_connect(ax_snn *s, const char *proj, int pre_pop, int post_pop,
                          const char *target, size_t n, const uint32_t *pre,
                          const uint32_t *post, const float *weight, const float *delay_ms,
                          double delay_ms0);
/* Gap junctions (electrical synapses, symmetric) between neurons a[k] and b[k] of one
 * population, conductance g[k] (in units of the leak conductance): each neuron gets the
 * current g (v_other - v_self). */
AX_API int ax_snn_gap_junctions(ax_snn *s, int pop, size_t n, const uint32_t *a,
                                const uint32_t *b, const float *g);
/* Poisson input: every neuron of pop in [first, first+count) gets n_sources independent
 * Poisson spike trains of rate_hz, each spike adding `weight` to `target`. */
AX_API int ax_snn_add_poisson(ax_snn *s, int pop, uint32_t first, uint32_t count,
                              const char *target, double rate_hz, uint32_t n_sources,
                              double weight);
/* A current step: `amount` is added to variable `target` (e.g. "I_e") of neurons
 * [first, first+count) from start_ms until stop_ms. */
AX_API int ax_snn_add_step(ax_snn *s, int pop, uint32_t first, uint32_t count,
                           const char *target, double amount, double start_ms,
                           double stop_ms);
/* For a "spike_generator" population: neuron[k] spikes at t_ms[k]. */
AX_API int ax_snn_set_spike_times(ax_snn *s, int pop, size_t n, const uint32_t *neuron,
                                  const double *t_ms);

/* Plasticity of projection `proj` (after its synapses exist). rule: "stdp" (pair-based,
 * additive or multiplicative), "triplet", "tsodyks_markram", "three_factor". Parameters
 * by name/value pairs (docs/simulate.md). */
AX_API int ax_snn_set_plasticity(ax_snn *s, const char *proj, const char *rule, int n_params,
                                 const char *const *names, const double *values);
/* The global neuromodulator / reward signal read by three-factor rules (default 0). */
AX_API int ax_snn_set_reward(ax_snn *s, double reward);
/* Synapses of a projection as arrays of size *n (malloc'ed, caller frees): the current
 * weights, e.g. after plasticity. Any pointer may be NULL. */
AX_API int ax_snn_get_synapses(const ax_snn *s, const char *proj, size_t *n, uint32_t **pre,
                               uint32_t **post, float **weight, float **delay_ms);

/* ---- the JSON config -------------------------------------------------------------- */

/* Build a network from a config file (docs/simulate.md). Relative paths in it are taken
 * from the config's folder. Errors name the file and the key or line. The config's
 * duration is in *duration_ms (may be NULL). */
AX_API int ax_snn_from_config(const char *path, ax_snn **out, double *duration_ms);

/* The thread count the config asks for (0: the library's default). */
AX_API int ax_snn_threads_hint(const ax_snn *s);
/* A line about a loaded connectome (its published counts), or "" (returns the length). */
AX_API int ax_snn_describe(const ax_snn *s, char *buf, size_t n);
/* Whether the config had a "task" section (a learning task, docs/plasticity.md), and
 * running it: trials with rewards, learning curve to outdir/learning.csv. */
AX_API bool ax_snn_has_task(const ax_snn *s);
AX_API int ax_snn_run_task(ax_snn *s, int n_threads, const char *outdir, FILE *log);

/* ---- recording -------------------------------------------------------------------- */

/* Record variable `var` of neurons idx[0..n) of pop every `every_ms` (>= dt). */
AX_API int ax_snn_record_state(ax_snn *s, int pop, const char *var, size_t n,
                               const uint32_t *idx, double every_ms);
/* Spikes are always recorded unless switched off here. */
AX_API int ax_snn_record_spikes(ax_snn *s, bool on);

/* ---- running --------------------------------------------------------------------- */

/* Run for duration_ms with n_threads threads (0: the library's thread count, but at most
 * one per 1000 neurons, since smaller partitions spend more in barriers than they save). */
AX_API int ax_snn_run(ax_snn *s, double duration_ms, int n_threads);

/* Counts and costs of everything run so far. FLOPs are counted from each model's
 * operations (docs/simulate.md gives them per model); an exp() counts as the FLOPs of
 * its polynomial. */
typedef struct ax_snn_compute {
    double sim_ms;             /* simulated time */
    double wall_s;             /* time inside ax_snn_run */
    double build_s;            /* time building synapse tables */
    uint64_t steps;
    uint64_t neurons;
    uint64_t synapses;
    uint64_t neuron_updates;   /* neurons x steps */
    uint64_t spikes;
    uint64_t syn_events;       /* spike deliveries to one synapse */
    uint64_t plastic_updates;  /* weight updates by plasticity rules */
    double flops_neurons;      /* total FLOPs in neuron updates */
    double flops_synapses;     /* total FLOPs in synaptic events and plasticity */
    double bytes_per_synapse;  /* synapse state: target, delay, weight, plasticity */
    double bytes_index_per_synapse; /* row pointers, per synapse */
    uint64_t synapse_bytes;    /* all synapse tables */
    double events_per_s;       /* syn_events / wall_s */
    double real_time_factor;   /* simulated seconds per wall second */
    double mean_rate_hz;       /* spikes / neurons / simulated s */
    uint64_t peak_rss;         /* of the process */
    int threads;
} ax_snn_compute;
AX_API int ax_snn_get_compute(const ax_snn *s, ax_snn_compute *c);

/* Recorded spikes: n of them, time step index and global neuron index (population p's
 * neurons are [offset, offset + size)). Pointers owned by s, valid until the next run. */
AX_API int ax_snn_spikes(const ax_snn *s, size_t *n, const uint32_t **step,
                         const uint32_t **neuron);
AX_API uint32_t ax_snn_neuron_count(const ax_snn *s);
AX_API int ax_snn_population_count(const ax_snn *s);
AX_API int ax_snn_population_info(const ax_snn *s, int pop, const char **name,
                                  const char **model, uint32_t *offset, uint32_t *size);
AX_API double ax_snn_dt(const ax_snn *s);

/* Write everything recorded to outdir (created if missing): spikes.csv, rates.csv,
 * state.csv (if any), results.h5, raster.png, rates.png, traces.png, compute.json.
 * Every file is written under a temporary name and renamed when complete. */
AX_API int ax_snn_write_results(const ax_snn *s, const char *outdir);
/* The network as HDF5 (populations, synapses with weights and delays, initial state), so
 * another simulator can run the same connectivity. */
AX_API int ax_snn_export_network(const ax_snn *s, const char *path);

/* ---- whole-brain compute ---------------------------------------------------------- */

/* FLOP/s to run a brain in real time: neurons * update_hz * flops_per_update +
 * synapses * rate_hz * flops_per_event. */
AX_API double ax_brain_flops(double neurons, double synapses, double rate_hz,
                             double flops_per_event, double flops_per_update,
                             double update_hz);

#ifdef __cplusplus
}
#endif
#endif /* AXON_SNN_H */
