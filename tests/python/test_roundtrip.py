"""Import -> export through odrt's IR is lossless: onnxruntime gives bit-identical outputs."""
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from conftest import MODEL, load_rgb, run_odrt


def test_resaved_model_is_valid_and_equal(tmp_path):
    out = tmp_path / "rt.onnx"
    run_odrt("inspect", MODEL, "--resave", out)
    a, b = onnx.load(MODEL), onnx.load(str(out))
    onnx.checker.check_model(b, full_check=True)
    assert [(o.domain, o.version) for o in a.opset_import] == [(o.domain, o.version) for o in b.opset_import]
    assert [n.op_type for n in a.graph.node] == [n.op_type for n in b.graph.node]
    assert [list(n.input) for n in a.graph.node] == [list(n.input) for n in b.graph.node]
    assert [n.attribute for n in a.graph.node if n.op_type != "Loop"] == \
           [n.attribute for n in b.graph.node if n.op_type != "Loop"]
    ia = {t.name: numpy_helper.to_array(t) for t in a.graph.initializer}
    ib = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
    assert ia.keys() == ib.keys()
    for k in ia:
        assert ia[k].dtype == ib[k].dtype and np.array_equal(ia[k], ib[k]), k


def test_roundtrip_bit_identical_under_onnxruntime(tmp_path, images):
    out = tmp_path / "rt.onnx"
    run_odrt("inspect", MODEL, "--resave", out)
    sa = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    sb = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for img in images:
        x = load_rgb(img)
        for ra, rb in zip(sa.run(None, {"input_tensor": x}), sb.run(None, {"input_tensor": x})):
            assert ra.dtype == rb.dtype and np.array_equal(ra, rb)
