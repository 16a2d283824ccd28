"""`odrt compare`: parity between the original handtrack export (reference executor), its odrt
conversion and its engine; a real difference (0-based classes) fails with exit status 1; the
reported error statistics equal numpy's on the same two output sets (`odrt run` of each model)."""
import json

import numpy as np
import pytest

from conftest import MODEL, run_odrt


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    run_odrt("build", MODEL, "-o", d / "e1.odrt")
    run_odrt("build", MODEL, "-o", d / "e0.odrt", "--class-offset", "0")
    run_odrt("convert", MODEL, "-o", d / "conv.onnx", "--target", "onnx", "--class-offset", "1")
    return d


def compare(tmp_path, *args, check=True):
    out = tmp_path / "cmp.json"
    p = run_odrt("compare", *args, "--json", out, check=False, timeout=600)
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p, json.loads(out.read_text()) if out.exists() else None


def test_original_vs_engine_full_parity(forms, images, tmp_path):
    p, j = compare(tmp_path, MODEL, forms / "e1.odrt", "--images", *images)
    d = j["detections"]
    assert j["pass"] and d["missed"] == 0 and d["extra"] == 0 and d["a"] == d["b"] == d["matched_iou90"] >= 20
    assert j["map_b_vs_a"][0] == pytest.approx(1.0)
    outs = {o["name"]: o for o in j["outputs"]}
    for k in ("detection_boxes", "detection_scores", "detection_classes", "num_detections"):
        assert outs[k]["result"] == "pass", outs[k]
    assert "PASS" in p.stdout


def test_original_vs_converted(forms, images, tmp_path):
    p, j = compare(tmp_path, MODEL, forms / "conv.onnx", "--images", *images[:3])
    assert j["pass"] and j["detections"]["missed"] == 0 and j["detections"]["extra"] == 0


def test_difference_fails_and_offset_fixes_it(forms, images, tmp_path):
    p, j = compare(tmp_path, MODEL, forms / "e0.odrt", "--images", images[0], check=False)
    assert p.returncode == 1 and not j["pass"] and j["detections"]["missed"] > 0 and "FAIL" in p.stdout
    p, j = compare(tmp_path, MODEL, forms / "e0.odrt", "--images", images[0], "--b-class-offset", "1")
    assert j["pass"]


def test_statistics_equal_numpy(forms, tmp_path):
    x = np.random.default_rng(5).integers(0, 256, (1, 320, 320, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    outs = {}
    for tag, m in (("a", MODEL), ("b", forms / "conv.onnx")):
        run_odrt("run", m, "--input", "input_tensor=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path / tag)
        outs[tag] = {k: np.load(tmp_path / tag / ("%s.npy" % k)).astype(np.float64).ravel()
                     for k in ("detection_boxes", "detection_scores")}
    p, j = compare(tmp_path, MODEL, forms / "conv.onnx", "--input", "input_tensor=%s" % (tmp_path / "x.npy"), "--atol", "1e-3",
                   "--rtol", "1e-3", check=False)
    got = {o["name"]: o for o in j["outputs"]}
    for k, v in outs["a"].items():
        ab = np.abs(v - outs["b"][k])
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(ab == 0, 0, ab / np.abs(v))
        assert got[k]["max_abs"] == pytest.approx(ab.max(), abs=1e-12)
        assert got[k]["mean_abs"] == pytest.approx(ab.mean(), abs=1e-12)
        assert got[k]["median_abs"] == pytest.approx(np.sort(ab)[len(ab) // 2], abs=1e-12)
        assert got[k]["failures"] == int(np.sum((ab > 1e-3) & (rel > 1e-3)))


def test_usage_errors(tmp_path):
    assert run_odrt("compare", MODEL, check=False).returncode == 2
    p = run_odrt("compare", MODEL, MODEL, "--images", tmp_path / "none.jpg", check=False)
    assert p.returncode == 1 and "no such file" in p.stderr
