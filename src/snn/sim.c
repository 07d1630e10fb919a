/* sim.c: the time-step loop. Threads own contiguous partitions of the neurons and the
 * synapses onto them; two barriers a step (three with gap junctions) keep the phases
 * apart: update + threshold | synapses + inputs + reset (| gap currents). */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "snn/snn_int.h"

typedef struct {
    atomic_int count;
    atomic_int sense;
    int n;
} barrier_t;

static void barrier_wait(barrier_t *b, int *local_sense)
{
    int s = !*local_sense;
    *local_sense = s;
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_store_explicit(&b->sense, s, memory_order_release);
    } else {
        int spins = 0;
        while (atomic_load_explicit(&b->sense, memory_order_acquire) != s)
            if (++spins > 2000) {
                sched_yield();
                spins = 0;
            }
    }
}

/* spike lists of one step: per thread, global ids ascending */
typedef struct {
    uint32_t *ids[AX_SNN_MAX_THREADS];
    uint32_t n[AX_SNN_MAX_THREADS];
} spike_slot;

typedef struct {
    ax_snn *s;
    int T;
    int64_t step0, step1;
    barrier_t bar;
    int hist;               /* slots in the spike history (kept in s across runs) */
    spike_slot *slot;
    uint32_t glo[AX_SNN_MAX_THREADS + 1];
    /* per-thread counters */
    struct {
        uint64_t events, plastic;
        char pad[48];
    } cnt[AX_SNN_MAX_THREADS];
    atomic_int stop;
    int64_t done;           /* steps completed */
} run_ctx;

/* the part of population p inside global range [glo, ghi), as local [i0, i1) */
static inline bool pop_range(const ax__snn_pop *p, uint32_t glo, uint32_t ghi, uint32_t *i0, uint32_t *i1)
{
    uint32_t a = glo > p->offset ? glo - p->offset : 0;
    uint32_t b = ghi > p->offset ? ghi - p->offset : 0;
    if (a > p->n) a = p->n;
    if (b > p->n) b = p->n;
    *i0 = a;
    *i1 = b;
    return a < b;
}

static void gap_currents(ax_snn *s, uint32_t glo, uint32_t ghi)
{
    for (int gi = 0; gi < s->n_gap; gi++) {
        ax__snn_pop *p = s->pop[s->gap[gi].pop];
        uint32_t i0, i1;
        if (!pop_range(p, glo, ghi, &i0, &i1)) continue;
        const float *v = p->s[p->m->gap_state];
        const uint64_t *row = s->gap[gi].row;
        for (uint32_t i = i0; i < i1; i++) {
            float acc = 0;
            for (uint64_t j = row[i]; j < row[i + 1]; j++) acc += s->gap[gi].g[j] * (v[s->gap[gi].other[j]] - v[i]);
            p->i_gap[i] = acc;
        }
    }
}

static void deliver_static(ax_snn *s, run_ctx *c, int tid, int64_t step, const spike_slot *sl)
{
    int D = s->ring_slots;
    int now = (int)(step % D);
    uint64_t ev = 0;
    for (int pi = 0; pi < s->n_proj; pi++) {
        ax__snn_proj *pj = s->proj[pi];
        if (pj->plastic) continue;
        ax__snn_part *pt = &pj->part[tid];
        if (!pt->nnz) continue;
        const ax__snn_pop *a = pj->pre;
        float *ring = pj->post->ring[pj->target];
        size_t n = pj->post->n;
        for (int t = 0; t < c->T; t++) {
            const uint32_t *ids = sl->ids[t];
            for (uint32_t k = 0; k < sl->n[t]; k++) {
                uint32_t g = ids[k];
                if (g < a->offset) continue;
                uint32_t i = g - a->offset;
                if (i >= a->n) break; /* ascending: no more of this population here */
                uint64_t j0 = pt->row[i], j1 = pt->row[i + 1];
                ev += j1 - j0;
                if (D == 1) {
                    for (uint64_t j = j0; j < j1; j++) ring[pt->pd[j]] += pt->w[j];
                } else {
                    for (uint64_t j = j0; j < j1; j++) {
                        uint32_t pd = pt->pd[j];
                        int sl2 = now + (int)(pd >> AX_SNN_POST_BITS);
                        if (sl2 >= D) sl2 -= D;
                        ring[(size_t)sl2 * n + (pd & AX_SNN_POST_MASK)] += pt->w[j];
                    }
                }
            }
        }
    }
    c->cnt[tid].events += ev;
}

static void deliver_plastic(ax_snn *s, run_ctx *c, int tid, int64_t step)
{
    int D = s->ring_slots;
    int now = (int)(step % D);
    for (int pi = 0; pi < s->n_proj; pi++) {
        ax__snn_proj *pj = s->proj[pi];
        ax__snn_plastic *pl = pj->plastic;
        if (!pl) continue;
        ax__snn_part *pt = &pj->part[tid];
        const ax__snn_pop *a = pj->pre;
        int64_t sent = step - pl->delay;
        uint64_t upd = 0;
        float *ring_slot = pj->post->ring[pj->target] + (size_t)now * pj->post->n;
        if (sent >= 0) {
            const spike_slot *sl = &c->slot[sent % c->hist];
            for (int t = 0; t < c->T; t++)
                for (uint32_t k = 0; k < sl->n[t]; k++) {
                    uint32_t g = sl->ids[t][k];
                    if (g < a->offset) continue;
                    uint32_t i = g - a->offset;
                    if (i >= a->n) break;
                    c->cnt[tid].events += pt->row[i + 1] - pt->row[i];
                    pl->on_pre(pl, pj, pt, i, step, ring_slot, &upd);
                }
        }
        c->cnt[tid].plastic += upd;
    }
}

static void plastic_post(ax_snn *s, run_ctx *c, int tid, int64_t step, const spike_slot *sl)
{
    for (int pi = 0; pi < s->n_proj; pi++) {
        ax__snn_proj *pj = s->proj[pi];
        ax__snn_plastic *pl = pj->plastic;
        if (!pl) continue;
        ax__snn_part *pt = &pj->part[tid];
        const ax__snn_pop *b = pj->post;
        uint64_t upd = 0;
        if (pl->on_post) {
            const uint32_t *ids = sl->ids[tid];
            for (uint32_t k = 0; k < sl->n[tid]; k++) {
                uint32_t g = ids[k];
                if (g < b->offset || g - b->offset >= b->n) continue;
                pl->on_post(pl, pj, pt, g - b->offset, step, &upd);
            }
        }
        if (pl->step_end) pl->step_end(pl, pj, pt, step, &upd);
        c->cnt[tid].plastic += upd;
    }
}

AX_SNN_CLONES static void add_and_clear(float *restrict v, float *restrict r, uint32_t i0, uint32_t i1)
{
    for (uint32_t i = i0; i < i1; i++) {
        v[i] += r[i];
        r[i] = 0;
    }
}

static void apply_inputs(ax_snn *s, uint32_t glo, uint32_t ghi, int64_t step)
{
    int D = s->ring_slots;
    int now = (int)(step % D);
    for (int pi = 0; pi < s->n_pop; pi++) {
        ax__snn_pop *p = s->pop[pi];
        uint32_t i0, i1;
        if (!pop_range(p, glo, ghi, &i0, &i1)) continue;
        for (int k = 0; k < p->m->n_state; k++)
            if (p->ring[k]) add_and_clear(p->s[k], p->ring[k] + (size_t)now * p->n, i0, i1);
    }
    for (int q = 0; q < s->n_poisson; q++) {
        const ax__snn_poisson *in = &s->poisson[q];
        ax__snn_pop *p = s->pop[in->pop];
        uint32_t i0, i1;
        if (!pop_range(p, glo, ghi, &i0, &i1)) continue;
        if (i0 < in->first) i0 = in->first;
        if (i1 > in->first + in->count) i1 = in->first + in->count;
        float *v = p->s[in->target];
        const double *cdf = in->cdf;
        const uint32_t nc = in->n_cdf;
        if (in->p >= 1) { /* every source fires every step */
            for (uint32_t i = i0; i < i1; i++) v[i] += (float)in->n_sources * in->weight;
            continue;
        }
        for (uint32_t i = i0; i < i1; i++) {
            double u = ax__rand_u01(&p->rng[i]);
            if (u < cdf[0]) continue; /* no spike: the common case */
            uint32_t k = 1;
            while (k < nc - 1 && u >= cdf[k]) k++;
            v[i] += (float)k * in->weight;
        }
    }
    for (int q = 0; q < s->n_steps; q++) {
        const ax__snn_step *st = &s->steps[q];
        float sign;
        if (step == st->on_step) sign = 1;
        else if (step == st->off_step) sign = -1;
        else continue;
        ax__snn_pop *p = s->pop[st->pop];
        uint32_t i0, i1;
        if (!pop_range(p, glo, ghi, &i0, &i1)) continue;
        if (i0 < st->first) i0 = st->first;
        if (i1 > st->first + st->count) i1 = st->first + st->count;
        for (uint32_t i = i0; i < i1; i++) p->s[st->target][i] += sign * st->amount;
    }
}

/* thread 0, before its next update: spikes of `step` into the record */
static int record_step(ax_snn *s, run_ctx *c, int64_t step)
{
    const spike_slot *sl = &c->slot[step % c->hist];
    uint32_t tot = 0;
    for (int t = 0; t < c->T; t++) tot += sl->n[t];
    s->comp.spikes += tot;
    if (s->n_counts + 1 > s->cap_counts) {
        size_t nc = s->cap_counts ? 2 * s->cap_counts : 1024;
        uint32_t *q = realloc(s->pop_counts, nc * (size_t)s->n_pop * sizeof(uint32_t));
        if (!q) return ax__err(AX_E_NOMEM, "out of memory for the spike record");
        s->pop_counts = q;
        s->cap_counts = nc;
    }
    uint32_t *pc = s->pop_counts + s->n_counts * (size_t)s->n_pop;
    memset(pc, 0, (size_t)s->n_pop * sizeof(uint32_t));
    s->n_counts++;
    if (tot == 0) return AX_OK;
    if (s->rec_spikes && s->n_spk + tot > s->cap_spk) {
        size_t nc = s->cap_spk ? s->cap_spk : 4096;
        while (nc < s->n_spk + tot) nc *= 2;
        uint32_t *a = realloc(s->spk_step, nc * sizeof(uint32_t));
        if (a) s->spk_step = a;
        uint32_t *b = a ? realloc(s->spk_id, nc * sizeof(uint32_t)) : NULL;
        if (b) s->spk_id = b;
        if (!b) return ax__err(AX_E_NOMEM, "out of memory for %zu recorded spikes", s->n_spk + tot);
        s->cap_spk = nc;
    }
    int pi = 0;
    for (int t = 0; t < c->T; t++)
        for (uint32_t k = 0; k < sl->n[t]; k++) {
            uint32_t g = sl->ids[t][k];
            while (g >= s->pop[pi]->offset + s->pop[pi]->n) pi++;
            pc[pi]++;
            if (s->rec_spikes) {
                s->spk_step[s->n_spk] = (uint32_t)step;
                s->spk_id[s->n_spk++] = g;
            }
        }
    return AX_OK;
}

static void monitors(ax_snn *s, int64_t step, uint32_t glo, uint32_t ghi)
{
    for (int m = 0; m < s->n_mon; m++) {
        ax__snn_monitor *mo = &s->mon[m];
        if (step % mo->every) continue;
        const ax__snn_pop *p = s->pop[mo->pop];
        size_t at = mo->n_samples; /* thread 0 counts the sample after the step's barrier */
        for (size_t j = 0; j < mo->n; j++) {
            uint32_t g = p->offset + mo->idx[j];
            if (g >= glo && g < ghi) mo->data[at * mo->n + j] = p->s[mo->var][mo->idx[j]];
        }
    }
}

typedef struct {
    run_ctx *c;
    int tid;
    int rc;
    char err[512];
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    run_ctx *c = wa->c;
    ax_snn *s = c->s;
    int tid = wa->tid, sense = 0;
    uint32_t glo = c->glo[tid], ghi = c->glo[tid + 1];
    bool gaps = s->n_gap > 0;
    bool plastic = false;
    for (int i = 0; i < s->n_proj; i++) plastic |= s->proj[i]->plastic != NULL;
    for (int64_t step = c->step0; step < c->step1; step++) {
        spike_slot *sl = &c->slot[step % c->hist];
        if (tid == 0 && step > c->step0) {
            int rc = record_step(s, c, step - 1);
            if (rc) {
                wa->rc = rc;
                ax__err_copy(wa->err, sizeof wa->err);
                atomic_store(&c->stop, 1);
            }
            if (ax_interrupt_requested()) {
                wa->rc = ax__err(AX_E_INTERRUPTED, "simulation interrupted at %.1f ms", step * s->dt);
                ax__err_copy(wa->err, sizeof wa->err);
                atomic_store(&c->stop, 1);
            }
        }
        if (gaps) {
            gap_currents(s, glo, ghi);
            barrier_wait(&c->bar, &sense);
        }
        /* 1-2: update and threshold */
        uint32_t nsp = 0;
        uint32_t *out = sl->ids[tid];
        for (int pi = 0; pi < s->n_pop; pi++) {
            ax__snn_pop *p = s->pop[pi];
            uint32_t i0, i1;
            if (!pop_range(p, glo, ghi, &i0, &i1)) continue;
            uint32_t k = p->m->update(p, i0, i1, step, out + nsp);
            for (uint32_t j = 0; j < k; j++) out[nsp + j] += p->offset;
            nsp += k;
        }
        sl->n[tid] = nsp;
        barrier_wait(&c->bar, &sense);
        /* thread 0 raised the flag before this barrier, so every thread sees the same */
        if (atomic_load_explicit(&c->stop, memory_order_relaxed)) {
            if (tid == 0) c->done = step - c->step0;
            break;
        }
        /* 3: synapses and inputs */
        deliver_static(s, c, tid, step, sl);
        if (plastic) deliver_plastic(s, c, tid, step);
        apply_inputs(s, glo, ghi, step);
        /* 4: reset */
        for (int pi = 0, at = 0; pi < s->n_pop && at < (int)nsp; pi++) {
            ax__snn_pop *p = s->pop[pi];
            int b = at;
            while (b < (int)nsp && out[b] < p->offset + p->n) b++;
            if (b > at && p->m->reset) {
                uint32_t loc[256];
                for (int j = at; j < b;) {
                    int m = 0;
                    for (; j < b && m < 256; j++) loc[m++] = out[j] - p->offset;
                    p->m->reset(p, loc, (uint32_t)m, step);
                }
            }
            at = b;
        }
        if (plastic) plastic_post(s, c, tid, step, sl);
        monitors(s, step, glo, ghi);
        barrier_wait(&c->bar, &sense);
        if (tid == 0) {
            for (int m = 0; m < s->n_mon; m++)
                if (step % s->mon[m].every == 0)
                    s->mon[m].sample_step[s->mon[m].n_samples++] = (uint32_t)(step + 1);
        }
    }
    return NULL;
}

int ax_snn_run(ax_snn *s, double duration_ms, int n_threads)
{
    if (!s) return ax__err(AX_E_INVALID, "NULL network");
    if (!isfinite(duration_ms) || duration_ms < 0)
        return ax__err(AX_E_INVALID, "duration %g ms is not a time >= 0", duration_ms);
    if (s->n_pop == 0) return ax__err(AX_E_INVALID, "the network has no populations");
    int64_t nsteps = (int64_t)floor(duration_ms / s->dt + 0.5);
    if ((uint64_t)(s->step + nsteps) > UINT32_MAX)
        return ax__err(AX_E_RANGE, "%g ms is more than 2^32 steps of %g ms", duration_ms, s->dt);
    /* by default a thread per 1000 neurons at most: below that a step is a few
     * microseconds and the barriers cost more than the second core gives */
    int T = n_threads > 0 ? n_threads : ax_threads_get();
    if (n_threads <= 0 && (uint32_t)T > s->n_neurons / 1000) T = (int)(s->n_neurons / 1000);
    if (T > AX_SNN_MAX_THREADS) T = AX_SNN_MAX_THREADS;
    if ((uint32_t)T > s->n_neurons) T = (int)s->n_neurons;
    if (T < 1) T = 1;
    int rc;
    for (int i = 0; i < s->n_pop; i++) {
        ax__snn_pop *p = s->pop[i];
        p->refr_steps = 0;
        if ((rc = p->m->prepare(p, s->dt))) return rc;
    }
    if ((rc = ax__snn_build(s, T))) return rc;
    if (nsteps == 0) return AX_OK;

    run_ctx *c = ax__calloc(1, sizeof *c);
    if (!c) return ax__err(AX_E_NOMEM, "out of memory");
    c->s = s;
    c->T = T;
    c->step0 = s->step;
    c->step1 = s->step + nsteps;
    c->bar.n = T;
    int maxpd = 0;
    for (int i = 0; i < s->n_proj; i++)
        if (s->proj[i]->plastic && s->proj[i]->plastic->delay > maxpd) maxpd = s->proj[i]->plastic->delay;
    c->hist = maxpd + 2;
    for (int t = 0; t <= T; t++) c->glo[t] = (uint32_t)((uint64_t)s->n_neurons * (uint64_t)t / (uint64_t)T);
    rc = AX_OK;
    if (s->hist_slots && (s->hist_T != T || s->hist_n != c->hist)) {
        spike_slot *old = s->hist_slots;
        for (int h = 0; h < s->hist_n; h++)
            for (int t = 0; t < s->hist_T; t++) free(old[h].ids[t]);
        free(old);
        s->hist_slots = NULL;
    }
    if (!s->hist_slots) {
        spike_slot *sl = ax__calloc((size_t)c->hist, sizeof *sl);
        rc = sl ? AX_OK : ax__err(AX_E_NOMEM, "out of memory");
        for (int h = 0; h < c->hist && !rc; h++)
            for (int t = 0; t < T && !rc; t++) {
                uint32_t m = c->glo[t + 1] - c->glo[t];
                sl[h].ids[t] = ax__malloc_array(m ? m : 1, sizeof(uint32_t));
                if (!sl[h].ids[t]) rc = ax__err(AX_E_NOMEM, "out of memory");
            }
        s->hist_slots = sl;
        s->hist_T = T;
        s->hist_n = c->hist;
    }
    c->slot = s->hist_slots;
    /* monitors: room for every sample of this run */
    for (int m = 0; m < s->n_mon && !rc; m++) {
        ax__snn_monitor *mo = &s->mon[m];
        size_t need = mo->n_samples + (size_t)(nsteps / mo->every) + 2;
        if (need > mo->cap) {
            float *d = realloc(mo->data, need * mo->n * sizeof(float));
            if (d) mo->data = d;
            uint32_t *st = d ? realloc(mo->sample_step, need * sizeof(uint32_t)) : NULL;
            if (st) mo->sample_step = st;
            if (!st) rc = ax__err(AX_E_NOMEM, "state monitor: out of memory for %zu samples", need);
            else mo->cap = need;
        }
    }
    c->done = nsteps;
    double t0 = ax_time_now();
    worker_arg wa[AX_SNN_MAX_THREADS];
    pthread_t th[AX_SNN_MAX_THREADS];
    int started = 0;
    if (!rc) {
        memset(wa, 0, sizeof wa);
        for (int t = 0; t < T; t++) {
            wa[t].c = c;
            wa[t].tid = t;
        }
        for (int t = 1; t < T; t++) {
            if (pthread_create(&th[t], NULL, worker, &wa[t])) {
                /* fall back: run with the threads that started */
                break;
            }
            started++;
        }
        if (started != T - 1) {
            for (int t = 1; t <= started; t++) pthread_cancel(th[t]);
            rc = ax__err(AX_E_INTERNAL, "could not start %d simulation threads", T - 1);
        } else {
            worker(&wa[0]);
            for (int t = 1; t < T; t++) pthread_join(th[t], NULL);
            if (wa[0].rc) {
                ax__err_set_raw(wa[0].err);
                rc = wa[0].rc;
            }
        }
    }
    int64_t done = c->done;
    if (!rc && done > 0) rc = record_step(s, c, c->step0 + done - 1);
    double wall = ax_time_now() - t0;
    if (done > 0) {
        s->step += done;
        uint64_t ev = 0, pu = 0;
        for (int t = 0; t < T; t++) {
            ev += c->cnt[t].events;
            pu += c->cnt[t].plastic;
        }
        ax_snn_compute *cp = &s->comp;
        cp->steps += (uint64_t)done;
        cp->sim_ms = (double)s->step * s->dt;
        cp->wall_s += wall;
        cp->neurons = s->n_neurons;
        cp->neuron_updates += (uint64_t)done * s->n_neurons;
        cp->syn_events += ev;
        cp->plastic_updates += pu;
        for (int i = 0; i < s->n_pop; i++)
            cp->flops_neurons += (double)done * s->pop[i]->n * s->pop[i]->m->flops_update;
        double fpre = 1, fpost = 0;
        for (int i = 0; i < s->n_proj; i++)
            if (s->proj[i]->plastic) {
                if (s->proj[i]->plastic->flops_pre > fpre) fpre = s->proj[i]->plastic->flops_pre;
                fpost = s->proj[i]->plastic->flops_post;
            }
        cp->flops_synapses = (double)cp->syn_events * 1.0 + (double)cp->plastic_updates * (fpre > fpost ? fpre : fpost);
        cp->threads = T;
    }
    free(c);
    ax_snn_compute *cp = &s->comp;
    cp->events_per_s = cp->wall_s > 0 ? (double)cp->syn_events / cp->wall_s : 0;
    cp->real_time_factor = cp->wall_s > 0 ? cp->sim_ms * 1e-3 / cp->wall_s : 0;
    cp->mean_rate_hz = cp->sim_ms > 0 && s->n_neurons ? (double)cp->spikes / s->n_neurons / (cp->sim_ms * 1e-3) : 0;
    cp->peak_rss = ax_peak_rss_bytes();
    return rc;
}

void ax__snn_free_hist(ax_snn *s)
{
    spike_slot *sl = s->hist_slots;
    for (int h = 0; sl && h < s->hist_n; h++)
        for (int t = 0; t < s->hist_T; t++) free(sl[h].ids[t]);
    free(sl);
    s->hist_slots = NULL;
}

int ax_snn_get_compute(const ax_snn *s, ax_snn_compute *c)
{
    if (!s || !c) return ax__err(AX_E_INVALID, "NULL argument");
    *c = s->comp;
    c->peak_rss = ax_peak_rss_bytes();
    return AX_OK;
}

int ax_snn_spikes(const ax_snn *s, size_t *n, const uint32_t **step, const uint32_t **neuron)
{
    if (!s || !n) return ax__err(AX_E_INVALID, "NULL argument");
    *n = s->n_spk;
    if (step) *step = s->spk_step;
    if (neuron) *neuron = s->spk_id;
    return AX_OK;
}
