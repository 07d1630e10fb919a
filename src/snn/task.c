/* task.c: a reward-learning task over a network with three-factor plasticity (task.h):
 * trials of one input pattern, the output populations' spike counts decide whether the
 * network answered right, a reward pulse follows; the learning curve goes to a CSV. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "snn/plot.h"
#include "snn/task.h"

void ax__snn_task_defaults(ax__snn_task *t)
{
    memset(t, 0, sizeof *t);
    t->trials = 200;
    t->trial_ms = 100;
    t->reward_ms = 50;
    t->rest_ms = 150;
    t->rate_on_hz = 40;
    t->rate_off_hz = 2;
    t->reward_correct = 1;
    t->reward_wrong = -1;
    t->baseline_trials = 0;
    t->seed = 1;
}

void ax__snn_task_free(ax__snn_task *t) { free(t); }

static int check_task(const ax_snn *s, const ax__snn_task *t, const char *where)
{
    if (t->n_pat < 2 || t->n_pat > AX_TASK_MAX_PAT)
        return ax__err(AX_E_INVALID, "%s: %d patterns, want 2 to %d", where, t->n_pat, AX_TASK_MAX_PAT);
    for (int k = 0; k < t->n_pat; k++) {
        if (t->in_pop[k] < 0 || t->in_pop[k] >= s->n_pop || t->out_pop[k] < 0 || t->out_pop[k] >= s->n_pop)
            return ax__err(AX_E_INVALID, "%s: pattern %d: no such population", where, k);
        const ax__snn_pop *p = s->pop[t->in_pop[k]];
        if (ax__snn_state_index(p->m, "rate") < 0)
            return ax__err(AX_E_INVALID, "%s: inputs: population %s is model %s, not poisson", where, p->name,
                           p->m->name);
        for (int q = 0; q < k; q++) {
            if (t->in_pop[q] == t->in_pop[k])
                return ax__err(AX_E_INVALID, "%s: inputs: %s is named twice", where, p->name);
            if (t->out_pop[q] == t->out_pop[k])
                return ax__err(AX_E_INVALID, "%s: outputs: %s is named twice", where, s->pop[t->out_pop[k]]->name);
        }
        for (int q = 0; q < t->n_pat; q++)
            if (t->in_pop[k] == t->out_pop[q])
                return ax__err(AX_E_INVALID, "%s: %s is both an input and an output", where, p->name);
    }
    if (t->trials < 1) return ax__err(AX_E_INVALID, "%s: trials = %d, want >= 1", where, t->trials);
    const double tm[3] = {t->trial_ms, t->reward_ms, t->rest_ms};
    const char *tn[3] = {"trial_ms", "reward_ms", "rest_ms"};
    for (int k = 0; k < 3; k++)
        if (!isfinite(tm[k]) || tm[k] < 0 || (k == 0 && !(tm[k] >= s->dt)))
            return ax__err(AX_E_INVALID, "%s: %s = %g is not a duration%s", where, tn[k], tm[k],
                           k == 0 ? " of at least one step" : " >= 0");
    if (!isfinite(t->rate_on_hz) || t->rate_on_hz < 0 || t->rate_on_hz * s->dt * 1e-3 > 1)
        return ax__err(AX_E_INVALID, "%s: rate_on_hz = %g is not a rate in [0, 1/dt]", where, t->rate_on_hz);
    if (!isfinite(t->rate_off_hz) || t->rate_off_hz < 0 || t->rate_off_hz * s->dt * 1e-3 > 1)
        return ax__err(AX_E_INVALID, "%s: rate_off_hz = %g is not a rate in [0, 1/dt]", where, t->rate_off_hz);
    if (!isfinite(t->reward_correct) || !isfinite(t->reward_wrong))
        return ax__err(AX_E_INVALID, "%s: rewards must be finite", where);
    if (!isfinite(t->baseline_trials) || t->baseline_trials < 0)
        return ax__err(AX_E_INVALID, "%s: baseline_trials = %g, want >= 0", where, t->baseline_trials);
    for (int k = 0; k < t->n_log; k++)
        if (t->log_proj[k] < 0 || t->log_proj[k] >= s->n_proj)
            return ax__err(AX_E_INVALID, "%s: log: no projection %d", where, t->log_proj[k]);
    return AX_OK;
}

/* ---- JSON --------------------------------------------------------------------------- */

static int json_names(ax_snn *s, json_t *arr, const char *where, const char *key, int max, int *idx, int *n,
                      bool proj)
{
    if (!json_is_array(arr)) return ax__err(AX_E_FORMAT, "%s.%s: want a list of names", where, key);
    size_t m = json_array_size(arr);
    if (m > (size_t)max) return ax__err(AX_E_FORMAT, "%s.%s: %zu names, at most %d", where, key, m, max);
    for (size_t i = 0; i < m; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v)) return ax__err(AX_E_FORMAT, "%s.%s[%zu]: not a string", where, key, i);
        const char *nm = json_string_value(v);
        int found = -1;
        if (proj) {
            for (int q = 0; q < s->n_proj; q++)
                if (!strcmp(s->proj[q]->name, nm)) found = q;
        } else {
            for (int q = 0; q < s->n_pop; q++)
                if (!strcmp(s->pop[q]->name, nm)) found = q;
        }
        if (found < 0)
            return ax__err(AX_E_FORMAT, "%s.%s[%zu]: no %s named '%s'", where, key, i, proj ? "projection" : "population",
                           nm);
        idx[i] = found;
    }
    *n = (int)m;
    return AX_OK;
}

static int json_num(json_t *o, const char *key, const char *where, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!v) return AX_OK;
    if (!json_is_number(v)) return ax__err(AX_E_FORMAT, "%s.%s: not a number", where, key);
    *out = json_number_value(v);
    if (!isfinite(*out)) return ax__err(AX_E_FORMAT, "%s.%s: not finite", where, key);
    return AX_OK;
}

int ax__snn_task_from_json(ax_snn *s, const void *json_task, const char *where, ax__snn_task **out)
{
    *out = NULL;
    json_t *o = (json_t *)json_task;
    if (!where) where = "task";
    if (!s || !o || !json_is_object(o)) return ax__err(AX_E_FORMAT, "%s: want an object", where);
    static const char *const keys[] = {"inputs",     "outputs",        "trials",       "trial_ms",
                                       "reward_ms",  "rest_ms",        "rate_on_hz",   "rate_off_hz",
                                       "reward_correct", "reward_wrong", "baseline_trials", "seed",
                                       "log",        NULL};
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool ok = false;
        for (int i = 0; keys[i] && !ok; i++) ok = !strcmp(keys[i], key);
        if (!ok) {
            char list[400] = "";
            for (int i = 0; keys[i]; i++) {
                strncat(list, keys[i], sizeof list - strlen(list) - 3);
                if (keys[i + 1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return ax__err(AX_E_FORMAT, "%s: unknown key '%s' (known: %s)", where, key, list);
        }
    }
    ax__snn_task *t = ax__calloc(1, sizeof *t);
    if (!t) return ax__err(AX_E_NOMEM, "out of memory");
    ax__snn_task_defaults(t);
    int rc = AX_OK, n_in = 0, n_out = 0;
    json_t *ins = json_object_get(o, "inputs"), *outs = json_object_get(o, "outputs");
    if (!ins || !outs) rc = ax__err(AX_E_FORMAT, "%s: missing key '%s'", where, !ins ? "inputs" : "outputs");
    if (!rc) rc = json_names(s, ins, where, "inputs", AX_TASK_MAX_PAT, t->in_pop, &n_in, false);
    if (!rc) rc = json_names(s, outs, where, "outputs", AX_TASK_MAX_PAT, t->out_pop, &n_out, false);
    if (!rc && n_in != n_out)
        rc = ax__err(AX_E_FORMAT, "%s: %d inputs but %d outputs (output k answers pattern k)", where, n_in, n_out);
    t->n_pat = n_in;
    double trials = t->trials, seed = (double)t->seed;
    if (!rc) rc = json_num(o, "trials", where, &trials);
    if (!rc && (trials != floor(trials) || trials < 1 || trials > 1e7))
        rc = ax__err(AX_E_FORMAT, "%s.trials: %g is not a whole number in [1, 1e7]", where, trials);
    t->trials = (int)trials;
    if (!rc) rc = json_num(o, "trial_ms", where, &t->trial_ms);
    if (!rc) rc = json_num(o, "reward_ms", where, &t->reward_ms);
    if (!rc) rc = json_num(o, "rest_ms", where, &t->rest_ms);
    if (!rc) rc = json_num(o, "rate_on_hz", where, &t->rate_on_hz);
    if (!rc) rc = json_num(o, "rate_off_hz", where, &t->rate_off_hz);
    if (!rc) rc = json_num(o, "reward_correct", where, &t->reward_correct);
    if (!rc) rc = json_num(o, "reward_wrong", where, &t->reward_wrong);
    if (!rc) rc = json_num(o, "baseline_trials", where, &t->baseline_trials);
    if (!rc) rc = json_num(o, "seed", where, &seed);
    if (!rc && (seed < 0 || seed != floor(seed) || seed > 9007199254740992.0))
        rc = ax__err(AX_E_FORMAT, "%s.seed: want a whole number >= 0", where);
    t->seed = (uint64_t)seed;
    json_t *lg = json_object_get(o, "log");
    if (!rc && lg) rc = json_names(s, lg, where, "log", AX_TASK_MAX_LOG, t->log_proj, &t->n_log, true);
    if (!rc && !lg)
        for (int q = 0; q < s->n_proj && t->n_log < AX_TASK_MAX_LOG; q++)
            if (s->proj[q]->plastic) t->log_proj[t->n_log++] = q;
    if (!rc) rc = check_task(s, t, where);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return AX_OK;
}

/* ---- running ------------------------------------------------------------------------ */

void ax__snn_task_curve_free(ax__snn_task_curve *c)
{
    if (!c) return;
    for (int k = 0; k < AX_TASK_MAX_PAT; k++) free(c->out_name[k]);
    for (int k = 0; k < AX_TASK_MAX_LOG; k++) free(c->log_name[k]);
    free(c->trial);
    free(c->mean_w);
    free(c);
}

double ax__snn_task_accuracy(const ax__snn_task_curve *c, long first, long count)
{
    if (!c) return 0;
    long a = first < 0 ? 0 : first, b = first + count;
    if (b > (long)c->n) b = (long)c->n;
    if (b <= a) return 0;
    long k = 0;
    for (long i = a; i < b; i++) k += c->trial[i].correct;
    return (double)k / (double)(b - a);
}

static int set_rates(ax_snn *s, const ax__snn_task *t, int on, float *buf)
{
    for (int k = 0; k < t->n_pat; k++) {
        const ax__snn_pop *p = s->pop[t->in_pop[k]];
        float r = (float)(k == on ? t->rate_on_hz : t->rate_off_hz);
        for (uint32_t i = 0; i < p->n; i++) buf[i] = r;
        int rc = ax_snn_set_state(s, t->in_pop[k], "rate", buf);
        if (rc) return rc;
    }
    return AX_OK;
}

static double mean_weight(const ax__snn_proj *pj)
{
    double sum = 0;
    size_t n = 0;
    for (int k = 0; k < pj->n_part; k++) {
        for (size_t j = 0; j < pj->part[k].nnz; j++) sum += pj->part[k].w[j];
        n += pj->part[k].nnz;
    }
    return n ? sum / (double)n : 0;
}

int ax__snn_task_run(ax_snn *s, const ax__snn_task *t, int n_threads, FILE *log, ax__snn_task_curve **curve)
{
    if (curve) *curve = NULL;
    if (!s || !t) return ax__err(AX_E_INVALID, "task: NULL argument");
    int rc = check_task(s, t, "task");
    if (rc) return rc;
    ax__snn_task_curve *c = ax__calloc(1, sizeof *c);
    if (!c) return ax__err(AX_E_NOMEM, "out of memory");
    c->n_pat = t->n_pat;
    c->n_log = t->n_log;
    c->trial = ax__calloc((size_t)t->trials, sizeof *c->trial);
    c->mean_w = ax__calloc((size_t)t->trials * (size_t)(t->n_log ? t->n_log : 1), sizeof(double));
    uint32_t maxn = 1;
    for (int k = 0; k < t->n_pat; k++)
        if (s->pop[t->in_pop[k]]->n > maxn) maxn = s->pop[t->in_pop[k]]->n;
    float *buf = ax__malloc_array(maxn, sizeof(float));
    bool ok = c->trial && c->mean_w && buf;
    for (int k = 0; k < t->n_pat && ok; k++) ok = (c->out_name[k] = ax__strdup(s->pop[t->out_pop[k]]->name)) != NULL;
    for (int k = 0; k < t->n_log && ok; k++) ok = (c->log_name[k] = ax__strdup(s->proj[t->log_proj[k]]->name)) != NULL;
    if (!ok) {
        free(buf);
        ax__snn_task_curve_free(c);
        return ax__err(AX_E_NOMEM, "task: out of memory");
    }
    double base[AX_TASK_MAX_PAT] = {0};
    uint64_t rng = ax__stream_seed(t->seed, 0x7a5c, 0);
    int every = t->trials >= 10 ? t->trials / 10 : 1;
    for (int tr = 0; tr < t->trials && !rc; tr++) {
        ax__snn_trial *x = &c->trial[tr];
        int pat = (int)(ax__sm64(&rng) % (uint64_t)t->n_pat);
        x->pattern = pat;
        x->t_ms = (double)s->step * s->dt;
        /* the trial: counts from the per-step population spike counts */
        if ((rc = set_rates(s, t, pat, buf))) break;
        if ((rc = ax_snn_set_reward(s, 0))) break;
        size_t c0 = s->n_counts;
        if ((rc = ax_snn_run(s, t->trial_ms, n_threads))) break;
        for (size_t st = c0; st < s->n_counts; st++)
            for (int k = 0; k < t->n_pat; k++) x->count[k] += s->pop_counts[st * (size_t)s->n_pop + (size_t)t->out_pop[k]];
        int best = 0;
        for (int k = 1; k < t->n_pat; k++)
            if (x->count[k] > x->count[best]) best = k;
        for (int k = 0; k < t->n_pat; k++)
            if (k != best && x->count[k] == x->count[best]) best = -1;
        x->winner = best;
        x->correct = best == pat;
        x->reward = x->correct ? t->reward_correct : t->reward_wrong;
        x->R = x->reward;
        if (t->baseline_trials > 0) {
            x->R = x->reward - (base[pat] > 0 ? base[pat] : 0);
            base[pat] += (x->reward - base[pat]) / t->baseline_trials;
        }
        /* the reward pulse, inputs at rest, then the pause */
        if ((rc = set_rates(s, t, -1, buf))) break;
        if (t->reward_ms > 0) {
            if ((rc = ax_snn_set_reward(s, x->R))) break;
            if ((rc = ax_snn_run(s, t->reward_ms, n_threads))) break;
            if ((rc = ax_snn_set_reward(s, 0))) break;
        }
        if (t->rest_ms > 0 && (rc = ax_snn_run(s, t->rest_ms, n_threads))) break;
        for (int k = 0; k < t->n_log; k++)
            c->mean_w[(size_t)tr * (size_t)t->n_log + (size_t)k] = mean_weight(s->proj[t->log_proj[k]]);
        c->n = (size_t)tr + 1;
        if (log && ((tr + 1) % every == 0 || tr + 1 == t->trials)) {
            long n = (long)c->n, w = n < 50 ? n : 50;
            fprintf(log, "task: trial %d/%d, accuracy over the last %ld trials %.2f\n", tr + 1, t->trials, w,
                    ax__snn_task_accuracy(c, n - w, w));
            fflush(log);
        }
    }
    ax_snn_set_reward(s, 0);
    free(buf);
    if (rc || !curve) ax__snn_task_curve_free(c);
    else *curve = c;
    return rc;
}

int ax__snn_task_write_csv(const ax__snn_task_curve *c, const char *outdir)
{
    if (!c || !outdir) return ax__err(AX_E_INVALID, "task: NULL argument");
    int rc = ax__mkdir_p(outdir);
    if (rc) return rc;
    size_t cap = 256 + c->n * (64 + 12 * (size_t)(c->n_pat + c->n_log)), len = 0;
    for (int k = 0; k < c->n_pat; k++) cap += strlen(c->out_name[k]) + 16;
    for (int k = 0; k < c->n_log; k++) cap += strlen(c->log_name[k]) + 16;
    char *b = malloc(cap);
    if (!b) return ax__err(AX_E_NOMEM, "out of memory");
#define PUT(...) len += (size_t)snprintf(b + len, cap - len, __VA_ARGS__)
    PUT("trial,t_ms,pattern,winner,correct,reward,R");
    for (int k = 0; k < c->n_pat; k++) PUT(",spikes_%s", c->out_name[k]);
    for (int k = 0; k < c->n_log; k++) PUT(",w_%s", c->log_name[k]);
    PUT(",accuracy_50\n");
    int win = 0;
    for (size_t i = 0; i < c->n; i++) {
        const ax__snn_trial *x = &c->trial[i];
        win += x->correct;
        if (i >= 50) win -= c->trial[i - 50].correct;
        PUT("%zu,%.3f,%d,%d,%d,%g,%g", i, x->t_ms, x->pattern, x->winner, x->correct ? 1 : 0, x->reward, x->R);
        for (int k = 0; k < c->n_pat; k++) PUT(",%u", x->count[k]);
        for (int k = 0; k < c->n_log; k++) PUT(",%.6g", c->mean_w[i * (size_t)c->n_log + (size_t)k]);
        PUT(",%.3f\n", (double)win / (double)(i < 50 ? i + 1 : 50));
    }
#undef PUT
    char *path = ax__path_join(outdir, "learning.csv");
    rc = path ? ax__file_write_atomic(path, b, len) : ax__err(AX_E_NOMEM, "out of memory");
    free(path);
    free(b);
    return rc;
}

/* learning.png: the accuracy over the last 50 trials, and the logged mean weights */
static int write_curve_png(const ax__snn_task_curve *c, const char *outdir)
{
    if (!c || c->n < 2) return AX_OK;
    int ns = 1 + c->n_log;
    double *x = malloc(c->n * sizeof(double)), **y = calloc((size_t)ns, sizeof(double *));
    const char **names = calloc((size_t)ns, sizeof(char *));
    char **owned = calloc((size_t)ns, sizeof(char *));
    char *p1 = ax__path_join(outdir, "learning.png"), *p2 = ax__path_join(outdir, "weights.png");
    int rc = x && y && names && owned && p1 && p2 ? AX_OK : ax__err(AX_E_NOMEM, "out of memory");
    for (int k = 0; !rc && k < ns; k++)
        if (!(y[k] = malloc(c->n * sizeof(double)))) rc = ax__err(AX_E_NOMEM, "out of memory");
    if (!rc) {
        int win = 0;
        for (size_t i = 0; i < c->n; i++) {
            win += c->trial[i].correct;
            if (i >= 50) win -= c->trial[i - 50].correct;
            x[i] = (double)i;
            y[0][i] = (double)win / (double)(i < 50 ? i + 1 : 50);
            for (int k = 0; k < c->n_log; k++) y[1 + k][i] = c->mean_w[i * (size_t)c->n_log + (size_t)k];
        }
        names[0] = "correct, last 50 trials";
        for (int k = 0; k < c->n_log; k++) names[1 + k] = owned[1 + k] = ax__asprintf("mean w %s", c->log_name[k]);
        rc = ax__plot_lines(p1, "reward learning: accuracy", "trial", "fraction correct", 1, names, c->n, x,
                            (const double *const *)y, 1000, 400);
        if (!rc && c->n_log)
            rc = ax__plot_lines(p2, "reward learning: mean weights", "trial", "weight", c->n_log, names + 1, c->n, x,
                                (const double *const *)(y + 1), 1000, 400);
    }
    for (int k = 0; y && k < ns; k++) free(y[k]);
    for (int k = 0; owned && k < ns; k++) free(owned[k]);
    free(x), free(y), free(names), free(owned), free(p1), free(p2);
    return rc;
}

int ax__snn_task_run_config(ax_snn *s, int n_threads, const char *outdir, FILE *log)
{
    if (!s || !s->task_json) return ax__err(AX_E_INVALID, "the network has no task");
    ax__snn_task *t = NULL;
    int rc = ax__snn_task_from_json(s, s->task_json, "task", &t);
    if (rc) return rc;
    ax__snn_task_curve *c = NULL;
    rc = ax__snn_task_run(s, t, n_threads, log, &c);
    if (!rc && outdir) rc = ax__snn_task_write_csv(c, outdir);
    if (!rc && outdir) rc = write_curve_png(c, outdir);
    if (!rc && log && c) {
        long n = (long)c->n, w = n >= 100 ? 50 : (n + 1) / 2;
        fprintf(log, "task: %ld trials, accuracy first %ld %.2f, last %ld %.2f%s%s\n", n, w,
                ax__snn_task_accuracy(c, 0, w), w, ax__snn_task_accuracy(c, n - w, w),
                outdir ? "; learning curve in " : "", outdir ? outdir : "");
    }
    ax__snn_task_curve_free(c);
    ax__snn_task_free(t);
    return rc;
}

/* ---- the demo network --------------------------------------------------------------- */

typedef struct {
    uint32_t n_in, n_out;
    double w_lo, w_hi, w_max, w_inh, bg_rate, bg_w;
    double A_plus, A_minus, tau_c, lr;
} demo_prm;

static const demo_prm k_demo = {
    .n_in = 20, .n_out = 10, .w_lo = 1.0, .w_hi = 2.0, .w_max = 4.0, .w_inh = -1.5,
    .bg_rate = 300, .bg_w = 1.0, .A_plus = 1.0, .A_minus = 1.0, .tau_c = 100, .lr = 1e-3,
};

int ax__snn_task_demo(double dt_ms, int trials, uint64_t seed, ax_snn **out, ax__snn_task **task)
{
    *out = NULL;
    *task = NULL;
    const demo_prm *d = &k_demo;
    ax_snn *s = NULL;
    int rc = ax_snn_new(dt_ms, seed, &s);
    if (rc) return rc;
    int in[2], o[2];
    const char *inn[2] = {"inA", "inB"}, *outn[2] = {"out0", "out1"};
    for (int k = 0; k < 2 && !rc; k++) rc = ax_snn_add_population(s, inn[k], "poisson", d->n_in, &in[k]);
    for (int k = 0; k < 2 && !rc; k++) {
        rc = ax_snn_add_population(s, outn[k], "lif", d->n_out, &o[k]);
        if (!rc) rc = ax_snn_add_poisson(s, o[k], 0, d->n_out, "g", d->bg_rate, 1, d->bg_w);
    }
    size_t m = (size_t)d->n_in * d->n_out;
    uint32_t *a = ax__malloc_array(m, sizeof(uint32_t)), *b = ax__malloc_array(m, sizeof(uint32_t));
    float *w = ax__malloc_array(m, sizeof(float));
    if (!rc && (!a || !b || !w)) rc = ax__err(AX_E_NOMEM, "out of memory");
    uint64_t rng = ax__stream_seed(seed, 0xde30, 1);
    const char *pn[] = {"A_plus", "A_minus", "tau_c", "lr", "w_max"};
    const double pv[] = {d->A_plus, d->A_minus, d->tau_c, d->lr, d->w_max};
    for (int i = 0; i < 2 && !rc; i++)
        for (int k = 0; k < 2 && !rc; k++) {
            char name[32];
            snprintf(name, sizeof name, "%s_%s", inn[i], outn[k]);
            size_t e = 0;
            for (uint32_t x = 0; x < d->n_in; x++)
                for (uint32_t y = 0; y < d->n_out; y++, e++) {
                    a[e] = x;
                    b[e] = y;
                    w[e] = (float)(d->w_lo + (d->w_hi - d->w_lo) * ax__rand_u01(&rng));
                }
            rc = ax_snn_connect(s, name, in[i], o[k], "g", m, a, b, w, NULL, 0);
            if (!rc) rc = ax_snn_set_plasticity(s, name, "three_factor", 5, pn, pv);
        }
    /* mutual inhibition between the outputs: all-to-all, static */
    size_t mo = (size_t)d->n_out * d->n_out;
    for (int k = 0; k < 2 && !rc; k++) {
        size_t e = 0;
        for (uint32_t x = 0; x < d->n_out; x++)
            for (uint32_t y = 0; y < d->n_out; y++, e++) a[e] = x, b[e] = y, w[e] = (float)d->w_inh;
        char name[32];
        snprintf(name, sizeof name, "inh_%s_%s", outn[k], outn[1 - k]);
        rc = ax_snn_connect(s, name, o[k], o[1 - k], "g", mo, a, b, w, NULL, 0);
    }
    free(a), free(b), free(w);
    ax__snn_task *t = rc ? NULL : ax__calloc(1, sizeof *t);
    if (!rc && !t) rc = ax__err(AX_E_NOMEM, "out of memory");
    if (rc) {
        ax_snn_free(s);
        return rc;
    }
    ax__snn_task_defaults(t);
    t->n_pat = 2;
    for (int k = 0; k < 2; k++) t->in_pop[k] = in[k], t->out_pop[k] = o[k];
    t->trials = trials;
    t->seed = seed;
    t->baseline_trials = 10;
    for (int q = 0; q < s->n_proj; q++)
        if (s->proj[q]->plastic) t->log_proj[t->n_log++] = q;
    if ((rc = check_task(s, t, "task"))) {
        free(t);
        ax_snn_free(s);
        return rc;
    }
    *out = s;
    *task = t;
    return AX_OK;
}
