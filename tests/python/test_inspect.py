"""`odrt inspect` against what the onnx Python package reads from the same file."""
import collections
import json
import shutil
import subprocess

import numpy as np
import onnx
from onnx import numpy_helper

from conftest import MODEL, run_odrt


def walk(graph, fn):
    for n in graph.node:
        fn(n)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                walk(a.g, fn)
            for g in a.graphs:
                walk(g, fn)


def onnx_shape(vi):
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param if d.HasField("dim_param") else None))
    return dims


def all_initializer_bytes(graph):
    total = sum(numpy_helper.to_array(t).nbytes for t in graph.initializer)
    for n in graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                total += all_initializer_bytes(a.g)
    return total


def test_inspect_json_matches_onnx():
    rep = json.loads(run_odrt("inspect", MODEL, "--json").stdout)
    m = onnx.load(MODEL)
    g = m.graph
    inits = {t.name for t in g.initializer}
    ref_inputs = [i for i in g.input if i.name not in inits]
    assert [i["name"] for i in rep["inputs"]] == [i.name for i in ref_inputs]
    for got, ref in zip(rep["inputs"], ref_inputs):
        assert got["dtype"] == onnx.helper.tensor_dtype_to_np_dtype(ref.type.tensor_type.elem_type).name
        assert got["shape"] == onnx_shape(ref)
    assert [o["name"] for o in rep["outputs"]] == [o.name for o in g.output]
    assert [o["shape"] for o in rep["outputs"]] == [onnx_shape(o) for o in g.output]
    counts = collections.Counter()
    walk(g, lambda n: counts.update([n.op_type]))
    assert rep["op_counts"] == dict(counts)
    assert rep["nodes_total"] == sum(counts.values())
    assert rep["nodes_main_graph"] == len(g.node)
    assert rep["initializer_bytes"] == all_initializer_bytes(g)
    assert rep["opset_import"] == [{"domain": o.domain, "version": o.version} for o in m.opset_import]


def test_inspect_recognises_tf_od_api_export():
    rep = json.loads(run_odrt("inspect", MODEL, "--json").stdout)
    g = onnx.load(MODEL).graph
    t = rep["tf_od_api"]
    # the input contract of a TF OD API export: uint8 NHWC with batch 1 here
    inp = rep["inputs"][0]
    assert inp["dtype"] == "uint8" and len(inp["shape"]) == 4 and inp["shape"][0] == 1 and inp["shape"][3] == 3
    assert sorted(t["detection_outputs"]) == sorted(o.name for o in g.output)
    assert len(t["detection_outputs"]) == 8
    loops = [n.name for n in g.node if n.op_type == "Loop"]
    assert t["preprocessing_loop"]["found"] and t["preprocessing_loop"]["node"] in loops
    nms = [n.name for n in g.node if n.op_type == "NonMaxSuppression"]
    assert t["nms"]["non_max_suppression_nodes"] == len(nms) > 0
    assert sorted(t["nms"]["nodes"]) == sorted(nms)
    raw_boxes = next(o for o in g.output if o.name == "raw_detection_boxes")
    raw_scores = next(o for o in g.output if o.name == "raw_detection_scores")
    assert t["anchors"] == onnx_shape(raw_boxes)[1]
    assert t["classes"] == onnx_shape(raw_scores)[2] - 1
    assert t["family"] == "ssd"
    assert t["is_tf_od_api_export"] is True


def test_inspect_text_and_dot(tmp_path):
    text = run_odrt("inspect", MODEL, "--dot", tmp_path / "g.dot").stdout
    assert "preprocessing Loop" in text and "NonMaxSuppression nodes" in text
    dot = (tmp_path / "g.dot").read_text()
    g = onnx.load(MODEL).graph
    assert dot.startswith("digraph") and dot.count("[label=") == len(g.node)
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg", str(tmp_path / "g.dot"), "-o", str(tmp_path / "g.svg")], check=True)
