"""Fixtures of the Python package's suite: the installed odrt, the CLI that is its reference (ODRT_BIN:
the build tree's), the bundled model and the shared photos."""
import glob
import json
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("ODRT_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
MODEL = os.path.join(ROOT, "models", "handtrack", "handtrack.onnx")
CLI = os.environ.get("ODRT_BIN", os.path.join(ROOT, "build", "odrt"))


def cli(*args):
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, "odrt %s: %s" % (" ".join(map(str, args)), p.stderr)
    return p


def cli_detections(engine, photos, tmp_path, name="cli.json"):
    """{basename: [(class_id, score, (ymin, xmin, ymax, xmax))]} from `odrt detect --threshold 0 --json`"""
    out = tmp_path / name
    cli("detect", engine, *photos, "--threshold", "0", "--json", out)
    return {os.path.basename(im["file"]): [(d["class_id"], d["score"], tuple(d["box_normalized"])) for d in im["detections"]]
            for im in json.load(open(out))["images"]}


def as_list(d):
    return [(int(c), float(s), tuple(float(v) for v in b)) for c, s, b in zip(d.classes, d.scores, d.boxes)]


def assert_same(got, want, what=""):
    """detections equal: class, and score and box as the same float32 values (JSON prints them exactly)"""
    assert len(got) == len(want) and len(want) > 0, "%s: %d detections, the CLI %d" % (what, len(got), len(want))
    for g, w in zip(got, want):
        assert g[0] == w[0] and abs(g[1] - w[1]) <= 1e-7 and max(abs(a - b) for a, b in zip(g[2], w[2])) <= 1e-7, \
            "%s: %s vs the CLI's %s" % (what, g, w)


@pytest.fixture(scope="session")
def photos():
    p = sorted(glob.glob(os.path.join(SHARED, "images", "*.jpg")))
    assert p, "no photos in %s" % SHARED
    return p


@pytest.fixture(scope="session")
def engine_file(tmp_path_factory):
    """a CPU engine of the bundled model built by the CLI (batch 1, 2 threads)"""
    path = tmp_path_factory.mktemp("eng") / "handtrack.odrt"
    cli("build", MODEL, "-o", path, "--threads", "2")
    return path


@pytest.fixture(scope="session")
def engine4_file(tmp_path_factory):
    """the same at batch 4"""
    path = tmp_path_factory.mktemp("eng4") / "handtrack4.odrt"
    cli("build", MODEL, "-o", path, "--threads", "2", "--batch", "4")
    return path
