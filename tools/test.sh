#!/usr/bin/env bash
# Every test, both build flavours: Release and Debug+ASan+UBSan (ctest each), the AArch64 cross
# build's engine test under qemu-user, then a bounded
# libFuzzer run of the ONNX loader, the engine loader, the COCO json loader, the TF.js and GraphDef readers and the checkpoint index. FUZZ_SECONDS (default 60) bounds each.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
PY="$PWD/.venv/bin/python"
JOBS=$(nproc)

echo "== Release"
(cd build && ctest --output-on-failure -j"$JOBS" -LE gpu)

echo "== AArch64: cross build, engine test under qemu-user"
cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-aarch64 -j"$JOBS" --target odrt_cli test_int8_kernels test_dw_kernels
(cd tests/python && ODRT_BIN="$PWD/../../build/odrt" ODRT_BIN_AARCH64="$PWD/../../build-aarch64/odrt" \
  "$PY" -m pytest -q -p no:cacheprovider test_engine_aarch64.py)

echo "== Debug + ASan + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DODRT_SANITIZE=ON -DODRT_PYTHON="$PY" >/dev/null
cmake --build build-asan -j"$JOBS"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$JOBS" -LE gpu)

echo "== libFuzzer: ONNX loader, engine loader, COCO json loader, TF.js reader, GraphDef reader, checkpoint index"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DODRT_SANITIZE=ON -DODRT_FUZZ=ON -DODRT_PYTHON="$PY" >/dev/null
cmake --build build-fuzz -j"$JOBS" --target fuzz_onnx_load fuzz_engine_load fuzz_coco_load fuzz_tfjs_load fuzz_graphdef_load fuzz_bundle_index
corpus=build-fuzz/corpus
mkdir -p "$corpus"
"$PY" tests/malformed/make_corpus.py build-fuzz/malformed >/dev/null
find build-fuzz/malformed -name '*.onnx' -size -1M -exec cp {} "$corpus"/ \;
for d in .cache/node_tests/test_loop11 .cache/node_tests/test_if .cache/node_tests/test_conv_with_strides_padding; do
  [ -f "$d/model.onnx" ] && cp "$d/model.onnx" "$corpus/$(basename "$d").onnx"
done
build-fuzz/fuzz_onnx_load -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -timeout=10 "$corpus" 2>&1 | tail -n 3
ecorpus=build-fuzz/engine-corpus
mkdir -p "$ecorpus"
"$PY" tests/fuzz/make_engine_seed.py "$ecorpus/seed.odrt"
"$PY" tests/fuzz/make_engine_seed.py "$ecorpus/seed_int8.odrt" --int8
cp tests/fuzz/engine-regressions/* "$ecorpus/"  # inputs that once crashed: run first, every time
build-fuzz/fuzz_engine_load -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 "$ecorpus" 2>&1 | tail -n 3
ccorpus=build-fuzz/coco-corpus
mkdir -p "$ccorpus"
cp tests/fuzz/coco_seed.json "$ccorpus/"
build-fuzz/fuzz_coco_load -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 "$ccorpus" 2>&1 | tail -n 3
tcorpus=build-fuzz/tfjs-corpus
mkdir -p "$tcorpus"
"$PY" tests/fuzz/make_tfjs_seed.py "${ODRT_SHARED_DIR:-../shared}" "$tcorpus" >/dev/null
build-fuzz/fuzz_tfjs_load -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 "$tcorpus" 2>&1 | tail -n 3
"$PY" tests/fuzz/make_tf_seeds.py "${ODRT_SHARED_DIR:-../shared}" build-fuzz/graphdef-corpus build-fuzz/index-corpus >/dev/null
cp tests/fuzz/graphdef-regressions/* build-fuzz/graphdef-corpus/  # inputs that once crashed: run first, every time
build-fuzz/fuzz_graphdef_load -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 build-fuzz/graphdef-corpus 2>&1 | tail -n 3
build-fuzz/fuzz_bundle_index -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 build-fuzz/index-corpus 2>&1 | tail -n 3
echo "fuzz: 6 passed, 0 failed"
