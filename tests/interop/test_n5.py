#!/usr/bin/env python3
"""N5 interoperability with python3-zarr's zarr.n5.N5Store (Debian, zarr 2.13):
datasets written by zarr (raw, gzip, zlib framing, zstd, blosc) are read by axon voxel for
voxel, and datasets written by axon (standalone and inside a container group) are read by
zarr voxel for voxel, with funlib's x-first "resolution"/"offset" attributes.

axon is driven through ctypes on $BUILD/libaxon.so and its public API (axon/volume.h).
Run: BUILD=build /usr/bin/python3 tests/interop/test_n5.py
"""
import ctypes as C
import os
import shutil
import sys
import tempfile
import warnings

import numcodecs
import numpy as np
from axon_ctypes import CreateParams, Info, MAX_DIMS, load_lib  # noqa: F401
import zarr
from zarr.n5 import N5Store

BUILD = os.environ.get("BUILD", "build")
DTYPES = {1: "u1", 2: "u2", 3: "u4", 4: "u8", 5: "i4", 6: "f4"}
DTYPE_ID = {np.dtype(v): k for k, v in DTYPES.items()}
COMP = {"default": 0, "raw": 1, "gzip": 2, "zlib": 3, "zstd": 4, "blosc": 5}
FORMAT_N5 = 5


lib = load_lib(BUILD)

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL", what)


def ok(rc, what):
    if rc != 0:
        raise RuntimeError(f"{what}: rc {rc}: {lib.ax_errmsg().decode()}")


def i64(seq):
    return (C.c_int64 * len(seq))(*seq)


def axon_read(path, start=None, size=None):
    """(array, info) of a region (default: all) read by axon."""
    v = C.c_void_p()
    ok(lib.ax_volume_open(path.encode(), 0, C.byref(v)), f"open {path}")
    try:
        info = lib.ax_volume_get_info(v).contents
        shape = tuple(info.shape[:info.ndim])
        start = start or (0,) * len(shape)
        size = size or shape
        out = np.empty(size, DTYPES[info.dtype])
        ok(lib.ax_volume_read_region(v, i64(start), i64(size), info.dtype,
                                     out.ctypes.data_as(C.c_void_p)), f"read {path}")
        meta = {"format": info.format, "shape": shape, "chunks": tuple(info.chunks[:info.ndim]),
                "has_voxel_size": info.has_voxel_size, "voxel_size": list(info.voxel_size),
                "offset": list(info.offset), "compression": info.compression}
        return out, meta
    finally:
        lib.ax_volume_close(v)


def axon_write(path, data, chunks, comp="default", resolution=None, offset=None):
    p = lib.ax_volume_create_params_default()
    p.dtype = DTYPE_ID[data.dtype]
    p.ndim = data.ndim
    for d in range(data.ndim):
        p.shape[d] = data.shape[d]
        p.chunks[d] = chunks[d]
    p.compression = COMP[comp]
    if resolution:
        p.has_voxel_size = True
        for k in range(3):
            p.voxel_size[k] = resolution[k]
    if offset:
        for k in range(3):
            p.offset[k] = offset[k]
    v = C.c_void_p()
    ok(lib.ax_volume_create(path.encode(), C.byref(p), C.byref(v)), f"create {path}")
    a = np.ascontiguousarray(data)
    rc = lib.ax_volume_write_region(v, i64((0,) * data.ndim), i64(data.shape), p.dtype,
                                    a.ctypes.data_as(C.c_void_p))
    if rc != 0:
        msg = lib.ax_errmsg().decode()
        lib.ax_volume_close(v)
        raise RuntimeError(f"write {path}: {msg}")
    ok(lib.ax_volume_close(v), f"close {path}")


def rand(shape, dt, rng):
    dt = np.dtype(dt)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    hi = min(int(np.iinfo(dt).max), 2**62)
    lo = max(int(np.iinfo(dt).min), -(2**31))
    a = rng.integers(0, 6, size=shape).astype(dt)
    mask = rng.random(shape) < 0.3
    a[mask] = rng.integers(lo, hi, size=int(mask.sum()), dtype=np.int64).astype(dt)
    return a


def main():
    warnings.simplefilter("ignore")  # zarr warns that blosc is not in every N5 library
    rng = np.random.default_rng(5)
    tmp = tempfile.mkdtemp(prefix="axon-n5-interop-")
    compressors = {
        "raw": (None, 1),
        "gzip": (numcodecs.GZip(level=5), 2),
        "zlib": (numcodecs.Zlib(level=4), 3),
        "zstd": (numcodecs.Zstd(level=3), 4),
        "blosc": (numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE), 5),
    }
    n = 0
    # zarr writes, axon reads (zarr pads edge blocks to the full block size)
    for dt in DTYPES.values():
        for cname, (comp, comp_id) in compressors.items():
            for shape, chunks in (((11, 17, 13), (4, 5, 6)), ((2, 7, 9, 10), (1, 3, 4, 7))):
                n += 1
                data = rand(shape, dt, rng)
                path = os.path.join(tmp, f"zarr_{dt}_{cname}_{len(shape)}d.n5")
                z = zarr.open(N5Store(path), mode="w", shape=shape, chunks=chunks, dtype=dt,
                              compressor=comp, fill_value=0)
                z[...] = data
                z.attrs["resolution"] = [4, 5, 40]  # funlib N5: x first
                z.attrs["offset"] = [8, 10, 400]
                what = f"zarr->axon {dt} {cname} {shape}"
                try:
                    back, meta = axon_read(path)
                except RuntimeError as e:
                    check(False, f"{what}: {e}")
                    continue
                check(meta["format"] == FORMAT_N5, what + ": format")
                check(meta["shape"] == shape and meta["chunks"] == chunks, what + ": shape")
                check(meta["compression"] == comp_id, what + f": compression {meta['compression']}")
                check(np.array_equal(back, data), what + ": voxels")
                check(meta["has_voxel_size"] and meta["voxel_size"] == [40, 5, 4],
                      what + f": voxel size {meta['voxel_size']}")
                check(meta["offset"] == [400, 10, 8], what + f": offset {meta['offset']}")
                start = (1,) * (len(shape) - 3) + (2, 3, 4)
                size = tuple(max(1, s - st - 1) for s, st in zip(shape, start))
                sub, _ = axon_read(path, start, size)
                sl = tuple(slice(a, a + b) for a, b in zip(start, size))
                check(np.array_equal(sub, data[sl]), what + ": region")

    # axon writes (edge blocks truncated, as the spec says), zarr reads
    for i, dt in enumerate(DTYPES.values()):
        for comp in ("default", "raw", "gzip", "zlib", "zstd", "blosc"):
            for shape, chunks in (((11, 17, 13), (4, 5, 6)), ((3, 7, 9, 10), (2, 3, 4, 7))):
                n += 1
                data = rand(shape, dt, rng)
                what = f"axon->zarr {dt} {comp} {shape}"
                path = os.path.join(tmp, f"axon_{dt}_{comp}_{len(shape)}d.n5")
                axon_write(path, data, chunks, comp, resolution=(40, 5, 4), offset=(400, 10, 8))
                z = zarr.open(N5Store(path), mode="r")
                check(z.shape == shape and z.chunks == chunks, what + ": shape")
                check(z.dtype == np.dtype(dt), what + ": dtype")
                check(np.array_equal(z[...], data), what + ": voxels")
                check(z.attrs["resolution"] == [4, 5, 40],
                      what + f": resolution {z.attrs.asdict()}")
                check(z.attrs["offset"] == [8, 10, 400], what + ": offset")
                want = {"default": "gzip", "zlib": "zlib"}.get(comp, comp)
                got = (z.compressor.compressor_config or {"id": "raw"})["id"]
                check(got == want, what + f": compressor {got}")
        # inside a container: zarr opens the root as a group and finds the dataset
        n += 1
        root = os.path.join(tmp, f"container_{dt}.n5")
        data = rand((6, 9, 10), dt, rng)
        axon_write(root + ":volumes/raw", data, (4, 4, 4), ["zstd", "gzip", "raw"][i % 3])
        g = zarr.open(N5Store(root), mode="r")
        check(isinstance(g, zarr.hierarchy.Group), f"container {dt}: root is a group")
        check(np.array_equal(g["volumes/raw"][...], data), f"container {dt}: voxels")
        check("volumes" in g and "raw" in g["volumes"], f"container {dt}: listing")
        # and axon reads back what zarr adds next to it
        zz = zarr.open(N5Store(root), mode="a")
        other = rand((5, 6, 7), dt, rng)
        zz.create_dataset("volumes/other", data=other, chunks=(2, 4, 3),
                          compressor=numcodecs.GZip())
        back, _ = axon_read(root + ":volumes/other")
        check(np.array_equal(back, other), f"container {dt}: zarr dataset next to axon's")

    print(f"n5 interop: {n} cases, {failures} failures")
    if failures:
        print("  files kept in", tmp)
        return 1
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
