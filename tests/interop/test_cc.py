#!/usr/bin/env python3
"""Connected components against scipy.ndimage.label: the partition axon finds (in memory
through ctypes, ax_cc_label, and block-wise through `axon cc`) must equal scipy's, for
6/18/26-connectivity (generate_binary_structure(3, 1/2/3)), on random binary volumes and on
the real medulla labels. For labels, scipy labels each value on its own; equal partitions
means a one-to-one map between the two sets of ids.

Run: BUILD=build /usr/bin/python3 tests/interop/test_cc.py   (AX_DATA: real data folder)
"""
import ctypes as C
import os
import subprocess
import sys
import tempfile

import numpy as np
import zarr
from scipy import ndimage as ndi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axon_ctypes import load_lib  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
AXON = os.environ.get("AXON", os.path.join(BUILD, "axon"))
DATA = os.environ.get("AX_DATA", os.path.join(os.path.dirname(__file__), "../../../shared/data"))
CONNS = {6: 1, 18: 2, 26: 3}
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL", what)


def load_cc(lib):
    """Signatures of ax_cc_label (include/axon/seg.h)."""
    lib.ax_cc_label.argtypes = [C.c_void_p, C.POINTER(C.c_int64), C.c_int, C.c_void_p,
                                C.POINTER(C.c_uint64)]
    lib.ax_threads_set.argtypes = [C.c_int]
    return lib


def ax_cc_label(lib, a, conn):
    a = np.ascontiguousarray(a, dtype=np.uint64)
    out = np.empty_like(a)
    n = C.c_uint64()
    shape = (C.c_int64 * 3)(*a.shape)
    rc = lib.ax_cc_label(a.ctypes.data, shape, conn, out.ctypes.data, C.byref(n))
    if rc != 0:
        raise RuntimeError(f"ax_cc_label: {rc}: {lib.ax_errmsg().decode()}")
    return out, n.value


def scipy_reference(a, conn):
    """scipy's components of every non-zero value of a, each value labelled on its own."""
    s = ndi.generate_binary_structure(3, CONNS[conn])
    if a.max() <= 1:
        ref, n = ndi.label(a != 0, structure=s)
        return ref.astype(np.uint64), n
    values, dense = np.unique(a, return_inverse=True)
    dense = dense.reshape(a.shape) + 1  # find_objects: object i + 1 at index i
    ref = np.zeros(a.shape, np.uint64)
    n = 0
    for k, sl in enumerate(ndi.find_objects(dense)):
        if sl is None or values[k] == 0:
            continue
        mask = dense[sl] == k + 1
        lab, m = ndi.label(mask, structure=s)
        ref[sl][mask] = lab[mask].astype(np.uint64) + n
        n += m
    return ref, n


def same_partition(x, y):
    """x and y are the same partition: same background, and a one-to-one map of ids."""
    if x.shape != y.shape or not np.array_equal(x == 0, y == 0):
        return False
    fx, fy = x[x != 0].astype(np.uint64), y[y != 0].astype(np.uint64)
    if fx.size and max(fx.max(), fy.max()) >= 2**32:
        raise ValueError("ids above 2^32: widen the pair key")
    pairs = np.unique((fx << np.uint64(32)) | fy)
    return len(pairs) == len(np.unique(fx)) == len(np.unique(fy))


def axon(*args):
    r = subprocess.run([AXON, "--quiet", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"axon {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


def blobs(shape, sigma, level, rng):
    return ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma) > level


def main():
    lib = load_cc(load_lib(BUILD))
    rng = np.random.default_rng(12)
    tmp = tempfile.mkdtemp(prefix="axon-cc-interop-")

    # random binary volumes: salt-and-pepper (many tiny pieces) and smooth blobs
    vols = [rng.random((23, 31, 37)) < 0.3, rng.random((40, 20, 50)) < 0.55,
            blobs((48, 64, 80), 2.0, 0.05, rng), blobs((1, 90, 70), 1.5, 0.0, rng)]
    for i, m in enumerate(vols):
        for conn in CONNS:
            ref, nref = scipy_reference(m, conn)
            got, n = ax_cc_label(lib, m, conn)
            check(n == nref and same_partition(got, ref),
                  f"random binary {i} {m.shape} conn {conn}: {n} vs scipy {nref}")
            # scipy numbers in raster order as well: the arrays are identical
            check(np.array_equal(got, ref), f"random binary {i} conn {conn}: ids differ")
        # block-wise through the CLI, from a zarr written by python3-zarr
        src = os.path.join(tmp, f"bin{i}.zarr")
        z = zarr.open(src, mode="w", shape=m.shape, chunks=(16, 16, 16), dtype="u1")
        z[...] = m.astype(np.uint8) * 200
        for conn, block in ((6, "16,16,16"), (18, "29,37,45"), (26, "7,9,11")):
            dst = os.path.join(tmp, f"bin{i}_{conn}.zarr")
            axon("cc", src, dst, "--threshold", "100", "--connectivity", str(conn),
                 "--block", block)
            got = zarr.open(dst, mode="r")[...]
            ref, nref = scipy_reference(m, conn)
            check(got.dtype == np.uint64 and same_partition(got, ref),
                  f"axon cc random binary {i} conn {conn} block {block}")

    # random labels: neighbouring voxels of different values stay apart
    lab = (rng.integers(0, 4, (30, 40, 50)) * (rng.random((30, 40, 50)) < 0.8)).astype(np.uint64)
    lab = ndi.maximum_filter(lab, size=2)
    for conn in CONNS:
        ref, nref = scipy_reference(lab, conn)
        got, n = ax_cc_label(lib, lab, conn)
        check(n == nref and same_partition(got, ref), f"random labels conn {conn}: {n} vs {nref}")

    # the real medulla labels, in memory and block-wise from the HDF5 file
    h5 = os.path.join(DATA, "flyem_medulla", "medulla_z0-149.h5")
    if not os.path.exists(h5):
        print(f"skip medulla: {h5} not found (set AX_DATA)")
    else:
        import h5py
        with h5py.File(h5, "r") as f:
            gt = f["gt_bodies"][...]
        for conn in CONNS:
            ref, nref = scipy_reference(gt, conn)
            got, n = ax_cc_label(lib, gt, conn)
            check(n == nref and same_partition(got, ref),
                  f"medulla gt_bodies conn {conn}: {n} vs scipy {nref}")
            dst = os.path.join(tmp, f"medulla_{conn}.zarr")
            axon("cc", h5 + ":gt_bodies", dst, "--connectivity", str(conn), "--block", "29,37,45")
            out = zarr.open(dst, mode="r")[...]
            check(same_partition(out, ref), f"axon cc medulla conn {conn}")
            check(np.array_equal(out, got), f"axon cc medulla conn {conn}: differs from ax_cc_label")
            print(f"medulla conn {conn}: {n} components (scipy {nref})")

    print("FAIL" if failures else "ok", f"({failures} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
