#!/usr/bin/env python3
"""Zarr interoperability: arrays written by python3-zarr (Debian) are read by axon and
arrays written by axon are read by python3-zarr, voxel for voxel.

axon is driven through its CLI: `axon convert SRC DST` reads SRC with axon and writes DST
with axon, so zarr-written SRC -> axon -> axon-written DST -> zarr checks both directions.
Run: AXON=build/axon /usr/bin/python3 tests/interop/test_zarr.py
"""
import json
import os
import subprocess
import sys
import tempfile

import numcodecs
import numpy as np
import zarr

AXON = os.environ.get("AXON", "build/axon")
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL", what)


def axon(*args, ok=True):
    r = subprocess.run([AXON, "--quiet", *args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise RuntimeError(f"axon {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


def rand(shape, dtype, rng):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    info = np.iinfo(dt)
    hi = min(int(info.max), 2**62)
    a = rng.integers(0, 6, size=shape).astype(dt)  # label-like runs compress
    mask = rng.random(shape) < 0.3
    a[mask] = rng.integers(max(int(info.min), -(2**31)), hi, size=int(mask.sum()), dtype=np.int64).astype(dt) if dt.kind == "i" else rng.integers(0, hi, size=int(mask.sum()), dtype=np.uint64).astype(dt)
    return a


def main():
    rng = np.random.default_rng(3)
    tmp = tempfile.mkdtemp(prefix="axon-zarr-interop-")
    dtypes = ["u1", "u2", "u4", "u8", "i4", "f4"]
    compressors = {
        "none": None,
        "zstd": numcodecs.Zstd(level=3),
        "gzip": numcodecs.GZip(level=5),
        "zlib": numcodecs.Zlib(level=4),
        "blosc-lz4": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
        "blosc-zstd-bit": numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE),
    }
    n = 0
    for dt in dtypes:
        for cname, comp in compressors.items():
            for order in ("C", "F"):
                for sep in (".", "/"):
                    shape = (11, 17, 13) if n % 2 else (2, 7, 9, 10)
                    chunks = (4, 5, 6) if len(shape) == 3 else (1, 3, 4, 7)
                    n += 1
                    data = rand(shape, dt, rng)
                    src = os.path.join(tmp, f"src_{dt}_{cname}_{order}_{sep == '/'}.zarr")
                    z = zarr.open(src, mode="w", shape=shape, chunks=chunks, dtype=dt,
                                  compressor=comp, order=order, dimension_separator=sep,
                                  fill_value=0)
                    z[...] = data
                    z.attrs["resolution"] = [40, 4, 4]
                    z.attrs["offset"] = [400, 0, 8]
                    # axon reads zarr's array and writes its own, with another layout
                    out_comp = ["zstd", "gzip", "zlib", "blosc", "raw"][n % 5]
                    dst = os.path.join(tmp, f"dst_{n}.zarr")
                    extra = ["--zarr-order", "F"] if n % 3 == 0 else []
                    extra += ["--zarr-separator", "/"] if n % 4 == 0 else []
                    axon("convert", src, dst, "--compression", out_comp, "--chunks",
                         ",".join(str(c + 1) for c in chunks[-3:]), *extra)
                    back = zarr.open(dst, mode="r")
                    what = f"{dt} {cname} order={order} sep={sep!r} -> {out_comp} {extra}"
                    check(back.dtype == np.dtype(dt), what + ": dtype")
                    check(back.shape == shape, what + ": shape")
                    check(np.array_equal(back[...], data, equal_nan=(dt == "f4")), what + ": voxels")
                    check(back.attrs.get("resolution") == [40, 4, 4], what + ": resolution")
                    check(back.attrs.get("offset") == [400, 0, 8], what + ": offset")
                    # axon info agrees with zarr on the metadata
                    info = json.loads(axon("info", "--json", src).stdout)
                    check(info["shape"] == list(shape) and info["chunks"] == list(chunks), what + ": info")

    # big-endian dtype and a sparse array with a fill value: missing chunks read as fill
    for dt in (">u2", ">i4", ">f4", ">u8"):
        data = rand((9, 10, 11), dt, rng)
        src = os.path.join(tmp, f"be_{dt[1:]}.zarr")
        z = zarr.open(src, mode="w", shape=data.shape, chunks=(4, 4, 4), dtype=dt, compressor=None)
        z[...] = data
        dst = os.path.join(tmp, f"be_{dt[1:]}_out.zarr")
        axon("convert", src, dst)
        check(np.array_equal(zarr.open(dst, "r")[...], data.astype(dt.replace(">", "<"))), f"big-endian {dt}")
    src = os.path.join(tmp, "sparse.zarr")
    z = zarr.open(src, mode="w", shape=(20, 20, 20), chunks=(5, 5, 5), dtype="u2", fill_value=5,
                  compressor=numcodecs.Zstd())
    z[0:5, 0:5, 0:5] = 9
    dst = os.path.join(tmp, "sparse_out.zarr")
    axon("convert", src, dst)
    b = zarr.open(dst, "r")[...]
    want = np.full((20, 20, 20), 5, "u2")
    want[0:5, 0:5, 0:5] = 9
    check(np.array_equal(b, want), "fill_value of missing chunks")
    fz = zarr.open(os.path.join(tmp, "nanfill.zarr"), mode="w", shape=(4, 4, 4), chunks=(2, 2, 2),
                   dtype="f4", fill_value=float("nan"))
    fz[0:2, 0:2, 0:2] = 1.5
    axon("convert", os.path.join(tmp, "nanfill.zarr"), os.path.join(tmp, "nanfill_out.zarr"))
    b = zarr.open(os.path.join(tmp, "nanfill_out.zarr"), "r")[...]
    check(b[0, 0, 0] == 1.5 and np.isnan(b[3, 3, 3]), "NaN fill_value")

    # arrays inside groups: zarr.open(root)["a/b"] on what axon wrote into root.zarr:a/b
    src = os.path.join(tmp, "src_u1_zstd_C_False.zarr")
    root = os.path.join(tmp, "grouped.zarr")
    axon("convert", src, root + ":a/b")
    g = zarr.open(root, "r")
    check(np.array_equal(g["a/b"][...], zarr.open(src, "r")[...]), "array inside a group")

    # a region: shape, voxels and the offset moved by region start * resolution
    src = os.path.join(tmp, "region_src.zarr")
    data = rand((11, 17, 13), "u2", rng)
    z = zarr.open(src, mode="w", shape=data.shape, chunks=(4, 5, 6), dtype="u2")
    z[...] = data
    z.attrs["resolution"] = [40, 4, 4]
    z.attrs["offset"] = [400, 0, 8]
    dst = os.path.join(tmp, "region.zarr")
    axon("convert", src, dst, "--region", "2:9,:,3:")
    r = zarr.open(dst, "r")
    check(np.array_equal(r[...], data[2:9, :, 3:]), "region voxels")
    check(r.attrs["offset"] == [400 + 2 * 40, 0, 8 + 3 * 4], f"region offset {r.attrs.asdict()}")

    print(f"zarr interop: {n} zarr->axon->zarr layouts, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
