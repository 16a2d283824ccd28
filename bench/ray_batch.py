#!/usr/bin/env python3
"""Batch detection with Ray Data on a local cluster: odrt.serving.ray.Detector as the map_batches actor
(one engine per actor) over a folder of photos; images/s and a check of every row against `odrt detect`.

    python bench/ray_batch.py ENGINE PHOTO_DIR [--repeat 4] [--actors 2] [--batch-size 4] [--threads 1]
On a cluster: ray.init(address="auto") and paths every node can read (docs/serving.md)."""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def run(engine, photos, actors=2, batch_size=4, threads=1, column="path"):
    """rows of the detected dataset (in input order) and the seconds map_batches took"""
    import ray

    import odrt
    from odrt.serving.ray import Detector, resources
    items = [{"path": p} for p in photos] if column == "path" else [{"image": odrt.load_image(p), "path": p} for p in photos]
    ds = ray.data.from_items(items)
    t0 = time.perf_counter()
    out = ds.map_batches(Detector, fn_constructor_kwargs={"engine": str(engine), "threads": threads}, concurrency=actors,
                         batch_size=batch_size, batch_format="numpy", **resources(str(engine), cpus_per_actor=1))
    rows = out.take_all()
    dt = time.perf_counter() - t0
    order = {p: i for i, p in enumerate(photos)}
    rows.sort(key=lambda r: order[str(r["path"])])
    return rows, dt


def check(rows, cli, engine, tmp):
    """rows that differ from `odrt detect --threshold 0` on the same engine"""
    uniq = sorted({str(r["path"]) for r in rows})
    out = os.path.join(tmp, "cli.json")
    subprocess.run([cli, "detect", engine, *uniq, "--threshold", "0", "--json", out], check=True, capture_output=True)
    want = {im["file"]: im["detections"] for im in json.load(open(out))["images"]}
    bad = []
    for r in rows:
        w = want[str(r["path"])]
        ok = (int(r["num_detections"]) == len(w)
              and np.array_equal(np.asarray(r["detection_classes"]), np.array([d["class_id"] for d in w], np.int32))
              and np.array_equal(np.asarray(r["detection_scores"]), np.array([d["score"] for d in w], np.float32))
              and np.array_equal(np.asarray(r["detection_boxes"]).reshape(-1, 4),
                                 np.array([d["box_normalized"] for d in w], np.float32).reshape(-1, 4)))
        if not ok:
            bad.append(str(r["path"]))
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engine")
    ap.add_argument("photo_dir")
    ap.add_argument("--repeat", type=int, default=4, help="each photo this many times (a larger dataset)")
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cli", default=os.environ.get("ODRT_BIN", "build/odrt"))
    a = ap.parse_args(argv)
    import ray
    photos = sorted(p for p in glob.glob(os.path.join(a.photo_dir, "*")) if p.lower().endswith((".jpg", ".jpeg", ".png")))
    ray.init(num_cpus=max(2, a.actors), include_dashboard=False, logging_level="ERROR")
    try:
        run(a.engine, photos[:2], a.actors, a.batch_size, a.threads)  # actors start, engines load
        rows, dt = run(a.engine, photos * a.repeat, a.actors, a.batch_size, a.threads)
    finally:
        ray.shutdown()
    bad = check(rows, a.cli, a.engine, tempfile.mkdtemp())
    print("Ray Data: %d images, %d actors x %d threads, batches of %d: %.2f s, %.1f images/s; %d differ from odrt detect"
          % (len(rows), a.actors, a.threads, a.batch_size, dt, len(rows) / dt, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
