#!/usr/bin/env python3
"""Skeletons against independent numpy/scipy code, through ctypes on $BUILD/libaxon.so:

- ax_distance_transform equals scipy.ndimage.distance_transform_edt(mask, sampling=...) on
  random masks with anisotropic voxels (outside ignored), and on a zero-padded copy for
  black_border;
- ax_skeletonize_labels on the ground truth of the bundled sample (h5py): one skeleton per
  id of >= dust voxels (np.unique); every vertex is the centre of a voxel of its object (nm,
  with the offset); every edge joins 26-neighbours; every radius is scipy's distance
  transform of the object at that voxel; every skeleton has one tree per 26-connected
  piece of its object (scipy.ndimage.label).
Run: BUILD=build /usr/bin/python3 tests/interop/test_skel.py
"""
import ctypes as C
import os
import sys

import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axon_ctypes import load_lib  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
SAMPLE = "data/sample/medulla_z120-149.h5"
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL", what)


class Skeleton(C.Structure):
    """ax_skeleton, field for field (include/axon/skel.h)."""
    _fields_ = [("id", C.c_uint64), ("n_vertices", C.c_int64),
                ("vertices", C.POINTER(C.c_float)), ("radii", C.POINTER(C.c_float)),
                ("n_edges", C.c_int64), ("edges", C.POINTER(C.c_uint32))]


class SkelParams(C.Structure):
    """ax_skel_params, field for field."""
    _fields_ = [("anisotropy", C.c_double * 3), ("offset", C.c_double * 3),
                ("scale", C.c_double), ("const_nm", C.c_double), ("pdrf_scale", C.c_double),
                ("pdrf_exponent", C.c_double), ("dust", C.c_int64),
                ("object_ids", C.POINTER(C.c_uint64)), ("n_object_ids", C.c_int64)]


def load_skel(lib):
    i64p, u8p, f32p = C.POINTER(C.c_int64), C.POINTER(C.c_uint8), C.POINTER(C.c_float)
    d3 = C.POINTER(C.c_double)
    sk = C.POINTER(C.POINTER(Skeleton))
    lib.ax_distance_transform.argtypes = [u8p, i64p, d3, C.c_bool, f32p]
    lib.ax_skel_params_default.restype = SkelParams
    lib.ax_skel_params_default.argtypes = []
    lib.ax_skeletonize_labels.argtypes = [C.POINTER(C.c_uint64), i64p, C.POINTER(SkelParams),
                                          C.POINTER(sk), i64p]
    lib.ax_skeletons_free.argtypes = [sk, C.c_int64]
    lib.ax_skeletons_free.restype = None
    return lib


def ptr(a, t):
    return a.ctypes.data_as(C.POINTER(t))


def ax_edt(lib, mask, aniso, black):
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    out = np.empty(m.shape, np.float32)
    shape = np.array(m.shape, np.int64)
    a = (C.c_double * 3)(*aniso)
    rc = lib.ax_distance_transform(ptr(m, C.c_uint8), ptr(shape, C.c_int64), a, black,
                                   ptr(out, C.c_float))
    assert rc == 0, lib.ax_errmsg()
    return out


def test_edt(lib):
    rng = np.random.default_rng(5)
    for trial in range(16):
        shape = tuple(int(x) for x in rng.integers(1, 24, size=3))
        aniso = [(1, 1, 1), (4, 1, 1), (40, 4, 4), (1.5, 2.5, 0.7)][trial % 4]
        mask = rng.random(shape) < (0.97 if trial < 8 else 0.7)
        if mask.all():
            mask.flat[0] = False
        got = ax_edt(lib, mask, aniso, False)
        want = ndimage.distance_transform_edt(mask, sampling=aniso)
        err = np.abs(got - want) / (1 + want)
        check(err.max() < 1e-5, f"edt trial {trial} {shape} {aniso}: max rel error {err.max()}")
        # black border: scipy on a zero-padded copy
        pad = np.pad(mask, 1)
        want_b = ndimage.distance_transform_edt(pad, sampling=aniso)[1:-1, 1:-1, 1:-1]
        got_b = ax_edt(lib, mask, aniso, True)
        err = np.abs(got_b - want_b) / (1 + want_b)
        check(err.max() < 1e-5, f"edt black trial {trial}: max rel error {err.max()}")


def test_sample(lib):
    if not os.path.exists(SAMPLE):
        print("skip sample: no", SAMPLE)
        return
    import h5py
    with h5py.File(SAMPLE, "r") as f:
        lab = np.ascontiguousarray(f["gt_bodies"][:], dtype=np.uint64)
    vs = np.array([10.0, 10.0, 10.0])
    off = np.array([1200.0, 0.0, 0.0])
    p = lib.ax_skel_params_default()
    for d in range(3):
        p.anisotropy[d] = vs[d]
        p.offset[d] = off[d]
    p.const_nm = 100
    p.dust = 500
    out = C.POINTER(C.POINTER(Skeleton))()
    n = C.c_int64()
    shape = np.array(lab.shape, np.int64)
    rc = lib.ax_skeletonize_labels(ptr(lab, C.c_uint64), ptr(shape, C.c_int64), C.byref(p),
                                   C.byref(out), C.byref(n))
    assert rc == 0, lib.ax_errmsg()
    ids, counts = np.unique(lab, return_counts=True)
    want_ids = [int(i) for i, c in zip(ids, counts) if i != 0 and c >= p.dust]
    got_ids = [out[k].contents.id for k in range(n.value)]
    check(got_ids == want_ids, f"skeleton ids {got_ids[:5]}... != np.unique {want_ids[:5]}...")
    slices = ndimage.find_objects(np.searchsorted(ids, lab).astype(np.int32))
    s26 = np.ones((3, 3, 3), bool)
    bad_vertex = bad_edge = bad_radius = bad_pieces = 0
    for k in range(n.value):
        s = out[k].contents
        nv, ne = s.n_vertices, s.n_edges
        v = np.ctypeslib.as_array(s.vertices, shape=(nv, 3)).astype(np.float64)
        r = np.ctypeslib.as_array(s.radii, shape=(nv,))
        e = np.ctypeslib.as_array(s.edges, shape=(ne, 2)) if ne else np.zeros((0, 2), int)
        # voxel of each vertex (z, y, x): centres, so the floor is exact
        zyx = (v[:, ::-1] - off) / vs
        vox = np.floor(zyx).astype(np.int64)
        bad_vertex += int(np.abs(zyx - vox - 0.5).max() > 1e-3)
        inside = np.all((vox >= 0) & (vox < lab.shape), axis=1)
        bad_vertex += int(not inside.all())
        vox = vox[inside]
        bad_vertex += int((lab[vox[:, 0], vox[:, 1], vox[:, 2]] != s.id).sum())
        if ne:
            step = np.abs(np.floor((v[e[:, 0]] - v[e[:, 1]]) / vs[::-1] + 0.5))
            bad_edge += int((step.max(axis=1) != 1).sum())
        # the object's distance transform on its box plus a border (exact: the border holds
        # other labels, and the volume's edges are no boundary, as in scipy)
        sl = slices[int(np.searchsorted(ids, s.id)) - 1]
        lo = [max(a.start - 1, 0) for a in sl]
        hi = [min(a.stop + 1, dim) for a, dim in zip(sl, lab.shape)]
        crop = lab[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] == s.id
        dt = ndimage.distance_transform_edt(crop, sampling=vs)
        want_r = dt[vox[:, 0] - lo[0], vox[:, 1] - lo[1], vox[:, 2] - lo[2]]
        bad_radius += int((np.abs(r[inside] - want_r) > 1e-4 * (1 + want_r)).sum())
        _, pieces = ndimage.label(crop, structure=s26)
        bad_pieces += int(nv - ne != pieces)
    check(bad_vertex == 0, f"{bad_vertex} vertices off their object or off voxel centres")
    check(bad_edge == 0, f"{bad_edge} edges not between 26-neighbours")
    check(bad_radius == 0, f"{bad_radius} radii differ from scipy's distance transform")
    check(bad_pieces == 0, f"{bad_pieces} skeletons with a tree count != 26-connected pieces")
    print(f"sample: {n.value} skeletons checked against np.unique / scipy.ndimage")
    lib.ax_skeletons_free(out, n)


def main():
    lib = load_skel(load_lib(BUILD))
    test_edt(lib)
    test_sample(lib)
    print("interop skel:", failures, "failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
