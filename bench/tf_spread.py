#!/usr/bin/env python3
"""How far TensorFlow is from itself, against how far odrt is from TensorFlow: each family fixture's
SavedModel run by TensorFlow twice, with its oneDNN kernels (TF_ENABLE_ONEDNN_OPTS=1, the default on
x86) and with its Eigen kernels (=0), each in its own process, and by `odrt run`, on the shared photos;
printed: max |difference| of the raw boxes and raw scores between each pair.

  .venv/bin/python bench/tf_spread.py [--odrt build/odrt] [--photos 2] [--models ssd_resnet50_fpn_384,...]

Deep float32 networks amplify rounding: two correct float32 implementations differ by what their
summation orders give, and that is the floor any reference comparison sits on.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.environ.get("ODRT_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
TFOD = os.environ.get("ODRT_TFOD_DIR", os.path.join(ROOT, ".cache", "tfod"))
KEYS = ("raw_detection_boxes", "raw_detection_scores")

TF_CHILD = r"""
import sys, numpy as np
from PIL import Image
import tensorflow as tf
sm, out, photos = sys.argv[1], sys.argv[2], sys.argv[3:]
sig = tf.saved_model.load(sm).signatures["serving_default"]
res = {}
for i, p in enumerate(photos):
    x = np.array(Image.open(p).convert("RGB"))[None]
    o = sig(input_tensor=tf.constant(x))
    for k in %r:
        if k in o:
            res["%%d/%%s" %% (i, k)] = o[k].numpy()
np.savez(out, **res)
""" % (KEYS,)


def tf_run(sm, photos, onednn, out):
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1" if onednn else "0", TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", TF_CHILD, sm, out] + photos, check=True, env=env, capture_output=True)
    return dict(np.load(out))


def odrt_run(odrt, sm, photos, tmp):
    from PIL import Image
    res = {}
    for i, p in enumerate(photos):
        np.save(os.path.join(tmp, "x.npy"), np.array(Image.open(p).convert("RGB"))[None])
        od = os.path.join(tmp, "o")
        subprocess.run([odrt, "run", sm, "--input", "input_tensor=" + os.path.join(tmp, "x.npy"), "--output-dir", od],
                       check=True, capture_output=True)
        for o in json.load(open(os.path.join(od, "outputs.json")))["outputs"]:
            if o["name"] in KEYS:
                res["%d/%s" % (i, o["name"])] = np.load(os.path.join(od, o["file"]))
    return res


def dist(a, b, key):
    ks = [k for k in a if k.endswith(key) and k in b]
    return max(float(np.abs(a[k] - b[k]).max()) for k in ks) if ks else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--odrt", default=os.path.join(ROOT, "build", "odrt"))
    ap.add_argument("--photos", type=int, default=2)
    ap.add_argument("--models", default="")
    a = ap.parse_args()
    photos = sorted(glob.glob(os.path.join(SHARED, "images", "*.jpg")))[:a.photos]
    names = a.models.split(",") if a.models else sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(TFOD, "*", "DONE")))
    print("| model | output | TF oneDNN vs TF Eigen | odrt vs TF oneDNN | odrt vs TF Eigen |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for n in names:
            sm = os.path.join(TFOD, n, "export", "saved_model")
            t1 = tf_run(sm, photos, True, os.path.join(tmp, "t1.npz"))
            t0 = tf_run(sm, photos, False, os.path.join(tmp, "t0.npz"))
            od = odrt_run(a.odrt, sm, photos, tmp)
            for key in KEYS:
                if any(k.endswith(key) for k in t1):
                    print("| %s | %s | %.2e | %.2e | %.2e |" % (n, key, dist(t1, t0, key), dist(od, t1, key), dist(od, t0, key)), flush=True)


if __name__ == "__main__":
    main()
