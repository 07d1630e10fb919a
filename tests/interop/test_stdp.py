#!/usr/bin/env python3
"""Plasticity against Brian2 (python3-brian 2.5.1, numpy code generation): the same small
network, 50 Poisson inputs (spike times drawn here, fed to both as spike generators)
onto 4 LIF neurons, all-to-all plastic synapses onto g, run for 4 s, in three versions:

- stdp, additive: Brian2's classic STDP example (Song, Miller & Abbott 2000):
    on_pre:  g += w; Apre += dApre; w = clip(w + Apost, 0, wmax)
    on_post: Apost += dApost; w = clip(w + Apre, 0, wmax)
- stdp, multiplicative (soft bounds): Apost scaled by (w - wmin), Apre by (wmax - w);
- triplet (Pfister & Gerstner 2006, all-to-all), with the trace updates after the weight
  updates (so r2 and o2 enter before their own spike's increment).
axon runs the same through libaxon's public API (ctypes) with rules stdp (mode 0 / 1) and
triplet. The LIF model is axon's "lif" with g neither held nor reset
(hold_g_refractory = reset_g = 0): dv/dt = (v_rest - v + g) / tau_m (unless refractory),
dg/dt = -g / tau_syn, integrated exactly by both.

Checks: the output spike trains are identical and the final weights agree to 1e-5.
axon keeps v and w in float32, Brian2 in float64: where Brian2's v lands within 1e-4 mV
of the threshold (it happens: -44.9999996 mV against -45 in one of these runs) float32
cannot tell, the spike moves by a step and that neuron's weights part ways. Such a neuron
is reported, checked to have diverged only at such a step, and left out of the weight
comparison (at least 3 of the 4 neurons must match).
Run: BUILD=build /usr/bin/python3 tests/interop/test_stdp.py
"""
import ctypes as C
import os
import sys

import numpy as np

BUILD = os.environ.get("BUILD", "build")
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


DT = 0.1          # ms
T_MS = 4000.0
N_IN, N_OUT = 50, 4
RATE = 20.0       # Hz
V_REST, V_RESET, V_TH = -52.0, -60.0, -45.0
TAU_M, TAU_SYN, REFR = 20.0, 5.0, 2.0
WMAX = 3.0


def inputs(seed=3):
    rng = np.random.default_rng(seed)
    steps = int(round(T_MS / DT))
    spikes = rng.random((steps, N_IN)) < RATE * DT * 1e-3
    spikes[:10] = False
    st, ni = np.nonzero(spikes)
    w0 = rng.uniform(1.0, 2.0, size=(N_IN, N_OUT))
    return st.astype(np.int64), ni.astype(np.uint32), w0


# ---- axon --------------------------------------------------------------------------------


def load():
    lib = C.CDLL(os.path.abspath(os.path.join(BUILD, "libaxon.so")))
    vp, u32p, f32p, f64p = C.c_void_p, C.POINTER(C.c_uint32), C.POINTER(C.c_float), C.POINTER(C.c_double)
    lib.ax_snn_new.argtypes = [C.c_double, C.c_uint64, C.POINTER(vp)]
    lib.ax_snn_free.argtypes = [vp]
    lib.ax_snn_free.restype = None
    lib.ax_snn_add_population.argtypes = [vp, C.c_char_p, C.c_char_p, C.c_uint32, C.POINTER(C.c_int)]
    lib.ax_snn_set_param.argtypes = [vp, C.c_int, C.c_char_p, C.c_double]
    lib.ax_snn_set_spike_times.argtypes = [vp, C.c_int, C.c_size_t, u32p, f64p]
    lib.ax_snn_connect.argtypes = [vp, C.c_char_p, C.c_int, C.c_int, C.c_char_p, C.c_size_t, u32p, u32p,
                                   f32p, f32p, C.c_double]
    lib.ax_snn_set_plasticity.argtypes = [vp, C.c_char_p, C.c_char_p, C.c_int, C.POINTER(C.c_char_p), f64p]
    lib.ax_snn_run.argtypes = [vp, C.c_double, C.c_int]
    lib.ax_snn_get_synapses.argtypes = [vp, C.c_char_p, C.POINTER(C.c_size_t), C.POINTER(u32p),
                                        C.POINTER(u32p), C.POINTER(f32p), C.POINTER(f32p)]
    lib.ax_snn_spikes.argtypes = [vp, C.POINTER(C.c_size_t), C.POINTER(u32p), C.POINTER(u32p)]
    lib.ax_errmsg.restype = C.c_char_p
    return lib


def ok(lib, rc, what):
    if rc != 0:
        raise RuntimeError("%s: %s" % (what, lib.ax_errmsg().decode()))


def run_axon(lib, rule, params, st, ni, w0, threads=2):
    s = C.c_void_p()
    ok(lib, lib.ax_snn_new(DT, 1, C.byref(s)), "new")
    pin, pout = C.c_int(), C.c_int()
    ok(lib, lib.ax_snn_add_population(s, b"in", b"spike_generator", N_IN, C.byref(pin)), "pop")
    ok(lib, lib.ax_snn_add_population(s, b"out", b"lif", N_OUT, C.byref(pout)), "pop")
    for k, v in [("v_rest", V_REST), ("v_reset", V_RESET), ("v_th", V_TH), ("tau_m", TAU_M),
                 ("tau_syn", TAU_SYN), ("refractory", REFR), ("hold_g_refractory", 0), ("reset_g", 0)]:
        ok(lib, lib.ax_snn_set_param(s, pout, k.encode(), v), k)
    t = (st * DT).astype(np.float64)
    ok(lib, lib.ax_snn_set_spike_times(s, pin, len(t), ni.ctypes.data_as(C.POINTER(C.c_uint32)),
                                       t.ctypes.data_as(C.POINTER(C.c_double))), "spike times")
    pre, post = np.meshgrid(np.arange(N_IN, dtype=np.uint32), np.arange(N_OUT, dtype=np.uint32), indexing="ij")
    pre, post = pre.ravel().copy(), post.ravel().copy()
    w = w0.ravel().astype(np.float32)
    ok(lib, lib.ax_snn_connect(s, b"syn", pin, pout, b"g", len(w), pre.ctypes.data_as(C.POINTER(C.c_uint32)),
                               post.ctypes.data_as(C.POINTER(C.c_uint32)), w.ctypes.data_as(C.POINTER(C.c_float)),
                               None, 0.0), "connect")
    names = (C.c_char_p * len(params))(*[k.encode() for k in params])
    vals = (C.c_double * len(params))(*params.values())
    ok(lib, lib.ax_snn_set_plasticity(s, b"syn", rule.encode(), len(params), names, vals), "plasticity")
    ok(lib, lib.ax_snn_run(s, T_MS, threads), "run")
    n = C.c_size_t()
    a, b, ww = C.POINTER(C.c_uint32)(), C.POINTER(C.c_uint32)(), C.POINTER(C.c_float)()
    ok(lib, lib.ax_snn_get_synapses(s, b"syn", C.byref(n), C.byref(a), C.byref(b), C.byref(ww), None), "synapses")
    W = np.zeros((N_IN, N_OUT))
    for k in range(n.value):
        W[a[k], b[k]] = ww[k]
    libc = C.CDLL(None)
    libc.free.argtypes = [C.c_void_p]
    for p in (a, b, ww):
        libc.free(C.cast(p, C.c_void_p))
    ns = C.c_size_t()
    sst, sid = C.POINTER(C.c_uint32)(), C.POINTER(C.c_uint32)()
    ok(lib, lib.ax_snn_spikes(s, C.byref(ns), C.byref(sst), C.byref(sid)), "spikes")
    spikes = sorted((int(sid[k]) - N_IN, int(sst[k])) for k in range(ns.value) if sid[k] >= N_IN)
    lib.ax_snn_free(s)
    return W, spikes


# ---- Brian2 ------------------------------------------------------------------------------


def run_brian(rule, prm, st, ni, w0):
    import brian2 as b2
    from brian2 import ms, mV
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = DT * ms
    inp = b2.SpikeGeneratorGroup(N_IN, ni.astype(int), st * DT * ms)
    eqs = """dv/dt = (v_rest - v + g) / tau_m : volt (unless refractory)
             dg/dt = -g / tau_syn : volt"""
    ns = dict(v_rest=V_REST * mV, v_reset=V_RESET * mV, v_th=V_TH * mV, tau_m=TAU_M * ms, tau_syn=TAU_SYN * ms)
    G = b2.NeuronGroup(N_OUT, eqs, threshold="v > v_th", reset="v = v_reset", refractory=REFR * ms,
                       method="exact", namespace=ns)
    G.v = V_REST * mV
    if rule == "triplet":
        model = """w : 1
                   dr1/dt = -r1 / tau_plus : 1 (event-driven)
                   dr2/dt = -r2 / tau_x : 1 (event-driven)
                   do1/dt = -o1 / tau_minus : 1 (event-driven)
                   do2/dt = -o2 / tau_y : 1 (event-driven)"""
        on_pre = """g += w * mV
                    w = clip(w - o1 * (A2m + A3m * r2), wmin, wmax)
                    r1 += 1
                    r2 += 1"""
        on_post = """w = clip(w + r1 * (A2p + A3p * o2), wmin, wmax)
                     o1 += 1
                     o2 += 1"""
        sns = dict(tau_plus=prm["tau_plus"] * ms, tau_minus=prm["tau_minus"] * ms, tau_x=prm["tau_x"] * ms,
                   tau_y=prm["tau_y"] * ms, A2p=prm["A2_plus"], A3p=prm["A3_plus"], A2m=prm["A2_minus"],
                   A3m=prm["A3_minus"], wmin=0.0, wmax=WMAX)
    else:
        mult = prm.get("mode", 0) == 1
        model = """w : 1
                   dapre/dt = -apre / taupre : 1 (event-driven)
                   dapost/dt = -apost / taupost : 1 (event-driven)"""
        on_pre = "g += w * mV\napre += dApre\n" + (
            "w = clip(w + apost * (w - wmin), wmin, wmax)" if mult else "w = clip(w + apost, wmin, wmax)")
        on_post = "apost += dApost\n" + (
            "w = clip(w + apre * (wmax - w), wmin, wmax)" if mult else "w = clip(w + apre, wmin, wmax)")
        sns = dict(taupre=prm["tau_plus"] * ms, taupost=prm["tau_minus"] * ms, dApre=prm["A_plus"],
                   dApost=-prm["A_minus"], wmin=0.0, wmax=WMAX)
    S = b2.Synapses(inp, G, model=model, on_pre=on_pre, on_post=on_post, namespace=sns)
    S.connect()
    S.w = w0[S.i[:], S.j[:]]
    sm = b2.SpikeMonitor(G)
    vm = b2.StateMonitor(G, "v", record=True, when="thresholds", order=-1)  # v as thresholded
    b2.run(T_MS * ms)
    W = np.zeros((N_IN, N_OUT))
    W[S.i[:], S.j[:]] = S.w[:]
    spikes = sorted((int(i), int(round(float(t / ms) / DT))) for i, t in zip(sm.i[:], sm.t[:]))
    return W, spikes, np.asarray(vm.v / mV)


def cli(lib, st, ni, w0, prm):
    """The same additive-STDP network as a config for `axon simulate` (docs/simulate.md):
    its output spikes must be those of the library run; its final weights too where the
    results carry them (results.h5 projections/<name>/weight)."""
    import json
    import subprocess
    import tempfile
    axon = os.environ.get("AXON", os.path.join(BUILD, "axon"))
    if not os.path.exists(axon) or subprocess.run([axon, "simulate", "--help"], capture_output=True).returncode != 0:
        print("skip: %s simulate is not available" % axon)
        return
    tmp = tempfile.mkdtemp(prefix="axon-stdp-")
    with open(os.path.join(tmp, "edges.csv"), "w") as f:
        f.write("pre,post,w\n")
        for i in range(N_IN):
            for j in range(N_OUT):
                f.write("%d,%d,%r\n" % (i, j, float(np.float32(w0[i, j]))))
    params = {"v_rest": V_REST, "v_reset": V_RESET, "v_th": V_TH, "tau_m": TAU_M, "tau_syn": TAU_SYN,
              "refractory": REFR, "hold_g_refractory": 0, "reset_g": 0}
    cfg = {"dt_ms": DT, "duration_ms": T_MS, "seed": 1, "threads": 2,
           "populations": [{"name": "in", "model": "spike_generator", "size": N_IN},
                           {"name": "out", "model": "lif", "size": N_OUT, "params": params}],
           "projections": [{"name": "syn", "pre": "in", "post": "out", "target": "g",
                            "connect": {"rule": "file", "path": "edges.csv", "weight_column": "w"},
                            "plasticity": {"rule": "stdp", "params": prm}}],
           "inputs": [{"type": "spike_times", "pop": "in", "neurons": [int(x) for x in ni],
                       "times_ms": [round(float(k) * DT, 6) for k in st]}]}
    with open(os.path.join(tmp, "stdp.json"), "w") as f:
        json.dump(cfg, f)
    out = os.path.join(tmp, "out")
    r = subprocess.run([axon, "simulate", os.path.join(tmp, "stdp.json"), "-o", out], capture_output=True, text=True)
    check(r.returncode == 0, "axon simulate runs the STDP config" + ("" if r.returncode == 0 else ": " + r.stderr[-500:]))
    if r.returncode != 0:
        return
    Wa, sa = run_axon(lib, "stdp", prm, st, ni, w0)
    sc = []
    with open(os.path.join(out, "spikes.csv")) as f:
        next(f)
        for line in f:
            t, _, pop, idx = line.strip().split(",")
            if pop == "out":
                sc.append((int(idx), int(round(float(t) / DT))))
    check(sorted(sc) == sa, "axon simulate: the output spikes of the library run (%d)" % len(sc))
    try:
        import h5py
        with h5py.File(os.path.join(out, "results.h5"), "r") as h:
            g = h.get("projections/syn")
            if g is None or "weight" not in g:
                print("skip: results.h5 has no final weights (projections/syn/weight)")
                return
            W = np.zeros((N_IN, N_OUT))
            W[g["pre"][:], g["post"][:]] = g["weight"][:]
    except ImportError:
        print("skip: no h5py for the final weights")
        return
    check(np.array_equal(W, Wa), "axon simulate: final weights equal the library run's")


def main():
    try:
        import brian2  # noqa: F401
    except ImportError:
        print("skip: brian2 is not installed (apt install python3-brian)")
        return 0
    lib = load()
    st, ni, w0 = inputs()
    print("inputs: %d spikes from %d Poisson trains at %g Hz over %g s" % (len(st), N_IN, RATE, T_MS / 1000))
    stdp = {"A_plus": 0.02, "A_minus": 0.021, "tau_plus": 20.0, "tau_minus": 20.0, "w_max": WMAX}
    cases = [
        ("stdp", "stdp additive", dict(stdp, mode=0)),
        ("stdp", "stdp multiplicative", dict(stdp, A_plus=0.05, A_minus=0.06, mode=1)),
        ("triplet", "triplet", {"A2_plus": 0.01, "A3_plus": 0.015, "A2_minus": 0.012, "A3_minus": 0.002,
                                "tau_plus": 16.8, "tau_minus": 33.7, "tau_x": 101.0, "tau_y": 125.0,
                                "w_max": WMAX}),
    ]
    for rule, label, prm in cases:
        Wa, sa = run_axon(lib, rule, prm, st, ni, w0)
        Wb, sb, vb = run_brian(rule, prm, st, ni, w0)
        moved = np.abs(Wb - w0)
        same = []
        for i in range(N_OUT):
            ta = [k for j, k in sa if j == i]
            tb = [k for j, k in sb if j == i]
            if ta == tb:
                same.append(i)
                continue
            first = min(set(ta) ^ set(tb))
            margin = abs(vb[i, first] - V_TH)
            print("  %s: neuron %d: %d / %d spikes, first apart at step %d where Brian2's v is %.7f mV "
                  "(%.1e from the threshold)" % (label, i, len(ta), len(tb), first, vb[i, first], margin))
            check(margin < 1e-4, "%s: neuron %d parts from Brian2 only at a float32 tie with the threshold"
                  % (label, i))
        d = np.abs(Wa - Wb)[:, same]
        print("%s: %d / %d output spikes (axon / Brian2), %d of %d neurons' trains identical; weights moved by "
              "%.3f on average (max %.3f); on those neurons max |w_axon - w_brian2| = %.2e, mean %.2e"
              % (label, len(sa), len(sb), len(same), N_OUT, moved.mean(), moved.max(), d.max(), d.mean()))
        check(len(sb) > 20 * N_OUT, "%s: the outputs fire (%d spikes)" % (label, len(sb)))
        check(len(same) >= N_OUT - 1, "%s: identical output spike trains (%d of %d)" % (label, len(same), N_OUT))
        check(moved.mean() > 0.05, "%s: the weights move" % label)
        check(d.max() < 1e-5, "%s: final weights agree with Brian2 to 1e-5" % label)
    cli(lib, st, ni, w0, dict(stdp, mode=0))
    # thread count does not matter
    W1, s1 = run_axon(lib, "stdp", dict(stdp, mode=0), st, ni, w0, threads=1)
    W3, s3 = run_axon(lib, "stdp", dict(stdp, mode=0), st, ni, w0, threads=3)
    check(np.array_equal(W1, W3) and s1 == s3, "axon: 1 and 3 threads give identical weights and spikes")
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
