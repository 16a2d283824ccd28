#!/usr/bin/env bash
# The main job on the bundled default model, with no Python and no TensorFlow: build odrt, build
# an engine from the handtrack export, detect on a bundled photo (labelled detections printed, an
# annotated picture written to out/demo/), then show the engine's performance summary.
# Usage: tools/demo.sh [PHOTO.jpg|png ...]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --runtime
MODEL=models/handtrack/handtrack.onnx
mkdir -p out/demo
build/odrt build "$MODEL" -o out/demo/handtrack.odrt --labels models/handtrack/label_map.pbtxt
if [ $# -eq 0 ]; then set -- data/images/hands.jpg; fi
build/odrt detect out/demo/handtrack.odrt "$@" --draw out/demo
echo "annotated pictures: out/demo/*.jpg"
build/odrt bench out/demo/handtrack.odrt --iterations 20
