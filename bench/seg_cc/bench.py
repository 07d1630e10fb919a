#!/usr/bin/env python3
"""bench/seg_cc: connected components, axon against scipy.ndimage.label, in one run on the
same data.

Volumes: smooth random blobs (Gaussian-smoothed noise, sigma 2, thresholded so ~17% is
foreground: tens of thousands of blob-like components at 512^3), uint8 zarr with 64^3 zstd
chunks, at 128^3, 256^3 and 512^3, made once in a temporary folder; and the FlyEM medulla
gt_bodies (150 x 250 x 250 uint64 neuron ids, labelled per id).

Four figures per case, each the median of --reps runs:
  axon cc (process)   `axon cc IN OUT` timed from outside: start, read, label, write uint64
  axon cc (in-proc)   the ax_cc_volume call alone, as `axon cc` reports it ("cc X s")
  axon kernel         ax_cc_label on the volume in memory (uint64 in and out), via ctypes
  scipy label         ndi.label alone, on the array in memory (bool in, int32 out)
  scipy (process)     bench/seg_cc/scipy_cc.py: start, read, ndi.label, write uint64 zarr
Peak memory is the "Maximum resident set size" of /usr/bin/time -v for the two processes.
"""
import argparse
import ctypes as C
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numcodecs
import numpy as np
import zarr
from scipy import ndimage as ndi

HERE = os.path.dirname(os.path.abspath(__file__))


def timed_process(cmd, env=None):
    """(wall seconds, peak RSS MiB, stdout+stderr) of one process under /usr/bin/time -v."""
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return wall, int(m.group(1)) / 1024 if m else float("nan"), r.stdout + r.stderr


def med(xs):
    return statistics.median(xs)


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    a = ndi.gaussian_filter(rng.standard_normal((n, n, n), dtype=np.float32), 2.0)
    return (a > 0.05).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--data", default=os.environ.get("AX_DATA", "../shared/data"))
    ap.add_argument("--sizes", default="128,256,512")
    ap.add_argument("--connectivity", default="6,26")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tmp", default=None, help="scratch folder (default: a new one in /tmp)")
    ap.add_argument("--json", default=None, help="write the results here")
    a = ap.parse_args()

    axon = os.path.join(a.build, "axon")
    lib = C.CDLL(os.path.abspath(os.path.join(a.build, "libaxon.so")))
    lib.ax_cc_label.argtypes = [C.c_void_p, C.POINTER(C.c_int64), C.c_int, C.c_void_p,
                                C.POINTER(C.c_uint64)]
    lib.ax_threads_set.argtypes = [C.c_int]
    lib.ax_threads_set(a.threads)
    tmp = a.tmp or tempfile.mkdtemp(prefix="axon-bench-cc-")
    os.makedirs(tmp, exist_ok=True)
    env = dict(os.environ, AX_PROGRESS="0")
    conns = [int(c) for c in a.connectivity.split(",")]

    cases = []
    for n in [int(s) for s in a.sizes.split(",")]:
        path = os.path.join(tmp, f"blobs{n}.zarr")
        m = blobs(n, n)
        if not os.path.exists(path):
            z = zarr.open(path, mode="w", shape=m.shape, chunks=(64, 64, 64), dtype="u1",
                          compressor=numcodecs.Zstd(level=3))
            z[...] = m
        cases.append((f"blobs {n}^3", path, m, ["--threshold", "0"], False))
    h5 = os.path.join(a.data, "flyem_medulla", "medulla_z0-149.h5")
    if os.path.exists(h5):
        import h5py
        with h5py.File(h5, "r") as f:
            gt = f["gt_bodies"][...]
        cases.append(("medulla gt_bodies", h5 + ":gt_bodies", gt, [], True))
    else:
        print(f"(no {h5}: medulla skipped)")

    sys.path.insert(0, HERE)
    from scipy_cc import label_values

    rows = []
    print(f"axon {a.threads} threads, scipy 1 thread; median of {a.reps}; times in s, memory in MiB")
    hdr = (f"{'case':<18} {'conn':>4} {'comps':>7} | {'axon proc':>9} {'in-proc':>8} {'kernel':>7}"
           f" {'MiB':>6} | {'scipy lbl':>9} {'proc':>7} {'MiB':>6} | {'x label':>7} {'x proc':>6}")
    print(hdr)
    print("-" * len(hdr))
    for name, src, arr, extra, labels in cases:
        a64 = np.ascontiguousarray(arr, dtype=np.uint64)
        o64 = np.empty_like(a64)
        shape = (C.c_int64 * 3)(*a64.shape)
        for conn in conns:
            st = ndi.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[conn])
            ax_wall, ax_cc, ax_mem, ncomp = [], [], [], None
            dst = os.path.join(tmp, "axon_out.zarr")
            for _ in range(a.reps):
                w, mem, out = timed_process([axon, "--threads", str(a.threads), "cc", src, dst,
                                             "--connectivity", str(conn), "--overwrite", *extra],
                                            env)
                ax_wall.append(w)
                ax_mem.append(mem)
                ax_cc.append(float(re.search(r"cc ([0-9.]+) s", out).group(1)))
                ncomp = int(re.search(r"(\d+) components", out).group(1))
            kern = []
            nk = C.c_uint64()  # one call first: the thread pool starts, pages are mapped
            lib.ax_cc_label(a64.ctypes.data, shape, conn, o64.ctypes.data, C.byref(nk))
            for _ in range(a.reps):
                t0 = time.perf_counter()
                rc = lib.ax_cc_label(a64.ctypes.data, shape, conn, o64.ctypes.data, C.byref(nk))
                kern.append(time.perf_counter() - t0)
                assert rc == 0
            sp = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                if labels:
                    _, ns = label_values(arr, st)
                else:
                    _, ns = ndi.label(arr > 0, structure=st)
                sp.append(time.perf_counter() - t0)
            sp_wall, sp_mem = [], []
            pdst = os.path.join(tmp, "scipy_out.zarr")
            for _ in range(a.reps):
                cmd = [sys.executable, os.path.join(HERE, "scipy_cc.py"), src, pdst,
                       "--connectivity", str(conn)] + (["--labels"] if labels else [])
                w, mem, _ = timed_process(cmd)
                sp_wall.append(w)
                sp_mem.append(mem)
            assert ncomp == ns == nk.value, (ncomp, ns, nk.value)
            r = {"case": name, "connectivity": conn, "components": ncomp,
                 "axon_process_s": med(ax_wall), "axon_inproc_s": med(ax_cc),
                 "axon_kernel_s": med(kern), "axon_peak_mib": max(ax_mem),
                 "scipy_label_s": med(sp), "scipy_process_s": med(sp_wall),
                 "scipy_peak_mib": max(sp_mem), "threads": a.threads}
            r["speedup_label"] = r["scipy_label_s"] / r["axon_inproc_s"]
            r["speedup_kernel"] = r["scipy_label_s"] / r["axon_kernel_s"]
            r["speedup_process"] = r["scipy_process_s"] / r["axon_process_s"]
            rows.append(r)
            print(f"{name:<18} {conn:>4} {ncomp:>7} | {r['axon_process_s']:>9.3f} "
                  f"{r['axon_inproc_s']:>8.3f} {r['axon_kernel_s']:>7.3f} {r['axon_peak_mib']:>6.0f} | "
                  f"{r['scipy_label_s']:>9.3f} {r['scipy_process_s']:>7.2f} {r['scipy_peak_mib']:>6.0f} | "
                  f"{r['speedup_label']:>7.2f} {r['speedup_process']:>6.2f}", flush=True)
    print("x label: scipy label / axon in-process (axon includes reading and writing);"
          " x proc: whole processes.")
    for r in rows:
        print(f"  {r['case']} conn {r['connectivity']}: kernel vs scipy label "
              f"{r['speedup_kernel']:.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    if not a.tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
