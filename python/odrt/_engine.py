"""Engine (a loaded odrt engine), Detections, and build / convert."""
import ctypes as C
import json
import os
import threading
import time
from typing import List, NamedTuple, Optional, Sequence, Union

import numpy as np

from ._errors import OdrtError, check
from ._frames import FrameError, to_batch
from ._lib import BuildOptions, ConvertOptions, Detections as _CDets, EngineOptions, Tensor, lib, take_string

_DET_DTYPE = np.dtype([("ymin", "<f4"), ("xmin", "<f4"), ("ymax", "<f4"), ("xmax", "<f4"), ("score", "<f4"), ("class_id", "<i4")])


class Detection(NamedTuple):
    """one detection: box in pixels (xmin, ymin, xmax, ymax), box_normalized (ymin, xmin, ymax, xmax)
    in [0, 1] as TF gives it, score, class_id (the engine's ids: TF's 1-based by default), label"""
    label: Optional[str]
    class_id: int
    score: float
    box: tuple
    box_normalized: tuple


class Detections:
    """A frame's detections, best first, as numpy arrays:
    boxes (n, 4) float32 normalised (ymin, xmin, ymax, xmax), boxes_px (n, 4) float32 pixels (xmin, ymin,
    xmax, ymax), scores (n,) float32, classes (n,) int32, labels (list of str or None), masks (n, h, w)
    float32 for Mask R-CNN engines (each over its box; None otherwise), height and width of the frame.
    Iterating gives Detection tuples; len() the count."""

    def __init__(self, items: np.ndarray, height: int, width: int, labels: list, masks=None):
        self.height, self.width = height, width
        self.boxes = np.stack([items["ymin"], items["xmin"], items["ymax"], items["xmax"]], axis=1).astype(np.float32)
        self.boxes_px = np.stack([items["xmin"] * width, items["ymin"] * height, items["xmax"] * width,
                                  items["ymax"] * height], axis=1).astype(np.float32)
        self.scores = items["score"].copy()
        self.classes = items["class_id"].copy()
        self.labels = labels
        self.masks = masks

    def __len__(self):
        return len(self.scores)

    def __iter__(self):
        for i in range(len(self)):
            yield Detection(self.labels[i], int(self.classes[i]), float(self.scores[i]), tuple(map(float, self.boxes_px[i])),
                            tuple(map(float, self.boxes[i])))

    def __getitem__(self, i) -> Detection:
        return list(self)[i]

    def above(self, threshold: float) -> "Detections":
        """the detections with score >= threshold"""
        keep = self.scores >= threshold
        d = Detections.__new__(Detections)
        d.height, d.width = self.height, self.width
        d.boxes, d.boxes_px, d.scores, d.classes = self.boxes[keep], self.boxes_px[keep], self.scores[keep], self.classes[keep]
        d.labels = [l for l, k in zip(self.labels, keep) if k]
        d.masks = self.masks[keep] if self.masks is not None else None
        return d

    def __repr__(self):
        return "Detections(%d, %dx%d, best %s)" % (len(self), self.width, self.height,
                                                 "%.3f" % self.scores[0] if len(self) else "-")


def _engine_options(threads=0, profile=False, cpu_isa=None):
    o = EngineOptions()
    lib.odrt_engine_options_init(C.byref(o))
    o.threads, o.profile = int(threads), int(bool(profile))
    o.cpu_isa = cpu_isa.encode() if cpu_isa else None
    return o


class _Handle:
    """one odrt_engine_t with the lock that keeps it to one thread at a time"""

    def __init__(self, ptr):
        self.ptr, self.lock = ptr, threading.Lock()


class Engine:
    """A loaded odrt engine (`odrt build` / odrt.build made it). detect() takes frames as numpy
    uint8 RGB (H, W, 3) or a batch (N, H, W, 3), a list of frames of any sizes, or a DLPack tensor
    (torch, cupy; CUDA memory for CUDA engines), without copying them. Thread-safe: each thread
    detects on its own handle (odrt_engine_share; on a GPU its own stream), made at its first call."""

    def __init__(self, path: Union[str, os.PathLike], *, threads: int = 0, profile: bool = False,
                 cpu_isa: Optional[str] = None, _ptr=None):
        if _ptr is None:
            p = C.c_void_p()
            o = _engine_options(threads, profile, cpu_isa)
            check(lib.odrt_engine_load_ex(os.fsencode(path), C.byref(o), C.byref(p)))
            _ptr = p
        self._main = _Handle(_ptr)
        self._handles = [self._main]
        self._local = threading.local()
        self._local.h = self._main
        self._mu = threading.Lock()
        self._closed = False

    # ---- handles ----
    def _handle(self) -> _Handle:
        if self._closed:
            raise OdrtError("engine is closed")
        h = getattr(self._local, "h", None)
        if h is None:
            with self._mu:
                if self._closed:
                    raise OdrtError("engine is closed")
                p = C.c_void_p()
                with self._main.lock:
                    check(lib.odrt_engine_share(self._main.ptr, C.byref(p)))
                h = _Handle(p)
                self._handles.append(h)
            self._local.h = h
        return h

    def close(self):
        """free the engine (every thread's handle); later calls raise OdrtError"""
        with self._mu:
            if self._closed:
                return
            self._closed = True
            for h in reversed(self._handles):
                with h.lock:
                    lib.odrt_engine_free(h.ptr)
                    h.ptr = None
            self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # ---- metadata ----
    def _ptr(self):
        if self._closed:
            raise OdrtError("engine is closed")
        return self._main.ptr

    @property
    def batch(self) -> int:
        """frames per detect (the build batch)"""
        return lib.odrt_engine_batch(self._ptr())

    @property
    def device(self) -> str:
        return lib.odrt_engine_device(self._ptr()).decode()

    @property
    def kernels(self) -> str:
        return lib.odrt_engine_kernels(self._ptr()).decode()

    @property
    def num_classes(self) -> int:
        return lib.odrt_engine_num_classes(self._ptr())

    @property
    def class_offset(self) -> int:
        return lib.odrt_engine_class_offset(self._ptr())

    def label(self, class_id: int) -> Optional[str]:
        s = lib.odrt_engine_label(self._ptr(), int(class_id))
        return s.decode() if s else None

    def inspect(self) -> dict:
        """the engine's metadata (input, preprocessing, NMS settings, labels, sizes) as a dict"""
        p = C.c_void_p()
        with self._main.lock:
            check(lib.odrt_engine_info_json(self._ptr(), C.byref(p)))
        return json.loads(take_string(p))

    def save(self, path: Union[str, os.PathLike]):
        check(lib.odrt_engine_save(self._ptr(), os.fsencode(path)))

    @property
    def cuda_stream(self) -> int:
        """the calling thread's handle's cudaStream_t as an int (torch.cuda.ExternalStream(engine.cuda_stream))"""
        h = self._handle()
        s = C.c_void_p()
        with h.lock:
            check(lib.odrt_engine_cuda_stream(h.ptr, C.byref(s)))
        return s.value or 0

    def device_ms(self) -> float:
        """device milliseconds of this thread's last detect (CUDA engines), -1 for CPU engines"""
        return lib.odrt_engine_device_ms(self._handle().ptr)

    # ---- detection ----
    def _results(self, h, batch, out) -> List[Detections]:
        res = []
        try:
            for i, (fh, fw) in enumerate(batch.sizes):
                n = out[i].count
                items = (np.ctypeslib.as_array(C.cast(out[i].items, C.POINTER(C.c_uint8 * (24 * n))).contents).view(_DET_DTYPE).copy()
                         if n else np.zeros(0, _DET_DTYPE))
                labels = [self.label(c) for c in items["class_id"]]
                masks = None
                mp, mh, mw = C.POINTER(C.c_float)(), C.c_int(), C.c_int()
                if lib.odrt_engine_masks(h.ptr, i, C.byref(mp), C.byref(mh), C.byref(mw)) == 0 and mp and mh.value > 0:
                    masks = np.ctypeslib.as_array(mp, shape=(n * mh.value * mw.value,)).reshape(n, mh.value, mw.value).copy() \
                        if n else np.zeros((0, mh.value, mw.value), np.float32)
                res.append(Detections(items, fh, fw, labels, masks))
        finally:
            for i in range(len(batch.sizes)):
                lib.odrt_detections_clear(C.byref(out[i]))
        return res

    def detect(self, frames) -> Union[Detections, List[Detections]]:
        """Detections of one frame (H, W, 3), or a list of them for a batch (N, H, W, 3) or a list of
        frames; N may not exceed the engine's batch."""
        try:
            batch = to_batch(frames)
        except FrameError as e:
            raise OdrtError(str(e), "shape error") from None
        h = self._handle()
        n = len(batch.sizes)
        out = (_CDets * n)()
        try:
            with h.lock:
                if h.ptr is None:
                    raise OdrtError("engine is closed")
                check(lib.odrt_engine_detect_frames(h.ptr, n, batch.frames, out))
                res = self._results(h, batch, out)
        finally:
            batch.release()
        return res[0] if batch.single else res

    def __call__(self, frames):
        return self.detect(frames)

    def bench(self, frames=None, iterations: int = 50, warmup: int = 5) -> dict:
        """latency (ms: min, mean, median, p90, p99) and throughput (images/s) of detect on frames
        (default: a batch of mid-grey 480x640 frames, or the engine's fixed frame size)"""
        if frames is None:
            info = self.inspect()
            inp = info.get("input", {})
            fh, fw = inp.get("frame_size") or [0, 0]
            if fh <= 0:  # frames of any size if the model resizes, else exactly the network's
                fh, fw = (480, 640) if "resize" in info.get("preprocessing", {}) else inp["network_size"]
            frames = np.full((self.batch, fh, fw, 3), 128, np.uint8)
        n = len(to_batch(frames).sizes)
        for _ in range(warmup):
            self.detect(frames)
        t = []
        for _ in range(iterations):
            t0 = time.perf_counter()
            self.detect(frames)
            t.append((time.perf_counter() - t0) * 1e3)
        s = np.sort(np.array(t))
        pick = lambda q: float(s[min(len(s) - 1, max(0, int(np.ceil(q / 100 * len(s))) - 1))])
        return {"iterations": iterations, "batch": n, "latency_ms": {"min": float(s[0]), "mean": float(s.mean()),
                "median": float(np.median(s)), "p90": pick(90), "p99": pick(99)},
                "throughput_ips": n * 1e3 / float(s.mean())}

    def __repr__(self):
        if self._closed:
            return "Engine(closed)"
        return "Engine(%s, batch %d, %d classes)" % (self.device, self.batch, self.num_classes)


def load_image(path: Union[str, os.PathLike]) -> np.ndarray:
    """a JPEG or PNG as a uint8 (H, W, 3) RGB array, decoded by libodrt as `odrt detect` decodes it"""
    t = C.POINTER(Tensor)()
    check(lib.odrt_image_load(os.fsencode(path), 0, 0, C.byref(t)))
    try:
        h, w = t.contents.dims[1], t.contents.dims[2]
        return np.ctypeslib.as_array(C.cast(t.contents.data, C.POINTER(C.c_uint8)), shape=(h, w, 3)).copy()
    finally:
        lib.odrt_tensor_free(t)


def _load_model(path):
    if not os.path.exists(path):
        raise OdrtError("cannot open '%s'" % os.fspath(path), "io error")
    m = C.c_void_p()
    check(lib.odrt_model_load(os.fsencode(path), C.byref(m)))
    return m


def build(model: Union[str, os.PathLike], output: Optional[Union[str, os.PathLike]] = None, *, device: str = "cpu",
          precision: str = "fp32", batch: int = 1, input_shape: Optional[Sequence[int]] = None, threads: int = 0,
          labels: Optional[str] = None, class_offset: Optional[int] = None, score_threshold: Optional[float] = None,
          iou_threshold: Optional[float] = None, max_detections: Optional[int] = None, profile: bool = False,
          calibration: Optional[Union[str, os.PathLike]] = None, calibration_method: Optional[str] = None,
          save_calibration: Optional[Union[str, os.PathLike]] = None) -> Engine:
    """Build an engine from a TF OD API export (ONNX from tf2onnx, a SavedModel, TF.js or frozen
    graph), as `odrt build`; saved to output when given. input_shape (H, W) fixes the frame size.
    precision "int8" (CPU) takes calibration: a folder of photos or a saved calibration .json
    (save_calibration writes one). Returns the engine, ready to detect."""
    m = _load_model(model)
    try:
        o = BuildOptions()
        lib.odrt_build_options_init(C.byref(o))
        eo = _engine_options(threads, profile)
        o.device, o.precision, o.batch, o.threads = device.encode(), precision.encode(), int(batch), int(threads)
        if input_shape is not None:
            o.frame_h, o.frame_w = (int(v) for v in input_shape)
        o.labels = os.fsencode(labels) if labels else None
        if class_offset is not None:
            o.class_offset, o.has_class_offset = int(class_offset), 1
        if score_threshold is not None:
            o.score_threshold, o.has_score_threshold = float(score_threshold), 1
        if iou_threshold is not None:
            o.iou_threshold, o.has_iou_threshold = float(iou_threshold), 1
        o.max_detections = int(max_detections or 0)
        o.calibration = os.fsencode(calibration) if calibration is not None else None
        o.calibration_method = calibration_method.encode() if calibration_method else None
        o.calibration_out = os.fsencode(save_calibration) if save_calibration is not None else None
        o.engine = C.pointer(eo)
        e = C.c_void_p()
        check(lib.odrt_engine_build(m, C.byref(o), C.byref(e)))
    finally:
        lib.odrt_model_free(m)
    engine = Engine(None, _ptr=e)
    if output is not None:
        engine.save(output)
    return engine


def convert(model: Union[str, os.PathLike], output: Union[str, os.PathLike], *, target: str = "trt8",
            nms: Optional[str] = None, batch: Optional[int] = None, input_shape: Optional[Sequence[int]] = None,
            input_dtype: str = "uint8", nchw: bool = False, score_threshold: Optional[float] = None,
            iou_threshold: Optional[float] = None, max_detections: Optional[int] = None,
            class_offset: Optional[int] = None, precision: str = "fp32", calibration: Optional[str] = None,
            calibration_method: Optional[str] = None) -> dict:
    """A TensorRT-ready ONNX from a TF OD API export, as `odrt convert` (docs/convert.md); returns the
    conversion report. batch: > 0 static, -1 dynamic; input_shape: (B, H, W, C); precision "fp16": a
    strongly typed FP16 ONNX (the network in float16, box decode and NMS in float32); "int8": a Q/DQ ONNX
    calibrated on `calibration` (a folder of photos or an `odrt calibrate` .json)."""
    m = _load_model(model)
    try:
        o = ConvertOptions()
        lib.odrt_convert_options_init(C.byref(o))
        o.target, o.nms, o.precision = target.encode(), nms.encode() if nms else None, precision.encode()
        o.calibration = os.fsencode(calibration) if calibration else None
        o.calibration_method = calibration_method.encode() if calibration_method else None
        if input_shape is not None:
            for i, v in enumerate(input_shape):
                o.input_shape[i] = int(v)
        dt = {"uint8": 2, "float32": 1}
        if input_dtype not in dt:
            raise OdrtError("convert: input_dtype is uint8 or float32, not %r" % input_dtype)
        o.input_dtype, o.nchw, o.batch = dt[input_dtype], int(bool(nchw)), int(batch or 0)
        if score_threshold is not None:
            o.score_threshold, o.has_score_threshold = float(score_threshold), 1
        if iou_threshold is not None:
            o.iou_threshold, o.has_iou_threshold = float(iou_threshold), 1
        o.max_detections = int(max_detections or 0)
        if class_offset is not None:
            o.class_offset = int(class_offset)
        rep = C.c_void_p()
        check(lib.odrt_convert(m, C.byref(o), C.byref(rep)))
        report = json.loads(take_string(rep)) if rep.value else {}
        check(lib.odrt_model_save(m, os.fsencode(output)))
    finally:
        lib.odrt_model_free(m)
    return report
