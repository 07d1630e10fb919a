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

static void draw(ax_progress *p, int64_t done, bool final)
{
    double t = ax_time_now() - p->t0;
    double frac = p->total ? (double)done / (double)p->total : 0;
    if (frac > 1) frac = 1;
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
