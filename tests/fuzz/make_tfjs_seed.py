#!/usr/bin/env python3
"""Seeds for fuzz_tfjs_load (a uint32 LE JSON length, the JSON, then the shards' bytes in the
manifest's order), small enough to mutate quickly: sub-graphs of the shared handtrack TF.js model
cut at one tensor each (the map_fn while loop's stacked images; the first convolutions), with the manifest and shard bytes of the constants they keep."""
import json
import os
import struct
import sys

import numpy as np

BYTES = {"float32": 4, "int32": 4, "bool": 1, "uint8": 1, "uint16": 2, "float16": 2}


def cut(model, shard, output):
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    keep, todo = set(), [output.split(":")[0]]
    while todo:
        name = todo.pop().lstrip("^").split(":")[0]
        if name in keep:
            continue
        keep.add(name)
        todo.extend(nodes[name].get("input", []))
    weights, data, off = [], b"", 0
    for g in model["weightsManifest"]:
        for w in g["weights"]:
            n = int(np.prod(w["shape"])) * BYTES[w.get("quantization", {}).get("dtype", w["dtype"])]
            if w["name"] in keep:
                weights.append(w)
                data += shard[off:off + n]
            off += n
    sub = dict(model)
    sub["modelTopology"] = dict(model["modelTopology"], node=[n for n in model["modelTopology"]["node"] if n["name"] in keep])
    sub["weightsManifest"] = [{"paths": ["w.bin"], "weights": weights}]
    sub["signature"] = {"inputs": model["signature"]["inputs"], "outputs": {output: {"name": output}}}
    raw = json.dumps(sub).encode()
    return struct.pack("<I", len(raw)) + raw + data


def main(shared, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(shared, "models", "handtrack", "handtrack.json")
    model = json.load(open(path))
    shard = b"".join(open(os.path.join(os.path.dirname(path), p), "rb").read()
                     for g in model["weightsManifest"] for p in g["paths"])
    convs = [n["name"] for n in model["modelTopology"]["node"] if n["op"] == "_FusedConv2D"]
    dw = [n["name"] for n in model["modelTopology"]["node"] if n["op"] == "FusedDepthwiseConv2dNative"]
    cuts = {"loop": "StatefulPartitionedCall/map/TensorArrayV2Stack/TensorListStack:0",
            "conv": convs[1] + ":0", "depthwise": dw[0] + ":0"}
    for name, out in cuts.items():
        seed = cut(model, shard, out)
        with open(os.path.join(out_dir, name + ".seed"), "wb") as f:
            f.write(seed)
        print("make_tfjs_seed: %s %d bytes" % (name, len(seed)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
