"""TF.js graph models read directly (no tf2onnx, no TensorFlow in odrt): handtrack and handtrack640.

References: TensorFlow running the same graph (the GraphDef rebuilt from the JSON and the shards by
the fixture script's own reader, tools/fixtures/make_handtrack_onnx.py), and the tf2onnx route's
model for `convert`. Corrupt copies of the files are refused with one line naming the problem."""
import json
import os
import shutil
import sys

import numpy as np
import pytest

from conftest import ROOT, SHARED, load_rgb, missing, run_odrt

sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))

MODELS = {
    "handtrack": (os.path.join(SHARED, "models", "handtrack", "handtrack.json"), os.path.join(ROOT, "models", "handtrack", "handtrack.onnx")),
    "handtrack640": (os.path.join(SHARED, "models", "handtrack640", "model.json"), os.path.join(ROOT, ".cache", "models", "handtrack640.onnx")),
}
SUBSET = os.environ.get("ODRT_TEST_SUBSET") == "1"


def photos(images):
    return images[:2] if SUBSET else images


_tf_cache = {}


def tf_model(name):
    """a callable: uint8 [1,H,W,3] -> {TF OD API output key: array}, TensorFlow running the TF.js graph"""
    if name in _tf_cache:
        return _tf_cache[name]
    import make_handtrack_onnx as mh
    import tensorflow as tf
    np.product = np.prod  # tf2onnx 1.17's TF.js weight reader still calls the alias numpy 2 removed
    path = MODELS[name][0]
    with open(path) as f:
        model = json.load(f)
    _, in_names, out_names = mh.patch_tfjs(model)
    gd = mh.tfjs_to_graphdef(model, os.path.dirname(path))
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    sess = tf.compat.v1.Session(graph=g)

    def run(x):
        outs = sess.run([t for t, _ in out_names], {in_names[0]: x})
        return {k: v for (_, k), v in zip(out_names, outs)}
    _tf_cache[name] = run
    return run


def dets(boxes, scores, classes, n):
    # rounded: the TF.js converter stored the graph's class-id table as uint8-quantised floats (2 is
    # 1.988 in TensorFlow's own output); the engine computes the ids
    return [(int(round(float(classes[i]))), float(scores[i]), [float(v) for v in boxes[i]]) for i in range(int(n))]


@pytest.mark.parametrize("name", list(MODELS))
def test_run_matches_tensorflow(name, images, tmp_path):
    tf_run = tf_model(name)
    for img in photos(images):
        x = load_rgb(img)
        np.save(tmp_path / "x.npy", x)
        run_odrt("run", MODELS[name][0], "--input", "input_tensor=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path / "o")
        got = {o["name"]: np.load(tmp_path / "o" / o["file"]) for o in json.loads((tmp_path / "o" / "outputs.json").read_text())["outputs"]}
        ref = tf_run(x)
        assert sorted(got) == sorted(ref)
        for k in ("raw_detection_boxes", "raw_detection_scores"):
            assert got[k].shape == ref[k].shape, k
            np.testing.assert_allclose(got[k], ref[k], atol=1e-4, rtol=0, err_msg="%s %s" % (img, k))
        a = dets(got["detection_boxes"][0], got["detection_scores"][0], got["detection_classes"][0], got["num_detections"][0])
        b = dets(ref["detection_boxes"][0], ref["detection_scores"][0], ref["detection_classes"][0], ref["num_detections"][0])
        assert len([d for d in b if d[1] >= 0.05]) > 0, img
        assert not missing(a, b) and not missing(b, a), img


@pytest.mark.parametrize("name", list(MODELS))
def test_build_detections_match_tensorflow(name, images, tmp_path):
    tf_run = tf_model(name)
    eng = tmp_path / "m.odrt"
    run_odrt("build", MODELS[name][0], "-o", eng)
    imgs = photos(images)
    run_odrt("detect", eng, *imgs, "--threshold", "0.05", "--json", tmp_path / "d.json")
    got = {os.path.basename(i["file"]): i["detections"] for i in json.loads((tmp_path / "d.json").read_text())["images"]}
    for img in imgs:
        ref = tf_run(load_rgb(img))
        b = dets(ref["detection_boxes"][0], ref["detection_scores"][0], ref["detection_classes"][0], ref["num_detections"][0])
        a = [(d["class_id"], d["score"], d["box_normalized"]) for d in got[os.path.basename(img)]]
        assert any(d[1] >= 0.05 for d in b), img
        assert not missing(a, b), (img, missing(a, b))
        assert not missing(b, a), (img, missing(b, a))


@pytest.mark.parametrize("name", list(MODELS))
def test_convert_equals_the_tf2onnx_route(name, images, tmp_path):
    import onnxruntime as ort
    src, via_tf2onnx = MODELS[name]
    if not os.path.exists(via_tf2onnx):
        pytest.fail("%s missing: run tools/setup.sh" % via_tf2onnx)
    run_odrt("convert", src, "-o", tmp_path / "a.onnx", "--target", "onnx")
    run_odrt("convert", via_tf2onnx, "-o", tmp_path / "b.onnx", "--target", "onnx")
    sa = ort.InferenceSession(str(tmp_path / "a.onnx"), providers=["CPUExecutionProvider"])
    sb = ort.InferenceSession(str(tmp_path / "b.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in sa.get_outputs()] == [o.name for o in sb.get_outputs()]
    shape = sa.get_inputs()[0].shape
    assert shape == sb.get_inputs()[0].shape
    from PIL import Image
    for img in photos(images):
        im = Image.open(img).convert("RGB")
        if isinstance(shape[1], int):
            im = im.resize((shape[2], shape[1]), Image.BILINEAR)
        x = np.array(im)[None]
        ra, rb = sa.run(None, {sa.get_inputs()[0].name: x}), sb.run(None, {sb.get_inputs()[0].name: x})
        for o, u, v in zip(sa.get_outputs(), ra, rb):
            np.testing.assert_allclose(u, v, atol=1e-5, rtol=0, err_msg="%s %s" % (img, o.name))


# ---- corrupt files ----
def copy_model(tmp_path):
    src = os.path.dirname(MODELS["handtrack"][0])
    dst = tmp_path / "m"
    shutil.copytree(src, dst)
    os.chmod(dst, 0o755)
    for f in os.listdir(dst):
        os.chmod(dst / f, 0o644)
    return dst / "handtrack.json", dst / "handtrack.bin"


def edit_json(path, fn):
    m = json.loads(path.read_text())
    fn(m)
    path.write_text(json.dumps(m))


def node(m, op):
    return next(n for n in m["modelTopology"]["node"] if n["op"] == op)


def cycle(m):
    nodes = m["modelTopology"]["node"]
    a = next(n for n in nodes if n["op"] == "Sigmoid")
    b = next(n for n in nodes if n["op"] == "ConcatV2" and a["input"][0] == n["name"])
    b["input"][0] = a["name"]  # concat_1 <- convert_scores <- concat_1


CASES = {
    "truncated_json": (lambda j, b: j.write_bytes(j.read_bytes()[:1000]), "not valid JSON"),
    "short_shard": (lambda j, b: b.write_bytes(b.read_bytes()[:-7]), "past the end of the shards"),
    "long_shard": (lambda j, b: b.write_bytes(b.read_bytes() + b"\0" * 8), "covers"),
    "missing_shard": (lambda j, b: os.remove(b), "weights shard"),
    "path_outside": (lambda j, b: edit_json(j, lambda m: m["weightsManifest"][0].update(paths=["../../etc/passwd"])), "inside the model's folder"),
    "unknown_op": (lambda j, b: edit_json(j, lambda m: node(m, "Sigmoid").update(op="NoSuchOp")), "NoSuchOp"),
    "cycle": (lambda j, b: edit_json(j, cycle), "cycle"),
    "duplicate_name": (lambda j, b: edit_json(j, lambda m: m["modelTopology"]["node"].append(dict(node(m, "Sigmoid")))), "two nodes are named"),
    "bad_base64": (lambda j, b: edit_json(j, lambda m: node(m, "_FusedConv2D")["attr"]["padding"].update(s="%%%")), "base64"),
    "dangling_input": (lambda j, b: edit_json(j, lambda m: node(m, "Sigmoid").update(input=["nowhere"])), "no producer"),
    "weight_dtype": (lambda j, b: edit_json(j, lambda m: m["weightsManifest"][0]["weights"][0].update(dtype="complex64")), "complex64"),
    "not_a_graph_model": (lambda j, b: edit_json(j, lambda m: m.update(format="layers-model")), "layers-model"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_corrupt_tfjs_is_refused(case, tmp_path):
    j, b = copy_model(tmp_path)
    mutate, words = CASES[case]
    mutate(j, b)
    for verb in (["inspect", j], ["build", j, "-o", tmp_path / "e.odrt"]):
        p = run_odrt(*verb, check=False)
        assert p.returncode == 1, (case, p.returncode, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (case, p.stderr)
    assert not os.path.exists(tmp_path / "e.odrt")
