#!/usr/bin/env python3
"""axon's CNN engine (include/axon/nn.h, through ctypes on $BUILD/libaxon.so) against the
PyTorch reference module (tests/interop/unet_torch.py, python3-torch 1.13).

For each small U-Net configuration (3-level anisotropic, 2-level isotropic, anisotropic
kernels, same padding, nearest upsampling, group/instance norm, elu/leaky_relu/tanh/sigmoid
activations, out_activation none/tanh with MSE, several in/out channels, odd crops):
  1. the torch net (torch.manual_seed; norm affine parameters perturbed so that weight
     and bias are not 1 and 0) is saved as float32 safetensors and ax_net_load()ed: names,
     shapes and bits of every parameter match, ax_net_config() describes the same net,
     in/out channels, ax_net_output_shape() == torch's output shape,
     ax_net_input_for_output() == the smallest input found by brute force;
  2. forward on the same random input (train 0 and 1) against torch in float64 (torch in
     float32 is reported beside it): max|a - b| <= 1e-4 * max(1, max|b|);
  3. loss + backward (BCE on logits with per-voxel weights, or MSE on the output),
     loss = sum(w * l) / numel: the loss within 1e-4 relative, every parameter's gradient
     within 1e-4 * max|grad of that parameter| (floored at 1e-3 of the largest gradient of
     the net; conv biases right before an instance norm, whose gradient is 0 in exact
     arithmetic, within 1e-5 of the largest gradient) of float64 torch;
  4. two Adam steps (lr 1e-3, defaults otherwise) and, on a fresh copy, two SGD steps
     (lr 1e-2, momentum 0.9) with torch.optim fed axon's own gradients (so the optimiser
     is compared on identical inputs): updated parameters agree to 1e-4 of the update;
  5. ax_net_save() of the trained net loads in torch (load_model) with the same bits and
     gives the same output; ax_net_create(json, seed) saves a net that torch loads and
     runs identically, is deterministic in the seed and follows the documented He-uniform
     initialisation.
Also: inputs that do not fit (not divisible by the pooling, too small) give AX_E_INVALID
with a message and no crash, from ax_net_output_shape and ax_net_forward; bad JSON and bad
files are refused; gradients accumulate until ax_net_zero_grad; results do not depend on
the thread count (1 vs 2 threads, bitwise).

Run: BUILD=build /usr/bin/python3 tests/interop/test_nn_torch.py   (exit 1 on failure)
"""
import copy
import ctypes as C
import json
import math
import os
import struct
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unet_torch as ut  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
TOL = 1e-4
AX_E_INVALID = -6
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL", what)
    return cond


# ---- ctypes binding of include/axon/nn.h -------------------------------------------------


class OptimParams(C.Structure):
    """ax_optim_params, field for field."""
    _fields_ = [("lr", C.c_double), ("beta1", C.c_double), ("beta2", C.c_double),
                ("eps", C.c_double), ("weight_decay", C.c_double), ("momentum", C.c_double)]


NN_SYMBOLS = ["ax_net_create", "ax_net_load", "ax_net_save", "ax_net_free", "ax_net_config",
              "ax_net_in_channels", "ax_net_out_channels", "ax_net_output_shape",
              "ax_net_input_for_output", "ax_net_forward_flops", "ax_net_param_count",
              "ax_net_param_name", "ax_net_param_data", "ax_net_param_grad", "ax_net_forward",
              "ax_net_backward", "ax_net_zero_grad", "ax_optim_params_default",
              "ax_net_adam_step", "ax_net_sgd_step"]


def load_nn(build):
    """libaxon with the nn.h signatures set; None (after saying why) when it cannot."""
    path = os.path.abspath(os.path.join(build, "libaxon.so"))
    try:
        lib = C.CDLL(path)
    except OSError as e:
        print(f"FAIL: cannot load {path}: {e}")
        return None
    missing = [s for s in NN_SYMBOLS if not hasattr(lib, s)]
    if missing:
        print(f"FAIL: {path} lacks the CNN API of include/axon/nn.h: {', '.join(missing)}")
        return None
    vp, i64p, fp = C.c_void_p, C.POINTER(C.c_int64), C.POINTER(C.c_float)
    cpp = C.POINTER(C.c_char_p)
    sig = {
        "ax_net_create": ([C.c_char_p, C.c_uint64, C.POINTER(vp)], C.c_int),
        "ax_net_load": ([C.c_char_p, C.POINTER(vp)], C.c_int),
        "ax_net_save": ([vp, C.c_char_p, cpp, cpp, C.c_int], C.c_int),
        "ax_net_free": ([vp], None),
        "ax_net_config": ([vp], C.c_char_p),
        "ax_net_in_channels": ([vp], C.c_int),
        "ax_net_out_channels": ([vp], C.c_int),
        "ax_net_output_shape": ([vp, i64p, i64p], C.c_int),
        "ax_net_input_for_output": ([vp, i64p, i64p, i64p], C.c_int),
        "ax_net_forward_flops": ([vp, i64p], C.c_double),
        "ax_net_param_count": ([vp], C.c_int),
        "ax_net_param_name": ([vp, C.c_int], C.c_char_p),
        "ax_net_param_data": ([vp, C.c_int, i64p], fp),
        "ax_net_param_grad": ([vp, C.c_int, i64p], fp),
        "ax_net_forward": ([vp, fp, i64p, fp, C.c_int], C.c_int),
        "ax_net_backward": ([vp, C.c_int, fp, fp, C.POINTER(C.c_double)], C.c_int),
        "ax_net_zero_grad": ([vp], None),
        "ax_optim_params_default": ([], OptimParams),
        "ax_net_adam_step": ([vp, C.POINTER(OptimParams)], C.c_int),
        "ax_net_sgd_step": ([vp, C.POINTER(OptimParams)], C.c_int),
        "ax_errmsg": ([], C.c_char_p),
        "ax_threads_set": ([C.c_int], C.c_int),
    }
    for name, (args, res) in sig.items():
        f = getattr(lib, name)
        f.argtypes, f.restype = args, res
    return lib


class AxError(RuntimeError):
    def __init__(self, rc, msg):
        super().__init__(f"{msg} ({rc})")
        self.rc, self.msg = rc, msg


LIB = None
LOSS = {"bce": 0, "mse": 1}


def _i64(v):
    return (C.c_int64 * 3)(*[int(x) for x in v])


def _fptr(a):
    return a.ctypes.data_as(C.POINTER(C.c_float)) if a is not None else None


def _raise(rc, what):
    raise AxError(rc, f"{what}: {LIB.ax_errmsg().decode(errors='replace')}")


class Net:
    """An ax_net through ctypes."""

    def __init__(self, handle):
        self.h = handle

    @classmethod
    def create(cls, config, seed):
        h = C.c_void_p()
        js = config if isinstance(config, str) else json.dumps(config)
        rc = LIB.ax_net_create(js.encode(), seed, C.byref(h))
        if rc != 0:
            _raise(rc, "ax_net_create")
        return cls(h)

    @classmethod
    def load(cls, path):
        h = C.c_void_p()
        rc = LIB.ax_net_load(path.encode(), C.byref(h))
        if rc != 0:
            _raise(rc, "ax_net_load")
        return cls(h)

    def save(self, path, meta=None):
        meta = meta or {}
        n = len(meta)
        keys = (C.c_char_p * max(n, 1))(*[k.encode() for k in meta])
        vals = (C.c_char_p * max(n, 1))(*[v.encode() for v in meta.values()])
        rc = LIB.ax_net_save(self.h, path.encode(), keys if n else None, vals if n else None, n)
        if rc != 0:
            _raise(rc, "ax_net_save")

    def free(self):
        if self.h:
            LIB.ax_net_free(self.h)
            self.h = None

    def config(self):
        return json.loads(LIB.ax_net_config(self.h).decode())

    def output_shape(self, in_shape):
        out = _i64((0, 0, 0))
        rc = LIB.ax_net_output_shape(self.h, _i64(in_shape), out)
        if rc != 0:
            _raise(rc, f"ax_net_output_shape {tuple(in_shape)}")
        return tuple(out)

    def input_for_output(self, out_min):
        i, o = _i64((0, 0, 0)), _i64((0, 0, 0))
        rc = LIB.ax_net_input_for_output(self.h, _i64(out_min), i, o)
        if rc != 0:
            _raise(rc, "ax_net_input_for_output")
        return tuple(i), tuple(o)

    def params(self):
        """[(name, data view, grad view)] as numpy float32 arrays over axon's memory."""
        out = []
        for i in range(LIB.ax_net_param_count(self.h)):
            name = LIB.ax_net_param_name(self.h, i)
            n1, n2 = C.c_int64(-1), C.c_int64(-1)
            d = LIB.ax_net_param_data(self.h, i, C.byref(n1))
            g = LIB.ax_net_param_grad(self.h, i, C.byref(n2))
            if name is None or not d or not g or n1.value != n2.value or n1.value < 1:
                raise AxError(-11, f"parameter {i}: name {name}, data/grad {bool(d)}/{bool(g)}, "
                                   f"numel {n1.value}/{n2.value}")
            out.append((name.decode(), np.ctypeslib.as_array(d, shape=(n1.value,)),
                        np.ctypeslib.as_array(g, shape=(n2.value,))))
        return out

    def forward(self, x, train):
        """x: float32 [Cin, D, H, W] -> [Cout, od, oh, ow]."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        o = self.output_shape(x.shape[1:])
        out = np.full((LIB.ax_net_out_channels(self.h),) + o, np.nan, np.float32)
        rc = LIB.ax_net_forward(self.h, _fptr(x), _i64(x.shape[1:]), _fptr(out), int(train))
        if rc != 0:
            _raise(rc, "ax_net_forward")
        return out

    def backward(self, loss, target, weight):
        t = np.ascontiguousarray(target, dtype=np.float32)
        w = None if weight is None else np.ascontiguousarray(weight, dtype=np.float32)
        v = C.c_double(np.nan)
        rc = LIB.ax_net_backward(self.h, LOSS[loss], _fptr(t), _fptr(w), C.byref(v))
        if rc != 0:
            _raise(rc, "ax_net_backward")
        return v.value

    def zero_grad(self):
        LIB.ax_net_zero_grad(self.h)

    def step(self, kind, p):
        rc = (LIB.ax_net_adam_step if kind == "adam" else LIB.ax_net_sgd_step)(self.h, C.byref(p))
        if rc != 0:
            _raise(rc, f"ax_net_{kind}_step")


# ---- helpers -----------------------------------------------------------------------------


def maxabs(a):
    a = np.asarray(a, dtype=np.float64)
    return float(np.abs(a).max()) if a.size else 0.0


def err_rel(a, b):
    """max|a - b| / max(1, max|b|), b the reference."""
    return maxabs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) / max(1.0, maxabs(b))


def torch_loss(net, x, loss, t, w):
    """(loss, output) of the torch net for x [Cin,D,H,W] (numpy), in net's dtype."""
    dt = next(net.parameters()).dtype
    xt = torch.from_numpy(x).to(dt)[None]
    tt = torch.from_numpy(t).to(dt)[None]
    wt = torch.ones_like(tt) if w is None else torch.from_numpy(w).to(dt)[None]
    logits = net.forward_logits(xt)
    if loss == "bce":
        ls = (wt * F.binary_cross_entropy_with_logits(logits, tt, reduction="none")).sum()
        y = torch.sigmoid(logits)
    else:
        a = net.config["out_activation"]
        y = torch.sigmoid(logits) if a == "sigmoid" else torch.tanh(logits) if a == "tanh" else logits
        ls = (wt * (y - tt) ** 2).sum()
    return ls / logits.numel(), y[0]


def torch_grads(net, x, loss, t, w):
    net.zero_grad(set_to_none=True)
    ls, y = torch_loss(net, x, loss, t, w)
    ls.backward()
    return float(ls), y.detach().numpy(), {k: p.grad.detach().numpy().copy()
                                           for k, p in net.named_parameters()}


def perturb_norms(net, gen):
    with torch.no_grad():
        for k, p in net.named_parameters():
            if ".norm" in k:
                base = 1.0 if k.endswith("weight") else 0.0
                p.copy_(base + 0.3 * torch.randn(p.shape, generator=gen))


def opt_compare(ax, tnet, kind, p, x, loss, t, w, steps=2):
    """`steps` optimiser steps on axon and on tnet (float32, same parameters as ax), torch
    fed axon's gradients; returns the worst max|p_ax - p_t| / tol over parameters (<= 1
    passes) and the name of that parameter."""
    if kind == "adam":
        opt = torch.optim.Adam(tnet.parameters(), lr=p.lr, betas=(p.beta1, p.beta2), eps=p.eps,
                               weight_decay=p.weight_decay)
    else:
        opt = torch.optim.SGD(tnet.parameters(), lr=p.lr, momentum=p.momentum,
                              weight_decay=p.weight_decay)
    tp = dict(tnet.named_parameters())
    worst, where = 0.0, ""
    for s in range(steps):
        ax.zero_grad()
        ax.forward(x, train=1)
        ax.backward(loss, t, w)
        params = ax.params()
        before = {}
        for name, d, g in params:
            tp[name].grad = torch.from_numpy(g.copy()).reshape(tp[name].shape)
            before[name] = d.copy()
        opt.step()
        ax.step(kind, p)
        for name, d, g in params:
            new_t = tp[name].detach().numpy().ravel()
            upd = maxabs(new_t.astype(np.float64) - before[name])
            tol = TOL * upd + 4 * np.spacing(np.float32(max(maxabs(new_t), 1e-30)))
            r = maxabs(d.astype(np.float64) - new_t) / tol
            if not np.isfinite(r) or r > worst:
                worst, where = (r if np.isfinite(r) else math.inf), f"{name} step {s + 1}"
    return worst, where


def init_check(ax, cfg):
    """ax_net_create's parameters against its documented initialisation (include/axon/nn.h):
    conv weights He-uniform in +-sqrt(6/fan_in) (fan_in = weight.shape[1] * prod(kernel), as
    torch computes it, also for ConvTranspose3d), biases 0, norm weight 1 and bias 0."""
    sd = ut.UNet(cfg).state_dict()
    ok = True
    for name, d, _ in ax.params():
        shape = tuple(sd[name].shape)
        if ".norm" in name:
            want = 1.0 if name.endswith("weight") else 0.0
            ok &= check(np.all(d == want), f"create: {name} not {want}")
            continue
        if name.endswith("bias"):
            ok &= check(np.all(d == 0), f"create: {name} not 0")
            continue
        wshape = tuple(sd[name].shape)
        bound = math.sqrt(6.0 / (wshape[1] * math.prod(wshape[2:])))
        ok &= check(maxabs(d) <= bound * (1 + 1e-6),
                    f"create: {name} max|w| {maxabs(d):.4g} beyond sqrt(6/fan_in) {bound:.4g}")
        if d.size >= 300:
            sd_ = float(np.std(d.astype(np.float64)))
            ok &= check(abs(sd_ / (bound / math.sqrt(3)) - 1) < 0.25,
                        f"create: {name} std {sd_:.4g} vs uniform {bound / math.sqrt(3):.4g}")
            ok &= check(abs(float(np.mean(d))) < 0.2 * bound, f"create: {name} mean not ~0")
        ok &= check(d.size == math.prod(shape), f"create: {name} numel")
    return ok


# ---- the cases ---------------------------------------------------------------------------

CASES = [
    # name, config, input shape, loss, target kind, use weights, sgd weight decay
    ("defaults(12/36/108)", {"out_channels": 3}, (22, 48, 48), "bce", "soft", True, 0.0),
    ("3lvl-aniso", {"levels": 3, "base_fmaps": 4, "fmap_mult": 2,
                    "downsample": [[1, 2, 2], [1, 2, 2]], "kernel": [3, 3, 3], "out_channels": 3,
                    "out_activation": "sigmoid", "voxel_size": [40, 4, 4],
                    "offsets": [[-1, 0, 0], [0, -1, 0], [0, 0, -1]]},
     (26, 52, 52), "bce", "soft", True, 0.0),
    ("2lvl-iso-in2", {"levels": 2, "base_fmaps": 6, "fmap_mult": 2, "downsample": [[2, 2, 2]],
                      "in_channels": 2, "out_channels": 3},
     (24, 24, 28), "bce", "binary", False, 1e-3),
    ("kern-133/333-group-elu", {"levels": 2, "base_fmaps": 4, "fmap_mult": 3,
                                "kernel": [[1, 3, 3], [3, 3, 3]], "downsample": [[1, 2, 2]],
                                "norm": "group", "norm_groups": 2, "activation": "elu",
                                "out_channels": 2},
     (10, 28, 32), "bce", "binary", True, 0.0),
    ("same-nearest-inst-leaky", {"levels": 3, "base_fmaps": 4, "fmap_mult": 2,
                                 "padding": "same", "upsample": "nearest",
                                 "downsample": [[1, 2, 2], [2, 2, 2]], "norm": "instance",
                                 "activation": "leaky_relu", "out_channels": 3},
     (8, 24, 32), "bce", "soft", True, 0.0),
    ("mse-none-tanh-odd-crop", {"levels": 2, "base_fmaps": 3, "fmap_mult": 3,
                                "downsample": [[1, 3, 3]], "upsample": "nearest",
                                "kernel": [[3, 3, 3], [2, 2, 2]], "convs_per_level": 1,
                                "activation": "tanh", "out_activation": "none",
                                "in_channels": 2, "out_channels": 1},
     (12, 29, 32), "mse", "normal", True, 1e-3),
    ("mse-tanhout-sigmoid-3convs-group", {"levels": 2, "base_fmaps": 8, "fmap_mult": 2,
                                          "downsample": [[2, 2, 2]], "convs_per_level": 3,
                                          "norm": "group", "norm_groups": 4,
                                          "activation": "sigmoid", "out_activation": "tanh",
                                          "out_channels": 2},
     (30, 30, 34), "mse", "tanh", True, 0.0),
    ("1lvl-k531", {"levels": 1, "base_fmaps": 5, "kernel": [5, 3, 1], "out_channels": 1},
     (12, 12, 12), "bce", "binary", False, 0.0),
]


def make_data(rng, cfg, in_shape, out_shape, tkind, weighted):
    c = ut.normalize_config(cfg)
    x = rng.standard_normal((c["in_channels"],) + tuple(in_shape)).astype(np.float32)
    oshape = (c["out_channels"],) + tuple(out_shape)
    if tkind == "soft":
        t = rng.uniform(0, 1, oshape)
    elif tkind == "binary":
        t = (rng.uniform(0, 1, oshape) < 0.3).astype(np.float64)
    elif tkind == "tanh":
        t = rng.uniform(-1, 1, oshape)
    else:
        t = rng.standard_normal(oshape)
    w = None
    if weighted:
        w = rng.uniform(0, 2, oshape)
        w[rng.uniform(0, 1, oshape) < 0.1] = 0
        w = w.astype(np.float32)
    return x, t.astype(np.float32), w


def run_case(idx, name, cfg, in_shape, loss, tkind, weighted, sgd_wd, tmp):
    t0 = time.perf_counter()
    c = ut.normalize_config(cfg)
    torch.manual_seed(100 + idx)
    gen = torch.Generator().manual_seed(200 + idx)
    net32 = ut.UNet(cfg)
    perturb_norms(net32, gen)
    net64 = copy.deepcopy(net32).double()
    path = os.path.join(tmp, f"case{idx}.safetensors")
    ut.save_model(path, net32, cfg)
    ax = Net.load(path)
    try:
        return _run_case(idx, name, cfg, c, in_shape, loss, tkind, weighted, sgd_wd, tmp,
                         net32, net64, path, ax, t0)
    finally:
        ax.free()


def _run_case(idx, name, cfg, c, in_shape, loss, tkind, weighted, sgd_wd, tmp, net32, net64,
              path, ax, t0):
    ok = True
    # 1. structure
    sd = net32.state_dict()
    params = ax.params()
    names = [n for n, _, _ in params]
    ok &= check(sorted(names) == sorted(sd), f"{name}: parameter names {names} vs {list(sd)}")
    ok &= check(len(set(names)) == len(names), f"{name}: duplicate parameter names")
    for n, d, g in params:
        if n in sd:
            ok &= check(d.size == sd[n].numel(), f"{name}: {n} numel {d.size} vs {sd[n].numel()}")
            if d.size == sd[n].numel():
                ok &= check(np.array_equal(d, sd[n].numpy().ravel()), f"{name}: {n} loaded bits")
    if not ok:
        return False
    axc = ax.config()
    try:
        same = ut.normalize_config(axc)
        keys = ("in_channels", "out_channels", "levels", "base_fmaps", "fmap_mult", "downsample",
                "kernel", "convs_per_level", "padding", "upsample", "activation", "norm",
                "out_activation")
        ok &= check(all(same[k] == c[k] for k in keys)
                    and (c["norm"] != "group" or same["norm_groups"] == c["norm_groups"]),
                    f"{name}: ax_net_config {axc} differs from {c}")
    except (ValueError, KeyError) as e:
        ok &= check(False, f"{name}: ax_net_config {axc}: {e}")
    ok &= check(LIB.ax_net_in_channels(ax.h) == c["in_channels"]
                and LIB.ax_net_out_channels(ax.h) == c["out_channels"], f"{name}: channels")
    oshape = ut.output_shape(c, in_shape)
    ok &= check(ax.output_shape(in_shape) == oshape,
                f"{name}: output shape {ax.output_shape(in_shape)} vs torch {oshape}")
    for omin in ((1, 1, 1), (3, 7, 5), oshape):
        try:
            got = ax.input_for_output(omin)
            want = ut.input_for_output(c, omin)
            ok &= check(got == want, f"{name}: input_for_output {omin}: {got} vs {want}")
        except AxError as e:
            ok &= check(False, f"{name}: input_for_output {omin}: {e}")
    flops_ax = LIB.ax_net_forward_flops(ax.h, _i64(in_shape))
    flops_ref = ut.forward_flops(c, in_shape)
    flops_note = "" if abs(flops_ax - flops_ref) <= 1e-9 * flops_ref else \
        f" [note: forward_flops {flops_ax:.6g} vs conv-only count {flops_ref:.6g}]"

    # 2. forward
    rng = np.random.default_rng(300 + idx)
    x, t, w = make_data(rng, cfg, in_shape, oshape, tkind, weighted)
    # (the BCE cases all have a sigmoid output, so torch_loss's y is the net's output)
    l64, ref64, g64 = torch_grads(net64, x, loss, t, w)
    l32, ref32, g32 = torch_grads(net32, x, loss, t, w)
    ok &= check(tuple(ref64.shape) == (c["out_channels"],) + oshape,
                f"{name}: torch output {tuple(ref64.shape)} vs output_shape {oshape}")
    y0 = ax.forward(x, train=0)
    y1 = ax.forward(x, train=1)
    e_fwd, e_fwd1, e_t32 = err_rel(y0, ref64), err_rel(y1, ref64), err_rel(ref32, ref64)
    ok &= check(np.all(np.isfinite(y0)) and e_fwd <= TOL, f"{name}: forward err {e_fwd:.3g}")
    ok &= check(np.all(np.isfinite(y1)) and e_fwd1 <= TOL, f"{name}: train forward err {e_fwd1:.3g}")

    # 3. loss and gradients
    ax.zero_grad()
    l_ax = ax.backward(loss, t, w)
    e_loss = abs(l_ax - l64) / max(abs(l64), 1e-12)
    ok &= check(e_loss <= TOL, f"{name}: loss {l_ax!r} vs torch {l64!r}")
    gmax_all = max(maxabs(g) for g in g64.values())
    e_grad, e_grad32, worst = 0.0, 0.0, ""
    for n, d, g in ax.params():
        scale = max(maxabs(g64[n]), 1e-3 * gmax_all, 1e-30)
        if c["norm"] == "instance" and n.endswith("bias") and ".conv" in n:
            # a conv bias right before an instance norm: the gradient is 0 in exact
            # arithmetic, so only rounding noise is left; compare it with the net's scale
            scale = 0.1 * gmax_all
        e = maxabs(g.reshape(g64[n].shape) - g64[n]) / scale
        e32 = maxabs(g32[n] - g64[n]) / scale
        if not np.isfinite(e) or e > e_grad:
            e_grad, worst = (e if np.isfinite(e) else math.inf), n
        e_grad32 = max(e_grad32, e32)
    ok &= check(e_grad <= TOL, f"{name}: gradient err {e_grad:.3g} in {worst}")
    if idx == 1:  # gradients accumulate until zero_grad
        g1 = {n: g.copy() for n, _, g in ax.params()}
        ax.forward(x, train=1)
        l2 = ax.backward(loss, t, w)
        acc = max(maxabs(g - 2 * g1[n]) / max(maxabs(g1[n]), 1e-30) for n, _, g in ax.params())
        ok &= check(acc <= 1e-5 and abs(l2 - l_ax) <= 1e-6 * abs(l_ax),
                    f"{name}: second backward should add the same gradients (err {acc:.3g})")
        ax.zero_grad()
        ok &= check(all(np.all(g == 0) for _, _, g in ax.params()), f"{name}: zero_grad")

    # 4. optimisers, on identical gradients
    p = LIB.ax_optim_params_default()
    ok &= check((p.beta1, p.beta2, p.eps, p.weight_decay, p.momentum) == (0.9, 0.999, 1e-8, 0, 0),
                f"{name}: ax_optim_params_default {[getattr(p, f) for f, _ in p._fields_]}")
    p.lr = 1e-3
    p.beta1, p.beta2, p.eps, p.weight_decay, p.momentum = 0.9, 0.999, 1e-8, 0.0, 0.0
    e_adam, w_adam = opt_compare(ax, net32, "adam", p, x, loss, t, w)
    ok &= check(e_adam <= 1, f"{name}: adam step err {e_adam:.3g} x tol in {w_adam}")
    # 5a. axon's save of the Adam-trained net -> torch
    p2 = os.path.join(tmp, f"case{idx}-ax.safetensors")
    ax.save(p2, {"axon.test": "provenance", "k2": "v2"})
    with open(p2, "rb") as f:
        hlen = struct.unpack("<Q", f.read(8))[0]
    ok &= check(hlen % 8 == 0, f"{name}: ax_net_save header length {hlen} not a multiple of 8")
    tnet, tcfg, meta = ut.load_model(p2)
    ok &= check(meta.get("axon.test") == "provenance" and meta.get("k2") == "v2",
                f"{name}: saved metadata {meta}")
    ok &= check(all(np.array_equal(d, tnet.state_dict()[n].numpy().ravel())
                    for n, d, _ in ax.params()), f"{name}: saved params differ from axon's")
    with torch.no_grad():
        r64 = tnet.double()(torch.from_numpy(x).double()[None])[0].numpy()
    e_save = err_rel(ax.forward(x, train=0), r64)
    ok &= check(e_save <= TOL, f"{name}: axon-saved net in torch: err {e_save:.3g}")
    # SGD with momentum on a fresh copy
    sg = Net.load(path)
    try:
        tsg, _, _ = ut.load_model(path)
        p.lr, p.momentum, p.weight_decay = 1e-2, 0.9, sgd_wd
        e_sgd, w_sgd = opt_compare(sg, tsg, "sgd", p, x, loss, t, w)
        ok &= check(e_sgd <= 1, f"{name}: sgd step err {e_sgd:.3g} x tol in {w_sgd}")
    finally:
        sg.free()

    print(f"{'ok  ' if ok else 'BAD '} {name}: in {tuple(in_shape)} out {oshape} | fwd "
          f"{e_fwd:.2g} (torch32 {e_t32:.2g}) | {loss} loss {l_ax:.6g} rel {e_loss:.2g} | grad "
          f"{e_grad:.2g} (torch32 {e_grad32:.2g}) | adam {e_adam:.2g} sgd {e_sgd:.2g} (x tol) | "
          f"saved {e_save:.2g} | {time.perf_counter() - t0:.1f}s{flops_note}")
    return ok


def create_checks(tmp):
    """ax_net_create -> save -> torch, determinism in the seed, initialisation."""
    cfg = {"levels": 2, "base_fmaps": 4, "fmap_mult": 2, "downsample": [[1, 2, 2]],
           "norm": "group", "norm_groups": 2, "out_channels": 2, "upsample": "transposed"}
    a, b, d = Net.create(cfg, 7), Net.create(cfg, 7), Net.create(cfg, 8)
    try:
        pa, pb, pd = a.params(), b.params(), d.params()
        check(all(np.array_equal(x[1], y[1]) for x, y in zip(pa, pb)), "create: same seed differs")
        check(any(not np.array_equal(x[1], y[1]) for x, y in zip(pa, pd) if ".norm" not in x[0]),
              "create: seeds 7 and 8 give the same parameters")
        init_check(a, cfg)
        path = os.path.join(tmp, "created.safetensors")
        a.save(path)
        tnet, tcfg, _ = ut.load_model(path)
        check(ut.normalize_config(tcfg)["levels"] == 2, "create: saved config")
        x = np.random.default_rng(5).standard_normal((1, 14, 28, 28)).astype(np.float32)
        with torch.no_grad():
            r = tnet.double()(torch.from_numpy(x).double()[None])[0].numpy()
        e = err_rel(a.forward(x, train=0), r)
        check(e <= TOL, f"create: created net in torch: err {e:.3g}")
        # a reference-sized net's init (transposed-conv fan_in included)
        big = Net.create(ut.REFERENCE, 1)
        try:
            init_check(big, ut.REFERENCE)
            n = sum(p[1].size for p in big.params())
            check(n == 605187, f"create: reference net has {n} parameters, want 605187")
        finally:
            big.free()
        print(f"ok   create: seeded init deterministic, He-uniform init, torch forward err {e:.2g}")
    finally:
        a.free(), b.free(), d.free()


def error_checks(tmp):
    """Bad inputs give errors with a message, never a crash."""
    f0 = failures
    cfg = CASES[1][1]
    net = Net.create(cfg, 1)
    try:
        for shape, why in (((26, 52, 54), "w 21 at level 1 not divisible by 2"),
                           ((26, 50, 52), "h 19 at level 1 not divisible by 2"),
                           ((26, 51, 52), "h 47 at level 0 not divisible by 2"),
                           ((20, 52, 52), "depth 0 at up0.conv1"),
                           ((26, 8, 8), "h, w 0 at down1.conv0"),
                           ((0, 52, 52), "zero"),
                           ((-5, 52, 52), "negative")):
            try:
                ut.output_shape(cfg, shape)
                check(False, f"errors: {shape} should not fit the net")
                continue
            except ValueError:
                pass
            out = _i64((0, 0, 0))
            rc = LIB.ax_net_output_shape(net.h, _i64(shape), out)
            msg = LIB.ax_errmsg().decode(errors="replace")
            check(rc == AX_E_INVALID and msg, f"errors: output_shape {shape} ({why}): rc {rc} '{msg}'")
            if min(shape) < 1:
                continue
            x = np.zeros((1,) + shape, np.float32)
            y = np.zeros(3 * math.prod(shape), np.float32)  # larger than any output
            for train in (0, 1):
                rc = LIB.ax_net_forward(net.h, _fptr(x), _i64(shape), _fptr(y), train)
                msg = LIB.ax_errmsg().decode(errors="replace")
                check(rc != 0 and msg, f"errors: forward {shape} train {train}: rc {rc}")
        # the net still works after refusing
        good = (26, 52, 52)
        y = net.forward(np.zeros((1,) + good, np.float32), train=0)
        check(y.shape == (3,) + ut.output_shape(cfg, good), "errors: net unusable after a refusal")
        # backward without a training forward
        net2 = Net.create(cfg, 2)
        try:
            o = net2.forward(np.zeros((1,) + good, np.float32), train=0)
            v = C.c_double()
            rc = LIB.ax_net_backward(net2.h, 0, _fptr(np.zeros_like(o)), None, C.byref(v))
            check(rc != 0, f"errors: backward after an inference-only forward returned {rc}")
        finally:
            net2.free()
    finally:
        net.free()
    # bad descriptions
    for bad in ("not json", "{}", '{"out_channels": 0}', '{"out_channels": 1, "levels": 0}',
                '{"out_channels": 1, "padding": "same", "kernel": [2, 3, 3]}',
                '{"out_channels": 1, "levels": 3, "downsample": [[1, 2, 2]]}',
                '{"out_channels": 1, "activation": "gelu"}',
                '{"out_channels": 1, "norm": "group", "norm_groups": 5}',
                '{"out_channels": 1, "type": "resnet"}'):
        h = C.c_void_p()
        rc = LIB.ax_net_create(bad.encode(), 1, C.byref(h))
        msg = LIB.ax_errmsg().decode(errors="replace")
        check(rc != 0 and msg and not h.value, f"errors: ax_net_create({bad}) rc {rc} '{msg}'")
        if rc == 0 and h.value:
            LIB.ax_net_free(h)
    # bad files
    torch.manual_seed(0)
    tnet = ut.UNet(cfg)
    good = os.path.join(tmp, "good.safetensors")
    ut.save_model(good, tnet, cfg)
    tensors, meta = ut.load_safetensors(good)
    files = {}
    files["missing"] = os.path.join(tmp, "does-not-exist.safetensors")
    p = os.path.join(tmp, "truncated.safetensors")
    with open(good, "rb") as f:
        data = f.read()
    with open(p, "wb") as f:
        f.write(data[:len(data) - 100])
    files["truncated"] = p
    p = os.path.join(tmp, "hugeheader.safetensors")
    with open(p, "wb") as f:
        f.write(struct.pack("<Q", 1 << 60) + data[8:])
    files["header length"] = p
    t2 = dict(tensors)
    del t2["down1.conv0.bias"]
    files["param missing"] = os.path.join(tmp, "missing-param.safetensors")
    ut.save_safetensors(files["param missing"], t2, meta)
    t2 = dict(tensors)
    t2["down1.conv0.weight"] = t2["down1.conv0.weight"][:, :, :2]
    files["wrong shape"] = os.path.join(tmp, "wrong-shape.safetensors")
    ut.save_safetensors(files["wrong shape"], t2, meta)
    files["no config"] = os.path.join(tmp, "no-config.safetensors")
    ut.save_safetensors(files["no config"], tensors, {})
    t2 = {k: v.astype(np.float16) for k, v in tensors.items()}
    files["F16"] = os.path.join(tmp, "f16.safetensors")
    ut.save_safetensors(files["F16"], t2, meta)
    for why, p in files.items():
        h = C.c_void_p()
        rc = LIB.ax_net_load(p.encode(), C.byref(h))
        msg = LIB.ax_errmsg().decode(errors="replace")
        if why == "F16" and rc == 0:  # converting F16 is allowed; refusing too
            LIB.ax_net_free(h)
            continue
        check(rc != 0 and msg and not h.value, f"errors: ax_net_load({why}) rc {rc} '{msg}'")
        if rc == 0 and h.value:
            LIB.ax_net_free(h)
    if failures == f0:
        print("ok   errors: bad shapes, descriptions and files refused with messages")


def thread_check(tmp):
    """Forward, loss and gradients bitwise equal with 1 and 2 threads."""
    name, cfg, in_shape, loss, tkind, weighted, _ = CASES[4]
    torch.manual_seed(1)
    tnet = ut.UNet(cfg)
    perturb_norms(tnet, torch.Generator().manual_seed(2))
    path = os.path.join(tmp, "threads.safetensors")
    ut.save_model(path, tnet, cfg)
    oshape = ut.output_shape(cfg, in_shape)
    x, t, w = make_data(np.random.default_rng(9), cfg, in_shape, oshape, tkind, weighted)
    res = []
    for n in (1, 2):
        LIB.ax_threads_set(n)
        net = Net.load(path)
        try:
            y = net.forward(x, train=1)
            net.zero_grad()
            l = net.backward(loss, t, w)
            res.append((y, l, [g.copy() for _, _, g in net.params()]))
        finally:
            net.free()
    LIB.ax_threads_set(2)
    (y1, l1, g1), (y2, l2, g2) = res
    same = np.array_equal(y1, y2) and l1 == l2 and all(np.array_equal(a, b) for a, b in zip(g1, g2))
    check(same, f"threads: 1 vs 2 threads differ (out {maxabs(y1 - y2):.3g}, loss {l1 - l2:.3g})")
    if same:
        print("ok   threads: forward, loss and gradients identical with 1 and 2 threads")


def main():
    global LIB
    torch.set_num_threads(2)
    LIB = load_nn(BUILD)
    if LIB is None:
        return 1
    LIB.ax_threads_set(2)
    tmp = tempfile.mkdtemp(prefix="axon-nn-torch-", dir=os.environ.get("AX_TEST_TMP"))
    t0 = time.perf_counter()
    for idx, case in enumerate(CASES):
        try:
            run_case(idx, *case, tmp)
        except AxError as e:
            check(False, f"{case[0]}: {e}")
    for fn in (create_checks, error_checks, thread_check):
        try:
            fn(tmp)
        except AxError as e:
            check(False, f"{fn.__name__}: {e}")
    print(f"{'FAILED' if failures else 'passed'}: {failures} failure(s), "
          f"{time.perf_counter() - t0:.1f}s")
    if not failures:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
