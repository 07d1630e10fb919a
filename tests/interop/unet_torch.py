#!/usr/bin/env python3
"""The PyTorch reference of axon's CNN (include/axon/nn.h): a 3D U-Net built from axon's
JSON description, with parameter names identical to axon's, and safetensors I/O written
with numpy + json (no `safetensors` package needed), so models move both ways.

JSON description (all keys optional except out_channels; defaults in brackets):
  type "unet"; in_channels [1]; out_channels (required); levels [3]; base_fmaps [12];
  fmap_mult [3]; downsample: levels-1 [d,h,w] factors [[1,2,2], ...]; kernel: one
  [kd,kh,kw] for every level or a list of `levels` of them [[3,3,3]]; convs_per_level [2];
  padding "valid"|"same" ["valid"] (same = kernel//2 zero padding, odd kernels only);
  upsample "transposed"|"nearest" ["transposed"]; activation "relu"|"leaky_relu" (0.01)|
  "elu" (alpha 1)|"tanh"|"sigmoid" ["relu"]; norm "none"|"group"|"instance" ["none"];
  norm_groups [4]; out_activation "sigmoid"|"none"|"tanh" ["sigmoid"]. Other keys
  ("offsets", "output", "voxel_size", ...) are metadata the network ignores.

Architecture (f_l = base_fmaps * fmap_mult**l):
  down l = 0..levels-1: convs_per_level x [Conv3d(cin, f_l, kernel_l) -> norm -> act];
    the last output is the skip s_l; for l < levels-1 MaxPool3d(downsample[l]) feeds l+1.
  up l = levels-2..0: x = upsample(x) (ConvTranspose3d(c_x, f_l, k=stride=downsample[l])
    or nearest, keeping the channels); x = cat([centre-crop(s_l), x]) (crop offset
    (s - x)//2 per axis); convs_per_level x [Conv3d -> norm -> act], the first from
    f_l + c_up channels.
  out: Conv3d(f_0, out_channels, 1) then out_activation.
Parameter names: down{l}.conv{k}.weight/bias, down{l}.norm{k}.weight/bias, up{l}.upconv.*,
up{l}.conv{k}.*, up{l}.norm{k}.*, out.weight/bias.

Run as a script for a self-check of shapes, names and the safetensors round trip.
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid")
OUT_ACTIVATIONS = ("sigmoid", "none", "tanh")


# ---- configuration ---------------------------------------------------------------------


def _triple(v, what):
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v, v, v]
    if (not isinstance(v, (list, tuple)) or len(v) != 3
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v)):
        raise ValueError(f"{what}: expected three positive integers, got {v!r}")
    return [int(x) for x in v]


def normalize_config(config):
    """The description with every default filled in (a new dict); ValueError when it is
    not a valid U-Net. Accepts a dict or a JSON string. Unknown keys are kept."""
    if isinstance(config, (str, bytes)):
        config = json.loads(config)
    c = dict(config)
    if c.get("type", "unet") != "unet":
        raise ValueError(f"type: only 'unet' is known, got {c.get('type')!r}")
    c["type"] = "unet"
    if "out_channels" not in c:
        raise ValueError("out_channels is required")

    def posint(key, default):
        v = c.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{key}: expected a positive integer, got {v!r}")
        c[key] = v
        return v

    posint("in_channels", 1)
    posint("out_channels", None)
    levels = posint("levels", 3)
    posint("base_fmaps", 12)
    posint("fmap_mult", 3)
    posint("convs_per_level", 2)
    posint("norm_groups", 4)
    ds = c.get("downsample", [[1, 2, 2]] * (levels - 1))
    if not isinstance(ds, list) or len(ds) != levels - 1:
        raise ValueError(f"downsample: expected {levels - 1} [d,h,w] factors, got {ds!r}")
    c["downsample"] = [_triple(f, "downsample") for f in ds]
    k = c.get("kernel", [3, 3, 3])
    if isinstance(k, list) and k and isinstance(k[0], (list, tuple)):
        if len(k) != levels:
            raise ValueError(f"kernel: expected one or {levels} kernels, got {k!r}")
        c["kernel"] = [_triple(x, "kernel") for x in k]
    else:
        c["kernel"] = [_triple(k, "kernel")] * levels
    for key, allowed, default in (("padding", ("valid", "same"), "valid"),
                                  ("upsample", ("transposed", "nearest"), "transposed"),
                                  ("activation", ACTIVATIONS, "relu"),
                                  ("norm", ("none", "group", "instance"), "none"),
                                  ("out_activation", OUT_ACTIVATIONS, "sigmoid")):
        v = c.get(key, default)
        if v not in allowed:
            raise ValueError(f"{key}: expected one of {allowed}, got {v!r}")
        c[key] = v
    if c["padding"] == "same" and any(x % 2 == 0 for kk in c["kernel"] for x in kk):
        raise ValueError("padding 'same' needs odd kernels")
    if c["norm"] == "group":
        for f in fmaps(c):
            if f % c["norm_groups"]:
                raise ValueError(f"norm_groups {c['norm_groups']} does not divide {f} channels")
    return c


def fmaps(c):
    return [c["base_fmaps"] * c["fmap_mult"] ** l for l in range(c["levels"])]


def output_shape(config, in_shape):
    """Output spatial shape for an input spatial shape (3 ints), with axon's rules: every
    conv output >= 1, pooled sizes divisible by the factor, skips at least as large as the
    upsampled tensor. ValueError otherwise."""
    c = normalize_config(config)
    s = [int(x) for x in in_shape]
    pad = c["padding"] == "same"
    skips = []

    def conv(s, k, where):
        o = [x - (0 if pad else kk - 1) for x, kk in zip(s, k)]
        if min(o) < 1:
            raise ValueError(f"input {tuple(in_shape)} too small: {where} gives {tuple(o)}")
        return o

    L = c["levels"]
    for l in range(L):
        for k in range(c["convs_per_level"]):
            s = conv(s, c["kernel"][l], f"down{l}.conv{k}")
        skips.append(s)
        if l < L - 1:
            f = c["downsample"][l]
            if any(x % ff for x, ff in zip(s, f)):
                raise ValueError(f"input {tuple(in_shape)}: {tuple(s)} at level {l} is not "
                                 f"divisible by the pooling {tuple(f)}")
            s = [x // ff for x, ff in zip(s, f)]
    for l in range(L - 2, -1, -1):
        s = [x * ff for x, ff in zip(s, c["downsample"][l])]
        if any(a < b for a, b in zip(skips[l], s)):
            raise ValueError(f"input {tuple(in_shape)}: skip {tuple(skips[l])} at level {l} "
                             f"smaller than the upsampled {tuple(s)}")
        for k in range(c["convs_per_level"]):
            s = conv(s, c["kernel"][l], f"up{l}.conv{k}")
    return tuple(s)


def input_for_output(config, out_min, search=4096):
    """Smallest input (per axis; the axes are independent) whose output covers out_min:
    (in_shape, out_shape). Brute force, for checking axon's ax_net_input_for_output."""
    c = normalize_config(config)
    ins, outs = [], []
    for ax in range(3):
        found = None
        for n in range(1, search):
            probe = [n if a == ax else _big_valid(c, a) for a in range(3)]
            try:
                o = output_shape(c, probe)[ax]
            except ValueError:
                continue
            if o >= out_min[ax]:
                found = (n, o)
                break
        if found is None:
            raise ValueError(f"no input up to {search} gives output {out_min[ax]} on axis {ax}")
        ins.append(found[0])
        outs.append(found[1])
    return tuple(ins), tuple(outs)


def _big_valid(c, ax):
    """Some input size valid along axis ax (for probing the other axes)."""
    for n in range(1, 8192):
        probe = [n] * 3
        try:
            output_shape(c, probe)
            return n
        except ValueError:
            pass
    raise ValueError("no valid input size")


def forward_flops(config, in_shape):
    """FLOPs (multiply + add = 2) of one forward pass: 2*Ci*Co*prod(k)*out_voxels for every
    conv (the 1x1x1 output conv included) and 2*Ci*Co*prod(k)*in_voxels for each
    transposed conv. Norms, activations, pooling and biases are not counted."""
    c = normalize_config(config)
    s = list(in_shape)
    pad = c["padding"] == "same"
    fm = fmaps(c)
    L, n = c["levels"], c["convs_per_level"]
    total = 0.0
    skips = []

    def conv(s, ci, co, k):
        nonlocal total
        o = [x - (0 if pad else kk - 1) for x, kk in zip(s, k)]
        total += 2.0 * ci * co * math.prod(k) * math.prod(o)
        return o

    cin = c["in_channels"]
    for l in range(L):
        for k in range(n):
            s = conv(s, cin, fm[l], c["kernel"][l])
            cin = fm[l]
        skips.append(s)
        if l < L - 1:
            s = [x // f for x, f in zip(s, c["downsample"][l])]
    cx = fm[L - 1]
    for l in range(L - 2, -1, -1):
        f = c["downsample"][l]
        if c["upsample"] == "transposed":
            total += 2.0 * cx * fm[l] * math.prod(f) * math.prod(s)
            cup = fm[l]
        else:
            cup = cx
        s = [x * ff for x, ff in zip(s, f)]
        cin = fm[l] + cup
        for k in range(n):
            s = conv(s, cin, fm[l], c["kernel"][l])
            cin = fm[l]
        cx = fm[l]
    total += 2.0 * fm[0] * c["out_channels"] * math.prod(s)
    return total


# ---- the module ------------------------------------------------------------------------


def _activation(name):
    return {"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.01), "elu": nn.ELU(1.0),
            "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[name]


def _norm(c, ch):
    if c["norm"] == "group":
        return nn.GroupNorm(c["norm_groups"], ch, eps=1e-5, affine=True)
    if c["norm"] == "instance":
        return nn.GroupNorm(ch, ch, eps=1e-5, affine=True)
    return None


def center_crop(s, shape):
    """s (N,C,D,H,W) cropped about its centre to the spatial `shape`: offset (s - x)//2."""
    o = [(a - b) // 2 for a, b in zip(s.shape[2:], shape)]
    return s[:, :, o[0]:o[0] + shape[0], o[1]:o[1] + shape[1], o[2]:o[2] + shape[2]]


class _Block(nn.Module):
    """convs_per_level x (conv -> norm -> activation); children conv{k}, norm{k}."""

    def __init__(self, c, cin, cout, kernel):
        super().__init__()
        pad = tuple(k // 2 for k in kernel) if c["padding"] == "same" else 0
        self.n = c["convs_per_level"]
        for k in range(self.n):
            self.add_module(f"conv{k}", nn.Conv3d(cin if k == 0 else cout, cout,
                                                  tuple(kernel), padding=pad, bias=True))
            norm = _norm(c, cout)
            if norm is not None:
                self.add_module(f"norm{k}", norm)
        self.act = _activation(c["activation"])
        self.has_norm = c["norm"] != "none"

    def forward(self, x):
        for k in range(self.n):
            x = getattr(self, f"conv{k}")(x)
            if self.has_norm:
                x = getattr(self, f"norm{k}")(x)
            x = self.act(x)
        return x


class _Up(_Block):
    def __init__(self, c, cx, fl, kernel, factor):
        cup = fl if c["upsample"] == "transposed" else cx
        super().__init__(c, fl + cup, fl, kernel)
        self.factor = tuple(factor)
        if c["upsample"] == "transposed":
            self.upconv = nn.ConvTranspose3d(cx, fl, self.factor, stride=self.factor, bias=True)
        else:
            self.upconv = None
            self.upsample = nn.Upsample(scale_factor=self.factor, mode="nearest")

    def forward(self, x, skip):
        x = self.upconv(x) if self.upconv is not None else self.upsample(x)
        x = torch.cat([center_crop(skip, x.shape[2:]), x], dim=1)
        return super().forward(x)


class UNet(nn.Module):
    """axon's U-Net from its JSON description (dict or JSON string). forward() takes
    (N, Cin, D, H, W) and returns the output after out_activation; forward_logits()
    the values before it. Input shapes are checked with axon's rules (output_shape())."""

    def __init__(self, config):
        super().__init__()
        c = normalize_config(config)
        self.config = c
        fm = fmaps(c)
        L = c["levels"]
        for l in range(L):
            cin = c["in_channels"] if l == 0 else fm[l - 1]
            self.add_module(f"down{l}", _Block(c, cin, fm[l], c["kernel"][l]))
        for l in range(L - 2, -1, -1):
            self.add_module(f"up{l}", _Up(c, fm[l + 1], fm[l], c["kernel"][l],
                                          c["downsample"][l]))
        self.out = nn.Conv3d(fm[0], c["out_channels"], 1, bias=True)

    def output_shape(self, in_shape):
        return output_shape(self.config, in_shape)

    def forward_logits(self, x):
        c = self.config
        if x.dim() != 5 or x.shape[1] != c["in_channels"]:
            raise ValueError(f"expected (N, {c['in_channels']}, D, H, W), got {tuple(x.shape)}")
        self.output_shape(x.shape[2:])  # raises on shapes axon refuses
        L = c["levels"]
        skips = []
        for l in range(L):
            x = getattr(self, f"down{l}")(x)
            if l < L - 1:
                skips.append(x)
                f = tuple(c["downsample"][l])
                x = F.max_pool3d(x, f, stride=f)
        for l in range(L - 2, -1, -1):
            x = getattr(self, f"up{l}")(x, skips[l])
        return self.out(x)

    def forward(self, x):
        y = self.forward_logits(x)
        a = self.config["out_activation"]
        if a == "sigmoid":
            return torch.sigmoid(y)
        if a == "tanh":
            return torch.tanh(y)
        return y


# ---- safetensors -----------------------------------------------------------------------

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
           "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
           "BOOL": "?"}


def _dtype_name(dt):
    dt = np.dtype(dt).newbyteorder("<") if np.dtype(dt).byteorder == ">" else np.dtype(dt)
    for k, v in _DTYPES.items():
        if np.dtype(v) == dt:
            return k
    raise ValueError(f"safetensors: dtype {dt} not supported")


def save_safetensors(path, tensors, metadata=None):
    """Write tensors (name -> numpy array or torch tensor, any dtype in _DTYPES; written as
    given, little-endian, C order) and string metadata. Tensors are laid out in name
    order; the header is padded with spaces to a multiple of 8. Written to a temporary
    name and renamed."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    arrays, off = [], 0
    for name in sorted(tensors):
        a = tensors[name]
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.asarray(a)
        dt = _dtype_name(a.dtype)
        a = np.ascontiguousarray(a, dtype=np.dtype(_DTYPES[dt]))
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        arrays.append(a)
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for a in arrays:
            f.write(a.tobytes())
    os.replace(tmp, path)


def load_safetensors(path):
    """(dict name -> numpy array, metadata dict) from a safetensors file; ValueError on a
    malformed one (bad header, offsets outside the data, overlapping or size mismatch)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: too short for safetensors")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise ValueError(f"{path}: header length {n} beyond the file")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    data = memoryview(buf)[8 + n:]
    out, spans = {}, []
    for name, d in header.items():
        dt = d.get("dtype")
        if dt not in _DTYPES:
            raise ValueError(f"{path}: {name}: dtype {dt!r} not supported")
        shape = [int(x) for x in d["shape"]]
        b, e = (int(x) for x in d["data_offsets"])
        np_dt = np.dtype(_DTYPES[dt])
        if not 0 <= b <= e <= len(data) or e - b != math.prod(shape) * np_dt.itemsize:
            raise ValueError(f"{path}: {name}: data_offsets {b},{e} do not fit shape {shape}")
        spans.append((b, e, name))
        out[name] = np.frombuffer(data[b:e], dtype=np_dt).reshape(shape).copy()
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError(f"{path}: tensors {n0} and {n1} overlap")
    return out, meta


def save_model(path, net, config=None, metadata=None):
    """Parameters of net as float32 safetensors with the JSON description (config, or
    net.config) under metadata "axon.config", plus any extra metadata."""
    if config is None:
        config = net.config
    if not isinstance(config, str):
        config = json.dumps(config)
    meta = {"axon.config": config}
    if metadata:
        meta.update(metadata)
    tensors = {k: v.detach().cpu().to(torch.float32).numpy() for k, v in net.state_dict().items()}
    save_safetensors(path, tensors, meta)


def load_model(path, dtype=torch.float32):
    """(UNet, config dict as stored, metadata) from a safetensors file written by
    save_model() or by axon's ax_net_save(). Every parameter must be present, with the
    right shape, and nothing else."""
    tensors, meta = load_safetensors(path)
    if "axon.config" not in meta:
        raise ValueError(f"{path}: no axon.config in the metadata")
    config = json.loads(meta["axon.config"])
    net = UNet(config)
    sd = net.state_dict()
    missing = sorted(set(sd) - set(tensors))
    extra = sorted(set(tensors) - set(sd))
    if missing or extra:
        raise ValueError(f"{path}: missing {missing}, unexpected {extra}")
    for k, v in sd.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise ValueError(f"{path}: {k} has shape {tensors[k].shape}, expected {tuple(v.shape)}")
    net.load_state_dict({k: torch.from_numpy(np.asarray(tensors[k], dtype=np.float32))
                         for k in sd})
    return net.to(dtype), config, meta


# ---- self-check ------------------------------------------------------------------------

REFERENCE = {"levels": 3, "base_fmaps": 12, "fmap_mult": 3,
             "downsample": [[1, 2, 2], [1, 2, 2]], "kernel": [3, 3, 3],
             "out_channels": 3, "out_activation": "sigmoid"}


def _selfcheck():
    import tempfile
    torch.manual_seed(0)
    torch.set_num_threads(2)
    fails = 0

    def check(cond, what):
        nonlocal fails
        if not cond:
            fails += 1
            print("  FAIL", what)

    # the reference network: shapes, names and counts without running it at full size
    check(output_shape(REFERENCE, (32, 196, 196)) == (12, 156, 156), "reference output shape")
    net = UNet(REFERENCE)
    names = list(net.state_dict())
    want = []
    for l in range(3):
        want += [f"down{l}.conv{k}.{p}" for k in range(2) for p in ("weight", "bias")]
    for l in (1, 0):
        want += [f"up{l}.upconv.{p}" for p in ("weight", "bias")]
        want += [f"up{l}.conv{k}.{p}" for k in range(2) for p in ("weight", "bias")]
    want += ["out.weight", "out.bias"]
    check(sorted(names) == sorted(want), f"reference names {names}")
    sd = net.state_dict()
    check(tuple(sd["up1.upconv.weight"].shape) == (108, 36, 1, 2, 2), "upconv weight shape")
    check(tuple(sd["up0.conv0.weight"].shape) == (12, 24, 3, 3, 3), "up0.conv0 shape")
    check(tuple(sd["out.weight"].shape) == (3, 12, 1, 1, 1), "out shape")
    print(f"reference: {sum(v.numel() for v in sd.values())} parameters, "
          f"{forward_flops(REFERENCE, (32, 196, 196)) / 1e9:.1f} GFLOP per forward")
    # run the reference net on the smallest input that fits
    (i, o) = input_for_output(REFERENCE, (1, 1, 1))
    with torch.no_grad():
        y = net(torch.rand(1, 1, *i))
    check(tuple(y.shape) == (1, 3) + o, f"reference small run {tuple(y.shape)} vs {o}")
    print(f"reference: smallest input {i} -> output {o}")

    configs = [
        dict(levels=3, base_fmaps=4, fmap_mult=2, out_channels=3),
        dict(levels=2, base_fmaps=4, downsample=[[2, 2, 2]], out_channels=1, in_channels=2),
        dict(levels=2, base_fmaps=4, kernel=[[1, 3, 3], [3, 3, 3]], out_channels=2,
             activation="elu", norm="group", norm_groups=2),
        dict(levels=3, base_fmaps=4, fmap_mult=2, padding="same", upsample="nearest",
             downsample=[[1, 2, 2], [2, 2, 2]], out_channels=3, norm="instance",
             activation="leaky_relu"),
        dict(levels=2, base_fmaps=3, downsample=[[1, 3, 3]], upsample="nearest",
             convs_per_level=1, activation="tanh", out_activation="none", out_channels=1),
        dict(levels=1, base_fmaps=5, out_channels=2, kernel=[5, 3, 1], out_activation="tanh",
             convs_per_level=3, activation="sigmoid"),
    ]
    tmp = tempfile.mkdtemp(prefix="unet-torch-")
    for cfg in configs:
        c = normalize_config(cfg)
        (i, o) = input_for_output(c, (3, 5, 4))
        # valid inputs a bit larger too: +one pooling period per axis
        period = [math.prod(f[a] for f in c["downsample"]) for a in range(3)]
        for shape in (i, tuple(x + p for x, p in zip(i, period))):
            net = UNet(cfg)
            x = torch.rand(1, c["in_channels"], *shape)
            y = net(x)
            want = (1, c["out_channels"]) + output_shape(c, shape)
            check(tuple(y.shape) == want, f"{cfg}: {shape} -> {tuple(y.shape)}, want {want}")
            check(all(a >= b for a, b in zip(y.shape[2:], (3, 5, 4))), f"{cfg}: covers out_min")
            # forward vs forward_logits + activation, and a float64 copy
            y64 = net.double()(x.double())
            net.float()
            check(float((y.double() - y64).abs().max()) < 1e-5, f"{cfg}: float64 forward")
        # minimality: one smaller on each axis does not give out_min
        for ax in range(3):
            smaller = list(i)
            smaller[ax] -= 1
            try:
                oo = output_shape(c, smaller)
                check(oo[ax] < (3, 5, 4)[ax], f"{cfg}: input_for_output not minimal on {ax}")
            except ValueError:
                pass
        # nearest upsampling equals repeat_interleave for integer factors
        if c["upsample"] == "nearest":
            t = torch.rand(1, 2, 3, 4, 5)
            f = c["downsample"][0]
            r = t.repeat_interleave(f[0], 2).repeat_interleave(f[1], 3).repeat_interleave(f[2], 4)
            check(torch.equal(nn.Upsample(scale_factor=tuple(f), mode="nearest")(t), r),
                  "nearest upsampling")
        # safetensors round trip
        p = os.path.join(tmp, "m.safetensors")
        save_model(p, net, cfg, {"extra": "1"})
        with open(p, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
        check(n % 8 == 0, "header padded to 8")
        net2, cfg2, meta = load_model(p)
        check(cfg2 == cfg and meta.get("extra") == "1", "config/metadata round trip")
        check(all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                    net2.state_dict().values())), "params round trip")
        print(f"ok   {json.dumps(cfg)}: in {i} -> out {o}, "
              f"{sum(v.numel() for v in net.parameters())} params")
    # invalid descriptions and inputs
    for bad in ({}, {"out_channels": 1, "padding": "same", "kernel": [2, 3, 3]},
                {"out_channels": 1, "levels": 2, "downsample": []},
                {"out_channels": 1, "activation": "gelu"},
                {"out_channels": 1, "norm": "group", "norm_groups": 5}):
        try:
            UNet(bad)
            check(False, f"accepted {bad}")
        except ValueError:
            pass
    for shape in ((20, 44, 45), (4, 44, 44), (20, 43, 44)):
        try:
            output_shape(configs[0], shape)
            check(False, f"accepted input {shape}")
        except ValueError:
            pass
    # a file with dtypes other than F32 and empty metadata
    p = os.path.join(tmp, "t.safetensors")
    t = {"a": np.arange(6, dtype=np.float64).reshape(2, 3), "b": np.arange(5, dtype=np.int32),
         "c": np.zeros((0, 2), np.float32)}
    save_safetensors(p, t, {})
    t2, m2 = load_safetensors(p)
    check(m2 == {} and all(np.array_equal(t[k], t2[k]) and t[k].dtype == t2[k].dtype for k in t),
          "safetensors dtypes")
    import shutil
    shutil.rmtree(tmp)
    print("unet_torch self-check:", "FAILED" if fails else "ok")
    return 1 if fails else 0


if __name__ == "__main__":
    raise SystemExit(_selfcheck())
