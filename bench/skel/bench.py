#!/usr/bin/env python3
"""bench/skel: `axon skeletonize` (TEASAR, as kimimaro) against scikit-image's 3-d
skeletonization (skeletonize_3d: Lee et al. 1994 thinning), in one run on the same objects.

The two are DIFFERENT ALGORITHMS: TEASAR traces a tree of paths through each object and
writes a vertex/edge skeleton with radii; thinning peels boundary voxels until a one-voxel
wide voxel set is left (no graph, no radii). They are compared for speed only.
kimimaro, the TEASAR reference axon follows, is on PyPI but not packaged in Debian, so it
is not run here.

Data: the FlyEM medulla gt_bodies, the bundled sample (data/sample/medulla_z120-149.h5,
30 x 250 x 250) and the full ground truth (../shared/data/flyem_medulla/medulla_z0-149.h5,
150 x 250 x 250, skipped if absent), voxel 10 nm. Objects: every body with >= 1000 voxels
(axon's default --dust; the peer applies the same cut, so both do the same objects).

- axon: `axon --threads 2 skeletonize SEG OUT` (SWC files), its own "skeletonize X s"
  (reading the labels + skeletonizing, no writing) and "peak memory".
- peer: bench/skel/peer_skimage.py: read the labels with h5py, find each object's voxel
  count and bounding box, skeletonize each object's mask in its box; skimage is single-
  threaded, so the objects are split over 2 forked processes (the peer's "2 threads").
  Peak memory: /usr/bin/time's maximum resident set of the largest process.
Reported: min and median seconds of --reps runs of each side, volume voxels/s and objects/s
(from the median), peak memory, and the axon/peer speed ratio (peer median / axon median).
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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def run_timed(cmd, env):
    """(stdout+stderr, peak RSS MiB) of one process under /usr/bin/time -v."""
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return r.stdout + r.stderr, (int(m.group(1)) / 1024 if m else float("nan"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--axon", default=os.path.join(ROOT, "build", "axon"))
    ap.add_argument("--data", default=os.environ.get("AX_DATA", os.path.join(ROOT, "..", "shared", "data")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5, help="repeats on the sample")
    ap.add_argument("--reps-full", type=int, default=3, help="repeats on the full volume")
    ap.add_argument("--dust", type=int, default=1000)
    a = ap.parse_args()

    cases = [("sample z120-149", os.path.join(ROOT, "data", "sample", "medulla_z120-149.h5"), a.reps)]
    full = os.path.join(a.data, "flyem_medulla", "medulla_z0-149.h5")
    if os.path.exists(full):
        cases.append(("medulla z0-149", full, a.reps_full))
    else:
        print(f"({full} not found: the full volume is skipped)")
    try:
        import kimimaro  # noqa: F401
        kim = "kimimaro is importable here, but this bench does not run it."
    except ImportError:
        kim = ("kimimaro (the TEASAR reference) is not packaged in Debian (no python3-kimimaro), "
               "so it cannot be run here.")

    work = tempfile.mkdtemp(prefix="axon-bench-skel-")
    env = dict(os.environ, AX_PROGRESS="0", OMP_NUM_THREADS="1")
    peer = os.path.join(HERE, "peer_skimage.py")
    rows = []
    try:
        for name, h5, reps in cases:
            seg = f"{h5}:gt_bodies"
            ax_t, ax_mem, out = [], [], ""
            for _ in range(reps):
                out, _ = run_timed([a.axon, "--threads", str(a.threads), "skeletonize", seg,
                                    f"{work}/skel", "--dust", str(a.dust), "--overwrite"], env)
                ax_t.append(float(re.search(r"skeletonize ([0-9.]+) s", out).group(1)))
                ax_mem.append(float(re.search(r"peak memory ([0-9.]+) MiB", out).group(1)))
            ax_obj = int(re.search(r"(\d+) skeletons", out).group(1))
            ax_vert = int(re.search(r"(\d+) vertices", out).group(1))
            pout, p_mem = run_timed([sys.executable, peer, h5, "gt_bodies", "--reps", str(reps),
                                     "--procs", str(a.threads), "--dust", str(a.dust)], env)
            pj = json.loads([l for l in pout.splitlines() if l.startswith("{")][-1])
            rows.append(dict(name=name, reps=reps, ax_t=ax_t, ax_mem=max(ax_mem), ax_obj=ax_obj,
                             ax_vert=ax_vert, p_t=pj["seconds"], p_mem=p_mem, p_obj=pj["objects"],
                             p_vox=pj["skeleton_voxels"], vox=pj["voxels"], func=pj["function"],
                             skv=pj["skimage"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    r0 = rows[0]
    print(f"skeletons of the FlyEM medulla gt_bodies (voxel 10 nm, objects >= {a.dust} voxels), "
          f"{a.threads} threads each")
    print(f"axon skeletonize: TEASAR.  peer: scikit-image {r0['skv']} {r0['func']}: "
          f"Lee thinning, a DIFFERENT algorithm, compared for speed only")
    print(f"(skimage is single-threaded: the peer splits the objects over {a.threads} forked "
          f"processes; both times include reading the labels)")
    hdr = (f"{'case':<16} {'side':<16} {'objects':>7} {'reps':>4} {'s min':>7} {'s med':>7} "
           f"{'Mvox/s':>7} {'obj/s':>7} {'peak MiB':>8}  output")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        am, pm = statistics.median(r["ax_t"]), statistics.median(r["p_t"])
        print(f"{r['name']:<16} {'axon':<16} {r['ax_obj']:>7} {r['reps']:>4} {min(r['ax_t']):>7.2f} "
              f"{am:>7.2f} {r['vox'] / am / 1e6:>7.2f} {r['ax_obj'] / am:>7.1f} {r['ax_mem']:>8.0f}"
              f"  {r['ax_vert']} skeleton vertices")
        print(f"{'':<16} {'skimage thinning':<16} {r['p_obj']:>7} {r['reps']:>4} {min(r['p_t']):>7.2f} "
              f"{pm:>7.2f} {r['vox'] / pm / 1e6:>7.2f} {r['p_obj'] / pm:>7.1f} {r['p_mem']:>8.0f}"
              f"  {r['p_vox']} skeleton voxels")
        print(f"{'':<16} {'axon / skimage':<16} speed {pm / am:.2f}x (median), {min(r['p_t']) / min(r['ax_t']):.2f}x (min)")
    print("Mvox/s: voxels of the whole volume per second; obj/s: objects skeletonized per second "
          "(both from the median).")
    print("The machine (2 cores) is shared with another heavy job during this run: absolute "
          "times are noisy; the ratios compare the sides measured back to back in this run.")
    print(kim)


if __name__ == "__main__":
    main()
