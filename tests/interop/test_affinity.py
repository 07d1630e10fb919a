#!/usr/bin/env python3
"""Affinities and the mutex watershed against independent numpy/scipy code, through
ctypes on $BUILD/libaxon.so:

- ax_affinities_from_boundary (min and mean) and ax_affinities_from_labels (long-range and
  positive offsets) equal numpy slicing bit for bit (aff[c][p] links p to p + o_c, edges
  leaving the volume stored as 0);
- ax_mutex_watershed equals a plain-Python mutex watershed (sorted edge list, weights aff
  for attractive and 1 - aff for repulsive channels, ties by channel then voxel) on small
  random graphs;
- on ground-truth affinities of a FlyEM medulla crop (nearest offsets attractive, nearest +
  long-range repulsive) it returns exactly the 6-connected components of each body
  (scipy.ndimage.label), when the data is present ($AX_DATA).
Run: BUILD=build /usr/bin/python3 tests/interop/test_affinity.py
"""
import ctypes as C
import os
import sys

import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axon_ctypes import load_lib  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
DATA = os.environ.get("AX_DATA", "../shared/data")
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL", what)


def load_seg(lib):
    """Signatures of the affinity and mutex watershed functions (include/axon/seg.h)."""
    i64p, f32p, u64p = C.POINTER(C.c_int64), C.POINTER(C.c_float), C.POINTER(C.c_uint64)
    lib.ax_affinities_from_boundary.argtypes = [f32p, i64p, C.c_int, f32p]
    lib.ax_affinities_from_labels.argtypes = [u64p, i64p, i64p, C.c_int, f32p]
    lib.ax_mutex_watershed.argtypes = [f32p, i64p, i64p, C.c_int, C.c_int, i64p, u64p, u64p]
    return lib


def ptr(a, t):
    return a.ctypes.data_as(C.POINTER(t))


def shape_arg(shape):
    return np.ascontiguousarray(shape, dtype=np.int64)


def ax_boundary(lib, b, mode):
    aff = np.empty((3,) + b.shape, np.float32)
    s = shape_arg(b.shape)
    rc = lib.ax_affinities_from_boundary(ptr(b, C.c_float), ptr(s, C.c_int64), mode,
                                         ptr(aff, C.c_float))
    assert rc == 0, lib.ax_errmsg()
    return aff


def ax_labels(lib, lab, offsets):
    off = np.ascontiguousarray(offsets, dtype=np.int64)
    aff = np.empty((len(offsets),) + lab.shape, np.float32)
    s = shape_arg(lab.shape)
    rc = lib.ax_affinities_from_labels(ptr(lab, C.c_uint64), ptr(s, C.c_int64),
                                       ptr(off, C.c_int64), len(offsets), ptr(aff, C.c_float))
    assert rc == 0, lib.ax_errmsg()
    return aff


def ax_mws(lib, aff, offsets, n_att, strides=None):
    off = np.ascontiguousarray(offsets, dtype=np.int64)
    s = shape_arg(aff.shape[1:])
    seg = np.empty(aff.shape[1:], np.uint64)
    n = C.c_uint64(0)
    st = None if strides is None else np.ascontiguousarray(strides, dtype=np.int64)
    rc = lib.ax_mutex_watershed(ptr(aff, C.c_float), ptr(s, C.c_int64), ptr(off, C.c_int64),
                                len(offsets), n_att,
                                None if st is None else ptr(st, C.c_int64),
                                ptr(seg, C.c_uint64), C.byref(n))
    assert rc == 0, lib.ax_errmsg()
    return seg, n.value


def pair_slices(shape, o):
    """slices P, Q with Q = P + o, both inside the volume"""
    p = tuple(slice(max(-d, 0), n - max(d, 0)) for d, n in zip(o, shape))
    q = tuple(slice(max(d, 0), n - max(-d, 0)) for d, n in zip(o, shape))
    return p, q


def np_labels(lab, offsets):
    aff = np.zeros((len(offsets),) + lab.shape, np.float32)
    for c, o in enumerate(offsets):
        if any(abs(d) >= n for d, n in zip(o, lab.shape)):
            continue
        p, q = pair_slices(lab.shape, o)
        aff[c][p] = (lab[p] == lab[q]) & (lab[p] != 0)
    return aff


def np_boundary(b, mode):
    aff = np.zeros((3,) + b.shape, np.float32)
    one, half = np.float32(1), np.float32(0.5)
    for c, o in enumerate([(-1, 0, 0), (0, -1, 0), (0, 0, -1)]):
        p, q = pair_slices(b.shape, o)
        aff[c][p] = one - np.maximum(b[p], b[q]) if mode == 0 else one - (b[p] + b[q]) * half
    return aff


def py_mws(aff, offsets, n_att, strides=None):
    """the mutex watershed written plainly: sort, then clusters as sets"""
    shape = aff.shape[1:]
    n = int(np.prod(shape))
    idx = np.arange(n).reshape(shape)
    edges = []
    for c, o in enumerate(offsets):
        if any(abs(d) >= m for d, m in zip(o, shape)):
            continue
        p, q = pair_slices(shape, o)
        a = aff[c][p]
        w = a if c < n_att else np.float32(1) - a
        pu, qv = idx[p], idx[q]
        keep = np.ones(pu.shape, bool)
        if c >= n_att and strides is not None:
            zz, yy, xx = np.unravel_index(pu, shape)
            keep = (zz % strides[0] == 0) & (yy % strides[1] == 0) & (xx % strides[2] == 0)
        for wi, u, v in zip(w[keep].ravel(), pu[keep].ravel(), qv[keep].ravel()):
            edges.append((-float(wi), c, int(u), int(v)))
    edges.sort()
    cl = list(range(n))
    members = {i: {i} for i in range(n)}
    mutex = {i: set() for i in range(n)}
    for _, c, u, v in edges:
        a, b = cl[u], cl[v]
        if a == b or b in mutex[a]:
            continue
        if c >= n_att:
            mutex[a].add(b)
            mutex[b].add(a)
            continue
        for m in members[b]:
            cl[m] = a
        members[a] |= members.pop(b)
        for x in mutex.pop(b):
            mutex[x].discard(b)
            mutex[x].add(a)
            mutex[a].add(x)
    out, lab = np.zeros(n, np.uint64), {}
    for i in range(n):
        out[i] = lab.setdefault(cl[i], len(lab) + 1)
    return out.reshape(shape)


def cc_partition(lab):
    """6-connected components of each non-zero label, each 0 voxel alone, numbered in
    raster order of first voxel"""
    comp = np.zeros(lab.shape, np.int64)
    nxt = 0
    for v in np.unique(lab):
        if v == 0:
            continue
        c, k = ndimage.label(lab == v)
        comp[c > 0] = c[c > 0] + nxt
        nxt += k
    zero = lab == 0
    comp[zero] = nxt + 1 + np.arange(int(zero.sum()))
    _, first, inv = np.unique(comp.ravel(), return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return (order[inv] + 1).reshape(lab.shape).astype(np.uint64)


def main():
    lib = load_seg(load_lib(BUILD))
    rng = np.random.default_rng(1)

    b = (rng.integers(0, 1025, (9, 14, 17)) / 1024).astype(np.float32)
    for mode in (0, 1):
        check(np.array_equal(ax_boundary(lib, b, mode), np_boundary(b, mode)),
              f"boundary mode {mode} equals numpy")
    lab = rng.integers(0, 4, (9, 14, 17)).astype(np.uint64)
    offs = [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (-3, 0, 0), (0, -9, 0), (2, -4, 5),
            (0, 3, 0), (0, 0, 17), (-6, 12, -16)]
    check(np.array_equal(ax_labels(lib, lab, offs), np_labels(lab, offs)),
          "labels with long-range offsets equal numpy")

    trials = 0
    for t in range(25):
        shape = tuple(int(x) for x in rng.integers(1, [4, 7, 8]))
        C_ = int(rng.integers(1, 7))
        na = int(rng.integers(1, C_ + 1))
        offsets = [tuple(int(x) for x in rng.integers(-2, 3, 3)) for _ in range(C_)]
        for c in range(min(3, na)):
            offsets[c] = [(-1, 0, 0), (0, -1, 0), (0, 0, -1)][c]
        levels = [4, 0][t % 2]
        a = rng.random((C_,) + shape).astype(np.float32)
        if levels:
            a = (np.floor(a * (levels + 1)) / levels).astype(np.float32)
        strides = (1, 2, 2) if t % 3 == 0 else None
        got, n = ax_mws(lib, a, offsets, na, strides)
        want = py_mws(a, offsets, na, strides)
        trials += 1
        check(np.array_equal(got, want) and n == want.max(),
              f"mws trial {t} {shape} C={C_} na={na} equals the Python version")
    print(f"  {trials} random graphs match the Python mutex watershed")

    path = os.path.join(DATA, "flyem_medulla/medulla_z0-149.h5")
    if os.path.exists(path):
        import h5py
        with h5py.File(path, "r") as f:
            gt = np.ascontiguousarray(f["gt_bodies"][90:110, 120:220, 20:120]).astype(np.uint64)
        offsets = [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (-1, 0, 0), (0, -1, 0), (0, 0, -1),
                   (-3, 0, 0), (0, -9, 0), (0, 0, -9), (-2, -5, 5)]
        aff = ax_labels(lib, gt, offsets)
        check(np.array_equal(aff, np_labels(gt, offsets)), "medulla gt affinities equal numpy")
        seg, n = ax_mws(lib, aff, offsets, 3)
        cc = cc_partition(gt)
        check(np.array_equal(seg, cc), "mws on gt affinities = 6-connected components")
        print(f"  medulla 20x100x100: {int(cc.max())} components, mws {n} segments")
    else:
        print(f"  skip medulla: {path} not found")

    print(f"affinity interop: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
