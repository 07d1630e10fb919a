/* axon/core.h: threads, CPU features and SIMD dispatch, progress, memory figures.
 *
 * Threads: one persistent pool per process, sized from AX_THREADS (default: online CPUs).
 * ax_parallel_for() hands tasks out dynamically (an atomic counter), the calling thread
 * takes part, and a call made from inside a pool task runs serially on that thread, so
 * nesting is safe. Thread-safety: ax_threads_set() must not race with a running
 * ax_parallel_for(); everything else here is thread-safe.
 */
#ifndef AXON_CORE_H
#define AXON_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- threads ---------------------------------------------------------------------- */

/* Set the number of threads (>= 1) used by the library. 0 means "default" (AX_THREADS,
 * else the number of online CPUs). Returns AX_E_INVALID for n < 0. */
AX_API int ax_threads_set(int n);
/* Number of threads the pool runs with (the caller included). */
AX_API int ax_threads_get(void);

/* Task callback: do task i on thread slot `thread` (0 <= thread < ax_threads_get()).
 * Return AX_OK or an AX_E_* code; the first failure stops new tasks being handed out. */
typedef int (*ax_task_fn)(void *ctx, int64_t i, int thread);

/* Run fn(ctx, i, thread) for i in [0, n). Returns the first failure's code (and its message
 * becomes this thread's ax_errmsg()), or AX_OK. */
AX_API int ax_parallel_for(int64_t n, ax_task_fn fn, void *ctx);

/* Ask running library work to stop: ax_parallel_for() hands out no further tasks and
 * returns AX_E_INTERRUPTED, so block-wise operations (convert, cc, watershed, ...) stop
 * between blocks and fail cleanly (their outputs are not committed). Async-signal-safe:
 * meant for a SIGINT handler. The request holds until ax_interrupt_clear(). */
AX_API void ax_interrupt(void);
AX_API void ax_interrupt_clear(void);
AX_API bool ax_interrupt_requested(void);

/* ---- CPU features and SIMD dispatch ----------------------------------------------- */

enum ax_cpu_feature {
    AX_CPU_SSE42 = 1u << 0,
    AX_CPU_AVX = 1u << 1,
    AX_CPU_AVX2 = 1u << 2,
    AX_CPU_FMA = 1u << 3,
    AX_CPU_AVX512F = 1u << 4
};

/* Bit set of ax_cpu_feature detected at run time. */
AX_API uint32_t ax_cpu_features(void);

/* Name of the kernel table in use: "avx2" or "generic". The choice is made once, from
 * the CPU and the AX_SIMD environment variable (AX_SIMD=generic forces the fallback). */
AX_API const char *ax_simd_name(void);

/* Force a kernel table by name ("generic", "avx2", "auto"). AX_E_UNSUPPORTED if the CPU
 * lacks it, AX_E_INVALID for an unknown name. Not to be called while kernels run. */
AX_API int ax_simd_set(const char *name);

/* ---- progress --------------------------------------------------------------------- */

typedef struct ax_progress ax_progress;

/* Start a progress display for `total` units of work labelled `label` (copied).
 * It draws a bar on stderr when stderr is a terminal and stays quiet otherwise;
 * AX_PROGRESS=1 forces it on, AX_PROGRESS=0 off. Returns NULL on OOM (all functions
 * accept NULL). */
AX_API ax_progress *ax_progress_new(const char *label, int64_t total);
/* Add n units done. Thread-safe; redraws at most ~10 times a second. */
AX_API void ax_progress_add(ax_progress *p, int64_t n);
/* Final redraw with the elapsed time and rate, then free. */
AX_API void ax_progress_done(ax_progress *p);

/* One display for a job of n_stages stages (at most 16) with relative costs `weights`
 * (NULL: equal): while it is on, every ax_progress draws into a single line showing the
 * whole job's share done, the stage, its step and an ETA; messages printed between
 * stages land above it. Call _stage when a stage starts (it clears the line so a header
 * can be printed), _redraw after printing one, _end when the job is done (completed: draw
 * 100%; else just clear the line for an error message). Not thread-safe
 * against itself: one pipeline at a time, driven from one thread. */
AX_API void ax_progress_pipeline_begin(const char *label, int n_stages, const double *weights);
AX_API void ax_progress_pipeline_stage(int stage, const char *name);
AX_API void ax_progress_pipeline_redraw(void);
AX_API void ax_progress_pipeline_end(bool completed);

/* ---- memory and time -------------------------------------------------------------- */

/* Peak resident set size of this process in bytes (getrusage), 0 if unknown. */
AX_API uint64_t ax_peak_rss_bytes(void);
/* Monotonic clock in seconds. */
AX_API double ax_time_now(void);

#ifdef __cplusplus
}
#endif
#endif /* AXON_CORE_H */
