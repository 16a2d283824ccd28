"""`odrt run` on the untouched tf2onnx export vs onnxruntime (CPU EP) on every shared image."""
import json
import os

import numpy as np
import onnx
import pytest

from conftest import MODEL, load_rgb, run_odrt


@pytest.mark.parametrize("idx", [0, 1, 2])
def test_run_matches_onnxruntime(tmp_path, images, ort_session, idx):
    if idx >= len(images):
        pytest.skip("fewer shared images")
    x = load_rgb(images[idx])
    np.save(tmp_path / "x.npy", x)
    run_odrt("run", MODEL, "--input", "input_tensor=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path / "out")
    ref = dict(zip([o.name for o in ort_session.get_outputs()], ort_session.run(None, {"input_tensor": x})))
    meta = json.loads((tmp_path / "out" / "outputs.json").read_text())
    assert [o["name"] for o in meta["outputs"]] == list(ref)
    got = {o["name"]: np.load(tmp_path / "out" / o["file"]) for o in meta["outputs"]}
    for k, v in ref.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
    np.testing.assert_allclose(got["raw_detection_boxes"], ref["raw_detection_boxes"], atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(got["raw_detection_scores"], ref["raw_detection_scores"], atol=1e-4, rtol=1e-3)
    np.testing.assert_array_equal(got["num_detections"], ref["num_detections"])
    np.testing.assert_array_equal(got["detection_classes"], ref["detection_classes"])
    np.testing.assert_allclose(got["detection_boxes"], ref["detection_boxes"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(got["detection_scores"], ref["detection_scores"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(got["detection_multiclass_scores"], ref["detection_multiclass_scores"], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(got["detection_anchor_indices"], ref["detection_anchor_indices"])


def identity_model(path):
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("image", TensorProto.UINT8, [1, "h", "w", 3])
    y = helper.make_tensor_value_info("pixels", TensorProto.UINT8, [1, "h", "w", 3])
    g = helper.make_graph([helper.make_node("Identity", ["image"], ["pixels"])], "identity", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def test_image_decode_matches_pil(tmp_path, images):
    """--image decodes JPEG like PIL (libjpeg-turbo, ISLOW IDCT, fancy upsampling)."""
    identity_model(tmp_path / "id.onnx")
    for img in images:
        run_odrt("run", tmp_path / "id.onnx", "--image", "image=%s" % img, "--output-dir", tmp_path / "o")
        got, ref = np.load(tmp_path / "o" / "pixels.npy"), load_rgb(img)
        assert got.shape == ref.shape
        diff = np.abs(got.astype(int) - ref.astype(int))
        assert diff.max() <= 1 and diff.mean() < 0.01, (img, diff.max(), diff.mean())


def test_png_decode(tmp_path, images):
    from PIL import Image
    identity_model(tmp_path / "id.onnx")
    ref = load_rgb(images[0])[0, :64, :80]
    Image.fromarray(ref).save(tmp_path / "p.png")
    run_odrt("run", tmp_path / "id.onnx", "--image", "image=%s" % (tmp_path / "p.png"), "--output-dir", tmp_path / "o")
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "pixels.npy")[0], ref)


def test_wrong_input_dtype_is_rejected(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 32, 32, 3), np.float32))
    p = run_odrt("run", MODEL, "--input", "input_tensor=%s" % (tmp_path / "x.npy"), check=False)
    assert p.returncode == 1 and "must be uint8" in p.stderr and len(p.stderr.strip().splitlines()) == 1
