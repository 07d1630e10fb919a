#!/usr/bin/env python3
"""bench/cnn: axon's U-Net engine against PyTorch 1.13 CPU on the reference network, in
one run, same input, same thread count (2 by default).

Reference network: 3 levels, 12/36/108 feature maps, two 3x3x3 valid convs per level,
(1,2,2) max pool, transposed-conv upsampling, 3 sigmoid outputs; input 1 x 32 x 196 x 196,
output 3 x 12 x 156 x 156, 318 kFLOP per output voxel (92.8 GFLOP per pass).

Measured: inference (one forward pass) and one training step (forward, weighted BCE on
the logits, backward, Adam), each a warm-up then R repeats, minimum and median. Reported:
output voxels/s, GFLOP/s (a training step counts 3 passes), the fraction of this
machine's fp32 FMA peak (bench/cnn/fma_peak.c, wall clock, same thread count) and the
axon / PyTorch speed ratio. Results also go to $BUILD/bench_cnn.json. GFLOP/s counts the
FLOPs of direct convolution, the same count for both engines: axon's Winograd layers do
fewer multiplications, so its "effective" rate can exceed the FMA peak.

With --layers it also runs bench/cnn/conv_layers.c: every conv layer's forward, data and
weight gradient, direct (axon) vs im2col + OpenBLAS sgemm, on 1 and 2 threads (needs
Debian's libopenblas-dev; about 3 minutes).

Usage: bench.py [--threads N] [--reps R] [--build DIR] [--layers]
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)


def norm(r):
    """axon's and bench_torch's records under one set of names (rates at the minimum)"""
    mn = r.get("min_s", r.get("seconds_min"))
    med = r.get("median_s", r.get("seconds_median"))
    vox = r["out_shape"][0] * r["out_shape"][1] * r["out_shape"][2]
    return {"min_s": mn, "median_s": med, "gflops": r["gflop"] / mn, "voxels_per_s": vox / mn,
            "peak_rss_mib": r.get("peak_rss_mib", float("nan"))}


def sh(cmd, env=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--layers", action="store_true")
    a = ap.parse_args()
    build = os.path.join(ROOT, a.build)
    libs = sh(["pkg-config", "--libs", "jansson", "libzstd", "blosc", "libdeflate", "libtiff-4",
               "libpng", "zlib", "hdf5"]).split()
    sh(["cc", "-O2", "-pthread", "-o", f"{build}/fma_peak", "bench/cnn/fma_peak.c"])
    sh(["cc", "-O2", "-Iinclude", "bench/cnn/bench_unet.c", f"{build}/libaxon.a"] + libs +
       ["-lm", "-pthread", "-o", f"{build}/bench_unet"])

    peak_out = sh([f"{build}/fma_peak", str(a.threads)])
    m = re.findall(r"peak, (\d+) threads?: +([\d.]+) GFLOP/s \(wall clock", peak_out)
    peak = float(m[-1][1]) if m else float(re.findall(r"([\d.]+) GFLOP/s \(wall clock", peak_out)[0])
    env = dict(os.environ, AX_THREADS=str(a.threads))
    ax = [json.loads(l) for l in sh([f"{build}/bench_unet", str(a.reps)], env=env).splitlines() if l.startswith("{")]

    import bench_torch  # PyTorch after axon: the two never run at the same time
    pt = bench_torch.bench(threads=a.threads, reps=a.reps)

    print(f"reference U-Net, input 32x196x196 -> 3x12x156x156, {a.threads} threads, "
          f"fp32 FMA peak {peak:.1f} GFLOP/s (wall clock, {a.threads} threads)")
    print("GFLOP/s = direct-convolution FLOPs / time (effective: Winograd does fewer multiplies)")
    print(f"{'mode':<10} {'engine':<8} {'min s':>8} {'median s':>9} {'Mvox/s':>8} {'GFLOP/s':>8} "
          f"{'eff.%pk':>7} {'peak MiB':>9}")
    rows = []
    for mode in ("inference", "train"):
        r_ax = norm(next(r for r in ax if r["mode"] == mode))
        r_pt = norm(next(r for r in pt if r["mode"] == mode))
        for name, r in (("axon", r_ax), ("pytorch", r_pt)):
            gf, mvox, rss = r["gflops"], r["voxels_per_s"] / 1e6, r["peak_rss_mib"]
            print(f"{mode:<10} {name:<8} {r['min_s']:>8.3f} {r['median_s']:>9.3f} {mvox:>8.3f} "
                  f"{gf:>8.1f} {100 * gf / peak:>6.1f}% {rss:>9.0f}")
        ratio = r_pt["min_s"] / r_ax["min_s"]
        print(f"{mode:<10} axon / PyTorch speed: {ratio:.2f}x (min over {a.reps} repeats; "
              f"medians {r_pt['median_s'] / r_ax['median_s']:.2f}x)")
        rows.append({"mode": mode, "axon": r_ax, "pytorch": r_pt, "ratio_min": ratio,
                     "ratio_median": r_pt["median_s"] / r_ax["median_s"], "fma_peak_gflops": peak})
    with open(os.path.join(build, "bench_cnn.json"), "w") as f:
        json.dump(rows, f, indent=1)
    if a.layers:
        if not os.path.exists("/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h"):
            print("--layers: needs libopenblas-dev (apt-get install libopenblas-dev)")
            return
        sh(["cc", "-O2", "-Iinclude", "-Isrc", "-I/usr/include/x86_64-linux-gnu/openblas-pthread",
            "-o", f"{build}/conv_layers", "bench/cnn/conv_layers.c", f"{build}/libaxon.a"] + libs +
           ["-lopenblas", "-lm", "-pthread"])
        print(sh([f"{build}/conv_layers", "--threads", f"1,{a.threads}", "--reps", "3", "--passes", "fdw"]))


if __name__ == "__main__":
    main()
