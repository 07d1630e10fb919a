#!/usr/bin/env python3
"""`axon simulate` on the Prinz 2004 pyloric network (panel e of Fig. 3) against an
independent numpy implementation written from the model description
(/work/shared/data/models/stg_prinz2004.md, docs/stg.md): the same equations and the
same numerical scheme (every step from the state at its start: exponential Euler for V,
[Ca], m and h; forward Euler for s, s := s_inf where dt > tau_s; dt 0.025 ms), vectorised
over the cells and gates instead of axon's per-cell scalar code.

Checks, on 8 s of panel e sampled every step (voltage.h5, float32):
- V of all three cells over the first 200 ms within 1e-3 mV (float32 rounding of the
  output is ~5e-6 mV; chaos cannot have amplified double-precision rounding yet);
- spike times (upward -10 mV crossings) over the whole 8 s: same count, each within
  0.5 ms;
- the burst statistics over [2000, 8000] ms (period, duty cycles, onset phases, cell
  states) from the reference's own trace within 2 % (absolute 0.01 for duty and phase),
  and those that this script computes from axon's trace with the definitions of
  include/axon/stg.h equal to axon's stg_stats.json within 1e-6 relative;
- voltage.csv, compute.json and voltage.png exist and agree with the run.
Run: BUILD=build /usr/bin/python3 tests/interop/test_stg.py (or AXON=path/to/axon)
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

BUILD = os.environ.get("BUILD", "build")
A = os.environ.get("AXON", os.path.join(BUILD, "axon"))
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


# ---- the model, from the model description ---------------------------------------------
AREA = 0.628e-3  # cm^2
C_M = 1.0 * AREA  # uF
E = dict(Na=50.0, K=-80.0, H=-20.0, leak=-50.0)
TAU_CA, F_CA, CA0, CA_OUT, NERNST = 200.0, 14.96e3, 0.05, 3000.0, 12.2  # ms, uM/uA, uM, uM, mV
# mS/cm^2: Na, CaT, CaS, A, KCa, Kd, H, leak
GBAR = {
    ("abpd", 2): [100, 2.5, 6, 50, 5, 100, 0.01, 0],
    ("lp", 4): [100, 0, 4, 20, 0, 25, 0.05, 0.03],
    ("py", 1): [100, 2.5, 2, 50, 0, 125, 0.05, 0.01],
}
# panel e: (pre, post, g nS, E_s mV, k_- 1/ms); cells 0 AB/PD, 1 LP, 2 PY
SYNAPSES = [
    (0, 1, 30, -70, 1 / 40),   # AB->LP
    (0, 1, 30, -80, 1 / 100),  # PD->LP
    (0, 2, 10, -70, 1 / 40),   # AB->PY
    (0, 2, 3, -80, 1 / 100),   # PD->PY
    (1, 0, 30, -70, 1 / 40),   # LP->AB/PD
    (1, 2, 1, -70, 1 / 40),    # LP->PY
    (2, 1, 30, -70, 1 / 40),   # PY->LP
]


def sig(v, a, b):
    return 1.0 / (1.0 + np.exp((v + a) / b))


def steady(v, ca):
    """x_inf for m (Na CaT CaS A KCa Kd H) and h (Na CaT CaS A), shape (..., 7) / (..., 4)"""
    v = np.asarray(v, float)[..., None]
    m = np.concatenate([sig(v, 25.5, -5.29), sig(v, 27.1, -7.2), sig(v, 33, -8.1),
                        sig(v, 27.2, -8.7), np.asarray(ca)[..., None] / (np.asarray(ca)[..., None] + 3)
                        * sig(v, 28.3, -12.6), sig(v, 12.3, -11.8), sig(v, 75, 5.5)], axis=-1)
    h = np.concatenate([sig(v, 48.9, 5.18), sig(v, 32.1, 5.5), sig(v, 60, 6.2),
                        sig(v, 56.9, 4.9)], axis=-1)
    return m, h


def taus(v):
    """time constants (ms) of m (7) and h (4) for a vector of voltages"""
    v = v[:, None]
    tm = np.concatenate([
        2.64 - 2.52 * sig(v, 120, -25),
        43.4 - 42.6 * sig(v, 68.1, -20.5),
        2.8 + 14 / (np.exp((v + 27) / 10) + np.exp((v + 70) / -13)),
        23.2 - 20.8 * sig(v, 32.9, -15.2),
        180.6 - 150.2 * sig(v, 46, -22.7),
        14.4 - 12.8 * sig(v, 28.3, -19.2),
        2 / (np.exp((v + 169.7) / -11.6) + np.exp((v - 26.7) / 14.3)),
    ], axis=1)
    th = np.concatenate([
        1.34 * sig(v, 62.9, -10) * (1.5 + sig(v, 34.9, 3.6)),
        210 - 179.6 * sig(v, 55, -16.9),
        120 + 300 / (np.exp((v + 55) / 9) + np.exp((v + 65) / -16)),
        77.2 - 58.4 * sig(v, 38.9, -26.5),
    ], axis=1)
    return tm, th


# all exponentials of one step in one call: exp((V + OFF) / DEN) per cell
#   0-10  x_inf sigmoids: m Na CaT CaS A KCa Kd H, h Na CaT CaS A
#   11-19 sigmoids inside tau: m Na CaT A KCa Kd, h Na (two) CaT A
#   20-25 the two-exponential taus: m CaS, h CaS, m H
#   26    s_inf of a synapse with this cell presynaptic: 1/(1 + exp((-35 - V)/5))
OFF = np.array([25.5, 27.1, 33, 27.2, 28.3, 12.3, 75, 48.9, 32.1, 60, 56.9,
                120, 68.1, 32.9, 46, 28.3, 62.9, 34.9, 55, 38.9,
                27, 70, 55, 65, 169.7, -26.7, 35])
DEN = np.array([-5.29, -7.2, -8.1, -8.7, -12.6, -11.8, 5.5, 5.18, 5.5, 6.2, 4.9,
                -25, -20.5, -15.2, -22.7, -19.2, -10, 3.6, -16.9, -26.5,
                10, -13, 9, -16, -11.6, 14.3, -5])
# tau = T0 + T1 * sigmoid for m Na, CaT, A, KCa, Kd (columns 0 1 3 4 5) and h CaT, A (1 3)
TM_COLS, TM_SIG = [0, 1, 3, 4, 5], [11, 12, 13, 14, 15]
TM0, TM1 = np.array([2.64, 43.4, 23.2, 180.6, 14.4]), np.array([-2.52, -42.6, -20.8, -150.2, -12.8])
TH_COLS, TH_SIG = [1, 3], [18, 19]
TH0, TH1 = np.array([210, 77.2]), np.array([-179.6, -58.4])


def step_rates(V, Ca):
    """x_inf and tau of every gate, and s_inf per presynaptic cell, at V (3,)"""
    X = np.exp((V[:, None] + OFF) / DEN)
    S = 1 / (1 + X)
    minf = S[:, 0:7].copy()
    minf[:, 4] *= Ca / (Ca + 3)
    hinf = S[:, 7:11]
    tm = np.empty((3, 7))
    tm[:, TM_COLS] = TM0 + TM1 * S[:, TM_SIG]
    tm[:, 2] = 2.8 + 14 / (X[:, 20] + X[:, 21])
    tm[:, 6] = 2 / (X[:, 24] + X[:, 25])
    th = np.empty((3, 4))
    th[:, 0] = 1.34 * S[:, 16] * (1.5 + S[:, 17])
    th[:, TH_COLS] = TH0 + TH1 * S[:, TH_SIG]
    th[:, 2] = 120 + 300 / (X[:, 22] + X[:, 23])
    return minf, hinf, tm, th, S[:, 26]


def simulate(duration_ms, dt=0.025, v0=-50.0):
    g = np.array([GBAR[("abpd", 2)], GBAR[("lp", 4)], GBAR[("py", 1)]], float) * AREA  # mS
    V = np.full(3, v0)
    m, h = steady(V, np.full(3, CA0))
    # [Ca] at rest: root of Ca - Ca0 + f I_Ca(v0, Ca) (increasing in Ca), by bisection
    gca = g[:, 1] * m[:, 1] ** 3 * h[:, 1] + g[:, 2] * m[:, 2] ** 3 * h[:, 2]
    lo, hi = np.full(3, -30.0), np.full(3, 20.0)  # log [Ca]
    for _ in range(200):
        mid = (lo + hi) / 2
        ca = np.exp(mid)
        r = ca - CA0 + F_CA * gca * (V - NERNST * np.log(CA_OUT / ca))
        hi = np.where(r > 0, mid, hi)
        lo = np.where(r > 0, lo, mid)
    Ca = np.exp((lo + hi) / 2)
    m, h = steady(V, Ca)
    pre = np.array([s[0] for s in SYNAPSES])
    # synapse -> postsynaptic cell as a (3, 7) 0/1 matrix
    P = np.zeros((3, len(SYNAPSES)))
    P[[s[1] for s in SYNAPSES], np.arange(len(SYNAPSES))] = 1
    gs = np.array([s[2] for s in SYNAPSES], float) * 1e-6  # nS -> mS
    Es = np.array([s[3] for s in SYNAPSES], float)
    km = np.array([s[4] for s in SYNAPSES], float)
    s = 1 / (1 + np.exp((-35 - V[pre]) / 5))
    n = int(round(duration_ms / dt))
    out = np.empty((n + 1, 3))
    out[0] = V
    ca_decay = math.exp(-dt / TAU_CA)
    gNa, gCa, gK, gH, gL = g[:, 0], g[:, 1:3], g[:, 3:6], g[:, 6], g[:, 7]
    for i in range(n):
        # conductances of the old gates: Na, CaT+CaS, A+KCa+Kd, H, leak
        cNa = gNa * m[:, 0] ** 3 * h[:, 0]
        cCa = (gCa * m[:, 1:3] ** 3 * h[:, 1:3]).sum(1)
        cK = (gK * m[:, 3:6] ** np.array([3, 4, 4]) * np.c_[h[:, 3], np.ones(3), np.ones(3)]).sum(1)
        cH = gH * m[:, 6]
        eca = NERNST * np.log(CA_OUT / Ca)
        gsyn = P @ (gs * s)
        G = cNa + cCa + cK + cH + gL + gsyn
        vinf = (cNa * E["Na"] + cCa * eca + cK * E["K"] + cH * E["H"] + gL * E["leak"]
                + P @ (gs * s * Es)) / G
        cainf = CA0 - F_CA * cCa * (V - eca)
        minf, hinf, tm, th, sinf_cell = step_rates(V, Ca)
        sinf = sinf_cell[pre]
        ts = (1 - sinf) / km
        # the new state, all from the old one
        Vn = vinf + (V - vinf) * np.exp(-dt * G / C_M)
        Ca = cainf + (Ca - cainf) * ca_decay
        m = minf + (m - minf) * np.exp(-dt / tm)
        h = hinf + (h - hinf) * np.exp(-dt / th)
        s = np.where(dt > ts, sinf, s + (sinf - s) * dt / ts)
        V = Vn
        out[i + 1] = V
    return out


# ---- statistics, as defined in include/axon/stg.h ---------------------------------------
def spikes(v, dt):
    i = np.nonzero((v[:-1] < -10) & (v[1:] >= -10))[0]
    return (i + (-10 - v[i]) / (v[i + 1] - v[i])) * dt


def bursts(sp, t0, t1):
    out = []
    groups = np.split(sp, np.nonzero(np.diff(sp) >= 150)[0] + 1) if len(sp) else []
    for b in groups:
        if len(b) >= 2 and b[0] >= t0 and b[-1] + 150 <= t1:
            out.append((b[0], b[-1]))
    return out


def stats(v, dt, t0, t1):
    sp = [spikes(v[:, c], dt) for c in range(3)]
    br = [bursts(s, t0, t1) for s in sp]
    st = {"n_spikes": [int(np.sum((s >= t0) & (s < t1))) for s in sp],
          "n_bursts": [len(b) for b in br]}
    st["state"] = ["bursting" if len(br[c]) >= 2 else "tonic" if st["n_spikes"][c] else "silent"
                   for c in range(3)]
    on0 = [b[0] for b in br[0]]
    period = (on0[-1] - on0[0]) / (len(on0) - 1) if len(on0) >= 2 else float("nan")
    st["period_ms"] = period
    st["duty"] = [np.mean([b[1] - b[0] for b in br[c]]) / period if br[c] else float("nan")
                  for c in range(3)]
    phase = [0.0]
    for c in (1, 2):
        d = []
        for i, o in enumerate(on0):
            bound = on0[i + 1] if i + 1 < len(on0) else o + period
            nxt = [b[0] for b in br[c] if b[0] >= o]
            if nxt and nxt[0] < bound:
                d.append(nxt[0] - o)
        phase.append(np.mean(d) / period if d else float("nan"))
    st["onset_phase"] = phase
    return st, sp


def main():
    dt, dur, t0 = 0.025, 8000.0, 2000.0
    # the vectorised rate table used by simulate() against the formulas written out
    vv = np.linspace(-100, 50, 301)
    for k in range(0, 300, 3):
        V3, Ca3 = vv[k:k + 3], np.array([0.05, 1.0, 7.0])
        minf, hinf, tm, th, sinf = step_rates(V3, Ca3)
        m2, h2 = steady(V3, Ca3)
        tm2, th2 = taus(V3)
        if not (np.allclose(minf, m2, rtol=1e-12, atol=0) and np.allclose(hinf, h2, rtol=1e-12, atol=0)
                and np.allclose(tm, tm2, rtol=1e-12) and np.allclose(th, th2, rtol=1e-12)
                and np.allclose(sinf, 1 / (1 + np.exp((-35 - V3) / 5)), rtol=1e-12)):
            check(False, f"rate table differs from the formulas at V = {V3}")
            break
    else:
        check(True, "rate table = formulas for V in [-100, 50] mV")
    tmp = tempfile.mkdtemp(dir=os.environ.get("AX_TEST_TMP", "/tmp"))
    cfg = os.path.join(tmp, "e.json")
    with open(cfg, "w") as f:
        json.dump({"circuit": "stg_pyloric", "panel": "e", "duration_ms": dur, "dt_ms": dt,
                   "sample_ms": dt, "stats_from_ms": t0, "plot_ms": 3000}, f)
    out = os.path.join(tmp, "out")
    r = subprocess.run([A, "simulate", cfg, "-o", out], capture_output=True, text=True)
    check(r.returncode == 0, "axon simulate panel e: " + (r.stdout + r.stderr).strip().replace("\n", " | ")[:300])
    if r.returncode:
        return 1
    with h5py.File(os.path.join(out, "voltage.h5"), "r") as f:
        va = f["v"][...].astype(np.float64)
        ta = f["t_ms"][...]
    n = int(round(dur / dt)) + 1
    check(va.shape == (n, 3) and np.allclose(ta, np.arange(n) * dt), f"voltage.h5 /v {va.shape}, /t_ms")

    vr = simulate(dur, dt)
    k200 = int(round(200 / dt)) + 1
    err = np.abs(va[:k200] - vr[:k200]).max()
    check(err < 1e-3, f"V over the first 200 ms: max |axon - numpy| = {err:.2e} mV (< 1e-3)")
    err_all = np.abs(va - vr).max()
    print(f"     (over all {dur:.0f} ms: max |dV| = {err_all:.3g} mV)")

    sa, spa = stats(va, dt, t0, dur)
    sr, spr = stats(vr, dt, t0, dur)
    for c, name in enumerate(("AB/PD", "LP", "PY")):
        same = len(spa[c]) == len(spr[c])
        dmax = np.abs(spa[c] - spr[c]).max() if same and len(spa[c]) else 0.0
        check(same and dmax < 0.5,
              f"{name}: {len(spa[c])} spikes (numpy {len(spr[c])}), max time difference {dmax:.3g} ms")

    def close(a, b, r=0.02, a_tol=0.0):
        return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= max(r * abs(b), a_tol)

    check(sr["state"] == ["bursting"] * 3 and sa["state"] == sr["state"],
          f"cell states axon {sa['state']} numpy {sr['state']}")
    check(close(sa["period_ms"], sr["period_ms"]),
          f"period axon {sa['period_ms']:.1f} ms, numpy {sr['period_ms']:.1f} ms")
    for c in range(3):
        check(close(sa["duty"][c], sr["duty"][c], a_tol=0.01),
              f"duty[{c}] axon {sa['duty'][c]:.4f}, numpy {sr['duty'][c]:.4f}")
    for c in (1, 2):
        check(close(sa["onset_phase"][c], sr["onset_phase"][c], a_tol=0.01),
              f"onset phase[{c}] axon {sa['onset_phase'][c]:.4f}, numpy {sr['onset_phase'][c]:.4f}")

    # axon's own statistics equal those computed here from its trace
    js = json.load(open(os.path.join(out, "stg_stats.json")))
    check(js["window_ms"] == [t0, dur], f"stats window {js['window_ms']}")
    check(close(js["period_ms"], sa["period_ms"], 1e-6), f"stg_stats.json period {js['period_ms']:.3f}")
    for c, name in enumerate(("AB/PD", "LP", "PY")):
        cj = js["cells"][name]
        ok = (cj["state"] == sa["state"][c] and cj["n_spikes"] == sa["n_spikes"][c]
              and cj["n_bursts"] == sa["n_bursts"][c]
              and close(cj["duty"], sa["duty"][c], 1e-6)
              and close(cj["onset_phase"] if c else 1.0, sa["onset_phase"][c] if c else 1.0, 1e-6))
        check(ok, f"stg_stats.json {name}: {cj}")
    tri = 0 < sa["onset_phase"][1] < sa["onset_phase"][2] < 1
    check(js["triphasic"] == tri == True, "triphasic")

    cp = json.load(open(os.path.join(out, "compute.json")))
    steps = n - 1
    check(cp["neuron_updates"] == 3 * steps and cp["synaptic_updates"] == 7 * steps
          and abs(cp["total_flops"] - 3 * steps * cp["flops_per_neuron_update"]
                  - 7 * steps * cp["flops_per_synaptic_update"]) < 1e-6 * cp["total_flops"]
          and cp["real_time_factor"] > 0, f"compute.json {cp}")
    csv = np.loadtxt(os.path.join(out, "voltage.csv"), delimiter=",", skiprows=1, max_rows=2000)
    check(np.abs(csv[:, 1:] - va[:2000]).max() < 1e-3 and np.allclose(csv[:, 0], ta[:2000]),
          "voltage.csv matches voltage.h5")
    png = open(os.path.join(out, "voltage.png"), "rb").read(8)
    check(png == b"\x89PNG\r\n\x1a\n", "voltage.png is a PNG")
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
