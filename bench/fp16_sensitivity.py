#!/usr/bin/env python3
"""How a model takes fp16 activations, measured on the CPU (no GPU needed): the CPU engine, unfused,
with every op's output rounded to fp16 (ODRT_CPU_HALF=1; with ODRT_CPU_HALF_WEIGHTS=1 every conv's
weights too, as fp16 engines store them), or only some ops' (ODRT_CPU_HALF=A:B), or to a mantissa of
N bits in fp32's range (ODRT_CPU_HALF_BITS=N), against the same engine in fp32,
scored with the CUDA issue's fp16 criteria on the shared photos: detections with score >= 0.3
matched at IoU >= 0.9 (same class) and those with score >= 0.5 missing.

  .venv/bin/python bench/fp16_sensitivity.py [--models handtrack,efficientdet_d0]

A CUDA fp16 engine stores activations in half with float accumulation, so a model that misses the
criteria here with every op's output rounded to fp16 misses them on the GPU too, whatever the
kernels (and a model that loses detections from one rounded tensor is not fp16-safe at all).
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from conftest import missing  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.environ.get("ODRT_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
MODELS = {
    "handtrack": os.path.join(ROOT, "models/handtrack/handtrack.onnx"),
    "handtrack640": os.path.join(ROOT, ".cache/models/handtrack640.onnx"),
    "efficientdet_d0": os.path.join(SHARED, "models/efficientdet_d0/model.onnx"),
}
# (label, environment): every op rounded to fp16, to wider mantissas, and one early tensor only
MODES = [("fp16, every op", {"ODRT_CPU_HALF": "1"}),
         ("fp16, every op + conv weights", {"ODRT_CPU_HALF": "1", "ODRT_CPU_HALF_WEIGHTS": "1"}),
         ("14-bit mantissa, every op", {"ODRT_CPU_HALF": "1", "ODRT_CPU_HALF_BITS": "14"}),
         ("18-bit mantissa, every op", {"ODRT_CPU_HALF": "1", "ODRT_CPU_HALF_BITS": "18"}),
         ("fp16, op 0 only", {"ODRT_CPU_HALF": "0:0"})]


def detect(odrt, engine, imgs, env, d):
    out = os.path.join(d, "det.json")
    subprocess.run([odrt, "detect", engine, *imgs, "--json", out, "--threshold", "0"], check=True,
                   capture_output=True, env={**os.environ, "ODRT_NO_FUSE": "1", **env})
    res = json.load(open(out))
    return [[(x["class_id"], x["score"], x["box_normalized"]) for x in r["detections"]] for r in res["images"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="handtrack,handtrack640,efficientdet_d0")
    ap.add_argument("--odrt", default=os.path.join(ROOT, "build", "odrt"))
    a = ap.parse_args()
    imgs = sorted(glob.glob(os.path.join(SHARED, "images", "*.jpg")))
    print("CPU engine, unfused, activations rounded as given, against the same engine in fp32; %d photos" % len(imgs))
    print("%-16s %-28s %8s %14s %10s" % ("model", "rounding", ">=0.3", "missing@0.9", ">=0.5 lost"))
    with tempfile.TemporaryDirectory() as d:
        for name in a.models.split(","):
            engine = os.path.join(d, name + ".odrt")
            subprocess.run([a.odrt, "build", MODELS[name], "-o", engine], check=True, capture_output=True)
            ref = detect(a.odrt, engine, imgs, {}, d)
            for label, env in MODES:
                got = detect(a.odrt, engine, imgs, env, d)
                n = sum(sum(x[1] >= 0.3 for x in r) for r in ref)
                m3 = sum(len(missing(r, g, 0.3, 0.9, None)) for r, g in zip(ref, got))
                m5 = sum(len(missing(r, g, 0.5, 0.9, None)) for r, g in zip(ref, got))
                print("%-16s %-28s %8d %8d (%4.1f%%) %10d" % (name, label, n, m3, 100.0 * m3 / max(n, 1), m5))


if __name__ == "__main__":
    main()
