"""ctypes view of libaxon's public volume API (include/axon/volume.h), shared by the
interop scripts. The structures mirror the C ones field for field; keep them in step."""
import ctypes as C
import os

MAX_DIMS = 5


class CreateParams(C.Structure):
    """ax_volume_create_params, field for field."""
    _fields_ = [("format", C.c_int), ("dtype", C.c_int), ("ndim", C.c_int),
                ("shape", C.c_int64 * MAX_DIMS), ("chunks", C.c_int64 * MAX_DIMS),
                ("compression", C.c_int), ("compression_level", C.c_int),
                ("has_voxel_size", C.c_bool), ("voxel_size", C.c_double * 3),
                ("offset", C.c_double * 3), ("fill_value", C.c_double),
                ("is_labels", C.c_bool), ("overwrite", C.c_bool),
                ("zarr_order", C.c_char), ("zarr_separator", C.c_char)]


class Info(C.Structure):
    """ax_volume_info, field for field."""
    _fields_ = [("format", C.c_int), ("dtype", C.c_int), ("ndim", C.c_int),
                ("shape", C.c_int64 * MAX_DIMS), ("chunks", C.c_int64 * MAX_DIMS),
                ("has_voxel_size", C.c_bool), ("voxel_size", C.c_double * 3),
                ("offset", C.c_double * 3), ("compression", C.c_int),
                ("compression_level", C.c_int), ("fill_value", C.c_double),
                ("is_labels", C.c_bool)]


def load_lib(build):
    """$build/libaxon.so with the signatures of the volume API set."""
    lib = C.CDLL(os.path.abspath(os.path.join(build, "libaxon.so")))
    vp, i64p = C.c_void_p, C.POINTER(C.c_int64)
    lib.ax_volume_create_params_default.restype = CreateParams
    lib.ax_volume_create_params_default.argtypes = []
    lib.ax_volume_open.argtypes = [C.c_char_p, C.c_int, C.POINTER(vp)]
    lib.ax_volume_create.argtypes = [C.c_char_p, C.POINTER(CreateParams), C.POINTER(vp)]
    lib.ax_volume_read_region.argtypes = [vp, i64p, i64p, C.c_int, vp]
    lib.ax_volume_write_region.argtypes = [vp, i64p, i64p, C.c_int, vp]
    lib.ax_volume_close.argtypes = [vp]
    lib.ax_volume_abort.argtypes = [vp]
    lib.ax_volume_abort.restype = None
    lib.ax_volume_get_info.argtypes = [vp]
    lib.ax_volume_get_info.restype = C.POINTER(Info)
    lib.ax_errmsg.restype = C.c_char_p
    return lib


# ---- include/axon/eval.h -----------------------------------------------------------


class EvalParams(C.Structure):
    """ax_eval_params, field for field."""
    _fields_ = [("ignore_gt", C.c_bool), ("ignore_gt_label", C.c_uint64), ("worst", C.c_int)]


class EvalObject(C.Structure):
    """ax_eval_object, field for field."""
    _fields_ = [("id", C.c_uint64), ("bits", C.c_double), ("pieces", C.c_uint64),
                ("size", C.c_uint64)]


class EvalResult(C.Structure):
    """ax_eval_result, field for field."""
    _fields_ = [("voi_split", C.c_double), ("voi_merge", C.c_double), ("h_seg", C.c_double),
                ("h_gt", C.c_double), ("arand", C.c_double),
                ("arand_precision", C.c_double), ("arand_recall", C.c_double),
                ("arand_seg0_label", C.c_double), ("arand_skimage", C.c_double),
                ("cremi_score", C.c_double), ("voxels_total", C.c_uint64),
                ("voxels_scored", C.c_uint64), ("voxels_ignored", C.c_uint64),
                ("voxels_seg0", C.c_uint64), ("gt_labels", C.c_uint64),
                ("seg_labels", C.c_uint64), ("pairs", C.c_uint64),
                ("worst_split", C.POINTER(EvalObject)), ("worst_merge", C.POINTER(EvalObject)),
                ("n_worst_split", C.c_int), ("n_worst_merge", C.c_int)]


def load_eval(lib):
    """Set the signatures of the eval API (include/axon/eval.h) on a load_lib() library."""
    vp, u64p = C.c_void_p, C.POINTER(C.c_uint64)
    lib.ax_eval_params_default.restype = EvalParams
    lib.ax_eval_params_default.argtypes = []
    lib.ax_eval_arrays.argtypes = [u64p, u64p, C.c_size_t, C.POINTER(EvalParams),
                                   C.POINTER(EvalResult)]
    lib.ax_eval_volumes.argtypes = [vp, vp, C.POINTER(EvalParams), C.POINTER(EvalResult)]
    lib.ax_eval_result_clear.argtypes = [C.POINTER(EvalResult)]
    lib.ax_eval_result_clear.restype = None
    lib.ax_contingency_new.argtypes = [C.POINTER(vp)]
    lib.ax_contingency_free.argtypes = [vp]
    lib.ax_contingency_free.restype = None
    lib.ax_contingency_add.argtypes = [vp, u64p, u64p, C.c_size_t]
    lib.ax_contingency_merge.argtypes = [vp, vp]
    lib.ax_contingency_score.argtypes = [vp, C.POINTER(EvalParams), C.POINTER(EvalResult)]
    lib.ax_threads_set.argtypes = [C.c_int]
    return lib


def eval_arrays(lib, seg, gt, ignore_gt_label=0, ignore=True, worst=10):
    """Score two label arrays (any integer dtype, same shape) with ax_eval_arrays; returns
    a dict of the result fields with the worst lists as lists of dicts. Raises
    RuntimeError with ax_errmsg() on failure."""
    import numpy as np
    s = np.ascontiguousarray(seg, dtype=np.uint64).ravel()
    g = np.ascontiguousarray(gt, dtype=np.uint64).ravel()
    if s.size != g.size:
        raise ValueError("seg and gt differ in size")
    p = lib.ax_eval_params_default()
    p.ignore_gt, p.ignore_gt_label, p.worst = ignore, ignore_gt_label, worst
    r = EvalResult()
    u64p = C.POINTER(C.c_uint64)
    rc = lib.ax_eval_arrays(s.ctypes.data_as(u64p), g.ctypes.data_as(u64p), s.size,
                            C.byref(p), C.byref(r))
    if rc != 0:
        raise RuntimeError(lib.ax_errmsg().decode())
    out = {name: getattr(r, name) for name, _ in EvalResult._fields_
           if not name.startswith(("worst_", "n_worst_"))}
    obj = lambda o: {"id": o.id, "bits": o.bits, "pieces": o.pieces, "size": o.size}
    out["worst_split"] = [obj(r.worst_split[k]) for k in range(r.n_worst_split)]
    out["worst_merge"] = [obj(r.worst_merge[k]) for k in range(r.n_worst_merge)]
    lib.ax_eval_result_clear(C.byref(r))
    return out
