"""`odrt eval` against pycocotools' COCOeval: all 12 stats equal within 1e-6 on generated ground
truth and detections (crowd regions, every area range, images without ground truth, categories
without detections, more than 100 detections per image, exact score ties, boxes on the image
border), on the real COCO annotations in ../shared/coco with generated detections, and end to end
(an engine's detections on the COCO photos). Bad files give one line naming the file."""
import contextlib
import io
import json
import os

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from conftest import MODEL, SHARED, run_odrt

COCO_DIR = os.path.join(SHARED, "coco")
COCO_GT = os.path.join(COCO_DIR, "instances_val2017_subset.json")


def pycoco_stats(gt_path, res):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(res) if res else COCO()
        if not res:  # pycocotools cannot load an empty result list; no detections: recall/precision 0 or -1
            dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"], "annotations": []}
            dt.createIndex()
        e = COCOeval(gt, dt, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e.stats, e


def odrt_stats(gt_path, res_path, tmp_path, *extra):
    out = tmp_path / "eval.json"
    run_odrt("eval", "--detections", res_path, "--annotations", gt_path, "--json", out, *extra)
    return np.array(json.loads(out.read_text())["stats_list"]), json.loads(out.read_text())


def generated(seed):
    rng = np.random.default_rng(seed)
    cats = [{"id": int(c), "name": "c%d" % c} for c in rng.choice(np.arange(1, 40), 6, replace=False)]
    images, anns, res = [], [], []
    aid = 1
    for i in range(12):
        W, H = int(rng.integers(200, 900)), int(rng.integers(200, 900))
        img_id = int(rng.integers(1, 10 ** 6)) * 10 + i
        images.append({"id": img_id, "file_name": "%d.jpg" % img_id, "width": W, "height": H})
        n_gt = 0 if i % 5 == 4 else int(rng.integers(1, 12))  # some images without ground truth
        for _ in range(n_gt):
            scale = rng.choice([12, 50, 200])  # small / medium / large
            w, h = float(rng.uniform(2, scale)), float(rng.uniform(2, scale))
            x = float(rng.choice([0.0, W - w, rng.uniform(0, W - w)]))  # on the border sometimes
            y = float(rng.choice([0.0, H - h, rng.uniform(0, H - h)]))
            crowd = int(rng.random() < 0.1)
            cat = cats[int(rng.integers(0, 5))]["id"]  # the last category never has ground truth
            area = w * h * float(rng.uniform(0.5, 1.0)) if rng.random() < 0.7 else w * h
            anns.append({"id": aid, "image_id": img_id, "category_id": cat, "bbox": [x, y, w, h], "area": area,
                         "iscrowd": crowd})
            aid += 1
            for _ in range(int(rng.integers(0, 3))):  # detections near it
                j = rng.normal(0, 0.15, 4) * [w, h, w, h]
                res.append({"image_id": img_id, "category_id": cat if rng.random() < 0.85 else cats[int(rng.integers(0, 6))]["id"],
                            "bbox": [x + j[0], y + j[1], max(0.5, w + j[2]), max(0.5, h + j[3])],
                            "score": float(np.round(rng.random(), 2))})  # rounded: exact ties
        n_fp = 130 if i == 1 else int(rng.integers(0, 6))  # one image with more than 100 detections
        for _ in range(n_fp):
            w, h = float(rng.uniform(1, 300)), float(rng.uniform(1, 300))
            res.append({"image_id": img_id, "category_id": cats[int(rng.integers(0, 5))]["id"],
                        "bbox": [float(rng.uniform(0, W)), float(rng.uniform(0, H)), w, h],
                        "score": float(np.round(rng.random(), 2))})
    return {"images": images, "annotations": anns, "categories": cats}, res


@pytest.mark.parametrize("seed", range(6))
def test_generated_matches_pycocotools(seed, tmp_path):
    gt, res = generated(seed)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    ref, e = pycoco_stats(str(tmp_path / "gt.json"), str(tmp_path / "res.json"))
    got, js = odrt_stats(tmp_path / "gt.json", tmp_path / "res.json", tmp_path)
    assert np.allclose(got, ref, atol=1e-6, rtol=0), (got, ref)
    assert sum(a["iscrowd"] for a in gt["annotations"]) > 0 and len(res) > 100
    # per-class AP: precision[:, :, k, area all, maxDets 100] as pycocotools accumulates it
    p = e.eval["precision"]
    for k, c in enumerate(js["per_class"]):
        s = p[:, :, k, 0, 2]
        want = np.mean(s[s > -1]) if (s > -1).any() else -1
        assert abs(c["AP"] - want) <= 1e-6, (c, want)


def test_real_coco_annotations(tmp_path):
    gt = json.load(open(COCO_GT))
    rng = np.random.default_rng(3)
    res = []
    for a in gt["annotations"]:  # jittered ground truth, some misses, some false positives
        if rng.random() < 0.2:
            continue
        x, y, w, h = a["bbox"]
        j = rng.normal(0, 0.1, 4) * [w, h, w, h]
        res.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": [x + j[0], y + j[1], w + j[2], h + j[3]],
                    "score": float(rng.random())})
    cats = [c["id"] for c in gt["categories"]]
    for im in gt["images"]:
        for _ in range(5):
            res.append({"image_id": im["id"], "category_id": int(rng.choice(cats)),
                        "bbox": [float(rng.uniform(0, im["width"] - 50)), float(rng.uniform(0, im["height"] - 50)), 50.0, 40.0],
                        "score": float(rng.random())})
    (tmp_path / "res.json").write_text(json.dumps(res))
    ref, _ = pycoco_stats(COCO_GT, str(tmp_path / "res.json"))
    got, _ = odrt_stats(COCO_GT, tmp_path / "res.json", tmp_path, "--per-class")
    assert np.allclose(got, ref, atol=1e-6, rtol=0), (got, ref)
    assert ref[0] > 0.1


def test_engine_eval_end_to_end(tmp_path):
    """eval ENGINE --images = pycocotools on the same engine's `detect --coco-results`"""
    run_odrt("build", MODEL, "-o", tmp_path / "e.odrt")
    run_odrt("detect", tmp_path / "e.odrt", os.path.join(COCO_DIR, "images"), "--coco-results", tmp_path / "r.json",
             "--threshold", "0")
    res = json.loads((tmp_path / "r.json").read_text())
    assert res
    ref, _ = pycoco_stats(COCO_GT, str(tmp_path / "r.json"))
    out = tmp_path / "eval.json"
    p = run_odrt("eval", tmp_path / "e.odrt", "--images", os.path.join(COCO_DIR, "images"), "--annotations", COCO_GT,
                 "--json", out)
    got = np.array(json.loads(out.read_text())["stats_list"])
    assert np.allclose(got, ref, atol=1e-6, rtol=0), (got, ref)
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in p.stdout


def test_bad_files(tmp_path):
    gt = json.load(open(COCO_GT))
    good_res = [{"image_id": gt["images"][0]["id"], "category_id": gt["categories"][0]["id"], "bbox": [1, 2, 3, 4], "score": 0.5}]
    cases = [
        ("gt", lambda g: g.pop("annotations"), "missing or non-array 'annotations'"),
        ("gt", lambda g: g.update(images="x"), "missing or non-array 'images'"),
        ("gt", lambda g: g["annotations"][0].pop("area"), "'area'"),
        ("gt", lambda g: g["annotations"][0].update(bbox=[1, 2, -3, 4]), "negative bbox size"),
        ("gt", lambda g: g["annotations"][0].update(image_id=-5), "unknown image_id -5"),
        ("gt", lambda g: g["annotations"][0].update(category_id=9999), "unknown category_id 9999"),
        ("gt", lambda g: g["annotations"][0].update(bbox="wide"), "'bbox'"),
        ("gt", lambda g: g["images"][0].update(id="one"), "images[0]"),
        ("res", lambda r: r[0].update(image_id=123), "image_id 123 is not in the annotations"),
        ("res", lambda r: r[0].update(category_id=999), "category_id 999 is not in the annotations"),
        ("res", lambda r: r[0].pop("score"), "'score'"),
        ("res", lambda r: r[0].update(bbox=[0, 0, 1]), "'bbox'"),
    ]
    for i, (which, edit, msg) in enumerate(cases):
        g, r = json.loads(json.dumps(gt)), json.loads(json.dumps(good_res))
        edit(g if which == "gt" else r)
        gp, rp = tmp_path / ("g%d.json" % i), tmp_path / ("r%d.json" % i)
        gp.write_text(json.dumps(g))
        rp.write_text(json.dumps(r))
        p = run_odrt("eval", "--detections", rp, "--annotations", gp, check=False)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 1 and len(lines) == 1 and msg in lines[0], (which, msg, p.stderr)
        assert str(gp if which == "gt" else rp) in lines[0]
    (tmp_path / "trunc.json").write_text(json.dumps(gt)[:500])
    p = run_odrt("eval", "--detections", tmp_path / "r0.json", "--annotations", tmp_path / "trunc.json", check=False)
    assert p.returncode == 1 and "not valid JSON" in p.stderr and "trunc.json" in p.stderr
    p = run_odrt("eval", "--annotations", COCO_GT, check=False)
    assert p.returncode == 2
