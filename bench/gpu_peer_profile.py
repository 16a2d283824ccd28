#!/usr/bin/env python3
"""Where PyTorch's time goes in bench/gpu_peer.py's fastest variant (torch.compile, autocast fp16):
torch.profiler over runs of the compiled network, CUDA kernels by total device time. Compiled
without CUDA graphs (the default mode: the same kernels as "reduce-overhead", whose graph replays
the profiler may not see). For comparing with `ODRT_PROFILE=1 odrt bench` per layer.

  python3 bench/gpu_peer_profile.py [--odrt build/odrt] [--model models/handtrack/handtrack.onnx]
                                    [--batch 64] [--iters 20] [--top 25]
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_peer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--odrt", default=os.path.join(gpu_peer.ROOT, "build/odrt"))
    ap.add_argument("--model", default=os.path.join(gpu_peer.ROOT, "models/handtrack/handtrack.onnx"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    import onnx2torch
    from torch.profiler import ProfilerActivity, profile
    gpu_peer.constant_reshapes()
    path, shape = gpu_peer.network_onnx(a, tempfile.mkdtemp(), a.batch)
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, [a.batch] + shape[1:], dtype=np.uint8)).cuda()
    m = onnx2torch.convert(onnx.load(path)).cuda().eval()
    with torch.inference_mode():
        m(x)
        cm = torch.compile(m)

        def run():
            with torch.autocast("cuda", dtype=torch.float16):
                return cm(x)
        for _ in range(5):
            run()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(a.iters):
                run()
            torch.cuda.synchronize()
    ev = [e for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]
    ev.sort(key=lambda e: -e.device_time_total)
    total = sum(e.device_time_total for e in ev)
    print("torch.compile fp16, batch %d: kernels %.3f ms per run (sum of kernel times)" % (a.batch, total / a.iters / 1e3))
    for e in ev[:a.top]:
        print("%9.4f ms %5d x  %s" % (e.device_time_total / a.iters / 1e3, e.count // a.iters, e.key[:150]))


if __name__ == "__main__":
    main()
