#!/usr/bin/env python3
"""bench/cnn: PyTorch 1.13 CPU on axon's reference U-Net, the figure axon's CNN engine is
compared with (the network is tests/interop/unet_torch.py, the module axon matches).

Network: {"levels": 3, "base_fmaps": 12, "fmap_mult": 3, "downsample": [[1,2,2],[1,2,2]],
"kernel": [3,3,3], "out_channels": 3, "out_activation": "sigmoid"} (12/36/108 feature maps,
605,187 parameters); input 1 x 1 x 32 x 196 x 196 -> output 3 x 12 x 156 x 156.

Two measurements, each a warm-up run then R timed repeats (min and median reported):
  inference  net(x) under torch.no_grad()
  train      forward, loss = sum(w * BCEWithLogits(logits, t)) / numel, backward,
             torch.optim.Adam step (lr 1e-3), gradients zeroed first
FLOPs (multiply + add = 2): 2*Ci*Co*prod(k)*out_voxels per conv (the 1x1x1 output conv
too) and 2*Ci*Co*prod(k)*in_voxels per transposed conv; a training step counts 3x the
forward FLOPs. voxels/s counts output voxels (spatial, not x channels).

Output: one JSON object per line (and a list in --json). Importable: bench(...) returns
the same dicts, for a run.sh that adds axon's timing beside them.
Usage: bench_torch.py [--threads N] [--reps R] [--shape D,H,W] [--modes inference,train]
       (threads default: $THREADS, else $AX_THREADS, else 2)
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "interop"))
import unet_torch as ut  # noqa: E402

REFERENCE = {"levels": 3, "base_fmaps": 12, "fmap_mult": 3, "downsample": [[1, 2, 2], [1, 2, 2]],
             "kernel": [3, 3, 3], "out_channels": 3, "out_activation": "sigmoid"}
IN_SHAPE = (32, 196, 196)


def default_threads():
    return int(os.environ.get("THREADS", os.environ.get("AX_THREADS", 2)))


def forward_flops(config, in_shape):
    """FLOPs of one forward pass, counted as above (same as axon's ax_net_forward_flops
    is expected to count)."""
    return ut.forward_flops(config, in_shape)


def _timeit(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return ts


def _record(mode, config, in_shape, out_shape, ts, flops, threads):
    med = statistics.median(ts)
    vox = float(np.prod(out_shape))
    return {"impl": "torch", "version": torch.__version__, "mode": mode, "threads": threads,
            "config": config, "in_shape": list(in_shape), "out_shape": list(out_shape),
            "reps": len(ts), "seconds_min": min(ts), "seconds_median": med,
            "voxels_per_s": vox / med, "voxels_per_s_best": vox / min(ts),
            "gflop": flops / 1e9, "gflops_per_s": flops / med / 1e9,
            "gflops_per_s_best": flops / min(ts) / 1e9,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench(threads=None, reps=5, in_shape=IN_SHAPE, config=None, modes=("inference", "train"),
          seed=0):
    """Time PyTorch on the network; returns a list of result dicts (one per mode)."""
    threads = threads or default_threads()
    config = config or REFERENCE
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    net = ut.UNet(config)
    c = net.config
    out_shape = ut.output_shape(c, in_shape)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((1, c["in_channels"]) + tuple(in_shape),
                                             dtype=np.float32))
    oshape = (1, c["out_channels"]) + out_shape
    t = torch.from_numpy((rng.uniform(0, 1, oshape) < 0.5).astype(np.float32))
    w = torch.from_numpy(rng.uniform(0, 2, oshape).astype(np.float32))
    f1 = forward_flops(c, in_shape)
    results = []
    if "inference" in modes:
        net.eval()

        def infer():
            with torch.no_grad():
                return net(x)

        ts = _timeit(infer, reps)
        results.append(_record("inference", config, in_shape, out_shape, ts, f1, threads))
    if "train" in modes:
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=False)
            logits = net.forward_logits(x)
            loss = (w * F.binary_cross_entropy_with_logits(logits, t, reduction="none")).sum() \
                / logits.numel()
            loss.backward()
            opt.step()
            return float(loss)

        ts = _timeit(step, reps)
        results.append(_record("train", config, in_shape, out_shape, ts, 3 * f1, threads))
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--shape", default=",".join(map(str, IN_SHAPE)))
    ap.add_argument("--modes", default="inference,train")
    ap.add_argument("--config", default=None, help="JSON description (default: the reference)")
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args(argv)
    shape = tuple(int(s) for s in a.shape.split(","))
    config = json.loads(a.config) if a.config else None
    res = bench(a.threads, a.reps, shape, config, tuple(a.modes.split(",")))
    for r in res:
        print(json.dumps(r), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
