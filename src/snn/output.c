/* output.c: what a simulation leaves behind: spikes, rates and sampled state as CSV and
 * HDF5, pictures (raster, rates, traces), compute.json; and the network itself as HDF5
 * for other simulators. Every file is written under a temporary name and renamed. */
#include <hdf5.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snn/plot.h"
#include "snn/snn_int.h"

/* ---- temp-file helpers ---------------------------------------------------------------------- */

typedef struct {
    char *path, *tmp;
    FILE *f;
} tfile;

static int topen(tfile *t, const char *dir, const char *name)
{
    memset(t, 0, sizeof *t);
    t->path = ax__path_join(dir, name);
    t->tmp = t->path ? ax__temp_sibling(t->path) : NULL;
    if (!t->tmp) return ax__err(AX_E_NOMEM, "out of memory");
    t->f = fopen(t->tmp, "w");
    if (!t->f) return ax__err(AX_E_IO, "%s: cannot create", t->path);
    return AX_OK;
}

static int tclose(tfile *t, int rc)
{
    if (t->f) {
        bool bad = ferror(t->f) != 0;
        if (fclose(t->f) != 0) bad = true;
        t->f = NULL;
        if (!rc && bad) rc = ax__err(AX_E_IO, "%s: write failed (disk full?)", t->path);
    }
    if (!rc && rename(t->tmp, t->path) != 0) rc = ax__err(AX_E_IO, "%s: cannot rename into place", t->path);
    if (rc && t->tmp) unlink(t->tmp);
    free(t->path);
    free(t->tmp);
    t->path = t->tmp = NULL;
    return rc;
}

/* ---- HDF5 helpers ------------------------------------------------------------------------------ */

static int h5_write(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data)
{
    hsize_t d1 = 0;
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    (void)d1;
    if (sp < 0) return -1;
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    bool big = dims[0] > 4096;
    if (big) {
        hsize_t ch[2] = {dims[0] < 65536 ? dims[0] : 65536, rank > 1 ? dims[1] : 1};
        if (rank > 1 && ch[0] * ch[1] > 1 << 20) ch[0] = (1 << 20) / (ch[1] ? ch[1] : 1) + 1;
        H5Pset_chunk(pl, rank, ch);
        H5Pset_deflate(pl, 4);
    }
    hid_t ds = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    int rc = ds < 0 ? -1 : 0;
    if (ds >= 0 && dims[0] > 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) rc = -1;
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(pl);
    H5Sclose(sp);
    return rc;
}

static int h5_attr_str(hid_t loc, const char *name, const char *val)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(val) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, t, val) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int h5_attr_num(hid_t loc, const char *name, double val)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, &val) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static hid_t h5_create_tmp(const char *path, char **tmp)
{
    *tmp = ax__temp_sibling(path);
    if (!*tmp) return -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return H5Fcreate(*tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
}

static int h5_finish(hid_t f, const char *path, char *tmp, int rc)
{
    if (f >= 0 && H5Fclose(f) < 0 && !rc) rc = ax__err(AX_E_IO, "%s: HDF5 close failed (disk full?)", path);
    if (!rc && rename(tmp, path) != 0) rc = ax__err(AX_E_IO, "%s: cannot rename into place", path);
    if (rc && tmp) unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- rates ---------------------------------------------------------------------------------- */

static double rate_bin(const ax_snn *s)
{
    if (s->rate_bin_ms > 0) return s->rate_bin_ms;
    double T = s->step * s->dt;
    /* about 200 bins, at least one step, rounded to 1/2/5 */
    double b = T / 200;
    double p = pow(10, floor(log10(b > 0 ? b : 1)));
    double m = b / p;
    b = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
    return b < s->dt ? s->dt : b;
}

/* rates[p][bin] in Hz; returns the number of bins */
static size_t make_rates(const ax_snn *s, double bin_ms, double **rates)
{
    int64_t per = (int64_t)floor(bin_ms / s->dt + 0.5);
    if (per < 1) per = 1;
    size_t nb = (size_t)((s->n_counts + (size_t)per - 1) / (size_t)per);
    for (int p = 0; p < s->n_pop; p++) {
        rates[p] = ax__calloc(nb ? nb : 1, sizeof(double));
        if (!rates[p]) return (size_t)-1;
    }
    for (size_t k = 0; k < s->n_counts; k++)
        for (int p = 0; p < s->n_pop; p++) rates[p][k / (size_t)per] += s->pop_counts[k * (size_t)s->n_pop + (size_t)p];
    for (size_t b = 0; b < nb; b++) {
        size_t steps = (size_t)per;
        if ((b + 1) * (size_t)per > s->n_counts) steps = s->n_counts - b * (size_t)per;
        for (int p = 0; p < s->n_pop; p++) rates[p][b] /= (double)s->pop[p]->n * steps * s->dt * 1e-3;
    }
    return nb;
}

/* ---- results ------------------------------------------------------------------------------------ */

static int write_csvs(const ax_snn *s, const char *dir, double bin, double **rates, size_t nb)
{
    tfile t;
    int rc = topen(&t, dir, "spikes.csv");
    if (!rc) {
        fprintf(t.f, "t_ms,neuron,population,index\n");
        int pi = 0;
        for (size_t k = 0; k < s->n_spk; k++) {
            uint32_t g = s->spk_id[k];
            pi = 0;
            while (g >= s->pop[pi]->offset + s->pop[pi]->n) pi++;
            fprintf(t.f, "%.4f,%u,%s,%u\n", s->spk_step[k] * s->dt, g, s->pop[pi]->name, g - s->pop[pi]->offset);
        }
    }
    if ((rc = tclose(&t, rc))) return rc;
    rc = topen(&t, dir, "rates.csv");
    if (!rc) {
        fprintf(t.f, "t_ms");
        for (int p = 0; p < s->n_pop; p++) fprintf(t.f, ",%s", s->pop[p]->name);
        fprintf(t.f, "\n");
        for (size_t b = 0; b < nb; b++) {
            fprintf(t.f, "%.4f", b * bin);
            for (int p = 0; p < s->n_pop; p++) fprintf(t.f, ",%.6g", rates[p][b]);
            fprintf(t.f, "\n");
        }
    }
    if ((rc = tclose(&t, rc))) return rc;
    if (s->n_mon) {
        rc = topen(&t, dir, "state.csv");
        if (!rc) {
            /* long format: one row per sample and neuron */
            fprintf(t.f, "t_ms,population,index,variable,value\n");
            for (int m = 0; m < s->n_mon; m++) {
                const ax__snn_monitor *mo = &s->mon[m];
                const ax__snn_pop *p = s->pop[mo->pop];
                for (size_t k = 0; k < mo->n_samples; k++)
                    for (size_t j = 0; j < mo->n; j++)
                        fprintf(t.f, "%.4f,%s,%u,%s,%.7g\n", mo->sample_step[k] * s->dt, p->name, mo->idx[j],
                                p->m->state[mo->var], (double)mo->data[k * mo->n + j]);
            }
        }
        if ((rc = tclose(&t, rc))) return rc;
    }
    if (s->names) {
        rc = topen(&t, dir, "neurons.csv");
        if (!rc) {
            fprintf(t.f, "neuron,population,index,name\n");
            const ax__snn_pop *p = s->pop[s->names_pop];
            for (uint32_t i = 0; i < s->n_names; i++) fprintf(t.f, "%u,%s,%u,%s\n", p->offset + i, p->name, i, s->names[i]);
        }
        if ((rc = tclose(&t, rc))) return rc;
    }
    return AX_OK;
}

static int write_h5(const ax_snn *s, const char *dir, double bin, double **rates, size_t nb)
{
    char *path = ax__path_join(dir, "results.h5"), *tmp = NULL;
    if (!path) return ax__err(AX_E_NOMEM, "out of memory");
    hid_t f = h5_create_tmp(path, &tmp);
    int rc = f < 0 ? ax__err(AX_E_IO, "%s: cannot create", path) : AX_OK;
    if (!rc) {
        hid_t g = H5Gcreate2(f, "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        double *t = ax__malloc_array(s->n_spk ? s->n_spk : 1, sizeof(double));
        if (!t) rc = ax__err(AX_E_NOMEM, "out of memory");
        for (size_t k = 0; !rc && k < s->n_spk; k++) t[k] = s->spk_step[k] * s->dt;
        hsize_t d = s->n_spk;
        if (!rc && (h5_write(g, "t_ms", H5T_NATIVE_DOUBLE, 1, &d, t) || h5_write(g, "neuron", H5T_NATIVE_UINT32, 1, &d, s->spk_id)))
            rc = ax__err(AX_E_IO, "%s: writing spikes failed", path);
        free(t);
        H5Gclose(g);
    }
    if (!rc) {
        hid_t g = H5Gcreate2(f, "populations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (int p = 0; p < s->n_pop && !rc; p++) {
            hid_t q = H5Gcreate2(g, s->pop[p]->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (q < 0 || h5_attr_str(q, "model", s->pop[p]->m->name) || h5_attr_num(q, "offset", s->pop[p]->offset) ||
                h5_attr_num(q, "size", s->pop[p]->n))
                rc = ax__err(AX_E_IO, "%s: writing population %s failed", path, s->pop[p]->name);
            if (q >= 0) H5Gclose(q);
        }
        H5Gclose(g);
    }
    if (!rc) {
        hid_t g = H5Gcreate2(f, "rates", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        double *t = ax__malloc_array(nb ? nb : 1, sizeof(double));
        if (!t) rc = ax__err(AX_E_NOMEM, "out of memory");
        for (size_t b = 0; !rc && b < nb; b++) t[b] = b * bin;
        hsize_t d = nb;
        if (!rc && (h5_write(g, "t_ms", H5T_NATIVE_DOUBLE, 1, &d, t) || h5_attr_num(g, "bin_ms", bin)))
            rc = ax__err(AX_E_IO, "%s: writing rates failed", path);
        for (int p = 0; p < s->n_pop && !rc; p++)
            if (h5_write(g, s->pop[p]->name, H5T_NATIVE_DOUBLE, 1, &d, rates[p]))
                rc = ax__err(AX_E_IO, "%s: writing rates failed", path);
        free(t);
        H5Gclose(g);
    }
    if (!rc && s->n_mon) {
        hid_t g = H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (int m = 0; m < s->n_mon && !rc; m++) {
            const ax__snn_monitor *mo = &s->mon[m];
            const ax__snn_pop *p = s->pop[mo->pop];
            char name[256];
            snprintf(name, sizeof name, "%s.%s.%d", p->name, p->m->state[mo->var], m);
            hid_t q = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            double *t = ax__malloc_array(mo->n_samples ? mo->n_samples : 1, sizeof(double));
            if (!t || q < 0) rc = ax__err(AX_E_NOMEM, "out of memory");
            for (size_t k = 0; !rc && k < mo->n_samples; k++) t[k] = mo->sample_step[k] * s->dt;
            hsize_t d1 = mo->n_samples, d2[2] = {mo->n_samples, mo->n}, dn = mo->n;
            if (!rc && (h5_write(q, "t_ms", H5T_NATIVE_DOUBLE, 1, &d1, t) ||
                        h5_write(q, "values", H5T_NATIVE_FLOAT, 2, d2, mo->data) ||
                        h5_write(q, "neurons", H5T_NATIVE_UINT32, 1, &dn, mo->idx)))
                rc = ax__err(AX_E_IO, "%s: writing state failed", path);
            free(t);
            if (q >= 0) H5Gclose(q);
        }
        H5Gclose(g);
    }
    /* the weights of plastic projections as they are now (static ones: --export-network) */
    bool any_plastic = false;
    for (int i = 0; i < s->n_proj; i++) any_plastic |= s->proj[i]->plastic != NULL;
    if (!rc && any_plastic) {
        hid_t g = H5Gcreate2(f, "projections", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (int i = 0; i < s->n_proj && !rc; i++) {
            const ax__snn_proj *pj = s->proj[i];
            if (!pj->plastic) continue;
            size_t n;
            uint32_t *a = NULL, *b = NULL;
            float *w = NULL;
            rc = ax_snn_get_synapses(s, pj->name, &n, &a, &b, &w, NULL);
            char name[256];
            snprintf(name, sizeof name, "%s", pj->name);
            for (char *c = name; *c; c++)
                if (*c == '/') *c = '|';
            hid_t h = rc ? -1 : H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            hsize_t dn = n;
            if (!rc && (h < 0 || h5_attr_str(h, "rule", pj->plastic->rule) ||
                        h5_write(h, "pre", H5T_NATIVE_UINT32, 1, &dn, a) ||
                        h5_write(h, "post", H5T_NATIVE_UINT32, 1, &dn, b) ||
                        h5_write(h, "weight", H5T_NATIVE_FLOAT, 1, &dn, w)))
                rc = ax__err(AX_E_IO, "%s: writing weights of %s failed", path, pj->name);
            if (h >= 0) H5Gclose(h);
            free(a), free(b), free(w);
        }
        H5Gclose(g);
    }
    if (!rc && (h5_attr_num(f, "dt_ms", s->dt) || h5_attr_num(f, "duration_ms", s->step * s->dt)))
        rc = ax__err(AX_E_IO, "%s: writing attributes failed", path);
    rc = h5_finish(f, path, tmp, rc);
    free(path);
    return rc;
}

static int write_pictures(const ax_snn *s, const char *dir, double bin, double **rates, size_t nb)
{
    int rc = AX_OK;
    double T = s->step * s->dt;
    double t1 = T, t0 = T > 2000 ? T - 2000 : 0;
    /* raster of the last 2 s at most */
    size_t first = 0;
    while (first < s->n_spk && s->spk_step[first] * s->dt < t0) first++;
    size_t n = s->n_spk - first;
    double *t = ax__malloc_array(n ? n : 1, sizeof(double));
    uint32_t *gs = ax__malloc_array((size_t)s->n_pop, sizeof(uint32_t));
    const char **names = ax__malloc_array((size_t)s->n_pop, sizeof(char *));
    double *x = ax__malloc_array(nb ? nb : 1, sizeof(double));
    if (!t || !gs || !names || !x) rc = ax__err(AX_E_NOMEM, "out of memory");
    for (size_t k = 0; !rc && k < n; k++) t[k] = s->spk_step[first + k] * s->dt;
    for (int p = 0; !rc && p < s->n_pop; p++) {
        gs[p] = s->pop[p]->offset;
        names[p] = s->pop[p]->name;
    }
    char *path = NULL;
    if (!rc && t1 > t0 && s->rec_spikes) {
        path = ax__path_join(dir, "raster.png");
        char title[160];
        snprintf(title, sizeof title, "spikes, %.0f-%.0f ms (%zu spikes)", t0, t1, n);
        rc = path ? ax__plot_raster(path, title, n, t, s->spk_id + first, t0, t1, s->n_neurons, s->n_pop, gs, names,
                                    1200, 700)
                  : AX_E_NOMEM;
        free(path);
    }
    if (!rc && nb >= 2) {
        for (size_t b = 0; b < nb; b++) x[b] = (b + 0.5) * bin;
        path = ax__path_join(dir, "rates.png");
        char title[160];
        snprintf(title, sizeof title, "population rates (%.3g ms bins)", bin);
        rc = path ? ax__plot_lines(path, title, "time (ms)", "rate (Hz)", s->n_pop, names, nb, x,
                                   (const double *const *)rates, 1200, 500)
                  : AX_E_NOMEM;
        free(path);
    }
    if (!rc && s->n_mon) {
        /* the first monitor's first few neurons, stacked */
        const ax__snn_monitor *mo = &s->mon[0];
        const ax__snn_pop *p = s->pop[mo->pop];
        int ns = (int)(mo->n < 6 ? mo->n : 6);
        size_t np = mo->n_samples;
        if (np >= 2) {
            double *tx = ax__malloc_array(np, sizeof(double));
            double **ys = ax__calloc((size_t)ns, sizeof(double *));
            char **nm = ax__calloc((size_t)ns, sizeof(char *));
            if (!tx || !ys || !nm) rc = ax__err(AX_E_NOMEM, "out of memory");
            for (size_t k = 0; !rc && k < np; k++) tx[k] = mo->sample_step[k] * s->dt;
            for (int j = 0; !rc && j < ns; j++) {
                ys[j] = ax__malloc_array(np, sizeof(double));
                nm[j] = ax__asprintf("%s[%u].%s", p->name, mo->idx[j], p->m->state[mo->var]);
                if (!ys[j] || !nm[j]) rc = ax__err(AX_E_NOMEM, "out of memory");
                for (size_t k = 0; !rc && k < np; k++) ys[j][k] = mo->data[k * mo->n + (size_t)j];
            }
            if (!rc) {
                path = ax__path_join(dir, "traces.png");
                char title[160];
                snprintf(title, sizeof title, "%s of %s (%s)", p->m->state[mo->var], p->name, p->m->state_unit[mo->var] ? p->m->state_unit[mo->var] : "");
                rc = path ? ax__plot_stacked(path, title, ns, (const char *const *)nm, np, tx, (const double *const *)ys,
                                             "time (ms)", p->m->state_unit[mo->var] ? p->m->state_unit[mo->var] : "", 1200,
                                             120 + 140 * ns)
                          : AX_E_NOMEM;
                free(path);
            }
            for (int j = 0; ys && j < ns; j++) free(ys[j]);
            for (int j = 0; nm && j < ns; j++) free(nm[j]);
            free(ys), free(nm), free(tx);
        }
    }
    free(t), free(gs), free(names), free(x);
    return rc;
}

int ax__snn_compute_json(const ax_snn *s, const char *path)
{
    ax_snn_compute c;
    ax_snn_get_compute(s, &c);
    json_t *o = json_object();
    json_object_set_new(o, "simulated_ms", json_real(c.sim_ms));
    json_object_set_new(o, "dt_ms", json_real(s->dt));
    json_object_set_new(o, "steps", json_integer((json_int_t)c.steps));
    json_object_set_new(o, "threads", json_integer(c.threads));
    json_object_set_new(o, "neurons", json_integer((json_int_t)c.neurons));
    json_object_set_new(o, "synapses", json_integer((json_int_t)c.synapses));
    json_object_set_new(o, "neuron_updates", json_integer((json_int_t)c.neuron_updates));
    json_object_set_new(o, "spikes", json_integer((json_int_t)c.spikes));
    json_object_set_new(o, "synaptic_events", json_integer((json_int_t)c.syn_events));
    json_object_set_new(o, "plastic_updates", json_integer((json_int_t)c.plastic_updates));
    json_object_set_new(o, "mean_rate_hz", json_real(c.mean_rate_hz));
    json_t *pm = json_array();
    for (int p = 0; p < s->n_pop; p++) {
        json_t *q = json_object();
        json_object_set_new(q, "population", json_string(s->pop[p]->name));
        json_object_set_new(q, "model", json_string(s->pop[p]->m->name));
        json_object_set_new(q, "neurons", json_integer(s->pop[p]->n));
        json_object_set_new(q, "flops_per_update", json_real(s->pop[p]->m->flops_update));
        json_array_append_new(pm, q);
    }
    json_object_set_new(o, "populations", pm);
    json_object_set_new(o, "flops_per_synaptic_event",
                        json_real(c.syn_events ? c.flops_synapses / (double)c.syn_events : 1.0));
    json_object_set_new(o, "flops_neuron_updates", json_real(c.flops_neurons));
    json_object_set_new(o, "flops_synapses", json_real(c.flops_synapses));
    json_object_set_new(o, "flops_total", json_real(c.flops_neurons + c.flops_synapses));
    json_object_set_new(o, "bytes_per_synapse", json_real(c.bytes_per_synapse));
    json_object_set_new(o, "index_bytes_per_synapse", json_real(c.bytes_index_per_synapse));
    json_object_set_new(o, "synapse_table_bytes", json_integer((json_int_t)c.synapse_bytes));
    json_object_set_new(o, "wall_s", json_real(c.wall_s));
    json_object_set_new(o, "build_s", json_real(c.build_s));
    json_object_set_new(o, "synaptic_events_per_s", json_real(c.events_per_s));
    json_object_set_new(o, "ns_per_synaptic_event_all_in", json_real(c.syn_events ? c.wall_s * 1e9 / (double)c.syn_events : 0));
    json_object_set_new(o, "ns_per_neuron_update_all_in", json_real(c.neuron_updates ? c.wall_s * 1e9 / (double)c.neuron_updates : 0));
    json_object_set_new(o, "real_time_factor", json_real(c.real_time_factor));
    json_object_set_new(o, "gflops_per_s", json_real(c.wall_s > 0 ? (c.flops_neurons + c.flops_synapses) / c.wall_s * 1e-9 : 0));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)c.peak_rss));
    char *txt = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
    json_decref(o);
    if (!txt) return ax__err(AX_E_NOMEM, "out of memory");
    size_t len = strlen(txt);
    txt[len] = '\n';
    int rc = ax__file_write_atomic(path, txt, len + 1);
    free(txt);
    return rc;
}

int ax_snn_write_results(const ax_snn *s, const char *outdir)
{
    if (!s || !outdir) return ax__err(AX_E_INVALID, "ax_snn_write_results: NULL argument");
    int rc = ax__mkdir_p(outdir);
    if (rc) return rc;
    double bin = rate_bin(s);
    double **rates = ax__calloc((size_t)s->n_pop, sizeof(double *));
    if (!rates) return ax__err(AX_E_NOMEM, "out of memory");
    size_t nb = make_rates(s, bin, rates);
    if (nb == (size_t)-1) rc = ax__err(AX_E_NOMEM, "out of memory");
    if (!rc) rc = write_csvs(s, outdir, bin, rates, nb);
    if (!rc) rc = write_h5(s, outdir, bin, rates, nb);
    if (!rc) rc = write_pictures(s, outdir, bin, rates, nb);
    if (!rc) {
        char *p = ax__path_join(outdir, "compute.json");
        rc = p ? ax__snn_compute_json(s, p) : ax__err(AX_E_NOMEM, "out of memory");
        free(p);
    }
    for (int p = 0; p < s->n_pop; p++) free(rates[p]);
    free(rates);
    return rc;
}

int ax_snn_export_network(const ax_snn *s, const char *path)
{
    if (!s || !path) return ax__err(AX_E_INVALID, "ax_snn_export_network: NULL argument");
    char *tmp = NULL;
    hid_t f = h5_create_tmp(path, &tmp);
    int rc = f < 0 ? ax__err(AX_E_IO, "%s: cannot create", path) : AX_OK;
    if (!rc && (h5_attr_num(f, "dt_ms", s->dt) || h5_attr_num(f, "seed", (double)s->seed)))
        rc = ax__err(AX_E_IO, "%s: write failed", path);
    hid_t g = rc ? -1 : H5Gcreate2(f, "populations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int p = 0; p < s->n_pop && !rc; p++) {
        const ax__snn_pop *q = s->pop[p];
        hid_t h = H5Gcreate2(g, q->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (h < 0 || h5_attr_str(h, "model", q->m->name) || h5_attr_num(h, "offset", q->offset) || h5_attr_num(h, "size", q->n))
            rc = ax__err(AX_E_IO, "%s: write failed", path);
        for (int k = 0; k < q->m->n_param && !rc; k++)
            if (h5_attr_num(h, q->m->param[k].name, q->p[k])) rc = ax__err(AX_E_IO, "%s: write failed", path);
        hsize_t d = q->n;
        for (int k = 0; k < q->m->n_state && !rc; k++)
            if (h5_write(h, q->m->state[k], H5T_NATIVE_FLOAT, 1, &d, q->s[k])) rc = ax__err(AX_E_IO, "%s: write failed", path);
        if (h >= 0) H5Gclose(h);
    }
    if (g >= 0) H5Gclose(g);
    g = rc ? -1 : H5Gcreate2(f, "projections", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; i < s->n_proj && !rc; i++) {
        const ax__snn_proj *pj = s->proj[i];
        size_t n;
        uint32_t *a = NULL, *b = NULL;
        float *w = NULL, *d = NULL;
        rc = ax_snn_get_synapses(s, pj->name, &n, &a, &b, &w, &d);
        /* projection names may hold '/', which HDF5 reads as a path */
        char name[256];
        snprintf(name, sizeof name, "%s", pj->name);
        for (char *c = name; *c; c++)
            if (*c == '/') *c = '|';
        hid_t h = rc ? -1 : H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dn = n;
        if (!rc && (h < 0 || h5_attr_str(h, "pre", pj->pre->name) || h5_attr_str(h, "post", pj->post->name) ||
                    h5_attr_str(h, "target", pj->post->m->state[pj->target]) ||
                    h5_write(h, "pre", H5T_NATIVE_UINT32, 1, &dn, a) || h5_write(h, "post", H5T_NATIVE_UINT32, 1, &dn, b) ||
                    h5_write(h, "weight", H5T_NATIVE_FLOAT, 1, &dn, w) || h5_write(h, "delay_ms", H5T_NATIVE_FLOAT, 1, &dn, d)))
            rc = ax__err(AX_E_IO, "%s: write failed", path);
        if (h >= 0) H5Gclose(h);
        free(a), free(b), free(w), free(d);
    }
    if (g >= 0) H5Gclose(g);
    return h5_finish(f, path, tmp, rc);
}
