#!/usr/bin/env python3
"""HDF5 interoperability: datasets written by h5py (Debian python3-h5py) are read by axon
and datasets written by axon are read by h5py, voxel for voxel, plus the FlyEM medulla file.

axon is driven through libaxon.so with ctypes (public API of include/axon/volume.h), so
this needs no CLI: $BUILD/libaxon.so (BUILD defaults to "build"). $AXON (the CLI) is
accepted for symmetry with the other interop scripts and not used. The shared data
directory is $AX_DATA (default ../shared/data, run from the repo root).

Run: BUILD=build /usr/bin/python3 tests/interop/test_hdf5.py
"""
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile

import axon_ctypes
from axon_ctypes import Info
import h5py
import numpy as np

BUILD = os.environ.get("BUILD", "build")
DATA = os.environ.get("AX_DATA", "../shared/data")
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("  FAIL", what)


# ---- the C API through ctypes -------------------------------------------------------

DTYPES = {1: "u1", 2: "u2", 3: "u4", 4: "u8", 5: "i4", 6: "f4"}
DTYPE_ID = {np.dtype(v): k for k, v in DTYPES.items()}
COMP = {"default": 0, "raw": 1, "gzip": 2, "zlib": 3, "zstd": 4, "blosc": 5, "lzf": 6}
E_NOTFOUND, E_UNSUPPORTED, E_EXISTS = -3, -5, -10


def load_lib():
    path = os.path.join(BUILD, "libaxon.so")
    if not os.path.exists(path):
        print(f"skip: {path} not built")
        sys.exit(0)
    return axon_ctypes.load_lib(BUILD)


class AxonError(Exception):
    def __init__(self, rc, msg):
        super().__init__(f"{rc}: {msg}")
        self.rc = rc
        self.msg = msg


def boxargs(start, size):
    n = len(size)
    return (ctypes.c_int64 * n)(*start), (ctypes.c_int64 * n)(*size)


class Volume:
    def __init__(self, lib, handle):
        self.lib = lib
        self.h = handle

    @classmethod
    def open(cls, lib, path, rw=False):
        h = ctypes.c_void_p()
        rc = lib.ax_volume_open(path.encode(), 1 if rw else 0, ctypes.byref(h))
        if rc:
            raise AxonError(rc, lib.ax_errmsg().decode())
        return cls(lib, h)

    @classmethod
    def create(cls, lib, path, params):
        h = ctypes.c_void_p()
        rc = lib.ax_volume_create(path.encode(), ctypes.byref(params), ctypes.byref(h))
        if rc:
            raise AxonError(rc, lib.ax_errmsg().decode())
        return cls(lib, h)

    def info(self):
        return self.lib.ax_volume_get_info(self.h).contents

    def dtype(self):
        return np.dtype(DTYPES[self.info().dtype])

    def shape(self):
        i = self.info()
        return tuple(i.shape[: i.ndim])

    def read(self, start=None, size=None):
        shape = self.shape()
        start = start or (0,) * len(shape)
        size = size or shape
        out = np.empty(size, self.dtype())
        s, z = boxargs(start, size)
        rc = self.lib.ax_volume_read_region(self.h, s, z, self.info().dtype, out.ctypes.data)
        if rc:
            raise AxonError(rc, self.lib.ax_errmsg().decode())
        return out

    def write(self, start, data):
        data = np.ascontiguousarray(data)
        s, z = boxargs(start, data.shape)
        rc = self.lib.ax_volume_write_region(self.h, s, z, DTYPE_ID[data.dtype], data.ctypes.data)
        if rc:
            raise AxonError(rc, self.lib.ax_errmsg().decode())

    def close(self):
        rc = self.lib.ax_volume_close(self.h)
        self.h = None
        if rc:
            raise AxonError(rc, self.lib.ax_errmsg().decode())

    def abort(self):
        self.lib.ax_volume_abort(self.h)
        self.h = None


def axon_read(lib, path, start=None, size=None):
    v = Volume.open(lib, path)
    try:
        return v.read(start, size), Info.from_buffer_copy(v.info())  # info dies with v
    finally:
        v.close()


# ---- data ---------------------------------------------------------------------------

def rand(shape, dtype, rng):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    info = np.iinfo(dt)
    a = rng.integers(0, 6, size=shape).astype(dt)  # label-like runs compress
    mask = rng.random(shape) < 0.3
    lo = max(int(info.min), -(2**31))
    hi = min(int(info.max), 2**62)
    a[mask] = rng.integers(lo, hi, size=int(mask.sum()), dtype=np.int64).astype(dt)
    return a


LAYOUTS = {
    # name: h5py create_dataset keywords
    "gzip-shuffle": dict(compression="gzip", compression_opts=4, shuffle=True),
    "gzip": dict(compression="gzip", compression_opts=9),
    "gzip-shuffle-fletcher": dict(compression="gzip", shuffle=True, fletcher32=True),
    "lzf": dict(compression="lzf"),
    "lzf-shuffle": dict(compression="lzf", shuffle=True),
    "raw-chunked": dict(),
    "contiguous": dict(chunks=None),
}


def test_h5py_to_axon(lib, tmp, rng):
    n = 0
    for dt in ["u1", "u2", "u4", "u8", "i4", "f4", ">u2", ">i4", ">f4", ">u8"]:
        for lname, kw in LAYOUTS.items():
            n += 1
            shape = [(11, 17, 13), (2, 7, 9, 10), (1, 30, 1), (5, 64, 64)][n % 4]
            chunks = {3: (4, 5, 6), 4: (1, 3, 4, 7)}[len(shape)]
            if shape == (1, 30, 1):
                chunks = (1, 7, 1)
            if shape == (5, 64, 64):
                chunks = (5, 64, 64)  # one chunk, incompressible enough to keep LZF raw
            data = rand(shape, dt, rng)
            path = os.path.join(tmp, f"h5py_{n}.h5")
            with h5py.File(path, "w") as f:
                kws = dict(kw)
                if "chunks" not in kws:
                    kws["chunks"] = chunks
                d = f.create_dataset("grp/data", data=data, **kws)
                d.attrs["resolution"] = [40, 4, 4]
                d.attrs["offset"] = [400, 0, 8]
            what = f"h5py {dt} {lname} {shape}"
            for direct in (True, False):
                if direct:
                    os.environ.pop("AX_HDF5_NO_DIRECT", None)
                else:
                    os.environ["AX_HDF5_NO_DIRECT"] = "1"
                try:
                    got, info = axon_read(lib, path + ":grp/data")
                except AxonError as e:
                    check(False, f"{what}: {e}")
                    continue
                w = what + ("" if direct else " (libhdf5 decoding)")
                check(got.dtype == np.dtype(dt).newbyteorder("="), w + ": dtype")
                check(np.array_equal(got, data, equal_nan=True), w + ": voxels")
                check(tuple(info.voxel_size) == (40, 4, 4), w + ": resolution")
                check(tuple(info.offset) == (400, 0, 8), w + ": offset")
                if kws["chunks"]:
                    check(tuple(info.chunks[: len(shape)]) == tuple(kws["chunks"]), w + ": chunks")
                # a box that straddles chunks
                st = tuple(min(1, s - 1) for s in shape)
                sz = tuple(max(1, s - 2 * a) for s, a in zip(shape, st))
                box, _ = axon_read(lib, path + ":grp/data", st, sz)
                sl = tuple(slice(a, a + b) for a, b in zip(st, sz))
                check(np.array_equal(box, data[sl], equal_nan=True), w + ": region")
            os.environ.pop("AX_HDF5_NO_DIRECT", None)

    # LZF that did not help is skipped for that chunk (filter mask bit 0): stored raw
    path = os.path.join(tmp, "lzf_skipped.h5")
    data = rng.standard_normal((5, 64, 64)).astype("f4")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", data=data, chunks=(5, 64, 64), compression="lzf")
        check(d.id.get_chunk_info(0).filter_mask == 1, "h5py skipped LZF on random floats")
    got, _ = axon_read(lib, path + ":x")
    check(np.array_equal(got, data), "LZF skipped on a chunk")

    # sparse: unwritten chunks read as the dataset's fill value
    path = os.path.join(tmp, "sparse.h5")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("s", shape=(20, 20, 20), chunks=(5, 5, 5), dtype="u2", fillvalue=5,
                             compression="gzip")
        d[0:5, 0:5, 0:5] = 9
        d[12, 13, 14] = 7
    want = np.full((20, 20, 20), 5, "u2")
    want[0:5, 0:5, 0:5] = 9
    want[12, 13, 14] = 7
    got, info = axon_read(lib, path + ":s")
    check(np.array_equal(got, want), "fill value of unwritten chunks")
    check(info.fill_value == 5, "fill value reported")
    # the one dataset in a file needs no name; CREMI's element_size_um
    path = os.path.join(tmp, "cremi.h5")
    data = rand((6, 30, 40), "u1", rng)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("volumes/raw", data=data, chunks=(2, 16, 16), compression="gzip")
        d.attrs["resolution"] = np.array([40.0, 4.0, 4.0])
    with h5py.File(os.path.join(tmp, "ilastik.h5"), "w") as f:
        d = f.create_dataset("exported_data", data=data)
        d.attrs["element_size_um"] = np.array([0.04, 0.004, 0.004])
    got, info = axon_read(lib, path)
    check(np.array_equal(got, data), "single dataset found without a name")
    got, info = axon_read(lib, os.path.join(tmp, "ilastik.h5"))
    check(np.array_equal(got, data), "ilastik export")
    check(np.allclose(tuple(info.voxel_size), (40, 4, 4)) and info.has_voxel_size,
          f"element_size_um -> nm {tuple(info.voxel_size)}")
    return n


def test_axon_to_h5py(lib, tmp, rng):
    n = 0
    for dt in ["u1", "u2", "u4", "u8", "i4", "f4"]:
        for comp in ["default", "gzip", "zlib", "raw"]:
            n += 1
            shape = [(11, 17, 13), (3, 7, 9, 10), (23, 5, 31)][n % 3]
            chunks = {(11, 17, 13): (4, 5, 6), (3, 7, 9, 10): (2, 3, 4, 7),
                      (23, 5, 31): (8, 5, 32)}[shape]
            data = rand(shape, dt, rng)
            path = os.path.join(tmp, f"axon_{n}.h5")
            p = lib.ax_volume_create_params_default()
            p.dtype = DTYPE_ID[np.dtype(dt)]
            p.ndim = len(shape)
            for i, (s, c) in enumerate(zip(shape, chunks)):
                p.shape[i] = s
                p.chunks[i] = min(c, s)
            p.compression = COMP[comp]
            p.has_voxel_size = True
            p.voxel_size[:] = [30, 8, 8]
            p.offset[:] = [300, 16, 0]
            v = Volume.create(lib, path + ":a/b", p)
            half = shape[0] // 2 + 1
            v.write((0,) * len(shape), data[:half])
            v.write((half,) + (0,) * (len(shape) - 1), data[half:])
            v.close()
            what = f"axon {dt} {comp} {shape}"
            with h5py.File(path, "r") as f:
                d = f["a/b"]
                check(d.dtype == np.dtype(dt), what + ": dtype")
                check(np.array_equal(d[...], data, equal_nan=True), what + ": voxels")
                check(d.chunks == tuple(min(c, s) for c, s in zip(chunks, shape)),
                      what + f": chunks {d.chunks}")
                want_comp = None if comp == "raw" else "gzip"
                check(d.compression == want_comp, what + f": compression {d.compression}")
                if want_comp:
                    check(d.compression_opts == 6, what + ": gzip level 6")
                    check(d.shuffle == (np.dtype(dt).itemsize > 1), what + ": shuffle")
                check(list(d.attrs["resolution"]) == [30, 8, 8], what + ": resolution")
                check(list(d.attrs["offset"]) == [300, 16, 0], what + ": offset")
                check(list(f.keys()) == ["a"] and list(f["a"].keys()) == ["b"],
                      what + ": nothing else in the file")

    # a dataset added to a file h5py made, then one aborted, then one replaced
    path = os.path.join(tmp, "shared.h5")
    old = rand((8, 9, 10), "u2", rng)
    with h5py.File(path, "w") as f:
        f.create_dataset("old", data=old, compression="gzip")
        f.attrs["note"] = "made by h5py"
    p = lib.ax_volume_create_params_default()
    p.dtype = DTYPE_ID[np.dtype("f4")]
    p.ndim = 3
    p.shape[:3] = [8, 9, 10]
    new = rand((8, 9, 10), "f4", rng)
    v = Volume.create(lib, path + ":deep/er/new", p)
    v.write((0, 0, 0), new)
    v.close()
    v = Volume.create(lib, path + ":aborted", p)
    v.write((0, 0, 0), new)
    v.abort()
    try:
        Volume.create(lib, path + ":old", p)
        check(False, "creating over an existing dataset must fail")
    except AxonError as e:
        check(e.rc == E_EXISTS and "shared.h5" in e.msg, f"exists error: {e}")
    p.overwrite = True
    v = Volume.create(lib, path + ":old", p)
    v.write((0, 0, 0), new * 2)
    v.close()
    with h5py.File(path, "r") as f:
        check(np.array_equal(f["deep/er/new"][...], new), "added dataset")
        check(np.array_equal(f["old"][...], new * 2), "replaced dataset")
        check("aborted" not in f, "aborted dataset left behind")
        names = []
        f.visit(names.append)
        check(not any(".partial-" in x for x in names), f"temporary links left: {names}")
        check(f.attrs["note"] == "made by h5py", "file attributes kept")
    # output compressions HDF5 cannot hold are refused with a clear message
    p.overwrite = False
    p.compression = COMP["zstd"]
    try:
        Volume.create(lib, os.path.join(tmp, "z.h5") + ":x", p)
        check(False, "zstd into HDF5 must fail")
    except AxonError as e:
        check(e.rc == E_UNSUPPORTED and "gzip or raw" in e.msg, f"zstd error: {e}")
    check(not os.path.exists(os.path.join(tmp, "z.h5")), "no file left after a refused create")
    return n


def test_medulla(lib):
    path = os.path.join(DATA, "flyem_medulla", "medulla_z0-149.h5")
    if not os.path.exists(path):
        print(f"  skip: {path} not found (set AX_DATA)")
        return
    rng = np.random.default_rng(11)
    with h5py.File(path, "r") as f:
        for name in ["raw", "gt_bodies", "gt_supervoxels"]:
            d = f[name]
            v = Volume.open(lib, f"{path}:{name}")
            info = v.info()
            check(v.shape() == d.shape, f"medulla {name}: shape")
            check(v.dtype() == d.dtype, f"medulla {name}: dtype")
            check(tuple(info.chunks[:3]) == d.chunks, f"medulla {name}: chunks")
            check(tuple(info.voxel_size) == (10, 10, 10), f"medulla {name}: voxel size")
            for _ in range(4):
                st = [int(rng.integers(0, s - 1)) for s in d.shape]
                sz = [int(rng.integers(1, s - a + 1)) for s, a in zip(d.shape, st)]
                sl = tuple(slice(a, a + b) for a, b in zip(st, sz))
                check(np.array_equal(v.read(st, sz), d[sl]), f"medulla {name}: region {sl}")
            if name == "gt_bodies":
                mine = v.read()
                ref = d[...]
                ua, ca = np.unique(mine, return_counts=True)
                ub, cb = np.unique(ref, return_counts=True)
                check(np.array_equal(ua, ub) and np.array_equal(ca, cb),
                      "medulla gt_bodies: labels and their voxel counts")
                check(len(ua) == 368, f"medulla gt_bodies: {len(ua)} labels")
            v.close()


def main():
    lib = load_lib()
    p = lib.ax_volume_create_params_default()
    if not (tuple(p.voxel_size) == (1, 1, 1) and p.compression_level == -1 and
            p.zarr_order == b"C" and p.zarr_separator == b"."):
        print("FAIL: ctypes layout of ax_volume_create_params does not match the header")
        return 1
    rng = np.random.default_rng(5)
    tmp = tempfile.mkdtemp(prefix="axon-hdf5-interop-")
    try:
        a = test_h5py_to_axon(lib, tmp, rng)
        b = test_axon_to_h5py(lib, tmp, rng)
        test_medulla(lib)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"hdf5 interop: {a} h5py->axon and {b} axon->h5py datasets, {checks} checks, "
          f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
