#!/usr/bin/env python3
"""Detection parity of two `odrt detect --json` outputs (A the reference, e.g. the CPU engine; B a
CUDA engine) with the families issue's criteria: every A detection with score >= --min-score is
matched by a B detection of the same class with IoU >= --iou and |score difference| <= --score-tol
(and, both with masks, mask IoU >= --mask-iou on the frame), and the other way round. Needs numpy
only (the GPU machine has no pycocotools: COCO's compressed RLE is decoded here).

  python3 tools/gpu_parity.py A.json B.json [--min-score 0.05] [--iou 0.99] [--score-tol 1e-4]
          [--mask-iou 0.99]

Prints one summary line (matched, missed each way, worst IoU, worst score difference, worst mask
IoU); exit 0 when nothing is missed."""
import argparse
import json
import sys

import numpy as np


def rle_counts(s):
    """COCO's compressed RLE string -> run lengths (maskApi's rleFrString)"""
    cnts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, 1
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = c & 0x20
            p, k = p + 1, k + 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(cnts) > 2:
            x += cnts[-2]
        cnts.append(x)
    return cnts


def rle_mask(m):
    h, w = m["size"]
    flat = np.zeros(h * w, np.uint8)
    at, v = 0, 0
    for n in rle_counts(m["counts"]):
        flat[at:at + n] = v
        at, v = at + n, 1 - v
    return flat.reshape(w, h).T  # runs are column-major


def iou(a, b):
    ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def one_way(A, B, a):
    """A's detections >= min score each matched in B: (matched, missed, worst iou, worst dscore, worst mask iou)"""
    n = miss = 0
    w_iou, w_ds, w_mask = 1.0, 0.0, 1.0
    for ra, rb in zip(A, B):
        for d in ra:
            if d["score"] < a.min_score:
                continue
            cands = [(iou(d["box_normalized"], e["box_normalized"]), e) for e in rb if e["class_id"] == d["class_id"]]
            ok = [(i, e) for i, e in cands if i >= a.iou and abs(e["score"] - d["score"]) <= a.score_tol]
            if not ok:
                miss += 1
                continue
            i, e = max(ok, key=lambda t: t[0])
            n += 1
            w_iou, w_ds = min(w_iou, i), max(w_ds, abs(e["score"] - d["score"]))
            if "mask" in d and "mask" in e:
                ma, mb = rle_mask(d["mask"]), rle_mask(e["mask"])
                u = np.logical_or(ma, mb).sum()
                mi = np.logical_and(ma, mb).sum() / u if u else 1.0
                w_mask = min(w_mask, mi)
                if mi < a.mask_iou:
                    miss += 1
    return n, miss, w_iou, w_ds, w_mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--min-score", type=float, default=0.05)
    ap.add_argument("--iou", type=float, default=0.99)
    ap.add_argument("--score-tol", type=float, default=1e-4)
    ap.add_argument("--mask-iou", type=float, default=0.99)
    a = ap.parse_args()
    A = [r["detections"] for r in json.load(open(a.a))["images"]]
    B = [r["detections"] for r in json.load(open(a.b))["images"]]
    if len(A) != len(B):
        sys.exit("different image counts: %d vs %d" % (len(A), len(B)))
    n, m1, wi, wd, wm = one_way(A, B, a)
    _, m2, wi2, wd2, wm2 = one_way(B, A, a)
    print("matched %d (score >= %g), missed %d / extra %d; worst IoU %.5f, worst |dscore| %.2e, worst mask IoU %.5f" %
          (n, a.min_score, m1, m2, min(wi, wi2), max(wd, wd2), min(wm, wm2)))
    return 0 if n > 0 and m1 == 0 and m2 == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
