"""ODRT_PROFILE=1 on every model the engines run (this suite also runs against the ASan+UBSan
build): the detect succeeds with the same detections as without profiling, and the profile adds
up: one line per op (a fused chain's line covering its ops), per-class totals that sum to the
network time, class names from the op table. The CPU profile once wrote past its per-kind array
for EfficientDet's spatial means and max pools."""
import json
import os
import re
import subprocess

import pytest

from conftest import MODEL, ROOT, SHARED, odrt_bin

MODELS = {"handtrack": MODEL, "handtrack640": os.path.join(ROOT, ".cache", "models", "handtrack640.onnx"),
          "efficientdet_d0": os.path.join(SHARED, "models", "efficientdet_d0", "model.onnx")}
CLASSES = {"conv-gemm", "conv-dw", "conv-im2col", "binary", "unary", "gather", "concat", "ref", "mean-hw", "maxpool"}


def detect(engine, image, tmp_path, profile):
    out = tmp_path / ("p.json" if profile else "n.json")
    env = dict(os.environ)
    env.pop("ODRT_PROFILE", None)
    if profile:
        env["ODRT_PROFILE"] = "1"
    p = subprocess.run([odrt_bin(), "detect", engine, image, image, "--json", out, "--threshold", "0"], capture_output=True,
                       text=True, timeout=900, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(out.read_text())["images"], p.stderr


@pytest.mark.parametrize("name", sorted(MODELS))
def test_profile(name, images, tmp_path):
    if not os.path.exists(MODELS[name]):
        pytest.skip("%s not materialised (tools/setup.sh)" % MODELS[name])
    engine = tmp_path / "e.odrt"
    subprocess.run([odrt_bin(), "build", MODELS[name], "-o", engine], check=True, capture_output=True, timeout=900)
    plain, _ = detect(engine, images[0], tmp_path, False)
    prof, err = detect(engine, images[0], tmp_path, True)
    assert plain == prof
    m = re.search(r"odrt profile: 2 runs, network ([0-9.]+) ms/run", err)
    assert m, err
    network = float(m.group(1))
    ops = re.findall(r"^ +\d+ (\S+) +([0-9.]+) ms", err, re.M)
    totals = re.findall(r"^  total (\S+) +([0-9.]+) ms", err, re.M)
    n_ops = json.loads(subprocess.run([odrt_bin(), "inspect", engine, "--json"], capture_output=True, text=True,
                                      check=True).stdout)["network_ops"]
    assert 0 < len(ops) <= n_ops and totals, err
    assert {c for c, _ in ops} <= CLASSES and {c for c, _ in totals} <= CLASSES, err
    assert abs(sum(float(t) for _, t in totals) - network) <= 0.005 * network + 0.001 * len(totals), (totals, network)
    assert abs(sum(float(t) for _, t in ops) - network) <= 0.005 * network + 0.001 * len(ops), network
    assert re.search(r"odrt profile: 2 detects: preprocessing [0-9.]+ ms, network [0-9.]+ ms, post-processing", err), err
