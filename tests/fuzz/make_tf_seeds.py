#!/usr/bin/env python3
"""Seeds for fuzz_graphdef_load and fuzz_bundle_index, made by TensorFlow (test-only):
a frozen GraphDef of the map_fn loop and first convolutions of the shared handtrack model (a TF1
graph with v1 while frames), a TF2 function graph with a While and an If frozen with its library
kept, and the variables.index of a small TF2 checkpoint."""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "fixtures"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(shared, gd_dir, idx_dir):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import make_handtrack_onnx as mh
    import make_tfjs_seed as ts
    np.product = np.prod  # tf2onnx 1.17's TF.js weight reader still calls the alias numpy 2 removed
    os.makedirs(gd_dir, exist_ok=True)
    os.makedirs(idx_dir, exist_ok=True)
    path = os.path.join(shared, "models", "handtrack", "handtrack.json")
    model = json.load(open(path))
    shard = b"".join(open(os.path.join(os.path.dirname(path), p), "rb").read() for g in model["weightsManifest"] for p in g["paths"])
    convs = [n["name"] for n in model["modelTopology"]["node"] if n["op"] == "_FusedConv2D"]
    with tempfile.TemporaryDirectory() as tmp:
        seed = ts.cut(model, shard, convs[1] + ":0")
        n = int.from_bytes(seed[:4], "little")
        sub = json.loads(seed[4:4 + n])
        open(os.path.join(tmp, "w.bin"), "wb").write(seed[4 + n:])
        try:
            mh.patch_tfjs(sub)  # restores the attributes TF.js stripped, then checks the TF OD API signature
        except SystemExit:
            pass  # a cut graph has not that signature: the attributes are restored by then
        gd = mh.tfjs_to_graphdef(sub, tmp)
    open(os.path.join(gd_dir, "handtrack_cut.pb"), "wb").write(gd.SerializeToString())

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def f(x):
        i = tf.constant(0)
        acc = tf.zeros([4])
        _, acc = tf.while_loop(lambda i, a: i < tf.shape(x)[0], lambda i, a: (i + 1, a + tf.gather(x, i)), [i, acc])
        return tf.cond(tf.reduce_sum(acc) > 0, lambda: tf.nn.relu(acc), lambda: -acc)
    fg = f.get_concrete_function().graph.as_graph_def()
    open(os.path.join(gd_dir, "while_if.pb"), "wb").write(fg.SerializeToString())

    with tempfile.TemporaryDirectory() as tmp:
        ck = tf.train.Checkpoint(a=tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4)), b=tf.Variable([1, 2, 3]))
        prefix = ck.write(os.path.join(tmp, "ckpt"))
        open(os.path.join(idx_dir, "small.index"), "wb").write(open(prefix + ".index", "rb").read())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
