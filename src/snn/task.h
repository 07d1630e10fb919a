/* task.h: a reward-learning task driven over a network with three-factor plasticity
 * (src/snn/task.c; docs/plasticity.md "The learning demo").
 *
 * K patterns, each a Poisson input population; K output populations, output k being the
 * right answer to pattern k. A trial presents one pattern (its input population at
 * rate_on_hz, the others at rate_off_hz) for trial_ms; the output populations' spikes are
 * counted; the trial is correct when the designated output fired strictly more than
 * every other. Then, with every input at rate_off_hz, the reward signal R (ax_snn_set_reward,
 * read by three_factor rules) is held at reward_correct / reward_wrong (minus the running
 * baseline of that pattern's reward when baseline_trials > 0) for reward_ms, and at 0 for
 * rest_ms. The learning curve records, per trial: the pattern, each output's spike count,
 * correct, the reward and R, and the mean weight of each logged plastic projection. */
#ifndef AX_SNN_TASK_H
#define AX_SNN_TASK_H

#include <stdio.h>

#include "snn/snn_int.h"

#define AX_TASK_MAX_PAT 8
#define AX_TASK_MAX_LOG 32

typedef struct ax__snn_task {
    int n_pat;                    /* patterns = input populations = output populations */
    int in_pop[AX_TASK_MAX_PAT];  /* model poisson: its "rate" state is set per trial */
    int out_pop[AX_TASK_MAX_PAT]; /* output k answers pattern k */
    int trials;
    double trial_ms, reward_ms, rest_ms;
    double rate_on_hz, rate_off_hz;
    double reward_correct, reward_wrong;
    double baseline_trials;       /* 0: R is the reward itself */
    uint64_t seed;                /* the pattern sequence (uniform random) */
    int n_log;                    /* projections whose mean weight is logged */
    int log_proj[AX_TASK_MAX_LOG];
} ax__snn_task;

typedef struct {
    int pattern, winner; /* winner: output with most spikes, -1 on a tie for the most */
    bool correct;
    double t_ms;         /* the trial's start */
    double reward, R;    /* reward earned, signal delivered (reward - baseline) */
    uint32_t count[AX_TASK_MAX_PAT];
} ax__snn_trial;

typedef struct ax__snn_task_curve {
    size_t n;
    int n_pat, n_log;
    char *out_name[AX_TASK_MAX_PAT];
    char *log_name[AX_TASK_MAX_LOG];
    ax__snn_trial *trial;
    double *mean_w; /* [n][n_log], after each trial's reward */
} ax__snn_task_curve;

/* Defaults for everything but the populations (trials 200, trial 100 ms, reward 50 ms,
 * rest 150 ms, 40 / 2 Hz, rewards +1 / -1, no baseline). */
AX_HIDDEN void ax__snn_task_defaults(ax__snn_task *t);

/* Parse a "task" JSON object (a json_t * from jansson) and check it against the network:
 *   "inputs":  ["inA", "inB"]    Poisson populations, one per pattern (required)
 *   "outputs": ["out0", "out1"]  output k answers pattern k; as many as inputs (required)
 *   "trials": 200, "trial_ms": 100, "reward_ms": 50, "rest_ms": 150,
 *   "rate_on_hz": 40, "rate_off_hz": 2,
 *   "reward_correct": 1, "reward_wrong": -1,
 *   "baseline_trials": 0         > 0: R = reward - running mean of the pattern's reward
 *                                (exponential, over about this many of its trials)
 *   "seed": 1                    the pattern sequence
 *   "log": ["inA_out0", ...]     projections whose mean weight goes into the curve
 *                                (default: every plastic projection, up to 32)
 * Errors name `where` (e.g. "net.json: task") and the key. */
AX_HIDDEN int ax__snn_task_from_json(ax_snn *s, const void *json_task, const char *where,
                                     ax__snn_task **out);
AX_HIDDEN void ax__snn_task_free(ax__snn_task *t);

/* Run the task's trials (continuing the network's time) with n_threads threads (0: the
 * library's count). Progress lines go to log (may be NULL). The learning curve into
 * *curve (may be NULL). The reward is 0 when it returns. */
AX_HIDDEN int ax__snn_task_run(ax_snn *s, const ax__snn_task *task, int n_threads, FILE *log,
                               ax__snn_task_curve **curve);
/* outdir/learning.csv (outdir created if missing; written atomically). Columns: trial,
 * t_ms, pattern, winner, correct, reward, R, spikes_<output>..., w_<projection>...,
 * accuracy_50 (fraction correct over the last 50 trials, this one included). */
AX_HIDDEN int ax__snn_task_write_csv(const ax__snn_task_curve *c, const char *outdir);
/* fraction of correct trials among [first, first + count) (clipped to the curve) */
AX_HIDDEN double ax__snn_task_accuracy(const ax__snn_task_curve *c, long first, long count);
AX_HIDDEN void ax__snn_task_curve_free(ax__snn_task_curve *c);

/* The whole "task" section of a config (s->task_json): parse, run, write
 * outdir/learning.csv, print a summary to log. For ax_snn_run_task. */
AX_HIDDEN int ax__snn_task_run_config(ax_snn *s, int n_threads, const char *outdir, FILE *log);

/* The demo of docs/plasticity.md, built in code: 2 patterns of 20 Poisson inputs, 2
 * outputs of 10 LIF neurons with mutual inhibition, three_factor all-to-all input ->
 * output projections "inA_out0", "inA_out1", "inB_out0", "inB_out1"; time step dt_ms.
 * The task has `trials` trials. */
AX_HIDDEN int ax__snn_task_demo(double dt_ms, int trials, uint64_t seed, ax_snn **s,
                                ax__snn_task **task);

#endif /* AX_SNN_TASK_H */
