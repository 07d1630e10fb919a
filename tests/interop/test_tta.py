#!/usr/bin/env python3
"""`axon predict --tta` against an independent reference built from plain predictions:
flip the whole raw volume along each of the 8 axis sets (numpy), run `axon predict` on it,
flip the output back, move each affinity channel whose axis was flipped by its offset
(the flipped network's edge p -> p - o is our edge at p + o), and average. The crop is a
whole number of the model's coarsest grid on every axis, so both see the same pooling
phase; they must then agree to float rounding. Also: a 1-channel boundary model's TTA is
close to the average of the 8 unflipped predictions (not equal: its tiles and outputs
sit on different grids, see below).
Run: BUILD=build /usr/bin/python3 tests/interop/test_tta.py
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import zarr

BUILD = os.environ.get("BUILD", "build")
A = os.path.join(BUILD, "axon")
S = "data/sample/medulla_z120-149.h5"
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures += 1


def run(*args):
    subprocess.run([A, "--quiet", *args], check=True)


def reference(model, raw, offsets, tmp):
    acc = None
    for f in range(8):
        axes = [d for d in range(3) if f >> d & 1]
        r = np.flip(raw, axes).copy() if axes else raw
        zarr.save_array(f"{tmp}/r.zarr", r, chunks=r.shape)
        run("predict", "--model", model, f"{tmp}/r.zarr", f"{tmp}/p.zarr", "--overwrite", "--block", ",".join(map(str, raw.shape)))
        p = zarr.open(f"{tmp}/p.zarr", "r")[:]
        p = np.flip(p, [d + 1 for d in axes]).copy() if axes else p
        for c, o in enumerate(offsets):
            d = [i for i in range(3) if o[i]]
            if d and d[0] in axes:
                d, k = d[0], -o[d[0]]
                s = np.zeros_like(p[c])
                dst, src = [slice(None)] * 3, [slice(None)] * 3
                dst[d], src[d] = slice(k, None), slice(0, -k)
                s[tuple(dst)] = p[c][tuple(src)]
                p[c] = s
        acc = p.astype(np.float64) if acc is None else acc + p
    return acc / 8


with tempfile.TemporaryDirectory() as tmp:
    # 16 x 96 x 96: a multiple of 4 (pooling 2 x 2) in z and of 8 in y, x
    run("convert", f"{S}:raw", f"{tmp}/crop.zarr", "--region", "0:16,0:96,0:96")
    raw = zarr.open(f"{tmp}/crop.zarr", "r")[:]

    model = "models/medulla_affinities.safetensors"
    offsets = [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (-3, 0, 0), (0, -3, 0), (0, 0, -3), (-9, 0, 0), (0, -9, 0), (0, 0, -9)]
    run("predict", "--model", model, f"{tmp}/crop.zarr", f"{tmp}/tta.zarr", "--tta")
    got = zarr.open(f"{tmp}/tta.zarr", "r")[:]
    ref = reference(model, raw, offsets, tmp)
    for c, o in enumerate(offsets):
        d = [i for i in range(3) if o[i]][0]
        sl = [c] + [slice(None)] * 3
        sl[d + 1] = slice(-o[d], None)  # the first |o| planes link outside the volume
        diff = np.abs(got[tuple(sl)] - ref[tuple(sl)]).max()
        check(diff < 1e-5, f"affinity channel {c} (offset {o}): TTA = mean of 8 flipped predictions (max diff {diff:.1e})")
    plain = None
    run("predict", "--model", model, f"{tmp}/crop.zarr", f"{tmp}/plain.zarr")
    plain = zarr.open(f"{tmp}/plain.zarr", "r")[:]
    check(np.abs(got - plain).max() > 1e-3, "TTA differs from the plain prediction (it averages something)")

    model = "models/sstem_boundaries.safetensors"  # pooling (1,3,3): 16 x 96 x 96 is not on its grid in y, x
    run("convert", f"{S}:raw", f"{tmp}/crop2.zarr", "--region", "0:16,0:108,0:108", "--overwrite")
    raw = zarr.open(f"{tmp}/crop2.zarr", "r")[:]
    run("predict", "--model", model, f"{tmp}/crop2.zarr", f"{tmp}/tta2.zarr", "--tta")
    got = zarr.open(f"{tmp}/tta2.zarr", "r")[:]
    ref = reference(model, raw, [(0, 0, 0)], tmp)
    # its outputs come in steps of 9 but tiles in steps of 18, so a tile's flipped pass
    # sees another pooling phase than the whole flipped volume does: close, not equal
    diff = np.abs(got - ref)
    corr = np.corrcoef(got.ravel(), ref.ravel())[0, 1]
    print(f"     boundary model: mean |TTA - reference| {diff.mean():.4f}, max {diff.max():.3f}, correlation {corr:.4f}")
    check(diff.mean() < 0.02 and corr > 0.995, "boundary model: TTA close to the mean of 8 flipped predictions")

sys.exit(1 if failures else 0)
