#!/usr/bin/env bash
# test_simulate.sh: `axon simulate` and `axon brain-compute` from the command line: the
# outputs of a run, the C. elegans connectome's published counts, the synthetic fly-scale
# loader, and bad configs, each with an error naming the key or the file and line.
. "$(dirname "$0")/lib.sh" simulate
DATA=${AX_DATA:-../shared/data}

# --- COBA: every output, and what compute.json says -----------------------------------
expect 0 "COBA runs" -- "$A" simulate examples/snn/coba.json -o "$T/coba" --duration 300 --threads 2
has "the run prints the compute summary" "synaptic events"
has "the run prints bytes per synapse" "8.00 bytes each"
for f in spikes.csv rates.csv state.csv results.h5 raster.png rates.png traces.png compute.json; do
  [ -s "$T/coba/$f" ] && ok "wrote $f" || bad "no $f"
done
ls -a "$T/coba" | grep -q partial && bad "a temporary file was left" || ok "no temporary files left"
"${PYTHON:-/usr/bin/python3}" - "$T/coba" <<'EOF' && ok "compute.json is consistent" || bad "compute.json"
import json, sys
c = json.load(open(sys.argv[1] + "/compute.json"))
n = sum(1 for _ in open(sys.argv[1] + "/spikes.csv")) - 1
assert c["neurons"] == 4000 and c["steps"] == 3000, c
assert c["neuron_updates"] == 4000 * 3000
assert c["spikes"] == n, (c["spikes"], n)
assert c["synaptic_events"] > 0 and c["bytes_per_synapse"] == 8.0
# every E/I spike reaches its out-degree: events / spikes ~ 0.02 x 4000 = 80
assert 70 < c["synaptic_events"] / c["spikes"] < 90, c["synaptic_events"] / c["spikes"]
assert abs(c["flops_total"] - c["flops_neuron_updates"] - c["flops_synapses"]) < 1e-6 * c["flops_total"]
assert c["real_time_factor"] > 0 and c["wall_s"] > 0
EOF

# --- the C. elegans connectome: loads with the published counts --------------------------
sed "s#\"dir\": \"[^\"]*\"#\"dir\": \"$(cd "$DATA" && pwd)/connectomes/celegans\"#" examples/snn/celegans.json > "$T/worm.json"
expect 0 "C. elegans runs" -- "$A" simulate "$T/worm.json" -o "$T/worm" --duration 500
has "279 neurons in the graph" "connectome: 279 neurons"
has "6394 chemical synapses (Varshney: 6393) over 2194 pairs" "6394 chemical synapses over 2194 directed pairs"
has "890 gap junctions over 517 pairs" "890 gap junctions over 517 pairs"
[ -s "$T/worm/neurons.csv" ] && grep -q "^23,worm,23,ALML$" "$T/worm/neurons.csv" && ok "neurons.csv names the neurons" || bad "neurons.csv"

# --- the fly-scale loaders ----------------------------------------------------------------
cat > "$T/fly.json" <<EOF
{"duration_ms": 20, "network": {"type": "synthetic_flybrain", "neurons": 5000, "edges": 200000},
 "inputs": [{"type": "poisson", "pop": "brain", "first": 0, "count": 20, "target": "v", "rate_hz": 150, "weight": 68.75}]}
EOF
expect 0 "a small synthetic fly-scale network runs" -- "$A" simulate "$T/fly.json" -o "$T/fly"
has "its synapses are counted" "synapses: 200 k"
printf 'Presynaptic_ID,Postsynaptic_ID,Presynaptic_Index,Postsynaptic_Index,Connectivity,Excitatory,Excitatory x Connectivity\n7,8,0,1,30,1,30\n8,9,1,2,6,0,-6\n' > "$T/conn.csv"
cat > "$T/flywire.json" <<EOF
{"duration_ms": 10, "network": {"type": "flywire", "path": "conn.csv"}}
EOF
expect 0 "a FlyWire Connectivity_783 CSV loads" -- "$A" simulate "$T/flywire.json" -o "$T/flywire"
has "3 neurons from the indices" "3 neurons in 1 population"

# --- reward learning with a three-factor rule: the learning curve rises ---------------------
expect 0 "the reward-learning task runs" -- "$A" simulate examples/snn/reward_learning.json -o "$T/learn"
has "it reports the accuracy" "task: 400 trials, accuracy first 50"
for f in learning.csv learning.png weights.png results.h5; do
  [ -s "$T/learn/$f" ] && ok "task wrote $f" || bad "task: no $f"
done
"${PYTHON:-/usr/bin/python3}" - "$T/learn" <<'EOF' && ok "accuracy rises: last 50 trials beat the first 50 by > 0.2" || bad "no learning"
import csv, sys, h5py
rows = list(csv.DictReader(open(sys.argv[1] + "/learning.csv")))
first = sum(int(r["correct"]) for r in rows[:50]) / 50
last = sum(int(r["correct"]) for r in rows[-50:]) / 50
print(f"first {first:.2f} last {last:.2f}")
assert len(rows) == 400 and last > first + 0.2 and last >= 0.8, (first, last)
with h5py.File(sys.argv[1] + "/results.h5") as f:
    w = f["projections/inA_out0/weight"][:]
    assert len(w) == 200 and w.min() >= 0 and w.max() <= 4
EOF

# --- edge lists with a sign / transmitter column; the exported network holds the result --------
printf 'pre,post,count,nt\n0,1,5,ACh\n1,2,3,GABA\n2,0,2,glutamate\n0,2,1,-1\n' > "$T/signed.csv"
cat > "$T/signed.json" <<EOF
{"duration_ms": 1, "populations": [{"name": "A", "model": "lif", "size": 3}],
 "projections": [{"name": "x", "pre": "A", "post": "A", "target": "g", "weight": 0.5,
                  "connect": {"rule": "file", "path": "signed.csv", "weight_column": "count", "sign_column": "nt"}}]}
EOF
expect 0 "an edge list with a transmitter column loads" -- "$A" simulate "$T/signed.json" -o "$T/signed" --export-network "$T/signed.h5"
"${PYTHON:-/usr/bin/python3}" - "$T/signed.h5" <<'EOF' && ok "signs: GABA and glutamate inhibitory, ACh excitatory, numbers by their sign" || bad "edge signs"
import sys, h5py
g = h5py.File(sys.argv[1])["projections/x"]
got = sorted(zip(g["pre"][:].tolist(), g["post"][:].tolist(), g["weight"][:].tolist()))
assert got == [(0, 1, 2.5), (0, 2, -0.5), (1, 2, -1.5), (2, 0, -1.0)], got
EOF

# --- COBAHH (HH neurons) runs from its example --------------------------------------------------
expect 0 "COBAHH runs" -- "$A" simulate examples/snn/cobahh.json -o "$T/cobahh" --duration 100
has "COBAHH: HH neurons" "4000 neurons in 2 populations"

# --- Ctrl-C: exit 130, nothing written ------------------------------------------------------------
cat > "$T/long.json" <<EOF
{"duration_ms": 600000, "network": {"type": "synthetic_flybrain", "neurons": 20000, "edges": 400000}}
EOF
"$A" simulate "$T/long.json" -o "$T/long" > "$T/out" 2>&1 &
pid=$!
for i in $(seq 1 100); do grep -q "built from" "$T/out" && break; sleep 0.1; done
sleep 0.5
kill -INT $pid
wait $pid; st=$?
[ "$st" = 130 ] && ok "SIGINT stops a run with exit 130" || bad "SIGINT: exit $st"
has "the interruption is reported" "interrupted; nothing written"
[ -e "$T/long/spikes.csv" ] && bad "an interrupted run wrote results" || ok "an interrupted run writes no results"

# --- bad configs: exit 1 and a message naming the key or line -----------------------------
bad_cfg() { # description, expected text, config body
  printf '%s\n' "$3" > "$T/bad.json"
  expect 1 "$1 is refused" -- "$A" simulate "$T/bad.json" -o "$T/bad"
  has "$1: the message names it" "$2"
  [ -e "$T/bad/spikes.csv" ] && bad "$1: wrote output" || true
}
bad_cfg "an unknown model" "unknown model 'lif_foo'" \
  '{"populations": [{"name": "A", "model": "lif_foo", "size": 10}]}'
bad_cfg "a negative time constant" "tau_m = -20 must be > 0" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10, "params": {"tau_m": -20}}]}'
bad_cfg "an unknown parameter" "has no parameter 'tau_x'" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10, "params": {"tau_x": 1}}]}'
bad_cfg "an unknown key" "unknown key 'popul'" '{"popul": []}'
bad_cfg "a projection to a missing population" "projections\[0\].post: no population named 'B'" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10}], "projections": [{"pre": "A", "post": "B", "target": "g", "connect": {"rule": "one_to_one"}, "weight": 1}]}'
bad_cfg "a probability above 1" "p: 1.5 is not a probability" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10}], "projections": [{"pre": "A", "post": "A", "target": "g", "connect": {"rule": "random", "p": 1.5}, "weight": 1}]}'
bad_cfg "broken JSON" "bad.json:1:" '{"populations": [}'
bad_cfg "a negative delay" "delay -1 ms" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10}], "projections": [{"pre": "A", "post": "A", "target": "g", "connect": {"rule": "one_to_one"}, "weight": 1, "delay_ms": -1}]}'
printf 'pre,post,w\n0,1,0.5\n1,12,0.5\n' > "$T/edges_missing.csv"
bad_cfg "an edge list naming a missing neuron" "edges_missing.csv:3: edge 1 -> 12 names a neuron that does not exist" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10}], "projections": [{"pre": "A", "post": "A", "target": "g", "connect": {"rule": "file", "path": "edges_missing.csv", "weight_column": "w"}, "weight": 1}]}'
printf 'pre,post,w\n0,1,0.5\n1,2,nan\n' > "$T/edges_nan.csv"
bad_cfg "a NaN weight in an edge list" "edges_nan.csv:3: weight 'nan' is not a finite number" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10}], "projections": [{"pre": "A", "post": "A", "target": "g", "connect": {"rule": "file", "path": "edges_nan.csv", "weight_column": "w"}, "weight": 1}]}'
printf 'pre,post,nt\n0,1,\n' > "$T/edges_nosign.csv"
bad_cfg "an empty transmitter field" "edges_nosign.csv:2: empty sign/transmitter field" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10}], "projections": [{"pre": "A", "post": "A", "target": "g", "connect": {"rule": "file", "path": "edges_nosign.csv", "sign_column": "nt"}, "weight": 1}]}'
bad_cfg "a missing edge file" "cannot open" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10}], "projections": [{"pre": "A", "post": "A", "target": "g", "connect": {"rule": "file", "path": "nope.csv"}, "weight": 1}]}'
bad_cfg "a target the model lacks" "has no variable 'ge' to target" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10}], "projections": [{"pre": "A", "post": "A", "target": "ge", "connect": {"rule": "one_to_one"}, "weight": 1}]}'
bad_cfg "a task naming a missing population" "out9" \
  '{"populations": [{"name": "A", "model": "poisson", "size": 10}], "task": {"inputs": ["A"], "outputs": ["out9"]}}'
bad_cfg "a huge population" "is not a neuron count" '{"populations": [{"name": "A", "model": "lif", "size": 1e12}]}'
bad_cfg "a Poisson rate above 1/dt" "more than one spike per step" \
  '{"populations": [{"name": "A", "model": "lif", "size": 10}], "inputs": [{"type": "poisson", "pop": "A", "target": "v", "rate_hz": 20000, "weight": 1}]}'
expect 1 "a missing config is refused" -- "$A" simulate "$T/none.json" -o "$T/bad"
has "a missing config: named" "none.json"
expect 2 "no -o is a usage error" -- "$A" simulate examples/snn/coba.json

# --- brain-compute ----------------------------------------------------------------------------
expect 0 "brain-compute measures this machine" -- "$A" brain-compute --species fly
has "it measures the cost per event" "ns per event, .* ns per update; COBA 4000 neurons"
expect 0 "brain-compute with given costs" -- "$A" brain-compute --ns-per-event 5 --ns-per-update 2 --json "$T/bc.json"
has "it covers the human brain" "human: 8.6e+10 neurons"
has "it gives machines for real time" "machines like this one for real time"
"${PYTHON:-/usr/bin/python3}" - "$T/bc.json" <<'EOF' && ok "brain-compute's figures follow the formula" || bad "brain-compute figures"
import json, sys
b = json.load(open(sys.argv[1]))
rows = [r for r in b["rows"] if "flops_per_s" in r]
assert len(rows) == 3 * 4 * 3, len(rows)        # 3 species x 4 rates x 3 FLOPs/event
for r in rows:
    n, s = {"human": (8.6e10, 1.5e14), "mouse": (7.1e7, 1e11), "fly": (1.39e5, 5e7)}[r["species"]]
    want = s * r["rate_hz"] * r["flops_per_event"] + n * b["update_hz"] * b["flops_per_update"]
    assert abs(r["flops_per_s"] - want) <= 1e-9 * want, (r, want)
m = [r for r in b["rows"] if "machines_real_time" in r and r["species"] == "fly" and r["rate_hz"] == 1]
want = 5e7 * 1 * 5e-9 + 1.39e5 * 1e4 * 2e-9
assert abs(m[0]["machines_real_time"] - want) <= 1e-9 * want, (m, want)
EOF
expect 0 "brain-compute for given counts" -- "$A" brain-compute --neurons 1e6 --synapses 1e9 --rates 1 --flops-per-event 10 --ns-per-event 5 --ns-per-update 2
has "custom counts are used" "custom: 1e+06 neurons"
expect 2 "brain-compute with an unknown species" -- "$A" brain-compute --species cat

[ "$fails" -eq 0 ]
