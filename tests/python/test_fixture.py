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
