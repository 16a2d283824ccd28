"""Shared fixtures: the odrt binary under test, the bundled model, shared images, onnxruntime."""
import glob
import os
import subprocess

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("ODRT_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
MODEL = os.path.join(ROOT, "models", "handtrack", "handtrack.onnx")


def odrt_bin():
    return os.environ.get("ODRT_BIN", os.path.join(ROOT, "build", "odrt"))


def run_odrt(*args, check=True, timeout=120):
    p = subprocess.run([odrt_bin(), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("odrt %s failed (%d): %s" % (" ".join(map(str, args)), p.returncode, p.stderr))
    return p


@pytest.fixture(scope="session")
def model_path():
    return MODEL


@pytest.fixture(scope="session")
def images():
    imgs = sorted(glob.glob(os.path.join(SHARED, "images", "*.jpg")))
    assert imgs, "no shared images found in %s" % SHARED
    return imgs


@pytest.fixture(scope="module")
def calib_dir(tmp_path_factory):
    """the int8 calibration set: the shared photos and the COCO subset's photos, in one folder"""
    import shutil
    d = tmp_path_factory.mktemp("calib")
    for sub in ("images", os.path.join("coco", "images")):
        for f in sorted(os.listdir(os.path.join(SHARED, sub))):
            if f.endswith(".jpg"):
                shutil.copy(os.path.join(SHARED, sub, f), d / f)
    return d


def iou(a, b):
    """boxes [ymin, xmin, ymax, xmax]"""
    y1, x1, y2, x2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, y2 - y1) * max(0.0, x2 - x1)
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    if u > 0:
        return inter / u
    # two empty boxes (clipped flat at an edge): the same box if every coordinate agrees
    return 1.0 if max(abs(p - q) for p, q in zip(a, b)) <= 1e-6 else 0.0


def missing(a, b, min_score=0.05, min_iou=0.99, score_tol=1e-4):
    """detections (class, score, [ymin, xmin, ymax, xmax]) of a with score >= min_score that b lacks: none
    of b has the same class, IoU >= min_iou and (score_tol None, or) |score diff| <= score_tol"""
    return [d for d in a if d[1] >= min_score and not any(
        e[0] == d[0] and iou(d[2], e[2]) >= min_iou and (score_tol is None or abs(e[1] - d[1]) <= score_tol) for e in b)]


def load_rgb(path):
    from PIL import Image
    return np.array(Image.open(path).convert("RGB"))[None]


@pytest.fixture(scope="session")
def ort_session():
    import onnxruntime as ort
    return ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
