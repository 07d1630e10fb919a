/* test_snn.c: the spiking-network engine through its public API: Poisson input
 * statistics, the Poisson source, gap junctions against their closed form, a run split in
 * slices equal to one run, thread-count independence with delays and gap junctions, the
 * synapse table's bytes, the JSON config's errors, and the API's argument checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* Poisson kicks into a neuron that integrates without leak or threshold: v(T) - v(0)
 * counts the kicks, which must be Poisson(n_sources rate T): mean and variance. */
static void test_poisson_input_counts(void)
{
    ax_snn *s;
    int p;
    CHECK_OK(ax_snn_new(0.1, 7, &s));
    CHECK_OK(ax_snn_add_population(s, "A", "lif", 2000, &p));
    CHECK_OK(ax_snn_set_param(s, p, "tau_m", 1e12)); /* no leak */
    CHECK_OK(ax_snn_set_param(s, p, "v_th", 1e9));   /* no spikes */
    CHECK_OK(ax_snn_set_param(s, p, "v_rest", 0));
    CHECK_OK(ax_snn_add_poisson(s, p, 0, 2000, "v", 20.0, 5, 1.0));
    CHECK_OK(ax_snn_run(s, 1000, 2));
    float *v = malloc(2000 * sizeof(float));
    CHECK_OK(ax_snn_get_state(s, p, "v", v));
    double m = 0, m2 = 0;
    for (int i = 0; i < 2000; i++) m += v[i];
    m /= 2000;
    for (int i = 0; i < 2000; i++) m2 += (v[i] - m) * (v[i] - m);
    m2 /= 1999;
    /* expected 5 x 20 Hz x 1 s = 100 (binomial per step: variance 100 (1 - 0.002)) */
    fprintf(stderr, "  poisson kicks: mean %.2f var %.2f (want 100, 99.8)\n", m, m2);
    CHECK(fabs(m - 100) < 4 * sqrt(100.0 / 2000) * 1.5);
    CHECK(fabs(m2 / 99.8 - 1) < 0.1); /* sd of a sample variance of 2000: ~3% */
    for (int i = 0; i < 2000; i++) CHECK(v[i] == floorf(v[i])); /* whole kicks */
    free(v);
    ax_snn_free(s);
}

/* The "poisson" source: rate, and exponential ISIs (CV 1, up to the dt grid). */
static void test_poisson_source(void)
{
    ax_snn *s;
    int p;
    CHECK_OK(ax_snn_new(0.1, 3, &s));
    CHECK_OK(ax_snn_add_population(s, "P", "poisson", 500, &p));
    CHECK_OK(ax_snn_set_param(s, p, "rate_hz", 40));
    CHECK_OK(ax_snn_run(s, 5000, 1));
    size_t n;
    const uint32_t *st, *id;
    CHECK_OK(ax_snn_spikes(s, &n, &st, &id));
    double rate = n / 500.0 / 5.0;
    fprintf(stderr, "  poisson source: %.2f Hz (want 40)\n", rate);
    CHECK(fabs(rate - 40) < 4 * sqrt(40 * 5 * 500.0) / (500 * 5));
    /* ISIs of neuron 0..499 */
    uint32_t *last = calloc(500, sizeof(uint32_t));
    char *seen = calloc(500, 1);
    double s1 = 0, s2 = 0;
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        if (seen[id[j]]) {
            double isi = (st[j] - last[id[j]]) * 0.1;
            s1 += isi;
            s2 += isi * isi;
            k++;
        }
        seen[id[j]] = 1;
        last[id[j]] = st[j];
    }
    double mean = s1 / k, cv = sqrt(s2 / k - mean * mean) / mean;
    fprintf(stderr, "  poisson source: mean ISI %.2f ms (want 25), CV %.3f (want ~1)\n", mean, cv);
    CHECK(fabs(mean - 25) < 1.0);
    CHECK(fabs(cv - 1) < 0.03);
    free(last);
    free(seen);
    ax_snn_free(s);
}

/* Two lif neurons, one gap junction g, one held by a current: with no leak in g's way
 * the steady state is v1 - E = (I + g (v2 - v1)), v2 - E = g (v1 - v2): closed form. */
static void test_gap_junction_steady_state(void)
{
    ax_snn *s;
    int p;
    CHECK_OK(ax_snn_new(0.1, 1, &s));
    CHECK_OK(ax_snn_add_population(s, "A", "lif", 2, &p));
    CHECK_OK(ax_snn_set_param(s, p, "v_th", 1e9));
    CHECK_OK(ax_snn_set_param(s, p, "v_rest", -70));
    float ie[2] = {10, 0}, v0[2] = {-70, -70};
    CHECK_OK(ax_snn_set_state(s, p, "I_e", ie));
    CHECK_OK(ax_snn_set_state(s, p, "v", v0));
    uint32_t a = 0, b = 1;
    float g = 0.5f;
    CHECK_OK(ax_snn_gap_junctions(s, p, 1, &a, &b, &g));
    CHECK_OK(ax_snn_run(s, 500, 2));
    float v[2];
    CHECK_OK(ax_snn_get_state(s, p, "v", v));
    /* x1 = 10 + 0.5 (x2 - x1), x2 = 0.5 (x1 - x2) -> x2 = x1/3, x1 = 10 - x1/3 -> x1 = 7.5 */
    fprintf(stderr, "  gap junction: v = %.4f, %.4f (want -62.5, -67.5)\n", v[0], v[1]);
    CHECK(fabs(v[0] + 62.5) < 1e-3);
    CHECK(fabs(v[1] + 67.5) < 1e-3);
    ax_snn_free(s);
}

/* a random network with delays, gap junctions and Poisson drive, built the same way */
static ax_snn *random_net(uint64_t seed)
{
    ax_snn *s;
    int e, i;
    if (ax_snn_new(0.1, seed, &s)) return NULL;
    ax_snn_add_population(s, "E", "lif_coba", 400, &e);
    ax_snn_add_population(s, "I", "lif", 101, &i);
    ax_snn_add_poisson(s, e, 0, 400, "ge", 50, 10, 0.05);
    ax_snn_add_poisson(s, i, 0, 101, "v", 100, 5, 2.0);
    uint64_t r = seed * 2654435761u + 1;
    enum { M = 20000 };
    uint32_t *pre = malloc(M * 4), *post = malloc(M * 4);
    float *w = malloc(M * 4), *d = malloc(M * 4);
    for (int k = 0; k < M; k++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        pre[k] = (uint32_t)(r >> 33) % 400;
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        post[k] = (uint32_t)(r >> 33) % 400;
        w[k] = 0.05f;
        d[k] = 0.1f * (float)(1 + (r >> 40) % 30);
    }
    ax_snn_connect(s, "EE", e, e, "ge", M, pre, post, w, d, 0);
    for (int k = 0; k < 5000; k++) {
        pre[k] = (uint32_t)k % 400;
        post[k] = (uint32_t)(k * 7) % 101;
        w[k] = 3.0f;
    }
    ax_snn_connect(s, "EI", e, i, "g", 5000, pre, post, w, NULL, 1.0);
    for (int k = 0; k < 2000; k++) {
        pre[k] = (uint32_t)k % 101;
        post[k] = (uint32_t)(k * 13) % 400;
        w[k] = 0.8f;
    }
    ax_snn_connect(s, "IE", i, e, "gi", 2000, pre, post, w, NULL, 0.5);
    for (int k = 0; k < 100; k++) {
        pre[k] = (uint32_t)k;
        post[k] = (uint32_t)(k + 1) % 101;
        w[k] = 0.2f;
    }
    ax_snn_gap_junctions(s, i, 100, pre, post, w);
    free(pre), free(post), free(w), free(d);
    return s;
}

static int spikes_equal(ax_snn *a, ax_snn *b)
{
    size_t na, nb;
    const uint32_t *sa, *ia, *sb, *ib;
    ax_snn_spikes(a, &na, &sa, &ia);
    ax_snn_spikes(b, &nb, &sb, &ib);
    if (na != nb) return 0;
    return !memcmp(sa, sb, na * 4) && !memcmp(ia, ib, na * 4);
}

static void test_threads_and_slices(void)
{
    ax_snn *a = random_net(5), *b = random_net(5), *c = random_net(5), *d = random_net(6);
    CHECK(a && b && c && d);
    CHECK_OK(ax_snn_run(a, 300, 1));
    CHECK_OK(ax_snn_run(b, 300, 2));
    /* in slices of uneven length, switching thread counts in between */
    CHECK_OK(ax_snn_run(c, 77.3, 2));
    CHECK_OK(ax_snn_run(c, 100, 1));
    CHECK_OK(ax_snn_run(c, 122.7, 2));
    CHECK_OK(ax_snn_run(d, 300, 1));
    size_t n;
    ax_snn_spikes(a, &n, NULL, NULL);
    fprintf(stderr, "  random net: %zu spikes in 300 ms\n", n);
    CHECK(n > 500);
    CHECK(spikes_equal(a, b));  /* 1 vs 2 threads */
    CHECK(spikes_equal(a, c));  /* one run vs slices */
    CHECK(!spikes_equal(a, d)); /* and the seed matters */
    ax_snn_compute ca, cb;
    CHECK_OK(ax_snn_get_compute(a, &ca));
    CHECK_OK(ax_snn_get_compute(b, &cb));
    CHECK(ca.syn_events == cb.syn_events && ca.syn_events > 0);
    CHECK(ca.synapses == 27000);
    CHECK(ca.bytes_per_synapse == 8.0);
    CHECK(ca.neuron_updates == 501 * 3000);
    CHECK(cb.threads == 2);
    ax_snn_free(a), ax_snn_free(b), ax_snn_free(c), ax_snn_free(d);
}

/* exact delay through the ring: a generator spike at 10 ms, delay 2.5 ms, into g */
static void test_delay(void)
{
    ax_snn *s;
    int g, p;
    CHECK_OK(ax_snn_new(0.1, 1, &s));
    CHECK_OK(ax_snn_add_population(s, "G", "spike_generator", 1, &g));
    CHECK_OK(ax_snn_add_population(s, "N", "lif", 1, &p));
    uint32_t z = 0;
    double t = 10.0;
    CHECK_OK(ax_snn_set_spike_times(s, g, 1, &z, &t));
    float w = 1.0f, dl = 2.5f;
    CHECK_OK(ax_snn_connect(s, "x", g, p, "g", 1, &z, &z, &w, &dl, 0));
    CHECK_OK(ax_snn_record_state(s, p, "g", 1, &z, 0.1));
    CHECK_OK(ax_snn_run(s, 20, 1));
    /* the sample at the end of step k is at (k + 1) dt: the jump lands in step 125 */
    float gv[1];
    CHECK_OK(ax_snn_get_state(s, p, "g", gv));
    CHECK(gv[0] > 0);
    ax_snn_free(s);
    /* the same through the recorded trace, via the CSV (written by write_results) */
    CHECK_OK(ax_snn_new(0.1, 1, &s));
    CHECK_OK(ax_snn_add_population(s, "G", "spike_generator", 1, &g));
    CHECK_OK(ax_snn_add_population(s, "N", "lif", 1, &p));
    CHECK_OK(ax_snn_set_spike_times(s, g, 1, &z, &t));
    CHECK_OK(ax_snn_connect(s, "x", g, p, "g", 1, &z, &z, &w, &dl, 0));
    int jump = -1;
    for (int k = 0; k < 200; k++) {
        CHECK_OK(ax_snn_run(s, 0.1, 1));
        CHECK_OK(ax_snn_get_state(s, p, "g", gv));
        if (gv[0] > 0 && jump < 0) jump = k;
    }
    fprintf(stderr, "  delay: g jumps in step %d (want 125)\n", jump);
    CHECK(jump == 125);
    ax_snn_free(s);
}

static void test_api_errors(void)
{
    ax_snn *s;
    int p;
    CHECK_ERR(ax_snn_new(-0.1, 1, &s), AX_E_INVALID, "dt_ms");
    CHECK_OK(ax_snn_new(0.1, 1, &s));
    CHECK_ERR(ax_snn_add_population(s, "A", "nope", 10, &p), AX_E_INVALID, "unknown model 'nope'");
    CHECK_ERR(ax_snn_add_population(s, "A", "lif", 0, &p), AX_E_INVALID, "at least 1");
    CHECK_ERR(ax_snn_add_population(s, "A", "lif", 20000000, &p), AX_E_RANGE, "more than");
    CHECK_OK(ax_snn_add_population(s, "A", "lif", 10, &p));
    CHECK_ERR(ax_snn_add_population(s, "A", "lif", 10, NULL), AX_E_INVALID, "used twice");
    CHECK_ERR(ax_snn_set_param(s, p, "tau_q", 1), AX_E_INVALID, "no parameter 'tau_q'");
    CHECK_ERR(ax_snn_set_param(s, p, "tau_m", NAN), AX_E_INVALID, "not a finite");
    uint32_t a = 3, b = 11;
    float w = 1, nanw = NAN, negd = -1;
    CHECK_ERR(ax_snn_connect(s, "x", p, p, "g", 1, &a, &b, &w, NULL, 0), AX_E_RANGE, "postsynaptic neuron 11");
    CHECK_ERR(ax_snn_connect(s, "x", p, p, "g", 1, &a, &a, &nanw, NULL, 0), AX_E_INVALID, "has weight nan");
    CHECK_ERR(ax_snn_connect(s, "x", p, p, "g", 1, &a, &a, &w, &negd, 0), AX_E_INVALID, "delay -1");
    CHECK_ERR(ax_snn_connect(s, "x", p, p, "g", 1, &a, &a, &w, NULL, 30), AX_E_RANGE, "more than the 255");
    CHECK_ERR(ax_snn_connect(s, "x", p, p, "ge", 1, &a, &a, &w, NULL, 0), AX_E_INVALID, "no variable 'ge'");
    CHECK_OK(ax_snn_set_param(s, p, "tau_m", -5));
    CHECK_ERR(ax_snn_run(s, 10, 1), AX_E_INVALID, "tau_m = -5 must be > 0");
    CHECK_OK(ax_snn_set_param(s, p, "tau_m", 20));
    CHECK_ERR(ax_snn_run(s, -1, 1), AX_E_INVALID, "duration");
    CHECK_ERR(ax_snn_add_poisson(s, p, 5, 10, "v", 10, 1, 1), AX_E_RANGE, "not within population");
    CHECK_ERR(ax_snn_set_spike_times(s, p, 0, NULL, NULL), AX_E_INVALID, "spike_generator");
    CHECK_ERR(ax_snn_set_plasticity(s, "nope", "stdp", 0, NULL, NULL), AX_E_NOTFOUND, "no projection");
    CHECK_OK(ax_snn_run(s, 10, 1));
    CHECK_ERR(ax_snn_add_population(s, "B", "lif", 10, NULL), AX_E_INVALID, "already run");
    ax_snn_free(s);
    ax_snn_free(NULL);
}

static void test_config_errors(void)
{
    const char *dir = getenv("AX_TEST_TMP") ? getenv("AX_TEST_TMP") : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/test_snn_%d.json", dir, (int)getpid());
    struct {
        const char *json, *want;
    } cases[] = {
        {"{\"populations\": [{\"name\": \"A\", \"model\": \"lif\", \"size\": 3, \"init\": {\"v\": [1, 2]}}]}",
         "populations[0].init.v: 2 values for 3 elements"},
        {"{\"populations\": [{\"name\": \"A\", \"model\": \"lif\", \"size\": 3, \"init\": {\"q\": 1}}]}",
         "no variable 'q'"},
        {"{\"dt_ms\": 0}", "dt_ms: 0 is not in (0, 100]"},
        {"{\"populations\": [{\"name\": \"A\", \"model\": \"lif\", \"size\": 3}], \"projections\": [{\"pre\": \"A\", "
         "\"post\": \"A\", \"target\": \"g\", \"connect\": {\"rule\": \"fixed_indegree\", \"k\": 5, \"multapses\": false, "
         "\"autapses\": false}, \"weight\": 1}]}",
         "k = 5 is more than the 2 distinct partners"},
        {"{\"populations\": [{\"name\": \"A\", \"model\": \"lif\", \"size\": 3}], \"projections\": [{\"pre\": \"A\", "
         "\"post\": \"A\", \"target\": \"g\", \"connect\": {\"rule\": \"ring\"}, \"weight\": 1}]}",
         "unknown rule 'ring'"},
        {"{\"populations\": [{\"name\": \"A\", \"model\": \"lif\", \"size\": 3}], \"record\": {\"state\": [{\"pop\": "
         "\"A\", \"var\": \"v\"}]}}",
         "name the neurons"},
        {"{\"populations\": [{\"name\": \"A\", \"model\": \"lif\", \"size\": 3}], \"inputs\": [{\"type\": \"poisson\", "
         "\"pop\": \"A\", \"target\": \"v\", \"rate_hz\": 1, \"weight\": 1, \"neurons\": [5]}]}",
         "inputs[0].neurons[0]: not an index below 3"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        FILE *f = fopen(path, "w");
        fputs(cases[k].json, f);
        fclose(f);
        ax_snn *s = NULL;
        int rc = ax_snn_from_config(path, &s, NULL);
        test_checks++;
        if (rc == AX_OK || !strstr(ax_errmsg(), cases[k].want) || !strstr(ax_errmsg(), path)) {
            test_failures++;
            fprintf(stderr, "  FAIL config case %zu: rc %d, '%s', wanted '%s'\n", k, rc, ax_errmsg(), cases[k].want);
        }
        CHECK(s == NULL);
    }
    remove(path);
}

/* a config's network equals the same network built by hand: all_to_all + one_to_one */
static void test_config_rules(void)
{
    const char *dir = getenv("AX_TEST_TMP") ? getenv("AX_TEST_TMP") : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/test_snn_r%d.json", dir, (int)getpid());
    FILE *f = fopen(path, "w");
    fputs("{\"seed\": 4, \"populations\": [{\"name\": \"A\", \"model\": \"lif\", \"size\": 30}, {\"name\": \"B\", \"model\": "
          "\"lif\", \"size\": 30}], \"projections\": ["
          "{\"name\": \"aa\", \"pre\": \"A\", \"post\": \"B\", \"target\": \"g\", \"connect\": {\"rule\": \"all_to_all\"}, \"weight\": 2},"
          "{\"name\": \"oo\", \"pre\": \"A\", \"post\": \"B\", \"target\": \"v\", \"connect\": {\"rule\": \"one_to_one\"}, \"weight\": [" ,
          f);
    for (int i = 0; i < 30; i++) fprintf(f, "%d%s", i, i < 29 ? "," : "");
    fputs("]},{\"name\": \"rr\", \"pre\": \"A\", \"post\": \"A\", \"target\": \"g\", \"connect\": {\"rule\": \"random\", \"p\": 0.3,"
          " \"autapses\": false}, \"weight\": 1},"
          "{\"name\": \"fi\", \"pre\": \"A\", \"post\": \"B\", \"target\": \"g\", \"connect\": {\"rule\": \"fixed_indegree\", \"k\": 7,"
          " \"multapses\": false}, \"weight\": 1}]}",
          f);
    fclose(f);
    ax_snn *s;
    CHECK_OK(ax_snn_from_config(path, &s, NULL));
    size_t n;
    uint32_t *a, *b;
    float *w;
    CHECK_OK(ax_snn_get_synapses(s, "aa", &n, &a, &b, &w, NULL));
    CHECK(n == 900);
    int ok = 1;
    for (size_t k = 0; k < n; k++) ok &= a[k] == k / 30 && b[k] == k % 30 && w[k] == 2;
    CHECK(ok);
    free(a), free(b), free(w);
    CHECK_OK(ax_snn_get_synapses(s, "oo", &n, &a, &b, &w, NULL));
    CHECK(n == 30);
    for (size_t k = 0; k < n; k++) CHECK(a[k] == k && b[k] == k && w[k] == (float)k);
    free(a), free(b), free(w);
    CHECK_OK(ax_snn_get_synapses(s, "rr", &n, &a, &b, NULL, NULL));
    fprintf(stderr, "  random p=0.3 on 30x30 without autapses: %zu synapses (want ~261)\n", n);
    CHECK(n > 200 && n < 320);
    for (size_t k = 0; k < n; k++) CHECK(a[k] != b[k]);
    free(a), free(b);
    CHECK_OK(ax_snn_get_synapses(s, "fi", &n, &a, &b, NULL, NULL));
    CHECK(n == 30 * 7);
    int indeg[30] = {0};
    for (size_t k = 0; k < n; k++) indeg[b[k]]++;
    for (int i = 0; i < 30; i++) CHECK(indeg[i] == 7);
    /* no multapses: distinct pres per post */
    for (size_t x = 0; x < n; x++)
        for (size_t y = x + 1; y < n; y++) CHECK(!(a[x] == a[y] && b[x] == b[y]));
    free(a), free(b);
    ax_snn_free(s);
    remove(path);
}

int main(void)
{
    RUN(test_poisson_input_counts);
    RUN(test_poisson_source);
    RUN(test_gap_junction_steady_state);
    RUN(test_threads_and_slices);
    RUN(test_delay);
    RUN(test_api_errors);
    RUN(test_config_errors);
    RUN(test_config_rules);
    return TEST_REPORT();
}
