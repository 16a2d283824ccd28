"""The CPU emulation of EfficientNMS_TRT and BatchedNMS_TRT against a reference built from
onnxruntime's NonMaxSuppression (per class, then all classes sorted by score), and one test for
each documented difference between the plugins' semantics and TF/ONNX NMS (docs/nms-plugins.md)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from conftest import run_odrt


def plugin_model(path, op, inputs, attrs, n_classes_int=True):
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape)) for n, a in inputs]
    outs = [helper.make_tensor_value_info("num", TensorProto.INT32, None),
            helper.make_tensor_value_info("nms_boxes", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("nms_scores", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("nms_classes", TensorProto.INT32 if n_classes_int else TensorProto.FLOAT, None)]
    node = helper.make_node(op, [n for n, _ in inputs], [o.name for o in outs], domain="trt.plugins", **attrs)
    m = helper.make_model(helper.make_graph([node], "g", ins, outs),
                          opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("trt.plugins", 1)], ir_version=9)
    onnx.save(m, path)


def run_plugin(tmp_path, op, inputs, attrs):
    path = tmp_path / "p.onnx"
    plugin_model(path, op, inputs, attrs, op == "EfficientNMS_TRT")
    args = []
    for n, a in inputs:
        np.save(tmp_path / (n + ".npy"), a)
        args += ["--input", "%s=%s" % (n, tmp_path / (n + ".npy"))]
    run_odrt("run", path, *args, "--output-dir", tmp_path / "o")
    return [np.load(tmp_path / "o" / (k + ".npy")) for k in ("num", "nms_boxes", "nms_scores", "nms_classes")]


def onnx_nms_reference(boxes, scores, iou, thr, max_out, per_class=100000):
    """boxes [B,N,4] corners, scores [B,N,C] -> per image (boxes, scores, classes) sorted by score."""
    B, N, C = scores.shape
    g = helper.make_graph(
        [helper.make_node("NonMaxSuppression", ["b", "s", "m", "i", "t"], ["sel"])], "nms",
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [B, N, 4]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, [B, C, N])],
        [helper.make_tensor_value_info("sel", TensorProto.INT64, None)],
        initializer=[helper.make_tensor("m", TensorProto.INT64, [1], [per_class]),
                     helper.make_tensor("i", TensorProto.FLOAT, [1], [iou]),
                     helper.make_tensor("t", TensorProto.FLOAT, [1], [thr])])
    s = ort.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=9).SerializeToString(),
                             providers=["CPUExecutionProvider"])
    sel = s.run(None, {"b": boxes, "s": scores.transpose(0, 2, 1).copy()})[0]
    res = []
    for b in range(B):
        rows = [(scores[b, k, c], k, c) for bb, c, k in sel if bb == b]
        rows.sort(key=lambda r: (-r[0], r[1]))
        rows = rows[:max_out]
        res.append((np.array([boxes[b, k] for _, k, _ in rows]).reshape(-1, 4),
                    np.array([r[0] for r in rows], np.float32), np.array([c for _, _, c in rows])))
    return res


def random_case(seed, B=2, N=300, C=3):
    rng = np.random.default_rng(seed)
    ctr = rng.uniform(0.1, 0.9, (B, N, 2))
    size = rng.uniform(0.05, 0.3, (B, N, 2))
    boxes = np.concatenate([ctr - size / 2, ctr + size / 2], -1).astype(np.float32)
    scores = rng.uniform(0, 1, (B, N, C)).astype(np.float32)
    return boxes, scores


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_efficient_nms_matches_onnx_nms(tmp_path, seed):
    boxes, scores = random_case(seed)
    attrs = dict(score_threshold=0.3, iou_threshold=0.45, max_output_boxes=50, background_class=-1,
                 score_activation=0, class_agnostic=0, box_coding=0)
    num, bx, sc, cl = run_plugin(tmp_path, "EfficientNMS_TRT", [("boxes", boxes), ("scores", scores)], attrs)
    for b, (rb, rs, rc) in enumerate(onnx_nms_reference(boxes, scores, 0.45, 0.3, 50)):
        n = int(num[b, 0])
        assert n == len(rs)
        np.testing.assert_array_equal(cl[b, :n], rc)
        np.testing.assert_allclose(sc[b, :n], rs)
        np.testing.assert_allclose(bx[b, :n], rb)
        assert not bx[b, n:].any() and not sc[b, n:].any() and not cl[b, n:].any()  # zero padding


def test_efficient_nms_fused_decoder_and_sigmoid(tmp_path):
    """box_coding=1 with anchors decodes [y, x, h, w] codes as y*ha+ya, x*wa+xa, ha*exp(h), wa*exp(w);
    score_activation applies the sigmoid to the kept scores (threshold moved to logit space)."""
    rng = np.random.default_rng(7)
    B, N, C = 1, 200, 2
    anchors = np.concatenate([rng.uniform(0.2, 0.8, (1, N, 2)), rng.uniform(0.05, 0.3, (1, N, 2))], -1).astype(np.float32)
    codes = rng.normal(0, 0.3, (B, N, 4)).astype(np.float32)
    logits = rng.normal(0, 2, (B, N, C)).astype(np.float32)
    attrs = dict(score_threshold=0.4, iou_threshold=0.5, max_output_boxes=30, background_class=-1,
                 score_activation=1, class_agnostic=0, box_coding=1)
    num, bx, sc, cl = run_plugin(tmp_path, "EfficientNMS_TRT", [("boxes", codes), ("scores", logits), ("anchors", anchors)], attrs)
    # reference: decode in numpy as the plugin's header states, sigmoid, ONNX NMS
    y = codes[..., 0] * anchors[..., 2] + anchors[..., 0]
    x = codes[..., 1] * anchors[..., 3] + anchors[..., 1]
    h = anchors[..., 2] * np.exp(codes[..., 2])
    w = anchors[..., 3] * np.exp(codes[..., 3])
    dec = np.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], -1).astype(np.float32)
    probs = (1 / (1 + np.exp(-logits))).astype(np.float32)
    rb, rs, rc = onnx_nms_reference(dec, probs, 0.5, 0.4, 30)[0]
    n = int(num[0, 0])
    assert n == len(rs)
    np.testing.assert_array_equal(cl[0, :n], rc)
    np.testing.assert_allclose(sc[0, :n], rs, atol=1e-6)
    np.testing.assert_allclose(bx[0, :n], rb, atol=1e-5)


@pytest.mark.parametrize("seed", [4, 5])
def test_batched_nms_matches_onnx_nms(tmp_path, seed):
    boxes, scores = random_case(seed)
    boxes = np.clip(boxes, 0, 1)  # BatchedNMS clips its outputs (clipBoxes=1); keep inputs inside
    attrs = dict(shareLocation=1, backgroundLabelId=-1, numClasses=3, topK=300, keepTopK=40, scoreThreshold=0.3,
                 iouThreshold=0.45, isNormalized=1, clipBoxes=1)
    num, bx, sc, cl = run_plugin(tmp_path, "BatchedNMS_TRT", [("boxes", boxes[:, :, None, :]), ("scores", scores)], attrs)
    for b, (rb, rs, rc) in enumerate(onnx_nms_reference(boxes, scores, 0.45, 0.3, 40)):
        n = int(num[b, 0])
        assert n == len(rs)
        np.testing.assert_array_equal(cl[b, :n], rc.astype(np.float32))
        np.testing.assert_allclose(sc[b, :n], rs)
        np.testing.assert_allclose(bx[b, :n], rb)
        assert (cl[b, n:] == -1).all() and not sc[b, n:].any()  # padding: class -1, score 0


# ---- documented differences (docs/nms-plugins.md), each shown ----
EFF = dict(iou_threshold=0.5, max_output_boxes=10, background_class=-1, score_activation=0, class_agnostic=0, box_coding=0)
BAT = dict(shareLocation=1, backgroundLabelId=-1, numClasses=1, topK=4096, keepTopK=10, isNormalized=1, clipBoxes=1)


def two_boxes_iou_half():
    # IoU([0,0,1,1], [0,0,1,0.5]) = 0.5 exactly
    boxes = np.array([[[0, 0, 1, 1], [0, 0, 1, 0.5]]], np.float32)
    scores = np.array([[[0.9], [0.8]]], np.float32)
    return boxes, scores


def test_difference_iou_equal_to_threshold(tmp_path):
    boxes, scores = two_boxes_iou_half()
    ref = onnx_nms_reference(boxes, scores, 0.5, 0.1, 10)[0]
    assert len(ref[1]) == 2  # ONNX/TF: suppress only when IoU > threshold
    num = run_plugin(tmp_path, "EfficientNMS_TRT", [("boxes", boxes), ("scores", scores)], dict(EFF, score_threshold=0.1))[0]
    assert int(num[0, 0]) == 1  # EfficientNMS: IoU >= threshold suppresses
    num = run_plugin(tmp_path, "BatchedNMS_TRT", [("boxes", boxes[:, :, None]), ("scores", scores)],
                     dict(BAT, scoreThreshold=0.1, iouThreshold=0.5))[0]
    assert int(num[0, 0]) == 2  # BatchedNMS: IoU > threshold, like TF


def test_difference_score_equal_to_threshold(tmp_path):
    boxes = np.array([[[0, 0, 0.2, 0.2], [0.5, 0.5, 0.9, 0.9]]], np.float32)
    scores = np.array([[[0.9], [0.5]]], np.float32)
    assert len(onnx_nms_reference(boxes, scores, 0.5, 0.5, 10)[0][1]) == 1  # score > threshold
    num = run_plugin(tmp_path, "EfficientNMS_TRT", [("boxes", boxes), ("scores", scores)], dict(EFF, score_threshold=0.5))[0]
    assert int(num[0, 0]) == 2  # EfficientNMS: score >= threshold
    num = run_plugin(tmp_path, "BatchedNMS_TRT", [("boxes", boxes[:, :, None]), ("scores", scores)],
                     dict(BAT, scoreThreshold=0.5, iouThreshold=0.5))[0]
    assert int(num[0, 0]) == 1  # BatchedNMS: score > threshold


def crowd(n_same=5000):
    """n_same copies of one box (all suppress each other) above one distinct, lower-scored box."""
    same = np.tile(np.array([0.1, 0.1, 0.4, 0.4], np.float32), (n_same, 1))
    boxes = np.concatenate([same, [[0.6, 0.6, 0.9, 0.9]]]).astype(np.float32)[None]
    scores = np.concatenate([np.linspace(0.9, 0.5, n_same), [0.4]]).astype(np.float32)[None, :, None]
    return boxes, scores


def test_difference_candidate_caps(tmp_path):
    boxes, scores = crowd()
    assert len(onnx_nms_reference(boxes, scores, 0.5, 0.1, 10)[0][1]) == 2
    # EfficientNMS: only the 4096 best scores enter NMS, so the distinct box never does
    num = run_plugin(tmp_path, "EfficientNMS_TRT", [("boxes", boxes), ("scores", scores)], dict(EFF, score_threshold=0.1))[0]
    assert int(num[0, 0]) == 1
    # BatchedNMS: topK (<= 4096) best per class enter NMS
    num = run_plugin(tmp_path, "BatchedNMS_TRT", [("boxes", boxes[:, :, None]), ("scores", scores)],
                     dict(BAT, scoreThreshold=0.1, iouThreshold=0.5))[0]
    assert int(num[0, 0]) == 1


def test_difference_batched_clips_output_boxes(tmp_path):
    boxes = np.array([[[-0.2, 0.1, 0.5, 1.3]]], np.float32)
    scores = np.array([[[0.9]]], np.float32)
    rb = onnx_nms_reference(boxes, scores, 0.5, 0.1, 10)[0][0]
    np.testing.assert_array_equal(rb[0], boxes[0, 0])  # ONNX NMS returns indices: boxes as given
    _, bx, _, _ = run_plugin(tmp_path, "BatchedNMS_TRT", [("boxes", boxes[:, :, None]), ("scores", scores)],
                             dict(BAT, scoreThreshold=0.1, iouThreshold=0.5))
    np.testing.assert_array_equal(bx[0, 0], np.clip(boxes[0, 0], 0, 1))
    _, bx, _, _ = run_plugin(tmp_path, "EfficientNMS_TRT", [("boxes", boxes), ("scores", scores)], dict(EFF, score_threshold=0.1))
    np.testing.assert_array_equal(bx[0, 0], boxes[0, 0])  # EfficientNMS does not clip (odrt convert adds a Clip)
