#!/usr/bin/env python3
"""A smaller copy of an ONNX model for carrying to the GPU machine (64 MiB per call): every float32
Conv weight of at least MIN elements becomes a uint8 initializer -> Cast -> Mul(scale) -> Add(low),
an affine 8-bit copy of the weight that odrt folds back into a constant when it builds. The copy is
a different model from the original (weights within (max - min) / 510 of the original's): compare
engines built from the copy with each other, or with onnxruntime on the copy, never with the
original.

  .venv/bin/python tools/gpu_shrink.py IN.onnx OUT.onnx [--min 4096]"""
import argparse

import numpy as np
import onnx
from onnx import helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--min", type=int, default=4096)
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
        scale = np.float32((hi - lo) / 255.0 if hi > lo else 1.0)
        q = np.clip(np.round((w - np.float32(lo)) / scale), 0, 255).astype(np.uint8)
        g.initializer.remove(t)
        g.initializer.extend([numpy_helper.from_array(q, name + "/u8"),
                              numpy_helper.from_array(np.array(scale, np.float32), name + "/scale"),
                              numpy_helper.from_array(np.array(lo, np.float32), name + "/low")])
        nodes += [helper.make_node("Cast", [name + "/u8"], [name + "/f"], to=onnx.TensorProto.FLOAT),
                  helper.make_node("Mul", [name + "/f", name + "/scale"], [name + "/scaled"]),
                  helper.make_node("Add", [name + "/scaled", name + "/low"], [name])]
        shrunk += 1
        before += w.nbytes
        after += q.nbytes
    for n in reversed(nodes):  # before every use (the graph stays topologically sorted)
        g.node.insert(0, n)
    onnx.save(m, a.dst)
    print("%s: %d Conv weights to 8 bits, %.1f -> %.1f MiB" % (a.dst, shrunk, before / 2**20, after / 2**20))


if __name__ == "__main__":
    main()
