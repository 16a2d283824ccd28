#!/usr/bin/env bash
# Pack what a GPU machine (the device tool) needs to run the CUDA checks and benchmarks on binaries
# built here: .gpu/bin (odrt, test_backend_ops), .gpu/lib (their shared libraries but libc/libm:
# the GPU image lacks cJSON, protobuf-c, xxhash, libmd), .gpu/shared (the shared photos).
# Carry .gpu, .cache/models and .whl (onnx2torch) with the call; then: bash tools/gpu_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
B="${BUILD:-build}"
cmake --build "$B" -j"$(nproc)" --target odrt_cli test_backend_ops test_engine_threads >/dev/null
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib .gpu/shared
cp "$B"/odrt "$B"/test_backend_ops "$B"/test_engine_threads .gpu/bin/
# not libc/libm (system), nor libstdc++/libgcc_s/libz: the GPU image has newer ones, which its
# Python and PyTorch need
for lib in $(ldd "$B"/odrt "$B"/test_backend_ops "$B"/test_engine_threads | awk '/=> \//{print $3}' | sort -u); do
  case "$(basename "$lib")" in
  libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libstdc++* | libgcc_s* | libz.so*) ;;
  *) cp -L "$lib" .gpu/lib/ ;;
  esac
done
cp -r ../shared/images ../shared/coco .gpu/shared/
mkdir -p .gpu/shared/models && cp -r ../shared/models/efficientdet_d0 .gpu/shared/models/
du -sh .gpu
