#!/usr/bin/env python3
"""The performance tables in one run: CPU engines against onnxruntime and OpenVINO, quiet and under a
busy CPU, and (where a GPU is) the CUDA engines against PyTorch.

  .venv/bin/python bench/perf_all.py [--threads 2] [--rounds 3] [--iters 30] [--models handtrack,handtrack640,efficientdet_d0]
                                     [--openvino-python PY] [--gpu] [--odrt build/odrt]

CPU, per model, each peer in its own process, in alternating rounds (quiet, then beside one process
spinning on a core: a Jetson's cores are shared with capture and decode), median over rounds:
- odrt: `odrt bench` of the engine (uint8 frame -> detections: preprocessing, network, NMS);
- onnxruntime (CPU EP, ORT_ENABLE_ALL) and OpenVINO (CPU plugin, LATENCY hint, one stream) on
  `odrt convert --target onnx`'s model (the best ONNX either runs: the original export's Loop /
  TensorList preprocessing is slower in onnxruntime and does not compile in OpenVINO), the same
  thread count, session.run / infer on the same frame. OpenVINO runs at fp32 (INFERENCE_PRECISION_HINT
  f32: the precision of the model and of odrt's engine) and, for information, at its own default,
  which on CPUs with AVX512-BF16 or AMX is bfloat16 (about 3 significant digits: no detection
  parity at 1e-4). OpenVINO is run by --openvino-python (default: this interpreter) when it imports.
Ratio = the faster fp32 peer / odrt (> 1: odrt is faster). Slowdown = busy / quiet of each.
Parity: the original export under onnxruntime vs the engine on the shared photos (bench/engine_cpu.py's
rule: same class, IoU >= 0.99, |score diff| <= 1e-4 for every detection >= 0.05).
GPU (--gpu, a CUDA build on a GPU machine): bench/gpu_peer.py for handtrack (odrt vs PyTorch eager, CUDA
graphs and torch.compile), and odrt's own GPU time for EfficientDet-D0 (onnx2torch cannot convert its
SAME_UPPER convolutions), at --gpu-batches.
"""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_cpu import MODELS, ROOT, parity  # noqa: E402

CHILD = r"""
import sys, time, statistics, numpy as np
kind, path, threads, iters, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
x = np.random.default_rng(0).integers(0, 256, (1, h, h, 3), dtype=np.uint8)
if kind == "onnxruntime":
    import onnxruntime as ort
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    run = lambda: s.run(None, {name: x})
else:
    import openvino as ov
    cfg = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    if kind == "openvino-f32": cfg["INFERENCE_PRECISION_HINT"] = "f32"
    c = ov.Core().compile_model(path, "CPU", cfg)
    r = c.create_infer_request()
    run = lambda: r.infer({0: x})
for _ in range(3): run()
ts = []
for _ in range(iters):
    t0 = time.perf_counter(); run(); ts.append((time.perf_counter() - t0) * 1e3)
print(statistics.median(ts))
"""


def spin():
    while True:
        pass


def odrt_ms(a, engine, frame):
    r = subprocess.run([a.odrt, "bench", engine, "--image", frame, "--iterations", str(a.iters), "--warmup", "3", "--threads",
                        str(a.threads), "--json"], check=True, capture_output=True, text=True)
    return json.loads(r.stdout)["median_ms"]


def peer_ms(a, py, kind, model, h):
    r = subprocess.run([py, "-c", CHILD, kind, model, str(a.threads), str(a.iters), str(h)], capture_output=True, text=True)
    if r.returncode != 0:
        print("  %s failed: %s" % (kind, (r.stderr.strip().splitlines() or ["?"])[-1]), flush=True)
        return None
    return float(r.stdout.split()[-1])


def has_openvino(py):
    return subprocess.run([py, "-c", "import openvino"], capture_output=True).returncode == 0


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def cpu_tables(a):
    tmp = tempfile.mkdtemp()
    peers = ["onnxruntime"] + (["openvino-f32", "openvino-default"] if has_openvino(a.openvino_python) else [])
    if len(peers) == 1:
        print("OpenVINO: not measured (%s cannot import openvino: pip install openvino)" % a.openvino_python)
    rows = []
    for name in a.models.split(","):
        model, h = MODELS[name]
        if not os.path.exists(model):
            print("%s: %s missing (tools/setup.sh makes it)" % (name, model))
            continue
        engine, conv, frame = (os.path.join(tmp, name + s) for s in (".odrt", ".onnx", ".png"))
        subprocess.run([a.odrt, "build", model, "-o", engine, "--threads", str(a.threads)], check=True, capture_output=True)
        subprocess.run([a.odrt, "convert", model, "-o", conv, "--target", "onnx", "--class-offset", "1"], check=True, capture_output=True)
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, h, 3), dtype=np.uint8)).save(frame)
        res = {(p, load): [] for p in ["odrt"] + peers for load in ("quiet", "busy")}
        for _ in range(a.rounds):
            for load in ("quiet", "busy"):
                sp = mp.Process(target=spin, daemon=True) if load == "busy" else None
                if sp:
                    sp.start()
                try:
                    res["odrt", load].append(odrt_ms(a, engine, frame))
                    for p in peers:
                        res[p, load].append(peer_ms(a, sys.executable if p == "onnxruntime" else a.openvino_python, p, conv, h))
                finally:
                    if sp:
                        sp.terminate()
                        sp.join()
        m = {k: med(v) for k, v in res.items()}
        ok, ref = parity(argparse.Namespace(odrt=a.odrt, threads=a.threads), engine, model, tmp)
        rows.append((name, m, peers, ok, ref))
        print("%s: odrt %s ms quiet, %s ms busy" % (name, fmt(m["odrt", "quiet"]), fmt(m["odrt", "busy"])), flush=True)
    if rows:
        print_tables(rows, a)
    return rows


def fmt(x):
    return "-" if x is None else "%.2f" % x


def print_tables(rows, a):
    peers = rows[-1][2]
    fp32 = [p for p in peers if p != "openvino-default"]
    print("\nCPU, %d threads, %d rounds x %d iterations, median ms (ratio: the faster fp32 peer / odrt)" % (a.threads, a.rounds, a.iters))
    for load in ("quiet", "busy"):
        print("\n%s:\n" % ("quiet" if load == "quiet" else "one other process spinning on a core"))
        print("| model | odrt | " + " | ".join(peers) + " | faster fp32 peer / odrt | parity |")
        print("| --- " * (len(peers) + 4) + "|")
        for name, m, _, ok, ref in rows:
            best = min(m[p, load] for p in fp32 if m[p, load] is not None)
            print("| %s | %s | %s | %.2fx | %d/%d |" % (name, fmt(m["odrt", load]), " | ".join(fmt(m[p, load]) for p in peers),
                                                      best / m["odrt", load], ok, ref))
    print("\nslowdown busy / quiet:\n")
    print("| model | odrt | " + " | ".join(peers) + " |")
    print("| --- " * (len(peers) + 2) + "|")
    for name, m, _, _, _ in rows:
        print("| %s | %s |" % (name, " | ".join(fmt(m[p, "busy"] / m[p, "quiet"]) if m[p, "busy"] and m[p, "quiet"] else "-"
                                              for p in ["odrt"] + peers)))
    sys.stdout.flush()


def gpu_tables(a):
    hand = os.path.join(ROOT, "models", "handtrack", "handtrack.onnx")
    print("\nGPU: handtrack, odrt CUDA engines vs PyTorch (bench/gpu_peer.py)", flush=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gpu_peer.py"), "--odrt", a.odrt, "--model", hand, "--batches",
                    a.gpu_batches], check=False)
    # EfficientDet-D0: odrt alone (onnx2torch converts no Conv with auto_pad SAME_UPPER, which tf2onnx writes for it)
    d0 = MODELS["efficientdet_d0"][0]
    tmp = tempfile.mkdtemp()
    print("\nGPU: EfficientDet-D0, odrt CUDA engines (`odrt bench`, GPU time per inference by device events)", flush=True)
    for prec in ("fp16", "fp32"):
        for batch in a.gpu_batches.split(","):
            e = os.path.join(tmp, "d0_%s_%s.odrt" % (prec, batch))
            subprocess.run([a.odrt, "build", d0, "-o", e, "--device", "cuda", "--precision", prec, "--batch", batch], check=True,
                           capture_output=True)
            out = subprocess.run([a.odrt, "bench", e, "--iterations", "300", "--warmup", "20"], check=True, capture_output=True,
                                 text=True).stdout
            gpu = [ln for ln in out.splitlines() if ln.startswith("GPU time")]
            print("%s batch %s: %s" % (prec, batch, gpu[0].split(": ", 1)[1] if gpu else "no GPU time"), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--models", default="handtrack,handtrack640,efficientdet_d0")
    ap.add_argument("--openvino-python", default=sys.executable)
    ap.add_argument("--odrt", default=os.path.join(ROOT, "build/odrt"))
    ap.add_argument("--gpu", action="store_true", help="also the CUDA engines against PyTorch (bench/gpu_peer.py)")
    ap.add_argument("--gpu-batches", default="1,64")
    ap.add_argument("--no-cpu", action="store_true")
    a = ap.parse_args()
    print("machine: %s" % open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t"))
    if not a.no_cpu:
        cpu_tables(a)
    if a.gpu:
        gpu_tables(a)


if __name__ == "__main__":
    main()
