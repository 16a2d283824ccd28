#!/usr/bin/env python3
"""INT8 CPU engines against FP32 CPU engines of the same model, same run: build both (the INT8 one
calibrated on the shared and COCO photos), time them in alternating rounds with `odrt bench`
(preprocessing, network, post-processing; a synthetic frame at the network size), and print the
accuracy the INT8 issue asks for (`odrt compare` FP32 vs INT8 on the calibration photos: COCO mAP and
AP50 of the INT8 engine with the FP32 engine's detections >= 0.05 as ground truth).

  .venv/bin/python bench/int8_cpu.py [--threads 2] [--rounds 5] [--iters 50] [--models handtrack,handtrack640]
      [--odrt build/odrt] [--method percentile]

The ratio is the median over rounds of FP32 median / INT8 median (> 1: INT8 faster), so that machine
drift between rounds cancels.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.environ.get("ODRT_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
MODELS = {
    "handtrack": os.path.join(ROOT, "models/handtrack/handtrack.onnx"),
    "handtrack640": os.path.join(SHARED, "models/handtrack640/model.json"),
    "efficientdet_d0": os.path.join(SHARED, "models/efficientdet_d0/model.onnx"),
}


def run(*a, timeout=3000):
    return subprocess.run([str(x) for x in a], check=True, capture_output=True, text=True, timeout=timeout)


def median_ms(odrt, engine, threads, iters):
    out = run(odrt, "bench", engine, "--threads", threads, "--iterations", iters, "--warmup", 5).stdout
    return float(re.search(r"median = ([0-9.]+) ms", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--models", default="handtrack,handtrack640")
    ap.add_argument("--odrt", default=os.path.join(ROOT, "build", "odrt"))
    ap.add_argument("--method", default="percentile")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="odrt-int8-")
    calib = os.path.join(tmp, "calib")
    os.makedirs(calib)
    for sub in ("images", os.path.join("coco", "images")):
        for f in sorted(os.listdir(os.path.join(SHARED, sub))):
            if f.endswith(".jpg"):
                shutil.copy(os.path.join(SHARED, sub, f), calib)
    rows = []
    for name in a.models.split(","):
        model = MODELS[name]
        f32, i8 = os.path.join(tmp, name + "_fp32.odrt"), os.path.join(tmp, name + "_int8.odrt")
        run(a.odrt, "build", model, "-o", f32, "--threads", a.threads)
        log = run(a.odrt, "build", model, "-o", i8, "--threads", a.threads, "--precision", "int8", "--calibration", calib,
                  "--calibration-method", a.method, "--save-calibration", os.path.join(tmp, name + "_calib.json"))
        n8 = re.search(r"int8: (\d+) 1x1 convolutions in int8, (\d+) kept", log.stdout + log.stderr)
        cj = os.path.join(tmp, name + "_cmp.json")
        subprocess.run([a.odrt, "compare", f32, i8, "--images", calib, "--json", cj], capture_output=True, timeout=3000)
        m = json.load(open(cj))["map_b_vs_a"]
        t32, t8, ratios = [], [], []
        for _ in range(a.rounds):
            x, y = median_ms(a.odrt, f32, a.threads, a.iters), median_ms(a.odrt, i8, a.threads, a.iters)
            t32.append(x), t8.append(y), ratios.append(x / y)
        rows.append((name, "%s / %d" % (n8.group(1), int(n8.group(1)) + int(n8.group(2))) if n8 else "?", m[0], m[1],
                     statistics.median(t32), statistics.median(t8), statistics.median(ratios)))
        print("%s done" % name, flush=True)
    print("\n| model | int8 / 1x1 convs | mAP | AP50 | FP32 ms | INT8 ms | FP32 / INT8 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %s | %.4f | %.4f | %.2f | %.2f | %.2fx |" % r)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
