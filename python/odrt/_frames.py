"""Frames from Python objects: numpy uint8 arrays (H, W, 3) or (N, H, W, 3), lists of them, and any
object with __dlpack__ (torch, cupy, jax, numpy): host memory zero-copy; CUDA memory for CUDA engines."""
import ctypes as C

import numpy as np

from ._lib import MEM_CUDA, MEM_HOST, Frame

KDLCPU, KDLCUDA, KDLCUDAHOST, KDLCUDAMANAGED = 1, 2, 3, 13


class _DLDevice(C.Structure):
    _fields_ = [("device_type", C.c_int32), ("device_id", C.c_int32)]


class _DLDataType(C.Structure):
    _fields_ = [("code", C.c_uint8), ("bits", C.c_uint8), ("lanes", C.c_uint16)]


class _DLTensor(C.Structure):
    _fields_ = [("data", C.c_void_p), ("device", _DLDevice), ("ndim", C.c_int32), ("dtype", _DLDataType),
                ("shape", C.POINTER(C.c_int64)), ("strides", C.POINTER(C.c_int64)), ("byte_offset", C.c_uint64)]


class _DLManagedTensor(C.Structure):
    pass


_DLManagedTensor._fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", C.c_void_p),
                             ("deleter", C.CFUNCTYPE(None, C.POINTER(_DLManagedTensor)))]

_api = C.pythonapi
_api.PyCapsule_GetPointer.restype, _api.PyCapsule_GetPointer.argtypes = C.c_void_p, [C.py_object, C.c_char_p]
_api.PyCapsule_SetName.restype, _api.PyCapsule_SetName.argtypes = C.c_int, [C.py_object, C.c_char_p]
_api.PyCapsule_IsValid.restype, _api.PyCapsule_IsValid.argtypes = C.c_int, [C.py_object, C.c_char_p]


class FrameError(ValueError):
    pass


class Batch:
    """frames as odrt_frame_t, with what keeps their memory alive until the detection is done"""

    def __init__(self, frames, keep, sizes, single, release=None):
        self.frames, self.keep, self.sizes, self.single, self._release = frames, keep, sizes, single, release

    def release(self):
        if self._release:
            self._release()
            self._release = None


def _check_array(a, i):
    if a.dtype != np.uint8:
        raise FrameError("detect: frame %d is %s; odrt takes uint8 RGB frames" % (i, a.dtype))
    if a.ndim != 3 or a.shape[2] != 3:
        raise FrameError("detect: frame %d has shape %s; odrt takes (H, W, 3) RGB frames" % (i, tuple(a.shape)))
    if not a.flags.c_contiguous:
        raise FrameError("detect: frame %d is not C-contiguous (strides %s); pass np.ascontiguousarray(frame)" % (i, a.strides))


def _host_batch(arrays, single):
    frames = (Frame * len(arrays))()
    for i, a in enumerate(arrays):
        _check_array(a, i)
        frames[i] = Frame(a.ctypes.data, a.shape[0], a.shape[1], MEM_HOST)
    return Batch(frames, arrays, [(a.shape[0], a.shape[1]) for a in arrays], single)


def _cuda_batch(obj):
    """a CUDA DLPack tensor (H, W, 3) or (N, H, W, 3) uint8, C-contiguous: frames in device memory"""
    try:
        cap = obj.__dlpack__(stream=None)  # the producer orders its work before the legacy default stream
    except TypeError:
        cap = obj.__dlpack__()
    if not _api.PyCapsule_IsValid(cap, b"dltensor"):
        raise FrameError("detect: the DLPack capsule is not an unused 'dltensor'")
    mt = C.cast(_api.PyCapsule_GetPointer(cap, b"dltensor"), C.POINTER(_DLManagedTensor))
    _api.PyCapsule_SetName(cap, b"used_dltensor")  # ours now: the deleter is called on release

    def release(mt=mt):
        if mt.contents.deleter:
            mt.contents.deleter(mt)

    try:
        t = mt.contents.dl_tensor
        shape = [t.shape[k] for k in range(t.ndim)]
        if (t.dtype.code, t.dtype.bits, t.dtype.lanes) != (1, 8, 1):
            raise FrameError("detect: the CUDA tensor's dtype is (code %d, bits %d); odrt takes uint8 RGB frames"
                             % (t.dtype.code, t.dtype.bits))
        if t.ndim not in (3, 4) or shape[-1] != 3:
            raise FrameError("detect: the CUDA tensor has shape %s; odrt takes (H, W, 3) or (N, H, W, 3)" % (tuple(shape),))
        if t.strides:
            want, acc = [], 1
            for d in reversed(shape):
                want.insert(0, acc)
                acc *= d
            have = [t.strides[k] for k in range(t.ndim)]
            if any(h != w for h, w, d in zip(have, want, shape) if d > 1):
                raise FrameError("detect: the CUDA tensor is not C-contiguous (strides %s); pass tensor.contiguous()" % (have,))
        n = shape[0] if t.ndim == 4 else 1
        h, w = shape[-3], shape[-2]
        base = t.data + t.byte_offset
        frames = (Frame * n)()
        for i in range(n):
            frames[i] = Frame(base + i * h * w * 3, h, w, MEM_CUDA)
        return Batch(frames, (obj, cap), [(h, w)] * n, t.ndim == 3, release)
    except Exception:
        release()
        raise


def to_batch(frames):
    """Batch of frames from a numpy array, a DLPack object or a list/tuple of either (host memory)"""
    if isinstance(frames, np.ndarray):
        if frames.ndim == 4:
            if frames.shape[0] < 1:
                raise FrameError("detect: no frames (shape %s)" % (frames.shape,))
            return _host_batch([frames[i] for i in range(frames.shape[0])], False)
        return _host_batch([frames], True)
    if isinstance(frames, (list, tuple)):
        if not frames:
            raise FrameError("detect: no frames")
        arrays = []
        for i, f in enumerate(frames):
            if isinstance(f, np.ndarray):
                arrays.append(f)
            elif hasattr(f, "__dlpack__"):
                if f.__dlpack_device__()[0] not in (KDLCPU, KDLCUDAHOST):
                    raise FrameError("detect: frame %d is in device memory; pass device frames as one (N, H, W, 3) tensor" % i)
                arrays.append(np.from_dlpack(f))
            else:
                raise FrameError("detect: frame %d is a %s; odrt takes numpy arrays or DLPack tensors" % (i, type(f).__name__))
        return _host_batch(arrays, False)
    if hasattr(frames, "__dlpack__") and hasattr(frames, "__dlpack_device__"):
        dev = frames.__dlpack_device__()[0]
        if dev in (KDLCUDA, KDLCUDAMANAGED):
            return _cuda_batch(frames)
        if dev in (KDLCPU, KDLCUDAHOST):
            return to_batch(np.from_dlpack(frames))
        raise FrameError("detect: a DLPack tensor on device type %d; odrt takes host (CPU) or CUDA memory" % dev)
    raise FrameError("detect: frames are a %s; odrt takes numpy arrays, DLPack tensors or a list of them" % type(frames).__name__)
