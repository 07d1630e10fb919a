#!/usr/bin/env python3
"""bench/reconstruct: the whole pipeline, raw EM to segmentation, on the FlyEM medulla volume
(150 x 250 x 250, ../shared/data/flyem_medulla) with the shipped model, in one run:

- axon: `axon reconstruct RAW -o DIR --model models/medulla_affinities.safetensors --no-tta`
  (predict, watershed, agglomeration at 0.6, Neuroglancer copy, report), one process timed
  from outside, per-stage times from its metrics.json; then once more with test-time
  augmentation (8 flips per tile, reconstruct's default), reported on its own line.
- peer: the same network in PyTorch 1.13 (tests/interop/unet_torch.py loads the same
  safetensors file), run over the same tiles with the same mirrored context, then
  scikit-image's watershed and a mean-affinity agglomeration in Python (the peer of
  bench/seg_ws), at the same threshold. Reading the raw with h5py is included.
Both use 2 threads. Reported: seconds per stage, whole-pipeline voxels/s and the ratio,
and each side's VOI against gt_bodies (the two networks agree to ~1e-6, but the
watershed and agglomeration differ in detail, so the scores are close, not equal).
Usage: bench.py --axon build/axon [--data DIR] [--threads 2]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
sys.path.insert(0, os.path.join(ROOT, "bench", "seg_ws"))


def torch_affinities(raw_u8, model, threads, block=(32, 128, 128)):
    import torch
    import unet_torch as ut
    torch.set_num_threads(threads)
    net, cfg, _ = ut.load_model(model)
    net.eval()
    c = ut.normalize_config(cfg)
    shape = raw_u8.shape
    want = [min(b, s) for b, s in zip(block, shape)]
    ins, outs = ut.input_for_output(c, want)
    ctx = [(i - o) // 2 for i, o in zip(ins, outs)]
    x = raw_u8.astype(np.float32) / 127.5 - 1.0
    pad = [(cx, i - o - cx + o) for cx, i, o in zip(ctx, ins, outs)]  # generous; reflect
    xp = np.pad(x, pad, mode="reflect")
    aff = np.zeros((3,) + shape, np.float32)
    with torch.no_grad():
        for z in range(0, shape[0], outs[0]):
            for y in range(0, shape[1], outs[1]):
                for xx in range(0, shape[2], outs[2]):
                    tile = xp[z:z + ins[0], y:y + ins[1], xx:xx + ins[2]]
                    if tile.shape != tuple(ins):  # the far edge: pad what reflect left short
                        tile = np.pad(tile, [(0, i - t) for i, t in zip(ins, tile.shape)], mode="reflect")
                    o = net(torch.from_numpy(np.ascontiguousarray(tile))[None, None])[0, :3].numpy()
                    n = [min(a, s - b) for a, s, b in zip(outs, shape, (z, y, xx))]
                    aff[:, z:z + n[0], y:y + n[1], xx:xx + n[2]] = o[:, :n[0], :n[1], :n[2]]
    return aff


def voi(seg, gt):
    from skimage.metrics import variation_of_information
    m = gt != 0
    s, g = seg[m].astype(np.int64), gt[m].astype(np.int64)
    # skimage returns [H(image1|image0), H(image0|image1)] = [H(seg|gt), H(gt|seg)]
    split, merge = variation_of_information(g, s)
    return float(split), float(merge)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--axon", default=os.path.join(ROOT, "build", "axon"))
    ap.add_argument("--data", default=os.environ.get("AX_DATA", os.path.join(ROOT, "..", "shared", "data")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.6)
    a = ap.parse_args()
    h5 = os.path.join(a.data, "flyem_medulla", "medulla_z0-149.h5")
    model = os.path.join(ROOT, "models", "medulla_affinities.safetensors")
    if not os.path.exists(h5):
        print(f"bench/reconstruct: {h5} not found, skipped")
        return
    work = tempfile.mkdtemp(prefix="axon-bench-recon-")
    env = dict(os.environ, AX_THREADS=str(a.threads), AX_PROGRESS="0")

    t0 = time.perf_counter()
    subprocess.run([a.axon, "reconstruct", f"{h5}:raw", "-o", f"{work}/axon", "--model", model,
                    "--threshold", str(a.threshold), "--gt", f"{h5}:gt_bodies", "--overwrite", "--no-tta"],
                   check=True, env=env, capture_output=True)
    t_axon = time.perf_counter() - t0
    m = json.load(open(f"{work}/axon/metrics.json"))
    stages = {s["stage"]: s["seconds"] for s in m["stages"]}
    # axon's default: the mean of the 8 flips of every tile (no peer run: it would be 8x too)
    t0 = time.perf_counter()
    subprocess.run([a.axon, "reconstruct", f"{h5}:raw", "-o", f"{work}/axon_tta", "--model", model,
                    "--threshold", str(a.threshold), "--gt", f"{h5}:gt_bodies", "--overwrite", "--tta"],
                   check=True, env=env, capture_output=True)
    t_tta = time.perf_counter() - t0
    mt = json.load(open(f"{work}/axon_tta/metrics.json"))
    st_tta = {s["stage"]: s["seconds"] for s in mt["stages"]}

    import h5py
    import bench as segws  # bench/seg_ws/bench.py: the skimage + Python agglomeration peer
    t0 = time.perf_counter()
    with h5py.File(h5, "r") as f:
        raw = f["raw"][:]
        gt = f["gt_bodies"][:]
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    aff = torch_affinities(raw, model, a.threads)
    t_net = time.perf_counter() - t0
    np.save(f"{work}/aff.npy", aff)
    peer = f"{work}/peer.py"
    with open(peer, "w") as f:
        f.write(segws.PEER.replace("    seg = lut[frag]", "    seg = lut[frag]\n    np.save(sys.argv[3], seg)"))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, peer, f"{work}/aff.npy", str(a.threshold), f"{work}/seg.npy"],
                       check=True, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
    t_seg = time.perf_counter() - t0
    pj = json.loads(r.stdout.strip().splitlines()[-1])
    seg_peer = np.load(f"{work}/seg.npy")
    peer_total = t_read + t_net + t_seg
    vox = raw.size
    ps, pm = voi(seg_peer, gt)
    sc = m.get("scores", {})
    print(f"whole pipeline on the FlyEM medulla volume {raw.shape}, {a.threads} threads, threshold {a.threshold}")
    print(f"{'':<28}{'axon':>10}{'PyTorch+skimage':>18}")
    print(f"{'network (affinities)':<28}{stages.get('predict', 0):>10.2f}{t_net:>18.2f}")
    print(f"{'watershed':<28}{stages.get('watershed', 0):>10.2f}{pj['ws_s']:>18.2f}")
    print(f"{'agglomeration':<28}{stages.get('agglomerate', 0):>10.2f}{pj['total_s'] - pj['ws_s']:>18.2f}")
    print(f"{'export: pyramids, meshes, skeletons (axon)':<28}{stages.get('export', 0):>10.2f}{'':>18}")
    print(f"{'report: scores, ERL, pictures (axon)':<28}{stages.get('report', 0):>10.2f}{'':>18}")
    print(f"{'reading raw (h5py, peer)':<28}{'':>10}{t_read:>18.2f}")
    common_axon = stages.get('predict', 0) + stages.get('watershed', 0) + stages.get('agglomerate', 0)
    common_peer = t_read + t_net + t_seg
    print(f"{'stages both do, s':<28}{common_axon:>10.2f}{common_peer:>18.2f}")
    print(f"{'whole process, s':<28}{t_axon:>10.2f}{peer_total:>18.2f}")
    print(f"{'voxels/s (whole process)':<28}{vox / t_axon:>10.3g}{vox / peer_total:>18.3g}")
    print(f"axon / peer speed on the stages both do (affinities -> segmentation): {common_peer / common_axon:.2f}x")
    print(f"axon / peer speed, whole process (axon also writes pyramids, meshes and skeletons and "
          f"scores ERL): {peer_total / t_axon:.2f}x")
    print(f"VOI split + merge vs gt_bodies: axon {sc.get('voi_split', float('nan')):.3f} + "
          f"{sc.get('voi_merge', float('nan')):.3f}, peer {ps:.3f} + {pm:.3f}")
    sct = mt.get("scores", {})
    print(f"axon with test-time augmentation (the reconstruct default): {t_tta:.2f} s "
          f"(network {st_tta.get('predict', 0):.2f} s), {vox / t_tta:.3g} voxels/s, VOI "
          f"{sct.get('voi_split', float('nan')):.3f} + {sct.get('voi_merge', float('nan')):.3f}")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
