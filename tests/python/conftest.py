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


def load_rgb(path):
    from PIL import Image
    return np.array(Image.open(path).convert("RGB"))[None]


@pytest.fixture(scope="session")
def ort_session():
    import onnxruntime as ort
    return ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
