#!/usr/bin/env python3
"""`axon eval` against scikit-image (python3-skimage) on real segmentations.

Data (AX_DATA, default ../shared/data; the test is skipped, exit 0, when it is absent):
  flyem_medulla/medulla_z0-149.h5  gt_supervoxels (uint32) scored as a segmentation of
                                   gt_bodies (uint64), then perturbed: supervoxels merged
                                   at random, bodies split by a plane, blocks set to 0
  gala/train-ws.lzf.h5 vs gala/train-gt.lzf.h5   (int32, LZF; read by h5py and by axon)

Conventions compared (include/axon/eval.h):
  - gt voxels with the ignore label (0 unless said) are left out of everything: skimage's
    ignore_labels=[0], which also applies to the first ("true") image only.
  - voi_split = H(seg|gt), voi_merge = H(gt|seg), bits:
        skimage.metrics.variation_of_information(gt, seg, ignore_labels=[0])
    returns [H(image1|image0), H(image0|image1)] = [split, merge] with log2.
    Seg label 0 is an ordinary label in VOI (as in skimage and CREMI's voi()).
  - arand_skimage = skimage.metrics.adapted_rand_error(gt, seg, ignore_labels=(0,))[0]:
    pairs of distinct voxels (sum n(n-1)), seg 0 an ordinary label.
  - arand (SNEMI3D/CREMI: squared counts, seg 0 voxels as singletons) and
    arand_seg0_label (squared counts, seg 0 a label) have no skimage counterpart; they are
    checked against a numpy evaluation of the formulas from np.unique pair counts, against
    each other (arand(seg) == arand_seg0_label(seg with every 0 voxel given its own new
    label)), and against cremi_python's rand.py formula (re-derived below, with its
    "/ n" on the singleton term) within the bound stated in eval.h.
  - cremi_score = sqrt(arand * (voi_split + voi_merge)).
Relative tolerance 1e-9 throughout.

Run: AXON=build/axon BUILD=build /usr/bin/python3 tests/interop/test_eval.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from skimage.metrics import adapted_rand_error, variation_of_information

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axon_ctypes  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
AXON = os.environ.get("AXON", os.path.join(BUILD, "axon"))
DATA = os.environ.get("AX_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                               "shared", "data"))
MEDULLA = os.path.join(DATA, "flyem_medulla", "medulla_z0-149.h5")
GALA_GT = os.path.join(DATA, "gala", "train-gt.lzf.h5")
GALA_WS = os.path.join(DATA, "gala", "train-ws.lzf.h5")
TOL = 1e-9
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL", what)


def close(a, b, tol=TOL):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def axon(*args):
    return subprocess.run([AXON, "--quiet", *args], capture_output=True, text=True)


def axon_eval(seg, gt, *extra):
    r = axon("eval", "--seg", seg, "--gt", gt, "--json", *extra)
    if r.returncode != 0:
        raise RuntimeError(f"axon eval {seg} {gt} failed ({r.returncode}): {r.stderr}")
    return json.loads(r.stdout)


_uniq = {}


def uniq(arr):
    """np.unique(arr.ravel(), return_inverse, return_counts), remembered per array (the
    same gt is scored many times; the cache keeps arr alive so its id stays unique)."""
    k = id(arr)
    if k not in _uniq:
        _uniq[k] = (arr,) + np.unique(arr.ravel(), return_inverse=True, return_counts=True)
    return _uniq[k][1:]


def reference(seg, gt, ignore=0):
    """The eval.h formulas straight from np.unique counts of (gt, seg) pairs (sums of
    squares in uint64: exact while the volume has fewer than 2^32 voxels)."""
    sl, s_inv, _ = uniq(seg)
    gl, g_inv, _ = uniq(gt)
    if ignore is not None:
        keep = gt.ravel() != ignore
        s_inv, g_inv = s_inv[keep], g_inv[keep]
    n = s_inv.size
    assert n < 2**32
    a, b = np.bincount(g_inv, minlength=len(gl)), np.bincount(s_inv, minlength=len(sl))
    s = sl[s_inv]
    keys, nij = np.unique(g_inv.astype(np.int64) * len(sl) + s_inv, return_counts=True)
    pairs = np.stack([gl[keys // len(sl)], sl[keys % len(sl)]])
    nij, a, b = nij.astype(np.uint64), a.astype(np.uint64), b.astype(np.uint64)
    z = int(np.count_nonzero(s == 0))
    A = int(np.sum(a * a))
    J_all, B_all = int(np.sum(nij * nij)), int(np.sum(b * b))
    J_nz = int(np.sum((nij * nij)[pairs[1] != 0]))
    B_nz = int(np.sum((b * b)[sl != 0]))
    out = {
        "arand": (A + B_nz + z - 2 * (J_nz + z)) / (A + B_nz + z),
        "arand_seg0_label": (A + B_all - 2 * J_all) / (A + B_all),
        "bound": 2 * z / (A + B_nz),
        "n": n, "z": z,
    }
    # cremi_python rand.py, re-derived: count table, singleton term divided by n (there n
    # is the whole volume, ignored voxels included)
    nv = seg.size
    sumA, sumB, sumAB = float(A), float(B_nz) + z / nv, float(J_nz) + z / nv
    prec, rec = sumAB / sumB, sumAB / sumA
    out["arand_cremi_python"] = 1 - 2 * prec * rec / (prec + rec)
    # per-object shares of the VOI (the worst lists), from the same counts
    c = nij.astype(np.float64)
    ai = a[np.searchsorted(gl, pairs[0])].astype(np.float64)
    bj = b[np.searchsorted(sl, pairs[1])].astype(np.float64)
    for key, ids, own, labels in (("worst_split", pairs[0], ai, gl), ("worst_merge", pairs[1], bj, sl)):
        share = np.zeros(len(labels))
        np.add.at(share, np.searchsorted(labels, ids), c * np.log2(own / c))
        order = sorted((i for i in range(len(labels)) if share[i] > 0),
                       key=lambda i: (-share[i], int(labels[i])))[:10]
        out[key] = [(share[i] / n, int(labels[i])) for i in order]
    return out


def compare(name, seg, gt, got, ignore=0, ref_arand=True):
    """got: axon's result (dict) for seg vs gt."""
    # skimage sizes its marginals by the largest label, so give it consecutive ids (the
    # scores do not depend on the ids); the ignored gt label becomes 0
    seg_c = uniq(seg)[1].reshape(seg.shape)
    gt_c = uniq(gt)[1].reshape(gt.shape) + 1
    if ignore is not None:
        gt_c[gt == ignore] = 0
    ign = [] if ignore is None else [0]
    split, merge = variation_of_information(gt_c, seg_c, ignore_labels=ign)
    are = adapted_rand_error(gt_c, seg_c, ignore_labels=ign)[0]
    check(close(got["voi_split"], split), f"{name}: voi_split {got['voi_split']} vs skimage {split}")
    check(close(got["voi_merge"], merge), f"{name}: voi_merge {got['voi_merge']} vs skimage {merge}")
    check(close(got["arand_skimage"], are), f"{name}: arand_skimage {got['arand_skimage']} vs skimage {are}")
    if ref_arand:
        ref = reference(seg, gt, ignore)
        check(close(got["arand"], ref["arand"]), f"{name}: arand {got['arand']} vs {ref['arand']}")
        check(close(got["arand_seg0_label"], ref["arand_seg0_label"]),
              f"{name}: arand_seg0_label {got['arand_seg0_label']} vs {ref['arand_seg0_label']}")
        d = abs(got["arand"] - ref["arand_cremi_python"])
        check(d <= ref["bound"] * (1 + 1e-9) + 1e-15,
              f"{name}: |arand - cremi_python| {d} above the bound {ref['bound']}")
        if ref["z"] == 0:
            check(close(got["arand"], ref["arand_cremi_python"]),
                  f"{name}: no seg 0, arand should equal cremi_python's")
        check(got["voxels_scored"] == ref["n"] and got["voxels_seg0"] == ref["z"],
              f"{name}: voxel counts")
        for key in ("worst_split", "worst_merge"):
            mine = [(o["bits"], o["id"]) for o in got[key]][:10]
            theirs = ref[key]
            check([i for _, i in mine] == [i for _, i in theirs]
                  and all(close(x, y) for (x, _), (y, _) in zip(mine, theirs)),
                  f"{name}: {key} {mine[:3]}... vs {theirs[:3]}...")
    check(close(got["cremi_score"], (got["arand"] * (got["voi_split"] + got["voi_merge"])) ** 0.5),
          f"{name}: cremi_score")
    _uniq.pop(id(seg), None)  # keep only the gt volumes cached
    print(f"ok   {name}: split {got['voi_split']:.6f} merge {got['voi_merge']:.6f} "
          f"arand {got['arand']:.6f} arand_skimage {got['arand_skimage']:.6f} "
          f"(skimage {split:.6f} {merge:.6f} {are:.6f})")


def write_h5(path, arrays, chunks=(25, 64, 64)):
    with h5py.File(path, "w") as f:
        for name, a in arrays.items():
            f.create_dataset(name, data=a, chunks=tuple(min(c, s) for c, s in zip(chunks, a.shape)),
                             compression="gzip", compression_opts=1)


def main():
    if not os.path.exists(MEDULLA) or not os.path.exists(GALA_GT):
        print(f"skip: real data not found under {DATA} (set AX_DATA)")
        return 0
    tmp = tempfile.mkdtemp(prefix="axon-eval-interop-", dir=os.environ.get("AX_TEST_TMP"))
    rng = np.random.default_rng(2024)
    lib = axon_ctypes.load_eval(axon_ctypes.load_lib(BUILD))

    with h5py.File(MEDULLA, "r") as f:
        bodies = f["gt_bodies"][...]
        sv = f["gt_supervoxels"][...]
    # 1. supervoxels as a segmentation of the bodies, straight from the file
    got = axon_eval(f"{MEDULLA}:gt_supervoxels", f"{MEDULLA}:gt_bodies")
    compare("medulla supervoxels vs bodies", sv, bodies, got)
    check(got["voxels_total"] == sv.size and got["gt_labels"] == len(np.unique(bodies[bodies != 0])),
          "medulla: label counts")

    # 2. perturbations, written as h5 and scored from the files
    ids = np.unique(sv)
    merged_to = dict(zip(ids.tolist(), ids.tolist()))
    pick = rng.choice(ids, size=len(ids) // 3, replace=False)
    for i in pick.tolist():  # a third of the supervoxels merged into a random other
        merged_to[i] = int(rng.choice(ids))
    lut_keys = np.array(list(merged_to.keys()), dtype=np.uint64)
    lut_vals = np.array(list(merged_to.values()), dtype=np.uint64)
    merged = lut_vals[np.searchsorted(lut_keys, sv.astype(np.uint64))]
    split = bodies.copy()
    split[:, :, 125:] += np.uint64(1 << 40) * (split[:, :, 125:] % 3 == 0)  # a plane cuts a third
    holes = merged.copy()
    for _ in range(40):  # blocks of seg label 0 (unlabelled), as in a real segmentation
        z, y, x = rng.integers(0, 130), rng.integers(0, 220), rng.integers(0, 220)
        holes[z:z + 20, y:y + 30, x:x + 30] = 0
    noisy = sv.astype(np.uint64).copy()
    m = rng.random(noisy.shape) < 0.02  # salt noise: 2% of voxels get random ids
    noisy[m] = rng.integers(1, 5000, size=int(m.sum())).astype(np.uint64)
    p = os.path.join(tmp, "perturbed.h5")
    write_h5(p, {"merged": merged, "split": split, "holes": holes, "noisy": noisy})
    compare("medulla merged supervoxels", merged, bodies, axon_eval(f"{p}:merged", f"{MEDULLA}:gt_bodies"))
    compare("medulla bodies split by a plane", split, bodies, axon_eval(f"{p}:split", f"{MEDULLA}:gt_bodies"))
    got_holes = axon_eval(f"{p}:holes", f"{MEDULLA}:gt_bodies")
    compare("medulla with seg-0 holes", holes, bodies, got_holes)
    check(got_holes["voxels_seg0"] > 0 and got_holes["arand"] != got_holes["arand_seg0_label"],
          "holes: seg 0 changes arand")
    compare("medulla salt noise", noisy, bodies, axon_eval(f"{p}:noisy", f"{MEDULLA}:gt_bodies"))
    # the roles swapped: bodies scored against supervoxels (a pure merge)
    compare("medulla bodies vs supervoxels", bodies, sv, axon_eval(f"{MEDULLA}:gt_bodies", f"{MEDULLA}:gt_supervoxels"))

    # seg 0 as singletons = seg 0 relabelled to fresh ids, one per voxel (ctypes, in memory)
    uniq = holes.astype(np.uint64).copy()
    zeros = np.flatnonzero(uniq == 0)
    uniq.ravel()[zeros] = uniq.max() + 1 + np.arange(zeros.size, dtype=np.uint64)
    r_uniq = axon_ctypes.eval_arrays(lib, uniq, bodies)
    check(close(r_uniq["arand_seg0_label"], got_holes["arand"]),
          f"holes: arand {got_holes['arand']} vs seg-0-uniquified arand_seg0_label {r_uniq['arand_seg0_label']}")
    are_uniq = adapted_rand_error(bodies, uniq, ignore_labels=(0,))[0]
    check(close(r_uniq["arand_skimage"], are_uniq), "uniquified: arand_skimage vs skimage")

    # 3. no ignore label; another ignore label (the most common body)
    compare("medulla merged, --no-ignore", merged, bodies,
            axon_eval(f"{p}:merged", f"{MEDULLA}:gt_bodies", "--no-ignore"), ignore=None)
    vals, cnt = np.unique(bodies, return_counts=True)
    big = int(vals[np.argmax(cnt)])
    compare(f"medulla merged, --ignore-gt-label {big}", merged, bodies,
            axon_eval(f"{p}:merged", f"{MEDULLA}:gt_bodies", "--ignore-gt-label", str(big)), ignore=big)

    # 4. labels >= 2^63 are ordinary ids: an order-preserving move above 2^63 (seg) and
    # gt 0 moved to 2^64-1 (then the ignore label) give the same numbers exactly
    hi = np.uint64(1 << 63)
    seg_hi = np.where(merged != 0, merged.astype(np.uint64) + hi, np.uint64(0))
    gt_hi = np.where(bodies != 0, bodies + hi, np.uint64(2**64 - 1))
    ph = os.path.join(tmp, "hi.h5")
    write_h5(ph, {"seg": seg_hi, "gt": gt_hi})
    got_hi = axon_eval(f"{ph}:seg", f"{ph}:gt", "--ignore-gt-label", str(2**64 - 1))
    got_lo = axon_eval(f"{p}:merged", f"{MEDULLA}:gt_bodies")
    for k in ("voi_split", "voi_merge", "arand", "arand_seg0_label", "arand_skimage", "cremi_score",
              "voxels_scored", "pairs"):
        check(got_hi[k] == got_lo[k], f"labels >= 2^63: {k} {got_hi[k]} vs {got_lo[k]}")
    check(got_hi["worst_split"][0]["id"] == got_lo["worst_split"][0]["id"] + 2**63,
          "labels >= 2^63: ids printed exactly")
    print("ok   labels >= 2^63 and ignore label 2^64-1")

    # 5. gala: watershed fragments vs ground truth, int32 LZF
    with h5py.File(GALA_GT, "r") as f:
        ggt = f["stack"][...]
    with h5py.File(GALA_WS, "r") as f:
        gws = f["stack"][...]
    compare("gala train-ws vs train-gt", gws, ggt, axon_eval(f"{GALA_WS}:stack", f"{GALA_GT}:stack"))

    # 6. in-memory random perturbations through ctypes (ax_eval_arrays), thread counts
    for trial in range(4):
        seg = sv.astype(np.uint64)[:60]
        gt = bodies[:60]
        seg = np.where(rng.random(seg.shape) < 0.05 * trial, np.uint64(0), seg)
        if trial % 2:
            seg = seg // np.uint64(2 + trial)  # merges by integer division of ids
        lib.ax_threads_set(1 + trial % 2)
        compare(f"ctypes trial {trial}", seg, gt, axon_ctypes.eval_arrays(lib, seg, gt))
    lib.ax_threads_set(0)

    # 7. bad input: shape mismatch, a missing dataset, usage
    small = os.path.join(tmp, "small.h5")
    write_h5(small, {"seg": sv[:, :, :200]})
    r = axon("eval", "--seg", f"{small}:seg", "--gt", f"{MEDULLA}:gt_bodies")
    check(r.returncode == 1 and "shape mismatch" in r.stderr and "small.h5" in r.stderr
          and "medulla_z0-149.h5" in r.stderr and "150 x 250 x 200" in r.stderr,
          f"shape mismatch: {r.returncode} {r.stderr!r}")
    r = axon("eval", "--seg", f"{MEDULLA}:nope", "--gt", f"{MEDULLA}:gt_bodies")
    check(r.returncode == 1 and "nope" in r.stderr, f"missing dataset: {r.returncode} {r.stderr!r}")
    r = axon("eval", "--seg", f"{MEDULLA}:gt_supervoxels")
    check(r.returncode == 2, f"no --gt: exit {r.returncode}")
    r = axon("eval", "--seg", "a", "--gt", "b", "--ignore-gt-label", "-1")
    check(r.returncode == 2 and "ignore-gt-label" in r.stderr, f"negative ignore label: {r.returncode}")
    print("ok   bad input")

    if failures:
        print(f"{failures} failures (files kept in {tmp})")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("all eval interop checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
