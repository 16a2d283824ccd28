#!/usr/bin/env python3
"""A smaller copy of an ONNX model for carrying to the GPU machine (64 MiB per call): every float32
Conv weight of at least MIN elements becomes a uint8 initializer -> Cast -> Mul(scale) -> Add(low),
an affine 8-bit copy of the weight that odrt folds back into a constant when it builds. The copy is
a different model from the original (weights within (max - min) / 510 of the original's): compare
engines built from the copy with each other, or with onnxruntime on the copy, never with the
original.

With --bits 4 two weights share a byte (the first half of the weight in the low nibbles, the
second in the high ones), unpacked by Cast -> Div by 16, Floor, the remainder -> Concat -> Slice -> Reshape: 16 levels, for
models whose 8-bit copy still passes the carry (ResNet50 FPN SSD: 51 -> 25 MiB).

  .venv/bin/python tools/gpu_shrink.py IN.onnx OUT.onnx [--min 4096] [--bits 8|4]"""
import argparse

import numpy as np
import onnx
from onnx import helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--min", type=int, default=4096)
    ap.add_argument("--bits", type=int, choices=(8, 4), default=8)
    a = ap.parse_args()
    m = onnx.load(a.src)
    g = m.graph
    weights = {n.input[1] for n in g.node if n.op_type == "Conv" and len(n.input) > 1}
    inits = {t.name: t for t in g.initializer}
    nodes, shrunk, before, after = [], 0, 0, 0
    for name in sorted(weights):
        t = inits.get(name)
        if t is None or t.data_type != onnx.TensorProto.FLOAT:
            continue
        w = numpy_helper.to_array(t)
        if w.size < a.min:
            continue
        lo, hi = float(w.min()), float(w.max())
        levels = (1 << a.bits) - 1
        scale = np.float32((hi - lo) / levels if hi > lo else 1.0)
        q = np.clip(np.round((w - np.float32(lo)) / scale), 0, levels).astype(np.uint8).reshape(-1)
        g.initializer.remove(t)
        g.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), name + "/scale"),
                              numpy_helper.from_array(np.array(lo, np.float32), name + "/low")])
        if a.bits == 8:
            g.initializer.append(numpy_helper.from_array(q.reshape(w.shape), name + "/u8"))
            nodes += [helper.make_node("Cast", [name + "/u8"], [name + "/f"], to=onnx.TensorProto.FLOAT)]
            stored = q.nbytes
        else:
            half = (q.size + 1) // 2
            pad = np.zeros(2 * half, np.uint8)
            pad[:q.size] = q
            packed = pad[:half] | (pad[half:] << 4)
            g.initializer.extend([numpy_helper.from_array(packed, name + "/u4"),
                                  numpy_helper.from_array(np.array(16, np.float32), name + "/16"),
                                  numpy_helper.from_array(np.array([0], np.int64), name + "/start"),
                                  numpy_helper.from_array(np.array([q.size], np.int64), name + "/end"),
                                  numpy_helper.from_array(np.array(w.shape, np.int64), name + "/shape")])
            nodes += [helper.make_node("Cast", [name + "/u4"], [name + "/v"], to=onnx.TensorProto.FLOAT),
                      helper.make_node("Div", [name + "/v", name + "/16"], [name + "/v16"]),
                      helper.make_node("Floor", [name + "/v16"], [name + "/hi4"]),
                      helper.make_node("Mul", [name + "/hi4", name + "/16"], [name + "/hi16"]),
                      helper.make_node("Sub", [name + "/v", name + "/hi16"], [name + "/lo4"]),
                      helper.make_node("Concat", [name + "/lo4", name + "/hi4"], [name + "/both"], axis=0),
                      helper.make_node("Slice", [name + "/both", name + "/start", name + "/end"], [name + "/flat"]),
                      helper.make_node("Reshape", [name + "/flat", name + "/shape"], [name + "/f"])]
            stored = packed.nbytes
        nodes += [helper.make_node("Mul", [name + "/f", name + "/scale"], [name + "/scaled"]),
                  helper.make_node("Add", [name + "/scaled", name + "/low"], [name])]
        shrunk += 1
        before += w.nbytes
        after += stored
    for n in reversed(nodes):  # before every use (the graph stays topologically sorted)
        g.node.insert(0, n)
    onnx.save(m, a.dst)
    print("%s: %d Conv weights to %d bits, %.1f -> %.1f MiB" % (a.dst, shrunk, a.bits, before / 2**20, after / 2**20))


if __name__ == "__main__":
    main()
