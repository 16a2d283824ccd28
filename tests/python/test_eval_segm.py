"""`odrt eval --iou-type segm` against pycocotools' COCOeval("segm"): all 12 stats equal within
1e-6 on the real COCO annotations in ../shared/coco (polygons and a crowd RLE) with generated mask
detections (compressed RLE: the only results form pycocotools reads), on generated ground truth
(polygons reaching past the image, uncompressed and compressed RLE, crowds), and end to
end: a Mask R-CNN engine's masks on the COCO photos (`detect --coco-results`) against its own
`eval --iou-type segm`; odrt's RLE strings decode to the masks pycocotools encodes."""
import contextlib
import glob
import io
import json
import os

import numpy as np
import pytest
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from conftest import ROOT, SHARED, run_odrt

COCO_DIR = os.path.join(SHARED, "coco")
COCO_GT = os.path.join(COCO_DIR, "instances_val2017_subset.json")
TFOD = os.environ.get("ODRT_TFOD_DIR", os.path.join(ROOT, ".cache", "tfod"))


def pycoco_segm(gt_path, res_path):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        e = COCOeval(gt, gt.loadRes(res_path), "segm")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e.stats


def odrt_segm(gt_path, res_path, tmp_path):
    out = tmp_path / "eval.json"
    run_odrt("eval", "--detections", res_path, "--annotations", gt_path, "--iou-type", "segm", "--json", out)
    return np.array(json.loads(out.read_text())["stats_list"])


def rle_json(m):
    r = mask_util.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode()}


def jitter_mask(rng, m):
    """a detection's mask: the ground truth's shifted and eroded or dilated a little, some noise"""
    dy, dx = (int(v) for v in rng.integers(-3, 4, 2))
    out = np.roll(np.roll(m, dy, 0), dx, 1)
    out ^= rng.random(m.shape) < 0.002
    return out


def test_real_coco_masks(tmp_path):
    coco = COCO(COCO_GT) if False else None
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(COCO_GT)
    rng = np.random.default_rng(7)
    res = []
    for i, a in enumerate(coco.dataset["annotations"]):
        if rng.random() < 0.15:
            continue
        m = coco.annToMask(a).astype(bool)
        d = jitter_mask(rng, m)
        seg = rle_json(d)  # pycocotools reads compressed RLE results only
        res.append({"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": seg, "score": float(rng.random())})
    for im in coco.dataset["images"]:  # false positives
        for _ in range(4):
            m = np.zeros((im["height"], im["width"]), bool)
            y, x = int(rng.integers(0, im["height"] - 60)), int(rng.integers(0, im["width"] - 60))
            m[y:y + 50, x:x + 40] = True
            res.append({"image_id": im["id"], "category_id": int(rng.choice([c["id"] for c in coco.dataset["categories"]])),
                        "segmentation": rle_json(m), "score": float(rng.random())})
    (tmp_path / "res.json").write_text(json.dumps(res))
    ref = pycoco_segm(COCO_GT, str(tmp_path / "res.json"))
    got = odrt_segm(COCO_GT, tmp_path / "res.json", tmp_path)
    assert np.allclose(got, ref, atol=1e-6, rtol=0), (got, ref)
    assert ref[0] > 0.1 and any(a.get("iscrowd") for a in coco.dataset["annotations"])


def _counts(m):
    """uncompressed COCO counts of a mask (column-major runs, zeros first)"""
    flat = np.asfortranarray(m).reshape(-1, order="F").astype(np.uint8)
    runs, cur, n = [], 0, 0
    for v in flat:
        if v != cur:
            runs.append(n)
            cur, n = v, 0
        n += 1
    runs.append(n)
    return runs


def generated(seed):
    rng = np.random.default_rng(seed)
    cats = [{"id": c, "name": "c%d" % c} for c in (1, 2, 3)]
    images, anns, res = [], [], []
    aid = 1
    for i in range(6):
        W, H = int(rng.integers(60, 200)), int(rng.integers(60, 200))
        img_id = 100 + i
        images.append({"id": img_id, "file_name": "%d.jpg" % img_id, "width": W, "height": H})
        for _ in range(int(rng.integers(0, 6))):
            cx, cy, r = float(rng.uniform(0, W)), float(rng.uniform(0, H)), float(rng.uniform(2, 40))
            k = int(rng.integers(3, 9))
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            poly = [float(v) for a in ang for v in (cx + r * np.cos(a), cy + r * np.sin(a))]  # may leave the image
            form = int(rng.integers(0, 3))
            m = mask_util.decode(mask_util.merge(mask_util.frPyObjects([poly], H, W))).astype(bool)
            if form == 0:
                seg = [poly]
            elif form == 1:
                seg = {"size": [H, W], "counts": _counts(m)}
            else:
                seg = rle_json(m)
            crowd = int(rng.random() < 0.15)
            cat = int(rng.integers(1, 3))
            anns.append({"id": aid, "image_id": img_id, "category_id": cat, "segmentation": seg, "area": float(m.sum()),
                         "bbox": [float(v) for v in mask_util.toBbox(mask_util.encode(np.asfortranarray(m.astype(np.uint8))))],
                         "iscrowd": crowd})
            aid += 1
            for _ in range(int(rng.integers(0, 3))):
                res.append({"image_id": img_id, "category_id": cat, "segmentation": rle_json(jitter_mask(rng, m)),
                            "score": float(np.round(rng.random(), 2))})
        for _ in range(int(rng.integers(0, 4))):
            m = rng.random((H, W)) < 0.02
            res.append({"image_id": img_id, "category_id": int(rng.integers(1, 4)), "segmentation": rle_json(m),
                        "score": float(np.round(rng.random(), 2))})
    return {"images": images, "annotations": anns, "categories": cats}, res


@pytest.mark.parametrize("seed", range(4))
def test_generated_masks(seed, tmp_path):
    gt, res = generated(seed)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    ref = pycoco_segm(str(tmp_path / "gt.json"), str(tmp_path / "res.json"))
    got = odrt_segm(tmp_path / "gt.json", tmp_path / "res.json", tmp_path)
    assert np.allclose(got, ref, atol=1e-6, rtol=0), (got, ref)


def mask_fixtures():
    found = []
    for d in sorted(glob.glob(os.path.join(TFOD, "*", "DONE"))):
        m = json.load(open(os.path.join(os.path.dirname(d), "manifest.json")))
        if "mask" in m["name"]:
            found.append(os.path.join(os.path.dirname(d), "model.onnx"))
    return found


@pytest.mark.skipif(not mask_fixtures(), reason="no Mask R-CNN fixture (tools/setup.sh makes them)")
def test_engine_masks_end_to_end(tmp_path):
    """a Mask R-CNN engine on the COCO photos: pycocotools on `detect --coco-results` (its RLE masks)
    equals `eval --iou-type segm` of the same engine; the RLE strings are pycocotools' encoding"""
    model = mask_fixtures()[0]
    run_odrt("build", model, "-o", tmp_path / "m.odrt", "--class-offset", "1", timeout=600)
    run_odrt("detect", tmp_path / "m.odrt", os.path.join(COCO_DIR, "images"), "--coco-results", tmp_path / "r.json",
             "--threshold", "0", timeout=600)
    res = json.loads((tmp_path / "r.json").read_text())
    assert res and all("segmentation" in r for r in res)
    for r in res[:20]:  # decode and re-encode with pycocotools: the same string
        m = mask_util.decode({"size": r["segmentation"]["size"], "counts": r["segmentation"]["counts"].encode()})
        assert mask_util.encode(np.asfortranarray(m))["counts"].decode() == r["segmentation"]["counts"]
    ref = pycoco_segm(COCO_GT, str(tmp_path / "r.json"))
    out = tmp_path / "eval.json"
    run_odrt("eval", tmp_path / "m.odrt", "--images", os.path.join(COCO_DIR, "images"), "--annotations", COCO_GT,
             "--iou-type", "segm", "--json", out, timeout=600)
    got = np.array(json.loads(out.read_text())["stats_list"])
    assert np.allclose(got, ref, atol=1e-6, rtol=0), (got, ref)


def test_segm_bad_input(tmp_path):
    gt = json.load(open(COCO_GT))
    im = gt["images"][0]
    good = {"image_id": im["id"], "category_id": gt["categories"][0]["id"], "score": 0.5,
            "segmentation": rle_json(np.ones((im["height"], im["width"]), bool))}
    cases = [(lambda r: r.pop("segmentation"), "segmentation"),
             (lambda r: r["segmentation"].update(counts="\x7f\x7f"), "segmentation"),
             (lambda r: r["segmentation"].update(counts="0"), "segmentation"),
             (lambda r: r["segmentation"].update(size=[3]), "segmentation")]
    for i, (edit, msg) in enumerate(cases):
        r = json.loads(json.dumps(good))
        edit(r)
        (tmp_path / ("r%d.json" % i)).write_text(json.dumps([r]))
        p = run_odrt("eval", "--detections", tmp_path / ("r%d.json" % i), "--annotations", COCO_GT, "--iou-type", "segm", check=False)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 1 and len(lines) == 1 and msg in lines[0], p.stderr
