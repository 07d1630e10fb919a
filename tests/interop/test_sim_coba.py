#!/usr/bin/env python3
"""COBA (Brette et al. 2007 benchmark 1, variant A) in axon and in Brian2 2.5.1 on the
same connectivity and initial state (axon exports it with --export-network; Brian2 reads
it with bench/sim/brian2_net.py, numpy target, exponential Euler as axon).

The network is chaotic and the two differ in precision (float32 vs float64), so spike
trains part within milliseconds; what must agree is the statistics over 2 s:
- the mean rate (within 10 %);
- the distribution of per-neuron rates (two-sample Kolmogorov-Smirnov, p > 0.001, and
  medians within 10 %);
- the mean ISI coefficient of variation (within 10 %).
The same run on 1 and 2 threads must give identical spikes.
Run: BUILD=build /usr/bin/python3 tests/interop/test_sim_coba.py
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from scipy import stats

BUILD = os.environ.get("BUILD", "build")
A = os.path.join(BUILD, "axon")
PY = os.environ.get("PYTHON", "/usr/bin/python3")
DUR = 2000.0
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def rates_cv(t_ms, ids, n):
    t_ms = np.asarray(t_ms)
    ids = np.asarray(ids).astype(np.int64)
    rates = np.bincount(ids, minlength=n) / (DUR * 1e-3)
    order = np.lexsort((t_ms, ids))
    t, i = t_ms[order], ids[order]
    cvs = []
    starts = np.searchsorted(i, np.arange(n))
    ends = np.searchsorted(i, np.arange(n), side="right")
    for k in range(n):
        tt = t[starts[k]:ends[k]]
        if len(tt) >= 5:
            isi = np.diff(tt)
            cvs.append(isi.std() / isi.mean())
    return rates, np.array(cvs)


def main():
    tmp = os.environ.get("AX_TEST_TMP") or tempfile.mkdtemp()
    d = tempfile.mkdtemp(dir=tmp)
    cfg = "examples/snn/coba.json"
    net = os.path.join(d, "net.h5")
    out1, out2 = os.path.join(d, "t1"), os.path.join(d, "t2")
    subprocess.run([A, "simulate", cfg, "-o", out1, "--threads", "1", "--duration", str(DUR),
                    "--export-network", net], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([A, "simulate", cfg, "-o", out2, "--threads", "2", "--duration", str(DUR)],
                   check=True, stdout=subprocess.DEVNULL)
    s1 = open(os.path.join(out1, "spikes.csv")).read()
    s2 = open(os.path.join(out2, "spikes.csv")).read()
    check(s1 == s2 and len(s1) > 1000, "1 and 2 threads give identical spikes")

    a = np.genfromtxt(os.path.join(out1, "spikes.csv"), delimiter=",", names=True, dtype=None, encoding=None)
    n = 4000
    ra, cva = rates_cv(a["t_ms"], a["neuron"], n)
    bz = os.path.join(d, "b2.npz")
    r = subprocess.run([PY, "bench/sim/brian2_net.py", net, "--duration-ms", str(DUR), "--device", "numpy",
                        "--out", bz], check=True, capture_output=True, text=True)
    info = json.loads(r.stdout.strip().splitlines()[-1])
    b = np.load(bz)
    rb, cvb = rates_cv(b["t_ms"], b["neuron"], n)
    print(f"mean rate: axon {ra.mean():.2f} Hz, Brian2 {rb.mean():.2f} Hz (Brian2 says {info['mean_rate_hz']:.2f})")
    print(f"median rate: axon {np.median(ra):.2f}, Brian2 {np.median(rb):.2f}")
    print(f"mean ISI CV: axon {cva.mean():.3f} ({len(cva)} neurons), Brian2 {cvb.mean():.3f} ({len(cvb)})")
    ks = stats.ks_2samp(ra, rb)
    print(f"KS on per-neuron rates: D = {ks.statistic:.3f}, p = {ks.pvalue:.3g}")
    check(abs(ra.mean() - rb.mean()) < 0.1 * rb.mean(), "mean rates within 10%")
    check(abs(np.median(ra) - np.median(rb)) < 0.1 * np.median(rb) + 0.5, "median rates within 10%")
    check(ks.pvalue > 1e-3, "per-neuron rate distributions agree (KS p > 0.001)")
    check(abs(cva.mean() - cvb.mean()) < 0.1 * cvb.mean(), "mean ISI CV within 10%")
    check(ra.mean() > 5, "the network is active (self-sustained)")
    # the compute record
    comp = json.load(open(os.path.join(out1, "compute.json")))
    check(comp["spikes"] == len(a), "compute.json counts the recorded spikes")
    check(comp["synapses"] == info["synapses"], "Brian2 built the same number of synapses")
    check(abs(comp["bytes_per_synapse"] - 8.0) < 1e-9, "8 bytes per static synapse")
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
