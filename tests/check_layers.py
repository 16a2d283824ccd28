#!/usr/bin/env python3
"""The layers of src/, lowest first, and a check that no file includes a header of a higher layer
(or of another module of its own layer). The README's layout table draws the same order.

  python3 tests/check_layers.py [SRC_DIR]      # exit 0 clean, 1 with one line per violation

A module is a folder of src/ (src/backends/cpu is its own module); the files directly in src/
are `base`. A file may include the public header (odrt.h), generated headers named in GENERATED,
system headers, and headers of its own module or of a lower layer. Every folder of src/ must be in
LAYERS, so a new folder is placed before it is used."""
import os
import re
import sys

LAYERS = [  # (module, rank): lower ranks are below; one rank may hold modules that never include each other
    ("base", 0),          # src/*.c, src/*.h: errors, arenas, maps, strings, tensors, shared formulas
    ("io", 1),            # .npy, images, label maps, drawing
    ("eval", 1),          # COCO json and evaluation
    ("ir", 2),            # the graph IR, surgery, the model handle
    ("ops", 3),           # reference kernels, executor, shape inference, constant evaluation
    ("frontend", 4),      # ONNX <-> IR, TensorFlow -> IR (the only protobuf code; folds constants as it lowers)
    ("passes", 5),        # TF OD API recognition, convert, inspect, graph optimisations
    ("engine", 6),        # plans: build, lowering, validation, file format, pre/post-processing
    ("backends", 7),      # the backend interface
    ("backends/cpu", 8),  # the CPU backend
    ("backends/cuda", 8), # the CUDA backend
    ("runtime", 9),       # the public engine API over the backends built in
]
GENERATED = {"odrt_onnx.pb-c.h": {"frontend"}, "odrt_tf.pb-c.h": {"frontend"}}  # header -> modules that may include it
RANK = dict(LAYERS)
INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', re.M)


def module_of(rel):
    """rel: a path relative to src/"""
    parts = rel.split("/")
    if len(parts) == 1:
        return "base"
    if parts[0] == "backends" and len(parts) > 2:
        return "backends/" + parts[1]
    return parts[0]


def main():
    src = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src"))
    bad = []
    for d, dirs, files in os.walk(src):
        rel_d = os.path.relpath(d, src)
        for sub in dirs:
            m = module_of(os.path.normpath(os.path.join(rel_d, sub, "x.c")))
            if m not in RANK and not os.path.isfile(os.path.join(d, sub, ".not-a-module")):
                bad.append("src/%s: folder not in tests/check_layers.py's LAYERS (place it)" % os.path.normpath(os.path.join(rel_d, sub)))
        for f in files:
            if not f.endswith((".c", ".h", ".cu", ".cuh")):
                continue
            rel = os.path.normpath(os.path.join(rel_d, f))
            me = module_of(rel)
            if me not in RANK:
                continue
            text = open(os.path.join(d, f), encoding="utf-8", errors="replace").read()
            for line_no, inc in ((text.count("\n", 0, m.start()) + 1, m.group(1)) for m in INCLUDE.finditer(text)):
                if inc == "odrt.h":
                    continue
                if inc in GENERATED:
                    if me not in GENERATED[inc]:
                        bad.append("src/%s:%d: includes generated %s (only %s may)" % (rel, line_no, inc, ", ".join(sorted(GENERATED[inc]))))
                    continue
                target = os.path.join(src, inc)
                if not os.path.isfile(target):
                    target = os.path.join(d, inc)  # relative to the including file
                    if not os.path.isfile(target):
                        bad.append("src/%s:%d: includes \"%s\", which is not under src/" % (rel, line_no, inc))
                        continue
                them = module_of(os.path.relpath(target, src))
                if them == me:
                    continue
                if RANK.get(them, 99) >= RANK[me]:
                    bad.append("src/%s:%d: %s (layer %d) includes %s from %s (layer %d)" % (
                        rel, line_no, me, RANK[me], inc, them, RANK.get(them, 99)))
    for b in bad:
        print(b)
    print("layers: %s" % ("%d violations" % len(bad) if bad else "clean (%s)" % " < ".join(
        "/".join(m for m, r in LAYERS if r == k) for k in sorted(set(RANK.values())))))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
