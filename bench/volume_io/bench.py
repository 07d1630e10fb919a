#!/usr/bin/env python3
"""bench/volume_io: HDF5 -> Zarr (zstd, 64^3 chunks) conversion and random 64^3 region
reads of the FlyEM medulla volume, axon side by side with the Python stack a user would
pick instead (h5py + python3-zarr/numcodecs), in one run, same data, same codec settings.

MB/s counts uncompressed voxel bytes. Each figure is the median of --reps runs. axon runs
as the CLI (`axon convert`, `axon bench read`) with the thread count given; the Python
stack is single-threaded by construction (zarr 2.x encodes chunks one at a time).
Conversion is reported twice for axon: whole processes timed from outside (3 process
starts included), and the time axon reports from opening to closing, which matches what
the Python figure measures (its interpreter start and imports are not timed).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numcodecs
import numpy as np
import zarr


def median_time(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--axon", default="build/axon")
    ap.add_argument("--data", default=os.environ.get("AX_DATA", "../shared/data"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--regions", type=int, default=400)
    ap.add_argument("--level", type=int, default=3)
    ap.add_argument("--threads", default="2,1")
    ap.add_argument("--json", default=None, help="write the results here")
    a = ap.parse_args()

    h5 = os.path.join(a.data, "flyem_medulla", "medulla_z0-149.h5")
    datasets = ["raw", "gt_supervoxels", "gt_bodies"]
    tmp = tempfile.mkdtemp(prefix="axon-bench-io-")
    f = h5py.File(h5, "r")
    shapes = {d: f[d].shape for d in datasets}
    nbytes = {d: f[d].size * f[d].dtype.itemsize for d in datasets}
    total = sum(nbytes.values())
    rng = np.random.default_rng(1)
    pos = {}
    for d in datasets:
        s = shapes[d]
        pos[d] = np.stack([rng.integers(0, s[k] - 64 + 1, a.regions) for k in range(3)], 1)
        np.savetxt(os.path.join(tmp, f"pos_{d}.txt"), pos[d], fmt="%d")
    f.close()
    res = {"volume": h5, "bytes": int(total), "regions_per_dataset": a.regions,
           "zstd_level": a.level, "reps": a.reps}

    # ---- Python: h5py read -> zarr write; random region reads
    def py_convert():
        out = os.path.join(tmp, "py.zarr")
        shutil.rmtree(out, ignore_errors=True)
        with h5py.File(h5, "r") as hf:
            g = zarr.open_group(out, "w")
            for d in datasets:
                arr = hf[d][...]
                z = g.create_dataset(d, shape=arr.shape, chunks=(64, 64, 64), dtype=arr.dtype,
                                     compressor=numcodecs.Zstd(level=a.level))
                z[...] = arr

    def py_read():
        g = zarr.open_group(os.path.join(tmp, "py.zarr"), "r")
        for d in datasets:
            z = g[d]
            for (i, j, k) in pos[d]:
                z[i:i + 64, j:j + 64, k:k + 64]

    t = median_time(py_convert, a.reps)
    res["python_convert_s"] = t
    res["python_convert_MBps"] = total / t / 1e6
    read_bytes = int(sum(a.regions * 64**3 * (nbytes[d] // int(np.prod(shapes[d]))) for d in datasets))
    t = median_time(py_read, a.reps)
    res["python_read_s"] = t
    res["python_read_MBps"] = read_bytes / t / 1e6

    # ---- axon
    for nt in [int(x) for x in a.threads.split(",")]:
        env = dict(os.environ, AX_THREADS=str(nt), AX_PROGRESS="0")

        inproc = []

        def ax_convert():
            out = os.path.join(tmp, "ax.zarr")
            shutil.rmtree(out, ignore_errors=True)
            s = 0.0
            for d in datasets:
                r = subprocess.run([a.axon, "convert", f"{h5}:{d}", f"{out}:{d}",
                                    "--chunks", "64,64,64", "--compression", "zstd",
                                    "--level", str(a.level)], check=True, env=env,
                                   capture_output=True, text=True)
                s += float(re.search(r" in ([0-9.]+) s ", r.stderr).group(1))
            inproc.append(s)

        t = median_time(ax_convert, a.reps)
        res[f"axon_t{nt}_convert_s"] = t
        res[f"axon_t{nt}_convert_MBps"] = total / t / 1e6
        # the time axon itself reports (open to close, no process start), which is what
        # the Python figure measures too (its interpreter start and imports are not timed)
        t = statistics.median(inproc)
        res[f"axon_t{nt}_convert_inproc_s"] = t
        res[f"axon_t{nt}_convert_inproc_MBps"] = total / t / 1e6
        for mode, cache in (("cold", "0"), ("cached", "256")):
            secs = []
            for _ in range(a.reps):
                s = 0.0
                for d in datasets:
                    r = subprocess.run([a.axon, "bench", "read", os.path.join(tmp, "ax.zarr") + ":" + d,
                                        "--positions", os.path.join(tmp, f"pos_{d}.txt"), "--size", "64"],
                                       check=True, env=dict(env, AX_CACHE_MB=cache),
                                       capture_output=True, text=True)
                    s += json.loads(r.stdout)["seconds"]
                secs.append(s)
            t = statistics.median(secs)
            res[f"axon_t{nt}_read_{mode}_s"] = t
            res[f"axon_t{nt}_read_{mode}_MBps"] = read_bytes / t / 1e6
        # the two stacks' outputs hold the same voxels
        for d in datasets:
            same = np.array_equal(zarr.open(os.path.join(tmp, "ax.zarr"), "r")[d][...],
                                  zarr.open(os.path.join(tmp, "py.zarr"), "r")[d][...])
            if not same:
                print(f"MISMATCH in {d}", file=sys.stderr)
                return 1

    print(f"volume_io on {h5}: {total / 1e6:.1f} MB in {len(datasets)} datasets, "
          f"zstd level {a.level}, 64^3 chunks, {a.regions} random 64^3 regions per dataset, "
          f"median of {a.reps}")
    print(f"{'':34s}{'MB/s':>10s}{'vs Python':>11s}")
    print(f"{'convert  h5py + zarr':34s}{res['python_convert_MBps']:10.1f}{1.0:10.2f}x")
    for nt in [int(x) for x in a.threads.split(",")]:
        r = res[f"axon_t{nt}_convert_MBps"]
        print(f"{'convert  axon, %d thread(s), process' % nt:34s}{r:10.1f}{r / res['python_convert_MBps']:10.2f}x")
        r = res[f"axon_t{nt}_convert_inproc_MBps"]
        print(f"{'convert  axon, %d thread(s), in-proc' % nt:34s}{r:10.1f}{r / res['python_convert_MBps']:10.2f}x")
    print(f"{'read     zarr':34s}{res['python_read_MBps']:10.1f}{1.0:10.2f}x")
    for nt in [int(x) for x in a.threads.split(",")]:
        for mode in ("cold", "cached"):
            r = res[f"axon_t{nt}_read_{mode}_MBps"]
            print(f"{'read     axon, %d thread(s), %s' % (nt, mode):34s}{r:10.1f}{r / res['python_read_MBps']:10.2f}x")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=2)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
