"""Frozen TensorFlow GraphDefs (.pb) read directly, against TensorFlow running the same bytes:
a TF1-style graph with v1 while frames (handtrack's graph, written by TensorFlow from its TF.js
files), and a TF2 OD API SavedModel export frozen by TensorFlow (convert_variables_to_constants_v2:
inlined functions, control flow lowered to frames). Corrupt .pb files are refused with one line."""
import json
import os
import sys

import numpy as np
import pytest

from conftest import ROOT, SHARED, load_rgb, missing, run_odrt

sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
TFOD = os.environ.get("ODRT_TFOD_DIR", os.path.join(ROOT, ".cache", "tfod"))
SUBSET = os.environ.get("ODRT_TEST_SUBSET") == "1"
TFOD_KEYS = ["detection_anchor_indices", "detection_boxes", "detection_classes", "detection_multiclass_scores",
             "detection_scores", "num_detections", "raw_detection_boxes", "raw_detection_scores"]


def handtrack_graphdef():
    import make_handtrack_onnx as mh
    np.product = np.prod  # tf2onnx 1.17's TF.js weight reader still calls the alias numpy 2 removed
    path = os.path.join(SHARED, "models", "handtrack", "handtrack.json")
    model = json.load(open(path))
    mh.patch_tfjs(model)
    return mh.tfjs_to_graphdef(model, os.path.dirname(path))


def tf2_graphdef():
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    sm = os.path.join(TFOD, "ssd_mobilenet_v2_320", "export", "saved_model")
    if not os.path.isdir(sm):
        pytest.fail("%s missing: run tools/setup.sh" % sm)
    loaded = tf.saved_model.load(sm)  # alive while its variables are frozen
    f = convert_variables_to_constants_v2(loaded.signatures["serving_default"])
    return f.graph.as_graph_def()


@pytest.fixture(scope="module", params=["tf1_frames_handtrack", "tf2_frozen_ssd_mobilenet_v2"])
def frozen(request, tmp_path_factory):
    import tensorflow as tf
    gd = handtrack_graphdef() if request.param.startswith("tf1") else tf2_graphdef()
    path = tmp_path_factory.mktemp("ssd" if request.param.startswith("tf2") else "handtrack") / "model.pb"
    path.write_bytes(gd.SerializeToString())
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    sess = tf.compat.v1.Session(graph=g)
    outs = ["Identity:0"] + ["Identity_%d:0" % k for k in range(1, 8)]

    def run(x):
        return dict(zip(TFOD_KEYS, sess.run(outs, {"input_tensor:0": x})))
    return path, run


def dets(o):
    n = int(o["num_detections"][0])
    return [(int(round(float(o["detection_classes"][0][i]))), float(o["detection_scores"][0][i]),
             [float(v) for v in o["detection_boxes"][0][i]]) for i in range(n)]


def score_tol(path):
    return 1e-4


def floor(a, b, tol=1e-4):
    """the lowest score compared: with both lists full (max_total), a detection at the cut may trade
    places with a near-tie (scores within tol) of another class"""
    full = len(a) == len(b) and len(a) >= 100
    return max(0.05, max(a[-1][1], b[-1][1]) + tol) if full else 0.05


def test_run_matches_tensorflow(frozen, images, tmp_path):
    path, tf_run = frozen
    ort_ref = None
    if "ssd" in path.parent.name:
        import onnxruntime as ort
        sess = ort.InferenceSession(os.path.join(TFOD, "ssd_mobilenet_v2_320", "model.onnx"), providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        ort_ref = lambda x: dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x})))  # noqa: E731
    for img in images[:2] if SUBSET else images:
        x = load_rgb(img)
        np.save(tmp_path / "x.npy", x)
        run_odrt("run", path, "--input", "input_tensor=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path / "o")
        got = {o["name"]: np.load(tmp_path / "o" / o["file"]) for o in json.loads((tmp_path / "o" / "outputs.json").read_text())["outputs"]}
        ref = tf_run(x)
        assert sorted(got) == sorted(ref)
        # onnxruntime on the tf2onnx conversion of the TF2 export resizes with ONNX's coordinates, not
        # TensorFlow's (odrt reads TF's own): 1e-3 apart on scores, so held to 5e-3
        for k in ("raw_detection_boxes", "raw_detection_scores"):
            np.testing.assert_allclose(got[k], ref[k], atol=1e-4, rtol=0, err_msg="%s %s" % (img, k))
            if ort_ref is not None:
                np.testing.assert_allclose(got[k], ort_ref(x)[k], atol=5e-3, rtol=0, err_msg="onnxruntime %s %s" % (img, k))
        a, b = dets(got), dets(ref)
        st = score_tol(path)
        lo = floor(a, b, st)
        assert not missing(a, b, min_score=lo, score_tol=st) and not missing(b, a, min_score=lo, score_tol=st), img


def test_build_detections_match_tensorflow(frozen, images, tmp_path):
    path, tf_run = frozen
    imgs = images[:2] if SUBSET else images
    run_odrt("build", path, "-o", tmp_path / "e.odrt")
    run_odrt("detect", tmp_path / "e.odrt", *imgs, "--threshold", "0.05", "--json", tmp_path / "d.json")
    got = {os.path.basename(i["file"]): i["detections"] for i in json.loads((tmp_path / "d.json").read_text())["images"]}
    n_ref = 0
    for img in imgs:
        b = dets(tf_run(load_rgb(img)))
        a = [(d["class_id"], d["score"], d["box_normalized"]) for d in got[os.path.basename(img)]]
        n_ref += sum(d[1] >= 0.05 for d in b)
        st = score_tol(path)
        lo = floor(a, b, st)
        assert not missing(a, b, min_score=lo, score_tol=st), (img, missing(a, b, min_score=lo, score_tol=st))
        assert not missing(b, a, min_score=lo, score_tol=st), (img, missing(b, a, min_score=lo, score_tol=st))
    assert n_ref > 0


@pytest.mark.parametrize("case", ["truncated", "garbage", "empty", "deep"])
def test_corrupt_graphdef_is_refused(case, tmp_path):
    if case == "deep":  # AttrValue.func.attr[k] = AttrValue ... nested past the reader's bound
        av = b""
        for _ in range(200):
            av = _field(10, _field(2, _field(1, b"k") + _field(2, av)))
        data = _field(1, _field(1, b"n") + _field(2, b"Const") + _field(5, _field(1, b"v") + _field(2, av)))
    else:
        full = handtrack_graphdef().SerializeToString()
        data = {"truncated": full[: len(full) // 2], "garbage": bytes(range(256)) * 64, "empty": b""}[case]
    (tmp_path / "m.pb").write_bytes(data)
    p = run_odrt("inspect", tmp_path / "m.pb", check=False)
    assert p.returncode == 1, (case, p.returncode, p.stderr)
    assert len(p.stderr.strip().splitlines()) == 1 and "m.pb" in p.stderr, (case, p.stderr)


def _field(num, payload):
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


@pytest.mark.parametrize("sign", [1, -1])
def test_functional_while_and_if_match_tensorflow(sign, tmp_path):
    """a TF2 function graph kept with its library (While with cond/body functions, If with branches)"""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def f(x):
        _, acc = tf.while_loop(lambda i, a: i < tf.shape(x)[0], lambda i, a: (i + 1, a * 0.5 + tf.gather(x, i)),
                               [tf.constant(0), tf.zeros([4])])
        return tf.cond(tf.reduce_sum(acc) > 0, lambda: tf.nn.relu(acc) * 2.0, lambda: -acc)
    gd = f.get_concrete_function().graph.as_graph_def()
    assert any(n.op in ("While", "StatelessWhile") for n in gd.node) and len(gd.library.function) >= 3
    (tmp_path / "f.pb").write_bytes(gd.SerializeToString())
    x = (np.random.RandomState(3).randn(5, 4) + sign).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run_odrt("run", tmp_path / "f.pb", "--input", "x=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path / "o")
    out = [o for o in json.loads((tmp_path / "o" / "outputs.json").read_text())["outputs"]]
    assert len(out) == 1
    np.testing.assert_allclose(np.load(tmp_path / "o" / out[0]["file"]), f(x).numpy(), atol=1e-6, rtol=0)
