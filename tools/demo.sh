#!/usr/bin/env bash
# The main job on the bundled default model: set up, build, inspect the model, run it on a photo.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
MODEL=models/handtrack/handtrack.onnx
IMAGE=${1:-../shared/images/sample1.jpg}
mkdir -p out
build/odrt inspect "$MODEL"
build/odrt run "$MODEL" --image input_tensor="$IMAGE" --output-dir out/demo
build/odrt convert "$MODEL" -o out/handtrack_trt8.onnx --target trt8 --class-offset 1 --report out/handtrack_trt8.json
.venv/bin/python - <<'PY'
import numpy as np
n = int(np.load("out/demo/num_detections.npy")[0])
s = np.load("out/demo/detection_scores.npy")[0]
b = np.load("out/demo/detection_boxes.npy")[0]
c = np.load("out/demo/detection_classes.npy")[0]
print("top detections (score >= 0.5): class, score, [ymin xmin ymax xmax]")
for i in range(n):
    if s[i] >= 0.5:
        print("  %4.1f  %.3f  %s" % (c[i], s[i], np.round(b[i], 3)))
PY
