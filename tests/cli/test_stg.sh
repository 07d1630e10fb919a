#!/usr/bin/env bash
# test_stg.sh: `axon simulate CONFIG -o OUTDIR` on the Prinz 2004 pyloric network
# ({"circuit": "stg_pyloric"}, docs/stg.md): panels e (triphasic bursting) and a (LP tonic,
# AB/PD and PY silent) of Fig. 3 with their outputs (voltage.csv/.h5/.png, stg_stats.json,
# compute.json), model and synapse overrides, seeded noise, and bad configs failing with a
# message that names the key.
#
# Reference figures (numpy re-simulation, stats over 10-20 s): panel e period 1778 ms,
# LP onset phase 0.49, PY 0.57; panel a LP tonic at 19.5 Hz. Tolerance here: 10 %.
set -u
. "$(dirname "$0")/lib.sh" cli_stg

cfg() { echo "$2" >"$T/$1.json"; }
# value of a numeric JSON field (first match) in a file
field() { sed -n "s/.*\"$2\": *\([-0-9.e+]*\).*/\1/p" "$1" | head -1; }
within() { awk -v x="$1" -v r="$2" -v f="$3" 'BEGIN { exit !(x != "" && x >= r * (1 - f) && x <= r * (1 + f)) }'; }

# ---- panel e: triphasic
cfg e '{"circuit": "stg_pyloric", "panel": "e", "duration_ms": 20000, "dt_ms": 0.025,
        "sample_ms": 0.5, "noise_nA": 0, "seed": 1}'
expect 0 "simulate panel e" -- "$A" simulate "$T/e.json" -o "$T/e"
has "summary: period" "period [0-9.]* ms, triphasic"
has "summary: cell states" "LP    bursting"
has "summary: real-time factor" "x real time"
for f in voltage.csv voltage.h5 voltage.png stg_stats.json compute.json; do
  [ -s "$T/e/$f" ] && ok "panel e: $f" || bad "panel e: no $f"
done
ls -A "$T/e" | grep -q partial && bad "a partial file was left" || ok "no partial file left"
[ "$(head -1 "$T/e/voltage.csv")" = "t_ms,AB/PD,LP,PY" ] && ok "voltage.csv header" || bad "voltage.csv header: $(head -1 "$T/e/voltage.csv")"
rows=$(($(wc -l <"$T/e/voltage.csv") - 1))
[ "$rows" = 40001 ] && ok "voltage.csv: 40001 samples (20 s every 0.5 ms)" || bad "voltage.csv rows $rows"
[ "$(head -c 8 "$T/e/voltage.png" | od -An -c | tr -d ' ')" = "211PNG\r\n032\n" ] && ok "voltage.png is a PNG" || bad "voltage.png signature"
grep -q '"triphasic": true' "$T/e/stg_stats.json" && ok "stg_stats.json: triphasic" || bad "not triphasic: $(cat "$T/e/stg_stats.json")"
p=$(field "$T/e/stg_stats.json" period_ms)
within "$p" 1778 0.10 && ok "panel e period $p ms (1778 +- 10 %)" || bad "panel e period '$p'"
n=$(field "$T/e/compute.json" neuron_updates)
[ "$n" = 2400000 ] && ok "compute.json: 2400000 neuron updates" || bad "neuron_updates '$n'"
for k in flops_per_neuron_update total_flops wall_s real_time_factor synaptic_updates; do
  v=$(field "$T/e/compute.json" $k)
  awk -v x="$v" 'BEGIN { exit !(x > 0) }' && ok "compute.json: $k = $v" || bad "compute.json: $k '$v'"
done

# ---- panel a: LP tonic, the others silent; the output directory is made when missing
cfg a '{"circuit": "stg_pyloric", "panel": "a"}'
expect 0 "simulate panel a" -- "$A" simulate "$T/a.json" -o "$T/new/a"
has "summary: LP tonic" "LP    tonic"
has "summary: AB/PD silent" "AB/PD silent"
has "summary: PY silent" "PY    silent"
r=$(sed -n '/"LP"/,/}/p' "$T/new/a/stg_stats.json" | sed -n 's/.*"rate_hz": *\([0-9.]*\).*/\1/p')
within "$r" 19.5 0.05 && ok "panel a: LP at $r Hz (19.5 +- 5 %)" || bad "panel a LP rate '$r'"

# ---- overrides: models and synapses (no synapses: three isolated cells), noise by seed
cfg o '{"circuit": "stg_pyloric", "panel": "j", "models": {"abpd": 2, "py": 6},
        "g_syn_nS": [0, 0, 0, 0, 0, 0, 0], "duration_ms": 1000, "plot_ms": 300}'
expect 0 "models and g_syn_nS overrides" -- "$A" simulate "$T/o.json" -o "$T/o"
grep -q '"abpd": 2' "$T/o/stg_stats.json" && grep -q '"lp": 2' "$T/o/stg_stats.json" \
  && grep -q '"py": 6' "$T/o/stg_stats.json" && ok "models: AB/PD 2, LP 2 (panel j), PY 6" \
  || bad "models in stg_stats.json"
noise() { cfg "n$1" "{\"circuit\": \"stg_pyloric\", \"duration_ms\": 500, \"noise_nA\": 0.2, \"seed\": $2}"; }
noise 1 5; noise 2 5; noise 3 6
for k in 1 2 3; do "$A" simulate "$T/n$k.json" -o "$T/n$k" >/dev/null 2>&1 || bad "noise run $k"; done
cmp -s "$T/n1/voltage.csv" "$T/n2/voltage.csv" && ok "same seed, same trace" || bad "same seed, different traces"
cmp -s "$T/n1/voltage.csv" "$T/n3/voltage.csv" && bad "another seed, the same trace" || ok "another seed, another trace"

# ---- bad configs: non-zero exit, a message naming the key
bad_cfg() { # name, json, pattern the message must hold
  cfg "bad_$1" "$2"
  "$A" simulate "$T/bad_$1.json" -o "$T/bad_$1" >"$T/out" 2>&1
  local got=$?
  if [ "$got" -ne 0 ] && grep -q -- "$3" "$T/out"; then ok "bad config $1: exit $got, '$3'"
  else bad "bad config $1: exit $got, wanted != 0 and '$3' in:"; sed 's/^/     /' "$T/out" | tail -3; fi
  [ -e "$T/bad_$1/voltage.csv" ] && bad "bad config $1 wrote voltage.csv"
}
bad_cfg panel '{"circuit": "stg_pyloric", "panel": "k"}' "panel"
bad_cfg key '{"circuit": "stg_pyloric", "panel": "e", "speed": 2}' "unknown key 'speed'"
bad_cfg dt '{"circuit": "stg_pyloric", "dt_ms": -0.025}' "dt_ms"
bad_cfg dt0 '{"circuit": "stg_pyloric", "dt_ms": 0}' "dt_ms"
bad_cfg duration '{"circuit": "stg_pyloric", "duration_ms": "long"}' "duration_ms"
bad_cfg model '{"circuit": "stg_pyloric", "models": {"lp": 9}}' "models.lp"
bad_cfg model_key '{"circuit": "stg_pyloric", "models": {"ab": 1}}' "unknown key 'ab'"
bad_cfg gsyn '{"circuit": "stg_pyloric", "g_syn_nS": [1, 2, 3]}' "g_syn_nS"
bad_cfg gsyn_neg '{"circuit": "stg_pyloric", "g_syn_nS": [1, 2, 3, 4, 5, 6, -7]}' "g_syn_nS\[6\]"
bad_cfg seed '{"circuit": "stg_pyloric", "seed": -1}' "seed"
bad_cfg noise '{"circuit": "stg_pyloric", "noise_nA": -1}' "noise_nA"
bad_cfg sample '{"circuit": "stg_pyloric", "sample_ms": 0}' "sample_ms"
bad_cfg window '{"circuit": "stg_pyloric", "duration_ms": 1000, "stats_from_ms": 1000}' "stats_from_ms"

[ "$fails" -eq 0 ]
