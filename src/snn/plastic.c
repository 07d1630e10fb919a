/* plastic.c: synaptic plasticity rules (docs/plasticity.md has the equations).
 *
 *   stdp             pair-based STDP, all-to-all pairing through traces (Song, Miller &
 *                    Abbott 2000; Brian2's STDP example), additive or soft-bounded
 *                    ("multiplicative": Rubin, Lee & Sompolinsky 2001; Guetig et al. 2003
 *                    with mu = 1)
 *   triplet          Pfister & Gerstner 2006 triplet rule, all-to-all
 *   tsodyks_markram  short-term depression and facilitation (Tsodyks & Markram 1997,
 *                    Markram et al. 1998), the efficacy w u x delivered per spike
 *   three_factor     reward-modulated STDP: pairings feed an eligibility trace c per
 *                    synapse, dw/dt = lr c R(t) (Izhikevich 2007; Fremaux & Gerstner 2016)
 *
 * State. Traces are kept per neuron, not per synapse: presynaptic traces as a private copy
 * in every thread partition (every partition sees every presynaptic spike and updates
 * its copy identically), postsynaptic traces by the partition that owns the target. They
 * decay lazily: each holds its value at its last update step and is decayed by the
 * elapsed steps when read, with exact exponentials (a table of exp(-k dt / tau) for small
 * k, exp() beyond it). Every trace jumps by 1 at a spike; amplitudes are applied where a
 * trace is used. The only per-synapse state is the presynaptic index of each synapse in
 * the by-target order (for the post-spike pass, 4 bytes) and, for three_factor, the
 * eligibility c and its last update step (8 bytes).
 *
 * Changing the thread count between runs rebuilds the synapse tables: the rules hand
 * their state over (free_part of partition 0 collects it, init_part redistributes it),
 * so a run split over several thread counts matches one run.
 */
#include <stdlib.h>
#include <string.h>

#include "snn/snn_int.h"

enum { R_STDP, R_TRIPLET, R_TM, R_3F };

/* parameter constraints */
enum { P_ANY, P_POS, P_NONNEG, P_MODE, P_FRAC };

typedef struct {
    const char *name;
    double def;
    int kind;
} prm_def;

#define MAX_RULE_PRM 12

typedef struct {
    const char *name;
    int id;
    int n;
    prm_def p[MAX_RULE_PRM];
} rule_def;

/* parameter order is the index into pl->prm */
enum { S_AP, S_AM, S_TP, S_TM, S_WMIN, S_WMAX, S_MODE };
enum { T_A2P, T_A3P, T_A2M, T_A3M, T_TP, T_TM, T_TX, T_TY, T_WMIN, T_WMAX };
enum { M_U, M_TREC, M_TFAC };
enum { F_AP, F_AM, F_TP, F_TM, F_TC, F_LR, F_WMIN, F_WMAX };

static const rule_def k_rules[] = {
    {"stdp", R_STDP, 7,
     {{"A_plus", 0.01, P_ANY}, {"A_minus", 0.0105, P_ANY}, {"tau_plus", 20, P_POS},
      {"tau_minus", 20, P_POS}, {"w_min", 0, P_ANY}, {"w_max", 1, P_ANY}, {"mode", 0, P_MODE}}},
    /* defaults: Pfister & Gerstner 2006, Table 4, visual cortex data, all-to-all, full model */
    {"triplet", R_TRIPLET, 10,
     {{"A2_plus", 5e-10, P_ANY}, {"A3_plus", 6.2e-3, P_ANY}, {"A2_minus", 7e-3, P_ANY},
      {"A3_minus", 2.3e-4, P_ANY}, {"tau_plus", 16.8, P_POS}, {"tau_minus", 33.7, P_POS},
      {"tau_x", 101, P_POS}, {"tau_y", 125, P_POS}, {"w_min", 0, P_ANY}, {"w_max", 1, P_ANY}}},
    {"tsodyks_markram", R_TM, 3, {{"U", 0.5, P_FRAC}, {"tau_rec", 800, P_NONNEG}, {"tau_facil", 0, P_NONNEG}}},
    /* defaults: Izhikevich 2007 (A+ 1, A- 1.5, tau 20 ms, tau_c 1 s) */
    {"three_factor", R_3F, 8,
     {{"A_plus", 1, P_ANY}, {"A_minus", 1.5, P_ANY}, {"tau_plus", 20, P_POS}, {"tau_minus", 20, P_POS},
      {"tau_c", 1000, P_POS}, {"lr", 1e-3, P_ANY}, {"w_min", 0, P_ANY}, {"w_max", 1, P_ANY}}},
};
#define N_RULES (sizeof k_rules / sizeof k_rules[0])

/* exp(-k dt / tau) for lags k of whole steps: a table for small k, exp() beyond */
#define DECAY_TAB_MAX 16384
typedef struct {
    double *f;
    int64_t n;
    double k; /* dt / tau (inf for tau = 0: no memory) */
} decay_t;

static inline double decay(const decay_t *d, int64_t lag)
{
    if (lag < d->n) return d->f[lag];
    return exp(-(double)lag * d->k);
}

static int decay_init(decay_t *d, double tau, double dt)
{
    int64_t n = 1;
    if (tau > 0) {
        double want = ceil(30.0 * tau / dt) + 1;
        n = want > DECAY_TAB_MAX ? DECAY_TAB_MAX : (int64_t)want;
    }
    d->f = ax__malloc_array((size_t)n, sizeof(double));
    if (!d->f) return ax__err(AX_E_NOMEM, "out of memory");
    d->n = n;
    d->k = tau > 0 ? dt / tau : INFINITY;
    d->f[0] = 1;
    for (int64_t i = 1; i < n; i++) d->f[i] = exp(-(double)i * d->k);
    return AX_OK;
}

/* state handed over across a rebuild of the tables (another thread count) */
typedef struct {
    bool valid;
    uint32_t n_pre, n_post;
    double *pre_a, *pre_b, *post_a, *post_b;
    int64_t *pre_last, *post_last;
    size_t ne;
    float *c;
    uint32_t *c_last;
} stash_t;

typedef struct {
    ax__snn_plastic base; /* first: the engine sees this */
    int id;
    double dt;
    /* stdp, three_factor: plus = pre trace (tau_plus), minus = post trace (tau_minus);
     * triplet: plus (r1), x (r2), minus (o1), y (o2); tsodyks_markram: u (tau_facil),
     * rec (x, tau_rec); three_factor: c (eligibility, tau_c) */
    decay_t d_plus, d_minus, d_x, d_y, d_c, d_u, d_rec;
    double kc; /* three_factor: lr tau_c (1 - exp(-dt/tau_c)), the integral of c over a step */
    stash_t st;
} rule_t;

/* one partition's state */
typedef struct {
    rule_t *r;
    ax__snn_proj *pj;
    uint32_t n_pre, n_loc;
    /* per presynaptic neuron (private copy); per owned target neuron */
    double *pre_a, *pre_b, *post_a, *post_b;
    int64_t *pre_last, *post_last;
    uint32_t *pre_of; /* by-target order: presynaptic neuron of synapse col_idx[k] */
    float *c;         /* three_factor: eligibility per synapse (CSR order), value at c_last */
    uint32_t *c_last;
    /* stdp: every presynaptic trace as of trace_step, computed at the first post spike of
     * a step, so the post-spike pass reads one float per synapse instead of chasing
     * pre_last -> decay table -> pre_a (the same value, the same bits) */
    float *trace_now;
    int64_t trace_step;
} part_t;

static inline float clipf(float w, float lo, float hi) { return w < lo ? lo : (w > hi ? hi : w); }

/* ---- stdp ------------------------------------------------------------------------- */

static void stdp_on_pre(ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt, uint32_t pre,
                        int64_t step, float *ring, uint64_t *n_upd)
{
    (void)pj;
    rule_t *r = (rule_t *)pl;
    part_t *ps = pt->plastic;
    ps->pre_a[pre] = ps->pre_a[pre] * decay(&r->d_plus, step - ps->pre_last[pre]) + 1.0;
    ps->pre_last[pre] = step;
    uint64_t j0 = pt->row[pre], j1 = pt->row[pre + 1];
    if (j0 == j1) return;
    const float am = (float)pl->prm[S_AM], lo = (float)pl->prm[S_WMIN], hi = (float)pl->prm[S_WMAX];
    const bool mult = pl->prm[S_MODE] != 0;
    const uint32_t plo = pt->post_lo;
    float *w = pt->w;
    for (uint64_t j = j0; j < j1; j++) {
        uint32_t post = pt->pd[j] & AX_SNN_POST_MASK, l = post - plo;
        ring[post] += w[j];
        float o = (float)(ps->post_a[l] * decay(&r->d_minus, step - ps->post_last[l]));
        float dw = am * o;
        if (mult) dw *= w[j] - lo;
        w[j] = clipf(w[j] - dw, lo, hi);
    }
    *n_upd += j1 - j0;
}

static void stdp_on_post(ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt, uint32_t post,
                         int64_t step, uint64_t *n_upd)
{
    (void)pj;
    rule_t *r = (rule_t *)pl;
    part_t *ps = pt->plastic;
    uint32_t l = post - pt->post_lo;
    ps->post_a[l] = ps->post_a[l] * decay(&r->d_minus, step - ps->post_last[l]) + 1.0;
    ps->post_last[l] = step;
    uint64_t k0 = pt->col[l], k1 = pt->col[l + 1];
    const float ap = (float)pl->prm[S_AP], lo = (float)pl->prm[S_WMIN], hi = (float)pl->prm[S_WMAX];
    const bool mult = pl->prm[S_MODE] != 0;
    float *w = pt->w;
    if (ps->trace_step != step) {
        for (uint32_t p = 0; p < ps->n_pre; p++)
            ps->trace_now[p] = (float)(ps->pre_a[p] * decay(&r->d_plus, step - ps->pre_last[p]));
        ps->trace_step = step;
    }
    const float *tn = ps->trace_now;
    for (uint64_t k = k0; k < k1; k++) {
        /* the weights of a column are a row length apart: fetch ahead */
        if (k + 16 < k1) __builtin_prefetch(&w[pt->col_idx[k + 16]], 1);
        uint32_t j = pt->col_idx[k];
        float a = tn[ps->pre_of[k]];
        float dw = ap * a;
        if (mult) dw *= hi - w[j];
        w[j] = clipf(w[j] + dw, lo, hi);
    }
    *n_upd += k1 - k0;
}

/* ---- triplet ---------------------------------------------------------------------- */

static void trip_on_pre(ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt, uint32_t pre,
                        int64_t step, float *ring, uint64_t *n_upd)
{
    (void)pj;
    rule_t *r = (rule_t *)pl;
    part_t *ps = pt->plastic;
    int64_t lag = step - ps->pre_last[pre];
    double r1 = ps->pre_a[pre] * decay(&r->d_plus, lag);
    double r2 = ps->pre_b[pre] * decay(&r->d_x, lag); /* r2(t - eps): before this spike */
    ps->pre_a[pre] = r1 + 1.0;
    ps->pre_b[pre] = r2 + 1.0;
    ps->pre_last[pre] = step;
    uint64_t j0 = pt->row[pre], j1 = pt->row[pre + 1];
    if (j0 == j1) return;
    const float cm = (float)(pl->prm[T_A2M] + pl->prm[T_A3M] * r2);
    const float lo = (float)pl->prm[T_WMIN], hi = (float)pl->prm[T_WMAX];
    const uint32_t plo = pt->post_lo;
    float *w = pt->w;
    for (uint64_t j = j0; j < j1; j++) {
        uint32_t post = pt->pd[j] & AX_SNN_POST_MASK, l = post - plo;
        ring[post] += w[j];
        float o1 = (float)(ps->post_a[l] * decay(&r->d_minus, step - ps->post_last[l]));
        w[j] = clipf(w[j] - o1 * cm, lo, hi);
    }
    *n_upd += j1 - j0;
}

static void trip_on_post(ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt, uint32_t post,
                         int64_t step, uint64_t *n_upd)
{
    (void)pj;
    rule_t *r = (rule_t *)pl;
    part_t *ps = pt->plastic;
    uint32_t l = post - pt->post_lo;
    int64_t lag = step - ps->post_last[l];
    double o1 = ps->post_a[l] * decay(&r->d_minus, lag);
    double o2 = ps->post_b[l] * decay(&r->d_y, lag); /* o2(t - eps) */
    ps->post_a[l] = o1 + 1.0;
    ps->post_b[l] = o2 + 1.0;
    ps->post_last[l] = step;
    uint64_t k0 = pt->col[l], k1 = pt->col[l + 1];
    const float cp = (float)(pl->prm[T_A2P] + pl->prm[T_A3P] * o2);
    const float lo = (float)pl->prm[T_WMIN], hi = (float)pl->prm[T_WMAX];
    float *w = pt->w;
    for (uint64_t k = k0; k < k1; k++) {
        uint32_t j = pt->col_idx[k], p = ps->pre_of[k];
        float r1 = (float)(ps->pre_a[p] * decay(&r->d_plus, step - ps->pre_last[p]));
        w[j] = clipf(w[j] + r1 * cp, lo, hi);
    }
    *n_upd += k1 - k0;
}

/* ---- tsodyks_markram -------------------------------------------------------------- *
 * per presynaptic neuron: u (pre_a) decays to 0 with tau_facil, x (pre_b) recovers to 1
 * with tau_rec; at a spike u += U (1 - u), r = u x is released, x -= r. */

static void tm_on_pre(ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt, uint32_t pre,
                      int64_t step, float *ring, uint64_t *n_upd)
{
    (void)pj;
    rule_t *r = (rule_t *)pl;
    part_t *ps = pt->plastic;
    int64_t lag = step - ps->pre_last[pre];
    double u = ps->pre_a[pre] * decay(&r->d_u, lag);
    double x = 1.0 + (ps->pre_b[pre] - 1.0) * decay(&r->d_rec, lag);
    u += pl->prm[M_U] * (1.0 - u);
    double rel = u * x;
    ps->pre_a[pre] = u;
    ps->pre_b[pre] = x - rel;
    ps->pre_last[pre] = step;
    uint64_t j0 = pt->row[pre], j1 = pt->row[pre + 1];
    const float f = (float)rel;
    for (uint64_t j = j0; j < j1; j++) ring[pt->pd[j] & AX_SNN_POST_MASK] += pt->w[j] * f;
    *n_upd += j1 - j0;
}

/* ---- three_factor ----------------------------------------------------------------- *
 * STDP pairings (pre trace a, post trace o as in stdp) go into the eligibility c of the
 * synapse instead of its weight; step_end moves the weights by lr R * integral of c over
 * the step. */

static inline float elig_now(const rule_t *r, const part_t *ps, uint64_t j, int64_t step)
{
    return (float)((double)ps->c[j] * decay(&r->d_c, step - (int64_t)ps->c_last[j]));
}

static void tf_on_pre(ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt, uint32_t pre,
                      int64_t step, float *ring, uint64_t *n_upd)
{
    (void)pj;
    rule_t *r = (rule_t *)pl;
    part_t *ps = pt->plastic;
    ps->pre_a[pre] = ps->pre_a[pre] * decay(&r->d_plus, step - ps->pre_last[pre]) + 1.0;
    ps->pre_last[pre] = step;
    uint64_t j0 = pt->row[pre], j1 = pt->row[pre + 1];
    const float am = (float)pl->prm[F_AM];
    const uint32_t plo = pt->post_lo;
    for (uint64_t j = j0; j < j1; j++) {
        uint32_t post = pt->pd[j] & AX_SNN_POST_MASK, l = post - plo;
        ring[post] += pt->w[j];
        float o = (float)(ps->post_a[l] * decay(&r->d_minus, step - ps->post_last[l]));
        ps->c[j] = elig_now(r, ps, j, step) - am * o;
        ps->c_last[j] = (uint32_t)step;
    }
    *n_upd += j1 - j0;
}

static void tf_on_post(ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt, uint32_t post,
                       int64_t step, uint64_t *n_upd)
{
    (void)pj;
    rule_t *r = (rule_t *)pl;
    part_t *ps = pt->plastic;
    uint32_t l = post - pt->post_lo;
    ps->post_a[l] = ps->post_a[l] * decay(&r->d_minus, step - ps->post_last[l]) + 1.0;
    ps->post_last[l] = step;
    uint64_t k0 = pt->col[l], k1 = pt->col[l + 1];
    const float ap = (float)pl->prm[F_AP];
    for (uint64_t k = k0; k < k1; k++) {
        uint32_t j = pt->col_idx[k], p = ps->pre_of[k];
        float a = (float)(ps->pre_a[p] * decay(&r->d_plus, step - ps->pre_last[p]));
        ps->c[j] = elig_now(r, ps, j, step) + ap * a;
        ps->c_last[j] = (uint32_t)step;
    }
    *n_upd += k1 - k0;
}

static void tf_step_end(ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt, int64_t step,
                        uint64_t *n_upd)
{
    double R = pj->post->owner->reward;
    if (R == 0) return;
    rule_t *r = (rule_t *)pl;
    part_t *ps = pt->plastic;
    const float k = (float)(r->kc * R);
    const float lo = (float)pl->prm[F_WMIN], hi = (float)pl->prm[F_WMAX];
    float *w = pt->w, *c = ps->c;
    uint32_t *cl = ps->c_last;
    uint64_t n = 0;
    for (size_t j = 0; j < pt->nnz; j++) {
        if (c[j] == 0) continue;
        float cj = elig_now(r, ps, j, step);
        if (fabsf(cj) < 1e-30f) cj = 0; /* no denormals from long decays */
        c[j] = cj;
        cl[j] = (uint32_t)step;
        w[j] = clipf(w[j] + k * cj, lo, hi);
        n++;
    }
    *n_upd += n;
}

/* ---- per-partition state ---------------------------------------------------------- */

static void stash_clear(stash_t *st)
{
    free(st->pre_a), free(st->pre_b), free(st->post_a), free(st->post_b);
    free(st->pre_last), free(st->post_last), free(st->c), free(st->c_last);
    memset(st, 0, sizeof *st);
}

static bool uses_post(int id) { return id != R_TM; }
static bool uses_b(int id) { return id == R_TRIPLET || id == R_TM; }

/* collect the state of every partition of pj (whose tables are about to be rebuilt) */
static void stash_take(rule_t *r, ax__snn_proj *pj)
{
    stash_t *st = &r->st;
    stash_clear(st);
    for (int k = 0; k < pj->n_part; k++)
        if (!pj->part[k].plastic) return;
    uint32_t npre = pj->pre->n, npost = pj->post->n;
    const part_t *p0 = pj->part[0].plastic;
    st->n_pre = npre;
    st->n_post = npost;
    bool ok = (st->pre_a = ax__malloc_array(npre, sizeof(double))) &&
              (st->pre_last = ax__malloc_array(npre, sizeof(int64_t)));
    if (ok && uses_b(r->id)) ok = (st->pre_b = ax__malloc_array(npre, sizeof(double))) != NULL;
    if (ok && uses_post(r->id)) {
        ok = (st->post_a = ax__calloc(npost, sizeof(double))) &&
             (st->post_last = ax__calloc(npost, sizeof(int64_t)));
        if (ok && uses_b(r->id)) ok = (st->post_b = ax__calloc(npost, sizeof(double))) != NULL;
    }
    size_t ne = 0;
    for (int k = 0; k < pj->n_part; k++) ne += pj->part[k].nnz;
    if (ok && r->id == R_3F)
        ok = (st->c = ax__malloc_array(ne ? ne : 1, sizeof(float))) &&
             (st->c_last = ax__malloc_array(ne ? ne : 1, sizeof(uint32_t)));
    if (!ok) { /* out of memory: the rebuilt tables start from fresh state */
        stash_clear(st);
        return;
    }
    memcpy(st->pre_a, p0->pre_a, npre * sizeof(double));
    memcpy(st->pre_last, p0->pre_last, npre * sizeof(int64_t));
    if (st->pre_b) memcpy(st->pre_b, p0->pre_b, npre * sizeof(double));
    for (int k = 0; k < pj->n_part && st->post_a; k++) {
        const ax__snn_part *pt = &pj->part[k];
        const part_t *ps = pt->plastic;
        uint32_t m = pt->post_hi - pt->post_lo;
        memcpy(st->post_a + pt->post_lo, ps->post_a, m * sizeof(double));
        memcpy(st->post_last + pt->post_lo, ps->post_last, m * sizeof(int64_t));
        if (st->post_b) memcpy(st->post_b + pt->post_lo, ps->post_b, m * sizeof(double));
    }
    if (st->c) { /* the order of net.c's edges_from_parts: by pre, then partition */
        size_t at = 0;
        for (uint32_t i = 0; i < npre; i++)
            for (int k = 0; k < pj->n_part; k++) {
                const ax__snn_part *pt = &pj->part[k];
                const part_t *ps = pt->plastic;
                for (uint64_t j = pt->row[i]; j < pt->row[i + 1]; j++, at++) {
                    st->c[at] = ps->c[j];
                    st->c_last[at] = ps->c_last[j];
                }
            }
    }
    st->ne = ne;
    st->valid = true;
}

static void free_part(ax__snn_part *pt)
{
    part_t *ps = pt->plastic;
    if (!ps) return;
    /* partition 0 goes first, while the others are intact; an edge list next to the
     * tables means they are being rebuilt (net.c: edges_from_parts) */
    if (pt == &ps->pj->part[0] && ps->pj->e_pre) stash_take(ps->r, ps->pj);
    free(ps->pre_a), free(ps->pre_b), free(ps->post_a), free(ps->post_b);
    free(ps->pre_last), free(ps->post_last), free(ps->pre_of), free(ps->c), free(ps->c_last);
    free(ps->trace_now);
    free(ps);
    pt->plastic = NULL;
}

static int init_part(ax__snn_plastic *pl, ax__snn_proj *pj, ax__snn_part *pt)
{
    rule_t *r = (rule_t *)pl;
    part_t *ps = ax__calloc(1, sizeof *ps);
    if (!ps) return ax__err(AX_E_NOMEM, "out of memory for plasticity state");
    pt->plastic = ps;
    ps->r = r;
    ps->pj = pj;
    uint32_t npre = pj->pre->n, nloc = pt->post_hi - pt->post_lo;
    size_t nnz = pt->nnz ? pt->nnz : 1;
    ps->n_pre = npre;
    ps->n_loc = nloc;
    bool ok = (ps->pre_a = ax__calloc(npre, sizeof(double))) &&
              (ps->pre_last = ax__calloc(npre, sizeof(int64_t)));
    if (ok && uses_b(r->id)) ok = (ps->pre_b = ax__calloc(npre, sizeof(double))) != NULL;
    if (ok && uses_post(r->id)) {
        ok = (ps->post_a = ax__calloc(nloc + 1, sizeof(double))) &&
             (ps->post_last = ax__calloc(nloc + 1, sizeof(int64_t))) &&
             (ps->pre_of = ax__malloc_array(nnz, sizeof(uint32_t)));
        if (ok && uses_b(r->id)) ok = (ps->post_b = ax__calloc(nloc + 1, sizeof(double))) != NULL;
    }
    if (ok && r->id == R_3F)
        ok = (ps->c = ax__calloc(nnz, sizeof(float))) && (ps->c_last = ax__calloc(nnz, sizeof(uint32_t)));
    ps->trace_step = -1;
    if (ok && r->id == R_STDP) ok = (ps->trace_now = ax__malloc_array(npre ? npre : 1, sizeof(float))) != NULL;
    uint32_t *jpre = ok && ps->pre_of ? ax__malloc_array(nnz, sizeof(uint32_t)) : NULL;
    if (!ok || (ps->pre_of && !jpre)) {
        free(jpre);
        return ax__err(AX_E_NOMEM, "out of memory for the plasticity state of %zu synapses", pt->nnz);
    }
    if (r->id == R_TM)
        for (uint32_t i = 0; i < npre; i++) ps->pre_b[i] = 1.0; /* x: resources full */
    if (ps->pre_of) {
        for (uint32_t i = 0; i < npre; i++)
            for (uint64_t j = pt->row[i]; j < pt->row[i + 1]; j++) jpre[j] = i;
        for (size_t k = 0; k < pt->nnz; k++) ps->pre_of[k] = jpre[pt->col_idx[k]];
        free(jpre);
    }
    /* state from the tables this one replaces */
    stash_t *st = &r->st;
    if (st->valid && st->n_pre == npre && st->n_post == pj->post->n) {
        memcpy(ps->pre_a, st->pre_a, npre * sizeof(double));
        memcpy(ps->pre_last, st->pre_last, npre * sizeof(int64_t));
        if (ps->pre_b && st->pre_b) memcpy(ps->pre_b, st->pre_b, npre * sizeof(double));
        if (ps->post_a && st->post_a) {
            memcpy(ps->post_a, st->post_a + pt->post_lo, nloc * sizeof(double));
            memcpy(ps->post_last, st->post_last + pt->post_lo, nloc * sizeof(int64_t));
            if (ps->post_b && st->post_b) memcpy(ps->post_b, st->post_b + pt->post_lo, nloc * sizeof(double));
        }
        if (ps->c && st->c && pj->e_pre && st->ne == pj->ne) {
            /* net.c scatters the edge list stably: row i of this partition holds the
             * edges of pre i onto its targets in edge-list order */
            uint64_t *cur = ax__malloc_array((size_t)npre + 1, sizeof(uint64_t));
            if (!cur) return ax__err(AX_E_NOMEM, "out of memory");
            memcpy(cur, pt->row, ((size_t)npre + 1) * sizeof(uint64_t));
            for (size_t e = 0; e < pj->ne; e++) {
                uint32_t b = pj->e_post[e];
                if (b < pt->post_lo || b >= pt->post_hi) continue;
                uint64_t j = cur[pj->e_pre[e]]++;
                ps->c[j] = st->c[e];
                ps->c_last[j] = st->c_last[e];
            }
            free(cur);
        }
        if (pt == &pj->part[pj->n_part - 1]) stash_clear(st);
    }
    return AX_OK;
}

/* ---- making a rule ---------------------------------------------------------------- */

int ax__snn_plastic_make(const char *rule, int n, const char *const *names, const double *values,
                         double dt_ms, ax__snn_plastic **out)
{
    if (!out) return ax__err(AX_E_INVALID, "plasticity: NULL output");
    *out = NULL;
    const rule_def *rd = NULL;
    for (size_t i = 0; i < N_RULES && rule; i++)
        if (!strcmp(k_rules[i].name, rule)) rd = &k_rules[i];
    if (!rd)
        return ax__err(AX_E_INVALID, "unknown plasticity rule '%s' (known: stdp, triplet, tsodyks_markram, three_factor)",
                       rule ? rule : "(null)");
    if (n < 0 || (n > 0 && (!names || !values)))
        return ax__err(AX_E_INVALID, "plasticity rule %s: bad parameter list", rd->name);
    if (!(dt_ms > 0)) return ax__err(AX_E_INVALID, "plasticity rule %s: dt must be > 0", rd->name);
    double v[MAX_RULE_PRM];
    bool seen[MAX_RULE_PRM] = {false};
    for (int k = 0; k < rd->n; k++) v[k] = rd->p[k].def;
    for (int i = 0; i < n; i++) {
        int k = -1;
        for (int q = 0; q < rd->n && names[i]; q++)
            if (!strcmp(rd->p[q].name, names[i])) k = q;
        if (k < 0) {
            char list[256] = "";
            for (int q = 0; q < rd->n; q++) {
                strncat(list, rd->p[q].name, sizeof list - strlen(list) - 3);
                if (q + 1 < rd->n) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return ax__err(AX_E_INVALID, "plasticity rule %s: unknown parameter '%s' (it has: %s)", rd->name,
                           names[i] ? names[i] : "(null)", list);
        }
        const char *nm = rd->p[k].name;
        if (seen[k]) return ax__err(AX_E_INVALID, "plasticity rule %s: parameter %s given twice", rd->name, nm);
        seen[k] = true;
        double x = values[i];
        if (!isfinite(x))
            return ax__err(AX_E_INVALID, "plasticity rule %s: parameter %s = %g is not a finite number", rd->name, nm, x);
        switch (rd->p[k].kind) {
        case P_POS:
            if (!(x > 0))
                return ax__err(AX_E_INVALID, "plasticity rule %s: parameter %s = %g must be > 0 (a time constant in ms)",
                               rd->name, nm, x);
            break;
        case P_NONNEG:
            if (x < 0)
                return ax__err(AX_E_INVALID, "plasticity rule %s: parameter %s = %g must be >= 0 (a time constant in ms)",
                               rd->name, nm, x);
            break;
        case P_MODE:
            if (x != 0 && x != 1)
                return ax__err(AX_E_INVALID, "plasticity rule %s: parameter %s = %g must be 0 (additive) or 1 (multiplicative)",
                               rd->name, nm, x);
            break;
        case P_FRAC:
            if (!(x > 0 && x <= 1))
                return ax__err(AX_E_INVALID, "plasticity rule %s: parameter %s = %g must be in (0, 1]", rd->name, nm, x);
            break;
        default:
            break;
        }
        v[k] = x;
    }
    int iwmin = -1, iwmax = -1;
    for (int k = 0; k < rd->n; k++) {
        if (!strcmp(rd->p[k].name, "w_min")) iwmin = k;
        if (!strcmp(rd->p[k].name, "w_max")) iwmax = k;
    }
    if (iwmin >= 0 && !(v[iwmax] >= v[iwmin]))
        return ax__err(AX_E_INVALID, "plasticity rule %s: parameter w_max = %g is below w_min = %g", rd->name,
                       v[iwmax], v[iwmin]);

    rule_t *r = ax__calloc(1, sizeof *r);
    if (!r) return ax__err(AX_E_NOMEM, "out of memory");
    ax__snn_plastic *pl = &r->base;
    r->id = rd->id;
    r->dt = dt_ms;
    pl->rule = rd->name;
    pl->n_prm = rd->n;
    for (int k = 0; k < rd->n; k++) pl->prm[k] = v[k];
    pl->init_part = init_part;
    pl->free_part = free_part;
    int rc = AX_OK;
    /* FLOPs per synapse touched, counted from the loops above (a table lookup of a decay
     * factor is a load, its use one multiply; a clip is two compares) */
    switch (rd->id) {
    case R_STDP: {
        pl->on_pre = stdp_on_pre;
        pl->on_post = stdp_on_post;
        bool mult = v[S_MODE] != 0;
        /* decay, A * trace, add, clip (2); soft bounds: (w - w_min) or (w_max - w), mul */
        pl->flops_pre = pl->flops_post = mult ? 7 : 5;
        pl->bytes_per_synapse = 4; /* pre_of */
        if (!(rc = decay_init(&r->d_plus, v[S_TP], dt_ms))) rc = decay_init(&r->d_minus, v[S_TM], dt_ms);
        break;
    }
    case R_TRIPLET:
        pl->on_pre = trip_on_pre;
        pl->on_post = trip_on_post;
        /* decay, trace * coefficient (the coefficient is per spike), add, clip (2) */
        pl->flops_pre = pl->flops_post = 5;
        pl->bytes_per_synapse = 4;
        if (!(rc = decay_init(&r->d_plus, v[T_TP], dt_ms)) && !(rc = decay_init(&r->d_minus, v[T_TM], dt_ms)) &&
            !(rc = decay_init(&r->d_x, v[T_TX], dt_ms)))
            rc = decay_init(&r->d_y, v[T_TY], dt_ms);
        break;
    case R_TM:
        pl->on_pre = tm_on_pre;
        pl->on_post = NULL;
        pl->flops_pre = 1; /* w * (u x); u and x themselves are per presynaptic spike */
        pl->flops_post = 0;
        pl->bytes_per_synapse = 0;
        if (!(rc = decay_init(&r->d_u, v[M_TFAC], dt_ms))) rc = decay_init(&r->d_rec, v[M_TREC], dt_ms);
        break;
    case R_3F:
        pl->on_pre = tf_on_pre;
        pl->on_post = tf_on_post;
        pl->step_end = tf_step_end;
        /* pairing: trace decay, A * trace, c decay, add; the reward pass costs 5 per
         * eligible synapse (c decay, k * c, add, clip 2) and is charged at this rate */
        pl->flops_pre = pl->flops_post = 4;
        pl->bytes_per_synapse = 4 + 4 + 4; /* pre_of, c, c_last */
        r->kc = v[F_LR] * v[F_TC] * -expm1(-dt_ms / v[F_TC]);
        if (!(rc = decay_init(&r->d_plus, v[F_TP], dt_ms)) && !(rc = decay_init(&r->d_minus, v[F_TM], dt_ms)))
            rc = decay_init(&r->d_c, v[F_TC], dt_ms);
        break;
    default:
        break;
    }
    if (rc) {
        ax__snn_plastic_free(pl);
        return rc;
    }
    *out = pl;
    return AX_OK;
}

void ax__snn_plastic_free(ax__snn_plastic *pl)
{
    if (!pl) return;
    rule_t *r = (rule_t *)pl;
    free(r->d_plus.f), free(r->d_minus.f), free(r->d_x.f), free(r->d_y.f);
    free(r->d_c.f), free(r->d_u.f), free(r->d_rec.f);
    stash_clear(&r->st);
    free(r);
}
