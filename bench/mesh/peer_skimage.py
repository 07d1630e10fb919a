#!/usr/bin/env python3
"""bench/mesh peer: scikit-image's marching cubes (skimage.measure.marching_cubes, Lewiner)
of every non-zero label of a label volume, each object's binary mask in its bounding box
padded by one voxel (so every surface closes), level 0.5, spacing = the voxel size. No
simplification (skimage has none).

One timed repeat: read the labels (h5py), find each object's bounding box
(scipy.ndimage.find_objects), then mesh the objects, split over --procs forked worker
processes (skimage itself is single-threaded), largest boxes first.
Prints one JSON line: {"seconds": [...], "objects": N, "triangles": T, "skimage": version}.
Usage: peer_skimage.py FILE.h5 DATASET [--reps N] [--procs P]
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
from skimage.measure import marching_cubes

G = {}  # the label volume and voxel size, inherited by the forked workers


def objects(lab):
    """(int64 labels, [(label, bounding-box slices)] of the non-zero labels, largest box first)."""
    if lab.max() > 50_000_000:  # sparse ids: relabel densely first (0 stays 0)
        _, inv = np.unique(lab, return_inverse=True)
        dense = inv.reshape(lab.shape).astype(np.int64) + 1
        dense[lab == 0] = 0
        lab = dense
    else:
        lab = lab.astype(np.int64, copy=False)
    sl = ndi.find_objects(lab)
    out = [(k, s) for k, s in enumerate(sl, start=1) if s is not None]
    out.sort(key=lambda o: -np.prod([x.stop - x.start for x in o[1]]))
    return lab, out


def one(task):
    k, s = task
    m = np.pad(G["lab"][s] == k, 1).astype(np.float32)
    _, faces, _, _ = marching_cubes(m, 0.5, spacing=G["spacing"])
    return len(faces)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("dataset")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--procs", type=int, default=2)
    a = ap.parse_args()
    ctx = mp.get_context("fork")
    times, nobj, ntri = [], 0, 0
    for _ in range(a.reps):
        t0 = time.perf_counter()
        with h5py.File(a.file, "r") as f:
            d = f[a.dataset]
            lab = d[...]
            res = d.attrs.get("resolution", (1.0, 1.0, 1.0))
        G["spacing"] = tuple(float(x) for x in res)
        lab, objs = objects(lab)
        G["lab"] = lab
        if a.procs > 1:
            with ctx.Pool(a.procs) as pool:
                tris = list(pool.imap_unordered(one, objs, chunksize=1))
        else:
            tris = [one(o) for o in objs]
        times.append(time.perf_counter() - t0)
        nobj, ntri = len(objs), sum(tris)
    print(json.dumps({"seconds": times, "objects": nobj, "triangles": ntri,
                      "skimage": skimage.__version__}))


if __name__ == "__main__":
    sys.exit(main())
