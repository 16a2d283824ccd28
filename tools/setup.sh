#!/usr/bin/env bash
# Idempotent setup on Debian 12: system packages, the test/fixture Python venv, the ONNX node-test
# fixtures, and a Release build in build/. Safe to run again; it only does what is missing.
# --runtime: system packages and the odrt build only (no Python), for tools/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(build-essential cmake pkg-config git libprotobuf-c-dev protobuf-c-compiler libcjson-dev
          libxxhash-dev libmd-dev libjpeg62-turbo-dev libpng-dev clang libclang-rt-14-dev graphviz python3 python3-venv)
[ "${1:-}" = "--runtime" ] && APT_PKGS=(build-essential cmake pkg-config libprotobuf-c-dev protobuf-c-compiler libcjson-dev
                                         libxxhash-dev libmd-dev libjpeg62-turbo-dev libpng-dev)
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--runtime" ]; then # the runtime alone: no Python, no test fixtures
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target odrt_cli
  echo "setup: done (build/odrt)"
  exit 0
fi

# AArch64: cross compiler, arm64 libraries and qemu-user for the AArch64 engine test
if ! dpkg -s gcc-aarch64-linux-gnu qemu-user libprotobuf-c-dev:arm64 libcjson-dev:arm64 libxxhash-dev:arm64 libmd-dev:arm64 \
     libjpeg62-turbo-dev:arm64 libpng-dev:arm64 >/dev/null 2>&1; then
  echo "setup: installing the AArch64 cross toolchain and qemu-user"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user libprotobuf-c-dev:arm64 \
    libcjson-dev:arm64 libxxhash-dev:arm64 libmd-dev:arm64 libjpeg62-turbo-dev:arm64 libpng-dev:arm64 >/dev/null
fi

# Python: only for tests and fixture scripts (onnxruntime, onnx, tf2onnx, TensorFlow), never the runtime
PY=.venv/bin/python
REQ=tools/fixtures/requirements.txt
if [ ! -x "$PY" ]; then python3 -m venv .venv; fi
stamp=.venv/.requirements.sha256
if ! sha256sum -c "$stamp" >/dev/null 2>&1; then
  echo "setup: installing Python test requirements (first time takes a few minutes)"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q -r "$REQ"
  sha256sum "$REQ" > "$stamp"
fi

# The Python package's test dependencies (torch, tritonclient, nvidia-pytriton, ray: ~6 GB), a venv
# cached outside the clone per requirements file and linked as .venv-pkg (tests/package/run.py)
PREQ=tools/fixtures/requirements-package.txt
pvenv="$HOME/.cache/odrt/venv-pkg-$(sha256sum "$PREQ" | cut -c1-16)"
if [ ! -x "$pvenv/bin/python" ] || [ ! -f "$pvenv/.complete" ]; then
  echo "setup: installing the Python package's test requirements (first time: a few minutes)"
  rm -rf "$pvenv" && python3 -m venv "$pvenv"
  "$pvenv/bin/python" -m pip install -q --upgrade pip
  "$pvenv/bin/python" -m pip install -q -r "$PREQ"
  touch "$pvenv/.complete"
fi
ln -sfn "$pvenv" .venv-pkg

# ONNX backend node tests, materialised once per onnx version
nstamp=.cache/node_tests/.onnx_version
want=$("$PY" -c 'import onnx; print(onnx.__version__)')
if [ ! -f .cache/node_tests/cases.txt ] || [ "$(cat "$nstamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: materialising ONNX node tests"
  rm -rf .cache/node_tests
  "$PY" tools/fixtures/make_node_tests.py --out .cache/node_tests
  echo "$want" > "$nstamp"
fi

# handtrack640 (shared TF.js model) as the ONNX a tf2onnx user gets, for the engine tests
m640=.cache/models/handtrack640.onnx
if [ ! -f "$m640" ] || [ "$(cat "$m640.stamp" 2>/dev/null)" != "$(sha256sum "$REQ" tools/fixtures/make_handtrack_onnx.py | sha256sum)" ]; then
  if [ -f ../shared/models/handtrack640/model.json ]; then
    echo "setup: converting handtrack640 to ONNX (tf2onnx)"
    "$PY" tools/fixtures/make_handtrack_onnx.py --src ../shared/models/handtrack640/model.json --output "$m640" >/dev/null 2>&1
    sha256sum "$REQ" tools/fixtures/make_handtrack_onnx.py | sha256sum > "$m640.stamp"
  fi
fi

# TF OD API exports of every family (made by the API itself, in its own venv), cached outside the
# clone and linked as .cache/tfod; ODRT_NO_TFOD_FIXTURES=1 skips them (test_families then skips)
if [ "${ODRT_NO_TFOD_FIXTURES:-0}" != 1 ]; then
  echo "setup: TF OD API family fixtures (the first time installs TensorFlow 2.15 and exports 8 models: ~30 min on 2 cores)"
  tfod=$(tools/fixtures/tfod_fixtures.sh)
  mkdir -p .cache
  ln -sfn "$tfod" .cache/tfod
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DODRT_PYTHON="$PWD/$PY" >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: done (build/odrt)"
