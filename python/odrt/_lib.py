"""ctypes declarations of libodrt's public API (include/odrt.h), and the library's loading.

The structs mirror odrt.h field by field; at load the sizes the library's *_init functions write into
struct_size are compared with these, so that a binding and a library that disagree fail at import."""
import ctypes as C
import glob
import os

ODRT_MAX_RANK = 8
MEM_HOST, MEM_CUDA = 0, 1
STATUS = ["ok", "io error", "parse error", "invalid model", "unsupported", "shape error", "out of memory",
          "bad argument", "not found", "device error"]


class Tensor(C.Structure):
    _fields_ = [("dtype", C.c_int), ("rank", C.c_int), ("dims", C.c_int64 * ODRT_MAX_RANK), ("data", C.c_void_p),
                ("nbytes", C.c_size_t)]


class Detection(C.Structure):
    _fields_ = [("ymin", C.c_float), ("xmin", C.c_float), ("ymax", C.c_float), ("xmax", C.c_float), ("score", C.c_float),
                ("class_id", C.c_int)]


class Detections(C.Structure):
    _fields_ = [("count", C.c_int), ("items", C.POINTER(Detection))]


class Frame(C.Structure):
    _fields_ = [("data", C.c_void_p), ("height", C.c_int), ("width", C.c_int), ("memory", C.c_int)]


class EngineOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("threads", C.c_int), ("profile", C.c_int), ("cpu_isa", C.c_char_p),
                ("cpu_no_fuse", C.c_int), ("cpu_half", C.c_int), ("cpu_half_first", C.c_int), ("cpu_half_last", C.c_int),
                ("cpu_half_bits", C.c_int), ("cpu_half_weights", C.c_int), ("cuda_no_tensor_cores", C.c_int),
                ("cuda_dw_pixels", C.c_int), ("cuda_no_stem", C.c_int), ("cuda_pw", C.c_int),
                ("cuda_no_fuse", C.c_int)]


class BuildOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("device", C.c_char_p), ("precision", C.c_char_p), ("batch", C.c_int),
                ("frame_h", C.c_int), ("frame_w", C.c_int), ("threads", C.c_int), ("labels", C.c_char_p),
                ("class_offset", C.c_int), ("has_class_offset", C.c_int), ("engine", C.POINTER(EngineOptions)),
                ("score_threshold", C.c_float), ("has_score_threshold", C.c_int), ("iou_threshold", C.c_float),
                ("has_iou_threshold", C.c_int), ("max_detections", C.c_int),
                ("calibration", C.c_char_p), ("calibration_method", C.c_char_p), ("calibration_out", C.c_char_p)]


class ConvertOptions(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("target", C.c_char_p), ("nms", C.c_char_p), ("input_shape", C.c_int64 * 4),
                ("input_dtype", C.c_int), ("nchw", C.c_int), ("batch", C.c_int64), ("score_threshold", C.c_float),
                ("has_score_threshold", C.c_int), ("iou_threshold", C.c_float), ("has_iou_threshold", C.c_int),
                ("max_detections", C.c_int64), ("class_offset", C.c_int64), ("debug_outputs", C.POINTER(C.c_char_p)),
                ("n_debug_outputs", C.c_int), ("analyze_only", C.c_int), ("precision", C.c_char_p),
                ("calibration", C.c_char_p), ("calibration_method", C.c_char_p)]


P = C.c_void_p
PP = C.POINTER(C.c_void_p)
I, F, S = C.c_int, C.c_float, C.c_char_p
# name: (restype, argtypes); status-returning calls have restype int
_API = {
    "odrt_status_str": (S, [I]), "odrt_last_error": (S, []), "odrt_version": (S, []), "odrt_version_number": (I, []),
    "odrt_backends": (S, []), "odrt_cpu_kernels": (S, []),
    "odrt_model_load": (I, [S, PP]), "odrt_model_free": (None, [P]), "odrt_model_save": (I, [P, S]),
    "odrt_convert_options_init": (None, [C.POINTER(ConvertOptions)]),
    "odrt_convert": (I, [P, C.POINTER(ConvertOptions), PP]),
    "odrt_build_options_init": (None, [C.POINTER(BuildOptions)]),
    "odrt_engine_options_init": (None, [C.POINTER(EngineOptions)]),
    "odrt_engine_build": (I, [P, C.POINTER(BuildOptions), PP]), "odrt_engine_save": (I, [P, S]),
    "odrt_engine_load_ex": (I, [S, C.POINTER(EngineOptions), PP]), "odrt_engine_free": (None, [P]),
    "odrt_engine_share": (I, [P, PP]), "odrt_engine_prepare": (I, [P]),
    "odrt_engine_batch": (I, [P]), "odrt_engine_class_offset": (I, [P]), "odrt_engine_num_classes": (I, [P]),
    "odrt_engine_label": (S, [P, I]), "odrt_engine_set_labels": (I, [P, S]), "odrt_engine_info_json": (I, [P, PP]),
    "odrt_engine_device": (S, [P]), "odrt_engine_kernels": (S, [P]), "odrt_engine_device_ms": (C.c_double, [P]),
    "odrt_engine_detect_frames": (I, [P, I, C.POINTER(Frame), C.POINTER(Detections)]),
    "odrt_engine_submit": (I, [P, I, C.POINTER(Frame)]), "odrt_engine_wait": (I, [P, C.POINTER(Detections)]),
    "odrt_engine_cuda_stream": (I, [P, PP]),
    "odrt_engine_masks": (I, [P, I, C.POINTER(C.POINTER(C.c_float)), C.POINTER(I), C.POINTER(I)]),
    "odrt_detections_clear": (None, [C.POINTER(Detections)]),
    "odrt_image_load": (I, [S, I, I, C.POINTER(C.POINTER(Tensor))]), "odrt_tensor_free": (None, [C.POINTER(Tensor)]),
}


def _find():
    env = os.environ.get("ODRT_LIBRARY")  # a libodrt.so of a build tree, for development
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "libodrt.so*")))
    if not found:
        raise ImportError("odrt: libodrt.so is missing from %s (install the package with pip, or set ODRT_LIBRARY)" % here)
    return found[-1]


def _load():
    lib = C.CDLL(_find())
    for name, (res, args) in _API.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    for st, init in ((EngineOptions, lib.odrt_engine_options_init), (BuildOptions, lib.odrt_build_options_init),
                     (ConvertOptions, lib.odrt_convert_options_init)):
        buf = (C.c_uint8 * 4096)()  # room for any size: init writes the library's sizeof into struct_size
        init(C.cast(buf, C.POINTER(st)))
        size = C.c_size_t.from_buffer(buf).value
        if size != C.sizeof(st):
            raise ImportError("odrt: %s is %d bytes in libodrt, %d in this binding (versions differ)" % (st.__name__, size, C.sizeof(st)))
    return lib


lib = _load()
libc = C.CDLL(None)
libc.free.argtypes, libc.free.restype = [C.c_void_p], None


def take_string(p):
    """a char * the library malloc'ed: its text, the memory freed"""
    try:
        return C.string_at(p).decode()
    finally:
        libc.free(p)
