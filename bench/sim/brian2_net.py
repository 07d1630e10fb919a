"""Run a network exported by `axon simulate --export-network NET.h5` in Brian2 2.5.1.

The same neurons, parameters, initial state and synapses (weights and delays), so the
two simulators can be compared on identical connectivity. Supports the models the
benchmarks use: lif_coba (Brette 2007 COBA) and lif (Shiu 2024 form). Poisson inputs are
not exported; the COBA benchmark has none.

    brian2_net.py NET.h5 --duration-ms 1000 --device cpp_standalone|runtime|numpy
                  [--threads N] [--out spikes.npz] [--method exponential_euler]

Prints one JSON line: wall time of the simulation loop (Brian2's own run time for
cpp_standalone, excluding code generation and compilation), spikes, synaptic events.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("net")
    ap.add_argument("--duration-ms", type=float, default=1000)
    ap.add_argument("--device", default="cpp_standalone")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--method", default="exponential_euler")
    ap.add_argument("--out", default=None)
    ap.add_argument("--builddir", default=None)
    ap.add_argument("--stdp", action="append", default=[],
                    help="PROJ:A_plus:A_minus:tau_plus:tau_minus:w_max  additive pair STDP as axon's stdp rule")
    ap.add_argument("--poisson", action="append", default=[],
                    help="POP:N:rate_hz:weight:target  a PoissonInput (weight in the target's units)")
    a = ap.parse_args()

    import brian2 as b2
    from brian2 import ms, mV, Hz
    b2.prefs.logging.console_log_level = "WARNING"
    builddir = a.builddir or tempfile.mkdtemp(prefix="brian2-axon-")
    if a.device == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=builddir, build_on_run=False)
        if a.threads > 1:
            b2.prefs.devices.cpp_standalone.openmp_threads = a.threads
    elif a.device == "numpy":
        b2.prefs.codegen.target = "numpy"
    else:
        b2.prefs.codegen.target = "cython"

    f = h5py.File(a.net, "r")
    dt = float(f.attrs["dt_ms"])
    b2.defaultclock.dt = dt * ms
    groups = {}
    pops = sorted(f["populations"].keys(), key=lambda k: f["populations"][k].attrs["offset"])
    for name in pops:
        g = f["populations"][name]
        model = g.attrs["model"].decode() if isinstance(g.attrs["model"], bytes) else g.attrs["model"]
        n = int(g.attrs["size"])
        P = {k: float(g.attrs[k]) for k in g.attrs if k not in ("model", "offset", "size")}
        if model == "lif_coba":
            eqs = """
            dv/dt = (ge*(E_e - v) + gi*(E_i - v) + (v_rest - v) + I_e) / tau_m : volt (unless refractory)
            dge/dt = -ge / tau_e : 1
            dgi/dt = -gi / tau_i : 1
            I_e : volt
            """
            ns = dict(E_e=P["E_e"] * mV, E_i=P["E_i"] * mV, v_rest=P["v_rest"] * mV, tau_m=P["tau_m"] * ms,
                      tau_e=P["tau_e"] * ms, tau_i=P["tau_i"] * ms, v_th=P["v_th"] * mV, v_reset=P["v_reset"] * mV)
            G = b2.NeuronGroup(n, eqs, threshold="v > v_th", reset="v = v_reset", refractory=P["refractory"] * ms,
                               method=a.method, namespace=ns, name="pop_" + name)
            G.v = g["v"][:].astype(float) * mV
            G.ge = g["ge"][:].astype(float)
            G.gi = g["gi"][:].astype(float)
            G.I_e = g["I_e"][:].astype(float) * mV
        elif model == "lif":
            eqs = """
            dv/dt = (v_rest - v + g + I_e) / tau_m : volt (unless refractory)
            dg/dt = -g / tau_syn : volt (unless refractory)
            I_e : volt
            """
            ns = dict(v_rest=P["v_rest"] * mV, tau_m=P["tau_m"] * ms, tau_syn=P["tau_syn"] * ms,
                      v_th=P["v_th"] * mV, v_reset=P["v_reset"] * mV)
            G = b2.NeuronGroup(n, eqs, threshold="v > v_th", reset="v = v_reset; g = 0*mV",
                               refractory=P["refractory"] * ms, method="exact", namespace=ns, name="pop_" + name)
            G.v = g["v"][:].astype(float) * mV
            G.g = g["g"][:].astype(float) * mV
            G.I_e = g["I_e"][:].astype(float) * mV
        else:
            sys.exit(f"brian2_net.py: model {model} is not supported here")
        groups[name] = (G, model)

    syns = []
    n_syn = 0
    for pname in f["projections"]:
        p = f["projections"][pname]
        pre = p.attrs["pre"].decode() if isinstance(p.attrs["pre"], bytes) else p.attrs["pre"]
        post = p.attrs["post"].decode() if isinstance(p.attrs["post"], bytes) else p.attrs["post"]
        tgt = p.attrs["target"].decode() if isinstance(p.attrs["target"], bytes) else p.attrs["target"]
        i, j = p["pre"][:].astype(np.int64), p["post"][:].astype(np.int64)
        wts, d = p["weight"][:].astype(float), p["delay_ms"][:].astype(float)
        Gpost, model = groups[post]
        unit = "mV" if tgt in ("v", "g", "I_e") else ""
        homo = len(d) == 0 or np.all(d == d[0])
        stdp = [x.split(":") for x in a.stdp if x.split(":")[0] == pname]
        add = f"{tgt}_post += w{'*' + unit if unit else ''}"
        if stdp:
            _, Ap, Am, tp, tm, wmax = stdp[0]
            model = ("w : 1\n dapre/dt = -apre / (%s*ms) : 1 (event-driven)\n"
                     " dapost/dt = -apost / (%s*ms) : 1 (event-driven)" % (tp, tm))
            on_pre = f"{add}\napre += 1\nw = clip(w - {Am} * apost, 0, {wmax})"
            on_post = f"apost += 1\nw = clip(w + {Ap} * apre, 0, {wmax})"
            S = b2.Synapses(groups[pre][0], Gpost, model, on_pre=on_pre, on_post=on_post,
                            delay=(float(d[0]) * ms if (homo and len(d)) else None), name="syn_" + str(len(syns)))
        else:
            S = b2.Synapses(groups[pre][0], Gpost, "w : 1", on_pre=add,
                            delay=(float(d[0]) * ms if (homo and len(d)) else None), name="syn_" + str(len(syns)))
        S.connect(i=i, j=j)
        S.w = wts
        if not homo:
            S.delay = d * ms
        syns.append(S)
        n_syn += len(i)
    inputs = []
    for x in a.poisson:
        pop, N, rate, wt, tgt = x.split(":")
        unit = mV if tgt in ("v", "g", "I_e") else 1
        inputs.append(b2.PoissonInput(groups[pop][0], tgt, int(N), float(rate) * Hz, float(wt) * unit))
    mons = {name: b2.SpikeMonitor(groups[name][0], name="mon_" + name) for name in groups}
    net = b2.Network()
    net.add(list(g[0] for g in groups.values()), syns, list(mons.values()), inputs)
    t0 = time.time()
    net.run(a.duration_ms * ms)
    if a.device == "cpp_standalone":
        b2.device.build(directory=builddir, compile=True, run=True, debug=False)
        wall = float(b2.device._last_run_time)
    else:
        wall = time.time() - t0
    total = 0
    out = {}
    offs = {name: int(f["populations"][name].attrs["offset"]) for name in pops}
    ids, ts = [], []
    for name, m in mons.items():
        ii = np.asarray(m.i[:]) + offs[name]
        tt = np.asarray(m.t[:] / ms)
        ids.append(ii)
        ts.append(tt)
        total += len(ii)
    ids = np.concatenate(ids) if ids else np.zeros(0)
    ts = np.concatenate(ts) if ts else np.zeros(0)
    # synaptic events: spikes x out-degree
    events = 0
    outdeg = {}
    for pname in f["projections"]:
        p = f["projections"][pname]
        pre = p.attrs["pre"].decode() if isinstance(p.attrs["pre"], bytes) else p.attrs["pre"]
        cnt = np.bincount(p["pre"][:], minlength=int(f["populations"][pre].attrs["size"]))
        outdeg.setdefault(pre, np.zeros_like(cnt))
        outdeg[pre] = outdeg[pre] + cnt
    for name, m in mons.items():
        if name in outdeg:
            events += int(outdeg[name][np.asarray(m.i[:])].sum())
    if a.out:
        extra = {}
        for S in syns:
            if "apre" in S.variables:
                extra["w_" + S.name] = np.asarray(S.w[:])
        np.savez(a.out, t_ms=ts, neuron=ids, **extra)
    n_neurons = sum(int(f["populations"][k].attrs["size"]) for k in pops)
    print(json.dumps({"simulator": "brian2 " + b2.__version__, "device": a.device, "threads": a.threads,
                      "method": a.method, "wall_s": wall, "sim_ms": a.duration_ms, "spikes": int(total),
                      "synapses": n_syn, "syn_events": events,
                      "mean_rate_hz": total / n_neurons / (a.duration_ms * 1e-3)}))


if __name__ == "__main__":
    main()
