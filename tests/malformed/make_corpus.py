#!/usr/bin/env python3
"""Write the malformed-model corpus into a folder: one file (or folder) per case plus cases.json
naming, for each, the substring odrt's one-line error must contain. Built with the onnx package so
each file is exactly the defect it names and otherwise valid."""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, shape=(2,), t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, list(shape))


def add_model():
    return model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x")], [vi("y")],
                 [numpy_helper.from_array(np.ones(2, np.float32), "w")])


def raw(m):
    return m.SerializeToString()


def nested_loop(depth):
    """Loop inside Loop inside ... depth levels; built as bytes to avoid Python recursion limits."""
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"])], "b",
                             [vi("i", (), TensorProto.INT64), vi("c", (), TensorProto.BOOL)],
                             [vi("c_out", (), TensorProto.BOOL)])
    inner = body.SerializeToString()
    # Graph.node(1) -> Node.attribute(5) -> Attribute.g(6); wrap repeatedly at the byte level
    def ld(field, payload):
        key = (field << 3) | 2
        n, out = len(payload), bytearray()
        out.append(key)
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                break
        return bytes(out) + payload
    attr_head = helper.make_attribute("body", body)
    attr_head.ClearField("g")
    node = helper.make_node("Loop", ["", "c"], ["c_out"])
    node_bytes = node.SerializeToString()
    attr_bytes = attr_head.SerializeToString()
    g = inner
    for _ in range(depth):
        a = attr_bytes + ld(6, g)
        n = node_bytes + ld(5, a)
        g = ld(1, n) + b"\x12\x01b"  # node + graph name
    m = helper.make_model(helper.make_graph([], "top", [], []), opset_imports=[helper.make_opsetid("", 13)])
    top = m.SerializeToString()
    return top + ld(7, g)


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = {}

    def put(name, data, expect):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        cases[name] = expect

    good = raw(add_model())
    put("empty.onnx", b"", "empty file")
    put("truncated.onnx", good[: len(good) // 2], "not a valid ONNX protobuf")
    put("random.onnx", np.random.default_rng(1).bytes(4096), "")  # any clear error
    m = add_model()
    m.graph.initializer[0].raw_data = np.ones(3, np.float32).tobytes()
    put("raw_data_length.onnx", raw(m), "raw_data has 12 bytes, dims need 8")
    m = add_model()
    m.graph.initializer[0].dims[0] = -2
    put("negative_dim.onnx", raw(m), "negative dim")
    m = add_model()
    del m.graph.initializer[0].dims[:]
    m.graph.initializer[0].dims.extend([2 ** 40, 2 ** 40])
    put("dims_over_2_62.onnx", raw(m), "more than 2^62 elements")
    m = add_model()
    del m.graph.initializer[0].dims[:]
    m.graph.initializer[0].dims.extend([2 ** 31, 2 ** 31, 2 ** 31])
    put("dims_overflow.onnx", raw(m), "more than 2^62 elements")
    put("cycle.onnx", raw(model([helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
                                [vi("x")], [vi("a")])), "node cycle")
    put("missing_producer.onnx", raw(model([helper.make_node("Relu", ["nowhere"], ["y"])], [vi("x")], [vi("y")])),
        "input 'nowhere' has no producer")
    put("duplicate_output.onnx", raw(model([helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Abs", ["x"], ["y"])],
                                           [vi("x")], [vi("y")])), "duplicate output name 'y'")
    m = add_model()
    m.graph.node[0].attribute.append(helper.make_attribute("bogus", 1))
    data = raw(m)
    # AttributeProto.type is field 20 (key bytes a0 01); INT = 2. Protobuf refuses to set 99 itself.
    assert data.count(b"\xa0\x01\x02") == 1
    put("unknown_attr_type.onnx", data.replace(b"\xa0\x01\x02", b"\xa0\x01\x63"), "unknown attribute type 99")
    put("nested_10000.onnx", nested_loop(10000), "deeper than")
    put("unknown_op.onnx", raw(model([helper.make_node("FrobnicateTensor", ["x"], ["y"])], [vi("x")], [vi("y")])),
        "RUN:unsupported op 'FrobnicateTensor'")
    put("no_outputs.onnx", raw(model([helper.make_node("Relu", ["x"], ["y"])], [vi("x")], [])),
        "RUN:the model has no graph outputs")
    put("opset_too_new.onnx", raw(model([helper.make_node("Relu", ["x"], ["y"])], [vi("x")], [vi("y")], opset=99)),
        "RUN:ai.onnx opset 99; this odrt knows opsets up to")
    # external data
    ext = os.path.join(out, "ext")
    os.makedirs(ext, exist_ok=True)
    with open(os.path.join(ext, "weights.bin"), "wb") as f:
        f.write(np.ones(2, np.float32).tobytes())
    if not os.path.lexists(os.path.join(ext, "link.bin")):
        os.symlink("weights.bin", os.path.join(ext, "link.bin"))

    def ext_model(location, offset=0, length=8):
        m = add_model()
        t = m.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
            e = t.external_data.add()
            e.key, e.value = k, v
        return raw(m)

    for name, loc, expect, off in (("ext/dotdot.onnx", "../outside.bin", "contains '..'", 0),
                                   ("ext/absolute.onnx", "/etc/passwd", "is absolute", 0),
                                   ("ext/symlink.onnx", "link.bin", "symlink", 0),
                                   ("ext/beyond_end.onnx", "weights.bin", "beyond end", 4),
                                   ("ext/missing.onnx", "nothere.bin", "not found", 0)):
        put(name, ext_model(loc, off), expect)
    put("ext/good.onnx", ext_model("weights.bin"), "OK")
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    sys.setrecursionlimit(100000)
    main(sys.argv[1])
