/* cmd_simulate.c: `axon simulate CONFIG -o OUTDIR` (spiking networks, docs/simulate.md)
 * and `axon brain-compute` (what a whole brain would cost to run). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_stg.h"

static void human(double x, char *buf, size_t n)
{
    const char *u[] = {"", "k", "M", "G", "T", "P", "E", "Z", "Y"};
    int k = 0;
    while (fabs(x) >= 1000 && k < 8) {
        x /= 1000;
        k++;
    }
    snprintf(buf, n, k ? "%.3g %s" : "%.4g%s", x, u[k]);
}

static void print_network(const ax_snn *s)
{
    printf("network: %u neurons in %d population%s\n", ax_snn_neuron_count(s), ax_snn_population_count(s),
           ax_snn_population_count(s) == 1 ? "" : "s");
    for (int p = 0; p < ax_snn_population_count(s); p++) {
        const char *name, *model;
        uint32_t off, n;
        ax_snn_population_info(s, p, &name, &model, &off, &n);
        printf("  %-16s %9u x %s\n", name, n, model);
    }
}

static void print_compute(const ax_snn *s)
{
    ax_snn_compute c;
    ax_snn_get_compute(s, &c);
    char a[32], b[32], d[32], e[32];
    human((double)c.synapses, a, sizeof a);
    printf("synapses: %s, %.2f bytes each (target+delay 4, weight 4%s) + %.2f bytes of row index; %.1f MiB in all\n", a,
           c.bytes_per_synapse, c.bytes_per_synapse > 8.01 ? ", plasticity state" : "", c.bytes_index_per_synapse,
           mib(c.synapse_bytes));
    printf("ran %.1f ms of model time in %.3f s on %d thread%s: real-time factor %.3g (synapse tables built in %.2f s)\n",
           c.sim_ms, c.wall_s, c.threads, c.threads == 1 ? "" : "s", c.real_time_factor, c.build_s);
    human((double)c.spikes, a, sizeof a);
    human((double)c.syn_events, b, sizeof b);
    human(c.events_per_s, d, sizeof d);
    printf("spikes: %s (mean rate %.3g Hz); synaptic events: %s (%s/s, %.2f ns each, all costs included)\n", a,
           c.mean_rate_hz, b, d, c.syn_events ? c.wall_s * 1e9 / (double)c.syn_events : 0.0);
    human((double)c.neuron_updates, a, sizeof a);
    human(c.flops_neurons, b, sizeof b);
    human(c.flops_synapses, d, sizeof d);
    human((c.flops_neurons + c.flops_synapses) / (c.wall_s > 0 ? c.wall_s : 1), e, sizeof e);
    printf("compute: %s neuron updates (%sFLOP), %s synaptic FLOP (%.3g per event); %sFLOP/s achieved\n", a, b, d,
           c.syn_events ? c.flops_synapses / (double)c.syn_events : 0.0, e);
    if (c.plastic_updates) {
        human((double)c.plastic_updates, a, sizeof a);
        printf("plasticity: %s weight updates\n", a);
    }
    printf("peak memory: %.1f MiB\n", mib(c.peak_rss));
}

static int usage(void)
{
    fprintf(stderr,
            "usage: axon simulate CONFIG.json -o OUTDIR [--threads N] [--duration MS] [--export-network FILE.h5]\n"
            "  Runs the spiking network CONFIG describes (docs/simulate.md) and writes spikes.csv, rates.csv,\n"
            "  state.csv, results.h5, raster.png, rates.png, traces.png and compute.json into OUTDIR.\n"
            "  --export-network writes the connectivity and initial state as HDF5 before the run.\n");
    return 2;
}

int cmd_simulate(int argc, char **argv)
{
    const char *cfg = NULL, *out = NULL, *export = NULL;
    int64_t threads = -1;
    double duration = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-o") || !strcmp(a, "--out")) && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "--threads") && i + 1 < argc) {
            if (!parse_i64(argv[++i], &threads) || threads < 1 || threads > 64)
                return usage_error("--threads: want 1..64, got '%s'", argv[i]);
        } else if (!strcmp(a, "--duration") && i + 1 < argc) {
            if (!parse_f64(argv[++i], &duration) || duration < 0)
                return usage_error("--duration: want milliseconds >= 0, got '%s'", argv[i]);
        } else if (!strcmp(a, "--export-network") && i + 1 < argc) export = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        else if (a[0] == '-' && a[1]) return usage_error("unknown option '%s'", a);
        else if (!cfg) cfg = a;
        else return usage_error("unexpected argument '%s'", a);
    }
    if (!cfg || !out) return usage();
    signal(SIGINT, on_signal);
    /* circuits with their own integrator (the STG) have a "circuit" key */
    json_error_t je;
    json_t *root = json_load_file(cfg, 0, &je);
    if (!root) {
        fprintf(stderr, "axon: error: %s:%d:%d: %s\n", cfg, je.line, je.column, je.text);
        return 1;
    }
    if (json_is_object(root) && json_object_get(root, "circuit")) {
        if (duration >= 0) json_object_set_new(root, "duration_ms", json_real(duration));
        if (export) fprintf(stderr, "axon: note: --export-network does not apply to circuit configs\n");
        int st = cmd_simulate_stg(cfg, root, out);
        json_decref(root);
        return st;
    }
    json_decref(root);

    double t0 = ax_time_now();
    ax_snn *s = NULL;
    double dur;
    int rc = ax_snn_from_config(cfg, &s, &dur);
    if (rc) return fail(rc);
    if (duration >= 0) dur = duration;
    int nth = threads > 0 ? (int)threads : ax_snn_threads_hint(s); /* 0: ax_snn_run decides */
    if (!g_quiet) {
        char info[512];
        print_network(s);
        if (ax_snn_describe(s, info, sizeof info) > 0) printf("%s\n", info);
        printf("built from %s in %.2f s\n", cfg, ax_time_now() - t0);
        fflush(stdout);
    }
    if (export && (rc = ax_snn_export_network(s, export))) {
        ax_snn_free(s);
        return fail(rc);
    }
    if (ax_snn_has_task(s)) {
        rc = ax_snn_run_task(s, nth, out, g_quiet ? NULL : stdout);
    } else {
        /* in slices, so a long run shows progress and stops cleanly on Ctrl-C */
        double dt = ax_snn_dt(s), slice = 100;
        int64_t steps = (int64_t)floor(dur / dt + 0.5);
        ax_progress *pg = ax_progress_new("simulate", steps);
        for (int64_t done = 0; done < steps && !rc;) {
            int64_t k = (int64_t)floor(slice / dt + 0.5);
            if (k < 1) k = 1;
            if (k > steps - done) k = steps - done;
            rc = ax_snn_run(s, (double)k * dt, nth);
            done += k;
            ax_progress_add(pg, k);
            if (!rc && g_interrupted) rc = AX_E_INTERRUPTED;
        }
        ax_progress_done(pg);
    }
    if (rc == AX_E_INTERRUPTED) {
        fprintf(stderr, "axon: interrupted; nothing written to %s\n", out);
        ax_snn_free(s);
        return 130;
    }
    if (rc) {
        ax_snn_free(s);
        return fail(rc);
    }
    if ((rc = ax_snn_write_results(s, out))) {
        ax_snn_free(s);
        return fail(rc);
    }
    if (!g_quiet) {
        print_compute(s);
        printf("wrote %s/{spikes.csv,rates.csv,results.h5,raster.png,rates.png,compute.json}\n", out);
    }
    ax_snn_free(s);
    return 0;
}

/* ---- brain-compute ------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    double neurons, synapses;
    const char *source;
} species;

static const species k_species[] = {
    {"human", 8.6e10, 1.5e14, "Azevedo et al. 2009 (neurons); ~1.5e14 neocortical + cerebellar synapses (Drachman 2005: 1e14-1e15)"},
    {"mouse", 7.1e7, 1e11, "Herculano-Houzel et al. 2006 (neurons); ~1e11 synapses (Schüz & Palm 1989 density x volume)"},
    {"fly", 1.39e5, 5.0e7, "FlyWire v783: 138,639 neurons, ~5e7 synapses (Dorkenwald et al. 2024)"},
};

static int bc_usage(void)
{
    fprintf(stderr,
            "usage: axon brain-compute [--species human|mouse|fly|all] [--neurons N --synapses S]\n"
            "                          [--rates 0.1,0.5,1,2] [--flops-per-event 1,10,100]\n"
            "                          [--update-hz 10000] [--flops-per-update F] [--json OUT.json]\n"
            "                          [--ns-per-event E --ns-per-update U]\n"
            "  Whole-brain FLOP/s = synapses x rate x FLOPs per event + neurons x update rate x FLOPs per update,\n"
            "  and the machines for real time at this machine's cost per event and per update, measured by\n"
            "  two short runs (COBA with and without synapses) unless given.\n");
    return 2;
}

/* measure this machine: a 4000-neuron COBA network for 200 ms, as in bench/sim */
static int measure_machine(double *ns_event, double *ns_update, char *what, size_t n)
{
    ax_snn *s = NULL;
    int rc = ax_snn_new(0.1, 1, &s), e, i;
    if (!rc) rc = ax_snn_add_population(s, "E", "lif_coba", 3200, &e);
    if (!rc) rc = ax_snn_add_population(s, "I", "lif_coba", 800, &i);
    uint32_t N = 4000;
    float *v = malloc(N * sizeof(float)), *ge = malloc(N * sizeof(float)), *gi = malloc(N * sizeof(float));
    uint64_t r = 12345;
    for (uint32_t k = 0; k < N && v; k++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        double u1 = ((r >> 11) + 1) * 0x1.0p-53;
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        double u2 = (r >> 11) * 0x1.0p-53;
        double z = sqrt(-2 * log(u1)) * cos(6.283185307 * u2);
        v[k] = (float)(-60 + 5 * z - 5);
        ge[k] = (float)(4 + 1.5 * z);
        gi[k] = (float)(20 + 12 * z);
    }
    for (int p = 0; p < 2 && !rc && v; p++) {
        int pop = p ? i : e;
        uint32_t off = p ? 3200 : 0;
        if (!(rc = ax_snn_set_state(s, pop, "v", v + off)) && !(rc = ax_snn_set_state(s, pop, "ge", ge + off)))
            rc = ax_snn_set_state(s, pop, "gi", gi + off);
    }
    /* random connectivity p = 0.02 */
    size_t cap = 400000;
    uint64_t events = 1, updates = 0;
    uint32_t *pre = malloc(cap * sizeof(uint32_t)), *post = malloc(cap * sizeof(uint32_t));
    float *w = malloc(cap * sizeof(float));
    for (int pp = 0; pp < 4 && !rc && pre && post && w; pp++) {
        int a = pp / 2, b = pp % 2;
        uint32_t na = a ? 800 : 3200, nb = b ? 800 : 3200;
        size_t k = 0;
        for (uint32_t x = 0; x < na; x++)
            for (uint32_t y = 0; y < nb && k < cap; y++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                if ((r >> 11) * 0x1.0p-53 < 0.02) {
                    pre[k] = x;
                    post[k] = y;
                    w[k++] = a ? 6.7f : 0.6f;
                }
            }
        char nm[16];
        snprintf(nm, sizeof nm, "p%d", pp);
        rc = ax_snn_connect(s, nm, a ? i : e, b ? i : e, a ? "gi" : "ge", k, pre, post, w, NULL, 0);
    }
    free(pre), free(post), free(w), free(v), free(ge), free(gi);
    if (!rc) rc = ax_snn_run(s, 200, 0);
    if (!rc) {
        ax_snn_compute c;
        ax_snn_get_compute(s, &c);
        /* all-in figures first; the silent run below splits them */
        *ns_event = c.syn_events ? c.wall_s * 1e9 / (double)c.syn_events : 0;
        *ns_update = c.neuron_updates ? c.wall_s * 1e9 / (double)c.neuron_updates : 0;
        events = c.syn_events ? c.syn_events : 1;
        updates = c.neuron_updates;
        snprintf(what, n, "COBA 4000 neurons, 200 ms, %d threads: %.3g events/s, rate %.1f Hz", c.threads,
                 c.events_per_s, c.mean_rate_hz);
    }
    ax_snn_free(s);
    /* neuron updates alone: the same neurons without synapses (they stay silent); the
     * all-in time less the updates, per event, is the cost of an event */
    if (!rc) {
        ax_snn *q = NULL;
        int pp;
        rc = ax_snn_new(0.1, 1, &q);
        if (!rc) rc = ax_snn_add_population(q, "N", "lif_coba", 4000, &pp);
        if (!rc) rc = ax_snn_run(q, 200, 0);
        if (!rc) {
            ax_snn_compute c;
            ax_snn_get_compute(q, &c);
            double upd = c.wall_s * 1e9 / (double)c.neuron_updates;
            double all_ns = *ns_event * (double)events; /* the all-in wall time, ns */
            double ev = (all_ns - upd * (double)updates) / (double)events;
            *ns_update = upd;
            *ns_event = ev > 0 ? ev : *ns_event;
        }
        ax_snn_free(q);
    }
    return rc;
}

int cmd_brain_compute(int argc, char **argv)
{
    const char *sp = "all", *json_out = NULL;
    double ns_ev_given = 0, ns_up_given = 0;
    double neurons = -1, synapses = -1, update_hz = 10000, fpu = 27;
    double rates[16] = {0.1, 0.5, 1, 2}, fpe[16] = {1, 10, 100};
    int nr = 4, nf = 3;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--species") && i + 1 < argc) sp = argv[++i];
        else if (!strcmp(a, "--neurons") && i + 1 < argc) {
            if (!parse_f64(argv[++i], &neurons) || neurons <= 0) return usage_error("--neurons: want > 0, got '%s'", argv[i]);
        } else if (!strcmp(a, "--synapses") && i + 1 < argc) {
            if (!parse_f64(argv[++i], &synapses) || synapses <= 0) return usage_error("--synapses: want > 0, got '%s'", argv[i]);
        } else if (!strcmp(a, "--rates") && i + 1 < argc) {
            if ((nr = parse_flist(argv[++i], rates, 16)) < 1) return usage_error("--rates: want a list, got '%s'", argv[i]);
        } else if (!strcmp(a, "--flops-per-event") && i + 1 < argc) {
            if ((nf = parse_flist(argv[++i], fpe, 16)) < 1) return usage_error("--flops-per-event: want a list, got '%s'", argv[i]);
        } else if (!strcmp(a, "--update-hz") && i + 1 < argc) {
            if (!parse_f64(argv[++i], &update_hz) || update_hz < 0) return usage_error("--update-hz: want >= 0, got '%s'", argv[i]);
        } else if (!strcmp(a, "--flops-per-update") && i + 1 < argc) {
            if (!parse_f64(argv[++i], &fpu) || fpu < 0) return usage_error("--flops-per-update: want >= 0, got '%s'", argv[i]);
        } else if (!strcmp(a, "--ns-per-event") && i + 1 < argc) {
            if (!parse_f64(argv[++i], &ns_ev_given) || ns_ev_given <= 0) return usage_error("--ns-per-event: want > 0, got '%s'", argv[i]);
        } else if (!strcmp(a, "--ns-per-update") && i + 1 < argc) {
            if (!parse_f64(argv[++i], &ns_up_given) || ns_up_given <= 0) return usage_error("--ns-per-update: want > 0, got '%s'", argv[i]);
        } else if (!strcmp(a, "--json") && i + 1 < argc) json_out = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return bc_usage(), 0;
        else return usage_error("unknown argument '%s'", a);
    }
    for (int k = 0; k < nr; k++)
        if (!(rates[k] >= 0)) return usage_error("--rates: %s has a negative rate", "");
    if ((neurons > 0) != (synapses > 0)) return usage_error("give both --neurons and --synapses%s", "");
    species custom = {"custom", neurons, synapses, "given"};
    const species *list[4];
    int ns = 0;
    if (neurons > 0) list[ns++] = &custom;
    else
        for (size_t k = 0; k < sizeof k_species / sizeof k_species[0]; k++)
            if (!strcmp(sp, "all") || !strcmp(sp, k_species[k].name)) list[ns++] = &k_species[k];
    if (!ns) return usage_error("--species: unknown '%s' (human, mouse, fly, all)", sp);

    /* this machine's cost per event and per update */
    double ns_ev = 0, ns_up = 0;
    char what[256] = "";
    if (ns_ev_given > 0 || ns_up_given > 0) {
        if (!(ns_ev_given > 0 && ns_up_given > 0)) return usage_error("give both --ns-per-event and --ns-per-update%s", "");
        ns_ev = ns_ev_given;
        ns_up = ns_up_given;
        snprintf(what, sizeof what, "as given");
    } else {
        int rc = measure_machine(&ns_ev, &ns_up, what, sizeof what);
        if (rc) return fail(rc);
    }
    json_t *jo = json_object(), *ja = json_array();
    printf("whole-brain compute for real time: synapses x rate x FLOPs/event + neurons x %.0f Hz x %.0f FLOPs/update\n",
           update_hz, fpu);
    for (int k = 0; k < ns; k++) {
        const species *S = list[k];
        printf("\n%s: %.3g neurons, %.3g synapses (%s)\n", S->name, S->neurons, S->synapses, S->source);
        printf("  %-10s", "rate (Hz)");
        for (int f = 0; f < nf; f++) printf(" %14.4g FLOP/ev", fpe[f]);
        printf("\n");
        for (int r = 0; r < nr; r++) {
            printf("  %-10.3g", rates[r]);
            for (int f = 0; f < nf; f++) {
                double fl = ax_brain_flops(S->neurons, S->synapses, rates[r], fpe[f], fpu, update_hz);
                printf(" %14.3e FLOP/s", fl);
                json_t *row = json_object();
                json_object_set_new(row, "species", json_string(S->name));
                json_object_set_new(row, "rate_hz", json_real(rates[r]));
                json_object_set_new(row, "flops_per_event", json_real(fpe[f]));
                json_object_set_new(row, "flops_per_s", json_real(fl));
                json_array_append_new(ja, row);
            }
            printf("\n");
        }
        /* machines at the measured costs: seconds of machine time per second of brain */
        printf("  machines like this one for real time (%.3g ns per event, %.3g ns per update; %s):\n", ns_ev, ns_up, what);
        for (int r = 0; r < nr; r++) {
            double sec = S->synapses * rates[r] * ns_ev * 1e-9 + S->neurons * update_hz * ns_up * 1e-9;
            printf("    at %5.3g Hz: %.3g machines\n", rates[r], sec);
            json_t *row = json_object();
            json_object_set_new(row, "species", json_string(S->name));
            json_object_set_new(row, "rate_hz", json_real(rates[r]));
            json_object_set_new(row, "machines_real_time", json_real(sec));
            json_array_append_new(ja, row);
        }
    }
    json_object_set_new(jo, "rows", ja);
    json_object_set_new(jo, "ns_per_event", json_real(ns_ev));
    json_object_set_new(jo, "ns_per_update", json_real(ns_up));
    json_object_set_new(jo, "update_hz", json_real(update_hz));
    json_object_set_new(jo, "flops_per_update", json_real(fpu));
    int st = 0;
    if (json_out && json_dump_file(jo, json_out, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "axon: error: %s: cannot write\n", json_out);
        st = 1;
    }
    json_decref(jo);
    return st;
}
