"""`odrt calibrate` and `odrt convert --precision int8`: a Q/DQ ONNX (int8 convolutions, weights per
output channel, activations calibrated on real photos through the export's preprocessing, a measured
sensitivity pass), checked for its structure, determinism (the calibration file gives the same model as
the photos), the reference executor against onnxruntime on it, the accuracy it keeps (COCO mAP of the
Q/DQ model under onnxruntime with odrt's FP32 engine's detections >= 0.05 as ground truth, on the
shared and COCO photos it was calibrated on: handtrack must keep the INT8 issue's mAP >= 0.92 and AP50
>= 0.97; handtrack640's numbers are printed, docs/convert.md), and its refusals."""
import contextlib
import io
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper
from PIL import Image

from conftest import MODEL, ROOT, SHARED, iou, run_odrt

M640 = os.path.join(ROOT, ".cache", "models", "handtrack640.onnx")
SUBSET = os.environ.get("ODRT_TEST_SUBSET") == "1"  # sanitizer builds: handtrack only


@pytest.fixture(scope="module")
def qdq(calib_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("int8")
    out = d / "handtrack_int8.onnx"
    run_odrt("convert", MODEL, "-o", out, "--target", "onnx", "--precision", "int8", "--calibration", calib_dir,
             "--class-offset", "1", "--report", d / "rep.json", timeout=3000)
    return out, json.load(open(d / "rep.json"))


def test_qdq_structure(qdq):
    path, rep = qdq
    assert rep["precision"] == "int8" and rep["int8"]["method"] == "percentile" and rep["int8"]["images"] == 12
    reasons = {k["reason"].split(":")[0] for k in rep["int8"]["kept_float"]}
    assert {"stem", "head", "measured"} <= reasons, reasons
    assert rep["int8"]["heads_sqnr_db"] >= rep["int8"]["target_heads_sqnr_db"]
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    inits = {t.name: t for t in m.graph.initializer}
    prod = {o: n for n in m.graph.node for o in n.output}
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    q = [n for n in convs if n.input[1] in prod and prod[n.input[1]].op_type == "DequantizeLinear"]
    assert len(q) == rep["int8"]["int8_convs"] > 50 and len(q) + len(rep["int8"]["kept_float"]) == len(convs)
    for n in q:
        dq = prod[n.input[1]]
        w, s, z = (inits[v] for v in dq.input)
        assert w.data_type == onnx.TensorProto.INT8 and z.data_type == onnx.TensorProto.INT8
        assert numpy_helper.to_array(s).shape == (w.dims[0],) and not numpy_helper.to_array(z).any()
        assert [a.i for a in dq.attribute if a.name == "axis"] == [0]
        act = prod[n.input[0]]  # the input activation: Q -> DQ, symmetric int8
        assert act.op_type == "DequantizeLinear" and prod[act.input[0]].op_type == "QuantizeLinear"
        assert inits[act.input[2]].data_type == onnx.TensorProto.INT8 and not numpy_helper.to_array(inits[act.input[2]]).any()
    for t, v in rep["int8"]["tensors"].items():
        assert 0 < v["amax"] <= v["max"] * 1.0001, t


def test_calibration_file_gives_the_same_model(qdq, calib_dir, tmp_path):
    if SUBSET:  # the report's "int8" object is what odrt calibrate writes: one calibration fewer
        (tmp_path / "calib.json").write_text(json.dumps(qdq[1]["int8"]))
    else:
        p = run_odrt("calibrate", MODEL, "--images", calib_dir, "-o", tmp_path / "calib.json", timeout=3000)
        assert "12 images" in p.stdout and "stem" in p.stdout and "measured" in p.stdout
    out = tmp_path / "from_file.onnx"
    run_odrt("convert", MODEL, "-o", out, "--target", "onnx", "--precision", "int8", "--calibration", tmp_path / "calib.json",
             "--class-offset", "1", timeout=600)
    assert out.read_bytes() == qdq[0].read_bytes()


def dets(o, b=0):
    n = int(o["num_detections"].reshape(-1)[b])
    return [(int(o["detection_classes"][b, j]), float(o["detection_scores"][b, j]), list(o["detection_boxes"][b, j])) for j in range(n)]


def test_executor_and_onnxruntime_agree_on_the_qdq_model(qdq, images, tmp_path):
    """the Q/DQ model's own semantics: odrt's reference executor against onnxruntime running each
    QuantizeLinear / DequantizeLinear / Conv as written (graph optimisations off: no fused integer
    kernels, whose requantisation is a different computation). Float sums in another order flip a
    few roundings to the next quantum, which then travel through the network: every detection >= 0.5
    of one is in the other (same class, IoU >= 0.9, scores within 0.05)"""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(str(qdq[0]), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    for i, img in enumerate(images):
        x = np.array(Image.open(img).convert("RGB").resize((320, 320), Image.BILINEAR))[None]
        a = dets(dict(zip(names, s.run(None, {"input_tensor": x}))))
        np.save(tmp_path / "x.npy", x)
        run_odrt("run", qdq[0], "--input", "input_tensor=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path / "o")
        b = dets({k: np.load(tmp_path / "o" / ("%s.npy" % k)) for k in names})
        for p, q in ((a, b), (b, a)):
            for d in p:
                if d[1] >= 0.5:
                    assert any(e[0] == d[0] and iou(d[2], e[2]) >= 0.9 and abs(e[1] - d[1]) <= 0.05 for e in q), (img, d)


def coco_map(ref, got, size):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt = {"images": [], "annotations": [], "categories": []}
    dt, cats = [], set()
    for i, (r, g) in enumerate(zip(ref, got)):
        gt["images"].append({"id": i + 1, "width": size, "height": size})
        for c, s, b in r:
            if s >= 0.05:
                y0, x0, y1, x1 = [v * size for v in b]
                gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i + 1, "category_id": c,
                                          "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0})
                cats.add(c)
        for c, s, b in g:
            y0, x0, y1, x1 = [v * size for v in b]
            dt.append({"image_id": i + 1, "category_id": c, "bbox": [x0, y0, x1 - x0, y1 - y0], "score": s})
            cats.add(c)
    gt["categories"] = [{"id": c} for c in sorted(cats)]
    with contextlib.redirect_stdout(io.StringIO()):
        G = COCO()
        G.dataset = gt
        G.createIndex()
        E = COCOeval(G, G.loadRes(dt), "bbox")
        E.evaluate(), E.accumulate(), E.summarize()
    return E.stats[0], E.stats[1]


@pytest.mark.parametrize("name", ["handtrack"] + ([] if SUBSET else ["handtrack640"]))
def test_int8_accuracy_against_the_fp32_engine(name, qdq, calib_dir, tmp_path):
    """mAP (COCO, 0.5:0.95) and AP50 of the Q/DQ model under onnxruntime with the FP32 engine's
    detections (>= 0.05) as ground truth, on the calibration photos at the network size: handtrack
    keeps the issue's bounds (0.92 / 0.97); handtrack640, which does not yet (docs/convert.md), is
    printed and held above a floor that catches broken quantization"""
    model, size = (MODEL, 320) if name == "handtrack" else (M640, 640)
    if not os.path.exists(model):
        pytest.fail("%s missing: run tools/setup.sh" % model)
    q = qdq[0]
    if name != "handtrack":
        q = tmp_path / "q.onnx"
        run_odrt("convert", model, "-o", q, "--target", "onnx", "--precision", "int8", "--calibration", calib_dir,
                 "--class-offset", "1", timeout=3000)
    run_odrt("build", model, "-o", tmp_path / "e.odrt", timeout=600)
    frames = []
    for i, f in enumerate(sorted(os.listdir(calib_dir))):
        x = np.array(Image.open(calib_dir / f).convert("RGB").resize((size, size), Image.BILINEAR))
        Image.fromarray(x).save(tmp_path / ("f%02d.png" % i))
        frames.append(x)
    run_odrt("detect", tmp_path / "e.odrt", *sorted(tmp_path.glob("f*.png")), "--threshold", "0", "--json", tmp_path / "d.json")
    ref = [[(d["class_id"], d["score"], d["box_normalized"]) for d in im["detections"]] for im in json.load(open(tmp_path / "d.json"))["images"]]
    s = ort.InferenceSession(str(q), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    got = [dets(dict(zip(names, s.run(None, {"input_tensor": x[None]})))) for x in frames]
    ap, ap50 = coco_map(ref, got, size)
    print("%s INT8 Q/DQ (onnxruntime) vs FP32 engine: mAP %.4f, AP50 %.4f" % (name, ap, ap50))
    if name == "handtrack":
        assert ap >= 0.92 and ap50 >= 0.97, (ap, ap50)
    else:
        assert ap > 0.8 and ap50 > 0.9, (ap, ap50)


def test_int8_refusals(calib_dir, tmp_path):
    cases = [(["--precision", "int8"], "needs --calibration"),
             (["--precision", "int8", "--calibration", tmp_path / "nowhere"], "not a folder"),
             (["--precision", "int8", "--calibration", calib_dir, "--calibration-method", "magic"], "unknown --calibration-method 'magic'")]
    (tmp_path / "empty").mkdir()
    cases.append((["--precision", "int8", "--calibration", tmp_path / "empty"], "no JPEG/PNG images"))
    (tmp_path / "other.json").write_text(json.dumps({"tensors": {"not_a_tensor": {"amax": 1.0}}}))
    cases.append((["--precision", "int8", "--calibration", tmp_path / "other.json"], "has no range for tensor"))
    (tmp_path / "junk.json").write_text("{not json")
    cases.append((["--precision", "int8", "--calibration", tmp_path / "junk.json"], "not a calibration file"))
    for args, msg in cases:
        p = run_odrt("convert", MODEL, "-o", tmp_path / "x.onnx", *args, check=False, timeout=3000)
        assert p.returncode == 1 and msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
        assert not (tmp_path / "x.onnx").exists()
