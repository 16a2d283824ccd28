/* odrt.h - the one public header of libodrt.
 *
 * odrt loads detectors exported by the TensorFlow Object Detection API (as ONNX from tf2onnx),
 * inspects and rewrites them, and runs them.
 *
 * Conventions
 *  - Every fallible call returns odrt_status_t. On failure, odrt_last_error() returns a one-line
 *    message naming the problem (thread-local, valid until the next failing call on the thread).
 *  - Handles are opaque (`odrt_*_t *`). Each `*_load`/`*_create` has a matching `*_free`, which
 *    accepts NULL.
 *  - Ownership is stated on each call: "caller owns" means the caller must free with the named
 *    function; "borrowed" means valid as long as the handle it came from.
 *  - Options structs begin with `struct_size`: set it with the struct's *_init function (or to
 *    sizeof the struct), so that a program built against this header keeps working with a later
 *    library whose struct has grown (fields past struct_size take their defaults).
 *  - The library prints nothing and reads no environment variables: messages (profiles, warnings)
 *    go to the callback of odrt_set_log; every knob is an option (odrt_engine_options_t). The CLI
 *    maps its environment variables (ODRT_PROFILE, ODRT_CPU_ISA, ...; `odrt --help`) onto them.
 *  - Thread safety: calls on different handles may run concurrently. One handle is used by one
 *    thread at a time (odrt_engine_share makes a handle for another thread). odrt_set_log and
 *    odrt_set_reference_threads are process-wide: call them before other threads use odrt.
 */
#ifndef ODRT_H
#define ODRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols of the public API (exported from a shared libodrt; everything else is hidden). */
#if defined(ODRT_BUILDING) && defined(__GNUC__)
#define ODRT_API __attribute__((visibility("default")))
#else
#define ODRT_API
#endif

#define ODRT_VERSION_MAJOR 0
#define ODRT_VERSION_MINOR 2
#define ODRT_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH of this header; odrt_version_number() gives the library's */
#define ODRT_VERSION_NUMBER (ODRT_VERSION_MAJOR * 10000 + ODRT_VERSION_MINOR * 100 + ODRT_VERSION_PATCH)

typedef enum odrt_status {
    ODRT_OK = 0,
    ODRT_ERR_IO,          /* file missing, unreadable, short read/write */
    ODRT_ERR_PARSE,       /* malformed protobuf, npy, image, ... */
    ODRT_ERR_INVALID,     /* well-formed but semantically invalid (cycle, missing producer, ...) */
    ODRT_ERR_UNSUPPORTED, /* valid but not supported (op, dtype, feature) */
    ODRT_ERR_SHAPE,       /* shapes do not agree */
    ODRT_ERR_NOMEM,       /* allocation failed or a size limit was exceeded */
    ODRT_ERR_ARG,         /* bad argument from the caller */
    ODRT_ERR_NOT_FOUND,   /* a named tensor/node/structure was not found */
    ODRT_ERR_DEVICE,      /* the device (GPU) failed or is missing: the message has the driver's text */
} odrt_status_t;

/* Static string for a status ("ok", "io error", ...). */
ODRT_API const char *odrt_status_str(odrt_status_t s);
/* Message of the last failure on this thread ("" if none). Borrowed. */
ODRT_API const char *odrt_last_error(void);
/* "MAJOR.MINOR.PATCH". Static. */
ODRT_API const char *odrt_version(void);
/* The library's ODRT_VERSION_NUMBER (a program can compare it with the header it was built with). */
ODRT_API int odrt_version_number(void);

/* Messages of the library: profiles (ODRT_LOG_INFO, when a profiling engine is freed) and
 * warnings. fn receives one message (one or more lines, no trailing newline) and user. NULL (the
 * default) drops them. Process-wide. */
typedef enum odrt_log_level { ODRT_LOG_ERROR = 0, ODRT_LOG_WARN, ODRT_LOG_INFO, ODRT_LOG_DEBUG } odrt_log_level_t;
typedef void (*odrt_log_fn)(odrt_log_level_t level, const char *message, void *user);
ODRT_API void odrt_set_log(odrt_log_fn fn, void *user);

/* Element types; values equal ONNX TensorProto.DataType. */
typedef enum odrt_dtype {
    ODRT_DT_UNDEFINED = 0,
    ODRT_DT_FLOAT = 1,
    ODRT_DT_UINT8 = 2,
    ODRT_DT_INT8 = 3,
    ODRT_DT_UINT16 = 4,
    ODRT_DT_INT16 = 5,
    ODRT_DT_INT32 = 6,
    ODRT_DT_INT64 = 7,
    ODRT_DT_STRING = 8,
    ODRT_DT_BOOL = 9,
    ODRT_DT_FLOAT16 = 10,
    ODRT_DT_DOUBLE = 11,
    ODRT_DT_UINT32 = 12,
    ODRT_DT_UINT64 = 13,
    ODRT_DT_BFLOAT16 = 16,
} odrt_dtype_t;

/* Lower-case name ("float32", "uint8", ...) or "undefined". Static. */
ODRT_API const char *odrt_dtype_name(odrt_dtype_t dt);
/* Size of one element in bytes; 0 for undefined/string. */
ODRT_API size_t odrt_dtype_size(odrt_dtype_t dt);

#define ODRT_MAX_RANK 8

/* ------------------------------------------------------------------------------------------ */
/* Tensors: dense host tensors used for inputs and outputs. */

typedef struct odrt_tensor {
    odrt_dtype_t dtype;
    int rank;
    int64_t dims[ODRT_MAX_RANK];
    void *data;    /* owned by the tensor: odrt_tensor_free releases it */
    size_t nbytes; /* numel * dtype size */
} odrt_tensor_t;

/* New zero-filled tensor. Caller owns *out (odrt_tensor_free). */
ODRT_API odrt_status_t odrt_tensor_create(odrt_dtype_t dt, int rank, const int64_t *dims, odrt_tensor_t **out);
ODRT_API void odrt_tensor_free(odrt_tensor_t *t);
ODRT_API int64_t odrt_tensor_numel(const odrt_tensor_t *t);

/* .npy I/O (versions 1-3, little-endian, C order; float32/16/64, int8-64, uint8-64, bool).
 * Caller owns *out. */
ODRT_API odrt_status_t odrt_npy_load(const char *path, odrt_tensor_t **out);
ODRT_API odrt_status_t odrt_npy_save(const char *path, const odrt_tensor_t *t);

/* Decode a JPEG or PNG into a uint8 [1,H,W,3] RGB tensor. If out_h and out_w are > 0 the image
 * is resized to that size with bilinear interpolation (half-pixel centres, as PIL's BILINEAR
 * for upscaling). Caller owns *out. */
ODRT_API odrt_status_t odrt_image_load(const char *path, int out_h, int out_w, odrt_tensor_t **out);

/* Write a uint8 [1,H,W,3] RGB image as PNG or JPEG (by the path's extension). */
ODRT_API odrt_status_t odrt_image_save(const char *path, const odrt_tensor_t *img);

/* ------------------------------------------------------------------------------------------ */
/* Models. */

typedef struct odrt_model odrt_model_t;

/* Load an ONNX model (external data allowed only inside the model's folder). Caller owns *out. */
ODRT_API odrt_status_t odrt_model_load(const char *path, odrt_model_t **out);
/* Same from memory; `dir` is the folder for external data, or NULL to refuse external data. */
ODRT_API odrt_status_t odrt_model_load_buffer(const void *buf, size_t len, const char *dir, odrt_model_t **out);
/* Serialize the model as ONNX (all tensor data inline). */
ODRT_API odrt_status_t odrt_model_save(const odrt_model_t *m, const char *path);
ODRT_API void odrt_model_free(odrt_model_t *m);

/* Graph inputs and outputs of the main graph (initializers excluded from inputs). */
ODRT_API int odrt_model_num_inputs(const odrt_model_t *m);
ODRT_API int odrt_model_num_outputs(const odrt_model_t *m);
/* Name (borrowed), dtype, and shape (-1 for unknown dims; rank -1 if unknown). */
ODRT_API const char *odrt_model_input_name(const odrt_model_t *m, int i);
ODRT_API const char *odrt_model_output_name(const odrt_model_t *m, int i);
ODRT_API odrt_status_t odrt_model_input_info(const odrt_model_t *m, int i, odrt_dtype_t *dt, int *rank,
                                    int64_t dims[ODRT_MAX_RANK]);
ODRT_API odrt_status_t odrt_model_output_info(const odrt_model_t *m, int i, odrt_dtype_t *dt, int *rank,
                                     int64_t dims[ODRT_MAX_RANK]);

/* Inspection report as JSON text (format: docs/inspect-json.md). Caller owns *json (free()). */
ODRT_API odrt_status_t odrt_model_inspect_json(const odrt_model_t *m, char **json);
/* Human-readable report. Caller owns *text (free()). */
ODRT_API odrt_status_t odrt_model_inspect_text(const odrt_model_t *m, char **text);
/* Infer value types and shapes (constant-propagating through shape computations with the
 * reference kernels); declared types are only refined. *n_updated (may be NULL) counts values
 * that gained information. */
ODRT_API odrt_status_t odrt_model_infer_shapes(odrt_model_t *m, int *n_updated);
/* Every value of the main graph with its dtype and shape as JSON: {"values": [{"name", "dtype",
 * "shape"}]} (shape null when the rank is unknown, dims null when unknown). Caller frees. */
ODRT_API odrt_status_t odrt_model_values_json(const odrt_model_t *m, char **json);
/* Graphviz dot of the main graph. Caller owns *dot (free()). */
ODRT_API odrt_status_t odrt_model_to_dot(const odrt_model_t *m, char **dot);

/* ------------------------------------------------------------------------------------------ */
/* Conversion of a TF OD API export (tf2onnx) into a TensorRT-ready ONNX (docs/convert.md). */

typedef struct odrt_convert_options {
    size_t struct_size;        /* sizeof(odrt_convert_options_t): odrt_convert_options_init sets it */
    const char *target;        /* "trt7", "trt8", "trt10" or "onnx"; NULL = "trt8" */
    const char *nms;           /* "efficient", "batched", "onnx"; NULL = per target (trt7: batched,
                                  trt8/trt10: efficient, onnx: onnx) */
    int64_t input_shape[4];    /* B, H, W, C; all 0 = from the model (resize target size) */
    odrt_dtype_t input_dtype;  /* ODRT_DT_UINT8 or ODRT_DT_FLOAT; 0 = uint8 (float32 for trt7) */
    int nchw;                  /* 1: input layout NCHW, 0: NHWC like TF */
    int64_t batch;             /* > 0 static batch, -1 dynamic, 0 = from input_shape or 1 */
    float score_threshold;     /* used when has_score_threshold */
    int has_score_threshold;
    float iou_threshold;       /* used when has_iou_threshold */
    int has_iou_threshold;
    int64_t max_detections;    /* 0 = from the model */
    int64_t class_offset;      /* added to detection_classes (1 keeps TF's 1-based ids) */
    const char *const *debug_outputs; /* extra graph outputs kept by name (borrowed) */
    int n_debug_outputs;
    int analyze_only;          /* 1: find and rewrite but skip the verification runs (inspect's dry run) */
    const char *precision;     /* "fp32" (NULL), "fp16": a strongly typed FP16 ONNX (docs/convert.md): the
                                  network in float16, box decode and NMS in float32, explicit Casts; or
                                  "int8": a Q/DQ ONNX, int8 convolutions with calibrated ranges */
    const char *calibration;   /* int8: a folder of photos (ranges measured on them) or a calibration
                                  .json (the report's "int8" object, odrt calibrate) */
    const char *calibration_method; /* int8, photos: "percentile" (NULL, 99.99%), "entropy" or "minmax" */
} odrt_convert_options_t;

/* Zeroes *o (every field its default) and sets struct_size. */
ODRT_API void odrt_convert_options_init(odrt_convert_options_t *o);

/* Rewrite `m` in place. On failure the model is left unusable (reload it) and the error names the
 * part that was not found and what to pass. *report_json receives the report (caller frees; may be
 * NULL to skip), also on success only. */
ODRT_API odrt_status_t odrt_convert(odrt_model_t *m, const odrt_convert_options_t *opts, char **report_json);

/* ------------------------------------------------------------------------------------------ */
/* Sessions: the CPU reference executor. */

typedef struct odrt_session odrt_session_t;

/* Threads the reference executor's large GEMMs use (0 = the CPU count, at most 16; the default).
 * Process-wide. */
ODRT_API void odrt_set_reference_threads(int n);

/* Name of the i-th operator the CPU executor supports ("Conv", or "domain.Op" outside ai.onnx),
 * or NULL when i is past the end. Static strings. */
ODRT_API const char *odrt_supported_op(int i);

/* The session borrows `m`, which must outlive it. Caller owns *out. */
ODRT_API odrt_status_t odrt_session_create(const odrt_model_t *m, odrt_session_t **out);
ODRT_API void odrt_session_free(odrt_session_t *s);

/* Run the model. `inputs[i]` is matched to `input_names[i]` (all model inputs must be given;
 * borrowed). On success outputs[j] (j < odrt_model_num_outputs) are new tensors in model
 * output order; caller owns each (odrt_tensor_free). */
ODRT_API odrt_status_t odrt_session_run(odrt_session_t *s, int n_inputs, const char *const *input_names,
                               const odrt_tensor_t *const *inputs, odrt_tensor_t **outputs);

/* ------------------------------------------------------------------------------------------ */
/* Engines: a detector planned and pre-packed for one device, in one mmap-loadable file
 * (docs/engine-format.md). Frames in, detections out. */

typedef struct odrt_engine odrt_engine_t;

/* How an engine handle runs (not stored in the file). The diagnostic knobs exist for
 * measurements and tests; the defaults are what odrt ships. */
typedef struct odrt_engine_options {
    size_t struct_size;    /* sizeof(odrt_engine_options_t): odrt_engine_options_init sets it */
    int threads;           /* CPU threads (pre/post-processing too); 0 = the count stored at build time */
    int profile;           /* 1: time every op; the profile goes to the log (ODRT_LOG_INFO) when the
                              handle is freed (CLI: ODRT_PROFILE=1). A CUDA engine then runs op by op,
                              not as one graph */
    const char *cpu_isa;   /* CPU kernel set: NULL = the best this CPU runs well (AVX-512 on Intel,
                              AVX2, baseline); "generic", "avx2", "avx512" ask for one (one the CPU
                              cannot run is not taken: the best it can run is) (CLI: ODRT_CPU_ISA) */
    int cpu_no_fuse;       /* 1: CPU conv chains run op by op (CLI: ODRT_NO_FUSE=1) */
    int cpu_half;          /* 1: the CPU engine rounds the outputs of ops cpu_half_first..cpu_half_last
                              to fp16, or with cpu_half_bits in 1..22 their mantissas to that many
                              bits: how a model takes fp16 (CLI: ODRT_CPU_HALF=1 or =A:B,
                              ODRT_CPU_HALF_BITS=N) */
    int cpu_half_first, cpu_half_last, cpu_half_bits;
    int cpu_half_weights;  /* with cpu_half: every conv's weights rounded the same way (fp16 engines keep
                              weights in half; CLI: ODRT_CPU_HALF_WEIGHTS=1) */
    int cuda_no_tensor_cores; /* 1: fp16 convs on CUDA cores (CLI: ODRT_CUDA_TC=0) */
    int cuda_dw_pixels;    /* depthwise output pixels per thread: 0 by map size, 1 or 2 (ODRT_CUDA_DWR) */
    int cuda_no_stem;      /* 1: fp16 RGB stems off the tensor cores (ODRT_CUDA_STEM=0) */
    int cuda_pw;           /* fp16 1x1 convs on conv_pw: 0 by map size (default), 1 never, 2 always,
                              3 by size when Cout > 64 (CLI: ODRT_CUDA_PW=0|1|2 give 1|2|3) */
    int cuda_no_fuse;      /* 1: CUDA engines run every op of the plan alone: no squeeze-excite scaling
                              inside the 1x1 conv, no one-launch weighted sums (CLI: ODRT_CUDA_FUSE=0) */
} odrt_engine_options_t;
/* Every field its default; struct_size set. */
ODRT_API void odrt_engine_options_init(odrt_engine_options_t *o);

typedef struct odrt_build_options {
    size_t struct_size;    /* sizeof(odrt_build_options_t): odrt_build_options_init sets it */
    const char *device;    /* "cpu" (default) or "cuda" */
    const char *precision; /* "fp32" (default), "fp16" (cuda) or "int8" (cpu; needs calibration) */
    int batch;             /* frames per run; 0 = 1 */
    int frame_h, frame_w;  /* fixed frame size (--input-shape HxW); 0 = frames of any size */
    int threads;           /* default CPU thread count stored in the engine; 0 = all CPUs */
    const char *labels;    /* label_map.pbtxt or one-name-per-line file; NULL = none */
    int class_offset;      /* added to 0-based class indices when has_class_offset (default 1, TF's ids) */
    int has_class_offset;
    const odrt_engine_options_t *engine; /* how the returned handle runs (borrowed; NULL = defaults) */
    /* NMS settings in place of the graph's (SSD, EfficientDet; CenterNet: the score threshold and
     * the number of peaks kept), used when has_score_threshold / has_iou_threshold / max_detections > 0 */
    float score_threshold;
    int has_score_threshold;
    float iou_threshold;
    int has_iou_threshold;
    int max_detections;
    /* precision "int8": a folder of JPEG/PNG photos the 1x1 convolutions' input ranges are
     * calibrated on (through the engine's own preprocessing; the sensitivity pass then keeps in
     * float those where int8 costs most), or a calibration .json that an earlier build of this
     * model with these options saved (calibration_out); the range method, "percentile" (NULL),
     * "entropy" or "minmax"; and where to save the calibration (NULL: not saved) */
    const char *calibration;
    const char *calibration_method;
    const char *calibration_out;
} odrt_build_options_t;
/* Every field its default; struct_size set. */
ODRT_API void odrt_build_options_init(odrt_build_options_t *o);

typedef struct odrt_detection {
    float ymin, xmin, ymax, xmax; /* normalised to the frame, [0, 1] */
    float score;
    int class_id; /* 0-based class + the engine's class offset */
} odrt_detection_t;

typedef struct odrt_detections {
    int count;
    odrt_detection_t *items; /* owned: odrt_detections_clear frees */
} odrt_detections_t;
ODRT_API void odrt_detections_clear(odrt_detections_t *d);

/* Build an engine from a TF OD API export (tf2onnx). `m` is rewritten on the way (reload it to
 * use it again). Caller owns *out. */
ODRT_API odrt_status_t odrt_engine_build(odrt_model_t *m, const odrt_build_options_t *o, odrt_engine_t **out);
/* Write the engine file. */
ODRT_API odrt_status_t odrt_engine_save(const odrt_engine_t *e, const char *path);
/* mmap an engine file and make it ready to run (weights used in place). threads: 0 = the count
 * stored at build time. Caller owns *out. */
ODRT_API odrt_status_t odrt_engine_load(const char *path, int threads, odrt_engine_t **out);
/* Same from bytes, copied. */
ODRT_API odrt_status_t odrt_engine_load_buffer(const void *buf, size_t len, int threads, odrt_engine_t **out);
/* The same with run-time options (o may be NULL: defaults). */
ODRT_API odrt_status_t odrt_engine_load_ex(const char *path, const odrt_engine_options_t *o, odrt_engine_t **out);
ODRT_API odrt_status_t odrt_engine_load_buffer_ex(const void *buf, size_t len, const odrt_engine_options_t *o, odrt_engine_t **out);
ODRT_API void odrt_engine_free(odrt_engine_t *e);

/* Frames per run (the build batch). */
ODRT_API int odrt_engine_batch(const odrt_engine_t *e);
/* The offset added to 0-based classes in this engine's detections. */
ODRT_API int odrt_engine_class_offset(const odrt_engine_t *e);
/* Number of classes (without background), and the label of a class id (after the offset);
 * NULL when the engine has no label for it. Borrowed. */
ODRT_API int odrt_engine_num_classes(const odrt_engine_t *e);
ODRT_API const char *odrt_engine_label(const odrt_engine_t *e, int class_id);
/* Replace the engine's labels with a label file's (see odrt_labels_load). */
ODRT_API odrt_status_t odrt_engine_set_labels(odrt_engine_t *e, const char *path);
/* Metadata as JSON (input, preprocessing, NMS settings, labels, provenance). Caller frees. */
ODRT_API odrt_status_t odrt_engine_info_json(const odrt_engine_t *e, char **json);

/* Detect on n frames (1 <= n <= batch), each uint8 [1,H,W,3] RGB (any H, W unless the engine was
 * built for a fixed frame size). out[i] receives frame i's detections (caller clears each). */
ODRT_API odrt_status_t odrt_engine_detect(odrt_engine_t *e, int n, const odrt_tensor_t *const *frames, odrt_detections_t *out);
/* Frames by pointer, in host memory or (CUDA engines) in CUDA memory of the engine's GPU. */
typedef enum odrt_memory {
    ODRT_MEM_HOST = 0, /* host memory (pageable or pinned) */
    ODRT_MEM_CUDA = 1, /* device memory of the GPU the engine runs on (cudaMalloc, a torch/cupy CUDA tensor) */
} odrt_memory_t;
typedef struct odrt_frame {
    const void *data;     /* height x width x 3 uint8 RGB, rows back to back (C order); borrowed */
    int height, width;
    odrt_memory_t memory;
} odrt_frame_t;

/* odrt_engine_detect on frames given by pointer (odrt_engine_submit + odrt_engine_wait). */
ODRT_API odrt_status_t odrt_engine_detect_frames(odrt_engine_t *e, int n, const odrt_frame_t *frames, odrt_detections_t *out);

/* Asynchronous detection, one submission in flight per handle (more in flight: more handles,
 * odrt_engine_share, each its own CUDA stream). submit checks the frames and queues the work:
 * a CUDA engine copies host frames into its pinned staging buffer (reused across runs), enqueues
 * the copy, preprocessing, network, NMS and download on its stream as one graph, and returns while
 * the GPU works; frames in CUDA memory are read on the stream after the work queued before submit
 * on the CUDA legacy default stream, so they must stay unchanged until wait returns. CPU engines
 * and R-CNN engines (whose stages need the host between them) detect inside submit. wait blocks
 * until the submission is done and gives out[i] for each submitted frame (caller clears each);
 * every error of the run is reported by submit or wait, and either way the handle is free again.
 * odrt_engine_detect / _detect_frames while a submission is pending fail (ODRT_ERR_ARG). */
ODRT_API odrt_status_t odrt_engine_submit(odrt_engine_t *e, int n, const odrt_frame_t *frames);
ODRT_API odrt_status_t odrt_engine_wait(odrt_engine_t *e, odrt_detections_t *out);
/* A CUDA engine handle's stream (a cudaStream_t; the handle is prepared first): work a program
 * enqueues on it after odrt_engine_submit runs after the detection. Borrowed, valid until the
 * handle is freed. Other engines: ODRT_ERR_UNSUPPORTED. */
ODRT_API odrt_status_t odrt_engine_cuda_stream(odrt_engine_t *e, void **stream);

/* Mask R-CNN engines, after a detect: frame i's instance masks, one per detection in the order of
 * its detections: count x mask_h x mask_w floats in [0, 1], each the mask head's sigmoid over the
 * detection's box (row 0 at ymin, column 0 at xmin; odrt_mask_paste puts one on the frame).
 * Borrowed until the next detect on this handle. Engines without masks give NULL and 0 x 0. */
ODRT_API odrt_status_t odrt_engine_masks(const odrt_engine_t *e, int i, const float **masks, int *mask_h, int *mask_w);
/* After a detect: the raw network outputs of the last run, box codes [batch, anchors, 4] and class
 * logits [batch, anchors, classes + background], float32 (a CUDA engine's are copied from the GPU,
 * fp16 ones converted). Borrowed until the next run. */
ODRT_API odrt_status_t odrt_engine_raw_outputs(odrt_engine_t *e, const odrt_tensor_t **codes, const odrt_tensor_t **logits);
/* The network's outputs as the post-processing reads them, float32, borrowed until the next run:
 * SSD / EfficientDet engines "box_encodings" [batch, anchors, 4] and "class_logits" [batch,
 * anchors, classes + background]; CenterNet engines "heatmap_logits" [batch, classes, H, W],
 * "offsets" and "sizes" [batch, 2, H, W]; Faster / Mask R-CNN engines "box_encodings" [batch *
 * proposals, 1 or classes, 4] and "class_logits" [batch * proposals, classes + 1] (the second
 * stage), "proposal_box_encodings" [batch, anchors, 4] and "objectness_logits" [batch, anchors,
 * 2] (the first), and "mask_logits" [batch * detections, 1 or classes, mask h, mask w].
 * odrt_engine_raw_outputs is the SSD case. */
ODRT_API int odrt_engine_num_outputs(const odrt_engine_t *e);
ODRT_API odrt_status_t odrt_engine_output(odrt_engine_t *e, int i, const odrt_tensor_t **t, const char **name);
/* A second handle on e for another thread (or CUDA stream): it shares the engine file and, on a
 * GPU, the uploaded weights, and has its own execution context (activation memory, stream, graph,
 * buffers), so that handles detect concurrently. Each handle is used by one thread at a time and
 * freed with odrt_engine_free, in any order. */
ODRT_API odrt_status_t odrt_engine_share(odrt_engine_t *e, odrt_engine_t **out);
/* Make the engine ready to run now: a CUDA engine's weights are uploaded and its buffers allocated
 * (load and build leave that to the first detect, so that a device engine can be opened, inspected
 * and saved where that device is missing). CPU engines are ready at load. */
ODRT_API odrt_status_t odrt_engine_prepare(odrt_engine_t *e);
/* Device milliseconds of the last detect, from device events (CUDA engines: upload, preprocessing,
 * network, NMS and download as one graph); -1 for CPU engines. */
ODRT_API double odrt_engine_device_ms(const odrt_engine_t *e);
/* "cpu" or "cuda" (borrowed). */
ODRT_API const char *odrt_engine_device(const odrt_engine_t *e);
/* The kernel set the handle runs (static): a CPU engine's "avx512", "avx2" or "generic" (see
 * odrt_engine_options_t.cpu_isa), a CUDA engine's "cuda" until it is prepared, then "sm_XY". */
ODRT_API const char *odrt_engine_kernels(odrt_engine_t *e);
/* Backends this odrt was built with: "cpu" or "cpu cuda" (static). */
ODRT_API const char *odrt_backends(void);
/* The CPU kernel set engines take by default (static): "avx512", "avx2" or "generic" on x86-64
 * (the best the CPU has; AMD keeps avx2), "generic" (NEON) on AArch64. */
ODRT_API const char *odrt_cpu_kernels(void);

/* Draw detections with score >= threshold on img (uint8 [1,H,W,3]) in place: a box in a colour
 * per class and a tag "label score" (labels from e, which may be NULL). */
ODRT_API odrt_status_t odrt_image_draw_detections(odrt_tensor_t *img, const odrt_detections_t *d, const odrt_engine_t *e,
                                         float threshold);

/* Instance masks (Mask R-CNN, odrt_engine_masks). A box mask of mh x mw floats, over detection d's
 * box, pasted into an H x W frame as the TF OD API does (reframe_box_masks_to_image_masks: bilinear,
 * 0 outside the box) and thresholded (> threshold, TF's evaluation uses 0.5): out receives H x W
 * bytes, row-major, 1 inside the mask. */
ODRT_API odrt_status_t odrt_mask_paste(const float *box_mask, int mh, int mw, const odrt_detection_t *d, int H, int W,
                                       float threshold, uint8_t *out);
/* COCO's compressed run-length encoding of an H x W row-major binary mask (the "counts" string of
 * a {"size": [H, W], "counts": ...} segmentation). Caller frees *counts. */
ODRT_API odrt_status_t odrt_mask_rle(const uint8_t *mask, int H, int W, char **counts);
/* Blend a binary H x W mask (row-major, the image's size) over img in the colour of class_id */
ODRT_API odrt_status_t odrt_image_draw_mask(odrt_tensor_t *img, const uint8_t *mask, int class_id);

/* Label files: TF OD API label_map.pbtxt (item { id: N name: "..." display_name: "..." }; id N is
 * 0-based class N - 1, display_name preferred) or one name per line (line i is class i).
 * names[c] is the label of 0-based class c, NULL where the file has none. Caller frees with
 * odrt_labels_free. */
ODRT_API odrt_status_t odrt_labels_load(const char *path, char ***names, int *n);
ODRT_API void odrt_labels_free(char **names, int n);

/* ------------------------------------------------------------------------------------------ */
/* COCO bbox evaluation, with pycocotools' COCOeval results (docs/eval.md). */

typedef struct odrt_coco odrt_coco_t;

typedef struct odrt_coco_det {
    int64_t image_id, category_id;
    double bbox[4]; /* x, y, width, height in pixels */
    double score;
} odrt_coco_det_t;

/* COCO instances json (images, categories, annotations with bbox, area, iscrowd). Caller owns *out. */
ODRT_API odrt_status_t odrt_coco_load(const char *path, odrt_coco_t **out);
/* Same from JSON text; `name` names it in errors. */
ODRT_API odrt_status_t odrt_coco_load_buffer(const char *json, size_t len, const char *name, odrt_coco_t **out);
ODRT_API void odrt_coco_free(odrt_coco_t *c);
ODRT_API int odrt_coco_num_images(const odrt_coco_t *c);
ODRT_API int odrt_coco_num_categories(const odrt_coco_t *c);
/* i-th image / category in id order; strings borrowed (NULL when absent). */
ODRT_API odrt_status_t odrt_coco_image(const odrt_coco_t *c, int i, int64_t *id, const char **file_name, double *w, double *h);
ODRT_API odrt_status_t odrt_coco_category(const odrt_coco_t *c, int i, int64_t *id, const char **name);
/* Ground truth from boxes (odrt compare: one model's detections): images with their sizes,
 * categories by id, annotations as detections (area = w * h, not crowd, ids 1..n; score unused).
 * Caller owns *out. */
ODRT_API odrt_status_t odrt_coco_create(int n_images, const int64_t *image_ids, const double *sizes_wh, int n_cats, const int64_t *cat_ids,
                               const odrt_coco_det_t *anns, size_t n_anns, odrt_coco_t **out);
/* A COCO results file ([{image_id, category_id, bbox, score}]), every id checked against gt.
 * Caller frees *dets (free()). */
ODRT_API odrt_status_t odrt_coco_load_results(const char *path, const odrt_coco_t *gt, odrt_coco_det_t **dets, size_t *n);
/* A COCO segm results file: as odrt_coco_load_results, with each result's "segmentation" (polygons
 * or RLE, at its image's size) as a compressed counts string in (*counts)[i]; "bbox" may be absent
 * (the mask's box then). Caller frees each string, the array and *dets. */
ODRT_API odrt_status_t odrt_coco_load_results_segm(const char *path, const odrt_coco_t *gt, odrt_coco_det_t **dets, char ***counts,
                                                   size_t *n);
/* COCOeval with iouType "segm": as odrt_coco_evaluate with mask IoUs; detection i's mask is
 * counts[i] (COCO's compressed RLE at its image's size, as odrt_mask_rle makes it), its area the
 * mask's; every ground-truth annotation needs a segmentation. */
ODRT_API odrt_status_t odrt_coco_evaluate_segm(const odrt_coco_t *gt, const odrt_coco_det_t *dets, const char *const *counts, size_t n,
                                               double stats[12], double *per_class_ap);
/* The 12 COCOeval stats (AP .50:.95, AP .50, AP .75, AP small/medium/large, AR 1/10/100, AR
 * small/medium/large; -1 where undefined). per_class_ap (may be NULL): AP .50:.95 per category in
 * id order, -1 for a category without ground truth. */
ODRT_API odrt_status_t odrt_coco_evaluate(const odrt_coco_t *gt, const odrt_coco_det_t *dets, size_t n, double stats[12],
                                 double *per_class_ap);

#ifdef __cplusplus
}
#endif
#endif /* ODRT_H */
