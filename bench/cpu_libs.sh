#!/usr/bin/env bash
# odrt's CPU kernels against XNNPACK and oneDNN from Debian 12 on handtrack's layer shapes, one thread
# (bench/cpu_libs.c). Needs build/libodrt.a (tools/setup.sh) and installs the two libraries' -dev
# packages (not odrt dependencies) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s libxnnpack-dev libdnnl-dev libpthreadpool-dev >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libxnnpack-dev libdnnl-dev libpthreadpool-dev >/dev/null
fi
mkdir -p build/bench
gcc -O2 -std=c11 -D_GNU_SOURCE -Isrc -Iinclude bench/cpu_libs.c build/libodrt.a -lXNNPACK -lpthreadpool -ldnnl -lm -lpthread \
  -o build/bench/cpu_libs
OMP_NUM_THREADS=1 taskset -c "${CPU:-1}" build/bench/cpu_libs
