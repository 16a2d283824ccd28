"""The AArch64 build (cross-compiled, run under qemu-user) against the x86-64 build: it writes the
same engine file from the same export, and its detections on every shared photo equal the x86-64
engine's (every detection with score >= 0.05 matched both ways: same class, IoU >= 0.99,
|score diff| <= 1e-4). An INT8 engine written on x86-64 runs there on the NEON dot-product kernels with
the x86 engine's detections, and the int8 kernel check (tests/test_int8_kernels.c) and the float
depthwise / weighted-sum / sigmoid check (tests/test_dw_kernels.c: NEON) pass there. Runs
when ODRT_BIN_AARCH64 names the cross-built odrt (tools/test.sh)."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import MODEL, SHARED, run_odrt
from test_engine import unmatched

ARM = os.environ.get("ODRT_BIN_AARCH64")
pytestmark = pytest.mark.skipif(not ARM, reason="ODRT_BIN_AARCH64 not set (tools/test.sh sets it)")


def run_arm(*args):
    assert os.path.exists(ARM), ARM
    qemu = shutil.which("qemu-aarch64")
    assert qemu, "qemu-aarch64 missing (tools/setup.sh installs qemu-user)"
    p = subprocess.run([qemu, ARM, *map(str, args)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    return p


def dets(path):
    return [[(d["class_id"], d["score"], d["box_normalized"]) for d in r["detections"]] for r in json.load(open(path))["images"]]


def test_aarch64_engine_matches_x86(tmp_path, images):
    labels = os.path.join(SHARED, "models", "handtrack", "label_map.pbtxt")
    run_odrt("build", MODEL, "-o", tmp_path / "x86.odrt", "--labels", labels)
    run_arm("build", MODEL, "-o", tmp_path / "arm.odrt", "--labels", labels)
    assert (tmp_path / "x86.odrt").read_bytes() == (tmp_path / "arm.odrt").read_bytes()
    run_odrt("detect", tmp_path / "x86.odrt", *images, "--json", tmp_path / "x86.json", "--threshold", "0")
    run_arm("detect", tmp_path / "x86.odrt", *images, "--json", tmp_path / "arm.json", "--threshold", "0", "--threads", "2")
    n = 0
    for a, b in zip(dets(tmp_path / "x86.json"), dets(tmp_path / "arm.json")):
        assert not unmatched(a, b) and not unmatched(b, a)
        n += sum(d[1] >= 0.05 for d in a)
    assert n >= 20


def test_aarch64_int8(tmp_path, images, calib_dir):
    """the int8 kernels (the NEON dot-product set where the emulated CPU has it) against the Q/DQ
    arithmetic; an x86-64 INT8 engine's detections on AArch64: the same detections, scores within 2e-3
    (float activations rounding differently flip a few quantized values by one step)"""
    kern = os.path.join(os.path.dirname(ARM), "test_int8_kernels")
    p = subprocess.run([shutil.which("qemu-aarch64"), kern], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0 and "neondot: checked" in p.stdout, p.stdout + p.stderr
    run_odrt("build", MODEL, "-o", tmp_path / "q.odrt", "--precision", "int8", "--calibration", calib_dir, timeout=3000)
    run_odrt("detect", tmp_path / "q.odrt", *images, "--json", tmp_path / "x86.json", "--threshold", "0")
    run_arm("detect", tmp_path / "q.odrt", *images, "--json", tmp_path / "arm.json", "--threshold", "0", "--threads", "2")
    n = 0
    for a, b in zip(dets(tmp_path / "x86.json"), dets(tmp_path / "arm.json")):
        assert not unmatched(a, b, score_tol=2e-3) and not unmatched(b, a, score_tol=2e-3)
        n += sum(d[1] >= 0.05 for d in a)
    assert n >= 20


def test_aarch64_float_kernels():
    """the depthwise tiles (3x3, 5x5), the weighted sum and sigmoid / swish compiled for NEON, against
    double arithmetic (tests/test_dw_kernels.c)"""
    kern = os.path.join(os.path.dirname(ARM), "test_dw_kernels")
    p = subprocess.run([shutil.which("qemu-aarch64"), kern], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0 and "generic: checked" in p.stdout and " 0 failed" in p.stdout, p.stdout + p.stderr
