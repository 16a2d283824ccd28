#!/usr/bin/env python3
"""SavedModel -> engine file: odrt reading the SavedModel itself, against the road it replaces
(tf2onnx converting the SavedModel, TensorFlow loading it, then `odrt build` on the ONNX), on the
same model in one run, wall time on this machine. Prints a table (markdown).

    .venv/bin/python bench/tf_reader.py [--models efficientdet_d0_512_coco ssd_mobilenet_v2_320]
        [--tfod-dir .cache/tfod] [--tf2onnx-python ~/.cache/odrt/venv-tfod-*/bin/python]

tf2onnx runs in the TF OD API fixtures' venv (TensorFlow 2.15, tf2onnx 1.17: what exported them),
opset 13 as tools/fixtures/make_tfod_exports.py converts. Each route writes into a fresh temp dir."""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def timed(cmd, **kw):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t
    if p.returncode:
        raise SystemExit("failed: %s\n%s" % (" ".join(map(str, cmd)), p.stderr[-2000:]))
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["efficientdet_d0_512_coco", "ssd_mobilenet_v2_320"])
    ap.add_argument("--tfod-dir", default=os.path.join(ROOT, ".cache", "tfod"))
    ap.add_argument("--odrt", default=os.path.join(ROOT, "build", "odrt"))
    venvs = sorted(glob.glob(os.path.expanduser("~/.cache/odrt/venv-tfod-*/bin/python")))
    ap.add_argument("--tf2onnx-python", default=venvs[-1] if venvs else None)
    args = ap.parse_args()
    if not args.tf2onnx_python:
        raise SystemExit("no TF OD API venv with tf2onnx: run tools/setup.sh (or pass --tf2onnx-python)")
    rows = []
    for name in args.models:
        sm = os.path.join(args.tfod_dir, name, "export", "saved_model")
        with tempfile.TemporaryDirectory() as tmp:
            t_odrt = timed([args.odrt, "build", sm, "-o", os.path.join(tmp, "a.odrt")])
            onnx = os.path.join(tmp, "m.onnx")
            t_conv = timed([args.tf2onnx_python, "-m", "tf2onnx.convert", "--saved-model", sm, "--output", onnx, "--opset", "13"],
                           env=dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3"))
            t_build = timed([args.odrt, "build", onnx, "-o", os.path.join(tmp, "b.odrt")])
            size = os.path.getsize(os.path.join(tmp, "a.odrt"))
        rows.append((name, t_odrt, t_conv, t_build, size))
        print("%s: odrt %.2f s; tf2onnx %.1f s + odrt build %.2f s" % (name, t_odrt, t_conv, t_build), file=sys.stderr)
    print("| model | odrt build SAVED_MODEL_DIR (s) | tf2onnx (s) | + odrt build ONNX (s) | road total (s) | ratio | engine MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, a, c, b, size in rows:
        print("| %s | %.2f | %.1f | %.2f | %.1f | %.0fx | %.1f |" % (name, a, c, b, c + b, (c + b) / a, size / 2**20))


if __name__ == "__main__":
    main()
