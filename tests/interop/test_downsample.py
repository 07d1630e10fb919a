#!/usr/bin/env python3
"""ax_volume_downsample (one pyramid level) against numpy, through ctypes on
$BUILD/libaxon.so, on zarr volumes written by python3-zarr:

- images (uint8, uint16, float32): the mean of each factor box, rounded to nearest for
  integers, boxes clipped at the volume's upper faces;
- labels (uint64): the most frequent non-zero label of the box, ties to the smaller id,
  0 only for an all-zero box;
- factors 2,2,2 / 1,2,2 / 3,2,1 and odd shapes.
Then `axon export-precomputed` on the sample: each scale's raw image chunks decode by the
precomputed layout to the numpy mean of the scale before it.
Run: BUILD=build /usr/bin/python3 tests/interop/test_downsample.py
"""
import ctypes as C
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import zarr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axon_ctypes import load_lib  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


lib = load_lib(BUILD)
lib.ax_volume_downsample.argtypes = [C.c_void_p, C.c_void_p, C.POINTER(C.c_int64), C.c_bool]


def ref_mean(a, f):
    out_shape = [-(-a.shape[d] // f[d]) for d in range(3)]
    out = np.zeros(out_shape, np.float64)
    for z in range(out_shape[0]):
        for y in range(out_shape[1]):
            for x in range(out_shape[2]):
                out[z, y, x] = a[z * f[0]:(z + 1) * f[0], y * f[1]:(y + 1) * f[1], x * f[2]:(x + 1) * f[2]].astype(np.float64).mean()
    return out


def ref_mode(a, f):
    out_shape = [-(-a.shape[d] // f[d]) for d in range(3)]
    out = np.zeros(out_shape, np.uint64)
    for z in range(out_shape[0]):
        for y in range(out_shape[1]):
            for x in range(out_shape[2]):
                b = a[z * f[0]:(z + 1) * f[0], y * f[1]:(y + 1) * f[1], x * f[2]:(x + 1) * f[2]].ravel()
                b = b[b != 0]
                if b.size:
                    ids, counts = np.unique(b, return_counts=True)  # ids ascending: argmax takes the smaller on ties
                    out[z, y, x] = ids[np.argmax(counts)]
    return out


def downsample(src, dst, shape_out, dtype, f, labels):
    zarr.open(dst, mode="w", shape=shape_out, chunks=(3, 5, 7), dtype=dtype, fill_value=0)
    vin, vout = C.c_void_p(), C.c_void_p()
    assert lib.ax_volume_open(src.encode(), 0, C.byref(vin)) == 0, lib.ax_errmsg()
    assert lib.ax_volume_open(dst.encode(), 1, C.byref(vout)) == 0, lib.ax_errmsg()
    fa = (C.c_int64 * 3)(*f)
    rc = lib.ax_volume_downsample(vin, vout, fa, labels)
    lib.ax_volume_close(vin)
    lib.ax_volume_close(vout)
    assert rc == 0, lib.ax_errmsg()
    return zarr.open(dst, "r")[:]


rng = np.random.default_rng(7)
with tempfile.TemporaryDirectory() as tmp:
    n = 0
    for dtype in ("u1", "u2", "f4"):
        for f in ((2, 2, 2), (1, 2, 2), (3, 2, 1)):
            shape = (7, 11, 13)
            a = (rng.random(shape) * 250).astype(dtype)
            src = f"{tmp}/img{n}.zarr"
            zarr.save_array(src, a, chunks=(4, 4, 4))
            out_shape = tuple(-(-shape[d] // f[d]) for d in range(3))
            got = downsample(src, f"{tmp}/out{n}.zarr", out_shape, dtype, f, False)
            ref = ref_mean(a, f)
            if dtype == "f4":
                ok = np.allclose(got, ref, rtol=1e-6, atol=1e-4)
            else:  # round half away from zero (lround), numpy rounds half to even
                ok = np.array_equal(got.astype(np.int64), np.floor(ref + 0.5).astype(np.int64))
            check(ok, f"image {dtype} {shape} / {f}: the mean of each box")
            n += 1
    for f in ((2, 2, 2), (1, 2, 2), (3, 3, 2)):
        shape = (9, 10, 11)
        a = rng.integers(0, 4, size=shape).astype(np.uint64)
        a[rng.random(shape) < 0.4] = 0
        a[0:3, 0:3, 0:3] = 0  # an all-zero box stays 0
        src = f"{tmp}/lab{n}.zarr"
        zarr.save_array(src, a, chunks=(4, 4, 4))
        out_shape = tuple(-(-shape[d] // f[d]) for d in range(3))
        got = downsample(src, f"{tmp}/out{n}.zarr", out_shape, "u8", f, True)
        check(np.array_equal(got, ref_mode(a, f)), f"labels {shape} / {f}: most frequent non-zero, ties to the smaller id")
        n += 1

    # the exported pyramid: decode the raw image chunks of every scale
    S = "data/sample/medulla_z120-149.h5"
    subprocess.run([os.path.join(BUILD, "axon"), "--quiet", "export-precomputed", "-o", f"{tmp}/ds", "--raw", f"{S}:raw",
                    "--max-edge", "40"], check=True)
    info = json.load(open(f"{tmp}/ds/image/info"))
    import h5py
    prev = h5py.File(S, "r")["raw"][:]
    for k, sc in enumerate(info["scales"]):
        sx, sy, sz = sc["size"]
        vol = np.zeros((sz, sy, sx), np.uint8)
        cx, cy, cz = sc["chunk_sizes"][0]
        for name in os.listdir(f"{tmp}/ds/image/{sc['key']}"):
            (x0, x1), (y0, y1), (z0, z1) = [tuple(int(v) - o for v in p.split("-")) for p, o in zip(name.split("_"), sc["voxel_offset"])]
            raw = np.fromfile(f"{tmp}/ds/image/{sc['key']}/{name}", np.uint8)
            vol[z0:z1, y0:y1, x0:x1] = raw.reshape(z1 - z0, y1 - y0, x1 - x0)
        if k == 0:
            check(np.array_equal(vol, prev), f"scale 0 {sc['key']} {sc['size']}: the raw volume")
        else:
            f = tuple(-(-prev.shape[d] // vol.shape[d]) for d in range(3))
            ref = np.floor(ref_mean(prev, f) + 0.5).astype(np.uint8)
            check(np.array_equal(vol, ref) and sc["resolution"][0] == info["scales"][k - 1]["resolution"][0] * f[2],
                  f"scale {k} {sc['key']} {sc['size']}: the mean of scale {k - 1} over {f}")
        prev = vol
    check(len(info["scales"]) >= 3, f"{len(info['scales'])} scales down to 40 voxels")

sys.exit(1 if failures else 0)
