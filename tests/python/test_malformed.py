"""Malformed models: exit code 1 and one line naming the problem; never a crash, hang or
sanitizer report (this runs against the ASan+UBSan build too)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, run_odrt

CORPUS_SCRIPT = os.path.join(ROOT, "tests", "malformed", "make_corpus.py")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("malformed")
    subprocess.run([sys.executable, CORPUS_SCRIPT, str(d)], check=True)
    return d, json.loads((d / "cases.json").read_text())


def one_line(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    return len(lines) == 1 and lines[0].startswith("odrt: ")


def test_corpus_cases(corpus):
    d, cases = corpus
    assert len(cases) >= 18
    for name, expect in cases.items():
        if expect.startswith("RUN:"):
            continue
        p = run_odrt("inspect", d / name, check=False, timeout=60)
        if expect == "OK":
            assert p.returncode == 0, (name, p.stderr)
            continue
        assert p.returncode == 1, (name, p.returncode, p.stderr)
        assert one_line(p.stderr), (name, p.stderr)
        assert expect in p.stderr, (name, expect, p.stderr)


def test_unknown_op_fails_at_run(corpus, tmp_path):
    d, cases = corpus
    np.save(tmp_path / "x.npy", np.ones(2, np.float32))
    for name, expect in cases.items():
        if not expect.startswith("RUN:"):
            continue
        p = run_odrt("run", d / name, "--input", "x=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path, check=False)
        assert p.returncode == 1 and one_line(p.stderr) and expect[4:] in p.stderr, (name, p.stderr)
        if "unsupported op" in expect:
            assert "opset 13" in p.stderr and "node" in p.stderr
        assert run_odrt("inspect", d / name, check=False).returncode == 0, name  # inspect still reports it


def test_missing_file_and_bad_usage(tmp_path):
    p = run_odrt("inspect", tmp_path / "nope.onnx", check=False)
    assert p.returncode == 1 and one_line(p.stderr) and "cannot open" in p.stderr
    p = run_odrt("frobnicate", check=False)
    assert p.returncode == 2
    p = run_odrt("run", check=False)
    assert p.returncode == 2


def test_bad_npy_inputs(tmp_path):
    from conftest import MODEL
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'")
    p = run_odrt("run", MODEL, "--input", "input_tensor=%s" % (tmp_path / "bad.npy"), check=False)
    assert p.returncode == 1 and one_line(p.stderr)
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8, 3), np.uint8))
    p = run_odrt("run", MODEL, "--input", "wrong_name=%s" % (tmp_path / "x.npy"), check=False)
    assert p.returncode == 1 and one_line(p.stderr) and "input_tensor" in p.stderr


def test_schema_refusals_and_skipped_fields(tmp_path):
    """odrt's ONNX schema (src/frontend/onnx/odrt_onnx.proto) holds the fields odrt reads: what it
    must not drop silently (model-local functions, training info, sparse initializers) is refused by
    name; fields it does not read (quantization annotations, value_info metadata) are skipped and the
    model still runs as onnxruntime runs it"""
    import onnx
    import onnxruntime as ort
    from onnx import helper, TensorProto
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    base = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)

    def run(m, name):
        path = tmp_path / name
        onnx.save(m, str(path))
        return path, run_odrt("inspect", path, check=False, timeout=60)

    m = onnx.ModelProto()
    m.CopyFrom(base)
    f = m.functions.add()
    f.name, f.domain = "F", "local"
    _, p = run(m, "functions.onnx")
    assert p.returncode == 1 and one_line(p.stderr) and "model-local functions" in p.stderr, p.stderr
    m = onnx.ModelProto()
    m.CopyFrom(base)
    m.training_info.add()
    _, p = run(m, "training.onnx")
    assert p.returncode == 1 and one_line(p.stderr) and "training_info" in p.stderr, p.stderr
    m = onnx.ModelProto()
    m.CopyFrom(base)
    sp = m.graph.sparse_initializer.add()
    sp.dims.append(2)
    _, p = run(m, "sparse.onnx")
    assert p.returncode == 1 and one_line(p.stderr) and "sparse initializers" in p.stderr, p.stderr
    m = onnx.ModelProto()
    m.CopyFrom(base)
    qa = m.graph.quantization_annotation.add()
    qa.tensor_name = "y"
    vi = m.graph.value_info.add()
    vi.CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [2]))
    vi.metadata_props.add(key="k", value="v")
    path, p = run(m, "extra_fields.onnx")
    assert p.returncode == 0, p.stderr
    xs = np.array([-1.5, 2.25], np.float32)
    np.save(tmp_path / "x.npy", xs)
    run_odrt("run", path, "--input", "x=%s" % (tmp_path / "x.npy"), "--output-dir", tmp_path)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": xs})[0]
    assert np.array_equal(np.load(tmp_path / "y.npy"), want)
