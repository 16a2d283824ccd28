/* odrt engine: a planned, pre-packed detector.
 *
 * An engine is three parts, built once (build.c, lower.c) and stored in one file (format.c,
 * docs/engine-format.md):
 *   - preprocessing: uint8 NHWC frames of any size -> resize as the export does -> normalise ->
 *     float NHWC network input, in one pass (preproc.c);
 *   - the network: a list of ops over float32 tensors in one activation arena (offsets planned
 *     from liveness), weights pre-packed for the backend's kernels in one blob;
 *   - detection post-processing with TF OD API semantics (postproc.c).
 * A backend (backend.h) runs the network ops; the CPU backend is in src/backends/cpu/.
 */
#ifndef ODRT_ENGINE_H
#define ODRT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "odrt.h"

/* header functions shared by the CPU code and the CUDA kernels (eltwise.h, norm_steps.h) */
#ifdef __CUDACC__
#define ENG_FN static inline __host__ __device__
#else
#define ENG_FN static inline
#endif

#define ENG_FORMAT_VERSION 2
#define ENG_ALIGN 64
#define ENG_MAX_IN 16 /* tensor inputs of one op */
#define ENG_MAX_OUTPUTS 5 /* network outputs the post-processing reads (eng_network_outputs) */
#define ENG_MAX_INPUTS 3  /* tensors written before the network runs (eng_network_inputs) */

/* n bytes ENG_ALIGN-aligned (free with free): C11's aligned_alloc wants a size that is a multiple
 * of the alignment, so it is rounded up */
void *eng_alloc_aligned(size_t n);

#include "engine/engine_ops.h"

/* physical layout of a tensor's bytes */
enum { ENG_PLAIN = 0, /* row-major in its logical (ONNX) shape */
       ENG_NHWC = 1   /* logical NCHW (rank 4), stored N,H,W,C */ };

typedef struct eng_tensor {
    int rank;
    int64_t dims[ODRT_MAX_RANK]; /* logical (ONNX) shape */
    int layout;
    int alias;      /* -1, or the tensor whose bytes these are (same size) */
    int64_t offset; /* byte offset in the activation arena (planned) */
    int64_t numel;
} eng_tensor;

typedef enum { EACT_ID = 0, EACT_CLIP, EACT_SIGMOID, EACT_SWISH, EACT_COUNT } eng_act;
typedef enum { BIN_ADD = 0, BIN_SUB, BIN_MUL, BIN_DIV, BIN_MAX, BIN_MIN, BIN_COUNT } eng_bin;
/* broadcast of a binary op's second operand */
typedef enum { BC_SAME = 0, BC_SCALAR, BC_LASTDIM, BC_FULLCONST,
               BC_CHANNEL, /* tensor in[1] [N,C,1,1] against NHWC [N,H,W,C]: one vector per image */
               BC_COUNT } eng_bcast;


/* a bilinear resize's taps of one output row or column (EOP_RESIZE: out_h then out_w of them in the
 * blob): out = sum of w_y w_x x[i_y, i_x] over (i0, i1) x (i0, i1), in that order */
typedef struct eng_resize_tap {
    int32_t i0, i1;
    float w0, w1;
} eng_resize_tap;

typedef struct eng_op {
    int kind;
    int n_in;
    int in[ENG_MAX_IN];
    int out;
    /* activation (conv, binary, unary) */
    int act;
    float act_lo, act_hi;
    /* conv */
    int conv_kind;
    int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    int cin, cout;
    int residual; /* tensor added before the activation, or -1 */
    float q_scale; /* an int8 conv (CONV_GEMM in an int8 engine): its input's quantization step (x ~ q * q_scale,
                      q in [-128, 127]); its weights packed as eng_conv_i8_len says. 0: a float conv */
    int q_unsigned; /* an int8 conv whose input is >= 0: q in [0, 255] */
    /* blob parts: weights (packed), bias [cout], constants, index maps, ONNX bytes */
    int64_t w_off, w_len, b_off, b_len;
    /* binary */
    int bin, bcast;
    float scalar;
    /* gather: out[i] = in0[idx[i]] (int32 idx at w_off) */
    /* concat: physical axis */
    int axis;
    /* ref: a one-node ONNX model at w_off/w_len, run by the reference executor */
    void *ref_model, *ref_session; /* loaded at engine load */
    char name[96];
} eng_op;

/* the profile class of an op, in [0, ENG_OP_CLASSES): its kind, or EOP_COUNT + conv_kind for a
 * conv; and a class's name ("conv-gemm", "binary", ...) */
int eng_op_class(const eng_op *o);
const char *eng_op_class_name(int cls);

enum { ENG_POST_SSD = 0, ENG_POST_CENTERNET = 1, ENG_POST_RCNN = 2 };

typedef struct eng_norm {
    int kind; /* 0 mul, 1 div, 2 add, 3 sub, 4 rsub (c - x) */
    float v[3];
} eng_norm;

typedef struct eng_meta {
    /* input */
    char input_name[128];
    int batch;
    int net_h, net_w;     /* network input size */
    int frame_h, frame_w; /* fixed frame size (--input-shape), 0 = any */
    /* preprocessing */
    int has_resize;
    int resize_linear;    /* 1 linear, 0 nearest */
    int resize_ctm;       /* resize_coord.h's code: 0 half_pixel, 1 asymmetric, 2 align_corners, 3 pytorch_half_pixel, 7-9 odrt_tf_* */
    int resize_nearest;   /* 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil */
    int n_norm;
    eng_norm norm[8];
    int n_norm_pre;       /* norm[0..n_norm_pre) run before the resize (on uint8 values), the rest after */
    int chan_perm[3];     /* network channel c is frame channel chan_perm[c] (RGB -> BGR: 2, 1, 0); steps act per frame channel */
    int keep_aspect;      /* resize keeps the aspect ratio to fit fit_h x fit_w, then pads bottom/right */
    int fit_h, fit_w;
    float pad_value;      /* value of padded pixels at the resize: the steps after it apply to them too */
    int clip_to_window;   /* post-processing clips to the resized image's window and renormalises to it */
    /* post-processing: ENG_POST_SSD (anchors, box decode, per-class NMS) or ENG_POST_CENTERNET
     * (heatmap peaks, top-k, centre + size boxes; n_anchors, scales, NMS settings unused) */
    int post_kind;
    int cn_k, cn_pool, cn_stride; /* CenterNet: detections per image, peak window, output stride */
    float cn_eps;                 /* |p - maxpool(p)| < eps is a peak */
    int64_t n_anchors;
    int n_classes, bg_offset, score_act; /* 0 none, 1 sigmoid, 2 softmax */
    float scales[4];
    float score_threshold, iou_threshold;
    int max_per_class, max_total;
    int class_offset;
    int64_t anchors_off; /* blob: float [n_anchors, 4] (ycenter, xcenter, h, w) */
    /* Faster / Mask R-CNN (ENG_POST_RCNN): the network runs in stages; between them the engine
     * turns the first stage's outputs into proposals (anchors above, rc_scales1, the rc_*1 NMS
     * settings) and writes them into t_props, and the second stage's into detections (n_classes,
     * scales, score_act and the NMS settings above, per proposal) and, for masks, their boxes into
     * t_dets (postproc_rcnn.c) */
    int rc_props;           /* proposals per image */
    int rc_max1;            /* kept by the first stage's NMS */
    float rc_iou1, rc_score1, rc_scales1[4];
    int rc_box_classes;     /* second-stage box codes per proposal: 1 (shared) or n_classes */
    int rc_stage[2];        /* ops [0, rc_stage[0]): first stage; [rc_stage[0], rc_stage[1]): second; the rest: masks */
    int mask_classes, mask_h, mask_w; /* Mask R-CNN (mask_h > 0): mask logits per detection */
    /* network outputs: SSD box codes and class logits; CenterNet heatmap logits [B, C, H, W],
     * offsets and sizes [B, 2, H, W] (t_cn); R-CNN: second-stage box codes [B * P, K, 4] and class
     * logits [B * P, C + 1] (t_boxes, t_scores), first-stage box codes [B, N, 4] and objectness
     * logits [B, N, 2] (t_rpn), proposals in [B, P, 4] (t_props), mask boxes in [B, T, 4] (t_dets)
     * and mask logits [B * T, Cm, mh, mw] (t_masks; -1 without masks) */
    int t_input, t_boxes, t_scores;
    int t_cn[3];
    int t_rpn[2], t_props, t_dets, t_masks;
    /* labels (n_classes names, may be empty) */
    char **labels;
    int n_labels;
    /* provenance */
    char family[32], source_sha256[65], device[16], precision[16], build_options[512];
    int threads;
} eng_meta;

typedef struct eng_plan {
    eng_meta meta;
    eng_tensor *tensors;
    int n_tensors;
    eng_op *ops;
    int n_ops;
    int64_t arena_bytes;
    uint8_t *blob; /* weights etc., ENG_ALIGN-aligned parts */
    int64_t blob_len;
    int owns_blob; /* blob malloc'ed (building) rather than inside a loaded file */
} eng_plan;

/* What an engine for a device may hold (engine/device.c). Known whether or not this odrt runs
 * that device, so that build and the file format need no device names of their own; a backend
 * (backends/backend.h) points at its record. */
enum { ENG_PREC_FP32 = 1u << 0, ENG_PREC_FP16 = 1u << 1, ENG_PREC_INT8 = 1u << 2 };
typedef enum { ENG_WEIGHTS_PANEL16 = 0 /* conv weights as engine/pack.c packs them (docs/engine-format.md) */ } eng_weight_layout;
typedef struct eng_device {
    const char *name;          /* as engine files name it: "cpu", "cuda" */
    unsigned precisions;       /* ENG_PREC_* its engines may have */
    int lazy_prepare;          /* 1: the backend's state is made at first use, not at load (a device
                                  engine can be opened, inspected and saved where the device is missing) */
    int reference_ops;         /* 1: runs EOP_REF ops (the reference executor, on the host) */
    eng_weight_layout weights; /* the packing its kernels read */
} eng_device;
extern const eng_device eng_device_cpu, eng_device_cuda;
/* the record of a device, or NULL when no engine is made for that name */
const eng_device *eng_device_find(const char *name);
/* ENG_PREC_* of a precision name ("fp32", "fp16"), 0 when unknown */
unsigned eng_precision_code(const char *name);
/* the known device (what = 0) or precision (what = 1) names, ", "-separated, for messages (static) */
const char *eng_known_names(int what);
/* which of dev's precisions it has, ", "-separated (static buffer of the calling thread) */
const char *eng_device_precisions(const eng_device *dev);

/* validate.c: every check of a (possibly untrusted) plan that belongs to no backend: each op's
 * inputs, shapes, parameters and blob ranges against its kind's row (engine_ops.h), arena
 * overlaps, the network input and outputs against the metadata, and the precision against the
 * device's record. A backend then says only which valid ops it runs (supports_op). */
odrt_status_t eng_validate_plan(const eng_plan *p);
/* op k of p alone: 1 if valid, else 0 with the error set (the backend-ops harness checks its plans with it) */
int eng_validate_op(const eng_plan *p, int k);

/* physical dims of a tensor (rank unchanged; NHWC permutes) */
void eng_phys_dims(const eng_tensor *t, int64_t *out);

/* build.c: TF OD API export -> plan (in memory; blob malloc'ed) */
struct odrt_model;
odrt_status_t eng_build_plan(struct odrt_model *m, const odrt_build_options_t *o, eng_plan *p);
/* lower.c: the network graph (inputs -> outputs) -> ops and packed weights; t_ins / t_outs receive
 * the tensors of inputs (plain) and outputs (plain) */
struct ir_model;
struct ir_value;
odrt_status_t eng_lower_network(struct ir_model *m, int n_in, struct ir_value *const *inputs, int *t_ins, int n_out,
                                struct ir_value *const *outs, int *t_outs, eng_plan *p);
/* plan.c: activation arena offsets from liveness */
odrt_status_t eng_plan_memory(eng_plan *p);
void eng_plan_free(eng_plan *p);

/* format.c */
odrt_status_t eng_serialize(const eng_plan *p, uint8_t **buf, size_t *len);
/* Parses and validates `buf` (kept: the plan's blob points into it). */
odrt_status_t eng_deserialize(const uint8_t *buf, size_t len, eng_plan *p);

/* host work a backend lends the engine (pre/post-processing): a parallel loop over its threads
 * and its vectorised sigmoid */
typedef void (*eng_task)(void *arg, int64_t i, int thread);
typedef struct eng_host {
    void (*parallel_for)(void *ctx, int64_t n, eng_task fn, void *arg); /* fn(arg, i, thread), i in [0, n) */
    void (*sigmoid)(void *ctx, const float *x, float *y, int64_t n);     /* NULL: the scalar formula */
    void *ctx;
} eng_host;

/* preproc.c: a uint8 [H,W,3] frame -> float NHWC [net_h, net_w, 3], rows in parallel */
typedef struct {
    int64_t i0, i1;
    float w0, w1;
} eng_tap;
typedef struct eng_prep {
    const eng_meta *m;
    const uint8_t *src;
    int64_t fh, fw;
    int64_t rh, rw; /* the window the frame is resized to (the rest is padding) */
    float *dst;
    int identity;
    eng_tap *ty, *tx;
    float lut[3][256];     /* all normalisation steps of each uint8 value per channel */
    float lut_pre[3][256]; /* the steps before the resize */
    float pad[3];          /* a padded pixel (eng_pad_pixel) */
} eng_prep;
/* the window (resized image) size inside the network input for an h x w frame */
void eng_window_size(const eng_meta *m, int64_t h, int64_t w, int64_t *rh, int64_t *rw);
/* the network-input value of a padded pixel, per output channel: pad_value through the steps after the resize */
void eng_pad_pixel(const eng_meta *m, float pad[3]);
odrt_status_t eng_prep_init(eng_prep *p, const eng_meta *m, const uint8_t *src, int64_t fh, int64_t fw, float *dst);
void eng_prep_rows(const eng_prep *p, int64_t y0, int64_t y1);
void eng_prep_free(eng_prep *p);
/* postproc.c: TF's batch multiclass NMS as the exports compute it: decode codes against anchors
 * (FasterRcnnBoxCoder), score conversion, per-class NMS on the unclipped boxes, then over the
 * classes by score: clip to the image's window, drop boxes left without area, keep the best
 * max_total, scale. */
typedef struct eng_nms_spec {
    const float *anchors;  /* [N, 4] (ycenter, xcenter, h, w), per image when anchor_stride > 0 */
    int64_t anchor_stride; /* floats from one image's anchors to the next's (0: shared) */
    const float *codes;    /* [B, N, box_classes, 4] */
    int box_classes;       /* 1: one box for every class, or C */
    const float *logits;   /* [B, N, C + bg] */
    const int *n_valid;    /* per image: only anchors [0, n_valid) are candidates (NULL: all N) */
    const float *clip;     /* [2 B]: image b's window (h, w) in box units */
    const float *scale;    /* [2 B]: kept boxes times (sy, sx) after the clip, or NULL */
    int64_t N;
    int C, bg, act;        /* classes, background columns before them, 0 none / 1 sigmoid / 2 softmax */
    float scales[4];       /* box coder */
    float score_thr, iou_thr;
    int max_per_class, max_total, class_offset;
    int per_class; /* 1: always class by class (each class's NMS to its end); 0: many candidates (C >= 8,
                      N C >= 65536) walk all classes best first and stop at max_total kept (the same result) */
} eng_nms_spec;
typedef struct eng_post_ws eng_post_ws;
/* out[b] for b < B (items malloc'ed); *ws: the caller's workspace (NULL at first; grown as needed;
 * eng_post_ws_free) */
odrt_status_t eng_nms_run(const eng_nms_spec *s, int B, odrt_detections_t *out, const eng_host *host, eng_post_ws **ws);
/* SSD / EfficientDet: B images' detections from the network outputs; window[2 b], window[2 b + 1]
 * is image b's clip window (height, width) as a share of the network input (NULL: the whole input) */
odrt_status_t eng_postprocess(const eng_meta *m, const float *anchors, const float *codes, const float *logits, int B,
                              const float *window, odrt_detections_t *out, const eng_host *host, eng_post_ws **ws);
void eng_post_ws_free(eng_post_ws *ws);
/* postproc_rcnn.c (Faster / Mask R-CNN), B images; win_px[2 b], win_px[2 b + 1]: image b's window
 * (the resized frame) in network-input pixels.
 * The first stage's proposals: props [B, rc_props, 4] normalised to the network input (zeros
 * after the n_props[b] kept). */
odrt_status_t eng_rcnn_proposals(const eng_meta *m, const float *anchors, const float *codes, const float *logits, int B,
                                 const int64_t *win_px, float *props, int *n_props, const eng_host *host, eng_post_ws **ws);
/* The second stage's detections (out[b], items malloc'ed); det_boxes (NULL: not wanted) [B,
 * max_total, 4] receives their boxes, zero-padded: the mask stage's input. */
odrt_status_t eng_rcnn_detect(const eng_meta *m, const float *props, const int *n_props, const float *codes, const float *logits,
                              int B, const int64_t *win_px, odrt_detections_t *out, float *det_boxes, const eng_host *host,
                              eng_post_ws **ws);
/* Image b's masks: for each of d's detections, the sigmoid of its class's mask logits
 * (mask_logits [B * max_total, mask_classes, mask_h, mask_w]) into masks [count, mask_h, mask_w] */
void eng_rcnn_masks(const eng_meta *m, const float *mask_logits, int b, const odrt_detections_t *d, float *masks);
/* postproc_centernet.c: TF's CenterNet post-processing of B images from the network outputs
 * (heatmap logits [B, C, H, W], offsets, sizes [B, 2, H, W]): sigmoid, the true-shape mask, peaks
 * by a k x k max pool, the best cn_k over (y, x, class), boxes from centre + offset +- size / 2
 * in the output grid, times the stride over the true image shape. win[2 b], win[2 b + 1]: image
 * b's true shape (the resized window) in network-input pixels. out[b] items malloc'ed. */
odrt_status_t eng_postprocess_centernet(const eng_meta *m, const int64_t *dims, const float *heat, const float *off,
                                        const float *size, int B, const int64_t *win, odrt_detections_t *out,
                                        const eng_host *host);

#endif
