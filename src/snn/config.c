/* config.c: a network from a JSON config (docs/simulate.md): populations, projections
 * with connection rules or edge files, connectome loaders (C. elegans, FlyWire's
 * Connectivity_783 schema, a synthetic fly-scale connectome), inputs and recorders.
 * Every error names the file and the key (or the CSV file and line). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "snn/snn_int.h"
#include "snn/task.h"

typedef struct {
    const char *path; /* the config */
    char *dir;        /* its folder, for relative paths */
    ax_snn *s;
    uint64_t rng;     /* for connectivity, weights and initial values: seeded, serial */
} cfg_ctx;

/* ---- small JSON helpers ---------------------------------------------------------------- */

static int check_keys(const cfg_ctx *c, json_t *obj, const char *where, const char *const *allowed)
{
    const char *key = NULL;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(allowed[i], key);
        if (!ok) {
            char list[512] = "";
            for (int i = 0; allowed[i]; i++) {
                strncat(list, allowed[i], sizeof list - strlen(list) - 3);
                if (allowed[i + 1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return ax__err(AX_E_FORMAT, "%s: %s: unknown key '%s' (known: %s)", c->path, where, key, list);
        }
    }
    return AX_OK;
}

static int get_num(const cfg_ctx *c, json_t *obj, const char *key, const char *where, double def,
                   bool required, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) return ax__err(AX_E_FORMAT, "%s: %s: missing key '%s'", c->path, where, key);
        *out = def;
        return AX_OK;
    }
    if (!json_is_number(v)) return ax__err(AX_E_FORMAT, "%s: %s.%s: not a number", c->path, where, key);
    *out = json_number_value(v);
    if (!isfinite(*out)) return ax__err(AX_E_FORMAT, "%s: %s.%s: not finite", c->path, where, key);
    return AX_OK;
}

static int get_str(const cfg_ctx *c, json_t *obj, const char *key, const char *where, const char *def,
                   const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (!def) return ax__err(AX_E_FORMAT, "%s: %s: missing key '%s'", c->path, where, key);
        *out = def;
        return AX_OK;
    }
    if (!json_is_string(v)) return ax__err(AX_E_FORMAT, "%s: %s.%s: not a string", c->path, where, key);
    *out = json_string_value(v);
    return AX_OK;
}

static int get_bool(const cfg_ctx *c, json_t *obj, const char *key, const char *where, bool def, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return AX_OK;
    }
    if (!json_is_boolean(v)) return ax__err(AX_E_FORMAT, "%s: %s.%s: not true/false", c->path, where, key);
    *out = json_is_true(v);
    return AX_OK;
}

static char *resolve(const cfg_ctx *c, const char *p)
{
    if (p[0] == '/' || !c->dir) return ax__strdup(p);
    return ax__path_join(c->dir, p);
}

/* A value spec: number | [per-element list] | {"normal":[m,s]} | {"uniform":[a,b]} |
 * {"lognormal":[mu,sigma]} (optionally "min"/"max" to clip by redrawing... no: clip). */
typedef struct {
    int kind; /* 0 const, 1 list, 2 normal, 3 uniform, 4 lognormal */
    double a, b, lo, hi;
    json_t *list;
} dist;

static int parse_dist(const cfg_ctx *c, json_t *v, const char *where, dist *d)
{
    memset(d, 0, sizeof *d);
    d->lo = -INFINITY;
    d->hi = INFINITY;
    if (json_is_number(v)) {
        d->a = json_number_value(v);
        if (!isfinite(d->a)) return ax__err(AX_E_FORMAT, "%s: %s: not finite", c->path, where);
        return AX_OK;
    }
    if (json_is_array(v)) {
        d->kind = 1;
        d->list = v;
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!json_is_number(json_array_get(v, i)) || !isfinite(json_number_value(json_array_get(v, i))))
                return ax__err(AX_E_FORMAT, "%s: %s[%zu]: not a finite number", c->path, where, i);
        return AX_OK;
    }
    if (json_is_object(v)) {
        static const char *const keys[] = {"normal", "uniform", "lognormal", "min", "max", NULL};
        int rc = check_keys(c, v, where, keys);
        if (rc) return rc;
        const char *names[] = {"normal", "uniform", "lognormal"};
        for (int k = 0; k < 3; k++) {
            json_t *p = json_object_get(v, names[k]);
            if (!p) continue;
            if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_number(json_array_get(p, 0)) ||
                !json_is_number(json_array_get(p, 1)))
                return ax__err(AX_E_FORMAT, "%s: %s.%s: want [a, b]", c->path, where, names[k]);
            d->kind = 2 + k;
            d->a = json_number_value(json_array_get(p, 0));
            d->b = json_number_value(json_array_get(p, 1));
            if (!isfinite(d->a) || !isfinite(d->b) || (k != 1 && d->b < 0) || (k == 1 && d->b < d->a))
                return ax__err(AX_E_FORMAT, "%s: %s.%s: bad parameters", c->path, where, names[k]);
        }
        if (!d->kind) return ax__err(AX_E_FORMAT, "%s: %s: want normal, uniform or lognormal", c->path, where);
        double x;
        int rc2;
        if ((rc2 = get_num(c, v, "min", where, -INFINITY, false, &x))) return rc2;
        d->lo = json_object_get(v, "min") ? x : -INFINITY;
        if ((rc2 = get_num(c, v, "max", where, INFINITY, false, &x))) return rc2;
        d->hi = json_object_get(v, "max") ? x : INFINITY;
        return AX_OK;
    }
    return ax__err(AX_E_FORMAT, "%s: %s: want a number, a list or a distribution", c->path, where);
}

static double draw(const dist *d, size_t i, uint64_t *rng)
{
    double x;
    switch (d->kind) {
    case 0: return d->a;
    case 1: return json_number_value(json_array_get(d->list, i));
    case 2: x = d->a + d->b * ax__rand_normal(rng); break;
    case 3: x = d->a + (d->b - d->a) * ax__rand_u01(rng); break;
    default: x = exp(d->a + d->b * ax__rand_normal(rng)); break;
    }
    return x < d->lo ? d->lo : x > d->hi ? d->hi : x;
}

static int dist_len(const cfg_ctx *c, const dist *d, size_t n, const char *where)
{
    if (d->kind == 1 && json_array_size(d->list) != n)
        return ax__err(AX_E_FORMAT, "%s: %s: %zu values for %zu elements", c->path, where,
                       json_array_size(d->list), n);
    return AX_OK;
}

/* ---- populations ------------------------------------------------------------------------ */

static int apply_params(cfg_ctx *c, int pop, json_t *params, const char *where)
{
    if (!params) return AX_OK;
    if (!json_is_object(params)) return ax__err(AX_E_FORMAT, "%s: %s: want an object", c->path, where);
    const char *key = NULL;
    json_t *v;
    json_object_foreach(params, key, v)
    {
        if (!json_is_number(v)) return ax__err(AX_E_FORMAT, "%s: %s.%s: not a number", c->path, where, key);
        int rc = ax_snn_set_param(c->s, pop, key, json_number_value(v));
        if (rc) return ax__err_prefix(rc, "%s: %s", c->path, where);
    }
    return AX_OK;
}

static int apply_init(cfg_ctx *c, int pop, json_t *init, const char *where)
{
    if (!init) return AX_OK;
    if (!json_is_object(init)) return ax__err(AX_E_FORMAT, "%s: %s: want an object", c->path, where);
    uint32_t n = c->s->pop[pop]->n;
    float *vals = ax__malloc_array(n, sizeof(float));
    if (!vals) return ax__err(AX_E_NOMEM, "out of memory");
    const char *key = NULL;
    json_t *v;
    int rc = AX_OK;
    json_object_foreach(init, key, v)
    {
        char w[160];
        snprintf(w, sizeof w, "%s.%s", where, key);
        dist d;
        if ((rc = parse_dist(c, v, w, &d)) || (rc = dist_len(c, &d, n, w))) break;
        for (uint32_t i = 0; i < n; i++) vals[i] = (float)draw(&d, i, &c->rng);
        if ((rc = ax_snn_set_state(c->s, pop, key, vals))) {
            rc = ax__err_prefix(rc, "%s: %s", c->path, w);
            break;
        }
    }
    free(vals);
    return rc;
}

static int load_population(cfg_ctx *c, json_t *o, size_t idx)
{
    char where[64];
    snprintf(where, sizeof where, "populations[%zu]", idx);
    if (!json_is_object(o)) return ax__err(AX_E_FORMAT, "%s: %s: want an object", c->path, where);
    static const char *const keys[] = {"name", "model", "size", "params", "init", NULL};
    int rc = check_keys(c, o, where, keys);
    const char *name = NULL, *model = NULL;
    double size;
    if (rc || (rc = get_str(c, o, "name", where, NULL, &name)) || (rc = get_str(c, o, "model", where, NULL, &model)) ||
        (rc = get_num(c, o, "size", where, 0, true, &size)))
        return rc;
    if (size < 1 || size != floor(size) || size > 4e9)
        return ax__err(AX_E_FORMAT, "%s: %s.size: %g is not a neuron count", c->path, where, size);
    int pop;
    if ((rc = ax_snn_add_population(c->s, name, model, (uint32_t)size, &pop)))
        return ax__err_prefix(rc, "%s: %s", c->path, where);
    char w2[96];
    snprintf(w2, sizeof w2, "%s.params", where);
    if ((rc = apply_params(c, pop, json_object_get(o, "params"), w2))) return rc;
    snprintf(w2, sizeof w2, "%s.init", where);
    return apply_init(c, pop, json_object_get(o, "init"), w2);
}

static int pop_by_name(cfg_ctx *c, json_t *o, const char *key, const char *where, int *pop)
{
    const char *name = NULL;
    int rc = get_str(c, o, key, where, NULL, &name);
    if (rc) return rc;
    for (int i = 0; i < c->s->n_pop; i++)
        if (!strcmp(c->s->pop[i]->name, name)) {
            *pop = i;
            return AX_OK;
        }
    return ax__err(AX_E_FORMAT, "%s: %s.%s: no population named '%s'", c->path, where, key, name);
}

/* ---- edges ----------------------------------------------------------------------------- */

typedef struct {
    uint32_t *pre, *post;
    float *w, *d;
    size_t n, cap;
} edges;

static int edges_push(edges *e, uint32_t a, uint32_t b)
{
    if (e->n == e->cap) {
        size_t nc = e->cap ? 2 * e->cap : 4096;
        uint32_t *p1 = realloc(e->pre, nc * sizeof *p1);
        if (p1) e->pre = p1;
        uint32_t *p2 = p1 ? realloc(e->post, nc * sizeof *p2) : NULL;
        if (p2) e->post = p2;
        if (!p2) return ax__err(AX_E_NOMEM, "out of memory for %zu synapses", nc);
        e->cap = nc;
    }
    e->pre[e->n] = a;
    e->post[e->n++] = b;
    return AX_OK;
}

static void edges_free(edges *e)
{
    free(e->pre), free(e->post), free(e->w), free(e->d);
    memset(e, 0, sizeof *e);
}

/* k distinct (or not) draws from [0, n), optionally excluding `self` */
static int draw_k(cfg_ctx *c, uint32_t n, uint32_t k, bool multapses, int64_t self, uint32_t *out,
                  const char *where)
{
    uint32_t avail = n - (self >= 0 ? 1 : 0);
    if (!multapses && k > avail)
        return ax__err(AX_E_FORMAT, "%s: %s: k = %u is more than the %u distinct partners", c->path, where, k, avail);
    if (avail == 0 && k > 0) return ax__err(AX_E_FORMAT, "%s: %s: no partners to draw from", c->path, where);
    for (uint32_t j = 0; j < k; j++) {
        for (;;) {
            uint32_t x = (uint32_t)(ax__rand_u01(&c->rng) * n);
            if (x >= n) x = n - 1;
            if ((int64_t)x == self) continue;
            bool dup = false;
            if (!multapses)
                for (uint32_t q = 0; q < j && !dup; q++) dup = out[q] == x;
            if (dup) continue;
            out[j] = x;
            break;
        }
    }
    return AX_OK;
}

/* a CSV edge file: header names the columns; pre/post integer indices */
static int read_edge_csv(cfg_ctx *c, json_t *o, const char *where, uint32_t npre, uint32_t npost, edges *e)
{
    const char *file = NULL, *cpre = NULL, *cpost = NULL, *cw = NULL, *cd = NULL, *cs = NULL;
    int rc;
    if ((rc = get_str(c, o, "path", where, NULL, &file)) || (rc = get_str(c, o, "pre_column", where, "pre", &cpre)) ||
        (rc = get_str(c, o, "post_column", where, "post", &cpost)) ||
        (rc = get_str(c, o, "weight_column", where, "", &cw)) || (rc = get_str(c, o, "delay_column", where, "", &cd)) ||
        (rc = get_str(c, o, "sign_column", where, "", &cs)))
        return rc;
    /* a sign column holds numbers (their sign counts) or transmitter / type names: those in
     * "inhibitory" (default GABA and glutamate, FlyWire's rule as Shiu 2024 use it; "inh"
     * and "inhibitory" always) make the synapse negative, every other name positive */
    json_t *jinh = json_object_get(o, "inhibitory");
    if (jinh && !json_is_array(jinh))
        return ax__err(AX_E_FORMAT, "%s: %s.inhibitory: want a list of transmitter names", c->path, where);
    for (size_t k = 0; jinh && k < json_array_size(jinh); k++)
        if (!json_is_string(json_array_get(jinh, k)))
            return ax__err(AX_E_FORMAT, "%s: %s.inhibitory[%zu]: not a string", c->path, where, k);
    char *path = resolve(c, file);
    if (!path) return ax__err(AX_E_NOMEM, "out of memory");
    FILE *f = fopen(path, "r");
    if (!f) {
        rc = ax__err(AX_E_NOTFOUND, "%s: %s.path: cannot open %s", c->path, where, path);
        free(path);
        return rc;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int ipre = -1, ipost = -1, iw = -1, id = -1, is = -1, ncol = 0;
    size_t lineno = 0, wcap = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        char *fields[64];
        int nf = 0;
        for (char *p = line; nf < 64;) {
            fields[nf++] = p;
            char *q = strchr(p, ',');
            if (!q) break;
            *q = 0;
            p = q + 1;
        }
        if (lineno == 1) {
            for (int k = 0; k < nf; k++) {
                char *h = fields[k];
                if (*h == '"') h++;
                size_t hl = strlen(h);
                if (hl && h[hl - 1] == '"') h[hl - 1] = 0;
                if (!strcmp(h, cpre)) ipre = k;
                if (!strcmp(h, cpost)) ipost = k;
                if (*cw && !strcmp(h, cw)) iw = k;
                if (*cd && !strcmp(h, cd)) id = k;
                if (*cs && !strcmp(h, cs)) is = k;
            }
            ncol = nf;
            if (ipre < 0 || ipost < 0 || (*cw && iw < 0) || (*cd && id < 0) || (*cs && is < 0)) {
                rc = ax__err(AX_E_FORMAT, "%s:1: the header lacks column '%s'", path,
                             ipre < 0 ? cpre : ipost < 0 ? cpost : iw < 0 && *cw ? cw : id < 0 && *cd ? cd : cs);
                break;
            }
            continue;
        }
        if (nf != ncol) {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: %d fields, the header has %d", path, lineno, nf, ncol);
            break;
        }
        char *end;
        double a = strtod(fields[ipre], &end);
        bool bad = *end || end == fields[ipre];
        double b = strtod(fields[ipost], &end);
        bad |= *end || end == fields[ipost];
        if (bad || a != floor(a) || b != floor(b) || a < 0 || b < 0) {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: pre/post must be neuron indices", path, lineno);
            break;
        }
        if (a >= npre || b >= npost) {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: edge %.0f -> %.0f names a neuron that does not exist (%u pre, %u post)",
                         path, lineno, a, b, npre, npost);
            break;
        }
        if ((rc = edges_push(e, (uint32_t)a, (uint32_t)b))) break;
        if (e->n > wcap) {
            size_t nc = e->cap;
            float *w2 = realloc(e->w, nc * sizeof(float));
            if (w2) e->w = w2;
            float *d2 = w2 ? realloc(e->d, nc * sizeof(float)) : NULL;
            if (d2) e->d = d2;
            if (!d2) {
                rc = ax__err(AX_E_NOMEM, "out of memory");
                break;
            }
            wcap = nc;
        }
        double wv = 1, dv = NAN;
        if (iw >= 0) {
            wv = strtod(fields[iw], &end);
            if (*end || end == fields[iw] || !isfinite(wv)) {
                rc = ax__err(AX_E_FORMAT, "%s:%zu: weight '%s' is not a finite number", path, lineno, fields[iw]);
                break;
            }
        }
        if (id >= 0) {
            dv = strtod(fields[id], &end);
            if (*end || end == fields[id] || !isfinite(dv) || dv < 0) {
                rc = ax__err(AX_E_FORMAT, "%s:%zu: delay '%s' is not a time >= 0", path, lineno, fields[id]);
                break;
            }
        }
        if (is >= 0) {
            char *sv = fields[is];
            double x = strtod(sv, &end);
            if (end != sv && !*end) {
                if (!isfinite(x)) {
                    rc = ax__err(AX_E_FORMAT, "%s:%zu: sign '%s' is not finite", path, lineno, sv);
                    break;
                }
                wv = x > 0 ? wv : x < 0 ? -wv : 0;
            } else if (!*sv) {
                rc = ax__err(AX_E_FORMAT, "%s:%zu: empty sign/transmitter field", path, lineno);
                break;
            } else {
                bool inh = !strcasecmp(sv, "inh") || !strcasecmp(sv, "inhibitory");
                if (jinh) {
                    for (size_t k = 0; k < json_array_size(jinh) && !inh; k++)
                        inh = !strcasecmp(sv, json_string_value(json_array_get(jinh, k)));
                } else {
                    inh |= !strcasecmp(sv, "GABA") || !strcasecmp(sv, "glutamate") || !strcasecmp(sv, "glut") ||
                           !strcasecmp(sv, "Glu");
                }
                if (inh) wv = -wv;
            }
        }
        e->w[e->n - 1] = (float)wv;
        e->d[e->n - 1] = (float)dv;
    }
    if (!rc && lineno == 0) rc = ax__err(AX_E_FORMAT, "%s: empty edge file", path);
    free(line);
    fclose(f);
    free(path);
    if (!rc && !e->w) { /* no edges at all: fine, but allocate */
        e->w = ax__malloc_array(1, sizeof(float));
        e->d = ax__malloc_array(1, sizeof(float));
    }
    return rc;
}

static int load_projection(cfg_ctx *c, json_t *o, size_t idx)
{
    char where[64];
    snprintf(where, sizeof where, "projections[%zu]", idx);
    if (!json_is_object(o)) return ax__err(AX_E_FORMAT, "%s: %s: want an object", c->path, where);
    static const char *const keys[] = {"name", "pre", "post", "target", "connect", "weight", "delay_ms", "plasticity", NULL};
    int rc = check_keys(c, o, where, keys);
    int a, b;
    const char *target = NULL, *pname = NULL;
    if (rc || (rc = pop_by_name(c, o, "pre", where, &a)) || (rc = pop_by_name(c, o, "post", where, &b)) ||
        (rc = get_str(c, o, "target", where, NULL, &target)))
        return rc;
    char defname[160];
    snprintf(defname, sizeof defname, "%s->%s:%s", c->s->pop[a]->name, c->s->pop[b]->name, target);
    if ((rc = get_str(c, o, "name", where, defname, &pname))) return rc;
    json_t *conn = json_object_get(o, "connect");
    if (!json_is_object(conn)) return ax__err(AX_E_FORMAT, "%s: %s.connect: missing or not an object", c->path, where);
    char cw[96];
    snprintf(cw, sizeof cw, "%s.connect", where);
    static const char *const ckeys[] = {"rule", "p", "k", "autapses", "multapses", "path", "pre_column",
                                        "post_column", "weight_column", "delay_column", "sign_column",
                                        "inhibitory", NULL};
    if ((rc = check_keys(c, conn, cw, ckeys))) return rc;
    const char *rule = NULL;
    if ((rc = get_str(c, conn, "rule", cw, NULL, &rule))) return rc;
    bool autapses = true, multapses = true;
    if ((rc = get_bool(c, conn, "autapses", cw, true, &autapses)) ||
        (rc = get_bool(c, conn, "multapses", cw, true, &multapses)))
        return rc;
    bool same = a == b;
    uint32_t na = c->s->pop[a]->n, nb = c->s->pop[b]->n;
    edges e = {0};
    if (!strcmp(rule, "all_to_all")) {
        for (uint32_t i = 0; i < na && !rc; i++)
            for (uint32_t j = 0; j < nb && !rc; j++)
                if (autapses || !same || i != j) rc = edges_push(&e, i, j);
    } else if (!strcmp(rule, "one_to_one")) {
        if (na != nb) rc = ax__err(AX_E_FORMAT, "%s: %s: one_to_one needs equal sizes (%u, %u)", c->path, cw, na, nb);
        for (uint32_t i = 0; i < na && !rc; i++) rc = edges_push(&e, i, i);
    } else if (!strcmp(rule, "random")) {
        double p;
        if ((rc = get_num(c, conn, "p", cw, 0, true, &p))) return rc;
        if (!(p >= 0 && p <= 1)) return ax__err(AX_E_FORMAT, "%s: %s.p: %g is not a probability", c->path, cw, p);
        /* Bernoulli(p) for every pair, by geometric skips over the pairs in (pre, post) order */
        if (p > 0) {
            uint64_t total = (uint64_t)na * nb, at = 0;
            double lq = log1p(-p);
            for (;;) {
                if (p < 1) {
                    double u = ax__rand_u01(&c->rng);
                    double skip = floor(log1p(-u) / lq);
                    if (skip >= (double)(total - at)) break;
                    at += (uint64_t)skip;
                }
                if (at >= total) break;
                uint32_t i = (uint32_t)(at / nb), j = (uint32_t)(at % nb);
                if (autapses || !same || i != j)
                    if ((rc = edges_push(&e, i, j))) break;
                at++;
            }
        }
    } else if (!strcmp(rule, "fixed_indegree") || !strcmp(rule, "fixed_outdegree")) {
        double k;
        if ((rc = get_num(c, conn, "k", cw, 0, true, &k))) return rc;
        if (k < 0 || k != floor(k) || k > 1e7) return ax__err(AX_E_FORMAT, "%s: %s.k: %g is not a count", c->path, cw, k);
        bool in = rule[6] == 'i';
        uint32_t nown = in ? nb : na, nother = in ? na : nb;
        uint32_t *buf = ax__malloc_array((size_t)k + 1, sizeof(uint32_t));
        if (!buf) return ax__err(AX_E_NOMEM, "out of memory");
        for (uint32_t i = 0; i < nown && !rc; i++) {
            rc = draw_k(c, nother, (uint32_t)k, multapses, same && !autapses ? (int64_t)i : -1, buf, cw);
            for (uint32_t j = 0; j < (uint32_t)k && !rc; j++) rc = in ? edges_push(&e, buf[j], i) : edges_push(&e, i, buf[j]);
        }
        free(buf);
    } else if (!strcmp(rule, "file")) {
        rc = read_edge_csv(c, conn, cw, na, nb, &e);
    } else {
        rc = ax__err(AX_E_FORMAT, "%s: %s.rule: unknown rule '%s' (all_to_all, one_to_one, random, fixed_indegree, "
                     "fixed_outdegree, file)", c->path, cw, rule);
    }
    if (rc) {
        edges_free(&e);
        return rc;
    }
    /* weights and delays: a file's weight column is multiplied by "weight" */
    bool from_file = e.w != NULL;
    float *w = from_file ? e.w : ax__malloc_array(e.n ? e.n : 1, sizeof(float));
    float *d = from_file ? e.d : ax__malloc_array(e.n ? e.n : 1, sizeof(float));
    if (!w || !d) {
        if (!from_file) free(w), free(d);
        edges_free(&e);
        return ax__err(AX_E_NOMEM, "out of memory");
    }
    char ww[96], dw[96];
    snprintf(ww, sizeof ww, "%s.weight", where);
    snprintf(dw, sizeof dw, "%s.delay_ms", where);
    json_t *jw = json_object_get(o, "weight"), *jd = json_object_get(o, "delay_ms");
    dist dwt = {0}, ddl = {0};
    dwt.a = 1;
    dwt.lo = ddl.lo = -INFINITY;
    dwt.hi = ddl.hi = INFINITY;
    if (!jw && !from_file) rc = ax__err(AX_E_FORMAT, "%s: %s: missing key 'weight'", c->path, where);
    if (!rc && jw) rc = parse_dist(c, jw, ww, &dwt);
    if (!rc && jd) rc = parse_dist(c, jd, dw, &ddl);
    if (!rc) rc = dist_len(c, &dwt, e.n, ww);
    if (!rc) rc = dist_len(c, &ddl, e.n, dw);
    for (size_t k = 0; k < e.n && !rc; k++) {
        double x = draw(&dwt, k, &c->rng);
        w[k] = from_file ? (float)(w[k] * x) : (float)x;
        if (!from_file || isnan(d[k]) || jd) d[k] = (float)draw(&ddl, k, &c->rng);
    }
    if (!rc)
        rc = ax_snn_connect(c->s, pname, a, b, target, e.n, e.pre, e.post, w, d, 0);
    if (rc && rc != AX_E_FORMAT) rc = ax__err_prefix(rc, "%s: %s", c->path, where);
    if (!from_file) free(w), free(d);
    edges_free(&e);
    if (rc) return rc;
    json_t *pl = json_object_get(o, "plasticity");
    if (pl) {
        char pw[96];
        snprintf(pw, sizeof pw, "%s.plasticity", where);
        static const char *const pkeys[] = {"rule", "params", NULL};
        if (!json_is_object(pl)) return ax__err(AX_E_FORMAT, "%s: %s: want an object", c->path, pw);
        if ((rc = check_keys(c, pl, pw, pkeys))) return rc;
        const char *prule = NULL;
        if ((rc = get_str(c, pl, "rule", pw, NULL, &prule))) return rc;
        json_t *pp = json_object_get(pl, "params");
        if (pp && !json_is_object(pp)) return ax__err(AX_E_FORMAT, "%s: %s.params: want an object", c->path, pw);
        size_t np = pp ? json_object_size(pp) : 0;
        const char *names[64];
        double vals[64];
        if (np > 64) return ax__err(AX_E_FORMAT, "%s: %s.params: too many", c->path, pw);
        size_t k = 0;
        const char *key = NULL;
        json_t *v;
        if (pp)
            json_object_foreach(pp, key, v)
            {
                if (!json_is_number(v)) return ax__err(AX_E_FORMAT, "%s: %s.params.%s: not a number", c->path, pw, key);
                names[k] = key;
                vals[k++] = json_number_value(v);
            }
        if ((rc = ax_snn_set_plasticity(c->s, pname, prule, (int)np, names, vals)))
            return ax__err_prefix(rc, "%s: %s", c->path, pw);
    }
    return AX_OK;
}

/* ---- connectome loaders ----------------------------------------------------------------- */

/* split a CSV line in place (no quotes in these files) */
static int split_csv(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *q = strchr(p, ',');
        if (!q) break;
        *q = 0;
        p = q + 1;
    }
    return n;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
}

typedef struct {
    char **name;
    int *inh;
    uint32_t n, cap;
} name_table;

static int64_t name_find(const name_table *t, const char *nm)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (!strcmp(t->name[i], nm)) return i;
    return -1;
}

/* C. elegans (Varshney 2011 as CSV, ../shared/data/connectomes/celegans): one population
 * of the neurons in the chemical + gap graph; chemical synapses signed by the presynaptic
 * neuron's transmitter (GABA inhibitory, all else excitatory: c302's rule); gap junctions
 * symmetric, conductance per junction. */
static int load_celegans(cfg_ctx *c, json_t *o)
{
    const char *where = "network";
    static const char *const keys[] = {"type", "dir", "name", "model", "params", "init", "chemical_weight",
                                       "inhibitory_weight", "gap_weight", "delay_ms", "target", NULL};
    int rc = check_keys(c, o, where, keys);
    const char *dir = NULL, *pname = NULL, *model = NULL, *target = NULL;
    double wch, winh, wgap, delay;
    if (rc || (rc = get_str(c, o, "dir", where, NULL, &dir)) || (rc = get_str(c, o, "name", where, "worm", &pname)) ||
        (rc = get_str(c, o, "model", where, "lif", &model)) || (rc = get_str(c, o, "target", where, "g", &target)) ||
        (rc = get_num(c, o, "chemical_weight", where, 0.5, false, &wch)) ||
        (rc = get_num(c, o, "inhibitory_weight", where, -NAN, false, &winh)) ||
        (rc = get_num(c, o, "gap_weight", where, 0.02, false, &wgap)) ||
        (rc = get_num(c, o, "delay_ms", where, 1.0, false, &delay)))
        return rc;
    if (isnan(winh)) winh = -wch;
    char *d = resolve(c, dir);
    char *pn = d ? ax__path_join(d, "neurons.csv") : NULL, *pe = d ? ax__path_join(d, "edges.csv") : NULL;
    name_table t = {0};
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    edges chem = {0};
    float *w = NULL, *gg = NULL;
    uint32_t *ga = NULL, *gb = NULL;
    size_t ng = 0, gcap = 0;
    uint64_t nsyn = 0, ngj = 0;
    if (!pn || !pe) {
        rc = ax__err(AX_E_NOMEM, "out of memory");
        goto done;
    }
    /* neurons: the graph's members, and their transmitters */
    if (!(f = fopen(pn, "r"))) {
        rc = ax__err(AX_E_NOTFOUND, "%s: network.dir: cannot open %s", c->path, pn);
        goto done;
    }
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        chomp(line);
        char *fl[16];
        int nf = split_csv(line, fl, 16);
        if (lineno == 1) {
            if (nf < 5 || strcmp(fl[0], "name") || strcmp(fl[3], "neurotransmitter") || strcmp(fl[4], "in_varshney_graph")) {
                rc = ax__err(AX_E_FORMAT, "%s:1: want header name,class,owmeta_types,neurotransmitter,in_varshney_graph,...", pn);
                goto done;
            }
            continue;
        }
        if (nf < 5) {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: too few fields", pn, lineno);
            goto done;
        }
        if (strcmp(fl[4], "1")) continue;
        if (t.n == t.cap) {
            t.cap = t.cap ? 2 * t.cap : 512;
            char **nn = realloc(t.name, t.cap * sizeof *nn);
            int *ni = nn ? realloc(t.inh, t.cap * sizeof *ni) : NULL;
            if (nn) t.name = nn;
            if (ni) t.inh = ni;
            if (!ni) {
                rc = ax__err(AX_E_NOMEM, "out of memory");
                goto done;
            }
        }
        t.name[t.n] = ax__strdup(fl[0]);
        t.inh[t.n++] = strstr(fl[3], "GABA") != NULL;
    }
    fclose(f);
    f = NULL;
    if (!(f = fopen(pe, "r"))) {
        rc = ax__err(AX_E_NOTFOUND, "%s: network.dir: cannot open %s", c->path, pe);
        goto done;
    }
    lineno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        chomp(line);
        char *fl[8];
        int nf = split_csv(line, fl, 8);
        if (lineno == 1) {
            if (nf != 4 || strcmp(fl[0], "pre") || strcmp(fl[1], "post") || strcmp(fl[2], "type") || strcmp(fl[3], "count")) {
                rc = ax__err(AX_E_FORMAT, "%s:1: want header pre,post,type,count", pe);
                goto done;
            }
            continue;
        }
        if (nf != 4) {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: want 4 fields, got %d", pe, lineno, nf);
            goto done;
        }
        int64_t a = name_find(&t, fl[0]), b = name_find(&t, fl[1]);
        if (a < 0 || b < 0) {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: neuron '%s' is not in neurons.csv's graph", pe, lineno, a < 0 ? fl[0] : fl[1]);
            goto done;
        }
        char *end;
        long cnt = strtol(fl[3], &end, 10);
        if (*end || cnt <= 0) {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: count '%s' is not a positive integer", pe, lineno, fl[3]);
            goto done;
        }
        if (!strcmp(fl[2], "chemical")) {
            if ((rc = edges_push(&chem, (uint32_t)a, (uint32_t)b))) goto done;
            float *w2 = realloc(w, chem.cap * sizeof(float));
            if (!w2) {
                rc = ax__err(AX_E_NOMEM, "out of memory");
                goto done;
            }
            w = w2;
            w[chem.n - 1] = (float)(cnt * (t.inh[a] ? winh : wch));
            nsyn += (uint64_t)cnt;
        } else if (!strcmp(fl[2], "electrical")) {
            if (ng == gcap) {
                gcap = gcap ? 2 * gcap : 1024;
                uint32_t *x1 = realloc(ga, gcap * sizeof *x1);
                if (x1) ga = x1;
                uint32_t *x2 = x1 ? realloc(gb, gcap * sizeof *x2) : NULL;
                if (x2) gb = x2;
                float *x3 = x2 ? realloc(gg, gcap * sizeof *x3) : NULL;
                if (x3) gg = x3;
                if (!x3) {
                    rc = ax__err(AX_E_NOMEM, "out of memory");
                    goto done;
                }
            }
            ga[ng] = (uint32_t)a;
            gb[ng] = (uint32_t)b;
            gg[ng++] = (float)(cnt * wgap);
            ngj += (uint64_t)cnt;
        } else {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: type '%s' is neither chemical nor electrical", pe, lineno, fl[2]);
            goto done;
        }
    }
    int pop;
    if ((rc = ax_snn_add_population(c->s, pname, model, t.n, &pop))) goto done;
    char w2[64];
    snprintf(w2, sizeof w2, "network.params");
    if ((rc = apply_params(c, pop, json_object_get(o, "params"), w2))) goto done;
    if ((rc = apply_init(c, pop, json_object_get(o, "init"), "network.init"))) goto done;
    if ((rc = ax_snn_connect(c->s, "chemical", pop, pop, target, chem.n, chem.pre, chem.post, w, NULL, delay)))
        goto done;
    if (ng && (rc = ax_snn_gap_junctions(c->s, pop, ng, ga, gb, gg))) goto done;
    /* the counts, for the log and the tests */
    c->s->info_neurons = t.n;
    c->s->info_chem_pairs = chem.n;
    c->s->info_chem_synapses = nsyn;
    c->s->info_gap_pairs = ng;
    c->s->info_gap_junctions = ngj;
    c->s->names = t.name;
    c->s->names_pop = pop;
    c->s->n_names = t.n;
    t.name = NULL;
done:
    if (f) fclose(f);
    free(line);
    if (t.name)
        for (uint32_t i = 0; i < t.n; i++) free(t.name[i]);
    free(t.name);
    free(t.inh);
    edges_free(&chem);
    free(w), free(ga), free(gb), free(gg);
    free(pn), free(pe), free(d);
    return rc;
}

/* FlyWire Connectivity_783 as CSV (Shiu et al. 2024's schema): Presynaptic_Index,
 * Postsynaptic_Index, "Excitatory x Connectivity" (signed synapse count) -> one "lif"
 * population with the Shiu parameters; weight = signed count x w_syn onto g. */
static int fly_population(cfg_ctx *c, json_t *o, uint32_t n, int *pop)
{
    const char *pname = NULL;
    int rc = get_str(c, o, "name", "network", "brain", &pname);
    if (rc || (rc = ax_snn_add_population(c->s, pname, "lif", n, pop))) return rc;
    return apply_params(c, *pop, json_object_get(o, "params"), "network.params");
}

static int load_flywire(cfg_ctx *c, json_t *o)
{
    const char *where = "network";
    static const char *const keys[] = {"type", "path", "name", "params", "neurons", "w_syn", "delay_ms", "silence", NULL};
    int rc = check_keys(c, o, where, keys);
    const char *file = NULL;
    double wsyn, delay, nn;
    if (rc || (rc = get_str(c, o, "path", where, NULL, &file)) || (rc = get_num(c, o, "w_syn", where, 0.275, false, &wsyn)) ||
        (rc = get_num(c, o, "delay_ms", where, 1.8, false, &delay)) || (rc = get_num(c, o, "neurons", where, 0, false, &nn)))
        return rc;
    char *path = resolve(c, file);
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        rc = ax__err(AX_E_NOTFOUND, "%s: network.path: cannot open %s", c->path, path ? path : file);
        free(path);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0, wcap = 0;
    int ipre = -1, ipost = -1, iw = -1, ncol = 0;
    edges e = {0};
    float *w = NULL;
    uint32_t maxid = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        chomp(line);
        char *fl[16];
        int nf = split_csv(line, fl, 16);
        if (lineno == 1) {
            for (int k = 0; k < nf; k++) {
                char *h = fl[k];
                if (*h == '"') h++;
                size_t hl = strlen(h);
                if (hl && h[hl - 1] == '"') h[--hl] = 0;
                if (!strcmp(h, "Presynaptic_Index")) ipre = k;
                if (!strcmp(h, "Postsynaptic_Index")) ipost = k;
                if (!strcmp(h, "Excitatory x Connectivity")) iw = k;
            }
            ncol = nf;
            if (ipre < 0 || ipost < 0 || iw < 0) {
                rc = ax__err(AX_E_FORMAT, "%s:1: want columns Presynaptic_Index, Postsynaptic_Index and "
                             "'Excitatory x Connectivity' (FlyWire Connectivity_783)", path);
                break;
            }
            continue;
        }
        if (nf != ncol) {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: %d fields, the header has %d", path, lineno, nf, ncol);
            break;
        }
        char *end1, *end2, *end3;
        double a = strtod(fl[ipre], &end1), b = strtod(fl[ipost], &end2), x = strtod(fl[iw], &end3);
        if (*end1 || *end2 || *end3 || a < 0 || b < 0 || a != floor(a) || b != floor(b) || a > 4e9 || b > 4e9 ||
            !isfinite(x)) {
            rc = ax__err(AX_E_FORMAT, "%s:%zu: bad index or signed count", path, lineno);
            break;
        }
        if ((rc = edges_push(&e, (uint32_t)a, (uint32_t)b))) break;
        if (e.cap > wcap) {
            float *w2 = realloc(w, e.cap * sizeof(float));
            if (!w2) {
                rc = ax__err(AX_E_NOMEM, "out of memory");
                break;
            }
            w = w2;
            wcap = e.cap;
        }
        w[e.n - 1] = (float)(x * wsyn);
        if (a > maxid) maxid = (uint32_t)a;
        if (b > maxid) maxid = (uint32_t)b;
    }
    fclose(f);
    free(line);
    uint32_t n = nn > 0 ? (uint32_t)nn : maxid + 1;
    if (!rc && nn > 0 && maxid >= n)
        rc = ax__err(AX_E_FORMAT, "%s: names neuron %u, but network.neurons is %u", path, maxid, n);
    int pop;
    if (!rc) rc = fly_population(c, o, n, &pop);
    json_t *sil = json_object_get(o, "silence");
    if (!rc && sil) { /* silencing cuts a neuron's outgoing synapses (Shiu 2024) */
        if (!json_is_array(sil)) rc = ax__err(AX_E_FORMAT, "%s: network.silence: want a list of indices", c->path);
        for (size_t k = 0; k < json_array_size(sil) && !rc; k++) {
            json_int_t x = json_integer_value(json_array_get(sil, k));
            if (!json_is_integer(json_array_get(sil, k)) || x < 0 || x >= n) {
                rc = ax__err(AX_E_FORMAT, "%s: network.silence[%zu]: not a neuron index", c->path, k);
                break;
            }
            for (size_t j = 0; j < e.n; j++)
                if (e.pre[j] == (uint32_t)x) w[j] = 0;
        }
    }
    if (!rc) rc = ax_snn_connect(c->s, "connectome", pop, pop, "g", e.n, e.pre, e.post, w, NULL, delay);
    edges_free(&e);
    free(w);
    free(path);
    return rc;
}

/* A synthetic connectome of FlyWire's size: heavy-tailed (log-normal) out- and in-degree
 * propensities, partners drawn by an alias table over the in-propensities, log-normal
 * synapse counts, a third of the neurons inhibitory. */
typedef struct {
    double *prob;
    uint32_t *alias;
    uint32_t n;
} alias_table;

static int alias_build(const double *w, uint32_t n, alias_table *t)
{
    t->n = n;
    t->prob = ax__malloc_array(n, sizeof(double));
    t->alias = ax__malloc_array(n, sizeof(uint32_t));
    uint32_t *small = ax__malloc_array(n, sizeof(uint32_t)), *large = ax__malloc_array(n, sizeof(uint32_t));
    if (!t->prob || !t->alias || !small || !large) {
        free(small), free(large);
        return ax__err(AX_E_NOMEM, "out of memory");
    }
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += w[i];
    uint32_t ns = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++) {
        t->prob[i] = w[i] * n / sum;
        t->alias[i] = i;
        if (t->prob[i] < 1) small[ns++] = i;
        else large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        t->alias[s] = l;
        t->prob[l] -= 1 - t->prob[s];
        if (t->prob[l] < 1) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl) t->prob[large[--nl]] = 1;
    while (ns) t->prob[small[--ns]] = 1;
    free(small), free(large);
    return AX_OK;
}

static uint32_t alias_draw(const alias_table *t, uint64_t *rng)
{
    double u = ax__rand_u01(rng) * t->n;
    uint32_t i = (uint32_t)u;
    if (i >= t->n) i = t->n - 1;
    return (u - i) < t->prob[i] ? i : t->alias[i];
}

static int load_synthetic_fly(cfg_ctx *c, json_t *o)
{
    const char *where = "network";
    static const char *const keys[] = {"type", "name", "params", "neurons", "edges", "degree_sigma", "count_mu",
                                       "count_sigma", "inhibitory_fraction", "w_syn", "delay_ms", NULL};
    int rc = check_keys(c, o, where, keys);
    double nn, ne, dsig, cmu, csig, finh, wsyn, delay;
    if (rc || (rc = get_num(c, o, "neurons", where, 138639, false, &nn)) ||
        (rc = get_num(c, o, "edges", where, 15091983, false, &ne)) ||
        (rc = get_num(c, o, "degree_sigma", where, 1.0, false, &dsig)) ||
        (rc = get_num(c, o, "count_mu", where, 1.0, false, &cmu)) ||
        (rc = get_num(c, o, "count_sigma", where, 0.9, false, &csig)) ||
        (rc = get_num(c, o, "inhibitory_fraction", where, 0.33, false, &finh)) ||
        (rc = get_num(c, o, "w_syn", where, 0.275, false, &wsyn)) ||
        (rc = get_num(c, o, "delay_ms", where, 1.8, false, &delay)))
        return rc;
    if (nn < 2 || nn > 16e6 || nn != floor(nn) || ne < 0 || ne > 4e9 || dsig < 0 || csig < 0 || finh < 0 || finh > 1)
        return ax__err(AX_E_FORMAT, "%s: network: neurons, edges, sigmas or inhibitory_fraction out of range", c->path);
    uint32_t n = (uint32_t)nn;
    size_t m = (size_t)ne;
    double *wout = ax__malloc_array(n, sizeof(double)), *win = ax__malloc_array(n, sizeof(double));
    uint32_t *pre = ax__malloc_array(m ? m : 1, sizeof(uint32_t)), *post = ax__malloc_array(m ? m : 1, sizeof(uint32_t));
    float *w = ax__malloc_array(m ? m : 1, sizeof(float));
    alias_table ta = {0}, tb = {0};
    int8_t *sign = ax__malloc_array(n, 1);
    if (!wout || !win || !pre || !post || !w || !sign) {
        rc = ax__err(AX_E_NOMEM, "network: out of memory for %zu synapses", m);
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        wout[i] = exp(dsig * ax__rand_normal(&c->rng));
        win[i] = exp(dsig * ax__rand_normal(&c->rng));
        sign[i] = ax__rand_u01(&c->rng) < finh ? -1 : 1;
    }
    if ((rc = alias_build(wout, n, &ta)) || (rc = alias_build(win, n, &tb))) goto done;
    for (size_t k = 0; k < m; k++) {
        uint32_t a = alias_draw(&ta, &c->rng), b;
        do b = alias_draw(&tb, &c->rng);
        while (b == a);
        double cnt = floor(exp(cmu + csig * ax__rand_normal(&c->rng))) + 1;
        pre[k] = a;
        post[k] = b;
        w[k] = (float)(sign[a] * cnt * wsyn);
    }
    int pop;
    if ((rc = fly_population(c, o, n, &pop))) goto done;
    rc = ax_snn_connect(c->s, "connectome", pop, pop, "g", m, pre, post, w, NULL, delay);
done:
    free(wout), free(win), free(pre), free(post), free(w), free(sign);
    free(ta.prob), free(ta.alias), free(tb.prob), free(tb.alias);
    return rc;
}

/* ---- inputs and recording ----------------------------------------------------------------- */

/* neuron selection: "neurons": [..] | "first"/"count" | "set" + "sets_file" (FlyWire neuron
 * sets: set,flywire_id,index_630,index_783) | all */
static int select_neurons(cfg_ctx *c, json_t *o, const char *where, uint32_t n, uint32_t **idx, size_t *cnt)
{
    json_t *jn = json_object_get(o, "neurons"), *jset = json_object_get(o, "set");
    *idx = NULL;
    *cnt = 0;
    if (jn) {
        if (!json_is_array(jn) || json_array_size(jn) == 0)
            return ax__err(AX_E_FORMAT, "%s: %s.neurons: want a list of indices", c->path, where);
        *idx = ax__malloc_array(json_array_size(jn), sizeof(uint32_t));
        if (!*idx) return ax__err(AX_E_NOMEM, "out of memory");
        for (size_t k = 0; k < json_array_size(jn); k++) {
            json_t *x = json_array_get(jn, k);
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= n) {
                free(*idx);
                *idx = NULL;
                return ax__err(AX_E_FORMAT, "%s: %s.neurons[%zu]: not an index below %u", c->path, where, k, n);
            }
            (*idx)[k] = (uint32_t)json_integer_value(x);
        }
        *cnt = json_array_size(jn);
        return AX_OK;
    }
    if (jset) {
        const char *set = NULL, *file = NULL, *col = NULL;
        int rc;
        if ((rc = get_str(c, o, "set", where, NULL, &set)) || (rc = get_str(c, o, "sets_file", where, NULL, &file)) ||
            (rc = get_str(c, o, "sets_column", where, "index_783", &col)))
            return rc;
        char *path = resolve(c, file);
        FILE *f = path ? fopen(path, "r") : NULL;
        if (!f) {
            rc = ax__err(AX_E_NOTFOUND, "%s: %s.sets_file: cannot open %s", c->path, where, path ? path : file);
            free(path);
            return rc;
        }
        char *line = NULL;
        size_t cap = 0, lineno = 0, m = 0, mc = 0;
        int icol = -1;
        uint32_t *out = NULL;
        while (getline(&line, &cap, f) >= 0) {
            lineno++;
            chomp(line);
            char *fl[16];
            int nf = split_csv(line, fl, 16);
            if (lineno == 1) {
                for (int k = 0; k < nf; k++)
                    if (!strcmp(fl[k], col)) icol = k;
                if (icol < 0 || strcmp(fl[0], "set")) {
                    rc = ax__err(AX_E_FORMAT, "%s:1: want a header 'set,...,%s'", path, col);
                    break;
                }
                continue;
            }
            if (nf <= icol || strcmp(fl[0], set)) continue;
            char *end;
            double x = strtod(fl[icol], &end);
            if (*end || x < 0 || x != floor(x) || x >= n) {
                rc = ax__err(AX_E_FORMAT, "%s:%zu: index '%s' is not a neuron of the %u", path, lineno, fl[icol], n);
                break;
            }
            if (m == mc) {
                mc = mc ? 2 * mc : 64;
                uint32_t *q = realloc(out, mc * sizeof *q);
                if (!q) {
                    rc = ax__err(AX_E_NOMEM, "out of memory");
                    break;
                }
                out = q;
            }
            out[m++] = (uint32_t)x;
        }
        fclose(f);
        free(line);
        if (!rc && m == 0) rc = ax__err(AX_E_FORMAT, "%s: %s.set: no neurons in set '%s' of %s", c->path, where, set, path);
        free(path);
        if (rc) {
            free(out);
            return rc;
        }
        *idx = out;
        *cnt = m;
        return AX_OK;
    }
    double first, count;
    int rc;
    if ((rc = get_num(c, o, "first", where, 0, false, &first)) || (rc = get_num(c, o, "count", where, n - first, false, &count)))
        return rc;
    if (first < 0 || count < 1 || first + count > n || first != floor(first) || count != floor(count))
        return ax__err(AX_E_FORMAT, "%s: %s: neurons [%g, %g) are not within the population of %u", c->path, where,
                       first, first + count, n);
    *idx = ax__malloc_array((size_t)count, sizeof(uint32_t));
    if (!*idx) return ax__err(AX_E_NOMEM, "out of memory");
    for (size_t k = 0; k < (size_t)count; k++) (*idx)[k] = (uint32_t)first + (uint32_t)k;
    *cnt = (size_t)count;
    return AX_OK;
}

static int load_input(cfg_ctx *c, json_t *o, size_t i)
{
    char where[64];
    snprintf(where, sizeof where, "inputs[%zu]", i);
    if (!json_is_object(o)) return ax__err(AX_E_FORMAT, "%s: %s: want an object", c->path, where);
    static const char *const keys[] = {"type", "pop", "neurons", "first", "count", "set", "sets_file", "sets_column",
                                       "target", "rate_hz", "n_sources", "weight", "amount", "start_ms", "stop_ms",
                                       "times_ms", NULL};
    int rc = check_keys(c, o, where, keys), pop;
    const char *type = NULL;
    if (rc || (rc = get_str(c, o, "type", where, NULL, &type)) || (rc = pop_by_name(c, o, "pop", where, &pop))) return rc;
    uint32_t n = c->s->pop[pop]->n;
    if (!strcmp(type, "spike_times")) {
        json_t *jn = json_object_get(o, "neurons"), *jt = json_object_get(o, "times_ms");
        if (!json_is_array(jn) || !json_is_array(jt) || json_array_size(jn) != json_array_size(jt))
            return ax__err(AX_E_FORMAT, "%s: %s: want lists neurons and times_ms of equal length", c->path, where);
        size_t m = json_array_size(jn);
        uint32_t *ids = ax__malloc_array(m ? m : 1, sizeof(uint32_t));
        double *ts = ax__malloc_array(m ? m : 1, sizeof(double));
        if (!ids || !ts) rc = ax__err(AX_E_NOMEM, "out of memory");
        for (size_t k = 0; k < m && !rc; k++) {
            json_t *a = json_array_get(jn, k), *b = json_array_get(jt, k);
            if (!json_is_integer(a) || !json_is_number(b))
                rc = ax__err(AX_E_FORMAT, "%s: %s: entry %zu is not (index, time)", c->path, where, k);
            else {
                ids[k] = json_integer_value(a) < 0 ? UINT32_MAX : (uint32_t)json_integer_value(a);
                ts[k] = json_number_value(b);
            }
        }
        if (!rc && (rc = ax_snn_set_spike_times(c->s, pop, m, ids, ts))) rc = ax__err_prefix(rc, "%s: %s", c->path, where);
        free(ids), free(ts);
        return rc;
    }
    uint32_t *idx;
    size_t cnt;
    if ((rc = select_neurons(c, o, where, n, &idx, &cnt))) return rc;
    const char *target = NULL;
    if (!strcmp(type, "poisson")) {
        double rate, ns, w;
        if (!(rc = get_str(c, o, "target", where, NULL, &target)) && !(rc = get_num(c, o, "rate_hz", where, 0, true, &rate)) &&
            !(rc = get_num(c, o, "n_sources", where, 1, false, &ns)) && !(rc = get_num(c, o, "weight", where, 0, true, &w))) {
            if (ns < 1 || ns != floor(ns) || ns > 1e6)
                rc = ax__err(AX_E_FORMAT, "%s: %s.n_sources: %g is not a count", c->path, where, ns);
            /* contiguous runs of the selection become one input each */
            for (size_t k = 0; k < cnt && !rc;) {
                size_t j = k + 1;
                while (j < cnt && idx[j] == idx[j - 1] + 1) j++;
                rc = ax_snn_add_poisson(c->s, pop, idx[k], (uint32_t)(j - k), target, rate, (uint32_t)ns, w);
                k = j;
            }
        }
    } else if (!strcmp(type, "current") || !strcmp(type, "step")) {
        double amount, t0, t1;
        if (!(rc = get_str(c, o, "target", where, "I_e", &target)) && !(rc = get_num(c, o, "amount", where, 0, true, &amount)) &&
            !(rc = get_num(c, o, "start_ms", where, 0, false, &t0)) &&
            !(rc = get_num(c, o, "stop_ms", where, INFINITY, false, &t1))) {
            for (size_t k = 0; k < cnt && !rc;) {
                size_t j = k + 1;
                while (j < cnt && idx[j] == idx[j - 1] + 1) j++;
                rc = ax_snn_add_step(c->s, pop, idx[k], (uint32_t)(j - k), target, amount, t0, t1);
                k = j;
            }
        }
    } else {
        rc = ax__err(AX_E_FORMAT, "%s: %s.type: unknown input '%s' (poisson, current, spike_times)", c->path, where, type);
    }
    if (rc && rc != AX_E_FORMAT) rc = ax__err_prefix(rc, "%s: %s", c->path, where);
    free(idx);
    return rc;
}

static int load_record(cfg_ctx *c, json_t *o)
{
    const char *where = "record";
    if (!json_is_object(o)) return ax__err(AX_E_FORMAT, "%s: record: want an object", c->path);
    static const char *const keys[] = {"spikes", "state", "rate_bin_ms", NULL};
    int rc = check_keys(c, o, where, keys);
    bool sp = true;
    double bin;
    if (rc || (rc = get_bool(c, o, "spikes", where, true, &sp)) || (rc = get_num(c, o, "rate_bin_ms", where, 0, false, &bin)))
        return rc;
    if (bin < 0) return ax__err(AX_E_FORMAT, "%s: record.rate_bin_ms: must be > 0", c->path);
    c->s->rate_bin_ms = bin;
    ax_snn_record_spikes(c->s, sp);
    json_t *st = json_object_get(o, "state");
    if (!st) return AX_OK;
    if (!json_is_array(st)) return ax__err(AX_E_FORMAT, "%s: record.state: want a list", c->path);
    for (size_t i = 0; i < json_array_size(st); i++) {
        json_t *m = json_array_get(st, i);
        char w[64];
        snprintf(w, sizeof w, "record.state[%zu]", i);
        static const char *const mkeys[] = {"pop", "var", "neurons", "first", "count", "every_ms", "set", "sets_file", "sets_column", NULL};
        int pop;
        const char *var = NULL;
        double every;
        if (!json_is_object(m)) return ax__err(AX_E_FORMAT, "%s: %s: want an object", c->path, w);
        if ((rc = check_keys(c, m, w, mkeys)) || (rc = pop_by_name(c, m, "pop", w, &pop)) ||
            (rc = get_str(c, m, "var", w, NULL, &var)) || (rc = get_num(c, m, "every_ms", w, c->s->dt, false, &every)))
            return rc;
        uint32_t *idx;
        size_t cnt;
        if (!json_object_get(m, "neurons") && !json_object_get(m, "count") && !json_object_get(m, "set"))
            return ax__err(AX_E_FORMAT, "%s: %s: name the neurons (neurons, first/count or set)", c->path, w);
        if ((rc = select_neurons(c, m, w, c->s->pop[pop]->n, &idx, &cnt))) return rc;
        rc = ax_snn_record_state(c->s, pop, var, cnt, idx, every);
        free(idx);
        if (rc) return ax__err_prefix(rc, "%s: %s", c->path, w);
    }
    return AX_OK;
}

/* ---- the whole config ---------------------------------------------------------------------- */

int ax_snn_from_config(const char *path, ax_snn **out, double *duration_ms)
{
    if (!path || !out) return ax__err(AX_E_INVALID, "ax_snn_from_config: NULL argument");
    *out = NULL;
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (!ax__path_exists(path)) return ax__err(AX_E_NOTFOUND, "%s: no such file", path);
        return ax__err(AX_E_FORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    }
    cfg_ctx c = {.path = path};
    int rc = AX_OK;
    if (!json_is_object(root)) rc = ax__err(AX_E_FORMAT, "%s: the config is not a JSON object", path);
    static const char *const keys[] = {"description", "dt_ms", "duration_ms", "seed", "threads", "populations",
                                       "projections", "gap_junctions", "inputs", "record", "network", "task", NULL};
    if (!rc && json_object_get(root, "circuit"))
        rc = ax__err(AX_E_FORMAT, "%s: 'circuit' configs (e.g. stg_pyloric) run through `axon simulate`, not "
                     "ax_snn_from_config", path);
    if (!rc) rc = check_keys(&c, root, "top level", keys);
    double dt = 0.1, dur = 1000, seed = 1, threads = 0;
    if (!rc) rc = get_num(&c, root, "dt_ms", "top level", 0.1, false, &dt);
    if (!rc) rc = get_num(&c, root, "duration_ms", "top level", 1000, false, &dur);
    if (!rc) rc = get_num(&c, root, "seed", "top level", 1, false, &seed);
    if (!rc) rc = get_num(&c, root, "threads", "top level", 0, false, &threads);
    if (!rc && (!(dt > 0) || dt > 100)) rc = ax__err(AX_E_FORMAT, "%s: dt_ms: %g is not in (0, 100]", path, dt);
    if (!rc && dur < 0) rc = ax__err(AX_E_FORMAT, "%s: duration_ms: %g is negative", path, dur);
    if (!rc && (seed < 0 || seed != floor(seed) || seed > 9e15))
        rc = ax__err(AX_E_FORMAT, "%s: seed: want a non-negative integer", path);
    if (!rc && (threads < 0 || threads > AX_SNN_MAX_THREADS || threads != floor(threads)))
        rc = ax__err(AX_E_FORMAT, "%s: threads: want 0..%d", path, AX_SNN_MAX_THREADS);
    if (!rc) rc = ax_snn_new(dt, (uint64_t)seed, &c.s);
    if (rc) {
        json_decref(root);
        return rc;
    }
    c.s->cfg_threads = (int)threads;
    c.rng = ax__stream_seed((uint64_t)seed, 7, 7);
    const char *slash = strrchr(path, '/');
    c.dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : NULL;
    json_t *net = json_object_get(root, "network");
    if (net) {
        const char *type = NULL;
        if (!json_is_object(net)) rc = ax__err(AX_E_FORMAT, "%s: network: want an object", path);
        if (!rc) rc = get_str(&c, net, "type", "network", NULL, &type);
        if (!rc) {
            if (!strcmp(type, "celegans")) rc = load_celegans(&c, net);
            else if (!strcmp(type, "flywire")) rc = load_flywire(&c, net);
            else if (!strcmp(type, "synthetic_flybrain")) rc = load_synthetic_fly(&c, net);
            else rc = ax__err(AX_E_FORMAT, "%s: network.type: unknown '%s' (celegans, flywire, synthetic_flybrain)", path, type);
        }
    }
    json_t *pops = json_object_get(root, "populations");
    if (!rc && pops && !json_is_array(pops)) rc = ax__err(AX_E_FORMAT, "%s: populations: want a list", path);
    for (size_t i = 0; !rc && pops && i < json_array_size(pops); i++) rc = load_population(&c, json_array_get(pops, i), i);
    if (!rc && c.s->n_pop == 0) rc = ax__err(AX_E_FORMAT, "%s: no populations (and no network)", path);
    json_t *projs = json_object_get(root, "projections");
    if (!rc && projs && !json_is_array(projs)) rc = ax__err(AX_E_FORMAT, "%s: projections: want a list", path);
    for (size_t i = 0; !rc && projs && i < json_array_size(projs); i++)
        rc = load_projection(&c, json_array_get(projs, i), i);
    json_t *gaps = json_object_get(root, "gap_junctions");
    if (!rc && gaps) {
        /* [{"pop": P, "pairs": [[a, b, g], ...]}] */
        if (!json_is_array(gaps)) rc = ax__err(AX_E_FORMAT, "%s: gap_junctions: want a list", path);
        for (size_t i = 0; !rc && i < json_array_size(gaps); i++) {
            json_t *g = json_array_get(gaps, i);
            char w[64];
            snprintf(w, sizeof w, "gap_junctions[%zu]", i);
            static const char *const gkeys[] = {"pop", "pairs", NULL};
            int pop;
            if (!json_is_object(g)) rc = ax__err(AX_E_FORMAT, "%s: %s: want an object", path, w);
            if (!rc) rc = check_keys(&c, g, w, gkeys);
            if (!rc) rc = pop_by_name(&c, g, "pop", w, &pop);
            json_t *pairs = json_object_get(g, "pairs");
            if (!rc && !json_is_array(pairs)) rc = ax__err(AX_E_FORMAT, "%s: %s.pairs: want [[a, b, g], ...]", path, w);
            for (size_t k = 0; !rc && k < json_array_size(pairs); k++) {
                json_t *p = json_array_get(pairs, k);
                if (!json_is_array(p) || json_array_size(p) != 3 || !json_is_integer(json_array_get(p, 0)) ||
                    !json_is_integer(json_array_get(p, 1)) || !json_is_number(json_array_get(p, 2)) ||
                    json_integer_value(json_array_get(p, 0)) < 0 || json_integer_value(json_array_get(p, 1)) < 0) {
                    rc = ax__err(AX_E_FORMAT, "%s: %s.pairs[%zu]: want [a, b, g]", path, w, k);
                    break;
                }
                uint32_t a = (uint32_t)json_integer_value(json_array_get(p, 0));
                uint32_t b = (uint32_t)json_integer_value(json_array_get(p, 1));
                float gv = (float)json_number_value(json_array_get(p, 2));
                if ((rc = ax_snn_gap_junctions(c.s, pop, 1, &a, &b, &gv))) rc = ax__err_prefix(rc, "%s: %s.pairs[%zu]", path, w, k);
            }
        }
    }
    json_t *ins = json_object_get(root, "inputs");
    if (!rc && ins && !json_is_array(ins)) rc = ax__err(AX_E_FORMAT, "%s: inputs: want a list", path);
    for (size_t i = 0; !rc && ins && i < json_array_size(ins); i++) rc = load_input(&c, json_array_get(ins, i), i);
    json_t *rec = json_object_get(root, "record");
    if (!rc && rec) rc = load_record(&c, rec);
    json_t *task = json_object_get(root, "task");
    if (!rc && task) { /* checked now, so a bad task fails before any work */
        ax__snn_task *tk = NULL;
        rc = ax__snn_task_from_json(c.s, task, path, &tk);
        ax__snn_task_free(tk);
        if (!rc) c.s->task_json = json_incref(task);
    }
    free(c.dir);
    json_decref(root);
    if (rc) {
        ax_snn_free(c.s);
        return rc;
    }
    *out = c.s;
    if (duration_ms) *duration_ms = dur;
    return AX_OK;
}
