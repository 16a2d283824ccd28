#!/usr/bin/env bash
# On a GPU machine, over a tree carrying .gpu (tools/gpu_pack.sh), .cache/models and .whl:
#   bash tools/gpu_run.sh check   # backend-ops harness + CUDA engine tests (pytest test_cuda.py)
#   bash tools/gpu_run.sh bench   # odrt CUDA engines vs PyTorch (bench/gpu_peer.py)
#   bash tools/gpu_run.sh families [MODEL.onnx ...]  # CPU vs CUDA fp32/fp16 engines of .gpuz/families/*.onnx
#                                                   # (tools/gpu_shrink.py copies), tools/gpu_parity.py
#   bash tools/gpu_run.sh convs   # odrt's conv kernels vs cuDNN per layer (bench/cuda_convs.cu; CONVS=1 gpu_pack.sh)
#   bash tools/gpu_run.sh peerprofile [--batch 64]   # PyTorch's kernels by device time (bench/gpu_peer_profile.py)
#   bash tools/gpu_run.sh ab KNOB V1 V2 ...   # GPU time per detect with an environment knob at each value
#                                             # (e.g. ODRT_CUDA_PW 0 -), batch 1 and 64, runs alternated
#   bash tools/gpu_run.sh opprof MODEL PREC BATCH   # every op's device time ($OUT/opprof_*.log)
#   bash tools/gpu_run.sh pkg     # the async API (test_engine_async) and the Python package's wheel
#                                 # (.gpuz/wheel: pip wheel . here) with CUDA tensors; bench --streams
# Logs go to $OUT when set.
set -uo pipefail
cd "$(dirname "$0")/.."
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${LD_LIBRARY_PATH:-}" ODRT_BIN="$PWD/.gpu/bin/odrt" ODRT_SHARED_DIR="$PWD/.gpu/shared"
OUT="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader
mkdir -p build && ln -sf "$ODRT_BIN" build/odrt
case "${1:-check}" in
check)
  .gpu/bin/test_backend_ops -v > "$OUT/backend_ops.log" 2>&1; echo "backend ops rc=$?"
  grep -E "FAIL|backend ops" "$OUT/backend_ops.log" | head -40
  for d in cuda cuda:fp16; do .gpu/bin/test_engine_threads models/handtrack/handtrack.onnx $d "$ODRT_SHARED_DIR"/images/*.jpg; done
  .gpu/bin/test_api models/handtrack/handtrack.onnx data/images/hands.jpg
  (cd tests/python && python3 -m pytest -q -rP -p no:cacheprovider test_cuda.py test_engine.py::test_cuda_engine_without_a_gpu \
    > "$OUT/test_cuda.log" 2>&1; grep -E "EfficientDet-D0 .*fp16" "$OUT/test_cuda.log"; grep -v -E "^ *$|Warning|warn" "$OUT/test_cuda.log" | tail -25)
  ;;
pkg)
  for d in cuda cuda:fp16; do .gpu/bin/test_engine_async models/handtrack/handtrack.onnx $d "$ODRT_SHARED_DIR"/images/*.jpg; done
  python3 -m pip install -q --no-deps --no-compile --target /tmp/odrt-py .gpuz/wheel/odrt-*.whl
  export ODRT_PKG_VENV=/tmp/odrt-py PYTHONPATH=/tmp/odrt-py:${PYTHONPATH:-}
  (cd tests/package && python3 -m pytest -q -rA -p no:cacheprovider test_api.py > "$OUT/pkg.log" 2>&1; grep -E "PASS|FAIL|SKIP|Error|passed|failed" "$OUT/pkg.log" | tail -30)
  "$ODRT_BIN" build models/handtrack/handtrack.onnx -o /tmp/h64.odrt --device cuda --precision fp16 --batch 64 > /dev/null
  for s in 2 3; do "$ODRT_BIN" bench /tmp/h64.odrt --streams $s --iterations 200 | grep -E "Throughput|GPU|median"; done
  ;;
families)
  # the family fixtures, carried as 8-bit copies (tools/gpu_shrink.py) in .gpuz/families/ (or the
  # models named after the verb): CPU engine vs CUDA fp32 and fp16 engines of the same copy on the
  # shared photos at their own size (tools/gpu_parity.py: fp32 with the families issue's criteria,
  # fp16 the deltas), and CUDA device time
  shift
  models=("$@"); [ ${#models[@]} = 0 ] && models=(.gpuz/families/*.onnx)
  for m in "${models[@]}"; do
    n=$(basename "$m" .onnx)
    "$ODRT_BIN" build "$m" -o "/tmp/$n.cpu.odrt" > /dev/null || { echo "$n: CPU build failed"; continue; }
    "$ODRT_BIN" detect "/tmp/$n.cpu.odrt" "$ODRT_SHARED_DIR/images" --threshold 0 --json "/tmp/$n.cpu.json" > /dev/null
    for p in fp32 fp16; do
      "$ODRT_BIN" build "$m" -o "/tmp/$n.$p.odrt" --device cuda --precision $p > "$OUT/build_${n}_$p.log" 2>&1 ||
        { echo "$n $p: build failed: $(tail -1 "$OUT/build_${n}_$p.log")"; continue; }
      "$ODRT_BIN" detect "/tmp/$n.$p.odrt" "$ODRT_SHARED_DIR/images" --threshold 0 --json "/tmp/$n.$p.json" > /dev/null
      if [ $p = fp32 ]; then echo "$n fp32: $(python3 tools/gpu_parity.py "/tmp/$n.cpu.json" "/tmp/$n.$p.json")"
      else echo "$n fp16 (IoU >= 0.5, any score): $(python3 tools/gpu_parity.py "/tmp/$n.cpu.json" "/tmp/$n.$p.json" --iou 0.5 --score-tol 1 --mask-iou 0)"; fi
      "$ODRT_BIN" bench "/tmp/$n.$p.odrt" --iterations 100 --warmup 10 --json > "$OUT/bench_${n}_$p.json" 2>&1 &&
        python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("  device median %.3f ms, detect median %.3f ms" % (j["device_median_ms"], j["median_ms"]))' "$OUT/bench_${n}_$p.json"
    done
  done
  ;;
profile)
  # per-op device times of CUDA engines: MODEL PRECISION BATCH
  e=/tmp/profile.odrt
  "$ODRT_BIN" build "${2:-models/handtrack/handtrack.onnx}" -o $e --device cuda --precision "${3:-fp16}" --batch "${4:-1}" >/dev/null &&
    ODRT_PROFILE=1 "$ODRT_BIN" bench $e --iterations 20 --warmup 3 2>&1 | grep -E "odrt cuda profile|GPU time|Latency" > "$OUT/profile_${3:-fp16}_b${4:-1}.log"
  ODRT_PROFILE=1 "$ODRT_BIN" bench $e --iterations 20 --warmup 3 2>&1 | grep -E "^ +[0-9]+ " | sort -k3 -n -r | head -12 >> "$OUT/profile_${3:-fp16}_b${4:-1}.log"
  cat "$OUT/profile_${3:-fp16}_b${4:-1}.log"
  ;;
ab)
  # GPU time per detect (median) with KNOB at each value ('-': unset), the values alternated over 3
  # rounds so that drift shows; handtrack fp16 and fp32, EfficientDet-D0 fp16, batch 1 and 64
  knob="$2"; shift 2
  for spec in "models/handtrack/handtrack.onnx fp16 1" "models/handtrack/handtrack.onnx fp16 64" \
              "models/handtrack/handtrack.onnx fp32 1" "$ODRT_SHARED_DIR/models/efficientdet_d0/model.onnx fp16 1" \
              "$ODRT_SHARED_DIR/models/efficientdet_d0/model.onnx fp16 16"; do
    set -- $spec "${@}"
    m=$1 p=$2 b=$3; shift 3
    "$ODRT_BIN" build "$m" -o /tmp/ab.odrt --device cuda --precision "$p" --batch "$b" >/dev/null || continue
    it=$([ "$b" = 1 ] && echo 400 || echo 100)
    line="$(basename "$(dirname "$m")")/$(basename "$m" .onnx) $p b$b:"
    for r in 1 2 3; do
      for v in "$@"; do
        set_knob=("$knob=$v"); [ "$v" = - ] && set_knob=(-u "$knob")
        t=$(env "${set_knob[@]}" "$ODRT_BIN" bench /tmp/ab.odrt --iterations $it --warmup 20 --json |
          python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["device_median_ms"])')
        line="$line $knob=$v $t"
      done
    done
    echo "$line" | tee -a "$OUT/ab.log"
  done
  ;;
opprof)
  e=/tmp/opprof.odrt
  "$ODRT_BIN" build "$2" -o $e --device cuda --precision "$3" --batch "$4" >/dev/null &&
    ODRT_PROFILE=1 "$ODRT_BIN" bench $e --iterations 20 --warmup 3 > /dev/null 2> "$OUT/opprof_$(basename "$2" .onnx)_$3_b$4${5:+_$5}.log"
  grep "odrt cuda profile" "$OUT/opprof_$(basename "$2" .onnx)_$3_b$4${5:+_$5}.log"
  ;;
quick)
  # batch-1 latency of the handtrack CUDA engines (graph replay)
  for p in fp32 fp16; do
    "$ODRT_BIN" build models/handtrack/handtrack.onnx -o /tmp/q.odrt --device cuda --precision $p >/dev/null &&
      echo "$p: $("$ODRT_BIN" bench /tmp/q.odrt --iterations 500 --warmup 50 | grep -E 'GPU time' | cut -c1-140)"
  done
  for p in fp32 fp16; do
    "$ODRT_BIN" build "$ODRT_SHARED_DIR/models/efficientdet_d0/model.onnx" -o /tmp/q.odrt --device cuda --precision $p >/dev/null &&
      echo "efficientdet_d0 $p: $("$ODRT_BIN" bench /tmp/q.odrt --iterations 200 --warmup 20 | grep -E 'GPU time' | cut -c1-140)"
  done
  ;;
compare)
  # FP32 vs FP16 CUDA engines (and the CPU engine vs FP32) on the shared photos: odrt compare
  for m in models/handtrack/handtrack.onnx .cache/models/handtrack640.onnx; do
    n=$(basename "$m" .onnx)
    "$ODRT_BIN" build "$m" -o /tmp/$n.cpu.odrt >/dev/null && "$ODRT_BIN" build "$m" -o /tmp/$n.f32.odrt --device cuda >/dev/null &&
      "$ODRT_BIN" build "$m" -o /tmp/$n.f16.odrt --device cuda --precision fp16 >/dev/null
    echo "== $n: CPU engine vs CUDA fp32"; "$ODRT_BIN" compare /tmp/$n.cpu.odrt /tmp/$n.f32.odrt --images "$ODRT_SHARED_DIR/images" --atol 1e-3 --rtol 0 --json "$OUT/cmp_${n}_cpu_f32.json" | tail -4
    echo "== $n: CUDA fp32 vs CUDA fp16"; "$ODRT_BIN" compare /tmp/$n.f32.odrt /tmp/$n.f16.odrt --images "$ODRT_SHARED_DIR/images" --atol 1e-2 --rtol 1e-2 --json "$OUT/cmp_${n}_f32_f16.json" | tail -4
  done
  ;;
convs)
  # odrt's CUDA conv kernels vs cuDNN per layer, fp16 NHWC (bench/cuda_convs.cu)
  .gpu/bin/cuda_convs 2>&1 | tee "$OUT/cuda_convs.log"
  ;;
bench | peerprofile)
  if [ -d .whl ]; then python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site; fi
  script=bench/gpu_peer.py
  [ "$1" = peerprofile ] && script=bench/gpu_peer_profile.py
  shift
  PYTHONUNBUFFERED=1 python3 "$script" --odrt "$ODRT_BIN" "$@" 2>&1 | tee "$OUT/$(basename "$script" .py).log" | tail -32
  ;;
esac
