"""The installed odrt package against the CLI: numpy and DLPack (torch) frames, batches, threads,
build / convert / inspect, python -m odrt, and bad input raising OdrtError with odrt's message."""
import os
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import odrt
from conftest import MODEL, ROOT, as_list, assert_same, cli, cli_detections

import torch  # a test dependency (tools/fixtures/requirements-package.txt): must import


def test_installed_package():
    venv = os.environ.get("ODRT_PKG_VENV")
    assert venv and os.path.realpath(odrt.__file__).startswith(os.path.realpath(venv)), odrt.__file__
    h = open(os.path.join(ROOT, "include", "odrt.h")).read()
    want = ".".join(re.search(r"#define ODRT_VERSION_%s (\d+)" % k, h).group(1) for k in ("MAJOR", "MINOR", "PATCH"))
    assert odrt.version() == want == odrt.__version__
    assert "cpu" in odrt.backends()


def test_python_m_odrt_is_the_cli(engine_file, photos, tmp_path):
    out = tmp_path / "m.json"
    p = subprocess.run([sys.executable, "-m", "odrt", "detect", engine_file, photos[0], "--threshold", "0", "--json", out],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    import json
    got = [(d["class_id"], d["score"], tuple(d["box_normalized"])) for d in json.load(open(out))["images"][0]["detections"]]
    assert got == cli_detections(engine_file, photos[:1], tmp_path)[os.path.basename(photos[0])]
    bad = subprocess.run([sys.executable, "-m", "odrt", "detect", tmp_path / "missing.odrt", photos[0]], capture_output=True, text=True)
    assert bad.returncode == 1 and "missing.odrt" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_numpy_frames_equal_cli(engine_file, photos, tmp_path):
    want = cli_detections(engine_file, photos, tmp_path)
    with odrt.Engine(engine_file) as e:
        assert (e.device, e.batch) == ("cpu", 1)
        for p in photos:
            img = odrt.load_image(p)
            d = e.detect(img)
            assert (d.height, d.width) == img.shape[:2]
            assert_same(as_list(d), want[os.path.basename(p)], p)
            # pixels: boxes_px is the normalised box times the frame size
            assert np.allclose(d.boxes_px, d.boxes[:, [1, 0, 3, 2]] * np.array([img.shape[1], img.shape[0]] * 2), atol=1e-3)
            first = next(iter(d))
            assert first.score == d.scores[0] and first.class_id == d.classes[0]


def test_build_in_python_equals_cli_engine(engine_file, photos, tmp_path):
    want = cli_detections(engine_file, photos[:2], tmp_path)
    e = odrt.build(MODEL, tmp_path / "py.odrt", threads=2)
    assert (tmp_path / "py.odrt").read_bytes()[:16] == open(engine_file, "rb").read()[:16]
    for p in photos[:2]:
        assert_same(as_list(e.detect(odrt.load_image(p))), want[os.path.basename(p)], p)
    e.close()


def test_int8_build_in_python_equals_cli_engine(photos, tmp_path):
    """an INT8 engine: the CLI calibrates on photos and saves the calibration; the Python build from
    that file is the same engine, byte for byte"""
    d = tmp_path / "photos"
    d.mkdir()
    for p in photos:
        shutil.copy(p, d)
    cli("build", MODEL, "-o", tmp_path / "cli8.odrt", "--threads", "2", "--precision", "int8", "--calibration", d,
        "--save-calibration", tmp_path / "calib.json")
    e = odrt.build(MODEL, tmp_path / "py8.odrt", threads=2, precision="int8", calibration=tmp_path / "calib.json")
    assert (tmp_path / "py8.odrt").read_bytes() == (tmp_path / "cli8.odrt").read_bytes()
    assert e.inspect()["precision"] == "int8"
    e.close()
    with pytest.raises(odrt.OdrtError, match="needs --calibration"):
        odrt.build(MODEL, precision="int8")


def test_batches_equal_cli(engine4_file, photos, tmp_path):
    want = cli_detections(engine4_file, photos[:4], tmp_path)
    with odrt.Engine(engine4_file) as e:
        assert e.batch == 4
        imgs = [odrt.load_image(p) for p in photos[:4]]
        for p, d in zip(photos[:4], e.detect(imgs)):  # a list of frames of different sizes
            assert_same(as_list(d), want[os.path.basename(p)], p)
        stacked = np.stack([imgs[0]] * 3)  # one (N, H, W, 3) array
        ds = e.detect(stacked)
        assert isinstance(ds, list) and len(ds) == 3
        for d in ds:
            assert_same(as_list(d), want[os.path.basename(photos[0])], "stacked")


def test_dlpack_torch_cpu(engine4_file, photos, tmp_path):
    want = cli_detections(engine4_file, photos[:2], tmp_path)
    imgs = [odrt.load_image(p) for p in photos[:2]]
    with odrt.Engine(engine4_file) as e:
        d = e.detect(torch.from_numpy(imgs[0]))  # one (H, W, 3) tensor, zero-copy
        assert_same(as_list(d), want[os.path.basename(photos[0])], "torch")
        ds = e.detect(torch.from_numpy(np.stack([imgs[1]] * 2)))  # a batch tensor
        for d in ds:
            assert_same(as_list(d), want[os.path.basename(photos[1])], "torch batch")
        ds = e.detect([torch.from_numpy(imgs[0]), torch.from_numpy(imgs[1])])  # a list of tensors
        for p, d in zip(photos[:2], ds):
            assert_same(as_list(d), want[os.path.basename(p)], "torch list")

        class OnlyDLPack:  # any producer: just the protocol
            def __init__(self, a):
                self.a = a

            def __dlpack__(self, **kw):
                return self.a.__dlpack__(**kw)

            def __dlpack_device__(self):
                return self.a.__dlpack_device__()

        assert_same(as_list(e.detect(OnlyDLPack(imgs[1]))), want[os.path.basename(photos[1])], "dlpack object")
        with pytest.raises(odrt.OdrtError, match="not C-contiguous"):
            e.detect(torch.from_numpy(imgs[0]).permute(1, 0, 2))
        with pytest.raises(odrt.OdrtError, match="uint8"):
            e.detect(torch.from_numpy(imgs[0]).float())


def test_four_threads_one_engine(engine_file, photos):
    e = odrt.Engine(engine_file)
    imgs = [odrt.load_image(p) for p in photos]
    single = [as_list(e.detect(i)) for i in imgs]
    bad, seen = [], set()

    def work(t):
        try:
            for r in range(3):
                for q in range(len(imgs)):
                    i = (q * (t + 1) + t + r) % len(imgs)
                    if as_list(e.detect(imgs[i])) != single[i]:
                        bad.append("thread %d photo %d" % (t, i))
            seen.add(id(e._handle()))
        except Exception as x:  # noqa: BLE001 - reported below
            bad.append("thread %d: %r" % (t, x))

    th = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    [t.start() for t in th]
    [t.join() for t in th]
    assert not bad, bad
    assert len(seen) == 4, "each thread detects on its own handle"
    e.close()


def test_inspect_bench_convert(engine_file, tmp_path):
    import json
    with odrt.Engine(engine_file) as e:
        info = e.inspect()
        want = json.loads(cli("inspect", engine_file, "--json").stdout)
        assert info["family"] == want["family"] == "ssd" and info["input"] == want["input"]
        b = e.bench(iterations=3, warmup=1)
        assert b["iterations"] == 3 and 0 < b["latency_ms"]["min"] <= b["latency_ms"]["p99"] and b["throughput_ips"] > 0
    rep = odrt.convert(MODEL, tmp_path / "py.onnx", target="trt8")
    cli("convert", MODEL, "-o", tmp_path / "cli.onnx", "--target", "trt8")
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    assert rep and isinstance(rep, dict)


def test_bad_input(engine_file, photos, tmp_path):
    img = odrt.load_image(photos[0])
    e = odrt.Engine(engine_file)
    cases = [(img.astype(np.float32), "uint8"), (img[:, :, :2], r"\(H, W, 3\)"), (img[:, :, 0], r"\(H, W, 3\)"),
             (img[:, ::2], "not C-contiguous"), (np.stack([img, img]), "2 frames for an engine of batch 1"),
             ([], "no frames"), ([img, "x"], "frame 1 is a str"), ("photo.jpg", "str"),
             (np.zeros((0, 4, 4, 3), np.uint8), "no frames")]
    for frames, msg in cases:
        with pytest.raises(odrt.OdrtError, match=msg):
            e.detect(frames)
    assert len(e.detect(img)) > 0  # still usable
    e.close()
    with pytest.raises(odrt.OdrtError, match="closed"):
        e.detect(img)
    with pytest.raises(odrt.OdrtError, match="cannot open") as x:
        odrt.Engine(tmp_path / "missing.odrt")
    assert x.value.status == "io error"
    data = open(engine_file, "rb").read()
    for name, blob in (("short.odrt", data[: len(data) // 3]), ("flipped.odrt", data[:200] + bytes([data[200] ^ 0xFF]) + data[201:])):
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(odrt.OdrtError) as x:
            odrt.Engine(tmp_path / name)
        assert name in str(x.value) and "\n" not in str(x.value)
    with pytest.raises(odrt.OdrtError, match="cannot open"):
        odrt.build(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07junk" * 10)
    with pytest.raises(odrt.OdrtError):
        odrt.build(tmp_path / "junk.onnx")
    fixed = odrt.build(MODEL, input_shape=(240, 320))
    with pytest.raises(odrt.OdrtError, match="built for 240x320"):
        fixed.detect(img)
    assert len(fixed.detect(np.ascontiguousarray(img[:240, :320]))) > 0
    with pytest.raises(odrt.OdrtError, match="device"):
        odrt.build(MODEL, device="tpu")


cuda = pytest.mark.skipif(not (torch.cuda.is_available() and "cuda" in odrt.backends()), reason="no GPU here (CI): run on a GPU")


@cuda
def test_cuda_tensors(photos):
    e = odrt.build(MODEL, device="cuda", precision="fp16", batch=4)
    imgs = [odrt.load_image(p) for p in photos[:4]]
    host = e.detect(imgs)
    one = e.detect(torch.from_numpy(imgs[0]).cuda())
    assert as_list(one) == as_list(e.detect(imgs[0]))
    same = np.stack([imgs[1]] * 4)
    dev = e.detect(torch.from_numpy(same).cuda())
    ref = e.detect(same)
    assert [as_list(d) for d in dev] == [as_list(d) for d in ref]
    assert len(host) == 4 and e.cuda_stream != 0
    with pytest.raises(odrt.OdrtError, match="not C-contiguous"):
        e.detect(torch.from_numpy(imgs[0]).cuda().permute(1, 0, 2))
    cpu_engine = odrt.build(MODEL)
    with pytest.raises(odrt.OdrtError, match="CUDA memory"):
        cpu_engine.detect(torch.from_numpy(imgs[0]).cuda())
