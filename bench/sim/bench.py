#!/usr/bin/env python3
"""bench/sim: axon's spiking-network engine side by side with Brian2 2.5.1 (Debian
python3-brian), C++ standalone, in one run.

1. COBA (Brette 2007 benchmark 1, variant A), 1 s and 10 s simulated, the same exported
   connectivity and initial state in both: wall time per simulated second and synaptic
   events per second, 1 thread each and 2 threads each (Brian2: OpenMP).
2. Brunel 2000 with STDP (examples/snn/brunel_stdp.json) against Brian2 on the same
   connectivity (if the config exists).
3. The fly-scale synthetic connectome (138,639 neurons, 15.1 M synapses): bytes per
   synapse, peak memory, real-time factor.
4. ns and bytes per synaptic event next to this machine's memory bandwidth (numpy copy).

Timing: axon's own loop time (compute.json wall_s: the step loop, not loading or writing);
Brian2's own run time (device._last_run_time: the compiled loop, not code generation or
compilation). Each figure is the best of --repeat runs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def axon_run(axon, cfg, out, threads, duration=None, export=None):
    cmd = [axon, "simulate", cfg, "-o", out, "--threads", str(threads)]
    if duration is not None:
        cmd += ["--duration", str(duration)]
    if export:
        cmd += ["--export-network", export]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.load(open(os.path.join(out, "compute.json")))


def brian_run(net, duration, threads, builddir):
    r = subprocess.run([sys.executable, os.path.join(HERE, "brian2_net.py"), net, "--duration-ms", str(duration),
                        "--device", "cpp_standalone", "--threads", str(threads), "--builddir", builddir],
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def bandwidth():
    a = np.ones(64 * 1024 * 1024, dtype=np.float64)  # 512 MiB
    b = np.empty_like(a)
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t)
    nbytes = a.nbytes
    del a, b
    return 2 * nbytes / best  # read + write


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--axon", default="build/axon")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 s COBA only")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="axon-bench-sim-")
    rows = []
    net = os.path.join(tmp, "coba.h5")
    axon_run(a.axon, "examples/snn/coba.json", os.path.join(tmp, "export"), 1, 0, export=net)

    print("== COBA (Brette 2007 variant A), 4000 neurons, same connectivity and initial state")
    print(f"{'simulated':>9} {'threads':>7} | {'axon s/s':>9} {'Brian2 s/s':>10} | {'ratio':>6} | "
          f"{'axon ev/s':>10} {'Brian2 ev/s':>11} | rates (Hz)")
    durations = [1000] if a.quick else [1000, 10000]
    for dur in durations:
        for th in (1, 2):
            ax_best, b_best = None, None
            for k in range(a.repeat):
                c = axon_run(a.axon, "examples/snn/coba.json", os.path.join(tmp, f"ax{dur}_{th}"), th, dur)
                if ax_best is None or c["wall_s"] < ax_best["wall_s"]:
                    ax_best = c
                b = brian_run(net, dur, th, os.path.join(tmp, f"b2_{dur}_{th}"))
                if b_best is None or b["wall_s"] < b_best["wall_s"]:
                    b_best = b
            sa = ax_best["wall_s"] / (dur / 1000)
            sb = b_best["wall_s"] / (dur / 1000)
            eva = ax_best["synaptic_events"] / ax_best["wall_s"]
            evb = b_best["syn_events"] / b_best["wall_s"]
            print(f"{dur / 1000:>8.0f}s {th:>7} | {sa:>9.4f} {sb:>10.4f} | {sb / sa:>5.2f}x | {eva:>10.3g} {evb:>11.3g} | "
                  f"{ax_best['mean_rate_hz']:.1f} / {b_best['mean_rate_hz']:.1f}")
            rows.append({"bench": "coba", "sim_s": dur / 1000, "threads": th, "axon_s_per_s": sa,
                         "brian2_s_per_s": sb, "ratio": sb / sa, "axon_events_per_s": eva,
                         "brian2_events_per_s": evb})

    brunel = "examples/snn/brunel_stdp.json"
    if os.path.exists(brunel) and not a.quick:
        print("== Brunel 2000 with STDP (examples/snn/brunel_stdp.json)")
        bnet = os.path.join(tmp, "brunel.h5")
        axon_run(a.axon, brunel, os.path.join(tmp, "brunel_export"), 1, 0, export=bnet)
        cfgj = json.load(open(brunel))
        args = []
        for pj in cfgj["projections"]:
            pl = pj.get("plasticity")
            if pl and pl["rule"] == "stdp":
                q = pl["params"]
                args += ["--stdp", f"{pj['name']}:{q['A_plus']}:{q['A_minus']}:{q['tau_plus']}:{q['tau_minus']}:{q['w_max']}"]
        for i in cfgj["inputs"]:
            args += ["--poisson", f"{i['pop']}:{i['n_sources']}:{i['rate_hz']}:{i['weight']}:{i['target']}"]
        for th in (1, 2):
            ax_best, b_best = None, None
            for k in range(a.repeat):
                c = axon_run(a.axon, brunel, os.path.join(tmp, f"brunel{th}"), th)
                if ax_best is None or c["wall_s"] < ax_best["wall_s"]:
                    ax_best = c
                r = subprocess.run([sys.executable, os.path.join(HERE, "brian2_net.py"), bnet,
                                    "--duration-ms", str(c["simulated_ms"]), "--threads", str(th),
                                    "--builddir", os.path.join(tmp, f"b2brunel{th}")] + args,
                                   check=True, capture_output=True, text=True)
                b = json.loads(r.stdout.strip().splitlines()[-1])
                if b_best is None or b["wall_s"] < b_best["wall_s"]:
                    b_best = b
            T = ax_best["simulated_ms"] / 1000
            sa, sb = ax_best["wall_s"] / T, b_best["wall_s"] / T
            print(f"{th} thread{'s' if th > 1 else ''}: axon {sa:.3f} s per simulated s "
                  f"({ax_best['synaptic_events'] / ax_best['wall_s']:.3g} events/s, {ax_best['plastic_updates']:.3g} "
                  f"plastic updates, {ax_best['bytes_per_synapse']:.2f} bytes/synapse, {ax_best['mean_rate_hz']:.1f} Hz); "
                  f"Brian2 {sb:.3f} s ({b_best['mean_rate_hz']:.1f} Hz); ratio {sb / sa:.2f}x")
            rows.append({"bench": "brunel_stdp", "threads": th, "axon_s_per_s": sa, "brian2_s_per_s": sb,
                         "ratio": sb / sa})

    if not a.quick:
        print("== fly-scale synthetic connectome (138,639 neurons, 15.1 M synapses), Shiu 2024 protocol, 1 s")
        cfg = "examples/snn/flybrain_synthetic.json"
        t = time.time()
        c = axon_run(a.axon, cfg, os.path.join(tmp, "fly"), 2)
        print(f"bytes per synapse {c['bytes_per_synapse']:.2f} (+ {c['index_bytes_per_synapse']:.2f} row index), "
              f"synapse tables {c['synapse_table_bytes'] / 2**20:.1f} MiB, peak memory {c['peak_rss_bytes'] / 2**20:.0f} MiB")
        print(f"real-time factor {c['real_time_factor']:.3f} (loop {c['wall_s']:.2f} s; whole command {time.time() - t:.1f} s "
              f"with building the network); {c['neuron_updates']:.3g} neuron updates at "
              f"{c['wall_s'] * 1e9 / c['neuron_updates']:.2f} ns, {c['synaptic_events']:.3g} events, rate {c['mean_rate_hz']:.3f} Hz")
        rows.append({"bench": "fly", "bytes_per_synapse": c["bytes_per_synapse"], "rtf": c["real_time_factor"],
                     "peak_mib": c["peak_rss_bytes"] / 2**20})

    # the cost of an event against memory: a COBA run with all its time charged to events.
    # The bandwidth test goes last: Linux keeps a process's peak RSS across exec, so a big
    # numpy array here would show up as the peak memory of every axon run started after it
    c = axon_run(a.axon, "examples/snn/coba.json", os.path.join(tmp, "bw"), 1, 1000)
    bw = bandwidth()
    ns_ev = c["wall_s"] * 1e9 / c["synaptic_events"]
    bytes_ev = c["bytes_per_synapse"]
    print(f"== per synaptic event (COBA, 1 thread, all loop time charged to events): {ns_ev:.2f} ns and "
          f"{bytes_ev:.0f} bytes of synapse table read (+4 bytes read-modify-write of the target's input) -> "
          f"{(bytes_ev + 8) / ns_ev:.2f} GB/s; memory bandwidth (numpy copy) {bw / 1e9:.1f} GB/s; "
          f"{(bytes_ev + 8) / ns_ev / (bw / 1e9) * 100:.0f}% of it")
    json.dump(rows, open(os.path.join(tmp, "bench_sim.json"), "w"), indent=1)
    print(f"(results in {tmp}/bench_sim.json)")


if __name__ == "__main__":
    main()
