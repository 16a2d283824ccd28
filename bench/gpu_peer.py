#!/usr/bin/env python3
"""GPU benchmark: odrt CUDA engines (fp32, fp16) against PyTorch running the same ONNX network
through onnx2torch (eager fp32, autocast fp16, torch.compile mode="reduce-overhead" fp16: CUDA
graphs), in one run on one GPU. Prints latency at batch 1 and throughput at larger batches, GPU
memory and load / compile time, and the ratios the CUDA issue asks for.

  python3 bench/gpu_peer.py [--odrt build/odrt] [--model models/handtrack/handtrack.onnx]
                            [--batches 1,8,32,64] [--iters 200]

What is timed, per call, wall clock with the GPU synchronised (same rule for both):
- odrt: `odrt bench` (uint8 frames in -> final detections out: upload, preprocessing, network,
  decode, per-class NMS, download), plus its device-event time of the same span; fp16 at batch > 1
  also with --streams 2 (two handles on one engine detecting concurrently: images/s of both);
- PyTorch: the model's forward on uint8 frames already on the GPU (cast, normalisation, network,
  box and score heads: no decode, no NMS), after warm-up (compile excluded, reported apart).
The PyTorch network is the one `odrt convert --target onnx` keeps between the input and the heads
(onnx.utils.extract_model), so both run the same weights on the same frames.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnx
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def odrt(a, *args):
    return subprocess.run([a.odrt, *map(str, args)], check=True, capture_output=True, text=True).stdout


def network_onnx(a, tmp, batch):
    conv, rep = os.path.join(tmp, "conv%d.onnx" % batch), os.path.join(tmp, "rep%d.json" % batch)
    nms = ["--target", "onnx"] if batch == 1 else ["--nms", "efficient"]
    odrt(a, "convert", a.model, "-o", conv, "--batch", batch, "--report", rep, *nms)
    r = json.load(open(rep))
    out = os.path.join(tmp, "net%d.onnx" % batch)
    onnx.utils.extract_model(conv, out, [r["input"]["name"]], [r["box_coder"]["encodings_tensor"], r["box_coder"]["scores_tensor"]])
    return out, r["input"]["shape"]


def constant_reshapes():
    """onnx2torch's Reshape reads its shape tensor on the host every call (torch.any(shape == 0)):
    a device sync that breaks CUDA-graph capture and torch.compile. The shapes are constants of
    the graph (static batch): read once, in the first (eager) call, then kept as a tuple."""
    from onnx2torch.node_converters.reshape import OnnxReshape

    def forward(self, x, shape):
        if getattr(self, "_shape", None) is None:
            self._shape = tuple(x.shape[i] if d == 0 else int(d) for i, d in enumerate(shape.tolist()))
        return torch.reshape(x, self._shape)
    OnnxReshape.forward = forward


def time_torch(fn, x, iters):
    for _ in range(10):
        fn(x)
    torch.cuda.synchronize()
    wall, gpu = [], []
    for _ in range(iters):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0 = time.perf_counter()
        e0.record()
        fn(x)
        e1.record()
        torch.cuda.synchronize()
        wall.append((time.perf_counter() - t0) * 1e3)
        gpu.append(e0.elapsed_time(e1))
    return statistics.median(wall), statistics.median(gpu)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--odrt", default=os.path.join(ROOT, "build/odrt"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/handtrack/handtrack.onnx"))
    ap.add_argument("--batches", default="1,8,32,64")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--streams", type=int, default=2, help="odrt fp16 also with this many streams at batch > 1 (1: not)")
    a = ap.parse_args()
    import onnx2torch
    constant_reshapes()
    tmp = tempfile.mkdtemp()
    print("GPU: %s; torch %s; model %s" % (torch.cuda.get_device_name(), torch.__version__, os.path.basename(a.model)))
    rows = []
    for B in [int(b) for b in a.batches.split(",")]:
        row = {"batch": B}
        for prec in ("fp32", "fp16"):
            eng = os.path.join(tmp, "e%d%s.odrt" % (B, prec))
            t0 = time.perf_counter()
            odrt(a, "build", a.model, "-o", eng, "--device", "cuda", "--precision", prec, "--batch", B)
            build_s = time.perf_counter() - t0
            b = json.loads(odrt(a, "bench", eng, "--iterations", a.iters, "--warmup", 20, "--json"))
            info = json.loads(odrt(a, "inspect", eng, "--json"))
            mem = info["weights_bytes"] + info["arena_bytes"] // (2 if prec == "fp16" else 1)
            row["odrt_" + prec] = dict(wall=b["median_ms"], gpu=b.get("device_median_ms", -1), load=b["load_ms"],
                                       build_s=build_s, first=b["process_start_to_first_detection_ms"], mem_mib=mem / 2**20)
            if prec == "fp16" and B > 1 and a.streams > 1:  # batches in flight on several streams (one engine)
                s = json.loads(odrt(a, "bench", eng, "--iterations", a.iters, "--warmup", 20, "--streams", a.streams, "--json"))
                row["odrt_fp16_%dstreams" % a.streams] = dict(wall=B * 1e3 / s["streams_throughput_ips"], gpu=-1)
        path, shape = network_onnx(a, tmp, B)
        x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, [B] + shape[1:], dtype=np.uint8)).cuda()
        t0 = time.perf_counter()
        m = onnx2torch.convert(onnx.load(path)).cuda().eval()
        conv_s = time.perf_counter() - t0
        with torch.inference_mode():
            torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            m(x)
            torch.cuda.synchronize()
            first = (time.perf_counter() - t0) * 1e3
            row["torch_eager_fp32"] = dict(zip(("wall", "gpu"), time_torch(m, x, a.iters)), first=first, convert_s=conv_s,
                                           mem_mib=torch.cuda.max_memory_allocated() / 2**20)

            def amp(y):
                with torch.autocast("cuda", dtype=torch.float16):
                    return m(y)
            row["torch_autocast_fp16"] = dict(zip(("wall", "gpu"), time_torch(amp, x, a.iters)))
            # CUDA graph replay of the autocast forward (what torch.compile's "reduce-overhead" adds)
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    amp(x)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            t0 = time.perf_counter()
            with torch.cuda.graph(g):
                amp(x)
            cap = time.perf_counter() - t0
            row["torch_cudagraph_fp16"] = dict(zip(("wall", "gpu"), time_torch(lambda y: g.replay(), x, a.iters)), capture_s=cap)
            if B > 1 and a.streams > 1:  # the same graph captured once per stream, replayed concurrently
                gs, ss = [g], [torch.cuda.Stream() for _ in range(a.streams)]
                for _ in range(a.streams - 1):
                    gi = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(gi):
                        amp(x.clone())
                    gs.append(gi)

                def replay_all(y):
                    for gi, si in zip(gs, ss):
                        si.wait_stream(torch.cuda.current_stream())
                        with torch.cuda.stream(si):
                            gi.replay()
                    for si in ss:
                        torch.cuda.current_stream().wait_stream(si)
                w, gt = time_torch(replay_all, x, a.iters)
                row["torch_cudagraph_fp16_%dstreams" % a.streams] = dict(wall=w / a.streams, gpu=gt / a.streams)
            if not a.no_compile:
                try:
                    cm = torch.compile(m, mode="reduce-overhead")

                    def camp(y):
                        with torch.autocast("cuda", dtype=torch.float16):
                            return cm(y)
                    t0 = time.perf_counter()
                    for _ in range(3):
                        camp(x)
                    torch.cuda.synchronize()
                    comp = time.perf_counter() - t0
                    row["torch_compile_fp16"] = dict(zip(("wall", "gpu"), time_torch(camp, x, a.iters)), compile_s=comp)
                except Exception as e:  # onnx2torch graphs do not always compile
                    print("batch %d: torch.compile failed: %s" % (B, str(e).strip().splitlines()[-1][:200]))
        rows.append(row)
        print(json.dumps(row))
    print("\n%-6s %-22s %10s %10s %12s" % ("batch", "runner", "wall ms", "GPU ms", "images/s"))
    for r in rows:
        for k, v in r.items():
            if k == "batch":
                continue
            print("%-6d %-22s %10.3f %10.3f %12.1f" % (r["batch"], k, v["wall"], v["gpu"], r["batch"] * 1e3 / v["wall"]))
    r1 = next((r for r in rows if r["batch"] == 1), None)
    if r1:
        best = min(v["wall"] for k, v in r1.items() if k.startswith("torch"))
        print("batch 1: odrt fp16 %.3f ms (GPU %.3f ms) vs best PyTorch %.3f ms: %.2fx" % (
            r1["odrt_fp16"]["wall"], r1["odrt_fp16"]["gpu"], best, best / r1["odrt_fp16"]["wall"]))
    rl = max(rows, key=lambda r: r["batch"])
    if rl["batch"] > 1:
        best_t = max(rl["batch"] * 1e3 / v["wall"] for k, v in rl.items() if k != "batch" and k.startswith("torch"))
        odrt_t = rl["batch"] * 1e3 / rl["odrt_fp16"]["wall"]
        best_1 = max(rl["batch"] * 1e3 / v["wall"] for k, v in rl.items() if k.startswith("torch") and "streams" not in k)
        print("batch %d: odrt fp16 %.0f images/s vs best PyTorch on one stream %.0f images/s: %.2fx" % (
            rl["batch"], odrt_t, best_1, odrt_t / best_1))
        ks = "odrt_fp16_%dstreams" % a.streams
        if ks in rl:
            st = rl["batch"] * 1e3 / rl[ks]["wall"]
            print("batch %d: odrt fp16 on %d streams %.0f images/s vs best PyTorch (any) %.0f images/s: %.2fx" % (
                rl["batch"], a.streams, st, best_t, st / best_t))


if __name__ == "__main__":
    main()
