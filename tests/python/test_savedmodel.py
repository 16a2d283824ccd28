"""SavedModel directories read directly (no TensorFlow, no tf2onnx in odrt): every TF OD API family
fixture (tools/fixtures/tfod_fixtures.sh).

References, on shared photos: TensorFlow running the SavedModel itself (raw outputs within 1e-4, or
within 1.5x the distance odrt's executor keeps from onnxruntime on the same export's tf2onnx
conversion; detections matched), for `odrt run` and for the engine; onnxruntime on the tf2onnx
conversion (within 5e-3: its resize coordinates are ONNX's, not TensorFlow's), and `odrt convert`
of the tf2onnx conversion (the same detections). Corrupt copies of a SavedModel's files are refused
with one line."""
import glob
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, SHARED, missing, run_odrt

TFOD = os.environ.get("ODRT_TFOD_DIR", os.path.join(ROOT, ".cache", "tfod"))
SUBSET = os.environ.get("ODRT_TEST_SUBSET") == "1"


def fixtures():
    return sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(TFOD, "*", "DONE")))


def sm_dir(name):
    return os.path.join(TFOD, name, "export", "saved_model")


def photos():
    imgs = sorted(glob.glob(os.path.join(SHARED, "images", "*.jpg")))
    return imgs[:1] if SUBSET else imgs[:2]


def frame(path):
    return np.array(Image.open(path).convert("RGB"))[None]


READ = fixtures()


def odrt_run(model, x, tmp_path, tag):
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / tag
    run_odrt("run", model, "--input", "input_tensor=%s" % (tmp_path / "x.npy"), "--output-dir", out, timeout=900)
    return {o["name"]: np.load(out / o["file"]) for o in json.loads((out / "outputs.json").read_text())["outputs"]}


def cut_floor(a, b, tol):
    """the lowest score compared: with both lists at the export's max_total (100), a detection at
    the cut may trade places with a near-tie (scores within tol) of another class"""
    return max(0.05, max(a[-1][1], b[-1][1]) + tol) if len(a) == len(b) >= 100 else 0.05


def detections(o):
    n = int(o["num_detections"][0])
    return [(int(round(float(o["detection_classes"][0][i]))), float(o["detection_scores"][0][i]),
             [float(v) for v in o["detection_boxes"][0][i]]) for i in range(n)]


@pytest.mark.parametrize("name", READ)
def test_run_matches_tensorflow(name, tmp_path):
    """raw outputs within 1e-4 of TensorFlow running the SavedModel, or within 1.5x the distance odrt's
    executor keeps from onnxruntime on the tf2onnx conversion (deep ResNets: ~1.3e-4); detections
    matched both ways (score >= 0.05: same class, IoU >= 0.99, |score diff| within the same bound).
    onnxruntime on the tf2onnx conversion is held to 5e-3 only: its Resize divides by out / in where
    TensorFlow multiplies by in / out (odrt reads TF's own, resize_coord.h), 1e-3 apart on scores."""
    import onnxruntime as ort
    import tensorflow as tf
    onnx_path = os.path.join(TFOD, name, "model.onnx")
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    sig = tf.saved_model.load(sm_dir(name)).signatures["serving_default"]
    for img in photos():
        x = frame(img)
        got = odrt_run(sm_dir(name), x, tmp_path, "sm")
        own = odrt_run(onnx_path, x, tmp_path, "onnx")
        ref = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x})))
        tfo = {k: v.numpy() for k, v in sig(input_tensor=tf.constant(x)).items()}
        assert sorted(got) == sorted(ref) == sorted(tfo), name
        st = 1e-4
        for k in ("raw_detection_boxes", "raw_detection_scores"):
            if k not in ref:
                continue
            assert got[k].shape == tfo[k].shape, (name, k)
            tol = max(1e-4, 1.5 * float(np.abs(own[k] - ref[k]).max()))
            st = max(st, tol) if k == "raw_detection_scores" else st
            np.testing.assert_allclose(got[k], tfo[k], atol=tol, rtol=0, err_msg="%s %s %s vs TensorFlow" % (name, img, k))
            if "rcnn" not in name:  # a two-stage model's second-stage boxes follow its proposals, which follow the resize
                np.testing.assert_allclose(got[k], ref[k], atol=5e-3, rtol=0, err_msg="%s %s %s vs onnxruntime" % (name, img, k))
        a, b = detections(got), detections(tfo)
        lo = cut_floor(a, b, st)
        assert not missing(a, b, lo, score_tol=st) and not missing(b, a, lo, score_tol=st), (name, img, missing(a, b, lo, score_tol=st))


@pytest.mark.parametrize("name", READ)
def test_engine_matches_tensorflow(name, tmp_path):
    """the engine built from the SavedModel against TensorFlow's own detections (score >= 0.05: same
    class, IoU >= 0.99, scores within 3e-4: the engine's kernels round differently from TensorFlow's
    by up to ~1.7e-4 on the ResNet50 exports)"""
    import tensorflow as tf
    imgs = photos()
    run_odrt("build", sm_dir(name), "-o", tmp_path / "sm.odrt", timeout=900)
    run_odrt("detect", tmp_path / "sm.odrt", *imgs, "--threshold", "0.05", "--json", tmp_path / "sm.json", timeout=900)
    got = {os.path.basename(i["file"]): [(d["class_id"], d["score"], d["box_normalized"]) for d in i["detections"]]
           for i in json.loads((tmp_path / "sm.json").read_text())["images"]}
    sig = tf.saved_model.load(sm_dir(name)).signatures["serving_default"]
    n = 0
    for img in imgs:
        ref = detections({k: v.numpy() for k, v in sig(input_tensor=tf.constant(frame(img))).items()})
        a = got[os.path.basename(img)]
        n += sum(d[1] >= 0.05 for d in ref)
        st = 3e-4
        lo = cut_floor(a, ref, st)
        assert not missing(a, ref, lo, score_tol=st) and not missing(ref, a, lo, score_tol=st), (name, img, missing(a, ref, lo, score_tol=st), missing(ref, a, lo, score_tol=st))
    assert n > 0, name


def converted_dets(r):
    k = int(np.asarray(r["num_detections"]).reshape(-1)[0])
    return [(int(c), float(s), [float(v) for v in b]) for c, s, b in
            zip(r["detection_classes"].reshape(-1), r["detection_scores"].reshape(-1), r["detection_boxes"].reshape(-1, 4))][:k]


@pytest.mark.parametrize("name", READ)
def test_convert_equals_the_tf2onnx_route(name, tmp_path):
    """`odrt convert` (TensorRT-ready ONNX, ONNX NMS) of the SavedModel and of the tf2onnx conversion,
    both run by onnxruntime: the same detections (scores within 3e-4, as the engines)"""
    import onnxruntime as ort
    outs = {}
    for tag, src in (("sm", sm_dir(name)), ("onnx", os.path.join(TFOD, name, "model.onnx"))):
        run_odrt("convert", src, "-o", tmp_path / (tag + ".onnx"), "--target", "onnx", timeout=900)
        outs[tag] = ort.InferenceSession(str(tmp_path / (tag + ".onnx")), providers=["CPUExecutionProvider"])
    a_s, b_s = outs["sm"], outs["onnx"]
    assert [o.name for o in a_s.get_outputs()] == [o.name for o in b_s.get_outputs()]
    assert a_s.get_inputs()[0].shape == b_s.get_inputs()[0].shape
    shape = a_s.get_inputs()[0].shape
    n = 0
    for img in photos():
        im = Image.open(img).convert("RGB")
        if isinstance(shape[1], int):
            im = im.resize((shape[2], shape[1]), Image.BILINEAR)
        x = np.array(im)[None]
        if a_s.get_inputs()[0].type == "tensor(float)":
            x = x.astype(np.float32)
        ra = dict(zip([o.name for o in a_s.get_outputs()], a_s.run(None, {a_s.get_inputs()[0].name: x})))
        rb = dict(zip([o.name for o in b_s.get_outputs()], b_s.run(None, {b_s.get_inputs()[0].name: x})))
        da, db = converted_dets(ra), converted_dets(rb)
        n += len(db)
        lo = cut_floor(da, db, 3e-4)
        assert not missing(da, db, lo, score_tol=3e-4) and not missing(db, da, lo, score_tol=3e-4), (name, img)
    assert n > 0, name


def copy_sm(tmp_path, name="ssd_mobilenet_v2_320"):
    dst = tmp_path / "sm"
    shutil.copytree(sm_dir(name), dst)
    return dst


def flip(path, at):
    b = bytearray(path.read_bytes())
    b[at] ^= 0x40
    path.write_bytes(bytes(b))


CORRUPT = {
    "truncated_pb": (lambda d: (d / "saved_model.pb").write_bytes((d / "saved_model.pb").read_bytes()[:4096]), "saved_model.pb"),
    "missing_pb": (lambda d: os.remove(d / "saved_model.pb"), "saved_model.pb"),
    "missing_index": (lambda d: os.remove(d / "variables" / "variables.index"), "variables.index"),
    "missing_shard": (lambda d: os.remove(d / "variables" / "variables.data-00000-of-00001"), "variables.data-00000-of-00001"),
    "short_shard": (lambda d: (d / "variables" / "variables.data-00000-of-00001").write_bytes(
        (d / "variables" / "variables.data-00000-of-00001").read_bytes()[:100000]), "past the end of the shard"),
    "flipped_weight": (lambda d: flip(d / "variables" / "variables.data-00000-of-00001", 1 << 20), "crc32c"),
    "flipped_index": (lambda d: flip(d / "variables" / "variables.index", 200), "crc32c"),
    "truncated_index": (lambda d: (d / "variables" / "variables.index").write_bytes((d / "variables" / "variables.index").read_bytes()[:-20]),
                        "variables.index"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_savedmodel_is_refused(case, tmp_path):
    if "ssd_mobilenet_v2_320" not in fixtures():
        pytest.fail("fixture ssd_mobilenet_v2_320 missing: run tools/setup.sh")
    d = copy_sm(tmp_path)
    mutate, words = CORRUPT[case]
    mutate(d)
    p = run_odrt("inspect", d, check=False)
    assert p.returncode == 1, (case, p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], (case, p.stderr)
