#!/usr/bin/env bash
# Pack what a GPU machine (the device tool) needs to run the CUDA checks and benchmarks on binaries
# built here: .gpu/bin (odrt, test_backend_ops), .gpu/lib (their shared libraries but libc/libm:
# the GPU image lacks cJSON, protobuf-c, xxhash, libmd), .gpu/shared (the shared photos).
# Carry .gpu, .cache/models and .whl (onnx2torch) with the call; then: bash tools/gpu_run.sh
# The binaries come from build-gpu (sm_90 only, stripped: with CI's sm_87 + sm_90 code the carry
# passes the device tool's 64 MiB); BUILD=dir packs another build.
set -euo pipefail
cd "$(dirname "$0")/.."
B="${BUILD:-build-gpu}"
[ -f "$B/CMakeCache.txt" ] || cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$B" -j"$(nproc)" --target odrt_cli test_backend_ops test_engine_threads test_api test_engine_async >/dev/null
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib .gpu/shared
cp "$B"/odrt "$B"/test_backend_ops "$B"/test_engine_threads "$B"/test_api "$B"/test_engine_async .gpu/bin/
# CONVS=1: odrt's conv kernels against cuDNN too (bench/cuda_convs.cu, 5 MiB; the GPU machine's own
# cuDNN runs it), when cuDNN's header is here. Off by default: the tracked tree, .gpu, .cache/models
# and .whl already come to about 63 MiB of the device tool's 64
if [ "${CONVS:-0}" = 1 ] && echo '#include <cudnn.h>' | nvcc -x cu -E - >/dev/null 2>&1; then
  nvcc -O2 -std=c++17 -arch=sm_90 -DODRT_HAVE_CUDA -Isrc -Iinclude bench/cuda_convs.cu "$B"/libodrt.a -lcudnn -lprotobuf-c \
    -lcjson -lxxhash -lmd -ljpeg -lpng -lpthread -o .gpu/bin/cuda_convs
fi
strip .gpu/bin/*
# not libc/libm (system), nor libstdc++/libgcc_s/libz: the GPU image has newer ones, which its
# Python and PyTorch need
for lib in $(ldd "$B"/odrt "$B"/test_backend_ops "$B"/test_engine_threads "$B"/test_api .gpu/bin/cuda_convs 2>/dev/null | awk '/=> \//{print $3}' | sort -u); do
  case "$(basename "$lib")" in
  libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libstdc++* | libgcc_s* | libz.so* | libcudnn*) ;;
  *) cp -L "$lib" .gpu/lib/ ;;
  esac
done
cp -r ../shared/images ../shared/coco .gpu/shared/
mkdir -p .gpu/shared/models && cp -r ../shared/models/efficientdet_d0 .gpu/shared/models/
du -sh .gpu
