#!/usr/bin/env python3
"""ISBI 2012 section scores (ax_section_cells, ax_section_grow, ax_eval_section) against
independent numpy/scipy code, through ctypes on $BUILD/libaxon.so:

- the cells of a mask are scipy.ndimage.label's 4-connected components (raster order);
- the border growth equals a plain-Python breadth-first growth with the documented order;
- pixel error, foreground-restricted Rand error (1 - V_rand with
  V_rand = sum p_ij^2 / (0.5 sum s_i^2 + 0.5 sum t_j^2)), information error
  (1 - 2 I / (H(S) + H(T))) and VOI split/merge equal the formulas of Arganda-Carreras et
  al. 2015 evaluated with numpy, on ISBI 2012 label sections ($AX_DATA) with synthetic
  boundary maps (blurred membranes plus noise) at several thresholds, and on random masks;
- a boundary map equal to the labels scores 0 on every error.
Run: BUILD=build /usr/bin/python3 tests/interop/test_eval2d.py
"""
import ctypes as C
import os
import sys
from collections import deque

import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axon_ctypes import load_lib  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
DATA = os.environ.get("AX_DATA", "../shared/data")
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


class Scores(C.Structure):
    _fields_ = [("pixel_error", C.c_double), ("rand_error", C.c_double), ("info_error", C.c_double),
                ("voi_split", C.c_double), ("voi_merge", C.c_double), ("pixels", C.c_uint64),
                ("scored", C.c_uint64), ("cells", C.c_uint64)]


lib = load_lib(BUILD)
vp = C.c_void_p
lib.ax_section_cells.restype = C.c_int64
lib.ax_section_cells.argtypes = [vp, C.c_int64, C.c_int64, vp]
lib.ax_section_grow.argtypes = [vp, C.c_int64, C.c_int64]
lib.ax_eval_section.argtypes = [vp, vp, C.c_int64, C.c_int64, C.c_float, C.POINTER(Scores)]


def ax_cells(mask):
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    out = np.zeros(m.shape, np.uint64)
    n = lib.ax_section_cells(m.ctypes.data, m.shape[0], m.shape[1], out.ctypes.data)
    return out, n


def ax_grow(labels):
    lab = np.ascontiguousarray(labels, dtype=np.uint64).copy()
    assert lib.ax_section_grow(lab.ctypes.data, lab.shape[0], lab.shape[1]) == 0
    return lab


def ax_scores(b, gt, t):
    b = np.ascontiguousarray(b, dtype=np.float32)
    g = np.ascontiguousarray(gt, dtype=np.uint64)
    s = Scores()
    rc = lib.ax_eval_section(b.ctypes.data, g.ctypes.data, b.shape[0], b.shape[1], C.c_float(t), C.byref(s))
    assert rc == 0, rc
    return s


def py_grow(labels):
    lab = labels.astype(np.uint64).copy()
    h, w = lab.shape
    flat = lab.ravel()
    q = deque(int(p) for p in np.flatnonzero(flat))
    while q:
        p = q.popleft()
        y, x = divmod(p, w)
        for nb, okn in ((p - w, y > 0), (p - 1, x > 0), (p + 1, x + 1 < w), (p + w, y + 1 < h)):
            if okn and flat[nb] == 0:
                flat[nb] = flat[p]
                q.append(nb)
    return lab


def py_scores(b, gt_cells, t):
    cell = b <= np.float32(t)
    pixel_error = np.mean(cell != (gt_cells != 0))
    seg, _ = ndimage.label(cell)
    seg = py_grow(seg)
    fg = gt_cells != 0
    s, g = seg[fg], gt_cells[fg]
    n = s.size
    pairs, nij = np.unique(np.stack([s, g]), axis=1, return_counts=True)
    _, si = np.unique(s, return_counts=True)
    _, tj = np.unique(g, return_counts=True)
    p, ps, pt = nij / n, si / n, tj / n
    v_rand = np.sum(p ** 2) / (0.5 * np.sum(ps ** 2) + 0.5 * np.sum(pt ** 2))
    hs, ht, hst = -np.sum(ps * np.log2(ps)), -np.sum(pt * np.log2(pt)), -np.sum(p * np.log2(p))
    mi = hs + ht - hst
    v_info = 2 * mi / (hs + ht) if hs + ht > 0 else 1.0
    return pixel_error, 1 - v_rand, 1 - v_info, hst - ht, hst - hs


rng = np.random.default_rng(5)

# ---- cells and growth on random masks
for trial in range(4):
    h, w = rng.integers(5, 60, size=2)
    mask = rng.random((h, w)) < 0.55
    got, n = ax_cells(mask)
    ref, nref = ndimage.label(mask)
    check(n == nref and np.array_equal(got, ref.astype(np.uint64)), f"cells of a random {h}x{w} mask = ndimage.label ({n})")
    check(np.array_equal(ax_grow(got), py_grow(got)), f"growth of a random {h}x{w} section = Python BFS")
check(np.all(ax_grow(np.zeros((4, 5), np.uint64)) == 0), "a section without cells stays 0")

# ---- scores on random sections
for trial in range(3):
    h, w = rng.integers(20, 80, size=2)
    gt_mask = rng.random((h, w)) < 0.7
    gt_cells, _ = ndimage.label(gt_mask)
    b = np.clip(ndimage.gaussian_filter((~gt_mask).astype(np.float32), 1.0) + rng.normal(0, 0.15, (h, w)), 0, 1).astype(np.float32)
    for t in (0.3, 0.5):
        s = ax_scores(b, gt_cells, t)
        ref = py_scores(b, gt_cells.astype(np.uint64), t)
        got = (s.pixel_error, s.rand_error, s.info_error, s.voi_split, s.voi_merge)
        check(np.allclose(got, ref, rtol=1e-9, atol=1e-12), f"random {h}x{w} at t={t}: {np.round(got, 5)} = numpy {np.round(ref, 5)}")

# ---- ISBI 2012 label sections with synthetic boundary maps
path = os.path.join(DATA, "isbi2012", "train-labels.tif")
try:
    import tifffile
    labels = tifffile.imread(path)
except Exception as e:  # noqa: BLE001
    labels = None
    print(f"skip ISBI sections ({path}: {e})")
if labels is not None:
    for z in (3, 27):
        gt_mask = labels[z] != 0
        gt_cells, _ = ndimage.label(gt_mask)
        gt_cells = gt_cells.astype(np.uint64)
        perfect = (~gt_mask).astype(np.float32)
        s = ax_scores(perfect, gt_cells, 0.5)
        check(s.pixel_error == 0 and s.rand_error < 1e-12 and s.info_error < 1e-12 and s.voi_split < 1e-12,
              f"ISBI z{z}: the labels themselves score 0 ({s.pixel_error}, {s.rand_error:.2g}, {s.info_error:.2g})")
        noisy = np.clip(ndimage.gaussian_filter(perfect, 1.5) * 1.6 + rng.normal(0, 0.2, perfect.shape), 0, 1).astype(np.float32)
        for t in (0.2, 0.5, 0.8):
            s = ax_scores(noisy, gt_cells, t)
            ref = py_scores(noisy, gt_cells, t)
            got = (s.pixel_error, s.rand_error, s.info_error, s.voi_split, s.voi_merge)
            check(np.allclose(got, ref, rtol=1e-9, atol=1e-12),
                  f"ISBI z{z}, blurred noisy membranes, t={t}: pixel {got[0]:.4f} Rand {got[1]:.4f} info {got[2]:.4f} = numpy")

sys.exit(1 if failures else 0)
