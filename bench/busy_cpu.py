#!/usr/bin/env python3
"""CPU engines on a quiet and on a busy machine: odrt against onnxruntime, each in its own process,
per model, with one other process spinning on one core during the "busy" runs (a Jetson's cores are
shared with camera capture and video decode). Prints latency (median and mean: a descheduled thread
shows in the mean) quiet and busy, the slowdown factor busy / quiet of each, and the peer / odrt
ratio under load.

  .venv/bin/python bench/busy_cpu.py [--threads 2] [--iters 40] [--rounds 3] [--models handtrack,handtrack640,efficientdet_d0]

onnxruntime runs odrt's `convert --target onnx` result (the best ONNX it runs for these models,
bench/engine_cpu.py), intra-op threads = --threads, on the same random frame at the network size.
Rounds alternate quiet and busy for both peers; the table takes the median over rounds."""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_cpu import MODELS, ROOT  # noqa: E402

ORT_CHILD = r"""
import sys, time, statistics, numpy as np, onnxruntime as ort
path, threads, iters, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).integers(0, 256, (1, h, h, 3), dtype=np.uint8)
name = s.get_inputs()[0].name
for _ in range(3): s.run(None, {name: x})
ts = []
for _ in range(iters):
    t0 = time.perf_counter(); s.run(None, {name: x}); ts.append((time.perf_counter() - t0) * 1e3)
print(statistics.median(ts), statistics.mean(ts))
"""


def spin():
    while True:
        pass


def run_odrt(a, engine, frame):
    r = subprocess.run([a.odrt, "bench", engine, "--image", frame, "--iterations", str(a.iters), "--warmup", "3", "--json"],
                       check=True, capture_output=True, text=True)
    b = json.loads(r.stdout)
    return b["median_ms"], b["mean_ms"]


def run_ort(a, model, h):
    r = subprocess.run([sys.executable, "-c", ORT_CHILD, model, str(a.threads), str(a.iters), str(h)], check=True,
                       capture_output=True, text=True)
    med, mean = map(float, r.stdout.split())
    return med, mean


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="handtrack,handtrack640,efficientdet_d0")
    ap.add_argument("--odrt", default=os.path.join(ROOT, "build/odrt"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    from PIL import Image
    print("| model | odrt quiet ms (median / mean) | odrt busy | odrt slowdown | onnxruntime quiet | onnxruntime busy | "
          "onnxruntime slowdown | onnxruntime / odrt, busy |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in a.models.split(","):
        model, h = MODELS[name]
        engine, conv, frame = (os.path.join(tmp, name + s) for s in (".odrt", ".onnx", ".png"))
        subprocess.run([a.odrt, "build", model, "-o", engine, "--threads", str(a.threads)], check=True, capture_output=True)
        subprocess.run([a.odrt, "convert", model, "-o", conv, "--target", "onnx", "--class-offset", "1"], check=True,
                       capture_output=True)
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, h, 3), dtype=np.uint8)).save(frame)
        res = {k: [] for k in ("oq", "ob", "rq", "rb")}
        for _ in range(a.rounds):
            res["oq"].append(run_odrt(a, engine, frame))
            res["rq"].append(run_ort(a, conv, h))
            p = mp.Process(target=spin, daemon=True)
            p.start()
            try:
                res["ob"].append(run_odrt(a, engine, frame))
                res["rb"].append(run_ort(a, conv, h))
            finally:
                p.terminate()
                p.join()
        m = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in res.items()}
        print("| %s | %.1f / %.1f | %.1f / %.1f | %.2fx / %.2fx | %.1f / %.1f | %.1f / %.1f | %.2fx / %.2fx | %.2f / %.2f |" % (
            name, *m["oq"], *m["ob"], m["ob"][0] / m["oq"][0], m["ob"][1] / m["oq"][1], *m["rq"], *m["rb"],
            m["rb"][0] / m["rq"][0], m["rb"][1] / m["rq"][1], m["rb"][0] / m["ob"][0], m["rb"][1] / m["ob"][1]), flush=True)


if __name__ == "__main__":
    main()
