#!/usr/bin/env python3
"""`axon erl` against an independent Python implementation of funlib.evaluate's
expected_run_length, on skeletons that `axon skeletonize` makes of the bundled sample's
ground truth (SWC files), for segmentations built from that ground truth by hand:

- the ground truth itself: ERL equals the perfect score sum_s L_s^2 / L;
- two large bodies merged into one id: both count zero;
- a body cut in two at a z plane: its run splits;
- a slab of voxels set to 0: the edges there are omitted.
The reference reads the SWC files itself, looks each vertex up at floor((p - offset) /
voxel size), and sums per (skeleton, segment) as funlib does.
Run: BUILD=build /usr/bin/python3 tests/interop/test_erl.py
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import zarr

BUILD = os.environ.get("BUILD", "build")
A = os.path.join(BUILD, "axon")
S = "data/sample/medulla_z120-149.h5"
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def read_swc(path):
    verts, parents, ids = [], [], []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split()
        ids.append(int(f[0]))
        verts.append((float(f[2]), float(f[3]), float(f[4])))
        parents.append(int(f[6]))
    index = {i: k for k, i in enumerate(ids)}
    edges = [(index[p], k) for k, p in enumerate(parents) if p != -1]
    return np.array(verts, np.float64), edges


def reference_erl(skels, seg, voxel, offset):
    lut = []
    for verts, _ in skels:
        q = np.floor((verts[:, ::-1] - offset) / voxel).astype(np.int64)  # x y z -> z y x
        inside = np.all((q >= 0) & (q < seg.shape), axis=1)
        ids = np.zeros(len(verts), np.uint64)
        ids[inside] = seg[q[inside, 0], q[inside, 1], q[inside, 2]]
        lut.append(ids)
    owners = {}
    for s, ids in enumerate(lut):
        for g in set(int(x) for x in ids if x):
            owners.setdefault(g, set()).add(s)
    merged = {g for g, o in owners.items() if len(o) > 1}
    total, sq, perfect = 0.0, 0.0, 0.0
    for s, (verts, edges) in enumerate(skels):
        per = {}
        Ls = 0.0
        for a, b in edges:
            l = float(np.linalg.norm(verts[a] - verts[b]))
            Ls += l
            ga, gb = int(lut[s][a]), int(lut[s][b])
            if ga and ga == gb and ga not in merged:
                per[ga] = per.get(ga, 0.0) + l
        total += Ls
        perfect += Ls * Ls
        sq += sum(v * v for v in per.values())
    return sq / total, perfect / total, len(merged)


with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([A, "--quiet", "skeletonize", f"{S}:gt_bodies", f"{tmp}/swc"], check=True)
    names = sorted(n for n in os.listdir(f"{tmp}/swc") if n.endswith(".swc"))
    skels = [read_swc(f"{tmp}/swc/{n}") for n in names]
    check(len(skels) > 20, f"{len(skels)} ground-truth skeletons")
    with h5py.File(S, "r") as f:
        gt = f["gt_bodies"][:]
    info = json.loads(subprocess.run([A, "info", "--json", f"{S}:gt_bodies"], check=True, capture_output=True,
                                     text=True).stdout)
    voxel = np.array(info.get("voxel_size", [1, 1, 1]), np.float64)
    offset = np.array(info.get("offset", [0, 0, 0]), np.float64)

    ids, counts = np.unique(gt[gt != 0], return_counts=True)
    big = ids[np.argsort(-counts)[:3]]
    cases = {"ground truth": gt.copy()}
    m = gt.copy(); m[m == big[1]] = big[0]; cases["two bodies merged"] = m
    s = gt.copy(); s[(s == big[2]) & (np.arange(gt.shape[0])[:, None, None] >= 15)] = gt.max() + 1; cases["a body cut at z=15"] = s
    o = gt.copy(); o[10:14] = 0; cases["slab z10-13 unsegmented"] = o
    for name, seg in cases.items():
        path = f"{tmp}/seg.zarr"
        z = zarr.open(path, mode="w", shape=seg.shape, chunks=(30, 64, 64), dtype="u8")
        z[...] = seg
        z.attrs["resolution"] = voxel.tolist()
        z.attrs["offset"] = offset.tolist()
        out = subprocess.run([A, "erl", "--seg", path, "--skeletons", f"{tmp}/swc", "--json"], check=True,
                             capture_output=True, text=True).stdout
        got = json.loads(out)
        ref, perfect, merges = reference_erl(skels, seg, voxel, offset)
        ok = abs(got["erl_nm"] - ref) <= 1e-5 * max(ref, 1) and abs(got["max_erl_nm"] - perfect) <= 1e-5 * perfect
        check(ok and got["merges"] == merges,
              f"{name}: ERL {got['erl_nm']:.1f} nm = reference {ref:.1f} (perfect {perfect:.1f}, merges {merges})")
        if name == "ground truth":
            check(abs(got["erl_nm"] - got["max_erl_nm"]) < 1e-6 * perfect, "the ground truth scores the perfect ERL")

sys.exit(1 if failures else 0)
