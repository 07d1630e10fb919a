/* cmd_stg.h: `axon simulate` for the STG pyloric circuit (Prinz et al. 2004), see
 * cmd_stg.c and docs/stg.md. */
#ifndef AXON_TOOLS_CMD_STG_H
#define AXON_TOOLS_CMD_STG_H

/* Run the circuit a config describes and write its outputs into outdir (created if
 * missing): voltage.csv, voltage.h5, voltage.png, stg_stats.json, compute.json, each
 * written under a temporary name and renamed into place. json_root is the whole config
 * (a jansson json_t *, borrowed), config_path only names it in messages. The config:
 *   {"circuit": "stg_pyloric",     required
 *    "panel": "e",                 Prinz 2004 Fig. 3 panel a-j (default "e")
 *    "models": {"abpd": 2, "lp": 4, "py": 1},   overrides the panel's models (any subset)
 *    "g_syn_nS": [7 numbers],      overrides the panel's synapses, nS, order AB->LP,
 *                                  PD->LP, AB->PY, PD->PY, LP->AB/PD, LP->PY, PY->LP
 *    "duration_ms": 20000, "dt_ms": 0.025, "sample_ms": 0.5 (trace sampling),
 *    "noise_nA": 0, "seed": 1, "v0_mV": -50,
 *    "stats_from_ms": 10000 (default: half the duration),
 *    "plot_ms": 5000 (the last plot_ms of the run go into voltage.png)}
 * An unknown key, a value of the wrong type or out of range is an error naming the key.
 * Prints a summary on stdout and errors on stderr ("axon: error: ..."). Returns a process
 * exit status: 0 done, 1 error (bad config or failed write), 130 interrupted. */
int cmd_simulate_stg(const char *config_path, void *json_root, const char *outdir);

#endif /* AXON_TOOLS_CMD_STG_H */
