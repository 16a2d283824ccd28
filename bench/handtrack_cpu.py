#!/usr/bin/env python3
"""CPU benchmark: odrt's reference executor vs onnxruntime (CPU EP) on the bundled handtrack model,
same input, same machine, same run. Prints medians and the odrt/onnxruntime ratio.

  .venv/bin/python bench/handtrack_cpu.py [--runs 5] [--threads 2] [--image PATH]

odrt's run time is the executor's own (outputs.json run_seconds, model load excluded); the process
wall time (load + run + writing .npy) is printed too. onnxruntime's is session.run().
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=os.path.join(ROOT, "models/handtrack/handtrack.onnx"))
    ap.add_argument("--image", default=os.path.join(ROOT, "../shared/images/sample1.jpg"))
    ap.add_argument("--odrt", default=os.path.join(ROOT, "build/odrt"))
    a = ap.parse_args()
    x = np.array(Image.open(a.image).convert("RGB"))[None]
    tmp = tempfile.mkdtemp()
    np.save(os.path.join(tmp, "x.npy"), x)
    env = dict(os.environ, ODRT_NUM_THREADS=str(a.threads))
    o_run, o_wall = [], []
    for i in range(a.runs + 1):
        t0 = time.perf_counter()
        subprocess.run([a.odrt, "run", a.model, "--input", "input_tensor=" + os.path.join(tmp, "x.npy"),
                        "--output-dir", os.path.join(tmp, "o")], check=True, env=env, capture_output=True)
        wall = time.perf_counter() - t0
        if i:
            o_wall.append(wall)
            o_run.append(json.load(open(os.path.join(tmp, "o", "outputs.json")))["run_seconds"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    t0 = time.perf_counter()
    s = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    ort_load = time.perf_counter() - t0
    r_run = []
    for i in range(a.runs + 1):
        t0 = time.perf_counter()
        s.run(None, {"input_tensor": x})
        if i:
            r_run.append(time.perf_counter() - t0)
    mo, mr = statistics.median(o_run), statistics.median(r_run)
    print("input %s %s, %d threads, %d runs (after 1 warm-up)" % (os.path.basename(a.image), x.shape, a.threads, a.runs))
    print("odrt        run  median %.3f s  (process wall incl. load+write %.3f s)" % (mo, statistics.median(o_wall)))
    print("onnxruntime run  median %.3f s  (session load %.3f s)" % (mr, ort_load))
    print("ratio odrt/onnxruntime: %.2f" % (mo / mr))


if __name__ == "__main__":
    main()
