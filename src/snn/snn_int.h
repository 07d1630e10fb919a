/* snn_int.h: the spiking-network engine's internals, shared by src/snn/ files.
 *
 * Layout: populations are contiguous ranges of global neuron ids. State is stored as
 * arrays per variable (float). Synapses live in projections; at the first run each
 * projection is turned into one CSR table per thread partition: rows are presynaptic
 * neurons, entries are the synapses whose target lies in that partition, each a packed
 * uint32 (target index within the post population: 24 bits, delay in steps: 8 bits) and
 * a float weight: 8 bytes per static synapse. Delivery adds the weight into a ring
 * buffer slot (step + delay) of the target variable; the slot is added to the variable
 * in the arrival step.
 */
#ifndef AX_SNN_INT_H
#define AX_SNN_INT_H

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "core/core_int.h"
#include "axon/snn.h"

#define AX_SNN_MAX_STATE 16
#define AX_SNN_MAX_PARAM 24
#define AX_SNN_MAX_CONST 32
#define AX_SNN_MAX_THREADS 64
#define AX_SNN_POST_BITS 24
#define AX_SNN_POST_MASK ((1u << AX_SNN_POST_BITS) - 1)
#define AX_SNN_MAX_DELAY 255 /* steps */
#define AX_SNN_NEVER (INT64_MIN / 4)

/* Hot loops get an AVX2 clone picked at load time (gcc's target_clones; the results are
 * the same bits, as -std=c11 keeps the compiler from fusing multiply-adds). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(AX_HAVE_AVX2)
#define AX_SNN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define AX_SNN_CLONES
#endif

/* ---- random numbers: counter-free, per stream -------------------------------------- */
static inline uint64_t ax__sm64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* uniform in [0, 1) with 53 bits */
static inline double ax__rand_u01(uint64_t *s) { return (double)(ax__sm64(s) >> 11) * 0x1.0p-53; }
/* standard normal (Box-Muller, one value per call; deterministic) */
static inline double ax__rand_normal(uint64_t *s)
{
    double u1 = ax__rand_u01(s), u2 = ax__rand_u01(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
/* The seed of stream (a, b) under the network seed: independent streams per neuron. */
static inline uint64_t ax__stream_seed(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t s = seed ^ ax__mix64(a * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL) ^
                 ax__mix64(b + 0x85ebca6b);
    return ax__mix64(s);
}

/* expf with 1-2 ulp error on [-87, 88], branch-free so compilers vectorise loops that
 * call it (Cephes polynomial after range reduction by ln 2). Counted as 12 FLOPs. */
static inline float ax__expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float fx = x * 1.44269504088896341f;
    /* round to nearest via truncation of a shifted value (exact for |fx| < 2^22) */
    int n = (int)(fx + 128.5f) - 128;
    float nf = (float)n;
    float r = x - nf * 0.693359375f;
    r = r + nf * 2.12194440e-4f;
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    float scale;
    uint32_t bits = (uint32_t)(n + 127) << 23;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}
#define AX_SNN_EXP_FLOPS 12

/* a if mask is all ones, b if it is 0, bit for bit (gcc -O2 vectorises this where it
 * does not if-convert a float select) */
static inline float ax__blend(uint32_t mask, float a, float b)
{
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    x = (x & mask) | (y & ~mask);
    memcpy(&a, &x, 4);
    return a;
}

/* ---- models ------------------------------------------------------------------------ */
typedef struct ax__snn_pop ax__snn_pop;

typedef struct {
    const char *name;
    double def;
    const char *unit;
    const char *doc;
} ax__snn_param;

typedef struct ax__snn_model {
    const char *name;
    const char *doc;
    int n_state;
    const char *state[AX_SNN_MAX_STATE];
    const char *state_unit[AX_SNN_MAX_STATE];
    int n_param;
    ax__snn_param param[AX_SNN_MAX_PARAM];
    /* validate p->p (return ax__err naming the population and parameter), derive
     * constants into p->c, set p->refr_steps; called at the start of every run */
    int (*prepare)(ax__snn_pop *p, double dt_ms);
    /* integrate neurons [i0, i1) of p over one step, then test the threshold; write the
     * local indices of neurons that spike, ascending, to spk; return their number. The
     * neuron's refractory state is p->last_spike[i] (the step it last spiked in): it is
     * refractory while step - last_spike[i] < p->refr_steps. Set last_spike[i] = step for
     * every spike. p->i_gap (if not NULL) holds the gap-junction drive of this step. */
    uint32_t (*update)(ax__snn_pop *p, uint32_t i0, uint32_t i1, int64_t step, uint32_t *spk);
    /* reset the n neurons in spk (local indices) after the synapses phase */
    void (*reset)(ax__snn_pop *p, const uint32_t *spk, uint32_t n, int64_t step);
    /* FLOPs per neuron update (typical path) and per spike (threshold + reset), counted
     * from the code above; docs/simulate.md lists them */
    double flops_update, flops_spike;
    /* state variable the gap-junction drive is meant for, -1 if the model takes none */
    int gap_state;
} ax__snn_model;

/* the models, defined in model_*.c */
extern const ax__snn_model ax__model_lif, ax__model_lif_coba, ax__model_izhikevich,
    ax__model_hh_coba, ax__model_poisson, ax__model_spike_generator;
AX_HIDDEN const ax__snn_model *ax__snn_model_find(const char *name);
AX_HIDDEN int ax__snn_state_index(const ax__snn_model *m, const char *name);
AX_HIDDEN int ax__snn_param_index(const ax__snn_model *m, const char *name);

struct ax__snn_pop {
    char *name;
    const ax__snn_model *m;
    int index;
    uint32_t n, offset;          /* neurons [offset, offset + n) globally */
    double p[AX_SNN_MAX_PARAM];  /* parameters, in the model's order */
    double c[AX_SNN_MAX_CONST];  /* constants derived by prepare() */
    float *s[AX_SNN_MAX_STATE];  /* state arrays, n each */
    int64_t *last_spike;         /* step of the last spike, AX_SNN_NEVER if none */
    int32_t *refr_left;          /* refractory steps left (models may use this instead of
                                    last_spike: count down at each update, refractory while
                                    > 0 after the decrement; set to refr_steps at a spike) */
    int64_t refr_steps;
    uint64_t *rng;               /* one random stream per neuron */
    float *i_gap;                /* gap-junction drive (NULL without gap junctions) */
    float *ring[AX_SNN_MAX_STATE]; /* delivery ring per target variable: [slot][n] */
    /* spike_generator: sorted (step, neuron) list and a cursor */
    int64_t *gen_step;
    uint32_t *gen_neuron;
    size_t gen_n, gen_cursor;
    ax_snn *owner;
};

/* ---- synapses ---------------------------------------------------------------------- */

/* One thread partition's part of a projection: CSR by presynaptic neuron. */
typedef struct {
    uint64_t *row;  /* n_pre + 1 */
    uint32_t *pd;   /* target index (24 bits) | delay steps << 24 */
    float *w;
    size_t nnz;
    /* for plasticity: synapses by target, i.e. for target i (index within the post
     * population, i in [post_lo, post_hi)) its synapses are col_idx[col[i-post_lo] ..
     * col[i-post_lo+1]) (indices into pd/w), in ascending (pre, creation) order */
    uint64_t *col;
    uint32_t *col_idx;
    uint32_t post_lo, post_hi;
    void *plastic;  /* the rule's per-partition state (plastic.c) */
} ax__snn_part;

typedef struct ax__snn_proj {
    char *name;
    ax__snn_pop *pre, *post;
    int target;            /* state index in post's model */
    /* edges as added, until built */
    uint32_t *e_pre, *e_post;
    float *e_w;
    uint8_t *e_d;
    size_t ne, cap;
    int max_delay;
    /* built tables */
    int n_part;
    ax__snn_part *part;
    /* plasticity (NULL: static) */
    struct ax__snn_plastic *plastic;
} ax__snn_proj;

/* ---- plasticity (plastic.c) --------------------------------------------------------- *
 * A plastic projection has one homogeneous delay d (checked at build). The engine calls,
 * for thread partition `part` (which owns targets [post_lo, post_hi) of the projection):
 *   on_pre  for every presynaptic spike that arrives in this step (sent at step - d), in
 *           ascending pre order, once per partition: it must add the (possibly
 *           modulated) weight of each synapse in the row to the target's ring slot for
 *           this step (ring row `slot`), and apply the rule's pre-spike update;
 *   on_post for every spike of a target owned by the partition, after all on_pre calls
 *           of the step, ascending;
 *   step_end once per step after on_post (reward-driven weight changes, trace upkeep).
 * Everything a partition touches is its own (weights, per-synapse state, traces of its
 * targets, and a private copy of presynaptic traces that every partition updates
 * identically), so results do not depend on the number of threads. */
typedef struct ax__snn_plastic {
    const char *rule;
    double prm[16];
    int n_prm;
    int delay; /* steps */
    int (*init_part)(struct ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt);
    void (*free_part)(ax__snn_part *pt);
    void (*on_pre)(struct ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt,
                   uint32_t pre, int64_t step, float *ring_slot, uint64_t *n_updates);
    void (*on_post)(struct ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt,
                    uint32_t post, int64_t step, uint64_t *n_updates);
    void (*step_end)(struct ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt,
                     int64_t step, uint64_t *n_updates);
    double flops_pre, flops_post; /* per synapse touched */
    double bytes_per_synapse;     /* extra state per synapse */
} ax__snn_plastic;
AX_HIDDEN int ax__snn_plastic_make(const char *rule, int n, const char *const *names,
                                   const double *values, double dt_ms,
                                   ax__snn_plastic **out);
AX_HIDDEN void ax__snn_plastic_free(ax__snn_plastic *pl);

/* ---- inputs ------------------------------------------------------------------------ */
typedef struct {
    int pop;
    uint32_t first, count;
    int target;
    double p;        /* rate * dt per source */
    uint32_t n_sources;
    float weight;
    /* the binomial(n_sources, p) CDF up to where its tail is below 1e-15: one uniform
     * draw and a short search give the number of spikes in a step */
    double *cdf;
    uint32_t n_cdf;
} ax__snn_poisson;

typedef struct {
    int pop;
    uint32_t first, count;
    int target;
    float amount;
    int64_t on_step, off_step;
} ax__snn_step;

typedef struct {
    int pop, var;
    uint32_t *idx;
    size_t n;
    int64_t every;     /* steps */
    float *data;       /* [sample][n] */
    uint32_t *sample_step;
    size_t n_samples, cap;
} ax__snn_monitor;

typedef struct {
    uint32_t a, b;  /* local indices */
    float g;
} ax__snn_gap;

struct ax_snn {
    double dt;
    uint64_t seed;
    int64_t step;              /* steps run so far */
    int n_pop;
    ax__snn_pop **pop;
    uint32_t n_neurons;
    int n_proj;
    ax__snn_proj **proj;
    /* gap junctions per population: CSR over neurons */
    struct {
        int pop;
        ax__snn_gap *e;
        size_t n, cap;
        uint64_t *row;      /* built: per neuron a list of (other, g) */
        uint32_t *other;
        float *g;
    } *gap;
    int n_gap;
    ax__snn_poisson *poisson;
    int n_poisson;
    ax__snn_step *steps;
    int n_steps;
    ax__snn_monitor *mon;
    int n_mon;
    bool rec_spikes;
    uint32_t *spk_step, *spk_id;
    size_t n_spk, cap_spk;
    uint32_t *pop_counts;      /* [step][n_pop] spike counts */
    size_t n_counts, cap_counts;
    double reward;
    /* built state */
    bool built;
    int built_threads;
    int ring_slots;            /* max delay + 1 */
    ax_snn_compute comp;
    void *hist_slots;          /* spike history of the last steps (sim.c) */
    /* from the config */
    int cfg_threads;
    double rate_bin_ms;        /* 0: automatic */
    void *task_json;           /* json_t of a "task" section, or NULL */
    /* a loaded connectome's neuron names (names_pop's neurons) and published counts */
    char **names;
    int names_pop;
    uint32_t n_names;
    uint64_t info_neurons, info_chem_pairs, info_chem_synapses, info_gap_pairs, info_gap_junctions;
    int hist_T, hist_n;
    uint64_t flops_upd_acc;    /* accumulated */
};

AX_HIDDEN int ax__snn_build(ax_snn *s, int n_threads);
AX_HIDDEN void ax__snn_unbuild(ax_snn *s);
AX_HIDDEN void ax__snn_free_hist(ax_snn *s);

#endif /* AX_SNN_INT_H */
