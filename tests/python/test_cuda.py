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


def ort_detections(images):
    """the original EfficientDet export under onnxruntime, every photo at its own size"""
    import onnxruntime as ort
    from PIL import Image
    s = ort.InferenceSession(ED, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    out = []
    for img in images:
        r = dict(zip(names, s.run(None, {"input_tensor": np.array(Image.open(img).convert("RGB"))[None]})))
        out.append([(int(r["detection_classes"][0, i]), float(r["detection_scores"][0, i]), r["detection_boxes"][0, i].tolist())
                    for i in range(int(r["num_detections"][0]))])
    return out


def test_efficientdet_fp32(engines, images, tmp_path):
    """EfficientDet-D0 (keep-aspect resize + pad, clip window, BiFPN) on the GPU in fp32 against the
    original export run by onnxruntime: every detection >= 0.05 matched both ways"""
    got = detect(engines("efficientdet_d0", "--device", "cuda"), images, tmp_path)
    n = 0
    for img, ref, g in zip(images, ort_detections(images), got):
        assert not missing(ref, g, 0.05, 0.99), (img, missing(ref, g, 0.05, 0.99)[:3])
        assert not missing(g, ref, 0.05, 0.99), (img, missing(g, ref, 0.05, 0.99)[:3])
        n += sum(d[1] >= 0.05 for d in ref)
    assert n > 0


def test_efficientdet_fp16(engines, images, tmp_path):
    """EfficientDet-D0 in fp16, judged against what fp16 storage itself costs this model: the CPU
    engine with every op's output and every conv's weights rounded to fp16 (ODRT_CPU_HALF=1,
    ODRT_CPU_HALF_WEIGHTS=1, unfused; the CUDA engine keeps depthwise and stem weights wider) is the yardstick. The
    fixture's random weights are not fp16-safe (bench/fp16_sensitivity.py: the emulation itself
    loses a fifth of the detections >= 0.5), so the fp16 criteria of the other models cannot hold;
    the CUDA engine may miss no more than the emulation misses, plus 2 detections or 3% of the
    reference's (its tensor-core products round differently from the emulation's)."""
    ref = ort_detections(images)
    got = detect(engines("efficientdet_d0", "--device", "cuda", "--precision", "fp16"), images, tmp_path)
    cpu = engines("efficientdet_d0")
    out = tmp_path / "emul.json"
    subprocess.run([odrt_bin(), "detect", cpu, *images, "--json", out, "--threshold", "0"], check=True, capture_output=True,
                   timeout=900, env={**os.environ, "ODRT_CPU_HALF": "1", "ODRT_CPU_HALF_WEIGHTS": "1", "ODRT_NO_FUSE": "1"})
    emul = [[(d["class_id"], d["score"], d["box_normalized"]) for d in r["detections"]] for r in json.loads(out.read_text())["images"]]
    n3 = sum(sum(d[1] >= 0.3 for d in r) for r in ref)
    n5 = sum(sum(d[1] >= 0.5 for d in r) for r in ref)
    m3 = {k: sum(len(missing(r, x, 0.3, 0.9)) for r, x in zip(ref, v)) for k, v in (("cuda", got), ("emulation", emul))}
    m5 = {k: sum(len(missing(r, x, 0.5, 0.9)) for r, x in zip(ref, v)) for k, v in (("cuda", got), ("emulation", emul))}
    assert n3 > 0 and n5 > 0, (n3, n5)
    assert m3["emulation"] < n3, "the yardstick itself lost every detection: the emulation did not run as intended"
    print("EfficientDet-D0 fp16: >=0.3 %d, missing cuda %d / emulation %d; >=0.5 %d, missing cuda %d / emulation %d" %
          (n3, m3["cuda"], m3["emulation"], n5, m5["cuda"], m5["emulation"]))
    assert m3["cuda"] <= m3["emulation"] + max(2, 0.03 * n3), (m3, n3)
    assert m5["cuda"] <= m5["emulation"] + max(2, 0.03 * n5), (m5, n5)


def test_efficientdet_coco_fp16(engines, images, tmp_path):
    """The TF OD API's own EfficientDet-D0 export (90 classes, the family fixture of
    tools/fixtures; skipped without it), whose calibrated random weights take fp16 well: the CPU
    engine with every op's output and conv weight rounded to fp16 misses 3 of its 437 fp32
    detections >= 0.3 and 1 of 295 >= 0.5. The CUDA fp16 engine, against the CPU fp32 engine, may
    miss no more than that emulation misses plus max(2, 2%) (at IoU 0.9), so a half kernel
    worse than fp16 arithmetic fails here, where the shared D0 fixture's yardstick (which loses
    most of its detections to fp16 itself) cannot tell."""
    tfod = os.environ.get("ODRT_TFOD_DIR", os.path.join(ROOT, ".cache", "tfod"))
    model = os.path.join(tfod, "efficientdet_d0_512_coco", "model.onnx")
    if not os.path.exists(model):
        pytest.skip("no efficientdet_d0_512_coco fixture (tools/fixtures/tfod_fixtures.sh)")
    MODELS["efficientdet_coco"] = model
    ref = detect(engines("efficientdet_coco"), images, tmp_path)
    got = detect(engines("efficientdet_coco", "--device", "cuda", "--precision", "fp16"), images, tmp_path)
    out = tmp_path / "emul.json"
    subprocess.run([odrt_bin(), "detect", engines("efficientdet_coco"), *images, "--json", out, "--threshold", "0"], check=True,
                   capture_output=True, timeout=900,
                   env={**os.environ, "ODRT_CPU_HALF": "1", "ODRT_CPU_HALF_WEIGHTS": "1", "ODRT_NO_FUSE": "1"})
    emul = [[(d["class_id"], d["score"], d["box_normalized"]) for d in r["detections"]] for r in json.loads(out.read_text())["images"]]
    for thr in (0.3, 0.5):
        n = sum(sum(d[1] >= thr for d in r) for r in ref)
        m = {k: sum(len(missing(r, x, thr, 0.9)) for r, x in zip(ref, v)) for k, v in (("cuda", got), ("emulation", emul))}
        print("EfficientDet-D0 COCO fp16 >= %.1f: %d, missing cuda %d / emulation %d" % (thr, n, m["cuda"], m["emulation"]))
        assert n > 0 and m["cuda"] <= m["emulation"] + max(2, 0.02 * n), (thr, m, n)
