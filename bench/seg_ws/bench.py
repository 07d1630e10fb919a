#!/usr/bin/env python3
"""Watershed + agglomeration: axon vs the Python a user would write instead.

Data: a synthetic cell-like boundary map of N^3 voxels (smoothed noise: cells around its
minima, membranes on its ridges), turned into nearest-neighbour affinities with the min
rule (aff(p, p - e_c) = 1 - max(b_p, b_{p-e_c})). Both sides get the same affinities.

- axon: `axon watershed` (zwatershed, block-wise) then `axon agglomerate --merge-function
  mean --thresholds T` on zarr volumes, each a whole process timed from outside, with
  peak RSS from /usr/bin/time -v.
- peer: skimage.segmentation.watershed on the boundary map (1 - mean affinity of a
  voxel's edges; markers = its regional minima, the same flooding idea), then a mean-
  affinity agglomeration in Python (region graph with numpy, merging with heapq, the
  waterz loop), in one process from .npy files, also under /usr/bin/time -v.
Both report their in-process compute time too. Sizes 128^3 and 256^3 run both; 512^3
runs axon only (the Python peer needs > 20 GB there), to show how axon grows.
Usage: bench.py --axon build/axon [--sizes 128,256,512] [--workdir DIR]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

THRESHOLDS = [0.3, 0.5]


def make_boundary(n, seed=0):
    from scipy.ndimage import gaussian_filter
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, n, n)).astype(np.float32)
    s = gaussian_filter(noise, 3.0)
    s -= s.min()
    s /= s.max()
    # membranes where the smoothed field is high: a steep sigmoid
    b = 1.0 / (1.0 + np.exp(-(s - 0.55) * 25.0))
    return b.astype(np.float32)


def affs_min(b):
    a = np.zeros((3,) + b.shape, np.float32)
    a[0, 1:] = 1 - np.maximum(b[1:], b[:-1])
    a[1, :, 1:] = 1 - np.maximum(b[:, 1:], b[:, :-1])
    a[2, :, :, 1:] = 1 - np.maximum(b[:, :, 1:], b[:, :, :-1])
    return a


PEER = r'''
import heapq, json, sys, time
import numpy as np
from skimage.segmentation import watershed
aff = np.load(sys.argv[1], mmap_mode="r")
ths = [float(t) for t in sys.argv[2].split(",")]
t0 = time.perf_counter()
aff = np.ascontiguousarray(aff)
# boundary: 1 - mean of the voxel's incident edges (both the stored and the next voxel's)
n = aff.shape[1:]
s = np.zeros(n, np.float32); k = np.zeros(n, np.float32)
s += aff[0]; s[:-1] += aff[0, 1:]; s += aff[1]; s[:, :-1] += aff[1, :, 1:]
s += aff[2]; s[:, :, :-1] += aff[2, :, :, 1:]
k += 6; k[0] -= 1; k[-1] -= 1; k[:, 0] -= 1; k[:, -1] -= 1; k[:, :, 0] -= 1; k[:, :, -1] -= 1
bnd = 1 - s / k
frag = watershed(bnd).astype(np.uint64)
t_ws = time.perf_counter() - t0
# region graph: sum and count of affinities per fragment pair
keys = []; ws = []
for c in range(3):
    a = frag[(slice(1, None) if c == 0 else slice(None),
              slice(1, None) if c == 1 else slice(None),
              slice(1, None) if c == 2 else slice(None))]
    b = frag[(slice(None, -1) if c == 0 else slice(None),
              slice(None, -1) if c == 1 else slice(None),
              slice(None, -1) if c == 2 else slice(None))]
    w = aff[c][(slice(1, None) if c == 0 else slice(None),
                slice(1, None) if c == 1 else slice(None),
                slice(1, None) if c == 2 else slice(None))]
    m = a != b
    u = np.minimum(a[m], b[m]); v = np.maximum(a[m], b[m])
    keys.append(u * np.uint64(1 << 32) + v); ws.append(w[m])
keys = np.concatenate(keys); ws = np.concatenate(ws).astype(np.float64)
uk, inv = np.unique(keys, return_inverse=True)
sums = np.bincount(inv, weights=ws); cnts = np.bincount(inv).astype(np.float64)
nf = int(frag.max())
adj = [dict() for _ in range(nf + 1)]
heap = []
for key, sm, ct in zip(uk.tolist(), sums.tolist(), cnts.tolist()):
    u, v = key >> 32, key & 0xffffffff
    adj[u][v] = [sm, ct]; adj[v][u] = adj[u][v]
    heapq.heappush(heap, (1 - sm / ct, u, v))
parent = list(range(nf + 1))
def find(x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]; x = parent[x]
    return x
outs = []
for th in sorted(ths):
    while heap and heap[0][0] < th:
        sc, u, v = heapq.heappop(heap)
        if parent[u] != u or parent[v] != v or v not in adj[u]: continue
        e = adj[u][v]
        if abs(1 - e[0] / e[1] - sc) > 1e-12: continue   # stale
        if len(adj[u]) < len(adj[v]): u, v = v, u
        parent[v] = u
        del adj[u][v]; del adj[v][u]
        for w_, ev in adj[v].items():
            del adj[w_][v]
            if w_ in adj[u]:
                f = adj[u][w_]; f[0] += ev[0]; f[1] += ev[1]
            else:
                adj[u][w_] = ev; adj[w_][u] = ev; f = ev
            heapq.heappush(heap, (1 - f[0] / f[1], u, w_))
        adj[v] = {}
    lut = np.array([find(i) for i in range(nf + 1)], np.uint64)
    outs.append(int(len(np.unique(lut[1:]))))
    seg = lut[frag]
t_all = time.perf_counter() - t0
print(json.dumps({"fragments": nf, "segments": outs, "ws_s": t_ws, "total_s": t_all}))
'''


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return dt, int(m.group(1)) / 1024 if m else float("nan"), r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--axon", default="build/axon")
    ap.add_argument("--sizes", default="128,256,512")
    ap.add_argument("--peer-max", type=int, default=256)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    import zarr
    wd = a.workdir or tempfile.mkdtemp(prefix="axon-bench-seg-")
    os.makedirs(wd, exist_ok=True)
    th = ",".join(map(str, THRESHOLDS))
    nthreads = subprocess.run([a.axon, "version"], capture_output=True, text=True).stdout
    print(f"# watershed + mean agglomeration (thresholds {th}); {nthreads.splitlines()[-1]}")
    rows = []
    for n in [int(s) for s in a.sizes.split(",")]:
        zp = os.path.join(wd, f"affs{n}.zarr")
        npy = os.path.join(wd, f"affs{n}.npy")
        if not os.path.exists(zp):
            aff = affs_min(make_boundary(n))
            zarr.open(zp, "w", shape=aff.shape, chunks=(3, 64, 64, 64), dtype="f4",
                      compressor=None)[:] = aff
            if n <= a.peer_max:
                np.save(npy, aff)
            del aff
        frag = os.path.join(wd, f"frag{n}.zarr")
        seg = os.path.join(wd, f"seg{n}_{{t}}.zarr")
        t_ws, rss_ws, out_ws = timed([a.axon, "watershed", zp, frag, "--overwrite",
                                      "--size-threshold", "0", "--dust", "0"])
        t_ag, rss_ag, out_ag = timed([a.axon, "agglomerate", zp, frag, seg, "--thresholds", th,
                                      "--overwrite"])
        nfrag = re.search(r": (\d+) segments", out_ws)
        row = {"n": n, "axon_ws_s": t_ws, "axon_agg_s": t_ag, "axon_s": t_ws + t_ag,
               "axon_rss_mib": max(rss_ws, rss_ag),
               "axon_fragments": int(nfrag.group(1)) if nfrag else None}
        if n <= a.peer_max:
            pf = os.path.join(wd, "peer.py")
            with open(pf, "w") as f:
                f.write(PEER)
            t_p, rss_p, out_p = timed([sys.executable, pf, npy, th])
            pj = json.loads(out_p.strip().splitlines()[-1])
            row.update({"peer_s": t_p, "peer_compute_s": pj["total_s"], "peer_rss_mib": rss_p,
                        "peer_fragments": pj["fragments"], "ratio": t_p / (t_ws + t_ag)})
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| size | axon ws + agg (s) | axon peak RSS | peer skimage + Python (s) | peer peak RSS | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        peer = f"{r['peer_s']:.2f}" if "peer_s" in r else "-"
        prss = f"{r['peer_rss_mib']:.0f} MiB" if "peer_rss_mib" in r else "-"
        ratio = f"{r['ratio']:.1f}x" if "ratio" in r else "-"
        print(f"| {r['n']}^3 | {r['axon_ws_s']:.2f} + {r['axon_agg_s']:.2f} | "
              f"{r['axon_rss_mib']:.0f} MiB | {peer} | {prss} | {ratio} |")


if __name__ == "__main__":
    main()
