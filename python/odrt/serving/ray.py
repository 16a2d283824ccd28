"""odrt as a Ray Data actor: one engine per actor (replica), map_batches over an image dataset.

    import ray, odrt.serving.ray as ro
    ds = ray.data.from_items([{"path": p} for p in photos])          # or ray.data.read_images(...)
    out = ds.map_batches(ro.Detector, fn_constructor_kwargs={"engine": "model.odrt"},
                         concurrency=2, batch_size=8, **ro.resources("model.odrt"))
    rows = out.take_all()

Rows in: "path" (a JPEG/PNG read by libodrt, as `odrt detect` reads it) or "image" (uint8 H x W x 3,
as ray.data.read_images gives). Rows out: the input's "path" if any, "height", "width", "num_detections",
"detection_boxes" (K x 4, ymin xmin ymax xmax normalised), "detection_scores", "detection_classes".
On a cluster the same code runs with the engine file and the photos on storage every node reads
(docs/serving.md)."""
import numpy as np

import odrt


def resources(engine_path, cpus_per_actor=None):
    """map_batches resources for the engine's device: a GPU per actor for CUDA engines"""
    with odrt.Engine(engine_path) as e:
        if e.device == "cuda":
            return {"num_gpus": 1}
    return {"num_cpus": cpus_per_actor} if cpus_per_actor else {}


class Detector:
    """A callable class for Dataset.map_batches (batch_format "numpy"): each actor loads the engine once."""

    def __init__(self, engine, threads=0, score_threshold=0.0):
        self.engine = odrt.Engine(engine, threads=threads)
        self.threshold = float(score_threshold)

    def __call__(self, batch):
        if "image" in batch:
            frames = [np.ascontiguousarray(f, dtype=np.uint8) for f in batch["image"]]
        elif "path" in batch:
            frames = [odrt.load_image(str(p)) for p in batch["path"]]
        else:
            raise odrt.OdrtError("odrt.serving.ray: rows need an 'image' or a 'path' column")
        dets = []
        b = self.engine.batch
        for s in range(0, len(frames), b):
            dets += self.engine.detect(frames[s:s + b])
        if self.threshold > 0:
            dets = [d.above(self.threshold) for d in dets]
        out = {"height": np.array([d.height for d in dets], np.int32), "width": np.array([d.width for d in dets], np.int32),
               "num_detections": np.array([len(d) for d in dets], np.int32)}
        for key, attr in (("detection_boxes", "boxes"), ("detection_scores", "scores"), ("detection_classes", "classes")):
            col = np.empty(len(dets), dtype=object)
            for i, d in enumerate(dets):
                col[i] = getattr(d, attr)
            out[key] = col
        if "path" in batch:
            out["path"] = np.asarray(batch["path"])
        return out
