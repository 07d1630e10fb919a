#!/usr/bin/env python3
"""Watershed + agglomeration on the gala training sample, scored by skimage.

Pipeline, all through the axon CLI: boundary probabilities (train-p1) -> affinities
computed here with numpy (min rule: aff(p, q) = 1 - max(b_p, b_q), channel c linking
voxel p to p - e_c) -> `axon watershed` -> `axon agglomerate --thresholds ...`. The
outputs are read back with h5py/zarr and scored against train-gt with
skimage.metrics.variation_of_information (VOI = H(seg|gt) + H(gt|seg), bits) over the
voxels where gt != 0 (gala's gt marks boundaries 0); segmentation label 0 counts as one
label there, as skimage does.

What must hold (the issue's test): VOI falls as the threshold rises through the low
thresholds, and the best threshold beats the raw watershed fragments. The figures are
printed for the record. Also: a block-wise run with odd blocks gives the same volumes,
and bad input (wrong channel count, shape mismatch) fails with a clear message.
Run: AXON=build/axon /usr/bin/python3 tests/interop/test_agglomerate.py
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import zarr
from skimage.metrics import variation_of_information

AXON = os.environ.get("AXON", "build/axon")
DATA = os.environ.get("AX_DATA", "../shared/data")
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL", what)


def axon(*args, ok=True):
    r = subprocess.run([AXON, "--quiet", *args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise RuntimeError(f"axon {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


def affs_min(b):
    a = np.zeros((3,) + b.shape, np.float32)
    a[0, 1:] = 1 - np.maximum(b[1:], b[:-1])
    a[1, :, 1:] = 1 - np.maximum(b[:, 1:], b[:, :-1])
    a[2, :, :, 1:] = 1 - np.maximum(b[:, :, 1:], b[:, :, :-1])
    return a


def main():
    p1 = os.path.join(DATA, "gala/train-p1.lzf.h5")
    gtp = os.path.join(DATA, "gala/train-gt.lzf.h5")
    if not (os.path.exists(p1) and os.path.exists(gtp)):
        print("skip: gala data not found (set AX_DATA)")
        return 0
    b = h5py.File(p1, "r")["stack"][:].astype(np.float32)
    gt = h5py.File(gtp, "r")["stack"][:].astype(np.uint64)
    mask = gt != 0

    def voi(seg):
        split, merge = variation_of_information(gt[mask], seg[mask])  # H(seg|gt), H(gt|seg)
        return split + merge, split, merge

    with tempfile.TemporaryDirectory() as tmp:
        aff_path = os.path.join(tmp, "affs.h5")
        with h5py.File(aff_path, "w") as f:
            f.create_dataset("affs", data=affs_min(b), chunks=(3, 25, 50, 50))
        frag = os.path.join(tmp, "frag.zarr")
        axon("watershed", aff_path + ":affs", frag, "--chunks", "25,50,50")
        fr = zarr.open(frag, "r")[:]
        ths = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        out = os.path.join(tmp, "seg_{t}.zarr")
        axon("agglomerate", aff_path + ":affs", frag, out, "--thresholds",
             ",".join(map(str, ths)))
        v0 = voi(fr)
        print(f"fragments: {len(np.unique(fr))} ids, VOI {v0[0]:.3f} "
              f"(split {v0[1]:.3f}, merge {v0[2]:.3f})")
        vs = []
        for t in ths:
            s = zarr.open(out.replace("{t}", f"{t:g}"), "r")[:]
            v = voi(s)
            vs.append(v[0])
            print(f"threshold {t}: {len(np.unique(s))} ids, VOI {v[0]:.3f} "
                  f"(split {v[1]:.3f}, merge {v[2]:.3f})")
        check(vs[0] <= v0[0] + 1e-9, "threshold 0.1 no worse than the fragments")
        check(all(vs[i + 1] < vs[i] for i in range(4)), "VOI falls across thresholds 0.1..0.5")
        best = int(np.argmin(vs))
        print(f"best: threshold {ths[best]}, VOI {vs[best]:.3f} vs fragments {v0[0]:.3f}")
        check(vs[best] < v0[0] - 0.3, "the best threshold beats the fragments clearly")

        # block-wise with odd blocks: the same volumes
        frag2 = os.path.join(tmp, "frag2.zarr")
        axon("watershed", aff_path + ":affs", frag2, "--block", "13,27,41", "--chunks", "25,50,50")
        check(np.array_equal(zarr.open(frag2, "r")[:], fr), "watershed with odd blocks")
        out2 = os.path.join(tmp, "seg2.zarr")
        axon("agglomerate", aff_path + ":affs", frag2, out2, "--thresholds", "0.5",
             "--block", "19,23,31")
        check(np.array_equal(zarr.open(out2, "r")[:],
                             zarr.open(out.replace("{t}", "0.5"), "r")[:]),
              "agglomeration with odd blocks")

        # bad input: two channels, shape mismatch, NaN
        with h5py.File(aff_path, "a") as f:
            f.create_dataset("two", data=affs_min(b)[:2])
            f.create_dataset("small", data=affs_min(b[:, :50]))
            a = affs_min(b)
            a[1, 10, 20, 30] = np.nan
            f.create_dataset("nan", data=a)
        r = axon("watershed", aff_path + ":two", os.path.join(tmp, "x.zarr"), ok=False)
        check(r.returncode == 1 and "(3, z, y, x)" in r.stderr, f"2 channels: {r.stderr}")
        r = axon("agglomerate", aff_path + ":small", frag, os.path.join(tmp, "y.zarr"),
                 "--thresholds", "0.5", ok=False)
        check(r.returncode == 1 and "shapes differ" in r.stderr, f"shape mismatch: {r.stderr}")
        check(not os.path.exists(os.path.join(tmp, "y.zarr")), "no output after a failure")
        r = axon("watershed", aff_path + ":nan", os.path.join(tmp, "z.zarr"), ok=False)
        check(r.returncode == 1 and "NaN" in r.stderr and "z=10, y=20, x=30" in r.stderr,
              f"NaN: {r.stderr}")
        check(not os.path.exists(os.path.join(tmp, "z.zarr")), "no output after NaN")
    print("ok" if failures == 0 else f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
