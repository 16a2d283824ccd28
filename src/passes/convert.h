/* odrt convert internals: what was found in a TF OD API export, and the rewrite. */
#ifndef ODRT_CONVERT_H
#define ODRT_CONVERT_H

#include "ops/fold.h"
#include "crop_coord.h"
#include "ir/ir.h"

typedef enum { NORM_MUL, NORM_DIV, NORM_ADD, NORM_SUB, NORM_RSUB } norm_kind; /* RSUB: c - x */

typedef struct {
    norm_kind kind;
    int n;           /* 1 (scalar) or C (per channel) */
    float v[4];
} norm_step;

typedef enum { ACT_NONE, ACT_SIGMOID, ACT_SOFTMAX } score_act;


typedef struct tfod_crop {
    ir_value *features; /* the feature map cropped, NCHW [B, C, H, W] */
    ir_value *boxes;    /* the normalised boxes it reads, [B, P, 4] (or [B * P, 4]) */
    ir_value *out;      /* the crops as the next stage takes them, NCHW [B * P, C, ch, cw] */
    int64_t n_boxes;    /* P, per image */
    int64_t C, H, W, ch, cw; /* the map's channels and size, the crop size */
    int mode;           /* crop_mode (src/crop_coord.h), found by probing the export's own crop */
    float extrapolation;
} tfod_crop;

/* Faster R-CNN and Mask R-CNN (tfod_analyze_rcnn), found by structure and probing */
typedef struct tfod_rcnn {
    /* first stage: region proposals */
    ir_value *rpn_codes, *rpn_logits; /* [B, N, 4] box codes, [B, N, 2] objectness logits (background, object) */
    int64_t n_anchors;
    float *anchors;   /* [N, 4] (ycenter, xcenter, h, w) in network-input pixels */
    float scales[4];  /* box coder */
    float iou, score_threshold;
    int64_t max_proposals; /* kept by the first-stage NMS */
    tfod_crop crop;        /* proposals -> second-stage input */
    /* second stage: per-proposal classes and refined boxes */
    ir_value *codes, *logits; /* [B * P, K, 4] (K = 1: one box for every class, or K = classes), [B * P, classes + 1] */
    int64_t box_classes;      /* K */
    score_act act;
    float scales2[4];
    /* third stage (Mask R-CNN): masks on the final boxes */
    tfod_crop mask_crop;
    ir_value *mask_logits; /* [B * T, Cm, mh, mw] (Cm = classes, or 1) */
    int64_t mask_classes, mask_h, mask_w;
} tfod_rcnn;

typedef struct tfod_found {
    /* input */
    ir_value *input;
    int in_dtype;
    int64_t in_dims[4]; /* NHWC, -1 unknown */
    /* preprocessing map_fn */
    ir_node *loop;
    ir_value *loop_image_out; /* the Loop output holding the preprocessed batch (NHWC) */
    int cast_float;
    norm_step norm[8]; /* per-channel values in the input's channel order */
    int n_norm;
    int chan_perm[3];  /* channel c of the preprocessed image is input channel chan_perm[c] (RGB -> BGR: 2, 1, 0) */
    int n_norm_pre;  /* norm[0..n_norm_pre) come before the resize, the rest after it */
    int has_resize;
    const char *resize_mode, *resize_ctm, *resize_nearest;
    int64_t target_h, target_w; /* model input size the preprocessing produces */
    /* keep-aspect resizers (ResizeToRange): the image is resized to fit fit_h x fit_w keeping its
     * aspect ratio (tf.image.resize preserve_aspect_ratio, float32 rounding), then padded at the
     * bottom/right to target_h x target_w with pad_value (at the resize: the steps after it apply to the padding too) */
    int keep_aspect;
    int64_t fit_h, fit_w;
    float pad_value;
    ir_value *true_shape_out; /* Loop output [rh, rw, 3] of the resized window (TF's true_image_shape), or NULL */
    ir_value *const_scan_out[8]; /* other Loop outputs and their per-image constant values */
    ex_val *const_scan_val[8];
    int n_const_scan;
    /* detection heads and box decoder */
    ir_value *encodings;     /* [B, N, 4] box regressions (ty, tx, th, tw) */
    ir_value *logits;        /* [B, N, C + bg] class scores before the activation */
    score_act act;
    int64_t n_anchors, n_classes, bg_offset;
    float *anchors;          /* [N, 4] as (ycenter, xcenter, h, w) */
    float scales[4];         /* box coder scales (y, x, h, w) */
    /* NMS parameters of the original graph */
    int n_nms_nodes;
    int64_t max_per_class, max_total;
    float score_threshold, iou_threshold;
    /* CenterNet (tfod_analyze_centernet): heatmap peaks instead of anchors and NMS */
    ir_value *cn_heatmap;  /* class logits [B, C, Hh, Wh] (before the sigmoid) */
    ir_value *cn_offset;   /* centre offsets [B, 2, Hh, Wh] (y, x) */
    ir_value *cn_size;     /* box sizes [B, 2, Hh, Wh] (h, w), clamped at 0 by the decoder */
    int64_t cn_k;          /* TopK's k: detections per image */
    int cn_pool;           /* the peak MaxPool's window (odd, stride 1, same padding) */
    float cn_eps;          /* |p - maxpool(p)| < eps makes a peak */
    ir_value *true_shape_const; /* the true image shape the preprocessing rewrite made constant, or NULL */
    /* Faster / Mask R-CNN: the stages (the second stage's NMS settings are the fields above) */
    tfod_rcnn rcnn;
    /* family */
    const char *family, *backbone;
    int64_t model_batch; /* batch baked into the export (1 for TF.js-derived graphs) */
} tfod_found;

/* Find everything; on failure the error says which part and what to pass. */
odrt_status_t tfod_analyze_centernet(ir_model *m, tfod_found *f); /* heads, peaks, top-k (after preprocessing is rewritten) */
/* probe maps for checking a CenterNet post-processing against the export's: heatmap logits
 * [B, C, H, W] spread so that sigmoids and peaks vary, offsets [B, 2, H, W] within +-1.5 cells,
 * sizes partly negative (the decoder's Max(., 0)); NULL entries on failure (free with ex_val_free) */
void tfod_centernet_probe_maps(int64_t B, int64_t C, int64_t H, int64_t W, uint32_t seed, ex_val *maps[3]);
odrt_status_t tfod_analyze_preproc(ir_model *m, tfod_found *f);  /* input and map_fn */
odrt_status_t tfod_analyze_postproc(ir_model *m, tfod_found *f); /* heads, decoder, NMS (after preprocessing is rewritten) */
/* Faster / Mask R-CNN (after preprocessing is rewritten): both stages' heads, decoders and NMS
 * settings, the crops (probed), the mask head; f->rcnn and the NMS fields. On failure the error
 * names the part not found. */
odrt_status_t tfod_analyze_rcnn(ir_model *m, tfod_found *f);
/* Anchors and box-coder scales of a FasterRcnnBoxCoder decoder from `codes` ([.., N, 4]) to
 * `target` (N decoded boxes, ymin xmin ymax xmax), probed numerically; *anchors malloc'ed [N, 4]
 * (ycenter, xcenter, h, w). */
odrt_status_t tfod_probe_decoder(ir_model *m, ir_value *codes, ir_value *target, int64_t N, float **anchors, float scales[4]);

void tfod_found_free(tfod_found *f);
/* Probe the preprocessing from `cur` (an HWC float image inside the Loop body, after the
 * normalisation steps found so far) to the body's image output: resize rule, pad, window. */
/* the resize-and-pad from cur on; *end: the value where it ends, from which the walker goes on */
odrt_status_t tfod_probe_geometry(ir_model *m, tfod_found *f, ir_value *start, ir_value *cur, ir_value **end);
/* size of the resized window inside the network input for a frame of h x w */
void tfod_window_size(const tfod_found *f, int64_t h, int64_t w, int64_t *rh, int64_t *rw);
/* Reshapes whose shape constant hard-codes the export's batch old_b (on inputs of batch probe_b)
 * get new_first (the new batch, or 0 = copy for dynamic batch). */
odrt_status_t tfod_rewrite_batch_reshapes(ir_graph *g, int64_t old_b, int64_t probe_b, int64_t new_first);
/* cleanup + constant folding + transpose folding to a fixed point */
void tfod_tidy(ir_model *m);
/* family and backbone guesses from structure */
void tfod_guess_family(const ir_graph *g, tfod_found *f);

#endif
