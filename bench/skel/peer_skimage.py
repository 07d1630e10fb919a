#!/usr/bin/env python3
"""bench/skel peer: scikit-image's 3-d skeletonization (Lee et al. 1994 thinning, not TEASAR)
of every object of a label volume with at least --dust voxels, each object's binary mask in
its bounding box (as `axon skeletonize` cuts it).

One timed repeat: read the labels (h5py), find each object's voxel count and bounding box
(np.bincount + scipy.ndimage.find_objects), then skeletonize the objects, split over --procs
forked worker processes (skimage itself is single-threaded), largest objects first.
Prints one JSON line: {"seconds": [...], "objects": N, "skeleton_voxels": V, "voxels": total,
"skimage": version, "function": name}.
Usage: peer_skimage.py FILE.h5 DATASET [--reps N] [--procs P] [--dust D]
"""
import argparse
import json
import multiprocessing as mp
import sys
import time

import h5py
import numpy as np
import skimage
from scipy import ndimage as ndi

try:  # skimage < 0.23: the 3-d thinning has its own name
    from skimage.morphology import skeletonize_3d as _skel
    FUNC = "skimage.morphology.skeletonize_3d"
except ImportError:  # newer: skeletonize picks Lee's method for 3-d input
    from skimage.morphology import skeletonize as _sk

    def _skel(m):
        return _sk(m, method="lee")
    FUNC = "skimage.morphology.skeletonize(method='lee')"

G = {}  # the label volume, inherited by the forked workers


def objects(lab, dust):
    """[(label, bounding-box slices)] of the labels with >= dust voxels, largest first."""
    if lab.max() > 50_000_000:  # sparse ids: relabel densely first (0 stays 0)
        _, inv = np.unique(lab, return_inverse=True)
        dense = inv.reshape(lab.shape).astype(np.int64) + 1
        dense[lab == 0] = 0
        lab = dense
    else:
        lab = lab.astype(np.int64, copy=False)
    counts = np.bincount(lab.ravel())
    sl = ndi.find_objects(lab)
    out = [(k, s) for k, s in enumerate(sl, start=1) if s is not None and counts[k] >= dust]
    out.sort(key=lambda o: -counts[o[0]])
    return lab, out


def one(task):
    k, s = task
    return int(np.count_nonzero(_skel(G["lab"][s] == k)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("dataset")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--dust", type=int, default=1000)
    a = ap.parse_args()
    ctx = mp.get_context("fork")
    times, nobj, nsk, nvox = [], 0, 0, 0
    for _ in range(a.reps):
        t0 = time.perf_counter()
        with h5py.File(a.file, "r") as f:
            lab = f[a.dataset][...]
        nvox = lab.size
        lab, objs = objects(lab, a.dust)
        G["lab"] = lab
        if a.procs > 1:
            with ctx.Pool(a.procs) as pool:
                res = list(pool.imap_unordered(one, objs, chunksize=1))
        else:
            res = [one(o) for o in objs]
        times.append(time.perf_counter() - t0)
        nobj, nsk = len(objs), sum(res)
    print(json.dumps({"seconds": times, "objects": nobj, "skeleton_voxels": nsk, "voxels": nvox,
                      "skimage": skimage.__version__, "function": FUNC}))


if __name__ == "__main__":
    sys.exit(main())
