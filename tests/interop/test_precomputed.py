#!/usr/bin/env python3
"""Neuroglancer precomputed interoperability. Debian packages no precomputed library, so
this script is the peer: it implements the spec (neuroglancer's precomputed/volume.md and
compressed_segmentation/README.md) with numpy, independently of axon's C code.

  * volumes written here (info + raw chunks, some gzip-compressed on disk or stored as
    <name>.gz, voxel_offset, 1 and 3 channels, several scales) are read by axon;
  * raw volumes written by axon are read back here chunk file by chunk file;
  * compressed_segmentation volumes written by axon are decoded by the small decoder here,
    and ones encoded here are read by axon.

axon is driven through ctypes on $BUILD/libaxon.so and its public API (axon/volume.h).
Run: BUILD=build /usr/bin/python3 tests/interop/test_precomputed.py
"""
import ctypes as C
import gzip
import json
import os
import shutil
import struct
import sys
import tempfile

import numpy as np
from axon_ctypes import CreateParams, Info, MAX_DIMS, load_lib  # noqa: F401

BUILD = os.environ.get("BUILD", "build")
DTYPES = {1: "uint8", 2: "uint16", 3: "uint32", 4: "uint64", 5: "int32", 6: "float32"}
DTYPE_ID = {np.dtype(v): k for k, v in DTYPES.items()}
COMP_RAW, COMP_CSEG = 1, 7
FORMAT_PRECOMPUTED = 6


lib = load_lib(BUILD)

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("  FAIL", what)


def ok(rc, what):
    if rc != 0:
        raise RuntimeError(f"{what}: rc {rc}: {lib.ax_errmsg().decode()}")


def i64(seq):
    return (C.c_int64 * len(seq))(*seq)


def axon_read(path):
    v = C.c_void_p()
    ok(lib.ax_volume_open(path.encode(), 0, C.byref(v)), f"open {path}")
    try:
        info = lib.ax_volume_get_info(v).contents
        shape = tuple(info.shape[:info.ndim])
        out = np.empty(shape, DTYPES[info.dtype])
        ok(lib.ax_volume_read_region(v, i64((0,) * len(shape)), i64(shape), info.dtype,
                                     out.ctypes.data_as(C.c_void_p)), f"read {path}")
        meta = {"format": info.format, "shape": shape, "chunks": tuple(info.chunks[:info.ndim]),
                "voxel_size": list(info.voxel_size), "offset": list(info.offset),
                "compression": info.compression, "is_labels": info.is_labels}
        return out, meta
    finally:
        lib.ax_volume_close(v)


def axon_write(path, data, chunks, comp, resolution, offset, labels=False):
    p = lib.ax_volume_create_params_default()
    p.dtype = DTYPE_ID[data.dtype]
    p.ndim = data.ndim
    for d in range(data.ndim):
        p.shape[d] = data.shape[d]
        p.chunks[d] = chunks[d]
    p.compression = comp
    p.has_voxel_size = True
    p.is_labels = labels
    for k in range(3):
        p.voxel_size[k] = resolution[k]
        p.offset[k] = offset[k]
    v = C.c_void_p()
    ok(lib.ax_volume_create(path.encode(), C.byref(p), C.byref(v)), f"create {path}")
    a = np.ascontiguousarray(data)
    rc = lib.ax_volume_write_region(v, i64((0,) * data.ndim), i64(data.shape), p.dtype,
                                    a.ctypes.data_as(C.c_void_p))
    if rc != 0:
        msg = lib.ax_errmsg().decode()
        lib.ax_volume_close(v)
        raise RuntimeError(f"write {path}: {msg}")
    ok(lib.ax_volume_close(v), f"close {path}")


def rand(shape, dt, rng):
    dt = np.dtype(dt)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    hi = min(int(np.iinfo(dt).max), 2**62)
    lo = max(int(np.iinfo(dt).min), -(2**31))
    a = rng.integers(0, 6, size=shape).astype(dt)
    mask = rng.random(shape) < 0.3
    a[mask] = rng.integers(lo, hi, size=int(mask.sum()), dtype=np.int64).astype(dt)
    return a


def chunk_boxes(size, chunk):
    """(begin, end) [x, y, z] boxes of the chunk grid, edge chunks truncated."""
    for z in range(0, size[2], chunk[2]):
        for y in range(0, size[1], chunk[1]):
            for x in range(0, size[0], chunk[0]):
                b = (x, y, z)
                yield b, tuple(min(b[k] + chunk[k], size[k]) for k in range(3))


def chunk_name(b, e, off):
    return "_".join(f"{b[k] + off[k]}-{e[k] + off[k]}" for k in range(3))


def as4d(data):
    return data if data.ndim == 4 else data[np.newaxis]


# ---- compressed_segmentation, from the format description --------------------------------

def cseg_encode_channel(a, bs):
    """a: (z, y, x) uint32/uint64; bs: [x, y, z]. Headers, then per block values + table."""
    sz, sy, sx = a.shape
    g = [-(-s // b) for s, b in zip((sx, sy, sz), bs)]
    words = [0] * (2 * g[0] * g[1] * g[2])
    tw = 2 if a.dtype == np.uint64 else 1
    for gz in range(g[2]):
        for gy in range(g[1]):
            for gx in range(g[0]):
                blk = a[gz * bs[2]:(gz + 1) * bs[2], gy * bs[1]:(gy + 1) * bs[1],
                        gx * bs[0]:(gx + 1) * bs[0]]
                table = sorted(set(int(v) for v in blk.ravel()))
                bits = 0
                while (1 << bits) < len(table):
                    bits = bits * 2 if bits else 1
                nval = (bits * bs[0] * bs[1] * bs[2] + 31) // 32
                voff = len(words)
                vals = [0] * nval
                index = {v: i for i, v in enumerate(table)}
                ez, ey, ex = blk.shape
                for z in range(ez):
                    for y in range(ey):
                        for x in range(ex):
                            bit = bits * (x + bs[0] * (y + bs[1] * z))
                            if bits:
                                vals[bit // 32] |= index[int(blk[z, y, x])] << (bit % 32)
                words += vals
                toff = len(words)
                for v in table:
                    words += [v & 0xFFFFFFFF, v >> 32] if tw == 2 else [v]
                h = 2 * (gx + g[0] * (gy + g[1] * gz))
                words[h] = toff | bits << 24
                words[h + 1] = voff
    return words


def cseg_decode_channel(words, shape, bs, dtype):
    sz, sy, sx = shape
    g = [-(-s // b) for s, b in zip((sx, sy, sz), bs)]
    tw = 2 if np.dtype(dtype) == np.uint64 else 1
    out = np.zeros(shape, dtype)
    for z in range(sz):
        for y in range(sy):
            for x in range(sx):
                gx, gy, gz = x // bs[0], y // bs[1], z // bs[2]
                h = 2 * (gx + g[0] * (gy + g[1] * gz))
                toff, bits, voff = words[h] & 0xFFFFFF, words[h] >> 24, words[h + 1]
                lx, ly, lz = x % bs[0], y % bs[1], z % bs[2]
                idx = 0
                if bits:
                    bit = bits * (lx + bs[0] * (ly + bs[1] * lz))
                    idx = (words[voff + bit // 32] >> (bit % 32)) & ((1 << bits) - 1)
                e = toff + idx * tw
                out[z, y, x] = words[e] | (words[e + 1] << 32 if tw == 2 else 0)
    return out


def cseg_file(data4, bs):
    chans = [cseg_encode_channel(data4[c], bs) for c in range(data4.shape[0])]
    head, at = [], len(chans)
    for ch in chans:
        head.append(at)
        at += len(ch)
    words = head + [w for ch in chans for w in ch]
    return struct.pack(f"<{len(words)}I", *words)


def cseg_read_file(raw, nch, shape, bs, dtype):
    words = struct.unpack(f"<{len(raw) // 4}I", raw)
    return np.stack([cseg_decode_channel(words[words[c]:], shape, bs, dtype)
                     for c in range(nch)])


# ---- the tests ---------------------------------------------------------------------------

def write_volume(root, data, chunk, res, voff, encoding="raw", labels=False, gz=0, bs=(8, 8, 8)):
    """A precomputed volume written from the spec; data is (z,y,x) or (c,z,y,x). gz: 0 plain
    files, 1 every other chunk gzip-compressed in place, 2 every other chunk as <name>.gz."""
    d4 = as4d(data)
    nch, size = d4.shape[0], [d4.shape[3], d4.shape[2], d4.shape[1]]
    key = "_".join(str(r) for r in res)
    scale = {"key": key, "size": size, "resolution": res, "voxel_offset": voff,
             "chunk_sizes": [chunk], "encoding": encoding}
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = list(bs)
    coarse = {"key": "coarse", "size": [max(1, s // 2) for s in size],
              "resolution": [r * 2 for r in res], "voxel_offset": [0, 0, 0],
              "chunk_sizes": [chunk], "encoding": "raw"}
    info = {"@type": "neuroglancer_multiscale_volume",
            "type": "segmentation" if labels else "image", "data_type": str(d4.dtype),
            "num_channels": nch, "scales": [scale, coarse]}
    os.makedirs(os.path.join(root, key), exist_ok=True)
    with open(os.path.join(root, "info"), "w") as f:
        json.dump(info, f)
    for i, (b, e) in enumerate(chunk_boxes(size, chunk)):
        sub = d4[:, b[2]:e[2], b[1]:e[1], b[0]:e[0]]
        if encoding == "raw":
            blob = np.ascontiguousarray(sub).astype(sub.dtype.newbyteorder("<")).tobytes()
        else:
            blob = cseg_file(sub, bs)
        name = os.path.join(root, key, chunk_name(b, e, voff))
        if gz and i % 2:
            blob = gzip.compress(blob)
            if gz == 2:
                name += ".gz"
        with open(name, "wb") as f:
            f.write(blob)


def main():
    rng = np.random.default_rng(11)
    tmp = tempfile.mkdtemp(prefix="axon-precomputed-interop-")
    n = 0
    # written here, read by axon
    for dt in DTYPES.values():
        for nch in (1, 3):
            for gz in (0, 1, 2):
                n += 1
                shape = (13, 10, 17) if nch == 1 else (nch, 9, 11, 7)
                data = rand(shape, dt, rng)
                root = os.path.join(tmp, f"ours_{dt}_{nch}_{gz}")
                res, voff = [4, 6, 40], [5, -3, 100]
                write_volume(root, data, [6, 4, 5], res, voff, gz=gz)
                what = f"spec->axon {dt} channels={nch} gzip={gz}"
                try:
                    back, meta = axon_read("precomputed://" + root)
                except RuntimeError as e:
                    check(False, f"{what}: {e}")
                    continue
                check(meta["format"] == FORMAT_PRECOMPUTED, what + ": format")
                check(meta["shape"] == shape, what + f": shape {meta['shape']}")
                want_chunks = ((nch,) if nch > 1 else ()) + (5, 4, 6)
                check(meta["chunks"] == want_chunks, what + f": chunks {meta['chunks']}")
                check(meta["voxel_size"] == [40, 6, 4], what + ": voxel size")
                check(meta["offset"] == [4000, -18, 20], what + f": offset {meta['offset']}")
                check(np.array_equal(back, data), what + ": voxels")
    for dt in ("uint32", "uint64"):
        for nch in (1, 2):
            n += 1
            shape = (9, 10, 11) if nch == 1 else (nch, 5, 6, 7)
            data = (rng.integers(0, 5, size=shape) * (2**33 + 7 if dt == "uint64" else 1001))
            data = data.astype(dt)
            root = os.path.join(tmp, f"ours_cseg_{dt}_{nch}")
            write_volume(root, data, [8, 7, 6], [8, 8, 8], [0, 0, 0],
                         "compressed_segmentation", labels=True, gz=1, bs=(4, 3, 2))
            what = f"spec cseg->axon {dt} channels={nch}"
            back, meta = axon_read(root)
            check(meta["compression"] == COMP_CSEG and meta["is_labels"], what + ": info")
            check(np.array_equal(back, data), what + ": voxels")

    # written by axon, read here from the chunk files
    for dt in DTYPES.values():
        for nch in (1, 2):
            n += 1
            shape = (11, 12, 13) if nch == 1 else (nch, 7, 8, 9)
            chunks = (4, 5, 6) if nch == 1 else (1, 3, 4, 5)  # axon puts all channels in one
            data = rand(shape, dt, rng)
            root = os.path.join(tmp, f"axon_{dt}_{nch}.precomputed")
            axon_write(root, data, chunks, COMP_RAW, (40, 6, 4), (400, -12, 20))
            what = f"axon->spec {dt} channels={nch}"
            with open(os.path.join(root, "info")) as f:
                info = json.load(f)
            s = info["scales"][0]
            check(info["data_type"] == dt and info["num_channels"] == nch, what + ": info")
            check(info["type"] == "image" and s["encoding"] == "raw", what + ": type")
            check(s["key"] == "4_6_40" and s["resolution"] == [4, 6, 40], what + f": {s}")
            check(s["voxel_offset"] == [5, -2, 10], what + f": voxel_offset {s['voxel_offset']}")
            check(s["chunk_sizes"] == [list(chunks[-3:][::-1])], what + ": chunk_sizes")
            size = s["size"]
            check(size == list(shape[-3:][::-1]), what + ": size")
            d4, got, files = as4d(data), np.zeros(as4d(data).shape, dt), 0
            for b, e in chunk_boxes(size, s["chunk_sizes"][0]):
                name = os.path.join(root, s["key"], chunk_name(b, e, s["voxel_offset"]))
                with open(name, "rb") as f:
                    raw = f.read()
                ext = [e[k] - b[k] for k in range(3)]
                a = np.frombuffer(raw, np.dtype(dt).newbyteorder("<"))
                check(a.size == nch * ext[0] * ext[1] * ext[2], what + f": {name} size")
                got[:, b[2]:e[2], b[1]:e[1], b[0]:e[0]] = a.reshape(nch, ext[2], ext[1], ext[0])
                files += 1
            check(np.array_equal(got, d4), what + ": voxels")
            check(len(os.listdir(os.path.join(root, s["key"]))) == files, what + ": files")
    for dt in ("uint32", "uint64"):
        for nch in (1, 2):
            n += 1
            shape = (9, 10, 11) if nch == 1 else (nch, 5, 6, 7)
            mult = 2**35 + 3 if dt == "uint64" else 77
            data = (rng.integers(0, 4, size=shape) * mult).astype(dt)
            data.flat[::17] = rng.integers(0, 2**31, size=data.flat[::17].shape).astype(dt)
            root = os.path.join(tmp, f"axon_cseg_{dt}_{nch}.precomputed")
            axon_write(root, data, (nch, 4, 5, 6)[-len(shape):], COMP_CSEG, (8, 8, 8),
                       (0, 0, 0))
            what = f"axon cseg->spec {dt} channels={nch}"
            with open(os.path.join(root, "info")) as f:
                info = json.load(f)
            s = info["scales"][0]
            check(info["type"] == "segmentation" and s["encoding"] == "compressed_segmentation",
                  what + ": info")
            bs = s["compressed_segmentation_block_size"]
            d4, got = as4d(data), np.zeros(as4d(data).shape, dt)
            for b, e in chunk_boxes(s["size"], s["chunk_sizes"][0]):
                with open(os.path.join(root, s["key"], chunk_name(b, e, [0, 0, 0])), "rb") as f:
                    raw = f.read()
                ext = (e[2] - b[2], e[1] - b[1], e[0] - b[0])
                got[:, b[2]:e[2], b[1]:e[1], b[0]:e[0]] = cseg_read_file(raw, nch, ext, bs, dt)
            check(np.array_equal(got, d4), what + ": voxels")

    print(f"precomputed interop: {n} cases, {failures} failures")
    if failures:
        print("  files kept in", tmp)
        return 1
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
