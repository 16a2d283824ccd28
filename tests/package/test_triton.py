"""odrt served by Triton (odrt.serving.triton: model repository + the nvidia-pytriton wheel's tritonserver)
on loopback: the load test of bench/triton_load.py at concurrency 1, 8, 32 over HTTP and gRPC with no
failed request and every response equal to `odrt detect`; bad requests get error responses and the
server keeps serving."""
import os
import sys

import numpy as np
import pytest

import odrt
from conftest import ROOT, cli
from odrt.serving import triton as ot

sys.path.insert(0, os.path.join(ROOT, "bench"))
import triton_load  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory, photos):
    tmp = tmp_path_factory.mktemp("triton")
    engine = tmp / "handtrack4.odrt"
    cli("build", os.path.join(ROOT, "models", "handtrack", "handtrack.onnx"), "-o", engine, "--batch", "4", "--threads", "1")
    repo = tmp / "repo"
    d = ot.write_repository(engine, repo, instances=2, max_queue_delay_us=2000, threads=1)
    cfg = open(os.path.join(d, "config.pbtxt")).read()
    assert "max_batch_size: 4" in cfg and "count: 2" in cfg and "dims: [ -1, -1, 3 ]" in cfg
    http, grpc, metrics = triton_load.free_ports(3)
    with open(tmp / "server.log", "w") as log:
        server = ot.start_server(repo, http, grpc, metrics, log=log)
    want = triton_load.expected(os.environ.get("ODRT_BIN", os.path.join(ROOT, "build", "odrt")), str(engine), photos, str(tmp))
    frames = {os.path.basename(p): odrt.load_image(p) for p in photos}
    yield {"http": http, "grpc": grpc, "want": want, "frames": frames}
    ot.stop_server(server)


@pytest.mark.parametrize("proto", ["http", "grpc"])
def test_load(served, proto):
    rows = []
    for c in (1, 8, 32):
        r = triton_load.load(proto, served[proto], served["frames"], served["want"], c, 32 if c < 32 else 64)
        rows.append(r)
        print("%s concurrency %d: %.1f images/s, p50 %.1f ms, p99 %.1f ms" % (proto, c, r["throughput_rps"], r["p50_ms"], r["p99_ms"]))
    assert all(r["failed"] == 0 for r in rows), rows
    assert all(r["wrong"] == 0 and r["ok"] == r["requests"] for r in rows), rows


@pytest.mark.parametrize("proto", ["http", "grpc"])
def test_bad_requests_answered_with_errors(served, proto):
    tc, c = triton_load.make_client(proto, served[proto])
    img = next(iter(served["frames"].values()))
    bad = [("input_tensor", np.zeros((1, 64, 64, 4), np.uint8), "UINT8"),  # 4 channels: Triton refuses the shape
           ("input_tensor", np.zeros((1, 64, 64, 3), np.float32), "FP32"),  # Triton refuses the dtype
           ("image", img[None], "UINT8")]  # no such input
    for name, a, dt in bad:
        x = tc.InferInput(name, list(a.shape), dt)
        x.set_data_from_numpy(a)
        with pytest.raises(Exception) as e:
            c.infer("odrt", [x])
        assert "odrt" in str(e.value) or "input" in str(e.value).lower()
    name = next(iter(served["frames"]))
    assert triton_load.matches(triton_load.infer(tc, c, served["frames"][name]), served["want"][name])  # still serving
    assert c.is_server_live() and c.is_model_ready("odrt")
    c.close()


def test_frames_odrt_refuses(tmp_path, photos):
    """an engine built for 240x320 frames behind Triton: another size gets odrt's error as the response"""
    engine = tmp_path / "fixed.odrt"
    cli("build", os.path.join(ROOT, "models", "handtrack", "handtrack.onnx"), "-o", engine, "--input-shape", "240x320")
    repo = tmp_path / "repo"
    ot.write_repository(engine, repo)
    cfg = open(repo / "odrt" / "config.pbtxt").read()
    assert "dims: [ 240, 320, 3 ]" in cfg
    # let every size through Triton: the engine's own check answers (odrt's message in the error response)
    open(repo / "odrt" / "config.pbtxt", "w").write(cfg.replace("dims: [ 240, 320, 3 ]", "dims: [ -1, -1, 3 ]"))
    http, grpc, metrics = triton_load.free_ports(3)
    with open(tmp_path / "server.log", "w") as log:
        server = ot.start_server(repo, http, grpc, metrics, log=log)
    try:
        tc, c = triton_load.make_client("http", http)
        img = odrt.load_image(photos[0])
        n, cls, sc, bx = triton_load.infer(tc, c, np.ascontiguousarray(img[:240, :320]))
        with odrt.Engine(engine) as e:
            d = e.detect(np.ascontiguousarray(img[:240, :320]))
        assert n == len(d) and np.array_equal(sc, d.scores) and np.array_equal(bx, d.boxes)
        with pytest.raises(Exception, match="this engine was built for 240x320 frames"):
            triton_load.infer(tc, c, np.ascontiguousarray(img[:200, :320]))
        assert c.is_server_live()
        c.close()
    finally:
        ot.stop_server(server)
