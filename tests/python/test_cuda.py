"""CUDA engines (ctest label gpu: CI has no GPU; run on a GPU machine) against the CPU engine, the
tested oracle of the original export: on every shared photo at its own size,
- fp32: raw box codes / class logits within atol 1e-3, and every detection with score >= 0.05
  matched (same class, IoU >= 0.99), both ways;
- fp16: detections with score >= 0.3 matched for >= 98% at IoU >= 0.9, none with score >= 0.5
  missing;
for handtrack and handtrack640, at batch 1 and 4. Skipped where this odrt has no CUDA backend or
the machine no GPU."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import MODEL, ROOT, SHARED, missing as missing_, odrt_bin, run_odrt


def missing(a, b, min_score, min_iou):
    """no score tolerance: CUDA criteria are class and IoU"""
    return missing_(a, b, min_score, min_iou, None)

M640 = os.path.join(ROOT, ".cache", "models", "handtrack640.onnx")
ED = os.path.join(SHARED, "models", "efficientdet_d0", "model.onnx")
MODELS = {"handtrack": MODEL, "handtrack640": M640, "efficientdet_d0": ED}


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    if "cuda" not in subprocess.run([odrt_bin(), "--version"], capture_output=True, text=True).stdout:
        pytest.skip("this odrt was built without the CUDA backend")
    d = tmp_path_factory.mktemp("cuda")
    cache = {}

    def get(name, *args):
        key = (name,) + args
        if key not in cache:
            out = d / ("e%d.odrt" % len(cache))
            run_odrt("build", MODELS[name], "-o", out, *args, timeout=300)
            cache[key] = out
        return cache[key]
    probe = get("handtrack", "--device", "cuda")
    p = run_odrt("bench", probe, "--iterations", "1", "--warmup", "0", check=False, timeout=300)
    if p.returncode and "no usable GPU" in p.stderr:
        pytest.skip(p.stderr.strip())
    return get


def detect(engine, imgs, tmp_path):
    out = tmp_path / "d.json"
    run_odrt("detect", engine, *imgs, "--json", out, "--threshold", "0", timeout=600)
    res = json.loads(out.read_text())["images"]
    return [[(d["class_id"], d["score"], d["box_normalized"]) for d in r["detections"]] for r in res]


@pytest.mark.parametrize("name", ["handtrack", "handtrack640"])
@pytest.mark.parametrize("batch", ["1", "4"])
def test_fp32_matches_cpu(name, batch, engines, images, tmp_path):
    ref = detect(engines(name, "--batch", batch), images, tmp_path)
    got = detect(engines(name, "--device", "cuda", "--batch", batch), images, tmp_path)
    n = 0
    for img, r, g in zip(images, ref, got):
        assert not missing(r, g, 0.05, 0.99), (img, missing(r, g, 0.05, 0.99)[:3])
        assert not missing(g, r, 0.05, 0.99), (img, missing(g, r, 0.05, 0.99)[:3])
        n += sum(d[1] >= 0.05 for d in r)
    assert n >= 20


def test_nms_beyond_the_preselection(engines, images, tmp_path):
    """IoU threshold 0.02: nearly every overlap suppresses, so the GPU NMS runs out of the 4 x
    max_per_class candidates it pre-selects and sorts the whole segment (sort_nms_k): still every
    detection of the CPU engine, both ways, and 100 per photo"""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper
    m = onnx.load(MODEL)
    for init in m.graph.initializer:
        if init.name.endswith("iou_threshold:0"):
            init.CopyFrom(numpy_helper.from_array(np.array(0.02, np.float32), init.name))
    model = tmp_path / "tight_iou.onnx"
    onnx.save(m, str(model))
    cpu, gpu = tmp_path / "cpu.odrt", tmp_path / "gpu.odrt"
    run_odrt("build", model, "-o", cpu, timeout=300)
    run_odrt("build", model, "-o", gpu, "--device", "cuda", timeout=300)
    for img, r, g in zip(images, detect(cpu, images, tmp_path), detect(gpu, images, tmp_path)):
        assert len(r) == 100 and not missing(r, g, 0.05, 0.99) and not missing(g, r, 0.05, 0.99), img


@pytest.mark.parametrize("name", ["handtrack", "handtrack640"])
def test_fp32_raw_outputs(name, engines, images, tmp_path):
    """odrt compare's per-output errors: CPU engine vs CUDA fp32 engine, abs <= 1e-3"""
    out = tmp_path / "cmp.json"
    p = run_odrt("compare", engines(name), engines(name, "--device", "cuda"), "--images", os.path.dirname(images[0]),
                 "--atol", "1e-3", "--rtol", "0", "--json", out, check=False, timeout=600)
    rep = json.loads(out.read_text())
    for o in rep["outputs"]:
        assert o["max_abs"] <= 1e-3, (name, o)
    assert p.returncode == 0, p.stdout[-2000:]


@pytest.mark.parametrize("name", ["handtrack", "handtrack640"])
def test_fp16(name, engines, images, tmp_path):
    ref = detect(engines(name), images, tmp_path)
    got = detect(engines(name, "--device", "cuda", "--precision", "fp16"), images, tmp_path)
    n_ref = n_miss = 0
    for img, r, g in zip(images, ref, got):
        n_ref += sum(d[1] >= 0.3 for d in r)
        n_miss += len(missing(r, g, 0.3, 0.9))
        assert not missing(r, g, 0.5, 0.9), (img, missing(r, g, 0.5, 0.9))
    assert n_ref > 0 and n_miss <= 0.02 * n_ref, (n_miss, n_ref)


def test_bench_reports_device_time(engines):
    b = json.loads(run_odrt("bench", engines("handtrack", "--device", "cuda", "--precision", "fp16"), "--iterations", "50",
                            "--json", timeout=300).stdout)
    assert b["device"] == "cuda" and 0 < b["device_median_ms"] <= b["median_ms"]
    assert b["load_ms"] > 0 and b["process_start_to_first_detection_ms"] > 0


def test_bench_streams(engines):
    """two handles on one engine in flight at once (own streams, graphs and buffers): more images/s
    than one at batch 16, where one handle leaves the GPU idle while it stages and uploads frames"""
    e = engines("handtrack", "--device", "cuda", "--precision", "fp16", "--batch", "16")
    b = json.loads(run_odrt("bench", e, "--iterations", "100", "--warmup", "10", "--streams", "2", "--json", timeout=300).stdout)
    assert b["streams"] == 2 and b["streams_throughput_ips"] > b["throughput_ips"] > 0, b


def test_frames_of_changing_sizes(engines, images, tmp_path):
    """the graph is captured again when the frame size changes: the same photos, in another order"""
    e = engines("handtrack", "--device", "cuda")
    a = detect(e, images, tmp_path)
    b = detect(e, images[::-1], tmp_path)[::-1]
    for x, y in zip(a, b):
        assert x == y


@pytest.mark.parametrize("prec", ["fp32", pytest.param("fp16", marks=pytest.mark.xfail(
    reason="the random-weight EfficientDet fixture is not fp16-safe: on the CPU, rounding every op's output to fp16 "
           "loses 21% of its detections >= 0.5 and rounding one early tensor 2% (bench/fp16_sensitivity.py)",
    strict=False))])
def test_efficientdet(prec, engines, images, tmp_path):
    """EfficientDet-D0 (keep-aspect resize + pad, clip window, BiFPN) on the GPU against the original
    export run by onnxruntime, every photo at its own size"""
    import onnxruntime as ort
    from PIL import Image
    s = ort.InferenceSession(ED, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    got = detect(engines("efficientdet_d0", "--device", "cuda", "--precision", prec), images, tmp_path)
    n_ref = n_miss = 0
    for img, g in zip(images, got):
        r = dict(zip(names, s.run(None, {"input_tensor": np.array(Image.open(img).convert("RGB"))[None]})))
        ref = [(int(r["detection_classes"][0, i]), float(r["detection_scores"][0, i]), r["detection_boxes"][0, i].tolist())
               for i in range(int(r["num_detections"][0]))]
        if prec == "fp32":
            assert not missing(ref, g, 0.05, 0.99), (img, missing(ref, g, 0.05, 0.99)[:3])
            assert not missing(g, ref, 0.05, 0.99), (img, missing(g, ref, 0.05, 0.99)[:3])
        else:
            n_ref += sum(d[1] >= 0.3 for d in ref)
            n_miss += len(missing(ref, g, 0.3, 0.9))
            assert not missing(ref, g, 0.5, 0.9), (img, missing(ref, g, 0.5, 0.9))
    assert n_miss <= 0.02 * n_ref, (n_miss, n_ref)
