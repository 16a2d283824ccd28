"""`odrt convert` on handtrack: each NMS flavour, run by odrt (TensorRT plugins emulated), must give
the detections of the original export run by onnxruntime; the report must agree with what the
onnx package and onnxruntime read from the original graph."""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper
from PIL import Image

from conftest import MODEL, iou, load_rgb, run_odrt

OUT = ["num_detections", "detection_boxes", "detection_scores", "detection_classes"]


def unmatched(ref, got, b=0, min_score=0.05):
    """Original detections (score >= min_score) with no converted detection of the same class,
    IoU >= 0.99 and |score diff| <= 1e-4. handtrack's TF.js-quantised class-id table makes the
    original's ids non-integers (1.988 for 2): they are compared rounded (docs/convert.md)."""
    n = int(np.asarray(got["num_detections"]).reshape(-1)[b])
    miss = []
    for i in range(int(ref["num_detections"][0])):
        s = ref["detection_scores"][0, i]
        if s < min_score:
            continue
        cls, box = round(float(ref["detection_classes"][0, i])), ref["detection_boxes"][0, i]
        if not any(int(round(float(got["detection_classes"][b, j]))) == cls and iou(box, got["detection_boxes"][b, j]) >= 0.99
                   and abs(got["detection_scores"][b, j] - s) <= 1e-4 for j in range(n)):
            miss.append((i, cls, float(s)))
    return miss


@pytest.fixture(scope="module")
def original():
    s = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return lambda x: dict(zip(names, s.run(None, {"input_tensor": x})))


def resized(img, w=320, h=320):
    return np.array(Image.open(img).convert("RGB").resize((w, h), Image.BILINEAR))[None]


def odrt_outputs(model, x, tmp, tag):
    np.save(tmp / ("%s.npy" % tag), x)
    run_odrt("run", model, "--input", "input_tensor=%s" % (tmp / ("%s.npy" % tag)), "--output-dir", tmp / tag)
    return {k: np.load(tmp / tag / ("%s.npy" % k)) for k in OUT}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("convert")
    cache = {}

    def get(*args):
        key = " ".join(args)
        if key not in cache:
            out = d / ("m%d.onnx" % len(cache))
            run_odrt("convert", MODEL, "-o", out, "--class-offset", "1", "--report", str(out) + ".json", *args)
            cache[key] = (out, json.loads(open(str(out) + ".json").read()))
        return cache[key]
    return get


@pytest.mark.parametrize("flavour", [["--nms", "efficient"], ["--nms", "batched"], ["--target", "onnx"]])
def test_flavour_matches_original(flavour, converted, original, images, tmp_path):
    model, rep = converted(*flavour)
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    assert [o.name for o in m.graph.output] == OUT
    for img in images:
        x = resized(img)
        miss = unmatched(original(x), odrt_outputs(model, x, tmp_path, "o"))
        assert not miss, (img, flavour, miss)


def test_onnx_flavour_runs_in_onnxruntime(converted, images, tmp_path):
    model, _ = converted("--target", "onnx")
    s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for img in images:
        x = resized(img)
        ref = dict(zip(OUT, s.run(None, {"input_tensor": x})))
        got = odrt_outputs(model, x, tmp_path, "o")
        assert ref["num_detections"].dtype == got["num_detections"].dtype
        np.testing.assert_array_equal(got["num_detections"], ref["num_detections"])
        np.testing.assert_array_equal(got["detection_classes"], ref["detection_classes"])
        np.testing.assert_allclose(got["detection_boxes"], ref["detection_boxes"], atol=1e-4)
        np.testing.assert_allclose(got["detection_scores"], ref["detection_scores"], atol=1e-4)


def trt_ops(target):
    """the operator names data/tensorrt_onnx_ops.txt lists for a target"""
    from conftest import ROOT
    ops, cur = set(), None
    for line in open(os.path.join(ROOT, "data", "tensorrt_onnx_ops.txt")):
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("target "):
            cur = line.split()[1]
        elif cur == target:
            ops |= set(line.split())
    return ops


def test_trt11_target(converted, original, images, tmp_path):
    """--target trt11: ONNX NonMaxSuppression by default (no plugin), every op in TensorRT 11's parser
    list, the original export's detections under onnxruntime; --nms efficient still on request"""
    model, rep = converted("--target", "trt11")
    m = onnx.load(str(model))
    onnx.checker.check_model(m, full_check=True)
    ops = {n.op_type for n in m.graph.node}
    assert "NonMaxSuppression" in ops and all(n.domain in ("", "ai.onnx") for n in m.graph.node)
    allowed = trt_ops("trt11")
    assert "Swish" in allowed and trt_ops("trt10") < allowed
    assert ops <= allowed, ops - allowed
    s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for img in images:
        x = resized(img)
        got = dict(zip(OUT, s.run(None, {"input_tensor": x})))
        assert not unmatched(original(x), got), img
    plug, _ = converted("--target", "trt11", "--nms", "efficient")
    assert any(n.op_type == "EfficientNMS_TRT" for n in onnx.load(str(plug)).graph.node)
    r = run_odrt("convert", MODEL, "-o", tmp_path / "x.onnx", "--target", "trt12", check=False)
    assert r.returncode != 0 and "(trt7, trt8, trt10, trt11, onnx)" in r.stderr


def test_full_size_input_keeps_the_resize(converted, original, images, tmp_path):
    x = load_rgb(images[0])
    model, rep = converted("--input-shape", "1x%dx%dx3" % (x.shape[1], x.shape[2]))
    assert rep["preprocessing"]["resize"]["kept"] is True
    assert not unmatched(original(x), odrt_outputs(model, x, tmp_path, "full"))


def test_batch_and_layouts(converted, original, images, tmp_path):
    xs = [resized(i) for i in images[:2]]
    refs = [original(x) for x in xs]
    batch = np.concatenate(xs)
    for args in (["--batch", "2"], ["--batch", "dynamic"], ["--batch", "dynamic", "--nms", "batched"]):
        model, rep = converted(*args)
        got = odrt_outputs(model, batch, tmp_path, "b")
        for b in range(2):
            assert not unmatched(refs[b], got, b), (args, b)
    model, _ = converted("--batch", "dynamic")
    got = odrt_outputs(model, xs[1], tmp_path, "b1")  # the same file with batch 1
    assert not unmatched(refs[1], got)
    # NCHW float32 input for TensorRT 7 (opset 11, BatchedNMS)
    model, rep = converted("--target", "trt7", "--input-layout", "nchw")
    assert rep["opset"] == 11 and rep["nms"] == "batched" and rep["input"]["dtype"] == "float32"
    assert onnx.load(str(model)).opset_import[0].version == 11
    got = odrt_outputs(model, xs[0].transpose(0, 3, 1, 2).astype(np.float32), tmp_path, "nchw")
    assert not unmatched(refs[0], got)


@pytest.mark.parametrize("batch", ["2", "dynamic"])
def test_handtrack640_batch(batch, images, tmp_path):
    """the other SSD fixture at batch 2 and dynamic batch: both images' detections"""
    m640 = os.path.join(os.path.dirname(MODEL), "..", "..", ".cache", "models", "handtrack640.onnx")
    if not os.path.exists(m640):
        pytest.fail("%s missing: run tools/setup.sh" % m640)
    s = ort.InferenceSession(m640, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    xs = [resized(i, 640, 640) for i in images[:2]]
    out = tmp_path / "m.onnx"
    run_odrt("convert", m640, "-o", out, "--class-offset", "1", "--batch", batch, timeout=300)
    got = odrt_outputs(out, np.concatenate(xs), tmp_path, "b")
    assert got["detection_boxes"].shape[0] == 2
    for b, x in enumerate(xs):
        ref = dict(zip(names, s.run(None, {"input_tensor": x})))
        assert not unmatched(ref, got, b), (batch, b)


def body_constants():
    """What the onnx package reads from the original's preprocessing Loop body."""
    g = onnx.load(MODEL).graph
    loop = next(n for n in g.node if n.op_type == "Loop")
    body = loop.attribute[0].g
    consts = {t.name: numpy_helper.to_array(t) for t in list(g.initializer) + list(body.initializer)}
    norm = []
    for n in body.node:
        if n.op_type in ("Mul", "Sub", "Add", "Div"):
            c = [consts[i] for i in n.input if i in consts]
            if c and c[0].dtype == np.float32:
                norm.append((n.op_type.lower(), float(c[0].reshape(-1)[0])))
    resize = next(n for n in body.node if n.op_type == "Resize")
    concat = next(n for n in body.node if n.output[0] == resize.input[3])
    size = [int(v) for i in concat.input if i in consts for v in consts[i]]
    return norm, size, resize


def test_report_for_handtrack(converted, tmp_path):
    model, rep = converted()
    g = onnx.load(MODEL).graph
    out_shape = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in g.output}
    assert rep["family"] == "ssd"
    assert rep["anchors"] == out_shape["raw_detection_boxes"][1]
    nms = [n for n in g.node if n.op_type == "NonMaxSuppression"]
    assert rep["classes"] == out_shape["raw_detection_scores"][2] - rep["background_columns"] == len(nms)
    norm, size, resize = body_constants()
    assert [(s["op"], pytest.approx(s["value"][0])) for s in rep["preprocessing"]["normalization"]] == norm
    assert rep["preprocessing"]["resize"]["size"] == size
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in resize.attribute}
    assert rep["preprocessing"]["resize"]["mode"] == attrs["mode"].decode()
    assert rep["input"]["shape"] == [1] + size + [3]
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    assert rep["nms_params"]["iou_threshold"] == pytest.approx(float(inits[nms[0].input[3]]))
    assert rep["nms_params"]["score_threshold"] == pytest.approx(float(inits[nms[0].input[4]]))
    assert rep["nodes"]["before"] > 3 * rep["nodes"]["after"]
    # box-coder scales: probe the decoder sub-graph of the original with onnxruntime
    sub = tmp_path / "decoder.onnx"
    onnx.utils.extract_model(MODEL, str(sub), [rep["box_coder"]["encodings_tensor"]], ["raw_detection_boxes"])
    s = ort.InferenceSession(str(sub), providers=["CPUExecutionProvider"])
    n = rep["anchors"]
    probe = np.zeros((1, n, 4), np.float32)
    b0 = s.run(None, {rep["box_coder"]["encodings_tensor"]: probe})[0].reshape(n, 4)
    ha, ya = b0[:, 2] - b0[:, 0], (b0[:, 0] + b0[:, 2]) / 2
    probe[..., 0] = 1
    b1 = s.run(None, {rep["box_coder"]["encodings_tensor"]: probe})[0].reshape(n, 4)
    y_scale = np.median(ha / ((b1[:, 0] + b1[:, 2]) / 2 - ya))
    probe[..., 0], probe[..., 2] = 0, 1
    b2 = s.run(None, {rep["box_coder"]["encodings_tensor"]: probe})[0].reshape(n, 4)
    h_scale = np.median(1 / np.log((b2[:, 2] - b2[:, 0]) / ha))
    assert rep["box_coder"]["scales"][0] == pytest.approx(y_scale, rel=1e-3)
    assert rep["box_coder"]["scales"][2] == pytest.approx(h_scale, rel=1e-3)


def test_debug_output(converted, tmp_path):
    _, rep = converted()
    name = rep["box_coder"]["scores_tensor"]
    out = tmp_path / "dbg.onnx"
    run_odrt("convert", MODEL, "-o", out, "--debug-output", name)
    assert [o.name for o in onnx.load(str(out)).graph.output] == OUT + [name]


def test_unrecognised_models_fail_clearly_and_write_nothing(tmp_path):
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])
    plain = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                                opset_imports=[helper.make_opsetid("", 13)]), plain)
    out = tmp_path / "out.onnx"
    p = run_odrt("convert", plain, "-o", out, check=False)
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and "convert:" in p.stderr
    assert not out.exists() and not os.path.exists(str(out) + ".odrt-tmp")
    # an export without its NMS settings: say what to pass
    m = onnx.load(MODEL)
    for n in m.graph.node:
        if n.op_type == "NonMaxSuppression":
            n.op_type = "NonMaxSuppressionRenamed"
    broken = tmp_path / "no_nms.onnx"
    onnx.save(m, broken)
    p = run_odrt("convert", broken, "-o", out, check=False)
    assert p.returncode == 1 and "--score-threshold" in p.stderr and not out.exists()
    p = run_odrt("convert", MODEL, "-o", out, "--target", "trt7", "--nms", "efficient", check=False)
    assert p.returncode == 1 and "TensorRT >= 8" in p.stderr and not out.exists()
    p = run_odrt("convert", MODEL, "-o", out, "--input-shape", "1x2x3", check=False)
    assert p.returncode == 2 and not out.exists()


def _onnx_nms_case(model, size, hh, args, n, tmp_path):
    """the original export under onnxruntime, frame by frame, against the converted model (--nms onnx,
    several frames in one run) under onnxruntime and under odrt"""
    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    imgs = sorted(os.path.join(os.path.dirname(MODEL), "..", "..", "..", "shared", "images", f)
                  for f in os.listdir(os.path.join(os.path.dirname(MODEL), "..", "..", "..", "shared", "images")) if f.endswith(".jpg"))
    xs = [resized(i, size, hh) for i in imgs[:n]]
    out = tmp_path / "nms_onnx.onnx"
    run_odrt("convert", model, "-o", out, "--class-offset", "1", "--target", "onnx", *args, timeout=300)
    m = onnx.load(str(out))
    assert "NonMaxSuppression" in {nd.op_type for nd in m.graph.node} and "Loop" not in {nd.op_type for nd in m.graph.node}
    c = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = dict(zip(OUT, c.run(None, {"input_tensor": np.concatenate(xs)})))
    assert got["detection_boxes"].shape[0] == n
    mine = odrt_outputs(out, np.concatenate(xs), tmp_path, "nms_onnx")
    np.testing.assert_array_equal(mine["num_detections"], got["num_detections"])
    np.testing.assert_array_equal(mine["detection_classes"], got["detection_classes"])
    np.testing.assert_allclose(mine["detection_scores"], got["detection_scores"], atol=1e-4)
    total = 0
    for b, x in enumerate(xs):
        ref = dict(zip(names, s.run(None, {"input_tensor": x})))
        total += sum(1 for i in range(int(ref["num_detections"][0])) if ref["detection_scores"][0, i] >= 0.05)
        assert not unmatched(ref, got, b), (args, b)
    assert total > 0


@pytest.mark.parametrize("args", [["--batch", "4"], ["--batch", "dynamic"]])
def test_onnx_nms_at_any_batch(args, tmp_path):
    """--nms onnx (TensorRT's INMSLayer route) at batch 4 and dynamic batch matches the original export"""
    _onnx_nms_case(MODEL, 320, 320, args, 4, tmp_path)


@pytest.mark.parametrize("args", [["--input-shape", "4x360x512x3"], ["--input-shape", "1x360x512x3", "--batch", "dynamic"]])
def test_onnx_nms_at_any_batch_in_a_window(args, tmp_path):
    """EfficientDet (keep-aspect resize: boxes pruned to the image window and renormalised) likewise"""
    d0 = os.path.join(os.path.dirname(MODEL), "..", "..", "..", "shared", "models", "efficientdet_d0", "model.onnx")
    _onnx_nms_case(d0, 512, 360, args, 4, tmp_path)


def test_onnx_nms_at_any_batch_90_classes(tmp_path):
    """a TF OD API export with 90 classes and softmax scores (tools/fixtures/tfod_fixtures.sh)"""
    m = os.path.join(os.path.dirname(MODEL), "..", "..", ".cache", "tfod", "ssd_mobilenet_v1_300_softmax", "model.onnx")
    if os.environ.get("ODRT_NO_TFOD_FIXTURES") == "1" and not os.path.exists(m):
        pytest.skip("TF OD API fixtures not made (ODRT_NO_TFOD_FIXTURES=1)")
    _onnx_nms_case(m, 300, 300, ["--batch", "dynamic"], 4, tmp_path)
