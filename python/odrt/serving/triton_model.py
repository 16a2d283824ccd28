"""Triton Inference Server Python-backend model serving an odrt engine (copied as 1/model.py into a
model repository by odrt.serving.triton.write_repository; docs/serving.md).

Input "input_tensor": uint8 [batch, H, W, 3] RGB frames (TF OD API's name). Outputs, as the TF OD API's
serving signature names them, per frame: "detection_boxes" float32 [K, 4] (ymin, xmin, ymax, xmax,
normalised), "detection_scores" float32 [K], "detection_classes" int32 [K] (the engine's class ids),
"num_detections" int32 [1]; K is the largest count among the request's frames, rows past a frame's
count are zero. Triton's dynamic batcher hands several requests to one execute(): their frames run
together in batches of the engine's size. A request whose frames odrt refuses gets an error response
with odrt's message; the others are answered."""
import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils

import odrt


class TritonPythonModel:
    def initialize(self, args):
        cfg = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in cfg.get("parameters", {}).items()}
        path = os.path.join(args["model_repository"], args["model_version"], params.get("engine", "model.odrt"))
        self.engine = odrt.Engine(path, threads=int(params.get("threads") or 0))
        self.threshold = float(params.get("score_threshold") or 0)
        self.batch = self.engine.batch

    def _frames(self, request):
        x = pb_utils.get_input_tensor_by_name(request, "input_tensor")
        if x is None:
            raise odrt.OdrtError("the request has no 'input_tensor'")
        a = x.as_numpy()
        if a.dtype != np.uint8 or a.ndim != 4 or a.shape[3] != 3:
            raise odrt.OdrtError("input_tensor is %s %s; odrt takes uint8 [batch, H, W, 3] RGB" % (a.dtype, a.shape))
        return [np.ascontiguousarray(a[i]) for i in range(a.shape[0])]

    def _detect(self, frames):
        out = []
        for s in range(0, len(frames), self.batch):
            out += self.engine.detect(frames[s:s + self.batch])
        return out

    def _response(self, dets):
        dets = [d.above(self.threshold) if self.threshold > 0 else d for d in dets]
        k = max([len(d) for d in dets] + [0])
        boxes = np.zeros((len(dets), k, 4), np.float32)
        scores = np.zeros((len(dets), k), np.float32)
        classes = np.zeros((len(dets), k), np.int32)
        for i, d in enumerate(dets):
            boxes[i, :len(d)], scores[i, :len(d)], classes[i, :len(d)] = d.boxes, d.scores, d.classes
        num = np.array([[len(d)] for d in dets], np.int32)
        return pb_utils.InferenceResponse([pb_utils.Tensor("detection_boxes", boxes), pb_utils.Tensor("detection_scores", scores),
                                           pb_utils.Tensor("detection_classes", classes), pb_utils.Tensor("num_detections", num)])

    def execute(self, requests):
        responses, frames, owner = [None] * len(requests), [], []
        for r, req in enumerate(requests):
            try:
                f = self._frames(req)
                frames += f
                owner += [r] * len(f)
            except odrt.OdrtError as e:
                responses[r] = pb_utils.InferenceResponse(error=pb_utils.TritonError(str(e)))
        try:  # every request's frames together
            dets = self._detect(frames)
            for r in range(len(requests)):
                if responses[r] is None:
                    responses[r] = self._response([d for d, o in zip(dets, owner) if o == r])
        except odrt.OdrtError:  # one request's frames were refused: each request on its own
            for r in range(len(requests)):
                if responses[r] is None:
                    try:
                        responses[r] = self._response(self._detect([f for f, o in zip(frames, owner) if o == r]))
                    except odrt.OdrtError as e:
                        responses[r] = pb_utils.InferenceResponse(error=pb_utils.TritonError(str(e)))
        return responses

    def finalize(self):
        self.engine.close()
