#!/usr/bin/env python3
"""Triton load test on loopback: an odrt engine served by tritonserver (odrt's Python-backend model,
odrt.serving.triton; the nvidia-pytriton wheel's server), driven by tritonclient over HTTP and gRPC at
several concurrencies. Prints throughput and p50/p99 latency per protocol and concurrency, counts failed
requests, and checks every response against `odrt detect` on the same engine.

    python bench/triton_load.py ENGINE PHOTO... [--requests 200] [--concurrency 1 8 32] [--instances 2]
        [--max-queue-delay-us 2000] [--json out.json]
Needs the odrt package and tests' dependencies (.venv-pkg: tritonclient, nvidia-pytriton)."""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def expected(cli, engine, photos, tmp):
    """per photo: (num, classes, scores, boxes) from `odrt detect --threshold 0 --json`"""
    out = os.path.join(tmp, "cli.json")
    subprocess.run([cli, "detect", engine, *photos, "--threshold", "0", "--json", out], check=True, capture_output=True)
    res = {}
    for im in json.load(open(out))["images"]:
        d = im["detections"]
        res[os.path.basename(im["file"])] = (len(d), np.array([x["class_id"] for x in d], np.int32),
                                             np.array([x["score"] for x in d], np.float32),
                                             np.array([x["box_normalized"] for x in d], np.float32).reshape(-1, 4))
    return res


def make_client(proto, port):
    if proto == "http":
        import tritonclient.http as tc
        return tc, tc.InferenceServerClient("127.0.0.1:%d" % port, concurrency=1, network_timeout=120)
    import tritonclient.grpc as tc
    return tc, tc.InferenceServerClient("127.0.0.1:%d" % port)


def infer(tc, client, img, model="odrt"):
    x = tc.InferInput("input_tensor", [1, *img.shape], "UINT8")
    x.set_data_from_numpy(img[None])
    r = client.infer(model, [x], outputs=[tc.InferRequestedOutput(n) for n in
                                          ("num_detections", "detection_classes", "detection_scores", "detection_boxes")])
    n = int(r.as_numpy("num_detections")[0, 0])
    return n, r.as_numpy("detection_classes")[0, :n], r.as_numpy("detection_scores")[0, :n], r.as_numpy("detection_boxes")[0, :n]


def matches(got, want):
    return (got[0] == want[0] and np.array_equal(got[1], want[1]) and np.array_equal(got[2], want[2])
            and np.array_equal(got[3], want[3]))


def load(proto, port, frames, want, concurrency, requests):
    """requests spread over `concurrency` client threads, each with its own connection; returns stats"""
    lat, failed, wrong = [], [0], [0]
    mu = threading.Lock()
    names = list(frames)

    def worker(k, count):
        tc, c = make_client(proto, port)
        for i in range(count):
            name = names[(k + i) % len(names)]
            t0 = time.perf_counter()
            try:
                got = infer(tc, c, frames[name])
            except Exception:  # noqa: BLE001 - counted as a failed request
                with mu:
                    failed[0] += 1
                continue
            dt = time.perf_counter() - t0
            with mu:
                lat.append(dt)
                wrong[0] += not matches(got, want[name])
        c.close()

    per = [requests // concurrency + (k < requests % concurrency) for k in range(concurrency)]
    th = [threading.Thread(target=worker, args=(k, per[k])) for k in range(concurrency)]
    t0 = time.perf_counter()
    [t.start() for t in th]
    [t.join() for t in th]
    wall = time.perf_counter() - t0
    s = np.sort(np.array(lat)) * 1e3 if lat else np.zeros(1)
    return {"protocol": proto, "concurrency": concurrency, "requests": requests, "ok": len(lat), "failed": failed[0],
            "wrong": wrong[0], "throughput_rps": len(lat) / wall, "p50_ms": float(np.percentile(s, 50)),
            "p99_ms": float(np.percentile(s, 99))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engine")
    ap.add_argument("photos", nargs="+")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per model instance")
    ap.add_argument("--max-queue-delay-us", type=int, default=2000)
    ap.add_argument("--cli", default=os.environ.get("ODRT_BIN", "build/odrt"))
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    import odrt
    from odrt.serving import triton as ot
    tmp = tempfile.mkdtemp(prefix="odrt-load-")
    want = expected(a.cli, a.engine, a.photos, tmp)
    frames = {os.path.basename(p): odrt.load_image(p) for p in a.photos}
    ot.write_repository(a.engine, os.path.join(tmp, "repo"), instances=a.instances, max_queue_delay_us=a.max_queue_delay_us,
                        threads=a.threads)
    http, grpc, metrics = free_ports(3)
    with open(os.path.join(tmp, "server.log"), "w") as log:
        server = ot.start_server(os.path.join(tmp, "repo"), http, grpc, metrics, log=log)
    rows = []
    try:
        for proto, port in (("http", http), ("grpc", grpc)):
            for c in a.concurrency:
                load(proto, port, frames, want, c, min(a.requests, 4 * c))  # warm the connections and instances
                rows.append(load(proto, port, frames, want, c, a.requests))
    finally:
        ot.stop_server(server)
    with odrt.Engine(a.engine) as e:
        desc = "%s engine, batch %d" % (e.device, e.batch)
    print("Triton (%s; %d instances x %d threads, dynamic batching <= %d us), %d photos, %d requests per row"
          % (desc, a.instances, a.threads, a.max_queue_delay_us, len(frames), a.requests))
    print("| protocol | concurrency | images/s | p50 ms | p99 ms | failed | wrong |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %d | %.1f | %.2f | %.2f | %d | %d |" % (r["protocol"], r["concurrency"], r["throughput_rps"], r["p50_ms"],
                                                         r["p99_ms"], r["failed"], r["wrong"]))
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=1)
    return 0 if all(r["failed"] == 0 and r["wrong"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
