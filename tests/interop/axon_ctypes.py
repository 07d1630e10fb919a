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
