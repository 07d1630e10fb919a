/* threadpool.c: one persistent pool of worker threads for the whole library.
 *
 * DESIGN: ax_parallel_for(n, fn, ctx) publishes one job; workers and the calling thread
 * take task indices from an atomic counter (dynamic scheduling: chunk decode costs vary
 * a lot), and the caller waits until every worker has left the job. One job runs at a
 * time; a parallel_for called from inside a task, or while another thread's job runs,
 * runs serially on its own thread instead of waiting (no deadlock, no oversubscription).
 * The first failing task stops new tasks and its error message travels to the caller.
 *
 * Why a pool and not OpenMP: the library must nest safely inside hosts (Python, MPI
 * ranks, the viewer server) and keep its thread count a runtime setting (AX_THREADS,
 * --threads); see docs/threading.md.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_int.h"

typedef struct job {
    ax_task_fn fn;
    void *ctx;
    int64_t n;
    atomic_int_fast64_t next;
    atomic_int err;
    char errmsg[1024];
    pthread_mutex_t errlock;
} job;

static struct {
    pthread_mutex_t lock;     /* guards the fields below */
    pthread_cond_t wake;      /* workers wait for a new generation */
    pthread_cond_t idle;      /* caller waits for busy == 0 */
    pthread_mutex_t submit;   /* one job at a time */
    pthread_t *threads;
    int nthreads; /* including the caller */
    int nworkers; /* started workers = nthreads - 1 */
    unsigned long generation;
    unsigned long start_generation; /* generation when the current workers were started */
    int busy;
    bool quit;
    job *cur;
    bool inited;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .idle = PTHREAD_COND_INITIALIZER,
       .submit = PTHREAD_MUTEX_INITIALIZER};

/* a lock-free atomic: safe to store from a signal handler */
static atomic_int g_stop;

void ax_interrupt(void) { atomic_store(&g_stop, 1); }
void ax_interrupt_clear(void) { atomic_store(&g_stop, 0); }
bool ax_interrupt_requested(void) { return atomic_load(&g_stop) != 0; }

static int run_one(ax_task_fn fn, void *ctx, int64_t i, int slot)
{
    if (atomic_load(&g_stop)) return ax__err(AX_E_INTERRUPTED, "interrupted");
    return fn(ctx, i, slot);
}

static _Thread_local bool tls_in_parallel;
static _Thread_local int tls_slot;

bool ax__in_parallel(void) { return tls_in_parallel; }

static void run_tasks(job *j, int slot)
{
    for (;;) {
        if (atomic_load(&j->err) != AX_OK) return;
        int64_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) return;
        int rc = run_one(j->fn, j->ctx, i, slot);
        if (rc < 0) {
            pthread_mutex_lock(&j->errlock);
            if (atomic_load(&j->err) == AX_OK) {
                ax__err_copy(j->errmsg, sizeof j->errmsg);
                atomic_store(&j->err, rc);
            }
            pthread_mutex_unlock(&j->errlock);
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    int slot = (int)(intptr_t)arg;
    tls_in_parallel = true;
    tls_slot = slot;
    pthread_mutex_lock(&P.lock);
    unsigned long seen = P.start_generation;
    for (;;) {
        while (!P.quit && P.generation == seen) pthread_cond_wait(&P.wake, &P.lock);
        if (P.quit) break;
        seen = P.generation;
        job *j = P.cur;
        pthread_mutex_unlock(&P.lock);
        run_tasks(j, slot);
        pthread_mutex_lock(&P.lock);
        if (--P.busy == 0) pthread_cond_signal(&P.idle);
    }
    pthread_mutex_unlock(&P.lock);
    return NULL;
}

static int default_threads(void)
{
    const char *e = getenv("AX_THREADS");
    if (e && *e) {
        char *end;
        long n = strtol(e, &end, 10);
        if (*end == 0 && n >= 1 && n <= 1024) return (int)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (int)(n > 1024 ? 1024 : n) : 1;
}

static void pool_stop(void)
{
    pthread_mutex_lock(&P.lock);
    P.quit = true;
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);
    for (int i = 0; i < P.nworkers; i++) pthread_join(P.threads[i], NULL);
    free(P.threads);
    P.threads = NULL;
    P.nworkers = 0;
    P.quit = false;
}

static void pool_exit(void)
{
    if (P.nworkers) pool_stop();
}

static int pool_start(int n)
{
    P.nthreads = n;
    P.nworkers = 0;
    if (n <= 1) return AX_OK;
    P.start_generation = P.generation; /* no job can be published before we return */
    P.threads = calloc((size_t)n - 1, sizeof *P.threads);
    if (!P.threads) return ax__err(AX_E_NOMEM, "thread pool: out of memory");
    for (int i = 1; i < n; i++) {
        if (pthread_create(&P.threads[i - 1], NULL, worker_main, (void *)(intptr_t)i) != 0)
            break;
        P.nworkers++;
    }
    P.nthreads = P.nworkers + 1; /* fewer if the OS refused some */
    return AX_OK;
}

static void ensure_init(void)
{
    if (P.inited) return;
    pthread_mutex_lock(&P.submit);
    if (!P.inited) {
        pool_start(default_threads());
        atexit(pool_exit);
        P.inited = true;
    }
    pthread_mutex_unlock(&P.submit);
}

int ax_threads_set(int n)
{
    if (n < 0 || n > 1024) return ax__err(AX_E_INVALID, "threads: %d is not in 0..1024", n);
    if (n == 0) n = default_threads();
    ensure_init();
    pthread_mutex_lock(&P.submit);
    int rc = AX_OK;
    if (n != P.nthreads) {
        if (P.nworkers) pool_stop();
        rc = pool_start(n);
    }
    pthread_mutex_unlock(&P.submit);
    return rc;
}

int ax_threads_get(void)
{
    ensure_init();
    return P.nthreads;
}

static int run_serial(int64_t n, ax_task_fn fn, void *ctx)
{
    int slot = tls_in_parallel ? tls_slot : 0;
    for (int64_t i = 0; i < n; i++) {
        int rc = run_one(fn, ctx, i, slot);
        if (rc < 0) return rc;
    }
    return AX_OK;
}

int ax_parallel_for(int64_t n, ax_task_fn fn, void *ctx)
{
    if (n <= 0) return AX_OK;
    ensure_init();
    if (n == 1 || tls_in_parallel || P.nworkers == 0) return run_serial(n, fn, ctx);
    if (pthread_mutex_trylock(&P.submit) != 0) return run_serial(n, fn, ctx);

    job j = {.fn = fn, .ctx = ctx, .n = n};
    atomic_init(&j.next, 0);
    atomic_init(&j.err, AX_OK);
    pthread_mutex_init(&j.errlock, NULL);

    pthread_mutex_lock(&P.lock);
    P.cur = &j;
    P.busy = P.nworkers;
    P.generation++;
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);

    tls_in_parallel = true;
    tls_slot = 0;
    run_tasks(&j, 0);
    tls_in_parallel = false;

    pthread_mutex_lock(&P.lock);
    while (P.busy > 0) pthread_cond_wait(&P.idle, &P.lock);
    P.cur = NULL;
    pthread_mutex_unlock(&P.lock);
    pthread_mutex_unlock(&P.submit);
    pthread_mutex_destroy(&j.errlock);

    int rc = atomic_load(&j.err);
    if (rc < 0) ax__err_set_raw(j.errmsg);
    return rc;
}
