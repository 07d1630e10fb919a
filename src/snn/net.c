/* net.c: building a spiking network: populations, synapses, gap junctions, inputs, and
 * turning the synapse lists into per-partition CSR tables at the first run. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "snn/snn_int.h"

static const ax__snn_model *const k_models[] = {
    &ax__model_lif,     &ax__model_lif_coba, &ax__model_izhikevich,
    &ax__model_hh_coba, &ax__model_poisson,  &ax__model_spike_generator,
};
#define N_MODELS (sizeof k_models / sizeof k_models[0])

const char *const *ax_snn_models(void)
{
    static const char *names[N_MODELS + 1];
    for (size_t i = 0; i < N_MODELS; i++) names[i] = k_models[i]->name;
    names[N_MODELS] = NULL;
    return names;
}

const ax__snn_model *ax__snn_model_find(const char *name)
{
    for (size_t i = 0; i < N_MODELS; i++)
        if (!strcmp(k_models[i]->name, name)) return k_models[i];
    return NULL;
}

int ax__snn_state_index(const ax__snn_model *m, const char *name)
{
    for (int i = 0; i < m->n_state; i++)
        if (!strcmp(m->state[i], name)) return i;
    return -1;
}

int ax__snn_param_index(const ax__snn_model *m, const char *name)
{
    for (int i = 0; i < m->n_param; i++)
        if (!strcmp(m->param[i].name, name)) return i;
    return -1;
}

int ax_snn_new(double dt_ms, uint64_t seed, ax_snn **out)
{
    if (!out) return ax__err(AX_E_INVALID, "ax_snn_new: NULL output");
    *out = NULL;
    if (!(dt_ms > 0) || !isfinite(dt_ms) || dt_ms > 100)
        return ax__err(AX_E_INVALID, "dt_ms: %g is not a time step in (0, 100] ms", dt_ms);
    ax_snn *s = ax__calloc(1, sizeof *s);
    if (!s) return ax__err(AX_E_NOMEM, "out of memory");
    s->dt = dt_ms;
    s->seed = seed;
    s->rec_spikes = true;
    *out = s;
    return AX_OK;
}

static void unbuild_proj(ax__snn_proj *pj)
{
    for (int k = 0; k < pj->n_part; k++) {
        ax__snn_part *pt = &pj->part[k];
        if (pj->plastic && pj->plastic->free_part) pj->plastic->free_part(pt);
        free(pt->row);
        free(pt->pd);
        free(pt->w);
        free(pt->col);
        free(pt->col_idx);
    }
    free(pj->part);
    pj->part = NULL;
    pj->n_part = 0;
}

void ax__snn_unbuild(ax_snn *s)
{
    for (int i = 0; i < s->n_proj; i++) unbuild_proj(s->proj[i]);
    for (int i = 0; i < s->n_gap; i++) {
        free(s->gap[i].row);
        free(s->gap[i].other);
        free(s->gap[i].g);
        s->gap[i].row = NULL;
        s->gap[i].other = NULL;
        s->gap[i].g = NULL;
    }
    for (int i = 0; i < s->n_pop; i++) {
        ax__snn_pop *p = s->pop[i];
        for (int k = 0; k < AX_SNN_MAX_STATE; k++) {
            free(p->ring[k]);
            p->ring[k] = NULL;
        }
        free(p->i_gap);
        p->i_gap = NULL;
    }
    s->built = false;
}

void ax_snn_free(ax_snn *s)
{
    if (!s) return;
    ax__snn_unbuild(s);
    ax__snn_free_hist(s);
    for (int i = 0; i < s->n_pop; i++) {
        ax__snn_pop *p = s->pop[i];
        free(p->name);
        for (int k = 0; k < AX_SNN_MAX_STATE; k++) free(p->s[k]);
        free(p->last_spike);
        free(p->refr_left);
        free(p->rng);
        free(p->gen_step);
        free(p->gen_neuron);
        free(p);
    }
    free(s->pop);
    for (int i = 0; i < s->n_proj; i++) {
        ax__snn_proj *pj = s->proj[i];
        free(pj->name);
        free(pj->e_pre);
        free(pj->e_post);
        free(pj->e_w);
        free(pj->e_d);
        ax__snn_plastic_free(pj->plastic);
        free(pj);
    }
    free(s->proj);
    for (int i = 0; i < s->n_gap; i++) free(s->gap[i].e);
    free(s->gap);
    for (int i = 0; i < s->n_poisson; i++) free(s->poisson[i].cdf);
    free(s->poisson);
    free(s->steps);
    for (int i = 0; i < s->n_mon; i++) {
        free(s->mon[i].idx);
        free(s->mon[i].data);
        free(s->mon[i].sample_step);
    }
    free(s->mon);
    free(s->spk_step);
    free(s->spk_id);
    free(s->pop_counts);
    if (s->names)
        for (uint32_t i = 0; i < s->n_names; i++) free(s->names[i]);
    free(s->names);
    json_decref((json_t *)s->task_json);
    free(s);
}

static int check_pop(const ax_snn *s, int pop)
{
    if (!s) return ax__err(AX_E_INVALID, "NULL network");
    if (pop < 0 || pop >= s->n_pop) return ax__err(AX_E_INVALID, "no population %d", pop);
    return AX_OK;
}

static int grow(void **p, size_t *cap, size_t need, size_t esz)
{
    if (need <= *cap) return AX_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * esz);
    if (!q) return ax__err(AX_E_NOMEM, "out of memory");
    *p = q;
    *cap = nc;
    return AX_OK;
}

int ax_snn_add_population(ax_snn *s, const char *name, const char *model, uint32_t n, int *pop)
{
    if (!s || !name || !model) return ax__err(AX_E_INVALID, "ax_snn_add_population: NULL argument");
    if (s->built) return ax__err(AX_E_INVALID, "population %s: the network has already run", name);
    const ax__snn_model *m = ax__snn_model_find(model);
    if (!m) {
        char list[256] = "";
        for (size_t i = 0; i < N_MODELS; i++) {
            strncat(list, k_models[i]->name, sizeof list - strlen(list) - 3);
            if (i + 1 < N_MODELS) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        return ax__err(AX_E_INVALID, "population %s: unknown model '%s' (known: %s)", name, model, list);
    }
    if (n == 0) return ax__err(AX_E_INVALID, "population %s: size must be at least 1", name);
    if (n > AX_SNN_POST_MASK + 1u)
        return ax__err(AX_E_RANGE, "population %s: %u neurons, more than the %u a population may have",
                       name, n, AX_SNN_POST_MASK + 1u);
    if ((uint64_t)s->n_neurons + n > UINT32_MAX - 1)
        return ax__err(AX_E_RANGE, "population %s: more than 2^32 neurons in all", name);
    for (int i = 0; i < s->n_pop; i++)
        if (!strcmp(s->pop[i]->name, name))
            return ax__err(AX_E_INVALID, "population %s: the name is used twice", name);
    ax__snn_pop **np = realloc(s->pop, (size_t)(s->n_pop + 1) * sizeof *np);
    if (!np) return ax__err(AX_E_NOMEM, "out of memory");
    s->pop = np;
    ax__snn_pop *p = ax__calloc(1, sizeof *p);
    if (!p) return ax__err(AX_E_NOMEM, "out of memory");
    p->name = ax__strdup(name);
    p->m = m;
    p->n = n;
    p->offset = s->n_neurons;
    p->index = s->n_pop;
    p->owner = s;
    for (int k = 0; k < m->n_param; k++) p->p[k] = m->param[k].def;
    bool ok = p->name != NULL;
    for (int k = 0; k < m->n_state && ok; k++) ok = (p->s[k] = ax__calloc(n, sizeof(float))) != NULL;
    ok = ok && (p->last_spike = ax__malloc_array(n, sizeof(int64_t))) != NULL;
    ok = ok && (p->refr_left = ax__calloc(n, sizeof(int32_t))) != NULL;
    ok = ok && (p->rng = ax__malloc_array(n, sizeof(uint64_t))) != NULL;
    if (!ok) {
        for (int k = 0; k < AX_SNN_MAX_STATE; k++) free(p->s[k]);
        free(p->last_spike);
        free(p->refr_left);
        free(p->rng);
        free(p->name);
        free(p);
        return ax__err(AX_E_NOMEM, "population %s: out of memory for %u neurons", name, n);
    }
    for (uint32_t i = 0; i < n; i++) {
        p->last_spike[i] = AX_SNN_NEVER;
        p->rng[i] = ax__stream_seed(s->seed, 1000 + (uint64_t)s->n_pop, i);
    }
    /* state starts at the model's resting values where it names them */
    int iv = ax__snn_state_index(m, "v");
    int pr = ax__snn_param_index(m, "v_rest");
    if (iv >= 0 && pr >= 0)
        for (uint32_t i = 0; i < n; i++) p->s[iv][i] = (float)p->p[pr];
    s->pop[s->n_pop++] = p;
    s->n_neurons += n;
    if (pop) *pop = p->index;
    return AX_OK;
}

int ax_snn_find_population(const ax_snn *s, const char *name, int *pop)
{
    if (!s || !name) return AX_E_INVALID;
    for (int i = 0; i < s->n_pop; i++)
        if (!strcmp(s->pop[i]->name, name)) {
            if (pop) *pop = i;
            return AX_OK;
        }
    return ax__err(AX_E_NOTFOUND, "no population named '%s'", name);
}

int ax_snn_set_param(ax_snn *s, int pop, const char *name, double value)
{
    int rc = check_pop(s, pop);
    if (rc) return rc;
    ax__snn_pop *p = s->pop[pop];
    int k = name ? ax__snn_param_index(p->m, name) : -1;
    if (k < 0) {
        char list[512] = "";
        for (int i = 0; i < p->m->n_param; i++) {
            strncat(list, p->m->param[i].name, sizeof list - strlen(list) - 3);
            if (i + 1 < p->m->n_param) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        return ax__err(AX_E_INVALID, "population %s: model %s has no parameter '%s' (it has: %s)",
                       p->name, p->m->name, name ? name : "(null)", list);
    }
    if (!isfinite(value))
        return ax__err(AX_E_INVALID, "population %s: parameter %s is not a finite number", p->name, name);
    /* a population still at its resting potential follows a new v_rest */
    int iv = ax__snn_state_index(p->m, "v");
    if (!strcmp(name, "v_rest") && iv >= 0 && s->step == 0)
        for (uint32_t i = 0; i < p->n; i++)
            if (p->s[iv][i] == (float)p->p[k]) p->s[iv][i] = (float)value;
    p->p[k] = value;
    /* a Poisson source's rate_hz sets every neuron's rate */
    int ir = ax__snn_state_index(p->m, "rate");
    if (ir >= 0 && !strcmp(name, "rate_hz"))
        for (uint32_t i = 0; i < p->n; i++) p->s[ir][i] = (float)value;
    return AX_OK;
}

static int state_of(const ax_snn *s, int pop, const char *var, int *k)
{
    int rc = check_pop(s, pop);
    if (rc) return rc;
    const ax__snn_pop *p = s->pop[pop];
    *k = var ? ax__snn_state_index(p->m, var) : -1;
    if (*k < 0) {
        char list[256] = "";
        for (int i = 0; i < p->m->n_state; i++) {
            strncat(list, p->m->state[i], sizeof list - strlen(list) - 3);
            if (i + 1 < p->m->n_state) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        return ax__err(AX_E_INVALID, "population %s: model %s has no variable '%s' (it has: %s)",
                       p->name, p->m->name, var ? var : "(null)", list[0] ? list : "none");
    }
    return AX_OK;
}

int ax_snn_set_state(ax_snn *s, int pop, const char *var, const float *values)
{
    int k, rc = state_of(s, pop, var, &k);
    if (rc) return rc;
    ax__snn_pop *p = s->pop[pop];
    for (uint32_t i = 0; i < p->n; i++)
        if (!isfinite(values[i]))
            return ax__err(AX_E_INVALID, "population %s: %s of neuron %u is not finite", p->name, var, i);
    memcpy(p->s[k], values, (size_t)p->n * sizeof(float));
    return AX_OK;
}

int ax_snn_get_state(const ax_snn *s, int pop, const char *var, float *values)
{
    int k, rc = state_of(s, pop, var, &k);
    if (rc) return rc;
    memcpy(values, s->pop[pop]->s[k], (size_t)s->pop[pop]->n * sizeof(float));
    return AX_OK;
}

static int delay_steps(const ax_snn *s, double d_ms, const char *proj, int *out)
{
    if (!isfinite(d_ms) || d_ms < 0)
        return ax__err(AX_E_INVALID, "projection %s: delay %g ms is not a time >= 0", proj, d_ms);
    double st = floor(d_ms / s->dt + 0.5);
    if (st > AX_SNN_MAX_DELAY)
        return ax__err(AX_E_RANGE, "projection %s: delay %g ms is %g steps, more than the %d allowed",
                       proj, d_ms, st, AX_SNN_MAX_DELAY);
    *out = (int)st;
    return AX_OK;
}

static ax__snn_proj *find_proj(const ax_snn *s, const char *name)
{
    for (int i = 0; i < s->n_proj; i++)
        if (!strcmp(s->proj[i]->name, name)) return s->proj[i];
    return NULL;
}

int ax_snn_connect(ax_snn *s, const char *proj, int pre_pop, int post_pop, const char *target,
                   size_t n, const uint32_t *pre, const uint32_t *post, const float *weight,
                   const float *delay_ms, double delay_ms0)
{
    int rc;
    if ((rc = check_pop(s, pre_pop)) || (rc = check_pop(s, post_pop))) return rc;
    if (!proj || !target || (n && (!pre || !post || !weight)))
        return ax__err(AX_E_INVALID, "ax_snn_connect: NULL argument");
    if (s->built) return ax__err(AX_E_INVALID, "projection %s: the network has already run", proj);
    ax__snn_pop *a = s->pop[pre_pop], *b = s->pop[post_pop];
    int tgt = ax__snn_state_index(b->m, target);
    if (tgt < 0)
        return ax__err(AX_E_INVALID, "projection %s: population %s (model %s) has no variable '%s' to target",
                       proj, b->name, b->m->name, target);
    ax__snn_proj *pj = find_proj(s, proj);
    if (pj && (pj->pre != a || pj->post != b || pj->target != tgt))
        return ax__err(AX_E_INVALID, "projection %s: exists with other populations or target", proj);
    if (!pj) {
        ax__snn_proj **np = realloc(s->proj, (size_t)(s->n_proj + 1) * sizeof *np);
        if (!np) return ax__err(AX_E_NOMEM, "out of memory");
        s->proj = np;
        pj = ax__calloc(1, sizeof *pj);
        if (!pj || !(pj->name = ax__strdup(proj))) {
            free(pj);
            return ax__err(AX_E_NOMEM, "out of memory");
        }
        pj->pre = a;
        pj->post = b;
        pj->target = tgt;
        s->proj[s->n_proj++] = pj;
    }
    int d0;
    if ((rc = delay_steps(s, delay_ms0, proj, &d0))) return rc;
    size_t need = pj->ne + n;
    if (need < pj->ne) return ax__err(AX_E_RANGE, "projection %s: too many synapses", proj);
    if (need > pj->cap) {
        size_t nc = pj->cap ? pj->cap : 1024;
        while (nc < need) nc *= 2;
        uint32_t *q1 = realloc(pj->e_pre, nc * sizeof *q1);
        if (q1) pj->e_pre = q1;
        uint32_t *q2 = q1 ? realloc(pj->e_post, nc * sizeof *q2) : NULL;
        if (q2) pj->e_post = q2;
        float *q3 = q2 ? realloc(pj->e_w, nc * sizeof *q3) : NULL;
        if (q3) pj->e_w = q3;
        uint8_t *q4 = q3 ? realloc(pj->e_d, nc) : NULL;
        if (q4) pj->e_d = q4;
        if (!q4) return ax__err(AX_E_NOMEM, "projection %s: out of memory for %zu synapses", proj, need);
        pj->cap = nc;
    }
    for (size_t k = 0; k < n; k++) {
        if (pre[k] >= a->n)
            return ax__err(AX_E_RANGE, "projection %s: synapse %zu names presynaptic neuron %u, but %s has %u",
                           proj, k, pre[k], a->name, a->n);
        if (post[k] >= b->n)
            return ax__err(AX_E_RANGE, "projection %s: synapse %zu names postsynaptic neuron %u, but %s has %u",
                           proj, k, post[k], b->name, b->n);
        if (!isfinite(weight[k]))
            return ax__err(AX_E_INVALID, "projection %s: synapse %zu (%u -> %u) has weight %g",
                           proj, k, pre[k], post[k], (double)weight[k]);
        int d = d0;
        if (delay_ms && (rc = delay_steps(s, delay_ms[k], proj, &d))) return rc;
        size_t e = pj->ne + k;
        pj->e_pre[e] = pre[k];
        pj->e_post[e] = post[k];
        pj->e_w[e] = weight[k];
        pj->e_d[e] = (uint8_t)d;
        if (d > pj->max_delay) pj->max_delay = d;
    }
    pj->ne = need;
    return AX_OK;
}

int ax_snn_gap_junctions(ax_snn *s, int pop, size_t n, const uint32_t *a, const uint32_t *b,
                         const float *g)
{
    int rc = check_pop(s, pop);
    if (rc) return rc;
    ax__snn_pop *p = s->pop[pop];
    if (p->m->gap_state < 0)
        return ax__err(AX_E_UNSUPPORTED, "population %s: model %s takes no gap junctions", p->name, p->m->name);
    if (s->built) return ax__err(AX_E_INVALID, "gap junctions: the network has already run");
    int gi = -1;
    for (int i = 0; i < s->n_gap; i++)
        if (s->gap[i].pop == pop) gi = i;
    if (gi < 0) {
        void *q = realloc(s->gap, (size_t)(s->n_gap + 1) * sizeof *s->gap);
        if (!q) return ax__err(AX_E_NOMEM, "out of memory");
        s->gap = q;
        gi = s->n_gap++;
        memset(&s->gap[gi], 0, sizeof s->gap[gi]);
        s->gap[gi].pop = pop;
    }
    if ((rc = grow((void **)&s->gap[gi].e, &s->gap[gi].cap, s->gap[gi].n + n, sizeof(ax__snn_gap))))
        return rc;
    for (size_t k = 0; k < n; k++) {
        if (a[k] >= p->n || b[k] >= p->n)
            return ax__err(AX_E_RANGE, "gap junction %zu (%u - %u): population %s has %u neurons",
                           k, a[k], b[k], p->name, p->n);
        if (!isfinite(g[k]) || g[k] < 0)
            return ax__err(AX_E_INVALID, "gap junction %zu (%u - %u): conductance %g is not >= 0",
                           k, a[k], b[k], (double)g[k]);
        s->gap[gi].e[s->gap[gi].n++] = (ax__snn_gap){a[k], b[k], g[k]};
    }
    return AX_OK;
}

static int range_check(const ax__snn_pop *p, uint32_t first, uint32_t count, const char *what)
{
    if (count == 0 || first >= p->n || count > p->n - first)
        return ax__err(AX_E_RANGE, "%s: neurons [%u, %u) are not within population %s of %u",
                       what, first, first + count, p->name, p->n);
    return AX_OK;
}

int ax_snn_add_poisson(ax_snn *s, int pop, uint32_t first, uint32_t count, const char *target,
                       double rate_hz, uint32_t n_sources, double weight)
{
    int k, rc = state_of(s, pop, target, &k);
    if (rc) return ax__err_prefix(rc, "poisson input");
    ax__snn_pop *p = s->pop[pop];
    if ((rc = range_check(p, first, count, "poisson input"))) return rc;
    if (!isfinite(rate_hz) || rate_hz < 0)
        return ax__err(AX_E_INVALID, "poisson input to %s: rate %g Hz is not >= 0", p->name, rate_hz);
    if (rate_hz * s->dt * 1e-3 > 1)
        return ax__err(AX_E_INVALID, "poisson input to %s: rate %g Hz gives more than one spike per step of %g ms",
                       p->name, rate_hz, s->dt);
    if (!isfinite(weight)) return ax__err(AX_E_INVALID, "poisson input to %s: weight is not finite", p->name);
    if (n_sources == 0) return ax__err(AX_E_INVALID, "poisson input to %s: n_sources must be >= 1", p->name);
    void *q = realloc(s->poisson, (size_t)(s->n_poisson + 1) * sizeof *s->poisson);
    if (!q) return ax__err(AX_E_NOMEM, "out of memory");
    s->poisson = q;
    ax__snn_poisson in = {pop, first, count, k, rate_hz * s->dt * 1e-3, n_sources, (float)weight, NULL, 0};
    /* binomial pmf by the recurrence pmf(k+1) = pmf(k) (n-k)/(k+1) p/(1-p), in logs for n p
     * large; stop where the remaining mass is negligible */
    double pp = in.p, n = n_sources;
    size_t cap = 64, m = 0;
    in.cdf = ax__malloc_array(cap, sizeof(double));
    if (!in.cdf) return ax__err(AX_E_NOMEM, "out of memory");
    if (pp >= 1) {
        in.cdf[0] = 0; /* always n */
        m = 1;
    } else {
        double logpmf = n * log1p(-pp), acc = 0;
        for (uint32_t j = 0; j <= n_sources; j++) {
            double pmf = exp(logpmf);
            acc += pmf;
            if (m == cap) {
                cap *= 2;
                double *grown = realloc(in.cdf, cap * sizeof(double));
                if (!grown) {
                    free(in.cdf);
                    return ax__err(AX_E_NOMEM, "out of memory");
                }
                in.cdf = grown;
            }
            in.cdf[m++] = acc;
            if (1 - acc < 1e-15 && (double)j >= n * pp) break;
            logpmf += log((n - j) / (j + 1.0)) + log(pp) - log1p(-pp);
        }
    }
    in.n_cdf = (uint32_t)m;
    s->poisson[s->n_poisson++] = in;
    return AX_OK;
}

int ax_snn_add_step(ax_snn *s, int pop, uint32_t first, uint32_t count, const char *target,
                    double amount, double start_ms, double stop_ms)
{
    int k, rc = state_of(s, pop, target, &k);
    if (rc) return ax__err_prefix(rc, "current step");
    ax__snn_pop *p = s->pop[pop];
    if ((rc = range_check(p, first, count, "current step"))) return rc;
    if (!isfinite(amount) || !isfinite(start_ms) || !(stop_ms >= start_ms) || start_ms < 0)
        return ax__err(AX_E_INVALID, "current step to %s: need finite amount and 0 <= start <= stop", p->name);
    void *q = realloc(s->steps, (size_t)(s->n_steps + 1) * sizeof *s->steps);
    if (!q) return ax__err(AX_E_NOMEM, "out of memory");
    s->steps = q;
    int64_t on = (int64_t)floor(start_ms / s->dt + 0.5);
    int64_t off = isinf(stop_ms) ? INT64_MAX : (int64_t)floor(stop_ms / s->dt + 0.5);
    s->steps[s->n_steps++] = (ax__snn_step){pop, first, count, k, (float)amount, on, off};
    return AX_OK;
}

static int cmp_gen(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

int ax_snn_set_spike_times(ax_snn *s, int pop, size_t n, const uint32_t *neuron, const double *t_ms)
{
    int rc = check_pop(s, pop);
    if (rc) return rc;
    ax__snn_pop *p = s->pop[pop];
    if (p->m != &ax__model_spike_generator)
        return ax__err(AX_E_INVALID, "population %s: spike times need model spike_generator, not %s",
                       p->name, p->m->name);
    int64_t *pairs = ax__malloc_array(n ? n : 1, 2 * sizeof(int64_t));
    if (!pairs) return ax__err(AX_E_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        if (neuron[k] >= p->n || !isfinite(t_ms[k]) || t_ms[k] < 0) {
            free(pairs);
            return ax__err(AX_E_INVALID, "population %s: spike %zu (neuron %u at %g ms) is out of range",
                           p->name, k, neuron[k], t_ms[k]);
        }
        pairs[2 * k] = (int64_t)floor(t_ms[k] / s->dt + 0.5);
        pairs[2 * k + 1] = neuron[k];
    }
    qsort(pairs, n, 2 * sizeof(int64_t), cmp_gen);
    free(p->gen_step);
    free(p->gen_neuron);
    p->gen_step = ax__malloc_array(n ? n : 1, sizeof(int64_t));
    p->gen_neuron = ax__malloc_array(n ? n : 1, sizeof(uint32_t));
    if (!p->gen_step || !p->gen_neuron) {
        free(pairs);
        return ax__err(AX_E_NOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t k = 0; k < n; k++) { /* one spike per neuron and step */
        if (m && p->gen_step[m - 1] == pairs[2 * k] && p->gen_neuron[m - 1] == (uint32_t)pairs[2 * k + 1])
            continue;
        p->gen_step[m] = pairs[2 * k];
        p->gen_neuron[m++] = (uint32_t)pairs[2 * k + 1];
    }
    free(pairs);
    p->gen_n = m;
    p->gen_cursor = 0;
    while (p->gen_cursor < m && p->gen_step[p->gen_cursor] < s->step) p->gen_cursor++;
    return AX_OK;
}

int ax_snn_set_plasticity(ax_snn *s, const char *proj, const char *rule, int n_params,
                          const char *const *names, const double *values)
{
    if (!s || !proj || !rule) return ax__err(AX_E_INVALID, "ax_snn_set_plasticity: NULL argument");
    ax__snn_proj *pj = find_proj(s, proj);
    if (!pj) return ax__err(AX_E_NOTFOUND, "plasticity: no projection named '%s'", proj);
    if (s->built) return ax__err(AX_E_INVALID, "projection %s: the network has already run", proj);
    ax__snn_plastic *pl = NULL;
    int rc = ax__snn_plastic_make(rule, n_params, names, values, s->dt, &pl);
    if (rc) return ax__err_prefix(rc, "projection %s", proj);
    ax__snn_plastic_free(pj->plastic);
    pj->plastic = pl;
    return AX_OK;
}

int ax_snn_set_reward(ax_snn *s, double reward)
{
    if (!s || !isfinite(reward)) return ax__err(AX_E_INVALID, "reward must be finite");
    s->reward = reward;
    return AX_OK;
}

int ax_snn_record_state(ax_snn *s, int pop, const char *var, size_t n, const uint32_t *idx,
                        double every_ms)
{
    int k, rc = state_of(s, pop, var, &k);
    if (rc) return ax__err_prefix(rc, "state monitor");
    ax__snn_pop *p = s->pop[pop];
    if (n == 0 || !idx) return ax__err(AX_E_INVALID, "state monitor of %s.%s: no neurons", p->name, var);
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= p->n)
            return ax__err(AX_E_RANGE, "state monitor of %s.%s: neuron %u, but %s has %u", p->name, var,
                           idx[i], p->name, p->n);
    if (!(every_ms > 0) || !isfinite(every_ms))
        return ax__err(AX_E_INVALID, "state monitor of %s.%s: every_ms must be > 0", p->name, var);
    void *q = realloc(s->mon, (size_t)(s->n_mon + 1) * sizeof *s->mon);
    if (!q) return ax__err(AX_E_NOMEM, "out of memory");
    s->mon = q;
    ax__snn_monitor *m = &s->mon[s->n_mon];
    memset(m, 0, sizeof *m);
    m->pop = pop;
    m->var = k;
    m->n = n;
    m->every = (int64_t)floor(every_ms / s->dt + 0.5);
    if (m->every < 1) m->every = 1;
    m->idx = ax__malloc_array(n, sizeof(uint32_t));
    if (!m->idx) return ax__err(AX_E_NOMEM, "out of memory");
    memcpy(m->idx, idx, n * sizeof(uint32_t));
    s->n_mon++;
    return AX_OK;
}

int ax_snn_record_spikes(ax_snn *s, bool on)
{
    if (!s) return AX_E_INVALID;
    s->rec_spikes = on;
    return AX_OK;
}

/* ---- building the tables ------------------------------------------------------------ */

/* partition k of T over [0, N) */
static uint32_t part_lo(uint32_t N, int T, int k) { return (uint32_t)((uint64_t)N * (uint64_t)k / (uint64_t)T); }

static int build_proj(ax_snn *s, ax__snn_proj *pj, int T)
{
    ax__snn_pop *b = pj->post;
    if (pj->plastic) {
        /* plastic projections process arrivals, so one delay for all their synapses */
        for (size_t e = 1; e < pj->ne; e++)
            if (pj->e_d[e] != pj->e_d[0])
                return ax__err(AX_E_UNSUPPORTED, "projection %s: plastic synapses need one delay for all", pj->name);
        pj->plastic->delay = pj->ne ? pj->e_d[0] : 0;
    }
    pj->part = ax__calloc((size_t)T, sizeof *pj->part);
    if (!pj->part) return ax__err(AX_E_NOMEM, "out of memory");
    pj->n_part = T;
    uint32_t npre = pj->pre->n;
    for (int k = 0; k < T; k++) {
        ax__snn_part *pt = &pj->part[k];
        /* global partition [lo, hi) intersected with the post population */
        uint32_t glo = part_lo(s->n_neurons, T, k), ghi = part_lo(s->n_neurons, T, k + 1);
        uint32_t lo = glo > b->offset ? glo - b->offset : 0;
        uint32_t hi = ghi > b->offset ? ghi - b->offset : 0;
        if (lo > b->n) lo = b->n;
        if (hi > b->n) hi = b->n;
        pt->post_lo = lo;
        pt->post_hi = hi;
        pt->row = ax__calloc((size_t)npre + 1, sizeof(uint64_t));
        if (!pt->row) return ax__err(AX_E_NOMEM, "projection %s: out of memory", pj->name);
    }
    /* count per (partition, pre) */
    int *owner = NULL;
    if (T > 1) {
        owner = ax__malloc_array(b->n, sizeof(int));
        if (!owner) return ax__err(AX_E_NOMEM, "out of memory");
        for (int k = 0; k < T; k++)
            for (uint32_t i = pj->part[k].post_lo; i < pj->part[k].post_hi; i++) owner[i] = k;
    }
    for (size_t e = 0; e < pj->ne; e++) {
        int k = owner ? owner[pj->e_post[e]] : 0;
        pj->part[k].row[pj->e_pre[e] + 1]++;
    }
    for (int k = 0; k < T; k++) {
        ax__snn_part *pt = &pj->part[k];
        for (uint32_t i = 0; i < npre; i++) pt->row[i + 1] += pt->row[i];
        pt->nnz = pt->row[npre];
        pt->pd = ax__malloc_array(pt->nnz ? pt->nnz : 1, sizeof(uint32_t));
        pt->w = ax__malloc_array(pt->nnz ? pt->nnz : 1, sizeof(float));
        if (!pt->pd || !pt->w) {
            free(owner);
            return ax__err(AX_E_NOMEM, "projection %s: out of memory for %zu synapses", pj->name, pt->nnz);
        }
    }
    /* scatter, stable in creation order; use row[] as cursors then shift back */
    for (size_t e = 0; e < pj->ne; e++) {
        int k = owner ? owner[pj->e_post[e]] : 0;
        ax__snn_part *pt = &pj->part[k];
        uint64_t at = pt->row[pj->e_pre[e]]++;
        pt->pd[at] = pj->e_post[e] | ((uint32_t)pj->e_d[e] << AX_SNN_POST_BITS);
        pt->w[at] = pj->e_w[e];
    }
    free(owner);
    for (int k = 0; k < T; k++) {
        ax__snn_part *pt = &pj->part[k];
        for (uint32_t i = npre; i > 0; i--) pt->row[i] = pt->row[i - 1];
        pt->row[0] = 0;
    }
    if (pj->plastic) {
        /* the by-target index, and the rule's state */
        for (int k = 0; k < T; k++) {
            ax__snn_part *pt = &pj->part[k];
            uint32_t nloc = pt->post_hi - pt->post_lo;
            pt->col = ax__calloc((size_t)nloc + 1, sizeof(uint64_t));
            pt->col_idx = ax__malloc_array(pt->nnz ? pt->nnz : 1, sizeof(uint32_t));
            if (!pt->col || !pt->col_idx) return ax__err(AX_E_NOMEM, "projection %s: out of memory", pj->name);
            if (pt->nnz > UINT32_MAX) return ax__err(AX_E_RANGE, "projection %s: too many plastic synapses", pj->name);
            for (size_t j = 0; j < pt->nnz; j++) pt->col[(pt->pd[j] & AX_SNN_POST_MASK) - pt->post_lo + 1]++;
            for (uint32_t i = 0; i < nloc; i++) pt->col[i + 1] += pt->col[i];
            uint64_t *cur = ax__malloc_array((size_t)nloc + 1, sizeof(uint64_t));
            if (!cur) return ax__err(AX_E_NOMEM, "out of memory");
            memcpy(cur, pt->col, ((size_t)nloc + 1) * sizeof(uint64_t));
            for (size_t j = 0; j < pt->nnz; j++)
                pt->col_idx[cur[(pt->pd[j] & AX_SNN_POST_MASK) - pt->post_lo]++] = (uint32_t)j;
            free(cur);
            int rc = pj->plastic->init_part(pj->plastic, pj, pt);
            if (rc) return ax__err_prefix(rc, "projection %s", pj->name);
        }
    }
    return AX_OK;
}

static int build_gaps(ax_snn *s)
{
    for (int gi = 0; gi < s->n_gap; gi++) {
        ax__snn_pop *p = s->pop[s->gap[gi].pop];
        size_t n = s->gap[gi].n;
        uint64_t *row = ax__calloc((size_t)p->n + 1, sizeof(uint64_t));
        uint32_t *other = ax__malloc_array(2 * n + 1, sizeof(uint32_t));
        float *g = ax__malloc_array(2 * n + 1, sizeof(float));
        p->i_gap = ax__calloc(p->n, sizeof(float));
        s->gap[gi].row = row;
        s->gap[gi].other = other;
        s->gap[gi].g = g;
        if (!row || !other || !g || !p->i_gap) return ax__err(AX_E_NOMEM, "gap junctions: out of memory");
        for (size_t k = 0; k < n; k++) {
            const ax__snn_gap *e = &s->gap[gi].e[k];
            if (e->a == e->b) continue; /* a self-junction carries no current */
            row[e->a + 1]++;
            row[e->b + 1]++;
        }
        for (uint32_t i = 0; i < p->n; i++) row[i + 1] += row[i];
        for (size_t k = 0; k < n; k++) {
            const ax__snn_gap *e = &s->gap[gi].e[k];
            if (e->a == e->b) continue;
            other[row[e->a]] = e->b;
            g[row[e->a]++] = e->g;
            other[row[e->b]] = e->a;
            g[row[e->b]++] = e->g;
        }
        for (uint32_t i = p->n; i > 0; i--) row[i] = row[i - 1];
        row[0] = 0;
    }
    return AX_OK;
}

/* the built tables back into an edge list (current weights), to rebuild for another
 * thread count */
static int edges_from_parts(ax__snn_proj *pj)
{
    size_t m = 0;
    for (int k = 0; k < pj->n_part; k++) m += pj->part[k].nnz;
    pj->e_pre = ax__malloc_array(m ? m : 1, sizeof(uint32_t));
    pj->e_post = ax__malloc_array(m ? m : 1, sizeof(uint32_t));
    pj->e_w = ax__malloc_array(m ? m : 1, sizeof(float));
    pj->e_d = ax__malloc_array(m ? m : 1, 1);
    if (!pj->e_pre || !pj->e_post || !pj->e_w || !pj->e_d)
        return ax__err(AX_E_NOMEM, "projection %s: out of memory", pj->name);
    /* in (pre, creation) order: merge the partitions row by row */
    size_t at = 0;
    for (uint32_t i = 0; i < pj->pre->n; i++)
        for (int k = 0; k < pj->n_part; k++) {
            const ax__snn_part *pt = &pj->part[k];
            for (uint64_t j = pt->row[i]; j < pt->row[i + 1]; j++, at++) {
                pj->e_pre[at] = i;
                pj->e_post[at] = pt->pd[j] & AX_SNN_POST_MASK;
                pj->e_d[at] = (uint8_t)(pt->pd[j] >> AX_SNN_POST_BITS);
                pj->e_w[at] = pt->w[j];
            }
        }
    pj->ne = pj->cap = m;
    return AX_OK;
}

int ax__snn_build(ax_snn *s, int T)
{
    if (s->built && s->built_threads == T) return AX_OK;
    double t0 = ax_time_now();
    if (s->built)
        for (int i = 0; i < s->n_proj; i++) {
            int rc = edges_from_parts(s->proj[i]);
            if (rc) return rc;
        }
    ax__snn_unbuild(s);
    int maxd = 0;
    for (int i = 0; i < s->n_proj; i++)
        if (s->proj[i]->max_delay > maxd) maxd = s->proj[i]->max_delay;
    s->ring_slots = maxd + 1;
    int rc = AX_OK;
    for (int i = 0; i < s->n_proj && !rc; i++) rc = build_proj(s, s->proj[i], T);
    if (!rc) rc = build_gaps(s);
    /* rings for every targeted variable and for Poisson / step targets */
    for (int i = 0; i < s->n_proj && !rc; i++) {
        ax__snn_pop *b = s->proj[i]->post;
        int k = s->proj[i]->target;
        if (!b->ring[k]) {
            b->ring[k] = ax__calloc((size_t)s->ring_slots * b->n, sizeof(float));
            if (!b->ring[k]) rc = ax__err(AX_E_NOMEM, "population %s: out of memory for input buffers", b->name);
        }
    }
    if (rc) {
        ax__snn_unbuild(s);
        return rc;
    }
    s->built = true;
    s->built_threads = T;
    /* the tables hold the synapses now: drop the edge lists (half the memory) */
    for (int i = 0; i < s->n_proj; i++) {
        ax__snn_proj *pj = s->proj[i];
        free(pj->e_pre), free(pj->e_post), free(pj->e_w), free(pj->e_d);
        pj->e_pre = pj->e_post = NULL;
        pj->e_w = NULL;
        pj->e_d = NULL;
        pj->ne = pj->cap = 0;
    }
    uint64_t nsyn = 0, bytes = 0, ibytes = 0;
    double plastic_bytes = 0;
    for (int i = 0; i < s->n_proj; i++) {
        ax__snn_proj *pj = s->proj[i];
        for (int k = 0; k < pj->n_part; k++) {
            nsyn += pj->part[k].nnz;
            bytes += pj->part[k].nnz * (sizeof(uint32_t) + sizeof(float));
            ibytes += ((uint64_t)pj->pre->n + 1) * sizeof(uint64_t);
            if (pj->plastic) {
                ibytes += (pj->part[k].post_hi - pj->part[k].post_lo + 1) * sizeof(uint64_t) +
                          pj->part[k].nnz * sizeof(uint32_t);
                plastic_bytes += pj->plastic->bytes_per_synapse * (double)pj->part[k].nnz;
            }
        }
    }
    s->comp.synapses = nsyn;
    s->comp.bytes_per_synapse = nsyn ? ((double)bytes + plastic_bytes) / (double)nsyn : 0;
    s->comp.bytes_index_per_synapse = nsyn ? (double)ibytes / (double)nsyn : 0;
    s->comp.synapse_bytes = bytes + ibytes + (uint64_t)plastic_bytes;
    s->comp.build_s += ax_time_now() - t0;
    return AX_OK;
}

int ax_snn_get_synapses(const ax_snn *s, const char *proj, size_t *n, uint32_t **pre,
                        uint32_t **post, float **weight, float **delay_ms)
{
    if (!s || !proj || !n) return ax__err(AX_E_INVALID, "ax_snn_get_synapses: NULL argument");
    ax__snn_proj *pj = find_proj(s, proj);
    if (!pj) return ax__err(AX_E_NOTFOUND, "no projection named '%s'", proj);
    size_t m = 0;
    if (s->built)
        for (int k = 0; k < pj->n_part; k++) m += pj->part[k].nnz;
    else
        m = pj->ne;
    uint32_t *a = pre ? ax__malloc_array(m ? m : 1, sizeof *a) : NULL;
    uint32_t *b = post ? ax__malloc_array(m ? m : 1, sizeof *b) : NULL;
    float *w = weight ? ax__malloc_array(m ? m : 1, sizeof *w) : NULL;
    float *d = delay_ms ? ax__malloc_array(m ? m : 1, sizeof *d) : NULL;
    if ((pre && !a) || (post && !b) || (weight && !w) || (delay_ms && !d)) {
        free(a), free(b), free(w), free(d);
        return ax__err(AX_E_NOMEM, "out of memory");
    }
    size_t at = 0;
    if (s->built) {
        for (int k = 0; k < pj->n_part; k++) {
            const ax__snn_part *pt = &pj->part[k];
            for (uint32_t i = 0; i < pj->pre->n; i++)
                for (uint64_t j = pt->row[i]; j < pt->row[i + 1]; j++, at++) {
                    if (a) a[at] = i;
                    if (b) b[at] = pt->pd[j] & AX_SNN_POST_MASK;
                    if (w) w[at] = pt->w[j];
                    if (d) d[at] = (float)((pt->pd[j] >> AX_SNN_POST_BITS) * s->dt);
                }
        }
    } else {
        for (; at < m; at++) {
            if (a) a[at] = pj->e_pre[at];
            if (b) b[at] = pj->e_post[at];
            if (w) w[at] = pj->e_w[at];
            if (d) d[at] = (float)(pj->e_d[at] * s->dt);
        }
    }
    *n = m;
    if (pre) *pre = a;
    if (post) *post = b;
    if (weight) *weight = w;
    if (delay_ms) *delay_ms = d;
    return AX_OK;
}

uint32_t ax_snn_neuron_count(const ax_snn *s) { return s ? s->n_neurons : 0; }
int ax_snn_population_count(const ax_snn *s) { return s ? s->n_pop : 0; }
double ax_snn_dt(const ax_snn *s) { return s ? s->dt : 0; }

int ax_snn_population_info(const ax_snn *s, int pop, const char **name, const char **model,
                           uint32_t *offset, uint32_t *size)
{
    int rc = check_pop(s, pop);
    if (rc) return rc;
    const ax__snn_pop *p = s->pop[pop];
    if (name) *name = p->name;
    if (model) *model = p->m->name;
    if (offset) *offset = p->offset;
    if (size) *size = p->n;
    return AX_OK;
}

double ax_brain_flops(double neurons, double synapses, double rate_hz, double flops_per_event,
                      double flops_per_update, double update_hz)
{
    return neurons * update_hz * flops_per_update + synapses * rate_hz * flops_per_event;
}

int ax_snn_threads_hint(const ax_snn *s) { return s ? s->cfg_threads : 0; }

int ax_snn_describe(const ax_snn *s, char *buf, size_t n)
{
    if (!s || !buf || !n) return 0;
    buf[0] = 0;
    if (!s->info_neurons) return 0;
    return snprintf(buf, n,
                    "connectome: %llu neurons; %llu chemical synapses over %llu directed pairs; %llu gap junctions "
                    "over %llu pairs",
                    (unsigned long long)s->info_neurons, (unsigned long long)s->info_chem_synapses,
                    (unsigned long long)s->info_chem_pairs, (unsigned long long)s->info_gap_junctions,
                    (unsigned long long)s->info_gap_pairs);
}

bool ax_snn_has_task(const ax_snn *s) { return s && s->task_json; }
