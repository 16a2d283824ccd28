"""odrt: TensorFlow Object Detection API detectors as engines for CPUs and NVIDIA GPUs.

    import odrt, numpy as np
    engine = odrt.build("model.onnx", device="cpu")          # or odrt.Engine("model.odrt")
    dets = engine.detect(frame)                              # frame: uint8 (H, W, 3) RGB
    for d in dets:
        print(d.label, d.score, d.box)                       # box in pixels: xmin, ymin, xmax, ymax

Every failure raises OdrtError with odrt's one-line message. Engine objects may be shared by
threads (each thread detects on its own handle of the engine). The library is libodrt (C); this
package calls it through ctypes and bundles the `odrt` CLI (`python -m odrt ...`).
"""
from ._engine import Detection, Detections, Engine, build, convert, load_image
from ._errors import OdrtError
from ._lib import lib as _lib

__all__ = ["Engine", "Detections", "Detection", "OdrtError", "build", "convert", "load_image", "version", "backends"]
__version__ = _lib.odrt_version().decode()


def version() -> str:
    """libodrt's version, "MAJOR.MINOR.PATCH\""""
    return _lib.odrt_version().decode()


def backends() -> list:
    """the backends this libodrt was built with: ["cpu"] or ["cpu", "cuda"]"""
    return _lib.odrt_backends().decode().split()
