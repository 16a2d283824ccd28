"""The bundled handtrack.onnx is what tools/fixtures/make_handtrack_onnx.py makes from ../shared:
regenerate it with tf2onnx and compare graph structure and onnxruntime outputs."""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from conftest import MODEL, ROOT, SHARED, load_rgb

SCRIPT = os.path.join(ROOT, "tools", "fixtures", "make_handtrack_onnx.py")


def test_handtrack_regenerates(tmp_path, images):
    src = os.path.join(SHARED, "models", "handtrack", "handtrack.json")
    if not os.path.exists(src):
        pytest.skip("shared handtrack model missing")
    out = tmp_path / "handtrack.onnx"
    subprocess.run([sys.executable, SCRIPT, "--src", src, "--output", str(out)], check=True, capture_output=True)
    a, b = onnx.load(MODEL), onnx.load(str(out))
    # tf2onnx does not emit nodes in a fixed order: compare the op multisets
    assert sorted(n.op_type for n in a.graph.node) == sorted(n.op_type for n in b.graph.node)
    assert [o.name for o in a.graph.output] == [o.name for o in b.graph.output]
    sa = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    sb = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = load_rgb(images[0])
    for ra, rb in zip(sa.run(None, {"input_tensor": x}), sb.run(None, {"input_tensor": x})):
        np.testing.assert_array_equal(ra, rb)


@pytest.mark.parametrize("opset", [11, 17])
def test_other_opsets_run_and_convert(tmp_path, images, opset):
    """The same model exported at opset 11 and 17: odrt run equals onnxruntime, and convert's
    efficient and onnx flavours keep the original detections."""
    from test_convert import OUT, resized, unmatched
    src = os.path.join(SHARED, "models", "handtrack", "handtrack.json")
    if not os.path.exists(src):
        pytest.skip("shared handtrack model missing")
    model = tmp_path / ("h%d.onnx" % opset)
    subprocess.run([sys.executable, SCRIPT, "--src", src, "--output", str(model), "--opset", str(opset)], check=True,
                   capture_output=True)
    s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    x = resized(images[2])
    ref = dict(zip(names, s.run(None, {"input_tensor": x})))
    np.save(tmp_path / "x.npy", x)
    from conftest import run_odrt
    run_odrt("run", model, "--input", "input_tensor=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path / "o")
    for k in ("raw_detection_boxes", "raw_detection_scores"):
        np.testing.assert_allclose(np.load(tmp_path / "o" / (k + ".npy")), ref[k], atol=1e-4, rtol=1e-3)
    for flavour in (["--nms", "efficient"], ["--target", "onnx"]):
        out = tmp_path / "c.onnx"
        run_odrt("convert", model, "-o", out, "--class-offset", "1", *flavour)
        assert onnx.load(str(out)).opset_import[0].version == opset
        run_odrt("run", out, "--input", "input_tensor=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path / "c")
        got = {k: np.load(tmp_path / "c" / (k + ".npy")) for k in OUT}
        assert not unmatched(ref, got), (opset, flavour)
