#!/usr/bin/env python3
"""TIFF interoperability with tifffile (Debian python3-tifffile), through libaxon.so.

tifffile writes stacks (dtypes, odd shapes, zlib and no compression, strips and tiles,
big-endian, ImageJ metadata, slice directories) that axon must read voxel for voxel; axon
writes multi-page files and slice directories that tifffile must read voxel for voxel,
with the JSON description's resolution and offset.

Drives the public C API (include/axon/volume.h) with ctypes.
Run: BUILD=build /usr/bin/python3 tests/interop/test_tiff.py
"""
import ctypes as C
import json
import os
import shutil
import sys
import tempfile

import numpy as np
from axon_ctypes import CreateParams, Info, MAX_DIMS, load_lib  # noqa: F401
import tifffile

BUILD = os.environ.get("BUILD", "build")
AX_OPEN_READ, AX_OPEN_RW = 0, 1
FORMAT = {"auto": 0, "tiff": 1, "tiffdir": 2}
COMPRESSION = {"default": 0, "raw": 1, "gzip": 2, "zlib": 3, "zstd": 4}
DTYPES = {1: "u1", 2: "u2", 3: "u4", 4: "u8", 5: "i4", 6: "f4"}
DTYPE_CODE = {np.dtype(v): k for k, v in DTYPES.items()}


lib = load_lib(BUILD)

failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("  FAIL", what, flush=True)


class AxError(RuntimeError):
    pass


def ok(rc, what):
    if rc != 0:
        raise AxError(f"{what}: {rc}: {lib.ax_errmsg().decode()}")


def i64(seq):
    return (C.c_int64 * MAX_DIMS)(*seq)


def ax_read(path):
    """The whole volume and its info, read by axon."""
    v = C.c_void_p()
    ok(lib.ax_volume_open(path.encode(), AX_OPEN_READ, C.byref(v)), f"open {path}")
    try:
        info = lib.ax_volume_get_info(v).contents
        shape = tuple(info.shape[: info.ndim])
        out = np.empty(shape, DTYPES[info.dtype])
        ok(lib.ax_volume_read_region(v, i64([0] * info.ndim), i64(shape), info.dtype,
                                     out.ctypes.data), f"read {path}")
        meta = {
            "format": info.format,
            "chunks": tuple(info.chunks[: info.ndim]),
            "has_voxel_size": info.has_voxel_size,
            "voxel_size": list(info.voxel_size),
            "offset": list(info.offset),
            "compression": info.compression,
        }
        return out, meta
    finally:
        lib.ax_volume_close(v)


def ax_write(path, data, compression="default", resolution=None, offset=None, fmt="auto",
             order=None):
    """Write data with axon, section by section in `order` (default: z order)."""
    p = lib.ax_volume_create_params_default()
    p.format = FORMAT[fmt]
    p.dtype = DTYPE_CODE[data.dtype]
    p.ndim = data.ndim
    for d, n in enumerate(data.shape):
        p.shape[d] = n
    p.compression = COMPRESSION[compression]
    if resolution:
        p.has_voxel_size = True
        for d in range(3):
            p.voxel_size[d] = resolution[d]
    if offset:
        for d in range(3):
            p.offset[d] = offset[d]
    v = C.c_void_p()
    ok(lib.ax_volume_create(path.encode(), C.byref(p), C.byref(v)), f"create {path}")
    try:
        zs = order if order is not None else range(data.shape[0])
        for z in zs:
            sec = np.ascontiguousarray(data[z:z + 1])
            ok(lib.ax_volume_write_region(v, i64([z, 0, 0]), i64(sec.shape), p.dtype,
                                          sec.ctypes.data), f"write {path} z={z}")
    except BaseException:
        lib.ax_volume_abort(v)
        raise
    ok(lib.ax_volume_close(v), f"close {path}")


def rand(shape, dtype, rng):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    hi = min(int(np.iinfo(dt).max), 2**62)
    a = rng.integers(0, 6, size=shape).astype(dt)  # runs that compress
    mask = rng.random(shape) < 0.3
    a[mask] = rng.integers(0, hi, size=int(mask.sum()), dtype=np.int64).astype(dt)
    return a


def tifffile_to_axon(tmp, rng):
    shapes = [(7, 33, 45), (1, 1, 1), (3, 100, 3), (5, 17, 256)]
    n = 0
    for dt in ("u1", "u2", "f4", "u4", "i4", "u8"):
        for comp in (None, "zlib"):
            for tiled in (False, True):
                shape = shapes[n % len(shapes)]
                n += 1
                if tiled and (shape[1] < 16 or shape[2] < 16):
                    shape = (shape[0], 40, 50)
                data = rand(shape, dt, rng)
                path = os.path.join(tmp, f"tf_{dt}_{comp}_{tiled}.tif")
                kw = {"tile": (16, 32)} if tiled else {"rowsperstrip": 7}
                tifffile.imwrite(path, data, compression=comp, photometric="minisblack", **kw)
                what = f"tifffile {dt} {shape} {comp} {'tiled' if tiled else 'strips'}"
                try:
                    got, meta = ax_read(path)
                except AxError as e:
                    check(False, f"{what}: {e}")
                    continue
                check(got.dtype == data.dtype and got.shape == data.shape, what + ": shape/dtype")
                check(np.array_equal(got, data), what + ": voxels")
                check(meta["chunks"] == (1,) + shape[1:], what + ": chunks")
                check(meta["compression"] == (3 if comp else 1), what + ": compression")

    # big-endian files
    for dt in (">u2", ">f4", ">u4"):
        data = rand((4, 21, 19), dt, rng)
        path = os.path.join(tmp, f"tf_be_{dt[1:]}.tif")
        tifffile.imwrite(path, data, byteorder=">", photometric="minisblack")
        got, _ = ax_read(path)
        check(np.array_equal(got, data.astype(dt[1:])), f"big-endian {dt}")

    # BigTIFF container
    data = rand((3, 30, 40), "u2", rng)
    path = os.path.join(tmp, "tf_bigtiff.tif")
    tifffile.imwrite(path, data, bigtiff=True, compression="zlib", photometric="minisblack")
    got, _ = ax_read(path)
    check(np.array_equal(got, data), "BigTIFF")

    # ImageJ hyperstack with spacing and resolution: voxel size 50 x 4 x 5 nm
    data = rand((6, 20, 30), "u1", rng)
    path = os.path.join(tmp, "tf_imagej.tif")
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / 0.005, 1 / 0.004),
                     metadata={"spacing": 0.05, "unit": "um", "axes": "ZYX"})
    got, meta = ax_read(path)
    check(np.array_equal(got, data), "ImageJ voxels")
    check(meta["has_voxel_size"] and np.allclose(meta["voxel_size"], [50, 4, 5], rtol=1e-5),
          f"ImageJ voxel size {meta['voxel_size']}")

    # a directory of single-page files with unpadded numbers: natural order
    data = rand((12, 15, 14), "u2", rng)
    sdir = os.path.join(tmp, "tf_slices")
    os.makedirs(sdir)
    for z in range(12):
        tifffile.imwrite(os.path.join(sdir, f"sec_{z}.tif"), data[z],
                         compression="zlib" if z % 2 else None)
    with open(os.path.join(sdir, "README.txt"), "w") as f:
        f.write("not a slice")
    got, meta = ax_read(sdir)
    check(meta["format"] == FORMAT["tiffdir"], "slice directory detected")
    check(np.array_equal(got, data), "slice directory in natural order")


def axon_to_tifffile(tmp, rng):
    res, off = [40.0, 4.5, 4.0], [400.0, 9.0, 12.0]
    n = 0
    for dt in ("u1", "u2", "u4", "u8", "i4", "f4"):
        for comp in ("raw", "zlib", "gzip"):
            shape = [(9, 37, 41), (1, 5, 3), (4, 300, 7)][n % 3]
            n += 1
            data = rand(shape, dt, rng)
            # every other volume is written back to front, the pages held until their turn
            order = list(range(shape[0]))[::-1] if n % 2 else None
            path = os.path.join(tmp, f"ax_{dt}_{comp}.tif")
            what = f"axon {dt} {shape} {comp}{' reversed' if order else ''}"
            ax_write(path, data, comp, res, off, order=order)
            with tifffile.TiffFile(path) as tf:
                check(len(tf.pages) == shape[0], what + ": page count")
                s = tf.series[0]
                check(s.kind == "shaped" and tuple(s.shape) == shape,
                      what + f": series {s.kind} {s.shape}")
                got = tf.asarray()
                check(got.dtype == data.dtype and np.array_equal(got, data), what + ": voxels")
                page = tf.pages[0]
                want_comp = 1 if comp == "raw" else 8
                check(int(page.compression) == want_comp,
                      what + f": compression {page.compression}")
                desc = json.loads(page.description)
                check(desc.get("shape") == list(shape), what + ": description shape")
                check(desc.get("axon", {}).get("resolution") == res, what + f": resolution {desc}")
                check(desc.get("axon", {}).get("offset") == off, what + ": offset")
                meta = tf.shaped_metadata[0] if tf.shaped_metadata else {}
                check(meta.get("axon", {}).get("resolution") == res, what + ": shaped metadata")
                xr = page.tags["XResolution"].value
                check(int(page.tags["ResolutionUnit"].value) == 3 and
                      abs(1e7 * xr[1] / xr[0] - 4.0) < 1e-3, what + f": XResolution {xr}")
            back, meta = ax_read(path)
            check(np.array_equal(back, data), what + ": axon reads its own file")
            check(meta["voxel_size"] == res and meta["offset"] == off, what + ": axon metadata")

    # slice directories: one file per section, zero-padded names
    for comp in ("raw", "zlib"):
        data = rand((11, 23, 17), "u2", rng)
        sdir = os.path.join(tmp, f"ax_slices_{comp}")
        ax_write("tiffdir:" + sdir, data, comp, res, off)
        names = sorted(os.listdir(sdir))
        check(names == [f"z{z:05d}.tif" for z in range(11)], f"slice names {names[:3]}")
        stack = np.stack([tifffile.imread(os.path.join(sdir, f)) for f in names])
        check(np.array_equal(stack, data), f"tifffile reads axon slices ({comp})")
        with tifffile.TiffFile(os.path.join(sdir, names[3])) as tf:
            desc = json.loads(tf.pages[0].description)
            check(desc.get("shape") == [23, 17] and desc["axon"]["resolution"] == res,
                  f"slice description {desc}")
        got, meta = ax_read(sdir)
        check(np.array_equal(got, data) and meta["voxel_size"] == res, "axon reads its slices")

    # the ISBI stack through axon and back: identical to the original for tifffile
    isbi = os.path.join(os.environ.get("AX_DATA", "../shared/data"), "isbi2012", "train-volume.tif")
    if os.path.exists(isbi):
        ref = tifffile.imread(isbi)
        got, _ = ax_read(isbi)
        check(np.array_equal(got, ref), "ISBI read by axon")
        path = os.path.join(tmp, "isbi_copy.tif")
        ax_write(path, got, "zlib", [50, 4, 4])
        check(np.array_equal(tifffile.imread(path), ref), "ISBI written by axon")
    else:
        print("  skip ISBI: data not found (set AX_DATA)")


def main():
    rng = np.random.default_rng(7)
    base = os.environ.get("AX_TEST_TMP") or None
    tmp = tempfile.mkdtemp(prefix="axon-tiff-interop-", dir=base)
    try:
        tifffile_to_axon(tmp, rng)
        axon_to_tifffile(tmp, rng)
    except AxError as e:
        check(False, str(e))
    if failures:
        print(f"{checks} checks, {failures} failures (files kept in {tmp})")
        return 1
    shutil.rmtree(tmp)
    print(f"{checks} checks, 0 failures: tifffile <-> axon")
    return 0


if __name__ == "__main__":
    sys.exit(main())
