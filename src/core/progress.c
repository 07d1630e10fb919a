/* progress.c: a progress bar on stderr for long work, quiet when stderr is not a TTY.
 *
 * Any thread may add work done; whoever gets the draw lock (trylock, so workers never
 * wait on the terminal) redraws, at most every 100 ms. AX_PROGRESS=0/1 overrides the TTY
 * test (tests force it on to check the output; scripts force it off).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_int.h"

struct ax_progress {
    char label[64];
    int64_t total;
    atomic_int_fast64_t done;
    double t0, last_draw;
    bool enabled;
    pthread_mutex_t draw;
};

static struct {
    pthread_mutex_t lock;
    bool active, enabled;
    char label[32], stage[32];
    int n, cur;
    double w[16], wsum, before; /* `before`: weight of the stages finished */
    double t0, shown;          /* shown: the largest fraction drawn (never goes back) */
} g_pipe = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool progress_enabled(void)
{
    const char *e = getenv("AX_PROGRESS");
    if (e && *e) return strcmp(e, "0") != 0;
    return isatty(STDERR_FILENO);
}

ax_progress *ax_progress_new(const char *label, int64_t total)
{
    ax_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total > 0 ? total : 0;
    atomic_init(&p->done, 0);
    p->t0 = ax_time_now();
    p->last_draw = 0;
    p->enabled = progress_enabled();
    pthread_mutex_init(&p->draw, NULL);
    return p;
}

/* the pipeline's line, with the current stage at `frac` (step: what the stage is doing) */
static void draw_pipeline(double frac, const char *step)
{
    pthread_mutex_lock(&g_pipe.lock);
    double f = g_pipe.wsum > 0 ? (g_pipe.before + g_pipe.w[g_pipe.cur] * frac) / g_pipe.wsum : 0;
    if (f > 1) f = 1;
    if (f < g_pipe.shown) f = g_pipe.shown;
    g_pipe.shown = f;
    const int width = 30;
    int fill = (int)(f * width + 0.5);
    char bar[width + 1];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '-';
    bar[width] = 0;
    double t = ax_time_now() - g_pipe.t0, eta = f > 0.01 ? t * (1 - f) / f : 0;
    /* "agglomerate: write" under stage "agglomerate" shows as "agglomerate: write" once */
    size_t sn = strlen(g_pipe.stage);
    if (step && sn && !strncmp(step, g_pipe.stage, sn)) {
        step += sn;
        while (*step == ':' || *step == ' ') step++;
    }
    char what[96];
    snprintf(what, sizeof what, "[%d/%d %s%s%s]", g_pipe.cur + 1, g_pipe.n, g_pipe.stage, step && *step ? ": " : "",
             step ? step : "");
    fprintf(stderr, "\r\033[K%s %s [%s] %3.0f%%  %.0fs", g_pipe.label, what, bar, 100 * f, t);
    if (f > 0.01 && f < 1) fprintf(stderr, "  eta %.0fs", eta);
    fflush(stderr);
    pthread_mutex_unlock(&g_pipe.lock);
}

static void draw(ax_progress *p, int64_t done, bool final)
{
    double t = ax_time_now() - p->t0;
    double frac = p->total ? (double)done / (double)p->total : 0;
    if (frac > 1) frac = 1;
    if (g_pipe.active) {
        draw_pipeline(frac, p->label);
        if (final) { /* leave a clean line for what the stage prints next */
            fputs("\r\033[K", stderr);
            fflush(stderr);
        }
        return;
    }
    const int width = 30;
    int fill = (int)(frac * width + 0.5);
    char bar[width + 1];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '-';
    bar[width] = 0;
    double rate = t > 0 ? (double)done / t : 0;
    if (final)
        fprintf(stderr, "\r%-18s [%s] %3.0f%% %lld/%lld  %.1fs  %.1f/s\n", p->label, bar,
                100 * frac, (long long)done, (long long)p->total, t, rate);
    else {
        double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
        fprintf(stderr, "\r%-18s [%s] %3.0f%% %lld/%lld  eta %.0fs ", p->label, bar,
                100 * frac, (long long)done, (long long)p->total, eta);
    }
    fflush(stderr);
}

void ax_progress_add(ax_progress *p, int64_t n)
{
    if (!p) return;
    int64_t done = atomic_fetch_add(&p->done, n) + n;
    if (!p->enabled) return;
    if (pthread_mutex_trylock(&p->draw) != 0) return;
    double now = ax_time_now();
    if (now - p->last_draw >= 0.1) {
        p->last_draw = now;
        draw(p, done, false);
    }
    pthread_mutex_unlock(&p->draw);
}

void ax_progress_done(ax_progress *p)
{
    if (!p) return;
    if (p->enabled) {
        pthread_mutex_lock(&p->draw);
        draw(p, atomic_load(&p->done), true);
        pthread_mutex_unlock(&p->draw);
    }
    pthread_mutex_destroy(&p->draw);
    free(p);
}

void ax_progress_pipeline_begin(const char *label, int n_stages, const double *weights)
{
    pthread_mutex_lock(&g_pipe.lock);
    g_pipe.enabled = progress_enabled();
    g_pipe.active = g_pipe.enabled;
    snprintf(g_pipe.label, sizeof g_pipe.label, "%s", label ? label : "");
    g_pipe.n = n_stages < 1 ? 1 : n_stages > 16 ? 16 : n_stages;
    g_pipe.wsum = 0;
    for (int i = 0; i < g_pipe.n; i++) g_pipe.wsum += g_pipe.w[i] = weights && weights[i] > 0 ? weights[i] : 1;
    g_pipe.before = 0;
    g_pipe.cur = 0;
    g_pipe.stage[0] = 0;
    g_pipe.shown = 0;
    g_pipe.t0 = ax_time_now();
    pthread_mutex_unlock(&g_pipe.lock);
}

void ax_progress_pipeline_stage(int stage, const char *name)
{
    if (!g_pipe.active) return;
    pthread_mutex_lock(&g_pipe.lock);
    if (stage < 0) stage = 0;
    if (stage >= g_pipe.n) stage = g_pipe.n - 1;
    g_pipe.before = 0;
    for (int i = 0; i < stage; i++) g_pipe.before += g_pipe.w[i];
    g_pipe.cur = stage;
    snprintf(g_pipe.stage, sizeof g_pipe.stage, "%s", name ? name : "");
    pthread_mutex_unlock(&g_pipe.lock);
    fputs("\r\033[K", stderr); /* the caller may print a header for the stage next */
    fflush(stderr);
}

void ax_progress_pipeline_redraw(void)
{
    if (g_pipe.active) draw_pipeline(0, NULL);
}

void ax_progress_pipeline_end(bool completed)
{
    if (!g_pipe.active) return;
    if (!completed) { /* a failure: its message follows on a clean line */
        fputs("\r\033[K", stderr);
        fflush(stderr);
        g_pipe.active = false;
        return;
    }
    pthread_mutex_lock(&g_pipe.lock);
    g_pipe.before = g_pipe.wsum;
    g_pipe.cur = g_pipe.n - 1;
    snprintf(g_pipe.stage, sizeof g_pipe.stage, "done");
    pthread_mutex_unlock(&g_pipe.lock);
    draw_pipeline(1, NULL);
    fputc('\n', stderr);
    g_pipe.active = false;
}
