#!/usr/bin/env python3
"""bench/mesh: `axon mesh` against scikit-image's marching cubes, in one run on the same
objects of the FlyEM medulla gt_bodies: the bundled sample (data/sample/medulla_z120-149.h5,
30 x 250 x 250) and the full ground truth (../shared/data/flyem_medulla/medulla_z0-149.h5,
150 x 250 x 250, skipped if absent), voxel 10 nm, every non-zero label.

- axon, marching cubes only: `axon --threads 2 mesh SEG OUT --reduction 1` (1 = keep every
  triangle: no simplification), its own "mesh X s" (reading the labels + meshing, not the
  writing of OUT) and "peak memory". This is the like-for-like row against the peer.
- axon, default: the same with --reduction 0.15 (axon mesh's default: quadric simplification
  down to 15% of the triangles). Its median minus the row above is the simplification cost,
  reported on its own; the peer has no simplification.
- peer: bench/mesh/peer_skimage.py: read the labels with h5py, find each object's bounding
  box, skimage.measure.marching_cubes (level 0.5, spacing 10 nm) of each object's mask in its
  box padded by one voxel; skimage is single-threaded, so the objects are split over 2 forked
  processes (the peer's "2 threads"). Peak memory: /usr/bin/time's maximum resident set of
  the largest process.
Reported: min and median seconds of --reps runs of each, objects/s and marching-cubes
triangles/s (from the median), peak memory, and the axon/peer speed ratio (peer median / axon
median) for marching cubes alone.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def run_timed(cmd, env):
    """(stdout+stderr, peak RSS MiB) of one process under /usr/bin/time -v."""
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return r.stdout + r.stderr, (int(m.group(1)) / 1024 if m else float("nan"))


def axon_runs(a, seg, out, reduction, reps, env):
    t, mem = [], []
    for _ in range(reps):
        o, _ = run_timed([a.axon, "--threads", str(a.threads), "mesh", seg, out,
                          "--reduction", str(reduction), "--overwrite"], env)
        t.append(float(re.search(r"mesh ([0-9.]+) s", o).group(1)))
        mem.append(float(re.search(r"peak memory ([0-9.]+) MiB", o).group(1)))
        m = re.search(r"(\d+) objects, (\d+) -> (\d+) triangles", o)
    return dict(t=t, mem=max(mem), obj=int(m.group(1)), tri_mc=int(m.group(2)), tri=int(m.group(3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--axon", default=os.path.join(ROOT, "build", "axon"))
    ap.add_argument("--data", default=os.environ.get("AX_DATA", os.path.join(ROOT, "..", "shared", "data")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()

    cases = [("sample z120-149", os.path.join(ROOT, "data", "sample", "medulla_z120-149.h5"))]
    full = os.path.join(a.data, "flyem_medulla", "medulla_z0-149.h5")
    if os.path.exists(full):
        cases.append(("medulla z0-149", full))
    else:
        print(f"({full} not found: the full volume is skipped)")

    work = tempfile.mkdtemp(prefix="axon-bench-mesh-")
    env = dict(os.environ, AX_PROGRESS="0", OMP_NUM_THREADS="1")
    peer = os.path.join(HERE, "peer_skimage.py")
    rows = []
    try:
        for name, h5 in cases:
            seg = f"{h5}:gt_bodies"
            mc = axon_runs(a, seg, f"{work}/mesh", 1, a.reps, env)
            simp = axon_runs(a, seg, f"{work}/mesh", 0.15, a.reps, env)
            pout, p_mem = run_timed([sys.executable, peer, h5, "gt_bodies", "--reps", str(a.reps),
                                     "--procs", str(a.threads)], env)
            pj = json.loads([l for l in pout.splitlines() if l.startswith("{")][-1])
            rows.append(dict(name=name, mc=mc, simp=simp, p_t=pj["seconds"], p_mem=p_mem,
                             p_obj=pj["objects"], p_tri=pj["triangles"], skv=pj["skimage"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"surface meshes of the FlyEM medulla gt_bodies (voxel 10 nm, every body), {a.threads} "
          f"threads each, min / median of {a.reps} runs")
    print(f"peer: scikit-image {rows[0]['skv']} measure.marching_cubes per object (mask in its "
          f"bounding box padded by 1), the objects split over {a.threads} forked processes; "
          f"no simplification")
    hdr = (f"{'case':<16} {'side':<28} {'objects':>7} {'s min':>7} {'s med':>7} {'obj/s':>7} "
           f"{'M tri/s':>7} {'peak MiB':>8}  triangles")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        mc, sp = r["mc"], r["simp"]
        mm, sm, pm = (statistics.median(x) for x in (mc["t"], sp["t"], r["p_t"]))
        print(f"{r['name']:<16} {'axon, marching cubes only':<28} {mc['obj']:>7} {min(mc['t']):>7.3f} "
              f"{mm:>7.3f} {mc['obj'] / mm:>7.0f} {mc['tri_mc'] / mm / 1e6:>7.2f} {mc['mem']:>8.0f}"
              f"  {mc['tri_mc']}")
        print(f"{'':<16} {'skimage marching_cubes':<28} {r['p_obj']:>7} {min(r['p_t']):>7.3f} "
              f"{pm:>7.3f} {r['p_obj'] / pm:>7.0f} {r['p_tri'] / pm / 1e6:>7.2f} {r['p_mem']:>8.0f}"
              f"  {r['p_tri']}")
        print(f"{'':<16} {'axon / skimage, MC only':<28} speed {pm / mm:.2f}x (median), "
              f"{min(r['p_t']) / min(mc['t']):.2f}x (min)")
        print(f"{'':<16} {'axon, default (reduction .15)':<28} {sp['obj']:>7} {min(sp['t']):>7.3f} "
              f"{sm:>7.3f} {sp['obj'] / sm:>7.0f} {sp['tri_mc'] / sm / 1e6:>7.2f} {sp['mem']:>8.0f}"
              f"  {sp['tri_mc']} -> {sp['tri']}")
        print(f"{'':<16} {'  simplification cost':<28} {sm - mm:.3f} s of {sm:.3f} s "
              f"({100 * (sm - mm) / sm:.0f}%), {sp['tri_mc'] / max(sm - mm, 1e-9) / 1e6:.2f} M input "
              f"triangles/s")
    print("times: reading the labels + meshing (axon's own \"mesh X s\"; the peer timed the same "
          "way), no writing; M tri/s: marching-cubes triangles per second.")
    print("The machine (2 cores) is shared with another heavy job during this run: absolute "
          "times are noisy; the ratios compare the sides measured back to back in this run.")


if __name__ == "__main__":
    main()
