#!/usr/bin/env python3
"""Write a tiny synthetic odrt engine (docs/engine-format.md) that uses every network op kind but
the reference fallback (the crop's boxes are computed values: whatever they hold, a crop must run), and the
patterns the CPU backend fuses (a squeeze-and-excite scale into a 1x1 conv, a weighted sum): the seed of
the engine-loader fuzzer, and a format check in the tests.
`write_engine(meta, blob)` is the format's writer in Python (XXH3 checksums as odrt computes them).
With --int8 the engine is an int8 one whose 1x1 conv is int8 (docs/engine-format.md's packing).
Usage: make_engine_seed.py OUT.odrt [--int8]"""
import json
import struct
import sys

import numpy as np
import xxhash

HDR = 64


def fbits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def write_engine(meta, blob, device=b"cpu", version=2):
    meta_b = json.dumps(meta).encode()
    meta_off = HDR + 64
    blob_off = (meta_off + len(meta_b) + 63) // 64 * 64
    total = blob_off + len(blob)
    out = bytearray(total)
    out[:8] = b"ODRTENG\0"
    struct.pack_into("<IIQIIQ", out, 8, version, 0x01020304, total, 2, 0, HDR)
    out[48:64] = device.ljust(16, b"\0")
    struct.pack_into("<IIQQQ", out, HDR, 1, 0, meta_off, len(meta_b), xxhash.xxh3_64_intdigest(meta_b))
    struct.pack_into("<IIQQQ", out, HDR + 32, 2, 0, blob_off, len(blob), xxhash.xxh3_64_intdigest(bytes(blob)))
    out[meta_off:meta_off + len(meta_b)] = meta_b
    out[blob_off:] = blob
    h = xxhash.xxh3_64_intdigest(bytes(out[:40]) + bytes(out[48:64]) + bytes(out[HDR:HDR + 64]))
    struct.pack_into("<Q", out, 40, h)
    return bytes(out)


def int8_gemm(rng, cin, cout):
    """an int8 1x1 conv's weight part: int8 [P][Kp/4][16][4], int32 128 * column sums, float column
    steps, float 1 / input steps (Kp)"""
    kp, np16 = (cin + 3) // 4 * 4, (cout + 15) // 16 * 16
    w = np.zeros((np16 // 16, kp // 4, 16, 4), np.int8)
    q = rng.integers(-127, 128, (cout, cin)).astype(np.int8)
    for co in range(cout):
        for k in range(cin):
            w[co // 16, k // 4, co % 16, k % 4] = q[co, k]
    comp = np.zeros(np16, np.int32)
    comp[:cout] = 128 * q.astype(np.int32).sum(1)
    steps = np.full(np16, 0.002, np.float32)
    inv = np.zeros(kp, np.float32)
    inv[:cin] = 1 / 0.05
    return w.tobytes() + comp.tobytes() + steps.tobytes() + inv.tobytes()


def seed(int8=False):
    rng = np.random.default_rng(7)
    blob = bytearray()

    def put(a):
        nonlocal blob
        off = (len(blob) + 63) // 64 * 64
        blob += b"\0" * (off - len(blob)) + np.ascontiguousarray(a).tobytes()
        return [off, int(np.asarray(a).nbytes)]

    tensors, offset = [], 0

    def tensor(dims, layout=0, alias=-1):
        nonlocal offset
        n = int(np.prod(dims))
        if alias >= 0:
            off = tensors[alias][3]
        else:
            off, offset = offset, offset + (n * 4 + 63) // 64 * 64
        tensors.append([len(dims), layout, alias, off] + list(dims))
        return len(tensors) - 1

    def op(kind, ins, out, p=None, f=(0.0, 0.0, 0.0), w=(0, 0), b=(0, 0), name=""):
        p = p or {}
        keys = ["act", "conv_kind", "kh", "kw", "sh", "sw", "dh", "dw", "pt", "pl", "pb", "pr", "cin", "cout", "residual",
                "bin", "bcast", "axis"]
        defaults = {"residual": -1, "kh": 1, "kw": 1, "sh": 1, "sw": 1, "dh": 1, "dw": 1}
        return {"kind": kind, "name": name, "in": ins, "out": out, "p": [p.get(k, defaults.get(k, 0)) for k in keys],
                "f": [fbits(v) for v in f], "w": list(w), "b": list(b)}

    t0 = tensor([1, 8, 8, 3])
    t1 = tensor([1, 3, 8, 8], 1, t0)
    t2, t3, t4, t5, t6, t7 = (tensor([1, 8, 4, 4], 1) for _ in range(6))
    t8 = tensor([1, 4, 4, 8])
    t9 = tensor([1, 4, 4, 16])
    t10 = tensor([1, 32, 4], 0, t8)
    t11 = tensor([1, 32, 8], 0, t9)
    t12 = tensor([1, 8, 2, 2], 1)  # max-pooled t7
    t13 = tensor([1, 8, 1, 1], 1)  # its spatial mean
    t14 = tensor([1, 8, 4, 4], 1)  # t12 resized back
    t15 = tensor([2, 4])  # crop boxes: the means, gathered (any values: a crop must survive them)
    t16 = tensor([2, 8, 3, 3], 1)  # crops of t7
    t17, t18, t19, t20, t21 = (tensor([1, 8, 4, 4], 1) for _ in range(5))  # the CPU backend's fused groups (no output reads them)
    taps = np.zeros(8, dtype=[("i0", "<i4"), ("i1", "<i4"), ("w0", "<f4"), ("w1", "<f4")])
    for i in range(8):  # rows then columns: 2 -> 4, asymmetric
        x = (i % 4) / 2.0
        taps[i] = (int(x), min(int(x) + 1, 1), 1 - (x - int(x)), x - int(x))
    conv = dict(act=0, cin=3, cout=8)
    ops = [
        op(1, [t1], t2, dict(conv_kind=2, kh=3, kw=3, sh=2, sw=2, pt=1, pl=1, pb=1, pr=1, cin=3, cout=8),
           w=put(rng.normal(0, 0.1, 16 * 27).astype(np.float32)), b=put(rng.normal(0, 0.1, 8).astype(np.float32)), name="conv_im2col"),
        op(1, [t2], t3, dict(act=1, conv_kind=1, kh=3, kw=3, pt=1, pl=1, pb=1, pr=1, cin=8, cout=8), f=(0.0, 6.0, 0.0),
           w=put(rng.normal(0, 0.3, 9 * 8).astype(np.float32)), b=put(np.zeros(8, np.float32)), name="conv_dw"),
        op(1, [t3], t4, dict(conv_kind=0, cin=8, cout=8, residual=t2),
           w=put(np.frombuffer(int8_gemm(rng, 8, 8), np.uint8) if int8 else rng.normal(0, 0.3, 16 * 8).astype(np.float32)),
           b=put(np.zeros(8, np.float32)), name="conv_gemm"),
        op(3, [t4], t5, dict(act=2), name="sigmoid"),
        op(2, [t5], t6, dict(bin=0, bcast=2), w=put(rng.normal(0, 1, 8).astype(np.float32)), name="add_channel"),
        op(2, [t6, t5], t7, dict(bin=2, bcast=0), name="mul"),
        op(4, [t7], t8, w=put(np.arange(127, -1, -1, dtype=np.int32)), name="gather"),
        op(5, [t8, t8], t9, dict(axis=3), name="concat"),
        op(8, [t7], t12, dict(kh=2, kw=2, sh=2, sw=2), name="maxpool"),
        op(7, [t7], t13, name="mean_hw"),
        op(10, [t12], t14, w=put(taps), name="resize"),
        op(4, [t13], t15, w=put(np.arange(8, dtype=np.int32)), name="boxes"),
        op(9, [t7, t15], t16, dict(kh=3, kw=3, cin=8, cout=8, axis=1), name="crop"),
        # squeeze-and-excite: t7 times its channel means, read only by a 1x1 conv (run as one)
        op(2, [t7, t13], t17, dict(bin=2, bcast=4), name="se_scale"),
        op(1, [t17], t18, dict(conv_kind=0, cin=8, cout=8), w=put(rng.normal(0, 0.3, 16 * 8).astype(np.float32)),
           b=put(np.zeros(8, np.float32)), name="se_conv"),
        # a weighted sum with swish: 0.5 t7 + 0.25 t18 (run as one)
        op(2, [t7], t19, dict(bin=2, bcast=1), f=(0.0, 0.0, 0.5), name="wsum_mul0"),
        op(2, [t18], t20, dict(bin=2, bcast=1), f=(0.0, 0.0, 0.25), name="wsum_mul1"),
        op(2, [t19, t20], t21, dict(act=3, bin=0, bcast=0), name="wsum_add"),
    ]
    del conv
    if int8:  # its input is a Clip(0, 6): unsigned, step 0.05
        ops[2]["f"] += [fbits(0.05), 1]
    anchors = np.stack(np.meshgrid((np.arange(4) + 0.5) / 4, (np.arange(4) + 0.5) / 4, indexing="ij"), -1).reshape(-1, 2)
    anchors = np.concatenate([np.repeat(anchors, 2, 0), np.tile([[0.2, 0.2], [0.4, 0.3]], (16, 1))], 1).astype(np.float32)
    a_off = put(anchors)[0]
    meta = {
        "format_version": 2, "odrt_version": "seed", "device": "cpu", "precision": "int8" if int8 else "fp32", "family": "ssd",
        "source_sha256": "0" * 64, "build_options": "synthetic seed", "threads": 1,
        "input": {"name": "input_tensor", "dtype": "uint8", "layout": "nhwc", "batch": 1, "network_size": [8, 8],
                  "frame_size": [0, 0]},
        "preprocessing": {"resize": {"mode": "linear", "coordinate_transformation_mode": "asymmetric",
                                     "nearest_mode": "round_prefer_floor"},
                          "keep_aspect_pad": {"fit_size": [8, 8], "pad_value_bits": fbits(0.0)},
                          "normalization_steps_before_resize": 1,
                          "normalization": [{"op": "mul", "bits": [fbits(1 / 127.5)] * 3},
                                            {"op": "sub", "bits": [fbits(1.0)] * 3}]},
        "postprocessing": {"anchors": 32, "anchors_offset": a_off, "classes": 7, "background_columns": 1,
                           "score_activation": "sigmoid", "clip_window": "resized_image", "box_coder_scales_bits": [fbits(v) for v in (10, 10, 5, 5)],
                           "score_threshold_bits": fbits(0.01), "iou_threshold_bits": fbits(0.5), "max_per_class": 10,
                           "max_detections": 10, "class_offset": 1},
        "labels": ["a", "b", None, "d"],
        "network": {"arena_bytes": offset, "input": t0, "boxes": t10, "scores": t11, "tensors": tensors, "ops": ops},
    }
    return write_engine(meta, bytes(blob))


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as f:
        f.write(seed("--int8" in sys.argv[2:]))
