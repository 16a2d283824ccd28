"""odrt engines (build / detect / bench) against the reference executor running the original
export: every detection with score >= 0.05 must be matched both ways (same class, IoU >= 0.99,
|score diff| <= 1e-4), for handtrack and handtrack640, at batch 1 and batch 4, on every shared
photo fed at its own size (the engine's fused preprocessing must reproduce the export's resize)."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from conftest import MODEL, ROOT, SHARED, missing as unmatched, run_odrt

M640 = os.path.join(ROOT, ".cache", "models", "handtrack640.onnx")
MODELS = {"handtrack": (MODEL, os.path.join(SHARED, "models", "handtrack", "label_map.pbtxt")),
          "handtrack640": (M640, os.path.join(SHARED, "models", "handtrack640", "label_map.pbtxt"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """the original export on the reference executor (`odrt run`), per model and photo"""
    d = tmp_path_factory.mktemp("ref")
    cache = {}

    def get(name, img):
        key = (name, img)
        if key not in cache:
            out = d / ("%s_%d" % (name, len(cache)))
            run_odrt("run", MODELS[name][0], "--image", "input_tensor=%s" % img, "--output-dir", out, timeout=300)
            n = int(np.load(out / "num_detections.npy")[0])
            s, b, c = (np.load(out / ("detection_%s.npy" % k))[0] for k in ("scores", "boxes", "classes"))
            # the TF.js-quantised class table makes ids like 1.988: compared rounded (docs/convert.md)
            cache[key] = [(int(round(float(c[i]))), float(s[i]), [float(v) for v in b[i]]) for i in range(n)]
        return cache[key]
    return get


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    d = tmp_path_factory.mktemp("engines")
    cache = {}

    def get(name, *args):
        key = (name,) + args
        if key not in cache:
            if not os.path.exists(MODELS[name][0]):
                pytest.fail("%s missing: run tools/setup.sh" % MODELS[name][0])
            out = d / ("e%d.odrt" % len(cache))
            run_odrt("build", MODELS[name][0], "-o", out, "--labels", MODELS[name][1], *args, timeout=300)
            cache[key] = out
        return cache[key]
    return get


def detect_json(target, imgs, tmp_path, *args):
    out = tmp_path / "det.json"
    run_odrt("detect", target, *imgs, "--json", out, "--threshold", "0", *args, timeout=300)
    res = json.loads(out.read_text())
    assert [r["file"] for r in res["images"]] == [str(i) for i in imgs]
    return [[(d["class_id"], d["score"], d["box_normalized"]) for d in r["detections"]] for r in res["images"]], res


@pytest.mark.parametrize("name", ["handtrack", "handtrack640"])
@pytest.mark.parametrize("batch", [1, 4])
def test_engine_matches_reference(name, batch, engine, reference, images, tmp_path):
    e = engine(name, "--batch", str(batch))
    got, res = detect_json(e, images, tmp_path)  # 6 photos: batches of 4 and 2 at batch 4
    n_checked = 0
    for img, dets in zip(images, got):
        ref = reference(name, img)
        assert not unmatched(ref, dets), (img, unmatched(ref, dets)[:5])
        assert not unmatched(dets, ref), (img, unmatched(dets, ref)[:5])
        n_checked += sum(d[1] >= 0.05 for d in ref)
    assert n_checked >= 20  # the photos do have detections to compare


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
def test_each_cpu_kernel_set_matches_reference(isa, engine, reference, images, tmp_path, monkeypatch):
    """the run-time kernel choice: every set this CPU can run (ODRT_CPU_ISA asks for one) gives
    the reference's detections; a set the CPU lacks is skipped"""
    monkeypatch.setenv("ODRT_CPU_ISA", isa)
    e = engine("handtrack")
    got = json.loads(run_odrt("bench", e, "--iterations", "1", "--warmup", "0", "--json").stdout)["cpu_kernels"]
    if got != isa:
        pytest.skip("this CPU runs no %s kernels (%s chosen)" % (isa, got))
    dets, _ = detect_json(e, images, tmp_path)
    for img, d in zip(images, dets):
        ref = reference("handtrack", img)
        assert not unmatched(ref, d) and not unmatched(d, ref), img


def test_detect_pixels_labels_and_model_argument(engine, images, tmp_path):
    e = engine("handtrack")
    got, res = detect_json(e, images[:2], tmp_path)
    import re
    pbtxt = open(MODELS["handtrack"][1]).read()  # the label map itself: id -> display_name
    names = {int(i): n for i, n in re.findall(r'id:\s*(\d+)\s*name:\s*"[^"]*"\s*display_name:\s*"([^"]*)"', pbtxt)}
    assert len(names) == 7
    for r in res["images"]:
        w, h = Image.open(r["file"]).size
        assert (r["width"], r["height"]) == (w, h)
        for d in r["detections"]:
            assert d["label"] == names[d["class_id"]]
            ymin, xmin, ymax, xmax = d["box_normalized"]
            assert np.allclose(d["box"], [xmin * w, ymin * h, xmax * w, ymax * h], atol=1e-3)
    # a MODEL argument is built in memory: the same detections as the engine file
    got2, _ = detect_json(MODEL, images[:2], tmp_path)
    assert got2 == got


def test_detect_text_draw_and_coco(engine, images, tmp_path):
    e = engine("handtrack")
    p = run_odrt("detect", e, images[0], "--draw", tmp_path / "draw")
    assert "face" in p.stdout and "detections with score >= 0.30" in p.stdout
    drawn = np.asarray(Image.open(tmp_path / "draw" / (os.path.splitext(os.path.basename(images[0]))[0] + ".jpg")).convert("RGB"))
    orig = np.asarray(Image.open(images[0]).convert("RGB"))
    assert drawn.shape == orig.shape
    diff = np.abs(drawn.astype(int) - orig.astype(int)).max(axis=2) > 60
    assert 0.001 < diff.mean() < 0.2  # boxes and tags drawn, the photo otherwise kept
    run_odrt("detect", e, os.path.dirname(images[0]), "--coco-results", tmp_path / "coco.json")
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert coco and all(set(c) == {"image_id", "category_id", "bbox", "score"} for c in coco)
    assert {c["image_id"] for c in coco} <= set(range(len(images)))


def test_fixed_frame_size(engine, images, tmp_path):
    w, h = Image.open(images[0]).size
    e = engine("handtrack", "--input-shape", "%dx%d" % (h, w))
    got, _ = detect_json(e, images[:1], tmp_path)
    ref, _ = detect_json(engine("handtrack"), images[:1], tmp_path)
    assert got == ref
    Image.open(images[0]).resize((w // 2, h // 2)).save(tmp_path / "small.png")
    p = run_odrt("detect", e, tmp_path / "small.png", check=False)
    assert p.returncode == 1 and "built for %dx%d frames" % (h, w) in p.stderr


def test_bench_json(engine):
    p = run_odrt("bench", engine("handtrack"), "--iterations", "5", "--warmup", "1", "--json", timeout=300)
    b = json.loads(p.stdout)
    assert 0 < b["load_min_ms"] <= b["load_ms"] < 2000
    assert 0 < b["min_ms"] <= b["median_ms"] <= b["p90_ms"] <= b["p99_ms"] <= b["max_ms"]
    assert b["throughput_ips"] > 0 and b["peak_rss_mib"] > 0 and b["batch"] == 1
    p = run_odrt("bench", engine("handtrack"), "--iterations", "3", "--warmup", "0", timeout=300)
    assert "Engine load (file -> ready" in p.stdout and "percentile(99%)" in p.stdout


def test_bench_streams(engine):
    """--streams: handles on one engine detecting concurrently, their images/s; bad counts refused"""
    b = json.loads(run_odrt("bench", engine("handtrack"), "--iterations", "4", "--warmup", "1", "--streams", "2", "--json",
                            timeout=300).stdout)
    assert b["streams"] == 2 and b["streams_throughput_ips"] > 0
    for bad in ("0", "17", "x"):
        p = run_odrt("bench", engine("handtrack"), "--streams", bad, check=False, timeout=60)
        assert p.returncode == 2 and "usage" in p.stderr, (bad, p.stderr)


def test_cuda_engine_without_a_gpu(tmp_path):
    """a CUDA engine builds, saves and inspects anywhere; it runs only where there is a GPU"""
    e = tmp_path / "c.odrt"
    has_cuda = "cuda" in run_odrt("--version").stdout
    p = run_odrt("build", MODEL, "-o", e, "--device", "cuda", "--precision", "fp16", check=False)
    if not has_cuda:
        assert p.returncode == 1 and "built without CUDA" in p.stderr and not e.exists()
        return
    assert p.returncode == 0, p.stderr
    info = json.loads(run_odrt("inspect", e, "--json").stdout)
    assert info["device"] == "cuda" and info["precision"] == "fp16"
    p = run_odrt("detect", e, os.path.join(SHARED, "images", "sample1.jpg"), check=False)
    if p.returncode:  # only where there is no GPU (CI), and then one line saying so; any other failure fails
        assert "cuda: no usable GPU" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_build_errors(tmp_path):
    for args, msg in ((["--precision", "fp16"], "fp16"), (["--device", "tpu"], "unknown --device")):
        p = run_odrt("build", MODEL, "-o", tmp_path / "x.odrt", *args, check=False)
        assert p.returncode == 1 and msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (tmp_path / "x.odrt").exists()
    p = run_odrt("build", MODEL, "-o", tmp_path / "x.odrt", "--batch", "0", check=False)
    assert p.returncode == 2
    p = run_odrt("build", tmp_path / "nope.onnx", "-o", tmp_path / "x.odrt", check=False)
    assert p.returncode == 1 and "cannot open" in p.stderr
    p = run_odrt("detect", MODEL, tmp_path / "nope.jpg", check=False)
    assert p.returncode == 1 and "no such file" in p.stderr
    (tmp_path / "text.jpg").write_text("not a picture")
    p = run_odrt("detect", MODEL, tmp_path / "text.jpg", check=False)
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1


def test_labels_plain_text(engine, images, tmp_path):
    (tmp_path / "labels.txt").write_text("\n".join("name%d" % i for i in range(7)) + "\n")
    out = tmp_path / "d.json"
    run_odrt("detect", engine("handtrack"), images[0], "--labels", tmp_path / "labels.txt", "--json", out)
    dets = json.loads(out.read_text())["images"][0]["detections"]
    assert dets and all(d["label"] == "name%d" % (d["class_id"] - 1) for d in dets)


def test_inspect_engine(engine, tmp_path):
    import hashlib
    e = engine("handtrack", "--batch", "4")
    info = json.loads(run_odrt("inspect", e, "--json").stdout)
    assert info["source_sha256"] == hashlib.sha256(open(MODEL, "rb").read()).hexdigest()
    assert info["input"]["batch"] == 4 and info["input"]["network_size"] == [320, 320]
    import re
    pbtxt = open(MODELS["handtrack"][1]).read()
    assert info["labels"] == re.findall(r'display_name:\s*"([^"]*)"', pbtxt) and info["postprocessing"]["anchors"] == 12804
    assert info["file_bytes"] == os.path.getsize(e)
    p = run_odrt("inspect", e)
    assert "batch 4, network input 320x320, classes 7, anchors 12804" in p.stdout
    assert run_odrt("inspect", e, "--dot", tmp_path / "x.dot", check=False).returncode == 2


def test_nms_beyond_the_first_sorted_candidates(images, tmp_path):
    """With IoU threshold 0.02 nearly every overlap suppresses, so per-class NMS visits more than
    the 4 x max_per_class best candidates the engine selects and sorts first (and the candidates
    below its score-histogram cut): its detections must still equal the reference executor's."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(MODEL)
    n_set = 0
    for init in m.graph.initializer:
        if init.name.endswith("iou_threshold:0"):
            init.CopyFrom(numpy_helper.from_array(np.array(0.02, np.float32), init.name))
            n_set += 1
    assert n_set
    model = tmp_path / "tight_iou.onnx"
    onnx.save(m, str(model))
    got, _ = detect_json(model, images[:3], tmp_path)
    for img, dets in zip(images[:3], got):
        out = tmp_path / "ref"
        run_odrt("run", model, "--image", "input_tensor=%s" % img, "--output-dir", out, timeout=300)
        n = int(np.load(out / "num_detections.npy")[0])
        s, b, c = (np.load(out / ("detection_%s.npy" % k))[0] for k in ("scores", "boxes", "classes"))
        ref = [(int(round(float(c[i]))), float(s[i]), [float(v) for v in b[i]]) for i in range(n)]
        assert n == 100 and not unmatched(ref, dets) and not unmatched(dets, ref), img


def test_weights_stored_as_uint8(engine, images, tmp_path):
    """Conv weights given as uint8 -> Cast -> Mul -> Add (tools/gpu_shrink.py; what a user's
    compressed export looks like) fold back into constants: the same kernels as the original,
    no reference op, and the detections of that model in onnxruntime"""
    import subprocess
    import sys
    import onnxruntime as ort
    small = tmp_path / "small.onnx"
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gpu_shrink.py"), MODEL, str(small)], check=True,
                   capture_output=True)
    e = tmp_path / "small.odrt"
    run_odrt("build", small, "-o", e, timeout=300)
    k, k0 = (json.loads(run_odrt("inspect", x, "--json").stdout)["kernels"] for x in (e, engine("handtrack")))
    assert k == k0 and k["reference_ops"] == 0, (k, k0)
    s = ort.InferenceSession(str(small), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    got, _ = detect_json(e, images, tmp_path)
    for img, g in zip(images, got):
        r = dict(zip(names, s.run(None, {"input_tensor": np.array(Image.open(img).convert("RGB"))[None]})))
        ref = [(int(round(float(r["detection_classes"][0, i]))), float(r["detection_scores"][0, i]),
                [float(v) for v in r["detection_boxes"][0, i]]) for i in range(int(r["num_detections"][0]))]
        assert sum(d[1] >= 0.05 for d in ref) >= 1
        assert not unmatched(ref, g) and not unmatched(g, ref), img
