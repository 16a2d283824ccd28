"""EfficientDet-D0 (a TF OD API export: ResizeToRange keep-aspect resize + pad inside an If, EfficientNet
normalisation first, no background column, one NMS node per class) through `odrt convert` and the CPU
engine, against the original export run by onnxruntime. Every detection with score >= 0.05 must be
matched (same class, IoU >= 0.99, |score diff| <= 1e-4) at the model's square size and at each photo's
own size, where TF pads the resized photo and clips/renormalises boxes to the true image window.

Under sanitizers (ODRT_TEST_SUBSET=1, ~10x slower) the portrait photo stands for all."""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from conftest import SHARED, missing as unmatched, run_odrt

MODEL = os.path.join(SHARED, "models", "efficientdet_d0", "model.onnx")
LABELS = os.path.join(SHARED, "models", "efficientdet_d0", "label_map.pbtxt")
OUT = ["num_detections", "detection_boxes", "detection_scores", "detection_classes"]
FLAVOURS = [("--nms", "efficient"), ("--nms", "batched"), ("--target", "onnx")]
SUBSET = os.environ.get("ODRT_TEST_SUBSET") == "1"


def dets(out, b=0):
    n = int(np.asarray(out["num_detections"]).reshape(out["num_detections"].shape[0], -1)[b][0])
    return [(int(round(float(out["detection_classes"][b, i]))), float(out["detection_scores"][b, i]),
             [float(v) for v in out["detection_boxes"][b, i]]) for i in range(n)]


def assert_parity(ref, got, what):
    r, g = dets(ref), got
    assert sum(d[1] >= 0.05 for d in r) >= 5, what  # the photo does give detections to compare
    assert not unmatched(r, g), (what, "missing", unmatched(r, g)[:3])
    assert not unmatched(g, r), (what, "extra", unmatched(g, r)[:3])


@pytest.fixture(scope="module")
def photos(images):
    # the shared photos are landscape; a portrait COCO photo takes the If's other branch
    portrait = os.path.join(SHARED, "coco", "images", "000000404249.jpg")
    ps = images + ([portrait] if os.path.exists(portrait) else [])
    return ps[-1:] if SUBSET else ps


@pytest.fixture(scope="module")
def original():
    s = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    cache = {}

    def run(x):
        key = (x.shape, x.tobytes()[:4096], int(x.sum()))
        if key not in cache:
            cache[key] = dict(zip(names, s.run(None, {"input_tensor": x})))
        return cache[key]
    return run


def rgb(path, size=None):
    im = Image.open(path).convert("RGB")
    return np.array(im.resize(size, Image.BILINEAR) if size else im)[None]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("convert")
    cache = {}

    def get(*args):
        if args not in cache:
            out = d / ("m%d.onnx" % len(cache))
            run_odrt("convert", MODEL, "-o", out, "--class-offset", "1", "--report", str(out) + ".json", *args, timeout=300)
            cache[args] = (out, json.loads(open(str(out) + ".json").read()))
        return cache[args]
    return get


def odrt_run(model, x, tmp, tag="x"):
    np.save(tmp / ("%s.npy" % tag), x)
    run_odrt("run", model, "--input", "input_tensor=%s" % (tmp / ("%s.npy" % tag)), "--output-dir", tmp / tag, timeout=300)
    return {k: np.load(tmp / tag / ("%s.npy" % k)) for k in OUT}


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: f[1])
def test_square_input(flavour, converted, original, photos, tmp_path):
    model, rep = converted(*flavour)
    assert rep["input"]["shape"] == [1, 512, 512, 3]
    assert rep["nms_params"]["boxes_renormalised_to_window"] is False
    for p in photos:
        x = rgb(p, (512, 512))
        assert_parity(original(x), dets(odrt_run(model, x, tmp_path)), (p, flavour))


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: f[1])
def test_photo_at_its_own_size(flavour, converted, original, photos, tmp_path):
    for p in photos:
        x = rgb(p)
        h, w = x.shape[1:3]
        model, rep = converted(*flavour, "--input-shape", "1x%dx%dx3" % (h, w))
        rs = rep["preprocessing"]["resize"]
        assert rs["rule"] == "keep_aspect_ratio_then_pad" and rs["kept"] is True
        s = min(512 / h, 512 / w)
        assert rs["window_for_input"] == [round(h * s), round(w * s)]
        assert_parity(original(x), dets(odrt_run(model, x, tmp_path)), (p, flavour))


def test_onnx_flavour_in_onnxruntime(converted, original, photos):
    for p in photos[:2]:
        for x in (rgb(p, (512, 512)), rgb(p)):
            h, w = x.shape[1:3]
            model, _ = converted("--target", "onnx", "--input-shape", "1x%dx%dx3" % (h, w))
            s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
            got = dict(zip(OUT, s.run(None, {"input_tensor": x})))
            assert_parity(original(x), dets(got), (p, x.shape))


@pytest.mark.parametrize("batch", ["2", "dynamic"])
def test_batch(batch, converted, original, photos, tmp_path):
    model, rep = converted("--batch", batch)
    assert rep["input"]["shape"][0] == (2 if batch == "2" else "batch")
    xs = [rgb(p, (512, 512)) for p in (photos[0], photos[-1])]
    got = odrt_run(model, np.concatenate(xs), tmp_path)
    assert got["detection_boxes"].shape[0] == 2
    for b, x in enumerate(xs):
        assert_parity(original(x), dets(got, b), (batch, b))


def test_report_reads_the_graph(converted):
    _, rep = converted("--target", "onnx")
    g = onnx.load(MODEL).graph
    raw_scores = next(o for o in g.output if o.name == "raw_detection_scores")
    n_cls = raw_scores.type.tensor_type.shape.dim[2].dim_value
    assert rep["family"] == "efficientdet" and rep["classes"] == n_cls == 6 and rep["background_columns"] == 0
    assert rep["score_activation"] == "sigmoid"
    # NMS settings: the constant inputs of the export's own NonMaxSuppression nodes
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    consts = {n.output[0]: onnx.numpy_helper.to_array(n.attribute[0].t) for n in g.node if n.op_type == "Constant"}
    nms = [n for n in g.node if n.op_type == "NonMaxSuppression"]
    assert rep["nms_params"]["original_nms_nodes"] == len(nms) == n_cls

    def const(name):
        return (inits.get(name) if name in inits else consts[name]).reshape(-1)[0]
    assert rep["nms_params"]["max_per_class"] == int(const(nms[0].input[2]))
    assert rep["nms_params"]["iou_threshold"] == pytest.approx(float(const(nms[0].input[3])))
    assert rep["nms_params"]["score_threshold"] == pytest.approx(float(const(nms[0].input[4])))
    pre = rep["preprocessing"]
    assert pre["resize"]["normalization_steps_before"] == len(pre["normalization"]) == 3
    assert pre["resize"]["fit"] == [512, 512] and pre["resize"]["pad_value"] == 0
    assert pre["true_image_shape_output"] is True
    info = json.loads(run_odrt("inspect", MODEL, "--json").stdout)["tf_od_api"]
    assert info["family"] == "efficientdet" and info["classes"] == n_cls
    assert info["analysis"]["preprocessing"]["resize"]["rule"] == "keep_aspect_ratio_then_pad"


@pytest.mark.parametrize("batch", [1, 2])
def test_engine_at_each_photos_size(batch, original, photos, tmp_path):
    e = tmp_path / "ed.odrt"
    run_odrt("build", MODEL, "-o", e, "--labels", LABELS, "--batch", batch, timeout=300)
    out = tmp_path / "det.json"
    run_odrt("detect", e, *photos, "--json", out, "--threshold", "0", timeout=600)
    res = json.loads(out.read_text())["images"]
    assert [r["file"] for r in res] == photos
    for p, r in zip(photos, res):
        assert {d["label"] for d in r["detections"]} <= {"class_%d" % i for i in range(1, 7)}
        got = [(d["class_id"], d["score"], d["box_normalized"]) for d in r["detections"]]
        assert_parity(original(rgb(p)), got, (p, batch))
