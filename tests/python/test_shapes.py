"""Shape inference (`odrt inspect --shapes`) against onnx.shape_inference on the same models."""
import json

import onnx
import pytest
from onnx import shape_inference

from conftest import MODEL, ROOT, run_odrt


def onnx_types(model):
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    g = inferred.graph
    out = {}
    for vi in list(g.value_info) + list(g.output) + list(g.input):
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            continue
        dims = None
        if tt.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        out[vi.name] = (onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name if tt.elem_type else None, dims)
    return out


def odrt_types(path, tmp_path):
    run_odrt("inspect", path, "--shapes", tmp_path / "s.json")
    vals = json.loads((tmp_path / "s.json").read_text())["values"]
    return {v["name"]: (v["dtype"] if v["dtype"] != "undefined" else None,
                        None if v["shape"] is None else [d if isinstance(d, int) else None for d in v["shape"]])
            for v in vals}


def compare(ref, got):
    agree = disagree = 0
    problems = []
    for name, (rdt, rdims) in ref.items():
        if name not in got:
            continue
        gdt, gdims = got[name]
        if rdt and gdt and rdt != gdt:
            problems.append((name, "dtype", rdt, gdt))
        if rdims is not None and gdims is not None:
            if len(rdims) != len(gdims):
                problems.append((name, "rank", rdims, gdims))
                continue
            for a, b in zip(rdims, gdims):
                if a is not None and b is not None:
                    if a == b:
                        agree += 1
                    else:
                        disagree += 1
                        problems.append((name, "dims", rdims, gdims))
                        break
    return agree, problems


def test_handtrack_shapes_agree_with_onnx(tmp_path):
    ref = onnx_types(onnx.load(MODEL))
    got = odrt_types(MODEL, tmp_path)
    agree, problems = compare(ref, got)
    assert not problems, problems[:10]
    # odrt must know at least the static dims onnx knows for most values
    ref_known = sum(1 for _, (dt, d) in ref.items() if d for x in d if x is not None)
    assert agree >= 0.8 * ref_known, (agree, ref_known)


@pytest.mark.parametrize("case", ["test_conv_with_strides_padding", "test_maxpool_2d_ceil", "test_flatten_axis1",
                                  "test_gather_0", "test_concat_3d_axis_1", "test_averagepool_2d_same_upper",
                                  "test_transpose_all_permutations_3", "test_matmul_3d", "test_gemm_default_no_bias", "test_maxpool_2d_dilations"])
def test_node_model_shapes(tmp_path, case):
    path = "%s/.cache/node_tests/%s/model.onnx" % (ROOT, case)
    m = onnx.load(path)
    for o in m.graph.output:  # hide declared output shapes so odrt must infer them
        o.type.tensor_type.ClearField("shape")
    onnx.save(m, tmp_path / "m.onnx")
    ref = onnx_types(onnx.load(path))
    got = odrt_types(tmp_path / "m.onnx", tmp_path)
    agree, problems = compare(ref, got)
    assert not problems, problems
    out = m.graph.output[0].name
    assert got[out][1] is not None and None not in got[out][1], got[out]
    assert got[out][1] == ref[out][1]
