/* task_glue.c: ax_snn_run_task, the public face of the learning-task driver (task.c). */
#include "snn/snn_int.h"
#include "snn/task.h"

int ax_snn_run_task(ax_snn *s, int n_threads, const char *outdir, FILE *log)
{
    if (!s || !outdir) return ax__err(AX_E_INVALID, "ax_snn_run_task: NULL argument");
    if (!s->task_json) return ax__err(AX_E_INVALID, "the network has no task");
    return ax__snn_task_run_config(s, n_threads, outdir, log);
}
