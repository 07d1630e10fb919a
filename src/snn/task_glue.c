/* task_glue.c: ax_snn_run_task (placeholder until the task driver lands). */
#include "snn/snn_int.h"

int ax_snn_run_task(ax_snn *s, int n_threads, const char *outdir, FILE *log)
{
    (void)s, (void)n_threads, (void)outdir, (void)log;
    return ax__err(AX_E_UNSUPPORTED, "learning tasks are not built yet");
}
