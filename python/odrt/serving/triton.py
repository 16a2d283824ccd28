"""odrt on Triton Inference Server: a model repository with odrt's Python-backend model, and a launcher
for the tritonserver that the nvidia-pytriton wheel bundles (docs/serving.md).

    python -m odrt.serving.triton repository model.odrt --out repo/ [--instances 2] [--max-queue-delay-us 2000]
    python -m odrt.serving.triton serve repo/ [--http-port 8000] [--grpc-port 8001]

The repository runs under any Triton with the Python backend (an NGC tritonserver container with
`pip install odrt` inside) as well."""
import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

import odrt

CONFIG = """name: "{name}"
backend: "python"
max_batch_size: {batch}
input [ {{ name: "input_tensor" data_type: TYPE_UINT8 dims: [ {h}, {w}, 3 ] }} ]
output [
  {{ name: "detection_boxes" data_type: TYPE_FP32 dims: [ -1, 4 ] }},
  {{ name: "detection_scores" data_type: TYPE_FP32 dims: [ -1 ] }},
  {{ name: "detection_classes" data_type: TYPE_INT32 dims: [ -1 ] }},
  {{ name: "num_detections" data_type: TYPE_INT32 dims: [ 1 ] }}
]
dynamic_batching {{ max_queue_delay_microseconds: {delay} }}
instance_group [ {{ count: {instances} kind: {kind} }} ]
parameters {{ key: "engine" value: {{ string_value: "model.odrt" }} }}
parameters {{ key: "threads" value: {{ string_value: "{threads}" }} }}
parameters {{ key: "score_threshold" value: {{ string_value: "{threshold}" }} }}
"""


def write_repository(engine_path, out, name="odrt", instances=1, max_queue_delay_us=1000, threads=0, score_threshold=0.0,
                     max_batch_size=None):
    """A Triton model repository at out/ serving the engine: out/NAME/config.pbtxt, out/NAME/1/model.py
    (odrt's Python-backend model) and out/NAME/1/model.odrt (the engine, copied). Triton's dynamic
    batcher gathers up to max_batch_size frames (default: the engine's batch) per execution; each of
    the `instances` model instances has its own engine handle."""
    with odrt.Engine(engine_path) as e:
        batch, info, device = e.batch, e.inspect(), e.device
    fh, fw = info["input"].get("frame_size") or [0, 0]
    if fh <= 0:
        fh, fw = (-1, -1) if "resize" in info.get("preprocessing", {}) else info["input"]["network_size"]
    d = os.path.join(out, name, "1")
    os.makedirs(d, exist_ok=True)
    shutil.copyfile(engine_path, os.path.join(d, "model.odrt"))
    shutil.copyfile(os.path.join(os.path.dirname(os.path.abspath(__file__)), "triton_model.py"), os.path.join(d, "model.py"))
    with open(os.path.join(out, name, "config.pbtxt"), "w") as f:
        f.write(CONFIG.format(name=name, batch=max_batch_size or batch, h=fh, w=fw, delay=int(max_queue_delay_us),
                              instances=int(instances), kind="KIND_GPU" if device == "cuda" else "KIND_CPU",
                              threads=int(threads), threshold=float(score_threshold)))
    return os.path.join(out, name)


def _pytriton_server():
    """the tritonserver binary, its Python backend, the Python backend stub for this interpreter and the
    libraries of the nvidia-pytriton wheel"""
    try:
        import pytriton
    except ImportError:
        raise odrt.OdrtError("serve: the nvidia-pytriton wheel is not installed (pip install nvidia-pytriton), or run the "
                             "repository under your own tritonserver")
    root = os.path.join(os.path.dirname(pytriton.__file__), "tritonserver")
    ver = "%d.%d" % sys.version_info[:2]
    stub = os.path.join(root, "python_backend_stubs", ver, "triton_python_backend_stub")
    if not os.path.exists(stub):
        raise odrt.OdrtError("serve: nvidia-pytriton has no Python backend stub for Python %s" % ver)
    libs = [os.path.join(os.path.dirname(os.path.dirname(pytriton.__file__)), "nvidia_pytriton.libs"),
            os.path.join(root, "external_libs")]
    return os.path.join(root, "bin", "tritonserver"), os.path.join(root, "backends"), stub, libs


def start_server(repository, http_port=8000, grpc_port=8001, metrics_port=8002, log=None, timeout=120):
    """Start tritonserver on repository (loopback ports); returns the process once every model is
    ready. The backend folder is a temporary copy with the stub for this Python; the stub loads this
    interpreter's libpython (LD_LIBRARY_PATH) and imports from this environment (PATH)."""
    exe, backends, stub, libs = _pytriton_server()
    tmp = tempfile.mkdtemp(prefix="odrt-triton-")
    shutil.copytree(backends, os.path.join(tmp, "backends"))
    shutil.copy(stub, os.path.join(tmp, "backends", "python", "triton_python_backend_stub"))
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join([sysconfig.get_config_var("LIBDIR")] + libs + [env.get("LD_LIBRARY_PATH", "")])
    env["PATH"] = os.path.dirname(sys.executable) + ":" + env.get("PATH", "")
    cmd = [exe, "--model-repository", os.path.abspath(repository), "--backend-directory", os.path.join(tmp, "backends"),
           "--http-port", str(http_port), "--grpc-port", str(grpc_port), "--metrics-port", str(metrics_port),
           "--http-address", "127.0.0.1", "--grpc-address", "127.0.0.1", "--exit-timeout-secs", "10"]
    p = subprocess.Popen(cmd, env=env, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
    p.odrt_tmp = tmp
    import urllib.request
    t0 = time.time()
    while time.time() - t0 < timeout:
        if p.poll() is not None:
            raise odrt.OdrtError("serve: tritonserver exited (%d) while starting" % p.returncode)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/v2/health/ready" % http_port, timeout=2) as r:
                if r.status == 200:
                    return p
        except OSError:
            pass
        time.sleep(0.5)
    stop_server(p)
    raise odrt.OdrtError("serve: tritonserver not ready after %d s" % timeout)


def stop_server(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    shutil.rmtree(getattr(p, "odrt_tmp", ""), ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m odrt.serving.triton", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("repository", help="write a model repository serving an engine")
    r.add_argument("engine")
    r.add_argument("--out", required=True)
    r.add_argument("--name", default="odrt")
    r.add_argument("--instances", type=int, default=1)
    r.add_argument("--max-queue-delay-us", type=int, default=1000)
    r.add_argument("--max-batch-size", type=int, default=None)
    r.add_argument("--threads", type=int, default=0)
    r.add_argument("--score-threshold", type=float, default=0.0)
    s = sub.add_parser("serve", help="run the nvidia-pytriton wheel's tritonserver on a repository until interrupted")
    s.add_argument("repository")
    s.add_argument("--http-port", type=int, default=8000)
    s.add_argument("--grpc-port", type=int, default=8001)
    s.add_argument("--metrics-port", type=int, default=8002)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "repository":
            print(write_repository(a.engine, a.out, a.name, a.instances, a.max_queue_delay_us, a.threads, a.score_threshold,
                                   a.max_batch_size))
            return 0
        p = start_server(a.repository, a.http_port, a.grpc_port, a.metrics_port, log=sys.stderr)
        print("tritonserver ready: http 127.0.0.1:%d, grpc 127.0.0.1:%d" % (a.http_port, a.grpc_port), flush=True)
        try:
            p.wait()
        except KeyboardInterrupt:
            pass
        stop_server(p)
        return 0
    except odrt.OdrtError as e:
        print("odrt: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
