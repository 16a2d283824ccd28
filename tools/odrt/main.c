/* odrt command-line tool: one binary, verbs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "odrt %s - TF Object Detection API models: inspect, convert, build engines, detect\n"
            "\n"
            "usage: odrt <verb> [options]\n"
            "\n"
            "MODEL: an ONNX file, a TensorFlow SavedModel directory (or its saved_model.pb), a frozen\n"
            "GraphDef .pb, or a TF.js graph model.json: TensorFlow files are read without TensorFlow\n"
            "(docs/tensorflow.md).\n"
            "\n"
            "verbs:\n"
            "  inspect MODEL|ENGINE [--json] [--dot FILE] [--resave FILE] [--shapes FILE]\n"
            "      Summarise a model: opsets, inputs/outputs, node and op counts (sub-graphs\n"
            "      included), initializer bytes, sub-graphs, and what is recognised of a TF OD API\n"
            "      export. --json prints the stable JSON report (docs/inspect-json.md); --dot writes\n"
            "      Graphviz of the main graph; --resave writes the model back out through odrt's IR;\n"
            "      --shapes runs shape inference and writes every value's dtype and shape as JSON.\n"
            "      An engine file prints its metadata (input, preprocessing, NMS, kernels, provenance).\n"
            "  run MODEL [--input NAME=FILE.npy]... [--image NAME=FILE.jpg|png] [--output-dir DIR]\n"
            "      Run the model on the CPU reference executor; writes one .npy per output and\n"
            "      outputs.json into DIR (default: .).\n"
            "  convert MODEL -o OUT.onnx [--target trt7|trt8|trt10|trt11|onnx] [--nms efficient|batched|onnx]\n"
            "          [--input-shape BxHxWxC] [--input-dtype uint8|float32] [--input-layout nhwc|nchw]\n"
            "          [--batch N|dynamic] [--score-threshold F] [--iou-threshold F] [--max-detections N]\n"
            "          [--class-offset K] [--precision fp32|fp16] [--debug-output TENSOR]... [--report FILE.json]\n"
            "      Rewrite a TF OD API export (tf2onnx) into a TensorRT-ready ONNX, found by structure:\n"
            "      batched preprocessing instead of the map_fn Loop, box decode + NMS as EfficientNMS_TRT\n"
            "      (default for trt8/trt10), BatchedNMS_TRT (trt7) or ONNX NonMaxSuppression (default for\n"
            "      trt11 and onnx; any batch).\n"
            "      --precision fp16: a strongly typed FP16 ONNX (TensorRT 10/11 take precision from the\n"
            "      model): the network in float16, box decode and NMS in float32, explicit Casts.\n"
            "      --precision int8 --calibration DIR|calib.json [--calibration-method percentile|entropy|minmax]:\n"
            "      a Q/DQ ONNX: int8 convolutions (weights per channel, activations calibrated on the photos\n"
            "      through the export's preprocessing); stem, heads and layers that quantize badly stay float.\n"
            "  calibrate MODEL --images DIR -o calib.json [--method percentile|entropy|minmax] [--input-shape BxHxWx3]\n"
            "      The int8 activation ranges alone, for convert --precision int8 --calibration calib.json.\n"
            "      Outputs: num_detections, detection_boxes, detection_scores, detection_classes\n"
            "      (0-based classes; --class-offset 1 keeps TF's ids), Mask R-CNN also detection_masks.\n"
            "      Faster / Mask R-CNN: both NMS stages rebuilt, the crops as Gathers. See docs/convert.md.\n"
            "  build MODEL -o ENGINE.odrt [--device cpu|cuda] [--precision fp32|fp16|int8] [--batch N]\n"
            "          [--input-shape HxW] [--threads N] [--labels label_map.pbtxt|labels.txt] [--class-offset K]\n"
            "          [--score-threshold F] [--iou-threshold F] [--max-detections N]\n"
            "      Build an odrt engine from a TF OD API export: the network planned, fused and pre-packed for\n"
            "      the device, preprocessing (resize as the export, normalise) and TF-semantics post-processing\n"
            "      (decode, per-class NMS, clip) built in, one mmap-loadable file (docs/engine.md). Classes are\n"
            "      1-based like TF unless --class-offset says otherwise. --input-shape fixes the frame size.\n"
            "      SSD, EfficientDet, CenterNet, Faster R-CNN and Mask R-CNN exports of any class count; the NMS\n"
            "      settings come from the graph (--score-threshold/--iou-threshold/--max-detections override them;\n"
            "      CenterNet has no NMS; R-CNN: the second stage's, and a Mask R-CNN's count must stay the export's).\n"
            "      --precision int8 (CPU; SSD, EfficientDet, CenterNet) --calibration DIR|calib.json\n"
            "          [--calibration-method percentile|entropy|minmax] [--save-calibration calib.json]:\n"
            "      1x1 convolutions in int8 (weights per channel; input ranges calibrated on the photos through\n"
            "      the engine's preprocessing; a sensitivity pass keeps the costliest in float; VNNI kernels).\n"
            "  detect ENGINE|MODEL IMAGE_OR_DIR... [--threshold 0.3] [--labels FILE] [--json OUT.json]\n"
            "          [--coco-results OUT.json] [--draw DIR] [--threads N] [build options for a MODEL]\n"
            "      Detect on JPEG/PNG files or folders: labelled pixel boxes (table; --json for JSON;\n"
            "      --coco-results writes every detection in COCO results format), annotated pictures with\n"
            "      --draw. Mask R-CNN: each detection's mask (pasted as TF does, > 0.5) as COCO RLE (\"mask\" in\n"
            "      --json, \"segmentation\" in --coco-results) and drawn. A MODEL is built in memory first.\n"
            "  bench ENGINE|MODEL [--iterations N] [--warmup N] [--batch N] [--threads N] [--streams N]\n"
            "          [--image FILE] [--json]\n"
            "      Engine load time (file -> ready), first inference, latency min/mean/median/p90/p99,\n"
            "      throughput and peak RSS; --streams N (2..16) also the throughput of N handles on the\n"
            "      engine detecting concurrently (CPU: from N threads; CUDA: batches in flight on N streams,\n"
            "      kept busy from one thread by odrt_engine_submit / odrt_engine_wait).\n"
            "  eval ENGINE|MODEL --images DIR --annotations instances.json [--threshold F] [--labels FILE]\n"
            "          [--class-offset K] [--per-class] [--iou-type bbox|segm] [--json OUT.json]\n"
            "  eval --detections results.json --annotations instances.json [--per-class] [--iou-type bbox|segm]\n"
            "          [--json OUT.json]\n"
            "      COCO bbox (--iou-type segm: mask) evaluation in C with pycocotools' results: the 12\n"
            "      standard stats (AP .50:.95, .50, .75, small/medium/large; AR 1/10/100, small/medium/\n"
            "      large), per-class AP. Classes map to category ids through the labels (a label naming\n"
            "      a category) or the class id.\n"
            "  compare A B --images DIR|FILE... | --input NAME=FILE.npy... [--atol 1e-5] [--rtol 1e-5]\n"
            "          [--min-score 0.05] [--a-class-offset K] [--b-class-offset K] [--json OUT.json]\n"
            "      Run two models/engines (original or converted ONNX on the reference executor, engines) on\n"
            "      the same frames: per output max/mean/median abs and rel error (an element fails where\n"
            "      abs > atol and rel > rtol), detection parity (matched/missed/extra at IoU 0.5 and 0.9,\n"
            "      score deltas) and the COCO mAP of B against A's detections. Exit 0 only if all pass.\n"
            "\n"
            "  odrt --help | --version | --ops   (--ops lists the operators the CPU executor runs)\n"
            "\n"
            "Environment (diagnostics and measurements; the defaults are what odrt ships):\n"
            "  ODRT_PROFILE=1        per-op times on stderr when an engine is freed (CUDA: op by op, no graph)\n"
            "  ODRT_CPU_ISA=generic|avx2|avx512   the CPU kernel set (one this CPU cannot run is not taken)\n"
            "  ODRT_NO_FUSE=1        CPU conv chains op by op\n"
            "  ODRT_CPU_HALF=1|A:B   CPU engine: round op outputs (ops A..B) to fp16; ODRT_CPU_HALF_BITS=N: to N-bit mantissas;\n"
            "                        ODRT_CPU_HALF_WEIGHTS=1: conv weights too\n"
            "  ODRT_CUDA_TC=0, ODRT_CUDA_STEM=0, ODRT_CUDA_PW=0|1|2, ODRT_CUDA_DWR=1|2, ODRT_CUDA_FUSE=0\n"
            "                        CUDA kernel choices (docs/cuda.md)\n"
            "  ODRT_NUM_THREADS=N    threads of the reference executor's GEMMs (run, compare, reference ops)\n"
            "\n"
            "Exit status: 0 success, 1 error (one line on stderr naming the problem), 2 usage error.\n",
            odrt_version());
}

double cli_start;

int main(int argc, char **argv) {
    cli_start = cli_now();
    cli_env_init();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(verb, "--version")) {
        printf("odrt %s (backends: %s)\n", odrt_version(), odrt_backends());
        return 0;
    }
    if (!strcmp(verb, "--ops")) {
        for (int i = 0; odrt_supported_op(i); i++) printf("%s\n", odrt_supported_op(i));
        return 0;
    }
    if (!strcmp(verb, "inspect")) return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(verb, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(verb, "convert")) return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(verb, "calibrate")) return cmd_calibrate(argc - 1, argv + 1);
    if (!strcmp(verb, "build")) return cmd_build(argc - 1, argv + 1);
    if (!strcmp(verb, "detect")) return cmd_detect(argc - 1, argv + 1);
    if (!strcmp(verb, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(verb, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(verb, "compare")) return cmd_compare(argc - 1, argv + 1);
    fprintf(stderr, "odrt: unknown verb '%s' (see odrt --help)\n", verb);
    return 2;
}

int cli_error(const char *what) {
    fprintf(stderr, "odrt: %s%s%s\n", what ? what : "", what && *what ? ": " : "", odrt_last_error());
    return 1;
}

int write_text_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "odrt: cannot write '%s'\n", path);
        return 1;
    }
    int ok = fputs(text, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok) fprintf(stderr, "odrt: short write on '%s'\n", path);
    return !ok;
}

int cmd_inspect(int argc, char **argv) {
    const char *model = NULL, *dot = NULL, *resave = NULL, *shapes = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--dot") && i + 1 < argc) dot = argv[++i];
        else if (!strcmp(argv[i], "--resave") && i + 1 < argc) resave = argv[++i];
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes = argv[++i];
        else if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' || model) {
            fprintf(stderr, "odrt inspect: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else model = argv[i];
    }
    if (!model) {
        fprintf(stderr, "odrt inspect: missing MODEL\n");
        return 2;
    }
    if (cli_is_engine_file(model)) { /* an engine: its metadata */
        odrt_engine_t *e;
        if (dot || resave || shapes) return fprintf(stderr, "odrt inspect: --dot/--resave/--shapes take an ONNX model\n"), 2;
        if (cli_load_engine(model, 1, &e) != ODRT_OK) return cli_error("");
        char *js = NULL;
        int erc = 0;
        if (json) {
            if (odrt_engine_info_json(e, &js) != ODRT_OK) erc = cli_error("inspect");
            else printf("%s\n", js);
            free(js);
        } else {
            printf("engine %s\n", model);
            print_engine_summary(e);
        }
        odrt_engine_free(e);
        return erc;
    }
    odrt_model_t *m;
    if (odrt_model_load(model, &m) != ODRT_OK) return cli_error("");
    int rc = 0;
    char *s = NULL;
    if ((json ? odrt_model_inspect_json(m, &s) : odrt_model_inspect_text(m, &s)) != ODRT_OK) rc = cli_error("inspect");
    else {
        fputs(s, stdout);
        if (json) fputs("\n", stdout);
    }
    free(s);
    if (!rc && dot) {
        char *d = NULL;
        if (odrt_model_to_dot(m, &d) != ODRT_OK) rc = cli_error("dot");
        else rc = write_text_file(dot, d);
        free(d);
    }
    if (!rc && resave && odrt_model_save(m, resave) != ODRT_OK) rc = cli_error("resave");
    if (!rc && shapes) {
        char *j = NULL;
        if (odrt_model_infer_shapes(m, NULL) != ODRT_OK || odrt_model_values_json(m, &j) != ODRT_OK) rc = cli_error("shapes");
        else rc = write_text_file(shapes, j);
        free(j);
    }
    odrt_model_free(m);
    return rc;
}
