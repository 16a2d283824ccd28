#!/usr/bin/env python3
"""CPU engine benchmark: the odrt CPU engine against onnxruntime (CPU EP, ORT_ENABLE_ALL, the same
thread count) on the same frames, in alternating rounds in one process tree, with detection parity
checked in the same run. Prints latency and load-time ratios (peer / odrt: > 1 means odrt is faster).

  .venv/bin/python bench/engine_cpu.py [--threads 2] [--rounds 5] [--iters 30] [--models handtrack,handtrack640]
  (--models all: also every family export in .cache/tfod that odrt builds)

Peers per model: onnxruntime on odrt's `convert --target onnx` result (batched preprocessing, plain
ONNX NMS: the best ONNX onnxruntime runs for the model) and on the untouched tf2onnx export.
Latency is per frame at the network size (a fixed random uint8 frame, the same bytes for both):
odrt's is `odrt bench` (preprocessing, network and post-processing), onnxruntime's is
session.run(). Each round measures both; the printed ratio is the median over rounds of the
per-round ratios of medians, so that machine drift between rounds cancels. Load: odrt engine file
-> ready (page cache warm) against onnxruntime InferenceSession creation. Parity: every detection
with score >= 0.05 of the original export run by onnxruntime on each shared photo at its own size
must be in the engine's (same class, IoU >= 0.99, |score diff| <= 1e-4).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.path.join(ROOT, "..", "shared")
MODELS = {
    "handtrack": (os.path.join(ROOT, "models/handtrack/handtrack.onnx"), 320),
    "handtrack640": (os.path.join(ROOT, ".cache/models/handtrack640.onnx"), 640),
    "efficientdet_d0": (os.path.join(SHARED, "models/efficientdet_d0/model.onnx"), 512),
}
# the TF OD API family exports odrt builds (tools/fixtures/tfod_fixtures.sh, linked by tools/setup.sh)
TFOD = os.environ.get("ODRT_TFOD_DIR", os.path.join(ROOT, ".cache", "tfod"))
for _d in sorted(os.listdir(TFOD)) if os.path.isdir(TFOD) else []:
    _m = os.path.join(TFOD, _d, "manifest.json")
    if os.path.exists(os.path.join(TFOD, _d, "DONE")) and os.path.exists(_m):
        _j = json.load(open(_m))
        if _j["meta_architecture"] in ("ssd", "center_net", "faster_rcnn"):
            MODELS[_d] = (os.path.join(TFOD, _d, "model.onnx"), _j["size"][0])


def odrt(a, *args, **kw):
    return subprocess.run([a.odrt, *map(str, args)], check=True, capture_output=True, text=True, **kw)


def session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_median(s, x, iters):
    name = s.get_inputs()[0].name
    for _ in range(3):
        s.run(None, {name: x})
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        s.run(None, {name: x})
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def iou(a, b):
    y1, x1, y2, x2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, y2 - y1) * max(0.0, x2 - x1)
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def parity(a, engine, model, tmp):
    imgs = sorted(os.path.join(SHARED, "images", f) for f in os.listdir(os.path.join(SHARED, "images")) if f.endswith(".jpg"))
    out = os.path.join(tmp, "det.json")
    odrt(a, "detect", engine, *imgs, "--json", out, "--threshold", "0")
    got = json.load(open(out))["images"]
    s = session(model, a.threads)
    names = [o.name for o in s.get_outputs()]
    n_ref = n_ok = 0
    for img, g in zip(imgs, got):
        r = dict(zip(names, s.run(None, {"input_tensor": np.array(Image.open(img).convert("RGB"))[None]})))
        for i in range(int(r["num_detections"][0])):
            sc = float(r["detection_scores"][0, i])
            if sc < 0.05:
                continue
            n_ref += 1
            cls, box = int(round(float(r["detection_classes"][0, i]))), r["detection_boxes"][0, i]
            n_ok += any(d["class_id"] == cls and iou(box, d["box_normalized"]) >= 0.99 and abs(d["score"] - sc) <= 1e-4
                        for d in g["detections"])
    return n_ok, n_ref


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--models", default="handtrack,handtrack640,efficientdet_d0")
    ap.add_argument("--odrt", default=os.path.join(ROOT, "build/odrt"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    rows = []
    print("odrt CPU engine vs onnxruntime %s, %d threads, %d rounds x %d iterations, machine: %s" % (
        ort.__version__, a.threads, a.rounds, a.iters, open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": ")))
    for name in (MODELS if a.models == "all" else a.models.split(",")):
        model, size = MODELS[name]
        if not os.path.exists(model):
            print("%s: %s missing (tools/setup.sh makes it)" % (name, model))
            continue
        engine = os.path.join(tmp, name + ".odrt")
        try:
            odrt(a, "build", model, "-o", engine, "--threads", a.threads)
        except subprocess.CalledProcessError as e:
            print("%s: odrt build failed: %s" % (name, e.stderr.strip()))
            continue
        conv = os.path.join(tmp, name + "_onnx.onnx")
        odrt(a, "convert", model, "-o", conv, "--target", "onnx", "--class-offset", "1")
        x = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
        frame = os.path.join(tmp, name + "_frame.png")
        Image.fromarray(x[0]).save(frame)
        peers = {}
        for label, path in (("onnxruntime, odrt convert --target onnx", conv), ("onnxruntime, original export", model)):
            loads = []
            for _ in range(3):
                t0 = time.perf_counter()
                s = session(path, a.threads)
                loads.append((time.perf_counter() - t0) * 1e3)
            peers[label] = (s, statistics.median(loads), [], [])
        o_load, o_lat = None, []
        for _ in range(a.rounds):
            b = json.loads(odrt(a, "bench", engine, "--image", frame, "--iterations", a.iters, "--warmup", 3,
                                "--threads", a.threads, "--json").stdout)
            o_load = b["load_ms"]
            o_lat.append(b["median_ms"])
            for label, (s, _, lat, ratio) in peers.items():
                m = ort_median(s, x, a.iters)
                lat.append(m)
                ratio.append(m / b["median_ms"])
        ok, ref = parity(a, engine, model, tmp)
        for label, (s, load, lat, ratio) in peers.items():
            rows.append((name, label, statistics.median(lat), statistics.median(o_lat), statistics.median(ratio), load, o_load,
                         ok, ref))
    print("%-30s %-42s %9s %9s %8s %10s %10s %8s %s" % ("model", "peer", "peer ms", "odrt ms", "speedup", "peer load",
                                                         "odrt load", "load x", "parity (score>=0.05)"))
    for r in rows:
        print("%-30s %-42s %9.2f %9.2f %7.2fx %8.1fms %8.2fms %7.0fx %d/%d" % (r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                                                                              r[5] / r[6], r[7], r[8]))


if __name__ == "__main__":
    main()
