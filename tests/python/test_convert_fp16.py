"""`odrt convert --precision fp16`: a strongly typed FP16 ONNX (the network's convolutions and
activations in float16, box decode and NMS inputs in float32, explicit Casts) that onnxruntime runs,
judged against odrt's FP32 CPU engine with the CUDA engine's fp16 criteria: detections >= 0.3 matched
for >= 98% (same class, IoU >= 0.9), none >= 0.5 missing. EfficientDet, whose fixtures' random
weights do not all take fp16, is judged against what fp16 storage itself costs it (the CPU engine
with every op's output and conv weight rounded to fp16), as the CUDA fp16 test does."""
import json
import os
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from conftest import MODEL, ROOT, SHARED, missing, odrt_bin, run_odrt

M640 = os.path.join(ROOT, ".cache", "models", "handtrack640.onnx")
D0 = os.path.join(SHARED, "models", "efficientdet_d0", "model.onnx")
D0_COCO = os.path.join(os.environ.get("ODRT_TFOD_DIR", os.path.join(ROOT, ".cache", "tfod")), "efficientdet_d0_512_coco", "model.onnx")


def frames(images, size, tmp):
    out = []
    for i, p in enumerate(images):
        x = np.array(Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR))
        q = tmp / ("f%d.png" % i)
        Image.fromarray(x).save(q)
        out.append((q, x))
    return out


def engine_detections(model, fr, tmp, env=None):
    eng = tmp / "fp32.odrt"
    if not eng.exists():
        run_odrt("build", model, "-o", eng, timeout=600)
    out = tmp / "det.json"
    subprocess.run([odrt_bin(), "detect", eng, *[q for q, _ in fr], "--threshold", "0", "--json", out], check=True,
                   capture_output=True, timeout=900, env={**os.environ, **(env or {})})
    return [[(d["class_id"], d["score"], d["box_normalized"]) for d in im["detections"]] for im in json.load(open(out))["images"]]


def fp16_onnx(model, tmp, *args):
    out = tmp / "fp16.onnx"
    run_odrt("convert", model, "-o", out, "--target", "onnx", "--precision", "fp16", "--class-offset", "1",
             "--report", tmp / "rep.json", *args, timeout=600)
    return out, json.load(open(tmp / "rep.json"))


def ort_detections(path, fr):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    res = []
    for _, x in fr:
        o = dict(zip(names, s.run(None, {"input_tensor": x[None]})))
        n = int(o["num_detections"].reshape(-1)[0])
        res.append([(int(o["detection_classes"][0, j]), float(o["detection_scores"][0, j]), list(o["detection_boxes"][0, j]))
                    for j in range(n)])
    return res


def counts(ref, got, thr):
    return sum(sum(d[1] >= thr for d in r) for r in ref), sum(len(missing(r, g, thr, 0.9, None)) for r, g in zip(ref, got))


@pytest.mark.parametrize("target", ["onnx", "trt10", "trt11"])
def test_fp16_onnx_is_strongly_typed(target, tmp_path):
    out = tmp_path / "m.onnx"
    run_odrt("convert", MODEL, "-o", out, "--target", target, "--precision", "fp16", "--report", tmp_path / "r.json")
    rep = json.load(open(tmp_path / "r.json"))
    assert rep["precision"] == "fp16" and rep["fp16_nodes"] > 100
    m = onnx.load(str(out))
    if target == "onnx":
        onnx.checker.check_model(m, full_check=True)
    inits = {t.name: t for t in m.graph.initializer}
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    assert convs and all(inits[n.input[1]].data_type == onnx.TensorProto.FLOAT16 for n in convs)
    # every value's type from onnx's own inference (the plugin's outputs aside): NMS and decode read float32
    typed = onnx.shape_inference.infer_shapes(m, strict_mode=False).graph
    types = {v.name: v.type.tensor_type.elem_type for v in list(typed.value_info) + list(typed.input) + list(typed.output)}
    types.update({t.name: t.data_type for t in m.graph.initializer})
    nms = [n for n in m.graph.node if n.op_type in ("NonMaxSuppression", "EfficientNMS_TRT")]
    assert nms
    for n in nms:
        for v in n.input:
            if v in types and types[v] in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16):
                assert types[v] == onnx.TensorProto.FLOAT, (n.op_type, v)
    casts = [n for n in m.graph.node if n.op_type == "Cast"]
    assert any(a.i == onnx.TensorProto.FLOAT16 for n in casts for a in n.attribute if a.name == "to")
    assert any(a.i == onnx.TensorProto.FLOAT for n in casts for a in n.attribute if a.name == "to")


@pytest.mark.parametrize("name", ["handtrack", "handtrack640"])
def test_fp16_onnx_matches_the_fp32_engine(name, images, tmp_path):
    model, size = (MODEL, 320) if name == "handtrack" else (M640, 640)
    if not os.path.exists(model):
        pytest.fail("%s missing: run tools/setup.sh" % model)
    fr = frames(images, size, tmp_path)
    ref = engine_detections(model, fr, tmp_path)
    got = ort_detections(fp16_onnx(model, tmp_path)[0], fr)
    n3, m3 = counts(ref, got, 0.3)
    n5, m5 = counts(ref, got, 0.5)
    print("%s fp16 ONNX (onnxruntime) vs fp32 engine: >=0.3 %d, missing %d; >=0.5 %d, missing %d" % (name, n3, m3, n5, m5))
    assert n3 > 0 and m3 <= 0.02 * n3 and m5 == 0, (n3, m3, n5, m5)


@pytest.mark.parametrize("which", ["shared", "coco"])
def test_fp16_onnx_efficientdet(which, images, tmp_path):
    model = D0 if which == "shared" else D0_COCO
    if which == "coco" and not os.path.exists(model):
        if os.environ.get("ODRT_NO_TFOD_FIXTURES") == "1":
            pytest.skip("TF OD API fixtures not made (ODRT_NO_TFOD_FIXTURES=1)")
        pytest.fail("%s missing: run tools/setup.sh" % model)
    fr = frames(images, 512, tmp_path)
    ref = engine_detections(model, fr, tmp_path)
    emul = engine_detections(model, fr, tmp_path, {"ODRT_CPU_HALF": "1", "ODRT_CPU_HALF_WEIGHTS": "1", "ODRT_NO_FUSE": "1"})
    got = ort_detections(fp16_onnx(model, tmp_path)[0], fr)
    for thr in (0.3, 0.5):
        n, m = counts(ref, got, thr)
        _, me = counts(ref, emul, thr)
        print("EfficientDet-D0 (%s) fp16 ONNX >= %.1f: %d, missing onnxruntime %d / emulation %d" % (which, thr, n, m, me))
        assert n > 0 and me < n and m <= me + max(2, 0.03 * n), (thr, n, m, me)


def test_fp16_refusals(tmp_path):
    p = run_odrt("convert", MODEL, "-o", tmp_path / "x.onnx", "--precision", "int4", check=False)
    assert p.returncode == 1 and "unknown --precision 'int4'" in p.stderr and not (tmp_path / "x.onnx").exists()
